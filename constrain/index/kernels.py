"""The compiled inner loop of a trie walk (numba): one depth-first pass over the surviving trie nodes.

Why compiled: a walk inside a JSON string visits nearly the whole trie (100k nodes for a 49k
vocabulary); node by node in machine code over depth-first arrays that is a few hundred
microseconds, and a sparse walk (a property name) is a few microseconds.

The automaton is filled lazily: a row the walk needs is filled on the spot (`fill_row`, which also
adds the states it leads to). Only when the automaton's store is full does the kernel stop at that
node and return it as "blocked"; the caller grows the store, fills those rows and resumes there.
No `nogil` then: a walk writes into an automaton that other threads may be walking too.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..automaton import kernels as automaton_kernels, packed
from ..automaton.kernels import ACCEPTING, FIRST, TABLE, UNFILLED, fill_row, unpack
from ..automaton.packed import drop_stale_cache, view

# the fields of `TokenTrie.arrays` (`automaton.packed`), and the dtypes they are packed with
SKIP, DEPTH, BYTE, TOKEN, MORE_PTR, MORE_IDS = range(6)
TRIE_DTYPES = (np.int32, np.int32, np.uint8, np.int32, np.int32, np.int32)


@njit(inline="always")
def unpack_trie(t):  # pragma: no cover - compiled
    """`TokenTrie.arrays` as the arrays it packs, in field order."""
    return (view(t, SKIP, np.int32), view(t, DEPTH, np.int32), view(t, BYTE, np.uint8), view(t, TOKEN, np.int32),
            view(t, MORE_PTR, np.int32), view(t, MORE_IDS, np.int32))


def _drop_stale_cache() -> None:
    """These kernels compile in `fill_row` and `unpack` from `automaton/kernels.py` and the packed
    views from `automaton/packed.py`: their cache is dropped when either is newer."""
    drop_stale_cache(__file__, (automaton_kernels.__file__, packed.__file__))


_drop_stale_cache()


@njit(cache=True)
def goes_on(skip, byte, first, node):  # pragma: no cover - compiled
    """Whether a child of trie `node` spells a byte that can start a pattern (`first[b]`): else no
    walk from a start state below it can allow a token (a leaf has no child at all)."""
    child = node + 1
    while child < skip[node]:
        if first[byte[child]]:
            return True
        child = skip[child]
    return False


@njit("boolean[:](int64[:], int64[:], int32[:])", cache=True)
def goes_on_kernel(trie, automaton, nodes):  # pragma: no cover - compiled
    """`goes_on` for each of `nodes` (an eager signature: loaded on import, not on a first call in a
    forked worker, which would cost milliseconds)."""
    skip, _, byte, _, _, _ = unpack_trie(trie)
    first = unpack(automaton)[FIRST]
    out = np.empty(nodes.shape[0], dtype=np.bool_)
    for k in range(nodes.shape[0]):
        out[k] = goes_on(skip, byte, first, nodes[k])
    return out


@njit(cache=True)
def walk_kernel(trie, automaton, start_nodes, start_states, buffers):  # pragma: no cover - compiled
    """Visit every node below `start_nodes` that the automaton survives, in depth-first order.

    `token[i]` is the id spelled by node i (-1: none; -2 - k: several ids with the same bytes, the k-th
    run of `more_ids` per `more_ptr`, rare). The body is written to branch as little as possible: a
    mispredicted branch per node costs more than the rest of the node's work.

    `trie` is `TokenTrie.arrays`, `automaton` `DFA.arrays`, `buffers` the caller's packed buffers:
    tokens, branch nodes and states, blocked nodes and states, and `stack`, where `stack[d]` is the
    automaton state at the current node's ancestor of depth d. Fills the buffers (sized for the whole
    trie and vocabulary) with the token ids ending at surviving nodes, the nodes and states where the
    automaton accepts (branch points: only those with a child whose byte can start a pattern, `first`,
    per `goes_on`: elsewhere no walk goes on below, so the parser is not asked what would follow), and
    the nodes and states whose rows could not be filled (blocked); returns the three counts. Start
    nodes must not lie in each other's subtrees (`mask.walks` splits a terminal's nodes by depth
    where they nest), so nothing is visited twice and the buffers suffice. Start nodes themselves
    are not reported.
    """
    skip, depth, byte, token, more_ptr, more_ids = unpack_trie(trie)
    fields = unpack(automaton)
    table, accepting, first = fields[TABLE], fields[ACCEPTING], fields[FIRST]
    tokens, branch_nodes, branch_states = view(buffers, 0, np.int32), view(buffers, 1, np.int32), view(buffers, 2, np.int32)
    blocked_nodes, blocked_states, stack = view(buffers, 3, np.int32), view(buffers, 4, np.int32), view(buffers, 5, np.int32)
    n_tok = 0
    n_branch = 0
    n_blocked = 0
    for k in range(start_nodes.shape[0]):
        node = start_nodes[k]
        if skip[node] == node + 1:  # a leaf: nothing below it
            continue
        if table[start_states[k], 0] == UNFILLED and fill_row(start_states[k], automaton) < 0:
            blocked_nodes[n_blocked] = node
            blocked_states[n_blocked] = start_states[k]
            n_blocked += 1
            continue
        stack[depth[node]] = start_states[k]
        end = skip[node]
        i = node + 1
        while i < end:
            nxt = table[stack[depth[i] - 1], byte[i]]
            if nxt == 0:
                i = skip[i]
                continue
            t = token[i]
            tokens[n_tok] = t
            n_tok += t >= 0
            if t < -1:
                for j in range(more_ptr[-t - 2], more_ptr[-t - 1]):
                    tokens[n_tok] = more_ids[j]
                    n_tok += 1
            if accepting[nxt] and goes_on(skip, byte, first, i):
                branch_nodes[n_branch] = i
                branch_states[n_branch] = nxt
                n_branch += 1
            if table[nxt, 0] == UNFILLED and skip[i] != i + 1 and fill_row(nxt, automaton) < 0:  # not below a leaf
                blocked_nodes[n_blocked] = i
                blocked_states[n_blocked] = nxt
                n_blocked += 1
                i = skip[i]
                continue
            stack[depth[i]] = nxt  # harmless at a leaf: the next node reads its own parent's depth
            i += 1
    return n_tok, n_branch, n_blocked


@njit(cache=True)
def difference_kernel(trie, automaton, start_nodes, start_q, start_r, buffers):  # pragma: no cover - compiled
    """Walk two automaton states side by side and report only where their walks differ.

    Below a node where both states agree the two walks are the same, so the subtree is skipped: for
    two states that lead to the same states on most bytes (a property name's prefix and "any other
    name") this visits a few nodes instead of the whole trie. Reports the tokens only `q` allows
    (`added`) and only `r` allows (`removed`), each side's branch points among the visited nodes, and
    blocked pairs (a row not filled on either side), like `walk_kernel`; returns the five counts.
    `buffers`: added, removed, each side's branch nodes and states, blocked nodes and each side's
    states, each side's stack.
    """
    skip, depth, byte, token, more_ptr, more_ids = unpack_trie(trie)
    fields = unpack(automaton)
    table, accepting, first = fields[TABLE], fields[ACCEPTING], fields[FIRST]
    added, removed = view(buffers, 0, np.int32), view(buffers, 1, np.int32)
    q_nodes, q_states, r_nodes, r_states = (view(buffers, 2, np.int32), view(buffers, 3, np.int32),
                                            view(buffers, 4, np.int32), view(buffers, 5, np.int32))
    blocked_nodes, blocked_q, blocked_r = view(buffers, 6, np.int32), view(buffers, 7, np.int32), view(buffers, 8, np.int32)
    stack_q, stack_r = view(buffers, 9, np.int32), view(buffers, 10, np.int32)
    n_add = 0
    n_rem = 0
    n_q = 0
    n_r = 0
    n_blocked = 0
    for k in range(start_nodes.shape[0]):
        node = start_nodes[k]
        if skip[node] == node + 1:
            continue
        if fill_row(start_q[k], automaton) < 0 or fill_row(start_r[k], automaton) < 0:  # once per start
            blocked_nodes[n_blocked] = node
            blocked_q[n_blocked] = start_q[k]
            blocked_r[n_blocked] = start_r[k]
            n_blocked += 1
            continue
        stack_q[depth[node]] = start_q[k]
        stack_r[depth[node]] = start_r[k]
        end = skip[node]
        i = node + 1
        while i < end:
            d = depth[i]
            nq = table[stack_q[d - 1], byte[i]]
            nr = table[stack_r[d - 1], byte[i]]
            if nq == nr:
                i = skip[i]
                continue
            t = token[i]
            if t < -1:
                for j in range(more_ptr[-t - 2], more_ptr[-t - 1]):
                    if nr == 0:
                        added[n_add] = more_ids[j]
                        n_add += 1
                    if nq == 0:
                        removed[n_rem] = more_ids[j]
                        n_rem += 1
            added[n_add] = t
            n_add += (t >= 0) & (nr == 0)
            removed[n_rem] = t
            n_rem += (t >= 0) & (nq == 0)
            if accepting[nq] and goes_on(skip, byte, first, i):
                q_nodes[n_q] = i
                q_states[n_q] = nq
                n_q += 1
            if accepting[nr] and goes_on(skip, byte, first, i):
                r_nodes[n_r] = i
                r_states[n_r] = nr
                n_r += 1
            if (table[nq, 0] == UNFILLED or table[nr, 0] == UNFILLED) and skip[i] != i + 1 and (
                    fill_row(nq, automaton) < 0 or fill_row(nr, automaton) < 0):
                blocked_nodes[n_blocked] = i
                blocked_q[n_blocked] = nq
                blocked_r[n_blocked] = nr
                n_blocked += 1
                i = skip[i]
                continue
            stack_q[d] = nq
            stack_r[d] = nr
            i += 1
    return n_add, n_rem, n_q, n_r, n_blocked


@njit(cache=True)
def literal_kernel(trie, automaton, start_nodes, text, buffers):  # pragma: no cover - compiled
    """The walk of a state that has one text left to read (the rest of a literal): below each start
    node, follow the child spelling the next byte of `text`. The tokens on that path are allowed, and
    the node spelling all of `text` is where the literal ends (a branch point where it `goes_on`; with
    an empty text, the start node itself). No automaton but its first bytes: the text decides it all.
    `buffers`: tokens, ends. Returns the token and end counts."""
    skip, _, byte, token, more_ptr, more_ids = unpack_trie(trie)
    first = unpack(automaton)[FIRST]
    tokens, ends = view(buffers, 0, np.int32), view(buffers, 1, np.int32)
    n_tok = 0
    n_end = 0
    for k in range(start_nodes.shape[0]):
        node = start_nodes[k]
        d = 0
        while d < text.shape[0]:
            child = node + 1
            end = skip[node]
            while child < end and byte[child] < text[d]:  # children in byte order, each subtree skipped
                child = skip[child]
            if child == end or byte[child] != text[d]:
                break
            node = child
            d += 1
            t = token[node]  # as in walk_kernel (a shared helper made the walk's inner loop slower)
            tokens[n_tok] = t
            n_tok += t >= 0
            if t < -1:
                for j in range(more_ptr[-t - 2], more_ptr[-t - 1]):
                    tokens[n_tok] = more_ids[j]
                    n_tok += 1
        if d == text.shape[0] and goes_on(skip, byte, first, node):
            ends[n_end] = node
            n_end += 1
    return n_tok, n_end


@njit(cache=True)
def group_kernel(nodes, states):  # pragma: no cover - compiled
    """Group branch points by the state they were reached in: returns the nodes sorted by state then
    node, where each state's run starts (plus the end), and each run's state."""
    n = nodes.shape[0]
    first = np.argsort(nodes, kind="mergesort")
    by_node, by_node_states = nodes[first], states[first]
    order = np.argsort(by_node_states, kind="mergesort")  # stable: each state's nodes stay sorted
    cuts = np.empty(n + 1, dtype=np.int64)
    run_states = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(n):
        state = by_node_states[order[i]]
        if i == 0 or state != by_node_states[order[i - 1]]:
            cuts[m] = i
            run_states[m] = state
            m += 1
    cuts[m] = n
    return by_node[order], cuts[:m + 1], run_states[:m]


@njit("int32[:](int32[:], int32[:], int32[:])", cache=True)
def update_kernel(nodes, removed, added):  # pragma: no cover - compiled
    """`nodes` without `removed`, with `added` (all sorted, no repeats): sorted, no repeats. A
    relative walk's branch points per terminal; numpy's set functions cost ~20 us a call here.
    Compiled (or loaded) on import: few outputs reach it, and a first call would cost milliseconds."""
    out = np.empty(nodes.shape[0] + added.shape[0], dtype=nodes.dtype)
    i = j = k = n = 0
    while i < nodes.shape[0] or k < added.shape[0]:
        if k == added.shape[0] or (i < nodes.shape[0] and nodes[i] < added[k]):
            x = nodes[i]
            i += 1
            while j < removed.shape[0] and removed[j] < x:
                j += 1
            if j < removed.shape[0] and removed[j] == x:
                continue
        else:
            x = added[k]
            k += 1
            if i < nodes.shape[0] and nodes[i] == x:
                i += 1
        out[n] = x
        n += 1
    return out[:n]
