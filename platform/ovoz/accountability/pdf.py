"""A published accountability report as a printable A4 PDF, rendered on the server with fpdf2
from the frozen snapshot and the narrative, in the reader's language.

DejaVu Sans is embedded (vendored beside this file, so a server without it still renders Uzbek
ʻ and ʼ, Cyrillic and Russian). Every page's footer carries the version's SHA-256 and the
number of the ledger entry that recorded it, so a printed page can be checked too."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from ovoz.accountability import clock, periodic
from ovoz.i18n import locale
from ovoz.settings import get_settings

FONTS = Path(__file__).resolve().parent / "fonts"
FAMILY = "DejaVuSans"
HEADING = FontFace(emphasis="BOLD", fill_color=(234, 238, 241))


class _Document(FPDF):
    def __init__(self, footer_lines: Sequence[str]) -> None:
        super().__init__(format="A4")
        self.footer_lines = footer_lines
        self.add_font(FAMILY, "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font(FAMILY, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(auto=True, margin=22)

    def footer(self) -> None:
        self.set_y(-18)
        self.set_font(FAMILY, "", 7)
        self.set_text_color(80, 90, 100)
        for line in self.footer_lines:
            self.cell(0, 3.6, line, new_x="LMARGIN", new_y="NEXT", align="C")
        self.cell(0, 3.6, locale.gettext("Page %(page)s of %(pages)s", page=self.page_no(),
                                         pages="{nb}"), align="C")
        self.set_text_color(0, 0, 0)

    def heading(self, text: str, size: float = 12) -> None:
        self.ln(3)
        self.set_font(FAMILY, "B", size)
        self.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        self.ln(1)
        self.set_font(FAMILY, "", 9)

    def paragraph(self, text: str, size: float = 9) -> None:
        self.set_font(FAMILY, "", size)
        self.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")

    def rows(self, rows: Sequence[Sequence[str]], widths: Sequence[float],
             numeric_from: int | None = None) -> None:
        self.set_font(FAMILY, "", 8)
        align = ["LEFT" if numeric_from is None or index < numeric_from else "RIGHT"
                 for index in range(len(widths))]
        with self.table(col_widths=tuple(widths), text_align=tuple(align), headings_style=HEADING,
                        line_height=4.2, padding=1, width=self.epw) as table:
            for cells in rows:
                row = table.row()
                for cell in cells:
                    row.cell(cell)


def _list_rows(shown: Mapping[str, Any], name: str, language: str) -> list[list[str]]:
    items = shown[name]["items"]
    yes, no = locale.gettext("yes"), locale.gettext("no")
    if name == "responses":
        return [[locale.gettext("Item"), locale.gettext("Title"), locale.gettext("Answered"),
                 locale.gettext("On time")]] + [
            [f"{item['kind_label']} №{item['ref']}", item["title"],
             locale.format_date(item["answered_at"], language), yes if item["on_time"] else no]
            for item in items]
    if name == "overdue":
        return [[locale.gettext("Item"), locale.gettext("Title"), locale.gettext("Due"),
                 locale.gettext("Days late")]] + [
            [f"{item['kind_label']} №{item['ref']}", item["title"],
             locale.format_date(clock.last_day(item["due_at"]), language),
             locale.format_number(item["days_late"], language)] for item in items]
    return [[locale.gettext("Project"), locale.gettext("Delivered"),
             locale.gettext("Reviewed cost, soums"), locale.gettext("Spent, soums"),
             locale.gettext("On time"), locale.gettext("Within budget")]] + [
        [f"№{item['ref']} {item['title']}", locale.format_date(item["delivered_at"], language),
         "—" if item["reviewed_cost"] is None
         else locale.format_number(item["reviewed_cost"], language),
         "—" if item["spent"] is None else locale.format_number(item["spent"], language),
         yes if item["on_time"] else no, yes if item["on_budget"] else no] for item in items]


LIST_WIDTHS = {"responses": (3, 6, 2.4, 1.4), "overdue": (3, 6, 2.4, 1.4),
               "delivered": (5, 2.2, 2.2, 2.2, 1.3, 1.5)}


def render(row: Mapping[str, Any], ledger_seq: int | None, language: str | None = None
           ) -> bytes:
    """The PDF of a published (or superseded) version, in `language` (else the reader's)."""
    chosen = locale.current_language.set(language or locale.current_language.get())
    try:
        return _render(row, ledger_seq, locale.current_language.get())
    finally:
        locale.current_language.reset(chosen)


def _render(row: Mapping[str, Any], ledger_seq: int | None, language: str) -> bytes:
    frozen = json.loads(row["snapshot"])
    shown = periodic.readable(frozen, language)
    period = periodic.period_of(row)
    footer = [f"SHA-256: {row['sha256']}"]
    if ledger_seq is not None:
        footer.append(locale.gettext("Recorded in the public ledger, entry %(seq)s",
                                     seq=ledger_seq))
    document = _Document(footer)
    document.set_title(row["title"])
    document.set_subject(periodic.period_label(period.start, period.end, language))
    document.set_keywords(f"sha256:{row['sha256']}")
    document.set_creator("Ovoz")
    document.set_lang(locale.html_lang(language))
    document.add_page()

    document.heading(row["title"], 15)
    facts = [
        (locale.gettext("District"), locale.localised_name(frozen["district"], language)),
        (locale.gettext("Period"), periodic.period_label(period.start, period.end, language)),
        (locale.gettext("Version"), str(row["version"])),
        (locale.gettext("Status"), locale.gettext(periodic.STATUS_LABELS[row["status"]])),
        (locale.gettext("Published"), locale.format_datetime(row["published_at"], language)),
        (locale.gettext("Figures as of"), locale.format_datetime(shown["as_of"], language)),
    ]
    document.rows([[locale.gettext("About this report"), ""], *[list(f) for f in facts]],
                  (1, 2))
    if row["correction_note"]:
        document.heading(locale.gettext("What this version corrects"))
        document.paragraph(row["correction_note"])
    document.heading(locale.gettext("The hokimiyat's account"))
    document.paragraph(row["narrative"] or "—")

    document.heading(locale.gettext("Figures for the whole district"))
    document.rows([[locale.gettext("Figure"), locale.gettext("Value")],
                   *[list(pair) for pair in shown["figures"]]], (4, 1), numeric_from=1)
    if shown["departments"]:
        document.heading(locale.gettext("By department"))
        document.rows([[locale.gettext("Body"), *shown["department_columns"]],
                       *[[body["name"], *body["cells"]] for body in shown["departments"]]],
                      (3, 1, 1, 1, 1, 1), numeric_from=1)
    for name in periodic.LISTS:
        document.heading(f"{locale.gettext(periodic.LIST_LABELS[name])} "
                         f"({locale.format_number(shown[name]['count'], language)})")
        if not shown[name]["items"]:
            document.paragraph(locale.gettext("None."))
            continue
        if shown[name]["cut"]:
            document.paragraph(locale.gettext(
                "Only the first %(shown)s are listed.",
                shown=locale.format_number(len(shown[name]["items"]), language)))
        document.rows(_list_rows(shown, name, language), LIST_WIDTHS[name])
    document.heading(locale.gettext("How to check this report"))
    address = f"{get_settings().base_url}/accountability/reports/{row['id']}.json"
    document.paragraph(locale.gettext(
        "The SHA-256 in the footer is computed over this version's content as published at "
        "%(address)s. The same hash is recorded in Ovoz's public ledger, where it cannot be "
        "changed unnoticed.", address=address))
    return bytes(document.output())
