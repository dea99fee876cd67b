"""Assisted ballots: mahalla staff record the ballot of a resident who came to the office, who
agrees by reading out a code texted to their phone (bound to this cycle and this staff member:
see ovoz.accounts.desk), or on a numbered paper form once the staff member has checked where
they live."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ovoz.accounts import desk
from ovoz.accounts import staff as staff_accounts
from ovoz.accounts.desk import (
    AssistError,
    CodeSent,
    check_desk,
    resident_at_desk,
    resident_by_phone,
)
from ovoz.accounts.permissions import Action, StaffMember, scopes
from ovoz.accounts.sessions import Identity
from ovoz.accounts.sms import SmsGateway, mask_phone
from ovoz.db import transaction
from ovoz.i18n import locale
from ovoz.planning import services
from ovoz.planning.tables import Ballot, BallotChoice

PURPOSE = "ballot-assist"
SMS_CONSENT = "sms"
PAPER_PREFIX = "paper:"
CODE_MESSAGE = locale.lazy(
    "Ovoz: code %(code)s to record your vote in budget cycle №%(id)s at the mahalla office. "
    "Tell it only to the mahalla staff member in front of you.")
# The ballot keeps its consent in 40 characters, "paper:" among them.
PAPER_FORM_MAX = 40 - len(PAPER_PREFIX)


def desk_mahallas(staff: StaffMember, cycle: Mapping[str, Any]) -> list[int]:
    """The staff member's mahallas in the cycle's district: whose residents they may help."""
    return sorted({grant.mahalla_id for grant in scopes(staff, Action.ASSIST_RESIDENT)
                   if grant.mahalla_id is not None
                   and grant.district_id == cycle["district"]})


def desk_districts(staff: StaffMember) -> list[int]:
    return sorted({grant.district_id for grant in scopes(staff, Action.ASSIST_RESIDENT)
                   if grant.mahalla_id is not None and grant.district_id is not None})


async def precheck(cycle: Mapping[str, Any], resident: Mapping[str, Any]) -> None:
    """What would refuse any ballot of this resident, found before an SMS is paid for."""
    if services.phase_of(cycle) != services.VOTING:
        raise services.PlanningError("wrong_phase")
    refusal = await services.voter_eligibility(cycle, resident)
    if refusal is not None:
        raise services.PlanningError(refusal)


async def send_code(staff: StaffMember, cycle: Mapping[str, Any], resident: Mapping[str, Any],
                    gateway: SmsGateway) -> CodeSent:
    """Text the resident a fresh code for their ballot in this cycle at this desk."""
    return await desk.send_code(staff.id, PURPOSE, cycle["id"], resident, gateway, CODE_MESSAGE,
                                id=cycle["id"])


async def _ballot_id(cycle_id: int, resident_id: int) -> int:
    row = await Ballot.select(Ballot.id).where(
        (Ballot.cycle == cycle_id) & (Ballot.resident == resident_id)).first()
    assert row is not None
    return int(row["id"])


async def vote_by_code(staff: StaffMember, cycle_id: int, phone_text: str, code: str,
                       proposal_ids: Iterable[int]) -> int:
    """The resident read out the code sent to their phone: record their ballot; returns its
    id."""
    resident = await resident_by_phone(phone_text, "code")
    await check_desk(staff, resident, "code")
    code_id = await desk.matching_code(staff.id, PURPOSE, cycle_id, resident["phone"], code)
    # One transaction: a ballot refused for its choices leaves the code unused, so the staff
    # member corrects the ticks without a new SMS.
    async with transaction():
        await desk.claim_code(code_id)
        await services.cast_ballot(
            resident["id"], cycle_id, proposal_ids, channel="assisted", assisted_by=staff.id,
            consent=SMS_CONSENT)
    return await _ballot_id(cycle_id, resident["id"])


def paper_form_number(text: str) -> str:
    number = " ".join(text.split())
    if not number or len(number) > PAPER_FORM_MAX:
        raise AssistError("paper_form_required", "paper_form")
    return number


async def check_paper(staff: StaffMember, cycle: Mapping[str, Any], phone_text: str,
                      paper_form: str, residence_checked: bool) -> dict[str, Any]:
    """Everything about a paper form that can be checked before the choices are ticked;
    returns the resident."""
    resident = await resident_at_desk(phone_text, "paper_phone")
    await check_desk(staff, resident, "paper_phone")
    await precheck(cycle, resident)
    paper_form_number(paper_form)
    if resident["residence_confirmed_at"] is None and not residence_checked:
        raise AssistError("residence_unchecked", "residence_checked")
    return resident


async def vote_by_paper(actor: Identity, staff: StaffMember, cycle_id: int, phone_text: str,
                        paper_form: str, residence_checked: bool,
                        proposal_ids: Iterable[int]) -> int:
    """The resident filled in a numbered paper form; their residence is confirmed by the staff
    member, now if not before. Returns the ballot's id."""
    cycle = await services.cycle(cycle_id)
    if cycle is None:
        raise services.PlanningError("not_found")
    resident = await check_paper(staff, cycle, phone_text, paper_form, residence_checked)
    number = paper_form_number(paper_form)
    if resident["residence_confirmed_at"] is None:
        try:
            await staff_accounts.confirm_residence(actor, resident["id"])
        except staff_accounts.StaffError as error:
            # Refused only if the home changed meanwhile, or the grant does not reach it.
            raise AssistError("other_mahalla", "paper_phone") from error
    await services.cast_ballot(
        resident["id"], cycle_id, proposal_ids, channel="assisted", assisted_by=staff.id,
        consent=f"{PAPER_PREFIX}{number}")
    return await _ballot_id(cycle_id, resident["id"])


