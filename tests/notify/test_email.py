"""Mailer against a real SMTP server (aiosmtpd) listening on loopback in a thread.

Every test uses starttls=False: the test server has no certificate for 127.0.0.1, so it
cannot offer STARTTLS, and a Mailer that asks for STARTTLS refuses to send a password
without it (test_no_password_without_the_starttls_that_was_asked_for shows that)."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from ovoz.notify.email import Mailer, mailer_for, message_id_for
from ovoz.notify.errors import ChannelError
from ovoz.settings import ROOT, SettingsError, load_settings

SENDER = "Ovoz <ovoz@tuman.uz>"
TO = "dilnoza.karimova@example.uz"
SUBJECT = "Murojaatingizga javob berildi — Ваше обращение рассмотрено"
TEXT = ("Murojaatingizga javob berildi.\n"
        "Ваше обращение №4821 рассмотрено: яма на улице Навои будет заделана.\n"
        "O‘zbekiston, G‘ijduvon tumani.\n")
USERNAME, PASSWORD = "ovoz-mailer", "smtp-Secret-pa55word"


def assert_private(message: str) -> None:
    for secret in (PASSWORD, TO, "dilnoza", TEXT, "Навои"):
        assert secret not in message


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps what it accepts. Tests steer it through the reply
    attributes: an SMTP reply line given there is answered instead of accepting."""

    received: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    mail_reply: str | None = None
    rcpt_reply: str | None = None
    data_reply: str | None = None

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        assert isinstance(envelope.content, bytes)
        self.received.append(
            Received(str(envelope.mail_from), list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                     mechanism: str, auth_data: Any) -> AuthResult:
        good = isinstance(auth_data, LoginPassword) and auth_data == (
            USERNAME.encode(), PASSWORD.encode())
        if good:
            self.logins.append(auth_data.login.decode())
        # handled=False: aiosmtpd answers itself (235, or 535 on a failure).
        return AuthResult(success=good, handled=False)


def free_port() -> int:
    """A port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class SmtpServer:
    recorder: Recorder
    port: int

    def mailer(self, **options: Any) -> Mailer:
        options = {"starttls": False, "timeout": 5.0, **options}
        return Mailer("127.0.0.1", self.port, SENDER, **options)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    recorder = Recorder()
    port = free_port()
    # AUTH over plain text is allowed on this loopback server only so that login can be
    # tested without a certificate; it is offered, never required.
    controller = Controller(recorder, hostname="127.0.0.1", port=port,
                            server_hostname="smtp.test", authenticator=recorder.authenticate,
                            auth_require_tls=False)
    controller.start()
    yield SmtpServer(recorder, port)
    controller.stop()


# Delivery


async def test_send_delivers_a_utf8_plain_text_message(smtp: SmtpServer) -> None:
    await smtp.mailer().send(TO, SUBJECT, TEXT)
    [received] = smtp.recorder.received
    assert received.mail_from == "ovoz@tuman.uz"
    assert received.rcpt_tos == [TO]
    assert received.content.isascii()  # 7-bit safe: no 8BITMIME needed on the way
    message = received.message
    assert message["From"] == SENDER
    assert message["To"] == TO
    assert message["Subject"] == SUBJECT
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"]
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message.get_content() == TEXT


async def test_an_idempotency_key_gives_the_same_message_id_every_time(
    smtp: SmtpServer
) -> None:
    mailer = smtp.mailer()
    await mailer.send(TO, SUBJECT, TEXT, idempotency_key="outbox-17")
    await mailer.send(TO, SUBJECT, TEXT, idempotency_key="outbox-17")
    await mailer.send(TO, SUBJECT, TEXT)
    await mailer.send(TO, SUBJECT, TEXT)
    ids = [received.message["Message-ID"] for received in smtp.recorder.received]
    assert ids[:2] == ["<outbox-17@ovoz>", "<outbox-17@ovoz>"]
    assert ids[2] != ids[3]
    assert all(message_id.endswith("@ovoz>") for message_id in ids[2:])


def test_keys_unfit_for_a_message_id_are_hashed_the_same_way_each_time() -> None:
    assert message_id_for("outbox.17") == "<outbox.17@ovoz>"
    odd = message_id_for("outbox:17 <sms>")
    assert odd == message_id_for("outbox:17 <sms>") != message_id_for("outbox:18 <sms>")
    assert odd.startswith("<") and odd.endswith("@ovoz>") and len(odd) == 40 + 7
    assert message_id_for("x" * 65) != f"<{'x' * 65}@ovoz>"


def test_a_subject_keeps_to_one_line() -> None:
    mailer = Mailer("127.0.0.1", 25, SENDER, starttls=False)
    message = mailer.message(TO, "Petitsiya:\r\nBcc: someone@example.com", TEXT)
    assert message["Subject"] == "Petitsiya: Bcc: someone@example.com"
    assert message["Bcc"] is None


async def test_login_when_a_username_is_set(smtp: SmtpServer) -> None:
    await smtp.mailer(username=USERNAME, password=PASSWORD).send(TO, SUBJECT, TEXT)
    assert smtp.recorder.logins == [USERNAME]
    assert len(smtp.recorder.received) == 1


async def test_no_login_without_a_username(smtp: SmtpServer) -> None:
    await smtp.mailer().send(TO, SUBJECT, TEXT)
    assert smtp.recorder.logins == []
    assert len(smtp.recorder.received) == 1


async def test_starttls_is_used_only_when_offered(smtp: SmtpServer) -> None:
    # This server offers no STARTTLS: without a password to protect, the message still goes.
    await smtp.mailer(starttls=True).send(TO, SUBJECT, TEXT)
    assert len(smtp.recorder.received) == 1


async def test_no_password_without_the_starttls_that_was_asked_for(smtp: SmtpServer) -> None:
    mailer = smtp.mailer(starttls=True, username=USERNAME, password=PASSWORD)
    with pytest.raises(ChannelError) as failure:
        await mailer.send(TO, SUBJECT, TEXT)
    assert str(failure.value).startswith(
        "The SMTP server did not offer STARTTLS, so the password was not sent")
    assert failure.value.permanent is False
    assert smtp.recorder.logins == [] and smtp.recorder.received == []


# Failures


@pytest.mark.parametrize(("attribute", "reply", "expected", "permanent"), [
    ("rcpt_reply", "550 5.1.1 <dilnoza.karimova@example.uz>: Recipient address rejected",
     "The SMTP server refused the recipient (550: 5.1.1 <…>: Recipient address rejected)", True),
    ("rcpt_reply", "451 4.3.0 Mailbox temporarily unavailable, try again later",
     "The SMTP server refused the recipient (451: 4.3.0 Mailbox temporarily unavailable, try "
     "again later)", False),
    ("rcpt_reply", "530 5.7.0 Authentication required",
     "The SMTP server refused the recipient (530: 5.7.0 Authentication required)", False),
    ("data_reply", "554 5.7.1 Message rejected as spam",
     "The SMTP server refused the message (554: 5.7.1 Message rejected as spam)", True),
    ("data_reply", "451 4.7.1 Greylisted, please try again in 5 minutes",
     "The SMTP server refused the message (451: 4.7.1 Greylisted, please try again in 5 "
     "minutes)", False),
    ("mail_reply", "553 5.7.1 <ovoz@tuman.uz>: Sender address rejected: not owned by user",
     "The SMTP server refused the sender address (553: 5.7.1 <…>: Sender address rejected: "
     "not owned by user); check email.sender", False),
])
async def test_refusals_are_permanent_only_for_5xx_about_the_message(
    smtp: SmtpServer, attribute: str, reply: str, expected: str, permanent: bool
) -> None:
    setattr(smtp.recorder, attribute, reply)
    with pytest.raises(ChannelError) as failure:
        await smtp.mailer().send(TO, SUBJECT, TEXT)
    assert str(failure.value) == expected
    assert failure.value.permanent is permanent
    assert smtp.recorder.received == []


async def test_a_wrong_password_is_temporary_and_never_shown(
    smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-Secret-pa55word"
    with pytest.raises(ChannelError) as failure:
        await smtp.mailer(username=USERNAME, password=wrong).send(TO, SUBJECT, TEXT)
    assert str(failure.value) == (
        "The SMTP server refused the login (535: 5.7.8 Authentication credentials invalid); "
        "check OVOZ_SMTP_USERNAME and OVOZ_SMTP_PASSWORD")
    assert failure.value.permanent is False
    assert failure.value.__cause__ is None and failure.value.__context__ is None
    assert wrong not in repr(failure.value)
    for record in caplog.records:
        assert wrong not in record.getMessage()


async def test_errors_and_logs_hold_no_password_address_or_text(
    smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mailer = smtp.mailer(username=USERNAME, password=PASSWORD)
    await mailer.send(TO, SUBJECT, TEXT, idempotency_key="outbox-18")
    smtp.recorder.rcpt_reply = f"550 5.1.1 {TO} unknown; {PASSWORD}; {USERNAME}; {SUBJECT}"
    with pytest.raises(ChannelError) as failure:
        await mailer.send(TO, SUBJECT, TEXT)
    assert failure.value.permanent is True
    assert str(failure.value) == (
        "The SMTP server refused the recipient (550: 5.1.1 … unknown; …; …; …)")
    assert_private(str(failure.value))
    assert_private(repr(failure.value))
    assert_private(repr(mailer))
    ours = [record for record in caplog.records if record.name.startswith("ovoz")]
    assert [record.getMessage() for record in ours] == [
        f"E-mail <outbox-18@ovoz> accepted by 127.0.0.1:{smtp.port}"]
    for record in ours:
        assert_private(record.getMessage())


async def test_an_unreachable_server_is_a_temporary_failure() -> None:
    port = free_port()
    mailer = Mailer("127.0.0.1", port, SENDER, starttls=False, password=PASSWORD)
    with pytest.raises(ChannelError) as failure:
        await mailer.send(TO, SUBJECT, TEXT)
    assert str(failure.value) == (
        f"Could not reach the SMTP server at 127.0.0.1:{port}: ConnectionRefusedError")
    assert failure.value.permanent is False
    assert failure.value.__context__ is None


async def test_a_silent_server_times_out_as_a_temporary_failure() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        mailer = Mailer("127.0.0.1", port, SENDER, starttls=False, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(ChannelError) as failure:
            await mailer.send(TO, SUBJECT, TEXT)
    assert time.monotonic() - started < 3
    assert str(failure.value) == (f"Lost the connection to the SMTP server at 127.0.0.1:{port}: "
                                  "Connection unexpectedly closed: timed out")
    assert failure.value.permanent is False


@pytest.mark.parametrize("to", ["", "dilnoza", "a@b@c", "dilnoza@example.uz\r\nBcc: x@y.z",
                                "<dilnoza@example.uz>", "two words@example.uz"])
async def test_a_malformed_address_is_refused_without_connecting(
    smtp: SmtpServer, to: str
) -> None:
    with pytest.raises(ChannelError) as failure:
        await smtp.mailer().send(to, SUBJECT, TEXT)
    assert str(failure.value) == "Not an e-mail address"
    assert failure.value.permanent is True
    assert smtp.recorder.received == []


def test_the_sender_must_be_an_address() -> None:
    with pytest.raises(ValueError, match="sender"):
        Mailer("127.0.0.1", 25, "Ovoz")
    with pytest.raises(ValueError, match="host"):
        Mailer("", 25, SENDER)


# Choosing a mailer


def test_mailer_for_follows_the_settings() -> None:
    shipped = {"OVOZ_CONFIG": str(ROOT / "litestar.toml")}
    assert mailer_for(load_settings(shipped)) is None
    mailer = mailer_for(load_settings({
        **shipped, "OVOZ_SMTP_HOST": "smtp.tuman.uz", "OVOZ_SMTP_PORT": "2525",
        "OVOZ_EMAIL_SENDER": SENDER, "OVOZ_SMTP_USERNAME": USERNAME,
        "OVOZ_SMTP_PASSWORD": PASSWORD, "OVOZ_SMTP_STARTTLS": "false",
    }))
    assert mailer is not None
    assert (mailer.host, mailer.port, mailer.sender, mailer.starttls) == (
        "smtp.tuman.uz", 2525, SENDER, False)
    assert PASSWORD not in repr(mailer)
    with pytest.raises(SettingsError, match=r"email\.sender"):
        mailer_for(load_settings({**shipped, "OVOZ_SMTP_HOST": "smtp.tuman.uz"}))
    with pytest.raises(SettingsError, match=r"email\.sender"):
        mailer_for(load_settings({**shipped, "OVOZ_SMTP_HOST": "smtp.tuman.uz",
                                  "OVOZ_EMAIL_SENDER": "Ovoz"}))
