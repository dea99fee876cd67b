"""Backups: one archive with the database (an SQLite online backup, or pg_dump's custom format
taken from one snapshot), the uploaded photos and documents, and a manifest of what it holds:
the rows of every table and the ledger head, read in the same moment as the copy. A restore
goes into an empty database and checks the manifest's figures against what it restored."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Final

import asyncpg

from ovoz.db import sqlite_path

FORMAT: Final = "ovoz-backup-1"
MANIFEST: Final = "manifest.json"
SQLITE_MEMBER: Final = "database.sqlite3"
POSTGRES_MEMBER: Final = "database.pgdump"
UPLOADS: Final = "uploads"
# Piccolo's own table: which migrations have run, restored with the rest.
MIGRATIONS_TABLE: Final = "migration"


class BackupError(Exception):
    """A backup or restore cannot go on; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class Manifest:
    format: str
    engine: str
    created_at: str
    tables: dict[str, int]
    ledger_seq: int
    ledger_hash: str
    uploads: int = 0

    @classmethod
    def read(cls, data: bytes) -> Manifest:
        try:
            manifest = cls(**json.loads(data))
        except (ValueError, TypeError) as error:
            raise BackupError(f"the archive's {MANIFEST} is not an Ovoz manifest") from error
        if manifest.format != FORMAT:
            raise BackupError(f"unknown backup format {manifest.format!r}")
        return manifest


@dataclass(frozen=True, slots=True)
class Restored:
    manifest: Manifest
    tables: dict[str, int]
    ledger_seq: int
    ledger_hash: str
    uploads: int
    differences: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not self.differences


def table_names() -> list[str]:
    """Every table of every Ovoz app, and Piccolo's migration table."""
    from ovoz import piccolo_conf

    names = [table._meta.tablename
             for app_config in piccolo_conf.APP_REGISTRY.app_configs.values()
             for table in app_config.table_classes]
    return sorted({*names, MIGRATIONS_TABLE})


