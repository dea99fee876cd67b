"""Demo history for `ovoz seed --demo`: reports registered over the past four months and
answered early, late or not at all, so the scorecards and the league table have something to
compare. Each district answers differently, the way real ones do."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from ovoz.accountability import clock
from ovoz.accountability import services as accountability
from ovoz.accountability.tables import Obligation
from ovoz.accounts.permissions import Grant, Role, StaffMember
from ovoz.accounts.tables import Resident
from ovoz.db import transaction
from ovoz.geo import services as geo
from ovoz.reports import services as reports
from ovoz.reports.demo import PROBLEMS, demo_official, pilot_districts
from ovoz.reports.tables import Category, Report, ReportUpdate

HISTORY_NAME = "Namuna tarix (demo)"
REPORTS_PER_DISTRICT = 12
# Share of reports each pilot district (in settings order) answers within the term.
ON_TIME_SHARES = (0.9, 0.45, 0.7)


async def seed_demo_history() -> int:
    """Add the demo history once; later runs add nothing. Returns how many reports."""
    if await Resident.exists().where(Resident.display_name == HISTORY_NAME):
        return 0
    official = await demo_official()
    added = 0
    for position, district in enumerate(await pilot_districts()):
        author = (await Resident.insert(Resident(
            display_name=HISTORY_NAME, created_at=reports.now())).returning(Resident.id)
                  )[0]["id"]
        answering = StaffMember(official["id"], (
            Grant(Role.OFFICIAL, district["region"], district["id"]),))
        located = [m for m in await geo.mahallas_of(district["id"]) if m["centre_lat"]]
        if not located:
            continue
        chance = random.Random(district["id"])
        share = ON_TIME_SHARES[position % len(ON_TIME_SHARES)]
        for index in range(REPORTS_PER_DISTRICT):
            category, text, _, _ = PROBLEMS[index % len(PROBLEMS)]
            mahalla = located[index % len(located)]
            report_id = await reports.create_report(author, reports.Draft(
                category=category, description=text, mahalla_id=mahalla["id"],
                lat=mahalla["centre_lat"] - 0.0011 * (index + 1),
                lon=mahalla["centre_lon"] + 0.0007 * (index + 1)))
            added += 1
            registered = reports.now() - timedelta(days=8 + index * 10)
            await _registered_at(report_id, registered)
            if index == 0:
                continue
            on_time = chance.random() < share
            if not on_time and index % 4 == 1:
                continue
            days = chance.randint(2, 13) if on_time else chance.randint(17, 35)
            answered = registered + timedelta(days=days, hours=chance.randint(1, 8))
            if answered >= reports.now():
                continue
            await reports.change_status(answering, report_id, reports.ACKNOWLEDGED,
                                        "Namuna: qabul qilindi.",
                                        at=registered + timedelta(days=min(days, 2)))
            await reports.change_status(answering, report_id, reports.FIXED,
                                        "Namuna: muammo hal qilindi.", at=answered)
    return added


async def _registered_at(report_id: int, registered: datetime) -> None:
    """Move a fresh demo report's registration into the past, with its clock: demo data only,
    which is why it writes the tables itself."""
    row = await Report.select(Report.category).where(Report.id == report_id).first()
    assert row is not None
    category = await Category.select(Category.response_days).where(
        Category.id == row["category"]).first()
    assert category is not None
    due = clock.due_after(registered, days=category["response_days"])
    async with transaction():
        await Report.update({Report.registered_at: registered, Report.due_at: due,
                             Report.updated_at: registered}).where(Report.id == report_id)
        await ReportUpdate.update({ReportUpdate.at: registered}).where(
            ReportUpdate.report == report_id)
        await Obligation.update({Obligation.registered_at: registered, Obligation.due_at: due,
                                 Obligation.original_due_at: due}).where(
            (Obligation.kind == accountability.REPORT) & (Obligation.ref == report_id))

