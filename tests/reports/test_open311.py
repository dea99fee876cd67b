"""Open311 GeoReport v2 at /open311/v2: every JSON response fits the official schemas, XML carries
the same data, clients post with their API key, and nothing personal is ever shown."""

from __future__ import annotations

import asyncio
import hashlib
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ovoz.accounts.tables import Resident
from ovoz.cli import cli
from ovoz.i18n.locale import TASHKENT
from ovoz.ledger.tables import LedgerEntry
from ovoz.reports import clients, services
from ovoz.reports.tables import Open311Client, Report
from ovoz.settings import get_settings
from tests.reports.helpers import (
    BERUNIY,
    BERUNIY_POINT,
    TASHKENT_POINT,
    draft,
    load_demo_mahallas,
    make_official,
    make_resident,
    photo,
)

BASE = "/open311/v2"
SCHEMAS = Path(__file__).parent / "open311_schemas"
REQUEST_KEYS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "lat", "long", "media_url",
}
PHONE = "+998901112233"


def _registry() -> Registry[Any]:
    resources = [
        (path.as_uri(), Resource.from_contents(json.loads(path.read_text(encoding="utf-8")),
                                               default_specification=DRAFT202012))
        for path in sorted(SCHEMAS.glob("*.json"))
    ]
    return Registry().with_resources(resources)


REGISTRY = _registry()


def validate(document: Any, schema: str) -> None:
    """`schema` names a schema file, or a definition of swagger.json ("#/definitions/X") for
    a list of those."""
    if schema.startswith("#"):
        root: dict[str, Any] = {"type": "array", "minItems": 1, "items": {
            "$ref": (SCHEMAS / "swagger.json").as_uri() + schema}}
    else:
        root = {"$ref": (SCHEMAS / schema).as_uri()}
    Draft202012Validator(root, registry=REGISTRY).validate(document)


def xml_of(response: httpx.Response, root: str) -> ET.Element:
    assert response.headers["content-type"].startswith("text/xml")
    assert response.content.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    element = ET.fromstring(response.content)
    assert element.tag == root
    return element


def xml_items(element: ET.Element) -> list[dict[str, str]]:
    return [{child.tag: child.text or "" for child in item} for item in element]


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def same_data(json_items: list[dict[str, Any]], xml_element: ET.Element) -> None:
    assert xml_items(xml_element) == [{key: as_text(value) for key, value in item.items()}
                                      for item in json_items]


def errors_of(response: httpx.Response, status: int) -> list[str]:
    """The descriptions of a spec error response (JSON or XML), checked for shape."""
    assert response.status_code == status, response.text
    if response.headers["content-type"].startswith("text/xml"):
        root = xml_of(response, "errors")
        assert [item.tag for item in root] == ["error"] * len(root)
        assert all(item.findtext("code") == str(status) for item in root)
        return [item.findtext("description") or "" for item in root]
    body = response.json()
    assert isinstance(body, list) and body
    assert all(set(item) == {"code", "description"} and item["code"] == status
               for item in body)
    return [item["description"] for item in body]


def aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None
    return value


async def move_back(report_id: int, days: int) -> None:
    await Report.update({Report.registered_at: services.now() - timedelta(days=days)}).where(
        Report.id == report_id)


