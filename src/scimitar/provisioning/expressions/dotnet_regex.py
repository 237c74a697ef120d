""".NET regular expressions and replacement patterns, as Replace takes them, on ``re``.

Entra evaluates Replace's regexPattern with System.Text.RegularExpressions. The
syntax the documentation uses is shared with Python's ``re`` except named groups:
.NET writes ``(?<name>…)``, ``(?'name'…)`` and ``\\k<name>``; these are rewritten.
Replacement strings use .NET substitutions: ``$1``, ``${name}``, ``$$``, ``$&``,
``$```, ``$'``, ``$+`` and ``$_``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

Replacer = Callable[[re.Match[str]], str]


def translate(pattern: str) -> str:
    """Return the ``re`` spelling of .NET regex ``pattern``."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        char = pattern[i]
        if char == "\\":
            if not in_class and pattern.startswith(("k<", "k'"), i + 1):
                close = ">" if pattern[i + 2] == "<" else "'"
                end = pattern.find(close, i + 3)
                if end > 0:
                    out.append(f"(?P={pattern[i + 3 : end]})")
                    i = end + 1
                    continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
            out.append(char)
            i += 1
            continue
        if char == "[":
            in_class = True
            out.append(char)
            i += 1
            # A "]" right after "[" or "[^" is a literal member, not the end of the class.
            if pattern.startswith("^", i):
                out.append("^")
                i += 1
            if pattern.startswith("]", i):
                out.append("]")
                i += 1
            continue
        if (
            char == "("
            and pattern.startswith("?<", i + 1)
            and pattern[i + 3 : i + 4] not in ("=", "!")
        ):
            out.append("(?P<")
            i += 3
            continue
        if char == "(" and pattern.startswith("?'", i + 1):
            end = pattern.find("'", i + 3)
            if end > 0:
                out.append(f"(?P<{pattern[i + 3 : end]}>")
                i = end + 1
                continue
        out.append(char)
        i += 1
    return "".join(out)


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Return the compiled .NET ``pattern``; raise ``re.error`` when it is invalid."""
    return re.compile(translate(pattern))


_SUBSTITUTION = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*|[0-9]+)\}|([0-9]+)|([&`'+_]))")


@lru_cache(maxsize=512)
def compile_replacement(replacement: str, pattern: re.Pattern[str]) -> Replacer:
    """Return a function building one match's replacement from .NET ``replacement``."""
    parts: list[str | Callable[[re.Match[str]], str]] = []
    position = 0
    for sub in _SUBSTITUTION.finditer(replacement):
        parts.append(replacement[position : sub.start()])
        position = sub.end()
        dollar, braced, digits, special = sub.groups()
        if dollar:
            parts.append("$")
        elif braced is not None:
            key: int | str = int(braced) if braced.isdigit() else braced
            if _has_group(pattern, key):
                parts.append(_group(key))
            else:
                parts.append(sub.group(0))
        elif digits is not None:
            # .NET takes the longest prefix of the digits that names a group.
            for length in range(len(digits), 0, -1):
                if _has_group(pattern, int(digits[:length])):
                    parts.append(_group(int(digits[:length])))
                    parts.append(digits[length:])
                    break
            else:
                parts.append(sub.group(0))
        else:
            parts.append(_SPECIAL[special])
    parts.append(replacement[position:])
    if all(isinstance(part, str) for part in parts):
        constant = "".join(part for part in parts if isinstance(part, str))
        return lambda _match: constant
    return lambda match: "".join(part if isinstance(part, str) else part(match) for part in parts)


def _has_group(pattern: re.Pattern[str], key: int | str) -> bool:
    if isinstance(key, int):
        return key <= pattern.groups
    return key in pattern.groupindex


def _group(key: int | str) -> Callable[[re.Match[str]], str]:
    return lambda match: match.group(key) or ""


def _last_group(match: re.Match[str]) -> str:
    if match.lastindex is None:
        return match.group(0)
    return match.group(match.lastindex) or ""


_SPECIAL: dict[str, Callable[[re.Match[str]], str]] = {
    "&": lambda match: match.group(0),
    "`": lambda match: match.string[: match.start()],
    "'": lambda match: match.string[match.end() :],
    "+": _last_group,
    "_": lambda match: match.string,
}
