"""A signing storm on one petition: thousands of distinct residents sign it at once over
POST /api/v1/petitions/{id}/signatures while other clients read it, beside a bare Litestar +
asyncpg insert endpoint driven the same way. How to run it and read it: bench/README.md.

Everything happens in a throwaway PostgreSQL database (created, then dropped); the app runs under
uvicorn with several workers, and httpx drives it from other processes. Afterwards the petition's
count, the successful answers and the stored signatures must agree, nobody may be counted twice,
and a second signature must be refused; otherwise the exit status is 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import math
import multiprocessing
import os
import queue
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
from litestar import Litestar, get, post
from litestar.datastructures import State
from reports_geojson import ROOT, server

BERUNIY = 16
# Residents behind one address: a household or a small office, well under the service's limit
# per address, so the storm measures signing rather than the rate limiter.
RESIDENTS_PER_ADDRESS = 25
INSERT_CHUNK = 500
SCRATCH_TABLE = ("CREATE TABLE bench_scratch (id serial PRIMARY KEY, resident integer NOT NULL, "
                 "at timestamptz NOT NULL DEFAULT now())")


# -- the baseline -----------------------------------------------------------------------------

@post("/sign/{resident_id:int}")
async def bare_sign(state: State, resident_id: int) -> dict[str, int]:
    row_id = await state.pool.fetchval(
        "INSERT INTO bench_scratch (resident) VALUES ($1) RETURNING id", resident_id)
    return {"id": row_id}


@get("/view")
async def bare_view(state: State) -> dict[str, int]:
    return {"signatures": await state.pool.fetchval("SELECT count(*) FROM bench_scratch")}


def baseline_app() -> Litestar:
    """The floor: Litestar under the same uvicorn, one INSERT per signature on an asyncpg pool
    as large as the app's, and one count per view."""

    @asynccontextmanager
    async def pool(app: Litestar) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(
            os.environ["BENCH_BASELINE_DSN"], min_size=1,
            max_size=int(os.environ["BENCH_POOL_SIZE"]))
        try:
            yield
        finally:
            await app.state.pool.close()

    return Litestar(route_handlers=[bare_sign, bare_view], lifespan=[pool],
                    logging_config=None)


# -- seeding ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Signer:
    resident_id: int
    token: str
    address: str
    device: str
    # Sends its signature twice at the same moment, as a double tap would.
    double: bool


def use_database(url: str) -> None:
    from ovoz import db
    from ovoz.settings import get_settings

    os.environ["OVOZ_DATABASE_URL"] = url
    get_settings.cache_clear()
    db.use_database(url)


async def open_petition(mahallas: Sequence[int]) -> int:
    """A district petition through the services: an author, sponsors, a moderator's approval."""
    from ovoz.accounts.permissions import Grant, Role
    from ovoz.accounts.tables import Resident, RoleGrant, StaffAccount
    from ovoz.petitions import services
    from ovoz.settings import get_settings

    now = datetime.now(UTC)
    people = await Resident.insert(*[
        Resident(phone=f"+99899{n:07d}", display_name=f"Tashabbuskor {n}", language="uz",
                 mahalla=mahallas[n % len(mahallas)], phone_verified_at=now,
                 residence_confirmed_at=now, created_at=now)
        for n in range(get_settings().petition_sponsors + 1)
    ]).returning(Resident.id)
    author, *backers = [row["id"] for row in people]
    staff = await StaffAccount.insert(StaffAccount(
        username="bench-moderator", display_name="Bench moderator", password_hash="unused",
        created_at=now)).returning(StaffAccount.id)
    grant = Grant(Role.MODERATOR)
    await RoleGrant.insert(RoleGrant(staff=staff[0]["id"], role=grant.role.value,
                                     granted_at=now))
    petition_id = await services.create_draft(author, services.PetitionText(
        title="Tuman markaziga yangi poliklinika qurilsin",
        text="Tumanimizdagi yagona poliklinika eski binoda, navbatlar uzun. Yangi poliklinika "
             "qurishni so‘raymiz (yuklama sinovi uchun).",
        topic="health", level="district_hokimiyat", place_id=BERUNIY))
    await services.seek_sponsors(author, petition_id)
    for backer in backers:
        await services.sponsor(petition_id, backer)
    await services.moderate(services.Staff(staff[0]["id"], (grant,)), petition_id, True)
    return petition_id


