"""The SCIM filter grammar (RFC 7644 §3.4.2.2, Figure 1): parse and render.

One compiled regex splits the text into tokens, and a recursive-descent parser
builds the frozen nodes of ``ast.py``. The parser class is shared with ``path.py``
because a PATCH path's value filter is this grammar (§3.5.2).

Where the published ABNF is wrong, the errata are followed: a value filter may use
``and``/``or``/``not``/parentheses but may not nest another value path (errata 4690
and 7322), and ``not`` may be followed by a space (the RFC's own examples do that).
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import cast

from scimitar.scim.ast import (
    COMPARE_OPS,
    And,
    AttrPath,
    Compare,
    CompareOp,
    CompValue,
    Filter,
    Not,
    Or,
    Present,
    ValuePath,
)
from scimitar.scim.errors import InvalidFilter, ScimError

MAX_LENGTH = 10_000
"""Longest filter or path accepted, in characters."""

MAX_DEPTH = 50
"""Deepest nesting of parentheses/brackets, and deepest parsed tree, accepted."""

_TOKEN = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<str>"(?:[^"\\]|\\[\s\S])*")
    | (?P<num>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)(?![0-9A-Za-z_$.])
    | (?P<word>[A-Za-z$][A-Za-z0-9_$.:\-]*)
    | (?P<punct>[()\[\].])
    """,
    re.VERBOSE,
)
# RFC 7644 §3.4.2.2 ATTRNAME, plus "$ref": RFC 7643 §2.1 allows "$" in names and
# clients filter on members.$ref, though Figure 1's nameChar leaves it out.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*|\$[Rr][Ee][Ff]")
# A schema URN in the IETF namespace ends ":<version>:<Resource>"; a path whose
# would-be URN ends in the version is a bare schema URN, not an attribute path.
_IETF_SCHEMAS = "urn:ietf:params:scim:schemas:"
_VERSION = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_VALUE_WORDS: dict[str, CompValue] = {"true": True, "false": False, "null": None}
_OPERATORS = "eq, ne, co, sw, ew, gt, ge, lt, le or pr"

# Token kinds: "str", "num", "word", one of "()[].", and "end".
Token = tuple[str, str, int]  # (kind, text, 0-based offset)


