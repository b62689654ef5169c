"""The compiled row construction (`automaton.kernels`) against a plain per-byte subset construction."""
import random

import numpy as np
import pytest

from constrain.automaton import nfa, regex
from constrain.automaton.dfa import DEAD, DFA, RESERVED_ROWS
from constrain.errors import LimitError

PIECES = ["a", "b", "[a-c]", "é", r"[^\s\S]b", "[^a]", "(a|ab)", "x?", "y*", "(ab)+", "[\u00e0-\u00ff日]", ".",
          "(|c)", "z{2,3}"]


def random_pattern(rng: random.Random, depth: int = 0) -> str:
    if depth > 2 or rng.random() < 0.3:
        return rng.choice(PIECES)
    parts = [random_pattern(rng, depth + 1) for _ in range(rng.randint(1, 3))]
    pattern = ("|" if rng.random() < 0.4 else "").join(parts)
    return f"({pattern}){rng.choice(['', '*', '+', '?', '{1,3}'])}"


def reference_closure(automaton: nfa.NFA, states) -> frozenset[int]:
    seen, stack = set(states), list(states)
    while stack:
        s = stack.pop()
        for t in automaton.eps_to[automaton.eps_ptr[s]:automaton.eps_ptr[s + 1]].tolist():
            if t not in seen:
                seen.add(t)
                stack.append(t)
    return frozenset(s for s in seen if automaton.keep[s])


def reference_keep(automaton: nfa.NFA) -> list[bool]:
    """Reads a byte or accepts, and can reach an accepting state (searched backwards)."""
    back: dict[int, list[int]] = {}
    for s in range(automaton.size):
        for j in range(automaton.eps_ptr[s], automaton.eps_ptr[s + 1]):
            back.setdefault(int(automaton.eps_to[j]), []).append(s)
        for j in range(automaton.edge_ptr[s], automaton.edge_ptr[s + 1]):
            back.setdefault(int(automaton.edge_to[j]), []).append(s)
    live = set(np.flatnonzero(automaton.label >= 0).tolist())
    stack = list(live)
    while stack:
        for s in back.get(stack.pop(), []):
            if s not in live:
                live.add(s)
                stack.append(s)
    return [s in live and (automaton.edge_ptr[s + 1] > automaton.edge_ptr[s] or automaton.label[s] >= 0)
            for s in range(automaton.size)]


def subset(dfa: DFA, state: int) -> frozenset[int]:
    return frozenset(dfa.subset(state).tolist())


def assert_rows_match_reference(dfa: DFA, states=None) -> None:
    automaton = dfa.nfa
    assert automaton.keep.tolist() == reference_keep(automaton)
    for state in range(dfa.num_states) if states is None else states:
        assert dfa.table[state, 0] != -1
        assert dfa.labels(state) == {int(automaton.label[s]) for s in subset(dfa, state) if automaton.label[s] >= 0}
        assert bool(dfa.accepting[state]) == bool(dfa.labels(state))
        patterns = {int(automaton.pattern[s]) for s in subset(dfa, state)}
        assert dfa.owner(state) == (patterns.pop() if len(patterns) == 1 else None)
        live = np.count_nonzero(dfa.table[state])  # one way on, as the owner code says (`DFA.forced`)
        assert dfa.owners[state] < 0 or bool(dfa.owners[state] & 1) == (live == 0 or (live == 1 and not dfa.accepting[state]))
        for byte in range(256):
            targets = [int(automaton.edge_to[j]) for s in subset(dfa, state)
                       for j in range(automaton.edge_ptr[s], automaton.edge_ptr[s + 1])
                       if automaton.edge_lo[j] <= byte <= automaton.edge_hi[j]]
            assert subset(dfa, int(dfa.table[state, byte])) == reference_closure(automaton, targets)


