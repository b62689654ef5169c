"""Lark grammars as constraints: masks equal a slow per-token reference, texts are accepted iff lark
(Earley, dynamic_complete: any split into terminals) parses them, deep nesting works, errors are typed."""
import json
import random
from pathlib import Path

import lark
import pytest
import torch

from constrain import compile_lark
from constrain.errors import GrammarError

JSON = r"""
start: value
?value: object | array | STRING | NUMBER | "true" | "false" | "null"
object: "{" [pair ("," pair)*] "}"
pair: STRING ":" value
array: "[" [value ("," value)*] "]"
STRING: /"([^"\\\x00-\x1f]|\\["\\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/
NUMBER: /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/
%ignore /[ \t\n\r]+/
"""

AWKWARD = {
    # ambiguous and left-recursive
    "ambiguous": r"""
        start: e
        e: e "+" e | e "*" e | "(" e ")" | NUM
        NUM: /[0-9]+/
    """,
    # nullable rules everywhere, an optional tail
    "nullable": r"""
        start: a b c
        a: "x"*
        b: ["y"] a
        c: | "z" c
    """,
    # terminals that are prefixes of each other, keywords that are prefixes of identifiers
    "prefixes": r"""
        start: stmt+
        stmt: "let" _WS NAME "=" VALUE ";"
        NAME: /[a-z]+/
        VALUE: "1" | "12" | "123" | "letter"
        _WS: " "+
        %ignore "\n"
    """,
    # a cycle of unit rules, and a chain of them longer than the parser shares completions for
    "units": r"""
        start: s
        s: a | s "," a
        a: b | "x" | s ";"
        b: a | d0 | "y"
        d0: d1 | "a"
        d1: d2 | "b"
        d2: d3 | "c"
        d3: d4 | "d"
        d4: d5 | "e"
        d5: d6 | "f"
        d6: d7 | "g"
        d7: d8 | "h"
        d8: d9 | "i"
        d9: d10 | "j"
        d10: d11 | "k"
        d11: d12 | "l"
        d12: d13 | "m"
        d13: d14 | "n"
        d14: d15 | "o"
        d15: d16 | "p"
        d16: d17 | "q"
        d17: d18 | "r"
        d18: d19 | "s"
        d19: d20 | "t"
        d20: "u"
    """,
    # right recursion with ignored spaces, templates and a range repeat
    "template": r"""
        start: _list{item} | item~2..3
        _list{x}: "[" x ("," x)* "]"
        item: WORD
        WORD: /[a-c]+/
        %ignore " "
    """,
}

SAMPLES = {
    "json": ['{"a": [1, 2.5e3, {"b": null}], "c": "x\\"y"}', "[]", "  [ true , false ]\n", '"\\u00e9"',
             '{"a" 1}', "[1,]", "[01]", '{"a":}', "tru", "[\"\x01\"]", "{} {}"],
    "ambiguous": ["1+2*3", "(1+2)*3", "((7))", "1+", "+1", "1++2", "()", "12*(3+4)+5"],
    "nullable": ["", "x", "xyxz", "yxxzz", "zz", "xxx", "yy", "zx", "xzy"],
    "prefixes": ["let a=1;", "let  ab=12;\nlet b=letter;", "let a=123;let b=1;", "leta=1;", "let a=1", "let a=13;",
                 "let let=1;", "let a=lette;"],
    "units": ["x", "y", "a", "u", "x,u", "t,x;,y", "x;;", "x,,y", "", ";", "v", "x,y,u;,a"],
    "template": ["[a,b, c]", "a b", "abc cab", "a", "[a b]", "[]", "a b c d", "[ab,ba,c]"],
}


def lark_accepts(grammar: str, text: str) -> bool:
    parser = lark.Lark(grammar, parser="earley", lexer="dynamic_complete")
    try:
        parser.parse(text)
        return True
    except lark.exceptions.LarkError:
        return False


