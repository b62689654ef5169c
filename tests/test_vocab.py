"""Vocabulary: exact token bytes for byte-level BPE, SentencePiece and tiktoken vocabularies."""
from __future__ import annotations

import base64
import copy
import importlib.util

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from constrain.errors import VocabularyError
from constrain.vocab import Vocabulary

SPIECE = "\u2581"

# Qwen's pre-tokenizer split pattern (from its tokenizer config). Any split
# pattern gives the same round trip; this one makes the test realistic.
QWEN_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

FIXED_TEXTS = [
    "Hello, world!",
    "  leading spaces and trailing   ",
    "tabs\tand\nnewlines\r\n\n\nend",
    "Café naïve résumé façade jalapeño Ærøskøbing",
    "日本語のテキストと中文文本",
    "emoji 😀🎉👍🏽 family 👨‍👩‍👧",
    '{"key": [1, 2.5, -3e10], "nested": {"ok": true}}',
    "x",
    " ",
    "\n",
]

# Printable text of every script up to plane 3 (SmolLM2 has no tokens for the
# lead bytes of planes 4-11, which hold no assigned characters), plus the
# whitespace that matters for tokenization.
_chars = st.characters(max_codepoint=0x3FFFF, exclude_categories=("Cs", "Cc"), exclude_characters=SPIECE)
_fragments = st.sampled_from(["\n", "\t", "  ", "   ", " ", "\r\n", "é", "世界", "😀", "👍🏽", "<", "'s"])
TEXTS = st.lists(st.one_of(st.text(_chars, max_size=12), _fragments), max_size=8).map("".join)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def joined(vocab: Vocabulary, ids: list[int]) -> bytes:
    return b"".join(vocab.tokens[i] for i in ids)


# --- SmolLM2: byte-level BPE ---------------------------------------------------------


@pytest.mark.parametrize("text", FIXED_TEXTS)
def test_smollm2_round_trip_fixed(smollm2_tokenizer, smollm2_vocab, text):
    ids = smollm2_tokenizer.encode(text, add_special_tokens=False)
    assert joined(smollm2_vocab, ids) == text.encode("utf-8")


@FAST
@given(text=TEXTS)
def test_smollm2_round_trip_random(smollm2_tokenizer, smollm2_vocab, text):
    ids = smollm2_tokenizer.encode(text, add_special_tokens=False)
    assert joined(smollm2_vocab, ids) == text.encode("utf-8")


def test_smollm2_partial_utf8_tokens_keep_their_bytes(smollm2_tokenizer, smollm2_vocab):
    """A character split over several tokens: each token holds a fragment of
    its UTF-8, which single-id decode would turn into U+FFFD."""
    ids = smollm2_tokenizer.encode("🦙", add_special_tokens=False)
    pieces = [smollm2_vocab.tokens[i] for i in ids]
    assert len(pieces) > 1
    with pytest.raises(UnicodeDecodeError):
        pieces[0].decode("utf-8")
    assert b"".join(pieces) == "🦙".encode()


def test_smollm2_special_tokens(smollm2_tokenizer, smollm2_vocab):
    im_end = smollm2_tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert smollm2_vocab.eos_token_id == im_end == smollm2_tokenizer.eos_token_id
    assert smollm2_vocab.tokens[im_end] == b"<|im_end|>"
    for token in ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<file_sep>", "<empty_output>"]:
        assert smollm2_tokenizer.convert_tokens_to_ids(token) in smollm2_vocab.special_token_ids
    assert set(smollm2_tokenizer.all_special_ids) <= smollm2_vocab.special_token_ids
    # Ordinary tokens are not special.
    hello = smollm2_tokenizer.encode(" hello", add_special_tokens=False)
    assert not set(hello) & smollm2_vocab.special_token_ids
    assert smollm2_vocab.size == len(smollm2_tokenizer)


