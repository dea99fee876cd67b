"""The addressee's answer, the nightly deadlines (lapse, expiry, closing, anonymising signers)
and the public list with its filters and search."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from ovoz.accountability import clock
from ovoz.accountability import services as accountability
from ovoz.accounts.permissions import Grant, PermissionDenied, Role, StaffMember
from ovoz.i18n.locale import TASHKENT
from ovoz.jobs import JOBS
from ovoz.notify import schedule
from ovoz.notify import services as notify
from ovoz.petitions import services
from ovoz.petitions.services import Filters
from ovoz.petitions.tables import Response, Signature, Sponsor
from ovoz.settings import get_settings
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
    to_moderation,
)
from tests.reports.helpers import CHORTOQ, REGION_OF, jpeg, make_staff_account
from tests.reports.service_helpers import mahalla_id

# A body that shares no word with the titles searched for below.
PLAIN = ("Aholining murojaati: bu masala ko‘p yillardan beri hal qilinmagan, choralar "
         "ko‘rilishini so‘raymiz.")
ANSWER = "Maktab qurilishi 2027-yil tuman dasturiga kiritildi, loyiha tayyorlanmoqda."


async def answer(staff: StaffMember, petition_id: int, decision: str = "partly_accepted",
                 text: str = ANSWER, name: str = "Aziz Karimov",
                 post: str = "Tuman hokimining o‘rinbosari") -> None:
    await services.respond(staff, petition_id, decision, text, name, post)


@pytest.fixture
def low_thresholds(configure: Configure) -> None:
    configure(levels={level: {"threshold": 3} for level in (
        "mahalla", "district_hokimiyat", "district_kengash", "regional_hokimiyat")})


@pytest.fixture
async def signers(mahallas: list[int]) -> list[int]:
    return await make_residents(3, mahallas[0], first=1000)


async def signed_to_threshold(petition_id: int, people: list[int]) -> int:
    for person in people:
        await services.sign(petition_id, person)
    assert (await petition_row(petition_id))["status"] == "threshold_reached"
    return petition_id


@pytest.fixture
async def awaiting_id(low_thresholds: None, author: int, backers: list[int],
                      moderator: StaffMember, signers: list[int]) -> int:
    """A petition to Beruniy's hokimiyat with its three signatures, waiting for the answer."""
    return await signed_to_threshold(await open_petition(author, backers, moderator), signers)


# -- the answer ---------------------------------------------------------------------------------

async def test_the_answer_stops_the_obligations_clock(awaiting_id: int,
                                                      official: StaffMember) -> None:
    obligation = await accountability.obligation(accountability.PETITION, awaiting_id)
    assert obligation is not None
    assert (obligation["body"], obligation["district"], obligation["closed_at"]) == (
        "district", BERUNIY, None)
    await answer(official, awaiting_id)
    obligation = await accountability.obligation(accountability.PETITION, awaiting_id)
    assert obligation is not None and obligation["outcome"] == "answered"
    row = await petition_row(awaiting_id)
    assert obligation["resolved_at"] == obligation["first_response_at"] == row["responded_at"]


async def test_an_unanswered_petition_is_overdue_from_its_due_date(
        awaiting_id: int, official: StaffMember) -> None:
    row = await petition_row(awaiting_id)
    due = row["response_due_at"]
    assert not services.answer_overdue(row, due - timedelta(seconds=1))
    assert services.answer_overdue(row, due)
    await answer(official, awaiting_id)
    assert not services.answer_overdue(await petition_row(awaiting_id), due + timedelta(days=1))


async def test_the_answer_may_be_extended_once_with_a_public_reason(
        awaiting_id: int, official: StaffMember, signers: list[int]) -> None:
    due = (await petition_row(awaiting_id))["response_due_at"]
    reason = "Loyiha-smeta hujjatlari viloyatda koʻrib chiqilmoqda."
    await services.extend_response(official, awaiting_id, 20, reason)
    row = await petition_row(awaiting_id)
    assert row["response_due_at"] == clock.extended(due, 20)
    obligation = await accountability.obligation(accountability.PETITION, awaiting_id)
    assert obligation is not None
    assert (obligation["due_at"], obligation["original_due_at"]) == (row["response_due_at"], due)
    assert obligation["extension_reason"] == reason
    assert set(signers) <= await recipients("obligation.extended")
    [message, *_] = await outbox("obligation.extended")
    assert json.loads(message["payload"])["reason"] == reason
    [entry] = await ledger_entries("petitions.extended", awaiting_id)
    assert "reason" not in entry["payload"] and entry["payload"]["reason_sha256"]
    assert (await failure(services.extend_response(official, awaiting_id, 5, reason))
            ).code == "already_extended"
    assert (await petition_row(awaiting_id))["response_due_at"] == row["response_due_at"]


