"""/api/v1/cycles and /api/v1/proposals: participatory budgeting cycles, their proposals and
results, and a resident's own ballot.

Nothing here names a voter: proposals carry their author's public name only, results only
counts. Labels and explanations are in the reader's language (?lang=, then Accept-Language).

Refusals map to statuses by one rule:
- 400 the request is malformed (not JSON, wrong types, a number that cannot be an id);
- 401 no valid bearer token;
- 403 the resident may not vote in this cycle: not_verified, no_home, outside_district;
- 404 no such cycle or proposal (not_found), no ballot yet (no_ballot), results not yet
  published (no_results);
- 409 wrong_phase: the request is well formed but the cycle is not in the phase it needs
  (voting, for a ballot), as with a petition that has stopped collecting;
- 422 the ballot breaks one of the cycle's rules: no_choice, bad_choice, too_many_choices,
  over_budget;
- 429 too_many ballot changes, with Retry-After.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, get, put
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, JSONBody, QueryParameter

from ovoz.accounts.api import bearer_resident
from ovoz.accounts.services import public_name
from ovoz.accounts.tables import Resident
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.planning import services
from ovoz.web.errors import ApiError
from ovoz.web.opendata import MAX_ID

AUTHORISED = "Needs 'Authorization: Bearer <token>' from /api/v1/auth/token."
# More than any ballot holds: a knapsack ballot lists at most the projects on it.
MAX_BALLOT_IDS = 1000
ON_BALLOT_STATUSES = (services.ON_BALLOT, services.SELECTED, services.NOT_SELECTED)

_REFUSALS: dict[str, tuple[int, str]] = {
    "not_found": (404, "No such cycle or proposal."),
    "not_verified": (403, "Only residents with a verified phone number may vote."),
    "no_home": (403, "Set your home mahalla first (PATCH /api/v1/me with mahalla_id)."),
    "outside_district": (403, "Only residents of the cycle's district may vote in it."),
    "wrong_phase": (409, "The cycle is not in its voting phase."),
    "no_choice": (422, "proposal_ids: choose at least one project."),
    "bad_choice": (422, "proposal_ids: only projects on this cycle's ballot (for a cycle "
                        "with mahalla budgets, your own mahalla's) may be chosen."),
    "too_many_choices": (422, "proposal_ids: more projects than the cycle allows."),
    "over_budget": (422, "proposal_ids: the chosen projects cost more than the budget."),
}


@dataclass
class BallotChoice:
    proposal_ids: list[int]


def _label(labels: Mapping[str, str], key: str) -> str:
    """A code's label in the reader's language (a function, so the code is not a message)."""
    return locale.gettext(labels[key])


def _refusal(error: services.PlanningError) -> ApiError:
    if error.code == "too_many":
        refusal = ApiError(429, "too_many_requests",
                           "Too many ballot changes from this account; try again later.")
        refusal.headers = {"Retry-After": str(max(1, error.retry_after))}
        return refusal
    status, detail = _REFUSALS.get(error.code, (422, f"Refused: {error.code}."))
    return ApiError(status, error.code, detail)


def _cycle_not_found(cycle_id: int) -> ApiError:
    return ApiError(404, "not_found", f"No cycle with id {cycle_id}.")


async def _cycle(cycle_id: int) -> dict[str, Any]:
    row = await services.cycle(cycle_id) if 0 < cycle_id <= MAX_ID else None
    if row is None:
        raise _cycle_not_found(cycle_id)
    return row


async def _resident(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
                    ) -> None:
    connection.state.resident = await bearer_resident(connection.headers.get("authorization"))


def _photo_url(name: str) -> str:
    return f"/reports/photos/{name}.jpg"


def _phases(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"phase": phase, "label": _label(services.PHASE_LABELS, phase),
             "starts_on": row[column], "starts_at": services.starts_at(row[column]),
             "ends_at": services.phase_ends(row, phase)}
            for phase, column in services.PHASE_STARTS.items()]


def cycle_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A cycle as lists show it: its phase and dates, money and rules."""
    phase = services.phase_of(row)
    return {
        "id": row["id"],
        "title": row["title"],
        "description": row["description"],
        "district_id": row["district"],
        "phase": phase,
        "phase_label": _label(services.PHASE_LABELS, phase),
        "phases": _phases(row),
        "budget": row["budget"],
        "ballot_rule": row["ballot_rule"],
        "ballot_rule_label": _label(services.BALLOT_RULES, row["ballot_rule"]),
        "max_choices": row["max_choices"],
        "selection_rule": row["selection_rule"],
        "selection_rule_label": _label(services.SELECTION_RULES, row["selection_rule"]),
        "satisfaction": row["satisfaction"],
        "completion": row["completion"],
        "show_running_totals": row["show_running_totals"],
        "totals_visible": services.totals_visible(row),
        "imported": row["imported"],
        "url": services.cycle_link(row["id"]),
    }


