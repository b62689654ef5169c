"""Trie walks through a lexer automaton (`LexNode`), and a cache of them shared by all grammars.

A walk from a lexer state that lies inside one terminal alone (mid-string, mid-number, mid-key)
depends only on that terminal's pattern and where inside it the lexer is, not on the grammar
around it. Those walks are the expensive ones (inside a string nearly every token is allowed, so
the walk visits the whole trie), and every JSON schema has the same string, number and integer
terminals: `SharedWalks` keeps them per vocabulary trie, keyed by (pattern, relative NFA subset,
start nodes), so a new grammar starts warm. The cache is bounded in bytes (least recently used out).
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

import numpy as np

from ..automaton.dfa import DFA
from ..index.trie import TokenTrie

SHARED_WALK_BYTES = 96 << 20  # per vocabulary


def is_dense(allowed: int, vocab_size: int) -> bool:
    """Whether a set of `allowed` tokens is kept as a bool mask rather than as token ids: past a
    sixteenth of the vocabulary, using the mask as it is beats scattering the ids into one."""
    return allowed * 16 > vocab_size


class LexNode:
    """Tokens that end inside the current terminal, and where a terminal may end inside a token."""

    __slots__ = ("tokens", "dense", "branches")

    def __init__(self, trie: TokenTrie, dfa: DFA, depth: int, nodes: np.ndarray, states: np.ndarray,
                 vocab_size: int):
        groups: dict[tuple[int, int], list[np.ndarray]] = {}
        self._branch_points(dfa, np.full(nodes.size, depth), nodes, states, groups)
        tokens, depths, at, at_states = trie.walk(dfa, depth, nodes, states)
        self._branch_points(dfa, depths, at, at_states, groups)
        self.tokens = tokens
        self.dense = None  # many tokens (inside a string, say): OR-ing a bool mask beats scattering ids
        if is_dense(self.tokens.size, vocab_size):
            self.dense = np.zeros(vocab_size, dtype=bool)
            self.dense[self.tokens] = True
            self.tokens = np.zeros(0, dtype=tokens.dtype)  # not tokens[:0]: a view would pin the ids
        self.branches = [(t, d, np.sort(np.concatenate(parts))) for (t, d), parts in groups.items()]

    @staticmethod
    def _branch_points(dfa: DFA, depths: np.ndarray, nodes: np.ndarray, states: np.ndarray, groups) -> None:
        """Group the nodes where a terminal may end by (terminal, depth)."""
        ending = dfa.accepting[states]
        if not ending.any():
            return
        depths, nodes, states = depths[ending], nodes[ending], states[ending]
        for state in np.unique(states).tolist():
            here = states == state
            for d in np.unique(depths[here]).tolist():
                at = nodes[here & (depths == d)]
                for terminal in dfa.labels[state]:
                    groups.setdefault((terminal, d), []).append(at)

    def with_terminal(self, terminal: int) -> "LexNode":
        """This walk (of a one-terminal state) with its branch points labelled `terminal`."""
        node = LexNode.__new__(LexNode)
        node.tokens, node.dense = self.tokens, self.dense
        node.branches = [(terminal, d, nodes) for _, d, nodes in self.branches]
        return node

    @property
    def nbytes(self) -> int:
        dense = self.dense.nbytes if self.dense is not None else 0
        return 64 + self.tokens.nbytes + dense + sum(nodes.nbytes for _, _, nodes in self.branches)


class SharedWalks:
    """Walks of one-terminal lexer states, shared by every grammar over one vocabulary trie."""

    _per_trie: "weakref.WeakKeyDictionary[TokenTrie, SharedWalks]" = weakref.WeakKeyDictionary()
    _global_lock = threading.Lock()

    def __init__(self, max_bytes: int = SHARED_WALK_BYTES):
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._walks: OrderedDict[tuple, LexNode] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def of(cls, trie: TokenTrie) -> "SharedWalks":
        with cls._global_lock:
            shared = cls._per_trie.get(trie)
            if shared is None:
                shared = cls._per_trie[trie] = cls()
            return shared

    def get(self, key: tuple) -> LexNode | None:
        with self._lock:
            node = self._walks.get(key)
            if node is not None:
                self._walks.move_to_end(key)
            return node

    def put(self, key: tuple, node: LexNode) -> None:
        with self._lock:
            if key in self._walks:
                return
            self._walks[key] = node
            self.nbytes += node.nbytes
            while self.nbytes > self.max_bytes and len(self._walks) > 1:
                _, old = self._walks.popitem(last=False)
                self.nbytes -= old.nbytes
