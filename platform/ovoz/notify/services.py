"""The outbox: queue notifications with the change that causes them, deliver them with retries.

Delivery is at least once: a worker claims a batch for a lease, delivers, and settles each
message; if it dies, the lease runs out and another worker delivers again, with the same
idempotency key, which the in-app inbox (and any receiver that keeps keys) uses to drop repeats.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from piccolo.engine.postgres import PostgresEngine

from ovoz.accounts.tables import Resident, StaffAccount
from ovoz.db import current_engine, transaction
from ovoz.i18n import locale
from ovoz.notify.errors import ChannelError
from ovoz.notify.tables import (
    ChannelChoice,
    Follow,
    InAppMessage,
    OutboxMessage,
    ScheduledRun,
    TelegramLink,
    TelegramLinkCode,
)

CHANNELS = ("inapp", "sms", "telegram", "email")
DEFAULT_CHANNELS = ("inapp", "sms")
PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"
# Waiting for the person's digest; DIGESTED once it went out inside one.
HELD, DIGESTED = "held", "digested"
DIGESTS = ("none", "daily", "weekly")
LEASE = timedelta(minutes=2)
MAX_BACKOFF = timedelta(hours=6)

# Short texts in the reader's language; the payload fills the placeholders.
TEMPLATES: dict[str, str] = {
    "petition.responded": locale.lazy(
        "The answer to the petition “%(title)s” has been published: %(link)s"),
    "petition.opened": locale.lazy(
        "The petition “%(title)s” is open for signatures: %(link)s"),
    "petition.rejected": locale.lazy(
        "The petition “%(title)s” was not accepted for signing. The reason: %(link)s"),
    "petition.threshold_reached": locale.lazy(
        "The petition “%(title)s” has enough signatures. Answer it by %(date)s: %(link)s"),
    "report.updated": locale.lazy("Report №%(id)s “%(title)s” is now: %(status)s. %(link)s"),
    "report.fix_check": locale.lazy(
        "Is the problem of your report №%(id)s “%(title)s” really fixed? Please tell us: "
        "%(link)s"),
    "report.new_in_area": locale.lazy(
        "New report №%(id)s in your area: “%(title)s”. %(link)s"),
    "planning.proposals": locale.lazy(
        "Proposals for “%(title)s” are open until %(until)s: %(link)s"),
    "planning.voting": locale.lazy("Voting in “%(title)s” is open until %(until)s: %(link)s"),
    "planning.results": locale.lazy("The results of “%(title)s” are published: %(link)s"),
    "planning.proposal_reviewed": locale.lazy(
        "Your proposal “%(title)s” has been reviewed: %(decision)s. %(link)s"),
    "planning.proposal_merged": locale.lazy(
        "The proposal “%(title)s” was merged with the similar proposal “%(kept)s”: %(link)s"),
    "planning.delivery": locale.lazy(
        "Project “%(title)s”: %(status)s, %(progress)s%% done. %(link)s"),
    "obligation.due_soon": locale.lazy("Due on %(date)s: %(title)s. %(link)s"),
    "obligation.overdue": locale.lazy("Overdue since %(date)s: %(title)s. %(link)s"),
    "obligation.escalated": locale.lazy(
        "Still unanswered, overdue since %(date)s: %(title)s. %(link)s"),
    "obligation.extended": locale.lazy(
        "The answer to “%(title)s” is now due on %(date)s. Reason: %(reason)s %(link)s"),
    "moderation.decided": locale.lazy(
        "The moderators changed your “%(title)s”. The reason: %(reason)s You may appeal once: "
        "%(link)s"),
    "moderation.blocked": locale.lazy(
        "The moderators have blocked your Ovoz account. The reason: %(reason)s Your mahalla "
        "office can ask them to look again."),
    "moderation.appeal_decided": locale.lazy(
        "Your appeal about “%(title)s”: %(outcome)s. %(link)s"),
    "desk.flagged": locale.lazy(
        "Unusually many actions for residents at a mahalla desk: %(name)s, %(count)s in a day. "
        "%(link)s"),
    "digest": locale.lazy("Ovoz: %(count)s new notifications.\n%(items)s"),
}


@dataclass(frozen=True, slots=True)
class Delivery:
    key: str
    recipient_kind: str
    recipient: dict[str, Any] | None
    text: str
    link: str


class Channel(Protocol):
    async def deliver(self, delivery: Delivery) -> None: ...


def now() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=30) * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


async def resident_channels(resident_id: int) -> tuple[str, ...]:
    choice = await ChannelChoice.select(ChannelChoice.channels).where(
        ChannelChoice.resident == resident_id
    ).first()
    if choice is None:
        return DEFAULT_CHANNELS
    return tuple(c for c in choice["channels"].split(",") if c in CHANNELS)


async def staff_channels(staff_id: int) -> tuple[str, ...]:
    row = await StaffAccount.select(StaffAccount.email).where(StaffAccount.id == staff_id).first()
    return ("inapp", "email") if row and row["email"] else ("inapp",)


async def choose_channels(resident_id: int, channels: Sequence[str], digest: str = "none"
                          ) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(c for c in channels if c in CHANNELS)) or ("inapp",)
    digest = digest if digest in DIGESTS else "none"
    await ChannelChoice.insert(ChannelChoice(resident=resident_id, channels=",".join(chosen),
                                             digest=digest)
                               ).on_conflict(target=ChannelChoice.resident, action="DO UPDATE",
                                             values=[ChannelChoice.channels,
                                                     ChannelChoice.digest])
    return chosen


async def resident_digest(resident_id: int) -> str:
    choice = await ChannelChoice.select(ChannelChoice.digest).where(
        ChannelChoice.resident == resident_id
    ).first()
    return choice["digest"] if choice else "none"


async def enqueue(key: str, recipient_kind: str, recipient_id: int, template: str,
                  payload: Mapping[str, Any], channels: Sequence[str] | None = None,
                  hold_for_digest: bool = True) -> int:
    """Queue one message per channel, inside the caller's transaction. The same key queued
    again (a retried request, a second call for the same event) adds nothing. For a resident
    who chose a digest, messages outside the bell wait for it."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown notification template {template!r}")
    async with transaction():
        if channels is None:
            channels = (await resident_channels(recipient_id) if recipient_kind == "resident"
                        else await staff_channels(recipient_id))
        queued_at = now()
        digest = (await resident_digest(recipient_id)
                  if hold_for_digest and recipient_kind == "resident" else "none")
        rows = [
            OutboxMessage(key=f"{key}:{channel}", channel=channel, recipient_kind=recipient_kind,
                          recipient_id=recipient_id, template=template,
                          payload=json.dumps(dict(payload), ensure_ascii=False),
                          status=HELD if digest != "none" and channel != "inapp" else PENDING,
                          next_try_at=queued_at, created_at=queued_at)
            for channel in channels
        ]
        if not rows:
            return 0
        inserted = await OutboxMessage.insert(*rows).on_conflict(
            target=OutboxMessage.key, action="DO NOTHING"
        ).returning(OutboxMessage.id)
    return len(inserted)


