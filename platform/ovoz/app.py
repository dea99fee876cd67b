"""create_app(): the one place where configuration, plugins, routers and handlers are wired."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader, State
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.prometheus import PrometheusConfig
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from ovoz import db
from ovoz.accountability.api import ScorecardsApi
from ovoz.accountability.controllers import AccountabilityController
from ovoz.accountability.inbox_controllers import InboxController
from ovoz.accountability.monitor_controllers import MonitorController
from ovoz.accountability.report_controllers import (
    AccountabilityReportsController,
    AccountabilityReportsStaffController,
)
from ovoz.accounts.api import AuthApi, MeApi
from ovoz.accounts.controllers import ProfileController, SignInController
from ovoz.accounts.oneid_controllers import OneIdController
from ovoz.accounts.permissions import PermissionDenied
from ovoz.accounts.sessions import IdentityMiddleware
from ovoz.accounts.sms import gateway_for
from ovoz.accounts.staff_controllers import StaffAreaController, StaffSignInController
from ovoz.administration.controllers import AdministrationController
from ovoz.desk.controllers import DeskActivityController, DeskController
from ovoz.geo.api import GeoApi
from ovoz.geo.controllers import PlacesController
from ovoz.geo.staff_controllers import MahallasStaffController
from ovoz.jobs import JOBS
from ovoz.ledger.api import LedgerApi
from ovoz.moderation.controllers import ModerationController, ModerationStaffController
from ovoz.notify.controllers import NotificationsController
from ovoz.notify.worker import Worker
from ovoz.opendata.controllers import OpenDataController
from ovoz.operations.controllers import MetricsController, StatusController
from ovoz.petitions.api import PetitionsApi
from ovoz.petitions.controllers import PetitionsController
from ovoz.petitions.feeds import PetitionFeedsController
from ovoz.petitions.staff_controllers import PetitionsStaffController
from ovoz.planning.api import PlanningApi
from ovoz.planning.controllers import PlanningController
from ovoz.planning.staff_controllers import PlanningStaffController
from ovoz.reports.admin_controllers import CategoriesAdminController
from ovoz.reports.api import ReportsApi
from ovoz.reports.controllers import ReportsController
from ovoz.reports.feeds import ReportFeedsController
from ovoz.reports.open311 import Open311Controller
from ovoz.reports.services import MAX_PHOTOS
from ovoz.reports.staff_controllers import ReportsStaffController
from ovoz.settings import Settings, get_settings
from ovoz.web import errors, templating
from ovoz.web.controllers import HomeController
from ovoz.web.language import LanguageMiddleware
from ovoz.web.logs import quiet_access_log
from ovoz.web.security import SecurityHeadersMiddleware, refuse_honeypot

YEAR = 365 * 24 * 3600


# The SQLite driver logs every query with its parameters (phone numbers among them) at DEBUG.
QUIET_LOGGERS = ("aiosqlite",)


# Requests by method, route pattern (not the path, which would make a series per report) and
# status, with their durations; the scrape itself and static files are left out.
REQUEST_METRICS = PrometheusConfig(app_name="ovoz", prefix="ovoz", group_path=True,
                                   exclude_unhandled_paths=True, exclude=["^/metrics", "^/static/"])


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)
    quiet_access_log()
    db.use_database(settings.database_url)

    # One SMS gateway per worker, so Eskiz's token and connections are reused.
    sms_gateway = gateway_for(settings)

    @asynccontextmanager
    async def database(_: Litestar) -> AsyncIterator[None]:
        async with db.pool(settings):
            yield

    @asynccontextmanager
    async def delivery(_: Litestar) -> AsyncIterator[None]:
        if not settings.worker_in_server:
            yield
            return
        task = asyncio.create_task(Worker(settings, JOBS, sms_gateway).run_forever(),
                                   name="ovoz-worker")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @asynccontextmanager
    async def sms(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            close = getattr(sms_gateway, "aclose", None)
            if close is not None:
                await close()

    return Litestar(
        guards=[refuse_honeypot],
        route_handlers=[
            HomeController,
            MetricsController,
            StatusController,
            PlacesController,
            MahallasStaffController,
            SignInController,
            ProfileController,
            OneIdController,
            StaffSignInController,
            StaffAreaController,
            NotificationsController,
            ReportsController,
            ReportsStaffController,
            CategoriesAdminController,
            ReportFeedsController,
            PetitionsController,
            PetitionFeedsController,
            PetitionsStaffController,
            PlanningController,
            PlanningStaffController,
            AccountabilityController,
            AccountabilityReportsController,
            AccountabilityReportsStaffController,
            MonitorController,
            InboxController,
            DeskController,
            DeskActivityController,
            ModerationController,
            ModerationStaffController,
            AdministrationController,
            OpenDataController,
            GeoApi,
            LedgerApi,
            AuthApi,
            MeApi,
            ReportsApi,
            PetitionsApi,
            PlanningApi,
            ScorecardsApi,
            Open311Controller,
            create_static_files_router(
                path="/static",
                directories=[templating.STATIC_DIR],
                cache_control=CacheControlHeader(max_age=YEAR, public=True),
            ),
        ],
        lifespan=[database, sms, delivery],
        # Room for a report's photos, each within its own limit, and a little for the form.
        request_max_body_size=(MAX_PHOTOS * settings.max_upload_mb + 1) * 1024 * 1024,
        state=State({"settings": settings, "sms_gateway": sms_gateway}),
        middleware=[REQUEST_METRICS.middleware, SecurityHeadersMiddleware(settings),
                    LanguageMiddleware(), IdentityMiddleware()],
        # The API authenticates with bearer tokens, never cookies, so it needs no CSRF token.
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_secure=settings.production or settings.base_url.startswith("https://"),
            cookie_samesite="lax",
            exclude=["/api/", "/open311/", "/static/", "/healthz"],
        ),
        template_config=TemplateConfig(
            directory=templating.TEMPLATES_DIR,
            engine=JinjaTemplateEngine,
            engine_callback=templating.configure,
        ),
        compression_config=CompressionConfig(backend="gzip", minimum_size=500),
        exception_handlers={
            HTTPException: errors.http_error,
            PermissionDenied: errors.permission_denied,
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
