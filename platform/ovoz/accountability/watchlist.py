"""NGO monitors' watchlists: the pilot districts and the public items (problem reports,
petitions, project proposals) a monitor keeps an eye on, and what the monitor's dashboard reads
about them: each item's clock, and the districts' published reports and assessments.

A watchlist is the monitor's own working list, not a public act, so it is not written to the
ledger. A monitor may watch only what its grants cover: a regional monitor its region.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ovoz.accountability import periodic
from ovoz.accountability import services as obligations
from ovoz.accountability.tables import Assessment, Watch
from ovoz.accounts.permissions import Action, Place, StaffMember, require
from ovoz.db import transaction
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.pagination import Page, paginate
from ovoz.petitions import services as petitions
from ovoz.planning import services as planning
from ovoz.reports import services as reports
from ovoz.web.opendata import MAX_ID

DISTRICT, REPORT, PETITION, PROPOSAL = "district", "report", "petition", "proposal"
KINDS: Final = (DISTRICT, REPORT, PETITION, PROPOSAL)
ITEM_KINDS: Final = (REPORT, PETITION, PROPOSAL)
KIND_LABELS: Final = {
    DISTRICT: locale.lazy("District"),
    REPORT: obligations.KIND_LABELS[obligations.REPORT],
    PETITION: obligations.KIND_LABELS[obligations.PETITION],
    PROPOSAL: locale.lazy("Project proposal"),
}
# What each obligation is watched as: a proposal through its review and, once selected, its
# delivery.
WATCHED_AS: Final = {obligations.REPORT: REPORT, obligations.PETITION: PETITION,
                     obligations.PROPOSAL_REVIEW: PROPOSAL, obligations.DELIVERY: PROPOSAL}
# The obligation kinds of each watched kind, the later one winning when both exist.
CLOCKS: Final = {REPORT: (obligations.REPORT,), PETITION: (obligations.PETITION,),
                 PROPOSAL: (obligations.PROPOSAL_REVIEW, obligations.DELIVERY)}

# Where a watched item stands against its clock.
OVERDUE, OPEN, ON_TIME, LATE, LAPSED, WITHDRAWN, NOT_DUE = (
    "overdue", "open", "on_time", "late", "lapsed", "withdrawn", "not_due")


class WatchError(ValueError):
    """bad_kind (field kind); not_found, not_public, not_pilot (field ref)."""

    def __init__(self, code: str, field: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.field = field


def _checked_kind(kind: str) -> None:
    if kind not in KINDS:
        raise WatchError("bad_kind", "kind")


async def _district_place(district_id: int) -> Place:
    if not await geo.is_pilot(district_id):
        raise WatchError("not_pilot", "ref")
    district = await geo.district(district_id)
    if district is None:
        raise WatchError("not_found", "ref")
    return Place(district["region"], district_id)


async def place_of(kind: str, ref: int) -> Place:
    """Where a watchable district or public item is; WatchError when there is none."""
    _checked_kind(kind)
    # Larger numbers are no id (and would overflow PostgreSQL's integer).
    if not 0 < ref <= MAX_ID:
        raise WatchError("not_found", "ref")
    if kind == DISTRICT:
        return await _district_place(ref)
    if kind == REPORT:
        report = await reports.report(ref)
        if report is None:
            raise WatchError("not_found", "ref")
        # A report is public once sent: only its author's name may be hidden.
        return await reports.place_of(report)
    if kind == PETITION:
        petition = await petitions.petition(ref)
        if petition is None:
            raise WatchError("not_found", "ref")
        if petition["status"] not in petitions.PUBLIC_STATUSES:
            raise WatchError("not_public", "ref")
        return Place(petition["region"], petition["district"], petition["mahalla"])
    proposal = await planning.proposal(ref)
    if proposal is None:
        raise WatchError("not_found", "ref")
    if proposal["status"] not in planning.PUBLIC_PROPOSAL_STATUSES:
        raise WatchError("not_public", "ref")
    district = await geo.district(proposal["cycle.district"])
    assert district is not None
    return Place(district["region"], district["id"], proposal["mahalla"])


def _entry(staff_id: int, kind: str, ref: int) -> Any:
    return (Watch.staff == staff_id) & (Watch.kind == kind) & (Watch.ref == ref)


async def watch(staff: StaffMember, kind: str, ref: int) -> bool:
    """Put a pilot district or a public item on the monitor's watchlist; False when it was
    on it already (the unique index keeps one entry, also when two requests race)."""
    async with transaction():
        require(staff, Action.MONITOR, await place_of(kind, ref))
        added = await Watch.insert(Watch(
            staff=staff.id, kind=kind, ref=ref, created_at=obligations.now(),
        )).on_conflict(action="DO NOTHING").returning(Watch.id)
    return bool(added)


async def unwatch(staff: StaffMember, kind: str, ref: int) -> bool:
    """Take an entry off the monitor's own watchlist; False when it was not on it. No place
    is checked: dropping one's own entry is allowed even where one's grants no longer reach,
    or once the item is gone."""
    _checked_kind(kind)
    async with transaction():
        removed = await Watch.delete().where(_entry(staff.id, kind, ref)).returning(Watch.id)
    return bool(removed)


# -- reading ----------------------------------------------------------------------------------

async def watched_keys(staff_id: int) -> set[tuple[str, int]]:
    """Everything on the monitor's watchlist, as (kind, ref)."""
    rows = await Watch.select(Watch.kind, Watch.ref).where(Watch.staff == staff_id)
    return {(row["kind"], row["ref"]) for row in rows}


