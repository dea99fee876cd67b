"""Appending to the public ledger and checking it.

Each entry's hash is sha256 over the previous entry's hash and a canonical JSON of the entry, so
changing, removing or reordering any past entry breaks every hash after it."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from ovoz.db import current_engine, transaction
from ovoz.ledger.tables import LedgerEntry

GENESIS_HASH = "0" * 64
# An arbitrary constant that names the ledger's PostgreSQL advisory lock.
_APPEND_LOCK = 7_315_420_001

_KIND = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_SUBJECT = re.compile(r"^[a-z][a-z0-9_]*(:[A-Za-z0-9_-]+)?$")
_PERSONAL_KEYS = frozenset(
    {
        "phone", "phone_number", "msisdn", "email", "name", "full_name", "display_name",
        "first_name", "last_name", "address", "home", "pinfl", "passport", "birth_date",
        "ip", "ip_address", "password", "code", "token", "secret",
    }
)
# A phone number written any common way: +998 90 123 45 67, 998901234567, (90) 123-45-67...
# standing alone, so that digits inside a hash or an identifier do not count.
_PHONE_LIKE = re.compile(
    r"(?<![\w+])(?:\+?998[\s().-]*)?\(?\d{2}\)?[\s.-]*\d{3}[\s.-]*\d{2}[\s.-]*\d{2}(?!\w)"
)
_EMAIL_LIKE = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


class LedgerError(ValueError):
    """The entry would break the ledger's rules (bad kind or subject, personal data)."""


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    hash: str
    at: datetime | None


@dataclass(frozen=True, slots=True)
class Verification:
    intact: bool
    checked: int
    head: Head
    first_bad_seq: int | None = None
    reason: str | None = None
    # Checking an export: the line of the first bad entry, and where the published head was.
    line: int | None = None
    published_seq: int | None = None


