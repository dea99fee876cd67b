"""Shared by the tests of the report services: places, points, ledger and outbox look-ups."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ovoz.accounts.permissions import Grant, Role, StaffMember
from ovoz.geo import services as geo
from ovoz.geo.tables import Mahalla
from ovoz.ledger.tables import LedgerEntry
from ovoz.notify.tables import OutboxMessage
from ovoz.reports import services
from ovoz.reports.photos import ProcessedPhoto, process_photo
from ovoz.reports.tables import Category, Report
from tests.reports.helpers import jpeg, make_staff_account

CHORTOQ_POINT = (41.0690, 71.8230)
BOYSUN_POINT = (38.2060, 67.1990)
# Metres in one degree of latitude on a sphere of the Earth's mean radius.
METRES_PER_DEGREE = geo.EARTH_RADIUS_M * 3.141592653589793 / 180


def north_of(point: tuple[float, float], metres: float) -> tuple[float, float]:
    return point[0] + metres / METRES_PER_DEGREE, point[1]


def sized_photo(width: int, height: int) -> ProcessedPhoto:
    """Photos of different sizes have different content, so different names."""
    return process_photo(jpeg(width, height), 10 * 1024 * 1024)


async def mahalla_id(district_id: int, name_uz: str) -> int:
    row = await Mahalla.select(Mahalla.id).where(
        (Mahalla.district == district_id) & (Mahalla.name_uz == name_uz)).first()
    assert row is not None, name_uz
    return row["id"]


async def category_id(code: str) -> int:
    row = await Category.select(Category.id).where(Category.code == code).first()
    assert row is not None
    return row["id"]


async def make_administrator(username: str = "admin") -> StaffMember:
    grant = Grant(Role.ADMINISTRATOR)
    return StaffMember(await make_staff_account(username, grant), (grant,))


async def ledger_entries(kind: str) -> list[dict[str, Any]]:
    """The entries of a kind, oldest first, with their payload decoded."""
    rows = await LedgerEntry.select(LedgerEntry.subject, LedgerEntry.payload).where(
        LedgerEntry.kind == kind).order_by(LedgerEntry.seq)
    return [{"subject": row["subject"], "payload": json.loads(row["payload"]),
             "raw": row["payload"]} for row in rows]


async def outbox(template: str) -> list[dict[str, Any]]:
    return await OutboxMessage.select().where(OutboxMessage.template == template).order_by(
        OutboxMessage.id)


async def set_times(report_id: int, **times: datetime) -> None:
    """Move a report's registered_at / due_at / ... as if it had happened at another time."""
    await Report.update({getattr(Report, name): value for name, value in times.items()}).where(
        Report.id == report_id)


async def report_row(report_id: int) -> dict[str, Any]:
    row = await services.report(report_id)
    assert row is not None
    return row


async def status_of(report_id: int) -> str:
    return (await report_row(report_id))["status"]
