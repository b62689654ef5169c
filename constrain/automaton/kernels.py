"""The compiled inner loops of subset construction (numba): epsilon closures, interning, table rows.

Why compiled: a row is a sweep over the byte ranges of a subset's edges, one epsilon closure per
range and a lookup of each closed subset among the states built so far. In Python that is ~50 us a
row, and the first mask inside a JSON object fills dozens of rows.

The NFA arrives as CSR arrays (see `nfa.NFA`); `mark` (all False between calls) and `queue` are
scratch arrays of one slot per NFA state. The DFA's states live in a store of arrays the caller
owns and grows: state s stands for the sorted NFA states `pool[at[s]:at[s + 1]]`, `slots` is an
open-addressing hash table of state ids (EMPTY where free), `meta[0]` the number of states, and
`table` / `accepting` the DFA itself, with an accepting code per state (0, k + 1 when pattern k
alone is complete, `SEVERAL`) and an owner code (2k + 1 when the state lies inside pattern k alone
and reads one way on: one byte, or nothing where k is complete, so it may be the rest of a literal;
2k inside pattern k otherwise; -1 inside several patterns). A kernel that runs out of room returns
a `FULL_*` code with the store consistent (states interned so far stay, a row is written whole or
not at all): the caller grows what is full and calls again.

The kernels take all of that as one int64 array (`DFA.arrays`, see `packed`), `unpack`ed into the
arrays in field order.

No `nogil`: the scratch arrays belong to one automaton, which threads may share, so the kernels run
under the GIL, one at a time.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from . import packed
from .packed import drop_stale_cache, number, rows, view

UNFILLED = -1
EMPTY = -1
FULL_ROWS, FULL_POOL, TOO_MANY = -1, -2, -3
SEVERAL = -1  # an accepting code: several patterns complete (else k + 1 for pattern k alone, 0 for none)
# the fields of `DFA.arrays`: the NFA's arrays, the scratch, the store, the bytes the automaton's
# start reads (`DFA.first_bytes`), the state bound; and the dtypes they are packed with
(EDGE_PTR, EDGE_LO, EDGE_HI, EDGE_TO, EPS_PTR, EPS_TO, KEEP, LABEL, PATTERN, MARK, QUEUE, POOL, AT, SLOTS,
 TABLE, ACCEPTING, OWNERS, META, FIRST, MAX_STATES) = range(20)
DTYPES = (np.int64, np.int32, np.int32, np.int32, np.int64, np.int32, np.bool_, np.int32, np.int32, np.bool_,
          np.int32, np.int32, np.int64, np.int32, np.int32, np.int32, np.int32, np.int64, np.bool_, int)


def _drop_stale_cache() -> None:
    """These kernels compile in the packed views of `packed.py`: their cache is dropped when it is newer."""
    drop_stale_cache(__file__, (packed.__file__,))


_drop_stale_cache()


@njit(inline="always")
def unpack(a):  # pragma: no cover - compiled
    """`DFA.arrays` as the arrays it packs (and the bound), in field order."""
    return (view(a, EDGE_PTR, np.int64), view(a, EDGE_LO, np.int32), view(a, EDGE_HI, np.int32),
            view(a, EDGE_TO, np.int32), view(a, EPS_PTR, np.int64), view(a, EPS_TO, np.int32),
            view(a, KEEP, np.bool_), view(a, LABEL, np.int32), view(a, PATTERN, np.int32),
            view(a, MARK, np.bool_), view(a, QUEUE, np.int32), view(a, POOL, np.int32), view(a, AT, np.int64),
            view(a, SLOTS, np.int32), rows(a, TABLE, np.int32, 256), view(a, ACCEPTING, np.int32),
            view(a, OWNERS, np.int32), view(a, META, np.int64), view(a, FIRST, np.bool_), number(a, MAX_STATES))


@njit(cache=True)
def _close(seeds, eps_ptr, eps_to, keep, mark, queue):  # pragma: no cover - compiled
    """Close `seeds` under epsilon moves; leave the kept states, sorted, in queue[:k] and return k.
    Every state is unmarked again on the way out."""
    count = 0
    for s in seeds:
        if not mark[s]:
            mark[s] = True
            queue[count] = s
            count += 1
    i = 0
    while i < count:
        s = queue[i]
        i += 1
        for j in range(eps_ptr[s], eps_ptr[s + 1]):
            t = eps_to[j]
            if not mark[t]:
                mark[t] = True
                queue[count] = t
                count += 1
    k = 0
    for j in range(count):
        s = queue[j]
        mark[s] = False
        if keep[s]:
            queue[k] = s
            k += 1
    queue[:k].sort()
    return k


@njit(cache=True)
def _hash(sub):  # pragma: no cover - compiled
    """FNV-1a over the subset's state numbers."""
    h = np.uint64(14695981039346656037)
    for x in sub:
        h = (h ^ np.uint64(x)) * np.uint64(1099511628211)
    return h