async def make_signers(count: int, mahallas: Sequence[int], doubles: int) -> list[Signer]:
    """Residents with verified phones at home in the district, each with an API token written
    as the accounts code writes it (only the digest is stored)."""
    from ovoz.accounts.services import _token_digest
    from ovoz.accounts.tables import ApiToken, Resident

    now = datetime.now(UTC)
    ids: list[int] = []
    for start in range(0, count, INSERT_CHUNK):
        rows = await Resident.insert(*[
            Resident(phone=f"+99890{n:07d}", display_name=f"Imzochi {n}", language="uz",
                     mahalla=mahallas[n % len(mahallas)], phone_verified_at=now,
                     created_at=now)
            for n in range(start, min(count, start + INSERT_CHUNK))
        ]).returning(Resident.id)
        ids.extend(row["id"] for row in rows)
    tokens = ["ovz_" + secrets.token_urlsafe(32) for _ in ids]
    for start in range(0, count, INSERT_CHUNK):
        await ApiToken.insert(*[
            ApiToken(resident=resident_id, digest=_token_digest(token), label="bench",
                     created_at=now, expires_at=now + timedelta(days=1))
            for resident_id, token in zip(ids[start:start + INSERT_CHUNK],
                                          tokens[start:start + INSERT_CHUNK], strict=True)
        ])
    doubled = set(random.Random(2026).sample(range(count), min(doubles, count)))
    signers = []
    for n, (resident_id, token) in enumerate(zip(ids, tokens, strict=True)):
        block = n // RESIDENTS_PER_ADDRESS
        signers.append(Signer(resident_id, token, f"10.{block // 250}.{block % 250}.1",
                              f"bench-device-{n}", n in doubled))
    # Not in the order they were created: neighbours sign at different moments.
    random.Random(7).shuffle(signers)
    return signers


async def seed(url: str, residents: int, doubles: int) -> tuple[int, list[Signer]]:
    from ovoz import db
    from ovoz.geo import services as geo
    from ovoz.geo.tables import Mahalla

    use_database(url)
    with contextlib.redirect_stdout(io.StringIO()):
        await db.migrate()
    await geo.load_places()
    await geo.import_mahallas((ROOT / "seeds" / "demo" / "mahallas.csv").read_bytes(), demo=True)
    mahallas = await Mahalla.select(Mahalla.id).where(Mahalla.district == BERUNIY).order_by(
        Mahalla.id).output(as_list=True)
    petition_id = await open_petition(mahallas)
    signers = await make_signers(residents, mahallas, doubles)
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(SCRATCH_TABLE)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return petition_id, signers


# -- driving ----------------------------------------------------------------------------------

@dataclass
class Part:
    """What one driving process saw: (resident, status, seconds) per request; status 0 is a
    request that got no answer."""

    started: float = 0.0
    finished: float = 0.0
    answers: list[tuple[int, int, float]] = field(default_factory=list)


async def _timed(client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str],
                 resident_id: int, part: Part) -> None:
    started = time.perf_counter()
    try:
        response = await client.request(method, url, headers=headers)
        status = response.status_code
    except httpx.HTTPError:
        status = 0
    part.answers.append((resident_id, status, time.perf_counter() - started))


async def _sign_all(base: str, path: str, signers: Sequence[Signer], concurrency: int,
                    barrier: Any) -> Part:
    part = Part()
    pending = list(reversed(signers))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        async def one_user() -> None:
            while pending:
                signer = pending.pop()
                headers = {"Authorization": f"Bearer {signer.token}",
                           "X-Forwarded-For": signer.address, "X-Device-Id": signer.device}
                url = path.format(resident_id=signer.resident_id)
                attempts = 2 if signer.double else 1
                await asyncio.gather(*(_timed(client, "POST", url, headers,
                                              signer.resident_id, part)
                                       for _ in range(attempts)))

        # Every process starts at the same moment, after its imports and its client are ready.
        await asyncio.to_thread(barrier.wait)
        part.started = time.time()
        await asyncio.gather(*(one_user() for _ in range(concurrency)))
        part.finished = time.time()
    return part


