"""The faster inference paths give today's numbers.

Reference: the bootstrap's previous construction of the resample counts (one
``numpy.bincount`` per resample, from the same ``default_rng(seed)`` draws, or from a
SFC64 generator per resample seeded by ``numpy.random.SeedSequence.spawn``), written out here; and
the rank test computed before the shared ranking (``rank_tests`` without the
extra tests) against ``scipy.stats.rankdata`` row by row.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from scipy import stats

from marketreact.inference import _kernels, base, nonparametric, parametric
from marketreact.inference.nonparametric import bootstrap_means, rank_tests


def _old_bootstrap_means(x: np.ndarray, n_boot: int, seed: int, block: int = 128,
                         streams: str = "sequential") -> np.ndarray:
    rng = np.random.default_rng(seed)
    own = np.random.SeedSequence(seed).spawn(n_boot)
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
        if streams == "sequential":
            idx = rng.integers(0, n, size=(b, n), dtype=np.int32)
        else:  # resample r from an SFC64 generator seeded by the r-th spawned sequence
            idx = np.stack([np.random.Generator(np.random.SFC64(own[r])).integers(
                0, n, size=n, dtype=np.int32) for r in range(lo, lo + b)])
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


@pytest.mark.parametrize("streams", ["sequential", "per-resample"])
@pytest.mark.parametrize("missing", [False, True])
@pytest.mark.parametrize("n_events", [300, 50_000])
@pytest.mark.parametrize("compiled", [True, False])
def test_bootstrap_counts_equal_the_loop(streams: str, missing: bool, n_events: int,
                                         compiled: bool, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    # few and many events (blocks of resamples; 50,000 events are drawn on several
    # threads), with and without numba, for both sources of draws
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", compiled and _kernels.HAVE_NUMBA)
    rng = np.random.default_rng(1)
    x = rng.standard_t(3, (n_events, 6)) * 0.02
    if missing:
        x[rng.random(x.shape) < 0.1] = np.nan
    n_boot = 299 if n_events < 1000 else 41
    np.testing.assert_array_equal(bootstrap_means(x, n_boot, seed=7, streams=streams),
                                  _old_bootstrap_means(x, n_boot, 7, streams=streams))


def test_bootstrap_of_a_batch_equals_the_loop() -> None:
    x = np.random.default_rng(3).normal(size=(2, 150, 4))
    x[0, 5, 1] = np.nan
    for streams in ("sequential", "per-resample"):
        np.testing.assert_array_equal(bootstrap_means(x, 199, seed=2, streams=streams),
                                      _old_bootstrap_means(x, 199, 2, streams=streams))


def test_bootstrap_draws_do_not_depend_on_the_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    # a generator per resample: drawn on one thread or several, the same numbers
    x = np.random.default_rng(4).normal(size=(3000, 5))
    x[7, 2] = np.nan
    monkeypatch.setattr(nonparametric, "_PARALLEL_DRAWS", 10**9)
    one = bootstrap_means(x, 97, seed=3)
    monkeypatch.setattr(nonparametric, "_PARALLEL_DRAWS", 1)
    np.testing.assert_array_equal(bootstrap_means(x, 97, seed=3), one)


@pytest.mark.skipif(not _kernels.HAVE_NUMBA, reason="the compiled drawing loop")
@pytest.mark.parametrize("n", [1, 2, 3, 1000, 65_537, 300_000])
def test_compiled_draws_equal_numpy_sfc64_integers(n: int) -> None:
    # reference: numpy's own Generator(SFC64(seed)).integers(0, n, size=n, dtype=int32),
    # counted by numpy.bincount; 300,000 events reject a few words per resample (Lemire)
    for child in np.random.SeedSequence(n).spawn(3):
        want = np.bincount(np.random.Generator(np.random.SFC64(child)).integers(
            0, n, size=n, dtype=np.int32), minlength=n)
        state = np.random.SFC64(child).state["state"]["state"]
        out, no = np.empty(n), np.empty(0, np.intp)
        assert _kernels.draw_counts(state, np.empty(n, np.uint8), no, no, out,
                                    np.empty(0))
        np.testing.assert_array_equal(out, want)


@pytest.mark.skipif(not _kernels.HAVE_NUMBA, reason="the compiled counting loop")
def test_a_count_too_large_for_the_compact_counter_is_counted_again() -> None:
    # 300 draws of one event overflow the uint8 counter: the kernel says so and the
    # caller counts with numpy.bincount instead (reference: bincount)
    n = 300
    idx = np.zeros(n, np.int32)
    out, dens = np.empty(n), np.empty(0)
    no = np.empty(0, np.intp)
    assert not _kernels.count_draws(idx, np.empty(n, np.uint8), no, no, out, dens)
    idx = np.random.default_rng(0).integers(0, n, n, dtype=np.int32)
    assert _kernels.count_draws(idx, np.empty(n, np.uint8), no, no, out, dens)
    np.testing.assert_array_equal(out, np.bincount(idx, minlength=n))


def test_bootstrap_falls_back_when_the_compact_count_overflows(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the fallback path (what runs after an overflow) gives the same numbers
    x = np.random.default_rng(5).normal(size=(400, 3))
    x[3, 1] = np.nan
    ref = bootstrap_means(x, 49, seed=1)
    monkeypatch.setattr(_kernels, "count_draws", lambda *a: False)
    monkeypatch.setattr(_kernels, "draw_counts", lambda *a: False)
    np.testing.assert_array_equal(bootstrap_means(x, 49, seed=1), ref)
    for streams in ("sequential", "per-resample"):
        np.testing.assert_array_equal(bootstrap_means(x, 49, seed=1, streams=streams),
                                      _old_bootstrap_means(x, 49, 1, streams=streams))


def test_the_two_bootstrap_streams_agree_within_monte_carlo_error() -> None:
    # the same resampling with other random numbers: 999 resamples of 2,000 events; the
    # bootstrap SE of the mean differs by its Monte Carlo error only (relative SD of an SD
    # estimate from B draws about 1/sqrt(2(B-1)) = 2.2%), and both are near the plug-in
    # s/sqrt(n) (ddof 0), the SE the bootstrap estimates
    x = np.random.default_rng(6).standard_t(4, (2000, 3)) * 0.02
    a = bootstrap_means(x, 999, seed=0, streams="per-resample")
    b = bootstrap_means(x, 999, seed=0, streams="sequential")
    se_a, se_b = a.std(axis=0, ddof=1), b.std(axis=0, ddof=1)
    plug_in = x.std(axis=0) / np.sqrt(len(x))
    np.testing.assert_allclose(se_a, plug_in, rtol=3 * 0.0224)
    np.testing.assert_allclose(se_b, plug_in, rtol=3 * 0.0224)
    assert not np.array_equal(a, b)


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


def test_compiled_cube_sums_equal_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    # reference: the numpy path of skewness_corrected_t (masked deviations cubed, summed
    # over events row by row): the compiled loop gives the same bits
    from marketreact.inference.parametric import skewness_corrected_t

    rng = np.random.default_rng(10)
    x = rng.standard_t(3, (4000, 7)) * 0.02 - 0.002
    x[rng.random(x.shape) < 0.04] = np.nan
    x[:, 6] = np.nan  # a column without values
    got = skewness_corrected_t(x)
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", False)
    want = skewness_corrected_t(x)
    np.testing.assert_array_equal(got.stat, want.stat)
    np.testing.assert_array_equal(got.extra["gamma"], want.extra["gamma"])


@pytest.mark.skipif(not _kernels.HAVE_NUMBA, reason="the compiled summary loop")
@pytest.mark.parametrize("days", [5, 8, 130, 240, 261])
def test_compiled_estimation_summary_equals_numpy(days: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # reference: SummaryInBlocks.add's numpy code (pairwise row sums, masked deviations,
    # running sums over events), bit for bit, in two blocks; rows with no, one, two and
    # constant values included
    rng = np.random.default_rng(days)
    x = rng.standard_t(3, (300, days)) * 10.0 ** rng.uniform(-4, 1, (300, 1))
    x[rng.random(x.shape) < 0.15] = np.nan
    x[0] = np.nan
    x[1, 1:] = np.nan
    x[2, 2:] = np.nan
    x[3] = 0.01

    def summarise() -> parametric.EstimationSummary:
        summary = parametric.SummaryInBlocks(len(x))
        summary.add(slice(0, 123), x[:123])
        summary.add(slice(123, 300), x[123:])
        return summary.result()

    got = summarise()
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", False)
    want = summarise()
    for field in dataclasses.fields(got):
        np.testing.assert_array_equal(getattr(got, field.name), getattr(want, field.name),
                                      err_msg=field.name)
    assert np.isnan(got.var[:2]).all() and got.var[3] < 1e-30  # constant, up to rounding


@pytest.mark.parametrize("size", [1000, 300_001])
def test_t_survival_function_equals_scipy(size: int) -> None:
    # reference: scipy.stats.t.sf on the same numbers (300,001 values run on two threads)
    rng = np.random.default_rng(size)
    x = np.abs(rng.standard_t(3, size)).reshape(-1, 1) * np.ones((1, 3))
    df = rng.integers(1, 300, size).astype(float)[:, None]
    np.testing.assert_array_equal(base.t_sf(x, df), stats.t.sf(x, df))


@pytest.mark.skipif(not _kernels.HAVE_NUMBA, reason="the packed-key argsort")
def test_packed_key_argsort_orders_rows_as_numpy_argsort() -> None:
    # reference: numpy.argsort with non-finite values last; ties may come in any order, so
    # the rows' values in the two orders are compared, and each order is a permutation
    rng = np.random.default_rng(8)
    a = rng.standard_t(4, (400, 240)) * 0.02
    a[rng.random(a.shape) < 0.03] = np.nan
    a[:, 7] = -np.inf
    a[3, :] = 0.0
    a[4, :] = -0.0
    a[4, ::2] = 0.0  # -0.0 and 0.0 are ties
    a[5] = 1.0 + np.arange(240) * 2.0**-50  # differ only in the bits the keys drop
    a[6] = a[5][::-1]  # the same reversed: too many moves, argsorted outright
    a[7, 100:] = a[7, :140]  # many exact ties
    long = np.abs(rng.standard_t(3, (3, 70_000)))  # Wilcoxon's columns: 17 bits for places
    long[1, :5000] = 1.0 + np.arange(5000) * 2.0**-40  # differ in dropped bits only
    long[2, ::7] = np.nan
    for rows in (a, a[:, :3], a[:1], rng.standard_normal((2, 3, 17)), a[:, :2], long):
        order, n_ok = _kernels.argsort_rows(rows)
        ok = np.isfinite(rows)
        want = np.argsort(np.where(ok, rows, np.inf), axis=-1)
        np.testing.assert_array_equal(n_ok, ok.sum(axis=-1))
        keyed = np.where(ok, rows, np.inf)
        np.testing.assert_array_equal(np.take_along_axis(keyed, order, -1),
                                      np.take_along_axis(keyed, want, -1))
        np.testing.assert_array_equal(np.sort(order, axis=-1),
                                      np.broadcast_to(np.arange(rows.shape[-1]), rows.shape))


def _signed_rank_reference(col: np.ndarray) -> tuple[int, float, float]:
    """n, W+ and the tie term of one column by scipy.stats.rankdata on the non-zero |x|."""
    v = col[np.isfinite(col) & (col != 0)]
    ranks = stats.rankdata(np.abs(v))  # average ranks of ties
    sizes = np.unique(np.abs(v), return_counts=True)[1].astype(float)
    return len(v), float(ranks[v > 0].sum()), float((sizes**3 - sizes).sum())


@pytest.mark.parametrize("compiled", [True, False])
def test_signed_rank_sums_from_sorted_keys_equal_scipy_ranks(
        compiled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # reference: scipy.stats.rankdata of each column's non-zero |x| (the ranks Wilcoxon's
    # W+ adds up), with zeros, -0.0, NaN and inf left out, ties of + and - values, and
    # magnitudes one unit in the last place apart (the keys keep every bit)
    if compiled and not _kernels.HAVE_NUMBA:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", compiled)
    rng = np.random.default_rng(12)
    x = np.round(rng.standard_t(3, (5000, 6)), 2)  # ties in |x|, + and - alike
    x[rng.random(x.shape) < 0.04] = np.nan
    x[:30, 1] = -0.0
    x[30:35, 1] = np.inf
    x[35:40, 1] = -np.inf
    x[:, 2] = np.nextafter(0.5, 1.0, out=np.full(5000, 0.5), where=np.arange(5000) % 3 == 0)
    x[::2, 2] *= -1.0  # magnitudes 0.5 and its next float, of both signs
    x[:, 3] = 0.0  # nothing to rank
    x[7, 3] = -2.0
    for data in (x, x[:1], x[:25], np.stack([x[:2000], x[2000:4000]])):
        n, w_plus, ties = nonparametric._signed_rank_sums(data)
        cols = np.moveaxis(data, -2, -1)
        for idx in np.ndindex(cols.shape[:-1]):
            want = _signed_rank_reference(cols[idx])
            assert (n[idx], w_plus[idx], ties[idx]) == want, idx


def test_bootstrap_may_put_its_values_in_the_callers_scratch() -> None:
    # reference: the same resamples from a copy that is left alone
    x = np.random.default_rng(9).normal(size=(500, 4))
    x[[3, 40], [1, 2]] = np.nan
    want = bootstrap_means(x.copy(), 99, seed=4)
    scratch = x.copy()
    np.testing.assert_array_equal(bootstrap_means(scratch, 99, seed=4, overwrite_x=True), want)
    assert not np.array_equal(scratch, x, equal_nan=True)  # its memory was used
    kept = x.copy()
    bootstrap_means(kept, 99, seed=4)
    np.testing.assert_array_equal(kept, x)  # without overwrite_x the input is left alone


@pytest.mark.skipif(not _kernels.HAVE_NUMBA, reason="the compiled loops of the battery")
def test_every_test_of_the_battery_is_the_same_with_the_compiled_loops(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # reference: the whole battery on its numpy code (numba switched off), bit for bit:
    # standardised ARs and variance factors, column moments, cube sums, ranks, bootstrap
    from marketreact.inference.base import TestInputs
    from marketreact.inference.battery import cross_event_tests

    rng = np.random.default_rng(11)
    n, l1, l2 = 700, 120, 9
    ar = rng.standard_t(3, (n, l2)) * 0.02
    ar[rng.random(ar.shape) < 0.05] = np.nan
    var = np.abs(rng.normal(4e-4, 1e-4, (n, l2)))
    var[5, 2] = 0.0  # a frozen price: no SAR
    est = rng.standard_t(4, (n, l1)) * 0.02
    est[rng.random(est.shape) < 0.03] = np.nan
    sigma2 = np.nanvar(est, axis=1, ddof=2)
    sigma2[7] = 0.0
    inputs = TestInputs(ar, var, est, sigma2, np.full(n, l1 - 2.0),
                        (slice(0, 3), slice(4, 5), slice(0, 9)))
    got = cross_event_tests(inputs, n_boot=99)
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", False)
    want = cross_event_tests(inputs, n_boot=99)
    for table in ("days", "windows"):
        for name, res in getattr(want, table).items():
            mine = getattr(got, table)[name]
            np.testing.assert_array_equal(mine.stat, res.stat, err_msg=f"{table} {name}")
            np.testing.assert_array_equal(mine.pvalue, res.pvalue, err_msg=f"{table} {name}")
            for key, value in res.extra.items():
                np.testing.assert_array_equal(mine.extra[key], value, err_msg=f"{name} {key}")


@pytest.mark.parametrize("shape", [(600, 21), (1, 3), (0, 2)])
def test_compiled_patell_equals_numpy_and_the_formula(shape,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # references: the masked numpy sums (the code path without numba), bit for bit; and
    # Patell's Z written out per column, Z = sum SAR / sqrt(sum df / (df - 2)) over the
    # events with a value and more than 2 degrees of freedom
    if not _kernels.HAVE_NUMBA:
        pytest.skip("numba not installed")
    rng = np.random.default_rng(9)
    sx = rng.standard_t(5, shape)
    sx[rng.random(shape) < 0.1] = np.nan
    df = rng.choice([1.0, 2.0, 3.0, 40.0, 238.0, np.nan], shape[0])
    got = parametric.patell(sx, df)
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", False)
    want = parametric.patell(sx, df)
    for field in ("stat", "n", "reason"):
        np.testing.assert_array_equal(getattr(got, field), getattr(want, field))
    for c in range(shape[1]):
        use = np.isfinite(sx[:, c]) & (df > 2)
        if use.any():
            z = sx[use, c].sum() / np.sqrt((df[use] / (df[use] - 2.0)).sum())
            assert got.stat[c] == pytest.approx(z, rel=1e-12)
        else:
            assert got.n[c] == 0


@pytest.mark.parametrize("shape", [(600, 21), (1, 3), (0, 2)])
def test_compiled_brown_warner_1980_equals_numpy_and_the_formula(
        shape, monkeypatch: pytest.MonkeyPatch) -> None:
    # references: the masked numpy sums, bit for bit; and Brown and Warner's t written out
    # per column, mean / (sqrt(L * sum s_i^2) / N) over the events with a value and an
    # estimation variance
    if not _kernels.HAVE_NUMBA:
        pytest.skip("numba not installed")
    rng = np.random.default_rng(10)
    x = rng.standard_t(5, shape) * 0.01
    x[rng.random(shape) < 0.1] = np.nan
    est = rng.standard_normal((shape[0], 30)) * 0.02
    est[: shape[0] // 7, 2:] = np.nan  # too few residuals: no variance
    summ = parametric.summarise_estimation(est)
    lengths = np.arange(1, shape[1] + 1)
    got = parametric.brown_warner_1980(x, lengths, summ)
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", False)
    want = parametric.brown_warner_1980(x, lengths, summ)
    for field in ("stat", "n", "df", "reason"):
        np.testing.assert_array_equal(getattr(got, field), getattr(want, field))
    s2 = summ.var
    for c in range(shape[1]):
        use = np.isfinite(x[:, c]) & np.isfinite(s2)
        if use.any():
            n = use.sum()
            t = x[use, c].mean() / (np.sqrt(lengths[c] * s2[use].sum()) / n)
            assert got.stat[c] == pytest.approx(t, rel=1e-12)
