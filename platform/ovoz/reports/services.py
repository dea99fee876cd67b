"""Problem reports: the rules for reporting, "me too", the lifecycle, fixes and the queue.

Every state change is one function here, in one transaction with its ledger entry and its
notifications. Staff actions take a `StaffMember` (id and grants) and check `require(...)` against
the report's place, so the web pages, the API and Open311 all obey the same rules.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from piccolo.engine.postgres import PostgresEngine
from piccolo.query.functions.aggregate import Count

from ovoz import ledger
from ovoz.accountability import clock
from ovoz.accountability import services as accountability
from ovoz.accounts.permissions import (
    NATIONAL,
    Action,
    PermissionDenied,
    Place,
    StaffMember,
    require,
    scopes,
)
from ovoz.accounts.staff import audit
from ovoz.db import current_engine, is_unique_violation, transaction
from ovoz.geo import services as geo
from ovoz.geo.tables import District, Mahalla
from ovoz.i18n import locale
from ovoz.i18n.translit import to_cyrillic
from ovoz.ledger.services import timestamp_text
from ovoz.notify import services as notify
from ovoz.pagination import Page, paginate
from ovoz.reports import storage
from ovoz.reports.photos import ProcessedPhoto
from ovoz.reports.storage import StoredPhoto
from ovoz.reports.tables import (
    Category,
    Department,
    FixFeedback,
    Photo,
    Report,
    ReportUpdate,
    Routing,
    Support,
)
from ovoz.settings import ROOT, get_settings
from ovoz.store.services import hit

NEW, ACKNOWLEDGED, IN_PROGRESS = "new", "acknowledged", "in_progress"
FIXED, CLOSED_NOT_FIXED, DUPLICATE, REFERRED = "fixed", "closed_not_fixed", "duplicate", "referred"
OPEN_STATUSES = (NEW, ACKNOWLEDGED, IN_PROGRESS)
CLOSED_STATUSES = (FIXED, CLOSED_NOT_FIXED, DUPLICATE, REFERRED)
STATUSES = OPEN_STATUSES + CLOSED_STATUSES
STATUS_LABELS = {
    NEW: locale.lazy("New"),
    ACKNOWLEDGED: locale.lazy("Acknowledged"),
    IN_PROGRESS: locale.lazy("In progress"),
    FIXED: locale.lazy("Fixed"),
    CLOSED_NOT_FIXED: locale.lazy("Closed, not fixed"),
    DUPLICATE: locale.lazy("Duplicate"),
    REFERRED: locale.lazy("Referred to another body"),
}
# Where an official may move a report from each status; a closed report reopens only by a
# resident's dispute of its fix.
TRANSITIONS = {
    NEW: {ACKNOWLEDGED, IN_PROGRESS, FIXED, CLOSED_NOT_FIXED, DUPLICATE, REFERRED},
    ACKNOWLEDGED: {IN_PROGRESS, FIXED, CLOSED_NOT_FIXED, DUPLICATE, REFERRED},
    IN_PROGRESS: {FIXED, CLOSED_NOT_FIXED, DUPLICATE, REFERRED},
}
REOPENED = IN_PROGRESS

DUPLICATE_RADIUS_M = 250
MAX_PHOTOS = 3
DESCRIPTION_MIN, DESCRIPTION_MAX = 10, 2000
NOTE_MAX = 2000
# The Law on Appeals: an appeal outside a body's competence is sent on within five days.
REFERRAL_DAYS = 5
MAX_EXTENSION_DAYS = 30
REPORTS_PER_DAY = 20
# The source of a report made for a resident by mahalla staff at the office.
ASSISTED = "assisted"

ErrorCode = Literal[
    "unknown_category", "description_too_short", "description_too_long", "no_location",
    "outside_pilot", "unknown_mahalla", "too_many_photos", "too_many_reports", "not_found",
    "not_open", "own_report", "bad_transition", "note_required", "note_too_long",
    "unknown_original", "referral_too_late", "referred_to_required", "already_extended",
    "bad_extension", "unknown_department", "bad_area", "not_fixed", "not_involved",
    "already_answered", "not_verified", "bad_code", "code_taken", "unknown_group",
    "name_required", "name_too_long", "bad_response_days", "bad_position", "department_taken",
]


class ReportError(ValueError):
    """A broken rule; `code` is stable (forms translate it), `field` names the form field."""

    def __init__(self, code: ErrorCode, field: str = "", retry_after: int = 0) -> None:
        super().__init__(code)
        self.code: ErrorCode = code
        self.field = field
        self.retry_after = retry_after


@dataclass(slots=True)
class Draft:
    category: str
    description: str
    lat: float | None = None
    lon: float | None = None
    mahalla_id: int | None = None
    location_text: str = ""
    hide_name: bool = False
    # Fresh uploads, or photos stored by an earlier attempt at the same form.
    photos: Sequence[ProcessedPhoto | StoredPhoto] = field(default_factory=tuple)
    source: str = "web"


def now() -> datetime:
    return datetime.now(UTC)


# -- categories and departments ---------------------------------------------------------------

async def load_categories() -> int:
    """Insert the categories of seeds/categories.csv that are missing; safe to run again. A
    category already there is left as it is: administrators edit names, answer times and order
    in the browser, and `ovoz seed` (run at every start of ./scripts/demo) must not undo that."""
    with (ROOT / "seeds" / "categories.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    async with transaction():
        for position, row in enumerate(rows):
            await Category.insert(Category(
                code=row["code"], group=row["group"], name_uz=row["name_uz"],
                name_uz_cyrl=row["name_uz_cyrl"], name_ru=row["name_ru"],
                name_en=row["name_en"], response_days=int(row["response_days"]),
                position=position,
            )).on_conflict(target=Category.code, action="DO NOTHING")
    return len(rows)


async def categories() -> list[dict[str, Any]]:
    return await Category.select().order_by(Category.position)


async def category_names() -> dict[int, dict[str, str]]:
    """Every category's four names by id, read once for a batch of messages."""
    return {row["id"]: {column: row[column] for column in locale.NAME_COLUMNS.values()}
            for row in await categories()}


