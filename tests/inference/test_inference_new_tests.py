"""Tests the anchors have: skewness-corrected t, Corrado-Zivney sign, modified rank, GRANK, BHAR.

References (independent of the vectorised code):

* skewness-corrected t: Hall (1992) / EventStudyTools' formula written out with the
  sample skewness from ``scipy.stats.skew(bias=False)``;
* Corrado-Zivney sign and modified rank: a line-by-line port of estudy2's
  ``corrado_sign_test`` and ``modified_rank_test`` (R/nonparametric_tests.R), one event
  at a time with ``numpy.median`` and ``scipy.stats.rankdata``;
* GRANK: Kolari & Pynnonen (2011) eq. 4-9, one column and one event at a time with
  ``scipy.stats.rankdata`` on the estimation SARs and the event observation together;
* BHAR: ``scipy.stats.ttest_1samp`` and the Lyon-Barber-Tsai formula.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from marketreact.inference.base import TEST_NAMES, TEST_TITLES, WINDOW_TITLES, TestInputs
from marketreact.inference.battery import aar_table, aggregate_table, cross_event_tests


def _inputs(seed: int = 0, n: int = 40, l1: int = 60, l2: int = 7,
            missing: bool = True) -> TestInputs:
    rng = np.random.default_rng(seed)
    est = rng.standard_t(4, (n, l1)) * 0.02
    ar = rng.standard_t(4, (n, l2)) * 0.02 + 0.004
    ar[:, 3] += rng.gamma(1.0, 0.01, n)  # a skewed event day
    if missing:
        est[rng.random(est.shape) < 0.05] = np.nan
        ar[rng.random(ar.shape) < 0.05] = np.nan
    est[2, 5] = est[2, 9] = est[2, 11]  # ties inside an event
    ar[4, 2] = est[4, 7]  # an event value tied with an estimation value
    ok = np.isfinite(est)
    m = ok.sum(axis=1)
    mean = np.where(ok, est, 0.0).sum(axis=1) / m
    sigma2 = (np.where(ok, est - mean[:, None], 0.0) ** 2).sum(axis=1) / (m - 2)
    var = np.where(np.isfinite(ar), sigma2[:, None] * 1.03, np.nan)
    windows = (slice(2, 5), slice(3, 4), slice(0, l2))
    return TestInputs(ar, var, est, sigma2, m - 2.0, windows)


def _cars(inp: TestInputs) -> tuple[np.ndarray, np.ndarray]:
    return inp.window_values()


# ---------------------------------------------------------------- skewness-corrected t


def _hall(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    n = len(x)
    s = x.mean() / x.std(ddof=1)
    g = stats.skew(x, bias=False)
    return float(np.sqrt(n) * (s + g * s**2 / 3 + g**2 * s**3 / 27 + g / (6 * n)))


def test_skewness_corrected_t_is_halls_formula() -> None:
    inp = _inputs()
    tests = cross_event_tests(inp, n_boot=0)
    car, _ = _cars(inp)
    for j in range(inp.ar.shape[1]):
        assert tests.days["skew_t"].stat[j] == pytest.approx(_hall(inp.ar[:, j]), rel=1e-12)
        n = np.isfinite(inp.ar[:, j]).sum()
        p = 2 * stats.t.sf(abs(_hall(inp.ar[:, j])), n - 1)
        assert tests.days["skew_t"].pvalue[j] == pytest.approx(p, rel=1e-9)
    for j in range(car.shape[1]):
        assert tests.windows["skew_t"].stat[j] == pytest.approx(_hall(car[:, j]), rel=1e-12)


def test_skewness_corrected_t_without_skew_is_the_t() -> None:
    # symmetric data: gamma = 0, so t_skew = sqrt(N) S, the cross-sectional t
    x = np.array([[-0.03], [-0.01], [0.0], [0.01], [0.03], [0.02], [-0.02]]) + 0.005
    x = np.vstack([x, -x + 0.01])
    inp = TestInputs(x, np.full(x.shape, 1e-4), np.zeros((len(x), 5)) + np.arange(5) * 1e-3,
                     np.full(len(x), 1e-4), np.full(len(x), 3.0), (slice(0, 1),))
    tests = cross_event_tests(inp, n_boot=0)
    g = stats.skew(x[:, 0], bias=False)
    assert abs(g) < 1e-12
    assert tests.days["skew_t"].stat[0] == pytest.approx(tests.days["t"].stat[0], rel=1e-9)


# ---------------------------------------------------------------- estudy2 ports


def _estudy2(inp: TestInputs, kind: str) -> np.ndarray:
    """estudy2's corrado_sign_test ('csign') or modified_rank_test ('mrank'), event by event."""
    est, ar = np.asarray(inp.est_residuals), inp.ar
    n, l1 = est.shape
    full = np.concatenate([est, ar], axis=1)
    scores = np.full(full.shape, np.nan)
    delta = np.zeros(n)
    for i in range(n):
        row = full[i]
        ok = np.isfinite(row)
        delta[i] = ok.sum()
        if kind == "csign":
            scores[i, ok] = np.sign(row[ok] - np.median(row[ok]))
        else:
            scores[i, ok] = stats.rankdata(row[ok]) / (1 + ok.sum()) - 0.5
    n_t = np.isfinite(scores).sum(axis=0).astype(float)
    sums = np.nansum(scores, axis=0)
    keep = n_t > 0
    sd = np.sqrt(1 / delta.mean() * np.sum((sums[keep] / np.sqrt(n_t[keep])) ** 2))
    return (sums / np.sqrt(n_t) / sd)[l1:]