def engine_of(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite:") else "postgres"


def _dsn(database_url: str) -> str:
    return "postgresql" + database_url[database_url.index(":"):]


# -- reading the figures ----------------------------------------------------------------------

def _sqlite_figures(path: Path) -> tuple[dict[str, int], int, str]:
    with sqlite3.connect(path) as connection:
        present = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        counts = {name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
                  for name in table_names() if name in present}
        head = (connection.execute(
            "SELECT seq, hash FROM ledger_entry ORDER BY seq DESC LIMIT 1").fetchone()
            if "ledger_entry" in present else None)
    return counts, *(head or (0, ""))


async def _postgres_figures(connection: asyncpg.Connection) -> tuple[dict[str, int], int, str]:
    present = {row["table_name"] for row in await connection.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    counts = {name: int(await connection.fetchval(f'SELECT count(*) FROM "{name}"'))
              for name in table_names() if name in present}
    head = (await connection.fetchrow("SELECT seq, hash FROM ledger_entry ORDER BY seq DESC "
                                      "LIMIT 1") if "ledger_entry" in present else None)
    return counts, *((head["seq"], head["hash"]) if head else (0, ""))


# -- backup -----------------------------------------------------------------------------------

def _upload_files(upload_dir: Path) -> Iterator[Path]:
    if upload_dir.is_dir():
        yield from sorted(path for path in upload_dir.rglob("*") if path.is_file())


async def _copy_postgres(database_url: str, target: Path) -> tuple[dict[str, int], int, str]:
    """pg_dump from a snapshot exported by a transaction that reads the figures too, so the
    manifest describes exactly the dump even while the site takes writes."""
    connection = await asyncpg.connect(_dsn(database_url))
    try:
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await connection.fetchval("SELECT pg_export_snapshot()")
            figures = await _postgres_figures(connection)
            dump = await asyncio.create_subprocess_exec(
                "pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                f"--snapshot={snapshot}", f"--file={target}", _dsn(database_url),
                stderr=asyncio.subprocess.PIPE)
            _, error = await dump.communicate()
            if dump.returncode != 0:
                raise BackupError(f"pg_dump failed: {error.decode(errors='replace').strip()}")
    finally:
        await connection.close()
    return figures


def _copy_sqlite(database_url: str, target: Path) -> tuple[dict[str, int], int, str]:
    """SQLite's online backup: a consistent copy while the site keeps running."""
    source = sqlite_path(database_url)
    if not source.exists():
        raise BackupError(f"there is no database at {source}")
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.backup(copy)
    return _sqlite_figures(target)


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    archive.addfile(info, io.BytesIO(data))


async def backup(database_url: str, upload_dir: Path, archive_path: Path) -> Manifest:
    """Write the archive (to a temporary name first, so a half-written one never passes for
    a backup) and return its manifest."""
    engine = engine_of(database_url)
    with tempfile.TemporaryDirectory() as folder:
        copied = Path(folder) / (SQLITE_MEMBER if engine == "sqlite" else POSTGRES_MEMBER)
        if engine == "sqlite":
            counts, seq, head = _copy_sqlite(database_url, copied)
        else:
            counts, seq, head = await _copy_postgres(database_url, copied)
        files = list(_upload_files(upload_dir))
        manifest = Manifest(FORMAT, engine, datetime.now(UTC).isoformat(), counts, seq, head,
                            len(files))
        partial = archive_path.with_name(archive_path.name + ".partial")
        try:
            with tarfile.open(partial, "w:gz") as archive:
                _add_bytes(archive, MANIFEST, json.dumps(asdict(manifest), indent=1).encode())
                archive.add(copied, copied.name)
                for path in files:
                    archive.add(path, f"{UPLOADS}/{path.relative_to(upload_dir).as_posix()}")
            os.replace(partial, archive_path)
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise BackupError(f"cannot write {archive_path}: {error.strerror}") from None
    return manifest


# -- restore ----------------------------------------------------------------------------------

def _member_path(name: str) -> PurePosixPath | None:
    """An uploaded file's place under the upload folder, or None for a name that would
    leave it."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or len(path.parts) < 2:
        return None
    return PurePosixPath(*path.parts[1:])


async def _restore_postgres(database_url: str, dump: Path) -> tuple[dict[str, int], int, str]:
    connection = await asyncpg.connect(_dsn(database_url))
    try:
        if await connection.fetchval("SELECT count(*) FROM information_schema.tables "
                                     "WHERE table_schema = 'public'"):
            raise BackupError("the database is not empty: restore into a new database, "
                              "before `ovoz migrate`")
        restoring = await asyncio.create_subprocess_exec(
            "pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
            "--single-transaction", f"--dbname={_dsn(database_url)}", str(dump),
            stderr=asyncio.subprocess.PIPE)
        _, error = await restoring.communicate()
        if restoring.returncode != 0:
            raise BackupError(f"pg_restore failed: {error.decode(errors='replace').strip()}")
        return await _postgres_figures(connection)
    finally:
        await connection.close()


def _restore_sqlite(database_url: str, copy: Path) -> tuple[dict[str, int], int, str]:
    target = sqlite_path(database_url)
    if target.exists() and target.stat().st_size:
        raise BackupError(f"{target} already exists: restore into a new database file")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(copy, target)
    return _sqlite_figures(target)


def _differences(manifest: Manifest, counts: dict[str, int], seq: int, head: str) -> list[str]:
    found = [f"{name}: {manifest.tables[name]} rows in the backup, {counts.get(name, 0)} "
             "restored" for name in sorted(manifest.tables)
             if counts.get(name, 0) != manifest.tables[name]]
    if (seq, head) != (manifest.ledger_seq, manifest.ledger_hash):
        found.append(f"ledger head {manifest.ledger_seq} {manifest.ledger_hash} in the backup, "
                     f"{seq} {head} restored")
    return found


def _opened(archive_path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive_path, "r:*")
    except (OSError, tarfile.TarError) as error:
        raise BackupError(f"cannot read {archive_path}: {error}") from None


async def restore(archive_path: Path, database_url: str, upload_dir: Path) -> Restored:
    """Put the archive's database into the (empty) configured one and its files into the
    upload folder, then compare what is there with the manifest."""
    with _opened(archive_path) as archive, tempfile.TemporaryDirectory() as folder:
        try:
            manifest = Manifest.read(archive.extractfile(MANIFEST).read())  # type: ignore[union-attr]
        except KeyError:
            raise BackupError(f"{archive_path} is not an Ovoz backup: no {MANIFEST}") from None
        if manifest.engine != engine_of(database_url):
            raise BackupError(f"the backup is of a {manifest.engine} database and the "
                              f"configured one is {engine_of(database_url)}")
        member = SQLITE_MEMBER if manifest.engine == "sqlite" else POSTGRES_MEMBER
        copy = Path(folder) / member
        with copy.open("wb") as out:
            source = archive.extractfile(member)
            if source is None:
                raise BackupError(f"the archive has no {member}")
            shutil.copyfileobj(source, out)
        if manifest.engine == "sqlite":
            counts, seq, head = _restore_sqlite(database_url, copy)
        else:
            counts, seq, head = await _restore_postgres(database_url, copy)
        uploads = _restore_uploads(archive, upload_dir)
    differences = _differences(manifest, counts, seq, head)
    if uploads != manifest.uploads:
        differences.append(f"{manifest.uploads} uploaded files in the backup, {uploads} "
                           "restored")
    return Restored(manifest, counts, seq, head, uploads, differences)


def _restore_uploads(archive: tarfile.TarFile, upload_dir: Path) -> int:
    restored = 0
    for info in archive.getmembers():
        if not info.isfile() or not info.name.startswith(f"{UPLOADS}/"):
            continue
        relative = _member_path(info.name)
        if relative is None:
            raise BackupError(f"the archive names a file outside the upload folder: {info.name}")
        target = upload_dir.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        source = archive.extractfile(info)
        assert source is not None
        with target.open("wb") as out:
            shutil.copyfileobj(source, out)
        restored += 1
    return restored
