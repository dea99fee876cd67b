"""Planning test helpers: cycles put into a chosen phase by moving their dates, and residents
who may propose and vote."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ovoz.accounts.permissions import Grant, Role, StaffMember
from ovoz.accounts.tables import Resident
from ovoz.geo.tables import Mahalla
from ovoz.i18n import locale
from ovoz.planning import services
from ovoz.planning.tables import Cycle
from tests.reports.helpers import BERUNIY, REGION_OF, make_resident, make_staff_account

PHASE_OFFSETS = {
    # Days from today of each phase's start, so that today falls in the named phase.
    "upcoming": (1, 2, 3, 4, 5),
    "proposals": (0, 2, 3, 4, 5),
    "review": (-1, 0, 3, 4, 5),
    "voting": (-2, -1, 0, 4, 5),
    "results": (-3, -2, -1, 0, 5),
    "implementation": (-4, -3, -2, -1, 0),
}


def today() -> date:
    return datetime.now(UTC).astimezone(locale.TASHKENT).date()


async def district_mahallas(district_id: int = BERUNIY) -> list[int]:
    rows = await Mahalla.select(Mahalla.id).where(Mahalla.district == district_id).order_by(
        Mahalla.id)
    return [row["id"] for row in rows]


async def make_manager(username: str = "planner", district_id: int = BERUNIY) -> StaffMember:
    grant = Grant(Role.OFFICIAL, REGION_OF[district_id], district_id)
    return StaffMember(await make_staff_account(username, grant), (grant,))


async def make_voter(phone: str, mahalla_id: int, *, confirmed: bool = True) -> int:
    """A resident with a verified phone and a home; `confirmed` adds the mahalla's
    confirmation of residence, needed to propose."""
    resident_id = await make_resident(phone)
    values: dict[Any, Any] = {Resident.mahalla: mahalla_id}
    if confirmed:
        values[Resident.residence_confirmed_at] = datetime.now(UTC)
    await Resident.update(values).where(Resident.id == resident_id)
    return resident_id


def cycle_form(district_id: int = BERUNIY, **changes: Any) -> services.CycleForm:
    start = today() + timedelta(days=1)
    form = services.CycleForm(
        district_id=district_id, title="Beruniy initiative budget 2027",
        description="Money for what the mahallas choose.", budget=1_000_000_000,
        ballot_rule=services.APPROVAL, max_choices=3, selection_rule=services.GREEDY,
        satisfaction="cost", completion="none", show_running_totals=False,
        proposals_from=start, review_from=start + timedelta(days=10),
        voting_from=start + timedelta(days=20), results_from=start + timedelta(days=30),
        implementation_from=start + timedelta(days=40),
    )
    return replace(form, **changes)


async def move_to(cycle_id: int, phase: str, *, act: bool = True) -> None:
    """Set the cycle's dates so that today is in `phase`, then run the phase job."""
    offsets = PHASE_OFFSETS[phase]
    await Cycle.update({
        getattr(Cycle, column): today() + timedelta(days=offset)
        for column, offset in zip(services.PHASE_STARTS.values(), offsets, strict=True)
    }).where(Cycle.id == cycle_id)
    if act:
        await services.advance()


def proposal_text(mahalla_id: int, **changes: Any) -> services.ProposalText:
    text = services.ProposalText(
        title="Repair the road to the school", category="roads", mahalla_id=mahalla_id,
        description="The road to school No. 12 is broken; children walk in the mud.",
        estimated_cost=200_000_000)
    return replace(text, **changes)
