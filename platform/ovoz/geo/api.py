"""/api/v1/geo: regions, districts and mahallas as JSON."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get
from litestar.params import QueryParameter

from ovoz.geo import services
from ovoz.i18n.locale import NAME_COLUMNS
from ovoz.web.errors import ApiError


def _names(row: dict[str, Any]) -> dict[str, str]:
    return {language: row[column] or row["name_uz"] for language, column in NAME_COLUMNS.items()}


def _centre(row: dict[str, Any]) -> dict[str, float] | None:
    if row["centre_lat"] is None:
        return None
    return {"lat": row["centre_lat"], "lon": row["centre_lon"]}


class GeoApi(Controller):
    path = "/api/v1/geo"
    tags = ("places",)

    @get("/regions", summary="All regions of Uzbekistan")
    async def regions(self) -> dict[str, Any]:
        rows = await services.regions()
        return {"items": [{"id": r["id"], "names": _names(r)} for r in rows]}

    @get("/districts", summary="Districts, optionally of one region")
    async def districts(
        self, region_id: Annotated[int | None, QueryParameter(ge=1)] = None
    ) -> dict[str, Any]:
        if region_id is not None and await services.region(region_id) is None:
            raise ApiError(404, "not_found", f"No region with id {region_id}.")
        rows = await services.districts(region_id)
        pilots = await services.pilot_district_ids()
        return {
            "items": [
                {"id": r["id"], "region_id": r["region"], "names": _names(r),
                 "is_pilot": r["id"] in pilots, "centre": _centre(r)}
                for r in rows
            ]
        }

    @get("/mahallas", summary="Mahallas of one district, a page at a time")
    async def mahallas(
        self,
        district_id: Annotated[int, QueryParameter(ge=1)],
        q: Annotated[str | None, QueryParameter(max_length=100)] = None,
        page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
        per_page: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> dict[str, Any]:
        if await services.district(district_id) is None:
            raise ApiError(404, "not_found", f"No district with id {district_id}.")
        result = await services.mahalla_page(district_id, (q or "").strip() or None, page,
                                             per_page)
        return {
            "items": [
                {"id": m["id"], "district_id": m["district"], "names": _names(m),
                 "centre": _centre(m), "population": m["population"], "is_demo": m["is_demo"]}
                for m in result.items
            ],
            **result.as_json(),
        }
