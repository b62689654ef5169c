"""The JSON Schema type of a decoded JSON value, for the compiler (an enum's types) and the repairer
(what a schema's const or enum admits)."""
from __future__ import annotations

from typing import Any


def json_type(value: Any) -> str:
    """"null", "boolean", "integer", "number", "string", "array" or "object". A bool is not an
    integer (Python says it is), and a float with no fraction is one (JSON Schema says so)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"
