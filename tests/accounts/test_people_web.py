"""Staff accounts in the browser: a national or district administrator creates one (the person
enrols an authenticator at the first sign-in) and gives it a role; a district administrator
gives and takes back roles only inside the district, and switches off only its own people."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from ovoz.accounts import staff
from ovoz.accounts.permissions import Grant, PermissionDenied, Role
from ovoz.accounts.tables import RoleGrant, StaffAccount, StaffAudit
from ovoz.ledger.tables import LedgerEntry
from tests.accounts.test_staff_web import PASSWORD, password_step
from tests.petitions.test_staff_web import as_staff, submit
from tests.reports.helpers import BERUNIY, CHORTOQ, REGION_OF, make_staff_account

KARAKALPAKSTAN, NAMANGAN = REGION_OF[BERUNIY], REGION_OF[CHORTOQ]
NATIONAL_ADMIN = Grant(Role.ADMINISTRATOR)
BERUNIY_ADMIN = Grant(Role.ADMINISTRATOR, KARAKALPAKSTAN, BERUNIY)
BERUNIY_OFFICIAL = Grant(Role.OFFICIAL, KARAKALPAKSTAN, BERUNIY)
CHORTOQ_OFFICIAL = Grant(Role.OFFICIAL, NAMANGAN, CHORTOQ)


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")


async def account(username: str) -> dict[str, object] | None:
    return await StaffAccount.select().where(StaffAccount.username == username).first()


async def audit_rows(action: str) -> list[dict[str, object]]:
    return await StaffAudit.select().where(StaffAudit.action == action).order_by(StaffAudit.id)


async def ledger_kinds() -> list[str]:
    return await LedgerEntry.select(LedgerEntry.kind).order_by(LedgerEntry.seq).output(
        as_list=True)


async def active_grants(staff_id: int) -> set[tuple[str, int | None]]:
    return {(row["role"], row["district"]) for row in await staff.roles(staff_id)}


async def test_an_administrator_creates_an_account_that_enrols_at_first_sign_in(
        client: httpx.AsyncClient) -> None:
    admin = await as_staff(client, "admin", NATIONAL_ADMIN)
    form = await client.get("/staff/people/new")
    assert form.status_code == 200 and 'name="username"' in form.text
    created = await submit(client, "/staff/people/new", username="D.Yusupova",
                           display_name="  Dilnoza   Yusupova ", email="d.yusupova@example.uz",
                           password=PASSWORD)
    row = await account("d.yusupova")
    assert row is not None
    assert (row["display_name"], row["email"], row["totp_enrolled_at"]) == (
        "Dilnoza Yusupova", "d.yusupova@example.uz", None)
    assert created.status_code in (302, 303)
    assert created.headers["location"] == (
        f"/staff/roles?person={row['id']}#person-{row['id']}")
    roles = await client.get(created.headers["location"])
    assert roles.status_code == 200
    assert "Give d.yusupova a role below." in roles.text
    assert f'<option value="{row["id"]}" selected>' in roles.text
    assert f'id="person-{row["id"]}" aria-current="true"' in roles.text
    [audited] = await audit_rows("staff.created")
    assert (audited["actor"], audited["subject"]) == (admin.id, f"staff:{row['id']}")
    assert "accounts.staff_created" in await ledger_kinds()

    # The first sign-in goes through the authenticator's enrolment, not into the staff area.
    other = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    async with other:
        first = await password_step(other, "d.yusupova")
        assert first.headers["location"] == "/staff/enrol"
        assert (await other.get("/staff")).headers["location"] == "/staff/signin"


async def test_a_password_left_empty_is_made_and_shown_once(client: httpx.AsyncClient) -> None:
    await as_staff(client, "admin", NATIONAL_ADMIN)
    created = await submit(client, "/staff/people/new", username="b.aliyev",
                           display_name="Bobur Aliyev", email="", password="")
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    shown = re.search(r"<dt>First password</dt><dd><code>([^<]+)</code>", created.text)
    assert shown is not None
    row = await account("b.aliyev")
    assert row is not None
    assert f'href="/staff/roles?person={row["id"]}#person-{row["id"]}"' in created.text
    other = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    async with other:
        signed_in = await password_step(other, "b.aliyev", shown[1])
    assert signed_in.headers["location"] == "/staff/enrol"


async def test_a_new_account_with_mistakes_is_explained_and_not_created(
        client: httpx.AsyncClient) -> None:
    await as_staff(client, "admin", NATIONAL_ADMIN)
    refused = await submit(client, "/staff/people/new", username="Ab", display_name=" ",
                           email="not an address", password="short")
    assert refused.status_code == 400
    assert 'class="error-summary"' in refused.text
    for message in ("Use 3 to 64 lower-case Latin letters", "Give the person&#39;s name.",
                    "Enter an e-mail address", "The password needs at least 12 characters."):
        assert message in refused.text, message
    for field in ("username", "display_name", "email", "password"):
        assert f'href="#{field}"' in refused.text
    assert 'value="ab"' in refused.text and 'value="not an address"' in refused.text
    assert "short" not in refused.text  # a password is never sent back
    assert await StaffAccount.count() == 1
    common = await submit(client, "/staff/people/new", username="k.tursunov",
                          display_name="Kamol", password="password1234")
    assert common.status_code == 400 and "one of the most common passwords" in common.text
    taken = await submit(client, "/staff/people/new", username="admin", display_name="Again",
                         password=PASSWORD)
    assert taken.status_code == 400 and "This username is taken." in taken.text
    assert await StaffAccount.count() == 1


async def test_only_administrators_create_accounts(client: httpx.AsyncClient) -> None:
    for username, grant in (("moderator", Grant(Role.MODERATOR)), ("hokim", BERUNIY_OFFICIAL)):
        await as_staff(client, username, grant)
        assert (await client.get("/staff/people/new")).status_code == 403
        refused = await submit(client, "/staff/people/new", username="n.new",
                               display_name="New", password=PASSWORD)
        assert refused.status_code == 403
        assert (await client.get("/staff/roles")).status_code == 403
    assert await account("n.new") is None


async def test_a_district_administrator_gives_roles_only_inside_the_district(
        client: httpx.AsyncClient) -> None:
    beruniy_official = await make_staff_account("beruniy.official", BERUNIY_OFFICIAL)
    chortoq_official = await make_staff_account("chortoq.official", CHORTOQ_OFFICIAL)
    moderator = await make_staff_account("moderator", Grant(Role.MODERATOR))
    await as_staff(client, "beruniy.admin", BERUNIY_ADMIN)
    assert 'href="/staff/roles"' in (await client.get("/staff")).text
    created = await submit(client, "/staff/people/new", username="yangi.xodim",
                           display_name="Yangi Xodim", password=PASSWORD)
    newcomer = (await account("yangi.xodim"))["id"]  # type: ignore[index]
    assert created.status_code in (302, 303)

    roles = await client.get("/staff/roles")
    assert roles.status_code == 200
    # Their district's people and new accounts without a role; nobody else.
    assert "beruniy.official" in roles.text and "yangi.xodim" in roles.text
    assert "chortoq.official" not in roles.text and ">moderator<" not in roles.text
    assert '<select id="district_id" name="district_id"><option value="16"' in roles.text
    assert '<option value="administrator"' not in roles.text

    granted = await submit(client, "/staff/roles", staff_id=str(newcomer), role="official",
                           district_id=str(BERUNIY))
    assert granted.status_code in (302, 303)
    assert await active_grants(newcomer) == {("official", BERUNIY)}
    for refused_grant in ({"role": "official", "district_id": str(CHORTOQ)},
                          {"role": "official", "region_id": str(KARAKALPAKSTAN)},
                          {"role": "moderator"},
                          {"role": "administrator", "district_id": str(BERUNIY)},
                          {"role": "administrator"}):
        refused = await submit(client, "/staff/roles", staff_id=str(newcomer), **refused_grant)
        assert refused.status_code in (400, 403), refused_grant
        assert 'class="error-summary"' in refused.text
    assert await active_grants(newcomer) == {("official", BERUNIY)}
    assert "You can give roles only inside your district." in refused.text

    # Taking back: inside the district only.
    chortoq_grant = (await staff.roles(chortoq_official))[0]["id"]
    moderator_grant = (await staff.roles(moderator))[0]["id"]
    for grant_id in (chortoq_grant, moderator_grant):
        assert (await submit(client, f"/staff/roles/{grant_id}/revoke")).status_code == 403
    assert await RoleGrant.count().where(RoleGrant.revoked_at.is_not_null()) == 0
    beruniy_grant = (await staff.roles(beruniy_official))[0]["id"]
    assert (await submit(client, f"/staff/roles/{beruniy_grant}/revoke")).status_code in (
        302, 303)
    assert await staff.roles(beruniy_official) == []
    [revoked] = await audit_rows("role.revoked")
    assert revoked["subject"] == f"staff:{beruniy_official}"
    assert json.loads(revoked["detail"])["district_id"] == BERUNIY  # type: ignore[arg-type]


async def test_a_district_administrator_switches_off_only_people_wholly_of_the_district(
        client: httpx.AsyncClient) -> None:
    inside = await make_staff_account("beruniy.official", BERUNIY_OFFICIAL)
    elsewhere = await make_staff_account("chortoq.official", CHORTOQ_OFFICIAL)
    both = await make_staff_account("both.districts", BERUNIY_OFFICIAL)
    await staff.grant_role(both, CHORTOQ_OFFICIAL)
    peer = await make_staff_account("beruniy.admin2", BERUNIY_ADMIN)
    roleless, _ = await staff.create_staff("no.role", "No Role", PASSWORD)
    await as_staff(client, "beruniy.admin", BERUNIY_ADMIN)
    roles = await client.get("/staff/roles")
    assert f'action="/staff/people/{inside}/disable"' in roles.text
    assert f'action="/staff/people/{both}/disable"' not in roles.text
    for staff_id in (elsewhere, both, peer, roleless["id"]):
        for change in ("disable", "reset-authenticator"):
            response = await submit(client, f"/staff/people/{staff_id}/{change}")
            assert response.status_code == 403, (staff_id, change)
    assert await StaffAccount.count().where(StaffAccount.disabled_at.is_not_null()) == 0
    switched = await submit(client, f"/staff/people/{inside}/disable")
    assert switched.status_code in (302, 303)
    row = await StaffAccount.select().where(StaffAccount.id == inside).first()
    assert row is not None and row["disabled_at"] is not None
    assert [row["subject"] for row in await audit_rows("staff.disabled")] == [f"staff:{inside}"]


async def test_the_services_give_a_district_administrator_only_the_district(db: str) -> None:
    from ovoz.accounts.sessions import Identity

    admin_id = await make_staff_account("beruniy.admin", BERUNIY_ADMIN)
    actor = Identity(staff={"id": admin_id}, staff_stage="full", grants=(BERUNIY_ADMIN,))
    row, _ = await staff.create_staff("new.official", "New", PASSWORD, actor=actor,
                                      grants=[Grant(Role.OFFICIAL, district_id=BERUNIY)])
    assert await active_grants(row["id"]) == {("official", BERUNIY)}
    for grant in (CHORTOQ_OFFICIAL, Grant(Role.MODERATOR), BERUNIY_ADMIN):
        with pytest.raises(PermissionDenied):
            await staff.create_staff("other.one", "Other", PASSWORD, actor=actor,
                                     grants=[grant])
        with pytest.raises(PermissionDenied):
            await staff.grant_role(row["id"], grant, actor=actor)
    assert await account("other.one") is None
    assert await active_grants(row["id"]) == {("official", BERUNIY)}
