"""The `ovoz` command. Every failure a person can cause ends with one line and a non-zero exit."""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from ovoz.settings import SettingsError, get_settings

if TYPE_CHECKING:
    from ovoz.planning.pabulib import PbFile

T = TypeVar("T")


def _run(work: Callable[[], Awaitable[T]]) -> T:
    """Run one piece of async work with the configured database open."""
    from ovoz import db

    settings = get_settings()
    db.use_database(settings.database_url)

    async def main() -> T:
        async with db.pool(settings):
            return await work()

    try:
        return asyncio.run(main())
    except Exception as error:
        if _is_database_unreachable(error):
            raise click.ClickException(f"cannot open the database: {error}") from None
        raise


def _is_database_unreachable(error: Exception) -> bool:
    import sqlite3

    import asyncpg

    return isinstance(
        error, OSError | sqlite3.OperationalError | asyncpg.PostgresConnectionError
        | asyncpg.InvalidCatalogNameError | asyncpg.InvalidAuthorizationSpecificationError
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Ovoz: participatory planning, petitions and problem reports."""


@cli.command()
@click.option("--host", help="Address to listen on (default: server.host).")
@click.option("--port", type=int, help="Port (default: server.port).")
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes.")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the site with several worker processes."""
    import os
    import tempfile

    import uvicorn

    from ovoz import db
    from ovoz.operations.controllers import MULTIPROCESS_DIR
    from ovoz.web.logs import uvicorn_log_config

    settings = get_settings()
    if _run(db.pending_migrations):
        raise click.ClickException("the database is not up to date: run `ovoz migrate` first")
    count = workers or settings.workers
    if count > 1 and MULTIPROCESS_DIR not in os.environ:
        # Fresh at every start: the workers of an earlier run left their figures there.
        os.environ[MULTIPROCESS_DIR] = tempfile.mkdtemp(prefix="ovoz-metrics-")
    click.echo(f"Ovoz on http://{host or settings.host}:{port or settings.port}/")
    uvicorn.run(
        "ovoz.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=count,
        proxy_headers=True,
        log_level="info",
        log_config=uvicorn_log_config(settings.log_format) or uvicorn.config.LOGGING_CONFIG,
    )


@cli.command()
def migrate() -> None:
    """Apply pending database migrations (SQLite or PostgreSQL)."""
    from ovoz import db

    async def work() -> list[str]:
        # Piccolo narrates each step on stdout; the summary below says what matters.
        with contextlib.redirect_stdout(io.StringIO()):
            return await db.migrate()

    applied = _run(work)
    click.echo(f"{len(applied)} migration(s) applied." if applied else "Database is up to date.")


@cli.command()
@click.option("--demo", is_flag=True, help="Also load clearly marked demo content.")
def seed(demo: bool) -> None:
    """Load the shipped places and categories (and, with --demo, demo content)."""
    from ovoz.accountability.demo import seed_demo_history
    from ovoz.geo import services as geo
    from ovoz.planning.demo import seed_demo as seed_demo_planning
    from ovoz.reports import services as reports
    from ovoz.reports.demo import seed_demo_reports

    async def work() -> str:
        regions, districts = await geo.load_places()
        categories = await reports.load_categories()
        message = (f"{regions} regions, {districts} districts and {categories} report "
                   "categories loaded.")
        if demo:
            data = (geo.ROOT / "seeds" / "demo" / "mahallas.csv").read_bytes()
            summary = await geo.import_mahallas(data, demo=True)
            message += f" Demo mahallas: {summary.created} added, {summary.updated} updated."
            await seed_demo_planning()
            message += f" Demo reports: {await seed_demo_reports()} added"
            message += f", and {await seed_demo_history()} from the past four months."
        return message

    click.echo(_run(work))


@cli.group()
def geo() -> None:
    """Places: regions, districts and mahallas."""


@geo.command("import-mahallas")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_mahallas(csv_file: Path) -> None:
    """Import mahallas from CSV: all rows or none.

    Columns: district_id, name_uz (required); name_uz_cyrl, name_ru, name_en, latitude,
    longitude, population (optional). A mahalla already known by district and name is updated.
    """
    from ovoz.geo import services

    data = csv_file.read_bytes()

    async def work() -> Any:
        return await services.import_mahallas(data)

    try:
        summary = _run(work)
    except services.MahallaImportError as refused:
        for error in refused.errors:
            click.echo(f"{csv_file.name}: {error}", err=True)
        raise click.ClickException(
            f"nothing imported: {len(refused.errors)} problem(s) in {csv_file.name}"
        ) from None
    click.echo(f"{summary.created} mahalla(s) added, {summary.updated} updated.")


@cli.command()
@click.option("--once", is_flag=True, help="Deliver what is due now, then stop.")
@click.option("--batch", type=click.IntRange(1, 1000), default=50, show_default=True,
              help="Messages claimed at a time.")
@click.option("--poll", type=click.FloatRange(0.1, 60), default=2.0, show_default=True,
              help="Seconds to wait when nothing is due.")
def worker(once: bool, batch: int, poll: float) -> None:
    """Deliver queued notifications (run one or more, on any number of machines)."""
    from ovoz.jobs import JOBS
    from ovoz.notify.worker import Worker

    delivery = Worker(get_settings(), JOBS)

    async def work() -> dict[str, int]:
        return await delivery.run(once=once, batch=batch, poll=poll)

    try:
        totals = _run(work)
    except KeyboardInterrupt:
        return
    click.echo(f"{totals['sent']} sent, {totals['pending']} to retry, {totals['dead']} dead.")


@cli.command()
@click.option("--to", "script", type=click.Choice(["cyrl", "latn"]), required=True,
              help="Target script.")
@click.argument("text", nargs=-1, required=True)
def translit(script: str, text: tuple[str, ...]) -> None:
    """Transliterate Uzbek TEXT between Latin and Cyrillic."""
    from ovoz.i18n.translit import to_cyrillic, to_latin

    convert = to_cyrillic if script == "cyrl" else to_latin
    click.echo(convert(" ".join(text)))


def _backup_work(work: Callable[[], Awaitable[T]]) -> T:
    from ovoz import backup

    try:
        return asyncio.run(work())
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    except Exception as error:
        if _is_database_unreachable(error):
            raise click.ClickException(f"cannot open the database: {error}") from None
        raise


@cli.command("backup")
@click.argument("archive_path", metavar="FILE",
                type=click.Path(dir_okay=False, path_type=Path))
def backup_command(archive_path: Path) -> None:
    """Write the database and the uploaded files to FILE (a .tar.gz), while the site runs."""
    from ovoz import backup

    settings = get_settings()
    manifest = _backup_work(lambda: backup.backup(settings.database_url, settings.upload_dir,
                                                  archive_path))
    click.echo(f"Backup written to {archive_path}: {sum(manifest.tables.values())} rows in "
               f"{len(manifest.tables)} tables, {manifest.uploads} uploaded files, ledger head "
               f"{manifest.ledger_seq} {manifest.ledger_hash or '-'}")


@cli.command("restore")
@click.argument("archive_path", metavar="FILE",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore_command(archive_path: Path) -> None:
    """Restore FILE into the configured database, which must be new and empty, and the upload
    folder; exit 1 unless every table's rows and the ledger head match the backup's."""
    from ovoz import backup

    settings = get_settings()
    restored = _backup_work(lambda: backup.restore(archive_path, settings.database_url,
                                                   settings.upload_dir))
    if not restored.matches:
        raise click.ClickException("the restore does not match the backup: "
                                   + "; ".join(restored.differences))
    click.echo(f"Restored {sum(restored.tables.values())} rows in {len(restored.tables)} "
               f"tables and {restored.uploads} uploaded files; ledger head {restored.ledger_seq} "
               f"{restored.ledger_hash or '-'}, as in the backup of "
               f"{restored.manifest.created_at}.")


@cli.group()
def ledger() -> None:
    """The public ledger."""


@ledger.command("export")
@click.argument("export_path", metavar="FILE",
                type=click.Path(dir_okay=False, writable=True, path_type=Path))
def ledger_export(export_path: Path) -> None:
    """Write every entry as JSON lines, the file /data/ledger.jsonl serves."""
    from ovoz.ledger import services

    try:
        out = export_path.open("w", encoding="utf-8", newline="\n")
    except OSError as error:
        raise click.ClickException(f"cannot write {export_path}: {error.strerror}") from None

    async def work() -> services.Head:
        last = services.GENESIS
        async for entry in services.iterate():
            out.write(services.export_line(entry))
            last = services.Head(entry["seq"], entry["hash"], None)
        return last

    with out:
        head = _run(work)
    click.echo(f"{head.seq} entries written to {export_path}, head {head.hash}")


@ledger.command("verify")
@click.option("--export", "export_path", metavar="FILE",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Check this export offline (no database, no configuration) instead of the "
                   "site's database.")
@click.option("--head", "published_head", metavar="HASH",
              help="With --export: the published head hash the export must contain.")
def ledger_verify(export_path: Path | None, published_head: str | None) -> None:
    """Check the whole hash chain; exit 1 naming the first bad entry."""
    from ovoz.ledger import services

    if export_path is None:
        if published_head is not None:
            raise click.UsageError("--head goes with --export FILE")
        result = _run(services.verify)
        if not result.intact:
            raise click.ClickException(
                f"ledger broken at entry {result.first_bad_seq}: {result.reason} "
                f"({result.checked} entries before it are intact)"
            )
        click.echo(f"Ledger intact: {result.checked} entries, head {result.head.hash}")
        return
    if published_head is not None:
        published_head = published_head.strip().lower()
        if len(published_head) != 64 or any(c not in "0123456789abcdef" for c in published_head):
            raise click.BadParameter("expected the 64 hexadecimal characters of a hash",
                                     param_hint="--head")
    try:
        with export_path.open(encoding="utf-8") as lines:
            result = services.verify_export(lines, published_head)
    except UnicodeDecodeError:
        raise click.ClickException(f"{export_path.name} is not UTF-8 text") from None
    except OSError as error:
        raise click.ClickException(f"cannot read {export_path}: {error.strerror}") from None
    if result.line is not None:
        raise click.ClickException(
            f"{export_path.name}: line {result.line}, entry {result.first_bad_seq}: "
            f"{result.reason} ({result.checked} entries before it are intact)")
    if not result.intact:
        raise click.ClickException(
            f"{export_path.name}: {result.reason} ({result.checked} entries, all intact, "
            f"end at head {result.head.hash})")
    message = f"Export intact: {result.checked} entries, head {result.head.hash}"
    if result.published_seq is not None:
        message += (f"; the published head is entry {result.published_seq}"
                    if result.published_seq != result.head.seq
                    else "; it ends at the published head")
    click.echo(message)


@cli.group()
def i18n() -> None:
    """Translation catalogs."""


@i18n.command("extract")
def i18n_extract() -> None:
    """Collect messages from code and templates and update every catalog."""
    from ovoz.i18n import catalogs

    click.echo(catalogs.extract_and_update())


@i18n.command("cyrillic")
def i18n_cyrillic() -> None:
    """Write the Uzbek Cyrillic catalog from the Uzbek Latin one."""
    from ovoz.i18n import catalogs

    click.echo(catalogs.write_cyrillic_catalog())


@i18n.command("compile")
def i18n_compile() -> None:
    """Compile the catalogs (.po -> .mo); installation does this too."""
    from ovoz.i18n import catalogs

    click.echo(f"{len(catalogs.compile_all())} catalog(s) compiled.")


@cli.group()
def staff() -> None:
    """Staff accounts: officials, mahalla staff, moderators, monitors, administrators."""


def _staff_password(username: str) -> str:
    """The first line of standard input when it is not a terminal (for scripts); otherwise
    asked twice, hidden."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line.strip():
            raise click.ClickException("no password on standard input (give it as the first line)")
        return line.rstrip("\r\n")
    return click.prompt(f"Password for {username}", hide_input=True, confirmation_prompt=True)


@staff.command("create")
@click.option("--username", required=True,
              help="3 to 64 lower-case letters, digits, dots, dashes or underscores.")
@click.option("--role", required=True,
              help="administrator, moderator, official, mahalla_staff or ngo_monitor.")
@click.option("--region", "region_id", type=click.IntRange(min=1), help="Region id.")
@click.option("--district", "district_id", type=click.IntRange(min=1),
              help="District id (its region is filled in).")
@click.option("--department", "department_id", type=click.IntRange(min=1),
              help="Department id, for an official limited to one department.")
@click.option("--mahalla", "mahalla_id", type=click.IntRange(min=1),
              help="Mahalla id (its district and region are filled in).")
@click.option("--display-name", help="The name other staff see (default: the username).")
@click.option("--email", default="", help="Address for notifications by e-mail (optional).")
def staff_create(username: str, role: str, region_id: int | None, district_id: int | None,
                 department_id: int | None, mahalla_id: int | None,
                 display_name: str | None, email: str) -> None:
    """Create a staff account with one role; the password is read from standard input or asked.

    The account and its role are created together or not at all. The authenticator app's
    enrolment link is printed once.
    """
    from ovoz.accounts import staff as accounts_staff
    from ovoz.accounts.permissions import Grant, Role

    roles = [r.value for r in Role]
    if role not in roles:
        raise click.ClickException(f"unknown role {role!r}: choose one of {', '.join(roles)}")
    grant = Grant(role=Role(role), region_id=region_id, district_id=district_id,
                  mahalla_id=mahalla_id, department_id=department_id)

    async def resolve() -> Grant:
        return await accounts_staff.resolve_grant(grant)

    try:
        # A wrong place is reported before the password is asked for.
        resolved = _run(resolve)
        password = _staff_password(username)

        async def work() -> tuple[dict[str, Any], str]:
            # Checked again inside: the account and its role are created together or not at all.
            return await accounts_staff.create_staff(
                username, display_name or username.strip(), password, grants=[resolved],
                email=email)

        row, uri = _run(work)
    except accounts_staff.StaffError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Staff account {row['username']!r} created (id {row['id']}) as {role}, "
               f"{resolved.scope}.")
    click.echo("Add it to an authenticator app with this link. It is shown only once here; "
               "the first web sign-in also offers it as a QR code:")
    click.echo(uri)


@cli.group()
def open311() -> None:
    """Open311 GeoReport v2: client applications allowed to post problem reports."""


@open311.command("add-client")
@click.argument("name")
@click.option("--contact", default="", help="Whom to ask about the client (kept private).")
def open311_add_client(name: str, contact: str) -> None:
    """Register a client application and print its API key, shown only this once."""
    from ovoz.reports import clients

    async def work() -> tuple[int, str]:
        return await clients.issue_client(name, contact)

    try:
        client_id, key = _run(work)
    except clients.ClientError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Open311 client {' '.join(name.split())!r} registered (id {client_id}).")
    click.echo("Store its API key now: it is shown only this once, Ovoz keeps only a digest:")
    click.echo(key)


@open311.command("revoke-client")
@click.argument("client_id", type=click.IntRange(min=1))
def open311_revoke_client(client_id: int) -> None:
    """Revoke a client application's API key: its requests are refused from now on."""
    from ovoz.reports import clients

    async def work() -> bool:
        return await clients.revoke_client(client_id)

    try:
        revoked = _run(work)
    except clients.ClientError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Open311 client {client_id} revoked." if revoked
               else f"Open311 client {client_id} was already revoked.")


@cli.group()
def pb() -> None:
    """Pabulib .pb files: count, export and import planning votes."""


def _read_pb(pb_file: Path) -> PbFile:
    from ovoz.planning import pabulib

    try:
        return pabulib.parse(pb_file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise click.ClickException(f"{pb_file.name}: not UTF-8 text") from None
    except pabulib.PbError as error:
        raise click.ClickException(f"{pb_file.name}: {error}") from None


@pb.command("tally")
@click.argument("pb_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rule", type=click.Choice(["greedy", "mes"]), required=True,
              help="greedy: by approvals while money lasts; mes: the Method of Equal Shares.")
@click.option("--sat", "satisfaction", type=click.Choice(["cost", "cardinality"]),
              default="cost", show_default=True, help="What a voter gains from a project (mes).")
@click.option("--completion", type=click.Choice(["none", "add1"]), default="none",
              show_default=True,
              help="add1: raise every voter's share by --step while that helps, then greedy "
                   "(mes).")
@click.option("--step", type=click.IntRange(min=1), default=1, show_default=True,
              help="How much add1 raises each share at a time (pabutools' "
                   "voter_budget_increment; Ovoz's cycles use 1000 soums).")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"selected": [...], "spent": N, "budget": N} only.')
def pb_tally(pb_file: Path, rule: str, satisfaction: str, completion: str, step: int,
             as_json: bool) -> None:
    """Count a .pb file's approval ballots (no database).

    Prints each project's verdict, or with --json only the selection, the money spent and the
    budget. Ties go to the project id first in text order, as in pabutools.
    """
    import json

    from ovoz.planning import pabulib, tally

    if rule == "greedy" and (satisfaction, completion) != ("cost", "none"):
        raise click.UsageError("--sat and --completion apply to --rule mes only")
    election = pabulib.election_of(_read_pb(pb_file))
    if rule == "greedy":
        outcome = tally.greedy(election)
    else:
        outcome = tally.equal_shares(election, cast("tally.Satisfaction", satisfaction),
                                     cast("tally.Completion", completion), step)
    if as_json:
        click.echo(json.dumps({"selected": list(outcome.selected), "spent": outcome.spent,
                               "budget": outcome.budget}, ensure_ascii=False))
        return
    how = ("greedy by approvals" if rule == "greedy" else
           f"Method of Equal Shares, {satisfaction} satisfaction, completion {completion}")
    click.echo(f"{pb_file.name}: {how}. {len(outcome.selected)} of {len(election.costs)} "
               f"projects selected, {outcome.spent} of {outcome.budget} spent, "
               f"{election.voters} voters.")
    chosen = set(outcome.selected)
    for project in [*outcome.selected, *sorted(set(election.costs) - chosen)]:
        verdict = outcome.verdicts[project]
        figures = ", ".join(f"{name} {value}" for name, value in verdict.figures.items())
        mark = "selected" if verdict.selected else "not selected"
        click.echo(f"  {project}: {mark}, {verdict.reason} ({figures})")


@pb.command("export")
@click.argument("cycle_id", type=click.IntRange(min=1))
@click.argument("pb_file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--mahalla", "mahalla_id", type=click.IntRange(min=1),
              help="The mahalla's ballots, for a cycle that counts each mahalla apart.")
def pb_export(cycle_id: int, pb_file: Path, mahalla_id: int | None) -> None:
    """Write a counted cycle's ballots to a .pb file.

    The projects with their costs and the anonymised ballots, as the results were counted.
    """
    from ovoz.planning import services

    async def work() -> str:
        return await services.export_pb(cycle_id, mahalla_id)

    try:
        text = _run(work)
    except services.PlanningError as error:
        raise click.ClickException({
            "not_found": f"no cycle {cycle_id}" + (f" with mahalla {mahalla_id}"
                                                   if mahalla_id else ""),
            "wrong_phase": f"cycle {cycle_id} is not counted yet: ballots are exported once "
                           "its results are out",
            "choose_mahalla": f"cycle {cycle_id} counts each mahalla apart: give --mahalla",
        }.get(error.code, f"cycle {cycle_id} cannot be exported ({error.code})")) from None
    try:
        pb_file.write_text(text, encoding="utf-8")
    except OSError as error:
        raise click.ClickException(f"cannot write {pb_file}: {error.strerror}") from None
    click.echo(f"Cycle {cycle_id} written to {pb_file}.")


@pb.command("import")
@click.argument("pb_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--district", "district_id", type=click.IntRange(min=1),
              help="District id (needed unless the file's META has district_id).")
def pb_import(pb_file: Path, district_id: int | None) -> None:
    """Create a planning cycle from a .pb file.

    The cycle gets the file's projects and anonymous ballots and is counted at once.
    """
    from ovoz.planning import services

    parsed = _read_pb(pb_file)
    if district_id is None:
        stated = parsed.meta.get("district_id", "")
        if not stated:
            raise click.UsageError("give --district: the file's META has no district_id")
        if not stated.isdecimal() or int(stated) < 1:
            raise click.ClickException(
                f"{pb_file.name}: META district_id {stated!r} is not a district id")
        district_id = int(stated)

    async def work() -> int:
        return await services.import_pb(parsed, district_id)

    try:
        cycle_id = _run(work)
    except services.PlanningError as error:
        raise click.ClickException(
            f"no district {district_id}" if error.code == "not_found"
            else f"{pb_file.name} cannot be imported ({error.code})") from None
    click.echo(f"Cycle {cycle_id} created from {pb_file.name}: {len(parsed.projects)} "
               f"project(s), {len(parsed.votes)} ballot(s).")

def main() -> None:
    try:
        cli.main(prog_name="ovoz", standalone_mode=True)
    except SettingsError as error:
        click.echo(f"ovoz: configuration error: {error}", err=True)
        sys.exit(2)
