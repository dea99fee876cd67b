"""What moderators watch over a petition's signatures: the count by mahalla (assisted ones
apart), addresses signing far above their share, and striking signatures out with a reason."""

from __future__ import annotations

import pytest

from ovoz.accounts.permissions import Grant, PermissionDenied, Role, StaffMember
from ovoz.petitions import services
from ovoz.petitions.tables import Invalidation, Signature
from tests.petitions.helpers import (
    BERUNIY,
    failure,
    ledger_entries,
    make_district_official,
    make_regional_moderator,
    make_residents,
)
from tests.reports.helpers import CHORTOQ, REGION_OF, make_staff_account

CAFE = "198.51.100.7"


async def clerk(mahalla_id: int) -> int:
    return await make_staff_account("kotiba", Grant(Role.MAHALLA_STAFF, REGION_OF[BERUNIY],
                                                    BERUNIY, mahalla_id))


@pytest.fixture
async def signed_from_a_cafe(open_id: int, mahallas: list[int]) -> list[int]:
    """Three residents sign from one address, two from their own homes."""
    people = await make_residents(5, mahallas[1], first=1000)
    for n, person in enumerate(people):
        await services.sign(open_id, person, address=CAFE if n < 3 else f"203.0.113.{n}")
    return people


# -- by mahalla ---------------------------------------------------------------------------------

async def test_signatures_by_mahalla_with_the_assisted_apart(open_id: int, mahallas: list[int]
                                                             ) -> None:
    staff_id = await clerk(mahallas[0])
    online = await make_residents(3, mahallas[0], first=1000)
    in_person = await make_residents(2, mahallas[0], first=1100)
    neighbours = await make_residents(4, mahallas[1], first=1200)
    for person in online + neighbours:
        await services.sign(open_id, person)
    for person in in_person:
        await services.sign(open_id, person, channel="assisted", assisted_by=staff_id,
                            paper_form="A-17")
    assert await services.by_mahalla(open_id) == [
        {"mahalla": mahallas[0], "signatures": 5, "assisted": 2},
        {"mahalla": mahallas[1], "signatures": 4, "assisted": 0},
    ]
    assert await services.count(open_id) == 9


async def test_by_mahalla_of_a_petition_without_signatures(open_id: int) -> None:
    assert await services.by_mahalla(open_id) == []


# -- anomalies ----------------------------------------------------------------------------------

async def test_an_address_signing_far_above_the_others_is_flagged(open_id: int,
                                                                  mahallas: list[int]) -> None:
    homes = await make_residents(10, mahallas[1], first=1000)
    for n, person in enumerate(homes):
        await services.sign(open_id, person, address=f"203.0.113.{n}")
    crowd = await make_residents(services.ANOMALY_MINIMUM, mahallas[2], first=2000)
    for person in crowd[:-1]:
        await services.sign(open_id, person, address=CAFE)
    # Nineteen is far above the average but under the minimum worth a moderator's time.
    assert [a for a in await services.anomalies(open_id) if a["kind"] == "address"] == []
    await services.sign(open_id, crowd[-1], address=CAFE)
    flagged = [a for a in await services.anomalies(open_id) if a["kind"] == "address"]
    assert flagged == [{"kind": "address", "key": services.digest(CAFE), "signatures": 20,
                        "average": round(30 / 11, 1)}]
    assert CAFE not in repr(await services.anomalies(open_id))


async def test_a_busy_address_is_not_flagged_when_others_are_as_busy(
        open_id: int, mahallas: list[int]) -> None:
    people = await make_residents(44, mahallas[1], first=1000)
    for n, person in enumerate(people):
        await services.sign(open_id, person, address=CAFE if n < 22 else "203.0.113.9")
    assert [a for a in await services.anomalies(open_id) if a["kind"] == "address"] == []


async def test_a_device_and_a_mahalla_far_above_their_share_are_flagged(
        open_id: int, mahallas: list[int]) -> None:
    for index in range(1, 9):
        [person] = await make_residents(1, mahallas[index], first=1000 + index)
        await services.sign(open_id, person, device=f"phone {index}")
    crowd = await make_residents(25, mahallas[0], first=2000)
    for person in crowd:
        await services.sign(open_id, person, device="one tablet")
    kinds = {(a["kind"], a["key"]) for a in await services.anomalies(open_id)}
    assert ("device", services.digest("one tablet")) in kinds
    assert ("mahalla", mahallas[0]) in kinds
    assert len(kinds) == 2


# -- invalidation -------------------------------------------------------------------------------

