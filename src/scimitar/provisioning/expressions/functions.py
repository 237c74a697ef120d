"""The function table: each function's parameters, implementation and static checks.

Parameter names follow the doc; a trailing ``?`` marks an optional parameter, which
may be left empty (``Switch([x], , …)``) or, at the end, omitted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scimitar.provisioning.expressions import fn_dates, fn_logic, fn_text
from scimitar.provisioning.expressions.dotnet_dates import parse_styles, tokenize
from scimitar.provisioning.expressions.nodes import Call

Impl = Callable[..., Any]
Check = Callable[[str], object]  # raises Fail or ValueError when a literal is invalid


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """One function of the language.

    ``impl`` is None only when ``prepare`` builds it or the function is
    ``unsupported`` (a documented function that cannot work here, with the reason).
    ``lazy`` functions get ``(context, thunks)`` and evaluate only the arguments they
    need (IIF, Switch, Coalesce); the others get evaluated values, preceded by the
    context when ``context`` is set. ``prepare`` may pick an implementation per call
    site; ``checks`` validate literal arguments at parse time.
    """

    name: str
    params: tuple[str, ...]
    impl: Impl | None
    repeat: tuple[str, ...] = ()
    lazy: bool = False
    context: bool = False
    volatile: bool = False
    prepare: Callable[[Call], Impl] | None = None
    checks: tuple[tuple[int, Check], ...] = ()
    unsupported: str | None = None

    @property
    def min_args(self) -> int:
        """Fewest arguments accepted."""
        if self.repeat:
            return len(self.params) + len(self.repeat)
        required = [i for i, name in enumerate(self.params) if not name.endswith("?")]
        return required[-1] + 1 if required else 0

    @property
    def max_args(self) -> int | None:
        """Most arguments accepted (None: unbounded)."""
        return None if self.repeat else len(self.params)

    def param_name(self, index: int) -> str:
        """Return the doc's name of argument ``index`` (0-based)."""
        if index < len(self.params):
            return self.params[index].rstrip("?")
        group = self.repeat[(index - len(self.params)) % len(self.repeat)]
        return group.rstrip("?")

    def may_be_empty(self, index: int) -> bool:
        """Return whether argument ``index`` may be left empty."""
        if index < len(self.params):
            return self.params[index].endswith("?")
        return self.repeat[(index - len(self.params)) % len(self.repeat)].endswith("?")

    def accepts(self, count: int) -> bool:
        """Return whether ``count`` arguments is a valid arity."""
        if count < self.min_args:
            return False
        if self.repeat:
            return (count - len(self.params)) % len(self.repeat) == 0
        return count <= len(self.params)

    def signature(self) -> str:
        """Return the call as the doc writes it: ``Switch(source, defaultValue, key1, …)``."""
        names = [name.rstrip("?") for name in self.params]
        if self.repeat:
            names += [f"{name.rstrip('?')}1" for name in self.repeat]
            names += (
                [f"{name.rstrip('?')}2" for name in self.repeat] if len(self.repeat) > 1 else []
            )
            names.append("…")
        return f"{self.name}({', '.join(names)})"

    def arity(self) -> str:
        """Return how many arguments it takes, in words."""
        if self.repeat:
            if len(self.repeat) > 1:
                return f"{len(self.params)} arguments then {'/'.join(self.repeat)} pairs"
            return f"at least {self.min_args} argument{'s' if self.min_args > 1 else ''}"
        low, high = self.min_args, len(self.params)
        if low == high:
            return f"{low} argument{'' if low == 1 else 's'}"
        return f"{low} to {high} arguments"


def _interval(value: str) -> object:
    return fn_dates.interval(value)


def _compare_type(value: str) -> object:
    return fn_text.compare_mode(value)


def _culture(value: str) -> object:
    reason = fn_text.check_culture(value)
    if reason:
        raise ValueError(reason)
    return None


def _date_format(value: str) -> object:
    return tokenize(value)


_UNIQUE = (
    "SelectUniqueValue checks candidate values against the target directory and, as the "
    "doc says, is supported only for provisioning to on-premises Active Directory"
)

