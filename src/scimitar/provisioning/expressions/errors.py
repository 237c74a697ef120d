"""Errors of the expression language, each pointing at a 1-based position in the text."""

from __future__ import annotations

_WINDOW = 60  # characters of context shown either side of the caret on long lines


class ExpressionError(ValueError):
    """An expression that cannot be parsed, or a function that cannot compute its value.

    ``reason`` is the bare sentence, ``position`` the 1-based character offset it
    points at (``None`` when no position applies), ``text`` the whole expression.
    ``str()`` adds the position and the offending line with a caret under it.
    """

    def __init__(self, reason: str, text: str | None = None, position: int | None = None) -> None:
        self.reason = reason
        self.text = text
        self.position = position
        super().__init__(_render(reason, text, position))


class EvaluationError(ExpressionError):
    """A well-formed expression whose function failed on this object's values."""


class IgnoreFlow(Exception):  # a signal, not an error: not an ExpressionError
    """IgnoreFlowIfNullOrEmpty fired: leave the target attribute out of this flow.

    ``evaluate`` raises it wherever in the expression the function fired; the
    attribute is then neither set nor cleared on the target.
    """


def _render(reason: str, text: str | None, position: int | None) -> str:
    if text is None or position is None:
        return reason
    offset = min(max(position - 1, 0), len(text))
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    if line_end < 0:
        line_end = len(text)
    line = text[line_start:line_end]
    column = offset - line_start
    # Long lines (expressions may reach 10,000 characters) show a window around the caret.
    left = max(column - _WINDOW, 0)
    right = min(column + _WINDOW, len(line))
    snippet = line[left:right].replace("\t", " ")
    prefix = "..." if left else ""
    suffix = "..." if right < len(line) else ""
    where = f"position {position}"
    if line_start:
        where += f" (line {text.count(chr(10), 0, line_start) + 1}, column {column + 1})"
    caret = " " * (len(prefix) + column - left) + "^"
    return f"{reason} at {where}\n  {prefix}{snippet}{suffix}\n  {caret}"
