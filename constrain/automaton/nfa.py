"""Syntax tree -> byte-level NFA (Thompson construction).

Tokens are byte strings and a token may end in the middle of a UTF-8 character, so the automaton reads
bytes, not characters: every code point range becomes the UTF-8 byte-range sequences that encode it.
Sizes are estimated before anything is built, so `a{100000000}` is a `LimitError` at once instead of
an allocation that eats the machine.
"""
from __future__ import annotations

from array import array
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import NamedTuple

import numpy as np

from .. import deadline
from ..errors import LimitError
from .regex import Alt, Automaton, CharSet, Concat, Node, Repeat

ByteSeq = tuple[tuple[int, int], ...]  # one byte range per position

_UTF8_MAX = (0x7F, 0x7FF, 0xFFFF, 0x10FFFF)
CACHED_PIECE = 256  # estimated states: a union pastes a pattern this large from the cache of `_piece`


@lru_cache(maxsize=65536)
def utf8_sequences(lo: int, hi: int) -> tuple[ByteSeq, ...]:
    """The byte-range sequences whose concatenated matches are exactly the UTF-8 of lo..hi
    (cached: JSON string classes repeat the same few ranges in every schema)."""
    out: list[ByteSeq] = []
    if lo <= 0xD7FF:
        _split(lo, min(hi, 0xD7FF), out)
    if hi >= 0xE000:
        _split(max(lo, 0xE000), hi, out)
    return tuple(out)


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


class Counted(NamedTuple):
    """A counted repetition's states in an NFA: `size` states from `first`, laid out by `levels`
    (n, lo, hi) as `Automaton.levels` says."""

    first: int
    size: int
    levels: tuple[int, int, int | None]


@dataclass(frozen=True)
class NFA:
    """A union of patterns as the flat arrays the DFA kernels read (CSR): state s's byte moves are
    `edge_lo/edge_hi/edge_to[edge_ptr[s]:edge_ptr[s + 1]]` and its epsilon moves
    `eps_to[eps_ptr[s]:eps_ptr[s + 1]]`, targets absolute.

    `label[s]` is k at the exit of pattern k (-1 elsewhere), so the DFA can tell which terminals of a
    lexer a byte string completes; `keep[s]` says s belongs in a DFA subset (it reads a byte or
    accepts, and can still accept). `entries[k]` is where pattern k starts, so a DFA can start from
    any subset of the patterns; `spans[k]` is the range of states pattern k owns (built the same
    way wherever the pattern appears, see `build_union`), `pattern[s]`
    the pattern owning state s (-1: the start, which no DFA subset holds). `counted` says where the
    counted repetitions laid out by level lie (`Automaton.levels`), for `DFA.inside`.
    """

    edge_ptr: np.ndarray
    edge_lo: np.ndarray
    edge_hi: np.ndarray
    edge_to: np.ndarray
    eps_ptr: np.ndarray
    eps_to: np.ndarray
    label: np.ndarray
    keep: np.ndarray
    start: int
    entries: tuple[int, ...]
    spans: tuple[tuple[int, int], ...]
    pattern: np.ndarray
    counted: tuple["Counted", ...] = ()

    @property
    def size(self) -> int:
        return len(self.label)


