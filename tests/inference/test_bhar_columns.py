"""The mean-BHAR test columns of aggregate.csv (conventional t, Lyon-Barber-Tsai 1999
skewness-adjusted t and its bootstrap), against scipy and a direct numpy implementation
of the LBT bootstrap (one draw of every resample at once)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from marketreact.inference import long_horizon
from marketreact.inference.long_horizon import (
    bhar_t,
    bhar_test_columns,
    bootstrap_t_sa,
)
from marketreact.inference.parametric import cross_sectional_t


def _lbt_bootstrap_reference(x: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """LBT section III.B written out: n/4 draws of the centred, sorted BHARs."""
    v = np.sort(x)
    n, n_b = v.size, v.size // 4
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n_b))
    draws = (v - v.mean())[idx]
    out = []
    for d in draws:
        s = d.mean() / d.std(ddof=1)
        g = stats.skew(d)
        out.append(np.sqrt(n_b) * (s + g * s**2 / 3 + g / (6 * n_b)))
    return np.array(out)


def test_columns_against_scipy_and_the_written_out_bootstrap() -> None:
    rng = np.random.default_rng(3)
    bhar = np.c_[rng.lognormal(0, 0.6, 40) - 1.05, rng.normal(0.02, 0.1, 40)]
    bhar[5, 1] = np.nan
    cols = bhar_test_columns(bhar, n_boot=400, seed=11, prefix="bhar_ref")
    assert list(cols) == ["bhar_ref_t", "bhar_ref_t_p", "bhar_ref_tsa", "bhar_ref_tsa_p",
                          "bhar_ref_tsa_boot", "bhar_ref_tsa_boot_p"]
    for j in range(2):
        x = bhar[:, j][np.isfinite(bhar[:, j])]
        ref = stats.ttest_1samp(x, 0.0)
        assert cols["bhar_ref_t"][j] == pytest.approx(ref.statistic, rel=1e-12)
        assert cols["bhar_ref_t_p"][j] == pytest.approx(ref.pvalue, rel=1e-10)
        n, s, g = x.size, x.mean() / x.std(ddof=1), stats.skew(x)
        t_sa = np.sqrt(n) * (s + g * s**2 / 3 + g / (6 * n))
        assert cols["bhar_ref_tsa"][j] == pytest.approx(t_sa, rel=1e-12)
        assert cols["bhar_ref_tsa_boot"][j] == pytest.approx(t_sa, rel=1e-12)
        draws = _lbt_bootstrap_reference(x, 400, 11)
        greater = (1 + (draws >= t_sa).sum()) / 401
        less = (1 + (draws <= t_sa).sum()) / 401
        assert cols["bhar_ref_tsa_boot_p"][j] == pytest.approx(min(1.0, 2 * min(greater, less)),
                                                               rel=1e-12)


def test_bootstrap_in_blocks_draws_the_same_resamples(monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(0).standard_t(3, 101)
    whole = bootstrap_t_sa(x, 250, seed=5)
    np.testing.assert_allclose(whole, _lbt_bootstrap_reference(x, 250, 5), rtol=1e-10)
    monkeypatch.setattr(long_horizon, "_DRAW_ELEMENTS", 75)  # 3 resamples of 25 at a time
    np.testing.assert_array_equal(bootstrap_t_sa(x, 250, seed=5), whole)


def test_bhar_t_is_the_cross_sectional_t() -> None:
    """One implementation: the BHAR t is the study's cross-sectional t on the BHARs."""
    x = np.random.default_rng(1).normal(0.01, 0.2, (30, 3))
    a = bhar_t(x)
    b = cross_sectional_t(x)
    np.testing.assert_array_equal(a.stat, b.stat)
    assert a.name == "bhar_t" and "mean" in a.extra


def test_too_few_events_for_the_bootstrap() -> None:
    cols = bhar_test_columns(np.array([[0.1], [0.3], [-0.2], [0.05], [0.4], [0.0], [0.2]]),
                             n_boot=99)
    assert np.isfinite(cols["bhar_tsa"][0]) and np.isnan(cols["bhar_tsa_boot_p"][0])
