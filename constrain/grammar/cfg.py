"""A context-free grammar over terminals that are regular languages (byte-level regex trees).

Symbols are ints: terminals are 0..len(terminals)-1, nonterminals follow. `reduced()` removes rules
that can never produce text or never be reached, so every terminal the parser expects can be
completed into a whole sentence: that is what makes "the parser can scan it" mean "a valid output
can follow", and so what makes the masks exact.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from ..automaton.regex import Node
from ..errors import GrammarError


@dataclass(frozen=True)
class Terminal:
    name: str
    pattern: Node


class Rule(NamedTuple):
    """A tuple: a schema's grammar makes a hundred at each compilation, and a frozen dataclass is
    several times slower to build."""

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

    @property
    def size(self) -> int:
        """Rules plus the symbols on their right-hand sides: what `Limits.max_grammar_size` bounds."""
        return sum(1 + len(rule.rhs) for rule in self.rules)

    def reduced(self) -> "Grammar":
        """Drop unproductive and unreachable rules; `GrammarError` if the language is empty.

        Both passes are worklists, linear in the grammar's size (a chain of 5000 rules, or an enum
        of 10,000 terminals, must not cost rules x symbols)."""
        productive = productive_symbols(self.rules, set(range(len(self.terminals))))
        if self.start not in productive:
            raise GrammarError(f"the grammar's language is empty: rule {self.name(self.start)!r} "
                               f"can never produce a finite text")
        rules = [r for r in self.rules if r.lhs in productive and productive.issuperset(r.rhs)]
        by_lhs: dict[int, list[Rule]] = {}
        for rule in rules:
            by_lhs.setdefault(rule.lhs, []).append(rule)
        reachable, stack = {self.start}, [self.start]
        while stack:
            for rule in by_lhs.get(stack.pop(), ()):
                for s in rule.rhs:
                    if s not in reachable:
                        reachable.add(s)
                        stack.append(s)
        rules = [r for r in rules if r.lhs in reachable]
        return Grammar(self.terminals, self.nonterminals, rules, self.start, self.ignore)


def productive_symbols(rules: list[Rule], base: set[int]) -> set[int]:
    """`base` plus every symbol that derives a string of `base` symbols (base = the terminals: the
    symbols that produce text; base = {}: the nullable ones), in time linear in the rules' size."""
    out = set(base)
    missing = [0] * len(rules)  # per rule, occurrences of rhs symbols not known to derive yet
    waiting: dict[int, list[int]] = {}  # symbol -> the rules it is missing from, once per occurrence
    for k, rule in enumerate(rules):
        for s in rule.rhs:
            if s not in out:
                missing[k] += 1
                waiting.setdefault(s, []).append(k)
    stack = [rule.lhs for rule, m in zip(rules, missing) if m == 0]
    while stack:
        symbol = stack.pop()
        if symbol in out:
            continue
        out.add(symbol)
        for k in waiting.pop(symbol, ()):
            missing[k] -= 1
            if missing[k] == 0:
                stack.append(rules[k].lhs)
    return out
