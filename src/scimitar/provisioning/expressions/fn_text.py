"""The string functions: Append, ConvertToBase64, ConvertToUTF8Hex, CStr, InStr, Join,
Left, Len, Mid, NormalizeDiacritics, PCase, Replace, Split, StripSpaces, ToLower,
ToUpper, Word."""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from scimitar.provisioning.expressions.dotnet_regex import compile_pattern, compile_replacement
from scimitar.provisioning.expressions.nodes import Call, EmptyArg, Literal, Node
from scimitar.provisioning.expressions.values import Fail, StaticError, integer, text

Impl = Callable[..., Any]


def append(source: Any, suffix: Any) -> str | None:
    """Append(source, suffix)."""
    head, tail = text(source, "source"), text(suffix, "suffix")
    if head is None and tail is None:
        return None
    return (head or "") + (tail or "")


def convert_to_base64(source: Any) -> str | None:
    """ConvertToBase64(source): base64 of the UTF-16LE bytes (.NET's "Unicode")."""
    value = text(source, "source")
    return None if value is None else base64.b64encode(value.encode("utf-16-le")).decode("ascii")


def convert_to_utf8_hex(source: Any) -> str | None:
    """ConvertToUTF8Hex(source): upper-case hex of the UTF-8 bytes."""
    value = text(source, "source")
    return None if value is None else value.encode("utf-8").hex().upper()


def cstr(value: Any) -> str | None:
    """CStr(value)."""
    return text(value, "value")


def join(separator: Any, *sources: Any) -> str:
    """Join(separator, source1, …): null and empty values are skipped, lists flattened.

    The doc's ``Join(", ", "", [surname], [givenName])`` giving "Doe, John" shows
    that an empty source adds no separator.
    """
    glue = text(separator, "separator") or ""
    parts: list[str] = []
    for source in sources:
        if type(source) is list or type(source) is tuple:
            for item in source:
                piece = text(item, "source")
                if piece:
                    parts.append(piece)
        else:
            piece = text(source, "source")
            if piece:
                parts.append(piece)
    return glue.join(parts)


def left(source: Any, num_chars: Any) -> str:
    """Left(String, NumChars): 0 gives "", a negative count the whole string, null ""."""
    value = text(source, "String")
    count = integer(num_chars, "NumChars")
    if value is None or count == 0:
        return ""
    return value if count < 0 else value[:count]


def length(source: Any) -> int:
    """Len(String): 0 for null or empty; a number counts the characters it is written with."""
    value = text(source, "String")
    return 0 if value is None else len(value)


def mid(source: Any, start: Any, count: Any) -> str:
    """Mid(source, start, length), ``start`` 1-based; null gives "" as Left does."""
    value = text(source, "source")
    first = integer(start, "start")
    size = integer(count, "length")
    if first < 1:
        raise Fail(f"start must be 1 or more (the first character is 1), got {first}")
    if size < 0:
        raise Fail(f"length must not be negative, got {size}")
    if value is None:
        return ""
    return value[first - 1 : first - 1 + size]


def strip_spaces(source: Any) -> str | None:
    """StripSpaces(source): removes every " " (only the space character)."""
    value = text(source, "source")
    return None if value is None else value.replace(" ", "")


def split(source: Any, delimiter: Any) -> list[str] | None:
    """Split(source, delimiter): values are trimmed and empty ones dropped.

    The doc splits "PermissionSetOne, PermissionSetTwo" on "," into
    ["PermissionSetOne", "PermissionSetTwo"]: the space after the comma is trimmed.
    """
    value = text(source, "source")
    sep = text(delimiter, "delimiter")
    if not sep:
        raise Fail("delimiter must not be empty")
    if value is None:
        return None
    return [item for item in (piece.strip() for piece in value.split(sep)) if item]


def word(source: Any, number: Any, delimiters: Any) -> str:
    """Word(String, WordNumber, Delimiters): any delimiter character separates words."""
    value = text(source, "String")
    index = integer(number, "WordNumber")
    seps = text(delimiters, "Delimiters") or ""
    if value is None or index < 1:
        return ""
    pieces = re.split(f"[{re.escape(seps)}]", value) if seps else [value]
    words = [piece for piece in pieces if piece]
    return words[index - 1] if index <= len(words) else ""


_TEXT_COMPARE = {"vbbinarycompare": False, "0": False, "vbtextcompare": True, "1": True}


def compare_mode(value: Any) -> bool:
    """Return True for vbTextCompare (case-insensitive), False for vbBinaryCompare."""
    if value is None:
        return False
    key = (text(value, "compareType") or "").strip().casefold()
    if key not in _TEXT_COMPARE:
        raise Fail(f"compareType must be vbBinaryCompare or vbTextCompare, got {value!r}")
    return _TEXT_COMPARE[key]


