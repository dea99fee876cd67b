"""The open datasets, each described once: its columns (name, type, meaning) drive both the
files and the data dictionary page, and its rows come from the database in batches, so a large
download never sits in memory at once.

No dataset carries personal data: no authors, signers, voters, phone numbers or staff. Problem
reports keep the description the public report page shows (and /reports.csv already carried).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ovoz.accountability import clock, scorecards
from ovoz.accountability.tables import Obligation
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.petitions import feeds as petition_feeds
from ovoz.petitions import services as petitions
from ovoz.planning import services as planning
from ovoz.planning.tables import Proposal, Result
from ovoz.reports import feeds as report_feeds
from ovoz.reports import services as reports

Row = dict[str, Any]
# Rows fetched per round trip.
BATCH_SIZE = 1000
QUARTERS = 4

TEXT, INTEGER, NUMBER, BOOLEAN = "text", "integer", "number", "boolean"
DATE, DATETIME, ID_LIST = "date", "datetime", "id list"
TYPE_MEANINGS = {
    TEXT: locale.lazy("Text."),
    INTEGER: locale.lazy("A whole number. Money is in whole soums."),
    NUMBER: locale.lazy("A number, with a decimal point."),
    BOOLEAN: locale.lazy("true or false."),
    DATE: locale.lazy("A day in Tashkent, as YYYY-MM-DD."),
    DATETIME: locale.lazy("A moment in UTC, as YYYY-MM-DDTHH:MM:SSZ."),
    ID_LIST: locale.lazy("Ids: a list in JSON, separated by spaces in CSV."),
}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    meaning: str


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    title: str
    description: str
    columns: tuple[Column, ...]
    # Batches of rows (values keyed by column name), as of the moment given.
    batches: Callable[[datetime], AsyncIterator[list[Row]]]
    # With `lat` and `lon` columns: also served as GeoJSON points.
    located: bool = False

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]


async def _keyset(fetch: Callable[[int, int], Awaitable[list[Row]]]) -> AsyncIterator[list[Row]]:
    """Batches by id, each fetched after the last one's largest id."""
    after_id = 0
    while True:
        rows = await fetch(after_id, BATCH_SIZE)
        if rows:
            yield rows
        if len(rows) < BATCH_SIZE:
            return
        after_id = rows[-1]["id"]


# -- problem reports --------------------------------------------------------------------------

REPORT_COLUMNS = (
    Column("id", INTEGER, locale.lazy("The report's number; its page is at url.")),
    Column("category_code", TEXT, locale.lazy("The problem's category, as a code.")),
    Column("category_name", TEXT, locale.lazy("The category's name in Uzbek.")),
    Column("status", TEXT, locale.lazy(
        "new, acknowledged, in_progress, fixed, closed_not_fixed, duplicate or referred.")),
    Column("district_id", INTEGER, locale.lazy("The district.")),
    Column("district_name", TEXT, locale.lazy("The district's name in Uzbek.")),
    Column("mahalla_id", INTEGER, locale.lazy("The mahalla, when known.")),
    Column("mahalla_name", TEXT, locale.lazy("The mahalla's name in Uzbek.")),
    Column("department_name", TEXT, locale.lazy(
        "Who answers: a department of the district, or the district hokimiyat.")),
    Column("lat", NUMBER, locale.lazy("Latitude of the place, as on the public map.")),
    Column("lon", NUMBER, locale.lazy("Longitude of the place, as on the public map.")),
    Column("point_exact", BOOLEAN, locale.lazy(
        "false when only the mahalla was given: the point is then its centre.")),
    Column("registered_at", DATETIME, locale.lazy("When the report was made.")),
    Column("due_at", DATETIME, locale.lazy("The deadline for an answer, after any extension.")),
    Column("first_response_at", DATETIME, locale.lazy("The first public response.")),
    Column("resolved_at", DATETIME, locale.lazy("When it was closed.")),
    Column("overdue", BOOLEAN, locale.lazy(
        "Open past its deadline when the file was made, or closed after it.")),
    Column("supporters", INTEGER, locale.lazy("Residents who said \"me too\".")),
    Column("assisted", BOOLEAN, locale.lazy(
        "true when mahalla staff made the report for a resident who came to the mahalla "
        "office.")),
    Column("url", TEXT, locale.lazy("The report's public page.")),
    Column("description", TEXT, locale.lazy(
        "What the resident wrote, as the public page shows it.")),
)


