"""PATCH (RFC 7644 §3.5.2): parse a PatchOp message and apply it to a stored document.

Pure, no I/O. ``apply_patch`` works on a copy and validates the result as a POST
would, so a request applies whole or not at all (§3.5.2: "A PATCH request,
regardless of the number of operations, SHALL be treated as atomic"). Group members
are rows of their own table, not document values: ``group_members.py`` separates the
operations that touch them before ``apply_patch`` sees the rest. The rules for the
values themselves (canonical forms, merging, ``primary``, immutability) are in
``patch_values.py``.

Microsoft Entra ID sends shapes the RFC does not describe; each is accepted where it
is handled, citing the Entra docs "Tutorial: Develop and plan provisioning for a
SCIM endpoint" (use-scim-to-provision-users-and-groups) or "Known issues and
resolutions with SCIM 2.0 protocol compliance" (application-provisioning-config-
problem-scim-compatibility), whose requests ``tests/scim/data/entra-patch-*.json``
transcribe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from scimitar.scim.ast import And, AttrPath, Compare, Filter, PatchPath
from scimitar.scim.errors import (
    InvalidFilter,
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    Mutability,
    NoTarget,
    ScimError,
)
from scimitar.scim.evaluate import compile_element_filter
from scimitar.scim.filter import is_schema_urn
from scimitar.scim.mutability import check_mutability
from scimitar.scim.patch_values import (
    canon_many,
    canon_single,
    check_immutable,
    check_immutable_subs,
    clone,
    complex_value,
    equal_values,
    merge_values,
    one_primary,
    unwrap_single,
)
from scimitar.scim.path import parse_path
from scimitar.scim.resources import URN_ALIASES
from scimitar.scim.schema import (
    Attribute,
    Resolved,
    ResourceType,
    Schema,
    UnknownAttribute,
    resolve,
)
from scimitar.scim.validate import normalize

PATCH_OP_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
DEFAULT_MAX_OPERATIONS = 1000

OpName = Literal["add", "replace", "remove"]

_OPS: dict[str, OpName] = {"add": "add", "replace": "replace", "remove": "remove"}
# An ATTRNAME (RFC 7644 §3.4.2.2) or "$ref" needs no parser: most keys of a
# path-less value are plain names, and this keeps them off the parser's path.
_PLAIN_NAME = re.compile(r"\$?[A-Za-z][\w-]*")


@dataclass(frozen=True, slots=True)
class PatchOperation:
    """One validated PATCH operation; ``path`` is ``None`` when the client sent none.

    ``schema_urn`` is set, and ``path`` is ``None``, when the path was a schema URN
    (``urn:…:enterprise:2.0:User``): the operation targets that extension object as
    a whole (``_apply_extension``).
    """

    op: OpName
    path: PatchPath | None
    value: Any
    schema_urn: str | None = None


def parse_patch_request(
    body: Any, *, max_operations: int = DEFAULT_MAX_OPERATIONS
) -> list[PatchOperation]:
    """Validate a PatchOp message (RFC 7644 §3.5.2) and return its operations in order.

    Member names and ``op`` values match case-insensitively: Entra ID sends
    ``"op": "Replace"`` and asks servers not to "require a case-sensitive match on
    structural elements in SCIM, in particular PATCH op operation values".
    """
    if not isinstance(body, dict):
        raise InvalidSyntax("a PATCH body must be a JSON object (RFC 7644 §3.5.2)")
    fields = lower_keys(body)
    schemas = fields.get("schemas")
    if not isinstance(schemas, list) or not any(
        isinstance(urn, str) and urn.lower() == PATCH_OP_URN.lower() for urn in schemas
    ):
        raise InvalidSyntax(f'"schemas" must contain "{PATCH_OP_URN}" (RFC 7644 §3.5.2)')
    raw_operations = fields.get("operations")
    if not isinstance(raw_operations, list) or not raw_operations:
        raise InvalidSyntax('"Operations" must be an array of one or more operations (§3.5.2)')
    if len(raw_operations) > max_operations:
        raise InvalidValue(
            f"the request has {len(raw_operations)} operations; "
            f"send at most {max_operations} per PATCH request"
        )
    return [_parse_operation(index, raw) for index, raw in enumerate(raw_operations, 1)]


def _parse_operation(index: int, raw: Any) -> PatchOperation:
    where = f"operation {index}"
    if not isinstance(raw, dict):
        raise InvalidSyntax(f"{where} must be a JSON object")
    fields = lower_keys(raw)
    name = fields.get("op")
    op = _OPS.get(name.lower()) if isinstance(name, str) else None
    if op is None:
        raise InvalidSyntax(f'{where}: "op" must be "add", "replace" or "remove", not {name!r}')
    raw_path = fields.get("path")
    if raw_path is not None and not isinstance(raw_path, str):
        raise InvalidPath(f'{where}: "path" must be a string')
    path = urn = None
    # An empty path is taken as an omitted one: both mean the resource itself.
    text = raw_path.strip() if raw_path is not None else ""
    if is_schema_urn(text) or text.lower() in URN_ALIASES:
        urn = text  # the extension as a whole; the resource type decides if it has it
    elif text:
        try:
            path = parse_path(text)
        except ScimError as error:
            raise _in_context(error, where) from error
    if op == "remove":
        if path is None and urn is None:
            raise NoTarget(f'{where}: "remove" needs a "path" (RFC 7644 §3.5.2.2)')
        # The RFC's remove has no value, but Entra ID sends one to name the members
        # to remove: {"op":"Remove","path":"members","value":[{"value":"id"}]}.
        return PatchOperation(op, path, fields.get("value"), urn)
    if "value" not in fields:
        raise InvalidValue(f'{where}: "{op}" needs a "value" (RFC 7644 §3.5.2.1, §3.5.2.3)')
    value = fields["value"]
    if path is None and not isinstance(value, dict):
        target = f'the path "{urn}"' if urn else 'no "path"'
        raise InvalidValue(f'{where}: with {target}, "value" must be an object of attributes')
    return PatchOperation(op, path, value, urn)


def apply_patch(
    resource_type: ResourceType, doc: dict[str, Any], operations: list[PatchOperation]
) -> dict[str, Any]:
    """Apply ``operations`` in order to a copy of ``doc`` and return the validated result.

    ``doc`` is a stored document: canonical names, extension attributes under their
    schema URN, no ``id``/``meta``/``schemas``. The first failing operation raises
    its ``ScimError``, naming the operation, and ``doc`` is left as it was.
    """
    work: dict[str, Any] = clone(doc)
    for index, operation in enumerate(operations, 1):
        try:
            if operation.schema_urn is not None:
                _apply_extension(
                    resource_type, work, operation.op, operation.schema_urn, operation.value
                )
            else:
                _apply(resource_type, work, operation.op, operation.path, operation.value)
        except ScimError as error:
            raise _in_context(error, f"operation {index}") from error
    try:
        # What a POST would store, so a PATCH can never store what a POST rejects.
        result = normalize(resource_type, work)
        check_mutability(resource_type, doc, result)
    except ScimError as error:
        raise _in_context(error, "the patched resource") from error
    return result


# --- applying one operation ----------------------------------------------------------


def _apply(
    rt: ResourceType, doc: dict[str, Any], op: OpName, path: PatchPath | None, value: Any
) -> None:
    if path is None:
        if not isinstance(value, dict):
            raise InvalidValue('without a "path", "value" must be an object of attributes')
        for key, item in value.items():
            for key_path, key_value in expand_key(rt, key, item):
                resolved = resolve_target(rt, key_path.attr, key=True)
                if resolved is not None:
                    _apply_resolved(doc, resolved, op, key_path, key_value)
        return
    resolved = resolve_target(rt, path.attr, key=False)
    if resolved is not None:
        _apply_resolved(doc, resolved, op, path, value)


def _apply_extension(
    rt: ResourceType, doc: dict[str, Any], op: OpName, urn: str, value: Any
) -> None:
    """Apply an operation whose path is an extension's URN to that extension as a whole.

    RFC 7643 §3.3 keeps an extension's attributes in a complex value named by its URN,
    and scim2-tester patches it so. As for any complex target, add (§3.5.2.1) and
    replace (§3.5.2.3) set the sub-attributes given and leave the others unchanged,
    which is the path-less form with the URN as key; remove (§3.5.2.2) drops it all.
    """
    schema, required = _extension(rt, urn)
    if op != "remove":
        _apply(rt, doc, op, None, {schema.id: value})
        return
    if value is not None:
        raise InvalidValue(
            f"removing the {schema.id} extension takes no value; to remove some of its "
            f"attributes, send one remove per attribute path"
        )
    holder = doc.get(schema.id)
    if not isinstance(holder, dict):
        return
    if required:
        raise Mutability(f"the {schema.id} extension is required on {rt.name} resources")
    for attr in schema.attributes:  # §3.5.2.2: required or immutable ones cannot go
        if attr.name in holder:
            _unassign(doc, Resolved(schema, attr, None, True))
    doc.pop(schema.id, None)


def _extension(rt: ResourceType, urn: str) -> tuple[Schema, bool]:
    """Return the extension ``urn`` names and whether it is required, or raise ``InvalidPath``."""
    canonical = URN_ALIASES.get(urn.lower(), urn).lower()
    for schema, required in rt.extensions:
        if schema.id.lower() == canonical:
            return schema, required
    served = ", ".join(schema.id for schema, _required in rt.extensions)
    raise InvalidPath(
        f"{urn} is not an extension of {rt.name} resources "
        f"({f'theirs: {served}' if served else 'they have none'}); a path names an "
        f"attribute, or an extension of the resource as a whole"
    )


def _apply_resolved(
    doc: dict[str, Any], resolved: Resolved, op: OpName, path: PatchPath, value: Any
) -> None:
    attr, sub = resolved.attribute, resolved.sub
    if attr.mutability == "readOnly" or (sub is not None and sub.mutability == "readOnly"):
        # RFC 7644 §3.5.2: "a client MUST NOT modify an attribute that has mutability
        # "readOnly""; §3.5.2.2 says the same of removing one.
        raise Mutability(f"{path.attr} is read-only")
    unset = op == "remove" or value is None or value == []
    if unset and op == "add":
        return  # adding nothing changes nothing
    if path.value_filter is not None:
        if sub is not None:
            raise InvalidPath(f"{path.attr}: a [filter] follows the attribute, not a sub-attribute")
        _apply_filtered(doc, resolved, path, op, None if unset else value)
    elif sub is not None:
        _apply_sub(doc, resolved, sub, None if unset else value)
    elif op == "remove" and value is not None and attr.multi_valued:
        _remove_listed(doc, resolved, value)
    elif unset:
        _unassign(doc, resolved)
    else:
        _apply_whole(doc, resolved, op, value)


def expand_key(rt: ResourceType, key: str, item: Any) -> list[tuple[PatchPath, Any]]:
    """Return the paths one key of a path-less value stands for.

    Besides attribute names, Entra ID with aadOptscim062020 sends dotted and
    URN-prefixed paths as keys: {"name.givenName": "A", "urn:…:User:employeeNumber": "7"}.
    """
    lowered = key.lower()
    if lowered == "schemas":
        return []  # a stored document has no "schemas": it follows from the attributes
    schema = rt.schema_for_urn(URN_ALIASES.get(lowered, key))
    if schema is not None:
        # RFC 7643 §3.3: extension attributes nest under their schema URN.
        if not isinstance(item, dict):
            raise InvalidValue(f"{key} must be an object of that schema's attributes")
        return [(_key_path(f"{schema.id}:{name}"), value) for name, value in item.items()]
    try:
        return [(_key_path(key), item)]
    except InvalidPath:
        if lowered.startswith("urn:"):
            return []  # the object of a schema this server does not serve: ignored
        raise


def _key_path(key: str) -> PatchPath:
    return PatchPath(AttrPath(key)) if _PLAIN_NAME.fullmatch(key) else parse_path(key)


def resolve_target(rt: ResourceType, attr_path: AttrPath, *, key: bool) -> Resolved | None:
    """Resolve a path; ``None`` means "ignore this operation".

    A POST ignores attributes it does not know (``normalize``), and Entra ID sends
    mapped custom-extension attributes on every update; so unknown keys of a
    path-less value, and paths into schemas this server does not serve, are ignored
    rather than failing every update of a user whose creation succeeded. A path
    naming no attribute of a served schema is ``invalidPath`` (RFC 7644 §3.12).
    """
    urn = attr_path.urn
    if urn is not None:
        canonical = URN_ALIASES.get(urn.lower(), urn)
        if rt.schema_for_urn(canonical) is None:
            return None
        attr_path = AttrPath(attr_path.attr, attr_path.sub_attr, canonical)
    try:
        return resolve(rt, attr_path)
    except UnknownAttribute as error:
        if key:
            return None
        raise InvalidPath(f"{error} (on {rt.name} resources)") from error


def _container(doc: dict[str, Any], resolved: Resolved, *, create: bool) -> dict[str, Any] | None:
    """Return the object holding the attribute: the document, or its extension's object."""
    if not resolved.in_extension:
        return doc
    holder = doc.get(resolved.schema.id)
    if isinstance(holder, dict) or not create:
        return holder if isinstance(holder, dict) else None
    holder = doc[resolved.schema.id] = {}
    return holder


