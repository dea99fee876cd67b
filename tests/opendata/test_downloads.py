"""Bulk downloads at /data: each dataset in each format matches the data dictionary, carries no
personal data, keeps spreadsheets safe, and streams in batches; the dictionary page lists it
all, with how to check the ledger export."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import geojson
import httpx
import pytest

from ovoz.accountability import scorecards
from ovoz.accountability.tables import Obligation
from ovoz.accounts.tables import Resident, StaffAccount
from ovoz.i18n import locale
from ovoz.ledger import services as ledger
from ovoz.opendata import datasets
from ovoz.opendata.datasets import DATASETS
from ovoz.petitions import feeds as petition_feeds
from ovoz.petitions import services as petitions
from ovoz.planning.tables import Proposal, Result
from ovoz.reports import feeds as report_feeds
from ovoz.reports import services as reports
from tests.accountability.helpers import add_obligation
from tests.petitions.helpers import beruniy_mahallas, make_verified
from tests.petitions.test_api import collecting
from tests.planning.test_results import voted
from tests.reports.helpers import BERUNIY, draft, make_official, make_resident

PHONE = "+998935550011"
NAME = "Zulfiya Karimova"
FORMULA = "=HYPERLINK(\"http://example.org\") by the school gate"
FORMATS = ("csv", "json", "geojson")


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")


@dataclass(frozen=True, slots=True)
class Filled:
    report_id: int
    petition_id: int
    cycle_id: int
    proposal_ids: list[int]
    department_id: int


async def _fill() -> Filled:
    """Something in every dataset: a report (its text starts like a formula) by a named
    resident, a signed petition, a counted budget cycle with a located proposal, and an
    obligation of a department."""
    petition_id = await collecting(100)
    await petitions.sign(petition_id, await make_verified(500, (await beruniy_mahallas())[0]))
    setup = await voted()
    author = await make_resident(PHONE, NAME)
    report_id = await reports.create_report(author, draft(description=FORMULA))
    official = await make_official("zafar.staff")
    await reports.change_status(official, report_id, "acknowledged", "Seen it, on our way.")
    department_id = await reports.create_department(official, BERUNIY, "Yo‘llar bo‘limi")
    await add_obligation(9001, department=department_id,
                         registered=datetime.now(UTC) - timedelta(hours=1))
    await Proposal.update({Proposal.lat: 41.69, Proposal.lon: 60.752}).where(
        Proposal.id == setup.proposals[0])
    return Filled(report_id, petition_id, setup.cycle_id, setup.proposals, department_id)


async def _personal_strings() -> list[str]:
    """Every resident's phone (as stored and without the plus) and name, every staff
    member's username and display name."""
    found: list[str] = []
    for row in await Resident.select(Resident.phone, Resident.display_name):
        found += [row["phone"], row["phone"].lstrip("+"), row["display_name"]]
    for row in await StaffAccount.select(StaffAccount.username, StaffAccount.display_name):
        found += [row["username"], row["display_name"]]
    return [text for text in found if text]


async def _get(client: httpx.AsyncClient, path: str) -> httpx.Response:
    response = await client.get(path)
    assert response.status_code == 200, (path, response.text)
    return response


def _csv(response: httpx.Response) -> list[list[str]]:
    assert response.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


async def test_every_dataset_in_every_format_follows_the_dictionary(
        client: httpx.AsyncClient) -> None:
    filled = await _fill()
    personal = await _personal_strings()
    assert NAME in personal and PHONE in personal and "zafar.staff" in personal
    day = datetime.now(UTC).astimezone(locale.TASHKENT).date().isoformat()
    for dataset in DATASETS.values():
        names = dataset.column_names
        for extension in FORMATS if dataset.located else FORMATS[:2]:
            response = await _get(client, f"/data/{dataset.name}.{extension}")
            assert response.headers["content-disposition"] == (
                f'attachment; filename="ovoz-{dataset.name}-{day}.{extension}"')
            text = response.content.decode("utf-8-sig")
            for secret in personal:
                assert secret not in text, (dataset.name, extension, secret)
            if extension == "csv":
                assert response.headers["content-type"] == "text/csv; charset=utf-8"
                rows = _csv(response)
                assert rows[0] == names
                assert len(rows) > 1, dataset.name
                assert all(len(row) == len(names) for row in rows)
            elif extension == "json":
                assert response.headers["content-type"] == "application/json"
                body = json.loads(text)
                assert body["dataset"] == dataset.name
                assert body["generated_at"].endswith("Z")
                assert [column["name"] for column in body["columns"]] == names
                assert all(column["meaning"] for column in body["columns"])
                assert body["items"], dataset.name
                assert all(list(item) == names for item in body["items"])
            else:
                assert response.headers["content-type"] == "application/geo+json"
                collection = geojson.loads(text)
                assert collection.is_valid, collection.errors()
                assert collection["type"] == "FeatureCollection"
                assert collection["features"], dataset.name
                for feature in collection["features"]:
                    assert feature["geometry"]["type"] == "Point"
                    assert list(feature["properties"]) == [
                        name for name in names if name not in ("lat", "lon")]
    located = geojson.loads((await _get(client, "/data/proposals.geojson")).text)
    assert [f["properties"]["id"] for f in located["features"]] == [filled.proposal_ids[0]]
    assert located["features"][0]["geometry"]["coordinates"] == [60.752, 41.69]


