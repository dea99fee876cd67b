from __future__ import annotations

import asyncio

import pytest

from ovoz import ledger
from ovoz.db import transaction
from ovoz.ledger import services
from ovoz.ledger.tables import LedgerEntry


async def test_entries_form_a_chain_from_genesis(db: str) -> None:
    first = await ledger.record("test.created", "thing:1", {"size": 3})
    second = await ledger.record("test.changed", "thing:1", {"size": 4, "tags": ["a", "b"]})

    rows = await services.entries_after(0, 10)
    assert [row["seq"] for row in rows] == [1, 2]
    assert rows[0]["prev_hash"] == services.GENESIS_HASH
    assert rows[1]["prev_hash"] == first.hash == rows[0]["hash"]
    assert rows[1]["hash"] == second.hash
    assert rows[1]["payload"] == {"size": 4, "tags": ["a", "b"]}
    current = await services.head()
    assert (current.seq, current.hash, current.at) == (2, second.hash, second.at)


async def test_hash_covers_every_field(db: str) -> None:
    head = await ledger.record("test.created", "thing:1", {"size": 3})
    row = (await services.entries_after(0, 1))[0]
    at = head.at
    assert head.at is not None and at is not None
    expected = services.entry_hash(services.GENESIS_HASH, 1, at, "test.created", "thing:1",
                                   {"size": 3})
    assert row["hash"] == expected
    for changed in (
        services.entry_hash(services.GENESIS_HASH, 2, at, "test.created", "thing:1", {"size": 3}),
        services.entry_hash(services.GENESIS_HASH, 1, at, "test.other", "thing:1", {"size": 3}),
        services.entry_hash(services.GENESIS_HASH, 1, at, "test.created", "thing:2", {"size": 3}),
        services.entry_hash(services.GENESIS_HASH, 1, at, "test.created", "thing:1", {"size": 4}),
        services.entry_hash("1" * 64, 1, at, "test.created", "thing:1", {"size": 3}),
    ):
        assert changed != expected


async def test_verify_accepts_an_intact_chain(db: str) -> None:
    for n in range(5):
        await ledger.record("test.counted", f"thing:{n}", {"n": n})
    result = await services.verify()
    assert result.intact
    assert result.checked == 5
    assert result.head.seq == 5


async def test_verify_names_a_tampered_payload(db: str) -> None:
    for n in range(4):
        await ledger.record("test.counted", f"thing:{n}", {"n": n})
    await LedgerEntry.update({LedgerEntry.payload: '{"n":99}'}).where(LedgerEntry.seq == 3)

    result = await services.verify()
    assert not result.intact
    assert result.first_bad_seq == 3
    assert result.checked == 2
    assert "content" in (result.reason or "")


async def test_verify_names_a_removed_entry(db: str) -> None:
    for n in range(4):
        await ledger.record("test.counted", f"thing:{n}", {"n": n})
    await LedgerEntry.delete().where(LedgerEntry.seq == 2)

    result = await services.verify()
    assert not result.intact
    assert result.first_bad_seq == 2


async def test_verify_names_an_entry_rewritten_with_a_fresh_hash(db: str) -> None:
    """Recomputing the tampered entry's own hash still breaks the link to the next one."""
    for n in range(3):
        await ledger.record("test.counted", f"thing:{n}", {"n": n})
    row = (await services.entries_after(1, 1))[0]
    forged = services.entry_hash(row["prev_hash"], 2, services.datetime.fromisoformat(row["at"]),
                                 row["kind"], row["subject"], {"n": 42})
    await LedgerEntry.update(
        {LedgerEntry.payload: '{"n":42}', LedgerEntry.hash: forged}
    ).where(LedgerEntry.seq == 2)

    result = await services.verify()
    assert not result.intact
    assert result.first_bad_seq == 3
    assert "prev_hash" in (result.reason or "")


async def test_entry_rolls_back_with_the_change_it_describes(db: str) -> None:
    with pytest.raises(RuntimeError):
        async with transaction():
            await ledger.record("test.created", "thing:1", {"n": 1})
            raise RuntimeError("the change failed")
    assert await services.head() == services.Head(0, services.GENESIS_HASH, None)


@pytest.mark.parametrize(
    "payload",
    [
        {"phone": "x"},
        {"nested": {"display_name": "Aziz"}},
        {"note": "call +998 90 123 45 67"},
        {"note": "998901234567"},
        {"list": ["ok", "(90) 123-45-67"]},
        {"contact": "aziz@example.uz"},
        {"when": object()},
    ],
)
async def test_personal_data_is_refused(db: str, payload: dict[str, object]) -> None:
    with pytest.raises(services.LedgerError):
        await ledger.record("test.created", "thing:1", payload)
    assert (await services.head()).seq == 0


async def test_hashes_and_ids_are_not_mistaken_for_phone_numbers(db: str) -> None:
    payload = {"photo": "3f5a123456789012bc", "amount": 150_000_000, "code_of_region": "1703"}
    head = await ledger.record("test.created", "thing:123456789", payload)
    assert head.seq == 1


@pytest.mark.parametrize(
    ("kind", "subject"),
    [("Test.Created", "thing:1"), ("test created", "thing:1"), ("test.created", "thing 1"),
     ("", "thing:1"), ("test.created", "thing:1:2")],
)
async def test_kind_and_subject_are_checked(db: str, kind: str, subject: str) -> None:
    with pytest.raises(services.LedgerError):
        await ledger.record(kind, subject, {})


async def test_concurrent_writers_never_fork_the_chain(db: str) -> None:
    async def write(n: int) -> services.Head:
        async with transaction():
            return await ledger.record("test.counted", f"thing:{n}", {"n": n})

    heads = await asyncio.gather(*(write(n) for n in range(25)))

    assert sorted(head.seq for head in heads) == list(range(1, 26))
    result = await services.verify()
    assert result.intact and result.checked == 25
