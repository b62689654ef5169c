"""String and number keywords: each terminal accepts exactly the JSON spellings (in the documented
layout) of the values `jsonschema` accepts, or the keyword is reported.

Most tests run the terminal's automaton directly (fast); a few go through real SmolLM2 token masks.
Formats are checked for soundness by sampling strings from the automaton itself (random walks over
its live transitions, so escapes and rare branches show up) and asking the installed checker.
"""
from __future__ import annotations

import json
import random

import jsonschema
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.masks import DATA
from constrain.automaton import nfa, regex as rx
from constrain.automaton.dfa import DEAD, DFA
from constrain.automaton.product import NOTHING, compact, intersect, minimal_dfa
from constrain.schema import FORMAT_CHECKER, SchemaError, UnsupportedSchemaError, compile_json_schema
from constrain.schema.formats import FORMATS
from constrain.schema.numbers import integer_pattern, number_pattern
from constrain.schema.strings import string_pattern

CHECKER = FORMAT_CHECKER
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def automaton(node):
    d = DFA(nfa.build(node, 1_000_000), 1_000_000)

    def accepts(text: str) -> bool:
        s = d.walk(d.start, text.encode("utf-8", "surrogatepass"))
        return s != DEAD and d.is_accepting(s)
    return accepts


def valid(schema, value) -> bool:
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, format_checker=CHECKER).is_valid(value)


_TERMINALS: dict[str, object] = {}


def terminal(schema):
    """The membership test of the schema's string/integer/number terminal (built once per schema)."""
    key = json.dumps(schema, sort_keys=True)
    if key not in _TERMINALS:
        t = schema.get("type", "string")
        build = {"string": string_pattern, "integer": integer_pattern, "number": number_pattern}[t]
        _TERMINALS[key] = automaton(build(schema, "#"))
    return _TERMINALS[key]


def spellings(s: str) -> list[str]:
    return [json.dumps(s), json.dumps(s, ensure_ascii=False)]


def sampler(node):
    """Random accepted byte strings of `node`: walk live transitions, a byte class at a time."""
    table, acc, start = minimal_dfa(node, 500_000)

    def draw(rng: random.Random, limit: int = 200) -> bytes:
        s, out = start, bytearray()
        while True:
            live = np.flatnonzero(table[s] != DEAD)
            if acc[s] and (rng.random() < 0.1 or len(out) > limit or not len(live)):
                return bytes(out)
            targets = table[s][live]
            t = rng.choice(np.unique(targets).tolist())
            b = rng.choice(live[targets == t].tolist())
            out.append(b)
            s = table[s][b]
    return draw


# ---------------------------------------------------------------- the product construction

def test_intersection_and_counted_units():
    both = automaton(intersect([rx.parse("a.*b"), rx.parse("[a-z]{3}")]))
    assert [w for w in ["abb", "axb", "ab", "aXb", "abbb"] if both(w)] == ["abb", "axb"]
    assert intersect([rx.parse("a+"), rx.parse("b+")]) is NOTHING
    unit = rx.parse("x|yz")
    two_three = automaton(intersect([], unit=unit, count=(2, 3)))
    assert [w for w in ["x", "xx", "xyz", "yzyzx", "xxxx", "xy"] if two_three(w)] == ["xx", "xyz", "yzyzx"]
    with pytest.raises(ValueError):
        intersect([], unit=rx.parse("a|ab"), count=(0, 2))  # not a prefix code
    small = compact(rx.parse("(?:ab|ac)*"))
    assert automaton(small)("abac") and not automaton(small)("aba")


def _moore(table: np.ndarray, accepting: np.ndarray) -> int:
    """The number of states of the minimal DFA, by plain Moore refinement (the reference)."""
    cls = accepting.astype(int).tolist()
    while True:
        sigs = {}
        new = [sigs.setdefault((cls[s], *(cls[t] for t in table[s].tolist())), len(sigs)) for s in range(len(table))]
        if len(sigs) == len(set(cls)):
            return len(sigs)
        cls = new


@pytest.mark.parametrize("pattern", ["a", "[a-z]{0,40}", "(?:ab|ac)*", "a.*b", "(?:a|b)*abb(?:a|b){3}",
                                     "[0-9]{2,5}(?:\\.[0-9]+)?", "é|e|ê{3,}", "(?:x|yz){3,7}", "[^a]", "a{0}"])
