"""The expression functions beyond the doc's examples: nulls, multi-valued values,
laziness, every Replace mode, dates, casing and generated values."""

from __future__ import annotations

import random
import re
import string
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from scimitar.provisioning.expressions import (
    AppRoleAssignment,
    EvalContext,
    EvaluationError,
    evaluate,
    parse_expression,
)

NOW = datetime(2024, 2, 29, 13, 5, 9, tzinfo=UTC)


def run(text: str, attributes: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("random", random.Random(3))
    return evaluate(parse_expression(text), EvalContext(attributes or {}, **kwargs))


def test_append_treats_a_missing_side_as_empty() -> None:
    assert run('Append([a], "x")') == "x"
    assert run('Append("x", [a])') == "x"
    assert run("Append([a], [b])") is None


def test_coalesce_returns_the_first_non_null_and_evaluates_lazily() -> None:
    assert run('Coalesce([a], [b], "default")', {"b": "B"}) == "B"
    assert run('Coalesce([a], "")') == ""
    # "" is not NULL, so it wins (the doc: "the first source value that isn't NULL").
    assert run('Coalesce([a], "x")', {"a": ""}) == ""
    assert run("Coalesce([a], [b])", {"a": []}) is None
    assert run("Coalesce([a], Mid([a], 0, 1))", {"a": "set"}) == "set"


def test_iif_evaluates_only_the_chosen_branch() -> None:
    assert run('IIF("True", "yes", Mid("x", 0, 1))') == "yes"
    assert run('IIF([flag], "yes", "no")', {"flag": True}) == "yes"
    assert run('IIF([flag], "yes", "no")') == "no"
    with pytest.raises(EvaluationError, match="IIF: condition must be True, False or a number"):
        run('IIF("sometimes", "yes", "no")')


def test_comparisons() -> None:
    # Numbers compare as numbers, also against numeric strings.
    assert run('IIF(Len([a]) > 9, "long", "short")', {"a": "0123456789"}) == "long"
    assert run('IIF([n] > 9, "big", "small")', {"n": "10"}) == "big"
    assert run('IIF([n] >= 10, "big", "small")', {"n": 10}) == "big"
    # Strings compare case-sensitively, ordinal.
    assert run('IIF([s] = "usa", "y", "n")', {"s": "USA"}) == "n"
    assert run('IIF([s] <> "usa", "y", "n")', {"s": "USA"}) == "y"
    assert run('IIF([s] < "b", "y", "n")', {"s": "a"}) == "y"
    assert run('IIF([s] <= "a", "y", "n")', {"s": "a"}) == "y"
    # Booleans compare as "True"/"False"; dates as instants.
    assert run('IIF([accountEnabled] = "True", "on", "off")', {"accountEnabled": True}) == "on"
    assert (
        run(
            'IIF(CDate([a]) < CDate([b]), "before", "after")',
            {"a": "2021-01-01+08:00", "b": "2020-12-31T17:00:00Z"},
        )
        == "before"
    )
    assert (
        run('IIF(CDate([a]) = "1/1/2021 12:00:00 AM", "y", "n")', {"a": "2021-01-01T00:00:00Z"})
        == "y"
    )
    # A null operand fails every comparison ("the condition check fails").
    assert run('IIF([missing] = "", "empty", "other")') == "other"
    assert run('IIF([missing] <> "x", "differs", "other")') == "other"
    assert run("CBool([a] = [b])") is False


def test_cbool_and_not() -> None:
    assert run("CBool([a])", {"a": "TRUE"}) is True
    assert run("CBool([a])", {"a": " false "}) is False
    assert run("CBool([a])", {"a": "0"}) is False
    assert run("CBool([a])", {"a": "-2"}) is True
    assert run("CBool(1.5)") is True
    assert run("CBool([a])") is False
    assert run("Not([a])", {"a": True}) is False
    assert run("Not([a])", {"a": "true"}) is False
    assert run("Not([a])", {"a": "False"}) is True
    assert run("Not([a])") is True
    assert run("Not(IsPresent([a]))", {"a": "x"}) is False


def test_bit_and_reads_numbers_strings_and_hex() -> None:
    assert run("BitAnd([uac], 2)", {"uac": "514"}) == 2
    assert run("BitAnd([uac], 2)", {"uac": 512}) == 0
    assert run('BitAnd("&HFF", "&H0F")') == 15
    with pytest.raises(EvaluationError, match="value1 must be a whole number, got 'abc'"):
        run('BitAnd("abc", 1)')
    with pytest.raises(EvaluationError, match="value1 must be a whole number, got null"):
        run("BitAnd([a], 1)")
    with pytest.raises(EvaluationError, match=r"must be a whole number, got 1\.5"):
        run("BitAnd(1.5, 1)")


def test_null_tests() -> None:
    assert run("IsNull([a])", {"a": []}) is True
    assert run("IsNull([a])", {"a": ""}) is False
    assert run("IsNullOrEmpty([a])", {"a": []}) is True
    assert run("IsPresent([a])", {"a": " "}) is True
    assert run("IsString([a])", {"a": ["one"]}) is True
    assert run("IsString([a])", {"a": True}) is False
    assert run("IsString([a])") is False


def test_multi_valued_functions() -> None:
    values = {"p": ["a", "B", "a", "b"]}
    assert run("Count([p])", values) == 4
    assert run("Count([p])") == 0
    assert run("Count([p])", {"p": "single"}) == 1
    assert run("Count([p])", {"p": ""}) == 0
    assert run("Item([p], 2)", values) == "B"
    assert run("Item([p], 9)", values) is None
    assert run("Item([p], 1)", {"p": "single"}) == "single"
    assert run("Item([p], 1)") is None
    with pytest.raises(EvaluationError, match="index starts at 1, got 0"):
        run("Item([p], 0)", values)
    assert run("RemoveDuplicates([p])", values) == ["a", "B", "b"]
    assert run("RemoveDuplicates([p])", {"p": "single"}) == "single"
    assert run("RemoveDuplicates([p])") is None
    roles = [{"value": "x"}, {"value": "x"}, {"value": "y"}]
    assert run("RemoveDuplicates([r])", {"r": roles}) == [{"value": "x"}, {"value": "y"}]
    assert (
        run('Join("|", [p], "c", [missing], [flag])', {**values, "flag": True}) == "a|B|a|b|c|True"
    )


def test_split() -> None:
    assert run('Split([a], ";")', {"a": "x; y;;z ;"}) == ["x", "y", "z"]
    assert run('Split([a], ";")') is None
    assert run('Split([a], "::")', {"a": "x::y"}) == ["x", "y"]
    with pytest.raises(EvaluationError, match="delimiter must not be empty"):
        run('Split("a", "")')


def test_word() -> None:
    assert run('Word("alpha", 1, ",")') == "alpha"
    assert run('Word("a,,b", 2, ",")') == "b"
    assert run('Word("a b", 3, " ")') == ""
    assert run('Word("a b", 0, " ")') == ""
    assert run('Word([missing], 1, " ")') == ""
    assert run('Word("a]b^c", 3, "]^")') == "c"


def test_mid_and_left() -> None:
    assert run('Mid("abcdef", 3, 2)') == "cd"
    assert run('Mid("abcdef", 5, 10)') == "ef"
    assert run('Mid("abc", 9, 1)') == ""
    assert run("Mid([missing], 1, 2)") == ""
    with pytest.raises(EvaluationError, match="length must not be negative, got -1"):
        run('Mid("abc", 1, -1)')
    assert run('Left("abc", "2")') == "ab"


def test_instr() -> None:
    assert run('InStr("abcabc", "c", 4)') == 6
    assert run('InStr("abc", "z")') == 0
    assert run('InStr("abc", "a", 9)') == 0
    assert run('InStr("abc", "")') == 1
    assert run('InStr([missing], "a")') is None
    assert run('InStr("ABC", "b", , vbTextCompare)') == 2
    assert run('InStr("ABC", "b", 1, 1)') == 2
    with pytest.raises(EvaluationError, match="start must be 1 or more, got 0"):
        run('InStr("abc", "a", 0)')


def test_case_functions() -> None:
    assert run("ToUpper([a])", {"a": "straße"}) == "STRAßE"  # .NET maps "ß" to itself
    assert run("ToLower([a])", {"a": "ÀÉÎ"}) == "àéî"
    assert run('ToUpper("istanbul", "tr-TR")') == "\u0130STANBUL"
    assert run('ToLower("ISTANBUL", "tr-TR")') == "\u0131stanbul"
    assert run('ToUpper("istanbul", "en-US")') == "ISTANBUL"
    assert run("ToUpper([a])") is None
    with pytest.raises(EvaluationError, match="culture must be an RFC 4646 name"):
        run("ToUpper([a], [c])", {"a": "x", "c": "no culture"})


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("o'brien", "O'brien"),  # .NET ToTitleCase keeps the apostrophe inside the word
        ("MARY-JANE SMITH", "Mary-Jane Smith"),
        ("jean_luc", "Jean_Luc"),
        ("3RD STREET", "3Rd Street"),  # .NET: a word starts at its first letter
        ("éLODIE  dupont\tJR.", "Élodie  Dupont\tJr."),
        ("", ""),
    ],
)
def test_pcase_default_separators(source: str, expected: str) -> None:
    assert run("PCase([a])", {"a": source}) == expected


