"""Staff accounts as services: creating them, roles, the two sign-in steps, TOTP enrolment and
confirming a resident's home mahalla. No HTTP here: the pages and the `ovoz staff` command call
these and turn StaffError, StaffSignInError and PermissionDenied into messages.

`actor` is the Identity of the staff member doing it; None means the command line, which is
trusted (whoever runs it already holds the server). Every change is recorded twice: a StaffAudit
row (who did it, for staff) and a ledger entry (what happened, for everyone, with ids only).

Sign-in attempts are claimed before they are checked: the failure count goes up by one, on the
condition that nobody else changed it since it was read, and a success sets it back to zero. So
parallel requests cannot slip more guesses past the delay and the lockout than one at a time.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from piccolo.query.functions.aggregate import Count

from ovoz.accounts import credentials
from ovoz.accounts.permissions import (
    NATIONAL,
    Action,
    Actor,
    Grant,
    PermissionDenied,
    Place,
    Role,
    allowed,
    may_manage_account,
    require,
    roles_place,
    scopes,
    validate_grant,
)
from ovoz.accounts.phones import InvalidPhone, parse_phone
from ovoz.accounts.services import DISPLAY_NAME_LENGTH as RESIDENT_NAME_LENGTH
from ovoz.accounts.tables import RecoveryCode, Resident, RoleGrant, StaffAccount, StaffAudit
from ovoz.db import is_unique_violation, transaction
from ovoz.geo.tables import District, Mahalla, Region
from ovoz.ledger import services as ledger
from ovoz.pagination import Page, paginate
from ovoz.settings import LANGUAGES

if TYPE_CHECKING:
    from ovoz.accounts.sessions import Identity

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
DISPLAY_NAME_LENGTH = 80
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[A-Za-z]{2,}")
RECOVERY_CODE_COUNT = 10
# How often a sign-in attempt re-reads the account when parallel attempts keep changing it.
_CLAIM_TRIES = 5
_TOTP_FORMAT = re.compile(rf"[0-9]{{{credentials.TOTP_DIGITS}}}")
_RECOVERY_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]")
_RECOVERY_FORMAT = re.compile(
    rf"[{credentials.RECOVERY_ALPHABET}oil]"
    rf"{{{credentials.RECOVERY_GROUPS * credentials.RECOVERY_GROUP_LENGTH}}}"
)

# In plain English for the command line and logs; the pages translate by code.
PASSWORD_REASONS = {
    "too_short": f"it is shorter than {credentials.MIN_PASSWORD_LENGTH} characters",
    "too_long": f"it is longer than {credentials.MAX_PASSWORD_LENGTH} characters",
    "common": "it is one of the most common passwords (digits or punctuation added at the end "
              "do not change that)",
    "contains_username": "it contains the username",
}

# What the pages and the sign-in steps get of an account: never the hash or the TOTP secret.
_PUBLIC_COLUMNS = (
    StaffAccount.id, StaffAccount.username, StaffAccount.display_name,
    StaffAccount.session_epoch, StaffAccount.totp_enrolled_at, StaffAccount.created_at,
    StaffAccount.disabled_at,
)
_SIGN_IN_COLUMNS = (
    StaffAccount.id, StaffAccount.password_hash, StaffAccount.totp_secret,
    StaffAccount.totp_enrolled_at, StaffAccount.totp_last_step, StaffAccount.failed_attempts,
    StaffAccount.last_failure_at, StaffAccount.disabled_at,
)
_GRANT_COLUMNS = (
    RoleGrant.id, RoleGrant.staff, RoleGrant.role, RoleGrant.region, RoleGrant.district,
    RoleGrant.mahalla, RoleGrant.department_id, RoleGrant.granted_by, RoleGrant.granted_at,
)


class StaffError(ValueError):
    """A request about staff was refused. `field` and `code` are stable, for a translated
    message; the text is a plain English reason (the command line prints it). A refused password
    lists every problem in `codes`."""

    def __init__(self, field: str, code: str, message: str | None = None,
                 codes: Sequence[str] = ()) -> None:
        super().__init__(message or f"{field}: {code}")
        self.field = field
        self.code = code
        self.codes = tuple(codes) or (code,)


class StaffSignInError(Exception):
    """A sign-in step was refused. code: "wrong" (unknown username, wrong password), "locked"
    (`until` says when they may try again), "wait" (too soon after the last failure) or
    "disabled". `retry_after` is in seconds, for a Retry-After header."""

    def __init__(self, code: str, until: datetime | None = None, retry_after: int = 0) -> None:
        super().__init__(code)
        self.code = code
        self.until = until
        self.retry_after = retry_after


def current_time() -> datetime:
    return datetime.now(UTC)


def _actor_id(actor: Identity | None) -> int | None:
    return actor.staff["id"] if actor is not None and actor.staff is not None else None


def _check_actor(actor: Identity | None, action: Action, place: Place | None = None) -> None:
    # None is the command line: trusted.
    if actor is not None:
        require(actor, action, place or Place())


def require_role_manager(actor: Actor | None) -> None:
    """Managing roles somewhere: a national or a district administrator. Where each grant
    lies is checked on its own, once its places are resolved."""
    if actor is not None and not scopes(actor, Action.MANAGE_ROLES):
        raise PermissionDenied(Action.MANAGE_ROLES, NATIONAL)


def _check_grant_change(actor: Identity | None, grant: Grant) -> None:
    _check_actor(actor, Action.MANAGE_ROLES, roles_place(grant))


async def _check_account_manager(actor: Identity | None, staff_id: int) -> None:
    """Switching the account off or resetting its authenticator (see may_manage_account)."""
    if actor is not None and not may_manage_account(actor, await _grants_of(staff_id)):
        raise PermissionDenied(Action.MANAGE_ROLES, NATIONAL)


async def audit(actor_id: int | None, action: str, subject: str, at: datetime,
                detail: dict[str, Any] | None = None) -> None:
    """A StaffAudit row: who among staff did what. Other domains' staff changes use it too."""
    await StaffAudit.insert(StaffAudit(actor=actor_id, action=action, subject=subject,
                                       detail=json.dumps(detail or {}, sort_keys=True), at=at))


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


