"""Sponsors vouch for a petition, moderators open or refuse it, the author may try once more;
every step is in the ledger and the followers hear of the outcome."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta

import pytest

from ovoz.accounts.permissions import PermissionDenied, StaffMember
from ovoz.accounts.tables import Resident
from ovoz.geo.tables import Mahalla
from ovoz.ledger.tables import LedgerEntry
from ovoz.notify import services as notify
from ovoz.petitions import services
from ovoz.petitions.services import PetitionError
from ovoz.petitions.tables import Sponsor
from tests.petitions.conftest import Configure
from tests.petitions.helpers import (
    BERUNIY,
    district_petition,
    failure,
    ledger_entries,
    mahalla_petition,
    make_district_official,
    make_regional_moderator,
    make_residents,
    make_verified,
    outbox,
    petition_row,
    recipients,
    set_petition,
    to_moderation,
)
from tests.reports.helpers import CHORTOQ, REGION_OF
from tests.reports.service_helpers import mahalla_id


@pytest.fixture
async def seeking_id(author: int, draft_id: int) -> int:
    await services.seek_sponsors(author, draft_id)
    return draft_id


@pytest.fixture
async def moderated_id(author: int, draft_id: int, backers: list[int]) -> int:
    await to_moderation(author, draft_id, backers)
    return draft_id


# -- sponsors -----------------------------------------------------------------------------------

async def test_four_sponsors_wait_and_the_fifth_sends_it_to_moderation(
        seeking_id: int, backers: list[int]) -> None:
    for backer in backers[:4]:
        assert await services.sponsor(seeking_id, backer) is False
        assert (await petition_row(seeking_id))["status"] == "seeking_sponsors"
    assert await services.sponsor(seeking_id, backers[4]) is True
    row = await petition_row(seeking_id)
    assert row["status"] == "in_moderation" and row["moderation_rounds"] == 1
    assert row["moderation_requested_at"] is not None
    assert await services.sponsors(seeking_id) == 5
    [entry] = await ledger_entries("petitions.in_moderation", seeking_id)
    assert entry["payload"] == {"round": 1}
    assert [p["id"] for p in await services.moderation_queue()] == [seeking_id]


async def test_sponsors_follow_the_petition(seeking_id: int, author: int, backers: list[int]
                                            ) -> None:
    await services.sponsor(seeking_id, backers[0])
    assert set(await notify.followers(services.subject(seeking_id))) == {author, backers[0]}


async def test_the_number_of_sponsors_comes_from_settings(
        author: int, draft_id: int, backers: list[int], configure: Configure) -> None:
    configure(OVOZ_PETITION_SPONSORS="2")
    await services.seek_sponsors(author, draft_id)
    assert await services.sponsor(draft_id, backers[0]) is False
    assert await services.sponsor(draft_id, backers[1]) is True
    assert (await petition_row(draft_id))["status"] == "in_moderation"


async def test_a_sponsor_is_verified_phone_only_is_not_enough(seeking_id: int,
                                                              mahallas: list[int]) -> None:
    phone_only = await make_verified(60, mahallas[0], residence=False)
    assert (await failure(services.sponsor(seeking_id, phone_only))).code == "not_verified"
    oneid = await make_verified(61, mahallas[0], residence=False)
    await Resident.update({Resident.oneid_verified_at: datetime.now(UTC)}).where(
        Resident.id == oneid)
    assert await services.sponsor(seeking_id, oneid) is False
    assert await services.sponsors(seeking_id) == 1


async def test_a_sponsor_lives_in_the_addressees_area(seeking_id: int, mahallas: list[int]
                                                      ) -> None:
    outsider = await make_verified(60, await mahalla_id(CHORTOQ, "Bahor MFY"))
    assert (await failure(services.sponsor(seeking_id, outsider))).code == "outside_area"
    homeless = await make_verified(61, mahallas[0])
    await Resident.update({Resident.mahalla: None}).where(Resident.id == homeless)
    assert (await failure(services.sponsor(seeking_id, homeless))).code == "no_home"
    assert await services.sponsors(seeking_id) == 0
    assert outsider not in await notify.followers(services.subject(seeking_id))


async def test_a_mahalla_petition_takes_sponsors_of_that_mahalla_only(
        author: int, mahallas: list[int]) -> None:
    petition_id = await services.create_draft(author, mahalla_petition(mahallas[0]))
    await services.seek_sponsors(author, petition_id)
    [neighbour] = await make_residents(1, mahallas[1], first=60)
    assert (await failure(services.sponsor(petition_id, neighbour))).code == "outside_area"
    [local] = await make_residents(1, mahallas[0], first=70)
    assert await services.sponsor(petition_id, local) is False


async def test_the_author_does_not_sponsor_their_own(seeking_id: int, author: int) -> None:
    assert (await failure(services.sponsor(seeking_id, author))).code == "own_petition"
    assert await services.sponsors(seeking_id) == 0


async def test_only_while_seeking_sponsors(draft_id: int, backers: list[int]) -> None:
    assert (await failure(services.sponsor(draft_id, backers[0]))).code == "not_seeking"
    assert (await failure(services.sponsor(draft_id + 1000, backers[0]))).code == "not_found"
    await set_petition(draft_id, status="open")
    assert (await failure(services.sponsor(draft_id, backers[0]))).code == "not_seeking"
    assert await Sponsor.count() == 0


async def test_a_sixth_sponsor_comes_too_late(moderated_id: int, mahallas: list[int]) -> None:
    [late] = await make_residents(1, mahallas[0], first=60)
    assert (await failure(services.sponsor(moderated_id, late))).code == "not_seeking"
    assert await services.sponsors(moderated_id) == 5


async def test_each_resident_sponsors_once(seeking_id: int, backers: list[int]) -> None:
    await services.sponsor(seeking_id, backers[0])
    assert (await failure(services.sponsor(seeking_id, backers[0]))).code == "already_sponsored"
    assert await services.sponsors(seeking_id) == 1


async def test_the_same_resident_five_times_at_once_sponsors_once(seeking_id: int,
                                                                  backers: list[int]) -> None:
    outcomes = await asyncio.gather(*(services.sponsor(seeking_id, backers[0])
                                      for _ in range(5)), return_exceptions=True)
    assert outcomes.count(False) == 1
    codes = [o.code for o in outcomes if isinstance(o, PetitionError)]
    assert codes == ["already_sponsored"] * 4, outcomes
    assert await services.sponsors(seeking_id) == 1


@pytest.fixture
def busy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pause after a sponsor's transaction counts the sponsors, as on a busy server, so two
    sponsors arriving together each count before the other commits."""
    count = services.sponsors

    async def slow_count(petition_id: int) -> int:
        counted = await count(petition_id)
        await asyncio.sleep(0.05)
        return counted

    monkeypatch.setattr(services, "sponsors", slow_count)


