"""The faster inference paths give today's numbers.

Reference: the bootstrap's previous construction of the resample counts (one
``numpy.bincount`` per resample, from the same ``default_rng(seed)`` draws), written out
here; and the rank test computed before the shared ranking (``rank_tests`` without the
extra tests) against ``scipy.stats.rankdata`` row by row.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from marketreact.inference import _kernels, base
from marketreact.inference.nonparametric import bootstrap_means, rank_tests


def _old_bootstrap_means(x: np.ndarray, n_boot: int, seed: int, block: int = 128) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = x.shape[-2]
    block = max(1, min(block, 8 * base._BLOCK_ELEMENTS // max(n, 1)))
    ok = np.isfinite(x)
    complete = bool(ok.all())
    xf = np.where(ok, x, 0.0)
    okf = ok.astype(float)
    weights = np.random.default_rng(12345).uniform(1.0, 2.0, size=(2, x.shape[-1]))
    key = xf @ weights[0] + okf @ weights[1]
    order = np.argsort(key, axis=-1, kind="stable")[..., None]
    xf = np.take_along_axis(xf, order, axis=-2)
    okf = np.take_along_axis(okf, order, axis=-2)
    out = []
    for lo in range(0, n_boot, block):
        b = min(block, n_boot - lo)
        idx = rng.integers(0, n, size=(b, n), dtype=np.int32)
        counts = np.empty((b, n))
        for r in range(b):
            counts[r] = np.bincount(idx[r], minlength=n)
        num = counts @ xf
        if complete:
            out.append(num / n)
            continue
        den = counts @ okf
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(den > 0, num / den, np.nan))
    return np.concatenate(out, axis=-2)


@pytest.mark.parametrize("missing", [False, True])
@pytest.mark.parametrize("n_events", [300, 50_000])
@pytest.mark.parametrize("compiled", [True, False])
def test_bootstrap_counts_equal_the_loop(missing: bool, n_events: int, compiled: bool,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # few and many events (blocks of resamples), with and without numba
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", compiled and _kernels.HAVE_NUMBA)
    rng = np.random.default_rng(1)
    x = rng.standard_t(3, (n_events, 6)) * 0.02
    if missing:
        x[rng.random(x.shape) < 0.1] = np.nan
    n_boot = 299 if n_events < 1000 else 41
    np.testing.assert_array_equal(bootstrap_means(x, n_boot, seed=7),
                                  _old_bootstrap_means(x, n_boot, seed=7))


def test_bootstrap_of_a_batch_equals_the_loop() -> None:
    x = np.random.default_rng(3).normal(size=(2, 150, 4))
    x[0, 5, 1] = np.nan
    np.testing.assert_array_equal(bootstrap_means(x, 199, seed=2),
                                  _old_bootstrap_means(x, 199, seed=2))


def test_bootstrap_of_no_events_is_missing() -> None:
    means = bootstrap_means(np.empty((0, 3)), 9, seed=0)
    assert means.shape == (9, 3) and np.isnan(means).all()


def test_rank_test_alone_is_unchanged_by_the_shared_ranking() -> None:
    rng = np.random.default_rng(2)
    est = rng.normal(0, 0.02, (50, 40))
    ar = rng.normal(0.003, 0.02, (50, 5))
    est[rng.random(est.shape) < 0.05] = np.nan
    windows = (slice(1, 4),)
    day, win = rank_tests(est, ar, windows)  # type: ignore[misc]
    ext = rank_tests(est, ar, windows, extended=True)
    assert isinstance(ext, dict)
    np.testing.assert_array_equal(ext["rank"][0].stat, day.stat)
    np.testing.assert_array_equal(ext["rank"][1].stat, win.stat)
    # Corrado's day statistic by rankdata, event by event
    both = np.concatenate([est, ar], axis=1)
    u = np.full(both.shape, np.nan)
    for i in range(len(both)):
        ok = np.isfinite(both[i])
        u[i, ok] = stats.rankdata(both[i, ok]) / (ok.sum() + 1) - 0.5
    n_t = np.isfinite(u).sum(axis=0)
    ubar = np.nanmean(u, axis=0)
    s = np.sqrt(np.sum(n_t / len(u) * ubar**2) / (n_t > 0).sum())
    ref = ubar[40:] / (s * np.sqrt(len(u) / n_t[40:]))
    np.testing.assert_allclose(day.stat, ref, rtol=1e-12)


@pytest.mark.parametrize("shape", [(500, 7), (1, 3), (0, 2)])
def test_compiled_count_mean_sd_equals_numpy(shape, monkeypatch: pytest.MonkeyPatch) -> None:
    # reference: the masked numpy sums (the code path without numba), bit for bit
    rng = np.random.default_rng(5)
    x = rng.standard_t(3, shape) * 0.02
    x[rng.random(shape) < 0.2] = np.nan
    if shape[1] > 2:
        x[:, 2] = np.nan  # a column without a value
    wide = np.repeat(x, 2, axis=1)[:, ::2]  # not contiguous
    compiled = [base._count_mean_sd(a) for a in (x, wide)]
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", False)
    for a, got in zip((x, wide), compiled, strict=True):
        for g, want in zip(got, base._count_mean_sd(a), strict=True):
            np.testing.assert_array_equal(g, want)
    # and against numpy's nan-aware reductions
    n, mean, sd = compiled[0]
    np.testing.assert_array_equal(n, np.isfinite(x).sum(axis=0))
    if shape[0] > 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the empty column
            np.testing.assert_allclose(mean, np.nanmean(x, axis=0), rtol=1e-13)
            np.testing.assert_allclose(sd, np.nanstd(x, axis=0, ddof=1), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_compiled_row_sums_equal_numpy_axis0_sums(dtype, monkeypatch: pytest.MonkeyPatch) -> None:
    # reference: numpy summing the running total and the block over axis 0 (rows in order)
    rng = np.random.default_rng(6)
    part = (rng.standard_t(2, (3000, 5)) * 1e3).astype(dtype)
    total = (rng.normal(size=5) * 1e6).astype(dtype)
    want = np.concatenate([total[None], part]).sum(axis=0)
    np.testing.assert_array_equal(base._sum_rows(total, part), want)
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", False)
    np.testing.assert_array_equal(base._sum_rows(total, part), want)


def test_skewness_corrected_t_with_products_equals_the_power_form() -> None:
    # reference: the statistic as computed before, with numpy's general power dev**3
    # (the product differs by an ulp per term: equal to 1e-12, as issue 17 requires)
    from marketreact.inference.parametric import skewness_corrected_t

    rng = np.random.default_rng(8)
    x = rng.standard_t(3, (5000, 6)) * 0.02 + 0.001
    x[rng.random(x.shape) < 0.05] = np.nan
    n, mean, sd = base._count_mean_sd(x)
    nf = n.astype(float)
    dev = np.where(np.isfinite(x), x - mean, 0.0)
    gamma = nf / ((nf - 1.0) * (nf - 2.0)) * (dev**3).sum(axis=-2) / sd**3
    s = mean / sd
    want = np.sqrt(nf) * (s + gamma * s**2 / 3.0 + gamma**2 * s**3 / 27.0 + gamma / (6.0 * nf))
    got = skewness_corrected_t(x)
    np.testing.assert_allclose(got.stat, want, rtol=1e-12, atol=0)
    np.testing.assert_allclose(got.extra["gamma"], gamma, rtol=1e-12, atol=0)
    np.testing.assert_allclose(got.extra["gamma"], stats.skew(x, bias=False, nan_policy="omit"),
                               rtol=1e-10)
