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

import numpy as np

from ..errors import LimitError
from .nfa import NFA

DEAD = 0
UNFILLED = -1


class DFA:
    def __init__(self, nfa: NFA, max_states: int = 20_000):
        self.nfa = nfa
        self.max_states = max_states
        self._live = _coreachable(nfa)
        self._classes, self._edge_classes = _byte_classes(nfa)
        self._ids: dict[frozenset[int], int] = {frozenset(): DEAD}
        self._sets: list[frozenset[int]] = [frozenset()]
        self.table = np.full((64, 256), UNFILLED, dtype=np.int32)
        self.table[DEAD] = DEAD
        self.accepting = np.zeros(64, dtype=bool)
        self.labels: list[frozenset[int]] = [frozenset()]
        self.start = self._intern(self._closure([nfa.start]))

    @property
    def num_states(self) -> int:
        return len(self._sets)

    def is_accepting(self, state: int) -> bool:
        return bool(self.accepting[state])

    def step(self, state: int, byte: int) -> int:
        if self.table[state, 0] == UNFILLED:
            self._fill(state)
        return int(self.table[state, byte])

    def walk(self, state: int, data: bytes) -> int:
        for byte in data:
            if state == DEAD:
                break
            state = self.step(state, byte)
        return state

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
            state = todo.pop()
            if self.table[state, 0] == UNFILLED:
                self._fill(state)
            for nxt in np.unique(self.table[state]).tolist():
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)

    # ------------------------------------------------------------ construction

    def _closure(self, states) -> frozenset[int]:
        """Epsilon closure, keeping only states that read a byte or accept, and can still accept."""
        nfa, live = self.nfa, self._live
        seen = set(states)
        stack = list(states)
        while stack:
            for t in nfa.eps[stack.pop()]:
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
        return frozenset(s for s in seen if live[s] and (nfa.edges[s] or s in nfa.accepts))

    def _intern(self, subset: frozenset[int]) -> int:
        state = self._ids.get(subset)
        if state is not None:
            return state
        state = len(self._sets)
        if state >= self.max_states:
            raise LimitError("the automaton has too many states", "max_dfa_states", self.max_states)
        if state >= len(self.table):
            grow = len(self.table)
            self.table = np.vstack([self.table, np.full((grow, 256), UNFILLED, dtype=np.int32)])
            self.accepting = np.concatenate([self.accepting, np.zeros(grow, dtype=bool)])
        self._ids[subset] = state
        self._sets.append(subset)
        labels = frozenset(self.nfa.accepts[s] for s in subset if s in self.nfa.accepts)
        self.labels.append(labels)
        self.accepting[state] = bool(labels)
        return state

    def _fill(self, state: int) -> None:
        targets: list[set[int]] = [set() for _ in self._classes]
        for s in self._sets[state]:
            for (_, _, t), classes in zip(self.nfa.edges[s], self._edge_classes[s]):
                for k in classes:
                    targets[k].add(t)
        row = np.empty(256, dtype=np.int32)
        cache: dict[frozenset[int], int] = {}
        for (lo, hi), moved in zip(self._classes, targets):
            key = frozenset(moved)
            if key not in cache:
                cache[key] = self._intern(self._closure(moved)) if moved else DEAD
            row[lo:hi + 1] = cache[key]
        self.table[state] = row


def _coreachable(nfa: NFA) -> list[bool]:
    """Which NFA states can reach an accept state."""
    back: list[list[int]] = [[] for _ in range(nfa.size)]
    for s in range(nfa.size):
        for t in nfa.eps[s]:
            back[t].append(s)
        for _, _, t in nfa.edges[s]:
            back[t].append(s)
    live = [False] * nfa.size
    for s in nfa.accepts:
        live[s] = True
    stack = list(nfa.accepts)
    while stack:
        for s in back[stack.pop()]:
            if not live[s]:
                live[s] = True
                stack.append(s)
    return live


def _byte_classes(nfa: NFA) -> tuple[list[tuple[int, int]], list[list[list[int]]]]:
    """Split 0..255 into intervals no edge distinguishes, and list each edge's intervals."""
    cuts = {0, 256}
    for edges in nfa.edges:
        for lo, hi, _ in edges:
            cuts.add(lo)
            cuts.add(hi + 1)
    bounds = sorted(cuts)
    classes = [(bounds[k], bounds[k + 1] - 1) for k in range(len(bounds) - 1)]
    index = {lo: k for k, (lo, _) in enumerate(classes)}
    edge_classes = []
    for edges in nfa.edges:
        per_edge = []
        for lo, hi, _ in edges:
            k, ks = index[lo], []
            while k < len(classes) and classes[k][1] <= hi:
                ks.append(k)
                k += 1
            per_edge.append(ks)
        edge_classes.append(per_edge)
    return classes, edge_classes
