"""The staff pages of participatory budgeting: the cycles an official runs, creating and
rescheduling one, reviewing and merging proposals, delivery updates, and ballots recorded for a
resident at the mahalla office."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from ovoz.accounts import services as accounts
from ovoz.accounts import sessions
from ovoz.accounts.permissions import Grant, Role, StaffMember
from ovoz.accounts.tables import Resident, StaffAccount
from ovoz.planning import services
from ovoz.planning.tables import Ballot, Cycle, Photo, Proposal
from tests.conftest import last_code, sms_outbox
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
    CHORTOQ,
    REGION_OF,
    jpeg,
    load_demo_mahallas,
    make_staff_account,
)

KARAKALPAKSTAN = REGION_OF[BERUNIY]
OFFICIAL = Grant(Role.OFFICIAL, KARAKALPAKSTAN, BERUNIY)
COSTS = (300_000_000, 500_000_000, 400_000_000)


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    """The assertions read the English pages, as a reader who chose English would see them."""
    client.cookies.set("lang", "en")


@pytest.fixture
async def mahallas(db: str) -> list[int]:
    await load_demo_mahallas()
    return await district_mahallas()


async def as_staff(client: httpx.AsyncClient, username: str, grant: Grant) -> StaffMember:
    """The browser signed in as a new staff member holding one grant, with a CSRF cookie."""
    staff_id = await make_staff_account(username, grant)
    account = await StaffAccount.select(StaffAccount.session_epoch).where(
        StaffAccount.id == staff_id).first()
    client.cookies.set(sessions.COOKIE, await sessions.start(
        sessions.STAFF, staff_id, account["session_epoch"], sessions.STAFF_FULL))
    await client.get("/staff/signin")
    return StaffMember(staff_id, (grant,))


async def submit(client: httpx.AsyncClient, path: str, **fields: Any) -> httpx.Response:
    return await client.post(path, data={"_csrf_token": client.cookies["csrftoken"], **fields})


def mahalla_staff(mahalla_id: int) -> Grant:
    return Grant(Role.MAHALLA_STAFF, KARAKALPAKSTAN, BERUNIY, mahalla_id)


def cycle_fields(**changes: str) -> dict[str, str]:
    start = today() + timedelta(days=1)
    fields = {
        "district_id": str(BERUNIY), "title": "Beruniy initiative budget 2027",
        "description": "Money for what the mahallas choose.", "budget": "1 200 000 000",
        "ballot_rule": "approval", "max_choices": "3", "selection_rule": "mes",
        "satisfaction": "cardinality", "completion": "add1", "show_running_totals": "yes",
        **{column: (start + timedelta(days=10 * n)).isoformat()
           for n, column in enumerate(services.PHASE_STARTS.values())},
    }
    fields.update(changes)
    return fields


async def cycle_with_proposals(mahalla_id: int, phase: str, **changes: Any
                               ) -> tuple[int, list[int], StaffMember]:
    """A cycle moved to `phase` with three proposals of one author, reviewed feasible at their
    estimates when the phase is voting or later."""
    manager = await make_manager("planner")
    cycle_id = await services.create_cycle(manager, cycle_form(**changes))
    await move_to(cycle_id, "proposals")
    author = await make_voter("+998901110001", mahalla_id)
    ids = [await services.submit_proposal(author, cycle_id, proposal_text(
        mahalla_id, title=f"Project number {n} for the mahalla", estimated_cost=cost))
        for n, cost in enumerate(COSTS)]
    if phase != "proposals":
        await move_to(cycle_id, "review")
    if phase not in ("proposals", "review"):
        for proposal_id, cost in zip(ids, COSTS, strict=True):
            await services.review(manager, proposal_id, True, cost)
        await move_to(cycle_id, phase)
    return cycle_id, ids, manager


async def proposal_row(proposal_id: int) -> dict[str, Any]:
    row = await Proposal.select().where(Proposal.id == proposal_id).first()
    assert row is not None
    return row


# -- who may come in -------------------------------------------------------------------------

async def test_the_pages_need_a_manager_of_the_district(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    assert (await client.get("/staff/cycles")).headers["location"] == "/staff/signin"
    manager = await make_manager("planner")
    cycle_id = await services.create_cycle(manager, cycle_form())
    await as_staff(client, "monitor", Grant(Role.NGO_MONITOR))
    assert (await client.get("/staff/cycles")).status_code == 403
    assert 'href="/staff/cycles"' not in (await client.get("/staff")).text
    # An official of another district, or of one department, runs no cycle of Beruniy.
    await as_staff(client, "chortoq", Grant(Role.OFFICIAL, REGION_OF[CHORTOQ], CHORTOQ))
    assert (await client.get(f"/staff/cycles/{cycle_id}")).status_code == 403
    refused = await submit(client, "/staff/cycles/new", **cycle_fields())
    assert refused.status_code == 403
    assert await Cycle.count() == 1
    await as_staff(client, "suvchi", Grant(Role.OFFICIAL, KARAKALPAKSTAN, BERUNIY,
                                           department_id=5))
    assert (await client.get("/staff/cycles")).status_code == 403
    assert (await client.get(f"/staff/cycles/{cycle_id}")).status_code == 403
    # Mahalla staff record ballots; they do not manage the cycle.
    await as_staff(client, "oqsoqol", mahalla_staff(mahallas[0]))
    assert (await client.get("/staff/cycles")).status_code == 200
    assert (await client.get(f"/staff/cycles/{cycle_id}")).status_code == 403
    assert (await client.get("/staff/cycles/new")).status_code == 403
    await as_staff(client, "hokim", OFFICIAL)
    assert 'href="/staff/cycles"' in (await client.get("/staff")).text
    listed = await client.get("/staff/cycles")
    assert listed.status_code == 200 and f'href="/staff/cycles/{cycle_id}"' in listed.text
    assert (await client.get("/staff/cycles/999999")).status_code == 404
    assert (await client.get("/staff/proposals/999999")).status_code == 404


async def test_a_district_administrator_runs_only_the_districts_cycles(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    manager = await make_manager("planner")
    beruniy_cycle = await services.create_cycle(manager, cycle_form())
    await as_staff(client, "beruniy.admin", Grant(Role.ADMINISTRATOR, KARAKALPAKSTAN, BERUNIY))
    assert 'href="/staff/cycles"' in (await client.get("/staff")).text
    assert (await client.get(f"/staff/cycles/{beruniy_cycle}")).status_code == 200
    new = await client.get("/staff/cycles/new")
    assert new.status_code == 200 and f'name="district_id" value="{BERUNIY}"' in new.text
    refused = await submit(client, "/staff/cycles/new", **cycle_fields(district_id=str(CHORTOQ)))
    assert refused.status_code == 403
    created = await submit(client, "/staff/cycles/new", **cycle_fields())
    assert created.status_code == 302
    assert await Cycle.count() == 2
    chortoq_cycle = await services.create_cycle(await make_manager("chortoq", CHORTOQ),
                                                cycle_form(CHORTOQ))
    assert (await client.get(f"/staff/cycles/{chortoq_cycle}")).status_code == 403


# -- creating a cycle ------------------------------------------------------------------------

async def test_an_official_creates_a_cycle(client: httpx.AsyncClient,
                                           mahallas: list[int]) -> None:
    staff = await as_staff(client, "hokim", OFFICIAL)
    form = await client.get("/staff/cycles/new")
    assert form.status_code == 200
    assert f'name="mahalla_budget_{mahallas[0]}"' in form.text
    assert "Method of Equal Shares" in form.text and 'type="date"' in form.text
    created = await submit(client, "/staff/cycles/new", **cycle_fields())
    assert created.status_code == 302, created.text
    match = re.fullmatch(r"/staff/cycles/(\d+)\?done=created", created.headers["location"])
    assert match
    row = await services.cycle(int(match[1]))
    assert row is not None
    assert row["budget"] == 1_200_000_000 and row["district"] == BERUNIY
    assert (row["ballot_rule"], row["max_choices"]) == ("approval", 3)
    assert (row["selection_rule"], row["satisfaction"], row["completion"]) == (
        "mes", "cardinality", "add1")
    assert row["show_running_totals"] is True and row["created_by"] == staff.id
    assert row["proposals_from"] == today() + timedelta(days=1)
    assert row["implementation_from"] == today() + timedelta(days=41)
    assert await services.mahalla_budgets(row["id"]) == {}
    page = await client.get(created.headers["location"])
    assert "The cycle is created." in page.text and "Not started yet" in page.text
    assert "1,200,000,000 soums" in page.text
    listed = await client.get("/staff/cycles")
    assert "Beruniy initiative budget 2027" in listed.text
    assert "0 proposals waiting for review" in listed.text
    region = await client.get("/staff/cycles", headers={"HX-Request": "true",
                                                        "HX-Target": "cycles"})
    assert region.text.lstrip().startswith('<div id="cycles"')
    assert "Beruniy initiative budget 2027" in region.text


async def test_an_administrator_chooses_the_district_first(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    await as_staff(client, "admin", Grant(Role.ADMINISTRATOR))
    first = await client.get("/staff/cycles/new")
    assert first.status_code == 200 and 'name="district"' in first.text
    assert f'name="mahalla_budget_{mahallas[0]}"' in first.text
    chortoq = await district_mahallas(CHORTOQ)
    chosen = await client.get(f"/staff/cycles/new?district={CHORTOQ}")
    assert f'name="district_id" value="{CHORTOQ}"' in chosen.text
    assert f'name="mahalla_budget_{chortoq[0]}"' in chosen.text
    assert f'name="mahalla_budget_{mahallas[0]}"' not in chosen.text
    # Only the chosen district's mahallas are read: another district's field is ignored.
    sent = await submit(client, "/staff/cycles/new", **cycle_fields(
        district_id=str(CHORTOQ), **{f"mahalla_budget_{mahallas[0]}": "100"}))
    assert sent.status_code == 302
    cycle_id = int(sent.headers["location"].split("/")[3].split("?")[0])
    assert await services.mahalla_budgets(cycle_id) == {}
    created = await services.cycle(cycle_id)
    assert created is not None and created["district"] == CHORTOQ


async def test_a_cycle_form_with_mistakes_keeps_what_was_typed(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    await as_staff(client, "hokim", OFFICIAL)
    typos = await submit(client, "/staff/cycles/new", **cycle_fields(
        budget="a lot", max_choices="", voting_from="", title="Suv quvurlari 2027"))
    assert typos.status_code == 400
    for field in ("budget", "max_choices", "voting_from"):
        assert f'href="#{field}"' in typos.text
    assert 'value="a lot"' in typos.text and 'value="Suv quvurlari 2027"' in typos.text
    assert "Give the budget in whole soums, more than zero." in typos.text
    # The rules the services check come back beside their field too.
    short = await submit(client, "/staff/cycles/new", **cycle_fields(title="Suv"))
    assert short.status_code == 400 and 'href="#title"' in short.text
    assert "Write a title of 10 to 150 characters." in short.text
    assert 'value="1 200 000 000"' in short.text
    assert 'id="satisfaction-cardinality" name="satisfaction" value="cardinality" checked' in (
        short.text)
    start = today() + timedelta(days=1)
    backwards = await submit(client, "/staff/cycles/new", **cycle_fields(
        voting_from=start.isoformat()))
    assert backwards.status_code == 400 and 'href="#proposals_from"' in backwards.text
    assert "Each phase must start at least a day after the one before it" in backwards.text
    assert await Cycle.count() == 0


async def test_mahalla_budgets_make_the_cycle_budget(client: httpx.AsyncClient,
                                                     mahallas: list[int]) -> None:
    await as_staff(client, "hokim", OFFICIAL)
    first, second = (f"mahalla_budget_{mahallas[0]}", f"mahalla_budget_{mahallas[1]}")
    wrong = await submit(client, "/staff/cycles/new", **cycle_fields(
        budget="", **{first: "300 000 000", second: "two hundred"}))
    assert wrong.status_code == 400 and f'href="#{second}"' in wrong.text
    assert 'value="two hundred"' in wrong.text and 'value="300 000 000"' in wrong.text
    assert "<details class=\"filters-box\" open>" in wrong.text
    created = await submit(client, "/staff/cycles/new", **cycle_fields(
        budget="", **{first: "300 000 000", second: "200,000,000"}))
    assert created.status_code == 302, created.text
    cycle_id = int(created.headers["location"].split("/")[3].split("?")[0])
    assert await services.mahalla_budgets(cycle_id) == {
        mahallas[0]: 300_000_000, mahallas[1]: 200_000_000}
    row = await services.cycle(cycle_id)
    assert row is not None and row["budget"] == 500_000_000
    page = await client.get(f"/staff/cycles/{cycle_id}")
    assert "Mahalla budgets" in page.text and "300,000,000 soums" in page.text


# -- managing a cycle ------------------------------------------------------------------------

async def test_the_dates_of_phases_not_yet_started_move(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    manager = await make_manager("planner")
    cycle_id = await services.create_cycle(manager, cycle_form())
    await as_staff(client, "hokim", OFFICIAL)
    path = f"/staff/cycles/{cycle_id}/reschedule"
    later = {column: (today() + timedelta(days=5 + 7 * n)).isoformat()
             for n, column in enumerate(services.PHASE_STARTS.values())}
    moved = await submit(client, path, **later)
    assert moved.status_code == 302
    assert moved.headers["location"] == f"/staff/cycles/{cycle_id}?done=rescheduled"
    row = await services.cycle(cycle_id)
    assert row is not None and row["voting_from"] == today() + timedelta(days=19)
    assert "The new dates are saved." in (await client.get(moved.headers["location"])).text
    # Once proposals are open, their date stays; the form carries it and says so.
    await move_to(cycle_id, "proposals")
    page = await client.get(f"/staff/cycles/{cycle_id}")
    assert "already started" in page.text
    assert f'type="hidden" name="proposals_from" value="{today().isoformat()}"' in page.text
    earlier = {**later, "proposals_from": (today() - timedelta(days=3)).isoformat()}
    refused = await submit(client, path, **earlier)
    assert refused.status_code == 400 and 'href="#review_from"' in refused.text
    typo = await submit(client, path, **{**later, "results_from": "soon"})
    assert typo.status_code == 400 and 'href="#results_from"' in typo.text
    row = await services.cycle(cycle_id)
    assert row is not None and row["proposals_from"] == today()


async def test_the_review_queue_filters_and_shows_what_is_overdue(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    cycle_id, ids, manager = await cycle_with_proposals(mahallas[0], "review")
    await services.review(manager, ids[2], True, COSTS[2])
    await as_staff(client, "hokim", OFFICIAL)
    page = await client.get(f"/staff/cycles/{cycle_id}")
    assert page.status_code == 200
    for proposal_id in ids:
        assert f'href="/staff/proposals/{proposal_id}"' in page.text
    assert "Being reviewed" in page.text and "Review overdue" not in page.text
    waiting = await client.get(f"/staff/cycles/{cycle_id}?status=waiting")
    assert f'href="/staff/proposals/{ids[2]}"' not in waiting.text
    assert f'href="/staff/proposals/{ids[0]}"' in waiting.text
    feasible = await client.get(f"/staff/cycles/{cycle_id}?status=feasible",
                                headers={"HX-Request": "true", "HX-Target": "queue"})
    assert feasible.text.lstrip().startswith('<div id="queue"')
    assert f'href="/staff/proposals/{ids[2]}"' in feasible.text
    assert f'href="/staff/proposals/{ids[0]}"' not in feasible.text
    elsewhere = await client.get(f"/staff/cycles/{cycle_id}?mahalla={mahallas[1]}")
    assert "No proposal matches." in elsewhere.text
    await Proposal.update({Proposal.review_due_at: services.now() - timedelta(hours=1)}).where(
        Proposal.id == ids[0])
    late = await client.get(f"/staff/cycles/{cycle_id}")
    assert late.text.count("Review overdue") == 1
    listed = await client.get("/staff/cycles")
    assert "2 proposals waiting for review" in listed.text
    assert "1 review overdue" in listed.text


async def test_an_official_reviews_proposals(client: httpx.AsyncClient,
                                             mahallas: list[int]) -> None:
    cycle_id, ids, _ = await cycle_with_proposals(mahallas[0], "review")
    await as_staff(client, "chortoq", Grant(Role.OFFICIAL, REGION_OF[CHORTOQ], CHORTOQ))
    assert (await client.get(f"/staff/proposals/{ids[0]}")).status_code == 403
    elsewhere = await submit(client, f"/staff/proposals/{ids[0]}/review", decision="feasible",
                             reviewed_cost="300000000")
    assert elsewhere.status_code == 403
    undecided_elsewhere = await submit(client, f"/staff/proposals/{ids[0]}/review")
    assert undecided_elsewhere.status_code == 403
    assert (await proposal_row(ids[0]))["status"] == "in_review"
    await as_staff(client, "hokim", OFFICIAL)
    page = await client.get(f"/staff/proposals/{ids[0]}")
    assert page.status_code == 200
    assert "Project number 0 for the mahalla" in page.text
    assert "children walk in the mud" in page.text
    assert 'name="reviewed_cost" inputmode="numeric" autocomplete="off" maxlength="24" ' \
        'value="300000000"' in page.text
    path = f"/staff/proposals/{ids[0]}/review"
    undecided = await submit(client, path, reviewed_cost="300000000")
    assert undecided.status_code == 400 and 'href="#decision"' in undecided.text
    too_dear = await submit(client, path, decision="feasible", reviewed_cost="9 000 000 000")
    assert too_dear.status_code == 400 and 'href="#reviewed_cost"' in too_dear.text
    assert 'value="9 000 000 000"' in too_dear.text
    done = await submit(client, path, decision="feasible", reviewed_cost="280 000 000")
    assert done.status_code == 302
    assert done.headers["location"] == f"/staff/proposals/{ids[0]}?done=reviewed"
    row = await proposal_row(ids[0])
    assert (row["status"], row["reviewed_cost"]) == ("feasible", 280_000_000)
    assert "The review is saved." in (await client.get(done.headers["location"])).text
    refuse = f"/staff/proposals/{ids[1]}/review"
    reasonless = await submit(client, refuse, decision="infeasible", reason="No.")
    assert reasonless.status_code == 400 and 'href="#reason"' in reasonless.text
    assert "No.</textarea>" in reasonless.text
    reason = "The land belongs to the railway; the district cannot build there."
    refused = await submit(client, refuse, decision="infeasible", reason=reason)
    assert refused.status_code == 302
    row = await proposal_row(ids[1])
    assert (row["status"], row["reviewed_cost"], row["review_reason"]) == (
        "infeasible", None, reason)
    # Voting has started: the review is closed.
    await move_to(cycle_id, "voting")
    late = await submit(client, f"/staff/proposals/{ids[2]}/review", decision="feasible",
                        reviewed_cost="400000000")
    assert late.status_code == 400
    assert "This can no longer be done" in late.text
    assert 'action="/staff/proposals/' not in (await client.get(
        f"/staff/proposals/{ids[2]}")).text


async def test_an_official_merges_a_duplicate(client: httpx.AsyncClient,
                                              mahallas: list[int]) -> None:
    _, ids, _ = await cycle_with_proposals(mahallas[0], "review")
    await as_staff(client, "hokim", OFFICIAL)
    page = await client.get(f"/staff/proposals/{ids[0]}")
    assert "Similar proposals in this cycle:" in page.text
    assert f'id="into-{ids[1]}" name="into" value="{ids[1]}"' in page.text
    assert f'id="into-{ids[0]}"' not in page.text
    path = f"/staff/proposals/{ids[0]}/merge"
    nothing = await submit(client, path)
    assert nothing.status_code == 400 and 'href="#into"' in nothing.text
    unknown = await submit(client, path, into_number="999999")
    assert unknown.status_code == 400 and 'href="#into"' in unknown.text
    itself = await submit(client, path, into=str(ids[0]))
    assert itself.status_code == 400
    merged = await submit(client, path, into=str(ids[1]))
    assert merged.status_code == 302
    assert merged.headers["location"] == f"/staff/proposals/{ids[0]}?done=merged"
    row = await proposal_row(ids[0])
    assert (row["status"], row["merged_into"]) == ("merged", ids[1])
    after = await client.get(merged.headers["location"])
    assert "Merged into another proposal" in after.text
    assert f'href="/staff/proposals/{ids[1]}"' in after.text
    by_number = await submit(client, f"/staff/proposals/{ids[2]}/merge",
                             into_number=f"№{ids[1]}")
    assert by_number.status_code == 302
    assert (await proposal_row(ids[2]))["merged_into"] == ids[1]


# -- delivery --------------------------------------------------------------------------------

async def test_an_official_records_delivery_with_a_photo(client: httpx.AsyncClient,
                                                         mahallas: list[int]) -> None:
    cycle_id, ids, _ = await cycle_with_proposals(mahallas[0], "voting")
    voter = await make_voter("+998902220001", mahallas[0], confirmed=False)
    await services.cast_ballot(voter, cycle_id, [ids[1]])
    await move_to(cycle_id, "results")
    assert (await proposal_row(ids[1]))["status"] == "selected"
    await as_staff(client, "oqsoqol", mahalla_staff(mahallas[0]))
    refused = await client.post(f"/staff/proposals/{ids[1]}/delivery", data={
        "_csrf_token": client.cookies["csrftoken"], "status": "completed", "progress": "100",
        "spent": "1"}, files=[("photos", ("road.jpg", jpeg(), "image/jpeg"))])
    assert refused.status_code == 403
    assert (await proposal_row(ids[1]))["delivery_status"] == "planned"
    await as_staff(client, "hokim", OFFICIAL)
    cycle_page = await client.get(f"/staff/cycles/{cycle_id}")
    assert "Selected projects" in cycle_page.text and "Planned" in cycle_page.text
    path = f"/staff/proposals/{ids[1]}/delivery"
    token = {"_csrf_token": client.cookies["csrftoken"]}
    photo = [("photos", ("road.jpg", jpeg(), "image/jpeg"))]
    wrong = await client.post(path, data={**token, "status": "in_progress", "progress": "half",
                                          "spent": "120 000 000", "due_on": "",
                                          "note": "Asphalt laid on half the road."},
                              files=photo)
    assert wrong.status_code == 400 and 'href="#progress"' in wrong.text
    kept = re.search(r'name="kept_photo" value="([0-9a-f]{32})"', wrong.text)
    assert kept, "the photo is kept across the failed submit"
    assert "Asphalt laid on half the road.</textarea>" in wrong.text
    due = today() + timedelta(days=90)
    done = await client.post(path, data={
        **token, "status": "in_progress", "progress": "40", "spent": "120 000 000",
        "due_on": due.isoformat(), "note": "Asphalt laid on half the road.",
        "kept_photo": kept[1]}, files=[("photos", ("", b"", "application/octet-stream"))])
    assert done.status_code == 302, done.text
    assert done.headers["location"] == f"/staff/proposals/{ids[1]}?done=delivery"
    row = await proposal_row(ids[1])
    assert (row["delivery_status"], row["progress"], row["spent"], row["due_on"]) == (
        "in_progress", 40, 120_000_000, due)
    pictures = await Photo.select().where(Photo.proposal == ids[1])
    assert [(p["name"], p["update"] is not None) for p in pictures] == [(kept[1], True)]
    page = await client.get(done.headers["location"])
    assert "The update is added to the project&#39;s timeline." in page.text or \
        "The update is added to the project's timeline." in page.text
    assert f"/reports/photos/{kept[1]}.thumb.jpg" in page.text
    assert "40% done" in page.text and "Asphalt laid on half the road." in page.text
    assert (await client.get(f"/reports/photos/{kept[1]}.jpg")).status_code == 200
    cancelled = await client.post(path, data={**token, "status": "cancelled", "progress": "40",
                                              "spent": "120000000", "note": "No."},
                                  files=[("photos", ("", b"", "application/octet-stream"))])
    assert cancelled.status_code == 400 and 'href="#note"' in cancelled.text
    # A project not selected has no delivery form.
    loser = await Proposal.select(Proposal.id).where(
        (Proposal.cycle == cycle_id) & (Proposal.status == "not_selected")).first()
    assert 'action="/staff/proposals/' not in (
        await client.get(f"/staff/proposals/{loser['id']}")).text


# -- ballots at the mahalla office -----------------------------------------------------------

async def test_a_resident_votes_at_the_mahalla_office_on_a_paper_form(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    cycle_id, ids, _ = await cycle_with_proposals(mahallas[0], "voting", max_choices=2)
    phone = "+998903330001"
    resident = await make_voter(phone, mahallas[1], confirmed=False)
    staff = await as_staff(client, "oqsoqol", mahalla_staff(mahallas[1]))
    listed = await client.get("/staff/cycles")
    assert f'href="/staff/cycles/{cycle_id}/assisted-ballot"' in listed.text
    form = await client.get(f"/staff/cycles/{cycle_id}/assisted-ballot")
    assert form.status_code == 200 and "With a signed paper form" in form.text
    path = f"/staff/cycles/{cycle_id}/assisted-ballot"
    unchecked = await submit(client, f"{path}/paper", paper_phone=phone, paper_form="QF-7")
    assert unchecked.status_code == 400 and 'href="#residence_checked"' in unchecked.text
    assert 'value="QF-7"' in unchecked.text
    numberless = await submit(client, f"{path}/paper", paper_phone=phone, paper_form=" ",
                              residence_checked="yes")
    assert numberless.status_code == 400 and 'href="#paper_form"' in numberless.text
    ballot = await submit(client, f"{path}/paper", paper_phone=phone, paper_form="QF-7",
                          residence_checked="yes")
    assert ballot.status_code == 200
    for proposal_id in ids:
        assert f'name="proposal_ids" value="{proposal_id}"' in ballot.text
    assert "Tick up to 2 projects." in ballot.text and "+998 90 *** ** 01" in ballot.text
    fields = {"consent": "paper", "phone": phone, "paper_form": "QF-7",
              "residence_checked": "yes"}
    too_many = await submit(client, f"{path}/cast", **fields, proposal_ids=[str(i) for i in ids])
    assert too_many.status_code == 400 and 'href="#proposal_ids"' in too_many.text
    assert "Tick at most 2 projects." in too_many.text
    assert too_many.text.count("checked>") == 3
    none_ticked = await submit(client, f"{path}/cast", **fields)
    assert none_ticked.status_code == 400 and "Tick at least one project." in none_ticked.text
    assert await Ballot.count() == 0
    cast = await submit(client, f"{path}/cast", **fields,
                        proposal_ids=[str(ids[0]), str(ids[2])])
    assert cast.status_code == 302, cast.text
    receipt_path = cast.headers["location"]
    assert re.fullmatch(rf"/staff/cycles/{cycle_id}/assisted-ballot/receipts/\d+",
                        receipt_path)
    recorded = await services.ballot_of(resident, cycle_id)
    assert recorded is not None and recorded.proposal_ids == (ids[0], ids[2])
    assert recorded.channel == "assisted"
    row = await Ballot.select().where(Ballot.resident == resident).first()
    assert (row["assisted_by"], row["consent"], row["mahalla"]) == (
        staff.id, "paper:QF-7", mahallas[1])
    resident_row = await Resident.select().where(Resident.id == resident).first()
    assert resident_row["residence_confirmed_by"] == staff.id
    receipt = await client.get(receipt_path)
    assert receipt.status_code == 200 and receipt.headers["cache-control"] == "no-store"
    assert "Receipt for a ballot" in receipt.text and recorded.receipt in receipt.text
    assert "Paper form number QF-7" in receipt.text and "Oqsoqol" in receipt.text
    assert "Project number 0 for the mahalla" in receipt.text
    assert "Project number 1 for the mahalla" not in receipt.text
    assert "Total: 700,000,000 soums" in receipt.text
    assert "+998 90 *** ** 01" in receipt.text and phone not in receipt.text
    # No SMS is sent for a paper form.
    assert not [m for m in sms_outbox() if m["to"] == phone]


async def test_a_resident_votes_at_the_mahalla_office_with_a_code_from_their_phone(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    cycle_id, ids, _ = await cycle_with_proposals(mahallas[0], "voting", max_choices=2)
    phone = "+998903330002"
    resident = await make_voter(phone, mahallas[1], confirmed=False)
    await services.cast_ballot(resident, cycle_id, [ids[1]])
    staff = await as_staff(client, "oqsoqol", mahalla_staff(mahallas[1]))
    path = f"/staff/cycles/{cycle_id}/assisted-ballot"
    nobody = await submit(client, f"{path}/code", phone="+998 90 999 88 77")
    assert nobody.status_code == 400 and "No resident has this phone or Ovoz number." in nobody.text
    malformed = await submit(client, f"{path}/code", phone="12")
    assert malformed.status_code == 400 and "Enter an Uzbek mobile number" in malformed.text
    sent = await submit(client, f"{path}/code", phone=phone)
    assert sent.status_code == 200, sent.text
    assert "Ovoz has sent a code to +998 90 *** ** 02." in sent.text
    # The ballot cast online is ticked, and only it.
    assert f'value="{ids[1]}" checked' in sent.text and sent.text.count("checked>") == 1
    assert "The resident has voted already" in sent.text
    code = last_code(phone)
    # In the resident's language (Uzbek here), naming the cycle.
    assert f"№{cycle_id} byudjet mavsumidagi ovozingizni qayd etish uchun kod: {code}" in (
        sms_outbox()[-1]["text"])
    # Read aloud at the desk, the code cannot sign anyone in to Ovoz.
    with pytest.raises(accounts.SignInError):
        await accounts.sign_in_with_code(phone, code, "198.51.100.1")
    fields = {"consent": "sms", "phone": phone}
    wrong = await submit(client, f"{path}/cast", **fields, proposal_ids=[str(ids[0])],
                         code=f"{(int(code) + 1) % 1_000_000:06d}")
    assert wrong.status_code == 400 and "The code is not right. 3 tries left." in wrong.text
    assert f'value="{ids[0]}" checked' in wrong.text
    # Refused for its choices, the ballot leaves the code usable.
    too_many = await submit(client, f"{path}/cast", **fields, code=code,
                            proposal_ids=[str(i) for i in ids])
    assert too_many.status_code == 400 and "Tick at most 2 projects." in too_many.text
    cast = await submit(client, f"{path}/cast", **fields, code=code,
                        proposal_ids=[str(ids[0]), str(ids[1])])
    assert cast.status_code == 302, cast.text
    recorded = await services.ballot_of(resident, cycle_id)
    assert recorded is not None and recorded.proposal_ids == (ids[0], ids[1])
    assert recorded.changes == 1 and recorded.channel == "assisted"
    row = await Ballot.select().where(Ballot.resident == resident).first()
    assert (row["assisted_by"], row["consent"]) == (staff.id, "sms")
    receipt = await client.get(cast.headers["location"])
    assert "Code sent to the resident" in receipt.text and recorded.receipt in receipt.text
    assert "Paper form number" not in receipt.text
    # The code is used up.
    reused = await submit(client, f"{path}/cast", **fields, code=code,
                          proposal_ids=[str(ids[0])])
    assert reused.status_code == 400
    assert (await services.ballot_of(resident, cycle_id)).proposal_ids == (ids[0], ids[1])
    # Staff of another mahalla cannot print the receipt, nor vote for this resident.
    await as_staff(client, "qoshni", mahalla_staff(mahallas[2]))
    assert (await client.get(cast.headers["location"])).status_code == 403
    other = await submit(client, f"{path}/code", phone=phone)
    assert other.status_code == 403 and "This resident lives in another mahalla." in other.text


async def test_ballots_at_the_desk_only_while_voting_and_for_staff_of_a_mahalla(
        client: httpx.AsyncClient, mahallas: list[int]) -> None:
    cycle_id, _, _ = await cycle_with_proposals(mahallas[0], "review")
    path = f"/staff/cycles/{cycle_id}/assisted-ballot"
    await as_staff(client, "hokim", OFFICIAL)
    assert (await client.get(path)).status_code == 403
    await as_staff(client, "oqsoqol", mahalla_staff(mahallas[1]))
    closed = await client.get(path)
    assert closed.status_code == 200 and "Voting is not open in this cycle." in closed.text
    assert f'action="{path}/code"' not in closed.text
    phone = "+998903330003"
    await make_voter(phone, mahallas[1], confirmed=False)
    refused = await submit(client, f"{path}/code", phone=phone)
    assert refused.status_code == 400 and "the cycle has moved on" in refused.text
    assert not [m for m in sms_outbox() if m["to"] == phone]
