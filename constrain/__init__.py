"""constrain: language-model output guaranteed to fit a structure.

Pipeline, one stage per folder: a constraint is parsed into a byte automaton (`automaton/`: regex,
NFA, DFA) or a context-free grammar over such automata (`grammar/`: Lark loading, Earley parser),
the vocabulary is indexed as a byte trie (`index/`), per-token masks are computed by walking the trie
through the automaton (`mask/`) behind one `Matcher` interface (`matcher`), applied during sampling
(`hf/processor`) and driven end to end by `generate_structured` (`generate`).
"""
from .budget import min_new_tokens
from .compile import DEFAULT_LIMITS, Limits, compile_choices, compile_lark, compile_regex
from .errors import (BudgetError, ConstrainError, GenerationError, GrammarError, LimitError, RegexError,
                     UnsupportedRegexError, VocabularyError)
from .generate import StructuredResult, generate_structured
from .hf.processor import ConstrainedLogitsProcessor
from .matcher import CompiledGrammar, Matcher
from .repair import RepairError, json_equal, repair_json
from .schema import SchemaError, UnsupportedSchemaError, compile_json_schema
from .vocab import Vocabulary

__all__ = [
    "BudgetError", "CompiledGrammar", "ConstrainError", "ConstrainedLogitsProcessor", "DEFAULT_LIMITS", "GenerationError",
    "GrammarError", "LimitError", "Limits", "Matcher", "RegexError", "RepairError", "SchemaError", "UnsupportedSchemaError", "StructuredResult", "UnsupportedRegexError",
    "Vocabulary", "VocabularyError", "compile_choices", "compile_json_schema", "compile_lark", "compile_regex", "generate_structured", "json_equal", "min_new_tokens", "repair_json",
]
