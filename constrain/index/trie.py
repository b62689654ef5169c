"""The vocabulary as a byte trie stored in depth-first order, walked in compiled code.

Why this is fast: the allowed tokens of an automaton state are found by one depth-first pass over
the trie (`kernels.walk_kernel`), stepping the DFA table once per trie node and jumping over the
whole subtree of every node that died. In depth-first order a subtree is a contiguous run of nodes,
so the pass reads the node arrays front to back (the memory the CPU prefetches best) and skipping a
subtree is one jump. Work is proportional to the trie nodes that survive (shared prefixes are stepped
once). Callers cache the result per automaton state, so each state pays once.

Layout: node 0 is the root (the empty prefix); the nodes are the distinct prefixes of the tokens in
sorted order, which is depth-first order. Per node: its last byte, its depth, the node after its
subtree (`skip`), its parent, and the id of the token spelled exactly by it (plus, in CSR, any
further ids with the same bytes).
"""
from __future__ import annotations

import threading

import numpy as np

from ..cache import once_per
from ..automaton.dfa import DFA
from .kernels import walk_kernel

ROOT = np.zeros(1, dtype=np.int32)  # the root node, where every token starts


class TokenTrie:
    """Depth-first trie of the tokens that may appear inside an output."""

    def __init__(self, tokens: list[bytes], excluded: frozenset[int]):
        usable = [(tid, tok) for tid, tok in enumerate(tokens) if tok and tid not in excluded]
        prefixes = sorted({tok[:d] for _, tok in usable for d in range(len(tok) + 1)})
        index = {p: k for k, p in enumerate(prefixes)}
        n = self.num_nodes = len(prefixes)
        self.depth = np.fromiter((len(p) for p in prefixes), np.int32, n)
        self.byte = np.fromiter((p[-1] if p else 0 for p in prefixes), np.uint8, n)
        self.parent = np.fromiter((index[p[:-1]] if p else -1 for p in prefixes), np.int32, n)
        self.skip = _subtree_ends(self.depth)
        self.token = np.full(n, -1, dtype=np.int32)  # the id node i spells, -1: none
        more: list[list[int]] = [[] for _ in range(n)]  # further ids with the same bytes (rare)
        for tid, tok in usable:
            at = index[tok]
            if self.token[at] < 0:
                self.token[at] = tid
            else:
                more[at].append(tid)
        self.more_ptr = np.concatenate([[0], np.cumsum([len(m) for m in more])]).astype(np.int32)
        self.more_ids = np.array([t for m in more for t in m], dtype=np.int32)
        self.max_depth = int(self.depth.max(initial=0))
        self._local = threading.local()

    def walk(self, dfa: DFA, nodes: np.ndarray, states: np.ndarray):
        """Walk the subtrees below `nodes` (node ids, all of one depth), each from its automaton state
        in `states`.

        Returns the ids of the tokens that end at a surviving node, and the surviving nodes where
        the automaton accepts with their states (branch points). The start nodes themselves are not
        reported. Rows of the lazily built automaton are filled as the walk reaches them: the kernel
        stops below a node whose row is missing, and the walk resumes there once it is filled.
        """
        tokens, branch_nodes, branch_states = [], [], []
        buf = self._buffers()
        todo_nodes, todo_states = nodes.astype(np.int32, copy=False), states.astype(np.int32, copy=False)
        while True:
            n_tok, n_branch, n_blocked = walk_kernel(
                self.skip, self.depth, self.byte, self.token, self.more_ptr, self.more_ids, dfa.table,
                dfa.accepting, todo_nodes, todo_states, *buf)
            tokens.append(buf[0][:n_tok].copy())
            branch_nodes.append(buf[1][:n_branch].copy())
            branch_states.append(buf[2][:n_branch].copy())
            if not n_blocked:
                break
            todo_nodes, todo_states = buf[3][:n_blocked].copy(), buf[4][:n_blocked].copy()
            dfa.ensure_rows(todo_states)
        if len(tokens) == 1:
            return tokens[0], branch_nodes[0], branch_states[0]
        return np.concatenate(tokens), np.concatenate(branch_nodes), np.concatenate(branch_states)

    def _buffers(self) -> tuple[np.ndarray, ...]:
        """The kernel's output buffers and its stack, one set per thread (walks run in any thread)."""
        buf = getattr(self._local, "buffers", None)
        if buf is None:
            n = self.num_nodes
            buf = self._local.buffers = (
                np.empty(n + self.more_ids.size, dtype=np.int32), np.empty(n, dtype=np.int32),
                np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32),
                np.empty(self.max_depth + 1, dtype=np.int32))
        return buf

    def fill_allowed(self, dfa: DFA, state: int, out: np.ndarray) -> None:
        """Set `out[t]` for the tokens whose bytes, read from `state`, leave the automaton alive."""
        tokens, _, _ = self.walk(dfa, ROOT, np.array([state], dtype=np.int32))
        out[tokens] = True


def _subtree_ends(depth: np.ndarray) -> np.ndarray:
    """skip[i]: the first node after i's subtree, i.e. the next node no deeper than i."""
    skip = np.empty(depth.size, dtype=np.int32)
    depths = depth.tolist()
    open_: list[int] = []
    for i, d in enumerate(depths):
        while open_ and depths[open_[-1]] >= d:
            skip[open_.pop()] = i
        open_.append(i)
    skip[open_] = depth.size
    return skip


@once_per
def trie_of(vocab) -> TokenTrie:
    """The trie of a `Vocabulary`, built once per vocabulary object (about a second for 150k tokens)."""
    return TokenTrie(vocab.tokens, vocab.special_token_ids)
