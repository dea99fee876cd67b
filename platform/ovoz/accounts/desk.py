"""The mahalla desk: acting for a resident who came to the office.

Staff of the resident's own mahalla find them by phone number (or, on a paper form, by the Ovoz
number of a resident registered here without a phone); the resident agrees by reading out a
code Ovoz texts to their phone, or signs a numbered paper form. The code lives in the SignInCode
table under the sign-in code's rules (lifetime, tries, one live code per number, resend delay,
the per-number limit), but its digest is bound to a purpose, a subject (a petition, a cycle)
and the staff member: read aloud at the desk, it cannot sign anyone in to Ovoz, nor serve
another subject or another desk.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from ovoz.accounts import services as accounts
from ovoz.accounts.permissions import Action, Actor, Place, allowed, scopes
from ovoz.accounts.phones import parse_phone
from ovoz.accounts.sms import SmsGateway, mask_phone
from ovoz.accounts.tables import Resident, SignInCode
from ovoz.db import transaction
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.settings import get_settings
from ovoz.store.services import hit

# A desk serves its whole mahalla from one address, so the limits are the staff member's.
CODES_PER_STAFF_PER_HOUR = 60
CHECKS_PER_STAFF_PER_HOUR = 120

AssistCode = Literal["unknown_resident", "no_home", "other_mahalla", "residence_unchecked",
                     "paper_form_required"]


class AssistError(ValueError):
    """The resident cannot be helped here; `field` names the form field."""

    def __init__(self, code: AssistCode, field: str) -> None:
        super().__init__(code)
        self.code: AssistCode = code
        self.field = field


@dataclass(frozen=True, slots=True)
class CodeSent:
    phone: str
    masked_phone: str


def desk_mahallas(staff: Actor) -> list[int]:
    """The mahallas whose desk this person keeps, in the order of their grants."""
    return list(dict.fromkeys(grant.mahalla_id for grant in scopes(staff, Action.ASSIST_RESIDENT)
                              if grant.mahalla_id is not None))


def message(error: AssistError, paper_form_max: int) -> str:
    """What the staff member reads beside the field, in their language."""
    messages = {
        "unknown_resident": locale.gettext(
            "No resident has this phone or Ovoz number. Register them at the desk first."),
        "no_home": locale.gettext("This resident has not chosen a home mahalla in Ovoz."),
        "other_mahalla": locale.gettext(
            "This resident lives in another mahalla. Only staff of their own mahalla can act "
            "for them."),
        "residence_unchecked": locale.gettext(
            "Confirm that you have checked the resident's documents: they live in this "
            "mahalla."),
        "paper_form_required": locale.gettext(
            "Write the number of the paper form, up to %(count)s characters.",
            count=paper_form_max),
    }
    return messages[error.code]


def now() -> datetime:
    return datetime.now(UTC)


async def resident_by_phone(phone_text: str, field: str) -> dict[str, Any]:
    """The account behind a number the resident gives; InvalidPhone for a malformed one."""
    phone = parse_phone(phone_text)
    row = await Resident.select().where(
        (Resident.phone == phone) & Resident.deleted_at.is_null()).first()
    if row is None:
        raise AssistError("unknown_resident", field)
    return row


# An Ovoz number is the resident's id, printed on their desk receipt: "№125" or "125".
OVOZ_NUMBER = re.compile(r"^\s*(?:№|#|N\s*)?\s*(\d{1,8})\s*$", re.IGNORECASE)


async def resident_at_desk(text: str, field: str) -> dict[str, Any]:
    """The resident a desk form names, by their phone or, for residents without one, by
    their Ovoz number; InvalidPhone for anything else. A local phone has nine digits, more
    than an Ovoz number has."""
    number = OVOZ_NUMBER.match(text or "")
    if number is None:
        return await resident_by_phone(text, field)
    row = await Resident.select().where(
        (Resident.id == int(number[1])) & Resident.deleted_at.is_null()).first()
    if row is None:
        raise AssistError("unknown_resident", field)
    return row


async def home_place(resident: Mapping[str, Any], field: str) -> Place:
    mahalla = await geo.mahalla(resident["mahalla"]) if resident["mahalla"] else None
    district = await geo.district(mahalla["district"]) if mahalla else None
    if mahalla is None or district is None:
        raise AssistError("no_home", field)
    return Place(district["region"], district["id"], mahalla["id"])


async def check_desk(staff: Actor, resident: Mapping[str, Any], field: str) -> None:
    """Only staff of the resident's own mahalla act for them."""
    if not allowed(staff, Action.ASSIST_RESIDENT, await home_place(resident, field)):
        raise AssistError("other_mahalla", field)