async def category_by_code(code: str) -> dict[str, Any] | None:
    return await Category.select().where(Category.code == code).first()


# Codes are also the Open311 service codes: lower-case, and at most one dot between a group and
# a kind, as the shipped ones ("roads.pothole").
CATEGORY_CODE: Final = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?")
CATEGORY_CODE_LENGTH: Final = 40
CATEGORY_NAME_LENGTH: Final = 120
CATEGORY_NAMES: Final = tuple(locale.NAME_COLUMNS.values())
# The Law on Appeals answers an appeal within 15 days, within a month where it needs study;
# beyond that only by the one extension (MAX_EXTENSION_DAYS). A kind of problem gets no more.
MAX_RESPONSE_DAYS: Final = 30
MAX_POSITION: Final = 10_000


async def category(category_id: int) -> dict[str, Any] | None:
    return await Category.select().where(Category.id == category_id).first()


async def category_groups() -> list[str]:
    """The groups the categories are filed under (roads, waste, ...): a new category joins
    one of them, since the map's filters and Open311 clients know them."""
    rows = await Category.select(Category.group).distinct().order_by(Category.group)
    return [row["group"] for row in rows]


def _whole(text: str, low: int, high: int) -> int | None:
    text = text.strip()
    return int(text) if text.isdecimal() and low <= int(text) <= high else None


async def category_problems(typed: Mapping[str, str], category_id: int | None = None
                            ) -> tuple[dict[str, Any], list[ReportError]]:
    """A category form's values by column, and every problem with them, so the form shows
    them all at once. Without `category_id` it is a new one, with its code and group; an
    empty position puts it last. The Cyrillic name is made from the Latin one when empty."""
    problems: list[ReportError] = []
    values: dict[str, Any] = {column: " ".join(typed.get(column, "").split())
                              for column in CATEGORY_NAMES}
    values["name_uz_cyrl"] = values["name_uz_cyrl"] or to_cyrillic(values["name_uz"])
    if category_id is None:
        values["code"] = typed.get("code", "").strip()
        if (len(values["code"]) > CATEGORY_CODE_LENGTH
                or not CATEGORY_CODE.fullmatch(values["code"])):
            problems.append(ReportError("bad_code", "code"))
        elif await category_by_code(values["code"]) is not None:
            problems.append(ReportError("code_taken", "code"))
        values["group"] = typed.get("group", "").strip()
        if values["group"] not in await category_groups():
            problems.append(ReportError("unknown_group", "group"))
    if not values["name_uz"]:
        problems.append(ReportError("name_required", "name_uz"))
    problems += [ReportError("name_too_long", column) for column in CATEGORY_NAMES
                 if len(values[column]) > CATEGORY_NAME_LENGTH]
    values["response_days"] = _whole(typed.get("response_days", ""), 1, MAX_RESPONSE_DAYS)
    if values["response_days"] is None:
        problems.append(ReportError("bad_response_days", "response_days"))
    if not typed.get("position", "").strip() and category_id is None:
        last = await Category.select(Category.position).order_by(
            Category.position, ascending=False).first()
        values["position"] = last["position"] + 1 if last else 0
    else:
        values["position"] = _whole(typed.get("position", ""), 0, MAX_POSITION)
        if values["position"] is None:
            problems.append(ReportError("bad_position", "position"))
    return values, problems


async def add_category(staff: StaffMember, typed: Mapping[str, str]) -> int:
    """A national administrator adds a kind of problem (see category_problems); it is offered
    to residents at once and nothing is routed to a department until a district says so.
    Raises the first ReportError; returns the id."""
    require(staff, Action.MANAGE_PLACES, NATIONAL)
    values, problems = await category_problems(typed)
    if problems:
        raise problems[0]
    at = now()
    async with transaction():
        inserted = await Category.insert(Category(**values)).on_conflict(
            target=Category.code, action="DO NOTHING").returning(Category.id)
        if not inserted:
            raise ReportError("code_taken", "code")
        category_id = int(inserted[0]["id"])
        await audit(staff.id, "category.added", f"category:{category_id}", at,
                    {"code": values["code"]})
        # "category" names the code, as in reports.created ("code" reads as a secret there).
        await ledger.record("reports.category_added", f"category:{category_id}", {
            "category": values["code"], "group": values["group"],
            "response_days": values["response_days"]})
    return category_id


async def update_category(staff: StaffMember, category_id: int, typed: Mapping[str, str]
                          ) -> list[str]:
    """A national administrator changes a category's names, answer time or place in the list
    (its code and group stay: clients and links know them). A new answer time applies to
    reports registered from now on; those already in keep the due date they were given.
    Returns the columns that changed; raises the first ReportError."""
    require(staff, Action.MANAGE_PLACES, NATIONAL)
    current = await category(category_id)
    if current is None:
        raise ReportError("not_found")
    values, problems = await category_problems(typed, category_id)
    if problems:
        raise problems[0]
    changed = sorted(column for column, value in values.items() if current[column] != value)
    if not changed:
        return []
    at = now()
    async with transaction():
        await Category.update({Category._meta.get_column_by_name(column): values[column]
                               for column in changed}).where(Category.id == category_id)
        await audit(staff.id, "category.changed", f"category:{category_id}", at,
                    {"code": current["code"], "changed": changed})
        await ledger.record("reports.category_changed", f"category:{category_id}", {
            "category": current["code"], "changed": changed,
            "response_days": values["response_days"]})
    return changed


async def departments(district_id: int) -> list[dict[str, Any]]:
    return await Department.select().where(Department.district == district_id).order_by(
        Department.name_uz)


async def department(department_id: int) -> dict[str, Any] | None:
    return await Department.select().where(Department.id == department_id).first()


async def _district_place(district_id: int) -> Place:
    row = await District.select(District.region).where(District.id == district_id).first()
    if row is None:
        raise ReportError("not_found")
    return Place(row["region"], district_id)


