"""An Earley parser over terminals, stepped one terminal at a time, with interned parse states.

Why Earley: it accepts every context-free grammar (ambiguous, left-recursive, nullable, not LALR(1))
without rewriting it, and it runs iteratively, so nesting depth is bounded by memory, not by Python's
recursion limit. Nullable nonterminals follow Aycock and Horspool: predicting one also steps over it.

A `ParseState` is one Earley set, immutable. An item names the set it started in by serial number (0:
this set), not by position, so a state is fully described by the items it was seeded with, and the
parser interns states by those seeds: the parse after `{"a": ` is the same object in every output of
a grammar, wherever it occurs. That is what lets the mask layer cache masks and token steps per
state across outputs. `scan(terminal)` is memoised on the state: repeated questions cost a lookup.

Why predictions are shared: the items a set predicts (started in it, nothing read yet) depend only
on which nonterminals it predicts, not on how the set was reached. A JSON value position predicts
every rule of the value's schema (a hundred items for a large one) while reading far fewer of its
own, and the same value schema is predicted in many sets; a `Prediction` is built once per set of
predicted nonterminals and shared, so a new set walks only its own items.

Why completions are shared too: what completing a nonterminal adds to a set (the items of its
origin set waiting on it, stepped over it, and all they complete in turn) depends only on that
origin set and that nonterminal. After each value of an object with 130 optional properties, the
member nonterminal completes through the chain of skippable properties still ahead: 260 items, in
every set that ends a value. A `Completion` is built once per (origin set, nonterminal), from the
completions it contains in turn, and merged into each set that needs it.

Why an item is one int: the dotted rule in the low bits, the serial number of the set it started in
above them (0: this set). A new set closes over a hundred items in a slow token; as ints they hash
and compare at once, stepping one is an addition, and they are no objects for the garbage collector
to track (as (rule, set) tuples they were a fifth of what a token left behind, and the collections
those leftovers trigger took a fifth of the slowest tokens' time). A set keeps the set it was read from (`previous`):
every set its items name lies on that chain, so they stay alive while it does, and the parser finds
them by serial through weak references.
"""
from __future__ import annotations

import itertools
import weakref
from collections.abc import Iterator

from .cfg import Grammar, Rule, productive_symbols

Item = int  # dotted rule | serial of the set it started in << EarleyParser.shift (0: this set)
MAX_INTERNED = 50_000  # states kept for sharing per parser; past it sharing restarts (memory bound)
MAX_NESTING = 16  # completions built inside completions; deeper ones are expanded where they occur
MAX_COMPLETION_SIZE = 2048  # items of one shared completion; a bigger one is expanded where it occurs
MAX_COMPLETION_ITEMS = 500_000  # items held by shared completions per parser (memory bound)
END = -1  # `next_symbol` of a dotted rule whose dot is at its end


class EarleyParser:
    """Items name a rule and a dot as one int, a dotted rule (the positions of a rule's dot are
    consecutive ints: moving the dot adds one), so the closure reads what comes next from one list
    (`next_symbol`), not from a rule's right side."""

    def __init__(self, grammar: Grammar):
        self.grammar = grammar
        self.augmented = len(grammar.terminals) + len(grammar.nonterminals)  # S' -> start
        self.rules: list[Rule] = list(grammar.rules) + [Rule(self.augmented, (grammar.start,))]
        self.next_symbol: list[int] = []  # dotted rule -> the symbol after the dot, or END
        self.lhs: list[int] = []  # dotted rule -> its rule's left side
        self.by_lhs: dict[int, list[int]] = {}  # nonterminal -> its dotted rules with the dot first
        for rule in self.rules:
            self.by_lhs.setdefault(rule.lhs, []).append(len(self.next_symbol))
            self.next_symbol.extend(rule.rhs + (END,))
            self.lhs.extend([rule.lhs] * (len(rule.rhs) + 1))
        self.nullable = productive_symbols(self.rules, set())  # derive the empty string
        self.num_terminals = len(grammar.terminals)
        self.shift = len(self.next_symbol).bit_length()  # an item's dotted rule fits below this bit
        self.rule_bits = (1 << self.shift) - 1
        self._interned: dict[frozenset[Item], ParseState] = {}
        self._predictions: dict[frozenset[int], Prediction] = {}
        self._sets: dict[int, weakref.ref] = {}  # serial -> the set, while it lives
        self._serials = itertools.count(1)  # next() is atomic: sets may be made outside the grammar's lock
        self.completion_items = 0  # held by the completions of the interned states
        self._initial = ParseState(self, 0, [self.by_lhs[self.augmented][0]], None)

    def initial(self) -> "ParseState":
        return self._initial

    def state(self, position: int, seeds: list[Item], previous: "ParseState") -> "ParseState":
        """The state seeded by `seeds` (items whose sets all exist already), read from `previous`, built once."""
        key = frozenset(seeds)
        found = self._interned.get(key)
        if found is None:
            if len(self._interned) >= MAX_INTERNED:
                self._interned.clear()
                self._predictions.clear()
                for serial, ref in list(self._sets.items()):  # in place: another thread may be adding one
                    if ref() is None:
                        del self._sets[serial]
                self.completion_items = 0
            found = self._interned[key] = ParseState(self, position, seeds, previous)
        return found

    def register(self, state: "ParseState") -> int:
        """A serial number for a new set (from 1: 0 means "this set" in an item)."""
        serial = next(self._serials)
        self._sets[serial] = weakref.ref(state)
        return serial

    def at(self, serial: int) -> "ParseState":
        """The set with this serial (alive: a later set's chain of `previous` holds it)."""
        return self._sets[serial]()

    def release(self) -> None:
        """Break the reference cycles among this parser's states (each names the parser, which interns
        it, and a state's memo of steps names the states read from it, which name it as `previous`),
        for when the grammar using the parser is gone: the states are then freed at once by reference
        counting instead of waiting as garbage for a full collection, which in a process compiling
        schema after schema paused for ~100 ms at a time to free several grammars at once. The parser
        is unusable afterwards."""
        for state in (self._initial, *self._interned.values()):
            state._next.clear()
        self._interned.clear()
        self._predictions.clear()
        self._sets.clear()
        self._initial = None

    def prediction(self, roots: frozenset[int]) -> "Prediction":
        """The items a set predicts from the nonterminals `roots`, built once."""
        found = self._predictions.get(roots)
        if found is None:
            found = self._predictions[roots] = Prediction(self, roots)
        return found


