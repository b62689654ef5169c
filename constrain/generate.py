"""`generate_structured`: one call from a prompt to a constrained output, with how it was obtained."""
from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import GenerationConfig, LogitsProcessorList

from .compile import compile_choices, compile_lark, compile_regex
from .errors import GenerationError
from .hf.processor import ConstrainedLogitsProcessor
from .matcher import CompiledGrammar
from .vocab import Vocabulary


@dataclass
class StructuredResult:
    """One generated output.

    text: the generated text, without EOS. value: what the constraint produced (the text for a regex
    or a grammar, the chosen string for choices), None when the output is not accepted. complete: the model
    ended the output with EOS (it was not cut by `max_new_tokens`). accepted: the constraint accepts
    the text as a whole. method: how the value was obtained ("constrained").
    """

    text: str
    value: Any
    token_ids: list[int]
    complete: bool
    accepted: bool
    method: str
    seconds: float
    prompt: str = field(repr=False, default="")

    @property
    def num_new_tokens(self) -> int:
        return len(self.token_ids)


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


def _grammar(vocab: Vocabulary, regex: str | None, choices, grammar) -> CompiledGrammar:
    """The compiled constraint, from the per-vocabulary cache when it was compiled before."""
    given = [name for name, v in (("regex", regex), ("choices", choices), ("grammar", grammar)) if v is not None]
    if len(given) != 1:
        raise GenerationError(f"give exactly one of regex, choices, grammar (got {given or 'none'})")
    if isinstance(grammar, CompiledGrammar):
        if grammar.vocab is not vocab and grammar.vocab.tokens != vocab.tokens:
            raise GenerationError("the compiled grammar was built for another vocabulary")
        return grammar
    if regex is not None:
        key, build = ("regex", regex), lambda: compile_regex(regex, vocab)
    elif choices is not None:
        key, build = ("choices", tuple(choices)), lambda: compile_choices(choices, vocab)
    else:
        key, build = ("lark", str(grammar)), lambda: compile_lark(grammar, vocab)
    cache = _GRAMMARS.setdefault(vocab, {})
    if key not in cache:
        if len(cache) >= _GRAMMAR_CACHE_SIZE:
            cache.pop(next(iter(cache)))
        cache[key] = build()
    return cache[key]


def prompt_ids(tokenizer, prompt: str, *, chat: bool = True, system: str | None = None) -> list[int]:
    """Token ids of the prompt, through the chat template when the tokenizer has one."""
    if chat and getattr(tokenizer, "chat_template", None):
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": prompt}]
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    else:
        text = prompt if system is None else f"{system}\n\n{prompt}"
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def generate_structured(model, tokenizer, prompt: str | list[str], *, regex: str | None = None,
                        choices: list[str] | None = None, grammar=None,
                        max_new_tokens: int = 128, temperature: float = 0.0, top_p: float = 1.0,
                        seed: int | None = None, chat: bool = True, system: str | None = None,
                        ) -> StructuredResult | list[StructuredResult]:
    """Generate text that the constraint accepts; greedy when `temperature` is 0.

    Give exactly one constraint: `regex` (the whole output must match), `choices` (the output is one
    of these strings) or `grammar` (Lark grammar text, a path to a .lark file, or any already
    compiled grammar). A list of prompts is generated as one batch
    and gives a list of results.
    """
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    if not prompts:
        raise GenerationError("no prompt given")
    if max_new_tokens < 1:
        raise GenerationError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    vocab = vocabulary_for(model, tokenizer)
    compiled = _grammar(vocab, regex, choices, grammar)
    encoded = [prompt_ids(tokenizer, p, chat=chat, system=system) for p in prompts]
    limit = getattr(model.config, "max_position_embeddings", None)
    for k, ids in enumerate(encoded):
        if limit is not None and len(ids) + max_new_tokens > limit:
            raise GenerationError(f"prompt {k} has {len(ids)} tokens; with max_new_tokens="
                                  f"{max_new_tokens} it exceeds the model's context of {limit}")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else vocab.eos_token_id
    width = max(len(ids) for ids in encoded)
    input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in encoded], device=model.device)
    attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in encoded],
                             device=model.device)
    matchers = [compiled.matcher() for _ in prompts]
    sampling = temperature > 0
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=sampling,
                              eos_token_id=vocab.eos_token_id, pad_token_id=pad,
                              **({"temperature": temperature, "top_p": top_p, "top_k": 0} if sampling else {}))
    if seed is not None:
        torch.manual_seed(seed)
    start = time.perf_counter()
    with torch.no_grad():
        out = model.generate(input_ids=input_ids, attention_mask=attention, generation_config=config,
                             logits_processor=LogitsProcessorList([ConstrainedLogitsProcessor(matchers)]))
    seconds = time.perf_counter() - start
    results = [_result(vocab, matcher, out[row, width:].tolist(), prompts[row], seconds)
               for row, matcher in enumerate(matchers)]
    return results[0] if isinstance(prompt, str) else results


def _result(vocab: Vocabulary, matcher, new_ids: list[int], prompt: str, seconds: float) -> StructuredResult:
    complete = vocab.eos_token_id in new_ids
    ids = new_ids[:new_ids.index(vocab.eos_token_id) + 1] if complete else new_ids
    # the processor saw every token but the last; feed it so `accepted` reflects the whole output
    if ids and not matcher.is_terminated() and matcher.num_tokens < len(ids):
        matcher.advance(ids[-1])
    data = b"".join(vocab.tokens[t] for t in ids if t != vocab.eos_token_id)
    text = data.decode("utf-8", errors="replace")
    accepted = matcher.is_accepting()
    return StructuredResult(text=text, value=text if accepted else None, token_ids=ids, complete=complete,
                            accepted=accepted, method="constrained", seconds=seconds, prompt=prompt)
