"""/metrics for Prometheus, and the operators' status page for administrators."""

from __future__ import annotations

import os
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.response import Redirect
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from ovoz.accounts import sessions
from ovoz.accounts.permissions import NATIONAL, Action, require
from ovoz.operations import services
from ovoz.web.templating import page

# Set by `ovoz serve` for several workers: each writes its request figures there, and a scrape
# adds them up, whichever worker answers it.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def _request_figures() -> bytes:
    if MULTIPROCESS_DIR in os.environ:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


class MetricsController(Controller):
    include_in_schema = False

    @get("/metrics", name="operations:metrics", cache=False)
    async def metrics(self) -> Response[bytes]:
        figures = _request_figures() + services.exposition(await services.status()).encode()
        return Response(figures, media_type=CONTENT_TYPE_LATEST)


class StatusController(Controller):
    path = "/staff/status"
    include_in_schema = False

    @get("/", name="operations:status", cache=False)
    async def status(self, request: Request) -> Response[Any]:
        identity = sessions.staff_member(request)
        if identity is None:
            return Redirect("/staff/signin")
        require(identity, Action.VIEW_AUDIT, NATIONAL)
        return await page(request, "operations/status.html", status=await services.status())
