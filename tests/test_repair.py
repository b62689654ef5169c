"""constrain.repair_json: the corpus of model outputs, plus properties the corpus cannot show
(bytes, linear time, deep nesting, error offsets, strict JSON untouched)."""
from __future__ import annotations

import json
import random
import re
import time
from pathlib import Path

import pytest

from constrain.errors import ConstrainError
from constrain.repair import RepairError, json_equal, repair_json

CORPUS_PATH = Path(__file__).with_name("repair_corpus.jsonl")
CORPUS = [json.loads(line) for line in CORPUS_PATH.read_text(encoding="utf-8").split("\n") if line.strip()]




def test_same_is_type_strict():
    assert json_equal({"a": [1, 2.5, None]}, {"a": [1, 2.5, None]})
    assert not json_equal(1, 1.0)
    assert not json_equal(1, True)
    assert not json_equal(0.0, -0.0)
    assert not json_equal({"a": 1}, {"a": 1, "b": 2})
    assert not json_equal([1, [2]], [1, [3]])
    assert not json_equal("1", 1)


def test_corpus_is_large_and_covers_every_category():
    cats = {row["category"] for row in CORPUS}
    assert len(CORPUS) >= 200
    assert sum(row["category"] == "valid" for row in CORPUS) >= 20
    assert {"fence", "prose", "markdown", "commas", "quotes", "unquoted", "literals", "comments",
            "nonfinite", "numbers", "strings", "escapes", "truncation", "duplicates", "concatenated",
            "escaped_document", "invisible", "stray", "failure", "valid", "schema"} <= cats
    for row in CORPUS:
        assert ("expected" in row) != bool(row.get("error")), row


def _id(row):
    return f"{row['category']}:{row['input'][:40]!r}"


@pytest.mark.parametrize("row", CORPUS, ids=[_id(r) for r in CORPUS])
def test_corpus(row):
    schema = row.get("schema")
    if row.get("error"):
        with pytest.raises(RepairError):
            repair_json(row["input"], schema)
        return
    got = repair_json(row["input"], schema)
    assert json_equal(got, row["expected"]), f"got {got!r}, expected {row['expected']!r}"


@pytest.mark.parametrize("row", [r for r in CORPUS if r["category"] == "valid"], ids=_id)
def test_valid_documents_come_back_as_json_loads_gives_them(row):
    assert json_equal(repair_json(row["input"]), json.loads(row["input"]))


@pytest.mark.parametrize("row", [r for r in CORPUS if r["category"] == "valid"
                                 and r["input"].lstrip().startswith("{") and r["input"].rstrip().endswith("}")
                                 and r["input"].strip() != "{}"], ids=_id)
def test_one_defect_elsewhere_leaves_strings_untouched(row):
    """A trailing comma added to a valid object sends it down the repair path; every string inside
    (with its `//`, `#`, quotes and backslashes) must still come back exactly."""
    text = row["input"].rstrip()
    broken = text[:-1].rstrip() + ",}"
    assert json_equal(repair_json(broken), json.loads(text))


def test_error_type_and_offset():
    with pytest.raises(RepairError) as info:
        repair_json("I'm sorry, I can't help with that.")
    err = info.value
    assert isinstance(err, ConstrainError) and isinstance(err, ValueError)
    assert "offset 0" in str(err) and err.offset == 0
    with pytest.raises(RepairError) as info:
        repair_json("   \n  -")
    assert info.value.offset == 6 and "'-'" in str(info.value)
    with pytest.raises(RepairError, match="HTML"):
        repair_json("<html><body>Bad Gateway</body></html>")


def test_bytes_are_accepted():
    assert repair_json(b'{"a": "caf\xc3\xa9",}') == {"a": "café"}
    assert repair_json('\ufeff{"bom": 1}'.encode("utf-8")) == {"bom": 1}
    assert repair_json('{"u16": [1, 2]}'.encode("utf-16")) == {"u16": [1, 2]}
    # cut in the middle of a two-byte character: the partial character is dropped
    assert repair_json('{"a": "café'.encode("utf-8")[:-1]) == {"a": "caf"}
    assert repair_json(bytearray(b"[1, 2,]")) == [1, 2]


def test_wrong_input_type_is_a_type_error():
    with pytest.raises(TypeError):
        repair_json(42)  # type: ignore[arg-type]


def _depth(v) -> int:
    d = 0
    while isinstance(v, list) and v:
        v = v[0]
        d += 1
    return d + (1 if isinstance(v, list) else 0)


