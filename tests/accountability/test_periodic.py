"""Periodic accountability reports: the frozen snapshot, publishing into the ledger, versions
and corrections, who may write them, and NGO monitors' assessments."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from ovoz.accountability import clock, periodic
from ovoz.accountability.periodic import PeriodicError
from ovoz.accountability.scorecards import Period
from ovoz.accountability.tables import AccountabilityReport, Obligation
from ovoz.accounts.permissions import Grant, PermissionDenied, Role, StaffMember
from ovoz.ledger import services as ledger
from ovoz.ledger.tables import LedgerEntry
from ovoz.planning.tables import Cycle, Proposal
from ovoz.reports import services as reports
from tests.accountability.helpers import START, add_obligation, days
from tests.reports.helpers import (
    BERUNIY,
    CHORTOQ,
    REGION_OF,
    draft,
    load_demo_mahallas,
    make_official,
    make_resident,
    make_staff_account,
)

QUARTER = Period(date(2026, 7, 1), date(2026, 9, 30))
AS_OF = START + days(40)
NARRATIVE = "Yoʻllar taʼmirlandi.\r\nИшлар давом этмоқда.\r\nЖалобы рассмотрены в срок."


async def selected_project(title: str, reviewed_cost: int, spent: int) -> int:
    """A selected project, written straight into the tables: only its delivery is looked at."""
    cycle = await Cycle.insert(Cycle(
        district=BERUNIY, title="Demo cycle", budget=1_000_000_000, ballot_rule="approval",
        selection_rule="greedy", proposals_from=date(2026, 1, 1), review_from=date(2026, 2, 1),
        voting_from=date(2026, 3, 1), results_from=date(2026, 4, 1),
        implementation_from=date(2026, 4, 2), created_at=START)).returning(Cycle.id)
    created = await Proposal.insert(Proposal(
        cycle=cycle[0]["id"], title=title, description="A new roof for the school.",
        estimated_cost=reviewed_cost, reviewed_cost=reviewed_cost, status="selected",
        spent=spent, delivery_status="completed", created_at=START)).returning(Proposal.id)
    return int(created[0]["id"])


async def monitor(username: str, region: int | None = REGION_OF[BERUNIY]) -> StaffMember:
    grant = Grant(Role.NGO_MONITOR, region)
    return StaffMember(await make_staff_account(username, grant), (grant,))


async def published_report(official: Any, narrative: str = NARRATIVE) -> int:
    report_id = await periodic.draft_report(official, BERUNIY, QUARTER)
    await periodic.update_narrative(official, report_id, narrative)
    await periodic.publish_report(official, report_id)
    return report_id


async def row_of(report_id: int) -> dict[str, Any]:
    row = await periodic.report(report_id)
    assert row is not None
    return row


async def test_the_snapshot_holds_figures_and_lists_without_personal_data(
        db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    await load_demo_mahallas()
    official = await make_official()
    roads = await reports.create_department(official, BERUNIY, "Yoʻllar boʻlimi",
                                            name_en="Roads department")
    resident = await make_resident("+998901234567", "Dilnoza")
    report_id = await reports.create_report(resident, draft())
    # The report registered now is moved into the quarter: answered on day 3 of 15.
    await Obligation.update({
        Obligation.registered_at: START, Obligation.due_at: START + days(15),
        Obligation.resolved_at: START + days(3), Obligation.first_response_at: START + days(3),
        Obligation.closed_at: START + days(3), Obligation.outcome: "answered",
    }).where((Obligation.kind == "report") & (Obligation.ref == report_id))
    await add_obligation(9001, kind="petition", resolved_in=20, department=roads)
    await add_obligation(9002, due_in=15, department=roads)
    # Older backlog still overdue is listed; what came after the period is not.
    await add_obligation(9003, registered=START - days(30))
    await add_obligation(9004, registered=START + days(90), due_in=1)
    project = await selected_project("Maktab tomi", reviewed_cost=500_000, spent=450_000)
    await add_obligation(project, kind="delivery", due_in=30, resolved_in=20)

    frozen = await periodic.snapshot(BERUNIY, QUARTER, AS_OF)

    assert frozen["period"] == {"from": "2026-07-01", "until": "2026-09-30"}
    assert frozen["district"]["name_uz"] == "Beruniy tumani"
    figures = frozen["figures"]
    assert (figures["received"], figures["resolved"], figures["overdue"]) == (3, 2, 1)
    assert (figures["projects_due"], figures["projects_delivered"]) == (1, 1)
    by_body = {body["id"]: body for body in frozen["departments"]}
    assert by_body[roads]["names"]["name_en"] == "Roads department"
    assert by_body[roads]["figures"]["received"] == 2
    assert by_body[None]["names"] is None and by_body[None]["figures"]["received"] == 1

    responses = frozen["responses"]
    assert responses["count"] == 2
    first, late = responses["items"]
    assert (first["kind"], first["ref"], first["path"]) == ("report", report_id,
                                                            f"/reports/{report_id}")
    assert first["title_names"]["uz"] and first["on_time"] is True
    assert first["answered_at"] == "2026-07-09T05:00:00Z"
    assert (late["kind"], late["on_time"]) == ("petition", False)

    overdue = frozen["overdue"]
    assert [(item["ref"], item["days_late"]) for item in overdue["items"]] == [
        (9003, 55), (9002, 25)]
    assert overdue["count"] == 2

    (delivered,) = frozen["delivered"]["items"]
    assert delivered == {
        "ref": project, "title": "Maktab tomi", "path": f"/proposals/{project}",
        "delivered_at": "2026-07-26T05:00:00Z", "due_at": "2026-08-05T05:00:00Z",
        "reviewed_cost": 500_000, "spent": 450_000, "on_time": True, "on_budget": True}

    text = json.dumps(frozen, ensure_ascii=False)
    for personal in ("Dilnoza", "+998901234567", "998901234567", "pothole by the school"):
        assert personal not in text

    monkeypatch.setattr(periodic, "LIST_CAP", 1)
    capped = await periodic.snapshot(BERUNIY, QUARTER, AS_OF)
    assert capped["responses"]["count"] == 2 and len(capped["responses"]["items"]) == 1


async def test_publishing_records_the_hash_in_the_ledger_and_it_recomputes(db: str) -> None:
    official = await make_official()
    await add_obligation(1, resolved_in=3)
    report_id = await periodic.draft_report(official, BERUNIY, QUARTER)
    row = await row_of(report_id)
    assert (row["status"], row["version"], row["sha256"]) == ("draft", 1, "")
    assert row["title"] == "Beruniy tumani, iyul–sentabr 2026"
    assert json.loads(row["snapshot"])["figures"]["received"] == 1
    assert await periodic.public_report(report_id) is None

    with pytest.raises(PeriodicError) as no_words:
        await periodic.publish_report(official, report_id)
    assert no_words.value.code == "bad_narrative"
    await periodic.update_narrative(official, report_id, NARRATIVE)
    digest = await periodic.publish_report(official, report_id)

    row = await row_of(report_id)
    assert row["status"] == "published" and row["sha256"] == digest
    assert row["narrative"] == NARRATIVE.replace("\r\n", "\n")
    assert row["published_by"] == official.id and row["published_at"] is not None
    # Anyone can recompute the hash from the stored content, byte for byte.
    assert hashlib.sha256(periodic.content_bytes(row)).hexdigest() == digest
    content = json.loads(periodic.content_bytes(row))
    assert content["narrative"] == row["narrative"] and content["version"] == 1
    entry = await periodic.ledger_entry(report_id)
    assert entry is not None
    recorded = await LedgerEntry.select().where(LedgerEntry.seq == entry["seq"]).first()
    assert recorded["kind"] == "accountability.report_published"
    assert recorded["subject"] == f"accountability_report:{report_id}"
    assert json.loads(recorded["payload"]) == {
        "sha256": digest, "version": 1, "district": BERUNIY, "period_from": "2026-07-01",
        "period_until": "2026-09-30", "supersedes": None}
    assert (await ledger.verify()).intact


async def test_a_published_report_cannot_be_changed(db: str) -> None:
    official = await make_official()
    report_id = await published_report(official)
    before = await row_of(report_id)
    for attempt in (periodic.update_narrative(official, report_id, "Something else entirely."),
                    periodic.refresh_draft(official, report_id),
                    periodic.publish_report(official, report_id)):
        with pytest.raises(PeriodicError) as refused:
            await attempt
        assert refused.value.code == "not_draft"
    assert await row_of(report_id) == before
    with pytest.raises(PeriodicError) as again:
        await periodic.draft_report(official, BERUNIY, QUARTER)
    assert again.value.code == "already_published"


async def test_a_correction_is_version_two_with_the_difference(db: str) -> None:
    official = await make_official()
    await add_obligation(1, resolved_in=3)
    await add_obligation(2)
    first = await published_report(official, "Two items came in.\nOne was answered.")
    with pytest.raises(PeriodicError) as no_note:
        await periodic.correct_report(official, first, None, "short")
    assert no_note.value.code == "bad_correction_note"
    second = await periodic.correct_report(
        official, first, "Two items came in.\nBoth were answered.",
        "The second answer was not counted.")
    with pytest.raises(PeriodicError) as twice:
        await periodic.correct_report(official, first, None, "Another correction at once.")
    assert twice.value.code == "draft_exists"
    draft_row = await row_of(second)
    assert (draft_row["version"], draft_row["status"]) == (2, "draft")
    assert draft_row["snapshot"] == (await row_of(first))["snapshot"]
    assert await periodic.public_report(second) is None

    # The late answer is recorded; the correction takes the figures again.
    await Obligation.update({Obligation.resolved_at: START + days(30),
                             Obligation.closed_at: START + days(30),
                             Obligation.outcome: "answered"}).where(Obligation.ref == 2)
    await periodic.refresh_draft(official, second)
    digest = await periodic.publish_report(official, second)

    older, newer = await row_of(first), await row_of(second)
    assert (older["status"], newer["status"]) == ("superseded", "published")
    assert await periodic.public_report(first) is not None
    assert [v["version"] for v in await periodic.versions(newer)] == [1, 2]
    listed = await periodic.published(None, 1, 20)
    assert [item["id"] for item in listed.items] == [second]
    entry = await LedgerEntry.select().where(
        LedgerEntry.subject == f"accountability_report:{second}").first()
    assert json.loads(entry["payload"])["supersedes"] == first
    assert json.loads(entry["payload"])["sha256"] == digest

    difference = periodic.diff(older, newer)
    changed = {("district" if body is None else body["id"], key): (old, new)
               for body, key, old, new in difference.figures}
    assert changed[("district", "resolved")] == (1, 2)
    assert changed[("district", "answered_late")] == (0, 1)
    # The same change, for the items the hokimiyat answers itself.
    assert changed[(None, "resolved")] == (1, 2)
    assert ("responses", 1, 2) in difference.lists
    assert ("removed", "One was answered.") in difference.narrative
    assert ("added", "Both were answered.") in difference.narrative
    assert ("same", "Two items came in.") in difference.narrative
    assert difference.title is None

    with pytest.raises(PeriodicError) as superseded:
        await periodic.correct_report(official, first, None, "Correcting an old version.")
    assert superseded.value.code == "not_published"


async def test_only_the_district_hokimiyat_writes_its_reports(db: str) -> None:
    official = await make_official()
    roads = await reports.create_department(official, BERUNIY, "Yoʻllar")
    department = await make_official("roads", department_id=roads)
    elsewhere = await make_official("chortoq", district_id=CHORTOQ)
    regional_grant = Grant(Role.OFFICIAL, REGION_OF[BERUNIY])
    regional = StaffMember(await make_staff_account("region", regional_grant),
                           (regional_grant,))
    admin_grant = Grant(Role.ADMINISTRATOR)
    admin = StaffMember(await make_staff_account("admin", admin_grant), (admin_grant,))
    for outsider in (department, elsewhere, regional, admin):
        with pytest.raises(PermissionDenied):
            await periodic.draft_report(outsider, BERUNIY, QUARTER)
    assert await periodic.reporting_districts(department) == []
    assert [d["id"] for d in await periodic.reporting_districts(official)] == [BERUNIY]

    report_id = await periodic.draft_report(official, BERUNIY, QUARTER)
    with pytest.raises(PermissionDenied):
        await periodic.update_narrative(elsewhere, report_id, NARRATIVE)
    with pytest.raises(PermissionDenied):
        await periodic.publish_report(department, report_id)
    assert (await row_of(report_id))["status"] == "draft"

    # The day in Tashkent: in the evening UTC it is already tomorrow there.
    today = clock.local_day(datetime.now(UTC))
    for start, end in ((date(2026, 9, 30), date(2026, 7, 1)),
                       (date(2025, 1, 1), date(2026, 6, 30)),
                       (today.replace(day=1), today)):
        with pytest.raises(PeriodicError) as bad:
            await periodic.draft_report(official, BERUNIY, Period(start, end))
        assert bad.value.code == "bad_period"


async def test_monitors_assess_published_versions_once_each(db: str) -> None:
    official = await make_official()
    report_id = await periodic.draft_report(official, BERUNIY, QUARTER)
    watcher = await monitor("watcher")
    with pytest.raises(PeriodicError) as unpublished:
        await periodic.add_assessment(watcher, report_id, "Ochiq tuman", "agree",
                                      "We checked ten answers; all were given on time.")
    assert unpublished.value.code == "not_published"
    await periodic.update_narrative(official, report_id, NARRATIVE)
    await periodic.publish_report(official, report_id)

    assessment = await periodic.add_assessment(
        watcher, report_id, "  Ochiq   tuman ", "partly",
        "We checked ten answers; two came after the due date.")
    with pytest.raises(PeriodicError) as twice:
        await periodic.add_assessment(watcher, report_id, "Ochiq tuman", "agree",
                                      "A second opinion from the same monitor.")
    assert twice.value.code == "already_assessed"
    with pytest.raises(PeriodicError) as verdict:
        await periodic.add_assessment(await monitor("national", None), report_id,
                                      "Shaffof", "maybe", "A verdict that is not offered.")
    assert verdict.value.code == "bad_verdict"
    await periodic.add_assessment(await monitor("national2", None), report_id, "Shaffof",
                                  "disagree", "The overdue list misses several items.")
    with pytest.raises(PermissionDenied):
        await periodic.add_assessment(await monitor("namangan", REGION_OF[CHORTOQ]), report_id,
                                      "Boshqa", "agree", "A monitor from another region.")
    with pytest.raises(PermissionDenied):
        await periodic.add_assessment(official, report_id, "Hokimiyat", "agree",
                                      "The hokimiyat cannot assess itself.")

    shown = await periodic.assessments(report_id)
    assert [(a["organisation"], a["verdict"]) for a in shown] == [
        ("Ochiq tuman", "partly"), ("Shaffof", "disagree")]
    assert shown[0]["id"] == assessment
    recorded = await LedgerEntry.select().where(
        LedgerEntry.kind == "accountability.report_assessed").order_by(LedgerEntry.seq)
    assert json.loads(recorded[0]["payload"])["verdict"] == "partly"

    second = await periodic.correct_report(official, report_id, None, "A figure was wrong.")
    await periodic.publish_report(official, second)
    with pytest.raises(PeriodicError) as superseded:
        await periodic.add_assessment(await monitor("late"), report_id, "Kech", "agree",
                                      "Assessing a version that was corrected.")
    assert superseded.value.code == "not_published"
    assert await AccountabilityReport.count().where(
        AccountabilityReport.district == BERUNIY) == 2


def test_periods_are_named_in_each_language() -> None:
    assert periodic.period_label(date(2026, 7, 1), date(2026, 9, 30), "uz") == \
        "iyul–sentabr 2026"
    assert periodic.period_label(date(2026, 7, 1), date(2026, 9, 30), "en") == \
        "July–September 2026"
    assert periodic.period_label(date(2026, 7, 1), date(2026, 9, 30), "ru") == \
        "июль–сентябрь 2026"
    assert periodic.period_label(date(2026, 7, 1), date(2026, 7, 31), "en") == "July 2026"
    assert periodic.period_label(date(2026, 7, 5), date(2026, 7, 20), "en") == \
        "July 5, 2026 – July 20, 2026"
    assert periodic.last_quarter(datetime(2026, 11, 22, tzinfo=UTC)) == QUARTER
    assert periodic.last_quarter(datetime(2027, 2, 1, tzinfo=UTC)) == Period(
        date(2026, 10, 1), date(2026, 12, 31))
