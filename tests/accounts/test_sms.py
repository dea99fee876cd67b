"""SMS gateways: the console outbox on disk, and EskizGateway over real HTTP against a fake
Eskiz server running in a thread of this process."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from ovoz.accounts.sms import (
    ConsoleGateway,
    EskizGateway,
    SmsError,
    gateway_for,
    mask_phone,
)
from ovoz.settings import ROOT, load_settings
from tests.fakes import FakeServer, serving

NUMBER = "+998901234567"
DIGITS = "998901234567"
CODE = "483920"
TEXT = f"Ovoz: kirish kodi {CODE}. Код для входа {CODE}."
EMAIL, PASSWORD, SENDER = "sms@ovoz.example", "eskiz-secret", "4546"


def assert_private(message: str) -> None:
    for secret in (DIGITS, "1234567", CODE, TEXT, PASSWORD, "token-"):
        assert secret not in message


# Console gateway


async def test_console_writes_one_json_line(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    before = datetime.now(UTC)
    await ConsoleGateway(outbox).send(NUMBER, TEXT)
    raw = outbox.read_text(encoding="utf-8")
    assert raw.endswith("\n") and raw.count("\n") == 1
    assert "Код для входа" in raw  # written as UTF-8, not \u escapes
    line = json.loads(raw)
    assert set(line) == {"to", "text", "sent_at"}
    assert (line["to"], line["text"]) == (NUMBER, TEXT)
    sent_at = datetime.fromisoformat(line["sent_at"])
    assert sent_at.utcoffset() == timedelta(0)
    assert before <= sent_at <= datetime.now(UTC)


async def test_console_creates_the_folder_and_appends(tmp_path: Path) -> None:
    outbox = tmp_path / "var" / "sms" / "outbox.jsonl"
    gateway = ConsoleGateway(outbox)
    await gateway.send(NUMBER, "first")
    await gateway.send("+998711234500", "second")
    lines = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
    assert [(line["to"], line["text"]) for line in lines] == [
        (NUMBER, "first"), ("+998711234500", "second")]


async def test_console_log_hides_the_code_and_the_number(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ovoz.sms")
    outbox = tmp_path / "outbox.jsonl"
    await ConsoleGateway(outbox).send(NUMBER, TEXT)
    [record] = [r for r in caplog.records if r.name == "ovoz.sms"]
    message = record.getMessage()
    assert message == f"SMS to +998 90 *** ** 67 written to {outbox}"
    assert_private(message)


def test_console_lines_from_several_processes_stay_whole(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    # Lines beyond the 8 KiB write buffer: written in pieces (json.dump into the file, say)
    # they would interleave between processes.
    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from ovoz.accounts.sms import ConsoleGateway\n"
        "async def main():\n"
        "    gateway = ConsoleGateway(Path(sys.argv[1]))\n"
        "    for n in range(40):\n"
        "        await gateway.send('+99890123450' + sys.argv[2], sys.argv[2] * 20000)\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "platform")}
    children = [subprocess.Popen([sys.executable, "-c", script, str(outbox), str(n)], env=env)
                for n in range(4)]
    assert [child.wait(timeout=30) for child in children] == [0, 0, 0, 0]
    lines = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 160
    for line in lines:
        assert line["text"] == line["to"][-1] * 20000


@pytest.mark.parametrize(("number", "masked"), [
    ("+998901234567", "+998 90 *** ** 67"),
    ("+998711234500", "+998 71 *** ** 00"),
    ("+447911123456", "+**********56"),
])
def test_mask_phone_keeps_the_operator_and_the_last_two_digits(number: str, masked: str
                                                               ) -> None:
    assert mask_phone(number) == masked


# A fake Eskiz


@dataclass
class Seen:
    method: str
    path: str
    authorization: str
    form: dict[str, str]
    at: float


@dataclass
class FakeEskiz:
    """notify.eskiz.uz in miniature. Tests steer it through the attributes below."""

    base_url: str = ""
    seen: list[Seen] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    reject_login: bool = False
    reject_refresh: bool = False
    reject_every_token: bool = False
    send_failures: int = 0  # the next sends answering 500
    slow_sends: int = 0  # the next sends answering only after half a second
    reject_message: str | None = None
    _serial: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def expire_tokens(self) -> None:
        self.valid_tokens.clear()

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]

    def answer(self, method: str, path: str, authorization: str, form: dict[str, str]
               ) -> tuple[int, dict[str, Any], float]:
        """(status, JSON body, seconds to wait before answering)."""
        with self._lock:
            self.seen.append(Seen(method, path, authorization, form, time.monotonic()))
            token = authorization.removeprefix("Bearer ")
            if (method, path) == ("POST", "/api/auth/login"):
                if self.reject_login or form != {"email": EMAIL, "password": PASSWORD}:
                    return 401, {"message": "Invalid credentials", "status": "error"}, 0
                return 200, {"message": "token_generated", "data": {"token": self._issue()},
                             "token_type": "bearer"}, 0
            if (method, path) == ("PATCH", "/api/auth/refresh"):
                if self.reject_refresh or not token.startswith("token-"):
                    return 401, {"message": "Unauthenticated."}, 0
                return 200, {"message": "token_refreshed", "data": {"token": self._issue()}}, 0
            if (method, path) == ("POST", "/api/message/sms/send"):
                if token not in self.valid_tokens or self.reject_every_token:
                    return 401, {"message": "Expired", "status": "token-invalid"}, 0
                if self.send_failures:
                    self.send_failures -= 1
                    return 500, {"message": "Server Error"}, 0
                if self.slow_sends:
                    self.slow_sends -= 1
                    return 200, {"id": "late", "status": "waiting"}, 0.5
                if self.reject_message is not None:
                    return 400, {"status": "error", "message": self.reject_message}, 0
                return 200, {"id": "4385062", "message": "Waiting for SMS provider",
                             "status": "waiting"}, 0
            return 404, {"message": "Not found"}, 0

    def _issue(self) -> str:
        token = f"token-{next(self._serial)}"
        self.valid_tokens.add(token)
        return token


class _Handler(BaseHTTPRequestHandler):
    server: FakeServer

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        form = {key: values[0] for key, values in parse_qs(body).items()}
        status, answer, delay = self.server.fake.answer(
            self.command, self.path, self.headers.get("Authorization", ""), form)
        time.sleep(delay)
        payload = json.dumps(answer).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except ConnectionError:
            pass  # the client stopped waiting: what the timeout test provokes

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows stderr of failing tests only, and this adds nothing."""


