"""The other things an official does with a report: acknowledge many at once, add a note,
send it to another department, extend its deadline once."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from ovoz.accountability import clock
from ovoz.accountability import services as accountability
from ovoz.accounts.permissions import PermissionDenied, StaffMember
from ovoz.reports import services
from ovoz.reports.services import ReportError
from tests.reports.helpers import (
    BERUNIY,
    CHORTOQ,
    draft,
    make_official,
)
from tests.reports.service_helpers import (
    CHORTOQ_POINT,
    category_id,
    ledger_entries,
    outbox,
    report_row,
    status_of,
)

# -- acknowledging many -----------------------------------------------------------------------

async def test_acknowledge_many_changes_only_the_new_reports_the_official_answers(
        author: int, official: StaffMember) -> None:
    first = await services.create_report(author, draft())
    second = await services.create_report(author, draft())
    seen = await services.create_report(author, draft())
    await services.change_status(official, seen, "acknowledged", "Seen before.")
    in_chortoq = await services.create_report(author, draft(lat=CHORTOQ_POINT[0],
                                                            lon=CHORTOQ_POINT[1]))
    changed = await services.acknowledge_many(
        official, [second, first, seen, in_chortoq, second, first + 1000], "We have seen it.")
    assert changed == [second, first]
    assert [await status_of(r) for r in (first, second, seen, in_chortoq)] == [
        "acknowledged", "acknowledged", "acknowledged", "new"]
    assert [h["note"] for h in await services.history(first)] == ["We have seen it."]
    assert len(await services.history(seen)) == 1


async def test_acknowledge_many_skips_other_departments(author: int,
                                                        official: StaffMember) -> None:
    roads = await services.create_department(official, BERUNIY, "Yoʻl xoʻjaligi")
    water = await services.create_department(official, BERUNIY, "Suvoqova")
    await services.set_route(official, BERUNIY, await category_id("water"), water)
    roads_official = await make_official("yollar", BERUNIY, roads)
    piped = await services.create_report(author, draft(category="water"))
    assert await services.acknowledge_many(roads_official, [piped], "Seen.") == []
    assert await status_of(piped) == "new"


async def test_acknowledge_many_needs_a_note(report_id: int, official: StaffMember
                                             ) -> None:
    with pytest.raises(ReportError) as caught:
        await services.acknowledge_many(official, [report_id], " ")
    assert caught.value.code == "note_required"
    assert await status_of(report_id) == "new"


# -- notes ------------------------------------------------------------------------------------

async def test_a_note_answers_without_changing_the_status(report_id: int,
                                                          official: StaffMember) -> None:
    await services.add_note(official, report_id, "  The crew   comes on Monday. ")
    row = await report_row(report_id)
    assert row["status"] == "new" and row["first_response_at"] is not None
    first_response = row["first_response_at"]
    await services.add_note(official, report_id, "Asphalt ordered.")
    assert (await report_row(report_id))["first_response_at"] == first_response
    history = await services.history(report_id)
    assert [(h["kind"], h["note"], h["staff"]) for h in history] == [
        ("note", "The crew comes on Monday.", official.id),
        ("note", "Asphalt ordered.", official.id)]
    entries = await ledger_entries("reports.noted")
    assert len(entries) == 2 and "Monday" not in entries[0]["raw"]
    assert set(entries[0]["payload"]) == {"note_sha256"}


async def test_a_note_is_refused_when_empty_or_outside_the_officials_place(
        report_id: int) -> None:
    official = await make_official()
    with pytest.raises(ReportError) as caught:
        await services.add_note(official, report_id, "\n ")
    assert caught.value.code == "note_required"
    chortoq = await make_official("chortoq", CHORTOQ)
    with pytest.raises(PermissionDenied):
        await services.add_note(chortoq, report_id, "Not my district.")
    assert await services.history(report_id) == []


# -- rerouting --------------------------------------------------------------------------------

async def test_a_report_goes_to_another_department_of_its_district_and_back(
        report_id: int, official: StaffMember) -> None:
    roads = await services.create_department(official, BERUNIY, "Yoʻl xoʻjaligi")
    roads_official = await make_official("yollar", BERUNIY, roads)
    with pytest.raises(PermissionDenied):
        await services.add_note(roads_official, report_id, "Not yet ours.")
    await services.reroute(official, report_id, roads, "The roads department repairs roads.")
    assert (await report_row(report_id))["department"] == roads
    await services.add_note(roads_official, report_id, "Ours now.")
    await services.reroute(roads_official, report_id, None, "Back to the hokimiyat.")
    assert (await report_row(report_id))["department"] is None
    kinds = [h["kind"] for h in await services.history(report_id)]
    assert kinds == ["rerouted", "note", "rerouted"]
    payloads = [e["payload"] for e in await ledger_entries("reports.rerouted")]
    assert [(p["from"], p["to"]) for p in payloads] == [(None, roads), (roads, None)]


async def test_a_report_is_not_rerouted_to_another_districts_department(
        report_id: int, official: StaffMember) -> None:
    chortoq = await make_official("chortoq", CHORTOQ)
    chortoq_roads = await services.create_department(chortoq, CHORTOQ, "Yoʻl xoʻjaligi")
    for department_id in (chortoq_roads, chortoq_roads + 1000):
        with pytest.raises(ReportError) as caught:
            await services.reroute(official, report_id, department_id, "Over there.")
        assert caught.value.code == "unknown_department"
    assert (await report_row(report_id))["department"] is None


async def test_a_closed_report_is_not_rerouted(report_id: int, official: StaffMember
                                              ) -> None:
    roads = await services.create_department(official, BERUNIY, "Yoʻl xoʻjaligi")
    await services.change_status(official, report_id, "fixed", "Filled.")
    with pytest.raises(ReportError) as caught:
        await services.reroute(official, report_id, roads, "Too late.")
    assert caught.value.code == "not_open"


# -- extending --------------------------------------------------------------------------------

async def test_the_deadline_is_extended_once_with_a_reason(report_id: int,
                                                           official: StaffMember) -> None:
    due = (await report_row(report_id))["due_at"]
    await services.extend(official, report_id, 10, "  Asphalt   arrives in spring. ")
    row = await report_row(report_id)
    # Ten days on from the last day to answer; a day off at the end moves it to the next
    # working day (today's date decides whether a holiday falls there).
    last_day = clock.local_day(due - timedelta(seconds=1)) + timedelta(days=10)
    extended = clock.end_of(clock.next_working_day(last_day))
    assert row["due_at"] == extended >= due + timedelta(days=10)
    assert row["extended_at"] is not None
    assert row["extension_reason"] == "Asphalt arrives in spring."
    [step] = await services.history(report_id)
    assert (step["kind"], step["note"]) == ("extended", "Asphalt arrives in spring.")
    [message] = [m for m in await outbox("report.updated") if m["channel"] == "inapp"]
    assert json.loads(message["payload"])["status_msgid"] == "New"
    with pytest.raises(ReportError) as caught:
        await services.extend(official, report_id, 5, "Once more, please.")
    assert caught.value.code == "already_extended"
    assert (await report_row(report_id))["due_at"] == extended


@pytest.mark.parametrize("days", [0, -3, 31])
async def test_an_extension_is_one_to_thirty_days(report_id: int, official: StaffMember,
                                                  days: int) -> None:
    with pytest.raises(ReportError) as caught:
        await services.extend(official, report_id, days, "Asphalt arrives in spring.")
    assert caught.value.code == "bad_extension" and caught.value.field == "days"
    assert (await report_row(report_id))["extended_at"] is None


@pytest.mark.parametrize("days", [1, 30])
async def test_an_extension_at_the_limits_is_allowed(report_id: int,
                                                     official: StaffMember,
                                                     days: int) -> None:
    due = (await report_row(report_id))["due_at"]
    await services.extend(official, report_id, days, "Asphalt arrives in spring.")
    extended = (await report_row(report_id))["due_at"]
    assert extended == clock.extended(due, days) >= due + timedelta(days=days)
    obligation = await accountability.obligation(accountability.REPORT, report_id)
    assert obligation is not None
    assert (obligation["due_at"], obligation["original_due_at"]) == (extended, due)
    assert obligation["extension_reason"] == "Asphalt arrives in spring."


async def test_an_extension_needs_a_reason_an_open_report_and_permission(
        report_id: int, official: StaffMember) -> None:
    with pytest.raises(ReportError) as caught:
        await services.extend(official, report_id, 5, "  ")
    assert caught.value.code == "note_required"
    chortoq = await make_official("chortoq", CHORTOQ)
    with pytest.raises(PermissionDenied):
        await services.extend(chortoq, report_id, 5, "Not my district.")
    await services.change_status(official, report_id, "closed_not_fixed", "No budget.")
    with pytest.raises(ReportError) as caught:
        await services.extend(official, report_id, 5, "Too late.")
    assert caught.value.code == "not_open"
    assert (await report_row(report_id))["extended_at"] is None
