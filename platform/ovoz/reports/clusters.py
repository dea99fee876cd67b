"""The reports map as GeoJSON: one point per report when the view holds few, otherwise counts
in grid cells, so a country-wide view of 100,000 reports sends a handful of features.

Both queries are plain SQL that SQLite and PostgreSQL run alike. The grid is counted by the
database and is anchored at (-180, -90), so a cell stays put while the map is panned.
"""

from __future__ import annotations

import math
from datetime import UTC
from typing import Any

import geojson

from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.reports import services
from ovoz.reports.tables import Report

BBox = tuple[float, float, float, float]  # west, south, east, north, in degrees

MAX_POINTS = 400
MAX_ZOOM = 19
# A cluster stands for what lies within about this many screen pixels of 256-pixel tiles.
CELL_PIXELS = 60
TILE_PIXELS = 256
# Without a zoom from the client, the view is taken to be about this wide.
DEFAULT_VIEW_PIXELS = 1024
# A grid at most this many cells across (a 4K screen), whatever box and zoom are asked for, so a
# request for the world at street level cannot make a feature of every report.
MAX_CELLS_ACROSS = 64
WORLD: BBox = (-180.0, -90.0, 180.0, 90.0)
# More rows of cells than the finest grid has (180 degrees in cells of zoom 19).
CELL_ROWS = 2**22


class InvalidQuery(ValueError):
    """A map query that cannot be answered; `field` names the parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def check_bbox(bbox: tuple[float, ...]) -> BBox:
    if len(bbox) != 4:
        raise InvalidQuery("bbox", "give four numbers: west,south,east,north")
    west, south, east, north = bbox
    if not all(math.isfinite(value) for value in bbox):
        raise InvalidQuery("bbox", "every value must be a finite number of degrees")
    if not -180 <= west < east <= 180:
        raise InvalidQuery("bbox", "longitudes must satisfy -180 <= west < east <= 180")
    if not -90 <= south < north <= 90:
        raise InvalidQuery("bbox", "latitudes must satisfy -90 <= south < north <= 90")
    return west, south, east, north


def parse_bbox(text: str) -> BBox:
    """"west,south,east,north" in degrees, as in the map's query string."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise InvalidQuery("bbox", "give four numbers: west,south,east,north") from None
    return check_bbox(values)


async def pilot_bbox() -> BBox:
    """The rectangle around every pilot district (the world when none has bounds)."""
    pilots = await geo.pilot_district_ids()
    bounds = [b for district_id, b in geo.district_bounds().items() if district_id in pilots]
    if not bounds:
        return WORLD
    return (min(b.west for b in bounds), min(b.south for b in bounds),
            max(b.east for b in bounds), max(b.north for b in bounds))


def zoom_for(bbox: BBox) -> int:
    """The zoom at which the box is about DEFAULT_VIEW_PIXELS wide."""
    width = bbox[2] - bbox[0]
    zoom = math.floor(math.log2(360 / width * DEFAULT_VIEW_PIXELS / TILE_PIXELS))
    return max(0, min(MAX_ZOOM, zoom))


def cell_microdegrees(zoom: int) -> int:
    return round(360 / 2**zoom / TILE_PIXELS * CELL_PIXELS * 1_000_000)


def grid_zoom(bbox: BBox, zoom: int) -> int:
    """The zoom itself, or a lower one when its grid would be too fine for the box."""
    side = max(bbox[2] - bbox[0], bbox[3] - bbox[1]) * 1_000_000
    while zoom > 0 and side / cell_microdegrees(zoom) > MAX_CELLS_ACROSS:
        zoom -= 1
    return zoom


def _placeholders(values: list[Any]) -> str:
    return ", ".join("{}" for _ in values)


