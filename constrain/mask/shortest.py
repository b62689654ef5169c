"""Shortest completions and token successors of the two engines' states, for the token budget.

A state is a set of configurations (one DFA state for a regex; (parse state, lexer state) pairs for a
grammar). For a configuration this module gives a shortest byte completion; for a state, the tokens
its mask allows grouped by the configuration each leads to ("successor groups"): the tokens of each
cached walk of the mask are stepped through the automaton together (one numpy gather per byte
position), once per walk. The budget (`constrain.budget`) decides with these which tokens still fit.

Per grammar (`_Shared`, kept as long as the grammar): suffix searches per DFA state and successor
groups. Per output (`RegexCompletions`, `CFGCompletions`): what depends on parse states, which die
with their output.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from ..cache import once_per
from ..automaton.dfa import DFA
from ..automaton.shortest import SuffixSearch
from ..index.trie import ROOT
from ..grammar.shortest import ParseCompletions, SymbolStrings
from .cfg import CFGGrammar
from .walks import LexNode, by_depth
from .regex import RegexGrammar

Groups = list[tuple[int, np.ndarray]]  # (automaton state after the token, token ids)
_REGEX_GROUPS_KEPT = 256  # each may hold most of the vocabulary's ids


class TokenBytes:
    """Every token's bytes as one padded matrix, to step thousands of tokens through a DFA at once."""

    def __init__(self, vocab):
        self.lengths = np.array([len(t) for t in vocab.tokens], dtype=np.int64)
        self.matrix = np.zeros((vocab.size, max(int(self.lengths.max()), 1)), dtype=np.uint8)
        for k, token in enumerate(vocab.tokens):
            self.matrix[k, :len(token)] = np.frombuffer(token, dtype=np.uint8)

    def groups(self, dfa: DFA, state: int, skip: int, ids: np.ndarray) -> Groups:
        """`ids` (tokens the automaton accepts from `state` after their first `skip` bytes) grouped
        by the state they end in."""
        ids = ids[np.argsort(-self.lengths[ids], kind="stable")]  # longest first: the live ones are a prefix
        lengths = self.lengths[ids]
        longest = int(lengths[0]) if ids.size else 0
        text = self.matrix[ids, :longest]
        live = np.searchsorted(-lengths, -np.arange(longest), side="left")  # tokens longer than j, per j
        states = np.full(ids.size, state, dtype=np.int32)
        for j in range(skip, longest):
            now = states[:live[j]]
            dfa.ensure_rows(now)
            now[:] = dfa.table[now, text[:live[j], j]]
        order = np.argsort(states, kind="stable")
        ids, states = ids[order], states[order]
        ends, first = np.unique(states, return_index=True)
        return list(zip(ends.tolist(), np.split(ids, first[1:])))


class _Shared:
    """What every output of one grammar can reuse: suffix searches and successor groups."""

    def __init__(self, grammar):
        self.tokens = _token_bytes(grammar.vocab)
        self.searches: dict[int, SuffixSearch] = {}
        self.groups: OrderedDict[int, Groups] = OrderedDict()  # regex: per DFA state, the latest few
        self.node_groups: dict[int, tuple[LexNode, Groups]] = {}  # grammar: per cached walk (by id, kept alive)
        self.strings = None
        if isinstance(grammar, CFGGrammar):
            with grammar._lock:
                terminals = [self.search(grammar.dfa, grammar.dfa.start_for([k])).cheapest(
                    lambda label, k=k: b"" if label == k else None) for k in range(len(grammar.grammar.terminals))]
            self.strings = SymbolStrings(grammar.parser, terminals)

    def search(self, dfa: DFA, state: int) -> SuffixSearch:
        found = self.searches.get(state)
        if found is None:
            found = self.searches[state] = SuffixSearch(dfa, state)
        return found


_token_bytes = once_per(TokenBytes)
_shared = once_per(_Shared)


def completions_for(grammar):
    """A fresh per-output view of `grammar` (a `RegexGrammar` or `CFGGrammar`)."""
    shared = _shared(grammar)
    if isinstance(grammar, CFGGrammar):
        return CFGCompletions(grammar, shared)
    if isinstance(grammar, RegexGrammar):
        return RegexCompletions(grammar, shared)
    raise TypeError(f"no shortest completions for {type(grammar).__name__}")


