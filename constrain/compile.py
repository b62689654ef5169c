"""Front door: turn a constraint (regex, list of choices, Lark grammar) into a `CompiledGrammar` over a
vocabulary."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from . import deadline, gcpause
from .automaton import nfa, regex
from .automaton.dfa import DFA
from .errors import ConstrainError
from .grammar.load import load_lark, read_grammar_text
from .mask.cfg import CFGGrammar
from .mask.regex import RegexGrammar


@dataclass(frozen=True)
class Limits:
    """Bounds that turn a pathological constraint into a `LimitError` instead of a hang or a
    memory blow-up; the defaults leave every schema of JSONSchemaBench's dev sample well inside.

    max_compile_seconds: wall time of one compilation (None: unbounded); masks computed later, while
        generating, are bounded by the state limits instead.
    max_nfa_states: size of the byte automaton built from the syntax tree (checked before building).
    max_dfa_states: determinised states of a regex (all explored at compile time, so the bound is hit
        early) or of the lexer shared by all terminals of a grammar (built lazily, so the bound may be hit while generating).
    max_grammar_size: rules plus the symbols on their right-hand sides (`Grammar.size`), after lark
        expands the grammar's groups, repetitions and templates (estimated before it does).
    mask_cache_bytes: per-state masks kept per compiled regex or grammar, least recently used out: a
        mask costs one byte per vocabulary token (a grammar keeps a sparse one as its token ids). A
        grammar keeps as many bytes of the trie walks its masks are made of.
    max_configs: ways a grammar may split the text read so far into terminals at once.
    """

    max_compile_seconds: float | None = 20.0
    max_nfa_states: int = 200_000
    max_dfa_states: int = 20_000
    max_grammar_size: int = 200_000
    mask_cache_bytes: int = 64 << 20
    max_configs: int = 256


DEFAULT_LIMITS = Limits()


@contextmanager
def compiling(limits: Limits) -> Iterator[None]:
    """What every compilation runs under: its deadline, and no cyclic garbage collection (`gcpause`).
    The deadline is checked once more at the end, so a compilation that overran it in code between
    two checks (the first mask, say) still reports it: the bound holds exactly."""
    with deadline.within(limits.max_compile_seconds), gcpause.paused():
        yield
        deadline.check()


def compile_regex(pattern: str, vocab, *, limits: Limits = DEFAULT_LIMITS) -> RegexGrammar:
    """Constrain the whole output to match `pattern` (see `automaton.regex` for the syntax)."""
    with compiling(limits):
        return _compile(regex.parse(pattern), vocab, limits, source=pattern)


def compile_choices(choices, vocab, *, limits: Limits = DEFAULT_LIMITS) -> RegexGrammar:
    """Constrain the output to be exactly one of `choices` (strings)."""
    choices = list(choices)
    if not choices:
        raise ConstrainError("choices must not be empty")
    for k, choice in enumerate(choices):
        if not isinstance(choice, str):
            raise ConstrainError(f"choices[{k}] must be a str, not {type(choice).__name__}")
        if not choice:
            raise ConstrainError(f"choices[{k}] is empty: an output must have at least one token")
        try:
            choice.encode("utf-8")
        except UnicodeEncodeError as e:  # a lone surrogate: no byte sequence spells it
            raise ConstrainError(f"choices[{k}] has a lone surrogate at character {e.start}, which is not "
                                 "encodable as UTF-8") from None
    tree = regex.Alt(tuple(regex.literal(c) for c in dict.fromkeys(choices)))
    with compiling(limits):
        return _compile(tree, vocab, limits, source=f"choices {choices!r}")


def _compile(tree: regex.Node, vocab, limits: Limits, source: str) -> RegexGrammar:
    deadline.check()
    dfa = DFA(nfa.build(tree, limits.max_nfa_states), limits.max_dfa_states)
    deadline.check()
    dfa.build_all()
    deadline.check()
    if dfa.start == 0:
        raise ConstrainError(f"the constraint matches nothing: {source}")
    grammar = RegexGrammar(dfa, vocab, source=source, mask_cache_bytes=limits.mask_cache_bytes)
    grammar.mask_for(dfa.start)  # pay for the first mask at compile time
    return grammar


def compile_lark(grammar, vocab, *, start: str = "start", limits: Limits = DEFAULT_LIMITS) -> CFGGrammar:
    """Constrain the output to the language of a Lark grammar (its text, or a path to a .lark file)."""
    with compiling(limits):
        loaded = load_lark(grammar, start=start, max_size=limits.max_grammar_size)
        deadline.check()
        compiled = CFGGrammar(loaded, vocab, source=read_grammar_text(grammar),
                              max_nfa_states=limits.max_nfa_states, max_lexer_states=limits.max_dfa_states,
                              max_configs=limits.max_configs, mask_cache_bytes=limits.mask_cache_bytes)
        deadline.check()
        compiled.mask_for(compiled.initial_state())  # pay for the first mask at compile time
    return compiled

