"""Constrained decoding with fast-forward: tokens the mask forces are appended without sampling.

When a row's mask allows exactly one token (a property name's last piece, `":"`, a closing bracket, EOS),
sampling could only pick that token, so it is appended at once and the next forward pass feeds it
together with the sampled token before it: one pass over a chunk of several tokens instead of one pass
per token. The chunk's outputs still score every token (log-softmax of the raw logits at the position
before it), so `Sample.mean_logprob` means what it means for `model.generate`.

Rows of a batch force different numbers of tokens. Each step's chunks are left-padded to the longest,
the padding masked out in the attention mask and the position ids counting real tokens only, so every
row's last real token sits in the last column (where the next token's logits are read) and a row never
waits for another. Finished rows feed padding until the batch ends.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from transformers import DynamicCache
from transformers.generation.logits_process import TemperatureLogitsWarper, TopPLogitsWarper

from ..errors import GenerationError
from ..matcher import Matcher
from .processor import apply_masks


@dataclass
class Row:
    """One output being decoded. `sequence` is prompt + output; the first `fed` of its tokens are in the
    KV cache; `logprobs` covers the output's first len(logprobs) tokens (forced ones wait for a pass)."""

    sequence: list[int]
    prompt_length: int
    matcher: Matcher
    fed: int = 0
    logprobs: list[float] = field(default_factory=list)
    forced: int = 0
    done: bool = False
    complete: bool = False
    mask: torch.Tensor | None = None  # the mask for the next sampled token, once computed

    @property
    def output(self) -> list[int]:
        return self.sequence[self.prompt_length:]

    def to_feed(self) -> list[int]:
        """Tokens the next pass feeds: all not yet cached, but a finished row's last (nothing follows it)."""
        return self.sequence[self.fed:len(self.sequence) - self.done]

    def to_score(self) -> int:
        """Positions whose logits the next pass must give: one per unscored token, plus the next sample's."""
        return len(self.output) - len(self.logprobs) + (not self.done)


def only_token(mask: torch.Tensor) -> int | None:
    """The mask's single allowed token, or None when it allows several. Vectorised, in numpy (a view of
    the mask): a torch op this small costs more in waking its thread pool than in counting."""
    allowed = mask.numpy()
    if np.count_nonzero(allowed) != 1:
        return None
    return int(allowed.argmax())


def decode(model, eos_token_id: int, encoded: list[list[int]], matchers: list[Matcher], *, temperature: float,
           top_p: float, max_new_tokens: int, pad_token_id: int) -> list[Row]:
    """Decode one row per prompt under its matcher; greedy when `temperature` is 0, else sampled like
    `model.generate` (mask, then temperature, then top-p nucleus, no top-k). Matchers end having consumed
    their whole row, EOS included when it ended."""
    if len(matchers) != len(encoded):
        raise GenerationError(f"{len(matchers)} matchers for a batch of {len(encoded)} rows")
    rows = [Row(list(ids), len(ids), matcher) for ids, matcher in zip(encoded, matchers)]
    for row in rows:
        _fast_forward(row, eos_token_id, max_new_tokens)
    warpers = ([TemperatureLogitsWarper(temperature)] if temperature not in (0.0, 1.0) else []) + (
        [TopPLogitsWarper(top_p)] if temperature > 0 and top_p < 1.0 else [])
    cache = DynamicCache(config=model.config)
    attention = torch.zeros((len(rows), 0), dtype=torch.long, device=model.device)
    while any(row.to_score() for row in rows):
        logits, attention = _forward(model, rows, cache, attention, pad_token_id)
        logprobs = torch.log_softmax(logits, dim=-1)
        for r, row in enumerate(rows):
            _score_forced(row, logprobs[r])
        live = [r for r, row in enumerate(rows) if not row.done]
        if not live:
            break
        chosen = _choose(logits[live, -1], [rows[r].mask for r in live], warpers, temperature > 0)
        for r, token in zip(live, chosen):
            row = rows[r]
            if not row.matcher.advance(token):
                raise GenerationError(f"row {r}: token {token} was chosen but the constraint does not allow it")
            row.sequence.append(token)
            row.logprobs.append(float(logprobs[r, -1, token]))
            _fast_forward(row, eos_token_id, max_new_tokens)
    return rows


def _fast_forward(row: Row, eos_token_id: int, max_new_tokens: int) -> None:
    """After the row's newest token, end the row or append the tokens its masks force, and keep the
    first mask that leaves a choice for the next sample."""
    while True:
        output = row.output
        if output and output[-1] == eos_token_id:
            row.done = row.complete = True
            return
        if len(output) >= max_new_tokens:
            row.done = True
            return
        mask = row.matcher.mask()
        token = only_token(mask)
        if token is None:
            row.mask = mask
            return
        if not row.matcher.advance(token):
            raise GenerationError(f"token {token} is the only one the mask allows, but the matcher refuses it")
        row.sequence.append(token)
        row.forced += 1


def _forward(model, rows: list[Row], cache: DynamicCache, attention: torch.Tensor,
             pad_token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One pass over every row's unfed tokens, left-padded to a common width; returns the float32
    logits of the last `max(to_score)` positions and the attention mask grown by this chunk."""
    chunks = [row.to_feed() for row in rows]
    width = max(map(len, chunks))
    keep = max(row.to_score() for row in rows)
    ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    real = torch.zeros((len(rows), width), dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    for r, (row, chunk) in enumerate(zip(rows, chunks)):
        if chunk:
            ids[r, width - len(chunk):] = torch.tensor(chunk)
            real[r, width - len(chunk):] = 1
            positions[r, width - len(chunk):] = torch.arange(row.fed, row.fed + len(chunk))
        row.fed += len(chunk)
    attention = torch.cat([attention, real.to(attention.device)], dim=1)
    with torch.no_grad():
        out = model(input_ids=ids.to(model.device), attention_mask=attention, position_ids=positions.to(model.device),
                    past_key_values=cache, use_cache=True, logits_to_keep=keep)
    return out.logits.float(), attention


def _score_forced(row: Row, logprobs: torch.Tensor) -> None:
    """Record the log-probabilities of the row's unscored (forced) tokens from this pass's positions."""
    unscored = row.output[len(row.logprobs):]
    if not unscored:
        return
    start = logprobs.shape[0] - row.to_score()
    picked = logprobs[start:start + len(unscored)].gather(1, torch.tensor(unscored, device=logprobs.device)[:, None])
    row.logprobs.extend(picked.squeeze(1).tolist())


def _choose(logits: torch.Tensor, masks: list[torch.Tensor], warpers: list, sampled: bool) -> list[int]:
    """The next token of each live row: argmax of the masked logits, or a draw after the warpers."""
    scores = apply_masks(logits, masks)
    if not sampled:
        return scores.argmax(dim=-1).tolist()
    for warper in warpers:
        scores = warper(None, scores)
    return torch.multinomial(torch.softmax(scores, dim=-1), num_samples=1).squeeze(1).tolist()
