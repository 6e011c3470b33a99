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
