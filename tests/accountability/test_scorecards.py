"""Scorecard figures, checked against obligations whose every time is known."""

from __future__ import annotations

from datetime import date

import pytest

from ovoz.accountability import scorecards
from ovoz.accountability.scorecards import Period
from ovoz.reports import services as reports
from tests.accountability.helpers import START, add_obligation, days
from tests.reports.helpers import BERUNIY, BOYSUN, CHORTOQ, make_official

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