async def test_an_extension_needs_days_a_reason_the_addressee_and_no_answer_yet(
        awaiting_id: int, official: StaffMember) -> None:
    reason = "Loyiha-smeta hujjatlari viloyatda koʻrib chiqilmoqda."
    assert (await failure(services.extend_response(official, awaiting_id, 0, reason))
            ).code == "bad_extension"
    assert (await failure(services.extend_response(official, awaiting_id, 31, reason))
            ).code == "bad_extension"
    assert (await failure(services.extend_response(official, awaiting_id, 5, "Kerak."))
            ).code == "bad_reason"
    stranger = await make_district_official("chortoq-hokim", CHORTOQ)
    with pytest.raises(PermissionDenied):
        await services.extend_response(stranger, awaiting_id, 5, reason)
    await answer(official, awaiting_id)
    assert (await failure(services.extend_response(official, awaiting_id, 5, reason))
            ).code == "not_answerable"



async def test_the_districts_official_answers_and_every_follower_hears(
        awaiting_id: int, official: StaffMember, author: int, backers: list[int],
        signers: list[int]) -> None:
    await notify.unfollow(signers[2], services.subject(awaiting_id))
    await answer(official, awaiting_id, text=f"  {ANSWER}  ", name="  Aziz   Karimov ")
    row = await petition_row(awaiting_id)
    assert row["status"] == "responded" and row["responded_at"] is not None
    response = await services.response(awaiting_id)
    assert response is not None
    assert (response["decision"], response["text"], response["staff"],
            response["official_name"], response["official_post"]) == (
        "partly_accepted", ANSWER, official.id, "Aziz Karimov", "Tuman hokimining o‘rinbosari")
    assert response["published_at"] == row["responded_at"]
    [entry] = await ledger_entries("petitions.responded", awaiting_id)
    assert entry["payload"] == {"decision": "partly_accepted"}
    assert await recipients("petition.responded") == {author, *backers, *signers[:2]}
    assert {m["key"] for m in await outbox("petition.responded")} == {
        f"petition:{awaiting_id}:responded:{resident}:{channel}"
        for resident in (author, *backers, *signers[:2]) for channel in ("inapp", "sms")}


async def test_a_mahalla_petition_is_answered_by_its_districts_official(
        low_thresholds: None, author: int, backers: list[int], moderator: StaffMember,
        signers: list[int], mahallas: list[int], official: StaffMember) -> None:
    petition_id = await signed_to_threshold(
        await open_petition(author, backers, moderator, mahalla_petition(mahallas[0])), signers)
    assert services.answerable_here(official, await petition_row(petition_id))
    await answer(official, petition_id, decision="accepted")
    assert (await petition_row(petition_id))["status"] == "responded"


async def test_an_answer_needs_the_answer_permission_over_the_area(
        awaiting_id: int, moderator: StaffMember) -> None:
    others = (await make_district_official("chortoq", CHORTOQ), await make_department_official(),
              moderator)
    for staff in others:
        assert not services.answerable_here(staff, await petition_row(awaiting_id))
        with pytest.raises(PermissionDenied):
            await answer(staff, awaiting_id)
    assert (await petition_row(awaiting_id))["status"] == "threshold_reached"
    assert await services.response(awaiting_id) is None
    assert await outbox("petition.responded") == []


async def test_only_a_petition_waiting_for_its_answer_is_answered(
        open_id: int, awaiting_id: int, official: StaffMember) -> None:
    assert (await failure(answer(official, open_id))).code == "not_answerable"
    assert (await failure(answer(official, awaiting_id + 1000))).code == "not_found"
    await answer(official, awaiting_id)
    assert (await failure(answer(official, awaiting_id, decision="accepted"))).code == (
        "not_answerable")
    assert len(await Response.select(Response.id)) == 1
    assert (await services.response(awaiting_id) or {}).get("decision") == "partly_accepted"