def _department_names(name_uz: str, name_ru: str, name_en: str) -> dict[str, str]:
    """A department's four names as typed (the Cyrillic one made from the Latin)."""
    name_uz = " ".join(name_uz.split())
    if not name_uz:
        raise ReportError("unknown_department", "name_uz")
    return {"name_uz": name_uz, "name_uz_cyrl": to_cyrillic(name_uz),
            "name_ru": " ".join(name_ru.split()), "name_en": " ".join(name_en.split())}


async def create_department(official: StaffMember, district_id: int, name_uz: str,
                            name_ru: str = "", name_en: str = "") -> int:
    """A district official or administrator (national, or of the district) adds a department;
    the same Uzbek name again is the same department."""
    require(official, Action.MANAGE_DEPARTMENTS, await _district_place(district_id))
    names = _department_names(name_uz, name_ru, name_en)
    at = now()
    async with transaction():
        inserted = await Department.insert(Department(
            district=district_id, created_at=at, **names,
        )).on_conflict(action="DO NOTHING").returning(Department.id)
        if not inserted:
            existing = await Department.select(Department.id).where(
                (Department.district == district_id)
                & (Department.name_uz == names["name_uz"])).first()
            return existing["id"]
        department_id = inserted[0]["id"]
        await audit(official.id, "department.created", f"department:{department_id}", at,
                    {"district_id": district_id})
        await ledger.record("reports.department_created", f"department:{department_id}",
                            {"district": district_id})
        return department_id


async def rename_department(official: StaffMember, department_id: int, name_uz: str,
                            name_ru: str = "", name_en: str = "") -> None:
    """Correct a department's names (its reports and routes stay with it)."""
    current = await department(department_id)
    if current is None:
        raise ReportError("unknown_department", "department")
    require(official, Action.MANAGE_DEPARTMENTS, await _district_place(current["district"]))
    names = _department_names(name_uz, name_ru, name_en)
    if all(current[column] == value for column, value in names.items()):
        return
    at = now()
    try:
        async with transaction():
            await Department.update({Department._meta.get_column_by_name(column): value
                                     for column, value in names.items()}).where(
                Department.id == department_id)
            await audit(official.id, "department.renamed", f"department:{department_id}", at,
                        {"district_id": current["district"]})
            await ledger.record("reports.department_renamed", f"department:{department_id}",
                                {"district": current["district"]})
    except Exception as error:
        # Another department of the district already has the name.
        if is_unique_violation(error):
            raise ReportError("department_taken", "name_uz") from None
        raise


async def routes(district_id: int) -> dict[int, int]:
    """category id -> department id, for the district's configured categories."""
    rows = await Routing.select(Routing.category, Routing.department).where(
        Routing.district == district_id)
    return {row["category"]: row["department"] for row in rows}


async def set_route(official: StaffMember, district_id: int, category_id: int,
                    department_id: int | None) -> None:
    """Send new reports of a category in the district to a department (None: the hokimiyat)."""
    require(official, Action.MANAGE_DEPARTMENTS, await _district_place(district_id))
    async with transaction():
        if department_id is not None:
            owner = await department(department_id)
            if owner is None or owner["district"] != district_id:
                raise ReportError("unknown_department", "department")
        if department_id is None:
            await Routing.delete().where((Routing.district == district_id)
                                         & (Routing.category == category_id))
        else:
            # One statement, so officials saving at once end with one route, the last one.
            await Routing.insert(Routing(district=district_id, category=category_id,
                                         department=department_id)
                                 ).on_conflict(target=(Routing.district, Routing.category),
                                               action="DO UPDATE", values=[Routing.department])
        await audit(official.id, "route.set", f"district:{district_id}", now(),
                    {"category_id": category_id, "department_id": department_id})
        await ledger.record("reports.route_set", f"district:{district_id}",
                            {"category": category_id, "department": department_id})


# -- reporting --------------------------------------------------------------------------------

def _clean(text: str) -> str:
    return "\n".join(" ".join(line.split()) for line in text.strip().splitlines()).strip()


async def _locate(draft: Draft) -> tuple[int, int | None, float, float, bool]:
    """district, mahalla, lat, lon and whether the point is the resident's own."""
    if draft.lat is not None and draft.lon is not None:
        if not (math.isfinite(draft.lat) and math.isfinite(draft.lon)
                and -90 <= draft.lat <= 90 and -180 <= draft.lon <= 180):
            raise ReportError("no_location", "location")
        district_id = await geo.pilot_district_at(draft.lat, draft.lon)
        if district_id is None:
            raise ReportError("outside_pilot", "location")
        mahalla_id = draft.mahalla_id
        if mahalla_id is not None:
            chosen = await geo.mahalla(mahalla_id)
            if chosen is None or chosen["district"] != district_id:
                mahalla_id = None
        if mahalla_id is None:
            nearest = await geo.nearest_mahalla(district_id, draft.lat, draft.lon)
            mahalla_id = nearest["id"] if nearest else None
        return district_id, mahalla_id, draft.lat, draft.lon, True
    if draft.mahalla_id is None:
        raise ReportError("no_location", "location")
    chosen = await geo.mahalla(draft.mahalla_id)
    if chosen is None:
        raise ReportError("unknown_mahalla", "mahalla_id")
    if not await geo.is_pilot(chosen["district"]):
        raise ReportError("outside_pilot", "mahalla_id")
    if not draft.location_text.strip():
        raise ReportError("no_location", "location_text")
    if chosen["centre_lat"] is not None:
        return chosen["district"], chosen["id"], chosen["centre_lat"], chosen["centre_lon"], False
    district = await geo.district(chosen["district"])
    assert district is not None
    return (chosen["district"], chosen["id"], district["centre_lat"], district["centre_lon"],
            False)


def report_subject(report_id: int) -> str:
    return f"report:{report_id}"


def report_link(report_id: int) -> str:
    return f"{get_settings().base_url}/reports/{report_id}"


