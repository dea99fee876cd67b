"""Security headers on every response."""

from __future__ import annotations

from urllib.parse import urlsplit

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from ovoz.settings import Settings


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
