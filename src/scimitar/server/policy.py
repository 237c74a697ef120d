"""Role policies: what an application accepts in a user's ``roles``.

Clarizen One's tutorial: "When you assign a user to the Clarizen One gallery app,
select only the User role. The following roles are invalid: Administrator (admin),
Email Reporting user, External user, Financial user, Social user, Superuser,
Time & Expense user." A tenant created with ``--role-policy clarizen-one`` enforces
that on every write (POST, PUT, PATCH, Bulk), so the failure the tutorial warns of
answers a clear 400 instead of creating a user the application cannot serve.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scimitar.scim.errors import InvalidValue

CLARIZEN_ONE_ALLOWED = "User"
CLARIZEN_ONE_INVALID = (
    "Administrator",
    "Email Reporting user",
    "External user",
    "Financial user",
    "Social user",
    "Superuser",
    "Time & Expense user",
)
_CLARIZEN_INVALID_FOLDED = {role.casefold(): role for role in CLARIZEN_ONE_INVALID}
_CLARIZEN_INVALID_FOLDED["admin"] = "Administrator"


def _role_names(doc: dict[str, Any]) -> list[str]:
    names = []
    for role in doc.get("roles") or ():
        if isinstance(role, dict):
            name = role.get("value") or role.get("display")
            if isinstance(name, str):
                names.append(name)
    return names


def _clarizen_one(doc: dict[str, Any]) -> None:
    for name in _role_names(doc):
        if name.strip().casefold() == CLARIZEN_ONE_ALLOWED.casefold():
            continue
        known = _CLARIZEN_INVALID_FOLDED.get(name.strip().casefold())
        why = (
            f"{known!r} is one of the roles Clarizen One rejects"
            if known
            else f"{name!r} is not a Clarizen One role"
        )
        raise InvalidValue(
            f"role {name!r} is not allowed for this tenant: {why}; "
            f"assign only the {CLARIZEN_ONE_ALLOWED!r} role"
        )


POLICIES: dict[str, Callable[[dict[str, Any]], None]] = {"clarizen-one": _clarizen_one}


def enforce(policy: str | None, doc: dict[str, Any]) -> None:
    """Raise ``InvalidValue`` when ``doc`` (a user document) breaks the tenant's policy."""
    if policy is not None:
        POLICIES[policy](doc)