class Prediction:
    """The items predicted from some nonterminals (all started in the set that predicts them, so
    their origin is 0: the same items in every set), by the symbol each waits on. Predicting a
    nullable nonterminal also steps over it (Aycock and Horspool)."""

    __slots__ = ("waiting", "terminals")

    def __init__(self, parser: EarleyParser, roots: frozenset[int]):
        next_symbol, by_lhs, nullable, nt = parser.next_symbol, parser.by_lhs, parser.nullable, parser.num_terminals
        self.waiting: dict[int, list[Item]] = {}
        predicted = set(roots)
        agenda: list[Item] = [p for symbol in roots for p in by_lhs.get(symbol, ())]
        seen = set(agenda)
        while agenda:
            item = agenda.pop()
            symbol = next_symbol[item]
            if symbol == END:
                continue  # completed without reading: its parents here step over it (nullable)
            self.waiting.setdefault(symbol, []).append(item)
            if symbol >= nt:
                new = [] if symbol in predicted else list(by_lhs.get(symbol, ()))
                predicted.add(symbol)
                if symbol in nullable:
                    new.append(item + 1)
                for n in new:
                    if n not in seen:
                        seen.add(n)
                        agenda.append(n)
        self.terminals = frozenset(s for s in self.waiting if s < nt)


class Completion:
    """What completing a nonterminal that started in a set adds to a later set: the items waiting on
    it there, stepped over it, closed (`_closure`): the items by the symbol each waits on, all the
    items (to merge without duplicates), the nonterminals they predict, whether one is the start
    rule completed, the terminals they wait on."""

    __slots__ = ("own", "items", "roots", "accepting", "terminals")

    def __init__(self, own: dict[int, list[Item]], items: set[Item], roots: set[int], accepting: bool,
                 terminals: frozenset[int]):
        self.own, self.items, self.roots, self.accepting = own, frozenset(items), frozenset(roots), accepting
        self.terminals = terminals


