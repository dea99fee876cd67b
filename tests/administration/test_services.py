"""Pilot districts and petition rules changed by a national administrator: checked, recorded for
staff and the public, and used at once by reports, the map and petitions."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from ovoz.accounts.permissions import PermissionDenied, StaffMember
from ovoz.accounts.tables import StaffAudit
from ovoz.administration import services as administration
from ovoz.administration.services import AdministrationError
from ovoz.administration.tables import Setting
from ovoz.geo import services as geo
from ovoz.ledger import services as ledger
from ovoz.ledger.tables import LedgerEntry
from ovoz.petitions import services as petitions
from ovoz.reports import services as reports
from ovoz.reports.services import ReportError
from ovoz.settings import PetitionRules, get_settings
from tests.petitions.helpers import (
    beruniy_mahallas,
    make_district_official,
    make_moderator,
    make_residents,
    make_verified,
    open_petition,
    petition_row,
)
from tests.reports.helpers import (
    BERUNIY,
    BOYSUN,
    CHORTOQ,
    draft,
    load_demo_mahallas,
    make_resident,
)
from tests.reports.service_helpers import BOYSUN_POINT, CHORTOQ_POINT

# Amudaryo, Beruniy's neighbour: a known district without a rectangle on the map.
AMUDARYO = 15
RULES = PetitionRules(threshold=7, population_percent=0.0, window_days=10, response_days=5)


async def ledger_entries(kind: str) -> list[dict[str, object]]:
    rows = await LedgerEntry.select(LedgerEntry.subject, LedgerEntry.payload).where(
        LedgerEntry.kind == kind).order_by(LedgerEntry.seq)
    return [{"subject": row["subject"], "payload": json.loads(row["payload"])} for row in rows]


async def refusal(call: object) -> AdministrationError:
    with pytest.raises(AdministrationError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_without_a_change_the_configured_values_apply(db: str) -> None:
    assert await administration.pilot_district_ids() == get_settings().pilot_districts
    assert await geo.pilot_district_ids() == (BERUNIY, CHORTOQ, BOYSUN)
    for level, rules in get_settings().petition_rules.items():
        assert await administration.petition_rules(level) == rules
    assert await administration.changes() == {}


async def test_only_a_national_administrator_changes_them(db: str) -> None:
    for staff in (await make_moderator(), await make_district_official()):
        with pytest.raises(PermissionDenied):
            await administration.set_pilot_districts(staff, [BERUNIY])
        with pytest.raises(PermissionDenied):
            await administration.set_petition_rules(staff, "mahalla", RULES)
    assert await Setting.count() == 0
    assert await StaffAudit.count() == 0


async def test_pilot_districts_must_be_known_and_on_the_map(
        administrator: StaffMember) -> None:
    cases = [([], "no_pilots"), ([BERUNIY, 99_999], "unknown_district"), ([0], "unknown_district"),
             ([BERUNIY, AMUDARYO], "not_on_map")]
    for ids, code in cases:
        error = await refusal(administration.set_pilot_districts(administrator, ids))
        assert (error.code, error.field) == (code, "districts")
    assert await Setting.count() == 0
    assert await geo.pilot_district_ids() == get_settings().pilot_districts


@pytest.mark.parametrize(("field", "value"), [
    ("threshold", 0), ("threshold", 10_000_001), ("population_percent", -0.5),
    ("population_percent", 100.5), ("population_percent", float("nan")),
    ("window_days", 0), ("window_days", 366), ("response_days", 0), ("response_days", 366),
])
async def test_petition_rules_stay_within_the_configuration_limits(
        administrator: StaffMember, field: str, value: float) -> None:
    error = await refusal(administration.set_petition_rules(
        administrator, "mahalla", replace(RULES, **{field: value})))
    assert (error.code, error.field) == ("out_of_range", field)
    assert await Setting.count() == 0


async def test_a_level_must_be_one_of_the_addressees(administrator: StaffMember) -> None:
    error = await refusal(administration.set_petition_rules(administrator, "ministry", RULES))
    assert (error.code, error.field) == ("bad_level", "level")
    error = await refusal(administration.petition_rules("ministry"))
    assert error.code == "bad_level"


async def test_the_limits_themselves_are_accepted(administrator: StaffMember) -> None:
    highest = PetitionRules(10_000_000, 100.0, 365, 365)
    await administration.set_petition_rules(administrator, "regional_hokimiyat", highest)
    assert await administration.petition_rules("regional_hokimiyat") == highest
    lowest = PetitionRules(1, 0.0, 1, 1)
    await administration.set_petition_rules(administrator, "regional_hokimiyat", lowest)
    assert await administration.petition_rules("regional_hokimiyat") == lowest
    assert await Setting.count() == 1


async def test_a_district_made_a_pilot_takes_reports_and_shows_on_the_map(
        administrator: StaffMember, beruniy_only: None) -> None:
    await load_demo_mahallas()
    author = await make_resident()
    chortoq = draft(lat=CHORTOQ_POINT[0], lon=CHORTOQ_POINT[1])
    with pytest.raises(ReportError) as caught:
        await reports.create_report(author, chortoq)
    assert caught.value.code == "outside_pilot"

    assert await administration.set_pilot_districts(
        administrator, [CHORTOQ, BERUNIY, CHORTOQ]) == (BERUNIY, CHORTOQ)
    assert await geo.pilot_district_ids() == (BERUNIY, CHORTOQ)
    assert await geo.is_pilot(CHORTOQ) and not await geo.is_pilot(BOYSUN)
    assert await geo.pilot_district_at(*CHORTOQ_POINT) == CHORTOQ
    assert [row["id"] for row in await geo.pilot_districts()] == [BERUNIY, CHORTOQ]
    report_id = await reports.create_report(author, chortoq)
    assert (await reports.report(report_id))["district"] == CHORTOQ
    # The configuration is still what it says; the browser's choice wins over it.
    assert get_settings().pilot_districts == (BERUNIY,)


async def test_a_district_no_longer_a_pilot_refuses_reports(
        administrator: StaffMember) -> None:
    await load_demo_mahallas()
    author = await make_resident()
    boysun = draft(lat=BOYSUN_POINT[0], lon=BOYSUN_POINT[1])
    assert await reports.create_report(author, boysun) > 0
    await administration.set_pilot_districts(administrator, [BERUNIY, CHORTOQ])
    with pytest.raises(ReportError) as caught:
        await reports.create_report(author, boysun)
    assert caught.value.code == "outside_pilot"
    assert await reports.create_report(author, draft()) > 0


async def test_a_change_of_pilots_is_audited_and_in_the_ledger(
        administrator: StaffMember) -> None:
    await administration.set_pilot_districts(administrator, [BOYSUN, BERUNIY])
    [audit] = await StaffAudit.select().where(
        StaffAudit.action == "administration.pilot_districts_changed")
    assert audit["actor"] == administrator.id and audit["subject"] == "pilot_districts"
    detail = {"districts": [BERUNIY, BOYSUN], "previous": [BERUNIY, CHORTOQ, BOYSUN]}
    assert json.loads(audit["detail"]) == detail
    assert await ledger_entries("administration.pilot_districts_changed") == [
        {"subject": "pilot_districts", "payload": detail}]
    change = (await administration.changes())[administration.PILOT_DISTRICTS]
    assert change.by == "Admin" and change.at == audit["at"]
    assert (await ledger.verify()).intact


async def test_a_changed_threshold_is_used_by_a_new_petition(
        administrator: StaffMember) -> None:
    await load_demo_mahallas()
    mahallas = await beruniy_mahallas()
    author = await make_verified(1, mahallas[0])
    backers = await make_residents(5, mahallas[0], first=100)
    moderator = await make_moderator()
    before = await open_petition(author, backers, moderator)
    assert (await petition_row(before))["threshold"] == 1000

    await administration.set_petition_rules(administrator, "district_hokimiyat", RULES)
    assert await petitions.rules("district_hokimiyat") == RULES
    assert await petitions.rules("mahalla") == get_settings().petition_rules["mahalla"]
    after = await petition_row(await open_petition(author, backers, moderator))
    assert after["threshold"] == 7
    assert after["closes_at"] - after["opened_at"] == timedelta(days=10)
    # The petition opened before keeps the number it opened with.
    assert (await petition_row(before))["threshold"] == 1000


async def test_a_change_of_rules_is_audited_and_in_the_ledger(
        administrator: StaffMember) -> None:
    await administration.set_petition_rules(administrator, "mahalla", RULES)
    numbers = {"threshold": 7, "population_percent": 0.0, "window_days": 10,
               "response_days": 5}
    [audit] = await StaffAudit.select().where(
        StaffAudit.action == "administration.petition_rules_changed")
    assert audit["actor"] == administrator.id and audit["subject"] == "petition_level:mahalla"
    assert json.loads(audit["detail"]) == numbers
    assert await ledger_entries("administration.petition_rules_changed") == [
        {"subject": "petition_level:mahalla", "payload": {"level": "mahalla", **numbers}}]
    changes = await administration.changes()
    assert set(changes) == {administration.petition_rules_key("mahalla")}
