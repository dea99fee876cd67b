"""Shared by the petitions tests: residents of the demo mahallas with the verification each
step needs, and staff acting on petitions."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

import pytest

from ovoz.accounts.permissions import Grant, Role, StaffMember
from ovoz.geo.tables import Mahalla
from ovoz.ledger.tables import LedgerEntry
from ovoz.notify.tables import OutboxMessage
from ovoz.petitions import services
from ovoz.petitions.tables import Petition
from ovoz.settings import get_settings
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


async def make_moderator(username: str = "moderator") -> StaffMember:
    grant = Grant(Role.MODERATOR)
    return StaffMember(await make_staff_account(username, grant), (grant,))


async def make_district_official(username: str = "hokim", district_id: int = BERUNIY
                                 ) -> StaffMember:
    grant = Grant(Role.OFFICIAL, REGION_OF[district_id], district_id)
    return StaffMember(await make_staff_account(username, grant), (grant,))


def district_petition(title: str = "Qishloqqa yangi maktab qurilsin",
                      district_id: int = BERUNIY) -> services.PetitionText:
    return services.PetitionText(
        title=title,
        text="Bizning qishloqda maktab yo‘q, bolalar har kuni besh kilometr yurib boradi. "
             "Tuman hokimligidan yangi maktab qurishni so‘raymiz.",
        topic="education", level="district_hokimiyat", place_id=district_id)


def mahalla_petition(mahalla_id: int) -> services.PetitionText:
    return services.PetitionText(
        title="Mahalla guzariga chiroq o‘rnatilsin",
        text="Kechqurun guzar qorong‘i, keksalar va bolalar yiqilib tushmoqda. "
             "Chiroq o‘rnatishni so‘raymiz.",
        topic="energy", level="mahalla", place_id=mahalla_id)


# -- added for the tests of the services: the lifecycle's steps, and looking at what it wrote --

async def make_department_official(username: str = "suvchi", department_id: int = 5,
                                   district_id: int = BERUNIY) -> StaffMember:
    """An official limited to one department of the district."""
    grant = Grant(Role.OFFICIAL, REGION_OF[district_id], district_id,
                  department_id=department_id)
    return StaffMember(await make_staff_account(username, grant), (grant,))


async def make_regional_moderator(username: str, region_id: int) -> StaffMember:
    grant = Grant(Role.MODERATOR, region_id)
    return StaffMember(await make_staff_account(username, grant), (grant,))


async def make_residents(count: int, mahalla_id: int, first: int,
                         residence: bool = True) -> list[int]:
    """`count` verified residents of one mahalla, numbered from `first` (phones differ by it)."""
    return [await make_verified(first + n, mahalla_id, residence) for n in range(count)]


async def to_moderation(author: int, petition_id: int, backers: list[int]) -> None:
    """The author looks for sponsors and enough of the backers sponsor it to reach moderation."""
    await services.seek_sponsors(author, petition_id)
    for backer in backers[:get_settings().petition_sponsors]:
        await services.sponsor(petition_id, backer)


async def open_petition(author: int, backers: list[int], moderator: StaffMember,
                        text: services.PetitionText | None = None) -> int:
    """A petition taken through sponsors and moderation to collecting signatures."""
    petition_id = await services.create_draft(author, text or district_petition())
    await to_moderation(author, petition_id, backers)
    await services.moderate(moderator, petition_id, True)
    return petition_id


async def failure(call: Awaitable[Any]) -> services.PetitionError:
    """The rule the call broke."""
    with pytest.raises(services.PetitionError) as caught:
        await call
    return caught.value


async def petition_row(petition_id: int) -> dict[str, Any]:
    row = await services.petition(petition_id)
    assert row is not None
    return row


async def set_petition(petition_id: int, **values: Any) -> None:
    """Move a petition's dates (or status) as if time had passed."""
    await Petition.update({getattr(Petition, name): value for name, value in values.items()}
                          ).where(Petition.id == petition_id)


async def ledger_entries(kind: str, petition_id: int | None = None) -> list[dict[str, Any]]:
    """The ledger's entries of a kind ("petitions.opened"), oldest first, payload decoded."""
    condition = LedgerEntry.kind == kind
    if petition_id is not None:
        condition &= LedgerEntry.subject == services.subject(petition_id)
    rows = await LedgerEntry.select(LedgerEntry.subject, LedgerEntry.payload).where(
        condition).order_by(LedgerEntry.seq)
    return [{"subject": row["subject"], "payload": json.loads(row["payload"]),
             "raw": row["payload"]} for row in rows]


async def outbox(template: str) -> list[dict[str, Any]]:
    return await OutboxMessage.select().where(OutboxMessage.template == template).order_by(
        OutboxMessage.id)


async def recipients(template: str, kind: str = "resident") -> set[int]:
    return {row["recipient_id"] for row in await outbox(template)
            if row["recipient_kind"] == kind}
