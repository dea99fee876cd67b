"""Monitors' watchlists: what may be watched, by whom, once each, and where each watched item
stands against its clock."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import pytest

from ovoz.accountability import periodic, watchlist
from ovoz.accountability import services as obligations
from ovoz.accountability.tables import Obligation, Watch
from ovoz.accountability.watchlist import WatchError
from ovoz.accounts.permissions import PermissionDenied
from ovoz.geo.tables import District
from ovoz.petitions import services as petitions
from ovoz.petitions.tables import Petition
from ovoz.planning.tables import Proposal
from ovoz.reports import services as reports
from ovoz.settings import get_settings
from tests.accountability.helpers import START, add_obligation, days
from tests.accountability.test_periodic import monitor, published_report, selected_project
from tests.petitions.helpers import beruniy_mahallas, district_petition, make_verified
from tests.reports.helpers import (
    BERUNIY,
    CHORTOQ,
    REGION_OF,
    draft,
    load_demo_mahallas,
    make_official,
    make_resident,
)


async def public_petition(number: int = 1) -> int:
    """A Beruniy petition collecting signatures: no answer is due yet."""
    petition_id = await draft_petition(number)
    await Petition.update({Petition.status: petitions.OPEN}).where(Petition.id == petition_id)
    return petition_id


async def draft_petition(number: int = 1) -> int:
    await load_demo_mahallas()
    author = await make_verified(number, (await beruniy_mahallas())[0])
    return await petitions.create_draft(author, district_petition())


async def refusal(call: Awaitable[Any]) -> WatchError:
    with pytest.raises(WatchError) as caught:
        await call
    return caught.value


async def test_a_monitor_watches_a_district_and_each_kind_of_item_once(db: str) -> None:
    watcher = await monitor("watcher")
    report_id = await reports.create_report(await make_resident(), draft())
    petition_id = await public_petition()
    project_id = await selected_project("School roof", 100_000_000, 90_000_000)
    wanted = {("district", BERUNIY), ("report", report_id), ("petition", petition_id),
              ("proposal", project_id)}

    for kind, ref in wanted:
        assert await watchlist.watch(watcher, kind, ref) is True
        # Again: still one entry, and the second call says it added nothing.
        assert await watchlist.watch(watcher, kind, ref) is False
    assert await watchlist.watched_keys(watcher.id) == wanted
    assert await Watch.count().where(Watch.staff == watcher.id) == 4
    # The database itself refuses a second row, whatever a caller might skip.
    with pytest.raises(Exception, match=r"(?i)unique"):
        await Watch.insert(Watch(staff=watcher.id, kind="report", ref=report_id,
                                 created_at=START))
    # Another monitor's list is its own.
    other = await monitor("other", None)
    assert await watchlist.watch(other, "report", report_id) is True
    assert await watchlist.watched_keys(other.id) == {("report", report_id)}

    listed = await watchlist.watched_items(watcher.id, 1, 20)
    assert listed.total == 3
    assert {(row["kind"], row["ref"]) for row in listed.items} == wanted - {
        ("district", BERUNIY)}

    for kind, ref in wanted:
        assert await watchlist.unwatch(watcher, kind, ref) is True
        assert await watchlist.unwatch(watcher, kind, ref) is False
    assert await watchlist.watched_keys(watcher.id) == set()
    assert await watchlist.watched_keys(other.id) == {("report", report_id)}


async def test_only_public_items_and_pilot_districts_within_reach_are_watched(db: str) -> None:
    watcher = await monitor("watcher")
    report_id = await reports.create_report(await make_resident(), draft())
    not_pilot = await District.select(District.id).where(
        District.id.not_in(list(get_settings().pilot_districts))).first()
    withdrawn = await selected_project("Withdrawn idea", 1_000_000, 0)
    await Proposal.update({Proposal.status: "withdrawn"}).where(Proposal.id == withdrawn)

    assert (await refusal(watchlist.watch(watcher, "mahalla", 1))).code == "bad_kind"
    assert (await refusal(watchlist.watch(watcher, "report", report_id + 100))).code \
        == "not_found"
    for ref in (0, -1, 2**31, 10**11):
        assert (await refusal(watchlist.watch(watcher, "petition", ref))).code == "not_found"
    assert (await refusal(watchlist.watch(watcher, "proposal", 9_999))).code == "not_found"
    draft_error = await refusal(watchlist.watch(watcher, "petition", await draft_petition()))
    assert (draft_error.code, draft_error.field) == ("not_public", "ref")
    assert (await refusal(watchlist.watch(watcher, "proposal", withdrawn))).code \
        == "not_public"
    assert (await refusal(watchlist.watch(watcher, "district", not_pilot["id"]))).code \
        == "not_pilot"
    assert (await refusal(watchlist.unwatch(watcher, "everything", 1))).code == "bad_kind"

    # A monitor of Karakalpakstan watches Beruniy, not Chortoq in Namangan region.
    with pytest.raises(PermissionDenied):
        await watchlist.watch(watcher, "district", CHORTOQ)
    namangan = await monitor("namangan", REGION_OF[CHORTOQ])
    with pytest.raises(PermissionDenied):
        await watchlist.watch(namangan, "report", report_id)
    # Watching is monitoring: an official, even of the district itself, may not.
    with pytest.raises(PermissionDenied):
        await watchlist.watch(await make_official(), "district", BERUNIY)
    assert await Watch.count() == 0


async def test_watched_items_carry_their_clock_and_state(db: str) -> None:
    watcher = await monitor("watcher", None)
    at = START + days(40)
    overdue = await reports.create_report(await make_resident(), draft())
    await Obligation.update({Obligation.due_at: START, Obligation.registered_at: START}).where(
        (Obligation.kind == "report") & (Obligation.ref == overdue))
    answered_late = await reports.create_report(await make_resident("+998901234568"), draft())
    await Obligation.delete().where((Obligation.kind == "report")
                                    & (Obligation.ref == answered_late))
    await add_obligation(answered_late, due_in=15, resolved_in=20)
    collecting = await public_petition()
    project = await selected_project("School roof", 100_000_000, 90_000_000)
    # The review was late; the delivery, the proposal's clock once selected, was on time.
    await add_obligation(project, kind="proposal_review", due_in=10, resolved_in=12)
    await add_obligation(project, kind="delivery", due_in=30, resolved_in=25)
    for kind, ref in (("report", overdue), ("report", answered_late),
                      ("petition", collecting), ("proposal", project)):
        await watchlist.watch(watcher, kind, ref)

    listed = await watchlist.watched_items(watcher.id, 1, 20)
    shown = {(row["kind"], row["ref"]): row for row in
             await watchlist.with_clocks(listed.items, at)}
    assert {key: row["state"] for key, row in shown.items()} == {
        ("report", overdue): watchlist.OVERDUE, ("report", answered_late): watchlist.LATE,
        ("petition", collecting): watchlist.NOT_DUE, ("proposal", project): watchlist.ON_TIME}
    assert shown[("proposal", project)]["clock"]["kind"] == "delivery"
    assert shown[("petition", collecting)]["clock"] is None
    assert obligations.title_of(shown[("report", overdue)]["item"], "en") == "Pothole"
    assert shown[("petition", collecting)]["item"]["title"] == district_petition().title
    assert shown[("proposal", project)]["item"]["public_path"] == f"/proposals/{project}"
    assert shown[("report", overdue)]["item"]["public_path"] == f"/reports/{overdue}"

    row = {"closed_at": None, "due_at": at + days(1), "outcome": "", "resolved_at": None}
    assert watchlist.state_of(row, at) == watchlist.OPEN
    assert watchlist.state_of(row | {"closed_at": at, "outcome": "lapsed"}, at) \
        == watchlist.LAPSED
    assert watchlist.state_of(row | {"closed_at": at, "outcome": "withdrawn"}, at) \
        == watchlist.WITHDRAWN


async def test_report_counts_are_the_current_versions_and_the_monitors_assessments(
        db: str) -> None:
    official = await make_official()
    watcher = await monitor("watcher")
    report_id = await published_report(official)
    assert await watchlist.report_counts(watcher.id, [BERUNIY, CHORTOQ]) == {
        BERUNIY: watchlist.ReportCounts(1, 0)}
    await periodic.add_assessment(watcher, report_id, "Ochiq tuman", "agree",
                                  "We checked ten answers; all were given on time.")
    await periodic.add_assessment(await monitor("other", None), report_id, "Shaffof",
                                  "agree", "Another monitor checked the same answers.")
    assert (await watchlist.report_counts(watcher.id, [BERUNIY]))[BERUNIY] \
        == watchlist.ReportCounts(1, 1)
    # A correction supersedes the assessed version: it waits for a new assessment.
    second = await periodic.correct_report(official, report_id, None, "A figure was wrong.")
    await periodic.publish_report(official, second)
    assert (await watchlist.report_counts(watcher.id, [BERUNIY]))[BERUNIY] \
        == watchlist.ReportCounts(1, 0)
