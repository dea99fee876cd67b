"""The acceptance case of district administration, all through the browser: a national
administrator creates an account and makes it the administrator of Beruniy; that person signs
in (enrolling an authenticator), sets up a department and routes potholes to it; a resident's
new pothole report in Beruniy then goes to that department. Plus what a district administrator
may not do with departments, and renaming one."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pyotp
import pytest

from ovoz.accounts import staff
from ovoz.accounts.permissions import Grant, PermissionDenied, Role, StaffMember
from ovoz.accounts.tables import StaffAccount, StaffAudit
from ovoz.reports import services
from ovoz.reports.tables import Department
from tests.accounts.test_staff_web import PASSWORD, password_step
from tests.conftest import last_code
from tests.petitions.test_staff_web import as_staff, submit
from tests.reports.helpers import (
    BERUNIY,
    BERUNIY_POINT,
    CHORTOQ,
    REGION_OF,
    load_demo_mahallas,
    make_staff_account,
)
from tests.reports.service_helpers import category_id, ledger_entries

ROADS = "Yo‘l xo‘jaligi bo‘limi"
BERUNIY_ADMIN = Grant(Role.ADMINISTRATOR, REGION_OF[BERUNIY], BERUNIY)


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")


def browser(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Another person's browser on the same site, reading English."""
    other = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    other.cookies.set("lang", "en")
    return other


