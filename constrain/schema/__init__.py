"""JSON Schema constraints: `compile_json_schema(schema, vocab)` (see `schema.compiler` for the policies)."""
from __future__ import annotations

from .. import deadline
from ..compile import DEFAULT_LIMITS, Limits, compiling
from ..errors import LimitError
from ..mask.cfg import CFGGrammar
from .compiler import compile_schema, load_schema, schema_to_grammar
from .errors import SchemaError, UnsupportedSchemaError
from .formats import FORMAT_CHECKER
from .layout import WHITESPACE_MODES


def compile_json_schema(schema, vocab, *, whitespace: str = "compact", lenient: bool = False,
                        limits: Limits = DEFAULT_LIMITS):
    """Constrain the output to JSON valid against `schema` (a dict, JSON text or Pydantic model class).

    whitespace: "compact" (Python's default `json.dumps` layout, separators ", " and ": "),
    "flexible" (any JSON whitespace between tokens, bounded runs) or "indent"
    (`json.dumps(value, indent=2)`). Raises `UnsupportedSchemaError` (with the JSON pointer of the
    keyword) for constraints it cannot enforce exactly, `SchemaError` for schemas no value satisfies.
    lenient=True drops those constraints instead: the grammar then accepts a superset, and
    `compiled.relaxed` lists the pointers of the dropped keywords (validate the output yourself, e.g.
    with `jsonschema`, and retry). Strict compilation always has `compiled.relaxed == []`.

    limits: `max_compile_seconds` bounds the whole compilation (checked per subschema and inside
    automata construction) and `max_grammar_size` the grammar's size: both raise `LimitError`. The
    lexer's `max_nfa_states`/`max_dfa_states`, `max_configs` and `mask_cache_bytes` are passed to the grammar; a lexer
    over the state bounds at compile time is an `UnsupportedSchemaError` at '#' (the schema is valid,
    its automata too large), while generating a `LimitError`.
    """
    with compiling(limits):
        grammar, relaxed = compile_schema(schema, whitespace=whitespace, lenient=lenient)
        if grammar.size > limits.max_grammar_size:
            raise LimitError(f"the schema's grammar has size {grammar.size}", "max_grammar_size",
                             limits.max_grammar_size)
        try:
            compiled = CFGGrammar(grammar, vocab, source="json schema", max_nfa_states=limits.max_nfa_states,
                                  max_lexer_states=limits.max_dfa_states, max_configs=limits.max_configs,
                                  mask_cache_bytes=limits.mask_cache_bytes)
            compiled.mask_for(compiled.initial_state())
        except LimitError as e:
            deadline.reraise_expired(e)
            raise UnsupportedSchemaError(f"the schema's automata exceed a limit: {e}", "#") from None
    compiled.relaxed = relaxed
    compiled.whitespace = whitespace
    return compiled


__all__ = ["FORMAT_CHECKER", "SchemaError", "UnsupportedSchemaError", "WHITESPACE_MODES", "compile_json_schema", "compile_schema",
           "load_schema", "schema_to_grammar"]