def test_pcase_with_separators_and_null() -> None:
    assert run('PCase([a], " ")', {"a": "MARY-JANE o'BRIEN"}) == "Mary-jane O'brien"
    assert run("PCase([a])") is None


def test_encodings() -> None:
    assert run('ConvertToUTF8Hex("é€")') == "C3A9E282AC"
    assert run('ConvertToBase64("é")') == "6QA="
    assert run("ConvertToBase64([a])") is None
    assert run('StripSpaces(" a b\tc ")') == "ab\tc"


def test_normalize_diacritics_leaves_other_scripts_alone() -> None:
    assert run("NormalizeDiacritics([a])", {"a": "Łukasz Żółć"}) == "Lukasz Zolc"
    assert run("NormalizeDiacritics([a])", {"a": "नमस्ते が"}) == "नमस्ते が"
    assert run("NormalizeDiacritics([a])", {"a": "Søren Æbelø"}) == "Soeren AEbeloe"
    assert run("NormalizeDiacritics([a])") is None


def test_cstr() -> None:
    assert run("CStr([a])", {"a": True}) == "True"
    assert run("CStr([a])", {"a": 42}) == "42"
    assert run("CStr([a])", {"a": 2.0}) == "2"
    assert run("CStr(CDate([a]))", {"a": "2021-03-04T05:06:07Z"}) == "3/4/2021 5:06:07 AM"
    assert run("CStr([a])") is None
    with pytest.raises(EvaluationError, match="CStr: value must be a string, got dict"):
        run("CStr([a])", {"a": {"k": "v"}})


