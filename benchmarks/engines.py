"""One adapter per JSON Schema mask engine, so the MaskBench harness (`benchmarks/masks.py`) drives
constrain, xgrammar, llguidance and outlines-core the same way, on the same vocabulary and layout.

An `Engine` is built once in the harness process from the tokenizer (vocabulary tables only: no
threads, so it survives the fork into a per-schema worker); `compile` and everything after it run in
the worker. A `Cursor` is one teacher-forced sequence: `fill()` computes the mask of the next token
(timed), `allowed(tid)` reads one bit of it (not timed), `consume(tid)` advances (timed).

Layout: the harness writes instances with Python's default `json.dumps` (constrain's "compact"
layout: separators `", "` and `": "`, no other whitespace, non-ASCII as `\\uXXXX`). Every engine is
configured for it as far as it can be: outlines-core has one whitespace pattern for every position
and gets `" ?"`, a superset (it also allows `{ "a" : 1 }`); it has no `\\u` escapes at all, and
llguidance allows them only in strings without a pattern, enum or const, so both refuse some valid
non-ASCII instances (counted as their validation errors).
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from constrain import compile_regex, deadline
from constrain.errors import LimitError
from constrain.schema import SchemaError, compile_json_schema
from constrain.vocab import Vocabulary

from benchmarks.vocabs import text_ids

SEPARATORS = (", ", ": ")


class Unsupported(Exception):
    """The engine refused the schema at compile time (its own compile error, or unsatisfiable)."""


@contextmanager
def peer_compile_errors():
    """A peer has no typed compile errors: any exception while compiling is its refusal, except
    running out of memory (the harness's memory cap), which is a crash."""
    try:
        yield
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001
        raise Unsupported(f"{type(e).__name__}: {' '.join(str(e).split())[-300:]}") from None


class Cursor:
    def fill(self) -> None:
        raise NotImplementedError

    def allowed(self, token_id: int) -> bool:
        raise NotImplementedError

    def consume(self, token_id: int) -> bool:
        raise NotImplementedError


class Engine:
    name: str

    def compile(self, schema: Any) -> Any:
        """The compiled schema; raises `Unsupported` when the engine reports it cannot compile it."""
        raise NotImplementedError

    def cursor(self, compiled: Any) -> Cursor:
        raise NotImplementedError


class _BitmaskCursor(Cursor):
    """A cursor over an int32 bitmask of one row (xgrammar, llguidance, outlines-core all use one)."""

    def __init__(self, words: int):
        self.bitmask = torch.zeros((1, words), dtype=torch.int32)

    def allowed(self, token_id: int) -> bool:
        return bool((int(self.bitmask[0, token_id >> 5]) >> (token_id & 31)) & 1)


# ---------------------------------------------------------------- constrain

class _ConstrainCursor(Cursor):
    """A cursor over one reused bool row, filled in place like the peers' bitmasks."""

    def __init__(self, compiled):
        self.matcher = compiled.matcher()
        self.mask = np.zeros(compiled.vocab.size, dtype=bool)

    def fill(self) -> None:
        self.matcher.fill_mask(self.mask)

    def allowed(self, token_id: int) -> bool:
        return bool(self.mask[token_id])

    def consume(self, token_id: int) -> bool:
        return self.matcher.advance(token_id)


_WARM_UP = [  # an open object and a closed one: between them, every compiled kernel runs once
    ({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "array", "items": {"type": "integer"}}}},
     '{"a": "x", "b": [1]}'),
    ({"type": "object", "properties": {"name": {"type": "number"}}, "additionalProperties": False}, '{"name": 1.5}')]


class ConstrainEngine(Engine):
    """`compile_json_schema` with its default "compact" layout; `SchemaError` (unsupported keyword or
    unsatisfiable schema) and a `LimitError` of a size bound are its compile errors, any other
    exception (the compile deadline included) a crash."""

    name = "constrain"

    def __init__(self, tokenizer: Any, vocab: Vocabulary):
        self.vocab = vocab
        # Per-process one-time setup (the vocabulary trie, compiled kernels) happens here, before the
        # fork, so every schema's worker inherits it instead of paying it, as in a long-running server.
        for schema, text in _WARM_UP:
            cursor = self.cursor(self.compile(schema))
            for tid in text_ids(tokenizer, text):
                cursor.fill()
                cursor.consume(tid)
        compile_regex("[a-z]{1,3}", vocab).matcher().mask()  # fills rows outside a walk (`DFA.row`)

    def compile(self, schema: Any) -> Any:
        try:
            return compile_json_schema(schema, self.vocab)
        except SchemaError as e:
            raise Unsupported(f"{type(e).__name__}: {e}") from None
        except LimitError as e:  # a size bound refuses the schema; the compile deadline stays a crash
            deadline.reraise_expired(e)
            raise Unsupported(f"{type(e).__name__}: {e}") from None

    def cursor(self, compiled: Any) -> Cursor:
        return _ConstrainCursor(compiled)


# ---------------------------------------------------------------- xgrammar

