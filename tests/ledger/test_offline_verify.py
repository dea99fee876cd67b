"""Checking a ledger export offline: `ovoz ledger export FILE` writes it, and `ovoz ledger
verify --export FILE [--head HASH]` checks it with no database and no configuration."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ovoz import ledger
from ovoz.ledger import services
from tests.test_cli import ovoz

# Nothing of the site: no configuration file, and a database that does not exist.
OFFLINE = {"OVOZ_CONFIG": "/nonexistent/litestar.toml"}


async def _record(count: int) -> list[services.Head]:
    return [await ledger.record("test.counted", f"thing:{n}", {"n": n, "place": "Oʻzbekiston"})
            for n in range(1, count + 1)]


def _offline(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    database = tmp_path / "absent" / "ovoz.sqlite3"
    result = ovoz("ledger", "verify", *args, database_url=f"sqlite:///{database}", **OFFLINE)
    assert not database.parent.exists(), "the offline check opened a database"
    assert "Traceback" not in result.stderr
    return result.returncode, result.stdout.strip(), result.stderr.strip()


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


async def test_export_then_verify_offline(db: str, tmp_path: Path) -> None:
    heads = await _record(4)
    export = tmp_path / "ledger.jsonl"
    written = ovoz("ledger", "export", str(export), database_url=db)
    assert written.returncode == 0, written.stderr
    assert written.stdout.strip() == f"4 entries written to {export}, head {heads[-1].hash}"
    assert _lines(export) == [services.export_line(entry) async for entry in services.iterate()]

    code, out, err = _offline(tmp_path, "--export", str(export), "--head", heads[-1].hash)
    assert code == 0, err
    assert out == f"Export intact: 4 entries, head {heads[-1].hash}; it ends at the published head"

    # An older published head is proved by a newer export: the chain runs through it.
    code, out, err = _offline(tmp_path, "--export", str(export), "--head", heads[1].hash.upper())
    assert code == 0, err
    assert out.endswith("; the published head is entry 2")


async def test_a_tampered_line_fails_naming_the_entry(db: str, tmp_path: Path) -> None:
    await _record(4)
    export = tmp_path / "ledger.jsonl"
    assert ovoz("ledger", "export", str(export), database_url=db).returncode == 0
    lines = _lines(export)
    entry = json.loads(lines[2])
    entry["payload"]["n"] = 30
    lines[2] = services.export_line(entry)
    export.write_text("".join(lines), encoding="utf-8")

    code, _, err = _offline(tmp_path, "--export", str(export))
    assert code == 1
    assert err == ("Error: ledger.jsonl: line 3, entry 3: its content does not match its hash "
                   "(2 entries before it are intact)")


async def test_a_head_not_in_the_export_fails(db: str, tmp_path: Path) -> None:
    await _record(2)
    export = tmp_path / "ledger.jsonl"
    assert ovoz("ledger", "export", str(export), database_url=db).returncode == 0
    later = await ledger.record("test.counted", "thing:3", {"n": 3})

    code, _, err = _offline(tmp_path, "--export", str(export), "--head", later.hash)
    assert code == 1
    assert err.startswith(f"Error: ledger.jsonl: the published head {later.hash} is not in "
                          "the export (2 entries, all intact")


def test_mistakes_in_the_command_are_one_line(tmp_path: Path) -> None:
    export = tmp_path / "ledger.jsonl"
    export.write_text("", encoding="utf-8")
    code, _, err = _offline(tmp_path, "--export", str(export), "--head", "abc123")
    assert code == 2
    assert err.endswith("Invalid value for --head: expected the 64 hexadecimal characters of "
                        "a hash")
    result = ovoz("ledger", "verify", "--head", "0" * 64, **OFFLINE)
    assert result.returncode == 2
    assert result.stderr.strip().endswith("Error: --head goes with --export FILE")
    code, out, _ = _offline(tmp_path, "--export", str(export), "--head", "0" * 64)
    assert (code, out) == (0, f"Export intact: 0 entries, head {'0' * 64}; it ends at the "
                              "published head")


# -- the check itself, without a process around it ---------------------------------------------

async def _exported(count: int) -> list[str]:
    await _record(count)
    return [services.export_line(entry) async for entry in services.iterate()]


async def test_verify_export_accepts_the_export_and_finds_the_head(db: str) -> None:
    lines = await _exported(3)
    heads = [json.loads(line)["hash"] for line in lines]
    result = services.verify_export(lines, heads[0])
    assert (result.intact, result.checked, result.head.hash, result.published_seq) == (
        True, 3, heads[-1], 1)
    assert services.verify_export(lines).published_seq is None


@pytest.mark.parametrize(("change", "line", "seq", "reason"), [
    (lambda lines: lines[:1] + lines[2:], 2, 2, "expected entry 2 next, found 3"),
    (lambda lines: [lines[1], lines[0], lines[2]], 1, 1, "expected entry 1 next, found 2"),
    (lambda lines: [*lines[:1], "not json\n", *lines[2:]], 2, 2, "the line is not JSON"),
    (lambda lines: [*lines[:1], "[1, 2]\n", *lines[2:]], 2, 2, "not a ledger entry"),
    (lambda lines: [*lines[:1], lines[1].replace('"seq":2', '"seq":"2"'), *lines[2:]], 2, 2,
     "no valid 'seq'"),
    (lambda lines: [*lines[:2], lines[2].replace('"at":"', '"at":"x')], 3, 3, "not a time"),
])
async def test_verify_export_names_the_first_bad_line(
        db: str, change: Callable[[list[str]], list[str]], line: int, seq: int, reason: str
) -> None:
    lines = await _exported(3)
    result = services.verify_export(change(lines))
    assert not result.intact
    assert (result.line, result.first_bad_seq) == (line, seq)
    assert reason in (result.reason or "")


async def test_a_rewritten_entry_with_a_fresh_hash_breaks_the_next_link(db: str) -> None:
    lines = await _exported(3)
    entry = json.loads(lines[1])
    entry["payload"]["n"] = 20
    entry["hash"] = services.entry_hash(
        entry["prev_hash"], 2, services.datetime.fromisoformat(entry["at"]), entry["kind"],
        entry["subject"], entry["payload"])
    result = services.verify_export([lines[0], services.export_line(entry), lines[2]])
    assert (result.intact, result.line, result.first_bad_seq) == (False, 3, 3)
    assert "prev_hash" in (result.reason or "")
