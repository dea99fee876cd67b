"""Load test of the reports map's GeoJSON (GET /api/v1/reports.geojson) over 100,000 reports,
beside a bare Litestar endpoint as the baseline. How to run it and read it: bench/README.md.

The database is a throwaway one (a SQLite file under /tmp, and with --postgres a new database
on that server, dropped afterwards); the app runs under uvicorn in its own process and httpx
drives it from other processes for a fixed time per case.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import math
import multiprocessing
import os
import random
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from litestar import Litestar, get

ROOT = Path(__file__).resolve().parents[1]
BERUNIY = 16
# Uzbekistan with a little room around it.
COUNTRY_BBOX = (55.9, 37.1, 73.2, 45.6)
STATUS_WEIGHTS = {"new": 30, "acknowledged": 15, "in_progress": 15, "fixed": 25,
                  "closed_not_fixed": 5, "duplicate": 5, "referred": 5}
REPORT_COLUMNS = (
    "category", "district", "lat", "lon", "point_exact", "location_text", "description",
    "author", "hide_name", "source", "status", "referred_to", "supporters", "fix_round",
    "registered_at", "due_at", "extension_reason", "updated_at", "token",
)


@get("/ping", sync_to_thread=False)
def ping() -> dict[str, str]:
    return {"status": "ok"}


def baseline_app() -> Litestar:
    """The floor: Litestar under the same uvicorn, answering a tiny JSON."""
    return Litestar(route_handlers=[ping], logging_config=None)


# -- seeding ----------------------------------------------------------------------------------

def report_rows(count: int, districts: dict[int, Any], authors: Sequence[int],
                categories: Sequence[int], seed: int) -> Iterator[tuple[Any, ...]]:
    """Reports spread over the districts: most around the town and villages, some anywhere."""
    rng = random.Random(seed)
    statuses, weights = zip(*STATUS_WEIGHTS.items(), strict=True)
    # The district's town, and a dozen villages.
    villages = {
        district_id: [(*b.centre, 0.01)] + [
            (rng.uniform(b.south, b.north), rng.uniform(b.west, b.east), rng.uniform(0.005, 0.03))
            for _ in range(12)]
        for district_id, b in districts.items()
    }
    ids = list(districts)
    start = datetime.now(UTC) - timedelta(days=365)
    for n in range(count):
        district_id = ids[n % len(ids)]
        b = districts[district_id]
        if rng.random() < 0.75:
            lat, lon, spread = rng.choice(villages[district_id])
            lat = min(b.north, max(b.south, rng.gauss(lat, spread)))
            lon = min(b.east, max(b.west, rng.gauss(lon, spread)))
        else:
            lat, lon = rng.uniform(b.south, b.north), rng.uniform(b.west, b.east)
        registered = start + timedelta(seconds=rng.uniform(0, 365 * 86400))
        yield (rng.choice(categories), district_id, lat, lon, True, "",
               "A problem reported for the benchmark.", rng.choice(authors),
               rng.random() < 0.3, "web", rng.choices(statuses, weights)[0], "",
               int(rng.expovariate(0.7)), 0, registered, registered + timedelta(days=15), "",
               registered, secrets.token_urlsafe(24))


def insert_sqlite(path: Path, rows: Iterator[tuple[Any, ...]]) -> None:
    # Booleans and timestamps as Piccolo writes them, so the app reads them back alike.
    def stored(value: Any) -> Any:
        return str(value) if isinstance(value, datetime) else value

    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.executemany(
            f"INSERT INTO reports_report ({', '.join(REPORT_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in REPORT_COLUMNS)})",
            (tuple(stored(value) for value in row) for row in rows))


async def insert_postgres(url: str, rows: Iterator[tuple[Any, ...]]) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.copy_records_to_table("reports_report", records=list(rows),
                                               columns=list(REPORT_COLUMNS))
        await connection.execute("ANALYZE reports_report")
    finally:
        await connection.close()


async def seed(url: str, count: int) -> None:
    """Migrate, load places and categories, add residents, then bulk-insert the reports."""
    from ovoz import db
    from ovoz.accounts.tables import Resident
    from ovoz.geo import services as geo
    from ovoz.reports import services

    use_database(url)
    with contextlib.redirect_stdout(io.StringIO()):
        await db.migrate()
    await geo.load_places()
    await services.load_categories()
    now = datetime.now(UTC)
    authors = [row["id"] for row in await Resident.insert(*[
        Resident(display_name=f"Bench {n}", language="uz", created_at=now) for n in range(500)
    ]).returning(Resident.id)]
    categories = [row["id"] for row in await services.categories()]
    pilots = await geo.pilot_district_ids()
    districts = {d: b for d, b in geo.district_bounds().items() if d in pilots}
    rows = report_rows(count, districts, authors, categories, seed=2026)
    if url.startswith("sqlite:"):
        insert_sqlite(db.sqlite_path(url), rows)
    else:
        await insert_postgres(url, rows)


def use_database(url: str) -> None:
    from ovoz import db
    from ovoz.settings import get_settings

    os.environ["OVOZ_DATABASE_URL"] = url
    get_settings.cache_clear()
    db.use_database(url)


async def query_times(cases: Sequence[Case], rounds: int) -> dict[str, float]:
    """The median time of clusters.features() alone, in this process, per case."""
    from piccolo.engine.postgres import PostgresEngine

    from ovoz import db
    from ovoz.reports import clusters, services

    engine = db.current_engine()
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool()
    times = {}
    try:
        for case in cases:
            if case.bbox is None:
                continue
            taken = []
            for _ in range(rounds):
                started = time.perf_counter()
                await clusters.features(case.bbox, case.zoom, services.Filters(status=case.status))
                taken.append(time.perf_counter() - started)
            times[case.name] = statistics.median(taken) * 1000
    finally:
        if isinstance(engine, PostgresEngine):
            await engine.close_connection_pool()
    return times


# -- serving and driving ----------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    bbox: tuple[float, float, float, float] | None
    zoom: int = 0
    status: str | None = None

    def path(self) -> str:
        if self.bbox is None:
            return "/ping"
        query = f"bbox={','.join(str(v) for v in self.bbox)}&zoom={self.zoom}"
        return f"/api/v1/reports.geojson?{query}" + (f"&status={self.status}"
                                                     if self.status else "")


@dataclass
class Result:
    case: Case
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    features: int
    size: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: int) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)] * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(app: str, env: dict[str, str], workers: int, app_dir: Path | None = None
           ) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers), "--no-access-log",
               "--log-level", "warning"]
    if app_dir is not None:
        command += ["--app-dir", str(app_dir)]
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the server ({app}) stopped with code {process.returncode}")
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"the server ({app}) did not start in 30 s") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


async def _drive(url: str, seconds: float, concurrency: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        async def one_user() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get(url)
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        await asyncio.gather(*(one_user() for _ in range(concurrency)))
    return latencies, errors


def drive(url: str, seconds: float, concurrency: int) -> tuple[list[float], int]:
    """One load-driving process: `concurrency` users asking one after another."""
    return asyncio.run(_drive(url, seconds, concurrency))


def run_case(pool: ProcessPoolExecutor, base: str, case: Case, seconds: float,
             concurrency: int, clients: int) -> Result:
    url = base + case.path()
    first = httpx.get(url, timeout=30)
    first.raise_for_status()
    features = len(first.json().get("features", [])) if case.bbox else 0
    # A second of warming up (connections, caches), then the measured run.
    list(pool.map(drive, [url] * clients, [1.0] * clients, [concurrency // clients] * clients))
    started = time.perf_counter()
    parts = list(pool.map(drive, [url] * clients, [seconds] * clients,
                          [concurrency // clients] * clients))
    elapsed = time.perf_counter() - started
    latencies = [value for part, _ in parts for value in part]
    return Result(case, len(latencies), sum(errors for _, errors in parts), elapsed, latencies,
                  features, len(first.content))


def report(engine: str, results: list[Result], query_ms: dict[str, float], args: Any) -> None:
    baseline = next(r for r in results if r.case.bbox is None)
    print(f"\n{engine}: {args.reports:,} reports, {args.workers} server worker(s), "
          f"{args.seconds:g} s per case, {args.concurrency} concurrent requests, "
          f"{os.cpu_count()} CPUs")
    print(f"{'case':<26}{'features':>9}{'KB':>8}{'query ms':>10}{'req/s':>9}{'p50 ms':>9}"
          f"{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}{'vs base':>9}")
    for r in results:
        query = f"{query_ms[r.case.name]:.1f}" if r.case.name in query_ms else "-"
        print(f"{r.case.name:<26}{r.features:>9}{r.size / 1024:>8.1f}{query:>10}"
              f"{r.rate:>9.0f}{r.percentile(50):>9.1f}{r.percentile(95):>9.1f}"
              f"{r.percentile(99):>9.1f}{r.errors:>8}{r.rate / baseline.rate:>9.2f}")


def bench(engine: str, url: str, args: Any, env: dict[str, str]) -> None:
    from ovoz.geo import services as geo

    started = time.perf_counter()
    asyncio.run(seed(url, args.reports))
    print(f"{engine}: seeded {args.reports:,} reports in {time.perf_counter() - started:.1f} s")
    b = geo.district_bounds()[BERUNIY]
    lat, lon = b.centre
    cases = [
        Case("baseline (bare Litestar)", None),
        Case("district zoom (12)", (b.west, b.south, b.east, b.north), 12),
        Case("country zoom (6)", COUNTRY_BBOX, 6),
        Case("country zoom, open only", COUNTRY_BBOX, 6, "open"),
        Case("street zoom (17)", (lon - 0.004, lat - 0.002, lon + 0.004, lat + 0.002), 17),
    ]
    query_ms = asyncio.run(query_times(cases, rounds=20))
    env = {**env, "OVOZ_DATABASE_URL": url}
    results = []
    # Spawned, not forked: the drivers need nothing of this process's state.
    with ProcessPoolExecutor(args.clients, mp_context=multiprocessing.get_context("spawn")) as pool:
        with server("reports_geojson:baseline_app", env, args.workers, ROOT / "bench") as base:
            results.append(run_case(pool, base, cases[0], args.seconds, args.concurrency,
                                    args.clients))
        with server("ovoz.app:create_app", env, args.workers) as base:
            for case in cases[1:]:
                results.append(run_case(pool, base, case, args.seconds, args.concurrency,
                                        args.clients))
    report(engine, results, query_ms, args)


async def _on_postgres(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="per case")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--clients", type=int, default=1, help="load-driving processes")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--postgres", metavar="URL",
                        help="also run on PostgreSQL: a server URL whose user may create "
                             "databases (a throwaway one is created and dropped)")
    args = parser.parse_args()
    if args.concurrency < args.clients:
        parser.error("--concurrency must be at least --clients")
    folder = Path(tempfile.mkdtemp(prefix="ovoz-bench-"))
    env = {
        "OVOZ_WORKER_IN_SERVER": "false",
        "OVOZ_SMS_BACKEND": "console",
        "OVOZ_SMS_CONSOLE_OUTBOX": str(folder / "sms-outbox.jsonl"),
        "OVOZ_UPLOAD_DIR": str(folder / "uploads"),
    }
    os.environ.update(env)
    try:
        bench("SQLite", f"sqlite:///{folder / 'bench.sqlite3'}", args, env)
        if args.postgres:
            name = f"ovoz_bench_{uuid.uuid4().hex[:10]}"
            admin = urlsplit(args.postgres)._replace(scheme="postgresql")
            asyncio.run(_on_postgres(admin.geturl(), f'CREATE DATABASE "{name}"'))
            try:
                bench("PostgreSQL", admin._replace(path=f"/{name}").geturl(), args, env)
            finally:
                asyncio.run(_on_postgres(admin.geturl(),
                                         f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
