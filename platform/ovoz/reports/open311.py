"""Open311 GeoReport v2 at /open311/v2: Ovoz's problem reports for other applications.

Services are the report categories; service requests are reports, read by anyone and posted by
registered client applications with their API key (see clients.py). Every resource comes as JSON
or XML, chosen by the suffix of its path. Errors follow the specification: a list of
{code, description}, or <errors><error>...</error></errors>.

Nothing personal leaves here: no reporter's name, phone number or resident id.
"""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar

from litestar import Controller, HttpMethod, MediaType, Request, Response, get, post, route
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.types import ExceptionHandlersMap

from ovoz.accounts.phones import InvalidPhone, parse_phone
from ovoz.accounts.services import DISPLAY_NAME_LENGTH
from ovoz.accounts.tables import Resident
from ovoz.db import transaction
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.reports import clients, services
from ovoz.reports.tables import Photo, Report, ReportUpdate
from ovoz.settings import get_settings

PATH = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this endpoint's behaviour last changed, for clients that cache the discovery file.
CHANGESET = datetime(2026, 11, 22, tzinfo=UTC)
FORMATS = {"json": "application/json", "xml": "text/xml"}
MAX_PAGE_SIZE = 1000
# The specification's default and largest span of a search by date.
WINDOW = timedelta(days=90)
OPEN, CLOSED = "open", "closed"
# Lists inside an XML document: each item is an element named for one of the list.
_XML_ITEMS = {"endpoints": "endpoint", "formats": "format", "attributes": "attribute"}
_NAME_COLUMNS = tuple(locale.NAME_COLUMNS.values())


class Open311Error(HTTPException):
    """An error the client can act on; each description becomes one error of the response."""

    def __init__(self, status_code: int, *descriptions: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status_code, detail="; ".join(descriptions),
                         headers=headers)
        self.descriptions = list(descriptions)


# -- reading --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RequestQuery:
    """A search for service requests. `ids`, when given, overrides everything else."""

    ids: tuple[int, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] = ()
    page: int = 1
    page_size: int = MAX_PAGE_SIZE


def _words(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def parse_date(name: str, text: str | None) -> datetime | None:
    """A W3C date or date-time; without a time zone it is taken as Tashkent time."""
    if not text or not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Open311Error(400, f"{name} must be an ISO 8601 date-time, e.g. "
                                "2026-11-05T08:15:30+05:00") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=locale.TASHKENT)
    return value.astimezone(UTC)


def parse_query(service_request_id: str | None = None, service_code: str | None = None,
                start_date: str | None = None, end_date: str | None = None,
                status: str | None = None, page: int = 1,
                page_size: int = MAX_PAGE_SIZE) -> RequestQuery:
    """The query parameters of GET requests, checked; every mistake is a 400."""
    ids: list[int] = []
    for word in _words(service_request_id):
        if not word.isdigit() or len(word) > 18:
            raise Open311Error(400, f"service_request_id {word!r} is not a request id")
        ids.append(int(word))
    if len(ids) > MAX_PAGE_SIZE:
        raise Open311Error(400, f"at most {MAX_PAGE_SIZE} service_request_id values at once")
    statuses = _words(status)
    unknown = [word for word in statuses if word not in (OPEN, CLOSED)]
    if unknown:
        raise Open311Error(400, f"status {unknown[0]!r} is not open or closed")
    start, end = parse_date("start_date", start_date), parse_date("end_date", end_date)
    if start is not None and end is not None:
        if end < start:
            raise Open311Error(400, "end_date is before start_date")
        if end - start > WINDOW:
            raise Open311Error(400, "start_date and end_date may not span more than 90 days")
    return RequestQuery(ids=tuple(dict.fromkeys(ids)),
                        service_codes=tuple(_words(service_code)), start=start, end=end,
                        statuses=tuple(statuses), page=page, page_size=page_size)


def window(query: RequestQuery, at: datetime) -> tuple[datetime, datetime]:
    """The span searched: the dates given, completed to 90 days, or the last 90 days."""
    if query.start is not None and query.end is not None:
        return query.start, query.end
    if query.start is not None:
        return query.start, query.start + WINDOW
    if query.end is not None:
        return query.end - WINDOW, query.end
    return at - WINDOW, at


