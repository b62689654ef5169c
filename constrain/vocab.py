"""The exact bytes of every token id.

Masks are computed on bytes, never on decoded text: `tokenizer.decode([id])`
loses information (partial UTF-8 becomes U+FFFD, SentencePiece strips the
leading space), so each tokenizer style is mapped to bytes here, once.
"""
from __future__ import annotations

import base64
import json
import numbers
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

from constrain.errors import VocabularyError

_BYTE_LEVEL = "byte-level"
_SENTENCEPIECE = "sentencepiece"
_SPIECE_SPACE = "\u2581"  # "▁", SentencePiece's stand-in for a space
_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")


class Vocabulary:
    """Token id -> exact bytes, plus the ids that must never appear inside an output.

    `special_token_ids` always holds `eos_token_id`, every special/control
    token, and every id whose bytes are `b""` (padding past the tokenizer,
    holes in the id space): an empty token makes no progress, so allowing it
    would let generation loop forever. Consumers only need this one set to
    know what is never allowed as output text.

    A token's bytes are what it adds to the text mid-sequence. SentencePiece's
    `▁` is therefore a real space: `▁the` is b" the", and the space that
    SentencePiece prepends to an encoded text shows up as a leading b" "
    (its `decode` strips it again). Build output text by joining these bytes,
    not with `tokenizer.decode`, so the mask and the output agree.
    """

    __slots__ = ("tokens", "size", "eos_token_id", "special_token_ids", "__weakref__")  # weakref: per-vocabulary caches

    def __init__(self, tokens: list[bytes], eos_token_id: int, special_token_ids: Iterable[int] = ()):
        tokens = list(tokens)
        if not tokens:
            raise VocabularyError("a vocabulary needs at least one token")
        for i, token in enumerate(tokens):
            if not isinstance(token, bytes):
                raise VocabularyError(f"token {i} is {type(token).__name__} {token!r}, expected bytes")
        size = len(tokens)
        if not _is_int(eos_token_id) or not 0 <= eos_token_id < size:
            raise VocabularyError(f"eos_token_id {eos_token_id!r} is not a token id in [0, {size})")
        special = set()
        for i in special_token_ids:
            if not _is_int(i) or not 0 <= i < size:
                raise VocabularyError(f"special token id {i!r} is not a token id in [0, {size})")
            special.add(int(i))
        special.add(int(eos_token_id))
        special.update(i for i, token in enumerate(tokens) if not token)
        self.tokens: list[bytes] = tokens
        self.size: int = size  # the number of ids, i.e. the width of the logits this vocabulary masks
        self.eos_token_id: int = int(eos_token_id)
        self.special_token_ids: frozenset[int] = frozenset(special)

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        return (
            f"Vocabulary(size={self.size}, eos_token_id={self.eos_token_id}, "
            f"special={len(self.special_token_ids)})"
        )

    @classmethod
    def from_tokenizer(
        cls, tokenizer: Any, *, size: int | None = None, eos_token_id: int | None = None
    ) -> Vocabulary:
        """Build from any HF tokenizer (fast or slow), byte-level BPE or SentencePiece.

        `size` is the model's logit width (`model.config.vocab_size`): extra ids
        are padded with `b""` (never allowed) and ids past it are dropped,
        because the model cannot emit them. `eos_token_id` defaults to the
        tokenizer's eos. Added tokens keep their literal text; those marked
        special go into `special_token_ids`.
        """
        added = dict(getattr(tokenizer, "added_tokens_decoder", {}) or {})
        n = max([len(tokenizer), *(i + 1 for i in added)])
        pieces = tokenizer.convert_ids_to_tokens(list(range(n)))
        to_bytes = _piece_decoder(tokenizer, pieces, added)
        tokens = [
            _added_bytes(added[i]) if i in added else b"" if piece is None else to_bytes(i, piece)
            for i, piece in enumerate(pieces)
        ]

        special = {i for i, added_token in added.items() if getattr(added_token, "special", False)}
        special.update(i for i in tokenizer.all_special_ids if i is not None)
        if eos_token_id is None:
            eos_token_id = tokenizer.eos_token_id
            if eos_token_id is None:
                raise VocabularyError("the tokenizer has no eos token; pass eos_token_id=")
        tokens, special = _fit(tokens, special, size)
        return cls(tokens, eos_token_id, special)

    @classmethod
    def from_tiktoken(
        cls,
        path: str | os.PathLike[str],
        special_tokens: Sequence[str] = ("<|endoftext|>",),
        *,
        size: int | None = None,
    ) -> Vocabulary:
        """Build from a tiktoken rank file (`base64token rank` per line), e.g. Qwen's.

        Rank files hold no special tokens, so `special_tokens` are appended
        with ids right after the highest rank, in order, and the first is eos.
        With Qwen's file and the default that gives `<|endoftext|>` = 151643,
        Qwen's real id. `size` pads (or cuts) as in `from_tokenizer`.
        """
        if not special_tokens:
            raise VocabularyError("from_tiktoken needs at least one special token to serve as eos")
        ranks: dict[int, bytes] = {}
        with open(path, "rb") as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    encoded, rank = line.split()
                    ranks[int(rank)] = base64.b64decode(encoded, validate=True)
                except ValueError as e:
                    raise VocabularyError(f"{os.fspath(path)}:{line_no}: not a 'base64token rank' line") from e
        if not ranks:
            raise VocabularyError(f"{os.fspath(path)}: no ranks found")
        if min(ranks) < 0:
            raise VocabularyError(f"{os.fspath(path)}: negative rank {min(ranks)}")
        first_special = max(ranks) + 1
        tokens = [ranks.get(i, b"") for i in range(first_special)]
        tokens += [s.encode("utf-8") for s in special_tokens]
        special = set(range(first_special, len(tokens)))
        tokens, special = _fit(tokens, special, size)
        return cls(tokens, first_special, special)