def _report(row: Row, at: datetime) -> Row:
    return {
        "id": row["id"], "category_code": row["category_code"],
        "category_name": row["category_name"], "status": row["status"],
        "district_id": row["district"], "district_name": row["district_name"],
        "mahalla_id": row["mahalla"], "mahalla_name": row["mahalla_name"],
        # Reports without a department are the district hokimiyat's own.
        "department_name": row["department_name"] or f"{row['district_name']} hokimligi",
        "lat": row["lat"], "lon": row["lon"], "point_exact": row["point_exact"],
        "registered_at": row["registered_at"], "due_at": row["due_at"],
        "first_response_at": row["first_response_at"], "resolved_at": row["resolved_at"],
        "overdue": reports.is_overdue(row, at), "supporters": row["supporters"],
        "assisted": reports.is_assisted(row), "url": reports.report_link(row["id"]),
        "description": row["description"],
    }


async def _reports(at: datetime) -> AsyncIterator[list[Row]]:
    every = reports.Filters()
    async for rows in _keyset(lambda after_id, limit: report_feeds.export_batch(
            every, after_id, limit)):
        yield [_report(row, at) for row in rows]


# -- petitions --------------------------------------------------------------------------------

PETITION_COLUMNS = (
    Column("id", INTEGER, locale.lazy("The petition's number; its page is at url.")),
    Column("title", TEXT, locale.lazy("The petition's title.")),
    Column("topic", TEXT, locale.lazy("Its topic, as a code.")),
    Column("level", TEXT, locale.lazy("Whom it is addressed to, as a code.")),
    Column("region_id", INTEGER, locale.lazy("The region of the body addressed.")),
    Column("district_id", INTEGER, locale.lazy(
        "The district of the body addressed (empty for a region).")),
    Column("mahalla_id", INTEGER, locale.lazy("The mahalla addressed, if any.")),
    Column("status", TEXT, locale.lazy(
        "open, threshold_reached, responded, closed or expired.")),
    Column("threshold", INTEGER, locale.lazy("Signatures needed for an answer.")),
    Column("signatures", INTEGER, locale.lazy("Valid signatures when the file was made.")),
    Column("opened_at", DATETIME, locale.lazy("When it opened for signatures.")),
    Column("closes_at", DATETIME, locale.lazy("When signing ends.")),
    Column("threshold_reached_at", DATETIME, locale.lazy("When it reached the threshold.")),
    Column("response_due_at", DATETIME, locale.lazy("The deadline for the answer.")),
    Column("responded_at", DATETIME, locale.lazy("When the answer was published.")),
    Column("decision", TEXT, locale.lazy("The answer's decision, as a code.")),
    Column("url", TEXT, locale.lazy("The petition's public page.")),
)


def _petition(row: Row) -> Row:
    return {
        "id": row["id"], "title": row["title"], "topic": row["topic"], "level": row["level"],
        "region_id": row["region"], "district_id": row["district"],
        "mahalla_id": row["mahalla"], "status": row["status"], "threshold": row["threshold"],
        "signatures": row["signatures"], "opened_at": row["opened_at"],
        "closes_at": row["closes_at"], "threshold_reached_at": row["threshold_reached_at"],
        "response_due_at": row["response_due_at"], "responded_at": row["responded_at"],
        "decision": row["decision"], "url": petitions.link(row["id"]),
    }


async def _petitions(_: datetime) -> AsyncIterator[list[Row]]:
    async for rows in _keyset(petition_feeds.export_batch):
        yield [_petition(row) for row in rows]


# -- participatory budgeting ------------------------------------------------------------------