@pytest.mark.parametrize("missing", [False, True])
@pytest.mark.parametrize("kind", ["csign", "mrank"])
def test_corrado_sign_and_modified_rank_match_estudy2(kind: str, missing: bool) -> None:
    inp = _inputs(seed=3, missing=missing)
    tests = cross_event_tests(inp, n_boot=0)
    np.testing.assert_allclose(tests.days[kind].stat, _estudy2(inp, kind), rtol=1e-12)
    z = tests.days[kind].stat
    np.testing.assert_allclose(tests.days[kind].pvalue, 2 * stats.norm.sf(np.abs(z)),
                               rtol=1e-9)


def test_modified_rank_equals_rank_without_missing_values() -> None:
    inp = _inputs(seed=5, missing=False)
    tests = cross_event_tests(inp, n_boot=0)
    np.testing.assert_allclose(tests.days["mrank"].stat, tests.days["rank"].stat, rtol=1e-12)
    np.testing.assert_allclose(tests.windows["mrank"].stat, tests.windows["rank"].stat,
                               rtol=1e-12)


def test_corrado_sign_window_cumulates_like_the_rank_test() -> None:
    # Campbell-Wasley cumulation of the daily mean signs: with every event present on
    # every day the window statistic is sum_t Z_t / sqrt(L)
    inp = _inputs(seed=6, missing=False)
    tests = cross_event_tests(inp, n_boot=0)
    for j, cols in enumerate(inp.windows):
        z = tests.days["csign"].stat[cols]
        assert tests.windows["csign"].stat[j] == pytest.approx(z.sum() / np.sqrt(len(z)),
                                                               rel=1e-12)


# ---------------------------------------------------------------- GRANK


def _grank(est: np.ndarray, sigma2: np.ndarray, sx: np.ndarray) -> tuple[float, float, int]:
    """Kolari-Pynnonen (2011) GRANK of one column, event by event with rankdata."""
    v = sx / np.nanstd(sx, ddof=1)
    n_ev, l1 = est.shape
    rows = []
    for i in range(n_ev):
        if not np.isfinite(v[i]) or not np.isfinite(est[i]).any():
            continue
        g = np.append(est[i] / np.sqrt(sigma2[i]), v[i])  # the event observation last
        ok = np.isfinite(g)
        u = np.full(l1 + 1, np.nan)
        u[ok] = stats.rankdata(g[ok]) / (ok.sum() + 1) - 0.5
        rows.append(u)
    u = np.array(rows)
    n = len(u)
    n_t = np.isfinite(u).sum(axis=0)
    keep = n_t > 0
    ubar = np.nanmean(u[:, keep], axis=0)
    t_days = keep.sum()
    s = np.sqrt(np.sum(n_t[keep] / n * ubar**2) / t_days)
    z = ubar[-1] / s
    t = z * np.sqrt((t_days - 2) / (t_days - 1 - z**2))
    return float(t), float(z), int(t_days)


