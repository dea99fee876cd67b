"""The report pages: reporting with and without the map, me too, the permalink, following, fix
feedback, and the officials' queue and handling pages."""

from __future__ import annotations

import io
import re

import httpx
import pytest
from PIL import Image

from ovoz.accountability import clock
from ovoz.accounts import sessions
from ovoz.accounts.permissions import StaffMember
from ovoz.accounts.tables import Resident, StaffAccount
from ovoz.geo.tables import Mahalla
from ovoz.i18n import locale
from ovoz.notify import services as notify
from ovoz.notify.tables import OutboxMessage
from ovoz.reports import services
from ovoz.reports.tables import Report
from tests.reports.helpers import (
    BERUNIY,
    BERUNIY_POINT,
    NEAR_BERUNIY_POINT,
    TASHKENT_POINT,
    draft,
    jpeg,
    load_demo_mahallas,
    make_official,
    make_resident,
)
from tests.reports.test_photos import encode, gps_exif

PHONE = "+998901112233"


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    """The assertions read the English pages, as a reader who chose English would see them."""
    client.cookies.set("lang", "en")


async def signed_in_resident(client: httpx.AsyncClient, phone: str = PHONE,
                             name: str = "Dilnoza") -> int:
    resident_id = await make_resident(phone, name)
    token = await sessions.start(sessions.RESIDENT, resident_id, 0)
    client.cookies.set(sessions.COOKIE, token)
    await client.get("/reports")
    return resident_id


async def signed_in_official(client: httpx.AsyncClient, **grant: int | None
                             ) -> StaffMember:
    official = await make_official(**grant)  # type: ignore[arg-type]
    # A role grant ends the person's sessions, so the session starts at the current epoch.
    account = await StaffAccount.select(StaffAccount.session_epoch).where(
        StaffAccount.id == official.id).first()
    token = await sessions.start(sessions.STAFF, official.id, account["session_epoch"],
                                 sessions.STAFF_FULL)
    client.cookies.set(sessions.COOKIE, token)
    await client.get("/reports")
    return official


def csrf(client: httpx.AsyncClient) -> str:
    return client.cookies["csrftoken"]


async def post_report(client: httpx.AsyncClient, files: list[tuple[str, tuple[str, bytes, str]]]
                      | None = None, **fields: str) -> httpx.Response:
    data = {"category": "roads.pothole", "description": "A deep pothole by the school gate.",
            "lat": str(BERUNIY_POINT[0]), "lon": str(BERUNIY_POINT[1]),
            "_csrf_token": csrf(client), **fields}
    return await client.post("/reports/new", data=data, files=files or [])


async def test_reporting_needs_a_signed_in_resident(client: httpx.AsyncClient) -> None:
    form = await client.get("/reports/new")
    assert form.status_code == 302 and form.headers["location"] == "/signin?next=/reports/new"


