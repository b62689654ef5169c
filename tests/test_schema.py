"""JSON Schema -> token masks: hand-written schemas and a MaskBench-style run over JSONSchemaBench.

Every instance is written with `json.dumps(data)` (default separators ", " and ": ", the compiler's
"compact" layout), tokenized canonically, and walked token by token through `matcher.mask()` and
`advance`, then EOS. Validity is decided by `jsonschema` for the schema's draft, asserting formats
with the 2020-12 format checker (the compiler enforces the formats it supports in every draft).
Valid instances whose property order is not the schema's (`in_schema_order`) are skipped and counted:
the compiler emits properties in `properties` order, undeclared ones last (its documented policy).
Invalid instances are never skipped: accepting one is always an error.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import jsonschema
import pytest

from constrain.schema import SchemaError, UnsupportedSchemaError, compile_json_schema, schema_to_grammar
from constrain.schema.compiler import int_range
from constrain.automaton import nfa
from constrain.automaton.dfa import DFA

BENCH = Path("/work/shared/data/jsonschemabench-dev")


def accepts(grammar, tokenizer, vocab, text: str) -> bool:
    m = grammar.matcher()
    for tid in tokenizer.encode(text, add_special_tokens=False):
        if not m.mask()[tid]:
            return False
        assert m.advance(tid)
    return bool(m.mask()[vocab.eos_token_id]) and m.advance(vocab.eos_token_id)


def is_valid(schema, value) -> bool:
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    # formats are asserted (2020-12 checker) whatever the draft: the compiler enforces them
    return cls(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER).is_valid(value)


CASES = [
    ("object", {"type": "object", "properties": {"a": {"type": "integer", "minimum": 3, "maximum": 250},
                                                 "b": {"type": "string", "maxLength": 3}},
                "required": ["a"], "additionalProperties": False},
     [{"a": 3}, {"a": 250, "b": "xyz"}, {"a": 17, "b": ""}, {"a": 9, "b": "é\n"}],
     [{"a": 2}, {"a": 251}, {"b": "x"}, {"a": 5, "b": "abcd"}, {"a": 5, "c": 1}, {"a": 3.5}]),
    ("array enum", {"type": "array", "items": {"enum": ["x", 1, None, {"k": [True]}]}, "minItems": 1, "maxItems": 3},
     [["x"], [1, None, "x"], [{"k": [True]}]], [[], ["x"] * 4, ["y"], [2]]),
    ("pattern", {"type": "string", "pattern": "^[a-z]+\\d$"}, ["ab1", "z9"], ["ab", "1", "ab12", "Ab1"]),
    ("pattern search", {"type": "string", "pattern": "é|\""}, ["café", "say \"hi\"", "é"], ["cafe", ""]),
    ("date", {"type": "string", "format": "date"}, ["2024-02-29", "2023-12-31", "2000-02-29"],
     ["2023-02-29", "2023-13-01", "1900-02-29", "2023-1-01"]),
    ("date-time", {"type": "string", "format": "date-time"}, ["2024-01-02T03:04:05Z", "2024-01-02T23:59:59.5+02:00"],
     ["2024-01-02 03:04:05Z", "2024-01-02T24:00:00Z"]),
    ("uuid ipv4 email", {"type": "object", "properties": {"u": {"format": "uuid"}, "ip": {"format": "ipv4"},
                                                          "e": {"format": "email"}}},
     [{"u": "12345678-abcd-ABCD-0000-123456789012", "ip": "10.0.255.1", "e": "a.b@c.org"}, {"u": 5}],
     [{"u": "1234"}, {"ip": "256.0.0.1"}, {"ip": "01.0.0.1"}, {"e": "nobody"}]),
    ("number bounds", {"type": "number", "minimum": -3, "exclusiveMaximum": 10},
     [0, 0.5, 9.99, 3, -3, -2.5, -3.0], [10, -4, 10.5, -3.5, 10.0]),
    ("integer exclusive", {"type": "integer", "exclusiveMinimum": -12, "maximum": 1000},
     [-11, 0, 7, 99, 1000], [-12, 1001, -100, 5.5]),
    ("recursion", {"$defs": {"n": {"type": "object", "properties": {
        "v": {"type": "integer"}, "next": {"anyOf": [{"$ref": "#/$defs/n"}, {"type": "null"}]}},
        "required": ["v", "next"], "additionalProperties": False}}, "$ref": "#/$defs/n"},
     [{"v": 1, "next": {"v": 2, "next": None}}], [{"v": 1}, {"v": 1, "next": {"v": "x", "next": None}}]),
    ("any", {}, [1, "a", [1, {"b": None}], {"x": {"y": []}}, -0.5e-3, True], []),
    ("open object", {"type": "object", "properties": {"a": {"type": "integer"}},
                     "additionalProperties": {"type": "string"}},
     [{"a": 1, "zz": "q"}, {}, {"zz": "2"}], [{"a": 1, "zz": 3}, {"a": "x"}]),
    ("type list, const", {"type": ["string", "null"], "minLength": 2}, ["ab", None], ["a", 1]),
    ("const", {"const": {"a": [1, "b"]}}, [{"a": [1, "b"]}], [{"a": [1]}, 1]),
    ("allOf oneOf", {"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
                               {"properties": {"b": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}}]},
     [{"a": 1}, {"a": 1, "b": "x"}, {"a": 2, "b": 3}], [{"b": 1}, {"a": 1, "b": None}]),
    ("boolean subschema", {"type": "object", "properties": {"a": True, "b": False}},
     [{"a": [1]}, {}], [{"b": 1}, {"a": 1, "b": 2}]),
]


@pytest.mark.parametrize("name,schema,good,bad", CASES, ids=[c[0] for c in CASES])
def test_hand_written(name, schema, good, bad, smollm2_vocab, smollm2_tokenizer):
    grammar = compile_json_schema(schema, smollm2_vocab)
    for value in good:
        assert is_valid(schema, value), value
        assert accepts(grammar, smollm2_tokenizer, smollm2_vocab, json.dumps(value)), value
    for value in bad:
        assert not is_valid(schema, value), value
        assert not accepts(grammar, smollm2_tokenizer, smollm2_vocab, json.dumps(value)), value


def test_inputs_json_text_and_pydantic(smollm2_vocab, smollm2_tokenizer):
    pydantic = pytest.importorskip("pydantic")

    class Item(pydantic.BaseModel):
        name: str
        price: float
        tags: list[str] = []
        parent: "Item | None" = None

    grammar = compile_json_schema(Item, smollm2_vocab)
    ok = json.dumps({"name": "x", "price": 2.5, "tags": ["a"], "parent": {"name": "y", "price": 1}})
    assert accepts(grammar, smollm2_tokenizer, smollm2_vocab, ok)
    assert not accepts(grammar, smollm2_tokenizer, smollm2_vocab, json.dumps({"name": "x"}))
    grammar = compile_json_schema('{"type": "boolean"}', smollm2_vocab)
    assert accepts(grammar, smollm2_tokenizer, smollm2_vocab, "true")
    assert not accepts(grammar, smollm2_tokenizer, smollm2_vocab, "1")


@pytest.mark.parametrize("schema,pointer", [
    ({"type": "array", "uniqueItems": True}, "#/uniqueItems"),
    ({"properties": {"a": {"not": {"type": "string"}}}}, "#/properties/a/not"),
    ({"type": "object", "patternProperties": {"^x": {}}}, "#/patternProperties"),
    ({"if": {}, "then": {}}, "#/if"),
    ({"type": "object", "minProperties": 1}, "#/minProperties"),
    ({"type": "array", "contains": {"type": "integer"}}, "#/contains"),
    ({"type": "object", "dependentRequired": {"a": ["b"]}}, "#/dependentRequired"),
    ({"type": "number", "multipleOf": 2}, "#/multipleOf"),
    ({"type": "string", "format": "hostname"}, "#/format"),
    ({"type": "string", "pattern": "(a)\\1"}, "#/pattern"),
    ({"oneOf": [{"type": "string"}, {"minLength": 2}]}, "#/oneOf"),
    ({"type": "number", "maximum": 2.5}, "#/maximum"),
    ({"items": {"properties": {"a": {"minLength": 1, "pattern": "x"}}}}, "#/items/properties/a/pattern"),
])
def test_unsupported_names_keyword(schema, pointer, smollm2_vocab):
    with pytest.raises(UnsupportedSchemaError) as e:
        compile_json_schema(schema, smollm2_vocab)
    assert e.value.pointer == pointer
    assert pointer in str(e.value)


@pytest.mark.parametrize("schema", [
    False, {"type": "string", "minLength": 3, "maxLength": 2}, {"enum": []}, {"type": "string", "enum": [1, 2]},
    {"type": "object", "properties": {"a": False}, "required": ["a"]},
])
def test_unsatisfiable(schema):
    with pytest.raises(SchemaError):
        schema_to_grammar(schema)


def test_ignored_keywords(smollm2_vocab, smollm2_tokenizer):
    schema = {"type": "integer", "title": "t", "description": "d", "$comment": "c", "default": 1,
              "examples": [2], "_format": "x", "_uniqueItems": True}
    assert accepts(compile_json_schema(schema, smollm2_vocab), smollm2_tokenizer, smollm2_vocab, "12")


@pytest.mark.parametrize("lo,hi", [(None, None), (0, 0), (-5, 5), (7, 123), (None, -17), (95, None),
                                   (-1000, -999), (19, 20001), (-3, None)])
def test_int_range_exact(lo, hi):
    dfa = DFA(nfa.build(int_range(lo, hi) if (lo, hi) != (None, None) else int_range(None, None), 10 ** 6), 10 ** 5)

    def match(text: str) -> bool:
        q = dfa.start
        for b in text.encode():
            q = dfa.step(q, b)
            if q == 0:
                return False
        return dfa.is_accepting(q)

    for v in range(-2100, 21000, 1):
        want = (lo is None or v >= lo) and (hi is None or v <= hi)
        assert match(str(v)) == want, v
    assert not match("007") and not match("-0")


# ---------------------------------------------------------------- MaskBench-style

def _property_lists(schema, out):
    if isinstance(schema, dict):
        if isinstance(schema.get("properties"), dict):
            out.append(list(schema["properties"]))
        for v in schema.values():
            _property_lists(v, out)
    elif isinstance(schema, list):
        for v in schema:
            _property_lists(v, out)
    return out


def in_schema_order(data, lists) -> bool:
    """Every object's keys follow the order of a `properties` of the schema that declares the most of
    them, undeclared keys last (a heuristic: the instance is not matched to its subschema)."""
    if isinstance(data, list):
        return all(in_schema_order(v, lists) for v in data)
    if not isinstance(data, dict):
        return True
    keys = list(data)
    best = max((len(set(keys) & set(names)) for names in lists), default=0)
    ok = best == 0
    for names in lists:
        if len(set(keys) & set(names)) < best:
            continue
        declared = [k for k in keys if k in names]
        if declared and keys[:len(declared)] == declared and \
                [names.index(k) for k in declared] == sorted(names.index(k) for k in declared):
            ok = True
            break
    return ok and all(in_schema_order(v, lists) for v in data.values())


def test_maskbench(smollm2_vocab, smollm2_tokenizer):
    lines = [x for x in (BENCH / "INSTANCES.jsonl").read_text().split("\n") if x][:150]
    counts = dict(compiled=0, unsupported=0, unsatisfiable=0, valid_ok=0, invalid_ok=0, skipped_order=0)
    validation_errors, invalidation_errors = [], []
    start = time.time()
    for line in lines:
        entry = json.loads(line)
        schema = json.loads((BENCH / entry["file"]).read_text())
        try:
            grammar = compile_json_schema(schema, smollm2_vocab)
        except UnsupportedSchemaError:
            counts["unsupported"] += 1
            continue
        except SchemaError:
            counts["unsatisfiable"] += 1
            continue
        counts["compiled"] += 1
        lists = _property_lists(schema, [])
        for test in entry["tests"]:
            data = test["data"]
            valid = is_valid(schema, data)
            text = json.dumps(data)
            if valid and not in_schema_order(data, lists):
                counts["skipped_order"] += 1
                continue
            ok = accepts(grammar, smollm2_tokenizer, smollm2_vocab, text)
            if valid and not ok:
                validation_errors.append((entry["file"], text[:200]))
            elif not valid and ok:
                invalidation_errors.append((entry["file"], text[:200]))
            else:
                counts["valid_ok" if valid else "invalid_ok"] += 1
    print(f"\nMaskBench-style over {len(lines)} schemas in {time.time() - start:.1f}s: {counts}, "
          f"validation errors {len(validation_errors)}, invalidation errors {len(invalidation_errors)}")
    for err in validation_errors[:10]:
        print("  valid rejected:", err)
    for err in invalidation_errors[:10]:
        print("  invalid accepted:", err)
    assert not invalidation_errors
    assert not validation_errors
    assert counts["compiled"] >= 30


def test_one_of_discriminator_and_unicode_negation(smollm2_vocab, smollm2_tokenizer):
    schema = {"oneOf": [
        {"type": "object", "properties": {"kind": {"const": "a"}, "x": {"type": "integer"}}, "required": ["kind"]},
        {"type": "object", "properties": {"kind": {"enum": ["b", "c"]}, "y": {"type": "string"}},
         "required": ["kind"]},
        {"type": "string", "pattern": "^\\D+$"}]}
    grammar = compile_json_schema(schema, smollm2_vocab)
    for value, ok in [({"kind": "a", "x": 1}, True), ({"kind": "c", "y": "q"}, True), ("ab", True),
                      ({"kind": "a", "y": "q"}, True), ({"kind": "d"}, False), ("a1", False),
                      ("\u0663", False), ({"kind": "b", "x": "s"}, True)]:
        assert is_valid(schema, value) == ok, value
        assert accepts(grammar, smollm2_tokenizer, smollm2_vocab, json.dumps(value)) == ok, value
    with pytest.raises(UnsupportedSchemaError):
        compile_json_schema({"type": "string", "pattern": "[^\\d]"}, smollm2_vocab)


def test_one_of_closed_objects(smollm2_vocab, smollm2_tokenizer):
    schema = {"oneOf": [
        {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"], "additionalProperties": False},
        {"type": "object", "properties": {"b": {"type": "integer"}}, "required": ["b"], "additionalProperties": False}]}
    grammar = compile_json_schema(schema, smollm2_vocab)
    for value, ok in [({"a": 1}, True), ({"b": 2}, True), ({"a": 1, "b": 2}, False), ({}, False)]:
        assert is_valid(schema, value) == ok, value
        assert accepts(grammar, smollm2_tokenizer, smollm2_vocab, json.dumps(value)) == ok, value
    with pytest.raises(UnsupportedSchemaError):  # open objects: {"a": 1, "b": 2} matches both
        compile_json_schema({"oneOf": [{"type": "object", "required": ["a"]},
                                       {"type": "object", "required": ["b"]}]}, smollm2_vocab)
