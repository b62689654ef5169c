"""Byte NFA -> DFA by lazy subset construction, stored as a numpy transition table.

The table is what makes token masks vectorisable: `table[states, bytes]` steps thousands of trie
nodes in one numpy gather. Rows are filled on first use, so only states a token can reach are ever
built; `build_all` explores everything up front when a compile-time bound is wanted.

State 0 is the dead state (no completion possible). NFA states that cannot reach an accept state
are dropped from every subset, so any other DFA state can still be completed: "not dead" is exactly
"this prefix can still become a full match". `labels(state)` says which patterns (terminals of a
lexer) the bytes read so far complete.

Rows are computed in compiled code (`kernels.fill_kernel`), subsets interned there too, in a store
of flat arrays (a pool of sorted subsets and a hash table of them) that this class grows.
"""
from __future__ import annotations

import numpy as np

from .. import deadline
from ..errors import LimitError
from .kernels import (DTYPES, EMPTY, FULL_POOL, TOO_MANY, UNFILLED, fill_kernel, forced_kernel, intern_kernel,
                      reference_kernel, rehash_kernel, run_kernel, start_kernel, survives_kernel)
from .nfa import Counted, NFA
from .packed import pack

DEAD = 0
_NONE: frozenset[int] = frozenset()
# rows reserved up front (1 MB): allocated, not written, so only the rows of states that exist take
# memory, and most automata never copy their table to grow (a copy lands on one token: 60-250 us)
RESERVED_ROWS = 1023


