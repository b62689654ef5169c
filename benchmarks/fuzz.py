"""Fuzzing: random schemas and regexes against the judges constrain must agree with.

    python -m benchmarks.fuzz [--minutes M] [--kind schema|regex|both] [--out FILE]

Schemas come from a small generator of our own (`schemas()`: types, properties/required,
additionalProperties, enums and consts, string lengths/patterns/formats, integer and number bounds,
arrays with min/max items, anyOf), instances from `hypothesis-jsonschema`, plus mutations of them
(`mutated`). Every instance goes through the MaskBench harness (`benchmarks/masks.py`: `prepare`
writes it with `json.dumps`, tokenizes it canonically and asks `jsonschema` for the verdict, skipping
valid objects whose keys are not in schema order; `run_case` teacher-forces it token by token, EOS
included). A valid instance must be accepted, an invalid one refused; a schema may instead raise
`UnsupportedSchemaError` up front, but a plain `SchemaError` at '#' ("no value satisfies the
schema") while `hypothesis-jsonschema` finds a valid instance is a finding too. (Documented
policies of `constrain.schema` are not scored as findings: contradictory keywords inside a
subschema are `SchemaError`s at their pointer; integers are written as digits, so integral floats
are left out of the mutations; valid instances outside the emitted subset are skipped,
`emitted`.)

Regexes (`regexes()`) come with a string they match by construction, plus random and mutated
strings (non-ASCII letters and digits among them), all judged by Python's `re.fullmatch` with
`re.ASCII` (constrain's default classes).

`tests/test_fuzz.py` runs a fixed-seed slice of both in CI; this runs them for minutes, re-seeding
hypothesis each round, and appends each (shrunk) finding to a JSONL file.
"""
from __future__ import annotations

import argparse
import json
import re
import time
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
import hypothesis_jsonschema._from_schema
from hypothesis_jsonschema import from_schema

from benchmarks.engines import ConstrainEngine, Unsupported
from benchmarks.masks import Case, Prepared, is_valid, prepare, run_case
from benchmarks.vocabs import load_tokenizer, text_ids
from constrain import compile_regex
from constrain.errors import LimitError, RegexError

ROOT = Path(__file__).resolve().parent.parent


class _Many:
    """hypothesis-jsonschema 0.23.1 (the latest) drives hypothesis' internal `many` the old way
    (`while elements.more(): ... elements.reject()`); hypothesis now has it as a context manager and
    an iterator. This gives the old calls on top of the new ones, for its object strategy only."""

    def __init__(self, data, **sizes):
        self._many = _NEW_MANY(data, **sizes)
        self._elements = None

    def more(self) -> bool:
        if self._elements is None:
            self._elements = iter(self._many.__enter__())
        if next(self._elements, StopIteration) is StopIteration:
            self._many.__exit__(None, None, None)
            return False
        return True

    def reject(self, why: str | None = None) -> None:
        self._many.reject(why)


_NEW_MANY = hypothesis_jsonschema._from_schema.cu.many
if not hasattr(_NEW_MANY, "more") and hypothesis_jsonschema.__version__ == "0.23.1":
    hypothesis_jsonschema._from_schema.cu = SimpleNamespace(many=_Many)  # its only use of `cu`
NAMES = ["a", "b", "id", "name", "x y", "é"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-20, 20), st.sampled_from([0.5, -1.25, 1e-3, 1.5e-7]),
                    st.text("ab \"\\é\n", max_size=4))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(st.sampled_from(NAMES), inner, max_size=3)),
                    max_leaves=6)


# ---------------------------------------------------------------- regexes

def _literal(chars: str) -> st.SearchStrategy[tuple[str, str]]:
    return st.sampled_from(chars).map(lambda c: (re.escape(c), c))


_CLASSES = [(r"[a-c]", "abc"), (r"[^a]", "b.1"), (r"\d", "0789"), (r"[x-z0-3]", "xz03"), (r".", "a.-"),
            (r"\w", "a_9"), (r"\s", " \t"), (r"[.\-]", ".-")]


def _atoms() -> st.SearchStrategy[tuple[str, str]]:
    """(pattern, a string it fully matches)."""
    classes = st.sampled_from(_CLASSES).flatmap(lambda pc: st.sampled_from(pc[1]).map(lambda c: (pc[0], c)))
    return st.one_of(_literal("ab.-1 "), classes)


