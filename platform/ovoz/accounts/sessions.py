"""Server-side sessions in the database store, and who is making the request.

The cookie holds only a random token; the store keeps its digest with the account, the account's
session epoch (raised to sign out everywhere) and when the session began (absolute expiry). A new
token is issued at every sign-in step and role change, so a token seen before sign-in is
worthless after it."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from litestar.datastructures import Cookie
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from ovoz.accounts.permissions import Grant, Role, StaffMember
from ovoz.accounts.tables import Resident, RoleGrant, StaffAccount
from ovoz.settings import get_settings
from ovoz.store.services import DatabaseStore

COOKIE = "ovoz_session"
RESIDENT, STAFF = "resident", "staff"
# Staff sign-in happens in steps; only "full" opens the staff area.
STAFF_PASSWORD_OK, STAFF_ENROLLING, STAFF_FULL = "password_ok", "enrolling", "full"

_store = DatabaseStore().with_namespace("session")


@dataclass(frozen=True, slots=True)
class Identity:
    resident: dict[str, Any] | None = None
    staff: dict[str, Any] | None = None
    staff_stage: str | None = None
    grants: tuple[Grant, ...] = field(default_factory=tuple)
    token: str | None = None

    @property
    def staff_signed_in(self) -> bool:
        return self.staff is not None and self.staff_stage == STAFF_FULL


ANONYMOUS = Identity()


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def cookie(token: str) -> Cookie:
    settings = get_settings()
    return Cookie(
        key=COOKIE, value=token, path="/", httponly=True, samesite="lax",
        secure=settings.production or settings.base_url.startswith("https://"),
        max_age=settings.session_absolute_hours * 3600,
    )


def expired_cookie() -> Cookie:
    return Cookie(key=COOKIE, value="", path="/", httponly=True, samesite="lax", max_age=0)


async def start(kind: str, account_id: int, epoch: int, stage: str = STAFF_FULL,
                previous_token: str | None = None) -> str:
    """Begin a session (or the next step of one) under a new token; the old one stops working."""
    if previous_token:
        await _store.delete(_key(previous_token))
    settings = get_settings()
    token = secrets.token_urlsafe(32)
    data = {"kind": kind, "id": account_id, "epoch": epoch, "stage": stage,
            "started": int(time.time())}
    await _store.set(_key(token), json.dumps(data), expires_in=settings.session_idle_minutes * 60)
    return token


async def end(token: str | None) -> None:
    if token:
        await _store.delete(_key(token))


async def staff_grants(staff_id: int) -> tuple[Grant, ...]:
    rows = await RoleGrant.select(
        RoleGrant.role, RoleGrant.region, RoleGrant.district, RoleGrant.mahalla,
        RoleGrant.department_id,
    ).where((RoleGrant.staff == staff_id) & RoleGrant.revoked_at.is_null())
    return tuple(
        Grant(role=Role(row["role"]), region_id=row["region"], district_id=row["district"],
              mahalla_id=row["mahalla"], department_id=row["department_id"])
        for row in rows
    )


async def identify(token: str | None) -> Identity:
    if not token:
        return ANONYMOUS
    settings = get_settings()
    raw = await _store.get(_key(token), renew_for=settings.session_idle_minutes * 60)
    if raw is None:
        return ANONYMOUS
    data = json.loads(raw)
    if time.time() - data["started"] > settings.session_absolute_hours * 3600:
        await end(token)
        return ANONYMOUS
    if data["kind"] == RESIDENT:
        resident = await Resident.select().where(
            (Resident.id == data["id"]) & Resident.deleted_at.is_null()
        ).first()
        if (resident is None or resident["session_epoch"] != data["epoch"]
                or resident["blocked_at"] is not None):
            await end(token)
            return ANONYMOUS
        return Identity(resident=resident, token=token)
    staff = await StaffAccount.select(
        StaffAccount.id, StaffAccount.username, StaffAccount.display_name,
        StaffAccount.session_epoch, StaffAccount.totp_enrolled_at, StaffAccount.disabled_at,
    ).where(StaffAccount.id == data["id"]).first()
    if staff is None or staff["disabled_at"] or staff["session_epoch"] != data["epoch"]:
        await end(token)
        return ANONYMOUS
    grants = await staff_grants(staff["id"]) if data["stage"] == STAFF_FULL else ()
    return Identity(staff=staff, staff_stage=data["stage"], grants=grants, token=token)


def _cookie_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, token = part.strip().partition("=")
                if key == COOKIE and token:
                    return token
    return None


class IdentityMiddleware(ASGIMiddleware):
    """Puts the requester's Identity in the request state for every page and handler."""

    scopes = (ScopeType.HTTP,)

    def should_bypass_for_scope(self, scope: Scope) -> bool:
        return scope["path"].startswith(("/static/", "/api/", "/healthz"))

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        scope.setdefault("state", {})["identity"] = await identify(_cookie_token(scope))
        await next_app(scope, receive, send)


def identity_of(scope_or_request: Any) -> Identity:
    state = scope_or_request.scope["state"] if hasattr(scope_or_request, "scope") else (
        scope_or_request.get("state", {})
    )
    return state.get("identity", ANONYMOUS)


def staff_member(scope_or_request: Any) -> StaffMember | None:
    """The staff member making the request, once every sign-in step is done; else None."""
    identity = identity_of(scope_or_request)
    if not identity.staff_signed_in or identity.staff is None:
        return None
    return StaffMember(identity.staff["id"], identity.grants)