async def test_a_resident_reports_a_pothole_with_a_photo_at_a_map_point(
        client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    author = await signed_in_resident(client)
    form = await client.get("/reports/new")
    assert form.status_code == 200
    assert 'id="location-picker"' in form.text
    assert "static/vendor/leaflet/dist/leaflet.js" in form.text
    sent = await post_report(client, files=[("photos", ("pothole.jpg", jpeg(), "image/jpeg"))])
    assert sent.status_code == 302, sent.text
    report_id = int(re.fullmatch(r"/reports/(\d+)\?sent=1", sent.headers["location"])[1])
    row = await services.report(report_id)
    assert row is not None and row["author"] == author and len(row["photos"]) == 1
    page = await client.get(sent.headers["location"])
    assert page.status_code == 200
    assert "Dilnoza" in page.text and "+99890" not in page.text
    photo = row["photos"][0]["name"]
    assert f"/reports/photos/{photo}.thumb.jpg" in page.text
    image = await client.get(f"/reports/photos/{photo}.jpg")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert "immutable" in image.headers["cache-control"]
    assert (await client.get(f"/reports/photos/{photo}.thumb.jpg")).status_code == 200
    assert (await client.get("/reports/photos/../../etc.jpg")).status_code == 404
    listing = await client.get("/reports")
    assert f"/reports/{report_id}" in listing.text and 'id="report-map"' in listing.text


async def test_without_the_map_the_mahalla_and_the_spot_are_enough(
        client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    await signed_in_resident(client)
    mahalla = await Mahalla.select(Mahalla.id).where(Mahalla.district == BERUNIY).first()
    missing_spot = await post_report(client, lat="", lon="", mahalla_id=str(mahalla["id"]))
    assert missing_spot.status_code == 400
    assert 'href="#location_text"' in missing_spot.text
    sent = await post_report(client, lat="", lon="", mahalla_id=str(mahalla["id"]),
                             location_text="Navoiy street, by the mill")
    assert sent.status_code == 302
    report = await Report.select().first()
    assert report["mahalla"] == mahalla["id"] and report["point_exact"] is False


async def test_bad_input_is_explained_and_what_was_typed_is_kept(
        client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    await signed_in_resident(client)
    refused = await post_report(
        client, description="Hole", files=[("photos", ("a.jpg", jpeg(), "image/jpeg")),
                                           ("photos", ("notes.txt", b"hello", "text/plain"))])
    assert refused.status_code == 400
    assert 'href="#description"' in refused.text and 'href="#photos"' in refused.text
    assert "Only JPEG, PNG or WebP photos can be added." in refused.text
    # The good photo is kept by name, so it is not lost with the failed submit.
    kept = re.search(r'name="kept_photo" value="([0-9a-f]{32})"', refused.text)
    assert kept is not None
    sent = await post_report(client, kept_photo=kept[1])
    assert sent.status_code == 302
    report = await services.report(int(sent.headers["location"].split("/")[2].split("?")[0]))
    assert [p["name"] for p in report["photos"]] == [kept[1]]


async def test_a_place_outside_the_pilot_districts_is_refused_with_a_reason(
        client: httpx.AsyncClient) -> None:
    await signed_in_resident(client)
    refused = await post_report(client, lat=str(TASHKENT_POINT[0]), lon=str(TASHKENT_POINT[1]))
    assert refused.status_code == 400
    assert "pilot districts" in refused.text
    assert 'value="A deep pothole by the school gate."' not in refused.text
    assert "A deep pothole by the school gate." in refused.text
    assert await Report.count() == 0


async def test_open_reports_nearby_are_offered_before_sending(client: httpx.AsyncClient
                                                              ) -> None:
    await load_demo_mahallas()
    first_author = await make_resident("+998907778899", "Aziz")
    existing = await services.create_report(first_author, draft())
    resident = await signed_in_resident(client)
    offered = await post_report(client, lat=str(NEAR_BERUNIY_POINT[0]),
                                lon=str(NEAR_BERUNIY_POINT[1]))
    assert offered.status_code == 200
    assert f'formaction="/reports/{existing}/support"' in offered.text
    assert await Report.count() == 1
    partial = await client.get("/reports/nearby", params={
        "category": "roads.pothole", "lat": NEAR_BERUNIY_POINT[0], "lon": NEAR_BERUNIY_POINT[1]})
    assert f"/reports/{existing}/support" in partial.text and "<html" not in partial.text
    me_too = await client.post(f"/reports/{existing}/support",
                               data={"_csrf_token": csrf(client)})
    assert me_too.status_code == 302
    again = await client.post(f"/reports/{existing}/support", data={"_csrf_token": csrf(client)})
    assert again.status_code == 302
    row = await services.report(existing)
    assert row["supporters"] == 1
    assert resident in await notify.followers(services.report_subject(existing))
    anyway = await post_report(client, lat=str(NEAR_BERUNIY_POINT[0]),
                               lon=str(NEAR_BERUNIY_POINT[1]), send_anyway="1")
    assert anyway.status_code == 302 and await Report.count() == 2


async def test_hidden_names_stay_hidden_and_following_can_stop(client: httpx.AsyncClient
                                                               ) -> None:
    await load_demo_mahallas()
    author = await signed_in_resident(client)
    report_id = await services.create_report(author, draft(hide_name=True))
    page = await client.get(f"/reports/{report_id}")
    assert "Dilnoza" not in page.text and "Stop following" in page.text
    stopped = await client.post(f"/reports/{report_id}/follow",
                                data={"follow": "no", "_csrf_token": csrf(client)})
    assert stopped.status_code == 302
    assert author not in await notify.followers(services.report_subject(report_id))
    assert "Follow its progress" in (await client.get(f"/reports/{report_id}")).text
    assert (await client.get("/reports/999999")).status_code == 404


async def test_the_reporter_disputes_a_fix_and_it_reopens(client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    author = await signed_in_resident(client)
    report_id = await services.create_report(author, draft())
    official = await make_official()
    await services.change_status(official, report_id, services.FIXED, "Filled with asphalt.")
    page = await client.get(f"/reports/{report_id}")
    assert "Is it really fixed?" in page.text and "Filled with asphalt." in page.text
    disputed = await client.post(f"/reports/{report_id}/fix-feedback", data={
        "fixed": "no", "note": "Still a hole.", "_csrf_token": csrf(client)})
    assert disputed.status_code == 302
    assert (await services.report(report_id))["status"] == services.IN_PROGRESS
    twice = await client.post(f"/reports/{report_id}/fix-feedback", data={
        "fixed": "no", "_csrf_token": csrf(client)})
    assert twice.status_code == 400 and "not marked as fixed" in twice.text


async def test_the_list_filters_by_category_status_and_period(client: httpx.AsyncClient
                                                              ) -> None:
    await load_demo_mahallas()
    author = await make_resident()
    pothole = await services.create_report(author, draft())
    lamp = await services.create_report(author, draft(category="lighting",
                                                      description="The street lamp is dark."))
    old = await services.create_report(author, draft(category="water",
                                                     description="No water for a week now."))
    await Report.update({Report.registered_at: services.now() - services.timedelta(days=60)}
                        ).where(Report.id == old)
    roads = await client.get("/reports", params={"category": "roads"})
    assert f'href="/reports/{pothole}"' in roads.text
    assert f'href="/reports/{lamp}"' not in roads.text
    recent = await client.get("/reports", params={"period": "month"})
    assert f'href="/reports/{old}"' not in recent.text and f'href="/reports/{lamp}"' in recent.text
    closed = await client.get("/reports", params={"status": "closed"})
    assert "No reports match these choices." in closed.text
    partial = await client.get("/reports", params={"category": "roads"},
                               headers={"HX-Request": "true", "HX-Target": "reports"})
    assert partial.text.lstrip().startswith('<div id="reports"')


async def test_officials_work_through_their_queue(client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    author = await make_resident()
    first = await services.create_report(author, draft())
    second = await services.create_report(author, draft(category="lighting",
                                                        description="The street lamp is dark."))
    elsewhere = await services.create_report(author, draft(lat=41.07, lon=71.82))
    assert (await client.get("/staff/reports")).headers["location"] == "/staff/signin"
    await signed_in_official(client)
    queue = await client.get("/staff/reports")
    assert queue.status_code == 200
    assert f"/staff/reports/{first}" in queue.text
    assert f'href="/staff/districts/{BERUNIY}/departments"' in queue.text
    assert f"/staff/reports/{elsewhere}" not in queue.text
    acknowledged = await client.post("/staff/reports/acknowledge", data={
        "report_id": [str(first), str(second), str(elsewhere)], "note": "Received.",
        "_csrf_token": csrf(client)})
    assert acknowledged.headers["location"] == "/staff/reports?acknowledged=2"
    assert (await services.report(elsewhere))["status"] == services.NEW
    handle = await client.get(f"/staff/reports/{first}")
    assert handle.status_code == 200 and "Dilnoza" in handle.text
    no_note = await client.post(f"/staff/reports/{first}/status", data={
        "status": "fixed", "note": "", "_csrf_token": csrf(client)})
    assert no_note.status_code == 400 and 'href="#note"' in no_note.text
    fixed = await client.post(f"/staff/reports/{first}/status", data={
        "status": "fixed", "note": "Filled.", "_csrf_token": csrf(client)},
        files=[("photos", ("after.jpg", jpeg(), "image/jpeg"))])
    assert fixed.status_code == 302
    history = await services.history(first)
    assert history[-1]["status_to"] == "fixed" and len(history[-1]["photos"]) == 1
    extended = await client.post(f"/staff/reports/{second}/extend", data={
        "days": "10", "reason": "Waiting for a new lamp.", "_csrf_token": csrf(client)})
    assert extended.status_code == 302
    assert (await services.report(second))["extension_reason"] == "Waiting for a new lamp."
    forbidden = await client.get(f"/staff/reports/{elsewhere}")
    assert forbidden.status_code == 403


async def test_the_due_date_shown_is_the_last_day_to_answer(client: httpx.AsyncClient) -> None:
    """A term ends at the midnight after its last day; pages name that last day."""
    await load_demo_mahallas()
    report_id = await services.create_report(await make_resident(), draft())
    due_at = (await services.report(report_id))["due_at"]
    last_day, midnight_day = (locale.format_date(day, "en") for day in (
        clock.last_day(due_at), clock.local_day(due_at)))
    assert last_day != midnight_day
    detail = await client.get(f"/reports/{report_id}")
    assert last_day in detail.text and midnight_day not in detail.text
    await signed_in_official(client)
    queue = await client.get("/staff/reports")
    assert f"Due by {last_day}" in queue.text and f"Due by {midnight_day}" not in queue.text


async def test_district_officials_set_up_departments_and_routing(client: httpx.AsyncClient
                                                                 ) -> None:
    await load_demo_mahallas()
    await signed_in_official(client)
    page = await client.get(f"/staff/districts/{BERUNIY}/departments")
    assert page.status_code == 200
    added = await client.post(f"/staff/districts/{BERUNIY}/departments", data={
        "name_uz": "Yo‘l xo‘jaligi bo‘limi", "_csrf_token": csrf(client)})
    assert added.status_code == 302
    roads = (await services.departments(BERUNIY))[0]
    pothole = next(c for c in await services.categories() if c["code"] == "roads.pothole")
    saved = await client.post(f"/staff/districts/{BERUNIY}/routes", data={
        f"route-{pothole['id']}": str(roads["id"]), "_csrf_token": csrf(client)})
    assert saved.status_code == 200 and "The routing has been saved." in saved.text
    author = await make_resident()
    report_id = await services.create_report(author, draft())
    assert (await services.report(report_id))["department"] == roads["id"]
    assert (await client.get("/staff/districts/106/departments")).status_code == 403


async def test_the_account_and_data_stay_private(client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    author = await signed_in_resident(client)
    report_id = await services.create_report(author, draft())
    await Resident.update({Resident.display_name: "Secret Person"}).where(Resident.id == author)
    client.cookies.clear()
    page = await client.get(f"/reports/{report_id}?lang=en")
    assert PHONE not in page.text and "Sign in to say" in page.text


async def test_residents_hear_about_new_reports_in_their_mahalla_or_nearby(
        client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    watcher = await signed_in_resident(client)
    nearest = await services.report(await services.create_report(
        await make_resident("+998907770000", "Aziz"), draft()))
    await Resident.update({Resident.mahalla: nearest["mahalla"]}).where(Resident.id == watcher)
    await client.post("/reports/follow-area", data={"km": "", "_csrf_token": csrf(client)})
    await client.post("/reports/follow-area", data={"km": "2", "_csrf_token": csrf(client)})
    page = await client.get("/reports")
    assert "In your mahalla" in page.text and "Within 2 km of your mahalla" in page.text
    author = await make_resident("+998907770001", "Bobur")
    report_id = await services.create_report(author, draft())
    queued = await OutboxMessage.select(OutboxMessage.key).where(
        OutboxMessage.template == "report.new_in_area")
    # Both follows match, yet the watcher hears once per channel, never twice.
    assert sorted(row["key"] for row in queued) == [
        f"report:{report_id}:new:{watcher}:inapp", f"report:{report_id}:new:{watcher}:sms"]
    far = await services.create_report(author, draft(lat=41.07, lon=71.82))
    assert not await OutboxMessage.exists().where(
        OutboxMessage.key.like(f"report:{far}:new:%"))
    stop = await client.post("/reports/follow-area", data={
        "stop": f"mahalla:{nearest['mahalla']}", "_csrf_token": csrf(client)})
    assert stop.status_code == 302
    assert "In your mahalla" not in (await client.get("/reports")).text


async def test_residents_follow_a_circle_around_a_reports_place(client: httpx.AsyncClient
                                                                 ) -> None:
    await load_demo_mahallas()
    author = await make_resident("+998907770000", "Aziz")
    # Far from any mahalla centre the resident lives in: the circle is around this report.
    seen = await services.create_report(author, draft(lat=41.07, lon=71.82))
    detail = await client.get(f"/reports/{seen}")
    assert 'action="/reports/follow-area"' not in detail.text
    refused = await client.post("/reports/follow-area", data={"near": str(seen), "km": "1"})
    assert refused.status_code == 403
    watcher = await signed_in_resident(client)
    detail = await client.get(f"/reports/{seen}")
    assert f'name="near" value="{seen}"' in detail.text
    followed = await client.post("/reports/follow-area", data={
        "near": str(seen), "km": "1", "_csrf_token": csrf(client)})
    assert followed.headers["location"] == f"/reports/{seen}?following_area=1"
    assert "You will hear about new reports near here." in (
        await client.get(followed.headers["location"])).text
    assert "Within 1 km of a report’s place" in (await client.get("/reports")).text
    following = await client.get("/notifications/following")
    assert "New reports within 1 km of a place you chose" in following.text
    near = await services.create_report(author, draft(lat=41.0745, lon=71.82))
    far = await services.create_report(author, draft())
    queued = {row["key"] for row in await OutboxMessage.select(OutboxMessage.key).where(
        OutboxMessage.template == "report.new_in_area")}
    assert f"report:{near}:new:{watcher}:inapp" in queued
    assert not any(key.startswith(f"report:{far}:") for key in queued)
    # A size outside the list, or a report that does not exist, follows nothing.
    await client.post("/reports/follow-area", data={
        "near": str(seen), "km": "500", "_csrf_token": csrf(client)})
    assert len(await services.area_follows(watcher)) == 1
    missing = await client.post("/reports/follow-area", data={
        "near": "999999", "km": "1", "_csrf_token": csrf(client)})
    assert missing.status_code == 404


async def test_a_photo_taken_on_the_spot_offers_its_position(client: httpx.AsyncClient
                                                             ) -> None:
    await load_demo_mahallas()
    await signed_in_resident(client)
    # Beruniy town: 41°41'24" N = 41.69, 60°45'7.2" E = 60.752.
    exif = gps_exif((41, 41, 24.0), "N", (60, 45, 7.2), "E")
    with_position = encode(Image.new("RGB", (640, 480), (90, 90, 90)), "JPEG", exif=exif)
    offered = await post_report(client, lat="", lon="", files=[
        ("photos", ("spot.jpg", with_position, "image/jpeg"))])
    assert offered.status_code == 200 and await Report.count() == 0
    assert 'value="41.690000"' in offered.text and 'value="60.752000"' in offered.text
    assert "Your photo shows where it was taken" in offered.text
    kept = re.search(r'name="kept_photo" value="([0-9a-f]{32})"', offered.text)
    assert kept is not None
    sent = await post_report(client, lat="41.690000", lon="60.752000", kept_photo=kept[1])
    assert sent.status_code == 302
    report = await Report.select(Report.lat, Report.point_exact).first()
    assert report == {"lat": 41.69, "point_exact": True}
    # What is published carries no position of its own any more.
    stored = Image.open(io.BytesIO((await client.get(f"/reports/photos/{kept[1]}.jpg")).content))
    assert not stored.getexif()
