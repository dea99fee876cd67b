"""The officials' inbox: whose obligations each official sees, in what order, the filters and
the counts, and where an answer sent from the inbox goes next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ovoz.accountability import inbox
from ovoz.accountability.inbox import InboxFilters
from ovoz.accountability.scorecards import HOKIMIYAT
from ovoz.accountability.tables import Obligation
from ovoz.accounts.permissions import Grant, Role, StaffMember
from ovoz.reports import services as reports
from tests.accountability.helpers import add_obligation, days
from tests.reports.helpers import BERUNIY, CHORTOQ, REGION_OF, make_official, make_staff_account

NOW = datetime(2026, 8, 3, 6, 0, tzinfo=UTC)


async def refs(staff: StaffMember, filters: InboxFilters | None = None) -> list[tuple[str, int]]:
    found = await inbox.inbox(staff, filters or InboxFilters(), 1, 50, NOW)
    return [(row["kind"], row["ref"]) for row in found.items]


async def regional_item(ref: int) -> None:
    """A petition addressed to Karakalpakstan's regional hokimiyat: no district."""
    await Obligation.insert(Obligation(
        kind="petition", ref=ref, body="region", region=REGION_OF[BERUNIY],
        registered_at=NOW - days(3), due_at=NOW + days(20), original_due_at=NOW + days(20)))


@pytest.fixture
async def officials(db: str) -> dict[str, StaffMember]:
    hokimiyat = await make_official()
    roads = await reports.create_department(hokimiyat, BERUNIY, "Yoʻllar")
    regional_grant = Grant(Role.OFFICIAL, REGION_OF[BERUNIY])
    admin_grant = Grant(Role.ADMINISTRATOR)
    return {
        "hokimiyat": hokimiyat,
        "roads": await make_official("roads", department_id=roads),
        "chortoq": await make_official("chortoq", district_id=CHORTOQ),
        "region": StaffMember(await make_staff_account("region", regional_grant),
                              (regional_grant,)),
        "admin": StaffMember(await make_staff_account("admin", admin_grant), (admin_grant,)),
    }


async def test_each_official_sees_what_their_body_answers(
        officials: dict[str, StaffMember]) -> None:
    roads = officials["roads"].grants[0].department_id
    start = NOW - days(5)
    await add_obligation(1, registered=start)
    await add_obligation(2, department=roads, registered=start)
    await add_obligation(3, kind="petition", registered=start)
    await add_obligation(4, kind="proposal_review", registered=start)
    await add_obligation(5, kind="delivery", registered=start)
    await add_obligation(6, district=CHORTOQ, registered=start)
    await regional_item(7)
    assert sorted(await refs(officials["hokimiyat"])) == [
        ("delivery", 5), ("petition", 3), ("proposal_review", 4), ("report", 1), ("report", 2)]
    # A department's officials answer its own reports, not the hokimiyat's or the cycle's.
    assert await refs(officials["roads"]) == [("report", 2)]
    assert await refs(officials["chortoq"]) == [("report", 6)]
    assert await refs(officials["region"]) == [("petition", 7)]
    # Administrators run cycles but answer for no district: they have no inbox.
    assert inbox.reach(officials["admin"]) is None
    assert (await inbox.inbox(officials["admin"], InboxFilters(), 1, 50, NOW)).total == 0
    assert inbox.districts_of(officials["hokimiyat"]) == [BERUNIY]
    assert inbox.districts_of(officials["region"]) == []


async def test_earliest_due_first_and_only_what_is_still_open(
        officials: dict[str, StaffMember]) -> None:
    await add_obligation(1, registered=NOW - days(10), due_in=30)
    await add_obligation(2, registered=NOW - days(20), due_in=15)
    await add_obligation(3, registered=NOW - days(2), due_in=4)
    await add_obligation(4, registered=NOW - days(20), due_in=15, resolved_in=3)
    await add_obligation(5, registered=NOW - days(20), due_in=15, outcome="withdrawn")
    assert await refs(officials["hokimiyat"]) == [("report", 2), ("report", 3), ("report", 1)]


async def test_filters_and_counts(officials: dict[str, StaffMember]) -> None:
    hokimiyat = officials["hokimiyat"]
    roads = officials["roads"].grants[0].department_id
    await add_obligation(1, registered=NOW - days(20), due_in=15)
    await add_obligation(2, registered=NOW - days(10), due_in=12, department=roads)
    await add_obligation(3, kind="petition", registered=NOW - days(2), due_in=30)
    await add_obligation(4, registered=NOW - days(1), due_in=7, department=roads)
    assert await refs(hokimiyat, InboxFilters(due=inbox.OVERDUE)) == [("report", 1)]
    assert await refs(hokimiyat, InboxFilters(due=inbox.THIS_WEEK)) == [
        ("report", 2), ("report", 4)]
    assert await refs(hokimiyat, InboxFilters(kind="petition")) == [("petition", 3)]
    assert await refs(hokimiyat, InboxFilters(department=roads)) == [
        ("report", 2), ("report", 4)]
    assert await refs(hokimiyat, InboxFilters(department=HOKIMIYAT)) == [
        ("report", 1), ("petition", 3)]
    assert await refs(hokimiyat, InboxFilters(district_id=CHORTOQ)) == []
    assert await inbox.counts(hokimiyat, NOW) == inbox.InboxCounts(
        open=4, overdue=1, due_this_week=2)
    assert await inbox.counts(officials["roads"], NOW) == inbox.InboxCounts(2, 0, 2)
    # The day an item falls due it moves from "this week" to "overdue".
    assert await inbox.counts(hokimiyat, NOW + timedelta(days=2)) == inbox.InboxCounts(4, 2, 1)


def test_an_answer_from_the_inbox_comes_back_to_it() -> None:
    assert inbox.after_answer("inbox", "report", 12, "/staff/reports/12") == (
        "/staff/inbox?answered=report%3A12")
    for elsewhere in ("", "https://example.com/", "/staff/reports"):
        assert inbox.after_answer(elsewhere, "report", 12, "/staff/reports/12") == (
            "/staff/reports/12")
    assert inbox.answered_item("petition:7") == ("petition", 7, "/petitions/7")
    assert inbox.answered_item("proposal_review:3") == ("proposal_review", 3, "/proposals/3")
    for bad in (None, "", "report", "report:", "report:x", "secret:1", "report:" + "9" * 13):
        assert inbox.answered_item(bad) is None
