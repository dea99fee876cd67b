"""The officials' inbox: everything a staff member must answer, whatever the feature, read from
the one obligations table, earliest due first, so what is overdue comes first.

Answers are not given here: the inbox's forms post to each feature's own answer (a report's
status, a petition's response, a proposal's review), which comes back to the inbox afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode

from ovoz.accountability.scorecards import HOKIMIYAT, DepartmentChoice
from ovoz.accountability.services import (
    DELIVERY,
    KINDS,
    PETITION,
    PROPOSAL_REVIEW,
    PUBLIC_PATHS,
    REPORT,
    now,
)
from ovoz.accountability.tables import Obligation
from ovoz.accounts.permissions import Action, Actor, Role, scopes
from ovoz.pagination import Page, paginate

PATH: Final = "/staff/inbox"
OVERDUE, THIS_WEEK = "overdue", "week"
DUE_CHOICES: Final = (OVERDUE, THIS_WEEK)
WEEK: Final = timedelta(days=7)
# Residents' appeals are answered by officials holding ANSWER; a budget cycle's reviews and
# deliveries by the officials who run the cycle.
ACTION_KINDS: Final = ((Action.ANSWER, (REPORT, PETITION)),
                       (Action.MANAGE_CYCLES, (PROPOSAL_REVIEW, DELIVERY)))
# The value of the forms' `return_to` field that brings an answer back to the inbox.
RETURN_TO_INBOX: Final = "inbox"


@dataclass(frozen=True, slots=True)
class InboxFilters:
    kind: str | None = None
    district_id: int | None = None
    department: DepartmentChoice = None
    # OVERDUE, THIS_WEEK (due within a week and not yet overdue), or None for all
    due: str | None = None


@dataclass(frozen=True, slots=True)
class InboxCounts:
    open: int
    overdue: int
    due_this_week: int


def reach(staff: Actor) -> Any | None:
    """What this person answers, or None: per grant, its department's items, its district's
    (a district-wide official answers for the departments too), or, for an official of a
    regional hokimiyat, what is addressed to the region itself."""
    found: Any = None
    for action, kinds in ACTION_KINDS:
        for grant in scopes(staff, action):
            # Administrators may run cycles but answer for no district.
            if grant.role != Role.OFFICIAL:
                continue
            if grant.department_id is not None:
                one: Any = Obligation.department == grant.department_id
            elif grant.district_id is not None:
                one = Obligation.district == grant.district_id
            else:
                one = (Obligation.region == grant.region_id) & Obligation.district.is_null()
            one &= Obligation.kind.is_in(list(kinds))
            found = one if found is None else found | one
    return found


def districts_of(staff: Actor) -> list[int]:
    """The districts whose items the person answers, in the order of their grants."""
    return list(dict.fromkeys(
        grant.district_id for action, _ in ACTION_KINDS for grant in scopes(staff, action)
        if grant.role == Role.OFFICIAL and grant.district_id is not None))


def _condition(staff: Actor, filters: InboxFilters, at: datetime) -> Any | None:
    condition = reach(staff)
    if condition is None:
        return None
    condition &= Obligation.closed_at.is_null()
    if filters.kind in KINDS:
        condition &= Obligation.kind == filters.kind
    if filters.district_id is not None:
        condition &= Obligation.district == filters.district_id
    if filters.department == HOKIMIYAT:
        condition &= Obligation.department.is_null()
    elif filters.department is not None:
        condition &= Obligation.department == filters.department
    if filters.due == OVERDUE:
        condition &= Obligation.due_at <= at
    elif filters.due == THIS_WEEK:
        condition &= (Obligation.due_at > at) & (Obligation.due_at <= at + WEEK)
    return condition


async def inbox(staff: Actor, filters: InboxFilters, number: int, per_page: int,
                at: datetime | None = None) -> Page:
    """The open obligations the person answers, earliest due first."""
    condition = _condition(staff, filters, at or now())
    if condition is None:
        return Page(items=[], number=1, per_page=per_page, total=0)
    return await paginate(
        Obligation.select().where(condition).order_by(Obligation.due_at)
        .order_by(Obligation.id),
        Obligation.count().where(condition), number, per_page)


async def counts(staff: Actor, at: datetime | None = None) -> InboxCounts:
    """Everything open, of it what is overdue, and what falls due within the coming week."""
    at = at or now()
    totals = [await Obligation.count().where(condition) if condition is not None else 0
              for condition in (_condition(staff, InboxFilters(due=due), at)
                                for due in (None, OVERDUE, THIS_WEEK))]
    return InboxCounts(*totals)


def after_answer(return_to: str, kind: str, ref: int, default: str) -> str:
    """Where an answer goes next: back to the inbox, naming the item, when it was sent from
    there (so the official sees it published and goes on with the next), else `default`."""
    if return_to.strip() == RETURN_TO_INBOX:
        return f"{PATH}?{urlencode({'answered': f'{kind}:{ref}'})}"
    return default


def answered_item(text: str | None) -> tuple[str, int, str] | None:
    """The (kind, ref, public path) an inbox URL's ?answered= names, or None."""
    kind, _, ref = (text or "").partition(":")
    if kind not in KINDS or not ref.isdecimal() or len(ref) > 12:
        return None
    return kind, int(ref), PUBLIC_PATHS[kind].format(int(ref))
