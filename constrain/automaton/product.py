"""Intersection of byte automata, optionally with a counted repetition of a unit, as an `Automaton` node.

A JSON string with `pattern`, `format` and length bounds is the intersection of three languages over
its spelling, and a length of a few thousand characters is too big to unroll as a tree (each
character has a dozen spellings: raw UTF-8, escapes, surrogate pairs). The product is built here, by
breadth-first search over tuples of lazily determinised component states, and counting units
(characters) is one more component: an integer, not a copy of the unit automaton per count.

The unit must be a prefix code (no spelling of a unit is a proper prefix of another), so the places
where a unit ends are unambiguous and the count is a function of the bytes read.
"""
from __future__ import annotations

import numpy as np

from ..errors import LimitError
from . import nfa
from .dfa import DEAD, DFA
from .regex import Automaton, CharSet, Node

NOTHING = CharSet(())


def intersect(nodes: list[Node], *, unit: Node | None = None, count: tuple[int, int | None] = (0, None),
              max_states: int = 100_000) -> Node:
    """The byte strings every node matches that are, if `unit` is given, `count[0]` to `count[1]`
    (None: no upper bound) units in a row. `NOTHING` if there are none; `LimitError` past `max_states`."""
    parts = [minimal_dfa(node, max_states) for node in nodes + ([unit] if unit is not None else [])]
    if not parts:
        raise ValueError("intersect needs at least one node or a unit")
    lo, hi = count
    counted = unit is not None
    k = len(nodes)
    if counted and not nodes:
        return _repeat_units(parts[0], lo, hi, max_states)
    if counted and (parts[k][1][parts[k][2]] or any(
            parts[k][0][s].any() for s in np.flatnonzero(parts[k][1]))):
        raise ValueError("the unit must be a non-empty prefix code")
    moves_of: dict[tuple, list] = {}

    def moves(comps: tuple) -> list:
        """(first byte, last byte, next component states, a unit ended) for the live byte ranges."""
        out = moves_of.get(comps)
        if out is None:
            rows = np.stack([table[s] for (table, _, _), s in zip(parts, comps)])
            cuts = [0] + (np.flatnonzero(np.any(rows[:, 1:] != rows[:, :-1], axis=0)) + 1).tolist() + [256]
            out = []
            for j, targets in enumerate(rows[:, cuts[:-1]].T.tolist()):
                if DEAD in targets:
                    continue
                ended = counted and bool(parts[k][1][targets[k]])
                if ended:
                    targets[k] = parts[k][2]
                out.append((cuts[j], cuts[j + 1] - 1, tuple(targets), ended))
            moves_of[comps] = out
        return out

    start = (tuple(p[2] for p in parts), 0)
    ids = {start: 0}
    keys = [start]
    edges: list[list[tuple[int, int, int]]] = []
    for comps, c in keys:  # grows while we iterate: breadth-first
        row: list[tuple[int, int, int]] = []
        for a, b, nxt, ended in moves(comps):
            c2 = c + 1 if ended else c
            if hi is not None and c2 > hi:
                continue
            if hi is None:
                c2 = min(c2, lo)
            t = ids.get((nxt, c2))
            if t is None:
                if len(keys) >= max_states:
                    raise LimitError("the intersection has too many states", "max_product_states", max_states)
                t = ids[(nxt, c2)] = len(keys)
                keys.append((nxt, c2))
            if row and row[-1][2] == t and row[-1][1] + 1 == a:
                row[-1] = (row[-1][0], b, t)
            else:
                row.append((a, b, t))
        edges.append(row)
    accepting = [all(p[1][s] for p, s in zip(parts[:k], comps)) and
                 (not counted or (comps[k] == parts[k][2] and c >= lo)) for comps, c in keys]
    return _trim(edges, accepting)


def _repeat_units(unit: tuple, lo: int, hi: int | None, max_states: int) -> Node:
    """`unit{lo,hi}` laid out level by level (level = units read so far) without a product search."""
    table, accepting, start = unit
    mids = [start] + [s for s in range(1, len(table)) if s != start and not accepting[s]]
    index = {s: i for i, s in enumerate(mids)}
    moves = []  # per unit state: (first byte, last byte, next unit state, a unit ended)
    for s in mids:
        row = table[s]
        cuts = [0] + (np.flatnonzero(row[1:] != row[:-1]) + 1).tolist() + [256]
        moves.append([(a, b - 1, 0 if accepting[t] else index[t], int(accepting[t]))
                      for a, b, t in zip(cuts[:-1], cuts[1:], row[cuts[:-1]].tolist()) if t != DEAD])
    if accepting[start] or any(table[s].any() for s in np.flatnonzero(accepting)):
        raise ValueError("the unit must be a non-empty prefix code")
    top = lo if hi is None else hi
    n = len(mids)
    if top * n + 1 > max_states:
        raise LimitError("the counted repetition has too many states", "max_product_states", max_states)
    edges = []
    for c in range(top + 1):
        for i, row in enumerate(moves):
            if c == top and i and hi is not None:
                break  # a character begun at the last level could never end
            out: list[tuple[int, int, int]] = []
            for a, b, j, ended in row:
                c2 = c + ended
                if hi is not None and (c2 > top or (c2 == top and j)):
                    continue
                c2 = min(c2, top)
                t = c2 * n + j
                if out and out[-1][2] == t and out[-1][1] + 1 == a:
                    out[-1] = (out[-1][0], b, t)
                else:
                    out.append((a, b, t))
            edges.append(tuple(out))
    return Automaton(0, tuple(edges), frozenset(c * n for c in range(lo, top + 1)), levels=(n, lo, hi))


