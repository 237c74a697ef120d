"""The SCIM filter grammar: RFC 7644 §3.4.2.2 examples, precedence, values, errors, rendering."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from scimitar.scim.ast import (
    And,
    AttrPath,
    Compare,
    CompValue,
    Filter,
    Not,
    Or,
    Present,
    ValuePath,
)
from scimitar.scim.errors import InvalidFilter
from scimitar.scim.filter import MAX_DEPTH, MAX_LENGTH, parse_filter, render_filter

RFC_FILTERS = Path(__file__).parent / "data" / "rfc7644-3.4.2.2-filters.txt"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def p(attr: str, sub: str | None = None, urn: str | None = None) -> AttrPath:
    return AttrPath(attr, sub, urn)


def eq(attr: str, value: CompValue) -> Compare:
    return Compare(p(attr), "eq", value)


def rfc_examples() -> list[str]:
    return [line for line in RFC_FILTERS.read_text(encoding="utf-8").splitlines() if line]


# -- RFC 7644 §3.4.2.2 examples ---------------------------------------------------


def test_every_rfc_example_parses_and_round_trips() -> None:
    examples = rfc_examples()
    assert len(examples) == 17
    for text in examples:
        node = parse_filter(text)
        assert parse_filter(render_filter(node)) == node, text


RFC_ASTS: dict[str, Filter] = {
    'userName eq "bjensen"': eq("userName", "bjensen"),
    """name.familyName co "O'Malley\"""": Compare(p("name", "familyName"), "co", "O'Malley"),
    'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"': Compare(
        p("userName", urn=CORE_USER), "sw", "J"
    ),
    "title pr": Present(p("title")),
    'meta.lastModified gt "2011-05-13T04:42:34Z"': Compare(
        p("meta", "lastModified"), "gt", "2011-05-13T04:42:34Z"
    ),
    'title pr or userType eq "Intern"': Or(Present(p("title")), eq("userType", "Intern")),
    f'schemas eq "{ENTERPRISE}"': eq("schemas", ENTERPRISE),
    'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")': And(
        eq("userType", "Employee"),
        Or(
            Compare(p("emails"), "co", "example.com"),
            Compare(p("emails", "value"), "co", "example.org"),
        ),
    ),
    'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")': (
        And(
            Compare(p("userType"), "ne", "Employee"),
            Not(
                Or(
                    Compare(p("emails"), "co", "example.com"),
                    Compare(p("emails", "value"), "co", "example.org"),
                )
            ),
        )
    ),
    'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]': And(
        eq("userType", "Employee"),
        ValuePath(p("emails"), And(eq("type", "work"), Compare(p("value"), "co", "@example.com"))),
    ),
    (
        'emails[type eq "work" and value co "@example.com"] or '
        'ims[type eq "xmpp" and value co "@foo.com"]'
    ): Or(
        ValuePath(p("emails"), And(eq("type", "work"), Compare(p("value"), "co", "@example.com"))),
        ValuePath(p("ims"), And(eq("type", "xmpp"), Compare(p("value"), "co", "@foo.com"))),
    ),
}


@pytest.mark.parametrize(("text", "expected"), RFC_ASTS.items(), ids=list(range(len(RFC_ASTS))))
def test_rfc_example_ast(text: str, expected: Filter) -> None:
    assert text in rfc_examples()
    assert parse_filter(text) == expected


def test_rfc_examples_wrapped_over_lines_parse_the_same() -> None:
    # The RFC prints long examples across two lines; a newline is whitespace too.
    one_line = parse_filter('userType eq "Employee" and emails[type eq "work" and value co "@x"]')
    wrapped = parse_filter('userType eq "Employee" and emails[type eq "work" and\n  value co "@x"]')
    assert wrapped == one_line


# -- keywords, precedence, grouping -------------------------------------------------


