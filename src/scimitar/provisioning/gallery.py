"""The app gallery: presets an app is added from (tenant URLs, roles, default mappings).

``clarizen-one`` transcribes Microsoft's "Configure Clarizen One for automatic user
provisioning" tutorial (``shared/seed/clarizen-one-provisioning.txt``): its four
tenant URLs, its attribute table, and the roles its troubleshooting section calls
invalid. Those roles stay assignable on purpose: an administrator can make the
mistake the tutorial warns about, and the engine then reports Clarizen One's
refusal with that tutorial's explanation.

``generic-scim`` is Entra's non-gallery SCIM app ("customappsso"): the same user
and group mappings minus roles, because Entra maps no role for a custom SCIM app
until an administrator adds one with SingleAppRoleAssignment or
AppRoleAssignmentsComplex ("Provisioning a role to a SCIM app"). Any SCIM path
is a valid target, as Entra lets custom SCIM apps extend their attribute list.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Final, Literal

from scimitar.provisioning.mappings import Mapping, ObjectType
from scimitar.scim.resources import ENTERPRISE_USER_URN

DEFAULT_ACCESS: Final = "Default Access"
"""Entra's role for an assignment without a role; it does not entitle provisioning."""

AttributeType = Literal["String", "Boolean", "Integer", "DateTime", "Reference"]


@dataclass(frozen=True, slots=True)
class TargetAttribute:
    """An attribute the target application offers, with the type Entra shows for it."""

    name: str
    type: AttributeType = "String"


@dataclass(frozen=True, slots=True)
class GalleryApp:
    """A gallery entry: what a new app starts from."""

    key: str
    display_name: str
    # Named tenant URLs (Clarizen One's data centers); empty: the URL must be given.
    data_centers: MappingABC[str, str]
    # Assignable roles besides Default Access, which every app has.
    roles: tuple[str, ...]
    default_mappings: MappingABC[ObjectType, tuple[Mapping, ...]]
    # Per object type; None means any SCIM attribute path is accepted.
    target_attributes: MappingABC[ObjectType, tuple[TargetAttribute, ...]] | None = None
    # Roles the application is known to refuse, with the explanation to give.
    refused_roles: MappingABC[str, str] = field(default_factory=dict)

    def offered_targets(self, kind: ObjectType) -> tuple[str, ...] | None:
        """Return the target attribute names offered for ``kind``, or None for any path."""
        if self.target_attributes is None:
            return None
        return tuple(attribute.name for attribute in self.target_attributes[kind])


def _direct(target: str, source: str, precedence: int | None = None) -> Mapping:
    return Mapping(target, "direct", source, matching_precedence=precedence)


def _expression(target: str, source: str) -> Mapping:
    return Mapping(target, "expression", source)


def _enterprise(name: str) -> str:
    return f"{ENTERPRISE_USER_URN}:{name}"


# The user mappings the issue lists, in the tutorial's order.
_USER_MAPPINGS: Final = (
    _direct("userName", "userPrincipalName", precedence=1),
    _expression("active", 'Switch([IsSoftDeleted], , "False", "True", "True", "False")'),
    _direct("displayName", "displayName"),
    _direct("title", "jobTitle"),
    _direct('emails[type eq "work"].value', "mail"),
    _direct("preferredLanguage", "preferredLanguage"),
    _direct("name.givenName", "givenName"),
    _direct("name.familyName", "surname"),
    _expression("name.formatted", 'Join(" ", [givenName], [surname])'),
    _direct('addresses[type eq "work"].formatted', "physicalDeliveryOfficeName"),
    _direct('addresses[type eq "work"].streetAddress', "streetAddress"),
    _direct('addresses[type eq "work"].locality', "city"),
    _direct('addresses[type eq "work"].region', "state"),
    _direct('addresses[type eq "work"].postalCode', "postalCode"),
    _direct('addresses[type eq "work"].country', "country"),
    _direct('phoneNumbers[type eq "work"].value', "telephoneNumber"),
    _direct('phoneNumbers[type eq "mobile"].value', "mobile"),
    _direct('phoneNumbers[type eq "fax"].value', "facsimileTelephoneNumber"),
    _direct("externalId", "mailNickname"),
    _direct(_enterprise("employeeNumber"), "employeeId"),
    _direct(_enterprise("department"), "department"),
    _direct(_enterprise("manager"), "manager"),
)
_ROLE_MAPPING: Final = _expression(
    'roles[primary eq "True"].value', "SingleAppRoleAssignment([appRoleAssignments])"
)
_GROUP_MAPPINGS: Final = (
    _direct("displayName", "displayName", precedence=1),
    _direct("externalId", "objectId"),
    _direct("members", "members"),
)