def test_minimal_dfa_is_moore_minimal_and_equivalent(pattern):
    node = rx.parse(pattern)
    d = DFA(nfa.build(node, 100_000), 100_000)
    d.build_all()
    n = d.num_states
    table, acc, start = minimal_dfa(node, 100_000)
    assert len(table) == _moore(d.table[:n], d.accepting[:n])
    assert not acc[DEAD] and not table[DEAD].any()
    seen, todo = {(start, d.start)}, [(start, d.start)]  # same language: every pair reached agrees
    while todo:
        s, u = todo.pop()
        assert acc[s] == d.accepting[u]
        for pair in set(zip(table[s].tolist(), d.table[u].tolist())) - seen:
            seen.add(pair)
            todo.append(pair)


# ---------------------------------------------------------------- strings

@pytest.mark.parametrize("schema", [
    {"minLength": 2, "maxLength": 4}, {"maxLength": 0}, {"minLength": 3}, {"maxLength": 2, "pattern": "é"},
    {"minLength": 1, "maxLength": 6, "pattern": "^[a-z]+$"}, {"maxLength": 12, "format": "date"},
    {"minLength": 7, "format": "email"}, {"pattern": "^a", "format": "email"},
])
@SETTINGS
@given(text=st.one_of(st.text(max_size=8), st.text("aé😀\"\\\n\x01z-@.0", max_size=12),
                      st.sampled_from(["2024-02-29", "a@b.co", "ab", "aé😀", "ab@x.org"])))
def test_lengths_patterns_formats_exact(schema, text):
    accepts = terminal(schema)
    # Python's `$` also matches before a final newline; we (and ECMA-262) do not: refused, not wrong
    py_only = text.endswith("\n") and "$" in schema.get("pattern", "")
    for spelled in spellings(text):
        if "format" in schema:  # a format is a documented subset of what its checker accepts
            assert not accepts(spelled) or valid(schema, text), (schema, spelled)
        else:
            assert accepts(spelled) == (valid(schema, text) and not py_only), (schema, spelled)


def test_escapes_count_once():
    accepts = terminal({"minLength": 2, "maxLength": 2})
    for text in ["\\u00e9\\n", "\\ud83d\\ude00x", "é\\\"", "\\/\\t"]:
        assert accepts(f'"{text}"'), text
    for text in ["\\ud83d\\ude00", "abc", "\\ud83dx", "\\u00e"]:
        assert not accepts(f'"{text}"'), text


def test_large_length_bounds():
    accepts = terminal({"maxLength": 4096})
    assert accepts(json.dumps("é" * 4096)) and not accepts(json.dumps("é" * 4097))
    with pytest.raises(UnsupportedSchemaError) as e:
        string_pattern({"maxLength": 1_000_000_000}, "#/properties/a")
    assert e.value.pointer == "#/properties/a/maxLength"
    with pytest.raises(UnsupportedSchemaError) as e:
        string_pattern({"maxLength": 3000, "pattern": "x"}, "#")  # the product is what is too big
    assert e.value.pointer == "#/maxLength"


@pytest.mark.parametrize("schema,pointer", [
    ({"minLength": 3, "maxLength": 2}, "#/minLength"),
    ({"format": "uuid", "maxLength": 10}, "#/maxLength"),
    ({"pattern": "^a+$", "format": "ipv4"}, "#/pattern"),
    ({"minLength": -1}, "#/minLength"),
])
def test_unsatisfiable_strings(schema, pointer):
    with pytest.raises(SchemaError) as e:
        string_pattern(schema, "#")
    assert e.value.pointer == pointer and not isinstance(e.value, UnsupportedSchemaError)


@pytest.mark.parametrize("pattern,yes,no", [
    ("^$|^[a-z]+$", ["", "ab"], ["A", "a1"]),  # anchors per top-level branch
    ("^allow|deny$", ["allowed", "I deny"], ["denying", "xallow"]),
    ("^$|(^(?:\\S+\\s+){0,3}\\S+$)", ["", "a b c"], [" a", "a b c d e"]),  # a branch that is a group
    ("^[\\w@-]*$", ["a@-_", ""], ["é", "a b"]),  # \w is ASCII for ECMA
    ("[^\\s]", ["a", " x"], [" ", "\u00a0", "\x1c", "\ufeff"]),  # a space in either reading is excluded
    ("^a.c$", ["abc", "aéc"], ["a\nc", "a\rc", "a\u2028c"]),  # ECMA's dot
    ("^\\d+$", ["123"], ["\u0663", "1a"]),
    ("[\\s\\S]", ["x", "\x1c"], [""]),
])
def test_patterns(pattern, yes, no):
    accepts = terminal({"pattern": pattern})
    for text in yes:
        assert all(accepts(s) for s in spellings(text)), text
    for text in no:
        assert not any(accepts(s) for s in spellings(text)), text


@pytest.mark.parametrize("pattern,position", [("ab(?=c)", 2), ("(a)\\1", 3), ("^(\\/?a($|\\/))*$", 7),
                                              ("x\\p{L}", None), ("(?i)a", 0)])