def _digest(phone: str, purpose: str, subject_id: int, staff_id: int, code: str) -> str:
    key = get_settings().secret_key.encode()
    message = "\x1f".join((phone, purpose, str(subject_id), str(staff_id), code))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


async def _limit(key: str, limit: int) -> None:
    decision = await hit(key, limit, 3600)
    if not decision.allowed:
        raise accounts.SignInError("rate_limited", retry_after=decision.retry_after)


async def send_code(staff_id: int, purpose: str, subject_id: int, resident: Mapping[str, Any],
                    gateway: SmsGateway, message: str, **values: object) -> CodeSent:
    """Text the resident a fresh 6-digit code; `message` (a msgid with %(code)s) is written in
    the resident's language. Earlier codes for the number stop working, as for sign-in."""
    phone = resident["phone"]
    latest = await SignInCode.select(SignInCode.created_at).where(
        SignInCode.phone == phone).order_by(SignInCode.created_at, ascending=False).first()
    if latest and now() - latest["created_at"] < accounts.RESEND_AFTER:
        wait = accounts.RESEND_AFTER - (now() - latest["created_at"])
        raise accounts.SignInError("resend_too_soon",
                                   retry_after=max(1, int(wait.total_seconds()) + 1))
    # The number's budget is shared with sign-in codes: it is the same person's phone.
    await _limit(f"code:number:{phone}", accounts.CODES_PER_NUMBER_PER_HOUR)
    await _limit(f"{purpose}:codes:{staff_id}", CODES_PER_STAFF_PER_HOUR)
    code = f"{secrets.randbelow(1_000_000):06d}"
    issued = now()
    async with transaction():
        await SignInCode.update({SignInCode.used_at: issued}).where(
            (SignInCode.phone == phone) & SignInCode.used_at.is_null())
        await SignInCode.insert(SignInCode(
            phone=phone, digest=_digest(phone, purpose, subject_id, staff_id, code),
            created_at=issued, expires_at=issued + accounts.CODE_LIFETIME))
    language = locale.current_language.set(resident["language"] or "uz")
    try:
        text = locale.gettext(message, code=code, **values)
    finally:
        locale.current_language.reset(language)
    await gateway.send(phone, text)
    return CodeSent(phone=phone, masked_phone=mask_phone(phone))


async def matching_code(staff_id: int, purpose: str, subject_id: int, phone: str,
                        code: str) -> int:
    """The live code the resident read out, checked under the sign-in code's rules but not
    used up; SignInError says why it does not match. A wrong try is counted and committed."""
    await _limit(f"{purpose}:checks:{staff_id}", CHECKS_PER_STAFF_PER_HOUR)
    code = "".join(ch for ch in code if ch.isdigit())
    async with transaction():
        current = await SignInCode.select().where(
            (SignInCode.phone == phone) & SignInCode.used_at.is_null()
        ).order_by(SignInCode.created_at, ascending=False).first()
        if current is None or current["expires_at"] <= now():
            raise accounts.SignInError("code_expired")
        if current["attempts"] >= accounts.CODE_TRIES:
            raise accounts.SignInError("too_many_tries")
        if len(code) == 6 and hmac.compare_digest(
                current["digest"], _digest(phone, purpose, subject_id, staff_id, code)):
            return int(current["id"])
        await SignInCode.update({SignInCode.attempts: SignInCode.attempts + 1}).where(
            SignInCode.id == current["id"])
    remaining = accounts.CODE_TRIES - current["attempts"] - 1
    raise accounts.SignInError("wrong_code" if remaining else "too_many_tries",
                               remaining=remaining)


async def claim_code(code_id: int) -> None:
    """Use up a matching code, once: inside the caller's transaction, so the code stays usable
    when the action it consents to is refused."""
    claimed = await SignInCode.update({SignInCode.used_at: now()}).where(
        (SignInCode.id == code_id) & SignInCode.used_at.is_null()).returning(SignInCode.id)
    if not claimed:
        raise accounts.SignInError("code_expired")
