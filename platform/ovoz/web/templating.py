"""The Jinja environment every page is rendered with, and `page()`, the one way a controller
renders a page inside the shell."""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment
from litestar import Request
from litestar.exceptions import NoRouteMatchFoundException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template

from ovoz.accountability import clock
from ovoz.accounts.sessions import identity_of
from ovoz.i18n import locale
from ovoz.i18n.translit import normalise, to_script
from ovoz.ledger import services as ledger_services
from ovoz.notify.services import unread_count
from ovoz.settings import LANGUAGES, ROOT, get_settings

TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"

# (route name, message): the main sections. A section whose domain is not installed yet is shown
# as "coming soon" rather than as a link that leads nowhere.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("planning:index", locale.lazy("Priorities")),
    ("petitions:index", locale.lazy("Petitions")),
    ("reports:map", locale.lazy("Problems map")),
    ("accountability:index", locale.lazy("Accountability")),
    ("geo:regions", locale.lazy("Places")),
)


@cache
def static_url(path: str) -> str:
    """A static file's address with a content hash, so it can be cached for a year."""
    digest = hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]
    return f"/static/{path}?v={digest}"


def url_with(request: Request, **changes: Any) -> str:
    """The current address with some query parameters replaced (None removes one)."""
    params = {key: value for key, value in request.query_params.items()}
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    return request.url.path + (f"?{query}" if query else "")


def in_reader_script(text: str | None) -> str:
    """User-written Uzbek shown in the reader's script (Latin unless they read uz-Cyrl)."""
    if not text:
        return ""
    language = locale.current_language.get()
    if language == "uz-Cyrl":
        return to_script(normalise(text), "cyrl")
    if language == "uz":
        return to_script(normalise(text), "latn")
    return text


def configure(engine: JinjaTemplateEngine) -> None:
    environment: Environment = engine.engine
    environment.add_extension("jinja2.ext.i18n")
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        locale.template_gettext, locale.template_ngettext, newstyle=True
    )
    environment.globals.update(
        static=static_url,
        url_with=url_with,
        languages=LANGUAGES,
        native_names=locale.NATIVE_NAMES,
        html_lang=locale.html_lang,
        settings=get_settings(),
        name=locale.localised_name,
    )
    environment.filters.update(
        date=locale.format_date,
        # A due moment is the midnight after the last day to answer: show that day.
        due=lambda moment: locale.format_date(clock.last_day(moment)) if moment else "",
        datetime=locale.format_datetime,
        number=locale.format_number,
        script=in_reader_script,
    )
    environment.trim_blocks = True
    environment.lstrip_blocks = True


def navigation(request: Request) -> list[dict[str, Any]]:
    items = []
    for route_name, label in SECTIONS:
        try:
            href: str | None = request.app.route_reverse(route_name)
        except NoRouteMatchFoundException:
            href = None
        items.append({"label": locale.gettext(label), "href": href,
                      "current": bool(href) and request.url.path.startswith(href or "")})
    return items


async def shell_context(request: Request) -> dict[str, Any]:
    language = locale.current_language.get()
    identity = identity_of(request)
    unread = None
    if identity.resident is not None:
        unread = await unread_count("resident", identity.resident["id"])
    elif identity.staff_signed_in and identity.staff is not None:
        unread = await unread_count("staff", identity.staff["id"])
    return {
        "identity": identity,
        "unread": unread,
        "lang": language,
        "navigation": navigation(request),
        "ledger_head": await ledger_services.head(),
    }


async def page(request: Request, template: str, status_code: int = 200,
               headers: dict[str, str] | None = None, **context: Any) -> Template:
    return Template(
        template_name=template,
        context={**await shell_context(request), **context},
        status_code=status_code,
        headers=headers,
    )