@njit(cache=True)
def _one_byte(sub, edge_ptr, edge_lo, edge_hi):  # pragma: no cover - compiled
    """The one byte the NFA states `sub` read, -1 when they read none, -2 when they read several."""
    byte = -1
    for x in sub:
        for j in range(edge_ptr[x], edge_ptr[x + 1]):
            if edge_hi[j] != edge_lo[j] or (byte >= 0 and edge_lo[j] != byte):
                return -2
            byte = edge_lo[j]
    return byte


@njit(cache=True)
def _intern(sub, hashed, automaton):  # pragma: no cover - compiled
    """The state of subset `sub`, added when new (`hashed`: findable by later lookups; a start state
    is not, so it stays apart from the same subset reached by reading bytes); or a FULL_* code.
    A new state's accepting code and owner code are written here, where its subset is at hand."""
    (edge_ptr, edge_lo, edge_hi, _, _, _, _, label, pattern, _, _,
     pool, at, slots, table, accepting, owners, meta, _, max_states) = unpack(automaton)
    mask = slots.size - 1
    slot = np.int64(_hash(sub) & np.uint64(mask))
    if hashed:
        while slots[slot] != EMPTY:
            s = slots[slot]
            a, b = at[s], at[s + 1]
            if b - a == sub.size and _same(pool, a, sub, 0, sub.size):
                return s
            slot = (slot + 1) & mask
    n = meta[0]
    if n >= max_states:
        return TOO_MANY
    if n + 1 >= table.shape[0] or 2 * (n + 1) > slots.size:
        return FULL_ROWS
    end = at[n]
    if end + sub.size > pool.size:
        return FULL_POOL
    pool[end:end + sub.size] = sub
    at[n + 1] = end + sub.size
    table[n, 0] = UNFILLED  # the row is reserved memory: mark it before anything reads it
    code = 0
    owner = pattern[sub[0]] if sub.size else -1
    for x in sub:
        if label[x] >= 0:
            code = label[x] + 1 if code == 0 or code == label[x] + 1 else SEVERAL
        if pattern[x] != owner:
            owner = -1
    accepting[n] = code
    byte = _one_byte(sub, edge_ptr, edge_lo, edge_hi)
    one_way = byte == -1 or (byte >= 0 and code == 0)
    owners[n] = 2 * owner + one_way if owner >= 0 else -1
    if hashed:
        slots[slot] = n
    meta[0] = n + 1
    return n


@njit(cache=True)
def start_kernel(seeds, hashed, automaton):  # pragma: no cover - compiled
    """The state of the kept epsilon closure of the NFA states `seeds` (`_intern`); 0 (dead) for an
    empty closure, or a FULL_* code."""
    _, _, _, _, eps_ptr, eps_to, keep, _, _, mark, queue, _, _, _, _, _, _, _, _, _ = unpack(automaton)
    k = _close(seeds, eps_ptr, eps_to, keep, mark, queue)
    return _intern(queue[:k], hashed, automaton) if k else 0


@njit(cache=True)
def intern_kernel(sub, hashed, automaton):  # pragma: no cover - compiled
    """`_intern` for the caller (the dead state)."""
    return _intern(sub, hashed, automaton)


@njit(cache=True)
def fill_kernel(states, automaton):  # pragma: no cover - compiled
    """Fill the table rows of `states` still UNFILLED; 0, or a FULL_* code (some rows left unfilled)."""
    for state in states:
        status = fill_row(state, automaton)
        if status < 0:
            return status
    return 0