async def claim(batch: int, at: datetime | None = None, lease: timedelta = LEASE
                ) -> list[dict[str, Any]]:
    """Take up to `batch` due messages for this worker. On PostgreSQL rows another worker holds
    are skipped (FOR UPDATE SKIP LOCKED); on SQLite the IMMEDIATE transaction serialises."""
    at = at or now()
    due = ((OutboxMessage.status == PENDING) & (OutboxMessage.next_try_at <= at)) | (
        (OutboxMessage.status == SENDING) & (OutboxMessage.claimed_until < at)
    )
    async with transaction():
        if isinstance(current_engine(), PostgresEngine):
            rows = await OutboxMessage.raw(
                "UPDATE notify_outbox SET status = 'sending', claimed_until = {}, "
                "attempts = attempts + 1 WHERE id IN (SELECT id FROM notify_outbox "
                "WHERE (status = 'pending' AND next_try_at <= {}) "
                "OR (status = 'sending' AND claimed_until < {}) "
                "ORDER BY id LIMIT {} FOR UPDATE SKIP LOCKED) RETURNING id",
                at + lease, at, at, batch,
            )
            ids = [row["id"] for row in rows]
        else:
            ids = await OutboxMessage.select(OutboxMessage.id).where(due).order_by(
                OutboxMessage.id).limit(batch).output(as_list=True)
            if ids:
                await OutboxMessage.update({
                    OutboxMessage.status: SENDING, OutboxMessage.claimed_until: at + lease,
                    OutboxMessage.attempts: OutboxMessage.attempts + 1,
                }).where(OutboxMessage.id.is_in(ids))
    if not ids:
        return []
    return await OutboxMessage.select().where(OutboxMessage.id.is_in(ids)).order_by(
        OutboxMessage.id)


