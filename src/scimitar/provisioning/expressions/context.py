"""What an expression reads: the source object's attributes, its app-role assignments,
the clock and the random source."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

DEFAULT_ACCESS_ROLE: Final = "Default Access"
"""Entra's built-in role of every app; it carries no role value, so the role
functions (SingleAppRoleAssignment, AppRoleAssignmentsComplex) never return it."""

APP_ROLE_ASSIGNMENTS: Final = "appRoleAssignments"
"""The attribute name that reads ``EvalContext.app_role_assignments``."""

_SYSTEM_RANDOM: Final = random.SystemRandom()
# RandomString generates initial passwords, so production contexts draw from the OS.


@dataclass(frozen=True, slots=True)
class AppRoleAssignment:
    """One of the user's assignments to the app being provisioned.

    ``role`` is the app role's value (what SCIM ``roles[].value`` receives),
    ``display`` its display name (defaults to ``role``), ``principal_type`` "user" or
    "group" (a group assignment the user inherits), ``principal_id`` the assigned
    principal's object id.
    """

    role: str
    principal_type: str = "user"
    principal_id: str | None = None
    display: str | None = None


_MISSING: Final = object()


@dataclass(slots=True)
class EvalContext:
    """The source object an expression is evaluated against.

    ``attributes`` maps Entra attribute names (``givenName``, ``mail``,
    ``accountEnabled``, ``IsSoftDeleted``, multi-valued ones as lists) to values;
    names are matched case-insensitively and a missing one reads as null. ``now`` and
    ``random`` are injectable so Now/DateAdd and Guid/RandomString are testable;
    ``default_domain`` is what DefaultDomain() returns.
    """

    attributes: Mapping[str, Any]
    app_role_assignments: Sequence[AppRoleAssignment] = ()
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    random: random.Random = field(default=_SYSTEM_RANDOM)
    default_domain: str | None = None
    _folded: dict[str, str] | None = field(default=None, init=False, repr=False, compare=False)

    def lookup(self, name: str, folded: str) -> Any:
        """Return attribute ``name`` (``folded`` is its casefold), or None if absent."""
        value = self.attributes.get(name, _MISSING)
        if value is not _MISSING:
            return value
        index = self._folded
        if index is None:
            # Built once per object, on the first name not spelt as stored.
            index = self._folded = {key.casefold(): key for key in self.attributes}
        key = index.get(folded)
        return None if key is None else self.attributes[key]
