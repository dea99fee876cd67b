"""When an answer is due: the Law on Appeals' terms, counted in calendar or working days.

A term ends at the end of its last day in Tashkent; a term whose last day is a day off (a
weekend or a public holiday) ends at the end of the next working day, as the law counts.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta

from ovoz.i18n.locale import TASHKENT
from ovoz.settings import get_settings

# The Law on Appeals: applications and complaints within 15 days, proposals within a month.
COMPLAINT_DAYS = 15
PROPOSAL_MONTHS = 1


def is_working_day(day: date) -> bool:
    settings = get_settings()
    return day.isoweekday() in settings.working_weekdays and day not in settings.public_holidays


def next_working_day(day: date) -> date:
    # A year without a working day is a misconfiguration, not a reason to loop for ever.
    for _ in range(366):
        if is_working_day(day):
            return day
        day += timedelta(days=1)
    return day


def local_day(at: datetime) -> date:
    return at.astimezone(TASHKENT).date()


def last_day(moment: datetime) -> date:
    """The last day, in Tashkent, of a term that ends at `moment` (a midnight): what a page
    shows as "answer by"."""
    return local_day(moment - timedelta(seconds=1))


def end_of(day: date) -> datetime:
    """The first moment after `day` in Tashkent, in UTC."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=TASHKENT).astimezone(UTC)


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_days(day: date, days: int) -> date:
    if get_settings().deadline_counting == "working":
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            counted += is_working_day(day)
        return day
    return day + timedelta(days=days)


def due_after(registered_at: datetime, *, days: int = 0, months: int = 0) -> datetime:
    """The end of a term of `days` (or `months`) counted from the day after registration."""
    last = local_day(registered_at)
    if months:
        last = add_months(last, months)
    if days:
        last = add_days(last, days)
    return end_of(next_working_day(last))


def extended(due_at: datetime, days: int) -> datetime:
    """A due date moved on by `days`, counted from its last day as the term itself was."""
    return end_of(next_working_day(add_days(last_day(due_at), days)))


def days_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 86400
