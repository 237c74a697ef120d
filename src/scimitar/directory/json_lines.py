"""Find the line of a value in a JSON text, so that a problem can name where it is."""

from __future__ import annotations

import json
from collections.abc import Sequence


def json_line(text: str, path: Sequence[str | int]) -> int:
    """Return the line where ``path`` is in a JSON text (or its deepest part that exists).

    Only run for the few problems a message shows: it re-scans the text with the
    standard library's decoder, skipping whole values it does not descend into.
    """
    decoder = json.JSONDecoder()
    pos = found = _skip(text, 0)
    try:
        for step in path:
            if text[pos] != ("[" if isinstance(step, int) else "{"):
                break
            pos = _skip(text, pos + 1)
            index, hit = 0, None
            while text[pos] not in "]}":
                start = pos
                if isinstance(step, int):
                    matched, index = index == step, index + 1
                else:
                    key, pos = decoder.raw_decode(text, pos)
                    pos = _skip(text, _skip(text, pos) + 1)  # past the ":"
                    matched = isinstance(key, str) and key.casefold() == step.casefold()
                if matched:
                    hit = (start, pos)
                    break
                _, pos = decoder.raw_decode(text, pos)
                pos = _skip(text, pos)
                if text[pos] == ",":
                    pos = _skip(text, pos + 1)
            if hit is None:
                break
            found, pos = hit
    except (ValueError, IndexError):
        pass  # malformed past this point: the line found so far is the best answer
    return text.count("\n", 0, found) + 1


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\n\r":
        pos += 1
    return pos
