"""Participatory budgeting: a district's cycle from proposals to delivered projects.

A cycle's phase follows from its dates alone, so every page and every ballot sees the right
phase the moment it starts; `advance` then does, once per phase, what the start of a phase
entails (moving proposals, computing and publishing results), and catches up after downtime.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any, Final, Literal

from piccolo.engine.postgres import PostgresEngine
from piccolo.query.functions.aggregate import Count

from ovoz import ledger
from ovoz.accountability import clock
from ovoz.accountability import services as accountability
from ovoz.accounts.permissions import Action, Place, StaffMember, require
from ovoz.accounts.services import public_name, verification_levels
from ovoz.accounts.services import resident as resident_row
from ovoz.db import current_engine, transaction
from ovoz.geo import services as geo
from ovoz.geo.tables import District
from ovoz.i18n import locale
from ovoz.notify import services as notify
from ovoz.outliers import far_above
from ovoz.pagination import Page, paginate
from ovoz.planning import pabulib, tally
from ovoz.planning.tables import (
    Ballot,
    BallotChoice,
    Cycle,
    DeliveryComment,
    DeliveryUpdate,
    MahallaBudget,
    Photo,
    Proposal,
    Result,
)
from ovoz.reports import storage
from ovoz.reports.photos import ProcessedPhoto
from ovoz.settings import get_settings
from ovoz.store.services import hit

UPCOMING, PROPOSALS, REVIEW, VOTING, RESULTS, IMPLEMENTATION = (
    "upcoming", "proposals", "review", "voting", "results", "implementation")
PHASES = (UPCOMING, PROPOSALS, REVIEW, VOTING, RESULTS, IMPLEMENTATION)
PHASE_LABELS = {
    UPCOMING: locale.lazy("Not started yet"),
    PROPOSALS: locale.lazy("Proposals"),
    REVIEW: locale.lazy("Review"),
    VOTING: locale.lazy("Voting"),
    RESULTS: locale.lazy("Results"),
    IMPLEMENTATION: locale.lazy("Implementation"),
}
# The date column on which each phase starts.
PHASE_STARTS = {PROPOSALS: "proposals_from", REVIEW: "review_from", VOTING: "voting_from",
                RESULTS: "results_from", IMPLEMENTATION: "implementation_from"}

APPROVAL, KNAPSACK = "approval", "knapsack"
BALLOT_RULES = {
    APPROVAL: locale.lazy("Choose up to a set number of projects"),
    KNAPSACK: locale.lazy("Choose projects whose costs add up to no more than the budget"),
}
GREEDY, EQUAL_SHARES = "greedy", "mes"
SELECTION_RULES = {
    GREEDY: locale.lazy("Most votes first, while the money lasts"),
    EQUAL_SHARES: locale.lazy("Method of Equal Shares: every voter's share of the budget counts"),
}

SUBMITTED, IN_REVIEW, FEASIBLE, INFEASIBLE = "submitted", "in_review", "feasible", "infeasible"
MERGED, WITHDRAWN, NOT_REVIEWED = "merged", "withdrawn", "not_reviewed"
ON_BALLOT, SELECTED, NOT_SELECTED = "on_ballot", "selected", "not_selected"
PROPOSAL_STATUSES = {
    SUBMITTED: locale.lazy("Submitted"),
    IN_REVIEW: locale.lazy("Being reviewed"),
    FEASIBLE: locale.lazy("Feasible"),
    INFEASIBLE: locale.lazy("Not feasible"),
    MERGED: locale.lazy("Merged into another proposal"),
    WITHDRAWN: locale.lazy("Withdrawn"),
    NOT_REVIEWED: locale.lazy("Not reviewed in time"),
    ON_BALLOT: locale.lazy("On the ballot"),
    SELECTED: locale.lazy("Selected"),
    NOT_SELECTED: locale.lazy("Not selected"),
}
PUBLIC_PROPOSAL_STATUSES = tuple(s for s in PROPOSAL_STATUSES if s != WITHDRAWN)
PLANNED, PROCUREMENT, IN_PROGRESS, COMPLETED, CANCELLED = (
    "planned", "procurement", "in_progress", "completed", "cancelled")
DELIVERY_STATUSES = {
    PLANNED: locale.lazy("Planned"),
    PROCUREMENT: locale.lazy("Procurement"),
    IN_PROGRESS: locale.lazy("Being built"),
    COMPLETED: locale.lazy("Completed"),
    CANCELLED: locale.lazy("Cancelled"),
}
CATEGORIES = {
    "roads": locale.lazy("Roads and pavements"),
    "water": locale.lazy("Water and sewage"),
    "lighting": locale.lazy("Street lighting"),
    "education": locale.lazy("Schools and kindergartens"),
    "health": locale.lazy("Health"),
    "sport": locale.lazy("Sport and play"),
    "culture": locale.lazy("Culture and public spaces"),
    "environment": locale.lazy("Greenery and waste"),
    "other": locale.lazy("Other"),
}
# Why a project won or lost, in the words of the count (tally.Verdict.reason).
RESULT_REASONS = {
    "most_votes": locale.lazy(
        "Selected: with %(votes)s votes it came in its turn, and its cost of %(cost)s soums fit "
        "in the %(left)s soums left."),
    "no_money_left": locale.lazy(
        "Not selected: when its turn came (%(votes)s votes), only %(left)s soums were left, less "
        "than its cost of %(cost)s soums."),
    "leftover": locale.lazy(
        "Selected: no one voted for it, but its cost of %(cost)s soums fit in the %(left)s soums "
        "left over."),
    "over_budget": locale.lazy("Not selected: it costs more than the whole budget."),
    "equal_shares": locale.lazy(
        "Selected in round %(round)s: its %(votes)s supporters paid for it from their equal "
        "shares, at most %(payment)s soums each."),
    "free": locale.lazy("Selected: it costs nothing."),
    "no_votes": locale.lazy("Not selected: no one voted for it."),
    "too_few_supporters": locale.lazy(
        "Not selected: its %(votes)s supporters hold %(share)s soums each, %(money)s soums in "
        "all, less than its cost of %(cost)s soums."),
    "shares_spent": locale.lazy(
        "Not selected: its supporters' shares were spent on other projects they also supported, "
        "and what they had left did not cover its cost."),
    "completion": locale.lazy(
        "Selected with the money left over after the equal shares: %(votes)s votes, and its "
        "cost of %(cost)s soums fit in the %(left)s soums left."),
}

TITLE_MIN, TITLE_MAX = 10, 150
TEXT_MIN, TEXT_MAX = 30, 4000
COMMENT_MIN, COMMENT_MAX = 3, 1000
MAX_PHOTOS = 3
MAX_BUDGET = 10**15
MAX_CHOICES = 50
# Ballot changes per account in ten minutes: people change their minds, scripts hammer.
BALLOT_CHANGES = 20
COMMENTS_PER_HOUR = 10
IMPORT_BATCH = 500
# "add1" completion raises every voter's share 1,000 soums at a time: one soum at a time would
# mean hundreds of thousands of recounts for nothing a voter would notice.
COMPLETION_STEP = 1000
# A selected project is due a year after implementation starts, until an official says when.
DELIVERY_YEAR = timedelta(days=365)

ErrorCode = Literal[
    "not_found", "bad_title", "bad_description", "bad_budget", "bad_ballot_rule",
    "bad_max_choices", "bad_selection_rule", "bad_satisfaction", "bad_completion", "bad_dates",
    "bad_mahalla_budgets", "bad_category", "bad_mahalla", "bad_point", "bad_cost", "bad_photos",
    "not_verified", "no_home", "outside_district", "wrong_phase", "not_author", "bad_decision",
    "bad_reason", "bad_merge", "bad_choice", "too_many_choices", "over_budget", "no_choice",
    "too_many", "bad_status", "bad_progress", "bad_spent", "bad_comment", "bad_due_date",
    "finished", "not_selected", "no_results", "choose_mahalla", "not_reviewed",
]


class PlanningError(ValueError):
    """A broken rule; `code` is stable for forms and the API, `field` names the form field."""

    def __init__(self, code: ErrorCode, field: str = "", retry_after: int = 0) -> None:
        super().__init__(code)
        self.code: ErrorCode = code
        self.field = field
        self.retry_after = retry_after


def now() -> datetime:
    return datetime.now(UTC)


def cycle_subject(cycle_id: int) -> str:
    return f"cycle:{cycle_id}"


def proposal_subject(proposal_id: int) -> str:
    return f"proposal:{proposal_id}"


def cycle_link(cycle_id: int) -> str:
    return f"{get_settings().base_url}/cycles/{cycle_id}"


def proposal_link(proposal_id: int) -> str:
    return f"{get_settings().base_url}/proposals/{proposal_id}"


def _clean(text: str) -> str:
    return "\n".join(" ".join(line.split()) for line in text.strip().splitlines()).strip()


def search_text(*parts: str) -> str:
    keys = [geo.search_keys(part) for part in parts]
    return " ".join(latin for latin, _ in keys) + " | " + " ".join(cyr for _, cyr in keys)


# -- phases -----------------------------------------------------------------------------------

def starts_at(day: date) -> datetime:
    """A phase starts at midnight in Tashkent on its date."""
    return datetime.combine(day, time(), tzinfo=locale.TASHKENT).astimezone(UTC)


def phase_of(cycle: Mapping[str, Any], at: datetime | None = None) -> str:
    at = at or now()
    reached = UPCOMING
    for phase, column in PHASE_STARTS.items():
        if at >= starts_at(cycle[column]):
            reached = phase
    return reached


def phase_ends(cycle: Mapping[str, Any], phase: str) -> datetime | None:
    """When a phase ends: the start of the next one (implementation never ends)."""
    index = PHASES.index(phase)
    if index + 1 >= len(PHASES):
        return None
    return starts_at(cycle[PHASE_STARTS[PHASES[index + 1]]])


async def cycle_place(cycle: Mapping[str, Any]) -> Place:
    district = await geo.district(cycle["district"])
    return Place(district["region"] if district else None, cycle["district"])


async def _require(staff: StaffMember, action: Action, cycle: Mapping[str, Any]) -> None:
    require(staff, action, await cycle_place(cycle))


# -- cycles -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CycleForm:
    district_id: int
    title: str
    description: str
    budget: int
    ballot_rule: str
    max_choices: int | None
    selection_rule: str
    satisfaction: str
    completion: str
    show_running_totals: bool
    proposals_from: date
    review_from: date
    voting_from: date
    results_from: date
    implementation_from: date
    # Sub-budgets by mahalla id; empty for one district-wide budget.
    mahalla_budgets: Mapping[int, int] = field(default_factory=dict)


def _dates(form: CycleForm) -> list[date]:
    return [form.proposals_from, form.review_from, form.voting_from, form.results_from,
            form.implementation_from]


def _in_order(days: Sequence[date]) -> bool:
    """Each phase at least a day long; implementation may start the day results do."""
    return all(earlier < later for earlier, later in pairwise(days[:4])) and days[4] >= days[3]


async def _checked_cycle(form: CycleForm) -> CycleForm:
    title = _clean(form.title)
    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        raise PlanningError("bad_title", "title")
    if form.ballot_rule not in BALLOT_RULES:
        raise PlanningError("bad_ballot_rule", "ballot_rule")
    if form.ballot_rule == APPROVAL and not (
            form.max_choices is not None and 1 <= form.max_choices <= MAX_CHOICES):
        raise PlanningError("bad_max_choices", "max_choices")
    if form.selection_rule not in SELECTION_RULES:
        raise PlanningError("bad_selection_rule", "selection_rule")
    if form.satisfaction not in tally.SATISFACTIONS:
        raise PlanningError("bad_satisfaction", "satisfaction")
    if form.completion not in tally.COMPLETIONS:
        raise PlanningError("bad_completion", "completion")
    days = _dates(form)
    if not _in_order(days):
        raise PlanningError("bad_dates", "proposals_from")
    budget = form.budget
    if form.mahalla_budgets:
        mahallas = {row["id"] for row in await geo.mahallas_of(form.district_id)}
        if not set(form.mahalla_budgets) <= mahallas or any(
                not 0 < amount <= MAX_BUDGET for amount in form.mahalla_budgets.values()):
            raise PlanningError("bad_mahalla_budgets", "mahalla_budgets")
        budget = sum(form.mahalla_budgets.values())
    if not 0 < budget <= MAX_BUDGET:
        raise PlanningError("bad_budget", "budget")
    return CycleForm(
        form.district_id, title, _clean(form.description)[:TEXT_MAX], budget, form.ballot_rule,
        form.max_choices if form.ballot_rule == APPROVAL else None, form.selection_rule,
        form.satisfaction if form.selection_rule == EQUAL_SHARES else "cost",
        form.completion if form.selection_rule == EQUAL_SHARES else "none",
        form.show_running_totals, *days, mahalla_budgets=dict(form.mahalla_budgets))


async def create_cycle(staff: StaffMember, form: CycleForm) -> int:
    """A new cycle. Its rules are fixed from now on and shown to voters."""
    district = await geo.district(form.district_id)
    if district is None:
        raise PlanningError("not_found", "district_id")
    require(staff, Action.MANAGE_CYCLES, Place(district["region"], form.district_id))
    form = await _checked_cycle(form)
    if starts_at(form.proposals_from) < now() - timedelta(days=1):
        raise PlanningError("bad_dates", "proposals_from")
    async with transaction():
        created = await Cycle.insert(Cycle(
            district=form.district_id, title=form.title, description=form.description,
            budget=form.budget, ballot_rule=form.ballot_rule, max_choices=form.max_choices,
            selection_rule=form.selection_rule, satisfaction=form.satisfaction,
            completion=form.completion, show_running_totals=form.show_running_totals,
            proposals_from=form.proposals_from, review_from=form.review_from,
            voting_from=form.voting_from, results_from=form.results_from,
            implementation_from=form.implementation_from, created_by=staff.id,
            created_at=now(),
        )).returning(Cycle.id)
        cycle_id = created[0]["id"]
        if form.mahalla_budgets:
            await MahallaBudget.insert(*[
                MahallaBudget(cycle=cycle_id, mahalla=mahalla_id, amount=amount)
                for mahalla_id, amount in form.mahalla_budgets.items()])
        await ledger.record("planning.cycle_created", cycle_subject(cycle_id), {
            "district": form.district_id, "budget": form.budget, "ballot_rule": form.ballot_rule,
            "max_choices": form.max_choices, "selection_rule": form.selection_rule,
            "satisfaction": form.satisfaction, "completion": form.completion,
            "dates": [day.isoformat() for day in _dates(form)],
            "mahalla_budgets": {str(k): v for k, v in sorted(form.mahalla_budgets.items())},
        })
    return cycle_id


async def reschedule(staff: StaffMember, cycle_id: int, days: Sequence[date]) -> None:
    """Move the dates of phases that have not started; a started phase keeps its date."""
    async with transaction():
        cycle = await _locked_cycle(cycle_id)
        await _require(staff, Action.MANAGE_CYCLES, cycle)
        at = now()
        old = [cycle[column] for column in PHASE_STARTS.values()]
        new = list(days)
        if len(new) != len(old):
            raise PlanningError("bad_dates", "proposals_from")
        for before, after in zip(old, new, strict=True):
            started = starts_at(before) <= at
            if (started and after != before) or (not started and starts_at(after) <= at):
                raise PlanningError("bad_dates", "proposals_from")
        if not _in_order(new):
            raise PlanningError("bad_dates", "proposals_from")
        await Cycle.update({getattr(Cycle, column): day for column, day in
                            zip(PHASE_STARTS.values(), new, strict=True)}
                           ).where(Cycle.id == cycle_id)
        voting = starts_at(new[list(PHASE_STARTS).index(VOTING)])
        waiting = await Proposal.update({Proposal.review_due_at: voting}).where(
            (Proposal.cycle == cycle_id) & Proposal.status.is_in([SUBMITTED, IN_REVIEW])
        ).returning(Proposal.id)
        for row in waiting:
            await accountability.reschedule(accountability.PROPOSAL_REVIEW, row["id"], voting)
        await ledger.record("planning.cycle_rescheduled", cycle_subject(cycle_id),
                            {"dates": [day.isoformat() for day in new]})


async def cycle(cycle_id: int) -> dict[str, Any] | None:
    return await Cycle.select().where(Cycle.id == cycle_id).first()


async def _cycle(cycle_id: int) -> dict[str, Any]:
    row = await cycle(cycle_id)
    if row is None:
        raise PlanningError("not_found")
    return row


async def _locked_cycle(cycle_id: int) -> dict[str, Any]:
    query = Cycle.select().where(Cycle.id == cycle_id)
    if isinstance(current_engine(), PostgresEngine):
        query = query.lock_rows("UPDATE")
    row = await query.first()
    if row is None:
        raise PlanningError("not_found")
    return row


async def mahalla_budgets(cycle_id: int) -> dict[int, int]:
    rows = await MahallaBudget.select(MahallaBudget.mahalla, MahallaBudget.amount).where(
        MahallaBudget.cycle == cycle_id)
    return {row["mahalla"]: row["amount"] for row in rows}


async def cycles(district_ids: Sequence[int] | None = None, number: int = 1,
                 per_page: int = 20) -> Page:
    """Cycles, newest first, optionally of some districts only."""
    where = Cycle.district.is_in(list(district_ids) or [-1]) if district_ids is not None \
        else Cycle.id > 0
    return await paginate(
        Cycle.select(*Cycle.all_columns(), *Cycle.district.all_columns()).where(where)
        .order_by(Cycle.proposals_from, ascending=False).order_by(Cycle.id, ascending=False),
        Cycle.count().where(where), number, per_page)


async def review_counts(cycle_ids: Sequence[int]) -> tuple[dict[int, int], dict[int, int]]:
    """Per cycle: proposals waiting for review, and of them those past their due time."""
    waiting = Proposal.cycle.is_in(list(cycle_ids) or [-1]) & Proposal.status.is_in(
        [SUBMITTED, IN_REVIEW])
    counts = []
    for condition in (waiting, waiting & (Proposal.review_due_at <= now())):
        rows = await Proposal.select(Proposal.cycle, Count(Proposal.id).as_alias("n")).where(
            condition).group_by(Proposal.cycle)
        counts.append({row["cycle"]: row["n"] for row in rows})
    return counts[0], counts[1]


async def voting_cycles(district_ids: Sequence[int] | None, at: datetime | None = None
                        ) -> list[dict[str, Any]]:
    """Cycles of these districts (None: of every district) in which voting is open now,
    closing soonest first."""
    at = at or now()
    today = at.astimezone(locale.TASHKENT).date()
    condition = (Cycle.voting_from <= today) & (Cycle.results_from >= today)
    if district_ids is not None:
        condition &= Cycle.district.is_in(list(district_ids) or [-1])
    rows = await Cycle.select().where(condition).order_by(Cycle.results_from).order_by(
        Cycle.id)
    return [row for row in rows if phase_of(row, at) == VOTING]


async def managed_districts(staff: StaffMember) -> list[dict[str, Any]]:
    """The districts whose cycles this staff member may manage."""
    return await geo.pilot_districts_where(staff, Action.MANAGE_CYCLES)


# -- proposals --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ProposalText:
    title: str
    description: str
    category: str
    mahalla_id: int | None
    estimated_cost: int
    lat: float | None = None
    lon: float | None = None


def can_propose(resident: Mapping[str, Any]) -> bool:
    """Confirmed by the mahalla or by OneID, as for starting a petition."""
    levels = verification_levels(dict(resident))
    return "residence" in levels or "oneid" in levels


async def _resident(resident_id: int) -> dict[str, Any]:
    row = await resident_row(resident_id)
    if row is None:
        raise PlanningError("not_found")
    return row


async def _home_district(resident: Mapping[str, Any]) -> int:
    if not resident.get("mahalla"):
        raise PlanningError("no_home")
    mahalla = await geo.mahalla(resident["mahalla"])
    if mahalla is None:
        raise PlanningError("no_home")
    return int(mahalla["district"])


async def _checked_proposal(cycle: Mapping[str, Any], text: ProposalText) -> ProposalText:
    title, description = _clean(text.title), _clean(text.description)
    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        raise PlanningError("bad_title", "title")
    if not TEXT_MIN <= len(description) <= TEXT_MAX:
        raise PlanningError("bad_description", "description")
    if text.category not in CATEGORIES:
        raise PlanningError("bad_category", "category")
    mahalla = await geo.mahalla(text.mahalla_id) if text.mahalla_id else None
    if mahalla is None or mahalla["district"] != cycle["district"]:
        raise PlanningError("bad_mahalla", "mahalla_id")
    limit = cycle["budget"]
    budgets = await mahalla_budgets(cycle["id"])
    if budgets:
        if text.mahalla_id not in budgets:
            raise PlanningError("bad_mahalla", "mahalla_id")
        limit = budgets[text.mahalla_id]
    if not 0 < text.estimated_cost <= limit:
        raise PlanningError("bad_cost", "estimated_cost")
    if (text.lat is None) != (text.lon is None) or (
            text.lat is not None and text.lon is not None
            and await geo.pilot_district_at(text.lat, text.lon) != cycle["district"]):
        raise PlanningError("bad_point", "lat")
    return ProposalText(title, description, text.category, text.mahalla_id,
                        text.estimated_cost, text.lat, text.lon)


async def similar(cycle_id: int, title: str, description: str = "",
                  exclude: int | None = None, limit: int = 5) -> list[dict[str, Any]]:
    """Proposals of the cycle sharing the most words with this text, in either script."""
    latin = search_text(title, description).split(" | ")[0]
    wanted = {word for word in latin.split() if len(word) >= 4}
    if not wanted:
        return []
    rows = await Proposal.select(
        Proposal.id, Proposal.title, Proposal.status, Proposal.search_text,
    ).where((Proposal.cycle == cycle_id) & Proposal.status.not_in([WITHDRAWN, MERGED]))
    scored = []
    for row in rows:
        if row["id"] == exclude:
            continue
        words = set(row["search_text"].split(" | ")[0].split())
        shared = len(wanted & words)
        if shared and shared / len(wanted) >= 0.3:
            scored.append((shared, row))
    scored.sort(key=lambda item: (-item[0], item[1]["id"]))
    return [{"id": row["id"], "title": row["title"], "status": row["status"]}
            for _, row in scored[:limit]]


async def proposer_eligibility(cycle_row: Mapping[str, Any], resident: Mapping[str, Any]
                               ) -> ErrorCode | None:
    """Why this resident may not propose in this cycle now, or None: the phase first (nobody
    may, then), then a confirmed residence in the district."""
    if phase_of(cycle_row) != PROPOSALS:
        return "wrong_phase"
    if not can_propose(resident):
        return "not_verified"
    if not resident.get("mahalla"):
        return "no_home"
    if await _home_district(resident) != cycle_row["district"]:
        return "outside_district"
    return None


async def submit_proposal(resident_id: int, cycle_id: int, text: ProposalText,
                          photos: Sequence[ProcessedPhoto | storage.StoredPhoto] = ()) -> int:
    author = await _resident(resident_id)
    row = await _cycle(cycle_id)
    refusal = await proposer_eligibility(row, author)
    if refusal is not None:
        raise PlanningError(refusal)
    text = await _checked_proposal(row, text)
    if len(photos) > MAX_PHOTOS:
        raise PlanningError("bad_photos", "photos")
    stored = [storage.save(photo) for photo in photos]
    async with transaction():
        created = await Proposal.insert(Proposal(
            cycle=cycle_id, author=resident_id, title=text.title, description=text.description,
            category=text.category, mahalla=text.mahalla_id, lat=text.lat, lon=text.lon,
            estimated_cost=text.estimated_cost, status=SUBMITTED,
            review_due_at=starts_at(row["voting_from"]),
            search_text=search_text(text.title, text.description), created_at=now(),
        )).returning(Proposal.id)
        proposal_id = created[0]["id"]
        district = await cycle_place(row)
        await accountability.open_obligation(
            accountability.PROPOSAL_REVIEW, proposal_id,
            Place(district.region_id, row["district"], text.mahalla_id), now(),
            starts_at(row["voting_from"]))
        if stored:
            await Photo.insert(*[Photo(proposal=proposal_id, name=photo.name, position=index)
                                 for index, photo in enumerate(stored)])
        await notify.follow(resident_id, proposal_subject(proposal_id))
        await notify.follow(resident_id, cycle_subject(cycle_id))
        await ledger.record("planning.proposal_submitted", proposal_subject(proposal_id), {
            "cycle": cycle_id, "mahalla": text.mahalla_id, "category": text.category,
            "estimated_cost": text.estimated_cost})
    return proposal_id


async def withdraw_proposal(resident_id: int, proposal_id: int) -> None:
    async with transaction():
        row = await _proposal(proposal_id)
        if row["author"] != resident_id:
            raise PlanningError("not_author")
        if phase_of(await _cycle(row["cycle"])) != PROPOSALS or row["status"] != SUBMITTED:
            raise PlanningError("wrong_phase")
        await Proposal.update({Proposal.status: WITHDRAWN}).where(Proposal.id == proposal_id)
        await accountability.close(accountability.PROPOSAL_REVIEW, proposal_id,
                                   accountability.WITHDRAWN, now())
        await ledger.record("planning.proposal_withdrawn", proposal_subject(proposal_id))


async def proposal(proposal_id: int) -> dict[str, Any] | None:
    return await Proposal.select(
        *Proposal.all_columns(), Proposal.cycle.district, Proposal.cycle.title,
    ).where(Proposal.id == proposal_id).first()


async def _proposal(proposal_id: int) -> dict[str, Any]:
    row = await Proposal.select().where(Proposal.id == proposal_id).first()
    if row is None:
        raise PlanningError("not_found")
    return row


async def photos(proposal_id: int) -> list[dict[str, Any]]:
    return await Photo.select(Photo.name, Photo.update).where(
        Photo.proposal == proposal_id).order_by(Photo.update).order_by(Photo.position)


async def proposals(cycle_id: int, statuses: Sequence[str] = PUBLIC_PROPOSAL_STATUSES,
                    mahalla_id: int | None = None, category: str | None = None,
                    number: int = 1, per_page: int = 50) -> Page:
    where = (Proposal.cycle == cycle_id) & Proposal.status.is_in(list(statuses))
    if mahalla_id:
        where &= Proposal.mahalla == mahalla_id
    if category:
        where &= Proposal.category == category
    return await paginate(
        Proposal.select().where(where).order_by(Proposal.id), Proposal.count().where(where),
        number, per_page)


async def ballot_proposals(cycle_id: int, mahalla_id: int | None = None) -> list[dict[str, Any]]:
    """What a voter chooses from, cheapest first within each mahalla."""
    where = (Proposal.cycle == cycle_id) & Proposal.status.is_in([ON_BALLOT, SELECTED,
                                                                   NOT_SELECTED])
    if mahalla_id:
        where &= Proposal.mahalla == mahalla_id
    return await Proposal.select().where(where).order_by(Proposal.mahalla).order_by(
        Proposal.reviewed_cost).order_by(Proposal.id)


# -- review -----------------------------------------------------------------------------------

async def review(staff: StaffMember, proposal_id: int, feasible: bool,
                 reviewed_cost: int | None = None, reason: str = "") -> None:
    """Mark a proposal feasible, with the cost the ballot will use, or not, with a public
    reason. Possible until voting starts; a later review replaces an earlier one."""
    reason = _clean(reason)[:TEXT_MAX]
    async with transaction():
        row = await _proposal(proposal_id)
        cycle_row = await _cycle(row["cycle"])
        await _require(staff, Action.MANAGE_CYCLES, cycle_row)
        if phase_of(cycle_row) not in (PROPOSALS, REVIEW) or row["status"] not in (
                SUBMITTED, IN_REVIEW, FEASIBLE, INFEASIBLE):
            raise PlanningError("wrong_phase")
        if feasible:
            limit = (await mahalla_budgets(row["cycle"])).get(row["mahalla"],
                                                              cycle_row["budget"])
            if reviewed_cost is None or not 0 < reviewed_cost <= limit:
                raise PlanningError("bad_cost", "reviewed_cost")
        elif len(reason) < 10:
            raise PlanningError("bad_reason", "reason")
        status = FEASIBLE if feasible else INFEASIBLE
        at = now()
        await Proposal.update({
            Proposal.status: status, Proposal.reviewed_cost: reviewed_cost if feasible else None,
            Proposal.review_reason: reason, Proposal.reviewed_by: staff.id,
            Proposal.reviewed_at: at,
        }).where(Proposal.id == proposal_id)
        await accountability.resolve(accountability.PROPOSAL_REVIEW, proposal_id, at)
        await ledger.record("planning.proposal_reviewed", proposal_subject(proposal_id), {
            "feasible": feasible, "reviewed_cost": reviewed_cost if feasible else None,
            "reason_sha256": hashlib.sha256(reason.encode()).hexdigest() if reason else None})
        if row["author"]:
            await notify.enqueue(
                f"proposal:{proposal_id}:reviewed:{at.isoformat()}", "resident", row["author"],
                "planning.proposal_reviewed",
                {"title": row["title"], "decision_msgid": PROPOSAL_STATUSES[status],
                 "link": proposal_link(proposal_id)})


async def merge(staff: StaffMember, proposal_id: int, into_id: int) -> None:
    """A duplicate joins a similar proposal: its author is told and follows the one kept."""
    async with transaction():
        row, kept = await _proposal(proposal_id), await _proposal(into_id)
        cycle_row = await _cycle(row["cycle"])
        await _require(staff, Action.MANAGE_CYCLES, cycle_row)
        if proposal_id == into_id or kept["cycle"] != row["cycle"] or kept["status"] in (
                MERGED, WITHDRAWN):
            raise PlanningError("bad_merge", "into")
        if phase_of(cycle_row) not in (PROPOSALS, REVIEW) or row["status"] not in (
                SUBMITTED, IN_REVIEW, FEASIBLE, INFEASIBLE):
            raise PlanningError("wrong_phase")
        at = now()
        await Proposal.update({Proposal.status: MERGED, Proposal.merged_into: into_id,
                               Proposal.reviewed_by: staff.id, Proposal.reviewed_at: at}
                              ).where(Proposal.id == proposal_id)
        await accountability.resolve(accountability.PROPOSAL_REVIEW, proposal_id, at)
        await ledger.record("planning.proposal_merged", proposal_subject(proposal_id),
                            {"into": into_id})
        for author in {row["author"], kept["author"]} - {None}:
            await notify.follow(author, proposal_subject(into_id))
            await notify.enqueue(
                f"proposal:{proposal_id}:merged:{author}", "resident", author,
                "planning.proposal_merged",
                {"title": row["title"], "kept": kept["title"], "link": proposal_link(into_id)})


# -- ballots ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BallotReceipt:
    cycle_id: int
    proposal_ids: tuple[int, ...]
    total_cost: int
    receipt: str
    changed_at: datetime
    changes: int
    channel: str


async def voter_eligibility(cycle_row: Mapping[str, Any],
                            voter: Mapping[str, Any]) -> ErrorCode | None:
    """Why this resident may not vote in this cycle, or None: a verified phone (or a
    residence the mahalla confirmed, for residents without one, who vote at the mahalla
    office) and a home in the district."""
    if not {"phone", "residence"} & set(verification_levels(dict(voter))):
        return "not_verified"
    if not voter.get("mahalla"):
        return "no_home"
    if await _home_district(voter) != cycle_row["district"]:
        return "outside_district"
    return None


async def _lock_ballot(cycle_id: int, resident_id: int, mahalla_id: int | None,
                       at: datetime) -> tuple[dict[str, Any], bool]:
    """The voter's ballot row, created if need be and locked for this transaction, and whether
    it is new. The unique index keeps one per voter whatever the timing."""
    created = await Ballot.insert(Ballot(
        cycle=cycle_id, resident=resident_id, mahalla=mahalla_id,
        receipt=secrets.token_hex(4).upper(), cast_at=at, changed_at=at,
    )).on_conflict(action="DO NOTHING").returning(Ballot.id)
    query = Ballot.select().where((Ballot.cycle == cycle_id) & (Ballot.resident == resident_id))
    if isinstance(current_engine(), PostgresEngine):
        query = query.lock_rows("UPDATE")
    row = await query.first()
    assert row is not None
    return row, bool(created)


async def cast_ballot(resident_id: int, cycle_id: int, proposal_ids: Iterable[int], *,
                      channel: str = "web", assisted_by: int | None = None,
                      consent: str = "") -> BallotReceipt:
    """Record or replace a voter's whole ballot. Each call replaces the choices as a unit, so
    concurrent changes leave one of them, never a mixture over the budget."""
    chosen = tuple(sorted(set(proposal_ids)))
    if not chosen:
        raise PlanningError("no_choice", "proposal_ids")
    cycle_row = await _cycle(cycle_id)
    if phase_of(cycle_row) != VOTING:
        raise PlanningError("wrong_phase")
    voter = await _resident(resident_id)
    refusal = await voter_eligibility(cycle_row, voter)
    if refusal is not None:
        raise PlanningError(refusal)
    if assisted_by is None:
        decision = await hit(f"planning:ballot:{resident_id}", BALLOT_CHANGES, 600)
        if not decision.allowed:
            raise PlanningError("too_many", retry_after=decision.retry_after)
    rows = await Proposal.select(Proposal.id, Proposal.reviewed_cost, Proposal.mahalla).where(
        (Proposal.cycle == cycle_id) & Proposal.id.is_in(list(chosen))
        & (Proposal.status == ON_BALLOT))
    if len(rows) != len(chosen):
        raise PlanningError("bad_choice", "proposal_ids")
    budgets = await mahalla_budgets(cycle_id)
    limit = cycle_row["budget"]
    if budgets:
        if any(row["mahalla"] != voter["mahalla"] for row in rows):
            raise PlanningError("bad_choice", "proposal_ids")
        limit = budgets.get(voter["mahalla"], 0)
    total = sum(row["reviewed_cost"] for row in rows)
    if cycle_row["ballot_rule"] == APPROVAL and len(chosen) > cycle_row["max_choices"]:
        raise PlanningError("too_many_choices", "proposal_ids")
    if cycle_row["ballot_rule"] == KNAPSACK and total > limit:
        raise PlanningError("over_budget", "proposal_ids")
    at = now()
    async with transaction():
        ballot, new = await _lock_ballot(cycle_id, resident_id, voter["mahalla"], at)
        changes = 0 if new else ballot["changes"] + 1
        await BallotChoice.delete().where(BallotChoice.ballot == ballot["id"])
        await BallotChoice.insert(*[BallotChoice(ballot=ballot["id"], proposal=proposal_id)
                                    for proposal_id in chosen])
        await Ballot.update({
            Ballot.changed_at: at, Ballot.changes: changes, Ballot.channel: channel,
            Ballot.assisted_by: assisted_by, Ballot.consent: consent[:40],
            Ballot.mahalla: voter["mahalla"],
        }).where(Ballot.id == ballot["id"])
        await notify.follow(resident_id, cycle_subject(cycle_id))
    return BallotReceipt(cycle_id, chosen, total, ballot["receipt"], at, changes, channel)


async def ballot_of(resident_id: int, cycle_id: int) -> BallotReceipt | None:
    """What is recorded for this voter, exactly as it will be counted."""
    ballot = await Ballot.select().where(
        (Ballot.cycle == cycle_id) & (Ballot.resident == resident_id)).first()
    if ballot is None:
        return None
    rows = await BallotChoice.select(
        BallotChoice.proposal, BallotChoice.proposal.reviewed_cost,
    ).where(BallotChoice.ballot == ballot["id"]).order_by(BallotChoice.proposal)
    return BallotReceipt(
        cycle_id, tuple(row["proposal"] for row in rows),
        sum(row["proposal.reviewed_cost"] or 0 for row in rows), ballot["receipt"],
        ballot["changed_at"], ballot["changes"], ballot["channel"])


async def running_totals(cycle_id: int) -> dict[int, int]:
    """Approvals per proposal, counted now."""
    rows = await BallotChoice.select(
        BallotChoice.proposal, Count(BallotChoice.id).as_alias("votes"),
    ).where(BallotChoice.proposal.cycle == cycle_id).group_by(BallotChoice.proposal)
    return {row["proposal"]: row["votes"] for row in rows}


async def turnout(cycle_id: int) -> int:
    return await Ballot.count().where(Ballot.cycle == cycle_id)


def totals_visible(cycle_row: Mapping[str, Any], at: datetime | None = None) -> bool:
    phase = phase_of(cycle_row, at)
    return phase in (RESULTS, IMPLEMENTATION) or (
        phase == VOTING and bool(cycle_row["show_running_totals"]))


# -- results ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CountInput:
    """One count to run: the whole cycle, or one mahalla's sub-budget."""

    mahalla_id: int | None
    budget: int
    costs: dict[str, int]
    ballots: list[tuple[tuple[int, ...], str]]


