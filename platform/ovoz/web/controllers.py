"""The home page and the health check."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.response import Template

from ovoz import db
from ovoz.geo import services as geo
from ovoz.web.templating import page


class HomeController(Controller):
    include_in_schema = False

    @get("/", name="home")
    async def home(self, request: Request) -> Template:
        pilots = await geo.pilot_districts()
        return await page(request, "home.html", pilots=pilots)

    @get("/healthz", name="healthz", cache=False)
    async def healthz(self) -> Response[dict[str, Any]]:
        try:
            await db.ping()
        except Exception as error:  # any failure to reach the database is the answer itself
            return Response(
                {"status": "unavailable", "database": type(error).__name__}, status_code=503
            )
        return Response({"status": "ok", "database": "ok"})
