"""Large studies run the cross-event tests a block of events at a time: same numbers.

Reference: the same tests computed on all events at once (the blocks only bound memory;
sums over events run in the same order, so the results are equal exactly). The bootstrap
draws the same resamples in smaller groups; its means come from matrix products whose
rounding depends on the group size, so its statistic agrees to 1e-15.
"""

from __future__ import annotations

import numpy as np
import pytest

import marketreact.inference.base as inf_base
from marketreact.inference.base import TestInputs, _event_blocks
from marketreact.inference.battery import cross_event_tests


def _inputs(seed: int, n: int = 700) -> TestInputs:
    rng = np.random.default_rng(seed)
    est = rng.standard_t(4, (n, 60)) * 0.02
    est[rng.random(est.shape) < 0.05] = np.nan
    est[:3, :58] = np.nan  # events with too few residuals
    ar = rng.standard_t(4, (n, 11)) * 0.02 + 0.001
    ar[rng.random(ar.shape) < 0.03] = np.nan
    ar[5, 3] = ar[6, 3] = 0.0125  # ties across events
    ok = np.isfinite(est)
    m = ok.sum(axis=1)
    mean = np.where(ok, est, 0.0).sum(axis=1) / np.maximum(m, 1)
    sigma2 = np.where(ok, est - mean[:, None], 0.0).__pow__(2).sum(axis=1) / np.maximum(m - 2, 1)
    var = np.broadcast_to(sigma2[:, None], ar.shape) * 1.02
    df = np.isfinite(est).sum(axis=1) - 2.0
    windows = (slice(4, 7), slice(5, 6), slice(0, 11))
    return TestInputs(ar, np.where(np.isfinite(ar), var, np.nan), est, sigma2, df, windows)


@pytest.mark.parametrize("seed", [0, 1])
def test_blocks_give_exactly_the_same_tests(seed, monkeypatch) -> None:
    inputs = _inputs(seed)
    whole = cross_event_tests(inputs, "two-sided", n_boot=199, seed=3)
    monkeypatch.setattr(inf_base, "_BLOCK_ELEMENTS", 500)  # blocks of a few events
    assert len(_event_blocks(len(inputs.ar), inputs.est_residuals.shape[1])) > 50
    blocked = cross_event_tests(inputs, "two-sided", n_boot=199, seed=3)
    np.testing.assert_array_equal(blocked.r_bar, whole.r_bar)
    for group in ("days", "windows"):
        a, b = getattr(whole, group), getattr(blocked, group)
        assert a.keys() == b.keys()
        for name in a:
            if name == "boot":
                np.testing.assert_allclose(b[name].stat, a[name].stat, rtol=1e-13)
                np.testing.assert_array_equal(b[name].pvalue, a[name].pvalue)
                continue
            np.testing.assert_array_equal(b[name].stat, a[name].stat, err_msg=name)
            np.testing.assert_array_equal(b[name].pvalue, a[name].pvalue, err_msg=name)


class _CountedBlocks:
    """Residuals handed over a block at a time, as a study on the moment engine does."""

    def __init__(self, est: np.ndarray) -> None:
        self.est, self.rows_read = est, 0

    @property
    def shape(self) -> tuple[int, int]:
        return self.est.shape

    def rows(self, index: slice) -> np.ndarray:
        part = self.est[index]
        self.rows_read += len(part)
        return part.copy()


@pytest.mark.parametrize("compiled", [True, False])
def test_residual_blocks_are_read_once_for_summary_and_ranks(compiled, monkeypatch) -> None:
    # reference: the same tests on the residual array itself
    from dataclasses import replace

    from marketreact.inference import _kernels

    monkeypatch.setattr(_kernels, "HAVE_NUMBA", compiled and _kernels.HAVE_NUMBA)
    inputs = _inputs(2)
    whole = cross_event_tests(inputs, "two-sided", n_boot=99, seed=3)
    monkeypatch.setattr(inf_base, "_BLOCK_ELEMENTS", 2_000)
    blocks = _CountedBlocks(np.asarray(inputs.est_residuals))
    blocked = cross_event_tests(replace(inputs, est_residuals=blocks), "two-sided",
                                n_boot=99, seed=3)
    n = len(inputs.ar)
    # with the compiled pass the summary rides along the ranking: one pass over the rows
    assert blocks.rows_read == (n if _kernels.HAVE_NUMBA else blocks.rows_read)
    assert blocks.rows_read >= n
    np.testing.assert_array_equal(blocked.r_bar, whole.r_bar)
    for group in ("days", "windows"):
        a, b = getattr(whole, group), getattr(blocked, group)
        for name in a:
            if name == "boot":
                continue
            np.testing.assert_array_equal(b[name].stat, a[name].stat, err_msg=name)
            np.testing.assert_array_equal(b[name].pvalue, a[name].pvalue, err_msg=name)

