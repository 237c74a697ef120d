"""Microsoft Entra's attribute-mapping expression language, pure (no I/O).

    >>> expression = parse_expression('Join(" ", [givenName], [surname])')
    >>> evaluate(expression, EvalContext({"givenName": "Ada", "surname": "Lovelace"}))
    'Ada Lovelace'

``parse_expression`` validates and compiles once (cached); ``evaluate`` runs the
compiled closures. When IgnoreFlowIfNullOrEmpty fires, ``evaluate`` raises
``IgnoreFlow`` (a signal, not an ExpressionError): leave the target attribute out
of the flow. Functions and their behaviour follow learn.microsoft.com "Reference for
writing expressions for attribute mappings in Microsoft Entra Application
Provisioning"; date formats are .NET's (see ``dotnet_dates``).
"""

from __future__ import annotations

from scimitar.provisioning.expressions.context import (
    APP_ROLE_ASSIGNMENTS,
    DEFAULT_ACCESS_ROLE,
    AppRoleAssignment,
    EvalContext,
)
from scimitar.provisioning.expressions.errors import EvaluationError, ExpressionError, IgnoreFlow
from scimitar.provisioning.expressions.evaluator import (
    REDACTED,
    direct,
    evaluate,
    parse_expression,
    referenced_attributes,
)
from scimitar.provisioning.expressions.functions import FUNCTIONS
from scimitar.provisioning.expressions.nodes import Expression
from scimitar.provisioning.expressions.parser import MAX_DEPTH, MAX_LENGTH

__all__ = [
    "APP_ROLE_ASSIGNMENTS",
    "DEFAULT_ACCESS_ROLE",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "REDACTED",
    "AppRoleAssignment",
    "EvalContext",
    "EvaluationError",
    "Expression",
    "ExpressionError",
    "IgnoreFlow",
    "direct",
    "evaluate",
    "parse_expression",
    "referenced_attributes",
]
