"""/api/v1/petitions: the list and one petition, signing and withdrawing over the API with its
refusals, and signatures that are never lost or counted twice under concurrency."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from ovoz.accounts import services as accounts
from ovoz.accounts.tables import Resident
from ovoz.geo import services as geo
from ovoz.petitions import services
from ovoz.petitions.tables import Petition, Signature
from ovoz.settings import get_settings
from tests.petitions.helpers import (
    beruniy_mahallas,
    district_petition,
    load_demo_mahallas,
    make_district_official,
    make_moderator,
    make_residents,
    make_verified,
    open_petition,
)
from tests.reports.helpers import CHORTOQ

SUMMARY_KEYS = {
    "id", "title", "topic", "topic_label", "level", "level_label", "addressee", "status",
    "status_label", "threshold", "signatures", "opened_at", "closes_at",
    "threshold_reached_at", "response_due_at", "overdue", "url",
}


async def collecting(first: int = 100, title: str = "Qishloqqa yangi maktab qurilsin",
                     topic: str = "education") -> int:
    """A Beruniy district petition collecting signatures; its author and sponsors are residents
    numbered from `first`."""
    await load_demo_mahallas()
    mahallas = await beruniy_mahallas()
    author = await make_verified(first, mahallas[0])
    backers = await make_residents(get_settings().petition_sponsors, mahallas[1], first + 1)
    return await open_petition(author, backers, await make_moderator(f"moderator{first}"),
                               replace(district_petition(title), topic=topic))


async def bearer(resident_id: int) -> dict[str, str]:
    token, _ = await accounts.issue_api_token(resident_id, label="test")
    return {"Authorization": f"Bearer {token}"}


async def signer(number: int, mahalla_index: int = 0) -> tuple[int, dict[str, str]]:
    resident_id = await make_verified(number, (await beruniy_mahallas())[mahalla_index])
    return resident_id, await bearer(resident_id)


def phone(number: int) -> str:
    return f"+9989011{number:05d}"


async def test_the_list_filters_and_pages(client: httpx.AsyncClient) -> None:
    school = await collecting(100)
    road = await collecting(200, "Qishloq yo‘lini ta’mirlash kerak", "roads")
    author = await make_verified(300, (await beruniy_mahallas())[0])
    await services.create_draft(author, district_petition("Hali qoralama bo‘lgan murojaat"))
    await services.sign(road, (await signer(1))[0])

    response = await client.get("/api/v1/petitions", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body["items"]] == [road, school]
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (1, 20, 2, 1)
    first = body["items"][0]
    assert set(first) == SUMMARY_KEYS
    assert first["signatures"] == 1
    assert first["status_label"] == "Collecting signatures"
    assert first["addressee"] == {"region_id": 1, "district_id": 16, "mahalla_id": None}
    assert first["url"].endswith(f"/petitions/{road}")

    async def ids(query: str) -> list[int]:
        found = await client.get(f"/api/v1/petitions?{query}")
        assert found.status_code == 200, found.text
        return [item["id"] for item in found.json()["items"]]

    assert await ids("topic=roads") == [road]
    assert await ids("q=qurilsin") == [school]
    # Either script, and a plain apostrophe for the Uzbek one.
    assert await ids("q=ҚУРИЛСИН") == [school]
    assert await ids("q=maktab") == [road, school]
    assert await ids("q=yo'lini") == [road]
    assert await ids("level=district_hokimiyat&district_id=16") == [road, school]
    assert await ids("level=mahalla") == []
    assert await ids(f"district_id={CHORTOQ}") == []
    assert await ids("status=expired") == []
    paged = (await client.get("/api/v1/petitions?per_page=1&page=2")).json()
    assert [item["id"] for item in paged["items"]] == [school]
    assert (paged["page"], paged["total"], paged["pages"]) == (2, 2, 2)

    for query, error in (("status=draft", "invalid_status"), ("topic=nonsense", "invalid_topic"),
                         ("level=kremlin", "invalid_level"), ("per_page=500", "bad_request")):
        refused = await client.get(f"/api/v1/petitions?{query}")
        assert refused.status_code == 400, query
        assert refused.json()["error"] == error
    unknown = await client.get("/api/v1/petitions?district_id=99999")
    assert unknown.status_code == 404


async def test_one_petition_with_its_answer_and_mahallas(client: httpx.AsyncClient) -> None:
    petition_id = await collecting(100)
    await Petition.update({Petition.threshold: 2}).where(Petition.id == petition_id)
    mahallas = await beruniy_mahallas()
    await services.sign(petition_id, (await signer(1, 0))[0])
    official = await make_district_official()
    await services.sign(petition_id, (await signer(2, 1))[0], channel="assisted",
                        assisted_by=official.id)
    await services.respond(official, petition_id, "partly_accepted",
                           "Maktab qurilishi 2027 yil rejasiga kiritildi.",
                           "Alisher Qodirov", "Tuman hokimining o‘rinbosari")

    response = await client.get(f"/api/v1/petitions/{petition_id}",
                                headers={"Accept-Language": "en"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == SUMMARY_KEYS | {"text", "response", "signatures_by_mahalla"}
    assert body["status"] == "responded"
    assert body["status_label"] == "Answered"
    assert body["signatures"] == 2 and body["threshold"] == 2
    assert body["threshold_reached_at"] is not None and body["response_due_at"] is not None
    assert body["overdue"] is False
    assert body["text"].startswith("Bizning qishloqda maktab")
    answer = body["response"]
    assert answer["decision"] == "partly_accepted"
    assert answer["decision_label"] == "Partly accepted"
    assert answer["official_name"] == "Alisher Qodirov"
    assert answer["official_post"] == "Tuman hokimining o‘rinbosari"
    assert answer["text"].startswith("Maktab qurilishi") and answer["published_at"]
    assert sorted(body["signatures_by_mahalla"], key=lambda e: e["mahalla_id"]) == [
        {"mahalla_id": mahallas[0], "signatures": 1, "assisted": 0},
        {"mahalla_id": mahallas[1], "signatures": 1, "assisted": 1},
    ]
    # Neither the author nor a signer: no phone number, name or resident id.
    for number in (100, 1, 2):
        assert phone(number) not in response.text
        assert f"Fuqaro {number}" not in response.text


async def test_a_petition_not_yet_public_is_not_found(client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    author = await make_verified(100, (await beruniy_mahallas())[0])
    draft = await services.create_draft(author, district_petition())
    _, headers = await signer(1)
    for path in (f"/api/v1/petitions/{draft}", "/api/v1/petitions/99999",
                 f"/api/v1/petitions/{2**40}"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
        for method in ("POST", "DELETE"):
            signing = await client.request(method, f"{path}/signatures", headers=headers)
            assert signing.status_code == 404
            assert signing.json()["error"] == "not_found"
    assert await Signature.count() == 0


async def test_signing_withdrawing_and_signing_again(client: httpx.AsyncClient) -> None:
    petition_id = await collecting(100)
    resident_id, headers = await signer(1)
    url = f"/api/v1/petitions/{petition_id}/signatures"

    signed = await client.post(url, headers={**headers, "X-Device-Id": "phone-42"})
    assert signed.status_code == 201
    assert signed.json() == {"signatures": 1}
    row = await Signature.select().where(Signature.petition == petition_id).first()
    assert row is not None
    assert (row["resident"], row["channel"]) == (resident_id, "api")
    assert row["address_digest"] == services.digest("127.0.0.1")
    assert row["device_digest"] == services.digest("phone-42")

    again = await client.post(url, headers=headers)
    assert again.status_code == 409
    assert again.json()["error"] == "already_signed"
    assert (await client.get(f"/api/v1/petitions/{petition_id}")).json()["signatures"] == 1

    withdrawn = await client.delete(url, headers=headers)
    assert withdrawn.status_code == 204
    assert await services.count(petition_id) == 0
    twice = await client.delete(url, headers=headers)
    assert twice.status_code == 404
    assert twice.json()["error"] == "not_signed"

    assert (await client.post(url, headers=headers)).status_code == 201
    assert await services.count(petition_id) == 1


async def test_signing_needs_a_valid_token(client: httpx.AsyncClient) -> None:
    petition_id = await collecting(100)
    url = f"/api/v1/petitions/{petition_id}/signatures"
    for headers in ({}, {"Authorization": "Bearer ovz_not-a-token"},
                    {"Authorization": "Basic dXNlcjpwYXNz"}):
        for method in ("POST", "DELETE"):
            response = await client.request(method, url, headers=headers)
            assert response.status_code == 401
            assert response.json()["error"] == "unauthorised"
    assert await services.count(petition_id) == 0


@pytest.mark.parametrize("reason", ["not_verified", "no_home", "outside_area"])
async def test_residents_who_may_not_sign_are_told_why(client: httpx.AsyncClient,
                                                       reason: str) -> None:
    petition_id = await collecting(100)
    resident_id, headers = await signer(1)
    if reason == "not_verified":
        await Resident.update({Resident.phone_verified_at: None,
                               Resident.residence_confirmed_at: None}).where(
            Resident.id == resident_id)
    elif reason == "no_home":
        await Resident.update({Resident.mahalla: None}).where(Resident.id == resident_id)
    else:
        elsewhere = (await geo.mahallas_of(CHORTOQ))[0]["id"]
        await Resident.update({Resident.mahalla: elsewhere}).where(Resident.id == resident_id)

    response = await client.post(f"/api/v1/petitions/{petition_id}/signatures",
                                 headers=headers)
    assert response.status_code == 403
    assert response.json()["error"] == reason
    assert response.json()["detail"]
    assert await services.count(petition_id) == 0


async def test_a_petition_no_longer_collecting_refuses_with_409(client: httpx.AsyncClient
                                                                 ) -> None:
    petition_id = await collecting(100)
    _, headers = await signer(1)
    url = f"/api/v1/petitions/{petition_id}/signatures"
    await Petition.update({Petition.closes_at: services.now() - timedelta(minutes=1)}).where(
        Petition.id == petition_id)
    response = await client.post(url, headers=headers)
    assert response.status_code == 409
    assert response.json()["error"] == "not_signable"

    await Petition.update({Petition.status: services.EXPIRED}).where(Petition.id == petition_id)
    assert (await client.get(f"/api/v1/petitions/{petition_id}")).status_code == 200
    assert (await client.post(url, headers=headers)).status_code == 409
    withdrawing = await client.delete(url, headers=headers)
    assert withdrawing.status_code == 409
    assert withdrawing.json()["error"] == "not_signable"
    assert await Signature.count() == 0


async def test_too_many_signatures_from_one_address(client: httpx.AsyncClient,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "SIGNATURES_PER_ADDRESS", 1)
    petition_id = await collecting(100)
    url = f"/api/v1/petitions/{petition_id}/signatures"
    assert (await client.post(url, headers=(await signer(1))[1])).status_code == 201
    response = await client.post(url, headers=(await signer(2))[1])
    assert response.status_code == 429
    assert response.json()["error"] == "too_many_requests"
    assert int(response.headers["Retry-After"]) > 0
    assert await services.count(petition_id) == 1


async def test_the_schema_lists_the_petitions_endpoints(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/api/v1/schema/openapi.json")).json()
    paths = schema["paths"]
    assert set(paths["/api/v1/petitions"]) == {"get"}
    assert set(paths["/api/v1/petitions/{petition_id}"]) == {"get"}
    assert set(paths["/api/v1/petitions/{petition_id}/signatures"]) == {"post", "delete"}
    assert paths["/api/v1/petitions"]["get"]["tags"] == ["petitions"]
    assert not any(path.endswith(".csv") for path in paths)


async def test_twenty_residents_signing_at_once_are_all_counted(db: str) -> None:
    petition_id = await collecting(100)
    mahallas = await beruniy_mahallas()
    residents = [await make_verified(n, mahallas[n % len(mahallas)]) for n in range(1, 21)]
    totals = await asyncio.gather(*(services.sign(petition_id, r, channel="api",
                                                  address=f"10.0.0.{n}")
                                    for n, r in enumerate(residents)))
    # Whoever committed last counted everyone.
    assert max(totals) == 20
    assert await services.count(petition_id) == 20
    assert await Signature.count().where(Signature.petition == petition_id) == 20


async def test_one_resident_signing_five_times_at_once_counts_once(db: str) -> None:
    petition_id = await collecting(100)
    resident_id, _ = await signer(1)
    outcomes = await asyncio.gather(*(services.sign(petition_id, resident_id)
                                      for _ in range(5)), return_exceptions=True)
    assert [o for o in outcomes if not isinstance(o, Exception)] == [1]
    refusals = [o for o in outcomes if isinstance(o, Exception)]
    assert all(isinstance(o, services.PetitionError) and o.code == "already_signed"
               for o in refusals)
    assert len(refusals) == 4
    assert await services.count(petition_id) == 1
    assert await Signature.count().where(Signature.resident == resident_id) == 1


async def test_one_resident_signing_at_once_over_the_api(client: httpx.AsyncClient) -> None:
    petition_id = await collecting(100)
    _, headers = await signer(1)
    url = f"/api/v1/petitions/{petition_id}/signatures"
    answers = await asyncio.gather(*(client.post(url, headers=headers) for _ in range(5)))
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409, 409]
    assert await services.count(petition_id) == 1