def test_replace_plain_and_template() -> None:
    assert run('Replace([a], "o", , , "0", , )', {"a": "foo boo"}) == "f00 b00"
    assert run('Replace([a], "o", , , , , "<o>")', {"a": "X"}) == "<X>"
    assert run('Replace([a], "o", , , "0", , )') is None
    assert run('Replace([a], "o", , , "0")', {"a": "o"}) == "0"  # trailing arguments omitted
    assert run('Replace([a], "o", , , [b], , )', {"a": "foo"}) == "f"  # null replacement is ""
    with pytest.raises(EvaluationError, match="oldValue must not be empty"):
        run('Replace([a], [b], , , "x", , )', {"a": "foo", "b": ""})


def test_replace_regex_substitutions() -> None:
    name = '"(?<first>\\\\w+) (?<last>\\\\w+)"'
    assert (
        run(f'Replace([n], , {name}, , "${{last}}, ${{first}}", , )', {"n": "Ada Lovelace"})
        == "Lovelace, Ada"
    )
    assert run(f'Replace([n], , {name}, , "$2 $1 $$ [$&] $3", , )', {"n": "Ada Lovelace"}) == (
        "Lovelace Ada $ [Ada Lovelace] $3"
    )
    assert run('Replace([n], , "(b)", , "$`|$\'|$+|$_|$12", , )', {"n": "abc"}) == "aa|c|b|abc|b2c"
    assert run('Replace([n], , "x*", , "-", , )', {"n": "abxd"}) == "-a-b--d-"
    # The pattern may come from an attribute; it is compiled then.
    assert run('Replace([n], , [p], , "#", , )', {"n": "a1b2", "p": "\\d"}) == "a#b#"
    with pytest.raises(EvaluationError, match="Replace: invalid regexPattern"):
        run('Replace([n], , [p], , "#", , )', {"n": "a", "p": "("})


