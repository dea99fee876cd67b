"""The kinds of problem in the browser: national administrators change their names, answer
times and order and add new ones, audited and in the public ledger. A new answer time applies
to reports sent from then on, and the next `ovoz seed` keeps what was changed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ovoz.accountability import clock
from ovoz.accountability.tables import Obligation
from ovoz.accounts.permissions import Grant, PermissionDenied, Role, StaffMember
from ovoz.accounts.tables import StaffAudit
from ovoz.reports import services
from ovoz.reports.tables import Category, Report, Routing
from tests.petitions.test_staff_web import as_staff, submit
from tests.reports.helpers import (
    BERUNIY,
    REGION_OF,
    draft,
    load_demo_mahallas,
    make_resident,
    make_staff_account,
)
from tests.reports.service_helpers import ledger_entries

PAGE = "/staff/admin/categories"


@pytest.fixture(autouse=True)
async def shipped_categories(db: str) -> AsyncIterator[None]:
    """The categories are loaded once per test run and read by every other test: put them
    back as they were, and take away the ones added here."""
    before = {row["code"]: row for row in await Category.select()}
    yield
    added = [row["id"] for row in await Category.select(Category.id, Category.code)
             if row["code"] not in before]
    if added:
        await Routing.delete().where(Routing.category.is_in(added))
        await Report.delete().where(Report.category.is_in(added))
        await Category.delete().where(Category.id.is_in(added))
    for code, row in before.items():
        await Category.update({Category._meta.get_column_by_name(column): value
                               for column, value in row.items() if column != "id"}).where(
            Category.code == code)
    await services.load_categories()  # one taken away here comes back as shipped


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")


async def pothole() -> dict[str, Any]:
    row = await services.category_by_code("roads.pothole")
    assert row is not None
    return row


def fields(row: dict[str, Any], **changes: str) -> dict[str, str]:
    """The edit form of a category as the page fills it, with some changes."""
    return {**{key: str(row[key]) for key in ("name_uz", "name_uz_cyrl", "name_ru", "name_en",
                                                "response_days", "position")}, **changes}


async def test_the_page_is_for_national_administrators(client: httpx.AsyncClient) -> None:
    row = await pothole()
    for username, grant in (
            ("beruniy.admin", Grant(Role.ADMINISTRATOR, REGION_OF[BERUNIY], BERUNIY)),
            ("official", Grant(Role.OFFICIAL, REGION_OF[BERUNIY], BERUNIY)),
            ("moderator", Grant(Role.MODERATOR))):
        await as_staff(client, username, grant)
        assert (await client.get(PAGE)).status_code == 403
        assert (await submit(client, f"{PAGE}/{row['id']}", **fields(
            row, response_days="5"))).status_code == 403
        assert (await submit(client, PAGE, code="roads.ditch", group="roads",
                             name_uz="Ariq", response_days="10")).status_code == 403
    assert (await pothole())["response_days"] == 15
    assert await services.category_by_code("roads.ditch") is None
    await as_staff(client, "admin", Grant(Role.ADMINISTRATOR))
    assert f'href="{PAGE}"' in (await client.get("/staff")).text
    listing = await client.get(PAGE)
    assert listing.status_code == 200
    assert "Pothole" in listing.text and "<code>roads.pothole</code>" in listing.text
    assert "15 days to answer" in listing.text


async def test_a_new_answer_time_applies_to_new_reports_only(client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    author = await make_resident()
    earlier = await services.create_report(author, draft())
    before = await services.report(earlier)
    assert before is not None
    admin = await as_staff(client, "admin", Grant(Role.ADMINISTRATOR))
    row = await pothole()
    saved = await submit(client, f"{PAGE}/{row['id']}", **fields(
        row, response_days="10", name_en="Pothole in the road"))
    assert saved.status_code in (302, 303)
    assert saved.headers["location"] == f"{PAGE}?done=saved#c{row['id']}"
    assert "The changes have been saved." in (await client.get(saved.headers["location"])).text
    changed = await pothole()
    assert (changed["response_days"], changed["name_en"]) == (10, "Pothole in the road")

    # The report already in keeps its term, in its own row and in its obligation.
    kept = await services.report(earlier)
    assert kept is not None and kept["due_at"] == before["due_at"]
    obligation = await Obligation.select(Obligation.due_at).where(
        Obligation.ref == earlier).first()
    assert obligation is not None and obligation["due_at"] == before["due_at"]
    later = await services.report(await services.create_report(
        await make_resident("+998901234568"), draft()))
    assert later is not None
    assert later["due_at"] == clock.due_after(later["registered_at"], days=10)
    assert later["due_at"] < before["due_at"]

    [entry] = await ledger_entries("reports.category_changed")
    assert entry["subject"] == f"category:{row['id']}"
    assert entry["payload"] == {"category": "roads.pothole",
                                "changed": ["name_en", "response_days"],
                                "response_days": 10}
    [audit] = await StaffAudit.select().where(StaffAudit.action == "category.changed")
    assert audit["actor"] == admin.id and audit["subject"] == f"category:{row['id']}"

    # The next `ovoz seed` keeps the change.
    await services.load_categories()
    assert (await pothole())["response_days"] == 10


async def test_a_category_with_mistakes_is_explained_and_not_changed(
        client: httpx.AsyncClient) -> None:
    await as_staff(client, "admin", Grant(Role.ADMINISTRATOR))
    row = await pothole()
    for days in ("0", "31", "ten", ""):
        refused = await submit(client, f"{PAGE}/{row['id']}", **fields(row, response_days=days))
        assert refused.status_code == 400, days
        assert "Give a whole number of days from 1 to 30" in refused.text
        assert f'href="#c{row["id"]}-response_days"' in refused.text
    refused = await submit(client, f"{PAGE}/{row['id']}", **fields(
        row, name_uz=" ", position="-1", name_ru="Я" * 121))
    assert refused.status_code == 400
    for message in ("Give the name in Uzbek, in Latin letters.",
                    "A name can have at most 120 characters.",
                    "Give a whole number from 0 to 10000."):
        assert message in refused.text
    # The form that failed is open again, with what was typed.
    assert '<details open>' in refused.text and 'value="-1"' in refused.text
    assert await pothole() == row
    assert await ledger_entries("reports.category_changed") == []
    same = await submit(client, f"{PAGE}/{row['id']}", **fields(row))
    assert same.headers["location"] == f"{PAGE}?done=same#c{row['id']}"
    assert await ledger_entries("reports.category_changed") == []
    assert (await submit(client, f"{PAGE}/999999", **fields(row))).status_code == 404


async def test_an_administrator_adds_a_kind_of_problem(client: httpx.AsyncClient) -> None:
    admin = await as_staff(client, "admin", Grant(Role.ADMINISTRATOR))
    last = max(row["position"] for row in await services.categories())
    added = await submit(client, PAGE, code="roads.ditch", group="roads",
                         name_uz="Yo‘l yoqasidagi ariq", name_uz_cyrl="", name_ru="Кювет",
                         name_en="Roadside ditch", response_days="10", position="")
    assert added.status_code in (302, 303) and added.headers["location"] == f"{PAGE}?done=added"
    row = await services.category_by_code("roads.ditch")
    assert row is not None
    assert (row["group"], row["name_uz_cyrl"], row["response_days"], row["position"]) == (
        "roads", "Йўл ёқасидаги ариқ", 10, last + 1)
    assert "Roadside ditch" in (await client.get("/reports")).text  # offered at once
    [entry] = await ledger_entries("reports.category_added")
    assert entry["payload"] == {"category": "roads.ditch", "group": "roads",
                                "response_days": 10}
    [audit] = await StaffAudit.select().where(StaffAudit.action == "category.added")
    assert audit["actor"] == admin.id and json.loads(audit["detail"]) == {"code": "roads.ditch"}

    refused = await submit(client, PAGE, code="Roads Ditch!", group="gardens", name_uz="",
                           response_days="90")
    assert refused.status_code == 400
    for field in ("code", "group", "name_uz", "response_days"):
        assert f'href="#new-{field}"' in refused.text
    assert "Choose the group." in refused.text and 'value="Roads Ditch!"' in refused.text
    taken = await submit(client, PAGE, code="roads.ditch", group="roads", name_uz="Ariq",
                         response_days="10")
    assert taken.status_code == 400 and "Another kind of problem has this code." in taken.text
    assert len(await ledger_entries("reports.category_added")) == 1


async def test_the_services_are_for_national_administrators(db: str) -> None:
    beruniy_admin = Grant(Role.ADMINISTRATOR, REGION_OF[BERUNIY], BERUNIY)
    district_admin = StaffMember(await make_staff_account("beruniy.admin", beruniy_admin),
                                 (beruniy_admin,))
    row = await pothole()
    with pytest.raises(PermissionDenied):
        await services.update_category(district_admin, row["id"], fields(row, response_days="5"))
    with pytest.raises(PermissionDenied):
        await services.add_category(district_admin, {"code": "x", "group": "roads",
                                                     "name_uz": "X", "response_days": "5"})
    admin = StaffMember(await make_staff_account("admin", Grant(Role.ADMINISTRATOR)),
                        (Grant(Role.ADMINISTRATOR),))
    with pytest.raises(services.ReportError) as caught:
        await services.update_category(admin, row["id"], fields(row, response_days="31"))
    assert (caught.value.code, caught.value.field) == ("bad_response_days", "response_days")


async def test_seeding_again_adds_missing_categories_and_keeps_the_rest(db: str) -> None:
    await Category.update({Category.name_en: "Edited", Category.position: 99}).where(
        Category.code == "other")
    water = await services.category_by_code("water")
    assert water is not None
    await Category.delete().where(Category.code == "water")
    assert await services.load_categories() == 12
    other = await services.category_by_code("other")
    assert other is not None and (other["name_en"], other["position"]) == ("Edited", 99)
    again = await services.category_by_code("water")
    assert again is not None
    assert {k: v for k, v in again.items() if k != "id"} == {
        k: v for k, v in water.items() if k != "id"}
