"""The compile-time bound: `within(seconds)` around a compilation, `check()` inside its loops.

Why cooperative checks and not a timer that interrupts: a compilation shares caches with other
threads (vocabulary tries, automaton pieces, trie walks), and an exception thrown into arbitrary
bytecode could leave one of them half updated. `check()` is called where a long compilation spends
its time (parsing, building automata states, compiling subschemas), so the work between two checks
is small and bounded by the other limits. The deadline lives in a context variable: it applies to
the thread (or task) compiling and to nothing else, and masks computed later while generating are
never cut short.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from numba.core import event

from .errors import LimitError

# (when it ends, its seconds, the kernels' compile time so far when it started)
_DEADLINE: ContextVar[tuple[float, float, float] | None] = ContextVar("constrain_deadline", default=None)


class _KernelCompiles(event.Listener):
    """Seconds this process has spent compiling kernels (numba's JIT; nested compiles counted once).
    The first compilation in a new environment compiles them all (~30 s here, once: they are cached
    on disk), and a bound on the schema's work must not count it."""

    def __init__(self):
        self.seconds = 0.0
        self._depth = 0
        self._started = 0.0

    def on_start(self, ev) -> None:
        if self._depth == 0:
            self._started = time.monotonic()
        self._depth += 1

    def on_end(self, ev) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.seconds += time.monotonic() - self._started


_kernels = _KernelCompiles()
event.register("numba:compile", _kernels)


@contextmanager
def within(seconds: float | None) -> Iterator[None]:
    """Make `check()` raise `LimitError` once `seconds` have passed (None: no bound). An enclosing
    deadline that ends sooner still holds."""
    outer = _DEADLINE.get()
    if seconds is None:
        yield
        return
    ends = time.monotonic() + seconds
    token = _DEADLINE.set((ends, seconds, _kernels.seconds) if outer is None or ends < outer[0] else outer)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def check() -> None:
    """Raise `LimitError` if the current compilation is past its deadline (cheap: call it often)."""
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() - (_kernels.seconds - deadline[2]) > deadline[0]:
        raise LimitError(f"compiling took more than {deadline[1]:g} s", "max_compile_seconds", deadline[1])


def reraise_expired(error: LimitError) -> None:
    """Re-raise `error` if it is the deadline's: a caller that reports a state bound as an
    unsupported keyword must not turn an expired deadline into one."""
    if error.limit_name == "max_compile_seconds":
        raise error
