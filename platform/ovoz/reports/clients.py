"""Client applications registered to post Open311 requests, each with its own API key.

A key is shown once, when it is issued: only its SHA-256 digest is kept, so a copy of the
database holds no working key. Issuing and revoking are recorded in the public ledger by id only;
a client's name and contact stay private.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from ovoz import ledger
from ovoz.db import transaction
from ovoz.reports.tables import Open311Client

KEY_PREFIX = "o311_"
NAME_MAX = 120
CONTACT_MAX = 200
_PUBLIC_COLUMNS = (
    Open311Client.id, Open311Client.name, Open311Client.contact, Open311Client.created_at,
    Open311Client.revoked_at, Open311Client.last_used_at,
)


class ClientError(ValueError):
    """A client could not be issued or revoked; the message says why, in one line."""


def now() -> datetime:
    return datetime.now(UTC)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def client_subject(client_id: int) -> str:
    return f"open311_client:{client_id}"


async def issue_client(name: str, contact: str = "") -> tuple[int, str]:
    """Register a client application; returns its id and its API key, shown only this once."""
    name = " ".join(name.split())
    contact = " ".join(contact.split())
    if not name:
        raise ClientError("a client needs a name")
    if len(name) > NAME_MAX:
        raise ClientError(f"the name is longer than {NAME_MAX} characters")
    if len(contact) > CONTACT_MAX:
        raise ClientError(f"the contact is longer than {CONTACT_MAX} characters")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    async with transaction():
        inserted = await Open311Client.insert(Open311Client(
            name=name, contact=contact, key_digest=_digest(key), created_at=now(),
        )).returning(Open311Client.id)
        client_id: int = inserted[0]["id"]
        await ledger.record("reports.open311_client_issued", client_subject(client_id),
                            {"client": client_id})
    return client_id, key


async def revoke_client(client_id: int) -> bool:
    """Refuse the client's key from now on. False when it was already revoked."""
    async with transaction():
        row = await Open311Client.select(Open311Client.revoked_at).where(
            Open311Client.id == client_id).first()
        if row is None:
            raise ClientError(f"no Open311 client with id {client_id}")
        if row["revoked_at"] is not None:
            return False
        await Open311Client.update({Open311Client.revoked_at: now()}).where(
            Open311Client.id == client_id)
        await ledger.record("reports.open311_client_revoked", client_subject(client_id),
                            {"client": client_id})
    return True


async def client_for_key(key: str) -> dict[str, Any] | None:
    """The client holding this API key, or None for an unknown or revoked key."""
    if not key:
        return None
    row = await Open311Client.select(*_PUBLIC_COLUMNS).where(
        Open311Client.key_digest == _digest(key)).first()
    if row is None or row["revoked_at"] is not None:
        return None
    row["last_used_at"] = now()
    await Open311Client.update({Open311Client.last_used_at: row["last_used_at"]}).where(
        Open311Client.id == row["id"])
    return row


async def list_clients() -> list[dict[str, Any]]:
    """Every client, revoked ones too, oldest first; never the key's digest."""
    return await Open311Client.select(*_PUBLIC_COLUMNS).order_by(Open311Client.id)
