"""Scheduled work runs once per due moment with several workers, and catches up."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from ovoz.accounts.tables import SignInCode
from ovoz.jobs import JOBS
from ovoz.notify import schedule
from ovoz.notify.tables import ScheduledRun
from ovoz.store.tables import RateCounter

# 22 November 2026, 10:00 in Tashkent (UTC+5).
MORNING = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)


def test_due_days_catch_up_but_not_forever() -> None:
    assert schedule.daily_moments(MORNING, 3, date(2026, 11, 20)) == ["2026-11-21", "2026-11-22"]
    before_three = datetime(2026, 11, 21, 21, 0, tzinfo=UTC)  # 02:00 on the 22nd in Tashkent
    assert schedule.daily_moments(before_three, 3, date(2026, 11, 21)) == []
    assert schedule.daily_moments(MORNING, 3, date(2026, 11, 22)) == []
    caught_up = schedule.daily_moments(MORNING, 3, None)
    assert len(caught_up) == schedule.CATCH_UP_DAYS and caught_up[-1] == "2026-11-22"


async def test_a_moment_runs_once_across_workers(db: str) -> None:
    runs: list[int] = []

    async def work(n: int) -> None:
        await asyncio.sleep(0.01)
        runs.append(n)

    results = await asyncio.gather(*(
        schedule.once("job", "2026-11-22", lambda n=n: work(n), MORNING) for n in range(5)))
    assert sum(results) == 1 and len(runs) == 1
    assert not await schedule.once("job", "2026-11-22", lambda: work(9), MORNING)


async def test_an_abandoned_run_is_taken_over_after_its_lease(db: str) -> None:
    await ScheduledRun.insert(ScheduledRun(job="job", moment="2026-11-22", started_at=MORNING,
                                           lease_until=MORNING + schedule.LEASE))
    done: list[str] = []

    async def work() -> None:
        done.append("ran")

    assert not await schedule.once("job", "2026-11-22", work, MORNING + timedelta(minutes=1))
    assert await schedule.once("job", "2026-11-22", work, MORNING + schedule.LEASE * 2)
    assert done == ["ran"]


async def test_housekeeping_removes_what_is_no_longer_needed(db: str) -> None:
    old = MORNING - timedelta(days=3)
    await SignInCode.insert(
        SignInCode(phone="+998901234567", digest="a" * 64, created_at=old, expires_at=old),
        SignInCode(phone="+998901234567", digest="b" * 64, created_at=MORNING,
                   expires_at=MORNING + timedelta(minutes=5)),
    )
    await RateCounter.insert(RateCounter(key="k", window_start=int(old.timestamp()), hits=3))
    ran = [run for run in await schedule.tick(JOBS, MORNING) if run.startswith("housekeeping")]
    assert ran[-1] == "housekeeping 2026-11-22" and len(ran) == schedule.CATCH_UP_DAYS
    assert await SignInCode.count() == 1
    assert await RateCounter.count() == 0
    assert await schedule.tick(JOBS, MORNING) == []


async def test_a_daily_digest_replaces_a_message_per_event(db: str) -> None:
    from ovoz.accounts.sms import ConsoleGateway
    from ovoz.accounts.tables import Resident
    from ovoz.notify import services
    from ovoz.notify.tables import OutboxMessage
    from tests.conftest import SMS_OUTBOX, sms_outbox

    rows = await Resident.insert(Resident(phone="+998905550011", language="uz",
                                          created_at=MORNING)).returning(Resident.id)
    someone = rows[0]["id"]
    await services.choose_channels(someone, ["inapp", "sms"], digest="daily")
    for n in range(3):
        await services.enqueue(f"due:{n}", "resident", someone, "obligation.due_soon",
                               {"date": "1-dekabr", "title": f"Ish {n}", "link": ""})
    channels = {"inapp": services.InAppChannel(),
                "sms": services.SmsChannel(ConsoleGateway(SMS_OUTBOX))}
    before = len(sms_outbox())
    assert (await services.run_once(channels, 3))["sent"] == 3  # the bell at once
    assert len(sms_outbox()) == before  # the SMS wait for the digest
    evening = MORNING + timedelta(hours=10)  # 20:00 in Tashkent
    assert "digest 2026-11-22" in await schedule.tick(JOBS, evening)
    assert (await services.run_once(channels, 3))["sent"] == 1
    [digest] = sms_outbox()[before:]
    assert digest["text"].startswith("Ovoz: 3 ta yangi xabarnoma.")
    assert digest["text"].count("- Muddati 1-dekabr: Ish") == 3
    held = await OutboxMessage.select(OutboxMessage.status).where(
        OutboxMessage.channel == "sms").output(as_list=True)
    assert sorted(held) == ["digested", "digested", "digested", "sent"]
    assert "digest 2026-11-22" not in await schedule.tick(JOBS, evening)
