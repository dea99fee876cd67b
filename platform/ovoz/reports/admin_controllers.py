"""National administrators' page of the kinds of problem residents report: their names, how
many days an answer may take and their order, and adding a new kind."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from ovoz.accountability import clock
from ovoz.accounts import sessions
from ovoz.accounts.permissions import NATIONAL, Action, require
from ovoz.i18n import locale
from ovoz.reports import services
from ovoz.web.forms import FormErrors
from ovoz.web.templating import page

Form = URLEncodedBody[dict[str, str]]
SIGN_IN = "/staff/signin"
PATH = "/staff/admin/categories"
# Every field of the forms; each form's ids carry a prefix ("new-", "c12-") so that the error
# summary links to the right one.
FIELDS = ("code", "group", *services.CATEGORY_NAMES, "response_days", "position")
NEW = "new"
Done = Annotated[str | None, QueryParameter(name="done", max_length=10)]


def category_message(error: services.ReportError) -> str:
    messages = {
        "bad_code": locale.gettext(
            "Use lower-case Latin letters, digits and underscores, with at most one dot "
            "between the group and the kind, like roads.pothole; at most %(count)s "
            "characters.", count=services.CATEGORY_CODE_LENGTH),
        "code_taken": locale.gettext("Another kind of problem has this code."),
        "unknown_group": locale.gettext("Choose the group."),
        "name_required": locale.gettext("Give the name in Uzbek, in Latin letters."),
        "name_too_long": locale.gettext("A name can have at most %(count)s characters.",
                                        count=services.CATEGORY_NAME_LENGTH),
        "bad_response_days": locale.gettext(
            "Give a whole number of days from 1 to %(days)s: the Law on Appeals allows 15, "
            "or a month where the matter needs study.", days=services.MAX_RESPONSE_DAYS),
        "bad_position": locale.gettext("Give a whole number from 0 to %(count)s.",
                                       count=services.MAX_POSITION),
    }
    return messages.get(error.code, locale.gettext("This could not be done."))


def _typed(data: dict[str, str]) -> dict[str, str]:
    return {key: data.get(key, "").strip() for key in FIELDS}


def _errors(prefix: str, problems: list[services.ReportError]) -> FormErrors:
    errors = FormErrors()
    for problem in problems:
        errors.add(f"{prefix}-{problem.field}", category_message(problem))
    return errors


class CategoriesAdminController(Controller):
    path = PATH
    include_in_schema = False

    async def _page(self, request: Request, errors: FormErrors, status_code: int = 200,
                    form: str = "", values: dict[str, str] | None = None,
                    done: str | None = None) -> Template:
        """`form` names the form whose typed `values` are shown again: NEW or a category
        id; every other form shows what is stored."""
        categories = await services.categories()
        shown = {str(row["id"]): {key: str(row[key]) for key in FIELDS} for row in categories}
        shown[NEW] = {"response_days": str(clock.COMPLAINT_DAYS)}
        if form:
            shown[form] = values or {}
        return await page(
            request, "reports/staff/categories.html", status_code=status_code,
            categories=categories, groups=await services.category_groups(), shown=shown,
            errors=errors, open_form=form, done=done, new=NEW,
            max_response_days=services.MAX_RESPONSE_DAYS)

    @get("/", name="reports:categories")
    async def categories(self, request: Request, done: Done = None) -> Response[Any]:
        staff = sessions.staff_member(request)
        if staff is None:
            return Redirect(SIGN_IN)
        require(staff, Action.MANAGE_PLACES, NATIONAL)
        return await self._page(request, FormErrors(),
                                done=done if done in ("added", "saved", "same") else None)

    @post("/", name="reports:add_category")
    async def add(self, request: Request, data: Form) -> Response[Any]:
        staff = sessions.staff_member(request)
        if staff is None:
            return Redirect(SIGN_IN)
        require(staff, Action.MANAGE_PLACES, NATIONAL)
        values = _typed(data)
        _, problems = await services.category_problems(values)
        if not problems:
            try:
                await services.add_category(staff, values)
            except services.ReportError as error:
                problems = [error]
        if problems:
            return await self._page(request, _errors(NEW, problems), 400, NEW, values)
        return Redirect(f"{PATH}?done=added")

    @post("/{category_id:int}", name="reports:update_category")
    async def update(self, request: Request, category_id: FromPath[int], data: Form
                     ) -> Response[Any]:
        staff = sessions.staff_member(request)
        if staff is None:
            return Redirect(SIGN_IN)
        require(staff, Action.MANAGE_PLACES, NATIONAL)
        if await services.category(category_id) is None:
            raise NotFoundException()
        values = _typed(data)
        _, problems = await services.category_problems(values, category_id)
        changed: list[str] = []
        if not problems:
            changed = await services.update_category(staff, category_id, values)
        if problems:
            return await self._page(request, _errors(f"c{category_id}", problems), 400,
                                    str(category_id), values)
        return Redirect(f"{PATH}?done={'saved' if changed else 'same'}#c{category_id}")