def test_keywords_and_operators_are_case_insensitive() -> None:
    # RFC 7644 §3.4.2.2: `userName Eq "john"` and `Username eq "john"` mean the same.
    node = parse_filter('userName Eq "john" AND title PR Or NOT (x GE 3)')
    assert node == Or(
        And(eq("userName", "john"), Present(p("title"))),
        Not(Compare(p("x"), "ge", 3)),
    )
    assert parse_filter('Username eq "john"') == eq("Username", "john")


@pytest.mark.parametrize("op", ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"])
def test_every_comparison_operator(op: str) -> None:
    node = parse_filter(f'displayName {op.upper()} "x"')
    assert isinstance(node, Compare)
    assert node.op == op


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a pr or b pr and c pr", Or(Present(p("a")), And(Present(p("b")), Present(p("c"))))),
        ("a pr and b pr or c pr", Or(And(Present(p("a")), Present(p("b"))), Present(p("c")))),
        ("(a pr or b pr) and c pr", And(Or(Present(p("a")), Present(p("b"))), Present(p("c")))),
        ("not (a pr) and b pr", And(Not(Present(p("a"))), Present(p("b")))),
        ("not (a pr or b pr)", Not(Or(Present(p("a")), Present(p("b"))))),
        ("not(a pr)", Not(Present(p("a")))),
        ("((a pr))", Present(p("a"))),
        ("a pr and (b pr or c pr)", And(Present(p("a")), Or(Present(p("b")), Present(p("c"))))),
    ],
)
def test_and_binds_tighter_than_or(text: str, expected: Filter) -> None:
    assert parse_filter(text) == expected


def test_a_long_or_chain_stays_shallow_and_keeps_its_order() -> None:
    # Generated lookups (`id eq "1" or id eq "2" or ...`) must not build a tree so
    # deep that recursive walkers hit Python's recursion limit.
    terms = [f'id eq "{n}"' for n in range(600)]
    node = parse_filter(" or ".join(terms))

    def depth(n: Filter) -> int:
        if isinstance(n, And | Or):
            return 1 + max(depth(n.left), depth(n.right))
        return 1

    def leaves(n: Filter) -> list[Filter]:
        return leaves(n.left) + leaves(n.right) if isinstance(n, Or) else [n]

    assert depth(node) <= 11
    assert leaves(node) == [eq("id", str(n)) for n in range(600)]


def test_attribute_named_like_a_keyword_is_still_an_attribute() -> None:
    assert parse_filter('not eq "x"') == eq("not", "x")
    assert parse_filter("or pr and and pr") == And(Present(p("or")), Present(p("and")))


# -- attribute paths ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("userName pr", p("userName")),
        ("name.familyName pr", p("name", "familyName")),
        (f"{ENTERPRISE}:employeeNumber pr", p("employeeNumber", urn=ENTERPRISE)),
        (f"{ENTERPRISE}:manager.value pr", p("manager", "value", ENTERPRISE)),
        (f"{CORE_USER}:name.givenName pr", p("name", "givenName", CORE_USER)),
        ("members.$ref pr", p("members", "$ref")),
        ("$ref pr", p("$ref")),
        ("x-custom_attr9 pr", p("x-custom_attr9")),
    ],
)
def test_attribute_paths(text: str, path: AttrPath) -> None:
    assert parse_filter(text) == Present(path)


def test_whitespace_between_tokens_is_free() -> None:
    expected = And(eq("userName", "x"), ValuePath(p("emails"), eq("type", "work")))
    assert parse_filter('  userName   eq\t"x"   and emails[ type eq "work" ]  ') == expected
    assert parse_filter('userName eq"x" and emails[type eq "work"]') == expected


def test_entra_value_path_with_sub_attribute_reads_as_one_element() -> None:
    # Entra documents `emails[type eq "work"].value` as a matching attribute; as a
    # filter it means the same element has type "work" and that value.
    node = parse_filter('emails[type eq "work"].value eq "a@b.c"')
    assert node == ValuePath(p("emails"), And(eq("type", "work"), eq("value", "a@b.c")))
    assert parse_filter('emails[type eq "work"].value pr') == ValuePath(
        p("emails"), And(eq("type", "work"), Present(p("value")))
    )