def _added_bytes(added_token: Any) -> bytes:
    """Added tokens are matched on raw text before any byte-level or `▁`
    mapping, so their bytes are their content's UTF-8."""
    return getattr(added_token, "content", str(added_token)).encode("utf-8")


def _fit(tokens: list[bytes], special: set[int], size: int | None) -> tuple[list[bytes], set[int]]:
    """Pad with b"" (never allowed) or cut to the model's logit width."""
    if size is None:
        return tokens, special
    if not _is_int(size) or size < 1:
        raise VocabularyError(f"size must be a positive int, got {size!r}")
    size = int(size)
    return tokens[:size] + [b""] * (size - len(tokens)), {i for i in special if i < size}


def _is_int(value: object) -> bool:
    """Any integer type (numpy and torch scalars included), but not bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _gpt2_byte_alphabet() -> dict[int, str]:
    """GPT-2's byte -> printable char map: printable Latin-1 bytes stand for
    themselves, the other 68 bytes are shifted to U+0100 and up, in order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    alphabet = {b: chr(b) for b in printable}
    shifted = (b for b in range(256) if b not in alphabet)
    for offset, b in enumerate(shifted):
        alphabet[b] = chr(256 + offset)
    return alphabet


def _byte_level_table() -> dict[int, int | str]:
    """A `str.translate` table turning a byte-level piece into Latin-1 chars
    that `.encode("latin-1")` maps to the original bytes. Chars < 256 that are
    not in the alphabet map to U+FFFD so encoding fails instead of passing
    them through silently."""
    table: dict[int, int | str] = {c: "\ufffd" for c in range(256)}
    for b, char in _gpt2_byte_alphabet().items():
        table[ord(char)] = b
    return table


_BYTE_LEVEL_TABLE = _byte_level_table()


def _piece_decoder(tokenizer: Any, pieces: list[str | None], added: dict[int, Any]):
    """Pick the piece -> bytes function for this tokenizer's style."""
    style = _detect_style(tokenizer, pieces, added)
    if style == _BYTE_LEVEL:
        return _byte_level_bytes
    return _sentencepiece_bytes


def _byte_level_bytes(token_id: int, piece: str) -> bytes:
    try:
        return piece.translate(_BYTE_LEVEL_TABLE).encode("latin-1")
    except UnicodeEncodeError:
        raise VocabularyError(
            f"token {token_id} {piece!r} has characters outside the byte-level alphabet"
        ) from None


def _sentencepiece_bytes(token_id: int, piece: str) -> bytes:
    byte = _BYTE_PIECE.fullmatch(piece)
    if byte:
        return bytes([int(byte.group(1), 16)])
    return piece.replace(_SPIECE_SPACE, " ").encode("utf-8")


def _detect_style(tokenizer: Any, pieces: list[str | None], added: dict[int, Any]) -> str:
    """Byte-level or SentencePiece, read from the tokenizer's own decoder when it
    has one (fast tokenizers), else from slow-tokenizer attributes, else from
    which marker dominates the vocabulary."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        decoder = json.loads(backend.to_str()).get("decoder")
        kinds = [d.get("type") for d in _flatten_decoders(decoder)]
        if "ByteLevel" in kinds:
            return _BYTE_LEVEL
        if "Metaspace" in kinds or "ByteFallback" in kinds or any(
            d.get("type") == "Replace" and d.get("pattern", {}).get("String") == _SPIECE_SPACE
            for d in _flatten_decoders(decoder)
        ):
            return _SENTENCEPIECE
        if kinds:
            raise VocabularyError(
                f"unsupported tokenizer decoder {kinds}: only byte-level BPE and SentencePiece "
                "vocabularies can be mapped to exact bytes"
            )
    if hasattr(tokenizer, "byte_decoder") or hasattr(tokenizer, "byte_encoder"):
        return _BYTE_LEVEL
    if hasattr(tokenizer, "sp_model"):
        return _SENTENCEPIECE
    base = [p for i, p in enumerate(pieces) if p is not None and i not in added]
    byte_level_marks = sum(p.startswith(("\u0120", "\u010a")) for p in base)  # "Ġ" space, "Ċ" newline
    sentencepiece_marks = sum(p.startswith(_SPIECE_SPACE) for p in base)
    if byte_level_marks > sentencepiece_marks:
        return _BYTE_LEVEL
    if sentencepiece_marks > byte_level_marks:
        return _SENTENCEPIECE
    raise VocabularyError(
        f"cannot tell how {type(tokenizer).__name__} maps tokens to bytes: "
        "neither byte-level BPE nor SentencePiece"
    )


def _flatten_decoders(decoder: dict | None) -> list[dict]:
    if not decoder:
        return []
    if decoder.get("type") == "Sequence":
        return [d for inner in decoder.get("decoders", []) for d in _flatten_decoders(inner)]
    return [decoder]
