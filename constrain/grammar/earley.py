"""An Earley parser over terminals, stepped one terminal at a time, with interned parse states.

Why Earley: it accepts every context-free grammar (ambiguous, left-recursive, nullable, not LALR(1))
without rewriting it, and it runs iteratively, so nesting depth is bounded by memory, not by Python's
recursion limit. Nullable nonterminals follow Aycock and Horspool: predicting one also steps over it.

A `ParseState` is one Earley set, immutable. An item names the set it started in by reference (None:
this set), not by position, so a state is fully described by the items it was seeded with, and the
parser interns states by those seeds: the parse after `{"a": ` is the same object in every output of
a grammar, wherever it occurs. That is what lets the mask layer cache masks and token steps per
state across outputs. `scan(terminal)` is memoised on the state: repeated questions cost a lookup.
"""
from __future__ import annotations

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
            found = self._interned[key] = ParseState(self, position, seeds)
        return found


class ParseState:
    __slots__ = ("parser", "position", "waiting", "allowed", "accepting", "_next")

    def __init__(self, parser: EarleyParser, position: int, seeds: list[Item]):
        self.parser = parser
        self.position = position  # terminals read: every origin set has a smaller one
        self.waiting, self.accepting = _closure(parser, position, seeds)  # symbol -> items waiting on it
        self.allowed = frozenset(s for s in self.waiting if s < parser.num_terminals)
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

    def _read(self, terminals) -> "ParseState | None":
        seeds = [(r, d + 1, self if o is None else o) for t in terminals for r, d, o in self.waiting.get(t, ())]
        return self.parser.state(self.position + 1, seeds) if seeds else None


def _closure(parser: EarleyParser, position: int, seeds: list[Item]) -> tuple[dict[int, list[Item]], bool]:
    """Predict and complete from `seeds`; return the items waiting on each symbol, and whether the
    whole input so far is a sentence (the augmented rule completed from the initial set)."""
    rules, by_lhs, nullable, nt = parser.rules, parser.by_lhs, parser.nullable, parser.num_terminals
    seen = set(seeds)
    agenda = list(seeds)
    waiting: dict[int, list[Item]] = {}
    accepting = False
    while agenda:
        item = agenda.pop()
        r, dot, origin = item
        rhs = rules[r].rhs
        if dot < len(rhs):
            symbol = rhs[dot]
            waiting.setdefault(symbol, []).append(item)
            if symbol >= nt:
                new = [(k, 0, None) for k in by_lhs.get(symbol, ())]
                if symbol in nullable:
                    new.append((r, dot + 1, origin))
                for n in new:
                    if n not in seen:
                        seen.add(n)
                        agenda.append(n)
        else:
            lhs = rules[r].lhs
            if lhs == parser.augmented:
                accepting = accepting or (position if origin is None else origin.position) == 0
                continue
            # parents in this set keep their origins; parents in an earlier set that started there
            # (origin None relative to it) started in that set
            parents = waiting.get(lhs, ()) if origin is None else origin.waiting.get(lhs, ())
            for r2, d2, o2 in list(parents):
                n = (r2, d2 + 1, origin if o2 is None else o2)
                if n not in seen:
                    seen.add(n)
                    agenda.append(n)
    return waiting, accepting
