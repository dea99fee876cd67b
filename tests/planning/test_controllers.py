"""The residents' pages of participatory budgeting: cycles, proposing with similar proposals
suggested first, the ballot without JavaScript, results with explanations and the ballots
file, and the selected projects being built."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from ovoz.accounts import sessions
from ovoz.accounts.tables import StaffAccount
from ovoz.i18n import locale
from ovoz.notify import services as notify
from ovoz.planning import pabulib, services
from ovoz.planning.tables import Ballot, Cycle, Proposal
from tests.planning.helpers import (
    cycle_form,
    district_mahallas,
    make_manager,
    make_voter,
    move_to,
    proposal_text,
    today,
)
from tests.reports.helpers import BERUNIY, BERUNIY_POINT, CHORTOQ, jpeg, load_demo_mahallas

PHONE = "+998901230001"
ROAD, WATER, LIGHTS = (
    "Repair the road to the school", "New water pipes on Navoiy street",
    "Street lights along the canal path")


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    """The assertions read the English pages, as a reader who chose English would see them."""
    client.cookies.set("lang", "en")


@pytest.fixture
async def mahallas(client: httpx.AsyncClient) -> list[int]:
    await load_demo_mahallas()
    return await district_mahallas()


async def sign_in(client: httpx.AsyncClient, resident_id: int) -> int:
    token = await sessions.start(sessions.RESIDENT, resident_id, 0)
    client.cookies.set(sessions.COOKIE, token)
    # A first page gives the CSRF cookie that forms send back.
    await client.get("/cycles")
    return resident_id


def csrf(client: httpx.AsyncClient) -> str:
    return client.cookies["csrftoken"]


async def new_cycle(phase: str, **changes: Any) -> int:
    cycle_id = await services.create_cycle(await make_manager(), cycle_form(**changes))
    await move_to(cycle_id, phase)
    return cycle_id


async def voting_cycle(mahalla: int, costs: tuple[int, ...] = (300_000_000, 500_000_000,
                                                               400_000_000),
                       **changes: Any) -> tuple[int, list[int]]:
    """A cycle in its voting phase with one reviewed proposal per cost, all on the ballot."""
    cycle_id = await new_cycle("proposals", **changes)
    author = await make_voter("+998901119999", mahalla)
    titles = (ROAD, WATER, LIGHTS)
    ids = [await services.submit_proposal(author, cycle_id, proposal_text(
        mahalla, title=titles[n], estimated_cost=cost)) for n, cost in enumerate(costs)]
    await move_to(cycle_id, "review")
    manager = await make_manager("reviewer")
    for proposal_id, cost in zip(ids, costs, strict=True):
        await services.review(manager, proposal_id, True, cost)
    await move_to(cycle_id, "voting")
    return cycle_id, ids


async def counted_cycle(mahalla: int) -> tuple[int, list[int]]:
    """Voting done and results published: WATER and LIGHTS win, ROAD no longer fits."""
    cycle_id, ids = await voting_cycle(mahalla)
    voters = [await make_voter(f"+99890222000{n}", mahalla, confirmed=False) for n in range(5)]
    for voter in voters[:3]:
        await services.cast_ballot(voter, cycle_id, [ids[1], ids[2]])
    for voter in voters[3:]:
        await services.cast_ballot(voter, cycle_id, [ids[0]])
    await move_to(cycle_id, "results")
    return cycle_id, ids


def ticked(page: str) -> set[int]:
    return {int(found) for found in re.findall(
        r'name="proposal_ids" value="(\d+)" data-cost="\d+" checked', page)}


async def post_proposal(client: httpx.AsyncClient, cycle_id: int, mahalla: int,
                        files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
                        **fields: str) -> httpx.Response:
    data = {"title": ROAD, "category": "roads", "mahalla_id": str(mahalla),
            "description": "The road to school No. 12 is broken; children walk in the mud.",
            "estimated_cost": "200 000 000", "lat": "", "lon": "", "_csrf_token": csrf(client),
            **fields}
    return await client.post(f"/cycles/{cycle_id}/propose", data=data, files=files or [])


# -- the pages anyone can read ----------------------------------------------------------------

async def test_every_public_page_renders_for_anyone(client: httpx.AsyncClient,
                                                    mahallas: list[int]) -> None:
    cycle_id, ids = await counted_cycle(mahallas[0])
    listing = await client.get("/cycles")
    assert listing.status_code == 200
    assert "Beruniy initiative budget 2027" in listing.text
    assert "1,000,000,000 soums" in listing.text and ">Results<" in listing.text
    page = await client.get(f"/cycles/{cycle_id}")
    assert page.status_code == 200
    assert 'aria-current="step"' in page.text
    assert "Most votes first, while the money lasts" in page.text
    assert "Choose up to 3 projects." in page.text
    assert "5 residents have voted." in page.text and "See the results" in page.text
    proposal = await client.get(f"/proposals/{ids[1]}")
    assert proposal.status_code == 200 and WATER in proposal.text
    assert (await client.get(f"/cycles/{cycle_id}/results")).status_code == 200
    assert (await client.get("/projects")).status_code == 200
    assert (await client.get("/cycles/999999")).status_code == 404
    assert (await client.get("/proposals/999999")).status_code == 404
    for path in (f"/cycles/{cycle_id}/propose", f"/cycles/{cycle_id}/ballot"):
        form = await client.get(path)
        assert form.status_code == 302 and form.headers["location"] == f"/signin?next={path}"
    nav = await client.get("/")
    assert 'href="/cycles"' in nav.text


async def test_officials_of_the_district_find_the_way_to_manage_it(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    cycle_id = await new_cycle("proposals")
    assert "Manage this cycle" not in (await client.get(f"/cycles/{cycle_id}")).text
    for username, district in (("elsewhere", CHORTOQ), ("beruniy", BERUNIY)):
        staff = await make_manager(username, district)
        account = await StaffAccount.select(StaffAccount.session_epoch).where(
            StaffAccount.id == staff.id).first()
        client.cookies.set(sessions.COOKIE, await sessions.start(
            sessions.STAFF, staff.id, account["session_epoch"], sessions.STAFF_FULL))
        page = await client.get(f"/cycles/{cycle_id}")
        assert (f'href="/staff/cycles/{cycle_id}"' in page.text) is (district == BERUNIY)
        # Staff do not propose: there is no sign-in button for residents here.
        assert "Sign in to propose a project" not in page.text


async def test_the_cycles_list_is_filtered_by_district(client: httpx.AsyncClient,
                                                       mahallas: list[int]) -> None:
    await new_cycle("proposals")
    other = await services.create_cycle(
        await make_manager("chortoq", CHORTOQ),
        cycle_form(CHORTOQ, title="Chortoq initiative budget 2027"))
    everything = await client.get("/cycles?district=")
    assert everything.status_code == 200
    assert "Beruniy initiative" in everything.text and "Chortoq initiative" in everything.text
    chortoq = await client.get(f"/cycles?district={CHORTOQ}")
    assert f"/cycles/{other}" in chortoq.text and "Beruniy initiative" not in chortoq.text
    region = await client.get(f"/cycles?district={CHORTOQ}",
                              headers={"HX-Request": "true", "HX-Target": "cycles"})
    assert region.text.lstrip().startswith('<div id="cycles"') and "<html" not in region.text


async def test_the_cycle_page_shows_sub_budgets_and_the_equal_shares_rule(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    cycle_id = await new_cycle(
        "upcoming", ballot_rule=services.KNAPSACK, max_choices=None,
        selection_rule=services.EQUAL_SHARES, completion="add1",
        mahalla_budgets={mahallas[0]: 300_000_000, mahallas[1]: 200_000_000})
    page = await client.get(f"/cycles/{cycle_id}")
    assert page.status_code == 200
    assert "500,000,000 soums" in page.text and "300,000,000 soums" in page.text
    assert "The budget is shared between mahallas." in page.text
    assert "Method of Equal Shares" in page.text
    assert "Choose any projects whose costs add up to no more than the budget." in page.text
    assert "every voter’s share is raised step by step" in page.text
    assert "Proposals can be sent from" in page.text


# -- proposing --------------------------------------------------------------------------------

async def test_a_similar_proposal_is_suggested_before_sending_without_javascript(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    cycle_id = await new_cycle("proposals")
    earlier = await services.submit_proposal(
        await make_voter("+998901110001", mahallas[0]), cycle_id, proposal_text(mahallas[0]))
    await sign_in(client, await make_voter(PHONE, mahallas[0]))
    form = await client.get(f"/cycles/{cycle_id}/propose")
    assert form.status_code == 200
    assert f'<option value="{mahallas[0]}" selected' in form.text
    assert 'id="location-picker"' in form.text
    first = await post_proposal(client, cycle_id, mahallas[0],
                                files=[("photos", ("road.jpg", jpeg(), "image/jpeg"))])
    assert first.status_code == 200
    assert "Is it one of these?" in first.text and f'href="/proposals/{earlier}"' in first.text
    assert 'name="different"' in first.text and "My proposal is different" in first.text
    assert 'value="200 000 000"' in first.text and ROAD in first.text
    kept = re.search(r'name="kept_photo" value="([0-9a-f]{32})"', first.text)
    assert kept is not None
    assert await Proposal.count() == 1
    unticked = await post_proposal(client, cycle_id, mahallas[0], kept_photo=kept[1],
                                   similar_shown="1")
    assert unticked.status_code == 400 and 'href="#different"' in unticked.text
    assert await Proposal.count() == 1
    sent = await post_proposal(client, cycle_id, mahallas[0], kept_photo=kept[1],
                               similar_shown="1", different="1")
    assert sent.status_code == 302
    proposal_id = int(re.fullmatch(r"/proposals/(\d+)\?sent=1", sent.headers["location"])[1])
    row = await services.proposal(proposal_id)
    assert row is not None and row["estimated_cost"] == 200_000_000
    assert [p["name"] for p in await services.photos(proposal_id)] == [kept[1]]
    page = await client.get(sent.headers["location"])
    assert "Thank you, your proposal is sent" in page.text
    assert f"/reports/photos/{kept[1]}.thumb.jpg" in page.text


async def test_a_new_idea_is_sent_at_once_with_its_point(client: httpx.AsyncClient,
                                                         mahallas: list[int]) -> None:
    cycle_id = await new_cycle("proposals")
    await sign_in(client, await make_voter(PHONE, mahallas[0]))
    sent = await post_proposal(client, cycle_id, mahallas[0], title=LIGHTS,
                               description="Forty lamps on the dark path where people walk.",
                               category="lighting", lat=str(BERUNIY_POINT[0]),
                               lon=str(BERUNIY_POINT[1]))
    assert sent.status_code == 302
    proposal_id = int(sent.headers["location"].split("/")[2].split("?")[0])
    page = await client.get(f"/proposals/{proposal_id}")
    assert f'href="geo:{BERUNIY_POINT[0]},{BERUNIY_POINT[1]}"' in page.text
    point = await client.get(f"/proposals/{proposal_id}/point.geojson")
    assert point.status_code == 200
    feature = point.json()["features"][0]
    assert feature["geometry"]["coordinates"] == [BERUNIY_POINT[1], BERUNIY_POINT[0]]
    assert feature["properties"]["url"] == f"/proposals/{proposal_id}"


async def test_the_similar_list_comes_as_a_partial_while_typing(client: httpx.AsyncClient,
                                                               mahallas: list[int]) -> None:
    cycle_id = await new_cycle("proposals")
    earlier = await services.submit_proposal(
        await make_voter("+998901110001", mahallas[0]), cycle_id, proposal_text(mahallas[0]))
    found = await client.get(f"/cycles/{cycle_id}/similar",
                             params={"title": "road repair near the school"})
    assert found.status_code == 200 and "<html" not in found.text
    assert f'href="/proposals/{earlier}"' in found.text and 'name="different"' in found.text
    assert 'value="1" checked' not in found.text
    ticked_box = await client.get(f"/cycles/{cycle_id}/similar",
                                  params={"title": "road repair near the school", "different": "1"})
    assert 'name="different" value="1" checked' in ticked_box.text
    nothing = await client.get(f"/cycles/{cycle_id}/similar", params={"title": "Lamps"})
    assert nothing.status_code == 200 and "proposals/" not in nothing.text


async def test_bad_input_is_explained_beside_each_field_and_kept(client: httpx.AsyncClient,
                                                                mahallas: list[int]) -> None:
    cycle_id = await new_cycle("proposals")
    await sign_in(client, await make_voter(PHONE, mahallas[0]))
    refused = await post_proposal(client, cycle_id, mahallas[0], title="Road",
                                  category="", estimated_cost="a lot", lat="41.7", lon="east")
    assert refused.status_code == 400
    for field in ("title", "category", "estimated_cost", "lat"):
        assert f'href="#{field}"' in refused.text
    assert "Write the estimated cost in whole soums" in refused.text
    assert 'value="a lot"' in refused.text and "children walk in the mud" in refused.text
    too_dear = await post_proposal(client, cycle_id, mahallas[0], estimated_cost="2000000000")
    assert too_dear.status_code == 400 and "at most 1,000,000,000" in too_dear.text
    outside = await post_proposal(client, cycle_id, mahallas[0], lat="41.3111", lon="69.2797")
    assert outside.status_code == 400 and "must be inside the district" in outside.text
    assert await Proposal.count() == 0


async def test_who_may_not_propose_is_told_why(client: httpx.AsyncClient,
                                               mahallas: list[int]) -> None:
    cycle_id = await new_cycle("proposals")
    await sign_in(client, await make_voter(PHONE, mahallas[0], confirmed=False))
    unconfirmed = await client.get(f"/cycles/{cycle_id}/propose")
    assert "Only residents whose residence is confirmed" in unconfirmed.text
    assert 'name="title"' not in unconfirmed.text
    refused = await post_proposal(client, cycle_id, mahallas[0])
    assert refused.status_code == 403 and await Proposal.count() == 0
    page = await client.get(f"/cycles/{cycle_id}")
    assert "Only residents whose residence is confirmed" in page.text

    await load_chortoq_resident(client)
    outside = await client.get(f"/cycles/{cycle_id}/propose")
    assert "This cycle is for residents of Beruni district." in outside.text

    await sign_in(client, await make_voter("+998901230003", mahallas[0]))
    await move_to(cycle_id, "review")
    late = await client.get(f"/cycles/{cycle_id}/propose")
    assert "Proposals were accepted until the end of" in late.text
    assert (await post_proposal(client, cycle_id, mahallas[0])).status_code == 409


async def load_chortoq_resident(client: httpx.AsyncClient) -> None:
    from ovoz.geo.tables import Mahalla

    home = await Mahalla.select(Mahalla.id).where(Mahalla.district == CHORTOQ).first()
    await sign_in(client, await make_voter("+998901230002", home["id"]))


async def test_the_author_withdraws_while_proposals_are_open(client: httpx.AsyncClient,
                                                            mahallas: list[int]) -> None:
    cycle_id = await new_cycle("proposals")
    author = await sign_in(client, await make_voter(PHONE, mahallas[0]))
    proposal_id = await services.submit_proposal(author, cycle_id, proposal_text(mahallas[0]))
    page = await client.get(f"/proposals/{proposal_id}")
    assert "Withdraw my proposal" in page.text
    done = await client.post(f"/proposals/{proposal_id}/withdraw",
                             data={"_csrf_token": csrf(client)})
    assert done.status_code == 302
    assert (await services.proposal(proposal_id))["status"] == services.WITHDRAWN
    assert "Your proposal has been withdrawn." in (await client.get(done.headers["location"])).text
    client.cookies.delete(sessions.COOKIE)
    assert (await client.get(f"/proposals/{proposal_id}")).status_code == 404


# -- voting -----------------------------------------------------------------------------------

async def test_a_ballot_is_recorded_at_once_and_shown_as_recorded(client: httpx.AsyncClient,
                                                                 mahallas: list[int]) -> None:
    cycle_id, ids = await voting_cycle(mahallas[0])
    voter = await sign_in(client, await make_voter(PHONE, mahallas[0], confirmed=False))
    form = await client.get(f"/cycles/{cycle_id}/ballot")
    assert form.status_code == 200 and ticked(form.text) == set()
    assert "Choose up to 3 projects" in form.text and "static/js/ballot.js" in form.text
    cast = await client.post(f"/cycles/{cycle_id}/ballot", data={
        "proposal_ids": [str(ids[0]), str(ids[2])], "_csrf_token": csrf(client)})
    assert cast.status_code == 302
    receipt = await services.ballot_of(voter, cycle_id)
    assert receipt is not None and receipt.proposal_ids == (ids[0], ids[2])
    shown = await client.get(cast.headers["location"])
    assert "Your vote is recorded" in shown.text
    assert ROAD in shown.text and LIGHTS in shown.text and WATER not in shown.text
    assert "300,000,000 soums" in shown.text and "In all: 700,000,000 soums" in shown.text
    assert receipt.receipt in shown.text
    last_day = locale.format_date(today() + timedelta(days=3), "en")
    assert f"You can change it until voting closes at the end of {last_day}" in shown.text
    again = await client.get(f"/cycles/{cycle_id}/ballot")
    assert ticked(again.text) == {ids[0], ids[2]} and "What is recorded" in again.text

    changed = await client.post(f"/cycles/{cycle_id}/ballot", data={
        "proposal_ids": str(ids[1]), "_csrf_token": csrf(client)})
    assert changed.status_code == 302
    receipt = await services.ballot_of(voter, cycle_id)
    assert receipt is not None and receipt.proposal_ids == (ids[1],) and receipt.changes == 1
    assert await Ballot.count() == 1
    shown = await client.get(changed.headers["location"])
    assert WATER in shown.text and ROAD not in shown.text


async def test_an_over_budget_knapsack_ballot_is_refused_with_the_ticks_kept(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    cycle_id, ids = await voting_cycle(mahallas[0], (600_000_000, 500_000_000, 100_000_000),
                                       ballot_rule=services.KNAPSACK, max_choices=None)
    voter = await sign_in(client, await make_voter(PHONE, mahallas[0]))
    form = await client.get(f"/cycles/{cycle_id}/ballot")
    assert "Choose projects that cost no more than 1,000,000,000 soums in all" in form.text
    refused = await client.post(f"/cycles/{cycle_id}/ballot", data={
        "proposal_ids": [str(ids[0]), str(ids[1])], "_csrf_token": csrf(client)})
    assert refused.status_code == 400
    assert ("The projects you chose cost 1,100,000,000 soums together, more than the "
            "1,000,000,000 soums there are.") in refused.text
    assert 'href="#proposal_ids"' in refused.text
    assert ticked(refused.text) == {ids[0], ids[1]}
    assert await services.ballot_of(voter, cycle_id) is None
    fits = await client.post(f"/cycles/{cycle_id}/ballot", data={
        "proposal_ids": [str(ids[0]), str(ids[2])], "_csrf_token": csrf(client)})
    assert fits.status_code == 302


async def test_ballot_mistakes_are_explained(client: httpx.AsyncClient,
                                             mahallas: list[int]) -> None:
    cycle_id, ids = await voting_cycle(mahallas[0], max_choices=1)
    await sign_in(client, await make_voter(PHONE, mahallas[0]))
    too_many = await client.post(f"/cycles/{cycle_id}/ballot", data={
        "proposal_ids": [str(ids[0]), str(ids[1])], "_csrf_token": csrf(client)})
    assert too_many.status_code == 400 and "Choose at most 1 project." in too_many.text
    empty = await client.post(f"/cycles/{cycle_id}/ballot",
                              data={"_csrf_token": csrf(client)})
    assert empty.status_code == 400 and "Choose at least one project." in empty.text
    forged = await client.post(f"/cycles/{cycle_id}/ballot", data={
        "proposal_ids": "x1", "_csrf_token": csrf(client)})
    assert forged.status_code == 400 and "is not on your ballot" in forged.text
    assert await Ballot.count() == 0


async def test_who_may_not_vote_is_told_why(client: httpx.AsyncClient,
                                           mahallas: list[int]) -> None:
    cycle_id, ids = await voting_cycle(mahallas[0])
    await load_chortoq_resident(client)
    page = await client.get(f"/cycles/{cycle_id}")
    assert "This cycle is for residents of Beruni district." in page.text
    form = await client.get(f"/cycles/{cycle_id}/ballot")
    assert "This cycle is for residents of Beruni district." in form.text
    assert 'name="proposal_ids"' not in form.text
    refused = await client.post(f"/cycles/{cycle_id}/ballot", data={
        "proposal_ids": str(ids[0]), "_csrf_token": csrf(client)})
    assert refused.status_code == 403 and "Beruni district" in refused.text
    assert await Ballot.count() == 0


async def test_voting_outside_its_phase_is_refused_in_words(client: httpx.AsyncClient,
                                                            mahallas: list[int]) -> None:
    cycle_id = await new_cycle("review")
    await sign_in(client, await make_voter(PHONE, mahallas[0]))
    early = await client.get(f"/cycles/{cycle_id}/ballot")
    assert early.status_code == 200 and "Voting starts on" in early.text
    assert 'name="proposal_ids"' not in early.text
    refused = await client.post(f"/cycles/{cycle_id}/ballot", data={
        "proposal_ids": "1", "_csrf_token": csrf(client)})
    assert refused.status_code == 409 and "Voting starts on" in refused.text
    await move_to(cycle_id, "results")
    late = await client.get(f"/cycles/{cycle_id}/ballot")
    assert "Voting closed at the end of" in late.text


async def test_a_voter_sees_only_their_mahallas_projects_with_sub_budgets(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    cycle_id = await new_cycle("proposals", mahalla_budgets={
        mahallas[0]: 600_000_000, mahallas[1]: 400_000_000})
    author = await make_voter("+998901119999", mahallas[0])
    mine = await services.submit_proposal(author, cycle_id, proposal_text(mahallas[0]))
    theirs = await services.submit_proposal(author, cycle_id, proposal_text(
        mahallas[1], title=WATER, estimated_cost=100_000_000))
    await move_to(cycle_id, "review")
    manager = await make_manager("reviewer")
    await services.review(manager, mine, True, 200_000_000)
    await services.review(manager, theirs, True, 100_000_000)
    await move_to(cycle_id, "voting")
    await sign_in(client, await make_voter(PHONE, mahallas[0]))
    form = await client.get(f"/cycles/{cycle_id}/ballot")
    assert f'value="{mine}"' in form.text and f'value="{theirs}"' not in form.text
    assert "which has its own share of the budget: 600,000,000 soums" in form.text


async def test_running_totals_show_only_when_the_cycle_allows(client: httpx.AsyncClient,
                                                              mahallas: list[int]) -> None:
    cycle_id, ids = await voting_cycle(mahallas[0])
    await services.cast_ballot(await make_voter(PHONE, mahallas[0]), cycle_id, [ids[0]])
    hidden = await client.get(f"/cycles/{cycle_id}")
    assert "1 vote" not in hidden.text and "has voted" not in hidden.text
    await Cycle.update({Cycle.show_running_totals: True}).where(Cycle.id == cycle_id)
    shown = await client.get(f"/cycles/{cycle_id}")
    assert "1 vote" in shown.text and "1 resident has voted." in shown.text


# -- results ----------------------------------------------------------------------------------

async def test_results_explain_each_project_and_offer_the_ballots_file(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    cycle_id, ids = await counted_cycle(mahallas[0])
    page = await client.get(f"/cycles/{cycle_id}/results")
    assert page.status_code == 200
    assert "Selected: with 3 votes it came in its turn" in page.text
    assert "Not selected: when its turn came (2 votes), only 100,000,000 soums were left" \
        in page.text
    assert "Spent on selected projects" in page.text and "900,000,000 soums" in page.text
    result = (await services.results(cycle_id))[0]
    assert result["ballots_sha256"] in page.text
    assert f'href="/cycles/{cycle_id}/ballots.pb"' in page.text
    download = await client.get(f"/cycles/{cycle_id}/ballots.pb")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/plain")
    assert download.headers["content-disposition"].startswith("attachment;")
    # The file anyone downloads is the one whose hash the results (and the ledger) carry.
    assert hashlib.sha256(download.content).hexdigest() == result["ballots_sha256"]
    pb = pabulib.parse(download.text)
    assert sorted(p["project_id"] for p in pb.projects) == sorted(str(i) for i in ids)
    assert len(pb.votes) == 5 and pb.meta["budget"] == "1000000000"
    loser = await client.get(f"/proposals/{ids[0]}")
    assert "The result of the vote" in loser.text and "2 votes" in loser.text
    assert "only 100,000,000 soums were left" in loser.text


async def test_results_and_the_file_wait_for_the_close_of_voting(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    cycle_id, _ = await voting_cycle(mahallas[0])
    page = await client.get(f"/cycles/{cycle_id}/results")
    assert page.status_code == 200
    assert "The results are counted and published when voting closes" in page.text
    assert (await client.get(f"/cycles/{cycle_id}/ballots.pb")).status_code == 404


async def test_the_ballots_file_of_a_sub_budget_is_chosen_by_mahalla(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    cycle_id = await new_cycle("proposals", mahalla_budgets={
        mahallas[0]: 600_000_000, mahallas[1]: 400_000_000})
    author = await make_voter("+998901119999", mahallas[0])
    proposal_id = await services.submit_proposal(author, cycle_id, proposal_text(mahallas[0]))
    await move_to(cycle_id, "review")
    await services.review(await make_manager("reviewer"), proposal_id, True, 200_000_000)
    await move_to(cycle_id, "voting")
    await services.cast_ballot(author, cycle_id, [proposal_id])
    await move_to(cycle_id, "results")
    page = await client.get(f"/cycles/{cycle_id}/results")
    assert f"/cycles/{cycle_id}/ballots.pb?mahalla={mahallas[0]}" in page.text
    assert f"/cycles/{cycle_id}/ballots.pb?mahalla={mahallas[1]}" in page.text
    whole = await client.get(f"/cycles/{cycle_id}/ballots.pb")
    assert whole.status_code == 302
    one = await client.get(f"/cycles/{cycle_id}/ballots.pb?mahalla={mahallas[0]}")
    assert one.status_code == 200 and len(pabulib.parse(one.text).votes) == 1


# -- delivery ---------------------------------------------------------------------------------

async def test_a_selected_project_shows_its_delivery_and_takes_comments(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    _, ids = await counted_cycle(mahallas[0])
    manager = await make_manager("builder")
    await services.record_delivery(manager, ids[1], services.DeliveryText(
        "in_progress", 40, 120_000_000, "Pipes laid on half the street."))
    resident = await sign_in(client, await make_voter(PHONE, mahallas[0]))
    page = await client.get(f"/proposals/{ids[1]}")
    assert "Being built" in page.text and "40% done" in page.text
    assert "120,000,000 soums of 500,000,000 soums" in page.text
    assert "Pipes laid on half the street." in page.text
    short = await client.post(f"/proposals/{ids[1]}/comments",
                              data={"text": "ok", "_csrf_token": csrf(client)})
    assert short.status_code == 400 and 'href="#text"' in short.text
    assert ">ok</textarea>" in short.text
    said = await client.post(f"/proposals/{ids[1]}/comments", data={
        "text": "The workers left a trench open by the school.", "_csrf_token": csrf(client)})
    assert said.status_code == 302
    page = await client.get(f"/proposals/{ids[1]}")
    assert "The workers left a trench open by the school." in page.text
    # Commenting follows the project; the button stops that.
    assert services.proposal_subject(ids[1]) in await notify.follows_of(resident)
    stop = await client.post(f"/proposals/{ids[1]}/follow",
                             data={"follow": "no", "_csrf_token": csrf(client)})
    assert stop.status_code == 302
    assert services.proposal_subject(ids[1]) not in await notify.follows_of(resident)


async def test_the_projects_list_and_map_follow_delivery(client: httpx.AsyncClient,
                                                         mahallas: list[int]) -> None:
    _, ids = await counted_cycle(mahallas[0])
    await Proposal.update({Proposal.lat: BERUNIY_POINT[0], Proposal.lon: BERUNIY_POINT[1],
                           Proposal.due_on: today() - timedelta(days=3)}
                          ).where(Proposal.id == ids[2])
    await services.record_delivery(await make_manager("builder"), ids[1], services.DeliveryText(
        "completed", 100, 480_000_000, "Done."))
    listing = await client.get("/projects")
    assert listing.status_code == 200 and 'id="report-map"' in listing.text
    assert WATER in listing.text and LIGHTS in listing.text and ROAD not in listing.text
    assert "Completed" in listing.text and "100% done" in listing.text
    assert "Overdue" in listing.text
    completed = await client.get("/projects?status=completed&district=")
    assert WATER in completed.text and LIGHTS not in completed.text
    assert "Overdue" not in completed.text
    region = await client.get("/projects?status=planned",
                              headers={"HX-Request": "true", "HX-Target": "projects"})
    assert region.text.lstrip().startswith('<div id="projects"') and LIGHTS in region.text
    points = (await client.get("/projects.geojson")).json()
    assert [f["properties"]["id"] for f in points["features"]] == [ids[2]]
    assert points["features"][0]["properties"]["status_label"] == "Planned"


async def test_following_a_cycle(client: httpx.AsyncClient, mahallas: list[int]) -> None:
    cycle_id = await new_cycle("upcoming")
    resident = await sign_in(client, await make_voter(PHONE, mahallas[0]))
    follow = await client.post(f"/cycles/{cycle_id}/follow",
                               data={"_csrf_token": csrf(client)})
    assert follow.status_code == 302
    assert services.cycle_subject(cycle_id) in await notify.follows_of(resident)
    assert "You follow this cycle" in (await client.get(f"/cycles/{cycle_id}")).text
    await client.post(f"/cycles/{cycle_id}/follow",
                      data={"follow": "no", "_csrf_token": csrf(client)})
    assert await notify.follows_of(resident) == []
