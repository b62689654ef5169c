"""Trie walks computed as a difference from a similar state's walk, or with the plain tokens taken as
a block, equal the walks done in full.

Inside the key of an open object with many properties (or a keyword that is also an identifier),
every prefix of a declared name is its own lexer state, and its walk is computed from the walk of
"any other name" (`LexNode.relative`). Each such walk must hold exactly the tokens and branch points
(where a terminal may end inside a token, and which) that a full walk finds.
"""
from __future__ import annotations

import json

import numpy as np

import pytest

from constrain import compile_json_schema, compile_lark
from constrain.automaton import nfa, regex
from constrain.automaton.dfa import DFA
from constrain.index.kernels import update_kernel
from constrain.index.trie import PLAIN_MAX_LEN, ROOT, TokenTrie
from constrain.mask.walks import LexNode
from test_masks import sp_encode

_NAMES = ["config", "configPath", "configFile", "conflicts", "name", "names", "namespace", "value",
          "values", "valueType", "timeout", "timeoutMs", "é_accent", "über", "x"]
_SCHEMA = {"type": "object", "properties": {n: {"type": "string"} for n in _NAMES}}
# declared names in schema order, then undeclared ones (the order the compiled schema allows)
_DOCS = [{"configPath": "a", "names": "b", "über": "c", "other": 1},
         {"conflicts": "", "timeoutMs": "9", "x": "y", "namespac": [1, {"é_accen": None}], "xx": 2.5},
         {"config": "c", "value": "v", "valueTyp": True, "\u00e9": "w"}]


def _content(node: LexNode) -> tuple[list[int], dict]:
    tokens = node.ids(300_000)
    ends: dict[int, list[int]] = {}
    for t, at in node.branches:
        ends.setdefault(t, []).extend(at.tolist())
    return tokens.tolist(), {t: sorted(at) for t, at in ends.items()}


# keywords are identifiers too: after "config" a token may end a KEYWORD and a NAME, after "conf" only
# a NAME, so the branch points differ from the identifier state's
_LARK = r"""
start: (KEYWORD | NAME) (" " (KEYWORD | NAME))*
KEYWORD: "config" | "configPath" | "configFile" | "conflicts" | "name" | "names" | "namespace" | "value"
NAME: /[a-z][a-zA-Z]*/
"""
_TEXTS = ["configPath conf value names namespaces x", "conflicts configFile configs valueType name"]
CASES = {"schema": (lambda vocab: compile_json_schema(_SCHEMA, vocab), [json.dumps(d) for d in _DOCS]),
         "lark": (lambda vocab: compile_lark(_LARK, vocab), _TEXTS)}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_relative_walks_equal_full_walks(kind, smollm2_vocab, smollm2_tokenizer, monkeypatch):
    relative = []
    original = LexNode.relative.__func__

    def counted(cls, *args):
        relative.append(args[4])  # q
        return original(cls, *args)

    monkeypatch.setattr(LexNode, "relative", classmethod(counted))
    build, texts = CASES[kind]
    grammar = build(smollm2_vocab)
    for text in texts:
        matcher = grammar.matcher()
        for tid in smollm2_tokenizer.encode(text, add_special_tokens=False):
            assert matcher.mask()[tid], text
            assert matcher.advance(tid)
        assert matcher.is_accepting()
    assert len(relative) >= 5, "the name prefixes were not walked relative to another state"
    for (q, nodes), node in grammar._walks.items():
        nodes = np.frombuffer(nodes, dtype=np.int32)
        full = LexNode(grammar._trie, grammar.dfa, nodes, q, smollm2_vocab.size)
        assert _content(node) == _content(full), f"lexer state {q}"


