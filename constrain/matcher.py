"""A compiled constraint, and the per-sequence matcher that walks it.

`CompiledGrammar` is immutable and shareable across threads and sequences; each engine (a regex DFA
in `mask.regex`, a lexer plus Earley parser in `mask.cfg`) implements its four state methods.
`Matcher` is the cheap per-sequence cursor over any of them: a state, a history for rollback, and
whether EOS was consumed; with a token budget, also the plan that closes the output in time
(`constrain.budget`).
"""
from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch


class CompiledGrammar:
    """A constraint bound to a vocabulary; call `matcher()` for each sequence to constrain."""

    vocab: Any
    source: str = ""

    def matcher(self, budget: int | None = None) -> "Matcher":
        """A fresh cursor at the start of the output (`budget`: see `Matcher`)."""
        return Matcher(self, budget=budget)

    def initial_state(self) -> Any:
        raise NotImplementedError

    def mask_for(self, state: Any) -> torch.Tensor:
        """Bool tensor of `vocab.size`: tokens allowed in `state`, EOS included where it may end."""
        raise NotImplementedError

    def fill_mask(self, state: Any, out: np.ndarray) -> None:
        """Write `mask_for(state)` into `out`, a bool array of at least `vocab.size` (columns past the
        vocabulary, a padded lm head, are cleared): the caller reuses one buffer, so no mask is
        allocated per token."""
        copy_mask(self.mask_for(state), out)

    def step(self, state: Any, token_id: int) -> Any | None:
        """The state after one (non-EOS) token, or None if the token is not allowed."""
        raise NotImplementedError

    def is_accepting(self, state: Any) -> bool:
        raise NotImplementedError


class Matcher:
    """Where one output is in a `CompiledGrammar`.

    budget: the most tokens this output may take, EOS included (pass `max_new_tokens`). The mask then
    only allows tokens after which a valid output still fits, so the output is never cut off; a
    budget too small for any output is a `BudgetError` here, before generating. None: no limit.
    """

    def __init__(self, grammar: CompiledGrammar, budget: int | None = None):
        self.grammar = grammar
        self.budget = budget
        self._state = grammar.initial_state()
        self._history: list[tuple[Any, list[int] | None]] = []  # (state, plan) before each token
        self._terminated = False
        self._completions = self._plan = None
        if budget is not None:
            from .budget import start
            self._completions, self._plan = start(grammar, budget)

    def mask(self) -> torch.Tensor:
        """Bool tensor over the vocabulary: tokens allowed next (do not modify). After EOS only EOS
        is allowed, so a finished row in a batch always has a token to sample."""
        if self._terminated:
            return self._eos_only()
        mask = self.grammar.mask_for(self._state)
        if self.budget is None:
            return mask
        return self._completions.narrow(self._state, mask, self.remaining, self._current_plan)

    def fill_mask(self, out: np.ndarray) -> None:
        """`mask()` written into `out`, a reused bool array of at least the vocabulary's size (columns
        past it are cleared), as xgrammar's and llguidance's matchers fill a caller's bitmask row."""
        if out.dtype.kind != "b" or out.ndim != 1 or out.shape[0] < self.grammar.vocab.size:
            raise ValueError(f"fill_mask needs a 1-D bool array of at least {self.grammar.vocab.size} "
                             f"entries (the vocabulary), not {out.dtype} of shape {out.shape}")
        if self._terminated or self.budget is not None:
            copy_mask(self.mask(), out)
        else:
            self.grammar.fill_mask(self._state, out)

    def advance(self, token_id: int) -> bool:
        """Consume one token; return False (state unchanged) if it is not allowed."""
        if self._terminated:
            return False
        if token_id == self.grammar.vocab.eos_token_id:
            if not self.is_accepting():
                return False
            self._history.append((self._state, self._plan))
            self._terminated = True
            return True
        nxt = self.grammar.step(self._state, int(token_id))
        if nxt is None:
            return False
        plan = None
        if self.budget is not None:
            if self._plan and self._plan[0] == token_id:
                plan = self._plan[1:]
            elif not any(self._completions.fits(c, self.remaining - 1) for c in self._completions.view.configs(nxt)):
                return False
        self._history.append((self._state, self._plan))
        self._state, self._plan = nxt, plan
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
            self._state, self._plan = self._history.pop()
            self._terminated = False

    def is_accepting(self) -> bool:
        """May the output end here (EOS allowed)?"""
        return self._terminated or self.grammar.is_accepting(self._state)

    def is_terminated(self) -> bool:
        """Has EOS been consumed?"""
        return self._terminated

    def copy(self) -> "Matcher":
        """An independent cursor at the same point (sharing the budget's memoised completions)."""
        other = copy.copy(self)
        other._history = list(self._history)
        return other

    def reset(self) -> None:
        self._state, self._history, self._terminated = self.grammar.initial_state(), [], False
        if self.budget is not None:
            from .budget import start
            self._completions, self._plan = start(self.grammar, self.budget)

    @property
    def num_tokens(self) -> int:
        """Tokens consumed so far, EOS included."""
        return len(self._history)

    @property
    def remaining(self) -> int | None:
        """Tokens the budget still allows, EOS included (None without a budget)."""
        return None if self.budget is None else self.budget - len(self._history)

    def _current_plan(self) -> list[int] | None:
        if self._plan is None:  # the last token was not the plan's: plan again from here
            self._plan = self._completions.plan(self._state)
        return self._plan

    def _eos_only(self) -> torch.Tensor:
        mask = torch.zeros(self.grammar.vocab.size, dtype=torch.bool)
        mask[self.grammar.vocab.eos_token_id] = True
        return mask


def copy_mask(mask: torch.Tensor | np.ndarray, out: np.ndarray) -> None:
    """`mask` into the front of `out`, the rest of `out` cleared."""
    size = mask.shape[0]
    out[:size] = mask.numpy() if isinstance(mask, torch.Tensor) else mask
    if out.shape[0] > size:
        out[size:] = False