PROPOSAL_COLUMNS = (
    Column("id", INTEGER, locale.lazy("The proposal's number; its page is at url.")),
    Column("cycle_id", INTEGER, locale.lazy("The budget cycle it was proposed in.")),
    Column("district_id", INTEGER, locale.lazy("The cycle's district.")),
    Column("mahalla_id", INTEGER, locale.lazy("The mahalla it is for, if any.")),
    Column("title", TEXT, locale.lazy("The proposal's title.")),
    Column("category", TEXT, locale.lazy("Its category, as a code.")),
    Column("estimated_cost", INTEGER, locale.lazy("The cost the proposer estimated, in soums.")),
    Column("reviewed_cost", INTEGER, locale.lazy(
        "The cost set by the review, which the ballot uses, in soums.")),
    Column("status", TEXT, locale.lazy(
        "submitted, in_review, feasible, infeasible, merged, not_reviewed, on_ballot, "
        "selected or not_selected.")),
    Column("votes", INTEGER, locale.lazy("Ballots choosing it, once results are published.")),
    Column("selected", BOOLEAN, locale.lazy("Selected for funding.")),
    Column("delivery_status", TEXT, locale.lazy(
        "For a selected project: planned, procurement, in_progress, completed or cancelled.")),
    Column("progress", INTEGER, locale.lazy("Work done, in percent.")),
    Column("spent", INTEGER, locale.lazy("Money spent so far, in soums.")),
    Column("due_on", DATE, locale.lazy("When the project is due to be delivered.")),
    Column("delivered_at", DATETIME, locale.lazy("When it was completed.")),
    Column("lat", NUMBER, locale.lazy("Latitude of the place, if one was given.")),
    Column("lon", NUMBER, locale.lazy("Longitude of the place, if one was given.")),
    Column("url", TEXT, locale.lazy("The proposal's public page.")),
)


async def _proposal_batch(after_id: int, limit: int) -> list[Row]:
    return await Proposal.select(
        Proposal.id, Proposal.cycle, Proposal.cycle.district.as_alias("district"),
        Proposal.mahalla, Proposal.title, Proposal.category, Proposal.estimated_cost,
        Proposal.reviewed_cost, Proposal.status, Proposal.votes, Proposal.delivery_status,
        Proposal.progress, Proposal.spent, Proposal.due_on, Proposal.delivered_at,
        Proposal.lat, Proposal.lon,
    ).where(Proposal.status.is_in(list(planning.PUBLIC_PROPOSAL_STATUSES))
            & (Proposal.id > after_id)).order_by(Proposal.id).limit(limit)


def _proposal(row: Row) -> Row:
    return {
        "id": row["id"], "cycle_id": row["cycle"], "district_id": row["district"],
        "mahalla_id": row["mahalla"], "title": row["title"], "category": row["category"],
        "estimated_cost": row["estimated_cost"], "reviewed_cost": row["reviewed_cost"],
        "status": row["status"], "votes": row["votes"],
        "selected": row["status"] == planning.SELECTED,
        "delivery_status": row["delivery_status"], "progress": row["progress"],
        "spent": row["spent"], "due_on": row["due_on"], "delivered_at": row["delivered_at"],
        "lat": row["lat"], "lon": row["lon"], "url": planning.proposal_link(row["id"]),
    }


async def _proposals(_: datetime) -> AsyncIterator[list[Row]]:
    async for rows in _keyset(_proposal_batch):
        yield [_proposal(row) for row in rows]


