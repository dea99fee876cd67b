"""A district's mahallas in the browser: national and district administrators list, add,
correct and import them (all rows or none), audited and in the public ledger; nobody else."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from ovoz.accounts.permissions import Grant, PermissionDenied, Role
from ovoz.accounts.tables import StaffAudit
from ovoz.geo import services
from ovoz.geo.tables import Mahalla
from ovoz.ledger.tables import LedgerEntry
from tests.petitions.test_staff_web import as_staff, submit
from tests.reports.helpers import BERUNIY, CHORTOQ, REGION_OF

BERUNIY_ADMIN = Grant(Role.ADMINISTRATOR, REGION_OF[BERUNIY], BERUNIY)
CHORTOQ_ADMIN = Grant(Role.ADMINISTRATOR, REGION_OF[CHORTOQ], CHORTOQ)
BERUNIY_PAGE = f"/staff/admin/districts/{BERUNIY}/mahallas"
HEADER = "district_id,name_uz,name_uz_cyrl,name_ru,name_en,latitude,longitude,population"


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")


def navbahor(**changes: str) -> dict[str, str]:
    return {"name_uz": "Navbahor", "name_uz_cyrl": "", "name_ru": "Навбахор",
            "name_en": "Navbahor", "latitude": "41.6912", "longitude": "60.7521",
            "population": "2 400", **changes}


async def the_mahalla(name_uz: str) -> dict[str, Any]:
    row = await Mahalla.select().where(Mahalla.name_uz == name_uz).first()
    assert row is not None, name_uz
    return row


async def ledger(kind: str) -> list[dict[str, Any]]:
    rows = await LedgerEntry.select(LedgerEntry.subject, LedgerEntry.payload).where(
        LedgerEntry.kind == kind).order_by(LedgerEntry.seq)
    return [{"subject": row["subject"], "payload": json.loads(row["payload"])} for row in rows]


async def audited(action: str) -> list[dict[str, Any]]:
    rows = await StaffAudit.select().where(StaffAudit.action == action).order_by(StaffAudit.id)
    return [{**row, "detail": json.loads(row["detail"])} for row in rows]


async def upload(client: httpx.AsyncClient, district_id: int, *rows: str) -> httpx.Response:
    content = ("\n".join([HEADER, *rows]) + "\n").encode()
    return await client.post(f"/staff/admin/districts/{district_id}/mahallas/import",
                             data={"_csrf_token": client.cookies["csrftoken"]},
                             files={"file": ("mahallas.csv", content, "text/csv")})


async def test_a_district_administrator_adds_a_mahalla(client: httpx.AsyncClient) -> None:
    admin = await as_staff(client, "beruniy.admin", BERUNIY_ADMIN)
    home = await client.get("/staff")
    assert f'href="{BERUNIY_PAGE}"' in home.text
    listing = await client.get(BERUNIY_PAGE)
    assert listing.status_code == 200
    assert "No mahallas have been added for this district yet." in listing.text
    added = await submit(client, BERUNIY_PAGE, **navbahor())
    assert added.status_code in (302, 303) and added.headers["location"].endswith("created=1")
    row = await the_mahalla("Navbahor")
    assert (row["district"], row["name_uz_cyrl"], row["name_ru"], row["centre_lat"],
            row["centre_lon"], row["population"], row["is_demo"]) == (
        BERUNIY, "Навбаҳор", "Навбахор", 41.6912, 60.7521, 2400, False)
    page = await client.get(added.headers["location"])
    assert "1 mahalla added." in page.text and "Навбаҳор" in page.text
    assert f'href="/staff/admin/mahallas/{row["id"]}"' in page.text
    [entry] = await ledger("geo.mahalla_added")
    assert entry == {"subject": f"mahalla:{row['id']}", "payload": {"district": BERUNIY}}
    [audit] = await audited("mahalla.added")
    assert (audit["actor"], audit["subject"], audit["detail"]) == (
        admin.id, f"mahalla:{row['id']}", {"district_id": BERUNIY})


async def test_a_mahalla_with_mistakes_is_explained_and_not_added(
        client: httpx.AsyncClient) -> None:
    await as_staff(client, "beruniy.admin", BERUNIY_ADMIN)
    refused = await submit(client, BERUNIY_PAGE, **navbahor(
        name_uz=" ", longitude="", population="many"))
    assert refused.status_code == 400 and 'class="error-summary"' in refused.text
    for field, message in (
            ("name_uz", "Give the mahalla&#39;s name in Uzbek, in Latin letters."),
            ("longitude", "Give both the latitude and the longitude of the centre, or neither."),
            ("population", "Give the population as a whole number, or leave it empty.")):
        assert f'href="#{field}"' in refused.text and message in refused.text
    assert 'value="Навбахор"' in refused.text and 'value="many"' in refused.text
    outside = await submit(client, BERUNIY_PAGE, **navbahor(latitude="51.5"))
    assert outside.status_code == 400
    assert "This is outside Uzbekistan: give a number from 37.0 to 45.8." in outside.text
    assert await Mahalla.count() == 0
    await submit(client, BERUNIY_PAGE, **navbahor())
    again = await submit(client, BERUNIY_PAGE, **navbahor(name_uz="NAVBAHOR"))
    assert again.status_code == 400
    assert "The district already has a mahalla by this name." in again.text
    assert await Mahalla.count() == 1 and len(await ledger("geo.mahalla_added")) == 1


async def test_a_mahalla_is_corrected_on_its_own_page(client: httpx.AsyncClient) -> None:
    admin = await as_staff(client, "beruniy.admin", BERUNIY_ADMIN)
    await submit(client, BERUNIY_PAGE, **navbahor())
    row = await the_mahalla("Navbahor")
    form = await client.get(f"/staff/admin/mahallas/{row['id']}")
    assert form.status_code == 200
    assert 'value="41.6912"' in form.text and 'value="2400"' in form.text
    changed = await submit(client, f"/staff/admin/mahallas/{row['id']}", **navbahor(
        name_uz_cyrl="Навбаҳор", population="2600"))
    assert changed.status_code in (302, 303) and changed.headers["location"].endswith(
        "updated=1")
    assert (await the_mahalla("Navbahor"))["population"] == 2600
    [entry] = await ledger("geo.mahalla_changed")
    assert entry["payload"] == {"district": BERUNIY, "changed": ["population"]}
    [audit] = await audited("mahalla.changed")
    assert audit["actor"] == admin.id and audit["detail"]["changed"] == ["population"]
    # The same values again change nothing and record nothing.
    same = await submit(client, f"/staff/admin/mahallas/{row['id']}", **navbahor(
        population="2600"))
    assert same.headers["location"].endswith("updated=0")
    assert "Nothing changed." in (await client.get(same.headers["location"])).text
    assert len(await ledger("geo.mahalla_changed")) == 1
    bad = await submit(client, f"/staff/admin/mahallas/{row['id']}", **navbahor(
        latitude="north"))
    assert bad.status_code == 400
    assert "Write a number with a decimal point, like 41.6912." in bad.text
    assert (await client.get("/staff/admin/mahallas/999999")).status_code == 404


async def test_a_file_of_the_districts_mahallas_is_imported_all_or_nothing(
        client: httpx.AsyncClient) -> None:
    admin = await as_staff(client, "beruniy.admin", BERUNIY_ADMIN)
    refused = await upload(client, BERUNIY, f"{BERUNIY},Bahor,,,,,,",
                           f"{CHORTOQ},Chortoq MFY,,,,,,", f"{BERUNIY},Sharq,,,,99,60.7,")
    assert refused.status_code == 400
    assert "Nothing was imported: the file has 2 problems." in refused.text
    assert ("Line 3, column district_id: This line is for district 106: this page imports "
            "only this district&#39;s mahallas.") in refused.text
    assert ("Line 4, column latitude: This is outside Uzbekistan: give a number from 37.0 to "
            "45.8.") in refused.text
    assert await Mahalla.count() == 0 and await ledger("geo.mahallas_imported") == []
    empty = await client.post(f"{BERUNIY_PAGE}/import",
                              data={"_csrf_token": client.cookies["csrftoken"]},
                              files={"file": ("", b"", "application/octet-stream")})
    assert empty.status_code == 400 and "Choose a CSV file" in empty.text

    imported = await upload(client, BERUNIY, f"{BERUNIY},Bahor,,,,,,",
                            f"{BERUNIY},Sharq,,Шарк,,41.7,60.7,1200")
    assert imported.status_code in (302, 303)
    assert imported.headers["location"].endswith("created=2&updated=0")
    assert {row["name_uz"] for row in await Mahalla.select(Mahalla.name_uz)} == {"Bahor",
                                                                                 "Sharq"}
    assert [e["payload"] for e in await ledger("geo.mahallas_imported")] == [{"mahallas": 2}]
    [audit] = await audited("mahallas.imported")
    assert (audit["actor"], audit["subject"], audit["detail"]) == (
        admin.id, f"district:{BERUNIY}", {"created": 2, "updated": 0})


async def test_others_cannot_touch_a_districts_mahallas(client: httpx.AsyncClient) -> None:
    await as_staff(client, "beruniy.admin", BERUNIY_ADMIN)
    await submit(client, BERUNIY_PAGE, **navbahor())
    mahalla_id = (await the_mahalla("Navbahor"))["id"]
    for username, grant in (
            ("chortoq.admin", CHORTOQ_ADMIN), ("moderator", Grant(Role.MODERATOR)),
            ("official", Grant(Role.OFFICIAL, REGION_OF[BERUNIY], BERUNIY))):
        await as_staff(client, username, grant)
        assert (await client.get(BERUNIY_PAGE)).status_code == 403
        assert (await submit(client, BERUNIY_PAGE, **navbahor(name_uz="Bog'"))).status_code \
            == 403
        assert (await upload(client, BERUNIY, f"{BERUNIY},Bog',,,,,,")).status_code == 403
        assert (await client.get(f"/staff/admin/mahallas/{mahalla_id}")).status_code == 403
        changed = await submit(client, f"/staff/admin/mahallas/{mahalla_id}",
                               **navbahor(population="1"))
        assert changed.status_code == 403
    assert await Mahalla.count() == 1
    assert (await the_mahalla("Navbahor"))["population"] == 2400
    # A national administrator reaches every district.
    await as_staff(client, "admin", Grant(Role.ADMINISTRATOR))
    assert (await client.get(f"/staff/admin/districts/{CHORTOQ}/mahallas")).status_code == 200
    assert (await client.get("/staff/admin/districts/999999/mahallas")).status_code == 404


async def test_the_services_check_who_asks(db: str) -> None:
    from ovoz.accounts.permissions import StaffMember
    from tests.reports.helpers import make_staff_account

    admin = StaffMember(await make_staff_account("admin", BERUNIY_ADMIN), (BERUNIY_ADMIN,))
    moderator = StaffMember(await make_staff_account("moderator", Grant(Role.MODERATOR)),
                            (Grant(Role.MODERATOR),))
    with pytest.raises(PermissionDenied):
        await services.add_mahalla(moderator, BERUNIY, navbahor())
    with pytest.raises(PermissionDenied):
        await services.add_mahalla(admin, CHORTOQ, navbahor())
    mahalla_id = await services.add_mahalla(admin, BERUNIY, navbahor())
    with pytest.raises(PermissionDenied):
        await services.update_mahalla(moderator, mahalla_id, navbahor(population="1"))
    with pytest.raises(services.MahallaRowError) as refused:
        await services.update_mahalla(admin, mahalla_id, navbahor(name_uz="", population="x"))
    assert [(p.field, p.code) for p in refused.value.problems] == [
        ("name_uz", "required"), ("population", "not_whole")]
    assert await services.update_mahalla(admin, mahalla_id, navbahor()) == []
    data = f"{HEADER}\n{CHORTOQ},Chortoq MFY,,,,,,\n".encode()
    with pytest.raises(services.MahallaImportError) as caught:
        await services.import_district_mahallas(admin, BERUNIY, data)
    assert [(e.line, e.code) for e in caught.value.errors] == [(2, "other_district")]
    with pytest.raises(PermissionDenied):
        await services.import_district_mahallas(admin, CHORTOQ, data)
    assert await Mahalla.count() == 1
