"""Public scorecards: the league of pilot districts, a district's page with its departments,
the late items behind the figures, and GET /api/v1/scorecards."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from ovoz.accountability import services as obligations
from ovoz.accountability.tables import Obligation
from ovoz.reports import services as reports
from tests.accountability.helpers import add_obligation
from tests.reports.helpers import (
    BERUNIY,
    BOYSUN,
    CHORTOQ,
    draft,
    load_demo_mahallas,
    make_official,
    make_resident,
)

QUARTER = "from=2026-07-01&to=2026-09-30"
NOT_PILOT = 15


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")


@pytest.fixture
async def roads(db: str) -> int:
    return await reports.create_department(await make_official(), BERUNIY, "Yoʻllar")


async def beruniy_and_chortoq(roads: int) -> None:
    """Beruniy answers 3 of 4 on time (the late one by its roads department); Chortoq one of
    two, and the other is still open past its due date."""
    for ref in (1, 2, 3):
        await add_obligation(ref, first_response_in=1, resolved_in=5)
    await add_obligation(501, resolved_in=20, department=roads)
    await add_obligation(11, district=CHORTOQ, resolved_in=3)
    await add_obligation(612, district=CHORTOQ)


def cells(html: str, name: str) -> list[str]:
    """The cells of the table row headed `name`."""
    row = re.search(rf"<th scope=\"row\">(?:<a [^>]*>)?{re.escape(name)}(?:</a>)?</th>(.*?)</tr>",
                    html, re.S)
    assert row, name
    return [cell.strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]


# -- the league -------------------------------------------------------------------------------

async def test_the_league_ranks_the_pilot_districts_by_answers_on_time(
        client: httpx.AsyncClient, roads: int) -> None:
    await beruniy_and_chortoq(roads)
    response = await client.get(f"/accountability?{QUARTER}")
    assert response.status_code == 200
    html = response.text
    assert "July–September 2026" in html
    # Received, answered, still open, open past due, on-time rate, petitions, median days.
    assert cells(html, "Beruni district") == ["4", "4", "0", "0", "75 %", "—", "5"]
    assert cells(html, "Chortok district") == ["2", "1", "1", "1", "50 %", "—", "3"]
    assert html.index("Beruni district") < html.index("Chortok district") < html.index(
        "Boysun District")
    assert f'href="/accountability/districts/{BERUNIY}?from=2026-07-01&amp;to=2026-09-30"' \
        in html
    # Each chart is an image of the figures the tables beside it hold.
    charts = re.findall(r"<svg class=\"chart\".*?</svg>", html, re.S)
    assert len(charts) == 2 and all('role="img"' in chart for chart in charts)
    assert ">75 %</text>" in charts[0] and ">50 %</text>" in charts[0]
    assert 'href="/accountability/reports"' in html and 'href="/data"' in html


async def test_the_league_shows_the_current_quarter_by_default(
        client: httpx.AsyncClient) -> None:
    response = await client.get("/accountability")
    assert response.status_code == 200
    quarter = re.search(r'<a href="/accountability\?from=([\d-]+)&amp;to=([\d-]+)" '
                        r'aria-current="true">', response.text)
    assert quarter is not None
    links = re.findall(r'href="/accountability\?from=[\d-]+&amp;to=[\d-]+"', response.text)
    assert len(links) >= 4
    # Nothing registered yet: no chart, a sentence instead.
    assert "No figures for this period." in response.text


@pytest.mark.parametrize(("query", "message"), [
    ("from=2026-13-01&to=2026-09-30", "Give the first day as a date, for example 2026-07-01."),
    ("from=2026-07-01&to=someday", "Give the last day as a date, for example 2026-09-30."),
    ("to=2026-09-30", "Give the first day of the period as well."),
    ("from=2026-09-30&to=2026-07-01", "The last day cannot be before the first day."),
    ("from=2024-01-01&to=2026-09-30", "Choose a period of at most two years."),
])
async def test_a_bad_period_is_explained(client: httpx.AsyncClient, query: str,
                                         message: str) -> None:
    for path in ("/accountability", f"/accountability/districts/{BERUNIY}",
                 f"/accountability/districts/{BERUNIY}/late"):
        response = await client.get(f"{path}?{query}")
        assert response.status_code == 400, path
        assert "There is a problem" in response.text and message in response.text, path
        assert "<svg" not in response.text


# -- a district -------------------------------------------------------------------------------

async def test_a_district_page_has_every_figure_and_each_department(
        client: httpx.AsyncClient, roads: int) -> None:
    await beruniy_and_chortoq(roads)
    response = await client.get(f"/accountability/districts/{BERUNIY}?{QUARTER}")
    assert response.status_code == 200
    html = response.text
    assert cells(html, "Items received") == ["4"]
    assert cells(html, "Answered late") == ["1"]
    assert cells(html, "On-time rate") == ["75 %"]
    assert cells(html, "Days to first response, median") == ["1"]
    assert cells(html, "Days to answer, 90th percentile") == ["20"]
    assert cells(html, "Petitions answered on time") == ["0"]
    assert cells(html, "Share of fixes disputed") == ["—"]
    assert cells(html, "Projects delivered within budget") == ["0"]
    # The hokimiyat itself, and its roads department with the late item.
    assert cells(html, "District hokimiyat")[:5] == ["3", "3", "0", "0", "100 %"]
    assert cells(html, "Yoʻllar")[:5] == ["1", "1", "0", "0", "0 %"]
    assert f"late?from=2026-07-01&amp;to=2026-09-30&amp;department={roads}" in html
    assert "See the 1 item answered late or not at all" in html
    assert "Law on Appeals" in html
    charts = re.findall(r"<svg class=\"chart\".*?</svg>", html, re.S)
    assert len(charts) == 2 and ">Yoʻllar</text>" in charts[0]


async def test_only_pilot_districts_have_pages(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"/accountability/districts/{BOYSUN}")).status_code == 200
    for district_id in (NOT_PILOT, 99999, 2**40):
        for path in (f"/accountability/districts/{district_id}",
                     f"/accountability/districts/{district_id}/late"):
            assert (await client.get(path)).status_code == 404, path


# -- the late items ---------------------------------------------------------------------------

async def test_the_late_items_are_listed_and_not_those_on_time(
        client: httpx.AsyncClient, roads: int) -> None:
    await beruniy_and_chortoq(roads)
    await add_obligation(777, kind="petition", due_in=30)
    response = await client.get(f"/accountability/districts/{BERUNIY}/late?{QUARTER}")
    assert response.status_code == 200
    html = response.text
    assert "2 items" in html
    assert "Petition №777" in html and "Problem report №501" in html
    assert not re.search(r"№[123]\b", html)
    # Latest due first: the petition was due on day 30, the report on day 15.
    assert html.index("№777") < html.index("№501")
    assert cells_of_item(html, "501")[2:] == ["Yoʻllar", "July 21, 2026",
                                              "Answered late, July 26, 2026", "5"]
    by_roads = (await client.get(
        f"/accountability/districts/{BERUNIY}/late?{QUARTER}&department={roads}")).text
    assert "№501" in by_roads and "№777" not in by_roads
    own = (await client.get(
        f"/accountability/districts/{BERUNIY}/late?{QUARTER}&department=hokimiyat")).text
    assert "№777" in own and "№501" not in own
    petitions = (await client.get(
        f"/accountability/districts/{BERUNIY}/late?{QUARTER}&kind=petition")).text
    assert "№777" in petitions and "№501" not in petitions


def cells_of_item(html: str, ref: str) -> list[str]:
    row = re.search(rf"<tr>\s*<td>[^<]*(?:<a [^>]*>)?[^<]*№{ref}.*?</tr>", html, re.S)
    assert row, ref
    return [re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)]


async def test_a_late_item_links_to_its_public_page(client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    report_id = await reports.create_report(await make_resident(), draft())
    await Obligation.update({Obligation.due_at: obligations.now() - timedelta(days=2)}).where(
        (Obligation.kind == "report") & (Obligation.ref == report_id))
    response = await client.get(f"/accountability/districts/{BERUNIY}/late?from=2026-11-01")
    row = cells_of_item(response.text, str(report_id))
    assert f'<a href="/reports/{report_id}">Problem report №{report_id}</a>' in response.text
    assert row[1:3] == ["Pothole", "District hokimiyat"]
    assert row[4:] == ["Not answered yet", "2"]
    # htmx swaps the list alone when the filters change.
    partial = await client.get(
        f"/accountability/districts/{BERUNIY}/late?from=2026-11-01&kind=report",
        headers={"HX-Request": "true", "HX-Target": "late-items"})
    assert partial.text.lstrip().startswith('<div id="late-items"')
    assert f"№{report_id}" in partial.text and "<html" not in partial.text


# -- the API ----------------------------------------------------------------------------------

async def test_the_api_gives_the_league_in_order(client: httpx.AsyncClient, roads: int
                                                 ) -> None:
    await beruniy_and_chortoq(roads)
    response = await client.get(f"/api/v1/scorecards?{QUARTER}")
    assert response.status_code == 200
    body = response.json()
    assert body["period"] == {"from": "2026-07-01", "to": "2026-09-30"}
    assert body["as_of"].startswith("20")
    assert [item["district_id"] for item in body["items"]] == [BERUNIY, CHORTOQ, BOYSUN]
    assert [item["rank"] for item in body["items"]] == [1, 2, None]
    first = body["items"][0]
    assert first["district_name"] == "Beruni district"
    assert first["url"].endswith(f"/accountability/districts/{BERUNIY}")
    assert (first["figures"]["received"], first["figures"]["on_time_rate"]) == (4, 0.75)
    assert "reports_disputed" in first["figures"] and "projects_on_budget_rate" in \
        first["figures"]


async def test_the_api_gives_a_district_with_its_departments(client: httpx.AsyncClient,
                                                             roads: int) -> None:
    await beruniy_and_chortoq(roads)
    body = (await client.get(f"/api/v1/scorecards?district_id={BERUNIY}&{QUARTER}")).json()
    assert body["district_id"] == BERUNIY and body["figures"]["received"] == 4
    departments = {d["department_id"]: d for d in body["departments"]}
    assert set(departments) == {None, roads}
    assert departments[None]["name"] == "District hokimiyat"
    assert departments[roads]["name"] == "Yoʻllar"
    assert departments[roads]["figures"]["answered_late"] == 1
    assert departments[None]["figures"]["on_time_rate"] == 1


@pytest.mark.parametrize(("query", "status", "error"), [
    ("from=2026-02-30", 400, "invalid_from"),
    ("from=2026-07-01&to=tomorrow", 400, "invalid_to"),
    ("to=2026-09-30", 400, "invalid_from"),
    ("from=2026-09-30&to=2026-07-01", 400, "invalid_period"),
    ("from=2020-01-01&to=2026-01-01", 400, "invalid_period"),
    ("district_id=0", 400, "bad_request"),
    ("district_id=abc", 400, "bad_request"),
    (f"district_id={NOT_PILOT}", 404, "not_found"),
    ("district_id=99999", 404, "not_found"),
])
async def test_the_api_refuses_bad_input(client: httpx.AsyncClient, query: str, status: int,
                                         error: str) -> None:
    response = await client.get(f"/api/v1/scorecards?{query}")
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error and body["detail"]


async def test_the_openapi_schema_lists_the_scorecards(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/api/v1/schema/openapi.json")).json()["paths"]
    operation = paths["/api/v1/scorecards"]["get"]
    assert operation["tags"] == ["accountability"]
    assert {p["name"] for p in operation["parameters"]} == {"district_id", "from", "to"}
    assert not [path for path in paths if path.startswith("/accountability")]
