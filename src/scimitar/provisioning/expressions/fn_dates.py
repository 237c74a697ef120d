"""The date functions: CDate, DateAdd, DateDiff, DateFromNum, FormatDateTime, Now,
NumFromDate. DateTime values are UTC-aware ``datetime`` objects."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Any

from scimitar.provisioning.expressions.context import EvalContext
from scimitar.provisioning.expressions.dotnet_dates import (
    format_datetime,
    parse_exact,
    parse_lenient,
    parse_styles,
    to_utc,
)
from scimitar.provisioning.expressions.values import Fail, integer, single, text

INTERVALS = ("yyyy", "m", "d", "ww", "h", "n", "s")
"""DateAdd/DateDiff intervals, as the doc lists them (VBA's, minus q, y and w)."""

_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_FILETIME_MAX = 2650467743999999999  # DateTime.MaxValue as a FILETIME (.NET FromFileTimeUtc)
_TICKS_PER_MICROSECOND = 10


def interval(value: Any) -> str:
    """Return the interval name ``value`` spells, or fail listing the accepted ones."""
    name = (text(value, "interval") or "").strip().lower()
    if name not in INTERVALS:
        raise Fail(f"interval must be one of {', '.join(INTERVALS)}; got {value!r}")
    return name


def to_datetime(value: Any, what: str) -> datetime | None:
    """Return ``value`` as a UTC datetime: DateTime values pass, strings are parsed."""
    value = single(value, what)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return to_utc(value)
    if type(value) is str:
        try:
            return parse_lenient(value)
        except ValueError as error:
            raise Fail(f"{what}: {error}") from None
    raise Fail(f"{what} must be a date/time string, got {type(value).__name__}")


def cdate(value: Any) -> datetime | None:
    """CDate(expression): a string to a UTC DateTime (its offset applied)."""
    return to_datetime(value, "expression")


def now(context: EvalContext) -> datetime:
    """Now(): the current UTC time (``EvalContext.now``)."""
    return to_utc(context.now)


def _add_months(value: datetime, months: int) -> datetime:
    # .NET AddMonths/AddYears keep the day, clamped to the target month's last day.
    total = value.year * 12 + value.month - 1 + months
    year, month = divmod(total, 12)
    if not 1 <= year <= 9999:
        raise Fail("the resulting date is outside years 1-9999")
    day = min(value.day, calendar.monthrange(year, month + 1)[1])
    return value.replace(year=year, month=month + 1, day=day)


_UNITS = {"d": timedelta(days=1), "ww": timedelta(weeks=1), "h": timedelta(hours=1)}
_UNITS |= {"n": timedelta(minutes=1), "s": timedelta(seconds=1)}


def date_add(unit: Any, value: Any, when: Any) -> datetime | None:
    """DateAdd(interval, value, dateTime)."""
    name = interval(unit)
    count = integer(value, "value")
    moment = to_datetime(when, "dateTime")
    if moment is None:
        return None
    if name == "yyyy":
        return _add_months(moment, 12 * count)
    if name == "m":
        return _add_months(moment, count)
    try:
        return moment + _UNITS[name] * count
    except OverflowError:
        raise Fail("the resulting date is outside years 1-9999") from None


def _truncate(delta: timedelta, unit: timedelta) -> int:
    # VBA DateDiff truncates toward zero: -3449.4 days is -3449.
    quotient = abs(delta) // unit
    return quotient if delta >= timedelta(0) else -quotient


def date_diff(unit: Any, first: Any, second: Any) -> int | None:
    """DateDiff(interval, date1, date2): positive when date2 is later.

    As VBA: years and months count calendar boundaries, "ww" counts Sunday-started
    weeks (the doc's -493), the other units truncate the elapsed time.
    """
    name = interval(unit)
    start = to_datetime(first, "date1")
    end = to_datetime(second, "date2")
    if start is None or end is None:
        return None
    if name == "yyyy":
        return end.year - start.year
    if name == "m":
        return (end.year - start.year) * 12 + end.month - start.month
    if name == "ww":
        start_week = start.date() - timedelta(days=(start.weekday() + 1) % 7)
        end_week = end.date() - timedelta(days=(end.weekday() + 1) % 7)
        return (end_week - start_week).days // 7
    return _truncate(end - start, _UNITS[name])


def date_from_num(value: Any) -> datetime | None:
    """DateFromNum(value): an AD FILETIME (100 ns ticks since 1601) to a DateTime."""
    value = single(value, "value")
    if value is None or value == "":
        return None
    ticks = integer(value, "value")
    if not 0 <= ticks <= _FILETIME_MAX:
        raise Fail(f"value {ticks} is not an AD date (0 to {_FILETIME_MAX})")
    return _FILETIME_EPOCH + timedelta(microseconds=ticks // _TICKS_PER_MICROSECOND)


def num_from_date(value: Any) -> int | None:
    """NumFromDate(value): an ISO 8601 date/time to an AD FILETIME (e.g. accountExpires)."""
    moment = to_datetime(value, "value")
    if moment is None:
        return None
    delta = moment - _FILETIME_EPOCH
    if delta < timedelta(0):
        raise Fail("dates before 1601 have no AD representation")
    return (delta // timedelta(microseconds=1)) * _TICKS_PER_MICROSECOND


def format_date_time(
    context: EvalContext, source: Any, styles: Any, input_format: Any, output_format: Any
) -> str | None:
    """FormatDateTime(source, dateTimeStyles, inputFormat, outputFormat)."""
    value = single(source, "source")
    out_fmt = text(output_format, "outputFormat")
    if not out_fmt:
        raise Fail("outputFormat must not be empty")
    try:
        if isinstance(value, datetime):
            return format_datetime(value, out_fmt)
        raw = text(value, "source")
        if not raw:
            return None
        in_fmt = text(input_format, "inputFormat")
        if not in_fmt:
            raise Fail("inputFormat must not be empty")
        today = to_utc(context.now).date()
        parsed = parse_exact(raw, in_fmt, parse_styles(text(styles, "dateTimeStyles")), today)
        return format_datetime(parsed, out_fmt)
    except ValueError as error:  # DateFormatError included: a bad format string
        raise Fail(str(error)) from None
