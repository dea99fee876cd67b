"""Lists of reports: an official's queue (their place only, earliest due first) and the public
search (newest first)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ovoz.accounts.permissions import StaffMember
from ovoz.pagination import Page
from ovoz.reports import services
from ovoz.reports.services import Filters
from tests.reports.helpers import (
    BERUNIY,
    BERUNIY_POINT,
    CHORTOQ,
    draft,
    make_official,
)
from tests.reports.service_helpers import (
    BOYSUN_POINT,
    CHORTOQ_POINT,
    category_id,
    mahalla_id,
    make_administrator,
    north_of,
    set_times,
)

# A point at the centre of Obod MFY, kilometres east of BERUNIY_POINT.
OBOD_POINT = (41.6366, 60.8022)


async def report_at(author: int, point: tuple[float, float], category: str = "roads.pothole",
                    due_in_days: float | None = None) -> int:
    report_id = await services.create_report(author, draft(category=category, lat=point[0],
                                                           lon=point[1]))
    if due_in_days is not None:
        await set_times(report_id, due_at=services.now() + timedelta(days=due_in_days))
    return report_id


def ids(page: Page) -> list[int]:
    return [row["id"] for row in page.items]


async def queued(official: StaffMember, **filters: Any) -> list[int]:
    return ids(await services.queue(official, Filters(**filters), 1, 50))


def test_status_groups() -> None:
    assert services.status_group("open") == ["new", "acknowledged", "in_progress"]
    assert services.status_group("closed") == ["fixed", "closed_not_fixed", "duplicate",
                                               "referred"]
    assert services.status_group("referred") == ["referred"]
    assert services.status_group("bogus") is None and services.status_group(None) is None


# -- the queue --------------------------------------------------------------------------------

async def test_the_queue_holds_the_officials_district_earliest_due_first(
        author: int, official: StaffMember) -> None:
    later = await report_at(author, BERUNIY_POINT, due_in_days=9)
    overdue = await report_at(author, BERUNIY_POINT, due_in_days=-2)
    soon = await report_at(author, BERUNIY_POINT, due_in_days=1)
    await report_at(author, CHORTOQ_POINT, due_in_days=-5)
    await report_at(author, BOYSUN_POINT, due_in_days=-5)
    page = await services.queue(official, Filters(), 1, 20)
    assert ids(page) == [overdue, soon, later] and page.total == 3
    second = await services.queue(official, Filters(), 2, 2)
    assert ids(second) == [later] and second.total == 3
    chortoq = await make_official("chortoq", CHORTOQ)
    assert len(await queued(chortoq)) == 1


async def test_a_department_official_queues_their_department_only(
        author: int, official: StaffMember) -> None:
    roads = await services.create_department(official, BERUNIY, "Yoʻl xoʻjaligi")
    await services.set_route(official, BERUNIY, await category_id("roads.pothole"), roads)
    pothole = await report_at(author, BERUNIY_POINT)
    lamp = await report_at(author, BERUNIY_POINT, "lighting")
    roads_official = await make_official("yollar", BERUNIY, roads)
    assert await queued(roads_official) == [pothole]
    assert sorted(await queued(official)) == [pothole, lamp]
    assert await queued(official, department_id=roads) == [pothole]
    assert await services.due_this_week(roads_official, services.now() + timedelta(days=10)
                                        ) == 1


async def test_someone_who_answers_nothing_has_an_empty_queue(author: int) -> None:
    await report_at(author, BERUNIY_POINT)
    administrator = await make_administrator()
    page = await services.queue(administrator, Filters(), 1, 20)
    assert page.items == [] and page.total == 0
    assert await services.due_this_week(administrator) == 0


async def test_queue_filters(author: int, official: StaffMember) -> None:
    pothole = await report_at(author, BERUNIY_POINT, due_in_days=1)
    damaged = await report_at(author, BERUNIY_POINT, "roads.damaged", due_in_days=2)
    lamp = await report_at(author, OBOD_POINT, "lighting", due_in_days=-1)
    fixed = await report_at(author, OBOD_POINT, due_in_days=-3)
    await services.change_status(official, fixed, "fixed", "Filled.")
    assert await queued(official) == [fixed, lamp, pothole, damaged]
    assert await queued(official, status="open") == [lamp, pothole, damaged]
    assert await queued(official, status="closed") == [fixed]
    assert await queued(official, status="fixed") == [fixed]
    assert await queued(official, category="roads") == [fixed, pothole, damaged]
    assert await queued(official, category="roads.damaged") == [damaged]
    obod = await mahalla_id(BERUNIY, "Obod MFY")
    assert await queued(official, mahalla_id=obod) == [fixed, lamp]
    # Overdue: open and past its due time; a closed report is never overdue.
    assert await queued(official, overdue=True) == [lamp]
    assert await queued(official, status="open", category="roads") == [pothole, damaged]


async def test_due_this_week_counts_open_reports_due_within_seven_days(
        author: int, official: StaffMember) -> None:
    now = services.now()
    await report_at(author, BERUNIY_POINT, due_in_days=-1)
    await report_at(author, BERUNIY_POINT, due_in_days=6.9)
    await report_at(author, BERUNIY_POINT, due_in_days=7.1)
    fixed = await report_at(author, BERUNIY_POINT, due_in_days=2)
    await services.change_status(official, fixed, "fixed", "Filled.")
    await report_at(author, CHORTOQ_POINT, due_in_days=1)
    assert await services.due_this_week(official, now) == 2
    assert await services.due_this_week(official, now + timedelta(days=1)) == 3


# -- the public search ------------------------------------------------------------------------

async def test_search_lists_newest_first_with_filters(author: int,
                                                      official: StaffMember) -> None:
    start = services.now() - timedelta(days=10)
    oldest = await report_at(author, BERUNIY_POINT)
    chortoq = await report_at(author, CHORTOQ_POINT, "water")
    lamp = await report_at(author, OBOD_POINT, "lighting")
    newest = await report_at(author, BERUNIY_POINT, "roads.damaged")
    for days, report_id in enumerate((oldest, chortoq, lamp, newest)):
        await set_times(report_id, registered_at=start + timedelta(days=days))
    await services.change_status(official, lamp, "fixed", "New lamp.")

    async def found(**filters: Any) -> list[int]:
        return ids(await services.search(Filters(**filters), 1, 20))

    page = await services.search(Filters(), 1, 20)
    assert ids(page) == [newest, lamp, chortoq, oldest] and page.total == 4
    assert ids(await services.search(Filters(), 2, 3)) == [oldest]
    assert await found(district_id=BERUNIY) == [newest, lamp, oldest]
    assert await found(district_id=CHORTOQ) == [chortoq]
    assert await found(category="roads") == [newest, oldest]
    assert await found(category="water") == [chortoq]
    assert await found(status="closed") == [lamp]
    assert await found(status="open") == [newest, chortoq, oldest]
    assert await found(since=start + timedelta(days=1), until=start + timedelta(days=3)) == [
        lamp, chortoq]
    assert await found(mahalla_id=await mahalla_id(BERUNIY, "Obod MFY")) == [lamp]


async def test_search_within_a_box(author: int) -> None:
    here = await report_at(author, BERUNIY_POINT)
    near = await report_at(author, north_of(BERUNIY_POINT, 500))
    await report_at(author, OBOD_POINT)
    await report_at(author, CHORTOQ_POINT)
    lat, lon = BERUNIY_POINT
    # west, south, east, north: a box of about a kilometre around the point.
    box = (lon - 0.006, lat - 0.005, lon + 0.006, lat + 0.005)
    page = await services.search(Filters(bbox=box), 1, 20)
    assert sorted(ids(page)) == [here, near] and page.total == 2
    assert ids(await services.search(Filters(bbox=(lon - 0.006, lat - 0.005, lon + 0.006,
                                                   lat + 0.002)), 1, 20)) == [here]