async def test_an_answer_needs_a_decision_a_text_and_who_gave_it(
        awaiting_id: int, official: StaffMember) -> None:
    for changes, code, field in (
        ({"decision": "maybe"}, "bad_decision", "decision"),
        ({"decision": ""}, "bad_decision", "decision"),
        ({"text": "Ko‘rib chiqildi."}, "bad_response", "text"),
        ({"name": "   "}, "bad_response", "official_name"),
    ):
        error = await failure(answer(official, awaiting_id, **changes))
        assert (error.code, error.field) == (code, field), changes
    assert (await failure(answer(official, awaiting_id, post=" "))).code == "bad_response"
    assert (await petition_row(awaiting_id))["status"] == "threshold_reached"
    assert await ledger_entries("petitions.responded") == []


async def test_a_missing_post_is_reported_on_the_post_field(awaiting_id: int,
                                                            official: StaffMember) -> None:
    error = await failure(answer(official, awaiting_id, post=" "))
    assert (error.code, error.field) == ("bad_response", "official_post")


async def test_the_regional_hokimiyat_s_officials_answer_a_regional_petition(
        low_thresholds: None, author: int, backers: list[int], moderator: StaffMember,
        signers: list[int], official: StaffMember) -> None:
    regional = services.PetitionText(
        title="Viloyat yo‘li ta’mirlansin", text=district_petition().text, topic="roads",
        level="regional_hokimiyat", place_id=REGION_OF[BERUNIY])
    grant = Grant(Role.OFFICIAL, REGION_OF[BERUNIY])
    regional_official = StaffMember(await make_staff_account("viloyat", grant), (grant,))
    petition_id = await signed_to_threshold(
        await open_petition(author, backers, moderator, regional), signers)
    # The regional hokimiyat's official is told and answers; a district's official does not.
    told = {m["recipient_id"] for m in await outbox("petition.threshold_reached")}
    assert told == {regional_official.id}
    row = await petition_row(petition_id)
    assert not services.answerable_here(official, row)
    assert services.answerable_here(regional_official, row)
    await answer(regional_official, petition_id)
    assert (await petition_row(petition_id))["status"] == "responded"


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


async def test_an_answer_carries_its_documents(awaiting_id: int, official: StaffMember
                                               ) -> None:
    await services.respond(official, awaiting_id, "accepted", ANSWER, "Aziz Karimov",
                           "Tuman hokimi", [services.Upload("C:\\hujjatlar\\qaror 12.pdf", pdf()),
                                            services.Upload("maktab.jpg", jpeg())])
    stored = await services.attachments(awaiting_id)
    assert [(a["filename"], a["media_type"]) for a in stored] == [
        ("C: hujjatlar qaror 12.pdf", "application/pdf"), ("maktab.jpg", "image/jpeg")]
    document, photo = stored
    assert services.attachment_path(document["name"]).read_bytes() == pdf()
    assert document["size"] == len(pdf())
    # The photo is re-encoded: stored under the digest of what is kept, not of the upload.
    kept = services.attachment_path(photo["name"]).read_bytes()
    assert kept.startswith(b"\xff\xd8") and photo["size"] == len(kept)
    with pytest.raises(ValueError):
        services.attachment_path("../../etc/passwd")


async def test_bad_documents_refuse_the_whole_answer(awaiting_id: int, official: StaffMember
                                                     ) -> None:
    for documents in ([services.Upload("qaror.docx", b"PK\x03\x04 not a photo")],
                      [services.Upload(f"{n}.pdf", pdf()) for n in range(6)]):
        error = await failure(services.respond(official, awaiting_id, "accepted", ANSWER,
                                               "Aziz Karimov", "Tuman hokimi", documents))
        assert (error.code, error.field) == ("bad_attachment", "attachments")
    assert (await petition_row(awaiting_id))["status"] == "threshold_reached"
    assert await services.attachments(awaiting_id) == []


# -- deadlines ----------------------------------------------------------------------------------

async def test_a_petition_without_enough_sponsors_lapses_once(
        author: int, backers: list[int]) -> None:
    late, early = [await services.create_draft(author, district_petition(f"Maktab kerak, {n}"))
                   for n in ("birinchi", "ikkinchi")]
    for petition_id in (late, early):
        await services.seek_sponsors(author, petition_id)
    await services.sponsor(late, backers[0])
    at = (await petition_row(late))["sponsors_until"] + timedelta(seconds=1)
    await set_petition(early, sponsors_until=at + timedelta(days=1))
    assert await services.close_due(at) == {"lapsed": 1, "expired": 0, "closed": 0,
                                            "anonymised": 0}
    row = await petition_row(late)
    assert (row["status"], row["closed_at"]) == ("lapsed", at)
    assert (await petition_row(early))["status"] == "seeking_sponsors"
    assert (await failure(services.sponsor(late, backers[1]))).code == "not_seeking"
    assert (await services.close_due(at))["lapsed"] == 0
    assert [e["payload"] for e in await ledger_entries("petitions.lapsed")] == [{}]