class RegexCompletions:
    """A regex state is one DFA state, which is its only configuration."""

    def __init__(self, grammar: RegexGrammar, shared: _Shared):
        self.grammar, self.shared = grammar, shared
        self._max: dict[int, int] = {}

    def configs(self, state: int) -> tuple[int, ...]:
        return (state,)

    def state_of(self, config: int) -> int:
        return config

    def completion(self, config: int) -> bytes | None:
        with self.grammar._lock:
            return self.shared.search(self.grammar.dfa, config).cheapest(lambda label: b"")

    def successors(self, state: int) -> list[tuple[np.ndarray, int]]:
        return [(ids, end) for end, ids in self._groups(state)]

    def successor_max(self, state: int, measure: Callable) -> int:
        found = self._max.get(state)
        if found is None:
            found = self._max[state] = max((measure(end) for end, _ in self._groups(state)), default=0)
        return found

    def _groups(self, state: int) -> Groups:
        groups = self.shared.groups.get(state)
        if groups is None:
            ids = np.flatnonzero(self.grammar.mask_for(state).numpy())
            ids = ids[ids != self.grammar.vocab.eos_token_id]
            with self.grammar._lock:
                groups = self.shared.tokens.groups(self.grammar.dfa, state, 0, ids)
            self.shared.groups[state] = groups
            if len(self.shared.groups) > _REGEX_GROUPS_KEPT:
                self.shared.groups.popitem(last=False)
        return groups


class CFGCompletions:
    """Configurations are (parse state, lexer state). Successor groups come from walking the same
    cached `LexNode` graph as the mask, with the parse state each node is reached with."""

    def __init__(self, grammar: CFGGrammar, shared: _Shared):
        self.grammar, self.shared = grammar, shared
        self.parses = ParseCompletions(shared.strings)
        self._max: dict[tuple[int, int], tuple[object, int]] = {}  # (parse, node) -> (parse kept alive, max)

    def configs(self, state):
        return state

    def state_of(self, config) -> tuple:
        return (config,)

    def completion(self, config) -> bytes | None:
        parse, q = config
        g = self.grammar
        if q in g._start_states:
            return self.parses.complete(parse)

        def rest(terminal: int) -> bytes | None:
            options = [self.parses.complete(parse)] if terminal in g.grammar.ignore else []
            if terminal in parse.allowed:
                options.append(self.parses.after(parse, terminal))
            options = [o for o in options if o is not None]
            return min(options, key=len) if options else None

        with g._lock:
            return self.shared.search(g.dfa, q).cheapest(rest)

    def successors(self, state) -> list[tuple[np.ndarray, tuple]]:
        out: list[tuple[np.ndarray, tuple]] = []
        seen: set[tuple[int, int]] = set()

        def walk(parse, node: LexNode, where: tuple[int, int]) -> None:
            if (id(parse), id(node)) in seen:
                return
            seen.add((id(parse), id(node)))
            out.extend((ids, (parse, end)) for end, ids in self._groups(node, where))
            for child, after, below in self._branches(parse, node):
                walk(after, child, below)

        with self.grammar._lock:
            for parse, q in state:
                walk(parse, self.grammar._walk(q, ROOT), (q, 0))
        return out

    def successor_max(self, state, measure: Callable) -> int:
        def subtree(parse, node: LexNode, where: tuple[int, int]) -> int:
            key = (id(parse), id(node))
            hit = self._max.get(key)
            if hit is not None:
                return hit[1]
            value = max((measure((parse, end)) for end, _ in self._groups(node, where)), default=0)
            for child, after, below in self._branches(parse, node):
                value = max(value, subtree(after, child, below))
            self._max[key] = (parse, value)
            return value

        with self.grammar._lock:
            return max(subtree(parse, self.grammar._walk(q, ROOT), (q, 0)) for parse, q in state)

    def _branches(self, parse, node: LexNode):
        """(walk below, parse after, (its start, depth)) for each terminal that may end inside a
        token, one walk per depth of its nodes (the tokens below a depth share their offset)."""
        for terminal, nodes in node.branches:
            for depth, below in by_depth(self.grammar._trie, nodes):
                for after, start in self.grammar._after(parse, terminal):
                    yield self.grammar._walk(start, below), after, (start, depth)

    def _groups(self, node: LexNode, where: tuple[int, int]) -> Groups:
        """The node's tokens by the lexer state they end in (they are read from `where`: a lexer
        state, and how many of their bytes came before it)."""
        hit = self.shared.node_groups.get(id(node))
        if hit is None:
            ids = node.ids(self.grammar.vocab.size)
            hit = self.shared.node_groups[id(node)] = (node, self.shared.tokens.groups(self.grammar.dfa, *where, ids))
        return hit[1]
