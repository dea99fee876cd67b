"""A whole cycle through the services: proposals, review, voting, results, delivery."""

from ovoz import ledger
from ovoz.planning import services
from tests.planning.helpers import (
    cycle_form,
    district_mahallas,
    make_manager,
    make_voter,
    move_to,
    proposal_text,
)
from tests.reports.helpers import load_demo_mahallas


async def test_a_cycle_from_proposals_to_delivery(db: str) -> None:
    await load_demo_mahallas()
    mahalla = (await district_mahallas())[0]
    manager = await make_manager()
    cycle_id = await services.create_cycle(manager, cycle_form())
    await move_to(cycle_id, "proposals")
    author = await make_voter("+998901110001", mahalla)
    costs = [300_000_000, 500_000_000, 400_000_000]
    ids = [await services.submit_proposal(author, cycle_id, proposal_text(
        mahalla, title=f"Project number {n} for the mahalla", estimated_cost=cost))
        for n, cost in enumerate(costs)]
    assert [p["id"] for p in await services.similar(
        cycle_id, "project number for the mahalla")][:3] == ids
    await move_to(cycle_id, "review")
    for proposal_id, cost in zip(ids, costs, strict=True):
        await services.review(manager, proposal_id, True, cost)
    await move_to(cycle_id, "voting")
    voters = [await make_voter(f"+99890222000{n}", mahalla, confirmed=False) for n in range(5)]
    for voter in voters[:3]:
        await services.cast_ballot(voter, cycle_id, [ids[1], ids[2]])
    for voter in voters[3:]:
        await services.cast_ballot(voter, cycle_id, [ids[0]])
    receipt = await services.ballot_of(voters[0], cycle_id)
    assert receipt is not None and receipt.proposal_ids == (ids[1], ids[2])
    await move_to(cycle_id, "results")
    winners = [row["id"] for row in (await services.winners()).items]
    # Greedy: ids[1] and ids[2] have 3 votes each (500 + 400 million fit in a billion); the
    # third no longer fits.
    assert sorted(winners) == sorted([ids[1], ids[2]])
    loser = await services.proposal(ids[0])
    assert loser["result_reason"] == "no_money_left"
    entries = [row async for row in ledger.services.iterate()]
    assert any(row["kind"] == "planning.results" for row in entries)
    await services.record_delivery(manager, ids[1], services.DeliveryText(
        "in_progress", 40, 120_000_000, "Asphalt laid on half the road."))
    assert (await services.proposal(ids[1]))["progress"] == 40


async def test_the_ledger_holds_the_hash_of_the_published_ballots_file(db: str) -> None:
    import hashlib

    await load_demo_mahallas()
    mahalla = (await district_mahallas())[0]
    manager = await make_manager()
    cycle_id = await services.create_cycle(manager, cycle_form(selection_rule="mes"))
    await move_to(cycle_id, "proposals")
    author = await make_voter("+998901110001", mahalla)
    first = await services.submit_proposal(author, cycle_id, proposal_text(mahalla))
    await services.review(manager, first, True, 150_000_000)
    await move_to(cycle_id, "voting")
    await services.cast_ballot(author, cycle_id, [first])
    await move_to(cycle_id, "results")
    exported = await services.export_pb(cycle_id)
    [result] = await services.results(cycle_id)
    assert result["ballots_sha256"] == hashlib.sha256(exported.encode()).hexdigest()
    assert result["selected"] == [first]
