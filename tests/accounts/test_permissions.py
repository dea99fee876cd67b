from __future__ import annotations

from dataclasses import dataclass

import pytest

from ovoz.accounts.permissions import (
    NATIONAL,
    ROLE_ACTIONS,
    Action,
    Grant,
    PermissionDenied,
    Place,
    Role,
    allowed,
    covers,
    may_manage_account,
    require,
    roles_place,
    scopes,
    validate_grant,
)


@dataclass(frozen=True)
class Staff:
    grants: tuple[Grant, ...] = ()


# Region 1 holds districts A (16) and B (17); region 2 holds district C (30). Mahallas 7 and 8
# are in A, 9 in B, 11 in C. Departments: roads of A (3), sanitation of A (4), roads of B (5).
PLACES = {
    "national": NATIONAL,
    "region 1": Place(1),
    "district A": Place(1, 16),
    "mahalla 7 of A": Place(1, 16, 7),
    "mahalla 8 of A": Place(1, 16, 8),
    "roads of A": Place(1, 16, department_id=3),
    "roads of A in mahalla 7": Place(1, 16, 7, department_id=3),
    "sanitation of A": Place(1, 16, department_id=4),
    "district B": Place(1, 17),
    "roads of B": Place(1, 17, department_id=5),
    "mahalla 9 of B": Place(1, 17, 9),
    "region 2": Place(2),
    "district C": Place(2, 30),
    "mahalla 11 of C": Place(2, 30, 11),
}
GRANTS = {
    "administrator": Grant(Role.ADMINISTRATOR),
    "administrator of A": Grant(Role.ADMINISTRATOR, region_id=1, district_id=16),
    "national moderator": Grant(Role.MODERATOR),
    "moderator of region 1": Grant(Role.MODERATOR, region_id=1),
    "official of A": Grant(Role.OFFICIAL, region_id=1, district_id=16),
    "roads official of A": Grant(Role.OFFICIAL, region_id=1, district_id=16, department_id=3),
    "regional official of 1": Grant(Role.OFFICIAL, region_id=1),
    "staff of mahalla 7": Grant(Role.MAHALLA_STAFF, region_id=1, district_id=16, mahalla_id=7),
    "national NGO monitor": Grant(Role.NGO_MONITOR),
    "NGO monitor of region 1": Grant(Role.NGO_MONITOR, region_id=1),
}

# Written out here rather than read from ROLE_ACTIONS, so the table itself is under test.
ENTER = frozenset({Action.VIEW_STAFF_AREA})
ADMINISTRATE = ENTER | {Action.MANAGE_ROLES, Action.MANAGE_PLACES, Action.MODERATE,
                        Action.MONITOR, Action.VIEW_AUDIT, Action.MANAGE_DEPARTMENTS,
                        Action.MANAGE_CYCLES}
# A district administrator runs the district but neither moderates, monitors nor audits.
ADMINISTRATE_DISTRICT = ENTER | {Action.MANAGE_ROLES, Action.MANAGE_PLACES,
                                 Action.MANAGE_DEPARTMENTS, Action.MANAGE_CYCLES}
MODERATE = ENTER | {Action.MODERATE, Action.MONITOR}
OFFICIATE = ENTER | {Action.ANSWER, Action.MANAGE_CYCLES, Action.MANAGE_DEPARTMENTS}
DEPARTMENT = ENTER | {Action.ANSWER}
REGIONAL = ENTER | {Action.ANSWER}
MAHALLA = ENTER | {Action.CONFIRM_RESIDENCE, Action.ASSIST_RESIDENT}
MONITOR = ENTER | {Action.MONITOR}
NOTHING: frozenset[Action] = frozenset()

