"""``reuse_freed_memory``: glibc's ``mallopt`` thresholds, and nothing off glibc.

The speed it buys is measured in ``make bench`` (``--reuse-memory``), not asserted here.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys

import pytest

import marketreact
from marketreact import _memory


def test_off_linux_nothing_is_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_memory.sys, "platform", "darwin")
    monkeypatch.setattr(_memory.ctypes, "CDLL", lambda *a: pytest.fail("libc was loaded"))
    assert marketreact.reuse_freed_memory() is False


def test_without_mallopt_nothing_is_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoMallopt:  # a C library without mallopt (musl)
        pass

    monkeypatch.setattr(_memory.sys, "platform", "linux")
    monkeypatch.setattr(_memory.ctypes, "CDLL", lambda *a: NoMallopt())
    assert marketreact.reuse_freed_memory() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_on_glibc_both_thresholds_are_set() -> None:
    # reference: glibc's mallopt returns 1 for every setting it takes; run in a child so
    # that the test process keeps its own malloc settings
    try:
        ctypes.CDLL("libc.so.6").mallopt  # noqa: B018
    except (OSError, AttributeError):
        pytest.skip("not glibc")
    code = ("import marketreact, numpy as np; ok = marketreact.reuse_freed_memory(); "
            "a = np.ones(40_000_000); del a; b = np.zeros(40_000_000); "
            "print(ok, float(b.sum()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "0.0"]
