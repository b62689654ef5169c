"""Objects: declared properties in schema order (optional ones skippable), then undeclared names.

The members are a small automaton whose states become (left-recursive) nonterminals: a state is the
position reached in each property order list plus the number of members written so far (saturating
once it no longer matters), which is what `minProperties`/`maxProperties` need. A merged schema
(allOf, `$ref` siblings, anyOf/oneOf beside other keywords) keeps each part's `properties` order: its
members may come in any interleaving of those orders (a name declared by several parts follows the
last one's order), so whichever part the writer followed, the object is accepted.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .. import deadline
from ..automaton.regex import literal
from .errors import SchemaError
from .nodes import cat
from .names import Names, key_not_in, matches

if TYPE_CHECKING:
    from .compiler import _Compiler

ORDERS = "$constrain:orders"  # a merged schema's property order lists, one per part (set by merge)
MAX_OBJECT_STATES = 5000
MAX_PROPERTY_COUNT = 100  # largest minProperties/maxProperties we count to


def object_alternatives(c: "_Compiler", schema: dict, ptr: str, depth: int) -> list[tuple]:
    """Right-hand sides for the objects `schema` allows."""
    props = schema.get("properties", {}) or {}
    if not isinstance(props, dict):
        raise SchemaError("properties must be an object", f"{ptr}/properties")
    required = list(dict.fromkeys(schema.get("required", []) or []))
    additional = schema.get("additionalProperties", True)
    lo, hi = _count_bounds(c, schema, ptr)
    if hi is not None and hi < lo:
        return []
    names = Names(c, schema, ptr) if "patternProperties" in schema or "propertyNames" in schema else None
    values: dict[str, tuple[Any, str]] = {name: (sub, f"{ptr}/properties/{_esc(name)}") for name, sub in props.items()}
    for name in required:
        if name not in values:
            matched = names is not None and any(matches(dfa, name) for dfa in names.dfas)
            values[name] = (True if matched else additional, f"{ptr}/required/{_esc(name)}")
    for name in names.finite or [] if names is not None else []:
        if name not in values:
            matched = any(matches(dfa, name) for dfa in names.dfas)
            values[name] = (True if matched else additional, f"{ptr}/propertyNames")
    if names is not None:
        values = {name: (names.value_schema(name, sub), sptr) for name, (sub, sptr) in values.items()}
    orders = schema.get(ORDERS, [list(props)])
    owner = {name: k for k, order in enumerate(orders) for name in order}  # a shared name: the last part's
    orders = [[n for n in order if n in values and owner[n] == k] for k, order in enumerate(orders)]
    extras = [[n] for n in values if not any(n in order for order in orders)]  # in any order
    orders = [order for order in orders + extras if order]
    try:
        machine = _Members(orders, set(required), lo, hi)
    except _TooManyStates:
        try:
            machine = _Members([list(values)], set(required), lo, hi)  # one order: the merged one
        except _TooManyStates:
            c.unsupported(f"counting members of an object with {len(values)} declared properties takes more "
                          f"than {MAX_OBJECT_STATES} states", f"{ptr}/{_bound_keyword(lo, hi)}")
            lo, hi = 0, None
            machine = _Members([list(values)], set(required), lo, hi)

    layout, nt, ready_nt = c.layout, {}, {}
    comma = c.t(layout.comma(depth), "COMMA")

    def prefix(s) -> tuple:
        """The members written so far, ending in member state `s`: left-recursive, so a long
        object's Earley sets keep the object's start as their origin and repeat from member to
        member (right recursion would make new sets, and longer completion chains, at each one)."""
        if s not in nt:
            nt[s] = c.nt(f"{ptr}#members{len(nt)}")
        return ("n", nt[s])

    def ready(s) -> tuple:
        """`prefix(s)` and its comma (if a member was written): where the next member starts.
        Optional names are skipped from here, after the comma: the Earley set that ends a value
        then holds a few items, not one per property still ahead; the set after the comma gets
        those as one shared completion (`grammar.earley.Completion`)."""
        if s not in ready_nt:
            ready_nt[s] = c.nt(f"{ptr}#next{len(ready_nt)}")
            c.rule(ready_nt[s], prefix(s), *((comma,) if s[1] else ()))
        return ("n", ready_nt[s])

    keys = {name: c.t(cat(literal(json.dumps(name)), layout.colon()), json.dumps(name))
            for name in values}
    members = {name: ("n", c.compile(sub, sptr, depth + 1)) for name, (sub, sptr) in values.items()}
    if names is not None:
        classes = [] if names.finite is not None else names.undeclared(list(values), additional)
    else:
        classes = [] if additional is False else [(key, additional, f"{ptr}/additionalProperties")
                                                  for key in key_not_in(list(values))]
    more = [(c.t(cat(key, layout.colon()), f"KEY@{sptr}"), ("n", c.compile(sub, sptr, depth + 1)))
            for key, sub, sptr in classes]
    done = c.nt(f"{ptr}#members")
    c.rule(prefix(machine.start)[1])
    for s in machine.states():
        for name, nxt in machine.moves(s):
            c.rule(prefix(nxt)[1], ready(s), keys[name], members[name])
        for nxt in machine.skips(s):
            c.rule(ready(nxt)[1], ready(s))
        if machine.declared_done(s):
            if s[1] >= max(lo, 1):
                c.rule(done, prefix(s))
            for key, value in more if machine.below_max(s[1]) else ():
                c.rule(prefix(((), machine.bump(s[1])))[1], ready(s), key, value)
    out = [(c.t(layout.open("{", depth), "{"), ("n", done), c.t(layout.close("}", depth), "}"))]
    if lo == 0 and not required:
        out.append((c.t(layout.empty("{}"), "{}"),))
    return out


class _TooManyStates(Exception):
    pass


class _Members:
    """The member automaton: a state is (positions in each order list, members written so far);
    the undeclared part after the declared one has no positions (`()`)."""

    def __init__(self, orders: list[list[str]], required: set[str], lo: int, hi: int | None):
        self.orders, self.required, self.lo, self.hi = orders, required, lo, hi
        self.cap = hi if hi is not None else max(lo, 1)
        self.start = (tuple(0 for _ in orders), 0)
        self._states = self._explore()

    def bump(self, k: int) -> int:
        return min(k + 1, self.cap)

    def below_max(self, k: int) -> bool:
        return self.hi is None or k < self.hi

    def moves(self, s) -> list[tuple[str, tuple]]:
        """Write the next name of one order list. The lists are disjoint (`object_alternatives`
        gives each name to one), so a name moves its own list only."""
        pos, k = s
        if not pos or not self.below_max(k):
            return []
        return [(order[p], (pos[:j] + (p + 1,) + pos[j + 1:], self.bump(k)))
                for j, (order, p) in enumerate(zip(self.orders, pos)) if p < len(order)]

    def skips(self, s) -> list[tuple]:
        """Pass over the next name of one order list without writing it (optional names only).
        Skipping one name at a time keeps the rules linear in the names: jumping from each
        position straight to every later name would make them quadratic (1000 optional
        properties: a million rules)."""
        pos, k = s
        return [(pos[:j] + (p + 1,) + pos[j + 1:], k) for j, (order, p) in enumerate(zip(self.orders, pos))
                if p < len(order) and order[p] not in self.required]

    def declared_done(self, s) -> bool:
        """May the declared part end here (no required name left)?"""
        pos, _ = s
        return not any(n in self.required for order, p in zip(self.orders, pos) for n in order[p:])

    def states(self) -> list:
        return self._states

    def _explore(self) -> list:
        seen, stack = {self.start}, [self.start]
        while stack:
            s = stack.pop()
            deadline.check()
            nxt = [t for _, t in self.moves(s)] + self.skips(s)
            if self.declared_done(s) and s[0]:
                nxt.append(((), s[1]))
            if not s[0] and self.below_max(s[1]):
                nxt.append(((), self.bump(s[1])))
            for t in nxt:
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
                    if len(seen) > MAX_OBJECT_STATES:
                        raise _TooManyStates
        return sorted(seen, key=lambda s: (len(s[0]) == 0, s))


def _count_bounds(c: "_Compiler", schema: dict, ptr: str) -> tuple[int, int | None]:
    lo, hi = schema.get("minProperties", 0), schema.get("maxProperties")
    for key, v in (("minProperties", lo), ("maxProperties", hi)):
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise SchemaError(f"{key} must be a non-negative integer", f"{ptr}/{key}")
        lo, hi = (v, hi) if key == "minProperties" else (lo, v)
    if lo > MAX_PROPERTY_COUNT:
        c.unsupported(f"minProperties above {MAX_PROPERTY_COUNT} is not supported", f"{ptr}/minProperties")
        lo = 0
    if hi is not None and hi > MAX_PROPERTY_COUNT:
        c.unsupported(f"maxProperties above {MAX_PROPERTY_COUNT} is not supported", f"{ptr}/maxProperties")
        hi = None
    return lo, hi


def _bound_keyword(lo: int, hi: int | None) -> str:
    """The keyword to blame for too many member states: a count bound if any, else the names."""
    return "maxProperties" if hi is not None else "minProperties" if lo else "properties"


def _esc(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")