def _unassign(doc: dict[str, Any], resolved: Resolved) -> None:
    attr = resolved.attribute
    if attr.required:
        # RFC 7644 §3.5.2.2: an attribute that "is removed or becomes unassigned and is
        # defined as a required attribute" gets a "mutability" error.
        raise Mutability(f"{attr.name} is required and cannot be removed")
    container = _container(doc, resolved, create=False)
    if container is not None and attr.name in container:
        if attr.mutability == "immutable":
            raise Mutability(f"{attr.name} is immutable")
        del container[attr.name]


def _apply_whole(doc: dict[str, Any], resolved: Resolved, op: OpName, value: Any) -> None:
    """Add or replace a whole attribute (``emails``, ``name``, ``active``)."""
    attr = resolved.attribute
    container = _container(doc, resolved, create=True)
    assert container is not None
    current = container.get(attr.name)
    if attr.multi_valued:
        # §3.5.2.3: on replace "all values are replaced", so merging starts empty.
        merged = list(current) if op == "add" and isinstance(current, list) else []
        written = merge_values(attr, merged, canon_many(attr, value))
        one_primary(attr, merged, written)
        new: Any = merged
    else:
        new = canon_single(attr, unwrap_single(attr, value))
        if (
            isinstance(current, dict)
            and isinstance(new, dict)
            and current.get("value") == new.get("value", current.get("value"))
        ):
            # §3.5.2.1 and §3.5.2.3: sub-attributes not given are left unchanged. But a
            # new "value" (another manager) makes the old $ref and displayName wrong,
            # so then the given value replaces the whole of the old one.
            new = {**current, **new}
    check_immutable(attr, current, new)
    container[attr.name] = new


