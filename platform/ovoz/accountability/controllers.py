"""Public scorecards: how the pilot districts' hokimiyats and their departments answer
residents in a period, the league of pilot districts, and the late items behind the figures.
Every chart is drawn on the server and has a table with the same figures beside it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter
from litestar.response import Template
from markupsafe import Markup

from ovoz.accountability import charts, clock, periodic, scorecards, watchlist
from ovoz.accountability import services as obligations
from ovoz.accountability.scorecards import Figures, Period, PeriodError
from ovoz.accounts import sessions
from ovoz.accounts.permissions import Action, Place, allowed
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.reports import services as reports
from ovoz.settings import get_settings
from ovoz.web.forms import Filter, FormErrors, chosen_id
from ovoz.web.templating import page, url_with

PageNumber = Annotated[int, QueryParameter(name="page", ge=1, le=100_000)]
# Read as text: a mistyped day gets a message beside the field, not a bare 400.
PeriodStart = Annotated[str | None, QueryParameter(name="from", max_length=40)]
PeriodEnd = Annotated[str | None, QueryParameter(name="to", max_length=40)]
QUARTER_LINKS = 4
LATE_TARGET = "late-items"
# The figures of the league table, in its column order.
LEAGUE_FIGURES = ("received", "resolved", "open", "overdue", "on_time_rate",
                  "petitions_on_time_rate", "resolution_median_days")
SPEED_FIGURES = ("first_response_median_days", "first_response_p90_days",
                 "resolution_median_days", "resolution_p90_days")
DEPARTMENT_FIGURES = ("received", "resolved", "open", "overdue", "on_time_rate",
                      "resolution_median_days")
STATE_LABELS = {
    "overdue": locale.lazy("Not answered yet"),
    "answered_late": locale.lazy("Answered late"),
    "lapsed": locale.lazy("Never answered"),
}


def period_message(error: PeriodError) -> str:
    if error.code == "bad_date" and error.field == "from":
        return locale.gettext("Give the first day as a date, for example 2026-07-01.")
    messages = {
        "bad_date": locale.gettext("Give the last day as a date, for example 2026-09-30."),
        "no_start": locale.gettext("Give the first day of the period as well."),
        "reversed": locale.gettext("The last day cannot be before the first day."),
        "too_long": locale.gettext("Choose a period of at most two years."),
    }
    return messages.get(error.code, locale.gettext("Choose another period."))


def figure(figures: Figures, key: str) -> str:
    """A figure in words: a share as a percentage, "—" for none."""
    return periodic.figure_text(key, figures.as_dict()[key])


def figure_label(key: str) -> str:
    return locale.gettext(periodic.FIGURE_LABELS[key])


def _query(period: Period) -> str:
    return urlencode({"from": period.start.isoformat(), "to": period.end.isoformat()})


def _rate_chart(title: str, labelled: Sequence[tuple[str, Figures]]) -> Markup:
    return charts.bar_chart(title, [
        charts.Row(label, (figures.on_time_rate,), (figure(figures, "on_time_rate"),))
        for label, figures in labelled], maximum=1)


class PeriodChoice:
    """The period a page shows, what the reader typed for it, and what was wrong with it."""

    def __init__(self, start: str | None, end: str | None, today: date) -> None:
        self.values = {"from": (start or "").strip(), "to": (end or "").strip()}
        self.errors = FormErrors()
        self.period: Period | None = None
        try:
            self.period = scorecards.period_from_query(start, end, today)
        except PeriodError as error:
            self.errors.add(error.field, period_message(error))
        self.quarters = [{"label": periodic.period_label(quarter.start, quarter.end),
                          "query": _query(quarter), "current": quarter == self.period}
                         for quarter in scorecards.quarters_until(today, QUARTER_LINKS)]

    def context(self, as_of: datetime) -> dict[str, Any]:
        period = self.period
        return {
            "period": period, "values": self.values, "errors": self.errors,
            "quarters": self.quarters, "as_of": as_of,
            "period_label": periodic.period_label(period.start, period.end) if period else "",
            "period_query": _query(period) if period else "",
        }


async def _pilot(district_id: int) -> dict[str, Any]:
    if not await geo.is_pilot(district_id):
        raise NotFoundException()
    district = await geo.district(district_id)
    if district is None:
        raise NotFoundException()
    return district


async def bodies(district_id: int) -> list[tuple[int | None, str]]:
    """The hokimiyat itself, then each of the district's departments, by name."""
    return [(None, locale.gettext("District hokimiyat")), *(
        (row["id"], locale.localised_name(row))
        for row in await reports.departments(district_id))]


async def watching(request: Request, district: Mapping[str, Any]) -> dict[str, Any]:
    """What the watch buttons need when the reader is a monitor whose grants reach the
    district: what it watches, and this page to come back to. Nothing for anyone else."""
    staff = sessions.staff_member(request)
    if staff is None or not allowed(staff, Action.MONITOR,
                                    Place(district["region"], district["id"])):
        return {"monitoring": False}
    return {"monitoring": True, "watched": await watchlist.watched_keys(staff.id),
            "here": url_with(request)}


def _chosen_department(text: str | None, known: Mapping[int | None, str]
                       ) -> scorecards.DepartmentChoice:
    if (text or "").strip() == scorecards.HOKIMIYAT:
        return scorecards.HOKIMIYAT
    department_id = chosen_id(text)
    return department_id if department_id in known else None