async def post(client: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    return await client.post(path, data={"_csrf_token": client.cookies["csrftoken"], **fields})


async def test_a_district_administrator_made_in_the_browser_routes_potholes_to_a_department(
        client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    await as_staff(client, "admin", Grant(Role.ADMINISTRATOR))
    created = await submit(client, "/staff/people/new", username="beruniy.admin",
                           display_name="Beruniy administratori", password=PASSWORD)
    assert created.status_code in (302, 303)
    person = int(created.headers["location"].split("person=")[1].split("#")[0])
    granted = await submit(client, "/staff/roles", staff_id=str(person), role="administrator",
                           district_id=str(BERUNIY))
    assert granted.status_code in (302, 303)
    assert [(g["role"], g["region"], g["district"]) for g in await staff.roles(person)] == [
        ("administrator", REGION_OF[BERUNIY], BERUNIY)]

    async with browser(client) as admin_of_beruniy:
        # The first sign-in enrols an authenticator app, from the key the page shows.
        assert (await password_step(admin_of_beruniy, "beruniy.admin")).headers[
            "location"] == "/staff/enrol"
        enrol = await admin_of_beruniy.get("/staff/enrol")
        secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', enrol.text)
        assert secret is not None
        enrolled = await post(admin_of_beruniy, "/staff/enrol", code=pyotp.TOTP(secret[1]).now())
        assert enrolled.status_code == 200
        home = await admin_of_beruniy.get("/staff")
        departments_path = f"/staff/districts/{BERUNIY}/departments"
        assert f'href="{departments_path}"' in home.text

        added = await post(admin_of_beruniy, departments_path, name_uz=ROADS, name_ru="",
                           name_en="Roads department")
        assert added.status_code in (302, 303)
        page = await admin_of_beruniy.get(departments_path)
        # In English, as the administrator reads the page.
        found = re.search(r'<option value="(\d+)">Roads department</option>', page.text)
        label = re.search(r'<label for="route-(\d+)">Pothole</label>', page.text)
        assert found is not None and label is not None
        department, pothole = int(found[1]), int(label[1])
        routed = await post(admin_of_beruniy, f"/staff/districts/{BERUNIY}/routes",
                            **{f"route-{pothole}": str(department)})
        assert routed.status_code == 200 and "The routing has been saved." in routed.text
        # Not another district's.
        assert (await admin_of_beruniy.get(
            f"/staff/districts/{CHORTOQ}/departments")).status_code == 403

    async with browser(client) as resident:
        await resident.get("/signin")
        await post(resident, "/signin", phone="90 111 22 33")
        signed_in = await post(resident, "/signin/code", phone="+998901112233",
                               code=last_code("+998901112233"))
        assert signed_in.status_code in (302, 303)
        sent = await post(resident, "/reports/new", category="roads.pothole",
                          description="A deep pothole by the school gate.",
                          lat=str(BERUNIY_POINT[0]), lon=str(BERUNIY_POINT[1]))
        assert sent.status_code == 302, sent.text
        report_id = int(sent.headers["location"].removeprefix("/reports/").split("?")[0])
        shown = await resident.get(f"/reports/{report_id}")
        assert "Roads department" in shown.text

    report = await services.report(report_id)
    assert report is not None and report["department"] == department
    assert report["category"] == pothole
    audit = {(row["action"], row["subject"]) for row in await StaffAudit.select().where(
        StaffAudit.actor == person)}
    assert {("department.created", f"department:{department}"),
            ("route.set", f"district:{BERUNIY}")} <= audit
    [created_entry] = await ledger_entries("reports.department_created")
    assert created_entry["subject"] == f"department:{department}"
    [route] = await ledger_entries("reports.route_set")
    assert route["payload"] == {"category": pothole, "department": department}


async def test_a_district_administrator_renames_a_department(client: httpx.AsyncClient) -> None:
    admin = await as_staff(client, "beruniy.admin", BERUNIY_ADMIN)
    await submit(client, f"/staff/districts/{BERUNIY}/departments", name_uz="Yol xojaligi")
    await submit(client, f"/staff/districts/{BERUNIY}/departments", name_uz="Suvoqova")
    roads = (await Department.select().where(Department.name_uz == "Yol xojaligi").first())
    path = f"/staff/districts/{BERUNIY}/departments/{roads['id']}"
    renamed = await submit(client, path, name_uz=ROADS, name_ru="Дорожный отдел",
                           name_en="Roads department")
    assert renamed.status_code in (302, 303)
    row = await services.department(roads["id"])
    assert row is not None
    assert (row["name_uz"], row["name_uz_cyrl"], row["name_ru"]) == (
        ROADS, "Йўл хўжалиги бўлими", "Дорожный отдел")
    [entry] = await ledger_entries("reports.department_renamed")
    assert entry == {"subject": f"department:{roads['id']}", "payload": {"district": BERUNIY},
                     "raw": entry["raw"]}
    [audit] = await StaffAudit.select().where(StaffAudit.action == "department.renamed")
    assert audit["actor"] == admin.id
    for name_uz, message in (("Suvoqova", "Another department of the district has this name."),
                             (" ", "Give the department&#39;s name in Uzbek.")):
        refused = await submit(client, path, name_uz=name_uz)
        assert refused.status_code == 400 and message in refused.text
        assert f'href="#d{roads["id"]}-name_uz"' in refused.text
    assert (await services.department(roads["id"]))["name_uz"] == ROADS  # type: ignore[index]
    elsewhere = await submit(client, f"/staff/districts/{CHORTOQ}/departments/{roads['id']}",
                             name_uz="Boshqa")
    assert elsewhere.status_code == 404


async def test_a_district_administrator_manages_only_their_districts_departments(
        db: str) -> None:
    beruniy = StaffMember(await make_staff_account("beruniy.admin", BERUNIY_ADMIN),
                          (BERUNIY_ADMIN,))
    roads = await services.create_department(beruniy, BERUNIY, ROADS)
    await services.set_route(beruniy, BERUNIY, await category_id("roads.pothole"), roads)
    chortoq_grant = Grant(Role.ADMINISTRATOR, REGION_OF[CHORTOQ], CHORTOQ)
    chortoq = StaffMember(await make_staff_account("chortoq.admin", chortoq_grant),
                          (chortoq_grant,))
    calls: list[Any] = [
        services.create_department(chortoq, BERUNIY, "Suvoqova"),
        services.set_route(chortoq, BERUNIY, await category_id("water"), roads),
        services.rename_department(chortoq, roads, "Boshqa"),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied):
            await call
    assert [d["name_uz"] for d in await services.departments(BERUNIY)] == [ROADS]
    assert await services.routes(BERUNIY) == {await category_id("roads.pothole"): roads}
    assert await StaffAccount.count() == 2
