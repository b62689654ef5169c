"""`generate_structured`: one call from a prompt to a value that fits a structure, with how it was obtained
(the strategies themselves are in `strategies`)."""
from __future__ import annotations

import json
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from .compile import compile_choices, compile_lark, compile_regex
from .errors import GenerationError
from .hf.sample import Sampling
from .matcher import CompiledGrammar
from .schema import UnsupportedSchemaError, compile_json_schema
from .strategies import Job, Outcome, run_rounds, sampling_schedule, schema_validator
from .vocab import Vocabulary


@dataclass
class StructuredResult:
    """One prompt's output and how it was obtained.

    value: the JSON value (schema), the text (regex, grammar) or the chosen string (choices); None unless
    `valid`. text: the raw text generated (without EOS) that the value was read from. valid: jsonschema
    accepts the value (schema), or the constraint accepts the whole text (regex, grammar, choices);
    errors: why not (the validator's messages, a repair failure, a cut-off), [] when valid.
    method: "constrained" (read as is from constrained decoding), "repaired" (read by `repair_json` from
    free text, or from constrained text cut off by max_new_tokens), "retried" (valid only after more
    than one round); attempts: rounds sampled for this prompt.
    token_ids: the chosen output's tokens (EOS included when `complete`: the model ended it before
    max_new_tokens). tokens_used: tokens generated for this prompt over all rounds and candidates.
    mean_logprob: mean over the chosen output's tokens (EOS included) of log-softmax of the model's raw
    logits, before any mask, temperature or top-p, so constrained and free candidates compare.
    seconds: this prompt's wall time, the sum of `timings` (compile, generate, check); rows of one
    batch share the compile and each round's generate time.
    """

    text: str
    value: Any
    valid: bool
    errors: list[str]
    method: str
    attempts: int
    token_ids: list[int]
    complete: bool
    tokens_used: int
    mean_logprob: float
    seconds: float
    timings: dict[str, float]
    prompt: str = field(repr=False, default="")


_VOCABS: "weakref.WeakKeyDictionary[Any, Vocabulary]" = weakref.WeakKeyDictionary()
_GRAMMARS: "weakref.WeakKeyDictionary[Vocabulary, dict[tuple, CompiledGrammar]]" = weakref.WeakKeyDictionary()
_GRAMMAR_CACHE_SIZE = 64


def vocabulary_for(model, tokenizer) -> Vocabulary:
    """The tokenizer's vocabulary, as wide as the model's logits, built once per tokenizer."""
    vocab = _VOCABS.get(tokenizer)
    width = model.config.vocab_size
    if vocab is None or vocab.size != width:
        vocab = Vocabulary.from_tokenizer(tokenizer, size=max(width, len(tokenizer)))
        _VOCABS[tokenizer] = vocab
    return vocab


def _grammar(vocab: Vocabulary, given: tuple[str, Any]) -> CompiledGrammar:
    """The compiled constraint, from the per-vocabulary cache when it was compiled before."""
    kind, spec = given
    if isinstance(spec, CompiledGrammar):
        if spec.vocab is not vocab and spec.vocab.tokens != vocab.tokens:
            raise GenerationError("the compiled grammar was built for another vocabulary")
        return spec
    key, build = {
        "schema": lambda: (json.dumps(spec), lambda: compile_json_schema(spec, vocab)),
        "regex": lambda: (spec, lambda: compile_regex(spec, vocab)),
        "choices": lambda: (tuple(spec), lambda: compile_choices(spec, vocab)),
        "grammar": lambda: (str(spec), lambda: compile_lark(spec, vocab)),
    }[kind]()
    cache = _GRAMMARS.setdefault(vocab, {})
    if (kind, key) not in cache:
        if len(cache) >= _GRAMMAR_CACHE_SIZE:
            cache.pop(next(iter(cache)))
        cache[kind, key] = build()
    return cache[kind, key]


def prompt_ids(tokenizer, prompt: str, *, chat: bool = True, system: str | None = None) -> list[int]:
    """Token ids of the prompt, through the chat template when the tokenizer has one."""
    if chat and getattr(tokenizer, "chat_template", None):
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": prompt}]
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    else:
        text = prompt if system is None else f"{system}\n\n{prompt}"
    return tokenizer(text, add_special_tokens=False)["input_ids"]


STRATEGIES = ("auto", "constrained", "repair", "retry")
DEFAULT_ATTEMPTS = {"auto": 3, "constrained": 1, "repair": 1, "retry": 3}


