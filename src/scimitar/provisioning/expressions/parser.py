"""Parse the attribute-mapping expression syntax into frozen nodes.

The doc's grammar: ``FunctionName(arg, …)`` with names case-insensitive,
``[attributeName]``, ``"string constants"`` where ``\\"`` and ``\\\\`` escape a quote and
a backslash, and nested calls. Also accepted because the doc's own examples use
them: numbers (``DateAdd("d", -10, …)``, ``Join("", 1000, …)``), VBA hex
(``BitAnd(&HF, &HF7)``), ``vbTextCompare``/``vbBinaryCompare``, the comparison
operators of IIF conditions (``=``, ``<>``, ``<``, ``<=``, ``>``, ``>=``), and empty
arguments for omitted optional values (``Switch([IsSoftDeleted], , "False", …)``).
Arity and literal arguments (intervals, date formats, regexes) are checked here,
so a mapping is rejected when it is saved, not when it first runs.
"""

from __future__ import annotations

import difflib
import re
from decimal import Decimal

from scimitar.provisioning.expressions.context import APP_ROLE_ASSIGNMENTS
from scimitar.provisioning.expressions.errors import ExpressionError
from scimitar.provisioning.expressions.functions import FUNCTIONS, FunctionSpec
from scimitar.provisioning.expressions.nodes import (
    AttributeRef,
    Call,
    CompareOp,
    Comparison,
    EmptyArg,
    Literal,
    Node,
)
from scimitar.provisioning.expressions.values import Fail

MAX_LENGTH = 10_000
"""Longest expression accepted: the doc's "maximum supported length for a single
attribute mapping expression is 10,000 characters"."""

MAX_DEPTH = 50
"""Deepest nesting of calls accepted (keeps the recursive parser and evaluator safe)."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_HEX = re.compile(r"&[Hh]([0-9A-Fa-f]+)")
_MAX_DIGITS = 30  # Python's int() refuses very long digit strings; no mapping needs them
_STRING_STOP = re.compile(r'["\\]')
_WHITESPACE = re.compile(r"\s*")
_OPERATORS: tuple[CompareOp, ...] = ("<>", "<=", ">=", "=", "<", ">")
_CONSTANTS = {"vbbinarycompare": "vbBinaryCompare", "vbtextcompare": "vbTextCompare"}
_ROLE_FUNCTIONS = "SingleAppRoleAssignment or AppRoleAssignmentsComplex"


def parse(text: str) -> Node:
    """Return the syntax tree of ``text``; raise ExpressionError pointing at the fault."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"the expression is {len(text):,} characters long; the limit is {MAX_LENGTH:,}",
            text,
            MAX_LENGTH + 1,
        )
    return _Parser(text).parse()


