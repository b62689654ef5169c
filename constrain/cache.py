"""`once_per`: derived data (a vocabulary's trie, a grammar's search tables) built once per object.

Weakly keyed, so the data goes when the object does: a long-running process that compiles thousands
of grammars keeps only the live ones' tables.
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def once_per(build: Callable[[K], V]) -> Callable[[K], V]:
    """`build(key)`, computed on the first call for each live `key` and returned again after."""
    found: "weakref.WeakKeyDictionary[K, V]" = weakref.WeakKeyDictionary()
    lock = threading.Lock()

    def get(key: K) -> V:
        with lock:
            value = found.get(key)
        if value is None:
            value = build(key)
            with lock:
                value = found.setdefault(key, value)
        return value

    get.__doc__ = build.__doc__
    return get