def test_branch_point_updates_equal_set_operations():
    """A relative walk's branch points per terminal: the reference's, minus what only it reaches, plus
    what only the new state reaches (`update_kernel`), against numpy's set functions."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        nodes, removed, added = (np.unique(rng.integers(0, 40, rng.integers(0, 12))).astype(np.int32)
                                 for _ in range(3))
        removed = np.intersect1d(removed, nodes)  # only what the reference reached can be removed
        expected = np.union1d(np.setdiff1d(nodes, removed), added)
        assert update_kernel(nodes, removed, added).tolist() == expected.tolist()


# strings whose states a plain token may or may not keep alive: free text (walked as a slice from any
# position), a length bound (near it, a long plain token would overrun), an escape-rich pattern; and
# lines that may end after any character (a plain token may end one: never a slice)
_PLAIN_SCHEMA = {"type": "object", "properties": {
    "free": {"type": "string"}, "short": {"type": "string", "minLength": 2, "maxLength": 24},
    "code": {"type": "string", "pattern": "^[a-z]{3}-[0-9]+$"}, "n": {"type": "number"}}}
_PLAIN_CASES = {
    "schema": (lambda vocab: compile_json_schema(_PLAIN_SCHEMA, vocab), [json.dumps(d) for d in [
        {"free": "plain words, then \"quotes\", é and \\ too", "short": "twenty-four characters!!",
         "code": "abc-123", "n": -1.5e3, "more": "x"}, {"short": "ab", "other key": ["y"]}]]),
    "lines": (lambda vocab: compile_lark('start: LINE ("\\n" LINE)*\nLINE: /[^\\n]+/', vocab),
              ["first line, plain\nsecond: \"quoted\" and more text"])}


@pytest.mark.parametrize("vocab_name", ["smollm2", "sentencepiece"])
@pytest.mark.parametrize("kind", sorted(_PLAIN_CASES))
def test_plain_token_walks_equal_full_walks(kind, vocab_name, request):
    """From the root, a state that keeps every plain text alive takes the plain tokens as a block and
    walks only the other tokens' trie: the same tokens and branch points as a walk of the whole trie,
    for every lexer state the texts reach (inside each string, key, number and line)."""
    vocab = request.getfixturevalue(f"{vocab_name}_vocab")
    tokenizer = request.getfixturevalue(f"{vocab_name}_tokenizer")
    encode = (lambda text: sp_encode(tokenizer, text)) if vocab_name == "sentencepiece" else \
        (lambda text: tokenizer.encode(text, add_special_tokens=False))
    build, texts = _PLAIN_CASES[kind]
    grammar = build(vocab)
    trie = grammar._trie
    whole = TokenTrie(vocab.tokens, vocab.special_token_ids, plain=False)
    for text in texts:
        matcher = grammar.matcher()
        for tid in encode(text):
            assert matcher.mask()[tid], text
            assert matcher.advance(tid)
        assert matcher.is_accepting()
    dfa, sliced = grammar.dfa, 0
    for q in range(1, dfa.num_states):
        sliced += dfa.survives(q, trie.plain.alphabet, PLAIN_MAX_LEN)
        start = np.array([q], dtype=np.int32)
        tokens, at, at_states = _walked(trie, dfa, start)
        full_tokens, full_at, full_states = _walked(whole, dfa, start)
        assert sorted(tokens.tolist()) == sorted(full_tokens.tolist()), f"lexer state {q}"
        assert sorted(zip(at.tolist(), at_states.tolist())) == sorted(zip(full_at.tolist(), full_states.tolist()))
    if kind == "schema":
        assert sliced >= 20, "too few states took the plain tokens as a block"
        assert sliced < dfa.num_states - 20, "too few states walked the whole trie"


@pytest.mark.parametrize("bounds", [{"maxLength": 200}, {"minLength": 120, "maxLength": 330}, {"minLength": 100}])
def test_counts_of_a_string_far_from_its_bounds_share_one_walk(bounds, smollm2_vocab, smollm2_tokenizer):
    """Inside a string with length bounds each character count is a lexer state of its own, but the
    counts more than the trie's horizon (the longest token) below the minimum, or from the minimum to
    more than the horizon below the maximum, allow the same tokens and end the string at the same trie
    nodes: each such run of counts shares one walk (`DFA.inside`), and that walk equals the one
    computed from each count's own state; every other count has a walk of its own."""
    grammar = compile_json_schema({"type": "string", **bounds}, smollm2_vocab)
    trie, dfa = grammar._trie, grammar.dfa
    ((_, q),) = grammar.initial_state()
    q = dfa.walk(q, b'"')
    lo, hi, horizon = bounds.get("minLength", 0), bounds.get("maxLength"), trie.horizon
    keys = []
    for count in range((hi if hi is not None else lo) + 1):  # without a maximum, `lo` stands for more
        k = dfa.owner(q)
        keys.append(dfa.inside(q, horizon))
        own = LexNode(trie, dfa, ROOT, q, smollm2_vocab.size, k)
        assert _content(grammar._walk(q, ROOT)) == _content(own), f"{count} characters in"
        q = dfa.walk(q, b"a")
    runs = [run for run in [range(0, lo - horizon), range(lo, (hi or 0) - horizon)] if len(run)]
    assert sum(map(len, runs)) > 15
    for run in runs:
        assert len({keys[count] for count in run}) == 1
    assert len(set(keys)) == len(keys) - sum(len(run) - 1 for run in runs)
    longest = hi if hi is not None else lo + 40
    for length, valid in [(lo, True), (longest, True), (lo - 1, False), (longest + 1, hi is None)]:
        matcher = grammar.matcher()  # through the masks: each token allowed, then the end
        ok = all(matcher.mask()[t] and matcher.advance(t) for t in
                 smollm2_tokenizer.encode(json.dumps("ab c" * 100)[:length + 1] + '"', add_special_tokens=False))
        assert (ok and matcher.is_accepting()) == valid, (length, valid)


