"""Signing: who may, when, once per person whatever the timing; the sharded count stays exact;
the threshold is crossed once and the addressee's officials are told; limits per account and
per address; a signer or the author may take it back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ovoz.accountability import clock
from ovoz.accountability import services as accountability
from ovoz.accounts.permissions import Grant, Role, StaffMember
from ovoz.accounts.tables import Resident, RoleGrant
from ovoz.notify import services as notify
from ovoz.petitions import services
from ovoz.petitions.services import PetitionError
from ovoz.petitions.tables import PetitionCount, Signature
from tests.petitions.conftest import Configure
from tests.petitions.helpers import (
    BERUNIY,
    district_petition,
    failure,
    ledger_entries,
    mahalla_petition,
    make_department_official,
    make_district_official,
    make_residents,
    make_verified,
    open_petition,
    outbox,
    petition_row,
    recipients,
    set_petition,
)
from tests.reports.helpers import CHORTOQ, REGION_OF, make_staff_account
from tests.reports.service_helpers import mahalla_id


async def signatures(petition_id: int) -> int:
    return await Signature.count().where((Signature.petition == petition_id)
                                         & (Signature.valid == True))  # noqa: E712


async def resident_row(resident_id: int) -> dict[str, Any]:
    row = await Resident.select().where(Resident.id == resident_id).first()
    assert row is not None
    return row


@pytest.fixture
async def low_threshold(author: int, backers: list[int], moderator: StaffMember,
                        configure: Configure) -> int:
    """An open petition to Beruniy's hokimiyat that needs 3 signatures, answered in 20 days."""
    configure(levels={"district_hokimiyat": {"threshold": 3, "response_days": 20}})
    return await open_petition(author, backers, moderator)


# -- who may sign

async def test_a_resident_with_a_verified_phone_and_a_home_in_the_area_signs(
        open_id: int, mahallas: list[int]) -> None:
    # Signing asks less than starting: no residence confirmation, only the phone.
    [signer] = await make_residents(1, mahallas[3], first=1000, residence=False)
    assert await services.eligibility(await petition_row(open_id),
                                      await resident_row(signer)) is None
    assert await services.sign(open_id, signer) == 1
    assert await services.signed(open_id, signer)
    row = await Signature.select().where(Signature.resident == signer).first()
    assert (row["mahalla"], row["channel"], row["valid"]) == (mahallas[3], "web", True)
    assert signer in await notify.followers(services.subject(open_id))


async def test_an_unverified_phone_is_refused(open_id: int, mahallas: list[int]) -> None:
    [signer] = await make_residents(1, mahallas[0], first=1000)
    # Neither a confirmed phone nor a residence the mahalla confirmed.
    await Resident.update({Resident.phone_verified_at: None,
                           Resident.residence_confirmed_at: None}).where(Resident.id == signer)
    assert (await failure(services.sign(open_id, signer))).code == "not_verified"
    assert await services.eligibility(await petition_row(open_id),
                                      await resident_row(signer)) == "not_verified"
    assert await signatures(open_id) == 0 and await services.count(open_id) == 0


async def test_no_home_mahalla_is_refused(open_id: int, mahallas: list[int]) -> None:
    [signer] = await make_residents(1, mahallas[0], first=1000)
    await Resident.update({Resident.mahalla: None}).where(Resident.id == signer)
    assert (await failure(services.sign(open_id, signer))).code == "no_home"
    assert await signatures(open_id) == 0


async def test_a_home_outside_the_area_is_refused(open_id: int, mahallas: list[int]) -> None:
    outsider = await make_verified(1000, await mahalla_id(CHORTOQ, "Bahor MFY"))
    assert (await failure(services.sign(open_id, outsider))).code == "outside_area"
    assert await signatures(open_id) == 0
    assert outsider not in await notify.followers(services.subject(open_id))


async def test_a_mahalla_petition_is_signed_by_that_mahalla_only(
        author: int, backers: list[int], moderator: StaffMember, mahallas: list[int]
) -> None:
    petition_id = await open_petition(author, backers, moderator, mahalla_petition(mahallas[0]))
    [local] = await make_residents(1, mahallas[0], first=1000)
    [neighbour] = await make_residents(1, mahallas[1], first=1001)
    assert await services.sign(petition_id, local) == 1
    assert (await failure(services.sign(petition_id, neighbour))).code == "outside_area"


async def test_an_unknown_signer_or_petition_is_not_found(open_id: int, mahallas: list[int]
                                                          ) -> None:
    [signer] = await make_residents(1, mahallas[0], first=1000)
    assert (await failure(services.sign(open_id + 1000, signer))).code == "not_found"
    assert (await failure(services.sign(open_id, 999_999))).code == "not_found"


# -- when