@pytest.mark.parametrize("seed", range(40))
def test_rows_match_a_plain_subset_construction(seed):
    rng = random.Random(seed)
    patterns = [regex.parse(random_pattern(rng)) for _ in range(rng.randint(1, 4))]
    dfa = DFA(nfa.build_union(patterns, 100_000), 100_000)
    starts = [dfa.start_for(sorted(rng.sample(range(len(patterns)), rng.randint(1, len(patterns)))))
              for _ in range(3)]
    dfa.build_all()
    while (dfa.table[:dfa.num_states, 0] == -1).any():  # what only the other starts reach
        dfa.ensure_rows(np.arange(dfa.num_states))
    assert subset(dfa, DEAD) == frozenset() and (dfa.table[DEAD] == DEAD).all()
    assert len({subset(dfa, s) for s in range(dfa.num_states) if s not in starts}) == dfa.num_states - len(set(starts))
    assert_rows_match_reference(dfa)


def test_a_start_state_is_its_own_state():
    dfa = DFA(nfa.build_union([regex.parse("(ab)*")], 1000), 1000)
    start = dfa.start_for([0])
    assert start != dfa.start and subset(dfa, start) == subset(dfa, dfa.start)
    assert dfa.walk(start, b"ab") == dfa.start and dfa.start_for([0]) == start


def test_state_bound_is_a_limit_error():
    dfa = DFA(nfa.build(regex.parse("[ab]*a[ab]{6}"), 100_000), 20)
    with pytest.raises(LimitError):
        dfa.build_all()


def test_growth_keeps_states_and_start_states_apart():
    """Past the first table, pool and hash table (a 2^12-state DFA, more than the rows, pool and hash
    slots reserved) every row is still exact, and a start state made before the growth is still its
    own state after the hash table is rebuilt."""
    dfa = DFA(nfa.build_union([regex.parse("[ab]*a[ab]{11}"), regex.parse("(ab)*")], 100_000), 100_000)
    start = dfa.start_for([1])
    pool, slots = dfa._pool.size, dfa._slots.size
    dfa.build_all()
    assert dfa.num_states > 4096 and dfa._pool.size > pool and dfa._slots.size > slots
    assert dfa.start_for([1]) == start and dfa.walk(start, b"ab") not in (start, DEAD)
    assert dfa.walk(dfa.walk(start, b"ab"), b"ab") == dfa.walk(start, b"ab")
    dfa.ensure_rows(np.arange(dfa.num_states))
    n = dfa.num_states
    assert_rows_match_reference(dfa, [*range(0, n, 11), *range(n - 40, n)])  # a sample: the reference is slow


def test_owner_whatever_the_layout():
    """A pattern laid out after others (a large one pasted from the cache, `nfa.build_union`) is
    still built the same way: a state inside it is owned by it, with the same relative subset as in
    that pattern's own automaton."""
    small, large = regex.parse("ab"), regex.parse("[a-z]{0,300}")
    alone = DFA(nfa.build_union([small], 10_000), 10_000)
    union = DFA(nfa.build_union([large, small], 10_000), 10_000)
    assert union.nfa.spans[1][0] > union.nfa.spans[0][0] + 300
    a, b = union.walk(union.start_for([1]), b"a"), alone.walk(alone.start_for([0]), b"a")
    assert union.owner(a) == 1 and alone.owner(b) == 0 and union.inside(a, 8) == alone.inside(b, 8)
    assert union.owner(union.walk(union.start_for([0]), b"ab")) == 0
    assert union.owner(union.walk(union.start, b"a")) is None


def reference_survives(dfa: DFA, state: int, alphabet: list[int], length: int, max_states: int) -> bool:
    seen, frontier = {state}, [state]
    for _ in range(length):
        nxt = []
        for s in frontier:
            for b in alphabet:
                t = dfa.step(s, b)
                if t == DEAD or dfa.is_accepting(t):
                    return False
                if t not in seen:
                    if len(seen) == max_states:
                        return False
                    seen.add(t)
                    nxt.append(t)
        frontier = nxt
    return True


