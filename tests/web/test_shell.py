"""The page shell every page is rendered in: skip link, header navigation, main, footer with the
public ledger's head; no third-party requests; hashed, long-cached static files; the weight
budget of the home page."""

from __future__ import annotations

import gzip
import hashlib
import html
import re

import httpx
import pytest

from ovoz import ledger

PAGES = ["/", "/places", "/places/regions/1", "/places/districts/16"]
LANGUAGES = ["uz", "uz-Cyrl", "ru", "en"]
HTML_LANG = {"uz": "uz-Latn", "uz-Cyrl": "uz-Cyrl", "ru": "ru", "en": "en"}
# The shell's words in each language, as the catalogs give them.
WORDS = {
    "uz": {
        "sections": ["Ustuvor vazifalar", "Petitsiyalar", "Muammolar xaritasi", "Hisobdorlik",
                     "Hududlar"],
        "soon": "tez orada", "skip": "Asosiy mazmunga oʻtish", "ledger": "Ochiq reyestr",
        "entry": "{seq}-yozuv, xesh", "empty": "hali yozuvlar yoʻq",
    },
    "uz-Cyrl": {
        "sections": ["Устувор вазифалар", "Петициялар", "Муаммолар харитаси", "Ҳисобдорлик",
                     "Ҳудудлар"],
        "soon": "тез орада", "skip": "Асосий мазмунга ўтиш", "ledger": "Очиқ реестр",
        "entry": "{seq}-ёзув, хеш", "empty": "ҳали ёзувлар йўқ",
    },
    "ru": {
        "sections": ["Приоритеты", "Петиции", "Карта проблем", "Подотчётность", "Территории"],
        "soon": "скоро", "skip": "Перейти к основному содержанию", "ledger": "Публичный реестр",
        "entry": "запись {seq}, хеш", "empty": "записей пока нет",
    },
    "en": {
        "sections": ["Priorities", "Petitions", "Problems map", "Accountability", "Places"],
        "soon": "coming soon", "skip": "Skip to main content", "ledger": "Public ledger",
        "entry": "entry {seq}, hash", "empty": "no entries yet",
    },
}
PLACES = 4  # the index of Places, the one section built so far, in WORDS[...]["sections"]
BUDGET = 30 * 1024


