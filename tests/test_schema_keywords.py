"""JSON Schema keywords of objects, arrays, combinators and references; whitespace modes; lenient mode.

Every instance is teacher-forced through the masks on the SmolLM2 vocabulary in the layout of the
whitespace mode (`json.dumps(v)`, `json.dumps(v, indent=2)`, or hand-spaced text for "flexible"),
and `jsonschema` decides what is valid. JSON-Schema-Test-Suite groups (draft 2020-12) must each be
refused at compile time (unsupported or unsatisfiable) or be exact; valid instances outside the
documented policies (property order, enum objects' member order) are skipped.
"""
from __future__ import annotations

import json

import pytest
from test_schema import accepts

from benchmarks.masks import TEST_SUITE, in_schema_order, is_valid, key_orders

from constrain.schema import SchemaError, UnsupportedSchemaError, compile_json_schema
from constrain.schema.layout import MAX_INDENT_LEVEL, MAX_WS_RUN

SUITE = TEST_SUITE / "draft2020-12"


def check(schema, good, bad, vocab, tokenizer, whitespace="compact", **kw):
    grammar = compile_json_schema(schema, vocab, whitespace=whitespace, **kw)
    dump = (lambda v: json.dumps(v, indent=2)) if whitespace == "indent" else json.dumps
    for value in good:
        assert is_valid(schema, value), value
        assert accepts(grammar, tokenizer, vocab, dump(value)), value
    for value in bad:
        assert not is_valid(schema, value), value
        assert not accepts(grammar, tokenizer, vocab, dump(value)), value
    return grammar


