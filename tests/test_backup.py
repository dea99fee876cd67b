"""`ovoz backup` and `ovoz restore`: a backup restored into a fresh database holds the same
rows, the same ledger head and the same uploaded files; a restore refuses a database in use
and says when what it restored does not match."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ovoz import backup
from ovoz.ledger import services as ledger
from ovoz.reports import services as reports
from ovoz.reports.tables import Photo, Report
from ovoz.settings import get_settings
from tests.conftest import _create_postgres_database, _drop_postgres_database
from tests.reports.helpers import draft, load_demo_mahallas, make_resident, photo


def ovoz(*args: str, database_url: str, upload_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OVOZ_DATABASE_URL": database_url, "OVOZ_UPLOAD_DIR": str(upload_dir)}
    return subprocess.run([sys.executable, "-m", "ovoz", *args], env=env, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture
def fresh_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same engine, never migrated."""
    if backup.engine_of(database_url) == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    name, url = asyncio.run(_create_postgres_database())
    yield url
    asyncio.run(_drop_postgres_database(name))


def restored_figures(database_url: str) -> tuple[dict[str, int], int, str]:
    if backup.engine_of(database_url) == "sqlite":
        return backup._sqlite_figures(Path(database_url.removeprefix("sqlite:///")))

    async def read() -> tuple[dict[str, int], int, str]:
        import asyncpg

        connection = await asyncpg.connect(backup._dsn(database_url))
        try:
            return await backup._postgres_figures(connection)
        finally:
            await connection.close()

    return asyncio.run(read())


async def test_a_backup_restores_into_a_fresh_database_with_its_photos(
        db: str, fresh_database: str, tmp_path: Path) -> None:
    await load_demo_mahallas()
    report_id = await reports.create_report(await make_resident(), draft(photos=[photo()]))
    [stored] = await Photo.select(Photo.name).where(Photo.report == report_id)
    head = await ledger.head()
    archive = tmp_path / "ovoz-backup.tar.gz"
    uploads = get_settings().upload_dir

    made = await asyncio.to_thread(ovoz, "backup", str(archive), database_url=db,
                                   upload_dir=uploads)
    assert made.returncode == 0, made.stderr
    assert f"ledger head {head.seq} {head.hash}" in made.stdout
    with tarfile.open(archive) as opened:
        names = opened.getnames()
        manifest = json.loads(opened.extractfile(backup.MANIFEST).read())  # type: ignore[union-attr]
    assert manifest["tables"]["reports_report"] == await Report.count()
    assert manifest["tables"]["reports_photo"] == 1
    assert (manifest["ledger_seq"], manifest["ledger_hash"]) == (head.seq, head.hash)
    assert any(name.startswith("uploads/") and stored["name"] in name for name in names)

    new_uploads = tmp_path / "restored-uploads"
    restored = await asyncio.to_thread(ovoz, "restore", str(archive),
                                       database_url=fresh_database, upload_dir=new_uploads)
    assert restored.returncode == 0, restored.stderr
    assert f"ledger head {head.seq} {head.hash}" in restored.stdout
    counts, seq, head_hash = await asyncio.to_thread(restored_figures, fresh_database)
    assert counts == manifest["tables"] and (seq, head_hash) == (head.seq, head.hash)
    assert counts["migration"] > 0
    assert [path.name for path in new_uploads.rglob(f"{stored['name']}*")]
    # The restored site is a working site: its ledger chain verifies.
    verified = await asyncio.to_thread(ovoz, "ledger", "verify", database_url=fresh_database,
                                       upload_dir=new_uploads)
    assert verified.returncode == 0 and f"head {head.hash}" in verified.stdout

    again = await asyncio.to_thread(ovoz, "restore", str(archive),
                                    database_url=fresh_database, upload_dir=new_uploads)
    assert again.returncode == 1
    assert "not empty" in again.stderr or "already exists" in again.stderr


def tampered(archive: Path, target: Path) -> None:
    """The same archive with one more report claimed in its manifest."""
    with tarfile.open(archive) as source, tarfile.open(target, "w:gz") as copy:
        for info in source.getmembers():
            data = source.extractfile(info).read()  # type: ignore[union-attr]
            if info.name == backup.MANIFEST:
                manifest = json.loads(data)
                manifest["tables"]["reports_report"] += 1
                data = json.dumps(manifest).encode()
                info.size = len(data)
            copy.addfile(info, io.BytesIO(data))


async def test_a_restore_that_does_not_match_its_manifest_fails(
        db: str, fresh_database: str, tmp_path: Path) -> None:
    archive, forged = tmp_path / "backup.tar.gz", tmp_path / "forged.tar.gz"
    made = await asyncio.to_thread(ovoz, "backup", str(archive), database_url=db,
                                   upload_dir=tmp_path / "no-uploads")
    assert made.returncode == 0, made.stderr
    tampered(archive, forged)
    restored = await asyncio.to_thread(ovoz, "restore", str(forged),
                                       database_url=fresh_database,
                                       upload_dir=tmp_path / "restored-uploads")
    assert restored.returncode == 1
    assert "reports_report: " in restored.stderr and "does not match" in restored.stderr


def test_a_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    with tarfile.open(junk, "w:gz") as archive:
        archive.addfile(tarfile.TarInfo("hello.txt"))
    refused = ovoz("restore", str(junk), database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}",
                   upload_dir=tmp_path / "uploads")
    assert refused.returncode == 1 and "not an Ovoz backup" in refused.stderr
    wrong_engine = tmp_path / "pg.tar.gz"
    with tarfile.open(wrong_engine, "w:gz") as archive:
        data = json.dumps({"format": backup.FORMAT, "engine": "postgres", "created_at": "",
                           "tables": {}, "ledger_seq": 0, "ledger_hash": ""}).encode()
        info = tarfile.TarInfo(backup.MANIFEST)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    refused = ovoz("restore", str(wrong_engine),
                   database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}",
                   upload_dir=tmp_path / "uploads")
    assert refused.returncode == 1 and "of a postgres database" in refused.stderr