def test_smollm2_text_with_special_token_round_trips_to_literal(smollm2_tokenizer, smollm2_vocab):
    text = "<|im_start|>user\nhi<|im_end|>\n"
    ids = smollm2_tokenizer.encode(text, add_special_tokens=False)
    assert smollm2_tokenizer.convert_tokens_to_ids("<|im_start|>") in ids
    assert joined(smollm2_vocab, ids) == text.encode()


def test_smollm2_space_and_newline_tokens(smollm2_tokenizer, smollm2_vocab):
    space_word = smollm2_tokenizer.convert_tokens_to_ids("\u0120the")  # "Ġthe"
    newline = smollm2_tokenizer.convert_tokens_to_ids("\u010a")  # "Ċ"
    assert smollm2_vocab.tokens[space_word] == b" the"
    assert smollm2_vocab.tokens[newline] == b"\n"


def test_added_non_special_token_is_normal_text(smollm2_tokenizer):
    tok = copy.deepcopy(smollm2_tokenizer)
    tok.add_tokens(["constrainword", "ünïcode ädded"])
    vocab = Vocabulary.from_tokenizer(tok)
    new_id = tok.convert_tokens_to_ids("constrainword")
    accented_id = tok.convert_tokens_to_ids("ünïcode ädded")
    assert vocab.size == len(smollm2_tokenizer) + 2
    assert vocab.tokens[new_id] == b"constrainword"
    assert vocab.tokens[accented_id] == "ünïcode ädded".encode()
    assert new_id not in vocab.special_token_ids and accented_id not in vocab.special_token_ids
    text = "say constrainword and ünïcode ädded."
    ids = tok.encode(text, add_special_tokens=False)
    assert new_id in ids and accented_id in ids
    assert joined(vocab, ids) == text.encode()


def test_added_special_token_is_special(smollm2_tokenizer):
    tok = copy.deepcopy(smollm2_tokenizer)
    tok.add_special_tokens({"additional_special_tokens": ["<|tool_call|>"]})
    vocab = Vocabulary.from_tokenizer(tok)
    tool = tok.convert_tokens_to_ids("<|tool_call|>")
    assert vocab.tokens[tool] == b"<|tool_call|>"
    assert tool in vocab.special_token_ids


def test_padded_size(smollm2_tokenizer, smollm2_vocab):
    width = len(smollm2_tokenizer) + 64
    padded = Vocabulary.from_tokenizer(smollm2_tokenizer, size=width)
    assert padded.size == width == len(padded.tokens)
    assert padded.tokens[: smollm2_vocab.size] == smollm2_vocab.tokens
    assert padded.tokens[smollm2_vocab.size :] == [b""] * 64
    assert set(range(smollm2_vocab.size, width)) <= padded.special_token_ids
    assert padded.special_token_ids - set(range(smollm2_vocab.size, width)) == smollm2_vocab.special_token_ids


def test_size_cuts_ids_the_model_cannot_emit(smollm2_tokenizer):
    tok = copy.deepcopy(smollm2_tokenizer)
    tok.add_tokens(["beyondthehead"])
    vocab = Vocabulary.from_tokenizer(tok, size=len(smollm2_tokenizer))
    assert vocab.size == len(smollm2_tokenizer)
    assert b"beyondthehead" not in vocab.tokens


def test_eos_override(smollm2_tokenizer):
    endoftext = smollm2_tokenizer.convert_tokens_to_ids("<|endoftext|>")
    assert Vocabulary.from_tokenizer(smollm2_tokenizer, eos_token_id=endoftext).eos_token_id == endoftext


# --- SentencePiece with byte fallback ------------------------------------------------
# SentencePiece encodes a leading "▁" before the text (the normalizer prepends
# it) and its decoder strips one leading space again. Token bytes keep that
# space, because mid-sequence it is a real space: "▁the" is b" the". So the
# joined bytes of a whole encoded text are b" " + text, and the tokenizer's
# own decode of the same ids is exactly text.

