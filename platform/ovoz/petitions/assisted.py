"""Assisted signing: mahalla staff record the signature of a resident who came to the office.

The resident is identified either by a code Ovoz sends to their phone, which they read out to
the staff member, or by a numbered paper form once the staff member has confirmed where they
live. The code lives in the accounts' SignInCode table under the same rules as a sign-in code
(lifetime, tries, one live code per number, resend delay, the per-number limit), but its
digest is bound to this purpose, this petition and this staff member: read aloud at the desk,
it cannot sign anyone in to Ovoz, nor serve another petition or another desk.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from ovoz.accounts import services as accounts
from ovoz.accounts import staff as staff_accounts
from ovoz.accounts.permissions import Action, Grant, Place, allowed, scopes
from ovoz.accounts.phones import parse_phone
from ovoz.accounts.sessions import Identity
from ovoz.accounts.sms import SmsGateway, mask_phone
from ovoz.accounts.tables import Resident, SignInCode
from ovoz.db import transaction
from ovoz.i18n import locale
from ovoz.petitions import services
from ovoz.petitions.tables import Petition, Signature
from ovoz.settings import get_settings
from ovoz.store.services import hit

PURPOSE = "petition-assist"
# A desk serves its whole mahalla from one address, so the limits are the staff member's.
CODES_PER_STAFF_PER_HOUR = 60
CHECKS_PER_STAFF_PER_HOUR = 120
PAPER_FORM_MAX = 40

AssistCode = Literal["unknown_resident", "no_home", "other_mahalla", "residence_unchecked",
                     "paper_form_required"]


class AssistError(ValueError):
    """The resident cannot be signed for here; `field` names the form field."""

    def __init__(self, code: AssistCode, field: str) -> None:
        super().__init__(code)
        self.code: AssistCode = code
        self.field = field


@dataclass(frozen=True, slots=True)
class CodeSent:
    phone: str
    masked_phone: str


def assist_grants(staff: services.Staff) -> list[Grant]:
    return [grant for grant in scopes(staff, Action.ASSIST_RESIDENT)
            if grant.mahalla_id is not None]


def desk_mahallas(staff: services.Staff, petition: dict[str, Any]) -> list[int]:
    """The staff member's mahallas inside the petition's area: whose residents they may sign
    for on it."""
    area = services.petition_area(petition)
    return sorted({grant.mahalla_id for grant in assist_grants(staff)
                   if grant.mahalla_id is not None and grant.region_id is not None
                   and area.holds(services.Area(grant.region_id, grant.district_id,
                                                grant.mahalla_id))})


async def signable_here(staff: services.Staff) -> list[dict[str, Any]]:
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


async def resident_by_phone(phone_text: str, field: str) -> dict[str, Any]:
    """The account behind a number the resident gives; InvalidPhone for a malformed one."""
    phone = parse_phone(phone_text)
    row = await Resident.select().where(
        (Resident.phone == phone) & Resident.deleted_at.is_null()).first()
    if row is None:
        raise AssistError("unknown_resident", field)
    return row


async def home_place(resident: dict[str, Any], field: str) -> Place:
    area = await services.area_of_mahalla(resident["mahalla"]) if resident["mahalla"] else None
    if area is None:
        raise AssistError("no_home", field)
    return area.place


async def check_desk(staff: services.Staff, resident: dict[str, Any], field: str) -> None:
    """Only staff of the resident's own mahalla sign for them."""
    if not allowed(staff, Action.ASSIST_RESIDENT, await home_place(resident, field)):
        raise AssistError("other_mahalla", field)


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


def _digest(phone: str, petition_id: int, staff_id: int, code: str) -> str:
    key = get_settings().secret_key.encode()
    message = "\x1f".join((phone, PURPOSE, str(petition_id), str(staff_id), code))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


async def _limit(key: str, limit: int) -> None:
    decision = await hit(key, limit, 3600)
    if not decision.allowed:
        raise accounts.SignInError("rate_limited", retry_after=decision.retry_after)


