"""Places: loading the shipped regions and districts, importing mahallas (from the command line,
or by a national or district administrator in the browser), adding and correcting them one at a
time, and looking them up."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from piccolo.query.functions.aggregate import Count

from ovoz import ledger
from ovoz.accounts.permissions import Action, Actor, Place, StaffMember, allowed, require
from ovoz.accounts.staff import audit
from ovoz.administration import services as administration
from ovoz.db import is_unique_violation, transaction
from ovoz.geo.bounds import district_bounds
from ovoz.geo.tables import District, Mahalla, Region
from ovoz.i18n.locale import NAME_COLUMNS
from ovoz.i18n.translit import (
    APOSTROPHE_OKINA,
    APOSTROPHE_TUTUQ,
    normalise,
    to_cyrillic,
    to_script,
)
from ovoz.pagination import Page, paginate, paginate_items
from ovoz.settings import ROOT

PLACES_DIR = ROOT / "seeds" / "places"
EARTH_RADIUS_M = 6_371_000
# Generous bounds around Uzbekistan: a centre outside them is a typing error.
LATITUDE_RANGE = (37.0, 45.8)
LONGITUDE_RANGE = (55.8, 73.3)
# The widest a mahalla's name may be (the geo_mahalla columns) and its largest believable
# population (also well inside PostgreSQL's INTEGER).
NAME_LENGTH = 160
MAX_POPULATION = 1_000_000
MAHALLA_COLUMNS = (
    "district_id", "name_uz", "name_uz_cyrl", "name_ru", "name_en",
    "latitude", "longitude", "population",
)


# What a person types about one mahalla: the CSV's columns but its district.
MAHALLA_FIELDS = MAHALLA_COLUMNS[1:]


class MahallaFieldError(ValueError):
    """One bad value of a mahalla. `field` (a CSV column) and `code` are stable, for a
    translated message with `params`; the text is plain English (the command line prints it)."""

    def __init__(self, field: str, code: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.params = params


class MahallaRowError(ValueError):
    """Every bad value of one mahalla, in the order of the columns; its text is the first's."""

    def __init__(self, problems: list[MahallaFieldError]) -> None:
        super().__init__(str(problems[0]))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str
    # Stable, for a translated message: what is wrong, the column at fault (if one) and the
    # values the message names.
    code: str = ""
    column: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class MahallaImportError(ValueError):
    """The file was refused; nothing was imported."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(error) for error in errors))


@dataclass(frozen=True, slots=True)
class ImportSummary:
    created: int
    updated: int
    districts: tuple[int, ...]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as rows:
        return list(csv.DictReader(rows))


async def _upsert(table: type[Region] | type[District], row_id: int, fields: dict[str, Any],
                  existing: set[int]) -> None:
    if row_id in existing:
        columns = {table._meta.get_column_by_name(name): value for name, value in fields.items()}
        await table.update(columns).where(table._meta.primary_key == row_id)
    else:
        await table.insert(table(id=row_id, **fields))


async def load_places() -> tuple[int, int]:
    """Insert or refresh every region and district from seeds/places; safe to run again."""
    regions = _read_csv(PLACES_DIR / "regions.csv")
    districts = _read_csv(PLACES_DIR / "districts.csv")
    centres = {int(r["district_id"]): r for r in _read_csv(PLACES_DIR / "district_centres.csv")}
    async with transaction():
        existing = set(await Region.select(Region.id).output(as_list=True))
        for row in regions:
            names = {column: row[column] for column in NAME_COLUMNS.values()}
            await _upsert(Region, int(row["id"]), names, existing)
        existing = set(await District.select(District.id).output(as_list=True))
        for row in districts:
            centre = centres.get(int(row["id"]))
            fields: dict[str, Any] = {column: row[column] for column in NAME_COLUMNS.values()}
            fields["region"] = int(row["region_id"])
            fields["centre_lat"] = float(centre["latitude"]) if centre else None
            fields["centre_lon"] = float(centre["longitude"]) if centre else None
            await _upsert(District, int(row["id"]), fields, existing)
    return len(regions), len(districts)


def _coordinate(text: str, bounds: tuple[float, float], name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise MahallaFieldError(name, "not_number", f"{name} {text!r} is not a number"
                                ) from None
    if not bounds[0] <= value <= bounds[1]:
        raise MahallaFieldError(
            name, "outside", f"{name} {value} is outside Uzbekistan ({bounds[0]} to {bounds[1]})",
            low=bounds[0], high=bounds[1])
    return value


def _mahalla_fields(row: Mapping[str, str], districts: set[int], demo: bool) -> dict[str, Any]:
    """Validate one mahalla, a CSV row or a form (with its district_id filled in): its
    columns, or MahallaRowError with every problem, each a message a district clerk can act
    on."""
    problems: list[MahallaFieldError] = []
    raw_district = row.get("district_id", "").strip()
    if not raw_district.isdigit() or int(raw_district) not in districts:
        problems.append(MahallaFieldError(
            "district_id", "unknown", f"district_id {raw_district!r} is not a known district id"))
    name_uz = normalise(" ".join(row.get("name_uz", "").split()))
    if not name_uz:
        problems.append(MahallaFieldError("name_uz", "required", "name_uz is empty"))
    fields: dict[str, Any] = {
        "district": int(raw_district) if raw_district.isdigit() else None,
        "name_uz": name_uz,
        "name_uz_cyrl": " ".join(row.get("name_uz_cyrl", "").split()) or to_cyrillic(name_uz),
        "name_ru": " ".join(row.get("name_ru", "").split()),
        "name_en": " ".join(row.get("name_en", "").split()),
        "centre_lat": None,
        "centre_lon": None,
        "population": None,
        "is_demo": demo,
    }
    for column in ("name_uz", "name_uz_cyrl", "name_ru", "name_en"):
        if len(fields[column]) > NAME_LENGTH:
            problems.append(MahallaFieldError(
                column, "too_long", f"{column} is longer than {NAME_LENGTH} characters",
                length=NAME_LENGTH))
    latitude, longitude = row.get("latitude", "").strip(), row.get("longitude", "").strip()
    if bool(latitude) != bool(longitude):
        problems.append(MahallaFieldError("longitude" if latitude else "latitude", "both",
                                          "give both latitude and longitude, or neither"))
    elif latitude:
        for column, text, bounds in (("latitude", latitude, LATITUDE_RANGE),
                                     ("longitude", longitude, LONGITUDE_RANGE)):
            try:
                fields[f"centre_{column[:3]}"] = _coordinate(text, bounds, column)
            except MahallaFieldError as error:
                problems.append(error)
    population = row.get("population", "").strip().replace(" ", "").replace(",", "")
    if population and not population.isdigit():
        problems.append(MahallaFieldError(
            "population", "not_whole", f"population {population!r} is not a whole number"))
    elif population and int(population) > MAX_POPULATION:
        problems.append(MahallaFieldError(
            "population", "too_large",
            f"population {population} is more than {MAX_POPULATION:,}", most=MAX_POPULATION))
    elif population:
        fields["population"] = int(population)
    if problems:
        raise MahallaRowError(problems)
    return fields


def _columns(fields: Mapping[str, Any]) -> dict[Any, Any]:
    """A mahalla's values by column, for an update."""
    return {Mahalla._meta.get_column_by_name(name): value for name, value in fields.items()}