# Accounts


def _check_username(username: str) -> str:
    name = username.strip()
    if not USERNAME.fullmatch(name):
        raise StaffError(
            "username", "invalid",
            "the username must be 3 to 64 characters: lower-case Latin letters, digits, dots, "
            "dashes and underscores, starting with a letter or digit")
    return name


def _check_display_name(display_name: str) -> str:
    name = " ".join(display_name.split())
    if not name:
        raise StaffError("display_name", "required", "the display name is empty")
    if len(name) > DISPLAY_NAME_LENGTH:
        raise StaffError("display_name", "too_long",
                         f"the display name is longer than {DISPLAY_NAME_LENGTH} characters")
    return name


def _check_password(password: str, username: str) -> None:
    problems = credentials.password_problems(password, username)
    if problems:
        reasons = "; ".join(PASSWORD_REASONS.get(code, code) for code in problems)
        raise StaffError("password", problems[0], f"the password is not accepted: {reasons}",
                         codes=problems)


def _check_email(email: str) -> str:
    address = email.strip()
    if address and not EMAIL.fullmatch(address):
        raise StaffError("email", "invalid", f"{address!r} is not an e-mail address")
    return address


def new_account_problems(username: str, display_name: str, password: str, email: str = ""
                         ) -> list[StaffError]:
    """Every problem with a new account's fields, so that a form shows them all at once
    (create_staff stops at the first)."""
    problems = []
    for check in (lambda: _check_username(username),
                  lambda: _check_display_name(display_name),
                  lambda: _check_password(password, username.strip()),
                  lambda: _check_email(email)):
        try:
            check()
        except StaffError as error:
            problems.append(error)
    return problems


async def staff_account(staff_id: int) -> dict[str, Any] | None:
    return await StaffAccount.select(*_PUBLIC_COLUMNS).where(StaffAccount.id == staff_id).first()


