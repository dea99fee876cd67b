"""Alerts beside the flags in the moderators' queue: signatures or ballots bunched on one
address, device, mahalla or desk, and mahalla desks acting for unusually many residents. Each
is worked out from its feature's services when the queue is read, so it is never stale."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ovoz.accounts import staff as staff_accounts
from ovoz.accounts.permissions import Action, Actor, allowed
from ovoz.desk import activity
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.petitions import services as petitions
from ovoz.planning import services as planning

SIGNATURES, BALLOTS, DESK = "signatures", "ballots", "desk"


@dataclass(frozen=True, slots=True)
class Bunch:
    """One mahalla or desk far above the average of its kind."""

    kind: str
    name: str
    count: int
    average: float


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str
    title: str
    # Where a moderator looks closer.
    path: str
    # How many keys (addresses, devices, mahallas, desks) stand out, or a desk's actions.
    count: int
    # For ballots, which keys: the cycle's staff page is not the moderators'.
    bunches: list[Bunch] = field(default_factory=list)


async def _bunch(row: dict[str, Any]) -> Bunch:
    key = int(row["key"])
    if row["kind"] == "mahalla":
        mahalla = await geo.mahalla(key)
        name = locale.localised_name(mahalla) if mahalla else str(key)
    else:
        account = await staff_accounts.staff_account(key)
        name = account["display_name"] if account else str(key)
    return Bunch(row["kind"], name, row["ballots"], row["average"])


async def alerts(staff: Actor) -> list[Alert]:
    """The alerts of the moderator's area, signatures first, then ballots, then desks."""
    found = []
    for row in await petitions.collecting():
        if allowed(staff, Action.MODERATE, petitions.petition_area(row).place):
            bunched = await petitions.anomalies(row["id"])
            if bunched:
                found.append(Alert(SIGNATURES, row["title"], f"/staff/petitions/{row['id']}",
                                   len(bunched)))
    for cycle in await planning.voting_cycles(None):
        if allowed(staff, Action.MODERATE, await planning.cycle_place(cycle)):
            bunched = await planning.ballot_anomalies(cycle["id"])
            if bunched:
                found.append(Alert(BALLOTS, cycle["title"], f"/cycles/{cycle['id']}",
                                   len(bunched), [await _bunch(row) for row in bunched]))
    for desk in await activity.activity(1):
        if desk.flagged and activity.visible_to(staff, desk):
            found.append(Alert(DESK, desk.name, "/staff/desk-activity", desk.total))
    return found