OBJ = {"type": "object"}
CASES = [
    ("minProperties maxProperties", {**OBJ, "properties": {"a": {}, "b": {}}, "minProperties": 1, "maxProperties": 2},
     [{"a": 1}, {"b": 2}, {"a": 1, "b": 2}, {"zz": 1}, {"a": 1, "zz": 2}], [{}, {"a": 1, "b": 2, "c": 3}, {"x": 1, "y": 2, "z": 3}]),
    ("patternProperties", {**OBJ, "properties": {"id": {"type": "string"}, "x-a": {"type": "string"}},
                           "patternProperties": {"^x-": {"type": "integer"}, "_n$": {"type": "number", "minimum": 0}},
                           "additionalProperties": False},
     [{"id": "a", "x-b": 1}, {"x-c_n": 2, "b_n": 0.5}, {}],  # "x-a" must be a string and an integer
     [{"x-a": 1}, {"x-a": "s"}, {"x-b": "s"}, {"x-c_n": -1}, {"zz": 1}, {"b_n": -2}]),
    ("propertyNames", {**OBJ, "properties": {"ab": {}, "toolong": {}}, "propertyNames": {"maxLength": 3},
                       "additionalProperties": {"type": "integer"}},
     [{"ab": [1]}, {"xyz": 1}, {}], [{"toolong": 1}, {"abcd": 1}, {"xyz": "s"}]),
    ("propertyNames enum", {**OBJ, "propertyNames": {"enum": ["a", "b", "c"]},
                            "patternProperties": {"^a": {"type": "string"}}},
     [{"a": "x", "b": 1}, {"c": None, "b": 2}, {}], [{"a": 1}, {"d": 1}]),
    ("maxProperties 0", {"maxProperties": 0}, [{}, 1, []], [{"a": 1}]),
    ("dependentRequired", {**OBJ, "properties": {"a": {}, "b": {}, "c": {}}, "dependentRequired": {"a": ["c"]}},
     [{}, {"b": 1}, {"a": 1, "c": 2}, {"c": 3}], [{"a": 1}, {"a": 1, "b": 2}]),
    ("dependentSchemas", {**OBJ, "properties": {"a": {}, "b": {}},
                          "dependentSchemas": {"a": {"properties": {"b": {"type": "integer"}}, "required": ["b"]}}},
     [{}, {"b": "x"}, {"a": 1, "b": 2}], [{"a": 1}, {"a": 1, "b": "x"}]),
    ("draft-7 dependencies", {"$schema": "http://json-schema.org/draft-07/schema#", **OBJ,
                              "properties": {"a": {}, "b": {}}, "dependencies": {"a": ["b"], "b": {"maxProperties": 1}}},
     [{}, {"b": 1}], [{"a": 1}, {"a": 1, "b": 2}]),
    ("tuple items draft-7", {"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "integer"},
                             {"type": "string"}], "additionalItems": False},
     [[], [1], [1, "a"]], [["a"], [1, 2], [1, "a", 3]]),
    ("prefixItems", {"prefixItems": [{"type": "integer"}, {"type": "string"}], "items": {"type": "boolean"},
                     "minItems": 2}, [[1, "a"], [1, "a", True, False]], [[1], [1, "a", 3], ["a", "a"]]),
    ("contains", {"type": "array", "contains": {"type": "string"}, "minContains": 2, "maxItems": 4},
     [["a", "b"], [1, "a", 2, "b"], ["a", "b", "c"]], [[], ["a"], [1, 2, "a"], ["a", "b", 1, 2, 3]]),
    ("maxContains", {"type": "array", "contains": {"type": "string"}, "maxContains": 1},
     [["a"], [1, "a", 2]], [[], [1], ["a", "b"]]),
    ("not type and enum", {"not": {"anyOf": [{"type": "number"}, {"enum": ["x", None, False]}]}},
     ["y", "", True, [1], {"a": 1}], [1, 1.5, "x", None, False]),
    ("not required", {**OBJ, "properties": {"a": {}}, "not": {"required": ["a"]}}, [{}, {"b": 1}], [{"a": 1}]),
    ("if then else", {**OBJ, "properties": {"kind": {"type": "string"}, "n": {"type": "integer"}, "s": {}},
                      "if": {"properties": {"kind": {"const": "num"}}, "required": ["kind"]},
                      "then": {"required": ["n"]}, "else": {"required": ["s"]}},
     [{"kind": "num", "n": 1}, {"kind": "str", "s": 1}, {"s": 2}, {"kind": "num", "n": 1, "s": 2}],
     [{"kind": "num"}, {"kind": "num", "s": 1}, {"kind": "x", "n": 1}, {}]),
    ("if minLength", {"if": {"type": "string", "maxLength": 2}, "then": {"const": "ab"}, "else": {"type": "string"}},
     ["ab", "abc", "abcd"], ["a", "", 1]),
    ("oneOf after merge", {"type": "object", "properties": {"t": {"enum": ["a", "b"]}}, "required": ["t"],
                           "oneOf": [{"properties": {"t": {"const": "a"}, "x": {"type": "integer"}}},
                                     {"properties": {"t": {"const": "b"}, "y": {"type": "string"}}}]},
     [{"t": "a", "x": 1}, {"t": "b", "y": "q"}, {"t": "a", "y": 1}], [{"t": "a", "x": "q"}, {"t": "c"}, {}]),
    ("oneOf overlapping branches", {"oneOf": [{"type": "string", "maxLength": 3}, {"type": "string", "minLength": 2},
                                              {"type": ["boolean", "null"]}, {"enum": [None, "x"]}]},
     ["a", "abcd", True], ["ab", "abc", None, "x", 1.5]),
    ("allOf closes names", {"allOf": [{"properties": {"a": {}}, "additionalProperties": False},
                                      {"properties": {"b": {}}}]}, [{"a": 1}, {}], [{"b": 1}, {"a": 1, "b": 2}]),
    ("allOf enum intersection", {"allOf": [{"enum": [1, 2, "x"]}, {"enum": [2, "x", 3]}, {"type": "integer"}]},
     [2, 2.0], [1, 3, "x"]),
    ("const number spellings", {"enum": [1, -2.0, 0.5]}, [1, 1.0, -2, -2.0, 0.5], [2, True, "1"]),
    ("$id scoping and anchors", {"$id": "http://example.com/root.json", "type": "object", "properties": {
        "a": {"$ref": "item.json"}, "b": {"$ref": "#flag"}, "c": {"$ref": "http://example.com/nested/other.json"}},
        "$defs": {"item": {"$id": "item.json", "type": "integer", "$defs": {"x": {"$anchor": "x", "type": "null"}}},
                  "flag": {"$anchor": "flag", "type": "boolean"},
                  "other": {"$id": "nested/other.json", "$ref": "#/$defs/s", "$defs": {"s": {"type": "string"}}}}},
     [{"a": 1, "b": True, "c": "s"}], [{"a": "1"}, {"b": 1}, {"c": 2}]),
    ("draft-4 id and ignored siblings", {"$schema": "http://json-schema.org/draft-04/schema#", "id": "urn:root",
                                         "definitions": {"n": {"id": "#num", "type": "integer"}},
                                         "properties": {"a": {"$ref": "#num", "type": "string"}, "b": {"const": 1}}},
     [{"a": 1}, {"b": 2}], [{"a": "x"}]),
    ("2019-09 $ref siblings apply", {"$schema": "https://json-schema.org/draft/2019-09/schema",
                                     "$defs": {"n": {"type": "integer"}}, "$ref": "#/$defs/n", "minimum": 3},
     [3, 10], [2, "x"]),
    ("recursive tree", {"$defs": {"t": {"type": "object", "properties": {"v": {"type": "integer"}, "kids": {
        "type": "array", "items": {"$ref": "#/$defs/t"}, "maxItems": 2}}, "required": ["v"],
        "additionalProperties": False}}, "$ref": "#/$defs/t"},
     [{"v": 1}, {"v": 1, "kids": [{"v": 2, "kids": [{"v": 3}]}, {"v": 4}]}],
     [{"v": 1, "kids": [{}]}, {"v": 1, "kids": [{"v": 2}, {"v": 3}, {"v": 4}]}]),
]