RESULT_COLUMNS = (
    Column("cycle_id", INTEGER, locale.lazy("The budget cycle counted.")),
    Column("district_id", INTEGER, locale.lazy("The cycle's district.")),
    Column("mahalla_id", INTEGER, locale.lazy(
        "The mahalla whose own budget was counted; empty for the whole cycle.")),
    Column("rule", TEXT, locale.lazy(
        "How winners were chosen: greedy (most votes first) or mes (equal shares).")),
    Column("satisfaction", TEXT, locale.lazy("What equal shares measured: cost or cardinality.")),
    Column("completion", TEXT, locale.lazy("How money left over was used: none or add1.")),
    Column("budget", INTEGER, locale.lazy("The money to share out, in soums.")),
    Column("spent", INTEGER, locale.lazy("The cost of the selected projects, in soums.")),
    Column("voters", INTEGER, locale.lazy("Ballots counted.")),
    Column("selected", ID_LIST, locale.lazy("The selected proposals' ids.")),
    Column("ballots_sha256", TEXT, locale.lazy(
        "SHA-256 of the anonymised ballots file at ballots_url, to check and count again.")),
    Column("computed_at", DATETIME, locale.lazy("When the count was published.")),
    Column("ballots_url", TEXT, locale.lazy("The anonymised ballots, in the pabulib format.")),
)


async def _result_batch(after_id: int, limit: int) -> list[Row]:
    return await Result.select(
        Result.id, Result.cycle, Result.cycle.district.as_alias("district"), Result.mahalla,
        Result.rule, Result.satisfaction, Result.completion, Result.budget, Result.spent,
        Result.voters, Result.selected, Result.ballots_sha256, Result.computed_at,
    ).where(Result.id > after_id).order_by(Result.id).limit(limit)


def _result(row: Row) -> Row:
    ballots = planning.cycle_link(row["cycle"]) + "/ballots.pb"
    if row["mahalla"] is not None:
        ballots += f"?mahalla={row['mahalla']}"
    return {
        "cycle_id": row["cycle"], "district_id": row["district"], "mahalla_id": row["mahalla"],
        "rule": row["rule"], "satisfaction": row["satisfaction"],
        "completion": row["completion"], "budget": row["budget"], "spent": row["spent"],
        "voters": row["voters"], "selected": json.loads(row["selected"]),
        "ballots_sha256": row["ballots_sha256"], "computed_at": row["computed_at"],
        "ballots_url": ballots,
    }


async def _results(_: datetime) -> AsyncIterator[list[Row]]:
    async for rows in _keyset(_result_batch):
        yield [_result(row) for row in rows]


# -- accountability ---------------------------------------------------------------------------

OBLIGATION_COLUMNS = (
    Column("kind", TEXT, locale.lazy(
        "What must be answered: report, petition, proposal_review or delivery.")),
    Column("ref", INTEGER, locale.lazy(
        "The item's id: a report's, a petition's, or a proposal's for both proposal kinds.")),
    Column("body", TEXT, locale.lazy(
        "Who answers: region, district, department or mahalla (named by the columns below).")),
    Column("region_id", INTEGER, locale.lazy("The region.")),
    Column("district_id", INTEGER, locale.lazy("The district (empty for a regional body).")),
    Column("mahalla_id", INTEGER, locale.lazy("The mahalla, if any.")),
    Column("department_id", INTEGER, locale.lazy("The department of the district, if any.")),
    Column("registered_at", DATETIME, locale.lazy("When the duty to answer began.")),
    Column("due_at", DATETIME, locale.lazy("The deadline, after any extension.")),
    Column("original_due_at", DATETIME, locale.lazy("The deadline before any extension.")),
    Column("extended_at", DATETIME, locale.lazy("When the deadline was extended.")),
    Column("extension_reason", TEXT, locale.lazy("The public reason for the extension.")),
    Column("first_response_at", DATETIME, locale.lazy("The first public response.")),
    Column("resolved_at", DATETIME, locale.lazy("When it was answered.")),
    Column("closed_at", DATETIME, locale.lazy("When it ended, for any reason.")),
    Column("outcome", TEXT, locale.lazy(
        "Empty while open; answered, lapsed (the chance to answer passed) or withdrawn.")),
    Column("overdue_now", BOOLEAN, locale.lazy(
        "Still open and past its deadline when the file was made.")),
)


