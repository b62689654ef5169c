"""Shortest texts that finish an Earley parse: what the token budget closes an output with.

Per grammar, once: a shortest string of every symbol (Knuth's generalisation of Dijkstra to
grammars: a rule is evaluated when all its symbols are final, so no choice depends on itself).

Per Earley set: `goal(j)` says, for each symbol X some item of set j waits on, the fewest bytes
that finish the whole parse once an X spanning from j to "now" is read: an item (A -> a . X b, o)
costs |b| plus the goal of A in set o. Items predicted in set j itself (o = j) make the sets' goals
depend on each other, so each set is solved by Dijkstra; the goals of a set never change once it
exists, so each is computed once and shared by every later parse state.
"""
from __future__ import annotations

import heapq

from .earley import END, EarleyParser, ParseState

Goal = dict[int, tuple[int, tuple]]  # symbol -> (bytes, the item that achieves it)


class SymbolStrings:
    """A shortest string of every symbol of a parser's grammar (including the augmented start), given
    one of every terminal (None: the terminal matches nothing)."""

    def __init__(self, parser: EarleyParser, terminals: list[bytes | None]):
        self.parser = parser
        rules = parser.rules
        final: dict[int, bytes] = {}
        heap = [(len(s), t, s) for t, s in enumerate(terminals) if s is not None]
        missing = [len(rule.rhs) for rule in rules]
        uses: dict[int, list[int]] = {}
        for r, rule in enumerate(rules):
            for symbol in rule.rhs:
                uses.setdefault(symbol, []).append(r)
            if not rule.rhs:
                heap.append((0, rule.lhs, b""))
        heapq.heapify(heap)
        while heap:
            _, symbol, s = heapq.heappop(heap)
            if symbol in final:
                continue
            final[symbol] = s
            for r in uses.get(symbol, ()):
                missing[r] -= 1
                if missing[r] == 0:
                    s2 = b"".join(final[x] for x in rules[r].rhs)
                    heapq.heappush(heap, (len(s2), rules[r].lhs, s2))
        self.strings = final
        self._suffixes: dict[int, bytes] = {}
        # per dotted rule (`EarleyParser`), the bytes of the rest of its rule from the dot on
        self.suffix_len = [len(final[s]) if s != END else 0 for s in parser.next_symbol]
        for p in range(len(self.suffix_len) - 2, -1, -1):
            if parser.next_symbol[p] != END:
                self.suffix_len[p] += self.suffix_len[p + 1]

    def suffix(self, dotted: int) -> bytes:
        """The text of the rest of a dotted rule's rule from its dot on."""
        found = self._suffixes.get(dotted)
        if found is None:
            rest, p, next_symbol = [], dotted, self.parser.next_symbol
            while next_symbol[p] != END:
                rest.append(self.strings[next_symbol[p]])
                p += 1
            found = self._suffixes[dotted] = b"".join(rest)
        return found


class ParseCompletions:
    """Shortest completions of parse states (memoised per Earley set: sets are shared by states)."""

    def __init__(self, strings: SymbolStrings):
        self.strings = strings
        self._goals: dict[ParseState, tuple[Goal, dict[int, bytes]]] = {}  # its goals; their texts, on demand

    def after(self, parse: ParseState, terminal: int) -> bytes | None:
        """Shortest bytes that finish the parse once `terminal` is read next (None: it cannot be)."""
        if terminal not in self._goal(parse):
            return None
        return self._spell(parse, terminal)

    def complete(self, parse: ParseState) -> bytes:
        """Shortest bytes that finish the parse from where it is."""
        if parse.accepting:
            return b""
        goal, strings = self._goal(parse), self.strings.strings
        symbol = min(goal, key=lambda x: len(strings[x]) + goal[x][0])
        return strings[symbol] + self._spell(parse, symbol)

    def _spell(self, at: ParseState, symbol: int) -> bytes:
        """The goal's text, memoised per (set, symbol): the chains up to the start share their tails."""
        parser = self.strings.parser
        chain = []
        while True:
            goal, spelled = self._goals[at]
            done = spelled.get(symbol)
            if done is not None:
                break
            item = goal[symbol][1]
            chain.append((spelled, symbol, self.strings.suffix(item[0] + 1)))
            lhs = parser.lhs[item[0]]
            if lhs == parser.augmented:
                done = b""
                break
            symbol, at = lhs, at.origin(item)
        for spelled, symbol, head in reversed(chain):
            done = spelled[symbol] = head + done
        return done

    def _goal(self, parse: ParseState) -> Goal:
        hit = self._goals.get(parse)
        if hit is not None:
            return hit[0]
        todo, needed = [parse], set()
        while todo:  # every earlier set this one's items lead back to, solved from the bottom up
            at = todo.pop()
            if at in needed or at in self._goals:
                continue
            needed.add(at)
            todo.extend(o for _, (_, o) in at.waiting() if o is not None)
        for at in sorted(needed, key=lambda at: at.position):
            self._goals[at] = (self._solve(at), {})
        return self._goals[parse][0]

    def _solve(self, at: ParseState) -> Goal:
        parser, suffix_len = self.strings.parser, self.strings.suffix_len
        heap: list[tuple[int, int, tuple]] = []
        waits_on: dict[int, list[tuple[int, int, tuple]]] = {}  # A -> items needing A's goal here
        for symbol, item in at.waiting():
            p, origin = item
            cost, lhs = suffix_len[p + 1], parser.lhs[p]
            if lhs == parser.augmented:
                heap.append((cost, symbol, item))
            elif origin is not None:
                below = self._goals[origin][0].get(lhs)
                if below is not None:
                    heap.append((cost + below[0], symbol, item))
            else:
                waits_on.setdefault(lhs, []).append((symbol, cost, item))
        heapq.heapify(heap)
        goal: Goal = {}
        while heap:
            cost, symbol, item = heapq.heappop(heap)
            if symbol in goal:
                continue
            goal[symbol] = (cost, item)
            for waiting, extra, it in waits_on.get(symbol, ()):
                if waiting not in goal:
                    heapq.heappush(heap, (cost + extra, waiting, it))
        return goal
