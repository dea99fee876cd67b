"""/data: the data dictionary page, every dataset as a streamed download, and the ledger
export."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, Request, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Stream, Template

from ovoz.i18n import locale
from ovoz.ledger import services as ledger
from ovoz.opendata import formats
from ovoz.opendata.datasets import DATASETS, TYPE_MEANINGS
from ovoz.web.templating import page


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


class OpenDataController(Controller):
    include_in_schema = False

    @get("/data", name="opendata:index")
    async def index(self, request: Request) -> Template:
        return await page(request, "opendata/index.html", datasets=list(DATASETS.values()),
                          types=TYPE_MEANINGS, head=await ledger.head())

    @get("/data/ledger.jsonl", name="opendata:ledger")
    async def ledger_export(self) -> Stream:
        return Stream(formats.ledger_chunks(), media_type="application/x-ndjson",
                      headers=_attachment("ledger.jsonl"))

    @get("/data/{filename:str}", name="opendata:download")
    async def download(self, filename: FromPath[str]) -> Stream:
        name, _, extension = filename.rpartition(".")
        dataset = DATASETS.get(name)
        if dataset is None or extension not in formats.MEDIA_TYPES or (
                extension == formats.GEOJSON and not dataset.located):
            raise NotFoundException()
        at = datetime.now(UTC)
        if extension == formats.CSV:
            chunks = formats.csv_chunks(dataset, at)
        elif extension == formats.JSON:
            chunks = formats.json_chunks(dataset, at, formats.columns_json(dataset))
        else:
            chunks = formats.geojson_chunks(dataset, at)
        day = at.astimezone(locale.TASHKENT).date().isoformat()
        return Stream(chunks, media_type=formats.MEDIA_TYPES[extension],
                      headers=_attachment(f"ovoz-{name}-{day}.{extension}"))