_SPECS = (
    FunctionSpec("Append", ("source", "suffix"), fn_text.append),
    FunctionSpec(
        "AppRoleAssignmentsComplex", ("appRoleAssignments",), fn_logic.app_role_assignments_complex
    ),
    FunctionSpec(
        "AssertiveAppRoleAssignmentsComplex",
        ("appRoleAssignments",),
        fn_logic.app_role_assignments_complex,
    ),
    FunctionSpec("BitAnd", ("value1", "value2"), fn_logic.bit_and),
    FunctionSpec("CBool", ("expression",), fn_logic.cbool),
    FunctionSpec("CDate", ("expression",), fn_dates.cdate),
    FunctionSpec("Coalesce", (), fn_logic.coalesce, repeat=("source",), lazy=True),
    FunctionSpec("ConvertToBase64", ("source",), fn_text.convert_to_base64),
    FunctionSpec("ConvertToUTF8Hex", ("source",), fn_text.convert_to_utf8_hex),
    FunctionSpec("Count", ("attribute",), fn_logic.count),
    FunctionSpec("CStr", ("value",), fn_text.cstr),
    FunctionSpec(
        "DateAdd", ("interval", "value", "dateTime"), fn_dates.date_add, checks=((0, _interval),)
    ),
    FunctionSpec(
        "DateDiff", ("interval", "date1", "date2"), fn_dates.date_diff, checks=((0, _interval),)
    ),
    FunctionSpec("DateFromNum", ("value",), fn_dates.date_from_num),
    FunctionSpec("DefaultDomain", (), fn_logic.default_domain, context=True),
    FunctionSpec(
        "FormatDateTime",
        ("source", "dateTimeStyles?", "inputFormat", "outputFormat"),
        fn_dates.format_date_time,
        context=True,
        checks=((1, parse_styles), (2, _date_format), (3, _date_format)),
    ),
    FunctionSpec("Guid", (), fn_logic.guid, context=True, volatile=True),
    FunctionSpec("IgnoreFlowIfNullOrEmpty", ("expression",), fn_logic.ignore_flow_if_null_or_empty),
    FunctionSpec("IIF", ("condition", "valueIfTrue", "valueIfFalse"), fn_logic.iif, lazy=True),
    FunctionSpec(
        "InStr",
        ("value1", "value2", "start?", "compareType?"),
        fn_text.instr,
        checks=((3, _compare_type),),
    ),
    FunctionSpec("IsNull", ("expression",), fn_logic.is_null_),
    FunctionSpec("IsNullOrEmpty", ("expression",), fn_logic.is_null_or_empty_),
    FunctionSpec("IsPresent", ("expression",), fn_logic.is_present),
    FunctionSpec("IsString", ("expression",), fn_logic.is_string),
    FunctionSpec("Item", ("attribute", "index"), fn_logic.item),
    FunctionSpec("Join", ("separator",), fn_text.join, repeat=("source",)),
    FunctionSpec("Left", ("String", "NumChars"), fn_text.left),
    FunctionSpec("Len", ("String",), fn_text.length),
    FunctionSpec("Mid", ("source", "start", "length"), fn_text.mid),
    FunctionSpec("NormalizeDiacritics", ("source",), fn_text.normalize_diacritics),
    FunctionSpec("Not", ("source",), fn_logic.not_),
    FunctionSpec("Now", (), fn_dates.now, context=True, volatile=True),
    FunctionSpec("NumFromDate", ("value",), fn_dates.num_from_date),
    FunctionSpec("PCase", ("source", "wordSeparators?"), fn_text.pcase),
    FunctionSpec(
        "RandomString",
        (
            "Length",
            "MinimumNumbers",
            "MinimumSpecialCharacters",
            "MinimumCapital",
            "MinimumLowerCase",
            "CharactersToAvoid?",
        ),
        fn_logic.random_string,
        context=True,
        volatile=True,
    ),
    FunctionSpec("Redact", ("value",), fn_logic.redact),
    FunctionSpec("RemoveDuplicates", ("attribute",), fn_logic.remove_duplicates),
    FunctionSpec(
        "Replace",
        (
            "source",
            "oldValue?",
            "regexPattern?",
            "regexGroupName?",
            "replacementValue?",
            "replacementAttributeName?",
            "template?",
        ),
        None,
        prepare=fn_text.prepare_replace,
    ),
    FunctionSpec(
        "SelectUniqueValue",
        ("uniqueValueRule",),
        None,
        repeat=("uniqueValueRule",),
        unsupported=_UNIQUE,
    ),
    FunctionSpec(
        "SingleAppRoleAssignment", ("appRoleAssignments",), fn_logic.single_app_role_assignment
    ),
    FunctionSpec("Split", ("source", "delimiter"), fn_text.split),
    FunctionSpec("StripSpaces", ("source",), fn_text.strip_spaces),
    FunctionSpec(
        "Switch", ("source", "defaultValue?"), fn_logic.switch, repeat=("key", "value"), lazy=True
    ),
    FunctionSpec("ToLower", ("source", "culture?"), fn_text.to_lower, checks=((1, _culture),)),
    FunctionSpec("ToUpper", ("source", "culture?"), fn_text.to_upper, checks=((1, _culture),)),
    FunctionSpec("Word", ("String", "WordNumber", "Delimiters"), fn_text.word),
)

FUNCTIONS: dict[str, FunctionSpec] = {spec.name.casefold(): spec for spec in _SPECS}
"""Every function, by case-folded name (function names are case-insensitive)."""
