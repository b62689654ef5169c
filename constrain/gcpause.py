"""`paused()`: no cyclic garbage collection while a compilation runs.

Why: a compilation allocates hundreds of thousands of small containers (syntax trees, NFA moves, DFA
subsets) that stay alive, so the collector keeps promoting them and runs full collections, each of
which traverses every object in the process (torch and transformers alone hold about a million).
Measured on 143 JSONSchemaBench schemas: 27% of compile CPU time, 3x on a large Kubernetes schema.
Reference counting still frees whatever dies; cycles wait for the first collection after. With
several compilations at once (threads, nesting), the collector stays off until the last one ends,
and is turned back on only if it was on before.
"""
from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_running = 0
_was_enabled = False


@contextmanager
def paused() -> Iterator[None]:
    global _running, _was_enabled
    with _lock:
        if _running == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _was_enabled:
                gc.enable()