async def draft_problems(draft: Draft) -> list[ReportError]:
    """Every problem with the draft's own fields, so a form can show them all at once (the
    place is checked when the report is created)."""
    problems = []
    if await category_by_code(draft.category) is None:
        problems.append(ReportError("unknown_category", "category"))
    description = _clean(draft.description)
    if len(description) < DESCRIPTION_MIN:
        problems.append(ReportError("description_too_short", "description"))
    elif len(description) > DESCRIPTION_MAX:
        problems.append(ReportError("description_too_long", "description"))
    if len(draft.photos) > MAX_PHOTOS:
        problems.append(ReportError("too_many_photos", "photos"))
    return problems


async def create_report(resident_id: int, draft: Draft, *, assisted_by: int | None = None,
                        consent: str = "") -> int:
    """Register a resident's report, routed to the district's department for its category.
    Made for them at the mahalla desk, it names the staff member (`assisted_by`) and how the
    resident agreed (`consent`), and its source is "assisted" whatever the draft says."""
    problems = await draft_problems(draft)
    if problems:
        raise problems[0]
    category = await category_by_code(draft.category)
    assert category is not None
    description = _clean(draft.description)
    district_id, mahalla_id, lat, lon, exact = await _locate(draft)
    decision = await hit(f"reports:create:{resident_id}", REPORTS_PER_DAY, 86400)
    if not decision.allowed:
        raise ReportError("too_many_reports", retry_after=decision.retry_after)
    saved = [storage.save(photo) for photo in draft.photos]
    registered = now()
    due = clock.due_after(registered, days=category["response_days"])
    async with transaction():
        department_id = (await routes(district_id)).get(category["id"])
        inserted = await Report.insert(Report(
            category=category["id"], district=district_id, mahalla=mahalla_id, lat=lat, lon=lon,
            point_exact=exact, location_text=_clean(draft.location_text)[:300],
            description=description, author=resident_id, hide_name=draft.hide_name,
            source=ASSISTED if assisted_by is not None else draft.source,
            assisted_by=assisted_by, consent=consent[:60], status=NEW,
            department=department_id,
            registered_at=registered, due_at=due,
            updated_at=registered, token=secrets.token_urlsafe(24),
        )).returning(Report.id)
        report_id = inserted[0]["id"]
        for position, photo in enumerate(saved):
            await Photo.insert(Photo(report=report_id, name=photo.name, width=photo.width,
                                     height=photo.height, position=position))
        region = await _district_place(district_id)
        await accountability.open_obligation(
            accountability.REPORT, report_id,
            Place(region.region_id, district_id, mahalla_id, department_id), registered, due)
        await notify.follow(resident_id, report_subject(report_id))
        await _tell_area_followers(report_id, category, mahalla_id, lat, lon, resident_id)
        payload: dict[str, Any] = {
            "category": category["code"], "district": district_id, "mahalla": mahalla_id,
            "department": department_id, "due_at": timestamp_text(due),
        }
        if assisted_by is not None:
            # Counted apart by anyone reading the ledger; who helped and who reported stay out.
            payload["channel"] = ASSISTED
        await ledger.record("reports.created", report_subject(report_id), payload)
    return report_id


MAX_AREA_KM = 10


def area_subject(lat: float, lon: float, km: int) -> str:
    """A circle around a point; whole kilometres, up to 10 (a village and its fields, not a
    city of a million)."""
    if not 1 <= km <= MAX_AREA_KM:
        raise ReportError("bad_area", "km")
    return f"area:{lat:.5f},{lon:.5f},{km}"


def _area(subject: str) -> tuple[float, float, int] | None:
    try:
        lat, lon, km = subject.removeprefix("area:").split(",")
        return float(lat), float(lon), int(km)
    except ValueError:
        return None


async def follow_area(resident_id: int, lat: float, lon: float, km: int) -> str:
    """Hear about new reports within km of a point in a pilot district."""
    if await geo.pilot_district_at(lat, lon) is None:
        raise ReportError("outside_pilot", "location")
    subject = area_subject(lat, lon, km)
    await notify.follow(resident_id, subject)
    return subject


async def area_follows(resident_id: int, home: dict[str, Any] | None = None
                       ) -> list[dict[str, Any]]:
    """The resident's active follows of mahallas and circles, for the page that lists them;
    `around_home` marks a circle around the centre of the `home` mahalla."""
    rows = (await notify.followed_subjects("mahalla:", resident_id)
            + await notify.followed_subjects("area:", resident_id))
    home_centre = (area_subject(home["centre_lat"], home["centre_lon"], 1).rsplit(",", 1)[0]
                   if home and home["centre_lat"] is not None else None)
    mine = []
    for row in rows:
        area = _area(row["subject"]) if row["subject"].startswith("area:") else None
        mine.append({"subject": row["subject"], "km": area[2] if area else None,
                     "around_home": row["subject"].rsplit(",", 1)[0] == home_centre})
    return mine


async def _tell_area_followers(report_id: int, category: dict[str, Any], mahalla_id: int | None,
                               lat: float, lon: float, author: int) -> None:
    """Residents following the report's mahalla, or a circle that holds its point."""
    wanted = set(await notify.followers(f"mahalla:{mahalla_id}")) if mahalla_id else set()
    for follow in await notify.followed_subjects("area:"):
        area = _area(follow["subject"])
        if area and geo.distance_m((area[0], area[1]), (lat, lon)) <= area[2] * 1000:
            wanted.add(follow["resident"])
    wanted.discard(author)
    payload = {"id": report_id, "title_names": {column: category[column] for column in
                                                locale.NAME_COLUMNS.values()},
               "link": report_link(report_id)}
    for resident_id in sorted(wanted):
        await notify.enqueue(f"report:{report_id}:new:{resident_id}", "resident", resident_id,
                             "report.new_in_area", payload)


