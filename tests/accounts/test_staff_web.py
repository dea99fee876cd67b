"""Staff in the browser: password, then TOTP (enrolling the first time), the staff area, roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pyotp

from ovoz.accounts import sessions, staff
from ovoz.accounts.permissions import Grant, Role
from ovoz.accounts.tables import StaffAccount

PASSWORD = "tuman-yoli-2026-kuz"


async def make_staff(username: str, grant: Grant) -> tuple[int, str]:
    row, uri = await staff.create_staff(username, username.title(), PASSWORD)
    await staff.grant_role(row["id"], grant)
    return row["id"], pyotp.parse_uri(uri).secret


async def csrf(client: httpx.AsyncClient) -> str:
    await client.get("/staff/signin")
    return client.cookies["csrftoken"]


async def password_step(client: httpx.AsyncClient, username: str, password: str = PASSWORD
                        ) -> httpx.Response:
    return await client.post("/staff/signin", data={
        "username": username, "password": password, "_csrf_token": await csrf(client)})


def code_at(secret: str, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=30 * offset_steps))


async def enrol(client: httpx.AsyncClient, username: str, secret: str,
                code: str | None = None) -> httpx.Response:
    first = await password_step(client, username)
    assert first.headers["location"] == "/staff/enrol"
    page = await client.get("/staff/enrol")
    assert page.status_code == 200 and "<svg" in page.text
    return await client.post("/staff/enrol", data={
        "code": code or code_at(secret), "_csrf_token": client.cookies["csrftoken"]})


async def test_first_sign_in_forces_totp_enrolment(client: httpx.AsyncClient) -> None:
    _, secret = await make_staff("a.karimov", Grant(Role.OFFICIAL, region_id=7, district_id=106))
    first = await password_step(client, "a.karimov")
    assert first.status_code in (302, 303) and first.headers["location"] == "/staff/enrol"
    # The password alone opens nothing.
    assert (await client.get("/staff")).headers["location"] == "/staff/signin"
    token_after_password = client.cookies["ovoz_session"]
    enrolled = await client.post("/staff/enrol", data={
        "code": code_at(secret), "_csrf_token": client.cookies["csrftoken"]})
    assert enrolled.status_code == 200
    assert enrolled.text.count("<li><code>") == 10
    assert client.cookies["ovoz_session"] != token_after_password
    assert (await sessions.identify(token_after_password)).staff is None
    home = await client.get("/staff")
    assert (home.status_code == 200 and "Chortoq" in home.text) or "106" in home.text


async def test_later_sign_ins_need_a_fresh_code(client: httpx.AsyncClient) -> None:
    _, secret = await make_staff("d.yusupova", Grant(Role.OFFICIAL, region_id=7,
                                                     district_id=106))
    # The very code of the enrolment: one read again later may already be the next one.
    used_code = code_at(secret)
    await enrol(client, "d.yusupova", secret, used_code)
    await client.post("/signout", data={"_csrf_token": client.cookies["csrftoken"]})
    assert (await client.get("/staff")).headers["location"] == "/staff/signin"

    assert (await password_step(client, "d.yusupova")).headers["location"] == "/staff/verify"
    replay = await client.post("/staff/verify", data={
        "code": used_code, "_csrf_token": client.cookies["csrftoken"]})
    assert replay.status_code == 400
    wrong = await client.post("/staff/verify", data={
        "code": "000000" if used_code != "000000" else "111111",
        "_csrf_token": client.cookies["csrftoken"]})
    assert wrong.status_code == 400
    passed = await client.post("/staff/verify", data={
        "code": code_at(secret, 1), "_csrf_token": client.cookies["csrftoken"]})
    assert passed.status_code in (302, 303) and passed.headers["location"] == "/staff"
    assert (await client.get("/staff")).status_code == 200


async def test_wrong_passwords_are_refused_plainly(client: httpx.AsyncClient) -> None:
    await make_staff("n.tosheva", Grant(Role.MODERATOR))
    wrong = await password_step(client, "n.tosheva", "not-the-password-at-all")
    unknown = await password_step(client, "nobody.here", "not-the-password-at-all")
    assert wrong.status_code == unknown.status_code == 400
    assert 'class="error-summary"' in wrong.text
    await StaffAccount.update({StaffAccount.failed_attempts: 10,
                               StaffAccount.last_failure_at: datetime.now(UTC)}).where(
        StaffAccount.username == "n.tosheva")
    locked = await password_step(client, "n.tosheva")
    assert locked.status_code == 429


async def test_only_administrators_manage_roles(client: httpx.AsyncClient) -> None:
    official_id, official_secret = await make_staff(
        "o.rahimov", Grant(Role.OFFICIAL, region_id=1, district_id=16))
    await enrol(client, "o.rahimov", official_secret)
    assert (await client.get("/staff/roles")).status_code == 403
    refused = await client.post("/staff/roles", data={
        "staff_id": str(official_id), "role": "administrator",
        "_csrf_token": client.cookies["csrftoken"]})
    assert refused.status_code == 403
    await client.post("/signout", data={"_csrf_token": client.cookies["csrftoken"]})

    _, admin_secret = await make_staff("admin.one", Grant(Role.ADMINISTRATOR))
    await enrol(client, "admin.one", admin_secret)
    assert (await client.get("/staff/roles")).status_code == 200
    official_session = await sessions.start(sessions.STAFF, official_id,
                                            (await StaffAccount.select().where(
                                                StaffAccount.id == official_id).first())[
                                                "session_epoch"])
    granted = await client.post("/staff/roles", data={
        "staff_id": str(official_id), "role": "official", "district_id": "106",
        "_csrf_token": client.cookies["csrftoken"]})
    assert granted.status_code in (302, 303)
    roles = await staff.roles(official_id)
    assert {(r["role"], r["district"]) for r in roles} == {("official", 16), ("official", 106)}
    # A role change ends the person's sessions: the next sign-in gets a new session id.
    assert (await sessions.identify(official_session)).staff is None
    bad = await client.post("/staff/roles", data={
        "staff_id": str(official_id), "role": "official",
        "_csrf_token": client.cookies["csrftoken"]})
    assert bad.status_code == 400 and 'class="error-summary"' in bad.text


async def test_staff_forms_need_the_csrf_token(client: httpx.AsyncClient) -> None:
    await client.get("/staff/signin")
    refused = await client.post("/staff/signin", data={"username": "x", "password": "y"})
    assert refused.status_code == 403


async def test_staff_sign_out_everywhere(client: httpx.AsyncClient) -> None:
    staff_id, secret = await make_staff("m.aliyeva", Grant(Role.NGO_MONITOR))
    await enrol(client, "m.aliyeva", secret)
    other = await sessions.start(sessions.STAFF, staff_id, 0)
    response = await client.post("/staff/signout-everywhere",
                                 data={"_csrf_token": client.cookies["csrftoken"]})
    assert response.headers["location"] == "/staff/signin"
    assert (await sessions.identify(other)).staff is None
    assert (await client.get("/staff")).headers["location"] == "/staff/signin"


async def test_administrators_read_the_audit_trail(client: httpx.AsyncClient) -> None:
    official_id, official_secret = await make_staff(
        "f.nazarova", Grant(Role.OFFICIAL, region_id=1, district_id=16))
    await enrol(client, "f.nazarova", official_secret)
    assert (await client.get("/staff/audit")).status_code == 403
    await client.post("/signout", data={"_csrf_token": client.cookies["csrftoken"]})

    _, admin_secret = await make_staff("admin.two", Grant(Role.ADMINISTRATOR))
    await enrol(client, "admin.two", admin_secret)
    await client.post("/staff/roles", data={
        "staff_id": str(official_id), "role": "official", "district_id": "106",
        "_csrf_token": client.cookies["csrftoken"]})
    audit = await client.get("/staff/audit")
    assert audit.status_code == 200
    assert "role.granted" in audit.text and "admin.two" in audit.text
    assert f"staff:{official_id}" in audit.text


async def test_administrators_see_and_resend_dead_letters(client: httpx.AsyncClient) -> None:
    from ovoz.notify import services as notify
    from ovoz.notify.tables import OutboxMessage

    await notify.enqueue("report:9:updated", "staff", 1, "report.updated",
                         {"id": 2, "title": "Chiroq", "status": "fixed", "link": ""}, ["email"])
    await notify.run_once({}, max_attempts=3)  # no e-mail channel configured: dead at once
    _, admin_secret = await make_staff("admin.three", Grant(Role.ADMINISTRATOR))
    await enrol(client, "admin.three", admin_secret)
    listing = await client.get("/staff/outbox")
    assert listing.status_code == 200
    assert "report.updated" in listing.text and "not configured" in listing.text
    dead = await notify.dead_letters()
    resent = await client.post(f"/staff/outbox/{dead[0]['id']}/retry",
                               data={"_csrf_token": client.cookies["csrftoken"]})
    assert resent.status_code in (302, 303)
    assert (await OutboxMessage.select(OutboxMessage.status).first())["status"] == "pending"


async def test_administrators_switch_accounts_off_and_reset_authenticators(
        client: httpx.AsyncClient) -> None:
    official_id, _ = await make_staff("k.tursunov", Grant(Role.OFFICIAL, region_id=1,
                                                          district_id=16))
    official_session = await sessions.start(sessions.STAFF, official_id, 0)
    _, admin_secret = await make_staff("admin.four", Grant(Role.ADMINISTRATOR))
    await enrol(client, "admin.four", admin_secret)
    token = client.cookies["csrftoken"]

    off = await client.post(f"/staff/people/{official_id}/disable", data={"_csrf_token": token})
    assert off.status_code in (302, 303)
    assert (await sessions.identify(official_session)).staff is None
    other = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    async with other:
        refused = await password_step(other, "k.tursunov")
    assert refused.status_code == 400  # "switched off" is told only after the right password
    await client.post(f"/staff/people/{official_id}/enable", data={"_csrf_token": token})

    reset = await client.post(f"/staff/people/{official_id}/reset-authenticator",
                              data={"_csrf_token": token})
    assert reset.status_code in (302, 303)
    account = await StaffAccount.select().where(StaffAccount.id == official_id).first()
    assert account["totp_enrolled_at"] is None
    audit = await client.get("/staff/audit")
    assert "totp.reset" in audit.text and "staff.disabled" in audit.text

    admin = await StaffAccount.select().where(StaffAccount.username == "admin.four").first()
    own = await client.post(f"/staff/people/{admin['id']}/disable", data={"_csrf_token": token})
    assert own.status_code == 400