async def test_only_open_petitions_are_signed(open_id: int, mahallas: list[int]) -> None:
    [signer] = await make_residents(1, mahallas[0], first=1000)
    for status in ("draft", "seeking_sponsors", "in_moderation", "responded", "closed",
                   "rejected", "expired", "withdrawn", "lapsed"):
        await set_petition(open_id, status=status)
        assert (await failure(services.sign(open_id, signer))).code == "not_signable", status
    assert await signatures(open_id) == 0


async def test_signing_goes_on_after_the_threshold_until_the_window_ends(
        open_id: int, mahallas: list[int]) -> None:
    first, second = await make_residents(2, mahallas[0], first=1000)
    await set_petition(open_id, status="threshold_reached")
    assert await services.sign(open_id, first) == 1
    await set_petition(open_id, closes_at=datetime.now(UTC) - timedelta(seconds=1))
    assert (await failure(services.sign(open_id, second))).code == "not_signable"


async def test_no_signing_once_the_window_has_ended_even_before_the_nightly_job(
        open_id: int, mahallas: list[int]) -> None:
    [signer] = await make_residents(1, mahallas[0], first=1000)
    await set_petition(open_id, closes_at=datetime.now(UTC) - timedelta(seconds=1))
    assert (await petition_row(open_id))["status"] == "open"
    assert (await failure(services.sign(open_id, signer))).code == "not_signable"


# -- once per person, and the count -------------------------------------------------------------

async def test_a_second_signature_is_refused(open_id: int, mahallas: list[int]) -> None:
    [signer] = await make_residents(1, mahallas[0], first=1000)
    await services.sign(open_id, signer)
    assert (await failure(services.sign(open_id, signer))).code == "already_signed"
    assert await services.count(open_id) == 1 and await signatures(open_id) == 1


async def test_the_count_is_the_sum_of_the_shards(open_id: int, mahallas: list[int]) -> None:
    people = await make_residents(40, mahallas[1], first=1000)
    totals = [await services.sign(open_id, person) for person in people]
    assert totals == list(range(1, 41))
    shards = await PetitionCount.select().where(PetitionCount.petition == open_id)
    # 40 signatures spread over 16 shards: many rows, none a hot spot for every signer.
    assert 1 < len(shards) <= services.SHARDS
    assert sum(s["signatures"] for s in shards) == 40 == await signatures(open_id)
    assert await services.count(open_id) == 40
    assert await services.counts([open_id, open_id + 1000]) == {open_id: 40}
    assert await services.counts([]) == {}


async def test_thirty_residents_at_once_count_thirty(open_id: int, mahallas: list[int]) -> None:
    people = [*await make_residents(15, mahallas[1], first=1000),
              *await make_residents(15, mahallas[2], first=2000)]
    totals = await asyncio.gather(*(services.sign(open_id, p) for p in people))
    # Each sees the count after its own signature, with whatever others committed meanwhile.
    assert max(totals) == 30 and min(totals) >= 1
    assert await services.count(open_id) == 30 == await signatures(open_id)
    assert set(people) <= set(await notify.followers(services.subject(open_id)))


async def test_one_resident_five_times_at_once_counts_once(open_id: int, mahallas: list[int]
                                                           ) -> None:
    [signer] = await make_residents(1, mahallas[0], first=1000)
    outcomes = await asyncio.gather(*(services.sign(open_id, signer) for _ in range(5)),
                                    return_exceptions=True)
    assert outcomes.count(1) == 1, outcomes
    assert [o.code for o in outcomes if isinstance(o, PetitionError)] == ["already_signed"] * 4
    assert await services.count(open_id) == 1 == await signatures(open_id)


# -- the threshold

async def test_reaching_the_threshold_starts_the_answer_deadline(
        low_threshold: int, mahallas: list[int], official: StaffMember) -> None:
    people = await make_residents(4, mahallas[0], first=1000)
    await services.sign(low_threshold, people[0])
    await services.sign(low_threshold, people[1])
    assert (await petition_row(low_threshold))["status"] == "open"
    assert await services.sign(low_threshold, people[2]) == 3
    row = await petition_row(low_threshold)
    assert row["status"] == "threshold_reached"
    assert row["response_due_at"] == clock.due_after(row["threshold_reached_at"], days=20)
    obligation = await accountability.obligation(accountability.PETITION, low_threshold)
    assert obligation is not None and obligation["due_at"] == row["response_due_at"]
    [entry] = await ledger_entries("petitions.threshold_reached", low_threshold)
    assert datetime.fromisoformat(entry["payload"]["response_due_at"]) == row["response_due_at"]
    assert set(entry["payload"]) == {"response_due_at"}
    # More signatures afterwards change nothing but the count.
    assert await services.sign(low_threshold, people[3]) == 4
    assert await petition_row(low_threshold) == row
    assert len(await ledger_entries("petitions.threshold_reached")) == 1
    assert [m["recipient_id"] for m in await outbox("petition.threshold_reached")] == [
        official.id]


