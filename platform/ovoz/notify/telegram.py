"""Telegram: notifications to residents who linked a chat, through the Bot API over HTTPS.

The Bot API as used here (https://core.telegram.org/bots/api):

- POST {api}/bot{TOKEN}/sendMessage, JSON chat_id + text -> {"ok": true, "result": {...}}.
- POST {api}/bot{TOKEN}/getUpdates, JSON offset + timeout -> {"ok": true, "result": [...]},
  for linking accounts by polling where no public webhook address exists.
- A refusal is {"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked
  by the user"}, with the same HTTP status; 429 adds "parameters": {"retry_after": N}.

A resident links a chat by opening t.me/<bot>?start=CODE, which makes Telegram send the bot
"/start CODE" from that chat; link_code_from() reads the code and the chat id from such an
update.

The token is part of every request address, so it is never logged or put into an error:
httpx's own "HTTP Request: POST <url>" log lines have it replaced, and httpx exceptions
(which carry the request and its address) are reported by their type name only. Chat ids and
texts are personal data and stay out of logs and errors too.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import Any

import httpx

from ovoz.notify.errors import ChannelError
from ovoz.settings import Settings

API_URL = "https://api.telegram.org"
REQUEST_TIMEOUT_SECONDS = 10.0
# The longest wait for a 429's retry_after; beyond it the message goes back to the outbox.
MAX_RETRY_AFTER = 30.0
# Statuses that mean this message to this chat will never go through: 400 (chat not found,
# text too long, ...) and 403 (the resident blocked the bot or deleted the account).
PERMANENT_STATUSES = frozenset({400, 403})
_LINK_COMMAND = re.compile(r"/start(?:@[A-Za-z0-9_]+)?\s+([A-Za-z0-9_-]{6,32})")
# Any run of four or more digits in Telegram's description could be a chat id.
_DIGIT_RUN = re.compile(r"[0-9](?:[\s()+-]*[0-9]){3,}")
_MAX_DESCRIPTION = 200

log = logging.getLogger("ovoz.notify.telegram")


class _HideTokens(logging.Filter):
    """Replaces bot tokens in the records of the logger it is attached to ("httpx", which logs
    every request address at INFO)."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler's error reporting
            return True
        if any(token in message for token in self.tokens):
            for token in self.tokens:
                message = message.replace(token, "<bot token>")
            record.msg, record.args = message, ()
        return True


_HIDE_TOKENS = _HideTokens()


def link_code_from(update: Mapping[str, Any]) -> tuple[str, int] | None:
    """(CODE, chat id) when `update` is a resident's "/start CODE" in a private chat with the
    bot, else None. Group chats are ignored: linking a group would send a resident's
    notifications to everyone in it."""
    message = update.get("message") if isinstance(update, Mapping) else None
    if not isinstance(message, Mapping):
        return None
    chat, text = message.get("chat"), message.get("text")
    if not isinstance(chat, Mapping) or chat.get("type") != "private":
        return None
    if not isinstance(text, str):
        return None
    chat_id = chat.get("id")
    if not isinstance(chat_id, int) or isinstance(chat_id, bool):
        return None
    match = _LINK_COMMAND.fullmatch(text.strip())
    return (match[1], chat_id) if match else None


