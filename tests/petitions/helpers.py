"""Shared by the petitions tests: residents of the demo mahallas with the verification each
step needs, and staff acting on petitions."""

from __future__ import annotations

from datetime import UTC, datetime

from ovoz.accounts.permissions import Grant, Role
from ovoz.geo.tables import Mahalla
from ovoz.petitions import services
from tests.reports.helpers import (
    BERUNIY,
    REGION_OF,
    load_demo_mahallas,
    make_resident,
    make_staff_account,
)

__all__ = ["BERUNIY", "load_demo_mahallas"]


async def beruniy_mahallas() -> list[int]:
    return await Mahalla.select(Mahalla.id).where(Mahalla.district == BERUNIY).order_by(
        Mahalla.id).output(as_list=True)


async def make_verified(number: int, mahalla_id: int, residence: bool = True) -> int:
    """A resident with a verified phone at home in the mahalla (and, by default, residence
    confirmed by the mahalla office)."""
    from ovoz.accounts.tables import Resident

    resident_id = await make_resident(f"+9989011{number:05d}", f"Fuqaro {number}")
    at = datetime.now(UTC)
    await Resident.update({Resident.mahalla: mahalla_id,
                           Resident.residence_confirmed_at: at if residence else None}
                          ).where(Resident.id == resident_id)
    return resident_id


async def make_moderator(username: str = "moderator") -> services.Staff:
    grant = Grant(Role.MODERATOR)
    return services.Staff(await make_staff_account(username, grant), (grant,))


async def make_district_official(username: str = "hokim", district_id: int = BERUNIY
                                 ) -> services.Staff:
    grant = Grant(Role.OFFICIAL, REGION_OF[district_id], district_id)
    return services.Staff(await make_staff_account(username, grant), (grant,))


def district_petition(title: str = "Qishloqqa yangi maktab qurilsin",
                      district_id: int = BERUNIY) -> services.PetitionText:
    return services.PetitionText(
        title=title,
        text="Bizning qishloqda maktab yo‘q, bolalar har kuni besh kilometr yurib boradi. "
             "Tuman hokimligidan yangi maktab qurishni so‘raymiz.",
        topic="education", level="district_hokimiyat", place_id=district_id)