async def _authors(rows: Sequence[Mapping[str, Any]]) -> dict[int, str]:
    """Public names of the proposals' authors, and nothing else about them."""
    ids = sorted({row["author"] for row in rows if row["author"]})
    if not ids:
        return {}
    found = await Resident.select(Resident.id, Resident.display_name, Resident.deleted_at
                                  ).where(Resident.id.is_in(ids))
    return {person["id"]: public_name(person) for person in found}


async def _votes(cycle_row: Mapping[str, Any]) -> dict[int, int] | None:
    """Approvals per proposal when the cycle lets them be seen, else None."""
    if not services.totals_visible(cycle_row):
        return None
    return await services.running_totals(cycle_row["id"])


def proposal_json(row: Mapping[str, Any], authors: Mapping[int, str],
                  votes: Mapping[int, int] | None) -> dict[str, Any]:
    """A proposal as lists show it."""
    counted = votes is not None and row["status"] in ON_BALLOT_STATUSES
    return {
        "id": row["id"],
        "cycle_id": row["cycle"],
        "title": row["title"],
        "description": row["description"],
        "category": row["category"],
        "category_label": _label(services.CATEGORIES, row["category"]),
        "mahalla_id": row["mahalla"],
        "lat": row["lat"],
        "lon": row["lon"],
        "estimated_cost": row["estimated_cost"],
        "reviewed_cost": row["reviewed_cost"],
        "status": row["status"],
        "status_label": _label(services.PROPOSAL_STATUSES, row["status"]),
        "review_reason": row["review_reason"],
        "merged_into": row["merged_into"],
        "author": authors.get(row["author"]) if row["author"] else None,
        "created_at": row["created_at"],
        "votes": votes.get(row["id"], 0) if counted and votes is not None else None,
        "url": services.proposal_link(row["id"]),
    }


async def proposal_detail(row: Mapping[str, Any], cycle_row: Mapping[str, Any]
                          ) -> dict[str, Any]:
    """One proposal: its photos, result with the reason, and delivery with its timeline."""
    pictures = await services.photos(row["id"])
    selected = row["status"] == services.SELECTED
    delivery = None
    if selected and row["delivery_status"]:
        delivery = {
            "status": row["delivery_status"],
            "status_label": _label(services.DELIVERY_STATUSES, row["delivery_status"]),
            "progress": row["progress"],
            "spent": row["spent"],
            "due_on": row["due_on"],
            "overdue": services.overdue(row),
            "cancel_reason": row["cancel_reason"] or None,
            "delivered_at": row["delivered_at"],
        }
    published = row["status"] in (services.SELECTED, services.NOT_SELECTED)
    return {
        **proposal_json(row, await _authors([row]), await _votes(cycle_row)),
        "photos": [_photo_url(p["name"]) for p in pictures if p["update"] is None],
        "result_reason": row["result_reason"] if published else None,
        "explanation": services.explanation(row) if published else None,
        "delivery": delivery,
        "timeline": [
            {"status": entry["status"],
             "status_label": _label(services.DELIVERY_STATUSES, entry["status"]),
             "progress": entry["progress"], "spent": entry["spent"], "note": entry["note"],
             "at": entry["at"], "photos": [_photo_url(name) for name in entry["photos"]]}
            for entry in (await services.timeline(row["id"]) if selected else [])
        ],
    }


