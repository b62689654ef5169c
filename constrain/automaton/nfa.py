"""Syntax tree -> byte-level NFA (Thompson construction).

Tokens are byte strings and a token may end in the middle of a UTF-8 character, so the automaton reads
bytes, not characters: every code point range becomes the UTF-8 byte-range sequences that encode it.
Sizes are estimated before anything is built, so `a{100000000}` is a `LimitError` at once instead of
an allocation that eats the machine.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import LimitError
from .regex import Alt, CharSet, Concat, Node, Repeat

ByteSeq = tuple[tuple[int, int], ...]  # one byte range per position

_UTF8_MAX = (0x7F, 0x7FF, 0xFFFF, 0x10FFFF)


def utf8_sequences(lo: int, hi: int) -> list[ByteSeq]:
    """The byte-range sequences whose concatenated matches are exactly the UTF-8 of lo..hi."""
    out: list[ByteSeq] = []
    if lo <= 0xD7FF:
        _split(lo, min(hi, 0xD7FF), out)
    if hi >= 0xE000:
        _split(max(lo, 0xE000), hi, out)
    return out


def _split(lo: int, hi: int, out: list[ByteSeq]) -> None:
    if lo > hi:
        return
    for top in _UTF8_MAX[:-1]:  # keep both ends the same encoded length
        if lo <= top < hi:
            _split(lo, top, out)
            _split(top + 1, hi, out)
            return
    n = len(chr(lo).encode("utf-8"))
    for i in range(1, n):  # make every continuation byte span its full range, or be fixed
        m = (1 << (6 * i)) - 1
        if lo & ~m != hi & ~m:
            if lo & m:
                _split(lo, lo | m, out)
                _split((lo | m) + 1, hi, out)
                return
            if hi & m != m:
                _split(lo, (hi & ~m) - 1, out)
                _split(hi & ~m, hi, out)
                return
    a, b = chr(lo).encode("utf-8"), chr(hi).encode("utf-8")
    out.append(tuple(zip(a, b)))


@dataclass
class NFA:
    """States are ints; `eps[s]` are epsilon moves, `edges[s]` are (lo, hi, target) byte moves.

    `accepts` maps each accepting state to its label: one label for a regex, one per terminal for a
    lexer, so the DFA can tell which terminals a byte string completes.
    """

    eps: list[list[int]] = field(default_factory=list)
    edges: list[list[tuple[int, int, int]]] = field(default_factory=list)
    start: int = 0
    accepts: dict[int, int] = field(default_factory=dict)

    def add_state(self) -> int:
        self.eps.append([])
        self.edges.append([])
        return len(self.eps) - 1

    @property
    def size(self) -> int:
        return len(self.eps)


def estimate_states(node: Node) -> int:
    """An upper bound on the states `build` creates, computed without building."""
    if isinstance(node, CharSet):
        return 2 + sum(len(seq) for lo, hi in node.ranges for seq in utf8_sequences(lo, hi))
    if isinstance(node, (Concat, Alt)):
        return 2 + sum(estimate_states(item) for item in node.items)
    copies = node.max if node.max is not None else node.min + 1
    return 2 + max(copies, 1) * estimate_states(node.item)


def build(node: Node, max_states: int) -> NFA:
    """Thompson-construct `node`; `LimitError` if it would exceed `max_states`."""
    return build_union([node], max_states)


def build_union(nodes: list[Node], max_states: int) -> NFA:
    """One NFA for several patterns; the accept state of `nodes[k]` is labelled k."""
    estimate = 1 + sum(estimate_states(node) for node in nodes)
    if estimate > max_states:
        raise LimitError(f"the pattern needs about {estimate} automaton states", "max_nfa_states",
                         max_states)
    nfa = NFA()
    nfa.start = nfa.add_state()
    for label, node in enumerate(nodes):
        entry, exit_ = _fragment(nfa, node)
        nfa.eps[nfa.start].append(entry)
        nfa.accepts[exit_] = label
    return nfa


def _fragment(nfa: NFA, node: Node) -> tuple[int, int]:
    """Add `node` to `nfa`; return its (entry, exit) states."""
    if isinstance(node, CharSet):
        entry, exit_ = nfa.add_state(), nfa.add_state()
        for lo, hi in node.ranges:
            for seq in utf8_sequences(lo, hi):
                state = entry
                for k, (blo, bhi) in enumerate(seq):
                    nxt = exit_ if k == len(seq) - 1 else nfa.add_state()
                    nfa.edges[state].append((blo, bhi, nxt))
                    state = nxt
        return entry, exit_
    if isinstance(node, Concat):
        entry = exit_ = nfa.add_state()
        for item in node.items:
            a, b = _fragment(nfa, item)
            nfa.eps[exit_].append(a)
            exit_ = b
        return entry, exit_
    if isinstance(node, Alt):
        entry, exit_ = nfa.add_state(), nfa.add_state()
        for item in node.items:
            a, b = _fragment(nfa, item)
            nfa.eps[entry].append(a)
            nfa.eps[b].append(exit_)
        return entry, exit_
    return _repeat(nfa, node)


def _repeat(nfa: NFA, node: Repeat) -> tuple[int, int]:
    entry = exit_ = nfa.add_state()
    for _ in range(node.min):
        a, b = _fragment(nfa, node.item)
        nfa.eps[exit_].append(a)
        exit_ = b
    if node.max is None:  # a loop: x*
        a, b = _fragment(nfa, node.item)
        nfa.eps[exit_].append(a)
        nfa.eps[b].append(a)
        end = nfa.add_state()
        nfa.eps[exit_].append(end)
        nfa.eps[b].append(end)
        return entry, end
    end = nfa.add_state()  # optional copies, nested: (x(x(x)?)?)?
    for _ in range(node.max - node.min):
        nfa.eps[exit_].append(end)
        a, b = _fragment(nfa, node.item)
        nfa.eps[exit_].append(a)
        exit_ = b
    nfa.eps[exit_].append(end)
    return entry, end
