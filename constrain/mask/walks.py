"""Trie walks through a lexer automaton (`LexNode`), and a cache of them shared by all grammars.

A walk from a lexer state that lies inside one terminal alone (mid-string, mid-number, mid-key)
depends only on that terminal's pattern and where inside it the lexer is, not on the grammar
around it. Those walks are the expensive ones (inside a string nearly every token is allowed: the
plain tokens come as one block, `index.trie.PlainTokens`, but the rest of the trie is still walked
and its result is the size of the vocabulary), and every JSON schema has the same string, number
and integer terminals: `SharedWalks` keeps them per vocabulary trie, keyed by (pattern, relative
NFA subset, start nodes), so a new grammar starts warm. Where only one text is left to read (the
rest of a literal: every property name ends in `": `), the key is that text: each name's end is
a walk of its own otherwise, and the first token of each value would pay for it. The cache is
bounded in bytes (`lru`).
"""
from __future__ import annotations

import threading
import weakref

import numpy as np

from ..automaton.dfa import DFA
from ..index.kernels import group_kernel, update_kernel
from ..index.trie import TokenTrie
from .lru import BoundedCache

SHARED_WALK_BYTES = 96 << 20  # per vocabulary
FEW_ENDS = 16  # branch points grouped by state in Python (`_ends`)
_NO_NODES = np.zeros(0, dtype=np.int32)


def is_dense(allowed: int, vocab_size: int) -> bool:
    """Whether a set of `allowed` tokens is kept as a bool mask rather than as token ids: past a
    sixteenth of the vocabulary, using the mask as it is beats scattering the ids into one."""
    return allowed * 16 > vocab_size