@pytest.mark.usefixtures("busy")
async def test_the_last_two_sponsoring_at_once_send_it_to_moderation_once(
        seeking_id: int, backers: list[int]) -> None:
    for backer in backers[:3]:
        await services.sponsor(seeking_id, backer)
    outcomes = await asyncio.gather(services.sponsor(seeking_id, backers[3]),
                                    services.sponsor(seeking_id, backers[4]),
                                    return_exceptions=True)
    assert sorted(outcomes, key=str) == [False, True], outcomes
    assert await services.sponsors(seeking_id) == 5
    row = await petition_row(seeking_id)
    assert (row["status"], row["moderation_rounds"]) == ("in_moderation", 1)
    assert len(await ledger_entries("petitions.in_moderation", seeking_id)) == 1


@pytest.mark.usefixtures("busy")
async def test_one_more_sponsor_than_needed_at_once_moves_it_once(
        seeking_id: int, backers: list[int], mahallas: list[int]) -> None:
    [sixth] = await make_residents(1, mahallas[0], first=60)
    for backer in backers[:4]:
        await services.sponsor(seeking_id, backer)
    outcomes = await asyncio.gather(services.sponsor(seeking_id, backers[4]),
                                    services.sponsor(seeking_id, sixth),
                                    return_exceptions=True)
    assert outcomes.count(True) == 1, outcomes
    row = await petition_row(seeking_id)
    assert (row["status"], row["moderation_rounds"]) == ("in_moderation", 1)
    assert len(await ledger_entries("petitions.in_moderation", seeking_id)) == 1