@njit(cache=True)
def fill_row(state, automaton):  # pragma: no cover - compiled
    """Fill the table row of `state` if it is UNFILLED; 0, or a FULL_* code (the row left unfilled).
    `automaton` is `DFA.arrays`: the NFA's arrays, the scratch, the store and the state bound.

    A row: cut 0..255 at every edge's ends, give each run of bytes the targets of the edges that read
    it, merge neighbouring runs with the same targets (a UTF-8 class is dozens of ranges, mostly
    with one target), then close and intern each distinct set of targets once."""
    (edge_ptr, edge_lo, edge_hi, edge_to, eps_ptr, eps_to, keep, _, _, mark, queue,
     pool, at, _, table, _, _, _, _, _) = unpack(automaton)
    if table[state, 0] != UNFILLED:
        return 0
    a, b = at[state], at[state + 1]
    m = 0
    for s in pool[a:b]:
        m += edge_ptr[s + 1] - edge_ptr[s]
    # one scratch allocation per row: [the last run's targets (m) | this run's (m) | cut points (257) |
    # the target sets closed so far in this row, back to back (4m + 64), where each starts (257) and
    # its state (256)]: a set that comes back after other runs (any string character, between the
    # letters of property names) is closed and interned once
    scratch = np.empty(6 * m + 834, dtype=np.int32)
    targets = scratch[:2 * m]
    cut = scratch[2 * m:2 * m + 257]
    memo = scratch[2 * m + 257:6 * m + 321]
    memo_at = scratch[6 * m + 321:6 * m + 578]
    memo_state = scratch[6 * m + 578:]
    cut[:] = 0
    cut[0] = cut[256] = 1
    for s in pool[a:b]:
        for j in range(edge_ptr[s], edge_ptr[s + 1]):
            cut[edge_lo[j]] = cut[edge_hi[j] + 1] = 1
    memo_at[0] = 0
    row = table[state]  # written run by run: its first entry last, so it stays UNFILLED until whole
    n_memo = 0
    previous = -1
    target = first = -1
    p = 0
    while p < 256:
        end = p + 1
        while not cut[end]:
            end += 1
        count = 0
        for s in pool[a:b]:
            for j in range(edge_ptr[s], edge_ptr[s + 1]):
                if edge_lo[j] <= p <= edge_hi[j]:
                    targets[m + count] = edge_to[j]
                    count += 1
        if count != previous or not _same(targets, m, targets, 0, count):
            targets[:count] = targets[m:m + count]
            previous = count
            target = -1
            for k in range(n_memo):
                if memo_at[k + 1] - memo_at[k] == count and _same(memo, memo_at[k], targets, 0, count):
                    target = memo_state[k]
                    break
            if target < 0:
                k = _close(targets[:count], eps_ptr, eps_to, keep, mark, queue)
                target = _intern(queue[:k], True, automaton)
                if target < 0:
                    return target
                stop = memo_at[n_memo] + count
                if stop <= memo.size:
                    memo[memo_at[n_memo]:stop] = targets[:count]
                    memo_state[n_memo] = target
                    n_memo += 1
                    memo_at[n_memo] = stop
        if p == 0:
            first = target
        row[max(p, 1):end] = target
        p = end
    row[0] = first
    return 0


@njit(cache=True)
def _same(a, i, b, j, count):  # pragma: no cover - compiled
    """a[i:i + count] == b[j:j + count], without allocating."""
    for k in range(count):
        if a[i + k] != b[j + k]:
            return False
    return True


@njit(cache=True)
def survives_kernel(state, alphabet, length, max_states, automaton):  # pragma: no cover - compiled
    """1 when every string of 1 to `length` bytes of `alphabet` leads from `state` to a live state
    that completes no pattern, 0 when one does not (or telling takes more than `max_states`
    states), a FULL_* code when a row could not be filled. Breadth first, one depth at a time."""
    fields = unpack(automaton)
    table, accepting = fields[TABLE], fields[ACCEPTING]
    seen = np.empty(max_states + 1, dtype=np.int64)
    seen[0] = state
    count, lo, hi = 1, 0, 1
    for _ in range(length):
        for i in range(lo, hi):
            status = fill_row(seen[i], automaton)
            if status < 0:
                return status
            for b in alphabet:
                t = table[seen[i], b]
                if t == 0 or accepting[t]:
                    return 0
                new = True
                for j in range(count):
                    if seen[j] == t:
                        new = False
                        break
                if new:
                    if count == max_states:
                        return 0
                    seen[count] = t
                    count += 1
        lo, hi = hi, count
    return 1


