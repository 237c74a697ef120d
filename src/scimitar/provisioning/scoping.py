"""Attribute scoping filters, with Entra's operators and semantics.

A filter is a list of clauses that must all hold (AND); an object is in scope when
any filter holds (OR), and everyone is when there is no filter. The operators and
their meaning follow Microsoft's "Scoping users or groups to be provisioned with
scoping filters":

- ``EQUALS`` / ``NOT EQUALS``: exact, case-sensitive string comparison.
- ``IS TRUE`` / ``IS FALSE``: a Boolean value (or the strings "true"/"false").
- ``IS NULL`` / ``IS NOT NULL``: the attribute is empty / is not.
- ``REGEX MATCH`` / ``NOT REGEX MATCH``: the pattern matches somewhere in the value
  (.NET ``Regex.IsMatch`` searches, it does not anchor), case-sensitive.
- ``Greater_Than`` / ``Greater_Than_OR_EQUALS``: both the clause's value and the
  attribute must be integers.
- ``Includes``: the value contains the clause's string (.NET ``String.Contains``).
- ``ENDS_WITH``: the value ends with the clause's string.
- ``&`` / ``!&``: the attribute's value occurs / does not occur in the clause's
  string, as the documentation words it ("the evaluated attribute exists in the
  input string value"): ``department & "Sales,Marketing"`` holds for Sales.

"Scoping filters will return false if the value is null / empty", so every
operator except ``IS NULL`` and ``IS NOT NULL`` fails on an empty attribute, and
"filtering is not supported for multi-valued attributes", so those fail too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

OPERATORS: Final = (
    "EQUALS",
    "NOT EQUALS",
    "IS TRUE",
    "IS FALSE",
    "IS NULL",
    "IS NOT NULL",
    "REGEX MATCH",
    "NOT REGEX MATCH",
    "Greater_Than",
    "Greater_Than_OR_EQUALS",
    "Includes",
    "ENDS_WITH",
    "&",
    "!&",
)
UNARY_OPERATORS: Final = frozenset({"IS TRUE", "IS FALSE", "IS NULL", "IS NOT NULL"})
INTEGER_OPERATORS: Final = frozenset({"Greater_Than", "Greater_Than_OR_EQUALS"})
REGEX_OPERATORS: Final = frozenset({"REGEX MATCH", "NOT REGEX MATCH"})

# Python's re has no timeout, so patterns are screened when configured: a length
# cap, and no quantified group that itself holds a quantifier ("(a+)+", "(\w*\s?)*"),
# the shape behind catastrophic backtracking.
MAX_PATTERN_LENGTH: Final = 512
MAX_VALUE_LENGTH: Final = 2048
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*(?:[+*]|\{\d*,\d*\})(?:[^()\\]|\\.)*\)[+*{]")
_INTEGER = re.compile(r"[+-]?\d+")


def _operator_key(text: str) -> str:
    return re.sub(r"[\s_]+", " ", text.strip()).upper()


_BY_KEY: Final = {_operator_key(name): name for name in OPERATORS}


class ScopingError(ValueError):
    """A scoping filter or clause is not valid; the message says how to fix it."""


def canonical_operator(text: str) -> str:
    """Return Entra's spelling of an operator named in any case, or raise ``ScopingError``.

    Spaces and underscores are interchangeable (``greater than`` is ``Greater_Than``).
    """
    try:
        return _BY_KEY[_operator_key(text)]
    except KeyError:
        raise ScopingError(
            f"unknown scoping operator {text!r}; use one of: {', '.join(OPERATORS)}"
        ) from None


@lru_cache(maxsize=256)
def _compile_pattern(pattern: str) -> re.Pattern[str]:
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ScopingError(
            f"the regular expression is {len(pattern)} characters long; "
            f"the limit is {MAX_PATTERN_LENGTH}"
        )
    if _NESTED_QUANTIFIER.search(pattern):
        raise ScopingError(
            f"the regular expression {pattern!r} repeats a group that itself repeats "
            "(like (a+)+), which can take exponential time; rewrite it without the nesting"
        )
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ScopingError(f"invalid regular expression {pattern!r}: {exc}") from None


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != ()


def _as_text(value: Any) -> str:
    # .NET's Boolean.ToString() gives "True"/"False", which Python's str() matches.
    return value if isinstance(value, str) else str(value)


def _as_integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    return None


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


@dataclass(frozen=True, slots=True)
class ScopingClause:
    """One condition: ``attribute operator [value]``, e.g. ``department EQUALS Sales``."""

    attribute: str
    operator: str
    value: str | None = None

    def __post_init__(self) -> None:
        if not self.attribute or not re.fullmatch(r"[A-Za-z_][\w.:-]*", self.attribute):
            raise ScopingError(
                f"{self.attribute!r} is not an attribute name (letters, digits, '_', '-', "
                "'.', ':'; no spaces)"
            )
        operator = canonical_operator(self.operator)
        object.__setattr__(self, "operator", operator)
        if operator in UNARY_OPERATORS:
            if self.value not in (None, ""):
                raise ScopingError(f"{operator} takes no value, but {self.value!r} was given")
            object.__setattr__(self, "value", None)
            return
        if self.value is None or self.value == "":
            raise ScopingError(f"{operator} needs a value: {self.attribute} {operator} VALUE")
        if operator in INTEGER_OPERATORS and _as_integer(self.value) is None:
            raise ScopingError(
                f"{operator} compares integers, and {self.value!r} is not one (Entra: "
                '"the value specified on the scoping filter must be an integer")'
            )
        if operator in REGEX_OPERATORS:
            _compile_pattern(self.value)

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.attribute} {self.operator}"
        value = self.value
        # Quote only when the plain form would not read back the same.
        if value != value.strip() or value.startswith('"'):
            value = json.dumps(value)
        return f"{self.attribute} {self.operator} {value}"

    def to_json(self) -> dict[str, Any]:
        return {"attribute": self.attribute, "operator": self.operator, "value": self.value}

    @classmethod
    def from_json(cls, data: Any) -> ScopingClause:
        if not isinstance(data, dict) or not isinstance(data.get("attribute"), str):
            raise ScopingError(
                'a clause is {"attribute": NAME, "operator": OPERATOR, "value": TEXT or null}'
            )
        value = data.get("value")
        if value is not None and not isinstance(value, str | int):
            raise ScopingError(f"the value of a clause on {data['attribute']} must be text")
        return cls(
            data["attribute"],
            str(data.get("operator", "")),
            None if value is None else str(value),
        )


@dataclass(frozen=True, slots=True)
class ScopingFilter:
    """Clauses that must all hold for an object to be in scope."""

    clauses: tuple[ScopingClause, ...]

    def __post_init__(self) -> None:
        if not self.clauses:
            raise ScopingError("a scoping filter needs at least one clause")

    def __str__(self) -> str:
        return " AND ".join(f"({clause})" for clause in self.clauses)

    def to_json(self) -> dict[str, Any]:
        return {"clauses": [clause.to_json() for clause in self.clauses]}

    @classmethod
    def from_json(cls, data: Any) -> ScopingFilter:
        if not isinstance(data, dict) or not isinstance(data.get("clauses"), list):
            raise ScopingError('a scoping filter is {"clauses": [CLAUSE, ...]}')
        return cls(tuple(ScopingClause.from_json(item) for item in data["clauses"]))


def parse_clause(text: str) -> ScopingClause:
    """Parse ``ATTRIBUTE OPERATOR [VALUE]``, e.g. ``jobTitle IS NOT NULL``.

    The value is the rest of the text, taken as written (spaces included); write it
    as a JSON string (``"  padded"``) to keep leading or trailing spaces.
    """
    words = list(re.finditer(r"\S+", text))
    if len(words) < 2:
        raise ScopingError(
            f"{text!r} is not a clause; write ATTRIBUTE OPERATOR [VALUE], "
            "e.g. 'department EQUALS Sales' or 'jobTitle IS NOT NULL'"
        )
    attribute = words[0].group()
    # Operators are one to four words ("NOT REGEX MATCH", "greater than or equals");
    # prefer the longest.
    for count in (4, 3, 2, 1):
        if len(words) < 1 + count:
            continue
        candidate = " ".join(word.group() for word in words[1 : 1 + count])
        operator = _BY_KEY.get(_operator_key(candidate))
        if operator is None:
            continue
        raw = text[words[count].end() :].strip()
        value: str | None = raw or None
        if raw.startswith('"'):
            try:
                decoded = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ScopingError(f"the quoted value {raw} is not a JSON string: {exc}") from None
            if not isinstance(decoded, str):
                raise ScopingError(f"the quoted value {raw} is not a JSON string")
            value = decoded
        return ScopingClause(attribute, operator, value)
    raise ScopingError(
        f"no scoping operator after {attribute!r} in {text!r}; use one of: {', '.join(OPERATORS)}"
    )


def parse_filter(clauses: Sequence[str]) -> ScopingFilter:
    """Build one filter (its clauses ANDed) from clause texts."""
    return ScopingFilter(tuple(parse_clause(text) for text in clauses))


# -- evaluation ---------------------------------------------------------------------

_Test = Callable[[Any], bool]


def _test(clause: ScopingClause) -> _Test:
    """Return a predicate on the attribute's value (already known to be present)."""
    operator, expected = clause.operator, clause.value or ""
    if operator == "EQUALS":
        return lambda value: _as_text(value) == expected
    if operator == "NOT EQUALS":
        return lambda value: _as_text(value) != expected
    if operator == "IS TRUE":
        return lambda value: _boolean(value) is True
    if operator == "IS FALSE":
        return lambda value: _boolean(value) is False
    if operator == "IS NOT NULL":
        return lambda value: True
    if operator in REGEX_OPERATORS:
        search = _compile_pattern(expected).search
        if operator == "REGEX MATCH":
            return lambda value: search(_as_text(value)[:MAX_VALUE_LENGTH]) is not None
        return lambda value: search(_as_text(value)[:MAX_VALUE_LENGTH]) is None
    if operator in INTEGER_OPERATORS:
        bound = int(expected)
        strict = operator == "Greater_Than"

        def compare(value: Any) -> bool:
            number = _as_integer(value)
            if number is None:
                return False
            return number > bound if strict else number >= bound

        return compare
    if operator == "Includes":
        return lambda value: expected in _as_text(value)
    if operator == "ENDS_WITH":
        return lambda value: _as_text(value).endswith(expected)
    if operator == "&":
        return lambda value: _as_text(value) in expected
    if operator == "!&":
        return lambda value: _as_text(value) not in expected
    raise AssertionError(f"unhandled operator {operator}")  # pragma: no cover


