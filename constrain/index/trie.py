"""The vocabulary as a byte trie stored level by level, walked with numpy.

Why this is fast: the allowed tokens of an automaton state are found by one depth-first pass over
the trie in compiled code (`kernels.walk_kernel`), stepping the DFA table once per trie node and
skipping the whole subtree of every node that died. Work is proportional to the trie nodes that
survive (shared prefixes are stepped once). Callers cache the result per automaton state, so each
state pays once and every later mask is a dictionary lookup.

Layout: depth d (1..max token length) holds the distinct d-byte prefixes of the tokens, sorted, so
the children of each node at depth d-1 are a contiguous slice at depth d; each node knows its parent.
Per depth, the ids of the tokens that end there and their nodes (several ids may share the bytes).
The same nodes are also numbered globally (level after level) in flat arrays for the kernel.
"""
from __future__ import annotations

import threading

import numpy as np

from ..cache import once_per
from ..automaton.dfa import DFA
from .kernels import walk_kernel


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
        self._flatten()
        self._local = threading.local()

    def _flatten(self) -> None:
        """Global node ids (depth d starts at `offset[d]`), children ranges, bytes, tokens (CSR)."""
        self.offset = np.concatenate([[0], np.cumsum(self.width)]).astype(np.int64)
        self.node_depth = np.repeat(np.arange(self.depth + 1), self.width)
        self.child_start = np.zeros(self.num_nodes, dtype=np.int64)
        self.child_count = np.zeros(self.num_nodes, dtype=np.int64)
        self.node_byte = np.zeros(self.num_nodes, dtype=np.int64)
        for d in range(self.depth):
            at = slice(self.offset[d], self.offset[d + 1])
            self.child_start[at] = self.offset[d + 1] + self.first_child[d]
            self.child_count[at] = self.num_children[d]
        for d in range(1, self.depth + 1):
            self.node_byte[self.offset[d]:self.offset[d + 1]] = self.byte[d]
        nodes = np.concatenate([self.offset[d] + self.token_node[d] for d in range(self.depth + 1)])
        ids = np.concatenate(self.token_ids)
        order = np.argsort(nodes, kind="stable")
        self.tok_ids = ids[order]
        self.tok_ptr = np.concatenate([[0], np.cumsum(np.bincount(nodes, minlength=self.num_nodes))]).astype(np.int64)

    def walk(self, dfa: DFA, depth: int, nodes: np.ndarray, states: np.ndarray):
        """Walk the subtrees below `nodes` (local ids at `depth`, in automaton `states`).

        Returns the ids of the tokens that end at a surviving node, and the surviving nodes where
        the automaton accepts, as (depths, local node ids, states). The start nodes themselves are
        not reported. Rows of the lazily built automaton are filled as the walk reaches them.
        """
        todo_nodes = nodes.astype(np.int64) + self.offset[depth]
        todo_states = states.astype(np.int32)
        tokens, branch_nodes, branch_states = [], [], []
        buf = self._buffers()
        while todo_nodes.size:
            dfa.ensure_rows(todo_states)
            n_tok, n_branch, n_blocked = walk_kernel(
                self.child_start, self.child_count, self.node_byte, self.tok_ptr, self.tok_ids,
                dfa.table, dfa.accepting, todo_nodes, todo_states, *buf)
            tokens.append(buf[0][:n_tok].copy())
            branch_nodes.append(buf[1][:n_branch].copy())
            branch_states.append(buf[2][:n_branch].copy())
            todo_nodes, todo_states = buf[3][:n_blocked].copy(), buf[4][:n_blocked].copy()
        at = np.concatenate(branch_nodes) if branch_nodes else np.zeros(0, dtype=np.int64)
        depths = self.node_depth[at]
        return (np.concatenate(tokens) if tokens else np.zeros(0, dtype=np.int64),
                depths, at - self.offset[depths],
                np.concatenate(branch_states) if branch_states else np.zeros(0, dtype=np.int32))

    def tokens_at(self, depth: int, nodes: np.ndarray) -> np.ndarray:
        """Ids of the tokens whose bytes end exactly at `nodes` of `depth`."""
        if not self.token_ids[depth].size or not nodes.size:
            return self.token_ids[0]
        alive = np.zeros(self.width[depth], dtype=bool)
        alive[nodes] = True
        return self.token_ids[depth][alive[self.token_node[depth]]]

    def _buffers(self) -> tuple[np.ndarray, ...]:
        """The kernel's output and queue buffers, one set per thread (walks run in any thread)."""
        buf = getattr(self._local, "buffers", None)
        if buf is None:
            n = self.num_nodes
            buf = self._local.buffers = (
                np.empty(self.tok_ids.size, dtype=np.int64), np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int32),
                np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int64),
                np.empty(n, dtype=np.int32))
        return buf

    def fill_allowed(self, dfa: DFA, state: int, out: np.ndarray) -> None:
        """Set `out[t]` for the tokens whose bytes, read from `state`, leave the automaton alive."""
        tokens, _, _, _ = self.walk(dfa, 0, np.zeros(1, dtype=np.int64), np.array([state], dtype=np.int32))
        out[tokens] = True


@once_per
def trie_of(vocab) -> TokenTrie:
    """The trie of a `Vocabulary`, built once per vocabulary object (about a second for 150k tokens)."""
    return TokenTrie(vocab.tokens, vocab.special_token_ids)
