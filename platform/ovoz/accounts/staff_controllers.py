"""Staff pages: sign in with password and TOTP (enrolling on first sign-in), the staff area,
and, for national and district administrators, new staff accounts and their roles."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from ovoz.accounts import credentials, sessions, staff
from ovoz.accounts.permissions import (
    NATIONAL,
    Action,
    Grant,
    PermissionDenied,
    Role,
    allowed,
    require,
    scopes,
)
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.notify import services as notify
from ovoz.settings import get_settings
from ovoz.web.forms import FormErrors
from ovoz.web.templating import page

Form = URLEncodedBody[dict[str, str]]
SIGN_IN = "/staff/signin"
ROLES = "/staff/roles"
# What a district administrator may give inside the district: an administrator's role is
# given only nationally, and moderators and monitors are never of a district.
DISTRICT_ROLES = (Role.OFFICIAL, Role.MAHALLA_STAFF)
# A password is never sent back into the page.
NEW_PERSON_FIELDS = ("username", "display_name", "email")


ROLE_LABELS = {
    Role.ADMINISTRATOR: locale.lazy("Administrator"),
    Role.MODERATOR: locale.lazy("Moderator"),
    Role.OFFICIAL: locale.lazy("Official"),
    Role.MAHALLA_STAFF: locale.lazy("Mahalla staff"),
    Role.NGO_MONITOR: locale.lazy("NGO monitor"),
}


class RoleNames:
    """Role names in the reader's language, for templates: role_names[grant.role]."""

    def __getitem__(self, role: str) -> str:
        return locale.gettext(ROLE_LABELS[Role(role)])


def _signed_in(request: Request) -> sessions.Identity | None:
    identity = sessions.identity_of(request)
    return identity if identity.staff_signed_in else None


def _in_step(request: Request, stage: str) -> sessions.Identity | None:
    identity = sessions.identity_of(request)
    return identity if identity.staff is not None and identity.staff_stage == stage else None


def _with_session(target: str, token: str) -> Redirect:
    response = Redirect(target)
    response.set_cookie(sessions.cookie(token))
    return response


def sign_in_message(error: staff.StaffSignInError) -> str:
    if error.code == "locked" and error.until is not None:
        return locale.gettext(
            "Too many failed attempts. You can try again from %(time)s.",
            time=locale.format_datetime(error.until))
    if error.code == "wait":
        return locale.gettext("Please wait %(seconds)s seconds before trying again.",
                              seconds=error.retry_after)
    if error.code == "disabled":
        return locale.gettext("This account has been switched off. Ask an administrator.")
    return locale.gettext("The username, password or code is not right.")


def _refused(error: staff.StaffSignInError) -> dict[str, str]:
    return {"Retry-After": str(error.retry_after)} if error.retry_after else {}


def account_message(error: staff.StaffError) -> str:
    """A refused field of a new staff account, in the reader's language."""
    messages = {
        ("username", "invalid"): locale.gettext(
            "Use 3 to 64 lower-case Latin letters, digits, dots, dashes and underscores, "
            "starting with a letter or digit."),
        ("username", "taken"): locale.gettext("This username is taken. Choose another."),
        ("display_name", "required"): locale.gettext("Give the person's name."),
        ("display_name", "too_long"): locale.gettext(
            "The name can have at most %(count)s characters.",
            count=staff.DISPLAY_NAME_LENGTH),
        ("email", "invalid"): locale.gettext(
            "Enter an e-mail address, like name@example.uz, or leave it empty."),
        ("password", "too_short"): locale.gettext(
            "The password needs at least %(count)s characters.",
            count=credentials.MIN_PASSWORD_LENGTH),
        ("password", "too_long"): locale.gettext(
            "The password can have at most %(count)s characters.",
            count=credentials.MAX_PASSWORD_LENGTH),
        ("password", "common"): locale.gettext(
            "This is one of the most common passwords. Choose another, or leave the field "
            "empty and Ovoz makes one."),
        ("password", "contains_username"): locale.gettext(
            "The password must not contain the username."),
    }
    return messages.get((error.field, error.code), locale.gettext("This could not be done."))


def _ids(data: dict[str, str], *keys: str) -> dict[str, int | None]:
    return {key: int(data[key]) if data.get(key, "").isdigit() else None for key in keys}