class _Builder:
    """An automaton under construction. Moves are rows of ints in flat `array`s, states numbered from
    0: a state is no Python object (nothing for the garbage collector to scan, which it did for every
    per-state tuple a lexer kept). A piece pasted in (a repetition's copies, a character set, a cached
    pattern) is recorded as the first states of its copies, and its rows are shifted there with numpy
    when the moves are read (`rows`): a 255-character string costs one array operation, not 255 copies."""

    def __init__(self) -> None:
        self.size = 0
        self.eps = array("i")  # (from, to) pairs
        self.edges = array("i")  # (from, lo byte, hi byte, to) quads
        self.pasted: dict[int, tuple[_Piece, list[int]]] = {}  # by id: a piece and its copies' first states
        self.trimmed = True  # False once a part may not reach the exit (a set or an automaton matching nothing)
        self.counted: list[Counted] = []

    def add_state(self) -> int:
        self.size += 1
        return self.size - 1

    def link(self, s: int, t: int) -> None:
        self.eps.append(s)
        self.eps.append(t)

    def edge(self, s: int, lo: int, hi: int, t: int) -> None:
        self.edges.extend((s, lo, hi, t))

    def paste(self, piece: "_Piece") -> tuple[int, int]:
        """A copy of `piece` from the next state; its (entry, exit) here."""
        first = self.size
        self.size += piece.size
        self.pasted.setdefault(id(piece), (piece, []))[1].append(first)
        # the piece's dead states stay dead here; only a piece that matches nothing makes states
        # here dead too (the parts leading to it)
        self.trimmed = self.trimmed and not piece.empty
        if piece.counted:
            self.counted.extend(c._replace(first=c.first + first) for c in piece.counted)
        return piece.entry + first, piece.exit + first

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(epsilon moves as (from, to) rows, byte moves as (from, lo, hi, to) rows), each in state order."""
        eps = [np.frombuffer(self.eps, dtype=np.intc).reshape(-1, 2)]
        edges = [np.frombuffer(self.edges, dtype=np.intc).reshape(-1, 4)]
        for piece, firsts in self.pasted.values():
            f = np.array(firsts, dtype=np.int32)[:, None, None]
            eps.append((piece.eps + f).reshape(-1, 2))
            edges.append((piece.edges + f * _FROM_TO).reshape(-1, 4))
        eps_rows = np.concatenate(eps, dtype=np.int32)
        edge_rows = np.concatenate(edges, dtype=np.int32)
        return (eps_rows[np.argsort(eps_rows[:, 0], kind="stable")],
                edge_rows[np.argsort(edge_rows[:, 0], kind="stable")])

    def dead(self, eps: np.ndarray, edges: np.ndarray, exits: list[int]) -> np.ndarray:
        """The states that cannot reach an exit (`eps`, `edges`: `rows()`): those of the pasted pieces,
        unless a part matching nothing makes others dead too (then all are found again)."""
        if not self.trimmed:
            return np.flatnonzero(~_coreachable(self.size, eps, edges, exits))
        dead = [(piece.dead + np.array(firsts)[:, None]).ravel() for piece, firsts in self.pasted.values()
                if piece.dead.size]
        return np.concatenate(dead) if dead else _NONE

    def piece(self, entry: int, exit_: int) -> "_Piece":
        eps, edges = self.rows()
        return _Piece(self.size, eps, edges, entry, exit_, self.dead(eps, edges, [exit_]), tuple(self.counted))


_FROM_TO = np.array([1, 0, 0, 1], dtype=np.int32)  # a byte move's columns that name states
_NONE = np.zeros(0, dtype=np.int64)


@lru_cache(maxsize=4096)
def estimate_states(node: Node) -> int:
    """An upper bound on the states `build` creates, computed without building."""
    if isinstance(node, CharSet):
        return 2 + sum(len(seq) for lo, hi in node.ranges for seq in utf8_sequences(lo, hi))
    if isinstance(node, (Concat, Alt)):
        return 2 + sum(estimate_states(item) for item in node.items)
    if isinstance(node, Automaton):
        return len(node.edges) + 1
    copies = node.max if node.max is not None else node.min + 1
    return 2 + max(copies, 1) * estimate_states(node.item)


def build(node: Node, max_states: int) -> NFA:
    """Thompson-construct `node`; `LimitError` if it would exceed `max_states`."""
    return build_union([node], max_states)


def build_union(nodes: list[Node], max_states: int) -> NFA:
    """One NFA for several patterns; the exit of `nodes[k]` is labelled k. State 0 is the start, with
    an epsilon move to each pattern's entry; the patterns follow in order, each laid out the same way
    wherever it is (a large one is built once and pasted from the cache of `_piece`)."""
    estimates = [estimate_states(node) for node in nodes]
    if 1 + sum(estimates) > max_states:
        raise LimitError(f"the pattern needs about {1 + sum(estimates)} automaton states", "max_nfa_states",
                         max_states)
    b = _Builder()
    b.add_state()
    entries, exits, spans = [], [], []
    for node, estimate in zip(nodes, estimates):
        deadline.check()  # a lexer over thousands of terminals (a large enum) takes seconds
        first = b.size
        entry, exit_ = b.paste(_piece(node)) if estimate >= CACHED_PIECE else _fragment(b, node)
        entries.append(entry)
        exits.append(exit_)
        spans.append((first, b.size))
    for entry in entries:
        b.link(0, entry)
    eps, edges = b.rows()
    n = b.size
    pattern = np.full(n, -1, dtype=np.int32)
    for k, (lo, hi) in enumerate(spans):
        pattern[lo:hi] = k
    label = np.full(n, -1, dtype=np.int32)
    label[exits] = np.arange(len(nodes))
    edge_ptr = np.searchsorted(edges[:, 0], np.arange(n + 1)).astype(np.int64)
    keep = edge_ptr[1:] > edge_ptr[:-1]
    keep[exits] = True
    keep[b.dead(eps, edges, exits)] = False
    return NFA(
        edge_ptr=edge_ptr,
        edge_lo=edges[:, 1].copy(),
        edge_hi=edges[:, 2].copy(),
        edge_to=edges[:, 3].copy(),
        eps_ptr=np.searchsorted(eps[:, 0], np.arange(n + 1)).astype(np.int64),
        eps_to=eps[:, 1].copy(),
        label=label,
        keep=keep,
        start=0,
        entries=tuple(entries),
        spans=tuple(spans),
        pattern=pattern,
        counted=tuple(b.counted),
    )


@dataclass(frozen=True, eq=False)
class _Piece:
    """One pattern's automaton with states from 0, ready to be pasted into a repetition or a union:
    its moves as `_Builder.rows` gives them."""

    size: int
    eps: np.ndarray
    edges: np.ndarray
    entry: int
    exit: int
    dead: np.ndarray  # the states that cannot reach the exit
    counted: tuple[Counted, ...]

    @property
    def empty(self) -> bool:
        """Matches nothing: its entry is dead."""
        return bool(self.dead.size) and self.entry in self.dead.tolist()


@lru_cache(maxsize=256)
def _piece(node: Node) -> _Piece:
    """Built once per pattern (cached): JSON schemas repeat the same string and number terminals."""
    if isinstance(node, Automaton):
        return _automaton_piece(node)
    if isinstance(node, CharSet):
        return _charset_piece(node)
    b = _Builder()
    return b.piece(*_fragment(b, node))


def _coreachable(size: int, eps: np.ndarray, edges: np.ndarray, exits: list[int]) -> np.ndarray:
    """Which states can reach one of `exits`."""
    src = np.concatenate([eps[:, 0], edges[:, 0]])
    dst = np.concatenate([eps[:, 1], edges[:, 3]])
    order = np.argsort(dst, kind="stable")
    back, ptr = src[order].tolist(), np.searchsorted(dst[order], np.arange(size + 1)).tolist()
    live = np.zeros(size, dtype=bool)
    live[exits] = True
    stack = list(exits)
    while stack:
        t = stack.pop()
        for s in back[ptr[t]:ptr[t + 1]]:
            if not live[s]:
                live[s] = True
                stack.append(s)
    return live


@lru_cache(maxsize=4096)
def _charset_piece(node: CharSet) -> _Piece:
    """A character set's states, entry 0 and exit 1: one path of byte ranges per UTF-8 sequence
    (cached: a JSON string repeats a few sets)."""
    b = _Builder()
    entry, exit_ = b.add_state(), b.add_state()
    for lo, hi in node.ranges:
        for seq in utf8_sequences(lo, hi):
            state = entry
            for k, (blo, bhi) in enumerate(seq):
                nxt = exit_ if k == len(seq) - 1 else b.add_state()
                b.edge(state, blo, bhi, nxt)
                state = nxt
    b.trimmed = bool(node.ranges)  # no edge: a set of no characters
    return b.piece(entry, exit_)


def _automaton_piece(node: Automaton) -> _Piece:
    """One state per DFA state, then an exit that the accepting ones lead to."""
    n = len(node.edges)
    counts = np.fromiter(map(len, node.edges), dtype=np.int64, count=n)
    moves = np.fromiter(chain.from_iterable(chain.from_iterable(node.edges)), dtype=np.int32,
                        count=3 * int(counts.sum())).reshape(-1, 3)
    edges = np.column_stack([np.repeat(np.arange(n, dtype=np.int32), counts), moves])
    accepting = np.array(sorted(node.accepting), dtype=np.int32)
    eps = np.column_stack([accepting, np.full(accepting.size, n, dtype=np.int32)])
    live = np.ones(n + 1, dtype=bool) if node.trim else _coreachable(n + 1, eps, edges, [n])
    counted = (Counted(0, n, node.levels),) if node.levels is not None else ()
    return _Piece(n + 1, eps, edges, node.start, n, np.flatnonzero(~live), counted)


def _fragment(b: _Builder, node: Node) -> tuple[int, int]:
    """Add `node` to `b`; return its (entry, exit) states."""
    if isinstance(node, CharSet):
        if _one_byte(node):
            entry, exit_ = b.add_state(), b.add_state()
            b.edge(entry, *node.ranges[0], exit_)
            return entry, exit_
        return b.paste(_charset_piece(node))
    if isinstance(node, Concat):
        entry = exit_ = b.add_state()
        for item in node.items:
            if isinstance(item, CharSet) and _one_byte(item):
                # a literal's character: a move from where the text is, not a fragment of its own
                # linked to it (a property name is half the states)
                nxt = b.add_state()
                b.edge(exit_, *item.ranges[0], nxt)
            else:
                a, nxt = _fragment(b, item)
                b.link(exit_, a)
            exit_ = nxt
        return entry, exit_
    if isinstance(node, Alt):
        entry, exit_ = b.add_state(), b.add_state()
        for item in node.items:
            a, z = _fragment(b, item)
            b.link(entry, a)
            b.link(z, exit_)
        return entry, exit_
    if isinstance(node, Automaton):
        return b.paste(_piece(node))
    return _repeat(b, node)


def _one_byte(node: CharSet) -> bool:
    """One range of one-byte characters: a single byte move, no piece to paste."""
    return len(node.ranges) == 1 and node.ranges[0][1] < 0x80


def _repeat(b: _Builder, node: Repeat) -> tuple[int, int]:
    """Copies of the item, pasted from one build of it (a 255-character string is 255 copies)."""
    item = _piece(node.item)
    entry = exit_ = b.add_state()
    for _ in range(node.min):
        a, z = b.paste(item)
        b.link(exit_, a)
        exit_ = z
    if node.max is None:  # a loop: x*
        a, z = b.paste(item)
        b.link(exit_, a)
        b.link(z, a)
        end = b.add_state()
        b.link(exit_, end)
        b.link(z, end)
        return entry, end
    end = b.add_state()  # optional copies, nested: (x(x(x)?)?)?
    for _ in range(node.max - node.min):
        b.link(exit_, end)
        a, z = b.paste(item)
        b.link(exit_, a)
        exit_ = z
    b.link(exit_, end)
    return entry, end
