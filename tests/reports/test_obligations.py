"""A report's obligation follows it: registered, answered, re-routed, extended, reopened."""

from __future__ import annotations

from typing import Any

from ovoz.accountability import services as accountability
from ovoz.accounts.permissions import StaffMember
from ovoz.reports import services
from tests.reports.helpers import BERUNIY, REGION_OF, draft, make_resident
from tests.reports.service_helpers import report_row


async def obligation_of(report_id: int) -> dict[str, Any]:
    row = await accountability.obligation(accountability.REPORT, report_id)
    assert row is not None
    return row


async def test_registering_starts_the_clock_at_the_district(report_id: int) -> None:
    report, row = await report_row(report_id), await obligation_of(report_id)
    assert (row["body"], row["region"], row["district"], row["mahalla"], row["department"]) == (
        "district", REGION_OF[BERUNIY], BERUNIY, report["mahalla"], None)
    assert (row["registered_at"], row["due_at"], row["original_due_at"]) == (
        report["registered_at"], report["due_at"], report["due_at"])
    assert row["closed_at"] is None and row["outcome"] == ""
    assert not accountability.is_overdue(row, report["registered_at"])
    assert accountability.is_overdue(row, report["due_at"])


async def test_first_response_resolution_and_a_disputed_fix(
        report_id: int, author: int, official: StaffMember) -> None:
    await services.add_note(official, report_id, "Koʻrib chiqilmoqda.")
    noted = await obligation_of(report_id)
    assert noted["first_response_at"] is not None and noted["resolved_at"] is None
    await services.change_status(official, report_id, services.FIXED, "Tuzatildi.")
    fixed = await obligation_of(report_id)
    assert fixed["first_response_at"] == noted["first_response_at"]
    assert fixed["outcome"] == "answered"
    assert fixed["resolved_at"] == (await report_row(report_id))["resolved_at"]
    await services.record_fix_feedback(report_id, author, False, "Hali ham chuqur bor.")
    reopened = await obligation_of(report_id)
    assert (reopened["resolved_at"], reopened["closed_at"], reopened["outcome"]) == (
        None, None, "")
    await services.change_status(official, report_id, services.CLOSED_NOT_FIXED,
                                 "Mablagʻ yetmadi.")
    assert (await obligation_of(report_id))["outcome"] == "answered"


async def test_rerouting_moves_the_obligation_to_the_department(
        report_id: int, official: StaffMember) -> None:
    roads = await services.create_department(official, BERUNIY, "Yoʻl xoʻjaligi")
    await services.reroute(official, report_id, roads, "Yoʻl boʻlimiga.")
    row = await obligation_of(report_id)
    assert (row["body"], row["department"]) == ("department", roads)
    await services.reroute(official, report_id, None, "Hokimiyatning oʻzi.")
    row = await obligation_of(report_id)
    assert (row["body"], row["department"]) == ("district", None)


async def test_a_second_extension_is_refused_and_the_clock_keeps_the_first(
        report_id: int, official: StaffMember) -> None:
    await services.extend(official, report_id, 10, "Asfalt bahorda keladi.")
    first = await obligation_of(report_id)
    assert first["extended_at"] is not None
    try:
        await services.extend(official, report_id, 10, "Yana kechikadi.")
    except services.ReportError as error:
        assert error.code == "already_extended"
    else:
        raise AssertionError("a second extension was allowed")
    assert await obligation_of(report_id) == first


async def test_each_report_has_its_own_obligation(author: int) -> None:
    other = await make_resident("+998901119999", "Olim")
    first = await services.create_report(author, draft())
    second = await services.create_report(other, draft(
        description="Koʻcha chiroqlari ishlamaydi."))
    rows = await accountability.obligations_of(accountability.REPORT, [first, second, first])
    assert set(rows) == {first, second}
