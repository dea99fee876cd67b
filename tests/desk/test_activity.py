"""Unusually many assisted actions by one desk are flagged to the moderators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ovoz.accounts import staff as staff_accounts
from ovoz.accounts.permissions import Grant, Role
from ovoz.accounts.sessions import Identity
from ovoz.accounts.tables import Resident
from ovoz.desk import activity
from ovoz.notify.tables import OutboxMessage
from tests.petitions.helpers import beruniy_mahallas
from tests.petitions.test_staff_web import as_staff, mahalla_staff
from tests.reports.helpers import CHORTOQ, REGION_OF, load_demo_mahallas, make_staff_account


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")


@pytest.mark.parametrize(("total", "days", "peers", "unusual"), [
    (41, 1, [], True),            # above the daily ceiling, whatever the peers
    (40, 1, [], False),
    (30, 1, [30, 5, 5, 4], True),  # three times the usual desk's count
    (30, 1, [30, 20, 15], False),
    (9, 1, [9, 1, 1, 1], False),   # a handful is never unusual
    (90, 7, [90, 10, 12], True),
    (90, 7, [90], False),          # one desk has no peers to compare with
])
def test_what_counts_as_unusual(total: int, days: int, peers: list[int],
                                unusual: bool) -> None:
    assert activity.is_unusual(total, days, peers) is unusual


async def registered(count: int, staff_id: int, mahalla_id: int,
                     at: datetime | None = None) -> None:
    """`count` residents registered at the desk by the staff member."""
    clerk = Identity(staff={"id": staff_id}, staff_stage="full",
                     grants=(mahalla_staff(mahalla_id),))
    for number in range(count):
        await staff_accounts.register_resident(clerk, mahalla_id, f"Fuqaro {staff_id} {number}",
                                               now=at)


async def test_a_busy_desk_is_flagged_to_the_moderators_of_its_region(
        client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    home, other = (await beruniy_mahallas())[:2]
    busy = await make_staff_account("busy", mahalla_staff(home))
    calm = await make_staff_account("calm", mahalla_staff(other))
    await registered(activity.DAILY_CEILING + 1, busy, home)
    await registered(2, calm, other)
    # Counted in its window only: yesterday's week does not make today's day.
    await registered(3, calm, other, at=datetime.now(UTC) - timedelta(days=3))

    desks = await activity.activity(1)
    assert [(desk.staff_id, desk.counts[activity.REGISTRATIONS], desk.flagged)
            for desk in desks] == [(busy, activity.DAILY_CEILING + 1, True), (calm, 2, False)]
    assert desks[0].mahallas == [home]
    week = {desk.staff_id: desk.total for desk in await activity.activity(7)}
    assert week == {busy: activity.DAILY_CEILING + 1, calm: 5}

    national = await make_staff_account("moderator", Grant(Role.MODERATOR))
    regional = await make_staff_account("karakalpak", Grant(Role.MODERATOR, REGION_OF[16]))
    elsewhere = await make_staff_account("fergana", Grant(Role.MODERATOR, REGION_OF[CHORTOQ]))
    # One message per moderator and channel they receive on.
    assert await activity.tell_moderators() >= 2
    told = {row["recipient_id"] for row in await OutboxMessage.select(
        OutboxMessage.recipient_id).where(OutboxMessage.template == "desk.flagged")}
    assert told == {national, regional} and elsewhere not in told
    assert await activity.tell_moderators() == 0

    await as_staff(client, "clerk", mahalla_staff(home))
    assert (await client.get("/staff/desk-activity")).status_code == 403
    await as_staff(client, "checker", Grant(Role.MODERATOR, REGION_OF[16]))
    page = await client.get("/staff/desk-activity")
    assert page.status_code == 200
    assert page.text.index("Busy") < page.text.index("Calm")
    assert page.text.count("Unusually many") == 1
    assert "Calm" in (await client.get("/staff/desk-activity", params={"days": "7"})).text
    await as_staff(client, "far", Grant(Role.MODERATOR, REGION_OF[CHORTOQ]))
    assert "Busy" not in (await client.get("/staff/desk-activity")).text
    assert (await client.get("/staff/desk-activity", params={"days": "x"})).status_code == 400
    assert await Resident.count() == activity.DAILY_CEILING + 6
