from __future__ import annotations

import re

import pytest
from babel.messages.catalog import Catalog

from ovoz.i18n import catalogs

PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]")


def _messages(catalog: Catalog) -> list[tuple[str, tuple[str, ...]]]:
    found = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        found.append((ids[0], tuple(strings)))
    return found


def test_catalog_template_matches_the_code_and_templates() -> None:
    """A new or changed message in code or templates must be extracted (ovoz i18n extract)."""
    with catalogs.TEMPLATE_FILE.open("rb") as pot:
        from babel.messages.pofile import read_po

        shipped = {m.id for m in read_po(pot) if m.id}
    assert {m.id for m in catalogs.extract() if m.id} == shipped


@pytest.mark.parametrize("folder", ["uz", "ru"])
def test_every_message_is_translated(folder: str) -> None:
    catalog = catalogs.read_catalog(folder)
    template_ids = {m.id for m in catalogs.extract() if m.id}
    assert {m.id for m in catalog if m.id} == template_ids
    untranslated = [msgid for msgid, strings in _messages(catalog) if not all(strings)]
    assert untranslated == []
    assert [m.id for m in catalog if m.id and m.fuzzy] == []


@pytest.mark.parametrize("folder", ["uz", "uz_Cyrl", "ru", "en"])
def test_translations_keep_their_placeholders(folder: str) -> None:
    for message in catalogs.read_catalog(folder):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = set(PLACEHOLDER.findall(ids[-1])) - {"%(num)s"}
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in filter(None, strings):
            assert set(PLACEHOLDER.findall(text)) - {"%(num)s"} == wanted, message.id


def test_uzbek_cyrillic_catalog_is_generated_from_the_latin_one() -> None:
    generated = _messages(catalogs.cyrillic_catalog())
    shipped = _messages(catalogs.read_catalog("uz_Cyrl"))
    assert sorted(shipped) == sorted(generated)


def test_cyrillic_text_leaves_placeholders_and_markup_alone() -> None:
    assert catalogs.cyrillic_text("%(seq)s-yozuv, <b>xesh</b> &nbsp;") == (
        "%(seq)s-ёзув, <b>хеш</b> &nbsp;"
    )


def test_cyrillic_text_keeps_codes_and_formats_in_latin_letters() -> None:
    """The open-data files hold codes, column names and formats as written; so must the
    Cyrillic page that describes them. Uzbek words and abbreviations still change script."""
    assert catalogs.cyrillic_text(
        "on_time ni rated ga boʻling; new, in_progress yoki fixed; YYYY-MM-DD, SHA-256, "
        "UTF-8, add1, (CSV), Ctrl+P") == (
        "on_time ни rated га бўлинг; new, in_progress ёки fixed; YYYY-MM-DD, SHA-256, "
        "UTF-8, add1, (CSV), Ctrl+P")
    assert catalogs.cyrillic_text("bir-biri, 2027-yil, MFY va NNT, Mahalla") == (
        "бир-бири, 2027-йил, МФЙ ва ННТ, Маҳалла")


def test_manual_exceptions_override_the_rules() -> None:
    cyrillic = dict(_messages(catalogs.read_catalog("uz_Cyrl")))
    for msgid, text in catalogs.CYRILLIC_EXCEPTIONS.items():
        assert cyrillic[msgid] == (text,)


def test_compiled_catalogs_exist_for_every_language() -> None:
    for folder in ("uz", "uz_Cyrl", "ru", "en"):
        assert catalogs.catalog_path(folder).with_suffix(".mo").exists(), folder