# -- comparison values -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (r'"say \"hi\""', 'say "hi"'),
        (r'"C:\\path\\x"', "C:\\path\\x"),
        (r'"a\/b"', "a/b"),
        (r'"\b\f\n\r\t"', "\b\f\n\r\t"),
        (r'"Zo\u00EBe"', "Zoëe"),
        (r'"\ud83d\ude00"', "\U0001f600"),
        ('"Zoë 😀"', "Zoë 😀"),
        ('""', ""),
        ('"a or b pr) and ("', "a or b pr) and ("),
    ],
)
def test_string_values_use_json_escaping(literal: str, value: str) -> None:
    node = parse_filter(f"displayName eq {literal}")
    assert node == eq("displayName", value)
    assert parse_filter(render_filter(node)) == node


@pytest.mark.parametrize(
    ("literal", "value"),
    [("42", 42), ("-7", -7), ("0", 0), ("4.5", 4.5), ("1e3", 1000.0), ("-0.5E-2", -0.005)],
)
def test_numbers(literal: str, value: float) -> None:
    node = parse_filter(f"count gt {literal}")
    assert isinstance(node, Compare)
    assert node.value == value
    assert type(node.value) is type(value)


@pytest.mark.parametrize(
    ("literal", "value"),
    [("true", True), ("True", True), ("FALSE", False), ("false", False), ("null", None)],
)
def test_true_false_null_are_case_insensitive(literal: str, value: bool | None) -> None:
    node = parse_filter(f"active eq {literal}")
    assert isinstance(node, Compare)
    assert node.value is value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Microsoft's tutorial, "Example 1. Query the service for a matching user".
        ("externalId eq jyoung", eq("externalId", "jyoung")),
        (
            "userName eq j.young-2 and title pr",
            And(eq("userName", "j.young-2"), Present(p("title"))),
        ),
        ("emails[type eq work]", ValuePath(p("emails"), eq("type", "work"))),
        ("nickName eq Trueish", eq("nickName", "Trueish")),
    ],
)
def test_entra_unquoted_word_value_is_a_string(text: str, expected: Filter) -> None:
    node = parse_filter(text)
    assert node == expected
    # Rendering quotes it, and the quoted form parses to the same tree.
    assert '"' in render_filter(node)
    assert parse_filter(render_filter(node)) == node