def _name_aliases(owner: Any, prefix: str) -> list[Any]:
    return [getattr(owner, column).as_alias(f"{prefix}_{column}") for column in _NAME_COLUMNS]


_COLUMNS = (
    Report.id, Report.status, Report.description, Report.lat, Report.lon,
    Report.location_text, Report.registered_at, Report.updated_at, Report.due_at,
    Report.category.code.as_alias("category_code"),
    *_name_aliases(Report.category, "category"),
    *_name_aliases(Report.department, "department"),
    *_name_aliases(Report.mahalla, "mahalla"),
    *_name_aliases(Report.district, "district"),
)


async def _with_notes_and_photos(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Adds each report's latest official note, unless a change of status without one came
    after it (a disputed fix reopens a report), and its first photo's name."""
    ids = [row["id"] for row in rows]
    if not ids:
        return rows
    updates = await ReportUpdate.select(
        ReportUpdate.report, ReportUpdate.note, ReportUpdate.staff
    ).where(
        ReportUpdate.report.is_in(ids)
        & ((ReportUpdate.staff.is_not_null() & (ReportUpdate.note != ""))
           | (ReportUpdate.status_to != ""))
    ).order_by(ReportUpdate.at).order_by(ReportUpdate.id)
    latest = {update["report"]: update["note"] if update["staff"] is not None else None
              for update in updates}
    photos = await Photo.select(Photo.report, Photo.name).where(
        Photo.report.is_in(ids) & Photo.update.is_null()
    ).order_by(Photo.position).order_by(Photo.id)
    first: dict[int, str] = {}
    for photo in photos:
        first.setdefault(photo["report"], photo["name"])
    for row in rows:
        row["official_note"] = latest.get(row["id"])
        row["photo"] = first.get(row["id"])
    return rows


async def find_requests(query: RequestQuery, at: datetime | None = None
                        ) -> list[dict[str, Any]]:
    """Reports matching the query, newest first, one page of them."""
    if query.ids:
        condition: Any = Report.id.is_in(list(query.ids))
        limit, offset = len(query.ids), 0
    else:
        start, end = window(query, at or services.now())
        condition = (Report.registered_at >= start) & (Report.registered_at <= end)
        if query.service_codes:
            condition &= Report.category.code.is_in(list(query.service_codes))
        statuses: list[str] = []
        if OPEN in query.statuses:
            statuses += services.OPEN_STATUSES
        if CLOSED in query.statuses:
            statuses += services.CLOSED_STATUSES
        if statuses:
            condition &= Report.status.is_in(statuses)
        limit, offset = query.page_size, (query.page - 1) * query.page_size
    rows = await Report.select(*_COLUMNS).where(condition).order_by(
        Report.registered_at, ascending=False).order_by(Report.id, ascending=False
                                                        ).limit(limit).offset(offset)
    return await _with_notes_and_photos(rows)


async def find_request(report_id: int) -> dict[str, Any] | None:
    rows = await Report.select(*_COLUMNS).where(Report.id == report_id)
    return (await _with_notes_and_photos(rows))[0] if rows else None


def _names(row: Mapping[str, Any], prefix: str) -> dict[str, Any] | None:
    names = {column: row.get(f"{prefix}_{column}") for column in _NAME_COLUMNS}
    return names if names["name_uz"] else None


def w3c(value: datetime | None) -> str | None:
    """A date-time with its offset, in Tashkent time, as the specification asks."""
    return value.astimezone(locale.TASHKENT).isoformat(timespec="seconds") if value else None


def service_notice(due_at: datetime) -> str:
    return locale.gettext("An answer is due by %(date)s", date=locale.format_date(due_at))


def request_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """One report as an Open311 service request, in the current language."""
    status = row["status"]
    is_open = status in services.OPEN_STATUSES
    category = _names(row, "category")
    department = _names(row, "department")
    district = _names(row, "district")
    mahalla = _names(row, "mahalla")
    if department is not None:
        agency: str | None = locale.localised_name(department)
    elif district is not None:
        agency = locale.gettext("%(district)s hokimiyat",
                                district=locale.localised_name(district))
    else:
        agency = None
    address = row["location_text"] or (locale.localised_name(mahalla) if mahalla else None)
    photo = row.get("photo")
    return {
        "service_request_id": str(row["id"]),
        "status": OPEN if is_open else CLOSED,
        "status_notes": row.get("official_note")
        or locale.gettext(services.STATUS_LABELS[status]),
        "service_name": locale.localised_name(category) if category else None,
        "service_code": row["category_code"],
        "description": row["description"],
        "agency_responsible": agency,
        "service_notice": service_notice(row["due_at"]) if is_open else None,
        "requested_datetime": w3c(row["registered_at"]),
        "updated_datetime": w3c(row["updated_at"]),
        "expected_datetime": w3c(row["due_at"]),
        "address": address,
        "lat": row["lat"],
        "long": row["lon"],
        "media_url": (f"{get_settings().base_url}/reports/photos/{photo}.jpg"
                      if photo else None),
    }


def service_record(category: Mapping[str, Any]) -> dict[str, Any]:
    """A report category as an Open311 service, in the current language."""
    days = category["response_days"]
    names = dict.fromkeys(category[column] for column in _NAME_COLUMNS if category[column])
    return {
        "service_code": category["code"],
        "service_name": locale.localised_name(category),
        "description": locale.ngettext("Answered within %(num)d day.",
                                       "Answered within %(num)d days.", days),
        "metadata": False,
        "type": "realtime",
        "keywords": ", ".join(names),
        "group": category["group"],
    }


def discovery_record() -> dict[str, Any]:
    settings = get_settings()
    changeset = w3c(CHANGESET)
    return {
        "changeset": changeset,
        "contact": f"{settings.site_name}, {settings.base_url}",
        "key_service": "API keys for posting requests are issued by the site's administrators "
                       "on request.",
        "endpoints": [{
            "specification": SPECIFICATION,
            "url": settings.base_url + PATH,
            "changeset": changeset,
            "type": "production",
            "formats": list(FORMATS.values()),
        }],
    }


# -- posting --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Submission:
    service_code: str
    lat: float
    lon: float
    description: str
    phone: str
    display_name: str
    address: str


def form_value(form: Mapping[str, Any], name: str) -> str:
    """One text field of the form; a field given twice counts by its first value."""
    value = form.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return "" if value is None else str(value).strip()


def parse_submission(form: Mapping[str, Any]) -> Submission:
    """The fields of a POST request, checked; all that is wrong is said at once (400)."""
    values = {name: form_value(form, name)
              for name in ("service_code", "lat", "long", "description", "phone")}
    missing = [name for name, value in values.items() if not value]
    problems = [f"{name} is required" for name in missing]
    if "lat" in missing or "long" in missing:
        problems.append("Ovoz needs the point of the problem: give lat and long (WGS84); "
                        "address_string alone is not enough")
    if "phone" in missing:
        problems.append("a phone number is required: the law does not consider anonymous "
                        "appeals")
    point: list[float] = []
    if not ("lat" in missing or "long" in missing):
        try:
            point = [float(values["lat"]), float(values["long"])]
        except ValueError:
            problems.append("lat and long must be decimal degrees, e.g. 41.69 and 60.752")
    phone = ""
    if values["phone"]:
        try:
            phone = parse_phone(values["phone"])
        except InvalidPhone:
            problems.append("phone must be an Uzbek mobile number, e.g. +998901234567")
    if problems:
        raise Open311Error(400, *problems)
    name = " ".join(" ".join((form_value(form, "first_name"),
                              form_value(form, "last_name"))).split())
    return Submission(service_code=values["service_code"], lat=point[0], lon=point[1],
                      description=values["description"], phone=phone, display_name=name,
                      address=form_value(form, "address_string"))


async def resident_for_phone(phone: str, display_name: str) -> int:
    """The resident with this number; a new one when there is none (named only then)."""
    existing = await Resident.select(Resident.id).where(Resident.phone == phone).first()
    if existing is not None:
        return existing["id"]
    await Resident.insert(Resident(
        phone=phone, display_name=display_name[:DISPLAY_NAME_LENGTH], created_at=services.now(),
        language=get_settings().default_language,
    )).on_conflict(action="DO NOTHING")
    created = await Resident.select(Resident.id).where(Resident.phone == phone).first()
    assert created is not None
    return created["id"]


async def _report_refusal(error: services.ReportError, service_code: str) -> Open311Error:
    if error.code == "outside_pilot":
        names = ", ".join(locale.localised_name(d, "en") for d in await geo.pilot_districts())
        return Open311Error(400, "Ovoz takes reports only in its pilot districts "
                                 f"({names}); this point is outside them")
    if error.code == "too_many_reports":
        return Open311Error(429, "this resident has sent too many reports today; try later",
                            headers={"Retry-After": str(error.retry_after)})
    descriptions = {
        "unknown_category": f"service_code {service_code!r} is not a service here; "
                            "see services.json",
        "description_too_short": f"description must have at least "
                                 f"{services.DESCRIPTION_MIN} characters",
        "description_too_long": f"description must have at most "
                                f"{services.DESCRIPTION_MAX} characters",
        "no_location": "lat and long must be a point on Earth (WGS84 decimal degrees)",
    }
    return Open311Error(400, descriptions.get(error.code, f"the report was refused: {error.code}"))


async def submit(client_id: int, submission: Submission) -> dict[str, Any]:
    """Register the report for the resident with the phone number; returns the report row.
    A refused report creates no resident either."""
    draft = services.Draft(
        category=submission.service_code, description=submission.description,
        lat=submission.lat, lon=submission.lon, location_text=submission.address,
        # The person chose nothing about showing their name on Ovoz's pages: it stays hidden.
        hide_name=True, source=f"open311:{client_id}",
    )
    try:
        async with transaction():
            resident_id = await resident_for_phone(submission.phone, submission.display_name)
            report_id = await services.create_report(resident_id, draft)
    except services.ReportError as error:
        raise await _report_refusal(error, submission.service_code) from None
    row = await services.report(report_id)
    assert row is not None
    return row


# -- rendering ------------------------------------------------------------------------------

def _xml_value(parent: ET.Element, tag: str, value: Any) -> None:
    element = ET.SubElement(parent, tag)
    if isinstance(value, list):
        for item in value:
            _xml_value(element, _XML_ITEMS[tag], item)
    elif isinstance(value, dict):
        for key, inner in value.items():
            _xml_value(element, key, inner)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)


