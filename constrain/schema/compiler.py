"""JSON Schema -> context-free `Grammar` whose language is (a documented subset of) the valid JSON texts.

Soundness first: every text the grammar accepts is valid against the schema (checked the way
`jsonschema` checks it, asserting formats as its 2020-12 format checker does, whatever the draft). Completeness is limited by these policies:

- Drafts 4, 6, 7, 2019-09 and 2020-12, read from the root's `$schema` (default 2020-12; draft 3 is
  unsupported). Each draft's own keywords count; others (and annotations, `_format`...) are ignored.
- Layout (`whitespace`, see `layout.py`): "compact" is Python's default `json.dumps` layout
  (separators `", "` and `": "`), "flexible" any JSON whitespace between tokens (bounded runs),
  "indent" `json.dumps(value, indent=2)`. `ensure_ascii` style escapes allowed but not required.
  Object keys are written exactly as `json.dumps(key)` writes them.
- Property order: properties are emitted in the order of the schema's `properties`; optional ones may
  be skipped; names in `required` but not in `properties` may come anywhere, in any order. A merged
  schema (allOf, `$ref` siblings, anyOf/oneOf/if beside other keywords) accepts any interleaving of
  its parts' orders (see `objects.py`). Unless `additionalProperties` is `false`, other properties
  (value checked by the `additionalProperties` schema or any JSON value) may follow the declared
  ones, their names spelled as `json.dumps` writes them (`names.py`).
- Integers are written as digits, or with a zero fraction below 1e15 (`1.0` is an integer; not
  `1e0`, nor `-0`); numbers with bounds or `multipleOf` as
  `json.dumps` writes them (plain decimals, normalised exponents `1e-05`, `1.5e+20`), multiples of an
  integral step as integers (`numbers.py`).
- Strings (`strings.py`): `pattern` is a search on the decoded string, read so that ECMA-262 and
  Python's `re` agree (`patterns.py`); every character class becomes all the JSON spellings of its
  characters (raw UTF-8, short escapes, `\\uXXXX`, surrogate pairs), so the constraint on the decoded
  content is exact whatever the escaping. The `format`s the 2020-12 checker asserts are enforced by
  regexes accepting a documented subset, printable ASCII written raw (`formats.py`: date-time, date,
  time, duration, email, hostname, ipv4, ipv6, uuid, uri, uri-reference, iri, json-pointer, regex...);
  `idn-hostname` and `uri-template` are unsupported; formats the checker ignores (`int32`, custom
  names) are annotations. Length bounds, `pattern` and `format` intersect into one automaton.

- `$ref`: resolved inside the document only (`refs.py`): JSON pointers, `$id` (draft 4 `id`) base
  URIs and embedded resources, `$anchor`; another document (http://, file://, a urn or path not
  declared by an `$id`) is refused. Recursion is a rule cycle. In drafts 4 to 7 keywords beside
  `$ref` are ignored (as those drafts say); from 2019-09 on they are merged with the target like `allOf`.
- `allOf`: merged into one schema (`properties` merge per name, `required` unions, `type` and
  `enum`/`const` intersect, a part's `additionalProperties` applies to the names other parts declare,
  `anyOf`s multiply out); two parts setting another keyword differently are unsupported.
- `oneOf`: compiled as `anyOf`; a branch that may overlap another (not provably disjoint: no shared
  type, disjoint const/enum values, objects requiring one property with disjoint const/enum values,
  or one object requiring a property the other, closed, cannot have) becomes "this branch and not
  the overlapping ones", so the negations of those must exist (`negation.py`); else unsupported.
- `not`: the forms `negation.py` complements exactly (type, string/boolean/null enum, required,
  properties of those, anyOf/allOf of those); `if`/`then`/`else` becomes
  `anyOf[allOf[if, then], allOf[not if, else]]`, so `if` must be such a form.
- `dependentRequired`, `dependentSchemas`, draft 4-7 `dependencies`: `anyOf` of "the name is absent"
  and "the name is present, with its requirements", which are disjoint.
- `enum`/`const`: the values are filtered with `jsonschema` against the rest of the subschema (regex
  keywords searched under a timeout, `validation.py`: a value whose check times out is left out),
  then written in the layout (`json.dumps` spelling of scalars and keys, members in the value's
  order); a value `json.dumps` cannot write (an int past Python's digit limit) is unsupported.
- Objects: `minProperties`/`maxProperties` up to 100 (members are counted in the rules);
  `patternProperties` (up to 4) and `propertyNames` (a string schema) split names into disjoint
  classes of key terminals (`names.py`).
  Arrays: `items` (one schema or a tuple), `prefixItems`, `additionalItems`, `contains` with
  `minContains` (and `maxContains` when `contains` is negatable), `minItems`/`maxItems` up to 1000
  (unrolled into rules); strings:
  `minLength`/`maxLength` in code points, counted in an automaton of at most 100 000 states (a
  pattern-free bound of about 5000 characters); integers and numbers: bounds up to 1e30, exact for
  the value `jsonschema` reads (a float after rounding), `multipleOf` as `numbers.py` says.
- A subschema that no value satisfies (`false`, an empty filtered enum, `minItems > maxItems`...)
  simply matches nothing; `SchemaError` is raised when that makes the whole schema unsatisfiable
  (or for contradictory bounds, which are reported where they are).

Every keyword that constrains values but is not enforced raises `UnsupportedSchemaError` naming it
(pointer `#/.../keyword`): patternProperties/propertyNames beyond `names.py`, unevaluated*, multipleOf beyond `numbers.py`,
uniqueItems: true, $dynamicRef/$recursiveRef, content*, `not`/`if` beyond the forms above, remote
`$ref`, other formats. With `lenient=True` each of these is dropped instead (the grammar accepts a
superset) and its pointer is listed in `relaxed`, for the caller to validate the output.
"""
from __future__ import annotations

