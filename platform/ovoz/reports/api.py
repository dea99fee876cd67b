"""/api/v1/reports: the map's GeoJSON, one report's public view, and reporting with photos."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import CacheControlHeader, UploadFile
from litestar.enums import RequestEncodingType
from litestar.handlers import BaseRouteHandler
from litestar.params import Body, FromPath, QueryParameter

from ovoz.accounts.api import bearer_resident
from ovoz.i18n import locale
from ovoz.reports import clusters, services
from ovoz.reports.photos import PhotoError, ProcessedPhoto, process_photo
from ovoz.settings import get_settings
from ovoz.web.errors import ApiError
from ovoz.web.opendata import MAX_ID

MB = 1024 * 1024
# Three photos at the default limit of 10 MB each, and the form's text fields around them. A
# site that raises limits.max_upload_mb must raise this with it.
MAX_BODY = services.MAX_PHOTOS * 10 * MB + 64 * 1024
GEOJSON = "application/geo+json"
TRUE_WORDS = ("1", "true", "yes", "on")
# The days a map may be filtered by, well around the life of the site.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)

_REFUSALS: dict[str, tuple[int, str]] = {
    "unknown_category": (400, "category: no such category code."),
    "description_too_short": (
        400, f"description: at least {services.DESCRIPTION_MIN} characters."),
    "description_too_long": (400, f"description: at most {services.DESCRIPTION_MAX} characters."),
    "no_location": (400, "Give lat and lon, or mahalla_id and location_text."),
    "unknown_mahalla": (400, "mahalla_id: no such mahalla; see /api/v1/geo/mahallas."),
    "too_many_photos": (400, f"photos: at most {services.MAX_PHOTOS}."),
    "outside_pilot": (422, "The place is not in a pilot district; see /api/v1/geo/districts."),
}


@dataclass
class ReportForm:
    """Text fields are parsed here rather than by the framework, to name the field at fault."""

    category: str
    description: str
    lat: str = ""
    lon: str = ""
    mahalla_id: str = ""
    location_text: str = ""
    hide_name: str = ""
    photos: list[UploadFile] = field(default_factory=list)


def _number(name: str, text: str, low: float, high: float) -> float | None:
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise ApiError(400, "bad_request", f"{name}: a number from {low} to {high}.")
    return value


def _draft(form: ReportForm) -> services.Draft:
    mahalla_id = None
    if form.mahalla_id.strip():
        text = form.mahalla_id.strip()
        if not (text.isascii() and text.isdigit() and int(text) <= MAX_ID):
            raise ApiError(400, "bad_request", "mahalla_id: a mahalla's id from /api/v1/geo.")
        mahalla_id = int(text)
    return services.Draft(
        category=form.category.strip(), description=form.description,
        lat=_number("lat", form.lat, -90, 90), lon=_number("lon", form.lon, -180, 180),
        mahalla_id=mahalla_id, location_text=form.location_text,
        hide_name=form.hide_name.strip().lower() in TRUE_WORDS, source="api",
    )


async def _photos(uploads: list[UploadFile]) -> list[ProcessedPhoto]:
    if len(uploads) > services.MAX_PHOTOS:
        raise ApiError(400, "too_many_photos", f"photos: at most {services.MAX_PHOTOS}.")
    limit = get_settings().max_upload_mb * MB
    processed = []
    for number, upload in enumerate(uploads, start=1):
        try:
            # Decoding and re-encoding a photo takes a while; the event loop goes on meanwhile.
            processed.append(await asyncio.to_thread(process_photo, await upload.read(), limit))
        except PhotoError as error:
            raise ApiError(400, "bad_photo", f"Photo {number}: {error}") from None
    return processed


def _refusal(error: services.ReportError) -> ApiError:
    if error.code == "too_many_reports":
        refusal = ApiError(429, "too_many_reports",
                           f"At most {services.REPORTS_PER_DAY} reports a day; try again later.")
        refusal.headers = {"Retry-After": str(error.retry_after)}
        return refusal
    status, detail = _REFUSALS.get(error.code, (422, f"Refused: {error.code}."))
    return ApiError(status, error.code, detail)


def _photo_url(name: str) -> str:
    return f"/reports/photos/{name}.jpg"


async def report_json(report_id: int) -> dict[str, Any] | None:
    """The public view of a report: no phone, no resident's id, no hidden name."""
    row = await services.report(report_id)
    if row is None:
        return None
    department = None
    if row["department"] is not None:
        found = await services.department(row["department"])
        department = locale.localised_name(found) if found else None
    history = await services.history(report_id)
    return {
        "id": row["id"],
        "category": {"code": row["category_code"], "name": services.category_label(row)},
        "status": row["status"],
        "status_label": locale.gettext(services.STATUS_LABELS[row["status"]]),
        "description": row["description"],
        "location_text": row["location_text"],
        "lat": row["lat"],
        "lon": row["lon"],
        "point_exact": row["point_exact"],
        "district_id": row["district"],
        "mahalla_id": row["mahalla"],
        "department": department,
        "registered_at": row["registered_at"],
        "due_at": row["due_at"],
        "overdue": services.is_overdue(row),
        "first_response_at": row["first_response_at"],
        "resolved_at": row["resolved_at"],
        "supporters": row["supporters"],
        "reporter": services.public_name(row),
        # Made for the resident by mahalla staff at the office.
        "assisted": services.is_assisted(row),
        "photos": [_photo_url(p["name"]) for p in row["photos"] if p["update"] is None],
        "history": [
            {"kind": h["kind"], "status_from": h["status_from"] or None,
             "status_to": h["status_to"] or None, "note": h["note"], "at": h["at"],
             "official": h["staff_name"], "photos": [_photo_url(n) for n in h["photos"]]}
            for h in history
        ],
    }


