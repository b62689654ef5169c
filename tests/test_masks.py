"""Token masks are exact, on real vocabularies: never allow a token that cannot lead to a match, never
forbid one that can.

Three oracles: a slow per-token reference (every token's bytes walked through the automaton, no trie),
the `regex` module's partial matching (an independent engine), and canonical tokenizations of strings
that do or do not match.
"""
import random
import re

import pytest
import regex as regex_module
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from constrain import Vocabulary, compile_choices, compile_regex
from constrain.automaton.dfa import DEAD

PATTERNS = [
    r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,4}",
    r"\d{4}-\d{2}-\d{2}",
    r"(red|green|blue)( and (red|green|blue))*",
    r"\{\"name\": \"[^\"]{1,12}\", \"age\": [1-9]\d?\}",
    r"[^\n]{0,8}",
    r"(?i)select \w+ from \w+;",
    r"héllo wörld|日本語+|😀{2,3}",
    r" +\d+(\.\d+)?",
]
VOCABS = ["smollm2_vocab", "sentencepiece_vocab", "qwen_vocab"]


def reference_mask(grammar, state: int) -> torch.Tensor:
    """Test-only: walk every token through the automaton on its own."""
    vocab = grammar.vocab
    mask = torch.zeros(vocab.size, dtype=torch.bool)
    for tid, data in enumerate(vocab.tokens):
        if tid not in vocab.special_token_ids and data:
            mask[tid] = grammar.dfa.walk(state, data) != DEAD
    mask[vocab.eos_token_id] = grammar.dfa.is_accepting(state)
    return mask


def reachable_states(grammar, limit: int, seed: int = 0) -> list[int]:
    """Distinct automaton states reached by random allowed tokens from the start."""
    rng = random.Random(seed)
    states, frontier = [grammar.dfa.start], [grammar.matcher()]
    while frontier and len(states) < limit:
        matcher = frontier.pop(0)
        allowed = [t for t in torch.nonzero(matcher.mask()).flatten().tolist()
                   if t != grammar.vocab.eos_token_id]
        for tid in rng.sample(allowed, min(4, len(allowed))):
            nxt = matcher.copy()
            assert nxt.advance(tid)
            if nxt._state not in states:
                states.append(nxt._state)
                frontier.append(nxt)
    return states[:limit]


@pytest.mark.parametrize("vocab_name", VOCABS)
@pytest.mark.parametrize("pattern", PATTERNS)
def test_fast_mask_equals_reference(vocab_name, pattern, request):
    vocab = request.getfixturevalue(vocab_name)
    grammar = compile_regex(pattern, vocab)
    for state in reachable_states(grammar, limit=2 if vocab_name == "qwen_vocab" else 5):
        fast = grammar.mask_for(state)
        assert fast.dtype == torch.bool and fast.shape == (vocab.size,)
        diff = torch.nonzero(fast != reference_mask(grammar, state)).flatten().tolist()
        assert not diff, [(t, vocab.tokens[t], bool(fast[t])) for t in diff[:5]]


@pytest.mark.parametrize("pattern, prefix", [
    (r"[a-z]+@[a-z]+\.(com|org)", ""),
    (r"[a-z]+@[a-z]+\.(com|org)", "bob@ex"),
    (r"\d{4}-\d{2}-\d{2}", "20"),
    (r"(red|green|blue)( and (red|green|blue))*", "red an"),
    (r"[^\n]{0,8}", "abc"),
])
def test_start_mask_agrees_with_regex_partial_matching(pattern, prefix, smollm2_vocab):
    """An independent engine: a token is allowed iff prefix+token is a prefix of some full match."""
    grammar = compile_regex(pattern, smollm2_vocab)
    state = grammar.dfa.walk(grammar.dfa.start, prefix.encode())
    mask = grammar.mask_for(state)
    oracle = regex_module.compile(pattern, regex_module.ASCII | regex_module.V0)
    checked = 0
    for tid, data in enumerate(smollm2_vocab.tokens):
        if tid in smollm2_vocab.special_token_ids:
            assert not mask[tid] or tid == smollm2_vocab.eos_token_id
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue  # partial characters are covered by the reference-mask test
        expected = oracle.fullmatch(prefix + text, partial=True) is not None
        assert bool(mask[tid]) == expected, (data, expected)
        checked += 1
    assert checked > 40_000


