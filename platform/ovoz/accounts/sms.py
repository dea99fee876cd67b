"""Text messages (sign-in codes) through one interface: a console outbox for development and
Eskiz (notify.eskiz.uz), Uzbekistan's SMS gateway, for production.

The Eskiz API as used here:

- POST {base}/auth/login, form email + password -> {"data": {"token": "..."}}; the token
  lasts about a month.
- PATCH {base}/auth/refresh with "Authorization: Bearer TOKEN" -> {"data": {"token": "..."}}.
- POST {base}/message/sms/send with the bearer token, form mobile_phone (digits only,
  998901234567), message and from (the sender name) -> {"id": ..., "status": "waiting"}.
  A stale token answers 401; a refused message answers 4xx with {"message": "..."}.

Messages carry sign-in codes, so neither the text nor the full number is ever logged or put
into an SmsError, and the Eskiz token is never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from ovoz.settings import Settings

REQUEST_TIMEOUT_SECONDS = 10.0
_UZBEK_NUMBER = re.compile(r"\+998([0-9]{2})([0-9]{7})")
# Any run of four or more digits in a provider's message could be a number or a code.
_DIGIT_RUN = re.compile(r"[0-9](?:[\s()+-]*[0-9]){3,}")
_MAX_PROVIDER_MESSAGE = 200

log = logging.getLogger("ovoz.sms")


class SmsError(Exception):
    """Delivery failed. The message never holds the number or the text, so it can be logged
    and shown to an operator as it is."""


class SmsGateway(Protocol):
    async def send(self, to: str, text: str) -> None:
        """Deliver text to `to`, an E.164 number (+998901234567); raise SmsError on failure."""
        ...


def mask_phone(number: str) -> str:
    """+998901234567 -> "+998 90 *** ** 67": enough to tell numbers apart in a log, too little
    to reach the person."""
    match = _UZBEK_NUMBER.fullmatch(number)
    if match:
        return f"+998 {match[1]} *** ** {match[2][-2:]}"
    digits = number.removeprefix("+")
    return "+" + "*" * max(len(digits) - 2, 0) + digits[-2:]


class ConsoleGateway:
    """Development gateway: every message becomes one JSON line in the outbox file."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    async def send(self, to: str, text: str) -> None:
        line = json.dumps(
            {"to": to, "text": text, "sent_at": datetime.now(UTC).isoformat()},
            ensure_ascii=False,
        )
        await asyncio.to_thread(self._append, line)
        log.info("SMS to %s written to %s", mask_phone(to), self.outbox)

    def _append(self, line: str) -> None:
        self.outbox.parent.mkdir(parents=True, exist_ok=True)
        # Unbuffered append: the whole line goes out in one write(2) on an O_APPEND file, so
        # lines from several worker processes never interleave; nothing is left to flush.
        with self.outbox.open("ab", buffering=0) as outbox:
            outbox.write((line + "\n").encode())


