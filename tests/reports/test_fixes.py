"""Is it really fixed? Residents confirm or dispute a fix, and are asked once, some days after."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from ovoz.accounts.permissions import StaffMember
from ovoz.jobs import JOBS
from ovoz.notify import schedule
from ovoz.notify import services as notify
from ovoz.reports import services
from ovoz.reports.services import ReportError
from ovoz.settings import get_settings
from tests.reports.helpers import draft, make_resident
from tests.reports.service_helpers import ledger_entries, outbox, report_row

# 22 November 2026, 11:00 in Tashkent (UTC+5): after the fix check's hour.
MORNING = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


@pytest.fixture
async def supporter(report_id: int) -> int:
    resident = await make_resident("+998901110001", "Bobur")
    await services.add_support(report_id, resident)
    return resident


async def answer_refused(code: str, report_id: int, resident_id: int, fixed: bool = True
                         ) -> None:
    with pytest.raises(ReportError) as caught:
        await services.record_fix_feedback(report_id, resident_id, fixed)
    assert caught.value.code == code


# -- confirming and disputing -----------------------------------------------------------------

async def test_feedback_is_only_for_a_fixed_report(report_id: int, author: int,
                                                   official: StaffMember) -> None:
    await answer_refused("not_fixed", report_id, author)
    await services.change_status(official, report_id, "closed_not_fixed", "No budget.")
    await answer_refused("not_fixed", report_id, author, fixed=False)
    await answer_refused("not_found", report_id + 1000, author)


async def test_only_the_author_and_followers_answer(report_id: int, author: int,
                                                    supporter: int,
                                                    official: StaffMember) -> None:
    stranger = await make_resident("+998901110009", "Nodira")
    await services.change_status(official, report_id, "fixed", "Filled.")
    await answer_refused("not_involved", report_id, stranger)
    await notify.unfollow(author, f"report:{report_id}")
    await services.record_fix_feedback(report_id, author, True, "Thank you!")
    await services.record_fix_feedback(report_id, supporter, True)
    assert await services.fix_feedback_counts(report_id) == {"confirmed": 2, "disputed": 0}
    history = await services.history(report_id)
    assert [(h["kind"], h["note"]) for h in history[1:]] == [("confirmed", "Thank you!"),
                                                             ("confirmed", "")]
    assert (await report_row(report_id))["status"] == "fixed"


async def test_one_answer_per_person_per_fix(report_id: int, author: int,
                                             official: StaffMember) -> None:
    await services.change_status(official, report_id, "fixed", "Filled.")
    await services.record_fix_feedback(report_id, author, True)
    await answer_refused("already_answered", report_id, author)
    await answer_refused("already_answered", report_id, author, fixed=False)
    assert await services.fix_feedback_counts(report_id) == {"confirmed": 1, "disputed": 0}
    assert (await report_row(report_id))["status"] == "fixed"
    [entry] = await ledger_entries("reports.fix_confirmed")
    assert entry["payload"] == {"fix_round": 1}


async def test_a_feedback_note_is_optional_but_bounded(report_id: int, author: int,
                                                       official: StaffMember) -> None:
    await services.change_status(official, report_id, "fixed", "Filled.")
    with pytest.raises(ReportError) as caught:
        await services.record_fix_feedback(report_id, author, False, "n" * 2001)
    assert caught.value.code == "note_too_long"
    assert await services.fix_feedback_counts(report_id) == {"confirmed": 0, "disputed": 0}


async def test_a_dispute_reopens_the_report_and_tells_the_other_followers(
        report_id: int, author: int, supporter: int, official: StaffMember) -> None:
    await services.change_status(official, report_id, "fixed", "Filled.")
    assert (await report_row(report_id))["resolved_at"] is not None
    before = {m["key"] for m in await outbox("report.updated")}
    await services.record_fix_feedback(report_id, supporter, False, "  Still   a hole. ")
    row = await report_row(report_id)
    assert row["status"] == "in_progress" and row["resolved_at"] is None
    queue = await services.queue(official, services.Filters(status="open"), 1, 20)
    assert [r["id"] for r in queue.items] == [report_id]
    history = await services.history(report_id)
    assert [(h["kind"], h["status_from"], h["status_to"], h["note"]) for h in history[1:]] == [
        ("disputed", "", "", "Still a hole."), ("reopened", "fixed", "in_progress", "")]
    told = [m for m in await outbox("report.updated") if m["key"] not in before]
    assert {m["key"] for m in told} == {f"report:{report_id}:reopened:1:{author}:inapp",
                                        f"report:{report_id}:reopened:1:{author}:sms"}
    assert json.loads(told[0]["payload"])["status_msgid"] == "In progress"
    assert await services.fix_feedback_counts(report_id) == {"confirmed": 0, "disputed": 1}
    [entry] = await ledger_entries("reports.fix_disputed")
    assert entry["payload"] == {"fix_round": 1} and "hole" not in entry["raw"]


async def test_after_a_second_fix_everyone_answers_again(report_id: int, author: int,
                                                         supporter: int,
                                                         official: StaffMember) -> None:
    await services.change_status(official, report_id, "fixed", "Filled.")
    await services.record_fix_feedback(report_id, author, True)
    await services.record_fix_feedback(report_id, supporter, False)
    await services.change_status(official, report_id, "fixed", "Filled properly this time.")
    row = await report_row(report_id)
    assert row["fix_round"] == 2 and row["resolved_at"] is not None
    assert await services.fix_feedback_counts(report_id) == {"confirmed": 0, "disputed": 0}
    await services.record_fix_feedback(report_id, supporter, True)
    await services.record_fix_feedback(report_id, author, True)
    assert await services.fix_feedback_counts(report_id) == {"confirmed": 2, "disputed": 0}
    assert (await report_row(report_id))["status"] == "fixed"


async def test_counts_of_an_unknown_report_are_zero(db: str) -> None:
    assert await services.fix_feedback_counts(1) == {"confirmed": 0, "disputed": 0}


# -- asking after the fix ---------------------------------------------------------------------

async def fix_checks() -> list[dict[str, object]]:
    return await outbox("report.fix_check")


async def test_the_author_is_asked_once_after_the_days_pass(report_id: int, author: int,
                                                            supporter: int,
                                                            official: StaffMember
                                                            ) -> None:
    fixed_at = services.now()
    days = timedelta(days=get_settings().fix_check_days)
    await services.change_status(official, report_id, "fixed", "Filled.", at=fixed_at)
    await services.ask_fix_checks(fixed_at + days - timedelta(seconds=1))
    assert await fix_checks() == []
    await services.ask_fix_checks(fixed_at + days)
    await services.ask_fix_checks(fixed_at + days + timedelta(days=1))
    messages = await fix_checks()
    assert {(m["key"], m["recipient_kind"], m["recipient_id"]) for m in messages} == {
        (f"report:{report_id}:fix_check:1:inapp", "resident", author),
        (f"report:{report_id}:fix_check:1:sms", "resident", author)}
    payload = json.loads(messages[0]["payload"])
    assert payload["id"] == report_id and payload["link"] == services.report_link(report_id)
    assert "Яма на дороге" in notify.render("report.fix_check", payload, "ru")
    assert "Yoʻldagi chuqur" in notify.render("report.fix_check", payload, "uz")
    assert (await report_row(report_id))["fix_check_sent_at"] == fixed_at + days


async def test_checks_asked_at_once_by_several_workers_ask_once(report_id: int, author: int,
                                                                official: StaffMember
                                                                ) -> None:
    await notify.choose_channels(author, ["inapp"])
    fixed_at = services.now()
    await services.change_status(official, report_id, "fixed", "Filled.", at=fixed_at)
    at = fixed_at + timedelta(days=get_settings().fix_check_days + 1)
    await asyncio.gather(*(services.ask_fix_checks(at) for _ in range(5)))
    assert [m["key"] for m in await fix_checks()] == [f"report:{report_id}:fix_check:1:inapp"]


async def test_only_fixed_reports_are_asked_about(author: int,
                                                  official: StaffMember) -> None:
    supporter = await make_resident("+998901110001", "Bobur")
    fixed_at = services.now()
    at = fixed_at + timedelta(days=get_settings().fix_check_days + 1)
    closed = await services.create_report(author, draft())
    await services.change_status(official, closed, "closed_not_fixed", "No budget.",
                                 at=fixed_at)
    disputed = await services.create_report(author, draft())
    await services.add_support(disputed, supporter)
    await services.change_status(official, disputed, "fixed", "Filled.", at=fixed_at)
    await services.record_fix_feedback(disputed, supporter, False)
    await services.create_report(author, draft())
    await services.ask_fix_checks(at)
    assert await fix_checks() == []


async def test_a_second_fix_is_asked_about_again(report_id: int, author: int, supporter: int,
                                                 official: StaffMember) -> None:
    await notify.choose_channels(author, ["inapp"])
    days = timedelta(days=get_settings().fix_check_days)
    first_fix = services.now()
    await services.change_status(official, report_id, "fixed", "Filled.", at=first_fix)
    await services.ask_fix_checks(first_fix + days)
    await services.record_fix_feedback(report_id, supporter, False)
    second_fix = first_fix + days + timedelta(days=2)
    await services.change_status(official, report_id, "fixed", "Filled again.", at=second_fix)
    await services.ask_fix_checks(second_fix + days - timedelta(hours=1))
    assert len(await fix_checks()) == 1
    await services.ask_fix_checks(second_fix + days)
    assert [m["key"] for m in await fix_checks()] == [
        f"report:{report_id}:fix_check:1:inapp", f"report:{report_id}:fix_check:2:inapp"]


async def test_the_scheduled_job_asks_once_a_day(report_id: int, author: int,
                                                 official: StaffMember) -> None:
    await notify.choose_channels(author, ["inapp"])
    await services.change_status(official, report_id, "fixed", "Filled.",
                                 at=MORNING - timedelta(days=get_settings().fix_check_days + 1))
    ran = [run for run in await schedule.tick(JOBS, MORNING)
           if run.startswith("reports.fix_check")]
    assert ran[-1] == "reports.fix_check 2026-11-22"
    assert [m["key"] for m in await fix_checks()] == [f"report:{report_id}:fix_check:1:inapp"]
    assert not [run for run in await schedule.tick(JOBS, MORNING + timedelta(hours=5))
                if run.startswith("reports.fix_check")]
    # Before ten the next day it waits; after ten it runs for that day only.
    next_day = MORNING + timedelta(days=1)
    assert not [run for run in await schedule.tick(JOBS, next_day - timedelta(hours=2))
                if run.startswith("reports.fix_check")]
    assert [run for run in await schedule.tick(JOBS, next_day)
            if run.startswith("reports.fix_check")] == ["reports.fix_check 2026-11-23"]
    assert len(await fix_checks()) == 1
