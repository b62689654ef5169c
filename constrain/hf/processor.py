"""The transformers adapter: a `LogitsProcessor` that applies one matcher's mask per batch row."""
from __future__ import annotations

import numpy as np
import torch
from transformers import LogitsProcessor

from ..errors import GenerationError
from ..matcher import Matcher


def apply_masks(scores: torch.Tensor, masks: list[torch.Tensor]) -> torch.Tensor:
    """`scores` [rows, width] with each row's disallowed tokens at -inf; columns past the vocabulary
    (a padded lm head) are disallowed too."""
    stacked = torch.stack(masks)
    width = scores.shape[-1]
    check_width(stacked.shape[1], width)
    if stacked.shape[1] < width:
        stacked = torch.nn.functional.pad(stacked, (0, width - stacked.shape[1]), value=False)
    return scores.masked_fill(~stacked.to(scores.device), float("-inf"))


def check_width(vocab_size: int, width: int) -> None:
    if vocab_size > width:
        raise GenerationError(f"the vocabulary has {vocab_size} tokens but the logits only {width}")


class ConstrainedLogitsProcessor(LogitsProcessor):
    """Masks each row's logits with its own matcher, for greedy and sampled `model.generate`.

    Give one matcher per batch row (rows may follow different grammars), or a single matcher that is
    copied for every row. The processor feeds each row's newest token to its matcher before masking,
    so it must see every step of one `generate` call, in order (beam search, which reorders rows, is
    not supported). Logits wider than the vocabulary (a padded lm head) are masked out past its end.
    Matchers made with `budget=max_new_tokens` close their output in time (`constrain.budget`).
    """

    def __init__(self, matchers: Matcher | list[Matcher]):
        self.matchers = [matchers] if isinstance(matchers, Matcher) else list(matchers)
        self._started = False
        self._allowed = np.zeros((0, 0), dtype=bool)  # [rows, width], each row filled in place per step

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        rows = input_ids.shape[0]
        if not self._started:
            self._started = True
            if len(self.matchers) == 1 and rows > 1:
                self.matchers += [self.matchers[0].copy() for _ in range(rows - 1)]
            if len(self.matchers) != rows:
                raise GenerationError(f"{len(self.matchers)} matchers for a batch of {rows} rows")
        else:
            self._consume(input_ids)
        width = scores.shape[-1]
        check_width(max(m.grammar.vocab.size for m in self.matchers), width)
        if self._allowed.shape != (rows, width):
            self._allowed = np.zeros((rows, width), dtype=bool)
        for matcher, row in zip(self.matchers, self._allowed):
            matcher.fill_mask(row)
        return scores.masked_fill(~torch.from_numpy(self._allowed).to(scores.device), float("-inf"))

    def _consume(self, input_ids: torch.LongTensor) -> None:
        newest = input_ids[:, -1].tolist()
        for row, (matcher, token) in enumerate(zip(self.matchers, newest)):
            if matcher.is_terminated():
                continue  # finished rows receive padding
            if not matcher.advance(token):
                raise GenerationError(
                    f"row {row}: token {token} was sampled but the constraint does not allow it "
                    f"(was the processor skipped for a step, or are rows reordered?)")