class EskizGateway:
    """Eskiz HTTP API. Build one per process and reuse it: it keeps the token and the
    connection pool between messages."""

    def __init__(
        self,
        base_url: str,
        email: str,
        password: str,
        sender: str,
        *,
        client: httpx.AsyncClient | None = None,
        attempts: int = 4,
        backoff: float = 0.5,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._base_url = base_url.rstrip("/")
        self._email = email
        self._password = password
        self._sender = sender
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SECONDS)
        self._attempts = attempts
        self._backoff = backoff
        self._token: str | None = None
        # Messages sent at once share one login (or one refresh) instead of racing.
        self._token_lock = asyncio.Lock()

    async def aclose(self) -> None:
        """Close the HTTP client if this gateway made it."""
        if self._owns_client:
            await self._client.aclose()

    async def send(self, to: str, text: str) -> None:
        if not _UZBEK_NUMBER.fullmatch(to):
            raise SmsError("Eskiz sends only to Uzbek numbers: +998 and nine digits")
        form = {"mobile_phone": to.removeprefix("+"), "message": text, "from": self._sender}
        token = await self._current_token()
        response = await self._with_retries("POST", "/message/sms/send", "the message",
                                            data=form, headers=_bearer(token))
        if response.status_code == 401:
            token = await self._renew(token)
            response = await self._with_retries("POST", "/message/sms/send", "the message",
                                                data=form, headers=_bearer(token))
        answer = _json(response)
        if response.is_success and answer.get("status") != "error":
            log.info("Eskiz accepted an SMS to %s (id %s)", mask_phone(to), answer.get("id"))
            return
        if response.status_code == 401:
            raise SmsError("Eskiz refused a freshly issued token (HTTP 401)")
        reason = _provider_message(answer, text, to.removeprefix("+"))
        raise SmsError(f"Eskiz refused the message (HTTP {response.status_code})"
                       + (f": {reason}" if reason else ""))

    async def _current_token(self) -> str:
        async with self._token_lock:
            if self._token is None:
                self._token = await self._login()
            return self._token

    async def _renew(self, stale: str) -> str:
        """A fresh token after `stale` was refused: refresh it, or log in again if Eskiz will
        not refresh it."""
        async with self._token_lock:
            if self._token is not None and self._token != stale:
                return self._token  # another message renewed it meanwhile
            token = await self._refresh(stale)
            if token is None:
                log.info("Eskiz would not refresh the token; logging in again")
                token = await self._login()
            self._token = token
            return token

    async def _refresh(self, stale: str) -> str | None:
        # One try only: whatever goes wrong, logging in again (with retries) is the remedy.
        try:
            response = await self._client.patch(f"{self._base_url}/auth/refresh",
                                                headers=_bearer(stale))
        except httpx.TransportError:
            return None
        return _token_in(response) if response.is_success else None

    async def _login(self) -> str:
        response = await self._with_retries("POST", "/auth/login", "the login",
                                            data={"email": self._email,
                                                  "password": self._password})
        if not response.is_success:
            reason = _provider_message(_json(response), self._password)
            raise SmsError(f"Eskiz refused the login (HTTP {response.status_code})"
                           + (f": {reason}" if reason else ""))
        token = _token_in(response)
        if token is None:
            raise SmsError("Eskiz answered the login without a token")
        return token

    async def _with_retries(self, method: str, path: str, what: str, **request: Any
                            ) -> httpx.Response:
        """The response to the first try that is not a network error, timeout or 5xx; those
        are retried with exponential backoff."""
        failure = ""
        for attempt in range(self._attempts):
            if attempt:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
            try:
                response = await self._client.request(method, self._base_url + path, **request)
            except httpx.TransportError as error:
                failure = type(error).__name__
            else:
                if response.status_code < 500:
                    return response
                failure = f"HTTP {response.status_code}"
            log.warning("Eskiz %s %s failed (%s), try %d of %d",
                        method, path, failure, attempt + 1, self._attempts)
        raise SmsError(
            f"Eskiz did not accept {what} after {self._attempts} attempts: {failure}")


def gateway_for(settings: Settings) -> SmsGateway:
    """The gateway settings.sms_backend names. Call it once at startup and keep the result:
    an EskizGateway holds its token and connections."""
    if settings.sms_backend == "eskiz":
        return EskizGateway(settings.eskiz_base_url, settings.eskiz_email,
                            settings.eskiz_password, settings.eskiz_sender)
    if settings.sms_backend == "console":
        return ConsoleGateway(settings.sms_console_outbox)
    raise ValueError(f"unknown SMS backend {settings.sms_backend!r}")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _token_in(response: httpx.Response) -> str | None:
    data = _json(response).get("data")
    token = data.get("token") if isinstance(data, dict) else None
    return token if isinstance(token, str) and token else None


def _provider_message(answer: dict[str, Any], *secrets: str) -> str:
    """Eskiz's own "message", stripped of the secrets it was sent and of anything that could
    be a number or a code, in case Eskiz echoes its input."""
    message = answer.get("message")
    if message is None:
        return ""
    if not isinstance(message, str):  # validation errors come as {"field": ["..."]}
        message = json.dumps(message, ensure_ascii=False)
    for secret in secrets:
        if secret:
            message = message.replace(secret, "…")
    message = _DIGIT_RUN.sub("…", message)
    return message[:_MAX_PROVIDER_MESSAGE]
