"""Scorecards: how well each district hokimiyat and department answers, for a period.

The period's cohort is every obligation registered in it; what became of them is counted as
of a moment (now, or when an accountability report froze them). Counts and the nearest-rank
median and 90th percentile are computed by the database in a few grouped queries, so a page
stays fast with hundreds of thousands of obligations.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime
from typing import Any, Final, Literal

from piccolo.engine.postgres import PostgresEngine

from ovoz.accountability import clock
from ovoz.accountability.services import (
    DELIVERY,
    LAPSED,
    PETITION,
    PROPOSAL_REVIEW,
    REPORT,
    WITHDRAWN,
    now,
)
from ovoz.accountability.tables import Obligation
from ovoz.db import current_engine
from ovoz.pagination import MAX_PER_PAGE, Page

# Answers to residents: a project's delivery takes months and is scored on its own.
ANSWER_KINDS: Final = (REPORT, PETITION, PROPOSAL_REVIEW)
# A longer period is refused: its figures would hide what changed within it.
LONGEST_PERIOD_MONTHS: Final = 24
# Days a period may be given for: a date outside is a typing mistake, not a period.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
# In `late()`, the items the district hokimiyat answers itself rather than a department.
HOKIMIYAT: Final = "hokimiyat"


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


def quarters_until(day: date, count: int) -> list[Period]:
    """The quarter of `day` and the `count - 1` before it, the latest first."""
    found = [quarter_of(day)]
    while len(found) < count:
        found.append(quarter_of(date.fromordinal(found[-1].start.toordinal() - 1)))
    return found


class PeriodError(ValueError):
    """A period asked for that cannot be counted; `field` is "from" or "to"."""

    def __init__(self, code: str, field: str) -> None:
        super().__init__(code)
        self.code = code
        self.field = field


def _day(text: str, name: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise PeriodError("bad_date", name) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise PeriodError("bad_date", name)
    return day


def period_from_query(start: str | None, end: str | None, today: date) -> Period:
    """The period a page or the API is asked for with ?from=&to= (ISO days, both included):
    the current quarter when neither is given, until today when only `from` is."""
    start, end = (start or "").strip(), (end or "").strip()
    if not start and not end:
        return quarter_of(today)
    if not start:
        raise PeriodError("no_start", "from")
    first = _day(start, "from")
    last = _day(end, "to") if end else max(today, first)
    if last < first:
        raise PeriodError("reversed", "to")
    if last >= clock.add_months(first, LONGEST_PERIOD_MONTHS):
        raise PeriodError("too_long", "to")
    return Period(first, last)


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


def _on_postgres() -> bool:
    return isinstance(current_engine(), PostgresEngine)


def _days(later: str, earlier: str) -> str:
    if _on_postgres():
        # date_part gives a double; EXTRACT a numeric, several times slower to sort.
        return f"date_part('epoch', {later} - {earlier}) / 86400"
    return f"(julianday({later}) - julianday({earlier}))"


def _obligations(alias: str = "") -> str:
    """The table, for a query that reads most of a period's rows: SQLite would otherwise
    fetch each row through an index on a date, several times slower than reading it all."""
    table = f"accountability_obligation {alias}".strip()
    return table if _on_postgres() else f"{table} NOT INDEXED"


def _in(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    return f"{column} IN ({', '.join('{}' for _ in values)})", list(values)


async def _rows(sql: str, *args: Any) -> list[dict[str, Any]]:
    return list(await Obligation.raw(sql, *args))


# Percentiles named as _counts gives them on PostgreSQL: (column, moment, share).
PERCENTILES: Final = (
    ("first_response_median", "first_response_at", 0.5),
    ("first_response_p90", "first_response_at", 0.9),
    ("resolution_median", "resolved_at", 0.5),
    ("resolution_p90", "resolved_at", 0.9),
)


async def _counts(where: str, args: list[Any], as_of: datetime, group: str,
                  counted: bool = True) -> list[dict[str, Any]]:
    """Each group's counts, unless `counted` is false; on PostgreSQL its percentiles too, in
    the same pass (the nearest rank, as _percentiles computes it, is what percentile_disc
    gives)."""
    answered = "resolved_at IS NOT NULL AND resolved_at <= {}"
    is_open = "(closed_at IS NULL OR closed_at > {})"
    on_time = f"{answered} AND resolved_at <= due_at"
    rated = f"(({answered}) OR (due_at <= {{}} AND outcome <> 'withdrawn'))"
    petition = f"kind = '{PETITION}' AND "
    columns = [] if not counted else [
        "COUNT(*) AS received",
        f"SUM(CASE WHEN {answered} THEN 1 ELSE 0 END) AS resolved",
        f"SUM(CASE WHEN {is_open} THEN 1 ELSE 0 END) AS still_open",
        f"SUM(CASE WHEN {is_open} AND due_at <= {{}} THEN 1 ELSE 0 END) AS overdue",
        f"SUM(CASE WHEN {answered} AND resolved_at > due_at THEN 1 ELSE 0 END) AS late",
        f"SUM(CASE WHEN {on_time} THEN 1 ELSE 0 END) AS on_time",
        f"SUM(CASE WHEN {rated} THEN 1 ELSE 0 END) AS rated",
        f"SUM(CASE WHEN {petition}{on_time} THEN 1 ELSE 0 END) AS petitions_on_time",
        f"SUM(CASE WHEN {petition}{rated} THEN 1 ELSE 0 END) AS petitions_rated",
    ]
    if _on_postgres():
        columns += [f"percentile_disc({share}) WITHIN GROUP (ORDER BY "
                    f"{_days(moment, 'registered_at')}) FILTER (WHERE {moment} <= {{}}) "
                    f"AS {name}" for name, moment, share in PERCENTILES]
    selected = ", ".join(columns)
    sql = (f"SELECT {group} AS grp, {selected} FROM {_obligations()} WHERE {where} "
           f"GROUP BY {group}")
    return await _rows(sql, *[as_of] * selected.count("{}"), *args)


async def _percentiles(where: str, args: list[Any], as_of: datetime, group: str,
                       moment: str) -> dict[Any, tuple[float, float]]:
    """Nearest-rank median and 90th percentile of days from registration to `moment`."""
    days = _days(moment, "registered_at")
    sql = f"""
        SELECT grp, rn, n, days FROM (
          SELECT grp, days, ROW_NUMBER() OVER (PARTITION BY grp ORDER BY days) AS rn,
                 COUNT(*) OVER (PARTITION BY grp) AS n
          FROM (SELECT {group} AS grp, {days} AS days FROM {_obligations()}
                WHERE {where} AND {moment} IS NOT NULL AND {moment} <= {{}}) AS measured
        ) AS ranked
        WHERE rn = (n + 1) / 2 OR rn = (9 * n + 9) / 10"""
    found: dict[Any, dict[str, float]] = defaultdict(dict)
    for row in await _rows(sql, *args, as_of):
        n, rn = int(row["n"]), int(row["rn"])
        value = _rounded_days(row["days"])
        if rn == (n + 1) // 2:
            found[row["grp"]]["median"] = value
        if rn == (9 * n + 9) // 10:
            found[row["grp"]]["p90"] = value
    return {grp: (values["median"], values["p90"]) for grp, values in found.items()}


def _rounded_days(value: Any) -> float:
    return round(float(value), 2)


async def _reports_disputed(where: str, args: list[Any], group: str) -> list[dict[str, Any]]:
    """Reports of the cohort ever marked fixed, and those a resident said were not."""
    # Joined to the few disputed reports at once: a lookup per fixed report costs more.
    sql = f"""
        SELECT {group} AS grp, COUNT(*) AS fixed, COUNT(d.report) AS disputed
        FROM {_obligations('o')} JOIN reports_report r ON r.id = o.ref
        LEFT JOIN (SELECT DISTINCT report FROM reports_fix_feedback WHERE fixed = {{}}) AS d
          ON d.report = r.id
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
        FROM {_obligations('o')} JOIN planning_proposal p ON p.id = o.ref
        WHERE o.kind = 'delivery' AND {where}
        GROUP BY {group}"""
    return await _rows(sql, as_of, as_of, as_of, *args)


def _cohort(period: Period, district_ids: Sequence[int], column: str = "registered_at",
            prefix: str = "") -> tuple[str, list[Any]]:
    place, ids = _in(f"{prefix}district", district_ids)
    return (f"{place} AND {prefix}{column} >= {{}} AND {prefix}{column} < {{}}",
            [*ids, period.since, period.until])


async def _fill(figures: dict[Any, Figures], period: Period, district_ids: Sequence[int],
                as_of: datetime, group: str, counted: bool = True) -> None:
    """Each group's figures; only the percentiles when not `counted`."""
    kinds, kind_args = _in("kind", ANSWER_KINDS)
    where, args = _cohort(period, district_ids)
    where, args = f"{where} AND {kinds}", [*args, *kind_args]
    if counted or _on_postgres():
        await _fill_counts(figures, where, args, as_of, group, counted)
    if not _on_postgres():
        for grp, (median, p90) in (await _percentiles(where, args, as_of, group,
                                                      "first_response_at")).items():
            figures[grp].first_response_median_days = median
            figures[grp].first_response_p90_days = p90
        for grp, (median, p90) in (await _percentiles(where, args, as_of, group,
                                                      "resolved_at")).items():
            figures[grp].resolution_median_days = median
            figures[grp].resolution_p90_days = p90
    if not counted:
        return
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


