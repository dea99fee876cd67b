"""The one pagination helper: every list, in pages and in the API, is cut the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_PER_PAGE = 200


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    def as_json(self) -> dict[str, Any]:
        return {"page": self.number, "per_page": self.per_page, "total": self.total,
                "pages": self.pages}


def _bounds(number: int, per_page: int) -> tuple[int, int]:
    return max(1, number), max(1, min(per_page, MAX_PER_PAGE))


def paginate_items(items: list[dict[str, Any]], number: int, per_page: int) -> Page:
    """For short lists already filtered in Python."""
    number, per_page = _bounds(number, per_page)
    start = (number - 1) * per_page
    return Page(items=items[start : start + per_page], number=number, per_page=per_page,
                total=len(items))


async def paginate(select_query: Any, count_query: Any, number: int, per_page: int) -> Page:
    """`select_query` must be ordered; a page number past the end gives an empty last page."""
    number, per_page = _bounds(number, per_page)
    total = await count_query
    items = await select_query.limit(per_page).offset((number - 1) * per_page)
    return Page(items=items, number=number, per_page=per_page, total=total)
