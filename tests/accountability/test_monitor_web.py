"""The monitor's dashboard and watchlist pages, and the watch buttons on the public scorecard
pages: every pilot district side by side, watched items with their state, and who may see
and use them."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from ovoz.accountability import periodic
from ovoz.accountability.tables import Obligation, Watch
from ovoz.accounts.permissions import StaffMember
from ovoz.geo import services as geo
from ovoz.reports import services as reports
from tests.accountability.helpers import START, add_obligation
from tests.accountability.test_periodic import monitor, published_report
from tests.accountability.test_periodic_web import csrf, sign_in
from tests.reports.helpers import (
    BERUNIY,
    BOYSUN,
    CHORTOQ,
    REGION_OF,
    draft,
    make_official,
    make_resident,
)
from tests.reports.test_web import signed_in_resident

QUARTER = "from=2026-07-01&to=2026-09-30"
DASHBOARD = f"/staff/monitor?{QUARTER}"


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")


async def signed_in_monitor(client: httpx.AsyncClient, region: int | None = REGION_OF[BERUNIY]
                            ) -> StaffMember:
    watcher = await monitor("watcher", region)
    await sign_in(client, watcher.id)
    return watcher


async def post(client: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    return await client.post(path, data={"_csrf_token": csrf(client), **fields})


def row_of(page: httpx.Response, text: str) -> str:
    """The table row that names `text`, its tags left out and its spaces squeezed."""
    for row in re.findall(r"<tr>(.*?)</tr>", page.text, re.S):
        if text in row:
            return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split())
    raise AssertionError(f"no row with {text!r}")


async def district_name(district_id: int) -> str:
    district = await geo.district(district_id)
    assert district is not None
    return str(district["name_en"])


async def test_the_dashboard_compares_every_pilot_district_and_lists_watched_items(
        client: httpx.AsyncClient) -> None:
    # Beruniy's quarter: four items, one answered on time, one late, two still overdue (the
    # numbers are no real report's, whose clock would be another).
    await add_obligation(9001, resolved_in=5)
    await add_obligation(9002, resolved_in=20)
    await add_obligation(9003)
    await add_obligation(9004, kind="petition")
    await add_obligation(9005, district=CHORTOQ, resolved_in=3)
    report_id = await published_report(await make_official())
    watcher = await signed_in_monitor(client)
    await periodic.add_assessment(watcher, report_id, "Ochiq tuman", "partly",
                                  "We checked ten answers; two came after the due date.")
    overdue = await reports.create_report(await make_resident(), draft())
    await Obligation.update({Obligation.due_at: START}).where(
        (Obligation.kind == "report") & (Obligation.ref == overdue))

    watched = await post(client, "/staff/monitor/watch", kind="district", ref=str(BERUNIY))
    assert watched.status_code in (302, 303)
    assert watched.headers["location"] == "/staff/monitor?done=watched"
    added = await post(client, "/staff/monitor/watch", kind="report", ref=str(overdue),
                       next=DASHBOARD)
    assert added.headers["location"] == f"{DASHBOARD}&done=watched"

    page = await client.get(added.headers["location"])
    assert page.status_code == 200
    assert "It is on your watchlist." in page.text
    for district_id in (BERUNIY, CHORTOQ, BOYSUN):
        for path in (f"/accountability/districts/{district_id}?{QUARTER}",
                     f"/accountability/districts/{district_id}/late?{QUARTER}"):
            assert f'href="{html.escape(path)}"' in page.text
    # District, received, resolved, open, overdue, on-time rate, petitions' rate, median days,
    # published reports, assessed by this monitor, late items, watchlist.
    beruniy = row_of(page, await district_name(BERUNIY))
    assert beruniy.startswith(f"{await district_name(BERUNIY)} 4 2 2 2 25 % 0 % 5 1 1 List")
    assert "Watched Stop watching" in beruniy
    chortoq = row_of(page, await district_name(CHORTOQ))
    assert chortoq.startswith(f"{await district_name(CHORTOQ)} 1 1 0 0 100 % — 3 0 0 List")
    # Chortoq is in Namangan region: this monitor's grant is Karakalpakstan's.
    assert "Outside your area" in chortoq and "Watch" not in chortoq

    item = row_of(page, f"Problem report №{overdue}")
    assert "Pothole" in item and "Overdue" in item
    assert f'<a href="/reports/{overdue}">Problem report №{overdue}</a>' in page.text
    assert 'class="status status-overdue">Overdue</span>' in page.text
    assert "+99890" not in page.text and "Dilnoza" not in page.text

    gone = await post(client, "/staff/monitor/unwatch", kind="report", ref=str(overdue),
                      next=DASHBOARD)
    assert gone.headers["location"] == f"{DASHBOARD}&done=unwatched"
    page = await client.get(gone.headers["location"])
    assert f"Problem report №{overdue}" not in page.text
    assert "You watch no item yet." in page.text
    assert await Watch.count() == 1


async def test_bad_input_gives_the_dashboard_again_with_a_message(
        client: httpx.AsyncClient) -> None:
    await signed_in_monitor(client)
    for fields, field, text in (
            ({"kind": "everything", "ref": "5"}, "kind", "Choose what to watch."),
            ({"kind": "report", "ref": "abc"}, "ref", "Give the number, for example 125."),
            ({"kind": "report", "ref": "424242"}, "ref",
             "There is nothing of this kind with this number."),
            ({"kind": "petition", "ref": "99999999999"}, "ref",
             "There is nothing of this kind with this number."),
            ({"kind": "district", "ref": "1"}, "ref", "Only pilot districts can be watched.")):
        page = await post(client, "/staff/monitor/watch", **fields)
        assert page.status_code == 400, fields
        assert f'<p class="field-error" id="{field}-error">' in page.text
        assert text in page.text
        assert "Watched items" in page.text
    # What was typed is kept.
    assert 'value="abc"' in (await post(client, "/staff/monitor/watch", kind="report",
                                        ref="abc")).text
    assert (await post(client, "/staff/monitor/watch", kind="district",
                       ref=str(CHORTOQ))).status_code == 403
    bad_period = await client.get("/staff/monitor?from=2026-13-01")
    assert bad_period.status_code == 400
    assert "Give the first day as a date, for example 2026-07-01." in bad_period.text
    assert "Watched items" in bad_period.text
    assert await Watch.count() == 0

    # `next` leads only to a path on this site.
    for elsewhere in ("https://evil.example/", "//evil.example/", "/\\evil.example",
                      "evil.example"):
        sent = await post(client, "/staff/monitor/watch", kind="district", ref=str(BERUNIY),
                          next=elsewhere)
        assert sent.headers["location"] == "/staff/monitor?done=watched"
    back = f"/accountability/districts/{BERUNIY}?{QUARTER}"
    sent = await post(client, "/staff/monitor/unwatch", kind="district", ref=str(BERUNIY),
                      next=back)
    assert sent.headers["location"] == back
    assert await Watch.count() == 0


async def test_only_monitors_have_the_dashboard(client: httpx.AsyncClient) -> None:
    await client.get("/accountability")
    assert (await client.get("/staff/monitor")).headers["location"] == "/staff/signin"
    signed_out = await post(client, "/staff/monitor/watch", kind="district", ref="16")
    assert signed_out.headers["location"] == "/staff/signin"

    official = await make_official()
    await sign_in(client, official.id)
    assert (await client.get("/staff/monitor")).status_code == 403
    assert (await post(client, "/staff/monitor/watch", kind="district",
                       ref=str(BERUNIY))).status_code == 403
    assert "Monitoring dashboard" not in (await client.get("/staff")).text

    await signed_in_resident(client)
    assert (await client.get("/staff/monitor")).status_code == 403
    assert (await post(client, "/staff/monitor/unwatch", kind="district",
                       ref=str(BERUNIY))).status_code == 403
    assert await Watch.count() == 0

    await signed_in_monitor(client, None)
    home = await client.get("/staff")
    assert '<a href="/staff/monitor">Monitoring dashboard</a>' in home.text
    # A national monitor may watch every pilot district.
    page = await client.get("/staff/monitor")
    assert page.status_code == 200
    assert "Outside your area" not in page.text
    assert page.text.count('action="/staff/monitor/watch"') == 4


async def test_the_public_scorecard_has_watch_buttons_for_monitors_only(
        client: httpx.AsyncClient) -> None:
    late = await reports.create_report(await make_resident(), draft())
    await Obligation.update({Obligation.due_at: START, Obligation.registered_at: START}
                            ).where((Obligation.kind == "report") & (Obligation.ref == late))
    district_page = f"/accountability/districts/{BERUNIY}?{QUARTER}"
    late_page = f"/accountability/districts/{BERUNIY}/late?{QUARTER}"

    for viewer in ("anonymous", "official", "other region"):
        if viewer == "official":
            await sign_in(client, (await make_official()).id)
        elif viewer == "other region":
            await sign_in(client, (await monitor("namangan", REGION_OF[CHORTOQ])).id)
        page = await client.get(district_page)
        assert page.status_code == 200
        assert "Watch this district" not in page.text
        listed = await client.get(late_page)
        assert f"Problem report №{late}" in listed.text
        assert "/staff/monitor/" not in listed.text and "Watchlist" not in listed.text

    await signed_in_monitor(client)
    page = await client.get(district_page)
    assert "Watch this district" in page.text
    here = html.escape(district_page)
    assert f'<input type="hidden" name="next" value="{here}">' in page.text
    sent = await post(client, "/staff/monitor/watch", kind="district", ref=str(BERUNIY),
                      next=district_page)
    assert sent.headers["location"] == district_page
    page = await client.get(district_page)
    assert "You watch this district." in page.text and "Stop watching" in page.text

    listed = await client.get(late_page)
    assert f'aria-label="Watch Problem report №{late}"' in listed.text
    sent = await post(client, "/staff/monitor/watch", kind="report", ref=str(late),
                      next=late_page)
    assert sent.headers["location"] == late_page
    listed = await client.get(late_page, headers={"HX-Request": "true",
                                                  "HX-Target": "late-items"})
    assert re.search(r"Not answered yet \d+ Watching$", row_of(listed, f"Problem report №{late}"))
    assert '<span class="tag">Watching</span>' in listed.text
    assert "<html" not in listed.text