@pytest.mark.parametrize("text", ["[" * 10_000 + "]" * 10_000, "[" * 10_000, "[" * 10_000 + "1,]" + "]" * 9_999,
                                  "(" * 10_000 + ")" * 10_000], ids=["closed", "cut", "trailing-comma", "tuples"])
def test_deep_nesting_needs_no_recursion(text):
    value = repair_json(text)
    assert _depth(value) == 10_000


def test_deep_objects():
    value = repair_json('{"a": ' * 10_000)
    depth = 0
    while isinstance(value, dict) and value:
        value = value["a"]
        depth += 1
    assert depth == 9_999 and value == {}


def test_deep_nesting_with_schema():
    value = repair_json("[" * 5_000 + '"1"' + "]" * 5_000, {"type": "array", "items": {"$ref": "#"}})
    assert _depth(value) == 5_000


def _timed(text: str) -> float:
    t0 = time.perf_counter()
    try:
        repair_json(text)
    except RepairError:
        pass
    return time.perf_counter() - t0


@pytest.mark.parametrize("unit", [
    '{"a": "x", ',            # many members
    '"She said "yes" now", ',  # many unescaped quotes
    "{ {[ ",                    # prose braces that never parse cleanly
    '"a", "',                  # quote after comma (split look-ahead)
    "x ",                       # one long bare word
    "/* c */ ",                 # comments
    "'a'b'",                    # apostrophes
    "```",                      # fence runs
    "{a, b} ",                  # prose sets
    '["a" ',                    # unclosed arrays and strings
    '{"a": [1, 2,], "b": {"c": 1,}}, ',   # containers the strict decoder tries and fails on
    "[",                        # deep nesting
])
def test_linear_time(unit):
    """Doubling the input must not quadruple the time (a quadratic step would)."""
    small = unit * 1_500
    large = unit * 6_000
    _timed(small)
    t_small = min(_timed(small) for _ in range(3))
    t_large = min(_timed(large) for _ in range(3))
    assert t_large < 4 * 3 * max(t_small, 1e-3), (t_small, t_large)


def test_never_crashes_on_noise():
    """Random mutations of corpus inputs: a value or a RepairError, never anything else."""
    rng = random.Random(1234)
    alphabet = '{}[]()"\':,\\/*#`\n tfn0123456789.-+eE“”‘’\ufeffabc'
    inputs = [row["input"] for row in CORPUS if row["input"]]
    for _ in range(3_000):
        s = list(rng.choice(inputs))
        for _ in range(rng.randint(1, 6)):
            op = rng.random()
            i = rng.randrange(len(s) + 1)
            if op < 0.4:
                s.insert(i, rng.choice(alphabet))
            elif op < 0.8 and s:
                del s[min(i, len(s) - 1)]
            else:
                s = s[:i]
        text = "".join(s)
        try:
            value = repair_json(text)
        except RepairError:
            continue
        json.dumps(value)  # always plain JSON data


def test_truncating_valid_documents_never_fails_once_a_container_opened():
    """Every prefix of a valid document (after its first bracket) repairs to some value."""
    docs = [row["input"] for row in CORPUS if row["category"] == "valid" and row["input"].lstrip()[:1] in "{["]
    for doc in docs:
        start = doc.index(doc.lstrip()[0])
        for cut in range(start + 1, len(doc) + 1):
            json.dumps(repair_json(doc[:cut]))


def test_prefixes_keep_what_was_complete():
    """Every cut of a document keeps its complete members and a prefix of the one being written."""
    doc = '{"id": 12, "name": "Ann Lee", "tags": ["a", "b"], "ok": true, "score": 6.5}'
    full = json.loads(doc)
    for cut in range(1, len(doc) + 1):
        value = repair_json(doc[:cut])
        assert isinstance(value, dict)
        assert list(value) == list(full)[:len(value)]
        for key, v in value.items():
            if isinstance(v, str):
                assert full[key].startswith(v)
            elif isinstance(v, list):
                assert not v or (v[:-1] == full[key][:len(v) - 1] and full[key][len(v) - 1].startswith(v[-1]))
            elif key != list(value)[-1]:
                assert json_equal(v, full[key])
    assert json_equal(repair_json(doc[:doc.index("Lee")]), {"id": 12, "name": "Ann "})
    assert json_equal(repair_json(doc[:doc.index(".5")]), {"id": 12, "name": "Ann Lee", "tags": ["a", "b"], "ok": True,
                                                     "score": 6})


