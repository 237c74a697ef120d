"""In-memory filter evaluation with RFC 7644 §3.4.2.2 semantics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scimitar.scim.ast import AttrPath, Compare, Present, ValuePath
from scimitar.scim.errors import InvalidFilter
from scimitar.scim.evaluate import (
    compile_element_filter,
    compile_filter,
    element_matches,
    resource_matches,
)
from scimitar.scim.filter import parse_filter
from scimitar.scim.path import parse_path
from scimitar.scim.schema import Attribute, ResourceType, Schema

CORE = "urn:ietf:params:scim:schemas:core:2.0:Person"
EXT = "urn:ietf:params:scim:schemas:extension:test:2.0:Person"

EMAILS = Attribute(
    "emails",
    type="complex",
    multi_valued=True,
    sub_attributes=(
        Attribute("value"),
        Attribute("type"),
        Attribute("primary", type="boolean"),
    ),
)
TAGS = Attribute("tags", multi_valued=True)
PERSON = Schema(
    CORE,
    "Person",
    "A test person",
    (
        Attribute("userName"),
        Attribute("code", case_exact=True),
        Attribute("title"),
        Attribute("active", type="boolean"),
        Attribute("age", type="integer"),
        Attribute("score", type="decimal"),
        Attribute("born", type="dateTime"),
        Attribute("photo", type="binary", case_exact=True),
        Attribute("profileUrl", type="reference", reference_types=("external",)),
        Attribute(
            "name",
            type="complex",
            sub_attributes=(Attribute("givenName"), Attribute("familyName")),
        ),
        EMAILS,
        Attribute(
            "addresses",
            type="complex",
            multi_valued=True,
            sub_attributes=(Attribute("type"), Attribute("streetAddress")),
        ),
        TAGS,
        Attribute("luckyNumbers", type="integer", multi_valued=True),
    ),
)
PERSON_EXT = Schema(
    EXT,
    "PersonExtra",
    "A test extension",
    (
        Attribute("employeeNumber"),
        Attribute("manager", type="complex", sub_attributes=(Attribute("value"),)),
    ),
)
PERSON_TYPE = ResourceType("Person", "/People", "Test people", PERSON, ((PERSON_EXT, False),))

BJENSEN: dict[str, Any] = {
    "schemas": [CORE, EXT],
    "userName": "bjensen",
    "code": "AbC",
    "title": "Tour Guide",
    "active": True,
    "age": 42,
    "score": 7.5,
    "born": "1980-05-13T04:42:34Z",
    "photo": "aGVsbG8=",
    "profileUrl": "https://Example.com/bjensen",
    "name": {"givenName": "Barbara", "familyName": "O'Malley"},
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza"}],
    "tags": ["blue", "Green"],
    "luckyNumbers": [3, 17],
    EXT: {"employeeNumber": "701984", "manager": {"value": "26118915"}},
}


def matches(text: str, resource: dict[str, Any] | None = None) -> bool:
    return resource_matches(
        PERSON_TYPE, BJENSEN if resource is None else resource, parse_filter(text)
    )


def rejects(text: str, message: str) -> None:
    with pytest.raises(InvalidFilter) as caught:
        matches(text)
    assert message in caught.value.detail
    # The same error whatever the data: compiling checks every path and type first.
    with pytest.raises(InvalidFilter):
        matches(text, {})


# -- strings and case-exactness ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('userName eq "bjensen"', True),
        ('userName eq "BJensen"', True),  # caseExact false: compared case-insensitively
        ('userName ne "BJENSEN"', False),
        ('userName ne "someone"', True),
        ('userName co "JENS"', True),
        ('userName sw "BJ"', True),
        ('userName sw "jensen"', False),
        ('userName ew "SEN"', True),
        ('userName ew "bjen"', False),
        ('userName gt "BA"', True),
        ('userName gt "BK"', False),
        ('userName ge "BJENSEN"', True),
        ('userName lt "c"', True),
        ('userName le "BJENSEN"', True),
        ('userName le "bjense"', False),
        ('code eq "AbC"', True),
        ('code eq "abc"', False),  # caseExact true
        ('code ne "abc"', True),
        ('code co "bC"', True),
        ('code co "BC"', False),
        ('code sw "Ab"', True),
        ('code ew "c"', False),
        ('code gt "AbB"', True),
        ('code lt "ABC"', False),  # "a" (0x61) sorts after "B" (0x42) when case matters
        ('profileUrl sw "https://example.COM"', True),  # reference, caseExact false here
        ('name.familyName co "o\'malley"', True),
        ('name.givenName eq "Barb"', False),
        ('NAME.GIVENNAME eq "barbara"', True),  # attribute names are case-insensitive
    ],
)
def test_string_operators(text: str, expected: bool) -> None:
    assert matches(text) is expected


def test_case_insensitive_comparison_uses_casefold() -> None:
    resource = {"userName": "Straße"}
    assert matches('userName eq "STRASSE"', resource)
    assert matches('userName sw "strass"', resource)


def test_string_attribute_rejects_non_string_values() -> None:
    rejects("userName eq 5", "'userName' is a string; compare it with a quoted string")
    rejects("userName co true", "quoted string")


def test_binary_supports_equality_only() -> None:
    assert matches('photo eq "aGVsbG8="')
    assert not matches('photo eq "AGVSBG8="')
    rejects('photo gt "a"', "'gt' does not apply to the binary attribute 'photo'")
    rejects('photo co "a"', "use eq or ne")


# -- booleans, numbers, dateTimes --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stored", "expected"),
    [
        ("active eq true", True, True),
        ("active eq false", True, False),
        ("active ne false", True, True),
        ("active eq TRUE", True, True),
        # Entra sends booleans as strings ("True"): lenient on either side.
        ('active eq "True"', True, True),
        ('active eq "true"', True, True),
        ('active eq "False"', True, False),
        ("active eq true", "True", True),
        ("active eq false", "False", True),
        ("active eq true", "yes", False),
        ("active ne true", "yes", True),
    ],
)
def test_boolean_equality(text: str, stored: object, expected: bool) -> None:
    assert matches(text, {"active": stored}) is expected


@pytest.mark.parametrize("op", ["gt", "ge", "lt", "le", "co", "sw", "ew"])
def test_boolean_ordering_and_substrings_are_invalid(op: str) -> None:
    # RFC 7644 §3.4.2.2: gt/ge/lt/le on Boolean attributes SHALL fail with invalidFilter.
    rejects(f"active {op} true", f"'{op}' does not apply to the boolean attribute 'active'")


def test_boolean_needs_a_boolean_value() -> None:
    rejects('active eq "yes"', "'active' is a boolean; compare it with true or false")
    # Compiled filters are cached; 1 == True in Python must not let "eq 1" reuse
    # the predicate compiled for "eq true".
    assert matches("active eq true")
    with pytest.raises(InvalidFilter, match="compare it with true or false"):
        resource_matches(PERSON_TYPE, BJENSEN, Compare(AttrPath("active"), "eq", 1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("age eq 42", True),
        ("age eq 42.0", True),
        ("age ne 42", False),
        ("age gt 41", True),
        ("age gt 42", False),
        ("age ge 42", True),
        ("age lt 42.5", True),
        ("age le 41", False),
        ("score gt 7", True),
        ("score eq 7.5", True),
        ("score lt 7.5e0", False),
        ("luckyNumbers gt 10", True),  # any element
        ("luckyNumbers eq 4", False),
    ],
)
def test_numbers(text: str, expected: bool) -> None:
    assert matches(text) is expected


def test_numbers_reject_strings_and_substring_operators() -> None:
    rejects('age eq "42"', "'age' is an integer; compare it with a number")
    rejects("age eq true", "compare it with a number")
    rejects("score co 7", "'co' applies to strings; 'score' is an decimal")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('born eq "1980-05-13T04:42:34Z"', True),
        ('born eq "1980-05-13T06:42:34+02:00"', True),  # same instant, other offset
        ('born eq "1980-05-13T04:42:34"', True),  # no offset: taken as UTC
        ('born ne "1980-05-13T04:42:34.000Z"', False),
        ('born gt "1980-05-13T04:42:33Z"', True),
        ('born gt "1980-05-13T05:42:34+02:00"', True),  # 03:42:34Z: earlier as an instant
        ('born ge "1980-05-13T04:42:34Z"', True),
        ('born lt "1980-05-13T04:42:34.5Z"', True),
        ('born le "1980-05-12"', False),
    ],
)
def test_datetimes_compare_as_instants(text: str, expected: bool) -> None:
    assert matches(text) is expected


def test_datetime_rejects_non_dates_and_substrings() -> None:
    rejects('born gt "yesterday"', "'born' is a dateTime; compare it with an ISO 8601 string")
    rejects("born gt 5", "ISO 8601")
    rejects('born sw "1980"', "'sw' does not apply to the dateTime attribute 'born'")


def test_unparseable_stored_datetime_matches_only_ne() -> None:
    resource = {"born": "not a date"}
    assert not matches('born lt "2100-01-01T00:00:00Z"', resource)
    assert matches('born ne "2100-01-01T00:00:00Z"', resource)


# -- presence, absence, null ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"title": "Boss"}, True),
        ({"title": " "}, True),
        ({}, False),
        ({"title": None}, False),
        ({"title": ""}, False),
    ],
)
def test_pr_on_simple_values(resource: dict[str, Any], expected: bool) -> None:
    assert matches("title pr", resource) is expected


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"emails": [{"value": "a@b.c"}]}, True),
        ({"emails": [{"type": "work"}]}, True),  # a non-empty node of a complex value
        ({"emails": []}, False),
        ({"emails": [{}]}, False),
        ({"emails": [{"value": "", "type": None}]}, False),
        ({"name": {"givenName": ""}}, False),
    ],
)
def test_pr_on_complex_and_multi_valued(resource: dict[str, Any], expected: bool) -> None:
    attribute = "emails" if "emails" in resource else "name"
    assert matches(f"{attribute} pr", resource) is expected


def test_pr_on_sub_attributes() -> None:
    assert matches("name.givenName pr")
    assert matches("emails.primary pr")
    assert not matches("emails.primary pr", {"emails": [{"value": "x"}]})


def test_ne_on_a_missing_attribute_is_true() -> None:
    assert matches('title ne "x"', {})
    assert matches('emails.type ne "work"', {"emails": []})
    assert matches("age ne 3", {"age": None})
    assert not matches('title eq "x"', {})


def test_null_means_absent() -> None:
    assert matches("title eq null", {})
    assert not matches("title eq null")
    assert matches("title ne null")
    assert not matches("title ne null", {"title": ""})
    rejects("title gt null", "'gt' cannot compare 'title' with null")


# -- complex and multi-valued attributes ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # §3.4.2.2: a multi-valued attribute matches if any value does.
        ('emails co "jensen.org"', True),  # compared through the "value" sub-attribute
        ('emails eq "BJENSEN@example.com"', True),
        ('emails.value ew ".org"', True),
        ('emails.type eq "home"', True),
        ('emails.type eq "other"', False),
        ("emails.primary eq true", True),
        ('tags eq "green"', True),
        ('tags sw "b"', True),
        ('tags eq "red"', False),
        # any element differs, so "ne" matches (the RFC's any-value reading)
        ('tags ne "blue"', True),
        ("luckyNumbers ne 3", True),
    ],
)
def test_multi_valued_any_element(text: str, expected: bool) -> None:
    assert matches(text) is expected


def test_ne_on_multi_valued_needs_one_differing_element() -> None:
    assert not matches('tags ne "BLUE"', {"tags": ["blue"]})
    assert matches('tags ne "BLUE"', {"tags": ["blue", "red"]})


def test_complex_without_sub_attribute_cannot_be_compared() -> None:
    rejects('name eq "Barbara"', "'name' is complex; filter on one of its sub-attributes")
    # A multi-valued complex attribute without a "value" sub-attribute has nothing
    # to compare implicitly.
    rejects('addresses eq "x"', "'addresses' is complex")


def test_value_path_conditions_hold_for_one_element() -> None:
    assert matches('emails[type eq "work" and value co "@example.com"]')
    assert matches('emails[type eq "work" and primary eq true]')
    # Each half matches some email, but no single email matches both.
    assert not matches('emails[type eq "work" and value ew ".org"]')
    assert matches('emails[type eq "work"] and emails[value ew ".org"]')
    assert matches('emails[not (type eq "work")]')
    assert not matches('emails[type eq "work"]', {"emails": []})
    assert not matches('emails[type eq "work"]', {})


def test_value_path_on_simple_multi_valued_uses_value() -> None:
    assert matches('tags[value eq "GREEN"]')
    assert not matches('tags[value eq "red"]')
    rejects('tags[type eq "x"]', "'tags' holds simple values; inside '[...]' call each one 'value'")


def test_value_path_errors() -> None:
    rejects('emails[kind eq "work"]', "'emails' has no sub-attribute 'kind'")
    rejects('userName[value eq "x"]', "'userName' holds a single string")
    with pytest.raises(InvalidFilter, match="value filters cannot be nested"):
        resource_matches(
            PERSON_TYPE,
            BJENSEN,
            ValuePath(AttrPath("emails"), ValuePath(AttrPath("tags"), Present(AttrPath("value")))),
        )


def test_value_path_on_a_single_complex_attribute() -> None:
    assert matches('name[givenName eq "barbara" and familyName pr]')


# -- schemas, extensions, resolution -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('employeeNumber eq "701984"', True),
        (f'{EXT}:employeeNumber eq "701984"', True),
        (f'{EXT}:manager.value eq "26118915"', True),
        ('manager.value eq "nobody"', False),
        # A single complex value with a "value" compares through it, as Entra ID's
        # `manager eq "<id>"` expects (tutorial, "Example 4").
        ('manager eq "26118915"', True),
        (f'{EXT}:manager eq "nobody"', False),
        ('manager ne "nobody"', True),
        (f'{CORE}:userName eq "bjensen"', True),
        (f'{CORE}:name.familyName sw "o\'"', True),
    ],
)
def test_urn_prefixed_and_extension_attributes(text: str, expected: bool) -> None:
    assert matches(text) is expected


def test_extension_missing_or_keyed_in_another_case() -> None:
    assert not matches('employeeNumber eq "701984"', {"userName": "x"})
    assert matches('employeeNumber ne "701984"', {"userName": "x"})
    resource = {EXT.upper(): {"EmployeeNumber": "701984"}}
    assert matches('employeeNumber eq "701984"', resource)


def test_resource_keys_match_case_insensitively() -> None:
    assert matches('username eq "x"', {"USERNAME": "x"})


def test_schemas_attribute_filters_by_schema() -> None:
    # RFC 7644 §3.4.2.2: "Clients MAY query by schema or schema extensions".
    assert matches(f'schemas eq "{EXT}"')
    assert matches(f'schemas eq "{EXT.upper()}"')
    assert not matches(f'schemas eq "{EXT}"', {"schemas": [CORE]})


def test_unknown_attributes_are_invalid_filters() -> None:
    rejects('nickName eq "x"', "cannot filter Person resources on 'nickName'")
    rejects('name.middleName eq "x"', "has no sub-attribute 'middleName'")
    rejects(
        'urn:ietf:params:scim:schemas:extension:other:2.0:Person:x eq "y"',
        "unknown schema URN",
    )


def test_errors_do_not_depend_on_short_circuiting() -> None:
    # The left side matches, yet the invalid right side still fails the filter.
    rejects('userName eq "bjensen" or active gt true', "'gt' does not apply to the boolean")


def test_compiled_filter_tests_many_resources() -> None:
    people = [{"userName": f"user{n}", "age": n} for n in range(10)]
    older = compile_filter(PERSON_TYPE, parse_filter('age ge 7 or userName eq "USER0"'))
    assert [person["userName"] for person in people if older(person)] == [
        "user0",
        "user7",
        "user8",
        "user9",
    ]
    assert compile_filter(PERSON_TYPE, parse_filter("age ge 7")) is compile_filter(
        PERSON_TYPE, parse_filter("age ge 7")
    )


def test_a_long_generated_or_chain_evaluates() -> None:
    text = " or ".join(f"age eq {n}" for n in range(650))
    assert matches(text, {"age": 649})
    assert not matches(text, {"age": 650})


# -- element_matches ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "element", "expected"),
    [
        ('type eq "work" and primary eq true', {"type": "Work", "primary": True}, True),
        ('type eq "work" and primary eq true', {"type": "work", "primary": False}, False),
        ('type eq "work" or value co "@x"', {"value": "a@x.org"}, True),
        ("not (primary pr)", {"value": "a"}, True),
        ('TYPE eq "home"', {"type": "home"}, True),
        ('value eq "a"', "not a dict", False),
    ],
)
def test_element_matches_complex(text: str, element: object, expected: bool) -> None:
    assert element_matches(EMAILS, element, parse_filter(text)) is expected


def test_element_matches_simple_multi_valued() -> None:
    assert element_matches(TAGS, "Blue", parse_filter('value eq "blue"'))
    assert not element_matches(TAGS, "Blue", parse_filter('value ew "x"'))
    with pytest.raises(InvalidFilter, match="call each one 'value'"):
        element_matches(TAGS, "Blue", parse_filter('display eq "blue"'))


def test_element_matches_errors() -> None:
    with pytest.raises(InvalidFilter, match="'emails' has no sub-attribute 'kind'"):
        element_matches(EMAILS, {}, parse_filter('kind eq "x"'))
    with pytest.raises(InvalidFilter, match="name a sub-attribute on its own"):
        element_matches(EMAILS, {}, Compare(AttrPath("type", "x"), "eq", "y"))
    with pytest.raises(InvalidFilter, match="value filters cannot be nested"):
        element_matches(EMAILS, {}, ValuePath(AttrPath("type"), Present(AttrPath("value"))))
    with pytest.raises(InvalidFilter, match=r"'gt' does not apply to the boolean attribute"):
        element_matches(EMAILS, {}, parse_filter("primary gt true"))


def test_clarizen_role_path_filter_matches_entra_string_booleans() -> None:
    # The Clarizen One tutorial's `roles[primary eq "True".value]`; Entra may store
    # the flag as the string "True" or as JSON true.
    roles = Attribute(
        "roles",
        type="complex",
        multi_valued=True,
        sub_attributes=(Attribute("value"), Attribute("primary", type="boolean")),
    )
    path = parse_path('roles[primary eq "True".value]')
    assert path.value_filter is not None
    primary = compile_element_filter(roles, path.value_filter)
    assert primary({"value": "User", "primary": "True"})
    assert primary({"value": "User", "primary": True})
    assert not primary({"value": "User", "primary": False})
    assert not primary({"value": "User"})


# -- the real User resource type ----------------------------------------------------------


def test_rfc_examples_against_the_user_resource_type() -> None:
    from scimitar.scim.resources import ENTERPRISE_USER_URN, USER, USER_URN

    user: dict[str, Any] = {
        "schemas": [USER_URN, ENTERPRISE_USER_URN],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "userName": "bjensen",
        "name": {"familyName": "O'Malley", "givenName": "Barbara"},
        "title": "Tour Guide",
        "userType": "Employee",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ],
        "meta": {"created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"},
        ENTERPRISE_USER_URN: {"employeeNumber": "701984", "manager": {"value": "26118915"}},
    }
    lines = (Path(__file__).parent / "data" / "rfc7644-3.4.2.2-filters.txt").read_text("utf-8")
    results = {
        text: resource_matches(USER, user, parse_filter(text))
        for text in lines.splitlines()
        if text
    }
    assert [text for text, matched in results.items() if not matched] == [
        'userName sw "J"',
        'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"',
        'meta.lastModified gt "2011-05-13T04:42:34Z"',
        'meta.lastModified lt "2011-05-13T04:42:34Z"',
        'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
    ]
    assert resource_matches(
        USER, user, parse_filter('id eq "2819c223-7f76-453a-919d-413861904646"')
    )
    assert resource_matches(USER, user, parse_filter('manager.value eq "26118915"'))
