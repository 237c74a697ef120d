"""PATCH ``path`` values (RFC 7644 §3.5.2): ``PATH = attrPath / valuePath [subAttr]``.

The value filter inside the brackets is the filter grammar, so this module reuses
the tokenizer and parser of ``filter.py`` and only adds the path's own shape.
"""

from __future__ import annotations

from functools import lru_cache

from scimitar.scim.ast import PatchPath
from scimitar.scim.errors import InvalidPath
from scimitar.scim.filter import MAX_LENGTH, FilterParser


class _PathParser(FilterParser):
    def __init__(self, text: str) -> None:
        super().__init__(text, InvalidPath)
        self.allow_inner_sub = True

    def parse_path(self) -> PatchPath:
        token = self._next()
        if token[0] == "end":
            raise self._error(
                'the path is empty: name an attribute, e.g. "displayName" or '
                '"emails[type eq \\"work\\"].value"'
            )
        attr = self.attr_path(token)
        if self._peek()[0] != "[":
            self._expect_end()
            return PatchPath(attr)
        value_filter, _depth = self.value_filter(attr)
        element_sub = self.inner_sub
        if self._peek()[0] == ".":
            dot = self._next()
            if element_sub is not None:
                raise self._error(
                    f"the sub-attribute is given twice: {element_sub!r} inside '[...]' and "
                    f"again after ']' {self._at(dot[2])}"
                )
            element_sub = self.plain_name(self._next(), "a sub-attribute name after '].'")
        self._expect_end()
        return PatchPath(attr, value_filter, element_sub)

    def _expect_end(self) -> None:
        if self._peek()[0] != "end":
            raise self._error(
                "a path is attr, attr.subAttr, attr[filter] or attr[filter].subAttr; "
                f"unexpected text {self._found(self._peek())}"
            )


def _parse_path(text: str) -> PatchPath:
    if len(text) > MAX_LENGTH:
        raise InvalidPath(f"the path is {len(text)} characters long; the limit is {MAX_LENGTH}")
    return _PathParser(text).parse_path()


@lru_cache(maxsize=1024)
def parse_path(text: str) -> PatchPath:
    """Parse a PATCH operation's ``path`` or raise ``InvalidPath``.

    Besides the RFC forms this accepts the one Microsoft prints in its Clarizen One
    provisioning tutorial, ``roles[primary eq "True".value]``, meaning
    ``roles[primary eq "True"].value``. A bare schema URN is no attribute path and
    raises here too: a PATCH operation whose path names an extension as a whole is
    recognised before this is called (``patch.py``, with ``filter.is_schema_urn``),
    so that sorting, mappings and the rest never see one. Results are cached: the
    nodes are frozen.
    """
    return _parse_path(text)
