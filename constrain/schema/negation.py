"""`not` for the forms whose complement is again a schema we compile exactly.

A schema is a conjunction of its keywords, so `not S` is the union (`anyOf`) of the negations of
S's keywords, each restricted to the types the keyword constrains (`required` only speaks of objects,
so `not {required: [a]}` is "an object without a"). Supported: `type` (unless it separates integers
from other numbers), `const`/`enum` of strings, booleans and null, `required`, `properties` whose
subschemas are negatable, `anyOf` and `allOf` of negatable schemas, `$ref` to one, `true`/`false`/{}.
Anything else raises `UnsupportedSchemaError` at the `not` (or `if`) pointer.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import UnsupportedSchemaError

if TYPE_CHECKING:
    from .compiler import _Compiler

TYPES = ("null", "boolean", "object", "array", "string", "integer", "number")
NOT_STRINGS = "$constrain:not-strings"  # private keyword: a string other than these


def negate(c: "_Compiler", schema: Any, ptr: str, seen: tuple = ()) -> Any:
    """A schema matching exactly the values `schema` does not match."""
    if schema is True:
        return False
    if schema is False:
        return True
    schema, sptr = c.deref(schema, ptr)
    if not isinstance(schema, dict):
        return negate(c, schema, ptr, seen)
    kw = c.keywords(schema)
    if not kw:
        return False
    if "$ref" in kw:
        if sptr in seen:
            raise UnsupportedSchemaError("not: a $ref cycle cannot be negated", ptr)
        target, tptr = c.resolve(kw["$ref"], f"{sptr}/$ref")
        rest = {} if c.legacy_ref else {k: v for k, v in kw.items() if k != "$ref"}
        return _union([negate(c, target, tptr, seen + (sptr,)), negate(c, rest, sptr, seen)])
    out = []
    for key, value in kw.items():
        out.append(_negate_keyword(c, key, value, kw, ptr, seen))
    return _union(out)


def _negate_keyword(c: "_Compiler", key: str, value: Any, kw: dict, ptr: str, seen: tuple) -> Any:
    if key == "type":
        types = {value} if isinstance(value, str) else set(value)
        if "number" in types:
            types.add("integer")
        if "integer" in types and "number" not in types:
            raise UnsupportedSchemaError("not: excluding integers from numbers is not supported", ptr)
        rest = [t for t in TYPES if t not in types]
        return {"type": rest} if rest else False
    if key in ("const", "enum"):
        values = [value] if key == "const" else list(value)
        if any(isinstance(v, (int, float, list, dict)) and not isinstance(v, bool) for v in values):
            raise UnsupportedSchemaError("not: excluding numbers, arrays or objects is not supported", ptr)
        out: list[Any] = [{"type": ["object", "array", "number"]}]
        if None not in values:
            out.append({"type": "null"})
        out += [{"const": b} for b in (True, False) if not any(v is b for v in values)]
        out.append({"type": "string", NOT_STRINGS: [v for v in values if isinstance(v, str)]})
        return _union(out)
    if key == "required":
        return _union([{"type": "object", "properties": {name: False}} for name in value])
    if key == "properties":
        return _union([{"type": "object", "required": [name],
                        "properties": {name: negate(c, sub, f"{ptr}/properties/{name}", seen)}}
                       for name, sub in value.items() if sub is not True and sub != {}])
    if key == "anyOf":
        return {"allOf": [negate(c, b, f"{ptr}/anyOf/{k}", seen) for k, b in enumerate(value)]}
    if key == "allOf":
        return _union([negate(c, b, f"{ptr}/allOf/{k}", seen) for k, b in enumerate(value)])
    if key == "not":
        return value
    if key in _BOUNDS:
        kind, opposite, shift = _BOUNDS[key]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or \
                (kind != "number" and not float(value).is_integer()):
            raise UnsupportedSchemaError(f"not: {key} {value!r} cannot be negated", ptr)
        if kind == "number":
            if "exclusiveMinimum" not in c.vocabulary or isinstance(kw.get("exclusiveMinimum"), bool) \
                    or isinstance(kw.get("exclusiveMaximum"), bool):
                raise UnsupportedSchemaError("not: draft 4 numeric bounds cannot be negated", ptr)
            return {"type": "number", opposite: value}
        bound = int(value) + shift
        return False if bound < 0 else {"type": kind, opposite: bound}
    raise UnsupportedSchemaError(f"not: the keyword {key!r} cannot be negated", ptr)


# bound -> (the type it constrains, the bound of the complement, shift of an integer bound)
_BOUNDS = {
    "minLength": ("string", "maxLength", -1), "maxLength": ("string", "minLength", 1),
    "minItems": ("array", "maxItems", -1), "maxItems": ("array", "minItems", 1),
    "minProperties": ("object", "maxProperties", -1), "maxProperties": ("object", "minProperties", 1),
    "minimum": ("number", "exclusiveMaximum", 0), "maximum": ("number", "exclusiveMinimum", 0),
    "exclusiveMinimum": ("number", "maximum", 0), "exclusiveMaximum": ("number", "minimum", 0),
}


def _union(parts: list) -> Any:
    parts = [p for p in parts if p is not False]
    if any(p is True for p in parts):
        return True
    if not parts:
        return False
    return parts[0] if len(parts) == 1 else {"anyOf": parts}