def render(template: str, payload: Mapping[str, Any], language: str) -> str:
    """The message in the reader's language. A payload key ending in _msgid holds a message to
    translate, one ending in _names the four names of a thing, one ending in _day an ISO date
    to write the reader's way; each loses the suffix."""
    token = locale.current_language.set(language)
    try:
        values: dict[str, Any] = {}
        for key, value in payload.items():
            if key.endswith("_msgid"):
                values[key.removesuffix("_msgid")] = locale.gettext(value)
            elif key.endswith("_names") and isinstance(value, Mapping):
                values[key.removesuffix("_names")] = locale.localised_name(value, language)
            elif key.endswith("_day"):
                values[key.removesuffix("_day")] = locale.format_date(
                    date.fromisoformat(value), language)
            else:
                values[key] = value
        return locale.gettext(TEMPLATES[template], **values)
    finally:
        locale.current_language.reset(token)


async def _recipient(kind: str, recipient_id: int) -> dict[str, Any] | None:
    if kind == "staff":
        return await StaffAccount.select(
            StaffAccount.id, StaffAccount.email, StaffAccount.display_name
        ).where((StaffAccount.id == recipient_id) & StaffAccount.disabled_at.is_null()).first()
    return await Resident.select().where(
        (Resident.id == recipient_id) & Resident.deleted_at.is_null()
    ).first()


async def _settle(row: dict[str, Any], error: ChannelError | None, max_attempts: int) -> str:
    if error is None:
        changes: dict[Any, Any] = {OutboxMessage.status: SENT, OutboxMessage.sent_at: now(),
                                   OutboxMessage.claimed_until: None}
        status = SENT
    elif error.permanent or row["attempts"] >= max_attempts:
        changes = {OutboxMessage.status: DEAD, OutboxMessage.claimed_until: None,
                   OutboxMessage.last_error: str(error)[:300]}
        status = DEAD
    else:
        changes = {OutboxMessage.status: PENDING, OutboxMessage.claimed_until: None,
                   OutboxMessage.next_try_at: now() + backoff(row["attempts"]),
                   OutboxMessage.last_error: str(error)[:300]}
        status = PENDING
    # Only the worker still holding the claim settles it.
    await OutboxMessage.update(changes).where(
        (OutboxMessage.id == row["id"]) & (OutboxMessage.status == SENDING)
    )
    return status


async def deliver(row: dict[str, Any], channels: Mapping[str, Channel], max_attempts: int
                  ) -> str:
    recipient = await _recipient(row["recipient_kind"], row["recipient_id"])
    error: ChannelError | None = None
    channel = channels.get(row["channel"])
    if channel is None:
        error = ChannelError(f"the {row['channel']} channel is not configured", permanent=True)
    elif recipient is None:
        error = ChannelError("the recipient's account no longer exists", permanent=True)
    else:
        payload = json.loads(row["payload"])
        language = (recipient or {}).get("language") or "uz"
        delivery = Delivery(key=row["key"], recipient_kind=row["recipient_kind"],
                            recipient=recipient, text=render(row["template"], payload, language),
                            link=str(payload.get("link", "")))
        try:
            await channel.deliver(delivery)
        except ChannelError as failure:
            error = failure
    return await _settle(row, error, max_attempts)


async def run_once(channels: Mapping[str, Channel], max_attempts: int, batch: int = 50
                   ) -> dict[str, int]:
    outcome = {SENT: 0, PENDING: 0, DEAD: 0}
    for row in await claim(batch):
        outcome[await deliver(row, channels, max_attempts)] += 1
    return outcome


class InAppChannel:
    """The bell in Ovoz itself; a repeated key is dropped by the unique index."""

    async def deliver(self, delivery: Delivery) -> None:
        if delivery.recipient is None:
            raise ChannelError("no recipient", permanent=True)
        await InAppMessage.insert(InAppMessage(
            key=delivery.key, recipient_kind=delivery.recipient_kind,
            recipient_id=delivery.recipient["id"], text=delivery.text, link=delivery.link,
            created_at=now(),
        )).on_conflict(target=InAppMessage.key, action="DO NOTHING")


class SmsChannel:
    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway

    async def deliver(self, delivery: Delivery) -> None:
        from ovoz.accounts.sms import SmsError

        phone = (delivery.recipient or {}).get("phone")
        if not phone:
            raise ChannelError("the resident has no phone number", permanent=True)
        try:
            await self.gateway.send(phone, delivery.text)
        except SmsError as error:
            raise ChannelError(str(error)) from None


