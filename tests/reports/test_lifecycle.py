"""An official moves a report on: the allowed steps, who may take them, duplicates, referrals,
the times kept, the followers told and the ledger."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from ovoz.accounts.permissions import PermissionDenied, StaffMember
from ovoz.i18n import locale
from ovoz.notify import services as notify
from ovoz.reports import services
from ovoz.reports.services import ReportError
from ovoz.reports.tables import Report, ReportUpdate
from tests.reports.helpers import (
    BERUNIY,
    CHORTOQ,
    draft,
    make_official,
    make_resident,
    photo,
)
from tests.reports.service_helpers import (
    CHORTOQ_POINT,
    category_id,
    ledger_entries,
    outbox,
    report_row,
    set_times,
    status_of,
)


@pytest.fixture
async def unlink_duplicates(db: str) -> AsyncIterator[None]:
    """The next test empties reports_report with one DELETE, which SQLite refuses while a
    report points at another (ON DELETE RESTRICT is checked row by row there)."""
    yield
    await Report.update({Report.duplicate_of: None}).where(Report.duplicate_of.is_not_null())


def later(hours: float) -> datetime:
    return services.now() + timedelta(hours=hours)


# -- the steps --------------------------------------------------------------------------------

async def test_a_report_moves_through_its_statuses(report_id: int,
                                                   official: StaffMember) -> None:
    for status in ("acknowledged", "in_progress", "fixed"):
        await services.change_status(official, report_id, status, f"Now {status}.")
        assert await status_of(report_id) == status
    history = await services.history(report_id)
    assert [(h["kind"], h["status_from"], h["status_to"], h["note"]) for h in history] == [
        ("status", "new", "acknowledged", "Now acknowledged."),
        ("status", "acknowledged", "in_progress", "Now in_progress."),
        ("status", "in_progress", "fixed", "Now fixed."),
    ]
    assert {h["staff"] for h in history} == {official.id}
    row = await report_row(report_id)
    assert row["fix_round"] == 1 and row["fixed_at"] == row["resolved_at"]


@pytest.mark.parametrize(("path", "target"), [
    ((), "new"),
    ((), "bogus"),
    (("acknowledged",), "acknowledged"),
    (("acknowledged",), "new"),
    (("in_progress",), "acknowledged"),
    (("in_progress",), "new"),
    (("fixed",), "acknowledged"),
    (("fixed",), "in_progress"),
    (("closed_not_fixed",), "fixed"),
])
async def test_refused_transitions(report_id: int, official: StaffMember,
                                   path: tuple[str, ...], target: str) -> None:
    for status in path:
        await services.change_status(official, report_id, status, "A step.")
    steps = await ReportUpdate.count()
    with pytest.raises(ReportError) as caught:
        await services.change_status(official, report_id, target, "Back again.")
    assert caught.value.code == "bad_transition" and caught.value.field == "status"
    assert await status_of(report_id) == (path[-1] if path else "new")
    assert await ReportUpdate.count() == steps


async def test_a_closed_report_cannot_be_moved_on(report_id: int, official: StaffMember
                                                 ) -> None:
    await services.change_status(official, report_id, "referred", "Gas is not ours.",
                                 referred_to="Hududgaztaʼminot")
    for status in services.STATUSES:
        with pytest.raises(ReportError) as caught:
            await services.change_status(official, report_id, status, "Try.")
        assert caught.value.code == "bad_transition"


@pytest.mark.parametrize(("note", "code"), [("", "note_required"), ("  \n\t ", "note_required"),
                                            ("n" * 2001, "note_too_long")])
async def test_a_status_change_needs_a_note(report_id: int, official: StaffMember,
                                            note: str, code: str) -> None:
    with pytest.raises(ReportError) as caught:
        await services.change_status(official, report_id, "acknowledged", note)
    assert caught.value.code == code and caught.value.field == "note"
    assert await status_of(report_id) == "new"


async def test_at_most_three_photos_with_a_step(report_id: int, official: StaffMember
                                                ) -> None:
    with pytest.raises(ReportError) as caught:
        await services.change_status(official, report_id, "fixed", "Done.",
                                     photos=[photo()] * 4)
    assert caught.value.code == "too_many_photos"
    await services.change_status(official, report_id, "fixed", "Done.", photos=[photo()])
    [step] = await services.history(report_id)
    assert len(step["photos"]) == 1
    assert [p["update"] for p in (await report_row(report_id))["photos"]] == [step["id"]]


async def test_an_unknown_report_is_not_found(report_id: int, official: StaffMember
                                              ) -> None:
    with pytest.raises(ReportError) as caught:
        await services.change_status(official, report_id + 1000, "acknowledged", "Seen.")
    assert caught.value.code == "not_found"


async def test_two_officials_closing_at_once_close_once(report_id: int,
                                                      official: StaffMember) -> None:
    colleague = await make_official("hokim-orinbosari")
    outcomes = await asyncio.gather(
        services.change_status(official, report_id, "fixed", "Filled."),
        services.change_status(colleague, report_id, "fixed", "Filled too."),
        return_exceptions=True)
    refused = [o for o in outcomes if isinstance(o, ReportError)]
    assert len(refused) == 1 and refused[0].code == "bad_transition"
    assert len(await services.history(report_id)) == 1
    assert (await report_row(report_id))["fix_round"] == 1


# -- who may --------------------------------------------------------------------------------

async def test_an_official_of_another_district_is_refused(report_id: int) -> None:
    chortoq = await make_official("chortoq", CHORTOQ)
    with pytest.raises(PermissionDenied):
        await services.change_status(chortoq, report_id, "acknowledged", "Seen.")
    assert await status_of(report_id) == "new"


async def test_department_officials_act_on_their_own_department_reports_only(
        author: int, official: StaffMember) -> None:
    roads = await services.create_department(official, BERUNIY, "Yoʻl xoʻjaligi")
    water = await services.create_department(official, BERUNIY, "Suvoqova")
    roads_official = await make_official("yollar", BERUNIY, roads)
    water_official = await make_official("suv", BERUNIY, water)
    hokimiyat_report = await services.create_report(author, draft())
    await services.set_route(official, BERUNIY, await category_id("roads.pothole"), roads)
    roads_report = await services.create_report(author, draft())
    with pytest.raises(PermissionDenied):
        await services.change_status(water_official, roads_report, "acknowledged", "Seen.")
    # A department's official does not answer for what the hokimiyat itself answers.
    with pytest.raises(PermissionDenied):
        await services.change_status(roads_official, hokimiyat_report, "acknowledged", "Seen.")
    await services.change_status(roads_official, roads_report, "acknowledged", "Seen.")
    assert await status_of(roads_report) == "acknowledged"
    # The whole district's official answers for every department.
    await services.change_status(official, roads_report, "in_progress", "Crew sent.")
    assert await status_of(roads_report) == "in_progress"


# -- times kept -------------------------------------------------------------------------------

async def test_the_first_response_is_kept_once_and_closing_sets_resolved_at(
        report_id: int, official: StaffMember) -> None:
    first, second, third = later(1), later(2), later(3)
    await services.change_status(official, report_id, "acknowledged", "Seen.", at=first)
    await services.change_status(official, report_id, "in_progress", "Crew sent.", at=second)
    row = await report_row(report_id)
    assert row["first_response_at"] == first and row["resolved_at"] is None
    assert row["updated_at"] == second
    await services.change_status(official, report_id, "closed_not_fixed", "No budget.",
                                 at=third)
    row = await report_row(report_id)
    assert row["first_response_at"] == first and row["resolved_at"] == third
    assert row["fixed_at"] is None and row["fix_round"] == 0


# -- duplicates -------------------------------------------------------------------------------

async def test_a_duplicate_points_at_the_root_of_a_chain_and_moves_its_followers(
        author: int, official: StaffMember, unlink_duplicates: None) -> None:
    original = await services.create_report(author, draft())
    second_author = await make_resident("+998901110001", "Bobur")
    third_author = await make_resident("+998901110002", "Malika")
    supporter = await make_resident("+998901110003", "Jasur")
    second = await services.create_report(second_author, draft())
    third = await services.create_report(third_author, draft())
    await services.add_support(third, supporter)
    await services.change_status(official, second, "duplicate", "Reported already.",
                                 duplicate_of=original)
    await services.change_status(official, third, "duplicate", "Reported already.",
                                 duplicate_of=second)
    assert (await report_row(second))["duplicate_of"] == original
    assert (await report_row(third))["duplicate_of"] == original
    assert (await report_row(third))["resolved_at"] is not None
    assert set(await notify.followers(f"report:{original}")) == {
        author, second_author, third_author, supporter}
    payloads = [e["payload"] for e in await ledger_entries("reports.status_changed")]
    assert [p["original"] for p in payloads] == [original, original]


async def test_a_duplicate_needs_a_valid_original(author: int, official: StaffMember,
                                                  unlink_duplicates: None) -> None:
    first = await services.create_report(author, draft())
    second = await services.create_report(author, draft())
    elsewhere = await services.create_report(author, draft(lat=CHORTOQ_POINT[0],
                                                           lon=CHORTOQ_POINT[1]))
    await services.change_status(official, second, "duplicate", "Same pothole.",
                                 duplicate_of=first)
    # None, itself, a cycle (second is a duplicate of first), another district, no report.
    for original in (None, first, second, elsewhere, second + 1000):
        with pytest.raises(ReportError) as caught:
            await services.change_status(official, first, "duplicate", "Same.",
                                         duplicate_of=original)
        assert caught.value.code == "unknown_original"
        assert caught.value.field == "duplicate_of"
    assert await status_of(first) == "new"
    assert len(await ledger_entries("reports.status_changed")) == 1


# -- referrals --------------------------------------------------------------------------------

async def test_a_referral_names_the_body(report_id: int, official: StaffMember) -> None:
    with pytest.raises(ReportError) as caught:
        await services.change_status(official, report_id, "referred", "Not ours.",
                                     referred_to="   ")
    assert caught.value.code == "referred_to_required"
    assert caught.value.field == "referred_to"
    await services.change_status(official, report_id, "referred", "Not ours.",
                                 referred_to="  Hududgaz   Beruniy ")
    row = await report_row(report_id)
    assert row["status"] == "referred" and row["referred_to"] == "Hududgaz Beruniy"
    [entry] = await ledger_entries("reports.status_changed")
    assert entry["payload"]["referred_to_sha256"] == hashlib.sha256(
        b"Hududgaz Beruniy").hexdigest()
    assert "Hududgaz" not in entry["raw"]


async def test_a_referral_comes_within_five_days(report_id: int, official: StaffMember
                                                 ) -> None:
    registered = (await report_row(report_id))["registered_at"]
    with pytest.raises(ReportError) as caught:
        await services.change_status(official, report_id, "referred", "Not ours.",
                                     referred_to="Hududgaz",
                                     at=registered + timedelta(days=5, seconds=1))
    assert caught.value.code == "referral_too_late"
    await set_times(report_id, registered_at=registered - timedelta(days=6))
    with pytest.raises(ReportError) as caught:
        await services.change_status(official, report_id, "referred", "Not ours.",
                                     referred_to="Hududgaz")
    assert caught.value.code == "referral_too_late"
    assert await status_of(report_id) == "new"
    await set_times(report_id, registered_at=registered - timedelta(days=4))
    await services.change_status(official, report_id, "referred", "Not ours.",
                                 referred_to="Hududgaz")
    assert await status_of(report_id) == "referred"


# -- followers and the ledger -----------------------------------------------------------------

def in_language(msgid: str, language: str) -> str:
    token = locale.current_language.set(language)
    try:
        return locale.gettext(msgid)
    finally:
        locale.current_language.reset(token)


async def test_followers_are_told_in_their_language(author: int,
                                                    official: StaffMember) -> None:
    russian = await make_resident("+998901110004", "Olga", language="ru")
    gone = await make_resident("+998901110005", "Timur")
    report_id = await services.create_report(author, draft())
    await services.add_support(report_id, russian)
    await services.add_support(report_id, gone)
    await notify.unfollow(gone, f"report:{report_id}")
    await notify.choose_channels(russian, ["inapp"])
    await services.change_status(official, report_id, "acknowledged", "Seen.")
    [step] = await services.history(report_id)
    messages = await outbox("report.updated")
    assert {m["key"] for m in messages} == {
        f"report:{report_id}:update:{step['id']}:{author}:inapp",
        f"report:{report_id}:update:{step['id']}:{author}:sms",
        f"report:{report_id}:update:{step['id']}:{russian}:inapp",
    }
    assert {(m["recipient_kind"], m["recipient_id"]) for m in messages} == {
        ("resident", author), ("resident", russian)}
    payload = json.loads(messages[0]["payload"])
    assert payload["status_msgid"] == "Acknowledged"
    assert payload["link"] == services.report_link(report_id)
    uzbek = notify.render("report.updated", payload, "uz")
    russian_text = notify.render("report.updated", payload, "ru")
    assert uzbek != russian_text
    assert "Yoʻldagi chuqur" in uzbek and in_language("Acknowledged", "uz") in uzbek
    assert "Яма на дороге" in russian_text and in_language("Acknowledged", "ru") in russian_text
    assert f"№{report_id}" in uzbek
    await notify.run_once({"inapp": notify.InAppChannel()}, 3)
    [bell] = await notify.inbox("resident", russian)
    assert bell["text"] == russian_text


async def test_each_step_is_a_new_message(report_id: int, official: StaffMember) -> None:
    await services.change_status(official, report_id, "acknowledged", "Seen.")
    await services.change_status(official, report_id, "in_progress", "Crew sent.")
    statuses = [json.loads(m["payload"])["status_msgid"] for m in await outbox("report.updated")
                if m["channel"] == "inapp"]
    assert statuses == ["Acknowledged", "In progress"]


async def test_the_ledger_keeps_a_digest_of_the_note(report_id: int,
                                                     official: StaffMember) -> None:
    note = "Crew of Rustam Aliyev (+998 90 123 45 67) will come on Monday."
    await services.change_status(official, report_id, "in_progress", note)
    [entry] = await ledger_entries("reports.status_changed")
    assert entry["subject"] == f"report:{report_id}"
    assert entry["payload"] == {"from": "new", "to": "in_progress",
                                "note_sha256": hashlib.sha256(note.encode()).hexdigest()}
    assert "Rustam" not in entry["raw"] and "Monday" not in entry["raw"]