def _combine(inner: st.SearchStrategy[tuple[str, str]]) -> st.SearchStrategy[tuple[str, str]]:
    def seq(parts: list[tuple[str, str]]) -> tuple[str, str]:
        return "".join(p for p, _ in parts), "".join(s for _, s in parts)

    def alt(parts: list[tuple[str, str]], pick: int) -> tuple[str, str]:
        return "(" + "|".join(p for p, _ in parts) + ")", parts[pick % len(parts)][1]

    def repeat(part: tuple[str, str], q: tuple[str, int]) -> tuple[str, str]:
        return f"(?:{part[0]}){q[0]}", part[1] * q[1]

    quantifiers = st.sampled_from([("*", 0), ("*", 2), ("+", 1), ("?", 0), ("?", 1), ("{2}", 2), ("{1,3}", 3),
                                   ("{0,2}", 1), ("{2,}", 3)])
    return st.one_of(st.lists(inner, max_size=4).map(seq),
                     st.builds(alt, st.lists(inner, min_size=2, max_size=3), st.integers(0, 2)),
                     st.builds(repeat, inner, quantifiers))


def regexes() -> st.SearchStrategy[tuple[str, str]]:
    """Small regexes in the syntax Python's `re` and constrain share, each with a string it matches."""
    return st.recursive(_atoms(), _combine, max_leaves=8)


def mutated_text(text: str) -> st.SearchStrategy[str]:
    """`text` with a character inserted, deleted or replaced, or doubled, or cut."""
    pos = st.integers(0, len(text))
    char = st.sampled_from("ab.-1 x_\né٣\u2028")
    return st.one_of(st.builds(lambda i, c: text[:i] + c + text[i:], pos, char),
                     st.builds(lambda i: text[:i] + text[i + 1:], pos),
                     st.builds(lambda i, c: text[:i] + c + text[i + 1:], pos, char),
                     st.just(text + text), st.builds(lambda i: text[:i], pos))


class RegexEngine(ConstrainEngine):
    """The MaskBench constrain engine with `compile_regex` in place of the schema compiler."""

    name = "constrain-regex"

    def compile(self, pattern: Any) -> Any:
        if not isinstance(pattern, str):  # the base class's warm-up schema
            return super().compile(pattern)
        try:
            return compile_regex(pattern, self.vocab)
        except RegexError as e:
            raise Unsupported(f"{type(e).__name__}: {e}") from None


def check_regex(engine: RegexEngine, tokenizer: Any, pattern: str, texts: list[str]) -> None:
    """Each text is accepted by the mask iff `re.fullmatch` matches it (ASCII classes: constrain's
    default, like Python's `re.ASCII` flag)."""
    checked = [{"index": k, "valid": re.fullmatch(pattern, t, re.ASCII) is not None,
                "ids": text_ids(tokenizer, t) + [tokenizer.eos_token_id]}
               for k, t in enumerate(texts)]
    result = run_case(engine, Prepared(Case(pattern, "regex", pattern, []), checked))
    assert result["status"] == "compiled", f"{pattern!r}: {result.get('reason')}"
    for inst in result["instances"]:
        assert inst["pass"], (f"regex {pattern!r}, text {texts[inst['index']]!r}: "
                              f"{'valid rejected' if inst['valid'] else 'invalid accepted'} at token {inst['rejected_at']}")


# ---------------------------------------------------------------- schemas

def _string() -> st.SearchStrategy[dict]:
    lengths = st.fixed_dictionaries({}, optional={"minLength": st.integers(0, 4), "maxLength": st.integers(0, 8)})
    pattern = st.one_of(regexes().map(lambda r: r[0]), st.sampled_from(["^a", "b$", "^[a-c]+$", r"\d", "^x|y$"]))
    extra = st.one_of(st.just({}), pattern.map(lambda p: {"pattern": p}),
                      st.sampled_from(["date", "ipv4", "uuid"]).map(lambda f: {"format": f}))
    return st.builds(lambda a, b: {"type": "string", **a, **b}, lengths, extra)


def _bounds(low: st.SearchStrategy, gap: st.SearchStrategy, lower: list[str], upper: list[str]) -> st.SearchStrategy:
    """Numeric bounds, mostly consistent (upper = lower + gap; a zero gap with an exclusive bound is
    the contradiction constrain reports), each keyword optional."""
    def build(lo, dx, lo_key, hi_key, keep):
        out = {lo_key: lo, hi_key: lo + dx}
        return {k: v for k, v in out.items() if k in keep}
    keep = st.sets(st.sampled_from(lower + upper))
    return st.builds(build, low, gap, st.sampled_from(lower), st.sampled_from(upper), keep)


def _integer() -> st.SearchStrategy[dict]:
    bounds = _bounds(st.integers(-1000, 1000), st.integers(0, 50), ["minimum", "exclusiveMinimum"],
                     ["maximum", "exclusiveMaximum"])
    step = st.one_of(st.just({}), st.sampled_from([2, 3, 5]).map(lambda m: {"multipleOf": m}))
    return st.builds(lambda b, m: {"type": "integer", **b, **m}, bounds, step)


