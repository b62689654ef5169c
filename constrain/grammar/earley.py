"""An Earley parser over terminals, stepped one terminal at a time, with interned parse states.

Why Earley: it accepts every context-free grammar (ambiguous, left-recursive, nullable, not LALR(1))
without rewriting it, and it runs iteratively, so nesting depth is bounded by memory, not by Python's
recursion limit. Nullable nonterminals follow Aycock and Horspool: predicting one also steps over it.

A `ParseState` is one Earley set, immutable. An item names the set it started in by reference (None:
this set), not by position, so a state is fully described by the items it was seeded with, and the
parser interns states by those seeds: the parse after `{"a": ` is the same object in every output of
a grammar, wherever it occurs. That is what lets the mask layer cache masks and token steps per
state across outputs. `scan(terminal)` is memoised on the state: repeated questions cost a lookup.

Why predictions are shared: the items a set predicts (started in it, nothing read yet) depend only
on which nonterminals it predicts, not on how the set was reached. A JSON value position predicts
every rule of the value's schema (a hundred items for a large one) while reading far fewer of its
own, and the same value schema is predicted in many sets; a `Prediction` is built once per set of
predicted nonterminals and shared, so a new set walks only its own items.
"""
from __future__ import annotations

from collections.abc import Iterator

from .cfg import Grammar, Rule, productive_symbols

Item = tuple[int, int, "ParseState | None"]  # (rule index, dot, the set it started in; None: this one)
MAX_INTERNED = 50_000  # states kept for sharing per parser; past it sharing restarts (memory bound)


class EarleyParser:
    def __init__(self, grammar: Grammar):
        self.grammar = grammar
        self.augmented = len(grammar.terminals) + len(grammar.nonterminals)  # S' -> start
        self.rules: list[Rule] = list(grammar.rules) + [Rule(self.augmented, (grammar.start,))]
        self.by_lhs: dict[int, list[int]] = {}
        for k, rule in enumerate(self.rules):
            self.by_lhs.setdefault(rule.lhs, []).append(k)
        self.nullable = productive_symbols(self.rules, set())  # derive the empty string
        self.num_terminals = len(grammar.terminals)
        self._interned: dict[frozenset[Item], ParseState] = {}
        self._predictions: dict[frozenset[int], Prediction] = {}
        self._initial = ParseState(self, 0, [(len(self.rules) - 1, 0, None)])

    def initial(self) -> "ParseState":
        return self._initial

    def state(self, position: int, seeds: list[Item]) -> "ParseState":
        """The state seeded by `seeds` (items whose sets all exist already), built once."""
        key = frozenset(seeds)
        found = self._interned.get(key)
        if found is None:
            if len(self._interned) >= MAX_INTERNED:
                self._interned.clear()
                self._predictions.clear()
            found = self._interned[key] = ParseState(self, position, seeds)
        return found

    def prediction(self, roots: frozenset[int]) -> "Prediction":
        """The items a set predicts from the nonterminals `roots`, built once."""
        found = self._predictions.get(roots)
        if found is None:
            found = self._predictions[roots] = Prediction(self, roots)
        return found


class Prediction:
    """The items predicted from some nonterminals (all started in the set that predicts them, so
    their origin is None: the same items in every set), by the symbol each waits on. Predicting a
    nullable nonterminal also steps over it (Aycock and Horspool)."""

    __slots__ = ("waiting", "terminals")

    def __init__(self, parser: EarleyParser, roots: frozenset[int]):
        rules, by_lhs, nullable, nt = parser.rules, parser.by_lhs, parser.nullable, parser.num_terminals
        self.waiting: dict[int, list[Item]] = {}
        predicted = set(roots)
        agenda: list[Item] = [(k, 0, None) for symbol in roots for k in by_lhs.get(symbol, ())]
        seen = set(agenda)
        while agenda:
            item = agenda.pop()
            r, dot, _ = item
            symbol = rules[r].rhs[dot] if dot < len(rules[r].rhs) else None
            if symbol is None:
                continue  # completed without reading: its parents here step over it (nullable)
            self.waiting.setdefault(symbol, []).append(item)
            if symbol >= nt:
                new = [] if symbol in predicted else [(k, 0, None) for k in by_lhs.get(symbol, ())]
                predicted.add(symbol)
                if symbol in nullable:
                    new.append((r, dot + 1, None))
                for n in new:
                    if n not in seen:
                        seen.add(n)
                        agenda.append(n)
        self.terminals = frozenset(s for s in self.waiting if s < nt)


class ParseState:
    __slots__ = ("parser", "position", "own", "predicted", "allowed", "accepting", "_next")

    def __init__(self, parser: EarleyParser, position: int, seeds: list[Item]):
        self.parser = parser
        self.position = position  # terminals read: every origin set has a smaller one
        self.own, roots, self.accepting = _closure(parser, position, seeds)  # symbol -> items waiting on it
        self.predicted = parser.prediction(frozenset(roots))
        self.allowed = frozenset(s for s in self.own if s < parser.num_terminals) | self.predicted.terminals
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

    def origin(self, item: Item) -> "ParseState":
        """The set `item` started in."""
        return self if item[2] is None else item[2]

    def waiting_on(self, symbol: int) -> list[Item]:
        """The items of this set whose next symbol is `symbol`."""
        own, predicted = self.own.get(symbol), self.predicted.waiting.get(symbol)
        if own is None or predicted is None:
            return own or predicted or []
        return own + predicted

    def waiting(self) -> Iterator[tuple[int, Item]]:
        """(next symbol, item) for every item of this set that waits on a symbol."""
        for part in (self.own, self.predicted.waiting):
            for symbol, items in part.items():
                for item in items:
                    yield symbol, item

    def _read(self, terminals) -> "ParseState | None":
        seeds = [(r, d + 1, self if o is None else o) for t in terminals for r, d, o in self.waiting_on(t)]
        return self.parser.state(self.position + 1, seeds) if seeds else None


def _closure(parser: EarleyParser, position: int, seeds: list[Item]
             ) -> tuple[dict[int, list[Item]], set[int], bool]:
    """Complete from `seeds`: the items that read something before this set, by the symbol each
    waits on; the nonterminals they predict (their items come from a shared `Prediction`); and
    whether the whole input so far is a sentence (the augmented rule completed from the initial set)."""
    rules, nullable, nt = parser.rules, parser.nullable, parser.num_terminals
    seen = set(seeds)
    agenda = list(seeds)
    own: dict[int, list[Item]] = {}
    roots: set[int] = set()
    accepting = False
    while agenda:
        item = agenda.pop()
        r, dot, origin = item
        rhs = rules[r].rhs
        if dot < len(rhs):
            symbol = rhs[dot]
            own.setdefault(symbol, []).append(item)
            if symbol >= nt:
                roots.add(symbol)
                if symbol in nullable:
                    n = (r, dot + 1, origin)
                    if n not in seen:
                        seen.add(n)
                        agenda.append(n)
            continue
        if rules[r].lhs == parser.augmented:
            accepting = accepting or (position if origin is None else origin.position) == 0
        elif origin is not None:  # started here: read nothing, so its parents here stepped over it
            for r2, d2, o2 in origin.waiting_on(rules[r].lhs):
                n = (r2, d2 + 1, origin if o2 is None else o2)
                if n not in seen:
                    seen.add(n)
                    agenda.append(n)
    return own, roots, accepting