async def test_a_window_ending_under_the_threshold_expires_it_once(
        open_id: int, awaiting_id: int) -> None:
    at = (await petition_row(open_id))["closes_at"]
    assert (await services.close_due(at - timedelta(seconds=1)))["expired"] == 0
    # A petition waiting for its answer stays waiting, whatever the window.
    await set_petition(awaiting_id, closes_at=at - timedelta(days=1))
    assert await services.close_due(at) == {"lapsed": 0, "expired": 1, "closed": 0,
                                            "anonymised": 0}
    assert (await petition_row(open_id))["status"] == "expired"
    assert (await petition_row(awaiting_id))["status"] == "threshold_reached"
    assert (await services.close_due(at + timedelta(days=1)))["expired"] == 0
    assert len(await ledger_entries("petitions.expired", open_id)) == 1


async def test_an_answered_petition_closes_when_its_window_ends(
        awaiting_id: int, official: StaffMember) -> None:
    await answer(official, awaiting_id)
    closes_at = (await petition_row(awaiting_id))["closes_at"]
    assert (await services.close_due(closes_at - timedelta(hours=1)))["closed"] == 0
    assert (await services.close_due(closes_at))["closed"] == 1
    row = await petition_row(awaiting_id)
    assert (row["status"], row["closed_at"]) == ("closed", closes_at)
    assert (await services.close_due(closes_at + timedelta(days=2)))["closed"] == 0
    assert len(await ledger_entries("petitions.closed", awaiting_id)) == 1


async def test_signers_are_anonymised_after_the_retention_period(
        awaiting_id: int, official: StaffMember, signers: list[int], mahallas: list[int],
        configure: Configure) -> None:
    configure(OVOZ_PETITION_ANONYMISE_DAYS="40")
    await answer(official, awaiting_id)
    closed_at = (await petition_row(awaiting_id))["closes_at"]
    await services.close_due(closed_at)
    before = await services.by_mahalla(awaiting_id)
    assert (await services.close_due(closed_at + timedelta(days=39)))["anonymised"] == 0
    assert await Signature.count().where(Signature.resident.is_not_null()) == 3
    at = closed_at + timedelta(days=40)
    assert (await services.close_due(at))["anonymised"] == 1
    rows = await Signature.select().where(Signature.petition == awaiting_id)
    assert [(r["resident"], r["mahalla"]) for r in rows] == [(None, mahallas[0])] * 3
    assert await Sponsor.count().where(Sponsor.petition == awaiting_id) == 0
    assert await services.count(awaiting_id) == 3
    assert await services.by_mahalla(awaiting_id) == before
    assert not await services.signed(awaiting_id, signers[0])
    row = await petition_row(awaiting_id)
    assert row["anonymised_at"] == at and row["status"] == "closed"
    assert (await services.close_due(at + timedelta(days=1)))["anonymised"] == 0


async def test_an_expired_petition_is_anonymised_too_but_not_one_still_open(
        author: int, backers: list[int], moderator: StaffMember, mahallas: list[int]
) -> None:
    expiring = await open_petition(author, backers, moderator,
                                   district_petition("Maktab kerak, birinchi"))
    running = await open_petition(author, backers, moderator,
                                  district_petition("Maktab kerak, ikkinchi"))
    [signer] = await make_residents(1, mahallas[0], first=1000)
    for petition_id in (expiring, running):
        await services.sign(petition_id, signer)
    at = (await petition_row(expiring))["closes_at"]
    await set_petition(running, closes_at=at + timedelta(days=365))
    await services.close_due(at)
    later = at + timedelta(days=get_settings().petition_anonymise_days)
    assert (await services.close_due(later))["anonymised"] == 1
    assert await services.signed(running, signer)
    assert not await services.signed(expiring, signer)
    assert await Sponsor.count().where(Sponsor.petition == running) == 5
    assert await services.count(expiring) == 1


