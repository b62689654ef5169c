"""Property names: `patternProperties` and `propertyNames` split the names into classes.

A declared name's value must also satisfy the schema of every pattern that finds a match in it, and
a name `propertyNames` rejects cannot appear (a `propertyNames` enum makes every name it lists a
declared, optional one, in any order, and no other name can appear). Names are spelled as `json.dumps`
writes them (one spelling per name, so a set of names and its spellings are interchangeable).
Undeclared names are split by the set of patterns that match them: each non-empty class is one key
terminal, built as an automaton intersection (and complement, for "matches no other pattern") of the
name languages, whose value satisfies those patterns' schemas, or `additionalProperties` for the
names no pattern matches. So the classes are disjoint and the lexer never has to guess which schema a
key's value follows.
"""
from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np

from ..automaton import regex as rx
from ..automaton.product import NOTHING, intersect, minimal_dfa
from ..automaton.regex import Automaton, CharSet, Node, Repeat, literal
from .. import deadline
from ..errors import LimitError
from .nodes import alt, cat, intersect as intersect_ranges, words_except
from .patterns import pattern_content
from .refs import escape
from .spelling import NAME, PLAIN, encode_charset, encode_content
from .strings import string_pattern

if TYPE_CHECKING:
    from .compiler import _Compiler

MAX_PATTERNS = 4  # patternProperties split undeclared names into up to 2^k classes
MAX_STATES = 20_000
# a name with a character json.dumps escapes (that escape comes after raw characters)
_ESCAPED = cat(Repeat(CharSet(PLAIN), 0, None), encode_charset(rx.complement(PLAIN), dumps=True), NAME)


def key_not_in(words: list[str]) -> list[Node]:
    """The quoted spellings of the property names other than `words`, as parts whose union is that
    set: the complement trie over raw characters, and every name with an escape (the same part in every
    schema, so its automaton is built once per process and pasted into each lexer, `nfa.CACHED_PIECE`); or
    (a declared name has an escape itself) one part, the trie over all characters, spelled."""
    if all(intersect_ranges(((ord(c), ord(c)),), PLAIN) for c in set("".join(words))):
        return [_quoted(words_except(words, PLAIN)), _QUOTED_ESCAPED]
    return [_quoted(encode_content(words_except(words), dumps=True))]


class Names:
    """The name rules of one object schema."""

    def __init__(self, c: "_Compiler", schema: dict, ptr: str):
        self.c, self.ptr = c, ptr
        pats = schema.get("patternProperties") or {}
        if len(pats) > MAX_PATTERNS:
            c.unsupported(f"more than {MAX_PATTERNS} patternProperties", f"{ptr}/patternProperties")
            pats = {}
        self.patterns: list[tuple[str, Node, Any]] = []
        for p, sub in pats.items():
            try:
                self.patterns.append((p, pattern_content(p, f"{ptr}/patternProperties"), sub))
            except Exception as e:  # UnsupportedSchemaError from the pattern reader
                c.unsupported(getattr(e, "reason", str(e)), f"{ptr}/patternProperties")
        try:
            self.dfas = [minimal_dfa(node, MAX_STATES) for _, node, _ in self.patterns]
        except LimitError as e:
            deadline.reraise_expired(e)
            c.unsupported("patternProperties: a pattern's automaton is too large", f"{ptr}/patternProperties")
            self.patterns, self.dfas = [], []
        self.spelled = [encode_content(node, dumps=True) for _, node, _ in self.patterns]
        self.finite: list[str] | None = None  # propertyNames as a list of names: each one declared
        self.names_schema = schema.get("propertyNames", True)
        self.names_node = self._names_node(self.names_schema) if self.names_schema is not True else None

    def _names_node(self, sub: Any) -> Node | None:
        """Content regex of the names `propertyNames` allows, for a string-only schema."""
        sub, sptr = self.c.deref(sub, f"{self.ptr}/propertyNames")
        if sub is False:
            return NOTHING
        kw = self.c.keywords(sub) if isinstance(sub, dict) else {}
        if kw and set(kw) <= {"type", "const", "enum"} and ("const" in kw or "enum" in kw):
            self.finite = [v for v in ([kw["const"]] if "const" in kw else kw["enum"]) if isinstance(v, str)]
            return None
        if set(kw) - {"type", "minLength", "maxLength", "pattern", "format"} or kw.get("type", "string") != "string":
            self.c.unsupported("propertyNames other than a string schema (length, pattern, format)", sptr)
            return None
        return string_pattern(kw, sptr)

    def allowed(self, name: str) -> bool:
        """May `name` appear at all (`propertyNames`)?"""
        if self.names_schema is True:
            return True
        return self.c.validator().evolve(schema=self.names_schema).is_valid(name)

    def value_schema(self, name: str, sub: Any) -> Any:
        """The schema of a declared name's value: its own and every matching pattern's."""
        extra = [s for (_, node, s), dfa in zip(self.patterns, self.dfas) if matches(dfa, name)]
        if not self.allowed(name):
            return False
        return sub if not extra else {"allOf": [sub] + extra}

    def undeclared(self, declared: list[str], additional: Any) -> list[tuple[Node, Any, str]]:
        """(quoted key without the colon, value schema, pointer) for each class of undeclared names."""
        base = [alt(key_not_in(declared))]
        if self.names_node is not None:
            base.append(self.names_node)  # every spelling of the allowed names, json.dumps's among them
        out = []
        k = len(self.patterns)
        for size in range(k, -1, -1):
            for chosen in combinations(range(k), size):
                if not chosen and additional is False:
                    continue
                parts = list(base) + [_quoted(self.spelled[i]) for i in chosen]
                parts += [_quoted(_complement(self.spelled[j])) for j in range(k) if j not in chosen]
                try:
                    body = intersect(parts, max_states=MAX_STATES)
                except LimitError as e:
                    deadline.reraise_expired(e)
                    self.c.unsupported("patternProperties: the name classes' automata are too large",
                                       f"{self.ptr}/patternProperties")
                    return out
                if body is NOTHING:
                    continue
                if chosen:
                    value = [self.patterns[i][2] for i in chosen]
                    sptr = f"{self.ptr}/patternProperties/{escape(self.patterns[chosen[0]][0])}"
                    out.append((body, value[0] if len(value) == 1 else {"allOf": value}, sptr))
                else:
                    out.append((body, additional, f"{self.ptr}/additionalProperties"))
        return out


def _quoted(content: Node) -> Node:
    return cat(literal('"'), content, literal('"'))


_QUOTED_ESCAPED = _quoted(_ESCAPED)


def _complement(node: Node) -> Node:
    """The byte strings `node` does not match, as an automaton (intersected with names later)."""
    table, accepting, start = minimal_dfa(node, MAX_STATES)
    edges = []
    for row in table:
        cuts = [0] + (np.flatnonzero(row[1:] != row[:-1]) + 1).tolist() + [256]
        edges.append(tuple((a, b - 1, int(t)) for a, b, t in zip(cuts[:-1], cuts[1:], row[cuts[:-1]].tolist())))
    return Automaton(int(start), tuple(edges), frozenset(int(s) for s in np.flatnonzero(~accepting)))


def matches(dfa: tuple, name: str) -> bool:
    table, accepting, s = dfa
    for b in name.encode():
        s = table[s, b]
    return bool(accepting[s])