async def watched_items(staff_id: int, number: int, per_page: int) -> Page:
    """The monitor's watched items (not districts), the latest added first."""
    where = (Watch.staff == staff_id) & Watch.kind.is_in(list(ITEM_KINDS))
    return await paginate(
        Watch.select().where(where).order_by(Watch.created_at, ascending=False)
        .order_by(Watch.id, ascending=False),
        Watch.count().where(where), number, per_page)


def state_of(clock: Mapping[str, Any] | None, at: datetime) -> str:
    """Where an item stands: no clock yet (a petition still collecting signatures), open and
    due or overdue, answered on time or late, never answered (lapsed), or withdrawn."""
    if clock is None:
        return NOT_DUE
    if clock["closed_at"] is None:
        return OVERDUE if obligations.is_overdue(clock, at) else OPEN
    if clock["outcome"] == obligations.WITHDRAWN:
        return WITHDRAWN
    if clock["resolved_at"] is None:
        return LAPSED
    return LATE if clock["resolved_at"] > clock["due_at"] else ON_TIME


async def with_clocks(rows: Sequence[Mapping[str, Any]], at: datetime
                      ) -> list[dict[str, Any]]:
    """Each watched item with its obligation (`clock`, None before one runs), its public
    description (`item`, None once it is gone: see services.describe) and its `state`."""
    refs: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        refs[row["kind"]].append(row["ref"])
    clocks: dict[tuple[str, int], dict[str, Any]] = {}
    for kind, clock_kinds in CLOCKS.items():
        for clock_kind in clock_kinds:
            for ref, clock in (await obligations.obligations_of(clock_kind, refs[kind])).items():
                clocks[(kind, ref)] = clock
    # An item without a clock is described as the kind of its first one.
    keys = [clocks.get((row["kind"], row["ref"]))
            or {"kind": CLOCKS[row["kind"]][0], "ref": row["ref"]} for row in rows]
    described = await obligations.describe(keys)
    found = []
    for row, key in zip(rows, keys, strict=True):
        clock = clocks.get((row["kind"], row["ref"]))
        found.append({**row, "clock": clock, "item": described.get((key["kind"], key["ref"])),
                      "state": state_of(clock, at)})
    return found


@dataclass(frozen=True, slots=True)
class ReportCounts:
    published: int = 0
    assessed: int = 0


async def report_counts(staff_id: int, district_ids: Iterable[int]
                        ) -> dict[int, ReportCounts]:
    """Per district, its published accountability reports (the current version of each
    period: a correction awaits a new assessment) and how many this monitor has assessed."""
    current = [row for row in await periodic.reports_of(list(district_ids))
               if row["status"] == periodic.PUBLISHED]
    assessed = set(await Assessment.select(Assessment.report).where(
        (Assessment.monitor == staff_id)
        & Assessment.report.is_in([row["id"] for row in current] or [0])).output(as_list=True))
    published: dict[int, int] = defaultdict(int)
    mine: dict[int, int] = defaultdict(int)
    for row in current:
        published[row["district"]] += 1
        mine[row["district"]] += row["id"] in assessed
    return {district_id: ReportCounts(published[district_id], mine[district_id])
            for district_id in published}