# -- moderation: who ----------------------------------------------------------------------------

async def test_moderation_needs_the_permission_over_the_area(moderated_id: int) -> None:
    namangan = await make_regional_moderator("namangan", REGION_OF[CHORTOQ])
    hokim = await make_district_official()
    for staff in (namangan, hokim):
        with pytest.raises(PermissionDenied):
            await services.moderate(staff, moderated_id, True)
        with pytest.raises(PermissionDenied):
            await services.moderate(staff, moderated_id, False, "insult")
    assert (await petition_row(moderated_id))["status"] == "in_moderation"
    karakalpak = await make_regional_moderator("qoraqalpoq", REGION_OF[BERUNIY])
    await services.moderate(karakalpak, moderated_id, True)
    assert (await petition_row(moderated_id))["status"] == "open"


async def test_only_a_petition_in_moderation_is_moderated(
        draft_id: int, moderator: StaffMember) -> None:
    assert (await failure(services.moderate(moderator, draft_id, True))).code == (
        "not_in_moderation")
    assert (await failure(services.moderate(moderator, draft_id + 1000, True))).code == (
        "not_found")
    assert (await petition_row(draft_id))["status"] == "draft"


async def test_two_moderators_deciding_at_once_make_one_decision(
        moderated_id: int, moderator: StaffMember, monkeypatch: pytest.MonkeyPatch) -> None:
    second = await make_regional_moderator("qoraqalpoq", REGION_OF[BERUNIY])
    read = services.petition

    async def slow_read(petition_id: int) -> dict[str, object] | None:
        # As on a busy server: each reads the petition before the other has written.
        row = await read(petition_id)
        await asyncio.sleep(0.05)
        return row

    monkeypatch.setattr(services, "petition", slow_read)
    outcomes = await asyncio.gather(services.moderate(moderator, moderated_id, True),
                                    services.moderate(second, moderated_id, False, "insult"),
                                    return_exceptions=True)
    assert [o.code for o in outcomes if isinstance(o, PetitionError)] == ["not_in_moderation"]
    opened = await ledger_entries("petitions.opened")
    rejected = await ledger_entries("petitions.rejected")
    assert len(opened) + len(rejected) == 1
    assert (await petition_row(moderated_id))["status"] == ("open" if opened else "rejected")
    assert not (await outbox("petition.opened") and await outbox("petition.rejected"))


# -- moderation: approval -----------------------------------------------------------------------

async def test_approval_opens_it_with_the_levels_window_and_threshold(
        author: int, draft_id: int, backers: list[int], moderator: StaffMember,
        configure: Configure) -> None:
    configure(levels={"district_hokimiyat": {"threshold": 250, "window_days": 45}})
    await to_moderation(author, draft_id, backers)
    await services.moderate(moderator, draft_id, True)
    row = await petition_row(draft_id)
    assert row["status"] == "open" and row["threshold"] == 250
    assert row["opened_at"] is not None and row["moderated_at"] == row["opened_at"]
    assert row["closes_at"] - row["opened_at"] == timedelta(days=45)
    assert row["opened_at"] >= row["moderation_requested_at"]
    [entry] = await ledger_entries("petitions.opened", draft_id)
    assert entry["payload"] == {"threshold": 250}


