"""The one permission check: may this staff member do this action at this place?

Pure code, no database and no HTTP: the caller loads the person's active grants (revoked ones
are left out there) and the place of the item, and the web layer turns PermissionDenied into 403.

An administrator is national, or of one district: a district administrator runs that district's
mahallas, departments and routing, budget cycles and staff roles, but moderates, monitors and
reads the audit trail nowhere (see NATIONAL_ADMINISTRATOR_ACTIONS).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Protocol


class Role(StrEnum):
    ADMINISTRATOR = "administrator"
    MODERATOR = "moderator"
    OFFICIAL = "official"
    MAHALLA_STAFF = "mahalla_staff"
    NGO_MONITOR = "ngo_monitor"


class Action(StrEnum):
    VIEW_STAFF_AREA = "view_staff_area"
    MANAGE_ROLES = "manage_roles"
    MANAGE_PLACES = "manage_places"
    MODERATE = "moderate"
    ANSWER = "answer"
    MANAGE_CYCLES = "manage_cycles"
    MANAGE_DEPARTMENTS = "manage_departments"
    CONFIRM_RESIDENCE = "confirm_residence"
    ASSIST_RESIDENT = "assist_resident"
    MONITOR = "monitor"
    VIEW_AUDIT = "view_audit"


# What each role may do inside its own scope; covers() decides what the scope reaches.
ROLE_ACTIONS: Final[Mapping[Role, frozenset[Action]]] = MappingProxyType({
    Role.ADMINISTRATOR: frozenset({
        Action.VIEW_STAFF_AREA, Action.MANAGE_ROLES, Action.MANAGE_PLACES, Action.MODERATE,
        Action.MONITOR, Action.VIEW_AUDIT, Action.MANAGE_DEPARTMENTS, Action.MANAGE_CYCLES,
    }),
    Role.MODERATOR: frozenset({Action.VIEW_STAFF_AREA, Action.MODERATE, Action.MONITOR}),
    Role.OFFICIAL: frozenset({Action.VIEW_STAFF_AREA, Action.ANSWER, Action.MANAGE_CYCLES,
                              Action.MANAGE_DEPARTMENTS}),
    Role.MAHALLA_STAFF: frozenset({
        Action.VIEW_STAFF_AREA, Action.CONFIRM_RESIDENCE, Action.ASSIST_RESIDENT,
    }),
    Role.NGO_MONITOR: frozenset({Action.VIEW_STAFF_AREA, Action.MONITOR}),
})
# A budgeting cycle and the district's departments are the whole district's: an official
# limited to one department, or of the regional hokimiyat, manages neither.
WHOLE_DISTRICT_ACTIONS: Final = frozenset({Action.MANAGE_CYCLES, Action.MANAGE_DEPARTMENTS})
# What only a national administrator does. Moderating the district's own content and watching
# its hokimiyat belong to people independent of it, and the audit trail covers all staff; so a
# district administrator, who works for the hokimiyat, gets none of these even inside it.
NATIONAL_ADMINISTRATOR_ACTIONS: Final = frozenset({Action.MODERATE, Action.MONITOR,
                                                   Action.VIEW_AUDIT})


@dataclass(frozen=True, slots=True)
class Place:
    """The most specific unit an item belongs to, with its parents filled in: a report in
    mahalla 7 of district 16 of region 1, sent to department 3, is Place(1, 16, 7, 3)."""

    region_id: int | None = None
    district_id: int | None = None
    mahalla_id: int | None = None
    department_id: int | None = None

    def __str__(self) -> str:
        units = [f"{unit.name.removesuffix('_id')} {getattr(self, unit.name)}"
                 for unit in fields(self) if getattr(self, unit.name) is not None]
        return ", ".join(units) or "national"


NATIONAL: Final = Place()


@dataclass(frozen=True, slots=True)
class Grant:
    """A role held over a scope, written like a Place: the unit with its parents filled in."""

    role: Role
    region_id: int | None = None
    district_id: int | None = None
    mahalla_id: int | None = None
    department_id: int | None = None

    @property
    def scope(self) -> Place:
        return Place(self.region_id, self.district_id, self.mahalla_id, self.department_id)


def validate_grant(grant: Grant) -> None:
    """Raise ValueError when the scope is malformed or does not fit the role."""
    if grant.role not in ROLE_ACTIONS:
        raise ValueError(f"unknown role: {grant.role}")
    if grant.mahalla_id is not None and grant.district_id is None:
        raise ValueError("a mahalla needs its district")
    if grant.district_id is not None and grant.region_id is None:
        raise ValueError("a district needs its region")
    if grant.department_id is not None and grant.district_id is None:
        raise ValueError("a department needs its district")
    if grant.department_id is not None and grant.mahalla_id is not None:
        raise ValueError("a department belongs to a district, not to a mahalla")
    match grant.role:
        case Role.ADMINISTRATOR if grant.scope not in (NATIONAL, _district_of(grant)):
            raise ValueError("an administrator is national or of one district (no region "
                             "alone, mahalla or department)")
        case Role.MODERATOR | Role.NGO_MONITOR if grant.district_id is not None:
            raise ValueError("a moderator or NGO monitor is national or scoped to one region")
        case Role.OFFICIAL if grant.region_id is None:
            raise ValueError("an official needs a region or a district")
        case Role.OFFICIAL if grant.mahalla_id is not None:
            raise ValueError("an official is scoped to a district or a department, not a mahalla")
        case Role.MAHALLA_STAFF if grant.mahalla_id is None:
            raise ValueError("mahalla staff need a mahalla")


def _district_of(grant: Grant) -> Place:
    """The whole district the grant names (empty units stay empty, so no match for them)."""
    return Place(grant.region_id, grant.district_id) if grant.district_id else NATIONAL


def covers(grant: Grant, place: Place) -> bool:
    """Every unit the grant names must match the place; a unit it leaves out is open.

    So a department-limited official does not cover a district-wide item (department None),
    and a place lacking a unit the grant names is outside it (fails closed)."""
    return all(mine is None or mine == theirs
               for mine, theirs in zip(astuple(grant.scope), astuple(place), strict=True))


class PermissionDenied(Exception):
    """Names the action and the place, never the person: the message may reach logs."""

    def __init__(self, action: Action, place: Place) -> None:
        super().__init__(f"{action} is not allowed at {place}")
        self.action = action
        self.place = place


class Actor(Protocol):
    # A read-only property, so frozen dataclasses and plain attributes both satisfy it.
    @property
    def grants(self) -> Sequence[Grant]: ...


@dataclass(frozen=True, slots=True)
class StaffMember:
    """The staff member acting: who (for the record) and what they may do."""

    id: int
    grants: tuple[Grant, ...]


def _is_valid(grant: Grant) -> bool:
    try:
        validate_grant(grant)
    except ValueError:
        return False
    return True


def scopes(actor: Actor, action: Action) -> list[Grant]:
    """The grants that give this action, for filtering a list to what the person may see."""
    return [
        grant for grant in actor.grants
        # A malformed grant gives nothing: an official without a place is not national.
        if _is_valid(grant)
        and action in ROLE_ACTIONS[grant.role]
        and not (action in WHOLE_DISTRICT_ACTIONS
                 and (grant.department_id is not None or _regional_official(grant)))
        and not (action in NATIONAL_ADMINISTRATOR_ACTIONS and grant.role == Role.ADMINISTRATOR
                 and grant.scope != NATIONAL)
    ]


def _regional_official(grant: Grant) -> bool:
    """An official of a regional hokimiyat: answers what is addressed to the region, but runs
    no district's cycles or departments."""
    return grant.role == Role.OFFICIAL and grant.district_id is None


