"""/api/v1/geo: regions, districts and mahallas as JSON, errors as {"error", "detail"}, and the
OpenAPI document that describes them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ovoz.geo.services import import_mahallas

HEADER = "district_id,name_uz,name_uz_cyrl,name_ru,name_en,latitude,longitude,population"
LANGUAGES = {"uz", "uz-Cyrl", "ru", "en"}


def csv_bytes(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode("utf-8")


async def get_json(client: httpx.AsyncClient, url: str, status: int = 200) -> Any:
    response = await client.get(url)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


async def test_regions(client: httpx.AsyncClient) -> None:
    body = await get_json(client, "/api/v1/geo/regions")
    items = body["items"]
    assert len(items) == 14
    assert [item["id"] for item in items] == list(range(1, 15))
    assert items[0] == {
        "id": 1,
        "names": {
            "uz": "Qoraqalpogʻiston Respublikasi",
            "uz-Cyrl": "Қорақалпоғистон Республикаси",
            "ru": "Республика Каракалпакстан",
            "en": "Republic of Karakalpakstan",
        },
    }
    assert items[13]["names"]["ru"] == "Город Ташкент"
    for item in items:
        assert set(item["names"]) == LANGUAGES
        assert all(item["names"].values())


async def test_districts_of_a_region(client: httpx.AsyncClient) -> None:
    body = await get_json(client, "/api/v1/geo/districts?region_id=7")
    items = body["items"]
    assert len(items) == 13
    assert {item["region_id"] for item in items} == {7}
    chortoq = next(item for item in items if item["id"] == 106)
    assert chortoq == {
        "id": 106,
        "region_id": 7,
        "names": {
            "uz": "Chortoq tumani",
            "uz-Cyrl": "Чортоқ тумани",
            "ru": "Чартакский район",
            "en": "Chortok district",
        },
        "is_pilot": True,
        "centre": {"lat": 41.069, "lon": 71.823},
    }
    others = [item for item in items if item["id"] != 106]
    assert all(item["is_pilot"] is False and item["centre"] is None for item in others)
    assert {set(item["names"]) == LANGUAGES for item in items} == {True}


async def test_every_district_and_exactly_the_pilots(client: httpx.AsyncClient) -> None:
    items = (await get_json(client, "/api/v1/geo/districts"))["items"]
    assert len(items) == 209
    assert len({item["id"] for item in items}) == 209
    assert [item["id"] for item in items if item["is_pilot"]] == [16, 106, 126]
    beruniy = next(item for item in items if item["id"] == 16)
    assert (beruniy["region_id"], beruniy["names"]["uz"]) == (1, "Beruniy tumani")
    karakalpakstan = (await get_json(client, "/api/v1/geo/districts?region_id=1"))["items"]
    assert len(karakalpakstan) == 17
    assert [item["id"] for item in karakalpakstan if item["is_pilot"]] == [16]


async def test_districts_of_an_unknown_region(client: httpx.AsyncClient) -> None:
    body = await get_json(client, "/api/v1/geo/districts?region_id=99", 404)
    assert body == {"error": "not_found", "detail": "No region with id 99."}


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5"])
async def test_districts_with_a_bad_region_id(client: httpx.AsyncClient, value: str) -> None:
    body = await get_json(client, f"/api/v1/geo/districts?region_id={value}", 400)
    assert body["error"] == "bad_request"
    assert "region_id" in body["detail"]
    assert set(body) == {"error", "detail"}


async def test_mahallas_of_a_district(client: httpx.AsyncClient) -> None:
    await import_mahallas(csv_bytes(
            "16,Navbahor MFY,,Навбахор,Navbahor,41.6699,60.7031,1390",
            "16,Doʻstlik MFY,,,,,,",
            "106,Bahor MFY,,,,41.0207,71.8527,1510",
        ),
        demo=True,
    )
    body = await get_json(client, "/api/v1/geo/mahallas?district_id=16")
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (1, 50, 2, 1)
    assert [item["names"]["uz"] for item in body["items"]] == ["Doʻstlik MFY", "Navbahor MFY"]
    dostlik, navbahor = body["items"]
    assert isinstance(navbahor["id"], int)
    assert navbahor == {
        "id": navbahor["id"],
        "district_id": 16,
        "names": {"uz": "Navbahor MFY", "uz-Cyrl": "Навбаҳор МФЙ", "ru": "Навбахор",
                  "en": "Navbahor"},
        "centre": {"lat": 41.6699, "lon": 60.7031},
        "population": 1390,
        "is_demo": True,
    }
    # Names missing in a language fall back to Uzbek; no centre or population is null.
    assert dostlik["names"] == {"uz": "Doʻstlik MFY", "uz-Cyrl": "Дўстлик МФЙ",
                                "ru": "Doʻstlik MFY", "en": "Doʻstlik MFY"}
    assert dostlik["centre"] is None and dostlik["population"] is None

    empty = await get_json(client, "/api/v1/geo/mahallas?district_id=126")
    assert empty == {"items": [], "page": 1, "per_page": 50, "total": 0, "pages": 1}


async def test_mahalla_pages(client: httpx.AsyncClient) -> None:
    names = [f"Mahalla {n:02d}" for n in range(1, 26)]
    await import_mahallas(csv_bytes(*(f"106,{name},,,,,," for name in names)))
    url = "/api/v1/geo/mahallas?district_id=106"
    first = await get_json(client, f"{url}&per_page=10")
    assert (first["page"], first["per_page"], first["total"], first["pages"]) == (1, 10, 25, 3)
    assert [item["names"]["uz"] for item in first["items"]] == names[:10]
    last = await get_json(client, f"{url}&per_page=10&page=3")
    assert (last["page"], last["total"], last["pages"]) == (3, 25, 3)
    assert [item["names"]["uz"] for item in last["items"]] == names[20:]
    past = await get_json(client, f"{url}&per_page=10&page=9")
    assert (past["items"], past["page"], past["pages"]) == (last["items"], 3, 3)
    everything = await get_json(client, f"{url}&per_page=200")
    assert (len(everything["items"]), everything["pages"]) == (25, 1)
    one = await get_json(client, f"{url}&per_page=1&page=25")
    assert [item["names"]["uz"] for item in one["items"]] == ["Mahalla 25"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("per_page=201", "per_page"), ("per_page=0", "per_page"), ("page=0", "page"),
     ("page=abc", "page"), ("district_id=abc", "district_id"), ("q=" + "x" * 101, "q")],
)
async def test_mahallas_with_bad_parameters(client: httpx.AsyncClient, query: str, field: str
                                            ) -> None:
    if not query.startswith("district_id"):
        query = f"district_id=16&{query}"
    body = await get_json(client, f"/api/v1/geo/mahallas?{query}", 400)
    assert body["error"] == "bad_request"
    assert field in body["detail"]


async def test_mahalla_search(client: httpx.AsyncClient) -> None:
    await import_mahallas(csv_bytes(
        "16,Doʻstlik MFY,,,,,,", "16,Янгиобод МФЙ,,,,,,", "16,Navbahor MFY,,,,,,",
        "106,Doʻstlik MFY,,,,,,",
    ))
    url = "/api/v1/geo/mahallas?district_id=16&q="
    found = await get_json(client, url + "dostlik")
    assert [item["names"]["uz"] for item in found["items"]] == ["Doʻstlik MFY"]
    assert (found["total"], found["pages"]) == (1, 1)
    assert [i["district_id"] for i in found["items"]] == [16]
    dostlik_cyrl = await get_json(client, url + "дўстлик")
    assert [item["names"]["uz"] for item in dostlik_cyrl["items"]] == ["Doʻstlik MFY"]
    latin = await get_json(client, url + "yangiobod")
    assert [item["names"]["uz"] for item in latin["items"]] == ["Янгиобод МФЙ"]
    apostrophe = await get_json(client, url + "Do%27stlik")
    assert apostrophe["total"] == 1
    blank = await get_json(client, url + "%20%20")
    assert blank["total"] == 3
    nothing = await get_json(client, url + "samarqand")
    assert nothing == {"items": [], "page": 1, "per_page": 50, "total": 0, "pages": 1}


async def test_mahallas_without_or_with_an_unknown_district(client: httpx.AsyncClient) -> None:
    missing = await get_json(client, "/api/v1/geo/mahallas", 400)
    assert missing["error"] == "bad_request"
    assert "district_id" in missing["detail"]
    unknown = await get_json(client, "/api/v1/geo/mahallas?district_id=99999", 404)
    assert unknown == {"error": "not_found", "detail": "No district with id 99999."}


async def test_openapi_lists_the_geo_api_and_no_pages(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/schema")
    assert response.status_code == 200
    document = response.json()
    paths = document["paths"]
    for path in ("/api/v1/geo/regions", "/api/v1/geo/districts", "/api/v1/geo/mahallas"):
        assert "get" in paths[path]
        assert "places" in paths[path]["get"]["tags"]
    parameters = {p["name"]: p for p in paths["/api/v1/geo/mahallas"]["get"]["parameters"]}
    assert set(parameters) == {"district_id", "q", "page", "per_page"}
    assert parameters["district_id"]["required"] is True
    assert all(path.startswith("/api/") for path in paths)
    assert "/" not in paths
    assert not [path for path in paths if path.startswith("/places")]
    assert not [path for path in paths if "static" in path or "healthz" in path]