async def create_staff(username: str, display_name: str, password: str, *,
                       actor: Identity | None = None, grants: Sequence[Grant] = (),
                       email: str = "") -> tuple[dict[str, Any], str]:
    """Create a staff account (and, with `grants`, its roles, all or nothing) with a new TOTP
    secret whose enrolment the first sign-in confirms. Returns the account and the otpauth://
    URI for an authenticator app: show it once. A district administrator may create accounts
    (to give them roles in the district after) and give only grants inside the district."""
    require_role_manager(actor)
    name = _check_username(username)
    shown_name = _check_display_name(display_name)
    _check_password(password, name)
    email = _check_email(email)
    resolved = [await resolve_grant(grant) for grant in grants]
    for grant in resolved:
        _check_grant_change(actor, grant)
    if await StaffAccount.exists().where(StaffAccount.username == name):
        raise _taken(name)
    password_hash = await credentials.hash_password(password)
    secret = credentials.new_totp_secret()
    created = current_time()
    try:
        async with transaction():
            if await StaffAccount.exists().where(StaffAccount.username == name):
                raise _taken(name)
            inserted = await StaffAccount.insert(StaffAccount(
                username=name, display_name=shown_name, password_hash=password_hash,
                totp_secret=secret, created_at=created, email=email,
            ))
            staff_id = inserted[0]["id"]
            await audit(_actor_id(actor), "staff.created", f"staff:{staff_id}", created)
            await ledger.record("accounts.staff_created", f"staff:{staff_id}", {})
            for grant in resolved:
                await _insert_grant(staff_id, grant, _actor_id(actor), created)
    except Exception as error:
        if is_unique_violation(error):
            raise _taken(name) from None
        raise
    row = await staff_account(staff_id)
    assert row is not None
    return row, credentials.enrolment_uri(secret, name)


def _taken(username: str) -> StaffError:
    return StaffError("username", "taken", f"the username {username!r} is taken")


async def sign_out_everywhere(staff_id: int) -> None:
    """End every session of the person: sessions carry the epoch they began in."""
    await StaffAccount.update({StaffAccount.session_epoch: StaffAccount.session_epoch + 1}).where(
        StaffAccount.id == staff_id
    )


async def set_disabled(staff_id: int, disabled: bool, *, actor: Identity | None) -> None:
    """Switch an account off (it can no longer sign in; its sessions end) or back on."""
    await _check_account_manager(actor, staff_id)
    if actor is not None and actor.staff is not None and actor.staff["id"] == staff_id:
        raise StaffError("staff_id", "self", "administrators cannot switch off their own account")
    at = current_time()
    async with transaction():
        await StaffAccount.update({
            StaffAccount.disabled_at: at if disabled else None,
            StaffAccount.session_epoch: StaffAccount.session_epoch + 1,
        }).where(StaffAccount.id == staff_id)
        action = "staff.disabled" if disabled else "staff.enabled"
        await audit(_actor_id(actor), action, f"staff:{staff_id}", at)
        await ledger.record(f"accounts.{action.split('.')[1]}", f"staff:{staff_id}", {})


async def reset_second_factor(staff_id: int, *, actor: Identity | None) -> None:
    """For a lost phone: a new authenticator secret, old recovery codes void, sessions ended;
    the next sign-in enrols again."""
    await _check_account_manager(actor, staff_id)
    at = current_time()
    async with transaction():
        await StaffAccount.update({
            StaffAccount.totp_secret: credentials.new_totp_secret(),
            StaffAccount.totp_enrolled_at: None, StaffAccount.totp_last_step: None,
            StaffAccount.session_epoch: StaffAccount.session_epoch + 1,
        }).where(StaffAccount.id == staff_id)
        await RecoveryCode.delete().where(RecoveryCode.staff == staff_id)
        await audit(_actor_id(actor), "totp.reset", f"staff:{staff_id}", at)


# Roles


