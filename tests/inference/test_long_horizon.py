"""Long-horizon BHAR tests: conventional t, Lyon-Barber-Tsai skewness-adjusted t, bootstrap.

Reference values: a hand computation written out below (LBT 1999, eq. 5), scipy.stats
(ttest_1samp, skew) on the same numbers, and a seeded bootstrap repeated.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from marketreact.inference.base import Alternative, TestResult
from marketreact.inference.long_horizon import (
    bhar_t,
    bootstrap_t_sa,
    bootstrapped_skewness_adjusted_t,
    long_horizon_tests,
    skewness_adjusted_t,
)

#: Five BHARs, one large winner (the right skew of long-horizon returns).
SMALL = np.array([-0.2, -0.1, 0.0, 0.1, 1.2])


def test_skewness_adjusted_t_by_hand():
    # mean = 1.0 / 5 = 0.2; deviations -0.4, -0.3, -0.2, -0.1, 1.0
    # sum of squares = 0.16 + 0.09 + 0.04 + 0.01 + 1.00 = 1.30
    # s (ddof 1) = sqrt(1.30 / 4) = sqrt(0.325); S = 0.2 / sqrt(0.325)
    # m2 = 1.30 / 5 = 0.26; m3 = (-0.064 - 0.027 - 0.008 - 0.001 + 1.000) / 5 = 0.18
    # g = 0.18 / 0.26**1.5
    # t_sa = sqrt(5) * (S + g S^2 / 3 + g / 30)
    s = 0.2 / math.sqrt(0.325)
    g = 0.18 / 0.26**1.5
    expected = math.sqrt(5) * (s + g * s**2 / 3 + g / 30)
    res = skewness_adjusted_t(SMALL)
    assert isinstance(res, TestResult)
    assert res.name == "t_sa"
    assert float(res.stat) == pytest.approx(expected, rel=1e-12)
    assert float(res.extra["skew"]) == pytest.approx(stats.skew(SMALL), rel=1e-12)
    assert float(res.extra["skew"]) == pytest.approx(g, rel=1e-12)
    assert float(res.extra["S"]) == pytest.approx(s, rel=1e-12)
    assert float(res.pvalue) == pytest.approx(2 * stats.t.sf(abs(expected), 4), rel=1e-10)
    assert int(res.n) == 5


def test_conventional_t_is_scipy_ttest():
    res = bhar_t(SMALL)
    ref = stats.ttest_1samp(SMALL, 0.0)
    assert float(res.stat) == pytest.approx(ref.statistic, rel=1e-12)
    assert float(res.pvalue) == pytest.approx(ref.pvalue, rel=1e-12)
    assert res.dist_label() == "t(4)"
    greater = bhar_t(SMALL, Alternative.greater)
    assert float(greater.pvalue) == pytest.approx(
        stats.ttest_1samp(SMALL, 0.0, alternative="greater").pvalue, rel=1e-12)


def test_symmetric_sample_needs_no_adjustment():
    x = np.array([-0.3, -0.1, 0.05, 0.2, 0.4, 0.05, -0.1, 0.3])
    x = np.concatenate([x, 0.2 - (x - 0.2)])  # symmetric around 0.2: g = 0
    assert stats.skew(x) == pytest.approx(0.0, abs=1e-12)
    assert float(skewness_adjusted_t(x).stat) == pytest.approx(float(bhar_t(x).stat),
                                                               rel=1e-10)


def test_columns_and_missing_values_are_separate_windows():
    rng = np.random.default_rng(3)
    x = rng.lognormal(0, 0.7, size=(40, 3)) - 1.2
    x[5, 1] = np.nan
    res = skewness_adjusted_t(x)
    assert res.stat.shape == (3,)
    for j in range(3):
        col = x[:, j][np.isfinite(x[:, j])]
        assert res.stat[j] == pytest.approx(float(skewness_adjusted_t(col).stat), rel=1e-12)
        assert res.n[j] == col.size


def test_too_few_events_is_an_invalid_statistic_not_an_error():
    res = skewness_adjusted_t(np.array([0.1, 0.2]))
    assert np.isnan(res.stat) and res.reason == "fewer than 3 events"
    flat = skewness_adjusted_t(np.array([0.1, 0.1, 0.1]))
    assert flat.reason == "zero cross-sectional variance"
    boot = bootstrapped_skewness_adjusted_t(np.linspace(-0.1, 0.5, 7))
    assert np.isnan(boot.pvalue) and "n/4" in str(boot.reason)


def _by_hand_bootstrap(x, n_boot, seed):
    """An independent loop: LBT resamples of n/4 centred values, t_sa of each."""
    v = np.sort(x) - np.mean(x)
    n_b = len(x) // 4
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, n_b))
    out = []
    for row in idx:
        s = v[row]
        sd = np.std(s, ddof=1)
        S = s.mean() / sd
        g = stats.skew(s)
        out.append(math.sqrt(n_b) * (S + g * S**2 / 3 + g / (6 * n_b)))
    return np.array(out)


def test_bootstrap_is_seeded_reproducible_and_matches_a_loop():
    rng = np.random.default_rng(11)
    x = rng.lognormal(0.0, 0.9, size=60) - 1.5  # right-skewed, mean near zero
    a = bootstrapped_skewness_adjusted_t(x, n_boot=999, seed=7)
    b = bootstrapped_skewness_adjusted_t(x[::-1].copy(), n_boot=999, seed=7)
    assert float(a.pvalue) == float(b.pvalue)  # same seed, any event order: same p
    c = bootstrapped_skewness_adjusted_t(x, n_boot=999, seed=8)
    assert float(c.pvalue) != float(a.pvalue) or float(c.extra["lo"]) != float(a.extra["lo"])
    draws = _by_hand_bootstrap(x, 999, 7)
    np.testing.assert_allclose(bootstrap_t_sa(x, 999, 7), draws, rtol=1e-10)
    t_sa = float(skewness_adjusted_t(x).stat)
    assert float(a.stat) == pytest.approx(t_sa)
    p_hi = (1 + (draws >= t_sa).sum()) / 1000
    p_lo = (1 + (draws <= t_sa).sum()) / 1000
    assert float(a.pvalue) == pytest.approx(min(1.0, 2 * min(p_hi, p_lo)))
    assert float(a.extra["lo"]) == pytest.approx(np.quantile(draws, 0.025))
    assert float(a.extra["hi"]) == pytest.approx(np.quantile(draws, 0.975))
    assert int(a.extra["n_b"]) == 15
    greater = bootstrapped_skewness_adjusted_t(x, n_boot=999, seed=7,
                                               alternative="greater")
    assert float(greater.pvalue) == pytest.approx(p_hi)


def test_bootstrap_rejects_a_clear_effect_and_not_a_null():
    rng = np.random.default_rng(5)
    null = rng.lognormal(0.0, 0.8, size=200)
    null = null - null.mean()
    assert float(bootstrapped_skewness_adjusted_t(null, seed=1).pvalue) > 0.5
    shifted = null + 0.4
    assert float(bootstrapped_skewness_adjusted_t(shifted, seed=1).pvalue) < 0.01


def test_battery_returns_all_three():
    out = long_horizon_tests(SMALL, n_boot=0)
    assert set(out) == {"bhar_t", "t_sa", "t_sa_boot"}
    assert "switched off" in str(out["t_sa_boot"].reason)
