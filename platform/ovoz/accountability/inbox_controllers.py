"""The officials' inbox page: one list across problem reports, petitions and proposals, due
date first, with a short answer form on each item that posts to the item's own answer and
comes back here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.params import QueryParameter
from litestar.response import Redirect

from ovoz.accountability import clock, inbox, scorecards
from ovoz.accountability import services as obligations
from ovoz.accountability.controllers import bodies
from ovoz.accountability.inbox import InboxFilters
from ovoz.accounts import sessions
from ovoz.accounts.permissions import NATIONAL, Action, PermissionDenied
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.petitions import services as petitions
from ovoz.reports import services as reports
from ovoz.settings import get_settings
from ovoz.web.forms import Filter, chosen_id
from ovoz.web.templating import page

PageNumber = Annotated[int, QueryParameter(name="page", ge=1, le=100_000)]
Answered = Annotated[str | None, QueryParameter(name="answered", max_length=40)]
SIGN_IN = "/staff/signin"
TARGET = "inbox-list"
# Answered from the report's own page: a duplicate needs the original's number, a referral
# the body it goes to.
FULL_PAGE_STATUSES = (reports.DUPLICATE, reports.REFERRED)
DUE_LABELS = {
    inbox.OVERDUE: locale.lazy("Overdue"),
    inbox.THIS_WEEK: locale.lazy("Due within a week, not yet overdue"),
}


def _answer_form(row: Mapping[str, Any], item: Mapping[str, Any]) -> str:
    """Which short answer form the item gets here, or "" when it is answered on its page."""
    status = item.get("status")
    if row["kind"] == obligations.REPORT and _report_statuses(status):
        return "report"
    if row["kind"] == obligations.PETITION and status == petitions.THRESHOLD_REACHED:
        return "petition"
    if row["kind"] == obligations.PROPOSAL_REVIEW:
        return "review"
    return ""


def _report_statuses(status: str | None) -> list[str]:
    return sorted((code for code in reports.TRANSITIONS.get(status or "", ())
                   if code not in FULL_PAGE_STATUSES), key=reports.STATUSES.index)


async def _place_names(rows: Sequence[Mapping[str, Any]]) -> dict[int, str]:
    names = {}
    for mahalla_id in {row["mahalla"] for row in rows if row["mahalla"]}:
        mahalla = await geo.mahalla(mahalla_id)
        if mahalla is not None:
            names[mahalla_id] = locale.localised_name(mahalla)
    return names


class InboxController(Controller):
    path = inbox.PATH
    include_in_schema = False

    @get("/", name="accountability:inbox", cache=False)
    async def index(self, request: Request, kind: Filter = None, district: Filter = None,
                    department: Filter = None, due: Filter = None,
                    answered: Answered = None, page_number: PageNumber = 1) -> Response[Any]:
        staff = sessions.staff_member(request)
        if staff is None:
            return Redirect(SIGN_IN)
        if inbox.reach(staff) is None:
            raise PermissionDenied(Action.ANSWER, NATIONAL)
        district_ids = inbox.districts_of(staff)
        districts = [row for row in [await geo.district(i) for i in district_ids] if row]
        district_names = {row["id"]: locale.localised_name(row) for row in districts}
        # The hokimiyat itself once, then every department of the districts answered for.
        body_names = {department_id: name for row in districts
                      for department_id, name in await bodies(row["id"])}
        hokimiyat = body_names.pop(None, locale.gettext("District hokimiyat"))
        body_choices = [(scorecards.HOKIMIYAT, hokimiyat),
                        *((str(department_id), name) for department_id, name in body_names.items())]
        chosen_department: scorecards.DepartmentChoice = (
            scorecards.HOKIMIYAT if (department or "").strip() == scorecards.HOKIMIYAT
            else chosen_id(department))
        filters = InboxFilters(
            kind=kind if kind in obligations.KINDS else None,
            district_id=chosen_id(district) if chosen_id(district) in district_names else None,
            department=chosen_department, due=due if due in inbox.DUE_CHOICES else None)
        at = obligations.now()
        found = await inbox.inbox(staff, filters, page_number, get_settings().page_size, at)
        described = await obligations.describe(found.items)
        places = await _place_names(found.items)
        language = locale.current_language.get()
        items = []
        for row in found.items:
            item = described.get((row["kind"], row["ref"]), {})
            overdue = row["due_at"] <= at
            items.append({
                **row, **item,
                "kind_label": locale.gettext(obligations.KIND_LABELS[row["kind"]]),
                "title": obligations.title_of(item, language) if item else "",
                "staff_path": obligations.STAFF_PATHS[row["kind"]].format(row["ref"]),
                "public_path": obligations.PUBLIC_PATHS[row["kind"]].format(row["ref"]),
                "district_name": district_names.get(row["district"], ""),
                "body_name": body_names.get(row["department"], hokimiyat),
                "mahalla_name": places.get(row["mahalla"], ""),
                "due_day": clock.last_day(row["due_at"]),
                "overdue": overdue,
                "days": abs((clock.local_day(at) - clock.last_day(row["due_at"])).days),
                "form": _answer_form(row, item),
                "next_statuses": _report_statuses(item.get("status")),
            })
        template = "accountability/inbox/index.html"
        if request.headers.get("hx-request") and request.headers.get("hx-target") == TARGET:
            template = "accountability/inbox/_list.html"
        response = await page(
            request, template, found=found, items=items, target=TARGET,
            counts=await inbox.counts(staff, at), answered=inbox.answered_item(answered),
            kinds=[(code, locale.gettext(label))
                   for code, label in obligations.KIND_LABELS.items()],
            districts=districts if len(districts) > 1 else [],
            bodies=body_choices, due_labels=DUE_LABELS,
            kind=filters.kind or "", district=filters.district_id,
            department=str(filters.department or ""), due=filters.due or "",
            report_labels=reports.STATUS_LABELS, decisions=petitions.DECISIONS,
            return_to=inbox.RETURN_TO_INBOX)
        response.headers["Vary"] = "HX-Request, HX-Target"
        return response