async def test_the_default_threshold_of_a_district_hokimiyat(moderated_id: int,
                                                             moderator: StaffMember) -> None:
    await services.moderate(moderator, moderated_id, True)
    row = await petition_row(moderated_id)
    assert row["threshold"] == 1000
    assert row["closes_at"] - row["opened_at"] == timedelta(days=90)


async def beruniy_population(mahalla_ids: list[int]) -> int:
    rows = await Mahalla.select(Mahalla.population).where(Mahalla.id.is_in(mahalla_ids))
    return sum(row["population"] for row in rows)


async def test_a_share_of_the_population_where_every_mahalla_has_one(
        author: int, draft_id: int, backers: list[int], moderator: StaffMember,
        mahallas: list[int], configure: Configure) -> None:
    configure(levels={"district_hokimiyat": {"threshold": 999, "population_percent": 1.5}})
    await to_moderation(author, draft_id, backers)
    await services.moderate(moderator, draft_id, True)
    expected = math.ceil(await beruniy_population(mahallas) * 1.5 / 100)
    assert expected != 999
    assert (await petition_row(draft_id))["threshold"] == expected
    [entry] = await ledger_entries("petitions.opened", draft_id)
    assert entry["payload"] == {"threshold": expected}


async def test_a_mahalla_petitions_share_counts_that_mahalla_only(
        mahallas: list[int], configure: Configure) -> None:
    configure(levels={"mahalla": {"threshold": 80, "population_percent": 2}})
    area = await services.addressee_area("mahalla", mahallas[0])
    assert await services.threshold_for("mahalla", area) == math.ceil(
        await beruniy_population(mahallas[:1]) * 2 / 100)
    region = await services.addressee_area("regional_hokimiyat", REGION_OF[BERUNIY])
    # Only Beruniy's demo mahallas are loaded in Karakalpakstan, all with a population.
    assert await services.threshold_for("regional_hokimiyat", region) == 5000
    configure(levels={"regional_hokimiyat": {"threshold": 5000, "population_percent": 1}})
    assert await services.threshold_for("regional_hokimiyat", region) == math.ceil(
        await beruniy_population(mahallas) / 100)


async def test_the_fixed_number_when_a_mahalla_of_the_area_has_no_population(
        author: int, draft_id: int, backers: list[int], moderator: StaffMember,
        mahallas: list[int], configure: Configure) -> None:
    configure(levels={"district_hokimiyat": {"threshold": 999, "population_percent": 1.5}})
    await Mahalla.update({Mahalla.population: None}).where(Mahalla.id == mahallas[-1])
    await to_moderation(author, draft_id, backers)
    await services.moderate(moderator, draft_id, True)
    assert (await petition_row(draft_id))["threshold"] == 999


# -- moderation: refusal ------------------------------------------------------------------------

async def test_a_refusal_needs_a_reason_from_the_list(moderated_id: int,
                                                      moderator: StaffMember) -> None:
    for reason in ("", "rude", "Insult"):
        error = await failure(services.moderate(moderator, moderated_id, False, reason,
                                                "Yomon."))
        assert (error.code, error.field) == ("bad_reason", "reason")
    assert (await petition_row(moderated_id))["status"] == "in_moderation"
    assert await ledger_entries("petitions.rejected") == []


async def test_a_refusal_records_the_reason_and_the_note(moderated_id: int,
                                                         moderator: StaffMember) -> None:
    await services.moderate(moderator, moderated_id, False, "competence",
                            "  Bu   viloyat   hokimligining   vakolatida. ")
    row = await petition_row(moderated_id)
    assert (row["status"], row["rejection_reason"], row["rejection_note"]) == (
        "rejected", "competence", "Bu viloyat hokimligining vakolatida.")
    assert row["moderated_at"] is not None and row["opened_at"] is None
    assert row["duplicate_of"] is None
    [entry] = await ledger_entries("petitions.rejected", moderated_id)
    assert entry["payload"] == {"reason": "competence"}
    assert "vakolat" not in entry["raw"]


