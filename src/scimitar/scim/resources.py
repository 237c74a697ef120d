"""The User, Group and EnterpriseUser schemas and their resource types (RFC 7643 §4, §8.7.1).

Characteristics are transcribed from the full schema representation in RFC 7643
§8.7.1, including its quirks (``groups.$ref`` naming both User and Group, the
``display`` sub-attributes marked readWrite although described as READ-ONLY).
The few departures are deliberate and commented where they are made.
"""

from __future__ import annotations

from scimitar.scim.schema import (
    Attribute,
    Mutability,
    ResourceType,
    Returned,
    Schema,
    Uniqueness,
)

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

# RFC 7643 §3.1: common attributes belong to every resource but to no schema, so
# /Schemas does not list them; resolve() finds them through ResourceType.common.
COMMON_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(
        "id",
        description="A unique identifier for a SCIM resource as defined by the service provider.",
        case_exact=True,
        mutability="readOnly",
        returned="always",
        uniqueness="server",
    ),
    Attribute(
        "externalId",
        description="A String that is an identifier for the resource as defined by the client.",
        case_exact=True,
    ),
    Attribute(
        "meta",
        type="complex",
        description="A complex attribute containing resource metadata.",
        mutability="readOnly",
        sub_attributes=(
            Attribute(
                "resourceType",
                description="The name of the resource type of the resource.",
                case_exact=True,
                mutability="readOnly",
            ),
            Attribute(
                "created",
                type="dateTime",
                description="The DateTime that the resource was added to the service provider.",
                mutability="readOnly",
            ),
            Attribute(
                "lastModified",
                type="dateTime",
                description="The most recent DateTime the details of this resource were updated.",
                mutability="readOnly",
            ),
            Attribute(
                "location",
                type="reference",
                description="The URI of the resource being returned.",
                case_exact=True,
                mutability="readOnly",
                reference_types=("uri",),
            ),
            Attribute(
                "version",
                description="The version of the resource being returned (its ETag).",
                case_exact=True,
                mutability="readOnly",
            ),
        ),
    ),
)


def _string(
    name: str,
    description: str,
    *,
    required: bool = False,
    case_exact: bool = False,
    mutability: Mutability = "readWrite",
    returned: Returned = "default",
    uniqueness: Uniqueness = "none",
    canonical_values: tuple[str, ...] = (),
) -> Attribute:
    """Return a single-valued string attribute (case-insensitive, readWrite unless told)."""
    return Attribute(
        name,
        description=description,
        required=required,
        case_exact=case_exact,
        mutability=mutability,
        returned=returned,
        uniqueness=uniqueness,
        canonical_values=canonical_values,
    )


def _primary(example: str = "") -> Attribute:
    detail = f", e.g., {example}" if example else ""
    return Attribute(
        "primary",
        type="boolean",
        description=(
            "A Boolean value indicating the 'primary' or preferred attribute value for this "
            f"attribute{detail}. The primary attribute value 'true' MUST appear no more than once."
        ),
    )


def _display() -> Attribute:
    # RFC 7643 §8.7.1 describes these as READ-ONLY but declares them readWrite; we keep the
    # declared characteristic so clients that send them are not surprised.
    return _string("display", "A human-readable name, primarily used for display purposes.")


def _type(example: str, canonical: tuple[str, ...] = ()) -> Attribute:
    return _string(
        "type",
        f"A label indicating the attribute's function{example}.",
        canonical_values=canonical,
    )


def _plural(
    name: str, description: str, value: Attribute, type_: Attribute, primary: Attribute
) -> Attribute:
    """Return a multi-valued complex attribute with value/display/type/primary (§2.4)."""
    return Attribute(
        name,
        type="complex",
        multi_valued=True,
        description=description,
        sub_attributes=(value, _display(), type_, primary),
    )


_NAME = Attribute(
    "name",
    type="complex",
    description="The components of the user's real name.",
    sub_attributes=(
        _string(
            "formatted", "The full name, formatted for display (e.g., 'Ms. Barbara J Jensen, III')."
        ),
        _string(
            "familyName", "The family name of the User, or last name in most Western languages."
        ),
        _string(
            "givenName", "The given name of the User, or first name in most Western languages."
        ),
        _string("middleName", "The middle name(s) of the User."),
        _string("honorificPrefix", "The honorific prefix(es) of the User (e.g., 'Ms.')."),
        _string("honorificSuffix", "The honorific suffix(es) of the User (e.g., 'III')."),
    ),
)

