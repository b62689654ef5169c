"""A context-free grammar over terminals that are regular languages (byte-level regex trees).

Symbols are ints: terminals are 0..len(terminals)-1, nonterminals follow. `reduced()` removes rules
that can never produce text or never be reached, so every terminal the parser expects can be
completed into a whole sentence: that is what makes "the parser can scan it" mean "a valid output
can follow", and so what makes the masks exact.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..automaton.regex import Node
from ..errors import GrammarError


@dataclass(frozen=True)
class Terminal:
    name: str
    pattern: Node


@dataclass(frozen=True)
class Rule:
    lhs: int
    rhs: tuple[int, ...]


@dataclass
class Grammar:
    terminals: list[Terminal]
    nonterminals: list[str]
    rules: list[Rule]
    start: int
    ignore: frozenset[int] = field(default_factory=frozenset)

    def is_terminal(self, symbol: int) -> bool:
        return symbol < len(self.terminals)

    def name(self, symbol: int) -> str:
        if self.is_terminal(symbol):
            return self.terminals[symbol].name
        return self.nonterminals[symbol - len(self.terminals)]

    def reduced(self) -> "Grammar":
        """Drop unproductive and unreachable rules; `GrammarError` if the language is empty."""
        productive: set[int] = set(range(len(self.terminals)))
        changed = True
        while changed:
            changed = False
            for rule in self.rules:
                if rule.lhs not in productive and all(s in productive for s in rule.rhs):
                    productive.add(rule.lhs)
                    changed = True
        if self.start not in productive:
            raise GrammarError(f"the grammar's language is empty: rule {self.name(self.start)!r} "
                               f"can never produce a finite text")
        rules = [r for r in self.rules if r.lhs in productive and all(s in productive for s in r.rhs)]
        reachable, stack = {self.start}, [self.start]
        while stack:
            symbol = stack.pop()
            for rule in rules:
                if rule.lhs == symbol:
                    for s in rule.rhs:
                        if s not in reachable:
                            reachable.add(s)
                            stack.append(s)
        rules = [r for r in rules if r.lhs in reachable]
        return Grammar(self.terminals, self.nonterminals, rules, self.start, self.ignore)