@pytest.fixture
def eskiz() -> Iterator[FakeEskiz]:
    with serving(_Handler, lambda url: FakeEskiz(base_url=f"{url}/api")) as fake:
        yield fake


MakeGateway = Callable[..., EskizGateway]


@pytest.fixture
async def make_gateway(eskiz: FakeEskiz) -> AsyncIterator[MakeGateway]:
    made: list[EskizGateway] = []

    def make(**options: Any) -> EskizGateway:
        options = {"base_url": eskiz.base_url, "backoff": 0.01, **options}
        gateway = EskizGateway(email=EMAIL, password=PASSWORD, sender=SENDER, **options)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.aclose()


# Eskiz gateway


async def test_eskiz_logs_in_once_and_sends_the_form(
    eskiz: FakeEskiz, make_gateway: MakeGateway
) -> None:
    gateway = make_gateway()
    await gateway.send(NUMBER, TEXT)
    await gateway.send("+998711234500", "second")
    assert [(seen.method, seen.path) for seen in eskiz.seen] == [
        ("POST", "/api/auth/login"),
        ("POST", "/api/message/sms/send"),
        ("POST", "/api/message/sms/send"),
    ]
    login, first, second = eskiz.seen
    assert login.form == {"email": EMAIL, "password": PASSWORD}
    assert first.authorization == second.authorization == "Bearer token-1"
    assert first.form == {"mobile_phone": DIGITS, "message": TEXT, "from": SENDER}
    assert second.form["mobile_phone"] == "998711234500"


async def test_eskiz_sends_at_once_share_one_login(
    eskiz: FakeEskiz, make_gateway: MakeGateway
) -> None:
    gateway = make_gateway()
    await asyncio.gather(*(gateway.send(NUMBER, f"message {n}") for n in range(5)))
    assert len(eskiz.requests_to("/api/auth/login")) == 1
    assert len(eskiz.requests_to("/api/message/sms/send")) == 5


async def test_eskiz_refreshes_an_expired_token(
    eskiz: FakeEskiz, make_gateway: MakeGateway
) -> None:
    gateway = make_gateway()
    await gateway.send(NUMBER, TEXT)
    eskiz.expire_tokens()
    await gateway.send(NUMBER, TEXT)
    assert [(seen.method, seen.path, seen.authorization) for seen in eskiz.seen[1:]] == [
        ("POST", "/api/message/sms/send", "Bearer token-1"),
        ("POST", "/api/message/sms/send", "Bearer token-1"),
        ("PATCH", "/api/auth/refresh", "Bearer token-1"),
        ("POST", "/api/message/sms/send", "Bearer token-2"),
    ]
    await gateway.send(NUMBER, TEXT)
    assert eskiz.seen[-1].authorization == "Bearer token-2"
    assert len(eskiz.requests_to("/api/auth/login")) == 1


async def test_eskiz_logs_in_again_when_refresh_fails(
    eskiz: FakeEskiz, make_gateway: MakeGateway
) -> None:
    gateway = make_gateway()
    await gateway.send(NUMBER, TEXT)
    eskiz.expire_tokens()
    eskiz.reject_refresh = True
    await gateway.send(NUMBER, TEXT)
    assert [seen.path for seen in eskiz.seen[2:]] == [
        "/api/message/sms/send", "/api/auth/refresh", "/api/auth/login",
        "/api/message/sms/send",
    ]
    assert eskiz.seen[-1].authorization == "Bearer token-2"