def parse_mahalla_csv(data: bytes, districts: set[int], demo: bool = False,
                      only_district: int | None = None) -> list[dict[str, Any]]:
    """Check the whole file first; raise MahallaImportError listing every bad line. With
    `only_district`, a row for any other district is one."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise MahallaImportError([RowError(line, "the file is not UTF-8 text", "not_utf8")]
                                 ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in ("district_id", "name_uz") if name not in header]
    unknown = [name for name in header if name not in MAHALLA_COLUMNS]
    if missing or unknown:
        problems = [f"missing column {name}" for name in missing]
        problems += [f"unknown column {name!r}" for name in unknown]
        expected = ", ".join(MAHALLA_COLUMNS)
        raise MahallaImportError([RowError(
            1, "; ".join(problems) + f" (columns: {expected})", "columns",
            params={"missing": ", ".join(missing), "unknown": ", ".join(unknown),
                    "columns": expected})])
    reader.fieldnames = header
    errors: list[RowError] = []
    rows: list[dict[str, Any]] = []
    first_line: dict[tuple[int, str], int] = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            errors.append(RowError(line, "more values than columns", "extra_values"))
            continue
        try:
            fields = _mahalla_fields({k: v or "" for k, v in row.items()}, districts, demo)
        except MahallaRowError as error:
            first = error.problems[0]
            errors.append(RowError(line, str(first), first.code, first.field, first.params))
            continue
        if only_district is not None and fields["district"] != only_district:
            errors.append(RowError(
                line, f"district_id {fields['district']} is another district; this file is "
                f"for district {only_district}", "other_district", "district_id",
                {"district_id": fields["district"]}))
            continue
        key = (fields["district"], fields["name_uz"].casefold())
        if key in first_line:
            errors.append(RowError(line, f"the same mahalla as line {first_line[key]}",
                                   "duplicate", "name_uz", {"first_line": first_line[key]}))
            continue
        first_line[key] = line
        rows.append(fields)
    if errors:
        raise MahallaImportError(errors)
    if not rows:
        raise MahallaImportError([RowError(1, "the file has no mahallas", "empty")])
    return rows


async def import_mahallas(data: bytes, demo: bool = False, only_district: int | None = None
                          ) -> ImportSummary:
    """Import or update mahallas from CSV, all or nothing. A mahalla already known by its
    district and Uzbek name (in any case, as in the file's own duplicate check) is updated, so
    the same file can be imported again. With `only_district`, the file may hold only that
    district's mahallas."""
    districts = set(await District.select(District.id).output(as_list=True))
    rows = parse_mahalla_csv(data, districts, demo, only_district)
    touched = tuple(sorted({fields["district"] for fields in rows}))
    created = updated = 0
    async with transaction():
        known = {
            (row["district"], row["name_uz"].casefold()): row["id"]
            for row in await Mahalla.select(Mahalla.id, Mahalla.district, Mahalla.name_uz)
            .where(Mahalla.district.is_in(list(touched)))
            .order_by(Mahalla.id, ascending=False)
        }
        for fields in rows:
            existing_id = known.get((fields["district"], fields["name_uz"].casefold()))
            if existing_id is not None:
                await Mahalla.update(_columns(fields)).where(Mahalla.id == existing_id)
                updated += 1
            else:
                await Mahalla.insert(Mahalla(**fields))
                created += 1
        for district_id in touched:
            count = sum(1 for fields in rows if fields["district"] == district_id)
            await ledger.record(
                "geo.mahallas_imported", f"district:{district_id}", {"mahallas": count}
            )
    return ImportSummary(created=created, updated=updated, districts=touched)


# -- mahallas in the browser: national administrators anywhere, district ones in their own ----

async def district_place(district_id: int) -> Place | None:
    """The district as a place for a permission check (None when there is no such district)."""
    row = await District.select(District.region).where(District.id == district_id).first()
    return Place(row["region"], district_id) if row else None


async def pilot_districts_where(actor: Actor, action: Action) -> list[dict[str, Any]]:
    """The pilot districts in which the person may do this, for their links and choices."""
    rows = []
    for district_id in await pilot_district_ids():
        row = await district(district_id)
        if row and allowed(actor, action, Place(row["region"], district_id)):
            rows.append(row)
    return rows


async def _require_places(staff: StaffMember, district_id: int) -> None:
    place = await district_place(district_id)
    if place is None:
        raise MahallaFieldError("district_id", "unknown", f"there is no district {district_id}")
    require(staff, Action.MANAGE_PLACES, place)


async def _refuse_taken_name(district_id: int, name_uz: str, mahalla_id: int | None) -> None:
    """Another mahalla of the district by that Uzbek name, in any case (as an import matches
    them) is refused: it would be the same mahalla twice."""
    for row in await Mahalla.select(Mahalla.id, Mahalla.name_uz).where(
            Mahalla.district == district_id):
        if row["id"] != mahalla_id and row["name_uz"].casefold() == name_uz.casefold():
            raise MahallaRowError([_name_taken(name_uz)])


def _name_taken(name_uz: str) -> MahallaFieldError:
    return MahallaFieldError("name_uz", "taken",
                             f"the district already has a mahalla named {name_uz!r}")


async def add_mahalla(staff: StaffMember, district_id: int, typed: Mapping[str, str]) -> int:
    """A national or district administrator adds one mahalla (the MAHALLA_FIELDS, as in the
    CSV; the Cyrillic name is made from the Latin one when left empty). Raises
    MahallaRowError with every problem; returns the new mahalla's id."""
    await _require_places(staff, district_id)
    fields = _mahalla_fields({**typed, "district_id": str(district_id)}, {district_id},
                             demo=False)
    at = datetime.now(UTC)
    try:
        async with transaction():
            await _refuse_taken_name(district_id, fields["name_uz"], None)
            inserted = await Mahalla.insert(Mahalla(**fields)).returning(Mahalla.id)
            mahalla_id = int(inserted[0]["id"])
            await audit(staff.id, "mahalla.added", f"mahalla:{mahalla_id}", at,
                        {"district_id": district_id})
            await ledger.record("geo.mahalla_added", f"mahalla:{mahalla_id}",
                                {"district": district_id})
    except Exception as error:
        if is_unique_violation(error):
            raise MahallaRowError([_name_taken(fields["name_uz"])]) from None
        raise
    return mahalla_id


async def update_mahalla(staff: StaffMember, mahalla_id: int, typed: Mapping[str, str]
                         ) -> list[str]:
    """Correct a mahalla's names, centre or population (it stays in its district, and a demo
    mahalla stays marked demo). Returns the columns that changed, none when nothing did;
    raises LookupError for an unknown mahalla and MahallaRowError with every problem."""
    current = await mahalla(mahalla_id)
    if current is None:
        raise LookupError(f"there is no mahalla {mahalla_id}")
    district_id = current["district"]
    await _require_places(staff, district_id)
    fields = _mahalla_fields({**typed, "district_id": str(district_id)}, {district_id},
                             demo=current["is_demo"])
    changed = sorted(name for name, value in fields.items() if current[name] != value)
    if not changed:
        return []
    at = datetime.now(UTC)
    try:
        async with transaction():
            await _refuse_taken_name(district_id, fields["name_uz"], mahalla_id)
            await Mahalla.update(_columns({name: fields[name] for name in changed})).where(
                Mahalla.id == mahalla_id)
            await audit(staff.id, "mahalla.changed", f"mahalla:{mahalla_id}", at,
                        {"district_id": district_id, "changed": changed})
            await ledger.record("geo.mahalla_changed", f"mahalla:{mahalla_id}",
                                {"district": district_id, "changed": changed})
    except Exception as error:
        if is_unique_violation(error):
            raise MahallaRowError([_name_taken(fields["name_uz"])]) from None
        raise
    return changed


async def import_district_mahallas(staff: StaffMember, district_id: int, data: bytes
                                   ) -> ImportSummary:
    """A national or district administrator imports a CSV of one district's mahallas: all
    rows or none, a row for another district refused (MahallaImportError)."""
    await _require_places(staff, district_id)
    async with transaction():
        summary = await import_mahallas(data, only_district=district_id)
        await audit(staff.id, "mahallas.imported", f"district:{district_id}",
                    datetime.now(UTC), {"created": summary.created, "updated": summary.updated})
    return summary


async def pilot_district_ids() -> tuple[int, ...]:
    """The pilot districts' ids, as administrators set them (else as configured)."""
    return await administration.pilot_district_ids()


async def is_pilot(district_id: int) -> bool:
    return district_id in await pilot_district_ids()


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres (haversine; plenty for a few kilometres)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


async def pilot_district_at(lat: float, lon: float) -> int | None:
    """The pilot district whose rectangle holds the point, or None outside them all."""
    pilots = await pilot_district_ids()
    holding = [b for district_id, b in district_bounds().items()
               if district_id in pilots and b.contains(lat, lon)]
    if not holding:
        return None
    return min(holding, key=lambda b: distance_m(b.centre, (lat, lon))).district_id


async def nearest_mahalla(district_id: int, lat: float, lon: float) -> dict[str, Any] | None:
    """The mahalla of the district whose centre is nearest the point (None without centres)."""
    located = [m for m in await mahallas_of(district_id) if m["centre_lat"] is not None]
    if not located:
        return None
    return min(located, key=lambda m: distance_m((m["centre_lat"], m["centre_lon"]), (lat, lon)))


async def regions() -> list[dict[str, Any]]:
    return await Region.select().order_by(Region.id)


async def region(region_id: int) -> dict[str, Any] | None:
    return await Region.select().where(Region.id == region_id).first()


async def districts(region_id: int | None = None) -> list[dict[str, Any]]:
    query = District.select().order_by(District.id)
    if region_id is not None:
        query = query.where(District.region == region_id)
    return await query


async def district(district_id: int) -> dict[str, Any] | None:
    return await District.select().where(District.id == district_id).first()


# Letters a Russian keyboard lacks, as people type them instead: Дустлик for Дўстлик.
_RUSSIAN_KEYBOARD = str.maketrans("ўқғҳёэ", "укгхее")


def _letters(text: str) -> str:
    return "".join(
        ch for ch in text.casefold()
        if (ch.isalnum() and ch not in (APOSTROPHE_OKINA, APOSTROPHE_TUTUQ)) or ch == " "
    )


def search_keys(text: str) -> tuple[str, str]:
    """Two forms of a name that ignore script, case and apostrophes: Uzbek Latin, and Cyrillic
    folded to what a Russian keyboard can type."""
    normalised = normalise(text)
    latin = _letters(to_script(normalised, "latn")).strip()
    cyrillic = _letters(to_script(normalised, "cyrl")).translate(_RUSSIAN_KEYBOARD).strip()
    return latin, cyrillic


def _matches(row: dict[str, Any], wanted: tuple[str, str]) -> bool:
    for column in NAME_COLUMNS.values():
        latin, cyrillic = search_keys(row[column] or "")
        if (wanted[0] and wanted[0] in latin) or (wanted[1] and wanted[1] in cyrillic):
            return True
    return False


async def mahalla_page(district_id: int, search: str | None, number: int, per_page: int) -> Page:
    """A district's mahallas by name; `search` matches any language and either Uzbek script.
    A district has at most a few hundred mahallas, so the search runs over all of them here."""
    query = Mahalla.select().where(Mahalla.district == district_id).order_by(
        Mahalla.name_uz, Mahalla.id
    )
    wanted = search_keys(search or "")
    if not any(wanted):
        return await paginate(query, Mahalla.count().where(Mahalla.district == district_id),
                              number, per_page)
    return paginate_items([row for row in await query if _matches(row, wanted)], number,
                          per_page)


async def mahalla_counts(district_ids: Iterable[int]) -> dict[int, int]:
    ids = list(district_ids)
    if not ids:
        return {}
    rows = await Mahalla.select(Mahalla.district, Count(Mahalla.id, alias="n")).where(
        Mahalla.district.is_in(ids)
    ).group_by(Mahalla.district)
    return {row["district"]: row["n"] for row in rows}


async def mahallas_of(district_id: int) -> list[dict[str, Any]]:
    return await Mahalla.select().where(Mahalla.district == district_id).order_by(
        Mahalla.name_uz, Mahalla.id
    )


async def mahalla(mahalla_id: int) -> dict[str, Any] | None:
    return await Mahalla.select().where(Mahalla.id == mahalla_id).first()


async def pilot_districts() -> list[dict[str, Any]]:
    ids = list(await pilot_district_ids())
    if not ids:
        return []
    rows = await District.select(
        District.all_columns(), District.region.all_columns(exclude=[District.region.id])
    ).where(District.id.is_in(ids)).order_by(District.id).output(nested=True)
    return rows
