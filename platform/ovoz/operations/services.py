"""What operators watch: whether the database is up to date, whether workers deliver and run
the scheduled jobs, how many answers are overdue, and the ledger head. Read from the
database, so every app server reports the same."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from piccolo.engine.sqlite import SQLiteEngine

from ovoz import db
from ovoz.accountability import services as accountability
from ovoz.ledger import services as ledger
from ovoz.notify import services as notify


@dataclass(frozen=True, slots=True)
class Status:
    checked_at: datetime
    engine: str
    pending_migrations: list[str]
    outbox: notify.OutboxDepth
    last_runs: dict[str, datetime]
    overdue_obligations: int
    ledger_seq: int
    ledger_hash: str

    @property
    def oldest_pending_seconds(self) -> int:
        if self.outbox.oldest_pending_at is None:
            return 0
        return max(0, int((self.checked_at - self.outbox.oldest_pending_at).total_seconds()))


async def status() -> Status:
    at = datetime.now(UTC)
    head = await ledger.head()
    return Status(
        checked_at=at,
        engine="sqlite" if isinstance(db.current_engine(), SQLiteEngine) else "postgres",
        pending_migrations=await db.pending_migrations(),
        outbox=await notify.outbox_depth(),
        last_runs=await notify.last_runs(),
        overdue_obligations=await accountability.open_overdue_count(at),
        ledger_seq=head.seq,
        ledger_hash=head.hash,
    )


def _gauge(name: str, help_text: str, value: float) -> str:
    return f"# HELP {name} {help_text}\n# TYPE {name} gauge\n{name} {value:g}\n"


def exposition(found: Status) -> str:
    """The figures as Prometheus text, beside the request metrics of the app servers."""
    return "".join((
        _gauge("ovoz_outbox_pending", "Notifications waiting to be delivered.",
               found.outbox.pending),
        _gauge("ovoz_outbox_dead", "Notifications given up after every retry.",
               found.outbox.dead),
        _gauge("ovoz_outbox_oldest_pending_seconds",
               "Age of the oldest notification waiting to be delivered.",
               found.oldest_pending_seconds),
        _gauge("ovoz_obligations_overdue",
               "Reports, petitions and proposals still unanswered past their due moment.",
               found.overdue_obligations),
        _gauge("ovoz_migrations_pending", "Migrations on disk not applied to the database.",
               len(found.pending_migrations)),
        _gauge("ovoz_ledger_entries", "Entries in the public ledger.", found.ledger_seq),
    ))