def allowed(actor: Actor, action: Action, place: Place = NATIONAL) -> bool:
    giving = scopes(actor, action)
    # The staff area's front door has no place: any staff member may enter it.
    if action == Action.VIEW_STAFF_AREA and place == NATIONAL:
        return bool(giving)
    return any(covers(grant, place) for grant in giving)


def require(actor: Actor, action: Action, place: Place = NATIONAL) -> None:
    if not allowed(actor, action, place):
        raise PermissionDenied(action, place)


def roles_place(grant: Grant) -> Place:
    """Where MANAGE_ROLES must reach to give or take back this grant: its own scope, so a
    district administrator handles only grants inside the district (never a national or a
    regional one); for an administrator's grant, the whole country, so administrators are made
    and unmade only nationally."""
    return NATIONAL if grant.role == Role.ADMINISTRATOR else grant.scope


def may_manage_account(actor: Actor, grants: Sequence[Grant]) -> bool:
    """Switching an account off or on, or resetting its authenticator, given the person's
    active grants: a national administrator always; anyone else only when the person has a
    role and every one of their roles is one the actor could take back. So a district
    administrator never locks out an administrator, someone who also works elsewhere, or an
    account without a role, which could be anybody's."""
    if allowed(actor, Action.MANAGE_ROLES, NATIONAL):
        return True
    return bool(grants) and all(allowed(actor, Action.MANAGE_ROLES, roles_place(grant))
                                for grant in grants)
