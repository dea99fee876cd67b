"""The outbox: queued with the change, delivered at least once, retried, dead-lettered."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from ovoz.accounts.sms import ConsoleGateway
from ovoz.accounts.tables import Resident
from ovoz.db import transaction
from ovoz.notify import services
from ovoz.notify.errors import ChannelError
from ovoz.notify.tables import InAppMessage, OutboxMessage
from tests.conftest import SMS_OUTBOX, sms_outbox

PAYLOAD = {"title": "Yoʻlni taʼmirlash", "link": "https://ovoz.example/petitions/1"}


async def resident(language: str = "uz", phone: str = "+998901234567") -> int:
    rows = await Resident.insert(Resident(phone=phone, language=language,
                                          created_at=services.now())).returning(Resident.id)
    return rows[0]["id"]


class Flaky:
    """A channel that fails the first `failures` times, temporarily or for good."""

    def __init__(self, failures: int, permanent: bool = False) -> None:
        self.failures, self.permanent, self.delivered = failures, permanent, []

    async def deliver(self, delivery: services.Delivery) -> None:
        if self.failures:
            self.failures -= 1
            raise ChannelError("gateway down", permanent=self.permanent)
        self.delivered.append(delivery.key)


async def test_nothing_is_queued_when_the_change_rolls_back(db: str) -> None:
    someone = await resident()
    with pytest.raises(RuntimeError):
        async with transaction():
            await services.enqueue("petition:1:responded", "resident", someone,
                                   "petition.responded", PAYLOAD)
            raise RuntimeError("the response could not be saved")
    assert await OutboxMessage.count() == 0


async def test_one_message_per_chosen_channel_and_never_twice(db: str) -> None:
    someone = await resident()
    assert await services.enqueue("petition:1:responded", "resident", someone,
                                  "petition.responded", PAYLOAD) == 2
    assert await services.enqueue("petition:1:responded", "resident", someone,
                                  "petition.responded", PAYLOAD) == 0
    channels = await OutboxMessage.select(OutboxMessage.channel).output(as_list=True)
    assert sorted(channels) == ["inapp", "sms"]
    await services.choose_channels(someone, ["telegram", "inapp", "nonsense"])
    assert await services.resident_channels(someone) == ("telegram", "inapp")


async def test_worker_delivers_in_the_residents_language(db: str) -> None:
    russian = await resident("ru", "+998901112233")
    await services.enqueue("petition:1:responded", "resident", russian, "petition.responded",
                           PAYLOAD)
    sent_before = len(sms_outbox())
    outcome = await services.run_once(
        {"inapp": services.InAppChannel(), "sms": services.SmsChannel(ConsoleGateway(SMS_OUTBOX))},
        max_attempts=3)
    assert outcome == {"sent": 2, "pending": 0, "dead": 0}
    bell = await services.inbox("resident", russian)
    assert len(bell) == 1 and bell[0]["text"].startswith("Ответ на петицию")
    assert sms_outbox()[sent_before]["text"] == bell[0]["text"]
    assert await services.unread_count("resident", russian) == 1
    await services.mark_all_read("resident", russian)
    assert await services.unread_count("resident", russian) == 0
    statuses = await OutboxMessage.select(OutboxMessage.status).output(as_list=True)
    assert statuses == ["sent", "sent"]


async def test_failures_are_retried_with_growing_delays_then_dead_lettered(db: str) -> None:
    someone = await resident()
    await services.enqueue("report:1:updated", "resident", someone, "report.updated",
                           {"id": 1, "title": "Chuqur", "status": "fixed", "link": "/r/1"}, ["sms"])
    flaky = Flaky(failures=10)
    assert (await services.run_once({"sms": flaky}, max_attempts=3))["pending"] == 1
    row = await OutboxMessage.select().first()
    assert row["attempts"] == 1 and row["last_error"] == "gateway down"
    assert row["next_try_at"] - services.now() > services.backoff(1) * 0.9
    # Not due yet: nothing is claimed.
    assert await services.claim(10) == []
    for _second_and_third in range(2):
        await OutboxMessage.update({OutboxMessage.next_try_at: services.now()}, force=True)
        outcome = await services.run_once({"sms": flaky}, max_attempts=3)
    assert outcome["dead"] == 1
    dead = await services.dead_letters()
    assert [d["attempts"] for d in dead] == [3]
    assert await services.retry_dead(dead[0]["id"])
    flaky.failures = 0
    assert (await services.run_once({"sms": flaky}, max_attempts=3))["sent"] == 1


async def test_a_permanent_failure_is_dead_at_once(db: str) -> None:
    someone = await resident()
    await services.enqueue("report:2:updated", "resident", someone, "report.updated",
                           {"id": 2, "title": "Chiroq", "status": "fixed", "link": ""},
                           ["telegram"])
    outcome = await services.run_once({"telegram": Flaky(1, permanent=True)}, max_attempts=5)
    assert outcome["dead"] == 1


async def test_backoff_grows_and_is_capped() -> None:
    delays = [services.backoff(n).total_seconds() for n in (1, 2, 3, 20)]
    assert delays[:3] == [30, 60, 120]
    assert delays[3] == services.MAX_BACKOFF.total_seconds()


async def test_two_workers_never_deliver_the_same_message(db: str) -> None:
    someone = await resident()
    for n in range(30):
        await services.enqueue(f"event:{n}", "resident", someone, "obligation.due_soon",
                               {"date": "1-dekabr", "title": f"No {n}", "link": ""}, ["inapp"])
    delivered: list[str] = []

    class Slow:
        async def deliver(self, delivery: services.Delivery) -> None:
            await asyncio.sleep(0.005)
            delivered.append(delivery.key)

    await asyncio.gather(*(services.run_once({"inapp": Slow()}, 3, batch=7) for _ in range(6)))
    assert sorted(delivered) == sorted(set(delivered))
    assert len(delivered) == 30


WORKER = """
import asyncio, sys
from ovoz import db
from ovoz.notify import services
from ovoz.notify.errors import ChannelError
from ovoz.settings import get_settings

