"""JSON Schema -> context-free `Grammar` whose language is (a documented subset of) the valid JSON texts.

Soundness first: every text the grammar accepts is valid against the schema (checked the way
`jsonschema` checks it, asserting formats as its 2020-12 format checker does, whatever the draft). Completeness is limited by these policies:

- Layout ("compact", the only `whitespace` mode for now): Python's default `json.dumps` layout, that
  is separators `", "` and `": "`, no other whitespace, `ensure_ascii` style escapes allowed but not
  required. Object keys are written exactly as `json.dumps(key)` writes them.
- Property order: properties are emitted in the order of the schema's `properties`; optional ones may
  be skipped; names in `required` but not in `properties` follow them, in `required` order.
  Unless `additionalProperties` is `false`, other properties (any name not declared, value checked by
  the `additionalProperties` schema or any JSON value) may follow the declared ones; their names
  are printable ASCII without escapes, which keeps "not a declared name" small.
- Integers are written without fraction or exponent (`1`, not `1.0`); numbers without an exponent
  when bounds apply.
- String `pattern` is a search (as in JSON Schema) on the decoded string, with ECMA-style ASCII
  classes (`\\d` is `[0-9]`). Every character class of the pattern is translated into all the JSON
  spellings of its characters (raw UTF-8, short escapes, `\\uXXXX`, surrogate pairs), so the
  constraint on the decoded content is exact whatever the escaping.
- Only the `format`s date, date-time (upper-case `T`/`Z`), time, uuid, email, ipv4 are enforced
  (by regexes accepting a subset of what the format allows); any other `format` is reported unsupported.

- `$ref`: local pointers only (`#/$defs/...`, `#/definitions/...`, any `#/...`); recursion is a rule
  cycle. In drafts 3 to 7 keywords beside `$ref` are ignored (as those drafts say); from 2019-09 on
  they are merged with the target like `allOf`.
- `allOf`: merged into one schema when the branches do not set the same keyword differently
  (`properties` merge per name, `required` unions, `type` intersects); else unsupported. A merged
  schema lists the properties of the schema holding `allOf`/`anyOf`/`oneOf` first, then each
  branch's new ones, in order: that is the property order of merged objects.
- `oneOf`: compiled as `anyOf` only when its branches are provably disjoint (no shared type, disjoint
  const/enum values, objects requiring one property with disjoint const/enum values, or one object
  requiring a property the other, closed by `additionalProperties: false`, cannot have); else unsupported.
- `enum`/`const`: the values are filtered with `jsonschema` against the whole subschema, then written
  as `json.dumps(value)`.
- Arrays: `items` (one schema), `minItems`/`maxItems` up to 1000 (unrolled into rules); strings:
  `minLength`/`maxLength` up to 1000 code points, `pattern` or `format` or a length, not two of them;
  integers: any bounds below 1e30 (exact digit-range regexes); numbers: integer-valued bounds (the
  value is then written without an exponent), other bounds unsupported.
- A subschema that no value satisfies (`false`, an empty filtered enum, `minItems > maxItems`...)
  simply matches nothing; `SchemaError` is raised when that makes the whole schema unsatisfiable
  (or for contradictory bounds, which are reported where they are).

Every keyword that constrains values but is not enforced raises `UnsupportedSchemaError` naming it
(pointer `#/.../keyword`): not, if/then/else, patternProperties, propertyNames, dependentRequired,
dependentSchemas, dependencies, minProperties, maxProperties, contains, unevaluated*, prefixItems and
tuple `items`, multipleOf, uniqueItems: true, $dynamicRef, content*, remote `$ref`, other formats.
Unknown keywords and annotations (title, description, default, examples, `_format`...) are ignored.
"""
from __future__ import annotations

import json
from typing import Any

from ..automaton import regex as rx
from ..automaton.regex import EMPTY, Alt, CharSet, Concat, Node, Repeat, literal
from ..errors import RegexError, UnsupportedRegexError
from ..grammar.cfg import Grammar, Rule, Terminal
from .errors import SchemaError, UnsupportedSchemaError

# keywords we never enforce (they always raise when they constrain anything)
_UNSUPPORTED = {
    "not", "if", "then", "else", "patternProperties", "propertyNames", "dependentRequired",
    "dependentSchemas", "dependencies", "maxProperties", "contains", "minContains", "maxContains",
    "unevaluatedProperties", "unevaluatedItems", "prefixItems", "multipleOf", "$dynamicRef",
    "$recursiveRef", "contentEncoding", "contentMediaType", "contentSchema",
}
_ANNOTATIONS = {"title", "description", "$comment", "default", "examples", "$schema", "$id", "$anchor",
                "$defs", "definitions", "readOnly", "writeOnly", "deprecated", "$vocabulary",
                "$dynamicAnchor", "$recursiveAnchor"}
_TYPES = ("null", "boolean", "object", "array", "string", "integer", "number")
_STRING_KW = {"minLength", "maxLength", "pattern", "format"}
_NUMBER_KW = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
_OBJECT_KW = {"properties", "required", "additionalProperties", "minProperties"}
_ARRAY_KW = {"items", "minItems", "maxItems", "uniqueItems", "additionalItems"}
MAX_REPEAT = 1000  # largest string length / item count bound we unroll