class FilterParser:
    """Recursive-descent parser over the filter grammar; ``path.py`` extends it.

    Chains of one logical operator (``a or b or c``) become balanced trees, so even a
    long generated ``id eq … or id eq …`` stays shallow (depth log2 n) for the
    recursive walkers downstream (evaluator, SQL compiler).
    """

    def __init__(self, text: str, error: type[ScimError] = InvalidFilter) -> None:
        self.text = text
        self.error = error
        self.tokens = self._tokenize(text)
        self.index = 0
        self.nesting = 0
        self.bracket_attr: AttrPath | None = None  # set while inside "attr[ ... ]"
        self.allow_inner_sub = False  # path.py: the Clarizen `roles[primary eq "True".value]`
        self.inner_sub: str | None = None

    # -- tokens ---------------------------------------------------------------

    def _tokenize(self, text: str) -> list[Token]:
        tokens: list[Token] = []
        pos, end = 0, len(text)
        match = _TOKEN.match
        while pos < end:
            found = match(text, pos)
            if found is None:
                raise self._bad_character(pos)
            kind = found.lastgroup or ""
            if kind != "ws":
                chunk = found.group()
                tokens.append((chunk if kind == "punct" else kind, chunk, pos))
            pos = found.end()
        tokens.append(("end", "", end))
        return tokens

    def _bad_character(self, pos: int) -> ScimError:
        char = self.text[pos]
        where = self._at(pos)
        if char == '"':
            return self._error(f"unterminated string starting {where}: add the closing '\"'")
        if char == "'":
            return self._error(
                f'unexpected character "\'" {where}: string values go in double quotes'
            )
        if char in "-0123456789":
            return self._error(
                f"malformed number {where}: write numbers as in JSON (12, -3, 4.5e6)"
            )
        return self._error(f"unexpected character {char!r} {where}")

    def _peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def _next(self) -> Token:
        token = self._peek()
        if token[0] != "end":
            self.index += 1
        return token

    def _at(self, pos: int) -> str:
        return f"at position {pos + 1}"

    def _error(self, message: str) -> ScimError:
        return self.error(message)

    def _found(self, token: Token) -> str:
        kind, text, pos = token
        if kind == "end":
            return f"{self._at(pos)} (end of input)"
        return f"{self._at(pos)}, found {_quote(text)}"

    # -- grammar --------------------------------------------------------------

    def parse(self) -> Filter:
        """Parse the whole text as a filter."""
        if self._peek()[0] == "end":
            raise self._error('filter is empty: write an expression such as userName eq "bjensen"')
        node, _depth = self._or()
        kind, _text, pos = self._peek()
        if kind == ")":
            raise self._error(f"')' {self._at(pos)} has no matching '('")
        if kind == "]":
            raise self._error(f"']' {self._at(pos)} has no matching '['")
        if kind != "end":
            raise self._error(
                f"expected 'and', 'or' or the end of the filter {self._found(self._peek())}"
            )
        return node

    def _or(self) -> tuple[Filter, int]:
        items = [self._and()]
        while self._is_word("or"):
            self._next()
            items.append(self._and())
        return self._chain(items, Or)

    def _and(self) -> tuple[Filter, int]:
        items = [self._unary()]
        while self._is_word("and"):
            self._next()
            items.append(self._unary())
        return self._chain(items, And)

    def _chain(
        self, items: list[tuple[Filter, int]], cls: type[And] | type[Or]
    ) -> tuple[Filter, int]:
        if len(items) == 1:
            return items[0]
        depth = max(d for _node, d in items) + (len(items) - 1).bit_length()
        self._check_depth(depth)
        return balanced([node for node, _d in items], cls), depth

    def _unary(self) -> tuple[Filter, int]:
        kind, text, pos = self._peek()
        if kind == "(":
            return self._group()
        if kind == "word" and text.lower() == "not":
            following = self._peek(1)
            if following[0] == "(":
                self._next()
                operand, depth = self._group()
                self._check_depth(depth + 1)
                return Not(operand), depth + 1
            if following[0] != "word" or following[1].lower() not in _OP_WORDS:
                raise self._error(
                    f"'not' {self._at(pos)} must be followed by a filter in parentheses, "
                    f"e.g. not (title pr)"
                )
        if kind == "word":
            return self._expression()
        previous = self.tokens[self.index - 1][1] if self.index else ""
        after = f" after {_quote(previous)}" if previous else ""
        if kind == ")":
            raise self._error(f"expected an expression{after} before ')' {self._at(pos)}")
        if kind == "]":
            raise self._error(f"expected an expression{after} before ']' {self._at(pos)}")
        raise self._error(f"expected an attribute name{after} {self._found(self._peek())}")

    def _group(self) -> tuple[Filter, int]:
        _kind, _text, open_pos = self._next()
        self._enter(open_pos)
        node, depth = self._or()
        kind = self._peek()[0]
        if kind != ")":
            if kind == "end":
                raise self._error(f"missing ')' to close the '(' at position {open_pos + 1}")
            raise self._error(f"expected 'and', 'or' or ')' {self._found(self._peek())}")
        self._next()
        self.nesting -= 1
        return node, depth

    def _expression(self) -> tuple[Filter, int]:
        token = self._next()
        path = self.attr_path(token)
        if self._peek()[0] == "[":
            return self._value_path(path)
        return self._operator(path, token[1]), 1

    def _value_path(self, path: AttrPath) -> tuple[Filter, int]:
        inner, depth = self.value_filter(path)
        if self._peek()[0] == ".":
            # Entra documents `emails[type eq "work"].value eq "x"` (a value path
            # followed by a sub-attribute) for matching; read it as the RFC's
            # `emails[type eq "work" and value eq "x"]`.
            self._next()
            name_token = self._next()
            sub = self.plain_name(name_token, "a sub-attribute name after ']'")
            leaf = self._operator(AttrPath(sub), name_token[1])
            inner, depth = And(inner, leaf), max(depth, 1) + 1
        self._check_depth(depth + 1)
        return ValuePath(path, inner), depth + 1

    def value_filter(self, path: AttrPath) -> tuple[Filter, int]:
        """Parse ``[ valFilter ]`` after ``path``; the next token must be ``[``."""
        _kind, _text, open_pos = self._next()
        if self.bracket_attr is not None:
            raise self._error(
                f"value filters cannot be nested: '[' {self._at(open_pos)} is inside "
                f"'{self.bracket_attr}[...]'"
            )
        if path.sub_attr is not None:
            raise self._error(
                f"'[' {self._at(open_pos)} must follow a multi-valued attribute, not the "
                f"sub-attribute '{path}'"
            )
        self._enter(open_pos)
        self.bracket_attr = path
        node, depth = self._or()
        kind, _text, _pos = self._peek()
        if kind != "]":
            if kind == "end":
                raise self._error(f"missing ']' to close the '[' at position {open_pos + 1}")
            raise self._error(f"expected 'and', 'or' or ']' {self._found(self._peek())}")
        self._next()
        self.bracket_attr = None
        self.nesting -= 1
        return node, depth

    def _operator(self, path: AttrPath, after: str) -> Filter:
        kind, text, pos = self._peek()
        op = text.lower()
        if kind != "word" or op not in _OP_WORDS:
            raise self._error(
                f"expected a comparison operator after {_quote(after)} {self._at(pos)} "
                f"(one of {_OPERATORS}), found {'nothing' if kind == 'end' else _quote(text)}"
            )
        self._next()
        if op == "pr":
            kind, text, pos = self._peek()
            if kind in ("str", "num") or (kind == "word" and text.lower() in _VALUE_WORDS):
                raise self._error(
                    f"'pr' takes no value, but {_quote(text)} follows it {self._at(pos)}"
                )
            return Present(path)
        return Compare(path, cast(CompareOp, op), self._value(text))

    def _value(self, op: str) -> CompValue:
        kind, text, pos = self._next()
        value: CompValue
        if kind == "str":
            value = self._string(text, pos)
        elif kind == "num":
            value = self._number(text, pos)
        elif kind == "word" and text.lower() in _VALUE_WORDS:
            value = _VALUE_WORDS[text.lower()]
        elif kind == "word" and text.lower() not in _KEYWORDS:
            # Entra-doc leniency: Microsoft's tutorial (use-scim-to-provision-users-
            # and-groups, "Example 1. Query the service for a matching user") prints
            # `externalId eq jyoung`, the value unquoted. A bare word here is read as
            # that string; `and`, `or`, `not` and operators stay errors, so a filter
            # missing its value (`userName eq and ...`) still says so.
            value = text
        else:
            raise self._error(
                f'expected a value (a "string", a number, true, false or null) after '
                f"{_quote(op)} {self._found((kind, text, pos))}"
            )
        if self.allow_inner_sub and self.bracket_attr is not None and self._peek()[0] == ".":
            self._inner_sub()
        return value

    def _inner_sub(self) -> None:
        # Microsoft's Clarizen One tutorial writes `roles[primary eq "True".value]`,
        # a sub-attribute inside the bracket; read it as `roles[primary eq "True"].value`.
        self._next()
        sub = self.plain_name(self._next(), "a sub-attribute name after '.'")
        kind, _text, _pos = self._peek()
        if self.inner_sub is not None or kind != "]":
            raise self._error(
                f"a sub-attribute inside '[...]' may only come last, right before ']' "
                f"{self._found(self._peek())}"
            )
        self.inner_sub = sub

    def _string(self, text: str, pos: int) -> str:
        if "\\" not in text:
            value = text[1:-1]
        else:
            try:
                value = json.loads(text, strict=False)
            except json.JSONDecodeError as exc:
                width = 6 if text[exc.pos + 1 : exc.pos + 2] == "u" else 2
                bad = text[exc.pos : exc.pos + width].rstrip('"')
                raise self._error(
                    f"invalid escape {bad!r} in the string {self._at(pos + exc.pos)}: use "
                    f'JSON escapes (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)'
                ) from None
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise self._error(
                    f"the string {self._at(pos)} contains an unpaired UTF-16 surrogate"
                ) from None
        return str(value)

    def _number(self, text: str, pos: int) -> int | float:
        try:
            if "." in text or "e" in text or "E" in text:
                number = float(text)
                if math.isfinite(number):
                    return number
            else:
                return int(text)
        except ValueError:
            pass
        raise self._error(f"the number {self._at(pos)} is out of range")

    # -- attribute paths --------------------------------------------------------

    def attr_path(self, token: Token) -> AttrPath:
        """Split a word token into ``[URN ":"] attr ["." sub]``, checking every part."""
        kind, text, pos = token
        if kind != "word":
            raise self._error(f"expected an attribute name {self._found(token)}")
        problem, path = split_attr_path(text)
        if path is None:
            raise self._error(f"{problem} {self._at(pos)}")
        if self.bracket_attr is not None and (path.urn is not None or path.sub_attr is not None):
            raise self._error(
                f"inside '{self.bracket_attr}[...]' name a sub-attribute of "
                f"'{self.bracket_attr}' on its own (e.g. type or value), not {_quote(text)}, "
                f"{self._at(pos)}"
            )
        return path

    def plain_name(self, token: Token, wanted: str) -> str:
        """Return ``token`` as a single attribute name (no URN, no dot)."""
        kind, text, _pos = token
        if kind != "word" or not _NAME.fullmatch(text):
            raise self._error(f"expected {wanted} {self._found(token)}")
        return text

    def _is_word(self, word: str) -> bool:
        kind, text, _pos = self._peek()
        return kind == "word" and text.lower() == word

    def _enter(self, pos: int) -> None:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise self._error(f"the filter nests deeper than {MAX_DEPTH} levels {self._at(pos)}")

    def _check_depth(self, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise self._error(
                f"the filter nests deeper than {MAX_DEPTH} levels of and/or/not "
                f"{self._at(self._peek()[2])}"
            )


_OP_WORDS = frozenset(COMPARE_OPS | {"pr"})
_KEYWORDS = _OP_WORDS | {"and", "or", "not"}


def split_attr_path(text: str) -> tuple[str, AttrPath | None]:
    """Split ``[URN ":"] attr ["." sub]``; return ``(problem, None)`` when malformed.

    The URN is everything up to the last ``:``, since schema URNs themselves contain
    dots (``...:enterprise:2.0:User:manager.value``).
    """
    urn: str | None = None
    name = text
    if ":" in text:
        urn, _, name = text.rpartition(":")
        if ":" not in urn:
            return f"{_quote(urn)} is not a schema URN (in {_quote(text)})", None
        if not name or _ends_in_version(urn):
            return (
                f"{_quote(text)} is a schema URN, not an attribute path: add ':' and an "
                f"attribute name after it"
            ), None
    attr, dot, sub = name.partition(".")
    if not _NAME.fullmatch(attr):
        return f"{_quote(attr)} is not a valid attribute name{_NAME_RULE}", None
    if not dot:
        return "", AttrPath(attr, None, urn)
    if not sub:
        return f"expected a sub-attribute name after the '.' in {_quote(text)}", None
    if "." in sub:
        return f"{_quote(name)} has more than one '.'; a path is attr or attr.subAttr", None
    if not _NAME.fullmatch(sub):
        return f"{_quote(sub)} is not a valid sub-attribute name{_NAME_RULE}", None
    return "", AttrPath(attr, sub, urn)


_NAME_RULE = " (names start with a letter, then letters, digits, '-' or '_')"


def is_schema_urn(text: str) -> bool:
    """Return whether ``text`` is a whole IETF schema URN (``…:2.0:User``), not a path in one."""
    urn, _, name = text.rpartition(":")
    return _ends_in_version(urn) and _NAME.fullmatch(name) is not None


def _ends_in_version(urn: str) -> bool:
    return urn.lower().startswith(_IETF_SCHEMAS) and bool(
        _VERSION.fullmatch(urn.rpartition(":")[2])
    )


def balanced(items: list[Filter], cls: type[And] | type[Or]) -> Filter:
    """Join ``items`` with ``cls`` as a balanced tree (``and``/``or`` are associative)."""
    if len(items) == 1:
        return items[0]
    mid = len(items) // 2
    return cls(balanced(items[:mid], cls), balanced(items[mid:], cls))


def _quote(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:57] + "...")