def walk_text(compiled, tokenizer, text: str) -> bool:
    """Teacher-force the canonical tokenization of `text`, then EOS; check mask and advance agree."""
    ids = tokenizer.encode(text, add_special_tokens=False) + [compiled.vocab.eos_token_id]
    matcher = compiled.matcher()
    for tid in ids:
        allowed = bool(matcher.mask()[tid])
        assert allowed == matcher.copy().advance(tid), (text, tid)
        if not allowed:
            return False
        matcher.advance(tid)
    return True


def reference_mask(compiled, state) -> torch.Tensor:
    """Test-only: every token stepped through the grammar byte by byte, no trie, no cached walks."""
    vocab = compiled.vocab
    mask = torch.zeros(vocab.size, dtype=torch.bool)
    for tid in range(vocab.size):
        mask[tid] = tid != vocab.eos_token_id and compiled.step(state, tid) is not None
    mask[vocab.eos_token_id] = compiled.is_accepting(state)
    return mask


GRAMMARS = {"json": JSON, **AWKWARD}


@pytest.fixture(scope="module")
def compiled_sp(sentencepiece_vocab):
    return {name: compile_lark(text, sentencepiece_vocab) for name, text in GRAMMARS.items()}


@pytest.mark.parametrize("name", list(GRAMMARS))
def test_fast_mask_equals_reference_on_reachable_states(name, compiled_sp, sentencepiece_tokenizer):
    """Small vocabulary, many states: follow each sample's tokens and random allowed tokens."""
    compiled = compiled_sp[name]
    rng = random.Random(name)
    checked = 0
    for text in SAMPLES[name]:
        matcher = compiled.matcher()
        for tid in sentencepiece_tokenizer.backend_tokenizer.model.tokenize(text.replace(" ", "\u2581")):
            fast = matcher.mask()
            assert torch.equal(fast, reference_mask(compiled, matcher._state)), (name, text)
            checked += 1
            if not matcher.advance(tid.id):
                break
        for _ in range(6):  # then wander off along random allowed tokens
            allowed = torch.nonzero(matcher.mask()).flatten().tolist()
            allowed = [t for t in allowed if t != compiled.vocab.eos_token_id]
            if not allowed:
                break
            assert matcher.advance(rng.choice(allowed))
            assert torch.equal(matcher.mask(), reference_mask(compiled, matcher._state)), (name, text)
            checked += 1
    assert checked >= 20


@pytest.mark.parametrize("name", ["json", "prefixes"])
def test_fast_mask_equals_reference_on_smollm2(name, smollm2_vocab, smollm2_tokenizer):
    compiled = compile_lark(GRAMMARS[name], smollm2_vocab)
    matcher = compiled.matcher()
    text = SAMPLES[name][0]
    for tid in smollm2_tokenizer.encode(text, add_special_tokens=False)[:6]:
        assert torch.equal(matcher.mask(), reference_mask(compiled, matcher._state))
        assert matcher.advance(tid)


@pytest.mark.parametrize("name", list(GRAMMARS))
def test_accepts_exactly_what_lark_parses(name, smollm2_vocab, smollm2_tokenizer):
    compiled = compile_lark(GRAMMARS[name], smollm2_vocab)
    for text in SAMPLES[name]:
        if not text:
            assert compiled.matcher().is_accepting() == lark_accepts(GRAMMARS[name], text)
            continue
        assert walk_text(compiled, smollm2_tokenizer, text) == lark_accepts(GRAMMARS[name], text), text


def test_json_grammar_agrees_with_json_loads(smollm2_vocab, smollm2_tokenizer):
    compiled = compile_lark(JSON, smollm2_vocab)
    rng = random.Random(1)
    values = [{"id": 1, "tags": ["a", "b"], "ok": True, "x": None}, [1.5, -2e-3, "é日本😀"], {"nested": {"a": [[]]}},
              "tab\there", 0, -0.25, [{}]]
    for value in values:
        for indent in (None, 2):
            text = json.dumps(value, indent=indent, ensure_ascii=rng.random() < 0.5)
            assert walk_text(compiled, smollm2_tokenizer, text), text
    for bad in ['{"a": 1,}', "[1 2]", "{'a': 1}", "NaN", '{"a": 01}', "[.5]", '"\\x"']:
        assert not walk_text(compiled, smollm2_tokenizer, bad), bad


