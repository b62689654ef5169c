"""Lark grammar text -> `Grammar`, using the `lark` library to read it.

Lark parses the grammar, expands EBNF (`? * + [] ~ n..m`), templates and `%import`s, and reports
syntax errors with line and column; we take its BNF rules and terminal patterns. Terminal regexes
use Python `re` syntax and go through our own regex parser, so anything a finite automaton cannot
enforce is an error naming the terminal. Priorities are ignored: they choose between parses, and
the set of accepted texts does not depend on them.

A grammar never reads files: `%import` resolves only to the grammars bundled with lark (`common`,
`unicode`, `python`, `lark`), never to a path relative to the grammar or the working directory.
Errors lark reports without a position (an undefined rule, a bad terminal) get the line and column
of the first place the grammar text names the symbol.
"""
from __future__ import annotations

import os
import re
from functools import partial
from pathlib import Path

from regex import error as RegexModuleError  # lark checks terminal regexes with `regex` when installed

from ..automaton import regex
from ..errors import GrammarError, LimitError, RegexError, UnsupportedGrammarError, UnsupportedRegexError
from .cfg import Grammar, Rule, Terminal
from .expansion import check_expansion


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


def load_lark(grammar: str | os.PathLike, start: str = "start", max_size: int | None = None) -> Grammar:
    """Read a Lark grammar; `GrammarError` (with line and column where lark gives them) if it is bad,
    `LimitError` if it is bigger than `max_size` (see `Grammar.size`), before lark expands it."""
    import lark
    from lark.exceptions import LarkError, UnexpectedInput
    from lark.load_grammar import load_grammar

    text = read_grammar_text(grammar)
    try:
        definitions, _ = load_grammar(text, "<string>", [partial(_bundled_only, text)], False)
        if max_size is not None:
            check_expansion(definitions, max_size)
        parsed = lark.Lark(definitions, parser="earley", lexer="dynamic", start=start)
    except UnexpectedInput as exc:
        raise GrammarError(f"lark cannot read the grammar: {_first_line(exc)}", exc.line, exc.column) from None
    except RecursionError:
        raise UnsupportedGrammarError("the grammar nests groups too deeply for lark to read") from None
    except (LarkError, KeyError, re.error, RegexModuleError) as exc:  # lark reports some undefined start
        message = str(exc).strip() or repr(exc)  # rules as KeyError, and passes on errors in terminal regexes
        found = re.search(r"line (\d+)(?:,? col(?:umn)? (\d+))?", message)
        line, column = (int(found.group(1)), int(found.group(2) or 1)) if found else _locate(text, _symbols_named(message))
        raise GrammarError(f"lark cannot read the grammar: {_first_line(message)}", line, column) from None

    terminals = [Terminal(t.name, _terminal_pattern(t, text)) for t in parsed.terminals]
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
    out = Grammar(terminals, names, rules, nt_ids[start], ignore).reduced()
    if max_size is not None and out.size > max_size:
        raise LimitError(f"the grammar has {len(out.rules)} rules, {out.size} symbols in all", "max_grammar_size",
                         max_size)
    return out


def _terminal_pattern(terminal, text: str) -> regex.Node:
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
        kind = UnsupportedGrammarError if isinstance(exc, UnsupportedRegexError) else GrammarError
        line, column = _locate(text, [rf"^\s*{terminal.name}(\.-?\d+)?\s*:", f"/{pattern.value}/"])
        raise kind(f"terminal {terminal.name}: {exc}", line, column) from None


def _bundled_only(text: str, base_path, grammar_path: str):
    """lark's import loader: the grammars bundled with lark (and their own relative imports); any
    other `%import` is refused before lark would look for the file on disk."""
    from lark.load_grammar import PackageResource, stdlib_loader

    if base_path is None or (isinstance(base_path, PackageResource) and base_path.pkg_name == "lark"):
        try:
            return stdlib_loader(base_path, grammar_path)
        except OSError:
            pass
    name = grammar_path[:-len(".lark")].replace(os.sep, ".")
    line, column = _locate(text, [rf"^\s*%import\s+\.*{re.escape(name)}\b"])
    raise GrammarError(f"%import of {name!r}: only the grammars bundled with lark (common, unicode, python, "
                       "lark) can be imported; a grammar never reads files", line, column)


# string literals, regex literals and comments: where a symbol's name is not a use of the symbol
_NOT_CODE = re.compile(r'"(?:\\.|[^"\\\n])*"i?|/(?:\\.|[^/\\\n])+/[imslux]*|//.*')


def _locate(text: str, names: list[str]) -> tuple[int | None, int | None]:
    """(line, column), 1-based, of the first use of the first of `names` the grammar has, outside
    literals and comments; a name starting with "/" is a regex literal and one starting with "^" a
    regex for a line's start, both looked for as written. (None, None) if none is found."""
    lines = text.splitlines()
    for name in names:
        for lineno, line in enumerate(lines, 1):
            if name.startswith("/"):
                column = line.find(name)
            elif name.startswith("^"):
                column = 0 if re.match(name, line) else -1
            else:
                code = _NOT_CODE.sub(lambda m: " " * len(m.group()), line)
                found = re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", code)
                column = found.start() if found else -1
            if column >= 0:
                return lineno, column + 1
    return None, None


def _symbols_named(message: str) -> list[str]:
    """The symbols a lark message is about: quoted (`Rule 'foo' used but not defined`, `{'WS'}`) or
    after a final colon (`Terminal used but not defined: B`)."""
    first = _first_line(message)
    return re.findall(r"'([A-Za-z_]\w*)'", first) + re.findall(r": ([A-Za-z_]\w*)$", first)


def _first_line(exc) -> str:
    return str(exc).strip().splitlines()[0]