def generate_structured(model, tokenizer, prompt: str | list[str], *, schema=None, regex: str | None = None,
                        grammar=None, choices: list[str] | None = None, strategy: str = "auto",
                        attempts: int | None = None, best_of: int = 1, feedback: bool = False, budget: bool = True,
                        max_new_tokens: int = 128, temperature: float = 0.0, top_p: float = 1.0,
                        seed: int | None = None, chat: bool = True, system: str | None = None,
                        ) -> StructuredResult | list[StructuredResult]:
    """Generate a value that fits the constraint; greedy first when `temperature` is 0.

    Give exactly one constraint: `schema` (JSON Schema as a dict, JSON text or Pydantic class),
    `regex` (the whole output must match), `choices` (the output is one of these strings) or `grammar`
    (Lark text, a path to a .lark file, or any compiled grammar). A list of prompts is generated as
    one batch and gives a list of results.

    strategy: "constrained" masks every token; "repair" (schema only) generates freely from a prompt
    that shows the schema, then reads the text with `repair_json`; "retry" (schema only) is "repair"
    sampled again until valid; "auto" (default) is "constrained" with the repairer reading output cut
    off by max_new_tokens and later rounds resampling, or "retry" when the schema is unsupported.
    attempts: the most rounds per prompt (default 3 for auto and retry, 1 otherwise; "repair" is one
    round). Round 1 samples as asked, later ones hotter (`strategies.sampling_schedule`); with
    `feedback`, a retry's prompt quotes the rejected reply and the validator's messages. best_of: each
    round samples this many candidates per prompt and keeps the valid one with the highest mean
    log-probability (see `StructuredResult`). budget: constrained outputs narrow to what still fits in
    max_new_tokens, so they are never cut off (`constrain.budget`); a max_new_tokens too small for any
    valid output is a `BudgetError` before generating.
    """
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    given = _check_arguments(prompts, strategy, attempts, best_of, max_new_tokens, temperature, top_p,
                             schema=schema, regex=regex, grammar=grammar, choices=choices)
    attempts = DEFAULT_ATTEMPTS[strategy] if attempts is None else attempts
    validator = schema_validator(schema) if schema is not None else None
    vocab = vocabulary_for(model, tokenizer)
    start = time.perf_counter()
    compiled = None
    if strategy in ("auto", "constrained"):
        try:
            compiled = _grammar(vocab, (given[0], validator.schema) if validator is not None else given)
        except UnsupportedSchemaError:
            if strategy == "constrained":
                raise
    compile_seconds = time.perf_counter() - start
    job = Job(model=model, vocab=vocab, pad_token_id=_pad_id(tokenizer, vocab), compiled=compiled,
              encode=lambda text: prompt_ids(tokenizer, text, chat=chat, system=system),
              validator=validator, repair=strategy != "constrained", best_of=best_of, feedback=feedback,
              max_new_tokens=max_new_tokens, budget=budget)
    schedule = sampling_schedule(attempts, Sampling(temperature, top_p, seed), best_of=best_of)
    results = [_result(o, p, compile_seconds) for o, p in zip(run_rounds(job, prompts, schedule), prompts)]
    return results[0] if isinstance(prompt, str) else results


def _check_arguments(prompts: list[str], strategy: str, attempts: int | None, best_of: int, max_new_tokens: int,
                     temperature: float, top_p: float, **constraints) -> tuple[str, Any]:
    """The one constraint given, as (keyword, value); a `GenerationError` naming any bad argument."""
    if not prompts:
        raise GenerationError("no prompt given")
    given = [(name, value) for name, value in constraints.items() if value is not None]
    if len(given) != 1:
        raise GenerationError(f"give exactly one of schema, regex, grammar, choices (got "
                              f"{', '.join(name for name, _ in given) or 'none'})")
    if strategy not in STRATEGIES:
        raise GenerationError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    if strategy in ("repair", "retry") and given[0][0] != "schema":
        raise GenerationError(f"strategy {strategy!r} reads JSON, so it needs schema= (got {given[0][0]}=)")
    if attempts is not None and attempts < 1:
        raise GenerationError(f"attempts must be at least 1, got {attempts}")
    if strategy == "repair" and attempts not in (None, 1):
        raise GenerationError(f"strategy 'repair' makes one attempt (got attempts={attempts}); "
                              f"'retry' is repair with attempts")
    if best_of < 1:
        raise GenerationError(f"best_of must be at least 1, got {best_of}")
    if max_new_tokens < 1:
        raise GenerationError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    if temperature < 0:
        raise GenerationError(f"temperature must be 0 (greedy) or more, got {temperature}")
    if not 0 < top_p <= 1:
        raise GenerationError(f"top_p must be in (0, 1], got {top_p}")
    return given[0]


def _pad_id(tokenizer, vocab: Vocabulary) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else vocab.eos_token_id


def _result(outcome: Outcome, prompt: str, compile_seconds: float) -> StructuredResult:
    chosen = outcome.chosen
    timings = {"compile": compile_seconds, **outcome.timings}
    return StructuredResult(
        text=chosen.text, value=chosen.value, valid=chosen.valid, errors=chosen.errors,
        method="retried" if outcome.attempts > 1 else chosen.method, attempts=outcome.attempts,
        token_ids=chosen.sample.token_ids, complete=chosen.sample.complete, tokens_used=outcome.tokens_used,
        mean_logprob=chosen.sample.mean_logprob, seconds=sum(timings.values()), timings=timings, prompt=prompt)