def to_xml(root: str, item: str | None, payload: Any) -> bytes:
    """`payload` is a list (each item an <item> under <root>) or one object (<root> itself)."""
    element = ET.Element(root)
    if isinstance(payload, list):
        assert item is not None
        for entry in payload:
            _xml_value(element, item, entry)
    else:
        for key, value in payload.items():
            _xml_value(element, key, value)
    return ET.tostring(element, encoding="UTF-8", xml_declaration=True)


def render(response_format: str, payload: Any, root: str, item: str | None = None,
           status_code: int = 200, headers: dict[str, str] | None = None) -> Response[Any]:
    if response_format == "xml":
        return Response(to_xml(root, item, payload), media_type=FORMATS["xml"],
                        status_code=status_code, headers=headers)
    return Response(payload, media_type=MediaType.JSON, status_code=status_code,
                    headers=headers)


def format_of(request: Request[Any, Any, Any]) -> str:
    """json or xml, from the path's suffix (errors of unknown formats are given in JSON)."""
    suffix = request.url.path.rpartition(".")[2]
    return suffix if suffix in FORMATS and "/" not in suffix else "json"


def split_format(name: str) -> tuple[str, str]:
    """'roads.pothole.xml' -> ('roads.pothole', 'xml'); no known format is a 404."""
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem or suffix not in FORMATS:
        raise Open311Error(404, "add the response format to the path: .json or .xml")
    return stem, suffix