def _obligation(row: Row, at: datetime) -> Row:
    return {
        "kind": row["kind"], "ref": row["ref"], "body": row["body"],
        "region_id": row["region"], "district_id": row["district"],
        "mahalla_id": row["mahalla"], "department_id": row["department"],
        "registered_at": row["registered_at"], "due_at": row["due_at"],
        "original_due_at": row["original_due_at"], "extended_at": row["extended_at"],
        "extension_reason": row["extension_reason"],
        "first_response_at": row["first_response_at"], "resolved_at": row["resolved_at"],
        "closed_at": row["closed_at"], "outcome": row["outcome"],
        "overdue_now": row["closed_at"] is None and row["due_at"] <= at,
    }


async def _obligation_batch(after_id: int, limit: int) -> list[Row]:
    return await Obligation.select().where(Obligation.id > after_id).order_by(
        Obligation.id).limit(limit)


async def _obligations(at: datetime) -> AsyncIterator[list[Row]]:
    async for rows in _keyset(_obligation_batch):
        yield [_obligation(row, at) for row in rows]


DISTRICT, HOKIMIYAT, DEPARTMENT = "district", "hokimiyat", "department"
FIGURE_COLUMNS = (
    Column("received", INTEGER, locale.lazy(
        "Reports, petitions and proposal reviews registered in the quarter.")),
    Column("resolved", INTEGER, locale.lazy("Of those, answered by as_of.")),
    Column("open", INTEGER, locale.lazy("Of those, still open at as_of.")),
    Column("overdue", INTEGER, locale.lazy("Still open and past the deadline at as_of.")),
    Column("answered_late", INTEGER, locale.lazy("Answered after the deadline.")),
    Column("on_time", INTEGER, locale.lazy("Answered by the deadline.")),
    Column("rated", INTEGER, locale.lazy(
        "Answered, or past the deadline and not withdrawn: what on_time_rate counts.")),
    Column("first_response_median_days", NUMBER, locale.lazy(
        "Median days from registration to the first response.")),
    Column("first_response_p90_days", NUMBER, locale.lazy(
        "Days to the first response for 90 in 100 items.")),
    Column("resolution_median_days", NUMBER, locale.lazy(
        "Median days from registration to the answer.")),
    Column("resolution_p90_days", NUMBER, locale.lazy("Days to the answer for 90 in 100 items.")),
    Column("petitions_rated", INTEGER, locale.lazy("rated, for petitions alone.")),
    Column("petitions_on_time", INTEGER, locale.lazy("on_time, for petitions alone.")),
    Column("reports_fixed", INTEGER, locale.lazy("Problem reports marked fixed at least once.")),
    Column("reports_disputed", INTEGER, locale.lazy(
        "Of those, reports a resident said were not fixed.")),
    Column("projects_due", INTEGER, locale.lazy(
        "Selected projects due for delivery in the quarter.")),
    Column("projects_delivered", INTEGER, locale.lazy("Of those, delivered by as_of.")),
    Column("projects_on_time", INTEGER, locale.lazy("Delivered by the due date.")),
    Column("projects_on_budget", INTEGER, locale.lazy(
        "Delivered for no more than the reviewed cost.")),
    Column("on_time_rate", NUMBER, locale.lazy(
        "on_time divided by rated, from 0 to 1; empty when nothing is rated.")),
    Column("petitions_on_time_rate", NUMBER, locale.lazy(
        "petitions_on_time divided by petitions_rated.")),
    Column("disputed_share", NUMBER, locale.lazy("reports_disputed divided by reports_fixed.")),
    Column("projects_on_time_rate", NUMBER, locale.lazy(
        "projects_on_time divided by projects_due.")),
    Column("projects_on_budget_rate", NUMBER, locale.lazy(
        "projects_on_budget divided by projects_delivered.")),
)
SCORECARD_COLUMNS = (
    Column("quarter", TEXT, locale.lazy("The quarter, as YYYY-Qn.")),
    Column("period_from", DATE, locale.lazy("Its first day.")),
    Column("period_until", DATE, locale.lazy("Its last day.")),
    Column("as_of", DATETIME, locale.lazy(
        "The moment the figures describe: when the file was made.")),
    Column("district_id", INTEGER, locale.lazy("The pilot district.")),
    Column("district_name", TEXT, locale.lazy("The district's name in Uzbek.")),
    Column("scope", TEXT, locale.lazy(
        "district: all its bodies together; hokimiyat: what the hokimiyat answers itself; "
        "department: one department.")),
    Column("department_id", INTEGER, locale.lazy("The department, for scope department.")),
    Column("department_name", TEXT, locale.lazy("The department's name in Uzbek.")),
    *FIGURE_COLUMNS,
)


