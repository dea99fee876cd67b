"""/api/v1/reports: the map's GeoJSON, one report's public view, and reporting with photos."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import httpx
import pytest
from PIL import Image

from ovoz.accounts import services as accounts
from ovoz.i18n.locale import TASHKENT
from ovoz.reports import api, clusters, services
from ovoz.reports.tables import Photo, Report
from tests.reports.helpers import (
    BERUNIY,
    BERUNIY_POINT,
    TASHKENT_POINT,
    draft,
    jpeg,
    load_demo_mahallas,
    make_official,
    make_resident,
)
from tests.reports.test_photos import encode, gps_exif

PHONE = "+998901112233"
BERUNIY_BBOX = "60.35,41.35,61.40,42.10"


async def bearer(resident_id: int) -> dict[str, str]:
    token, _ = await accounts.issue_api_token(resident_id, label="test")
    return {"Authorization": f"Bearer {token}"}


Parts = list[tuple[str, tuple[str | None, bytes | str, str | None]]]


def form(**changes: str) -> Parts:
    """The text fields, as parts of a multipart body (httpx sends a form alone url-encoded)."""
    values = {"category": "roads.pothole", "description": "A deep pothole by the school gate.",
              "lat": str(BERUNIY_POINT[0]), "lon": str(BERUNIY_POINT[1])}
    values.update(changes)
    return [(name, (None, value, None)) for name, value in values.items()]


def photos(*contents: bytes) -> Parts:
    return [("photos", (f"photo{n}.jpg", content, "image/jpeg"))
            for n, content in enumerate(contents, start=1)]


async def test_geojson_of_the_box(client: httpx.AsyncClient) -> None:
    author = await make_resident(PHONE)
    report_id = await services.create_report(author, draft())
    response = await client.get(f"/api/v1/reports.geojson?bbox={BERUNIY_BBOX}&zoom=14",
                                headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    directives = {d.strip() for d in response.headers["cache-control"].split(",")}
    assert directives == {"public", "max-age=30"}
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    [feature] = collection["features"]
    assert feature["geometry"]["coordinates"] == [BERUNIY_POINT[1], BERUNIY_POINT[0]]
    assert feature["properties"]["category_name"] == "Pothole"
    assert feature["properties"]["url"] == f"/reports/{report_id}"
    assert PHONE not in response.text

    everywhere = await client.get("/api/v1/reports.geojson")
    assert [f["id"] for f in everywhere.json()["features"]] == [report_id]
    other = await client.get("/api/v1/reports.geojson?category=lighting&status=open")
    assert other.json()["features"] == []
    today = datetime.now(TASHKENT).date()

    async def between(since: date, until: date) -> list[int]:
        response = await client.get(f"/api/v1/reports.geojson?since={since}&until={until}")
        return [f["id"] for f in response.json()["features"]]

    assert await between(today, today) == [report_id]
    assert await between(today - timedelta(days=9), today - timedelta(days=1)) == []
    assert await between(today + timedelta(days=1), today + timedelta(days=9)) == []


async def test_geojson_clusters_when_many(client: httpx.AsyncClient,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clusters, "MAX_POINTS", 1)
    author = await make_resident(PHONE)
    for lat in (41.690, 41.691, 41.692):
        await services.create_report(author, draft(lat=lat))
    response = await client.get(f"/api/v1/reports.geojson?bbox={BERUNIY_BBOX}&zoom=8")
    [cluster] = response.json()["features"]
    assert cluster["properties"]["cluster"] is True and cluster["properties"]["count"] == 3


@pytest.mark.parametrize(("query", "error"), [
    ("bbox=1,2,3", "invalid_bbox"),
    ("bbox=61,41,60,42", "invalid_bbox"),
    ("bbox=60,41,61,95", "invalid_bbox"),
    ("status=lost", "invalid_status"),
    ("category=unicorns", "invalid_category"),
    ("zoom=25", "bad_request"),
    ("since=yesterday", "bad_request"),
    ("since=0001-01-01", "invalid_since"),
    ("until=9999-12-31", "invalid_until"),
])
async def test_geojson_refuses_bad_queries(client: httpx.AsyncClient, query: str,
                                           error: str) -> None:
    response = await client.get(f"/api/v1/reports.geojson?{query}")
    assert response.status_code == 400
    assert response.json()["error"] == error and response.json()["detail"]


async def test_one_report_with_a_hidden_name_shows_no_personal_data(
        client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    author = await make_resident(PHONE, name="Dilnoza Yusupova")
    report_id = await services.create_report(author, draft(hide_name=True))
    official = await make_official()
    await services.change_status(official, report_id, "acknowledged", "We will look at it.")
    response = await client.get(f"/api/v1/reports/{report_id}",
                                headers={"Accept-Language": "en"})
    assert response.status_code == 200
    body = response.json()
    assert body["reporter"] is None
    assert "Dilnoza" not in response.text and PHONE not in response.text
    assert PHONE.removeprefix("+") not in response.text
    assert "author" not in body and "token" not in body
    assert body["category"] == {"code": "roads.pothole", "name": "Pothole"}
    assert body["status"] == "acknowledged" and body["status_label"] == "Acknowledged"
    assert body["district_id"] == BERUNIY and body["mahalla_id"] is not None
    assert body["lat"] == BERUNIY_POINT[0] and body["point_exact"] is True
    assert body["department"] is None and body["photos"] == []
    assert body["first_response_at"] is not None and body["resolved_at"] is None
    assert body["overdue"] is False
    await Report.update({Report.due_at: services.now()}).where(Report.id == report_id)
    late = (await client.get(f"/api/v1/reports/{report_id}")).json()
    assert late["overdue"] is True
    [step] = body["history"]
    assert step == {"kind": "status", "status_from": "new", "status_to": "acknowledged",
                    "note": "We will look at it.", "at": step["at"], "official": "Hokimiyat",
                    "photos": []}


async def test_one_report_names_its_reporter_and_department(client: httpx.AsyncClient) -> None:
    author = await make_resident(PHONE, name="Aziz")
    official = await make_official()
    department = await services.create_department(official, BERUNIY, "Yo'l bo'limi",
                                                  name_en="Roads department")
    pothole = await services.category_by_code("roads.pothole")
    assert pothole is not None
    await services.set_route(official, BERUNIY, pothole["id"], department)
    report_id = await services.create_report(author, draft())
    body = (await client.get(f"/api/v1/reports/{report_id}",
                             headers={"Accept-Language": "en"})).json()
    assert body["reporter"] == "Aziz"
    assert body["department"] == "Roads department"


@pytest.mark.parametrize("report_id", ["999999", "0", "99999999999999"])
async def test_unknown_report(client: httpx.AsyncClient, report_id: str) -> None:
    response = await client.get(f"/api/v1/reports/{report_id}")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


async def test_report_with_photos(client: httpx.AsyncClient) -> None:
    author = await make_resident(PHONE, name="Dilnoza")
    response = await client.post(
        "/api/v1/reports", headers=await bearer(author),
        files=form(hide_name="true", location_text="By the school")
        + photos(jpeg(), jpeg(1200, 900)))
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/v1/reports/{body['id']}"
    assert body["reporter"] is None and body["location_text"] == "By the school"
    assert len(body["photos"]) == 2
    assert all(url.startswith("/reports/photos/") and url.endswith(".jpg")
               for url in body["photos"])
    stored = await Report.select(Report.source, Report.author, Report.hide_name).where(
        Report.id == body["id"]).first()
    assert stored == {"source": "api", "author": author, "hide_name": True}
    assert await Photo.count().where(Photo.report == body["id"]) == 2
    assert (await client.get(f"/api/v1/reports/{body['id']}")).json() == body


async def test_without_a_point_the_photo_s_own_position_is_used(client: httpx.AsyncClient
                                                                 ) -> None:
    auth = await bearer(await make_resident(PHONE))
    exif = gps_exif((41, 41, 24.0), "N", (60, 45, 7.2), "E")
    taken = encode(Image.new("RGB", (640, 480), (90, 90, 90)), "JPEG", exif=exif)
    response = await client.post("/api/v1/reports", headers=auth,
                                 files=form(lat="", lon="") + photos(taken))
    assert response.status_code == 201, response.text
    body = response.json()
    assert (round(body["lat"], 6), round(body["lon"], 6)) == (41.69, 60.752)
    assert body["point_exact"] is True


async def test_a_report_without_photos_or_with_three(client: httpx.AsyncClient) -> None:
    auth = await bearer(await make_resident(PHONE))
    plain = await client.post("/api/v1/reports", headers=auth, files=form())
    assert plain.status_code == 201 and plain.json()["photos"] == []
    three = await client.post("/api/v1/reports", headers=auth,
                              files=form() + photos(jpeg(), jpeg(640, 480), jpeg(300, 200)))
    assert three.status_code == 201 and len(three.json()["photos"]) == 3


async def test_four_photos_are_refused(client: httpx.AsyncClient) -> None:
    auth = await bearer(await make_resident(PHONE))
    response = await client.post("/api/v1/reports", headers=auth,
                                 files=form() + photos(*[jpeg()] * 4))
    assert response.status_code == 400 and response.json()["error"] == "too_many_photos"
    assert await Report.count() == 0


async def test_a_file_that_is_not_an_image_is_refused(client: httpx.AsyncClient) -> None:
    auth = await bearer(await make_resident(PHONE))
    response = await client.post(
        "/api/v1/reports", headers=auth,
        files=[*form(), *photos(jpeg()),
               ("photos", ("notes.txt", b"not a photo at all", "text/plain"))])
    assert response.status_code == 400
    assert response.json()["error"] == "bad_photo"
    assert response.json()["detail"].startswith("Photo 2: ")
    assert await Report.count() == 0


async def test_outside_the_pilot_districts(client: httpx.AsyncClient) -> None:
    auth = await bearer(await make_resident(PHONE))
    response = await client.post(
        "/api/v1/reports", headers=auth,
        files=form(lat=str(TASHKENT_POINT[0]), lon=str(TASHKENT_POINT[1])))
    assert response.status_code == 422 and response.json()["error"] == "outside_pilot"


@pytest.mark.parametrize(("changes", "status", "error"), [
    ({"category": "unicorns"}, 400, "unknown_category"),
    ({"description": "Hole"}, 400, "description_too_short"),
    ({"lat": "", "lon": ""}, 400, "no_location"),
    ({"lat": "north"}, 400, "bad_request"),
    ({"lon": "200"}, 400, "bad_request"),
    ({"lat": "", "lon": "", "mahalla_id": "x"}, 400, "bad_request"),
    ({"lat": "", "lon": "", "mahalla_id": "99999999999999", "location_text": "Here"}, 400,
     "bad_request"),
    ({"lat": "", "lon": "", "mahalla_id": "999999", "location_text": "Here"}, 400,
     "unknown_mahalla"),
])
async def test_bad_reports_are_refused(client: httpx.AsyncClient, changes: dict[str, str],
                                       status: int, error: str) -> None:
    auth = await bearer(await make_resident(PHONE))
    response = await client.post("/api/v1/reports", headers=auth, files=form(**changes))
    assert response.status_code == status, response.text
    assert response.json()["error"] == error and response.json()["detail"]


async def test_too_many_reports_in_a_day(client: httpx.AsyncClient) -> None:
    author = await make_resident(PHONE)
    for _ in range(services.REPORTS_PER_DAY):
        await services.create_report(author, draft())
    response = await client.post("/api/v1/reports", headers=await bearer(author),
                                 files=form())
    assert response.status_code == 429, response.text
    assert response.json()["error"] == "too_many_reports"
    assert int(response.headers["retry-after"]) > 0


async def test_reporting_needs_a_token(client: httpx.AsyncClient) -> None:
    missing = await client.post("/api/v1/reports", files=form() + photos(jpeg()))
    assert missing.status_code == 401 and missing.json()["error"] == "unauthorised"
    wrong = await client.post("/api/v1/reports", files=form(),
                              headers={"Authorization": "Bearer ovz_not-a-token"})
    assert wrong.status_code == 401
    assert await Report.count() == 0


async def test_the_body_limit_fits_three_photos_and_no_more(client: httpx.AsyncClient) -> None:
    auth = await bearer(await make_resident(PHONE))
    too_big = b"\xff" * (api.MAX_BODY + 1)
    response = await client.post("/api/v1/reports", headers=auth,
                                 files=form() + photos(too_big))
    assert response.status_code == 413
    assert api.MAX_BODY >= services.MAX_PHOTOS * 10 * 1024 * 1024


async def test_the_schema_lists_the_reports_api(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/api/v1/schema/openapi.json")).json()
    for path, method in (("/api/v1/reports.geojson", "get"), ("/api/v1/reports", "post"),
                         ("/api/v1/reports/{report_id}", "get")):
        assert schema["paths"][path][method]["tags"] == ["reports"]
