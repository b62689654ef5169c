"""One small hierarchy of typed errors, each naming where the problem is."""
from __future__ import annotations


class ConstrainError(Exception):
    """Base class of every error this package raises on purpose."""


class RegexError(ConstrainError, ValueError):
    """A regex that cannot be compiled; `position` is the 0-based offset in `pattern`."""

    def __init__(self, message: str, pattern: str, position: int):
        self.pattern = pattern
        self.position = position
        self.reason = message
        caret = " " * position + "^"
        super().__init__(f"{message} at position {position}\n  {pattern}\n  {caret}")


class UnsupportedRegexError(RegexError):
    """Valid regex syntax that no finite automaton can enforce (backreferences, lookaround)."""


class LimitError(ConstrainError):
    """A configured bound (automaton states, compile size) was exceeded; raise the bound or simplify."""

    def __init__(self, message: str, limit_name: str, limit: int):
        self.limit_name = limit_name
        self.limit = limit
        super().__init__(f"{message} (limit {limit_name}={limit})")


class VocabularyError(ConstrainError, ValueError):
    """A tokenizer or vocabulary that cannot be turned into exact token bytes."""


class GenerationError(ConstrainError):
    """Generation could not start or finish as asked (bad arguments, prompt too long...)."""


class GrammarError(ConstrainError, ValueError):
    """A grammar that cannot be compiled; `line` and `column` (1-based) locate it when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        self.line = line
        self.column = column
        self.reason = message
        where = f" at line {line}, column {column}" if line is not None else ""
        super().__init__(f"{message}{where}")
