"""Obligations: what a public body must answer, by when, and whether it did.

Each feature opens and moves its items' obligations from inside its own transactions (a report
is registered, a petition reaches its threshold, a proposal is submitted, a project is
selected), so an item and its clock never disagree. Everything that reads across features (the
officials' inbox, reminders, scorecards, open data) reads this table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ovoz.accountability import clock
from ovoz.accountability.tables import Obligation
from ovoz.accounts.permissions import Place
from ovoz.accounts.tables import RoleGrant
from ovoz.db import transaction
from ovoz.i18n import locale
from ovoz.notify import services as notify
from ovoz.petitions.tables import Petition
from ovoz.planning.tables import Proposal
from ovoz.reports.tables import Category, Report
from ovoz.settings import get_settings

REPORT, PETITION, PROPOSAL_REVIEW, DELIVERY = "report", "petition", "proposal_review", "delivery"
KINDS: Final = (REPORT, PETITION, PROPOSAL_REVIEW, DELIVERY)
KIND_LABELS: Final = {
    REPORT: locale.lazy("Problem report"),
    PETITION: locale.lazy("Petition"),
    PROPOSAL_REVIEW: locale.lazy("Proposal review"),
    DELIVERY: locale.lazy("Project delivery"),
}
REGION, DISTRICT, DEPARTMENT, MAHALLA = "region", "district", "department", "mahalla"
BODIES: Final = (REGION, DISTRICT, DEPARTMENT, MAHALLA)
ANSWERED, LAPSED, WITHDRAWN = "answered", "lapsed", "withdrawn"
OUTCOMES: Final = (ANSWERED, LAPSED, WITHDRAWN)
# The staff page where each kind of item is answered.
STAFF_PATHS: Final = {REPORT: "/staff/reports/{}", PETITION: "/staff/petitions/{}",
                      PROPOSAL_REVIEW: "/staff/proposals/{}", DELIVERY: "/staff/proposals/{}"}
PUBLIC_PATHS: Final = {REPORT: "/reports/{}", PETITION: "/petitions/{}",
                       PROPOSAL_REVIEW: "/proposals/{}", DELIVERY: "/proposals/{}"}

REMIND_BEFORE = timedelta(days=2)
# A reminder missed because the worker was down is still sent within this window, then dropped.
CATCH_UP = timedelta(days=7)


def now() -> datetime:
    return datetime.now(UTC)


def body_of(place: Place, mahalla_answers: bool = False) -> str:
    if place.department_id is not None:
        return DEPARTMENT
    if mahalla_answers and place.mahalla_id is not None:
        return MAHALLA
    return DISTRICT if place.district_id is not None else REGION


def _one(kind: str, ref: int) -> Any:
    return (Obligation.kind == kind) & (Obligation.ref == ref)


async def open_obligation(kind: str, ref: int, place: Place, registered_at: datetime,
                          due_at: datetime, *, mahalla_answers: bool = False) -> bool:
    """Start the clock on an item, once; returns False if it already runs."""
    assert kind in KINDS and place.region_id is not None
    added = await Obligation.insert(Obligation(
        kind=kind, ref=ref, body=body_of(place, mahalla_answers), region=place.region_id,
        district=place.district_id, mahalla=place.mahalla_id, department=place.department_id,
        registered_at=registered_at, due_at=due_at, original_due_at=due_at,
    )).on_conflict(action="DO NOTHING").returning(Obligation.id)
    return bool(added)


async def obligation(kind: str, ref: int) -> dict[str, Any] | None:
    return await Obligation.select().where(_one(kind, ref)).first()


async def obligations_of(kind: str, refs: Iterable[int]) -> dict[int, dict[str, Any]]:
    refs = list(dict.fromkeys(refs))
    if not refs:
        return {}
    rows = await Obligation.select().where((Obligation.kind == kind) & Obligation.ref.is_in(refs))
    return {row["ref"]: row for row in rows}


async def record_first_response(kind: str, ref: int, at: datetime) -> None:
    await Obligation.update({Obligation.first_response_at: at}).where(
        _one(kind, ref) & Obligation.first_response_at.is_null())


async def resolve(kind: str, ref: int, at: datetime) -> None:
    """The body answered: the clock stops (an answer is also a first response). A later
    answer (a review revised) leaves the first one's time."""
    async with transaction():
        await record_first_response(kind, ref, at)
        await Obligation.update({Obligation.resolved_at: at, Obligation.closed_at: at,
                                 Obligation.outcome: ANSWERED}).where(
            _one(kind, ref) & Obligation.resolved_at.is_null())