def _attributes(*names: str, types: MappingABC[str, AttributeType]) -> tuple[TargetAttribute, ...]:
    return tuple(TargetAttribute(name, types.get(name, "String")) for name in names)


# The tutorial's user attribute table, every row once (it lists division twice).
# Its two role rows print the filter's bracket late, `roles[primary eq "True".value]`;
# they are written here in RFC 7644 form, and the alias is still accepted as input.
_CLARIZEN_USER_ATTRIBUTES: Final = _attributes(
    "userName",
    "displayName",
    "active",
    "title",
    'emails[type eq "work"].value',
    'emails[type eq "home"].value',
    'emails[type eq "other"].value',
    "preferredLanguage",
    "name.givenName",
    "name.familyName",
    "name.formatted",
    "name.honorificPrefix",
    "name.honorificSuffix",
    'addresses[type eq "other"].formatted',
    'addresses[type eq "work"].formatted',
    'addresses[type eq "work"].country',
    'addresses[type eq "work"].region',
    'addresses[type eq "work"].locality',
    'addresses[type eq "work"].postalCode',
    'addresses[type eq "work"].streetAddress',
    'phoneNumbers[type eq "work"].value',
    'phoneNumbers[type eq "mobile"].value',
    'phoneNumbers[type eq "fax"].value',
    'phoneNumbers[type eq "home"].value',
    'phoneNumbers[type eq "other"].value',
    'phoneNumbers[type eq "pager"].value',
    "externalId",
    "nickName",
    "locale",
    'roles[primary eq "True"].type',
    'roles[primary eq "True"].value',
    "timezone",
    "userType",
    _enterprise("department"),
    _enterprise("employeeNumber"),
    _enterprise("manager"),
    _enterprise("costCenter"),
    _enterprise("division"),
    types={"active": "Boolean", _enterprise("manager"): "Reference"},
)
_CLARIZEN_GROUP_ATTRIBUTES: Final = _attributes(
    "displayName", "externalId", "members", types={"members": "Reference"}
)

# The tutorial's troubleshooting section: "select only the User role. The following
# roles are invalid".
_CLARIZEN_INVALID_ROLES: Final = (
    "Administrator",
    "Email Reporting user",
    "External user",
    "Financial user",
    "Social user",
    "Superuser",
    "Time & Expense user",
)
_CLARIZEN_REFUSAL: Final = (
    "Clarizen One accepts only the User role; Microsoft's Clarizen One tutorial lists "
    "this role as invalid, so provisioning a user with it fails. Assign the User role instead."
)

CLARIZEN_ONE: Final = GalleryApp(
    key="clarizen-one",
    display_name="Clarizen One",
    data_centers={
        "us-prod": "https://servicesapp2.clarizen.com/scim/v2",
        "eu-prod": "https://serviceseu1.clarizen.com/scim/v2",
        "us-sandbox": "https://servicesapp.clarizentb.com/scim/v2",
        "eu-sandbox": "https://serviceseu.clarizentb.com/scim/v2",
    },
    roles=("User", *_CLARIZEN_INVALID_ROLES),
    default_mappings={"user": (*_USER_MAPPINGS, _ROLE_MAPPING), "group": _GROUP_MAPPINGS},
    target_attributes={"user": _CLARIZEN_USER_ATTRIBUTES, "group": _CLARIZEN_GROUP_ATTRIBUTES},
    refused_roles=dict.fromkeys(_CLARIZEN_INVALID_ROLES, _CLARIZEN_REFUSAL),
)

GENERIC_SCIM: Final = GalleryApp(
    key="generic-scim",
    display_name="Generic SCIM 2.0 app",
    data_centers={},
    roles=("User",),
    default_mappings={"user": _USER_MAPPINGS, "group": _GROUP_MAPPINGS},
)

GALLERY: Final[dict[str, GalleryApp]] = {app.key: app for app in (CLARIZEN_ONE, GENERIC_SCIM)}


class UnknownGalleryApp(ValueError):
    """No gallery entry has the given key."""


def gallery_app(key: str) -> GalleryApp:
    """Return the gallery entry ``key``, or raise ``UnknownGalleryApp`` naming the choices."""
    try:
        return GALLERY[key]
    except KeyError:
        raise UnknownGalleryApp(
            f"no gallery app {key!r}; the gallery has: {', '.join(sorted(GALLERY))}"
        ) from None