def sign_process(base: str, path: str, signers: Sequence[Signer], concurrency: int,
                 barrier: Any, results: Any) -> None:
    results.put(("sign", asyncio.run(_sign_all(base, path, signers, concurrency, barrier))))


async def _view_until(base: str, path: str, concurrency: int, barrier: Any, stop: Any) -> Part:
    part = Part()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        async def one_user() -> None:
            while not stop.is_set():
                await _timed(client, "GET", path, {}, 0, part)

        await asyncio.to_thread(barrier.wait)
        part.started = time.time()
        await asyncio.gather(*(one_user() for _ in range(concurrency)))
        part.finished = time.time()
    return part


def view_process(base: str, path: str, concurrency: int, barrier: Any, stop: Any,
                 results: Any) -> None:
    results.put(("view", asyncio.run(_view_until(base, path, concurrency, barrier, stop))))


def warm_up(base: str, path: str, requests: int = 200, concurrency: int = 16) -> None:
    """Connections into every worker's pool before the clock starts."""
    async def run() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            gate = asyncio.Semaphore(concurrency)

            async def one() -> None:
                async with gate:
                    (await client.get(path)).raise_for_status()

            await asyncio.gather(*(one() for _ in range(requests)))

    asyncio.run(run())


def percentile(values: Sequence[float], p: int) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)] * 1000


@dataclass
class Storm:
    name: str
    seconds: float
    signing: list[tuple[int, int, float]]
    viewing: list[tuple[int, int, float]]

    def status(self, code: int) -> list[tuple[int, int, float]]:
        return [a for a in self.signing if a[1] == code]

    @property
    def signed(self) -> int:
        return len(self.status(201))

    @property
    def rate(self) -> float:
        return self.signed / self.seconds

    @property
    def sign_errors(self) -> Counter[int]:
        return Counter(a[1] for a in self.signing if a[1] not in (201, 409))

    @property
    def view_errors(self) -> Counter[int]:
        return Counter(a[1] for a in self.viewing if a[1] != 200)

    @property
    def view_rate(self) -> float:
        return len(self.viewing) / self.seconds