ANY_CHAR: rx.Ranges = ((0, 0xD7FF), (0xE000, rx.MAX_CODEPOINT))


# ---------------------------------------------------------------- regex building blocks

def _set(*ranges) -> CharSet:
    return CharSet(rx.normalize(ranges))


def _cat(*items: Node) -> Node:
    return Concat(tuple(items))


def _alt(items: list[Node]) -> Node | None:
    items = list(dict.fromkeys(items))
    if not items:
        return None
    return items[0] if len(items) == 1 else Alt(tuple(items))


def _re(pattern: str) -> Node:
    return rx.parse(pattern)


_HEX_CHARS = "0123456789abcdef"


def _hex_digit(lo: int, hi: int) -> CharSet:
    chars = [(ord(_HEX_CHARS[v]),) * 2 for v in range(lo, hi + 1)]
    chars += [(ord(_HEX_CHARS[v].upper()),) * 2 for v in range(max(lo, 10), hi + 1)]
    return CharSet(rx.normalize(chars))


def _fixed_range(lo: int, hi: int, width: int, base: int, digit) -> Node:
    """Fixed-width digit strings (leading zeros included) whose value is in [lo, hi]."""
    if width == 0:
        return EMPTY
    unit = base ** (width - 1)
    a, b = divmod(lo, unit)
    c, d = divmod(hi, unit)
    if a == c:
        return _cat(digit(a, a), _fixed_range(b, d, width - 1, base, digit))
    parts = []
    if b == 0:
        first = a
    else:
        parts.append(_cat(digit(a, a), _fixed_range(b, unit - 1, width - 1, base, digit)))
        first = a + 1
    if d == unit - 1:
        last = c
    else:
        last = c - 1
    if first <= last:
        parts.append(_cat(digit(first, last), _fixed_range(0, unit - 1, width - 1, base, digit)))
    if d != unit - 1:
        parts.append(_cat(digit(c, c), _fixed_range(0, d, width - 1, base, digit)))
    return _alt(parts)


def _dec_digit(lo: int, hi: int) -> CharSet:
    return _set((0x30 + lo, 0x30 + hi))


def _hex4(lo: int, hi: int) -> Node:
    return _fixed_range(lo, hi, 4, 16, _hex_digit)


def _u(node: Node) -> Node:
    return _cat(literal("\\u"), node)


_SHORT_ESCAPES = {0x22: '\\"', 0x5C: "\\\\", 0x2F: "\\/", 0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n",
                  0x0D: "\\r", 0x09: "\\t"}
_NEEDS_ESCAPE: rx.Ranges = ((0, 0x1F), (0x22, 0x22), (0x5C, 0x5C))


def _intersect(a: rx.Ranges, b: rx.Ranges) -> rx.Ranges:
    out = []
    for lo, hi in a:
        for lo2, hi2 in b:
            if max(lo, lo2) <= min(hi, hi2):
                out.append((max(lo, lo2), min(hi, hi2)))
    return rx.normalize(out)


def encode_charset(ranges: rx.Ranges) -> Node:
    """All JSON string spellings of one character of `ranges` (raw, short escape, \\u, surrogate pair)."""
    ranges = _intersect(ranges, ANY_CHAR)
    raw = _intersect(ranges, rx.complement(_NEEDS_ESCAPE))
    parts: list[Node] = []
    if raw:
        parts.append(CharSet(raw))
    for cp, esc in _SHORT_ESCAPES.items():
        if _intersect(ranges, ((cp, cp),)):
            parts.append(literal(esc))
    for lo, hi in ranges:
        if lo <= 0xFFFF:
            parts.append(_u(_hex4(lo, min(hi, 0xFFFF))))
        if hi >= 0x10000:
            lo = max(lo, 0x10000)
            h1, l1 = 0xD800 + ((lo - 0x10000) >> 10), 0xDC00 + ((lo - 0x10000) & 0x3FF)
            h2, l2 = 0xD800 + ((hi - 0x10000) >> 10), 0xDC00 + ((hi - 0x10000) & 0x3FF)
            if h1 == h2:
                parts.append(_cat(_u(_hex4(h1, h1)), _u(_hex4(l1, l2))))
                continue
            parts.append(_cat(_u(_hex4(h1, h1)), _u(_hex4(l1, 0xDFFF))))
            if h1 + 1 <= h2 - 1:
                parts.append(_cat(_u(_hex4(h1 + 1, h2 - 1)), _u(_hex4(0xDC00, 0xDFFF))))
            parts.append(_cat(_u(_hex4(h2, h2)), _u(_hex4(0xDC00, l2))))
    out = _alt(parts)
    return out if out is not None else CharSet(())


def encode_content(node: Node) -> Node:
    """A regex on decoded string content -> the regex on its JSON spelling (between the quotes)."""
    if isinstance(node, CharSet):
        return encode_charset(node.ranges)
    if isinstance(node, Concat):
        return Concat(tuple(encode_content(n) for n in node.items))
    if isinstance(node, Alt):
        return Alt(tuple(encode_content(n) for n in node.items))
    return Repeat(encode_content(node.item), node.min, node.max)


