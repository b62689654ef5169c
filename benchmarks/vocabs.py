"""The vocabularies the benchmarks run on, by name: `smollm2` (the default model's 49,152 tokens) and
`qwen` (Qwen's 151,643 BPE ranks plus `<|endoftext|>`), or any Hugging Face tokenizer folder.

Qwen's ranks ship as a tiktoken file inside the `dashscope` package (`pip install --no-deps
dashscope`: importing it needs its dependencies, so it is only located, never imported). The peers
take a Hugging Face tokenizer, not a rank file, so the ranks are converted once (~3 s) into a fast
tokenizer with Qwen's pre-tokenizer regex and saved in the user cache (`default_cache_dir()`), then
loaded offline; `tests/test_vocab.py` checks it has the rank file's exact token bytes and encodes
like tiktoken.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from constrain.hf.model import ensure_cached, default_cache_dir
from constrain.vocab import Vocabulary

NAMES = ("smollm2", "qwen")
QWEN_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
QWEN_EOS = "<|endoftext|>"  # id 151643, right after the last rank, as in Qwen's models


def qwen_tiktoken_path() -> Path:
    """Qwen's rank file inside the installed `dashscope` package."""
    spec = importlib.util.find_spec("dashscope")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the qwen vocabulary needs the dashscope package: pip install --no-deps dashscope")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "qwen.tiktoken"


def _save_qwen_tokenizer(target: Path) -> None:
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    converter = TikTokenConverter(vocab_file=str(qwen_tiktoken_path()), pattern=QWEN_PATTERN,
                                  extra_special_tokens=[QWEN_EOS])
    PreTrainedTokenizerFast(tokenizer_object=converter.converted(), eos_token=QWEN_EOS).save_pretrained(target)


def qwen_tokenizer(cache_dir: Path | None = None) -> Any:
    """Qwen's ranks as a Hugging Face fast tokenizer (151,644 ids), converted on first use."""
    from transformers import AutoTokenizer

    folder = ensure_cached((cache_dir or default_cache_dir()) / "qwen-tiktoken" / "tokenizer", _save_qwen_tokenizer)
    return AutoTokenizer.from_pretrained(folder, local_files_only=True)


def load_tokenizer(name: str | None) -> Any:
    """A Hugging Face tokenizer by vocabulary name (default `smollm2`) or tokenizer folder; offline."""
    if name is None or name == "smollm2":
        from constrain.hf.model import load_default_tokenizer

        return load_default_tokenizer()
    if name == "qwen":
        return qwen_tokenizer()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name, local_files_only=True)


def text_ids(tokenizer: Any, text: str) -> list[int]:
    """`text` as data, tokenized canonically: a control token's text (`<|endoftext|>` inside a JSON
    string) is spelled with ordinary tokens, as a model writes it; the control token itself would end
    the output, and no engine allows it inside one."""
    return tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True)


def load_vocab(name: str | None) -> Vocabulary:
    """constrain's vocabulary by name or tokenizer folder; `qwen` straight from the rank file (the
    same bytes as its converted tokenizer, without the conversion)."""
    if name == "qwen":
        return Vocabulary.from_tiktoken(qwen_tiktoken_path(), (QWEN_EOS,))
    return Vocabulary.from_tokenizer(load_tokenizer(name))