def storm(name: str, base: str, sign_path: str, view_path: str, signers: Sequence[Signer],
          args: Any) -> Storm:
    """Every signer signs once (double-tappers twice at once) from `clients` processes while
    `viewers` processes read the petition until the last signature is in."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(args.clients + args.viewers + 1)
    stop = ctx.Event()
    results = ctx.Queue()
    shares = [list(signers[n::args.clients]) for n in range(args.clients)]
    per_client = max(1, args.concurrency // args.clients)
    per_viewer = max(1, args.view_concurrency // max(1, args.viewers))
    processes = [ctx.Process(target=sign_process,
                             args=(base, sign_path, share, per_client, barrier, results))
                 for share in shares]
    processes += [ctx.Process(target=view_process,
                              args=(base, view_path, per_viewer, barrier, stop, results))
                  for _ in range(args.viewers)]
    for process in processes:
        process.start()
    parts: dict[str, list[Part]] = {"sign": [], "view": []}
    try:
        barrier.wait(timeout=120)
        # Results are read before the processes are joined: a full queue would block them.
        while len(parts["sign"]) < args.clients:
            kind, part = results.get(timeout=3600)
            parts[kind].append(part)
        stop.set()
        while len(parts["view"]) < args.viewers:
            kind, part = results.get(timeout=300)
            parts[kind].append(part)
    except (queue.Empty, threading.BrokenBarrierError) as error:
        raise SystemExit(f"{name}: a driving process did not report ({error!r})") from None
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    seconds = (max(p.finished for p in parts["sign"]) - min(p.started for p in parts["sign"]))
    return Storm(name, seconds, [a for p in parts["sign"] for a in p.answers],
                 [a for p in parts["view"] for a in p.answers])


def second_signatures(base: str, path: str, sample: Sequence[Signer]) -> Counter[int]:
    """The sample signs again, after the storm: every answer must be 409."""
    async def run() -> list[int]:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            gate = asyncio.Semaphore(16)

            async def again(signer: Signer) -> int:
                async with gate:
                    response = await client.post(
                        path.format(resident_id=signer.resident_id),
                        headers={"Authorization": f"Bearer {signer.token}",
                                 "X-Forwarded-For": signer.address})
                    return response.status_code

            return await asyncio.gather(*(again(s) for s in sample))

    return Counter(asyncio.run(run()))


# -- checking and reporting -------------------------------------------------------------------

async def stored(url: str, petition_id: int) -> dict[str, Any]:
    """What the database holds after the storm, read directly and through the services."""
    from ovoz.petitions import services

    connection = await asyncpg.connect(url)
    try:
        valid = await connection.fetch(
            "SELECT resident FROM petitions_signature WHERE petition = $1 AND valid", petition_id)
        twice = await connection.fetchval(
            "SELECT count(*) FROM (SELECT resident FROM petitions_signature WHERE petition = $1 "
            "GROUP BY resident HAVING count(*) > 1) AS doubled", petition_id)
        addresses = await connection.fetchval(
            "SELECT count(DISTINCT address_digest) FROM petitions_signature "
            "WHERE petition = $1", petition_id)
        scratch = await connection.fetchval("SELECT count(*) FROM bench_scratch")
        status = await connection.fetchval(
            "SELECT status FROM petitions_petition WHERE id = $1", petition_id)
    finally:
        await connection.close()
    return {"count": await services.count(petition_id), "residents": [r[0] for r in valid],
            "twice": twice, "addresses": addresses, "scratch": scratch, "status": status}


def check(app: Storm, baseline: Storm, held: dict[str, Any], again: Counter[int],
          signers: Sequence[Signer]) -> list[str]:
    """What went wrong, in words; empty when nothing did."""
    failures = []
    answered = {a[0] for a in app.status(201)}
    if not held["count"] == app.signed == len(held["residents"]):
        failures.append(f"the count ({held['count']}), the 201 answers ({app.signed}) and the "
                        f"valid signatures ({len(held['residents'])}) differ")
    if len(answered) != app.signed:
        failures.append(f"{app.signed - len(answered)} residents were told 201 twice")
    if set(held["residents"]) != answered:
        failures.append("the residents told 201 are not those whose signatures are stored")
    if held["twice"]:
        failures.append(f"{held['twice']} residents have more than one signature")
    if set(again) != {409}:
        failures.append(f"second signatures were answered {dict(again)}, not all 409")
    expected_409 = sum(1 for s in signers if s.double)
    if len(app.status(409)) > expected_409:
        failures.append(f"{len(app.status(409))} answers 409 in the storm, more than the "
                        f"{expected_409} double taps")
    if held["scratch"] != baseline.signed:
        failures.append(f"the baseline stored {held['scratch']} rows for {baseline.signed} "
                        "answers 201")
    return failures


def _errors(counter: Counter[int]) -> str:
    return ", ".join(f"{code or 'no answer'}: {n}" for code, n in sorted(counter.items())) or "0"


def report(results: Sequence[Storm], held: dict[str, Any], again: Counter[int],
           args: Any) -> None:
    baseline, app = results
    print(f"\nPostgreSQL: {args.residents:,} residents sign one petition, {args.workers} uvicorn "
          f"workers, {args.clients} signing processes with {args.concurrency} requests in "
          f"flight, {args.viewers} viewing process(es) with {args.view_concurrency}, "
          f"{os.cpu_count()} CPUs; views of {args.view}")
    print(f"{'':<24}{'sign/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'409':>6}"
          f"{'view/s':>9}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'seconds':>9}")
    for r in results:
        signing = [a[2] for a in r.status(201)]
        viewing = [a[2] for a in r.viewing if a[1] == 200]
        print(f"{r.name:<24}{r.rate:>8.0f}{percentile(signing, 50):>8.1f}"
              f"{percentile(signing, 95):>8.1f}{percentile(signing, 99):>8.1f}"
              f"{len(r.status(409)):>6}{r.view_rate:>9.0f}{percentile(viewing, 50):>8.1f}"
              f"{percentile(viewing, 95):>8.1f}{percentile(viewing, 99):>8.1f}"
              f"{r.seconds:>9.1f}")
        print(f"{'':<24}errors: signing {_errors(r.sign_errors)}; "
              f"viewing {_errors(r.view_errors)}")
    print(f"signing vs baseline: {app.rate / baseline.rate:.2f} of the bare insert's rate")
    print(f"stored: count {held['count']:,}, answers 201 {app.signed:,}, valid signatures "
          f"{len(held['residents']):,}, residents signed twice {held['twice']}, "
          f"{held['addresses']} addresses; petition now {held['status']}")
    print(f"second signatures of {sum(again.values())} residents: {dict(again)}")


def bench(url: str, args: Any, env: dict[str, str]) -> int:
    from ovoz.settings import get_settings

    started = time.perf_counter()
    petition_id, signers = asyncio.run(seed(url, args.residents, args.doubles))
    print(f"seeded petition {petition_id} and {len(signers):,} residents with tokens in "
          f"{time.perf_counter() - started:.1f} s")
    pool_size = str(get_settings().postgres_pool_size)
    env = {**env, "OVOZ_DATABASE_URL": url, "BENCH_BASELINE_DSN": url,
           "BENCH_POOL_SIZE": pool_size, "FORWARDED_ALLOW_IPS": "127.0.0.1"}
    sign_path = f"/api/v1/petitions/{petition_id}/signatures"
    view_path = (f"/petitions/{petition_id}" if args.view == "page"
                 else f"/api/v1/petitions/{petition_id}")
    with server("petitions_storm:baseline_app", env, args.workers, ROOT / "bench") as base:
        warm_up(base, "/view")
        baseline = storm("baseline (bare insert)", base, "/sign/{resident_id}", "/view",
                         signers, args)
    with server("ovoz.app:create_app", env, args.workers) as base:
        warm_up(base, view_path)
        app = storm("petition signing", base, sign_path, view_path, signers, args)
        sample = random.Random(11).sample(signers, min(args.sample, len(signers)))
        again = second_signatures(base, sign_path, sample)
    held = asyncio.run(stored(url, petition_id))
    report([baseline, app], held, again, args)
    failures = check(app, baseline, held, again, signers)
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    if not failures:
        print("checks passed: nothing lost, nobody counted twice, second signatures refused")
    return 1 if failures else 0


async def _on_postgres(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("postgres", metavar="URL",
                        help="a PostgreSQL server URL whose user may create databases (a "
                             "throwaway one is created and dropped)")
    parser.add_argument("--residents", type=int, default=5000, help="distinct signers")
    parser.add_argument("--workers", type=int, default=4, help="uvicorn worker processes")
    parser.add_argument("--clients", type=int, default=4, help="signing processes")
    parser.add_argument("--concurrency", type=int, default=64,
                        help="signing requests in flight, over all signing processes")
    parser.add_argument("--viewers", type=int, default=1, help="viewing processes")
    parser.add_argument("--view-concurrency", type=int, default=8,
                        help="views in flight, over all viewing processes")
    parser.add_argument("--view", choices=("api", "page"), default="api",
                        help="read the API's view of the petition or its web page")
    parser.add_argument("--doubles", type=int, default=100,
                        help="signers who send their signature twice at the same moment")
    parser.add_argument("--sample", type=int, default=200,
                        help="signers who sign again after the storm (must get 409)")
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
    name = f"ovoz_bench_{uuid.uuid4().hex[:10]}"
    admin = urlsplit(args.postgres)._replace(scheme="postgresql")
    status = 1
    try:
        asyncio.run(_on_postgres(admin.geturl(), f'CREATE DATABASE "{name}"'))
        try:
            status = bench(admin._replace(path=f"/{name}").geturl(), args, env)
        finally:
            asyncio.run(_on_postgres(admin.geturl(),
                                     f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
