"""`repair_json`: the value a model meant by its almost-JSON, or a `RepairError`."""
from __future__ import annotations

import codecs
import json
from typing import Any

from .errors import RepairError
from .extract import Extractor
from .schema import SchemaGuide


def _reject_constant(name: str) -> Any:
    """`json.loads` accepts NaN and Infinity; strict JSON does not, so they go to the repairer."""
    raise ValueError(name)


def _decode(data: bytes) -> str:
    """Bytes as text: the encoding is detected as `json.loads` does (BOMs, UTF-16/32); a character cut
    at the end (truncated output) is dropped, and undecodable bytes become U+FFFD."""
    encoding = json.detect_encoding(data)
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    return decoder.decode(data, final=False)


def repair_json(text: str | bytes, schema: dict | None = None) -> Any:
    """The JSON value the model meant by `text`, following ../shared/REPAIR-CONVENTIONS.md (beside the repository).

    Strict JSON comes back exactly as `json.loads` gives it. Otherwise the value is located (fences,
    tags, prose), repaired (quotes, commas, comments, literals, truncation...) and returned as plain
    Python data (dict, list, str, int, float, bool, None). With a JSON Schema, the schema chooses
    between readings (`"42"` where an integer is wanted is 42) but never adds a value.

    Raises `RepairError` (a `ValueError`) when there is no value to recover, with the offset.
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = _decode(bytes(text))
    elif not isinstance(text, str):
        raise TypeError(f"repair_json expects str or bytes, not {type(text).__name__}")
    guide = SchemaGuide(schema) if schema is not None else None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        pass
    else:
        if guide is None or not guide.needs_change(value):
            return value
    return Extractor(guide).run(text)


__all__ = ["RepairError", "repair_json"]
