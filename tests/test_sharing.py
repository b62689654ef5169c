"""A server's use: one compiled grammar shared by threads (each sequence with its own matcher), and
one process compiling schema after schema for hours. Masks must not depend on what other threads
do, and caches must stay within their caps however many constraints pass through.
"""
from __future__ import annotations

import functools
import gc
import json
import sys
import threading
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch

from constrain import compile_json_schema, compile_lark, compile_regex
from constrain.index.trie import trie_of
from constrain.mask.walks import SharedWalks

GRAMMARS = Path(__file__).resolve().parent.parent / "grammars"
_SCHEMA = {"type": "object", "properties": {
    "name": {"type": "string", "maxLength": 12},
    "tags": {"type": "array", "items": {"enum": ["red", "green", "blue"]}, "maxItems": 4},
    "n": {"type": "integer", "minimum": -50, "maximum": 5000},
    "ok": {"type": "boolean"}}, "required": ["name", "n"], "additionalProperties": False}
_VALUES = [{"name": "alpha", "n": 7}, {"name": "é\u00e8 x", "tags": ["red", "blue"], "n": -50, "ok": True},
           {"name": "", "tags": [], "n": 4999}, {"name": "q" * 12, "n": 0, "ok": False},
           {"name": "a\"b\\c", "tags": ["green"] * 4, "n": 12}]


def _trace(grammar, token_ids: list[int]) -> list[bytes]:
    """The packed mask before each token (and before EOS) of one teacher-forced sequence."""
    matcher, out = grammar.matcher(), []
    for tid in token_ids:
        mask = matcher.mask().numpy()
        out.append(np.packbits(mask).tobytes())
        assert mask[tid] and matcher.advance(tid)
    out.append(np.packbits(matcher.mask().numpy()).tobytes())
    return out


