"""A resident's "me too": once per person, even when the taps arrive at the same moment."""

from __future__ import annotations

import asyncio

import pytest

from ovoz.notify import services as notify
from ovoz.reports import services
from ovoz.reports.services import ReportError
from ovoz.reports.tables import Support
from tests.reports.helpers import make_official, make_resident
from tests.reports.service_helpers import ledger_entries, report_row


async def neighbours(count: int) -> list[int]:
    return [await make_resident(f"+99890555{n:04d}", f"Qoʻshni {n}") for n in range(count)]


async def test_support_counts_once_per_person_and_the_supporter_follows(report_id: int
                                                                        ) -> None:
    [neighbour] = await neighbours(1)
    assert await services.add_support(report_id, neighbour) is True
    assert await services.add_support(report_id, neighbour) is False
    assert (await report_row(report_id))["supporters"] == 1
    assert await Support.count() == 1
    assert await services.supports(report_id, neighbour)
    assert neighbour in await notify.followers(f"report:{report_id}")
    [entry] = await ledger_entries("reports.supported")
    assert entry["subject"] == f"report:{report_id}" and entry["payload"] == {}


async def test_support_after_unfollowing_follows_again_without_counting(report_id: int) -> None:
    [neighbour] = await neighbours(1)
    await services.add_support(report_id, neighbour)
    await notify.unfollow(neighbour, f"report:{report_id}")
    assert await services.add_support(report_id, neighbour) is False
    assert neighbour in await notify.followers(f"report:{report_id}")
    assert (await report_row(report_id))["supporters"] == 1


async def test_the_author_cannot_support_their_own_report(report_id: int) -> None:
    author = (await report_row(report_id))["author"]
    with pytest.raises(ReportError) as caught:
        await services.add_support(report_id, author)
    assert caught.value.code == "own_report"
    assert (await report_row(report_id))["supporters"] == 0


async def test_a_closed_report_takes_no_support(report_id: int) -> None:
    official = await make_official()
    await services.change_status(official, report_id, "fixed", "Filled with asphalt.")
    [neighbour] = await neighbours(1)
    with pytest.raises(ReportError) as caught:
        await services.add_support(report_id, neighbour)
    assert caught.value.code == "not_open"
    assert await Support.count() == 0
    assert neighbour not in await notify.followers(f"report:{report_id}")


async def test_an_unknown_report_is_not_found(report_id: int) -> None:
    [neighbour] = await neighbours(1)
    with pytest.raises(ReportError) as caught:
        await services.add_support(report_id + 1000, neighbour)
    assert caught.value.code == "not_found"


async def test_ten_neighbours_at_once_count_ten(report_id: int) -> None:
    people = await neighbours(10)
    counted = await asyncio.gather(*(services.add_support(report_id, p) for p in people))
    assert counted == [True] * 10
    assert (await report_row(report_id))["supporters"] == 10
    assert await Support.count() == 10
    assert set(people) <= set(await notify.followers(f"report:{report_id}"))


async def test_the_same_neighbour_five_times_at_once_counts_once(report_id: int) -> None:
    [neighbour] = await neighbours(1)
    counted = await asyncio.gather(*(services.add_support(report_id, neighbour)
                                     for _ in range(5)))
    assert sorted(counted) == [False] * 4 + [True]
    assert (await report_row(report_id))["supporters"] == 1
    assert await Support.count() == 1
    assert len(await ledger_entries("reports.supported")) == 1
