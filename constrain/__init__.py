"""constrain: language-model output guaranteed to fit a structure.

Pipeline, one stage per module: a constraint is parsed (`automaton.regex`), turned into a byte
automaton (`automaton.nfa`, `automaton.dfa`), intersected with the vocabulary (`index.trie`), served as
per-token masks (`matcher`), applied during sampling (`hf.processor`) and driven end to end by
`generate_structured` (`generate`).
"""
from .compile import DEFAULT_LIMITS, Limits, compile_choices, compile_regex
from .errors import (ConstrainError, GenerationError, LimitError, RegexError, UnsupportedRegexError,
                     VocabularyError)
from .generate import StructuredResult, generate_structured
from .hf.processor import ConstrainedLogitsProcessor
from .matcher import CompiledGrammar, Matcher
from .vocab import Vocabulary

__all__ = [
    "CompiledGrammar", "ConstrainError", "ConstrainedLogitsProcessor", "DEFAULT_LIMITS", "GenerationError",
    "LimitError", "Limits", "Matcher", "RegexError", "StructuredResult", "UnsupportedRegexError",
    "Vocabulary", "VocabularyError", "compile_choices", "compile_regex", "generate_structured",
]
