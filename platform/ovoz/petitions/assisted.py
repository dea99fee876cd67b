"""Assisted signing: mahalla staff record the signature of a resident who came to the office,
who agrees by reading out a code texted to their phone (bound to this petition and this staff
member: see ovoz.accounts.desk), or on a numbered paper form once the staff member has confirmed
where they live."""

from __future__ import annotations

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
from ovoz.accounts.permissions import Action, Grant, StaffMember, scopes
from ovoz.accounts.sessions import Identity
from ovoz.accounts.sms import SmsGateway, mask_phone
from ovoz.db import transaction
from ovoz.i18n import locale
from ovoz.petitions import services
from ovoz.petitions.tables import Petition, Signature

PURPOSE = "petition-assist"
PAPER_FORM_MAX = 40
CODE_MESSAGE = locale.lazy(
    "Ovoz: code %(code)s to sign petition №%(id)s at the mahalla office. Tell it only to the "
    "mahalla staff member in front of you.")


def assist_grants(staff: StaffMember) -> list[Grant]:
    return [grant for grant in scopes(staff, Action.ASSIST_RESIDENT)
            if grant.mahalla_id is not None]


def desk_mahallas(staff: StaffMember, petition: dict[str, Any]) -> list[int]:
    """The staff member's mahallas inside the petition's area: whose residents they may sign
    for on it."""
    area = services.petition_area(petition)
    return sorted({grant.mahalla_id for grant in assist_grants(staff)
                   if grant.mahalla_id is not None and grant.region_id is not None
                   and area.holds(services.Area(grant.region_id, grant.district_id,
                                                grant.mahalla_id))})


async def signable_here(staff: StaffMember) -> list[dict[str, Any]]:
    """Petitions collecting signatures whose area holds one of the staff member's mahallas,
    closing soonest first."""
    condition: Any = None
    for grant in assist_grants(staff):
        area = await services.area_of_mahalla(grant.mahalla_id or 0)
        if area is None:
            continue
        holds = ((Petition.region == area.region_id)
                 & (Petition.district.is_null() | (Petition.district == area.district_id))
                 & (Petition.mahalla.is_null() | (Petition.mahalla == area.mahalla_id)))
        condition = holds if condition is None else condition | holds
    if condition is None:
        return []
    rows = await Petition.select().where(
        Petition.status.is_in(list(services.SIGNABLE)) & condition
    ).order_by(Petition.closes_at).order_by(Petition.id)
    totals = await services.counts([row["id"] for row in rows])
    for row in rows:
        row["signature_count"] = totals.get(row["id"], 0)
    return rows


async def precheck(petition_id: int, resident: dict[str, Any]) -> None:
    """What would refuse the signature, found before an SMS is paid for."""
    row = await services.petition(petition_id)
    if row is None:
        raise services.PetitionError("not_found")
    if row["status"] not in services.SIGNABLE:
        raise services.PetitionError("not_signable")
    refusal = await services.eligibility(row, resident)
    if refusal is not None:
        raise services.PetitionError(refusal)
    if await services.signed(petition_id, resident["id"]):
        raise services.PetitionError("already_signed")


async def send_code(staff: StaffMember, petition: dict[str, Any], resident: dict[str, Any],
                    gateway: SmsGateway) -> CodeSent:
    """Text the resident a fresh code for this petition at this desk."""
    return await desk.send_code(staff.id, PURPOSE, petition["id"], resident, gateway,
                                CODE_MESSAGE, id=petition["id"])


async def check_code(staff: StaffMember, petition_id: int, phone: str, code: str) -> None:
    """Check and use up the code the resident read out; SignInError says why it failed."""
    code_id = await desk.matching_code(staff.id, PURPOSE, petition_id, phone, code)
    async with transaction():
        await desk.claim_code(code_id)


async def _signature_id(petition_id: int, resident_id: int) -> int:
    row = await Signature.select(Signature.id).where(
        (Signature.petition == petition_id) & (Signature.resident == resident_id)).first()
    assert row is not None
    return int(row["id"])


async def sign_by_code(staff: StaffMember, petition_id: int, phone_text: str,
                       code: str) -> int:
    """The resident read out the code sent to their phone; returns the signature's id."""
    resident = await resident_by_phone(phone_text, "code")
    await check_desk(staff, resident, "code")
    await check_code(staff, petition_id, resident["phone"], code)
    await services.sign(petition_id, resident["id"], channel="assisted", assisted_by=staff.id)
    return await _signature_id(petition_id, resident["id"])


async def sign_by_paper(actor: Identity, staff: StaffMember, petition_id: int,
                        phone_text: str, paper_form: str, residence_checked: bool) -> int:
    """The resident signed a numbered paper form; their residence is confirmed by the staff
    member, now if not before. Returns the signature's id."""
    number = " ".join(paper_form.split())
    resident = await resident_at_desk(phone_text, "paper_phone")
    await check_desk(staff, resident, "paper_phone")
    await precheck(petition_id, resident)
    if not number or len(number) > PAPER_FORM_MAX:
        raise AssistError("paper_form_required", "paper_form")
    if resident["residence_confirmed_at"] is None:
        if not residence_checked:
            raise AssistError("residence_unchecked", "residence_checked")
        try:
            await staff_accounts.confirm_residence(actor, resident["id"])
        except staff_accounts.StaffError as error:
            # Refused only if the home changed meanwhile, or the grant does not reach it.
            raise AssistError("other_mahalla", "paper_phone") from error
    await services.sign(petition_id, resident["id"], channel="assisted", assisted_by=staff.id,
                        paper_form=number)
    return await _signature_id(petition_id, resident["id"])


async def receipt(signature_id: int) -> dict[str, Any] | None:
    """What the resident's receipt shows: never the full phone number."""
    row = await Signature.select(
        Signature.id, Signature.petition, Signature.mahalla, Signature.channel,
        Signature.paper_form, Signature.at, Signature.valid,
        Signature.petition.title.as_alias("title"),
        Signature.assisted_by.display_name.as_alias("assisted_by_name"),
        Signature.resident.phone.as_alias("phone"),
        Signature.resident.display_name.as_alias("resident_name"),
        Signature.mahalla.district.as_alias("district"),
        Signature.mahalla.district.region.as_alias("region"),
    ).where(Signature.id == signature_id).first()
    if row is None:
        return None
    phone = row.pop("phone")
    row["masked_phone"] = mask_phone(phone) if phone else ""
    return row