class _XGrammarCursor(_BitmaskCursor):
    def __init__(self, xgr, compiled, words: int):
        super().__init__(words)
        self.matcher = xgr.GrammarMatcher(compiled)

    def fill(self) -> None:
        self.matcher.fill_next_token_bitmask(self.bitmask, 0)

    def consume(self, token_id: int) -> bool:
        return self.matcher.accept_token(token_id)


class XGrammarEngine(Engine):
    """Spec-compliant mode (`strict_mode=False`: undeclared properties allowed unless the schema says
    otherwise, as in constrain), fixed separators, one compiler thread, no cache across schemas."""

    name = "xgrammar"

    def __init__(self, tokenizer: Any, vocab: Vocabulary):
        import xgrammar

        self.xgr = xgrammar
        self.size = vocab.size
        self.info = xgrammar.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab.size)

    def compile(self, schema: Any) -> Any:
        compiler = self.xgr.GrammarCompiler(self.info, max_threads=1, cache_enabled=False)
        with peer_compile_errors():
            return compiler.compile_json_schema(json.dumps(schema), any_whitespace=False,
                                                separators=SEPARATORS, strict_mode=False)

    def cursor(self, compiled: Any) -> Cursor:
        return _XGrammarCursor(self.xgr, compiled, (self.size + 31) // 32)


# ---------------------------------------------------------------- llguidance

class _LLGuidanceCursor(_BitmaskCursor):
    def __init__(self, llg, tokenizer, grammar: str, words: int):
        super().__init__(words)
        self.matcher = llg.LLMatcher(tokenizer, grammar)
        self.ptr, self.nbytes = self.bitmask.data_ptr(), words * 4

    def fill(self) -> None:
        self.matcher.unsafe_compute_mask_ptr(self.ptr, self.nbytes)

    def consume(self, token_id: int) -> bool:
        return self.matcher.consume_token(token_id)


class LLGuidanceEngine(Engine):
    """`grammar_from_json_schema` with the separators, `whitespace_flexible: false` and `\\u` escapes
    allowed as overrides; a grammar `validate_grammar` rejects is its compile error."""

    name = "llguidance"

    def __init__(self, tokenizer: Any, vocab: Vocabulary):
        import llguidance
        import llguidance.hf

        self.llg = llguidance
        self.tokenizer = llguidance.hf.from_tokenizer(tokenizer)
        self.words = (self.tokenizer.vocab_size + 31) // 32

    def compile(self, schema: Any) -> Any:
        options = {"item_separator": SEPARATORS[0], "key_separator": SEPARATORS[1], "whitespace_flexible": False,
                   "json_allow_general_unicode_escapes": True}
        with peer_compile_errors():
            grammar = self.llg.LLMatcher.grammar_from_json_schema(schema, overrides=options)
        is_error, messages = self.llg.LLMatcher.validate_grammar_with_warnings(grammar, self.tokenizer)
        if is_error:
            raise Unsupported(" ".join(messages[0].split())[:300])
        return grammar

    def cursor(self, compiled: Any) -> Cursor:
        return _LLGuidanceCursor(self.llg, self.tokenizer, compiled, self.words)


# ---------------------------------------------------------------- outlines-core

class _OutlinesCursor(_BitmaskCursor):
    def __init__(self, oc, index, words: int):
        super().__init__(words)
        self.guide = oc.Guide(index)
        self.ptr, self.words = self.bitmask.data_ptr(), words

    def fill(self) -> None:
        self.guide.write_mask_into(self.ptr, self.words, 4)

    def consume(self, token_id: int) -> bool:
        self.guide.advance(token_id, return_tokens=False)
        return True


class OutlinesEngine(Engine):
    """`build_regex_from_schema` with whitespace `" ?"` (see the module docstring), then an `Index`
    over the exact token bytes constrain uses (special tokens left out, EOS the tokenizer's)."""

    name = "outlines-core"

    def __init__(self, tokenizer: Any, vocab: Vocabulary):
        import outlines_core

        self.oc = outlines_core
        ids: dict[bytes, list[int]] = {}
        for tid, token in enumerate(vocab.tokens):
            if tid not in vocab.special_token_ids:
                ids.setdefault(token, []).append(tid)
        self.vocabulary = outlines_core.Vocabulary(vocab.eos_token_id, ids)
        self.words = (vocab.size + 31) // 32

    def compile(self, schema: Any) -> Any:
        from outlines_core.json_schema import build_regex_from_schema

        with peer_compile_errors():
            return self.oc.Index(build_regex_from_schema(json.dumps(schema), " ?"), self.vocabulary)

    def cursor(self, compiled: Any) -> Cursor:
        return _OutlinesCursor(self.oc, compiled, self.words)


ENGINES = {e.name: e for e in (ConstrainEngine, XGrammarEngine, LLGuidanceEngine, OutlinesEngine)}


def available(names: list[str], tokenizer: Any) -> tuple[list[Engine], dict[str, str]]:
    """The engines among `names` that import, and why the others did not."""
    vocab = Vocabulary.from_tokenizer(tokenizer)
    engines, missing = [], {}
    for name in names:
        if name not in ENGINES:
            raise ValueError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
        try:
            engines.append(ENGINES[name](tokenizer, vocab))
        except ImportError as e:
            missing[name] = f"not installed ({e.name}): pip install -e '.[bench]'"
    return engines, missing
