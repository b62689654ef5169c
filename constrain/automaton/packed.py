"""Arrays handed to compiled kernels as one int64 array: each array's address and length.

Why: numba unboxes every array argument of a call on its own. A kernel that took an automaton's
nineteen arrays spent more time being called (4 us warm, 8-13 us in a token that meets a new state)
than working (stepping a lexer over two bytes, reading the rest of a literal). One int64 array is
one unboxing; the kernel rebuilds its views from it in a few instructions (`view`, `rows`).

The kernels read raw addresses: whoever packs keeps the arrays alive, and packs again whenever it
replaces one of them (`DFA._set_arrays` after growing its store).

The helpers here are compiled into every kernel that reads packed arrays, so a kernel file's numba
cache goes stale when this file changes (`drop_stale_cache`).
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from numba import carray, njit, types
from numba.extending import intrinsic


def pack(fields: list[tuple[np.ndarray | int, type]]) -> np.ndarray:
    """[address, length] per (array, dtype) of `fields` (rows for a 2-D array), in order; an int field
    is stored as the length of no array. The dtype is checked: a kernel reads the memory as that."""
    out = np.zeros(2 * len(fields), dtype=np.int64)
    for k, (value, dtype) in enumerate(fields):
        if isinstance(value, np.ndarray):
            if value.dtype != dtype or not value.flags.c_contiguous:
                raise TypeError(f"field {k}: a C-contiguous {np.dtype(dtype)} array is needed, not {value.dtype}")
            out[2 * k] = value.__array_interface__["data"][0]
            out[2 * k + 1] = value.shape[0]
        else:
            out[2 * k + 1] = value
    return out


@intrinsic
def _pointer(typingctx, address, dtype):  # pragma: no cover - compiled
    """An int64 address as a pointer to `dtype` values."""
    signature = types.CPointer(dtype.dtype)(address, dtype)

    def codegen(context, builder, sig, args):
        return builder.inttoptr(args[0], context.get_value_type(sig.return_type))

    return signature, codegen


@njit(inline="always")
def view(packed, k, dtype):  # pragma: no cover - compiled
    """Field k of `packed` as the 1-D array it was packed from."""
    return carray(_pointer(packed[2 * k], dtype), packed[2 * k + 1])


@njit(inline="always")
def rows(packed, k, dtype, width):  # pragma: no cover - compiled
    """Field k of `packed` as the 2-D array (`width` columns) it was packed from."""
    return carray(_pointer(packed[2 * k], dtype), (packed[2 * k + 1], width))


@njit(inline="always")
def number(packed, k):  # pragma: no cover - compiled
    """Int field k of `packed`."""
    return packed[2 * k + 1]


def drop_stale_cache(kernels_file: str, sources: Iterable[str]) -> None:
    """numba checks a function's on-disk cache against that function's own file only, but a kernel
    also compiles in code from other files (these helpers, the row filler): after one of those
    `sources` changed it would run the old code (wrong rows, or a crash). Drop the cached machine
    code of `kernels_file`'s functions when a source is newer."""
    kernels = Path(kernels_file)
    newest = max(Path(source).stat().st_mtime for source in sources)
    for cached in (kernels.parent / "__pycache__").glob(f"{kernels.stem}.*.nb[ci]"):
        try:
            if cached.stat().st_mtime < newest:
                cached.unlink()
        except OSError:  # another process dropped it first, or a read-only install: numba copes
            pass
