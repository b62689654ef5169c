"""The vocabulary as a byte trie stored level by level, walked with numpy.

Why this is fast: the allowed tokens of an automaton state are found by stepping *all* trie nodes of
one depth at once with a single gather into the DFA table (`table[parent_states, node_bytes]`), and
dropping every node that died, so its whole subtree is never visited. Work is proportional to the
trie nodes that survive (shared prefixes are stepped once), with a few numpy calls per depth and no
Python loop over tokens. Callers cache the result per automaton state, so each state pays once and
every later mask is a dictionary lookup.

Layout: depth d (1..max token length) holds the distinct d-byte prefixes of the tokens, sorted, so
the children of each node at depth d-1 are a contiguous slice at depth d; each node knows its parent.
Per depth, the ids of the tokens that end there and their nodes (several ids may share the bytes).
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
        self.parent: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
        self.byte: list[np.ndarray] = [np.zeros(0, dtype=np.uint8)]
        for d in range(1, depth + 1):
            prefixes = sorted({tok[:d] for _, tok in usable if len(tok) >= d})
            index.append({p: k for k, p in enumerate(prefixes)})
            up = index[d - 1]
            self.parent.append(np.fromiter((up[p[:-1]] for p in prefixes), np.int64, len(prefixes)))
            self.byte.append(np.frombuffer(bytes(p[-1] for p in prefixes), dtype=np.uint8))
        self.width = [len(level) for level in index]
        # children of node k at depth d: first_child[d][k] + range(num_children[d][k]) at depth d+1
        self.first_child = [np.searchsorted(self.parent[d + 1], np.arange(self.width[d])) for d in range(depth)]
        self.num_children = [np.bincount(self.parent[d + 1], minlength=self.width[d]) for d in range(depth)]
        # tokens ending at depth d, and their nodes (several ids may share the same bytes)
        self.token_ids = [np.array([tid for tid, tok in usable if len(tok) == d], dtype=np.int64)
                          for d in range(depth + 1)]
        self.token_node = [np.array([index[d][tok] for _, tok in usable if len(tok) == d], dtype=np.int64)
                           for d in range(depth + 1)]
        self.depth = depth
        self.num_nodes = sum(self.width)

    def walk(self, dfa: DFA, depth: int, nodes: np.ndarray, states: np.ndarray):
        """Step the subtrees below `nodes` (at `depth`, in automaton `states`) one depth at a time,
        yielding (depth, surviving nodes, their states).

        A depth is stepped sparsely (only children of surviving nodes, gathered with `np.repeat`)
        while few nodes survive, and densely (every node of the depth, one gather through its
        parent's state) once many do, which avoids the repeat's cost on wide levels.
        """
        for d in range(depth + 1, self.depth + 1):
            dfa.ensure_rows(states)
            counts = self.num_children[d - 1][nodes]
            total = int(counts.sum())
            if total == 0:
                return
            if 2 * total < self.width[d]:
                children = _ranges(self.first_child[d - 1][nodes], counts)
                nxt = dfa.table[np.repeat(states, counts), self.byte[d][children]]
                keep = nxt != DEAD
                nodes, states = children[keep], nxt[keep]
            else:
                full = np.zeros(self.width[d - 1], dtype=np.int32)
                full[nodes] = states
                nxt = dfa.table[full[self.parent[d]], self.byte[d]]
                nodes = np.flatnonzero(nxt)
                states = nxt[nodes]
            yield d, nodes, states

    def tokens_at(self, depth: int, nodes: np.ndarray) -> np.ndarray:
        """Ids of the tokens whose bytes end exactly at `nodes` of `depth`."""
        if not self.token_ids[depth].size or not nodes.size:
            return self.token_ids[0]
        alive = np.zeros(self.width[depth], dtype=bool)
        alive[nodes] = True
        return self.token_ids[depth][alive[self.token_node[depth]]]

    def fill_allowed(self, dfa: DFA, state: int, out: np.ndarray) -> None:
        """Set `out[t]` for the tokens whose bytes, read from `state`, leave the automaton alive."""
        root = np.zeros(1, dtype=np.int64)
        for d, nodes, _ in self.walk(dfa, 0, root, np.array([state], dtype=np.int32)):
            out[self.tokens_at(d, nodes)] = True


_TRIES: "weakref.WeakKeyDictionary[object, TokenTrie]" = weakref.WeakKeyDictionary()


def trie_of(vocab) -> TokenTrie:
    """The trie of a `Vocabulary`, built once per vocabulary object (about a second for 150k tokens)."""
    trie = _TRIES.get(vocab)
    if trie is None:
        trie = TokenTrie(vocab.tokens, vocab.special_token_ids)
        _TRIES[vocab] = trie
    return trie