class ParseState:
    __slots__ = ("parser", "position", "serial", "previous", "own", "predicted", "allowed", "accepting", "_next",
                 "_completions", "__weakref__")

    def __init__(self, parser: EarleyParser, position: int, seeds: list[Item], previous: "ParseState | None"):
        self.parser = parser
        self.position = position  # terminals read: every origin set has a smaller one
        self.serial = parser.register(self)
        self.previous = previous  # keeps every set this one's items name alive
        self._completions: dict[int, Completion | None] = {}  # None: being built
        self.own, _, roots, self.accepting, terminals = _closure(parser, position, seeds, 0)  # symbol -> items waiting on it
        self.predicted = parser.prediction(frozenset(roots))
        self.allowed = terminals | self.predicted.terminals
        self._next: dict[int | frozenset[int], ParseState | None] = {}  # by terminal, or set of them

    def scan(self, terminal: int) -> "ParseState | None":
        """The state after reading `terminal`, or None if it cannot come next."""
        if terminal not in self._next:
            self._next[terminal] = self._read((terminal,))
        return self._next[terminal]

    def scan_any(self, terminals: frozenset[int]) -> "ParseState | None":
        """The state after reading one of `terminals` (a text several terminals match): one state
        holding every reading, so the ways to read a text do not multiply with each ambiguous token."""
        if len(terminals) <= 1:
            return self.scan(next(iter(terminals))) if terminals else None
        if terminals not in self._next:
            self._next[terminals] = self._read(sorted(terminals))
        return self._next[terminals]

    def origin(self, item: tuple[int, "ParseState | None"]) -> "ParseState":
        """The set an item of `waiting()` started in."""
        return self if item[1] is None else item[1]

    def waiting(self) -> Iterator[tuple[int, tuple[int, "ParseState | None"]]]:
        """(next symbol, (dotted rule, the set it started in or None: this one)) for every item of
        this set that waits on a symbol."""
        shift, bits, at = self.parser.shift, self.parser.rule_bits, self.parser.at
        for part in (self.own, self.predicted.waiting):
            for symbol, items in part.items():
                for item in items:
                    yield symbol, (item & bits, at(item >> shift) if item > bits else None)

    def completion(self, symbol: int, nesting: int) -> Completion | None:
        """What completing `symbol`, started in this set, adds to a later set, built once. None when
        it is not shared: past `MAX_NESTING`, the size or the memory bound, or while it is being
        built (a cycle of unit rules); the caller then steps the items itself."""
        done = self._completions.get(symbol, _MISSING)
        if done is not _MISSING:
            return done
        parser = self.parser
        if nesting >= MAX_NESTING or parser.completion_items >= MAX_COMPLETION_ITEMS:
            return None
        self._completions[symbol] = None  # being built; stays None if too big
        try:
            done = Completion(*_closure(parser, self.position, self._stepped(symbol), nesting + 1, MAX_COMPLETION_SIZE))
        except _TooBig:
            return None
        self._completions[symbol] = done
        parser.completion_items += len(done.items)
        return done

    def _stepped(self, symbol: int) -> list[Item]:
        """The items waiting on `symbol`, its dot moved over it (their origin named: this set for the
        predicted ones, which all started here)."""
        bits, here = self.parser.rule_bits, (self.serial << self.parser.shift) + 1
        own, predicted = self.own.get(symbol), self.predicted.waiting.get(symbol)
        out = [item + 1 if item > bits else item + here for item in own] if own else []
        if predicted:
            out += [item + here for item in predicted]
        return out

    def _read(self, terminals) -> "ParseState | None":
        seeds = [item for t in terminals for item in self._stepped(t)]
        return self.parser.state(self.position + 1, seeds, self) if seeds else None


_MISSING = object()


class _TooBig(Exception):
    pass


def _closure(parser: EarleyParser, position: int, seeds: list[Item], nesting: int, limit: int | None = None
             ) -> tuple[dict[int, list[Item]], set[Item], set[int], bool, frozenset[int]]:
    """Complete from `seeds`: the items that read something before this set, by the symbol each
    waits on; all the items; the nonterminals they predict (their items come from a shared
    `Prediction`); whether the whole input so far is a sentence (the augmented rule completed
    from the initial set); the terminals the items wait on. A completion merges its origin's shared
    `Completion` (`nesting`: how many are being built around this one). `_TooBig` past `limit` items.

    A merged completion that shares no item with this set so far (the usual case) is copied whole
    at the end, in C (`dict(done.own)`), rather than symbol by symbol: it holds an item per property
    still ahead of a long object, and this set only a few of its own."""
    next_symbol, lhs_of, nullable, nt = parser.next_symbol, parser.lhs, parser.nullable, parser.num_terminals
    shift, bits = parser.shift, parser.rule_bits
    seen = set(seeds)
    agenda = list(seeds)
    own: dict[int, list[Item]] = {}
    roots: set[int] = set()
    accepting = False
    merged = False  # one shared completion per closure: two may overlap (a lattice of skippable
    # properties in several orders), and merging overlapping ones costs more than stepping items
    whole: Completion | None = None  # merged without overlap: its items are added at the end
    while agenda:
        if limit is not None and len(seen) + (len(whole.items) if whole else 0) > limit:
            raise _TooBig
        item = agenda.pop()
        p = item & bits
        symbol = next_symbol[p]
        if symbol != END:
            waiting = own.get(symbol)
            if waiting is None:
                own[symbol] = [item]
            else:
                waiting.append(item)
            if symbol >= nt:
                roots.add(symbol)
                if symbol in nullable:
                    n = item + 1
                    if n not in seen and (whole is None or n not in whole.items):
                        seen.add(n)
                        agenda.append(n)
            continue
        lhs = lhs_of[p]
        if lhs == parser.augmented:
            started = position if item <= bits else parser.at(item >> shift).position
            accepting = accepting or started == 0
            continue
        if item <= bits:  # started here: read nothing, so its parents here stepped over it
            continue
        origin = parser.at(item >> shift)
        done = origin.completion(lhs, nesting) if not merged else None
        if done is None:
            for n in origin._stepped(lhs):
                if n not in seen and (whole is None or n not in whole.items):
                    seen.add(n)
                    agenda.append(n)
            continue
        merged = True
        roots |= done.roots
        accepting = accepting or done.accepting
        if seen.isdisjoint(done.items):
            whole = done
            continue
        fresh = done.items - seen
        seen |= fresh
        for symbol, items in done.own.items():
            own.setdefault(symbol, []).extend(i for i in items if i in fresh)
    terminals = frozenset(s for s in own if s < nt)
    if whole is not None:
        own, mine = dict(whole.own), own
        for symbol, items in mine.items():
            own[symbol] = own[symbol] + items if symbol in own else items
        seen |= whole.items
        terminals |= whole.terminals
    return own, seen, roots, accepting, terminals