def test_no_value_is_never_invented_from_a_schema():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
              "required": ["a", "b"]}
    assert repair_json('{"a": "1"', schema) == {"a": 1}
    assert repair_json('{"b": null}', schema) == {"b": None}
    assert repair_json("{}", schema) == {}


def test_fast_path_returns_json_loads_result_and_rejects_nan():
    text = '{"a": [1, 2.50, "x"], "b": {"c": null}}'
    assert json_equal(repair_json(text), json.loads(text))
    assert repair_json('{"a": NaN}') == {"a": None}  # json.loads would give nan


def test_exported_from_the_package():
    import constrain
    import constrain.repair as r

    assert set(r.__all__) == {"RepairError", "json_equal", "repair_json"}
    assert constrain.repair_json is repair_json and constrain.RepairError is RepairError


# -- generated documents: one value written in many model styles must come back exactly ------------

_ALPHABET = list('ab xyz,:{}[]"\'\\/#*`\n\t-+.0123456789eEtruefalsnNone“”‘’ ') + [
    "//", "/*", "*/", '", "', '": ', '\\"', "http://x", "```", "\u00e9", "😀", "', '", "': "]
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*\Z")


def _random_value(rng: random.Random, depth: int = 0):
    def text():
        return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 8)))

    r = rng.random()
    if depth > 3 or r < 0.3:
        return [text, lambda: rng.randint(-1000, 1000), lambda: round(rng.uniform(-1e3, 1e3), 3),
                lambda: True, lambda: False, lambda: None][rng.randint(0, 5)]()
    if r < 0.65:
        keys = [text() if rng.random() < 0.5 else "".join(rng.choice("abcxyz_$") for _ in range(rng.randint(1, 6)))
                for _ in range(rng.randint(0, 4))]
        return {k: _random_value(rng, depth + 1) for k in keys}
    return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def _write(v, style: dict, indent: int = 0) -> str:
    """`v` as a model might write it: single quotes, Python literals, unquoted keys, trailing or
    missing commas, `//` comments, pretty-printed or not."""
    def string(s: str) -> str:
        if style["single"]:
            return "'" + json.dumps(s, ensure_ascii=False)[1:-1].replace('\\"', '"').replace("'", "\\'") + "'"
        return json.dumps(s, ensure_ascii=style["ascii"])

    pretty = style["pretty"]
    nl = "\n" + "  " * (indent + 1) if pretty else ""
    end = "\n" + "  " * indent if pretty else ""
    sep = ("," if style["commas"] else "") + (" // note" if style["comments"] else "") + (nl if pretty else " ")
    tail = "," if style["trailing"] else ""
    if isinstance(v, dict):
        if not v:
            return "{}"
        items = [(k if style["unquoted"] and _IDENT.match(k) else string(k)) + ": " + _write(x, style, indent + 1)
                 for k, x in v.items()]
        return "{" + nl + sep.join(items) + tail + end + "}"
    if isinstance(v, list):
        if not v:
            return "[]"
        return "[" + nl + sep.join(_write(x, style, indent + 1) for x in v) + tail + end + "]"
    if isinstance(v, str):
        return string(v)
    if isinstance(v, bool) or v is None:
        return {True: "True", False: "False", None: "None"}[v] if style["python"] else json.dumps(v)
    return json.dumps(v)


@pytest.mark.parametrize("seed", range(8))
def test_generated_documents_in_model_styles(seed):
    rng = random.Random(seed)
    for _ in range(250):
        value = _random_value(rng)
        if not isinstance(value, (dict, list)):
            value = [value]
        style = {k: rng.random() < 0.4 for k in ("single", "python", "unquoted", "trailing", "comments", "ascii")}
        style["pretty"] = style["comments"] or rng.random() < 0.6
        style["commas"] = not (style["pretty"] and rng.random() < 0.3)
        text = _write(value, style)
        wrap = rng.randint(0, 4)
        if wrap == 1:
            text = "```json\n" + text + "\n```"
        elif wrap == 2:
            text = "Here is the result:\n" + text + "\nHope it helps."
        elif wrap == 3:
            text = "\ufeff// generated\n" + text + "}"
        got = repair_json(text)
        assert json_equal(got, value), f"{style} wrap={wrap}\n{text}\ngot {got!r}\nwant {value!r}"


@pytest.mark.parametrize("seed", range(4))
def test_generated_escaped_documents(seed):
    rng = random.Random(100 + seed)
    for _ in range(200):
        value = _random_value(rng)
        if not isinstance(value, (dict, list)):
            value = [value]
        text = json.dumps(json.dumps(value))[1:-1]          # `{\"a\": 1}` without the outer quotes
        assert json_equal(repair_json(text), value), text


