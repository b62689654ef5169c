"""Front door: turn a constraint (regex, list of choices, Lark grammar) into a `CompiledGrammar` over a
vocabulary."""
from __future__ import annotations

from dataclasses import dataclass

from .automaton import nfa, regex
from .automaton.dfa import DFA
from .errors import ConstrainError
from .grammar.load import load_lark, read_grammar_text
from .mask.cfg import CFGGrammar
from .mask.regex import RegexGrammar


@dataclass(frozen=True)
class Limits:
    """Bounds that turn a pathological constraint into a `LimitError` instead of a hang.

    max_nfa_states: size of the byte automaton built from the syntax tree (checked before building).
    max_dfa_states: determinised states of a regex (all explored at compile time, so the bound is hit
        early) or of one grammar lexer (built lazily, so the bound may be hit while generating).
    mask_cache_size: per-state masks kept per compiled regex (each costs vocab-size bytes).
    max_configs: ways a grammar may split the text read so far into terminals at once.
    """

    max_nfa_states: int = 200_000
    max_dfa_states: int = 20_000
    mask_cache_size: int = 2048
    max_configs: int = 256


DEFAULT_LIMITS = Limits()


def compile_regex(pattern: str, vocab, *, limits: Limits = DEFAULT_LIMITS) -> RegexGrammar:
    """Constrain the whole output to match `pattern` (see `automaton.regex` for the syntax)."""
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
    tree = regex.Alt(tuple(regex.literal(c) for c in dict.fromkeys(choices)))
    return _compile(tree, vocab, limits, source=f"choices {choices!r}")


def _compile(tree: regex.Node, vocab, limits: Limits, source: str) -> RegexGrammar:
    dfa = DFA(nfa.build(tree, limits.max_nfa_states), limits.max_dfa_states)
    dfa.build_all()
    if dfa.start == 0:
        raise ConstrainError(f"the constraint matches nothing: {source}")
    grammar = RegexGrammar(dfa, vocab, source=source, mask_cache_size=limits.mask_cache_size)
    grammar.mask_for(dfa.start)  # pay for the first mask at compile time
    return grammar


def compile_lark(grammar, vocab, *, start: str = "start", limits: Limits = DEFAULT_LIMITS) -> CFGGrammar:
    """Constrain the output to the language of a Lark grammar (its text, or a path to a .lark file)."""
    compiled = CFGGrammar(load_lark(grammar, start=start), vocab, source=read_grammar_text(grammar),
                          max_nfa_states=limits.max_nfa_states, max_lexer_states=limits.max_dfa_states,
                          max_configs=limits.max_configs)
    compiled.mask_for(compiled.initial_state())  # pay for the first mask at compile time
    return compiled