class DFA:
    def __init__(self, nfa: NFA, max_states: int = 20_000):
        self.nfa = nfa
        self.max_states = max_states
        rows = min(max_states + 1, RESERVED_ROWS)
        self.table = np.empty((rows, 256), dtype=np.int32)  # a state's row is marked UNFILLED when it is added
        # set when a state is added, like its row: nonzero where a pattern is complete (k + 1 when
        # pattern k alone is, else `kernels.SEVERAL`); the one pattern the state lies inside (and
        # whether one way on may be all there is: `kernels`), or -1
        self.accepting = np.empty(rows, dtype=np.int32)
        self.owners = np.empty(rows, dtype=np.int32)
        self._labels: dict[int, frozenset[int]] = {}  # of states completing several patterns, filled by `labels`
        self._one_label: dict[int, frozenset[int]] = {}  # k + 1 -> {k}
        self._forced: dict[int, bytes | None] = {}  # filled by `forced`
        self._counted: dict[int, list[Counted]] = {}  # per pattern, its counted runs (`inside`)
        # sized for the reserved rows, so a walk is rarely stopped to grow them (each stop costs a
        # second kernel run on that token); `np.empty` pages cost memory only once written
        self._pool = np.empty(16 * RESERVED_ROWS, dtype=np.int32)  # state s: the sorted NFA states pool[at[s]:at[s + 1]]
        self._at = np.empty(rows + 1, dtype=np.int64)
        self._at[0] = 0
        self._slots = np.full(2 * (RESERVED_ROWS + 1), EMPTY, dtype=np.int32)  # hash table of the states reached by bytes
        self._meta = np.zeros(1, dtype=np.int64)  # the number of states
        self._starts: dict[tuple[int, ...], int] = {}  # start states by the patterns they start
        self._mark = np.zeros(nfa.size, dtype=bool)  # the kernels' scratch, all False between calls
        self._queue = np.empty(nfa.size, dtype=np.int32)
        self.first_bytes = np.zeros(256, dtype=bool)  # the bytes some pattern starts with: set below
        self._set_arrays()
        self._intern(np.zeros(0, dtype=np.int32), True)
        self.table[DEAD] = DEAD
        self.start = self._start([nfa.start], True)
        self.first_bytes[:] = _first_bytes(nfa, self.subset(self.start))

    @property
    def num_states(self) -> int:
        return int(self._meta[0])

    def start_for(self, labels) -> int:
        """The state that starts only the patterns `labels` (a lexer for those terminals): lexers
        over one shared automaton share every state they can both reach.

        A start state is its own state even when a later state holds the same NFA states (a
        pattern looping back to its beginning), so `state in starts` means "no byte read yet"."""
        key = tuple(labels)
        found = self._starts.get(key)
        if found is None:
            found = self._starts[key] = self._start([self.nfa.entries[k] for k in labels], False)
        return found

    def subset(self, state: int) -> np.ndarray:
        """The NFA states `state` stands for, sorted (read-only: the automaton keeps it)."""
        return self._pool[self._at[state]:self._at[state + 1]]

    def owner(self, state: int) -> int | None:
        """The pattern k when `state` lies inside pattern k alone: from there the automaton behaves as
        pattern k's own would, in any union that holds it (`inside` says where)."""
        code = int(self.owners[state])
        return code >> 1 if code >= 0 else None

    def inside(self, state: int, horizon: int) -> bytes:
        """Where inside its `owner` pattern `state` lies, as far as the next `horizon` bytes can tell:
        its subset relative to the pattern's states, where a counted repetition's count (`nfa.Counted`)
        is written as the first count that behaves the same on every text that short. From more than
        `horizon` units below the minimum no count can end within reach; from at least the minimum
        and more than `horizon` below the maximum every count can end and none reaches the maximum.
        So a trie walk no deeper than `horizon` is the same from each count of such a run: inside
        `maxLength: 256` the first 175 characters share one walk (SmolLM2's longest token is 81 bytes)."""
        k = self.owner(state)
        first = self.nfa.spans[k][0]
        subset = self.subset(state)
        runs = self._counted.get(k)
        if runs is None:
            runs = self._counted[k] = [run for run in self.nfa.counted if first <= run.first < self.nfa.spans[k][1]]
        if runs:  # a few NFA states: plain ints beat array operations here
            subset = np.array(sorted({_far_count(s, runs, horizon) for s in subset.tolist()}), dtype=subset.dtype)
        return (subset - first).tobytes()

    def forced(self, state: int, max_length: int = 64) -> bytes | None:
        """The only bytes that complete a pattern from `state`, if there is one way only (the rest
        of a literal, such as a property name's `e": `), up to `max_length` bytes; else None."""
        if state in self._forced:
            return self._forced[state]
        code = int(self.owners[state])
        if code >= 0 and not code & 1:  # two ways on from here, told when the state was added
            return None
        out = np.empty(max_length, dtype=np.uint8)
        length = forced_kernel(state, out, self.arrays)
        found = self._forced[state] = out[:length].tobytes() if length >= 0 else None
        return found

    def is_accepting(self, state: int) -> bool:
        return bool(self.accepting[state])

    def labels(self, state: int) -> frozenset[int]:
        """The patterns the bytes read so far complete (terminals of a lexer)."""
        code = int(self.accepting[state])
        if code > 0:
            found = self._one_label.get(code)
            if found is None:
                found = self._one_label[code] = frozenset((code - 1,))
            return found
        if code == 0:
            return _NONE
        found = self._labels.get(state)
        if found is None:
            labels = self.nfa.label[self.subset(state)]
            found = self._labels[state] = frozenset(labels[labels >= 0].tolist())
        return found

    def step(self, state: int, byte: int) -> int:
        return int(self.row(state)[byte])

    def row(self, state: int) -> np.ndarray:
        """The state's row of the table (a view), filled first if it is missing."""
        if self.table[state, 0] == UNFILLED:
            self._fill(np.array([state], dtype=np.int32))
        return self.table[state]

    def walk(self, state: int, data: bytes) -> int:
        """The state after reading `data` from `state` (DEAD once dead), in one compiled call."""
        return self.run(state, np.frombuffer(data, dtype=np.uint8), until_complete=False)[1]

    def run(self, state: int, data: np.ndarray, i: int = 0, until_complete: bool = True) -> tuple[int, int]:
        """Read the bytes `data[i:]` from `state` until the automaton dies or (`until_complete`) a
        pattern is complete, where a lexer may end a terminal: (the position reached, the state
        there). Inside a JSON string that is a whole token in one compiled call."""
        while True:
            status, i, state = run_kernel(state, data, i, until_complete, self.arrays)
            if status == 0:
                return i, state
            self._grow(status)

    def survives(self, state: int, alphabet: np.ndarray, length: int, max_states: int = 64) -> bool:
        """Whether every string of 1 to `length` bytes from `alphabet` (byte values) leads from `state`
        to a live state that completes no pattern (so tokens of those bytes need no walk). False also
        when telling takes more than `max_states` states."""
        while (found := survives_kernel(state, alphabet, length, max_states, self.arrays)) < 0:
            self._grow(found)
        return bool(found)

    def reference(self, state: int, max_different: int) -> int:
        """The live state most bytes lead to from `state`, if it leads to the same states as `state`
        on all but `max_different` bytes and lives on more bytes than that; else DEAD. (A property
        name's prefix leads back to "any other name" on most bytes: the two states' trie walks
        differ little, and are big. Two steps of a literal or of a number agree too, on dead bytes
        mostly: their walks are small, cheaper to redo than to subtract from.)"""
        while (found := reference_kernel(state, max_different, self.arrays)) < 0:
            self._grow(found)
        return found

    def ensure_rows(self, states: np.ndarray) -> None:
        """Fill the rows of `states` so a vectorised gather over them is valid."""
        todo = states[self.table[states, 0] == UNFILLED]
        if todo.size:
            self._fill(np.unique(todo))

    def build_all(self) -> None:
        """Explore every reachable state now; raises `LimitError` past `max_states`."""
        todo = [self.start]
        seen = {self.start}
        while todo:
            for nxt in np.unique(self.row(todo.pop())).tolist():
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)

    # ------------------------------------------------------------ construction

    def _start(self, states: list[int], hashed: bool) -> int:
        """The state of the closure of NFA `states` (DEAD if empty), in one compiled call."""
        seeds = np.array(states, dtype=np.int32)
        while (state := start_kernel(seeds, hashed, self.arrays)) < 0:
            self._grow(state)
        return state

    def _intern(self, subset: np.ndarray, hashed: bool) -> int:
        """The state of `subset`, added when new (not `hashed`: a start state, never found by lookup)."""
        while (state := intern_kernel(subset, hashed, self.arrays)) < 0:
            self._grow(state)
        return state

    def _fill(self, states: np.ndarray) -> None:
        """The rows of `states` (each UNFILLED or filled, a row is written whole)."""
        deadline.check()
        states = states.astype(np.int32, copy=False)
        while (status := fill_kernel(states, self.arrays)) < 0:
            self._grow(status)
            deadline.check()

    def _set_arrays(self) -> None:
        """`arrays`, what the compiled kernels take (`kernels.unpack`): the NFA's arrays, the scratch,
        the store, the first bytes, the state bound, packed (`packed`); packed again whenever growing
        replaces an array of the store (this object keeps them all alive)."""
        n = self.nfa
        fields = (n.edge_ptr, n.edge_lo, n.edge_hi, n.edge_to, n.eps_ptr, n.eps_to, n.keep, n.label, n.pattern,
                  self._mark, self._queue, self._pool, self._at, self._slots, self.table, self.accepting,
                  self.owners, self._meta, self.first_bytes, self.max_states)
        self.arrays = pack(list(zip(fields, DTYPES)))

    def _grow(self, status: int) -> None:
        """Make room for what a kernel found full (its FULL_* `status`); `LimitError` past the bound."""
        if status == TOO_MANY:
            raise LimitError("the automaton has too many states", "max_dfa_states", self.max_states)
        if status == FULL_POOL:
            self._pool = np.concatenate([self._pool, np.empty_like(self._pool)])
            self._set_arrays()
            return
        rows, n = len(self.table), self.num_states
        if n + 1 >= rows:
            table = np.empty((2 * rows, 256), dtype=np.int32)
            table[:rows] = self.table
            self.table = table
            self.accepting = np.concatenate([self.accepting, np.empty(rows, dtype=np.int32)])
            self.owners = np.concatenate([self.owners, np.empty(rows, dtype=np.int32)])
            self._at = np.concatenate([self._at, np.empty(rows, dtype=np.int64)])
        if 2 * (n + 1) > len(self._slots):
            self._slots = np.full(4 * len(self._slots), EMPTY, dtype=np.int32)
            starts = [s for s in self._starts.values() if s != DEAD]  # the dead state is hashed: found by rows
            rehash_kernel(n, np.array(starts, dtype=np.int64), self._pool, self._at, self._slots)
        self._set_arrays()


