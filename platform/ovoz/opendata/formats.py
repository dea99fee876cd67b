"""A dataset written as it is read, batch by batch: CSV, JSON and GeoJSON.

JSON is one document, {"dataset", "generated_at", "columns", "items"}, rather than JSON Lines:
it opens as it is in a browser, in spreadsheet tools and with one json.load(), and it carries
its columns with it; streaming it costs no more than streaming lines.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import geojson

from ovoz.i18n import locale
from ovoz.ledger import services as ledger
from ovoz.opendata.datasets import Dataset, Row
from ovoz.web.opendata import BOM, cell, csv_bytes, utc_text

CSV, JSON, GEOJSON = "csv", "json", "geojson"
MEDIA_TYPES = {CSV: "text/csv", JSON: "application/json", GEOJSON: "application/geo+json"}
# Ledger lines sent per chunk: one write per page of entries, not per line.
LEDGER_CHUNK = 1000


def plain(value: Any) -> Any:
    """A value as JSON carries it: times in UTC, days as YYYY-MM-DD."""
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def csv_cell(value: Any) -> Any:
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    return cell(plain(value))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _item(row: Row, names: list[str]) -> dict[str, Any]:
    return {name: plain(row[name]) for name in names}


async def csv_chunks(dataset: Dataset, at: datetime) -> AsyncIterator[bytes]:
    """A BOM (so Excel reads UTF-8) and the header, then a chunk per batch."""
    names = dataset.column_names
    yield BOM + csv_bytes([names])
    async for rows in dataset.batches(at):
        yield csv_bytes([[csv_cell(row[name]) for name in names] for row in rows])


def columns_json(dataset: Dataset) -> list[dict[str, str]]:
    """The dictionary's columns, their meaning in the reader's language."""
    return [{"name": column.name, "type": column.type, "meaning": locale.gettext(column.meaning)}
            for column in dataset.columns]


async def json_chunks(dataset: Dataset, at: datetime, columns: list[dict[str, str]]
                      ) -> AsyncIterator[bytes]:
    names = dataset.column_names
    yield (f'{{"dataset":{_json(dataset.name)},"generated_at":{_json(utc_text(at))},'
           f'"columns":{_json(columns)},"items":[').encode()
    separator = ""
    async for rows in dataset.batches(at):
        yield (separator + ",".join(_json(_item(row, names)) for row in rows)).encode()
        separator = ","
    yield b"]}\n"


def _feature(row: Row, names: list[str]) -> str | None:
    if row["lat"] is None or row["lon"] is None:
        return None
    properties = {name: plain(row[name]) for name in names if name not in ("lat", "lon")}
    feature = geojson.Feature(geometry=geojson.Point((row["lon"], row["lat"])),
                              properties=properties)
    return str(geojson.dumps(feature, ensure_ascii=False, separators=(",", ":")))


async def geojson_chunks(dataset: Dataset, at: datetime) -> AsyncIterator[bytes]:
    """A FeatureCollection of the rows with a point (longitude, latitude in WGS 84)."""
    names = dataset.column_names
    yield b'{"type":"FeatureCollection","features":['
    separator = ""
    async for rows in dataset.batches(at):
        features = [found for row in rows if (found := _feature(row, names)) is not None]
        if features:
            yield (separator + ",".join(features)).encode()
            separator = ","
    yield b"]}\n"


async def ledger_chunks() -> AsyncIterator[bytes]:
    """Every ledger entry as a canonical JSON line, the lines `ovoz ledger export` writes."""
    lines: list[str] = []
    async for entry in ledger.iterate():
        lines.append(ledger.export_line(entry))
        if len(lines) == LEDGER_CHUNK:
            yield "".join(lines).encode()
            lines = []
    if lines:
        yield "".join(lines).encode()
