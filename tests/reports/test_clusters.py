"""The map's GeoJSON: points when few, grid clusters when many, filters, and bad boxes."""

from __future__ import annotations

import math
import random
import secrets
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from ovoz.i18n import locale
from ovoz.reports import clusters, services
from ovoz.reports.services import Filters
from ovoz.reports.tables import Report
from tests.reports.helpers import BERUNIY, BERUNIY_POINT, make_resident

BERUNIY_BOX = (60.35, 41.35, 61.40, 42.10)
CHORTOQ_POINT = (41.07, 71.82)
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def english() -> Iterator[None]:
    token = locale.current_language.set("en")
    yield
    locale.current_language.reset(token)


async def add_reports(points: list[tuple[float, float]], category: str = "roads.pothole",
                      status: str = "new", at: datetime = START) -> list[int]:
    """Reports written straight to the table: the map reads only the table."""
    author = await make_resident(f"+99890{secrets.randbelow(10**7):07d}")
    found = await services.category_by_code(category)
    assert found is not None
    rows = await Report.insert(*[
        Report(category=found["id"], district=BERUNIY, lat=lat, lon=lon,
               description="A problem on the map.", author=author, status=status,
               registered_at=at, due_at=at + timedelta(days=15), updated_at=at,
               token=secrets.token_urlsafe(24))
        for lat, lon in points
    ]).returning(Report.id)
    return [row["id"] for row in rows]


def around(centre: tuple[float, float], n: int, spread: float, seed: int
           ) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(centre[0] + rng.uniform(-spread, spread), centre[1] + rng.uniform(-spread, spread))
            for _ in range(n)]


async def test_few_reports_are_points_with_public_properties(db: str, english: None) -> None:
    ids = await add_reports([BERUNIY_POINT, (41.70, 60.76)])
    [closed] = await add_reports([(41.71, 60.77)], category="lighting", status="fixed")
    collection = await clusters.features(BERUNIY_BOX, 12, Filters())
    assert collection.is_valid
    features = collection["features"]
    assert [f["id"] for f in features] == [*ids, closed]
    first = features[0]
    assert first["geometry"] == {"type": "Point", "coordinates": [60.752, 41.69]}
    assert first["properties"] == {
        "id": ids[0], "category": "roads.pothole", "category_name": "Pothole", "status": "new",
        "status_label": "New", "supporters": 0, "url": f"/reports/{ids[0]}",
    }
    assert features[2]["properties"]["status_label"] == "Fixed"


async def test_names_and_labels_follow_the_reader_language(db: str) -> None:
    await add_reports([BERUNIY_POINT])
    token = locale.current_language.set("ru")
    try:
        collection = await clusters.features(BERUNIY_BOX, 12, Filters())
    finally:
        locale.current_language.reset(token)
    properties = collection["features"][0]["properties"]
    assert properties["category_name"] == "Яма на дороге"
    assert properties["status_label"] == "Новое"


async def test_only_reports_inside_the_box(db: str) -> None:
    inside = await add_reports([BERUNIY_POINT])
    await add_reports([CHORTOQ_POINT])
    collection = await clusters.features(BERUNIY_BOX, 12, Filters())
    assert [f["id"] for f in collection["features"]] == inside


async def test_many_reports_are_counted_in_grid_cells(db: str, english: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clusters, "MAX_POINTS", 5)
    town = around(BERUNIY_POINT, 30, 0.01, seed=1)
    village = around((41.95, 61.20), 12, 0.01, seed=2)
    await add_reports(town + village)
    collection = await clusters.features(BERUNIY_BOX, 10, Filters())
    assert collection.is_valid
    features = collection["features"]
    assert all(f["properties"]["cluster"] is True for f in features)
    assert sum(f["properties"]["count"] for f in features) == 42
    assert len(features) >= 2
    for feature in features:
        west, south, east, north = feature["properties"]["bbox"]
        lon, lat = feature["geometry"]["coordinates"]
        assert west - 1e-6 <= lon <= east + 1e-6 and south - 1e-6 <= lat <= north + 1e-6
        count = feature["properties"]["count"]
        assert feature["properties"]["label"] == f"{count} report" + ("" if count == 1 else "s")


