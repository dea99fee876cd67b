"""Officials' pages for problem reports: the queue, handling one report, the district's
departments with the routing of categories to them, and reporting for a resident at the
mahalla office (every rule of that is assisted's)."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import replace
from datetime import timedelta
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from ovoz.accountability import inbox
from ovoz.accountability import services as obligations
from ovoz.accounts import desk, sessions
from ovoz.accounts.controllers import sign_in_message
from ovoz.accounts.permissions import (
    NATIONAL,
    Action,
    PermissionDenied,
    Place,
    StaffMember,
    require,
    scopes,
)
from ovoz.accounts.phones import InvalidPhone
from ovoz.accounts.services import SignInError
from ovoz.accounts.sms import SmsError, mask_phone
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.reports import assisted, services, storage
from ovoz.reports.controllers import (
    MultipartForm,
    PageNumber,
    error_message,
    shown,
    uploaded_photos,
)
from ovoz.settings import get_settings
from ovoz.web.forms import Filter, FormErrors, chosen_id
from ovoz.web.templating import page

Form = URLEncodedBody[dict[str, Any]]
SIGN_IN = "/staff/signin"
DUE_CHOICES = ("overdue", "week")
# What the desk types of the report itself (the resident's mahalla is its place), and the
# fields a refused report may name.
DESK_TEXT = ("category", "location_text", "description")
DESK_FIELDS = (*DESK_TEXT, "photos")
ASSIST = "/staff/reports/assist"


def staff_message(error: services.ReportError) -> str:
    messages = {
        "bad_transition": locale.gettext("The report cannot move to that status from here."),
        "note_required": locale.gettext("Write a public note: residents read it."),
        "note_too_long": locale.gettext("The note is too long."),
        "unknown_original": locale.gettext(
            "Give the number of the original report, in the same district."),
        "referral_too_late": locale.gettext(
            "A report can be referred to another body only within %(days)s days of "
            "registration. Answer it or send it to another department instead.",
            days=services.REFERRAL_DAYS),
        "referred_to_required": locale.gettext("Name the body the report is referred to."),
        "already_extended": locale.gettext("The deadline has already been extended once."),
        "bad_extension": locale.gettext("Extend by 1 to %(days)s days.",
                                        days=services.MAX_EXTENSION_DAYS),
        "unknown_department": locale.gettext("Choose a department of this district."),
        "not_open": locale.gettext("This report is closed."),
        "too_many_photos": locale.gettext("You can add at most %(count)s photos.",
                                          count=services.MAX_PHOTOS),
    }
    return messages.get(error.code, locale.gettext("This could not be done."))


def assist_message(error: assisted.AssistError) -> str:
    return desk.message(error, assisted.PAPER_FORM_MAX)


def desk_message(error: services.ReportError) -> str:
    """A refused report in the desk's words: about the resident, not to them."""
    messages = {
        "no_location": locale.gettext(
            "Describe the spot: the street and something near it that everyone knows."),
        "too_many_reports": locale.gettext(
            "This resident has sent many reports today. Please try again tomorrow."),
        "not_verified": locale.gettext(
            "This resident's phone number is not verified. Report with a paper form instead."),
    }
    return messages.get(error.code) or error_message(error)


# Each refusal at the desk adds its message to `errors` and gives the page's status (and
# headers, for a limit).
Status = tuple[int, dict[str, str] | None]


def _refused(error: services.ReportError, errors: FormErrors, field: str) -> Status:
    """Beside the report's field at fault, else `field`."""
    errors.add(error.field if error.field in DESK_FIELDS else field, desk_message(error))
    if error.code == "too_many_reports":
        return 429, {"Retry-After": str(error.retry_after)}
    return 400, None


def _not_here(error: assisted.AssistError, errors: FormErrors, field: str) -> Status:
    errors.add(field, assist_message(error))
    return 403 if error.code == "other_mahalla" else 400, None


