"""The vocabulary as a byte trie stored level by level, walked with numpy.

Why this is fast: the allowed tokens of an automaton state are found by stepping *all* trie nodes of
one depth at once with a single gather into the DFA table (`table[parent_states, node_bytes]`), and
dropping every node that died, so its whole subtree is never visited. Work is proportional to the
trie nodes that survive (shared prefixes are stepped once), with a few numpy calls per depth and no
Python loop over tokens. Callers cache the result per automaton state, so each state pays once and
every later mask is a dictionary lookup.

Layout: depth d (1..max token length) holds the distinct d-byte prefixes of the tokens, sorted, so
the children of each node at depth d-1 are a contiguous slice at depth d. Tokens ending at a node are
a contiguous slice of a per-depth token list (several ids may share the same bytes).
"""
from __future__ import annotations

import weakref

import numpy as np

from ..automaton.dfa import DEAD, DFA


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenate arange(s, s + c) for each (s, c), vectorised."""
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total) - offsets + np.repeat(starts, counts)


class TokenTrie:
    """Level-ordered trie of the tokens that may appear inside an output."""

    def __init__(self, tokens: list[bytes], excluded: frozenset[int]):
        usable = [(tid, tok) for tid, tok in enumerate(tokens) if tok and tid not in excluded]
        depth = max((len(tok) for _, tok in usable), default=0)
        index: list[dict[bytes, int]] = [{b"": 0}]
        self.byte: list[np.ndarray] = [np.zeros(0, dtype=np.uint8)]
        parents: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
        for d in range(1, depth + 1):
            prefixes = sorted({tok[:d] for _, tok in usable if len(tok) >= d})
            index.append({p: k for k, p in enumerate(prefixes)})
            up = index[d - 1]
            parents.append(np.fromiter((up[p[:-1]] for p in prefixes), np.int64, len(prefixes)))
            self.byte.append(np.frombuffer(bytes(p[-1] for p in prefixes), dtype=np.uint8))
        # children of node k at depth d: first_child[d][k] + range(num_children[d][k]) at depth d+1
        self.first_child: list[np.ndarray] = []
        self.num_children: list[np.ndarray] = []
        for d in range(depth):
            width = len(index[d])
            below = parents[d + 1]
            self.first_child.append(np.searchsorted(below, np.arange(width)))
            self.num_children.append(np.bincount(below, minlength=width))
        # token ids ending at node k of depth d: token_ids[d][token_start[d][k] + range(count)]
        self.token_ids: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
        self.token_start: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]
        self.token_count: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]
        by_depth: list[list[tuple[int, int]]] = [[] for _ in range(depth + 1)]
        for tid, tok in usable:
            by_depth[len(tok)].append((index[len(tok)][tok], tid))
        for d in range(1, depth + 1):
            pairs = sorted(by_depth[d])
            nodes = np.array([n for n, _ in pairs], dtype=np.int64)
            count = np.bincount(nodes, minlength=len(index[d]))
            self.token_ids.append(np.array([t for _, t in pairs], dtype=np.int64))
            self.token_start.append(np.cumsum(count) - count)
            self.token_count.append(count)
        self.depth = depth
        self.num_nodes = sum(len(level) for level in index)

    def allowed(self, dfa: DFA, state: int) -> np.ndarray:
        """Ids of the tokens whose bytes, read from `state`, leave the automaton alive."""
        nodes = np.zeros(1, dtype=np.int64)
        states = np.array([state], dtype=np.int32)
        found = []
        for d in range(1, self.depth + 1):
            counts = self.num_children[d - 1][nodes]
            children = _ranges(self.first_child[d - 1][nodes], counts)
            if children.size == 0:
                break
            parent_states = np.repeat(states, counts)
            dfa.ensure_rows(parent_states)
            nxt = dfa.table[parent_states, self.byte[d][children]]
            keep = nxt != DEAD
            nodes, states = children[keep], nxt[keep]
            ends = _ranges(self.token_start[d][nodes], self.token_count[d][nodes])
            if ends.size:
                found.append(self.token_ids[d][ends])
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


_TRIES: "weakref.WeakKeyDictionary[object, TokenTrie]" = weakref.WeakKeyDictionary()


def trie_of(vocab) -> TokenTrie:
    """The trie of a `Vocabulary`, built once per vocabulary object (about a second for 150k tokens)."""
    trie = _TRIES.get(vocab)
    if trie is None:
        trie = TokenTrie(vocab.tokens, vocab.special_token_ids)
        _TRIES[vocab] = trie
    return trie
