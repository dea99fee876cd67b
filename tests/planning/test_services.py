"""The planning services' rules: cycles and their phases, proposals, review and merging, and
ballots, also under concurrent requests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from ovoz.accounts.permissions import PermissionDenied, StaffMember
from ovoz.accounts.tables import Resident
from ovoz.ledger.services import iterate
from ovoz.notify.tables import Follow, OutboxMessage
from ovoz.planning import services
from ovoz.planning.tables import Ballot, BallotChoice, Cycle, Photo, Proposal
from tests.planning.helpers import (
    cycle_form,
    district_mahallas,
    make_manager,
    make_voter,
    move_to,
    proposal_text,
    today,
)
from tests.reports.helpers import (
    BERUNIY,
    BERUNIY_POINT,
    CHORTOQ,
    TASHKENT_POINT,
    load_demo_mahallas,
    make_resident,
    photo,
)


def phone(number: int) -> str:
    return f"+9989030{number:05d}"


@dataclass(frozen=True, slots=True)
class Setup:
    cycle_id: int
    manager: StaffMember
    mahallas: list[int]
    author: int
    proposals: list[int]


async def ballot_cycle(costs: Sequence[int] = (300_000_000, 500_000_000, 400_000_000), *,
                       phase: str = "voting", where: Sequence[int] = (),
                       **changes: Any) -> Setup:
    """A Beruniy cycle whose proposals (one per cost, in the mahallas at the indexes `where`,
    else the first) were reviewed feasible at their cost, moved on to `phase`."""
    await load_demo_mahallas()
    mahallas = await district_mahallas()
    manager = await make_manager()
    if "mahalla_budgets" in changes:
        changes["mahalla_budgets"] = {mahallas[index]: amount
                                      for index, amount in changes["mahalla_budgets"].items()}
    cycle_id = await services.create_cycle(manager, cycle_form(**changes))
    await move_to(cycle_id, "proposals")
    author = await make_voter(phone(1), mahallas[0])
    ids = [await services.submit_proposal(author, cycle_id, proposal_text(
        mahallas[where[n] if where else 0], title=f"Project number {n} of the district",
        estimated_cost=cost)) for n, cost in enumerate(costs)]
    if phase != "proposals":
        await move_to(cycle_id, "review")
        for proposal_id, cost in zip(ids, costs, strict=True):
            await services.review(manager, proposal_id, True, cost)
        await move_to(cycle_id, phase)
    return Setup(cycle_id, manager, mahallas, author, ids)


async def voters(count: int, mahalla_id: int, first: int = 100) -> list[int]:
    return [await make_voter(phone(first + n), mahalla_id, confirmed=False)
            for n in range(count)]


async def ledger_entries(kind: str) -> list[dict[str, Any]]:
    return [entry async for entry in iterate() if entry["kind"] == kind]


async def outbox(template: str) -> list[dict[str, Any]]:
    rows = await OutboxMessage.select().where(
        (OutboxMessage.template == template) & (OutboxMessage.channel == "inapp")
    ).order_by(OutboxMessage.id)
    for row in rows:
        row["payload"] = json.loads(row["payload"])
    return rows


async def refused(code: str, work: Any) -> services.PlanningError:
    with pytest.raises(services.PlanningError) as caught:
        await work
    assert caught.value.code == code
    return caught.value


# -- cycles -----------------------------------------------------------------------------------

BAD_CYCLES = [
    ({"title": "Too short"}, "bad_title", "title"),
    ({"title": "x" * 151}, "bad_title", "title"),
    ({"ballot_rule": "ranked"}, "bad_ballot_rule", "ballot_rule"),
    ({"max_choices": None}, "bad_max_choices", "max_choices"),
    ({"max_choices": 0}, "bad_max_choices", "max_choices"),
    ({"max_choices": services.MAX_CHOICES + 1}, "bad_max_choices", "max_choices"),
    ({"selection_rule": "lottery"}, "bad_selection_rule", "selection_rule"),
    ({"satisfaction": "happiness"}, "bad_satisfaction", "satisfaction"),
    ({"completion": "add2"}, "bad_completion", "completion"),
    ({"budget": 0}, "bad_budget", "budget"),
    ({"budget": services.MAX_BUDGET + 1}, "bad_budget", "budget"),
]


@pytest.mark.parametrize(("changes", "code", "field"), BAD_CYCLES)
async def test_a_cycle_with_a_bad_field_is_refused(db: str, changes: dict[str, Any], code: str,
                                                   field: str) -> None:
    manager = await make_manager()
    error = await refused(code, services.create_cycle(manager, cycle_form(**changes)))
    assert error.field == field
    assert await Cycle.count() == 0


async def test_a_cycle_needs_dates_in_order_and_not_in_the_past(db: str) -> None:
    manager = await make_manager()
    form = cycle_form()
    for changes in ({"review_from": form.proposals_from},
                    {"voting_from": form.review_from - timedelta(days=1)},
                    {"results_from": form.voting_from},
                    {"implementation_from": form.results_from - timedelta(days=1)},
                    {"proposals_from": today() - timedelta(days=2)}):
        error = await refused("bad_dates", services.create_cycle(manager, replace(form,
                                                                                  **changes)))
        assert error.field == "proposals_from"
    # Implementation may start on the day the results do.
    assert await services.create_cycle(manager, replace(
        form, implementation_from=form.results_from))


async def test_mahalla_budgets_must_be_the_districts_own_and_positive(db: str) -> None:
    await load_demo_mahallas()
    beruniy, chortoq = await district_mahallas(), await district_mahallas(CHORTOQ)
    manager = await make_manager()
    for budgets in ({beruniy[0]: 100, chortoq[0]: 100}, {beruniy[0]: 0},
                    {beruniy[0]: services.MAX_BUDGET + 1}):
        error = await refused("bad_mahalla_budgets", services.create_cycle(
            manager, cycle_form(mahalla_budgets=budgets)))
        assert error.field == "mahalla_budgets"
    cycle_id = await services.create_cycle(manager, cycle_form(
        budget=1, mahalla_budgets={beruniy[0]: 300, beruniy[1]: 200}))
    # The cycle's budget is the sum of its mahallas'.
    assert (await services.cycle(cycle_id))["budget"] == 500
    assert await services.mahalla_budgets(cycle_id) == {beruniy[0]: 300, beruniy[1]: 200}


async def test_only_the_districts_managers_create_its_cycles(db: str) -> None:
    elsewhere = await make_manager("chortoq", CHORTOQ)
    with pytest.raises(PermissionDenied):
        await services.create_cycle(elsewhere, cycle_form())
    await refused("not_found", services.create_cycle(elsewhere, cycle_form(district_id=99999)))
    assert await Cycle.count() == 0


async def test_rules_are_fixed_at_creation_and_recorded_in_the_ledger(db: str) -> None:
    await load_demo_mahallas()
    mahalla = (await district_mahallas())[0]
    manager = await make_manager()
    form = cycle_form(selection_rule=services.EQUAL_SHARES, satisfaction="cardinality",
                      completion="add1", ballot_rule=services.KNAPSACK, max_choices=7,
                      title="  Beruniy   budget\n of 2027 ", mahalla_budgets={mahalla: 900})
    cycle_id = await services.create_cycle(manager, form)
    row = await services.cycle(cycle_id)
    assert row["title"] == "Beruniy budget\nof 2027"
    # A knapsack ballot has no number limit: what was typed for it is not kept.
    assert (row["ballot_rule"], row["max_choices"]) == ("knapsack", None)
    assert (row["selection_rule"], row["satisfaction"], row["completion"]) == (
        "mes", "cardinality", "add1")
    assert row["created_by"] == manager.id and row["phase_reached"] == "upcoming"
    [entry] = await ledger_entries("planning.cycle_created")
    assert entry["subject"] == f"cycle:{cycle_id}"
    assert entry["payload"] == {
        "district": BERUNIY, "budget": 900, "ballot_rule": "knapsack", "max_choices": None,
        "selection_rule": "mes", "satisfaction": "cardinality", "completion": "add1",
        "dates": [day.isoformat() for day in (
            form.proposals_from, form.review_from, form.voting_from, form.results_from,
            form.implementation_from)],
        "mahalla_budgets": {str(mahalla): 900},
    }
    # Greedy counting has no satisfaction or completion to choose: the defaults are kept.
    greedy = await services.cycle(await services.create_cycle(manager, cycle_form(
        satisfaction="cardinality", completion="add1")))
    assert (greedy["satisfaction"], greedy["completion"]) == ("cost", "none")


async def test_reschedule_moves_only_phases_not_yet_started(db: str) -> None:
    manager = await make_manager()
    cycle_id = await services.create_cycle(manager, cycle_form())
    await move_to(cycle_id, "review")
    row = await services.cycle(cycle_id)
    started = [row["proposals_from"], row["review_from"]]
    later = [row["voting_from"] + timedelta(days=3), row["results_from"] + timedelta(days=3),
             row["implementation_from"] + timedelta(days=3)]
    await services.reschedule(manager, cycle_id, [*started, *later])
    row = await services.cycle(cycle_id)
    assert [row["voting_from"], row["results_from"], row["implementation_from"]] == later
    [entry] = await ledger_entries("planning.cycle_rescheduled")
    assert entry["payload"] == {"dates": [day.isoformat() for day in [*started, *later]]}

    refusals = [
        # A started phase keeps its date.
        [started[0] - timedelta(days=1), started[1], *later],
        [started[0], started[1] + timedelta(days=1), *later],
        # A phase not started cannot be moved to today or before.
        [*started, today(), *later[1:]],
        # Out of order.
        [*started, later[1], later[0], later[2]],
        # Not five dates.
        [*started, *later[:2]],
    ]
    for days in refusals:
        await refused("bad_dates", services.reschedule(manager, cycle_id, days))
    with pytest.raises(PermissionDenied):
        await services.reschedule(await make_manager("chortoq", CHORTOQ), cycle_id,
                                  [*started, *later])
    await refused("not_found", services.reschedule(manager, 99999, [*started, *later]))
    assert len(await ledger_entries("planning.cycle_rescheduled")) == 1


# -- phases -----------------------------------------------------------------------------------

async def test_the_phase_follows_the_dates_at_midnight_in_tashkent(db: str) -> None:
    row = await services.cycle(await services.create_cycle(await make_manager(), cycle_form()))
    midnight = datetime.combine(row["voting_from"], time(), tzinfo=services.locale.TASHKENT)
    # Tashkent is five hours ahead of UTC: voting starts at 19:00 UTC the day before.
    assert midnight.astimezone(UTC).hour == 19
    assert services.phase_of(row, midnight - timedelta(seconds=1)) == "review"
    assert services.phase_of(row, midnight) == "voting"
    assert services.phase_ends(row, "review") == midnight
    assert services.phase_ends(row, "implementation") is None
    assert services.phase_of(row, datetime.combine(
        row["proposals_from"], time(), tzinfo=services.locale.TASHKENT) - timedelta(
        seconds=1)) == "upcoming"
    assert services.phase_of(row, datetime.combine(
        row["implementation_from"] + timedelta(days=400), time(), tzinfo=UTC)
    ) == "implementation"


async def test_advance_acts_once_per_phase(db: str) -> None:
    setup = await ballot_cycle(phase="proposals")
    cycle_id = setup.cycle_id
    assert await services.advance() == []
    await move_to(cycle_id, "review", act=False)
    assert await services.advance() == [(cycle_id, "review")]
    assert await services.advance() == []
    statuses = {row["status"] for row in await Proposal.select(Proposal.status)}
    assert statuses == {"in_review"}
    phases = [entry["payload"]["phase"] for entry in await ledger_entries("planning.phase")]
    assert phases == ["proposals", "review"]


async def test_advance_catches_up_after_missed_phases(db: str) -> None:
    setup = await ballot_cycle(costs=(100, 200, 300), phase="proposals", budget=1000)
    feasible, infeasible, forgotten = setup.proposals
    await services.review(setup.manager, feasible, True, 100)
    await services.review(setup.manager, infeasible, False, reason="The land is not public.")
    # Nobody ran the daily job from the proposals phase until after voting had closed.
    await move_to(setup.cycle_id, "results", act=False)
    steps = await services.advance()
    assert steps == [(setup.cycle_id, phase) for phase in ("review", "voting", "results")]
    statuses = {row["id"]: row["status"] for row in await Proposal.select()}
    # Nobody voted: the feasible proposal was counted, with no votes.
    assert statuses == {feasible: "selected", infeasible: "infeasible",
                        forgotten: "not_reviewed"}
    assert len(await services.results(setup.cycle_id)) == 1
    assert (await services.cycle(setup.cycle_id))["phase_reached"] == "results"
    await move_to(setup.cycle_id, "implementation", act=False)
    assert await services.advance() == [(setup.cycle_id, "implementation")]
    assert await services.advance() == []
    assert len(await services.results(setup.cycle_id)) == 1
    assert len(await ledger_entries("planning.results")) == 1


async def test_followers_hear_when_proposals_and_voting_open(db: str) -> None:
    setup = await ballot_cycle(phase="proposals")
    # The author follows the cycle from their proposal on.
    await move_to(setup.cycle_id, "voting")
    [told] = await outbox("planning.voting")
    assert told["recipient_id"] == setup.author
    assert told["payload"]["link"].endswith(f"/cycles/{setup.cycle_id}")
    await services.advance()
    assert len(await outbox("planning.voting")) == 1


# -- proposals --------------------------------------------------------------------------------

async def test_who_may_propose(db: str) -> None:
    setup = await ballot_cycle(phase="proposals")
    mahalla = setup.mahallas[0]
    unconfirmed = await make_voter(phone(2), mahalla, confirmed=False)
    await refused("not_verified", services.submit_proposal(
        unconfirmed, setup.cycle_id, proposal_text(mahalla)))
    outsider = await make_voter(phone(3), (await district_mahallas(CHORTOQ))[0])
    await refused("outside_district", services.submit_proposal(
        outsider, setup.cycle_id, proposal_text(mahalla)))
    homeless = await make_resident(phone(4))
    await Resident.update({Resident.residence_confirmed_at: datetime.now(UTC)}).where(
        Resident.id == homeless)
    await refused("no_home", services.submit_proposal(
        homeless, setup.cycle_id, proposal_text(mahalla)))
    await refused("not_found", services.submit_proposal(setup.author, 99999,
                                                        proposal_text(mahalla)))
    # OneID confirms residence as well as the mahalla does.
    oneid = await make_voter(phone(5), mahalla, confirmed=False)
    await Resident.update({Resident.oneid_verified_at: datetime.now(UTC)}).where(
        Resident.id == oneid)
    assert await services.submit_proposal(oneid, setup.cycle_id, proposal_text(mahalla))
    for phase in ("upcoming", "review", "voting"):
        await move_to(setup.cycle_id, phase, act=False)
        await refused("wrong_phase", services.submit_proposal(
            setup.author, setup.cycle_id, proposal_text(mahalla)))
    assert await Proposal.count() == 4


BAD_PROPOSALS = [
    ({"title": "Short"}, "bad_title", "title"),
    ({"description": "Too short to say much."}, "bad_description", "description"),
    ({"category": "rockets"}, "bad_category", "category"),
    ({"mahalla_id": None}, "bad_mahalla", "mahalla_id"),
    ({"estimated_cost": 0}, "bad_cost", "estimated_cost"),
    ({"estimated_cost": 1_000_000_001}, "bad_cost", "estimated_cost"),
    ({"lat": BERUNIY_POINT[0]}, "bad_point", "lat"),
    ({"lat": TASHKENT_POINT[0], "lon": TASHKENT_POINT[1]}, "bad_point", "lat"),
]


@pytest.mark.parametrize(("changes", "code", "field"), BAD_PROPOSALS)
async def test_a_proposal_with_a_bad_field_is_refused(db: str, changes: dict[str, Any],
                                                      code: str, field: str) -> None:
    setup = await ballot_cycle(costs=(), phase="proposals")
    text = replace(proposal_text(setup.mahallas[0]), **changes)
    error = await refused(code, services.submit_proposal(setup.author, setup.cycle_id, text))
    assert error.field == field
    assert await Proposal.count() == 0


async def test_a_proposal_names_a_mahalla_of_the_district_and_its_budget(db: str) -> None:
    setup = await ballot_cycle(costs=(), phase="proposals", mahalla_budgets={0: 500, 1: 300})
    chortoq = (await district_mahallas(CHORTOQ))[0]
    for mahalla_id, cost, code in ((chortoq, 100, "bad_mahalla"),
                                   (setup.mahallas[2], 100, "bad_mahalla"),
                                   (setup.mahallas[1], 301, "bad_cost")):
        await refused(code, services.submit_proposal(setup.author, setup.cycle_id, proposal_text(
            mahalla_id, estimated_cost=cost)))
    assert await services.submit_proposal(setup.author, setup.cycle_id, proposal_text(
        setup.mahallas[1], estimated_cost=300, lat=BERUNIY_POINT[0], lon=BERUNIY_POINT[1]))


async def test_a_proposal_has_at_most_three_photos(db: str) -> None:
    setup = await ballot_cycle(costs=(), phase="proposals")
    text = proposal_text(setup.mahallas[0])
    error = await refused("bad_photos", services.submit_proposal(
        setup.author, setup.cycle_id, text, [photo()] * 4))
    assert error.field == "photos"
    proposal_id = await services.submit_proposal(setup.author, setup.cycle_id, text,
                                                 [photo()] * 3)
    pictures = await services.photos(proposal_id)
    assert len(pictures) == 3 and all(p["update"] is None for p in pictures)
    assert await Photo.count() == 3


async def test_submitting_records_follows_and_sets_the_review_due_date(db: str) -> None:
    setup = await ballot_cycle(costs=(250,), phase="proposals")
    [proposal_id] = setup.proposals
    row = await services.proposal(proposal_id)
    cycle_row = await services.cycle(setup.cycle_id)
    assert row["status"] == "submitted" and row["author"] == setup.author
    assert row["review_due_at"] == services.starts_at(cycle_row["voting_from"])
    [entry] = await ledger_entries("planning.proposal_submitted")
    assert entry["payload"] == {"cycle": setup.cycle_id, "mahalla": setup.mahallas[0],
                                "category": "roads", "estimated_cost": 250}
    follows = await Follow.select(Follow.subject).where(Follow.resident == setup.author
                                                        ).output(as_list=True)
    assert set(follows) == {f"proposal:{proposal_id}", f"cycle:{setup.cycle_id}"}


async def test_similar_proposals_are_found_in_either_script(db: str) -> None:
    setup = await ballot_cycle(costs=(), phase="proposals")
    mahalla = setup.mahallas[0]
    latin = await services.submit_proposal(setup.author, setup.cycle_id, proposal_text(
        mahalla, title="Maktab yo'li ta'mirlansin",
        description="Maktabga boradigan yo'l buzilgan, bolalar loyda yuradi."))
    cyrillic = await services.submit_proposal(setup.author, setup.cycle_id, proposal_text(
        mahalla, title="Ҳаммомга сув қувури", category="water",
        description="Маҳалла ҳаммомига янги сув қувури тортиш керак, эскиси чириган."))
    unrelated = await services.submit_proposal(setup.author, setup.cycle_id, proposal_text(
        mahalla, title="Stadion uchun yangi chiroqlar", category="lighting",
        description="Kechqurun o'ynash uchun stadionga chiroqlar o'rnatilsin."))

    async def found(title: str, **options: Any) -> list[int]:
        return [row["id"] for row in await services.similar(setup.cycle_id, title, **options)]

    assert await found("Мактаб йўли") == [latin]
    assert await found("МАКТАБ ЙЎЛИ") == [latin]
    assert await found("Maktab yo‘li") == [latin]
    assert await found("hammomga suv quvuri") == [cyrillic]
    assert await found("Maktab yo'li", exclude=latin) == []
    assert await found("a b c") == []
    await services.withdraw_proposal(setup.author, latin)
    assert await found("Мактаб йўли") == []
    assert unrelated not in await found("Мактаб йўли ҳаммомга сув")


async def test_only_the_author_withdraws_and_only_while_proposals_are_open(db: str) -> None:
    setup = await ballot_cycle(costs=(100, 200), phase="proposals")
    first, second = setup.proposals
    other = await make_voter(phone(2), setup.mahallas[0])
    await refused("not_author", services.withdraw_proposal(other, first))
    await services.withdraw_proposal(setup.author, first)
    assert (await services.proposal(first))["status"] == "withdrawn"
    await refused("wrong_phase", services.withdraw_proposal(setup.author, first))
    public = await services.proposals(setup.cycle_id)
    assert [row["id"] for row in public.items] == [second]
    await move_to(setup.cycle_id, "review")
    await refused("wrong_phase", services.withdraw_proposal(setup.author, second))
    await refused("not_found", services.withdraw_proposal(setup.author, 99999))
    assert len(await ledger_entries("planning.proposal_withdrawn")) == 1


# -- review and merging -----------------------------------------------------------------------

async def test_a_feasible_review_needs_a_cost_within_the_budget(db: str) -> None:
    setup = await ballot_cycle(costs=(100,), phase="proposals", mahalla_budgets={0: 500, 1: 300})
    [proposal_id] = setup.proposals
    for cost in (None, 0, -5, 501):
        error = await refused("bad_cost", services.review(setup.manager, proposal_id, True,
                                                          cost))
        assert error.field == "reviewed_cost"
    await services.review(setup.manager, proposal_id, True, 500)
    row = await services.proposal(proposal_id)
    assert (row["status"], row["reviewed_cost"], row["reviewed_by"]) == (
        "feasible", 500, setup.manager.id)


async def test_an_infeasible_review_needs_a_public_reason(db: str) -> None:
    setup = await ballot_cycle(costs=(100,), phase="review")
    [proposal_id] = setup.proposals
    await move_to(setup.cycle_id, "review")
    for reason in ("", "   no   "):
        error = await refused("bad_reason", services.review(
            setup.manager, proposal_id, False, reason=reason))
        assert error.field == "reason"
    await services.review(setup.manager, proposal_id, False, 999,
                          reason="The land belongs to the railway.")
    row = await services.proposal(proposal_id)
    assert (row["status"], row["reviewed_cost"], row["review_reason"]) == (
        "infeasible", None, "The land belongs to the railway.")
    entries = await ledger_entries("planning.proposal_reviewed")
    assert entries[-1]["payload"]["feasible"] is False
    assert "railway" not in json.dumps(entries[-1]["payload"])


async def test_the_author_hears_of_the_review(db: str) -> None:
    setup = await ballot_cycle(costs=(100,), phase="proposals")
    [proposal_id] = setup.proposals
    await services.review(setup.manager, proposal_id, False, reason="Not on public land.")
    [message] = await outbox("planning.proposal_reviewed")
    assert message["recipient_kind"] == "resident"
    assert message["recipient_id"] == setup.author
    assert message["payload"]["decision_msgid"] == services.PROPOSAL_STATUSES["infeasible"]
    assert message["payload"]["link"].endswith(f"/proposals/{proposal_id}")


async def test_review_is_for_the_districts_managers_before_voting(db: str) -> None:
    setup = await ballot_cycle(costs=(100,), phase="voting")
    [proposal_id] = setup.proposals
    await refused("wrong_phase", services.review(setup.manager, proposal_id, True, 100))
    await move_to(setup.cycle_id, "review", act=False)
    with pytest.raises(PermissionDenied):
        await services.review(await make_manager("chortoq", CHORTOQ), proposal_id, True, 100)
    await refused("not_found", services.review(setup.manager, 99999, True, 100))


async def test_a_merged_duplicate_tells_both_authors_who_follow_the_one_kept(db: str) -> None:
    setup = await ballot_cycle(costs=(100, 200), phase="proposals")
    kept = setup.proposals[0]
    other_author = await make_voter(phone(2), setup.mahallas[1])
    duplicate = await services.submit_proposal(other_author, setup.cycle_id, proposal_text(
        setup.mahallas[1], title="Repair the school road please"))
    await services.merge(setup.manager, duplicate, kept)
    row = await services.proposal(duplicate)
    assert (row["status"], row["merged_into"]) == ("merged", kept)
    told = await outbox("planning.proposal_merged")
    assert sorted(m["recipient_id"] for m in told) == sorted([setup.author, other_author])
    assert {m["payload"]["kept"] for m in told} == {"Project number 0 of the district"}
    followers = await services.notify.followers(f"proposal:{kept}")
    assert other_author in followers and setup.author in followers
    [entry] = await ledger_entries("planning.proposal_merged")
    assert entry["payload"] == {"into": kept}

    second_cycle = await services.create_cycle(setup.manager, cycle_form())
    await move_to(second_cycle, "proposals")
    elsewhere = await services.submit_proposal(setup.author, second_cycle,
                                               proposal_text(setup.mahallas[0]))
    for proposal_id, into in ((kept, kept), (setup.proposals[1], duplicate),
                              (setup.proposals[1], elsewhere)):
        await refused("bad_merge", services.merge(setup.manager, proposal_id, into))
    await refused("wrong_phase", services.merge(setup.manager, duplicate, setup.proposals[1]))


# -- ballots ----------------------------------------------------------------------------------

async def test_a_ballot_is_recorded_and_a_change_replaces_it(db: str) -> None:
    setup = await ballot_cycle()
    first, second, third = setup.proposals
    [voter] = await voters(1, setup.mahallas[0])
    cast = await services.cast_ballot(voter, setup.cycle_id, [second, first, first])
    assert (cast.proposal_ids, cast.total_cost, cast.changes, cast.channel) == (
        (first, second), 800_000_000, 0, "web")
    assert len(cast.receipt) == 8
    changed = await services.cast_ballot(voter, setup.cycle_id, [third])
    assert (changed.proposal_ids, changed.changes, changed.receipt) == (
        (third,), 1, cast.receipt)
    assert await services.ballot_of(voter, setup.cycle_id) == changed
    assert await Ballot.count() == 1 and await BallotChoice.count() == 1
    assert await services.ballot_of(setup.author, setup.cycle_id) is None
    assert f"cycle:{setup.cycle_id}" in await services.notify.follows_of(voter)


async def test_who_may_vote(db: str) -> None:
    setup = await ballot_cycle()
    choice = setup.proposals[:1]
    unverified = await make_resident(phone(2))
    await Resident.update({Resident.phone_verified_at: None,
                           Resident.mahalla: setup.mahallas[0]}).where(Resident.id == unverified)
    await refused("not_verified", services.cast_ballot(unverified, setup.cycle_id, choice))
    await refused("no_home", services.cast_ballot(await make_resident(phone(3)),
                                                  setup.cycle_id, choice))
    [outsider] = await voters(1, (await district_mahallas(CHORTOQ))[0], first=200)
    await refused("outside_district", services.cast_ballot(outsider, setup.cycle_id, choice))
    await refused("not_found", services.cast_ballot(outsider, 99999, choice))
    for phase in ("review", "results"):
        await move_to(setup.cycle_id, phase, act=False)
        await refused("wrong_phase", services.cast_ballot(setup.author, setup.cycle_id, choice))
    assert await Ballot.count() == 0


async def test_only_projects_on_this_ballot_may_be_chosen(db: str) -> None:
    setup = await ballot_cycle(costs=(100, 200, 300, 400, 500), phase="proposals",
                               budget=10_000)
    on_ballot, infeasible, unreviewed = setup.proposals[:3]
    await services.review(setup.manager, on_ballot, True, 100)
    await services.review(setup.manager, infeasible, False, reason="Cannot be built there.")
    other_cycle = await services.create_cycle(setup.manager, cycle_form())
    await move_to(other_cycle, "proposals")
    elsewhere = await services.submit_proposal(setup.author, other_cycle,
                                               proposal_text(setup.mahallas[0]))
    await move_to(setup.cycle_id, "voting")
    [voter] = await voters(1, setup.mahallas[0])
    for wrong in (infeasible, unreviewed, elsewhere, 99999):
        error = await refused("bad_choice", services.cast_ballot(voter, setup.cycle_id,
                                                                 [on_ballot, wrong]))
        assert error.field == "proposal_ids"
    await refused("no_choice", services.cast_ballot(voter, setup.cycle_id, []))
    assert await Ballot.count() == 0
    assert (await services.cast_ballot(voter, setup.cycle_id, [on_ballot])).proposal_ids == (
        on_ballot,)


async def test_an_approval_ballot_has_at_most_k_choices(db: str) -> None:
    setup = await ballot_cycle(costs=(100, 200, 300, 400), max_choices=3)
    [voter] = await voters(1, setup.mahallas[0])
    error = await refused("too_many_choices", services.cast_ballot(
        voter, setup.cycle_id, setup.proposals))
    assert error.field == "proposal_ids"
    assert (await services.cast_ballot(voter, setup.cycle_id, setup.proposals[:3])).total_cost \
        == 600


async def test_a_knapsack_ballot_stays_within_the_budget(db: str) -> None:
    setup = await ballot_cycle(costs=(600, 400, 500), budget=1000,
                               ballot_rule=services.KNAPSACK)
    six, four, five = setup.proposals
    [voter] = await voters(1, setup.mahallas[0])
    await refused("over_budget", services.cast_ballot(voter, setup.cycle_id, [six, five]))
    # Any number of projects, as long as the money holds.
    assert (await services.cast_ballot(voter, setup.cycle_id, [six, four])).total_cost == 1000


async def test_a_sub_budget_ballot_holds_only_the_voters_own_mahalla(db: str) -> None:
    setup = await ballot_cycle(costs=(300, 200, 250), where=(0, 0, 1),
                               mahalla_budgets={0: 500, 1: 400},
                               ballot_rule=services.KNAPSACK)
    first, second, theirs = setup.proposals
    [voter] = await voters(1, setup.mahallas[0])
    await refused("bad_choice", services.cast_ballot(voter, setup.cycle_id, [first, theirs]))
    assert (await services.cast_ballot(voter, setup.cycle_id, [first, second])).total_cost == 500
    [neighbour] = await voters(1, setup.mahallas[1], first=200)
    await refused("bad_choice", services.cast_ballot(neighbour, setup.cycle_id, [first]))
    assert (await services.cast_ballot(neighbour, setup.cycle_id, [theirs])).proposal_ids == (
        theirs,)
    # The mahalla's ballots are the mahalla's own list.
    assert [row["id"] for row in await services.ballot_proposals(
        setup.cycle_id, setup.mahallas[0])] == [second, first]


async def test_concurrent_ballots_of_one_voter_leave_one_ballot(db: str) -> None:
    setup = await ballot_cycle()
    [voter] = await voters(1, setup.mahallas[0])
    choices = [[proposal_id] for proposal_id in setup.proposals] * 2
    receipts = await asyncio.gather(*[services.cast_ballot(voter, setup.cycle_id, choice)
                                      for choice in choices])
    assert await Ballot.count() == 1
    recorded = await services.ballot_of(voter, setup.cycle_id)
    assert recorded is not None
    assert recorded.proposal_ids in {tuple(choice) for choice in choices}
    assert await BallotChoice.count() == 1
    # Every request saw the same ballot: one receipt, one first cast.
    assert {receipt.receipt for receipt in receipts} == {recorded.receipt}
    assert sorted(receipt.changes for receipt in receipts) == list(range(len(choices)))


async def test_concurrent_knapsack_changes_never_mix_over_the_budget(db: str) -> None:
    setup = await ballot_cycle(costs=(600, 400, 500, 300), budget=1000,
                               ballot_rule=services.KNAPSACK)
    six, four, five, three = setup.proposals
    [voter] = await voters(1, setup.mahallas[0])
    # Each set fits the budget; any two of them together do not.
    sets = [(four, six), (five, three), (five,), (six, three)]
    await asyncio.gather(*[services.cast_ballot(voter, setup.cycle_id, chosen)
                           for chosen in sets * 3])
    recorded = await services.ballot_of(voter, setup.cycle_id)
    assert recorded is not None
    assert recorded.proposal_ids in {tuple(sorted(chosen)) for chosen in sets}
    assert recorded.total_cost <= 1000
    assert await BallotChoice.count() == len(recorded.proposal_ids)


async def test_ballot_changes_are_rate_limited_but_assisted_ballots_are_not(db: str) -> None:
    setup = await ballot_cycle()
    [voter] = await voters(1, setup.mahallas[0])
    for number in range(services.BALLOT_CHANGES):
        await services.cast_ballot(voter, setup.cycle_id,
                                   setup.proposals[number % 3:number % 3 + 1])
    error = await refused("too_many", services.cast_ballot(voter, setup.cycle_id,
                                                           setup.proposals[:1]))
    assert 0 < error.retry_after <= 600
    helper = await make_manager("mahalla-staff")
    assisted = await services.cast_ballot(voter, setup.cycle_id, setup.proposals[:2],
                                          channel="assisted", assisted_by=helper.id,
                                          consent="signed paper form")
    assert assisted.channel == "assisted"
    row = await Ballot.select().first()
    assert (row["channel"], row["assisted_by"], row["consent"]) == (
        "assisted", helper.id, "signed paper form")


async def test_running_totals_and_their_visibility(db: str) -> None:
    setup = await ballot_cycle()
    first, second, _ = setup.proposals
    for voter in await voters(3, setup.mahallas[0]):
        await services.cast_ballot(voter, setup.cycle_id, [first, second])
    [late] = await voters(1, setup.mahallas[1], first=200)
    await services.cast_ballot(late, setup.cycle_id, [second])
    assert await services.running_totals(setup.cycle_id) == {first: 3, second: 4}
    assert await services.turnout(setup.cycle_id) == 4
    row = await services.cycle(setup.cycle_id)
    assert not services.totals_visible(row)
    assert services.totals_visible({**row, "show_running_totals": True})
    await move_to(setup.cycle_id, "results", act=False)
    assert services.totals_visible(await services.cycle(setup.cycle_id))
