"""The mahalla desk, for mahalla staff on the office laptop: what is open in the mahalla, the
residents waiting for their residence to be confirmed, registering a resident without a
smartphone, and each resident's card with their Ovoz number. Signing, voting and reporting for
a resident are the features' own desk pages, linked from here. And, for moderators, every
desk's activity, with the unusual desks first."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from ovoz.accounts import sessions
from ovoz.accounts import staff as staff_accounts
from ovoz.accounts.desk import desk_mahallas
from ovoz.accounts.permissions import (
    NATIONAL,
    Action,
    PermissionDenied,
    StaffMember,
    allowed,
    scopes,
)
from ovoz.accounts.sms import mask_phone
from ovoz.desk import activity, services
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.petitions import assisted as petition_desk
from ovoz.planning import services as planning
from ovoz.reports import services as reports
from ovoz.web.forms import Filter, FormErrors, chosen_id
from ovoz.web.templating import page

Form = URLEncodedBody[dict[str, Any]]
Notice = Annotated[str | None, QueryParameter(name="done", max_length=20)]
Days = Annotated[int, QueryParameter(name="days", ge=1, le=366)]
PATH = "/staff/desk"
SIGN_IN = "/staff/signin"
NOTICES = {
    "confirmed": locale.lazy("The residence is confirmed. The resident may now sign, vote and "
                             "propose."),
}
REGISTER_FIELDS = ("display_name", "phone", "household_contact", "language")
ACTIVITY_LABELS = {
    activity.SIGNATURES: locale.lazy("Signatures"),
    activity.BALLOTS: locale.lazy("Ballots"),
    activity.REPORTS: locale.lazy("Problem reports"),
    activity.REGISTRATIONS: locale.lazy("Residents registered"),
}


def register_message(error: staff_accounts.StaffError) -> str:
    if error.field == "display_name":
        return locale.gettext("Write the resident's name: 2 to %(max)s letters.",
                              max=staff_accounts.RESIDENT_NAME_LENGTH)
    if error.code == "taken":
        return locale.gettext(
            "This number already has an Ovoz account. Find the resident by it instead.")
    if error.code == "invalid":
        return locale.gettext("Enter an Uzbek mobile number, like 90 123 45 67.")
    return locale.gettext("This could not be done.")


def _desk_staff(request: Request) -> StaffMember | None:
    """The signed-in staff member keeping a mahalla's desk; None when nobody is signed in."""
    staff = sessions.staff_member(request)
    if staff is None:
        return None
    if not desk_mahallas(staff):
        raise PermissionDenied(Action.ASSIST_RESIDENT, NATIONAL)
    return staff


def _chosen_mahalla(staff: StaffMember, text: str | None) -> int:
    mahallas = desk_mahallas(staff)
    chosen = chosen_id(text)
    return chosen if chosen in mahallas else mahallas[0]


def _masked(phone: str | None) -> str:
    return mask_phone(phone) if phone else ""


async def _resident_here(staff: StaffMember, resident_id: int) -> dict[str, Any]:
    """A resident of one of this person's desks; 404 for anyone else's, as for a missing one."""
    row = await services.resident(resident_id)
    place = await services.mahalla_place(row["mahalla"]) if row and row["mahalla"] else None
    if row is None or place is None or not allowed(staff, Action.ASSIST_RESIDENT, place):
        raise NotFoundException()
    return row


