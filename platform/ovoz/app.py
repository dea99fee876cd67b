"""create_app(): the one place where configuration, plugins, routers and handlers are wired."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from ovoz import db
from ovoz.geo.api import GeoApi
from ovoz.geo.controllers import PlacesController
from ovoz.ledger.api import LedgerApi
from ovoz.settings import Settings, get_settings
from ovoz.web import errors, templating
from ovoz.web.controllers import HomeController
from ovoz.web.language import LanguageMiddleware

YEAR = 365 * 24 * 3600


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    db.use_database(settings.database_url)

    @asynccontextmanager
    async def database(_: Litestar) -> AsyncIterator[None]:
        async with db.pool(settings):
            yield

    return Litestar(
        route_handlers=[
            HomeController,
            PlacesController,
            GeoApi,
            LedgerApi,
            create_static_files_router(
                path="/static",
                directories=[templating.STATIC_DIR],
                cache_control=CacheControlHeader(max_age=YEAR, public=True),
            ),
        ],
        lifespan=[database],
        middleware=[LanguageMiddleware()],
        template_config=TemplateConfig(
            directory=templating.TEMPLATES_DIR,
            engine=JinjaTemplateEngine,
            engine_callback=templating.configure,
        ),
        compression_config=CompressionConfig(backend="gzip", minimum_size=500),
        exception_handlers={
            HTTPException: errors.http_error,
            Exception: errors.server_error,
        },
        openapi_config=OpenAPIConfig(
            title="Ovoz API",
            version="1.0",
            path="/api/v1/schema",
            render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"])],
        ),
        # The server (uvicorn) configures logging; errors are logged by the handlers above.
        logging_config=None,
        debug=False,
    )