def _remove_listed(doc: dict[str, Any], resolved: Resolved, value: Any) -> None:
    """Remove the listed values of a multi-valued attribute (Entra ID's member removal)."""
    attr = resolved.attribute
    container = _container(doc, resolved, create=False)
    current = container.get(attr.name) if container is not None else None
    if container is None or not isinstance(current, list):
        return
    targets = canon_many(attr, value)
    kept = [item for item in current if not any(_same_value(attr, item, t) for t in targets)]
    if not kept:
        _unassign(doc, resolved)
    elif len(kept) != len(current):
        container[attr.name] = kept


def _same_value(attr: Attribute, item: Any, target: Any) -> bool:
    if isinstance(item, dict) and isinstance(target, dict):
        sub = attr.sub_attribute("value")
        if sub is not None and "value" in target:
            return equal_values(sub, item.get("value"), target["value"])
        return all(item.get(name) == given for name, given in target.items())
    return bool(item == target)


def _apply_sub(doc: dict[str, Any], resolved: Resolved, sub: Attribute, value: Any) -> None:
    """Set or (``value`` None) unset ``attr.sub``: ``name.givenName``, ``manager.value``."""
    attr = resolved.attribute
    container = _container(doc, resolved, create=value is not None)
    if container is None:
        return
    current = container.get(attr.name)
    if not attr.multi_valued:
        if value is not None:
            if not isinstance(current, dict):
                current = container[attr.name] = {}
            _set_sub(sub, current, canon_single(sub, value))
        elif isinstance(current, dict):
            _unset_sub(sub, current)
            if not current:
                del container[attr.name]
        return
    # Without a filter, emails.value addresses every value of emails.
    elements = current if isinstance(current, list) else []
    if value is not None and not elements:
        container[attr.name] = [{sub.name: canon_single(sub, value)}]
        return
    _edit_elements(doc, resolved, elements, elements, sub, value)


