"""Administrators' pages for a district's mahallas: the list, adding one, correcting one and
importing a CSV file of them. National administrators reach every district, a district
administrator their own (geo.services checks it)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from ovoz.accounts import sessions
from ovoz.accounts.permissions import Action, Place, StaffMember, require
from ovoz.geo import services
from ovoz.geo.controllers import PageNumber, Search
from ovoz.i18n import locale
from ovoz.settings import get_settings
from ovoz.web.forms import FormErrors
from ovoz.web.templating import page

Form = URLEncodedBody[dict[str, str]]
FileForm = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
SIGN_IN = "/staff/signin"
# How many mahallas the last change added and updated, for the notice after it.
Count = Annotated[int | None, QueryParameter(ge=0, le=100_000)]


def _district_path(district_id: int) -> str:
    return f"/staff/admin/districts/{district_id}/mahallas"


def field_message(field: str, code: str, params: dict[str, Any]) -> str:
    """A bad value of a mahalla, in the reader's language."""
    if code == "required":
        return locale.gettext("Give the mahalla's name in Uzbek, in Latin letters.")
    if code == "too_long":
        return locale.gettext("A name can have at most %(count)s characters.",
                              count=params["length"])
    if code == "taken":
        return locale.gettext("The district already has a mahalla by this name.")
    if code == "both":
        return locale.gettext("Give both the latitude and the longitude of the centre, or "
                              "neither.")
    if code == "not_number":
        return locale.gettext("Write a number with a decimal point, like 41.6912.")
    if code == "outside":
        return locale.gettext("This is outside Uzbekistan: give a number from %(low)s to "
                              "%(high)s.", low=params["low"], high=params["high"])
    if code == "not_whole":
        return locale.gettext("Give the population as a whole number, or leave it empty.")
    if code == "too_large":
        return locale.gettext("The population can be at most %(count)s.",
                              count=locale.format_number(params["most"]))
    if field == "district_id":
        return locale.gettext("The district_id is not the id of a known district.")
    return locale.gettext("This could not be done.")


def row_message(error: services.RowError) -> str:
    """A refused line of a mahalla file, in the reader's language, naming the line and the
    column at fault."""
    messages = {
        "not_utf8": locale.gettext("The file is not UTF-8 text. Save it as “CSV UTF-8” and "
                                   "upload it again."),
        "columns": " ".join(filter(None, (
            locale.gettext("The first line must name the columns: district_id and name_uz, "
                           "and any of these: %(columns)s.",
                           columns=error.params.get("columns", "")),
            error.params.get("missing") and locale.gettext(
                "Missing: %(columns)s.", columns=error.params["missing"]),
            error.params.get("unknown") and locale.gettext(
                "Not known: %(columns)s.", columns=error.params["unknown"]),
        ))),
        "extra_values": locale.gettext("This line has more values than there are columns."),
        "duplicate": locale.gettext("The same mahalla as on line %(line)s.",
                                    line=error.params.get("first_line", "")),
        "empty": locale.gettext("The file has no mahallas."),
        "other_district": locale.gettext(
            "This line is for district %(id)s: this page imports only this district's "
            "mahallas.", id=error.params.get("district_id", "")),
    }
    message = messages.get(error.code) or field_message(error.column, error.code, error.params)
    if error.column:
        return locale.gettext("Line %(line)s, column %(column)s: %(problem)s",
                              line=error.line, column=error.column, problem=message)
    return locale.gettext("Line %(line)s: %(problem)s", line=error.line, problem=message)


def _typed(data: dict[str, str]) -> dict[str, str]:
    return {key: data.get(key, "").strip() for key in services.MAHALLA_FIELDS}


def _problems(error: services.MahallaRowError) -> FormErrors:
    errors = FormErrors()
    for problem in error.problems:
        errors.add(problem.field, field_message(problem.field, problem.code, problem.params))
    return errors


def _shown(mahalla: dict[str, Any]) -> dict[str, str]:
    """A mahalla as its edit form shows it."""
    def text(value: Any) -> str:
        return "" if value is None else str(value)
    return {"name_uz": mahalla["name_uz"], "name_uz_cyrl": mahalla["name_uz_cyrl"],
            "name_ru": mahalla["name_ru"], "name_en": mahalla["name_en"],
            "latitude": text(mahalla["centre_lat"]), "longitude": text(mahalla["centre_lon"]),
            "population": text(mahalla["population"])}