async def _counts(cycle_row: Mapping[str, Any]) -> list[CountInput]:
    cycle_id = cycle_row["id"]
    on_ballot = await Proposal.select(Proposal.id, Proposal.reviewed_cost, Proposal.mahalla
                                      ).where((Proposal.cycle == cycle_id)
                                              & Proposal.status.is_in(
                                                  [ON_BALLOT, SELECTED, NOT_SELECTED]))
    ballots = await Ballot.select(Ballot.id, Ballot.channel, Ballot.mahalla).where(
        Ballot.cycle == cycle_id)
    choices = await BallotChoice.select(BallotChoice.ballot, BallotChoice.proposal).where(
        BallotChoice.ballot.cycle == cycle_id)
    # Every ballot counts, an empty one too: under equal shares it holds its share.
    chosen: dict[int, list[int]] = {row["id"]: [] for row in ballots}
    channel = {row["id"]: row["channel"] for row in ballots}
    home = {row["id"]: row["mahalla"] for row in ballots}
    for row in choices:
        chosen[row["ballot"]].append(row["proposal"])
    budgets = await mahalla_budgets(cycle_id)
    parts: list[tuple[int | None, int]] = (
        sorted(budgets.items()) if budgets else [(None, cycle_row["budget"])])
    counts = []
    for mahalla_id, budget in parts:
        costs = {str(row["id"]): row["reviewed_cost"] for row in on_ballot
                 if mahalla_id is None or row["mahalla"] == mahalla_id}
        ballots = [(tuple(sorted(ids)), channel[ballot]) for ballot, ids in chosen.items()
                   if mahalla_id is None or home[ballot] == mahalla_id]
        counts.append(CountInput(mahalla_id, budget, costs, sorted(ballots)))
    return counts