async def test_cells_that_look_like_formulas_are_neutralised_in_csv_only(
        client: httpx.AsyncClient) -> None:
    author = await make_resident(PHONE, NAME)
    report_id = await reports.create_report(author, draft(description=FORMULA))

    rows = _csv(await _get(client, "/data/reports.csv"))
    item = dict(zip(rows[0], rows[1], strict=True))
    assert item["description"] == "'" + FORMULA
    assert (item["id"], item["status"], item["overdue"]) == (str(report_id), "new", "false")
    assert item["registered_at"].endswith("Z") and item["resolved_at"] == ""
    listed = json.loads((await _get(client, "/data/reports.json")).text)["items"]
    assert listed[0]["description"] == FORMULA
    assert (listed[0]["overdue"], listed[0]["resolved_at"], listed[0]["mahalla_id"]) == (
        False, None, listed[0]["mahalla_id"])
    assert listed[0]["url"] == reports.report_link(report_id)


async def test_reports_and_petitions_keep_the_columns_of_their_existing_exports() -> None:
    assert DATASETS["reports"].column_names == list(report_feeds.CSV_COLUMNS)
    assert DATASETS["petitions"].column_names == list(petition_feeds.CSV_COLUMNS)
    figures = [column.name for column in datasets.FIGURE_COLUMNS]
    assert figures == list(scorecards.Figures().as_dict())


async def test_results_and_proposals(client: httpx.AsyncClient) -> None:
    setup = await voted()
    result = await Result.select().where(Result.cycle == setup.cycle_id).first()
    selected = json.loads(result["selected"])
    assert selected

    items = json.loads((await _get(client, "/data/results.json")).text)["items"]
    assert len(items) == 1
    assert items[0]["selected"] == selected
    assert items[0]["ballots_sha256"] == result["ballots_sha256"]
    assert items[0]["ballots_url"].endswith(f"/cycles/{setup.cycle_id}/ballots.pb")
    assert (items[0]["district_id"], items[0]["mahalla_id"]) == (BERUNIY, None)
    rows = _csv(await _get(client, "/data/results.csv"))
    assert dict(zip(rows[0], rows[1], strict=True))["selected"] == " ".join(map(str, selected))
    ballots = await client.get(urlsplit(items[0]["ballots_url"]).path)
    assert ballots.status_code == 200

    proposals = {item["id"]: item for item in
                 json.loads((await _get(client, "/data/proposals.json")).text)["items"]}
    assert set(proposals) == set(setup.proposals)
    for proposal_id in setup.proposals:
        shown = proposals[proposal_id]
        assert shown["selected"] == (proposal_id in selected)
        assert shown["votes"] is not None
        assert (shown["cycle_id"], shown["district_id"]) == (setup.cycle_id, BERUNIY)
        assert shown["due_on"] is None or len(shown["due_on"]) == 10


