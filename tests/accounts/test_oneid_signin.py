"""OneID in the web: sign in, create or link an account, one person one account."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from ovoz.accounts import services, sessions
from ovoz.accounts.oneid import pinfl_fingerprint
from ovoz.accounts.tables import Resident
from ovoz.settings import ROOT, Settings, get_settings, load_settings
from tests.accounts.test_oneid import CLIENT_ID, CLIENT_SECRET, PINFL, FakeOneId, fake

__all__ = ["fake"]


def settings_for(provider: FakeOneId, database_url: str) -> Settings:
    return load_settings({
        "OVOZ_CONFIG": str(ROOT / "litestar.toml"), "OVOZ_DATABASE_URL": database_url,
        "OVOZ_ONEID_ENABLED": "true", "OVOZ_ONEID_CLIENT_ID": CLIENT_ID,
        "OVOZ_ONEID_CLIENT_SECRET": CLIENT_SECRET, "OVOZ_ONEID_AUTHORIZE_URL": provider.url,
        "OVOZ_ONEID_TOKEN_URL": provider.url,
    })


@pytest.fixture
async def oneid_client(db: str, fake: FakeOneId) -> AsyncIterator[httpx.AsyncClient]:
    from ovoz.app import create_app

    app = create_app(settings_for(fake, db))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver.local") as client:
        yield client


async def through_oneid(client: httpx.AsyncClient) -> httpx.Response:
    """The browser's round trip: Ovoz -> OneID -> back to Ovoz's callback."""
    start = await client.get("/signin/oneid")
    assert start.status_code in (302, 303)
    async with httpx.AsyncClient() as browser:
        at_provider = await browser.get(start.headers["location"])
    back = urlsplit(at_provider.headers["location"])
    query = dict(parse_qsl(back.query))
    return await client.get(f"/signin/oneid/callback?code={query['code']}"
                            f"&state={query['state']}")


async def test_oneid_creates_an_account_once(oneid_client: httpx.AsyncClient) -> None:
    response = await asyncio.wait_for(through_oneid(oneid_client), 20)
    assert response.status_code in (302, 303)
    rows = await Resident.select()
    assert len(rows) == 1
    row = rows[0]
    assert row["phone"] is None and row["display_name"] == "Alisher"
    assert row["oneid_fingerprint"] == pinfl_fingerprint(PINFL, get_settings().secret_key)
    assert PINFL not in str(row)
    assert services.verification_levels(row) == ["oneid"]
    again = await through_oneid(oneid_client)
    assert again.status_code in (302, 303)
    assert await Resident.count() == 1


async def test_a_second_account_cannot_claim_the_same_person(oneid_client: httpx.AsyncClient
                                                            ) -> None:
    await through_oneid(oneid_client)
    await Resident.insert(Resident(phone="+998901112233", created_at=services.now()))
    other = await Resident.select().where(Resident.phone == "+998901112233").first()
    assert other is not None
    token = await sessions.start(sessions.RESIDENT, other["id"], other["session_epoch"])
    oneid_client.cookies.clear()
    oneid_client.cookies.set("ovoz_session", token)
    refused = await through_oneid(oneid_client)
    assert refused.status_code == 409
    assert (await Resident.select().where(Resident.id == other["id"]).first())[
        "oneid_fingerprint"] is None


async def test_a_resident_links_oneid_to_their_account(oneid_client: httpx.AsyncClient) -> None:
    await Resident.insert(Resident(phone="+998901112233", created_at=services.now()))
    resident = await Resident.select().first()
    assert resident is not None
    token = await sessions.start(sessions.RESIDENT, resident["id"], 0)
    oneid_client.cookies.set("ovoz_session", token)
    linked = await through_oneid(oneid_client)
    assert linked.headers["location"] == "/profile"
    row = await Resident.select().first()
    assert row is not None
    assert "oneid" in services.verification_levels(row)
    assert await Resident.count() == 1


async def test_a_callback_without_a_started_sign_in_is_refused(
        oneid_client: httpx.AsyncClient) -> None:
    response = await oneid_client.get("/signin/oneid/callback?code=x&state=forged")
    assert response.status_code == 400
    assert await Resident.count() == 0


async def test_oneid_is_off_by_default(client: httpx.AsyncClient) -> None:
    assert (await client.get("/signin/oneid")).status_code == 404