def run_rule(rule: str, satisfaction: str, completion: str, election: tally.Election
             ) -> tally.Outcome:
    if rule == GREEDY:
        return tally.greedy(election)
    return tally.equal_shares(election, satisfaction,  # type: ignore[arg-type]
                              completion, COMPLETION_STEP)  # type: ignore[arg-type]


def _pb_file(cycle_row: Mapping[str, Any], district: Mapping[str, Any], count: CountInput,
             titles: Mapping[str, str], selected: Iterable[str] = ()) -> pabulib.PbFile:
    votes: dict[str, int] = defaultdict(int)
    for ids, _ in count.ballots:
        for proposal_id in ids:
            votes[str(proposal_id)] += 1
    meta = {
        "description": cycle_row["title"],
        "country": "Uzbekistan",
        "unit": district["name_en"] or district["name_uz"],
        "instance": str(cycle_row["id"]),
        "district_id": str(cycle_row["district"]),
        "num_projects": str(len(count.costs)),
        "num_votes": str(len(count.ballots)),
        "budget": str(count.budget),
        "vote_type": "approval",
        "rule": "greedy" if cycle_row["selection_rule"] == GREEDY else "equalshares",
        "date_begin": cycle_row["voting_from"].isoformat(),
        "date_end": cycle_row["results_from"].isoformat(),
        "currency": "UZS",
        "min_length": "1",
    }
    if count.mahalla_id is not None:
        meta["subunit"] = str(count.mahalla_id)
    if cycle_row["selection_rule"] == EQUAL_SHARES and cycle_row["completion"] == "add1":
        meta["completion"] = f"add1, voter_budget_increment {COMPLETION_STEP}"
    if cycle_row["ballot_rule"] == APPROVAL and cycle_row["max_choices"]:
        meta["max_length"] = str(cycle_row["max_choices"])
    else:
        meta["max_sum_cost"] = str(count.budget)
    chosen = set(selected)
    projects = [{"project_id": pid, "cost": str(cost), "votes": str(votes[pid]),
                 "name": titles.get(pid, ""), "selected": "1" if pid in chosen else "0"}
                for pid, cost in sorted(count.costs.items(), key=lambda item: int(item[0]))]
    ballots = [{"voter_id": str(number), "vote": ",".join(str(i) for i in ids),
                "voting_method": "paper" if channel == "assisted" else "internet"}
               for number, (ids, channel) in enumerate(count.ballots, start=1)]
    return pabulib.PbFile(meta=meta, projects=projects, votes=ballots)


