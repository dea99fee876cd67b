"""The NGO monitor's dashboard: every pilot district side by side for a period, with its
published reports and the monitor's assessments of them, then the monitor's watched items
and their clocks; and the watch and unwatch forms, which the public scorecard pages use too.
The rules are watchlist's."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from litestar import Controller, Request, Response, get, post
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template

from ovoz.accountability import clock, scorecards, watchlist
from ovoz.accountability import services as obligations
from ovoz.accountability.controllers import (
    LEAGUE_FIGURES,
    PageNumber,
    PeriodChoice,
    PeriodEnd,
    PeriodStart,
    figure,
    figure_label,
)
from ovoz.accounts import sessions
from ovoz.accounts.permissions import (
    NATIONAL,
    Action,
    PermissionDenied,
    Place,
    StaffMember,
    allowed,
    scopes,
)
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.settings import get_settings
from ovoz.web.forms import FormErrors, chosen_id, local_path
from ovoz.web.templating import page, url_with

Form = URLEncodedBody[dict[str, Any]]
PATH = "/staff/monitor"
SIGN_IN = "/staff/signin"
TARGET = "watched-items"
STATE_LABELS = {
    watchlist.OVERDUE: locale.lazy("Overdue"),
    watchlist.OPEN: locale.lazy("Open, due by %(date)s"),
    watchlist.ON_TIME: locale.lazy("Answered on time"),
    watchlist.LATE: locale.lazy("Answered late"),
    watchlist.LAPSED: locale.lazy("Never answered"),
    watchlist.WITHDRAWN: locale.lazy("Withdrawn"),
    watchlist.NOT_DUE: locale.lazy("No answer due yet"),
}
# Shown as words in a red badge: the answer is, or was, late.
LATE_STATES = frozenset({watchlist.OVERDUE, watchlist.LATE, watchlist.LAPSED})
NOTICES = {
    "watched": locale.lazy("It is on your watchlist."),
    "unwatched": locale.lazy("It is off your watchlist."),
}


def message(error: watchlist.WatchError) -> str:
    messages = {
        "bad_kind": locale.gettext("Choose what to watch."),
        "not_found": locale.gettext("There is nothing of this kind with this number."),
        "not_public": locale.gettext("This is not public yet, so it cannot be watched."),
        "not_pilot": locale.gettext("Only pilot districts can be watched."),
    }
    return messages.get(error.code, locale.gettext("This could not be done."))


def monitor_of(request: Request) -> StaffMember | None:
    """The signed-in staff member holding MONITOR somewhere, None when nobody is signed in;
    anyone else (a resident, an official) may not be here."""
    staff = sessions.staff_member(request)
    if staff is None and sessions.identity_of(request).resident is None:
        return None
    if staff is None or not scopes(staff, Action.MONITOR):
        raise PermissionDenied(Action.MONITOR, NATIONAL)
    return staff


def _after(target: str, done: str) -> str:
    """Back to the dashboard saying what was done; elsewhere the page itself shows it."""
    path, _, query = target.partition("?")
    if path.rstrip("/") != PATH:
        return target
    kept = [(key, value) for key, value in parse_qsl(query) if key != "done"]
    return f"{PATH}?{urlencode([*kept, ('done', done)])}"


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key) or ""
    return str(value[-1] if isinstance(value, list) else value)


def _watched_item(row: Mapping[str, Any]) -> dict[str, Any]:
    item, due = row["item"], row["clock"]["due_at"] if row["clock"] else None
    label = STATE_LABELS[row["state"]]
    state = (locale.gettext(label, date=locale.format_date(clock.last_day(due)))
             if row["state"] == watchlist.OPEN else locale.gettext(label))
    return {
        "kind": row["kind"], "ref": row["ref"],
        "kind_label": locale.gettext(watchlist.KIND_LABELS[row["kind"]]),
        "title": obligations.title_of(item, locale.current_language.get()) if item else "",
        "path": item["public_path"] if item else "",
        "due_day": clock.last_day(due) if due else None,
        "state_label": state, "late": row["state"] in LATE_STATES,
    }


async def _districts(staff: StaffMember, period: scorecards.Period | None, as_of: datetime,
                     watched: set[tuple[str, int]]) -> list[dict[str, Any]]:
    """Every pilot district, in the configured order, with its figures when the period is
    good."""
    pilots = [row for row in [await geo.district(district_id)
                              for district_id in await geo.pilot_district_ids()] if row]
    ids = [row["id"] for row in pilots]
    table = await scorecards.league(ids, period, as_of) if period else {}
    counts = await watchlist.report_counts(staff.id, ids)
    return [{
        "id": row["id"], "name": locale.localised_name(row), "figures": table.get(row["id"]),
        "reports": counts.get(row["id"], watchlist.ReportCounts()),
        "watched": (watchlist.DISTRICT, row["id"]) in watched,
        "may_watch": allowed(staff, Action.MONITOR, Place(row["region"], row["id"])),
    } for row in pilots]


class MonitorController(Controller):
    path = PATH
    include_in_schema = False

    async def _dashboard(self, request: Request, staff: StaffMember,
                         start: str | None = None, end: str | None = None,
                         page_number: int = 1, errors: FormErrors | None = None,
                         values: Mapping[str, str] | None = None,
                         status_code: int = 200, here: str = PATH) -> Template:
        as_of = obligations.now()
        choice = PeriodChoice(start, end, clock.local_day(as_of))
        for field, text in (errors or FormErrors()).items():
            choice.errors.add(field, text)
        watched = await watchlist.watched_keys(staff.id)
        found = await watchlist.watched_items(staff.id, page_number, get_settings().page_size)
        template = "accountability/monitor/index.html"
        if request.headers.get("hx-request") and request.headers.get("hx-target") == TARGET:
            template = "accountability/monitor/_watched.html"
        response = await page(
            request, template,
            status_code=400 if choice.period is None else status_code,
            **choice.context(as_of),
            districts=await _districts(staff, choice.period, as_of, watched),
            league_figures=LEAGUE_FIGURES, figure=figure, figure_label=figure_label,
            found=found, items=[_watched_item(row) for row in
                                await watchlist.with_clocks(found.items, as_of)],
            kinds=[(kind, locale.gettext(watchlist.KIND_LABELS[kind]))
                   for kind in watchlist.ITEM_KINDS],
            form={"kind": "", "ref": "", **(values or {})}, here=here, target=TARGET,
            notice=NOTICES.get(request.query_params.get("done", "")))
        response.headers["Vary"] = "HX-Request, HX-Target"
        return response

    @get("/", name="accountability:monitor", cache=False)
    async def index(self, request: Request, start: PeriodStart = None, end: PeriodEnd = None,
                    page_number: PageNumber = 1) -> Response[Any]:
        staff = monitor_of(request)
        if staff is None:
            return Redirect(SIGN_IN)
        # The watch buttons come back to this very page: its period and page kept.
        return await self._dashboard(request, staff, start, end, page_number,
                                     here=url_with(request, done=None))

    async def _change(self, request: Request, data: Mapping[str, Any], work: Any,
                      done: str) -> Response[Any]:
        staff = monitor_of(request)
        if staff is None:
            return Redirect(SIGN_IN)
        values = {key: _text(data, key).strip() for key in ("kind", "ref")}
        errors = FormErrors()
        ref = chosen_id(values["ref"])
        if values["kind"] not in watchlist.KINDS:
            errors.add("kind", message(watchlist.WatchError("bad_kind")))
        if ref is None:
            errors.add("ref", locale.gettext("Give the number, for example 125."))
        if not errors:
            try:
                await work(staff, values["kind"], ref)
            except watchlist.WatchError as error:
                errors.add(error.field or "ref", message(error))
        if errors:
            return await self._dashboard(request, staff, errors=errors, values=values,
                                         status_code=400)
        return Redirect(_after(local_path(_text(data, "next"), PATH), done))

    @post("/watch", name="accountability:watch")
    async def watch(self, request: Request, data: Form) -> Response[Any]:
        return await self._change(request, data, watchlist.watch, "watched")

    @post("/unwatch", name="accountability:unwatch")
    async def unwatch(self, request: Request, data: Form) -> Response[Any]:
        return await self._change(request, data, watchlist.unwatch, "unwatched")