def text_of(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", markup)).split())


def part(markup: str, pattern: str) -> str:
    found = re.search(pattern, markup, re.S)
    assert found, f"nothing matches {pattern!r}"
    return found.group(0)


def footer_of(markup: str) -> str:
    return part(markup, r'<footer class="site-footer">.*?</footer>')


async def get_page(client: httpx.AsyncClient, url: str) -> str:
    response = await client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def navigation(markup: str) -> list[str]:
    nav = part(markup, r'<nav class="site-nav"[^>]*>.*?</nav>')
    return re.findall(r"<li(?: class=\"soon-item\")?>(.*?)</li>", nav, re.S)


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("language", LANGUAGES)
async def test_every_page_has_the_shell(client: httpx.AsyncClient, path: str,
                                        language: str) -> None:
    words = WORDS[language]
    markup = await get_page(client, f"{path}?lang={language}")
    assert markup.startswith("<!doctype html>\n")
    assert f'<html lang="{HTML_LANG[language]}">' in markup

    # The skip link is the first thing in the body and leads to <main id="main">.
    body = markup[markup.index(">", markup.index("<body")) + 1:].lstrip()
    assert body.startswith(f'<a class="skip-link" href="#main">{words["skip"]}</a>')
    assert markup.count('<main id="main"') == 1
    header_end, main_at = markup.index("</header>"), markup.index('<main id="main"')
    footer_at = markup.index('<footer class="site-footer">')
    assert header_end < main_at < markup.index("</main>") < footer_at

    # Header navigation: every section in this language, built ones as links, the others as
    # text saying they are coming soon, never as links.
    items = navigation(markup)
    assert [text_of(item).removesuffix(f" {words['soon']}") for item in items] == (
        words["sections"]
    )
    for index, item in enumerate(items):
        label = words["sections"][index]
        if "<a " in item:
            href = html.unescape(re.search(r'href="([^"]+)"', item).group(1))
            assert text_of(item) == label
            assert words["soon"] not in item
            assert (await client.get(href)).status_code == 200
        else:
            assert item.strip() == (
                f'<span class="soon">{label} <small>{words["soon"]}</small></span>'
            )
    assert re.fullmatch(r'<a href="/places"( aria-current="page")?>[^<]+</a>',
                        items[PLACES].strip())
    current = 'aria-current="page"' in items[PLACES]
    assert current == path.startswith("/places")
    assert sum('aria-current="page"' in item for item in items) == int(current)

    # The footer names the public ledger and says it is still empty.
    footer = footer_of(markup)
    assert f'<a href="/api/v1/ledger/head">{words["ledger"]}</a>' in footer
    assert f'{words["ledger"]}: {words["empty"]}' in text_of(footer)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_footer_shows_the_ledger_head(client: httpx.AsyncClient, language: str) -> None:
    words = WORDS[language]
    await ledger.record("test.thing", "thing:1", {"n": 1})
    head = await ledger.record("test.thing", "thing:2", {"n": 2})
    assert head.seq == 2
    published = (await client.get("/api/v1/ledger/head")).json()
    assert (published["seq"], published["hash"]) == (head.seq, head.hash)

    for path in PAGES:
        footer = footer_of(await get_page(client, f"{path}?lang={language}"))
        entry = words["entry"].format(seq=head.seq)
        assert f'{entry} <code title="{head.hash}">{head.hash[:12]}</code>' in footer
        assert f'{words["ledger"]}: {entry} {head.hash[:12]}' in text_of(footer)
        assert words["empty"] not in footer


def tags(markup: str) -> list[tuple[str, str]]:
    """(name, whole tag) of every start tag."""
    return [(match.group(1).lower(), match.group(0))
            for match in re.finditer(r"<([a-zA-Z][\w-]*)\b[^>]*>", markup)]


def attribute(tag: str, name: str) -> str | None:
    found = re.search(rf'\s{name}="([^"]*)"', tag)
    return html.unescape(found.group(1)) if found else None


def resources(markup: str) -> list[str]:
    """Everything the browser fetches by itself when it renders the page."""
    urls = []
    for name, tag in tags(markup):
        if name == "a":
            continue
        for key in ("src", "href", "srcset", "poster", "data", "action", "formaction"):
            value = attribute(tag, key)
            if value is not None:
                urls.append(value)
    return urls


STYLESHEET = r'<link rel="stylesheet" href="([^"]+)">'
SCRIPT = r'<script src="([^"]+)"[^>]*></script>'
HASHED = re.compile(r"/static/[\w./-]+\?v=([0-9a-f]{8,64})")


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("language", ["uz", "ru"])
async def test_pages_make_no_third_party_requests(client: httpx.AsyncClient, path: str,
                                                 language: str) -> None:
    markup = await get_page(client, f"{path}?lang={language}")
    fetched = resources(markup)
    assert re.findall(STYLESHEET, markup) and re.findall(SCRIPT, markup)
    for url in fetched:
        assert url.startswith("/") and not url.startswith("//"), url
    # An address of another host may appear in a link or as text, never inside another tag.
    for name, tag in tags(markup):
        if name != "a":
            assert not re.search(r"https?:|//[\w.-]+\.[a-z]", tag, re.I), tag
    # No inline style or script reaching out either.
    for block in re.findall(r"<(?:style|script)\b[^>]*>(.*?)</(?:style|script)>", markup, re.S):
        assert not re.search(r"https?:|@import|url\(", block, re.I), block


async def test_stylesheets_load_nothing_from_elsewhere(client: httpx.AsyncClient) -> None:
    markup = await get_page(client, "/")
    for href in re.findall(STYLESHEET, markup):
        css = (await client.get(href)).text
        assert "@import" not in css
        for target in re.findall(r"url\(\s*['\"]?([^'\")]+)", css):
            assert target.startswith(("/", "data:")) and not target.startswith("//"), target


@pytest.mark.parametrize("path", PAGES)
async def test_scripts_and_styles_are_hashed_and_long_cached(client: httpx.AsyncClient,
                                                             path: str) -> None:
    markup = await get_page(client, path)
    files = [*re.findall(STYLESHEET, markup), *re.findall(SCRIPT, markup)]
    assert len(files) >= 2
    for url in files:
        url = html.unescape(url)
        matched = HASHED.fullmatch(url)
        assert matched, f"{url} is not a /static address with a ?v= content hash"
        response = await client.get(url)
        assert response.status_code == 200
        # The version is the file's own content hash, so a change gives a new address.
        digest = hashlib.sha256(response.content).hexdigest()
        assert digest.startswith(matched.group(1))
        cache_control = response.headers["cache-control"]
        max_age = int(part(cache_control, r"max-age=\d+").split("=")[1])
        assert max_age >= 180 * 24 * 3600, cache_control
        assert "no-cache" not in cache_control and "no-store" not in cache_control
        expected_type = "text/css" if url.split("?")[0].endswith(".css") else "javascript"
        assert expected_type in response.headers["content-type"]


async def test_static_files_are_cached_even_without_version(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/css/ovoz.css")
    assert response.status_code == 200
    assert ".skip-link" in response.text
    assert "max-age=31536000" in response.headers["cache-control"]
    assert (await client.get("/static/css/missing.css")).status_code == 404


async def sent_bytes(client: httpx.AsyncClient, url: str) -> tuple[bytes, bytes]:
    """What the server sends for `url` to a client accepting gzip, and that body unpacked."""
    async with client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.status_code == 200
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        encoding = response.headers.get("content-encoding")
    assert encoding == "gzip", f"{url} was sent uncompressed"
    return raw, gzip.decompress(raw)


async def test_home_page_with_its_css_and_js_weighs_under_30_kb(client: httpx.AsyncClient
                                                                ) -> None:
    raw, markup_bytes = await sent_bytes(client, "/")
    markup = markup_bytes.decode()
    assert '<main id="main"' in markup
    total = len(raw)
    files = [*re.findall(STYLESHEET, markup), *re.findall(SCRIPT, markup)]
    assert any(".css?" in url for url in files) and any(".js?" in url for url in files)
    for url in map(html.unescape, files):
        sent, body = await sent_bytes(client, url)
        assert hashlib.sha256(body).hexdigest().startswith(HASHED.fullmatch(url).group(1))
        total += len(sent)
    assert total < BUDGET, f"{total} bytes compressed"