async def _titles(cycle_id: int) -> dict[str, str]:
    rows = await Proposal.select(Proposal.id, Proposal.title).where(Proposal.cycle == cycle_id)
    return {str(row["id"]): row["title"] for row in rows}


async def export_pb(cycle_id: int, mahalla_id: int | None = None) -> str:
    """The anonymised ballots of a closed vote in the pabulib format: voters are numbered in
    the order of their choices, so the file says nothing about who voted when."""
    cycle_row = await _cycle(cycle_id)
    if phase_of(cycle_row) not in (RESULTS, IMPLEMENTATION):
        raise PlanningError("wrong_phase")
    counts = await _counts(cycle_row)
    if len(counts) > 1 and mahalla_id is None:
        raise PlanningError("choose_mahalla")
    count = next((c for c in counts if c.mahalla_id == mahalla_id), None)
    if count is None:
        raise PlanningError("not_found")
    district = await geo.district(cycle_row["district"])
    selected = [str(row["id"]) for row in await Proposal.select(Proposal.id).where(
        (Proposal.cycle == cycle_id) & (Proposal.status == SELECTED))]
    return pabulib.render(_pb_file(cycle_row, district or {}, count,
                                   await _titles(cycle_id), selected))


async def publish_results(cycle_id: int) -> bool:
    """Count the ballots by the cycle's rule and publish the outcome, once. The count runs in a
    thread, off the event loop. Returns whether this call published."""
    cycle_row = await _cycle(cycle_id)
    if await Result.exists().where(Result.cycle == cycle_id):
        return False
    counts = await _counts(cycle_row)
    district = await geo.district(cycle_row["district"]) or {}
    titles = await _titles(cycle_id)
    outcomes = []
    for count in counts:
        election = tally.Election.of(count.budget, count.costs, (ids_as_text(ids)
                                                                 for ids, _ in count.ballots))
        outcome = await asyncio.to_thread(
            run_rule, cycle_row["selection_rule"], cycle_row["satisfaction"],
            cycle_row["completion"], election)
        # Exactly the file export_pb() serves from now on, so anyone can check and recount it.
        digest = hashlib.sha256(pabulib.render(_pb_file(
            cycle_row, district, count, titles, outcome.selected)).encode()).hexdigest()
        outcomes.append((count, outcome, digest))
    at = now()
    async with transaction():
        await _locked_cycle(cycle_id)
        if await Result.exists().where(Result.cycle == cycle_id):
            return False
        votes = await running_totals(cycle_id)
        due = (starts_at(cycle_row["implementation_from"]) + DELIVERY_YEAR).astimezone(
            locale.TASHKENT).date()
        for count, outcome, digest in outcomes:
            await Result.insert(Result(
                cycle=cycle_id, mahalla=count.mahalla_id, rule=cycle_row["selection_rule"],
                satisfaction=cycle_row["satisfaction"], completion=cycle_row["completion"],
                budget=count.budget, spent=outcome.spent, voters=len(count.ballots),
                selected=json.dumps([int(pid) for pid in outcome.selected]),
                ballots_sha256=digest, computed_at=at))
            for pid, verdict in outcome.verdicts.items():
                values: dict[Any, Any] = {
                    Proposal.status: SELECTED if verdict.selected else NOT_SELECTED,
                    Proposal.votes: votes.get(int(pid), 0),
                    Proposal.result_reason: verdict.reason,
                    Proposal.result_figures: json.dumps(dict(verdict.figures)),
                }
                if verdict.selected:
                    values |= {Proposal.delivery_status: PLANNED, Proposal.due_on: due}
                    await accountability.open_obligation(
                        accountability.DELIVERY, int(pid), Place(
                            district["region"], cycle_row["district"], count.mahalla_id),
                        at, clock.end_of(due))
                await Proposal.update(values).where(Proposal.id == int(pid))
            await ledger.record("planning.results", cycle_subject(cycle_id), {
                "mahalla": count.mahalla_id, "rule": cycle_row["selection_rule"],
                "satisfaction": cycle_row["satisfaction"],
                "completion": cycle_row["completion"], "budget": count.budget,
                "spent": outcome.spent, "voters": len(count.ballots),
                "selected": sorted(int(pid) for pid in outcome.selected),
                "ballots_sha256": digest})
        for resident_id in await notify.followers(cycle_subject(cycle_id)):
            await notify.enqueue(f"cycle:{cycle_id}:results:{resident_id}", "resident",
                                 resident_id, "planning.results",
                                 {"title": cycle_row["title"], "link": cycle_link(cycle_id)})
    return True