@pytest.mark.parametrize("whitespace", ["compact", "indent"])
@pytest.mark.parametrize("name,schema,good,bad", CASES, ids=[c[0] for c in CASES])
def test_keywords(name, schema, good, bad, whitespace, smollm2_vocab, smollm2_tokenizer):
    grammar = check(schema, good, bad, smollm2_vocab, smollm2_tokenizer, whitespace)
    assert grammar.relaxed == []


def test_flexible_whitespace(smollm2_vocab, smollm2_tokenizer):
    schema = {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "integer"}},
                                               "b": {"const": {"k": [1, None]}}, "c": {"type": "object"}}}
    grammar = compile_json_schema(schema, smollm2_vocab, whitespace="flexible")
    ws = " " * (MAX_WS_RUN - 1)
    for text, ok in [('{"a": [1, 2], "b": {"k": [1, null]}}', True), ('{"a":[1,2],"b":{"k":[1,null]},"c":{}}', True),
                     (json.dumps({"a": [1], "b": {"k": [1, None]}, "c": {"x": []}}, indent=4), True),
                     ('{\n\t"a" :\r\n[ ]\n}', True), (f'{{{ws}"c": {{ }} }}', True), ('{ }', True),
                     (f'{{{ws}  "c": {{}}}}', False),  # a whitespace run longer than MAX_WS_RUN
                     (' {}', False), ('{} ', False),  # only between tokens
                     ('{"a": [1 2]}', False), ('{"b": {"k": [1]}}', False), ('{"a": [1], }', False)]:
        assert accepts(grammar, smollm2_tokenizer, smollm2_vocab, text) == ok, text
        if ok:
            assert is_valid(schema, json.loads(text)), text


def test_indent_is_json_dumps_indent_2(smollm2_vocab, smollm2_tokenizer):
    schema = {"type": "object", "properties": {"a": {"type": "array"}, "b": {"enum": [{"x": [1, {"y": {}}]}]}}}
    grammar = compile_json_schema(schema, smollm2_vocab, whitespace="indent")
    value = {"a": [[], {}, [1, [2]]], "b": {"x": [1, {"y": {}}]}}
    assert accepts(grammar, smollm2_tokenizer, smollm2_vocab, json.dumps(value, indent=2))
    for text in (json.dumps(value), json.dumps(value, indent=4), json.dumps(value, indent=2) + "\n"):
        assert not accepts(grammar, smollm2_tokenizer, smollm2_vocab, text)


def test_indent_deeper_than_the_exact_levels(smollm2_vocab, smollm2_tokenizer):
    """Below MAX_INDENT_LEVEL any deeper indentation is allowed: the canonical one is never rejected."""
    schema = {"$defs": {"n": {"type": "array", "items": {"$ref": "#/$defs/n"}}}, "$ref": "#/$defs/n"}
    grammar = compile_json_schema(schema, smollm2_vocab, whitespace="indent")
    deep: list = []
    for _ in range(MAX_INDENT_LEVEL + 4):
        deep = [deep, []]
    assert accepts(grammar, smollm2_tokenizer, smollm2_vocab, json.dumps(deep, indent=2))
    assert not accepts(grammar, smollm2_tokenizer, smollm2_vocab, json.dumps([[1]], indent=2))


def test_unknown_whitespace_mode(smollm2_vocab):
    with pytest.raises(ValueError):
        compile_json_schema({}, smollm2_vocab, whitespace="pretty")


def test_lenient_lists_relaxed_keywords(smollm2_vocab, smollm2_tokenizer):
    schema = {"type": "object", "properties": {
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "n": {"type": "string", "not": {"pattern": "^a"}},
        "either": {"oneOf": [{"type": "integer"}, {"minimum": 2}]}}, "required": ["tags"]}
    with pytest.raises(UnsupportedSchemaError):
        compile_json_schema(schema, smollm2_vocab)
    grammar = compile_json_schema(schema, smollm2_vocab, lenient=True)
    assert sorted(grammar.relaxed) == ["#/properties/either/oneOf", "#/properties/n/not",
                                       "#/properties/tags/uniqueItems"]
    # a superset: the relaxed keywords are not enforced, the others are
    assert accepts(grammar, smollm2_tokenizer, smollm2_vocab, json.dumps({"tags": ["a", "a"], "n": "ab", "either": 5}))
    assert not accepts(grammar, smollm2_tokenizer, smollm2_vocab, json.dumps({"tags": [1]}))
    assert not accepts(grammar, smollm2_tokenizer, smollm2_vocab, json.dumps({"tags": [], "n": 3}))