async def resolve_grant(grant: Grant) -> Grant:
    """The grant with its parent places filled in from the database (a mahalla's district and
    region, a district's region), checked against the role. Raises StaffError."""
    try:
        role = Role(grant.role)
    except ValueError:
        raise StaffError("role", "invalid", f"unknown role: {grant.role}") from None
    region_id, district_id, mahalla_id = grant.region_id, grant.district_id, grant.mahalla_id
    if mahalla_id is not None:
        mahalla = await Mahalla.select(Mahalla.district).where(Mahalla.id == mahalla_id).first()
        if mahalla is None:
            raise StaffError("mahalla_id", "unknown", f"mahalla {mahalla_id} is not known")
        if district_id is not None and district_id != mahalla["district"]:
            raise StaffError("role", "invalid", f"mahalla {mahalla_id} is in district "
                             f"{mahalla['district']}, not in district {district_id}")
        district_id = mahalla["district"]
    if district_id is not None:
        district = await District.select(District.region).where(
            District.id == district_id).first()
        if district is None:
            raise StaffError("district_id", "unknown", f"district {district_id} is not known")
        if region_id is not None and region_id != district["region"]:
            raise StaffError("role", "invalid", f"district {district_id} is in region "
                             f"{district['region']}, not in region {region_id}")
        region_id = district["region"]
    if region_id is not None and not await Region.exists().where(Region.id == region_id):
        raise StaffError("region_id", "unknown", f"region {region_id} is not known")
    resolved = Grant(role=role, region_id=region_id, district_id=district_id,
                     mahalla_id=mahalla_id, department_id=grant.department_id)
    try:
        validate_grant(resolved)
    except ValueError as error:
        raise StaffError("role", "invalid", str(error)) from None
    return resolved


def _grant_payload(grant: Grant | dict[str, Any], grant_id: int) -> dict[str, Any]:
    if isinstance(grant, Grant):
        return {"grant_id": grant_id, "role": str(grant.role), "region_id": grant.region_id,
                "district_id": grant.district_id, "mahalla_id": grant.mahalla_id,
                "department_id": grant.department_id}
    return {"grant_id": grant_id, "role": grant["role"], "region_id": grant["region"],
            "district_id": grant["district"], "mahalla_id": grant["mahalla"],
            "department_id": grant["department_id"]}


async def _insert_grant(staff_id: int, grant: Grant, actor_id: int | None, at: datetime) -> int:
    inserted = await RoleGrant.insert(RoleGrant(
        staff=staff_id, role=str(grant.role), region=grant.region_id,
        district=grant.district_id, mahalla=grant.mahalla_id, department_id=grant.department_id,
        granted_by=actor_id, granted_at=at,
    ))
    grant_id = inserted[0]["id"]
    payload = _grant_payload(grant, grant_id)
    await audit(actor_id, "role.granted", f"staff:{staff_id}", at, payload)
    await ledger.record("accounts.role_granted", f"staff:{staff_id}", payload)
    return grant_id


def _active_grants(*where: Any) -> Any:
    condition = RoleGrant.revoked_at.is_null()
    for clause in where:
        condition = condition & clause
    return RoleGrant.select(*_GRANT_COLUMNS).where(condition).order_by(RoleGrant.id)


async def grant_role(staff_id: int, grant: Grant, *, actor: Identity | None = None
                     ) -> dict[str, Any]:
    """Give the person a role over a place. Their sessions end (the epoch goes up), so the next
    sign-in starts a new session with the new roles."""
    require_role_manager(actor)
    resolved = await resolve_grant(grant)
    _check_grant_change(actor, resolved)
    granted = current_time()
    async with transaction():
        if not await StaffAccount.exists().where(StaffAccount.id == staff_id):
            raise StaffError("staff", "unknown", f"there is no staff account {staff_id}")
        same = await _active_grants(
            RoleGrant.staff == staff_id, RoleGrant.role == str(resolved.role),
            _equal(RoleGrant.region, resolved.region_id),
            _equal(RoleGrant.district, resolved.district_id),
            _equal(RoleGrant.mahalla, resolved.mahalla_id),
            _equal(RoleGrant.department_id, resolved.department_id),
        )
        if same:
            raise StaffError("role", "held", "the person already holds this role there")
        grant_id = await _insert_grant(staff_id, resolved, _actor_id(actor), granted)
        await sign_out_everywhere(staff_id)
        row = await _active_grants(RoleGrant.id == grant_id).first()
    assert row is not None
    return row


def _equal(column: Any, value: int | None) -> Any:
    return column.is_null() if value is None else column == value


