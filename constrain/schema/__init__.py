"""JSON Schema constraints: `compile_json_schema(schema, vocab)` (see `schema.compiler` for the policies)."""
from __future__ import annotations

from .compiler import load_schema, schema_to_grammar
from .errors import SchemaError, UnsupportedSchemaError


def compile_json_schema(schema, vocab, *, whitespace: str = "compact"):
    """Constrain the output to JSON valid against `schema` (a dict, JSON text or Pydantic model class).

    whitespace="compact": Python's default `json.dumps` layout (separators ", " and ": ").
    Raises `UnsupportedSchemaError` (with the JSON pointer of the keyword) for constraints it cannot
    enforce exactly, `SchemaError` for schemas no value satisfies.
    """
    from ..errors import LimitError
    from ..mask.cfg import CFGGrammar

    grammar = schema_to_grammar(schema, whitespace=whitespace)
    try:
        compiled = CFGGrammar(grammar, vocab, source="json schema")
        compiled.mask_for(compiled.initial_state())
    except LimitError as e:
        raise UnsupportedSchemaError(f"the schema's automata exceed a limit: {e}", "#") from None
    return compiled


__all__ = ["SchemaError", "UnsupportedSchemaError", "compile_json_schema", "load_schema", "schema_to_grammar"]
