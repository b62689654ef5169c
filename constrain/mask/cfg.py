"""Masks for a context-free constraint: one lexer automaton shared by every set of expected
terminals, an Earley parser over terminals, and a cached tree of trie walks between them.

A state is a tuple of configurations `(parse state, lexer state)`: the parser after the terminals
completed so far, and the lexer inside the current (maybe empty) terminal. A token may finish one
terminal and start the next anywhere inside its bytes, so one token can branch into several
configurations; any split of the text into terminals counts (the language is the grammar's, with
`%ignore` terminals allowed between any two terminals).

The lexer is one DFA over the union of all terminals; the lexer for a parse state is just the DFA
state that starts the terminals it expects (plus the ignored ones). Every such start shares the
states the starts can both reach, so an object with 80 optional properties (80 different expected
sets) costs 80 start states, not 80 automata.

How a mask is computed (why it is fast after warm-up): for a start, one vectorised trie walk
(`index.trie`) gives a `LexNode`: the tokens that end inside the current terminal, and the trie nodes
where a terminal T can end, by T. Only those nodes need the parser: scanning T (memoised on the
parse state) gives the next expected terminal set, whose start continues the walk below T's nodes
(at every depth at once), as another cached `LexNode`. So a mask is a walk over a small cached graph
plus one scatter of token ids per node; the trie is walked once per (start, trie nodes), not once
per token. A new walk from a state that behaves like another on most bytes (a property name's
prefix and "any other name") is computed as the difference from that state's walk (`_reference`).
"""
from __future__ import annotations

import threading
import weakref

import numpy as np
import torch

from ..automaton import nfa
from ..automaton.regex import CharSet, Repeat
from ..automaton.dfa import DEAD, DFA
from ..errors import GrammarError, LimitError
from ..grammar.cfg import Grammar
from ..grammar.earley import EarleyParser, ParseState
from ..index.trie import ROOT, trie_of
from ..matcher import CompiledGrammar, copy_mask
from .lru import BoundedCache
from .walks import LexNode, SharedWalks, is_dense

MAX_STEPS = 200_000  # per grammar: remembered (state, token) -> state steps
MAX_DIFFERENT_BYTES = 32  # a walk is computed relative to another state's if their rows differ on at most this
Config = tuple[ParseState, int]  # the parse so far, the lexer DFA state inside the current terminal
# a cached mask (`_compute_mask`): a bool mask or None, the ids it lacks or None, more ids
Mask = tuple["np.ndarray | None", "np.ndarray | None", np.ndarray]
_NO_IDS = np.zeros(0, dtype=np.int64)


