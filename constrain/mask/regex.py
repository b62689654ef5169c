"""Masks for a regular constraint: one DFA; a state's mask is computed once and cached.

Each DFA state's mask comes from a vectorised trie walk (`index.trie`), then lives in a bounded cache,
so the per-token cost is a dictionary lookup.
"""
from __future__ import annotations

import threading

import numpy as np
import torch

from ..automaton.dfa import DEAD, DFA
from ..index.trie import trie_of
from ..matcher import CompiledGrammar
from .lru import BoundedCache


class RegexGrammar(CompiledGrammar):
    """A DFA bound to a vocabulary. States are DFA state numbers."""

    def __init__(self, dfa: DFA, vocab, *, source: str = "", mask_cache_bytes: int = 64 << 20):
        self.dfa = dfa
        self.vocab = vocab
        self.source = source
        self._trie = trie_of(vocab)
        self._masks = BoundedCache(mask_cache_bytes)
        self._lock = threading.Lock()  # the lazy DFA grows while masks are computed

    def initial_state(self) -> int:
        return self.dfa.start

    def is_accepting(self, state: int) -> bool:
        return self.dfa.is_accepting(state)

    def mask_for(self, state: int) -> torch.Tensor:
        with self._lock:
            mask = self._masks.get(state)
            if mask is None:
                mask = np.zeros(self.vocab.size, dtype=bool)
                self._trie.fill_allowed(self.dfa, state, mask)
                mask[self.vocab.eos_token_id] = self.dfa.is_accepting(state)
                mask = torch.from_numpy(mask)
                self._masks.put(state, mask)
        return mask

    def step(self, state: int, token_id: int) -> int | None:
        if token_id in self.vocab.special_token_ids or not 0 <= token_id < self.vocab.size:
            return None
        with self._lock:
            nxt = self.dfa.walk(state, self.vocab.tokens[token_id])
        return None if nxt == DEAD else nxt
