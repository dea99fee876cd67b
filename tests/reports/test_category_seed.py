"""The shipped problem categories: every name in four languages, the legal response time."""

from __future__ import annotations

import csv

from ovoz.i18n.translit import to_cyrillic
from ovoz.settings import ROOT

GROUPS = {"roads", "waste", "lighting", "water", "sewage", "electricity", "other"}


def rows() -> list[dict[str, str]]:
    with (ROOT / "seeds" / "categories.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_categories_cover_the_groups_with_unique_codes() -> None:
    categories = rows()
    assert {row["group"] for row in categories} == GROUPS
    assert len({row["code"] for row in categories}) == len(categories)
    assert {"roads.pothole", "waste.dump", "waste.container"} <= {r["code"] for r in categories}


def test_every_category_is_named_in_four_languages() -> None:
    for row in rows():
        assert all(row[column].strip() for column in
                   ("name_uz", "name_uz_cyrl", "name_ru", "name_en")), row["code"]
        assert row["name_uz_cyrl"] == to_cyrillic(row["name_uz"]), row["code"]


def test_the_default_response_time_is_the_law_on_appeals_15_days() -> None:
    assert {row["response_days"] for row in rows()} == {"15"}
