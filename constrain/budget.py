"""Token budgets: a constrained output that `max_new_tokens` never cuts off.

With a budget (`grammar.matcher(budget=max_new_tokens)`), the mask only allows tokens after which a
valid output still fits in the tokens left, EOS counted as one of them (as transformers counts it).
So the output ends with EOS, complete and valid, whatever the model prefers; and a budget no output
fits in is a `BudgetError` before generating (`min_new_tokens` says how many are needed).

How much a point of an output still needs: a shortest byte completion from each configuration of
its state (`mask.shortest`: DFA searches, then the Earley items' cheapest way up to the start
symbol), split into the fewest tokens (`index.segment`), plus EOS. That is an upper bound on the
true fewest tokens (a longer text can take fewer tokens: "Hello" is one token, "Aa" two), so the
policy below is sound, if a little cautious near the limit. The minimum of a fresh output is exact:
a breadth-first search over token successors (`FirstPlans.fewest`) finds the fewest tokens and a
plan that takes them, so every budget that any valid output fits in is accepted (unless the search
gives up, after `SEARCH_LIMIT` expansions: then `BudgetError.exact` is False).

Policy, with R tokens left (EOS included) in a state:
- If every token the unbudgeted mask allows leads to a configuration that needs at most R - 1
  (checked against a cheap bound: a completion whose bytes are all single tokens needs at most one
  token per byte, and memoised per walk of the mask), the mask is the unbudgeted mask itself: far from
  the limit nothing changes.
- Otherwise the tokens are taken group by group (the tokens of a group lead to the same
  configuration) and a group stays only if that configuration needs at most R - 1. The next token of
  the plan (the split completion the output follows) is always allowed, since the rest of the plan
  fits; following it fast-forwards through the closing tokens once R reaches the plan's length.
- EOS is allowed exactly where the grammar accepts, as without a budget.
`Matcher.advance` refuses a token the narrowed mask would not allow, so the invariant "the state
needs at most R" always holds and a mask is never empty. No step loops over the vocabulary: groups
are numpy arrays of token ids, from the masks' cached walks stepped through the automaton at once.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .cache import once_per
from .errors import BudgetError
from .index.segment import segmenter_of
from .mask.shortest import completions_for

NEVER = 1 << 62  # needs more tokens than any budget


class Completions:
    """How many tokens the states of one output still need (memoised; copies of a matcher share it)."""

    def __init__(self, grammar):
        self.grammar = grammar
        self.view = completions_for(grammar)
        self.segmenter = segmenter_of(grammar.vocab)
        self._bytes: dict = {}
        self._splits: dict = {}
        self._bounds: dict = {}

    def need(self, config) -> int:
        """Tokens (EOS included) of the planned completion after `config`."""
        split = self.split(config)
        return NEVER if split is None else len(split) + 1

    def bound(self, config) -> int:
        """An upper bound on `need`, cheap when the completion's bytes are all single tokens."""
        found = self._bounds.get(config)
        if found is None:
            data = self.completion(config)
            if data is not None and self.segmenter.single[np.frombuffer(data, dtype=np.uint8)].all():
                found = len(data) + 1
            else:
                found = self.need(config)
            self._bounds[config] = found
        return found

    def fits(self, config, left: int) -> bool:
        return self.bound(config) <= left or self.need(config) <= left

    def split(self, config) -> list[int] | None:
        """The fewest tokens spelling a shortest completion after `config` (None: no completion)."""
        if config not in self._splits:
            data = self.completion(config)
            self._splits[config] = None if data is None else self.segmenter.split(data)
        return self._splits[config]

    def plan(self, state) -> list[int] | None:
        """The shortest planned completion of `state` over its configurations."""
        splits = [s for s in map(self.split, self.view.configs(state)) if s is not None]
        return min(splits, key=len) if splits else None

    def narrow(self, state, mask: torch.Tensor, left: int, plan: Callable[[], list[int] | None]) -> torch.Tensor:
        """`mask` (the unbudgeted mask of `state`) restricted to tokens after which the output still
        fits in `left` tokens; `plan()` is the completion being followed, known to fit (asked for
        only when the mask narrows)."""
        if self.view.successor_max(state, self.bound) <= left - 1:
            return mask
        out = np.zeros(mask.shape[0], dtype=bool)
        for ids, config in self.view.successors(state):
            if self.fits(config, left - 1):
                out[ids] = True
        following = plan()
        if following:
            out[following[0]] = True
        eos = self.grammar.vocab.eos_token_id
        out[eos] = bool(mask[eos])
        return torch.from_numpy(out)

    def completion(self, config) -> bytes | None:
        """A shortest byte completion after `config` (None: none)."""
        if config not in self._bytes:
            self._bytes[config] = self.view.completion(config)
        return self._bytes[config]


