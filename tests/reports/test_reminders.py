"""Officials hear two days before a report is due and once it has passed, each only once;
their supervisors hear when it stays overdue."""

from __future__ import annotations

from datetime import timedelta

from ovoz.accountability import services as accountability
from ovoz.accountability.tables import Obligation
from ovoz.accounts.permissions import StaffMember
from ovoz.jobs import JOBS
from ovoz.notify import schedule
from ovoz.notify import services as notify
from ovoz.notify.tables import OutboxMessage
from ovoz.reports import services
from ovoz.reports.tables import Report
from tests.reports.helpers import CHORTOQ, draft, make_official


async def reminders(template: str) -> list[dict[str, object]]:
    return await OutboxMessage.select(OutboxMessage.recipient_id, OutboxMessage.key,
                                      OutboxMessage.payload).where(
        (OutboxMessage.template == template) & (OutboxMessage.channel == "inapp"))


async def test_due_soon_then_overdue_each_once(author: int, official: StaffMember
                                               ) -> None:
    roads = await services.create_department(official, 16, "Yoʻl xoʻjaligi")
    other = await services.create_department(official, 16, "Suv taʼminoti")
    roads_official = await make_official("yol", department_id=roads)
    water_official = await make_official("suv", department_id=other)
    elsewhere = await make_official("chortoq", district_id=CHORTOQ)
    report_id = await services.create_report(author, draft())
    await services.reroute(official, report_id, roads, "Yoʻl boʻlimiga.")
    report = await services.report(report_id)
    far = report["due_at"] - timedelta(days=5)
    assert await accountability.remind_due(far) == 0
    soon = report["due_at"] - timedelta(days=1)
    assert await accountability.remind_due(soon) > 0
    assert await accountability.remind_due(soon + timedelta(hours=3)) == 0
    # The department answers; the district-wide official is its supervisor.
    told = {row["recipient_id"] for row in await reminders("obligation.due_soon")}
    assert told == {roads_official.id}
    rendered = notify.render("obligation.due_soon",
                             {"title": "x", "date_day": "2026-12-07", "link": ""}, "uz")
    assert "7-dekabr 2026" in rendered
    late = report["due_at"] + timedelta(hours=2)
    assert await accountability.remind_due(late) > 0
    assert await accountability.remind_due(late + timedelta(days=1)) == 0
    assert {row["recipient_id"] for row in await reminders("obligation.overdue")} == told
    assert not await reminders("obligation.escalated")
    escalated = report["due_at"] + timedelta(days=3, hours=2)
    assert await accountability.remind_due(escalated) == 1
    assert await accountability.remind_due(escalated + timedelta(days=1)) == 0
    [message] = await reminders("obligation.escalated")
    assert message["recipient_id"] == official.id
    everyone = {row["recipient_id"] for row in await OutboxMessage.select(
        OutboxMessage.recipient_id)}
    assert water_official.id not in everyone and elsewhere.id not in everyone


async def test_answered_reports_are_not_reminded(author: int, official: StaffMember
                                                 ) -> None:
    report_id = await services.create_report(author, draft())
    await services.change_status(official, report_id, services.FIXED, "Tuzatildi.")
    due = (await services.report(report_id))["due_at"]
    assert await accountability.remind_due(due + timedelta(hours=1)) == 0


async def test_the_morning_job_sends_the_reminders(author: int, official: StaffMember
                                                   ) -> None:
    report_id = await services.create_report(author, draft())
    at = services.now()
    await Report.update({Report.due_at: at + timedelta(days=1)}).where(Report.id == report_id)
    await Obligation.update({Obligation.due_at: at + timedelta(days=1)}).where(
        (Obligation.kind == "report") & (Obligation.ref == report_id))
    ran = await schedule.tick(JOBS, at.replace(hour=6, minute=0))
    assert any(run.startswith("deadlines.remind") for run in ran)
    assert await reminders("obligation.due_soon")