_ADDRESSES = Attribute(
    "addresses",
    type="complex",
    multi_valued=True,
    description="A physical mailing address for this User. Canonical type values of 'work', "
    "'home', and 'other'.",
    sub_attributes=(
        _string("formatted", "The full mailing address, formatted for display or a mailing label."),
        _string("streetAddress", "The full street address component."),
        _string("locality", "The city or locality component."),
        _string("region", "The state or region component."),
        _string("postalCode", "The zip code or postal code component."),
        _string("country", "The country name component."),
        _type(", e.g., 'work' or 'home'", ("work", "home", "other")),
        # §8.7.1 omits it, but §4.1.2 and §2.4 give every multi-valued attribute a
        # primary flag and clients (Entra ID among them) send addresses[].primary.
        _primary("the preferred mailing address"),
    ),
)

_GROUPS = Attribute(
    "groups",
    type="complex",
    multi_valued=True,
    description="A list of groups to which the user belongs, either through direct membership, "
    "through nested groups, or dynamically calculated.",
    mutability="readOnly",
    sub_attributes=(
        _string("value", "The identifier of the User's group.", mutability="readOnly"),
        Attribute(
            "$ref",
            type="reference",
            description="The URI of the corresponding 'Group' resource to which the user belongs.",
            mutability="readOnly",
            reference_types=("User", "Group"),
        ),
        _string(
            "display",
            "A human-readable name, primarily used for display purposes.",
            mutability="readOnly",
        ),
        _string(
            "type",
            "A label indicating the attribute's function, e.g., 'direct' or 'indirect'.",
            canonical_values=("direct", "indirect"),
            mutability="readOnly",
        ),
    ),
)