def test_replace_group_and_fallback_modes() -> None:
    group = 'Replace([a], , "(?<d>\\\\d+)-", "d", "N", , )'
    assert run(group, {"a": "12-34-x"}) == "N-N-x"
    assert run(group) is None
    fallback = 'Replace([tel], , "(?<n>\\\\d{4})$", "n", , [mobile], )'
    assert run(fallback, {"tel": "555", "mobile": "+1 800 1234"}) == "555"
    assert run(fallback, {"mobile": "+1 800 1234"}) == "1234"
    assert run(fallback, {"mobile": "none"}) is None
    assert run(fallback) is None
    with pytest.raises(EvaluationError, match="regexGroupName 'z' is not a named group"):
        run('Replace([a], , "(?<d>x)", [g], "N", , )', {"a": "x", "g": "z"})


def test_switch_sources() -> None:
    sizes = 'Switch(Len([a]), "long", "0", "empty", "3", "short")'
    assert run(sizes) == "empty"
    assert run(sizes, {"a": "abc"}) == "short"
    assert run(sizes, {"a": "abcdef"}) == "long"
    assert run('Switch([a], , "x", "1")', {"a": ["x"]}) == "1"
    assert run('Switch([a], Mid("a", 0, 1), "x", "1")', {"a": "x"}) == "1"  # default is lazy
    with pytest.raises(
        EvaluationError, match="Switch: source must be a single value, got 2 values"
    ):
        run('Switch([a], , "x", "1")', {"a": ["x", "y"]})


def test_guid_is_a_version_4_uuid() -> None:
    values = {run("Guid()", random=random.Random(seed)) for seed in range(20)}
    assert len(values) == 20
    for value in values:
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", value
        )


def test_random_string_rules() -> None:
    for seed in range(30):
        value = run('RandomString(16, 3, 2, 4, 5, "aeiou0O")', random=random.Random(seed))
        assert len(value) == 16
        assert sum(c in string.digits for c in value) >= 3
        assert sum(c in string.ascii_uppercase for c in value) >= 4
        assert sum(c in string.ascii_lowercase for c in value) >= 5
        assert sum(not c.isalnum() for c in value) >= 2
        assert not set(value) & set("aeiou0O")
    assert len(run("RandomString(256, 0, 0, 0, 0)")) == 256
    with pytest.raises(EvaluationError, match="Length must be between 1 and 256, got 257"):
        run("RandomString(257, 0, 0, 0, 0)")
    with pytest.raises(EvaluationError, match="must be positive and add up to at most Length 4"):
        run("RandomString(4, 2, 2, 2, 0)")
    with pytest.raises(EvaluationError, match="excludes every character of a required kind"):
        run('RandomString(4, 1, 0, 0, 0, "0123456789")')


def test_app_role_functions_accept_role_names() -> None:
    assert run("SingleAppRoleAssignment([roles])", {"roles": ["User"]}) == "User"
    assert (
        run(
            "SingleAppRoleAssignment([appRoleAssignments])",
            app_role_assignments=[AppRoleAssignment("Viewer", "group")],
        )
        == "Viewer"
    )
    with pytest.raises(
        EvaluationError, match=r"SingleAppRoleAssignment: expects \[appRoleAssignments\], got int"
    ):
        run("SingleAppRoleAssignment([roles])", {"roles": [1]})


def test_top_level_values_are_plain() -> None:
    assert (
        run("Item([appRoleAssignments], 1)", app_role_assignments=[AppRoleAssignment("User")])
        == "User"
    )
    assert run("DateFromNum(0)") == "1/1/1601 12:00:00 AM"
    assert run('Split(Join(",", CDate("2020-01-01Z"), "x"), ",")') == ["1/1/2020 12:00:00 AM", "x"]
    assert run("[d]", {"d": datetime(2020, 5, 6, 7, 8, 9, tzinfo=UTC)}) == "5/6/2020 7:08:09 AM"


# Dates.
def test_now_converts_the_injected_clock_to_utc() -> None:
    assert run("Now()") == "2/29/2024 1:05:09 PM"
    assert run("Now()", now=datetime(2024, 1, 1, 0, 30)) == "1/1/2024 12:30:00 AM"  # naive is UTC
    paris = timezone(timedelta(hours=1))
    assert run("Now()", now=datetime(2024, 1, 1, 0, 30, tzinfo=paris)) == "12/31/2023 11:30:00 PM"