def _number() -> st.SearchStrategy[dict]:
    bounds = _bounds(st.one_of(st.integers(-100, 100), st.sampled_from([-0.5, 0.25, 1.5, 99.75])),
                     st.sampled_from([0, 0.5, 1, 10]), ["minimum", "exclusiveMinimum"], ["maximum", "exclusiveMaximum"])
    return bounds.map(lambda b: {"type": "number", **b})


def _leaves() -> st.SearchStrategy[dict]:
    return st.one_of(_string(), _integer(), _number(),
                     st.sampled_from([{"type": "boolean"}, {"type": "null"}, {"type": ["string", "null"]}, {}]),
                     st.lists(SCALARS, min_size=1, max_size=4).map(lambda v: {"enum": v}),
                     JSON.map(lambda v: {"const": v}))


def _containers(inner: st.SearchStrategy[dict]) -> st.SearchStrategy[dict]:
    def obj(props: dict, required: list[str], extra: Any) -> dict:
        out: dict = {"type": "object", "properties": props, "required": [n for n in required if n in props]}
        if extra is not None:
            out["additionalProperties"] = extra
        return out

    objects = st.builds(obj, st.dictionaries(st.sampled_from(NAMES), inner, max_size=3),
                        st.lists(st.sampled_from(NAMES), max_size=2, unique=True),
                        st.sampled_from([None, False, True, {"type": "integer"}]))
    arrays = st.builds(lambda items, lo, extra: {"type": "array", "items": items, "minItems": lo, "maxItems": lo + extra},
                       inner, st.integers(0, 2), st.integers(0, 2))
    return st.one_of(objects, arrays, st.lists(inner, min_size=2, max_size=3).map(lambda b: {"anyOf": b}))


def schemas() -> st.SearchStrategy[dict]:
    return st.recursive(_leaves(), _containers, max_leaves=6)


def _path_edits(value: Any) -> list:
    """Every (container, key) inside `value`, for the mutations to pick from."""
    out, stack = [], [value]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            out.append((node, key))
            stack.append(child)
    return out


def mutated(value: Any, draw) -> Any:
    """A copy of `value` with one edit: a member replaced, dropped or added, an item duplicated, or the
    whole value replaced."""
    value = json.loads(json.dumps(value))
    spots = _path_edits(value)
    if not spots or draw(st.integers(0, 4)) == 0:
        return draw(JSON)
    node, key = draw(st.sampled_from(spots))
    edit = draw(st.sampled_from(["replace", "drop", "add", "tweak"]))
    if edit == "replace":
        node[key] = draw(JSON)
    elif edit == "drop":
        del node[key]
    elif edit == "add" and isinstance(node, dict):
        node[draw(st.sampled_from(NAMES + ["zz"]))] = draw(JSON)
    elif edit == "add":
        node.insert(key, node[key])
    else:
        old = node[key]
        node[key] = (old + "!" if isinstance(old, str) else old * 10 + 1 if isinstance(old, int) and
                     not isinstance(old, bool) else old / 3 if isinstance(old, float) else draw(JSON))
    return value


_PRINTABLE = re.compile(r'[ -~]*')
OUTSIDE = object()  # `emitted`: not written so by constrain


def emitted(value: Any, schema: Any) -> Any:
    """`value` as constrain writes it for a schema of `schemas()` (keys of each object in its
    schema's order, undeclared ones last), or OUTSIDE when that is outside what constrain emits by
    documented policy (`constrain.schema`): under a `pattern`, a string with a character that is not printable ASCII (pattern
    classes are the intersection of Python's and ECMA's readings, and `$` is the end); an enum or
    const object with its keys in another order. Such valid instances are not scored."""
    if not isinstance(schema, dict):
        return value
    if "anyOf" in schema:
        for branch in schema["anyOf"]:
            out = emitted(value, branch) if is_valid(branch, value) else OUTSIDE
            if out is not OUTSIDE:
                return out
        return OUTSIDE
    if "const" in schema or "enum" in schema:
        choices = [schema["const"]] if "const" in schema else schema["enum"]
        return value if any(json.dumps(value) == json.dumps(c) for c in choices) else OUTSIDE
    if isinstance(value, str):
        return OUTSIDE if "pattern" in schema and not _PRINTABLE.fullmatch(value) else value
    if isinstance(value, list):
        items = [emitted(v, schema.get("items", True)) for v in value]
        return OUTSIDE if OUTSIDE in items else items
    if isinstance(value, dict):
        props, extra = schema.get("properties", {}), schema.get("additionalProperties", True)
        names = [k for k in props if k in value] + [k for k in value if k not in props]
        out = {k: emitted(value[k], props.get(k, extra)) for k in names}
        return OUTSIDE if OUTSIDE in out.values() else out
    return value


