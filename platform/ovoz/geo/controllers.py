"""Pages for browsing places: regions -> districts -> mahallas."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from ovoz.geo import services
from ovoz.settings import get_settings
from ovoz.web.templating import page

PageNumber = Annotated[int, QueryParameter(name="page", ge=1, le=100_000)]
Search = Annotated[str | None, QueryParameter(name="q", max_length=100)]


class PlacesController(Controller):
    path = "/places"
    include_in_schema = False

    @get("/", name="geo:regions")
    async def regions(self, request: Request) -> Template:
        regions = await services.regions()
        return await page(request, "geo/regions.html", regions=regions)

    @get("/regions/{region_id:int}", name="geo:region")
    async def region(self, request: Request, region_id: FromPath[int]) -> Template:
        region = await services.region(region_id)
        if region is None:
            raise NotFoundException()
        districts = await services.districts(region_id)
        counts = await services.mahalla_counts(d["id"] for d in districts)
        return await page(
            request, "geo/region.html", region=region, districts=districts, counts=counts,
            pilots=await services.pilot_district_ids(),
        )

    @get("/districts/{district_id:int}", name="geo:district")
    async def district(
        self, request: Request, district_id: FromPath[int], page_number: PageNumber = 1,
        search: Search = None,
    ) -> Template:
        district = await services.district(district_id)
        if district is None:
            raise NotFoundException()
        region = await services.region(district["region"])
        search = (search or "").strip() or None
        mahallas = await services.mahalla_page(
            district_id, search, page_number, get_settings().page_size
        )
        template = "geo/district.html"
        if request.headers.get("hx-request") and request.headers.get("hx-target") == "mahallas":
            template = "geo/_mahallas.html"
        response = await page(
            request, template, district=district, region=region, mahallas=mahallas,
            search=search or "", is_pilot=await services.is_pilot(district_id),
        )
        # The same address is the whole page or, for htmx, only the list: caches (and the
        # browser's back button) must keep the two apart.
        response.headers["Vary"] = "HX-Request, HX-Target"
        return response