def ballot_json(receipt: services.BallotReceipt) -> dict[str, Any]:
    return {
        "cycle_id": receipt.cycle_id,
        "proposal_ids": list(receipt.proposal_ids),
        "total_cost": receipt.total_cost,
        "receipt": receipt.receipt,
        "changed_at": receipt.changed_at,
        "changes": receipt.changes,
    }


async def results_json(cycle_row: Mapping[str, Any], counts: Sequence[Mapping[str, Any]]
                       ) -> dict[str, Any]:
    """The published count: totals, each mahalla's own count when the money is split, and
    every project on the ballot with why it won or lost."""
    projects = sorted(await services.ballot_proposals(cycle_row["id"]),
                      key=lambda row: (-(row["votes"] or 0), row["id"]))
    split = any(count["mahalla"] is not None for count in counts)
    return {
        "cycle_id": cycle_row["id"],
        "rule": cycle_row["selection_rule"],
        "rule_label": _label(services.SELECTION_RULES, cycle_row["selection_rule"]),
        "satisfaction": cycle_row["satisfaction"],
        "completion": cycle_row["completion"],
        "budget": sum(count["budget"] for count in counts),
        "spent": sum(count["spent"] for count in counts),
        "voters": sum(count["voters"] for count in counts),
        # Each mahalla's count has its own file, and so its own hash.
        "ballots_sha256": None if split else counts[0]["ballots_sha256"],
        "computed_at": counts[0]["computed_at"],
        "mahallas": [
            {"mahalla_id": count["mahalla"], "budget": count["budget"],
             "spent": count["spent"], "voters": count["voters"],
             "selected": count["selected"], "ballots_sha256": count["ballots_sha256"]}
            for count in counts
        ] if split else [],
        "projects": [
            {"id": row["id"], "title": row["title"], "mahalla_id": row["mahalla"],
             "cost": row["reviewed_cost"], "votes": row["votes"] or 0,
             "selected": row["status"] == services.SELECTED, "reason": row["result_reason"],
             "explanation": services.explanation(row)}
            for row in projects
        ],
    }


