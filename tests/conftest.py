"""Fixtures: a fresh database per test run on SQLite and, when OVOZ_TEST_DATABASE_URL names a
PostgreSQL server, on PostgreSQL too. Tests that take `db` (or `client`) run once per engine."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from piccolo.engine.postgres import PostgresEngine

os.environ.setdefault("OVOZ_CONFIG", str(Path(__file__).resolve().parents[1] / "litestar.toml"))
os.environ.pop("OVOZ_DATABASE_URL", None)
# Sign-in codes of the tests go to a private development outbox, read back by sms_outbox().
SMS_OUTBOX = Path(tempfile.mkdtemp(prefix="ovoz-sms-")) / "sms-outbox.jsonl"
os.environ["OVOZ_SMS_CONSOLE_OUTBOX"] = str(SMS_OUTBOX)
os.environ["OVOZ_UPLOAD_DIR"] = tempfile.mkdtemp(prefix="ovoz-uploads-")
os.environ["OVOZ_SMS_BACKEND"] = "console"
# Tests deliver explicitly; a delivery loop inside every test app would race them.
os.environ["OVOZ_WORKER_IN_SERVER"] = "false"

from ovoz import db as ovoz_db  # noqa: E402 - after the environment above is set
from ovoz.settings import get_settings  # noqa: E402

POSTGRES_URL = os.environ.get("OVOZ_TEST_DATABASE_URL", "").strip()
ENGINES = ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]
# Tables emptied before each test; places (regions, districts) are loaded once and only read.
MUTABLE_TABLES = (
    "administration_setting",
    "moderation_block", "moderation_flag", "moderation_decision",
    "accountability_watch", "accountability_assessment", "accountability_report",
    "accountability_obligation",
    "planning_delivery_comment", "planning_photo", "planning_delivery_update",
    "planning_result", "planning_ballot_choice", "planning_ballot", "planning_proposal",
    "planning_mahalla_budget", "planning_cycle",
    "petitions_attachment", "petitions_response", "petitions_count", "petitions_signature",
    "petitions_invalidation", "petitions_sponsor", "petitions_petition",
    "reports_fix_feedback", "reports_support", "reports_photo", "reports_update",
    "reports_report", "reports_routing", "reports_department", "reports_open311_client",
    "notify_outbox", "notify_inapp", "notify_channel_choice", "notify_follow",
    "notify_telegram_link", "notify_telegram_link_code", "notify_scheduled_run",
    "accounts_api_token", "accounts_sign_in_code", "accounts_recovery_code",
    "accounts_role_grant", "accounts_staff_audit", "accounts_resident", "accounts_staff",
    "store_entry", "store_rate_counter", "geo_mahalla", "ledger_entry",
)


def _server_url(url: str, database: str) -> str:
    parts = urlsplit(url)
    return parts._replace(scheme="postgresql", path=f"/{database}").geturl()


async def _on_server(statement: str) -> None:
    import asyncpg

    admin_database = urlsplit(POSTGRES_URL).path[1:] or "postgres"
    admin = await asyncpg.connect(_server_url(POSTGRES_URL, admin_database))
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


async def _create_postgres_database() -> tuple[str, str]:
    name = f"ovoz_test_{uuid.uuid4().hex[:12]}"
    await _on_server(f'CREATE DATABASE "{name}"')
    # A throwaway database need not wait for the disk at every commit.
    await _on_server(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    return name, _server_url(POSTGRES_URL, name)


async def _drop_postgres_database(name: str) -> None:
    await _on_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def use_test_database(url: str) -> None:
    os.environ["OVOZ_DATABASE_URL"] = url
    get_settings.cache_clear()
    ovoz_db.use_database(url)


@pytest.fixture(scope="session", params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[str]:
    """A freshly migrated database with the shipped places, for this whole test run."""
    from ovoz.geo.services import load_places
    from ovoz.reports.services import load_categories

    postgres_name = None
    if request.param == "postgres":
        postgres_name, url = asyncio.run(_create_postgres_database())
    else:
        # In memory-backed /dev/shm where there is one: the suite commits thousands of times.
        shm = Path("/dev/shm")
        folder = Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() else tmp_path_factory.mktemp("db")
        request.addfinalizer(lambda: shutil.rmtree(folder, ignore_errors=True))
        url = f"sqlite:///{folder / 'ovoz-test.sqlite3'}"

    async def prepare() -> None:
        await ovoz_db.migrate()
        await load_places()
        await load_categories()

    use_test_database(url)
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        asyncio.run(prepare())
    yield url
    if postgres_name:
        asyncio.run(_drop_postgres_database(postgres_name))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[str]:
    """The test run's database, pointed at and emptied of what earlier tests wrote."""
    use_test_database(database_url)
    engine = ovoz_db.current_engine()
    # A duplicate points at its original in the same table, which a plain DELETE may trip over.
    statements = ["UPDATE reports_report SET duplicate_of = NULL",
                  *(f"DELETE FROM {table}" for table in MUTABLE_TABLES)]
    if isinstance(engine, PostgresEngine):
        # One round trip on one connection: an anonymous block is a single statement.
        await engine.run_ddl("DO $$ BEGIN " + "; ".join(statements) + "; END $$")
        # A pool for the test, as the app has: a new connection per query costs more than
        # most queries.
        await engine.start_connection_pool(min_size=1, max_size=40)
    else:
        # One connection and one transaction, not one of each per table.
        with contextlib.closing(sqlite3.connect(ovoz_db.sqlite_path(database_url))) as connection:
            connection.executescript("BEGIN; " + "; ".join(statements) + "; COMMIT;")
    try:
        yield database_url
    finally:
        if isinstance(engine, PostgresEngine):
            await engine.close_connection_pool()


@pytest.fixture
async def client(db: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the app, which runs (lifespan, pool and all) in the test's own event
    loop, so a test may use the database directly while the client is open."""
    from ovoz.app import create_app

    app = create_app(get_settings())
    started, stop = asyncio.Event(), asyncio.Event()

    async def run_lifespan() -> None:
        # The lifespan's task group must be entered and left in one task.
        async with app.lifespan():
            started.set()
            await stop.wait()

    lifespan = asyncio.create_task(run_lifespan())
    await asyncio.wait([lifespan, asyncio.create_task(started.wait())],
                       return_when=asyncio.FIRST_COMPLETED)
    if lifespan.done():
        lifespan.result()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver.local"
        ) as test_client:
            yield test_client
    finally:
        stop.set()
        await lifespan


def sms_outbox() -> list[dict[str, str]]:
    if not SMS_OUTBOX.exists():
        return []
    return [json.loads(line) for line in SMS_OUTBOX.read_text(encoding="utf-8").splitlines()]


def last_code(phone: str) -> str:
    import re

    texts = [m["text"] for m in sms_outbox() if m["to"] == phone]
    assert texts, f"no SMS to {phone}"
    found = re.search(r"\b(\d{6})\b", texts[-1])
    assert found
    return found.group(1)
