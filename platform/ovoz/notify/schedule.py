"""Scheduled work: each job runs once per due moment, whichever of several workers gets there
first, and catches up on the moments missed while no worker ran."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from ovoz.accounts.tables import SignInCode
from ovoz.i18n.locale import TASHKENT
from ovoz.notify import services
from ovoz.notify.tables import InAppMessage, OutboxMessage, ScheduledRun
from ovoz.store.services import DatabaseStore
from ovoz.store.tables import RateCounter

LEASE = timedelta(minutes=10)
DIGEST_HOUR = 19
CATCH_UP_DAYS = 7
# Kept no longer than needed: sent messages lose their content, read bell messages go.
SENT_MESSAGE_RETENTION = timedelta(days=90)
READ_INAPP_RETENTION = timedelta(days=365)


def now() -> datetime:
    return datetime.now(UTC)


async def once(job: str, moment: str, work: Callable[[], Awaitable[object]],
               at: datetime | None = None) -> bool:
    """Run `work` for this moment unless another worker has done it or is doing it."""
    at = at or now()
    claimed = await ScheduledRun.insert(
        ScheduledRun(job=job, moment=moment, started_at=at, lease_until=at + LEASE)
    ).on_conflict(target=(ScheduledRun.job, ScheduledRun.moment), action="DO NOTHING"
                  ).returning(ScheduledRun.id)
    if not claimed:
        claimed = await ScheduledRun.update({
            ScheduledRun.started_at: at, ScheduledRun.lease_until: at + LEASE,
        }).where(
            (ScheduledRun.job == job) & (ScheduledRun.moment == moment)
            & ScheduledRun.finished_at.is_null() & (ScheduledRun.lease_until < at)
        ).returning(ScheduledRun.id)
    if not claimed:
        return False
    await work()
    await ScheduledRun.update({ScheduledRun.finished_at: now()}).where(
        ScheduledRun.id == claimed[0]["id"])
    return True


def daily_moments(at: datetime, hour: int, last_done: date | None) -> list[str]:
    """The days (Tashkent time) whose run at `hour` is due and not yet done, oldest first,
    going back at most a week."""
    local = at.astimezone(TASHKENT)
    latest = local.date() if local.time() >= time(hour) else local.date() - timedelta(days=1)
    earliest = latest - timedelta(days=CATCH_UP_DAYS - 1)
    if last_done is not None:
        earliest = max(earliest, last_done + timedelta(days=1))
    days = (latest - earliest).days + 1
    return [(earliest + timedelta(days=n)).isoformat() for n in range(max(days, 0))]


async def last_finished(job: str) -> date | None:
    row = await ScheduledRun.select(ScheduledRun.moment).where(
        (ScheduledRun.job == job) & ScheduledRun.finished_at.is_not_null()
    ).order_by(ScheduledRun.moment, ascending=False).first()
    return date.fromisoformat(row["moment"]) if row else None


async def housekeeping(at: datetime | None = None) -> None:
    """Remove what Ovoz no longer needs: used or expired sign-in codes, old rate counters and
    store values, the content of long-sent messages, old read bell messages."""
    at = at or now()
    await SignInCode.delete().where(SignInCode.expires_at < at - timedelta(days=1))
    await RateCounter.delete().where(RateCounter.window_start < int(at.timestamp()) - 2 * 86400)
    await DatabaseStore().delete_expired()
    await OutboxMessage.update({OutboxMessage.payload: "{}"}).where(
        (OutboxMessage.status == "sent") & (OutboxMessage.sent_at < at - SENT_MESSAGE_RETENTION)
    )
    await InAppMessage.delete().where(
        InAppMessage.read_at.is_not_null() & (InAppMessage.read_at < at - READ_INAPP_RETENTION)
    )


async def digests(moment: str) -> None:
    # Weekly digests go out on Mondays, daily ones every evening.
    await services.send_digests(moment, weekly_too=date.fromisoformat(moment).weekday() == 0)


@dataclass(frozen=True, slots=True)
class DailyJob:
    """Work done once a day at `hour`, Tashkent time; `work` gets the day and the time now."""

    name: str
    hour: int
    work: Callable[[str, datetime], Awaitable[object]]


HOUSEKEEPING = DailyJob("housekeeping", 3, lambda moment, at: housekeeping(at))
DIGEST = DailyJob("digest", DIGEST_HOUR, lambda moment, at: digests(moment))


async def tick(jobs: Sequence[DailyJob], at: datetime | None = None) -> list[str]:
    """Run whatever scheduled work is due; return the moments this worker ran."""
    at = at or now()
    ran = []
    for job in jobs:
        for moment in daily_moments(at, job.hour, await last_finished(job.name)):
            if await once(job.name, moment,
                          lambda job=job, moment=moment: job.work(moment, at), at):
                ran.append(f"{job.name} {moment}")
    return ran