class SlowInApp(services.InAppChannel):
    async def deliver(self, delivery):
        await super().deliver(delivery)
        print(delivery.key, flush=True)
        await asyncio.sleep(0.05)

async def main():
    db.use_database(get_settings().database_url)
    await services.run_once({"inapp": SlowInApp()}, max_attempts=5, batch=100)

asyncio.run(main())
"""


async def test_a_killed_worker_loses_and_duplicates_nothing(db: str) -> None:
    someone = await resident()
    for n in range(40):
        await services.enqueue(f"event:{n}", "resident", someone, "obligation.due_soon",
                               {"date": "1-dekabr", "title": f"No {n}", "link": ""}, ["inapp"])
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WORKER, env={**os.environ, "OVOZ_DATABASE_URL": db},
        stdout=asyncio.subprocess.PIPE,
    )
    assert worker.stdout is not None
    for _ in range(10):  # let it deliver some of its batch, then kill it without warning
        await asyncio.wait_for(worker.stdout.readline(), 60)
    worker.send_signal(signal.SIGKILL)
    await worker.wait()
    delivered_before = await InAppMessage.count()
    assert 10 <= delivered_before < 40
    # Its claim is still held; once the lease passes, another worker takes over.
    assert await services.claim(100) == []
    await OutboxMessage.update({OutboxMessage.claimed_until: services.now()}, force=True)
    await services.run_once({"inapp": services.InAppChannel()}, max_attempts=5, batch=100)
    keys = await InAppMessage.select(InAppMessage.key).output(as_list=True)
    assert sorted(keys) == sorted(f"event:{n}:inapp" for n in range(40))
    assert set(await OutboxMessage.select(OutboxMessage.status).output(as_list=True)) == {"sent"}


async def test_follows(db: str) -> None:
    first, second = await resident(), await resident(phone="+998901112233")
    await services.follow(first, "petition:1")
    await services.follow(second, "petition:1")
    await services.follow(first, "petition:1")
    assert sorted(await services.followers("petition:1")) == sorted([first, second])
    await services.unfollow(first, "petition:1")
    assert await services.followers("petition:1") == [second]
    await services.follow(first, "petition:1")
    assert sorted(await services.followers("petition:1")) == sorted([first, second])
