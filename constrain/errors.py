"""One small hierarchy of typed errors, each naming where the problem is.

    ConstrainError
        RegexError                  .position in the pattern
            UnsupportedRegexError       (also an UnsupportedError)
        GrammarError                .line, .column in the grammar (when known)
            UnsupportedGrammarError     (also an UnsupportedError)
        SchemaError                 .pointer: the JSON pointer in the schema (`schema.errors`)
            UnsupportedSchemaError      (also an UnsupportedError)
        UnsupportedError            valid input no exact constraint is built for: the input is not
                                    wrong, so a caller may fall back to free generation plus validation
        LimitError                  .limit_name, .limit: a bound of `constrain.Limits` was exceeded
        VocabularyError             a tokenizer that cannot be turned into exact token bytes
        GenerationError             bad generation arguments, a prompt longer than the model's context
            BudgetError                 max_new_tokens leaves no room for a valid output
        RepairError                 .offset: no JSON value to recover (`repair.errors`)

Errors about bad input are also `ValueError`s, so code that already catches those keeps working.
"""
from __future__ import annotations


class ConstrainError(Exception):
    """Base class of every error this package raises on purpose."""


class UnsupportedError(ConstrainError):
    """Valid input that no exact constraint is built for (a regex backreference, a schema keyword,
    a terminal a finite automaton cannot enforce); the subclasses say where."""


class RegexError(ConstrainError, ValueError):
    """A regex that cannot be compiled; `position` is the 0-based offset in `pattern`."""

    def __init__(self, message: str, pattern: str, position: int):
        self.pattern = pattern
        self.position = position
        self.reason = message
        caret = " " * position + "^"
        super().__init__(f"{message} at position {position}\n  {pattern}\n  {caret}")


class UnsupportedRegexError(RegexError, UnsupportedError):
    """Valid regex syntax that no finite automaton can enforce (backreferences, lookaround)."""


class LimitError(ConstrainError):
    """A configured bound (automaton states, grammar size, compile time) was exceeded; raise the
    bound in `constrain.Limits` or simplify the constraint."""

    def __init__(self, message: str, limit_name: str, limit: float):
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


class UnsupportedGrammarError(GrammarError, UnsupportedError):
    """A valid Lark grammar using what no exact constraint is built for (a terminal regex with
    lookaround, say); `line` and `column` locate the definition."""


class BudgetError(GenerationError):
    """`max_new_tokens` leaves no room for a valid output: `minimum` tokens (EOS included) are needed
    (None: no completion could be spelled with the vocabulary's tokens). `exact` is False when the
    search for the fewest tokens gave up and `minimum` is the fewest it found."""

    def __init__(self, budget: int, minimum: int | None, source: str = "", exact: bool = True):
        self.budget = budget
        self.minimum = minimum
        self.exact = exact
        what = f" for {source}" if source else ""
        if minimum is None:
            message = f"no valid output{what} can be spelled with this vocabulary's tokens"
        else:
            shortest = "the shortest valid output" if exact else "the shortest valid output found"
            message = f"max_new_tokens={budget} is too small{what}: {shortest} needs {minimum} tokens, EOS included"
        super().__init__(message)