def _walked(trie: TokenTrie, dfa: DFA, start: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A walk from the root: every allowed id (the plain block's too), the branch nodes and states."""
    tokens, plain, at, at_states = trie.walk(dfa, ROOT, start)
    if plain:
        tokens = np.concatenate([np.flatnonzero(trie.plain.mask), tokens])
    return tokens, at, at_states


@pytest.mark.parametrize("tokens", [[b"ab", b"c", b"abc"], [b"ab", b"a\xc3", b"\xa9", b'"'], []])
def test_plain_block_on_small_vocabularies(tokens):
    """A vocabulary of plain tokens only (no other trie to walk), mixed, or empty: the same walk."""
    dfa = DFA(nfa.build(regex.parse('[a-c"]*|a\u00e9'), 10 ** 4), 10 ** 3)
    start = np.array([dfa.start], dtype=np.int32)
    sliced = _walked(TokenTrie(tokens, frozenset()), dfa, start)
    whole = _walked(TokenTrie(tokens, frozenset(), plain=False), dfa, start)
    assert sorted(sliced[0].tolist()) == sorted(whole[0].tolist())
    assert sorted(zip(*(a.tolist() for a in sliced[1:]))) == sorted(zip(*(a.tolist() for a in whole[1:])))


def test_a_terminal_continues_in_one_walk_below_its_nodes_unless_they_nest(smollm2_vocab, smollm2_tokenizer):
    """A string ends at several depths of the trie (`",` `x",` `xy",`...), none below another: one walk
    continues below them all. A word ends at `a`, again at `ab` below it, and so on: one walk per
    depth, so no trie node is visited twice in a walk."""
    string = compile_json_schema({"type": "object", "properties": {"a": {"type": "string"}}}, smollm2_vocab)
    words = compile_lark('start: WORD ("," WORD)*\nWORD: /[a-z]+/\n', smollm2_vocab)
    for grammar, text, nested in [(string, '{"a": "x', False), (words, "", True)]:
        matcher = grammar.matcher()
        assert matcher.advance_many(smollm2_tokenizer.encode(text, add_special_tokens=False))
        ((_, q),) = matcher._state
        trie = grammar._trie
        branches = grammar._walk(q, ROOT).branches
        terminals = [t for t, _ in branches]
        depths = [np.unique(trie.depth[nodes]).size for _, nodes in branches]
        if nested:
            assert max(depths) == 1 and terminals.count(terminals[0]) > 5, (terminals, depths)
        else:
            assert max(depths) > 1, depths
        for _, nodes in branches:  # none below another, and a child a terminal can start with below each
            assert not (trie.skip[nodes[:-1]] > nodes[1:]).any() and trie.goes_on(grammar.dfa, nodes).all()
        if not nested:  # the string also ends where no token goes on with a terminal (` ..."` is a leaf,
            # `ing"` may have only `ing".` below): those are no branch points, the parser is not asked
            ends = [i for i in np.flatnonzero(trie.token >= 0).tolist() if (t := grammar.vocab.tokens[trie.token[i]])
                    .endswith(b'"') and b'"' not in t[:-1] and b"\\" not in t]
            stops = ~trie.goes_on(grammar.dfa, np.array(ends, dtype=np.int32))
            assert stops.any() and (trie.skip[np.array(ends)[stops]] != np.array(ends)[stops] + 1).any()


def test_walks_of_the_rest_of_a_literal_equal_automaton_walks(smollm2_vocab):
    """Inside a property name only its rest can follow: that walk is one path down the trie per start
    node (`LexNode.literal`), and it must hold exactly the tokens and end points a walk of the automaton
    finds, from the root and from deeper nodes, for names whose UTF-8 bytes are split across tokens."""
    grammar = compile_json_schema(_SCHEMA, smollm2_vocab)
    trie, dfa = grammar._trie, grammar.dfa
    below = np.flatnonzero(trie.depth == 1).astype(np.int32)  # every one-byte prefix: none below another
    checked = 0
    for k, terminal in enumerate(grammar.grammar.terminals):
        name = terminal.name
        if not (name.startswith('"') and name.endswith('"')):
            continue
        start = dfa.start_for([k])
        text = name.encode() + dfa.forced(dfa.walk(start, name.encode()))  # the whole literal: `"name": `
        for cut in range(len(text) + 1):
            q = dfa.walk(start, text[:cut])
            rest = dfa.forced(q)
            if rest is None:
                continue
            for nodes in (ROOT, below):
                literal = LexNode.literal(trie, dfa, nodes, rest, k, smollm2_vocab.size)
                full = LexNode(trie, dfa, nodes, q, smollm2_vocab.size)
                assert _content(literal) == _content(full), (name, cut, nodes.size)
                checked += 1
    assert checked > 100