SP_FIXED = [t for t in FIXED_TEXTS if t.strip()]  # SentencePiece decode is lossy for all-space text


@pytest.mark.parametrize("text", SP_FIXED)
def test_sentencepiece_round_trip_fixed(sentencepiece_tokenizer, sentencepiece_vocab, text):
    ids = sentencepiece_tokenizer.encode(text, add_special_tokens=False)
    assert joined(sentencepiece_vocab, ids) == b" " + text.encode()
    assert sentencepiece_tokenizer.decode(ids) == text


@FAST
@given(text=TEXTS.filter(bool))
def test_sentencepiece_round_trip_random(sentencepiece_tokenizer, sentencepiece_vocab, text):
    ids = sentencepiece_tokenizer.encode(text, add_special_tokens=False)
    assert joined(sentencepiece_vocab, ids) == b" " + text.encode()


def test_sentencepiece_byte_fallback_pieces(sentencepiece_tokenizer, sentencepiece_vocab):
    for b in (0x00, 0x0A, 0x41, 0xE4, 0xFF):
        assert sentencepiece_vocab.tokens[sentencepiece_tokenizer.convert_tokens_to_ids(f"<0x{b:02X}>")] == bytes([b])
    ids = sentencepiece_tokenizer.encode("世", add_special_tokens=False)
    assert [sentencepiece_vocab.tokens[i] for i in ids] == [b" ", b"\xe4", b"\xb8", b"\x96"]


def test_sentencepiece_space_marker(sentencepiece_tokenizer, sentencepiece_vocab):
    the = sentencepiece_tokenizer.convert_tokens_to_ids(SPIECE + "The")
    assert sentencepiece_vocab.tokens[the] == b" The"
    assert sentencepiece_vocab.tokens[sentencepiece_tokenizer.convert_tokens_to_ids(SPIECE)] == b" "


def test_sentencepiece_special_tokens(sentencepiece_tokenizer, sentencepiece_vocab):
    ids = {sentencepiece_tokenizer.convert_tokens_to_ids(t) for t in ("<unk>", "<s>", "</s>")}
    assert ids == {0, 1, 2}
    assert sentencepiece_vocab.special_token_ids == ids
    assert sentencepiece_vocab.eos_token_id == 2
    assert sentencepiece_vocab.tokens[:3] == [b"<unk>", b"<s>", b"</s>"]