def _code_refused(error: SignInError, errors: FormErrors, field: str) -> Status:
    errors.add(field, sign_in_message(error))
    if error.code in ("rate_limited", "resend_too_soon"):
        return 429, {"Retry-After": str(error.retry_after)}
    return 400, None


async def _register(work: Awaitable[int], errors: FormErrors, field: str) -> tuple[int, Status]:
    """Await the service that registers the report: its id, or 0 with the refusal in
    `errors` (a report's refusal beside `field` when it names none of the report's)."""
    try:
        return await work, (200, None)
    except assisted.AssistError as error:
        return 0, _not_here(error, errors, error.field)
    except SignInError as error:
        return 0, _code_refused(error, errors, "code")
    except services.ReportError as error:
        return 0, _refused(error, errors, field)


def _desk_values(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    values: dict[str, Any] = {key: _text(data, key) for key in (*keys, *DESK_TEXT)}
    values["hide_name"] = bool(data.get("hide_name"))
    return values


async def _desk_draft(values: dict[str, Any], photos: list[storage.StoredPhoto],
                      errors: FormErrors) -> services.Draft:
    """The report typed at the desk, with every problem of its fields added to `errors`."""
    draft = services.Draft(
        category=values["category"], description=values["description"],
        location_text=values["location_text"], hide_name=values["hide_name"], photos=photos)
    found = [*await services.draft_problems(draft), *assisted.problems(draft)]
    # In the order of the form, so the summary reads down it.
    for problem in sorted(found, key=lambda problem: DESK_FIELDS.index(problem.field)):
        errors.add(problem.field, desk_message(problem))
    return draft


def _desk(staff: StaffMember) -> list[int]:
    mahallas = desk.desk_mahallas(staff)
    if not mahallas:
        raise PermissionDenied(Action.ASSIST_RESIDENT, NATIONAL)
    return mahallas


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key) or ""
    return str(value[-1] if isinstance(value, list) else value).strip()


def _ids(data: dict[str, Any], key: str) -> list[int]:
    values = data.get(key) or []
    values = values if isinstance(values, list) else [values]
    return [int(v) for v in values if str(v).strip().isdigit()]


