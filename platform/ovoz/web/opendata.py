"""What every open-data download shares: CSV cells a spreadsheet will not run as formulas,
UTF-8 that Excel reads, times in UTC, and the largest id a database column holds."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

# Ids are 32-bit integers in PostgreSQL; a bigger number is no such item, not a database error.
MAX_ID = 2**31 - 1
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A byte-order mark, so Excel reads the file as UTF-8 (Uzbek and Cyrillic letters intact).
BOM = "\ufeff".encode()


def utc_text(value: datetime | None) -> str:
    """ISO 8601 in UTC to the second, as Atom (RFC 3339) and spreadsheets read it."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_bytes(rows: Sequence[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")
