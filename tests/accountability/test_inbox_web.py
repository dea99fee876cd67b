"""The officials' inbox page: one list across reports, petitions and proposals, and answers
given from it that are published on each item's page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from ovoz.accountability import services as obligations
from ovoz.accountability.tables import Obligation
from ovoz.accounts.permissions import Grant, Role
from ovoz.petitions import services as petitions
from ovoz.petitions.tables import Petition
from ovoz.planning import services as planning
from ovoz.reports import services as reports
from ovoz.reports.tables import Report
from ovoz.settings import get_settings
from tests.accountability.test_periodic_web import csrf, sign_in
from tests.petitions.helpers import (
    beruniy_mahallas,
    district_petition,
    make_moderator,
    make_residents,
    make_verified,
    open_petition,
)
from tests.planning.test_services import ballot_cycle
from tests.reports.helpers import draft, make_official, make_resident, make_staff_account

ANSWER = "Maktab qurilishi 2027-yil tuman dasturiga kiritildi, loyiha tayyorlanmoqda."


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")


@pytest.fixture
def one_signature_petitions(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OVOZ_PETITION_LEVELS",
                       json.dumps({"district_hokimiyat": {"threshold": 1}}))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def awaiting_answer() -> int:
    """A Beruniy petition that has its one signature and waits for the hokimiyat's answer."""
    mahalla = (await beruniy_mahallas())[0]
    author = await make_verified(1, mahalla)
    backers = await make_residents(5, mahalla, first=100)
    petition_id = await open_petition(author, backers, await make_moderator(),
                                      district_petition())
    await petitions.sign(petition_id, await make_verified(200, mahalla))
    assert (await petitions.petition(petition_id))["status"] == petitions.THRESHOLD_REACHED
    return petition_id


