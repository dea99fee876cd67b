"""Scorecards: how well each district hokimiyat and department answers, for a period.

The period's cohort is every obligation registered in it; what became of them is counted as
of a moment (now, or when an accountability report froze them). Counts and the nearest-rank
median and 90th percentile are computed by the database in a few grouped queries, so a page
stays fast with hundreds of thousands of obligations.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Final

from piccolo.engine.postgres import PostgresEngine

from ovoz.accountability import clock
from ovoz.accountability.services import PETITION, PROPOSAL_REVIEW, REPORT, now
from ovoz.accountability.tables import Obligation
from ovoz.db import current_engine

# Answers to residents: a project's delivery takes months and is scored on its own.
ANSWER_KINDS: Final = (REPORT, PETITION, PROPOSAL_REVIEW)


@dataclass(frozen=True, slots=True)
class Period:
    """Whole days in Tashkent, both ends included."""

    start: date
    end: date

    @property
    def since(self) -> datetime:
        return clock.end_of(date.fromordinal(self.start.toordinal() - 1))

    @property
    def until(self) -> datetime:
        return clock.end_of(self.end)


def quarter_of(day: date) -> Period:
    first_month = (day.month - 1) // 3 * 3 + 1
    start = date(day.year, first_month, 1)
    return Period(start, date.fromordinal(clock.add_months(start, 3).toordinal() - 1))


@dataclass(slots=True)
class Figures:
    """One body's figures for one period. Rates are None when there is nothing to rate."""

    received: int = 0
    resolved: int = 0
    open: int = 0
    overdue: int = 0
    answered_late: int = 0
    # Answered by the due date, out of those answered or past their due date.
    on_time: int = 0
    rated: int = 0
    first_response_median_days: float | None = None
    first_response_p90_days: float | None = None
    resolution_median_days: float | None = None
    resolution_p90_days: float | None = None
    petitions_rated: int = 0
    petitions_on_time: int = 0
    reports_fixed: int = 0
    reports_disputed: int = 0
    projects_due: int = 0
    projects_delivered: int = 0
    projects_on_time: int = 0
    projects_on_budget: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.rated if self.rated else None

    @property
    def petitions_on_time_rate(self) -> float | None:
        return self.petitions_on_time / self.petitions_rated if self.petitions_rated else None

    @property
    def disputed_share(self) -> float | None:
        return self.reports_disputed / self.reports_fixed if self.reports_fixed else None

    @property
    def projects_on_time_rate(self) -> float | None:
        return self.projects_on_time / self.projects_due if self.projects_due else None

    @property
    def projects_on_budget_rate(self) -> float | None:
        return (self.projects_on_budget / self.projects_delivered
                if self.projects_delivered else None)

    def as_dict(self) -> dict[str, Any]:
        """Every figure, rates included, as plain values for JSON, CSV and snapshots."""
        return asdict(self) | {
            "on_time_rate": _rounded(self.on_time_rate),
            "petitions_on_time_rate": _rounded(self.petitions_on_time_rate),
            "disputed_share": _rounded(self.disputed_share),
            "projects_on_time_rate": _rounded(self.projects_on_time_rate),
            "projects_on_budget_rate": _rounded(self.projects_on_budget_rate),
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(slots=True)
class Scorecard:
    """A district's figures, and each of its departments' (None: the hokimiyat itself)."""

    district_id: int
    period: Period
    as_of: datetime
    district: Figures = field(default_factory=Figures)
    departments: dict[int | None, Figures] = field(default_factory=dict)


def _days(later: str, earlier: str) -> str:
    if isinstance(current_engine(), PostgresEngine):
        return f"EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400.0"
    return f"(julianday({later}) - julianday({earlier}))"


def _in(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    return f"{column} IN ({', '.join('{}' for _ in values)})", list(values)


async def _rows(sql: str, *args: Any) -> list[dict[str, Any]]:
    return list(await Obligation.raw(sql, *args))


async def _counts(where: str, args: list[Any], as_of: datetime, group: str
                  ) -> list[dict[str, Any]]:
    answered = "resolved_at IS NOT NULL AND resolved_at <= {}"
    is_open = "(closed_at IS NULL OR closed_at > {})"
    sql = f"""
        SELECT {group} AS grp, kind,
          COUNT(*) AS received,
          SUM(CASE WHEN {answered} THEN 1 ELSE 0 END) AS resolved,
          SUM(CASE WHEN {is_open} THEN 1 ELSE 0 END) AS still_open,
          SUM(CASE WHEN {is_open} AND due_at <= {{}} THEN 1 ELSE 0 END) AS overdue,
          SUM(CASE WHEN {answered} AND resolved_at > due_at THEN 1 ELSE 0 END) AS late,
          SUM(CASE WHEN {answered} AND resolved_at <= due_at THEN 1 ELSE 0 END) AS on_time,
          SUM(CASE WHEN ({answered}) OR (due_at <= {{}} AND outcome <> 'withdrawn')
              THEN 1 ELSE 0 END) AS rated
        FROM accountability_obligation WHERE {where}
        GROUP BY {group}, kind"""
    return await _rows(sql, *[as_of] * 8, *args)


async def _percentiles(where: str, args: list[Any], as_of: datetime, group: str,
                       moment: str) -> dict[Any, tuple[float, float]]:
    """Nearest-rank median and 90th percentile of days from registration to `moment`."""
    days = _days(moment, "registered_at")
    sql = f"""
        SELECT grp, rn, n, days FROM (
          SELECT grp, days, ROW_NUMBER() OVER (PARTITION BY grp ORDER BY days) AS rn,
                 COUNT(*) OVER (PARTITION BY grp) AS n
          FROM (SELECT {group} AS grp, {days} AS days FROM accountability_obligation
                WHERE {where} AND {moment} IS NOT NULL AND {moment} <= {{}}) AS measured
        ) AS ranked
        WHERE rn = (n + 1) / 2 OR rn = (9 * n + 9) / 10"""
    found: dict[Any, dict[str, float]] = defaultdict(dict)
    for row in await _rows(sql, *args, as_of):
        n, rn = int(row["n"]), int(row["rn"])
        value = round(float(row["days"]), 2)
        if rn == (n + 1) // 2:
            found[row["grp"]]["median"] = value
        if rn == (9 * n + 9) // 10:
            found[row["grp"]]["p90"] = value
    return {grp: (values["median"], values["p90"]) for grp, values in found.items()}


async def _reports_disputed(where: str, args: list[Any], group: str) -> list[dict[str, Any]]:
    """Reports of the cohort ever marked fixed, and those a resident said were not."""
    sql = f"""
        SELECT {group} AS grp, COUNT(*) AS fixed,
          SUM(CASE WHEN EXISTS (SELECT 1 FROM reports_fix_feedback f
                                WHERE f.report = r.id AND f.fixed = {{}})
              THEN 1 ELSE 0 END) AS disputed
        FROM accountability_obligation o JOIN reports_report r ON r.id = o.ref
        WHERE o.kind = 'report' AND r.fix_round > 0 AND {where}
        GROUP BY {group}"""
    return await _rows(sql, False, *args)


async def _projects(where: str, args: list[Any], as_of: datetime, group: str
                    ) -> list[dict[str, Any]]:
    """Selected projects due in the period: delivered, on time, on budget."""
    delivered = "o.resolved_at IS NOT NULL AND o.resolved_at <= {}"
    sql = f"""
        SELECT {group} AS grp, COUNT(*) AS due,
          SUM(CASE WHEN {delivered} THEN 1 ELSE 0 END) AS delivered,
          SUM(CASE WHEN {delivered} AND o.resolved_at <= o.due_at THEN 1 ELSE 0 END)
            AS on_time,
          SUM(CASE WHEN {delivered} AND p.spent <= p.reviewed_cost THEN 1 ELSE 0 END)
            AS on_budget
        FROM accountability_obligation o JOIN planning_proposal p ON p.id = o.ref
        WHERE o.kind = 'delivery' AND {where}
        GROUP BY {group}"""
    return await _rows(sql, as_of, as_of, as_of, *args)


def _cohort(period: Period, district_ids: Sequence[int], column: str = "registered_at",
            prefix: str = "") -> tuple[str, list[Any]]:
    place, ids = _in(f"{prefix}district", district_ids)
    return (f"{place} AND {prefix}{column} >= {{}} AND {prefix}{column} < {{}}",
            [*ids, period.since, period.until])


async def _fill(figures: dict[Any, Figures], period: Period, district_ids: Sequence[int],
                as_of: datetime, group: str) -> None:
    kinds, kind_args = _in("kind", ANSWER_KINDS)
    where, args = _cohort(period, district_ids)
    where, args = f"{where} AND {kinds}", [*args, *kind_args]
    for row in await _counts(where, args, as_of, group):
        entry = figures[row["grp"]]
        entry.received += int(row["received"])
        entry.resolved += int(row["resolved"] or 0)
        entry.open += int(row["still_open"] or 0)
        entry.overdue += int(row["overdue"] or 0)
        entry.answered_late += int(row["late"] or 0)
        entry.on_time += int(row["on_time"] or 0)
        entry.rated += int(row["rated"] or 0)
        if row["kind"] == PETITION:
            entry.petitions_on_time += int(row["on_time"] or 0)
            entry.petitions_rated += int(row["rated"] or 0)
    for grp, (median, p90) in (await _percentiles(where, args, as_of, group,
                                                  "first_response_at")).items():
        figures[grp].first_response_median_days = median
        figures[grp].first_response_p90_days = p90
    for grp, (median, p90) in (await _percentiles(where, args, as_of, group,
                                                  "resolved_at")).items():
        figures[grp].resolution_median_days = median
        figures[grp].resolution_p90_days = p90
    where, args = _cohort(period, district_ids, prefix="o.")
    for row in await _reports_disputed(where, args, f"o.{group}"):
        figures[row["grp"]].reports_fixed += int(row["fixed"])
        figures[row["grp"]].reports_disputed += int(row["disputed"] or 0)
    where, args = _cohort(period, district_ids, column="due_at", prefix="o.")
    for row in await _projects(where, args, as_of, f"o.{group}"):
        entry = figures[row["grp"]]
        entry.projects_due += int(row["due"])
        entry.projects_delivered += int(row["delivered"] or 0)
        entry.projects_on_time += int(row["on_time"] or 0)
        entry.projects_on_budget += int(row["on_budget"] or 0)


async def league(district_ids: Iterable[int], period: Period,
                 as_of: datetime | None = None) -> dict[int, Figures]:
    """Each district's figures for the period, all bodies in it together."""
    ids = list(dict.fromkeys(district_ids))
    figures: dict[Any, Figures] = defaultdict(Figures)
    if ids:
        await _fill(figures, period, ids, as_of or now(), "district")
    return {district_id: figures[district_id] for district_id in ids}


async def scorecard(district_id: int, period: Period, as_of: datetime | None = None
                    ) -> Scorecard:
    """A district's figures and its departments' (None: items the hokimiyat answers itself)."""
    as_of = as_of or now()
    card = Scorecard(district_id, period, as_of)
    card.district = (await league([district_id], period, as_of))[district_id]
    departments: dict[Any, Figures] = defaultdict(Figures)
    await _fill(departments, period, [district_id], as_of, "department")
    card.departments = dict(departments)
    return card


def ranked(figures: Mapping[int, Figures]) -> list[int]:
    """The league order: best on-time rate first; nothing to rate goes last."""
    return sorted(figures, key=lambda district_id: (
        figures[district_id].on_time_rate is None, -(figures[district_id].on_time_rate or 0),
        figures[district_id].overdue, district_id))
