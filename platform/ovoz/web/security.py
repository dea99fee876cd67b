"""Security headers on every response, and the honeypot of the public forms."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import ClientException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from ovoz.settings import Settings

# A field people never see (templates/partials/_honeypot.html) and form-filling scripts fill.
HONEYPOT_FIELD = "website"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Programs post there with tokens, not people with forms; their own guards come after this one
# and would leave a form parsed here unclosed.
PROGRAM_PATHS = ("/api/", "/open311/")
log = logging.getLogger("ovoz.security")


def content_security_policy(settings: Settings) -> str:
    # Map tiles are the one thing a page may load from elsewhere: the configured tile server.
    tile_origin = ""
    if settings.map_tile_url.startswith(("http://", "https://")):
        parts = urlsplit(settings.map_tile_url.replace("{s}", "a"))
        tile_origin = f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data:{tile_origin}; connect-src 'self'; font-src 'self'; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )


class SecurityHeadersMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, settings: Settings) -> None:
        self.headers = {
            "content-security-policy": content_security_policy(settings),
            "referrer-policy": "same-origin",
            "x-content-type-options": "nosniff",
            "x-frame-options": "DENY",
            "permissions-policy": "geolocation=(self), camera=(), microphone=()",
        }
        if settings.production:
            self.headers["strict-transport-security"] = "max-age=31536000"

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                for name, value in self.headers.items():
                    headers[name] = value
            await send(message)

        await next_app(scope, receive, send_with_headers)


async def refuse_honeypot(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """A guard on every route: a form sent with the hidden field filled in is a script's.
    The parsed form is cached on the request, so the handler reads it again for free."""
    if (not isinstance(connection, Request) or connection.method != "POST"
            or connection.url.path.startswith(PROGRAM_PATHS)
            or not connection.headers.get("content-type", "").startswith(FORM_TYPES)):
        return
    form = await connection.form()
    if form.get(HONEYPOT_FIELD):
        log.info("honeypot", extra={"path": connection.url.path})
        # Refused before the route's own clean-up would close any uploaded file.
        await form.close()
        raise ClientException("A field to leave empty was filled in.")