# -- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "filter is empty"),
        ("   ", "filter is empty"),
        ('userName xx "a"', "expected a comparison operator after 'userName' at position 10"),
        ("userName", "expected a comparison operator after 'userName' at position 9"),
        ('userName regex "a"', "found 'regex'"),
        ("userName eq", "expected a value"),
        ("userName eq and x pr", "after 'eq' at position 13, found 'and'"),
        ("userName eq pr", "expected a value"),
        ('userName eq "x" and', "expected an attribute name after 'and' at position 20"),
        ("userName eq jyoung x", "expected 'and', 'or' or the end of the filter at position 20"),
        ('title pr "x"', "'pr' takes no value, but '\"x\"' follows it at position 10"),
        ("title pr true", "'pr' takes no value"),
        ("(title pr", "missing ')' to close the '(' at position 1"),
        ("title pr)", "')' at position 9 has no matching '('"),
        ('emails[type eq "w"', "missing ']' to close the '[' at position 7"),
        ('emails[type eq "w"]]', "']' at position 20 has no matching '['"),
        ('(emails[type eq "w")]', "expected 'and', 'or' or ']' at position 20, found ')'"),
        ('userName eq "abc', "unterminated string starting at position 13"),
        ("userName eq 'abc'", "at position 13: string values go in double quotes"),
        (r'userName eq "a\qb"', "invalid escape '\\\\q' in the string at position 15"),
        (r'userName eq "\u12"', "invalid escape"),
        (r'userName eq "\ud800"', "unpaired UTF-16 surrogate"),
        ("count eq 007", "malformed number at position 10"),
        ("count eq 1e999", "out of range"),
        ('emails[type eq "w" and x[y pr]]', "value filters cannot be nested: '[' at position 25"),
        ('emails[name.x eq "w"]', "inside 'emails[...]' name a sub-attribute"),
        ("name.givenName[x pr]", "not the sub-attribute 'name.givenName'"),
        ("not title pr", "'not' at position 1 must be followed by a filter in parentheses"),
        ("title pr and", "expected an attribute name after 'and' at position 13 (end of input)"),
        ("()", "expected an expression after '(' before ')' at position 2"),
        ("title pr userName pr", "expected 'and', 'or' or the end of the filter at position 10"),
        ('"x" eq userName', "expected an attribute name at position 1"),
        ("a.b.c pr", "more than one '.'"),
        ("name. pr", "expected a sub-attribute name after the '.'"),
        ("9lives pr", "malformed number at position 1"),
        (f"{CORE_USER} pr", "is a schema URN, not an attribute path"),
        (f"{ENTERPRISE}: pr", "is a schema URN, not an attribute path"),
        ("foo:bar pr", "'foo' is not a schema URN"),
        ("userName eq #", "unexpected character '#' at position 13"),
    ],
)
def test_errors_say_what_and_where(text: str, message: str) -> None:
    with pytest.raises(InvalidFilter) as caught:
        parse_filter(text)
    assert message in caught.value.detail
    assert caught.value.status == 400
    assert caught.value.to_body()["scimType"] == "invalidFilter"


def test_length_is_capped() -> None:
    padding = "x" * (MAX_LENGTH - len('a eq ""'))
    assert parse_filter(f'a eq "{padding}"') == eq("a", padding)
    with pytest.raises(InvalidFilter, match="limit is 10000"):
        parse_filter(f'a eq "{padding}x"')


def test_parenthesis_nesting_is_capped() -> None:
    ok = "(" * MAX_DEPTH + "a pr" + ")" * MAX_DEPTH
    assert parse_filter(ok) == Present(p("a"))
    deep = "(" * (MAX_DEPTH + 1) + "a pr" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(InvalidFilter, match="nests deeper than 50 levels"):
        parse_filter(deep)


def test_hostile_nesting_fails_cleanly_not_with_recursion_error() -> None:
    with pytest.raises(InvalidFilter, match="nests deeper"):
        parse_filter("(" * 4000 + "a pr" + ")" * 4000)
    with pytest.raises(InvalidFilter, match="nests deeper"):
        parse_filter("not (" * 1500 + "a pr" + ")" * 1500)


def test_tree_depth_is_capped_too() -> None:
    # 26 nested `not (x pr and ...)` levels: the parentheses are within the limit
    # but the tree (Not + And per level) is over it.
    text = "a pr"
    for _ in range(26):
        text = f"not (b pr and {text})"
    with pytest.raises(InvalidFilter, match="levels of and/or/not"):
        parse_filter(text)


def test_parsed_filters_are_cached_and_shared() -> None:
    text = 'userName eq "cache-me"'
    assert parse_filter(text) is parse_filter(text)


# -- rendering ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "node",
    [
        eq("userName", 'a" or userName pr or "'),
        Compare(p("x"), "ne", None),
        Compare(p("x"), "gt", -1.5e-7),
        Compare(p("x"), "le", 10**30),
        Compare(p("employeeNumber", urn=ENTERPRISE), "sw", "7"),
        And(And(Present(p("a")), Present(p("b"))), Present(p("c"))),
        Or(Or(Present(p("a")), Present(p("b"))), Or(Present(p("c")), Present(p("d")))),
        And(Or(Present(p("a")), Present(p("b"))), Present(p("c"))),
        Or(And(Present(p("a")), Present(p("b"))), Not(Or(Present(p("c")), Present(p("d"))))),
        ValuePath(p("emails"), Or(eq("type", "work"), Not(Present(p("primary"))))),
    ],
)
def test_render_round_trips(node: Filter) -> None:
    text = render_filter(node)
    assert parse_filter(text) == node
    assert render_filter(parse_filter(text)) == text


