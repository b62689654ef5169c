"""How `generate_structured` reaches a valid value: rounds of constrained or free sampling, each output
read (parsed, or repaired) and checked, the best of N candidates kept, failed prompts sampled again.

The pieces that need no model (the sampling schedule, the prompt builders, reading and checking an
output, choosing a candidate) are plain functions; `run_rounds` drives them with the model.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from referencing.exceptions import Unresolvable

from .hf.sample import Sample, Sampling, sample_batch
from .matcher import CompiledGrammar, Matcher
from .repair import RepairError, repair_json
from .schema import SchemaError, load_schema
from .schema.validation import local_validator
from .vocab import Vocabulary

# Retries sample hotter round after round (a greedy retry would repeat the failure), within a nucleus
# that cuts the tail a small model gets lost in.
RETRY_TEMPERATURES = (0.7, 0.9, 1.1)
RETRY_TOP_P = 0.95


def sampling_schedule(attempts: int, first: Sampling, *, best_of: int = 1) -> list[Sampling]:
    """One `Sampling` per round: the caller's first, then hotter ones with a fresh seed each.

    Round r >= 1 uses temperature max(caller's, RETRY_TEMPERATURES[r-1]) (the last one repeats),
    top-p min(caller's, RETRY_TOP_P) and seed+r (no reseeding when the caller gave no seed: the
    global generator has moved on anyway). Several candidates per round cannot all be greedy (they
    would be the same), so a greedy round 0 with best_of > 1 samples like round 1.
    """
    rounds = []
    for r in range(attempts):
        if r == 0 and (best_of == 1 or first.temperature > 0):
            rounds.append(first)
            continue
        hotter = RETRY_TEMPERATURES[min(max(r - 1, 0), len(RETRY_TEMPERATURES) - 1)]
        rounds.append(Sampling(temperature=max(first.temperature, hotter), top_p=min(first.top_p, RETRY_TOP_P),
                               seed=None if first.seed is None else first.seed + r))
    return rounds


def schema_prompt(prompt: str, schema: Any) -> str:
    """The prompt for free (unconstrained) generation: the request, then the schema the reply must fit."""
    return (f"{prompt}\n\nReply with only the JSON data, no other text. It must be valid against this JSON "
            f"Schema (the schema itself is not the reply):\n{json.dumps(schema, ensure_ascii=False)}")


def feedback_prompt(prompt: str, text: str, errors: list[str]) -> str:
    """The prompt again, with the rejected reply and the validator's messages, for the next round."""
    return f"{prompt}\n\nA previous reply was:\n{text}\nIt was rejected: {'; '.join(errors)}\nWrite a corrected reply."


def schema_validator(schema: Any) -> jsonschema.protocols.Validator:
    """The `jsonschema` validator that decides validity: the schema's draft, formats asserted."""
    schema = load_schema(schema)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as e:
        pointer = "#" + "".join(f"/{p}" for p in e.path)
        raise SchemaError(f"not a valid JSON Schema: {e.message}", pointer) from None
    return local_validator(cls, schema)


def schema_errors(validator: jsonschema.protocols.Validator, value: Any) -> list[str]:
    """The validator's messages for `value`, each prefixed by the JSON path it is about; [] when valid.
    A `$ref` to another document is never fetched (`local_validator`): it is an error, since a value
    is never called valid without being checked."""
    try:
        return sorted(f"{e.json_path}: {e.message}" for e in validator.iter_errors(value))
    except Unresolvable as e:
        return [f"$: the schema's $ref {e.ref!r} names another document, which is never fetched"]


@dataclass
class Candidate:
    """One output read and checked. method: "constrained" (read as is from constrained decoding) or
    "repaired" (read by `repair_json`: free text, or constrained text cut off by max_new_tokens)."""

    text: str
    value: Any
    valid: bool
    errors: list[str]
    method: str
    sample: Sample


def best_candidate(candidates: list[Candidate]) -> Candidate:
    """The valid candidate with the highest mean log-probability (the first on ties); with none valid,
    the likeliest invalid one, so the result shows the model's most probable failure."""
    valid = [c for c in candidates if c.valid]
    return max(valid or candidates, key=lambda c: c.sample.mean_logprob)


def output_text(vocab: Vocabulary, token_ids: list[int]) -> str:
    """The generated text: token bytes without EOS or other special tokens."""
    data = b"".join(vocab.tokens[t] for t in token_ids if t not in vocab.special_token_ids)
    return data.decode("utf-8", errors="replace")


def judge(sample: Sample, text: str, *, matcher: Matcher | None, validator, repair: bool,
          max_new_tokens: int) -> Candidate:
    """Read and check one output.

    Without a validator (regex, choices, grammar) the constraint decides: valid iff the matcher accepts
    the whole text. With a schema, constrained text the matcher accepts is read with `json.loads`;
    other text (free, or cut off) with `repair_json` when `repair` is on; then `jsonschema` decides.
    """
    cut = f"cut off by max_new_tokens={max_new_tokens} before the output was complete"
    if validator is None:
        ok = matcher.is_accepting()
        return Candidate(text, text if ok else None, ok, [] if ok else [cut], "constrained", sample)
    if matcher is not None and matcher.is_accepting():
        value, errors, method = json.loads(text), [], "constrained"
    elif matcher is not None and not repair:
        value, errors, method = None, [cut], "constrained"
    else:
        method = "repaired"
        try:
            value, errors = repair_json(text, validator.schema if isinstance(validator.schema, dict) else None), []
        except RepairError as e:
            value, errors = None, [str(e)]
    if not errors:
        errors = schema_errors(validator, value)
    return Candidate(text, value if not errors else None, not errors, errors, method, sample)


@dataclass
class Job:
    """What every round of one `generate_structured` call shares. compiled None: free generation."""

    model: Any
    vocab: Vocabulary
    encode: Callable[[str], list[int]]
    pad_token_id: int
    compiled: CompiledGrammar | None
    validator: Any
    repair: bool
    best_of: int
    feedback: bool
    max_new_tokens: int
    budget: bool

    def prompt_for(self, prompt: str, previous: Candidate | None) -> str:
        if self.compiled is None and self.validator is not None:
            prompt = schema_prompt(prompt, self.validator.schema)
        if self.feedback and previous is not None:
            prompt = feedback_prompt(prompt, previous.text, previous.errors)
        return prompt


@dataclass
class Outcome:
    """Where one prompt ended: the chosen candidate, the rounds it took and what they cost."""

    chosen: Candidate
    attempts: int
    tokens_used: int
    timings: dict[str, float] = field(default_factory=lambda: {"generate": 0.0, "check": 0.0})


def run_rounds(job: Job, prompts: list[str], schedule: list[Sampling]) -> list[Outcome]:
    """Sample `job.best_of` candidates per prompt per round (all pending prompts in one batch), keep
    each prompt's best, and sample again, with the next round's settings, the prompts without a valid one."""
    outcomes: list[Outcome | None] = [None] * len(prompts)
    for sampling in schedule:
        pending = [i for i, o in enumerate(outcomes) if o is None or not o.chosen.valid]
        if not pending:
            break
        texts = [job.prompt_for(prompts[i], outcomes[i] and outcomes[i].chosen) for i in pending]
        encoded = [job.encode(t) for t in texts for _ in range(job.best_of)]
        budget = job.max_new_tokens if job.budget else None
        matchers = [job.compiled.matcher(budget=budget) for _ in encoded] if job.compiled is not None else None
        start = time.perf_counter()
        samples = sample_batch(job.model, job.vocab, encoded, sampling, max_new_tokens=job.max_new_tokens,
                               pad_token_id=job.pad_token_id, matchers=matchers)
        generate_seconds = time.perf_counter() - start
        for j, i in enumerate(pending):
            start = time.perf_counter()
            rows = range(j * job.best_of, (j + 1) * job.best_of)
            candidates = [judge(samples[r], output_text(job.vocab, samples[r].token_ids),
                                matcher=matchers[r] if matchers else None, validator=job.validator,
                                repair=job.repair, max_new_tokens=job.max_new_tokens) for r in rows]
            outcome = outcomes[i] or Outcome(candidates[0], 0, 0)
            outcome.chosen = best_candidate(candidates)
            outcome.attempts += 1
            outcome.tokens_used += sum(len(samples[r].token_ids) for r in rows)
            outcome.timings["generate"] += generate_seconds
            outcome.timings["check"] += time.perf_counter() - start
            outcomes[i] = outcome
    return outcomes
