"""Masks for a context-free constraint: a lexer DFA per set of expected terminals, an Earley parser
over terminals, and a cached tree of trie walks between them.

A state is a tuple of configurations `(parse state, lexer, lexer state)`: the parser after the
terminals completed so far, and the lexer inside the current (maybe empty) terminal. A token may finish one
terminal and start the next anywhere inside its bytes, so one token can branch into several
configurations; any split of the text into terminals counts (the language is the grammar's, with
`%ignore` terminals allowed between any two terminals).

How a mask is computed (why it is fast after warm-up): for a lexer (terminal set) and a start, one
vectorised trie walk (`index.trie`) gives a `LexNode`: the tokens that end inside the current
terminal, and the trie nodes where a terminal T can end, grouped by (T, depth). Only those groups
need the parser: scanning T (memoised on the parse state) gives the next expected terminal set,
whose lexer continues the walk below the group's nodes, as another cached `LexNode`. So a mask is a
walk over a small cached graph plus one scatter of token ids per node; the trie is walked once per
(lexer, start), not once per token.
"""
from __future__ import annotations

import threading

import numpy as np
import torch

from ..automaton import nfa
from ..automaton.regex import CharSet, Repeat
from ..automaton.dfa import DEAD, DFA
from ..errors import GrammarError, LimitError
from ..grammar.cfg import Grammar
from ..grammar.earley import EarleyParser, ParseState
from ..index.trie import TokenTrie, trie_of
from ..matcher import CompiledGrammar

Config = tuple[ParseState, "Lexer", int]  # parse, lexer for the current terminal, its state


class Lexer:
    """A DFA over the terminals a parse state expects, plus the ignored ones; labels are terminal ids."""

    def __init__(self, grammar: Grammar, terminals: frozenset[int], max_nfa_states: int, max_states: int):
        self.terminals = sorted(terminals)
        patterns = [grammar.terminals[t].pattern for t in self.terminals]
        self.dfa = DFA(nfa.build_union(patterns, max_nfa_states), max_states)
        self.roots: dict[int, LexNode] = {}

    def terminals_of(self, state: int) -> list[int]:
        return [self.terminals[label] for label in self.dfa.labels[state]]


class LexNode:
    """Tokens that end inside the current terminal, and where a terminal may end inside a token."""

    __slots__ = ("tokens", "dense", "branches")

    def __init__(self, trie: TokenTrie, lexer: Lexer, depth: int, nodes: np.ndarray, states: np.ndarray,
                 vocab_size: int):
        found = []
        groups: dict[tuple[int, int], list[np.ndarray]] = {}
        self._branch_points(lexer, depth, nodes, states, groups)
        for d, alive, alive_states in trie.walk(lexer.dfa, depth, nodes, states):
            found.append(trie.tokens_at(d, alive))
            self._branch_points(lexer, d, alive, alive_states, groups)
        self.tokens = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
        self.dense = None  # many tokens (inside a string, say): OR-ing a bool mask beats scattering ids
        if self.tokens.size * 16 > vocab_size:
            self.dense = np.zeros(vocab_size, dtype=bool)
            self.dense[self.tokens] = True
            self.tokens = self.tokens[:0]
        self.branches = [(t, d, np.sort(np.concatenate(parts))) for (t, d), parts in groups.items()]

    @staticmethod
    def _branch_points(lexer: Lexer, depth: int, nodes: np.ndarray, states: np.ndarray, groups) -> None:
        ending = lexer.dfa.accepting[states]
        if not ending.any():
            return
        nodes, states = nodes[ending], states[ending]
        for state in np.unique(states).tolist():
            at = nodes[states == state]
            for terminal in lexer.terminals_of(state):
                groups.setdefault((terminal, depth), []).append(at)


