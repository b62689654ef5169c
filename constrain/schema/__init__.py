"""JSON Schema constraints: `compile_json_schema(schema, vocab)` (see `schema.compiler` for the policies)."""
from __future__ import annotations

from .compiler import compile_schema, load_schema, schema_to_grammar
from .errors import SchemaError, UnsupportedSchemaError
from .formats import FORMAT_CHECKER
from .layout import WHITESPACE_MODES


def compile_json_schema(schema, vocab, *, whitespace: str = "compact", lenient: bool = False):
    """Constrain the output to JSON valid against `schema` (a dict, JSON text or Pydantic model class).

    whitespace: "compact" (Python's default `json.dumps` layout, separators ", " and ": "),
    "flexible" (any JSON whitespace between tokens, bounded runs) or "indent"
    (`json.dumps(value, indent=2)`). Raises `UnsupportedSchemaError` (with the JSON pointer of the
    keyword) for constraints it cannot enforce exactly, `SchemaError` for schemas no value satisfies.
    lenient=True drops those constraints instead: the grammar then accepts a superset, and
    `compiled.relaxed` lists the pointers of the dropped keywords (validate the output yourself, e.g.
    with `jsonschema`, and retry). Strict compilation always has `compiled.relaxed == []`.
    """
    from ..errors import LimitError
    from ..mask.cfg import CFGGrammar

    grammar, relaxed = compile_schema(schema, whitespace=whitespace, lenient=lenient)
    try:
        compiled = CFGGrammar(grammar, vocab, source="json schema")
        compiled.mask_for(compiled.initial_state())
    except LimitError as e:
        raise UnsupportedSchemaError(f"the schema's automata exceed a limit: {e}", "#") from None
    compiled.relaxed = relaxed
    compiled.whitespace = whitespace
    return compiled


__all__ = ["FORMAT_CHECKER", "SchemaError", "UnsupportedSchemaError", "WHITESPACE_MODES", "compile_json_schema", "compile_schema",
           "load_schema", "schema_to_grammar"]
