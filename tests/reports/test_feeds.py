"""The Atom feed of a district's reports and the CSV export: shape, language, filters, and no
personal data."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.reports import feeds, services
from ovoz.reports.tables import Report
from tests.reports.helpers import (
    BERUNIY,
    CHORTOQ,
    draft,
    load_demo_mahallas,
    make_official,
    make_resident,
)

NS = {"a": "http://www.w3.org/2005/Atom"}
PHONE = "+998901112233"
NAME = "Zulfiya Karimova"
BASE_URL = "http://127.0.0.1:8000"


async def _set(report_id: int, **values: datetime) -> None:
    await Report.update({getattr(Report, name): value for name, value in values.items()}
                        ).where(Report.id == report_id)


async def _chortoq_mahalla() -> int:
    return (await geo.mahallas_of(CHORTOQ))[0]["id"]


def _feed(response: httpx.Response) -> ET.Element:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/atom+xml")
    return ET.fromstring(response.content)


def _translated(language: str, message: str) -> str:
    token = locale.current_language.set(language)
    try:
        return locale.gettext(message)
    finally:
        locale.current_language.reset(token)


def _rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


# -- the Atom feed ----------------------------------------------------------------------------

async def test_feed_lists_the_district_reports_most_recently_updated_first(
        client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    author = await make_resident(PHONE, NAME)
    first = await services.create_report(author, draft(description="A deep hole by the gate."))
    second = await services.create_report(author, draft(category="lighting",
                                                        description="The lamps are all out."))
    third = await services.create_report(author, draft(description="Another hole, by the bridge."))
    elsewhere = await services.create_report(author, draft(
        lat=None, lon=None, mahalla_id=await _chortoq_mahalla(), location_text="Bozor yonida",
        description="Rubbish piles up by the bazaar."))
    await services.change_status(await make_official(), first, "acknowledged", "Seen it.")
    base = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    await _set(second, registered_at=base, updated_at=base + timedelta(hours=1))
    await _set(third, registered_at=base, updated_at=base + timedelta(hours=2))
    await _set(first, registered_at=base, updated_at=base + timedelta(hours=3))

    response = await client.get(f"/reports/districts/{BERUNIY}/feed.atom")
    feed = _feed(response)

    assert feed.tag == "{http://www.w3.org/2005/Atom}feed"
    assert feed.findtext("a:title", namespaces=NS) == _translated(
        "uz", "%(district)s: problem reports") % {"district": "Beruniy tumani"}
    assert feed.findtext("a:updated", namespaces=NS) == "2026-03-01T12:00:00Z"
    links = {link.get("rel"): link.get("href") for link in feed.findall("a:link", NS)}
    assert links["self"] == f"{BASE_URL}/reports/districts/{BERUNIY}/feed.atom?lang=uz"
    assert links["alternate"] == f"{BASE_URL}/reports?district={BERUNIY}"
    entries = feed.findall("a:entry", NS)
    assert [e.findtext("a:id", namespaces=NS) for e in entries] == [
        services.report_link(first), services.report_link(third), services.report_link(second)]
    assert services.report_link(elsewhere) not in response.text
    top = entries[0]
    assert top.findtext("a:title", namespaces=NS) == (
        f"Yoʻldagi chuqur — {_translated('uz', 'Acknowledged')}")
    assert top.findtext("a:updated", namespaces=NS) == "2026-03-01T12:00:00Z"
    assert top.findtext("a:published", namespaces=NS) == "2026-03-01T09:00:00Z"
    assert top.findtext("a:summary", namespaces=NS) == "A deep hole by the gate."
    assert top.find("a:summary", NS).get("type") == "text"
    assert top.find("a:link", NS).get("href") == services.report_link(first)
    assert top.find("a:category", NS).get("term") == "roads.pothole"
    assert entries[2].find("a:category", NS).get("term") == "lighting"


@pytest.mark.parametrize("how", ["query", "header"])
async def test_feed_speaks_the_reader_s_language(client: httpx.AsyncClient, how: str) -> None:
    await load_demo_mahallas()
    await services.create_report(await make_resident(), draft())
    if how == "query":
        response = await client.get(f"/reports/districts/{BERUNIY}/feed.atom?lang=ru")
    else:
        response = await client.get(f"/reports/districts/{BERUNIY}/feed.atom",
                                    headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    feed = _feed(response)
    assert feed.get("{http://www.w3.org/XML/1998/namespace}lang") == "ru"
    assert "Берунийский район" in feed.findtext("a:title", namespaces=NS)
    title = feed.find("a:entry", NS).findtext("a:title", namespaces=NS)
    assert title == f"Яма на дороге — {_translated('ru', 'New')}"
    assert feed.find("a:entry/a:category", NS).get("label") == "Яма на дороге"


async def test_feed_of_an_unknown_district_is_not_found(client: httpx.AsyncClient) -> None:
    assert (await client.get("/reports/districts/999999/feed.atom")).status_code == 404
    assert (await client.get("/reports/districts/99999999999/feed.atom")).status_code == 404


async def test_feed_of_a_district_without_reports_is_empty_but_valid(
        client: httpx.AsyncClient) -> None:
    feed = _feed(await client.get("/reports/districts/15/feed.atom"))
    assert feed.findall("a:entry", NS) == []
    assert feed.findtext("a:updated", namespaces=NS)
    assert feed.findtext("a:author/a:name", namespaces=NS) == "Ovoz"


async def test_feed_names_no_reporter(client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    author = await make_resident(PHONE, NAME)
    await services.create_report(author, draft(hide_name=False))
    await services.create_report(author, draft(hide_name=True))
    response = await client.get(f"/reports/districts/{BERUNIY}/feed.atom")
    assert len(_feed(response).findall("a:entry", NS)) == 2
    for secret in (PHONE, PHONE[1:], NAME, "Zulfiya"):
        assert secret not in response.text


# -- the CSV export ---------------------------------------------------------------------------

async def test_csv_has_a_bom_a_header_and_a_row_per_report(client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    author = await make_resident(PHONE, NAME)
    report_id = await services.create_report(author, draft())
    registered = datetime(2025, 3, 10, 18, 30, tzinfo=UTC)
    await _set(report_id, registered_at=registered, due_at=registered + timedelta(days=15))

    response = await client.get("/reports.csv")

    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename=\"ovoz-reports-" in disposition and disposition.endswith('.csv"')
    assert response.content.startswith(b"\xef\xbb\xbf")
    header = next(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert header == list(feeds.CSV_COLUMNS)
    [row] = _rows(response)
    report = await services.report(report_id)
    assert report is not None
    mahalla = await geo.mahalla(report["mahalla"])
    assert mahalla is not None
    assert row == {
        "id": str(report_id), "category_code": "roads.pothole",
        "category_name": "Yoʻldagi chuqur", "status": "new", "district_id": str(BERUNIY),
        "district_name": "Beruniy tumani", "mahalla_id": str(mahalla["id"]),
        "mahalla_name": mahalla["name_uz"], "department_name": "Beruniy tumani hokimligi",
        "lat": "41.69", "lon": "60.752", "point_exact": "true",
        "registered_at": "2025-03-10T18:30:00Z", "due_at": "2025-03-25T18:30:00Z",
        "first_response_at": "", "resolved_at": "", "overdue": "true", "supporters": "0",
        "assisted": "false", "url": f"{BASE_URL}/reports/{report_id}",
        "description": "A deep pothole by the school gate.",
    }


async def test_csv_answers_for_departments_times_and_deadlines(
        client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    author = await make_resident()
    official = await make_official()
    on_time = await services.create_report(author, draft())
    late = await services.create_report(author, draft())
    routed = await services.create_report(author, draft())
    await _set(late, due_at=datetime.now(UTC) - timedelta(days=1))
    await services.change_status(official, on_time, "fixed", "Filled in.")
    await services.change_status(official, late, "fixed", "Filled in, late.")
    roads = await services.create_department(official, BERUNIY, "Yoʻl boʻlimi")
    await services.reroute(official, routed, roads, "For the roads department.")

    rows = {int(row["id"]): row for row in _rows(await client.get("/reports.csv"))}

    assert rows[on_time]["status"] == "fixed" and rows[on_time]["overdue"] == "false"
    assert rows[on_time]["resolved_at"].endswith("Z")
    assert rows[on_time]["first_response_at"] == rows[on_time]["resolved_at"]
    assert rows[late]["overdue"] == "true"
    assert rows[routed]["department_name"] == "Yoʻl boʻlimi"
    assert rows[routed]["overdue"] == "false"


async def test_csv_filters_like_the_public_list(client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    author = await make_resident()
    pothole = await services.create_report(author, draft())
    sign = await services.create_report(author, draft(category="roads.sign"))
    lamp = await services.create_report(author, draft(category="lighting"))
    chortoq = await services.create_report(author, draft(
        lat=None, lon=None, mahalla_id=await _chortoq_mahalla(), location_text="Bozor yonida"))
    await services.change_status(await make_official(), lamp, "fixed", "New lamps.")

    async def ids(query: str) -> list[int]:
        return sorted(int(row["id"]) for row in _rows(await client.get(f"/reports.csv?{query}")))

    assert await ids("") == sorted([pothole, sign, lamp, chortoq])
    assert await ids(f"district={BERUNIY}") == sorted([pothole, sign, lamp])
    assert await ids(f"district={CHORTOQ}") == [chortoq]
    assert await ids("category=roads") == sorted([pothole, sign, chortoq])
    assert await ids("category=roads.sign") == [sign]
    assert await ids("status=open") == sorted([pothole, sign, chortoq])
    assert await ids("status=closed") == [lamp]
    assert await ids("status=fixed") == [lamp]
    assert await ids(f"mahalla={await _chortoq_mahalla()}") == [chortoq]
    # Blank fields, as an empty filter form sends them, filter nothing.
    assert await ids("district=&category=&status=&from=&until=&mahalla=") == sorted(
        [pothole, sign, lamp, chortoq])


async def test_csv_dates_are_whole_tashkent_days(client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    author = await make_resident()
    late_evening = await services.create_report(author, draft())
    after_midnight = await services.create_report(author, draft())
    # 23:30 and 00:30 in Tashkent (UTC+5): both on 10 March in UTC.
    await _set(late_evening, registered_at=datetime(2026, 3, 10, 18, 30, tzinfo=UTC))
    await _set(after_midnight, registered_at=datetime(2026, 3, 10, 19, 30, tzinfo=UTC))

    async def ids(query: str) -> list[int]:
        return sorted(int(row["id"]) for row in _rows(await client.get(f"/reports.csv?{query}")))

    assert await ids("from=2026-03-10&until=2026-03-10") == [late_evening]
    assert await ids("until=2026-03-10") == [late_evening]
    assert await ids("from=2026-03-11") == [after_midnight]
    assert await ids("from=2026-03-11&until=2026-03-11") == [after_midnight]
    assert await ids("from=2026-03-10&until=2026-03-11") == sorted(
        [late_evening, after_midnight])
    assert await ids("from=2026-03-12") == []


@pytest.mark.parametrize("query, word", [
    ("from=2026-13-01", "from"), ("from=yesterday", "from"), ("until=2026-3-1", "until"),
    ("from=9999-12-31&until=9999-12-31", "until"), ("from=2026-03-02&until=2026-03-01", "from"),
    ("district=abc", "district"), ("district=99999999999", "district"),
    ("mahalla=-3", "mahalla"), ("category=potholes", "category"), ("status=lost", "status"),
])
async def test_csv_refuses_bad_filters_in_plain_words(client: httpx.AsyncClient, query: str,
                                                      word: str) -> None:
    response = await client.get(f"/reports.csv?{query}&lang=en")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert word in response.text and "Traceback" not in response.text
    assert len(response.text) < 100


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
async def test_csv_neutralises_formulas(client: httpx.AsyncClient, start: str) -> None:
    await load_demo_mahallas()
    text = f"{start}HYPERLINK(\"http://evil.example\",\"click\")"
    await services.create_report(await make_resident(), draft(description=text))
    [row] = _rows(await client.get("/reports.csv"))
    assert row["description"] == "'" + text
    # Numbers stay numbers: a negative one would not get the apostrophe either.
    assert row["lat"] == "41.69"


@pytest.mark.parametrize("hide_name", [False, True])
async def test_csv_holds_no_personal_data(client: httpx.AsyncClient, hide_name: bool) -> None:
    await load_demo_mahallas()
    author = await make_resident(PHONE, NAME)
    other = await make_resident("+998907654321", "Bahodir Rashidov")
    report_id = await services.create_report(author, draft(hide_name=hide_name))
    await services.add_support(report_id, other)

    response = await client.get("/reports.csv")

    [row] = _rows(response)
    assert row["supporters"] == "1"
    for secret in (PHONE, PHONE[1:], "901112233", NAME, "Zulfiya", "907654321", "Bahodir"):
        assert secret not in response.text
    header = set(feeds.CSV_COLUMNS)
    assert not header & {"author", "author_id", "resident_id", "phone", "hide_name", "name"}


async def test_csv_streams_in_batches(client: httpx.AsyncClient,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    await load_demo_mahallas()
    author = await make_resident()
    created = [await services.create_report(author, draft()) for _ in range(5)]
    fetched = feeds.export_batch
    calls: list[tuple[int, int]] = []

    async def counting(filters: services.Filters, after_id: int, limit: int
                       ) -> list[dict[str, Any]]:
        calls.append((after_id, limit))
        return await fetched(filters, after_id, limit)

    monkeypatch.setattr(feeds, "BATCH_SIZE", 2)
    monkeypatch.setattr(feeds, "export_batch", counting)

    rows = _rows(await client.get("/reports.csv"))

    assert [int(row["id"]) for row in rows] == sorted(created)
    assert calls == [(0, 2), (sorted(created)[1], 2), (sorted(created)[3], 2)]


async def test_csv_chunks_come_one_per_batch(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    await load_demo_mahallas()
    author = await make_resident()
    for _ in range(4):
        await services.create_report(author, draft())
    monkeypatch.setattr(feeds, "BATCH_SIZE", 2)
    chunks = [chunk async for chunk in feeds.csv_chunks(services.Filters(),
                                                         datetime.now(UTC))]
    # The header, then one chunk per batch of rows.
    assert len(chunks) == 3
    assert [chunk.count(b"\r\n") for chunk in chunks] == [1, 2, 2]
