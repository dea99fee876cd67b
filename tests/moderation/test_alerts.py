"""Signature, ballot and desk alerts in the moderators' queue, beside the flags."""

from __future__ import annotations

import httpx
import pytest

from ovoz.accounts.permissions import Grant, Role, StaffMember
from ovoz.desk import activity
from ovoz.geo import services as geo
from ovoz.moderation import alerts
from ovoz.outliers import Outlier, far_above
from ovoz.petitions import services as petitions
from ovoz.planning import services as planning
from tests.desk.test_activity import registered
from tests.moderation.test_services import regional_moderator
from tests.petitions.helpers import (
    district_petition,
    make_moderator,
    make_residents,
    open_petition,
)
from tests.petitions.test_staff_web import as_staff, mahalla_staff
from tests.planning.test_services import ballot_cycle, voters
from tests.reports.helpers import BERUNIY, CHORTOQ, REGION_OF, make_staff_account

ONES = {letter: 1 for letter in "bcdefghij"}


@pytest.mark.parametrize(("counts", "minimum", "found"), [
    ({"a": 20, **ONES}, 20, [Outlier("a", 20, 2.9)]),
    ({"a": 19, **ONES}, 19, [Outlier("a", 19, 2.8)]),
    ({"a": 19, **ONES}, 20, []),                         # under the minimum
    ({"a": 20, "b": 1, "c": 1, "d": 1, "e": 1}, 20, []),  # not five times the average of 4.8
    ({"a": 20, **ONES, "b": 20}, 20, []),                # not alone in it
    ({"a": 50}, 20, []),                                 # nothing to compare with
    ({"a": 30, "": 5, None: 5, **ONES}, 20, [Outlier("a", 30, 3.9)]),  # blanks are no key
])
def test_far_above_the_average(counts: dict[str, int], minimum: int,
                               found: list[Outlier]) -> None:
    assert far_above(counts, minimum) == found


async def bunched_everything() -> tuple[int, int, int]:
    """A petition signed twenty times from one device, a cycle whose ballots come mostly from
    one mahalla, and a desk registering residents all day; returns the petition, the cycle and
    that mahalla."""
    setup = await ballot_cycle(phase="voting")
    mahallas = setup.mahallas
    petition_id = await open_petition(setup.author, await make_residents(5, mahallas[0], 600),
                                      await make_moderator("approver"), district_petition())
    for n, person in enumerate(await make_residents(10, mahallas[1], 700)):
        await petitions.sign(petition_id, person, device=f"phone-{n}")
    for person in await make_residents(petitions.ANOMALY_MINIMUM, mahallas[2], 800):
        await petitions.sign(petition_id, person, device="one-tablet")
    for voter in await voters(planning.BALLOT_ALERT_MINIMUM + 5, mahallas[3], first=100):
        await planning.cast_ballot(voter, setup.cycle_id, [setup.proposals[0]])
    for n, mahalla_id in enumerate(mahallas[4:12]):
        [voter] = await voters(1, mahalla_id, first=300 + n)
        await planning.cast_ballot(voter, setup.cycle_id, [setup.proposals[1]])
    busy = await make_staff_account("busy", mahalla_staff(mahallas[0]))
    await registered(activity.DAILY_CEILING + 1, busy, mahallas[0])
    return petition_id, setup.cycle_id, mahallas[3]


async def test_the_queue_shows_bunched_signatures_ballots_and_a_busy_desk(
        client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")
    petition_id, cycle_id, mahalla_id = await bunched_everything()
    await as_staff(client, "moderator", Grant(Role.MODERATOR))
    queue = (await client.get("/staff/moderation")).text
    assert "Signatures bunched together" in queue
    assert f'href="/staff/petitions/{petition_id}"' in queue
    assert "1 address, device or mahalla far above the average" in queue
    assert "Ballots bunched together" in queue and f'href="/cycles/{cycle_id}"' in queue
    mahalla = await geo.mahalla(mahalla_id)
    assert mahalla is not None
    assert f"Mahalla {mahalla['name_uz']}: 25 ballots" in queue
    assert "A busy mahalla desk" in queue and "Busy" in queue
    assert f"{activity.DAILY_CEILING + 1} actions for residents in a day" in queue


async def test_a_moderator_of_another_region_sees_no_alert(db: str) -> None:
    await bunched_everything()
    elsewhere = await regional_moderator("elsewhere", CHORTOQ)
    assert await alerts.alerts(elsewhere) == []
    here = Grant(Role.MODERATOR, REGION_OF[BERUNIY])
    found = await alerts.alerts(StaffMember(elsewhere.id, (here,)))
    assert [alert.kind for alert in found] == [alerts.SIGNATURES, alerts.BALLOTS, alerts.DESK]