def ids_as_text(ids: Iterable[int]) -> list[str]:
    return [str(i) for i in ids]


async def results(cycle_id: int) -> list[dict[str, Any]]:
    rows = await Result.select().where(Result.cycle == cycle_id).order_by(Result.mahalla)
    for row in rows:
        row["selected"] = json.loads(row["selected"])
    return rows


def explanation(row: Mapping[str, Any]) -> str:
    """Why this proposal won or lost, in the reader's language."""
    reason = row.get("result_reason") or ""
    if reason not in RESULT_REASONS:
        return ""
    figures = json.loads(row.get("result_figures") or "{}")
    values = {key: locale.format_number(value) if isinstance(value, int) else value
              for key, value in figures.items()}
    return locale.gettext(RESULT_REASONS[reason], **values)


# -- phase changes ----------------------------------------------------------------------------

async def _enter(cycle_row: Mapping[str, Any], phase: str) -> None:
    cycle_id = cycle_row["id"]
    if phase == REVIEW:
        await Proposal.update({Proposal.status: IN_REVIEW}).where(
            (Proposal.cycle == cycle_id) & (Proposal.status == SUBMITTED))
    elif phase == VOTING:
        await Proposal.update({Proposal.status: ON_BALLOT}).where(
            (Proposal.cycle == cycle_id) & (Proposal.status == FEASIBLE))
        lapsed = await Proposal.update({Proposal.status: NOT_REVIEWED}).where(
            (Proposal.cycle == cycle_id) & Proposal.status.is_in([SUBMITTED, IN_REVIEW])
        ).returning(Proposal.id)
        for row in lapsed:
            await accountability.close(accountability.PROPOSAL_REVIEW, row["id"],
                                       accountability.LAPSED, starts_at(cycle_row["voting_from"]))


