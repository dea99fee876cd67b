"""Reporting a problem: validation, location, routing, photos, following, the ledger, the daily
limit; and the "is it already reported?" look-up."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from ovoz.accountability import clock
from ovoz.accountability import services as accountability
from ovoz.geo import services as geo
from ovoz.ledger.services import timestamp_text
from ovoz.notify import services as notify
from ovoz.reports import services, storage
from ovoz.reports.services import ReportError
from ovoz.reports.tables import Category, Photo, Report
from tests.reports.helpers import (
    BERUNIY,
    BERUNIY_POINT,
    CHORTOQ,
    NEAR_BERUNIY_POINT,
    TASHKENT_POINT,
    draft,
    load_demo_mahallas,
    make_official,
    make_resident,
    photo,
)
from tests.reports.service_helpers import (
    CHORTOQ_POINT,
    category_id,
    ledger_entries,
    mahalla_id,
    north_of,
    report_row,
    sized_photo,
)

AMUDARYO = 15


@pytest.fixture
async def places(db: str) -> None:
    await load_demo_mahallas()


@pytest.fixture
async def three_day_lighting(db: str) -> AsyncIterator[None]:
    """Street lighting answered in 3 days (the shipped categories all say 15)."""
    original = await Category.select(Category.response_days).where(
        Category.code == "lighting").first()
    assert original is not None
    await Category.update({Category.response_days: 3}).where(Category.code == "lighting")
    yield
    await Category.update({Category.response_days: original["response_days"]}).where(
        Category.code == "lighting")


async def refused(code: str, resident_id: int, report: services.Draft) -> ReportError:
    with pytest.raises(ReportError) as caught:
        await services.create_report(resident_id, report)
    assert caught.value.code == code
    return caught.value


# -- validation -------------------------------------------------------------------------------

async def test_an_unknown_category_is_refused(places: None) -> None:
    author = await make_resident()
    error = await refused("unknown_category", author, draft(category="roads.nonsense"))
    assert error.field == "category"
    assert await Report.count() == 0


async def test_the_description_is_measured_after_its_spaces_are_tidied(places: None) -> None:
    author = await make_resident()
    error = await refused("description_too_short", author,
                          draft(description="  deep      hole   "))
    assert error.field == "description"
    await refused("description_too_long", author, draft(description="x" * 2001))
    shortest = await services.create_report(author, draft(description="  deep  holes  "))
    longest = await services.create_report(author, draft(description="y" * 2000))
    assert (await report_row(shortest))["description"] == "deep holes"
    assert len((await report_row(longest))["description"]) == 2000


async def test_at_most_three_photos(places: None) -> None:
    author = await make_resident()
    error = await refused("too_many_photos", author, draft(photos=[photo()] * 4))
    assert error.field == "photos"
    assert await Report.count() == 0


@pytest.mark.parametrize("point", [(math.nan, 60.75), (41.69, math.inf), (91.0, 60.75),
                                   (41.69, 181.0)])
async def test_an_impossible_point_is_no_location(places: None, point: tuple[float, float]
                                                  ) -> None:
    author = await make_resident()
    error = await refused("no_location", author, draft(lat=point[0], lon=point[1]))
    assert error.field == "location"


async def test_a_point_outside_every_pilot_district_is_refused(places: None) -> None:
    author = await make_resident()
    error = await refused("outside_pilot", author,
                          draft(lat=TASHKENT_POINT[0], lon=TASHKENT_POINT[1]))
    assert error.field == "location"
    assert await Report.count() == 0


async def test_without_a_point_or_a_mahalla_there_is_no_location(places: None) -> None:
    author = await make_resident()
    error = await refused("no_location", author, draft(lat=None, lon=None))
    assert error.field == "location"


# -- location ---------------------------------------------------------------------------------

async def test_the_mahalla_is_the_nearest_to_the_point(places: None) -> None:
    author = await make_resident()
    # 40 m from the centre of Obod MFY, kilometres from every other demo mahalla.
    near_obod = north_of((41.6366, 60.8022), 40)
    report_id = await services.create_report(author, draft(lat=near_obod[0], lon=near_obod[1]))
    row = await report_row(report_id)
    assert row["district"] == BERUNIY
    assert row["mahalla"] == await mahalla_id(BERUNIY, "Obod MFY")
    assert (row["lat"], row["lon"]) == near_obod and row["point_exact"] is True
    near_bahor = (41.0207, 71.8527)
    report_id = await services.create_report(author, draft(lat=near_bahor[0], lon=near_bahor[1]))
    row = await report_row(report_id)
    assert row["district"] == CHORTOQ
    assert row["mahalla"] == await mahalla_id(CHORTOQ, "Bahor MFY")


async def test_the_chosen_mahalla_is_kept_when_it_is_in_the_same_district(places: None) -> None:
    author = await make_resident()
    navbahor = await mahalla_id(BERUNIY, "Navbahor MFY")  # 4 km from the point
    report_id = await services.create_report(author, draft(mahalla_id=navbahor))
    assert (await report_row(report_id))["mahalla"] == navbahor


async def test_a_chosen_mahalla_of_another_district_gives_way_to_the_nearest(places: None
                                                                              ) -> None:
    author = await make_resident()
    bahor = await mahalla_id(CHORTOQ, "Bahor MFY")
    report_id = await services.create_report(author, draft(mahalla_id=bahor))
    row = await report_row(report_id)
    nearest = await geo.nearest_mahalla(BERUNIY, *BERUNIY_POINT)
    assert nearest is not None and nearest["district"] == BERUNIY
    assert row["district"] == BERUNIY and row["mahalla"] == nearest["id"]


async def test_a_district_without_mahallas_leaves_the_mahalla_empty(db: str) -> None:
    author = await make_resident()
    report_id = await services.create_report(author, draft())
    row = await report_row(report_id)
    assert row["district"] == BERUNIY and row["mahalla"] is None


async def test_a_mahalla_only_report_is_drawn_at_the_mahalla_centre(places: None) -> None:
    author = await make_resident()
    guliston = await mahalla_id(BERUNIY, "Guliston MFY")
    report_id = await services.create_report(author, draft(
        lat=None, lon=None, mahalla_id=guliston, location_text="  Behind   the bazaar  "))
    row = await report_row(report_id)
    assert (row["lat"], row["lon"]) == (41.6599, 60.7591)
    assert row["point_exact"] is False
    assert row["district"] == BERUNIY and row["mahalla"] == guliston
    assert row["location_text"] == "Behind the bazaar"


async def test_a_mahalla_only_report_needs_words_for_the_place(places: None) -> None:
    author = await make_resident()
    guliston = await mahalla_id(BERUNIY, "Guliston MFY")
    error = await refused("no_location", author, draft(lat=None, lon=None, mahalla_id=guliston,
                                                        location_text="   "))
    assert error.field == "location_text"
    error = await refused("unknown_mahalla", author, draft(lat=None, lon=None,
                                                           mahalla_id=guliston + 10_000,
                                                           location_text="By the school"))
    assert error.field == "mahalla_id"


async def test_a_mahalla_without_a_centre_uses_the_district_centre(db: str) -> None:
    await geo.import_mahallas(b"district_id,name_uz\n16,Markaz MFY\n")
    markaz = await mahalla_id(BERUNIY, "Markaz MFY")
    author = await make_resident()
    report_id = await services.create_report(author, draft(
        lat=None, lon=None, mahalla_id=markaz, location_text="Near the mosque"))
    row = await report_row(report_id)
    district = await geo.district(BERUNIY)
    assert district is not None
    assert (row["lat"], row["lon"]) == (district["centre_lat"], district["centre_lon"])
    assert row["point_exact"] is False and row["mahalla"] == markaz


async def test_a_mahalla_outside_the_pilot_districts_is_refused(db: str) -> None:
    # Amudaryo, Beruniy's neighbour, is not a pilot district.
    assert not await geo.is_pilot(AMUDARYO)
    await geo.import_mahallas("district_id,name_uz,latitude,longitude\n"
                              f"{AMUDARYO},Chetdagi MFY,42.3,60.0\n".encode())
    elsewhere = await mahalla_id(AMUDARYO, "Chetdagi MFY")
    author = await make_resident()
    error = await refused("outside_pilot", author, draft(lat=None, lon=None, mahalla_id=elsewhere,
                                                         location_text="By the canal"))
    assert error.field == "mahalla_id"


# -- routing, deadline, photos, following, ledger ---------------------------------------------

async def test_a_report_goes_to_the_department_routed_for_its_district_and_category(
        places: None) -> None:
    hokimiyat = await make_official()
    roads = await services.create_department(hokimiyat, BERUNIY, "Yoʻl xoʻjaligi")
    chortoq_hokimiyat = await make_official("chortoq", CHORTOQ)
    chortoq_water = await services.create_department(chortoq_hokimiyat, CHORTOQ, "Suvoqova")
    await services.set_route(hokimiyat, BERUNIY, await category_id("roads.pothole"), roads)
    await services.set_route(chortoq_hokimiyat, CHORTOQ, await category_id("water"),
                             chortoq_water)
    author = await make_resident()
    pothole = await services.create_report(author, draft())
    water = await services.create_report(author, draft(category="water"))
    chortoq_pothole = await services.create_report(author, draft(lat=CHORTOQ_POINT[0],
                                                                 lon=CHORTOQ_POINT[1]))
    assert (await report_row(pothole))["department"] == roads
    # Water is routed in Chortoq only: in Beruniy the hokimiyat itself answers it.
    assert (await report_row(water))["department"] is None
    assert (await report_row(chortoq_pothole))["department"] is None


async def test_the_answer_is_due_after_the_category_response_days(places: None,
                                                                  three_day_lighting: None
                                                                  ) -> None:
    author = await make_resident()
    before = services.now()
    lighting = await services.create_report(author, draft(category="lighting"))
    pothole = await services.create_report(author, draft())
    row = await report_row(lighting)
    assert before <= row["registered_at"] <= services.now()
    assert row["due_at"] == clock.due_after(row["registered_at"], days=3)
    row = await report_row(pothole)
    assert row["due_at"] == clock.due_after(row["registered_at"], days=15)
    # The end of the fifteenth day after registration, or of the next working day.
    assert timedelta(days=15) <= row["due_at"] - row["registered_at"] < timedelta(days=20)
    obligation = await accountability.obligation(accountability.REPORT, pothole)
    assert obligation is not None and obligation["due_at"] == row["due_at"]
    assert obligation["registered_at"] == row["registered_at"]
    assert row["status"] == "new" and row["first_response_at"] is None
    assert row["resolved_at"] is None and row["supporters"] == 0


async def test_photos_are_stored_in_both_sizes_and_listed_in_order(places: None) -> None:
    author = await make_resident()
    first, second = sized_photo(640, 480), sized_photo(800, 600)
    report_id = await services.create_report(author, draft(photos=[first, second]))
    photos = (await report_row(report_id))["photos"]
    assert [(p["width"], p["height"]) for p in photos] == [(first.width, first.height),
                                                           (second.width, second.height)]
    assert photos[0]["name"] != photos[1]["name"]
    for row in photos:
        assert row["update"] is None
        assert storage.path_of(row["name"], "full").read_bytes() in (first.data, second.data)
        assert storage.path_of(row["name"], "thumb").is_file()
    assert await Photo.count() == 2


async def test_a_report_without_photos_has_none(places: None) -> None:
    author = await make_resident()
    report_id = await services.create_report(author, draft())
    assert (await report_row(report_id))["photos"] == []


async def test_the_author_follows_their_report(places: None) -> None:
    author = await make_resident()
    report_id = await services.create_report(author, draft())
    assert await notify.followers(f"report:{report_id}") == [author]


async def test_the_ledger_records_the_report_without_personal_data(places: None) -> None:
    author = await make_resident("+998907654321", "Shahnoza Karimova")
    report_id = await services.create_report(author, draft(
        description="Pothole outside house 12, call me on +998907654321", hide_name=True))
    [entry] = await ledger_entries("reports.created")
    assert entry["subject"] == f"report:{report_id}"
    row = await report_row(report_id)
    assert entry["payload"] == {
        "category": "roads.pothole", "district": BERUNIY, "mahalla": row["mahalla"],
        "department": None, "due_at": timestamp_text(row["due_at"]),
    }
    for personal in ("998907654321", "Shahnoza", "Pothole outside", "author", "resident"):
        assert personal not in entry["raw"]


async def test_the_source_and_hidden_name_are_kept(places: None) -> None:
    author = await make_resident()
    report_id = await services.create_report(author, draft(hide_name=True, source="api"))
    row = await report_row(report_id)
    assert row["hide_name"] is True and row["source"] == "api"
    assert services.public_name(row) is None


async def test_a_resident_may_report_twenty_times_a_day(places: None) -> None:
    author = await make_resident()
    neighbour = await make_resident("+998901234568", "Aziz")
    for _ in range(services.REPORTS_PER_DAY):
        await services.create_report(author, draft())
    error = await refused("too_many_reports", author, draft())
    assert 0 < error.retry_after <= 86400
    assert await Report.count() == services.REPORTS_PER_DAY
    # The limit is each resident's own.
    await services.create_report(neighbour, draft())


# -- already reported? ------------------------------------------------------------------------

async def test_nearby_open_lists_the_same_category_nearest_first(places: None) -> None:
    author = await make_resident()
    official = await make_official()

    async def at(point: tuple[float, float], category: str = "roads.pothole") -> int:
        return await services.create_report(author, draft(category=category, lat=point[0],
                                                          lon=point[1]))

    hundred = await at(NEAR_BERUNIY_POINT)
    fifty = await at(north_of(BERUNIY_POINT, 50))
    await at(BERUNIY_POINT, "lighting")
    await at(north_of(BERUNIY_POINT, 300))
    closed = await at(BERUNIY_POINT)
    await services.change_status(official, closed, "fixed", "Filled with asphalt.")
    acknowledged = await at(north_of(BERUNIY_POINT, 200))
    await services.change_status(official, acknowledged, "acknowledged", "Seen.")
    near = await services.nearby_open("roads.pothole", *BERUNIY_POINT)
    assert [row["id"] for row in near] == [fifty, hundred, acknowledged]
    assert [row["distance_m"] for row in near] == [50, 100, 200]
    assert {row["category_code"] for row in near} == {"roads.pothole"}
    assert await services.nearby_open("water", *BERUNIY_POINT) == []
    assert [row["id"] for row in await services.nearby_open(
        "roads.pothole", *BERUNIY_POINT, limit=1)] == [fifty]
