"""What national administrators change in the browser instead of litestar.toml: the pilot
districts and the petition rules of each level of addressee.

A row of administration_setting overrides the configuration value of its key; without one the
configured value applies. Values are read from the database at every use, never kept in the
process, so every app server agrees as soon as one is changed. Each change is checked, recorded
for staff (StaffAudit) and for the public (the ledger) in one transaction.

Feature services (geo, petitions) read through here, so this module imports none of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Final

from ovoz import ledger
from ovoz.accounts.permissions import NATIONAL, Action, StaffMember, require
from ovoz.accounts.staff import audit
from ovoz.administration.tables import Setting
from ovoz.db import transaction
from ovoz.geo.bounds import district_bounds
from ovoz.geo.tables import District
from ovoz.settings import PETITION_LEVELS, PETITION_RULE_LIMITS, PetitionRules, get_settings

# The keys are those of litestar.toml, so a row names the value it overrides.
PILOT_DISTRICTS: Final = "places.pilot_districts"


def petition_rules_key(level: str) -> str:
    return f"petitions.levels.{level}"


class AdministrationError(ValueError):
    """A change was refused. Codes: no_pilots, unknown_district, not_on_map (field
    "districts"); bad_level (field "level"); out_of_range (the field is the rule's)."""

    def __init__(self, code: str, field: str) -> None:
        super().__init__(f"{field}: {code}")
        self.code = code
        self.field = field


@dataclass(frozen=True, slots=True)
class Change:
    """The last change of a setting in the browser: by whom (None once that staff account is
    gone) and when."""

    by: str | None
    at: datetime


def now() -> datetime:
    return datetime.now(UTC)


async def _override(key: str) -> Any | None:
    row = await Setting.select(Setting.value).where(Setting.key == key).first()
    return None if row is None else json.loads(row["value"])


async def _save(staff: StaffMember, key: str, value: Any, at: datetime) -> None:
    await Setting.insert(
        Setting(key=key, value=json.dumps(value, sort_keys=True), updated_by=staff.id,
                updated_at=at)
    ).on_conflict(target=Setting.key, action="DO UPDATE",
                  values=[Setting.value, Setting.updated_by, Setting.updated_at])


async def changes() -> dict[str, Change]:
    """Every setting changed in the browser, by key."""
    rows = await Setting.select(Setting.key, Setting.updated_at,
                                Setting.updated_by.display_name.as_alias("by"))
    return {row["key"]: Change(row["by"], row["updated_at"]) for row in rows}


# -- pilot districts ---------------------------------------------------------------------------

async def pilot_district_ids() -> tuple[int, ...]:
    """The districts where residents take part: the administrators' choice, else the
    configured places.pilot_districts."""
    chosen = await _override(PILOT_DISTRICTS)
    return get_settings().pilot_districts if chosen is None else tuple(chosen)


async def set_pilot_districts(staff: StaffMember, district_ids: Iterable[int]
                              ) -> tuple[int, ...]:
    """Make exactly these districts the pilots. Each must be a known district with a rectangle
    on the map, since reports and proposals are placed by it."""
    require(staff, Action.MANAGE_PLACES, NATIONAL)
    chosen = tuple(sorted(set(district_ids)))
    if not chosen:
        raise AdministrationError("no_pilots", "districts")
    known = await District.select(District.id).where(District.id.is_in(list(chosen))
                                                     ).output(as_list=True)
    if len(known) != len(chosen):
        raise AdministrationError("unknown_district", "districts")
    if not set(chosen) <= district_bounds().keys():
        raise AdministrationError("not_on_map", "districts")
    at = now()
    async with transaction():
        previous = await pilot_district_ids()
        await _save(staff, PILOT_DISTRICTS, list(chosen), at)
        detail = {"districts": list(chosen), "previous": list(previous)}
        await audit(staff.id, "administration.pilot_districts_changed", "pilot_districts", at,
                    detail)
        await ledger.record("administration.pilot_districts_changed", "pilot_districts", detail)
    return chosen


# -- petition rules ----------------------------------------------------------------------------

def _level(level: str) -> str:
    if level not in PETITION_LEVELS:
        raise AdministrationError("bad_level", "level")
    return level


async def petition_rules(level: str) -> PetitionRules:
    """What a petition to this level needs: the administrators' rules, else the configured
    petitions.levels.<level>."""
    chosen = await _override(petition_rules_key(_level(level)))
    return get_settings().petition_rules[level] if chosen is None else PetitionRules(**chosen)


def petition_rules_problems(numbers: Mapping[str, float | None]) -> list[AdministrationError]:
    """Every rule missing (None) or outside PETITION_RULE_LIMITS, those of litestar.toml; a
    form shows them all at once."""
    return [AdministrationError("out_of_range", field)
            for field, (low, high) in PETITION_RULE_LIMITS.items()
            if (number := numbers.get(field)) is None or isinstance(number, bool)
            or not low <= number <= high]


async def set_petition_rules(staff: StaffMember, level: str, rules: PetitionRules) -> None:
    """New rules for petitions to this level. They apply to petitions opened from now on and
    to the answering terms that start from now on."""
    require(staff, Action.MANAGE_PLACES, NATIONAL)
    _level(level)
    values = asdict(rules)
    problems = petition_rules_problems(values)
    if problems:
        raise problems[0]
    at = now()
    async with transaction():
        await _save(staff, petition_rules_key(level), values, at)
        await audit(staff.id, "administration.petition_rules_changed", f"petition_level:{level}",
                    at, values)
        await ledger.record("administration.petition_rules_changed", f"petition_level:{level}",
                            {"level": level, **values})