async def advance(at: datetime | None = None) -> list[tuple[int, str]]:
    """Act on every phase that has started and not yet been acted on, in order; results are
    computed and published when voting closes. Returns the (cycle, phase) steps taken."""
    at = at or now()
    steps = []
    rows = await Cycle.select(Cycle.id).where(Cycle.phase_reached != IMPLEMENTATION)
    for row in rows:
        cycle_row = await _cycle(row["id"])
        target = phase_of(cycle_row, at)
        reached = PHASES.index(cycle_row["phase_reached"])
        for phase in PHASES[reached + 1:PHASES.index(target) + 1]:
            if phase in (RESULTS, IMPLEMENTATION):
                await publish_results(cycle_row["id"])
            async with transaction():
                moved = await Cycle.update({Cycle.phase_reached: phase}).where(
                    (Cycle.id == cycle_row["id"])
                    & (Cycle.phase_reached == PHASES[PHASES.index(phase) - 1])
                ).returning(Cycle.id)
                if not moved:
                    break
                await _enter(cycle_row, phase)
                await ledger.record("planning.phase", cycle_subject(cycle_row["id"]),
                                    {"phase": phase})
                if phase in (PROPOSALS, VOTING):
                    await _tell_phase(cycle_row, phase)
            steps.append((cycle_row["id"], phase))
    return steps


