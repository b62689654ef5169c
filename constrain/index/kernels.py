"""The compiled inner loop of a trie walk (numba): one breadth-first pass over the surviving trie nodes.

Why compiled: a walk inside a JSON string visits nearly the whole trie (100k nodes for a 49k
vocabulary); stepped level by level in numpy that is ~80 levels of array calls, milliseconds per
walk. Node by node in machine code it is a few hundred microseconds, and a sparse walk (a property
name) is a few microseconds instead of a few numpy calls per level.

The automaton is filled lazily, so the kernel stops below any node whose automaton row is not built
yet and returns it as "blocked"; the caller fills those rows and resumes from them.
"""
from __future__ import annotations

from numba import njit

UNFILLED = -1


@njit(cache=True, nogil=True)
def walk_kernel(child_start, child_count, node_byte, tok_ptr, tok_ids, table, accepting,
                start_nodes, start_states, tokens, branch_nodes, branch_states, blocked_nodes,
                blocked_states, queue_nodes, queue_states):  # pragma: no cover - compiled
    """Visit every node below `start_nodes` (global ids) that the automaton survives.

    Fills the caller's buffers (sized for the whole trie and vocabulary) with the token ids ending
    at surviving nodes, the nodes and states where the automaton accepts (branch points), and the
    nodes and states whose rows are unfilled (blocked); returns the three counts. Start nodes
    themselves are not reported, only their descendants.
    """
    n_tok = 0
    n_branch = 0
    n_blocked = 0
    top = 0
    for k in range(start_nodes.shape[0]):
        queue_nodes[top] = start_nodes[k]
        queue_states[top] = start_states[k]
        top += 1
    head = 0
    while head < top:  # first in, first out: nodes come level by level, in memory order
        node = queue_nodes[head]
        state = queue_states[head]
        head += 1
        first = child_start[node]
        for child in range(first, first + child_count[node]):
            nxt = table[state, node_byte[child]]
            if nxt == 0:
                continue
            for j in range(tok_ptr[child], tok_ptr[child + 1]):
                tokens[n_tok] = tok_ids[j]
                n_tok += 1
            if accepting[nxt]:
                branch_nodes[n_branch] = child
                branch_states[n_branch] = nxt
                n_branch += 1
            if child_count[child] == 0:
                continue
            if table[nxt, 0] == UNFILLED:
                blocked_nodes[n_blocked] = child
                blocked_states[n_blocked] = nxt
                n_blocked += 1
            else:
                queue_nodes[top] = child
                queue_states[top] = nxt
                top += 1
    return n_tok, n_branch, n_blocked