class _Parser:
    """Recursive descent over the characters of one expression."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.end = len(text)

    def error(self, reason: str, offset: int) -> ExpressionError:
        return ExpressionError(reason, self.text, offset + 1)

    def skip(self) -> None:
        match = _WHITESPACE.match(self.text, self.pos)
        if match:
            self.pos = match.end()

    def parse(self) -> Node:
        self.skip()
        if self.pos == self.end:
            raise self.error("the expression is empty", 0)
        node = self.value(0)
        self.skip()
        if self.pos < self.end:
            char = self.text[self.pos]
            if char == ")":
                raise self.error("')' has no matching '('", self.pos)
            if char == ",":
                raise self.error("',' outside a function's arguments", self.pos)
            raise self.error("unexpected text after the end of the expression", self.pos)
        if (
            isinstance(node, AttributeRef)
            and node.name.casefold() == APP_ROLE_ASSIGNMENTS.casefold()
        ):
            raise self.error(
                f"[{node.name}] cannot be mapped directly; use {_ROLE_FUNCTIONS}",
                node.position - 1,
            )
        return node

    def value(self, depth: int) -> Node:
        """An operand, or ``operand op operand`` (IIF's conditions)."""
        left = self.operand(depth)
        self.skip()
        op_at = self.pos
        op = self.operator()
        if op is None:
            return left
        self.skip()
        if self.pos == self.end or self.text[self.pos] in ",)":
            raise self.error(f"'{op}' needs a value on its right", op_at)
        right = self.operand(depth)
        self.skip()
        if self.operator() is not None:
            raise self.error(
                "comparisons cannot be chained; nest IIF instead (IIF has no AND or OR)", op_at
            )
        return Comparison(op, left, right, op_at + 1)

    def operator(self) -> CompareOp | None:
        if self.text.startswith(("==", "!="), self.pos):
            raise self.error("the comparison operators are =, <>, <, <=, > and >=", self.pos)
        for op in _OPERATORS:
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                return op
        return None

    def operand(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise self.error(f"functions are nested more than {MAX_DEPTH} levels deep", self.pos)
        if self.pos >= self.end:
            raise self.error("the expression ends where a value was expected", self.pos)
        char = self.text[self.pos]
        if char == '"':
            return self.string()
        if char == "[":
            return self.attribute()
        if char == "&":
            return self.hex_number()
        if _NUMBER.match(self.text, self.pos):
            return self.number()
        if _NAME.match(self.text, self.pos):
            return self.name(depth)
        if char == "(":
            raise self.error("'(' must follow a function name", self.pos)
        if char == "]":
            raise self.error("']' has no matching '['", self.pos)
        if char in ",)":
            raise self.error("a value was expected here", self.pos)
        raise self.error(f"unexpected character {char!r}", self.pos)

    def string(self) -> Literal:
        start = self.pos
        pieces: list[str] = []
        pos = start + 1
        while True:
            stop = _STRING_STOP.search(self.text, pos)
            if stop is None:
                raise self.error('unterminated string: the closing " is missing', start)
            at = stop.start()
            if self.text[at] == '"':
                pieces.append(self.text[pos:at])
                self.pos = at + 1
                return Literal("".join(pieces), start + 1)
            escaped = self.text[at + 1 : at + 2]
            if not escaped:
                raise self.error('unterminated string: the closing " is missing', start)
            # The doc escapes only \" and \\; any other backslash is kept as written,
            # so a regex copied with single backslashes ("\d") still means \d.
            pieces.append(self.text[pos:at] + (escaped if escaped in '"\\' else "\\" + escaped))
            pos = at + 2

    def attribute(self) -> AttributeRef:
        start = self.pos
        close = self.text.find("]", start + 1)
        inner = self.text[start + 1 : close] if close >= 0 else ""
        if close < 0 or "[" in inner or "\n" in inner:
            raise self.error("unclosed '[': an attribute name ends with ']'", start)
        name = inner.strip()
        if not name:
            raise self.error("empty attribute name '[]'", start)
        self.pos = close + 1
        return AttributeRef(name, start + 1)

    def number(self) -> Literal:
        match = _NUMBER.match(self.text, self.pos)
        assert match is not None  # operand() matched it
        raw = match.group(0)
        if len(raw) > _MAX_DIGITS:
            raise self.error(f"number longer than {_MAX_DIGITS} characters", self.pos)
        self.pos = match.end()
        return Literal(Decimal(raw) if "." in raw else int(raw), match.start() + 1)

    def hex_number(self) -> Literal:
        match = _HEX.match(self.text, self.pos)
        if match is None:
            raise self.error("'&' must start a hexadecimal number such as &HF7", self.pos)
        if len(match.group(1)) > _MAX_DIGITS:
            raise self.error(f"number longer than {_MAX_DIGITS} characters", self.pos)
        self.pos = match.end()
        return Literal(int(match.group(1), 16), match.start() + 1)

    def name(self, depth: int) -> Node:
        start = self.pos
        match = _NAME.match(self.text, start)
        assert match is not None  # operand() matched it
        word = match.group(0)
        self.pos = match.end()
        self.skip()
        folded = word.casefold()
        spec = FUNCTIONS.get(folded)
        if self.pos >= self.end or self.text[self.pos] != "(":
            if folded in _CONSTANTS:
                self.pos = match.end()
                return Literal(_CONSTANTS[folded], start + 1)
            if spec is not None:
                raise self.error(f"'(' expected after {spec.name}", self.pos)
            raise self.error(
                f'unknown name {word!r}: write [{word}] for an attribute or "{word}" for a string',
                start,
            )
        if spec is None:
            raise self.error(f"unknown function {word!r}{_suggest(word)}", start)
        if spec.unsupported:
            raise self.error(spec.unsupported, start)
        return self.call(spec, start, depth)

    def call(self, spec: FunctionSpec, start: int, depth: int) -> Call:
        opened = self.pos
        self.pos += 1
        args: list[Node] = []
        self.skip()
        if self.text.startswith(")", self.pos):
            self.pos += 1
        else:
            while True:
                self.skip()
                if self.pos >= self.end:
                    raise self.error(f"unclosed '(' of {spec.name}", opened)
                if self.text[self.pos] in ",)":
                    args.append(EmptyArg(self.pos + 1))
                else:
                    args.append(self.value(depth + 1))
                self.skip()
                if self.pos >= self.end:
                    raise self.error(f"unclosed '(' of {spec.name}", opened)
                char = self.text[self.pos]
                self.pos += 1
                if char == ")":
                    break
                if char != ",":
                    raise self.error(
                        f"',' or ')' expected in the arguments of {spec.name}", self.pos - 1
                    )
        call = Call(spec.name, tuple(args), start + 1)
        self.validate(spec, call)
        return call

    def validate(self, spec: FunctionSpec, call: Call) -> None:
        if not spec.accepts(len(call.args)):
            count = len(call.args)
            got = f"{count} argument{'' if count == 1 else 's'}"
            raise self.error(
                f"{spec.signature()} takes {spec.arity()}, got {got}", call.position - 1
            )
        for index, arg in enumerate(call.args):
            if isinstance(arg, EmptyArg) and not spec.may_be_empty(index):
                name = spec.param_name(index)
                raise self.error(
                    f"argument {index + 1} ({name}) of {spec.name} cannot be empty",
                    arg.position - 1,
                )
        for index, check in spec.checks:
            if index < len(call.args):
                arg = call.args[index]
                if isinstance(arg, Literal) and isinstance(arg.value, str):
                    try:
                        check(arg.value)
                    except (Fail, ValueError) as error:
                        raise self.error(f"{spec.name}: {error}", arg.position - 1) from None


def _suggest(word: str) -> str:
    names = [spec.name for spec in FUNCTIONS.values()]
    close = difflib.get_close_matches(word, names, n=1) or difflib.get_close_matches(
        word.casefold(), [name.casefold() for name in names], n=1
    )
    if not close:
        return ""
    spec = FUNCTIONS[close[0].casefold()]
    return f"; did you mean {spec.name}?"
