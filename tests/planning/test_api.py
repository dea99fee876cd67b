"""/api/v1/cycles, /api/v1/proposals: cycles, proposals and results to read, and a resident's
own ballot to read, cast and change, with every refusal's status."""

from __future__ import annotations

import httpx

from ovoz.accounts import services as accounts
from ovoz.accounts import sessions
from ovoz.accounts.tables import Resident
from ovoz.planning import services
from ovoz.planning.tables import Ballot, BallotChoice, Cycle
from tests.planning.helpers import cycle_form, district_mahallas, make_voter, move_to
from tests.planning.test_services import ballot_cycle, phone, voters
from tests.reports.helpers import BERUNIY, CHORTOQ, make_resident, photo

ENGLISH = {"Accept-Language": "en"}
CYCLE_KEYS = {
    "id", "title", "description", "district_id", "phase", "phase_label", "phases", "budget",
    "ballot_rule", "ballot_rule_label", "max_choices", "selection_rule", "selection_rule_label",
    "satisfaction", "completion", "show_running_totals", "totals_visible", "imported", "url",
}
PROPOSAL_KEYS = {
    "id", "cycle_id", "title", "description", "category", "category_label", "mahalla_id", "lat",
    "lon", "estimated_cost", "reviewed_cost", "status", "status_label", "review_reason",
    "merged_into", "author", "created_at", "votes", "url",
}
BALLOT_KEYS = {"cycle_id", "proposal_ids", "total_cost", "receipt", "changed_at", "changes"}


async def bearer(resident_id: int) -> dict[str, str]:
    token, _ = await accounts.issue_api_token(resident_id, label="test")
    return {"Authorization": f"Bearer {token}"}


async def voter_with_token(number: int, mahalla_id: int) -> tuple[int, dict[str, str]]:
    [resident_id] = await voters(1, mahalla_id, first=number)
    return resident_id, await bearer(resident_id)