async def test_cells_are_the_floor_of_the_grid_on_every_engine(
        db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL's CAST rounds where SQLite's truncates; both must put a report in the cell
    that math.floor gives, also just either side of a cell's edge."""
    monkeypatch.setattr(clusters, "MAX_POINTS", 0)
    box = (-20.0, -20.0, 20.0, 20.0)
    zoom = clusters.grid_zoom(box, clusters.MAX_ZOOM)
    size = clusters.cell_microdegrees(zoom) / 1e6

    def cell(lat: float, lon: float) -> tuple[int, int]:
        return math.floor((lon + 180) / size), math.floor((lat + 90) / size)

    rng = random.Random(7)
    points = []
    for _ in range(60):
        column, row = cell(rng.uniform(-19, 19), rng.uniform(-19, 19))
        west, south = column * size - 180, row * size - 90
        # A tenth of a cell either side of the east edge: rounding would put both in one cell.
        points += [(south + size / 2, west + size * 0.9), (south + size / 2, west + size * 1.1)]
    await add_reports(points)
    collection = await clusters.features(box, zoom, Filters())

    expected = Counter(cell(lat, lon) for lat, lon in points)
    found: Counter[tuple[int, int]] = Counter()
    for feature in collection["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        column, row = cell(lat, lon)
        edges = [column * size - 180, row * size - 90, (column + 1) * size - 180,
                 (row + 1) * size - 90]
        assert feature["properties"]["bbox"] == pytest.approx(edges, abs=1e-6)
        found[column, row] += feature["properties"]["count"]
    assert found == expected


async def test_filters(db: str) -> None:
    pothole = await add_reports([BERUNIY_POINT], at=START)
    bridge = await add_reports([(41.70, 60.76)], category="roads.bridge", status="in_progress",
                               at=START + timedelta(days=10))
    lamp = await add_reports([(41.71, 60.77)], category="lighting", status="fixed",
                             at=START + timedelta(days=20))

    async def ids(**filters: object) -> list[int]:
        collection = await clusters.features(BERUNIY_BOX, 12, Filters(**filters))
        return [f["id"] for f in collection["features"]]

    assert await ids(category="roads.pothole") == pothole
    assert await ids(category="roads") == pothole + bridge
    assert await ids(status="open") == pothole + bridge
    assert await ids(status="closed") == lamp
    assert await ids(status="in_progress") == bridge
    assert await ids(category="roads", status="new") == pothole
    assert await ids(since=START + timedelta(days=5)) == bridge + lamp
    assert await ids(until=START + timedelta(days=10)) == pothole
    assert await ids(since=START + timedelta(days=5), until=START + timedelta(days=15)) == bridge


async def test_filters_apply_to_clusters(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clusters, "MAX_POINTS", 3)
    await add_reports(around(BERUNIY_POINT, 10, 0.01, seed=3), status="new")
    await add_reports(around(BERUNIY_POINT, 7, 0.01, seed=4), category="lighting",
                      status="fixed")
    open_only = await clusters.features(BERUNIY_BOX, 8, Filters(status="open"))
    assert sum(f["properties"]["count"] for f in open_only["features"]) == 10
    lighting = await clusters.features(BERUNIY_BOX, 8, Filters(category="lighting"))
    assert sum(f["properties"]["count"] for f in lighting["features"]) == 7


@pytest.mark.parametrize("text", [
    "", "1,2,3", "1,2,3,4,5", "a,b,c,d", "61,41,60,42", "60,42,61,41", "60,41,60,42",
    "-181,41,61,42", "60,41,181,42", "60,-91,61,42", "60,41,61,91", "nan,41,61,42",
    "60,41,inf,42",
])
def test_bad_boxes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"^bbox: "):
        clusters.parse_bbox(text)


def test_a_good_box_is_read() -> None:
    assert clusters.parse_bbox("60.35, 41.35,61.4,42.1") == BERUNIY_BOX
    assert clusters.parse_bbox("-180,-90,180,90") == clusters.WORLD


async def test_bad_queries_are_refused(db: str) -> None:
    with pytest.raises(ValueError, match=r"^bbox: "):
        await clusters.features((61.0, 41.0, 60.0, 42.0), 12, Filters())
    with pytest.raises(ValueError, match=r"^zoom: "):
        await clusters.features(BERUNIY_BOX, 20, Filters())
    with pytest.raises(ValueError, match=r"^status: "):
        await clusters.features(BERUNIY_BOX, 12, Filters(status="lost"))
    with pytest.raises(ValueError, match=r"^category: "):
        await clusters.features(BERUNIY_BOX, 12, Filters(category="unicorns"))


async def test_defaults_cover_the_pilot_districts(db: str) -> None:
    west, south, east, north = await clusters.pilot_bbox()
    for lat, lon in (BERUNIY_POINT, CHORTOQ_POINT, (38.206, 67.199)):
        assert west <= lon <= east and south <= lat <= north
    assert clusters.zoom_for(clusters.WORLD) == 2
    assert clusters.zoom_for(BERUNIY_BOX) == 10
    assert clusters.zoom_for((60.0, 41.0, 60.000001, 41.000001)) == clusters.MAX_ZOOM
    assert 180_000_000 / clusters.cell_microdegrees(clusters.MAX_ZOOM) < clusters.CELL_ROWS


async def test_the_grid_stays_small_for_a_big_box_at_a_high_zoom(
        db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clusters, "MAX_POINTS", 5)
    await add_reports(around(BERUNIY_POINT, 40, 0.3, seed=5))
    collection = await clusters.features(clusters.WORLD, 19, Filters())
    assert sum(f["properties"]["count"] for f in collection["features"]) == 40
    assert len(collection["features"]) == 1
    assert clusters.grid_zoom(BERUNIY_BOX, 12) == 12
    assert clusters.grid_zoom(BERUNIY_BOX, 19) == 12
    assert clusters.grid_zoom(clusters.WORLD, 19) == 3