async def test_a_duplicate_names_another_existing_petition(
        author: int, moderated_id: int, moderator: StaffMember) -> None:
    for duplicate_of in (None, moderated_id, moderated_id + 1000):
        error = await failure(services.moderate(moderator, moderated_id, False, "duplicate",
                                                duplicate_of=duplicate_of))
        assert (error.code, error.field) == ("unknown_duplicate", "duplicate_of")
    assert (await petition_row(moderated_id))["status"] == "in_moderation"
    original = await services.create_draft(author, district_petition("Maktab qurilsin, bu asl"))
    await services.moderate(moderator, moderated_id, False, "duplicate", duplicate_of=original)
    row = await petition_row(moderated_id)
    assert (row["status"], row["rejection_reason"], row["duplicate_of"]) == (
        "rejected", "duplicate", original)


async def test_duplicate_of_is_kept_only_for_the_duplicate_reason(
        author: int, moderated_id: int, moderator: StaffMember) -> None:
    other = await services.create_draft(author, district_petition("Maktab qurilsin, bu boshqa"))
    await services.moderate(moderator, moderated_id, False, "insult", duplicate_of=other)
    assert (await petition_row(moderated_id))["duplicate_of"] is None


# -- resubmission -------------------------------------------------------------------------------

async def test_the_author_edits_and_resubmits_once_after_a_refusal(
        author: int, moderated_id: int, moderator: StaffMember) -> None:
    await services.moderate(moderator, moderated_id, False, "insult", "Haqoratli so‘z bor.")
    assert services.can_edit(await petition_row(moderated_id))
    await services.edit(author, moderated_id, district_petition("Qishloqqa maktab kerak, hurmat"))
    await services.resubmit(author, moderated_id)
    row = await petition_row(moderated_id)
    assert (row["status"], row["moderation_rounds"], row["title"]) == (
        "in_moderation", 2, "Qishloqqa maktab kerak, hurmat")
    assert [e["payload"] for e in await ledger_entries("petitions.in_moderation",
                                                       moderated_id)] == [{"round": 1},
                                                                          {"round": 2}]
    await services.moderate(moderator, moderated_id, False, "insult", "Yana o‘sha.")
    row = await petition_row(moderated_id)
    assert row["status"] == "rejected" and not services.can_edit(row)
    assert (await failure(services.resubmit(author, moderated_id))).code == "not_editable"
    assert (await failure(services.edit(author, moderated_id, district_petition()))).code == (
        "not_editable")
    assert (await petition_row(moderated_id))["status"] == "rejected"


async def test_a_second_round_may_be_approved(author: int, moderated_id: int,
                                              moderator: StaffMember) -> None:
    await services.moderate(moderator, moderated_id, False, "personal_data")
    await services.resubmit(author, moderated_id)
    await services.moderate(moderator, moderated_id, True)
    assert (await petition_row(moderated_id))["status"] == "open"


async def test_only_the_author_resubmits_and_only_a_rejected_petition(
        author: int, moderated_id: int, moderator: StaffMember, backers: list[int]) -> None:
    assert (await failure(services.resubmit(author, moderated_id))).code == "not_editable"
    await services.moderate(moderator, moderated_id, False, "insult")
    assert (await failure(services.resubmit(backers[0], moderated_id))).code == "not_author"
    assert (await petition_row(moderated_id))["moderation_rounds"] == 1


# -- the ledger and the followers ---------------------------------------------------------------