async def revoke_role(grant_id: int, *, actor: Identity | None) -> None:
    """Take a role back; the person's sessions end."""
    require_role_manager(actor)
    revoked = current_time()
    async with transaction():
        row = await RoleGrant.select(*_GRANT_COLUMNS, RoleGrant.revoked_at).where(
            RoleGrant.id == grant_id).first()
        if row is None:
            raise StaffError("grant", "unknown", f"there is no role grant {grant_id}")
        _check_grant_change(actor, _as_grant(row))
        done = await RoleGrant.update({
            RoleGrant.revoked_at: revoked, RoleGrant.revoked_by: _actor_id(actor),
        }).where((RoleGrant.id == grant_id) & RoleGrant.revoked_at.is_null()).returning(
            RoleGrant.id)
        if not done:
            raise StaffError("grant", "revoked", f"role grant {grant_id} is already revoked")
        staff_id = row["staff"]
        payload = _grant_payload(row, grant_id)
        await audit(_actor_id(actor), "role.revoked", f"staff:{staff_id}", revoked, payload)
        await ledger.record("accounts.role_revoked", f"staff:{staff_id}", payload)
        await sign_out_everywhere(staff_id)


async def roles(staff_id: int) -> list[dict[str, Any]]:
    """The person's active grants: id, role, region, district, mahalla, department_id,
    granted_by, granted_at."""
    return await _active_grants(RoleGrant.staff == staff_id)


def _as_grant(row: dict[str, Any]) -> Grant:
    return Grant(role=Role(row["role"]), region_id=row["region"], district_id=row["district"],
                 mahalla_id=row["mahalla"], department_id=row["department_id"])


async def _grants_of(staff_id: int) -> list[Grant]:
    return [_as_grant(row) for row in await roles(staff_id)]


async def staff_list(actor: Actor) -> list[dict[str, Any]]:
    """The staff an administrator handles, by username: id, username, display_name, enrolled,
    disabled, their active grants (each with `may_revoke`) and `may_manage` (switching off,
    a new authenticator). A national administrator sees everyone; a district administrator
    the people with a role they could take back, and those with no role at all, so that a
    new account can get its first one."""
    people = await StaffAccount.select(*_PUBLIC_COLUMNS).order_by(StaffAccount.username)
    grants: dict[int, list[dict[str, Any]]] = {}
    for grant in await _active_grants():
        may_revoke = allowed(actor, Action.MANAGE_ROLES, roles_place(_as_grant(grant)))
        grants.setdefault(grant["staff"], []).append({**grant, "may_revoke": may_revoke})
    listed = []
    for person in people:
        held = grants.get(person["id"], [])
        if held and not any(grant["may_revoke"] for grant in held):
            continue
        listed.append({
            "id": person["id"], "username": person["username"],
            "display_name": person["display_name"],
            "enrolled": person["totp_enrolled_at"] is not None,
            "disabled": person["disabled_at"] is not None, "grants": held,
            "may_manage": may_manage_account(actor, [_as_grant(grant) for grant in held]),
        })
    return listed


# Sign-in


def _refuse_while_waiting(row: dict[str, Any], at: datetime) -> None:
    failures, last = row["failed_attempts"], row["last_failure_at"]
    if not failures or last is None:
        return
    until = credentials.locked_until(failures, last)
    if until is not None and at < until:
        # Nothing is checked while locked, not even a right password.
        raise StaffSignInError("locked", until=until, retry_after=_seconds(until - at))
    ready = last + timedelta(seconds=credentials.sign_in_delay(failures))
    if at < ready:
        raise StaffSignInError("wait", until=ready, retry_after=_seconds(ready - at))


async def _claim_attempt(row: dict[str, Any], at: datetime) -> dict[str, Any]:
    """Count the attempt as a failure before checking it (a success undoes that), if the
    account is not locked or waiting; returns the account as last read."""
    for _ in range(_CLAIM_TRIES):
        _refuse_while_waiting(row, at)
        claimed = await StaffAccount.update({
            StaffAccount.failed_attempts: StaffAccount.failed_attempts + 1,
            StaffAccount.last_failure_at: at,
        }).where(
            (StaffAccount.id == row["id"])
            & (StaffAccount.failed_attempts == row["failed_attempts"])
        ).returning(StaffAccount.id)
        if claimed:
            return row
        # Another attempt came first: read again and apply the delay it may have started.
        fresh = await StaffAccount.select(*_SIGN_IN_COLUMNS).where(
            StaffAccount.id == row["id"]).first()
        if fresh is None:
            raise StaffSignInError("wrong")
        row = fresh
    raise StaffSignInError("wait", until=at + timedelta(seconds=1), retry_after=1)