async def test_obligations_say_what_is_overdue_now(client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    await add_obligation(1, registered=now - timedelta(days=20), due_in=15)
    await add_obligation(2, registered=now - timedelta(days=20), due_in=15, resolved_in=16)
    await add_obligation(3, registered=now - timedelta(days=1), due_in=15)
    await Obligation.update({Obligation.extension_reason: "-1 day: the road is flooded"}).where(
        Obligation.ref == 3)

    items = {item["ref"]: item for item in
             json.loads((await _get(client, "/data/obligations.json")).text)["items"]}
    assert {ref: item["overdue_now"] for ref, item in items.items()} == {
        1: True, 2: False, 3: False}
    assert items[2]["outcome"] == "answered" and items[1]["outcome"] == ""
    assert items[3]["extension_reason"] == "-1 day: the road is flooded"
    rows = _csv(await _get(client, "/data/obligations.csv"))
    by_ref = {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert by_ref["3"]["extension_reason"] == "'-1 day: the road is flooded"
    assert by_ref["1"]["district_id"] == str(BERUNIY) and by_ref["1"]["mahalla_id"] == ""


async def test_scorecards_cover_four_quarters_of_each_pilot_district(
        client: httpx.AsyncClient) -> None:
    official = await make_official("zafar.staff")
    department_id = await reports.create_department(official, BERUNIY, "Yo‘llar bo‘limi")
    now = datetime.now(UTC)
    await add_obligation(1, registered=now - timedelta(hours=2), due_in=15, resolved_in=0.05)
    await add_obligation(2, department=department_id, registered=now - timedelta(hours=1))

    items = json.loads((await _get(client, "/data/scorecards.json")).text)["items"]
    quarters = datasets.last_quarters(now)
    assert quarters[-1] == scorecards.quarter_of(datasets.clock.local_day(now))
    assert sorted({item["quarter"] for item in items}) == sorted(
        f"{q.start.year}-Q{(q.start.month - 1) // 3 + 1}" for q in quarters)
    # Each quarter: three districts, each with its hokimiyat, and Beruniy's one department.
    assert len(items) == 4 * (3 * 2 + 1)
    assert [item["received"] for item in items if item["scope"] == "department"] == [0, 0, 0, 1]
    current = str(quarters[-1].start)
    beruniy = {item["scope"]: item for item in items
               if item["district_id"] == BERUNIY and item["period_from"] == current}
    assert beruniy["district"]["received"] == 2
    assert (beruniy["district"]["resolved"], beruniy["district"]["on_time"]) == (1, 1)
    assert beruniy["hokimiyat"]["received"] == 1
    assert beruniy["department"]["department_id"] == department_id
    assert beruniy["department"]["department_name"] == "Yo‘llar bo‘limi"
    assert (beruniy["department"]["received"], beruniy["department"]["open"]) == (1, 1)
    assert beruniy["district"]["district_name"] == "Beruniy tumani"


async def test_large_downloads_arrive_whole_in_batches(client: httpx.AsyncClient,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets, "BATCH_SIZE", 2)
    for ref in range(1, 6):
        await add_obligation(ref)
    for extension in ("csv", "json"):
        response = await _get(client, f"/data/obligations.{extension}")
        if extension == "csv":
            refs = [row[1] for row in _csv(response)[1:]]
        else:
            refs = [str(item["ref"]) for item in json.loads(response.text)["items"]]
        assert refs == ["1", "2", "3", "4", "5"]
    await add_obligation(6)
    assert len(json.loads((await _get(client, "/data/obligations.json")).text)["items"]) == 6


@pytest.mark.parametrize("path", [
    "/data/people.csv", "/data/reports.xml", "/data/petitions.geojson", "/data/reports",
    "/data/.csv", "/data/reports.csv.json", "/data/ledger.csv",
])
async def test_an_unknown_dataset_or_format_is_not_found(client: httpx.AsyncClient,
                                                         path: str) -> None:
    assert (await client.get(path)).status_code == 404


async def test_the_ledger_download_is_the_export_the_command_writes(
        client: httpx.AsyncClient) -> None:
    for n in range(3):
        await ledger.record("test.counted", f"thing:{n}", {"n": n, "text": "Oʻzbekiston"})
    response = await _get(client, "/data/ledger.jsonl")
    assert response.headers["content-disposition"] == 'attachment; filename="ledger.jsonl"'
    expected = "".join([ledger.export_line(entry) async for entry in ledger.iterate()])
    assert response.content.decode("utf-8") == expected
    assert "Oʻzbekiston" in expected
    head = await ledger.head()
    checked = ledger.verify_export(response.text.splitlines(), head.hash)
    assert (checked.intact, checked.checked, checked.published_seq) == (True, 3, 3)


async def test_the_dictionary_page_lists_every_dataset_and_column(
        client: httpx.AsyncClient) -> None:
    head = await ledger.record("test.counted", "thing:1", {"n": 1})
    page = (await _get(client, "/data")).text
    for dataset in DATASETS.values():
        assert f'href="/data/{dataset.name}.csv"' in page
        assert f'href="/data/{dataset.name}.json"' in page
        assert (f'href="/data/{dataset.name}.geojson"' in page) == dataset.located
        for column in dataset.columns:
            assert f"<code>{column.name}</code>" in page, (dataset.name, column.name)
            assert column.meaning in page, column.meaning
    assert 'href="/data/ledger.jsonl"' in page
    assert f"ovoz ledger verify --export ledger.jsonl --head {head.hash}" in page
    assert "free to reuse" in page
    home = (await _get(client, "/")).text
    assert 'href="/data"' in home
