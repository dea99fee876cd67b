# Uzbek names in both scripts and typed apostrophes are what much of this file is about.
"""Places services: loading the shipped regions and districts, importing mahallas from CSV
(all or nothing, with line-numbered errors), the ledger entries an import appends, and the
mahalla search that ignores script, case and apostrophes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ovoz.geo import services
from ovoz.geo.services import (
    ImportSummary,
    MahallaImportError,
    RowError,
    import_mahallas,
    load_places,
    mahalla_page,
)
from ovoz.geo.tables import District, Mahalla, Region
from ovoz.i18n.translit import APOSTROPHE_OKINA
from ovoz.ledger import services as ledger_services
from ovoz.ledger.tables import LedgerEntry

HEADER = "district_id,name_uz,name_uz_cyrl,name_ru,name_en,latitude,longitude,population"


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


async def mahallas_of(district_id: int) -> dict[str, dict[str, Any]]:
    rows = await Mahalla.select().where(Mahalla.district == district_id)
    return {row["name_uz"]: row for row in rows}


async def ledger_rows() -> list[dict[str, Any]]:
    rows = await LedgerEntry.select(
        LedgerEntry.kind, LedgerEntry.subject, LedgerEntry.payload
    ).order_by(LedgerEntry.seq)
    return [{**row, "payload": json.loads(row["payload"])} for row in rows]


async def refused(data: bytes) -> list[RowError]:
    with pytest.raises(MahallaImportError) as caught:
        await import_mahallas(data)
    return caught.value.errors


# --- load_places -------------------------------------------------------------------------


async def test_load_places_is_idempotent_and_refreshes_names(db: str) -> None:
    assert await Region.count() == 14
    assert await District.count() == 209
    await Region.update({Region.name_en: "Changed by hand"}).where(Region.id == 1)
    await District.update(
        {District.name_uz: "Eski nom", District.centre_lat: None, District.centre_lon: None}
    ).where(District.id == 16)
    try:
        assert await load_places() == (14, 209)
        assert await load_places() == (14, 209)
    finally:
        await load_places()  # the shared places must stay as shipped whatever happens here
    assert await Region.count() == 14
    assert await District.count() == 209
    region = await services.region(1)
    assert region is not None
    assert region["name_en"] == "Republic of Karakalpakstan"
    assert region["name_uz"] == "Qoraqalpogʻiston Respublikasi"
    beruniy = await services.district(16)
    assert beruniy is not None
    assert beruniy["name_uz"] == "Beruniy tumani"
    assert beruniy["name_ru"] == "Берунийский район"
    assert beruniy["region"] == 1
    assert (beruniy["centre_lat"], beruniy["centre_lon"]) == (41.691, 60.752)
    # A district without a known centre keeps none.
    amudaryo = await services.district(15)
    assert amudaryo is not None
    assert amudaryo["centre_lat"] is None and amudaryo["centre_lon"] is None


async def test_region_and_district_lookups(db: str) -> None:
    regions = await services.regions()
    assert [r["id"] for r in regions] == list(range(1, 15))
    assert regions[13]["name_uz"] == "Toshkent shahri"
    karakalpakstan = await services.districts(1)
    assert len(karakalpakstan) == 17
    assert {d["region"] for d in karakalpakstan} == {1}
    assert len(await services.districts()) == 209
    assert await services.region(99) is None
    assert await services.district(99_999) is None
    assert await services.is_pilot(16) and await services.is_pilot(106)
    assert await services.is_pilot(126)
    assert not await services.is_pilot(15)
    pilots = await services.pilot_districts()
    assert [(p["id"], p["region"]["name_uz"]) for p in pilots] == [
        (16, "Qoraqalpogʻiston Respublikasi"),
        (106, "Namangan viloyati"),
        (126, "Surxandaryo viloyati"),
    ]


# --- import_mahallas: the happy path ------------------------------------------------------

GOOD_FILE = csv_bytes(
    "16,Navbahor MFY,,,,41.6699,60.7031,1390",
    "16,Do'stlik MFY,,Дустлик,Dostlik,41.6397,60.757,4 640",
    "16,Bog`bon MFY,Боғбон МФЙ,,,,,",
    "106,Bahor MFY,,,,41.0207,71.8527,\"1,510\"",
)


async def test_import_creates_then_updates(db: str) -> None:
    summary = await import_mahallas(GOOD_FILE)
    assert summary == ImportSummary(created=4, updated=0, districts=(16, 106))
    assert await Mahalla.count() == 4

    beruniy = await mahallas_of(16)
    assert set(beruniy) == {"Navbahor MFY", "Doʻstlik MFY", "Bogʻbon MFY"}
    navbahor = beruniy["Navbahor MFY"]
    assert navbahor["name_uz_cyrl"] == "Навбаҳор МФЙ"  # transliterated: the column was blank
    assert (navbahor["centre_lat"], navbahor["centre_lon"]) == (41.6699, 60.7031)
    assert navbahor["population"] == 1390
    assert navbahor["name_ru"] == "" and navbahor["name_en"] == ""
    assert navbahor["is_demo"] is False
    dostlik = beruniy["Doʻstlik MFY"]
    assert dostlik["name_uz"] == f"Do{APOSTROPHE_OKINA}stlik MFY"
    assert dostlik["name_uz_cyrl"] == "Дўстлик МФЙ"
    assert (dostlik["name_ru"], dostlik["name_en"]) == ("Дустлик", "Dostlik")
    assert dostlik["population"] == 4640  # "4 640" as people write it
    bogbon = beruniy["Bogʻbon MFY"]
    assert bogbon["name_uz_cyrl"] == "Боғбон МФЙ"  # given, so kept
    assert bogbon["centre_lat"] is None and bogbon["population"] is None
    assert (await mahallas_of(106))["Bahor MFY"]["population"] == 1510

    # The same file again: every row is found by district and name and updated.
    again = await import_mahallas(GOOD_FILE)
    assert again == ImportSummary(created=0, updated=4, districts=(16, 106))
    assert await Mahalla.count() == 4
    assert {r["id"] for r in (await mahallas_of(16)).values()} == {
        r["id"] for r in beruniy.values()
    }

    # A corrected file changes the values; the name typed with another apostrophe is the
    # same mahalla.
    corrected = csv_bytes("16,Do\u2019stlik MFY,,,,41.64,60.76,5000")
    assert await import_mahallas(corrected, demo=True) == ImportSummary(
        created=0, updated=1, districts=(16,)
    )
    dostlik = (await mahallas_of(16))["Doʻstlik MFY"]
    assert (dostlik["centre_lat"], dostlik["centre_lon"], dostlik["population"]) == (
        41.64, 60.76, 5000,
    )
    assert dostlik["is_demo"] is True
    assert await Mahalla.count() == 4


async def test_a_name_differing_only_in_case_is_the_same_mahalla(db: str) -> None:
    # Within one file "do'stlik mfy" repeats "Doʻstlik MFY"; a later file must agree.
    await import_mahallas(csv_bytes("16,Yangi Hayot MFY,,,,,,1000"))
    summary = await import_mahallas(csv_bytes("16,yangi hayot MFY,,,,,,1200"))
    assert summary == ImportSummary(created=0, updated=1, districts=(16,))
    rows = await mahallas_of(16)
    assert list(rows) == ["yangi hayot MFY"]
    assert rows["yangi hayot MFY"]["population"] == 1200
    assert rows["yangi hayot MFY"]["name_uz_cyrl"] == "янги ҳаёт МФЙ"


async def test_import_accepts_a_byte_order_mark_and_the_two_required_columns(db: str) -> None:
    data = "\ufeffdistrict_id, name_uz \r\n126,  Boysun   MFY \r\n".encode()
    assert await import_mahallas(data) == ImportSummary(created=1, updated=0, districts=(126,))
    row = (await mahallas_of(126))["Boysun MFY"]
    assert row["name_uz_cyrl"] == "Бойсун МФЙ"


async def test_demo_file_imports(db: str) -> None:
    from ovoz.settings import ROOT

    data = (ROOT / "seeds" / "demo" / "mahallas.csv").read_bytes()
    summary = await import_mahallas(data, demo=True)
    assert summary.created == 36 and summary.updated == 0
    assert summary.districts == (16, 106, 126)
    assert await Mahalla.count().where(Mahalla.is_demo.eq(True)) == 36


# --- import_mahallas: all or nothing ------------------------------------------------------


async def test_a_file_with_bad_rows_is_refused_whole(db: str) -> None:
    await import_mahallas(csv_bytes("16,Navbahor MFY,,,,41.6699,60.7031,1390"))
    entries_before = await ledger_rows()
    data = csv_bytes(
        "16,Doʻstlik MFY,,,,41.6397,60.757,4640",  # 2: good
        "99999,Obod MFY,,,,,,",  # 3: unknown district
        "16,   ,,,,,,",  # 4: empty name
        "16,Sharq MFY,,,,50.1,60.7,100",  # 5: latitude outside Uzbekistan
        "16,Obod MFY,,,,41.6,,100",  # 6: only latitude
        "16,Tinchlik MFY,,,,,,many",  # 7: population not a number
        "16,do'stlik mfy,,,,,,",  # 8: the same as line 2
        "16,Guliston MFY,,,,41.6,60.7,100,extra",  # 9: too many values
        "16,Navbahor MFY,,,,41.6699,60.7031,9999",  # 10: good, an update
        "abc,Chinor MFY,,,,,,",  # 11: district not a number
        "16,Nurafshon MFY,,,,41.6,north,",  # 12: longitude not a number
    )
    errors = await refused(data)
    assert [error.line for error in errors] == [3, 4, 5, 6, 7, 8, 9, 11, 12]
    messages = {error.line: error.message for error in errors}
    assert "99999" in messages[3] and "district" in messages[3]
    assert "name_uz is empty" in messages[4]
    assert "latitude" in messages[5] and "outside Uzbekistan" in messages[5]
    assert "both latitude and longitude" in messages[6]
    assert "population" in messages[7] and "many" in messages[7]
    assert "line 2" in messages[8]
    assert "more values than columns" in messages[9]
    assert "abc" in messages[11]
    assert "longitude" in messages[12] and "north" in messages[12]
    assert str(errors[0]).startswith("line 3: ")

    # Nothing was imported or changed, and nothing was recorded.
    rows = await mahallas_of(16)
    assert set(rows) == {"Navbahor MFY"}
    assert rows["Navbahor MFY"]["population"] == 1390
    assert await Mahalla.count() == 1
    assert await ledger_rows() == entries_before


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("district_id,name,latitude", ["missing column name_uz", "unknown column 'name'"]),
        ("name_uz,lat,lon", ["missing column district_id", "unknown column 'lat'",
                             "unknown column 'lon'"]),
        (HEADER + ",notes", ["unknown column 'notes'"]),
    ],
)
async def test_bad_columns_are_reported_at_line_1(db: str, header: str, expected: list[str]
                                                  ) -> None:
    errors = await refused(csv_bytes("16,Navbahor MFY,41.6", header=header))
    assert len(errors) == 1
    assert errors[0].line == 1
    for problem in expected:
        assert problem in errors[0].message
    assert "district_id, name_uz, name_uz_cyrl" in errors[0].message  # the expected columns
    assert await Mahalla.count() == 0


async def test_a_file_that_is_not_utf8_is_refused(db: str) -> None:
    data = (HEADER + "\n16,Navbahor MFY,,,,,,\n16,Bahor MFY,,Бахор,,,,\n").encode("cp1251")
    assert await refused(data) == [RowError(3, "the file is not UTF-8 text", "not_utf8")]
    assert await Mahalla.count() == 0


@pytest.mark.parametrize("data", [b"", b"\n", csv_bytes(), "\ufeff".encode()])
async def test_an_empty_file_is_refused(db: str, data: bytes) -> None:
    errors = await refused(data)
    assert len(errors) == 1 and errors[0].line == 1
    if data == csv_bytes():
        assert errors[0].message == "the file has no mahallas"
    else:
        assert "missing column district_id" in errors[0].message
    assert await Mahalla.count() == 0
    assert await LedgerEntry.count() == 0


async def test_overlong_values_are_refused_with_their_line(db: str) -> None:
    long_name = "Navbahor " * 20  # 180 characters
    errors = await refused(
        csv_bytes(
            "16,Bahor MFY,,,,,,",
            f"16,{long_name},,,,,,",
            f"16,Sharq MFY,,{long_name},,,,",
            f"16,Obod MFY,,,{long_name},,,",
            f"16,Chinor MFY,{long_name},,,,,",
            "16,Ittifoq MFY,,,,,,3000000000",
        )
    )
    assert [error.line for error in errors] == [3, 4, 5, 6, 7]
    assert "name_uz" in errors[0].message
    assert "name_ru" in errors[1].message
    assert "name_en" in errors[2].message
    assert "name_uz_cyrl" in errors[3].message
    assert "population" in errors[4].message
    assert await Mahalla.count() == 0


# --- the ledger ---------------------------------------------------------------------------


async def test_each_import_records_one_entry_per_district(db: str) -> None:
    await import_mahallas(GOOD_FILE)
    assert await ledger_rows() == [
        {"kind": "geo.mahallas_imported", "subject": "district:16", "payload": {"mahallas": 3}},
        {"kind": "geo.mahallas_imported", "subject": "district:106",
         "payload": {"mahallas": 1}},
    ]
    await import_mahallas(csv_bytes("126,Boysun MFY,,,,,,", "16,Navbahor MFY,,,,,,"))
    entries = await ledger_rows()
    assert len(entries) == 4
    assert entries[2:] == [
        {"kind": "geo.mahallas_imported", "subject": "district:16", "payload": {"mahallas": 1}},
        {"kind": "geo.mahallas_imported", "subject": "district:126",
         "payload": {"mahallas": 1}},
    ]
    # Counts only: no mahalla names, places or people in what the public ledger keeps.
    stored = await LedgerEntry.select(LedgerEntry.payload).output(as_list=True)
    for text in stored:
        assert set(json.loads(text)) == {"mahallas"}
        for word in ("Navbahor", "Boysun", "MFY", "population", "41."):
            assert word not in text
    verification = await ledger_services.verify()
    assert verification.intact and verification.checked == 4


# --- mahalla_page -------------------------------------------------------------------------

SEARCH_FILE = csv_bytes(
    "16,Doʻstlik MFY,,Дружба,Friendship,,,",
    "16,Янгиобод МФЙ,,,,,,",  # Cyrillic only: name_uz written in Cyrillic, no Latin anywhere
    "16,Navbahor MFY,Navbahor MFY,,,,,",  # Latin only
    "16,Gulbogʻ MFY,,,,,,",
    "106,Doʻstlik MFY,,,,,,",  # the same name in another district
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("dostlik", ["Doʻstlik MFY"]),
        ("DOʻSTLIK", ["Doʻstlik MFY"]),
        ("Do'stlik", ["Doʻstlik MFY"]),
        ("do`stlik m", ["Doʻstlik MFY"]),
        ("Дўстлик", ["Doʻstlik MFY"]),
        ("дружба", ["Doʻstlik MFY"]),
        ("friendship", ["Doʻstlik MFY"]),
        ("yangiobod", ["Янгиобод МФЙ"]),
        ("Yangi", ["Янгиобод МФЙ"]),
        ("навбаҳор", ["Navbahor MFY"]),
        ("NAVBAHOR", ["Navbahor MFY"]),
        ("gulbog", ["Gulbogʻ MFY"]),
        ("ГУЛБОҒ", ["Gulbogʻ MFY"]),
        ("Дустлик", ["Doʻstlik MFY"]),  # typed on a Russian keyboard, which has no ў
        ("гулбог", ["Gulbogʻ MFY"]),
        ("навбахор", ["Navbahor MFY"]),
        ("mfy", ["Doʻstlik MFY", "Gulbogʻ MFY", "Navbahor MFY", "Янгиобод МФЙ"]),
        ("qashqadaryo", []),
    ],
)
async def test_search_ignores_script_case_and_apostrophes(db: str, query: str,
                                                          expected: list[str]) -> None:
    await import_mahallas(SEARCH_FILE)
    result = await mahalla_page(16, query, 1, 20)
    assert [row["name_uz"] for row in result.items] == expected
    assert result.total == len(expected)
    assert {row["district"] for row in result.items} <= {16}


async def test_blank_search_lists_everything(db: str) -> None:
    await import_mahallas(SEARCH_FILE)
    for search in (None, "", "   ", "''"):
        result = await mahalla_page(16, search, 1, 20)
        assert result.total == 4
        assert [row["name_uz"] for row in result.items] == [
            "Doʻstlik MFY", "Gulbogʻ MFY", "Navbahor MFY", "Янгиобод МФЙ",
        ]
    assert (await mahalla_page(126, None, 1, 20)).total == 0


async def test_pages(db: str) -> None:
    names = [f"Mahalla {n:02d}" for n in range(1, 26)]
    await import_mahallas(csv_bytes(*(f"106,{name},,,,,," for name in reversed(names))))
    first = await mahalla_page(106, None, 1, 10)
    assert [row["name_uz"] for row in first.items] == names[:10]
    assert (first.number, first.per_page, first.total, first.pages) == (1, 10, 25, 3)
    assert not first.has_previous and first.has_next
    last = await mahalla_page(106, None, 3, 10)
    assert [row["name_uz"] for row in last.items] == names[20:]
    assert last.has_previous and not last.has_next
    assert last.as_json() == {"page": 3, "per_page": 10, "total": 25, "pages": 3}
    past = await mahalla_page(106, None, 4, 10)
    assert (past.number, past.items) == (3, last.items)

    # A search is cut into pages the same way.
    found = await mahalla_page(106, "mahalla", 2, 10)
    assert [row["name_uz"] for row in found.items] == names[10:20]
    assert (found.total, found.pages) == (25, 3)
    narrow = await mahalla_page(106, "mahalla 1", 1, 5)
    assert [row["name_uz"] for row in narrow.items] == names[9:14]
    assert (narrow.total, narrow.pages) == (10, 2)


async def test_mahalla_counts(db: str) -> None:
    await import_mahallas(GOOD_FILE)
    assert await services.mahalla_counts([16, 106, 126]) == {16: 3, 106: 1}
    assert await services.mahalla_counts([]) == {}