async def _succeeded(staff_id: int, new_hash: str | None = None) -> None:
    changes: dict[Any, Any] = {StaffAccount.failed_attempts: 0,
                               StaffAccount.last_failure_at: None}
    if new_hash:
        changes[StaffAccount.password_hash] = new_hash
    await StaffAccount.update(changes).where(StaffAccount.id == staff_id)


async def check_password(username: str, password: str, now: datetime | None = None
                         ) -> dict[str, Any]:
    """Step 1: the account (id, username, display_name, session_epoch, totp_enrolled_at, ...)
    when the password is right; otherwise StaffSignInError. An unknown username gets the same
    answer as a wrong password, after about the same time."""
    at = now or current_time()
    name = username.strip().lower()
    row = None
    if USERNAME.fullmatch(name):
        row = await StaffAccount.select(*_SIGN_IN_COLUMNS).where(
            StaffAccount.username == name).first()
    if row is None:
        await credentials.spend_verification_time(password)
        raise StaffSignInError("wrong")
    row = await _claim_attempt(row, at)
    ok, new_hash = await credentials.verify_password(row["password_hash"], password)
    if not ok:
        raise StaffSignInError("wrong")
    await _succeeded(row["id"], new_hash)
    if row["disabled_at"] is not None:
        raise StaffSignInError("disabled")
    account = await staff_account(row["id"])
    assert account is not None
    return account


def _recovery_form(code: str) -> str | None:
    compact = _RECOVERY_SEPARATORS.sub("", code).lower()
    return compact if _RECOVERY_FORMAT.fullmatch(compact) else None


async def _use_totp(row: dict[str, Any], code: str, at: datetime) -> bool:
    step = credentials.verify_totp(row["totp_secret"], code, row["totp_last_step"], at)
    if step is None:
        return False
    # Only one request may move the step forward: the same code twice never passes twice.
    stored = await StaffAccount.update({StaffAccount.totp_last_step: step}).where(
        (StaffAccount.id == row["id"])
        & (StaffAccount.totp_last_step.is_null() | (StaffAccount.totp_last_step < step))
    ).returning(StaffAccount.id)
    return bool(stored)


async def _use_recovery_code(staff_id: int, code: str, at: datetime) -> bool:
    used = await RecoveryCode.update({RecoveryCode.used_at: at}).where(
        (RecoveryCode.staff == staff_id)
        & (RecoveryCode.digest == credentials.recovery_code_digest(code))
        & RecoveryCode.used_at.is_null()
    ).returning(RecoveryCode.id)
    return bool(used)


async def check_second_factor(staff_id: int, code: str, now: datetime | None = None) -> bool:
    """Step 2: a 6-digit code from the authenticator app, or an unused recovery code
    (xxxx-xxxx-xxxx). False when it is wrong or already used; a refusal counts as a failed
    sign-in. Raises StaffSignInError while the account is locked or waiting, or disabled."""
    at = now or current_time()
    row = await StaffAccount.select(*_SIGN_IN_COLUMNS).where(StaffAccount.id == staff_id).first()
    if row is None:
        return False
    if row["disabled_at"] is not None:
        raise StaffSignInError("disabled")
    row = await _claim_attempt(row, at)
    typed = "".join(code.split())
    passed = False
    if row["totp_enrolled_at"] is not None and row["totp_secret"]:
        if _TOTP_FORMAT.fullmatch(typed):
            passed = await _use_totp(row, typed, at)
        elif (recovery := _recovery_form(typed)) is not None:
            passed = await _use_recovery_code(staff_id, recovery, at)
    if passed:
        await _succeeded(staff_id)
    return passed


# Enrolment


