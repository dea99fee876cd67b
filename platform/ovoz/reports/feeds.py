"""Open data on problem reports: an Atom feed per district and a CSV export of the public list.

Neither carries personal data: no reporter names (hidden or not), phones or resident ids.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from litestar import Controller, MediaType, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Stream

from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.reports import services
from ovoz.reports.tables import Report
from ovoz.settings import get_settings
from ovoz.web.opendata import BOM, MAX_ID, cell, csv_bytes, utc_text

ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FEED_SIZE = 50
# Rows fetched and written per round trip: a large export never sits in memory at once.
BATCH_SIZE = 1000
CSV_COLUMNS = (
    "id", "category_code", "category_name", "status", "district_id", "district_name",
    "mahalla_id", "mahalla_name", "department_name", "lat", "lon", "point_exact",
    "registered_at", "due_at", "first_response_at", "resolved_at", "overdue", "supporters",
    "assisted", "url", "description",
)
# Characters XML 1.0 cannot carry, even escaped; an API client could have sent them.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Atom as the default namespace (<feed xmlns="...">) rather than an "ns0:" prefix, which some
# feed readers mishandle. (tostring's default_namespace refuses the plain attribute names.)
ET.register_namespace("", ATOM)

_CATEGORY_NAMES = tuple(
    getattr(Report.category, column).as_alias(f"category_{column}")
    for column in locale.NAME_COLUMNS.values()
)



# -- the Atom feed ----------------------------------------------------------------------------

def feed_url(district_id: int) -> str:
    return f"{get_settings().base_url}/reports/districts/{district_id}/feed.atom"


async def feed_reports(district_id: int) -> list[dict[str, Any]]:
    """The district's reports most recently changed, newest first."""
    return await Report.select(
        Report.id, Report.status, Report.description, Report.registered_at, Report.updated_at,
        Report.category.code.as_alias("category_code"), *_CATEGORY_NAMES,
    ).where(Report.district == district_id).order_by(
        Report.updated_at, ascending=False).order_by(Report.id, ascending=False).limit(FEED_SIZE)


def _text(parent: ET.Element, tag: str, text: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    element.text = _NOT_XML.sub("", text)
    return element


def _link(parent: ET.Element, rel: str, href: str, media_type: str) -> None:
    ET.SubElement(parent, f"{{{ATOM}}}link", {"rel": rel, "href": href, "type": media_type})


def atom_feed(district: dict[str, Any], reports: Sequence[dict[str, Any]], language: str,
              at: datetime) -> bytes:
    """The feed document in the reader's language; `at` is its date when it has no entries."""
    base_url = get_settings().base_url
    self_url = f"{feed_url(district['id'])}?lang={language}"
    feed = ET.Element(f"{{{ATOM}}}feed", {XML_LANG: locale.html_lang(language)})
    _text(feed, "id", self_url)
    _text(feed, "title", locale.gettext(
        "%(district)s: problem reports",
        district=locale.localised_name(district, language)))
    _text(feed, "updated", utc_text(max((r["updated_at"] for r in reports), default=at)))
    _link(feed, "self", self_url, "application/atom+xml")
    _link(feed, "alternate", f"{base_url}/reports?district={district['id']}", "text/html")
    # Atom wants an author; the site speaks for the feed, never a reporter.
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "Ovoz")
    for row in reports:
        category = services.category_label(row, language)
        status = locale.gettext(services.STATUS_LABELS[row["status"]])
        link = services.report_link(row["id"])
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "id", link)
        _text(entry, "title", f"{category} — {status}")
        _text(entry, "updated", utc_text(row["updated_at"]))
        _text(entry, "published", utc_text(row["registered_at"]))
        _link(entry, "alternate", link, "text/html")
        _text(entry, "summary", row["description"], type="text")
        ET.SubElement(entry, f"{{{ATOM}}}category",
                      {"term": row["category_code"], "label": category})
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


# -- the CSV export ---------------------------------------------------------------------------

class BadFilter(ValueError):
    """A query parameter the export cannot use; the message is shown as it is."""


@dataclass(frozen=True, slots=True)
class RawFilters:
    """The query parameters as they came, blank ones meaning "any"."""

    district: str | None = None
    category: str | None = None
    status: str | None = None
    since: str | None = None
    until: str | None = None
    mahalla: str | None = None


