"""Caches bounded in bytes, oldest entry out: a grammar's masks by state, its trie walks, and the
walks shared by every grammar over one vocabulary (`walks.SharedWalks`).

Why oldest rather than least recently used: a lookup is on the per-token path (ten per new state),
and a plain dict's own `get` costs no Python frame; an entry evicted while still in use is computed
once more, which only happens once the cache holds its whole budget."""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import torch


def mask_bytes(entry: torch.Tensor | np.ndarray) -> int:
    """A cached mask: a bool tensor, or the ids it allows (a sparse mask costs a few bytes)."""
    return entry.numel() * entry.element_size() if isinstance(entry, torch.Tensor) else entry.nbytes


class BoundedCache:
    """Values by key within `max_bytes` as `size` counts them (the newest always stays). Not
    thread-safe: callers hold a lock."""

    def __init__(self, max_bytes: int, size: Callable[[Any], int] = mask_bytes):
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._size = size
        self._entries: OrderedDict[Any, Any] = OrderedDict()  # in insertion order
        self.get = self._entries.get  # value or None

    def put(self, key: Any, value: Any) -> None:
        entries = self._entries
        old = entries.pop(key, None)
        if old is not None:
            self.nbytes -= self._size(old)
        entries[key] = value
        self.nbytes += self._size(value)
        while self.nbytes > self.max_bytes and len(entries) > 1:
            self.nbytes -= self._size(entries.popitem(last=False)[1])

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Any) -> bool:
        return key in self._entries

    def keys(self):
        return self._entries.keys()

    def values(self):
        return self._entries.values()

    def items(self):
        return self._entries.items()

    def __getitem__(self, key: Any) -> Any:
        return self._entries[key]
