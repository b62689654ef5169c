"""A compiled constraint over one vocabulary, and the per-sequence matcher that walks it.

`CompiledGrammar` is immutable and shareable (across threads and sequences): the automaton and a
bounded cache of per-state masks. `Matcher` is the cheap per-sequence cursor: a state, a history for
rollback, and whether EOS was consumed. Masks are computed once per automaton state (see
`index.trie`) and then served from the cache, so the per-token cost is a dictionary lookup.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import torch

from .automaton.dfa import DEAD, DFA
from .index.trie import trie_of


class CompiledGrammar:
    """An automaton bound to a vocabulary; call `matcher()` for each sequence to constrain."""

    def __init__(self, dfa: DFA, vocab, *, source: str = "", mask_cache_size: int = 2048):
        self.dfa = dfa
        self.vocab = vocab
        self.source = source
        self._trie = trie_of(vocab)
        self._masks: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._cache_size = mask_cache_size
        self._lock = threading.Lock()

    def matcher(self) -> "Matcher":
        """A fresh cursor at the start of the output."""
        return Matcher(self)

    def mask_for(self, state: int) -> torch.Tensor:
        """Bool tensor of `vocab.size`: the tokens allowed in `state` (cached; do not modify)."""
        mask = self._masks.get(state)
        if mask is not None:
            return mask
        with self._lock:  # the lazy DFA grows while masks are computed
            mask = self._masks.get(state)
            if mask is None:
                mask = self._compute(state)
                self._masks[state] = mask
                if len(self._masks) > self._cache_size:
                    self._masks.popitem(last=False)
        return mask

    def step(self, state: int, token_id: int) -> int:
        """The state after `token_id` (not EOS), or DEAD."""
        if token_id in self.vocab.special_token_ids or not 0 <= token_id < self.vocab.size:
            return DEAD
        data = self.vocab.tokens[token_id]
        if not data:
            return DEAD
        with self._lock:
            return self.dfa.walk(state, data)

    def _compute(self, state: int) -> torch.Tensor:
        mask = np.zeros(self.vocab.size, dtype=bool)
        if state != DEAD:
            self._trie.fill_allowed(self.dfa, state, mask)
            mask[self.vocab.eos_token_id] = self.dfa.is_accepting(state)
        return torch.from_numpy(mask)


class Matcher:
    """Where one output is in a `CompiledGrammar`."""

    def __init__(self, grammar: CompiledGrammar):
        self.grammar = grammar
        self._state = grammar.dfa.start
        self._history: list[int] = []
        self._terminated = False

    def mask(self) -> torch.Tensor:
        """Bool tensor over the vocabulary: tokens allowed next. After EOS only EOS is allowed, so a
        finished row in a batch always has a token to sample."""
        if self._terminated:
            return self._eos_only()
        return self.grammar.mask_for(self._state)

    def advance(self, token_id: int) -> bool:
        """Consume one token; return False (state unchanged) if it is not allowed."""
        if self._terminated:
            return False
        if token_id == self.grammar.vocab.eos_token_id:
            if not self.is_accepting():
                return False
            self._history.append(self._state)
            self._terminated = True
            return True
        nxt = self.grammar.step(self._state, token_id)
        if nxt == DEAD:
            return False
        self._history.append(self._state)
        self._state = nxt
        return True

    def advance_many(self, token_ids) -> bool:
        """Consume tokens in order; on the first refusal roll back all of them and return False."""
        done = 0
        for tid in token_ids:
            if not self.advance(int(tid)):
                self.rollback(done)
                return False
            done += 1
        return True

    def rollback(self, num_tokens: int = 1) -> None:
        """Undo the last `num_tokens` accepted tokens."""
        if num_tokens > len(self._history):
            raise ValueError(f"cannot roll back {num_tokens} tokens, only {len(self._history)} consumed")
        for _ in range(num_tokens):
            if self._terminated:
                self._terminated = False
                self._history.pop()
            else:
                self._state = self._history.pop()

    def is_accepting(self) -> bool:
        """May the output end here (EOS allowed)?"""
        return self._terminated or self.grammar.dfa.is_accepting(self._state)

    def is_terminated(self) -> bool:
        """Has EOS been consumed?"""
        return self._terminated

    def copy(self) -> "Matcher":
        other = Matcher(self.grammar)
        other._state, other._history, other._terminated = self._state, list(self._history), self._terminated
        return other

    def reset(self) -> None:
        self._state, self._history, self._terminated = self.grammar.dfa.start, [], False

    @property
    def num_tokens(self) -> int:
        """Tokens consumed so far, EOS included."""
        return len(self._history)

    def _eos_only(self) -> torch.Tensor:
        mask = torch.zeros(self.grammar.vocab.size, dtype=torch.bool)
        mask[self.grammar.vocab.eos_token_id] = True
        return mask