async def test_anonymised_signatures_keep_only_the_mahalla_and_the_channel(
        open_id: int, author: int, mahallas: list[int]) -> None:
    [signer] = await make_residents(1, mahallas[0], first=1000)
    await services.sign(open_id, signer, address="198.51.100.7", device="Android",
                        paper_form="B-0042")
    await services.withdraw(author, open_id)
    later = datetime.now(UTC) + timedelta(days=get_settings().petition_anonymise_days + 1)
    assert (await services.close_due(later))["anonymised"] == 1
    [row] = await Signature.select().where(Signature.petition == open_id)
    assert (row["resident"], row["mahalla"], row["channel"]) == (None, mahallas[0], "web")
    # The address and device digests and the paper form's number point back at the person.
    assert (row["address_digest"], row["device_digest"], row["paper_form"]) == ("", "", "")


async def test_anonymised_signers_no_longer_follow_the_petition(
        awaiting_id: int, official: StaffMember, signers: list[int], backers: list[int]
) -> None:
    await answer(official, awaiting_id)
    closed_at = (await petition_row(awaiting_id))["closes_at"]
    await services.close_due(closed_at)
    await services.close_due(closed_at + timedelta(days=get_settings().petition_anonymise_days))
    assert (await petition_row(awaiting_id))["anonymised_at"] is not None
    # Who follows a petition is who signed or sponsored it: that link goes too.
    followers = set(await notify.followers(services.subject(awaiting_id)))
    assert not followers & {*signers, *backers}


async def test_the_sponsors_of_a_finally_refused_petition_are_removed_after_retention(
        author: int, draft_id: int, backers: list[int], moderator: StaffMember) -> None:
    await to_moderation(author, draft_id, backers)
    await services.moderate(moderator, draft_id, False, "insult")
    await services.resubmit(author, draft_id)
    await services.moderate(moderator, draft_id, False, "insult")
    later = datetime.now(UTC) + timedelta(days=get_settings().petition_anonymise_days + 1)
    assert (await services.close_due(later))["anonymised"] == 1
    assert await services.sponsors(draft_id) == 0


async def test_the_nightly_job_runs_the_deadlines_once_a_day(open_id: int) -> None:
    # Noon in Tashkent today, so the half hour later below is still today there.
    today = datetime.now(TASHKENT).date()
    at = datetime.combine(today, time(12), TASHKENT)
    await set_petition(open_id, closes_at=at - timedelta(hours=1))
    ran = [run for run in await schedule.tick(JOBS, at) if run.startswith("petitions.")]
    assert ran[-1] == f"petitions.deadlines {today.isoformat()}"
    assert (await petition_row(open_id))["status"] == "expired"
    assert len(await ledger_entries("petitions.expired", open_id)) == 1
    assert not [run for run in await schedule.tick(JOBS, at + timedelta(minutes=30))
                if run.startswith("petitions.")]
    tomorrow = datetime.combine(today + timedelta(days=1), time(0), TASHKENT)
    assert not [run for run in await schedule.tick(JOBS, tomorrow - timedelta(minutes=1))
                if run.startswith("petitions.")]
    assert [run for run in await schedule.tick(JOBS, tomorrow + timedelta(minutes=5))
            if run.startswith("petitions.")] == [
        f"petitions.deadlines {(today + timedelta(days=1)).isoformat()}"]
    assert len(await ledger_entries("petitions.expired", open_id)) == 1


# -- the public list ----------------------------------------------------------------------------

@pytest.fixture
async def listed(author: int, mahallas: list[int]) -> dict[str, int]:
    """One petition in every status, each opened a day after the one before; a few differ in
    level, topic and district."""
    chortoq_author = await make_verified(2, await mahalla_id(CHORTOQ, "Bahor MFY"))
    texts = {
        "open": district_petition("Qishloqqa yangi maktab qurilsin"),
        "threshold_reached": mahalla_petition(mahallas[0]),
        "responded": services.PetitionText(
            title="Ko‘prik ta’mirlansin", text=PLAIN, topic="roads",
            level="district_kengash", place_id=BERUNIY),
        "closed": services.PetitionText(
            title="Ichimlik suvi quvuri yangilansin", text=PLAIN, topic="water",
            level="district_hokimiyat", place_id=CHORTOQ),
    }
    ids = {}
    start = datetime(2026, 10, 1, tzinfo=UTC)
    for n, status in enumerate(services.STATUSES):
        resident = chortoq_author if status == "closed" else author
        text = texts.get(status, dataclasses.replace(
            district_petition(f"Maktab qurilsin: {status}"), text=PLAIN))
        ids[status] = await services.create_draft(resident, text)
        await set_petition(ids[status], status=status, opened_at=start + timedelta(days=n))
    return ids