@pytest.mark.parametrize(
    ("interval", "value", "expected"),
    [
        ("m", 1, "2/29/2024 1:05:09 PM"),  # from Jan 31: clamped to the month's last day
        ("m", 13, "2/28/2025 1:05:09 PM"),
        ("yyyy", -1, "1/31/2023 1:05:09 PM"),
        ("h", 11, "2/1/2024 12:05:09 AM"),
        ("n", -6, "1/31/2024 12:59:09 PM"),
        ("s", 51, "1/31/2024 1:06:00 PM"),
        ("ww", -5, "12/27/2023 1:05:09 PM"),
        ("D", 1, "2/1/2024 1:05:09 PM"),  # intervals are case-insensitive
    ],
)
def test_date_add(interval: str, value: int, expected: str) -> None:
    assert run(f'DateAdd("{interval}", {value}, [d])', {"d": "2024-01-31T13:05:09Z"}) == expected


def test_date_add_edges() -> None:
    assert run('DateAdd("yyyy", 1, CDate("2024-02-29"))') == "2/28/2025 12:00:00 AM"
    assert run('DateAdd("d", 1, [missing])') is None
    assert run('DateAdd("d", [n], "2024-01-01")', {"n": "2"}) == "1/3/2024 12:00:00 AM"
    with pytest.raises(EvaluationError, match="outside years 1-9999"):
        run('DateAdd("yyyy", 9000, "2024-01-01")')
    with pytest.raises(EvaluationError, match="outside years 1-9999"):
        run('DateAdd("d", 3000000, "2024-01-01")')
    with pytest.raises(EvaluationError, match="interval must be one of"):
        run('DateAdd([i], 1, "2024-01-01")', {"i": "q"})


def test_date_diff_edges() -> None:
    assert run('DateDiff("ww", "2024-03-02", "2024-03-03")') == 1  # Saturday to Sunday
    assert run('DateDiff("ww", "2024-03-03", "2024-03-09")') == 0
    assert run('DateDiff("d", "2024-03-01T12:00:00Z", "2024-03-02T11:59:59Z")') == 0
    assert run('DateDiff("d", "2024-03-02T11:59:59Z", "2024-03-01T12:00:00Z")') == 0
    assert run('DateDiff("yyyy", "2023-12-31T23:59:59Z", "2024-01-01")') == 1
    assert run('DateDiff("m", "2024-01-31", [missing])') is None


def test_cdate_reads_common_date_strings() -> None:
    cases = {
        "January 1, 2012": "1/1/2012 12:00:00 AM",
        "1 Jan 2012 10:00": "1/1/2012 10:00:00 AM",
        "2012/01/01 23:15": "1/1/2012 11:15:00 PM",
        "20150123105347.1Z": "1/23/2015 10:53:47 AM",
        "20150123105347.1+0100": "1/23/2015 9:53:47 AM",
        "Sun, 06 Nov 1994 08:49:37 GMT": "11/6/1994 8:49:37 AM",
        "2021-08-24T10:00:00.123Z": "8/24/2021 10:00:00 AM",
        "2021-08-24 10:00+0530": "8/24/2021 4:30:00 AM",
        "8/25/2021 12:41 AM": "8/25/2021 12:41:00 AM",
        "  8/25/2021 12:41:18 pm  ": "8/25/2021 12:41:18 PM",
    }
    for raw, expected in cases.items():
        assert run("CDate([d])", {"d": raw}) == expected, raw
    assert run("CDate([d])", {"d": ""}) is None
    for bad in ("not a date", "13/45/2020", "2020-02-30", "8/25/2021 13:00 PM", "2020-01-01+15:00"):
        with pytest.raises(EvaluationError, match="CDate: expression"):
            run("CDate([d])", {"d": bad})


def test_date_from_num_and_num_from_date() -> None:
    assert run("NumFromDate(DateFromNum(129699324000000000))") == 129699324000000000
    assert run('NumFromDate("1601-01-01T00:00:00Z")') == 0
    assert run("NumFromDate([d])") is None
    assert run("DateFromNum([d])") is None
    with pytest.raises(EvaluationError, match="is not an AD date"):
        run("DateFromNum(9223372036854775807)")
    with pytest.raises(EvaluationError, match="dates before 1601"):
        run('NumFromDate("1600-12-31")')


