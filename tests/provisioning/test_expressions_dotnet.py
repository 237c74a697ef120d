"""The .NET translators under the expression language: date format strings and regexes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from scimitar.provisioning.expressions.dotnet_dates import (
    DEFAULT_STYLES,
    STANDARD_FORMATS,
    DateFormatError,
    Styles,
    format_datetime,
    format_default,
    parse_exact,
    parse_styles,
    tokenize,
)
from scimitar.provisioning.expressions.dotnet_regex import (
    compile_pattern,
    compile_replacement,
    translate,
)

MOMENT = datetime(2009, 6, 15, 13, 45, 30, 617500, tzinfo=UTC)  # a Monday
TODAY = date(2024, 2, 29)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        # The examples of learn.microsoft.com "Custom date and time format strings"
        # (en-US; the doc's local time is taken as UTC here).
        ("%d", "15"),
        ("dd", "15"),
        ("ddd", "Mon"),
        ("dddd", "Monday"),
        ("%f", "6"),
        ("ff", "61"),
        ("fff", "617"),
        ("ffff", "6175"),
        ("fffffff", "6175000"),
        ("%F", "6"),
        ("FFFF", "6175"),
        ("FFFFFFF", "6175"),
        ("%h", "1"),
        ("hh", "01"),
        ("%H", "13"),
        ("HH", "13"),
        ("%m", "45"),
        ("%M", "6"),
        ("MM", "06"),
        ("MMM", "Jun"),
        ("MMMM", "June"),
        ("%s", "30"),
        ("%t", "P"),
        ("tt", "PM"),
        ("%y", "9"),
        ("yy", "09"),
        ("yyy", "2009"),
        ("yyyy", "2009"),
        ("yyyyy", "02009"),
        ("%K", "Z"),
        ("zzz", "+00:00"),
        ("%g", "A.D."),
        ("yyyy-MM-ddTHH:mm:ssZ", "2009-06-15T13:45:30Z"),
        ("'Year' yyyy \\d\\d", "Year 2009 dd"),
        ('"quoted" HH', "quoted 13"),
    ],
)
def test_format_specifiers(fmt: str, expected: str) -> None:
    assert format_datetime(MOMENT, fmt) == expected


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("d", "6/15/2009"),
        ("D", "Monday, June 15, 2009"),
        ("f", "Monday, June 15, 2009 1:45 PM"),
        ("F", "Monday, June 15, 2009 1:45:30 PM"),
        ("g", "6/15/2009 1:45 PM"),
        ("G", "6/15/2009 1:45:30 PM"),
        ("M", "June 15"),
        ("O", "2009-06-15T13:45:30.6175000Z"),
        ("R", "Mon, 15 Jun 2009 13:45:30 GMT"),
        ("s", "2009-06-15T13:45:30"),
        ("t", "1:45 PM"),
        ("T", "1:45:30 PM"),
        ("u", "2009-06-15 13:45:30Z"),
        ("U", "Monday, June 15, 2009 1:45:30 PM"),
        ("Y", "June 2009"),
    ],
)
def test_standard_formats_are_en_us(fmt: str, expected: str) -> None:
    assert format_datetime(MOMENT, fmt) == expected
    if fmt in "FGORsuU":  # the others drop the time, the seconds or the year
        assert parse_exact(expected, fmt, DEFAULT_STYLES, TODAY) == MOMENT.replace(
            microsecond=MOMENT.microsecond if fmt in "Oo" else 0
        )


def test_every_standard_format_tokenizes() -> None:
    for fmt in STANDARD_FORMATS:
        assert tokenize(fmt)


def test_default_format_is_what_cdate_and_now_write() -> None:
    assert format_default(MOMENT) == "6/15/2009 1:45:30 PM"
    assert format_default(MOMENT.replace(hour=0, minute=5)) == "6/15/2009 12:05:30 AM"
    assert format_default(MOMENT.replace(hour=12)) == "6/15/2009 12:45:30 PM"
    assert format_default(datetime(1, 1, 1)) == "1/1/0001 12:00:00 AM"


@pytest.mark.parametrize(
    ("fmt", "reason"),
    [
        ("", "the date format is empty"),
        ("Q", "'Q' is not a standard date format"),
        ("ffffffff", "at most 7"),
        ("yyyy 'open", "unterminated quoted text"),
        ("yyyy\\", "ends with a lone backslash"),
        ("yyyy%", "'%' must be followed by one specifier"),
    ],
)
def test_invalid_formats(fmt: str, reason: str) -> None:
    with pytest.raises(DateFormatError, match=reason):
        tokenize(fmt)


def test_parse_exact_widths_follow_dotnet() -> None:
    assert parse_exact("1/2/2020", "M/d/yyyy", DEFAULT_STYLES, TODAY) == datetime(
        2020, 1, 2, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="does not have the format"):
        parse_exact("1/2/2020", "MM/dd/yyyy", DEFAULT_STYLES, TODAY)
    with pytest.raises(ValueError, match="does not have the format"):
        parse_exact("20/1/2", "yyyy/M/d", DEFAULT_STYLES, TODAY)
    assert parse_exact("12 am", "hh tt", DEFAULT_STYLES, TODAY).hour == 0
    assert parse_exact("12 PM", "hh tt", DEFAULT_STYLES, TODAY).hour == 12
    assert parse_exact("jUNE 3", "MMMM d", DEFAULT_STYLES, TODAY) == datetime(
        2024, 6, 3, tzinfo=UTC
    )
    assert parse_exact("2020 +5", "yyyy z", DEFAULT_STYLES, TODAY) == datetime(
        2019, 12, 31, 19, tzinfo=UTC
    )
    assert parse_exact("2020Z", "yyyyK", DEFAULT_STYLES, TODAY) == datetime(2020, 1, 1, tzinfo=UTC)
    assert parse_exact("2020", "yyyyK", DEFAULT_STYLES, TODAY) == datetime(2020, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="offset '\\+15:00' is out of range"):
        parse_exact("2020+15:00", "yyyyzzz", DEFAULT_STYLES, TODAY)


def test_styles() -> None:
    assert parse_styles(None) == DEFAULT_STYLES
    assert parse_styles(" ") == DEFAULT_STYLES
    assert parse_styles("None") == Styles(leading_white=False, trailing_white=False)
    assert parse_styles("AllowWhiteSpaces") == Styles(inner_white=True)
    assert parse_styles("allowleadingwhite|NoCurrentDateDefault") == Styles(
        trailing_white=False, no_current_date_default=True
    )
    for bad in ("Sometimes", "AllowWhiteSpaces,,None"):
        with pytest.raises(DateFormatError, match="unknown DateTimeStyles value"):
            parse_styles(bad)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("(?<isdCode>\\d* )(?<phone>\\d{10})", "(?P<isdCode>\\d* )(?P<phone>\\d{10})"),
        ("(?'word'\\w+) \\k<word> \\k'word'", "(?P<word>\\w+) (?P=word) (?P=word)"),
        ("(?<=a)b(?<!c)", "(?<=a)b(?<!c)"),
        ("[(?<x>]", "[(?<x>]"),
        ("[]?<x>](?<y>z)", "[]?<x>](?P<y>z)"),
        ("[^]a](?<y>z)", "[^]a](?P<y>z)"),
        ("\\(?<x>", "\\(?<x>"),
        ("[\\]](?<y>z)", "[\\]](?P<y>z)"),
    ],
)
def test_regex_translation(pattern: str, expected: str) -> None:
    assert translate(pattern) == expected
    re.compile(expected)


def test_replacement_substitutions() -> None:
    pattern = compile_pattern("(?<a>x)(y)?")
    match = pattern.search("1xz")
    assert match is not None
    assert (
        compile_replacement("${a}|$1|$2|$0|$$|$&|$9|${nope}|$", pattern)(match)
        == "x|x||x|$|x|$9|${nope}|$"
    )
    assert compile_replacement("plain", pattern)(match) == "plain"