def ids_of(page: Any) -> list[int]:
    return [row["id"] for row in page.items]


async def test_only_public_statuses_are_listed_newest_first(listed: dict[str, int]) -> None:
    page = await services.search(Filters(), 1, 20)
    assert ids_of(page) == [listed[s] for s in reversed(services.STATUSES)
                            if s in services.PUBLIC_STATUSES]
    assert page.total == len(services.PUBLIC_STATUSES) == 5
    # Asking for a status that is not public shows nothing more.
    assert set(ids_of(await services.search(Filters(status="draft"), 1, 20))) == set(
        ids_of(page))


async def test_the_list_pages(listed: dict[str, int]) -> None:
    first, last = [await services.search(Filters(), n, 2) for n in (1, 3)]
    assert (first.total, len(first.items), len(last.items)) == (5, 2, 1)
    assert ids_of(last) == [listed["open"]]


async def test_filters_by_status_level_district_and_topic(listed: dict[str, int]) -> None:
    cases = (
        (Filters(status="threshold_reached"), [listed["threshold_reached"]]),
        (Filters(level="district_kengash"), [listed["responded"]]),
        (Filters(level="mahalla"), [listed["threshold_reached"]]),
        (Filters(district_id=CHORTOQ), [listed["closed"]]),
        (Filters(topic="water"), [listed["closed"]]),
        (Filters(topic="education", district_id=BERUNIY), [listed["expired"], listed["open"]]),
        (Filters(status="open", topic="roads"), []),
    )
    for filters, expected in cases:
        assert ids_of(await services.search(filters, 1, 20)) == expected, filters


async def test_search_finds_either_script_and_any_apostrophe(listed: dict[str, int]) -> None:
    for query, expected in (
        ("maktab", {listed["open"], listed["expired"]}),
        ("мактаб", {listed["open"], listed["expired"]}),
        ("Қишлоққа ЯНГИ", {listed["open"]}),
        ("yangi maktab", {listed["open"]}),
        ("ko'prik", {listed["responded"]}),
        ("ko‘prik ta’mirlansin", {listed["responded"]}),
        ("КЎПРИК", {listed["responded"]}),
        ("koprik", {listed["responded"]}),
        ("guzar", {listed["threshold_reached"]}),
        ("maktab suvi", set()),
    ):
        found = set(ids_of(await services.search(Filters(search=query), 1, 20)))
        assert found == expected, query


async def test_search_finds_cyrillic_typed_on_a_russian_keyboard(listed: dict[str, int]
                                                                 ) -> None:
    # Қишлоққа and кўприк as typed without the Uzbek letters: кишлокка, куприк.
    for query, expected in (("кишлокка", listed["open"]), ("куприк", listed["responded"])):
        assert ids_of(await services.search(Filters(search=query), 1, 20)) == [expected], query


async def test_each_row_carries_its_signature_count(listed: dict[str, int],
                                                    mahallas: list[int]) -> None:
    for person in await make_residents(2, mahallas[0], first=1000):
        await services.sign(listed["open"], person)
    counts = {row["id"]: row["signature_count"]
              for row in (await services.search(Filters(), 1, 20)).items}
    assert counts == {listed[s]: 2 if s == "open" else 0 for s in services.PUBLIC_STATUSES}


async def test_the_addressee_is_reminded_before_and_after_the_answer_is_due(
        awaiting_id: int, official: StaffMember) -> None:
    due = (await petition_row(awaiting_id))["response_due_at"]
    assert await accountability.remind_due(due - timedelta(days=10)) == 0
    assert await accountability.remind_due(due - timedelta(days=1)) > 0
    assert await accountability.remind_due(due - timedelta(hours=20)) == 0
    assert {m["recipient_id"] for m in await outbox("obligation.due_soon")} == {official.id}
    assert await accountability.remind_due(due + timedelta(hours=1)) > 0
    assert {m["recipient_id"] for m in await outbox("obligation.overdue")} == {official.id}
    await answer(official, awaiting_id)
    assert await accountability.remind_due(due + timedelta(days=1)) == 0
