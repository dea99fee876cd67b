"""Residents: phone numbers, SMS codes, sessions, profile, data, the JSON API."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
import pytest

from ovoz.accounts import services, sessions
from ovoz.accounts.phones import InvalidPhone, parse_phone
from ovoz.accounts.tables import ApiToken, Resident, SignInCode
from ovoz.geo.services import import_mahallas
from ovoz.geo.tables import Mahalla
from tests.conftest import last_code

PHONE = "+998901234567"


@pytest.mark.parametrize(
    "typed",
    ["90 123 45 67", "998901234567", "+998 (90) 123-45-67", "+998901234567", "901234567"],
)
def test_phone_numbers_as_people_type_them(typed: str) -> None:
    assert parse_phone(typed) == PHONE


@pytest.mark.parametrize("typed", ["", "12345", "+7 912 345 67 89", "+998 71 234 56 78",
                                   "90 123 45 6", "ninety"])
def test_other_numbers_are_refused(typed: str) -> None:
    with pytest.raises(InvalidPhone):
        parse_phone(typed)


async def csrf(client: httpx.AsyncClient) -> str:
    await client.get("/signin")
    return client.cookies["csrftoken"]


async def sign_in(client: httpx.AsyncClient, phone: str = "90 123 45 67",
                  address: str = "web") -> httpx.Response:
    token = await csrf(client)
    sent = await client.post("/signin", data={"phone": phone, "_csrf_token": token})
    assert sent.status_code == 200, sent.text
    return await client.post("/signin/code", data={
        "phone": parse_phone(phone), "code": last_code(parse_phone(phone)),
        "_csrf_token": token,
    })


async def add_mahallas() -> dict[str, int]:
    await import_mahallas(b"district_id,name_uz\n106,Bahor MFY\n106,Chinor MFY\n")
    rows = await Mahalla.select(Mahalla.id, Mahalla.name_uz)
    return {row["name_uz"]: row["id"] for row in rows}


async def test_code_is_sent_and_kept_only_as_a_digest(client: httpx.AsyncClient) -> None:
    token = await csrf(client)
    page = await client.post("/signin", data={"phone": "90 123 45 67", "_csrf_token": token})
    assert page.status_code == 200
    assert "+998 90 *** ** 67" in page.text
    code = last_code(PHONE)
    stored = await SignInCode.select().where(SignInCode.phone == PHONE).first()
    assert stored is not None
    assert code not in stored["digest"] and len(stored["digest"]) == 64
    assert stored["expires_at"] - stored["created_at"] == timedelta(minutes=5)


async def test_sign_up_sets_a_session_and_asks_for_the_profile(client: httpx.AsyncClient
                                                               ) -> None:
    response = await sign_in(client)
    assert response.status_code in (302, 303)
    assert response.headers["location"] == "/profile"
    cookie = response.headers["set-cookie"]
    assert "ovoz_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    resident = await Resident.select().where(Resident.phone == PHONE).first()
    assert resident is not None
    assert services.verification_levels(resident) == ["phone"]
    profile = await client.get("/profile")
    assert profile.status_code == 200
    assert "Your profile" in profile.text or "Profilingiz" in profile.text
    assert PHONE not in (await client.get("/")).text


async def test_wrong_codes_are_counted_and_stop_after_five(db: str) -> None:
    from ovoz.accounts.sms import ConsoleGateway
    from tests.conftest import SMS_OUTBOX

    await services.send_sign_in_code(PHONE, "addr", ConsoleGateway(SMS_OUTBOX))
    right = last_code(PHONE)
    wrong = "000000" if right != "000000" else "111111"
    remaining = []
    for _ in range(4):
        with pytest.raises(services.SignInError) as refused:
            await services.sign_in_with_code(PHONE, wrong, "addr")
        remaining.append(refused.value.remaining)
    assert remaining == [4, 3, 2, 1]
    with pytest.raises(services.SignInError) as fifth:
        await services.sign_in_with_code(PHONE, wrong, "addr")
    assert fifth.value.code == "too_many_tries"
    with pytest.raises(services.SignInError) as after:
        await services.sign_in_with_code(PHONE, right, "addr")
    assert after.value.code == "too_many_tries"


async def test_expired_and_replaced_codes_do_not_work(db: str) -> None:
    from ovoz.accounts.sms import ConsoleGateway
    from tests.conftest import SMS_OUTBOX

    await services.send_sign_in_code(PHONE, "addr", ConsoleGateway(SMS_OUTBOX))
    code = last_code(PHONE)
    await SignInCode.update({SignInCode.expires_at: services.now() - timedelta(seconds=1)},
                            force=True)
    with pytest.raises(services.SignInError) as expired:
        await services.sign_in_with_code(PHONE, code, "addr")
    assert expired.value.code == "code_expired"


async def test_a_new_code_only_after_a_minute(client: httpx.AsyncClient) -> None:
    token = await csrf(client)
    first = await client.post("/signin", data={"phone": "901234567", "_csrf_token": token})
    assert first.status_code == 200
    again = await client.post("/signin", data={"phone": "901234567", "_csrf_token": token})
    assert again.status_code == 429
    assert 1 <= int(again.headers["retry-after"]) <= 61
    assert 'class="error-summary"' in again.text
    assert 'value="901234567"' in again.text  # what was typed is kept


async def test_codes_per_number_are_limited(db: str) -> None:
    from ovoz.accounts.sms import ConsoleGateway
    from tests.conftest import SMS_OUTBOX

    gateway = ConsoleGateway(SMS_OUTBOX)
    for n in range(services.CODES_PER_NUMBER_PER_HOUR):
        await services.send_sign_in_code(PHONE, f"addr{n}", gateway)
        await SignInCode.update({SignInCode.created_at: services.now() - timedelta(minutes=2)},
                                force=True)
    with pytest.raises(services.SignInError) as limited:
        await services.send_sign_in_code(PHONE, "another", gateway)
    assert limited.value.code == "rate_limited" and limited.value.retry_after > 0


async def test_codes_per_address_are_limited(db: str) -> None:
    from ovoz.accounts.sms import ConsoleGateway
    from tests.conftest import SMS_OUTBOX

    gateway = ConsoleGateway(SMS_OUTBOX)
    for n in range(services.CODES_PER_ADDRESS_PER_HOUR):
        await services.send_sign_in_code(f"+99890{n:07d}", "203.0.113.9", gateway)
    with pytest.raises(services.SignInError) as limited:
        await services.send_sign_in_code("+998931112233", "203.0.113.9", gateway)
    assert limited.value.code == "rate_limited"


async def test_forms_need_the_csrf_token(client: httpx.AsyncClient) -> None:
    await client.get("/signin")
    refused = await client.post("/signin", data={"phone": "90 123 45 67"})
    assert refused.status_code == 403
    htmx = await client.post("/signin", data={"phone": "90 123 45 67"},
                             headers={"HX-Request": "true",
                                      "x-csrftoken": client.cookies["csrftoken"]})
    assert htmx.status_code == 200


async def test_each_sign_in_gets_a_new_session(client: httpx.AsyncClient) -> None:
    first = (await sign_in(client)).cookies["ovoz_session"]
    assert (await sessions.identify(first)).resident is not None
    await SignInCode.update({SignInCode.created_at: services.now() - timedelta(minutes=2)},
                            force=True)
    second = (await sign_in(client)).cookies["ovoz_session"]
    assert second != first
    assert (await sessions.identify(first)).resident is None
    assert (await sessions.identify(second)).resident is not None


async def test_profile_needs_a_name_and_a_mahalla(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    mahallas = await add_mahallas()
    token = client.cookies["csrftoken"]
    refused = await client.post("/profile", data={"display_name": "  ", "language": "uz",
                                                  "_csrf_token": token})
    assert refused.status_code == 400
    assert 'href="#mahalla_id"' in refused.text
    districts = await client.post("/profile", data={
        "display_name": "Aziz", "region_id": "7", "step": "choose", "_csrf_token": token})
    assert districts.status_code == 200
    assert "Chortoq tumani" in districts.text and "Bahor MFY" not in districts.text
    chooser = await client.post("/profile", data={
        "display_name": "Aziz", "region_id": "7", "district_id": "106", "step": "choose",
        "_csrf_token": token})
    assert "Bahor MFY" in chooser.text and 'value="Aziz"' in chooser.text
    assert (await Resident.select(Resident.display_name).first())["display_name"] == ""
    saved = await client.post("/profile", data={
        "display_name": "Aziz  Karimov", "mahalla_id": str(mahallas["Bahor MFY"]),
        "language": "ru", "_csrf_token": token,
    })
    assert saved.status_code in (302, 303)
    resident = await Resident.select().where(Resident.phone == PHONE).first()
    assert resident is not None
    assert (resident["display_name"], resident["mahalla"], resident["language"]) == (
        "Aziz Karimov", mahallas["Bahor MFY"], "ru")
    assert services.public_name(resident) == "Aziz K."


async def test_moving_house_drops_the_residence_confirmation(db: str) -> None:
    mahallas = await add_mahallas()
    await Resident.insert(Resident(phone=PHONE, created_at=services.now(),
                                   mahalla=mahallas["Bahor MFY"],
                                   residence_confirmed_at=services.now()))
    resident = await Resident.select().first()
    assert resident is not None
    same = await services.update_profile(resident["id"], "Aziz", mahallas["Bahor MFY"], "uz")
    assert "residence" in services.verification_levels(same)
    moved = await services.update_profile(resident["id"], "Aziz", mahallas["Chinor MFY"], "uz")
    assert "residence" not in services.verification_levels(moved)


async def test_sign_out_and_sign_out_everywhere(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    token = client.cookies["csrftoken"]
    session = client.cookies["ovoz_session"]
    other_device = await sessions.start(sessions.RESIDENT, (await Resident.select().first())["id"],
                                        0)
    await client.post("/profile/signout-everywhere", data={"_csrf_token": token})
    assert (await sessions.identify(other_device)).resident is None
    assert (await sessions.identify(session)).resident is None
    assert (await client.get("/profile")).status_code in (302, 303)


async def test_data_download_and_account_deletion(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    download = await client.get("/profile/data.json")
    assert download.status_code == 200
    assert download.json()["phone"] == PHONE
    assert "attachment" in download.headers["content-disposition"]
    token = client.cookies["csrftoken"]
    unconfirmed = await client.post("/profile/delete", data={"_csrf_token": token})
    assert unconfirmed.status_code == 400
    deleted = await client.post("/profile/delete", data={"confirm": "yes", "_csrf_token": token})
    assert deleted.status_code in (302, 303)
    row = await Resident.select().first()
    assert row is not None
    assert row["phone"] is None and row["display_name"] == "" and row["deleted_at"]
    assert services.public_name(row) == "Sobiq foydalanuvchi"  # "former resident" in Uzbek
    assert await SignInCode.count() == 0
    assert (await client.get("/profile")).status_code in (302, 303)


async def test_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/signin")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


async def test_api_sign_in_and_profile(client: httpx.AsyncClient) -> None:
    sent = await client.post("/api/v1/auth/otp", json={"phone": "+998 (90) 123-45-67"})
    assert sent.status_code == 202
    assert sent.json() == {"phone": "+998 90 *** ** 67", "resend_after": 60}
    again = await client.post("/api/v1/auth/otp", json={"phone": PHONE})
    assert again.status_code == 429 and int(again.headers["retry-after"]) > 0
    assert again.json()["error"] == "too_many_requests"
    wrong = await client.post("/api/v1/auth/token", json={"phone": PHONE, "code": "00000a"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "wrong_code"
    granted = await client.post("/api/v1/auth/token",
                                json={"phone": PHONE, "code": last_code(PHONE)})
    assert granted.status_code == 200
    token = granted.json()["token"]
    assert granted.json()["user"]["verification"] == ["phone"]
    assert "phone" not in granted.json()["user"]
    stored = await ApiToken.select(ApiToken.digest).first()
    assert stored is not None and token not in stored["digest"]

    assert (await client.get("/api/v1/me")).status_code == 401
    auth = {"Authorization": f"Bearer {token}"}
    mahallas = await add_mahallas()
    changed = await client.patch("/api/v1/me", headers=auth, json={
        "display_name": "Dilnoza Yusupova", "mahalla_id": mahallas["Chinor MFY"]})
    assert changed.status_code == 200
    assert changed.json()["public_name"] == "Dilnoza Y."
    bad = await client.patch("/api/v1/me", headers=auth, json={"mahalla_id": 999999})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_mahalla_id"
    resident = await Resident.select().first()
    assert resident is not None
    tokens = await services.api_tokens(resident["id"])
    assert await services.revoke_api_token(resident["id"], tokens[0]["id"])
    assert (await client.get("/api/v1/me", headers=auth)).status_code == 401


async def test_api_refuses_bad_numbers(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/otp", json={"phone": "12345"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_phone"


async def test_logs_hold_no_codes_or_numbers(client: httpx.AsyncClient,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await sign_in(client)
    code = last_code(PHONE)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert code not in logged
    assert PHONE not in logged and "901234567" not in logged