@pytest.mark.parametrize(
    ("source", "styles", "in_fmt", "out_fmt", "expected"),
    [
        (
            "12/31/2020 09:30:00 PM",
            "",
            "M/d/yyyy hh:mm:ss tt",
            "yyyy-MM-ddTHH:mm:ssZ",
            "2020-12-31T21:30:00Z",
        ),
        ("20150123105347.1Z", "", "yyyyMMddHHmmss.fZ", "o", "2015-01-23T10:53:47.1000000Z"),
        ("20150123105347.1Z", "", "yyyyMMddHHmmss.fZ", "s", "2015-01-23T10:53:47"),
        ("20150123105347.1Z", "", "yyyyMMddHHmmss.fZ", "u", "2015-01-23 10:53:47Z"),
        ("20150123105347.1Z", "", "yyyyMMddHHmmss.fZ", "R", "Fri, 23 Jan 2015 10:53:47 GMT"),
        ("20150123105347.1Z", "", "yyyyMMddHHmmss.fZ", "D", "Friday, January 23, 2015"),
        ("20150123105347.1Z", "", "yyyyMMddHHmmss.fZ", "HH:mm:ss.FFF", "10:53:47.1"),
        ("20150123105347Z", "", "yyyyMMddHHmmssZ", "HH:mm:ss.FFF", "10:53:47"),
        ("2020-12-31+08:00", "", "yyyy-MM-ddzzz", "yyyy-MM-dd HH:mm", "2020-12-30 16:00"),
        ("2020-12-31-0800", "", "yyyy-MM-ddzzz", "yyyy-MM-dd HH:mm", "2020-12-31 08:00"),
        ("Thursday, 31 Dec 20", "", "dddd, d MMM yy", "d/M/yyyy", "31/12/2020"),
        ("31.12.49", "", "dd.MM.yy", "yyyy", "2049"),
        ("31.12.50", "", "dd.MM.yy", "yyyy", "1950"),
        ("07:45", "", "HH:mm", "yyyy-MM-dd HH:mm", "2024-02-29 07:45"),
        ("07:45", "NoCurrentDateDefault", "HH:mm", "yyyy-MM-dd", "0001-01-01"),
        ("  2020 - 01 - 02 ", "AllowWhiteSpaces", "yyyy-MM-dd", "MMMM d", "January 2"),
        ("2020-01-02", "AdjustToUniversal | AssumeUniversal", "yyyy-MM-dd", "%d", "2"),
        (
            "2020-01-02T03:04:05.678",
            "",
            "yyyy'-'MM'-'dd\\THH:mm:ss.fff",
            "h t, yyy, gg",
            "3 A, 2020, A.D.",
        ),
        ("2020-01-02 3:04 p", "", "yyyy-MM-dd h:mm t", "H z zz K", "15 +0 +00 Z"),
    ],
)
def test_format_date_time(
    source: str, styles: str, in_fmt: str, out_fmt: str, expected: str
) -> None:
    styles_arg = f'"{styles}"' if styles else ""
    text = f'FormatDateTime([d], {styles_arg}, "{in_fmt}", "{out_fmt}")'.replace("\\", "\\\\")
    assert run(text, {"d": source}) == expected


def test_format_date_time_failures_and_nulls() -> None:
    assert run('FormatDateTime([d], , "yyyy", "yyyy")') is None
    assert run('FormatDateTime(CDate("2020-05-06Z"), , "ignored", "dd/MM")') == "06/05"
    with pytest.raises(EvaluationError, match="'2020/12/01' does not have the format 'yyyy-MM-dd'"):
        run('FormatDateTime([d], , "yyyy-MM-dd", "yyyy")', {"d": "2020/12/01"})
    with pytest.raises(EvaluationError, match=r"'2020-13-01' is not a valid date \(month must be"):
        run('FormatDateTime([d], , "yyyy-MM-dd", "yyyy")', {"d": "2020-13-01"})
    with pytest.raises(EvaluationError, match="day of the week does not match"):
        run('FormatDateTime([d], , "ddd yyyy-MM-dd", "yyyy")', {"d": "Mon 2024-02-29"})
    with pytest.raises(EvaluationError, match="does not have the format"):
        run('FormatDateTime([d], "None", "yyyy", "yyyy")', {"d": " 2024"})
    with pytest.raises(EvaluationError, match="is not a standard date format"):
        run('FormatDateTime([d], , "yyyy", [f])', {"d": "2024", "f": "Q"})
