"""Sessions: kept in the database store, idle and absolute expiry, epochs, cookie flags."""

from __future__ import annotations

import json
import time

import pytest

from ovoz.accounts import services, sessions
from ovoz.accounts.tables import Resident
from ovoz.settings import get_settings
from ovoz.store.tables import StoreEntry


async def new_resident() -> dict[str, object]:
    await Resident.insert(Resident(phone="+998901234567", created_at=services.now()))
    row = await Resident.select().first()
    assert row is not None
    return row


async def test_the_cookie_holds_a_token_the_store_keeps_only_its_digest(db: str) -> None:
    resident = await new_resident()
    token = await sessions.start(sessions.RESIDENT, resident["id"], 0)
    keys = await StoreEntry.select(StoreEntry.key).output(as_list=True)
    assert len(keys) == 1 and token not in keys[0]
    assert (await sessions.identify(token)).resident["id"] == resident["id"]


async def test_an_idle_session_expires(db: str) -> None:
    resident = await new_resident()
    token = await sessions.start(sessions.RESIDENT, resident["id"], 0)
    await StoreEntry.update({StoreEntry.expires_at: int(time.time()) - 1}, force=True)
    assert (await sessions.identify(token)).resident is None


async def test_use_keeps_a_session_alive_but_not_past_its_absolute_limit(db: str) -> None:
    resident = await new_resident()
    token = await sessions.start(sessions.RESIDENT, resident["id"], 0)
    await StoreEntry.update({StoreEntry.expires_at: int(time.time()) + 5}, force=True)
    assert (await sessions.identify(token)).resident is not None
    renewed = await StoreEntry.select(StoreEntry.expires_at).first()
    assert renewed["expires_at"] > time.time() + 3600  # renewed for the idle period

    row = await StoreEntry.select().first()
    data = json.loads(bytes(row["value"]))
    data["started"] -= get_settings().session_absolute_hours * 3600 + 1
    await StoreEntry.update({StoreEntry.value: json.dumps(data).encode()}, force=True)
    assert (await sessions.identify(token)).resident is None


async def test_raising_the_epoch_ends_every_session(db: str) -> None:
    resident = await new_resident()
    phone = await sessions.start(sessions.RESIDENT, resident["id"], 0)
    laptop = await sessions.start(sessions.RESIDENT, resident["id"], 0)
    await services.sign_out_everywhere(resident["id"])
    assert (await sessions.identify(phone)).resident is None
    assert (await sessions.identify(laptop)).resident is None


@pytest.mark.parametrize(("mode", "base_url", "secure"), [
    ("development", "http://127.0.0.1:8000", False),
    ("development", "https://ovoz.example.uz", True),
    ("production", "https://ovoz.example.uz", True),
])
def test_cookies_are_secure_outside_development(monkeypatch: pytest.MonkeyPatch, mode: str,
                                                base_url: str, secure: bool) -> None:
    monkeypatch.setenv("OVOZ_MODE", mode)
    monkeypatch.setenv("OVOZ_BASE_URL", base_url)
    monkeypatch.setenv("OVOZ_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("OVOZ_SMS_BACKEND", "eskiz")
    monkeypatch.setenv("OVOZ_ESKIZ_EMAIL", "sms@example.uz")
    monkeypatch.setenv("OVOZ_ESKIZ_PASSWORD", "vault")
    get_settings.cache_clear()
    try:
        cookie = sessions.cookie("token")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert cookie.secure is secure
    assert cookie.httponly and cookie.samesite == "lax"
