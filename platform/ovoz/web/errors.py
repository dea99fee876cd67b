"""Errors: JSON `{"error", "detail"}` under /api and /open311, a translated page elsewhere."""

from __future__ import annotations

import logging
from http import HTTPStatus

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Template

from ovoz.i18n import locale
from ovoz.web.language import VARY, negotiate
from ovoz.web.templating import navigation

logger = logging.getLogger("ovoz.errors")

ERROR_CODES = {
    400: "bad_request", 401: "unauthorised", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
    422: "rule_broken", 429: "too_many_requests", 500: "server_error", 503: "unavailable",
}


class ApiError(HTTPException):
    """Raised by API handlers with a stable error code, e.g. ApiError(409, "already_signed")."""

    def __init__(self, status_code: int, error: str, detail: str) -> None:
        super().__init__(status_code=status_code, detail=detail)
        self.error = error


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/open311/", "/healthz"))


def _json(status: int, error: str, detail: str, headers: dict[str, str] | None = None
          ) -> Response:
    return Response({"error": error, "detail": detail}, status_code=status,
                    media_type=MediaType.JSON, headers=headers)


def _page(request: Request, status: int) -> Response:
    # Errors raised before routing never pass through the language middleware; the page is
    # rendered after this returns, in this request's own context, so the choice is set here.
    locale.current_language.set(negotiate(request.scope))
    titles = {
        403: locale.gettext("You do not have access to this page"),
        404: locale.gettext("Page not found"),
        405: locale.gettext("This address does not accept that request"),
        429: locale.gettext("Too many requests"),
        500: locale.gettext("Something went wrong on our side"),
    }
    title = titles.get(status) or locale.gettext("The request could not be handled")
    return Template(
        template_name="errors/error.html",
        context={"status": status, "title": title, "lang": locale.current_language.get(),
                 "navigation": navigation(request), "ledger_head": None},
        status_code=status,
        # Said here as well as by the language middleware, which a request that matched no
        # route never reaches.
        headers={"Vary": VARY},
    )


def http_error(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    headers = dict(exc.headers or {})
    if wants_json(request):
        if isinstance(exc, ValidationException):
            detail = "; ".join(
                f"{item.get('key') or 'body'}: {item.get('message')}"
                for item in (exc.extra if isinstance(exc.extra, list) else [])
                if isinstance(item, dict)
            ) or str(exc.detail)
            return _json(400, "bad_request", detail, headers)
        error = getattr(exc, "error", None) or ERROR_CODES.get(status, "error")
        detail = exc.detail or HTTPStatus(status).phrase
        return _json(status, error, detail, headers)
    response = _page(request, status)
    response.headers.update(headers)
    return response


def permission_denied(request: Request, exc: Exception) -> Response:
    return http_error(request, HTTPException(status_code=403, detail="You may not do this here."))


def server_error(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    if wants_json(request):
        return _json(500, "server_error", "An unexpected error occurred; it has been logged.")
    return _page(request, 500)