def greedy_ids(vocab: Vocabulary, text: str) -> list[int]:
    """Greedy longest-match ids for `text` (any tokenization is fine for walking a matcher)."""
    by_bytes = {data: tid for tid, data in enumerate(vocab.tokens) if tid not in vocab.special_token_ids}
    data, ids, i = text.encode(), [], 0
    while i < len(data):
        j = max(k for k in range(i + 1, min(len(data), i + 32) + 1) if data[i:k] in by_bytes)
        ids.append(by_bytes[data[i:j]])
        i = j
    return ids


def walk_tokens(grammar, ids: list[int]) -> bool:
    """Teacher-force `ids` then EOS; True iff every token was in the mask and accepted."""
    matcher = grammar.matcher()
    for tid in ids + [grammar.vocab.eos_token_id]:
        if not matcher.mask()[tid]:
            assert not matcher.copy().advance(tid), "advance accepted a token the mask forbids"
            return False
        assert matcher.advance(tid), "advance refused a token the mask allows"
    return matcher.is_terminated()


QWEN_SPLIT = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
              r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")


@pytest.fixture(scope="module")
def qwen_encode(qwen_tiktoken_path):
    """Qwen's own BPE over its rank file, with Qwen's pre-tokenizer split."""
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    ranks = load_tiktoken_bpe(str(qwen_tiktoken_path))
    return tiktoken.Encoding("qwen", pat_str=QWEN_SPLIT, mergeable_ranks=ranks, special_tokens={}).encode_ordinary


@pytest.fixture(scope="module")
def encoders(smollm2_tokenizer, sentencepiece_tokenizer, qwen_encode):
    return {
        "smollm2_vocab": lambda s: smollm2_tokenizer.encode(s, add_special_tokens=False),
        "sentencepiece_vocab": lambda s: sp_encode(sentencepiece_tokenizer, s),
        "qwen_vocab": qwen_encode,
    }


def sp_encode(tokenizer, text: str) -> list[int]:
    """SentencePiece tokenization of `text` as a continuation: spaces become `▁` but no `▁` is
    prepended (that happens only at the start of a whole sequence, i.e. the prompt)."""
    pieces = tokenizer.backend_tokenizer.model.tokenize(text.replace(" ", "\u2581"))
    return [piece.id for piece in pieces]


@pytest.mark.parametrize("vocab_name", VOCABS)
@pytest.mark.parametrize("pattern", PATTERNS)
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_matching_strings_are_accepted_token_by_token(vocab_name, pattern, data, request, encoders):
    vocab = request.getfixturevalue(vocab_name)
    flags = re.ASCII if re.search(r"\\[dDwWsS]", pattern) else 0
    text = data.draw(st.from_regex(re.compile(pattern, flags), fullmatch=True))
    ids = encoders[vocab_name](text)
    # SmolLM2 has no token for some lead bytes (e.g. 0xF1): such text cannot be generated at all
    assume(b"".join(vocab.tokens[t] for t in ids) == text.encode())
    assert walk_tokens(cached_grammar(pattern, vocab), ids), (text, ids)


@pytest.mark.parametrize("vocab_name", VOCABS)
@pytest.mark.parametrize("pattern", PATTERNS)
def test_non_matching_strings_are_rejected(vocab_name, pattern, request, encoders):
    vocab = request.getfixturevalue(vocab_name)
    grammar = cached_grammar(pattern, vocab)
    reference = re.compile(pattern, re.ASCII)
    rng = random.Random(pattern)
    alphabet = list("abcdrlue@.-_0123456789 {}\":,\né日本語😀") + ["red", "green", " and ", "select ", " from "]
    rejected = 0
    for _ in range(3000):
        if rejected == 100:
            break
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
        if reference.fullmatch(text) or not text.strip("\n"):
            continue
        ids = encoders[vocab_name](text)
        assert not walk_tokens(grammar, ids), text
        rejected += 1
    assert rejected == 100


_GRAMMARS: dict = {}


def cached_grammar(pattern: str, vocab):
    key = (pattern, id(vocab))
    if key not in _GRAMMARS:
        _GRAMMARS[key] = compile_regex(pattern, vocab)
    return _GRAMMARS[key]


def test_choices_allow_exactly_the_choices(smollm2_vocab, smollm2_tokenizer):
    grammar = compile_choices(["red", "blue", "green", "greenish"], smollm2_vocab)
    for word in ["red", "blue", "green", "greenish"]:
        assert walk_tokens(grammar, smollm2_tokenizer.encode(word, add_special_tokens=False))
    for word in ["re", "blues", "Red", "gree", "greenis"]:
        assert not walk_tokens(grammar, smollm2_tokenizer.encode(word, add_special_tokens=False))


