""".NET date/time format strings, as FormatDateTime, CDate and the date functions use them.

Entra runs .NET on UTC servers with the en-US culture: CDate, Now and DateAdd answer
``M/d/yyyy h:mm:ss tt``, and a parsed offset is converted to UTC. Every datetime
here is UTC-aware.

Supported custom specifiers (learn.microsoft.com "Custom date and time format
strings"): ``d dd ddd dddd``, ``f``…``fffffff``, ``F``…``FFFFFFF``, ``g``/``gg``
(era, "A.D."), ``h hh H HH``, ``K``, ``m mm``, ``M MM MMM MMMM``, ``s ss``, ``t tt``,
``y yy yyy yyyy yyyyy``, ``z zz zzz``, ``:`` and ``/`` (en-US separators), quoted
literals ``'…'`` and ``"…"``, ``\\c`` escapes and ``%c`` for a lone specifier; any
other character is a literal (so the ``Z`` of ``yyyyMMddHHmmss.fZ`` is a literal ``Z``,
read as UTC when parsing, as .NET does). A one-character format is a standard format:
``d D f F g G M m O o R r s t T u U Y y``, with en-US patterns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# en-US standard format patterns (System.Globalization, CultureInfo("en-US")).
STANDARD_FORMATS = {
    "d": "M/d/yyyy",
    "D": "dddd, MMMM d, yyyy",
    "f": "dddd, MMMM d, yyyy h:mm tt",
    "F": "dddd, MMMM d, yyyy h:mm:ss tt",
    "g": "M/d/yyyy h:mm tt",
    "G": "M/d/yyyy h:mm:ss tt",
    "M": "MMMM d",
    "m": "MMMM d",
    "O": "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
    "o": "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
    "R": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
    "r": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
    "s": "yyyy'-'MM'-'dd'T'HH':'mm':'ss",
    "t": "h:mm tt",
    "T": "h:mm:ss tt",
    "u": "yyyy'-'MM'-'dd HH':'mm':'ss'Z'",
    "U": "dddd, MMMM d, yyyy h:mm:ss tt",
    "Y": "MMMM yyyy",
    "y": "MMMM yyyy",
}

DATETIME_STYLES = frozenset(
    name.casefold()
    for name in (
        "None",
        "AllowLeadingWhite",
        "AllowTrailingWhite",
        "AllowInnerWhite",
        "AllowWhiteSpaces",
        "NoCurrentDateDefault",
        "AdjustToUniversal",
        "AssumeLocal",
        "AssumeUniversal",
        "RoundtripKind",
    )
)

_SPECIFIERS = frozenset("dfFghHKmMstyz")
_MAX_COUNT = {"f": 7, "F": 7}
_TWO_DIGIT_YEAR_MAX = 2049  # .NET GregorianCalendar.TwoDigitYearMax


class DateFormatError(ValueError):
    """A format string .NET would reject."""


@dataclass(frozen=True, slots=True)
class Styles:
    """The DateTimeStyles flags that change parsing on a UTC server."""

    leading_white: bool = True
    trailing_white: bool = True
    inner_white: bool = False
    no_current_date_default: bool = False


DEFAULT_STYLES = Styles()


def parse_styles(value: str | None) -> Styles:
    """Return the flags of a DateTimeStyles list (``"AllowWhiteSpaces, AssumeUniversal"``).

    Empty means Entra's default (RoundtripKind, AllowLeadingWhite, AllowTrailingWhite).
    The Assume*/Adjust*/RoundtripKind flags only choose between local time and UTC,
    which are the same on Entra's servers.
    """
    if value is None or not value.strip():
        return DEFAULT_STYLES
    names = [part.strip().casefold() for part in re.split(r"[,|]", value)]
    unknown = [name for name in names if name not in DATETIME_STYLES]
    if unknown or not all(names):
        raise DateFormatError(
            f"unknown DateTimeStyles value {value!r}; use names such as AllowWhiteSpaces, "
            "AdjustToUniversal, AssumeUniversal, RoundtripKind, NoCurrentDateDefault"
        )
    flags = set(names)
    every = "allowwhitespaces" in flags
    return Styles(
        leading_white=every or "allowleadingwhite" in flags,
        trailing_white=every or "allowtrailingwhite" in flags,
        inner_white=every or "allowinnerwhite" in flags,
        no_current_date_default="nocurrentdatedefault" in flags,
    )


Token = tuple[str, int]  # (specifier letter, repeat count), or ("", 0) never; literals below
Part = Token | str  # a str part is literal text


@lru_cache(maxsize=256)
def tokenize(fmt: str) -> tuple[Part, ...]:
    """Split a .NET date format string into specifiers and literal text."""
    if not fmt:
        raise DateFormatError("the date format is empty")
    if len(fmt) == 1:
        standard = STANDARD_FORMATS.get(fmt)
        if standard is None:
            raise DateFormatError(f"{fmt!r} is not a standard date format")
        return tokenize(standard)
    parts: list[Part] = []
    literal: list[str] = []
    i, n = 0, len(fmt)
    while i < n:
        char = fmt[i]
        if char in _SPECIFIERS:
            count = 1
            while i + count < n and fmt[i + count] == char:
                count += 1
            if count > _MAX_COUNT.get(char, 99):
                raise DateFormatError(f"{char * count!r}: at most {_MAX_COUNT[char]} {char!r}")
            if literal:
                parts.append("".join(literal))
                literal.clear()
            parts.append((char, count))
            i += count
        elif char in "'\"":
            end = fmt.find(char, i + 1)
            if end < 0:
                raise DateFormatError(f"unterminated quoted text in date format {fmt!r}")
            literal.append(fmt[i + 1 : end])
            i = end + 1
        elif char == "\\":
            if i + 1 >= n:
                raise DateFormatError(f"date format {fmt!r} ends with a lone backslash")
            literal.append(fmt[i + 1])
            i += 2
        elif char == "%":
            if i + 1 >= n or fmt[i + 1] not in _SPECIFIERS:
                raise DateFormatError(f"'%' must be followed by one specifier in {fmt!r}")
            if literal:
                parts.append("".join(literal))
                literal.clear()
            parts.append((fmt[i + 1], 1))
            i += 2
        else:
            literal.append(char)
            i += 1
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def format_default(value: datetime) -> str:
    """Return ``value`` as Entra writes dates: ``M/d/yyyy h:mm:ss tt`` in UTC."""
    value = to_utc(value)
    hour12 = value.hour % 12 or 12
    meridiem = "AM" if value.hour < 12 else "PM"
    return (
        f"{value.month}/{value.day}/{value.year:04d} "
        f"{hour12}:{value.minute:02d}:{value.second:02d} {meridiem}"
    )


def to_utc(value: datetime) -> datetime:
    """Return ``value`` in UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if value.utcoffset() == timedelta(0):
        return value if value.tzinfo is UTC else value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_datetime(value: datetime, fmt: str) -> str:
    """Return ``value`` (in UTC) written with .NET format ``fmt``."""
    value = to_utc(value)
    out: list[str] = []
    for part in tokenize(fmt):
        if isinstance(part, str):
            out.append(part)
            continue
        char, count = part
        if char == "d":
            if count <= 2:
                out.append(f"{value.day:0{count}d}")
            else:
                name = DAYS[value.weekday()]
                out.append(name[:3] if count == 3 else name)
        elif char == "M":
            if count <= 2:
                out.append(f"{value.month:0{count}d}")
            else:
                name = MONTHS[value.month - 1]
                out.append(name[:3] if count == 3 else name)
        elif char == "y":
            if count <= 2:
                out.append(f"{value.year % 100:0{count}d}")
            else:
                out.append(f"{value.year:0{count}d}")
        elif char in "hH":
            hour = (value.hour % 12 or 12) if char == "h" else value.hour
            out.append(f"{hour:0{min(count, 2)}d}")
        elif char == "m":
            out.append(f"{value.minute:0{min(count, 2)}d}")
        elif char == "s":
            out.append(f"{value.second:0{min(count, 2)}d}")
        elif char in "fF":
            digits = f"{value.microsecond:06d}0"[:count]
            if char == "F":
                digits = digits.rstrip("0")
                if not digits and out and out[-1].endswith("."):
                    # .NET drops the decimal point before an all-zero "F" fraction.
                    out[-1] = out[-1][:-1]
            out.append(digits)
        elif char == "t":
            meridiem = "AM" if value.hour < 12 else "PM"
            out.append(meridiem if count >= 2 else meridiem[0])
        elif char == "z":
            out.append("+0" if count == 1 else "+00" if count == 2 else "+00:00")
        elif char == "K":
            out.append("Z")
        else:  # "g": the era
            out.append("A.D.")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class _Pattern:
    regex: re.Pattern[str]
    fields: tuple[Token, ...]