@pytest.mark.parametrize("missing", [False, True])
def test_grank_matches_kolari_pynnonen_by_hand(missing: bool) -> None:
    inp = _inputs(seed=7, missing=missing)
    tests = cross_event_tests(inp, n_boot=0)
    est = np.asarray(inp.est_residuals)
    with np.errstate(invalid="ignore"):
        sar = inp.ar / np.sqrt(inp.ar_var)
    car, car_var = _cars(inp)
    csar = car / np.sqrt(car_var)
    for group, sx in (("days", sar), ("windows", csar)):
        res = getattr(tests, group)
        for j in range(sx.shape[1]):
            t, z, t_days = _grank(est, inp.sigma2, sx[:, j])
            assert res["grank_t"].stat[j] == pytest.approx(t, rel=1e-12)
            assert res["grank_z"].stat[j] == pytest.approx(z, rel=1e-12)
            assert res["grank_t"].df[j] == t_days - 2
            p = 2 * stats.t.sf(abs(t), t_days - 2)
            assert res["grank_t"].pvalue[j] == pytest.approx(p, rel=1e-9)


def test_grank_batched_equals_one_by_one() -> None:
    parts = [_inputs(seed=s, missing=False) for s in (11, 12, 13)]
    stacked = TestInputs(*(np.stack([getattr(p, f) for p in parts]) for f in
                           ("ar", "ar_var", "est_residuals", "sigma2", "df")),
                         parts[0].windows)
    both = cross_event_tests(stacked, n_boot=0)
    for k, p in enumerate(parts):
        one = cross_event_tests(p, n_boot=0)
        for name in ("grank_t", "grank_z", "csign", "mrank", "skew_t"):
            np.testing.assert_allclose(both.days[name].stat[k], one.days[name].stat,
                                       rtol=1e-12, err_msg=name)
            np.testing.assert_allclose(both.windows[name].stat[k], one.windows[name].stat,
                                       rtol=1e-12, err_msg=name)


# ---------------------------------------------------------------- tables


def test_new_tests_are_in_the_tables() -> None:
    inp = _inputs()
    tests = cross_event_tests(inp, n_boot=0)
    for name in ("skew_t", "csign", "mrank", "grank_t", "grank_z"):
        assert name in TEST_NAMES and name in TEST_TITLES and name in WINDOW_TITLES
        assert name in tests.days and name in tests.windows
    frame = aar_table(np.arange(-3, 4), inp.ar, tests)
    for name in ("skew_t", "csign", "mrank", "grank_t", "grank_z"):
        assert {name, f"{name}_p"} <= set(frame.columns)


def test_bhar_tests_in_the_aggregate_table() -> None:
    rng = np.random.default_rng(4)
    bhar = rng.lognormal(0, 0.5, (60, 2)) - 1.1
    bhar[3, 1] = np.nan
    inp = _inputs(n=60)
    tests = cross_event_tests(inp, n_boot=0)
    car, _ = _cars(inp)
    frame = aggregate_table(["a", "b", "c"][: car.shape[1]], car, tests,
                            bhar=np.c_[bhar, bhar[:, 0]])
    for j in range(2):
        x = bhar[:, j][np.isfinite(bhar[:, j])]
        ref = stats.ttest_1samp(x, 0.0)
        assert frame["bhar_t"].iloc[j] == pytest.approx(ref.statistic, rel=1e-12)
        assert frame["bhar_t_p"].iloc[j] == pytest.approx(ref.pvalue, rel=1e-9)
        s = x.mean() / x.std(ddof=1)
        g = stats.skew(x, bias=True)  # LBT's gamma: m3 / m2^1.5
        n = len(x)
        t_sa = np.sqrt(n) * (s + g * s**2 / 3 + g / (6 * n))
        assert frame["bhar_tsa"].iloc[j] == pytest.approx(t_sa, rel=1e-12)
        assert frame["mean_bhar"].iloc[j] == pytest.approx(x.mean(), rel=1e-12)
