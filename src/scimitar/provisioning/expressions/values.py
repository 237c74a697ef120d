"""Coercions between the value kinds expressions pass around.

Values are Python objects: ``None`` (Entra's null: an absent attribute), ``str``,
``bool``, ``int``, ``Decimal`` (a number literal with a fraction), a UTC-aware
``datetime`` (CDate, Now, DateAdd), and lists for multi-valued attributes.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from scimitar.provisioning.expressions.dotnet_dates import format_default


class Fail(Exception):
    """A function cannot compute its value; the compiler adds the name and position."""


class StaticError(Exception):
    """A call is invalid whatever the object (bad literal argument); carries a position."""

    def __init__(self, reason: str, position: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.position = position


# At most 30 digits: far beyond any attribute's number, and well inside int()'s limit
# on converting long digit strings (Python refuses 4,300 digits with a ValueError).
_INTEGER = re.compile(r"\s*[+-]?[0-9]{1,30}\s*")
_MAX_NUMBER_TEXT = 64
_HEX = re.compile(r"\s*&[Hh]([0-9A-Fa-f]+)\s*")


def is_multi(value: Any) -> bool:
    """Return whether ``value`` is a multi-valued attribute's value."""
    return type(value) is list or type(value) is tuple


def single(value: Any, what: str) -> Any:
    """Return the one value of ``value``: a one-element list unwraps, an empty one is null."""
    if type(value) is list or type(value) is tuple:
        if not value:
            return None
        if len(value) == 1:
            return value[0]
        raise Fail(f"{what} must be a single value, got {len(value)} values")
    return value


def text(value: Any, what: str) -> str | None:
    """Return ``value`` as a string, as CStr does; null stays null."""
    if value is None or type(value) is str:
        return value
    if type(value) is bool:
        return "True" if value else "False"
    if type(value) is int or type(value) is Decimal:
        return str(value)
    if isinstance(value, datetime):
        return format_default(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if type(value) is list or type(value) is tuple:
        return text(single(value, what), what)
    raise Fail(f"{what} must be a string, got {type(value).__name__}")


def integer(value: Any, what: str) -> int:
    """Return ``value`` as an integer (numbers, numeric strings, ``&H`` hex)."""
    value = single(value, what)
    if type(value) is int:
        return value
    if type(value) is Decimal:
        if value == value.to_integral_value():
            return int(value)
        raise Fail(f"{what} must be a whole number, got {value}")
    if type(value) is str:
        if _INTEGER.fullmatch(value):
            return int(value)
        hexa = _HEX.fullmatch(value)
        if hexa:
            return int(hexa.group(1), 16)
        number = _decimal(value)
        if number is not None and number == number.to_integral_value():
            return int(number)
        raise Fail(f"{what} must be a whole number, got {value[:_MAX_NUMBER_TEXT]!r}")
    if value is None:
        raise Fail(f"{what} must be a whole number, got null")
    raise Fail(f"{what} must be a whole number, got {type(value).__name__}")


def number(value: Any) -> int | Decimal | None:
    """Return ``value`` as a number if it is one or spells one, else None."""
    if type(value) is int or type(value) is Decimal:
        return value
    if type(value) is str:
        if _INTEGER.fullmatch(value):
            return int(value)
        return _decimal(value)
    return None


def _decimal(value: str) -> Decimal | None:
    if len(value) > _MAX_NUMBER_TEXT:
        return None
    try:
        parsed = Decimal(value.strip())
    except InvalidOperation:
        return None
    # Exponents are bounded so a later int() stays small ("1e999999" is not a count).
    if not parsed.is_finite() or abs(parsed.adjusted()) > _MAX_NUMBER_TEXT:
        return None
    return parsed


def boolean(value: Any, what: str) -> bool:
    """Return ``value`` as a Boolean, as CBool does: "True"/"False" or non-zero."""
    value = single(value, what)
    if type(value) is bool:
        return value
    if value is None:
        return False
    if type(value) is str:
        folded = value.strip().casefold()
        if folded == "true":
            return True
        if folded == "false":
            return False
    numeric = number(value)
    if numeric is not None:
        return numeric != 0
    raise Fail(f"{what} must be True, False or a number, got {value!r}")


def is_null(value: Any) -> bool:
    """Return whether ``value`` is null: absent, or a multi-valued attribute with no value."""
    return value is None or ((type(value) is list or type(value) is tuple) and not value)


def is_null_or_empty(value: Any) -> bool:
    """Return whether ``value`` is null or the empty string."""
    return (
        value is None
        or value == ""
        or ((type(value) is list or type(value) is tuple) and not value)
    )


def as_list(value: Any) -> list[Any]:
    """Return the values of a multi-valued attribute (a single value is a list of one)."""
    if value is None:
        return []
    if type(value) is list or type(value) is tuple:
        return list(value)
    return [value]
