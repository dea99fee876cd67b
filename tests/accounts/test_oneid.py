"""The OneID client against a local fake of sso.egov.uz: a real HTTP server on 127.0.0.1 that
speaks OneID's one-URL protocol, so every request crosses a socket and nothing is mocked."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import httpx
import pytest

from ovoz.accounts.oneid import (
    OneIdError,
    OneIdPerson,
    authorize_url,
    exchange_code,
    identify,
    new_state,
    pinfl_fingerprint,
    sign_in,
)
from ovoz.settings import ROOT, Settings, load_settings

CLIENT_ID = "ovoz-test"
CLIENT_SECRET = "client-secret-from-the-vault"
SCOPE = "ovoz"
PATH = "/sso/oauth/Authorization.do"
REDIRECT_URI = "http://127.0.0.1:8000/accounts/oneid/callback"
PINFL = "31503901234567"


class _Server(ThreadingHTTPServer):
    fake: FakeOneId


class FakeOneId:
    """sso.egov.uz in miniature: GET issues a code and redirects back, POST answers the two
    grant types. `fail` maps a grant type to a way of failing; `person` is the identify
    answer; `received` keeps every POSTed form."""

    def __init__(self) -> None:
        self.person: dict[str, Any] = {
            "valid": "true", "pin": PINFL, "user_id": "alisher.k", "first_name": "ALISHER",
            "sur_name": "KARIMOVICH", "mid_name": "KARIMOV", "full_name": "KARIMOV ALISHER",
            "user_type": "I", "auth_method": "LOGINPASSMETHOD", "ret_cd": "0",
            "sess_id": "b6f1c0de-0000-4000-8000-000000000001",
        }
        self.fail: dict[str, str] = {}
        self.codes: dict[str, str] = {}  # code -> the redirect_uri it was issued for
        self.tokens: list[str] = []
        self.received: list[list[tuple[str, str]]] = []  # each form as sent, in order
        self.content_types: list[str] = []
        self.release = threading.Event()  # lets a "slow" handler go at teardown
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.fake = self
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{PATH}"

    def issue_code(self, redirect_uri: str = REDIRECT_URI) -> str:
        code = secrets.token_urlsafe(16)
        self.codes[code] = redirect_uri
        return code

    def secrets_sent(self) -> list[str]:
        """What must never appear in an error message."""
        return [CLIENT_SECRET, PINFL, str(self.person.get("pin")), *self.tokens, *self.codes]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean

    def do_GET(self) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        if url.path != PATH or query.get("response_type") != "one_code" \
                or query.get("client_id") != CLIENT_ID or not query.get("state"):
            self._send(400, b"<html>bad authorisation request</html>", "text/html")
            return
        code = fake.issue_code(query["redirect_uri"])
        self.send_response(302)
        location = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        fake = self.server.fake
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        pairs = parse_qsl(body, keep_blank_values=True, strict_parsing=True)
        fake.received.append(pairs)
        form = dict(pairs)
        fake.content_types.append(self.headers.get("Content-Type", ""))
        grant_type = form.get("grant_type", "")
        failure = fake.fail.get(grant_type)
        if failure == "slow":
            fake.release.wait(10)  # longer than the client's timeout; then just hang up
            return
        if failure == "500":
            self._send(500, b"<html><body>Internal Server Error</body></html>", "text/html")
        elif failure == "not_json":
            self._send(200, b"<html><body>OneID maintenance</body></html>", "text/html")
        elif failure == "error_json":
            self._json(200, {"error": "invalid_request", "error_description": "try again"})
        elif failure == "echo_token":
            # A provider quoting our own values back must not get them into our messages.
            self._json(400, {"error": form.get("access_token") or form.get("code")})
        elif failure == "ret_cd":
            self._json(200, {"ret_cd": "1"})
        elif form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            self._json(401, {"error": "invalid_client"})
        elif grant_type == "one_authorization_code":
            self._exchange(form, failure)
        elif grant_type == "one_access_token_identify":
            self._identify(form)
        else:
            self._json(400, {"error": "unsupported_grant_type"})

    def _exchange(self, form: dict[str, str], failure: str | None) -> None:
        fake = self.server.fake
        issued_for = fake.codes.pop(form.get("code", ""), None)  # a code is single use
        if issued_for is None or issued_for != form.get("redirect_uri"):
            self._json(400, {"error": "invalid_grant"})
            return
        token = secrets.token_urlsafe(16)
        fake.tokens.append(token)
        answer: dict[str, Any] = {
            "access_token": token, "token_type": "bearer", "expires_in": 500000,
            "scope": SCOPE, "refresh_token": secrets.token_urlsafe(16),
        }
        if failure == "no_token":
            del answer["access_token"]
        self._json(200, answer)

    def _identify(self, form: dict[str, str]) -> None:
        fake = self.server.fake
        if form.get("access_token") not in fake.tokens or form.get("scope") != SCOPE:
            self._json(200, {"ret_cd": "1"})
            return
        self._json(200, fake.person)

    def _json(self, status: int, answer: dict[str, Any]) -> None:
        self._send(status, json.dumps(answer).encode(), "application/json;charset=UTF-8")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def fake() -> Iterator[FakeOneId]:
    provider = FakeOneId()
    # A short poll interval: shutdown() waits for it, once per test.
    thread = threading.Thread(target=provider.server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        provider.release.set()
        provider.server.shutdown()
        provider.server.server_close()
        thread.join(5)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def oneid_settings(url: str, **overrides: str) -> Settings:
    return load_settings({
        "OVOZ_CONFIG": str(ROOT / "litestar.toml"),
        "OVOZ_ONEID_ENABLED": "true",
        "OVOZ_ONEID_CLIENT_ID": CLIENT_ID,
        "OVOZ_ONEID_CLIENT_SECRET": CLIENT_SECRET,
        "OVOZ_ONEID_AUTHORIZE_URL": url,
        "OVOZ_ONEID_TOKEN_URL": url,
        "OVOZ_ONEID_SCOPE": SCOPE,
        **overrides,
    })


def test_authorize_url_asks_for_a_one_code() -> None:
    settings = oneid_settings("https://sso.egov.uz/sso/oauth/Authorization.do")
    url = urlsplit(authorize_url(settings, REDIRECT_URI, "the-state"))
    assert f"{url.scheme}://{url.netloc}{url.path}" == settings.oneid_authorize_url
    assert dict(parse_qsl(url.query, strict_parsing=True)) == {
        "response_type": "one_code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "state": "the-state",
    }


def test_new_state_is_long_random_and_url_safe() -> None:
    states = {new_state() for _ in range(20)}
    assert len(states) == 20
    assert all(len(state) >= 43 and state.isascii() for state in states)
    assert all(set(state) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                 "0123456789-_") for state in states)


async def test_whole_flow_from_browser_redirect_to_person(fake: FakeOneId) -> None:
    settings = oneid_settings(fake.url)
    state = new_state()
    async with httpx.AsyncClient() as browser:
        redirect = await browser.get(authorize_url(settings, REDIRECT_URI, state))
    assert redirect.status_code == 302
    back = urlsplit(redirect.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == REDIRECT_URI
    returned = dict(parse_qsl(back.query))
    assert returned["state"] == state

    person = await sign_in(settings, returned["code"], REDIRECT_URI)  # its own client

    assert person == OneIdPerson(pinfl=PINFL, first_name="ALISHER")


async def test_provider_receives_exactly_the_documented_forms(
    fake: FakeOneId, http: httpx.AsyncClient
) -> None:
    settings = oneid_settings(fake.url)
    code = fake.issue_code()

    token = await exchange_code(settings, code, REDIRECT_URI, http)
    await identify(settings, token, http)

    assert fake.tokens == [token]
    # Sorted pairs rather than dicts, so a field sent twice would show up too.
    assert [sorted(form) for form in fake.received] == [
        sorted({
            "grant_type": "one_authorization_code",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "code": code,
            "redirect_uri": REDIRECT_URI,
        }.items()),
        sorted({
            "grant_type": "one_access_token_identify",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "access_token": token,
            "scope": SCOPE,
        }.items()),
    ]
    assert all(kind.startswith("application/x-www-form-urlencoded")
               for kind in fake.content_types)


@pytest.mark.parametrize("valid", ["true", True, "TRUE"])
async def test_valid_may_be_text_or_a_json_boolean(
    fake: FakeOneId, http: httpx.AsyncClient, valid: object
) -> None:
    fake.person["valid"] = valid
    person = await sign_in(oneid_settings(fake.url), fake.issue_code(), REDIRECT_URI, http)
    assert person.pinfl == PINFL


async def test_missing_first_name_still_signs_in(fake: FakeOneId, http: httpx.AsyncClient
                                                 ) -> None:
    del fake.person["first_name"]
    person = await sign_in(oneid_settings(fake.url), fake.issue_code(), REDIRECT_URI, http)
    assert person == OneIdPerson(pinfl=PINFL, first_name="")


# (id, grant type to break and how, person fields to change, what the message must say)
FAILURES: list[tuple[str, dict[str, str], dict[str, Any], str]] = [
    ("exchange-500", {"one_authorization_code": "500"}, {}, "HTTP 500"),
    ("identify-500", {"one_access_token_identify": "500"}, {}, "HTTP 500"),
    ("exchange-not-json", {"one_authorization_code": "not_json"}, {}, "not a JSON object"),
    ("identify-not-json", {"one_access_token_identify": "not_json"}, {}, "not a JSON object"),
    ("exchange-error-json", {"one_authorization_code": "error_json"}, {}, "invalid_request"),
    ("identify-error-json", {"one_access_token_identify": "error_json"}, {},
     "invalid_request"),
    ("exchange-echoes-code", {"one_authorization_code": "echo_token"}, {}, "HTTP 400"),
    ("identify-echoes-token", {"one_access_token_identify": "echo_token"}, {}, "HTTP 400"),
    ("exchange-without-token", {"one_authorization_code": "no_token"}, {}, "no access token"),
    ("identify-ret-cd", {"one_access_token_identify": "ret_cd"}, {}, "ret_cd 1"),
    ("person-not-valid", {}, {"valid": "false"}, "not confirmed"),
    ("person-valid-false-boolean", {}, {"valid": False}, "not confirmed"),
    ("pinfl-13-digits", {}, {"pin": PINFL[:-1]}, "14-digit PINFL"),
    ("pinfl-with-letters", {}, {"pin": "AB" + PINFL[2:]}, "14-digit PINFL"),
    ("pinfl-as-number", {}, {"pin": int(PINFL)}, "14-digit PINFL"),
    ("pinfl-missing", {}, {"pin": None}, "14-digit PINFL"),
]


@pytest.mark.parametrize(("fail", "person", "expected"), [case[1:] for case in FAILURES],
                         ids=[case[0] for case in FAILURES])
async def test_provider_failures_become_safe_oneid_errors(
    fake: FakeOneId, http: httpx.AsyncClient, fail: dict[str, str], person: dict[str, Any],
    expected: str,
) -> None:
    fake.fail.update(fail)
    fake.person.update(person)
    with pytest.raises(OneIdError) as raised:
        await sign_in(oneid_settings(fake.url), fake.issue_code(), REDIRECT_URI, http)
    message = str(raised.value)
    assert expected in message
    assert not any(secret in message for secret in fake.secrets_sent())
    assert raised.value.__suppress_context__ or raised.value.__context__ is None


async def test_unknown_code_is_refused(fake: FakeOneId, http: httpx.AsyncClient) -> None:
    with pytest.raises(OneIdError, match=r"code exchange failed.*invalid_grant"):
        await sign_in(oneid_settings(fake.url), "not-a-code-oneid-issued", REDIRECT_URI, http)
    assert len(fake.received) == 1  # nothing is identified without a token


async def test_code_is_tied_to_its_redirect_uri(fake: FakeOneId, http: httpx.AsyncClient
                                                ) -> None:
    code = fake.issue_code(REDIRECT_URI)
    with pytest.raises(OneIdError, match="invalid_grant") as raised:
        await sign_in(oneid_settings(fake.url), code, "http://elsewhere.example/cb", http)
    assert code not in str(raised.value)


async def test_wrong_client_secret_is_refused(fake: FakeOneId, http: httpx.AsyncClient
                                              ) -> None:
    settings = oneid_settings(fake.url, OVOZ_ONEID_CLIENT_SECRET="an-old-secret")
    with pytest.raises(OneIdError, match="HTTP 401, error invalid_client") as raised:
        await sign_in(settings, fake.issue_code(), REDIRECT_URI, http)
    assert "an-old-secret" not in str(raised.value)


async def test_slow_provider_times_out(fake: FakeOneId) -> None:
    fake.fail["one_authorization_code"] = "slow"
    async with httpx.AsyncClient(timeout=0.2) as impatient:
        with pytest.raises(OneIdError, match="did not answer in time"):
            await sign_in(oneid_settings(fake.url), fake.issue_code(), REDIRECT_URI, impatient)


async def test_unreachable_provider(http: httpx.AsyncClient) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and now listens nowhere
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(OneIdError, match="could not reach OneID"):
        await sign_in(oneid_settings(f"http://127.0.0.1:{port}{PATH}"), "a-code", REDIRECT_URI,
                      http)


async def test_disabled_oneid_sends_nothing(fake: FakeOneId, http: httpx.AsyncClient) -> None:
    settings = oneid_settings(fake.url, OVOZ_ONEID_ENABLED="false")
    with pytest.raises(OneIdError, match="not enabled"):
        authorize_url(settings, REDIRECT_URI, new_state())
    with pytest.raises(OneIdError, match="not enabled"):
        await sign_in(settings, fake.issue_code(), REDIRECT_URI, http)
    assert fake.received == []


def test_fingerprint_is_a_stable_keyed_hmac() -> None:
    first = pinfl_fingerprint(PINFL, "site-secret")
    assert first == pinfl_fingerprint(PINFL, "site-secret")
    assert len(first) == 64 and set(first) <= set("0123456789abcdef")
    assert first == hmac.new(b"site-secret", PINFL.encode(), hashlib.sha256).hexdigest()
    assert PINFL not in first


def test_fingerprint_differs_per_secret_and_per_pinfl() -> None:
    assert pinfl_fingerprint(PINFL, "site-secret") != pinfl_fingerprint(PINFL, "rotated")
    assert pinfl_fingerprint(PINFL, "site-secret") != pinfl_fingerprint(
        "41503901234567", "site-secret")


@pytest.mark.parametrize("malformed", [PINFL + " ", PINFL[:-1], "3150390123456X", ""])
def test_fingerprint_refuses_a_malformed_pinfl(malformed: str) -> None:
    with pytest.raises(ValueError, match="14 digits"):
        pinfl_fingerprint(malformed, "site-secret")