async def test_the_districts_officials_are_told_and_no_one_else(
        low_threshold: int, mahallas: list[int], official: StaffMember) -> None:
    second = await make_district_official("hokim_orinbosari")
    department = await make_department_official()
    elsewhere = await make_district_official("chortoq", CHORTOQ)
    revoked = await make_district_official("sobiq")
    await RoleGrant.update({RoleGrant.revoked_at: datetime.now(UTC)}).where(
        RoleGrant.staff == revoked.id)
    for person in await make_residents(3, mahallas[0], first=1000):
        await services.sign(low_threshold, person)
    messages = await outbox("petition.threshold_reached")
    assert {m["recipient_id"] for m in messages} == {official.id, second.id}
    assert {m["recipient_kind"] for m in messages} == {"staff"}
    assert not {department.id, elsewhere.id, revoked.id} & {m["recipient_id"] for m in messages}
    row = await petition_row(low_threshold)
    for message in messages:
        assert row["title"] in message["payload"]
        assert services.link(low_threshold) in message["payload"]
    # Residents hear of the answer, not of the threshold.
    assert await recipients("petition.threshold_reached") == set()


async def test_answering_staff_of_an_area(mahallas: list[int], official: StaffMember
                                          ) -> None:
    await make_department_official()
    chortoq = await make_district_official("chortoq", CHORTOQ)
    beruniy = services.Area(REGION_OF[BERUNIY], BERUNIY, None)
    assert await services.answering_staff(beruniy) == [official.id]
    assert await services.answering_staff(services.Area(REGION_OF[BERUNIY], BERUNIY,
                                                        mahallas[0])) == [official.id]
    assert await services.answering_staff(services.Area(REGION_OF[CHORTOQ], CHORTOQ,
                                                        None)) == [chortoq.id]
    # A moderator or mahalla staff member is not an addressee.
    await make_staff_account("moderator_q", Grant(Role.MODERATOR, REGION_OF[BERUNIY]))
    await make_staff_account("mahalla_xodimi", Grant(Role.MAHALLA_STAFF, REGION_OF[BERUNIY],
                                                     BERUNIY, mahallas[0]))
    assert await services.answering_staff(beruniy) == [official.id]


async def test_signers_crossing_the_threshold_together_move_it_once(
        author: int, backers: list[int], moderator: StaffMember, mahallas: list[int],
        official: StaffMember, configure: Configure) -> None:
    configure(levels={"district_hokimiyat": {"threshold": 10}})
    petition_id = await open_petition(author, backers, moderator)
    people = await make_residents(14, mahallas[1], first=1000)
    for person in people[:8]:
        await services.sign(petition_id, person)
    totals = await asyncio.gather(*(services.sign(petition_id, p) for p in people[8:]))
    assert max(totals) == 14 and min(totals) >= 9
    row = await petition_row(petition_id)
    assert row["status"] == "threshold_reached"
    assert len(await ledger_entries("petitions.threshold_reached", petition_id)) == 1
    assert [m["recipient_id"] for m in await outbox("petition.threshold_reached")] == [
        official.id]


async def test_a_threshold_reached_by_everyone_at_once_moves_it_once(
        author: int, backers: list[int], moderator: StaffMember, mahallas: list[int],
        configure: Configure) -> None:
    configure(levels={"district_hokimiyat": {"threshold": 5}})
    petition_id = await open_petition(author, backers, moderator)
    people = await make_residents(5, mahallas[1], first=1000)
    await asyncio.gather(*(services.sign(petition_id, p) for p in people))
    assert (await petition_row(petition_id))["status"] == "threshold_reached"
    assert len(await ledger_entries("petitions.threshold_reached", petition_id)) == 1


# -- limits

async def test_an_account_signing_too_many_petitions_is_stopped(
        author: int, backers: list[int], moderator: StaffMember, mahallas: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "SIGNATURES_PER_ACCOUNT", 3)
    petitions = [await open_petition(author, backers, moderator,
                                     district_petition(f"Maktab qurilsin, {n}-raqamli"))
                 for n in range(4)]
    [signer] = await make_residents(1, mahallas[0], first=1000)
    for petition_id in petitions[:3]:
        assert await services.sign(petition_id, signer) == 1
    error = await failure(services.sign(petitions[3], signer))
    assert error.code == "too_many"
    assert 0 < error.retry_after <= 600
    assert await services.count(petitions[3]) == 0 and await signatures(petitions[3]) == 0
    # Another account is not held back by this one.
    [other] = await make_residents(1, mahallas[0], first=1001)
    assert await services.sign(petitions[3], other) == 1


