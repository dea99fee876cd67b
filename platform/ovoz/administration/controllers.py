"""Administration pages: the hub of what administrators set up, the pilot districts and the
petition rules of each level. The rules are the administration services'."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from ovoz.accounts import sessions
from ovoz.accounts.permissions import (
    NATIONAL,
    Action,
    PermissionDenied,
    StaffMember,
    allowed,
    scopes,
)
from ovoz.administration import services as administration
from ovoz.administration.services import AdministrationError
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.petitions.services import LEVEL_LABELS
from ovoz.settings import PETITION_LEVELS, PETITION_RULE_LIMITS, PetitionRules, get_settings
from ovoz.web.forms import FormErrors, chosen_id
from ovoz.web.templating import page

Form = URLEncodedBody[dict[str, Any]]
Done = Annotated[str | None, QueryParameter(name="done", max_length=20)]
SIGN_IN = "/staff/signin"
PATH = "/staff/admin"
RULE_FIELDS = tuple(PETITION_RULE_LIMITS)
NOTICES = {
    "pilots": locale.lazy("The pilot districts are saved. They apply at once, on every page."),
    "rules": locale.lazy("The petition rules are saved. They apply to petitions opened from "
                         "now on."),
}


def message(error: AdministrationError) -> str:
    if error.code == "no_pilots":
        return locale.gettext("Choose at least one pilot district.")
    if error.code in ("unknown_district", "not_on_map"):
        return locale.gettext("Choose districts from the list.")
    low, high = PETITION_RULE_LIMITS[error.field]
    if error.field == "population_percent":
        return locale.gettext("Enter a number from %(min)s to %(max)s.", min=low, max=high)
    return locale.gettext("Enter a whole number from %(min)s to %(max)s.",
                          min=locale.format_number(low), max=locale.format_number(high))


def _values(data: Mapping[str, Any], key: str) -> list[str]:
    value = data.get(key) or []
    return [str(item) for item in (value if isinstance(value, list) else [value])]


def _text(data: Mapping[str, Any], key: str) -> str:
    values = _values(data, key)
    return values[-1].strip() if values else ""


def _rule(field: str, text: str) -> float | None:
    """A rule as people type it: "1 000" signatures, "0,5" per cent."""
    text = "".join(text.split())
    try:
        number = float(text.replace(",", ".")) if field == "population_percent" else int(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _shown(rules: PetitionRules) -> dict[str, str]:
    """The rules as the form shows them: 10000000, 0 and 0.5 (not 1e+07, 0.0)."""
    return {field: f"{getattr(rules, field):.15g}" for field in RULE_FIELDS}


def _administrator(request: Request) -> StaffMember | None:
    """The national administrator making the request; None when nobody is signed in."""
    staff = sessions.staff_member(request)
    if staff is not None and not allowed(staff, Action.MANAGE_PLACES, NATIONAL):
        raise PermissionDenied(Action.MANAGE_PLACES, NATIONAL)
    return staff


def _by_region(regions: list[dict[str, Any]], districts: list[dict[str, Any]]
               ) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    return [(region, [row for row in districts if row["region"] == region["id"]])
            for region in regions if any(row["region"] == region["id"] for row in districts)]


class AdministrationController(Controller):
    path = PATH
    include_in_schema = False

    @get("/", name="administration:hub", cache=False)
    async def hub(self, request: Request) -> Response[Any]:
        staff = sessions.staff_member(request)
        if staff is None:
            return Redirect(SIGN_IN)
        if not (scopes(staff, Action.MANAGE_PLACES) or scopes(staff, Action.MANAGE_ROLES)):
            raise PermissionDenied(Action.MANAGE_PLACES, NATIONAL)
        return await page(
            request, "administration/hub.html",
            national=allowed(staff, Action.MANAGE_PLACES, NATIONAL),
            sees_status=allowed(staff, Action.VIEW_AUDIT, NATIONAL),
            manages_roles=bool(scopes(staff, Action.MANAGE_ROLES)),
            mahalla_districts=await geo.pilot_districts_where(staff, Action.MANAGE_PLACES),
            department_districts=await geo.pilot_districts_where(staff, Action.MANAGE_DEPARTMENTS),
            manages_cycles=bool(scopes(staff, Action.MANAGE_CYCLES)))

    @get("/pilots", name="administration:pilots", cache=False)
    async def pilots(self, request: Request, done: Done = None) -> Response[Any]:
        if _administrator(request) is None:
            return Redirect(SIGN_IN)
        return await self._pilots_page(request, set(await geo.pilot_district_ids()),
                                       FormErrors(), notice=NOTICES.get(done or ""))

    async def _pilots_page(self, request: Request, chosen: set[int], errors: FormErrors,
                           status_code: int = 200, notice: str | None = None) -> Template:
        districts = await geo.districts()
        # A pilot needs a rectangle on the map: reports and proposals are placed by it.
        mappable = [row for row in districts if row["id"] in geo.district_bounds()]
        return await page(
            request, "administration/pilots.html", status_code=status_code,
            regions=_by_region(await geo.regions(), mappable), chosen=chosen, errors=errors,
            notice=notice,
            change=(await administration.changes()).get(administration.PILOT_DISTRICTS),
            configured=", ".join(locale.localised_name(row) for row in districts
                                 if row["id"] in get_settings().pilot_districts))

    @post("/pilots", name="administration:save_pilots")
    async def save_pilots(self, request: Request, data: Form) -> Response[Any]:
        staff = _administrator(request)
        if staff is None:
            return Redirect(SIGN_IN)
        # Anything that is not an id stands for no district, and is refused as one.
        chosen = [chosen_id(text) or 0 for text in _values(data, "districts")]
        try:
            await administration.set_pilot_districts(staff, chosen)
        except AdministrationError as error:
            errors = FormErrors()
            errors.add(error.field, message(error))
            return await self._pilots_page(request, set(chosen), errors, 400)
        return Redirect(f"{PATH}/pilots?done=pilots")

    @get("/petition-rules", name="administration:petition_rules", cache=False)
    async def petition_rules(self, request: Request, done: Done = None) -> Response[Any]:
        if _administrator(request) is None:
            return Redirect(SIGN_IN)
        return await self._rules_page(request, FormErrors(), notice=NOTICES.get(done or ""))

    async def _rules_page(self, request: Request, errors: FormErrors, typed: str = "",
                          values: dict[str, str] | None = None, status_code: int = 200,
                          notice: str | None = None) -> Template:
        """Every level's form with its rules now; the `typed` level keeps what was typed."""
        changes = await administration.changes()
        levels = []
        for level in PETITION_LEVELS:
            configured = get_settings().petition_rules[level]
            levels.append({
                "code": level, "label": locale.gettext(LEVEL_LABELS[level]),
                "values": values if level == typed and values is not None
                else _shown(await administration.petition_rules(level)),
                "configured": _shown(configured),
                "change": changes.get(administration.petition_rules_key(level)),
            })
        return await page(request, "administration/petition_rules.html",
                          status_code=status_code, levels=levels, errors=errors,
                          limits=PETITION_RULE_LIMITS, notice=notice)

    @post("/petition-rules/{level:str}", name="administration:save_petition_rules")
    async def save_petition_rules(self, request: Request, level: FromPath[str], data: Form
                                  ) -> Response[Any]:
        staff = _administrator(request)
        if staff is None:
            return Redirect(SIGN_IN)
        if level not in PETITION_LEVELS:
            raise NotFoundException()
        values = {field: _text(data, field) for field in RULE_FIELDS}
        numbers = {field: _rule(field, text) for field, text in values.items()}
        errors = FormErrors()
        for problem in administration.petition_rules_problems(numbers):
            errors.add(f"{level}-{problem.field}", message(problem))
        if errors:
            return await self._rules_page(request, errors, level, values, 400)
        await administration.set_petition_rules(staff, level, PetitionRules(**numbers))
        return Redirect(f"{PATH}/petition-rules?done=rules#{level}")