@lru_cache(maxsize=256)
def _compile(fmt: str, inner_white: bool) -> _Pattern:
    pieces: list[str] = []
    fields: list[Token] = []
    for part in tokenize(fmt):
        if isinstance(part, str):
            if inner_white:
                pieces.append(r"\s*".join(re.escape(c) for c in part if not c.isspace()))
                pieces.append(r"\s*")
            else:
                pieces.append(re.escape(part))
            continue
        char, count = part
        pieces.append(f"({_field_regex(char, count)})")
        fields.append(part)
        if inner_white:
            pieces.append(r"\s*")
    return _Pattern(re.compile("".join(pieces), re.IGNORECASE), tuple(fields))


def _field_regex(char: str, count: int) -> str:
    names = MONTHS if char == "M" else DAYS
    if char in "dM" and count >= 3:
        return "|".join(name[:3] if count == 3 else name for name in names)
    if char == "y":
        # .NET ParseExact: "y" reads 1-2 digits, any other count exactly that many.
        return r"\d{1,2}" if count == 1 else rf"\d{{{count}}}"
    if char in "dMhHms":
        return r"\d{1,2}" if count == 1 else r"\d{2}"
    if char == "f":
        return rf"\d{{{count}}}"
    if char == "F":
        return rf"\d{{0,{count}}}"
    if char == "t":
        return "[AP]M" if count >= 2 else "[AP]"
    if char == "z":
        if count == 1:
            return r"[+-]\d{1,2}"
        return r"[+-]\d{2}" if count == 2 else r"[+-]\d{1,2}:?\d{2}"
    if char == "K":
        return r"Z|[+-]\d{2}:\d{2}|"
    return r"A\.D\.|AD"  # "g"