# One row per grant and place: the actions allowed there; every other action is denied.
# At "national" every grant may enter the staff area (its front door has no place).
MATRIX: list[tuple[str, str, frozenset[Action]]] = [
    ("administrator", "national", ADMINISTRATE),
    ("administrator", "region 2", ADMINISTRATE),
    ("administrator", "roads of A in mahalla 7", ADMINISTRATE),
    ("administrator", "mahalla 11 of C", ADMINISTRATE),

    ("administrator of A", "district A", ADMINISTRATE_DISTRICT),
    ("administrator of A", "mahalla 7 of A", ADMINISTRATE_DISTRICT),
    ("administrator of A", "roads of A", ADMINISTRATE_DISTRICT),
    ("administrator of A", "roads of A in mahalla 7", ADMINISTRATE_DISTRICT),
    ("administrator of A", "national", ENTER),
    ("administrator of A", "region 1", NOTHING),
    ("administrator of A", "district B", NOTHING),
    ("administrator of A", "mahalla 9 of B", NOTHING),
    ("administrator of A", "district C", NOTHING),

    ("national moderator", "national", MODERATE),
    ("national moderator", "district C", MODERATE),
    ("national moderator", "mahalla 7 of A", MODERATE),

    ("moderator of region 1", "region 1", MODERATE),
    ("moderator of region 1", "district B", MODERATE),
    ("moderator of region 1", "roads of A in mahalla 7", MODERATE),
    ("moderator of region 1", "national", ENTER),
    ("moderator of region 1", "region 2", NOTHING),
    ("moderator of region 1", "district C", NOTHING),
    ("moderator of region 1", "mahalla 11 of C", NOTHING),

    ("official of A", "district A", OFFICIATE),
    ("official of A", "mahalla 7 of A", OFFICIATE),
    ("official of A", "roads of A", OFFICIATE),
    ("official of A", "sanitation of A", OFFICIATE),
    ("official of A", "roads of A in mahalla 7", OFFICIATE),
    ("official of A", "national", ENTER),
    ("official of A", "region 1", NOTHING),
    ("official of A", "district B", NOTHING),
    ("official of A", "roads of B", NOTHING),
    ("official of A", "mahalla 9 of B", NOTHING),
    ("official of A", "district C", NOTHING),

    ("roads official of A", "roads of A", DEPARTMENT),
    ("roads official of A", "roads of A in mahalla 7", DEPARTMENT),
    ("roads official of A", "national", ENTER),
    ("roads official of A", "district A", NOTHING),
    ("roads official of A", "mahalla 7 of A", NOTHING),
    ("roads official of A", "sanitation of A", NOTHING),
    ("roads official of A", "roads of B", NOTHING),

    ("regional official of 1", "region 1", REGIONAL),
    ("regional official of 1", "district B", REGIONAL),
    ("regional official of 1", "roads of A in mahalla 7", REGIONAL),
    ("regional official of 1", "national", ENTER),
    ("regional official of 1", "region 2", NOTHING),
    ("regional official of 1", "district C", NOTHING),

    ("staff of mahalla 7", "mahalla 7 of A", MAHALLA),
    ("staff of mahalla 7", "roads of A in mahalla 7", MAHALLA),
    ("staff of mahalla 7", "national", ENTER),
    ("staff of mahalla 7", "mahalla 8 of A", NOTHING),
    ("staff of mahalla 7", "district A", NOTHING),
    ("staff of mahalla 7", "roads of A", NOTHING),
    ("staff of mahalla 7", "mahalla 9 of B", NOTHING),
    ("staff of mahalla 7", "mahalla 11 of C", NOTHING),

    ("national NGO monitor", "national", MONITOR),
    ("national NGO monitor", "district C", MONITOR),
    ("national NGO monitor", "roads of A in mahalla 7", MONITOR),

    ("NGO monitor of region 1", "region 1", MONITOR),
    ("NGO monitor of region 1", "district A", MONITOR),
    ("NGO monitor of region 1", "mahalla 9 of B", MONITOR),
    ("NGO monitor of region 1", "national", ENTER),
    ("NGO monitor of region 1", "region 2", NOTHING),
    ("NGO monitor of region 1", "district C", NOTHING),
]


def _cases() -> list[object]:
    return [
        pytest.param(grant, action, place, action in allowed_there,
                     id=f"{grant}|{action}|{place}|{'yes' if action in allowed_there else 'no'}")
        for grant, place, allowed_there in MATRIX
        for action in Action
    ]