async def reopen(kind: str, ref: int) -> None:
    """The answer did not hold (a disputed fix): the same clock runs again."""
    await Obligation.update({Obligation.resolved_at: None, Obligation.closed_at: None,
                             Obligation.outcome: ""}).where(_one(kind, ref))


async def close(kind: str, ref: int, outcome: str, at: datetime) -> None:
    """The obligation ends without an answer: it lapsed, or the item was withdrawn."""
    assert outcome in (LAPSED, WITHDRAWN)
    await Obligation.update({Obligation.closed_at: at, Obligation.outcome: outcome}).where(
        _one(kind, ref) & Obligation.closed_at.is_null())


async def extend(kind: str, ref: int, due_at: datetime, reason: str, at: datetime) -> bool:
    """The one extension the law allows; False if the obligation was already extended."""
    moved = await Obligation.update({
        Obligation.due_at: due_at, Obligation.extended_at: at,
        Obligation.extension_reason: reason,
    }).where(_one(kind, ref) & Obligation.extended_at.is_null()).returning(Obligation.id)
    return bool(moved)


async def reschedule(kind: str, ref: int, due_at: datetime) -> None:
    """A due date set by a plan, not by the law (a cycle's voting day, a delivery date)."""
    await Obligation.update({Obligation.due_at: due_at, Obligation.original_due_at: due_at}
                            ).where(_one(kind, ref))


async def move(kind: str, ref: int, place: Place, mahalla_answers: bool = False) -> None:
    """The item went to another body (a report re-routed to a department)."""
    await Obligation.update({
        Obligation.body: body_of(place, mahalla_answers), Obligation.region: place.region_id,
        Obligation.district: place.district_id, Obligation.mahalla: place.mahalla_id,
        Obligation.department: place.department_id,
    }).where(_one(kind, ref))


# -- reading ----------------------------------------------------------------------------------

def is_overdue(row: Mapping[str, Any], at: datetime | None = None) -> bool:
    """Open past its due date, or answered after it."""
    if row["closed_at"] is None:
        return bool(row["due_at"] <= (at or now()))
    return row["outcome"] != WITHDRAWN and (
        row["resolved_at"] is None or row["resolved_at"] > row["due_at"])


async def open_overdue_count(at: datetime | None = None) -> int:
    """Obligations still open past their due moment, everywhere: for the operators' metrics."""
    return await Obligation.count().where(Obligation.closed_at.is_null()
                                          & (Obligation.due_at <= (at or now())))


def place_of(row: Mapping[str, Any]) -> Place:
    return Place(row["region"], row["district"], row["mahalla"], row["department"])


