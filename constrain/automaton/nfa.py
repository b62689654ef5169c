"""Syntax tree -> byte-level NFA (Thompson construction).

Tokens are byte strings and a token may end in the middle of a UTF-8 character, so the automaton reads
bytes, not characters: every code point range becomes the UTF-8 byte-range sequences that encode it.
Sizes are estimated before anything is built, so `a{100000000}` is a `LimitError` at once instead of
an allocation that eats the machine.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import chain
from typing import NamedTuple

import numpy as np

from .. import deadline
from ..errors import LimitError
from .regex import Alt, Automaton, CharSet, Concat, Node, Repeat

ByteSeq = tuple[tuple[int, int], ...]  # one byte range per position

_UTF8_MAX = (0x7F, 0x7FF, 0xFFFF, 0x10FFFF)
LARGE_PIECE = 256  # states: a union flattens a piece this large once and keeps it (see `build_union`)


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
    way wherever the pattern appears; large patterns come first, see `build_union`), `pattern[s]`
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


@dataclass
class _Builder:
    """An automaton under construction: `eps[s]` are epsilon moves, `edges[s]` are (lo, hi, target)
    byte moves, each target written as its offset from s: a pattern pasted anywhere (the copies of
    a counted repetition) reuses its states' move tuples as they are, instead of renumbering each.

    A state's moves are tuples of ints, not lists: the garbage collector stops tracking those, where
    a lexer's hundred thousand lists made every full collection rescan them (a third of build time).
    """

    eps: list[tuple[int, ...]] = field(default_factory=list)
    edges: list[tuple[tuple[int, int, int], ...]] = field(default_factory=list)
    trimmed: bool = True  # False once a part may not reach the exit (an empty set, a DFA's dead state)
    counted: list[Counted] = field(default_factory=list)

    def add_state(self) -> int:
        self.eps.append(())
        self.edges.append(())
        return len(self.eps) - 1

    def link(self, s: int, t: int) -> None:
        """An epsilon move s -> t (states get at most two one by one; an alternation's are set at once)."""
        self.eps[s] += (t - s,)

    @property
    def size(self) -> int:
        return len(self.eps)


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
    """One NFA for several patterns; the exit of `nodes[k]` is labelled k. State 0 is the start,
    with an epsilon move to each pattern's entry; the large patterns follow it, then the small."""
    estimate = 1 + sum(estimate_states(node) for node in nodes)
    if estimate > max_states:
        raise LimitError(f"the pattern needs about {estimate} automaton states", "max_nfa_states",
                         max_states)
    pieces = []
    for node in nodes:
        deadline.check()  # a lexer over thousands of terminals (a large enum) takes seconds
        pieces.append(_piece(node))
    # layout: the start, the large pieces (each flattened once, kept with the cached piece), then
    # the small ones flattened together (a lexer has one per property name: per-piece arrays would
    # cost more than their moves)
    large = [k for k, p in enumerate(pieces) if len(p.eps) >= LARGE_PIECE]
    small = [k for k, p in enumerate(pieces) if len(p.eps) < LARGE_PIECE]
    firsts = [0] * len(pieces)
    n = 1
    for k in large + small:
        firsts[k] = n
        n += len(pieces[k].eps)
    entries = tuple(f + p.entry for f, p in zip(firsts, pieces))
    blocks = [_Moves(np.array([len(entries)]), np.array(entries, dtype=np.int32), np.zeros(1, dtype=np.int64),
                     np.zeros((0, 3), dtype=np.int32))]
    blocks += [pieces[k].moves for k in large] + [_flatten([pieces[k] for k in small])]
    eps_count, eps_d, edge_count, edges = (np.concatenate(column) for column in zip(*blocks))
    origin = np.arange(n, dtype=np.int32)
    spans = tuple((f, f + len(p.eps)) for f, p in zip(firsts, pieces))
    pattern = np.full(n, -1, dtype=np.int32)
    for k, (lo, hi) in enumerate(spans):
        pattern[lo:hi] = k
    exits = [f + p.exit for f, p in zip(firsts, pieces)]
    label = np.full(n, -1, dtype=np.int32)
    label[exits] = np.arange(len(pieces))
    keep = edge_count > 0
    keep[exits] = True
    keep[[f + s for f, p in zip(firsts, pieces) for s in p.dead]] = False
    return NFA(
        edge_ptr=np.concatenate([[0], np.cumsum(edge_count)]),
        edge_lo=edges[:, 0].copy(),
        edge_hi=edges[:, 1].copy(),
        edge_to=edges[:, 2] + np.repeat(origin, edge_count),
        eps_ptr=np.concatenate([[0], np.cumsum(eps_count)]),
        eps_to=eps_d + np.repeat(origin, eps_count),
        label=label,
        keep=keep,
        start=0,
        entries=entries,
        spans=spans,
        pattern=pattern,
        counted=tuple(c._replace(first=c.first + f) for f, p in zip(firsts, pieces) for c in p.counted),
    )


def _paste(nfa: _Builder, piece: "_Piece") -> tuple[int, int]:
    """Copy `piece` into `nfa` (its moves are relative: shared, not renumbered); return its (entry, exit) there."""
    first = nfa.size
    nfa.eps.extend(piece.eps)
    nfa.edges.extend(piece.edges)
    nfa.trimmed = nfa.trimmed and piece.trimmed
    nfa.counted.extend(c._replace(first=c.first + first) for c in piece.counted)
    return piece.entry + first, piece.exit + first


class _Moves(NamedTuple):
    """Consecutive states' moves as flat arrays, targets as offsets from their state: per state its
    number of epsilon moves, all the epsilon offsets, per state its number of byte moves, all the
    byte moves as (lo, hi, offset) rows."""

    eps_count: np.ndarray
    eps: np.ndarray
    edge_count: np.ndarray
    edges: np.ndarray


def _flatten(pieces: list["_Piece"]) -> _Moves:
    """The moves of `pieces` laid end to end."""
    eps_count, eps = _flat(tuple(chain.from_iterable(p.eps for p in pieces)), 1)
    edge_count, edges = _flat(tuple(chain.from_iterable(p.edges for p in pieces)), 3)
    return _Moves(eps_count, eps[:, 0], edge_count, edges)


def _flat(moves: tuple[tuple, ...], width: int) -> tuple[np.ndarray, np.ndarray]:
    """(how many moves each state has, all the moves in state order as rows of `width` ints) of
    per-state move tuples, each distinct tuple object read once: the copies of a counted repetition
    share their tuples, so a 255-character string reads one character's."""
    keys = np.fromiter(map(id, moves), dtype=np.uint64, count=len(moves))
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    distinct = [moves[i] for i in first.tolist()]
    sizes = np.fromiter(map(len, distinct), dtype=np.int64, count=len(distinct))
    items = chain.from_iterable(distinct)
    flat = np.fromiter(chain.from_iterable(items) if width > 1 else items, dtype=np.int32,
                       count=width * int(sizes.sum())).reshape(-1, width)
    counts = sizes[inverse]
    at, out = np.cumsum(sizes) - sizes, np.cumsum(counts) - counts  # where each state's rows are, will be
    return counts, flat[np.repeat(at[inverse] - out, counts) + np.arange(int(counts.sum()))]


@dataclass(frozen=True)
class _Piece:
    """One pattern's automaton with states from 0, ready to be copied into a repetition or a union."""

    eps: tuple[tuple[int, ...], ...]
    edges: tuple[tuple[tuple[int, int, int], ...], ...]
    entry: int
    exit: int
    dead: tuple[int, ...]  # the states that cannot reach the exit
    counted: tuple[Counted, ...]

    @property
    def trimmed(self) -> bool:
        return not self.dead

    @cached_property
    def moves(self) -> _Moves:
        """Flattened when a union first takes this piece as a large one, then kept with it."""
        return _flatten([self])


@lru_cache(maxsize=256)
def _piece(node: Node) -> _Piece:
    """Built once per pattern (cached): JSON schemas repeat the same string and number terminals."""
    nfa = _Builder()
    entry, exit_ = _fragment(nfa, node)
    # every Thompson state lies on a path to the exit unless an empty set or a dead DFA state cut it
    dead = () if nfa.trimmed else tuple(np.flatnonzero(~_coreachable(nfa.eps, nfa.edges, exit_)).tolist())
    return _Piece(tuple(nfa.eps), tuple(nfa.edges), entry, exit_, dead, tuple(nfa.counted))


def _coreachable(eps, edges, exit_: int) -> np.ndarray:
    """Which states can reach the exit."""
    back: list[list[int]] = [[] for _ in range(len(eps))]
    for s in range(len(eps)):
        for d in eps[s]:
            back[s + d].append(s)
        for _, _, d in edges[s]:
            back[s + d].append(s)
    live = np.zeros(len(eps), dtype=bool)
    live[exit_] = True
    stack = [exit_]
    while stack:
        for s in back[stack.pop()]:
            if not live[s]:
                live[s] = True
                stack.append(s)
    return live


@lru_cache(maxsize=4096)
def _charset_moves(node: CharSet) -> tuple[tuple[tuple[int, int, int], ...], ...]:
    """The byte moves of a character set's states, entry first and exit second: the same wherever
    it is placed (targets are relative), so built once per set (a JSON string repeats a few sets)."""
    moves: list[tuple[tuple[int, int, int], ...]] = [(), ()]
    first: list[tuple[int, int, int]] = []  # the entry's moves; every later state has one
    for lo, hi in node.ranges:
        for seq in utf8_sequences(lo, hi):
            state = 0
            for k, (blo, bhi) in enumerate(seq):
                nxt = 1 if k == len(seq) - 1 else len(moves)
                if nxt != 1:
                    moves.append(())
                if state:
                    moves[state] = ((blo, bhi, nxt - state),)
                else:
                    first.append((blo, bhi, nxt))
                state = nxt
    moves[0] = tuple(first)
    return tuple(moves)


def _fragment(nfa: _Builder, node: Node) -> tuple[int, int]:
    """Add `node` to `nfa`; return its (entry, exit) states."""
    if isinstance(node, CharSet):
        entry = nfa.size
        moves = _charset_moves(node)
        nfa.eps.extend([()] * len(moves))
        nfa.edges.extend(moves)
        nfa.trimmed = nfa.trimmed and bool(moves[0])  # no edge: a set of no characters
        return entry, entry + 1
    if isinstance(node, Concat):
        entry = exit_ = nfa.add_state()
        for item in node.items:
            if isinstance(item, CharSet) and len(item.ranges) == 1 and item.ranges[0][1] < 0x80:
                # one byte (a literal's character): a move from where the text is, not a fragment of
                # its own linked to it (a property name is half the states, and no call per character)
                lo, hi = item.ranges[0]
                b = nfa.add_state()
                nfa.edges[exit_] += ((lo, hi, b - exit_),)
            else:
                a, b = _fragment(nfa, item)
                nfa.link(exit_, a)
            exit_ = b
        return entry, exit_
    if isinstance(node, Alt):
        entry, exit_ = nfa.add_state(), nfa.add_state()
        branches = []
        for item in node.items:
            a, b = _fragment(nfa, item)
            branches.append(a - entry)
            nfa.link(b, exit_)
        nfa.eps[entry] = tuple(branches)
        return entry, exit_
    if isinstance(node, Automaton):  # one NFA state per DFA state, accepting ones lead to the exit
        nfa.trimmed = nfa.trimmed and node.trim
        base = nfa.size
        if node.levels is not None:
            nfa.counted.append(Counted(base, len(node.edges), node.levels))
        for s, row in enumerate(node.edges):
            nfa.eps.append(())
            nfa.edges.append(tuple([(lo, hi, t - s) for lo, hi, t in row]))
        exit_ = nfa.add_state()
        for s in node.accepting:
            nfa.link(base + s, exit_)
        return base + node.start, exit_
    return _repeat(nfa, node)


def _repeat(nfa: _Builder, node: Repeat) -> tuple[int, int]:
    """Copies of the item, pasted from one build of it (a 255-character string is 255 copies)."""
    item = _piece(node.item)
    entry = exit_ = nfa.add_state()
    for _ in range(node.min):
        a, b = _paste(nfa, item)
        nfa.link(exit_, a)
        exit_ = b
    if node.max is None:  # a loop: x*
        a, b = _paste(nfa, item)
        nfa.link(exit_, a)
        nfa.link(b, a)
        end = nfa.add_state()
        nfa.link(exit_, end)
        nfa.link(b, end)
        return entry, end
    end = nfa.add_state()  # optional copies, nested: (x(x(x)?)?)?
    for _ in range(node.max - node.min):
        nfa.link(exit_, end)
        a, b = _paste(nfa, item)
        nfa.link(exit_, a)
        exit_ = b
    nfa.link(exit_, end)
    return entry, end