def instr(value1: Any, value2: Any, start: Any = None, compare: Any = None) -> int | None:
    """InStr(value1, value2, start, compareType): 1-based position, 0 when absent (VBA)."""
    haystack, needle = text(value1, "value1"), text(value2, "value2")
    first = 1 if start is None else integer(start, "start")
    if first < 1:
        raise Fail(f"start must be 1 or more, got {first}")
    if haystack is None or needle is None:
        return None
    if not needle:
        return first if first <= len(haystack) + 1 else 0
    if compare_mode(compare):
        haystack, needle = lower(haystack), lower(needle)
    return haystack.find(needle, first - 1) + 1


def _upper1(char: str) -> str:
    # .NET maps case one character at a time ("ß" stays "ß"); Python may expand it.
    upper = char.upper()
    return upper if len(upper) == 1 else char


def _lower1(char: str) -> str:
    lowered = char.lower()
    return lowered if len(lowered) == 1 else char


def upper(value: str) -> str:
    """Return ``value`` upper-cased with invariant-culture, length-preserving rules."""
    return value.upper() if value.isascii() else "".join(map(_upper1, value))


def lower(value: str) -> str:
    """Return ``value`` lower-cased with invariant-culture, length-preserving rules."""
    return value.lower() if value.isascii() else "".join(map(_lower1, value))


_CULTURE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
_TURKIC_LOWER = str.maketrans({"I": "\u0131", "\u0130": "i"})  # I -> dotless i; dotted I -> i
_TURKIC_UPPER = str.maketrans({"i": "\u0130", "\u0131": "I"})


def _turkic(culture: Any) -> bool:
    name = text(culture, "culture")
    if not name:
        return False
    if not _CULTURE.fullmatch(name.strip()):
        raise Fail(f"culture must be an RFC 4646 name such as en-US, got {name!r}")
    # Turkish and Azeri are the cultures whose casing differs from the invariant one.
    return name.strip().casefold().split("-")[0] in ("tr", "az")


def check_culture(value: str) -> str | None:
    """Return why ``value`` is not a culture name, or None if it is one."""
    if value and not _CULTURE.fullmatch(value.strip()):
        return f"culture must be an RFC 4646 name such as en-US, got {value!r}"
    return None


def to_lower(source: Any, culture: Any = None) -> str | None:
    """ToLower(source, culture)."""
    value = text(source, "source")
    if value is None:
        return None
    if _turkic(culture):
        value = value.translate(_TURKIC_LOWER)
    return lower(value)


def to_upper(source: Any, culture: Any = None) -> str | None:
    """ToUpper(source, culture)."""
    value = text(source, "source")
    if value is None:
        return None
    if _turkic(culture):
        value = value.translate(_TURKIC_UPPER)
    return upper(value)