def minimal_dfa(node: Node, max_states: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(transition table with dead state 0, accepting flags, start) of the minimal DFA of `node`;
    its states are numbered by the lowest subset-construction state each one merges."""
    d = DFA(nfa.build(node, max_states), max_states)
    d.build_all()
    n = d.num_states
    table, accepting = d.table[:n], d.accepting[:n]
    cls = _equivalence(table, accepting)
    count = int(cls.max()) + 1
    small = np.zeros((count, 256), dtype=np.int32)
    small_acc = np.zeros(count, dtype=bool)
    small[cls] = cls[table]
    small_acc[cls] = accepting
    return small, small_acc, int(cls[d.start])


def _equivalence(table: np.ndarray, accepting: np.ndarray) -> np.ndarray:
    """The class of each state under language equivalence, by Hopcroft's partition refinement:
    O(k n log n) for k byte classes, where Moore's rounds are one per state on a counted chain (a
    string of maxLength 300 took seconds). Classes are numbered by their first state (DEAD's is 0)."""
    n = len(table)
    preds = []  # per letter: the states moving into t are by_target[first[t]:first[t + 1]]
    for col in _letters(table):
        by_target = np.argsort(col, kind="stable")
        first = np.searchsorted(col[by_target], np.arange(n + 1))
        preds.append((by_target.tolist(), first.tolist()))
    block_of = accepting.astype(np.int64).tolist()
    blocks = [{s for s in range(n) if not block_of[s]}, {s for s in range(n) if block_of[s]}]
    if not blocks[1] or not blocks[0]:
        return np.zeros(n, dtype=np.int64)
    work = [0 if len(blocks[0]) <= len(blocks[1]) else 1]
    while work:
        splitter = list(blocks[work.pop()])
        for by_target, first in preds:
            touched: dict[int, list[int]] = {}
            for t in splitter:
                for s in by_target[first[t]:first[t + 1]]:
                    touched.setdefault(block_of[s], []).append(s)
            for b, inside in touched.items():
                whole = blocks[b]
                if len(inside) == len(whole):
                    continue
                # the new block is the smaller half, and always a splitter: if `b` waits in `work`,
                # both halves must; if not, the smaller one suffices (Hopcroft's log n)
                if 2 * len(inside) <= len(whole):
                    part = set(inside)
                    whole -= part
                else:
                    part = whole - set(inside)
                    blocks[b] = set(inside)
                for s in part:
                    block_of[s] = len(blocks)
                blocks.append(part)
                work.append(len(blocks) - 1)
    cls = np.array(block_of)
    lowest = np.full(len(blocks), n)
    np.minimum.at(lowest, cls, np.arange(n))
    rank = np.empty(len(blocks), dtype=np.int64)
    rank[np.argsort(lowest)] = np.arange(len(blocks))
    return rank[cls]


def _letters(table: np.ndarray) -> list[np.ndarray]:
    """One column of `table` per byte class: bytes that no state tells apart are one letter. Runs of
    equal neighbouring columns go first (cheap), then repeats by content."""
    runs = np.flatnonzero(np.any(table[:, 1:] != table[:, :-1], axis=0)) + 1
    columns = np.ascontiguousarray(table[:, np.concatenate([[0], runs])].T)
    return list({col.tobytes(): col for col in columns}.values())


def compact(node: Node, max_states: int = 100_000) -> Node:
    """`node` as its minimal DFA: fewer states than a large tree's NFA, and deterministic."""
    table, accepting, start = minimal_dfa(node, max_states)
    if start == DEAD:
        return NOTHING
    edges = []
    for row in table[1:]:
        cuts = [0] + (np.flatnonzero(row[1:] != row[:-1]) + 1).tolist() + [256]
        edges.append(tuple((a, b - 1, t - 1) for a, b, t in zip(cuts[:-1], cuts[1:], row[cuts[:-1]].tolist())
                           if t != DEAD))
    return Automaton(start - 1, tuple(edges), frozenset(int(s) - 1 for s in np.flatnonzero(accepting)))


def _trim(edges: list[list[tuple[int, int, int]]], accepting: list[bool]) -> Node:
    """Drop the states that cannot reach an accepting one; renumber the rest (start stays 0)."""
    back: list[list[int]] = [[] for _ in edges]
    for s, row in enumerate(edges):
        for _, _, t in row:
            back[t].append(s)
    live = [False] * len(edges)
    stack = [s for s, acc in enumerate(accepting) if acc]
    for s in stack:
        live[s] = True
    while stack:
        for s in back[stack.pop()]:
            if not live[s]:
                live[s] = True
                stack.append(s)
    if not live[0]:
        return NOTHING
    new = {}
    for s in range(len(edges)):
        if live[s]:
            new[s] = len(new)
    table = tuple(tuple((a, b, new[t]) for a, b, t in edges[s] if live[t]) for s in new)
    return Automaton(0, table, frozenset(new[s] for s in new if accepting[s]))