@pytest.mark.parametrize("schema", [
    {"type": "object", "required": ["a"], "additionalProperties": False},
    {"allOf": [{"type": "string"}, {"type": "integer"}]}, {"allOf": [{"enum": [1, 2]}, {"enum": [3]}]},
    {"type": "object", "properties": {"a": {"not": {}}}, "required": ["a"]}, {"not": True},
    {"type": "array", "minItems": 3, "maxItems": 2}, {"type": "object", "minProperties": 2, "maxProperties": 1},
    {"type": "array", "contains": {"type": "string"}, "minContains": 2, "maxContains": 1},
    {"type": "array", "prefixItems": [False], "minItems": 1},
])
def test_unsatisfiable(schema, smollm2_vocab):
    with pytest.raises(SchemaError) as e:
        compile_json_schema(schema, smollm2_vocab)
    assert not isinstance(e.value, UnsupportedSchemaError)


def test_remote_refs_are_never_fetched(smollm2_vocab, tmp_path):
    target = tmp_path / "s.json"
    target.write_text('{"type": "integer"}')
    for ref in (target.as_uri(), "http://localhost:1/s.json", "urn:uuid:deadbeef-1234-5678-9abc-def012345678"):
        with pytest.raises(UnsupportedSchemaError) as e:
            compile_json_schema({"properties": {"a": {"$ref": ref}}}, smollm2_vocab)
        assert e.value.pointer == "#/properties/a/$ref" and "remote" in str(e.value)


def test_undeclared_names_are_spelled_as_json_dumps_writes_them(smollm2_vocab, smollm2_tokenizer):
    """Non-ASCII, quoted, control and astral names, in every name class, declared ones excluded."""
    odd = ["\u00e9t\u00e9", 'say "hi"', "tab\there", "\U0001F600", "caf\u00e9"]
    schema = {**OBJ, "properties": {"caf\u00e9": {"type": "string"}}, "additionalProperties": {"type": "integer"}}
    check(schema, [{n: 1} for n in odd[:4]] + [{"caf\u00e9": "x"}], [{"caf\u00e9": 1}, {"\u00e9": "x"}],
          smollm2_vocab, smollm2_tokenizer)
    schema = {**OBJ, "patternProperties": {"^\u00e9": {"type": "integer"}}, "additionalProperties": False}
    check(schema, [{"\u00e9t\u00e9": 1}], [{"\u00e9t\u00e9": "x"}, {"t\u00e9": 1}], smollm2_vocab, smollm2_tokenizer)
    grammar = compile_json_schema(schema, smollm2_vocab)
    assert not accepts(grammar, smollm2_tokenizer, smollm2_vocab, '{"\\u00E9": 1}')  # json.dumps writes lowercase


# ---------------------------------------------------------------- JSON-Schema-Test-Suite

SUITE_FILES = ["not.json", "if-then-else.json", "prefixItems.json", "contains.json", "minContains.json",
               "maxContains.json", "minProperties.json", "maxProperties.json", "dependentRequired.json",
               "dependentSchemas.json", "defs.json", "anchor.json", "refRemote.json", "infinite-loop-detection.json",
               "propertyNames.json", "patternProperties.json", "unevaluatedItems.json", "optional/id.json"]
# compiled groups per file, at least (the others are refused: unsupported or unsatisfiable)
FLOORS = {"not.json": 4, "if-then-else.json": 10, "prefixItems.json": 4, "contains.json": 6, "minContains.json": 5,
          "maxContains.json": 1, "minProperties.json": 2, "maxProperties.json": 3, "dependentRequired.json": 4,
          "dependentSchemas.json": 4, "anchor.json": 4, "infinite-loop-detection.json": 1, "optional/id.json": 1,
          "patternProperties.json": 5, "propertyNames.json": 6}


@pytest.mark.parametrize("name", SUITE_FILES)
def test_suite_exact_or_refused(name, smollm2_vocab, smollm2_tokenizer):
    compiled = 0
    for k, group in enumerate(json.loads((SUITE / name).read_text())):
        try:
            grammar = compile_json_schema(group["schema"], smollm2_vocab)
        except SchemaError:
            continue
        compiled += 1
        lists = key_orders(group["schema"])
        for test in group["tests"]:
            data = test["data"]
            valid = is_valid(group["schema"], data)
            if valid and not in_schema_order(data, lists):
                continue
            assert accepts(grammar, smollm2_tokenizer, smollm2_vocab, json.dumps(data)) == valid, \
                (name, k, group["description"], test["description"])
    assert compiled >= FLOORS.get(name, 0), compiled