# The Unicode categories .NET's TextInfo.ToTitleCase treats as word separators,
# as the doc lists them for PCase without wordSeparators.
_SEPARATORS = frozenset(
    ("Zs", "Zl", "Zp", "Cc", "Cf", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So")
)


def pcase(source: Any, separators: Any = None) -> str | None:
    """PCase(source, wordSeparators): first letter of each word upper, the rest lower."""
    value = text(source, "source")
    if value is None:
        return None
    seps = text(separators, "wordSeparators")
    if seps:
        out: list[str] = []
        starts = True
        for char in value:
            if char in seps:
                out.append(char)
                starts = True
            else:
                out.append(_upper1(char) if starts else _lower1(char))
                starts = False
        return "".join(out)
    return _title_case(value)


def _title_case(value: str) -> str:
    # ToTitleCase: a word starts at a letter and runs through letters, digits, marks
    # and apostrophes (so "o'brien" -> "O'brien") until a separator category.
    out: list[str] = []
    i, n = 0, len(value)
    while i < n:
        char = value[i]
        i += 1
        if unicodedata.category(char)[0] != "L":
            out.append(char)
            continue
        out.append(_upper1(char))
        while i < n:
            char = value[i]
            category = unicodedata.category(char)
            if category[0] == "L":
                out.append(_lower1(char))
            elif char == "'" or category not in _SEPARATORS:
                out.append(char)
            else:
                break
            i += 1
    return "".join(out)


_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# Letters with no Unicode decomposition that the doc's table still normalizes.
_LETTERS = str.maketrans(
    {
        "æ": "ae",
        "Æ": "AE",
        "ø": "oe",
        "Ø": "OE",
        "œ": "oe",
        "Œ": "OE",
        "ß": "ss",
        "ł": "l",
        "Ł": "L",
        "\u0131": "i",  # dotless i
        "đ": "d",
        "Đ": "D",
        "ħ": "h",
        "Ħ": "H",
        "ŧ": "t",
        "Ŧ": "T",
        "ŀ": "l",
        "Ŀ": "L",
    }
)


def normalize_diacritics(source: Any) -> str | None:
    """NormalizeDiacritics(source): drop Latin combining marks, spell out æ, ø, ß, ł."""
    value = text(source, "source")
    if value is None or value.isascii():
        return value
    bare = _COMBINING.sub("", unicodedata.normalize("NFD", value))
    return unicodedata.normalize("NFC", bare).translate(_LETTERS)


_REPLACE_PARAMS = 7  # source, oldValue, regexPattern, regexGroupName, replacementValue,
# replacementAttributeName, template


def _literal(node: Node) -> str | None:
    if isinstance(node, Literal) and isinstance(node.value, str):
        return node.value
    return None


def prepare_replace(call: Call) -> Impl:
    """Choose Replace's mode from which arguments are given, and compile a literal regex."""
    args: tuple[Node, ...] = call.args + (EmptyArg(call.position),) * (
        _REPLACE_PARAMS - len(call.args)
    )
    given = [not isinstance(arg, EmptyArg) for arg in args]
    _, has_old, has_regex, has_group, has_value, has_attribute, has_template = given
    if has_old and has_regex:
        raise StaticError("Replace takes oldValue or regexPattern, not both", args[2].position)
    pattern_text = _literal(args[2])
    static_pattern = None
    if pattern_text is not None:
        try:
            static_pattern = compile_pattern(pattern_text)
        except re.error as error:
            raise StaticError(f"invalid regexPattern: {error}", args[2].position) from None
        group_name = _literal(args[3])
        if group_name is not None and group_name not in static_pattern.groupindex:
            raise StaticError(
                f"regexGroupName {group_name!r} is not a named group of regexPattern",
                args[3].position,
            )
    impl = _replace_mode(has_old, has_regex, has_group, has_value, has_attribute, has_template)
    if impl is None:
        raise StaticError(
            "Replace needs oldValue with replacementValue or template, or regexPattern with "
            "replacementValue, or regexPattern and regexGroupName with replacementValue or "
            "replacementAttributeName",
            call.position,
        )
    missing = (None,) * (_REPLACE_PARAMS - len(call.args))
    if not missing:
        return impl
    return lambda *values: impl(*values, *missing)


def _replace_mode(
    old: bool, regex: bool, group: bool, value: bool, attribute: bool, template: bool
) -> Impl | None:
    if old and template:
        return _replace_template
    if old and value:
        return _replace_plain
    if regex and group and attribute:
        return _replace_from_attribute
    if regex and group and value:
        return _replace_group
    if regex and value:
        return _replace_regex
    return None


def _pattern(value: Any) -> re.Pattern[str]:
    source = text(value, "regexPattern")
    if source is None:
        raise Fail("regexPattern is null")
    try:
        return compile_pattern(source)
    except re.error as error:
        raise Fail(f"invalid regexPattern: {error}") from None


def _old(value: Any) -> str:
    old = text(value, "oldValue")
    if not old:
        raise Fail("oldValue must not be empty")
    return old


def _replace_plain(source: Any, old: Any, *rest: Any) -> str | None:
    value = text(source, "source")
    if value is None:
        return None
    return value.replace(_old(old), text(rest[2], "replacementValue") or "")


def _replace_template(source: Any, old: Any, *rest: Any) -> str | None:
    value = text(source, "source")
    template = text(rest[4], "template")
    if value is None or template is None:
        return None
    return template.replace(_old(old), value)


def _replace_regex(source: Any, _old_value: Any, pattern: Any, *rest: Any) -> str | None:
    value = text(source, "source")
    if value is None:
        return None
    regex = _pattern(pattern)
    replacement = text(rest[1], "replacementValue") or ""
    return regex.sub(compile_replacement(replacement, regex), value)


def _replace_group(
    source: Any, _old_value: Any, pattern: Any, group: Any, *rest: Any
) -> str | None:
    value = text(source, "source")
    if value is None:
        return None
    regex = _pattern(pattern)
    name = text(group, "regexGroupName") or ""
    if name not in regex.groupindex:
        raise Fail(f"regexGroupName {name!r} is not a named group of regexPattern")
    replacement = text(rest[0], "replacementValue") or ""

    def substitute(match: re.Match[str]) -> str:
        start, end = match.span(name)
        if start < 0:
            return match.group(0)
        whole, base = match.group(0), match.start()
        return whole[: start - base] + replacement + whole[end - base :]

    return regex.sub(substitute, value)


def _replace_from_attribute(
    source: Any, _old_value: Any, pattern: Any, group: Any, *rest: Any
) -> str | None:
    value = text(source, "source")
    if value:
        return value
    regex = _pattern(pattern)
    name = text(group, "regexGroupName") or ""
    if name not in regex.groupindex:
        raise Fail(f"regexGroupName {name!r} is not a named group of regexPattern")
    other = text(rest[1], "replacementAttributeName")
    match = None if other is None else regex.search(other)
    return None if match is None else match.group(name)