def test_render_quotes_hostile_values_so_they_stay_values() -> None:
    hostile = 'x") or (userName pr'
    text = render_filter(eq("userName", hostile))
    assert text == 'userName eq "x\\") or (userName pr"'
    assert parse_filter(text) == eq("userName", hostile)


@pytest.mark.parametrize(
    "path", [p("user name"), p("a", "b.c"), p("x", urn="no-colon"), p("1st"), p("a", "")]
)
def test_render_refuses_paths_that_would_not_parse_back(path: AttrPath) -> None:
    with pytest.raises(ValueError, match="cannot render attribute path"):
        render_filter(Present(path))


def test_render_refuses_non_finite_numbers() -> None:
    with pytest.raises(ValueError, match="no JSON form"):
        render_filter(Compare(p("x"), "gt", float("inf")))


class _RandomFilters:
    """Random well-formed trees, for a render/parse property check (no hypothesis here)."""

    NAMES = ("userName", "title", "x-1", "a_b", "$ref", "emails", "value", "type")
    CHARS = ('a', 'Z', ' ', '"', '\\', '/', '\n', '\t', '\x00', '\x1f', 'é', '😀', '\u2028',
             ']', ')', '[', '(', 'and', ' or ', 'pr')  # fmt: skip

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def value(self) -> CompValue:
        rng = self.rng
        kind = rng.randrange(6)
        if kind == 0:
            return "".join(rng.choice(self.CHARS) for _ in range(rng.randrange(8)))
        if kind == 1:
            return rng.randint(-(10**12), 10**12)
        if kind == 2:
            return rng.uniform(-1e6, 1e6) * 10.0 ** rng.randint(-300, 300)
        if kind == 3:
            return rng.random() < 0.5
        if kind == 4:
            return None
        return rng.choice(["", "bjensen", "2011-05-13T04:42:34Z"])

    def path(self, relative: bool) -> AttrPath:
        rng = self.rng
        attr = rng.choice(self.NAMES)
        if relative:
            return AttrPath(attr)
        sub = rng.choice([None, None, "value", "familyName"])
        urn = rng.choice([None, None, ENTERPRISE, CORE_USER])
        return AttrPath(attr, sub, urn)

    def node(self, depth: int, in_brackets: bool = False) -> Filter:
        rng = self.rng
        choice = rng.randrange(7 if depth > 0 else 2)
        if choice == 0:
            op = rng.choice(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"])
            return Compare(self.path(in_brackets), op, self.value())  # type: ignore[arg-type]
        if choice == 1:
            return Present(self.path(in_brackets))
        if choice in (2, 3):
            cls = And if choice == 2 else Or
            return cls(self.node(depth - 1, in_brackets), self.node(depth - 1, in_brackets))
        if choice == 4:
            return Not(self.node(depth - 1, in_brackets))
        if in_brackets:
            return self.node(depth - 1, in_brackets)
        return ValuePath(AttrPath(self.rng.choice(self.NAMES)), self.node(depth - 1, True))


@pytest.mark.parametrize("seed", range(5))
def test_render_then_parse_is_identity_on_random_trees(seed: int) -> None:
    generator = _RandomFilters(seed)
    for _ in range(200):
        node = generator.node(depth=5)
        text = render_filter(node)
        assert parse_filter(text) == node, text
        # == treats True and 1 alike; the text shows the type, so compare it too.
        assert render_filter(parse_filter(text)) == text
