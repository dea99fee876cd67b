"""/api/v1/scorecards: how the pilot districts' hokimiyats and departments answer residents,
the figures of the public scorecard pages.

Items registered in the period (projects: due in it) are counted as of the moment of the
request. Rates are fractions from 0 to 1, null when there is nothing to rate; days are
decimal days. Names are in the reader's language (?lang=, then Accept-Language).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from litestar import Controller, get
from litestar.datastructures import CacheControlHeader
from litestar.params import QueryParameter

from ovoz.accountability import clock, scorecards
from ovoz.accountability import services as obligations
from ovoz.accountability.controllers import bodies
from ovoz.accountability.scorecards import Figures, Period, PeriodError
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.settings import get_settings
from ovoz.web.errors import ApiError
from ovoz.web.opendata import MAX_ID

DAY = "an ISO day, YYYY-MM-DD (Tashkent)"
_PERIOD_PROBLEMS = {
    "bad_date": "{field}: " + DAY + f", from {scorecards.FIRST_DAY} to {scorecards.LAST_DAY}.",
    "no_start": "from: needed when to is given.",
    "reversed": "to: not before from.",
    "too_long": f"to: before the day {scorecards.LONGEST_PERIOD_MONTHS} months after from.",
}


def _period(start: str | None, end: str | None, today: date) -> Period:
    try:
        return scorecards.period_from_query(start, end, today)
    except PeriodError as error:
        detail = _PERIOD_PROBLEMS[error.code].format(field=error.field)
        code = "invalid_period" if error.code in ("reversed", "too_long") else \
            f"invalid_{error.field}"
        raise ApiError(400, code, detail) from None


def _period_json(period: Period) -> dict[str, Any]:
    return {"from": period.start, "to": period.end}


def _url(district_id: int) -> str:
    return f"{get_settings().base_url}/accountability/districts/{district_id}"


async def district_json(district: dict[str, Any], period: Period, as_of: datetime
                        ) -> dict[str, Any]:
    """A district's figures, and each body's in it, every department listed."""
    card = await scorecards.scorecard(district["id"], period, as_of)
    return {
        "period": _period_json(period), "as_of": as_of,
        "district_id": district["id"], "district_name": locale.localised_name(district),
        "url": _url(district["id"]), "figures": card.district.as_dict(),
        "departments": [
            {"department_id": key, "name": name,
             "figures": card.departments.get(key, Figures()).as_dict()}
            for key, name in await bodies(district["id"])],
    }


class ScorecardsApi(Controller):
    path = "/api/v1"
    tags = ("accountability",)

    @get("/scorecards", summary="Accountability figures of the pilot districts for a period",
         cache_control=CacheControlHeader(max_age=60, public=True),
         description="Without district_id: every pilot district's figures, in the league "
                     "order (best on-time rate first). With it: that district's figures and "
                     "each body's within it (department_id null: items the hokimiyat answers "
                     "itself). The period defaults to the current quarter; with from alone it "
                     "runs to today. 400 invalid_from, invalid_to or invalid_period (reversed, "
                     f"or {scorecards.LONGEST_PERIOD_MONTHS} months or longer); 404 "
                     "not_found for a district that is not a pilot district.")
    async def scorecards(
        self,
        district_id: Annotated[int | None, QueryParameter(
            ge=1, le=MAX_ID, description="a pilot district's id")] = None,
        start: Annotated[str | None, QueryParameter(
            name="from", max_length=40, description=f"first day, {DAY}")] = None,
        end: Annotated[str | None, QueryParameter(
            name="to", max_length=40, description=f"last day, included, {DAY}")] = None,
    ) -> dict[str, Any]:
        as_of = obligations.now()
        period = _period(start, end, clock.local_day(as_of))
        pilots = await geo.pilot_district_ids()
        if district_id is not None:
            if district_id not in pilots or (district := await geo.district(district_id)
                                             ) is None:
                raise ApiError(404, "not_found", f"No pilot district with id {district_id}.")
            return await district_json(district, period, as_of)
        names = {row["id"]: locale.localised_name(row) for row in await geo.pilot_districts()}
        table = await scorecards.league(names, period, as_of)
        return {
            "period": _period_json(period), "as_of": as_of,
            "items": [{"rank": place if table[key].on_time_rate is not None else None,
                       "district_id": key, "district_name": names[key], "url": _url(key),
                       "figures": table[key].as_dict()}
                      for place, key in enumerate(scorecards.ranked(table), start=1)],
        }
