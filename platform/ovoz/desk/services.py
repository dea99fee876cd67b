"""The mahalla desk's page: what the office of one mahalla works through for residents who
come in, read from each feature's services (the rules and the actions stay theirs)."""

from __future__ import annotations

from typing import Any

from ovoz.accounts.permissions import Place
from ovoz.accounts.tables import Resident
from ovoz.geo import services as geo
from ovoz.planning import services as planning

# A desk page lists this many of each; its links lead to the full lists.
SHOWN = 20


async def mahalla_place(mahalla_id: int) -> Place | None:
    mahalla = await geo.mahalla(mahalla_id)
    district = await geo.district(mahalla["district"]) if mahalla else None
    if mahalla is None or district is None:
        return None
    return Place(district["region"], district["id"], mahalla_id)


async def awaiting_confirmation(mahalla_id: int, limit: int = SHOWN) -> list[dict[str, Any]]:
    """Residents who chose this mahalla as home and wait for the office to confirm it, the
    longest waiting first."""
    return await Resident.select(
        Resident.id, Resident.display_name, Resident.phone, Resident.created_at,
    ).where((Resident.mahalla == mahalla_id) & Resident.residence_confirmed_at.is_null()
            & Resident.deleted_at.is_null()).order_by(Resident.created_at).order_by(
        Resident.id).limit(limit)


async def resident(resident_id: int) -> dict[str, Any] | None:
    return await Resident.select().where(
        (Resident.id == resident_id) & Resident.deleted_at.is_null()).first()


async def current_cycles(district_id: int) -> list[dict[str, Any]]:
    """The district's budget cycles still under way (not yet being built), with their phase."""
    found = await planning.cycles([district_id], 1, SHOWN)
    return [{**row, "phase": phase} for row in found.items
            if (phase := planning.phase_of(row)) not in (planning.IMPLEMENTATION,)]
