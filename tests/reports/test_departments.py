"""A district's departments and which of them answers each category: the whole district's
officials and administrators manage them, a department's own official does not."""

from __future__ import annotations

import asyncio

import pytest

from ovoz.accounts.permissions import PermissionDenied, StaffMember
from ovoz.reports import services
from ovoz.reports.services import ReportError
from ovoz.reports.tables import Department, Routing
from tests.reports.helpers import BERUNIY, BOYSUN, CHORTOQ, make_official
from tests.reports.service_helpers import category_id, ledger_entries, make_administrator


async def test_a_district_official_creates_a_department(official: StaffMember) -> None:
    roads = await services.create_department(official, BERUNIY, "  Yoʻl   xoʻjaligi ",
                                             "Дорожное  хозяйство", "Roads")
    department = await services.department(roads)
    assert department is not None
    assert (department["district"], department["name_uz"], department["name_ru"],
            department["name_en"]) == (BERUNIY, "Yoʻl xoʻjaligi", "Дорожное хозяйство", "Roads")
    assert department["name_uz_cyrl"] == "Йўл хўжалиги"
    assert [d["id"] for d in await services.departments(BERUNIY)] == [roads]
    assert await services.departments(CHORTOQ) == []
    [entry] = await ledger_entries("reports.department_created")
    assert entry["subject"] == f"department:{roads}"
    assert entry["payload"] == {"district": BERUNIY}


async def test_the_same_name_again_is_the_same_department(official: StaffMember) -> None:
    first = await services.create_department(official, BERUNIY, "Suvoqova")
    again = await services.create_department(official, BERUNIY, " Suvoqova  ", "Водоканал")
    assert again == first
    assert await Department.count() == 1
    assert len(await ledger_entries("reports.department_created")) == 1
    chortoq = await make_official("chortoq", CHORTOQ)
    # The same name in another district is another department.
    assert await services.create_department(chortoq, CHORTOQ, "Suvoqova") != first


async def test_a_department_needs_a_name_and_a_known_district(official: StaffMember
                                                              ) -> None:
    with pytest.raises(ReportError) as caught:
        await services.create_department(official, BERUNIY, "   ")
    assert caught.value.code == "unknown_department" and caught.value.field == "name_uz"
    with pytest.raises(ReportError) as caught:
        await services.create_department(official, 999_999, "Suvoqova")
    assert caught.value.code == "not_found"
    assert await Department.count() == 0


async def test_an_administrator_manages_any_district(db: str) -> None:
    administrator = await make_administrator()
    water = await services.create_department(administrator, BOYSUN, "Suvoqova")
    await services.set_route(administrator, BOYSUN, await category_id("water"), water)
    assert await services.routes(BOYSUN) == {await category_id("water"): water}


async def test_others_may_not_manage_departments(official: StaffMember) -> None:
    roads = await services.create_department(official, BERUNIY, "Yoʻl xoʻjaligi")
    roads_official = await make_official("yollar", BERUNIY, roads)
    chortoq = await make_official("chortoq", CHORTOQ)
    pothole = await category_id("roads.pothole")
    for outsider in (roads_official, chortoq):
        with pytest.raises(PermissionDenied):
            await services.create_department(outsider, BERUNIY, "Obodonlashtirish")
        with pytest.raises(PermissionDenied):
            await services.set_route(outsider, BERUNIY, pothole, roads)
    assert await Department.count() == 1 and await Routing.count() == 0


async def test_routes_are_set_replaced_and_removed(official: StaffMember) -> None:
    roads = await services.create_department(official, BERUNIY, "Yoʻl xoʻjaligi")
    works = await services.create_department(official, BERUNIY, "Obodonlashtirish")
    pothole, sign = await category_id("roads.pothole"), await category_id("roads.sign")
    await services.set_route(official, BERUNIY, pothole, roads)
    await services.set_route(official, BERUNIY, sign, roads)
    assert await services.routes(BERUNIY) == {pothole: roads, sign: roads}
    await services.set_route(official, BERUNIY, pothole, works)
    assert await services.routes(BERUNIY) == {pothole: works, sign: roads}
    await services.set_route(official, BERUNIY, sign, None)
    assert await services.routes(BERUNIY) == {pothole: works}
    assert await Routing.count() == 1
    payloads = [e["payload"] for e in await ledger_entries("reports.route_set")]
    assert payloads[-1] == {"category": sign, "department": None}


async def test_a_route_goes_to_a_department_of_the_same_district(official: StaffMember
                                                                 ) -> None:
    chortoq = await make_official("chortoq", CHORTOQ)
    chortoq_roads = await services.create_department(chortoq, CHORTOQ, "Yoʻl xoʻjaligi")
    pothole = await category_id("roads.pothole")
    for department_id in (chortoq_roads, chortoq_roads + 1000):
        with pytest.raises(ReportError) as caught:
            await services.set_route(official, BERUNIY, pothole, department_id)
        assert caught.value.code == "unknown_department"
        assert caught.value.field == "department"
    assert await services.routes(BERUNIY) == {}


async def test_the_same_department_created_at_once_is_one(official: StaffMember) -> None:
    colleague = await make_official("hokim-orinbosari")
    created = await asyncio.gather(*(services.create_department(who, BERUNIY, "Suvoqova")
                                     for who in (official, colleague) * 3))
    assert len(set(created)) == 1 and await Department.count() == 1


async def test_a_route_set_at_once_by_two_officials_ends_with_one_of_them(
        official: StaffMember) -> None:
    colleague = await make_official("hokim-orinbosari")
    water = await services.create_department(official, BERUNIY, "Suvoqova")
    works = await services.create_department(official, BERUNIY, "Obodonlashtirish")
    category = await category_id("water")
    await asyncio.gather(*(services.set_route(who, BERUNIY, category, department)
                           for who, department in ((official, water), (colleague, works)) * 3))
    assert await Routing.count() == 1
    assert (await services.routes(BERUNIY))[category] in (water, works)
