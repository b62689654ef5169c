"""The compiled inner loop of a trie walk (numba): one depth-first pass over the surviving trie nodes.

Why compiled: a walk inside a JSON string visits nearly the whole trie (100k nodes for a 49k
vocabulary); node by node in machine code over depth-first arrays that is a few hundred
microseconds, and a sparse walk (a property name) is a few microseconds.

The automaton is filled lazily, so the kernel stops at any node whose automaton row is not built yet
(a start node included) and returns it as "blocked"; the caller fills those rows and resumes there.
"""
from __future__ import annotations

from numba import njit

UNFILLED = -1


@njit(cache=True, nogil=True)
def walk_kernel(skip, depth, byte, token, more_ptr, more_ids, table, accepting, start_nodes, start_states,
                tokens, branch_nodes, branch_states, blocked_nodes, blocked_states, stack):  # pragma: no cover - compiled
    """Visit every node below `start_nodes` that the automaton survives, in depth-first order.

    `token[i]` is the id spelled by node i (-1: none); `more_ids[more_ptr[i]:more_ptr[i + 1]]` are
    other ids with the same bytes (rare). The body is written to branch as little as possible: a
    mispredicted branch per node costs more than the rest of the node's work.

    `stack[d]` is the automaton state at the current node's ancestor of depth d. Fills the caller's
    buffers (sized for the whole trie and vocabulary) with the token ids ending at surviving nodes,
    the nodes and states where the automaton accepts (branch points), and the nodes and states whose
    rows are unfilled (blocked); returns the three counts. Start nodes must not lie in each other's
    subtrees (the caller's are all at one depth), so nothing is visited twice and the buffers suffice.
    Start nodes themselves are not reported.
    """
    n_tok = 0
    n_branch = 0
    n_blocked = 0
    for k in range(start_nodes.shape[0]):
        node = start_nodes[k]
        if skip[node] == node + 1:  # a leaf: nothing below it
            continue
        if table[start_states[k], 0] == UNFILLED:
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
            for j in range(more_ptr[i], more_ptr[i + 1]):
                tokens[n_tok] = more_ids[j]
                n_tok += 1
            if accepting[nxt]:
                branch_nodes[n_branch] = i
                branch_states[n_branch] = nxt
                n_branch += 1
            if table[nxt, 0] == UNFILLED and skip[i] != i + 1:  # a missing row below a leaf is not needed
                blocked_nodes[n_blocked] = i
                blocked_states[n_blocked] = nxt
                n_blocked += 1
                i = skip[i]
                continue
            stack[depth[i]] = nxt  # harmless at a leaf: the next node reads its own parent's depth
            i += 1
    return n_tok, n_branch, n_blocked