async def test_one_address_signing_for_many_accounts_is_stopped(
        open_id: int, mahallas: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "SIGNATURES_PER_ADDRESS", 3)
    people = await make_residents(5, mahallas[0], first=1000)
    for person in people[:3]:
        await services.sign(open_id, person, address="198.51.100.7")
    error = await failure(services.sign(open_id, people[3], address="198.51.100.7"))
    assert error.code == "too_many" and 0 < error.retry_after <= 600
    assert await services.sign(open_id, people[3], address="198.51.100.8") == 4
    assert await services.count(open_id) == 4


async def test_assisted_signing_at_the_mahalla_office_is_not_rate_limited(
        open_id: int, mahallas: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "SIGNATURES_PER_ADDRESS", 2)
    clerk = await make_staff_account("kotiba", Grant(Role.MAHALLA_STAFF, REGION_OF[BERUNIY],
                                                     BERUNIY, mahallas[0]))
    people = await make_residents(4, mahallas[0], first=1000)
    for person in people:
        await services.sign(open_id, person, channel="assisted", address="203.0.113.5",
                            assisted_by=clerk, paper_form="B-0042")
    assert await services.count(open_id) == 4
    rows = await Signature.select().where(Signature.petition == open_id)
    assert {(r["channel"], r["assisted_by"], r["paper_form"]) for r in rows} == {
        ("assisted", clerk, "B-0042")}


async def test_the_address_and_device_are_kept_only_as_keyed_digests(
        open_id: int, mahallas: list[int]) -> None:
    [signer] = await make_residents(1, mahallas[0], first=1000)
    await services.sign(open_id, signer, address="198.51.100.7", device="Mozilla/5.0 Android")
    row = await Signature.select().where(Signature.resident == signer).first()
    assert row["address_digest"] == services.digest("198.51.100.7")
    assert row["device_digest"] == services.digest("Mozilla/5.0 Android")
    assert len(row["address_digest"]) == 16 and "198" not in row["address_digest"]
    assert services.digest("") == ""


# -- taking it back

async def test_a_signer_withdraws_while_it_is_open(open_id: int, mahallas: list[int]) -> None:
    first, second = await make_residents(2, mahallas[0], first=1000)
    await services.sign(open_id, first)
    await services.sign(open_id, second)
    await services.withdraw_signature(open_id, first)
    assert await services.count(open_id) == 1 == await signatures(open_id)
    assert not await services.signed(open_id, first)
    assert (await failure(services.withdraw_signature(open_id, first))).code == "not_signed"
    assert await services.count(open_id) == 1


async def test_no_withdrawing_a_signature_after_the_threshold(
        low_threshold: int, mahallas: list[int]) -> None:
    people = await make_residents(3, mahallas[0], first=1000)
    for person in people:
        await services.sign(low_threshold, person)
    error = await failure(services.withdraw_signature(low_threshold, people[0]))
    assert error.code == "not_signable"
    assert await services.count(low_threshold) == 3 and await services.signed(low_threshold,
                                                                             people[0])


async def test_withdrawing_a_signature_of_an_unknown_petition(open_id: int, mahallas: list[int]
                                                               ) -> None:
    [signer] = await make_residents(1, mahallas[0], first=1000)
    assert (await failure(services.withdraw_signature(open_id + 1000, signer))).code == (
        "not_found")


async def test_the_author_withdraws_before_the_threshold(open_id: int, author: int,
                                                         mahallas: list[int]) -> None:
    signer, latecomer = await make_residents(2, mahallas[0], first=1000)
    await services.sign(open_id, signer)
    await services.withdraw(author, open_id)
    row = await petition_row(open_id)
    assert row["status"] == "withdrawn" and row["closed_at"] is not None
    assert len(await ledger_entries("petitions.withdrawn", open_id)) == 1
    assert (await failure(services.sign(open_id, latecomer))).code == "not_signable"


async def test_only_the_author_withdraws_and_not_after_the_threshold(
        low_threshold: int, author: int, mahallas: list[int]) -> None:
    people = await make_residents(3, mahallas[0], first=1000)
    assert (await failure(services.withdraw(people[0], low_threshold))).code == "not_author"
    for person in people:
        await services.sign(low_threshold, person)
    assert (await failure(services.withdraw(author, low_threshold))).code == "cannot_withdraw"
    assert (await petition_row(low_threshold))["status"] == "threshold_reached"
    assert await ledger_entries("petitions.withdrawn") == []


async def test_a_draft_is_withdrawn_without_a_ledger_entry(author: int, draft_id: int) -> None:
    await services.withdraw(author, draft_id)
    assert (await petition_row(draft_id))["status"] == "withdrawn"
    assert await ledger_entries("petitions.withdrawn") == []
    assert (await failure(services.withdraw(author, draft_id))).code == "cannot_withdraw"
