"""Byte NFA -> DFA by lazy subset construction, stored as a numpy transition table.

The table is what makes token masks vectorisable: `table[states, bytes]` steps thousands of trie
nodes in one numpy gather. Rows are filled on first use, so only states a token can reach are ever
built; `build_all` explores everything up front when a compile-time bound is wanted.

State 0 is the dead state (no completion possible). NFA states that cannot reach an accept state
are dropped from every subset, so any other DFA state can still be completed: "not dead" is exactly
"this prefix can still become a full match". `labels[state]` says which patterns (terminals of a
lexer) the bytes read so far complete.
"""
from __future__ import annotations

import bisect

import numpy as np

from .. import deadline
from ..errors import LimitError
from .nfa import NFA

DEAD = 0
UNFILLED = -1


class DFA:
    def __init__(self, nfa: NFA, max_states: int = 20_000):
        self.nfa = nfa
        self.max_states = max_states
        self._ids: dict = {frozenset(): DEAD}
        self._sets: list[frozenset[int]] = [frozenset()]
        self.table = np.full((64, 256), UNFILLED, dtype=np.int32)
        self.table[DEAD] = DEAD
        self.accepting = np.zeros(64, dtype=bool)
        self.labels: list[frozenset[int]] = [frozenset()]
        self._moves: dict[frozenset[int], int] = {}  # NFA states a byte leads to -> DFA state
        self.start = self._intern(self._closure([nfa.start]))

    @property
    def num_states(self) -> int:
        return len(self._sets)

    def start_for(self, labels) -> int:
        """The state that starts only the patterns `labels` (a lexer for those terminals): lexers
        over one shared automaton share every state they can both reach.

        A start state is its own state even when a later state holds the same NFA states (a
        pattern looping back to its beginning), so `state in starts` means "no byte read yet"."""
        return self._intern(self._closure([self.nfa.entries[k] for k in labels]), start=True)

    def owner(self, state: int) -> tuple[int, frozenset[int]] | None:
        """(k, the subset relative to pattern k's states) when `state` is inside pattern k alone:
        from there the automaton behaves as pattern k's own would, in any union that holds it."""
        subset = self._sets[state]
        if not subset or not self.nfa.spans:
            return None
        first = min(subset)
        k = bisect.bisect_right(self.nfa.spans, (first, float("inf"))) - 1
        lo, hi = self.nfa.spans[k]
        if max(subset) >= hi:
            return None
        return k, frozenset(s - lo for s in subset)

    def is_accepting(self, state: int) -> bool:
        return bool(self.accepting[state])

    def step(self, state: int, byte: int) -> int:
        return int(self.row(state)[byte])

    def row(self, state: int) -> np.ndarray:
        """The state's row of the table (a view), filled first if it is missing."""
        if self.table[state, 0] == UNFILLED:
            self._fill(state)
        return self.table[state]

    def walk(self, state: int, data: bytes) -> int:
        for byte in data:
            if state == DEAD:
                break
            state = self.step(state, byte)
        return state

    def survives(self, state: int, alphabet: np.ndarray, length: int, max_states: int = 64) -> bool:
        """Whether every string of 1 to `length` bytes from `alphabet` (byte values) leads from `state`
        to a live state that completes no pattern (so tokens of those bytes need no walk). False also
        when telling takes more than `max_states` states."""
        seen, frontier = {state}, [state]
        for _ in range(length):
            nxt = []
            for s in frontier:
                targets = np.unique(self.row(s)[alphabet])
                if targets[0] == DEAD or self.accepting[targets].any():
                    return False
                for t in targets.tolist():
                    if t not in seen:
                        seen.add(t)
                        nxt.append(t)
                if len(seen) > max_states:
                    return False
            frontier = nxt
        return True

    def ensure_rows(self, states: np.ndarray) -> None:
        """Fill the rows of `states` so a vectorised gather over them is valid."""
        todo = states[self.table[states, 0] == UNFILLED]
        for state in np.unique(todo).tolist():
            self._fill(state)

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

    def _closure(self, states) -> frozenset[int]:
        """Epsilon closure, keeping only states that read a byte or accept, and can still accept."""
        nfa, live = self.nfa, self.nfa.live
        seen = set(states)
        stack = list(states)
        while stack:
            s = stack.pop()
            for d in nfa.eps[s]:
                if s + d not in seen:
                    seen.add(s + d)
                    stack.append(s + d)
        return frozenset(s for s in seen if live[s] and (nfa.edges[s] or s in nfa.accepts))

    def _intern(self, subset: frozenset[int], start: bool = False) -> int:
        key = ("start", subset) if start and subset else subset
        state = self._ids.get(key)
        if state is not None:
            return state
        deadline.check()
        state = len(self._sets)
        if state >= self.max_states:
            raise LimitError("the automaton has too many states", "max_dfa_states", self.max_states)
        if state >= len(self.table):
            grow = len(self.table)
            self.table = np.vstack([self.table, np.full((grow, 256), UNFILLED, dtype=np.int32)])
            self.accepting = np.concatenate([self.accepting, np.zeros(grow, dtype=bool)])
        self._ids[key] = state
        self._sets.append(subset)
        labels = frozenset(self.nfa.accepts[s] for s in subset if s in self.nfa.accepts)
        self.labels.append(labels)
        self.accepting[state] = bool(labels)
        return state

    def _fill(self, state: int) -> None:
        """One table row: sweep the byte ranges of the subset's edges, so the work follows the
        edges of this state, not the byte classes of the whole automaton."""
        events: dict[int, list[tuple[int, int]]] = {}
        for s in self._sets[state]:
            for lo, hi, d in self.nfa.edges[s]:
                events.setdefault(lo, []).append((s + d, 1))
                events.setdefault(hi + 1, []).append((s + d, -1))
        row = np.zeros(256, dtype=np.int32)  # DEAD where no edge reads the byte
        active: dict[int, int] = {}
        moves = self._moves
        points = sorted(events)
        for p, end in zip(points, points[1:]):
            for t, d in events[p]:
                n = active.get(t, 0) + d
                if n:
                    active[t] = n
                else:
                    del active[t]
            if active:
                key = frozenset(active)
                target = moves.get(key)
                if target is None:
                    target = moves[key] = self._intern(self._closure(key))
                row[p:end] = target
        self.table[state] = row
