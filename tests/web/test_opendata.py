"""The helpers every open-data download shares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ovoz.web import opendata


@pytest.mark.parametrize("value", ["=1+2", "\tx", "\rx", "-1", "@a", "+7"])
def test_text_cells_that_a_spreadsheet_would_run_get_an_apostrophe(value: str) -> None:
    assert opendata.cell(value) == "'" + value


def test_other_cells_keep_their_values() -> None:
    assert opendata.cell("plain text") == "plain text"
    assert opendata.cell(-1.5) == -1.5
    assert opendata.cell(True) == "true" and opendata.cell(None) == ""


def test_times_are_utc_to_the_second() -> None:
    tashkent = timezone(timedelta(hours=5))
    assert opendata.utc_text(datetime(2026, 11, 22, 10, 30, 15, 999, tashkent)) == \
        "2026-11-22T05:30:15Z"
    assert opendata.utc_text(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00Z"
    assert opendata.utc_text(None) == ""


def test_rows_are_utf8_csv() -> None:
    assert opendata.csv_bytes([["Yoʻl", "Йўл"], [1, ""]]) == "Yoʻl,Йўл\r\n1,\r\n".encode()