class MahallasStaffController(Controller):
    path = "/staff/admin"
    include_in_schema = False

    async def _district(self, staff: StaffMember, district_id: int) -> dict[str, Any]:
        district = await services.district(district_id)
        if district is None:
            raise NotFoundException()
        require(staff, Action.MANAGE_PLACES, Place(district["region"], district_id))
        return district

    async def _list(self, request: Request, staff: StaffMember, district_id: int,
                    errors: FormErrors, values: dict[str, str], status_code: int = 200,
                    row_errors: list[str] | None = None, page_number: int = 1,
                    search: str | None = None, created: int | None = None,
                    updated: int | None = None) -> Template:
        district = await self._district(staff, district_id)
        mahallas = await services.mahalla_page(district_id, search, page_number,
                                               get_settings().page_size)
        return await page(
            request, "geo/staff/mahallas.html", status_code=status_code, district=district,
            mahallas=mahallas, search=search or "", errors=errors, values=values,
            row_errors=row_errors or [], created=created, updated=updated,
            columns=", ".join(services.MAHALLA_COLUMNS))

    @get("/districts/{district_id:int}/mahallas", name="geo:staff_mahallas")
    async def mahallas(self, request: Request, district_id: FromPath[int],
                       page_number: PageNumber = 1, search: Search = None,
                       created: Count = None, updated: Count = None) -> Response[Any]:
        staff = sessions.staff_member(request)
        if staff is None:
            return Redirect(SIGN_IN)
        return await self._list(request, staff, district_id, FormErrors(), {},
                                page_number=page_number, search=(search or "").strip() or None,
                                created=created, updated=updated)

    @post("/districts/{district_id:int}/mahallas", name="geo:staff_add_mahalla")
    async def add(self, request: Request, district_id: FromPath[int], data: Form
                  ) -> Response[Any]:
        staff = sessions.staff_member(request)
        if staff is None:
            return Redirect(SIGN_IN)
        await self._district(staff, district_id)
        values = _typed(data)
        try:
            await services.add_mahalla(staff, district_id, values)
        except services.MahallaRowError as error:
            return await self._list(request, staff, district_id, _problems(error), values, 400)
        return Redirect(f"{_district_path(district_id)}?created=1")

    @post("/districts/{district_id:int}/mahallas/import", name="geo:staff_import_mahallas")
    async def import_file(self, request: Request, district_id: FromPath[int],
                          data: FileForm) -> Response[Any]:
        staff = sessions.staff_member(request)
        if staff is None:
            return Redirect(SIGN_IN)
        await self._district(staff, district_id)
        upload = data.get("file")
        content = await upload.read() if isinstance(upload, UploadFile) else b""
        errors = FormErrors()
        if not content:
            errors.add("file", locale.gettext("Choose a CSV file of the district's mahallas."))
            return await self._list(request, staff, district_id, errors, {}, 400)
        try:
            summary = await services.import_district_mahallas(staff, district_id, content)
        except services.MahallaImportError as refused:
            errors.add("file", locale.ngettext(
                "Nothing was imported: the file has %(num)s problem.",
                "Nothing was imported: the file has %(num)s problems.", len(refused.errors)))
            return await self._list(request, staff, district_id, errors, {}, 400,
                                    row_errors=[row_message(row) for row in refused.errors])
        return Redirect(f"{_district_path(district_id)}?created={summary.created}"
                        f"&updated={summary.updated}")

    async def _edit(self, request: Request, staff: StaffMember, mahalla_id: int,
                    errors: FormErrors, values: dict[str, str] | None = None,
                    status_code: int = 200) -> Template:
        mahalla = await services.mahalla(mahalla_id)
        if mahalla is None:
            raise NotFoundException()
        district = await self._district(staff, mahalla["district"])
        return await page(request, "geo/staff/mahalla.html", status_code=status_code,
                          district=district, mahalla=mahalla, errors=errors,
                          values=values if values is not None else _shown(mahalla))

    @get("/mahallas/{mahalla_id:int}", name="geo:staff_mahalla")
    async def mahalla(self, request: Request, mahalla_id: FromPath[int]) -> Response[Any]:
        staff = sessions.staff_member(request)
        if staff is None:
            return Redirect(SIGN_IN)
        return await self._edit(request, staff, mahalla_id, FormErrors())

    @post("/mahallas/{mahalla_id:int}", name="geo:staff_update_mahalla")
    async def update(self, request: Request, mahalla_id: FromPath[int], data: Form
                     ) -> Response[Any]:
        staff = sessions.staff_member(request)
        if staff is None:
            return Redirect(SIGN_IN)
        values = _typed(data)
        try:
            changed = await services.update_mahalla(staff, mahalla_id, values)
        except LookupError:
            raise NotFoundException() from None
        except services.MahallaRowError as error:
            return await self._edit(request, staff, mahalla_id, _problems(error), values, 400)
        mahalla = await services.mahalla(mahalla_id)
        assert mahalla is not None
        return Redirect(f"{_district_path(mahalla['district'])}?updated={int(bool(changed))}")