def open311_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Errors of this controller as the specification has them, in the request's format."""
    if isinstance(exc, Open311Error):
        descriptions = exc.descriptions
    elif isinstance(exc, ValidationException):
        descriptions = [
            f"{item.get('key') or 'parameter'}: {item.get('message')}"
            for item in (exc.extra if isinstance(exc.extra, list) else [])
            if isinstance(item, dict)
        ] or [str(exc.detail)]
    else:
        descriptions = [str(exc.detail)]
    errors = [{"code": exc.status_code, "description": text} for text in descriptions]
    return render(format_of(request), errors, "errors", "error", status_code=exc.status_code,
                  headers=dict(exc.headers or {}))


@contextlib.contextmanager
def speaking(value: str | None) -> Iterator[str]:
    """The language of names and notes for this response: `locale`, or the site's default."""
    language = get_settings().default_language if value is None else locale.parse_language(
        value)
    if language is None:
        raise Open311Error(400, "locale must be one of uz, uz-Cyrl, ru, en")
    token = locale.current_language.set(language)
    try:
        yield language
    finally:
        locale.current_language.reset(token)


Locale = Annotated[str | None, QueryParameter(name="locale", max_length=20)]
_JSON_AND_XML = ("json", "xml")


def _paths(stem: str) -> list[str]:
    return [f"{stem}.{suffix}" for suffix in _JSON_AND_XML]


