"""Limits on new accounts a day, per internet address and per block of a hundred numbers:
counted when an account is made, checked before a code goes to a new number."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ovoz.accounts import services
from ovoz.accounts.sms import ConsoleGateway
from ovoz.accounts.tables import Resident
from ovoz.settings import get_settings
from tests.conftest import SMS_OUTBOX, last_code
from tests.reports.helpers import make_resident

GATEWAY = ConsoleGateway(SMS_OUTBOX)


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OVOZ_NEW_ACCOUNTS_PER_ADDRESS_PER_DAY", "3")
    monkeypatch.setenv("OVOZ_NEW_ACCOUNTS_PER_RANGE_PER_DAY", "2")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def sign_up(phone: str, address: str) -> dict[str, object]:
    await services.send_sign_in_code(phone, address, GATEWAY)
    return await services.sign_in_with_code(phone, last_code(phone), address)


async def refusal(phone: str, address: str) -> str:
    with pytest.raises(services.SignInError) as refused:
        await sign_up(phone, address)
    return refused.value.code


async def test_a_block_of_numbers_opens_only_so_many_accounts_a_day(db: str, limits: None
                                                                    ) -> None:
    await make_resident("+998901234577")
    await sign_up("+998901234500", "10.0.0.1")
    await sign_up("+998901234599", "10.0.0.2")
    assert await refusal("+998901234542", "10.0.0.3") == "too_many_accounts"
    assert await Resident.count() == 3
    # The next block, and those who already have an account in this one, are not held back.
    await sign_up("+998901234600", "10.0.0.3")
    await sign_up("+998901234577", "10.0.0.4")


async def test_an_address_opens_only_so_many_accounts_a_day(db: str, limits: None) -> None:
    for block in range(3):
        await sign_up(f"+9989012{block}0000", "203.0.113.9")
    assert await refusal("+998905550000", "203.0.113.9") == "too_many_accounts"
    await sign_up("+998905550000", "203.0.113.10")
    assert await Resident.count() == 4


async def test_codes_sent_before_the_limit_is_reached_make_no_account_beyond_it(
        db: str, limits: None) -> None:
    phones = ("+998907770001", "+998907770002", "+998907770003")
    for phone in phones:
        await services.send_sign_in_code(phone, "10.0.0.1", GATEWAY)
    for phone in phones[:2]:
        await services.sign_in_with_code(phone, last_code(phone), "10.0.0.1")
    with pytest.raises(services.SignInError) as refused:
        await services.sign_in_with_code(phones[2], last_code(phones[2]), "10.0.0.1")
    assert refused.value.code == "too_many_accounts"
    assert await Resident.count().where(Resident.phone == phones[2]) == 0


async def test_the_sign_in_page_says_to_try_tomorrow(client: httpx.AsyncClient, limits: None
                                                     ) -> None:
    client.cookies.set("lang", "en")
    for phone in ("+998901234500", "+998901234501"):
        await sign_up(phone, "127.0.0.1")
    await client.get("/signin")
    refused = await client.post("/signin", data={
        "phone": "90 123 45 02", "_csrf_token": client.cookies.get("csrftoken", "")})
    assert refused.status_code == 429
    assert "Too many new accounts were opened from this network" in refused.text