class StaffSignInController(Controller):
    path = "/staff"
    include_in_schema = False

    @get("/signin", name="staff:signin")
    async def form(self, request: Request) -> Template:
        return await page(request, "staff/signin.html", errors=FormErrors(), values={})

    @post("/signin", name="staff:check_password")
    async def check_password(self, request: Request, data: Form) -> Response[Any]:
        values = {"username": data.get("username", "").strip().lower()}
        try:
            account = await staff.check_password(values["username"], data.get("password", ""))
        except staff.StaffSignInError as error:
            errors = FormErrors()
            errors.add("username", sign_in_message(error))
            status = 429 if error.code in ("wait", "locked") else 400
            return await page(request, "staff/signin.html", status_code=status, errors=errors,
                              values=values, headers=_refused(error))
        enrolled = account["totp_enrolled_at"] is not None
        token = await sessions.start(
            sessions.STAFF, account["id"], account["session_epoch"],
            stage=sessions.STAFF_PASSWORD_OK if enrolled else sessions.STAFF_ENROLLING,
            previous_token=sessions.identity_of(request).token)
        return _with_session("/staff/verify" if enrolled else "/staff/enrol", token)

    @get("/verify", name="staff:verify")
    async def verify_form(self, request: Request) -> Response[Any]:
        if _in_step(request, sessions.STAFF_PASSWORD_OK) is None:
            return Redirect(SIGN_IN)
        return await page(request, "staff/verify.html", errors=FormErrors())

    @post("/verify", name="staff:check_code")
    async def check_code(self, request: Request, data: Form) -> Response[Any]:
        identity = _in_step(request, sessions.STAFF_PASSWORD_OK)
        if identity is None or identity.staff is None:
            return Redirect(SIGN_IN)
        account = identity.staff
        try:
            passed = await staff.check_second_factor(account["id"], data.get("code", ""))
        except staff.StaffSignInError as error:
            errors = FormErrors()
            errors.add("code", sign_in_message(error))
            return await page(request, "staff/verify.html", status_code=429, errors=errors,
                              headers=_refused(error))
        if not passed:
            errors = FormErrors()
            errors.add("code", locale.gettext(
                "The code is not right, or was already used. Enter the code your app shows "
                "now, or one of your recovery codes."))
            return await page(request, "staff/verify.html", status_code=400, errors=errors)
        token = await sessions.start(sessions.STAFF, account["id"], account["session_epoch"],
                                     stage=sessions.STAFF_FULL, previous_token=identity.token)
        return _with_session("/staff", token)

    @get("/enrol", name="staff:enrol")
    async def enrol_form(self, request: Request) -> Response[Any]:
        identity = _in_step(request, sessions.STAFF_ENROLLING)
        if identity is None or identity.staff is None:
            return Redirect(SIGN_IN)
        return await self._enrol_page(request, identity.staff["id"], FormErrors())

    async def _enrol_page(self, request: Request, staff_id: int, errors: FormErrors,
                          status_code: int = 200) -> Template:
        uri, qr = await staff.enrolment(staff_id)
        secret = uri.split("secret=", 1)[1].split("&", 1)[0]
        return await page(request, "staff/enrol.html", status_code=status_code, errors=errors,
                          qr=qr, secret=secret)

    @post("/enrol", name="staff:confirm_enrolment")
    async def confirm(self, request: Request, data: Form) -> Response[Any]:
        identity = _in_step(request, sessions.STAFF_ENROLLING)
        if identity is None or identity.staff is None:
            return Redirect(SIGN_IN)
        account = identity.staff
        try:
            codes = await staff.confirm_enrolment(account["id"], data.get("code", ""))
        except staff.StaffError:
            errors = FormErrors()
            errors.add("code", locale.gettext(
                "The code is not right. Enter the 6 digits your app shows now."))
            return await self._enrol_page(request, account["id"], errors, status_code=400)
        token = await sessions.start(sessions.STAFF, account["id"], account["session_epoch"],
                                     stage=sessions.STAFF_FULL, previous_token=identity.token)
        response = await page(request, "staff/recovery_codes.html", codes=codes)
        response.set_cookie(sessions.cookie(token))
        response.headers["Cache-Control"] = "no-store"
        return response