async def _fill_counts(figures: dict[Any, Figures], where: str, args: list[Any],
                       as_of: datetime, group: str, counted: bool) -> None:
    for row in await _counts(where, args, as_of, group, counted):
        entry = figures[row["grp"]]
        for name, _, _ in PERCENTILES:
            if row.get(name) is not None:
                setattr(entry, f"{name}_days", _rounded_days(row[name]))
        if not counted:
            continue
        entry.received = int(row["received"])
        entry.resolved = int(row["resolved"] or 0)
        entry.open = int(row["still_open"] or 0)
        entry.overdue = int(row["overdue"] or 0)
        entry.answered_late = int(row["late"] or 0)
        entry.on_time = int(row["on_time"] or 0)
        entry.rated = int(row["rated"] or 0)
        entry.petitions_on_time = int(row["petitions_on_time"] or 0)
        entry.petitions_rated = int(row["petitions_rated"] or 0)


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
    departments: dict[Any, Figures] = defaultdict(Figures)
    await _fill(departments, period, [district_id], as_of, "department")
    card.departments = dict(departments)
    # Counts add up over the bodies; percentiles do not, and are taken for the whole.
    whole: dict[Any, Figures] = {district_id: _summed(card.departments.values())}
    await _fill(whole, period, [district_id], as_of, "district", counted=False)
    card.district = whole[district_id]
    return card


