"""Pages of the periodic accountability reports: the public list, each published version as
HTML, PDF, CSV and its canonical JSON, NGO monitors' assessments, and the officials' pages
that draft, refresh, publish and correct them. The rules are periodic's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from ovoz.accountability import pdf, periodic
from ovoz.accountability.scorecards import Period
from ovoz.accounts import sessions
from ovoz.accounts.permissions import NATIONAL, Action, PermissionDenied, StaffMember, allowed
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.settings import get_settings
from ovoz.web.forms import Filter, FormErrors, chosen_id
from ovoz.web.opendata import BOM, MAX_ID, cell, csv_bytes
from ovoz.web.templating import page

Form = URLEncodedBody[dict[str, Any]]
PageNumber = Annotated[int, QueryParameter(name="page", ge=1, le=100_000)]
SIGN_IN = "/staff/signin"
STAFF_PATH = "/staff/accountability-reports"
FORMATS = ("", "pdf", "csv", "json")
NOTICES = {
    "created": locale.lazy("The draft is made with the figures as they stand now. Write the "
                           "account, then publish it."),
    "saved": locale.lazy("The draft is saved."),
    "refreshed": locale.lazy("The figures and lists are taken again, as they stand now."),
    "published": locale.lazy("The report is published and its hash is in the public ledger."),
    "correcting": locale.lazy("This is a new version that corrects the published one. Say "
                              "what it corrects, then publish it."),
    "assessed": locale.lazy("Your assessment is published."),
}


def message(error: periodic.PeriodicError) -> str:
    messages = {
        "bad_period": locale.gettext(
            "Give a period that has ended: the first and last day, at most a year apart."),
        "draft_exists": locale.gettext(
            "A draft for this period already exists. Open it from the list."),
        "already_published": locale.gettext(
            "A report for this period is already published. Correct it instead."),
        "bad_title": locale.gettext("Write a title of %(min)s to %(max)s characters.",
                                    min=periodic.TITLE_MIN, max=periodic.TITLE_MAX),
        "bad_narrative": locale.gettext(
            "Write the hokimiyat's account: %(min)s to %(max)s characters.",
            min=periodic.NARRATIVE_MIN, max=periodic.NARRATIVE_MAX),
        "bad_correction_note": locale.gettext(
            "Say what this version corrects: %(min)s to %(max)s characters. It is public.",
            min=periodic.NOTE_MIN, max=periodic.NOTE_MAX),
        "not_draft": locale.gettext("This version is published: it can no longer be changed."),
        "not_published": locale.gettext("Only the current published version can be changed "
                                        "this way."),
        "bad_organisation": locale.gettext("Give your organisation's name."),
        "bad_verdict": locale.gettext("Choose whether the report matches what you found."),
        "bad_assessment": locale.gettext(
            "Write your assessment: %(min)s to %(max)s characters.",
            min=periodic.ASSESSMENT_MIN, max=periodic.ASSESSMENT_MAX),
        "already_assessed": locale.gettext("You have already assessed this version."),
    }
    return messages.get(error.code, locale.gettext("This could not be done."))


def _staff(request: Request) -> StaffMember | None:
    identity = sessions.identity_of(request)
    if not identity.staff_signed_in or identity.staff is None:
        return None
    return StaffMember(identity.staff["id"], identity.grants)


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key) or ""
    return str(value[-1] if isinstance(value, list) else value)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def _listed(row: Mapping[str, Any], names: Mapping[int, str]) -> dict[str, Any]:
    period = periodic.period_of(row)
    return {**row, "district_name": names.get(row["district"], ""),
            "period_label": periodic.period_label(period.start, period.end)}


async def _district_names(district_ids: Any) -> dict[int, str]:
    names = {}
    for district_id in dict.fromkeys(district_ids):
        district = await geo.district(district_id)
        if district is not None:
            names[district_id] = locale.localised_name(district)
    return names


async def _report_context(row: Mapping[str, Any], staff_view: bool = False
                          ) -> dict[str, Any]:
    """What the public page and the officials' preview both show."""
    frozen = json.loads(row["snapshot"])
    period = periodic.period_of(row)
    previous = await periodic.previous_version(row) if row["version"] > 1 else None
    difference = periodic.diff(previous, row) if previous is not None else None
    return {
        "report": row, "shown": periodic.readable(frozen),
        "district_name": locale.localised_name(frozen["district"]),
        "period_label": periodic.period_label(period.start, period.end),
        "versions": await periodic.versions(row, include_drafts=staff_view),
        "previous": previous, "difference": difference,
        "figure_changes": periodic.figure_changes_shown(difference) if difference else [],
        "list_labels": periodic.LIST_LABELS, "status_labels": periodic.STATUS_LABELS,
    }


