"""Attribute mappings: which source attribute, constant or expression fills each target.

A mapping is Entra's "Edit Attribute" form: a target attribute (a SCIM path such as
``emails[type eq "work"].value``), a source of one of three types, an optional
matching precedence (matching attributes are tried in that order to find an
existing target object), whether it applies always or only on create, and a
default used when the source is empty. Entra documents that the default "is only
provisioned when a user is created"; the engine follows that.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, Literal

from scimitar.directory.model import GROUP_ATTRIBUTES, USER_ATTRIBUTES
from scimitar.provisioning.expressions import ExpressionError, parse_expression
from scimitar.provisioning.scoping import ScopingError, ScopingFilter
from scimitar.scim.errors import InvalidPath
from scimitar.scim.filter import render_filter
from scimitar.scim.path import parse_path

if TYPE_CHECKING:
    from scimitar.provisioning.apps import App
    from scimitar.provisioning.gallery import GalleryApp

ObjectType = Literal["user", "group"]
SourceType = Literal["direct", "constant", "expression"]
ApplyOn = Literal["always", "create"]
OBJECT_TYPES: Final[tuple[ObjectType, ...]] = ("user", "group")
SOURCE_TYPES: Final[tuple[SourceType, ...]] = ("direct", "constant", "expression")
APPLY_ON: Final[tuple[ApplyOn, ...]] = ("always", "create")
EXPORT_FORMAT: Final = "scimitar-mappings"
EXPORT_VERSION: Final = 1
MEMBERS: Final = "members"
# RFC 7643 §4.1 and §4.2: userName and displayName are required, so their
# mappings can be changed but not removed (Entra greys out Delete for them too).
REQUIRED_TARGETS: Final[dict[ObjectType, str]] = {"user": "userName", "group": "displayName"}
# Server-assigned (RFC 7643 §3.1); Entra: "the primary key, typically ID, shouldn't
# be included as a target attribute".
_FORBIDDEN_TARGETS: Final = frozenset({"id", "meta", "schemas"})

# Source attributes the engine itself provides besides the directory's own:
# IsSoftDeleted (Entra's computed flag behind the default `active` mapping) and
# appRoleAssignments (for SingleAppRoleAssignment / AppRoleAssignmentsComplex).
_COMPUTED: Final[dict[ObjectType, tuple[str, ...]]] = {
    "user": ("IsSoftDeleted", "appRoleAssignments"),
    "group": (MEMBERS,),
}
SOURCE_ATTRIBUTES: Final[dict[ObjectType, tuple[str, ...]]] = {
    "user": (*USER_ATTRIBUTES, *_COMPUTED["user"]),
    "group": (*GROUP_ATTRIBUTES, *_COMPUTED["group"]),
}
_SOURCE_SPELLING: Final = {
    kind: {name.casefold(): name for name in names} for kind, names in SOURCE_ATTRIBUTES.items()
}
# Extras come from files under their own names; the directory allows these characters.
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


class MappingError(ValueError):
    """A mapping or a set of mappings is not valid; the message says how to fix it."""


def object_type(text: str) -> ObjectType:
    """Return ``text`` as an object type, or raise ``MappingError``."""
    if text in OBJECT_TYPES:
        return text
    raise MappingError(f"unknown object type {text!r}; use user or group")


def canonical_source(kind: ObjectType, name: str) -> tuple[str, bool]:
    """Return a source attribute in Entra's spelling, and whether it is a known one.

    Unknown names are kept as written: they may be extras a file brings, which the
    directory keeps under their own (case-sensitive) names.
    """
    known = _SOURCE_SPELLING[kind].get(name.casefold())
    return (known, True) if known else (name, False)


def canonical_target(target: str) -> str:
    """Return a target path in RFC 7644 form, or raise ``MappingError``.

    The seed's alias ``roles[primary eq "True".value]`` becomes
    ``roles[primary eq "True"].value``; spacing and quoting are normalised.
    """
    try:
        path = parse_path(target.strip())
    except InvalidPath as exc:
        raise MappingError(f"{target!r} is not a SCIM attribute path: {exc.detail}") from None
    attr = path.attr
    text = f"{attr.urn}:{attr.attr}" if attr.urn else attr.attr
    if attr.sub_attr:
        text += f".{attr.sub_attr}"
    if path.value_filter is not None:
        text += f"[{render_filter(path.value_filter)}]"
    if path.element_sub_attr:
        text += f".{path.element_sub_attr}"
    return text


def target_key(target: str) -> str:
    """Return the key under which two spellings of one target compare equal."""
    # Attribute names and the type/primary values Entra filters on are case-insensitive
    # (RFC 7643 §2.1; "type" and "primary" are not caseExact in §4.1.2).
    return canonical_target(target).casefold()


@dataclass(frozen=True, slots=True)
class Mapping:
    """One attribute mapping of an app, for users or for groups."""

    target: str
    source_type: SourceType
    source: str
    matching_precedence: int | None = None
    apply_on: ApplyOn = "always"
    default_value: str | None = None

    def describe_source(self) -> str:
        if self.source_type == "constant":
            return f"constant {self.source!r}"
        return self.source

    def __str__(self) -> str:
        flags = []
        if self.matching_precedence is not None:
            flags.append(f"matching {self.matching_precedence}")
        if self.apply_on == "create":
            flags.append("on create only")
        if self.default_value is not None:
            flags.append(f"default {self.default_value!r}")
        suffix = f"  [{', '.join(flags)}]" if flags else ""
        return f"{self.target} <- {self.describe_source()}{suffix}"

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "sourceType": self.source_type,
            "source": self.source,
            "matchingPrecedence": self.matching_precedence,
            "applyOn": self.apply_on,
            "defaultValue": self.default_value,
        }

    @classmethod
    def from_json(cls, data: Any) -> Mapping:
        """Build a mapping from its JSON form; structure only (see ``validate_mappings``)."""
        if not isinstance(data, dict):
            raise MappingError(
                'a mapping is {"target": PATH, "sourceType": "direct"|"constant"|"expression", '
                '"source": TEXT, ...}'
            )
        target, source = data.get("target"), data.get("source")
        if not isinstance(target, str) or not isinstance(source, str):
            raise MappingError(f"a mapping needs a text target and source: {data!r}")
        source_type = data.get("sourceType", "direct")
        if source_type not in SOURCE_TYPES:
            raise MappingError(
                f"mapping of {target}: sourceType {source_type!r} is not one of "
                f"{', '.join(SOURCE_TYPES)}"
            )
        apply_on = data.get("applyOn", "always")
        if apply_on not in APPLY_ON:
            raise MappingError(f"mapping of {target}: applyOn must be always or create")
        precedence = data.get("matchingPrecedence")
        if precedence is not None and (
            isinstance(precedence, bool) or not isinstance(precedence, int)
        ):
            raise MappingError(f"mapping of {target}: matchingPrecedence must be a whole number")
        default = data.get("defaultValue")
        if default is not None and not isinstance(default, str):
            raise MappingError(f"mapping of {target}: defaultValue must be text")
        return cls(target, source_type, source, precedence, apply_on, default)


def _check_target(mapping: Mapping, kind: ObjectType, app: GalleryApp) -> str:
    target = canonical_target(mapping.target)
    key = target.casefold()
    offered = app.offered_targets(kind)
    if offered is not None:
        match = next((name for name in offered if target_key(name) == key), None)
        if match is None:
            close = difflib.get_close_matches(target, offered, n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise MappingError(
                f"{app.display_name} does not offer the {kind} attribute {target!r}{hint} "
                f"(`scimitar app mapping list NAME --object {kind} --all` lists them)"
            )
        return match
    if parse_path(target).attr.attr.casefold() in _FORBIDDEN_TARGETS:
        raise MappingError(
            f"{target!r} is assigned by the target application (RFC 7643 §3.1) and cannot be mapped"
        )
    return target


def _check_source(mapping: Mapping, kind: ObjectType, target: str) -> tuple[str, list[str]]:
    warnings: list[str] = []
    source = mapping.source
    if mapping.source_type == "direct":
        source = source.strip()
        if not _ATTRIBUTE_NAME.fullmatch(source):
            raise MappingError(
                f"mapping of {target}: {source!r} is not an attribute name (it starts with a "
                "letter or _ and holds letters, digits, _ . -)"
            )
        source, known = canonical_source(kind, source)
        if not known:
            warnings.append(
                f"{source!r} is not a standard {kind} attribute; {target} is filled only for "
                f"{kind}s whose directory entry has an extra attribute of exactly that name"
            )
    elif mapping.source_type == "expression":
        try:
            expression = parse_expression(source)
        except ExpressionError as exc:
            raise MappingError(f"expression for {target}: {exc}") from None
        for name in sorted(expression.attributes):
            if not canonical_source(kind, name)[1]:
                warnings.append(
                    f"the expression for {target} reads [{name}], which is not a standard "
                    f"{kind} attribute; it is empty unless the directory has that extra attribute"
                )
    elif source == "":
        raise MappingError(f"the constant for {target} is empty; remove the mapping instead")
    # Memberships are written by the engine from the directory's own member lists.
    if (target.casefold() == MEMBERS) != (mapping.source_type == "direct" and source == MEMBERS):
        raise MappingError(
            "the members target takes the directory's members and nothing else: "
            "map members <- members"
        )
    return source, warnings


def validate_mapping(
    mapping: Mapping, kind: ObjectType, app: GalleryApp
) -> tuple[Mapping, list[str]]:
    """Check one mapping; return it normalised (canonical names) and any warnings."""
    target = _check_target(mapping, kind, app)
    source, warnings = _check_source(mapping, kind, target)
    if mapping.source_type == "constant":
        if mapping.matching_precedence is not None:
            raise MappingError(
                f"{target} maps a constant, which cannot match objects (every object would "
                "have the same value); match on a direct or expression mapping"
            )
        if mapping.default_value is not None:
            raise MappingError(f"{target} maps a constant, which is never empty: drop the default")
    if mapping.matching_precedence is not None and mapping.matching_precedence < 1:
        raise MappingError(f"matching precedence of {target} must be 1 or more")
    if target.casefold() == MEMBERS and mapping.matching_precedence is not None:
        raise MappingError("members cannot be a matching attribute")
    normalised = replace(mapping, target=target, source=source)
    return normalised, warnings


def validate_mappings(
    mappings: Iterable[Mapping], kind: ObjectType, app: GalleryApp
) -> tuple[tuple[Mapping, ...], list[str]]:
    """Check an object type's whole mapping list; return it normalised, and warnings.

    Targets are unique, matching precedences run 1, 2, … without gaps or repeats,
    at least one mapping matches, and the SCIM-required target stays mapped.
    """
    result: list[Mapping] = []
    warnings: list[str] = []
    seen: dict[str, str] = {}
    for mapping in mappings:
        normalised, found = validate_mapping(mapping, kind, app)
        key = target_key(normalised.target)
        if key in seen:
            raise MappingError(f"{normalised.target} is mapped twice; keep one mapping per target")
        seen[key] = normalised.target
        result.append(normalised)
        warnings.extend(found)
    required = REQUIRED_TARGETS[kind]
    if required.casefold() not in seen:
        raise MappingError(
            f"{required} is required for {kind}s (RFC 7643 §4) and must stay mapped; "
            "change its source instead of removing it"
        )
    precedences = sorted(m.matching_precedence for m in result if m.matching_precedence)
    if not precedences:
        raise MappingError(
            f"no {kind} mapping is a matching attribute; mark one (e.g. --matching-precedence 1 "
            f"on {required}) so the engine can find {kind}s that already exist in the target"
        )
    if precedences != list(range(1, len(precedences) + 1)):
        raise MappingError(
            f"matching precedences must be 1, 2, 3, … each used once; the {kind} mappings "
            f"have {', '.join(map(str, precedences))}"
        )
    return tuple(result), warnings


def _renumber(mappings: list[Mapping], first: Mapping | None = None) -> tuple[Mapping, ...]:
    """Renumber matching precedences 1..n, keeping their order; ``first`` wins ties."""
    matching = sorted(
        (m for m in mappings if m.matching_precedence is not None),
        key=lambda m: (m.matching_precedence or 0, m is not first),
    )
    numbers = {id(m): index for index, m in enumerate(matching, start=1)}
    return tuple(
        replace(m, matching_precedence=numbers[id(m)]) if id(m) in numbers else m for m in mappings
    )


def set_mapping(mappings: Sequence[Mapping], new: Mapping) -> tuple[Mapping, ...]:
    """Add ``new`` or replace the mapping of the same target, keeping list order.

    A matching precedence inserts: ``new`` takes that place and the mappings at or
    after it move down one, so precedences stay 1..n.
    """
    key = target_key(new.target)
    updated = list(mappings)
    index = next((i for i, m in enumerate(updated) if target_key(m.target) == key), None)
    if index is None:
        updated.append(new)
    else:
        updated[index] = new
    return _renumber(updated, first=new)


def remove_mapping(mappings: Sequence[Mapping], target: str) -> tuple[Mapping, ...]:
    """Remove the mapping of ``target``, or raise ``MappingError`` if there is none."""
    key = target_key(target)
    kept = [m for m in mappings if target_key(m.target) != key]
    if len(kept) == len(mappings):
        raise MappingError(f"no mapping has the target {target!r}")
    return _renumber(kept)


def find_mapping(mappings: Sequence[Mapping], target: str) -> Mapping | None:
    """Return the mapping of ``target`` (any spelling of the path), if there is one."""
    key = target_key(target)
    return next((m for m in mappings if target_key(m.target) == key), None)


def restore_defaults(app: GalleryApp) -> dict[ObjectType, tuple[Mapping, ...]]:
    """Return the gallery entry's default mappings (Entra's "Restore default mappings")."""
    return {kind: app.default_mappings[kind] for kind in OBJECT_TYPES}


# -- export and import ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MappingDocument:
    """An imported mappings file: mappings and scoping filters per object type.

    An object type the file leaves out keeps its current configuration.
    """

    gallery: str | None
    mappings: dict[ObjectType, tuple[Mapping, ...]]
    scoping_filters: dict[ObjectType, tuple[ScopingFilter, ...]]


def export_mappings(app: App) -> dict[str, Any]:
    """Return an app's mappings and scoping filters as a JSON document for `import`."""
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "gallery": app.gallery,
        **{
            kind: {
                "mappings": [m.to_json() for m in app.settings.mappings[kind]],
                "scopingFilters": [f.to_json() for f in app.settings.scoping_filters[kind]],
            }
            for kind in OBJECT_TYPES
        },
    }


