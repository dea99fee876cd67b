from __future__ import annotations

import asyncio
import os
import sys

from ovoz.ledger import services

WRITER = """
import asyncio, sys
from ovoz import db, ledger
from ovoz.settings import get_settings

async def main(tag: str, count: int) -> None:
    db.use_database(get_settings().database_url)
    for n in range(count):
        async with db.transaction():
            await ledger.record("test.counted", f"writer:{tag}", {"n": n})

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def test_writers_in_separate_processes_never_fork_the_chain(db: str) -> None:
    environ = {**os.environ, "OVOZ_DATABASE_URL": db}
    writers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, str(tag), "15", env=environ,
            stderr=asyncio.subprocess.PIPE,
        )
        for tag in range(4)
    ]
    for writer in writers:
        _, errors = await asyncio.wait_for(writer.communicate(), timeout=120)
        assert writer.returncode == 0, errors.decode()

    result = await services.verify()
    assert result.intact
    assert result.checked == 60
    entries = [entry async for entry in services.iterate()]
    for tag in range(4):
        assert [e["payload"]["n"] for e in entries if e["subject"] == f"writer:{tag}"] == list(
            range(15)
        )
