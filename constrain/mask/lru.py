"""The per-grammar cache of masks by state, bounded in bytes (least recently used out)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import torch

Entry = torch.Tensor | np.ndarray  # a bool mask, or the ids it allows (a sparse mask costs a few bytes)


class MaskCache:
    """Not thread-safe: callers hold their grammar's lock."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._entries: OrderedDict[Any, Entry] = OrderedDict()

    def get(self, state: Any) -> Entry | None:
        entry = self._entries.get(state)
        if entry is not None:
            self._entries.move_to_end(state)
        return entry

    def put(self, state: Any, entry: Entry) -> None:
        self._entries[state] = entry
        self.nbytes += _size(entry)
        while self.nbytes > self.max_bytes and len(self._entries) > 1:
            _, old = self._entries.popitem(last=False)
            self.nbytes -= _size(old)

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self):
        return self._entries.keys()

    def __getitem__(self, state: Any) -> Entry:
        return self._entries[state]


def _size(entry: Entry) -> int:
    return entry.numel() * entry.element_size() if isinstance(entry, torch.Tensor) else entry.nbytes