def refusal(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.json()["detail"]


# -- reading ----------------------------------------------------------------------------------

async def test_the_list_of_cycles_filters_and_pages(client: httpx.AsyncClient) -> None:
    setup = await ballot_cycle(phase="voting")
    later = await services.create_cycle(setup.manager, cycle_form(title="Beruniy budget 2028"))
    response = await client.get("/api/v1/cycles", headers=ENGLISH)
    assert response.status_code == 200
    body = response.json()
    # Newest first: the later cycle takes proposals after the one voting now.
    assert [item["id"] for item in body["items"]] == [later, setup.cycle_id]
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (1, 20, 2, 1)
    voting = body["items"][1]
    assert set(voting) == CYCLE_KEYS
    assert (voting["phase"], voting["phase_label"]) == ("voting", "Voting")
    assert (voting["budget"], voting["ballot_rule"], voting["max_choices"]) == (
        1_000_000_000, "approval", 3)
    assert voting["ballot_rule_label"] == "Choose up to a set number of projects"
    assert voting["selection_rule_label"] == "Most votes first, while the money lasts"
    assert voting["district_id"] == BERUNIY and voting["url"].endswith(
        f"/cycles/{setup.cycle_id}")
    assert [phase["phase"] for phase in voting["phases"]] == [
        "proposals", "review", "voting", "results", "implementation"]
    row = await services.cycle(setup.cycle_id)
    assert voting["phases"][2]["starts_on"] == row["voting_from"].isoformat()
    assert voting["phases"][2]["ends_at"] == voting["phases"][3]["starts_at"]
    assert voting["phases"][4]["ends_at"] is None

    paged = (await client.get("/api/v1/cycles?per_page=1&page=2")).json()
    assert [item["id"] for item in paged["items"]] == [setup.cycle_id]
    assert (paged["page"], paged["total"], paged["pages"]) == (2, 2, 2)
    assert (await client.get(f"/api/v1/cycles?district_id={BERUNIY}")).json()["total"] == 2
    assert (await client.get(f"/api/v1/cycles?district_id={CHORTOQ}")).json()["items"] == []
    refusal(await client.get("/api/v1/cycles?district_id=99999"), 404, "not_found")
    for query in ("district_id=abc", "district_id=0", "page=0", "per_page=500"):
        refusal(await client.get(f"/api/v1/cycles?{query}"), 400, "bad_request")


async def test_one_cycle_with_its_mahalla_budgets(client: httpx.AsyncClient) -> None:
    setup = await ballot_cycle((300, 200), where=(0, 1), mahalla_budgets={0: 500, 1: 400},
                               show_running_totals=True)
    [voter] = await voters(1, setup.mahallas[0])
    await services.cast_ballot(voter, setup.cycle_id, setup.proposals[:1])
    response = await client.get(f"/api/v1/cycles/{setup.cycle_id}", headers=ENGLISH)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == CYCLE_KEYS | {"mahalla_budgets", "ballots"}
    assert body["mahalla_budgets"] == [
        {"mahalla_id": setup.mahallas[0], "amount": 500},
        {"mahalla_id": setup.mahallas[1], "amount": 400}]
    assert (body["budget"], body["ballots"], body["totals_visible"]) == (900, 1, True)
    for path in ("/api/v1/cycles/99999", f"/api/v1/cycles/{2**40}"):
        refusal(await client.get(path), 404, "not_found")


async def test_the_proposals_of_a_cycle(client: httpx.AsyncClient) -> None:
    setup = await ballot_cycle((300, 200, 100), where=(0, 1, 0), phase="proposals")
    await Resident.update({Resident.display_name: "Aziza Karimova"}).where(
        Resident.id == setup.author)
    first, second, third = setup.proposals
    await services.withdraw_proposal(setup.author, third)
    await services.review(setup.manager, second, False, reason="The land is not public.")
    response = await client.get(f"/api/v1/cycles/{setup.cycle_id}/proposals", headers=ENGLISH)
    assert response.status_code == 200
    body = response.json()
    # A withdrawn proposal is not shown.
    assert [item["id"] for item in body["items"]] == [first, second]
    assert body["total"] == 2
    item = body["items"][1]
    assert set(item) == PROPOSAL_KEYS
    assert (item["status"], item["status_label"], item["review_reason"]) == (
        "infeasible", "Not feasible", "The land is not public.")
    assert (item["category"], item["category_label"]) == ("roads", "Roads and pavements")
    # The author's public name only: no id, no phone.
    assert item["author"] == "Aziza K."
    assert "+99890" not in response.text
    assert item["votes"] is None

    async def ids(query: str) -> list[int]:
        found = await client.get(f"/api/v1/cycles/{setup.cycle_id}/proposals?{query}")
        assert found.status_code == 200, found.text
        return [entry["id"] for entry in found.json()["items"]]

    assert await ids("status=infeasible") == [second]
    assert await ids(f"mahalla_id={setup.mahallas[0]}") == [first]
    assert await ids("category=water") == []
    assert await ids("per_page=1&page=2") == [second]
    # Withdrawn proposals are their author's business only.
    for query, error in (("status=withdrawn", "invalid_status"),
                         ("status=nonsense", "invalid_status"),
                         ("category=rockets", "invalid_category"),
                         ("mahalla_id=-1", "bad_request")):
        refusal(await client.get(f"/api/v1/cycles/{setup.cycle_id}/proposals?{query}"), 400,
                error)
    refusal(await client.get("/api/v1/cycles/99999/proposals"), 404, "not_found")


async def test_votes_are_shown_only_when_the_cycle_shows_them(client: httpx.AsyncClient
                                                              ) -> None:
    setup = await ballot_cycle()
    first, second, _ = setup.proposals
    for voter in await voters(2, setup.mahallas[0]):
        await services.cast_ballot(voter, setup.cycle_id, [first, second])

    async def votes() -> dict[int, int | None]:
        body = (await client.get(f"/api/v1/cycles/{setup.cycle_id}/proposals")).json()
        return {item["id"]: item["votes"] for item in body["items"]}

    assert set((await votes()).values()) == {None}
    one = (await client.get(f"/api/v1/proposals/{first}")).json()
    assert one["votes"] is None and one["explanation"] is None
    await Cycle.update({Cycle.show_running_totals: True}).where(
        Cycle.id == setup.cycle_id)
    assert await votes() == {first: 2, second: 2, setup.proposals[2]: 0}
    await Cycle.update({Cycle.show_running_totals: False}).where(
        Cycle.id == setup.cycle_id)
    await move_to(setup.cycle_id, "results")
    assert await votes() == {first: 2, second: 2, setup.proposals[2]: 0}


async def test_one_proposal_with_its_result_and_delivery(client: httpx.AsyncClient) -> None:
    setup = await ballot_cycle((300, 800), phase="proposals", budget=1000)
    chosen, lost = setup.proposals
    with_photo = await services.submit_proposal(setup.author, setup.cycle_id, services.ProposalText(
        "Lights along the canal path", "Twelve lamps along the canal path to the bazaar.",
        "lighting", setup.mahallas[0], 100), [photo()])
    await move_to(setup.cycle_id, "review")
    await services.review(setup.manager, chosen, True, 300)
    await services.review(setup.manager, lost, True, 800)
    await move_to(setup.cycle_id, "voting")
    for voter in await voters(2, setup.mahallas[0]):
        await services.cast_ballot(voter, setup.cycle_id, [chosen])
    [voter] = await voters(1, setup.mahallas[0], first=300)
    await services.cast_ballot(voter, setup.cycle_id, [lost])
    await move_to(setup.cycle_id, "implementation")
    await services.record_delivery(setup.manager, chosen, services.DeliveryText(
        "in_progress", 40, 120, "Half the road is laid."), [photo()])

    response = await client.get(f"/api/v1/proposals/{chosen}", headers=ENGLISH)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PROPOSAL_KEYS | {"photos", "result_reason", "explanation", "delivery",
                                         "timeline"}
    assert (body["status"], body["votes"], body["reviewed_cost"]) == ("selected", 2, 300)
    assert body["result_reason"] == "most_votes"
    assert body["explanation"].startswith("Selected: with 2 votes")
    delivery = body["delivery"]
    assert (delivery["status"], delivery["status_label"], delivery["progress"],
            delivery["spent"], delivery["overdue"]) == ("in_progress", "Being built", 40, 120,
                                                        False)
    [entry] = body["timeline"]
    assert (entry["status"], entry["note"], entry["progress"]) == (
        "in_progress", "Half the road is laid.", 40)
    assert len(entry["photos"]) == 1 and entry["photos"][0].startswith("/reports/photos/")
    assert body["photos"] == []
    photo_url = (await client.get(f"/api/v1/proposals/{with_photo}")).json()["photos"][0]
    assert (await client.get(photo_url)).status_code == 200

    loser = (await client.get(f"/api/v1/proposals/{lost}", headers=ENGLISH)).json()
    assert (loser["status"], loser["result_reason"], loser["delivery"], loser["timeline"]) == (
        "not_selected", "no_money_left", None, [])
    assert loser["explanation"].startswith("Not selected: when its turn came (1 votes)")


async def test_a_withdrawn_or_unknown_proposal_is_not_found(client: httpx.AsyncClient) -> None:
    setup = await ballot_cycle((100,), phase="proposals")
    [proposal_id] = setup.proposals
    await services.withdraw_proposal(setup.author, proposal_id)
    for path in (f"/api/v1/proposals/{proposal_id}", "/api/v1/proposals/99999",
                 f"/api/v1/proposals/{2**40}"):
        refusal(await client.get(path), 404, "not_found")


# -- the ballot -------------------------------------------------------------------------------

async def test_casting_reading_and_changing_ones_ballot(client: httpx.AsyncClient) -> None:
    setup = await ballot_cycle()
    first, second, third = setup.proposals
    voter, auth = await voter_with_token(100, setup.mahallas[0])
    path = f"/api/v1/cycles/{setup.cycle_id}/ballot"
    refusal(await client.get(path, headers=auth), 404, "no_ballot")
    cast = await client.put(path, headers=auth, json={"proposal_ids": [second, first]})
    assert cast.status_code == 200, cast.text
    body = cast.json()
    assert set(body) == BALLOT_KEYS
    assert (body["cycle_id"], body["proposal_ids"], body["total_cost"], body["changes"]) == (
        setup.cycle_id, [first, second], 800_000_000, 0)
    assert (await client.get(path, headers=auth)).json() == body
    changed = (await client.put(path, headers=auth, json={"proposal_ids": [third]})).json()
    assert (changed["proposal_ids"], changed["changes"], changed["receipt"]) == (
        [third], 1, body["receipt"])
    recorded = await services.ballot_of(voter, setup.cycle_id)
    assert recorded is not None and recorded.proposal_ids == (third,)
    assert recorded.channel == "api"
    assert await Ballot.count() == 1 and await BallotChoice.count() == 1


async def test_the_api_and_the_web_form_change_the_same_ballot(client: httpx.AsyncClient
                                                               ) -> None:
    setup = await ballot_cycle()
    first, second, _ = setup.proposals
    voter, auth = await voter_with_token(100, setup.mahallas[0])
    session = await sessions.start(sessions.RESIDENT, voter, 0)
    client.cookies.set(sessions.COOKIE, session)
    form = await client.get(f"/cycles/{setup.cycle_id}/ballot")
    assert form.status_code == 200
    posted = await client.post(f"/cycles/{setup.cycle_id}/ballot", data={
        "proposal_ids": [str(first)], "_csrf_token": client.cookies["csrftoken"]})
    assert posted.status_code in (302, 303), posted.text
    path = f"/api/v1/cycles/{setup.cycle_id}/ballot"
    on_the_web = (await client.get(path, headers=auth)).json()
    assert on_the_web["proposal_ids"] == [first] and on_the_web["changes"] == 0
    by_api = (await client.put(path, headers=auth, json={"proposal_ids": [second]})).json()
    assert (by_api["receipt"], by_api["changes"]) == (on_the_web["receipt"], 1)
    posted = await client.post(f"/cycles/{setup.cycle_id}/ballot", data={
        "proposal_ids": [str(first), str(second)],
        "_csrf_token": client.cookies["csrftoken"]})
    assert posted.status_code in (302, 303), posted.text
    final = (await client.get(path, headers=auth)).json()
    assert (final["proposal_ids"], final["changes"], final["receipt"]) == (
        [first, second], 2, on_the_web["receipt"])
    assert await Ballot.count() == 1


async def test_the_ballot_needs_a_valid_token(client: httpx.AsyncClient) -> None:
    setup = await ballot_cycle()
    path = f"/api/v1/cycles/{setup.cycle_id}/ballot"
    body = {"proposal_ids": setup.proposals[:1]}
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer wrong"}):
        refusal(await client.get(path, headers=headers), 401, "unauthorised")
        refusal(await client.put(path, headers=headers, json=body), 401, "unauthorised")
    assert await Ballot.count() == 0


async def test_a_malformed_ballot_is_a_bad_request(client: httpx.AsyncClient) -> None:
    setup = await ballot_cycle()
    _, auth = await voter_with_token(100, setup.mahallas[0])
    path = f"/api/v1/cycles/{setup.cycle_id}/ballot"
    json_headers = {**auth, "Content-Type": "application/json"}
    refusal(await client.put(path, headers=json_headers, content=b"{not json"), 400,
            "bad_request")
    for body in ({}, {"proposal_ids": "1,2"}, {"proposal_ids": ["a"]}, {"proposal_ids": [0]},
                 {"proposal_ids": [2**40]}, {"proposal_ids": list(range(1, 1002))}, [1, 2]):
        refusal(await client.put(path, headers=auth, json=body), 400, "bad_request")
    assert await Ballot.count() == 0


async def test_residents_who_may_not_vote_are_forbidden(client: httpx.AsyncClient) -> None:
    setup = await ballot_cycle()
    path = f"/api/v1/cycles/{setup.cycle_id}/ballot"
    body = {"proposal_ids": setup.proposals[:1]}
    unverified = await make_resident(phone(2))
    await Resident.update({Resident.phone_verified_at: None,
                           Resident.mahalla: setup.mahallas[0]}).where(Resident.id == unverified)
    homeless = await make_resident(phone(3))
    outsider = await make_voter(phone(4), (await district_mahallas(CHORTOQ))[0])
    for resident_id, error in ((unverified, "not_verified"), (homeless, "no_home"),
                               (outsider, "outside_district")):
        refusal(await client.put(path, headers=await bearer(resident_id), json=body), 403,
                error)
    assert await Ballot.count() == 0


async def test_ballot_refusals_of_the_cycle_and_its_rules(client: httpx.AsyncClient) -> None:
    setup = await ballot_cycle((100, 200, 300, 400), max_choices=3)
    _, auth = await voter_with_token(100, setup.mahallas[0])
    path = f"/api/v1/cycles/{setup.cycle_id}/ballot"
    refusal(await client.put("/api/v1/cycles/99999/ballot", headers=auth,
                             json={"proposal_ids": [1]}), 404, "not_found")
    refusal(await client.get("/api/v1/cycles/99999/ballot", headers=auth), 404, "not_found")
    refusal(await client.put(f"/api/v1/cycles/{2**40}/ballot", headers=auth,
                             json={"proposal_ids": [1]}), 404, "not_found")
    for chosen, error in (([], "no_choice"), ([99999], "bad_choice"),
                          (setup.proposals, "too_many_choices")):
        refusal(await client.put(path, headers=auth, json={"proposal_ids": chosen}), 422,
                error)
    await move_to(setup.cycle_id, "results", act=False)
    refusal(await client.put(path, headers=auth, json={"proposal_ids": setup.proposals[:1]}),
            409, "wrong_phase")
    assert await Ballot.count() == 0


async def test_a_knapsack_ballot_over_the_budget_breaks_its_rule(client: httpx.AsyncClient
                                                                 ) -> None:
    setup = await ballot_cycle((600, 500), budget=1000, ballot_rule=services.KNAPSACK)
    _, auth = await voter_with_token(100, setup.mahallas[0])
    refusal(await client.put(f"/api/v1/cycles/{setup.cycle_id}/ballot", headers=auth,
                             json={"proposal_ids": setup.proposals}), 422, "over_budget")
    assert await Ballot.count() == 0


async def test_too_many_ballot_changes_wait_for_retry_after(client: httpx.AsyncClient) -> None:
    setup = await ballot_cycle()
    _, auth = await voter_with_token(100, setup.mahallas[0])
    path = f"/api/v1/cycles/{setup.cycle_id}/ballot"
    for number in range(services.BALLOT_CHANGES):
        chosen = setup.proposals[number % 3:number % 3 + 1]
        assert (await client.put(path, headers=auth, json={"proposal_ids": chosen})
                ).status_code == 200
    refused = await client.put(path, headers=auth, json={"proposal_ids": setup.proposals[:1]})
    refusal(refused, 429, "too_many_requests")
    assert 0 < int(refused.headers["retry-after"]) <= 600


# -- results ----------------------------------------------------------------------------------

async def test_results_with_the_rule_and_each_projects_explanation(client: httpx.AsyncClient
                                                                   ) -> None:
    setup = await ballot_cycle((900_000, 400_000, 100_000), budget=1_000_000,
                               selection_rule=services.EQUAL_SHARES, satisfaction="cardinality")
    dear, middle, cheap = setup.proposals
    path = f"/api/v1/cycles/{setup.cycle_id}/results"
    for voter in await voters(6, setup.mahallas[0]):
        await services.cast_ballot(voter, setup.cycle_id, [dear])
    for voter in await voters(4, setup.mahallas[1], first=200):
        await services.cast_ballot(voter, setup.cycle_id, [middle, cheap])
    refusal(await client.get(path), 404, "no_results")
    await move_to(setup.cycle_id, "results")
    response = await client.get(path, headers=ENGLISH)
    assert response.status_code == 200
    body = response.json()
    [result] = await services.results(setup.cycle_id)
    assert (body["cycle_id"], body["rule"], body["satisfaction"], body["completion"]) == (
        setup.cycle_id, "mes", "cardinality", "none")
    assert body["rule_label"].startswith("Method of Equal Shares")
    assert (body["budget"], body["spent"], body["voters"]) == (1_000_000, 100_000, 10)
    assert body["ballots_sha256"] == result["ballots_sha256"]
    assert body["computed_at"] and body["mahallas"] == []
    # Most votes first.
    assert [project["id"] for project in body["projects"]] == [dear, middle, cheap]
    projects = {project["id"]: project for project in body["projects"]}
    assert projects[cheap] == {
        "id": cheap, "title": "Project number 2 of the district",
        "mahalla_id": setup.mahallas[0], "cost": 100_000, "votes": 4, "selected": True,
        "reason": "equal_shares",
        "explanation": "Selected in round 1: its 4 supporters paid for it from their equal "
                       "shares, at most 25,000 soums each."}
    assert projects[dear] | {"explanation": ""} == {
        "id": dear, "title": "Project number 0 of the district",
        "mahalla_id": setup.mahallas[0], "cost": 900_000, "votes": 6, "selected": False,
        "reason": "too_few_supporters", "explanation": ""}
    assert projects[dear]["explanation"] == (
        "Not selected: its 6 supporters hold 100,000 soums each, 600,000 soums in all, less "
        "than its cost of 900,000 soums.")
    assert projects[middle]["reason"] == "shares_spent"
    # The reader's language, as everywhere in the API: ?lang= wins over Accept-Language.
    in_uzbek = (await client.get(f"{path}?lang=uz", headers=ENGLISH)).json()
    explained = next(p for p in in_uzbek["projects"] if p["id"] == dear)["explanation"]
    assert services.locale.format_number(100_000, "uz") in explained
    assert "100,000" not in explained
    refusal(await client.get("/api/v1/cycles/99999/results"), 404, "not_found")


async def test_results_of_a_cycle_with_mahalla_budgets(client: httpx.AsyncClient) -> None:
    setup = await ballot_cycle((300, 200), where=(0, 1), mahalla_budgets={0: 500, 1: 400})
    first, second = setup.proposals
    for voter in await voters(2, setup.mahallas[0]):
        await services.cast_ballot(voter, setup.cycle_id, [first])
    [neighbour] = await voters(1, setup.mahallas[1], first=200)
    await services.cast_ballot(neighbour, setup.cycle_id, [second])
    await move_to(setup.cycle_id, "results")
    body = (await client.get(f"/api/v1/cycles/{setup.cycle_id}/results")).json()
    results = {row["mahalla"]: row for row in await services.results(setup.cycle_id)}
    assert (body["budget"], body["spent"], body["voters"], body["ballots_sha256"]) == (
        900, 500, 3, None)
    assert body["mahallas"] == [
        {"mahalla_id": mahalla_id, "budget": budget, "spent": spent, "voters": count,
         "selected": [chosen], "ballots_sha256": results[mahalla_id]["ballots_sha256"]}
        for mahalla_id, budget, spent, count, chosen in (
            (setup.mahallas[0], 500, 300, 2, first), (setup.mahallas[1], 400, 200, 1, second))]
    assert {p["id"]: p["mahalla_id"] for p in body["projects"]} == {
        first: setup.mahallas[0], second: setup.mahallas[1]}


# -- the schema -------------------------------------------------------------------------------

async def test_the_openapi_schema_lists_the_planning_endpoints(client: httpx.AsyncClient
                                                               ) -> None:
    schema = (await client.get("/api/v1/schema/openapi.json")).json()
    paths = schema["paths"]
    expected = {
        "/api/v1/cycles": {"get"},
        "/api/v1/cycles/{cycle_id}": {"get"},
        "/api/v1/cycles/{cycle_id}/proposals": {"get"},
        "/api/v1/proposals/{proposal_id}": {"get"},
        "/api/v1/cycles/{cycle_id}/ballot": {"get", "put"},
        "/api/v1/cycles/{cycle_id}/results": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), path
        for method in methods:
            assert paths[path][method]["tags"] == ["planning"]
    put = paths["/api/v1/cycles/{cycle_id}/ballot"]["put"]
    assert "proposal_ids" in str(put["requestBody"]) or "proposal_ids" in str(
        schema["components"])
    assert "409 wrong_phase" in put["description"]