async def test_eskiz_refreshes_only_once_per_message(
    eskiz: FakeEskiz, make_gateway: MakeGateway
) -> None:
    eskiz.reject_every_token = True
    with pytest.raises(SmsError) as failure:
        await make_gateway().send(NUMBER, TEXT)
    assert str(failure.value) == "Eskiz refused a freshly issued token (HTTP 401)"
    assert [seen.path for seen in eskiz.seen] == [
        "/api/auth/login", "/api/message/sms/send", "/api/auth/refresh",
        "/api/message/sms/send",
    ]


async def test_eskiz_retries_server_errors_with_growing_pauses(
    eskiz: FakeEskiz, make_gateway: MakeGateway
) -> None:
    eskiz.send_failures = 2
    await make_gateway(backoff=0.01).send(NUMBER, TEXT)
    sends = eskiz.requests_to("/api/message/sms/send")
    assert len(sends) == 3
    pauses = [later.at - earlier.at for earlier, later in itertools.pairwise(sends)]
    assert pauses[0] >= 0.01 * 0.9 and pauses[1] >= 0.02 * 0.9


async def test_eskiz_gives_up_after_the_last_attempt(
    eskiz: FakeEskiz, make_gateway: MakeGateway
) -> None:
    eskiz.send_failures = 1000
    with pytest.raises(SmsError) as failure:
        await make_gateway(attempts=3).send(NUMBER, TEXT)
    assert str(failure.value) == "Eskiz did not accept the message after 3 attempts: HTTP 500"
    assert len(eskiz.requests_to("/api/message/sms/send")) == 3


async def test_eskiz_retries_a_timeout(eskiz: FakeEskiz) -> None:
    eskiz.slow_sends = 1
    async with httpx.AsyncClient(timeout=0.2) as client:
        gateway = EskizGateway(eskiz.base_url, EMAIL, PASSWORD, SENDER, client=client,
                               backoff=0.01)
        await gateway.send(NUMBER, TEXT)
        await gateway.aclose()  # the client is the caller's: still usable afterwards
        assert not client.is_closed
    assert len(eskiz.requests_to("/api/message/sms/send")) == 2


async def test_eskiz_retries_network_errors(make_gateway: MakeGateway) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    gateway = make_gateway(base_url=f"http://127.0.0.1:{port}/api", attempts=2)
    with pytest.raises(SmsError) as failure:
        await gateway.send(NUMBER, TEXT)
    assert str(failure.value) == "Eskiz did not accept the login after 2 attempts: ConnectError"


async def test_eskiz_reports_refused_credentials(
    eskiz: FakeEskiz, make_gateway: MakeGateway
) -> None:
    eskiz.reject_login = True
    with pytest.raises(SmsError) as failure:
        await make_gateway().send(NUMBER, TEXT)
    assert str(failure.value) == "Eskiz refused the login (HTTP 401): Invalid credentials"
    assert [seen.path for seen in eskiz.seen] == ["/api/auth/login"]


async def test_eskiz_reports_a_refused_message_without_retrying(
    eskiz: FakeEskiz, make_gateway: MakeGateway
) -> None:
    eskiz.reject_message = "Этот смс текст еще не прошел модерацию"
    with pytest.raises(SmsError) as failure:
        await make_gateway().send(NUMBER, TEXT)
    assert str(failure.value) == (
        "Eskiz refused the message (HTTP 400): Этот смс текст еще не прошел модерацию")
    assert len(eskiz.requests_to("/api/message/sms/send")) == 1


async def test_eskiz_errors_never_echo_the_number_or_the_text(
    eskiz: FakeEskiz, make_gateway: MakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    eskiz.reject_message = f"Bad text «{TEXT}» for {DIGITS} (+998 90 123-45-67), code {CODE}"
    with pytest.raises(SmsError) as failure:
        await make_gateway().send(NUMBER, TEXT)
    assert str(failure.value).startswith("Eskiz refused the message (HTTP 400): Bad text «")
    assert_private(str(failure.value))
    for record in caplog.records:
        assert_private(record.getMessage())


async def test_eskiz_refuses_numbers_outside_uzbekistan(
    eskiz: FakeEskiz, make_gateway: MakeGateway
) -> None:
    with pytest.raises(SmsError, match="only to Uzbek numbers"):
        await make_gateway().send("+447911123456", TEXT)
    assert eskiz.seen == []


# Choosing a gateway


async def test_gateway_for_follows_the_settings(tmp_path: Path) -> None:
    shipped = {"OVOZ_CONFIG": str(ROOT / "litestar.toml")}
    outbox = tmp_path / "outbox.jsonl"
    console = gateway_for(load_settings({**shipped, "OVOZ_SMS_CONSOLE_OUTBOX": str(outbox)}))
    assert isinstance(console, ConsoleGateway) and console.outbox == outbox

    eskiz = gateway_for(load_settings({
        **shipped, "OVOZ_SMS_BACKEND": "eskiz", "OVOZ_ESKIZ_EMAIL": EMAIL,
        "OVOZ_ESKIZ_PASSWORD": PASSWORD,
    }))
    assert isinstance(eskiz, EskizGateway)
    await eskiz.aclose()