class EmailChannel:
    """For staff and NGOs; the idempotency key becomes the Message-ID, so a redelivery is
    recognisably the same message."""

    def __init__(self, mailer: Any) -> None:
        self.mailer = mailer

    async def deliver(self, delivery: Delivery) -> None:
        address = (delivery.recipient or {}).get("email")
        if not address:
            raise ChannelError("the recipient has no e-mail address", permanent=True)
        subject = "Ovoz: " + delivery.text.split(". ")[0][:80]
        await self.mailer.send(address, subject, delivery.text, idempotency_key=delivery.key)


class TelegramChannel:
    def __init__(self, bot: Any) -> None:
        self.bot = bot

    async def deliver(self, delivery: Delivery) -> None:
        if delivery.recipient is None:
            raise ChannelError("no recipient", permanent=True)
        link = await TelegramLink.select(TelegramLink.chat_id).where(
            TelegramLink.resident == delivery.recipient["id"]
        ).first()
        if link is None:
            raise ChannelError("the resident has not linked Telegram", permanent=True)
        await self.bot.send_message(link["chat_id"], delivery.text)


async def unread_count(recipient_kind: str, recipient_id: int) -> int:
    return await InAppMessage.count().where(
        (InAppMessage.recipient_kind == recipient_kind)
        & (InAppMessage.recipient_id == recipient_id) & InAppMessage.read_at.is_null()
    )


async def inbox(recipient_kind: str, recipient_id: int, limit: int = 50) -> list[dict[str, Any]]:
    return await InAppMessage.select().where(
        (InAppMessage.recipient_kind == recipient_kind)
        & (InAppMessage.recipient_id == recipient_id)
    ).order_by(InAppMessage.id, ascending=False).limit(limit)


async def mark_all_read(recipient_kind: str, recipient_id: int) -> None:
    await InAppMessage.update({InAppMessage.read_at: now()}).where(
        (InAppMessage.recipient_kind == recipient_kind)
        & (InAppMessage.recipient_id == recipient_id) & InAppMessage.read_at.is_null()
    )


@dataclass(frozen=True, slots=True)
class OutboxDepth:
    pending: int
    dead: int
    oldest_pending_at: datetime | None


async def outbox_depth() -> OutboxDepth:
    """How much waits to be delivered, and since when: for the operators' metrics."""
    pending = OutboxMessage.status == PENDING
    oldest = await OutboxMessage.select(OutboxMessage.created_at).where(pending).order_by(
        OutboxMessage.created_at).first()
    return OutboxDepth(await OutboxMessage.count().where(pending),
                       await OutboxMessage.count().where(OutboxMessage.status == DEAD),
                       oldest["created_at"] if oldest else None)


async def last_runs() -> dict[str, datetime]:
    """When each scheduled job last started: a job that stops starting means no worker runs."""
    rows = await ScheduledRun.select(ScheduledRun.job, ScheduledRun.started_at).order_by(
        ScheduledRun.started_at)
    return {row["job"]: row["started_at"] for row in rows}


async def dead_letters(limit: int = 100) -> list[dict[str, Any]]:
    return await OutboxMessage.select(
        OutboxMessage.id, OutboxMessage.channel, OutboxMessage.template,
        OutboxMessage.attempts, OutboxMessage.last_error, OutboxMessage.created_at,
    ).where(OutboxMessage.status == DEAD).order_by(OutboxMessage.id, ascending=False).limit(
        limit)


async def retry_dead(message_id: int) -> bool:
    """An administrator sends a dead-lettered message again (after fixing its cause)."""
    retried = await OutboxMessage.update({
        OutboxMessage.status: PENDING, OutboxMessage.attempts: 0,
        OutboxMessage.next_try_at: now(),
    }).where((OutboxMessage.id == message_id) & (OutboxMessage.status == DEAD)).returning(
        OutboxMessage.id)
    return bool(retried)


async def follow(resident_id: int, subject: str) -> None:
    """Start (or resume) following; `subject` is like "petition:12" or "mahalla:7"."""
    await Follow.insert(Follow(resident=resident_id, subject=subject, created_at=now())
                        ).on_conflict(target=(Follow.resident, Follow.subject),
                                      action="DO UPDATE", values=[(Follow.stopped_at, None)])


async def unfollow(resident_id: int, subject: str) -> None:
    await Follow.update({Follow.stopped_at: now()}).where(
        (Follow.resident == resident_id) & (Follow.subject == subject)
    )


async def followed_subjects(prefix: str, resident_id: int | None = None
                            ) -> list[dict[str, Any]]:
    """Active follows whose subject starts with the prefix ("area:"), with their resident."""
    condition = Follow.subject.like(f"{prefix}%") & Follow.stopped_at.is_null()
    if resident_id is not None:
        condition &= Follow.resident == resident_id
    return await Follow.select(Follow.resident, Follow.subject).where(condition)