@pytest.mark.parametrize(("grant", "action", "place", "expected"), _cases())
def test_matrix(grant: str, action: Action, place: str, expected: bool) -> None:
    actor = Staff((GRANTS[grant],))
    assert allowed(actor, action, PLACES[place]) is expected
    if expected:
        require(actor, action, PLACES[place])
    else:
        with pytest.raises(PermissionDenied):
            require(actor, action, PLACES[place])


def test_the_matrix_reaches_every_grant_inside_and_outside_its_scope() -> None:
    assert {grant for grant, _, _ in MATRIX} == set(GRANTS)
    assert {place for _, place, _ in MATRIX} <= set(PLACES)
    assert {GRANTS[grant].role for grant in GRANTS} == set(Role)
    for name, grant in GRANTS.items():
        rows = [allowed_there for row_grant, _, allowed_there in MATRIX if row_grant == name]
        assert any(allowed_there - ENTER for allowed_there in rows), name
        if grant.scope != NATIONAL:
            assert NOTHING in rows, name


def test_the_role_table() -> None:
    assert dict(ROLE_ACTIONS) == {
        Role.ADMINISTRATOR: ADMINISTRATE,
        Role.MODERATOR: MODERATE,
        Role.OFFICIAL: OFFICIATE,
        Role.MAHALLA_STAFF: MAHALLA,
        Role.NGO_MONITOR: MONITOR,
    }
    assert set().union(*ROLE_ACTIONS.values()) == set(Action)


@pytest.mark.parametrize("place", ["district B", "roads of B", "mahalla 9 of B"])
def test_an_official_of_district_a_is_denied_everything_in_district_b(place: str) -> None:
    for grant in ("official of A", "roads official of A"):
        actor = Staff((GRANTS[grant],))
        assert not [action for action in Action if allowed(actor, action, PLACES[place])]


def test_a_department_limited_official_runs_no_budgeting_cycle() -> None:
    roads = GRANTS["roads official of A"]
    actor = Staff((roads,))
    for place in ("roads of A", "district A"):
        assert not allowed(actor, Action.MANAGE_CYCLES, PLACES[place])
    assert scopes(actor, Action.MANAGE_CYCLES) == []
    assert scopes(actor, Action.ANSWER) == [roads]


def test_an_ngo_monitor_can_only_monitor() -> None:
    for grant in ("national NGO monitor", "NGO monitor of region 1"):
        actor = Staff((GRANTS[grant],))
        assert {action for action in Action if allowed(actor, action, PLACES["district A"])} == {
            Action.VIEW_STAFF_AREA, Action.MONITOR}


def test_a_moderator_of_region_1_cannot_moderate_region_2() -> None:
    actor = Staff((GRANTS["moderator of region 1"],))
    require(actor, Action.MODERATE, PLACES["mahalla 9 of B"])
    with pytest.raises(PermissionDenied):
        require(actor, Action.MODERATE, PLACES["mahalla 11 of C"])
    with pytest.raises(PermissionDenied):
        require(actor, Action.MODERATE)


def test_grants_combine() -> None:
    official_a = GRANTS["official of A"]
    official_c = Grant(Role.OFFICIAL, region_id=2, district_id=30)
    actor = Staff((official_a, official_c))
    assert allowed(actor, Action.ANSWER, PLACES["district A"])
    assert allowed(actor, Action.MANAGE_CYCLES, PLACES["mahalla 11 of C"])
    assert not allowed(actor, Action.ANSWER, PLACES["district B"])
    assert scopes(actor, Action.ANSWER) == [official_a, official_c]


def test_combined_grants_do_not_lend_a_role_to_another_scope() -> None:
    mahalla, roads = GRANTS["staff of mahalla 7"], GRANTS["roads official of A"]
    actor = Staff((mahalla, roads))
    assert allowed(actor, Action.ANSWER, PLACES["roads of A in mahalla 7"])
    assert allowed(actor, Action.CONFIRM_RESIDENCE, PLACES["roads of A in mahalla 7"])
    assert not allowed(actor, Action.ANSWER, PLACES["mahalla 7 of A"])
    assert not allowed(actor, Action.CONFIRM_RESIDENCE, PLACES["roads of A"])
    assert scopes(actor, Action.VIEW_STAFF_AREA) == [mahalla, roads]
    assert scopes(actor, Action.MONITOR) == []


