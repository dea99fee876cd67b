"""Bar charts drawn on the server as SVG: no chart script, nothing to download.

Bars are horizontal so a chart reads on a 360 px phone: each row's label on a line of its own,
then one bar per series with its value written at the end. A chart is an image to screen
readers (its title says what it shows); the page puts the same figures in a table beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from markupsafe import Markup, escape

from ovoz.i18n import locale

WIDTH: Final = 360
# Room after the longest bar for its value ("100 %", "1,234").
VALUE_ROOM: Final = 64
BAR: Final = 14
LABEL: Final = 18
GAP: Final = 10
FONT: Final = 13
# One colour per series, each with at least 4.5:1 contrast on white; a legend names them.
COLOURS: Final = ("#0b5d3b", "#0a4fa3", "#a4262c", "#6b4c00")
# About as many letters as fit across the chart; the table beside it has the whole label.
LABEL_LETTERS: Final = 46


@dataclass(frozen=True, slots=True)
class Row:
    """One label and its values, one per series; `texts` are the values as words."""

    label: str
    values: tuple[float | None, ...]
    texts: tuple[str, ...]


def _shortened(label: str) -> str:
    return label if len(label) <= LABEL_LETTERS else label[:LABEL_LETTERS - 1].rstrip() + "…"


def _text(x: float, y: float, words: str, *, anchor: str = "start",
          weight: str = "normal") -> str:
    return (f'<text x="{x:g}" y="{y:g}" font-size="{FONT}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="#1b1f23">{escape(words)}</text>')


def bar_chart(title: str, rows: Sequence[Row], series: Sequence[str] = (), *,
              maximum: float | None = None, no_data: str | None = None) -> Markup:
    """An SVG chart of `rows`, bars as long as their value over `maximum` (the largest value
    when None). Without any value to draw, a sentence saying so instead."""
    values = [value for row in rows for value in row.values if value is not None]
    if not values:
        return Markup('<p class="chart-empty">{}</p>').format(
            no_data or locale.gettext("No figures for this period."))
    top = maximum if maximum is not None else max(values)
    bar_room = WIDTH - VALUE_ROOM
    parts: list[str] = []
    y = 0.0
    if len(series) > 1:
        # The legend: a swatch and the series' name, one per line.
        for index, name in enumerate(series):
            parts.append(f'<rect x="0" y="{y + 3:g}" width="{BAR}" height="{BAR - 4}" '
                         f'fill="{COLOURS[index % len(COLOURS)]}"/>')
            parts.append(_text(BAR + 6, y + BAR, name))
            y += LABEL
        y += GAP / 2
    for row in rows:
        parts.append(_text(0, y + BAR, _shortened(row.label), weight="bold"))
        y += LABEL + 2
        for index, (value, words) in enumerate(zip(row.values, row.texts, strict=True)):
            length = 0.0
            if value is not None and top > 0:
                length = round(min(max(value, 0) / top, 1) * bar_room, 1)
            if length > 0:
                parts.append(f'<rect x="0" y="{y:g}" width="{length:g}" height="{BAR}" '
                             f'fill="{COLOURS[index % len(COLOURS)]}"/>')
            parts.append(_text(length + 4, y + BAR - 2, words))
            y += BAR + 4
        y += GAP
    height = round(y, 1)
    return Markup(
        '<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {WIDTH} {height:g}" width="{WIDTH}" height="{height:g}" '
        'aria-label="{label}"><title>{label}</title>').format(label=title) + Markup(
        "".join(parts)) + Markup("</svg>")
