"""Scorecard figures, checked against obligations whose every time is known."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ovoz.accountability import scorecards
from ovoz.accountability.scorecards import Period
from ovoz.planning import services as planning
from ovoz.reports import services as reports
from tests.accountability.helpers import START, add_obligation, days
from tests.planning.helpers import today
from tests.planning.test_results import voted
from tests.reports.helpers import (
    BERUNIY,
    BOYSUN,
    CHORTOQ,
    draft,
    load_demo_mahallas,
    make_official,
    make_resident,
)

QUARTER = Period(date(2026, 7, 1), date(2026, 9, 30))
AS_OF = START + days(40)


@pytest.fixture
async def department(db: str) -> int:
    return await reports.create_department(await make_official(), BERUNIY, "Yoʻllar")


async def test_counts_rates_and_percentiles_of_a_district(department: int) -> None:
    # Ten answered: on days 1..10, all within the 15 days due; first responses on day 1.
    for ref in range(1, 11):
        await add_obligation(ref, first_response_in=1, resolved_in=ref)
    # Two answered late, one still open and overdue, one open and not yet due, one withdrawn.
    await add_obligation(11, resolved_in=20, department=department)
    await add_obligation(12, resolved_in=30, department=department)
    await add_obligation(13, department=department)
    await add_obligation(14, registered=START + days(30))
    await add_obligation(15, outcome="withdrawn")
    # Outside the cohort: another district, another quarter, a delivery milestone.
    await add_obligation(16, district=CHORTOQ, resolved_in=1)
    await add_obligation(17, registered=START - days(30), resolved_in=1)
    await add_obligation(18, kind="delivery")
    card = await scorecards.scorecard(BERUNIY, QUARTER, AS_OF)
    figures = card.district
    assert (figures.received, figures.resolved, figures.open, figures.overdue) == (15, 12, 2, 1)
    assert (figures.answered_late, figures.on_time, figures.rated) == (2, 10, 13)
    assert figures.on_time_rate == pytest.approx(10 / 13)
    # Resolution days 1..10, 20, 30: nearest rank 6 of 12 is 6; rank 11 is 20.
    assert figures.resolution_median_days == 6
    assert figures.resolution_p90_days == 20
    # First responses: ten on day 1, then 20 and 30.
    assert (figures.first_response_median_days, figures.first_response_p90_days) == (1, 20)
    roads = card.departments[department]
    assert (roads.received, roads.resolved, roads.overdue, roads.on_time) == (3, 2, 1, 0)
    assert card.departments[None].received == 12
    as_dict = figures.as_dict()
    assert as_dict["on_time_rate"] == round(10 / 13, 4) and as_dict["received"] == 15


async def test_what_is_counted_depends_on_the_moment(department: int) -> None:
    await add_obligation(1, resolved_in=20)
    early = (await scorecards.league([BERUNIY], QUARTER, START + days(10)))[BERUNIY]
    assert (early.resolved, early.open, early.overdue, early.rated) == (0, 1, 0, 0)
    later = (await scorecards.league([BERUNIY], QUARTER, START + days(16)))[BERUNIY]
    assert (later.resolved, later.open, later.overdue, later.rated) == (0, 1, 1, 1)
    assert later.on_time_rate == 0
    final = (await scorecards.league([BERUNIY], QUARTER, AS_OF))[BERUNIY]
    assert (final.resolved, final.answered_late, final.resolution_median_days) == (1, 1, 20)


async def test_petitions_on_time_and_the_league_order(db: str) -> None:
    await add_obligation(1, kind="petition", resolved_in=10, due_in=30)
    await add_obligation(2, kind="petition", resolved_in=35, due_in=30)
    await add_obligation(3, district=CHORTOQ, resolved_in=3)
    await add_obligation(4, district=CHORTOQ, resolved_in=30)
    table = await scorecards.league([BERUNIY, CHORTOQ, BOYSUN], QUARTER, AS_OF)
    assert (table[BERUNIY].petitions_on_time, table[BERUNIY].petitions_rated) == (1, 2)
    assert table[CHORTOQ].petitions_on_time_rate is None
    assert table[BOYSUN].received == 0 and table[BOYSUN].on_time_rate is None
    # Equal rates: fewer overdue first, then the id; nothing to rate last.
    assert scorecards.ranked(table) == [BERUNIY, CHORTOQ, BOYSUN]


def test_a_quarter_covers_whole_days_in_tashkent() -> None:
    quarter = scorecards.quarter_of(date(2026, 8, 15))
    assert quarter == QUARTER
    assert quarter.since.isoformat() == "2026-06-30T19:00:00+00:00"
    assert quarter.until.isoformat() == "2026-09-30T19:00:00+00:00"


# -- figures from the domains' own flows ------------------------------------------------------

async def test_fixes_disputed_by_residents_are_counted(db: str) -> None:
    await load_demo_mahallas()
    author, official = await make_resident(), await make_official()
    disputed, confirmed, _ = [
        await reports.create_report(author, draft(description=f"A deep pothole number {n}."))
        for n in range(3)]
    for report_id in (disputed, confirmed):
        await reports.change_status(official, report_id, "fixed", "Filled.")
    await reports.record_fix_feedback(disputed, author, False, "Still a hole.")
    await reports.record_fix_feedback(confirmed, author, True)
    period = scorecards.quarter_of(today())
    card = await scorecards.scorecard(BERUNIY, period)
    figures = card.district
    assert (figures.reports_fixed, figures.reports_disputed) == (2, 1)
    assert figures.disputed_share == 0.5
    # The dispute reopened its report: answered once, open again.
    assert (figures.received, figures.resolved, figures.open) == (3, 1, 2)
    assert (card.departments[None].reports_fixed, card.departments[None].reports_disputed
            ) == (2, 1)
    assert (await scorecards.league([CHORTOQ], period))[CHORTOQ].reports_fixed == 0


async def test_projects_delivered_on_time_and_within_budget(db: str) -> None:
    # Greedy selects the dear project (900) and the cheap one (100).
    setup = await voted()
    dear, _, cheap = setup.proposals
    day = today()
    await planning.record_delivery(setup.manager, dear, planning.DeliveryText(
        "in_progress", 50, 400, due_on=day + timedelta(days=5)))
    await planning.record_delivery(setup.manager, dear, planning.DeliveryText(
        "completed", 100, 880))
    await planning.record_delivery(setup.manager, cheap, planning.DeliveryText(
        "in_progress", 50, 50, due_on=day - timedelta(days=1)))
    await planning.record_delivery(setup.manager, cheap, planning.DeliveryText(
        "completed", 100, 150))
    period = Period(day - timedelta(days=30), day + timedelta(days=30))
    figures = (await scorecards.league([BERUNIY], period))[BERUNIY]
    assert (figures.projects_due, figures.projects_delivered, figures.projects_on_time,
            figures.projects_on_budget) == (2, 2, 1, 1)
    assert (figures.projects_on_time_rate, figures.projects_on_budget_rate) == (0.5, 0.5)
    # A period the due dates fall outside counts neither project.
    before = Period(day - timedelta(days=90), day - timedelta(days=31))
    assert (await scorecards.league([BERUNIY], before))[BERUNIY].projects_due == 0
    # The late delivery is among the district's late items; the one on time is not.
    late = await scorecards.late(BERUNIY, period, kind="delivery")
    assert [(item["ref"], item["state"], item["days_late"]) for item in late.items] == [
        (cheap, "answered_late", 1)]


# -- the period asked for, and the late items -------------------------------------------------

def test_a_period_is_read_from_a_query() -> None:
    day = date(2026, 11, 22)
    assert scorecards.period_from_query(None, "", day) == Period(date(2026, 10, 1),
                                                                 date(2026, 12, 31))
    assert scorecards.period_from_query(" 2026-07-01 ", "2026-09-30", day) == QUARTER
    assert scorecards.period_from_query("2026-11-01", None, day) == Period(
        date(2026, 11, 1), day)
    assert scorecards.period_from_query("2024-12-01", "2026-11-30", day).end == date(
        2026, 11, 30)
    for start, end, code, field in [
        ("2026-7-1", "2026-09-30", "bad_date", "from"),
        ("2026-07-01", "30.09.2026", "bad_date", "to"),
        ("1999-12-31", "2000-01-31", "bad_date", "from"),
        ("", "2026-09-30", "no_start", "from"),
        ("2026-09-30", "2026-07-01", "reversed", "to"),
        ("2024-11-30", "2026-11-30", "too_long", "to"),
    ]:
        with pytest.raises(scorecards.PeriodError) as caught:
            scorecards.period_from_query(start, end, day)
        assert (caught.value.code, caught.value.field) == (code, field), (start, end)


def test_the_quarters_before_a_day() -> None:
    assert scorecards.quarters_until(date(2026, 2, 3), 3) == [
        Period(date(2026, 1, 1), date(2026, 3, 31)), Period(date(2025, 10, 1),
                                                            date(2025, 12, 31)),
        Period(date(2025, 7, 1), date(2025, 9, 30))]


async def test_late_items_are_what_the_on_time_rate_does_not_count(department: int) -> None:
    await add_obligation(1, resolved_in=5)
    await add_obligation(2, resolved_in=20, department=department)
    await add_obligation(3, department=department)
    await add_obligation(4, kind="proposal_review", due_in=10, outcome="lapsed")
    await add_obligation(5, due_in=10, outcome="withdrawn")
    await add_obligation(6, registered=START + days(30))
    await add_obligation(7, district=CHORTOQ)
    found = await scorecards.late(BERUNIY, QUARTER, AS_OF)
    # The latest due first: 3 (day 15, still open), 2 (day 15, answered on day 20), 4.
    assert [(item["ref"], item["state"], item["days_late"]) for item in found.items] == [
        (3, "overdue", 25), (2, "answered_late", 5), (4, "lapsed", None)]
    figures = (await scorecards.league([BERUNIY], QUARTER, AS_OF))[BERUNIY]
    assert found.total == figures.rated - figures.on_time
    # The scorecard adds its bodies' counts up to the same figures.
    assert (await scorecards.scorecard(BERUNIY, QUARTER, AS_OF)).district == figures
    own = await scorecards.late(BERUNIY, QUARTER, AS_OF, department=scorecards.HOKIMIYAT)
    assert [item["ref"] for item in own.items] == [4]
    roads = await scorecards.late(BERUNIY, QUARTER, AS_OF, department=department,
                                  number=2, per_page=1)
    assert (roads.total, [item["ref"] for item in roads.items]) == (2, [2])
    # Before the answer came, the late answer was an overdue item.
    earlier = await scorecards.late(BERUNIY, QUARTER, START + days(17), kind="report")
    assert [(item["ref"], item["state"], item["days_late"]) for item in earlier.items] == [
        (3, "overdue", 2), (2, "overdue", 2)]