def _is_prefix(part, full) -> bool:
    """Could `part` be what a cut of `full` repairs to? Complete members equal, the last one a prefix."""
    todo = [(part, full, True)]
    while todo:
        p, f, last = todo.pop()
        if isinstance(f, dict):
            if not isinstance(p, dict) or list(p) != list(f)[:len(p)]:
                return False
            keys = list(p)
            todo.extend((p[k], f[k], last and i == len(keys) - 1) for i, k in enumerate(keys))
        elif isinstance(f, list):
            if not isinstance(p, list) or len(p) > len(f):
                return False
            todo.extend((x, y, last and i == len(p) - 1) for i, (x, y) in enumerate(zip(p, f)))
        elif not last:
            if not json_equal(p, f):
                return False
        elif isinstance(f, str):
            if not isinstance(p, str) or not f.startswith(p):
                return False
        elif isinstance(f, (int, float)) and not isinstance(f, bool):
            if not isinstance(p, (int, float)) or isinstance(p, bool):
                return False
        elif not json_equal(p, f):
            return False
    return True


@pytest.mark.parametrize("seed", range(4))
def test_every_cut_of_a_generated_document_is_a_prefix_of_it(seed):
    """Truncation rules 1-6 on random documents: every cut after the first bracket gives a value whose
    complete members are exact and whose last member is a prefix of the real one."""
    rng = random.Random(200 + seed)
    for _ in range(25):
        value = _random_value(rng)
        if not isinstance(value, (dict, list)):
            value = [value]
        text = json.dumps(value, ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 2]))
        for cut in range(1, len(text) + 1):
            got = repair_json(text[:cut])
            assert _is_prefix(got, value), f"{text[:cut]!r}\ngot {got!r}\nfull {value!r}"


@pytest.mark.parametrize("text, schema, expected", [
    ('{"v": "1", "kids": [{"v": "2", "kids": [{"v": "3"}]}]}',
     {"definitions": {"n": {"type": "object", "properties": {"v": {"type": "integer"},
                                                             "kids": {"type": "array", "items": {"$ref": "#/definitions/n"}}}}},
      "$ref": "#/definitions/n"},
     {"v": 1, "kids": [{"v": 2, "kids": [{"v": 3}]}]}),
    ('{"a": "1", "b": "2.5"}', {"allOf": [{"properties": {"a": {"type": "integer"}}},
                                         {"properties": {"b": {"type": "number"}}}]}, {"a": 1, "b": 2.5}),
    ('{"x_1": "5", "y": "5"}', {"patternProperties": {"^x_": {"type": "integer"}}}, {"x_1": 5, "y": "5"}),
    ('["1", "2", "3"]', {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}],
                         "items": {"type": "number"}}, [1, "2", 3]),
    ('{"n": "7"}', {"properties": {"n": {"type": "integer", "nullable": True}}}, {"n": 7}),
    ('{"s": 00123, "t": 1.50}', {"properties": {"s": {"type": "string"}, "t": {"type": "string"}}},
     {"s": "00123", "t": "1.50"}),
    ('{"ok": "TRUE", "n": " 42 "}', {"properties": {"ok": {"type": "boolean"}, "n": {"type": "integer"}}},
     {"ok": True, "n": 42}),
    ('{"n": "4.0"}', {"properties": {"n": {"type": "integer"}}}, {"n": "4.0"}),     # not an integer literal
    ('{"c": "1"}', {"properties": {"c": {"const": 1}}}, {"c": 1}),
    ('{"a": "1"}', {"properties": {"a": {"$ref": "#/missing"}}}, {"a": "1"}),       # unresolvable: no opinion
    ('{"a": "1"}', {"properties": {"a": {"anyOf": [{"type": "integer"}, {}]}}}, {"a": "1"}),
    ('{"a": null}', {"properties": {"a": {"type": "string"}}}, {"a": None}),        # null is never a string
])
def test_schema_guided_readings(text, schema, expected):
    assert json_equal(repair_json(text, schema), expected)


def test_schema_must_be_a_dict():
    with pytest.raises(TypeError):
        repair_json("{}", [1])  # type: ignore[arg-type]


def test_nonfinite_numbers_never_come_back_as_floats():
    for text in ("NaN", "[NaN, Infinity, -Infinity]", '{"a": nan, "b": -inf}', "[1, 2, NaN"):
        value = repair_json(text)
        json.dumps(value, allow_nan=False)   # raises on nan/inf