async def _tell_phase(cycle_row: Mapping[str, Any], phase: str) -> None:
    ends = phase_ends(cycle_row, phase)
    day = clock.last_day(ends).isoformat() if ends else ""
    for resident_id in await notify.followers(cycle_subject(cycle_row["id"])):
        await notify.enqueue(
            f"cycle:{cycle_row['id']}:{phase}:{resident_id}", "resident", resident_id,
            f"planning.{phase}",
            {"title": cycle_row["title"], "until_day": day, "link": cycle_link(cycle_row["id"])})


# -- delivery ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DeliveryText:
    status: str
    progress: int
    spent: int
    note: str = ""
    due_on: date | None = None


async def record_delivery(staff: StaffMember, proposal_id: int, text: DeliveryText,
                          photos: Sequence[ProcessedPhoto | storage.StoredPhoto] = ()) -> int:
    """A dated timeline entry for a selected project: status, progress, money spent."""
    note = _clean(text.note)[:TEXT_MAX]
    if text.status not in DELIVERY_STATUSES:
        raise PlanningError("bad_status", "status")
    if not 0 <= text.progress <= 100 or (text.status == COMPLETED and text.progress != 100):
        raise PlanningError("bad_progress", "progress")
    if not 0 <= text.spent <= MAX_BUDGET:
        raise PlanningError("bad_spent", "spent")
    if text.status == CANCELLED and len(note) < 10:
        raise PlanningError("bad_reason", "note")
    if len(photos) > MAX_PHOTOS:
        raise PlanningError("bad_photos", "photos")
    stored = [storage.save(photo) for photo in photos]
    at = now()
    async with transaction():
        row = await _proposal(proposal_id)
        await _require(staff, Action.MANAGE_CYCLES, await _cycle(row["cycle"]))
        if row["status"] != SELECTED:
            raise PlanningError("not_selected")
        if row["delivery_status"] in (COMPLETED, CANCELLED):
            raise PlanningError("finished")
        due_on = text.due_on or row["due_on"]
        created = await DeliveryUpdate.insert(DeliveryUpdate(
            proposal=proposal_id, staff=staff.id, status=text.status, progress=text.progress,
            spent=text.spent, note=note, at=at)).returning(DeliveryUpdate.id)
        update_id = created[0]["id"]
        if stored:
            await Photo.insert(*[Photo(proposal=proposal_id, update=update_id, name=photo.name,
                                       position=index) for index, photo in enumerate(stored)])
        await Proposal.update({
            Proposal.delivery_status: text.status, Proposal.progress: text.progress,
            Proposal.spent: text.spent, Proposal.due_on: due_on,
            Proposal.cancel_reason: note if text.status == CANCELLED else "",
            Proposal.delivered_at: at if text.status == COMPLETED else None,
        }).where(Proposal.id == proposal_id)
        await _clock_delivery(proposal_id, text.status, due_on, row["due_on"], at)
        await ledger.record("planning.delivery", proposal_subject(proposal_id), {
            "status": text.status, "progress": text.progress, "spent": text.spent,
            "due_on": due_on.isoformat() if due_on else None})
        for resident_id in await notify.followers(proposal_subject(proposal_id)):
            await notify.enqueue(
                f"proposal:{proposal_id}:delivery:{update_id}:{resident_id}", "resident",
                resident_id, "planning.delivery",
                {"title": row["title"], "status_msgid": DELIVERY_STATUSES[text.status],
                 "progress": text.progress, "link": proposal_link(proposal_id)})
    return update_id


async def _clock_delivery(proposal_id: int, status: str, due_on: date | None,
                          was_due_on: date | None, at: datetime) -> None:
    if due_on is not None and due_on != was_due_on:
        await accountability.reschedule(accountability.DELIVERY, proposal_id, clock.end_of(due_on))
    if status == COMPLETED:
        await accountability.resolve(accountability.DELIVERY, proposal_id, at)
    elif status == CANCELLED:
        await accountability.close(accountability.DELIVERY, proposal_id,
                                   accountability.WITHDRAWN, at)
    else:
        await accountability.record_first_response(accountability.DELIVERY, proposal_id, at)


async def timeline(proposal_id: int) -> list[dict[str, Any]]:
    rows = await DeliveryUpdate.select().where(DeliveryUpdate.proposal == proposal_id
                                               ).order_by(DeliveryUpdate.at, ascending=False)
    pictures = await photos(proposal_id)
    for row in rows:
        row["photos"] = [p["name"] for p in pictures if p["update"] == row["id"]]
    return rows


def overdue(row: Mapping[str, Any], at: datetime | None = None) -> bool:
    """A selected project not finished by its due date, or a review not done in time."""
    at = at or now()
    if row.get("status") == SELECTED:
        return (row.get("delivery_status") in (PLANNED, PROCUREMENT, IN_PROGRESS)
                and row.get("due_on") is not None
                and starts_at(row["due_on"] + timedelta(days=1)) <= at)
    return (row.get("status") in (SUBMITTED, IN_REVIEW) and row.get("review_due_at") is not None
            and row["review_due_at"] <= at)


async def comment(resident_id: int, proposal_id: int, text: str) -> int:
    """A resident's comment on a selected project while it is delivered."""
    text = _clean(text)
    if not COMMENT_MIN <= len(text) <= COMMENT_MAX:
        raise PlanningError("bad_comment", "text")
    author = await _resident(resident_id)
    if "phone" not in verification_levels(author):
        raise PlanningError("not_verified")
    row = await _proposal(proposal_id)
    if row["status"] != SELECTED:
        raise PlanningError("not_selected")
    decision = await hit(f"planning:comment:{resident_id}", COMMENTS_PER_HOUR, 3600)
    if not decision.allowed:
        raise PlanningError("too_many", retry_after=decision.retry_after)
    async with transaction():
        created = await DeliveryComment.insert(DeliveryComment(
            proposal=proposal_id, author=resident_id, text=text, at=now(),
        )).returning(DeliveryComment.id)
        await notify.follow(resident_id, proposal_subject(proposal_id))
    return created[0]["id"]


async def comments(proposal_id: int) -> list[dict[str, Any]]:
    """Comments with their authors' public names, never the full name."""
    rows = await DeliveryComment.select(
        DeliveryComment.id, DeliveryComment.text, DeliveryComment.at,
        DeliveryComment.author.display_name,
    ).where(DeliveryComment.proposal == proposal_id).order_by(DeliveryComment.at)
    for row in rows:
        row["author_name"] = public_name({"display_name": row.pop("author.display_name") or ""})
    return rows