async def test_ledger_entries_carry_no_personal_data(
        author: int, moderated_id: int, moderator: StaffMember, backers: list[int]) -> None:
    await services.moderate(moderator, moderated_id, False, "personal_data",
                            "Qo‘shnining telefoni +998 90 123 45 67 yozilgan.")
    await services.resubmit(author, moderated_id)
    await services.moderate(moderator, moderated_id, True)
    await services.withdraw(author, moderated_id)
    rows = await LedgerEntry.select().where(
        LedgerEntry.subject == services.subject(moderated_id)).order_by(LedgerEntry.seq)
    assert [row["kind"] for row in rows] == [
        "petitions.seeking_sponsors", "petitions.in_moderation", "petitions.rejected",
        "petitions.in_moderation", "petitions.opened", "petitions.withdrawn"]
    residents = await Resident.select(Resident.phone, Resident.display_name).where(
        Resident.id.is_in([author, *backers]))
    for row in rows:
        for resident in residents:
            assert resident["phone"] not in row["payload"]
            assert resident["phone"].removeprefix("+") not in row["payload"]
            assert resident["display_name"] not in row["payload"]
        assert "author" not in row["payload"] and "resident" not in row["payload"]
        assert "telefon" not in row["payload"]


async def test_followers_hear_that_it_opened(moderated_id: int, moderator: StaffMember,
                                             author: int, backers: list[int]) -> None:
    await services.moderate(moderator, moderated_id, True)
    assert await recipients("petition.opened") == {author, *backers}
    messages = await outbox("petition.opened")
    assert {m["key"] for m in messages} == {
        f"petition:{moderated_id}:opened:{resident}:{channel}"
        for resident in (author, *backers) for channel in ("inapp", "sms")}
    row = await petition_row(moderated_id)
    assert all(row["title"] in m["payload"] and services.link(moderated_id) in m["payload"]
               for m in messages)
    assert await outbox("petition.rejected") == []


async def test_followers_hear_of_each_refusal(author: int, moderated_id: int,
                                              moderator: StaffMember,
                                              backers: list[int]) -> None:
    await services.moderate(moderator, moderated_id, False, "insult")
    assert await recipients("petition.rejected") == {author, *backers}
    first = len(await outbox("petition.rejected"))
    assert first == 2 * 6
    await services.resubmit(author, moderated_id)
    await services.moderate(moderator, moderated_id, False, "insult")
    assert len(await outbox("petition.rejected")) == 2 * first
    assert await outbox("petition.opened") == []


# -- the public figures -------------------------------------------------------------------------

async def test_moderation_stats_count_the_queue_and_the_median_wait(
        author: int, db: str) -> None:
    at = datetime(2026, 11, 20, 12, tzinfo=UTC)
    ids = [await services.create_draft(author, district_petition(f"Maktab qurilsin, raqam {n}"))
           for n in range(6)]
    for petition_id in ids[:2]:
        await set_petition(petition_id, status="in_moderation",
                           moderation_requested_at=at - timedelta(hours=5))
    # Moderated within the last 30 days after 2, 10 and 30 hours; one long ago does not count.
    for petition_id, hours, days_ago in ((ids[2], 2, 1), (ids[3], 10, 3), (ids[4], 30, 29),
                                         (ids[5], 500, 31)):
        moderated = at - timedelta(days=days_ago)
        await set_petition(petition_id, status="open", moderated_at=moderated,
                           moderation_requested_at=moderated - timedelta(hours=hours))
    assert await services.moderation_stats(at) == {"waiting": 2, "median_hours": 10.0}


async def test_moderation_stats_without_history(db: str) -> None:
    assert await services.moderation_stats() == {"waiting": 0, "median_hours": None}


async def test_moderation_stats_follow_real_moderation(moderated_id: int,
                                                       moderator: StaffMember) -> None:
    assert (await services.moderation_stats())["waiting"] == 1
    await services.moderate(moderator, moderated_id, True)
    stats = await services.moderation_stats()
    assert stats["waiting"] == 0
    assert stats["median_hours"] is not None and 0 <= stats["median_hours"] < 0.1


async def test_another_districts_official_is_not_a_moderator(moderated_id: int) -> None:
    chortoq = await make_district_official("chortoq", CHORTOQ)
    assert not services.moderates_somewhere(chortoq)
    with pytest.raises(PermissionDenied):
        await services.moderate(chortoq, moderated_id, True)
