"""One batch of outputs: token ids, whether each row ended, and its mean log-probability.

Free generation is one `model.generate` call; constrained generation is the fast-forwarding loop of
`decode` (or `model.generate` with the constraint's logits processor, when asked not to fast-forward).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import GenerationConfig, LogitsProcessor, LogitsProcessorList

from ..errors import GenerationError
from ..matcher import Matcher
from ..vocab import Vocabulary
from .decode import decode
from .processor import ConstrainedLogitsProcessor


@dataclass(frozen=True)
class Sampling:
    """How one round samples: greedy when `temperature` is 0; `seed` reseeds torch first (None: don't)."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None


@dataclass
class Sample:
    """One generated row. token_ids run through EOS when `complete` (the model ended the output before
    `max_new_tokens`). mean_logprob: see `LogProbRecorder`. forced: tokens appended without sampling
    because the constraint allowed nothing else (`decode`)."""

    token_ids: list[int]
    complete: bool
    mean_logprob: float
    forced: int = 0


class LogProbRecorder(LogitsProcessor):
    """Records, per row, log-softmax of the model's raw logits at the token chosen at each step.

    Placed first among the processors `generate` is given, it sees the logits before any mask,
    temperature or top-p (our `GenerationConfig` creates no processor ahead of the custom ones), so the
    figure scores a constrained and an unconstrained output alike: what the unconstrained model thinks of
    the tokens. Only the last step's distribution is kept, not all of them (`output_logits` would hold
    max_new_tokens x rows x vocabulary floats).
    """

    def __init__(self) -> None:
        self.steps: list[torch.Tensor] = []  # [rows] log-probability of the token chosen at each step
        self._last: torch.Tensor | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self._last is not None:
            self._take(input_ids[:, -1])
        self._last = torch.log_softmax(scores.float(), dim=-1)
        return scores

    def finish(self, last_tokens: torch.Tensor) -> torch.Tensor:
        """[rows, steps] log-probabilities, given the tokens chosen at the final step."""
        if self._last is not None:
            self._take(last_tokens)
            self._last = None
        return torch.stack(self.steps, dim=1)

    def _take(self, tokens: torch.Tensor) -> None:
        self.steps.append(self._last.gather(1, tokens.to(self._last.device)[:, None]).squeeze(1).cpu())


def sample_batch(model, vocab: Vocabulary, encoded: list[list[int]], sampling: Sampling, *,
                 max_new_tokens: int, pad_token_id: int, matchers: list[Matcher] | None = None,
                 fast_forward: bool = True) -> list[Sample]:
    """Generate one row per prompt (token ids), masked by `matchers` (one per row) when given.

    Each matcher is left having consumed its whole row (EOS included when the row ended), so
    `is_accepting()` says whether the constraint accepts the output. fast_forward: constrained rows
    go through `decode`, which appends forced tokens without sampling (greedy outputs are the same;
    seeded samples differ, as forced tokens draw no random numbers); False: `model.generate`.
    """
    limit = getattr(model.config, "max_position_embeddings", None)
    for k, ids in enumerate(encoded):
        if limit is not None and len(ids) + max_new_tokens > limit:
            raise GenerationError(f"prompt {k} has {len(ids)} tokens; with max_new_tokens="
                                  f"{max_new_tokens} it exceeds the model's context of {limit}")
    if sampling.seed is not None:
        torch.manual_seed(sampling.seed)
    if matchers is not None and fast_forward:
        rows = decode(model, vocab.eos_token_id, encoded, matchers, temperature=sampling.temperature,
                      top_p=sampling.top_p, max_new_tokens=max_new_tokens, pad_token_id=pad_token_id)
        return [Sample(row.output, row.complete, sum(row.logprobs) / len(row.logprobs) if row.logprobs else 0.0,
                       row.forced) for row in rows]
    width = max(len(ids) for ids in encoded)
    input_ids = torch.tensor([[pad_token_id] * (width - len(ids)) + ids for ids in encoded], device=model.device)
    attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in encoded], device=model.device)
    sampled = sampling.temperature > 0
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=sampled, eos_token_id=vocab.eos_token_id,
                              pad_token_id=pad_token_id,
                              **({"temperature": sampling.temperature, "top_p": sampling.top_p, "top_k": 0}
                                 if sampled else {}))
    recorder = LogProbRecorder()
    processors = [recorder] + ([ConstrainedLogitsProcessor(matchers)] if matchers is not None else [])
    with torch.no_grad():
        out = model.generate(input_ids=input_ids, attention_mask=attention, generation_config=config,
                             logits_processor=LogitsProcessorList(processors))
    new = out[:, width:]
    logprobs = recorder.finish(new[:, -1])
    samples = []
    for row, ids in enumerate(new.tolist()):
        complete = vocab.eos_token_id in ids
        n = ids.index(vocab.eos_token_id) + 1 if complete else len(ids)
        ids = ids[:n]
        if matchers is not None and ids and not matchers[row].is_terminated() and matchers[row].num_tokens < n:
            matchers[row].advance(ids[-1])  # the processor sees every token but the last
        samples.append(Sample(ids, complete, float(logprobs[row, :n].mean()) if n else 0.0))
    return samples