class ReportsStaffController(Controller):
    path = "/staff"
    include_in_schema = False

    @get("/reports", name="reports:queue")
    async def queue(
        self, request: Request, page_number: PageNumber = 1,
        status: Annotated[str, QueryParameter(name="status", max_length=20)] = "open",
        category: Annotated[str | None, QueryParameter(name="category", max_length=40)] = None,
        mahalla: Filter = None,
        department: Filter = None,
        due: Annotated[str | None, QueryParameter(name="due", max_length=10)] = None,
        acknowledged: Annotated[int | None, QueryParameter(name="acknowledged")] = None,
    ) -> Response[Any]:
        official = sessions.staff_member(request)
        if official is None:
            return Redirect(SIGN_IN)
        if not scopes(official, Action.ANSWER):
            raise PermissionDenied(Action.ANSWER, NATIONAL)
        week = services.now() + timedelta(days=7)
        filters = services.Filters(
            status=status if services.status_group(status) else None,
            category=category or None, mahalla_id=chosen_id(mahalla),
            department_id=chosen_id(department),
            overdue=due == "overdue", due_before=week if due == "week" else None)
        reports = await services.queue(official, filters, page_number,
                                       get_settings().page_size)
        reports = replace(reports, items=[shown(row) for row in reports.items])
        districts = [g.district_id for g in scopes(official, Action.ANSWER) if g.district_id]
        template = "reports/staff/queue.html"
        if request.headers.get("hx-request") and request.headers.get("hx-target") == "queue":
            template = "reports/staff/_queue.html"
        return await page(
            request, template, reports=reports, status=status, category=category or "",
            mahalla=chosen_id(mahalla), department=chosen_id(department), due=due or "",
            due_this_week=await services.due_this_week(official),
            categories=await services.categories(), labels=services.STATUS_LABELS,
            statuses=services.STATUSES, mahallas=await services.mahalla_choices(districts),
            departments=[d for district_id in dict.fromkeys(districts)
                         for d in await services.departments(district_id)],
            managed=await geo.pilot_districts_where(official, Action.MANAGE_DEPARTMENTS),
            acknowledged=acknowledged,
            errors=FormErrors(),
        )

    @post("/reports/acknowledge", name="reports:acknowledge")
    async def acknowledge(self, request: Request, data: Form) -> Response[Any]:
        official = sessions.staff_member(request)
        if official is None:
            return Redirect(SIGN_IN)
        note = _text(data, "note") or locale.gettext(
            "Received. The department is looking into it.")
        try:
            changed = await services.acknowledge_many(official, _ids(data, "report_id"), note)
        except services.ReportError:
            changed = []
        return Redirect(f"/staff/reports?acknowledged={len(changed)}")

    @get("/reports/{report_id:int}", name="reports:handle")
    async def handle(self, request: Request, report_id: FromPath[int]) -> Response[Any]:
        official = sessions.staff_member(request)
        if official is None:
            return Redirect(SIGN_IN)
        return await self._handle(request, official, report_id, FormErrors(), {})

    async def _handle(self, request: Request, official: StaffMember, report_id: int,
                      errors: FormErrors, values: dict[str, Any], status_code: int = 200
                      ) -> Template:
        report = await services.report(report_id)
        if report is None:
            raise NotFoundException()
        require(official, Action.ANSWER, await services.place_of(report))
        district = await geo.district(report["district"])
        return await page(
            request, "reports/staff/handle.html", status_code=status_code,
            report=shown(report), history=await services.history(report_id),
            district=district, departments=await services.departments(report["district"]),
            next_statuses=sorted(services.TRANSITIONS.get(report["status"], ()),
                                 key=services.STATUSES.index),
            labels=services.STATUS_LABELS, errors=errors, values=values,
            can_refer=services.can_refer(report),
            max_extension=services.MAX_EXTENSION_DAYS,
        )

    async def _act(self, request: Request, report_id: int, data: dict[str, Any],
                   work: Any, field: str) -> Response[Any]:
        official = sessions.staff_member(request)
        if official is None:
            return Redirect(SIGN_IN)
        errors = FormErrors()
        try:
            await work(official, errors)
        except services.ReportError as error:
            if error.code == "not_found":
                raise NotFoundException() from None
            errors.add(error.field or field, staff_message(error))
        if errors:
            values = {key: _text(data, key) for key in data if key != "photos"}
            return await self._handle(request, official, report_id, errors, values, 400)
        return Redirect(inbox.after_answer(_text(data, "return_to"), obligations.REPORT,
                                           report_id, f"/staff/reports/{report_id}"))

    @post("/reports/{report_id:int}/status", name="reports:change_status")
    async def change_status(self, request: Request, report_id: FromPath[int],
                            data: MultipartForm) -> Response[Any]:
        async def work(official: StaffMember, errors: FormErrors) -> None:
            photos = await uploaded_photos(data, errors)
            if errors:
                return
            original = _text(data, "duplicate_of").lstrip("№#")
            await services.change_status(
                official, report_id, _text(data, "status"), _text(data, "note"),
                duplicate_of=int(original) if original.isdigit() else None,
                referred_to=_text(data, "referred_to"), photos=photos)
        return await self._act(request, report_id, data, work, "status")

    @post("/reports/{report_id:int}/note", name="reports:note")
    async def note(self, request: Request, report_id: FromPath[int], data: MultipartForm
                   ) -> Response[Any]:
        async def work(official: StaffMember, errors: FormErrors) -> None:
            photos = await uploaded_photos(data, errors)
            if not errors:
                await services.add_note(official, report_id, _text(data, "note"), photos)
        return await self._act(request, report_id, data, work, "note")

    @post("/reports/{report_id:int}/reroute", name="reports:reroute")
    async def reroute(self, request: Request, report_id: FromPath[int], data: Form
                      ) -> Response[Any]:
        async def work(official: StaffMember, errors: FormErrors) -> None:
            target = _text(data, "department")
            await services.reroute(official, report_id,
                                   int(target) if target.isdigit() else None,
                                   _text(data, "reroute_note"))
        return await self._act(request, report_id, data, work, "department")

    @post("/reports/{report_id:int}/extend", name="reports:extend")
    async def extend(self, request: Request, report_id: FromPath[int], data: Form
                     ) -> Response[Any]:
        async def work(official: StaffMember, errors: FormErrors) -> None:
            days = _text(data, "days")
            await services.extend(official, report_id, int(days) if days.isdigit() else 0,
                                  _text(data, "reason"))
        return await self._act(request, report_id, data, work, "days")

    @get("/districts/{district_id:int}/departments", name="reports:departments")
    async def departments(self, request: Request, district_id: FromPath[int]
                          ) -> Response[Any]:
        official = sessions.staff_member(request)
        if official is None:
            return Redirect(SIGN_IN)
        return await self._departments(request, official, district_id, FormErrors(), {})

    async def _departments(self, request: Request, official: StaffMember,
                           district_id: int, errors: FormErrors, values: dict[str, Any],
                           status_code: int = 200, saved: bool = False) -> Template:
        district = await geo.district(district_id)
        if district is None:
            raise NotFoundException()
        require(official, Action.MANAGE_DEPARTMENTS, Place(district["region"], district_id))
        return await page(
            request, "reports/staff/departments.html", status_code=status_code,
            district=district, departments=await services.departments(district_id),
            categories=await services.categories(), routes=await services.routes(district_id),
            errors=errors, values=values, saved=saved)

    @post("/districts/{district_id:int}/departments", name="reports:add_department")
    async def add_department(self, request: Request, district_id: FromPath[int], data: Form
                             ) -> Response[Any]:
        official = sessions.staff_member(request)
        if official is None:
            return Redirect(SIGN_IN)
        values = {key: _text(data, key) for key in ("name_uz", "name_ru", "name_en")}
        try:
            await services.create_department(official, district_id, values["name_uz"],
                                             values["name_ru"], values["name_en"])
        except services.ReportError:
            errors = FormErrors()
            errors.add("name_uz", locale.gettext("Give the department's name in Uzbek."))
            return await self._departments(request, official, district_id, errors, values, 400)
        return Redirect(f"/staff/districts/{district_id}/departments")

    @post("/districts/{district_id:int}/departments/{department_id:int}",
          name="reports:rename_department")
    async def rename_department(self, request: Request, district_id: FromPath[int],
                                department_id: FromPath[int], data: Form) -> Response[Any]:
        official = sessions.staff_member(request)
        if official is None:
            return Redirect(SIGN_IN)
        owner = await services.department(department_id)
        if owner is None or owner["district"] != district_id:
            raise NotFoundException()
        prefix = f"d{department_id}-"
        values = {f"{prefix}{key}": _text(data, key) for key in ("name_uz", "name_ru", "name_en")}
        try:
            await services.rename_department(official, department_id, _text(data, "name_uz"),
                                             _text(data, "name_ru"), _text(data, "name_en"))
        except services.ReportError as error:
            errors = FormErrors()
            errors.add(f"{prefix}name_uz", locale.gettext(
                "Another department of the district has this name.")
                if error.code == "department_taken"
                else locale.gettext("Give the department's name in Uzbek."))
            return await self._departments(request, official, district_id, errors, values, 400)
        return Redirect(f"/staff/districts/{district_id}/departments")

    @post("/districts/{district_id:int}/routes", name="reports:routes")
    async def set_routes(self, request: Request, district_id: FromPath[int], data: Form
                         ) -> Response[Any]:
        official = sessions.staff_member(request)
        if official is None:
            return Redirect(SIGN_IN)
        current = await services.routes(district_id)
        errors = FormErrors()
        for category in await services.categories():
            chosen = _text(data, f"route-{category['id']}")
            department_id = int(chosen) if chosen.isdigit() else None
            if current.get(category["id"]) == department_id:
                continue
            try:
                await services.set_route(official, district_id, category["id"], department_id)
            except services.ReportError:
                errors.add(f"route-{category['id']}", locale.gettext(
                    "Choose a department of this district."))
        if errors:
            return await self._departments(request, official, district_id, errors, {}, 400)
        return await self._departments(request, official, district_id, errors, {}, saved=True)

    # -- reporting for a resident at the mahalla office -----------------------------------

    async def _report_form(self, request: Request, template: str, errors: FormErrors,
                           values: dict[str, Any], photos: list[storage.StoredPhoto],
                           status_code: int, headers: dict[str, str] | None,
                           **context: Any) -> Template:
        return await page(
            request, template, status_code=status_code, headers=headers, errors=errors,
            values=values, photos=photos, categories=await services.categories(),
            max_photos=services.MAX_PHOTOS, max_upload_mb=get_settings().max_upload_mb,
            paper_form_max=assisted.PAPER_FORM_MAX, **context)

    async def _assist_page(self, request: Request, staff: StaffMember, errors: FormErrors,
                           values: dict[str, Any], photos: list[storage.StoredPhoto] | None = None,
                           status_code: int = 200, headers: dict[str, str] | None = None
                           ) -> Template:
        names = [locale.localised_name(row) for mahalla_id in _desk(staff)
                 if (row := await geo.mahalla(mahalla_id))]
        return await self._report_form(request, "reports/staff/assist.html", errors, values,
                                       photos or [], status_code, headers, desk=names)

    async def _code_page(self, request: Request, resident: dict[str, Any],
                         values: dict[str, Any], photos: list[storage.StoredPhoto],
                         errors: FormErrors, status_code: int = 200,
                         headers: dict[str, str] | None = None) -> Template:
        mahalla = await geo.mahalla(resident["mahalla"])
        return await self._report_form(
            request, "reports/staff/assist_code.html", errors, values, photos, status_code,
            headers, phone=resident["phone"], masked_phone=mask_phone(resident["phone"]),
            resident_name=resident["display_name"],
            mahalla_name=locale.localised_name(mahalla) if mahalla else "")

    @get("/reports/assist", name="reports:assist")
    async def assist(self, request: Request) -> Response[Any]:
        staff = sessions.staff_member(request)
        if staff is None:
            return Redirect(SIGN_IN)
        return await self._assist_page(request, staff, FormErrors(), {})

    @post("/reports/assist/code", name="reports:assist_code")
    async def assist_code(self, request: Request, data: MultipartForm) -> Response[Any]:
        """Text the resident a code. "Send a new code" on the code page comes here too, with
        the report typed so far, which is kept."""
        staff = sessions.staff_member(request)
        if staff is None:
            return Redirect(SIGN_IN)
        _desk(staff)
        values = _desk_values(data, "phone")
        errors = FormErrors()
        photos = await uploaded_photos(data, errors)
        resident: dict[str, Any] | None = None
        refusal = FormErrors()
        status, headers = 400, None
        try:
            found = await assisted.resident_by_phone(values["phone"], "phone")
            await assisted.check_desk(staff, found, "phone")
            resident = found
            await assisted.send_code(staff, resident, request.app.state.sms_gateway)
        except InvalidPhone:
            refusal.add("phone", locale.gettext(
                "Enter an Uzbek mobile number, like 90 123 45 67."))
        except assisted.AssistError as error:
            status, headers = _not_here(error, refusal, "phone")
        except services.ReportError as error:
            status, headers = _refused(error, refusal, "phone")
        except SignInError as error:
            status, headers = _code_refused(error, refusal, "phone")
        except SmsError:
            refusal.add("phone", locale.gettext(
                "We could not send the SMS just now. Please try again in a minute."))
        if resident is None or (refusal and not data.get("resend")):
            return await self._assist_page(request, staff, refusal, {"phone": values["phone"]},
                                           status_code=status, headers=headers)
        # A new code asked for on the code page: its refusal is shown there, by the code.
        for _, message in refusal.items():
            errors.add("code", message)
        return await self._code_page(request, resident, values, photos, errors,
                                     status if errors else 200, headers)

    @post("/reports/assist/confirm", name="reports:assist_confirm")
    async def assist_confirm(self, request: Request, data: MultipartForm) -> Response[Any]:
        staff = sessions.staff_member(request)
        if staff is None:
            return Redirect(SIGN_IN)
        _desk(staff)
        values = _desk_values(data, "phone", "code")
        try:
            resident = await assisted.resident_by_phone(values["phone"], "code")
            await assisted.check_desk(staff, resident, "code")
        except (InvalidPhone, assisted.AssistError):
            # Only a page that was tampered with names such a resident: start again.
            return Redirect(ASSIST)
        errors = FormErrors()
        photos = await uploaded_photos(data, errors)
        draft = await _desk_draft(values, photos, errors)
        status, headers = 400, None
        if not errors:
            report_id, (status, headers) = await _register(assisted.report_by_code(
                staff, resident["phone"], values["code"], draft), errors, "code")
        if errors:
            return await self._code_page(request, resident, values, photos, errors, status,
                                         headers)
        return Redirect(f"/staff/reports/{report_id}/receipt")

    @post("/reports/assist/paper", name="reports:assist_paper")
    async def assist_paper(self, request: Request, data: MultipartForm) -> Response[Any]:
        staff = sessions.staff_member(request)
        if staff is None:
            return Redirect(SIGN_IN)
        _desk(staff)
        values = _desk_values(data, "paper_phone", "paper_form", "residence_checked")
        errors = FormErrors()
        status, headers = 400, None
        try:
            await assisted.check_paper(staff, values["paper_phone"], values["paper_form"],
                                       bool(values["residence_checked"]))
        except InvalidPhone:
            errors.add("paper_phone", locale.gettext(
                "Enter an Uzbek mobile number, like 90 123 45 67, or the resident's Ovoz "
                "number."))
        except assisted.AssistError as error:
            status, headers = _not_here(error, errors, error.field)
        photos = await uploaded_photos(data, errors)
        draft = await _desk_draft(values, photos, errors)
        if not errors:
            report_id, (status, headers) = await _register(assisted.report_by_paper(
                sessions.identity_of(request), staff, values["paper_phone"],
                values["paper_form"], bool(values["residence_checked"]), draft),
                errors, "paper_phone")
        if errors:
            return await self._assist_page(request, staff, errors, values, photos, status,
                                           headers)
        return Redirect(f"/staff/reports/{report_id}/receipt")

    @get("/reports/{report_id:int}/receipt", name="reports:assist_receipt")
    async def receipt(self, request: Request, report_id: FromPath[int]) -> Response[Any]:
        staff = sessions.staff_member(request)
        if staff is None:
            return Redirect(SIGN_IN)
        row = await assisted.receipt(report_id)
        if row is None:
            raise NotFoundException()
        # The staff member who made it, or any desk of the resident's mahalla, prints it again.
        if row["assisted_by"] != staff.id:
            require(staff, Action.ASSIST_RESIDENT,
                    Place(row["region"], row["district"], row["mahalla"]))
        district = await geo.district(row["district"])
        mahalla = await geo.mahalla(row["mahalla"]) if row["mahalla"] else None
        response = await page(
            request, "reports/staff/receipt.html", receipt=row, district=district,
            mahalla=mahalla, can_assist=bool(desk.desk_mahallas(staff)))
        response.headers["Cache-Control"] = "no-store"
        return response