class TelegramBot:
    """One bot. Build one per process and reuse it: it keeps a connection pool."""

    def __init__(
        self,
        token: str,
        api_url: str = API_URL,
        *,
        client: httpx.AsyncClient | None = None,
        attempts: int = 3,
        backoff: float = 0.5,
    ) -> None:
        if not token:
            raise ValueError("a Telegram bot needs its token")
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._token = token
        self._api_url = api_url.rstrip("/")
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SECONDS)
        self._attempts = attempts
        self._backoff = backoff
        _HIDE_TOKENS.tokens.add(token)
        logging.getLogger("httpx").addFilter(_HIDE_TOKENS)  # once: addFilter skips repeats

    def __repr__(self) -> str:
        return f"<TelegramBot at {self._api_url}>"

    async def aclose(self) -> None:
        """Close the HTTP client if this bot made it."""
        if self._owns_client:
            await self._client.aclose()

    async def send_message(self, chat_id: int | str, text: str) -> None:
        """Send plain text (no Markdown or HTML parsing) to a chat; raise ChannelError."""
        payload = {"chat_id": chat_id, "text": text, "disable_web_page_preview": True}
        await self._call("sendMessage", payload, "the message", private=(str(chat_id), text))

    async def updates(self, offset: int | None = None,
                      timeout: int = 0,  # noqa: ASYNC109 - the Bot API's long-poll seconds
                      ) -> list[dict[str, Any]]:
        """Updates after `offset` (the last update_id seen plus one, which also tells Telegram
        to forget the earlier ones), waiting up to `timeout` seconds for one to arrive."""
        if timeout < 0:
            raise ValueError("timeout must not be negative")
        payload: dict[str, Any] = {"timeout": timeout}
        if offset is not None:
            payload["offset"] = offset
        # A long poll holds the answer back for up to `timeout` seconds: wait that much longer.
        wait = (httpx.Timeout(REQUEST_TIMEOUT_SECONDS, read=timeout + REQUEST_TIMEOUT_SECONDS)
                if timeout else None)
        result = await self._call("getUpdates", payload, "the update request", wait=wait)
        if not isinstance(result, list):
            raise ChannelError("Telegram answered getUpdates without a list of updates")
        return [update for update in result if isinstance(update, dict)]

    # Also reachable as TelegramBot.link_code_from(update) or bot.link_code_from(update).
    link_code_from = staticmethod(link_code_from)

    async def _call(self, method: str, payload: dict[str, Any], what: str, *,
                    private: tuple[str, ...] = (), wait: httpx.Timeout | None = None) -> Any:
        """The "result" of a Bot API call. Network errors and 5xx are retried with exponential
        backoff; a first 429 is waited out (without using up an attempt), a second one is
        reported."""
        url = f"{self._api_url}/bot{self._token}/{method}"
        request_timeout: Any = wait or httpx.USE_CLIENT_DEFAULT
        failures = 0
        rate_limited = False
        while True:
            try:
                response = await self._client.post(url, json=payload, timeout=request_timeout)
            except (httpx.HTTPError, httpx.InvalidURL) as error:
                # Never the error itself: its message and its request carry the address.
                failure = type(error).__name__
            else:
                answer = _json(response)
                if response.status_code == 429 or answer.get("error_code") == 429:
                    delay = min(_retry_after(response, answer), MAX_RETRY_AFTER)
                    if rate_limited:
                        raise ChannelError(f"Telegram is still limiting the rate of {method} "
                                           f"(HTTP 429, retry after {delay:g} s)")
                    rate_limited = True
                    log.warning("Telegram limits the rate of %s; waiting %g s", method, delay)
                    await asyncio.sleep(delay)
                    continue
                if response.status_code < 500:
                    return self._result(method, what, response, answer, private)
                failure = f"HTTP {response.status_code}"
            failures += 1
            log.warning("Telegram %s failed (%s), try %d of %d",
                        method, failure, failures, self._attempts)
            if failures >= self._attempts:
                raise ChannelError(
                    f"Telegram did not accept {what} after {failures} attempts: {failure}")
            await asyncio.sleep(self._backoff * 2 ** (failures - 1))

    def _result(self, method: str, what: str, response: httpx.Response,
                answer: dict[str, Any], private: tuple[str, ...]) -> Any:
        if response.is_success and answer.get("ok") is True:
            return answer.get("result")
        status = response.status_code
        if response.is_success:
            code = answer.get("error_code")
            if not isinstance(code, int) or isinstance(code, bool):
                raise ChannelError(
                    f"Telegram answered {method} with something other than a Bot API reply "
                    f"(HTTP {status})")
            status = code
        description = _description(answer, self._token, *private)
        hint = "; check telegram.bot_token and telegram.api_url" if status in (401, 404) else ""
        raise ChannelError(
            f"Telegram refused {what} (HTTP {status})"
            + (f": {description}" if description else "") + hint,
            permanent=status in PERMANENT_STATUSES)


def bot_for(settings: Settings) -> TelegramBot | None:
    """The bot settings.telegram_bot_token names, or None when no token is set. Call it once
    at startup and keep the result."""
    if not settings.telegram_bot_token:
        return None
    return TelegramBot(settings.telegram_bot_token, settings.telegram_api_url)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _retry_after(response: httpx.Response, answer: dict[str, Any]) -> float:
    parameters = answer.get("parameters")
    seconds: Any = parameters.get("retry_after") if isinstance(parameters, dict) else None
    if seconds is None:
        seconds = response.headers.get("Retry-After")
    try:
        wait = float(seconds)
    except (TypeError, ValueError):
        return 1.0
    return wait if wait >= 0 else 1.0


def _description(answer: dict[str, Any], *secrets: str) -> str:
    """Telegram's own "description", stripped of what it was sent and of anything that could
    be a chat id, in case it echoes its input."""
    description = answer.get("description")
    if not isinstance(description, str):
        return ""
    for secret in secrets:
        if len(secret) >= 4:  # shorter ones would only garble words
            description = description.replace(secret, "…")
    description = _DIGIT_RUN.sub("…", description)
    return description[:_MAX_DESCRIPTION]