class CFGGrammar(CompiledGrammar):
    """A reduced context-free grammar bound to a vocabulary."""

    def __init__(self, grammar: Grammar, vocab, *, source: str = "", max_nfa_states: int = 200_000,
                 max_lexer_states: int = 20_000, max_configs: int = 256):
        self.grammar = grammar
        self.vocab = vocab
        self.source = source
        self.parser = EarleyParser(grammar)
        self._trie = trie_of(vocab)
        self._lexers: dict[frozenset[int], Lexer] = {}
        # walks below the same trie nodes with the same lexer are shared, whichever path led there:
        # without this, a run of ignorable spaces (a branch point at every byte) costs 2^length walks
        self._walks: dict[tuple[int, int, bytes], LexNode] = {}
        self._max_nfa_states = max_nfa_states
        self._max_lexer_states = max_lexer_states
        self._max_configs = max_configs
        self._lock = threading.RLock()
        self._check_terminals()
        self._self_closed = frozenset(t for t in grammar.ignore if _closed_under_repetition(grammar.terminals[t].pattern))

    # ---------------------------------------------------------------- protocol

    def initial_state(self) -> tuple[Config, ...]:
        """A fresh start for each output: parse states memoise their successors, so a shared start
        would keep every output's parse tree alive for as long as the grammar."""
        return (self._start_config(self.parser.initial()),)

    def is_accepting(self, state: tuple[Config, ...]) -> bool:
        return any(self._config_accepts(*config) for config in state)

    def mask_for(self, state: tuple[Config, ...]) -> torch.Tensor:
        out = np.zeros(self.vocab.size, dtype=bool)
        with self._lock:
            seen: dict[tuple[int, int], ParseState] = {}
            for parse, lexer, q in state:
                root = lexer.roots.get(q)
                if root is None:
                    root = lexer.roots[q] = LexNode(self._trie, lexer, 0, np.zeros(1, dtype=np.int64),
                                                    np.array([q], dtype=np.int32), self.vocab.size)
                self._collect(parse, root, out, seen)
            out[self.vocab.eos_token_id] = self.is_accepting(state)
        return torch.from_numpy(out)

    def step(self, state: tuple[Config, ...], token_id: int) -> tuple[Config, ...] | None:
        if token_id in self.vocab.special_token_ids or not 0 <= token_id < self.vocab.size:
            return None
        configs = list(state)
        with self._lock:
            for byte in self.vocab.tokens[token_id]:
                configs = self._step_byte(configs, byte)
                if not configs:
                    return None
        return tuple(configs)

    # ---------------------------------------------------------------- internals

    def _check_terminals(self) -> None:
        for terminal in self.grammar.terminals:
            dfa = DFA(nfa.build(terminal.pattern, self._max_nfa_states), self._max_lexer_states)
            if dfa.start == DEAD:
                raise GrammarError(f"terminal {terminal.name} matches nothing")
            if dfa.is_accepting(dfa.start):
                raise GrammarError(f"terminal {terminal.name} matches the empty string")

    def _lexer(self, parse: ParseState, after_ignored: int | None = None) -> Lexer:
        """The lexer for what `parse` expects plus the ignored terminals. Right after an ignored
        terminal that is closed under repetition (`/[ \\t]+/`), that terminal is left out: a second
        one would only split the same text again, and every split costs a branch."""
        key = parse.allowed | self.grammar.ignore
        if after_ignored in self._self_closed:
            key = key - {after_ignored} | (parse.allowed & {after_ignored})
        lexer = self._lexers.get(key)
        if lexer is None:
            lexer = self._lexers[key] = Lexer(self.grammar, key, self._max_nfa_states, self._max_lexer_states)
        return lexer

    def _start_config(self, parse: ParseState) -> Config:
        lexer = self._lexer(parse)
        return parse, lexer, lexer.dfa.start

    def _after(self, parse: ParseState, terminal: int) -> list[tuple[ParseState, Lexer]]:
        """(parse state, lexer) once `terminal` ends: an ignored terminal leaves the parse as it is,
        and the parser may also expect it (a terminal can be both)."""
        out = []
        if terminal in self.grammar.ignore:
            out.append((parse, self._lexer(parse, after_ignored=terminal)))
        if terminal in parse.allowed:
            after = parse.scan(terminal)
            out.append((after, self._lexer(after)))
        return out

    def _config_accepts(self, parse: ParseState, lexer: Lexer, q: int) -> bool:
        if q == lexer.dfa.start:
            return parse.accepting
        return any(after.accepting for t in lexer.terminals_of(q) for after, _ in self._after(parse, t))

    def _step_byte(self, configs: list[Config], byte: int) -> list[Config]:
        out: dict[tuple[int, int, int], Config] = {}
        for parse, lexer, q in configs:
            moved = lexer.dfa.step(q, byte)
            if moved != DEAD:
                out.setdefault((id(parse), id(lexer), moved), (parse, lexer, moved))
            for after, nxt in (a for t in lexer.terminals_of(q) for a in self._after(parse, t)):
                moved = nxt.dfa.step(nxt.dfa.start, byte)  # end the terminal here, start the next one
                if moved != DEAD:
                    out.setdefault((id(after), id(nxt), moved), (after, nxt, moved))
        if len(out) > self._max_configs:
            raise LimitError("the grammar is too ambiguous here: too many ways to split the text into "
                             "terminals", "max_configs", self._max_configs)
        return list(out.values())

    def _collect(self, parse: ParseState, node: LexNode, out: np.ndarray, seen: dict) -> None:
        key = (id(parse), id(node))
        if key in seen:
            return
        seen[key] = parse  # keeps `parse` alive, so its id is not reused during this walk
        if node.dense is not None:
            np.logical_or(out, node.dense, out=out)
        elif node.tokens.size:
            out[node.tokens] = True
        for terminal, depth, nodes in node.branches:
            for after, lexer in self._after(parse, terminal):
                self._collect(after, self._walk_below(lexer, depth, nodes), out, seen)

    def _walk_below(self, lexer: Lexer, depth: int, nodes: np.ndarray) -> LexNode:
        """The cached walk that starts a new terminal below trie `nodes` of `depth`."""
        key = (id(lexer), depth, nodes.tobytes())
        node = self._walks.get(key)
        if node is None:
            starts = np.full(nodes.size, lexer.dfa.start, dtype=np.int32)
            node = self._walks[key] = LexNode(self._trie, lexer, depth, nodes, starts, self.vocab.size)
        return node


def _closed_under_repetition(pattern) -> bool:
    """True for `X+` where X is a character set: then `X+ X+` adds no text `X+` lacks."""
    return isinstance(pattern, Repeat) and pattern.min == 1 and pattern.max is None \
        and isinstance(pattern.item, CharSet)
