"""Cross-event tests against independent references.

References used here: hand computations written out in the tests, scipy.stats
(ttest_1samp, binomtest, wilcoxon, norm, t, rankdata, bootstrap) and numpy's
corrcoef on the same numbers. The published EventStudyTools values are checked
in test_inference_sp500.py.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from scipy import stats

from marketreact.inference.base import TEST_NAMES, Alternative, TestInputs
from marketreact.inference.battery import cross_event_tests, cross_event_tests_multi
from marketreact.inference.nonparametric import average_ranks, bootstrap
from marketreact.inference.parametric import average_cross_correlation

ALTS = ("two-sided", "greater", "less")


def _inputs(seed: int = 0, n: int = 12, l1: int = 40, l2: int = 5, shift: float = 0.0,
            nan_frac: float = 0.0) -> TestInputs:
    rng = np.random.default_rng(seed)
    sigma = rng.uniform(0.01, 0.03, n)
    est = rng.standard_t(5, (n, l1)) * sigma[:, None]
    ar = rng.standard_t(5, (n, l2)) * sigma[:, None] + shift
    df = np.full(n, l1 - 2.0)
    sigma2 = (est**2).sum(axis=1) / df
    ar_var = sigma2[:, None] * (1.0 + rng.uniform(0.005, 0.03, (n, l2)))
    if nan_frac:
        ar[rng.random(ar.shape) < nan_frac] = np.nan
        est[rng.random(est.shape) < nan_frac] = np.nan
    windows = (slice(0, l2), slice(1, 3))
    return TestInputs(ar, np.where(np.isfinite(ar), ar_var, np.nan), est, sigma2, df, windows)


# ----------------------------------------------------------------------------- parametric


@pytest.mark.parametrize("alt", ALTS)
def test_cross_sectional_t_equals_scipy_ttest_1samp(alt: str) -> None:
    inp = _inputs(1, shift=0.004, nan_frac=0.1)
    res = cross_event_tests(inp, alt, n_boot=0)
    for t in range(inp.ar.shape[1]):
        x = inp.ar[:, t][np.isfinite(inp.ar[:, t])]
        ref = stats.ttest_1samp(x, 0.0, alternative=alt)
        assert res.days["t"].stat[t] == pytest.approx(ref.statistic, rel=1e-12)
        assert res.days["t"].pvalue[t] == pytest.approx(ref.pvalue, rel=1e-10)
        assert res.days["t"].df[t] == len(x) - 1
    car, _ = inp.window_values()
    for w in range(car.shape[1]):
        ref = stats.ttest_1samp(car[:, w], 0.0, alternative=alt)
        assert res.windows["t"].stat[w] == pytest.approx(ref.statistic, rel=1e-12)
        assert res.windows["t"].pvalue[w] == pytest.approx(ref.pvalue, rel=1e-10)


def test_bmp_is_t_test_of_standardised_ars_and_cars() -> None:
    inp = _inputs(2, shift=0.003)
    res = cross_event_tests(inp, n_boot=0)
    sar = inp.ar / np.sqrt(inp.ar_var)
    ref = stats.ttest_1samp(sar, 0.0, axis=0)
    np.testing.assert_allclose(res.days["bmp"].stat, ref.statistic, rtol=1e-12)
    np.testing.assert_allclose(res.days["bmp"].pvalue, ref.pvalue, rtol=1e-10)
    # windows standardise the CAR by the square root of its variance
    car, car_var = inp.window_values()
    ref_w = stats.ttest_1samp(car / np.sqrt(car_var), 0.0, axis=0)
    np.testing.assert_allclose(res.windows["bmp"].stat, ref_w.statistic, rtol=1e-12)


def test_patell_by_hand() -> None:
    # three events, one day; SARs and residual dfs written out
    ar = np.array([[0.02], [-0.01], [0.03]])
    ar_var = np.array([[0.0004], [0.0001], [0.0009]])   # SAR = 1.0, -1.0, 1.0
    df = np.array([10.0, 20.0, 40.0])
    est = np.zeros((3, 4)) + np.array([0.01, -0.01, 0.02, -0.02])
    inp = TestInputs(ar, ar_var, est, np.ones(3), df, (slice(0, 1),))
    res = cross_event_tests(inp, n_boot=0)
    # Z = sum(SAR) / sqrt(sum(df / (df - 2))) = 1 / sqrt(10/8 + 20/18 + 40/38)
    z = 1.0 / math.sqrt(10 / 8 + 20 / 18 + 40 / 38)
    assert res.days["patell"].stat[0] == pytest.approx(z, rel=1e-12)
    assert res.days["patell"].pvalue[0] == pytest.approx(2 * stats.norm.sf(z), rel=1e-12)
    assert res.windows["patell"].stat[0] == pytest.approx(z, rel=1e-12)
    # events with df <= 2 are left out
    inp2 = TestInputs(ar, ar_var, est, np.ones(3), np.array([10.0, 2.0, 40.0]),
                      (slice(0, 1),))
    z2 = (1.0 + 1.0) / math.sqrt(10 / 8 + 40 / 38)
    assert cross_event_tests(inp2, n_boot=0).days["patell"].stat[0] == pytest.approx(z2)


def test_brown_warner_by_hand() -> None:
    est = np.array([[0.01, -0.02, 0.03, 0.00],
                    [0.02, 0.01, -0.01, -0.02],
                    [-0.01, 0.00, 0.02, 0.01]])
    ar = np.array([[0.03, 0.01], [0.02, -0.01], [0.04, 0.00]])
    inp = TestInputs(ar, np.full(ar.shape, 1e-4), est, np.full(3, 1e-4), np.full(3, 2.0),
                     (slice(0, 2),))
    res = cross_event_tests(inp, n_boot=0)
    # 1985 crude dependence adjustment: average residual per estimation day
    avg = [(0.01 + 0.02 - 0.01) / 3, (-0.02 + 0.01 + 0.00) / 3, (0.03 - 0.01 + 0.02) / 3,
           (0.00 - 0.02 + 0.01) / 3]
    s = statistics.stdev(avg)
    aar0 = (0.03 + 0.02 + 0.04) / 3
    assert res.days["bw1985"].stat[0] == pytest.approx(aar0 / s, rel=1e-12)
    assert res.days["bw1985"].df[0] == 3
    assert res.days["bw1985"].pvalue[0] == pytest.approx(2 * stats.t.sf(aar0 / s, 3), rel=1e-10)
    caar = ((0.03 + 0.01) + (0.02 - 0.01) + (0.04 + 0.00)) / 3
    assert res.windows["bw1985"].stat[0] == pytest.approx(caar / (math.sqrt(2) * s), rel=1e-12)
    # 1980: average of the events' variances, sqrt(sum s_i^2) / N
    v = [statistics.variance(row) for row in est.tolist()]
    assert res.days["bw1980"].stat[0] == pytest.approx(aar0 / (math.sqrt(sum(v)) / 3),
                                                       rel=1e-12)
    assert res.days["bw1980"].df[0] == 3  # mean estimation length 4, minus 1
    assert res.windows["bw1980"].stat[0] == pytest.approx(
        caar / (math.sqrt(2 * sum(v)) / 3), rel=1e-12)


def test_lamb_matches_estudy2_formula_with_one_market() -> None:
    # estudy2 ``lamb``: AAR_t / (sd(mean estimation AR) * sqrt(1 + 1/T + (Rm_t - mean)^2 / SS))
    rng = np.random.default_rng(7)
    n, l1, l2 = 8, 60, 4
    rm_est, rm_evt = rng.normal(0, 0.01, l1), rng.normal(0, 0.01, l2)
    ar, var, est, s2 = [], [], [], []
    for _ in range(n):
        a, b = rng.normal(0, 0.001), rng.uniform(0.5, 1.5)
        y_est = a + b * rm_est + rng.normal(0, 0.02, l1)
        y_evt = a + b * rm_evt + rng.normal(0, 0.02, l2)
        X = np.c_[np.ones(l1), rm_est]
        coef = np.linalg.lstsq(X, y_est, rcond=None)[0]
        resid = y_est - X @ coef
        sigma2 = resid @ resid / (l1 - 2)
        xe = np.c_[np.ones(l2), rm_evt]
        quad = np.einsum("ij,jk,ik->i", xe, np.linalg.inv(X.T @ X), xe)
        ar.append(y_evt - xe @ coef)
        var.append(sigma2 * (1 + quad))
        est.append(resid)
        s2.append(sigma2)
    inp = TestInputs(np.array(ar), np.array(var), np.array(est), np.array(s2),
                     np.full(n, l1 - 2.0), (slice(0, 4),))
    res = cross_event_tests(inp, n_boot=0)
    sd = np.std(np.mean(est, axis=0), ddof=1)
    mbar = rm_est.mean()
    factor = np.sqrt(1 + 1 / l1 + (rm_evt - mbar) ** 2 / ((rm_est - mbar) ** 2).sum())
    ref = np.mean(ar, axis=0) / (sd * factor)
    np.testing.assert_allclose(res.days["lamb"].stat, ref, rtol=1e-10)
    np.testing.assert_allclose(res.days["lamb"].pvalue, 2 * stats.norm.sf(np.abs(ref)),
                               rtol=1e-10)
    # car_lamb: sum of the daily statistics / sqrt(number of days)
    assert res.windows["lamb"].stat[0] == pytest.approx(ref.sum() / 2.0, rel=1e-10)


def test_average_cross_correlation_equals_mean_of_corrcoef() -> None:
    rng = np.random.default_rng(3)
    common = rng.normal(size=50)
    est = 0.4 * common + rng.normal(size=(7, 50))
    corr = np.corrcoef(est)
    ref = corr[~np.eye(7, dtype=bool)].mean()
    assert average_cross_correlation(est) == pytest.approx(ref, rel=1e-12)
    # batched over a leading axis
    both = np.stack([est, est[::-1] * 2.0])
    np.testing.assert_allclose(average_cross_correlation(both), [ref, ref], rtol=1e-12)


def test_kolari_pynnonen_adjustment_factors() -> None:
    rng = np.random.default_rng(4)
    common = rng.normal(size=80)
    est = 0.03 * (0.5 * common + rng.normal(size=(10, 80)))
    inp = _inputs(4, n=10, l1=80)
    inp = TestInputs(inp.ar, inp.ar_var, est, inp.sigma2, inp.df, inp.windows)
    res = cross_event_tests(inp, n_boot=0)
    r = np.corrcoef(est)[~np.eye(10, dtype=bool)].mean()
    assert res.r_bar == pytest.approx(r, rel=1e-12)
    n = 10
    np.testing.assert_allclose(res.days["kp_bmp"].stat,
                               res.days["bmp"].stat * math.sqrt((1 - r) / (1 + (n - 1) * r)),
                               rtol=1e-12)
    np.testing.assert_allclose(res.days["kp_patell"].stat,
                               res.days["patell"].stat * math.sqrt(1 / (1 + (n - 1) * r)),
                               rtol=1e-12)
    np.testing.assert_allclose(res.days["kp_bmp"].pvalue,
                               2 * stats.t.sf(np.abs(res.days["kp_bmp"].stat), n - 1),
                               rtol=1e-10)


# ----------------------------------------------------------------------------- sign tests


@pytest.mark.parametrize("alt", ALTS)
def test_sign_test_equals_binomtest(alt: str) -> None:
    inp = _inputs(5, n=23, shift=0.005)
    ar = inp.ar.copy()
    ar[0, 0] = 0.0  # a zero is dropped
    inp = TestInputs(ar, inp.ar_var, inp.est_residuals, inp.sigma2, inp.df, inp.windows)
    res = cross_event_tests(inp, alt, n_boot=0)
    for t in range(ar.shape[1]):
        x = ar[:, t]
        k, n = int((x > 0).sum()), int((x != 0).sum())
        assert res.days["sign"].pvalue[t] == pytest.approx(
            stats.binomtest(k, n, 0.5, alternative=alt).pvalue, rel=1e-10)
        assert res.days["sign"].stat[t] == pytest.approx((k - n / 2) / math.sqrt(n / 4))


def test_generalized_sign_by_hand() -> None:
    est = np.array([[0.01, -0.02, 0.03, 0.01],     # 3 of 4 positive
                    [0.02, -0.01, -0.01, -0.02],   # 1 of 4
                    [-0.01, np.nan, 0.02, 0.01]])  # 2 of 3
    ar = np.array([[0.03], [0.02], [-0.04]])
    inp = TestInputs(ar, np.full(ar.shape, 1e-4), est, np.full(3, 1e-4), np.full(3, 2.0),
                     (slice(0, 1),))
    res = cross_event_tests(inp, "greater", n_boot=0)
    p_hat = (3 / 4 + 1 / 4 + 2 / 3) / 3
    z = (2 - 3 * p_hat) / math.sqrt(3 * p_hat * (1 - p_hat))
    assert res.days["gsign"].stat[0] == pytest.approx(z, rel=1e-12)
    assert res.days["gsign"].pvalue[0] == pytest.approx(stats.norm.sf(z), rel=1e-12)


# ----------------------------------------------------------------------------- rank tests


def test_corrado_and_campbell_wasley_by_hand() -> None:
    # two events, 3 estimation days + 2 event days; ranks within each event
    est = np.array([[0.01, -0.02, 0.00],
                    [0.03, 0.01, -0.01]])
    ar = np.array([[0.05, -0.01],
                   [0.02, 0.04]])
    inp = TestInputs(ar, np.full(ar.shape, 1e-4), est, np.full(2, 1e-4), np.full(2, 1.0),
                     (slice(0, 2),))
    res = cross_event_tests(inp, n_boot=0)
    # event 1 values 0.01 -0.02 0.00 0.05 -0.01 -> ranks 4 1 3 5 2
    # event 2 values 0.03 0.01 -0.01 0.02 0.04 -> ranks 4 2 1 3 5
    k1, k2 = np.array([4, 1, 3, 5, 2]), np.array([4, 2, 1, 3, 5])
    u = (np.vstack([k1, k2]) / 6.0) - 0.5
    ubar = u.mean(axis=0)
    s = math.sqrt((ubar**2).mean())
    assert res.days["rank"].stat[0] == pytest.approx(ubar[3] / s, rel=1e-12)
    assert res.days["rank"].stat[1] == pytest.approx(ubar[4] / s, rel=1e-12)
    assert res.windows["rank"].stat[0] == pytest.approx((ubar[3] + ubar[4]) / (math.sqrt(2) * s),
                                                        rel=1e-12)


def test_rank_test_against_loop_reference_with_missing_days() -> None:
    inp = _inputs(6, n=9, l1=30, l2=4, nan_frac=0.15)
    res = cross_event_tests(inp, n_boot=0)
    both = np.concatenate([inp.est_residuals, inp.ar], axis=1)
    n_ev = both.shape[0]
    u = np.full(both.shape, np.nan)
    for i in range(n_ev):  # Corrado-Zivney scaled ranks, event by event
        ok = np.isfinite(both[i])
        u[i, ok] = stats.rankdata(both[i, ok]) / (ok.sum() + 1) - 0.5
    n_t = np.isfinite(u).sum(axis=0)
    ubar = np.nanmean(u, axis=0)
    s = math.sqrt(np.mean(n_t / n_ev * ubar**2))
    for t in range(4):
        j = 30 + t
        ref = ubar[j] / (s * math.sqrt(n_ev / n_t[j]))
        assert res.days["rank"].stat[t] == pytest.approx(ref, rel=1e-10)


def test_average_ranks_equal_scipy_rankdata_with_ties_and_nan() -> None:
    rng = np.random.default_rng(14)
    a = np.round(rng.normal(size=(6, 4, 30)), 1)
    a[rng.random(a.shape) < 0.2] = np.nan
    ranks, ties = average_ranks(a)
    ref = stats.rankdata(a, axis=-1, nan_policy="omit")
    np.testing.assert_allclose(ranks, ref, rtol=0, atol=1e-12)
    for idx in np.ndindex(a.shape[:-1]):
        vals = a[idx][np.isfinite(a[idx])]
        _, cnt = np.unique(vals, return_counts=True)
        assert ties[idx] == float((cnt**3 - cnt).sum())


@pytest.mark.parametrize("alt", ALTS)
def test_wilcoxon_exact_equals_scipy(alt: str) -> None:
    inp = _inputs(8, n=20, shift=0.004)
    res = cross_event_tests(inp, alt, n_boot=0)
    for t in range(inp.ar.shape[1]):
        ref = stats.wilcoxon(inp.ar[:, t], alternative=alt, method="exact")
        assert res.days["wilcoxon"].pvalue[t] == pytest.approx(ref.pvalue, rel=1e-10)
        assert res.days["wilcoxon"].dist_label(t) == "exact"


@pytest.mark.parametrize("alt", ALTS)
def test_wilcoxon_asymptotic_equals_scipy_with_ties_and_zeros(alt: str) -> None:
    rng = np.random.default_rng(9)
    x = np.round(rng.normal(0.3, 1.0, (80, 2)), 1)  # ties and zeros
    x[:3, 1] = 0.0
    inp = TestInputs(x, np.ones_like(x), rng.normal(size=(80, 10)), np.ones(80),
                     np.full(80, 8.0), (slice(0, 2),))
    res = cross_event_tests(inp, alt, n_boot=0)
    for t in range(2):
        ref = stats.wilcoxon(x[:, t], alternative=alt, method="asymptotic")
        assert res.days["wilcoxon"].pvalue[t] == pytest.approx(ref.pvalue, rel=1e-9)
        assert res.days["wilcoxon"].stat[t] == pytest.approx(
            ref.zstatistic if alt != "two-sided" else
            math.copysign(abs(ref.zstatistic), np.sum(np.sign(x[:, t]))), rel=1e-9)


# ----------------------------------------------------------------------------- bootstrap


def test_bootstrap_interval_agrees_with_scipy_percentile_bootstrap() -> None:
    rng = np.random.default_rng(10)
    x = rng.standard_t(4, 60) * 0.02 + 0.004
    ours = bootstrap(x[:, None], n_boot=20000, seed=1).result("boot", Alternative.two_sided)
    ref = stats.bootstrap((x,), np.mean, n_resamples=20000, method="percentile",
                          confidence_level=0.95, rng=np.random.default_rng(2))
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert ours.extra["lo"][0] == pytest.approx(ref.confidence_interval.low, abs=0.03 * width)
    assert ours.extra["hi"][0] == pytest.approx(ref.confidence_interval.high, abs=0.03 * width)
    assert ours.stat[0] == pytest.approx(x.mean() / ref.standard_error, rel=0.03)


def test_bootstrap_p_value_inverts_the_percentile_interval_and_is_seeded() -> None:
    inp = _inputs(11, n=40, l2=8, shift=0.003)
    a = cross_event_tests(inp, n_boot=999, seed=5)
    b = cross_event_tests(inp, n_boot=999, seed=5)
    c = cross_event_tests(inp, n_boot=999, seed=6)
    np.testing.assert_array_equal(a.days["boot"].pvalue, b.days["boot"].pvalue)
    # the order of the events does not matter
    perm = np.random.default_rng(0).permutation(40)
    shuffled = TestInputs(inp.ar[perm], inp.ar_var[perm], inp.est_residuals[perm],
                          inp.sigma2[perm], inp.df[perm], inp.windows)
    d = cross_event_tests(shuffled, n_boot=999, seed=5)
    np.testing.assert_allclose(d.days["boot"].extra["lo"], a.days["boot"].extra["lo"],
                               rtol=1e-12)
    np.testing.assert_allclose(d.windows["boot"].pvalue, a.windows["boot"].pvalue, rtol=1e-12)
    assert not np.array_equal(a.days["boot"].extra["lo"], c.days["boot"].extra["lo"])
    boot = a.days["boot"]
    outside = (boot.extra["lo"] > 0) | (boot.extra["hi"] < 0)
    # 0 outside the 95% interval <=> p below about 5% (the +1 in (1 + k)/(B + 1) blurs the edge)
    assert np.all(boot.pvalue[outside] <= 0.052)
    assert np.all(boot.pvalue[~outside] >= 0.048)


# ----------------------------------------------------------------------------- invalid data


def test_invalid_statistics_carry_reasons_instead_of_raising() -> None:
    one = _inputs(12, n=1)
    res = cross_event_tests(one, n_boot=50)
    for name in ("t", "bmp", "kp_bmp", "boot"):
        assert not res.days[name].valid.any()
        assert np.isnan(res.days[name].stat).all() and np.isnan(res.days[name].pvalue).all()
        assert "fewer than 2 events" in res.days[name].reason[0]
    assert res.days["patell"].valid.all()  # one event is enough for Patell
    # zero cross-sectional variance
    same = TestInputs(np.full((4, 2), 0.01), np.full((4, 2), 1e-4),
                      np.random.default_rng(0).normal(size=(4, 20)), np.ones(4),
                      np.full(4, 18.0), (slice(0, 2),))
    res = cross_event_tests(same, n_boot=0)
    assert res.days["t"].reason[0] == "zero cross-sectional variance"
    assert res.days["boot"].reason[0].startswith("bootstrap switched off")
    # generalized sign when every estimation residual is positive
    pos = TestInputs(np.full((3, 1), 0.01), np.ones((3, 1)), np.ones((3, 5)), np.ones(3),
                     np.full(3, 3.0), (slice(0, 1),))
    assert "one sign" in cross_event_tests(pos, n_boot=0).days["gsign"].reason[0]
    # no events at all
    empty = TestInputs(np.empty((0, 3)), np.empty((0, 3)), np.empty((0, 10)), np.empty(0),
                       np.empty(0), (slice(0, 3),))
    res = cross_event_tests(empty, n_boot=10)
    for name in TEST_NAMES:
        assert not res.days[name].valid.any() and not res.windows[name].valid.any()


def test_event_without_residual_variance_is_left_out_of_standardised_tests() -> None:
    # a price frozen at a floor: zero residuals, zero variance, a non-zero event-day AR
    inp = _inputs(13, n=6)
    ar, var, est, s2 = (inp.ar.copy(), inp.ar_var.copy(), inp.est_residuals.copy(),
                        inp.sigma2.copy())
    ar[0], var[0], est[0], s2[0] = 0.01, 0.0, 0.0, 0.0
    frozen = TestInputs(ar, var, est, s2, inp.df, inp.windows)
    res = cross_event_tests(frozen, n_boot=0)
    rest = TestInputs(ar[1:], var[1:], est[1:], s2[1:], inp.df[1:], inp.windows)
    ref = cross_event_tests(rest, n_boot=0)
    for name in ("patell", "bmp", "lamb"):
        assert np.isfinite(res.days[name].stat).all()
    np.testing.assert_allclose(res.days["bmp"].stat, ref.days["bmp"].stat, rtol=1e-12)
    np.testing.assert_allclose(res.days["patell"].stat, ref.days["patell"].stat, rtol=1e-12)
    assert (res.days["bmp"].n == 5).all() and (res.days["t"].n == 6).all()


def test_batched_samples_equal_one_by_one() -> None:
    samples = [_inputs(20 + k, n=15, nan_frac=0.05) for k in range(3)]
    stacked = TestInputs(*(np.stack([getattr(s, f) for s in samples]) for f in
                           ("ar", "ar_var", "est_residuals", "sigma2", "df")),
                         windows=samples[0].windows)
    batch = cross_event_tests_multi(stacked, ALTS, n_boot=0)
    for alt in ALTS:
        for k, s in enumerate(samples):
            single = cross_event_tests(s, alt, n_boot=0)
            for name in TEST_NAMES:
                if name == "boot":
                    continue
                np.testing.assert_allclose(batch[Alternative(alt)].days[name].stat[k],
                                           single.days[name].stat, rtol=1e-12, err_msg=name)
                np.testing.assert_allclose(batch[Alternative(alt)].windows[name].pvalue[k],
                                           single.windows[name].pvalue, rtol=1e-12,
                                           err_msg=name)


def test_test_result_indexing_and_text() -> None:
    res = cross_event_tests(_inputs(30), n_boot=0)
    one = res.windows["bmp"][0]
    assert one.stat.shape == () and one.dist_label() == "t(11)"
    assert "BMP" in str(res.windows["bmp"])
    assert res.days["sign"].dist_label(0) == "Bin(12, 0.5)"