USER_SCHEMA = Schema(
    id=USER_URN,
    name="User",
    description="User Account",
    attributes=(
        _string(
            "userName",
            "Unique identifier for the User, typically used by the user to directly "
            "authenticate to the service provider. REQUIRED.",
            required=True,
            uniqueness="server",
        ),
        _NAME,
        _string("displayName", "The name of the User, suitable for display to end-users."),
        _string("nickName", "The casual way to address the user in real life, e.g., 'Bob'."),
        Attribute(
            "profileUrl",
            type="reference",
            description="A fully qualified URL to a page representing the User's online profile.",
            reference_types=("external",),
        ),
        _string("title", 'The user\'s title, such as "Vice President."'),
        _string(
            "userType", "Used to identify the relationship between the organization and the user."
        ),
        _string("preferredLanguage", "Indicates the User's preferred written or spoken language."),
        _string("locale", "Used to indicate the User's default location for localization."),
        _string("timezone", "The User's time zone in the 'Olson' time zone database format."),
        Attribute(
            "active",
            type="boolean",
            description="A Boolean value indicating the User's administrative status.",
        ),
        _string(
            "password",
            "The User's cleartext password, to set an initial password or reset it.",
            mutability="writeOnly",
            returned="never",
        ),
        _plural(
            "emails",
            "Email addresses for the user. Canonical type values of 'work', 'home', and 'other'.",
            _string("value", "Email addresses for the user."),
            _type(", e.g., 'work' or 'home'", ("work", "home", "other")),
            _primary("the preferred mailing address or primary email address"),
        ),
        _plural(
            "phoneNumbers",
            "Phone numbers for the User. Canonical type values of 'work', 'home', 'mobile', "
            "'fax', 'pager', and 'other'.",
            _string("value", "Phone number of the User."),
            _type(
                ", e.g., 'work', 'home', 'mobile'",
                ("work", "home", "mobile", "fax", "pager", "other"),
            ),
            _primary("the preferred phone number or primary phone number"),
        ),
        _plural(
            "ims",
            "Instant messaging addresses for the User.",
            _string("value", "Instant messaging address for the User."),
            _type(
                ", e.g., 'aim', 'gtalk', 'xmpp'",
                ("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
            ),
            _primary("the preferred messenger or primary messenger"),
        ),
        _plural(
            "photos",
            "URLs of photos of the User.",
            Attribute(
                "value",
                type="reference",
                description="URL of a photo of the User.",
                reference_types=("external",),
            ),
            _type(", i.e., 'photo' or 'thumbnail'", ("photo", "thumbnail")),
            _primary("the preferred photo or thumbnail"),
        ),
        _ADDRESSES,
        _GROUPS,
        _plural(
            "entitlements",
            "A list of entitlements for the User that represent a thing the User has.",
            _string("value", "The value of an entitlement."),
            _type(""),
            _primary(),
        ),
        _plural(
            "roles",
            "A list of roles for the User that collectively represent who the User is, "
            "e.g., 'Student', 'Faculty'.",
            _string("value", "The value of a role."),
            _type(""),
            _primary(),
        ),
        _plural(
            "x509Certificates",
            "A list of certificates issued to the User.",
            Attribute("value", type="binary", description="The value of an X.509 certificate."),
            _type(""),
            _primary(),
        ),
    ),
)

GROUP_SCHEMA = Schema(
    id=GROUP_URN,
    name="Group",
    description="Group",
    attributes=(
        _string("displayName", "A human-readable name for the Group. REQUIRED.", required=True),
        Attribute(
            "members",
            type="complex",
            multi_valued=True,
            description="A list of members of the Group.",
            sub_attributes=(
                _string("value", "Identifier of the member of this Group.", mutability="immutable"),
                Attribute(
                    "$ref",
                    type="reference",
                    description="The URI of a SCIM resource that is a member of this Group.",
                    mutability="immutable",
                    reference_types=("User", "Group"),
                ),
                _string(
                    "type",
                    "A label indicating the type of resource, e.g., 'User' or 'Group'.",
                    canonical_values=("User", "Group"),
                    mutability="immutable",
                ),
                # Not in §8.7.1, but §4.2 examples and real clients read members[].display.
                _string(
                    "display",
                    "A human-readable name for the group member, primarily for display.",
                    mutability="readOnly",
                ),
            ),
        ),
    ),
)

ENTERPRISE_USER_SCHEMA = Schema(
    id=ENTERPRISE_USER_URN,
    name="EnterpriseUser",
    description="Enterprise User",
    attributes=(
        _string(
            "employeeNumber",
            "Numeric or alphanumeric identifier assigned to a person, typically based on "
            "order of hire or association with an organization.",
        ),
        _string("costCenter", "Identifies the name of a cost center."),
        _string("organization", "Identifies the name of an organization."),
        _string("division", "Identifies the name of a division."),
        _string("department", "Identifies the name of a department."),
        Attribute(
            "manager",
            type="complex",
            description="The User's manager, referencing the 'id' attribute of another User.",
            sub_attributes=(
                _string(
                    "value",
                    "The id of the SCIM resource representing the User's manager. REQUIRED.",
                    required=True,
                    case_exact=True,
                ),
                Attribute(
                    "$ref",
                    type="reference",
                    description="The URI of the SCIM resource representing the manager. REQUIRED.",
                    required=True,
                    reference_types=("User",),
                ),
                _string(
                    "displayName",
                    "The displayName of the User's manager. OPTIONAL and READ-ONLY.",
                    mutability="readOnly",
                ),
            ),
        ),
    ),
)

USER = ResourceType(
    name="User",
    endpoint="/Users",
    description="User Account",
    schema=USER_SCHEMA,
    extensions=((ENTERPRISE_USER_SCHEMA, False),),
    common=COMMON_ATTRIBUTES,
)

GROUP = ResourceType(
    name="Group",
    endpoint="/Groups",
    description="Group",
    schema=GROUP_SCHEMA,
    common=COMMON_ATTRIBUTES,
)

RESOURCE_TYPES: tuple[ResourceType, ...] = (USER, GROUP)
SCHEMAS: tuple[Schema, ...] = (USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA)

# Lower-cased alias URN -> canonical URN; keys are lower-case because schema URNs are
# matched case-insensitively here. Microsoft's SCIM stack (Entra ID and its reference
# code, SchemaIdentifiers.Core2EnterpriseUserDomainControllerServices) knows the
# enterprise extension also under this old spelling, missing the ":" before "User".
URN_ALIASES: dict[str, str] = {
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0user": ENTERPRISE_USER_URN,
}
