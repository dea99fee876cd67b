"""The demo cycles of `ovoz seed --demo`: one voting now, one being built, added once."""

from __future__ import annotations

from ovoz.accounts.tables import Resident, StaffAccount
from ovoz.ledger.services import verify
from ovoz.planning import services
from ovoz.planning.demo import MARK, seed_demo
from ovoz.planning.tables import Ballot, Cycle, DeliveryUpdate, Proposal
from tests.reports.helpers import BERUNIY, load_demo_mahallas


async def counts() -> tuple[int, ...]:
    return (await Cycle.count(), await Proposal.count(), await Ballot.count(),
            await DeliveryUpdate.count(), await Resident.count(), await StaffAccount.count())


async def test_the_demo_cycles_of_the_first_pilot_district(db: str) -> None:
    await load_demo_mahallas()
    await seed_demo()
    cycles = (await services.cycles([BERUNIY])).items
    assert len(cycles) == 2 and all(row["title"].startswith(MARK) for row in cycles)
    voting, earlier = cycles
    assert services.phase_of(voting) == "voting"
    assert (voting["ballot_rule"], voting["max_choices"], voting["selection_rule"]) == (
        "approval", 3, "mes")
    on_ballot = await services.ballot_proposals(voting["id"])
    assert len(on_ballot) == 8 and {row["status"] for row in on_ballot} == {"on_ballot"}
    assert {row["category"] for row in on_ballot} >= {"roads", "water", "lighting",
                                                      "education", "sport"}
    assert all(row["description"].startswith(MARK) for row in on_ballot)
    assert all(row["reviewed_cost"] for row in on_ballot)
    assert 0 < await services.turnout(voting["id"]) < 20
    assert await services.results(voting["id"]) == []

    assert services.phase_of(earlier) == "implementation"
    assert earlier["proposals_from"] < voting["proposals_from"]
    [result] = await services.results(earlier["id"])
    assert len(result["selected"]) >= 2 and result["voters"] > 0
    delivered = {row["id"]: row for row in (await services.winners(BERUNIY)).items}
    assert set(delivered) == set(result["selected"])
    with_updates = [proposal_id for proposal_id in result["selected"]
                    if await services.timeline(proposal_id)]
    assert len(with_updates) == 2
    assert {delivered[p]["delivery_status"] for p in with_updates} == {"in_progress",
                                                                      "completed"}
    completed = next(p for p in with_updates if delivered[p]["delivery_status"] == "completed")
    assert delivered[completed]["progress"] == 100

    residents = await Resident.select(Resident.display_name, Resident.phone)
    assert residents and all(row["display_name"].endswith("(demo)") for row in residents)
    assert all(row["phone"] is None for row in residents)
    assert (await verify()).intact


async def test_seeding_again_adds_nothing(db: str) -> None:
    await load_demo_mahallas()
    await seed_demo()
    before = await counts()
    await seed_demo()
    assert await counts() == before


async def test_nothing_is_seeded_without_the_districts_mahallas(db: str) -> None:
    await seed_demo()
    assert await Cycle.count() == 0 and await Resident.count() == 0