@pytest.mark.parametrize("place", ["national", "district A", "mahalla 7 of A"])
def test_a_resident_is_denied_everything(place: str) -> None:
    resident = Staff()
    for action in Action:
        assert not allowed(resident, action, PLACES[place])
        assert scopes(resident, action) == []
        with pytest.raises(PermissionDenied):
            require(resident, action, PLACES[place])


def test_a_malformed_grant_gives_nothing() -> None:
    # Its empty scope would otherwise reach the whole country.
    actor = Staff((Grant(Role.OFFICIAL),))
    assert not allowed(actor, Action.ANSWER, PLACES["district A"])
    assert not allowed(actor, Action.VIEW_STAFF_AREA)
    assert scopes(actor, Action.ANSWER) == []


def test_permission_denied_names_the_action_and_place_only() -> None:
    place = PLACES["roads of A in mahalla 7"]
    with pytest.raises(PermissionDenied) as denied:
        require(Staff((GRANTS["official of A"],)), Action.MODERATE, place)
    assert (denied.value.action, denied.value.place) == (Action.MODERATE, place)
    assert str(denied.value) == (
        "moderate is not allowed at region 1, district 16, mahalla 7, department 3")
    with pytest.raises(PermissionDenied) as denied:
        require(Staff(), Action.VIEW_AUDIT)
    assert str(denied.value) == "view_audit is not allowed at national"


@pytest.mark.parametrize(
    ("grant", "place", "expected"),
    [
        ("administrator", "mahalla 11 of C", True),
        ("moderator of region 1", "region 1", True),
        ("moderator of region 1", "national", False),
        ("official of A", "roads of A in mahalla 7", True),
        ("official of A", "region 1", False),
        ("roads official of A", "roads of A", True),
        ("roads official of A", "district A", False),
        ("roads official of A", "sanitation of A", False),
        ("staff of mahalla 7", "roads of A in mahalla 7", True),
        ("staff of mahalla 7", "mahalla 8 of A", False),
    ],
)
def test_covers(grant: str, place: str, expected: bool) -> None:
    assert covers(GRANTS[grant], PLACES[place]) is expected


def test_a_place_missing_a_unit_the_grant_names_is_outside_it() -> None:
    # A place without its parents filled in fails closed.
    assert not covers(GRANTS["moderator of region 1"], Place(district_id=16))


@pytest.mark.parametrize("grant", GRANTS.values(), ids=list(GRANTS))
def test_valid_grants(grant: Grant) -> None:
    validate_grant(grant)