async def describe(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    """A short public description of each obligation's item, loaded one query per kind:
    `title` (or `title_names`, a category's name in every language), the item's `status`
    (and a proposal's `estimated_cost`), and its links."""
    refs: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        refs[row["kind"]].append(row["ref"])
    found: dict[tuple[str, int], dict[str, Any]] = {}
    if refs[REPORT]:
        names = {row["id"]: {"uz": row["name_uz"], "uz-Cyrl": row["name_uz_cyrl"],
                             "ru": row["name_ru"], "en": row["name_en"]}
                 for row in await Category.select()}
        for row in await Report.select(Report.id, Report.category, Report.location_text,
                                       Report.status).where(Report.id.is_in(refs[REPORT])):
            found[(REPORT, row["id"])] = {"title_names": names[row["category"]],
                                          "place": row["location_text"],
                                          "status": row["status"]}
    if refs[PETITION]:
        for row in await Petition.select(Petition.id, Petition.title, Petition.status).where(
                Petition.id.is_in(refs[PETITION])):
            found[(PETITION, row["id"])] = {"title": row["title"], "status": row["status"]}
    proposal_ids = refs[PROPOSAL_REVIEW] + refs[DELIVERY]
    if proposal_ids:
        proposals = {row["id"]: row for row in await Proposal.select(
            Proposal.id, Proposal.title, Proposal.status, Proposal.estimated_cost).where(
            Proposal.id.is_in(proposal_ids))}
        for kind in (PROPOSAL_REVIEW, DELIVERY):
            for ref in refs[kind]:
                if ref in proposals:
                    found[(kind, ref)] = {"title": proposals[ref]["title"],
                                          "status": proposals[ref]["status"],
                                          "estimated_cost": proposals[ref]["estimated_cost"]}
    base = get_settings().base_url
    for (kind, ref), item in found.items():
        item["staff_link"] = base + STAFF_PATHS[kind].format(ref)
        item["public_path"] = PUBLIC_PATHS[kind].format(ref)
    return found


def title_of(item: Mapping[str, Any], language: str | None = None) -> str:
    if "title_names" in item:
        names = item["title_names"]
        return str(names.get(language or locale.current_language()) or names["uz"])
    return str(item.get("title", ""))


# -- who answers, and who is told when they do not -------------------------------------------

@dataclass(frozen=True, slots=True)
class _OfficialGrant:
    staff: int
    region: int | None
    district: int | None
    department: int | None


async def _official_grants(region_ids: Iterable[int]) -> list[_OfficialGrant]:
    region_ids = list(set(region_ids))
    if not region_ids:
        return []
    rows = await RoleGrant.select(RoleGrant.staff, RoleGrant.region, RoleGrant.district,
                                  RoleGrant.department_id).where(
        RoleGrant.revoked_at.is_null() & (RoleGrant.role == "official")
        & RoleGrant.region.is_in(region_ids))
    return [_OfficialGrant(row["staff"], row["region"], row["district"], row["department_id"])
            for row in rows]


def responsible(row: Mapping[str, Any], grants: Sequence[_OfficialGrant]) -> list[int]:
    """The officials who answer: the department's own when it has any, else the district's
    district-wide officials (a mahalla's items too), else the region's for a regional item."""
    if row["department"] is not None:
        own = {g.staff for g in grants if g.department == row["department"]}
        if own:
            return sorted(own)
    if row["district"] is not None:
        return sorted({g.staff for g in grants
                       if g.district == row["district"] and g.department is None})
    return sorted({g.staff for g in grants
                   if g.region == row["region"] and g.district is None})


def supervisors(row: Mapping[str, Any], grants: Sequence[_OfficialGrant]) -> list[int]:
    """One level up from who answers: the hokimiyat over its department, the regional
    hokimiyat over a district (or a mahalla)."""
    if row["department"] is not None:
        district_wide = {g.staff for g in grants
                         if g.district == row["district"] and g.department is None}
        if district_wide and not set(responsible(row, grants)) >= district_wide:
            return sorted(district_wide)
    if row["district"] is not None:
        return sorted({g.staff for g in grants
                       if g.region == row["region"] and g.district is None})
    return []


async def remind_due(at: datetime | None = None) -> int:
    """Tell the responsible officials two days before an answer is due and on the day it
    passes, and their supervisors once it has been overdue `escalate_after_days`. Each message
    goes once per due date (an extension earns new ones); returns how many were queued."""
    at = at or now()
    escalate_after = timedelta(days=get_settings().escalate_after_days)
    rows = await Obligation.select().where(
        Obligation.closed_at.is_null() & (Obligation.due_at <= at + REMIND_BEFORE)
        & (Obligation.due_at > at - escalate_after - CATCH_UP))
    if not rows:
        return 0
    items = await describe(rows)
    grants = await _official_grants(row["region"] for row in rows)
    queued = 0
    for row in rows:
        item = items.get((row["kind"], row["ref"]))
        if item is None:
            continue
        due = row["due_at"]
        day = clock.last_day(due).isoformat()
        payload = {"date_day": day, "link": item["staff_link"]} | (
            {"title_names": item["title_names"]} if "title_names" in item
            else {"title": item["title"]})
        if due > at:
            template, staff_ids = "obligation.due_soon", responsible(row, grants)
        elif at - due < CATCH_UP:
            template, staff_ids = "obligation.overdue", responsible(row, grants)
        else:
            template, staff_ids = "", []
        if escalate_after <= at - due:
            for staff_id in supervisors(row, grants):
                queued += await notify.enqueue(
                    f"obligation:{row['id']}:escalated:{day}:{staff_id}", "staff", staff_id,
                    "obligation.escalated", payload)
        for staff_id in staff_ids:
            queued += await notify.enqueue(
                f"obligation:{row['id']}:{template}:{day}:{staff_id}", "staff", staff_id,
                template, payload)
    return queued
