"""JSON Schema -> token masks: hand-written schemas (the MaskBench suites: test_schema_suites.py).

Every instance is written with `json.dumps(data)` (default separators ", " and ": ", the compiler's
"compact" layout), tokenized canonically, and walked token by token through `matcher.mask()` and
`advance`, then EOS. Validity is decided by `jsonschema` for the schema's draft, asserting formats
with the 2020-12 format checker (the compiler enforces the formats it supports in every draft).
"""
from __future__ import annotations

import json

import pytest

from benchmarks.masks import is_valid
from constrain.schema import SchemaError, UnsupportedSchemaError, compile_json_schema, schema_to_grammar
from constrain.schema.nodes import ANY_CHAR, words_except
from constrain.schema.spelling import PLAIN
from constrain.schema.numbers import int_range
from constrain.automaton import nfa
from constrain.automaton.dfa import DFA

def accepts(grammar, tokenizer, vocab, text: str) -> bool:
    m = grammar.matcher()
    for tid in tokenizer.encode(text, add_special_tokens=False):
        if not m.mask()[tid]:
            return False
        assert m.advance(tid)
    return bool(m.mask()[vocab.eos_token_id]) and m.advance(vocab.eos_token_id)


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
    ({"properties": {"a": {"not": {"pattern": "x"}}}}, "#/properties/a/not"),
    ({"type": "object", "patternProperties": {"a": {}, "b": {}, "c": {}, "d": {}, "e": {}}}, "#/patternProperties"),
    ({"if": {"pattern": "^a"}, "then": {"minLength": 2}}, "#/if"),
    ({"type": "array", "contains": {"pattern": "a"}, "maxContains": 1}, "#/maxContains"),
    ({"$ref": "http://example.com/s.json"}, "#/$ref"),
    ({"properties": {"a": {"$ref": "other.json#/x"}}}, "#/properties/a/$ref"),
    ({"$id": "urn:example:root", "$ref": "urn:example:other"}, "#/$ref"),
    ({"$schema": "http://json-schema.org/draft-03/schema#"}, "#/$schema"),
    ({"type": "number", "multipleOf": 0.01}, "#/multipleOf"),
    ({"type": "string", "format": "idn-hostname"}, "#/format"),
    ({"type": "string", "pattern": "(a)\\1"}, "#/pattern"),
    ({"oneOf": [{"type": "string"}, {"pattern": "a"}]}, "#/oneOf"),
    ({"type": "number", "maximum": 1e31}, "#/maximum"),
    ({"items": {"properties": {"a": {"minLength": 1, "pattern": "(?=x)"}}}}, "#/items/properties/a/pattern"),
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


@pytest.mark.parametrize("alphabet", [ANY_CHAR, PLAIN])
@pytest.mark.parametrize("words", [[], [""], ["id"], ["id", "item_id", "i", "é"], ["ab", "abc", "b"], ["~", " a", "a~"]])
def test_words_except(words, alphabet):
    """Exactly the other strings over the alphabet (any character, or the ones json.dumps writes raw
    in a name: then built as a byte automaton); and every text that has left the trie of words is in
    one lexer state, so it is walked once (a state per way out made each a walk of the whole vocabulary)."""
    dfa = DFA(nfa.build(words_except(words, alphabet), 10 ** 5), 10 ** 4)
    texts = {w[:k] + c for w in words + ["", "item_id"] for k in range(len(w) + 1)
             for c in ("", "x", "é", "i", "~", " ", '"', "\x7f")}
    in_alphabet = {t for t in texts if all(any(lo <= ord(c) <= hi for lo, hi in alphabet) for c in t)}
    for text in texts:
        expected = text not in words and text in in_alphabet
        assert dfa.is_accepting(dfa.walk(dfa.start, text.encode())) == expected, text
    out = {dfa.walk(dfa.start, text.encode()) for text in in_alphabet
           if text and not any(w.startswith(text) for w in words)}
    assert len(out) == 1


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
    grammar = compile_json_schema({"type": "string", "pattern": "^[^\\d]$"}, smollm2_vocab)
    for value in ("a", "\u0663", "5"):  # a negated class excludes the digits of both readings
        assert accepts(grammar, smollm2_tokenizer, smollm2_vocab, json.dumps(value)) == (value == "a"), value


def test_one_of_closed_objects(smollm2_vocab, smollm2_tokenizer):
    schema = {"oneOf": [
        {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"], "additionalProperties": False},
        {"type": "object", "properties": {"b": {"type": "integer"}}, "required": ["b"], "additionalProperties": False}]}
    grammar = compile_json_schema(schema, smollm2_vocab)
    for value, ok in [({"a": 1}, True), ({"b": 2}, True), ({"a": 1, "b": 2}, False), ({}, False)]:
        assert is_valid(schema, value) == ok, value
        assert accepts(grammar, smollm2_tokenizer, smollm2_vocab, json.dumps(value)) == ok, value
    # open objects: {"a": 1, "b": 2} matches both branches, so each branch excludes the other
    schema = {"oneOf": [{"type": "object", "required": ["a"]}, {"type": "object", "required": ["b"]}]}
    grammar = compile_json_schema(schema, smollm2_vocab)
    for value, ok in [({"a": 1}, True), ({"b": 2, "c": 3}, True), ({"a": 1, "b": 2}, False), ({}, False)]:
        assert is_valid(schema, value) == ok, value
        assert accepts(grammar, smollm2_tokenizer, smollm2_vocab, json.dumps(value)) == ok, value


def test_merged_object_accepts_each_parts_order(smollm2_vocab, smollm2_tokenizer):
    """Regression (Github_medium/o55595): a oneOf branch's properties written in the branch's own order,
    with a property of the holding schema last, was rejected."""
    schema = {"$schema": "http://json-schema.org/draft-04/schema#", "$ref": "#/definitions/step", "definitions": {
        "step": {"type": "object", "oneOf": [{"$ref": "#/definitions/node"}],
                 "properties": {"enabled": {"type": "boolean"}, "type": {"type": "string"}}, "required": ["type"]},
        "node": {"type": "object", "properties": {"rate": {"type": "number"}, "type": {"pattern": "^node$"},
                                                  "nodes": {"type": "array"}}, "required": ["nodes"]}}}
    grammar = compile_json_schema(schema, smollm2_vocab)
    for value, ok in [({"rate": 1.5, "type": "node", "nodes": [], "enabled": True}, True),
                      ({"enabled": True, "type": "node", "nodes": ["a"]}, True),
                      ({"type": "node", "enabled": False, "nodes": []}, True),
                      ({"type": "nod", "nodes": []}, False), ({"type": "node"}, False),
                      ({"rate": 1, "nodes": []}, False)]:
        assert is_valid(schema, value) == ok, value
        assert accepts(grammar, smollm2_tokenizer, smollm2_vocab, json.dumps(value)) == ok, value
