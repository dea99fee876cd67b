"""Choosing the reader's language: ?lang= (remembered in a cookie), then the cookie, then
Accept-Language, then the site's default."""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from ovoz.i18n.locale import current_language, from_accept_language, parse_language
from ovoz.settings import get_settings

COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
# The same address answers in another language for another reader.
VARY = "Accept-Language, Cookie"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def requested_language(scope: Scope) -> str | None:
    """The language asked for with ?lang=, when it is one we have."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    values = query.get("lang")
    return parse_language(values[-1]) if values else None


def negotiate(scope: Scope) -> str:
    chosen = requested_language(scope)
    if chosen:
        return chosen
    cookie_header = _header(scope, b"cookie")
    if cookie_header:
        cookie = SimpleCookie()
        try:
            cookie.load(cookie_header)
        except Exception:  # a malformed Cookie header must not break the page
            cookie = SimpleCookie()
        if COOKIE in cookie and (remembered := parse_language(cookie[COOKIE].value)):
            return remembered
    return from_accept_language(_header(scope, b"accept-language")) or (
        get_settings().default_language
    )


class LanguageMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def should_bypass_for_scope(self, scope: Scope) -> bool:
        # Static files are the same for every reader; shared caches should keep one copy.
        return scope["path"].startswith("/static/")

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        language = negotiate(scope)
        token = current_language.set(language)
        remember = requested_language(scope) is not None

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                # An error page may have said so already (see ovoz.web.errors).
                if not any("accept-language" in value.lower()
                           for value in headers.getall("vary", [])):
                    headers.add("vary", VARY)
                if remember:
                    headers.add(
                        "set-cookie",
                        f"{COOKIE}={language}; Max-Age={COOKIE_MAX_AGE}; Path=/; SameSite=Lax",
                    )
            await send(message)

        try:
            await next_app(scope, receive, send_with_cookie)
        finally:
            current_language.reset(token)
