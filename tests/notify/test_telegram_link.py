"""Linking a resident's Telegram chat with a one-time code, and delivering to it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from ovoz.accounts import sessions
from ovoz.accounts.tables import Resident
from ovoz.notify import services
from ovoz.notify.tables import TelegramLink, TelegramLinkCode
from ovoz.store.services import DatabaseStore


class FakeBot:
    """Stands in for TelegramBot (whose HTTP is tested against a fake Bot API)."""

    def __init__(self, updates: list[dict[str, Any]] | None = None) -> None:
        self.pending = updates or []
        self.sent: list[tuple[int, str]] = []

    async def updates(self, offset: int | None = None) -> list[dict[str, Any]]:
        return [u for u in self.pending if offset is None or u["update_id"] >= offset]

    async def send_message(self, chat_id: int, text: str) -> None:
        self.sent.append((chat_id, text))


def start_message(update_id: int, chat_id: int, code: str) -> dict[str, Any]:
    return {"update_id": update_id, "message": {"chat": {"id": chat_id, "type": "private"},
                                                "text": f"/start {code}"}}


async def resident(phone: str = "+998901234567", language: str = "uz") -> int:
    rows = await Resident.insert(Resident(phone=phone, language=language,
                                          created_at=services.now())).returning(Resident.id)
    return rows[0]["id"]


async def test_a_code_links_the_chat_once(db: str) -> None:
    someone = await resident()
    code = await services.start_telegram_link(someone)
    assert await services.complete_telegram_link(code, 5551234) == someone
    assert await services.complete_telegram_link(code, 5559999) is None
    assert await services.telegram_linked(someone)
    await services.unlink_telegram(someone)
    assert not await services.telegram_linked(someone)


async def test_an_expired_code_links_nothing(db: str) -> None:
    someone = await resident()
    code = await services.start_telegram_link(someone)
    await TelegramLinkCode.update(
        {TelegramLinkCode.expires_at: services.now() - timedelta(seconds=1)}, force=True)
    assert await services.complete_telegram_link(code, 5551234) is None
    assert await TelegramLink.count() == 0


async def test_polling_links_chats_and_remembers_where_it_stopped(db: str) -> None:
    first, second = await resident(), await resident("+998901112233")
    bot = FakeBot([
        start_message(10, 111, await services.start_telegram_link(first)),
        {"update_id": 11, "message": {"chat": {"id": 999, "type": "private"}, "text": "salom"}},
        start_message(12, 222, await services.start_telegram_link(second)),
    ])
    store = DatabaseStore().with_namespace("test-notify")
    assert await services.poll_telegram(bot, store) == 2
    assert await store.get("telegram:offset") == b"13"
    assert await services.poll_telegram(bot, store) == 0
    links = await TelegramLink.select(TelegramLink.resident, TelegramLink.chat_id)
    assert {(row["resident"], row["chat_id"]) for row in links} == {(first, 111), (second, 222)}


async def test_messages_reach_the_linked_chat(db: str) -> None:
    someone = await resident(language="ru")
    await services.complete_telegram_link(await services.start_telegram_link(someone), 4242)
    bot = FakeBot()
    await services.enqueue("due:tg", "resident", someone, "obligation.due_soon",
                           {"date": "1-dekabr", "title": "Ariq", "link": "/p/1"}, ["telegram"])
    outcome = await services.run_once({"telegram": services.TelegramChannel(bot)}, 3)
    assert outcome["sent"] == 1
    assert bot.sent == [(4242, "Срок 1-dekabr: Ariq. /p/1")]


async def test_an_unlinked_resident_is_a_dead_letter_not_a_retry(db: str) -> None:
    someone = await resident()
    await services.enqueue("due:tg2", "resident", someone, "obligation.due_soon",
                           {"date": "1-dekabr", "title": "Ariq", "link": ""}, ["telegram"])
    outcome = await services.run_once({"telegram": services.TelegramChannel(FakeBot())}, 3)
    assert outcome["dead"] == 1


async def test_residents_choose_their_channels_on_the_profile(client: httpx.AsyncClient) -> None:
    someone = await resident()
    client.cookies.set("ovoz_session", await sessions.start(sessions.RESIDENT, someone, 0))
    await client.get("/profile")
    saved = await client.post("/profile/channels", data={
        "channel": ["inapp", "telegram"], "digest": "weekly",
        "_csrf_token": client.cookies["csrftoken"]})
    assert saved.status_code in (302, 303)
    assert await services.resident_channels(someone) == ("inapp", "telegram")
    assert await services.resident_digest(someone) == "weekly"
    profile = await client.get("/profile")
    assert 'id="channel-telegram" name="channel" value="telegram" checked' in profile.text
    assert 'id="channel-sms" name="channel" value="sms">' in profile.text