@pytest.mark.parametrize("seed", range(20))
def test_survives_matches_a_plain_search(seed):
    rng = random.Random(seed)
    dfa = DFA(nfa.build_union([regex.parse(random_pattern(rng)) for _ in range(2)], 100_000), 100_000)
    alphabet = sorted(rng.sample(b"abcxyz", 3))
    dfa.build_all()
    for state in range(dfa.num_states):
        for length, bound in [(1, 64), (3, 64), (4, 2)]:
            assert dfa.survives(state, np.array(alphabet), length, bound) == \
                reference_survives(dfa, state, alphabet, length, bound), (state, length, bound)


def test_survives_gives_up_past_its_state_bound():
    """From the start of `[abc]{0,10}x`, every a/b/c string of 4 bytes lives on, through 4 new states."""
    dfa = DFA(nfa.build(regex.parse("[abc]{0,10}x"), 10_000), 10_000)
    abc = np.array(list(b"abc"))
    assert dfa.survives(dfa.start, abc, 4, 5) and not dfa.survives(dfa.start, abc, 4, 4)
    assert not dfa.survives(dfa.start, abc, 11, 64)  # an eleventh letter kills it
    assert not dfa.survives(dfa.start, np.array(list(b"ax")), 1, 64)  # x completes the pattern


def reference_reference(dfa: DFA, state: int, max_different: int) -> int:
    row = [dfa.step(state, b) for b in range(256)]
    live = [t for t in row if t != DEAD]
    if not live:
        return DEAD
    best = max(live, key=lambda t: (live.count(t), -row.index(t)))  # ties: the first byte's
    different = sum(dfa.step(best, b) != row[b] for b in range(256))
    live = sum(dfa.step(best, b) != DEAD for b in range(256))
    return DEAD if best == state or different > max_different or live <= max_different else best


@pytest.mark.parametrize("seed", range(10))
def test_reference_matches_a_plain_count(seed):
    rng = random.Random(seed)
    dfa = DFA(nfa.build_union([regex.parse(random_pattern(rng)) for _ in range(2)], 100_000), 100_000)
    dfa.build_all()
    for state in range(dfa.num_states):
        for bound in (0, 3, 256):
            assert dfa.reference(state, bound) == reference_reference(dfa, state, bound), (state, bound)


def test_reference_of_a_property_name_prefix_is_any_other_name():
    """`"a` (a prefix of the name "ab") behaves like any other name but on `b`."""
    dfa = DFA(nfa.build_union([regex.parse('"ab"'), regex.parse('"[^"]*"')], 1000), 1000)
    prefix = dfa.walk(dfa.start, b'"a')
    other = dfa.walk(dfa.start, b'"x')
    assert dfa.reference(prefix, 1) == other and dfa.reference(prefix, 0) == DEAD
    assert dfa.reference(other, 256) == DEAD  # most bytes lead back to itself
    literal = DFA(nfa.build(regex.parse('"abc"'), 1000), 1000)
    assert literal.reference(literal.walk(literal.start, b'"a'), 32) == DEAD  # one live byte: a small walk
    digits = DFA(nfa.build(regex.parse("x[0-9]*|xy[0-9]*"), 1000), 1000)
    after_x = digits.walk(digits.start, b"x")
    assert digits.reference(after_x, 3) == digits.walk(after_x, b"1")  # differ on `y` only
    assert digits.reference(after_x, 10) == DEAD  # ten live bytes: no more than may differ


def test_run_stops_where_a_pattern_is_complete_and_walk_reads_on():
    """`run` hands over to the caller where a lexer may end a terminal; `walk` reads everything."""
    dfa = DFA(nfa.build_union([regex.parse('"[^"]*"'), regex.parse("[0-9]+")], 1000), 1000)
    data = np.frombuffer(b'"ab" 12', dtype=np.uint8)
    i, state = dfa.run(dfa.start, data)
    assert (i, state) == (4, dfa.walk(dfa.start, b'"ab"')) and dfa.labels(state) == {0}
    assert dfa.run(dfa.start, data, 5) == (6, dfa.walk(dfa.start, b"1"))  # a digit completes a number
    assert dfa.run(dfa.start, data, 0, until_complete=False) == (5, DEAD)  # the space kills it
    assert dfa.walk(dfa.start, b'"a"') == state and dfa.walk(dfa.start, b"x") == DEAD
    assert dfa.run(dfa.start, data[:2]) == (2, dfa.walk(dfa.start, b'"a'))  # the end of the data
    long = DFA(nfa.build(regex.parse("a{5000}"), 20_000), 20_000)  # more states than the rows reserved:
    end = long.walk(long.start, b"a" * 5000)  # the kernel stops for room, and resumes where it was
    assert long.is_accepting(end) and long.num_states > RESERVED_ROWS and long.walk(end, b"a") == DEAD


