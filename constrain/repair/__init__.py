"""Defensive JSON repair: turn a language model's almost-JSON into the value it meant.

    from constrain.repair import repair_json, RepairError
    repair_json('```json\\n{"a": 1,}\\n```')        # {'a': 1}

The rules where several answers are reasonable are in REPAIR-CONVENTIONS.md (shared with the
project); the decisions this package adds are in the docstrings of `scalars` (numbers) and
`schema` (schema-guided choices). Modules: `extract` finds the value, `parser` reads it with an
explicit stack, `strings` and `scalars` read tokens, `schema` picks readings.
"""
from .api import repair_json
from .equal import json_equal
from .errors import RepairError

__all__ = ["RepairError", "json_equal", "repair_json"]
