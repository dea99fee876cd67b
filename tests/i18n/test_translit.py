# Uzbek text in both scripts and typed apostrophes are what these tests are about.

import csv
import random
from pathlib import Path

import pytest

from ovoz.i18n.translit import (
    APOSTROPHE_OKINA,
    APOSTROPHE_TUTUQ,
    detect_script,
    normalise,
    to_cyrillic,
    to_latin,
    to_script,
)

PLACES = Path(__file__).parents[2] / "seeds" / "places"


def _place_names() -> list:
    params = []
    for file_name in ("regions.csv", "districts.csv"):
        with (PLACES / file_name).open(encoding="utf-8", newline="") as rows:
            for row in csv.DictReader(rows):
                params.append(
                    pytest.param(
                        row["name_uz"],
                        row["name_uz_cyrl"],
                        id=f"{file_name.removesuffix('.csv')}-{row['id']}",
                    )
                )
    return params


PLACE_NAMES = _place_names()

# Pairs that must survive both directions.
REVERSIBLE = [
    ("ekin", "экин"),
    ("yer", "ер"),
    ("yetti", "етти"),
    ("Oʻzbekiston", "Ўзбекистон"),
    ("gʻalaba", "ғалаба"),
    ("maʼno", "маъно"),
    ("sanʼat", "санъат"),
    ("taʼlim", "таълим"),
    ("eʼlon", "эълон"),
    ("meʼyor", "меъёр"),
    ("qatʼiy", "қатъий"),
    ("aʼlo", "аъло"),
    ("Isʼhoq", "Исҳоқ"),
    ("ISʼHOQ", "ИСҲОҚ"),
    ("mashhur", "машҳур"),
    ("yoʻl", "йўл"),
    ("yoʻq", "йўқ"),
    ("yogʻ", "ёғ"),
    ("shoʻrva", "шўрва"),
    ("SHOʻRVA", "ШЎРВА"),
    ("choʻl", "чўл"),
    ("Toshkent", "Тошкент"),
    ("TOSH", "ТОШ"),
    ("SHAHAR", "ШАҲАР"),
    ("Shahar", "Шаҳар"),
    ("Chirchiq", "Чирчиқ"),
    ("CHIRCHIQ", "ЧИРЧИҚ"),
    ("OʻZBEKISTON", "ЎЗБЕКИСТОН"),
    ("SANʼAT", "САНЪАТ"),
    ("YER", "ЕР"),
    ("Yer", "Ер"),
    ("YOZYOVON", "ЁЗЁВОН"),
    ("YANGIYER", "ЯНГИЕР"),
    ("Sh.Rashidov", "Ш.Рашидов"),
    ("kelyapti", "келяпти"),
    ("dunyo", "дунё"),
    ("poyezd", "поезд"),
    ("aeroport", "аэропорт"),
    ("obyekt", "объект"),
    ("ketsa", "кетса"),
    ("quvvatsiz", "қувватсиз"),
    ("litsey", "лицей"),
    ("militsiya", "милиция"),
    ("konstitutsiya", "конституция"),
    ("mahalla", "маҳалла"),
    ("hokimiyat", "ҳокимият"),
    ("fuqarolar", "фуқаролар"),
    ("saylov", "сайлов"),
    ("ishonch", "ишонч"),
    ("tong", "тонг"),
    ("qishloq", "қишлоқ"),
    ("yanvar", "январь"),
    ("iyun", "июнь"),
    ("sentabr", "сентябрь"),
    ("Oktabr", "Октябрь"),
    ("NOYABR", "НОЯБРЬ"),
    ("rayon", "район"),
    ("sirk", "цирк"),
    ("premyer-ministr", "премьер-министр"),
    ("21-noyabr 2026", "21-ноябрь 2026"),
    (
        "Oʻzbekiston Respublikasi Konstitutsiyasi, 2023-yil.",
        "Ўзбекистон Республикаси Конституцияси, 2023-йил.",
    ),
]

# Typed apostrophes and spellings that only exist on the Latin side.
LATIN_ONLY = [
    ("o'zbek", "ўзбек"),
    ("O`zbekiston", "Ўзбекистон"),
    ("g‘isht", "ғишт"),
    ("ma'no", "маъно"),
    ("ma’no", "маъно"),
    ("is'hoq", "исҳоқ"),
    ("bog'", "боғ"),
    ("tsement", "цемент"),
]

# Cyrillic spellings the Latin alphabet writes with less information.
CYRILLIC_ONLY = [
    ("мўъжиза", "moʻjiza"),
    ("съёмка", "syomka"),
    ("цемент", "sement"),
    ("акция", "aksiya"),
    ("абзац", "abzas"),
    ("батальон", "batalyon"),
    ("Ш", "Sh"),
]