COUNTS: Final = tuple(item.name for item in fields(Figures) if item.type == "int")


def _summed(parts: Iterable[Figures]) -> Figures:
    total = Figures()
    for part in parts:
        for name in COUNTS:
            setattr(total, name, getattr(total, name) + getattr(part, name))
    return total


def ranked(figures: Mapping[int, Figures]) -> list[int]:
    """The league order: best on-time rate first; nothing to rate goes last."""
    return sorted(figures, key=lambda district_id: (
        figures[district_id].on_time_rate is None, -(figures[district_id].on_time_rate or 0),
        figures[district_id].overdue, district_id))


# A department's id, HOKIMIYAT for the items the hokimiyat answers itself, or None for all.
DepartmentChoice = int | Literal["hokimiyat"] | None


def _late_where(district_id: int, period: Period, as_of: datetime, kind: str | None,
                department: DepartmentChoice) -> tuple[str, list[Any]]:
    """The cohort's items whose due date passed unanswered, as of `as_of`: the answers
    registered in the period and the projects due in it, as the figures count them."""
    answers, kinds = _in("kind", ANSWER_KINDS)
    where = (f"district = {{}} AND (({answers} AND registered_at >= {{}} "
             f"AND registered_at < {{}}) OR (kind = '{DELIVERY}' AND due_at >= {{}} "
             f"AND due_at < {{}})) AND due_at <= {{}} AND outcome <> '{WITHDRAWN}' "
             "AND (resolved_at IS NULL OR resolved_at > {} OR resolved_at > due_at)")
    args = [district_id, *kinds, period.since, period.until, period.since, period.until,
            as_of, as_of]
    if kind is not None:
        where, args = f"{where} AND kind = {{}}", [*args, kind]
    if department == HOKIMIYAT:
        where = f"{where} AND department IS NULL"
    elif department is not None:
        where, args = f"{where} AND department = {{}}", [*args, department]
    return where, args


def _late_item(row: dict[str, Any], as_of: datetime) -> dict[str, Any]:
    """The row with its `state` (overdue, answered_late or lapsed) and `days_late`: whole
    days past the due date, at least one, until the answer or, while open, until `as_of`;
    None for an item that lapsed unanswered."""
    resolved = row["resolved_at"] if row["resolved_at"] and row["resolved_at"] <= as_of \
        else None
    if resolved is None and row["outcome"] == LAPSED and row["closed_at"] <= as_of:
        return {**row, "state": "lapsed", "days_late": None}
    days = math.floor(clock.days_between(row["due_at"], resolved or as_of))
    return {**row, "state": "answered_late" if resolved else "overdue",
            "days_late": max(days, 1)}


async def late(district_id: int, period: Period, as_of: datetime | None = None, *,
               kind: str | None = None, department: DepartmentChoice = None,
               number: int = 1, per_page: int = 20) -> Page:
    """The district's items of the period answered late or not at all, the latest due first:
    what its on-time rate does not count as on time (see _late_item for each item's state)."""
    as_of = as_of or now()
    where, args = _late_where(district_id, period, as_of, kind, department)
    total = int((await _rows(f"SELECT COUNT(*) AS n FROM {_obligations()} WHERE {where}",
                             *args))[0]["n"])
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    # A page past the end (an old link to a list that has shrunk) shows the last page.
    number = min(max(1, number), max(1, -(-total // per_page)))
    rows = await _rows(f"SELECT * FROM {_obligations()} WHERE {where} "
                       "ORDER BY due_at DESC, id DESC LIMIT {} OFFSET {}",
                       *args, per_page, (number - 1) * per_page)
    return Page(items=[_late_item(row, as_of) for row in rows], number=number,
                per_page=per_page, total=total)
