"""PATCH paths (RFC 7644 §3.5.2), including the form Microsoft's Clarizen One tutorial prints."""

from __future__ import annotations

import pytest

from scimitar.scim.ast import And, AttrPath, Compare, Not, Or, PatchPath, Present
from scimitar.scim.errors import InvalidFilter, InvalidPath
from scimitar.scim.filter import MAX_LENGTH, parse_filter
from scimitar.scim.path import parse_path

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
WORK = Compare(AttrPath("type"), "eq", "work")
PRIMARY_TRUE = Compare(AttrPath("primary"), "eq", "True")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("displayName", PatchPath(AttrPath("displayName"))),
        ("name.givenName", PatchPath(AttrPath("name", "givenName"))),
        ('emails[type eq "work"]', PatchPath(AttrPath("emails"), WORK)),
        (
            'addresses[type eq "work"].streetAddress',
            PatchPath(AttrPath("addresses"), WORK, "streetAddress"),
        ),
        (f"{ENTERPRISE}:manager", PatchPath(AttrPath("manager", urn=ENTERPRISE))),
        (f"{ENTERPRISE}:employeeNumber", PatchPath(AttrPath("employeeNumber", urn=ENTERPRISE))),
        (f"{ENTERPRISE}:manager.value", PatchPath(AttrPath("manager", "value", ENTERPRISE))),
        (f"{CORE_USER}:name.givenName", PatchPath(AttrPath("name", "givenName", CORE_USER))),
        (
            f'{CORE_USER}:emails[type eq "work"].value',
            PatchPath(AttrPath("emails", urn=CORE_USER), WORK, "value"),
        ),
        # RFC 7644 §3.5.2.2 removes one member by value.
        (
            'members[value eq "2819c223-7f76-453a-919d-413861904646"]',
            PatchPath(
                AttrPath("members"),
                Compare(AttrPath("value"), "eq", "2819c223-7f76-453a-919d-413861904646"),
            ),
        ),
        (
            'members[value eq "x"].$ref',
            PatchPath(AttrPath("members"), Compare(AttrPath("value"), "eq", "x"), "$ref"),
        ),
        # The value filter is the full filter grammar: and/or/not/parentheses.
        (
            'emails[type eq "work" or (not (primary pr) and value ew ".org")].display',
            PatchPath(
                AttrPath("emails"),
                Or(
                    WORK,
                    And(
                        Not(Present(AttrPath("primary"))), Compare(AttrPath("value"), "ew", ".org")
                    ),
                ),
                "display",
            ),
        ),
        ('  emails[ type EQ "work" ] . value ', PatchPath(AttrPath("emails"), WORK, "value")),
    ],
)
def test_rfc_path_forms(text: str, expected: PatchPath) -> None:
    assert parse_path(text) == expected


@pytest.mark.parametrize("sub", ["value", "type"])
def test_clarizen_tutorial_form_puts_the_sub_attribute_inside_the_bracket(sub: str) -> None:
    # Microsoft's Clarizen One provisioning tutorial lists `roles[primary eq "True".value]`
    # and `roles[primary eq "True".type]` in its attribute table; they mean
    # `roles[primary eq "True"].value` / `.type`.
    alias = parse_path(f'roles[primary eq "True".{sub}]')
    assert alias == PatchPath(AttrPath("roles"), PRIMARY_TRUE, sub)
    assert alias == parse_path(f'roles[primary eq "True"].{sub}')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the path is empty"),
        (ENTERPRISE, "is a schema URN, not an attribute path"),
        (CORE_USER, "is a schema URN, not an attribute path"),
        (f"{ENTERPRISE}:", "is a schema URN, not an attribute path"),
        ('emails[type eq "work"', "missing ']' to close the '[' at position 7"),
        ('emails[type eq "work"].value.display', "expected a sub-attribute name after '].'"),
        ('emails[type eq "work"].', "at position 24 (end of input)"),
        ('name.givenName[type eq "work"]', "not the sub-attribute 'name.givenName'"),
        ('emails[type eq "work"] x', "unexpected text at position 24, found 'x'"),
        ('userName eq "x"', "unexpected text at position 10, found 'eq'"),
        ('emails[type eq "w" and x[y pr]]', "value filters cannot be nested"),
        ('roles[primary eq "True".value].type', "the sub-attribute is given twice"),
        ('roles[primary eq "True".value and type pr]', "may only come last, right before ']'"),
        ('emails[type eq "work]', "unterminated string starting at position 16"),
        ("emails[type eq]", "expected a value"),
        ("a.b.c", "more than one '.'"),
        ("1st", "malformed number at position 1"),
    ],
)
def test_errors_are_invalid_path_with_a_position(text: str, message: str) -> None:
    with pytest.raises(InvalidPath) as caught:
        parse_path(text)
    assert message in caught.value.detail
    assert caught.value.to_body()["scimType"] == "invalidPath"
    assert not isinstance(caught.value, InvalidFilter)


def test_clarizen_alias_is_not_accepted_in_filters() -> None:
    with pytest.raises(InvalidFilter) as caught:
        parse_filter('roles[primary eq "True".value]')
    assert "at position 24, found '.'" in caught.value.detail


def test_length_is_capped() -> None:
    with pytest.raises(InvalidPath, match="limit is 10000"):
        parse_path("a" * (MAX_LENGTH + 1))


def test_parsed_paths_are_cached_and_shared() -> None:
    text = 'emails[type eq "cache-me"].value'
    assert parse_path(text) is parse_path(text)