def test_place_files_are_complete() -> None:
    assert len(PLACE_NAMES) >= 14 + 200


@pytest.mark.parametrize(("latin", "cyrillic"), PLACE_NAMES)
def test_place_name_to_cyrillic(latin: str, cyrillic: str) -> None:
    assert to_cyrillic(latin) == cyrillic


@pytest.mark.parametrize(("latin", "cyrillic"), PLACE_NAMES)
def test_place_name_to_latin(latin: str, cyrillic: str) -> None:
    assert to_latin(cyrillic) == latin


@pytest.mark.parametrize(("latin", "cyrillic"), REVERSIBLE + LATIN_ONLY)
def test_word_to_cyrillic(latin: str, cyrillic: str) -> None:
    assert to_cyrillic(latin) == cyrillic


@pytest.mark.parametrize(("latin", "cyrillic"), REVERSIBLE)
def test_word_to_latin(latin: str, cyrillic: str) -> None:
    assert to_latin(cyrillic) == latin


@pytest.mark.parametrize(("cyrillic", "latin"), CYRILLIC_ONLY)
def test_cyrillic_only_spelling_to_latin(cyrillic: str, latin: str) -> None:
    assert to_latin(cyrillic) == latin


def test_russian_only_letters_have_latin_stand_ins() -> None:
    assert to_latin("ы щ") == "i sh"


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("o'zbek", "oʻzbek"),
        ("O`zbekiston", "Oʻzbekiston"),
        ("g‘isht", "gʻisht"),
        ("ma'no", "maʼno"),
        ("ma’no", "maʼno"),
        ("san'at", "sanʼat"),
        ("is'hoq", "isʼhoq"),
        ("bog'", "bogʻ"),
        ("tog' etagi", "togʻ etagi"),
        ("taʼlim", "taʼlim"),
        ("ma\u02bbno", "maʼno"),
        ("'Salom' dedi", "'Salom' dedi"),
        ("'Buxoro' mehmonxonasi", "'Buxoro' mehmonxonasi"),
        ("‘O‘zbekiston’ temir yo‘llari", "‘Oʻzbekiston’ temir yoʻllari"),
        ("' ` ’", "' ` ’"),
        ("и\u0306ил", "йил"),
    ],
)
def test_normalise(typed: str, normalised: str) -> None:
    assert normalise(typed) == normalised


def test_apostrophe_constants() -> None:
    assert (APOSTROPHE_OKINA, APOSTROPHE_TUTUQ) == ("\u02bb", "\u02bc")


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("Toshkent shahri", "latn"),
        ("Тошкент шаҳри", "cyrl"),
        ("Toshkent, Тошкент шаҳри", "cyrl"),
        ("2026-11-21 !", None),
        ("", None),
    ],
)
def test_detect_script(text: str, script: str | None) -> None:
    assert detect_script(text) == script


def test_to_script_converts_to_the_readers_script() -> None:
    assert to_script("Yangi yoʻl", "cyrl") == "Янги йўл"
    assert to_script("Янги йўл", "latn") == "Yangi yoʻl"


def test_to_script_leaves_text_already_in_the_script_alone() -> None:
    assert to_script("o'zbek 'tili'", "latn") == "o'zbek 'tili'"
    assert to_script("Ўзбек тили", "cyrl") == "Ўзбек тили"


def test_each_direction_leaves_the_other_script_alone() -> None:
    assert to_cyrillic("Ўзбек тили, 2026") == "Ўзбек тили, 2026"
    assert to_latin("Oʻzbek tili, 2026") == "Oʻzbek tili, 2026"


def test_to_script_rejects_unknown_scripts() -> None:
    with pytest.raises(ValueError, match="arab"):
        to_script("salom", "arab")


def test_arbitrary_text_never_raises() -> None:
    alphabet = (
        "aeiouyshcgoqxAEIOUYSHCGOQX"
        "аеёиоуэюяўъьцшщыАЕЁИОУЭЮЯЎЪЬЦШЩЫ"
        "'`‘’\u02bb\u02bc\u0306 -.,!?\"«»0123456789\n\t😀\u200d\x00İẞß"
    )
    rng = random.Random(1995)
    for _ in range(2000):
        text = "".join(rng.choices(alphabet, k=rng.randint(0, 12)))
        for convert in (normalise, to_cyrillic, to_latin):
            assert isinstance(convert(text), str)
        for script in ("latn", "cyrl"):
            assert isinstance(to_script(text, script), str)
        assert detect_script(text) in ("latn", "cyrl", None)