class PlanningApi(Controller):
    path = "/api/v1"
    tags = ("planning",)

    @get("/cycles", summary="Participatory budgeting cycles, newest first, a page at a time")
    async def cycles(
        self,
        district_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
        per_page: Annotated[int, QueryParameter(ge=1, le=200)] = 20,
    ) -> dict[str, Any]:
        if district_id is not None and await geo.district(district_id) is None:
            raise ApiError(404, "not_found", f"No district with id {district_id}.")
        found = await services.cycles([district_id] if district_id else None, page, per_page)
        return {"items": [cycle_json(row) for row in found.items], **found.as_json()}

    @get("/cycles/{cycle_id:int}", summary="One cycle, with its mahallas' own budgets")
    async def cycle(self, cycle_id: FromPath[int]) -> dict[str, Any]:
        row = await _cycle(cycle_id)
        budgets = await services.mahalla_budgets(cycle_id)
        return {
            **cycle_json(row),
            "mahalla_budgets": [{"mahalla_id": mahalla_id, "amount": amount}
                                for mahalla_id, amount in sorted(budgets.items())],
            "ballots": await services.turnout(cycle_id),
        }

    @get("/cycles/{cycle_id:int}/proposals", summary="A cycle's public proposals",
         description="Votes are given only while the cycle shows them: during voting when the "
                     "cycle shows running totals, and once voting has closed.")
    async def proposals(
        self,
        cycle_id: FromPath[int],
        status: Annotated[str | None, QueryParameter(
            max_length=20,
            description="one of " + ", ".join(services.PUBLIC_PROPOSAL_STATUSES))] = None,
        mahalla_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        category: Annotated[str | None, QueryParameter(
            max_length=20, description="one of " + ", ".join(services.CATEGORIES))] = None,
        page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
        per_page: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> dict[str, Any]:
        status = (status or "").strip() or None
        if status is not None and status not in services.PUBLIC_PROPOSAL_STATUSES:
            raise ApiError(400, "invalid_status", "status: one of "
                           + ", ".join(services.PUBLIC_PROPOSAL_STATUSES) + ".")
        category = (category or "").strip() or None
        if category is not None and category not in services.CATEGORIES:
            raise ApiError(400, "invalid_category",
                           "category: one of " + ", ".join(services.CATEGORIES) + ".")
        row = await _cycle(cycle_id)
        found = await services.proposals(
            cycle_id, (status,) if status else services.PUBLIC_PROPOSAL_STATUSES,
            mahalla_id=mahalla_id, category=category, number=page, per_page=per_page)
        authors, votes = await _authors(found.items), await _votes(row)
        return {"items": [proposal_json(item, authors, votes) for item in found.items],
                **found.as_json()}

    @get("/proposals/{proposal_id:int}",
         summary="One proposal, with its result and, once selected, its delivery timeline")
    async def proposal(self, proposal_id: FromPath[int]) -> dict[str, Any]:
        row = await services.proposal(proposal_id) if 0 < proposal_id <= MAX_ID else None
        if row is None or row["status"] not in services.PUBLIC_PROPOSAL_STATUSES:
            raise ApiError(404, "not_found", f"No proposal with id {proposal_id}.")
        return await proposal_detail(row, await _cycle(row["cycle"]))

    @get("/cycles/{cycle_id:int}/ballot", guards=[_resident],
         summary="One's own ballot in a cycle, exactly as it will be counted",
         description=f"{AUTHORISED} 404 no_ballot when none is recorded.")
    async def ballot(self, request: Request[Any, Any, Any], cycle_id: FromPath[int]
                     ) -> dict[str, Any]:
        await _cycle(cycle_id)
        receipt = await services.ballot_of(request.state.resident["id"], cycle_id)
        if receipt is None:
            raise ApiError(404, "no_ballot", "You have no ballot in this cycle.")
        return ballot_json(receipt)

    @put("/cycles/{cycle_id:int}/ballot", guards=[_resident],
         summary="Cast one's ballot, or replace it while voting is open",
         description=f"{AUTHORISED} The whole choice is replaced at once; the answer is what "
                     "is recorded. 403 not_verified, no_home or outside_district; 404 "
                     "not_found; 409 wrong_phase when the cycle is not voting; 422 no_choice, "
                     "bad_choice, too_many_choices or over_budget; 429 with Retry-After.")
    async def cast(self, request: Request[Any, Any, Any], cycle_id: FromPath[int],
                   data: JSONBody[BallotChoice]) -> dict[str, Any]:
        if not 0 < cycle_id <= MAX_ID:
            raise _cycle_not_found(cycle_id)
        if len(data.proposal_ids) > MAX_BALLOT_IDS or not all(
                0 < proposal_id <= MAX_ID for proposal_id in data.proposal_ids):
            raise ApiError(400, "bad_request", "proposal_ids: a list of proposal ids.")
        try:
            receipt = await services.cast_ballot(request.state.resident["id"], cycle_id,
                                                 data.proposal_ids, channel="api")
        except services.PlanningError as error:
            if error.code == "not_found":
                raise _cycle_not_found(cycle_id) from None
            raise _refusal(error) from None
        return ballot_json(receipt)

    @get("/cycles/{cycle_id:int}/results",
         summary="A cycle's published results, with why each project won or lost",
         description="404 no_results until the results are published when voting closes. "
                     "ballots_sha256 is the SHA-256 of the cycle's published pabulib export "
                     "(the anonymised ballots); with mahalla budgets, each mahalla's count has "
                     "its own file and hash.")
    async def results(self, cycle_id: FromPath[int]) -> dict[str, Any]:
        row = await _cycle(cycle_id)
        counts = await services.results(cycle_id)
        if not counts:
            raise ApiError(404, "no_results", "The results of this cycle are not published yet.")
        return await results_json(row, counts)
