"""An Earley parser over terminals, stepped one terminal at a time.

Why Earley: it accepts every context-free grammar (ambiguous, left-recursive, nullable, not LALR(1))
without rewriting it, and it runs iteratively, so nesting depth is bounded by memory, not by Python's
recursion limit. Nullable nonterminals follow Aycock and Horspool: predicting one also steps over it.

A `ParseState` is immutable: the chart up to now plus the current set's items indexed by the symbol
they wait for. `scan(terminal)` returns the next state or None, memoised: repeated questions during
mask computation cost a dictionary lookup. The memo makes the states of one output a tree under its
initial state, so each output must start from its own `initial()` for that tree to be freed with it.
"""
from __future__ import annotations

from .cfg import Grammar, Rule, productive_symbols

Item = tuple[int, int, int]  # (rule index, dot, origin set)


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

    def initial(self) -> "ParseState":
        return ParseState(self, [], [(len(self.rules) - 1, 0, 0)])


class ParseState:
    __slots__ = ("parser", "chart", "allowed", "accepting", "_next")

    def __init__(self, parser: EarleyParser, chart: list, seeds: list[Item]):
        self.parser = parser
        waiting, complete_start = _closure(parser, chart, seeds)
        self.chart = chart + [waiting]
        self.allowed = frozenset(s for s in waiting if s < parser.num_terminals)
        self.accepting = complete_start
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

    def _read(self, terminals) -> "ParseState | None":
        waiting = self.chart[-1]
        seeds = [(r, d + 1, o) for t in terminals for r, d, o in waiting.get(t, ())]
        return ParseState(self.parser, self.chart, seeds) if seeds else None


def _closure(parser: EarleyParser, chart: list, seeds: list[Item]) -> tuple[dict[int, list[Item]], bool]:
    """Predict and complete from `seeds`; return the items waiting on each symbol."""
    pos = len(chart)
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
                new = [(k, 0, pos) for k in by_lhs.get(symbol, ())]
                if symbol in nullable:
                    new.append((r, dot + 1, origin))
                for n in new:
                    if n not in seen:
                        seen.add(n)
                        agenda.append(n)
        else:
            lhs = rules[r].lhs
            if lhs == parser.augmented:
                accepting = accepting or origin == 0
                continue
            parents = waiting.get(lhs, ()) if origin == pos else chart[origin].get(lhs, ())
            for r2, d2, o2 in list(parents):
                n = (r2, d2 + 1, o2)
                if n not in seen:
                    seen.add(n)
                    agenda.append(n)
    return waiting, accepting