@pytest.mark.parametrize("kind", ["schema", "regex", "lark"])
def test_threads_sharing_a_grammar_see_the_single_threaded_masks(kind, smollm2_tokenizer, smollm2_vocab):
    """Eight threads walk a freshly compiled grammar at once (its lazy caches fill under contention),
    each sequence through its own matcher; every mask equals the one a fresh single-threaded
    grammar computes."""
    texts = [json.dumps(v) for v in _VALUES]
    build = {"schema": lambda: compile_json_schema(_SCHEMA, smollm2_vocab),
             "regex": lambda: compile_regex(r'\{"name": "[^"]{0,16}"[^\n]{0,120}', smollm2_vocab),
             "lark": lambda: compile_lark(GRAMMARS / "json.lark", smollm2_vocab)}[kind]
    sequences = [smollm2_tokenizer.encode(t, add_special_tokens=False) for t in texts] * 4
    shared = build()
    results: dict[int, list[bytes]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(k: int) -> None:
        try:
            start.wait()
            for j in range(k, len(sequences), 8):
                results[j] = _trace(shared, sequences[j])
        except BaseException as e:  # noqa: BLE001 (reported by the main thread)
            errors.append(e)

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often: interleave the cache updates
    try:
        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(previous)
    assert not errors, errors
    reference = build()
    for j, ids in enumerate(sequences):
        assert results[j] == _trace(reference, ids), f"sequence {j}: {texts[j % len(texts)]!r}"


def _lru_caches() -> list:
    """Every functools cache in the package's modules."""
    return [f for name, module in sys.modules.items() if name.startswith("constrain")
            for f in vars(module).values() if isinstance(f, functools._lru_cache_wrapper)]


def _schema(k: int) -> dict:
    """A different schema for each k: new string automata, patterns, bounds, enums and names."""
    return {"type": "object", "properties": {
        f"s{k}": {"type": "string", "minLength": k % 5, "maxLength": 5 + k % 40, "pattern": f"^x{k}"},
        "n": {"type": "integer", "minimum": -k, "maximum": 10 * k + 3},
        "e": {"enum": [f"v{k}-{i}" for i in range(k % 7 + 1)]},
        "a": {"type": "array", "items": {"type": "number", "maximum": k + 0.5}, "maxItems": k % 4 + 1}},
        "required": [f"s{k}"]}


def test_a_long_running_process_keeps_its_caches_bounded(smollm2_tokenizer, smollm2_vocab):
    """Hundreds of distinct schemas: each module cache stays within its maxsize (unbounded ones hold
    a fixed set of keys), the shared walks within their byte cap (lowered here so eviction happens),
    and a compiled grammar no one holds is freed."""
    unbounded = {f for f in _lru_caches() if f.cache_info().maxsize is None}
    shared = SharedWalks.of(trie_of(smollm2_vocab)).walks
    cap = shared.max_bytes
    shared.max_bytes = 1 << 20
    try:
        sizes, peak = {}, 0
        for k in range(100):
            grammar = compile_json_schema(_schema(k), smollm2_vocab)
            matcher = grammar.matcher()
            for tid in smollm2_tokenizer.encode(f'{{"s{k}": "x{k}abc", "n": {k}, "e": "v{k}-0", "a": [1.5]}}',
                                                add_special_tokens=False):
                if not matcher.mask()[tid]:
                    break
                matcher.advance(tid)
            assert shared.nbytes <= shared.max_bytes
            peak = max(peak, shared.nbytes)
            if k == 50:
                sizes = {f: f.cache_info().currsize for f in unbounded}
            if k == 90:
                ref = weakref.ref(grammar)
        del grammar, matcher
        gc.collect()
        assert peak > shared.max_bytes // 2, "the cap was never approached: the test proves nothing"
        assert ref() is None, "a compiled grammar outlives every reference to it"
        assert shared.nbytes == sum(node.nbytes for node in shared.values())
        arrays = [a for node in shared.values() for a in [node.tokens, node.dense] if a is not None]
        assert all(a.base is None for a in arrays), "a view pins memory its nbytes does not count"
        for f in _lru_caches():
            info = f.cache_info()
            assert info.maxsize is None or info.currsize <= info.maxsize, f
        assert {f: f.cache_info().currsize for f in unbounded} == sizes, "an unbounded cache grows with the schemas"
    finally:
        shared.max_bytes = cap


@pytest.mark.parametrize("kind", ["schema", "lark"])
def test_a_dropped_grammar_is_freed_by_reference_counting(kind, smollm2_tokenizer, smollm2_vocab):
    """No reference cycle keeps a grammar's parser and parse states once the grammar and its matchers
    are gone: a process compiling schema after schema frees each at once, instead of leaving it as
    garbage for a full collection (which then pauses for ~100 ms to free several at once). The
    collector is off here, so only reference counting can free them."""
    gc.collect()
    gc.disable()
    try:
        if kind == "schema":
            grammar, text = compile_json_schema(_SCHEMA, smollm2_vocab), json.dumps(_VALUES[1])
        else:
            grammar, text = compile_lark((GRAMMARS / "arithmetic.lark").read_text(), smollm2_vocab), "1 + (2 * 3)"
        matcher = grammar.matcher()
        for tid in smollm2_tokenizer.encode(text, add_special_tokens=False):
            assert matcher.mask()[tid] and matcher.advance(tid)
        parser = weakref.ref(grammar.parser)  # every parse state names it: freed last
        del grammar, matcher
        assert parser() is None, "a reference cycle keeps the parser and its parse states"
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()  # the garbage is kept to be read (lark's own parser leaves some: not ours)
        ours = {type(o).__qualname__ for o in gc.garbage if _module(o).startswith("constrain")}
        assert not ours, f"a compiled grammar leaves garbage behind: {ours}"
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def _module(o) -> str:
    """The module that defines `o` (a function) or its type."""
    return (getattr(o, "__module__", None) if callable(o) and not isinstance(o, type) else type(o).__module__) or ""


def test_a_regex_keeps_its_masks_within_mask_cache_bytes(smollm2_tokenizer, smollm2_vocab):
    """Each cached mask costs a vocabulary's worth of bytes: a grammar visiting many states keeps at
    most `Limits.mask_cache_bytes` of them, and the masks it recomputes after eviction are the same."""
    from constrain import Limits

    pattern = r"[a-z]{0,3}\d{0,40}"  # 40-odd states reached by the digits alone
    small = compile_regex(pattern, smollm2_vocab, limits=Limits(mask_cache_bytes=4 * smollm2_vocab.size))
    large = compile_regex(pattern, smollm2_vocab)
    ids = smollm2_tokenizer.encode("abc" + "0123456789" * 4, add_special_tokens=False)
    for _ in range(2):  # the second pass recomputes evicted masks
        assert _trace(small, ids) == _trace(large, ids)
        assert len(small._masks) <= 4
    assert len(large._masks) > 4


def test_a_grammar_keeps_its_masks_and_walks_within_mask_cache_bytes(smollm2_tokenizer, smollm2_vocab):
    """A grammar's masks and its trie walks each stay within `Limits.mask_cache_bytes`, and what it
    recomputes after eviction is the same."""
    from constrain import Limits

    schema = {"type": "object", "properties": {f"k{k}": {"type": "array", "items": {"type": "integer"}}
                                               for k in range(12)}}
    cap = 64 << 10
    small = compile_json_schema(schema, smollm2_vocab, limits=Limits(mask_cache_bytes=cap))
    large = compile_json_schema(schema, smollm2_vocab)
    text = json.dumps({f"k{k}": list(range(k, 3 * k)) for k in range(12)})
    ids = smollm2_tokenizer.encode(text, add_special_tokens=False) + [smollm2_vocab.eos_token_id]
    for _ in range(2):  # the second pass recomputes what was evicted
        assert _trace(small, ids[:-1]) == _trace(large, ids[:-1])
        assert small._walks.nbytes <= cap and small._masks.nbytes <= cap
    assert large._walks.nbytes > cap, "nothing was evicted: the test proves nothing"


def test_outputs_of_a_grammar_share_parse_states_masks_and_steps(smollm2_tokenizer, smollm2_vocab):
    """Parse states are interned: a second output reaching the same point holds the very same state,
    so its masks and token steps are the first output's, looked up, not recomputed."""
    grammar = compile_lark(GRAMMARS / "json.lark", smollm2_vocab)
    ids = smollm2_tokenizer.encode(json.dumps(_VALUES[1]), add_special_tokens=False)
    first = grammar.matcher()
    states, masks = [], []
    for tid in ids:
        masks.append(first.mask().clone())
        assert first.advance(tid)
        states.append(first._state)
    cached, steps = dict(grammar._masks), dict(grammar._steps)
    second = grammar.matcher()
    for tid, state, mask in zip(ids, states, masks):
        assert torch.equal(second.mask(), mask)
        assert second.advance(tid) and second._state is state
    assert grammar._masks.keys() == cached.keys() and grammar._steps == steps, "the second output recomputed"
    assert all(grammar._masks[k] is v for k, v in cached.items())


@pytest.mark.parametrize("schema, text", [
    ({"type": "object", "additionalProperties": {"type": "integer"}}, '{"a": 1, "b": 2, "c": 3, "d": 4}'),
    ({"type": "array", "items": {"type": "boolean"}}, "[true, true, true, true]"),
    ({"type": "array", "items": {"type": "object", "properties": {"x": {"type": "integer"}}}},
     '[{"x": 1}, {"x": 2}, {"x": 3}, {"x": 4}]')])
def test_a_long_object_or_array_repeats_its_parse_states_from_member_to_member(schema, text, smollm2_vocab):
    """Members and items are left-recursive rules: every member is read from the same parse states,
    so from the third one on (the first and second end different rules), its masks are cached (right recursion would make new states, and
    longer completion chains, at every member)."""
    grammar = compile_json_schema(schema, smollm2_vocab)
    by_bytes = {data: tid for tid, data in enumerate(smollm2_vocab.tokens) if tid not in smollm2_vocab.special_token_ids}
    matcher, seen = grammar.matcher(), []
    for ch in text:
        assert matcher.advance(by_bytes[ch.encode()])
        seen.append(matcher._state)
    third = text.index(", ", text.index(", ") + 1)  # reading the third member (after the second's
    period = text.index(", ", third + 1) - third  # value), then the fourth, one period later
    same = lambda a, b: [(id(parse), q) for parse, q in a] == [(id(parse), q) for parse, q in b]
    assert all(same(a, b) for a, b in zip(seen[third:third + period], seen[third + period:third + 2 * period]))


def test_optional_properties_ahead_cost_an_object_one_shared_completion_per_member(smollm2_vocab):
    """80 optional properties: the parse after a value holds a few items, not one per property still
    ahead (they are skipped after the comma); the parse after the comma takes them from one
    `Completion` of the object's start set, built once, and from the next state's completion."""
    props = {f"p{k}": {"type": "integer"} for k in range(80)}
    grammar = compile_json_schema({"type": "object", "properties": props, "additionalProperties": False},
                                  smollm2_vocab)
    by_bytes = {data: tid for tid, data in enumerate(smollm2_vocab.tokens) if tid not in smollm2_vocab.special_token_ids}
    text = '{"p3": 1, "p10": 2, "p40": 3, "p70": 4}'
    matcher, parses = grammar.matcher(), []
    for ch in text:
        assert matcher.advance(by_bytes[ch.encode()])
        parses.append(matcher._state[0][0])
    size = lambda parse: sum(len(items) for items in parse.own.values())
    after_values = [parses[k] for k, ch in enumerate(text) if ch.isdigit() and text[k - 1] == " "]
    assert len(after_values) == 4 and all(size(p) <= 3 for p in after_values)
    after_commas = [parses[k + 2] for k, ch in enumerate(text) if ch == ","]  # the comma ends at the quote
    assert [len(p.allowed) for p in after_commas] == [76, 69, 39]  # the names after p3, p10, p40
    first = next(iter(after_commas[0].own.values()))[0]
    start = grammar.parser.at(first >> grammar.parser.shift)  # the object's start set: every member's origin
    shared = [c for c in start._completions.values() if c is not None]
    for parse in after_commas:
        items = {item for items in parse.own.values() for item in items}
        assert any(items <= c.items for c in shared)
    sizes = {len(c.items) for c in shared}  # the first comma's completion, built from the next state's,
    assert {151 - 2 * k for k in range(16)} <= sizes  # and so on: one per state, each two items more


def test_the_ends_of_different_property_names_share_one_walk(smollm2_vocab):
    """What is left of a literal decides its walk: the end of `"alpha": ` in one grammar and of
    `"beta": ` in another (`: ` left to read) is one shared walk (each grammar's copy labels its
    branch points, if any, with its own key)."""
    by_bytes = {data: tid for tid, data in enumerate(smollm2_vocab.tokens) if tid not in smollm2_vocab.special_token_ids}
    found = []
    for name in ("alpha", "beta"):
        grammar = compile_json_schema({"type": "object", "properties": {name: {"type": "integer"}},
                                       "required": [name], "additionalProperties": False}, smollm2_vocab)
        matcher = grammar.matcher()
        for ch in f'{{"{name}"':
            assert matcher.advance(by_bytes[ch.encode()])
        (parse, q), = matcher._state
        assert grammar.dfa.forced(q) == b": "
        matcher.mask()
        node = grammar._walks.get((q, np.zeros(1, dtype=np.int32).tobytes()))
        names = {grammar.grammar.terminals[t].name for t, _ in node.branches}
        assert names <= {f'"{name}"'}
        found.append(node)
    assert found[0].tokens is found[1].tokens and found[0].tokens.size  # `:` ends inside either name


def test_interned_states_keep_apart_what_the_parse_tells_apart(smollm2_tokenizer, smollm2_vocab):
    """Nesting depth lives in the parse state: after "(x)" the output may end, after "((x)" it may
    not, even once the shallower output has been through (and cached) every state it met."""
    grammar = compile_lark('start: s\ns: "(" s ")" | "x"\n', smollm2_vocab)
    by_bytes = {data: tid for tid, data in enumerate(smollm2_vocab.tokens) if tid not in smollm2_vocab.special_token_ids}
    eos = smollm2_vocab.eos_token_id
    for text, ends in [("(x)", True), ("((x)", False), ("((x))", True), ("(((x))", False)]:
        matcher = grammar.matcher()
        assert matcher.advance_many([by_bytes[ch.encode()] for ch in text])
        assert bool(matcher.mask()[eos]) is ends, text


def test_interning_past_its_cap_restarts_sharing_without_changing_masks(monkeypatch, smollm2_tokenizer,
                                                                         smollm2_vocab):
    """The intern table is bounded: past the cap it starts over; states made before stay valid."""
    from constrain import Limits
    from constrain.grammar import earley

    ids = [smollm2_tokenizer.encode(json.dumps(v), add_special_tokens=False) for v in _VALUES]
    reference = [_trace(compile_json_schema(_SCHEMA, smollm2_vocab), seq) for seq in ids]
    monkeypatch.setattr(earley, "MAX_INTERNED", 3)
    small = compile_json_schema(_SCHEMA, smollm2_vocab, limits=Limits(mask_cache_bytes=2 * smollm2_vocab.size))
    for _ in range(2):
        assert [_trace(small, seq) for seq in ids] == reference
        assert len(small.parser._interned) <= 3 and small._masks.nbytes <= 2 * smollm2_vocab.size
