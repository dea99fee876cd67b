"""The database: engine choice (SQLite or PostgreSQL), the one transaction helper, the pool's
lifespan, and applying migrations."""

from __future__ import annotations

import importlib
import sqlite3
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from ovoz.settings import ROOT, Settings, get_settings

# Every Piccolo app of Ovoz, in dependency order (tables of later apps may point at earlier ones).
APPS: tuple[str, ...] = (
    "ovoz.ledger.piccolo_app",
    "ovoz.geo.piccolo_app",
    "ovoz.store.piccolo_app",
    "ovoz.accounts.piccolo_app",
    "ovoz.notify.piccolo_app",
    "ovoz.reports.piccolo_app",
    "ovoz.petitions.piccolo_app",
    "ovoz.planning.piccolo_app",
    "ovoz.accountability.piccolo_app",
    "ovoz.moderation.piccolo_app",
    "ovoz.administration.piccolo_app",
)


def sqlite_path(database_url: str) -> Path:
    path = Path(database_url.removeprefix("sqlite:///"))
    return path if path.is_absolute() else ROOT / path


def create_engine(database_url: str, settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    if database_url.startswith("sqlite:"):
        path = sqlite_path(database_url)
        path.parent.mkdir(parents=True, exist_ok=True)
        return SQLiteEngine(path=str(path), timeout=settings.sqlite_busy_timeout)
    parts = urlsplit(database_url)
    # Piccolo probes the server while constructing the engine and only warns when it is down;
    # Ovoz reports an unreachable database where it is used (health check, commands).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PostgresEngine(
            config={"dsn": parts._replace(scheme="postgresql").geturl()},
            extensions=(),
        )


def current_engine() -> Engine:
    from ovoz import piccolo_conf

    return piccolo_conf.DB


def use_database(database_url: str) -> Engine:
    """Point every Ovoz table (and Piccolo's migration machinery) at this database."""
    from ovoz import piccolo_conf

    engine = create_engine(database_url)
    piccolo_conf.DB = engine
    for app_config in piccolo_conf.APP_REGISTRY.app_configs.values():
        for table in app_config.table_classes:
            table._meta.db = engine
    from piccolo.apps.migrations.tables import Migration

    Migration._meta.db = engine
    return engine


def transaction() -> Any:
    """The one way to open a transaction. On SQLite it is IMMEDIATE: it takes the write lock at
    BEGIN, so a read-then-write never fails half-way with 'database is locked'. Nested calls join
    the outer transaction."""
    engine = current_engine()
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()


def in_transaction() -> bool:
    return current_engine().current_transaction.get() is not None


def is_unique_violation(error: BaseException) -> bool:
    """Whether a statement failed on a unique index, with either engine's driver."""
    return isinstance(error, sqlite3.IntegrityError | asyncpg.UniqueViolationError)


async def prepare(engine: Engine | None = None) -> None:
    """Per-database settings that persist in the file: SQLite's write-ahead log lets readers go
    on while one writer writes."""
    engine = engine or current_engine()
    if isinstance(engine, SQLiteEngine):
        await engine.run_ddl("PRAGMA journal_mode=WAL")


@asynccontextmanager
async def pool(settings: Settings) -> AsyncIterator[None]:
    """The connection pool of the current engine for as long as the app or command runs."""
    engine = current_engine()
    if not isinstance(engine, PostgresEngine):
        await prepare(engine)
        yield
        return
    if engine.pool is not None:
        # Someone else's pool (a test's, say) outlives this; it is theirs to close.
        yield
        return
    await engine.start_connection_pool(max_size=settings.postgres_pool_size)
    try:
        yield
    finally:
        await engine.close_connection_pool()


async def ping() -> None:
    await current_engine().run_ddl("SELECT 1")


async def pending_migrations() -> list[str]:
    """Migration ids on disk that have not been applied to this database."""
    from piccolo.apps.migrations.commands.base import BaseMigrationManager
    from piccolo.apps.migrations.tables import Migration

    if not await Migration.table_exists():
        return ["(none applied yet)"]
    manager = BaseMigrationManager()
    pending: list[str] = []
    for app in APPS:
        config = importlib.import_module(app).APP_CONFIG
        on_disk = manager.get_migration_ids(
            manager.get_migration_modules(config.resolved_migrations_folder_path)
        )
        applied = set(await Migration.get_migrations_which_ran(app_name=config.app_name))
        pending.extend(f"{config.app_name} {m}" for m in on_disk if m not in applied)
    return pending


async def migrate() -> list[str]:
    """Apply every pending migration of every app; return the ids applied."""
    from piccolo.apps.migrations.commands.forwards import ForwardsMigrationManager
    from piccolo.apps.migrations.tables import Migration

    await prepare()
    await Migration.create_table(if_not_exists=True)
    applied: list[str] = []
    for app in APPS:
        app_name = importlib.import_module(app).APP_CONFIG.app_name
        before = set(await Migration.get_migrations_which_ran(app_name=app_name))
        manager = ForwardsMigrationManager(app_name=app_name, migration_id="all", fake=False)
        response = await manager.run()
        if not response.success:
            raise RuntimeError(f"migrations of {app_name} failed: {response.message}")
        after = await Migration.get_migrations_which_ran(app_name=app_name)
        applied.extend(m for m in after if m not in before)
    return applied