import json
from typing import Any

from referencing.exceptions import Unresolvable

from .. import deadline
from ..automaton.product import NOTHING, intersect
from ..automaton.regex import Node
from ..errors import LimitError
from ..grammar.cfg import Grammar, Rule, Terminal
from ..jsontype import json_type
from .arrays import array_alternatives
from .errors import SchemaError, UnsupportedSchemaError
from .layout import Layout
from .negation import NOT_STRINGS, negate
from .nodes import words_except
from .numbers import integer_pattern, number_pattern
from .objects import ORDERS, object_alternatives
from .refs import Resolver
from .strings import quoted, string_pattern
from .validation import local_validator

# keywords of the draft's vocabulary we never enforce (they raise, or are relaxed, when present)
_UNSUPPORTED = {"unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$recursiveRef"}
_TYPES = ("null", "boolean", "object", "array", "string", "integer", "number")
_STRING_KW = {"minLength", "maxLength", "pattern", "format"}
_COMBINATORS = ("allOf", "not", "if", "dependentRequired", "dependentSchemas", "dependencies", "oneOf")
_PRIVATE = (ORDERS, NOT_STRINGS)
_POSITIONAL = ("items", "prefixItems", "additionalItems")
_SIGNED = ("type", "properties", "required", "additionalProperties")  # what signatures read
_NUMERIC_BOUNDS = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")
MAX_BRANCHES = 256  # anyOf branches after multiplying out merged anyOfs


# ---------------------------------------------------------------- the compiler