@pytest.mark.parametrize(
    ("grant", "message"),
    [
        (Grant(Role.ADMINISTRATOR, region_id=1), "an administrator is national or of one"),
        (Grant(Role.ADMINISTRATOR, region_id=1, district_id=16, mahalla_id=7),
         "an administrator is national or of one district"),
        (Grant(Role.ADMINISTRATOR, region_id=1, district_id=16, department_id=3),
         "an administrator is national or of one district"),
        (Grant(Role.MODERATOR, region_id=1, district_id=16), "national or scoped to one region"),
        (Grant(Role.NGO_MONITOR, region_id=1, district_id=16), "national or scoped to one region"),
        (Grant(Role.OFFICIAL), "an official needs a region or a district"),
        (Grant(Role.OFFICIAL, region_id=1, department_id=3), "a department needs its district"),
        (Grant(Role.OFFICIAL, district_id=16), "a district needs its region"),
        (Grant(Role.OFFICIAL, region_id=1, district_id=16, mahalla_id=7), "not a mahalla"),
        (Grant(Role.MAHALLA_STAFF, region_id=1, district_id=16), "mahalla staff need a mahalla"),
        (Grant(Role.MAHALLA_STAFF, region_id=1, mahalla_id=7), "a mahalla needs its district"),
        (Grant(Role.MAHALLA_STAFF, region_id=1, district_id=16, mahalla_id=7, department_id=3),
         "a department belongs to a district, not to a mahalla"),
        (Grant("root"), "unknown role: root"),  # type: ignore[arg-type]
    ],
)
def test_invalid_grants(grant: Grant, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_grant(grant)


def test_a_district_administrator_is_refused_outside_the_district_and_national_rights() -> None:
    actor = Staff((GRANTS["administrator of A"],))
    assert scopes(actor, Action.MANAGE_PLACES) == [GRANTS["administrator of A"]]
    for action in (Action.MODERATE, Action.MONITOR, Action.VIEW_AUDIT):
        assert scopes(actor, action) == []
    # Report categories and the like are the country's: MANAGE_PLACES at national.
    assert not allowed(actor, Action.MANAGE_PLACES)
    assert allowed(Staff((GRANTS["administrator"],)), Action.MANAGE_PLACES)


@pytest.mark.parametrize(
    ("grant", "place"),
    [(Grant(Role.OFFICIAL, region_id=1, district_id=16, department_id=3), "roads of A"),
     (Grant(Role.MAHALLA_STAFF, region_id=1, district_id=16, mahalla_id=7), "mahalla 7 of A"),
     (Grant(Role.MODERATOR, region_id=1), "region 1"),
     (Grant(Role.NGO_MONITOR), "national"),
     (Grant(Role.ADMINISTRATOR, region_id=1, district_id=16), "national"),
     (Grant(Role.ADMINISTRATOR), "national")],
)
def test_giving_a_grant_takes_roles_over_its_scope_and_an_administrator_nationally(
        grant: Grant, place: str) -> None:
    assert roles_place(grant) == PLACES[place]


@pytest.mark.parametrize(
    ("grant", "district_admin_may"),
    [(Grant(Role.OFFICIAL, region_id=1, district_id=16), True),
     (Grant(Role.OFFICIAL, region_id=1, district_id=16, department_id=3), True),
     (Grant(Role.MAHALLA_STAFF, region_id=1, district_id=16, mahalla_id=7), True),
     (Grant(Role.OFFICIAL, region_id=1, district_id=17), False),
     (Grant(Role.MAHALLA_STAFF, region_id=1, district_id=17, mahalla_id=9), False),
     (Grant(Role.OFFICIAL, region_id=1), False),
     (Grant(Role.MODERATOR, region_id=1), False),
     (Grant(Role.MODERATOR), False),
     (Grant(Role.ADMINISTRATOR, region_id=1, district_id=16), False),
     (Grant(Role.ADMINISTRATOR), False)],
)
def test_a_district_administrator_gives_only_grants_inside_the_district(
        grant: Grant, district_admin_may: bool) -> None:
    district_admin = Staff((GRANTS["administrator of A"],))
    assert allowed(district_admin, Action.MANAGE_ROLES, roles_place(grant)) is district_admin_may
    assert allowed(Staff((GRANTS["administrator"],)), Action.MANAGE_ROLES, roles_place(grant))
    assert not allowed(Staff((GRANTS["official of A"],)), Action.MANAGE_ROLES,
                       roles_place(grant))


def test_who_may_switch_off_an_account_or_reset_its_authenticator() -> None:
    national, district_admin = Staff((GRANTS["administrator"],)), Staff(
        (GRANTS["administrator of A"],))
    inside = (GRANTS["official of A"], GRANTS["staff of mahalla 7"])
    also_elsewhere = (GRANTS["official of A"], Grant(Role.OFFICIAL, region_id=1, district_id=17))
    for grants in (inside, also_elsewhere, (), (GRANTS["administrator of A"],)):
        assert may_manage_account(national, grants)
    assert may_manage_account(district_admin, inside)
    assert not may_manage_account(district_admin, also_elsewhere)
    assert not may_manage_account(district_admin, ())
    assert not may_manage_account(district_admin, (GRANTS["administrator of A"],))
    assert not may_manage_account(Staff((GRANTS["official of A"],)), inside)
