"""How many rule alternatives lark will make of a grammar, estimated before it makes them.

lark turns EBNF into BNF by multiplying out inline groups: `start: ("a"|"b") ("a"|"b") ...` with 14
groups becomes 16,384 alternatives, a 147-byte grammar that takes lark about 40 s (20 groups: hours),
and `x~n` below 50 repeats inline too. lark's work cannot be interrupted, so the bound on grammar
size is checked here, on lark's parsed (not yet expanded) rule trees, following the expansion rules
of `lark.load_grammar.EBNF_to_BNF`: a sequence multiplies its parts' alternatives, a group adds
them, `x?` and `[x]` add one, `x+` and `x*` make a helper rule of two alternatives per alternative
of x, `x~m..n` repeats inline below 50 and in a few helper rules per power of two of n above (x stays
one symbol there), and each use of a template copies the template's rules. The count is an upper
bound for those rules.
"""
from __future__ import annotations

from ..errors import LimitError

_INLINE_REPEATS = 50  # lark's REPEAT_BREAK_THRESHOLD
_HELPER_ALTERNATIVES = 10  # per helper rule of a long repeat: 2 x lark's SMALL_FACTOR_THRESHOLD


class _Counter:
    def __init__(self, cap: int):
        self.cap = cap
        self.helpers = 0  # alternatives of the helper rules and template copies lark adds
        self.templates: dict[str, int] = {}  # template name -> alternatives of one copy

    def count(self, tree) -> int:
        """Alternatives of `tree` once multiplied out (at most `cap + 1`)."""
        kind = getattr(tree, "data", None)
        children = getattr(tree, "children", ())
        if kind == "expansions":
            return min(self.cap + 1, sum(self.count(c) for c in children))
        if kind == "expansion":
            out = 1
            for child in children:
                out = min(self.cap + 1, out * self.count(child))
            return out
        if kind in ("alias", "value"):
            return self.count(children[0])
        if kind == "maybe":
            return min(self.cap + 1, self.count(children[0]) + 1)
        if kind == "expr":
            return self._expr(self.count(children[0]), [str(c) for c in children[1:]])
        if kind == "template_usage":
            self._helper(self.templates.get(children[0].name, 0))
            for argument in children[1:]:
                self.count(argument)
        return 1  # a symbol, a literal, a template use

    def _expr(self, inner: int, op: list[str]) -> int:
        if op[0] == "?":
            return min(self.cap + 1, inner + 1)
        if op[0] in ("+", "*"):
            self._helper(2 * inner)
            return 1 if op[0] == "+" else 2
        lo, hi = (int(op[1]), int(op[-1]))
        if hi < _INLINE_REPEATS:
            return min(self.cap + 1, sum(_power(inner, n, self.cap) for n in range(lo, hi + 1)))
        self._helper(2 * hi.bit_length() * _HELPER_ALTERNATIVES * inner)
        return 1

    def _helper(self, alternatives: int) -> None:
        self.helpers = min(self.cap + 1, self.helpers + alternatives)


def _power(base: int, exponent: int, cap: int) -> int:
    out = 1
    for _ in range(exponent):
        out *= base
        if out > cap:
            return cap + 1
    return out


def estimated_alternatives(definitions, cap: int) -> int:
    """An upper bound on the rule alternatives lark makes of `definitions` (a parsed, not yet
    expanded `lark.load_grammar.Grammar`), or `cap + 1` if it is above `cap`."""
    counter = _Counter(cap)
    for name, params, tree, _options in definitions.rule_defs:
        if params:  # a template: its rules are counted at each use
            before = counter.helpers
            counter.templates[name] = min(cap + 1, counter.count(tree) + counter.helpers - before)
            counter.helpers = before
    total = 0
    for _name, params, tree, _options in definitions.rule_defs:
        total = min(cap + 1, total + (0 if params else counter.count(tree)))
    return min(cap + 1, total + counter.helpers)


def check_expansion(definitions, max_size: int) -> None:
    """`LimitError` if lark would expand `definitions` into more than `max_size` rule alternatives."""
    if estimated_alternatives(definitions, max_size) > max_size:
        raise LimitError(f"lark would expand the grammar into more than {max_size} rule alternatives "
                         "(inline groups and repeats multiply out)", "max_grammar_size", max_size)
