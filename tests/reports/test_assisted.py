"""Reporting a problem for a resident at the mahalla office: by a code texted to their phone,
or on a numbered paper form (for a resident without a phone, found by their Ovoz number), the
refusals, the receipt, and the mark "assisted" on the public page, the API and open data."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from ovoz.accountability import clock
from ovoz.accountability.tables import Obligation
from ovoz.accounts import services as accounts
from ovoz.accounts import sessions
from ovoz.accounts.desk import AssistError
from ovoz.accounts.permissions import Grant, Role, StaffMember
from ovoz.accounts.tables import Resident
from ovoz.i18n import locale
from ovoz.ledger.tables import LedgerEntry
from ovoz.reports import assisted, services
from ovoz.reports.tables import Photo, Report
from tests.conftest import last_code, sms_outbox
from tests.petitions.helpers import beruniy_mahallas, make_verified
from tests.petitions.test_staff_web import as_staff, mahalla_staff
from tests.reports.helpers import (
    BERUNIY,
    REGION_OF,
    draft,
    jpeg,
    load_demo_mahallas,
    make_staff_account,
)

PATH = "/staff/reports/assist"
REPORT = {"category": "roads.pothole", "location_text": "Navoiy ko'chasi, maktab oldida",
          "description": "A deep pothole by the school gate."}


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")


@pytest.fixture
async def mahallas(db: str) -> list[int]:
    await load_demo_mahallas()
    return await beruniy_mahallas()


async def submit(client: httpx.AsyncClient, path: str, photos: list[bytes] | None = None,
                 **fields: str) -> httpx.Response:
    """The desk's forms are multipart, as a browser sends them, with or without photos."""
    files = [("photos", (f"p{n}.jpg", content, "image/jpeg"))
             for n, content in enumerate(photos or [])] or [
        ("photos", ("", b"", "application/octet-stream"))]
    return await client.post(path, data={"_csrf_token": client.cookies["csrftoken"], **fields},
                             files=files)


async def without_phone(mahalla_id: int, name: str = "Karim aka") -> int:
    """A resident registered at the desk: no phone, residence confirmed by the mahalla."""
    at = datetime.now(UTC)
    rows = await Resident.insert(Resident(
        phone=None, display_name=name, language="uz", mahalla=mahalla_id,
        residence_confirmed_at=at, created_at=at)).returning(Resident.id)
    return int(rows[0]["id"])


async def desk_staff(mahalla_id: int) -> tuple[sessions.Identity, StaffMember]:
    """A staff member of the mahalla's desk, as the services see them."""
    grant = mahalla_staff(mahalla_id)
    staff = StaffMember(await make_staff_account("oqsoqol", grant), (grant,))
    return sessions.Identity(staff={"id": staff.id}, staff_stage=sessions.STAFF_FULL,
                             grants=(grant,)), staff


async def report_of(resident_id: int) -> dict[str, Any]:
    row = await Report.select().where(Report.author == resident_id).first()
    assert row is not None
    return row


