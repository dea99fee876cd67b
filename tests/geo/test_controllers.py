"""The places pages: regions -> districts -> mahallas, search, pages, the htmx fragment and the
error pages. The interface is asked for in English, so the words checked stay those of the
templates whatever the Uzbek and Russian catalogs say."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from ovoz.geo.services import import_mahallas

HTMX = {"HX-Request": "true", "HX-Target": "mahallas"}
# Sorted by name: "Doʻstlik MFY", then "Mahalla 01" ... "Mahalla 25".
NAMES = ["Doʻstlik MFY", *(f"Mahalla {n:02d}" for n in range(1, 26))]


@pytest.fixture
async def english(client: httpx.AsyncClient) -> httpx.AsyncClient:
    client.headers["Accept-Language"] = "en"
    return client


async def import_many(district_id: int = 106) -> None:
    rows = [f"{district_id},Mahalla {n:02d},,,{n * 100}" for n in range(1, 26)]
    rows.append(f"{district_id},Do'stlik MFY,Дўстлик МФЙ,Дружба,")
    data = "district_id,name_uz,name_uz_cyrl,name_ru,population\n" + "\n".join(rows) + "\n"
    await import_mahallas(data.encode(), demo=True)


def text_of(markup: str) -> str:
    """What a reader sees: tags removed, entities decoded, white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", markup)).split())


def main_of(markup: str) -> str:
    start, end = markup.index('<main id="main"'), markup.index("</main>")
    return markup[start:end]


def listed_mahallas(markup: str) -> list[str]:
    fragment = markup[markup.index('<div id="mahallas"'):]
    return [text_of(item).split(" Demo")[0] for item in re.findall(r"<li>(.*?)</li>", fragment)]