class AccountabilityReportsController(Controller):
    path = "/accountability/reports"
    include_in_schema = False

    @get("/", name="accountability:reports")
    async def index(self, request: Request, page_number: PageNumber = 1,
                    district: Filter = None) -> Template:
        district_id = chosen_id(district)
        found = await periodic.published(district_id, page_number, get_settings().page_size)
        pilots = await geo.pilot_district_ids()
        names = await _district_names([*pilots, *(row["district"] for row in found.items)])
        items = [_listed(row, names) for row in found.items]
        return await page(
            request, "accountability/reports/index.html", reports=found, items=items,
            district=district_id, districts=[(district_id, names[district_id])
                                             for district_id in pilots
                                             if district_id in names])

    @get("/{file_name:str}", name="accountability:report")
    async def report(self, request: Request, file_name: FromPath[str]) -> Response[Any]:
        """The version's page, or with .pdf, .csv or .json its downloads."""
        number, dot, suffix = file_name.partition(".")
        if (not number.isdecimal() or len(number) > 10 or int(number) > MAX_ID
                or suffix not in FORMATS or (dot and not suffix)):
            raise NotFoundException()
        row = await periodic.public_report(int(number))
        if row is None:
            raise NotFoundException()
        name = f"ovoz-accountability-report-{row['id']}-v{row['version']}"
        if suffix == "pdf":
            entry = await periodic.ledger_entry(row["id"])
            # Rendering takes a moment of CPU: off the event loop (the language goes along).
            body = await asyncio.to_thread(pdf.render, row, entry["seq"] if entry else None)
            return Response(body, media_type="application/pdf",
                            headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})
        if suffix == "csv":
            rows = [[cell(value) for value in line] for line in periodic.csv_rows(row)]
            return Response(BOM + csv_bytes(rows), media_type="text/csv",
                            headers=_attachment(f"{name}.csv"))
        if suffix == "json":
            return Response(periodic.content_bytes(row), media_type="application/json",
                            headers=_attachment(f"{name}.json"))
        return await self._page(request, row, FormErrors(), {},
                                notice=request.query_params.get("done"))

    async def _page(self, request: Request, row: Mapping[str, Any], errors: FormErrors,
                    values: Mapping[str, Any], status_code: int = 200,
                    notice: str | None = None) -> Template:
        staff = _staff(request)
        assessments = await periodic.assessments(row["id"])
        can_assess = (staff is not None and row["status"] == periodic.PUBLISHED
                      and allowed(staff, Action.MONITOR,
                                  await periodic.district_place(row["district"])))
        assessed = staff is not None and any(a["monitor"] == staff.id for a in assessments)
        return await page(
            request, "accountability/reports/detail.html", status_code=status_code,
            **await _report_context(row), current=await periodic.current_version(row),
            entry=await periodic.ledger_entry(row["id"]),
            assessments=[{key: value for key, value in a.items() if key != "monitor"}
                         for a in assessments],
            verdicts=periodic.VERDICTS, can_assess=can_assess and not assessed,
            assessed=assessed, errors=errors, values=values,
            notice=NOTICES.get(notice or ""))

    @post("/{report_id:int}/assessments", name="accountability:assess")
    async def assess(self, request: Request, report_id: FromPath[int], data: Form
                     ) -> Response[Any]:
        staff = _staff(request)
        if staff is None:
            return Redirect(SIGN_IN)
        row = await periodic.public_report(report_id) if 0 < report_id <= MAX_ID else None
        if row is None:
            raise NotFoundException()
        values = {key: _text(data, key) for key in ("organisation", "verdict", "text")}
        try:
            await periodic.add_assessment(staff, report_id, values["organisation"],
                                          values["verdict"], values["text"])
        except periodic.PeriodicError as error:
            errors = FormErrors()
            errors.add(error.field or "assessment", message(error))
            return await self._page(request, row, errors, values, 400)
        return Redirect(f"/accountability/reports/{report_id}?done=assessed#assessments")


