from __future__ import annotations

import asyncio

from ovoz.store.services import DatabaseStore, hit


async def test_store_sets_gets_and_deletes(db: str) -> None:
    store = DatabaseStore()
    await store.set("a", "text")
    await store.set("b", b"\x00\xffbytes", expires_in=60)
    assert await store.get("a") == b"text"
    assert await store.get("b") == b"\x00\xffbytes"
    assert await store.expires_in("a") is None
    assert 58 <= (await store.expires_in("b") or 0) <= 60
    await store.set("a", "replaced")
    assert await store.get("a") == b"replaced"
    await store.delete("a")
    assert await store.get("a") is None
    assert not await store.exists("a")


async def test_expired_values_are_gone(db: str) -> None:
    store = DatabaseStore()
    await store.set("old", "x", expires_in=-1)
    assert await store.get("old") is None
    assert await store.expires_in("old") is None


async def test_renewing_on_read_extends_the_expiry(db: str) -> None:
    store = DatabaseStore()
    await store.set("session", "x", expires_in=10)
    assert await store.get("session", renew_for=3600) == b"x"
    assert (await store.expires_in("session") or 0) > 3000


async def test_a_fresh_value_is_not_rewritten_on_every_read(db: str) -> None:
    from ovoz.store.tables import StoreEntry

    store = DatabaseStore()
    await store.set("session", "x", expires_in=3600)
    await StoreEntry.update({StoreEntry.expires_at: StoreEntry.expires_at - 5}, force=True)
    before = (await StoreEntry.select(StoreEntry.expires_at).first())["expires_at"]
    assert await store.get("session", renew_for=3600) == b"x"
    assert (await StoreEntry.select(StoreEntry.expires_at).first())["expires_at"] == before


async def test_namespaces_are_separate(db: str) -> None:
    sessions, other = DatabaseStore().with_namespace("sessions"), DatabaseStore().with_namespace(
        "other"
    )
    await sessions.set("k", "1")
    await other.set("k", "2")
    await sessions.delete_all()
    assert await sessions.get("k") is None
    assert await other.get("k") == b"2"


async def test_rate_limit_counts_each_hit_once_within_a_window(db: str) -> None:
    decisions = [await hit("otp:ip:10.0.0.1", 3, 60, now=1_000_000.0) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[-1].hits == 4
    assert decisions[-1].retry_after == 20  # the window 999_960..1_000_020 ends in 20 s
    fresh = await hit("otp:ip:10.0.0.1", 3, 60, now=1_000_030.0)
    assert fresh.allowed and fresh.hits == 1


async def test_concurrent_hits_are_all_counted(db: str) -> None:
    decisions = await asyncio.gather(*(hit("burst", 10, 3600, now=7200.0) for _ in range(25)))
    assert sorted(d.hits for d in decisions) == list(range(1, 26))
    assert sum(d.allowed for d in decisions) == 10