async def test_a_resident_reports_at_the_mahalla_office_with_a_code_from_their_phone(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    resident = await make_verified(600, mahallas[1], residence=False)
    phone = "+998901100600"
    staff = await as_staff(client, "oqsoqol", mahalla_staff(mahallas[1]))
    assert f'href="{PATH}"' in (await client.get("/staff")).text
    form = await client.get(PATH)
    assert form.status_code == 200 and "With a code sent to their phone" in form.text
    sent = await submit(client, f"{PATH}/code", phone=phone)
    assert sent.status_code == 200, sent.text
    assert "+998 90 *** ** 00" in sent.text and f'action="{PATH}/confirm"' in sent.text
    code = last_code(phone)
    # In the resident's language, Uzbek.
    assert "muammo haqida xabar berish kodi" in sms_outbox()[-1]["text"]
    # Read aloud at the desk, the code cannot sign anyone in to Ovoz.
    with pytest.raises(accounts.SignInError):
        await accounts.sign_in_with_code(phone, code, "198.51.100.1")
    # A report missing its words is refused beside the field, the rest kept, the code unused.
    short = await submit(client, f"{PATH}/confirm", phone=phone, code=code,
                         **{**REPORT, "description": "hole"})
    assert short.status_code == 400 and 'href="#description"' in short.text
    assert 'value="Navoiy ko&#39;chasi, maktab oldida"' in short.text
    wrong = await submit(client, f"{PATH}/confirm", phone=phone,
                         code=f"{(int(code) + 1) % 1_000_000:06d}", **REPORT)
    assert wrong.status_code == 400 and "The code is not right." in wrong.text
    done = await submit(client, f"{PATH}/confirm", phone=phone, code=code, hide_name="1",
                        **REPORT)
    assert done.status_code == 302, done.text
    receipt_path = done.headers["location"]
    report = await report_of(resident)
    assert receipt_path == f"/staff/reports/{report['id']}/receipt"
    assert (report["source"], report["assisted_by"], report["consent"]) == (
        "assisted", staff.id, "sms")
    assert report["mahalla"] == mahallas[1] and not report["point_exact"]
    assert report["location_text"] == REPORT["location_text"] and report["hide_name"]
    assert await Obligation.exists().where((Obligation.kind == "report")
                                           & (Obligation.ref == report["id"]))
    # Counted per desk, for the moderators' watch on desks that act for many.
    assert await services.assisted_counts(report["registered_at"], services.now()) == {
        staff.id: 1}
    [entry] = await LedgerEntry.select(LedgerEntry.payload).where(
        LedgerEntry.kind == "reports.created")
    assert json.loads(entry["payload"])["channel"] == "assisted"
    assert phone[4:] not in entry["payload"] and "Oqsoqol" not in entry["payload"]

    receipt = await client.get(receipt_path)
    assert receipt.status_code == 200 and "Receipt for a problem report" in receipt.text
    assert "Reported with help at the mahalla office by Oqsoqol." in receipt.text
    assert "A code sent by SMS" in receipt.text and "Fuqaro 600" in receipt.text
    assert "+998 90 *** ** 00" in receipt.text and phone not in receipt.text
    language = locale.current_language.set("en")
    try:
        assert locale.format_date(clock.last_day(report["due_at"])) in receipt.text
    finally:
        locale.current_language.reset(language)
    # The code is used up.
    again = await submit(client, f"{PATH}/confirm", phone=phone, code=code, **REPORT)
    assert again.status_code == 400
    # Public: marked assisted, and the hidden name stays hidden.
    public = await client.get(f"/reports/{report['id']}")
    assert "Reported with help at the mahalla office" in public.text
    assert "Fuqaro 600" not in public.text and "Oqsoqol" not in public.text
    api = (await client.get(f"/api/v1/reports/{report['id']}")).json()
    assert api["assisted"] is True and api["reporter"] is None
    # Staff of another mahalla cannot print the receipt.
    await as_staff(client, "qoshni", mahalla_staff(mahallas[2]))
    assert (await client.get(receipt_path)).status_code == 403


async def test_a_resident_without_a_phone_reports_on_paper_by_their_ovoz_number(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    resident = await without_phone(mahallas[1])
    web_author = await make_verified(601, mahallas[1])
    web_report = await services.create_report(web_author, draft())
    await as_staff(client, "oqsoqol", mahalla_staff(mahallas[1]))
    path = f"{PATH}/paper"
    nobody = await submit(client, path, paper_phone="№999999", paper_form="QF-9", **REPORT)
    assert nobody.status_code == 400
    assert "No resident has this phone or Ovoz number." in nobody.text
    numberless = await submit(client, path, paper_phone=f"№{resident}", paper_form=" ",
                              **REPORT)
    assert numberless.status_code == 400 and 'href="#paper_form"' in numberless.text
    assert REPORT["description"] in numberless.text
    done = await submit(client, path, [jpeg()], paper_phone=f"№{resident}",
                        paper_form="QF-9", **REPORT)
    assert done.status_code == 302, done.text
    report = await report_of(resident)
    assert (report["source"], report["consent"]) == ("assisted", "paper:QF-9")
    assert await Photo.count().where(Photo.report == report["id"]) == 1
    receipt = await client.get(done.headers["location"])
    assert "Paper form №QF-9" in receipt.text and "Karim aka" in receipt.text
    assert "+998" not in receipt.text.split("receipt-title")[1]
    # Marked in open data and the CSV export; the web report is not.
    listed = json.loads((await client.get("/data/reports.json")).text)["items"]
    assert {row["id"]: row["assisted"] for row in listed} == {
        report["id"]: True, web_report: False}
    exported = csv.DictReader(io.StringIO(
        (await client.get("/reports.csv")).content.decode("utf-8-sig")))
    assert {int(row["id"]): row["assisted"] for row in exported} == {
        report["id"]: "true", web_report: "false"}


async def test_the_paper_form_confirms_residence_with_the_report_or_not_at_all(
        db: str, mahallas: list[int]) -> None:
    resident = await make_verified(602, mahallas[1], residence=False)
    actor, staff = await desk_staff(mahallas[1])
    desk_draft = services.Draft(**REPORT)
    with pytest.raises(AssistError) as unchecked:
        await assisted.report_by_paper(actor, staff, "+998901100602", "QF-1", False,
                                       desk_draft)
    assert unchecked.value.code == "residence_unchecked"
    # A report refused on the way leaves the residence as it was.
    with pytest.raises(services.ReportError):
        await assisted.report_by_paper(actor, staff, "+998901100602", "QF-1", True,
                                       services.Draft(**{**REPORT, "location_text": " "}))
    assert (await Resident.select(Resident.residence_confirmed_at).where(
        Resident.id == resident).first())["residence_confirmed_at"] is None
    report_id = await assisted.report_by_paper(actor, staff, "+998901100602", "QF-1", True,
                                               desk_draft)
    row = await Resident.select().where(Resident.id == resident).first()
    assert row["residence_confirmed_by"] == staff.id
    assert (await report_of(resident))["id"] == report_id


async def test_the_daily_limit_applies_at_the_desk(
        db: str, mahallas: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    resident = await without_phone(mahallas[1])
    actor, staff = await desk_staff(mahallas[1])
    monkeypatch.setattr(services, "REPORTS_PER_DAY", 1)
    await assisted.report_by_paper(actor, staff, str(resident), "QF-1", False,
                                   services.Draft(**REPORT))
    with pytest.raises(services.ReportError) as limited:
        await assisted.report_by_paper(actor, staff, str(resident), "QF-2", False,
                                       services.Draft(**REPORT))
    assert limited.value.code == "too_many_reports"


async def test_only_the_residents_own_mahalla_desk_may_report_for_them(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    assert (await client.get(PATH)).headers["location"] == "/staff/signin"
    neighbour = await make_verified(603, mahallas[2])
    await as_staff(client, "oqsoqol", mahalla_staff(mahallas[1]))
    by_code = await submit(client, f"{PATH}/code", phone="+998901100603")
    assert by_code.status_code == 403 and "This resident lives in another mahalla." in by_code.text
    assert not [m for m in sms_outbox() if m["to"] == "+998901100603"]
    by_paper = await submit(client, f"{PATH}/paper", paper_phone="+998901100603",
                            paper_form="QF-7", **REPORT)
    assert by_paper.status_code == 403
    assert await Report.count().where(Report.author == neighbour) == 0
    await as_staff(client, "hokimiyat", Grant(Role.OFFICIAL, REGION_OF[BERUNIY], BERUNIY))
    assert (await client.get(PATH)).status_code == 403
    assert f'href="{PATH}"' not in (await client.get("/staff")).text