def test_unsupported_patterns_name_the_position(pattern, position):
    with pytest.raises(UnsupportedSchemaError) as e:
        string_pattern({"pattern": pattern}, "#/properties/p")
    assert e.value.pointer == "#/properties/p/pattern"
    if position is not None:
        assert f"position {position}" in e.value.reason


def test_dev_sample_patterns_compile():
    """Patterns of the JSONSchemaBench dev sample: all but lookaround and anchors inside groups."""
    bench = DATA / "jsonschemabench-dev"
    patterns, refused = set(), []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.add(node["pattern"])
            for key, value in node.items():
                if key not in ("properties", "patternProperties") or isinstance(value, dict):
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    for name in (bench / "INDEX.txt").read_text().split():
        walk(json.loads((bench / name).read_text()))
    for p in sorted(patterns):
        try:
            string_pattern({"pattern": p}, "#")
        except UnsupportedSchemaError as e:
            refused.append((p, e.reason))
    assert len(patterns) > 500
    assert all("lookaround" in r or "anchor" in r for _, r in refused), refused
    assert len(refused) <= 3


# ---------------------------------------------------------------- formats

@pytest.mark.parametrize("fmt", FORMATS)
def test_format_sound(fmt):
    """Every string the format's terminal accepts passes jsonschema's checker (sampled)."""
    draw = sampler(string_pattern({"format": fmt}, "#"))
    rng = random.Random(fmt)
    n = 150 if fmt.startswith("iri") else 1500  # the iri checker is a slow Earley parser
    for _ in range(n):
        text = json.loads(draw(rng))
        assert CHECKER.conforms(text, fmt), (fmt, text)


COMMON = {
    "date-time": ["2024-01-02T03:04:05Z", "2024-02-29t23:59:59.123456+05:30", "1999-12-31T00:00:00-08:00",
                  "2024-01-02T03:04:05z"],
    "date": ["2024-02-29", "0001-01-01"], "time": ["12:30:00Z", "23:59:59.5+01:00"],
    "duration": ["P3Y6M4DT12H30M5S", "PT0.5S", "P1W", "P1D", "PT36H"],
    "email": ["john.doe@example.com", "a+tag@sub.example.co.uk"],
    "hostname": ["example.com", "localhost", "a-b.c-d.example.", "xn--bcher-kva.example"],
    "ipv4": ["192.168.0.1", "0.0.0.0"], "ipv6": ["::1", "2001:db8::ff00:42:8329", "::ffff:192.168.0.1", "::"],
    "uuid": ["123e4567-e89b-12d3-a456-426614174000"],
    "uri": ["https://example.com/a/b?q=1&r=%20x#frag", "mailto:a@b.org", "urn:isbn:0451450523",
            "http://[2001:db8::1]:8080/", "file:///etc/hosts"],
    "uri-reference": ["../a/b?x", "#frag", "//host/path", "", "https://e.org"],
    "iri": ["https://例え.jp/パス"], "json-pointer": ["", "/a~1b/0"], "relative-json-pointer": ["0", "1/a", "2#"],
    "regex": ["^[a-z]+$", "a|b", "(ab)*c{2,}"],
}


@pytest.mark.parametrize("fmt", sorted(COMMON))
def test_format_accepts_common_forms(fmt):
    accepts = terminal({"format": fmt})
    for text in COMMON[fmt]:
        assert CHECKER.conforms(text, fmt), text
        assert accepts(json.dumps(text)), (fmt, text)


def test_unknown_formats_are_annotations_and_unchecked_ones_are_reported():
    for fmt in ["int32", "topic", "color", "datetime"]:
        assert terminal({"format": fmt})(json.dumps("anything at all"))
    with pytest.raises(UnsupportedSchemaError) as e:
        string_pattern({"format": "idn-hostname"}, "#")
    assert e.value.pointer == "#/format"


# ---------------------------------------------------------------- numbers