def _first_bytes(nfa: NFA, start: np.ndarray) -> np.ndarray:
    """A bool per byte: whether an edge of the NFA states `start` reads it (the start's live bytes,
    without filling its row). No trie walk from a start allows a token below a node whose children
    spell none of them (`index.kernels.goes_on`)."""
    counts = nfa.edge_ptr[start + 1] - nfa.edge_ptr[start]
    edges = np.repeat(nfa.edge_ptr[start] - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())
    runs = np.zeros(257, dtype=np.int64)  # +1 where an edge's range opens, -1 past where it closes
    np.add.at(runs, nfa.edge_lo[edges], 1)
    np.add.at(runs, nfa.edge_hi[edges] + 1, -1)
    return np.cumsum(runs[:256]) > 0


def _far_count(s: int, runs: list[Counted], horizon: int) -> int:
    """NFA state `s`, or if it lies in one of the counted `runs` at a count whose next `horizon` bytes
    behave as those of an earlier count's (`DFA.inside`), the same state at that count."""
    for run in runs:
        if run.first <= s < run.first + run.size:
            n, lo, hi = run.levels
            count, unit = divmod(s - run.first, n)
            if count + horizon < lo:
                count = 0
            elif lo <= count and hi is not None and count + horizon < hi:
                count = lo
            return run.first + count * n + unit
    return s
