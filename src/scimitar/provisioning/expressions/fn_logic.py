"""Conditions, multi-valued attributes, roles and generated values: BitAnd, CBool,
Coalesce, Count, DefaultDomain, Guid, IgnoreFlowIfNullOrEmpty, IIF, IsNull,
IsNullOrEmpty, IsPresent, IsString, Item, Not, RandomString, Redact,
RemoveDuplicates, SingleAppRoleAssignment, AppRoleAssignmentsComplex, Switch, and
the comparison operators."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from scimitar.provisioning.expressions.context import (
    DEFAULT_ACCESS_ROLE,
    AppRoleAssignment,
    EvalContext,
)
from scimitar.provisioning.expressions.dotnet_dates import parse_lenient, to_utc
from scimitar.provisioning.expressions.errors import IgnoreFlow
from scimitar.provisioning.expressions.values import (
    Fail,
    as_list,
    boolean,
    integer,
    is_null,
    is_null_or_empty,
    number,
    single,
    text,
)

Thunk = Callable[[EvalContext], Any]


ROLE_TYPE = "WindowsAzureActiveDirectoryRole"
"""The ``type`` Entra gives each role it provisions (customize-application-attributes)."""


def ignore_flow_if_null_or_empty(value: Any) -> Any:
    """IgnoreFlowIfNullOrEmpty(expression)."""
    if is_null_or_empty(value):
        raise IgnoreFlow
    return value


def iif(context: EvalContext, args: Sequence[Thunk]) -> Any:
    """IIF(condition, valueIfTrue, valueIfFalse): only the chosen branch is evaluated."""
    chosen = args[1] if boolean(args[0](context), "condition") else args[2]
    return chosen(context)


def switch(context: EvalContext, args: Sequence[Thunk]) -> Any:
    """Switch(source, defaultValue, key1, value1, …): case-sensitive string match.

    A null source matches the key "" (the doc's ``Switch([country], [country], "",
    "Other")``); a Boolean source is "True" or "False", so the Clarizen default
    ``Switch([IsSoftDeleted], , "False", "True", "True", "False")`` works.
    """
    source = text(args[0](context), "source") or ""
    for index in range(2, len(args), 2):
        if (text(args[index](context), "key") or "") == source:
            return args[index + 1](context)
    return args[1](context)


def coalesce(context: EvalContext, args: Sequence[Thunk]) -> Any:
    """Coalesce(source1, …, defaultValue): the first value that is not null."""
    for arg in args:
        value = arg(context)
        if not is_null(value):
            return value
    return None


def cbool(value: Any) -> bool:
    """CBool(expression)."""
    return boolean(value, "expression")


def not_(value: Any) -> bool:
    """Not(source): False for True or "True", otherwise True."""
    value = single(value, "source")
    if type(value) is bool:
        return not value
    return (text(value, "source") or "").strip().casefold() != "true"


def bit_and(first: Any, second: Any) -> int:
    """BitAnd(value1, value2)."""
    return integer(first, "value1") & integer(second, "value2")


def is_null_(value: Any) -> bool:
    """IsNull(expression)."""
    return is_null(value)


def is_null_or_empty_(value: Any) -> bool:
    """IsNullOrEmpty(expression)."""
    return is_null_or_empty(value)


def is_present(value: Any) -> bool:
    """IsPresent(expression): the inverse of IsNullOrEmpty."""
    return not is_null_or_empty(value)


def is_string(value: Any) -> bool:
    """IsString(expression)."""
    return type(single(value, "expression")) is str


def count(value: Any) -> int:
    """Count(attribute): the number of values of a multi-valued attribute."""
    return 0 if value == "" else len(as_list(value))


def item(values: Any, index: Any) -> Any:
    """Item(attribute, index): 1-based; past the end is null."""
    position = integer(index, "index")
    if position < 1:
        raise Fail(f"index starts at 1, got {position}")
    items = as_list(values)
    return items[position - 1] if position <= len(items) else None


def remove_duplicates(value: Any) -> Any:
    """RemoveDuplicates(attribute): case-sensitive, first occurrence kept."""
    if type(value) is not list and type(value) is not tuple:
        return value
    unique: list[Any] = []
    seen: set[Any] = set()
    for entry in value:
        try:
            if entry in seen:
                continue
            seen.add(entry)
        except TypeError:  # unhashable (a complex value): compare one by one
            if entry in unique:
                continue
        unique.append(entry)
    return unique


def redact(value: Any) -> Any:
    """Redact(value): the value flows; ``Expression.redacted`` hides it from the logs."""
    return value


def guid(context: EvalContext) -> str:
    """Guid(): a random version-4 GUID, lower-case, as .NET's Guid.ToString()."""
    return str(uuid.UUID(int=context.random.getrandbits(128), version=4))


def default_domain(context: EvalContext) -> str:
    """DefaultDomain(): the tenant's default verified domain."""
    if not context.default_domain:
        raise Fail("the directory has no default verified domain")
    return context.default_domain