NUMBER_SCHEMAS = [
    {"type": "number", "minimum": 0.5, "maximum": 99.99}, {"type": "number", "exclusiveMaximum": 100},
    {"type": "number", "minimum": 0}, {"type": "number", "exclusiveMinimum": 0}, {"type": "number", "maximum": 0},
    {"type": "number", "minimum": -459.67}, {"type": "number", "minimum": 1e-06, "maximum": 1e20},
    {"type": "number", "exclusiveMinimum": -3, "maximum": 7.25},
    {"$schema": "http://json-schema.org/draft-04/schema#", "type": "number", "minimum": 1,
     "exclusiveMinimum": True, "maximum": 5, "exclusiveMaximum": True},
    {"type": "integer", "minimum": 0.5, "maximum": 99.99}, {"type": "integer", "exclusiveMinimum": -10},
    {"type": "integer", "multipleOf": 7, "minimum": -50}, {"type": "integer", "multipleOf": 3},
    {"type": "number", "multipleOf": 1.0, "minimum": 0.0}, {"type": "number", "multipleOf": 2.5, "minimum": -100, "maximum": 0},
    {"type": "number", "minimum": 0, "maximum": 99.99, "multipleOf": 0.01},
]
SPECIAL = ["100.000000000000001", "99.99999999999999999", "99.99", "0.49999999999999999999", "-0.0", "0",
           "-1e-400", "1e-400", "5e-324", "1e+20", "1e-05", "1.5e+20", "0.07", "0.29", "-459.67", "7.25", "12",
           "2.5", "-5", "1E2", "1e+02"]


@pytest.mark.parametrize("schema", NUMBER_SCHEMAS)
@SETTINGS
@given(value=st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-10 ** 6, 10 ** 6),
                       st.floats(-200, 200), st.integers(-200, 200).map(lambda k: k / 100),
                       st.sampled_from(SPECIAL).map(json.loads)))
def test_numbers_accept_json_dumps_of_exactly_the_valid_values(schema, value):
    """json.dumps of a value is accepted iff jsonschema accepts the value; integral floats are written
    as integers (the layout) where the value is an integer for the type or the step."""
    accepts = terminal(schema)
    text = json.dumps(value)
    if "multipleOf" in schema and isinstance(value, float) and 0 < abs(value) < 1e-300:
        return  # jsonschema's float quotient underflows to 0, "a multiple" by rounding: we read decimals exactly
    if isinstance(value, float) and value.is_integer() and (schema["type"] == "integer" or "multipleOf" in schema):
        if abs(value) >= 2 ** 52:
            return
        text = json.dumps(int(value))
    assert accepts(text) == valid(schema, json.loads(text)), (schema, text)


@pytest.mark.parametrize("schema", NUMBER_SCHEMAS)
def test_numbers_sound_on_odd_spellings(schema):
    accepts = terminal(schema)
    rng = random.Random(0)
    texts = set(SPECIAL)
    for _ in range(400):
        f = rng.choice([rng.uniform(-200, 200), rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30)])
        texts |= {f"{f:.3e}", f"{f:.25g}", f"{f:.22f}", repr(f)}
    for text in texts:
        if accepts(text):
            assert valid(schema, json.loads(text)), (schema, text)


@pytest.mark.parametrize("schema,pointer,unsupported", [
    ({"type": "number", "minimum": 5, "maximum": 2}, "#/minimum", False),
    ({"type": "integer", "exclusiveMinimum": 2, "maximum": 2}, "#/exclusiveMinimum", False),
    ({"type": "number", "multipleOf": 0.01}, "#/multipleOf", True),
    ({"type": "number", "multipleOf": 0.01, "minimum": -1e8, "maximum": 1e8}, "#/multipleOf", True),
    ({"type": "number", "minimum": -1e31}, "#/minimum", True),
    ({"type": "number", "multipleOf": 0}, "#/multipleOf", False),
])
def test_number_errors(schema, pointer, unsupported):
    build = number_pattern if schema["type"] == "number" else integer_pattern
    with pytest.raises(SchemaError) as e:
        build(schema, "#")
    assert e.value.pointer == pointer
    assert isinstance(e.value, UnsupportedSchemaError) == unsupported


# ---------------------------------------------------------------- through real token masks

def test_masks(smollm2_vocab, smollm2_tokenizer):
    from test_schema import accepts
    schema = {"type": "object", "properties": {
        "name": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[^0-9]"},
        "site": {"type": "string", "format": "uri", "maxLength": 40},
        "price": {"type": "number", "exclusiveMinimum": 0, "maximum": 99.99},
        "count": {"type": "integer", "multipleOf": 5, "minimum": 0}}}
    grammar = compile_json_schema(schema, smollm2_vocab)
    values = [{"name": "Zoë😀", "site": "https://ex.org/a?b=%20#c", "price": 0.5, "count": 15},
              {"name": "日本語"}, {"price": 1e-05}, {"price": 99.99}, {"count": 0},
              {"name": "1ab"}, {"name": "abcdef"}, {"name": "a"}, {"site": "not a uri"},
              {"site": "https://example.org/" + "x" * 30}, {"price": 0}, {"price": 100}, {"count": 7}]
    for value in values:
        for text in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
            assert accepts(grammar, smollm2_tokenizer, smollm2_vocab, text) == valid(schema, value), text