async def get_requests(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(f"{BASE}/requests.json", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    if body:
        validate(body, "requests.json")
    return body


def form(key: str, **changes: str) -> dict[str, str]:
    values = {
        "api_key": key, "service_code": "roads.pothole", "lat": str(BERUNIY_POINT[0]),
        "long": str(BERUNIY_POINT[1]), "description": "A deep pothole by the school gate.",
        "phone": PHONE, "first_name": "Shahnoza", "last_name": "Yusupova",
    }
    values.update(changes)
    return {name: value for name, value in values.items() if value != "-"}


async def test_discovery(client: httpx.AsyncClient) -> None:
    base_url = get_settings().base_url
    body = (await client.get(f"{BASE}/discovery.json")).json()
    assert set(body) == {"changeset", "contact", "key_service", "endpoints"}
    aware(body["changeset"])
    [endpoint] = body["endpoints"]
    assert endpoint == {
        "specification": "http://wiki.open311.org/GeoReport_v2", "url": f"{base_url}/open311/v2",
        "changeset": body["changeset"], "type": "production",
        "formats": ["application/json", "text/xml"],
    }
    root = xml_of(await client.get(f"{BASE}/discovery.xml"), "discovery")
    assert root.findtext("changeset") == body["changeset"]
    assert root.findtext("contact") == body["contact"]
    xml_endpoint = root.find("endpoints/endpoint")
    assert xml_endpoint is not None
    assert xml_endpoint.findtext("url") == endpoint["url"]
    assert xml_endpoint.findtext("specification") == endpoint["specification"]
    assert [f.text for f in xml_endpoint.findall("formats/format")] == endpoint["formats"]


async def test_services_in_two_languages(client: httpx.AsyncClient) -> None:
    default = (await client.get(f"{BASE}/services.json")).json()
    russian = (await client.get(f"{BASE}/services.json", params={"locale": "ru"})).json()
    validate(default, "services.json")
    validate(russian, "services.json")
    codes = [row["code"] for row in await services.categories()]
    assert [s["service_code"] for s in default] == [s["service_code"] for s in russian] == codes
    pothole = {s["service_code"]: s for s in default}["roads.pothole"]
    assert pothole["service_name"] == "Yoʻldagi chuqur"
    assert pothole["metadata"] is False and pothole["type"] == "realtime"
    assert pothole["group"] == "roads"
    assert "Pothole" in pothole["keywords"] and "Яма на дороге" in pothole["keywords"]
    assert {s["service_code"]: s for s in russian}["roads.pothole"]["service_name"] == (
        "Яма на дороге")
    cyrillic = (await client.get(f"{BASE}/services.json", params={"locale": "uz-Cyrl"})).json()
    assert cyrillic[0]["service_name"] == "Йўлдаги чуқур"
    english = await client.get(f"{BASE}/services.xml", params={"locale": "en"})
    root = xml_of(english, "services")
    assert [item.tag for item in root] == ["service"] * len(codes)
    english_json = (await client.get(f"{BASE}/services.json", params={"locale": "en"})).json()
    assert english_json[0]["service_name"] == "Pothole"
    assert english_json[0]["description"] == "Answered within 15 days."
    same_data(english_json, root)
    assert errors_of(await client.get(f"{BASE}/services.json", params={"locale": "fr"}), 400
                     ) == ["locale must be one of uz, uz-Cyrl, ru, en"]


async def test_service_definition_and_unknown_paths(client: httpx.AsyncClient) -> None:
    body = (await client.get(f"{BASE}/services/roads.pothole.json")).json()
    validate(body, "service-definition.json")
    assert body == {"service_code": "roads.pothole", "attributes": []}
    root = xml_of(await client.get(f"{BASE}/services/roads.pothole.xml"), "service_definition")
    assert root.findtext("service_code") == "roads.pothole"
    attributes = root.find("attributes")
    assert attributes is not None and len(attributes) == 0
    assert errors_of(await client.get(f"{BASE}/services/roads.tunnel.json"), 404) == [
        "no service with service_code 'roads.tunnel'"]
    errors_of(await client.get(f"{BASE}/services/roads.tunnel.xml"), 404)
    for path in ("/services/roads.pothole", "/services", "/services.csv", "/requests",
                 "/requests/1", "/tokens/abc", "/discovery", ""):
        errors_of(await client.get(BASE + path), 404)


async def test_request_filters_and_the_default_window(client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    first = await make_resident()
    second = await make_resident("+998901234568", "Aziz")
    old = await services.create_report(first, draft())
    pothole = await services.create_report(first, draft())
    waste = await services.create_report(second, draft(category="waste.dump",
                                                       description="Rubbish by the canal."))
    fixed = await services.create_report(second, draft(category="lighting",
                                                       description="A dark street at night."))
    await services.change_status(await make_official(), fixed, "fixed", "New lamp installed.")
    await move_back(old, 100)
    await move_back(pothole, 10)
    await move_back(waste, 5)
    await move_back(fixed, 1)

    def ids(items: list[dict[str, Any]]) -> list[str]:
        return [item["service_request_id"] for item in items]

    # The last 90 days, newest first.
    assert ids(await get_requests(client)) == [str(fixed), str(waste), str(pothole)]
    assert ids(await get_requests(client, service_code="roads.pothole")) == [str(pothole)]
    assert ids(await get_requests(client, service_code="waste.dump,lighting")) == [
        str(fixed), str(waste)]
    assert ids(await get_requests(client, status="closed")) == [str(fixed)]
    assert ids(await get_requests(client, status="open")) == [str(waste), str(pothole)]
    assert ids(await get_requests(client, status="open,closed")) == [
        str(fixed), str(waste), str(pothole)]
    now = datetime.now(UTC)
    assert ids(await get_requests(
        client, start_date=(now - timedelta(days=120)).isoformat(),
        end_date=(now - timedelta(days=60)).isoformat())) == [str(old)]
    assert ids(await get_requests(client, start_date=(now - timedelta(days=7)).isoformat())
               ) == [str(fixed), str(waste)]
    assert ids(await get_requests(client, end_date=(now - timedelta(days=7)).isoformat())
               ) == [str(pothole)]
    # A date without a zone is Tashkent time; a plain date is its midnight there.
    tashkent_midnight = (now - timedelta(days=2)).astimezone(TASHKENT).date().isoformat()
    assert ids(await get_requests(client, start_date=tashkent_midnight)) == [str(fixed)]
    # Ids override every other filter, the window too.
    assert ids(await get_requests(client, service_request_id=f"{old},{waste}",
                                  service_code="lighting")) == [str(waste), str(old)]
    xml = xml_of(await client.get(f"{BASE}/requests.xml", params={"status": "closed"}),
                 "service_requests")
    same_data(await get_requests(client, status="closed"), xml)


async def test_paging_and_bad_parameters(client: httpx.AsyncClient) -> None:
    author = await make_resident()
    made = [await services.create_report(author, draft()) for _ in range(5)]
    newest_first = [str(report_id) for report_id in reversed(made)]
    pages = [[item["service_request_id"] for item in await get_requests(
        client, page=number, page_size=2)] for number in (1, 2, 3, 4)]
    assert pages == [newest_first[:2], newest_first[2:4], newest_first[4:], []]
    assert len(await get_requests(client, page_size=1000)) == 5
    bad = {
        "page_size": "5000", "page": "0", "start_date": "yesterday", "end_date": "2026-13-40",
        "status": "pending", "service_request_id": "12,abc",
    }
    for name, value in bad.items():
        [description] = errors_of(
            await client.get(f"{BASE}/requests.json", params={name: value}), 400)
        assert name in description
    errors_of(await client.get(f"{BASE}/requests.xml", params={"page_size": "5000"}), 400)
    assert errors_of(await client.get(f"{BASE}/requests.json", params={
        "start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}), 400) == [
        "start_date and end_date may not span more than 90 days"]
    assert errors_of(await client.get(f"{BASE}/requests.json", params={
        "start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}), 400) == [
        "end_date is before start_date"]


async def test_status_notes_agency_and_media(client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    author = await make_resident()
    official = await make_official()
    roads = await services.create_department(official, BERUNIY, "Yoʻl xoʻjaligi boʻlimi",
                                             name_en="Roads department")
    category = await services.category_by_code("roads.pothole")
    assert category is not None
    await services.set_route(official, BERUNIY, category["id"], roads)
    routed = await services.create_report(author, draft(photos=[photo()],
                                                        location_text="Navoiy street 12"))
    plain = await services.create_report(author, draft(category="lighting",
                                                       description="A dark street at night."))

    async def one(report_id: int, language: str = "en") -> dict[str, Any]:
        response = await client.get(f"{BASE}/requests/{report_id}.json",
                                    params={"locale": language})
        assert response.status_code == 200, response.text
        validate(response.json(), "requests.json")
        [item] = response.json()
        assert set(item) == REQUEST_KEYS
        return item

    item = await one(routed)
    assert item["status"] == "open" and item["status_notes"] == "New"
    assert item["agency_responsible"] == "Roads department"
    assert item["address"] == "Navoiy street 12"
    assert item["service_name"] == "Pothole"
    assert item["service_notice"].startswith("An answer is due by ")
    row = await services.report(routed)
    assert row is not None
    assert item["media_url"] == (f"{get_settings().base_url}/reports/photos/"
                                 f"{row['photos'][0]['name']}.jpg")
    assert aware(item["expected_datetime"]) == row["due_at"].replace(microsecond=0)
    assert aware(item["requested_datetime"]) == row["registered_at"].replace(microsecond=0)
    assert (item["lat"], item["long"]) == BERUNIY_POINT
    plain_item = await one(plain)
    assert plain_item["agency_responsible"] == "Beruni district hokimiyat"
    assert plain_item["media_url"] is None
    assert plain_item["address"]  # the nearest mahalla's name
    assert (await one(routed, "uz"))["agency_responsible"] == "Yoʻl xoʻjaligi boʻlimi"

    await services.change_status(official, routed, "in_progress", "A crew is on its way.")
    item = await one(routed)
    assert (item["status"], item["status_notes"]) == ("open", "A crew is on its way.")
    await services.change_status(official, routed, "fixed", "The hole was filled.")
    item = await one(routed)
    assert (item["status"], item["status_notes"]) == ("closed", "The hole was filled.")
    assert item["service_notice"] is None
    # A disputed fix reopens the report: the fix's note no longer explains its status.
    await services.record_fix_feedback(routed, author, False, "Still there.")
    item = await one(routed)
    assert (item["status"], item["status_notes"]) == ("open", "In progress")
    assert aware(item["updated_datetime"]) > aware(item["requested_datetime"]) - timedelta(
        seconds=1)
    await services.change_status(official, plain, "closed_not_fixed", "No power line there.")
    assert (await one(plain))["status"] == "closed"
    xml = xml_of(await client.get(f"{BASE}/requests/{routed}.xml", params={"locale": "en"}),
                 "service_requests")
    same_data([await one(routed)], xml)
    assert errors_of(await client.get(f"{BASE}/requests/999999.json"), 404) == [
        "no service request with id '999999'"]
    errors_of(await client.get(f"{BASE}/requests/abc.xml"), 404)


async def test_post_creates_a_report_for_the_phone(client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    client_id, key = await clients.issue_client("Shahar App", "dev@example.uz")
    response = await client.post(f"{BASE}/requests.json", data=form(
        key, address_string="Near school No. 5", email="s@example.uz", device_id="abc",
        media_url="http://127.0.0.1:9/photo.jpg"))
    assert response.status_code == 200, response.text
    validate(response.json(), "#/definitions/RequestResponse")
    [created] = response.json()
    assert set(created) == {"service_request_id", "token", "service_notice"}
    report_id = int(created["service_request_id"])
    row = await services.report(report_id)
    assert row is not None
    assert row["source"] == f"open311:{client_id}"
    assert row["location_text"] == "Near school No. 5"
    assert row["hide_name"] is True
    assert row["photos"] == []
    resident = await Resident.select().where(Resident.phone == PHONE).first()
    assert resident is not None and row["author"] == resident["id"]
    assert resident["display_name"] == "Shahnoza Yusupova"

    [item] = (await client.get(f"{BASE}/requests/{report_id}.json")).json()
    assert item["description"] == "A deep pothole by the school gate."
    assert item["address"] == "Near school No. 5" and item["status"] == "open"
    token = await client.get(f"{BASE}/tokens/{created['token']}.json")
    validate(token.json(), "#/definitions/TokenResponse")
    assert token.json() == [{"service_request_id": str(report_id), "token": created["token"]}]
    same_data(token.json(), xml_of(await client.get(f"{BASE}/tokens/{created['token']}.xml"),
                                   "service_requests"))
    assert errors_of(await client.get(f"{BASE}/tokens/unknown-token.json"), 404)

    # The same number written another way is the same resident, whose name stays.
    again = await client.post(f"{BASE}/requests.xml", data=form(
        key, phone="90 111 22 33", first_name="Someone", last_name="Else",
        service_code="waste.dump", description="Rubbish dumped by the canal."))
    root = xml_of(again, "service_requests")
    [posted] = xml_items(root)
    assert set(posted) == {"service_request_id", "token", "service_notice"}
    second = await services.report(int(posted["service_request_id"]))
    assert second is not None and second["author"] == resident["id"]
    assert await Resident.count().where(Resident.phone == PHONE) == 1
    renamed = await Resident.select(Resident.display_name).where(Resident.phone == PHONE).first()
    assert renamed == {"display_name": "Shahnoza Yusupova"}
    # An existing resident is found by the number too.
    known = await make_resident("+998907776655", "Bekzod")
    third = (await client.post(f"{BASE}/requests.json", data=form(
        key, phone="998907776655"))).json()[0]
    third_row = await services.report(int(third["service_request_id"]))
    assert third_row is not None and third_row["author"] == known


async def test_post_refusals(client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    revoked_id, revoked_key = await clients.issue_client("Old App")
    await clients.revoke_client(revoked_id)
    _, key = await clients.issue_client("Shahar App")
    for data in (form("-"), form(""), form("o311_not-a-key"), form(revoked_key)):
        [description] = errors_of(await client.post(f"{BASE}/requests.json", data=data), 403)
        assert "api_key" in description
    errors_of(await client.post(f"{BASE}/requests.xml", data=form(revoked_key)), 403)
    outside = form(key, lat=str(TASHKENT_POINT[0]), long=str(TASHKENT_POINT[1]))
    [description] = errors_of(await client.post(f"{BASE}/requests.json", data=outside), 400)
    assert "only in its pilot districts" in description and "Beruni district" in description
    assert errors_of(await client.post(f"{BASE}/requests.json",
                                       data=form(key, service_code="roads.tunnel")), 400) == [
        "service_code 'roads.tunnel' is not a service here; see services.json"]
    missing = errors_of(await client.post(f"{BASE}/requests.json",
                                          data=form(key, lat="-", long="-", phone="-")), 400)
    assert missing[:3] == ["lat is required", "long is required", "phone is required"]
    assert any("anonymous" in text for text in missing)
    assert errors_of(await client.post(f"{BASE}/requests.json",
                                       data=form(key, phone="+7 912 345 67 89")), 400) == [
        "phone must be an Uzbek mobile number, e.g. +998901234567"]
    assert errors_of(await client.post(f"{BASE}/requests.json", data=form(key, lat="north")),
                     400) == ["lat and long must be decimal degrees, e.g. 41.69 and 60.752"]
    [short] = errors_of(await client.post(f"{BASE}/requests.xml",
                                          data=form(key, description="Hole")), 400)
    assert "at least" in short
    assert await Report.count() == 0
    # A refused report creates no resident either.
    assert await Resident.count() == 0


async def test_too_many_reports_in_a_day(client: httpx.AsyncClient) -> None:
    resident = await make_resident(PHONE)
    for _ in range(services.REPORTS_PER_DAY):
        await services.create_report(resident, draft())
    _, key = await clients.issue_client("Shahar App")
    response = await client.post(f"{BASE}/requests.json", data=form(key))
    [description] = errors_of(response, 429)
    assert "too many reports" in description
    assert int(response.headers["retry-after"]) > 0


async def test_no_personal_data_in_any_response(client: httpx.AsyncClient) -> None:
    await load_demo_mahallas()
    web_author = await make_resident("+998935550011", "Dilnoza Karimova")
    web_report = await services.create_report(web_author, draft())
    _, key = await clients.issue_client("Shahar App")
    posted = (await client.post(f"{BASE}/requests.json", data=form(key))).json()[0]
    official = await make_official()
    await services.change_status(official, web_report, "acknowledged", "Seen, thank you.")
    texts = []
    for suffix in ("json", "xml"):
        for path in (f"/requests.{suffix}", f"/requests/{web_report}.{suffix}",
                     f"/requests/{posted['service_request_id']}.{suffix}",
                     f"/tokens/{posted['token']}.{suffix}", f"/services.{suffix}",
                     f"/discovery.{suffix}"):
            response = await client.get(BASE + path)
            assert response.status_code == 200, path
            texts.append(response.text)
    for item in await get_requests(client):
        assert set(item) == REQUEST_KEYS
    everything = "\n".join(texts)
    for secret in ("998935550011", "935550011", "93 555 00 11", "998901112233", "901112233",
                   "Dilnoza", "Karimova", "Shahnoza", "Yusupova"):
        assert secret not in everything


async def test_client_services(db: str) -> None:
    client_id, key = await clients.issue_client("  Shahar   App ", "dev@example.uz")
    stored = await Open311Client.select().where(Open311Client.id == client_id).first()
    assert stored is not None
    assert stored["name"] == "Shahar App"
    assert stored["key_digest"] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in json.dumps(stored, default=str)
    assert stored["last_used_at"] is None
    found = await clients.client_for_key(key)
    assert found is not None and found["id"] == client_id
    assert "key_digest" not in found
    used = await Open311Client.select(Open311Client.last_used_at).where(
        Open311Client.id == client_id).first()
    assert used is not None and used["last_used_at"] is not None
    assert await clients.client_for_key("") is None
    assert await clients.client_for_key(key + "x") is None
    listed = await clients.list_clients()
    assert [row["id"] for row in listed] == [client_id]
    assert "key_digest" not in listed[0]
    assert await clients.revoke_client(client_id) is True
    assert await clients.revoke_client(client_id) is False
    assert await clients.client_for_key(key) is None
    entries = await LedgerEntry.select(LedgerEntry.kind, LedgerEntry.subject,
                                       LedgerEntry.payload).order_by(LedgerEntry.seq)
    assert [(e["kind"], e["subject"]) for e in entries] == [
        ("reports.open311_client_issued", f"open311_client:{client_id}"),
        ("reports.open311_client_revoked", f"open311_client:{client_id}")]
    assert all("Shahar" not in str(e["payload"]) and "example" not in str(e["payload"])
               for e in entries)
    for name, contact in (("   ", ""), ("x" * 121, ""), ("App", "c" * 201)):
        with pytest.raises(clients.ClientError):
            await clients.issue_client(name, contact)
    with pytest.raises(clients.ClientError, match="no Open311 client with id 999"):
        await clients.revoke_client(999)


async def invoke(*args: str) -> Result:
    # The command runs its own event loop, so it runs in a thread of its own.
    return await asyncio.to_thread(CliRunner().invoke, cli, ["open311", *args])


async def test_cli_add_and_revoke_a_client(db: str) -> None:
    added = await invoke("add-client", "Shahar App", "--contact", "dev@example.uz")
    assert added.exit_code == 0, added.output
    lines = added.output.strip().splitlines()
    assert lines[0].startswith("Open311 client 'Shahar App' registered (id ")
    assert "shown only this once" in lines[1]
    key = lines[-1]
    assert key.startswith("o311_") and added.output.count(key) == 1
    found = await clients.client_for_key(key)
    assert found is not None and found["name"] == "Shahar App"
    revoked = await invoke("revoke-client", str(found["id"]))
    assert revoked.exit_code == 0, revoked.output
    assert revoked.output.strip() == f"Open311 client {found['id']} revoked."
    assert await clients.client_for_key(key) is None
    again = await invoke("revoke-client", str(found["id"]))
    assert again.output.strip() == f"Open311 client {found['id']} was already revoked."
    unknown = await invoke("revoke-client", "999")
    assert unknown.exit_code == 1
    assert unknown.output.strip() == "Error: no Open311 client with id 999"
    nameless = await invoke("add-client", "  ")
    assert nameless.exit_code == 1
    assert nameless.output.strip() == "Error: a client needs a name"
    assert (await invoke("add-client", "--help")).exit_code == 0
    assert await Open311Client.count() == 1
