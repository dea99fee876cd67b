"""Errors: a translated page for readers, JSON `{"error", "detail"}` under /api, no traceback
in either; and the health check, with the database up and down."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import get

from ovoz import db as ovoz_db
from ovoz.app import create_app
from ovoz.settings import get_settings
from tests.conftest import use_test_database

SECRET = "kaboom-7f3c-internal-detail"
# "Page not found" and "Something went wrong on our side", with the sentence under each title.
NOT_FOUND = {
    "uz": ("Sahifa topilmadi", "Manzilni tekshiring yoki bosh sahifadan qayta boshlang."),
    "uz-Cyrl": ("Саҳифа топилмади", "Манзилни текширинг ёки бош саҳифадан қайта бошланг."),
    "ru": ("Страница не найдена", "Проверьте адрес или начните заново с главной страницы."),
    "en": ("Page not found", "Check the address, or start again from the home page."),
}
SERVER_ERROR = {
    "uz": ("Bizning tomonda xatolik yuz berdi",
           "Xatolik qayd etildi. Bir necha daqiqadan soʻng qayta urinib koʻring."),
    "uz-Cyrl": ("Бизнинг томонда хатолик юз берди",
                "Хатолик қайд этилди. Бир неча дақиқадан сўнг қайта уриниб кўринг."),
    "ru": ("На нашей стороне произошла ошибка",
           "Ошибка записана. Попробуйте снова через несколько минут."),
    "en": ("Something went wrong on our side",
           "The error has been recorded. Please try again in a few minutes."),
}
HTML_LANG = {"uz": "uz-Latn", "uz-Cyrl": "uz-Cyrl", "ru": "ru", "en": "en"}
TRACEBACK_SIGNS = ("Traceback", 'File "', "RuntimeError", SECRET, "site-packages", "litestar")


def assert_error_page(response: httpx.Response, status: int, language: str,
                      texts: dict[str, tuple[str, str]]) -> None:
    title, sentence = texts[language]
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    markup = response.text
    assert f'<html lang="{HTML_LANG[language]}">' in markup
    assert f"<title>{title} · Ovoz</title>" in markup
    main = markup[markup.index('<main id="main"'):markup.index("</main>")]
    assert f"<h1>{title}</h1>" in main
    assert f"<p>{sentence}</p>" in main
    assert '<a class="button" href="/">' in main
    # Still inside the shell: skip link and navigation.
    assert '<a class="skip-link" href="#main">' in markup
    assert '<nav class="site-nav"' in markup
    assert_no_traceback(markup)


def assert_no_traceback(body: str) -> None:
    for sign in TRACEBACK_SIGNS:
        assert sign not in body, sign


@pytest.mark.parametrize("language", list(NOT_FOUND))
async def test_unknown_page_gives_a_translated_404_page(client: httpx.AsyncClient,
                                                        language: str) -> None:
    response = await client.get(f"/no/such/page?lang={language}")
    assert_error_page(response, 404, language, NOT_FOUND)


async def test_404_page_follows_cookie_and_accept_language(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/page", headers={"Cookie": "lang=ru",
                                                          "Accept-Language": "en"})
    assert_error_page(response, 404, "ru", NOT_FOUND)
    response = await client.get("/no/such/page", headers={"Accept-Language": "uz-Cyrl"})
    assert_error_page(response, 404, "uz-Cyrl", NOT_FOUND)
    assert_error_page(await client.get("/no/such/page"), 404, "uz", NOT_FOUND)
    # The cookie set by ?lang= elsewhere is honoured too.
    assert (await client.get("/?lang=ru")).status_code == 200
    assert_error_page(await client.get("/no/such/page"), 404, "ru", NOT_FOUND)


@pytest.mark.parametrize("url", ["/places/regions/999", "/places/districts/99999"])
async def test_unknown_place_gives_a_translated_404_page(client: httpx.AsyncClient,
                                                         url: str) -> None:
    assert_error_page(await client.get(f"{url}?lang=ru"), 404, "ru", NOT_FOUND)
    assert_error_page(await client.get(url), 404, "ru", NOT_FOUND)


@pytest.mark.parametrize("url", ["/api/v1/no-such-thing", "/api/v1/ledger/nothing/here"])
async def test_unknown_api_path_gives_json(client: httpx.AsyncClient, url: str) -> None:
    # Even for a browser, and even in another language, the API answers in JSON.
    response = await client.get(f"{url}?lang=ru", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == "not_found"
    assert isinstance(body["detail"], str) and body["detail"]
    assert "<html" not in response.text


@get("/boom", include_in_schema=False, sync_to_thread=False)
def boom() -> str:
    raise RuntimeError(SECRET)


@get("/api/v1/boom", include_in_schema=False, sync_to_thread=False)
def api_boom() -> dict[str, str]:
    raise RuntimeError(SECRET)


@pytest.fixture
async def failing_client(db: str) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with two extra routes that fail unexpectedly."""
    app = create_app(get_settings())
    app.register(boom)
    app.register(api_boom)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver.local") as test_client:
        yield test_client


@pytest.mark.parametrize("language", list(SERVER_ERROR))
async def test_unexpected_error_gives_a_translated_500_page(
    failing_client: httpx.AsyncClient, language: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="ovoz.errors"):
        response = await failing_client.get(f"/boom?lang={language}")
    assert_error_page(response, 500, language, SERVER_ERROR)
    # The details go to the log, not to the reader.
    logged = [record for record in caplog.records if record.name == "ovoz.errors"]
    assert len(logged) == 1
    assert logged[0].exc_info and str(logged[0].exc_info[1]) == SECRET


async def test_500_page_follows_the_cookie(failing_client: httpx.AsyncClient) -> None:
    response = await failing_client.get("/boom", headers={"Cookie": "lang=ru"})
    assert_error_page(response, 500, "ru", SERVER_ERROR)


async def test_unexpected_api_error_gives_json(failing_client: httpx.AsyncClient,
                                               caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="ovoz.errors"):
        response = await failing_client.get("/api/v1/boom?lang=ru")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == "server_error"
    assert_no_traceback(response.text)
    assert any(record.exc_info for record in caplog.records if record.name == "ovoz.errors")


async def test_health_check(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize("kind", ["postgres-closed-port", "sqlite-directory"])
async def test_health_check_without_a_database(db: str, kind: str,
                                               tmp_path_factory: pytest.TempPathFactory) -> None:
    unreachable = {
        "postgres-closed-port": "postgresql://postgres:hunter2-secret@127.0.0.1:1/none",
        # A folder where the database file should be: SQLite cannot open it.
        "sqlite-directory": f"sqlite:///{tmp_path_factory.mktemp('not-a-file')}",
    }[kind]
    # No lifespan: no pool to open on the database that is there, nor to close on the one
    # that is not.
    app = create_app(get_settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver.local") as client:
        assert (await client.get("/healthz")).json() == {"status": "ok", "database": "ok"}
        ovoz_db.use_database(unreachable)
        try:
            response = await client.get("/healthz")
        finally:
            use_test_database(db)
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["database"] != "ok"
        assert not re.search(r"hunter2|Traceback|127\.0\.0\.1|not-a-file", response.text)
        # Back on the test database, all is well again.
        response = await client.get("/healthz")
        assert (response.status_code, response.json()) == (200, {"status": "ok",
                                                                 "database": "ok"})
