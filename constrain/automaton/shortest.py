"""Shortest strings from a DFA state to each label (pattern, terminal) it can reach.

The token budget (`constrain.budget`) needs, from any point of an output, a shortest way to finish
it. Where several bytes are equally short, a readable one is chosen (`PREFERENCE`: lower-case letters,
digits, upper-case letters, other printable ASCII, then the rest), which also keeps the bytes to
those every real vocabulary has as single tokens.
"""
from __future__ import annotations

import numpy as np

from .dfa import DEAD, DFA

_PRINTABLE = bytes(range(0x20, 0x7F))
_FIRST = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
PREFERENCE = np.frombuffer(_FIRST + bytes(b for b in _PRINTABLE if b not in _FIRST)
                           + bytes(b for b in range(256) if b not in _PRINTABLE), dtype=np.uint8)


class SuffixSearch:
    """Breadth-first search from one DFA state for the shortest bytes to each label, run one layer
    at a time on demand: callers want the cheapest label once a cost per label is added, so they stop
    as soon as the next layer cannot beat what they have (`depth` bytes searched so far).
    """

    def __init__(self, dfa: DFA, state: int):
        self.dfa = dfa
        self.start = state
        self.depth = 0
        self.found: list[tuple[int, int]] = [(label, state) for label in sorted(dfa.labels(state))]
        self._back: dict[int, tuple[int, int]] = {state: (DEAD, 0)}  # state -> (previous, byte)
        self._frontier = [state]
        self._labels = set(dfa.labels(state))

    @property
    def done(self) -> bool:
        return not self._frontier

    def extend(self) -> None:
        """Search one more byte deep; labels first reached there are appended to `found`."""
        dfa = self.dfa
        dfa.ensure_rows(np.array(self._frontier, dtype=np.int32))
        rows = dfa.table[self._frontier][:, PREFERENCE]
        layer = []
        for s, row in zip(self._frontier, rows):
            targets, first = np.unique(row, return_index=True)  # the preferred byte to each target
            for t, k in zip(targets.tolist(), first.tolist()):
                if t != DEAD and t not in self._back:
                    self._back[t] = (s, int(PREFERENCE[k]))
                    layer.append(t)
                    for label in sorted(dfa.labels(t) - self._labels):
                        self._labels.add(label)
                        self.found.append((label, t))
        self._frontier = layer
        self.depth += 1

    def spell(self, state: int) -> bytes:
        """The shortest bytes from the start to a `state` the search reached."""
        out = bytearray()
        while state != self.start:
            state, byte = self._back[state]
            out.append(byte)
        return bytes(reversed(out))

    def cheapest(self, rest) -> bytes | None:
        """Shortest (bytes to a label) + rest(label) over the labels where `rest` is not None: the
        search goes only as deep as a cheaper label could still be."""
        best: bytes | None = None
        seen = 0
        while True:
            for label, end in self.found[seen:]:
                tail = rest(label)
                if tail is not None:
                    head = self.spell(end)
                    if best is None or len(head) + len(tail) < len(best):
                        best = head + tail
            seen = len(self.found)
            if self.done or (best is not None and self.depth + 1 >= len(best)):
                return best
            self.extend()