def _apply_filtered(
    doc: dict[str, Any], resolved: Resolved, path: PatchPath, op: OpName, value: Any
) -> None:
    """Apply ``attr[filter]`` or ``attr[filter].sub``; ``value`` None removes."""
    attr = resolved.attribute
    if not attr.multi_valued:
        raise InvalidPath(f"{attr.name} is single-valued; [filter] selects values of a list")
    assert path.value_filter is not None
    try:
        matches = compile_element_filter(attr, path.value_filter)
    except InvalidFilter as error:
        raise InvalidPath(error.detail) from error
    sub: Attribute | None = None
    if path.element_sub_attr is not None:
        sub = attr.sub_attribute(path.element_sub_attr)
        if sub is None:
            raise InvalidPath(f"{attr.name} has no sub-attribute {path.element_sub_attr!r}")
        if sub.mutability == "readOnly":
            raise Mutability(f"{attr.name}.{sub.name} is read-only")
    container = _container(doc, resolved, create=value is not None)
    if container is None:
        return
    current = container.get(attr.name)
    elements: list[Any] = current if isinstance(current, list) else []
    chosen = [item for item in elements if matches(item)]
    if value is None and sub is None:
        # §3.5.2.2: "the values matched by the filter are removed"; none is no error.
        chosen_ids = {id(item) for item in chosen}
        kept = [item for item in elements if id(item) not in chosen_ids]
        if not kept and chosen:
            _unassign(doc, resolved)
        elif chosen:
            container[attr.name] = kept
        return
    if chosen or value is None:
        _edit_elements(doc, resolved, elements, chosen, sub, value, op, path.value_filter)
        return
    # §3.5.2.3 answers noTarget here, but Entra ID sends emails[type eq "work"].value
    # (Add, and Replace with or without aadOptscim062020) to users with no work email
    # yet, and SingleAppRoleAssignment roles[primary eq "True"].value, expecting the
    # value to be created: an eq-only filter describes the value to create.
    seed = _seed(attr, path.value_filter)
    if seed is None:
        raise NoTarget(f"no value of {attr.name} matches the filter (RFC 7644 §3.5.2.3)")
    created = {**seed, **complex_value(attr, value if sub is None else {sub.name: value})}
    container[attr.name] = elements = [*elements, created]
    one_primary(attr, elements, [created])


