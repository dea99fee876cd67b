from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ovoz.geo.tables import Mahalla
from ovoz.ledger.tables import LedgerEntry


def ovoz(*args: str, database_url: str | None = None, **env: str
         ) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **env}
    if database_url:
        environ["OVOZ_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "ovoz", *args], capture_output=True, text=True, env=environ,
        timeout=120, check=False,
    )


@pytest.mark.parametrize(
    "command",
    [[], ["serve"], ["migrate"], ["seed"], ["geo", "import-mahallas"], ["translit"],
     ["ledger", "verify"], ["ledger", "export"], ["i18n", "extract"]],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = ovoz(*command, "--help")
    assert result.returncode == 0
    assert "Usage: ovoz" in result.stdout


def test_a_configuration_mistake_is_one_line_without_traceback() -> None:
    result = ovoz("migrate", OVOZ_PORT="eighty")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "ovoz: configuration error: OVOZ_PORT: expected a whole number from 1 to 65535, "
        "got 'eighty'"
    )
    assert "Traceback" not in result.stderr + result.stdout


def test_an_unreachable_database_is_one_line() -> None:
    result = ovoz("migrate", database_url="postgresql://postgres@127.0.0.1:1/absent")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: cannot open the database")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("direction", "text", "expected"),
    [("cyrl", "O'zbekiston Respublikasi", "Ўзбекистон Республикаси"),
     ("latn", "Қорақалпоғистон", "Qoraqalpogʻiston")],
)
def test_translit(direction: str, text: str, expected: str) -> None:
    result = ovoz("translit", "--to", direction, text)
    assert result.returncode == 0
    assert result.stdout.strip() == expected


def test_migrate_and_seed_a_fresh_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    migrated = ovoz("migrate", database_url=url)
    assert migrated.returncode == 0, migrated.stderr
    shipped = len(list((Path(__file__).parents[1] / "migrations").glob("*/*_*.py")))
    assert migrated.stdout.strip() == f"{shipped} migration(s) applied."
    assert ovoz("migrate", database_url=url).stdout.strip() == "Database is up to date."
    seeded = ovoz("seed", "--demo", database_url=url)
    assert seeded.returncode == 0, seeded.stderr
    assert seeded.stdout.startswith(
        "14 regions, 209 districts and 12 report categories loaded. Demo mahallas: 36 added")
    # Four demo reports in each of the three pilot districts, in every state, and twelve
    # older ones each for the scorecards, added once.
    assert seeded.stdout.strip().endswith(
        "Demo reports: 12 added, and 36 from the past four months.")
    again = ovoz("seed", "--demo", database_url=url)
    assert "0 added, 36 updated" in again.stdout
    assert again.stdout.strip().endswith(
        "Demo reports: 0 added, and 0 from the past four months.")


async def test_import_mahallas_reports_bad_lines_and_imports_nothing(db: str, tmp_path: Path
                                                                    ) -> None:
    bad = tmp_path / "chortoq.csv"
    bad.write_text(
        "district_id,name_uz,latitude,longitude\n"
        "106,Bahor MFY,41.07,71.82\n"
        "106,,41.07,71.82\n"
        "999999,Chinor MFY,,\n",
        encoding="utf-8",
    )
    result = ovoz("geo", "import-mahallas", str(bad), database_url=db)
    assert result.returncode == 1
    assert "chortoq.csv: line 3: name_uz is empty" in result.stderr
    assert "chortoq.csv: line 4: district_id '999999' is not a known district id" in result.stderr
    assert "nothing imported: 2 problem(s)" in result.stderr
    assert "Traceback" not in result.stderr
    assert await Mahalla.count() == 0


async def test_import_mahallas_then_verify_the_ledger(db: str, tmp_path: Path) -> None:
    good = tmp_path / "boysun.csv"
    good.write_text("district_id,name_uz\n126,Sayrob MFY\n126,Darband MFY\n", encoding="utf-8")
    result = ovoz("geo", "import-mahallas", str(good), database_url=db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2 mahalla(s) added, 0 updated."
    assert await Mahalla.count().where(Mahalla.district == 126) == 2

    verified = ovoz("ledger", "verify", database_url=db)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("Ledger intact: 1 entries, head ")
    export = tmp_path / "ledger.jsonl"
    written = ovoz("ledger", "export", str(export), database_url=db)
    assert written.returncode == 0, written.stderr
    assert '"kind":"geo.mahallas_imported"' in export.read_text(encoding="utf-8")
    checked = ovoz("ledger", "verify", "--export", str(export))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("Export intact: 1 entries, head ")

    await LedgerEntry.update({LedgerEntry.subject: "district:16"}).where(LedgerEntry.seq == 1)
    broken = ovoz("ledger", "verify", database_url=db)
    assert broken.returncode == 1
    assert broken.stderr.strip().startswith("Error: ledger broken at entry 1:")


def test_serve_refuses_a_database_that_needs_migrating(tmp_path: Path) -> None:
    result = ovoz("serve", "--port", "8799", database_url=f"sqlite:///{tmp_path / 'new.sqlite3'}")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: the database is not up to date: run `ovoz migrate` first"
    )
