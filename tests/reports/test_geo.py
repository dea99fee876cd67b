"""The geo helpers reports rely on: which pilot district holds a point, distances, the nearest
mahalla."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ovoz.geo import services as geo
from ovoz.reports import services
from ovoz.reports.services import ReportError
from ovoz.settings import get_settings
from tests.reports.helpers import (
    BERUNIY,
    BERUNIY_POINT,
    BOYSUN,
    CHORTOQ,
    TASHKENT_POINT,
    draft,
    load_demo_mahallas,
    make_resident,
)
from tests.reports.service_helpers import BOYSUN_POINT, CHORTOQ_POINT, mahalla_id, north_of


@pytest.fixture
def without_chortoq(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A deployment whose pilot districts are Beruniy and Boysun only."""
    monkeypatch.setenv("OVOZ_PILOT_DISTRICTS", f"{BERUNIY}, {BOYSUN}")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.parametrize(("point", "district_id"), [
    (BERUNIY_POINT, BERUNIY), (CHORTOQ_POINT, CHORTOQ), (BOYSUN_POINT, BOYSUN),
    (TASHKENT_POINT, None), ((40.1, 65.4), None), ((0.0, 0.0), None),
])
async def test_the_pilot_district_of_a_point(db: str, point: tuple[float, float],
                                             district_id: int | None) -> None:
    assert await geo.pilot_district_at(*point) == district_id


async def test_every_pilot_district_has_a_rectangle_around_its_centre(db: str) -> None:
    bounds = geo.district_bounds()
    for district_id in (BERUNIY, CHORTOQ, BOYSUN):
        rectangle = bounds[district_id]
        assert rectangle.district_id == district_id
        assert rectangle.contains(*rectangle.centre)
        # The edges belong to the rectangle.
        assert rectangle.contains(rectangle.south, rectangle.west)
        assert rectangle.contains(rectangle.north, rectangle.east)
        assert not rectangle.contains(rectangle.north + 0.001, rectangle.east)
        assert await geo.pilot_district_at(*rectangle.centre) == district_id


async def test_a_district_left_out_of_the_pilot_is_ignored(db: str, without_chortoq: None
                                                           ) -> None:
    assert get_settings().pilot_districts == (BERUNIY, BOYSUN)
    assert CHORTOQ in geo.district_bounds()
    assert not await geo.is_pilot(CHORTOQ)
    assert await geo.pilot_district_at(*CHORTOQ_POINT) is None
    assert await geo.pilot_district_at(*BERUNIY_POINT) == BERUNIY


async def test_reports_outside_the_configured_pilot_are_refused(db: str, without_chortoq: None
                                                                ) -> None:
    await load_demo_mahallas()
    author = await make_resident()
    with pytest.raises(ReportError) as caught:
        await services.create_report(author, draft(lat=CHORTOQ_POINT[0], lon=CHORTOQ_POINT[1]))
    assert caught.value.code == "outside_pilot"
    bahor = await mahalla_id(CHORTOQ, "Bahor MFY")
    with pytest.raises(ReportError) as caught:
        await services.create_report(author, draft(lat=None, lon=None, mahalla_id=bahor,
                                                   location_text="By the school"))
    assert caught.value.code == "outside_pilot"
    assert await services.create_report(author, draft()) > 0


def test_distances() -> None:
    one_degree = geo.distance_m((41.0, 60.0), (42.0, 60.0))
    assert one_degree == pytest.approx(111_195, rel=1e-3)
    assert geo.distance_m((42.0, 60.0), (41.0, 60.0)) == pytest.approx(one_degree)
    assert geo.distance_m(BERUNIY_POINT, BERUNIY_POINT) == 0
    # A degree of longitude shrinks with the cosine of the latitude: half of it at 60°.
    assert geo.distance_m((60.0, 10.0), (60.0, 11.0)) == pytest.approx(one_degree / 2, rel=2e-3)
    assert geo.distance_m(BERUNIY_POINT, north_of(BERUNIY_POINT, 250)) == pytest.approx(250)
    # Beruniy to Chortoq, across the country: roughly 940 km as the crow flies.
    assert 900_000 < geo.distance_m(BERUNIY_POINT, CHORTOQ_POINT) < 980_000


async def test_the_nearest_mahalla(db: str) -> None:
    assert await geo.nearest_mahalla(BERUNIY, *BERUNIY_POINT) is None
    await geo.import_mahallas(b"district_id,name_uz\n16,Markaz MFY\n")
    # A mahalla without a centre is never the nearest.
    assert await geo.nearest_mahalla(BERUNIY, *BERUNIY_POINT) is None
    await load_demo_mahallas()
    nearest = await geo.nearest_mahalla(BERUNIY, *north_of((41.6366, 60.8022), 30))
    assert nearest is not None and nearest["name_uz"] == "Obod MFY"
    # Only the district's own mahallas: Chortoq's are far, but the only ones there.
    nearest = await geo.nearest_mahalla(CHORTOQ, *BERUNIY_POINT)
    assert nearest is not None and nearest["district"] == CHORTOQ
