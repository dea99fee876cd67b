from __future__ import annotations

import pytest

from ovoz.pagination import MAX_PER_PAGE, paginate_items

ITEMS = [{"n": n} for n in range(45)]


@pytest.mark.parametrize(
    ("number", "shown", "first"),
    [(1, 1, 0), (2, 2, 20), (3, 3, 40), (7, 3, 40), (0, 1, 0), (-4, 1, 0)],
)
def test_page_numbers_are_kept_within_the_list(number: int, shown: int, first: int) -> None:
    page = paginate_items(ITEMS, number, 20)
    assert page.number == shown
    assert page.items[0]["n"] == first
    assert page.pages == 3
    assert page.has_previous == (shown > 1)
    assert page.has_next == (shown < 3)


def test_an_empty_list_has_one_empty_page() -> None:
    page = paginate_items([], 5, 20)
    assert (page.number, page.pages, page.items, page.has_next) == (1, 1, [], False)


def test_page_size_is_bounded() -> None:
    assert paginate_items(ITEMS, 1, 10_000).per_page == MAX_PER_PAGE
    assert paginate_items(ITEMS, 1, 0).per_page == 1
    assert paginate_items(ITEMS, 1, 20).as_json() == {"page": 1, "per_page": 20, "total": 45,
                                                       "pages": 3}
