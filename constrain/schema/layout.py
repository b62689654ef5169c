"""Whitespace layouts: where the compiled grammar puts whitespace between JSON tokens.

Each layout gives the regex of every punctuation terminal; whitespace lives inside those terminals
(after `{` `[` `,` `:`, before `}` `]`), so each gap between two tokens holds exactly one whitespace
run and the text splits into terminals one way only.

- "compact": Python's default `json.dumps(value)`: separators `", "` and `": "`, nothing else.
- "flexible": any JSON whitespace (space, tab, CR, LF) in every gap between tokens, at most
  `MAX_WS_RUN` characters per gap, so a model cannot loop on whitespace; none before or after the value.
- "indent": `json.dumps(value, indent=2)`: one member per line, indented two spaces per level, `[]`
  and `{}` for empty containers. The indentation depends on the depth, so values are compiled once per
  level; from `MAX_INDENT_LEVEL` down, any indentation at least that deep is allowed (the canonical one
  included), which keeps recursive schemas finite without rejecting deep values.
"""
from __future__ import annotations

import json
from typing import Any

from ..automaton.regex import CharSet, Node, Repeat, literal
from .nodes import alt, cat

MAX_WS_RUN = 64  # flexible: whitespace characters per gap (enough for a newline and deep indentation)
MAX_INDENT_LEVEL = 16  # indent: levels compiled exactly; deeper ones share one rule set
WHITESPACE_MODES = ("compact", "flexible", "indent")

_WS = Repeat(CharSet(((0x09, 0x0A), (0x0D, 0x0D), (0x20, 0x20))), 0, MAX_WS_RUN)


class Layout:
    """The punctuation regexes of one whitespace mode; `depth` is the nesting level of the container."""

    def __init__(self, mode: str):
        if mode not in WHITESPACE_MODES:
            raise ValueError(f"whitespace must be one of {', '.join(WHITESPACE_MODES)}, not {mode!r}")
        self.mode = mode

    def level(self, depth: int) -> int:
        """The depth that matters for the layout (values at equal levels share their rules)."""
        return min(depth, MAX_INDENT_LEVEL) if self.mode == "indent" else 0

    def _indent(self, depth: int) -> Node:
        if depth < MAX_INDENT_LEVEL:
            return literal("  " * depth)
        return Repeat(literal(" "), 2 * MAX_INDENT_LEVEL, None)

    def open(self, bracket: str, depth: int) -> Node:
        if self.mode == "compact":
            return literal(bracket)
        if self.mode == "flexible":
            return cat(literal(bracket), _WS)
        return cat(literal(bracket + "\n"), self._indent(depth + 1))

    def close(self, bracket: str, depth: int) -> Node:
        if self.mode == "compact":
            return literal(bracket)
        if self.mode == "flexible":
            return cat(_WS, literal(bracket))
        return cat(literal("\n"), self._indent(depth), literal(bracket))

    def empty(self, brackets: str) -> Node:
        if self.mode == "flexible":
            return cat(literal(brackets[0]), _WS, literal(brackets[1]))
        return literal(brackets)

    def comma(self, depth: int) -> Node:
        if self.mode == "compact":
            return literal(", ")
        if self.mode == "flexible":
            return cat(_WS, literal(","), _WS)
        return cat(literal(",\n"), self._indent(depth + 1))

    def colon(self) -> Node:
        return cat(_WS, literal(":"), _WS) if self.mode == "flexible" else literal(": ")

    def value(self, value: Any, depth: int) -> Node:
        """A JSON value written in this layout (`json.dumps` spelling of scalars and keys, members in
        their order, see `number_spellings`): how enum and const values are emitted."""
        if isinstance(value, dict) and value:
            parts = [self.open("{", depth)]
            for k, (key, item) in enumerate(value.items()):
                if k:
                    parts.append(self.comma(depth))
                parts += [literal(json.dumps(key)), self.colon(), self.value(item, depth + 1)]
            return cat(*parts, self.close("}", depth))
        if isinstance(value, list) and value:
            parts = [self.open("[", depth)]
            for k, item in enumerate(value):
                if k:
                    parts.append(self.comma(depth))
                parts.append(self.value(item, depth + 1))
            return cat(*parts, self.close("]", depth))
        if isinstance(value, (dict, list)):
            return self.empty("{}" if isinstance(value, dict) else "[]")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return alt([literal(text) for text in number_spellings(value)])
        return literal(json.dumps(value))


def number_spellings(value: int | float) -> list[str]:
    """The `json.dumps` spellings of numbers equal to `value`: an integral value as an int and as a
    float (`2` and `2.0`; jsonschema compares them equal), others as they are."""
    out = [json.dumps(value)]
    if isinstance(value, float) and value.is_integer():
        out.append(str(int(value)))
    elif isinstance(value, int) and float(value) == value:
        out.append(json.dumps(float(value)))
    return list(dict.fromkeys(out))