def parse_exact(value: str, fmt: str, styles: Styles, today: date) -> datetime:
    """Return ``value`` read with .NET format ``fmt``, as DateTime.ParseExact does, in UTC."""
    if styles.leading_white:
        value = value.lstrip()
    if styles.trailing_white:
        value = value.rstrip()
    pattern = _compile(fmt, styles.inner_white)
    match = pattern.regex.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} does not have the format {fmt!r}")
    year = month = day = None
    hour = minute = second = micro = 0
    meridiem: str | None = None
    offset: timedelta | None = None
    weekday: int | None = None
    for (char, count), raw in zip(pattern.fields, match.groups(), strict=True):
        if char == "y":
            year = int(raw)
            if count <= 2:
                year += 2000 if year <= _TWO_DIGIT_YEAR_MAX % 100 else 1900
        elif char == "M":
            month = int(raw) if count <= 2 else _name_index(MONTHS, raw) + 1
        elif char == "d":
            if count <= 2:
                day = int(raw)
            else:
                weekday = _name_index(DAYS, raw)
        elif char in "hH":
            hour = int(raw)
        elif char == "m":
            minute = int(raw)
        elif char == "s":
            second = int(raw)
        elif char in "fF":
            micro = int((raw + "000000")[:6]) if raw else 0
        elif char == "t":
            meridiem = raw[0].upper()
        elif char in "zK" and raw:
            offset = _offset(raw)
    if meridiem is not None and hour <= 12:
        hour = hour % 12 + (12 if meridiem == "P" else 0)
    if year is None and month is None and day is None:
        if styles.no_current_date_default:
            year, month, day = 1, 1, 1
        else:
            year, month, day = today.year, today.month, today.day
    try:
        parsed = datetime(
            year if year is not None else today.year,
            month or 1,
            day or 1,
            hour,
            minute,
            second,
            micro,
            tzinfo=UTC,
        )
    except ValueError as error:
        raise ValueError(f"{value!r} is not a valid date ({error})") from None
    if weekday is not None and parsed.weekday() != weekday:
        raise ValueError(f"{value!r}: the day of the week does not match the date")
    return parsed - offset if offset else parsed


