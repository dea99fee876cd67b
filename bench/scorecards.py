"""Speed of the scorecard figures (ovoz.accountability.scorecards) over 100,000 obligations,
beside plain queries over the same rows. How to run it and read it: bench/README.md.

The database is a throwaway one: a SQLite file under /tmp and, with --postgres, a new database
on that server, dropped afterwards. The obligations, and the reports and proposals they point
at (the figures join them for disputed fixes and delivered projects), are written in bulk.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import random
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DISTRICTS = (16, 106, 126)
DEPARTMENTS_PER_DISTRICT = 4
RESIDENTS = 200
# The mix of what bodies must answer: mostly problem reports.
KIND_WEIGHTS = {"report": 80, "proposal_review": 12, "petition": 5, "delivery": 3}
DUE_DAYS = {"report": 15, "proposal_review": 30, "petition": 30, "delivery": 365}
# Registrations spread over this many days before now; the timed period is the last year.
SPAN_DAYS = 400
Row = tuple[Any, ...]


@dataclass
class Seed:
    """The rows to write, table by table, with their columns."""

    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rows: dict[str, list[Row]] = field(default_factory=dict)

    def table(self, name: str, columns: Sequence[str]) -> list[Row]:
        self.columns[name] = tuple(columns)
        return self.rows.setdefault(name, [])


def _end_of_day(at: datetime, days: int) -> datetime:
    """The end of the day `days` after `at`, in Tashkent (UTC+5), as the clock counts."""
    local = (at + timedelta(hours=5)).date() + timedelta(days=days + 1)
    return datetime(local.year, local.month, local.day, tzinfo=UTC) - timedelta(hours=5)


def generate(count: int, now: datetime, departments: dict[int, list[int]],
             region_of: dict[int, int], categories: Sequence[int], cycles: dict[int, int],
             residents: Sequence[int], seed: int) -> Seed:
    """Obligations of every kind in the three districts, answered on time, late or not yet,
    with the reports and proposals they are about."""
    rng = random.Random(seed)
    out = Seed()
    obligations = out.table("accountability_obligation", (
        "kind", "ref", "body", "region", "district", "mahalla", "department", "registered_at",
        "due_at", "original_due_at", "extension_reason", "first_response_at", "resolved_at",
        "closed_at", "outcome"))
    reports = out.table("reports_report", (
        "id", "category", "district", "lat", "lon", "point_exact", "location_text",
        "description", "author", "hide_name", "source", "status", "referred_to", "supporters",
        "fix_round", "registered_at", "due_at", "extension_reason", "first_response_at",
        "resolved_at", "updated_at", "token"))
    feedback = out.table("reports_fix_feedback", ("report", "resident", "fix_round", "fixed",
                                                  "at"))
    proposals = out.table("planning_proposal", (
        "id", "cycle", "title", "description", "category", "estimated_cost", "reviewed_cost",
        "status", "review_reason", "search_text", "created_at", "result_reason",
        "result_figures", "delivery_status", "progress", "spent", "cancel_reason"))
    kinds, weights = zip(*KIND_WEIGHTS.items(), strict=True)
    refs = {kind: 0 for kind in kinds}
    for n in range(count):
        kind = rng.choices(kinds, weights)[0]
        refs[kind] += 1
        # Reviews and deliveries point at proposals of their own, so their ids do not clash.
        ref = refs[kind] + (count if kind == "delivery" else 0)
        district = DISTRICTS[n % len(DISTRICTS)]
        department = rng.choice(departments[district]) if rng.random() < 0.6 else None
        registered = now - timedelta(seconds=rng.uniform(0, SPAN_DAYS * 86400))
        due = _end_of_day(registered, DUE_DAYS[kind])
        # Most answers come in days, a tail takes weeks: some are late.
        took = timedelta(days=rng.expovariate(1 / (DUE_DAYS[kind] * 0.5)))
        answered = rng.random() < 0.85 and registered + took < now
        withdrawn = not answered and rng.random() < 0.05
        resolved = registered + took if answered else None
        first = (registered + took * rng.uniform(0.1, 1)) if answered or rng.random() < 0.3 \
            else None
        if first is not None and first > now:
            first = None
        closed = resolved or (registered + timedelta(days=1) if withdrawn else None)
        outcome = "answered" if answered else ("withdrawn" if withdrawn else "")
        obligations.append((
            kind, ref, "department" if department else "district", region_of[district],
            district, None, department, registered, due, due, "", first, resolved, closed,
            outcome))
        if kind == "report":
            fixed = answered and rng.random() < 0.7
            reports.append((
                ref, rng.choice(categories), district, 41.0, 61.0, True, "",
                "A problem reported for the benchmark.", rng.choice(residents), False, "web",
                "fixed" if fixed else ("acknowledged" if answered else "new"), "", 0,
                1 if fixed else 0, registered, due, "", first, resolved, resolved or registered,
                secrets.token_urlsafe(24)))
            if fixed and rng.random() < 0.15:
                feedback.append((ref, rng.choice(residents), 1, rng.random() < 0.6,
                                 resolved + timedelta(days=3)))
        elif kind in ("proposal_review", "delivery"):
            cost = rng.randint(50, 500) * 1_000_000
            spent = int(cost * rng.uniform(0.8, 1.2)) if kind == "delivery" and answered else 0
            proposals.append((
                ref, cycles[district],
                "A project for the benchmark", "What the mahalla needs.", "roads", cost, cost,
                "selected" if kind == "delivery" else "feasible", "", "", registered, "", "{}",
                "completed" if kind == "delivery" and answered else "", 0, spent, ""))
    return out


def insert_sqlite(path: Path, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
    # Timestamps and days as Piccolo writes them, so the app reads them back alike.
    def stored(value: Any) -> Any:
        return str(value) if isinstance(value, datetime | date) else value

    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})",
            (tuple(stored(value) for value in row) for row in rows))
        connection.execute("ANALYZE")


async def insert_postgres(url: str, table: str, columns: Sequence[str], rows: Sequence[Row]
                          ) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.copy_records_to_table(table, records=list(rows), columns=list(columns))
        await connection.execute(f"ANALYZE {table}")
    finally:
        await connection.close()


async def seed(url: str, count: int, now: datetime) -> None:
    """Migrate, load places and categories, add residents, departments and a cycle per
    district, then bulk-insert the obligations and what they are about."""
    from ovoz import db
    from ovoz.accounts.tables import Resident
    from ovoz.geo import services as geo
    from ovoz.planning.tables import Cycle
    from ovoz.reports import services as reports
    from ovoz.reports.tables import Department

    use_database(url)
    with contextlib.redirect_stdout(io.StringIO()):
        await db.migrate()
    await geo.load_places()
    await reports.load_categories()
    residents = [row["id"] for row in await Resident.insert(*[
        Resident(display_name=f"Bench {n}", language="uz", created_at=now)
        for n in range(RESIDENTS)]).returning(Resident.id)]
    departments: dict[int, list[int]] = {}
    cycles: dict[int, int] = {}
    region_of: dict[int, int] = {}
    for district_id in DISTRICTS:
        district = await geo.district(district_id)
        assert district is not None
        region_of[district_id] = district["region"]
        departments[district_id] = [row["id"] for row in await Department.insert(*[
            Department(district=district_id, name_uz=f"Bo'lim {n}", name_uz_cyrl=f"Бўлим {n}",
                       created_at=now) for n in range(DEPARTMENTS_PER_DISTRICT)
        ]).returning(Department.id)]
        start = (now - timedelta(days=SPAN_DAYS)).date()
        cycles[district_id] = (await Cycle.insert(Cycle(
            district=district_id, title="Benchmark cycle", budget=10**12, ballot_rule="approval",
            selection_rule="greedy", proposals_from=start, review_from=start,
            voting_from=start, results_from=start, implementation_from=start, created_at=now,
        )).returning(Cycle.id))[0]["id"]
    categories = [row["id"] for row in await reports.categories()]
    generated = generate(count, now, departments, region_of, categories, cycles, residents,
                         seed=2026)
    # Parents first: the obligations point at nothing, the feedback at reports.
    for table in ("reports_report", "reports_fix_feedback", "planning_proposal",
                  "accountability_obligation"):
        columns, rows = generated.columns[table], generated.rows[table]
        if url.startswith("sqlite:"):
            insert_sqlite(db.sqlite_path(url), table, columns, rows)
        else:
            await insert_postgres(url, table, columns, rows)


def use_database(url: str) -> None:
    from ovoz import db
    from ovoz.settings import get_settings

    os.environ["OVOZ_DATABASE_URL"] = url
    get_settings.cache_clear()
    db.use_database(url)


async def timed(work: Callable[[], Awaitable[Any]], rounds: int) -> tuple[Any, float]:
    """The last result and the median seconds of `rounds` runs, after one to warm up."""
    result = await work()
    taken = []
    for _ in range(rounds):
        started = time.perf_counter()
        result = await work()
        taken.append(time.perf_counter() - started)
    return result, statistics.median(taken)


async def measure(engine_name: str, url: str, count: int, rounds: int) -> None:
    from piccolo.engine.postgres import PostgresEngine

    from ovoz import db
    from ovoz.accountability import scorecards
    from ovoz.accountability.tables import Obligation

    now = datetime.now(UTC)
    started = time.perf_counter()
    await seed(url, count, now)
    print(f"\n{engine_name}: {count:,} obligations written in "
          f"{time.perf_counter() - started:.1f} s")
    engine = db.current_engine()
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool()
    try:
        today = (now + timedelta(hours=5)).date()
        period = scorecards.Period(today - timedelta(days=364), today)
        cohort = ((Obligation.district.is_in(list(DISTRICTS)))
                  & (Obligation.registered_at >= period.since)
                  & (Obligation.registered_at < period.until))
        # The baseline reads the rows the way the figures do: SQLite scans the table.
        table = "accountability_obligation" + (
            "" if isinstance(engine, PostgresEngine) else " NOT INDEXED")
        counted, count_seconds = await timed(lambda: Obligation.raw(
            f"SELECT COUNT(*) AS n FROM {table} WHERE district IN {DISTRICTS} "
            "AND registered_at >= {} AND registered_at < {}", period.since, period.until),
            rounds)
        counted = counted[0]["n"]
        fetched, fetch_seconds = await timed(lambda: Obligation.select(
            Obligation.kind, Obligation.district, Obligation.department,
            Obligation.registered_at, Obligation.due_at, Obligation.first_response_at,
            Obligation.resolved_at, Obligation.closed_at, Obligation.outcome).where(cohort),
            rounds)
        table, league_seconds = await timed(
            lambda: scorecards.league(DISTRICTS, period, now), rounds)
        card, card_seconds = await timed(
            lambda: scorecards.scorecard(DISTRICTS[0], period, now), rounds)
        late, late_seconds = await timed(
            lambda: scorecards.late(DISTRICTS[0], period, now, per_page=20), rounds)
    finally:
        if isinstance(engine, PostgresEngine):
            await engine.close_connection_pool()

    print(f"Period {period.start} – {period.end}: {counted:,} obligations in the cohort "
          f"(median of {rounds} runs each)")
    rows = [
        ("baseline: SELECT COUNT(*) of the cohort", count_seconds, f"{counted:,} rows"),
        ("fetching the cohort's times into Python", fetch_seconds, f"{len(fetched):,} rows"),
        ("league(3 districts)", league_seconds, "; ".join(
            f"{d}: {f.received:,} received, on time {f.on_time_rate:.1%}"
            for d, f in table.items() if f.on_time_rate is not None)),
        ("scorecard(1 district, by department)", card_seconds,
         f"{len(card.departments)} bodies, {card.district.reports_disputed:,} of "
         f"{card.district.reports_fixed:,} fixes disputed, {card.district.projects_due:,} "
         f"projects due"),
        ("late(1 district), first page", late_seconds, f"{late.total:,} late items"),
    ]
    for name, seconds, note in rows:
        ratio = seconds / count_seconds if count_seconds else float("inf")
        print(f"  {name:<42} {seconds * 1000:9.1f} ms  {ratio:7.1f}× baseline   {note}")


async def _on_postgres(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--obligations", type=int, default=100_000, help="obligations (100,000)")
    parser.add_argument("--rounds", type=int, default=5, help="timed runs of each query (5)")
    parser.add_argument("--postgres", metavar="URL",
                        help="also run on PostgreSQL: a server URL whose user may create "
                             "databases (a throwaway one is created and dropped)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ovoz-bench-"))
    os.environ.update({"OVOZ_WORKER_IN_SERVER": "false", "OVOZ_SMS_BACKEND": "console",
                       "OVOZ_SMS_CONSOLE_OUTBOX": str(folder / "sms-outbox.jsonl"),
                       "OVOZ_UPLOAD_DIR": str(folder / "uploads")})
    try:
        asyncio.run(measure("SQLite", f"sqlite:///{folder / 'bench.sqlite3'}",
                            args.obligations, args.rounds))
        if args.postgres:
            name = f"ovoz_bench_{uuid.uuid4().hex[:10]}"
            admin = urlsplit(args.postgres)._replace(scheme="postgresql")
            asyncio.run(_on_postgres(admin.geturl(), f'CREATE DATABASE "{name}"'))
            try:
                asyncio.run(measure("PostgreSQL", admin._replace(path=f"/{name}").geturl(),
                                    args.obligations, args.rounds))
            finally:
                asyncio.run(_on_postgres(admin.geturl(),
                                         f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