class Open311Controller(Controller):
    path = PATH
    include_in_schema = False
    exception_handlers: ClassVar[ExceptionHandlersMap] = {HTTPException: open311_error}

    @get(_paths("/discovery"), cache=False)
    async def discovery(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return render(format_of(request), discovery_record(), "discovery")

    @get(_paths("/services"))
    async def services_list(self, request: Request[Any, Any, Any],
                            language: Locale = None) -> Response[Any]:
        with speaking(language):
            items = [service_record(row) for row in await services.categories()]
        return render(format_of(request), items, "services", "service")

    @get("/services/{name:str}")
    async def service_definition(self, name: FromPath[str]) -> Response[Any]:
        code, response_format = split_format(name)
        if await services.category_by_code(code) is None:
            raise Open311Error(404, f"no service with service_code {code!r}")
        return render(response_format, {"service_code": code, "attributes": []},
                      "service_definition")

    @get(_paths("/requests"), cache=False)
    async def requests_list(
        self,
        request: Request[Any, Any, Any],
        service_request_id: Annotated[str | None, QueryParameter(max_length=20_000)] = None,
        service_code: Annotated[str | None, QueryParameter(max_length=2000)] = None,
        start_date: Annotated[str | None, QueryParameter(max_length=40)] = None,
        end_date: Annotated[str | None, QueryParameter(max_length=40)] = None,
        status: Annotated[str | None, QueryParameter(max_length=40)] = None,
        page: Annotated[int, QueryParameter(ge=1, le=1_000_000)] = 1,
        page_size: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
        language: Locale = None,
    ) -> Response[Any]:
        query = parse_query(service_request_id, service_code, start_date, end_date, status,
                            page, page_size)
        with speaking(language):
            items = [request_record(row) for row in await find_requests(query)]
        return render(format_of(request), items, "service_requests", "request")

    @post(_paths("/requests"), status_code=200)
    async def create_request(self, request: Request[Any, Any, Any],
                             data: URLEncodedBody[dict[str, Any]],
                             language: Locale = None) -> Response[Any]:
        key = form_value(data, "api_key") or request.query_params.get("api_key", "")
        client = await clients.client_for_key(key)
        if client is None:
            raise Open311Error(403, "a valid api_key is required to post a request; "
                                    "ask the site's administrators for one")
        with speaking(language):
            row = await submit(client["id"], parse_submission(data))
            created = {"service_request_id": str(row["id"]), "token": row["token"],
                       "service_notice": service_notice(row["due_at"])}
        return render(format_of(request), [created], "service_requests", "request")

    @get("/requests/{name:str}", cache=False)
    async def request_detail(self, name: FromPath[str], language: Locale = None) -> Response[Any]:
        stem, response_format = split_format(name)
        row = await find_request(int(stem)) if stem.isdigit() and len(stem) < 19 else None
        if row is None:
            raise Open311Error(404, f"no service request with id {stem!r}")
        with speaking(language):
            item = request_record(row)
        return render(response_format, [item], "service_requests", "request")

    @get("/tokens/{name:str}", cache=False)
    async def token(self, name: FromPath[str]) -> Response[Any]:
        token, response_format = split_format(name)
        row = await services.report_by_token(token)
        if row is None:
            raise Open311Error(404, "no service request has this token")
        return render(response_format, [{"service_request_id": str(row["id"]),
                                         "token": token}], "service_requests", "request")

    # Paths without a known format (and the bare folders, which the router would otherwise
    # answer with the site's own error) get the specification's 404.
    @route(["/", "/services", "/requests", "/tokens", "/{rest:path}"],
           http_method=[HttpMethod.GET, HttpMethod.POST])
    async def unknown(self, request: Request[Any, Any, Any]) -> None:
        raise NotFoundException(
            f"nothing at {request.url.path}: Open311 resources end in .json or .xml")
