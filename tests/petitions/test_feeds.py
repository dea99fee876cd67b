"""The petitions' open data: a CSV of the public petitions and one of signatures by mahalla,
with a BOM, formulas neutralised, and no personal data."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from ovoz.geo.tables import Mahalla
from ovoz.petitions import feeds, services
from ovoz.petitions.tables import Petition
from tests.petitions.helpers import (
    beruniy_mahallas,
    district_petition,
    make_district_official,
    make_verified,
)
from tests.petitions.test_api import collecting, phone


def _rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def _header(response: httpx.Response) -> list[str]:
    return next(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


async def _sign_in_mahallas(petition_id: int, first: int, homes: list[int]) -> list[int]:
    residents = [await make_verified(first + n, home) for n, home in enumerate(homes)]
    for resident_id in residents:
        await services.sign(petition_id, resident_id)
    return residents


async def test_a_row_per_public_petition(client: httpx.AsyncClient) -> None:
    answered = await collecting(100)
    collecting_id = await collecting(200, "Qishloq yo‘lini ta’mirlash kerak", "roads")
    mahallas = await beruniy_mahallas()
    draft = await services.create_draft(await make_verified(300, mahallas[0]),
                                        district_petition("Hali qoralama bo‘lgan murojaat"))
    await Petition.update({Petition.threshold: 2}).where(Petition.id == answered)
    await _sign_in_mahallas(answered, 1, [mahallas[0], mahallas[1]])
    await _sign_in_mahallas(collecting_id, 10, [mahallas[2]])
    await services.respond(await make_district_official(), answered, "accepted",
                           "Maktab qurilishi 2027 yil rejasiga kiritildi.",
                           "Alisher Qodirov", "Tuman hokimining o‘rinbosari")

    response = await client.get("/petitions.csv")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="ovoz-petitions-')
    assert _header(response) == list(feeds.CSV_COLUMNS)
    rows = {int(row["id"]): row for row in _rows(response)}
    assert draft not in rows
    assert set(rows) == {answered, collecting_id}
    first = rows[answered]
    assert (first["status"], first["signatures"], first["threshold"]) == ("responded", "2", "2")
    assert (first["level"], first["topic"]) == ("district_hokimiyat", "education")
    assert (first["region_id"], first["district_id"], first["mahalla_id"]) == ("1", "16", "")
    assert first["decision"] == "accepted"
    for column in ("opened_at", "closes_at", "threshold_reached_at", "response_due_at",
                   "responded_at"):
        assert first[column].endswith("Z"), column
    assert first["url"] == services.link(answered)
    second = rows[collecting_id]
    assert (second["status"], second["signatures"], second["decision"]) == ("open", "1", "")
    assert second["title"] == "Qishloq yo‘lini ta’mirlash kerak"
    assert second["threshold_reached_at"] == second["responded_at"] == ""


async def test_signatures_by_mahalla(client: httpx.AsyncClient) -> None:
    petition_id = await collecting(100)
    mahallas = await beruniy_mahallas()
    await _sign_in_mahallas(petition_id, 1, [mahallas[0], mahallas[0], mahallas[1]])
    official = await make_district_official()
    await services.sign(petition_id, await make_verified(20, mahallas[1]), channel="assisted",
                        assisted_by=official.id)
    await services.sign(petition_id, await make_verified(21, mahallas[1]), channel="assisted",
                        assisted_by=official.id)
    names = {row["id"]: row["name_uz"] for row in await Mahalla.select(
        Mahalla.id, Mahalla.name_uz).where(Mahalla.id.is_in(mahallas[:2]))}

    response = await client.get(f"/petitions/{petition_id}/signatures.csv")
    assert response.headers["content-disposition"] == (
        f'attachment; filename="ovoz-petition-{petition_id}-signatures.csv"')
    assert _header(response) == list(feeds.SIGNATURE_COLUMNS)
    assert _rows(response) == [
        {"mahalla_id": str(mahallas[1]), "mahalla_name": names[mahallas[1]],
         "signatures": "3", "assisted": "2"},
        {"mahalla_id": str(mahallas[0]), "mahalla_name": names[mahallas[0]],
         "signatures": "2", "assisted": "0"},
    ]


async def test_petitions_not_public_have_no_signatures_csv(client: httpx.AsyncClient) -> None:
    petition_id = await collecting(100)
    await Petition.update({Petition.status: services.IN_MODERATION}).where(
        Petition.id == petition_id)
    for path in (f"/petitions/{petition_id}/signatures.csv", "/petitions/99999/signatures.csv",
                 f"/petitions/{2**40}/signatures.csv"):
        assert (await client.get(path)).status_code == 404, path
    assert _rows(await client.get("/petitions.csv")) == []


async def test_the_csvs_hold_no_personal_data(client: httpx.AsyncClient) -> None:
    petition_id = await collecting(100)
    mahallas = await beruniy_mahallas()
    await _sign_in_mahallas(petition_id, 1, mahallas[:3])
    listing = await client.get("/petitions.csv")
    signatures = await client.get(f"/petitions/{petition_id}/signatures.csv")
    assert listing.status_code == signatures.status_code == 200
    # The author (100), the sponsors (101-105) and the signers (1-3).
    for number in (100, 101, 105, 1, 2, 3):
        for response in (listing, signatures):
            assert phone(number) not in response.text
            assert phone(number)[1:] not in response.text
            assert f"Fuqaro {number}" not in response.text


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
async def test_formulas_are_neutralised(client: httpx.AsyncClient, start: str) -> None:
    petition_id = await collecting(100, f"{start}HYPERLINK(\"http://bad.example\")")
    [row] = _rows(await client.get("/petitions.csv"))
    assert row["id"] == str(petition_id)
    assert row["title"] == f"'{start}HYPERLINK(\"http://bad.example\")"


async def test_the_export_comes_in_batches(client: httpx.AsyncClient,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feeds, "BATCH_SIZE", 2)
    created = [await collecting(100 * n, f"Murojaat raqami {n} bo‘yicha talab") for n in
               range(1, 6)]
    chunks = [chunk async for chunk in feeds.csv_chunks()]
    # The header, then two full batches and the one row left.
    assert len(chunks) == 4
    rows = _rows(await client.get("/petitions.csv"))
    assert [int(row["id"]) for row in rows] == sorted(created)