async def receipt(ballot_id: int) -> dict[str, Any] | None:
    """What the resident's receipt shows: the choices as they will be counted, never the full
    phone number."""
    row = await Ballot.select(
        Ballot.id, Ballot.cycle, Ballot.mahalla, Ballot.channel, Ballot.consent,
        Ballot.receipt, Ballot.changed_at,
        Ballot.cycle.title.as_alias("title"),
        Ballot.assisted_by.display_name.as_alias("assisted_by_name"),
        Ballot.resident.phone.as_alias("phone"),
        Ballot.resident.display_name.as_alias("resident_name"),
        Ballot.mahalla.district.as_alias("district"),
        Ballot.mahalla.district.region.as_alias("region"),
    ).where(Ballot.id == ballot_id).first()
    if row is None:
        return None
    phone = row.pop("phone")
    row["masked_phone"] = mask_phone(phone) if phone else ""
    consent = row["consent"]
    row["paper_form"] = consent.removeprefix(PAPER_PREFIX) if consent.startswith(
        PAPER_PREFIX) else ""
    row["choices"] = await BallotChoice.select(
        BallotChoice.proposal.id.as_alias("id"), BallotChoice.proposal.title.as_alias("title"),
        BallotChoice.proposal.reviewed_cost.as_alias("cost"),
    ).where(BallotChoice.ballot == ballot_id).order_by(BallotChoice.proposal)
    row["total_cost"] = sum(choice["cost"] or 0 for choice in row["choices"])
    return row


def chosen_ids(values: Iterable[Any]) -> list[int]:
    """The ticked proposal ids of a form, ignoring anything that is not a number."""
    return [int(value) for value in values if str(value).strip().isdigit()]


async def on_ballot(cycle_id: int, resident: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What this voter chooses from: their own mahalla's projects when the cycle has
    sub-budgets."""
    budgets = await services.mahalla_budgets(cycle_id)
    rows = await services.ballot_proposals(
        cycle_id, resident["mahalla"] if budgets else None)
    return [row for row in rows if row["status"] == services.ON_BALLOT]

