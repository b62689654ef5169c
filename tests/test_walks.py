"""Trie walks computed as a difference from a similar state's walk equal the walks done in full.

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
from constrain.mask.walks import LexNode

_NAMES = ["config", "configPath", "configFile", "conflicts", "name", "names", "namespace", "value",
          "values", "valueType", "timeout", "timeoutMs", "é_accent", "über", "x"]
_SCHEMA = {"type": "object", "properties": {n: {"type": "string"} for n in _NAMES}}
# declared names in schema order, then undeclared ones (the order the compiled schema allows)
_DOCS = [{"configPath": "a", "names": "b", "über": "c", "other": 1},
         {"conflicts": "", "timeoutMs": "9", "x": "y", "namespac": [1, {"é_accen": None}], "xx": 2.5},
         {"config": "c", "value": "v", "valueTyp": True, "\u00e9": "w"}]


def _content(node: LexNode) -> tuple[list[int], dict]:
    tokens = np.flatnonzero(node.dense) if node.dense is not None else np.unique(node.tokens)
    return tokens.tolist(), {(t, d): at.tolist() for t, d, at in node.branches}


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
        full = LexNode(grammar._trie, grammar.dfa, nodes, np.full(nodes.size, q, dtype=np.int32),
                       smollm2_vocab.size)
        assert _content(node) == _content(full), f"lexer state {q}"