class _Compiler:
    def __init__(self, root: Any, layout: Layout, lenient: bool = False):
        import jsonschema

        self.root = root
        self.layout = layout
        self.lenient = lenient
        self.relaxed: list[str] = []
        self.terminals: list[Terminal] = []
        self.term_index: dict[Node, int] = {}
        self.nonterminals: list[str] = []
        self.rules: list[tuple[int, tuple]] = []  # lhs nonterminal index, rhs of ("t"|"n", index)
        self.memo: dict[tuple, int] = {}
        self._alive: list[Any] = []
        self._validator = None
        self.cls = jsonschema.validators.validator_for(root if isinstance(root, dict) else {},
                                                       default=jsonschema.Draft202012Validator)
        if self.cls is jsonschema.Draft3Validator:
            raise UnsupportedSchemaError("draft 3 schemas are not supported", "#/$schema")
        self.vocabulary = set(self.cls.VALIDATORS)  # plus the keywords jsonschema reads inside others':
        self.vocabulary |= {"then", "else"} if "if" in self.vocabulary else set()
        self.vocabulary |= {"minContains", "maxContains"} if "dependentRequired" in self.vocabulary else set()
        self.legacy_ref = self.cls in (jsonschema.Draft4Validator, jsonschema.Draft6Validator,
                                       jsonschema.Draft7Validator)
        self.tuple_items = "prefixItems" not in self.vocabulary  # items: [..] is a tuple before 2020-12
        self.refs = Resolver(root, "id" if self.cls is jsonschema.Draft4Validator else "$id", self.legacy_ref)

    # -- symbols
    def t(self, pattern: Node, name: str) -> tuple:
        k = self.term_index.get(pattern)
        if k is None:
            k = self.term_index[pattern] = len(self.terminals)
            self.terminals.append(Terminal(name, pattern))
        return ("t", k)

    def nt(self, name: str) -> int:
        self.nonterminals.append(name)
        return len(self.nonterminals) - 1

    def rule(self, lhs: int, *rhs: tuple) -> None:
        self.rules.append((lhs, rhs))

    def grammar(self, start: int) -> Grammar:
        n = len(self.terminals)
        rules = [Rule(n + lhs, tuple([s[1] if s[0] == "t" else n + s[1] for s in rhs])) for lhs, rhs in self.rules]
        return Grammar(list(self.terminals), list(self.nonterminals), rules, n + start)

    def unsupported(self, message: str, pointer: str) -> None:
        """Strict: raise. Lenient: record the pointer; the caller then drops the constraint."""
        if not self.lenient:
            raise UnsupportedSchemaError(message, pointer)
        if pointer not in self.relaxed:
            self.relaxed.append(pointer)

    # -- schema helpers
    def keywords(self, schema: dict) -> dict:
        """The keywords of `schema` that this draft gives a meaning to (plus our private ones)."""
        return {k: v for k, v in schema.items() if k in self.vocabulary or k in _PRIVATE}

    def resolve(self, ref: Any, ptr: str) -> tuple[Any, str]:
        return self.refs.resolve(ref, ptr)

    def validator(self):
        if self._validator is None:
            self._validator = local_validator(self.cls, self.root)
        return self._validator

    def deref(self, schema: Any, ptr: str, seen=()) -> tuple[Any, str]:
        """Follow a schema that is only a `$ref` (plus ignored keywords)."""
        while isinstance(schema, dict) and "$ref" in schema and (
                self.legacy_ref or all(k == "$ref" for k in self.keywords(schema))):
            if ptr in seen:
                raise SchemaError("$ref cycle that produces no value", ptr)
            seen = seen + (ptr,)
            schema, ptr = self.resolve(schema["$ref"], ptr + "/$ref")
        return schema, ptr

    # -- entry
    def compile(self, schema: Any, ptr: str, depth: int = 0) -> int:
        """The nonterminal for `schema` (memoised by pointer and layout level, so recursion is a rule cycle)."""
        key = (ptr, self.layout.level(depth), id(schema))
        if key in self.memo:
            return self.memo[key]
        deadline.check()
        self._alive.append(schema)  # merged schemas are built on the fly: keep their ids unique
        nt = self.memo[key] = self.nt(ptr)
        for rhs in self.alternatives(schema, ptr, depth):
            self.rule(nt, *rhs)
        return nt

    def any_value(self, depth: int) -> int:
        key = ("<any>", self.layout.level(depth), 0)
        if key not in self.memo:
            self.memo[key] = nt = self.nt("<any>")
            for rhs in self.typed({}, "<any>", _TYPES[:-2] + ("number",), depth):
                self.rule(nt, *rhs)
        return self.memo[key]

    def alternatives(self, schema: Any, ptr: str, depth: int) -> list[tuple]:
        if schema is True:
            return [(("n", self.any_value(depth)),)]
        if schema is False:
            return []
        if not isinstance(schema, dict):
            raise SchemaError(f"a schema must be an object or a boolean, not {type(schema).__name__}", ptr)
        kw = self.keywords(schema)
        if not kw:
            return [(("n", self.any_value(depth)),)]
        if "$ref" in kw:
            target, tptr = self.resolve(kw["$ref"], ptr + "/$ref")
            rest = {} if self.legacy_ref else {k: v for k, v in kw.items() if k != "$ref"}
            if not rest:
                return [(("n", self.compile(target, tptr, depth)),)]
            return self.alternatives(self.merge([target, rest], [tptr, ptr], ptr), ptr, depth)
        if any(k in kw for k in _COMBINATORS):
            return self.alternatives(self.merge([kw], [ptr], ptr), ptr, depth)
        if "anyOf" in kw:
            branches = kw["anyOf"]
            if not isinstance(branches, list) or not branches:
                raise SchemaError("anyOf must be a non-empty list", f"{ptr}/anyOf")
            rest = {k: v for k, v in kw.items() if k != "anyOf"}
            out = []
            for k, b in enumerate(branches):
                bptr = f"{ptr}/anyOf/{k}"
                if rest:
                    out += self.alternatives(self.merge([rest, b], [ptr, bptr], bptr), bptr, depth)
                else:
                    out.append((("n", self.compile(b, bptr, depth)),))
            return out
        if "const" in kw or "enum" in kw:
            return self.enum(kw, ptr, depth)
        for key in kw:
            if key in _UNSUPPORTED:
                self.unsupported(f"keyword {key!r} is not supported", f"{ptr}/{key}")
        if kw.get("uniqueItems") is True:
            self.unsupported("uniqueItems is not supported", f"{ptr}/uniqueItems")
        types = kw.get("type")
        if types is None:
            types = list(_TYPES)
        elif isinstance(types, str):
            types = [types]
        for t in types:
            if t not in _TYPES:
                raise SchemaError(f"unknown type {t!r}", f"{ptr}/type")
        types = list(dict.fromkeys(types))
        if "number" in types and "integer" in types:
            types.remove("integer")
        return self.typed(kw, ptr, tuple(types), depth)

    def typed(self, schema: dict, ptr: str, types: tuple, depth: int) -> list[tuple]:
        out = []
        for t in types:
            if t == "null":
                out.append((self.t(self.layout.value(None, 0), "null"),))
            elif t == "boolean":
                out += [(self.t(self.layout.value(True, 0), "true"),), (self.t(self.layout.value(False, 0), "false"),)]
            elif t == "string":
                out += self.string(schema, ptr)
            elif t == "integer":
                out += self.integer(schema, ptr)
            elif t == "number":
                out += self.number(schema, ptr)
            elif t == "object":
                out += object_alternatives(self, schema, ptr, depth)
            elif t == "array":
                out += array_alternatives(self, schema, ptr, depth)
        return out

    # -- enum / const
    def enum(self, schema: dict, ptr: str, depth: int) -> list[tuple]:
        """The values of `const`/`enum` the rest of the subschema accepts. Each is checked against
        the subschema without `enum`/`const` (and `const` against `enum` alone): jsonschema's enum
        check is a linear scan, so checking every value against the whole enum is quadratic."""
        enum = schema.get("enum")
        if "enum" in schema and not isinstance(enum, list):
            raise SchemaError("enum must be a list", f"{ptr}/enum")
        rest = self.validator().evolve(schema={k: x for k, x in schema.items()
                                               if k not in _PRIVATE and k not in ("enum", "const")})
        if "const" in schema:
            values, where = [schema["const"]], [f"{ptr}/const"]
            if enum is not None and not self.validator().evolve(schema={"enum": enum}).is_valid(values[0]):
                return []
        else:
            values, where = enum, [f"{ptr}/enum/{k}" for k in range(len(enum))]
        excluded = schema.get(NOT_STRINGS, [])
        out = []
        for value, vptr in zip(values, where):
            deadline.check()
            try:
                if isinstance(value, str) and value in excluded or not rest.is_valid(value):
                    continue
            except Unresolvable as e:  # the registry fetches nothing (`validation.local_validator`)
                raise UnsupportedSchemaError(f"checking this value needs $ref {e.ref!r}, another document: remote "
                                             "references are refused (a schema never reads files or the network)",
                                             vptr) from None
            try:
                node = self.layout.value(value, depth)
            except (ValueError, OverflowError) as e:  # an int past Python's digit limit, say
                raise UnsupportedSchemaError(f"a value json.dumps cannot write exactly ({e})", vptr) from None
            out.append((self.t(node, vptr),))
        return out  # empty: this subschema matches nothing (an error only if the root needs it)

    # -- allOf merging
    def merge(self, parts: list, ptrs: list[str], ptr: str) -> Any:
        """One schema equivalent to allOf(parts) in which `anyOf` is the only combinator left."""
        flat: list[tuple[dict, str]] = []
        for part, pptr in zip(parts, ptrs):
            if self._flatten(part, pptr, flat, ()) is False:
                return False
        out: dict = {}
        orders: list[list[str]] = []
        closers: list[tuple[set, Any]] = []  # (names a part declares, its additionalProperties)
        positional: list[tuple[list, Any]] = []  # (tuple positions, the items after them) per part
        for kw, pptr in flat:
            if any(k in kw for k in _POSITIONAL):
                positional.append(self._positions(kw))
            if "additionalProperties" in kw and kw["additionalProperties"] is not True:
                closers.append((set(kw.get("properties") or {}), kw["additionalProperties"]))
                if len(flat) > 1 and any("patternProperties" in other for other, _ in flat):
                    self.unsupported("additionalProperties merged with patternProperties (of this or another "
                                     "part) is not supported", f"{pptr}/additionalProperties")
                    closers.pop()
            orders += kw.get(ORDERS) or ([list(kw["properties"])] if kw.get("properties") else [])
            for key, value in kw.items():
                if key == ORDERS or key in _POSITIONAL:
                    continue
                if key == "const":
                    key, value = "enum", [value]
                if key not in out:
                    out[key] = value
                    continue
                merged = self._merge_keyword(key, out[key], value, f"{pptr}/{key}")
                if merged is _CONFLICT:
                    self.unsupported(f"allOf branches both set {key!r} differently (cannot merge)", f"{pptr}/{key}")
                    del out[key]
                else:
                    out[key] = merged
        if closers:
            props = dict(out.get("properties") or {})
            for names, extra in closers:
                for name in props:
                    if name not in names:
                        props[name] = {"allOf": [props[name], extra]}
            if props:
                out["properties"] = props
            extras = [extra for _, extra in closers]
            out["additionalProperties"] = extras[0] if len(extras) == 1 else {"allOf": extras}
        if len(orders) > 1:
            out[ORDERS] = orders
        if positional:
            out.update(self._merge_positions(positional))
        return out

    def _positions(self, kw: dict) -> tuple[list, Any]:
        items = kw.get("items", True)
        if self.tuple_items:
            return (items, kw.get("additionalItems", True)) if isinstance(items, list) else ([], items)
        return list(kw.get("prefixItems") or []), items

    def _merge_positions(self, parts: list[tuple[list, Any]]) -> dict:
        """Each part's `items` speaks of the positions after its own tuple: merge position by position."""
        if len(parts) == 1:
            prefix, rest = parts[0]
        else:
            both = lambda xs: xs[0] if len(xs) == 1 else {"allOf": xs}
            prefix = [both([p[j] if j < len(p) else r for p, r in parts]) for j in range(max(len(p) for p, _ in parts))]
            rest = both([r for _, r in parts])
        if self.tuple_items:
            return {"items": prefix, "additionalItems": rest} if prefix else {"items": rest}
        return {"prefixItems": prefix, "items": rest} if prefix else {"items": rest}

    def _flatten(self, part: Any, pptr: str, flat: list, stack: tuple) -> Any:
        """Append the conjuncts of `part` to `flat`: `$ref`s, allOf, and every combinator rewritten
        into `anyOf` (not, if/then/else, dependencies, disjoint oneOf). False if `part` is `false`."""
        part, pptr = self.deref(part, pptr)
        if part is True:
            return True
        if part is False:
            return False
        if not isinstance(part, dict):
            raise SchemaError("a schema must be an object or a boolean", pptr)
        if pptr in stack:
            raise UnsupportedSchemaError("a $ref cycle through allOf or $ref siblings cannot be merged", pptr)
        stack = stack + (pptr,)
        kw = self.keywords(part)
        subs: list[tuple[Any, str]] = []
        if "$ref" in kw:
            subs.append(self.resolve(kw["$ref"], f"{pptr}/$ref"))
            kw = {} if self.legacy_ref else kw
        if isinstance(kw.get("allOf"), list):
            subs += [(b, f"{pptr}/allOf/{k}") for k, b in enumerate(kw["allOf"])]
        for key, value in kw.items():
            if key == "not":
                subs.append((self._negation(value, f"{pptr}/not"), f"{pptr}/not"))
            elif key == "if" and ("then" in kw or "else" in kw):
                subs.append((self._if_then_else(kw, pptr), f"{pptr}/if"))
            elif key == "dependentRequired" or (key == "dependencies" and isinstance(value, dict)):
                for name, dep in value.items():
                    need = {"required": [name] + list(dep)} if isinstance(dep, list) else \
                        {"allOf": [{"required": [name]}, dep]}
                    subs.append(({"anyOf": [{"properties": {name: False}}, need]}, f"{pptr}/{key}/{name}"))
            elif key == "dependentSchemas":
                for name, dep in value.items():
                    subs.append(({"anyOf": [{"properties": {name: False}}, {"allOf": [{"required": [name]}, dep]}]},
                                 f"{pptr}/{key}/{name}"))
            elif key == "oneOf":
                subs.append(({"anyOf": self.one_of(value, pptr, {k: v for k, v in kw.items() if k in _SIGNED})},
                             f"{pptr}/oneOf"))
        own = {k: v for k, v in kw.items() if k not in _COMBINATORS and k not in ("$ref", "then", "else")}
        if own:
            flat.append((own, pptr))
        for sub, sptr in subs:
            if self._flatten(sub, sptr, flat, stack) is False:
                return False
        return True

    def _negation(self, schema: Any, ptr: str) -> Any:
        try:
            return negate(self, schema, ptr)
        except UnsupportedSchemaError as e:
            self.unsupported(e.reason, ptr)
            return True

    def _if_then_else(self, kw: dict, ptr: str) -> Any:
        cond, then, other = kw["if"], kw.get("then", True), kw.get("else", True)
        try:
            negated = negate(self, cond, f"{ptr}/if")
        except UnsupportedSchemaError as e:
            self.unsupported(f"if: {e.reason}", f"{ptr}/if")
            return {"anyOf": [then, other]}
        return {"anyOf": [{"allOf": [cond, then]}, {"allOf": [negated, other]}]}

    def _merge_keyword(self, key: str, a: Any, b: Any, ptr: str) -> Any:
        if json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True):
            return a
        if key == "properties":
            return {name: ({"allOf": [a[name], b[name]]} if name in a and name in b else a.get(name, b.get(name)))
                    for name in merge_order(list(a), list(b))}
        if key == "required" or key == NOT_STRINGS:
            return list(dict.fromkeys(list(a) + list(b)))
        if key == "type":
            sa, sb = ({t} if isinstance(t, str) else set(t) for t in (a, b))
            for s in (sa, sb):
                if "number" in s:
                    s.add("integer")
            return [t for t in _TYPES if t in sa and t in sb]
        if key == "patternProperties":
            return {p: ({"allOf": [a[p], b[p]]} if p in a and p in b else a.get(p, b.get(p))) for p in {**a, **b}}
        if key == "propertyNames":
            return {"allOf": [a, b]}
        if key == "enum":  # hashed, not jsonschema's linear `enum` check per value: two large enums
            allowed = {_equality_key(v) for v in b}
            return [v for v in a if _equality_key(v) in allowed]
        if key == "anyOf":
            if len(a) * len(b) > MAX_BRANCHES:
                return _CONFLICT
            return [{"allOf": [x, y]} for x in a for y in b]
        if key in ("items", "additionalItems", "contains") and isinstance(a, (dict, bool)) and \
                isinstance(b, (dict, bool)) and key != "contains":
            return {"allOf": [a, b]}
        if key in _NUMERIC_BOUNDS and "exclusiveMinimum" in self.vocabulary and not isinstance(a, bool) \
                and not isinstance(b, bool) and isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return max(a, b) if key in ("minimum", "exclusiveMinimum") else min(a, b)  # drafts 6+
        if key in ("minItems", "minProperties", "minLength", "minContains"):
            return max(a, b)
        if key in ("maxItems", "maxProperties", "maxLength", "maxContains"):
            return min(a, b)
        return _CONFLICT

    def one_of(self, branches: Any, ptr: str, rest: dict) -> list:
        """anyOf branches equal to the oneOf: each branch as it is where it is disjoint from the
        others (`_disjoint`), and otherwise with the negations of those it may overlap, so that
        exactly one branch matches (`B_i and not B_j`); unsupported when a needed negation is."""
        if not isinstance(branches, list) or not branches:
            raise SchemaError("oneOf must be a non-empty list", f"{ptr}/oneOf")
        sigs = []
        for k, b in enumerate(branches):
            bptr = f"{ptr}/oneOf/{k}"
            if rest:
                try:
                    b = self.merge([rest, b], [ptr, bptr], bptr)
                except UnsupportedSchemaError:
                    pass
            sigs.append(self.signature(b, bptr))
        overlaps = {i: [j for j in range(len(sigs)) if j != i and not _disjoint(sigs[i], sigs[j])]
                    for i in range(len(sigs))}
        if not any(overlaps.values()):
            return branches
        negs = {}
        for j in sorted(set().union(*overlaps.values())):
            try:
                negs[j] = negate(self, branches[j], f"{ptr}/oneOf/{j}")
            except UnsupportedSchemaError as e:
                self.unsupported(f"oneOf branches {j} and {overlaps[j][0]} may match the same value, and branch "
                                 f"{j} cannot be negated to tell them apart ({e.reason})", f"{ptr}/oneOf")
                return branches
        return [{"allOf": [b] + [negs[j] for j in overlaps[i]]} if overlaps[i] else b for i, b in enumerate(branches)]

    def types_of(self, b: Any, ptr: str, seen: tuple = ()) -> set:
        """The JSON types some value of `b` may have (a superset)."""
        b, ptr = self.deref(b, ptr)
        if b is False:
            return set()
        if not isinstance(b, dict) or ptr in seen:
            return set(_TYPES)
        seen = seen + (ptr,)
        kw = self.keywords(b)
        if "const" in kw or "enum" in kw:
            types = {json_type(v) for v in ([kw["const"]] if "const" in kw else list(kw["enum"] or []))}
        elif "type" in kw:
            types = {kw["type"]} if isinstance(kw["type"], str) else set(kw["type"])
        else:
            types = set(_TYPES)
        if "number" in types:
            types.add("integer")
        if "integer" in types:
            types.add("number")
        if "$ref" in kw:
            types &= self.types_of(self.resolve(kw["$ref"], f"{ptr}/$ref")[0], f"{ptr}/$ref", seen)
        for k, sub in enumerate(kw.get("allOf") or []):
            types &= self.types_of(sub, f"{ptr}/allOf/{k}", seen)
        for key in ("anyOf", "oneOf"):
            if isinstance(kw.get(key), list):
                types &= set().union(*(self.types_of(s, f"{ptr}/{key}/{k}", seen) for k, s in enumerate(kw[key])))
        return types

    def signature(self, b: Any, ptr: str) -> tuple:
        """(types, values or None, {required property: its const/enum values}, required names,
        allowed names or None when open)."""
        types = self.types_of(b, ptr)
        b, bptr = self.deref(b, ptr)
        if not isinstance(b, dict):
            return (types, None, {}, set(), None)
        kw = self.keywords(b)
        values = None
        if "const" in kw or "enum" in kw:
            values = {json.dumps(v, sort_keys=True) for v in ([kw["const"]] if "const" in kw else kw.get("enum") or [])}
        if any(k in kw for k in ("anyOf", "oneOf", "allOf", "$ref", "not", "if")):
            return (types, values, {}, set(), None)
        tags = {}
        props = kw.get("properties") or {}
        for name in kw.get("required") or []:
            vals = self._values_of(props.get(name), bptr)
            if vals is not None:
                tags[name] = vals
        closed = kw.get("additionalProperties") is False and "patternProperties" not in kw
        return (types, values, tags, set(kw.get("required") or []), set(props) if closed else None)

    def _values_of(self, sub: Any, ptr: str) -> set | None:
        """The const/enum values `sub` is limited to (as canonical JSON), or None if not limited."""
        sub, ptr = self.deref(sub, ptr)
        if not isinstance(sub, dict):
            return None
        kw = self.keywords(sub)
        out = None
        if "const" in kw or "enum" in kw:
            out = {json.dumps(v, sort_keys=True) for v in ([kw["const"]] if "const" in kw else kw.get("enum") or [])}
        for k, part in enumerate(kw.get("allOf") or []):
            vals = self._values_of(part, f"{ptr}/allOf/{k}")
            out = vals if out is None else out if vals is None else out & vals
        return out

    # -- strings and numbers: one terminal each (strings.py, numbers.py)
    def string(self, schema: dict, ptr: str) -> list[tuple]:
        if NOT_STRINGS in schema:  # the string keywords' automaton intersected with "none of these"
            others = quoted(words_except(schema[NOT_STRINGS]))
            found = self._scalar(string_pattern, schema, ptr, "STRING")
            if not found:
                return []
            try:
                node = intersect([self.terminals[found[0][0][1]].pattern, others], max_states=100_000)
            except LimitError as e:
                deadline.reraise_expired(e)
                self.unsupported("not: excluding strings from this string's automaton is too large", ptr)
                return found
            return [] if node is NOTHING else [(self.t(node, f"STRING@{ptr}"),)]
        return self._scalar(string_pattern, schema, ptr, "STRING")

    def integer(self, schema: dict, ptr: str) -> list[tuple]:
        return self._scalar(integer_pattern, schema, ptr, "INTEGER")

    def number(self, schema: dict, ptr: str) -> list[tuple]:
        return self._scalar(number_pattern, schema, ptr, "NUMBER")

    def _scalar(self, build, schema: dict, ptr: str, name: str) -> list[tuple]:
        try:
            node = build(schema, ptr)
        except UnsupportedSchemaError as e:
            self.unsupported(e.reason, e.pointer)  # lenient: any value of the type
            node = build({}, ptr)
        return [] if node is None else [(self.t(node, f"{name}@{ptr}"),)]


