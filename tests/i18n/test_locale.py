from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ovoz.i18n import locale


@pytest.mark.parametrize(
    ("language", "expected"),
    [("uz", "21-noyabr 2026"), ("uz-Cyrl", "21-ноябрь 2026"), ("ru", "21 ноября 2026\u202fг."),
     ("en", "November 21, 2026")],
)
def test_dates_in_each_language(language: str, expected: str) -> None:
    assert locale.format_date(date(2026, 11, 21), language) == expected


def test_times_are_shown_in_tashkent() -> None:
    late_evening_utc = datetime(2026, 11, 21, 20, 30, tzinfo=UTC)
    assert locale.format_datetime(late_evening_utc, "uz") == "22-noyabr 2026, 01:30"


@pytest.mark.parametrize(
    ("header", "expected"),
    [("ru-RU,ru;q=0.9,en;q=0.8", "ru"), ("en;q=0.3, ru;q=0.9", "ru"), ("uz-Cyrl-UZ", "uz-Cyrl"),
     ("uz", "uz"), ("fr-FR, de;q=0.5", None), ("", None), ("en;q=0", None),
     ("de, en-GB;q=0.8", "en"), ("ru;q=abc, en", "en")],
)
def test_accept_language(header: str, expected: str | None) -> None:
    assert locale.from_accept_language(header) == expected


@pytest.mark.parametrize(
    ("language", "plural"),
    [("uz", "5 ta mahalla"), ("uz-Cyrl", "5 та маҳалла"), ("ru", "5 махаллей"),
     ("en", "5 mahallas")],
)
def test_plurals_follow_each_language(language: str, plural: str) -> None:
    token = locale.current_language.set(language)
    try:
        assert locale.ngettext("%(num)s mahalla", "%(num)s mahallas", 5) == plural
    finally:
        locale.current_language.reset(token)


def test_russian_has_three_plural_forms() -> None:
    token = locale.current_language.set("ru")
    try:
        forms = [locale.ngettext("%(num)s mahalla", "%(num)s mahallas", n) for n in (1, 3, 11)]
    finally:
        locale.current_language.reset(token)
    assert forms == ["1 махалля", "3 махалли", "11 махаллей"]


def test_names_fall_back_to_uzbek_latin() -> None:
    row = {"name_uz": "Sayrob MFY", "name_uz_cyrl": "Сайроб МФЙ", "name_ru": "", "name_en": ""}
    assert locale.localised_name(row, "uz-Cyrl") == "Сайроб МФЙ"
    assert locale.localised_name(row, "ru") == "Sayrob MFY"
