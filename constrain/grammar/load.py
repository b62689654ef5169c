"""Lark grammar text -> `Grammar`, using the `lark` library to read it.

Lark parses the grammar, expands EBNF (`? * + [] ~ n..m`), templates and `%import`s, and reports
syntax errors with line and column; we take its BNF rules and terminal patterns. Terminal regexes
use Python `re` syntax and go through our own regex parser, so anything a finite automaton cannot
enforce is an error naming the terminal. Priorities are ignored: they choose between parses, and
the set of accepted texts does not depend on them.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from ..automaton import regex
from ..errors import GrammarError, RegexError
from .cfg import Grammar, Rule, Terminal


def read_grammar_text(grammar: str | os.PathLike) -> str:
    """The grammar itself, or the contents of the file it names (a path or a `.lark` name)."""
    if isinstance(grammar, os.PathLike) or (isinstance(grammar, str) and grammar.endswith(".lark")
                                            and "\n" not in grammar):
        path = Path(grammar)
        if not path.is_file():
            raise GrammarError(f"grammar file not found: {path}")
        return path.read_text(encoding="utf-8")
    if not isinstance(grammar, str):
        raise GrammarError(f"a grammar is lark text or a path, not {type(grammar).__name__}")
    return grammar


def load_lark(grammar: str | os.PathLike, start: str = "start") -> Grammar:
    """Read a Lark grammar; `GrammarError` (with line and column where lark gives them) if it is bad."""
    import lark
    from lark.exceptions import LarkError, UnexpectedInput

    text = read_grammar_text(grammar)
    try:
        parsed = lark.Lark(text, parser="earley", lexer="dynamic", start=start)
    except UnexpectedInput as exc:
        raise GrammarError(f"lark cannot read the grammar: {_first_line(exc)}", exc.line, exc.column) from None
    except (LarkError, KeyError) as exc:  # lark reports some undefined start rules as KeyError
        message = str(exc).strip() or repr(exc)
        found = re.search(r"line (\d+)(?:,? col(?:umn)? (\d+))?", message)
        line, column = (int(found.group(1)), int(found.group(2) or 1)) if found else (None, None)
        raise GrammarError(f"lark cannot read the grammar: {_first_line(message)}", line, column) from None

    terminals = [Terminal(t.name, _terminal_pattern(t)) for t in parsed.terminals]
    term_ids = {t.name: k for k, t in enumerate(terminals)}
    names: list[str] = []
    nt_ids: dict[str, int] = {}

    def symbol(sym) -> int:
        if sym.is_term:
            if sym.name not in term_ids:
                raise GrammarError(f"terminal {sym.name} is declared but has no pattern (%declare is not supported)")
            return term_ids[sym.name]
        if sym.name not in nt_ids:
            nt_ids[sym.name] = len(terminals) + len(names)
            names.append(sym.name)
        return nt_ids[sym.name]

    rules = [Rule(symbol(r.origin), tuple(symbol(s) for s in r.expansion)) for r in parsed.rules]
    if start not in nt_ids:
        raise GrammarError(f"the grammar has no rule named {start!r}")
    ignore = frozenset(term_ids[name] for name in parsed.ignore_tokens if name in term_ids)
    return Grammar(terminals, names, rules, nt_ids[start], ignore).reduced()


def _terminal_pattern(terminal) -> regex.Node:
    pattern = terminal.pattern
    flags = "".join(sorted(f for f in pattern.flags if f in "imsux"))
    if pattern.type == "str":
        source = re.escape(pattern.value)
    else:
        source = pattern.value
    if flags:
        source = f"(?{flags}){source}"
    try:
        return regex.parse(source)
    except RegexError as exc:
        raise GrammarError(f"terminal {terminal.name}: {exc}") from None


def _first_line(exc) -> str:
    return str(exc).strip().splitlines()[0]