async def test_invalidation_strikes_the_addresses_signatures_and_corrects_the_count(
        open_id: int, signed_from_a_cafe: list[int], moderator: StaffMember,
        mahallas: list[int]) -> None:
    struck = await services.invalidate(moderator, open_id, "  Bir   kafedan   ketma-ket. ",
                                       address_digest=services.digest(CAFE))
    assert struck == 3
    assert await services.count(open_id) == 2
    [invalidation] = await Invalidation.select()
    assert (invalidation["petition"], invalidation["staff"], invalidation["reason"],
            invalidation["count"]) == (open_id, moderator.id, "Bir kafedan ketma-ket.", 3)
    rows = await Signature.select().where(Signature.petition == open_id).order_by(Signature.id)
    assert [(r["valid"], r["invalidation"]) for r in rows] == [
        (False, invalidation["id"])] * 3 + [(True, None)] * 2
    assert not await services.signed(open_id, signed_from_a_cafe[0])
    assert await services.signed(open_id, signed_from_a_cafe[4])
    assert await services.by_mahalla(open_id) == [
        {"mahalla": mahallas[1], "signatures": 2, "assisted": 0}]
    [entry] = await ledger_entries("petitions.signatures_invalidated", open_id)
    assert entry["payload"] == {"count": 3, "invalidation": invalidation["id"]}
    assert "kafe" not in entry["raw"]


async def test_a_second_invalidation_of_the_same_address_strikes_nothing_more(
        open_id: int, signed_from_a_cafe: list[int], moderator: StaffMember) -> None:
    await services.invalidate(moderator, open_id, "Bir kafedan.",
                              address_digest=services.digest(CAFE))
    assert await services.invalidate(moderator, open_id, "Yana bir bor.",
                                     address_digest=services.digest(CAFE)) == 0
    assert await services.count(open_id) == 2
    assert [r["count"] for r in await Invalidation.select().order_by(Invalidation.id)] == [3, 0]


async def test_invalidation_by_mahalla_and_by_device(open_id: int, mahallas: list[int],
                                                     moderator: StaffMember) -> None:
    here = await make_residents(3, mahallas[0], first=1000)
    there = await make_residents(2, mahallas[1], first=1100)
    for person in here:
        await services.sign(open_id, person, device="tablet")
    for person in there:
        await services.sign(open_id, person, device="tablet")
    assert await services.invalidate(moderator, open_id, "Mahalla bo‘yicha.",
                                     mahalla_id=mahallas[1]) == 2
    assert await services.invalidate(moderator, open_id, "Bitta planshet.",
                                     device_digest=services.digest("tablet")) == 3
    assert await services.count(open_id) == 0
    # Both conditions together strike only what matches both.
    others = await make_residents(2, mahallas[2], first=1200)
    await services.sign(open_id, others[0], device="phone")
    await services.sign(open_id, others[1], device="laptop")
    assert await services.invalidate(moderator, open_id, "Faqat telefon.",
                                     device_digest=services.digest("phone"),
                                     mahalla_id=mahallas[2]) == 1
    assert await services.count(open_id) == 1


async def test_invalidation_needs_the_moderate_permission_over_the_area(
        open_id: int, signed_from_a_cafe: list[int]) -> None:
    for staff in (await make_district_official(),
                  await make_regional_moderator("namangan", REGION_OF[CHORTOQ])):
        with pytest.raises(PermissionDenied):
            await services.invalidate(staff, open_id, "Shubhali.",
                                      address_digest=services.digest(CAFE))
    assert await services.count(open_id) == 5
    assert await Invalidation.select(Invalidation.id) == []
    assert await ledger_entries("petitions.signatures_invalidated") == []
    karakalpak = await make_regional_moderator("qoraqalpoq", REGION_OF[BERUNIY])
    assert await services.invalidate(karakalpak, open_id, "Shubhali.",
                                     address_digest=services.digest(CAFE)) == 3


async def test_invalidation_needs_a_reason_and_a_target(
        open_id: int, signed_from_a_cafe: list[int], moderator: StaffMember) -> None:
    error = await failure(services.invalidate(moderator, open_id, "   \n ",
                                              address_digest=services.digest(CAFE)))
    assert (error.code, error.field) == ("note_required", "reason")
    assert (await failure(services.invalidate(moderator, open_id, "Shubhali."))).code == (
        "bad_invalidation")
    assert (await failure(services.invalidate(moderator, open_id + 1000, "Shubhali.",
                                              address_digest="x"))).code == "not_found"
    assert await services.count(open_id) == 5
    assert await Invalidation.select(Invalidation.id) == []


async def test_invalidation_only_while_signatures_are_collected(
        open_id: int, signed_from_a_cafe: list[int], moderator: StaffMember, author: int
) -> None:
    await services.withdraw(author, open_id)
    error = await failure(services.invalidate(moderator, open_id, "Shubhali.",
                                              address_digest=services.digest(CAFE)))
    assert error.code == "not_signable"
    assert await services.count(open_id) == 5
    assert await Invalidation.select(Invalidation.id) == []