def test_special_tokens_never_allowed_inside_output(smollm2_vocab):
    grammar = compile_regex(r"(?s).*", smollm2_vocab)
    mask = grammar.matcher().mask()
    specials = [t for t in smollm2_vocab.special_token_ids if t != smollm2_vocab.eos_token_id]
    assert specials and not mask[specials].any()
    assert mask[smollm2_vocab.eos_token_id]  # `.*` accepts the empty output


def test_eos_exactly_where_accepting(smollm2_vocab, smollm2_tokenizer):
    grammar = compile_regex(r"\d{2,3}", smollm2_vocab)
    matcher = grammar.matcher()
    eos = smollm2_vocab.eos_token_id
    seen = []
    for ch in "123":
        assert matcher.mask()[eos] == (len(seen) in (2, 3))
        assert matcher.advance(greedy_ids(smollm2_vocab, ch)[0])
        seen.append(ch)
    assert matcher.mask()[eos]
    assert not matcher.advance(greedy_ids(smollm2_vocab, "4")[0])
    assert matcher.advance(eos) and matcher.is_terminated()
    only_eos = matcher.mask()
    assert only_eos.sum() == 1 and only_eos[eos]


def test_matcher_refusal_rollback_copy(smollm2_vocab):
    grammar = compile_regex(r"ab(c|d)", smollm2_vocab)
    ids = {ch: greedy_ids(smollm2_vocab, ch)[0] for ch in "abcdx"}
    m = grammar.matcher()
    assert not m.advance(ids["b"]) and m.num_tokens == 0
    assert m.advance_many([ids["a"], ids["b"]])
    other = m.copy()
    assert m.advance(ids["c"]) and m.is_accepting()
    assert not other.is_accepting() and other.advance(ids["d"])
    m.rollback(2)
    assert m.num_tokens == 1 and m.advance(ids["b"]) and not m.advance(ids["x"])
    assert not m.advance_many([ids["d"], ids["x"]]) and m.num_tokens == 2
    with pytest.raises(ValueError):
        m.rollback(3)


def test_padded_vocabulary_masks_padding_out(smollm2_tokenizer):
    vocab = Vocabulary.from_tokenizer(smollm2_tokenizer, size=len(smollm2_tokenizer) + 64)
    grammar = compile_regex(r"(?s).*", vocab)
    mask = grammar.matcher().mask()
    assert mask.shape == (len(smollm2_tokenizer) + 64,)
    assert not mask[len(smollm2_tokenizer):].any()


@pytest.mark.parametrize("budget", [None, 40])
def test_filled_masks_equal_masks(budget, smollm2_vocab, smollm2_tokenizer):
    """`Matcher.fill_mask` writes exactly `mask()` into a reused row, wider than the vocabulary and
    dirty from the last step: sparse states (a key), dense ones (inside a string), a regex, after
    EOS, and with a budget narrowing the mask."""
    import json

    import numpy as np

    from constrain import compile_json_schema

    schema = {"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}},
              "required": ["name", "n"]}
    cases = [(compile_json_schema(schema, smollm2_vocab), json.dumps({"name": "Ada é", "n": 12})),
             (compile_regex(r"[a-z]+@[a-z]+\.com", smollm2_vocab), "ada@example.com")]
    for grammar, text in cases:
        matcher = grammar.matcher(budget=budget)
        row = np.ones(smollm2_vocab.size + 64, dtype=bool)  # a padded lm head, dirty
        for tid in smollm2_tokenizer.encode(text, add_special_tokens=False) + [smollm2_vocab.eos_token_id]:
            matcher.fill_mask(row)
            mask = matcher.mask().numpy()
            assert np.array_equal(row[:mask.size], mask) and not row[mask.size:].any()
            assert matcher.advance(tid)
            row[:] = True
        matcher.fill_mask(row)  # after EOS: EOS only
        assert np.flatnonzero(row).tolist() == [smollm2_vocab.eos_token_id]
    for bad in (np.zeros(smollm2_vocab.size - 1, dtype=bool), np.zeros(smollm2_vocab.size, dtype=np.int32),
                np.zeros((1, smollm2_vocab.size), dtype=bool)):
        with pytest.raises(ValueError, match="1-D bool array of at least"):
            cases[0][0].matcher().fill_mask(bad)
