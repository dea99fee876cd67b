"""Open data on petitions: a CSV of the public petitions, and one of a petition's signatures
counted by mahalla.

Neither names a person: no author or signer ids, phones or names, only counts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from litestar import Controller, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import File, Stream

from ovoz.geo.tables import Mahalla
from ovoz.i18n import locale
from ovoz.petitions import services
from ovoz.petitions.tables import Petition
from ovoz.petitions.tables import Response as Answer
from ovoz.web.opendata import BOM, MAX_ID, cell, csv_bytes, utc_text

# Rows fetched and written per round trip: a large export never sits in memory at once.
BATCH_SIZE = 1000
CSV_COLUMNS = (
    "id", "title", "topic", "level", "region_id", "district_id", "mahalla_id", "status",
    "threshold", "signatures", "opened_at", "closes_at", "threshold_reached_at",
    "response_due_at", "responded_at", "decision", "url",
)
SIGNATURE_COLUMNS = ("mahalla_id", "mahalla_name", "signatures", "assisted")


async def export_batch(after_id: int, limit: int) -> list[dict[str, Any]]:
    """The next `limit` public petitions after `after_id`, by id, with their count and the
    answer's decision."""
    rows = await Petition.select(
        Petition.id, Petition.title, Petition.topic, Petition.level, Petition.region,
        Petition.district, Petition.mahalla, Petition.status, Petition.threshold,
        Petition.opened_at, Petition.closes_at, Petition.threshold_reached_at,
        Petition.response_due_at, Petition.responded_at,
    ).where(Petition.status.is_in(list(services.PUBLIC_STATUSES)) & (Petition.id > after_id)
            ).order_by(Petition.id).limit(limit)
    ids = [row["id"] for row in rows]
    totals = await services.counts(ids)
    decisions = {answer["petition"]: answer["decision"] for answer in (
        await Answer.select(Answer.petition, Answer.decision).where(Answer.petition.is_in(ids))
        if ids else [])}
    for row in rows:
        row["signatures"] = totals.get(row["id"], 0)
        row["decision"] = decisions.get(row["id"], "")
    return rows


def csv_row(row: dict[str, Any]) -> list[Any]:
    values = {
        "id": row["id"], "title": row["title"], "topic": row["topic"], "level": row["level"],
        "region_id": row["region"], "district_id": row["district"],
        "mahalla_id": row["mahalla"], "status": row["status"], "threshold": row["threshold"],
        "signatures": row["signatures"], "opened_at": utc_text(row["opened_at"]),
        "closes_at": utc_text(row["closes_at"]),
        "threshold_reached_at": utc_text(row["threshold_reached_at"]),
        "response_due_at": utc_text(row["response_due_at"]),
        "responded_at": utc_text(row["responded_at"]), "decision": row["decision"],
        "url": services.link(row["id"]),
    }
    return [cell(values[column]) for column in CSV_COLUMNS]


async def csv_chunks() -> AsyncIterator[bytes]:
    """A BOM (so Excel reads UTF-8) and the header, then a chunk per batch of petitions."""
    yield BOM + csv_bytes([CSV_COLUMNS])
    after_id = 0
    while True:
        rows = await export_batch(after_id, BATCH_SIZE)
        if not rows:
            return
        yield csv_bytes([csv_row(row) for row in rows])
        if len(rows) < BATCH_SIZE:
            return
        after_id = rows[-1]["id"]


async def signature_rows(petition_id: int) -> list[list[Any]]:
    """Valid signatures per mahalla, most first, with the assisted ones among them."""
    counted = await services.by_mahalla(petition_id)
    ids = [entry["mahalla"] for entry in counted if entry["mahalla"] is not None]
    names = {row["id"]: row["name_uz"] for row in (
        await Mahalla.select(Mahalla.id, Mahalla.name_uz).where(Mahalla.id.is_in(ids))
        if ids else [])}
    return [[cell(value) for value in (entry["mahalla"], names.get(entry["mahalla"], ""),
                                        entry["signatures"], entry["assisted"])]
            for entry in counted]


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


class PetitionFeedsController(Controller):
    include_in_schema = False

    @get("/petitions/documents/{name:str}", name="petitions:document")
    async def document(self, name: FromPath[str]) -> File:
        """A document published with an answer; named by its content, so cached for good."""
        try:
            path = services.attachment_path(name)
        except ValueError:
            raise NotFoundException() from None
        if not path.is_file():
            raise NotFoundException()
        media_type = "application/pdf" if name.endswith(".pdf") else "image/jpeg"
        return File(path=path, media_type=media_type, content_disposition_type="inline",
                    headers={"Cache-Control": "public, max-age=31536000, immutable"})

    @get("/petitions.csv", name="petitions:csv")
    async def export_csv(self) -> Stream:
        day = services.now().astimezone(locale.TASHKENT).date().isoformat()
        return Stream(csv_chunks(), media_type="text/csv",
                      headers=_attachment(f"ovoz-petitions-{day}.csv"))

    @get("/petitions/{petition_id:int}/signatures.csv", name="petitions:signatures_csv")
    async def signatures_csv(self, petition_id: FromPath[int]) -> Response[bytes]:
        row = await services.petition(petition_id) if 0 < petition_id <= MAX_ID else None
        if row is None or row["status"] not in services.PUBLIC_STATUSES:
            raise NotFoundException()
        rows: Sequence[Sequence[Any]] = [SIGNATURE_COLUMNS, *await signature_rows(petition_id)]
        return Response(BOM + csv_bytes(rows), media_type="text/csv",
                        headers=_attachment(f"ovoz-petition-{petition_id}-signatures.csv"))
