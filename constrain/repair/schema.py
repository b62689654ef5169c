"""Schema-guided choices: the schema picks between readings of what the model wrote, never adds values.

Where the schema admits no string but the model quoted a number or a boolean (`"42"`, `"true"`), the
quoted text is read as that number or boolean. Where the schema admits strings and no numbers, a bare
number keeps the model's exact text (`1.10` stays `"1.10"`, `02134` stays `"02134"`), and digits with a
leading zero become an integer only where a number is wanted. Missing properties are never filled in,
`null` is never turned into a string, and a value that fits no reading is left as it is.

Understood: `type` (string or list), `enum`, `const`, `nullable`, `properties`, `patternProperties`,
`additionalProperties`, `items` (schema or list), `prefixItems`, `additionalItems`, `anyOf`, `oneOf`,
`allOf` and local `$ref` (`#/...`). Anything else means "no opinion".
"""
from __future__ import annotations

import re
from typing import Any

from ..jsontype import json_type
from .scalars import NUMBER, WORD, ZEROS

_JSON_INT = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
_JSON_NUM = re.compile(r"[+-]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NUMERIC = frozenset({"number", "integer"})


class SchemaGuide:
    """Answers, for a (sub)schema, which JSON types it admits and what a child position expects."""

    def __init__(self, schema: dict):
        if not isinstance(schema, dict):
            raise TypeError(f"schema must be a dict, not {type(schema).__name__}")
        self.root = schema
        self._types: dict[int, frozenset[str] | None] = {}

    # -- navigation --------------------------------------------------------------------------
    def resolve(self, s: Any) -> dict | None:
        """`s` with local `$ref`s followed; None for booleans, non-dicts and unresolvable refs."""
        for _ in range(32):
            if not isinstance(s, dict):
                return None
            ref = s.get("$ref")
            if not isinstance(ref, str) or len(s) > 1 and "type" in s:
                return s
            if not ref.startswith("#"):
                return None
            target: Any = self.root
            for part in ref[1:].split("/")[1:] if ref != "#" else []:
                part = part.replace("~1", "/").replace("~0", "~")
                if isinstance(target, dict) and part in target:
                    target = target[part]
                elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                    target = target[int(part)]
                else:
                    return None
            s = target
        return None

    def _branches(self, s: dict) -> list[dict]:
        out = [s]
        for word in ("allOf", "anyOf", "oneOf"):
            for b in s.get(word, ()) if isinstance(s.get(word), list) else ():
                r = self.resolve(b)
                if r is not None:
                    out.append(r)
        return out

    def root_for(self, is_obj: bool) -> Any:
        """Schema for a top-level container: the root, or its items when the root is a list of those
        (several values that will be gathered into one array)."""
        ts = self.types(self.root)
        kind = "object" if is_obj else "array"
        if ts is not None and kind not in ts and "array" in ts:
            return self.for_index(self.root, 0)
        return self.root

    def for_key(self, s: Any, key: str | None) -> Any:
        s = self.resolve(s)
        if s is None or key is None:
            return None
        for b in self._branches(s):
            props = b.get("properties")
            if isinstance(props, dict) and key in props:
                return props[key]
        for b in self._branches(s):
            pats = b.get("patternProperties")
            if isinstance(pats, dict):
                for pat, sub in pats.items():
                    try:
                        if re.search(pat, key):
                            return sub
                    except re.error:
                        continue
        for b in self._branches(s):
            extra = b.get("additionalProperties")
            if isinstance(extra, dict):
                return extra
        return None

    def for_index(self, s: Any, i: int) -> Any:
        s = self.resolve(s)
        if s is None:
            return None
        for b in self._branches(s):
            prefix = b.get("prefixItems")
            items = b.get("items")
            if isinstance(prefix, list):
                if i < len(prefix):
                    return prefix[i]
                if isinstance(items, dict):
                    return items
                continue
            if isinstance(items, list):
                if i < len(items):
                    return items[i]
                extra = b.get("additionalItems")
                if isinstance(extra, dict):
                    return extra
                continue
            if isinstance(items, dict):
                return items
        return None

    def types(self, s: Any) -> frozenset[str] | None:
        """The JSON types `s` admits, or None when it does not say."""
        key = id(s)
        if key in self._types:
            return self._types[key]
        self._types[key] = None          # guards against `$ref` cycles
        result = self._compute_types(s)
        self._types[key] = result
        return result

    def _compute_types(self, s: Any) -> frozenset[str] | None:
        r = self.resolve(s)
        if r is None:
            return None
        result: set[str] | None = None
        t = r.get("type")
        if isinstance(t, str):
            result = {t}
        elif isinstance(t, list) and all(isinstance(x, str) for x in t):
            result = set(t)
        elif "const" in r:
            result = {json_type(r["const"])}
        elif isinstance(r.get("enum"), list) and r["enum"]:
            result = {json_type(v) for v in r["enum"]}
        else:
            for word in ("anyOf", "oneOf"):
                branches = r.get(word)
                if isinstance(branches, list) and branches:
                    union: set[str] = set()
                    for b in branches:
                        bt = self.types(b)
                        if bt is None:
                            union = None  # type: ignore[assignment]
                            break
                        union |= bt
                    if union is not None:
                        result = union if result is None else result & union
            branches = r.get("allOf")
            if isinstance(branches, list):
                for b in branches:
                    bt = self.types(b)
                    if bt is not None:
                        result = set(bt) if result is None else result & bt
        if result is not None and r.get("nullable") is True:
            result.add("null")
        return frozenset(result) if result is not None else None

    # -- choices -----------------------------------------------------------------------------
    def string(self, s: Any, text: str) -> Any:
        """A quoted string where `s` is expected: a number or boolean if the schema admits no string."""
        ts = self.types(s)
        if ts is None or "string" in ts:
            return text
        st = text.strip()
        if ts & _NUMERIC:
            if _JSON_INT.fullmatch(st):
                return int(st)
            if "number" in ts and _JSON_NUM.fullmatch(st):
                return float(st)
        if "boolean" in ts and st.lower() in ("true", "false"):
            return st.lower() == "true"
        if "null" in ts and st in ("null", "None"):
            return None
        return text

    def bare(self, s: Any, kind: int, value: Any, tok: str) -> Any:
        """An unquoted token where `s` is expected (see `scalars` for the kinds)."""
        ts = self.types(s)
        if kind == ZEROS:
            return value if ts is not None and "string" not in ts and ts & _NUMERIC else tok
        if kind == NUMBER and ts is not None and "string" in ts and not ts & _NUMERIC:
            return tok
        if kind == WORD:
            if tok[-1:] in "\"'" and tok.count(tok[-1]) == 1:
                tok = tok[:-1]
            return self.string(s, tok) if ts is not None and "string" not in ts else tok
        return value

    def needs_change(self, value: Any) -> bool:
        """Would a schema-guided reading differ from this already-parsed value? (iterative walk)"""
        todo: list[tuple[Any, Any]] = [(value, self.root)]
        while todo:
            v, s = todo.pop()
            if s is None:
                continue
            if isinstance(v, str):
                if self.string(s, v) is not v:
                    return True
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                ts = self.types(s)
                if ts is not None and "string" in ts and not ts & _NUMERIC:
                    return True
            elif isinstance(v, dict):
                for k, item in v.items():
                    todo.append((item, self.for_key(s, k)))
            elif isinstance(v, list):
                for i, item in enumerate(v):
                    todo.append((item, self.for_index(s, i)))
        return False