async def post(client: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    return await client.post(path, data={"_csrf_token": csrf(client), **fields})


def item_ids(page: httpx.Response) -> list[tuple[str, str]]:
    """The items listed, by the link of each one's title."""
    return re.findall(r'<h2 class="inbox-title"><a href="/staff/(reports|petitions|proposals)/'
                      r'(\d+)">', page.text)


async def test_an_official_answers_a_report_a_petition_and_a_review_from_the_inbox(
        client: httpx.AsyncClient, one_signature_petitions: None) -> None:
    setup = await ballot_cycle((200_000_000,), phase="proposals")
    [proposal_id] = setup.proposals
    petition_id = await awaiting_answer()
    report_id = await reports.create_report(await make_resident(), draft())
    official = await make_official()
    await sign_in(client, official.id)

    page = await client.get("/staff/inbox")
    assert page.status_code == 200
    assert sorted(item_ids(page)) == sorted([
        ("reports", str(report_id)), ("petitions", str(petition_id)),
        ("proposals", str(proposal_id))])
    assert "Open in all: <strong>3</strong>" in page.text
    assert "Qishloqqa yangi maktab qurilsin" in page.text
    assert "Project number 0 of the district" in page.text
    assert page.text.count('name="return_to" value="inbox"') == 3
    assert f'action="/staff/reports/{report_id}/status"' in page.text
    assert f'action="/staff/petitions/{petition_id}/respond"' in page.text
    assert f'action="/staff/proposals/{proposal_id}/review"' in page.text
    # A duplicate or a referral needs more than the inbox asks: the report's own page.
    assert 'value="duplicate"' not in page.text and 'value="referred"' not in page.text

    # An answer missing its note goes to the report's page with the message, and still
    # comes back to the inbox once corrected.
    missing = await post(client, f"/staff/reports/{report_id}/status", status="acknowledged",
                         note="", return_to="inbox")
    assert missing.status_code == 400 and 'href="#note"' in missing.text
    assert '<input type="hidden" name="return_to" value="inbox">' in missing.text
    acknowledged = await post(client, f"/staff/reports/{report_id}/status",
                              status="acknowledged", note="Brigada yuborildi.",
                              return_to="inbox")
    assert acknowledged.headers["location"] == f"/staff/inbox?answered=report%3A{report_id}"
    back = await client.get(acknowledged.headers["location"])
    assert "Your answer is published." in back.text
    assert f'<a href="/reports/{report_id}">See it on the public page</a>' in back.text
    assert "Brigada yuborildi." in (await client.get(f"/reports/{report_id}")).text
    # Acknowledged is a first response, not the answer: the report stays in the inbox.
    assert ("reports", str(report_id)) in item_ids(back)
    fixed = await post(client, f"/staff/reports/{report_id}/status", status="fixed",
                       note="Chuqur asfaltlandi.", return_to="inbox")
    assert fixed.status_code == 302
    assert ("reports", str(report_id)) not in item_ids(await client.get("/staff/inbox"))

    answered = await client.post(
        f"/staff/petitions/{petition_id}/respond",
        data={"_csrf_token": csrf(client), "decision": "partly_accepted", "text": ANSWER,
              "official_name": "Aziz Karimov", "official_post": "Hokim o‘rinbosari",
              "return_to": "inbox"},
        files=[("attachments", ("", b"", "application/octet-stream"))])
    assert answered.headers["location"] == (
        f"/staff/inbox?answered=petition%3A{petition_id}")
    public = await client.get(f"/petitions/{petition_id}")
    assert ANSWER in public.text and "Aziz Karimov" in public.text

    reviewed = await post(client, f"/staff/proposals/{proposal_id}/review",
                          decision="feasible", reviewed_cost="180000000", return_to="inbox")
    assert reviewed.headers["location"] == (
        f"/staff/inbox?answered=proposal_review%3A{proposal_id}")
    assert (await planning.proposal(proposal_id))["reviewed_cost"] == 180_000_000
    empty = await client.get("/staff/inbox")
    assert item_ids(empty) == [] and "Nothing to answer matches these choices." in empty.text
    # Without the inbox's field, each page goes back to itself as before.
    assert (await obligations.obligation("proposal_review", proposal_id))["outcome"] == (
        "answered")


async def test_the_inbox_is_for_the_officials_who_answer(client: httpx.AsyncClient) -> None:
    assert (await client.get("/staff/inbox")).headers["location"] == "/staff/signin"
    monitor = await make_staff_account("monitor", Grant(Role.NGO_MONITOR))
    await sign_in(client, monitor)
    assert (await client.get("/staff/inbox")).status_code == 403

    resident = await make_resident()
    hokimiyat = await make_official()
    roads = await reports.create_department(hokimiyat, 16, "Yoʻllar")
    water = await reports.create_department(hokimiyat, 16, "Suv")
    pothole = await reports.create_report(resident, draft())
    await reports.reroute(hokimiyat, pothole, roads, "Yoʻllar boʻlimiga.")
    lamp = await reports.create_report(resident, draft(category="lighting",
                                                       description="The lamp is dark."))
    # The lamp's answer was due yesterday.
    yesterday = obligations.now() - timedelta(days=1)
    await Report.update({Report.due_at: yesterday}).where(Report.id == lamp)
    await Obligation.update({Obligation.due_at: yesterday}).where(
        (Obligation.kind == "report") & (Obligation.ref == lamp))

    department = await make_official("roads", department_id=roads)
    await sign_in(client, department.id)
    own = await client.get("/staff/inbox")
    assert item_ids(own) == [("reports", str(pothole))]

    await sign_in(client, hokimiyat.id)
    everything = await client.get("/staff/inbox")
    assert item_ids(everything) == [("reports", str(lamp)), ("reports", str(pothole))]
    assert "Overdue: <strong>1</strong>" in everything.text
    assert '<span class="status status-overdue">Overdue</span>' in everything.text
    assert f'<option value="{water}">Suv</option>' in everything.text
    late = await client.get("/staff/inbox", params={"due": "overdue"})
    assert item_ids(late) == [("reports", str(lamp))]
    by_roads = await client.get("/staff/inbox", params={"department": str(roads)},
                                headers={"HX-Request": "true", "HX-Target": "inbox-list"})
    assert by_roads.text.lstrip().startswith("<div id=\"inbox-list\"")
    assert "<html" not in by_roads.text
    assert item_ids(by_roads) == [("reports", str(pothole))]
    # Filters sent without JavaScript, or mistyped, mean "all".
    for params in ({"kind": "", "department": "", "due": ""},
                   {"kind": "nonsense", "district": "x", "due": "soon"}):
        shown = await client.get("/staff/inbox", params=params)
        assert shown.status_code == 200 and len(item_ids(shown)) == 2
    assert (await client.get("/staff/inbox", params={"answered": "x" * 41})).status_code == 400


async def test_a_petition_waiting_past_its_due_date_is_marked_overdue_in_public(
        client: httpx.AsyncClient, one_signature_petitions: None) -> None:
    await ballot_cycle((100,), phase="proposals")
    petition_id = await awaiting_answer()
    detail = await client.get(f"/petitions/{petition_id}")
    assert "Answer overdue" not in detail.text
    await Petition.update({Petition.response_due_at: obligations.now() - timedelta(hours=1)}
                          ).where(Petition.id == petition_id)
    detail = await client.get(f"/petitions/{petition_id}")
    assert '<span class="status status-overdue">Answer overdue</span>' in detail.text
    assert "<strong>overdue</strong>" in detail.text
    assert "Answer overdue" in (await client.get("/petitions")).text
