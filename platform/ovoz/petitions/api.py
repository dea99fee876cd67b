"""/api/v1/petitions: the public list, one petition with its count, and signing.

Nothing here names the author or a signer: no resident ids, phones or names.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, HeaderParameter, QueryParameter

from ovoz.accounts.api import bearer_resident
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.petitions import services
from ovoz.settings import PETITION_LEVELS
from ovoz.web.errors import ApiError
from ovoz.web.opendata import MAX_ID

AUTHORISED = "Needs 'Authorization: Bearer <token>' from /api/v1/auth/token."

_REFUSALS: dict[str, tuple[int, str]] = {
    "not_verified": (403, "Only residents with a verified phone number may sign."),
    "no_home": (403, "Set your home mahalla first (PATCH /api/v1/me with mahalla_id)."),
    "outside_area": (403, "Only residents of the addressee's area may sign this petition."),
    "already_signed": (409, "You have already signed this petition."),
    # A petition that has stopped collecting is still there to read: the request conflicts
    # with its state rather than breaking a rule about the request itself.
    "not_signable": (409, "This petition is not collecting signatures now."),
    "not_signed": (404, "You have not signed this petition."),
}


def _not_found(petition_id: int) -> ApiError:
    return ApiError(404, "not_found", f"No petition with id {petition_id}.")


async def _public(petition_id: int) -> dict[str, Any] | None:
    if not 0 < petition_id <= MAX_ID:
        return None
    row = await services.petition(petition_id)
    return row if row is not None and row["status"] in services.PUBLIC_STATUSES else None


async def _refusal(error: services.PetitionError, petition_id: int) -> ApiError:
    if error.code == "too_many":
        refusal = ApiError(429, "too_many_requests",
                           "Too many signatures from this account or address; try again later.")
        refusal.headers = {"Retry-After": str(max(1, error.retry_after))}
        return refusal
    # Petitions still being written or checked are not the public's to know of.
    if error.code == "not_found" or await _public(petition_id) is None:
        return _not_found(petition_id)
    status, detail = _REFUSALS.get(error.code, (422, f"Refused: {error.code}."))
    return ApiError(status, error.code, detail)


def _address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else ""


async def _resident(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
                    ) -> None:
    connection.state.resident = await bearer_resident(connection.headers.get("authorization"))


def summary_json(row: dict[str, Any], signatures: int) -> dict[str, Any]:
    """A petition as lists show it."""
    return {
        "id": row["id"],
        "title": row["title"],
        "topic": row["topic"],
        "topic_label": locale.gettext(services.TOPICS[row["topic"]]),
        "level": row["level"],
        "level_label": locale.gettext(services.LEVEL_LABELS[row["level"]]),
        "addressee": {"region_id": row["region"], "district_id": row["district"],
                      "mahalla_id": row["mahalla"]},
        "status": row["status"],
        "status_label": locale.gettext(services.STATUS_LABELS[row["status"]]),
        "threshold": row["threshold"],
        "signatures": signatures,
        "opened_at": row["opened_at"],
        "closes_at": row["closes_at"],
        "threshold_reached_at": row["threshold_reached_at"],
        "response_due_at": row["response_due_at"],
        "overdue": services.answer_overdue(row),
        "url": services.link(row["id"]),
    }


async def petition_json(row: dict[str, Any]) -> dict[str, Any]:
    """The public view of one petition: its text, count, answer and signatures by mahalla."""
    answer = await services.response(row["id"]) if row["responded_at"] else None
    return {
        **summary_json(row, await services.count(row["id"])),
        "text": row["text"],
        "response": None if answer is None else {
            "decision": answer["decision"],
            "decision_label": locale.gettext(services.DECISIONS[answer["decision"]]),
            "text": answer["text"],
            "official_name": answer["official_name"],
            "official_post": answer["official_post"],
            "published_at": answer["published_at"],
        },
        "signatures_by_mahalla": [
            {"mahalla_id": entry["mahalla"], "signatures": entry["signatures"],
             "assisted": entry["assisted"]}
            for entry in await services.by_mahalla(row["id"])
        ],
    }


def _choice(name: str, value: str | None, allowed: Any) -> str | None:
    value = (value or "").strip() or None
    if value is not None and value not in allowed:
        raise ApiError(400, f"invalid_{name}", f"{name}: one of {', '.join(allowed)}.")
    return value


class PetitionsApi(Controller):
    path = "/api/v1/petitions"
    tags = ("petitions",)

    @get("/", summary="Public petitions, newest first, a page at a time")
    async def petitions(
        self,
        status: Annotated[str | None, QueryParameter(
            max_length=20, description="one of " + ", ".join(services.PUBLIC_STATUSES))] = None,
        level: Annotated[str | None, QueryParameter(
            max_length=24, description="the addressee's level: " + ", ".join(PETITION_LEVELS)
        )] = None,
        district_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        topic: Annotated[str | None, QueryParameter(
            max_length=20, description="one of " + ", ".join(services.TOPICS))] = None,
        q: Annotated[str | None, QueryParameter(
            max_length=100, description="words of the title or text, in either script")] = None,
        page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
        per_page: Annotated[int, QueryParameter(ge=1, le=200)] = 20,
    ) -> dict[str, Any]:
        filters = services.Filters(
            status=_choice("status", status, services.PUBLIC_STATUSES),
            level=_choice("level", level, PETITION_LEVELS),
            district_id=district_id,
            topic=_choice("topic", topic, tuple(services.TOPICS)),
            search=(q or "").strip() or None,
        )
        if district_id is not None and await geo.district(district_id) is None:
            raise ApiError(404, "not_found", f"No district with id {district_id}.")
        result = await services.search(filters, page, per_page)
        return {"items": [summary_json(row, row["signature_count"]) for row in result.items],
                **result.as_json()}

    @get("/{petition_id:int}", summary="One petition with its count, answer and mahallas")
    async def read(self, petition_id: FromPath[int]) -> dict[str, Any]:
        row = await _public(petition_id)
        if row is None:
            raise _not_found(petition_id)
        return await petition_json(row)

    @post("/{petition_id:int}/signatures", guards=[_resident], status_code=201,
          summary="Sign a petition",
          description=f"{AUTHORISED} 201 with the count after signing; 409 already_signed "
                      "or not_signable (no longer collecting); 403 not_verified, no_home or "
                      "outside_area; 429 with Retry-After. X-Device-Id (optional) is an "
                      "identifier of the app's installation, kept only as a keyed digest.")
    async def sign(
        self, request: Request[Any, Any, Any], petition_id: FromPath[int],
        device: Annotated[str | None, HeaderParameter(name="X-Device-Id", max_length=200)
                          ] = None,
    ) -> dict[str, int]:
        if not 0 < petition_id <= MAX_ID:
            raise _not_found(petition_id)
        try:
            total = await services.sign(petition_id, request.state.resident["id"],
                                        channel="api", address=_address(request),
                                        device=device or "")
        except services.PetitionError as error:
            raise await _refusal(error, petition_id) from None
        return {"signatures": total}

    @delete("/{petition_id:int}/signatures", guards=[_resident], status_code=204,
            summary="Withdraw one's signature while the petition collects",
            description=f"{AUTHORISED} 204; 404 not_signed; 409 not_signable once the "
                        "threshold is reached or the petition has closed.")
    async def unsign(self, request: Request[Any, Any, Any], petition_id: FromPath[int]
                     ) -> None:
        if not 0 < petition_id <= MAX_ID:
            raise _not_found(petition_id)
        try:
            await services.withdraw_signature(petition_id, request.state.resident["id"])
        except services.PetitionError as error:
            raise await _refusal(error, petition_id) from None
