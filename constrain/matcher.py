"""A compiled constraint, and the per-sequence matcher that walks it.

`CompiledGrammar` is immutable and shareable across threads and sequences; each engine (a regex DFA
in `mask.regex`, a lexer plus Earley parser in `mask.cfg`) implements its four state methods.
`Matcher` is the cheap per-sequence cursor over any of them: a state, a history for rollback, and
whether EOS was consumed.
"""
from __future__ import annotations

from typing import Any

import torch


class CompiledGrammar:
    """A constraint bound to a vocabulary; call `matcher()` for each sequence to constrain."""

    vocab: Any
    source: str = ""

    def matcher(self) -> "Matcher":
        """A fresh cursor at the start of the output."""
        return Matcher(self)

    def initial_state(self) -> Any:
        raise NotImplementedError

    def mask_for(self, state: Any) -> torch.Tensor:
        """Bool tensor of `vocab.size`: tokens allowed in `state`, EOS included where it may end."""
        raise NotImplementedError

    def step(self, state: Any, token_id: int) -> Any | None:
        """The state after one (non-EOS) token, or None if the token is not allowed."""
        raise NotImplementedError

    def is_accepting(self, state: Any) -> bool:
        raise NotImplementedError


class Matcher:
    """Where one output is in a `CompiledGrammar`."""

    def __init__(self, grammar: CompiledGrammar):
        self.grammar = grammar
        self._state = grammar.initial_state()
        self._history: list[Any] = []
        self._terminated = False

    def mask(self) -> torch.Tensor:
        """Bool tensor over the vocabulary: tokens allowed next (do not modify). After EOS only EOS
        is allowed, so a finished row in a batch always has a token to sample."""
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
        nxt = self.grammar.step(self._state, int(token_id))
        if nxt is None:
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
        return self._terminated or self.grammar.is_accepting(self._state)

    def is_terminated(self) -> bool:
        """Has EOS been consumed?"""
        return self._terminated

    def copy(self) -> "Matcher":
        other = Matcher(self.grammar)
        other._state, other._history, other._terminated = self._state, list(self._history), self._terminated
        return other

    def reset(self) -> None:
        self._state, self._history, self._terminated = self.grammar.initial_state(), [], False

    @property
    def num_tokens(self) -> int:
        """Tokens consumed so far, EOS included."""
        return len(self._history)

    def _eos_only(self) -> torch.Tensor:
        mask = torch.zeros(self.grammar.vocab.size, dtype=torch.bool)
        mask[self.grammar.vocab.eos_token_id] = True
        return mask