class LexNode:
    """Tokens that end inside the current terminal, and the trie nodes where a terminal may end inside
    a token, by terminal (`branches`; the next terminal starts there): one walk continues below all
    of a terminal's nodes, whatever their depth, unless one lies below another (then one entry per
    depth: a walk visits each trie node once).

    The tokens are `dense` (a bool mask, or None) without `removed` (ids, or None), plus `tokens`
    (ids). A walk computed relative to another shares that walk's mask and keeps the difference as
    ids: a new vocabulary-sized array costs a page fault per 4 KiB on its first write (~20 us)."""

    __slots__ = ("tokens", "dense", "removed", "branches", "nbytes")

    def __init__(self, trie: TokenTrie, dfa: DFA, nodes: np.ndarray, state: int, vocab_size: int,
                 terminal: int | None = None):
        """The walk below `nodes` from automaton `state`; `terminal`: the one terminal `state` lies
        inside (`DFA.owner`), so every branch point ends that one (no grouping by state, no labels)."""
        tokens, plain, at, at_states = trie.walk(dfa, nodes, _states(state, nodes.size))
        self._set_tokens(tokens, trie.plain.mask if plain else None, vocab_size)
        at, at_states = _with_starts(trie, dfa, nodes, state, at, at_states)
        if terminal is None:
            ends = _ends(dfa, at, at_states)
        else:  # sorted, and a copy: `at` may be a view of the walk's buffer
            ends = {terminal: np.sort(at)} if at.size else {}
        self.branches = _layers(trie, ends)
        self._count_bytes()

    @classmethod
    def relative(cls, base: "LexNode", trie: TokenTrie, dfa: DFA, nodes: np.ndarray, q: int, r: int,
                 vocab_size: int) -> "LexNode":
        """The walk below `nodes` from state `q`, given `base`, the same walk from `r`, kept as a bool
        mask (a big walk: only then does a difference pay): only where the two walks differ is visited
        (`TokenTrie.difference`); the tokens are `base`'s mask with the difference as ids."""
        q_states, r_states = _states(q, nodes.size), _states(r, nodes.size)
        added, removed, q_at, q_at_states, r_at, r_at_states = trie.difference(dfa, nodes, q_states, r_states)
        node = cls.__new__(cls)
        if base.removed is None and not base.tokens.size:  # the same tokens, but for a few
            node.dense, node.removed, node.tokens = base.dense, removed.copy() if removed.size else None, added.copy()
        else:  # the base is relative itself (rare): a mask of its own
            node.dense, node.removed, node.tokens = base.ids(vocab_size, as_mask=True), None, added[:0].copy()
            node.dense[removed] = False
            node.dense[added] = True
        ends = _by_terminal(base.branches)
        r_ends = _ends(dfa, *_with_starts(trie, dfa, nodes, r, r_at, r_at_states))
        q_ends = _ends(dfa, *_with_starts(trie, dfa, nodes, q, q_at, q_at_states))
        for t in r_ends.keys() | q_ends.keys():
            ends[t] = update_kernel(ends.get(t, _NO_NODES), r_ends.get(t, _NO_NODES), q_ends.get(t, _NO_NODES))
        node.branches = _layers(trie, {t: at for t, at in ends.items() if at.size})
        node._count_bytes()
        return node

    @classmethod
    def literal(cls, trie: TokenTrie, dfa: DFA, nodes: np.ndarray, text: bytes, terminal: int,
                vocab_size: int) -> "LexNode":
        """The walk below `nodes` of a state inside `terminal` with only `text` left to read (the rest
        of a property name): one path down the trie per node (`TokenTrie.literal`); of the automaton only
        its first bytes are read."""
        node = cls.__new__(cls)
        tokens, ends = trie.literal(dfa, nodes, text)
        node._set_tokens(tokens, None, vocab_size)
        node.branches = [(terminal, ends)] if ends.size else []
        node._count_bytes()
        return node

    def _set_tokens(self, tokens: np.ndarray, plain: np.ndarray | None, vocab_size: int) -> None:
        """`tokens` (maybe a view of a walk's buffer: copied if kept), plus the tokens of the mask
        `plain` if given (then nearly the whole vocabulary)."""
        self.dense = self.removed = None  # many tokens (inside a string, say): OR-ing a bool mask beats scattering ids
        if plain is not None or is_dense(tokens.size, vocab_size):
            self.dense = plain.copy() if plain is not None else np.zeros(vocab_size, dtype=bool)
            self.dense[tokens] = True
            self.tokens = np.zeros(0, dtype=tokens.dtype)
        else:
            self.tokens = tokens.copy()

    def with_terminal(self, terminal: int) -> "LexNode":
        """This walk (of a one-terminal state) with its branch points labelled `terminal`."""
        node = LexNode.__new__(LexNode)
        node.tokens, node.dense, node.removed, node.nbytes = self.tokens, self.dense, self.removed, self.nbytes
        node.branches = [(terminal, nodes) for _, nodes in self.branches]
        return node

    def ids(self, vocab_size: int, as_mask: bool = False) -> np.ndarray:
        """The tokens as sorted ids, or as a new bool mask."""
        if self.dense is None and not as_mask:
            return np.unique(self.tokens)
        mask = np.zeros(vocab_size, dtype=bool) if self.dense is None else self.dense.copy()
        if self.removed is not None:
            mask[self.removed] = False
        mask[self.tokens] = True
        return mask if as_mask else np.flatnonzero(mask)

    def _count_bytes(self) -> None:
        """`nbytes`, what the caches bound (counted once: a walk is put in two caches, and a size is read
        again when it leaves): counted whole, a mask shared with another walk too, so a cache bounded
        by it holds less than its bound, never more."""
        dense = self.dense.nbytes if self.dense is not None else 0
        removed = self.removed.nbytes if self.removed is not None else 0
        self.nbytes = 64 + self.tokens.nbytes + dense + removed + sum(nodes.nbytes for _, nodes in self.branches)


def _states(state: int, n: int) -> np.ndarray:
    """`n` times automaton `state`, as the kernels take states (`np.full` costs three times more)."""
    out = np.empty(n, dtype=np.int32)
    out.fill(state)
    return out