@njit(cache=True)
def reference_kernel(state, max_different, automaton):  # pragma: no cover - compiled
    """The live state most bytes lead to from `state`, if its row differs from `state`'s on at most
    `max_different` bytes and has more live bytes than that (and it is not `state` itself); else 0.
    A FULL_* code when a row could not be filled."""
    table = unpack(automaton)[TABLE]
    status = fill_row(state, automaton)
    if status < 0:
        return status
    row = table[state]
    seen = np.empty(256, dtype=np.int32)
    counts = np.zeros(256, dtype=np.int32)
    n = 0
    best = 0
    for b in range(256):
        t = row[b]
        if t == 0:
            continue
        k = 0
        while k < n and seen[k] != t:
            k += 1
        if k == n:
            seen[n] = t
            n += 1
        counts[k] += 1
        if best == 0 or counts[k] > counts[best - 1]:
            best = k + 1  # 1-based: 0 is "none yet"
    if best == 0 or seen[best - 1] == state:
        return 0
    r = seen[best - 1]
    status = fill_row(r, automaton)
    if status < 0:
        return status
    different = 0
    live = 0
    for b in range(256):
        different += table[r, b] != row[b]
        live += table[r, b] != 0
    return r if different <= max_different < live else 0


@njit("void(int64, int64[:], int32[:], int64[:], int32[:])", cache=True)
def rehash_kernel(count, starts, pool, at, slots):  # pragma: no cover - compiled
    """Hash the states 0..count-1 but `starts` into `slots` (empty, larger than before). An eager
    signature: it first runs when a store grows, in a forked worker maybe (loading it costs ms)."""
    mask = slots.size - 1
    skip = np.zeros(count, dtype=np.bool_)
    for s in starts:
        skip[s] = True
    for s in range(count):
        if skip[s]:
            continue
        slot = np.int64(_hash(pool[at[s]:at[s + 1]]) & np.uint64(mask))
        while slots[slot] != EMPTY:
            slot = (slot + 1) & mask
        slots[slot] = s


@njit(cache=True)
def run_kernel(state, data, i, until_complete, automaton):  # pragma: no cover - compiled
    """Read `data` from position `i` in `state` while the automaton lives (and, if `until_complete`,
    no pattern is complete): (0, where it stopped, the state there), or (a FULL_* code, where, the
    state there) when a row could not be filled. Stopped at a complete pattern with bytes left, the
    state's row is filled too: the caller reads the next byte from it (`CFGGrammar._read`)."""
    fields = unpack(automaton)
    table, accepting = fields[TABLE], fields[ACCEPTING]
    while i < data.shape[0] and state != 0:
        if table[state, 0] == UNFILLED:
            status = fill_row(state, automaton)
            if status < 0:
                return status, i, state
        if until_complete and accepting[state]:
            break
        state = table[state, data[i]]
        i += 1
    return 0, i, state


@njit(cache=True)
def forced_kernel(state, out, automaton):  # pragma: no cover - compiled
    """The length of the only text that completes a pattern from `state` (the rest of a literal), its
    bytes in `out`; -1 when several texts (or a longer one than `out` holds) may follow. Read on the
    NFA, not the table: no row is filled or state added for the text (the tokens that read it do
    that, a few bytes at a time, later)."""
    (edge_ptr, edge_lo, edge_hi, edge_to, eps_ptr, eps_to, keep, label, _, mark, queue,
     pool, at, _, _, _, _, _, _, _) = unpack(automaton)
    current = pool[at[state]:at[state + 1]].copy()
    n = 0
    while True:
        byte = _one_byte(current, edge_ptr, edge_lo, edge_hi)
        if byte == -2:
            return -1
        complete = False
        for x in current:
            complete = complete or label[x] >= 0
        if complete:
            return n if byte == -1 else -1
        if n == out.shape[0]:
            return -1
        out[n] = byte
        n += 1
        count = 0
        for x in current:
            count += edge_ptr[x + 1] - edge_ptr[x]
        targets = np.empty(count, dtype=np.int32)  # every edge reads `byte`
        count = 0
        for x in current:
            for j in range(edge_ptr[x], edge_ptr[x + 1]):
                targets[count] = edge_to[j]
                count += 1
        current = queue[:_close(targets, eps_ptr, eps_to, keep, mark, queue)].copy()
