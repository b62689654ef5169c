"""Strings: `minLength`/`maxLength`, `pattern` and `format` on one string, as one terminal.

Each keyword is a language over the string's JSON spelling (`spelling.py`): the pattern's search
(`patterns.py`), the format's regex (`formats.py`), "lo to hi characters". Their intersection, built
as one automaton (`automaton.product`), is exact whatever the escaping: a character is counted once
however it is spelled. A length bound is counted, not unrolled, but the automaton still has about
twenty states per character of bound, so bounds whose automaton passes `spelling.MAX_STATES`
(a pattern-free `maxLength` above about 5000) are reported unsupported, as is anything the regex
parser cannot read exactly. No string satisfying the keywords together is a `SchemaError`.
"""
from __future__ import annotations

import math
from functools import lru_cache

from ..automaton.product import NOTHING, intersect
from .. import deadline
from ..automaton.regex import Node, literal
from ..errors import LimitError
from .errors import SchemaError, UnsupportedSchemaError
from .formats import FORMATS, UNSUPPORTED, format_spelling
from .nodes import cat
from .patterns import pattern_content
from .spelling import ANY_STRING, MAX_STATES, encode_content, length_limited, quoted

__all__ = ["ANY_STRING", "quoted", "string_pattern"]

def _length(schema: dict, key: str, ptr: str) -> int | None:
    v = schema.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or v != int(v):
        raise SchemaError(f"{key} must be a non-negative integer", f"{ptr}/{key}")
    return int(v)


def string_pattern(schema: dict, ptr: str) -> Node:
    """The terminal (quotes included) of the strings `schema` allows by length, `pattern` and `format`."""
    lo = _length(schema, "minLength", ptr) or 0
    hi = _length(schema, "maxLength", ptr)
    if hi is not None and hi < lo:
        raise SchemaError("minLength > maxLength", f"{ptr}/minLength")
    fmt, pat = schema.get("format"), schema.get("pattern")
    if isinstance(fmt, str) and fmt in UNSUPPORTED:
        raise UnsupportedSchemaError(f"format {fmt!r}: {UNSUPPORTED[fmt]}", f"{ptr}/format")
    if not (isinstance(fmt, str) and fmt in FORMATS):
        fmt = None  # not a format jsonschema checks: an annotation
    if pat is not None:
        if not isinstance(pat, str):
            raise SchemaError("pattern must be a string", f"{ptr}/pattern")
        pattern_content(pat, ptr + "/pattern")  # reports an unreadable pattern at its pointer
    blame = "maxLength" if hi is not None else "minLength" if lo else "pattern" if pat is not None else "format"
    try:
        node = _terminal(fmt, pat, lo, hi)
    except LimitError as e:
        deadline.reraise_expired(e)
        raise UnsupportedSchemaError(f"the string's automaton would exceed {MAX_STATES} states "
                                     "(length bounds are counted per character)", f"{ptr}/{blame}") from None
    if node is NOTHING:
        used = [k for k in ("format", "pattern", "minLength", "maxLength") if k in schema]
        raise SchemaError(f"no string satisfies {', '.join(used)} together", f"{ptr}/{blame}")
    return node


@lru_cache(maxsize=256)
def _terminal(fmt: str | None, pat: str | None, lo: int, hi: int | None) -> Node:
    """Memoised: the same string constraint in many properties is one automaton (and one terminal)."""
    parts = [format_spelling(fmt)] if fmt is not None else []
    if pat is not None:
        parts.append(encode_content(pattern_content(pat, "")))
    if lo == 0 and hi is None:
        if not parts:
            return ANY_STRING
        body = parts[0] if len(parts) == 1 else intersect(parts, max_states=MAX_STATES)
    else:
        body = length_limited(tuple(parts), lo, hi)
    return NOTHING if body is NOTHING else cat(literal('"'), body, literal('"'))
