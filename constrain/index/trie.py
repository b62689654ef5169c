"""The vocabulary as a byte trie stored in depth-first order, walked in compiled code.

Why this is fast: the allowed tokens of an automaton state are found by one depth-first pass over
the trie (`kernels.walk_kernel`), stepping the DFA table once per trie node and jumping over the
whole subtree of every node that died. In depth-first order a subtree is a contiguous run of nodes,
so the pass reads the node arrays front to back (the memory the CPU prefetches best) and skipping a
subtree is one jump. Work is proportional to the trie nodes that survive (shared prefixes are stepped
once). Callers cache the result per automaton state, so each state pays once.

Layout: node 0 is the root (the empty prefix); the nodes are the distinct prefixes of the tokens in
sorted order, which is depth-first order. Per node: its last byte, its depth, the node after its
subtree (`skip`), its parent, and the id of the token spelled exactly by it (or where to find the
ids, when several share the same bytes).
"""
from __future__ import annotations

import threading

import numpy as np

from ..cache import once_per
from ..automaton.dfa import DFA
from ..automaton.packed import pack
from .kernels import TRIE_DTYPES, difference_kernel, goes_on_kernel, literal_kernel, walk_kernel

ROOT = np.zeros(1, dtype=np.int32)  # the root node, where every token starts
# plain tokens: printable ASCII but the quote and the backslash, up to 16 bytes (97% of SmolLM2's)
PLAIN_BYTES = bytes(b for b in range(0x20, 0x7F) if b not in b'"\\')
PLAIN_MAX_LEN = 16