_DIGITS = "0123456789"
_CAPITALS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWERS = "abcdefghijklmnopqrstuvwxyz"
# "Password must meet complexity requirements", the reference the doc links to.
_SPECIALS = "~!@#$%^&*_-+=`|\\(){}[]:;\"'<>,.?/"
RANDOM_STRING_MAX = 256


def random_string(
    context: EvalContext,
    length: Any,
    min_numbers: Any,
    min_special: Any,
    min_capital: Any,
    min_lower: Any,
    avoid: Any = None,
) -> str:
    """RandomString(Length, MinimumNumbers, MinimumSpecialCharacters, MinimumCapital,
    MinimumLowerCase, CharactersToAvoid)."""
    total = integer(length, "Length")
    minimums = [
        integer(min_numbers, "MinimumNumbers"),
        integer(min_special, "MinimumSpecialCharacters"),
        integer(min_capital, "MinimumCapital"),
        integer(min_lower, "MinimumLowerCase"),
    ]
    if not 1 <= total <= RANDOM_STRING_MAX:
        raise Fail(f"Length must be between 1 and {RANDOM_STRING_MAX}, got {total}")
    if min(minimums) < 0 or sum(minimums) > total:
        raise Fail(f"the minimums {minimums} must be positive and add up to at most Length {total}")
    excluded = set(text(avoid, "CharactersToAvoid") or "")
    pools = [
        "".join(c for c in pool if c not in excluded)
        for pool in (_DIGITS, _SPECIALS, _CAPITALS, _LOWERS)
    ]
    rng = context.random
    chars: list[str] = []
    for pool, minimum in zip(pools, minimums, strict=True):
        if minimum and not pool:
            raise Fail("CharactersToAvoid excludes every character of a required kind")
        chars.extend(rng.choice(pool) for _ in range(minimum))
    everything = "".join(pools)
    if len(chars) < total and not everything:
        raise Fail("CharactersToAvoid excludes every character")
    chars.extend(rng.choice(everything) for _ in range(total - len(chars)))
    rng.shuffle(chars)
    return "".join(chars)


def _roles(value: Any) -> list[tuple[str, str]]:
    roles: dict[str, str] = {}
    for entry in as_list(value):
        if isinstance(entry, AppRoleAssignment):
            role, display = entry.role, entry.display or entry.role
        elif type(entry) is str:
            role = display = entry
        else:
            raise Fail(f"expects [appRoleAssignments], got {type(entry).__name__}")
        if role and role.casefold() != DEFAULT_ACCESS_ROLE.casefold():
            roles.setdefault(role, display)
    # Entra gives "no guarantee which role is provisioned" when there are several;
    # sorting makes the choice (and the list order) stable from cycle to cycle.
    return sorted(roles.items())


def single_app_role_assignment(value: Any) -> str | None:
    """SingleAppRoleAssignment([appRoleAssignments]): one role's value.

    With several roles the lowest in ordinal order is returned (Entra: "no guarantee
    which role is provisioned"); Default Access carries no value and is skipped.
    """
    roles = _roles(value)
    return roles[0][0] if roles else None


def app_role_assignments_complex(value: Any) -> list[dict[str, Any]] | None:
    """AppRoleAssignmentsComplex([appRoleAssignments]): every role, all primary=false."""
    roles = _roles(value)
    if not roles:
        return None
    return [
        {"primary": False, "type": ROLE_TYPE, "display": display, "value": role}
        for role, display in roles
    ]


def _comparable(value: Any) -> Any:
    value = single(value, "operand")
    if type(value) is bool:
        return "True" if value else "False"
    if isinstance(value, datetime):
        return to_utc(value)
    return value


def compare(op: str, left: Any, right: Any) -> bool:
    """Return ``left op right``; a null operand makes every comparison false.

    The doc: "If the source attribute used within the IIF function is empty or null,
    the condition check fails". Numbers compare as numbers (a numeric string against
    a number too), dates as dates, anything else as case-sensitive strings.
    """
    a, b = _comparable(left), _comparable(right)
    if a is None or b is None:
        return False
    if isinstance(a, datetime) or isinstance(b, datetime):
        a, b = _as_date(a), _as_date(b)
        if not (isinstance(a, datetime) and isinstance(b, datetime)):
            a, b = text(a, "operand"), text(b, "operand")
    elif type(a) in (int, Decimal) or type(b) in (int, Decimal):
        na, nb = number(a), number(b)
        if na is not None and nb is not None:
            a, b = na, nb
        else:
            a, b = text(a, "operand"), text(b, "operand")
    else:
        a, b = text(a, "operand"), text(b, "operand")
    return _OPERATORS[op](a, b)


def _as_date(value: Any) -> Any:
    if type(value) is str:
        try:
            return parse_lenient(value)
        except ValueError:
            return value
    return value


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: bool(a == b),
    "<>": lambda a, b: bool(a != b),
    "<": lambda a, b: bool(a < b),
    "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b),
    ">=": lambda a, b: bool(a >= b),
}
