from __future__ import annotations

import asyncio

import pytest
from piccolo.engine.sqlite import SQLiteEngine

from ovoz import db as database
from ovoz.geo.tables import Mahalla


async def _add_mahalla(name: str) -> None:
    await Mahalla.insert(Mahalla(district=16, name_uz=name, name_uz_cyrl=name))


async def test_transaction_commits(db: str) -> None:
    async with database.transaction():
        await _add_mahalla("Navbahor MFY")
    assert await Mahalla.count() == 1


async def test_transaction_rolls_back_on_error(db: str) -> None:
    with pytest.raises(ValueError):
        async with database.transaction():
            await _add_mahalla("Navbahor MFY")
            raise ValueError("stop")
    assert await Mahalla.count() == 0


async def test_nested_transactions_join_the_outer_one(db: str) -> None:
    with pytest.raises(ValueError):
        async with database.transaction():
            await _add_mahalla("Navbahor MFY")
            async with database.transaction():
                assert database.in_transaction()
                await _add_mahalla("Bahor MFY")
            raise ValueError("stop")
    assert await Mahalla.count() == 0
    assert not database.in_transaction()


async def test_read_then_write_transactions_are_serialised_on_sqlite(db: str) -> None:
    """Each writer sees the other's committed row: no lost update, no 'database is locked'."""
    if not isinstance(database.current_engine(), SQLiteEngine):
        pytest.skip("PostgreSQL serialises with row locks and constraints instead")
    seen: list[int] = []

    async def read_then_write(name: str) -> None:
        async with database.transaction():
            seen.append(await Mahalla.count())
            await asyncio.sleep(0.05)
            await _add_mahalla(name)

    await asyncio.gather(read_then_write("Bahor MFY"), read_then_write("Chinor MFY"))
    assert sorted(seen) == [0, 1]
    assert await Mahalla.count() == 2


async def test_sqlite_uses_the_write_ahead_log(db: str) -> None:
    engine = database.current_engine()
    if not isinstance(engine, SQLiteEngine):
        pytest.skip("SQLite only")
    rows = await engine.run_ddl("PRAGMA journal_mode")
    assert rows[0]["journal_mode"] == "wal"


async def test_migrate_again_applies_nothing(db: str) -> None:
    assert await database.migrate() == []


def test_database_urls() -> None:
    assert isinstance(database.create_engine("sqlite:///var/other.sqlite3"), SQLiteEngine)
    assert str(database.sqlite_path("sqlite:////tmp/x.sqlite3")) == "/tmp/x.sqlite3"
    assert database.sqlite_path("sqlite:///var/x.sqlite3").parts[-2:] == ("var", "x.sqlite3")



async def test_nothing_is_pending_after_migrating(db: str) -> None:
    assert await database.pending_migrations() == []