class CFGGrammar(CompiledGrammar):
    """A reduced context-free grammar bound to a vocabulary."""

    def __init__(self, grammar: Grammar, vocab, *, source: str = "", max_nfa_states: int = 200_000,
                 max_lexer_states: int = 50_000, max_configs: int = 256, mask_cache_bytes: int = 64 << 20):
        self.grammar = grammar
        self.vocab = vocab
        self.source = source
        self.parser = EarleyParser(grammar)
        weakref.finalize(self, self.parser.release).atexit = False  # its states are freed with this grammar
        self._trie = trie_of(vocab)
        self.dfa = DFA(nfa.build_union([t.pattern for t in grammar.terminals], max_nfa_states), max_lexer_states)
        self._start_of: dict[tuple[frozenset[int], int | None], int] = {}  # (parse.allowed, repeat) -> start
        self._start_states: set[int] = set()
        # walks below the same trie nodes from the same lexer state are shared, whichever path led
        # there: without this, a run of ignorable spaces (a branch point at every byte) costs
        # 2^length walks; walks inside one terminal are also shared with other grammars
        self._walks = BoundedCache(mask_cache_bytes, size=lambda node: node.nbytes)
        self._shared = SharedWalks.of(self._trie)
        self._patterns = [t.pattern for t in grammar.terminals]
        self._max_configs = max_configs
        self._eos = np.array([vocab.eos_token_id])
        self._lock = threading.RLock()
        # parse states are interned (`grammar.earley`), so a state recurs in every output that
        # reaches the same point: its mask and its token steps are computed once
        self._masks = BoundedCache(mask_cache_bytes, size=_mask_bytes)
        self._steps: dict[tuple[tuple[Config, ...], int], tuple[Config, ...] | None] = {}
        self._check_terminals()
        self._self_closed = frozenset(t for t in grammar.ignore if _closed_under_repetition(grammar.terminals[t].pattern))

    # ---------------------------------------------------------------- protocol

    def initial_state(self) -> tuple[Config, ...]:
        parse = self.parser.initial()
        return ((parse, self._start(parse)),)

    def is_accepting(self, state: tuple[Config, ...]) -> bool:
        for parse, q in state:  # a loop, not any(): asked for every new state
            if self._config_accepts(parse, q):
                return True
        return False

    def mask_for(self, state: tuple[Config, ...]) -> torch.Tensor:
        out = np.empty(self.vocab.size, dtype=bool)
        self.fill_mask(state, out)
        return torch.from_numpy(out)

    def fill_mask(self, state: tuple[Config, ...], out: np.ndarray) -> None:
        dense, removed, ids = self._cached_mask(state)
        if dense is None:
            out[:] = False
        else:
            copy_mask(dense, out)
            if removed is not None:
                out[removed] = False
        out[ids] = True

    def _cached_mask(self, state: tuple[Config, ...]) -> Mask:
        with self._lock:
            cached = self._masks.get(state)
            if cached is None:
                cached = self._compute_mask(state)
                self._masks.put(state, cached)
        return cached

    def _compute_mask(self, state: tuple[Config, ...]) -> Mask:
        """The state's mask, to cache: a walk's bool mask where one has many tokens (inside a string;
        few such states, met again and again), less the ids it `removed`, plus the other walks' ids.
        A mask is written to a new bool array only where several walks have many tokens: a new
        vocabulary-sized array costs ~20 us of page faults, more than all else a new state costs."""
        dense: list[tuple[np.ndarray, np.ndarray | None]] = []
        ids: list[np.ndarray] = []
        seen: dict[tuple[int, int], ParseState] = {}
        for parse, q in state:
            self._collect(parse, self._walk(q, ROOT), dense, ids, seen)
        if self.is_accepting(state):
            ids.append(self._eos)
        allowed = np.concatenate(ids, dtype=np.int64) if ids else _NO_IDS  # int64: scatters fastest
        if len(dense) == 1:
            return dense[0][0], dense[0][1], allowed
        if not dense and not is_dense(allowed.size, self.vocab.size):
            return None, None, allowed  # a token reached twice is set twice
        out = np.zeros(self.vocab.size, dtype=bool)
        for more, removed in dense:
            if removed is not None:
                more = more.copy()
                more[removed] = False
            out |= more
        out[allowed] = True
        if is_dense(int(np.count_nonzero(out)), self.vocab.size):
            return out, None, _NO_IDS
        return None, None, np.flatnonzero(out)

    def step(self, state: tuple[Config, ...], token_id: int) -> tuple[Config, ...] | None:
        if token_id in self.vocab.special_token_ids or not 0 <= token_id < self.vocab.size:
            return None
        with self._lock:
            key = (state, token_id)
            if key in self._steps:
                return self._steps[key]
            configs = self._read(list(state), self.vocab.tokens[token_id])
            if len(self._steps) >= MAX_STEPS:
                self._steps.clear()
            nxt = self._steps[key] = tuple(configs) if configs else None
        return nxt

    # ---------------------------------------------------------------- internals

    def _check_terminals(self) -> None:
        for k, terminal in enumerate(self.grammar.terminals):
            start = self.dfa.start_for([k])
            if start == DEAD:
                raise GrammarError(f"terminal {terminal.name} matches nothing")
            if self.dfa.is_accepting(start):
                raise GrammarError(f"terminal {terminal.name} matches the empty string")

    def _start(self, parse: ParseState, after_ignored: int | None = None) -> int:
        """The lexer state that starts what `parse` expects plus the ignored terminals. Right after
        an ignored terminal that is closed under repetition (`/[ \\t]+/`), that terminal is left
        out: a second one would only split the same text again, and every split costs a branch."""
        repeat = after_ignored if after_ignored in self._self_closed else None
        start = self._start_of.get((parse.allowed, repeat))  # a frozenset keeps its hash: a cheap key
        if start is None:
            key = parse.allowed | self.grammar.ignore
            if repeat is not None:
                key = key - {repeat} | (parse.allowed & {repeat})
            start = self._start_of[parse.allowed, repeat] = self.dfa.start_for(sorted(key))  # one per subset
            self._start_states.add(start)
        return start

    def _after(self, parse: ParseState, terminal: int) -> list[tuple[ParseState, int]]:
        """(parse state, next start) once `terminal` ends: an ignored terminal leaves the parse as
        it is, and the parser may also expect it (a terminal can be both)."""
        out = []
        if terminal in self.grammar.ignore:
            out.append((parse, self._start(parse, after_ignored=terminal)))
        if terminal in parse.allowed:
            after = parse.scan(terminal)
            out.append((after, self._start(after)))
        return out

    def _after_any(self, parse: ParseState, terminals: frozenset[int]) -> list[tuple[ParseState, int]]:
        """`_after` for a text all of `terminals` match: the parser's readings merged in one state."""
        out = [(parse, self._start(parse, after_ignored=t)) for t in terminals & self.grammar.ignore]
        after = parse.scan_any(terminals & parse.allowed)
        if after is not None:
            out.append((after, self._start(after)))
        return out

    def _config_accepts(self, parse: ParseState, q: int) -> bool:
        """Whether the output may end in this configuration: its terminal ends here (`_after_any`)
        and the parse after it accepts."""
        if q in self._start_states:
            return parse.accepting
        labels = self.dfa.labels(q)
        if not labels:
            return False
        if parse.accepting and not labels.isdisjoint(self.grammar.ignore):
            return True  # an ignored terminal ends: the parse is unchanged
        after = parse.scan_any(labels & parse.allowed)
        return after is not None and after.accepting

    def _read(self, configs: list[Config], data: bytes) -> list[Config]:
        """The configurations after `data`. A lone configuration reads in compiled code up to where
        its terminal could end (inside a string: the whole token); from there, byte by byte."""
        array = np.frombuffer(data, dtype=np.uint8)
        i = 0
        while i < len(data) and configs:
            if len(configs) == 1:
                parse, q = configs[0]
                i, q = self.dfa.run(q, array, i)
                configs = [(parse, q)] if q != DEAD else []
                if i == len(data) or not configs:
                    break
            configs = self._step_byte(configs, data[i])
            i += 1
        return configs

    def _step_byte(self, configs: list[Config], byte: int) -> list[Config]:
        out: dict[tuple[int, int], Config] = {}
        step = self.dfa.step
        for parse, q in configs:
            moved = step(q, byte)
            if moved != DEAD:
                out.setdefault((id(parse), moved), (parse, moved))
            for after, start in self._after_any(parse, self.dfa.labels(q)):
                moved = step(start, byte)  # end the terminal here, start the next one
                if moved != DEAD:
                    out.setdefault((id(after), moved), (after, moved))
        if len(out) > self._max_configs:
            raise LimitError("the grammar is too ambiguous here: too many ways to split the text into "
                             "terminals", "max_configs", self._max_configs)
        return list(out.values())

    def _collect(self, parse: ParseState, node: LexNode, dense: list, ids: list, seen: dict) -> None:
        """Gather the tokens of `node` (as `dense` masks or `ids` arrays) and of the walks its branch
        points lead to from `parse`."""
        key = (id(parse), id(node))
        if key in seen:
            return
        seen[key] = parse  # keeps `parse` alive, so its id is not reused during this walk
        if node.dense is not None:
            dense.append((node.dense, node.removed))
        if node.tokens.size:
            ids.append(node.tokens)
        for terminal, nodes in node.branches:
            for after, start in self._after(parse, terminal):
                self._collect(after, self._walk(start, nodes), dense, ids, seen)

    def _walk(self, q: int, nodes: np.ndarray, relative: bool = True) -> LexNode:
        """The walk below trie `nodes` (none below another) from lexer state `q`: this grammar's cached
        one, else the one shared across grammars when `q` lies inside one terminal, else a new walk:
        a path down the trie when one text is left to read, else a walk of the automaton
        (`relative`: computed from a similar state's walk where there is one)."""
        key = (q, nodes.tobytes())
        node = self._walks.get(key)
        if node is not None:
            return node
        k = self.dfa.owner(q)
        rest = shared_key = None
        if k is not None:  # shared by where it is inside the terminal, or by what is left of a literal
            rest = self.dfa.forced(q)
            if rest is not None:
                shared_key = (rest, key[1])
            else:  # a counted string's counts far from its bounds are one place (`DFA.inside`)
                shared_key = (self._patterns[k], self.dfa.inside(q, self._trie.horizon), key[1])
            base = self._shared.get(shared_key)
            if base is not None:
                node = base.with_terminal(k)
                self._walks.put(key, node)
                return node
        if rest is not None:
            node = LexNode.literal(self._trie, self.dfa, nodes, rest, k, self.vocab.size)
        else:
            r = self._reference(q, nodes) if relative else DEAD
            base = self._walk(r, nodes, relative=False) if r != DEAD else None
            if base is not None and base.dense is not None:
                node = LexNode.relative(base, self._trie, self.dfa, nodes, q, r, self.vocab.size)
            else:
                node = LexNode(self._trie, self.dfa, nodes, q, self.vocab.size, k)
        self._walks.put(key, node)
        if shared_key is not None:
            self._shared.put(shared_key, node)
        return node

    def _reference(self, q: int, nodes: np.ndarray) -> int:
        """A state whose walk below `nodes` differs little from `q`'s, or DEAD: from the root only
        (below other nodes walks are small), the state most bytes lead to from `q`, if the two
        agree on all but a few bytes and the state lives on more (`DFA.reference`). A property name's
        prefix leads back to "any other name" on most bytes, so the prefix's walk is a small
        difference from that one walk instead of a walk of the whole trie."""
        if nodes.size != 1 or nodes[0] != ROOT[0]:
            return DEAD
        return self.dfa.reference(q, MAX_DIFFERENT_BYTES)


def _mask_bytes(mask: Mask) -> int:
    """A cached mask's arrays, a mask shared with a walk counted too (`LexNode.nbytes`)."""
    dense, removed, ids = mask
    return ids.nbytes + (dense.nbytes if dense is not None else 0) + (removed.nbytes if removed is not None else 0)


def _closed_under_repetition(pattern) -> bool:
    """True for `X+` where X is a character set: then `X+ X+` adds no text `X+` lacks."""
    return isinstance(pattern, Repeat) and pattern.min == 1 and pattern.max is None \
        and isinstance(pattern.item, CharSet)
