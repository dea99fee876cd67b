"""A Litestar Store kept in the database, and fixed-window rate counters."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from litestar.stores.base import NamespacedStore

from ovoz.store.tables import RateCounter, StoreEntry


def _seconds(value: int | timedelta | None) -> int | None:
    if value is None:
        return None
    return int(value.total_seconds()) if isinstance(value, timedelta) else int(value)


class DatabaseStore(NamespacedStore):
    """Values shared by every worker and machine (sessions above all). Expired values are
    treated as absent and removed when read; `delete_expired()` sweeps the rest."""

    def __init__(self, namespace: str = "ovoz") -> None:
        super().__init__()
        self.namespace = namespace

    def with_namespace(self, namespace: str) -> DatabaseStore:
        return DatabaseStore(f"{self.namespace}:{namespace}")

    def _key(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
                  ) -> None:
        data = value.encode() if isinstance(value, str) else value
        seconds = _seconds(expires_in)
        expires_at = None if seconds is None else int(time.time()) + seconds
        await StoreEntry.raw(
            "INSERT INTO store_entry (key, value, expires_at) VALUES ({}, {}, {}) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
            "expires_at = excluded.expires_at",
            self._key(key), data, expires_at,
        )

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        row = await StoreEntry.select(StoreEntry.value, StoreEntry.expires_at).where(
            StoreEntry.key == self._key(key)
        ).first()
        if row is None:
            return None
        now = int(time.time())
        if row["expires_at"] is not None and row["expires_at"] <= now:
            await self.delete(key)
            return None
        seconds = _seconds(renew_for)
        # Renewing on every read would make each page view a write (and, on SQLite, take the
        # write lock); a value with at least 90% of the renewal still ahead is left alone.
        if (seconds is not None and row["expires_at"] is not None
                and row["expires_at"] < now + seconds * 9 // 10):
            await StoreEntry.update({StoreEntry.expires_at: now + seconds}).where(
                StoreEntry.key == self._key(key)
            )
        return bytes(row["value"])

    async def delete(self, key: str) -> None:
        await StoreEntry.delete().where(StoreEntry.key == self._key(key))

    async def delete_all(self) -> None:
        await StoreEntry.delete().where(StoreEntry.key.like(f"{self.namespace}:%"))

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        row = await StoreEntry.select(StoreEntry.expires_at).where(
            StoreEntry.key == self._key(key)
        ).first()
        if row is None or row["expires_at"] is None:
            return None
        return max(0, row["expires_at"] - int(time.time()))

    async def delete_expired(self) -> None:
        await StoreEntry.delete().where(StoreEntry.expires_at <= int(time.time()))


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    hits: int
    retry_after: int


async def hit(key: str, limit: int, window_seconds: int, now: float | None = None
              ) -> RateDecision:
    """Count one attempt against `key` in the current fixed window. The increment is one atomic
    statement, so concurrent workers never lose or double a hit."""
    now = time.time() if now is None else now
    window_start = int(now // window_seconds) * window_seconds
    rows = await RateCounter.raw(
        "INSERT INTO store_rate_counter (key, window_start, hits) VALUES ({}, {}, 1) "
        "ON CONFLICT (key, window_start) DO UPDATE SET hits = store_rate_counter.hits + 1 "
        "RETURNING hits",
        key, window_start,
    )
    hits = rows[0]["hits"]
    if hits == 1:
        await RateCounter.delete().where(
            (RateCounter.key == key) & (RateCounter.window_start < window_start)
        )
    retry_after = max(1, window_start + window_seconds - int(now))
    return RateDecision(allowed=hits <= limit, hits=hits, retry_after=retry_after)


async def hits(key: str, window_seconds: int, now: float | None = None) -> int:
    """The attempts counted against `key` in the current window, without adding one."""
    now = time.time() if now is None else now
    window_start = int(now // window_seconds) * window_seconds
    row = await RateCounter.select(RateCounter.hits).where(
        (RateCounter.key == key) & (RateCounter.window_start == window_start)).first()
    return int(row["hits"]) if row else 0