def _day_start(name: str, day: date | None, shift: int = 0) -> datetime | None:
    """The start of the day (plus `shift` days) in Tashkent."""
    if day is None:
        return None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ApiError(400, f"invalid_{name}", f"{name}: a day from {FIRST_DAY} to {LAST_DAY}.")
    return datetime.combine(day + timedelta(days=shift), time(), locale.TASHKENT)


async def _resident(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
                    ) -> None:
    # A guard runs before the body is read: nobody unknown gets 30 MB parsed.
    connection.state.resident = await bearer_resident(connection.headers.get("authorization"))


class ReportsApi(Controller):
    path = "/api/v1"
    tags = ("reports",)

    @get("/reports.geojson", media_type=GEOJSON, summary="Reports on the map, clustered when many",
         cache_control=CacheControlHeader(max_age=30, public=True),
         description="Points (one per report) when the box holds at most "
                     f"{clusters.MAX_POINTS} matching reports, otherwise clusters with a count.")
    async def geojson(
        self,
        bbox: Annotated[str | None, QueryParameter(
            max_length=200, description="west,south,east,north in degrees; "
                                        "default: around the pilot districts")] = None,
        zoom: Annotated[int | None, QueryParameter(ge=0, le=clusters.MAX_ZOOM)] = None,
        category: Annotated[str | None, QueryParameter(
            max_length=40, description="a category code or group")] = None,
        status: Annotated[str | None, QueryParameter(
            max_length=20, description="a status, or open or closed")] = None,
        since: Annotated[date | None, QueryParameter(
            description="registered on or after this day (Tashkent)")] = None,
        until: Annotated[date | None, QueryParameter(
            description="registered on or before this day (Tashkent)")] = None,
    ) -> dict[str, Any]:
        try:
            box = clusters.parse_bbox(bbox) if bbox else await clusters.pilot_bbox()
            collection = await clusters.features(
                box, clusters.zoom_for(box) if zoom is None else zoom,
                services.Filters(
                    category=category or None, status=status or None,
                    since=_day_start("since", since),
                    until=_day_start("until", until, shift=1)))
        except clusters.InvalidQuery as error:
            raise ApiError(400, f"invalid_{error.field}", str(error)) from None
        return collection

    @get("/reports/{report_id:int}", summary="One report, its photos and public history")
    async def read(self, report_id: FromPath[int]) -> dict[str, Any]:
        found = await report_json(report_id) if 0 < report_id <= MAX_ID else None
        if found is None:
            raise ApiError(404, "not_found", f"No report with id {report_id}.")
        return found

    @post("/reports", guards=[_resident], request_max_body_size=MAX_BODY,
          summary="Report a problem (multipart, up to 3 photos)",
          description="Needs 'Authorization: Bearer <token>' from /api/v1/auth/token. Fields: "
                      "category, description, lat and lon (or mahalla_id and location_text), "
                      "hide_name (true/false), photos (JPEG, PNG or WebP files).")
    async def create(
        self, request: Request[Any, Any, Any],
        data: Annotated[ReportForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Response[dict[str, Any]]:
        # The text is checked first: it is cheap, and the photos are not.
        draft = _draft(data)
        draft.photos = await _photos(data.photos)
        if draft.lat is None and draft.lon is None:
            # Without a point, a photo's own position (read before it was stripped) is used.
            taken_at = next((photo.gps for photo in draft.photos if photo.gps), None)
            if taken_at is not None:
                draft.lat, draft.lon = taken_at
        try:
            report_id = await services.create_report(request.state.resident["id"], draft)
        except services.ReportError as error:
            raise _refusal(error) from None
        created = await report_json(report_id)
        return Response(created, status_code=201,
                        headers={"Location": f"/api/v1/reports/{report_id}"})
