"""Choosing the reader's language: ?lang= (remembered in a cookie), then the cookie, then
Accept-Language, then Uzbek Latin; the language switch on every page; Vary on every response."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

PAGES = ["/", "/places", "/places/regions/1", "/places/districts/16"]
# Interface code -> (<html lang>, "Places" in that language, the language named in itself).
LANGUAGES = {
    "uz": ("uz-Latn", "Hududlar", "Oʻzbekcha"),
    "uz-Cyrl": ("uz-Cyrl", "Ҳудудлар", "Ўзбекча"),
    "ru": ("ru", "Территории", "Русский"),
    "en": ("en", "Places", "English"),
}
YEAR = 365 * 24 * 3600


def html_lang(markup: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', markup)
    assert found, "the page has no <html lang>"
    return found.group(1)


def places_label(markup: str) -> str:
    """The label of the Places link in the header navigation."""
    nav = re.search(r'<nav class="site-nav".*?</nav>', markup, re.S)
    assert nav, "the page has no header navigation"
    found = re.search(r'<a href="/places"[^>]*>([^<]+)</a>', nav.group(0))
    assert found, "the navigation has no link to /places"
    return found.group(1)


def assert_language(response: httpx.Response, language: str) -> None:
    assert response.status_code == 200, response.text
    tag, places, _ = LANGUAGES[language]
    assert html_lang(response.text) == tag
    assert places_label(response.text) == places


def lang_cookie(response: httpx.Response) -> str | None:
    """The value of the `lang` cookie this response sets, if it sets one."""
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == "lang":
            return rest.split(";")[0]
    return None


def vary(response: httpx.Response) -> set[str]:
    return {
        part.strip().lower()
        for value in response.headers.get_list("vary")
        for part in value.split(",")
        if part.strip()
    }


async def test_default_is_uzbek_latin(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert_language(response, "uz")
    assert ">Asosiy mazmunga oʻtish</a>" in response.text
    # Nothing was chosen, so nothing is remembered.
    assert lang_cookie(response) is None
    assert "lang" not in client.cookies


@pytest.mark.parametrize("language", list(LANGUAGES))
async def test_lang_parameter_switches_and_is_remembered(client: httpx.AsyncClient,
                                                         language: str) -> None:
    response = await client.get(f"/?lang={language}")
    assert_language(response, language)
    header = next(h for h in response.headers.get_list("set-cookie") if h.startswith("lang="))
    attributes = {part.strip().split("=")[0].lower(): part.strip()
                  for part in header.split(";")[1:]}
    assert lang_cookie(response) == language
    assert attributes["path"] == "Path=/"
    assert int(attributes["max-age"].split("=")[1]) >= YEAR
    assert "samesite" in attributes

    # Later requests without ?lang answer in the remembered language, even against the browser.
    for path in ("/places", "/places/regions/1"):
        later = await client.get(path, headers={"Accept-Language": "de, fr;q=0.5"})
        assert_language(later, language)
        assert lang_cookie(later) is None


async def test_lang_parameter_beats_cookie_and_replaces_it(client: httpx.AsyncClient) -> None:
    assert_language(await client.get("/?lang=ru"), "ru")
    response = await client.get("/places?lang=en", headers={"Accept-Language": "ru"})
    assert_language(response, "en")
    assert lang_cookie(response) == "en"
    assert_language(await client.get("/places", headers={"Accept-Language": "ru"}), "en")


@pytest.mark.parametrize(
    ("asked", "language"),
    [("uz-Latn", "uz"), ("UZ", "uz"), ("uz_Cyrl", "uz-Cyrl"), ("ru-RU", "ru"), ("en-GB", "en")],
)
async def test_lang_parameter_accepts_common_spellings(client: httpx.AsyncClient, asked: str,
                                                       language: str) -> None:
    response = await client.get(f"/places?lang={asked}")
    assert_language(response, language)
    assert lang_cookie(response) == language


@pytest.mark.parametrize(
    ("accept", "language"),
    [
        ("ru", "ru"),
        ("en-US,en;q=0.9", "en"),
        ("uz-Cyrl-UZ", "uz-Cyrl"),
        ("uz-Latn", "uz"),
        ("en;q=0.3, ru;q=0.9", "ru"),
        ("ru;q=0.3, en;q=0.9", "en"),
        ("de, fr;q=0.9, en;q=0.5", "en"),
        ("ru;q=0, en;q=0.1", "en"),
        ("de, fr", "uz"),
        ("", "uz"),
    ],
)
async def test_accept_language_decides_without_parameter_or_cookie(
    client: httpx.AsyncClient, accept: str, language: str
) -> None:
    response = await client.get("/places", headers={"Accept-Language": accept})
    assert_language(response, language)
    assert lang_cookie(response) is None


async def test_cookie_beats_accept_language(client: httpx.AsyncClient) -> None:
    response = await client.get("/", headers={"Cookie": "lang=uz-Cyrl", "Accept-Language": "ru"})
    assert_language(response, "uz-Cyrl")


@pytest.mark.parametrize("cookie", ["lang=xx", 'lang="ru', "lang", "=;;=", "other=1; lang=de"])
async def test_unusable_cookie_falls_back_to_accept_language(client: httpx.AsyncClient,
                                                             cookie: str) -> None:
    response = await client.get("/", headers={"Cookie": cookie, "Accept-Language": "en"})
    assert_language(response, "en")


@pytest.mark.parametrize("path", ["/", "/places/districts/16"])
async def test_unknown_lang_parameter_falls_back_and_sets_no_cookie(client: httpx.AsyncClient,
                                                                    path: str) -> None:
    response = await client.get(f"{path}?lang=xx")
    assert_language(response, "uz")
    assert lang_cookie(response) is None
    assert "lang" not in client.cookies

    response = await client.get(f"{path}?lang=xx", headers={"Accept-Language": "ru"})
    assert_language(response, "ru")
    assert lang_cookie(response) is None

    # A remembered choice survives an unknown ?lang.
    assert lang_cookie(await client.get("/?lang=en")) == "en"
    response = await client.get(f"{path}?lang=xx", headers={"Accept-Language": "ru"})
    assert_language(response, "en")
    assert lang_cookie(response) is None
    assert client.cookies.get("lang") == "en"


@pytest.mark.parametrize(
    "url",
    [*PAGES, "/?lang=ru", "/places?lang=xx", "/healthz", "/api/v1/ledger/head",
     "/no/such/page"],
)
async def test_every_response_varies_on_accept_language(client: httpx.AsyncClient,
                                                        url: str) -> None:
    response = await client.get(url)
    assert {"accept-language", "cookie"} <= vary(response)


async def test_static_files_do_not_vary_by_reader(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/css/ovoz.css", headers={"Accept-Language": "ru"})
    assert response.status_code == 200
    assert not {"accept-language", "cookie"} & vary(response)
    assert "set-cookie" not in response.headers


def language_switch(markup: str) -> list[dict[str, str]]:
    nav = re.search(r'<nav class="language-switch"[^>]*>(.*?)</nav>', markup, re.S)
    assert nav, "the page has no language switch"
    links = []
    for attributes, label in re.findall(r"<a ([^>]*)>([^<]*)</a>", nav.group(1)):
        link = {key: html.unescape(value)
                for key, value in re.findall(r'([\w-]+)="([^"]*)"', attributes)}
        link["label"] = label
        link["current"] = "aria-current" in link
        links.append(link)
    return links


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("language", list(LANGUAGES))
async def test_language_switch_links_to_the_same_page(client: httpx.AsyncClient, path: str,
                                                      language: str) -> None:
    response = await client.get(f"{path}?lang={language}")
    assert_language(response, language)
    links = language_switch(response.text)
    assert [link["label"] for link in links] == [native for _, _, native in LANGUAGES.values()]
    for link, (code, (tag, _, _)) in zip(links, LANGUAGES.items(), strict=True):
        target = urlsplit(link["href"])
        assert target.path == path
        assert parse_qs(target.query) == {"lang": [code]}
        assert link["hreflang"] == tag
        assert link["lang"] == tag
        assert link["current"] == (code == language)
        assert link.get("aria-current", "true") == "true"
    # Each link leads to that page in that language.
    for link, code in zip(links, LANGUAGES, strict=True):
        assert_language(await client.get(link["href"]), code)


async def test_language_switch_keeps_the_search_but_not_the_page_number(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/places/districts/16?q=Bahor&page=2&lang=ru")
    assert_language(response, "ru")
    for link, code in zip(language_switch(response.text), LANGUAGES, strict=True):
        target = urlsplit(link["href"])
        assert target.path == "/places/districts/16"
        assert parse_qs(target.query) == {"q": ["Bahor"], "lang": [code]}
