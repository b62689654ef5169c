"""The regex automaton against Python's `re` (ASCII flag): same language, typed errors with positions."""
import copy
import pickle
import functools
import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from constrain.automaton import nfa, regex
from constrain.automaton.dfa import DEAD, DFA
from constrain.compile import Limits, compile_regex
from constrain.errors import LimitError, RegexError, UnsupportedRegexError

PATTERNS = [
    r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,4}",
    r"\d{4}-\d{2}-\d{2}",
    r"(a|b)*abb",
    r".{2,4}",
    r"[^a-c]+",
    r"héllo|wörld|日本語|😀+",
    r"(?i)hello|straße",
    r"x{0,3}y?z{2,}",
    r"[\w.-]+",
    r"\x41\u00e9\U0001F600\N{BLACK STAR}",
    r"a+?b*?c??",
    r"(?s).",
    r"[^\x00]{0,5}",
    r"(?x) a b  # comment\n c",
    r"[\]\-^]+",
    r"(?P<year>\d+)-(?:[A-F]|\s)",
    r"^(yes|no)$",
    r"\D\W\S",
    r"[\u00e0-\u00ff\u4e00-\u4e10]+",
    r"(?i:ab)C",
    r"[\d\s]*x{3}",
    r"a{,2}b{3,}",
    r"\0\012\t\\\.",
    r"(ab|a)(bc|c)?",
    r"",
    r"(|a)+",
    r"[^\u0080-\U0010FFFF]",
]

ALPHABET = list("abcxyzABC@.-_019 \t\n]^\\éöß日本語😀★\x00\x0a")


def full_match(dfa: DFA, text: str) -> bool:
    state = dfa.walk(dfa.start, text.encode("utf-8"))
    return state != DEAD and dfa.is_accepting(state)


@functools.lru_cache(maxsize=None)
def build(pattern: str) -> DFA:
    return DFA(nfa.build(regex.parse(pattern), 200_000))


@pytest.mark.parametrize("pattern", PATTERNS)
def test_same_language_as_re(pattern):
    dfa, ref = build(pattern), re.compile(pattern, re.ASCII)
    rng = random.Random(pattern)
    samples = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 7))) for _ in range(3000)]
    samples += ["abb", "2024-01-31", "a@b.com", "hello", "HeLLo", "STRASSE", "yes", "no", "aaabb", "日本語"]
    mismatches = [s for s in samples if bool(ref.fullmatch(s)) != full_match(dfa, s)]
    assert not mismatches, mismatches[:5]


# hypothesis takes ~20 s to draw from a negated class spanning all of Unicode; `re` covers it above
@pytest.mark.parametrize("pattern", [p for p in PATTERNS if not p.startswith("[^\\u0080")])
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_generated_matches_are_accepted(pattern, data):
    # hypothesis draws only ASCII under re.ASCII; that flag matters only for \d \w \s (and \b)
    flags = re.ASCII if re.search(r"\\[dDwWsS]", pattern) else 0
    text = data.draw(st.from_regex(re.compile(pattern, flags), fullmatch=True))
    assert full_match(build(pattern), text)


def test_prefixes_of_matches_stay_alive():
    dfa = build(r"\d{4}-\d{2}-\d{2}")
    text = "2024-11-23".encode()
    for k in range(len(text) + 1):
        assert dfa.walk(dfa.start, text[:k]) != DEAD
    assert dfa.walk(dfa.start, b"2024-1x") == DEAD


def test_utf8_split_inside_character():
    dfa = build(r"é+")
    state = dfa.walk(dfa.start, "é".encode()[:1])  # first byte of a two-byte character
    assert state != DEAD and not dfa.is_accepting(state)
    assert dfa.is_accepting(dfa.walk(state, "é".encode()[1:]))
    assert dfa.walk(dfa.start, b"\xff") == DEAD


@pytest.mark.parametrize("sequence", [(0, 0x7F), (0x80, 0x7FF), (0x800, 0xFFFF), (0x10000, 0x10FFFF),
                                      (0x7F, 0x10000), (0xD000, 0xE100), (0x3A5, 0x1F643)])
def test_utf8_sequences_cover_exactly(sequence):
    lo, hi = sequence
    seqs = nfa.utf8_sequences(lo, hi)
    rng = random.Random(lo)
    for cp in [lo, hi, (lo + hi) // 2] + [rng.randint(max(0, lo - 500), min(0x10FFFF, hi + 500)) for _ in range(2000)]:
        if 0xD800 <= cp <= 0xDFFF:
            continue
        data = chr(cp).encode()
        hit = any(len(s) == len(data) and all(a <= b <= c for (a, c), b in zip(s, data)) for s in seqs)
        assert hit == (lo <= cp <= hi and not 0xD800 <= cp <= 0xDFFF), hex(cp)


@pytest.mark.parametrize("pattern, position, kind", [
    ("a(b", 1, RegexError),
    ("a)b", 1, RegexError),
    ("*a", 0, RegexError),
    ("ab{3,2}", 2, RegexError),
    ("[a-", 0, RegexError),
    ("[z-a]", 1, RegexError),
    (r"ab\q", 2, RegexError),
    (r"\x4", 0, RegexError),
    (r"(a)\1", 3, UnsupportedRegexError),
    (r"(?P<n>a)(?P=n)", 8, UnsupportedRegexError),
    (r"x(?=a)", 1, UnsupportedRegexError),
    (r"x(?<!a)", 1, UnsupportedRegexError),
    (r"a\bc", 1, UnsupportedRegexError),
    (r"a^b", 1, UnsupportedRegexError),
    (r"a$b", 1, UnsupportedRegexError),
    ("a++", 2, UnsupportedRegexError),
    ("(?>a)", 0, UnsupportedRegexError),
    ("a(?i)b", 1, RegexError),
    ("a\ud800", 1, RegexError),
])
def test_errors_name_the_position(pattern, position, kind):
    with pytest.raises(kind) as info:
        regex.parse(pattern)
    assert info.value.position == position
    assert f"position {position}" in str(info.value)


def test_size_limits_are_typed_errors_not_hangs(smollm2_vocab):
    with pytest.raises(LimitError):
        compile_regex(r"[^\x00]{0,1000000}", smollm2_vocab)
    with pytest.raises(LimitError):
        compile_regex(r"(a|b)*a(a|b){12}", smollm2_vocab, limits=Limits(max_dfa_states=1000))
    with pytest.raises(LimitError):
        compile_regex(r"a{100000}", smollm2_vocab, limits=Limits(max_nfa_states=50_000))


def test_exponential_subset_blowup_stays_within_bound(smollm2_vocab):
    grammar = compile_regex(r"(a|b)*a(a|b){8}", smollm2_vocab)
    assert 2 ** 9 <= grammar.dfa.num_states <= 2 ** 10 + 2


def test_node_hash_is_structural_and_computed_once():
    a, b = regex.parse(r"(ab|c){2,5}[x-z]*"), regex.parse(r"(ab|c){2,5}[x-z]*")
    assert a == b and a is not b and hash(a) == hash(b)
    assert a != regex.parse(r"(ab|c){2,6}[x-z]*")
    object.__setattr__(a, "_hash", 12345)  # a second hash reads the cache, not the subtree
    assert hash(a) == 12345
    child = b.items[0]
    assert hasattr(child, "_hash")  # hashing the parent cached its children's hashes too
    assert not hasattr(copy.copy(b), "_hash") and not hasattr(pickle.loads(pickle.dumps(b)), "_hash")  # copies recompute it
    assert not hasattr(a, "__dict__")  # the cache is a slot: one object per node for the collector