async def send_code(staff: services.Staff, petition: dict[str, Any], resident: dict[str, Any],
                    gateway: SmsGateway) -> CodeSent:
    """Text the resident a fresh 6-digit code for this petition at this desk; earlier codes
    for the number stop working, as when a sign-in code is sent."""
    phone = resident["phone"]
    latest = await SignInCode.select(SignInCode.created_at).where(
        SignInCode.phone == phone).order_by(SignInCode.created_at, ascending=False).first()
    if latest and services.now() - latest["created_at"] < accounts.RESEND_AFTER:
        wait = accounts.RESEND_AFTER - (services.now() - latest["created_at"])
        raise accounts.SignInError("resend_too_soon",
                                   retry_after=max(1, int(wait.total_seconds()) + 1))
    # The number's budget is shared with sign-in codes: it is the same person's phone.
    await _limit(f"code:number:{phone}", accounts.CODES_PER_NUMBER_PER_HOUR)
    await _limit(f"petitions:assist:codes:{staff.id}", CODES_PER_STAFF_PER_HOUR)
    code = f"{secrets.randbelow(1_000_000):06d}"
    issued = services.now()
    async with transaction():
        await SignInCode.update({SignInCode.used_at: issued}).where(
            (SignInCode.phone == phone) & SignInCode.used_at.is_null())
        await SignInCode.insert(SignInCode(
            phone=phone, digest=_digest(phone, petition["id"], staff.id, code),
            created_at=issued, expires_at=issued + accounts.CODE_LIFETIME))
    # The message is the resident's, in their language, not the staff member's.
    language = locale.current_language.set(resident["language"] or "uz")
    try:
        text = locale.gettext(
            "Ovoz: code %(code)s to sign petition №%(id)s at the mahalla office. Tell it "
            "only to the mahalla staff member in front of you.", code=code, id=petition["id"])
    finally:
        locale.current_language.reset(language)
    await gateway.send(phone, text)
    return CodeSent(phone=phone, masked_phone=mask_phone(phone))


async def check_code(staff: services.Staff, petition_id: int, phone: str, code: str) -> None:
    """Check and use up the code the resident read out, under the sign-in code's rules
    (lifetime, tries), without signing anyone in; SignInError says why it failed."""
    await _limit(f"petitions:assist:checks:{staff.id}", CHECKS_PER_STAFF_PER_HOUR)
    code = "".join(ch for ch in code if ch.isdigit())
    refusal: accounts.SignInError | None = None
    async with transaction():
        current = await SignInCode.select().where(
            (SignInCode.phone == phone) & SignInCode.used_at.is_null()
        ).order_by(SignInCode.created_at, ascending=False).first()
        if current is None or current["expires_at"] <= services.now():
            raise accounts.SignInError("code_expired")
        if current["attempts"] >= accounts.CODE_TRIES:
            raise accounts.SignInError("too_many_tries")
        expected = _digest(phone, petition_id, staff.id, code)
        if len(code) != 6 or not hmac.compare_digest(current["digest"], expected):
            # Counted in this transaction, which commits: the refusal is raised after it.
            await SignInCode.update({SignInCode.attempts: SignInCode.attempts + 1}).where(
                SignInCode.id == current["id"])
            remaining = accounts.CODE_TRIES - current["attempts"] - 1
            refusal = accounts.SignInError("wrong_code" if remaining else "too_many_tries",
                                           remaining=remaining)
        else:
            claimed = await SignInCode.update({SignInCode.used_at: services.now()}).where(
                (SignInCode.id == current["id"]) & SignInCode.used_at.is_null()
            ).returning(SignInCode.id)
            if not claimed:
                refusal = accounts.SignInError("code_expired")
    if refusal is not None:
        raise refusal


async def _signature_id(petition_id: int, resident_id: int) -> int:
    row = await Signature.select(Signature.id).where(
        (Signature.petition == petition_id) & (Signature.resident == resident_id)).first()
    assert row is not None
    return int(row["id"])


async def sign_by_code(staff: services.Staff, petition_id: int, phone_text: str,
                       code: str) -> int:
    """The resident read out the code sent to their phone; returns the signature's id."""
    resident = await resident_by_phone(phone_text, "code")
    await check_desk(staff, resident, "code")
    await check_code(staff, petition_id, resident["phone"], code)
    await services.sign(petition_id, resident["id"], channel="assisted", assisted_by=staff.id)
    return await _signature_id(petition_id, resident["id"])


async def sign_by_paper(actor: Identity, staff: services.Staff, petition_id: int,
                        phone_text: str, paper_form: str, residence_checked: bool) -> int:
    """The resident signed a numbered paper form; their residence is confirmed by the staff
    member, now if not before. Returns the signature's id."""
    number = " ".join(paper_form.split())
    resident = await resident_by_phone(phone_text, "paper_phone")
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