async def _unenrolled(staff_id: int) -> dict[str, Any]:
    row = await StaffAccount.select(
        StaffAccount.id, StaffAccount.username, StaffAccount.totp_secret,
        StaffAccount.totp_enrolled_at, StaffAccount.totp_last_step,
    ).where(StaffAccount.id == staff_id).first()
    if row is None or not row["totp_secret"]:
        raise StaffError("staff", "unknown", f"there is no staff account {staff_id}")
    if row["totp_enrolled_at"] is not None:
        raise StaffError("staff", "enrolled", "the authenticator app is already enrolled")
    return row


async def enrolment(staff_id: int, title: str = "QR code for your authenticator app"
                    ) -> tuple[str, str]:
    """The otpauth:// URI of the account's TOTP secret and an inline SVG QR code of it (`title`
    is what a screen reader announces). Only until enrolment is confirmed."""
    row = await _unenrolled(staff_id)
    uri = credentials.enrolment_uri(row["totp_secret"], row["username"])
    return uri, credentials.qr_svg(uri, title)


async def confirm_enrolment(staff_id: int, code: str, now: datetime | None = None) -> list[str]:
    """Check a code from the newly set up app and finish enrolment. Returns 10 new recovery
    codes, to show once: only their digests are kept, and earlier ones stop working."""
    at = now or current_time()
    row = await _unenrolled(staff_id)
    step = credentials.verify_totp(row["totp_secret"], code, row["totp_last_step"], at)
    wrong = StaffError("code", "wrong", "the code is not right")
    if step is None:
        raise wrong
    codes = credentials.new_recovery_codes(RECOVERY_CODE_COUNT)
    async with transaction():
        stored = await StaffAccount.update({
            StaffAccount.totp_last_step: step, StaffAccount.totp_enrolled_at: at,
        }).where(
            (StaffAccount.id == staff_id) & StaffAccount.totp_enrolled_at.is_null()
            & (StaffAccount.totp_last_step.is_null() | (StaffAccount.totp_last_step < step))
        ).returning(StaffAccount.id)
        if not stored:
            raise wrong
        await RecoveryCode.delete().where(RecoveryCode.staff == staff_id)
        await RecoveryCode.insert(*(
            RecoveryCode(staff=staff_id, digest=credentials.recovery_code_digest(recovery))
            for recovery in codes
        ))
        await audit(staff_id, "totp.enrolled", f"staff:{staff_id}", at)
    return codes


# Residents


async def confirm_residence(actor: Identity, resident_id: int, now: datetime | None = None
                            ) -> None:
    """Mahalla staff confirm that a resident lives in the home mahalla they chose. Confirming
    again is harmless; a resident who changes mahalla needs a new confirmation."""
    at = now or current_time()
    row = await Resident.select(
        Resident.id, Resident.mahalla, Resident.residence_confirmed_at, Resident.deleted_at,
    ).where(Resident.id == resident_id).first()
    if row is None or row["deleted_at"] is not None:
        raise StaffError("resident", "unknown", f"there is no resident {resident_id}")
    mahalla_id = row["mahalla"]
    if mahalla_id is None:
        raise StaffError("resident", "no_mahalla", "the resident has not chosen a home mahalla")
    mahalla = await Mahalla.select(Mahalla.district, Mahalla.district.region).where(
        Mahalla.id == mahalla_id).first()
    assert mahalla is not None
    place = Place(region_id=mahalla["district.region"], district_id=mahalla["district"],
                  mahalla_id=mahalla_id)
    require(actor, Action.CONFIRM_RESIDENCE, place)
    if row["residence_confirmed_at"] is not None:
        return
    async with transaction():
        confirmed = await Resident.update({
            Resident.residence_confirmed_at: at, Resident.residence_confirmed_by: _actor_id(actor),
        }).where(
            (Resident.id == resident_id) & (Resident.mahalla == mahalla_id)
            & Resident.deleted_at.is_null() & Resident.residence_confirmed_at.is_null()
        ).returning(Resident.id)
        if not confirmed:
            if await Resident.exists().where(
                (Resident.id == resident_id) & (Resident.mahalla == mahalla_id)
                & Resident.residence_confirmed_at.is_not_null()
            ):
                return
            raise StaffError("resident", "changed",
                             "the resident's home mahalla changed meanwhile; look again")
        await audit(_actor_id(actor), "residence.confirmed", f"resident:{resident_id}", at,
                     {"mahalla_id": mahalla_id})
        # The ledger counts confirmations per mahalla; which resident stays out of it.
        await ledger.record("accounts.residence_confirmed", f"mahalla:{mahalla_id}", {})