def _name_index(names: tuple[str, ...], raw: str) -> int:
    folded = raw.casefold()
    for index, name in enumerate(names):
        if folded in (name.casefold(), name[:3].casefold()):
            return index
    raise ValueError(f"unknown name {raw!r}")


def _offset(raw: str) -> timedelta:
    if raw in ("Z", "z"):
        return timedelta(0)
    sign = -1 if raw[0] == "-" else 1
    digits = raw[1:].replace(":", "")
    hours, minutes = (int(digits[:-2]), int(digits[-2:])) if len(digits) > 2 else (int(digits), 0)
    if hours > 14 or minutes > 59:
        raise ValueError(f"time zone offset {raw!r} is out of range")
    return sign * timedelta(hours=hours, minutes=minutes)


# The shapes DateTime.Parse accepts that Entra's sources send: ISO 8601 (with or
# without time, offset right after the date as Workday writes "2020-03-16-07:00"),
# en-US "M/d/yyyy h:mm:ss tt" (what CDate and Now answer), LDAP generalized time
# "20150123105347.1Z", month names ("January 1, 2012", "1 Jan 2012") and RFC 1123.
_TIME = (
    r"(?:[T\s]\s*(?P<H>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d+))?)?\s*(?P<t>[AP]M)?)?"
)
_ZONE = r"\s*(?P<z>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?"
_LENIENT = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        rf"(?P<y>\d{{4}})-(?P<M>\d{{1,2}})-(?P<d>\d{{1,2}}){_TIME}{_ZONE}",
        rf"(?P<M>\d{{1,2}})/(?P<d>\d{{1,2}})/(?P<y>\d{{4}}){_TIME}{_ZONE}",
        rf"(?P<y>\d{{4}})/(?P<M>\d{{1,2}})/(?P<d>\d{{1,2}}){_TIME}{_ZONE}",
        r"(?P<y>\d{4})(?P<M>\d{2})(?P<d>\d{2})(?:(?P<H>\d{2})(?P<m>\d{2})(?:(?P<s>\d{2})"
        rf"(?:[.,](?P<f>\d+))?)?)?{_ZONE}",
        rf"(?:[A-Za-z]+,?\s+)?(?P<N>[A-Za-z]+)\.?\s+(?P<d>\d{{1,2}}),?\s+(?P<y>\d{{4}}){_TIME}{_ZONE}",
        rf"(?:[A-Za-z]+,?\s+)?(?P<d>\d{{1,2}})\s+(?P<N>[A-Za-z]+)\.?,?\s+(?P<y>\d{{4}}){_TIME}{_ZONE}",
    )
)


def parse_lenient(value: str) -> datetime:
    """Return ``value`` read as DateTime.Parse reads common date strings, in UTC."""
    stripped = value.strip()
    for pattern in _LENIENT:
        match = pattern.fullmatch(stripped)
        if match is not None:
            return _from_groups(match, value)
    raise ValueError(f"{value!r} is not a date/time string this service recognises")


def _from_groups(match: re.Match[str], original: str) -> datetime:
    groups = match.groupdict()
    month = _name_index(MONTHS, groups["N"]) + 1 if groups.get("N") else int(groups["M"])
    hour = int(groups["H"] or 0)
    meridiem = groups.get("t")
    if meridiem:
        if not 1 <= hour <= 12:
            raise ValueError(f"{original!r}: hour {hour} cannot take {meridiem}")
        hour = hour % 12 + (12 if meridiem.upper() == "PM" else 0)
    fraction = groups["f"] or ""
    try:
        parsed = datetime(
            int(groups["y"]),
            month,
            int(groups["d"]),
            hour,
            int(groups["m"] or 0),
            int(groups["s"] or 0),
            int((fraction + "000000")[:6]),
            tzinfo=UTC,
        )
    except ValueError as error:
        raise ValueError(f"{original!r} is not a valid date ({error})") from None
    zone = groups["z"]
    if zone and zone.upper() not in ("Z", "UTC", "GMT"):
        parsed -= _offset(zone)
    return parsed