def test_slow_sentencepiece_tokenizer(tmp_path):
    """A slow (pure SentencePiece) tokenizer has no backend JSON; its `sp_model` gives the style."""
    spm = pytest.importorskip("sentencepiece")
    from transformers import SentencePieceBackend

    from conftest import SENTENCEPIECE_CORPUS

    model_file = tmp_path / "sp.model"
    with open(model_file, "wb") as f:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(SENTENCEPIECE_CORPUS * 20),
            model_writer=f,
            vocab_size=400,
            model_type="unigram",
            hard_vocab_limit=False,
            byte_fallback=True,
            normalization_rule_name="identity",
            remove_extra_whitespaces=False,
            character_coverage=1.0,
            minloglevel=2,
        )
    tok = SentencePieceBackend(vocab_file=str(model_file), bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    assert not hasattr(tok, "backend_tokenizer")
    vocab = Vocabulary.from_tokenizer(tok)
    assert vocab.eos_token_id == 2 and {0, 1, 2} <= vocab.special_token_ids
    for text in ["Hello world", "Café 世界 😀\nnext  line"]:
        ids = tok.encode(text, add_special_tokens=False)
        assert joined(vocab, ids) == b" " + text.encode()


# --- Qwen via tiktoken ---------------------------------------------------------------


@pytest.fixture(scope="module")
def qwen_encoding(qwen_tiktoken_path, qwen_vocab):
    tiktoken = pytest.importorskip("tiktoken")
    from tiktoken.load import load_tiktoken_bpe

    return tiktoken.Encoding(
        name="qwen-test",
        pat_str=QWEN_PATTERN,
        mergeable_ranks=load_tiktoken_bpe(str(qwen_tiktoken_path)),
        special_tokens={"<|endoftext|>": qwen_vocab.eos_token_id},
    )


@pytest.mark.parametrize("text", FIXED_TEXTS)
def test_qwen_round_trip_fixed(qwen_encoding, qwen_vocab, text):
    assert joined(qwen_vocab, qwen_encoding.encode(text)) == text.encode()


@FAST
@given(text=TEXTS)
def test_qwen_round_trip_random(qwen_encoding, qwen_vocab, text):
    assert joined(qwen_vocab, qwen_encoding.encode(text, disallowed_special=())) == text.encode()


def test_qwen_layout(qwen_vocab, qwen_encoding):
    assert qwen_vocab.size == 151_644
    assert qwen_vocab.eos_token_id == 151_643  # Qwen's real <|endoftext|> id
    assert qwen_vocab.tokens[151_643] == b"<|endoftext|>"
    assert qwen_vocab.special_token_ids == {151_643}
    assert qwen_encoding.encode("<|endoftext|>", allowed_special="all") == [151_643]
    assert all(qwen_vocab.tokens[i] for i in range(151_643))


@pytest.mark.skipif(importlib.util.find_spec("dashscope") is None, reason="needs dashscope (the rank file)")
def test_qwen_hf_tokenizer(qwen_vocab, qwen_encoding):
    """The benchmarks' Hugging Face tokenizer converted from the rank file (how the peers see Qwen's
    vocabulary) has its exact token bytes and tokenizes like tiktoken; ~4 s once converted."""
    from benchmarks.vocabs import qwen_tokenizer

    tokenizer = qwen_tokenizer()
    vocab = Vocabulary.from_tokenizer(tokenizer)
    assert vocab.tokens == qwen_vocab.tokens
    assert (vocab.eos_token_id, vocab.special_token_ids) == (151_643, {151_643})
    texts = [*FIXED_TEXTS, '{"name": "Zo\u00eb \u00c5ngstr\u00f6m", "city": "\u6771\u4eac"}',
             '{"\u043a\u043b\u044e\u0447": ["\u03b1\u03b2\u03b3", 12345, -1.5e-3, null], "ok": true}',
             r'{"escaped": "Zo\u00eb \u6771"}', "it's I'LL don't 1234567 \r\n\n  end"]
    for text in texts:
        assert tokenizer.encode(text, add_special_tokens=False) == qwen_encoding.encode(text), text


def test_qwen_extra_specials_and_padding(qwen_tiktoken_path):
    vocab = Vocabulary.from_tiktoken(
        qwen_tiktoken_path, ("<|endoftext|>", "<|im_start|>", "<|im_end|>"), size=151_936
    )
    assert vocab.size == 151_936
    assert vocab.tokens[151_644:151_646] == [b"<|im_start|>", b"<|im_end|>"]
    assert vocab.special_token_ids == set(range(151_643, 151_936))


# --- construction and validation -----------------------------------------------------


def test_constructor_marks_eos_and_empty_tokens_special():
    vocab = Vocabulary([b"a", b"", b"bc", b"</s>"], eos_token_id=3, special_token_ids=[0])
    assert vocab.special_token_ids == frozenset({0, 1, 3})
    assert vocab.size == len(vocab) == 4
    assert vocab.tokens == [b"a", b"", b"bc", b"</s>"]


@pytest.mark.parametrize(
    ("tokens", "eos", "special", "message"),
    [
        ([b"a", b"b"], 2, (), "eos_token_id 2"),
        ([b"a", b"b"], -1, (), "eos_token_id -1"),
        ([b"a", b"b"], "1", (), "eos_token_id '1'"),
        ([b"a", b"b"], True, (), "eos_token_id True"),
        ([b"a", "b"], 0, (), "token 1 is str"),
        ([b"a", bytearray(b"b")], 0, (), "token 1 is bytearray"),
        ([b"a", None], 0, (), "token 1 is NoneType"),
        ([b"a", b"b"], 0, (5,), "special token id 5"),
        ([], 0, (), "at least one token"),
    ],
)
def test_constructor_rejects_bad_input(tokens, eos, special, message):
    with pytest.raises(VocabularyError, match=message):
        Vocabulary(tokens, eos, special)


def test_bad_size(smollm2_tokenizer):
    with pytest.raises(VocabularyError, match="size"):
        Vocabulary.from_tokenizer(smollm2_tokenizer, size=0)


def test_size_that_cuts_off_eos_is_rejected(sentencepiece_tokenizer):
    with pytest.raises(VocabularyError, match="eos_token_id 2"):
        Vocabulary.from_tokenizer(sentencepiece_tokenizer, size=2)


def test_tokenizer_without_eos_is_rejected():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(vocab={"a": 0, "b": 1, "\u0120": 2}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    hf = PreTrainedTokenizerFast(tokenizer_object=tok)
    with pytest.raises(VocabularyError, match="no eos"):
        Vocabulary.from_tokenizer(hf)
    assert Vocabulary.from_tokenizer(hf, eos_token_id=1).tokens == [b"a", b"b", b" "]


def test_unsupported_tokenizer_style_is_rejected():
    """WordPiece drops spaces and re-adds them on decode: no exact bytes exist."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(vocab={"[UNK]": 0, "[SEP]": 1, "hello": 2, "##s": 3}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.WordPiece()
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", eos_token="[SEP]")
    with pytest.raises(VocabularyError, match="WordPiece"):
        Vocabulary.from_tokenizer(hf)


def test_byte_level_piece_outside_alphabet_is_rejected():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(vocab={"</s>": 0, "a": 1, "a b": 2}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>")
    with pytest.raises(VocabularyError, match="token 2 'a b'"):
        Vocabulary.from_tokenizer(hf)


def test_bad_tiktoken_file(tmp_path):
    good = base64.b64encode(b"ab").decode()
    path = tmp_path / "ranks.tiktoken"
    path.write_text(f"{good} 0\nnot-base64!! 1\n")
    with pytest.raises(VocabularyError, match=r"ranks.tiktoken:2"):
        Vocabulary.from_tiktoken(path)
    path.write_text(f"{good} 0\n{base64.b64encode(b'c').decode()} 2\n")
    vocab = Vocabulary.from_tiktoken(path)
    assert vocab.tokens == [b"ab", b"", b"c", b"<|endoftext|>"]
    assert vocab.special_token_ids == {1, 3} and vocab.eos_token_id == 3
    with pytest.raises(VocabularyError, match="at least one special token"):
        Vocabulary.from_tiktoken(path, ())


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        (["</s>", "a", "\u0120a", "\u010a", "\u0120b"], [b"</s>", b"a", b" a", b"\n", b" b"]),
        (["</s>", "a", SPIECE + "a", "<0x0A>", SPIECE + "b"], [b"</s>", b"a", b" a", b"\n", b" b"]),
    ],
    ids=["byte-level", "sentencepiece"],
)
def test_style_from_vocabulary_when_there_is_no_decoder(pieces, expected):
    """With no decoder to read, the dominant space marker (Ġ or ▁) decides."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(vocab={p: i for i, p in enumerate(pieces)}, merges=[]))
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>")
    assert hf.backend_tokenizer.decoder is None
    assert Vocabulary.from_tokenizer(hf).tokens == expected


def test_numpy_integers_are_ids():
    np = pytest.importorskip("numpy")
    vocab = Vocabulary([b"a", b"b", b"c"], np.int64(2), [np.int32(0)])
    assert vocab.eos_token_id == 2 and type(vocab.eos_token_id) is int
    assert vocab.special_token_ids == {0, 2} and all(type(i) is int for i in vocab.special_token_ids)