def _parse_filter(text: str) -> Filter:
    if len(text) > MAX_LENGTH:
        raise InvalidFilter(f"the filter is {len(text)} characters long; the limit is {MAX_LENGTH}")
    return FilterParser(text).parse()


@lru_cache(maxsize=1024)
def parse_filter(text: str) -> Filter:
    """Parse a SCIM filter (RFC 7644 §3.4.2.2) or raise ``InvalidFilter``.

    Results are cached: the same filter strings recur, and the nodes are frozen.
    """
    return _parse_filter(text)


# -- rendering -------------------------------------------------------------------


def render_filter(node: Filter) -> str:
    """Print ``node`` in SCIM filter syntax, strings JSON-escaped.

    ``parse_filter(render_filter(node)) == node`` for every well-formed tree, so
    code building queries from user data can render instead of formatting strings.
    A name that could not be parsed back raises ``ValueError``.
    """
    if isinstance(node, Compare):
        if node.op not in COMPARE_OPS:
            raise ValueError(f"unknown comparison operator {node.op!r}")
        return f"{_render_path(node.path)} {node.op} {render_value(node.value)}"
    if isinstance(node, Present):
        return f"{_render_path(node.path)} pr"
    if isinstance(node, Not):
        return f"not ({render_filter(node.operand)})"
    if isinstance(node, ValuePath):
        return f"{_render_path(node.path)}[{render_filter(node.filter)}]"
    if isinstance(node, And | Or):
        return _render_chain(node)
    raise TypeError(f"not a filter node: {node!r}")