class DeskController(Controller):
    path = PATH
    include_in_schema = False

    @get("/", name="desk:index", cache=False)
    async def index(self, request: Request, mahalla: Filter = None,
                    done: Notice = None) -> Response[Any]:
        staff = _desk_staff(request)
        if staff is None:
            return Redirect(SIGN_IN)
        return await self._desk(request, staff, _chosen_mahalla(staff, mahalla), done)

    async def _desk(self, request: Request, staff: StaffMember, mahalla_id: int,
                    done: str | None = None, errors: FormErrors | None = None,
                    status_code: int = 200) -> Template:
        mahalla = await geo.mahalla(mahalla_id)
        if mahalla is None:
            raise NotFoundException()
        district = await geo.district(mahalla["district"])
        mahallas = [row for row in [await geo.mahalla(i)
                                    for i in desk_mahallas(staff)] if row]
        open_reports = await reports.search(
            reports.Filters(mahalla_id=mahalla_id, status="open"), 1, services.SHOWN)
        waiting = [{**row, "masked_phone": _masked(row["phone"])}
                   for row in await services.awaiting_confirmation(mahalla_id)]
        cycles = await services.current_cycles(mahalla["district"])
        return await page(
            request, "desk/index.html", status_code=status_code, mahalla=mahalla,
            district=district, mahallas=mahallas if len(mahallas) > 1 else [],
            waiting=waiting, reports=open_reports,
            report_label=reports.category_label, report_overdue=reports.is_overdue,
            petitions=await petition_desk.signable_here(staff), cycles=cycles,
            phase_labels=planning.PHASE_LABELS, voting=planning.VOTING,
            notice=NOTICES.get(done or ""), errors=errors or FormErrors())

    @get("/residents/new", name="desk:register_form", cache=False)
    async def register_form(self, request: Request, mahalla: Filter = None) -> Response[Any]:
        staff = _desk_staff(request)
        if staff is None:
            return Redirect(SIGN_IN)
        return await self._register_page(request, _chosen_mahalla(staff, mahalla),
                                         FormErrors(), {"language": "uz"})

    async def _register_page(self, request: Request, mahalla_id: int, errors: FormErrors,
                             values: dict[str, str], status_code: int = 200) -> Template:
        return await page(request, "desk/register.html", status_code=status_code,
                          mahalla=await geo.mahalla(mahalla_id), errors=errors, values=values)

    @post("/residents/new", name="desk:register")
    async def register(self, request: Request, data: Form) -> Response[Any]:
        staff = _desk_staff(request)
        if staff is None:
            return Redirect(SIGN_IN)
        mahalla_id = _chosen_mahalla(staff, str(data.get("mahalla", "")))
        values = {key: str(data.get(key, "")).strip() for key in REGISTER_FIELDS}
        try:
            resident_id = await staff_accounts.register_resident(
                sessions.identity_of(request), mahalla_id, values["display_name"],
                values["phone"], values["household_contact"], values["language"])
        except staff_accounts.StaffError as error:
            errors = FormErrors()
            errors.add(error.field if error.field in REGISTER_FIELDS else "display_name",
                       register_message(error))
            return await self._register_page(request, mahalla_id, errors, values, 400)
        return Redirect(f"{PATH}/residents/{resident_id}?done=registered")

    @get("/residents/{resident_id:int}", name="desk:resident", cache=False)
    async def resident_card(self, request: Request, resident_id: FromPath[int],
                            done: Notice = None) -> Response[Any]:
        staff = _desk_staff(request)
        if staff is None:
            return Redirect(SIGN_IN)
        row = await _resident_here(staff, resident_id)
        return await page(
            request, "desk/resident.html", resident=row, mahalla=await geo.mahalla(
                row["mahalla"]), masked_phone=_masked(row["phone"]),
            masked_household=_masked(row["household_contact"]),
            registered=done == "registered")

    @post("/residents/{resident_id:int}/confirm", name="desk:confirm")
    async def confirm(self, request: Request, resident_id: FromPath[int]) -> Response[Any]:
        staff = _desk_staff(request)
        if staff is None:
            return Redirect(SIGN_IN)
        row = await _resident_here(staff, resident_id)
        try:
            await staff_accounts.confirm_residence(sessions.identity_of(request), resident_id)
        except staff_accounts.StaffError:
            errors = FormErrors()
            errors.add(f"confirm-{resident_id}", locale.gettext(
                "The resident changed their home mahalla meanwhile. Look again."))
            return await self._desk(request, staff, row["mahalla"], errors=errors,
                                    status_code=409)
        return Redirect(f"{PATH}?mahalla={row['mahalla']}&done=confirmed")


class DeskActivityController(Controller):
    """For moderators: every desk's actions for residents in a window, unusual ones first."""

    path = "/staff/desk-activity"
    include_in_schema = False

    @get("/", name="desk:activity", cache=False)
    async def index(self, request: Request, days: Days = 1) -> Response[Any]:
        staff = sessions.staff_member(request)
        if staff is None:
            return Redirect(SIGN_IN)
        if not scopes(staff, Action.MODERATE):
            raise PermissionDenied(Action.MODERATE, NATIONAL)
        days = days if days in activity.WINDOWS else 1
        desks = [desk for desk in await activity.activity(days)
                 if activity.visible_to(staff, desk)]
        mahalla_names = {}
        for mahalla_id in {m for desk in desks for m in desk.mahallas}:
            mahalla = await geo.mahalla(mahalla_id)
            if mahalla is not None:
                mahalla_names[mahalla_id] = locale.localised_name(mahalla)
        return await page(
            request, "desk/activity.html", desks=desks, days=days, windows=activity.WINDOWS,
            kinds=ACTIVITY_LABELS, mahalla_names=mahalla_names,
            ceiling=activity.DAILY_CEILING, ratio=activity.PEER_RATIO,
            floor=activity.FLAG_FLOOR_PER_DAY)