async def register_resident(actor: Identity, mahalla_id: int, display_name: str,
                            phone_text: str = "", household_text: str = "",
                            language: str = "uz", now: datetime | None = None) -> int:
    """Mahalla staff register a resident who came to the office, often without a smartphone:
    their home is the desk's mahalla and their residence is confirmed at once. A phone of
    their own is optional (with one they may later sign in themselves); a household contact is
    a family member's number, to reach them, never to sign in. Returns the resident's id, the
    Ovoz number the desk finds them by."""
    at = now or current_time()
    mahalla = await Mahalla.select(Mahalla.id, Mahalla.district, Mahalla.district.region).where(
        Mahalla.id == mahalla_id).first()
    if mahalla is None:
        raise StaffError("mahalla", "unknown", f"there is no mahalla {mahalla_id}")
    place = Place(mahalla["district.region"], mahalla["district"], mahalla_id)
    _check_actor(actor, Action.ASSIST_RESIDENT, place)
    _check_actor(actor, Action.CONFIRM_RESIDENCE, place)
    name = " ".join(display_name.split())
    if not 2 <= len(name) <= RESIDENT_NAME_LENGTH:
        raise StaffError("display_name", "required",
                         f"a name of 2 to {RESIDENT_NAME_LENGTH} characters")
    phone = _optional_phone(phone_text, "phone")
    household = _optional_phone(household_text, "household_contact")
    if phone is not None and await Resident.exists().where(Resident.phone == phone):
        raise StaffError("phone", "taken", "this number already has an Ovoz account")
    async with transaction():
        try:
            created = await Resident.insert(Resident(
                phone=phone, display_name=name,
                language=language if language in LANGUAGES else "uz", mahalla=mahalla_id,
                residence_confirmed_at=at, residence_confirmed_by=_actor_id(actor),
                household_contact=household, registered_by=_actor_id(actor), created_at=at,
            )).returning(Resident.id)
        except Exception as error:
            if is_unique_violation(error):
                raise StaffError("phone", "taken",
                                 "this number already has an Ovoz account") from None
            raise
        resident_id = int(created[0]["id"])
        await audit(_actor_id(actor), "resident.registered", f"resident:{resident_id}", at,
                     {"mahalla_id": mahalla_id, "own_phone": phone is not None,
                      "household_contact": household is not None})
        # Counted per mahalla, as confirmations are; which resident stays out of the ledger.
        await ledger.record("accounts.resident_registered", f"mahalla:{mahalla_id}", {})
    return resident_id


async def registrations_by_staff(since: datetime, until: datetime) -> dict[int, int]:
    """Residents registered at a mahalla desk in [since, until), by the staff member."""
    rows = await Resident.select(Resident.registered_by, Count(Resident.id).as_alias("n")).where(
        Resident.registered_by.is_not_null() & (Resident.created_at >= since)
        & (Resident.created_at < until)).group_by(Resident.registered_by)
    return {row["registered_by"]: int(row["n"]) for row in rows}


def _optional_phone(text: str, field: str) -> str | None:
    if not text.strip():
        return None
    try:
        return parse_phone(text)
    except InvalidPhone:
        raise StaffError(field, "invalid", "not an Uzbek mobile number") from None


async def audit_page(number: int, per_page: int, *, actor: Identity) -> Page:
    """Who did what among staff, newest first, for administrators."""
    _check_actor(actor, Action.VIEW_AUDIT)
    query = StaffAudit.select(
        StaffAudit.id, StaffAudit.at, StaffAudit.action, StaffAudit.subject, StaffAudit.detail,
        StaffAudit.actor.username.as_alias("actor_username"),
    ).order_by(StaffAudit.id, ascending=False)
    return await paginate(query, StaffAudit.count(), number, per_page)