def check_schema(engine: ConstrainEngine, tokenizer: Any, schema: dict, instances: list[Any]) -> str:
    """Teacher-force `instances` through the compiled schema; "unsupported" if it raised
    `UnsupportedSchemaError`, or a `SchemaError` at a keyword's pointer (contradictory bounds,
    reported where they are), "limit" for a `LimitError`, "compiled" otherwise. Fails on any wrong
    verdict."""
    tests = [{"valid": is_valid(schema, v), "data": v} for v in instances]
    tests = [{"valid": True, "data": emitted(t["data"], schema)} if t["valid"] else t for t in tests]
    tests = [t for t in tests if t["data"] is not OUTSIDE]
    prepared = prepare(Case(json.dumps(schema), "fuzz", schema, tests), tokenizer)
    try:
        result = run_case(engine, prepared)
    except LimitError:  # a typed error in bounded time (the deadline, on a loaded machine): allowed
        return "limit"
    if result["status"] == "unsupported":
        valid = [prepared.case.tests[i["index"]]["data"] for i in prepared.checked if i["valid"]]
        assert result["reason"].startswith("UnsupportedSchemaError") or not valid or not result["reason"].endswith(" at #"), \
            f"schema {json.dumps(schema)}: {result['reason']}, yet {json.dumps(valid[0])} is valid"
        return "unsupported"
    for inst in result["instances"]:
        data = json.dumps(prepared.case.tests[inst["index"]]["data"])
        assert inst["pass"], (f"schema {json.dumps(schema)}, instance {data}: "
                              f"{'valid rejected' if inst['valid'] else 'invalid accepted'} at token {inst['rejected_at']}")
    return "compiled"


# ---------------------------------------------------------------- hypothesis tests (shared with CI)

HEALTH = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]


def schema_property(engine: ConstrainEngine, tokenizer: Any):
    """The schema property as a function of hypothesis' `data` (wrap it with `given`)."""
    def prop(schema: dict, data) -> None:
        try:
            drawn = [data.draw(from_schema(schema), label="valid") for _ in range(2)]
        except InvalidArgument:  # hypothesis-jsonschema cannot build a strategy for this schema
            drawn = []
        valid = [e for e in (emitted(v, schema) for v in drawn) if e is not OUTSIDE]
        assume(valid)
        invalid = [mutated(v, data.draw) for v in valid]
        check_schema(engine, tokenizer, schema, valid + invalid)
    return prop


def regex_property(engine: RegexEngine, tokenizer: Any):
    def prop(case: tuple[str, str], data) -> None:
        pattern, sample = case
        texts = [sample] + [data.draw(mutated_text(sample)) for _ in range(3)]
        texts.append(data.draw(st.text("ab.-1 x_\né٣", max_size=8)))
        check_regex(engine, tokenizer, pattern, texts)
    return prop


def run_schema_fuzz(engine, tokenizer, examples: int, **options) -> None:
    given(schemas(), st.data())(settings(max_examples=examples, deadline=None, suppress_health_check=HEALTH,
                                         **options)(schema_property(engine, tokenizer)))()


def run_regex_fuzz(engine, tokenizer, examples: int, **options) -> None:
    given(regexes(), st.data())(settings(max_examples=examples, deadline=None, suppress_health_check=HEALTH,
                                         **options)(regex_property(engine, tokenizer)))()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--kind", choices=["schema", "regex", "both"], default="both")
    parser.add_argument("--examples", type=int, default=200, help="examples per hypothesis round")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fuzz-findings.jsonl")
    args = parser.parse_args()
    from constrain import Vocabulary

    tokenizer = load_tokenizer(None)
    vocab = Vocabulary.from_tokenizer(tokenizer)
    engines = {"schema": ConstrainEngine(tokenizer, vocab), "regex": RegexEngine(tokenizer, vocab)}
    runs = {"schema": run_schema_fuzz, "regex": run_regex_fuzz}
    kinds = ["schema", "regex"] if args.kind == "both" else [args.kind]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ends, rounds, findings = time.monotonic() + 60 * args.minutes, 0, 0
    while time.monotonic() < ends:
        kind = kinds[rounds % len(kinds)]
        rounds += 1
        start = time.monotonic()
        try:
            runs[kind](engines[kind], tokenizer, args.examples, database=None)
            status = "ok"
        except Exception as e:  # noqa: BLE001 (a finding: recorded, fuzzing goes on)
            findings += 1
            status = "finding"
            with args.out.open("a") as f:
                f.write(json.dumps({"kind": kind, "error": f"{type(e).__name__}: {e}",
                                    "trace": traceback.format_exc()[-3000:]}) + "\n")
        print(f"round {rounds} {kind}: {status} ({time.monotonic() - start:.0f} s)", flush=True)
    print(f"{rounds} rounds, {findings} findings in {args.out}")


if __name__ == "__main__":
    main()