async def get_page(client: httpx.AsyncClient, url: str, status: int = 200,
                   headers: dict[str, str] | None = None) -> str:
    response = await client.get(url, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


async def test_regions_page_lists_every_region(english: httpx.AsyncClient) -> None:
    markup = await get_page(english, "/places")
    links = re.findall(r'<a href="/places/regions/(\d+)">([^<]+)</a>', main_of(markup))
    assert [int(region_id) for region_id, _ in links] == list(range(1, 15))
    assert links[0] == ("1", "Republic of Karakalpakstan")
    assert links[6] == ("7", "Namangan Region")
    assert "<title>Places · Ovoz</title>" in markup
    # The section is marked as the current one in the navigation.
    assert '<a href="/places" aria-current="page">Places</a>' in markup


@pytest.mark.parametrize(
    ("language", "name"),
    [("uz", "Qoraqalpogʻiston Respublikasi"), ("uz-Cyrl", "Қорақалпоғистон Республикаси"),
     ("ru", "Республика Каракалпакстан")],
)
async def test_region_names_follow_the_reader(client: httpx.AsyncClient, language: str,
                                              name: str) -> None:
    markup = await get_page(client, f"/places?lang={language}")
    assert f'<a href="/places/regions/1">{name}</a>' in markup


async def test_region_page_lists_its_districts(english: httpx.AsyncClient) -> None:
    await import_many(106)
    await import_mahallas(b"district_id,name_uz\n97,Bahor MFY\n")
    markup = main_of(await get_page(english, "/places/regions/7"))
    links = re.findall(r'<a href="/places/districts/(\d+)">([^<]+)</a>', markup)
    assert [int(d) for d, _ in links] == [97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107,
                                          108, 220]
    assert ("106", "Chortok district") in links
    assert '<a href="/places">Places</a>' in markup  # breadcrumbs
    assert "<h1>Namangan Region</h1>" in markup
    items = {text_of(item).split(" ")[0]: text_of(item)
             for item in re.findall(r"<li>(.*?)</li>", markup, re.S)}
    assert items["Chortok"] == "Chortok district Pilot district 26 mahallas"
    assert items["Kosonsoy"] == "Kosonsoy district 1 mahalla"
    assert items["Chust"] == "Chust district"
    assert markup.count("Pilot district") == 1


async def test_region_page_of_another_pilot(english: httpx.AsyncClient) -> None:
    markup = main_of(await get_page(english, "/places/regions/1"))
    assert len(re.findall(r'<a href="/places/districts/\d+">', markup)) == 17
    assert markup.count("Pilot district") == 1
    assert re.search(r'districts/16">Beruni district</a>\s*<strong class="tag tag-pilot">',
                     markup)
    assert "mahalla" not in text_of(markup)  # none imported, so no counts


async def test_district_page_lists_mahallas(english: httpx.AsyncClient) -> None:
    await import_many(106)
    await import_mahallas(b"district_id,name_uz,population\n106,Real MFY,\n")
    markup = await get_page(english, "/places/districts/106")
    main = main_of(markup)
    assert "<h1>Chortok district</h1>" in main
    assert '<a href="/places/regions/7">Namangan Region</a>' in main
    assert "Pilot district" in main
    assert "27 mahallas" in text_of(main)
    assert listed_mahallas(main) == NAMES[:20]
    items = re.findall(r"<li>(.*?)</li>", main)
    assert text_of(items[0]) == "Doʻstlik MFY Demo"
    assert text_of(items[1]) == "Mahalla 01 Demo population 100"
    assert 'class="tag tag-demo"' in items[1]
    second = main_of(await get_page(english, "/places/districts/106?page=2"))
    real = [item for item in re.findall(r"<li>(.*?)</li>", second) if "Real MFY" in item]
    assert [text_of(item) for item in real] == ["Real MFY"]  # not a demo mahalla: no tag
    assert listed_mahallas(second) == [*NAMES[20:], "Real MFY"]


async def test_district_without_mahallas_and_not_a_pilot(english: httpx.AsyncClient) -> None:
    main = main_of(await get_page(english, "/places/districts/97"))
    assert "<h1>Kosonsoy district</h1>" in main
    assert "Pilot district" not in main
    assert "No mahallas have been added for this district yet." in main
    assert 'class="pagination"' not in main


async def test_pages_have_links(english: httpx.AsyncClient) -> None:
    await import_many(106)
    first = main_of(await get_page(english, "/places/districts/106"))
    assert listed_mahallas(first) == NAMES[:20]
    assert "Page 1 of 2" in first
    assert 'rel="prev"' not in first
    assert re.search(
        r'<a rel="next" href="/places/districts/106\?page=2" '
        r'hx-get="/places/districts/106\?page=2" hx-target="#mahallas"', first
    )
    second = main_of(await get_page(english, "/places/districts/106?page=2"))
    assert listed_mahallas(second) == NAMES[20:]
    assert "Page 2 of 2" in second
    assert '<a rel="prev" href="/places/districts/106?page=1"' in second
    assert 'rel="next"' not in second
    # An old link past the end (the list has shrunk) shows the last page.
    past = main_of(await get_page(english, "/places/districts/106?page=7"))
    assert listed_mahallas(past) == NAMES[20:]
    assert "Page 2 of 2" in past


async def test_search_keeps_what_was_typed(english: httpx.AsyncClient) -> None:
    await import_many(106)
    main = main_of(await get_page(english, "/places/districts/106?q=+do%27STLIK+"))
    assert '<input id="q" name="q" type="search" value="do&#39;STLIK"' in main
    assert listed_mahallas(main) == ["Doʻstlik MFY"]
    assert "1 mahalla" in text_of(main)
    cyrillic = main_of(await get_page(english, "/places/districts/106?q=дўстлик"))
    assert 'value="дўстлик"' in cyrillic
    assert listed_mahallas(cyrillic) == ["Doʻstlik MFY"]
    nothing = main_of(await get_page(english, "/places/districts/106?q=Samarqand"))
    assert "No mahalla matches “Samarqand”." in nothing
    assert 'value="Samarqand"' in nothing


async def test_search_results_have_pages_that_keep_the_search(english: httpx.AsyncClient
                                                              ) -> None:
    await import_many(106)
    first = main_of(await get_page(english, "/places/districts/106?q=mahalla"))
    assert listed_mahallas(first) == NAMES[1:21]
    assert "25 mahallas" in text_of(first)
    assert '<a rel="next" href="/places/districts/106?q=mahalla&amp;page=2"' in first
    second = main_of(await get_page(english, "/places/districts/106?q=mahalla&page=2"))
    assert listed_mahallas(second) == NAMES[21:]
    assert 'value="mahalla"' in second
    assert '<a rel="prev" href="/places/districts/106?q=mahalla&amp;page=1"' in second


async def test_search_text_is_escaped(english: httpx.AsyncClient) -> None:
    markup = await get_page(english, '/places/districts/106?q=<script>alert("x")</script>')
    assert "<script>alert" not in markup
    assert 'value="&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"' in markup
    assert "No mahalla matches “&lt;script&gt;" in markup


async def test_htmx_gets_only_the_list(english: httpx.AsyncClient) -> None:
    await import_many(106)
    response = await english.get("/places/districts/106?page=2", headers=HTMX)
    assert response.status_code == 200
    fragment = response.text
    assert fragment.lstrip().startswith('<div id="mahallas"')
    assert fragment.rstrip().endswith("</div>")
    for absent in ("<html", "<head", "<main", "<form", "Chortok district"):
        assert absent not in fragment
    assert listed_mahallas(fragment) == NAMES[20:]
    assert 'hx-get="/places/districts/106?page=1" hx-target="#mahallas"' in fragment
    searched = await get_page(english, "/places/districts/106?q=dostlik", headers=HTMX)
    assert "<html" not in searched and listed_mahallas(searched) == ["Doʻstlik MFY"]
    # The same address answers differently for htmx, so caches must keep them apart.
    for headers in (HTMX, None):
        answer = await english.get("/places/districts/106?page=2", headers=headers)
        varies = ",".join(answer.headers.get_list("vary")).lower()
        assert "hx-request" in varies and "hx-target" in varies


@pytest.mark.parametrize(
    "headers",
    [{"HX-Request": "true"}, {"HX-Request": "true", "HX-Target": "main"},
     {"HX-Request": "true", "HX-History-Restore-Request": "true"}, {"HX-Target": "mahallas"}],
)
async def test_other_htmx_requests_get_the_whole_page(english: httpx.AsyncClient,
                                                      headers: dict[str, str]) -> None:
    await import_many(106)
    markup = await get_page(english, "/places/districts/106", headers=headers)
    assert markup.startswith("<!doctype html>")
    assert "<h1>Chortok district</h1>" in markup
    assert listed_mahallas(main_of(markup)) == NAMES[:20]


@pytest.mark.parametrize(
    "url",
    ["/places/regions/99", "/places/regions/0", "/places/districts/99999",
     "/places/districts/abc", "/places/nowhere"],
)
async def test_unknown_places_give_a_404_page(english: httpx.AsyncClient, url: str) -> None:
    markup = await get_page(english, url, 404)
    assert markup.startswith("<!doctype html>")
    assert "<h1>Page not found</h1>" in markup
    assert '"error"' not in markup


@pytest.mark.parametrize("query", ["page=abc", "page=0", "page=1.5", "q=" + "x" * 101])
async def test_bad_parameters_give_a_400_page(english: httpx.AsyncClient, query: str) -> None:
    markup = await get_page(english, f"/places/districts/106?{query}", 400)
    assert markup.startswith("<!doctype html>")
    assert "<h1>The request could not be handled</h1>" in markup
    assert "Go back and check what you entered." in markup
