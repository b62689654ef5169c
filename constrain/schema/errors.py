"""Errors of the JSON Schema compiler; each names the JSON pointer of the offending subschema."""
from __future__ import annotations

from ..errors import ConstrainError, UnsupportedError


class SchemaError(ConstrainError, ValueError):
    """A schema that cannot be compiled: malformed, or satisfied by no JSON value."""

    def __init__(self, message: str, pointer: str = "#"):
        self.pointer = pointer
        self.reason = message
        super().__init__(f"{message} at {pointer}")


class UnsupportedSchemaError(SchemaError, UnsupportedError):
    """A valid schema using a keyword (or keyword value) this compiler cannot enforce exactly.

    Raised instead of silently dropping the constraint; `pointer` names the keyword, e.g.
    `#/properties/tags/uniqueItems`.
    """