class AccountabilityReportsStaffController(Controller):
    path = STAFF_PATH
    include_in_schema = False

    async def _index(self, request: Request, staff: StaffMember, errors: FormErrors,
                     values: Mapping[str, Any], status_code: int = 200) -> Template:
        districts = await periodic.reporting_districts(staff)
        if not districts:
            raise PermissionDenied(Action.MANAGE_CYCLES, NATIONAL)
        names = {row["id"]: locale.localised_name(row) for row in districts}
        quarter = periodic.last_quarter()
        return await page(
            request, "accountability/reports/staff/index.html", status_code=status_code,
            items=[_listed(row, names) for row in await periodic.reports_of(list(names))],
            districts=list(names.items()), status_labels=periodic.STATUS_LABELS,
            errors=errors, values={"period_from": quarter.start.isoformat(),
                                   "period_until": quarter.end.isoformat(),
                                   "district_id": str(districts[0]["id"]), **values})

    @get("/", name="accountability:staff_reports")
    async def index(self, request: Request) -> Response[Any]:
        staff = _staff(request)
        if staff is None:
            return Redirect(SIGN_IN)
        return await self._index(request, staff, FormErrors(), {})

    @post("/", name="accountability:staff_create")
    async def create(self, request: Request, data: Form) -> Response[Any]:
        staff = _staff(request)
        if staff is None:
            return Redirect(SIGN_IN)
        values = {key: _text(data, key).strip()
                  for key in ("district_id", "period_from", "period_until")}
        start, end = _day(values["period_from"]), _day(values["period_until"])
        district_id = chosen_id(values["district_id"])
        errors = FormErrors()
        if start is None or end is None:
            errors.add("period_from", message(periodic.PeriodicError("bad_period")))
        elif district_id is None:
            errors.add("district_id", locale.gettext("Choose the district."))
        else:
            try:
                report_id = await periodic.draft_report(staff, district_id, Period(start, end))
            except periodic.PeriodicError as error:
                if error.code == "not_found":
                    errors.add("district_id", locale.gettext("Choose the district."))
                else:
                    errors.add(error.field or "period_from", message(error))
            else:
                return Redirect(f"{STAFF_PATH}/{report_id}?done=created")
        return await self._index(request, staff, errors, values, 400)

    async def _edit(self, request: Request, staff: StaffMember, report_id: int,
                    errors: FormErrors, values: Mapping[str, Any], status_code: int = 200
                    ) -> Template:
        row = await periodic.report(report_id) if 0 < report_id <= MAX_ID else None
        if row is None:
            raise NotFoundException()
        periodic.require_reporter(staff, await periodic.district_place(row["district"]))
        notice = request.query_params.get("done", "")
        return await page(
            request, "accountability/reports/staff/edit.html", status_code=status_code,
            **await _report_context(row, staff_view=True),
            # A correction's note is new words, not the note of the version it corrects.
            values={"title": row["title"], "narrative": row["narrative"],
                    "correction_note": row["correction_note"] if row["status"] == periodic.DRAFT
                    else "", **values},
            errors=errors, notice=NOTICES.get(notice), limits=periodic,
            entry=await periodic.ledger_entry(row["id"]))

    @get("/{report_id:int}", name="accountability:staff_report")
    async def edit(self, request: Request, report_id: FromPath[int]) -> Response[Any]:
        staff = _staff(request)
        if staff is None:
            return Redirect(SIGN_IN)
        return await self._edit(request, staff, report_id, FormErrors(), {})

    async def _act(self, request: Request, report_id: int, work: Any,
                   values: Mapping[str, Any], done: str) -> Response[Any]:
        staff = _staff(request)
        if staff is None:
            return Redirect(SIGN_IN)
        try:
            target = await work(staff)
        except periodic.PeriodicError as error:
            if error.code == "not_found":
                raise NotFoundException() from None
            errors = FormErrors()
            errors.add(error.field or "actions", message(error))
            return await self._edit(request, staff, report_id, errors, values, 400)
        return Redirect(f"{STAFF_PATH}/{target or report_id}?done={done}")

    @post("/{report_id:int}", name="accountability:staff_save")
    async def save(self, request: Request, report_id: FromPath[int], data: Form
                   ) -> Response[Any]:
        values = {key: _text(data, key) for key in ("title", "narrative", "correction_note")}

        async def work(staff: StaffMember) -> None:
            await periodic.update_narrative(staff, report_id, values["narrative"],
                                            values["title"], values["correction_note"])
        return await self._act(request, report_id, work, values, "saved")

    @post("/{report_id:int}/refresh", name="accountability:staff_refresh")
    async def refresh(self, request: Request, report_id: FromPath[int]) -> Response[Any]:
        async def work(staff: StaffMember) -> None:
            await periodic.refresh_draft(staff, report_id)
        return await self._act(request, report_id, work, {}, "refreshed")

    @get("/{report_id:int}/publish", name="accountability:staff_confirm")
    async def confirm(self, request: Request, report_id: FromPath[int]) -> Response[Any]:
        """The confirm step: what publishing means, before it is done."""
        staff = _staff(request)
        if staff is None:
            return Redirect(SIGN_IN)
        row = await periodic.report(report_id) if 0 < report_id <= MAX_ID else None
        if row is None:
            raise NotFoundException()
        periodic.require_reporter(staff, await periodic.district_place(row["district"]))
        if row["status"] != periodic.DRAFT:
            return Redirect(f"{STAFF_PATH}/{report_id}")
        period = periodic.period_of(row)
        return await page(request, "accountability/reports/staff/publish.html", report=row,
                          period_label=periodic.period_label(period.start, period.end))

    @post("/{report_id:int}/publish", name="accountability:staff_publish")
    async def publish(self, request: Request, report_id: FromPath[int]) -> Response[Any]:
        async def work(staff: StaffMember) -> None:
            await periodic.publish_report(staff, report_id)
        return await self._act(request, report_id, work, {}, "published")

    @post("/{report_id:int}/correct", name="accountability:staff_correct")
    async def correct(self, request: Request, report_id: FromPath[int], data: Form
                      ) -> Response[Any]:
        values = {key: _text(data, key) for key in ("narrative", "correction_note")}

        async def work(staff: StaffMember) -> int:
            return await periodic.correct_report(staff, report_id, values["narrative"],
                                                 values["correction_note"])
        return await self._act(request, report_id, work, values, "correcting")