class ChainBroken(ValueError):
    """An entry does not follow the one before it."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


GENESIS = Head(seq=0, hash=GENESIS_HASH, at=None)
_EXPORT_FIELDS = {"seq": int, "at": str, "kind": str, "subject": str, "payload": dict,
                  "prev_hash": str, "hash": str}


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def timestamp_text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(prev_hash: str, seq: int, at: datetime, kind: str, subject: str,
               payload: Mapping[str, Any]) -> str:
    body = canonical_json(
        {"seq": seq, "at": timestamp_text(at), "kind": kind, "subject": subject,
         "payload": payload}
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def _check_personal_data(value: Any, path: str) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise LedgerError(f"{path}: keys must be text")
            if key.lower() in _PERSONAL_KEYS:
                raise LedgerError(f"{path}.{key}: personal data never goes into the ledger")
            _check_personal_data(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_personal_data(item, f"{path}[{index}]")
    elif isinstance(value, str):
        if _PHONE_LIKE.search(value) or _EMAIL_LIKE.search(value):
            raise LedgerError(f"{path}: looks like a phone number or e-mail address")
    elif value is not None and not isinstance(value, bool | int | float):
        raise LedgerError(f"{path}: only JSON values can be recorded")


async def _serialise_appends() -> None:
    # On SQLite the IMMEDIATE transaction already holds the database's write lock.
    if isinstance(current_engine(), PostgresEngine):
        await LedgerEntry.raw("SELECT pg_advisory_xact_lock({})", _APPEND_LOCK)


async def head() -> Head:
    last = await (
        LedgerEntry.select(LedgerEntry.seq, LedgerEntry.hash, LedgerEntry.at)
        .order_by(LedgerEntry.seq, ascending=False)
        .first()
    )
    if last is None:
        return GENESIS
    return Head(seq=last["seq"], hash=last["hash"], at=last["at"])


async def record(kind: str, subject: str, payload: Mapping[str, Any] | None = None) -> Head:
    """Append one entry, inside the caller's transaction when there is one, so the entry commits
    or rolls back with the change it describes."""
    payload = dict(payload or {})
    if not _KIND.match(kind) or len(kind) > 64:
        raise LedgerError(f"kind {kind!r}: expected dotted lower-case words, e.g. petition.signed")
    if not _SUBJECT.match(subject) or len(subject) > 128:
        raise LedgerError(f"subject {subject!r}: expected 'thing' or 'thing:id'")
    _check_personal_data(payload, "payload")
    try:
        payload_text = canonical_json(payload)
    except ValueError as error:
        raise LedgerError(f"payload: {error}") from None
    async with transaction():
        await _serialise_appends()
        previous = await head()
        seq = previous.seq + 1
        at = datetime.now(UTC)
        digest = entry_hash(previous.hash, seq, at, kind, subject, payload)
        await LedgerEntry.insert(
            LedgerEntry(seq=seq, at=at, kind=kind, subject=subject, payload=payload_text,
                        prev_hash=previous.hash, hash=digest)
        )
    return Head(seq=seq, hash=digest, at=at)


async def entries_after(after: int, limit: int) -> list[dict[str, Any]]:
    rows = await (
        LedgerEntry.select(
            LedgerEntry.seq, LedgerEntry.at, LedgerEntry.kind, LedgerEntry.subject,
            LedgerEntry.payload, LedgerEntry.prev_hash, LedgerEntry.hash,
        )
        .where(LedgerEntry.seq > after)
        .order_by(LedgerEntry.seq)
        .limit(limit)
    )
    return [public_entry(row) for row in rows]


def public_entry(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "seq": row["seq"],
        "at": timestamp_text(row["at"]),
        "kind": row["kind"],
        "subject": row["subject"],
        "payload": json.loads(row["payload"]),
        "prev_hash": row["prev_hash"],
        "hash": row["hash"],
    }


async def iterate(batch: int = 1000) -> AsyncIterator[dict[str, Any]]:
    after = 0
    while rows := await entries_after(after, batch):
        for row in rows:
            yield row
        after = rows[-1]["seq"]


def follow(last: Head, entry: Mapping[str, Any]) -> Head:
    """The head after `entry`, which must come right after `last` and match its own hash; the
    one check of the chain, for the database and for a downloaded export alike."""
    seq = entry["seq"]
    if seq != last.seq + 1:
        raise ChainBroken(last.seq + 1, f"expected entry {last.seq + 1} next, found {seq} "
                                        "(an entry is missing)")
    if entry["prev_hash"] != last.hash:
        raise ChainBroken(seq, "its prev_hash does not match")
    at = datetime.fromisoformat(entry["at"])
    recomputed = entry_hash(entry["prev_hash"], seq, at, entry["kind"], entry["subject"],
                            entry["payload"])
    if recomputed != entry["hash"]:
        raise ChainBroken(seq, "its content does not match its hash")
    return Head(seq=seq, hash=entry["hash"], at=at)


async def verify() -> Verification:
    """Walk the whole chain; report the first entry whose link or hash does not hold."""
    last, checked = GENESIS, 0
    try:
        async for entry in iterate():
            last = follow(last, entry)
            checked += 1
    except ChainBroken as broken:
        return Verification(False, checked, last, broken.seq, broken.reason)
    return Verification(True, checked, last)


def export_line(entry: Mapping[str, Any]) -> str:
    """One entry as a line of the JSON Lines export: canonical JSON, so every copy is alike."""
    return canonical_json(entry) + "\n"


def _exported_entry(line: str, expected_seq: int) -> dict[str, Any]:
    try:
        entry = json.loads(line)
    except ValueError:
        raise ChainBroken(expected_seq, "the line is not JSON") from None
    if not isinstance(entry, dict):
        raise ChainBroken(expected_seq, "the line is not a ledger entry")
    for field, kind in _EXPORT_FIELDS.items():
        value = entry.get(field)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ChainBroken(expected_seq, f"the line has no valid {field!r}")
    try:
        datetime.fromisoformat(entry["at"])
    except ValueError:
        raise ChainBroken(entry["seq"], "its 'at' is not a time") from None
    return entry


def verify_export(lines: Iterable[str], published_head: str | None = None) -> Verification:
    """Check an export (JSON lines, as `export_line` writes them) without the database: every
    entry's hash and link from the first, and, when given, that the published head hash is
    among them. A newer export still proves an older head: the chain runs through it."""
    last, checked, published_seq = GENESIS, 0, None
    if published_head == GENESIS_HASH:
        published_seq = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            last = follow(last, _exported_entry(line, last.seq + 1))
        except ChainBroken as broken:
            return Verification(False, checked, last, broken.seq, broken.reason, line=number)
        checked += 1
        if last.hash == published_head:
            published_seq = last.seq
    if published_head is not None and published_seq is None:
        return Verification(False, checked, last,
                            reason=f"the published head {published_head} is not in the export")
    return Verification(True, checked, last, published_seq=published_seq)