def render_value(value: CompValue) -> str:
    """Print a comparison value as the JSON literal the grammar expects."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no JSON form")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"not a filter value: {value!r}")


def _render_path(path: AttrPath) -> str:
    text = str(path)
    problem, parsed = split_attr_path(text)
    if parsed != path:
        raise ValueError(f"cannot render attribute path {text!r}: {problem or 'ambiguous'}")
    return text


def _render_chain(node: And | Or) -> str:
    cls = type(node)
    word = " and " if cls is And else " or "
    items = _flatten(node, cls)
    if balanced(items, cls) == node:
        # The parser rebuilds exactly this shape from a flat chain.
        return word.join(_render_operand(item, cls) for item in items)
    return _render_operand(node.left, cls) + word + _render_operand(node.right, cls)


def _render_operand(node: Filter, parent: type[And] | type[Or]) -> str:
    text = render_filter(node)
    # A same-operator child must stay a unit; an "or" under "and" needs parentheses
    # because "and" binds tighter (§3.4.2.2 order of operations).
    if isinstance(node, parent) or (parent is And and isinstance(node, Or)):
        return f"({text})"
    return text


def _flatten(node: Filter, cls: type[And] | type[Or]) -> list[Filter]:
    items: list[Filter] = []
    stack: list[Filter] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cls):
            stack.append(current.right)
            stack.append(current.left)
        else:
            items.append(current)
    return items
