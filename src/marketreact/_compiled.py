"""Loops compiled with numba on first use, shared by the packages that have them.

`numba <https://numba.pydata.org>`_ is optional (``pip install 'marketreact[fast]'``):
without it, or with the environment variable ``MARKETREACT_NO_NUMBA`` set, the callers
run their numpy code instead, which gives the same numbers.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Callable
from typing import Any

#: Whether the compiled kernels are used: numba is installed and ``MARKETREACT_NO_NUMBA``
#: is not set. numba itself is imported (and the kernels compiled, or loaded from numba's
#: cache) on first use, so importing the package stays light.
HAVE_NUMBA: bool = (not os.environ.get("MARKETREACT_NO_NUMBA")
                    and importlib.util.find_spec("numba") is not None)


class Kernel:
    """A loop compiled by numba on its first call (cached on disk by numba).

    Compiled with ``nogil=True`` (several threads may run kernels at once) and
    numpy's error model (``x / 0`` gives inf or NaN, as in the numpy code).
    ``helpers`` names the functions of ``fn``'s module that it calls: they are
    compiled with it (and replaced in the module by their compiled form).
    """

    def __init__(self, fn: Callable[..., Any], helpers: tuple[str, ...] = ()) -> None:
        self.fn = fn
        self.helpers = helpers
        self.compiled: Callable[..., Any] | None = None
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any) -> Any:
        if self.compiled is None:
            try:
                import numba
            except ImportError:  # pragma: no cover - a broken install: same numbers, slowly
                self.compiled = self.fn
            else:
                jit = numba.njit(cache=True, nogil=True, error_model="numpy")
                module = self.fn.__globals__
                for name in self.helpers:
                    if not isinstance(module[name], numba.core.dispatcher.Dispatcher):
                        module[name] = jit(module[name])
                self.compiled = jit(self.fn)
        return self.compiled(*args)


def pairwise_sum(a: Any, n: int, stack: Any) -> float:  # pragma: no cover - compiled helper
    """``a[:n].sum()`` as numpy adds a contiguous row: pairwise, blocks of 8 lanes.

    A helper of kernels (name it in their ``helpers``), not a kernel of its own (numba's
    on-disk cache of a kernel in another file does not notice an edit here: remove the
    ``__pycache__`` ``.nbi``/``.nbc`` files after changing it). ``stack`` is its scratch,
    a ``(4, 64)`` float array the calling kernel allocates once (an allocation at each of
    millions of calls would cost more than the sums).

    numpy halves a row (at a multiple of 8) until the pieces hold 128 values or
    fewer, adds each piece in 8 lanes and adds the halves' sums; this walks the
    same tree with a stack instead of recursion (numba caches no recursive loops):
    ``stack[0]`` and ``stack[1]`` hold the pieces' starts and lengths, ``stack[2]``
    whether the left (0) or the right half (1) is next, ``stack[3]`` the left halves'
    sums.
    """
    top = 0
    stack[0, 0], stack[1, 0], stack[2, 0] = 0.0, n, 0.0
    while True:
        lo, m = int(stack[0, top]), int(stack[1, top])
        if m > 128:  # split: the left half first
            half = m // 2
            half -= half % 8
            top += 1
            stack[0, top], stack[1, top], stack[2, top] = lo, half, 0.0
            continue
        if m < 8:
            res = 0.0
            for j in range(lo, lo + m):
                res += a[j]
        else:
            r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
            r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
            j = lo + 8
            stop = lo + m - m % 8
            while j < stop:
                r0 += a[j]
                r1 += a[j + 1]
                r2 += a[j + 2]
                r3 += a[j + 3]
                r4 += a[j + 4]
                r5 += a[j + 5]
                r6 += a[j + 6]
                r7 += a[j + 7]
                j += 8
            res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
            while j < lo + m:
                res += a[j]
                j += 1
        # hand the sum up: a left half waits for its right half, a right half completes
        # its parent (left + right), which is handed up in turn
        while top > 0 and stack[2, top] == 1.0:
            top -= 1
            res = stack[3, top] + res
        if top == 0:
            return res
        parent = top - 1
        stack[3, parent] = res
        stack[0, top] = stack[0, parent] + stack[1, top]
        stack[1, top] = stack[1, parent] - stack[1, top]
        stack[2, top] = 1.0
