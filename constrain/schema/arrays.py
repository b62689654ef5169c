"""Arrays: item rules chained by position, with the item count and the `contains` count in the state.

A state (items written, items counted as matching `contains`) is a (left-recursive) nonterminal. The
item count only matters up to the tuple length and the count bounds, the `contains` count up to
`minContains` (or exactly up to `maxContains`), so both saturate and the rule count stays linear in
the bounds. Without `maxContains`, an item may be counted (then it must match `contains` too) or not
(then it may match `contains` or not): at least `minContains` matching items is exactly what is
required. With `maxContains`, an uncounted item must match `not contains` (see `negation.py`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import SchemaError, UnsupportedSchemaError
from .negation import negate
from .nodes import MAX_REPEAT

if TYPE_CHECKING:
    from .compiler import _Compiler


def array_alternatives(c: "_Compiler", schema: dict, ptr: str, depth: int) -> list[tuple]:
    """Right-hand sides for the arrays `schema` allows."""
    prefix, rest = _positions(c, schema, ptr)
    lo = _count(c, schema, "minItems", ptr, 0)
    hi = _count(c, schema, "maxItems", ptr, None)
    if rest[0] is False:
        hi = len(prefix) if hi is None else min(hi, len(prefix))
    if hi is not None and hi < lo:
        return []
    need, most, uncounted = 0, None, None
    if "contains" in schema:
        need = _count(c, schema, "minContains", ptr, 1)
        if "maxContains" in schema:
            most = _count(c, schema, "maxContains", ptr, None)
            try:
                uncounted = negate(c, schema["contains"], f"{ptr}/contains")
            except UnsupportedSchemaError as e:
                c.unsupported(f"maxContains needs `not contains`: {e.reason}", f"{ptr}/maxContains")
                most = None
        if most is not None and most < need:
            return []
    # item nonterminals: (position schema index, kind) with kind 0 plain, 1 counted by contains
    slots = [(s, p) for s, p in prefix] + [rest]
    items: dict[tuple[int, int], tuple] = {}

    def item(j: int, counted: bool) -> tuple:
        if (j, counted) not in items:
            sub, sptr = slots[j]
            if counted:
                sub = c.merge([sub, schema["contains"]], [sptr, f"{ptr}/contains"], f"{ptr}/contains")
                sptr = f"{sptr}+contains"
            elif most is not None:
                sub = c.merge([sub, uncounted], [sptr, f"{ptr}/contains"], f"{ptr}/contains")
                sptr = f"{sptr}-contains"
            items[(j, counted)] = ("n", c.compile(sub, sptr, depth + 1))
        return items[(j, counted)]

    cap_i = hi if hi is not None else max(len(prefix), lo, 1)
    cap_c = most if most is not None else need
    layout, nt = c.layout, {}
    comma = c.t(layout.comma(depth), "COMMA")

    def state(i: int, k: int) -> tuple:
        """The items written so far, `i` of them, `k` counted: left-recursive, like an object's
        members (`objects.py`), so the Earley sets of a long array repeat from item to item."""
        if (i, k) not in nt:
            nt[(i, k)] = c.nt(f"{ptr}#items{i}.{k}")
        return ("n", nt[(i, k)])

    done = c.nt(f"{ptr}#items")
    c.rule(state(0, 0)[1])
    todo, seen = [(0, 0)], {(0, 0)}
    while todo:
        i, k = todo.pop()
        here = state(i, k)
        sep = (comma,) if i else ()
        if i >= max(lo, 1) and k >= need:
            c.rule(done, here)
        if hi is not None and i >= hi:
            continue
        j = min(i, len(prefix))
        nxt_i = min(i + 1, cap_i)
        options = [(False, k)] + ([(True, min(k + 1, cap_c))] if need or most is not None else [])
        for counted, nxt_k in options:
            if counted and most is not None and k >= most:
                continue
            c.rule(state(nxt_i, nxt_k)[1], here, *sep, item(j, counted))
            if (nxt_i, nxt_k) not in seen:
                seen.add((nxt_i, nxt_k))
                todo.append((nxt_i, nxt_k))
    out = [(c.t(layout.open("[", depth), "["), ("n", done), c.t(layout.close("]", depth), "]"))]
    if lo == 0 and need == 0:
        out.append((c.t(layout.empty("[]"), "[]"),))
    return out


def _positions(c: "_Compiler", schema: dict, ptr: str) -> tuple[list[tuple[Any, str]], tuple[Any, str]]:
    """([(schema, pointer) of each tuple position], (schema, pointer) of the items after them)."""
    items = schema.get("items", True)
    if c.tuple_items:
        if isinstance(items, list):
            prefix = [(s, f"{ptr}/items/{k}") for k, s in enumerate(items)]
            return prefix, (schema.get("additionalItems", True), f"{ptr}/additionalItems")
        return [], (items, f"{ptr}/items")
    if isinstance(items, list):
        raise SchemaError("items must be a schema (2020-12: a tuple is prefixItems)", f"{ptr}/items")
    prefix = schema.get("prefixItems", [])
    if not isinstance(prefix, list):
        raise SchemaError("prefixItems must be a list of schemas", f"{ptr}/prefixItems")
    return [(s, f"{ptr}/prefixItems/{k}") for k, s in enumerate(prefix)], (items, f"{ptr}/items")


def _count(c: "_Compiler", schema: dict, key: str, ptr: str, default: int | None) -> int | None:
    v = schema.get(key, default)
    if v is default:
        return v
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise SchemaError(f"{key} must be a non-negative integer", f"{ptr}/{key}")
    if v > MAX_REPEAT:
        c.unsupported(f"{key} above {MAX_REPEAT} is not supported", f"{ptr}/{key}")
        return default
    return v