def test_forced_is_the_one_text_left_to_read():
    """`forced`: the rest of a literal; None where several texts (or a longer one) may follow."""
    dfa = DFA(nfa.build_union([regex.parse('"ab": '), regex.parse('"[a-z]*"')], 1000), 1000)
    lone = DFA(nfa.build(regex.parse('"ab": '), 1000), 1000)
    assert lone.forced(lone.walk(lone.start, b'"a')) == b'b": '
    assert lone.forced(lone.walk(lone.start, b'"ab": ')) == b""
    assert lone.forced(lone.start, max_length=3) is None  # six bytes left
    assert dfa.forced(dfa.walk(dfa.start, b'"a')) is None  # a name, or the rest of "ab"
    assert dfa.forced(dfa.walk(dfa.start, b'"ab"')) is None  # the end of a string, or `: ` of the literal
    assert dfa.forced(dfa.walk(dfa.start, b'"ab":')) == b" "


@pytest.mark.parametrize("module, source", [("index", "automaton"), ("index", "packed"), ("automaton", "packed")])
def test_kernels_cached_before_code_they_compile_in_changed_are_dropped(module, source):
    """numba checks a cached kernel against its own file only: the walk kernels, which compile the
    row filler and the packed views in, drop their cache when `automaton/kernels.py` or
    `automaton/packed.py` is newer (a stale one crashed); the automaton kernels when `packed.py` is."""
    import importlib
    import os
    import time
    from pathlib import Path

    kernels = importlib.import_module(f"constrain.{module}.kernels")
    newer = importlib.import_module({"automaton": "constrain.automaton.kernels", "packed": "constrain.automaton.packed"}[source])
    cache = Path(kernels.__file__).parent / "__pycache__"
    cache.mkdir(exist_ok=True)
    when_changed = Path(newer.__file__).stat().st_mtime
    stale, fresh = cache / "kernels.stale_probe-1.py311.nbi", cache / "kernels.fresh_probe-1.py311.nbi"
    try:
        for path, when in ((stale, when_changed - 10), (fresh, time.time() + 10)):
            path.write_bytes(b"")
            os.utime(path, (when, when))
        kernels._drop_stale_cache()
        assert not stale.exists() and fresh.exists()
    finally:
        stale.unlink(missing_ok=True)
        fresh.unlink(missing_ok=True)


def test_packed_fields_are_views_of_the_arrays_and_checked():
    """The kernels read an automaton through addresses (`automaton.packed`): a row grown into a new
    table is seen by the next kernel call (the DFA packs again), and a field of the wrong dtype or
    layout is refused when packed, not read as garbage."""
    from constrain.automaton.packed import pack

    dfa = DFA(nfa.build_union([regex.parse("[a-z]{1,1500}")], 100_000), max_states=5000)
    assert dfa.walk(dfa.start, b"q" * 1500) != DEAD  # 1500 states in one call: the table grew meanwhile
    assert len(dfa.table) > RESERVED_ROWS and dfa.walk(dfa.start, b"q" * 1501) == DEAD
    with pytest.raises(TypeError, match="field 1: a C-contiguous int32 array"):
        pack([(np.zeros(3, np.int32), np.int32), (np.zeros(3, np.int64), np.int32)])
    with pytest.raises(TypeError, match="field 0"):
        pack([(np.zeros(6, np.int32)[::2], np.int32)])
