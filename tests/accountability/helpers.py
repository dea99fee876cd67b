"""Obligations written straight into the table, for figures whose inputs must be exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ovoz.accountability.tables import Obligation
from tests.reports.helpers import REGION_OF

# A Monday in a quarter without public holidays in its first weeks.
START = datetime(2026, 7, 6, 5, 0, tzinfo=UTC)


def days(number: float) -> timedelta:
    return timedelta(days=number)


async def add_obligation(ref: int, *, kind: str = "report", district: int = 16,
                         department: int | None = None, registered: datetime = START,
                         due_in: float = 15, first_response_in: float | None = None,
                         resolved_in: float | None = None, outcome: str = "") -> int:
    """An obligation registered at `registered`, due `due_in` days later, first answered and
    resolved the given numbers of days after registration."""
    resolved = registered + days(resolved_in) if resolved_in is not None else None
    first = (registered + days(first_response_in) if first_response_in is not None
             else resolved)
    closed_outcome = outcome or ("answered" if resolved else "")
    closed = resolved if resolved else (registered + days(1) if outcome else None)
    rows = await Obligation.insert(Obligation(
        kind=kind, ref=ref, body="department" if department else "district",
        region=REGION_OF[district], district=district, department=department,
        registered_at=registered, due_at=registered + days(due_in),
        original_due_at=registered + days(due_in), first_response_at=first,
        resolved_at=resolved, closed_at=closed, outcome=closed_outcome,
    )).returning(Obligation.id)
    return int(rows[0]["id"])
