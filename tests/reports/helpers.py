"""Shared by the reports tests: residents, officials, demo mahallas and photos."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from PIL import Image

from ovoz.accounts.permissions import Grant, Role, StaffMember
from ovoz.accounts.tables import Resident, RoleGrant, StaffAccount
from ovoz.geo import services as geo
from ovoz.reports import services
from ovoz.reports.photos import ProcessedPhoto, process_photo
from ovoz.settings import ROOT

BERUNIY, CHORTOQ, BOYSUN = 16, 106, 126
# Regions of the pilot districts: Karakalpakstan, Namangan, Surxondaryo.
REGION_OF = {BERUNIY: 1, CHORTOQ: 7, BOYSUN: 9}
# A street in Beruniy town, and a point 100 m north of it.
BERUNIY_POINT = (41.6900, 60.7520)
NEAR_BERUNIY_POINT = (41.6909, 60.7520)
TASHKENT_POINT = (41.3111, 69.2797)


async def load_demo_mahallas() -> None:
    await geo.import_mahallas((ROOT / "seeds" / "demo" / "mahallas.csv").read_bytes(), demo=True)


async def make_resident(phone: str = "+998901234567", name: str = "Dilnoza",
                        language: str = "uz") -> int:
    rows = await Resident.insert(Resident(
        phone=phone, display_name=name, language=language, created_at=datetime.now(UTC),
        phone_verified_at=datetime.now(UTC),
    )).returning(Resident.id)
    return rows[0]["id"]


async def make_staff_account(username: str, grant: Grant) -> int:
    """A staff account holding one grant, written directly: the reports tests never sign in
    with its password, and hashing one with argon2 per test would slow them all down."""
    created = await StaffAccount.insert(StaffAccount(
        username=username, display_name=username.title(), password_hash="unused",
        created_at=datetime.now(UTC))).returning(StaffAccount.id)
    staff_id = created[0]["id"]
    await RoleGrant.insert(RoleGrant(
        staff=staff_id, role=grant.role.value, region=grant.region_id,
        district=grant.district_id, mahalla=grant.mahalla_id, department_id=grant.department_id,
        granted_at=datetime.now(UTC)))
    return staff_id


async def make_official(username: str = "hokimiyat", district_id: int = BERUNIY,
                        department_id: int | None = None) -> StaffMember:
    """A staff account with an official's grant, as the services see it."""
    grant = Grant(Role.OFFICIAL, REGION_OF[district_id], district_id,
                  department_id=department_id)
    return StaffMember(await make_staff_account(username, grant), (grant,))


def jpeg(width: int = 800, height: int = 600) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (120, 90, 60)).save(out, "JPEG")
    return out.getvalue()


def photo() -> ProcessedPhoto:
    return process_photo(jpeg(), 10 * 1024 * 1024)


def draft(**changes: Any) -> services.Draft:
    values: dict[str, Any] = {
        "category": "roads.pothole", "description": "A deep pothole by the school gate.",
        "lat": BERUNIY_POINT[0], "lon": BERUNIY_POINT[1],
    }
    values.update(changes)
    return services.Draft(**values)