_CONFLICT = object()


def _disjoint(a: tuple, b: tuple) -> bool:
    common = a[0] & b[0]
    if not common:
        return True
    if a[1] is not None and b[1] is not None and not a[1] & b[1]:
        return True
    # the only shared type is object, and both require a property with no value in common
    if common != {"object"}:
        return False
    if any(name in b[2] and not a[2][name] & b[2][name] for name in a[2]):
        return True
    # one requires a property the other (closed: additionalProperties false) cannot have
    return (b[4] is not None and bool(a[3] - b[4])) or (a[4] is not None and bool(b[3] - a[4]))


def merge_order(a: list[str], b: list[str]) -> list[str]:
    """The names of `a` and `b` in an order that keeps the relative order of each list where the two
    agree (a topological sort, ties broken by first appearance)."""
    rank = {name: k for k, name in enumerate(dict.fromkeys(a + b))}
    after: dict[str, set[str]] = {name: set() for name in rank}
    for seq in (a, b):
        for x, y in zip(seq, seq[1:]):
            after[y].add(x)
    out: list[str] = []
    while len(out) < len(rank):
        ready = [n for n in rank if n not in out and not after[n] - set(out)]
        out.append(min(ready or [n for n in rank if n not in out], key=rank.__getitem__))
    return out