async def drop_follows(subject: str) -> None:
    """Forget who followed a subject (when its people are anonymised)."""
    await Follow.delete().where(Follow.subject == subject)


async def follows_of(resident_id: int) -> list[str]:
    """What the resident follows now, most recent first."""
    return await Follow.select(Follow.subject).where(
        (Follow.resident == resident_id) & Follow.stopped_at.is_null()
    ).order_by(Follow.created_at, ascending=False).output(as_list=True)


async def followers(subject: str) -> list[int]:
    return await Follow.select(Follow.resident).where(
        (Follow.subject == subject) & Follow.stopped_at.is_null()
    ).output(as_list=True)


TELEGRAM_CODE_LIFETIME = timedelta(minutes=15)


async def start_telegram_link(resident_id: int) -> str:
    """A one-time code the resident sends the bot (/start CODE) to link their chat."""
    code = secrets.token_urlsafe(12)
    async with transaction():
        await TelegramLinkCode.delete().where(TelegramLinkCode.resident == resident_id)
        await TelegramLinkCode.insert(TelegramLinkCode(
            code=code, resident=resident_id, expires_at=now() + TELEGRAM_CODE_LIFETIME))
    return code


async def complete_telegram_link(code: str, chat_id: int) -> int | None:
    """Link the chat that sent a valid code; the code works once. Returns the resident id."""
    async with transaction():
        claimed = await TelegramLinkCode.delete().where(
            (TelegramLinkCode.code == code) & (TelegramLinkCode.expires_at > now())
        ).returning(TelegramLinkCode.resident)
        if not claimed:
            return None
        resident_id = claimed[0]["resident"]
        # One chat, one resident: a chat linked before moves to the new account.
        await TelegramLink.delete().where(
            (TelegramLink.chat_id == chat_id) | (TelegramLink.resident == resident_id)
        )
        await TelegramLink.insert(TelegramLink(resident=resident_id, chat_id=chat_id,
                                               linked_at=now()))
    return resident_id


async def unlink_telegram(resident_id: int) -> None:
    await TelegramLink.delete().where(TelegramLink.resident == resident_id)


async def telegram_linked(resident_id: int) -> bool:
    return await TelegramLink.count().where(TelegramLink.resident == resident_id) > 0


async def poll_telegram(bot: Any, store: Any) -> int:
    """Read the bot's new messages and link the chats that sent a code. The offset is kept in
    the shared store, so any worker can continue where another stopped."""
    from ovoz.notify.telegram import link_code_from

    offset_raw = await store.get("telegram:offset")
    offset = int(offset_raw) if offset_raw else None
    linked = 0
    for update in await bot.updates(offset=offset):
        found = link_code_from(update)
        if found is not None:
            code, chat_id = found
            if await complete_telegram_link(code, chat_id) is not None:
                linked += 1
        await store.set("telegram:offset", str(update["update_id"] + 1))
    return linked


async def send_digests(moment: str, weekly_too: bool) -> int:
    """Gather each resident's held messages into one digest per channel."""
    kinds = ["daily", "weekly"] if weekly_too else ["daily"]
    residents = await ChannelChoice.select(ChannelChoice.resident).where(
        ChannelChoice.digest.is_in(kinds)
    ).output(as_list=True)
    sent = 0
    for resident_id in residents:
        recipient = await _recipient("resident", resident_id)
        language = (recipient or {}).get("language") or "uz"
        async with transaction():
            held = await OutboxMessage.select().where(
                (OutboxMessage.recipient_kind == "resident")
                & (OutboxMessage.recipient_id == resident_id) & (OutboxMessage.status == HELD)
            ).order_by(OutboxMessage.id)
            by_channel: dict[str, list[dict[str, Any]]] = {}
            for row in held:
                by_channel.setdefault(row["channel"], []).append(row)
            for channel, rows in by_channel.items():
                items = "\n".join(
                    "- " + render(r["template"], json.loads(r["payload"]), language) for r in rows)
                sent += await enqueue(f"digest:{moment}:{resident_id}", "resident", resident_id,
                                      "digest", {"count": len(rows), "items": items},
                                      [channel], hold_for_digest=False)
            if held:
                await OutboxMessage.update({OutboxMessage.status: DIGESTED}).where(
                    OutboxMessage.id.is_in([row["id"] for row in held]))
    return sent
