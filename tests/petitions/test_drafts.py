"""Starting a petition: who may, to which addressee, what it must say; editing the draft and
sharing it with would-be sponsors."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from ovoz.accounts.tables import Resident
from ovoz.notify import services as notify
from ovoz.petitions import services
from ovoz.petitions.services import PetitionError
from ovoz.petitions.tables import Petition
from tests.petitions.conftest import Configure
from tests.petitions.helpers import (
    BERUNIY,
    district_petition,
    ledger_entries,
    make_residents,
    make_verified,
    petition_row,
    set_petition,
)
from tests.reports.helpers import CHORTOQ, REGION_OF
from tests.reports.service_helpers import mahalla_id

KARAKALPAKSTAN = REGION_OF[BERUNIY]
NAMANGAN = REGION_OF[CHORTOQ]


def text(**changes: object) -> services.PetitionText:
    return dataclasses.replace(district_petition(), **changes)


async def refused(resident_id: int, petition: services.PetitionText) -> PetitionError:
    with pytest.raises(PetitionError) as caught:
        await services.create_draft(resident_id, petition)
    return caught.value


# -- who may start one --------------------------------------------------------------------------

async def test_a_phone_verified_resident_without_confirmed_residence_is_refused(
        mahallas: list[int]) -> None:
    phone_only = await make_verified(2, mahallas[0], residence=False)
    assert (await refused(phone_only, district_petition())).code == "not_verified"
    assert await Petition.count() == 0


async def test_a_resident_confirmed_by_the_mahalla_starts_a_draft(author: int) -> None:
    petition_id = await services.create_draft(author, district_petition())
    row = await petition_row(petition_id)
    assert row["status"] == "draft" and row["author"] == author
    assert row["threshold"] == 0 and row["moderation_rounds"] == 0
    assert row["sponsors_until"] is None and row["opened_at"] is None
    assert len(row["sponsor_code"]) >= 16
    assert [p["id"] for p in await services.mine(author)] == [petition_id]


async def test_a_resident_verified_by_oneid_starts_a_draft(mahallas: list[int]) -> None:
    resident_id = await make_verified(2, mahallas[0], residence=False)
    await Resident.update({Resident.oneid_verified_at: datetime.now(UTC)}).where(
        Resident.id == resident_id)
    petition_id = await services.create_draft(resident_id, district_petition())
    assert (await petition_row(petition_id))["author"] == resident_id


async def test_a_verified_resident_without_a_home_mahalla_is_refused(mahallas: list[int]
                                                                   ) -> None:
    resident_id = await make_verified(2, mahallas[0])
    await Resident.update({Resident.mahalla: None}).where(Resident.id == resident_id)
    assert (await refused(resident_id, district_petition())).code == "no_home"


async def test_an_unknown_author_is_not_found(db: str) -> None:
    assert (await refused(999_999, district_petition())).code == "not_found"


# -- the addressee's area must hold the author's home -------------------------------------------

async def test_a_mahalla_assembly_of_the_authors_own_mahalla_only(author: int,
                                                                  mahallas: list[int]) -> None:
    own = await services.create_draft(author, text(level="mahalla", place_id=mahallas[0]))
    row = await petition_row(own)
    assert (row["region"], row["district"], row["mahalla"]) == (KARAKALPAKSTAN, BERUNIY,
                                                                mahallas[0])
    neighbours = await refused(author, text(level="mahalla", place_id=mahallas[1]))
    assert (neighbours.code, neighbours.field) == ("outside_area", "place_id")


@pytest.mark.parametrize("level", ["district_hokimiyat", "district_kengash"])
async def test_a_district_body_of_the_authors_own_district_only(author: int, level: str
                                                                ) -> None:
    own = await services.create_draft(author, text(level=level, place_id=BERUNIY))
    row = await petition_row(own)
    assert (row["level"], row["region"], row["district"], row["mahalla"]) == (
        level, KARAKALPAKSTAN, BERUNIY, None)
    elsewhere = await refused(author, text(level=level, place_id=CHORTOQ))
    assert (elsewhere.code, elsewhere.field) == ("outside_area", "place_id")


async def test_the_regional_hokimiyat_of_the_authors_own_region_only(author: int) -> None:
    own = await services.create_draft(author, text(level="regional_hokimiyat",
                                                   place_id=KARAKALPAKSTAN))
    row = await petition_row(own)
    assert (row["region"], row["district"], row["mahalla"]) == (KARAKALPAKSTAN, None, None)
    elsewhere = await refused(author, text(level="regional_hokimiyat", place_id=NAMANGAN))
    assert (elsewhere.code, elsewhere.field) == ("outside_area", "place_id")


async def test_a_resident_of_another_district_writes_to_their_own(mahallas: list[int]) -> None:
    chortoq_resident = await make_verified(3, await mahalla_id(CHORTOQ, "Bahor MFY"))
    assert (await refused(chortoq_resident, district_petition())).code == "outside_area"
    petition_id = await services.create_draft(chortoq_resident, text(place_id=CHORTOQ))
    assert (await petition_row(petition_id))["region"] == NAMANGAN


# -- what it must say ---------------------------------------------------------------------------

async def test_bad_input_is_refused_with_its_field(author: int) -> None:
    for changes, code, field in (
        ({"title": "Maktab!!!"}, "bad_title", "title"),
        ({"title": "   Maktab          yo   "}, "bad_title", "title"),
        ({"title": "M" * 151}, "bad_title", "title"),
        ({"text": "Maktab kerak. " * 3}, "bad_text", "text"),
        ({"text": "x" * 6001}, "bad_text", "text"),
        ({"topic": "sport"}, "bad_topic", "topic"),
        ({"level": "president"}, "bad_level", "level"),
        ({"place_id": 999_999}, "bad_place", "place_id"),
        ({"level": "mahalla", "place_id": 999_999}, "bad_place", "place_id"),
        ({"level": "regional_hokimiyat", "place_id": 999_999}, "bad_place", "place_id"),
    ):
        error = await refused(author, text(**changes))
        assert (error.code, error.field) == (code, field), changes
    assert await Petition.count() == 0


async def test_the_shortest_and_longest_title_and_text_are_taken(author: int) -> None:
    for title, body in (("M" * 10, "x" * 50), ("M" * 150, "x" * 6000)):
        petition_id = await services.create_draft(author, text(title=title, text=body))
        row = await petition_row(petition_id)
        assert (row["title"], row["text"]) == (title, body)


async def test_spacing_is_tidied_before_it_is_measured_and_kept(author: int) -> None:
    petition_id = await services.create_draft(author, text(
        title="  Qishloqqa   yangi\tmaktab  ",
        text="  Maktab   yo‘q.  \n\n Bolalar   uzoqqa   yurib   boradi,  yangisi kerak.  "))
    row = await petition_row(petition_id)
    assert row["title"] == "Qishloqqa yangi maktab"
    assert row["text"] == "Maktab yo‘q.\n\nBolalar uzoqqa yurib boradi, yangisi kerak."


async def test_search_text_folds_script_case_and_apostrophes(author: int) -> None:
    petition_id = await services.create_draft(author, text(
        title="Қишлоққа ЯНГИ мактаб",
        text="Bizda maktab yo'q, bolalar Doʻstlik mahallasiga yurib boradi; so`raymiz."))
    folded = (await petition_row(petition_id))["search_text"]
    for word in ("qishloqqa yangi maktab", "maktab yoq", "dostlik", "soraymiz"):
        assert word in folded
    assert folded == folded.lower()
    assert not set("'‘ʻ`ʼ") & set(folded)


# -- editing and sharing ------------------------------------------------------------------------

async def test_the_author_edits_a_draft_and_the_search_text_follows(author: int, draft_id: int
                                                                    ) -> None:
    await services.edit(author, draft_id, text(title="Ko‘prik ta’mirlansin, iltimos",
                                               topic="roads"))
    row = await petition_row(draft_id)
    assert (row["title"], row["topic"]) == ("Ko‘prik ta’mirlansin, iltimos", "roads")
    assert "koprik tamirlansin" in row["search_text"]
    assert row["updated_at"] > row["created_at"]


async def test_an_edit_checks_like_creation(author: int, draft_id: int, mahallas: list[int]
                                            ) -> None:
    for changes, code in (({"title": "Qisqa"}, "bad_title"),
                          ({"place_id": CHORTOQ}, "outside_area"),
                          ({"level": "mahalla", "place_id": mahallas[1]}, "outside_area")):
        with pytest.raises(PetitionError) as caught:
            await services.edit(author, draft_id, text(**changes))
        assert caught.value.code == code
    row = await petition_row(draft_id)
    assert (row["title"], row["district"]) == (district_petition().title, BERUNIY)


async def test_an_edit_may_move_the_petition_to_another_body_of_the_area(
        author: int, draft_id: int, mahallas: list[int]) -> None:
    await services.edit(author, draft_id, text(level="mahalla", place_id=mahallas[0]))
    row = await petition_row(draft_id)
    assert (row["level"], row["district"], row["mahalla"]) == ("mahalla", BERUNIY, mahallas[0])


async def test_only_the_author_edits(draft_id: int, mahallas: list[int]) -> None:
    [other] = await make_residents(1, mahallas[0], first=50)
    with pytest.raises(PetitionError) as caught:
        await services.edit(other, draft_id, text(title="Boshqa sarlavha yozildi"))
    assert caught.value.code == "not_author"
    with pytest.raises(PetitionError) as caught:
        await services.edit(other, draft_id + 1000, text())
    assert caught.value.code == "not_found"


async def test_no_edit_once_it_looks_for_sponsors(author: int, draft_id: int) -> None:
    assert services.can_edit(await petition_row(draft_id))
    await services.seek_sponsors(author, draft_id)
    row = await petition_row(draft_id)
    assert not services.can_edit(row)
    with pytest.raises(PetitionError) as caught:
        await services.edit(author, draft_id, text(title="Yangilangan sarlavha shu"))
    assert caught.value.code == "not_editable"
    assert (await petition_row(draft_id))["title"] == district_petition().title


def test_can_edit_a_draft_or_a_petition_refused_once() -> None:
    for status, rounds, editable in (
        ("draft", 0, True), ("seeking_sponsors", 0, False), ("in_moderation", 1, False),
        ("open", 1, False), ("rejected", 1, True), ("rejected", 2, False),
        ("withdrawn", 0, False),
    ):
        assert services.can_edit({"status": status, "moderation_rounds": rounds}) is editable


async def test_seeking_sponsors_sets_the_deadline_from_settings_and_the_author_follows(
        author: int, draft_id: int, configure: Configure) -> None:
    configure(OVOZ_PETITION_SPONSOR_DAYS="12")
    before = datetime.now(UTC)
    await services.seek_sponsors(author, draft_id)
    row = await petition_row(draft_id)
    assert row["status"] == "seeking_sponsors"
    assert row["sponsors_until"] - row["updated_at"] == timedelta(days=12)
    assert row["updated_at"] >= before
    assert await notify.followers(services.subject(draft_id)) == [author]
    [entry] = await ledger_entries("petitions.seeking_sponsors", draft_id)
    assert entry["payload"] == {"level": "district_hokimiyat"}


async def test_seeking_sponsors_only_from_a_draft_by_its_author(
        author: int, draft_id: int, mahallas: list[int]) -> None:
    [other] = await make_residents(1, mahallas[0], first=50)
    with pytest.raises(PetitionError) as caught:
        await services.seek_sponsors(other, draft_id)
    assert caught.value.code == "not_author"
    await services.seek_sponsors(author, draft_id)
    first_deadline = (await petition_row(draft_id))["sponsors_until"]
    for status in ("seeking_sponsors", "in_moderation", "open", "rejected"):
        await set_petition(draft_id, status=status)
        with pytest.raises(PetitionError) as caught:
            await services.seek_sponsors(author, draft_id)
        assert caught.value.code == "not_editable"
    assert (await petition_row(draft_id))["sponsors_until"] == first_deadline
    assert len(await ledger_entries("petitions.seeking_sponsors")) == 1
