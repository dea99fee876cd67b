from piccolo.columns import (
    BigInt,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from ovoz.accounts.tables import Resident


class OutboxMessage(Table, tablename="notify_outbox"):
    """One message to one person on one channel, written in the transaction of the change that
    causes it. `key` is its idempotency key: unique, so the same event never queues twice, and
    passed to the channel so a redelivery after a crash is recognisably the same message."""

    key = Varchar(length=200, unique=True)
    channel = Varchar(length=16)
    recipient_kind = Varchar(length=16)
    recipient_id = BigInt(index=True)
    template = Varchar(length=64)
    payload = Text(default="{}")
    status = Varchar(length=16, default="pending", index=True)
    attempts = Integer(default=0)
    next_try_at = Timestamptz(index=True)
    # A worker's claim; when it passes without the message being settled, the worker is
    # presumed dead and another may take the message again.
    claimed_until = Timestamptz(null=True, default=None)
    last_error = Varchar(length=300, default="")
    created_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)


class InAppMessage(Table, tablename="notify_inapp"):
    """The bell: messages shown in Ovoz itself. `key` makes a redelivery a no-op."""

    key = Varchar(length=200, unique=True)
    recipient_kind = Varchar(length=16)
    recipient_id = BigInt(index=True)
    text = Text()
    link = Varchar(length=300, default="")
    created_at = Timestamptz()
    read_at = Timestamptz(null=True, default=None)


class ChannelChoice(Table, tablename="notify_channel_choice"):
    """The channels a resident wants, in order of preference ("inapp,sms,telegram")."""

    resident = ForeignKey(references=Resident, on_delete=OnDelete.cascade, null=False,
                          unique=True)
    channels = Varchar(length=64, default="inapp,sms")
    # "none": a message per event; "daily" or "weekly": one digest instead (the bell stays live).
    digest = Varchar(length=8, default="none")


class Follow(Table, tablename="notify_follow"):
    """A resident following a report, petition, proposal, cycle or an area."""

    resident = ForeignKey(references=Resident, on_delete=OnDelete.cascade, null=False,
                          index=True)
    subject = Varchar(length=64)
    created_at = Timestamptz()
    stopped_at = Timestamptz(null=True, default=None)


class TelegramLink(Table, tablename="notify_telegram_link"):
    """The Telegram chat a resident linked by sending the bot a one-time code."""

    resident = ForeignKey(references=Resident, on_delete=OnDelete.cascade, null=False,
                          unique=True)
    chat_id = BigInt(unique=True)
    linked_at = Timestamptz()


class TelegramLinkCode(Table, tablename="notify_telegram_link_code"):
    code = Varchar(length=32, unique=True)
    resident = ForeignKey(references=Resident, on_delete=OnDelete.cascade, null=False,
                          index=True)
    expires_at = Timestamptz()


class ScheduledRun(Table, tablename="notify_scheduled_run"):
    """One run of a scheduled job for one due moment; (job, moment) is unique, so each moment
    runs once however many workers there are. A run whose lease passed unfinished is taken
    over (its worker died)."""

    job = Varchar(length=64)
    moment = Varchar(length=32)
    started_at = Timestamptz()
    lease_until = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
