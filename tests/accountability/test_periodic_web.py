"""Accountability report pages: an official drafts, writes, publishes and corrects a quarterly
report; the public reads it as HTML, PDF, CSV and its hashed JSON; an NGO monitor assesses it."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zlib
from datetime import date
from typing import Any

import httpx
import pytest

from ovoz.accountability import pdf, periodic
from ovoz.accountability.scorecards import Period
from ovoz.accounts import sessions
from ovoz.accounts.permissions import Grant, Role
from ovoz.accounts.tables import StaffAccount
from ovoz.ledger.services import canonical_json
from ovoz.reports import services as reports
from tests.accountability.helpers import add_obligation
from tests.reports.helpers import BERUNIY, REGION_OF, make_official, make_staff_account

QUARTER = Period(date(2026, 7, 1), date(2026, 9, 30))
NARRATIVE = "Yoʻllar taʼmirlandi, gʻalla saqlandi.\nИшлар давом этмоқда.\nЖалобы рассмотрены."


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")


async def sign_in(client: httpx.AsyncClient, staff_id: int) -> None:
    # A role grant ends the person's sessions, so the session starts at the current epoch.
    account = await StaffAccount.select(StaffAccount.session_epoch).where(
        StaffAccount.id == staff_id).first()
    token = await sessions.start(sessions.STAFF, staff_id, account["session_epoch"],
                                 sessions.STAFF_FULL)
    client.cookies.set(sessions.COOKIE, token)
    await client.get("/accountability/reports")


def csrf(client: httpx.AsyncClient) -> str:
    return client.cookies["csrftoken"]


async def post(client: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    return await client.post(path, data={"_csrf_token": csrf(client), **fields})


ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("f"): 12}


def literal_strings(content: bytes) -> list[tuple[int, bytes]]:
    """The (offset, bytes) of each literal string ( ... ) of a content stream, unescaped."""
    found, at = [], 0
    while (start := content.find(b"(", at)) >= 0:
        value, depth, at = bytearray(), 1, start + 1
        while depth:
            byte = content[at]
            if byte == ord("\\"):
                following = content[at + 1]
                if ord("0") <= following <= ord("7"):
                    digits = re.match(rb"[0-7]{1,3}", content[at + 1:at + 4])[0]
                    value.append(int(digits, 8))
                    at += 1 + len(digits)
                    continue
                value.append(ESCAPES.get(following, following))
                at += 2
                continue
            depth += (byte == ord("(")) - (byte == ord(")"))
            if depth:
                value.append(byte)
            at += 1
        found.append((start, bytes(value)))
    return found


def pdf_text(data: bytes) -> str:
    """The text a PDF of fpdf2 shows: each font's two-byte glyph codes mapped back through
    its ToUnicode table, in the order the pages draw them."""
    objects = {int(m[1]): m[2] for m in re.finditer(rb"(\d+) 0 obj(.*?)endobj", data, re.S)}

    def stream(body: bytes) -> bytes:
        raw = re.search(rb"stream\r?\n(.*?)\r?\nendstream", body, re.S)
        assert raw is not None
        return zlib.decompress(raw[1]) if b"/FlateDecode" in body else raw[1]

    fonts: dict[bytes, dict[int, str]] = {}
    for name, ref in re.findall(rb"/(F\d+) (\d+) 0 R", data):
        to_unicode = re.search(rb"/ToUnicode (\d+) 0 R", objects[int(ref)])
        assert to_unicode is not None
        fonts[name] = {int(code, 16): chr(int(char, 16)) for code, char in re.findall(
            rb"<([0-9A-F]{4})> <([0-9A-F]{4})>", stream(objects[int(to_unicode[1])]))}
    shown: list[str] = []
    for body in objects.values():
        # Page contents only: not the ToUnicode tables, nor the embedded font files.
        if b"endstream" not in body or b"/FlateDecode" not in body or b"/Length1" in body:
            continue
        content = stream(body)
        if b" Tf" not in content:
            continue
        switches = [(m.start(), fonts[m[1]]) for m in re.finditer(rb"/(F\d+) [\d.]+ Tf",
                                                                   content)]
        for start, codes in literal_strings(content):
            font = [table for at, table in switches if at < start][-1]
            shown.append("".join(font.get(int.from_bytes(codes[i:i + 2]), "")
                                 for i in range(0, len(codes), 2)))
    return " ".join(shown)


def squeezed(text: str) -> str:
    return "".join(text.split())


async def test_a_quarterly_report_is_published_as_html_pdf_and_csv(
        client: httpx.AsyncClient) -> None:
    official = await make_official()
    # A department whose name a spreadsheet would run as a formula.
    water = await reports.create_department(official, BERUNIY, "=Suv taʼminoti")
    await add_obligation(1, resolved_in=3)
    await add_obligation(2, resolved_in=20, department=water)
    await add_obligation(3, department=water)
    await sign_in(client, official.id)

    home = await client.get("/staff")
    assert 'href="/staff/accountability-reports"' in home.text
    start = await client.get("/staff/accountability-reports")
    assert start.status_code == 200
    assert f'value="{periodic.last_quarter().start.isoformat()}"' in start.text
    bad = await post(client, "/staff/accountability-reports", district_id=str(BERUNIY),
                     period_from="2026-09-30", period_until="2026-07-01")
    assert bad.status_code == 400 and 'href="#period_from"' in bad.text
    assert 'value="2026-09-30"' in bad.text
    created = await post(client, "/staff/accountability-reports", district_id=str(BERUNIY),
                         period_from="2026-07-01", period_until="2026-09-30")
    assert created.status_code == 302
    location = created.headers["location"]
    report_id = int(re.fullmatch(r"/staff/accountability-reports/(\d+)\?done=created",
                                 location)[1])

    for suffix in ("", ".pdf", ".csv", ".json"):
        hidden = await client.get(f"/accountability/reports/{report_id}{suffix}")
        assert hidden.status_code == 404

    draft = await client.get(location)
    assert draft.status_code == 200
    assert "Beruni district, July–September 2026" in draft.text
    assert "Take the figures again" in draft.text
    empty = await post(client, f"/staff/accountability-reports/{report_id}/publish")
    assert empty.status_code == 400 and 'href="#narrative"' in empty.text
    saved = await post(client, f"/staff/accountability-reports/{report_id}",
                       title="Beruni district, July–September 2026", narrative=NARRATIVE,
                       correction_note="")
    assert saved.status_code == 302
    refreshed = await post(client, f"/staff/accountability-reports/{report_id}/refresh")
    assert refreshed.status_code == 302
    confirm = await client.get(f"/staff/accountability-reports/{report_id}/publish")
    assert confirm.status_code == 200 and "Yes, publish it" in confirm.text
    published = await post(client, f"/staff/accountability-reports/{report_id}/publish")
    assert published.headers["location"] == (
        f"/staff/accountability-reports/{report_id}?done=published")
    row = await periodic.report(report_id)
    assert row is not None and row["status"] == "published"
    entry = await periodic.ledger_entry(report_id)
    assert entry is not None

    listing = await client.get("/accountability/reports")
    assert f'href="/accountability/reports/{report_id}"' in listing.text
    html = await client.get(f"/accountability/reports/{report_id}")
    assert html.status_code == 200
    assert "Beruni district, July–September 2026" in html.text
    assert "Ишлар давом этмоқда." in html.text
    assert row["sha256"] in html.text
    assert f"/api/v1/ledger?after={entry['seq'] - 1}&amp;limit=1" in html.text
    assert "=Suv taʼminoti" in html.text and "Items received" in html.text

    content = await client.get(f"/accountability/reports/{report_id}.json")
    assert content.status_code == 200
    assert hashlib.sha256(content.content).hexdigest() == row["sha256"]

    document = await client.get(f"/accountability/reports/{report_id}.pdf")
    assert document.status_code == 200
    assert document.headers["content-type"] == "application/pdf"
    body = document.content
    assert body.startswith(b"%PDF")
    assert b"/MediaBox [0 0 595.28 841.89]" in body
    assert b"/FontFile2" in body and b"DejaVuSans" in body
    text = squeezed(pdf_text(body))
    for expected in ("Beruni district, July–September 2026", "Yoʻllar taʼmirlandi, gʻalla",
                     "Ишлар давом этмоқда.", "Жалобы рассмотрены.", "=Suv taʼminoti",
                     row["sha256"], f"Recorded in the public ledger, entry {entry['seq']}",
                     "Page 1 of"):
        assert squeezed(expected) in text

    figures = await client.get(f"/accountability/reports/{report_id}.csv")
    assert figures.status_code == 200 and figures.headers["content-type"].startswith(
        "text/csv")
    assert figures.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(figures.content.decode("utf-8-sig"))))
    by_body = {(line["body"], line["department_id"]): line for line in rows}
    assert set(by_body) == {("district", ""), ("hokimiyat", ""), ("department", str(water))}
    assert by_body[("district", "")]["received"] == "3"
    assert by_body[("district", "")]["name"] == "Beruniy tumani"
    assert by_body[("department", str(water))]["name"] == "'=Suv taʼminoti"
    assert by_body[("department", str(water))]["overdue"] == "1"
    assert rows[0]["period_from"] == "2026-07-01" and rows[0]["version"] == "1"

    for missing in ("999999", "999999.pdf", f"{report_id}.exe", f"{report_id}.", "abc",
                    "99999999999999"):
        assert (await client.get(f"/accountability/reports/{missing}")).status_code == 404


async def test_a_correction_through_the_staff_pages_shows_the_difference(
        client: httpx.AsyncClient) -> None:
    official = await make_official()
    await sign_in(client, official.id)
    first = await periodic.draft_report(official, BERUNIY, QUARTER)
    await periodic.update_narrative(official, first, "Nothing came in.\nAll is well.")
    await periodic.publish_report(official, first)
    page = await client.get(f"/staff/accountability-reports/{first}")
    assert "Start the correction" in page.text
    started = await post(client, f"/staff/accountability-reports/{first}/correct",
                         narrative="Nothing came in.\nThe office was closed in August.",
                         correction_note="The August closure was left out.")
    assert started.status_code == 302
    second = int(re.fullmatch(r"/staff/accountability-reports/(\d+)\?done=correcting",
                              started.headers["location"])[1])
    pending = await client.get(f"/staff/accountability-reports/{first}")
    assert f'href="/staff/accountability-reports/{second}">Open version 2' in pending.text
    assert "Start the correction" not in pending.text
    await post(client, f"/staff/accountability-reports/{second}/publish")

    newer = await client.get(f"/accountability/reports/{second}")
    assert "What version 2 corrects" in newer.text
    assert "The August closure was left out." in newer.text
    assert "The office was closed in August." in newer.text and "<del>" in newer.text
    older = await client.get(f"/accountability/reports/{first}")
    assert older.status_code == 200
    assert "A later version corrects this report." in older.text
    assert f'href="/accountability/reports/{second}"' in older.text


async def test_department_officials_have_no_report_pages(client: httpx.AsyncClient) -> None:
    official = await make_official()
    roads = await reports.create_department(official, BERUNIY, "Yoʻllar")
    department = await make_official("roads", department_id=roads)
    await sign_in(client, department.id)
    assert (await client.get("/staff/accountability-reports")).status_code == 403
    refused = await post(client, "/staff/accountability-reports", district_id=str(BERUNIY),
                         period_from="2026-07-01", period_until="2026-09-30")
    assert refused.status_code == 403


async def test_an_ngo_monitor_adds_an_assessment_and_it_shows(
        client: httpx.AsyncClient) -> None:
    official = await make_official()
    report_id = await periodic.draft_report(official, BERUNIY, QUARTER)
    await periodic.update_narrative(official, report_id, NARRATIVE)
    await periodic.publish_report(official, report_id)

    anonymous = await client.get(f"/accountability/reports/{report_id}")
    assert 'action="/accountability/reports/' not in anonymous.text
    monitor = await make_staff_account("watchdog.ali",
                                       Grant(Role.NGO_MONITOR, REGION_OF[BERUNIY]))
    await sign_in(client, monitor)
    page = await client.get(f"/accountability/reports/{report_id}")
    assert f'action="/accountability/reports/{report_id}/assessments"' in page.text
    short = await post(client, f"/accountability/reports/{report_id}/assessments",
                       organisation="Ochiq tuman", verdict="partly", text="Too short.")
    assert short.status_code == 400 and 'href="#text"' in short.text
    assert 'value="Ochiq tuman"' in short.text
    added = await post(client, f"/accountability/reports/{report_id}/assessments",
                       organisation="Ochiq tuman", verdict="partly",
                       text="We checked ten answers; two came after the due date.")
    assert added.status_code == 302
    shown = await client.get(added.headers["location"])
    assert "Your assessment is published." in shown.text
    assert "Ochiq tuman" in shown.text and "Partly agrees" in shown.text
    assert "two came after the due date" in shown.text
    assert "You have assessed this version." in shown.text
    client.cookies.delete(sessions.COOKIE)
    public = await client.get(f"/accountability/reports/{report_id}")
    assert "Ochiq tuman" in public.text
    assert "watchdog" not in public.text.lower()


def test_a_long_report_runs_over_several_numbered_pages() -> None:
    items: list[dict[str, Any]] = [
        {"kind": "petition", "ref": ref, "title": f"Ариза №{ref}: yoʻl", "path": "",
         "due_at": "2026-07-20T19:00:00Z", "days_late": 40} for ref in range(200)]
    frozen = {
        "format": 1, "district": {"id": BERUNIY, "region": 1, "name_uz": "Beruniy tumani",
                                  "name_uz_cyrl": "Беруний тумани", "name_ru": "", "name_en": ""},
        "period": {"from": "2026-07-01", "until": "2026-09-30"},
        "as_of": "2026-10-02T05:00:00Z", "figures": {"received": 200}, "departments": [],
        "responses": {"count": 0, "items": []}, "overdue": {"count": 900, "items": items},
        "delivered": {"count": 0, "items": []}}
    row = {"id": 7, "district": BERUNIY, "period_from": "2026-07-01",
           "period_until": "2026-09-30", "version": 1, "status": "published",
           "title": "Beruniy tumani, iyul–sentabr 2026", "narrative": NARRATIVE,
           "correction_note": "", "snapshot": canonical_json(frozen),
           "published_at": None, "sha256": "ab" * 32}
    body = pdf.render(row, 12, "en")
    pages = int(re.search(rb"/Count (\d+)", body)[1])
    assert pages >= 4
    text = squeezed(pdf_text(body))
    assert squeezed(f"Page {pages} of {pages}") in text
    assert squeezed("Ариза №199: yoʻl") in text and "Onlythefirst200arelisted." in text