class AccountabilityController(Controller):
    path = "/accountability"
    include_in_schema = False

    @get("/", name="accountability:index")
    async def index(self, request: Request, start: PeriodStart = None,
                    end: PeriodEnd = None) -> Template:
        as_of = obligations.now()
        choice = PeriodChoice(start, end, clock.local_day(as_of))
        context = choice.context(as_of)
        if choice.period is None:
            return await page(request, "accountability/index.html", status_code=400,
                              **context)
        pilots = {row["id"]: locale.localised_name(row) for row in await geo.pilot_districts()}
        table = await scorecards.league(pilots, choice.period, as_of)
        league = [{"rank": place if table[district_id].on_time_rate is not None else None,
                   "id": district_id, "name": pilots[district_id],
                   "figures": table[district_id]}
                  for place, district_id in enumerate(scorecards.ranked(table), start=1)]
        labelled = [(row["name"], row["figures"]) for row in league]
        return await page(
            request, "accountability/index.html", league=league,
            league_figures=LEAGUE_FIGURES, speed_figures=SPEED_FIGURES,
            figure=figure, figure_label=figure_label,
            rate_chart=_rate_chart(locale.gettext(
                "Share of items answered on time, by district"), labelled),
            speed_chart=charts.bar_chart(
                locale.gettext("Days to answer, by district"), [
                    charts.Row(name, (figures.resolution_median_days,
                                      figures.resolution_p90_days),
                               (figure(figures, "resolution_median_days"),
                                figure(figures, "resolution_p90_days")))
                    for name, figures in labelled],
                [locale.gettext("Median"), locale.gettext("90th percentile")]),
            **context)

    @get("/districts/{district_id:int}", name="accountability:district")
    async def district(self, request: Request, district_id: FromPath[int],
                       start: PeriodStart = None, end: PeriodEnd = None) -> Template:
        district = await _pilot(district_id)
        as_of = obligations.now()
        choice = PeriodChoice(start, end, clock.local_day(as_of))
        context = choice.context(as_of) | {"district": district,
                                           "district_name": locale.localised_name(district),
                                           **await watching(request, district)}
        if choice.period is None:
            return await page(request, "accountability/district.html", status_code=400,
                              **context)
        card = await scorecards.scorecard(district_id, choice.period, as_of)
        answering = await bodies(district_id)
        rows = [{"id": department_id, "name": name,
                 "filter": scorecards.HOKIMIYAT if department_id is None else department_id,
                 "figures": card.departments.get(department_id, Figures())}
                for department_id, name in answering]
        return await page(
            request, "accountability/district.html", figures=card.district, departments=rows,
            department_figures=DEPARTMENT_FIGURES, figure=figure, figure_label=figure_label,
            late_count=(await scorecards.late(district_id, choice.period, as_of,
                                              per_page=1)).total,
            counts_chart=charts.bar_chart(
                locale.gettext("Items received, answered and open past the due date, by body"),
                [charts.Row(row["name"], (row["figures"].received, row["figures"].resolved,
                                          row["figures"].overdue),
                            (figure(row["figures"], "received"),
                             figure(row["figures"], "resolved"),
                             figure(row["figures"], "overdue"))) for row in rows],
                [locale.gettext("Received"), locale.gettext("Answered"),
                 locale.gettext("Open past the due date")]),
            rate_chart=_rate_chart(locale.gettext("Share of items answered on time, by body"),
                                   [(row["name"], row["figures"]) for row in rows]),
            **context)

    @get("/districts/{district_id:int}/late", name="accountability:late")
    async def late(self, request: Request, district_id: FromPath[int],
                   start: PeriodStart = None, end: PeriodEnd = None,
                   kind: Filter = None, department: Filter = None,
                   page_number: PageNumber = 1) -> Template:
        district = await _pilot(district_id)
        as_of = obligations.now()
        choice = PeriodChoice(start, end, clock.local_day(as_of))
        answering = await bodies(district_id)
        names = dict(answering)
        chosen_kind = kind if kind in obligations.KINDS else None
        chosen = _chosen_department(department, names)
        context = choice.context(as_of) | {
            "district": district, "district_name": locale.localised_name(district),
            "kinds": [(code, locale.gettext(label))
                      for code, label in obligations.KIND_LABELS.items()],
            "bodies": [(scorecards.HOKIMIYAT if department_id is None else department_id,
                        name) for department_id, name in answering],
            "kind": chosen_kind, "department": chosen, "target": LATE_TARGET,
            **await watching(request, district),
        }
        if choice.period is None:
            return await page(request, "accountability/late.html", status_code=400,
                              **context)
        found = await scorecards.late(district_id, choice.period, as_of, kind=chosen_kind,
                                      department=chosen, number=page_number,
                                      per_page=get_settings().page_size)
        described = await obligations.describe(found.items)
        items = []
        for row in found.items:
            item = described.get((row["kind"], row["ref"]))
            items.append({
                **row, "kind_label": locale.gettext(obligations.KIND_LABELS[row["kind"]]),
                "title": (obligations.title_of(item, locale.current_language.get()) if item
                          else ""),
                "path": item["public_path"] if item else "",
                "body": names.get(row["department"]) or locale.gettext(
                    "Department %(id)s", id=row["department"]),
                "state_label": locale.gettext(STATE_LABELS[row["state"]]),
                "answered": row["resolved_at"] if row["state"] == "answered_late" else None,
                "due_day": clock.last_day(row["due_at"]),
                "watch_kind": watchlist.WATCHED_AS[row["kind"]],
            })
        template = "accountability/late.html"
        if (request.headers.get("hx-request")
                and request.headers.get("hx-target") == LATE_TARGET):
            template = "accountability/_late_list.html"
        response = await page(request, template, found=found, items=items, **context)
        response.headers["Vary"] = "HX-Request, HX-Target"
        return response
