"""The compiled rank kernels and the rewritten GRANK / rank sums give today's numbers.

Reference: the implementations of ``generalized_rank`` and ``_rank_sums`` as they were
before issue 17 (copied below unchanged: one ``events x estimation days`` comparison per
column, a full ``argsort`` of every event's values), run on the same random data with
ties, missing values, events without residuals and batches, in one block and in many.
The new code adds over events in the same order with the same operations, so the
numbers are equal to the last bit; the tolerance asked for by issue 17 is 1e-12.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

import marketreact.inference.base as inf_base
from marketreact._typing import FloatArray, IntArray
from marketreact.inference import _kernels, nonparametric
from marketreact.inference.base import (
    _NORMAL,
    RowBlocks,
    _count_mean_sd,
    _est_rows,
    _event_blocks,
    _is_blocks,
    _Raw,
    _raw,
    _reasons,
)
from marketreact.inference.nonparametric import (
    _add_rows,
    _ranks_and_sorted,
    _row_medians,
    _sum_rows,
    average_ranks,
    base,
)

needs_numba = pytest.mark.skipif(not _kernels.HAVE_NUMBA, reason="numba not installed")


def _reference_generalized_rank(est: FloatArray | RowBlocks, sigma2: FloatArray, sx: FloatArray
                     ) -> tuple[_Raw, _Raw]:
    """GRANK as computed before issue 17 (nonparametric.py at HEAD, unchanged)."""
    sx = np.asarray(sx, float)
    sig = np.sqrt(np.asarray(sigma2, float))
    n_cols = sx.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        _, _, sd = _count_mean_sd(sx)
        v = sx / sd[..., None, :]
    has_var = np.isfinite(sig) & (sig > 0)
    use = np.isfinite(v) & has_var[..., None]
    n = est.shape[-2]
    l1 = est.shape[-1]
    small = not _is_blocks(est) and (len(est.shape) != 2
                                     or n * l1 * max(n_cols, 1) <= base._BLOCK_ELEMENTS)
    blocks = [slice(None)] if small else _event_blocks(n, l1 * max(n_cols, 1))
    # running sums over events, carried between blocks so that blocks give the same numbers
    est_sum: list[Any] = [None] * n_cols  # per column: (..., L1) sums of U over events
    est_cnt: list[Any] = [None] * n_cols  # per column: (..., L1) events with data
    u0_sum: Any = None  # (..., D)
    n_col: Any = None
    for sl in blocks:
        e = _est_rows(est, sl)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = e / sig[..., sl, None]
        ok = np.isfinite(z)
        r, _ = average_ranks(z)  # ranks among the estimation values alone
        m = ok.sum(axis=-1)
        denom = m + 2.0  # T_i + 1 with T_i = m_i + 1
        vb = v[..., sl, :]
        ub = use[..., sl, :] & (m > 0)[..., None]
        base_u = np.where(ok, r / denom[..., None] - 0.5, 0.0)  # (..., B, L1)
        zf = np.where(ok, z, np.nan)
        k_v = np.empty(vb.shape)
        for d in range(n_cols):
            vd = vb[..., d, None]
            gt = vd < zf  # the event value below an estimation value lifts that value's rank
            eq = vd == zf
            inside = ub[..., d, None] & ok
            u = np.where(inside, base_u + (gt + 0.5 * eq) / denom[..., None], 0.0)
            est_sum[d] = _add_rows(est_sum[d], u)
            est_cnt[d] = _add_rows(est_cnt[d], inside.astype(np.int64))
            k_v[..., d] = 1.0 + m - gt.sum(axis=-1) - 0.5 * eq.sum(axis=-1)
        u0_sum = _add_rows(u0_sum, np.where(ub, k_v / denom[..., None] - 0.5, 0.0))
        n_col = _add_rows(n_col, ub.astype(np.int64))
    shape_dl = (*sx.shape[:-2], n_cols, l1)
    est_s = np.stack(est_sum, axis=-2) if n_cols else np.zeros(shape_dl)
    est_c = np.stack(est_cnt, axis=-2) if n_cols else np.zeros(shape_dl, np.int64)
    u0_sum = np.asarray(u0_sum)
    n_col = np.asarray(n_col)
    with np.errstate(invalid="ignore", divide="ignore"):
        ubar_est = np.where(est_c > 0, est_s / np.maximum(est_c, 1), 0.0)
        ubar0 = u0_sum / n_col
        nn = n_col[..., None]
        days = (est_c > 0).sum(axis=-1) + (n_col > 0)
        s2 = ((est_c / nn * ubar_est**2).sum(axis=-1) + ubar0**2) / days
        zstat = ubar0 / np.sqrt(s2)
        tdays = days.astype(float)
        tstat = zstat * np.sqrt((tdays - 2.0) / (tdays - 1.0 - zstat**2))
    reason = _reasons((n_col < 1, "no events with estimation residuals"),
                      (days < 3, "fewer than 3 days with ranks"),
                      (s2 == 0, "zero variance of the mean rank"), shape=zstat.shape)
    return (_raw("grank_t", tstat, base._T, tdays - 2.0, n_col, reason),
            _raw("grank_z", zstat, _NORMAL, None, n_col, reason))


def _reference_rank_sums(est: FloatArray | RowBlocks, ar: FloatArray, signs: bool = False
               ) -> tuple[FloatArray, IntArray, IntArray, FloatArray | None]:
    """Corrado-type score sums as computed before issue 17 (full argsort per event)."""
    n, l1 = est.shape[-2], est.shape[-1]
    small = not _is_blocks(est) and (len(est.shape) != 2
                                     or n * l1 + ar.size <= base._BLOCK_ELEMENTS)
    blocks = [slice(None)] if small else _event_blocks(n, l1 + ar.shape[-1])
    u_sum: np.ndarray | None = None
    n_t: np.ndarray | None = None
    g_sum: np.ndarray | None = None
    n_ev: Any = 0
    for sl in blocks:
        both = np.concatenate([_est_rows(est, sl), ar[..., sl, :]], axis=-1)
        ok = np.isfinite(both)
        ranks, _, srt = _ranks_and_sorted(both)
        t_i = ok.sum(axis=-1, keepdims=True)
        u = np.where(ok, ranks / (t_i + 1.0) - 0.5, 0.0)
        g = None
        if signs:
            med = _row_medians(srt, t_i[..., 0])
            g = np.where(ok, np.sign(both - med[..., None]), 0.0)
        if len(blocks) == 1:
            return (u.sum(axis=-2), ok.sum(axis=-2), (t_i[..., 0] > 0).sum(axis=-1),
                    None if g is None else g.sum(axis=-2))
        u_sum = _sum_rows(u_sum, u)
        n_t = _sum_rows(n_t, ok.astype(np.int64))
        if g is not None:
            g_sum = _sum_rows(g_sum, g)
        n_ev = n_ev + (t_i[..., 0] > 0).sum(axis=-1)
    assert u_sum is not None and n_t is not None
    return u_sum, n_t, np.asarray(n_ev), g_sum


def _data(seed: int, n: int = 400, l1: int = 60, l2: int = 11, batch: int | None = None
          ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    rng = np.random.default_rng(seed)
    lead = () if batch is None else (batch,)
    est = np.round(rng.standard_t(4, (*lead, n, l1)) * 0.02, 3)  # rounding makes ties
    est[rng.random(est.shape) < 0.05] = np.nan
    est[..., :3, :] = np.nan  # events without residuals
    est[..., 3, : l1 - 1] = np.nan  # one residual only
    ar = np.round(rng.standard_t(4, (*lead, n, l2)) * 0.02 + 0.001, 3)
    ar[rng.random(ar.shape) < 0.03] = np.nan
    ar[..., 7, :] = est[..., 7, :l2]  # event values equal to estimation residuals
    ar[..., 8, 2] = np.inf
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sigma2 = np.nanvar(np.where(np.isfinite(est), est, np.nan), axis=-1, ddof=1)
    sigma2[..., 9] = 0.0  # no residual variance
    return est, ar, sigma2, rng.standard_normal((*lead, n, 4))


def _assert_raw_equal(new: Any, old: Any) -> None:
    for a, b in zip(new, old, strict=True):
        np.testing.assert_allclose(a.stat, b.stat, rtol=1e-12, atol=1e-12, err_msg=a.name)
        np.testing.assert_array_equal(a.stat, b.stat, err_msg=a.name)  # in fact bit-for-bit
        np.testing.assert_array_equal(a.n, b.n)
        np.testing.assert_array_equal(a.reason, b.reason)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("batch", [None, 3])
@pytest.mark.parametrize("tiny_blocks", [False, True])
def test_grank_equals_the_reference(seed, batch, tiny_blocks, monkeypatch) -> None:
    est, ar, sigma2, csx = _data(seed, batch=batch)
    with np.errstate(invalid="ignore", divide="ignore"):
        sar = ar / np.sqrt(sigma2)[..., None]
    old_day = _reference_generalized_rank(est, sigma2, sar)
    old_win = _reference_generalized_rank(est, sigma2, csx)
    if tiny_blocks:
        monkeypatch.setattr(inf_base, "_BLOCK_ELEMENTS", 700)
    for compiled in (False, True) if _kernels.HAVE_NUMBA else (False,):
        monkeypatch.setattr(_kernels, "HAVE_NUMBA", compiled)
        _assert_raw_equal(nonparametric.generalized_rank(est, sigma2, sar), old_day)
        _assert_raw_equal(nonparametric.generalized_rank(est, sigma2, csx), old_win)


class _Blocks:
    """Residuals handed out a block of events at a time (as the moment engine does)."""

    def __init__(self, est: FloatArray) -> None:
        self.est = est

    @property
    def shape(self) -> tuple[int, int]:
        return self.est.shape

    def rows(self, index: slice) -> FloatArray:
        return self.est[index]


@pytest.mark.parametrize("seed", [3, 4])
def test_rank_sums_equal_the_reference(seed, monkeypatch) -> None:
    est, ar, _, _ = _data(seed)
    for batch_est, batch_ar in ((est, ar), *(
            (b, a) for b, a in [tuple(x) for x in [_data(seed, batch=2)[:2]]])):
        old = _reference_rank_sums(batch_est, batch_ar, signs=True)
        for compiled in (False, True) if _kernels.HAVE_NUMBA else (False,):
            monkeypatch.setattr(_kernels, "HAVE_NUMBA", compiled)
            new = nonparametric._rank_sums(batch_est, batch_ar, signs=True)
            for a, b in zip(new, old, strict=True):
                np.testing.assert_array_equal(a, b)
    monkeypatch.setattr(inf_base, "_BLOCK_ELEMENTS", 900)
    old = _reference_rank_sums(_Blocks(est), ar, signs=True)
    for compiled in (False, True) if _kernels.HAVE_NUMBA else (False,):
        monkeypatch.setattr(_kernels, "HAVE_NUMBA", compiled)
        new = nonparametric._rank_sums(_Blocks(est), ar, signs=True)
        for a, b in zip(new, old, strict=True):
            np.testing.assert_array_equal(a, b)


@needs_numba
def test_ranks_by_order_kernel_equals_average_ranks() -> None:
    rng = np.random.default_rng(5)
    a = np.round(rng.standard_normal((2, 50, 30)), 1)
    a[rng.random(a.shape) < 0.1] = np.nan
    a[0, 0] = np.nan
    order, n_ok = _kernels.argsort_rows(a)
    out = np.full(a.shape, np.nan)
    ties = np.empty(a.shape[:-1])
    _kernels.ranks_by_order(a, order, n_ok, out, ties)
    ref_ranks, ref_ties, _ = _ranks_and_sorted(a)  # the numpy ranking
    np.testing.assert_array_equal(out, ref_ranks)
    np.testing.assert_array_equal(ties, ref_ties)
    for compiled in (True, False):  # average_ranks with and without the kernel
        nonparametric._kernels.HAVE_NUMBA = compiled
        try:
            got_ranks, got_ties = average_ranks(a[0])
        finally:
            nonparametric._kernels.HAVE_NUMBA = True
        np.testing.assert_array_equal(got_ranks, ref_ranks[0])
        np.testing.assert_array_equal(got_ties, ref_ties[0])


@needs_numba
@pytest.mark.parametrize("seed", [0, 1])
def test_wilcoxon_is_unchanged_by_the_kernel(seed, monkeypatch) -> None:
    rng = np.random.default_rng(seed)
    x = np.round(rng.standard_t(3, (3000, 7)), 2)  # ties in |x|, zeros
    x[rng.random(x.shape) < 0.05] = np.nan
    x[:40, 2] = np.round(rng.standard_normal(40), 2)[:, None].ravel()
    small = x[:30]  # exact p-values
    for data in (x, small):
        monkeypatch.setattr(_kernels, "HAVE_NUMBA", False)
        old = nonparametric.wilcoxon_signed_rank(data)
        monkeypatch.setattr(_kernels, "HAVE_NUMBA", True)
        new = nonparametric.wilcoxon_signed_rank(data)
        np.testing.assert_array_equal(new.stat, old.stat)
        for alt in ("two-sided", "greater", "less"):
            np.testing.assert_array_equal(new.pfunc(nonparametric.Alternative(alt)),
                                          old.pfunc(nonparametric.Alternative(alt)))


@pytest.mark.parametrize("batch", [None, 2])
@pytest.mark.parametrize("tiny_blocks", [False, True])
def test_rank_family_equals_the_separate_tests(batch, tiny_blocks, monkeypatch) -> None:
    est, ar, sigma2, csx = _data(6, batch=batch)
    with np.errstate(invalid="ignore", divide="ignore"):
        sar = ar / np.sqrt(sigma2)[..., None]
    windows = (slice(0, 3), slice(5, 6), slice(0, 11))
    old_grank = (_reference_generalized_rank(est, sigma2, sar),
                 _reference_generalized_rank(est, sigma2, csx))
    old_sums = _reference_rank_sums(est, ar, signs=True)
    if tiny_blocks:
        monkeypatch.setattr(inf_base, "_BLOCK_ELEMENTS", 700)
    expected = nonparametric._ranked_statistics(old_sums, est.shape[-1], windows, True)
    for compiled in (False, True) if _kernels.HAVE_NUMBA else (False,):
        monkeypatch.setattr(_kernels, "HAVE_NUMBA", compiled)
        ranked, g_day, g_win = nonparametric.rank_family(est, ar, sigma2, sar, csx, windows)
        _assert_raw_equal(g_day, old_grank[0])
        _assert_raw_equal(g_win, old_grank[1])
        assert ranked.keys() == expected.keys()
        for name in expected:
            _assert_raw_equal(ranked[name], expected[name])


@needs_numba
def test_goto_study_tables_are_the_same_with_and_without_the_kernels(
        prices_dir, goto_events, monkeypatch) -> None:
    """The GoTo-TikTok study: every test column equal with the compiled kernels and without
    (the numpy path is the code of before issue 17 for GRANK and the rank sums)."""
    from marketreact.events.catalogue import read_events
    from marketreact.prices import CsvSource, load_prices
    from marketreact.study.fit import EventStudy

    events = read_events(goto_events)
    prices = load_prices(CsvSource(prices_dir), events, before=250, after=10)
    study = EventStudy(car_windows=((-1, 1), (0, 0), (-5, 5)), n_boot=199)
    tables = {}
    for compiled in (True, False):
        monkeypatch.setattr(_kernels, "HAVE_NUMBA", compiled)
        result = study.fit(events, prices)
        tables[compiled] = (result.aar, result.aggregate)
    for new, old in zip(tables[True], tables[False], strict=True):
        pd.testing.assert_frame_equal(new, old, check_exact=False, rtol=1e-12, atol=1e-12)
        for col in ("rank", "mrank", "csign", "grank_t", "grank_z", "boot"):
            np.testing.assert_array_equal(new[col], old[col], err_msg=col)