def _conditions(bbox: BBox, filters: services.Filters, category_ids: list[int] | None
                ) -> tuple[str, list[Any]]:
    west, south, east, north = bbox
    clauses = ["r.lat >= {}", "r.lat <= {}", "r.lon >= {}", "r.lon <= {}"]
    args: list[Any] = [south, north, west, east]
    if category_ids is not None:
        clauses.append(f"r.category IN ({_placeholders(category_ids)})")
        args += category_ids
    statuses = services.status_group(filters.status)
    if statuses is not None:
        clauses.append(f"r.status IN ({_placeholders(statuses)})")
        args += statuses
    if filters.since is not None:
        clauses.append("r.registered_at >= {}")
        args.append(filters.since.astimezone(UTC))
    if filters.until is not None:
        clauses.append("r.registered_at < {}")
        args.append(filters.until.astimezone(UTC))
    return " AND ".join(clauses), args


def _cell_query(where: str) -> str:
    # A cell is found by integer division of whole microdegrees counted from (-180, -90):
    # floor on both engines, where casting a fraction truncates in SQLite but rounds in
    # PostgreSQL (so the two may differ for a report within 0.1 m of a cell's edge). One
    # integer per cell, column * CELL_ROWS + row, groups faster than two in SQLite.
    return (
        f"SELECT CAST((r.lon + 180.0) * 1000000 AS BIGINT) / {{}} * {CELL_ROWS} "
        "+ CAST((r.lat + 90.0) * 1000000 AS BIGINT) / {} AS cell, "
        "COUNT(*) AS n, AVG(r.lat) AS lat, AVG(r.lon) AS lon "
        f"FROM reports_report r WHERE {where} GROUP BY 1"
    )


def _point(row: dict[str, Any], category: dict[str, Any]) -> geojson.Feature:
    return geojson.Feature(
        id=row["id"],
        geometry=geojson.Point((row["lon"], row["lat"])),
        properties={
            "id": row["id"],
            "category": category["code"],
            "category_name": locale.localised_name(category),
            "status": row["status"],
            "status_label": locale.gettext(services.STATUS_LABELS[row["status"]]),
            "supporters": row["supporters"],
            "url": f"/reports/{row['id']}",
        },
    )


def _cluster(row: dict[str, Any], cell: int) -> geojson.Feature:
    count = int(row["n"])
    size = cell / 1_000_000
    column, line = divmod(row["cell"], CELL_ROWS)
    west, south = column * size - 180, line * size - 90
    return geojson.Feature(
        geometry=geojson.Point((row["lon"], row["lat"])),
        properties={
            "cluster": True,
            "count": count,
            "bbox": [round(west, 6), round(south, 6), round(min(180.0, west + size), 6),
                     round(min(90.0, south + size), 6)],
            "label": locale.ngettext("%(num)s report", "%(num)s reports", count),
        },
    )


async def features(bbox: BBox, zoom: int, filters: services.Filters
                   ) -> geojson.FeatureCollection:
    """The reports in the box matching the filters' category (code or group), status (one, or
    "open"/"closed") and since/until (on registered_at); other filters are not applied."""
    bbox = check_bbox(tuple(bbox))
    if not 0 <= zoom <= MAX_ZOOM:
        raise InvalidQuery("zoom", f"must be a whole number from 0 to {MAX_ZOOM}")
    if filters.status is not None and services.status_group(filters.status) is None:
        raise InvalidQuery("status", "one of open, closed, " + ", ".join(services.STATUSES))
    categories = {row["id"]: row for row in await services.categories()}
    category_ids = None
    if filters.category:
        category_ids = [row["id"] for row in categories.values()
                        if filters.category in (row["code"], row["group"])]
        if not category_ids:
            raise InvalidQuery("category", f"no category or group {filters.category!r}")
    where, args = _conditions(bbox, filters, category_ids)
    # Fetching one more than the limit says whether there are too many, without counting them.
    rows = await Report.raw(
        f"SELECT r.id, r.category, r.status, r.supporters, r.lat, r.lon FROM reports_report r "
        f"WHERE {where} LIMIT {{}}", *args, MAX_POINTS + 1)
    if len(rows) <= MAX_POINTS:
        rows.sort(key=lambda row: row["id"])
        return geojson.FeatureCollection([_point(row, categories[row["category"]])
                                          for row in rows])
    cell = cell_microdegrees(grid_zoom(bbox, zoom))
    cells = await Report.raw(_cell_query(where), cell, cell, *args)
    return geojson.FeatureCollection([_cluster(row, cell) for row in cells])