def import_mappings(data: Any) -> MappingDocument:
    """Read a document written by ``export_mappings``; raise ``MappingError`` if it is not one."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise MappingError(
            f'not a mappings file: expected a JSON object with "format": "{EXPORT_FORMAT}" '
            "(write one with `scimitar app mapping export NAME`)"
        )
    if data.get("version") != EXPORT_VERSION:
        raise MappingError(
            f"mappings file version {data.get('version')!r} is not supported; "
            f"this scimitar reads version {EXPORT_VERSION}"
        )
    gallery = data.get("gallery")
    mappings: dict[ObjectType, tuple[Mapping, ...]] = {}
    filters: dict[ObjectType, tuple[ScopingFilter, ...]] = {}
    for kind in OBJECT_TYPES:
        section = data.get(kind)
        if section is None:
            continue
        if not isinstance(section, dict) or not isinstance(section.get("mappings"), list):
            raise MappingError(f'"{kind}" must be {{"mappings": [...], "scopingFilters": [...]}}')
        mappings[kind] = tuple(Mapping.from_json(item) for item in section["mappings"])
        raw_filters = section.get("scopingFilters", [])
        if not isinstance(raw_filters, list):
            raise MappingError(f'"{kind}.scopingFilters" must be a list')
        try:
            filters[kind] = tuple(ScopingFilter.from_json(item) for item in raw_filters)
        except ScopingError as exc:
            raise MappingError(f"{kind} scoping filter: {exc}") from None
    if not mappings:
        raise MappingError('the mappings file has neither a "user" nor a "group" section')
    return MappingDocument(gallery if isinstance(gallery, str) else None, mappings, filters)