@lru_cache(maxsize=1024)
def _compiled(clause: ScopingClause) -> Callable[[Mapping[str, Any]], bool]:
    name = clause.attribute
    if clause.operator == "IS NULL":
        return lambda attributes: not _present(attributes.get(name))
    test = _test(clause)

    def holds(attributes: Mapping[str, Any]) -> bool:
        value = attributes.get(name)
        if not _present(value) or isinstance(value, list | tuple | dict):
            return False
        return test(value)

    return holds


def clause_holds(clause: ScopingClause, attributes: Mapping[str, Any]) -> bool:
    """Return whether one clause holds for an object's source attributes."""
    return _compiled(clause)(attributes)


def in_scope(filters: Sequence[ScopingFilter], attributes: Mapping[str, Any]) -> bool:
    """Return whether an object passes the filters (any filter whose clauses all hold)."""
    if not filters:
        return True
    return any(
        all(_compiled(clause)(attributes) for clause in scoping_filter.clauses)
        for scoping_filter in filters
    )


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _why_not(clause: ScopingClause, attributes: Mapping[str, Any]) -> str:
    value = attributes.get(clause.attribute)
    if clause.operator == "IS NULL":
        return f"{clause} is false ({clause.attribute} is {_shown(value)})"
    if not _present(value):
        return f"{clause} is false ({clause.attribute} is empty)"
    if isinstance(value, list | tuple | dict):
        return f"{clause} is false ({clause.attribute} is multi-valued, which filters cannot test)"
    if clause.operator in INTEGER_OPERATORS and _as_integer(value) is None:
        return f"{clause} is false ({clause.attribute} is {_shown(value)}, not an integer)"
    return f"{clause} is false ({clause.attribute} is {_shown(value)})"


def explain(filters: Sequence[ScopingFilter], attributes: Mapping[str, Any]) -> str:
    """Say why an object is in or out of scope, naming the first failing clause of each filter."""
    if not filters:
        return "no scoping filters: every object is in scope"
    failures = []
    for number, scoping_filter in enumerate(filters, start=1):
        failed = next(
            (c for c in scoping_filter.clauses if not _compiled(c)(attributes)),
            None,
        )
        if failed is None:
            return f"in scope: every clause of scoping filter {number} holds"
        failures.append(f"filter {number}: {_why_not(failed, attributes)}")
    return "; ".join(failures)