def _quoted(content: Node) -> Node:
    return _cat(literal('"'), encode_content(content), literal('"'))


ANY_STRING = _quoted(Repeat(CharSet(ANY_CHAR), 0, None))


RAW_KEY_CHAR: rx.Ranges = rx.normalize([(0x20, 0x21), (0x23, 0x5B), (0x5D, 0x7E)])  # printable ASCII, no " or \


def _raw_key_not_in(words: list[str]) -> Node:
    """Undeclared property names of printable ASCII spelled without escapes (so the spelling is the
    name), except `words`. Escapes and other characters are left out on purpose: excluding the
    declared names from every spelling costs a large automaton, rebuilt in every lexer."""
    anything = Repeat(CharSet(RAW_KEY_CHAR), 0, None)
    words = [w for w in dict.fromkeys(words) if all(_intersect(((ord(c), ord(c)),), RAW_KEY_CHAR) for c in w)]

    def build(ws: list[str]) -> Node:
        heads: dict[str, list[str]] = {}
        is_word = False
        for w in ws:
            if w == "":
                is_word = True
            else:
                heads.setdefault(w[0], []).append(w[1:])
        parts: list[Node] = [] if is_word else [EMPTY]
        firsts = rx.normalize([(ord(c), ord(c)) for c in heads])
        other = _intersect(rx.complement(firsts), RAW_KEY_CHAR)
        if other:
            parts.append(_cat(CharSet(other), anything))
        for c, rest in heads.items():
            parts.append(_cat(literal(c), build(rest)))
        return _alt(parts) or CharSet(())

    return _cat(literal('"'), build(words), literal('"'))


# numbers
_NAT = _re("0|[1-9][0-9]*")
_FRAC = _re(r"\.[0-9]+")
_EXP = _re(r"[eE][+-]?[0-9]+")
INTEGER = _cat(Repeat(literal("-"), 0, 1), _NAT)
NUMBER = _cat(INTEGER, Repeat(_FRAC, 0, 1), Repeat(_EXP, 0, 1))


def _nat_range(lo: int, hi: int | None) -> Node | None:
    """Decimal naturals without leading zeros in [lo, hi] (hi None: unbounded)."""
    if hi is not None and hi < lo:
        return None
    parts = []
    width = 1
    while True:
        wlo, whi = (0 if width == 1 else 10 ** (width - 1)), 10 ** width - 1
        if hi is not None and wlo > hi:
            break
        a, b = max(lo, wlo), (whi if hi is None else min(hi, whi))
        if a <= b:
            if hi is None and a == wlo and width > 1:
                parts.append(_cat(_dec_digit(1, 9), Repeat(_dec_digit(0, 9), width - 1, None)))
                break
            parts.append(_fixed_range(a, b, width, 10, _dec_digit))
        if hi is None and a > b:
            pass
        width += 1
        if hi is None and width > len(str(lo)) + 1:
            parts.append(_cat(_dec_digit(1, 9), Repeat(_dec_digit(0, 9), width - 1, None)))
            break
    return _alt(parts)


def int_range(lo: int | None, hi: int | None) -> Node | None:
    """Integers in [lo, hi] (None: unbounded), canonical decimal (no `-0`)."""
    parts = []
    if hi is None or hi >= 0:
        pos = _nat_range(max(lo or 0, 0) if lo is not None else 0, hi)
        if pos is not None:
            parts.append(pos)
    if lo is None or lo < 0:
        neg = _nat_range(max(-(hi if hi is not None else -1), 1), None if lo is None else -lo)
        if neg is not None:
            parts.append(_cat(literal("-"), neg))
    return _alt(parts)


# formats (decoded content), each accepting only values `jsonschema`'s format checker accepts
_YEAR = r"(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
_LEAP = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_DATE = (rf"(?:{_YEAR}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
         rf"|02-(?:0[1-9]|1[0-9]|2[0-8]))|{_LEAP}-02-29)")
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
FORMATS = {
    "date": _DATE,
    "time": _TIME,
    "date-time": f"{_DATE}T{_TIME}",
    "uuid": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+",
    "ipv4": r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])",
}