def _bounding_box(lat: float, lon: float, metres: float) -> tuple[float, float, float, float]:
    dlat = math.degrees(metres / geo.EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    return lat - dlat, lon - dlon, lat + dlat, lon + dlon


async def nearby_open(category_code: str, lat: float, lon: float,
                      radius_m: float = DUPLICATE_RADIUS_M, limit: int = 10
                      ) -> list[dict[str, Any]]:
    """Open reports of the same category within the radius, nearest first."""
    south, west, north, east = _bounding_box(lat, lon, radius_m)
    rows = await Report.select(
        Report.id, Report.lat, Report.lon, Report.description, Report.status,
        Report.supporters, Report.registered_at, Report.category.code.as_alias("category_code"),
    ).where(
        (Report.category.code == category_code) & Report.status.is_in(list(OPEN_STATUSES))
        & (Report.lat >= south) & (Report.lat <= north)
        & (Report.lon >= west) & (Report.lon <= east)
    )
    for row in rows:
        row["distance_m"] = round(geo.distance_m((lat, lon), (row["lat"], row["lon"])))
    near = sorted((r for r in rows if r["distance_m"] <= radius_m), key=lambda r: r["distance_m"])
    return near[:limit]


async def add_support(report_id: int, resident_id: int) -> bool:
    """A resident's "me too": counted once per person; they follow the report. Returns whether
    this call counted (False when they had already said it)."""
    async with transaction():
        report = await Report.select(Report.status, Report.author).where(
            Report.id == report_id).first()
        if report is None:
            raise ReportError("not_found")
        if report["author"] == resident_id:
            raise ReportError("own_report")
        if report["status"] not in OPEN_STATUSES:
            raise ReportError("not_open")
        added = await Support.insert(Support(report=report_id, resident=resident_id,
                                             created_at=now())
                                     ).on_conflict(action="DO NOTHING").returning(Support.id)
        await notify.follow(resident_id, report_subject(report_id))
        if not added:
            return False
        await Report.update({Report.supporters: Report.supporters + 1}).where(
            Report.id == report_id)
        await ledger.record("reports.supported", report_subject(report_id), {})
        return True


async def supports(report_id: int, resident_id: int) -> bool:
    return await Support.exists().where((Support.report == report_id)
                                        & (Support.resident == resident_id))


# -- reading ----------------------------------------------------------------------------------

_LIST_COLUMNS = (
    Report.id, Report.status, Report.lat, Report.lon, Report.point_exact, Report.description,
    Report.location_text, Report.registered_at, Report.due_at, Report.resolved_at,
    Report.supporters, Report.district, Report.mahalla, Report.department, Report.hide_name,
    Report.category.code.as_alias("category_code"),
    Report.category.name_uz.as_alias("category_name_uz"),
    Report.category.name_uz_cyrl.as_alias("category_name_uz_cyrl"),
    Report.category.name_ru.as_alias("category_name_ru"),
    Report.category.name_en.as_alias("category_name_en"),
)


def category_label(row: dict[str, Any], language: str | None = None) -> str:
    """The category's name in the reader's language, from a row of the reports list."""
    return locale.localised_name({column: row.get(f"category_{column}")
                                  for column in locale.NAME_COLUMNS.values()}, language)


def is_assisted(row: dict[str, Any]) -> bool:
    """Made for the resident by mahalla staff at the office: marked so in every count."""
    return row.get("source") == ASSISTED


async def assisted_counts(since: datetime, until: datetime) -> dict[int, int]:
    """Reports made at a mahalla desk in [since, until), by the staff member who made them."""
    rows = await Report.select(Report.assisted_by, Count(Report.id).as_alias("n")).where(
        (Report.source == ASSISTED) & Report.assisted_by.is_not_null()
        & (Report.registered_at >= since) & (Report.registered_at < until)).group_by(
        Report.assisted_by)
    return {row["assisted_by"]: int(row["n"]) for row in rows}


def public_name(row: dict[str, Any]) -> str | None:
    """The reporter's name as the public may see it: None when hidden or gone."""
    if row.get("hide_name") or row.get("author_deleted_at") is not None:
        return None
    return row.get("author_display_name") or None


async def report(report_id: int) -> dict[str, Any] | None:
    row = await Report.select(
        *_LIST_COLUMNS, Report.all_columns(exclude=[Report.id, Report.status, Report.lat,
                                                    Report.lon]),
        Report.author.display_name.as_alias("author_display_name"),
        Report.author.deleted_at.as_alias("author_deleted_at"),
    ).where(Report.id == report_id).first()
    if row is None:
        return None
    row["photos"] = await Photo.select(
        Photo.id, Photo.name, Photo.width, Photo.height, Photo.update,
    ).where((Photo.report == report_id) & Photo.hidden_at.is_null()).order_by(
        Photo.position).order_by(Photo.id)
    return row


async def report_by_token(token: str) -> dict[str, Any] | None:
    return await Report.select(Report.id).where(Report.token == token).first()


async def history(report_id: int) -> list[dict[str, Any]]:
    """The public history, oldest first: officials' names are public, residents' are not."""
    rows = await ReportUpdate.select(
        ReportUpdate.id, ReportUpdate.kind, ReportUpdate.status_from, ReportUpdate.status_to,
        ReportUpdate.note, ReportUpdate.at, ReportUpdate.staff,
        ReportUpdate.staff.display_name.as_alias("staff_name"),
    ).where(ReportUpdate.report == report_id).order_by(ReportUpdate.at).order_by(ReportUpdate.id)
    photos = await Photo.select(Photo.name, Photo.update).where(
        (Photo.report == report_id) & Photo.update.is_not_null()
        & Photo.hidden_at.is_null()).order_by(Photo.position)
    for row in rows:
        row["photos"] = [p["name"] for p in photos if p["update"] == row["id"]]
    return rows


async def fix_feedback_counts(report_id: int) -> dict[str, int]:
    row = await Report.select(Report.fix_round).where(Report.id == report_id).first()
    if row is None:
        return {"confirmed": 0, "disputed": 0}
    rows = await FixFeedback.select(FixFeedback.fixed).where(
        (FixFeedback.report == report_id) & (FixFeedback.fix_round == row["fix_round"]))
    confirmed = sum(1 for r in rows if r["fixed"])
    return {"confirmed": confirmed, "disputed": len(rows) - confirmed}


@dataclass(frozen=True, slots=True)
class Filters:
    district_id: int | None = None
    category: str | None = None
    status: str | None = None
    mahalla_id: int | None = None
    department_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    overdue: bool = False
    due_before: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north


def status_group(status: str | None) -> list[str] | None:
    """A filter value: one status, or "open"/"closed" for the group."""
    if status == "open":
        return list(OPEN_STATUSES)
    if status == "closed":
        return list(CLOSED_STATUSES)
    if status in STATUSES:
        return [status]
    return None


def filter_condition(filters: Filters, at: datetime | None = None) -> Any:
    """The query condition of the filters: one definition for the list, the queue and exports."""
    condition: Any = Report.id > 0
    if filters.district_id is not None:
        condition &= Report.district == filters.district_id
    if filters.category:
        condition &= ((Report.category.code == filters.category)
                      | (Report.category.group == filters.category))
    statuses = status_group(filters.status)
    if statuses is not None:
        condition &= Report.status.is_in(statuses)
    if filters.mahalla_id is not None:
        condition &= Report.mahalla == filters.mahalla_id
    if filters.department_id is not None:
        condition &= Report.department == filters.department_id
    if filters.since is not None:
        condition &= Report.registered_at >= filters.since
    if filters.until is not None:
        condition &= Report.registered_at < filters.until
    if filters.overdue:
        condition &= Report.status.is_in(list(OPEN_STATUSES)) & (Report.due_at < (at or now()))
    if filters.due_before is not None:
        condition &= Report.status.is_in(list(OPEN_STATUSES)) & (
            Report.due_at < filters.due_before)
    if filters.bbox is not None:
        west, south, east, north = filters.bbox
        condition &= ((Report.lat >= south) & (Report.lat <= north)
                      & (Report.lon >= west) & (Report.lon <= east))
    return condition


async def search(filters: Filters, number: int, per_page: int) -> Page:
    """Reports for the public list, newest first."""
    condition = filter_condition(filters)
    return await paginate(
        Report.select(*_LIST_COLUMNS).where(condition).order_by(Report.registered_at,
                                                                ascending=False)
        .order_by(Report.id, ascending=False),
        Report.count().where(condition), number, per_page)


def _queue_condition(official: StaffMember) -> Any:
    """The reports an official answers for: their districts, or their departments in them."""
    reach: Any = None
    for grant in scopes(official, Action.ANSWER):
        if grant.district_id is None:
            continue
        one: Any = Report.district == grant.district_id
        if grant.department_id is not None:
            one &= Report.department == grant.department_id
        reach = one if reach is None else reach | one
    return reach


async def queue(official: StaffMember, filters: Filters, number: int, per_page: int) -> Page:
    """The official's queue: earliest due first, so what is overdue comes first."""
    reach = _queue_condition(official)
    if reach is None:
        return Page(items=[], number=1, per_page=per_page, total=0)
    condition = reach & filter_condition(filters)
    return await paginate(
        Report.select(*_LIST_COLUMNS).where(condition).order_by(Report.due_at)
        .order_by(Report.id),
        Report.count().where(condition), number, per_page)


async def due_this_week(official: StaffMember, at: datetime | None = None) -> int:
    reach = _queue_condition(official)
    if reach is None:
        return 0
    at = at or now()
    return await Report.count().where(reach & Report.status.is_in(list(OPEN_STATUSES))
                                      & (Report.due_at < at + timedelta(days=7)))


# -- handling ---------------------------------------------------------------------------------

def can_refer(report: dict[str, Any], at: datetime | None = None) -> bool:
    """The law allows sending an appeal on to the competent body only in its first days."""
    return (at or now()) <= report["registered_at"] + timedelta(days=REFERRAL_DAYS)


def is_overdue(report: dict[str, Any], at: datetime | None = None) -> bool:
    """Open past its due date, or answered after it."""
    if report["status"] in OPEN_STATUSES:
        return bool(report["due_at"] < (at or now()))
    return report["resolved_at"] is not None and report["resolved_at"] > report["due_at"]


async def place_of(report: dict[str, Any]) -> Place:
    district = await District.select(District.region).where(
        District.id == report["district"]).first()
    assert district is not None
    return Place(district["region"], report["district"], report["mahalla"],
                 report["department"])


async def _locked(report_id: int) -> dict[str, Any]:
    # Inside the caller's transaction: IMMEDIATE on SQLite; on PostgreSQL the row is locked so
    # two officials answering at once are applied one after the other.
    query = Report.select().where(Report.id == report_id)
    if isinstance(current_engine(), PostgresEngine):
        query = query.lock_rows("UPDATE")
    row = await query.first()
    if row is None:
        raise ReportError("not_found")
    return row


def _note(note: str, required: bool = True) -> str:
    note = _clean(note)
    if required and not note:
        raise ReportError("note_required", "note")
    if len(note) > NOTE_MAX:
        raise ReportError("note_too_long", "note")
    return note


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def _add_update(report_id: int, kind: str, note: str, at: datetime, *,
                      staff_id: int | None = None, resident_id: int | None = None,
                      status_from: str = "", status_to: str = "",
                      photos: Sequence[ProcessedPhoto | StoredPhoto] = ()) -> int:
    saved = [storage.save(photo) for photo in photos]
    inserted = await ReportUpdate.insert(ReportUpdate(
        report=report_id, kind=kind, status_from=status_from, status_to=status_to, note=note,
        staff=staff_id, resident=resident_id, at=at,
    )).returning(ReportUpdate.id)
    update_id = inserted[0]["id"]
    for position, photo in enumerate(saved):
        await Photo.insert(Photo(report=report_id, update=update_id, name=photo.name,
                                 width=photo.width, height=photo.height, position=position))
    return update_id


async def _tell_followers(report: dict[str, Any], status: str, except_resident: int | None,
                          event: str) -> None:
    category = await Category.select().where(Category.id == report["category"]).first()
    assert category is not None
    payload = {"id": report["id"], "title_names": {column: category[column] for column in
                                                   locale.NAME_COLUMNS.values()},
               "status_msgid": STATUS_LABELS[status],
               "link": report_link(report["id"])}
    for resident_id in await notify.followers(report_subject(report["id"])):
        if resident_id != except_resident:
            await notify.enqueue(f"report:{report['id']}:{event}:{resident_id}", "resident",
                                 resident_id, "report.updated", payload)


async def change_status(official: StaffMember, report_id: int, status: str, note: str, *,
                        duplicate_of: int | None = None, referred_to: str = "",
                        photos: Sequence[ProcessedPhoto | StoredPhoto] = (),
                        at: datetime | None = None) -> None:
    """An official moves a report on, with a public note; followers are told."""
    at = at or now()
    note = _note(note)
    if len(photos) > MAX_PHOTOS:
        raise ReportError("too_many_photos", "photos")
    async with transaction():
        report = await _locked(report_id)
        require(official, Action.ANSWER, await place_of(report))
        if status not in TRANSITIONS.get(report["status"], set()):
            raise ReportError("bad_transition", "status")
        changes: dict[Any, Any] = {Report.status: status, Report.updated_at: at}
        payload: dict[str, Any] = {"from": report["status"], "to": status,
                                   "note_sha256": _digest(note)}
        if status == DUPLICATE:
            original = await _original(duplicate_of, report)
            changes[Report.duplicate_of] = original
            payload["original"] = original
        if status == REFERRED:
            referred_to = " ".join(referred_to.split())[:200]
            if not referred_to:
                raise ReportError("referred_to_required", "referred_to")
            if not can_refer(report, at):
                raise ReportError("referral_too_late", "status")
            changes[Report.referred_to] = referred_to
            payload["referred_to_sha256"] = _digest(referred_to)
        if report["first_response_at"] is None:
            changes[Report.first_response_at] = at
            await accountability.record_first_response(accountability.REPORT, report_id, at)
        if status in CLOSED_STATUSES:
            changes[Report.resolved_at] = at
            await accountability.resolve(accountability.REPORT, report_id, at)
        if status == FIXED:
            changes[Report.fixed_at] = at
            changes[Report.fix_round] = report["fix_round"] + 1
            changes[Report.fix_check_sent_at] = None
        await Report.update(changes).where(Report.id == report_id)
        update_id = await _add_update(report_id, "status", note, at, staff_id=official.id,
                                      status_from=report["status"], status_to=status,
                                      photos=photos)
        await ledger.record("reports.status_changed", report_subject(report_id), payload)
        await _tell_followers(report, status, None, f"update:{update_id}")
        if status == DUPLICATE:
            for resident_id in await notify.followers(report_subject(report_id)):
                await notify.follow(resident_id, report_subject(changes[Report.duplicate_of]))


async def _original(duplicate_of: int | None, report: dict[str, Any]) -> int:
    """The report a duplicate points at, followed to the end of any chain of duplicates."""
    seen = {report["id"]}
    current = duplicate_of
    while current is not None:
        if current in seen:
            raise ReportError("unknown_original", "duplicate_of")
        seen.add(current)
        row = await Report.select(Report.id, Report.district, Report.duplicate_of).where(
            Report.id == current).first()
        if row is None or row["district"] != report["district"]:
            raise ReportError("unknown_original", "duplicate_of")
        if row["duplicate_of"] is None:
            return row["id"]
        current = row["duplicate_of"]
    raise ReportError("unknown_original", "duplicate_of")


async def acknowledge_many(official: StaffMember, report_ids: Iterable[int], note: str
                           ) -> list[int]:
    """Bulk acknowledge: each new report the official answers for; returns those changed."""
    changed = []
    for report_id in dict.fromkeys(report_ids):
        try:
            await change_status(official, report_id, ACKNOWLEDGED, note)
        except ReportError as error:
            if error.code in ("note_required", "note_too_long"):
                raise
            continue
        except PermissionDenied:
            continue
        changed.append(report_id)
    return changed


async def add_note(official: StaffMember, report_id: int, note: str,
                   photos: Sequence[ProcessedPhoto | StoredPhoto] = ()) -> None:
    """A public note without a change of status (progress, a question answered)."""
    at = now()
    note = _note(note)
    async with transaction():
        report = await _locked(report_id)
        require(official, Action.ANSWER, await place_of(report))
        changes: dict[Any, Any] = {Report.updated_at: at}
        if report["first_response_at"] is None:
            changes[Report.first_response_at] = at
            await accountability.record_first_response(accountability.REPORT, report_id, at)
        await Report.update(changes).where(Report.id == report_id)
        await _add_update(report_id, "note", note, at, staff_id=official.id, photos=photos)
        await ledger.record("reports.noted", report_subject(report_id),
                            {"note_sha256": _digest(note)})


async def reroute(official: StaffMember, report_id: int, department_id: int | None, note: str
                  ) -> None:
    """Send a report to another department of its district (None: the hokimiyat itself)."""
    at = now()
    note = _note(note)
    async with transaction():
        report = await _locked(report_id)
        require(official, Action.ANSWER, await place_of(report))
        if report["status"] not in OPEN_STATUSES:
            raise ReportError("not_open")
        if department_id is not None:
            target = await department(department_id)
            if target is None or target["district"] != report["district"]:
                raise ReportError("unknown_department", "department")
        await Report.update({Report.department: department_id, Report.updated_at: at}).where(
            Report.id == report_id)
        await accountability.move(accountability.REPORT, report_id, Place(
            (await place_of(report)).region_id, report["district"], report["mahalla"],
            department_id))
        await _add_update(report_id, "rerouted", note, at, staff_id=official.id)
        await ledger.record("reports.rerouted", report_subject(report_id), {
            "from": report["department"], "to": department_id, "note_sha256": _digest(note)})


async def extend(official: StaffMember, report_id: int, days: int, reason: str) -> None:
    """The one extension the law allows, with a public reason; the reporter is told."""
    at = now()
    reason = _note(reason)
    if not 1 <= days <= MAX_EXTENSION_DAYS:
        raise ReportError("bad_extension", "days")
    async with transaction():
        report = await _locked(report_id)
        require(official, Action.ANSWER, await place_of(report))
        if report["status"] not in OPEN_STATUSES:
            raise ReportError("not_open")
        if report["extended_at"] is not None:
            raise ReportError("already_extended")
        due = clock.extended(report["due_at"], days)
        await Report.update({Report.due_at: due, Report.extended_at: at,
                             Report.extension_reason: reason, Report.updated_at: at}
                            ).where(Report.id == report_id)
        await accountability.extend(accountability.REPORT, report_id, due, reason, at)
        update_id = await _add_update(report_id, "extended", reason, at, staff_id=official.id)
        await ledger.record("reports.extended", report_subject(report_id), {
            "due_at": timestamp_text(due), "reason_sha256": _digest(reason)})
        await _tell_followers(report, report["status"], None, f"update:{update_id}")


async def record_fix_feedback(report_id: int, resident_id: int, fixed: bool, note: str = ""
                              ) -> None:
    """The reporter or a follower confirms or disputes a fix; a dispute reopens the report."""
    at = now()
    note = _note(note, required=False)
    async with transaction():
        report = await _locked(report_id)
        if report["status"] != FIXED:
            raise ReportError("not_fixed")
        if (report["author"] != resident_id
                and resident_id not in await notify.followers(report_subject(report_id))):
            raise ReportError("not_involved")
        added = await FixFeedback.insert(FixFeedback(
            report=report_id, resident=resident_id, fix_round=report["fix_round"], fixed=fixed,
            at=at)).on_conflict(action="DO NOTHING").returning(FixFeedback.id)
        if not added:
            raise ReportError("already_answered")
        kind = "confirmed" if fixed else "disputed"
        await _add_update(report_id, kind, note, at, resident_id=resident_id)
        await ledger.record(f"reports.fix_{kind}", report_subject(report_id),
                            {"fix_round": report["fix_round"]})
        if not fixed:
            await Report.update({Report.status: REOPENED, Report.resolved_at: None,
                                 Report.updated_at: at}).where(Report.id == report_id)
            await accountability.reopen(accountability.REPORT, report_id)
            await _add_update(report_id, "reopened", "", at, status_from=FIXED,
                              status_to=REOPENED)
            await _tell_followers(report, REOPENED, resident_id,
                                  f"reopened:{report['fix_round']}")


async def ask_fix_checks(at: datetime | None = None) -> int:
    """Ask each reporter once, N days after the fix, whether it is really fixed; returns how
    many were asked by this call."""
    at = at or now()
    cutoff = at - timedelta(days=get_settings().fix_check_days)
    due = await Report.select(Report.id, Report.author, Report.fix_round, Report.category
                              ).where((Report.status == FIXED) & (Report.fixed_at <= cutoff)
                                      & Report.fix_check_sent_at.is_null())
    names = await category_names()
    asked = 0
    for row in due:
        async with transaction():
            claimed = await Report.update({Report.fix_check_sent_at: at}).where(
                (Report.id == row["id"]) & Report.fix_check_sent_at.is_null()
            ).returning(Report.id)
            if not claimed:
                continue
            asked += 1
            await notify.enqueue(
                f"report:{row['id']}:fix_check:{row['fix_round']}", "resident", row["author"],
                "report.fix_check",
                {"id": row["id"], "title_names": names[row["category"]],
                 "link": report_link(row["id"])})
    return asked


async def mahalla_choices(district_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Mahallas of the pilot districts for the no-map form, by district then name."""
    return await Mahalla.select(Mahalla.id, Mahalla.district, *[
        getattr(Mahalla, column) for column in locale.NAME_COLUMNS.values()
    ]).where(Mahalla.district.is_in(list(district_ids) or [-1])).order_by(
        Mahalla.district).order_by(Mahalla.name_uz)


# -- moderation -------------------------------------------------------------------------------

# A report's texts a moderator may redact or hide, with the words residents see.
MODERATED_FIELDS: Final = {"description": locale.lazy("What the resident wrote"),
                           "location_text": locale.lazy("The spot in words")}


async def moderated(report_id: int) -> dict[str, Any] | None:
    """What moderation needs of a report: its author, place, texts and photos (all of them,
    hidden ones too, for staff)."""
    row = await Report.select(Report.id, Report.author, Report.district, Report.mahalla,
                              Report.department, Report.category, Report.description,
                              Report.location_text).where(Report.id == report_id).first()
    if row is None:
        return None
    names = await category_names()
    return {"author": row["author"], "place": await place_of(row),
            "title_names": names[row["category"]],
            "fields": {name: row[name] for name in MODERATED_FIELDS},
            "photos": await Photo.select(Photo.id, Photo.name, Photo.hidden_at).where(
                Photo.report == report_id).order_by(Photo.position).order_by(Photo.id)}


async def set_moderated_text(report_id: int, field: str, text: str) -> None:
    """A moderator's change to a report's text, inside the moderation's transaction."""
    assert field in MODERATED_FIELDS
    await Report.update({getattr(Report, field): text, Report.updated_at: now()}).where(
        Report.id == report_id)


async def pending_of(resident_id: int) -> list[int]:
    """The resident's reports nobody has taken up yet: what a block hides."""
    rows = await Report.select(Report.id).where((Report.author == resident_id)
                                                & (Report.status == NEW))
    return [row["id"] for row in rows]


async def set_photo_hidden(report_id: int, photo_id: int, hidden: bool) -> bool:
    """Hide a report's photo from the public (or show it again); False when there is none."""
    # Raw: the photo's `update` column hides the table's update() method.
    changed = await Photo.raw(
        "UPDATE reports_photo SET hidden_at = {} WHERE id = {} AND report = {} RETURNING id",
        now() if hidden else None, photo_id, report_id)
    return bool(changed)