def last_quarters(at: datetime, count: int = QUARTERS) -> list[scorecards.Period]:
    """The quarter of `at` (so far) and those before it, oldest first."""
    periods = [scorecards.quarter_of(clock.local_day(at))]
    while len(periods) < count:
        periods.insert(0, scorecards.quarter_of(periods[0].start - timedelta(days=1)))
    return periods


def _quarter_name(start: date) -> str:
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"


def _scorecard_row(period: scorecards.Period, at: datetime, district: Row, scope: str,
                   department: Row | None, figures: scorecards.Figures) -> Row:
    return {
        "quarter": _quarter_name(period.start), "period_from": period.start,
        "period_until": period.end, "as_of": at, "district_id": district["id"],
        "district_name": district["name_uz"], "scope": scope,
        "department_id": department["id"] if department else None,
        "department_name": department["name_uz"] if department else "",
        **figures.as_dict(),
    }


async def _scorecards(at: datetime) -> AsyncIterator[list[Row]]:
    """A batch per quarter: each pilot district, what its hokimiyat answers itself, and each
    of its departments, with zeros where nothing was registered (so every quarter has the
    same rows)."""
    districts = await geo.pilot_districts()
    departments = {district["id"]: await reports.departments(district["id"])
                   for district in districts}
    for period in last_quarters(at):
        rows = []
        for district in districts:
            card = await scorecards.scorecard(district["id"], period, at)
            rows.append(_scorecard_row(period, at, district, DISTRICT, None, card.district))
            rows.append(_scorecard_row(period, at, district, HOKIMIYAT, None,
                                       card.departments.get(None, scorecards.Figures())))
            rows += [_scorecard_row(period, at, district, DEPARTMENT, department,
                                    card.departments.get(department["id"], scorecards.Figures()))
                     for department in departments[district["id"]]]
        yield rows


DATASETS: dict[str, Dataset] = {dataset.name: dataset for dataset in (
    Dataset("reports", locale.lazy("Problem reports"), locale.lazy(
        "Every problem report on the map, with its deadline and what became of it. The "
        "reporter is never named."), REPORT_COLUMNS, _reports, located=True),
    Dataset("petitions", locale.lazy("Petitions"), locale.lazy(
        "Every public petition with its count of valid signatures and the answer's decision. "
        "Drafts and petitions still in moderation are left out; signers are never named."),
        PETITION_COLUMNS, _petitions),
    Dataset("proposals", locale.lazy("Budget proposals"), locale.lazy(
        "Proposals of participatory budgeting, from review to delivery. Withdrawn proposals "
        "are left out; authors are never named."), PROPOSAL_COLUMNS, _proposals, located=True),
    Dataset("results", locale.lazy("Budget results"), locale.lazy(
        "Each published count of a budget cycle (or of a mahalla's own budget), with the hash "
        "of its anonymised ballots."), RESULT_COLUMNS, _results),
    Dataset("obligations", locale.lazy("Obligations to answer"), locale.lazy(
        "Everything a public body must answer, with its clock: problem reports, petitions "
        "that reached their threshold, proposal reviews and selected projects' delivery."),
        OBLIGATION_COLUMNS, _obligations),
    Dataset("scorecards", locale.lazy("Scorecards"), locale.lazy(
        "How well each pilot district and its departments answer, quarter by quarter, for "
        "the last four quarters (the current one so far). Items count in the quarter they "
        "were registered in."), SCORECARD_COLUMNS, _scorecards),
)}