class StaffAreaController(Controller):
    path = "/staff"
    include_in_schema = False

    @get("/", name="staff:home")
    async def home(self, request: Request) -> Response[Any]:
        identity = _signed_in(request)
        if identity is None:
            return Redirect(SIGN_IN)
        require(identity, Action.VIEW_STAFF_AREA)
        return await page(request, "staff/home.html", grants=identity.grants,
                          role_names=RoleNames(),
                          can_view_audit=allowed(identity, Action.VIEW_AUDIT, NATIONAL),
                          can_manage_roles=bool(scopes(identity, Action.MANAGE_ROLES)),
                          can_administer=bool(scopes(identity, Action.MANAGE_PLACES)
                                              or scopes(identity, Action.MANAGE_ROLES)),
                          can_edit_categories=allowed(identity, Action.MANAGE_PLACES, NATIONAL),
                          place_districts=await geo.pilot_districts_where(
                              identity, Action.MANAGE_PLACES),
                          department_districts=await geo.pilot_districts_where(
                              identity, Action.MANAGE_DEPARTMENTS),
                          can_answer=bool(scopes(identity, Action.ANSWER)),
                          can_monitor=bool(scopes(identity, Action.MONITOR)),
                          can_moderate=bool(scopes(identity, Action.MODERATE)),
                          can_keep_desk=any(grant.mahalla_id for grant in scopes(
                              identity, Action.ASSIST_RESIDENT)),
                          can_petitions=bool(scopes(identity, Action.MODERATE)
                                             or scopes(identity, Action.ANSWER)
                                             or scopes(identity, Action.ASSIST_RESIDENT)))

    @post("/signout-everywhere", name="staff:signout_everywhere")
    async def sign_out_everywhere(self, request: Request) -> Redirect:
        identity = _signed_in(request)
        response = Redirect(SIGN_IN)
        if identity is not None and identity.staff is not None:
            await staff.sign_out_everywhere(identity.staff["id"])
            response.set_cookie(sessions.expired_cookie())
        return response

    @get("/audit", name="staff:audit")
    async def audit(self, request: Request,
                    page_number: Annotated[int, QueryParameter(name="page", ge=1)] = 1
                    ) -> Response[Any]:
        identity = _signed_in(request)
        if identity is None:
            return Redirect(SIGN_IN)
        entries = await staff.audit_page(page_number, get_settings().page_size, actor=identity)
        return await page(request, "staff/audit.html", entries=entries)

    @get("/outbox", name="staff:outbox")
    async def outbox(self, request: Request) -> Response[Any]:
        identity = _signed_in(request)
        if identity is None:
            return Redirect(SIGN_IN)
        require(identity, Action.VIEW_AUDIT, NATIONAL)
        return await page(request, "staff/outbox.html", dead=await notify.dead_letters())

    @post("/outbox/{message_id:int}/retry", name="staff:outbox_retry")
    async def retry(self, request: Request, message_id: FromPath[int]) -> Response[Any]:
        identity = _signed_in(request)
        if identity is None:
            return Redirect(SIGN_IN)
        require(identity, Action.VIEW_AUDIT, NATIONAL)
        await notify.retry_dead(message_id)
        return Redirect("/staff/outbox")

    @get("/roles", name="staff:roles")
    async def roles(self, request: Request,
                    person: Annotated[int | None, QueryParameter(name="person", ge=1)] = None
                    ) -> Response[Any]:
        identity = _signed_in(request)
        if identity is None:
            return Redirect(SIGN_IN)
        staff.require_role_manager(identity)
        values = {"staff_id": str(person)} if person else {}
        return await self._roles_page(request, identity, FormErrors(), values, chosen=person)

    async def _roles_page(self, request: Request, identity: sessions.Identity,
                          errors: FormErrors, values: dict[str, str], status_code: int = 200,
                          chosen: int | None = None) -> Template:
        national = allowed(identity, Action.MANAGE_ROLES, NATIONAL)
        # A district administrator chooses among their own districts instead of typing ids.
        districts = [] if national else [
            row for grant in scopes(identity, Action.MANAGE_ROLES)
            if grant.district_id and (row := await geo.district(grant.district_id))]
        return await page(request, "staff/roles.html", status_code=status_code,
                          people=await staff.staff_list(identity), national=national,
                          roles=list(Role) if national else list(DISTRICT_ROLES),
                          districts=districts, chosen=chosen, errors=errors,
                          role_names=RoleNames(), values=values)

    @post("/roles", name="staff:grant_role")
    async def grant(self, request: Request, data: Form) -> Response[Any]:
        identity = _signed_in(request)
        if identity is None:
            return Redirect(SIGN_IN)
        staff.require_role_manager(identity)
        errors = FormErrors()
        ids = _ids(data, "staff_id", "region_id", "district_id", "mahalla_id", "department_id")
        role = data.get("role", "")
        if ids["staff_id"] is None:
            errors.add("staff_id", locale.gettext("Choose a person."))
        if role not in {r.value for r in Role}:
            errors.add("role", locale.gettext("Choose a role."))
        status = 400
        if not errors:
            grant = Grant(role=Role(role), region_id=ids["region_id"],
                          district_id=ids["district_id"], mahalla_id=ids["mahalla_id"],
                          department_id=ids["department_id"])
            try:
                await staff.grant_role(ids["staff_id"] or 0, grant, actor=identity)
            except staff.StaffError as error:
                errors.add("role", locale.gettext(
                    "This role does not fit that place: %(reason)s", reason=str(error)))
            except PermissionDenied:
                status = 403
                errors.add("role", locale.gettext(
                    "You can give roles only inside your district. Only a national "
                    "administrator gives an administrator's role."))
        if errors:
            return await self._roles_page(request, identity, errors, dict(data),
                                          status_code=status, chosen=ids["staff_id"])
        return Redirect(ROLES)

    @get("/people/new", name="staff:new_person")
    async def new_person(self, request: Request) -> Response[Any]:
        identity = _signed_in(request)
        if identity is None:
            return Redirect(SIGN_IN)
        staff.require_role_manager(identity)
        return await page(request, "staff/new_person.html", errors=FormErrors(), values={},
                          min_password=credentials.MIN_PASSWORD_LENGTH)

    @post("/people/new", name="staff:create_person")
    async def create_person(self, request: Request, data: Form) -> Response[Any]:
        """Create the account; the person enrols an authenticator at their first sign-in.
        Without a typed password one is made and shown once, here."""
        identity = _signed_in(request)
        if identity is None:
            return Redirect(SIGN_IN)
        staff.require_role_manager(identity)
        values = {key: data.get(key, "").strip() for key in NEW_PERSON_FIELDS}
        values["username"] = values["username"].lower()
        password = data.get("password", "")
        made = not password
        if made:
            password = credentials.new_password(values["username"])
        errors = FormErrors()
        problems = staff.new_account_problems(values["username"], values["display_name"],
                                              password, values["email"])
        if not problems:
            try:
                account, _ = await staff.create_staff(
                    values["username"], values["display_name"], password, actor=identity,
                    email=values["email"])
            except staff.StaffError as error:
                problems = [error]
        for problem in problems:
            errors.add(problem.field, account_message(problem))
        if errors:
            return await page(request, "staff/new_person.html", status_code=400,
                              errors=errors, values=values,
                              min_password=credentials.MIN_PASSWORD_LENGTH)
        target = f"{ROLES}?person={account['id']}#person-{account['id']}"
        if not made:
            return Redirect(target)
        response = await page(request, "staff/person_created.html", account=account,
                              password=password, next_url=target)
        response.headers["Cache-Control"] = "no-store"
        return response

    @post("/people/{staff_id:int}/{change:str}", name="staff:change_person")
    async def change_person(self, request: Request, staff_id: FromPath[int],
                            change: FromPath[str]) -> Response[Any]:
        identity = _signed_in(request)
        if identity is None:
            return Redirect(SIGN_IN)
        staff.require_role_manager(identity)
        if change == "reset-authenticator":
            await staff.reset_second_factor(staff_id, actor=identity)
        elif change in ("disable", "enable"):
            try:
                await staff.set_disabled(staff_id, change == "disable", actor=identity)
            except staff.StaffError:
                errors = FormErrors()
                errors.add("staff_id", locale.gettext(
                    "You cannot switch off your own account."))
                return await self._roles_page(request, identity, errors, {}, status_code=400)
        else:
            raise NotFoundException()
        return Redirect(ROLES)

    @post("/roles/{grant_id:int}/revoke", name="staff:revoke_role")
    async def revoke(self, request: Request, grant_id: FromPath[int]) -> Response[Any]:
        identity = _signed_in(request)
        if identity is None:
            return Redirect(SIGN_IN)
        try:
            await staff.revoke_role(grant_id, actor=identity)
        except staff.StaffError as error:
            # Revoked already (a second click, another administrator): nothing left to do.
            if error.code == "unknown":
                raise NotFoundException() from None
        return Redirect(ROLES)
