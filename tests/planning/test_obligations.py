"""A proposal's review and a selected project's delivery are obligations of the district."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ovoz.accountability import clock
from ovoz.accountability import services as accountability
from ovoz.planning import services
from tests.planning.helpers import move_to
from tests.planning.test_results import BUDGET, COSTS, voted
from tests.planning.test_services import ballot_cycle
from tests.reports.helpers import BERUNIY, REGION_OF


async def selected_of(proposal_ids: list[int]) -> list[int]:
    return [pid for pid in proposal_ids
            if (await services.proposal(pid))["status"] == services.SELECTED]


async def obligation_of(kind: str, proposal_id: int) -> dict[str, Any]:
    row = await accountability.obligation(kind, proposal_id)
    assert row is not None
    return row


async def test_submitting_opens_a_review_due_when_voting_starts(db: str) -> None:
    setup = await ballot_cycle((100, 200), phase="proposals")
    first, second = setup.proposals
    proposal = await services.proposal(first)
    row = await obligation_of(accountability.PROPOSAL_REVIEW, first)
    assert (row["body"], row["region"], row["district"], row["mahalla"]) == (
        "district", REGION_OF[BERUNIY], BERUNIY, setup.mahallas[0])
    assert row["due_at"] == proposal["review_due_at"]
    await services.review(setup.manager, first, True, 100)
    reviewed = await obligation_of(accountability.PROPOSAL_REVIEW, first)
    assert reviewed["outcome"] == "answered" and reviewed["resolved_at"] is not None
    # A revised review keeps the time of the first answer.
    await services.review(setup.manager, first, False, reason="Yer maydoni topilmadi.")
    assert await obligation_of(accountability.PROPOSAL_REVIEW, first) == reviewed
    await services.withdraw_proposal(setup.author, second)
    withdrawn = await obligation_of(accountability.PROPOSAL_REVIEW, second)
    assert withdrawn["outcome"] == "withdrawn" and withdrawn["resolved_at"] is None
    assert not accountability.is_overdue(withdrawn, withdrawn["due_at"] + timedelta(days=9))


async def test_a_review_not_done_by_voting_lapses_late(db: str) -> None:
    setup = await ballot_cycle((100,), phase="proposals")
    [proposal_id] = setup.proposals
    await move_to(setup.cycle_id, "voting")
    assert (await services.proposal(proposal_id))["status"] == services.NOT_REVIEWED
    row = await obligation_of(accountability.PROPOSAL_REVIEW, proposal_id)
    assert row["outcome"] == "lapsed" and row["resolved_at"] is None
    assert accountability.is_overdue(row)


async def test_rescheduling_voting_moves_the_reviews_due_date(db: str) -> None:
    setup = await ballot_cycle((100,), phase="proposals")
    [proposal_id] = setup.proposals
    cycle = await services.cycle(setup.cycle_id)
    assert cycle is not None
    days = [cycle[column] for column in services.PHASE_STARTS.values()]
    later = [days[0], *(day + timedelta(days=7) for day in days[1:])]
    await services.reschedule(setup.manager, setup.cycle_id, later)
    voting = services.starts_at(later[2])
    assert (await services.proposal(proposal_id))["review_due_at"] == voting
    assert (await obligation_of(accountability.PROPOSAL_REVIEW, proposal_id))["due_at"] == voting


async def test_selected_projects_owe_their_delivery(db: str) -> None:
    setup = await voted()
    selected = await selected_of(setup.proposals)
    assert selected and sum(COSTS[setup.proposals.index(pid)] for pid in selected) <= BUDGET
    for proposal_id in setup.proposals:
        found = await accountability.obligation(accountability.DELIVERY, proposal_id)
        assert (found is not None) == (proposal_id in selected)
    project = selected[0]
    due_on = (await services.proposal(project))["due_on"]
    row = await obligation_of(accountability.DELIVERY, project)
    assert row["due_at"] == clock.end_of(due_on) and row["first_response_at"] is None
    later = due_on + timedelta(days=30)
    await services.record_delivery(setup.manager, project, services.DeliveryText(
        "in_progress", 40, 10, "Ishlar boshlandi.", due_on=later))
    row = await obligation_of(accountability.DELIVERY, project)
    assert row["first_response_at"] is not None and row["due_at"] == clock.end_of(later)
    await services.record_delivery(setup.manager, project, services.DeliveryText(
        "completed", 100, 50))
    row = await obligation_of(accountability.DELIVERY, project)
    assert row["outcome"] == "answered" and not accountability.is_overdue(row)


async def test_a_cancelled_project_ends_its_obligation(db: str) -> None:
    setup = await voted()
    project = (await selected_of(setup.proposals))[0]
    await services.record_delivery(setup.manager, project, services.DeliveryText(
        "cancelled", 0, 0, "Loyiha boshqa dasturga oʻtkazildi."))
    row = await obligation_of(accountability.DELIVERY, project)
    assert row["outcome"] == "withdrawn" and row["closed_at"] is not None
