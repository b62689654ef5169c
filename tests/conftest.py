"""Shared fixtures: real tokenizers only, all built or loaded offline."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from constrain.vocab import Vocabulary

SPIECE = "\u2581"

# Small corpus for the SentencePiece-style tokenizer: enough to learn some
# merges; CJK, emoji and rare characters are left to the byte fallback.
SENTENCEPIECE_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Structured generation constrains a language model with regular expressions.",
    "A JSON object has keys, values, arrays and nested objects.",
    "Café au lait, naïve résumé, façade, jalapeño.",
    "def main():\n    return {\"answer\": 42, \"ok\": true}\n",
    "Numbers like 3.14, 2718 and -7 appear in the text too.",
]


def build_sentencepiece_tokenizer():
    """A Llama-2-style tokenizer: BPE over `▁`-for-space text, `<0xNN>` byte
    fallback, `<unk>`/`<s>`/`</s>` at ids 0-2 and the 256 byte pieces at 3-258.

    Trained with the `tokenizers` library on SENTENCEPIECE_CORPUS, then laid
    out like Llama-2's tokenizer.json (normalizer prepends `▁` and replaces
    spaces; decoder replaces `▁`, fuses bytes and strips the prefix space).
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    trainer_tok = Tokenizer(models.BPE())
    trainer_tok.normalizer = normalizers.Sequence([normalizers.Prepend(SPIECE), normalizers.Replace(" ", SPIECE)])
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=SPIECE, prepend_scheme="never", split=True)
    trainer_tok.train_from_iterator(SENTENCEPIECE_CORPUS * 20, trainers.BpeTrainer(vocab_size=300, show_progress=False))
    trained = json.loads(trainer_tok.to_str())["model"]

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    vocab.update({f"<0x{b:02X}>": 3 + b for b in range(256)})
    for piece, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        vocab.setdefault(piece, len(vocab))
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in trained["merges"]]

    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend(SPIECE), normalizers.Replace(" ", SPIECE)])
    tok.decoder = decoders.Sequence(
        [decoders.Replace(SPIECE, " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


@pytest.fixture(scope="session")
def smollm2_tokenizer():
    from constrain.hf.model import load_default_tokenizer

    return load_default_tokenizer()


@pytest.fixture(scope="session")
def smollm2_vocab(smollm2_tokenizer) -> Vocabulary:
    return Vocabulary.from_tokenizer(smollm2_tokenizer)


@pytest.fixture(scope="session")
def sentencepiece_tokenizer():
    return build_sentencepiece_tokenizer()


@pytest.fixture(scope="session")
def sentencepiece_vocab(sentencepiece_tokenizer) -> Vocabulary:
    return Vocabulary.from_tokenizer(sentencepiece_tokenizer)


@pytest.fixture(scope="session")
def qwen_tiktoken_path() -> Path:
    """Qwen's 151,643 BPE ranks, shipped inside the `dashscope` package."""
    from benchmarks.vocabs import qwen_tiktoken_path

    try:
        return qwen_tiktoken_path()
    except FileNotFoundError as e:
        pytest.fail(f"{e} (the README's test command installs it)")


@pytest.fixture(scope="session")
def qwen_vocab(qwen_tiktoken_path) -> Vocabulary:
    return Vocabulary.from_tiktoken(qwen_tiktoken_path)


@pytest.fixture(scope="session")
def default_model():
    """(model, tokenizer) of the default model; ~25 s the first time on a machine, then cached."""
    from constrain.hf.model import load_default_model

    return load_default_model()