def test_two_hundred_levels_of_nesting(smollm2_vocab, smollm2_tokenizer):
    compiled = compile_lark(JSON, smollm2_vocab)
    text = "[" * 200 + "1" + "]" * 200
    assert walk_text(compiled, smollm2_tokenizer, text)
    assert not walk_text(compiled, smollm2_tokenizer, "[" * 200 + "1" + "]" * 199)


@pytest.mark.parametrize("grammar, where", [
    ("start: a\na: \"x\" b\n", None),                   # undefined rule
    ("start: \"x\"\nstart2 ::= \"y\"\n", (2, None)),      # syntax error, line 2
    ("start: A\nA: /x(?=y)/\n", None),                   # lookaround in a terminal
    ("start: A\nA: /x*/\n", None),                       # terminal matching the empty string
    ("start: a\na: a \"x\"\n", None),                    # empty language (no base case)
])
def test_bad_grammars_are_typed_errors(grammar, where, smollm2_vocab):
    with pytest.raises(GrammarError) as info:
        compile_lark(grammar, smollm2_vocab)
    if where:
        assert info.value.line == where[0]


def test_left_recursion_works(smollm2_vocab, smollm2_tokenizer):
    compiled = compile_lark('start: start "a" | "b"', smollm2_vocab)
    assert walk_text(compiled, smollm2_tokenizer, "baaaa")
    assert not walk_text(compiled, smollm2_tokenizer, "ab")


CORPORA = Path(__file__).parent / "corpora"
SHIPPED = Path(__file__).parent.parent / "grammars"


@pytest.mark.parametrize("name", ["json", "sql", "arithmetic", "csv"])
def test_shipped_grammar_corpora_token_by_token(name, smollm2_vocab, smollm2_tokenizer):
    """Every valid corpus input is accepted through its canonical tokenization; every invalid one is not."""
    compiled = compile_lark(SHIPPED / f"{name}.lark", smollm2_vocab)
    cases = [json.loads(line) for line in (CORPORA / f"{name}.jsonl").read_text().splitlines() if line.strip()]
    assert sum(c["valid"] for c in cases) >= 30 and sum(not c["valid"] for c in cases) >= 30
    wrong = [c["text"] for c in cases if walk_text(compiled, smollm2_tokenizer, c["text"]) != c["valid"]]
    assert not wrong, wrong[:3]


def test_limits_bound_grammar_lexers(smollm2_vocab):
    from constrain import LimitError, Limits

    with pytest.raises(LimitError, match="max_nfa_states"):
        compile_lark('start: A\nA: /a{300000}/\n', smollm2_vocab)
    with pytest.raises(LimitError, match="max_configs"):  # each split leaves a different count of "!" to close
        grammar = compile_lark('start: s\ns: W s "!" | W\nW: /[a-z]+/\n', smollm2_vocab, limits=Limits(max_configs=4))
        grammar.matcher().advance_many(greedy_letters(smollm2_vocab, "abcdefgh"))


def greedy_letters(vocab, text):
    by_bytes = {data: tid for tid, data in enumerate(vocab.tokens) if tid not in vocab.special_token_ids}
    return [by_bytes[ch.encode()] for ch in text]


def test_terminal_that_loops_to_its_beginning_is_not_complete_midway(smollm2_vocab):
    """After "ab", /(ab)*c/ is back where it started but has read bytes: the output is not done."""
    compiled = compile_lark('start: X?\nX: /(ab)*c/\n', smollm2_vocab)
    m = compiled.matcher()
    assert m.is_accepting()
    assert m.advance_many(greedy_letters(smollm2_vocab, "ab"))
    assert not m.is_accepting() and not m.mask()[smollm2_vocab.eos_token_id]
    assert m.advance_many(greedy_letters(smollm2_vocab, "c"))
    assert m.is_accepting()
