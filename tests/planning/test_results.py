"""Results and what follows them: counting by the cycle's rule and publishing once, the
pabulib export that reproduces the count and its hash, import, delivery of the winners,
residents' comments, reminders to officials and the list of winners."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

import pytest

from ovoz.accountability import services as accountability
from ovoz.accounts.permissions import Grant, PermissionDenied, Role
from ovoz.accounts.tables import Resident
from ovoz.i18n import locale
from ovoz.ledger.services import iterate
from ovoz.planning import pabulib, services
from ovoz.planning.tables import Ballot, Cycle, Proposal, Result
from tests.planning.helpers import make_manager, make_voter, move_to
from tests.planning.test_services import (
    Setup,
    ballot_cycle,
    ledger_entries,
    outbox,
    phone,
    refused,
    voters,
)
from tests.reports.helpers import (
    BERUNIY,
    CHORTOQ,
    REGION_OF,
    make_resident,
    make_staff_account,
    photo,
)

# Six voters want one dear project, four want two cheaper ones: greedy gives the six their
# project; equal shares gives the six a tenth of the money each, too little for it.
COSTS = (900, 400, 100)
BUDGET = 1000


@contextmanager
def language(code: str) -> Iterator[None]:
    token = locale.current_language.set(code)
    try:
        yield
    finally:
        locale.current_language.reset(token)


async def voted(rule: str = services.GREEDY, satisfaction: str = "cost",
                completion: str = "none", *, phase: str = "results") -> Setup:
    """A cycle of COSTS and BUDGET, six ballots for the first project and four for the other
    two, moved on to `phase` (the daily job run)."""
    setup = await ballot_cycle(COSTS, budget=BUDGET, selection_rule=rule,
                               satisfaction=satisfaction, completion=completion)
    dear, middle, cheap = setup.proposals
    for voter in await voters(6, setup.mahallas[0]):
        await services.cast_ballot(voter, setup.cycle_id, [dear])
    for voter in await voters(4, setup.mahallas[1], first=200):
        await services.cast_ballot(voter, setup.cycle_id, [middle, cheap])
    await move_to(setup.cycle_id, phase)
    return setup


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# -- counting and publishing ------------------------------------------------------------------

RULES = [
    (services.GREEDY, "cost", "none"),
    (services.EQUAL_SHARES, "cost", "none"),
    (services.EQUAL_SHARES, "cardinality", "none"),
    (services.EQUAL_SHARES, "cost", "add1"),
    (services.EQUAL_SHARES, "cardinality", "add1"),
]


@pytest.mark.parametrize(("rule", "satisfaction", "completion"), RULES)
async def test_the_published_winners_are_the_count_of_the_exported_file(
        db: str, rule: str, satisfaction: str, completion: str) -> None:
    setup = await voted(rule, satisfaction, completion)
    [result] = await services.results(setup.cycle_id)
    export = await services.export_pb(setup.cycle_id)
    election = pabulib.election_of(pabulib.parse(export))
    outcome = services.run_rule(rule, satisfaction, completion, election)
    assert result["selected"] == [int(pid) for pid in outcome.selected]
    assert (result["rule"], result["satisfaction"], result["completion"]) == (
        rule, satisfaction, completion)
    assert (result["budget"], result["spent"], result["voters"]) == (
        BUDGET, outcome.spent, 10)
    selected = {row["id"] for row in await Proposal.select(Proposal.id).where(
        Proposal.status == "selected")}
    assert selected == set(result["selected"])
    dear = setup.proposals[0]
    # The rule is the cycle's own: greedy funds the dear project, equal shares alone does not
    # (its completion may, with the money left).
    if completion == "none":
        assert (dear in selected) == (rule == services.GREEDY)


async def test_the_ballots_hash_is_that_of_the_published_export(db: str) -> None:
    setup = await voted(services.EQUAL_SHARES)
    [result] = await services.results(setup.cycle_id)
    export = await services.export_pb(setup.cycle_id)
    pb = pabulib.parse(export)
    assert {p["project_id"] for p in pb.projects if p["selected"] == "1"} == {
        str(pid) for pid in result["selected"]}
    assert result["ballots_sha256"] == sha256(export)
    # The file stays the same while the winners are built.
    await services.record_delivery(setup.manager, result["selected"][0],
                                   services.DeliveryText("in_progress", 30, 10))
    assert await services.export_pb(setup.cycle_id) == export
    [entry] = await ledger_entries("planning.results")
    assert entry["subject"] == f"cycle:{setup.cycle_id}"
    assert entry["payload"] == {
        "mahalla": None, "rule": "mes", "satisfaction": "cost", "completion": "none",
        "budget": BUDGET, "spent": result["spent"], "voters": 10,
        "selected": sorted(result["selected"]), "ballots_sha256": result["ballots_sha256"]}
    assert (pb.meta["budget"], pb.meta["vote_type"], pb.meta["max_length"]) == (
        str(BUDGET), "approval", "3")
    assert pb.meta["district_id"] == str(BERUNIY) and pb.meta["rule"] == "equalshares"


async def test_the_export_is_anonymous_and_holds_exactly_the_recorded_ballots(db: str
                                                                             ) -> None:
    setup = await ballot_cycle(COSTS, budget=BUDGET)
    dear, middle, cheap = setup.proposals
    people = await voters(3, setup.mahallas[0])
    await services.cast_ballot(people[0], setup.cycle_id, [dear, cheap])
    await services.cast_ballot(people[1], setup.cycle_id, [middle])
    await services.cast_ballot(people[2], setup.cycle_id, [dear])
    # A change replaces: only the last choice is counted.
    await services.cast_ballot(people[2], setup.cycle_id, [middle, cheap])
    helper = await make_manager("mahalla-staff")
    await services.cast_ballot(setup.author, setup.cycle_id, [cheap], channel="assisted",
                               assisted_by=helper.id)
    await move_to(setup.cycle_id, "results")
    pb = pabulib.parse(await services.export_pb(setup.cycle_id))
    recorded = []
    for person in [*people, setup.author]:
        receipt = await services.ballot_of(person, setup.cycle_id)
        assert receipt is not None
        recorded.append(sorted(str(pid) for pid in receipt.proposal_ids))
    assert sorted(sorted(pabulib.ballot(vote)) for vote in pb.votes) == sorted(recorded)
    assert sorted(vote["voting_method"] for vote in pb.votes) == [
        "internet", "internet", "internet", "paper"]
    assert [vote["voter_id"] for vote in pb.votes] == ["1", "2", "3", "4"]
    votes = {p["project_id"]: p["votes"] for p in pb.projects}
    assert votes == {str(dear): "1", str(middle): "2", str(cheap): "3"}
    text = await services.export_pb(setup.cycle_id)
    for person in [*people, setup.author]:
        resident = await Resident.select().where(Resident.id == person).first()
        assert resident["phone"] not in text
    rows = {row["id"]: row["votes"] for row in await Proposal.select(Proposal.id,
                                                                     Proposal.votes)}
    assert rows == {dear: 1, middle: 2, cheap: 3}


async def test_results_are_published_once_even_when_asked_twice_or_at_once(db: str) -> None:
    setup = await voted(phase="voting")
    await move_to(setup.cycle_id, "results", act=False)
    assert await services.results(setup.cycle_id) == []
    published = await asyncio.gather(*[services.publish_results(setup.cycle_id)
                                       for _ in range(4)])
    assert sorted(published) == [False, False, False, True]
    assert await services.publish_results(setup.cycle_id) is False
    assert await Result.count() == 1
    assert len(await ledger_entries("planning.results")) == 1
    # The daily job finds the results already there.
    assert await services.advance() == [(setup.cycle_id, "results")]
    assert await Result.count() == 1
    told = await outbox("planning.results")
    recipients = [message["recipient_id"] for message in told]
    assert len(recipients) == len(set(recipients)) == 11


async def test_there_is_no_export_before_voting_closes(db: str) -> None:
    setup = await voted(phase="voting")
    await refused("wrong_phase", services.export_pb(setup.cycle_id))
    await refused("not_found", services.export_pb(99999))


async def test_sub_budgets_are_counted_mahalla_by_mahalla(db: str) -> None:
    setup = await ballot_cycle((300, 250, 200, 400), where=(0, 0, 1, 1),
                               mahalla_budgets={0: 500, 1: 400})
    first, second, third, fourth = setup.proposals
    for voter in await voters(3, setup.mahallas[0]):
        await services.cast_ballot(voter, setup.cycle_id, [first, second])
    for voter in await voters(2, setup.mahallas[1], first=200):
        await services.cast_ballot(voter, setup.cycle_id, [fourth])
    [late] = await voters(1, setup.mahallas[1], first=300)
    await services.cast_ballot(late, setup.cycle_id, [third])
    await move_to(setup.cycle_id, "results")
    results = {row["mahalla"]: row for row in await services.results(setup.cycle_id)}
    assert set(results) == {setup.mahallas[0], setup.mahallas[1]}
    home, neighbour = results[setup.mahallas[0]], results[setup.mahallas[1]]
    assert (home["budget"], home["voters"], home["selected"]) == (500, 3, [first])
    assert (neighbour["budget"], neighbour["voters"], neighbour["selected"]) == (400, 3,
                                                                                 [fourth])
    await refused("choose_mahalla", services.export_pb(setup.cycle_id))
    await refused("not_found", services.export_pb(setup.cycle_id, setup.mahallas[2]))
    for mahalla_id, row in results.items():
        export = await services.export_pb(setup.cycle_id, mahalla_id)
        pb = pabulib.parse(export)
        assert pb.meta["subunit"] == str(mahalla_id)
        assert pb.meta["budget"] == str(row["budget"])
        ours = {str(pid) for pid, where in zip(setup.proposals, (0, 0, 1, 1), strict=True)
                if setup.mahallas[where] == mahalla_id}
        assert {p["project_id"] for p in pb.projects} == ours
        assert row["ballots_sha256"] == sha256(export)
    hashes = {entry["payload"]["mahalla"]: entry["payload"]["ballots_sha256"]
              for entry in await ledger_entries("planning.results")}
    assert hashes == {mahalla_id: row["ballots_sha256"] for mahalla_id, row in results.items()}


async def test_every_project_on_the_ballot_says_why_it_won_or_lost(db: str) -> None:
    setup = await voted()
    dear, middle, cheap = setup.proposals
    rows = {row["id"]: row for row in await services.ballot_proposals(setup.cycle_id)}
    assert set(rows) == set(setup.proposals)
    for row in rows.values():
        assert row["result_reason"] in services.RESULT_REASONS
        assert services.explanation(row)
    with language("en"):
        assert services.explanation(rows[dear]) == (
            "Selected: with 6 votes it came in its turn, and its cost of 900 soums fit in the "
            "1,000 soums left.")
        assert services.explanation(rows[middle]) == (
            "Not selected: when its turn came (4 votes), only 100 soums were left, less than "
            "its cost of 400 soums.")
        assert services.explanation(rows[cheap]).startswith("Selected: with 4 votes")
    assert services.explanation({"result_reason": ""}) == ""


async def test_equal_shares_says_when_supporters_hold_too_little(db: str) -> None:
    setup = await voted(services.EQUAL_SHARES, "cardinality")
    dear, middle, cheap = setup.proposals
    rows = {row["id"]: row for row in await services.ballot_proposals(setup.cycle_id)}
    assert (rows[dear]["result_reason"], rows[middle]["result_reason"],
            rows[cheap]["result_reason"]) == ("too_few_supporters", "shares_spent",
                                              "equal_shares")
    with language("en"):
        assert services.explanation(rows[dear]) == (
            "Not selected: its 6 supporters hold 100 soums each, 600 soums in all, less than "
            "its cost of 900 soums.")
        assert services.explanation(rows[cheap]) == (
            "Selected in round 1: its 4 supporters paid for it from their equal shares, at "
            "most 25 soums each.")


# -- pabulib import ---------------------------------------------------------------------------

async def test_an_imported_file_becomes_a_counted_cycle(db: str) -> None:
    setup = await voted(services.EQUAL_SHARES)
    export = await services.export_pb(setup.cycle_id)
    titles = {row["id"]: row["title"] for row in await Proposal.select()}
    won = sorted(titles[pid] for pid in (await services.results(setup.cycle_id))[0]["selected"])
    cycle_id = await services.import_pb(pabulib.parse(export))
    row = await services.cycle(cycle_id)
    assert (row["district"], row["imported"], row["selection_rule"], row["ballot_rule"],
            row["max_choices"], row["budget"]) == (BERUNIY, True, "mes", "approval", 3, BUDGET)
    assert services.phase_of(row) == "implementation"
    [result] = await services.results(cycle_id)
    assert sorted(titles_of for titles_of in [
        p["title"] for p in await Proposal.select().where(
            Proposal.id.is_in(result["selected"]))]) == won
    assert result["voters"] == 10
    assert await Ballot.count().where(Ballot.cycle == cycle_id) == 10
    assert await Ballot.count().where((Ballot.cycle == cycle_id)
                                      & Ballot.resident.is_null()) == 10
    [entry] = await ledger_entries("planning.cycle_imported")
    assert entry["payload"] == {"district": BERUNIY, "budget": BUDGET, "projects": 3,
                                "ballots": 10}


async def test_an_imported_file_names_its_rule_and_ballot(db: str) -> None:
    pb = pabulib.PbFile(
        meta={"description": "Knapsack vote", "budget": "500", "vote_type": "approval",
              "rule": "greedy"},
        projects=[{"project_id": "a", "cost": "300"}, {"project_id": "b", "cost": "300"}],
        votes=[{"voter_id": "1", "vote": "a", "voting_method": "paper"},
               {"voter_id": "2", "vote": "a,b"}, {"voter_id": "3", "vote": "b"},
               {"voter_id": "4", "vote": "b"}])
    cycle_id = await services.import_pb(pb, CHORTOQ)
    row = await services.cycle(cycle_id)
    assert (row["district"], row["title"], row["ballot_rule"], row["max_choices"],
            row["selection_rule"]) == (CHORTOQ, "Knapsack vote", "knapsack", None, "greedy")
    [result] = await services.results(cycle_id)
    [winner] = await Proposal.select().where(Proposal.id.is_in(result["selected"]))
    assert (winner["title"], winner["votes"], result["spent"]) == ("b", 3, 300)
    channels = await Ballot.select(Ballot.channel).where(Ballot.cycle == cycle_id
                                                         ).output(as_list=True)
    assert sorted(channels) == ["assisted", "imported", "imported", "imported"]


async def test_an_import_needs_a_known_district(db: str) -> None:
    setup = await voted()
    pb = pabulib.parse(await services.export_pb(setup.cycle_id))
    before = await Cycle.count()
    await refused("not_found", services.import_pb(pb, 99999))
    anonymous = replace(pb, meta={k: v for k, v in pb.meta.items() if k != "district_id"})
    await refused("not_found", services.import_pb(anonymous))
    assert await Cycle.count() == before


# -- delivery ---------------------------------------------------------------------------------

async def test_a_selected_project_is_due_a_year_after_implementation_starts(db: str) -> None:
    setup = await voted(phase="implementation")
    dear, middle, cheap = setup.proposals
    row = await services.cycle(setup.cycle_id)
    for proposal_id in (dear, cheap):
        project = await services.proposal(proposal_id)
        assert project["delivery_status"] == "planned"
        assert project["due_on"] == row["implementation_from"] + timedelta(days=365)
    assert (await services.proposal(middle))["delivery_status"] == ""


BAD_UPDATES = [
    (services.DeliveryText("finished", 10, 0), "bad_status"),
    (services.DeliveryText("in_progress", 101, 0), "bad_progress"),
    (services.DeliveryText("in_progress", -1, 0), "bad_progress"),
    (services.DeliveryText("completed", 90, 0), "bad_progress"),
    (services.DeliveryText("in_progress", 10, -1), "bad_spent"),
    (services.DeliveryText("cancelled", 10, 0, "No money"), "bad_reason"),
]


async def test_delivery_updates_follow_the_rules(db: str) -> None:
    setup = await voted()
    dear, middle, _ = setup.proposals
    for text, code in BAD_UPDATES:
        await refused(code, services.record_delivery(setup.manager, dear, text))
    await refused("bad_photos", services.record_delivery(
        setup.manager, dear, services.DeliveryText("in_progress", 10, 0), [photo()] * 4))
    await refused("not_selected", services.record_delivery(
        setup.manager, middle, services.DeliveryText("in_progress", 10, 0)))
    await refused("not_found", services.record_delivery(
        setup.manager, 99999, services.DeliveryText("in_progress", 10, 0)))
    with pytest.raises(PermissionDenied):
        await services.record_delivery(await make_manager("chortoq", CHORTOQ), dear,
                                       services.DeliveryText("in_progress", 10, 0))
    assert await services.timeline(dear) == []


async def test_the_timeline_of_a_project_being_built(db: str) -> None:
    setup = await voted()
    dear = setup.proposals[0]
    due = (await services.proposal(dear))["due_on"] + timedelta(days=30)
    first = await services.record_delivery(setup.manager, dear, services.DeliveryText(
        "procurement", 0, 0, "Tender announced.", due_on=due))
    second = await services.record_delivery(setup.manager, dear, services.DeliveryText(
        "in_progress", 40, 350, "Half the pipe laid."), [photo(), photo()])
    row = await services.proposal(dear)
    assert (row["delivery_status"], row["progress"], row["spent"], row["due_on"]) == (
        "in_progress", 40, 350, due)
    entries = await services.timeline(dear)
    assert [entry["id"] for entry in entries] == [second, first]
    assert len(entries[0]["photos"]) == 2 and entries[1]["photos"] == []
    assert entries[0]["note"] == "Half the pipe laid."
    await services.record_delivery(setup.manager, dear, services.DeliveryText(
        "completed", 100, 880, "Water flows."))
    row = await services.proposal(dear)
    assert row["delivered_at"] is not None and row["delivery_status"] == "completed"
    await refused("finished", services.record_delivery(
        setup.manager, dear, services.DeliveryText("in_progress", 50, 880)))
    payloads = [entry["payload"] for entry in await ledger_entries("planning.delivery")]
    assert [p["status"] for p in payloads] == ["procurement", "in_progress", "completed"]
    assert payloads[0]["due_on"] == due.isoformat()


async def test_a_cancelled_project_keeps_its_reason_and_takes_no_more_updates(db: str) -> None:
    setup = await voted()
    cheap = setup.proposals[2]
    await services.record_delivery(setup.manager, cheap, services.DeliveryText(
        "cancelled", 0, 0, "The site was flooded in spring."))
    row = await services.proposal(cheap)
    assert (row["delivery_status"], row["cancel_reason"], row["delivered_at"]) == (
        "cancelled", "The site was flooded in spring.", None)
    await refused("finished", services.record_delivery(
        setup.manager, cheap, services.DeliveryText("planned", 0, 0)))


async def test_followers_hear_of_each_delivery_update(db: str) -> None:
    setup = await voted()
    dear = setup.proposals[0]
    commenter = await make_voter(phone(50), setup.mahallas[2], confirmed=False)
    await services.comment(commenter, dear, "When will the work start?")
    update = await services.record_delivery(setup.manager, dear, services.DeliveryText(
        "in_progress", 20, 100))
    told = await outbox("planning.delivery")
    assert sorted(m["recipient_id"] for m in told) == sorted([setup.author, commenter])
    assert {m["payload"]["status_msgid"] for m in told} == {
        services.DELIVERY_STATUSES["in_progress"]}
    assert all(m["key"].startswith(f"proposal:{dear}:delivery:{update}:") for m in told)


async def test_overdue_projects_and_reviews(db: str) -> None:
    setup = await voted()
    dear = setup.proposals[0]
    row = await services.proposal(dear)
    due = row["due_on"]
    day_after = services.starts_at(due + timedelta(days=1))
    assert not services.overdue(row, day_after - timedelta(seconds=1))
    assert services.overdue(row, day_after)
    assert not services.overdue({**row, "delivery_status": "completed"}, day_after)
    assert not services.overdue({**row, "delivery_status": "cancelled"}, day_after)
    review_due = services.starts_at(due)
    waiting = {"status": "in_review", "review_due_at": review_due}
    assert services.overdue(waiting, review_due)
    assert not services.overdue(waiting, review_due - timedelta(seconds=1))
    assert not services.overdue({**waiting, "status": "feasible"}, review_due)


# -- comments ---------------------------------------------------------------------------------

async def test_residents_comment_on_a_project_being_built(db: str) -> None:
    setup = await voted()
    dear, middle, _ = setup.proposals
    commenter = await make_voter(phone(50), setup.mahallas[0], confirmed=False)
    for text in ("ok", "x" * (services.COMMENT_MAX + 1), "  \n "):
        error = await refused("bad_comment", services.comment(commenter, dear, text))
        assert error.field == "text"
    await refused("not_selected", services.comment(commenter, middle, "Why not this one?"))
    await refused("not_found", services.comment(commenter, 99999, "Where is this?"))
    unverified = await make_resident(phone(51))
    await Resident.update({Resident.phone_verified_at: None}).where(Resident.id == unverified)
    await refused("not_verified", services.comment(unverified, dear, "Is it started?"))
    await services.comment(commenter, dear, "  The   trench is\n open  ")
    [said] = await services.comments(dear)
    assert said["text"] == "The trench is\nopen"
    assert f"proposal:{dear}" in await services.notify.follows_of(commenter)


async def test_comments_are_rate_limited(db: str) -> None:
    setup = await voted()
    dear = setup.proposals[0]
    commenter = await make_voter(phone(50), setup.mahallas[0], confirmed=False)
    for number in range(services.COMMENTS_PER_HOUR):
        await services.comment(commenter, dear, f"Question number {number}")
    error = await refused("too_many", services.comment(commenter, dear, "One more question"))
    assert 0 < error.retry_after <= 3600
    assert len(await services.comments(dear)) == services.COMMENTS_PER_HOUR


# -- reminders --------------------------------------------------------------------------------

async def test_officials_are_reminded_of_reviews_due_and_overdue(db: str) -> None:
    setup = await ballot_cycle((100,), phase="proposals")
    await move_to(setup.cycle_id, "review")
    [proposal_id] = setup.proposals
    due = (await services.proposal(proposal_id))["review_due_at"]
    # Neither another district's official nor a department's hears of it.
    await make_manager("chortoq", CHORTOQ)
    await make_staff_account("water-department",
                             Grant(Role.OFFICIAL, REGION_OF[BERUNIY], BERUNIY, department_id=1))
    assert await accountability.remind_due(due - timedelta(days=3)) == 0
    assert await accountability.remind_due(due - timedelta(days=1)) == 1
    # Once a day: the same reminder is not queued twice.
    assert await accountability.remind_due(due - timedelta(days=1)) == 0
    assert await accountability.remind_due(due + timedelta(hours=1)) == 1
    assert await accountability.remind_due(due + timedelta(days=2)) == 0
    soon, late = await outbox("obligation.due_soon"), await outbox("obligation.overdue")
    for message in (*soon, *late):
        assert (message["recipient_kind"], message["recipient_id"]) == ("staff",
                                                                         setup.manager.id)
        assert message["payload"]["link"].endswith(f"/staff/proposals/{proposal_id}")
    assert len(soon) == len(late) == 1
    await services.review(setup.manager, proposal_id, True, 100)
    assert await accountability.remind_due(due + timedelta(hours=2)) == 0


async def test_officials_are_reminded_of_projects_past_their_due_date(db: str) -> None:
    setup = await voted()
    dear, _, cheap = setup.proposals
    due = (await services.proposal(dear))["due_on"]
    await services.record_delivery(setup.manager, cheap, services.DeliveryText(
        "completed", 100, 100))
    morning_after = services.starts_at(due + timedelta(days=1)) + timedelta(hours=9)
    assert await accountability.remind_due(morning_after - timedelta(days=3)) == 0
    assert await accountability.remind_due(morning_after - timedelta(days=1)) == 1
    assert await accountability.remind_due(morning_after) == 1
    [message] = await outbox("obligation.overdue")
    assert message["recipient_id"] == setup.manager.id
    assert message["payload"]["date_day"] == due.isoformat()
    assert message["payload"]["link"].endswith(f"/staff/proposals/{dear}")


# -- winners ----------------------------------------------------------------------------------

async def test_winners_of_a_district_across_cycles(db: str) -> None:
    setup = await voted(phase="implementation")
    dear, _, cheap = setup.proposals
    pb = pabulib.parse(await services.export_pb(setup.cycle_id))
    later = await services.import_pb(pb, BERUNIY)
    elsewhere = await services.import_pb(pb, CHORTOQ)
    beruniy = (await services.winners(BERUNIY)).items
    assert [row["cycle"] for row in beruniy] == [later, later, setup.cycle_id, setup.cycle_id]
    assert [row["id"] for row in beruniy[2:]] == sorted([dear, cheap])
    assert all(row["cycle.district"] == BERUNIY for row in beruniy)
    everywhere = await services.winners()
    assert everywhere.total == 6 and everywhere.items[0]["cycle"] == elsewhere
    await services.record_delivery(setup.manager, dear, services.DeliveryText(
        "in_progress", 10, 50))
    building = (await services.winners(BERUNIY, "in_progress")).items
    assert [row["id"] for row in building] == [dear]
    paged = await services.winners(BERUNIY, number=2, per_page=3)
    assert (paged.total, len(paged.items)) == (4, 1)


async def test_the_ledger_holds_no_personal_data(db: str) -> None:
    await voted(phase="implementation")
    entries = [entry async for entry in iterate()]
    assert {entry["kind"] for entry in entries} >= {
        "planning.cycle_created", "planning.proposal_submitted", "planning.proposal_reviewed",
        "planning.phase", "planning.results"}
    text = json.dumps([entry["payload"] for entry in entries])
    for person in await Resident.select(Resident.id, Resident.phone):
        assert person["phone"] not in text