async def winners(district_id: int | None = None, delivery_status: str | None = None,
                  number: int = 1, per_page: int = 50) -> Page:
    """Selected projects across cycles, newest cycle first: for the list and the map."""
    where = Proposal.status == SELECTED
    if district_id:
        where &= Proposal.cycle.district == district_id
    if delivery_status:
        where &= Proposal.delivery_status == delivery_status
    return await paginate(
        Proposal.select(*Proposal.all_columns(), Proposal.cycle.title, Proposal.cycle.district
                        ).where(where).order_by(Proposal.cycle, ascending=False)
        .order_by(Proposal.id), Proposal.count().where(where), number, per_page)


# -- pabulib import ---------------------------------------------------------------------------

async def import_pb(pb: pabulib.PbFile, district_id: int | None = None) -> int:
    """A cycle read from a pabulib file, with its projects and anonymous ballots, counted at
    once by the rule the file names (greedy unless it names equal shares)."""
    named = pb.meta.get("district_id", "")
    district_id = district_id or (int(named) if named.isdigit() else 0)
    if await District.count().where(District.id == district_id) == 0:
        raise PlanningError("not_found", "district_id")
    election = pabulib.election_of(pb)
    rule = EQUAL_SHARES if "equal" in pb.meta.get("rule", "").lower() or \
        pb.meta.get("rule", "").lower().startswith("mes") else GREEDY
    max_length = pb.meta.get("max_length")
    today = now().astimezone(locale.TASHKENT).date()
    days = [today - timedelta(days=back) for back in (4, 3, 2, 1, 0)]
    at = now()
    async with transaction():
        created = await Cycle.insert(Cycle(
            district=district_id,
            title=(pb.meta.get("description") or pb.meta.get("instance") or "pabulib")[:TITLE_MAX],
            description="", budget=election.budget,
            ballot_rule=APPROVAL if max_length else KNAPSACK,
            max_choices=int(max_length) if max_length else None, selection_rule=rule,
            satisfaction="cost", completion="none", show_running_totals=True,
            proposals_from=days[0], review_from=days[1], voting_from=days[2],
            results_from=days[3], implementation_from=days[4], phase_reached=VOTING,
            created_at=at, imported=True,
        )).returning(Cycle.id)
        cycle_id = created[0]["id"]
        ids: dict[str, int] = {}
        for project in pb.projects:
            cost = election.costs[project["project_id"]]
            title = (project.get("name") or f"{project['project_id']}")[:TITLE_MAX]
            row = await Proposal.insert(Proposal(
                cycle=cycle_id, title=title, description="", estimated_cost=cost,
                reviewed_cost=cost, status=ON_BALLOT, search_text=search_text(title),
                created_at=at)).returning(Proposal.id)
            ids[project["project_id"]] = row[0]["id"]
        for start in range(0, len(pb.votes), IMPORT_BATCH):
            batch = list(enumerate(pb.votes[start:start + IMPORT_BATCH], start=start + 1))
            await Ballot.insert(*[Ballot(
                cycle=cycle_id, channel="assisted" if vote.get("voting_method") == "paper"
                else "imported", receipt=f"PB{number}", cast_at=at, changed_at=at,
            ) for number, vote in batch])
            receipts = {row["receipt"]: row["id"] for row in await Ballot.select(
                Ballot.id, Ballot.receipt).where(
                (Ballot.cycle == cycle_id) & Ballot.receipt.is_in(
                    [f"PB{number}" for number, _ in batch]))}
            picks = [BallotChoice(ballot=receipts[f"PB{number}"], proposal=ids[pid])
                     for number, vote in batch for pid in pabulib.ballot(vote)]
            if picks:
                await BallotChoice.insert(*picks)
        await ledger.record("planning.cycle_imported", cycle_subject(cycle_id), {
            "district": district_id, "budget": election.budget, "projects": len(ids),
            "ballots": len(pb.votes)})
    await advance()
    return cycle_id


async def assisted_counts(since: datetime, until: datetime) -> dict[int, int]:
    """Ballots cast or changed at a mahalla desk in [since, until), by the staff member who
    recorded the ballot as it stands."""
    rows = await Ballot.select(Ballot.assisted_by, Count(Ballot.id).as_alias("n")).where(
        (Ballot.channel == "assisted") & Ballot.assisted_by.is_not_null()
        & (Ballot.changed_at >= since) & (Ballot.changed_at < until)).group_by(
        Ballot.assisted_by)
    return {row["assisted_by"]: int(row["n"]) for row in rows}


# -- moderation -------------------------------------------------------------------------------

MODERATED_FIELDS: Final = {"title": locale.lazy("Title"),
                           "description": locale.lazy("Description")}
COMMENT_FIELDS: Final = {"text": locale.lazy("Text")}


async def moderated(proposal_id: int) -> dict[str, Any] | None:
    """What moderation needs of a public proposal: its author, place and texts."""
    row = await proposal(proposal_id)
    if row is None or row["status"] not in PUBLIC_PROPOSAL_STATUSES:
        return None
    district = await geo.district(row["cycle.district"])
    assert district is not None
    return {"author": row["author"], "title": row["title"],
            "place": Place(district["region"], district["id"], row["mahalla"]),
            "fields": {name: row[name] for name in MODERATED_FIELDS}}


async def set_moderated_text(proposal_id: int, field: str, text: str) -> None:
    """A moderator's change to a proposal's text, inside the moderation's transaction; the
    search for similar proposals follows what the public now reads."""
    assert field in MODERATED_FIELDS
    row = await _proposal(proposal_id)
    texts = {name: row[name] for name in MODERATED_FIELDS} | {field: text}
    await Proposal.update({getattr(Proposal, field): text,
                           Proposal.search_text: search_text(texts["title"],
                                                             texts["description"])}
                          ).where(Proposal.id == proposal_id)


async def moderated_comment(comment_id: int) -> dict[str, Any] | None:
    """What moderation needs of a comment on a project being built."""
    row = await DeliveryComment.select(
        DeliveryComment.author, DeliveryComment.text, DeliveryComment.proposal,
    ).where(DeliveryComment.id == comment_id).first()
    if row is None:
        return None
    project = await moderated(row["proposal"])
    if project is None:
        return None
    return {"author": row["author"], "place": project["place"], "title": project["title"],
            "proposal": row["proposal"], "fields": {"text": row["text"]}}


async def set_moderated_comment(comment_id: int, field: str, text: str) -> None:
    assert field in COMMENT_FIELDS
    await DeliveryComment.update({DeliveryComment.text: text}).where(
        DeliveryComment.id == comment_id)


async def pending_of(resident_id: int) -> list[int]:
    """The resident's proposals not yet reviewed: what a block hides."""
    rows = await Proposal.select(Proposal.id).where(
        (Proposal.author == resident_id) & Proposal.status.is_in([SUBMITTED, IN_REVIEW]))
    return [row["id"] for row in rows]


async def comments_of(resident_id: int) -> list[int]:
    """Every comment of the resident: a block hides them all."""
    rows = await DeliveryComment.select(DeliveryComment.id).where(
        DeliveryComment.author == resident_id)
    return [row["id"] for row in rows]


# Below this many ballots a mahalla or a desk is never an alert, whatever the average.
BALLOT_ALERT_MINIMUM: Final = 20


async def ballot_anomalies(cycle_id: int) -> list[dict[str, Any]]:
    """Mahallas, and desks casting assisted ballots, far above their share of the cycle's
    ballots (ovoz.outliers): for moderators to look at."""
    found = []
    for column, kind in ((Ballot.mahalla, "mahalla"), (Ballot.assisted_by, "desk")):
        rows = await Ballot.select(column.as_alias("key"), Count(Ballot.id).as_alias("n")
                                   ).where(Ballot.cycle == cycle_id).group_by(column)
        found.extend({"kind": kind, "key": outlier.key, "ballots": outlier.count,
                      "average": outlier.average}
                     for outlier in far_above({r["key"]: r["n"] for r in rows},
                                              BALLOT_ALERT_MINIMUM))
    return found
