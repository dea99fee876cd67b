"""Demo reports for `ovoz seed --demo`: a few believable problems in each pilot district, in
every state, written by a clearly named demo resident and answered by a demo official."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from ovoz.accounts import staff
from ovoz.accounts.permissions import Grant, Role, StaffMember
from ovoz.accounts.tables import Resident, StaffAccount
from ovoz.geo import services as geo
from ovoz.geo.tables import District
from ovoz.reports import services

DEMO_NAME = "Namuna (demo)"
DEMO_OFFICIAL = "demo-official"
# (category, description, status reached, the official's note), placed at successive mahallas.
PROBLEMS = (
    ("roads.pothole", "Namuna: maktab darvozasi oldida chuqur, yomg‘irda suv to‘ladi.", "new", ""),
    ("lighting", "Namuna: ko‘chadagi uchta chiroq bir haftadan beri yonmayapti.", "acknowledged",
     "Namuna: qabul qilindi, elektr tarmoqlari bo‘limiga yuborildi."),
    ("waste.container", "Namuna: bozor yonidagi konteyner to‘lib ketgan.", "in_progress",
     "Namuna: chiqindi mashinasi ertaga keladi."),
    ("water", "Namuna: ichimlik suvi ikki kundan beri yo‘q.", "fixed",
     "Namuna: quvur tuzatildi, suv berildi."),
)


async def seed_demo_reports() -> int:
    """Add the demo reports once; later runs add nothing."""
    if await Resident.exists().where(Resident.display_name == DEMO_NAME):
        return 0
    created_at = datetime.now(UTC)
    author = (await Resident.insert(Resident(display_name=DEMO_NAME, created_at=created_at)
                                    ).returning(Resident.id))[0]["id"]
    official = await demo_official()
    added = 0
    for district in await pilot_districts():
        located = [m for m in await geo.mahallas_of(district["id"]) if m["centre_lat"]]
        for index, (category, text, status, note) in enumerate(PROBLEMS):
            if index >= len(located):
                break
            mahalla = located[index]
            report_id = await services.create_report(author, services.Draft(
                category=category, description=text, lat=mahalla["centre_lat"] + 0.0007,
                lon=mahalla["centre_lon"] + 0.0009, mahalla_id=mahalla["id"]))
            if status != "new":
                await services.change_status(
                    StaffMember(official["id"], (
                        Grant(Role.OFFICIAL, district["region"], district["id"]),)),
                    report_id, status, note)
            added += 1
    return added


async def demo_official() -> dict[str, Any]:
    """A staff account nobody can sign in to (its password is thrown away), with an official's
    role in every pilot district."""
    row = await StaffAccount.select().where(StaffAccount.username == DEMO_OFFICIAL).first()
    if row is None:
        row, _ = await staff.create_staff(
            DEMO_OFFICIAL, "Namuna mas’ul xodim (demo)", secrets.token_urlsafe(32),
            grants=[Grant(Role.OFFICIAL, d["region"], d["id"]) for d in await pilot_districts()])
    return row


async def pilot_districts() -> list[dict[str, Any]]:
    return await District.select(District.id, District.region).where(
        District.id.is_in(list(await geo.pilot_district_ids()) or [-1]))