def start(grammar, budget: int) -> tuple[Completions, list[int]]:
    """The completions of a fresh output and the plan it starts with; `BudgetError` if no output fits
    in `budget` tokens. The search for the fewest tokens only runs when the split shortest
    completion does not fit, so a roomy budget costs nothing up front."""
    plan = _first_plans(grammar).quick
    if plan is None or budget < len(plan) + 1:
        plan, exact = _first_plans(grammar).fewest()
        if plan is None or budget < len(plan) + 1:
            raise BudgetError(budget, None if plan is None else len(plan) + 1, grammar.source, exact)
    return Completions(grammar), plan


def min_new_tokens(grammar) -> int:
    """The fewest tokens, EOS included, that a budget for a fresh output of `grammar` must allow
    (exact unless the search gave up: see `FirstPlans.fewest`)."""
    plan, exact = _first_plans(grammar).fewest()
    if plan is None:
        raise BudgetError(0, None, grammar.source, exact)
    return len(plan) + 1


SEARCH_LIMIT = 200  # configurations expanded when looking for the fewest tokens of a whole output


class FirstPlans:
    """How a fresh output of one grammar can be finished: `quick`, the split shortest completion of
    the start (None: none), and `fewest()`, the proven fewest tokens when the search succeeds."""

    def __init__(self, grammar):
        self.grammar = grammar
        self._state = grammar.initial_state()
        self._completions = Completions(grammar)
        self.quick = self._completions.plan(self._state)
        self._fewest: tuple[list[int] | None, bool] | None = None

    def fewest(self) -> tuple[list[int] | None, bool]:
        """(the fewest tokens of a whole output, whether that is proven).

        A breadth-first search over configurations, one token per layer (the tokens of a successor
        group count once), stopped at the first accepting layer: exact, and affordable because
        configurations merge (a grammar's parse state depends on the terminals read, not on their
        text). It goes no deeper than `quick`, and falls back to it after `SEARCH_LIMIT` expansions.
        """
        if self._fewest is None:
            depth = NEVER if self.quick is None else len(self.quick)
            shorter, proven = _search(self.grammar, self._completions.view, self._state, depth)
            self._fewest = (shorter or self.quick, proven)
            self._state = self._completions = None  # the parse states the search made die here
        return self._fewest


_first_plans = once_per(FirstPlans)


def _search(grammar, view, state, depth: int) -> tuple[list[int] | None, bool]:
    """(tokens of an output shorter than `depth`, True), or (None, True) when there is none, or
    (None, False) when the search gave up."""
    parents: dict = {c: None for c in view.configs(state)}
    layer, expanded = list(parents), 0
    for _ in range(depth):
        for config in layer:
            if grammar.is_accepting(view.state_of(config)):
                path = []
                while parents[config] is not None:
                    config, token = parents[config]
                    path.append(token)
                return path[::-1], True
        expanded += len(layer)
        if expanded > SEARCH_LIMIT:
            return None, False
        nxt = []
        for config in layer:
            for ids, after in view.successors(view.state_of(config)):
                if after not in parents:
                    parents[after] = (config, int(ids[0]))
                    nxt.append(after)
        layer = nxt
    return None, True
