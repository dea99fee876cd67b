"""Residents: sign-in by SMS code, profile, verification levels, API tokens, their data."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ovoz.accounts.phones import InvalidPhone, parse_phone
from ovoz.accounts.sms import SmsGateway, mask_phone
from ovoz.accounts.tables import ApiToken, Resident, SignInCode
from ovoz.db import transaction
from ovoz.geo.tables import Mahalla
from ovoz.i18n import locale
from ovoz.settings import LANGUAGES, get_settings
from ovoz.store.services import hit, hits

CODE_LIFETIME = timedelta(minutes=5)
CODE_TRIES = 5
RESEND_AFTER = timedelta(seconds=60)
# Per number and per address: enough for a person who mistypes, too few for a script.
CODES_PER_NUMBER_PER_HOUR = 5
CODES_PER_ADDRESS_PER_HOUR = 20
CHECKS_PER_ADDRESS_PER_HOUR = 60
DAY = 86400
DISPLAY_NAME_LENGTH = 60

__all__ = ["InvalidPhone", "parse_phone"]


class SignInError(Exception):
    """A sign-in step was refused; `code` says why, for a translated message."""

    def __init__(self, code: str, retry_after: int = 0, remaining: int = 0) -> None:
        super().__init__(code)
        self.code = code
        self.retry_after = retry_after
        self.remaining = remaining


class ProfileError(ValueError):
    def __init__(self, field: str, code: str) -> None:
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code


@dataclass(frozen=True, slots=True)
class CodeSent:
    phone: str
    masked_phone: str
    resend_after: int


def now() -> datetime:
    return datetime.now(UTC)


def _digest(*parts: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


async def _limit(key: str, limit: int, window: int) -> None:
    decision = await hit(key, limit, window)
    if not decision.allowed:
        raise SignInError("rate_limited", retry_after=decision.retry_after)


async def send_sign_in_code(phone_text: str, address: str, gateway: SmsGateway) -> CodeSent:
    """Send a fresh 6-digit code to the number; earlier codes stop working."""
    phone = parse_phone(phone_text)
    latest = await SignInCode.select(SignInCode.created_at).where(
        SignInCode.phone == phone
    ).order_by(SignInCode.created_at, ascending=False).first()
    if latest and now() - latest["created_at"] < RESEND_AFTER:
        wait = RESEND_AFTER - (now() - latest["created_at"])
        raise SignInError("resend_too_soon", retry_after=max(1, int(wait.total_seconds()) + 1))
    holder = await Resident.select(Resident.blocked_at).where(Resident.phone == phone).first()
    if holder is not None and holder["blocked_at"] is not None:
        raise SignInError("blocked")
    if holder is None:
        await _refuse_new_accounts_over_limit(phone, address)
    await _limit(f"code:number:{phone}", CODES_PER_NUMBER_PER_HOUR, 3600)
    await _limit(f"code:address:{address}", CODES_PER_ADDRESS_PER_HOUR, 3600)
    code = f"{secrets.randbelow(1_000_000):06d}"
    issued = now()
    async with transaction():
        await SignInCode.update({SignInCode.used_at: issued}).where(
            (SignInCode.phone == phone) & SignInCode.used_at.is_null()
        )
        await SignInCode.insert(
            SignInCode(phone=phone, digest=_digest(phone, code), created_at=issued,
                       expires_at=issued + CODE_LIFETIME)
        )
    await gateway.send(phone, locale.gettext(
        "Ovoz sign-in code: %(code)s. Do not tell it to anyone.", code=code))
    return CodeSent(phone=phone, masked_phone=mask_phone(phone),
                    resend_after=int(RESEND_AFTER.total_seconds()))


def _new_account_keys(phone: str, address: str) -> tuple[tuple[str, int], tuple[str, int]]:
    """The counters of new accounts a day: per internet address, and per block of a hundred
    consecutive numbers (bulk-bought SIM cards come in runs)."""
    settings = get_settings()
    return ((f"accounts:new:address:{address}", settings.new_accounts_per_address_per_day),
            (f"accounts:new:range:{phone[:-2]}", settings.new_accounts_per_range_per_day))


async def _refuse_new_accounts_over_limit(phone: str, address: str) -> None:
    """Checked before a code goes to a new number, so a script spends no SMS on it."""
    for key, limit in _new_account_keys(phone, address):
        if await hits(key, DAY) >= limit:
            raise SignInError("too_many_accounts")


async def sign_in_with_code(phone_text: str, code: str, address: str) -> dict[str, Any]:
    """Check the code; the first success for a number creates the resident."""
    phone = parse_phone(phone_text)
    await _limit(f"check:address:{address}", CHECKS_PER_ADDRESS_PER_HOUR, 3600)
    code = "".join(ch for ch in code if ch.isdigit())
    refusal: SignInError | None = None
    async with transaction():
        current = await SignInCode.select().where(
            (SignInCode.phone == phone) & SignInCode.used_at.is_null()
        ).order_by(SignInCode.created_at, ascending=False).first()
        if current is None or current["expires_at"] <= now():
            raise SignInError("code_expired")
        if current["attempts"] >= CODE_TRIES:
            raise SignInError("too_many_tries")
        if len(code) != 6 or not hmac.compare_digest(current["digest"], _digest(phone, code)):
            # Counted in this transaction, which commits: the refusal is raised after it.
            await SignInCode.update({SignInCode.attempts: SignInCode.attempts + 1}).where(
                SignInCode.id == current["id"]
            )
            remaining = CODE_TRIES - current["attempts"] - 1
            refusal = SignInError("wrong_code" if remaining else "too_many_tries",
                                  remaining=remaining)
        else:
            resident_row = await _claim_code(current["id"], phone, address)
    if refusal is not None:
        raise refusal
    return resident_row


async def _claim_code(code_id: int, phone: str, address: str) -> dict[str, Any]:
    claimed = await SignInCode.update({SignInCode.used_at: now()}).where(
        (SignInCode.id == code_id) & SignInCode.used_at.is_null()
    ).returning(SignInCode.id)
    if not claimed:
        raise SignInError("code_expired")
    row = await Resident.select().where(Resident.phone == phone).first()
    if row is not None and row["blocked_at"] is not None:
        raise SignInError("blocked")
    if row is None:
        for key, limit in _new_account_keys(phone, address):
            if not (await hit(key, limit, DAY)).allowed:
                raise SignInError("too_many_accounts")
        await Resident.insert(Resident(phone=phone, created_at=now(), phone_verified_at=now(),
                                       language=locale.current_language.get()))
        row = await Resident.select().where(Resident.phone == phone).first()
    assert row is not None
    return row


async def resident(resident_id: int) -> dict[str, Any] | None:
    return await Resident.select().where(
        (Resident.id == resident_id) & Resident.deleted_at.is_null()
    ).first()


def verification_levels(row: dict[str, Any]) -> list[str]:
    levels = []
    if row.get("phone_verified_at"):
        levels.append("phone")
    if row.get("residence_confirmed_at"):
        levels.append("residence")
    if row.get("oneid_verified_at"):
        levels.append("oneid")
    return levels


def public_name(row: dict[str, Any]) -> str:
    """What others see: the first name and the initial of the next ("Aziz K."), never the
    number. A deleted account shows as a former resident."""
    if row.get("deleted_at"):
        return locale.gettext("Former resident")
    words = (row.get("display_name") or "").split()
    if not words:
        return locale.gettext("Resident")
    if len(words) == 1:
        return words[0]
    return f"{words[0]} {words[1][0]}."


async def update_profile(resident_id: int, display_name: str, mahalla_id: int | None,
                         language: str) -> dict[str, Any]:
    name = " ".join(display_name.split())
    if not name:
        raise ProfileError("display_name", "required")
    if len(name) > DISPLAY_NAME_LENGTH:
        raise ProfileError("display_name", "too_long")
    if language not in LANGUAGES:
        raise ProfileError("language", "unknown")
    if mahalla_id is not None and await Mahalla.count().where(Mahalla.id == mahalla_id) == 0:
        raise ProfileError("mahalla_id", "unknown")
    async with transaction():
        current = await resident(resident_id)
        if current is None:
            raise ProfileError("resident", "unknown")
        changes: dict[Any, Any] = {
            Resident.display_name: name, Resident.language: language,
            Resident.mahalla: mahalla_id,
        }
        if mahalla_id != current["mahalla"]:
            # Residence is confirmed for one mahalla; a new home needs a new confirmation.
            changes[Resident.residence_confirmed_at] = None
            changes[Resident.residence_confirmed_by] = None
        await Resident.update(changes).where(Resident.id == resident_id)
    updated = await resident(resident_id)
    assert updated is not None
    return updated


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_api_token(resident_id: int, label: str = "") -> tuple[str, dict[str, Any]]:
    """A bearer token for the API; only its digest is kept, so it is shown once."""
    token = "ovz_" + secrets.token_urlsafe(32)
    issued = now()
    await ApiToken.insert(ApiToken(
        resident=resident_id, digest=_token_digest(token), label=label[:80],
        created_at=issued, expires_at=issued + timedelta(days=get_settings().api_token_days),
    ))
    row = await ApiToken.select().where(ApiToken.digest == _token_digest(token)).first()
    assert row is not None
    return token, row


async def resident_for_token(token: str) -> dict[str, Any] | None:
    row = await ApiToken.select(ApiToken.id, ApiToken.resident, ApiToken.expires_at,
                                ApiToken.revoked_at).where(
        ApiToken.digest == _token_digest(token)
    ).first()
    if row is None or row["revoked_at"] is not None or row["expires_at"] <= now():
        return None
    await ApiToken.update({ApiToken.last_used_at: now()}).where(ApiToken.id == row["id"])
    holder = await resident(row["resident"])
    return None if holder is None or holder["blocked_at"] is not None else holder


async def api_tokens(resident_id: int) -> list[dict[str, Any]]:
    return await ApiToken.select(
        ApiToken.id, ApiToken.label, ApiToken.created_at, ApiToken.expires_at,
        ApiToken.last_used_at,
    ).where(
        (ApiToken.resident == resident_id) & ApiToken.revoked_at.is_null()
        & (ApiToken.expires_at > now())
    ).order_by(ApiToken.created_at, ascending=False)


async def revoke_api_token(resident_id: int, token_id: int) -> bool:
    revoked = await ApiToken.update({ApiToken.revoked_at: now()}).where(
        (ApiToken.id == token_id) & (ApiToken.resident == resident_id)
        & ApiToken.revoked_at.is_null()
    ).returning(ApiToken.id)
    return bool(revoked)


async def export_data(resident_id: int) -> dict[str, Any]:
    """Everything Ovoz keeps about the resident, for them to download."""
    row = await resident(resident_id)
    if row is None:
        return {}
    tokens = await api_tokens(resident_id)
    return {
        "phone": row["phone"],
        "display_name": row["display_name"],
        "public_name": public_name(row),
        "language": row["language"],
        "mahalla_id": row["mahalla"],
        "verification": verification_levels(row),
        "residence_confirmed_at": _iso(row["residence_confirmed_at"]),
        "created_at": _iso(row["created_at"]),
        "api_tokens": [{"label": t["label"], "created_at": _iso(t["created_at"]),
                        "expires_at": _iso(t["expires_at"])} for t in tokens],
    }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


async def delete_account(resident_id: int) -> None:
    """Remove all personal data; the row stays so public contributions show a former
    resident."""
    async with transaction():
        row = await resident(resident_id)
        if row is None:
            return
        await ApiToken.delete().where(ApiToken.resident == resident_id)
        if row["phone"]:
            await SignInCode.delete().where(SignInCode.phone == row["phone"])
        await Resident.update({
            Resident.phone: None, Resident.display_name: "", Resident.mahalla: None,
            Resident.oneid_fingerprint: None, Resident.oneid_verified_at: None,
            Resident.residence_confirmed_at: None, Resident.residence_confirmed_by: None,
            Resident.deleted_at: now(), Resident.session_epoch: Resident.session_epoch + 1,
        }).where(Resident.id == resident_id)


async def sign_out_everywhere(resident_id: int) -> None:
    await Resident.update({Resident.session_epoch: Resident.session_epoch + 1}).where(
        Resident.id == resident_id
    )


async def set_blocked(resident_id: int, blocked: bool) -> bool:
    """Block a resident (signed out everywhere, API tokens revoked, no new sign-in) or lift
    the block; False when nothing changed. Only moderation.services calls this."""
    at = now()
    async with transaction():
        changed = await Resident.update({
            Resident.blocked_at: at if blocked else None,
            Resident.session_epoch: Resident.session_epoch + 1,
        }).where((Resident.id == resident_id) & Resident.deleted_at.is_null() & (
            Resident.blocked_at.is_null() if blocked else Resident.blocked_at.is_not_null()
        )).returning(Resident.id)
        if changed and blocked:
            await ApiToken.update({ApiToken.revoked_at: at}).where(
                (ApiToken.resident == resident_id) & ApiToken.revoked_at.is_null())
    return bool(changed)


async def sign_in_with_oneid(fingerprint: str, first_name: str,
                             linking_resident_id: int | None = None) -> dict[str, Any]:
    """OneID proves a person: one PINFL (kept only as its fingerprint) is one account. A
    signed-in resident links it to their account; otherwise it signs in the account that has it,
    or creates one."""
    verified = now()
    async with transaction():
        holder = await Resident.select(Resident.id, Resident.blocked_at).where(
            Resident.oneid_fingerprint == fingerprint
        ).first()
        if linking_resident_id is not None:
            if holder is not None and holder["id"] != linking_resident_id:
                raise SignInError("oneid_taken")
            await Resident.update({Resident.oneid_fingerprint: fingerprint,
                                   Resident.oneid_verified_at: verified}).where(
                Resident.id == linking_resident_id
            )
            resident_id = linking_resident_id
        elif holder is not None:
            if holder["blocked_at"] is not None:
                raise SignInError("blocked")
            await Resident.update({Resident.oneid_verified_at: verified}).where(
                Resident.id == holder["id"]
            )
            resident_id = holder["id"]
        else:
            name = first_name.strip().title()[:DISPLAY_NAME_LENGTH]
            created = await Resident.insert(Resident(
                oneid_fingerprint=fingerprint, oneid_verified_at=verified, created_at=verified,
                display_name=name, language=locale.current_language.get(),
            )).returning(Resident.id)
            resident_id = created[0]["id"]
    row = await resident(resident_id)
    assert row is not None
    return row
