"""TelegramBot over real HTTP against a fake Bot API running in a thread of this process."""

from __future__ import annotations

import itertools
import json
import logging
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest

from ovoz.notify import telegram
from ovoz.notify.errors import ChannelError
from ovoz.notify.telegram import TelegramBot, bot_for, link_code_from
from ovoz.settings import ROOT, load_settings
from tests.fakes import FakeServer, serving

TOKEN = "123456789:AAH-test_token-Ovoz_0123456789abcdefgh"
CHAT_ID = 987654321
TEXT = "Murojaatingizga javob berildi. Ваше обращение рассмотрено: ovoz.uz/r/4821"

Reply = tuple[int, Any]  # (HTTP status, JSON answer or raw text)


def refusal(code: int, description: str, **parameters: Any) -> Reply:
    answer: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        answer["parameters"] = parameters
    return code, answer


def assert_private(message: str) -> None:
    for secret in (TOKEN, TOKEN.split(":")[1], str(CHAT_ID), TEXT, "Murojaat", "обращение"):
        assert secret not in message


def error_chain(error: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


# A fake Bot API


@dataclass
class Seen:
    token: str
    method: str
    content_type: str
    body: dict[str, Any]
    at: float


@dataclass
class FakeBotApi:
    """api.telegram.org in miniature. Tests steer it through the attributes below."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)  # answered first, one per request
    pending_updates: list[Any] = field(default_factory=list)
    poll_delay: float = 0.0  # getUpdates answers only after this many seconds
    _serial: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, method: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.method == method]

    def answer(self, path: str, content_type: str, body: dict[str, Any]
               ) -> tuple[int, Any, float]:
        """(status, JSON answer or raw text, seconds to wait before answering)."""
        match = re.fullmatch(r"/bot([^/]*)/(\w+)", path)
        if match is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, 0
        token, method = match.groups()
        with self._lock:
            self.seen.append(Seen(token, method, content_type, body, time.monotonic()))
            if token != TOKEN:
                return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}, 0
            if self.replies:
                return *self.replies.pop(0), 0
            if method == "sendMessage":
                return 200, {"ok": True, "result": {
                    "message_id": next(self._serial), "date": int(time.time()),
                    "chat": {"id": body.get("chat_id"), "type": "private"},
                    "text": body.get("text")}}, 0
            if method == "getUpdates":
                return 200, {"ok": True, "result": self.pending_updates}, self.poll_delay
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, 0


class _Handler(BaseHTTPRequestHandler):
    server: FakeServer

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"raw": raw.decode(errors="replace")}
        status, answer, delay = self.server.fake.answer(
            self.path, self.headers.get("Content-Type", ""), body)
        time.sleep(delay)
        if isinstance(answer, str):
            payload, kind = answer.encode(), "text/html"
        else:
            payload, kind = json.dumps(answer).encode(), "application/json"
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except ConnectionError:
            pass  # the client stopped waiting

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request line holds the token, and the tests look for it in output."""


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    with serving(_Handler, lambda url: FakeBotApi(url=url)) as fake:
        yield fake


MakeBot = Callable[..., TelegramBot]


@pytest.fixture
async def make_bot(api: FakeBotApi) -> AsyncIterator[MakeBot]:
    made: list[TelegramBot] = []

    def make(**options: Any) -> TelegramBot:
        options = {"token": TOKEN, "api_url": api.url, "backoff": 0.01, **options}
        bot = TelegramBot(**options)
        made.append(bot)
        return bot

    yield make
    for bot in made:
        await bot.aclose()


def closed_port() -> int:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return unused.getsockname()[1]


# sendMessage


async def test_send_message_posts_the_json(api: FakeBotApi, make_bot: MakeBot) -> None:
    bot = make_bot()
    await bot.send_message(CHAT_ID, TEXT)
    await bot.send_message("@ovoz_news", "second")
    first, second = api.seen
    assert (first.token, first.method) == (TOKEN, "sendMessage")
    assert first.content_type == "application/json"
    assert first.body == {"chat_id": CHAT_ID, "text": TEXT, "disable_web_page_preview": True}
    assert second.body["chat_id"] == "@ovoz_news"


async def test_a_429_is_waited_out_once_without_using_up_an_attempt(
    api: FakeBotApi, make_bot: MakeBot
) -> None:
    api.replies = [refusal(429, "Too Many Requests: retry after 1", retry_after=1)]
    await make_bot(attempts=1).send_message(CHAT_ID, TEXT)
    first, second = api.calls("sendMessage")
    assert second.at - first.at >= 0.9
    assert first.body == second.body


async def test_the_wait_for_a_429_is_capped(
    api: FakeBotApi, make_bot: MakeBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telegram, "MAX_RETRY_AFTER", 0.05)  # 30 s in production
    api.replies = [refusal(429, "Too Many Requests: retry after 3600", retry_after=3600)]
    started = time.monotonic()
    await make_bot().send_message(CHAT_ID, TEXT)
    assert time.monotonic() - started < 2
    assert len(api.calls("sendMessage")) == 2


async def test_a_second_429_goes_back_to_the_caller(api: FakeBotApi, make_bot: MakeBot) -> None:
    api.replies = [refusal(429, "Too Many Requests: retry after 0", retry_after=0)] * 2
    with pytest.raises(ChannelError) as failure:
        await make_bot().send_message(CHAT_ID, TEXT)
    assert str(failure.value) == (
        "Telegram is still limiting the rate of sendMessage (HTTP 429, retry after 0 s)")
    assert failure.value.permanent is False
    assert len(api.calls("sendMessage")) == 2


async def test_server_errors_are_retried_with_growing_pauses(
    api: FakeBotApi, make_bot: MakeBot
) -> None:
    api.replies = [refusal(500, "Internal Server Error"), (502, "<html>Bad Gateway</html>")]
    await make_bot(attempts=3, backoff=0.05).send_message(CHAT_ID, TEXT)
    sends = api.calls("sendMessage")
    assert len(sends) == 3
    pauses = [later.at - earlier.at for earlier, later in itertools.pairwise(sends)]
    assert pauses[0] >= 0.05 * 0.9 and pauses[1] >= 0.1 * 0.9


async def test_server_errors_give_up_after_the_last_attempt(
    api: FakeBotApi, make_bot: MakeBot
) -> None:
    api.replies = [refusal(500, "Internal Server Error")] * 10
    with pytest.raises(ChannelError) as failure:
        await make_bot(attempts=3).send_message(CHAT_ID, TEXT)
    assert str(failure.value) == "Telegram did not accept the message after 3 attempts: HTTP 500"
    assert failure.value.permanent is False
    assert len(api.calls("sendMessage")) == 3


async def test_a_blocked_bot_is_a_permanent_failure(api: FakeBotApi, make_bot: MakeBot) -> None:
    api.replies = [refusal(403, "Forbidden: bot was blocked by the user")]
    with pytest.raises(ChannelError) as failure:
        await make_bot().send_message(CHAT_ID, TEXT)
    assert str(failure.value) == (
        "Telegram refused the message (HTTP 403): Forbidden: bot was blocked by the user")
    assert failure.value.permanent is True
    assert len(api.calls("sendMessage")) == 1  # not retried


async def test_an_unknown_chat_is_a_permanent_failure(
    api: FakeBotApi, make_bot: MakeBot
) -> None:
    api.replies = [refusal(400, "Bad Request: chat not found")]
    with pytest.raises(ChannelError) as failure:
        await make_bot().send_message(CHAT_ID, TEXT)
    assert str(failure.value) == (
        "Telegram refused the message (HTTP 400): Bad Request: chat not found")
    assert failure.value.permanent is True


async def test_a_wrong_token_is_a_temporary_failure(api: FakeBotApi, make_bot: MakeBot) -> None:
    # An operator can fix the token; the messages waiting meanwhile are still worth sending.
    wrong = "111111111:AAWrong-token_abcdefghijklmnopqrstu"
    with pytest.raises(ChannelError) as failure:
        await make_bot(token=wrong).send_message(CHAT_ID, TEXT)
    assert str(failure.value) == ("Telegram refused the message (HTTP 401): Unauthorized; "
                                  "check telegram.bot_token and telegram.api_url")
    assert failure.value.permanent is False
    assert api.seen[0].token == wrong


async def test_a_network_error_is_retried_then_temporary(make_bot: MakeBot) -> None:
    bot = make_bot(api_url=f"http://127.0.0.1:{closed_port()}", attempts=2)
    with pytest.raises(ChannelError) as failure:
        await bot.send_message(CHAT_ID, TEXT)
    assert str(failure.value) == (
        "Telegram did not accept the message after 2 attempts: ConnectError")
    assert failure.value.permanent is False
    # The httpx error (whose request holds the address, token included) is not attached.
    assert failure.value.__cause__ is None and failure.value.__context__ is None


async def test_an_answer_that_is_not_the_bot_api_is_a_temporary_failure(
    api: FakeBotApi, make_bot: MakeBot
) -> None:
    api.replies = [(200, "<html>Captive portal</html>")]
    with pytest.raises(ChannelError) as failure:
        await make_bot().send_message(CHAT_ID, TEXT)
    assert str(failure.value) == (
        "Telegram answered sendMessage with something other than a Bot API reply (HTTP 200)")
    assert failure.value.permanent is False


async def test_a_description_echoing_the_request_is_cleaned(
    api: FakeBotApi, make_bot: MakeBot
) -> None:
    api.replies = [refusal(400, f"Bad Request: chat {CHAT_ID} rejected «{TEXT}» for {TOKEN}")]
    with pytest.raises(ChannelError) as failure:
        await make_bot().send_message(CHAT_ID, TEXT)
    assert str(failure.value).startswith("Telegram refused the message (HTTP 400): Bad Request: ")
    assert_private(str(failure.value))


async def test_the_token_never_reaches_errors_or_logs(
    api: FakeBotApi, make_bot: MakeBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = make_bot(attempts=2)
    await bot.send_message(CHAT_ID, TEXT)
    api.replies = [refusal(500, f"boom {TOKEN}"), refusal(429, "slow down", retry_after=0),
                   refusal(403, f"Forbidden: {TOKEN} blocked by {CHAT_ID}")]
    failures: list[ChannelError] = []
    with pytest.raises(ChannelError) as refused:
        await bot.send_message(CHAT_ID, TEXT)
    failures.append(refused.value)
    unreachable = make_bot(api_url=f"http://127.0.0.1:{closed_port()}", attempts=2)
    with pytest.raises(ChannelError) as lost:
        await unreachable.send_message(CHAT_ID, TEXT)
    failures.append(lost.value)

    for failure in failures:
        for error in error_chain(failure):
            assert_private(str(error))
            assert_private(repr(error))
    assert_private(repr(bot))
    requests = [record for record in caplog.records if record.name == "httpx"]
    assert len(requests) == 4  # httpx logged every answered request, token replaced
    assert all("/bot<bot token>/sendMessage" in record.getMessage() for record in requests)
    assert any(record.name == "ovoz.notify.telegram" for record in caplog.records)
    for record in caplog.records:
        assert_private(record.getMessage())
        assert record.exc_info is None
    assert_private(caplog.text)


async def test_a_callers_client_stays_open(api: FakeBotApi) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        bot = TelegramBot(TOKEN, api.url, client=client)
        await bot.send_message(CHAT_ID, TEXT)
        await bot.aclose()
        assert not client.is_closed
    own = TelegramBot(TOKEN, api.url)
    await own.aclose()
    with pytest.raises(RuntimeError):
        await own._client.post(api.url)  # closed: it was the bot's own


def test_the_bot_refuses_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="token"):
        TelegramBot("")
    with pytest.raises(ValueError, match="attempts"):
        TelegramBot(TOKEN, attempts=0)


# getUpdates


def private_message(text: str, chat_id: Any = CHAT_ID, update_id: int = 1,
                    chat_type: str = "private") -> dict[str, Any]:
    return {"update_id": update_id, "message": {
        "message_id": 10, "date": 1700000000, "text": text,
        "from": {"id": chat_id, "is_bot": False, "first_name": "Dilnoza"},
        "chat": {"id": chat_id, "type": chat_type, "first_name": "Dilnoza"},
    }}


async def test_updates_posts_the_offset_and_returns_the_updates(
    api: FakeBotApi, make_bot: MakeBot
) -> None:
    api.pending_updates = [private_message("/start Ab3_x-9Q", update_id=41),
                           private_message("salom", update_id=42), "not an update"]
    bot = make_bot()
    updates = await bot.updates(offset=41)
    assert updates == api.pending_updates[:2]
    assert [link_code_from(update) for update in updates] == [("Ab3_x-9Q", CHAT_ID), None]
    await bot.updates()
    first, second = api.calls("getUpdates")
    assert first.body == {"offset": 41, "timeout": 0}
    assert second.body == {"timeout": 0}


async def test_a_long_poll_waits_beyond_the_clients_timeout(api: FakeBotApi) -> None:
    api.poll_delay = 0.5
    async with httpx.AsyncClient(timeout=0.2) as client:
        bot = TelegramBot(TOKEN, api.url, client=client, attempts=1)
        assert await bot.updates(timeout=1) == []
        with pytest.raises(ChannelError, match="ReadTimeout"):
            await bot.updates()  # no long poll: the client's own 0.2 s apply
    assert api.calls("getUpdates")[0].body == {"timeout": 1}


async def test_updates_report_a_conflict(api: FakeBotApi, make_bot: MakeBot) -> None:
    api.replies = [refusal(409, "Conflict: terminated by other getUpdates request; make sure "
                                "that only one bot instance is running")]
    with pytest.raises(ChannelError) as failure:
        await make_bot().updates()
    assert str(failure.value).startswith(
        "Telegram refused the update request (HTTP 409): Conflict: terminated by other")
    assert failure.value.permanent is False


async def test_updates_need_a_list(api: FakeBotApi, make_bot: MakeBot) -> None:
    api.replies = [(200, {"ok": True, "result": {"update_id": 1}})]
    with pytest.raises(ChannelError, match="without a list of updates"):
        await make_bot().updates()


# Linking by "/start CODE"


@pytest.mark.parametrize(("update", "expected"), [
    (private_message("/start Ab3_x-9Q"), ("Ab3_x-9Q", CHAT_ID)),
    (private_message("/start 123456"), ("123456", CHAT_ID)),
    (private_message("/start " + "a" * 32), ("a" * 32, CHAT_ID)),
    (private_message("/start@OvozBot Ab3_x-9Q"), ("Ab3_x-9Q", CHAT_ID)),
    (private_message("  /start   Ab3_x-9Q \n"), ("Ab3_x-9Q", CHAT_ID)),
    (private_message("/start abcde"), None),  # too short
    (private_message("/start " + "a" * 33), None),  # too long
    (private_message("/start Ab3!x-9Q"), None),
    (private_message("/start Ab3 x-9Q"), None),
    (private_message("/start Ab3x9Qй"), None),
    (private_message("/start"), None),
    (private_message("/starting Ab3_x-9Q"), None),
    (private_message("start Ab3_x-9Q"), None),
    (private_message("/help Ab3_x-9Q"), None),
    (private_message("Ab3_x-9Q"), None),
    (private_message("/start Ab3_x-9Q", chat_type="group"), None),
    (private_message("/start Ab3_x-9Q", chat_type="supergroup"), None),
    (private_message("/start Ab3_x-9Q", chat_id="987654321"), None),
    (private_message("/start Ab3_x-9Q", chat_id=True), None),
    ({"update_id": 1, "edited_message": private_message("/start Ab3_x-9Q")["message"]}, None),
    ({"update_id": 1, "message": {"chat": {"id": CHAT_ID, "type": "private"},
                                  "photo": []}}, None),
    ({"update_id": 1, "message": "text"}, None),
    ({"update_id": 1}, None),
    ({}, None),
])
def test_link_code_from(update: dict[str, Any], expected: tuple[str, int] | None) -> None:
    assert link_code_from(update) == expected
    assert TelegramBot.link_code_from(update) == expected


# Choosing a bot


async def test_bot_for_follows_the_settings() -> None:
    shipped = {"OVOZ_CONFIG": str(ROOT / "litestar.toml")}
    assert bot_for(load_settings(shipped)) is None
    bot = bot_for(load_settings({**shipped, "OVOZ_TELEGRAM_BOT_TOKEN": TOKEN,
                                 "OVOZ_TELEGRAM_API_URL": "http://127.0.0.1:9/"}))
    assert isinstance(bot, TelegramBot)
    assert repr(bot) == "<TelegramBot at http://127.0.0.1:9>"
    await bot.aclose()
