"""Fewest vocabulary tokens that spell given bytes: how a byte completion becomes a token plan.

Constraints read bytes, so any split of valid bytes into tokens is valid; the budget wants the split
with the fewest tokens. Every token starting at every position is found at once, one depth of the
trie per numpy step (all positions advance together), then a dynamic program picks the fewest.
"""
from __future__ import annotations

import numpy as np

from ..cache import once_per
from .trie import trie_of


class Segmenter:
    """Splits byte strings into the fewest tokens of one vocabulary (special tokens never used)."""

    def __init__(self, vocab):
        trie = trie_of(vocab)
        self.depth = trie.max_depth
        # per depth d: its nodes in depth-first order, which sorts them by (parent, byte), so the
        # keys parent * 256 + byte are sorted for a binary search
        levels = [np.flatnonzero(trie.depth == d) for d in range(self.depth + 1)]
        self._nodes = levels
        self._keys = [trie.parent[at].astype(np.int64) * 256 + trie.byte[at] for at in levels]
        spelled = trie.token.astype(np.int64)  # a token each node spells, or -1
        several = spelled < -1
        spelled[several] = trie.more_ids[trie.more_ptr[-spelled[several] - 2]]
        self._token = [spelled[at] for at in levels]
        self.single = np.zeros(256, dtype=bool)  # bytes that are tokens on their own
        if self.depth:
            self.single[trie.byte[levels[1]][self._token[1] >= 0]] = True

    def split(self, data: bytes) -> list[int] | None:
        """The fewest tokens whose bytes concatenate to `data`, or None if no split exists."""
        n = len(data)
        if n == 0:
            return []
        text = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
        starts, nodes = np.arange(n), np.zeros(n, dtype=np.int64)
        found: list[tuple[np.ndarray, int, np.ndarray]] = []
        for d in range(1, self.depth + 1):
            keep = starts + d - 1 < n
            starts, nodes = starts[keep], nodes[keep]
            if not starts.size:
                break
            keys = self._keys[d]
            want = nodes * 256 + text[starts + d - 1]
            at = np.minimum(np.searchsorted(keys, want), keys.size - 1)
            hit = keys[at] == want
            starts, at = starts[hit], at[hit]
            nodes, token = self._nodes[d][at], self._token[d][at]
            ends = token >= 0
            if ends.any():
                found.append((starts[ends], d, token[ends]))
        edges: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        for where, d, tokens in found:
            for i, t in zip(where.tolist(), tokens.tolist()):
                edges[i].append((d, t))
        best: list[tuple[int, int, int] | None] = [None] * n + [(0, 0, -1)]  # (count, length, token)
        for i in range(n - 1, -1, -1):
            for d, t in edges[i]:
                after = best[i + d]
                if after is not None and (best[i] is None or after[0] + 1 < best[i][0]):
                    best[i] = (after[0] + 1, d, t)
        if best[0] is None:
            return None
        out, i = [], 0
        while i < n:
            _, d, t = best[i]
            out.append(t)
            i += d
        return out


segmenter_of = once_per(Segmenter)  # the segmenter of a `Vocabulary`, built once per vocabulary object
