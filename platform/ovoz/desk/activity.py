"""Unusually many assisted actions by one desk: vote buying and employers marching staff to the
polls were documented in the national initiative budget, and a desk that records for residents
is where that would show. Each staff member's signatures, ballots, problem reports and
registrations made for residents in a window are counted (by each feature's services), and a
desk well above its peers, or above a plain daily ceiling, is flagged to the moderators."""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from ovoz.accounts import staff as staff_accounts
from ovoz.accounts.permissions import Action, Actor, Grant, Role, allowed, covers
from ovoz.accounts.tables import RoleGrant, StaffAccount
from ovoz.notify import services as notify
from ovoz.petitions import services as petitions
from ovoz.planning import services as planning
from ovoz.reports import services as reports
from ovoz.settings import get_settings

SIGNATURES, BALLOTS, REPORTS, REGISTRATIONS = "signatures", "ballots", "reports", "registrations"
COUNTERS: Final[dict[str, Callable[[datetime, datetime], Awaitable[dict[int, int]]]]] = {
    SIGNATURES: petitions.assisted_counts,
    BALLOTS: planning.assisted_counts,
    REPORTS: reports.assisted_counts,
    REGISTRATIONS: staff_accounts.registrations_by_staff,
}
# A desk is unusual above this many actions a day whatever its peers do ...
DAILY_CEILING: Final = 40
# ... or at this many times the median desk's count, when there are enough desks to compare.
PEER_RATIO: Final = 3
PEERS_NEEDED: Final = 3
# Below this a desk is never flagged: a handful of residents on voting day is normal.
FLAG_FLOOR_PER_DAY: Final = 10
WINDOWS: Final = (1, 7, 30)


@dataclass(slots=True)
class DeskActivity:
    staff_id: int
    name: str
    # The desks the person keeps now; none once their grants are gone (what they did stays
    # to be looked at).
    grants: list[Grant]
    counts: dict[str, int] = field(default_factory=dict)
    flagged: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def mahallas(self) -> list[int]:
        return [grant.mahalla_id for grant in self.grants if grant.mahalla_id is not None]


def now() -> datetime:
    return datetime.now(UTC)


async def _desk_grants(staff_ids: Sequence[int]) -> dict[int, list[Grant]]:
    rows = await RoleGrant.select().where(
        RoleGrant.staff.is_in(list(staff_ids) or [0]) & RoleGrant.revoked_at.is_null()
        & (RoleGrant.role == Role.MAHALLA_STAFF.value))
    found: dict[int, list[Grant]] = {}
    for row in rows:
        found.setdefault(row["staff"], []).append(Grant(
            Role.MAHALLA_STAFF, row["region"], row["district"], row["mahalla"]))
    return found


def is_unusual(total: int, days: int, peer_totals: Sequence[int]) -> bool:
    """Above the daily ceiling, or well above the median desk, and never for a handful."""
    if total < FLAG_FLOOR_PER_DAY * days:
        return False
    if total > DAILY_CEILING * days:
        return True
    return len(peer_totals) >= PEERS_NEEDED and total >= PEER_RATIO * statistics.median(
        peer_totals)


async def activity(days: int, at: datetime | None = None) -> list[DeskActivity]:
    """Every staff member who acted for residents in the last `days` days, busiest first."""
    until = at or now()
    since = until - timedelta(days=days)
    counted = {kind: await counter(since, until) for kind, counter in COUNTERS.items()}
    staff_ids = sorted({staff_id for counts in counted.values() for staff_id in counts})
    names = {row["id"]: row["display_name"] for row in await StaffAccount.select(
        StaffAccount.id, StaffAccount.display_name).where(
        StaffAccount.id.is_in(staff_ids or [0]))}
    grants = await _desk_grants(staff_ids)
    found = [DeskActivity(
        staff_id, names.get(staff_id, ""), grants.get(staff_id, []),
        {kind: counts.get(staff_id, 0) for kind, counts in counted.items()})
        for staff_id in staff_ids]
    totals = [desk.total for desk in found]
    for desk in found:
        desk.flagged = is_unusual(desk.total, days, totals)
    return sorted(found, key=lambda desk: (not desk.flagged, -desk.total, desk.staff_id))


def visible_to(moderator: Actor, desk: DeskActivity) -> bool:
    """A regional moderator looks at the desks of its region; a national one at all."""
    if not desk.grants:
        return allowed(moderator, Action.MODERATE)
    return any(allowed(moderator, Action.MODERATE, grant.scope) for grant in desk.grants)


async def tell_moderators(at: datetime | None = None) -> int:
    """Once a day: each desk flagged over the last day is reported to the moderators who look
    after its region, once per desk and day; returns how many messages were queued."""
    at = at or now()
    flagged = [desk for desk in await activity(1, at) if desk.flagged]
    if not flagged:
        return 0
    moderators = await RoleGrant.select(RoleGrant.staff, RoleGrant.region).where(
        RoleGrant.revoked_at.is_null() & (RoleGrant.role == Role.MODERATOR.value))
    day = at.date().isoformat()
    queued = 0
    for desk in flagged:
        places = [grant.scope for grant in desk.grants]
        for moderator in {row["staff"] for row in moderators
                          if row["region"] is None or any(
                              covers(Grant(Role.MODERATOR, row["region"]), place)
                              for place in places)}:
            queued += await notify.enqueue(
                f"desk:{desk.staff_id}:flagged:{day}:{moderator}", "staff", moderator,
                "desk.flagged", {"name": desk.name, "count": desk.total,
                                 "link": f"{get_settings().base_url}/staff/desk-activity"})
    return queued
