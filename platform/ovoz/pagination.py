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


def _bounds(number: int, per_page: int, total: int) -> tuple[int, int]:
    """A page past the end (an old link to a list that has shrunk) shows the last page."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    last = max(1, -(-total // per_page))
    return min(max(1, number), last), per_page


def paginate_items(items: list[dict[str, Any]], number: int, per_page: int) -> Page:
    """For short lists already filtered in Python."""
    number, per_page = _bounds(number, per_page, len(items))
    start = (number - 1) * per_page
    return Page(items=items[start : start + per_page], number=number, per_page=per_page,
                total=len(items))


async def paginate(select_query: Any, count_query: Any, number: int, per_page: int) -> Page:
    """`select_query` must be ordered."""
    total = await count_query
    number, per_page = _bounds(number, per_page, total)
    items = await select_query.limit(per_page).offset((number - 1) * per_page)
    return Page(items=items, number=number, per_page=per_page, total=total)
