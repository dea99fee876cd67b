"""E-mail for staff and NGOs, plain text through an SMTP server: the organisation's own relay
or a provider's submission port (587 with STARTTLS).

Each message goes out on its own connection, made by the standard library's smtplib in a
worker thread so the event loop never waits on the network.

A message sent with an idempotency key gets a Message-ID derived from it, so a message sent
again after a lost answer is recognisably the same one (mail clients and some servers drop
the duplicate).

Errors say what failed and the server's reply, never the password, the recipient's address
or the text, so they can be logged and shown to an operator as they are. A refusal that names
this message or this recipient (5xx) is permanent; connection trouble, 4xx and configuration
faults an operator can fix (login, sender address) are temporary.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime, make_msgid, parseaddr

from ovoz.notify.errors import ChannelError
from ovoz.settings import Settings, SettingsError

SMTP_TIMEOUT_SECONDS = 10.0
MESSAGE_ID_DOMAIN = "ovoz"
# Quoted-printable or base64 bodies: 8-bit text would need the server's 8BITMIME.
_POLICY = default_policy.clone(cte_type="7bit")
# The left part of a Message-ID (RFC 5322 dot-atom-text); other keys are hashed.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_MAILBOX = re.compile(r"[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\]+")
_ADDRESS_IN_TEXT = re.compile(r"[^\s@<>()\[\],;:\"'\\]+@[^\s@<>()\[\],;:\"'\\]+")
_MAX_REPLY = 200
# 530 "authentication required" is a 5xx about our configuration, not about the message.
_TEMPORARY_5XX = frozenset({530})

log = logging.getLogger("ovoz.notify.email")


def message_id_for(idempotency_key: str) -> str:
    """The Message-ID for a key: <key@ovoz> when the key is fit for one, else a hash of it."""
    if len(idempotency_key) <= 64 and _DOT_ATOM.fullmatch(idempotency_key):
        left = idempotency_key
    else:
        left = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<{left}@{MESSAGE_ID_DOMAIN}>"


class Mailer:
    """One SMTP server and sender address."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str = "",
        password: str = "",
        starttls: bool = True,
        timeout: float = SMTP_TIMEOUT_SECONDS,
    ) -> None:
        if not host:
            raise ValueError("a mailer needs an SMTP host")
        envelope_sender = parseaddr(sender)[1]
        if not _MAILBOX.fullmatch(envelope_sender):
            raise ValueError("the sender must be an e-mail address, e.g. 'Ovoz <ovoz@tuman.uz>'")
        self.host = host
        self.port = port
        self.sender = sender
        self.starttls = starttls
        self.timeout = timeout
        self._envelope_sender = envelope_sender
        self._username = username
        self._password = password

    def __repr__(self) -> str:
        return f"<Mailer {self.host}:{self.port}>"

    async def send(self, to: str, subject: str, text: str, *,
                   idempotency_key: str | None = None) -> None:
        """Hand one plain-text message to the SMTP server; raise ChannelError on failure."""
        if not _MAILBOX.fullmatch(to):
            raise ChannelError("Not an e-mail address", permanent=True)
        message = self.message(to, subject, text, idempotency_key=idempotency_key)
        failure = await asyncio.to_thread(self._deliver, message, to)
        if failure is not None:
            raise failure
        log.info("E-mail %s accepted by %s:%d", message["Message-ID"], self.host, self.port)

    def message(self, to: str, subject: str, text: str, *,
                idempotency_key: str | None = None) -> EmailMessage:
        """The message send() delivers."""
        message = EmailMessage(policy=_POLICY)
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = " ".join(subject.split())  # no line breaks in a header
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = (message_id_for(idempotency_key) if idempotency_key is not None
                                 else make_msgid(domain=MESSAGE_ID_DOMAIN))
        # RFC 3834: no out-of-office replies to notifications, please.
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(text, charset="utf-8")
        return message

    def _deliver(self, message: EmailMessage, to: str) -> ChannelError | None:
        """Runs in a worker thread. Returns the failure rather than raising it, so the error
        the caller sees carries no smtplib exception (with its addresses) as its context."""
        private = (to, str(message["Subject"]), message.get_content())
        try:
            return self._session(message, to)
        except smtplib.SMTPRecipientsRefused as refused:
            code, reply = next(iter(refused.recipients.values()), (0, b""))
            return self._refusal("the recipient", code, reply, private)
        except smtplib.SMTPSenderRefused as refused:
            return ChannelError(
                self._said("the sender address", refused.smtp_code, refused.smtp_error, private)
                + "; check email.sender")
        except smtplib.SMTPAuthenticationError as refused:
            return ChannelError(
                self._said("the login", refused.smtp_code, refused.smtp_error, private)
                + "; check OVOZ_SMTP_USERNAME and OVOZ_SMTP_PASSWORD")
        except smtplib.SMTPDataError as refused:
            return self._refusal("the message", refused.smtp_code, refused.smtp_error, private)
        except smtplib.SMTPResponseException as refused:  # the greeting, HELO, ...
            return ChannelError(
                self._said("the connection", refused.smtp_code, refused.smtp_error, private))
        except smtplib.SMTPNotSupportedError as unsupported:
            # smtplib's own words ("SMTP AUTH extension not supported by server."): no data.
            return ChannelError(f"The SMTP server lacks what is needed: {unsupported}")
        except smtplib.SMTPServerDisconnected as lost:
            # smtplib's words again, such as "Connection unexpectedly closed: timed out".
            return ChannelError(
                f"Lost the connection to the SMTP server at {self.host}:{self.port}: {lost}")
        except OSError as error:  # refused, timed out, unknown host, TLS trouble
            return ChannelError(f"Could not reach the SMTP server at {self.host}:{self.port}: "
                                f"{type(error).__name__}")

    def _session(self, message: EmailMessage, to: str) -> ChannelError | None:
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.starttls and smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            elif self.starttls and self._username:
                # Someone between us and the server may have removed the offer.
                return ChannelError(
                    "The SMTP server did not offer STARTTLS, so the password was not sent "
                    "(set email.starttls = false only for a relay on a trusted network)")
            if self._username:
                smtp.login(self._username, self._password)
            smtp.send_message(message, from_addr=self._envelope_sender, to_addrs=[to])
            return None
        finally:
            # The message is accepted (or not) by now: a failing goodbye changes nothing.
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
            smtp.close()

    def _refusal(self, what: str, code: int, reply: bytes | str, private: tuple[str, ...]
                 ) -> ChannelError:
        permanent = 500 <= code < 600 and code not in _TEMPORARY_5XX
        return ChannelError(self._said(what, code, reply, private), permanent=permanent)

    def _said(self, what: str, code: int, reply: bytes | str, private: tuple[str, ...]) -> str:
        """ "The SMTP server refused WHAT (CODE: REPLY)", the reply without the credentials,
        addresses, subject or text it may echo."""
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        for secret in (self._password, self._username, *private):
            if secret.strip():
                text = text.replace(secret, "…")
        text = " ".join(_ADDRESS_IN_TEXT.sub("…", text).split())[:_MAX_REPLY]
        return f"The SMTP server refused {what} ({code}" + (f": {text})" if text else ")")


def mailer_for(settings: Settings) -> Mailer | None:
    """The mailer the email settings describe, or None when no SMTP host is set."""
    if not settings.smtp_host:
        return None
    if not settings.smtp_sender:
        raise SettingsError("email.sender: sending e-mail needs a sender address "
                            "(set OVOZ_EMAIL_SENDER, e.g. \"Ovoz <ovoz@tuman.uz>\")")
    try:
        return Mailer(settings.smtp_host, settings.smtp_port, settings.smtp_sender,
                      username=settings.smtp_username, password=settings.smtp_password,
                      starttls=settings.smtp_starttls)
    except ValueError as wrong:
        raise SettingsError(f"email.sender: {wrong}") from None
