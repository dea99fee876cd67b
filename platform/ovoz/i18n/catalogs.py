"""Maintaining the gettext catalogs: extraction, the generated Uzbek Cyrillic catalog, compiling.

Only Babel and the standard library are imported here: the install-time build hook uses this
module before Ovoz's other dependencies exist."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from ovoz.i18n.translit import to_cyrillic

PACKAGE_DIR = Path(__file__).resolve().parents[1]
ROOT = PACKAGE_DIR.parents[1]
LOCALE_DIR = PACKAGE_DIR / "locale"
TEMPLATE_FILE = LOCALE_DIR / "messages.pot"
# Catalog folders kept by hand; uz_Cyrl is generated from uz.
EDITED = ("uz", "ru", "en")
KEYWORDS = {"gettext": None, "ngettext": (1, 2), "lazy": None, "_": None}
# Where the rules of transliteration give a form that Cyrillic usage does not: msgid -> text.
CYRILLIC_EXCEPTIONS: dict[str, str] = {
    "Ovoz is free software under the GNU AGPL.":
        "Ovoz — GNU AGPL лицензиясидаги эркин дастурий таъминот.",
}

# Codes the open-data dictionary names in its text (statuses, outcomes, rules, values): the
# files hold them in Latin letters, so the Cyrillic page must too.
_DATA_CODES = (
    "new", "acknowledged", "fixed", "duplicate", "referred", "open", "closed", "expired",
    "responded", "rejected", "withdrawn", "submitted", "feasible", "infeasible", "merged",
    "selected", "planned", "procurement", "completed", "cancelled", "answered", "lapsed", "true",
    "false", "null", "none", "greedy", "mes", "cost", "cardinality", "url", "seq", "hash", "kind",
    "subject", "payload", "region", "district", "department", "report", "petition", "delivery",
    "hex", "rated", "at", "scope", "dataset", "columns", "items", "properties", "pb",
)
# Kept as written: placeholders, markup, entities; names, acronyms and formats that Uzbek
# Cyrillic text also writes in Latin letters; and code: snake_case names, words with digits
# (add1, A4, sha256sum), formats like YYYY-MM-DD or SHA-256, and the data codes above.
_PLACEHOLDER = re.compile(
    r"%\([a-z_]+\)[sd]|%%|<[^>]+>|&[a-z]+;"
    r"|\b(?:OneID|Google Authenticator|FreeOTP|GNU AGPL|API|JSON|SMS|id|CSV|PDF|GeoJSON|"
    r"UTC|QR|PNG|JPEG|WebP|HTML|URL|UTF-8|BOM|MB|Excel|FeatureCollection|pabulib|Ctrl\+P|"
    r"Start)\b"
    r"|\b[A-Za-z0-9]+(?:_[A-Za-z0-9]+)+\b|\b[A-Za-z]+\d[A-Za-z0-9]*\b"
    r"|\b[A-Z]{2,}(?:[-:][A-Z0-9]+)+\b|\b\d{4}-Q[1-4n]\b"
    rf"|\b(?:{'|'.join(_DATA_CODES)})\b"
)


def catalog_path(folder: str) -> Path:
    return LOCALE_DIR / folder / "LC_MESSAGES" / "messages.po"


def read_catalog(folder: str) -> Catalog:
    with catalog_path(folder).open("rb") as po_file:
        return read_po(po_file, locale=folder)


def _write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as po_file:
        write_po(po_file, catalog, width=100, omit_header=False, sort_output=True,
                 include_previous=False)


def extract() -> Catalog:
    template = Catalog(project="Ovoz", msgid_bugs_address="", copyright_holder="Ovoz authors",
                       fuzzy=False)
    sources = [
        (PACKAGE_DIR, [("**.py", "python")], "platform/ovoz"),
        (ROOT / "templates", [("**.html", "jinja2")], "templates"),
    ]
    for directory, method_map, prefix in sources:
        options = {"**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
        for filename, line, message, comments, context in extract_from_dir(
            str(directory), method_map=method_map, options_map=options, keywords=KEYWORDS,
            strip_comment_tags=True,
        ):
            template.add(message, None, [(f"{prefix}/{filename}", line)],
                         auto_comments=comments, context=context)
    return template


def extract_and_update() -> str:
    template = extract()
    _write(template, TEMPLATE_FILE)
    for folder in EDITED:
        path = catalog_path(folder)
        catalog = read_catalog(folder) if path.exists() else Catalog(locale=folder, project="Ovoz")
        # Fuzzy guesses ("District" from "Pilot district") would show wrong text; a new
        # message stays untranslated until someone translates it.
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        catalog.fuzzy = False
        catalog.obsolete.clear()
        _write(catalog, path)
    write_cyrillic_catalog()
    return f"{len(template)} messages extracted; catalogs {', '.join(EDITED)} and uz_Cyrl updated."


def cyrillic_text(text: str) -> str:
    """Transliterate a translation, leaving placeholders, markup and entities as they are."""
    pieces: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        pieces.append(to_cyrillic(text[position : match.start()]))
        pieces.append(match.group(0))
        position = match.end()
    pieces.append(to_cyrillic(text[position:]))
    return "".join(pieces)


def cyrillic_catalog() -> Catalog:
    latin = read_catalog("uz")
    catalog = Catalog(locale="uz_Cyrl", project="Ovoz", fuzzy=False)
    for message in latin:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            strings = tuple(cyrillic_text(s) for s in message.string)
            catalog.add(message.id, strings, message.locations, flags=message.flags)
            continue
        text = CYRILLIC_EXCEPTIONS.get(message.id) or cyrillic_text(message.string)
        catalog.add(message.id, text, message.locations, flags=message.flags)
    return catalog


def write_cyrillic_catalog() -> str:
    catalog = cyrillic_catalog()
    _write(catalog, catalog_path("uz_Cyrl"))
    return f"uz_Cyrl: {len(catalog)} messages written from uz."


def compile_all(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    compiled = []
    for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/messages.po")):
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parts[-3])
        mo_path = po_path.with_suffix(".mo")
        with mo_path.open("wb") as mo_file:
            write_mo(mo_file, catalog, use_fuzzy=False)
        compiled.append(mo_path)
    return compiled