def _edit_elements(
    doc: dict[str, Any],
    resolved: Resolved,
    elements: list[Any],
    chosen: list[Any],
    sub: Attribute | None,
    value: Any,
    op: OpName = "replace",
    value_filter: Filter | None = None,
) -> None:
    """Set (or unset, ``value`` None) ``sub`` of the chosen values, or replace them whole."""
    attr = resolved.attribute
    chosen_ids = {id(item) for item in chosen}
    written: list[Any] = []
    for index, item in enumerate(elements):
        if id(item) not in chosen_ids or not isinstance(item, dict):
            continue
        if sub is None:
            new = complex_value(attr, value)
            if op == "add":
                new = {**item, **new}
            elif value_filter is not None:
                # §3.5.2.3 replaces matched values whole; the filter's eq terms are kept
                # so the value stays where the client's filter found it.
                new = {**(_seed(attr, value_filter) or {}), **new}
            check_immutable_subs(attr, item, new)
            elements[index] = new
            written.append(new)
        elif value is None:
            _unset_sub(sub, item)
        else:
            _set_sub(sub, item, canon_single(sub, value))
            written.append(item)
    kept = [item for item in elements if item != {}]
    if not kept:
        _unassign(doc, resolved)
        return
    one_primary(attr, kept, written)
    container = _container(doc, resolved, create=True)
    assert container is not None
    container[attr.name] = kept


def _set_sub(sub: Attribute, element: dict[str, Any], value: Any) -> None:
    if sub.mutability == "immutable" and element.get(sub.name, value) != value:
        raise Mutability(f"{sub.name} is immutable")
    element[sub.name] = value


def _unset_sub(sub: Attribute, element: dict[str, Any]) -> None:
    if sub.name in element:
        if sub.mutability == "immutable":
            raise Mutability(f"{sub.name} is immutable")
        del element[sub.name]


def _seed(attr: Attribute, node: Filter) -> dict[str, Any] | None:
    """Return the value an eq-only filter describes: ``type eq "work"`` -> {"type": "work"}."""
    if isinstance(node, Compare):
        plain = node.path.urn is None and node.path.sub_attr is None
        sub = attr.sub_attribute(node.path.attr) if plain else None
        if node.op != "eq" or sub is None or node.value is None:
            return None
        return {sub.name: canon_single(sub, node.value)}
    if isinstance(node, And):
        left, right = _seed(attr, node.left), _seed(attr, node.right)
        if left is None or right is None or any(left.get(k, v) != v for k, v in right.items()):
            return None
        return {**left, **right}
    return None


def lower_keys(obj: dict[str, Any]) -> dict[str, Any]:
    return {key.lower(): value for key, value in obj.items() if isinstance(key, str)}


def _in_context(error: ScimError, where: str) -> ScimError:
    """Return a copy of ``error`` whose detail says which part of the request failed."""
    return type(error)(f"{where}: {error.detail}", status=error.status)
