"""The reader's language for the current request, gettext over Babel catalogs, and dates and
numbers in the reader's conventions."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
TASHKENT = ZoneInfo("Asia/Tashkent")
# Interface language code -> Babel locale (and catalog folder name).
BABEL_LOCALES = {"uz": "uz_Latn", "uz-Cyrl": "uz_Cyrl", "ru": "ru", "en": "en"}
CATALOG_FOLDERS = {"uz": "uz", "uz-Cyrl": "uz_Cyrl", "ru": "ru", "en": "en"}
# Each language named in itself, for the language switch.
NATIVE_NAMES = {"uz": "Oʻzbekcha", "uz-Cyrl": "Ўзбекча", "ru": "Русский", "en": "English"}
# Uzbek month names in the genitive-free form used in dates such as "21-noyabr 2026".
_UZ_MONTHS = (
    "yanvar", "fevral", "mart", "aprel", "may", "iyun",
    "iyul", "avgust", "sentabr", "oktabr", "noyabr", "dekabr",
)

# Places and other named things carry their name in each language in these columns.
NAME_COLUMNS = {"uz": "name_uz", "uz-Cyrl": "name_uz_cyrl", "ru": "name_ru", "en": "name_en"}

current_language: ContextVar[str] = ContextVar("current_language", default="uz")


@cache
def translations(language: str) -> NullTranslations:
    folder = CATALOG_FOLDERS[language]
    if not (LOCALE_DIR / folder / "LC_MESSAGES" / "messages.mo").exists():
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), locales=[folder], domain="messages")


def template_gettext(message: str) -> str:
    """For Jinja's newstyle gettext, which does the %-formatting itself."""
    return translations(current_language.get()).gettext(message)


def template_ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_language.get()).ngettext(singular, plural, n)


def gettext(message: str, **variables: object) -> str:
    text = translations(current_language.get()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    text = translations(current_language.get()).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


def lazy(message: str) -> str:
    """Marks a message for extraction where it is defined; translate it with gettext() when
    it is shown."""
    return message


def localised_name(row: Mapping[str, Any], language: str | None = None) -> str:
    """The name in the reader's language, falling back to Uzbek Latin."""
    column = NAME_COLUMNS[language or current_language.get()]
    return row.get(column) or row["name_uz"]


def parse_language(value: str | None) -> str | None:
    """Accept the interface codes and the common spellings people and browsers use."""
    if not value:
        return None
    key = value.strip().replace("_", "-").lower()
    aliases = {
        "uz": "uz", "uz-latn": "uz", "uz-latn-uz": "uz", "uz-uz": "uz", "oz": "uz-Cyrl",
        "uz-cyrl": "uz-Cyrl", "uz-cyrl-uz": "uz-Cyrl", "ru": "ru", "ru-ru": "ru",
        "en": "en", "en-us": "en", "en-gb": "en",
    }
    return aliases.get(key)


def from_accept_language(header: str | None) -> str | None:
    """The best interface language for an Accept-Language header, honouring q-values."""
    if not header:
        return None
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        language = parse_language(tag) or parse_language(tag.split("-")[0])
        if language and quality > 0:
            choices.append((-quality, position, language))
    return min(choices)[2] if choices else None


def html_lang(language: str) -> str:
    return {"uz": "uz-Latn", "uz-Cyrl": "uz-Cyrl", "ru": "ru", "en": "en"}[language]


def format_date(value: date | datetime | None, language: str | None = None) -> str:
    """'21-noyabr 2026' in Uzbek, '21 ноября 2026 г.' in Russian, '21 November 2026' in English."""
    if value is None:
        return ""
    language = language or current_language.get()
    if isinstance(value, datetime):
        value = value.astimezone(TASHKENT).date()
    if language == "uz":
        return f"{value.day}-{_UZ_MONTHS[value.month - 1]} {value.year}"
    if language == "uz-Cyrl":
        from ovoz.i18n.translit import to_cyrillic

        return to_cyrillic(f"{value.day}-{_UZ_MONTHS[value.month - 1]} {value.year}")
    return babel_format_date(value, format="long", locale=Locale.parse(BABEL_LOCALES[language]))


def format_datetime(value: datetime | None, language: str | None = None) -> str:
    if value is None:
        return ""
    language = language or current_language.get()
    local = value.astimezone(TASHKENT)
    if language in ("uz", "uz-Cyrl"):
        return f"{format_date(local, language)}, {local:%H:%M}"
    return babel_format_datetime(
        local, format="d MMMM y, HH:mm", locale=Locale.parse(BABEL_LOCALES[language])
    )


def format_number(value: int | float, language: str | None = None) -> str:
    language = language or current_language.get()
    return format_decimal(value, locale=Locale.parse(BABEL_LOCALES[language]))

