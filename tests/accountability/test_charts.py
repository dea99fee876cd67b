"""Server-drawn SVG bar charts: values written out, text escaped, bars in proportion."""

from __future__ import annotations

import re

from ovoz.accountability.charts import VALUE_ROOM, WIDTH, Row, bar_chart
from ovoz.i18n import locale


def widths(svg: str) -> list[float]:
    """The widths of the bars, in drawing order (the legend's swatches are not bars)."""
    return [float(width) for width in re.findall(r'<rect x="0" y="[\d.]+" width="([\d.]+)" '
                                                 r'height="14"', svg)]


def test_a_chart_is_an_image_with_its_title_values_and_labels() -> None:
    svg = str(bar_chart("On time, by district", [
        Row("Beruniy", (0.8,), ("80 %",)), Row("Chortoq", (0.4,), ("40 %",))], maximum=1))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'role="img"' in svg and 'aria-label="On time, by district"' in svg
    assert "<title>On time, by district</title>" in svg
    assert re.search(r'viewBox="0 0 360 [\d.]+"', svg)
    assert ">Beruniy</text>" in svg and ">80 %</text>" in svg and ">40 %</text>" in svg
    assert "<script" not in svg


def test_bar_lengths_are_proportional_to_the_values() -> None:
    svg = str(bar_chart("Received", [Row("A", (10,), ("10",)), Row("B", (5,), ("5",)),
                                     Row("C", (0,), ("0",))]))
    # The largest value fills the room for bars; a zero draws no bar but says "0".
    assert widths(svg) == [WIDTH - VALUE_ROOM, (WIDTH - VALUE_ROOM) / 2]
    assert ">0</text>" in svg
    rates = str(bar_chart("Rate", [Row("A", (0.5,), ("50 %",)), Row("B", (0.25,), ("25 %",))],
                          maximum=1))
    assert widths(rates) == [(WIDTH - VALUE_ROOM) / 2, (WIDTH - VALUE_ROOM) / 4]


def test_several_series_have_a_legend_and_a_bar_each() -> None:
    svg = str(bar_chart("Days", [Row("A", (4, 12), ("4", "12")), Row("B", (None, 6),
                                                                         ("—", "6"))],
                        ["Median", "90th percentile"]))
    assert ">Median</text>" in svg and ">90th percentile</text>" in svg
    # A missing value draws no bar and is written as a dash.
    assert widths(svg) == [round((WIDTH - VALUE_ROOM) / 3, 1), WIDTH - VALUE_ROOM,
                           (WIDTH - VALUE_ROOM) / 2]
    assert ">—</text>" in svg


def test_text_is_escaped() -> None:
    svg = str(bar_chart('Bodies "<all>"', [Row("Roads & <b>bridges</b>", (1,), ("1",))]))
    assert "<b>" not in svg
    assert "Roads &amp; &lt;b&gt;bridges&lt;/b&gt;" in svg
    assert 'aria-label="Bodies &#34;&lt;all&gt;&#34;"' in svg


def test_long_labels_are_shortened() -> None:
    svg = str(bar_chart("Bodies", [Row("Department " * 10, (1,), ("1",))]))
    label = re.search(r'font-weight="bold" fill="#1b1f23">([^<]*)<', svg)
    assert label and label.group(1).endswith("…") and len(label.group(1)) <= 46


def test_nothing_to_draw_says_so() -> None:
    # In the reader's language; Uzbek when nothing else was chosen.
    assert str(bar_chart("Rate", [])) == (
        '<p class="chart-empty">Bu davr uchun koʻrsatkichlar yoʻq.</p>')
    english = locale.current_language.set("en")
    try:
        assert str(bar_chart("Rate", [])) == (
            '<p class="chart-empty">No figures for this period.</p>')
    finally:
        locale.current_language.reset(english)
    empty = str(bar_chart("Rate", [Row("A", (None,), ("—",))], no_data="Nothing <yet>"))
    assert empty == '<p class="chart-empty">Nothing &lt;yet&gt;</p>'
