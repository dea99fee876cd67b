"""The delivery loop, run by `ovoz worker` and, when configured, inside `ovoz serve`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from ovoz.accounts.sms import gateway_for
from ovoz.notify import schedule, services
from ovoz.notify.email import mailer_for
from ovoz.notify.errors import ChannelError
from ovoz.notify.telegram import bot_for
from ovoz.settings import Settings
from ovoz.store.services import DatabaseStore

log = logging.getLogger("ovoz.worker")


class Worker:
    def __init__(self, settings: Settings, jobs: Sequence[schedule.DailyJob],
                 sms_gateway: Any = None) -> None:
        self.settings = settings
        self.jobs = jobs
        self.channels: dict[str, Any] = {
            "inapp": services.InAppChannel(),
            "sms": services.SmsChannel(sms_gateway or gateway_for(settings)),
        }
        self.bot = bot_for(settings)
        if self.bot is not None:
            self.channels["telegram"] = services.TelegramChannel(self.bot)
        mailer = mailer_for(settings)
        if mailer is not None:
            self.channels["email"] = services.EmailChannel(mailer)
        self.store = DatabaseStore().with_namespace("notify")

    async def step(self, batch: int) -> dict[str, int]:
        """Link new Telegram chats, run due scheduled work, deliver one batch."""
        if self.bot is not None:
            try:
                await services.poll_telegram(self.bot, self.store)
            except ChannelError as error:
                # Telegram being away must not stop SMS and in-app delivery.
                log.warning("Telegram polling: %s", error)
        await schedule.tick(self.jobs)
        return await services.run_once(self.channels, self.settings.outbox_max_attempts, batch)

    async def run(self, once: bool = False, batch: int = 50, poll: float = 2.0
                  ) -> dict[str, int]:
        totals = {"sent": 0, "pending": 0, "dead": 0}
        while True:
            outcome = await self.step(batch)
            for status, count in outcome.items():
                totals[status] += count
            if not any(outcome.values()):
                if once:
                    return totals
                await asyncio.sleep(poll)

    async def run_forever(self, poll: float = 2.0) -> None:
        """For the worker inside the web server: an error is logged, not fatal."""
        while True:
            try:
                await self.run(poll=poll)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivery failed; trying again shortly")
                await asyncio.sleep(poll * 5)