def _with_starts(trie: TokenTrie, dfa: DFA, starts: np.ndarray, state: int, nodes: np.ndarray,
                 states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A walk's branch points `nodes` (in `states`) plus its start nodes if the walk starts in an
    accepting `state`: the terminal may also end right where the walk starts (the kernels report
    descendants only). Only where a walk goes on below, as the kernels report them (`TokenTrie.goes_on`)."""
    if not dfa.accepting[state]:
        return nodes, states
    starts = starts[trie.goes_on(dfa, starts)]
    at_starts = _states(state, starts.size)
    if not nodes.size:
        return starts, at_starts
    return np.concatenate([starts, nodes]), np.concatenate([at_starts, states])


def _ends(dfa: DFA, nodes: np.ndarray, states: np.ndarray) -> dict[int, np.ndarray]:
    """Each terminal's branch points (sorted) among `nodes`, reached in `states`. A few are grouped
    in Python: a compiled call that returns new arrays costs ~5 us warm, ~40 us in a new worker."""
    if not nodes.size:
        return {}
    if nodes.size <= FEW_ENDS:
        states = states.tolist()
        if states.count(states[0]) == len(states):  # one state (the usual case): no grouping
            at = np.sort(nodes)
            return {t: at for t in dfa.labels(states[0])}
        by_state: dict[int, list[int]] = {}
        for node, state in zip(nodes.tolist(), states):
            by_state.setdefault(state, []).append(node)
        return _by_terminal([(t, np.array(sorted(at), dtype=np.int32)) for state, at in by_state.items()
                             for t in dfa.labels(state)])
    nodes, cuts, run_states = group_kernel(nodes, states)
    cuts = cuts.tolist()
    return _by_terminal([(t, nodes[cuts[k]:cuts[k + 1]]) for k, state in enumerate(run_states.tolist())
                         for t in dfa.labels(state)])


def _by_terminal(branches: list[tuple[int, np.ndarray]]) -> dict[int, np.ndarray]:
    """Each terminal's branch nodes, sorted, its entries merged."""
    parts: dict[int, list[np.ndarray]] = {}
    for t, nodes in branches:
        parts.setdefault(t, []).append(nodes)
    return {t: p[0] if len(p) == 1 else np.sort(np.concatenate(p)) for t, p in parts.items()}


def _layers(trie: TokenTrie, ends: dict[int, np.ndarray]) -> list[tuple[int, np.ndarray]]:
    """`LexNode.branches`: (terminal, sorted nodes) per terminal of `ends` (sorted nodes), split by
    depth where one node lies below another (in depth-first order, inside the subtree that a node's
    `skip` closes)."""
    out = []
    for t, nodes in ends.items():
        if nodes.size < 2 or not (trie.skip[nodes[:-1]] > nodes[1:]).any():
            out.append((t, nodes))
        else:
            out.extend((t, at) for _, at in by_depth(trie, nodes))
    return out


def by_depth(trie: TokenTrie, nodes: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(depth, the nodes at it) for trie `nodes`, by increasing depth (order kept within one)."""
    depths = trie.depth[nodes]
    return [(d, nodes[depths == d]) for d in np.unique(depths).tolist()]


class SharedWalks:
    """Walks of one-terminal lexer states, shared by every grammar over one vocabulary trie."""

    _per_trie: "weakref.WeakKeyDictionary[TokenTrie, SharedWalks]" = weakref.WeakKeyDictionary()
    _global_lock = threading.Lock()

    def __init__(self, max_bytes: int = SHARED_WALK_BYTES):
        self.walks = BoundedCache(max_bytes, size=lambda node: node.nbytes)
        self._lock = threading.Lock()  # for `put`: a lookup is one dict operation, atomic as it is
        self.get = self.walks.get  # the walk of a key, or None

    @classmethod
    def of(cls, trie: TokenTrie) -> "SharedWalks":
        with cls._global_lock:
            shared = cls._per_trie.get(trie)
            if shared is None:
                shared = cls._per_trie[trie] = cls()
            return shared

    def put(self, key: tuple, node: LexNode) -> None:
        with self._lock:
            self.walks.put(key, node)
