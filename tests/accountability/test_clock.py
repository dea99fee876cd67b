"""The Law on Appeals' terms: counted from the day after registration, ending at the end of a
working day in Tashkent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from ovoz.accountability import clock
from ovoz.settings import SettingsError, get_settings, load_settings


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def at(day: str, hour: int = 10) -> datetime:
    """`hour` o'clock in Tashkent (UTC+5) on `day`."""
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+05:00").astimezone(UTC)


def ends(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T00:00:00+05:00").astimezone(UTC)


def test_fifteen_calendar_days_end_at_midnight_after_the_last_day(
        settings_env: pytest.MonkeyPatch) -> None:
    # Registered on Monday 2 November 2026; the 15th day is Tuesday 17 November.
    assert clock.due_after(at("2026-11-02"), days=15) == ends("2026-11-18")
    # Late in the evening in Tashkent is still the same day, though UTC says otherwise.
    assert clock.due_after(at("2026-11-02", 23), days=15) == ends("2026-11-18")


def test_a_term_ending_on_a_day_off_ends_on_the_next_working_day(
        settings_env: pytest.MonkeyPatch) -> None:
    # 15 days from Friday 6 November 2026 is Saturday 21 November: Monday 23 counts.
    assert clock.due_after(at("2026-11-06"), days=15) == ends("2026-11-24")
    # A month from 8 November is 8 December, Constitution Day (seeds/holidays.csv).
    assert date(2026, 12, 8) in get_settings().public_holidays
    assert clock.due_after(at("2026-11-08"), months=1) == ends("2026-12-10")


def test_a_month_ends_on_the_last_day_of_a_shorter_month(
        settings_env: pytest.MonkeyPatch) -> None:
    assert clock.add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert clock.add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


def test_working_days_skip_weekends_and_holidays(settings_env: pytest.MonkeyPatch) -> None:
    settings_env.setenv("OVOZ_DEADLINE_COUNTING", "working")
    settings_env.setenv("OVOZ_PUBLIC_HOLIDAYS", "2026-11-11, 2026-11-12")
    get_settings.cache_clear()
    # From Monday 2 November: 3..6, (11 and 12 are holidays) 9, 10, 13, 16..20, 23..25.
    assert clock.due_after(at("2026-11-02"), days=15) == ends("2026-11-26")
    # A six-day week: Saturdays count too, and the 15th working day is Saturday 21.
    settings_env.setenv("OVOZ_WORKING_WEEKDAYS", "1,2,3,4,5,6")
    get_settings.cache_clear()
    assert clock.due_after(at("2026-11-02"), days=15) == ends("2026-11-22")


def test_an_extension_counts_on_from_the_last_day(settings_env: pytest.MonkeyPatch) -> None:
    due = ends("2026-11-18")
    # The last day was 17 November; ten more days end on Friday 27 November.
    assert clock.extended(due, 10) == ends("2026-11-28")
    # Twelve more would end on Sunday 29 November: Monday 30 counts.
    assert clock.extended(due, 12) == ends("2026-12-01")


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("OVOZ_DEADLINE_COUNTING", "lunar", "'calendar', 'working'"),
    ("OVOZ_WORKING_WEEKDAYS", "1,2,9", "weekdays from 1"),
    ("OVOZ_WORKING_WEEKDAYS", "", "ISO weekdays"),
    ("OVOZ_PUBLIC_HOLIDAYS", "2026-13-01", "YYYY-MM-DD"),
    ("OVOZ_PUBLIC_HOLIDAYS", "seeds/no-such-file.csv", "cannot read"),
])
def test_bad_clock_settings_are_named(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value})
    assert variable in str(caught.value) and message in str(caught.value)


def test_the_shipped_holidays_are_read(settings_env: pytest.MonkeyPatch) -> None:
    holidays = get_settings().public_holidays
    assert date(2026, 3, 21) in holidays and date(2027, 9, 1) in holidays
    assert not clock.is_working_day(date(2026, 9, 1))
    assert clock.is_working_day(date(2026, 9, 2))