class TokenTrie:
    """Depth-first trie of the tokens that may appear inside an output."""

    def __init__(self, tokens: list[bytes], excluded: frozenset[int], plain: bool = True):
        usable = [(tid, tok) for tid, tok in enumerate(tokens) if tok and tid not in excluded]
        prefixes = sorted({b""} | {tok[:d] for _, tok in usable for d in range(len(tok) + 1)})  # root always
        index = {p: k for k, p in enumerate(prefixes)}
        n = self.num_nodes = len(prefixes)
        self.depth = np.fromiter((len(p) for p in prefixes), np.int32, n)
        self.byte = np.fromiter((p[-1] if p else 0 for p in prefixes), np.uint8, n)
        self.parent = np.fromiter((index[p[:-1]] if p else -1 for p in prefixes), np.int32, n)
        self.skip = _subtree_ends(self.depth)
        by_node: dict[int, list[int]] = {}
        for tid, tok in usable:
            by_node.setdefault(index[tok], []).append(tid)
        # the id node i spells; -1: none; -2 - k: several ids share its bytes, the k-th run of more_ids
        self.token = np.full(n, -1, dtype=np.int32)
        shared = [(at, ids) for at, ids in by_node.items() if len(ids) > 1]
        for at, ids in by_node.items():
            self.token[at] = ids[0]
        for k, (at, _) in enumerate(shared):
            self.token[at] = -2 - k
        self.more_ptr = np.concatenate([[0], np.cumsum([len(ids) for _, ids in shared])]).astype(np.int32)
        self.more_ids = np.array([t for _, ids in shared for t in ids], dtype=np.int32)
        self.max_depth = int(self.depth.max(initial=0))
        self.horizon = max(self.max_depth, PLAIN_MAX_LEN)  # the most bytes a walk reads past its start
        self._local = threading.local()
        fields = (self.skip, self.depth, self.byte, self.token, self.more_ptr, self.more_ids)
        self.arrays = pack(list(zip(fields, TRIE_DTYPES)))  # what kernels read (`kernels.unpack_trie`)
        self.plain = PlainTokens(tokens, usable, index) if plain else None

    def walk(self, dfa: DFA, nodes: np.ndarray, states: np.ndarray):
        """Walk the subtrees below `nodes` (node ids, none below another), each from its automaton
        state in `states`.

        Returns the ids of the tokens that end at a surviving node, whether every plain token is
        allowed besides those (`plain`: then the plain ids are left out of the list, a bool mask of
        them is `self.plain.mask`), and the surviving nodes where the automaton accepts with their
        states (branch points); the arrays may be views of this thread's kernel buffers, valid until
        its next walk (copy what is kept). The start nodes themselves are not reported. Rows of the lazily
        built automaton are filled by the kernel as the walk reaches them (when the automaton's
        store is full, it stops there; the walk resumes once it grew).
        From the root, in a state that every plain text keeps alive and inside its terminal (mid-
        string), the plain tokens are allowed at once and only the other tokens' trie is walked.
        """
        plain = self.plain
        if plain is not None and nodes.size == 1 and nodes[0] == 0 and dfa.survives(
                int(states[0]), plain.alphabet, PLAIN_MAX_LEN):
            tokens, _, at, at_states = plain.rest.walk(dfa, nodes, states)
            return tokens, True, plain.node[at], at_states
        tokens, at, at_states = self._resume(walk_kernel, dfa, (nodes, states), (0, 1, 1))
        return tokens, False, at, at_states

    def literal(self, dfa: DFA, nodes: np.ndarray, text: bytes) -> tuple[np.ndarray, np.ndarray]:
        """The walk below `nodes` of a state with only `text` left to read: the ids of the tokens
        that spell a prefix of it, and the nodes where it ends (branch points, as `walk` reports them).
        Needs no automaton but its `first_bytes`."""
        (tokens, ends, _), packed = self._buffers(2, 0)
        n_tok, n_end = literal_kernel(self.arrays, dfa.arrays, nodes.astype(np.int32, copy=False),
                                      np.frombuffer(text, dtype=np.uint8), packed)
        return tokens[:n_tok].copy(), ends[:n_end].copy()

    def goes_on(self, dfa: DFA, nodes: np.ndarray) -> np.ndarray:
        """Per node of `nodes`, whether a walk below it can allow a token: a child of it spells a byte
        some pattern of `dfa` starts with (the kernels report branch points only there)."""
        # a copy: the eager signature takes writable arrays, and `ROOT` is read-only
        return goes_on_kernel(self.arrays, dfa.arrays, nodes.astype(np.int32))

    def difference(self, dfa: DFA, nodes: np.ndarray, q: np.ndarray, r: np.ndarray):
        """How the walk below `nodes` from states `q` differs from the one from states `r`: the
        tokens only `q` allows, the tokens only `r` allows, and the branch points (nodes, states) of
        each side among the nodes where the two differ (views, as `walk`'s). Cheap when `q` and `r`
        mostly agree."""
        return self._resume(difference_kernel, dfa, (nodes, q, r), (0, 1, 2, 2, 3, 3))

    def _resume(self, kernel, dfa: DFA, todo: tuple[np.ndarray, ...], counted_by: tuple[int, ...]
                ) -> tuple[np.ndarray, ...]:
        """Run `kernel` from the start (nodes, states...; int32 arrays) in `todo` until nothing is blocked:
        after a run stopped by a full automaton store, fill the rows the blocked nodes wait for (which
        grows the store) and start again from them. The kernel fills one output buffer per entry
        of `counted_by` (output k holds `counts[counted_by[k]]` values), then the blocked (node,
        state per side) buffers, with a stack per side; it returns its counts, the blocked count
        last. One run's outputs are views of the buffers (a big walk's ids would cost a copy, and
        its allocation page faults); several runs' are joined into new arrays."""
        sides = len(todo) - 1
        buffers, packed = self._buffers(len(counted_by), sides)
        outputs, blocked = buffers[:len(counted_by)], buffers[len(counted_by):len(counted_by) + 1 + sides]
        parts: list[list[np.ndarray]] = []
        while True:
            *counts, n_blocked = kernel(self.arrays, dfa.arrays, *todo, packed)
            if not n_blocked and not parts:  # one run (the usual case)
                return tuple(out[:counts[c]] for out, c in zip(outputs, counted_by))
            parts.append([out[:counts[c]].copy() for out, c in zip(outputs, counted_by)])  # buffers are reused
            if not n_blocked:
                return tuple(np.concatenate(col) for col in zip(*parts))
            todo = tuple(b[:n_blocked].copy() for b in blocked)
            dfa.ensure_rows(np.concatenate(todo[1:]))

    def _buffers(self, outputs: int, sides: int) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
        """Kernel buffers, one set per thread (walks run in any thread; one kernel at a time):
        `outputs` arrays with room for a value per trie node (or per token id), the blocked nodes and
        their state per side, and a per-depth state stack per side; and the same packed for a kernel."""
        found = self._local.__dict__.get((outputs, sides))
        if found is None:  # the kernels share one pool of arrays
            pool = self._local.__dict__.setdefault("pool", [])
            stacks = self._local.__dict__.setdefault("stacks", [])
            while len(pool) < outputs + 1 + sides:
                pool.append(np.empty(self.num_nodes + self.more_ids.size, dtype=np.int32))
            while len(stacks) < sides:
                stacks.append(np.empty(self.max_depth + 1, dtype=np.int32))
            arrays = tuple(pool[:outputs + 1 + sides]) + tuple(stacks[:sides])
            found = self._local.__dict__[outputs, sides] = arrays, pack([(a, np.int32) for a in arrays])
        return found

    def fill_allowed(self, dfa: DFA, state: int, out: np.ndarray) -> None:
        """Set `out[t]` for the tokens whose bytes, read from `state`, leave the automaton alive."""
        tokens, plain, _, _ = self.walk(dfa, ROOT, np.array([state], dtype=np.int32))
        if plain:
            out |= self.plain.mask
        out[tokens] = True


class PlainTokens:
    """The plain tokens of a trie (`PLAIN_BYTES` only, at most `PLAIN_MAX_LEN` long), and a trie of
    the others. Where no plain text of that length can kill the automaton or end a terminal, every
    plain token is allowed without a walk (the idea of llguidance's slicer): inside a string, a walk
    of the whole vocabulary (100k trie nodes for SmolLM2) becomes a walk of 3k."""

    def __init__(self, tokens: list[bytes], usable: list[tuple[int, bytes]], index: dict[bytes, int]):
        self.alphabet = np.frombuffer(PLAIN_BYTES, dtype=np.uint8).astype(np.intp)
        is_plain = [len(tok) <= PLAIN_MAX_LEN and not tok.translate(None, PLAIN_BYTES) for _, tok in usable]
        self.ids = np.array([tid for (tid, _), p in zip(usable, is_plain) if p], dtype=np.int32)
        self.mask = np.zeros(len(tokens), dtype=bool)  # the ids as a mask: copied, not scattered, per walk
        self.mask[self.ids] = True
        others = [b""] * len(tokens)
        for (tid, tok), p in zip(usable, is_plain):
            if not p:
                others[tid] = tok
        self.rest = TokenTrie(others, frozenset(), plain=False)
        prefixes = sorted({b""} | {tok[:d] for tok in others if tok for d in range(len(tok) + 1)})
        self.node = np.array([index[p] for p in prefixes], dtype=np.int32)  # rest's node -> this trie's


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