def _present(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _id(name: str, value: str | None) -> int | None:
    value = _present(value)
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or not 0 < int(value) <= MAX_ID:
        raise BadFilter(locale.gettext("%(name)s: give a whole number.", name=name))
    return int(value)


def _day_start(name: str, value: str | None, days_after: int = 0) -> datetime | None:
    """The UTC moment a Tashkent day begins (`days_after` the date given)."""
    value = _present(value)
    if value is None:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        day = date.fromisoformat(value) + timedelta(days=days_after)
        return datetime.combine(day, time(), tzinfo=locale.TASHKENT).astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadFilter(locale.gettext("%(name)s: give a date as YYYY-MM-DD.",
                                       name=name)) from None


async def parse_filters(raw: RawFilters) -> services.Filters:
    """The public list's filters; `until` is the last day included."""
    category = _present(raw.category)
    if category is not None:
        known = {value for row in await services.categories()
                 for value in (row["code"], row["group"])}
        if category not in known:
            raise BadFilter(locale.gettext("%(name)s: unknown value.", name="category"))
    status = _present(raw.status)
    if status is not None and services.status_group(status) is None:
        raise BadFilter(locale.gettext("%(name)s: unknown value.", name="status"))
    since = _day_start("from", raw.since)
    until = _day_start("until", raw.until, days_after=1)
    if since is not None and until is not None and since >= until:
        raise BadFilter(locale.gettext("The from date is later than the until date."))
    return services.Filters(
        district_id=_id("district", raw.district), category=category, status=status,
        mahalla_id=_id("mahalla", raw.mahalla), since=since, until=until)


async def export_batch(filters: services.Filters, after_id: int, limit: int
                       ) -> list[dict[str, Any]]:
    """The next `limit` matching reports after `after_id`, by id (keyset pagination)."""
    condition = services.filter_condition(filters) & (Report.id > after_id)
    return await Report.select(
        Report.id, Report.status, Report.district, Report.mahalla, Report.lat, Report.lon,
        Report.point_exact, Report.registered_at, Report.due_at, Report.first_response_at,
        Report.resolved_at, Report.supporters, Report.description, Report.source,
        Report.category.code.as_alias("category_code"),
        Report.category.name_uz.as_alias("category_name"),
        Report.district.name_uz.as_alias("district_name"),
        Report.mahalla.name_uz.as_alias("mahalla_name"),
        Report.department.name_uz.as_alias("department_name"),
    ).where(condition).order_by(Report.id).limit(limit)



def csv_row(row: dict[str, Any], at: datetime) -> list[Any]:
    values = {
        "id": row["id"], "category_code": row["category_code"],
        "category_name": row["category_name"], "status": row["status"],
        "district_id": row["district"], "district_name": row["district_name"],
        "mahalla_id": row["mahalla"], "mahalla_name": row["mahalla_name"],
        # Reports without a department are the district hokimiyat's own.
        "department_name": row["department_name"] or f"{row['district_name']} hokimligi",
        "lat": row["lat"], "lon": row["lon"], "point_exact": row["point_exact"],
        "registered_at": utc_text(row["registered_at"]), "due_at": utc_text(row["due_at"]),
        "first_response_at": utc_text(row["first_response_at"]),
        "resolved_at": utc_text(row["resolved_at"]), "overdue": services.is_overdue(row, at),
        "supporters": row["supporters"], "assisted": services.is_assisted(row),
        "url": services.report_link(row["id"]),
        "description": row["description"],
    }
    return [cell(values[column]) for column in CSV_COLUMNS]



async def csv_chunks(filters: services.Filters, at: datetime) -> AsyncIterator[bytes]:
    """The export as it is read: a BOM (so Excel reads UTF-8) and the header, then a chunk
    per batch of rows."""
    yield BOM + csv_bytes([CSV_COLUMNS])
    after_id = 0
    while True:
        rows = await export_batch(filters, after_id, BATCH_SIZE)
        if not rows:
            return
        yield csv_bytes([csv_row(row, at) for row in rows])
        if len(rows) < BATCH_SIZE:
            return
        after_id = rows[-1]["id"]


def _plain(status: int, message: str) -> Response[str]:
    return Response(message, status_code=status, media_type=MediaType.TEXT)


class ReportFeedsController(Controller):
    include_in_schema = False

    @get("/reports/districts/{district_id:int}/feed.atom", name="reports:district_feed")
    async def district_feed(self, district_id: FromPath[int]) -> Response[bytes]:
        district = await geo.district(district_id) if 0 < district_id <= MAX_ID else None
        if district is None:
            raise NotFoundException()
        body = atom_feed(district, await feed_reports(district_id),
                         locale.current_language.get(), services.now())
        return Response(body, media_type="application/atom+xml")

    @get("/reports.csv", name="reports:csv")
    async def export_csv(
        self, district: FromQuery[str | None] = None, category: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        since: Annotated[str | None, QueryParameter(name="from")] = None,
        until: FromQuery[str | None] = None, mahalla: FromQuery[str | None] = None,
    ) -> Response[Any]:
        try:
            filters = await parse_filters(RawFilters(district, category, status, since, until,
                                                     mahalla))
        except BadFilter as error:
            return _plain(400, str(error))
        at = services.now()
        filename = f"ovoz-reports-{at.astimezone(locale.TASHKENT).date().isoformat()}.csv"
        return Stream(csv_chunks(filters, at), media_type="text/csv",
                      headers={"Content-Disposition": f'attachment; filename="{filename}"'})
