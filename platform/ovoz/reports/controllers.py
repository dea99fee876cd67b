"""Resident pages for problem reports: the map and list, reporting, the report's own page,
"me too", following, and confirming or disputing a fix."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath, QueryParameter, URLEncodedBody
from litestar.response import File, Redirect, Template

from ovoz.accounts import sessions
from ovoz.accounts.permissions import Action, allowed
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.moderation import services as moderation
from ovoz.notify import services as notify
from ovoz.reports import services, storage
from ovoz.reports.photos import PhotoError, process_photo
from ovoz.settings import get_settings
from ovoz.web.forms import Filter, FormErrors, chosen_id
from ovoz.web.templating import page

Form = URLEncodedBody[dict[str, str]]
MultipartForm = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
PageNumber = Annotated[int, QueryParameter(name="page", ge=1, le=100_000)]
PERIODS = {"week": 7, "month": 31, "quarter": 92, "year": 366}
AREA_SIZES = (1, 2, 5, 10)
# At zoom 6 a phone shows the whole country, so every pilot district is on the first view.
UZBEKISTAN_CENTRE = (41.0, 64.5)
YEAR = 365 * 24 * 3600


def error_message(error: services.ReportError) -> str:
    """The resident-facing words for each broken rule."""
    messages = {
        "unknown_category": locale.gettext("Choose what kind of problem it is."),
        "description_too_short": locale.gettext(
            "Describe the problem in a few words (at least %(count)s letters).",
            count=services.DESCRIPTION_MIN),
        "description_too_long": locale.gettext(
            "The description is too long: at most %(count)s letters.",
            count=services.DESCRIPTION_MAX),
        "no_location": locale.gettext(
            "Show the place on the map, or choose the mahalla and describe the spot."),
        "outside_pilot": locale.gettext(
            "Ovoz takes reports only from its pilot districts for now. This place is outside "
            "them, so please contact your district hokimiyat directly."),
        "unknown_mahalla": locale.gettext("Choose the mahalla from the list."),
        "too_many_photos": locale.gettext("You can add at most %(count)s photos.",
                                          count=services.MAX_PHOTOS),
        "too_many_reports": locale.gettext(
            "You have sent many reports today. Please try again tomorrow."),
        "not_open": locale.gettext("This report is closed, so it no longer takes “me too”."),
        "own_report": locale.gettext("This is your own report."),
        "not_fixed": locale.gettext("This report is not marked as fixed."),
        "not_involved": locale.gettext(
            "Only the person who reported it and its followers can answer this."),
        "already_answered": locale.gettext("You have already answered for this fix."),
        "note_too_long": locale.gettext("The comment is too long."),
    }
    return messages.get(error.code, locale.gettext("This could not be done."))


def photo_message(error: PhotoError) -> str:
    if error.code == "too_large":
        return locale.gettext("A photo is larger than %(size)s MB.",
                              size=get_settings().max_upload_mb)
    if error.code == "not_an_image":
        return locale.gettext("Only JPEG, PNG or WebP photos can be added.")
    if error.code == "too_many_pixels":
        return locale.gettext("A photo is too big in pixels. Please send a smaller one.")
    return locale.gettext("A photo is damaged or incomplete. Please choose it again.")


def _number(text: Any) -> float | None:
    try:
        value = float(str(text).strip().replace(",", "."))
    except ValueError:
        return None
    return value


def _integer(text: Any) -> int | None:
    try:
        return int(str(text).strip())
    except ValueError:
        return None


def _filters(district: int | None, category: str | None, status: str | None,
             period: str | None) -> services.Filters:
    since = None
    if period in PERIODS:
        since = services.now() - timedelta(days=PERIODS[period])
    return services.Filters(district_id=district, category=category or None,
                            status=status if services.status_group(status) else None,
                            since=since)


async def uploaded_photos(data: dict[str, Any], errors: FormErrors) -> list[storage.StoredPhoto]:
    """Photos kept from an earlier attempt plus new uploads, each checked and stored."""
    kept = data.get("kept_photo") or []
    kept = kept if isinstance(kept, list) else [kept]
    photos = [photo for name in kept if (photo := storage.stored(str(name))) is not None]
    uploads = data.get("photos") or []
    uploads = uploads if isinstance(uploads, list) else [uploads]
    limit = get_settings().max_upload_mb * 1024 * 1024
    for upload in uploads:
        if not isinstance(upload, UploadFile) or not upload.filename:
            continue
        content = await upload.read()
        if not content:
            continue
        try:
            photos.append(storage.save(process_photo(content, limit)))
        except PhotoError as error:
            errors.add("photos", photo_message(error))
    if len(photos) > services.MAX_PHOTOS:
        errors.add("photos", locale.gettext("You can add at most %(count)s photos.",
                                            count=services.MAX_PHOTOS))
        photos = photos[:services.MAX_PHOTOS]
    return photos


async def photo_position(photos: list[storage.StoredPhoto]) -> tuple[float, float] | None:
    """The first position a fresh photo carries, when it lies in a pilot district."""
    for photo in photos:
        if photo.gps is not None and await geo.pilot_district_at(*photo.gps) is not None:
            return photo.gps
    return None


def shown(row: dict[str, Any]) -> dict[str, Any]:
    """A report row with what every list and page shows: the category's name, overdue, and
    (where the row says) whether it was made with help at the mahalla office."""
    return {**row, "category_label": services.category_label(row),
            "overdue": services.is_overdue(row), "assisted": services.is_assisted(row)}


def _map_centre(district_ids: list[int]) -> tuple[float, float]:
    for district_id in district_ids:
        bounds = geo.district_bounds().get(district_id)
        if bounds is not None:
            return bounds.centre
    return UZBEKISTAN_CENTRE


class ReportsController(Controller):
    path = "/reports"
    include_in_schema = False

    @get("/", name="reports:map")
    async def index(
        self, request: Request, page_number: PageNumber = 1,
        district: Filter = None,
        category: Annotated[str | None, QueryParameter(name="category", max_length=40)] = None,
        status: Annotated[str | None, QueryParameter(name="status", max_length=20)] = None,
        period: Annotated[str | None, QueryParameter(name="period", max_length=10)] = None,
    ) -> Template:
        district_id = chosen_id(district)
        filters = _filters(district_id, category, status, period)
        reports = await services.search(filters, page_number, get_settings().page_size)
        reports = replace(reports, items=[shown(row) for row in reports.items])
        pilots = await geo.pilot_districts()
        template = "reports/index.html"
        if request.headers.get("hx-request") and request.headers.get("hx-target") == "reports":
            template = "reports/_list.html"
        if district_id or len(pilots) == 1:
            centre, zoom = _map_centre([district_id or pilots[0]["id"]]), 11
        else:
            centre, zoom = UZBEKISTAN_CENTRE, 6
        resident = sessions.identity_of(request).resident
        follows = []
        if resident is not None:
            home = await geo.mahalla(resident["mahalla"]) if resident["mahalla"] else None
            follows = await services.area_follows(resident["id"], home)
        query = "&".join(f"{key}={value}" for key, value in (
            ("category", filters.category), ("status", filters.status),
            ("since", filters.since.date().isoformat() if filters.since else None),
        ) if value)
        response = await page(
            request, template, reports=reports, filters=filters, period=period or "",
            categories=await services.categories(), pilots=pilots,
            statuses=services.STATUSES, labels=services.STATUS_LABELS,
            centre=centre, zoom=zoom, map_query=query,
            area_follows=follows, area_sizes=AREA_SIZES,
            csv_query=urlencode({key: value for key, value in (
                ("district", district_id), ("category", filters.category),
                ("status", filters.status),
                ("from", filters.since.astimezone(locale.TASHKENT).date().isoformat()
                 if filters.since else None)) if value}),
        )
        response.headers["Vary"] = "HX-Request, HX-Target"
        return response

    @post("/follow-area", name="reports:follow_area")
    async def follow_area(self, request: Request, data: Form) -> Response[Any]:
        """New reports in the resident's mahalla, or within some km of its centre or of a
        report's place (`near`: the report's number)."""
        resident = sessions.identity_of(request).resident
        near = _integer(data.get("near", ""))
        back = f"/reports/{near}" if near is not None else "/reports"
        if resident is None:
            return Redirect(f"/signin?next={back}")
        stop = data.get("stop", "")
        if stop.startswith(("mahalla:", "area:")):
            await notify.unfollow(resident["id"], stop)
            return Redirect("/reports")
        km = _integer(data.get("km", ""))
        if near is not None:
            report = await services.report(near)
            if report is None:
                raise NotFoundException()
            # The choices come from a list; a size outside it is simply not followed.
            if km is not None:
                with contextlib.suppress(services.ReportError):
                    await services.follow_area(resident["id"], report["lat"], report["lon"],
                                               km)
            return Redirect(f"{back}?following_area=1")
        mahalla = await geo.mahalla(resident["mahalla"]) if resident["mahalla"] else None
        if mahalla is None:
            return Redirect("/profile")
        if km is None:
            await notify.follow(resident["id"], f"mahalla:{mahalla['id']}")
        elif mahalla["centre_lat"] is not None:
            with contextlib.suppress(services.ReportError):
                await services.follow_area(resident["id"], mahalla["centre_lat"],
                                           mahalla["centre_lon"], km)
        return Redirect("/reports")

    @get("/new", name="reports:new")
    async def new(
        self, request: Request,
        lat: Annotated[str | None, QueryParameter(name="lat", max_length=20)] = None,
        lon: Annotated[str | None, QueryParameter(name="lon", max_length=20)] = None,
    ) -> Response[Any]:
        resident = sessions.identity_of(request).resident
        if resident is None:
            return Redirect("/signin?next=/reports/new")
        values = {"lat": lat or "", "lon": lon or "", "mahalla_id": resident["mahalla"]}
        return await self._form(request, FormErrors(), values, [], [])

    async def _form(self, request: Request, errors: FormErrors, values: dict[str, Any],
                    photos: list[storage.StoredPhoto], nearby: list[dict[str, Any]],
                    status_code: int = 200, from_photo: bool = False) -> Template:
        pilots = await geo.pilot_districts()
        district_ids = [p["id"] for p in pilots]
        centre = (values.get("lat"), values.get("lon"))
        if _number(centre[0]) is None or _number(centre[1]) is None:
            centre = _map_centre(district_ids)
        return await page(
            request, "reports/new.html", status_code=status_code, errors=errors, values=values,
            photos=photos, nearby=nearby, categories=await services.categories(),
            pilots=pilots, mahallas=await services.mahalla_choices(district_ids),
            centre=centre, max_photos=services.MAX_PHOTOS, from_photo=from_photo,
            max_upload_mb=get_settings().max_upload_mb,
        )

    @post("/new", name="reports:create")
    async def create(self, request: Request, data: MultipartForm) -> Response[Any]:
        resident = sessions.identity_of(request).resident
        if resident is None:
            return Redirect("/signin?next=/reports/new")
        errors = FormErrors()
        values = {key: str(data.get(key) or "").strip() for key in (
            "category", "description", "lat", "lon", "mahalla_id", "location_text")}
        values["hide_name"] = bool(data.get("hide_name"))
        photos = await uploaded_photos(data, errors)
        lat, lon = _number(values["lat"]), _number(values["lon"])
        if (values["lat"] or values["lon"]) and (lat is None or lon is None):
            errors.add("location", locale.gettext(
                "The map position is not right. Place the pin again, or leave it empty and "
                "choose the mahalla."))
        taken_at = await photo_position(photos) if not (values["lat"] or values["lon"]) else None
        if taken_at is not None:
            # The photo knows where it was taken: offer that as the place, to be checked.
            values["lat"], values["lon"] = (f"{taken_at[0]:.6f}", f"{taken_at[1]:.6f}")
            for problem in await services.draft_problems(services.Draft(
                    category=values["category"], description=values["description"])):
                errors.add(problem.field, error_message(problem))
            return await self._form(request, errors, values, photos, [],
                                    400 if errors else 200, from_photo=True)
        draft = services.Draft(
            category=values["category"], description=values["description"],
            lat=lat, lon=lon, mahalla_id=_integer(values["mahalla_id"]),
            location_text=values["location_text"], hide_name=values["hide_name"],
            photos=photos)
        for problem in await services.draft_problems(draft):
            errors.add(problem.field, error_message(problem))
        nearby: list[dict[str, Any]] = []
        if not errors and lat is not None and lon is not None and not data.get("send_anyway"):
            nearby = await services.nearby_open(values["category"], lat, lon)
            if nearby:
                # Shown before sending: a "me too" on one of them may be all that is needed.
                return await self._form(request, errors, values, photos, nearby)
        if not errors:
            try:
                report_id = await services.create_report(resident["id"], draft)
            except services.ReportError as error:
                field = error.field or "category"
                errors.add(field, error_message(error))
                headers = ({"Retry-After": str(error.retry_after)} if error.retry_after
                           else None)
                response = await self._form(request, errors, values, photos, [],
                                            429 if error.retry_after else 400)
                if headers:
                    response.headers.update(headers)
                return response
            return Redirect(f"/reports/{report_id}?sent=1")
        return await self._form(request, errors, values, photos, [], 400)

    @get("/nearby", name="reports:nearby")
    async def nearby(
        self, request: Request,
        category: Annotated[str, QueryParameter(name="category", max_length=40)] = "",
        lat: Annotated[float | None, QueryParameter(name="lat", ge=-90, le=90)] = None,
        lon: Annotated[float | None, QueryParameter(name="lon", ge=-180, le=180)] = None,
    ) -> Template:
        found = []
        if category and lat is not None and lon is not None:
            found = await services.nearby_open(category, lat, lon)
        return await page(request, "reports/_nearby.html", nearby=found)

    @get("/{report_id:int}", name="reports:detail")
    async def detail(self, request: Request, report_id: FromPath[int]) -> Template:
        return await self._detail(request, report_id, FormErrors())

    async def _detail(self, request: Request, report_id: int, errors: FormErrors,
                      status_code: int = 200) -> Template:
        report = await services.report(report_id)
        if report is None:
            raise NotFoundException()
        report = shown(report)
        identity = sessions.identity_of(request)
        resident = identity.resident
        following = supported = False
        if resident is not None:
            subject = services.report_subject(report_id)
            following = resident["id"] in await notify.followers(subject)
            supported = await services.supports(report_id, resident["id"])
        place = await geo.district(report["district"])
        mahalla = await geo.mahalla(report["mahalla"]) if report["mahalla"] else None
        department = (await services.department(report["department"])
                      if report["department"] else None)
        original = None
        if report["duplicate_of"]:
            original = await services.report(report["duplicate_of"])
        can_answer = identity.staff_signed_in and allowed(
            identity, Action.ANSWER, await services.place_of(report))
        return await page(
            request, "reports/detail.html", status_code=status_code, report=report,
            history=await services.history(report_id), district=place, mahalla=mahalla,
            department=department, original=original, errors=errors,
            reporter=services.public_name(report), following=following, supported=supported,
            is_author=resident is not None and resident["id"] == report["author"],
            feedback=await services.fix_feedback_counts(report_id),
            overdue=services.is_overdue(report), labels=services.STATUS_LABELS,
            can_answer=can_answer, sent=request.query_params.get("sent") == "1",
            area_sizes=AREA_SIZES,
            following_area=request.query_params.get("following_area") == "1",
            **await moderation.page_context("report", report_id),
        )

    async def _resident_action(self, request: Request, report_id: int, work: Any
                               ) -> Response[Any]:
        resident = sessions.identity_of(request).resident
        if resident is None:
            return Redirect(f"/signin?next=/reports/{report_id}")
        try:
            await work(resident["id"])
        except services.ReportError as error:
            if error.code == "not_found":
                raise NotFoundException() from None
            errors = FormErrors()
            errors.add("actions", error_message(error))
            return await self._detail(request, report_id, errors, 400)
        return Redirect(f"/reports/{report_id}")

    @post("/{report_id:int}/support", name="reports:support")
    async def support(self, request: Request, report_id: FromPath[int]) -> Response[Any]:
        async def work(resident_id: int) -> None:
            await services.add_support(report_id, resident_id)
        return await self._resident_action(request, report_id, work)

    @post("/{report_id:int}/follow", name="reports:follow")
    async def follow(self, request: Request, report_id: FromPath[int], data: Form
                     ) -> Response[Any]:
        async def work(resident_id: int) -> None:
            if await services.report(report_id) is None:
                raise services.ReportError("not_found")
            subject = services.report_subject(report_id)
            if data.get("follow") == "no":
                await notify.unfollow(resident_id, subject)
            else:
                await notify.follow(resident_id, subject)
        return await self._resident_action(request, report_id, work)

    @post("/{report_id:int}/fix-feedback", name="reports:fix_feedback")
    async def fix_feedback(self, request: Request, report_id: FromPath[int], data: Form
                           ) -> Response[Any]:
        async def work(resident_id: int) -> None:
            await services.record_fix_feedback(report_id, resident_id,
                                               data.get("fixed") == "yes",
                                               data.get("note", ""))
        return await self._resident_action(request, report_id, work)

    @get("/photos/{file_name:str}", name="reports:photo")
    async def photo(self, file_name: FromPath[str]) -> File:
        name, _, size = file_name.removesuffix(".jpg").partition(".")
        try:
            path = storage.path_of(name, size or "full")
        except ValueError:
            raise NotFoundException() from None
        if not path.is_file():
            raise NotFoundException()
        # The name is the content's digest: it never changes, so caches may keep it.
        return File(path=path, media_type="image/jpeg", content_disposition_type="inline",
                    headers={"Cache-Control": f"public, max-age={YEAR}, immutable"})
