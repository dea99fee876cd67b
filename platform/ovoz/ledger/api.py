"""/api/v1/ledger: the public ledger, for anyone to copy and check."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get
from litestar.params import QueryParameter

from ovoz.ledger import services


class LedgerApi(Controller):
    path = "/api/v1/ledger"
    tags = ("ledger",)

    @get("/head", summary="The newest entry's sequence number and hash", cache=False)
    async def head(self) -> dict[str, Any]:
        head = await services.head()
        return {
            "seq": head.seq,
            "hash": head.hash,
            "at": services.timestamp_text(head.at) if head.at else None,
        }

    @get("/", summary="Entries after a sequence number, oldest first")
    async def entries(
        self,
        after: Annotated[int, QueryParameter(ge=0)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        items = await services.entries_after(after, limit)
        return {"items": items, "next_after": items[-1]["seq"] if len(items) == limit else None}