def _top_level_alternation(p: str) -> bool:
    depth, i, in_class = 0, 0, False
    while i < len(p):
        c = p[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            if p[i + 1:i + 2] == "]":
                i += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return True
        i += 1
    return False


def pattern_search(p: str) -> Node:
    """`pattern` as a search over decoded content; raises RegexError/UnsupportedRegexError."""
    start = end = False
    core = p
    if not _top_level_alternation(p):
        if core.startswith("^"):
            core, start = core[1:], True
        if core.endswith("$") and (len(core) - 1 - len(core[:-1].rstrip("\\"))) % 2 == 0:
            core, end = core[:-1], True
    node = rx.parse(f"(?:{core})") if core else EMPTY
    anything = Repeat(CharSet(ANY_CHAR), 0, None)
    return _cat(*([] if start else [anything]), node, *([] if end else [anything]))


# ---------------------------------------------------------------- the compiler

class _Compiler:
    def __init__(self, root: Any):
        self.root = root
        self.terminals: list[Terminal] = []
        self.term_index: dict[Node, int] = {}
        self.nonterminals: list[str] = []
        self.rules: list[tuple[int, tuple]] = []  # lhs nonterminal index, rhs of ("t"|"n", index)
        self.memo: dict[str, int] = {}
        self.any_nt: int | None = None
        self._validator = None
        dialect = root.get("$schema", "") if isinstance(root, dict) else ""
        self.legacy_ref = isinstance(dialect, str) and any(f"draft-0{k}" in dialect for k in range(3, 8))

    # -- symbols
    def t(self, pattern: Node, name: str) -> tuple:
        k = self.term_index.get(pattern)
        if k is None:
            k = self.term_index[pattern] = len(self.terminals)
            self.terminals.append(Terminal(name, pattern))
        return ("t", k)

    def lit(self, text: str) -> tuple:
        return self.t(literal(text), json.dumps(text))

    def nt(self, name: str) -> int:
        self.nonterminals.append(name)
        return len(self.nonterminals) - 1

    def rule(self, lhs: int, *rhs: tuple) -> None:
        self.rules.append((lhs, rhs))

    def grammar(self, start: int) -> Grammar:
        n = len(self.terminals)
        sym = lambda s: s[1] if s[0] == "t" else n + s[1]
        rules = [Rule(n + lhs, tuple(sym(s) for s in rhs)) for lhs, rhs in self.rules]
        return Grammar(list(self.terminals), list(self.nonterminals), rules, n + start)

    # -- schema helpers
    def resolve(self, ref: str, ptr: str) -> tuple[Any, str]:
        if not ref.startswith("#"):
            raise UnsupportedSchemaError(f"$ref {ref!r}: only local references (#/...) are supported", ptr)
        node = self.root
        for part in [p for p in ref[1:].split("/") if p != ""]:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise SchemaError(f"$ref {ref!r} does not resolve", ptr)
        return node, ref if ref != "#" else "#"

    def validator(self):
        if self._validator is None:
            import jsonschema

            cls = jsonschema.validators.validator_for(self.root if isinstance(self.root, dict) else {},
                                                      default=jsonschema.Draft202012Validator)
            self._validator = cls(self.root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        return self._validator

    def deref(self, schema: Any, ptr: str, seen=()) -> tuple[Any, str]:
        """Follow a schema that is only a `$ref` (plus annotations)."""
        while isinstance(schema, dict) and "$ref" in schema and (self.legacy_ref or
                all(k == "$ref" or k in _ANNOTATIONS or k not in _KNOWN for k in schema)):
            if ptr in seen:
                raise SchemaError("$ref cycle that produces no value", ptr)
            seen = seen + (ptr,)
            schema, ptr = self.resolve(schema["$ref"], ptr + "/$ref")
        return schema, ptr

    # -- entry
    def compile(self, schema: Any, ptr: str) -> int:
        """The nonterminal for `schema` (memoised by pointer, so recursion is a rule cycle)."""
        if ptr in self.memo:
            return self.memo[ptr]
        nt = self.memo[ptr] = self.nt(ptr)
        for alt in self.alternatives(schema, ptr):
            self.rule(nt, *alt)
        return nt

    def any_value(self) -> int:
        if self.any_nt is None:
            self.any_nt = self.memo["<any>"] = self.nt("<any>")
            for alt in self.typed({}, "<any>", _TYPES[:-2] + ("number",)):
                self.rule(self.any_nt, *alt)
        return self.any_nt

    def alternatives(self, schema: Any, ptr: str) -> list[tuple]:
        if schema is True or schema == {}:
            return [(("n", self.any_value()),)]
        if schema is False:
            return []
        if not isinstance(schema, dict):
            raise SchemaError(f"a schema must be an object or a boolean, not {type(schema).__name__}", ptr)
        if "$ref" in schema:
            rest = {k: v for k, v in schema.items() if k != "$ref" and k in _KNOWN and k not in _ANNOTATIONS}
            if self.legacy_ref:
                rest = {}  # drafts 3 to 7: keywords beside $ref are ignored
            target, tptr = self.resolve(schema["$ref"], ptr + "/$ref")
            if not rest:
                return [(("n", self.compile(target, tptr)),)]
            merged = self.merge([target, rest], [tptr, ptr], ptr)
            return self.alternatives(merged, ptr)
        if "const" in schema or "enum" in schema:
            return self.enum(schema, ptr)
        if "allOf" in schema:
            rest = {k: v for k, v in schema.items() if k != "allOf"}
            parts = [rest] + list(schema["allOf"])
            ptrs = [ptr] + [f"{ptr}/allOf/{k}" for k in range(len(schema["allOf"]))]
            return self.alternatives(self.merge(parts, ptrs, ptr + "/allOf"), ptr)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                branches = schema[key]
                if not isinstance(branches, list) or not branches:
                    raise SchemaError(f"{key} must be a non-empty list", f"{ptr}/{key}")
                if key == "oneOf":
                    self.check_disjoint(branches, ptr)
                rest = {k: v for k, v in schema.items() if k != key}
                out = []
                for k, b in enumerate(branches):
                    bptr = f"{ptr}/{key}/{k}"
                    if any(k2 in _KNOWN and k2 not in _ANNOTATIONS for k2 in rest):
                        merged = self.merge([rest, b], [ptr, bptr], bptr)
                        out += self.alternatives(merged, bptr)
                    else:
                        out.append((("n", self.compile(b, bptr)),))
                return out
        for key in schema:
            if key in _UNSUPPORTED:
                if key == "maxProperties" or key == "multipleOf":
                    pass
                raise UnsupportedSchemaError(f"keyword {key!r} is not supported", f"{ptr}/{key}")
        if schema.get("uniqueItems") is True:
            raise UnsupportedSchemaError("uniqueItems is not supported", f"{ptr}/uniqueItems")
        if schema.get("minProperties", 0) not in (0, False):
            raise UnsupportedSchemaError("minProperties is not supported", f"{ptr}/minProperties")
        types = schema.get("type")
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
        return self.typed(schema, ptr, tuple(types))

    def typed(self, schema: dict, ptr: str, types: tuple) -> list[tuple]:
        out = []
        for t in types:
            if t == "null":
                out.append((self.lit("null"),))
            elif t == "boolean":
                out += [(self.lit("true"),), (self.lit("false"),)]
            elif t == "string":
                out += self.string(schema, ptr)
            elif t == "integer":
                out += self.integer(schema, ptr)
            elif t == "number":
                out += self.number(schema, ptr)
            elif t == "object":
                out += self.object(schema, ptr)
            elif t == "array":
                out += self.array(schema, ptr)
        return out

    # -- enum / const
    def enum(self, schema: dict, ptr: str) -> list[tuple]:
        if "const" in schema:
            values, key = [schema["const"]], "const"
        else:
            values, key = schema["enum"], "enum"
            if not isinstance(values, list):
                raise SchemaError("enum must be a list", f"{ptr}/enum")
        v = self.validator().evolve(schema=schema)
        out = []
        for value in values:
            if v.is_valid(value):
                text = json.dumps(value)
                out.append((self.t(literal(text), text),))
        return out  # empty: this subschema matches nothing (an error only if the root needs it)

    def check_disjoint(self, branches: list, ptr: str) -> None:
        """oneOf = anyOf when no value can match two branches: they have different types, different
        const/enum values, or are objects that require a property with different const/enum values."""
        sigs = [self.signature(b, f"{ptr}/oneOf/{k}") for k, b in enumerate(branches)]
        for i in range(len(sigs)):
            for j in range(i):
                if not _disjoint(sigs[i], sigs[j]):
                    raise UnsupportedSchemaError(f"oneOf branches {j} and {i} may match the same value "
                                                 "(only branches with distinct types, const/enum values or "
                                                 "required const properties are supported)", f"{ptr}/oneOf")

    def signature(self, b: Any, ptr: str) -> tuple:
        """(types, values or None, {required property: its const/enum values}, required names,
        allowed names or None when open)."""
        b, bptr = self.deref(b, ptr)
        if not isinstance(b, dict):
            return (set(_TYPES), None, {}, set(), None)
        values = None
        if "const" in b or "enum" in b:
            vals = [b["const"]] if "const" in b else list(b.get("enum") or [])
            values = {json.dumps(v, sort_keys=True) for v in vals}
            types = {_json_type(v) for v in vals}
        elif "type" in b:
            types = {b["type"]} if isinstance(b["type"], str) else set(b["type"])
        else:
            types = set(_TYPES)
        if "number" in types:
            types.add("integer")
        if "integer" in types:
            types.add("number")
        if any(k in b for k in ("anyOf", "oneOf", "allOf", "$ref")):
            return (set(_TYPES), None, {}, set(), None)
        tags = {}
        props = b.get("properties") or {}
        for name in b.get("required") or []:
            sub = props.get(name)
            sub, _ = self.deref(sub, bptr) if sub is not None else (None, None)
            if isinstance(sub, dict) and ("const" in sub or "enum" in sub):
                vals = [sub["const"]] if "const" in sub else list(sub.get("enum") or [])
                tags[name] = {json.dumps(v, sort_keys=True) for v in vals}
        closed = b.get("additionalProperties") is False and "patternProperties" not in b
        return (types, values, tags, set(b.get("required") or []), set(props) if closed else None)

    # -- allOf merging
    def merge(self, parts: list, ptrs: list[str], ptr: str) -> dict:
        out: dict = {}
        for part, pptr in zip(parts, ptrs):
            part, pptr = self.deref(part, pptr)
            if part is True:
                continue
            if part is False:
                return {"not": {}}  # unreachable; reported below as unsupported 'not'
            if not isinstance(part, dict):
                raise SchemaError("a schema must be an object or a boolean", pptr)
            if "$ref" in part:
                target, tptr = self.resolve(part["$ref"], pptr + "/$ref")
                rest = {} if self.legacy_ref else {k: v for k, v in part.items() if k != "$ref"}
                part = self.merge([target, rest], [tptr, pptr], pptr)
            if "allOf" in part:
                rest = {k: v for k, v in part.items() if k != "allOf"}
                part = self.merge([rest] + list(part["allOf"]),
                                  [pptr] + [f"{pptr}/allOf/{k}" for k in range(len(part["allOf"]))], pptr)
            for key, value in part.items():
                if key in _ANNOTATIONS or key not in _KNOWN:
                    continue
                if key not in out:
                    out[key] = value
                elif key == "properties":
                    props = dict(out[key])
                    for name, sub in value.items():
                        props[name] = {"allOf": [props[name], sub]} if name in props else sub
                    out[key] = props
                elif key == "required":
                    out[key] = list(dict.fromkeys(list(out[key]) + list(value)))
                elif key == "type":
                    a = {out[key]} if isinstance(out[key], str) else set(out[key])
                    b = {value} if isinstance(value, str) else set(value)
                    for s in (a, b):
                        if "number" in s:
                            s.add("integer")
                    both = [t for t in _TYPES if t in a and t in b]
                    if not both:
                        raise SchemaError("allOf branches require different types", f"{pptr}/type")
                    out[key] = both
                elif json.dumps(out[key], sort_keys=True) != json.dumps(value, sort_keys=True):
                    raise UnsupportedSchemaError(f"allOf branches both set {key!r} differently (cannot merge)",
                                                 f"{pptr}/{key}")
        return out

    # -- strings
    def string(self, schema: dict, ptr: str) -> list[tuple]:
        lo = schema.get("minLength", 0)
        hi = schema.get("maxLength")
        if hi is not None and hi < lo:
            raise SchemaError("minLength > maxLength", f"{ptr}/minLength")
        if lo > MAX_REPEAT or (hi is not None and hi > MAX_REPEAT):
            raise UnsupportedSchemaError(f"string length bounds above {MAX_REPEAT}",
                                         f"{ptr}/{'maxLength' if hi is not None and hi > MAX_REPEAT else 'minLength'}")
        fmt, pat = schema.get("format"), schema.get("pattern")
        if fmt is not None and fmt not in FORMATS:
            raise UnsupportedSchemaError(f"format {fmt!r} is not supported", f"{ptr}/format")
        constraints = [k for k in ("format", "pattern") if k in schema]
        if lo or hi is not None:
            constraints.append("length")
        if len(constraints) > 1:
            raise UnsupportedSchemaError(f"combining {' and '.join(constraints)} on one string is not supported",
                                         f"{ptr}/{'pattern' if 'pattern' in schema else 'format'}")
        if fmt is not None:
            content = _re(FORMATS[fmt])
        elif pat is not None:
            try:
                content = pattern_search(_unicode_negations(pat, f"{ptr}/pattern"))
            except UnsupportedRegexError as e:
                raise UnsupportedSchemaError(f"pattern: {e.reason}", f"{ptr}/pattern") from None
            except RegexError as e:
                raise UnsupportedSchemaError(f"pattern is not a regex this compiler reads: {e.reason}",
                                             f"{ptr}/pattern") from None
        elif lo or hi is not None:
            content = Repeat(CharSet(ANY_CHAR), lo, hi)
        else:
            return [(self.t(ANY_STRING, "STRING"),)]
        return [(self.t(_quoted(content), f"STRING@{ptr}"),)]

    # -- numbers
    def bounds(self, schema: dict, ptr: str):
        """((lower, exclusive) | None, (upper, exclusive) | None), draft-4 boolean exclusives included."""
        for key in _NUMBER_KW:
            if key in schema and not isinstance(schema[key], (int, float)):
                raise SchemaError(f"{key} must be a number", f"{ptr}/{key}")
        lows, highs = [], []
        for key, ex_key, out in (("minimum", "exclusiveMinimum", lows), ("maximum", "exclusiveMaximum", highs)):
            v = schema.get(key)
            if v is not None and not isinstance(v, bool):
                out.append((v, schema.get(ex_key) is True))
            v = schema.get(ex_key)
            if v is not None and not isinstance(v, bool):
                out.append((v, True))
        for v, _ in lows + highs:
            if abs(v) > 10 ** 30:
                key = "minimum" if (v, _) in lows else "maximum"
                raise UnsupportedSchemaError("bounds beyond 1e30 are not supported", f"{ptr}/{key}")
        lo = max(lows, key=lambda b: (b[0], b[1])) if lows else None
        hi = min(highs, key=lambda b: (b[0], not b[1])) if highs else None
        return lo, hi

    def integer(self, schema: dict, ptr: str) -> list[tuple]:
        import math

        lo, hi = self.bounds(schema, ptr)
        if lo is None and hi is None:
            return [(self.t(INTEGER, "INTEGER"),)]
        ilo = ihi = None
        if lo is not None:
            ilo = int(math.floor(lo[0])) + 1 if (lo[1] and lo[0] == math.floor(lo[0])) else int(math.ceil(lo[0]))
        if hi is not None:
            ihi = int(math.ceil(hi[0])) - 1 if (hi[1] and hi[0] == math.ceil(hi[0])) else int(math.floor(hi[0]))
        node = int_range(ilo, ihi)
        if node is None:
            return []
        return [(self.t(node, f"INTEGER@{ptr}"),)]

    def number(self, schema: dict, ptr: str) -> list[tuple]:
        lo, hi = self.bounds(schema, ptr)
        if lo is None and hi is None:
            return [(self.t(NUMBER, "NUMBER"),)]
        for b, key in ((lo, "minimum"), (hi, "maximum")):
            if b is not None and (b[0] != int(b[0]) or abs(b[0]) > 10 ** 15):
                raise UnsupportedSchemaError("non-integer bounds on numbers are not supported", f"{ptr}/{key}")
        lo_v, lo_ex = (int(lo[0]), lo[1]) if lo else (None, False)
        hi_v, hi_in = (int(hi[0]), not hi[1]) if hi else (None, True)
        parts = []
        if hi_v is None or hi_v >= 0:  # values >= 0, no sign
            if lo_v is None or lo_v < 0:
                m = _magnitude(0, False, hi_v, hi_in)
            else:
                m = _magnitude(lo_v, lo_ex, hi_v, hi_in)
            if m is not None:
                parts.append(m)
        if lo_v is None or lo_v < 0:  # values < 0: "-" and a magnitude m > 0
            if hi_v is None or hi_v >= 0:
                mlo, mlo_ex = 0, True
            else:
                mlo, mlo_ex = -hi_v, not hi_in
            m = _magnitude(mlo, mlo_ex, None if lo_v is None else -lo_v, not lo_ex)
            if m is not None:
                parts.append(_cat(literal("-"), m))
        node = _alt(parts)
        if node is None:
            return []
        return [(self.t(node, f"NUMBER@{ptr}"),)]

    # -- objects
    def object(self, schema: dict, ptr: str) -> list[tuple]:
        props = schema.get("properties", {}) or {}
        if not isinstance(props, dict):
            raise SchemaError("properties must be an object", f"{ptr}/properties")
        required = list(schema.get("required", []) or [])
        additional = schema.get("additionalProperties", True)
        if additional is not False and isinstance(schema.get("items"), dict) and False:
            pass
        entries = [(name, sub, f"{ptr}/properties/{_esc(name)}", name in required) for name, sub in props.items()]
        for name in required:
            if name not in props:
                if additional is False:
                    raise SchemaError(f"required property {name!r} is not allowed by additionalProperties: false",
                                      f"{ptr}/required")
                entries.append((name, additional, f"{ptr}/additionalProperties", True))
        # S[i][emitted]: the rest of the object from entry i
        n = len(entries)
        seq = [[self.nt(f"{ptr}#props{i}{e}") for e in (0, 1)] for i in range(n + 1)]
        for i, (name, sub, sptr, req) in enumerate(entries):
            value = ("n", self.compile(sub, sptr))
            key = self.lit(json.dumps(name) + ": ")
            self.rule(seq[i][0], key, value, ("n", seq[i + 1][1]))
            self.rule(seq[i][1], self.lit(", "), key, value, ("n", seq[i + 1][1]))
            if not req:
                self.rule(seq[i][0], ("n", seq[i + 1][0]))
                self.rule(seq[i][1], ("n", seq[i + 1][1]))
        self.rule(seq[n][0])
        self.rule(seq[n][1])
        if additional is not False:
            names = [e[0] for e in entries]
            key = self.t(_cat(_raw_key_not_in(names), literal(": ")), f"KEY@{ptr}")
            value = ("n", self.compile(additional, f"{ptr}/additionalProperties"))
            more = self.nt(f"{ptr}#more")
            self.rule(more)
            self.rule(more, self.lit(", "), key, value, ("n", more))
            self.rule(seq[n][0], key, value, ("n", more))
            self.rule(seq[n][1], self.lit(", "), key, value, ("n", more))
        return [(self.lit("{"), ("n", seq[0][0]), self.lit("}"))]

    # -- arrays
    def array(self, schema: dict, ptr: str) -> list[tuple]:
        items = schema.get("items", True)
        if isinstance(items, list):
            raise UnsupportedSchemaError("tuple-form items (a list of schemas) is not supported", f"{ptr}/items")
        lo = schema.get("minItems", 0)
        hi = schema.get("maxItems")
        if hi is not None and hi < lo:
            raise SchemaError("minItems > maxItems", f"{ptr}/minItems")
        if lo > MAX_REPEAT or (hi is not None and hi > MAX_REPEAT):
            raise UnsupportedSchemaError(f"item count bounds above {MAX_REPEAT}", f"{ptr}/maxItems")
        item = ("n", self.compile(items, f"{ptr}/items"))
        comma = self.lit(", ")
        # tail(k): ", item" repeated so that the total count fits, k items emitted so far
        if hi is None:
            star = self.nt(f"{ptr}#star")
            self.rule(star)
            self.rule(star, comma, item, ("n", star))
            tail = ("n", star)
            for _ in range(max(lo - 1, 0)):
                nxt = self.nt(f"{ptr}#req")
                self.rule(nxt, comma, item, tail)
                tail = ("n", nxt)
            body = tail
        else:
            # after the first item: between max(lo-1,0) and hi-1 more
            tail = None
            opt = hi - 1
            need = max(lo - 1, 0)
            nxt = self.nt(f"{ptr}#end")
            self.rule(nxt)
            chain = ("n", nxt)
            for k in range(opt):  # build from the end: position opt-1 .. 0
                cur = self.nt(f"{ptr}#tail")
                self.rule(cur, comma, item, chain)
                if opt - 1 - k >= need:
                    self.rule(cur)
                chain = ("n", cur)
            body = chain
        out = []
        if hi is None or hi >= 1:
            out.append((self.lit("["), item, body, self.lit("]")))
        if lo == 0:
            out.append((self.lit("["), self.lit("]")))
        return out


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


def _unicode_negations(p: str, ptr: str) -> str:
    """Negated classes (\\D \\W \\S) in Unicode's sense (what Python's `re` uses), positive ones in
    ASCII's (ECMA-262's): a subset of both readings, so sound for either kind of validator."""
    out, i, in_class, negated = [], 0, False, False
    while i < len(p):
        c = p[i]
        if c == "\\" and i + 1 < len(p):
            e = p[i + 1]
            if e in "DWS" and not in_class:
                out.append(f"(?u:\\{e})")
            else:
                if in_class and e in "dwsDWS" and (negated == e.islower()):
                    raise UnsupportedSchemaError(f"class escape \\{e} inside a {'negated ' if negated else ''}"
                                                 "character class (ASCII and Unicode readings differ)", ptr)
                out.append(p[i:i + 2])
            i += 2
            continue
        if not in_class and c == "[":
            in_class, negated = True, p[i + 1:i + 2] == "^"
            out.append(c)
            j = i + 1 + negated
            if p[j:j + 1] == "]":
                out.append(p[i + 1:j + 1])
                i = j + 1
                continue
            i += 1
            continue
        if in_class and c == "]":
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)


def int_exact(v: int) -> Node:
    return literal(str(v))


def _magnitude(mlo: int, mlo_ex: bool, mhi: int | None, mhi_in: bool) -> Node | None:
    """Decimals `I` or `I.F` (no exponent) whose value m has mlo <(=) m <(=) mhi (integers >= 0)."""
    frac = Repeat(_FRAC, 0, 1)
    zeros = Repeat(_re(r"\.0+"), 0, 1)
    if mhi is not None and (mhi < mlo or (mhi == mlo and (mlo_ex or not mhi_in))):
        return None
    if mhi == mlo:
        return _cat(int_exact(mlo), zeros)
    parts = [_cat(int_exact(mlo), _re(r"\.[0-9]*[1-9][0-9]*") if mlo_ex else frac)]
    mid = _nat_range(mlo + 1, None if mhi is None else mhi - 1)
    if mid is not None:
        parts.append(_cat(mid, frac))
    if mhi is not None and mhi_in:
        parts.append(_cat(int_exact(mhi), zeros))
    return _alt(parts)


def _esc(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "integer" if v == int(v) else "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


_KNOWN = (_UNSUPPORTED | _ANNOTATIONS | _STRING_KW | _NUMBER_KW | _OBJECT_KW | _ARRAY_KW |
          {"type", "enum", "const", "$ref", "allOf", "anyOf", "oneOf"})


def load_schema(schema: Any) -> Any:
    """A dict/bool, JSON text, or a Pydantic model class -> the schema object."""
    if isinstance(schema, (dict, bool)):
        return schema
    if isinstance(schema, (str, bytes)):
        try:
            return json.loads(schema)
        except json.JSONDecodeError as e:
            raise SchemaError(f"schema is not valid JSON: {e}", "#") from None
    if hasattr(schema, "model_json_schema"):
        return schema.model_json_schema()
    raise SchemaError(f"a schema must be a dict, JSON text or a Pydantic model, not {type(schema).__name__}", "#")


def schema_to_grammar(schema: Any, *, whitespace: str = "compact") -> Grammar:
    """The reduced `Grammar` of the JSON texts valid against `schema` (see the module docs)."""
    if whitespace != "compact":
        raise ValueError(f"whitespace must be 'compact', not {whitespace!r}")
    schema = load_schema(schema)
    if schema is False:
        raise SchemaError("the schema `false` accepts no value", "#")
    c = _Compiler(schema)
    try:
        start = c.compile(schema, "#")
    except RecursionError:
        raise UnsupportedSchemaError("the schema nests too deeply or merges a $ref cycle (allOf/anyOf "
                                     "siblings through a recursive $ref)", "#") from None
    g = c.grammar(start)
    from ..errors import GrammarError

    try:
        return g.reduced()
    except GrammarError:
        raise SchemaError("no JSON value satisfies the schema", "#") from None