def _equality_key(v: Any) -> Any:
    """A hashable key equal for exactly the values jsonschema's `enum` calls equal: numbers by
    value (1 == 1.0), booleans apart from numbers, arrays in order, objects as member sets."""
    if isinstance(v, bool) or v is None:
        return ("literal", v)
    if isinstance(v, (int, float)):
        return ("number", v)
    if isinstance(v, list):
        return ("array", tuple(_equality_key(x) for x in v))
    if isinstance(v, dict):
        return ("object", frozenset((k, _equality_key(x)) for k, x in v.items()))
    return ("string", v)


def load_schema(schema: Any) -> Any:
    """A dict/bool, JSON text, or a Pydantic model class -> the schema object."""
    if isinstance(schema, (dict, bool)):
        return schema
    if isinstance(schema, (str, bytes)):
        try:
            return json.loads(schema)
        except ValueError as e:  # not JSON, or bytes that are not UTF-8 (UnicodeDecodeError)
            raise SchemaError(f"schema is not valid JSON: {e}", "#") from None
        except RecursionError:
            raise UnsupportedSchemaError("the schema nests too deeply", "#") from None
    if hasattr(schema, "model_json_schema"):
        return schema.model_json_schema()
    raise SchemaError(f"a schema must be a dict, JSON text or a Pydantic model, not {type(schema).__name__}", "#")


def compile_schema(schema: Any, *, whitespace: str = "compact", lenient: bool = False) -> tuple[Grammar, list[str]]:
    """The reduced `Grammar` of the JSON texts valid against `schema` (see the module docs), and the
    pointers of the keywords relaxed (always empty unless `lenient`)."""
    layout = Layout(whitespace)
    schema = load_schema(schema)
    if schema is False:
        raise SchemaError("the schema `false` accepts no value", "#")
    c = _Compiler(schema, layout, lenient)
    try:
        start = c.compile(schema, "#")
    except RecursionError:
        raise UnsupportedSchemaError("the schema nests too deeply", "#") from None
    from ..errors import GrammarError

    try:
        return c.grammar(start).reduced(), c.relaxed
    except GrammarError:
        raise SchemaError("no JSON value satisfies the schema", "#") from None


def schema_to_grammar(schema: Any, *, whitespace: str = "compact") -> Grammar:
    """The reduced `Grammar` of the JSON texts valid against `schema` (strict: nothing relaxed)."""
    return compile_schema(schema, whitespace=whitespace)[0]
