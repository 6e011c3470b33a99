"""Residual diagnostics, pre-event trend, group differences and adjusted p-values, each
against an independent reference: statsmodels or scipy on the same numbers, or by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.diagnostic import acorr_ljungbox, het_arch
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.stattools import jarque_bera

from marketreact.inference.groups import bootstrap_difference, group_differences
from marketreact.inference.multiple import adjust_pvalues, adjust_tables
from marketreact.models.diagnostics import (
    pretrend_test,
    residual_diagnostics,
    zero_return_share,
)


def test_residual_diagnostics_match_statsmodels() -> None:
    rng = np.random.default_rng(11)
    x = rng.standard_t(4, size=(6, 240))
    x[1, 10:30] = np.nan  # missing sessions: the finite values are taken in order
    x[2, 200:] = np.nan
    x[3] = x[3] * np.sqrt(0.5 + 0.5 * np.roll(x[3], 1) ** 2)  # some ARCH
    x[4, :] = np.nan
    x[4, :40] = rng.normal(size=40)  # 40 residuals: 8 Ljung-Box lags, 5 ARCH lags
    got = residual_diagnostics(x)
    for i in (0, 1, 2, 3, 4):
        r = x[i][np.isfinite(x[i])]
        jb, jb_p, _, _ = jarque_bera(r)
        lags = min(10, len(r) // 5)
        lb = acorr_ljungbox(r, lags=[lags])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            lm, lm_p, _, _ = het_arch(r, nlags=5)
        row = got.iloc[i]
        assert row["n_residuals"] == len(r) and row["ljung_box_lags"] == lags
        assert row["jarque_bera"] == pytest.approx(jb, rel=1e-10)
        assert row["jarque_bera_p"] == pytest.approx(jb_p, rel=1e-8, abs=1e-300)
        assert row["ljung_box"] == pytest.approx(lb["lb_stat"].iloc[0], rel=1e-10)
        assert row["ljung_box_p"] == pytest.approx(lb["lb_pvalue"].iloc[0], rel=1e-8)
        assert row["arch_lm"] == pytest.approx(lm, rel=1e-8)
        assert row["arch_lm_p"] == pytest.approx(lm_p, rel=1e-6)


def test_residual_diagnostics_of_too_few_or_constant_residuals_are_nan() -> None:
    x = np.full((2, 30), np.nan)
    x[0, :3] = [0.1, -0.1, 0.2]  # three: JB yes, no lags (3 // 5 = 0)
    x[1, :] = 0.0  # constant
    got = residual_diagnostics(x)
    assert np.isfinite(got.loc[0, "jarque_bera"]) and np.isnan(got.loc[0, "ljung_box"])
    assert got.loc[1, ["jarque_bera", "ljung_box", "arch_lm"]].isna().all()


def test_zero_return_share_by_hand() -> None:
    r = np.array([[0.0, 0.0, 0.01, np.nan], [np.nan] * 4])
    share = zero_return_share(r)
    assert share[0] == pytest.approx(2 / 3) and np.isnan(share[1])


def test_pretrend_test_by_hand() -> None:
    rng = np.random.default_rng(5)
    rel = np.arange(-3, 3)
    ar = rng.normal(0.001, 0.02, size=(12, 6))
    var = np.full((12, 6), 0.02**2)
    ar[0, 1] = np.nan  # event 0 lacks day -2: out of Hotelling, still in the chi2 of day -2
    pt = pretrend_test(rel, ar, var)
    # Hotelling by hand on the 11 complete events, days -3, -2, -1
    a = ar[1:, :3]
    n, k = a.shape
    m = a.sum(axis=0) / n
    dev = a - m
    s = dev.T @ dev / (n - 1)
    t2 = n * m @ np.linalg.inv(s) @ m
    f = (n - k) / (k * (n - 1)) * t2
    assert pt.days == (-3, -2, -1) and pt.n == 11
    assert pt.hotelling_f == pytest.approx(f, rel=1e-10)
    assert pt.hotelling_p == pytest.approx(stats.f.sf(f, 3, 8), rel=1e-10)
    # chi2: z_t = sum_i SAR_it / sqrt(N_t)
    z = [np.nansum(ar[:, j] / 0.02) / np.sqrt(np.isfinite(ar[:, j]).sum()) for j in range(3)]
    assert pt.chi2 == pytest.approx(sum(v**2 for v in z), rel=1e-10)
    assert pt.chi2_p == pytest.approx(stats.chi2.sf(pt.chi2, 3), rel=1e-10)


def test_pretrend_needs_more_events_than_days() -> None:
    pt = pretrend_test(np.arange(-3, 2), np.ones((3, 5)), np.ones((3, 5)))
    assert np.isnan(pt.hotelling_f) and "more events" in pt.reason


def test_group_differences_match_scipy() -> None:
    rng = np.random.default_rng(2)
    car = rng.normal(0, 0.03, size=(30, 2))
    car[:12] += 0.02
    car[3, 1] = np.nan
    groups = np.array(["up"] * 12 + ["down"] * 18, dtype=object)
    d = group_differences(car, groups, ["[0,0]", "[-1,+1]"], n_boot=500, seed=4)
    assert list(d["group_a"]) == ["down", "down"] and list(d["group_b"]) == ["up", "up"]
    for j, row in d.iterrows():
        a = car[groups == "down", j]
        b = car[groups == "up", j]
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        w = stats.ttest_ind(a, b, equal_var=False)
        r = stats.ranksums(a, b)
        assert row["n_a"] == len(a) and row["n_b"] == len(b)
        assert row["difference"] == pytest.approx(a.mean() - b.mean())
        assert row["welch_t"] == pytest.approx(w.statistic) and row["welch_p"] == pytest.approx(
            w.pvalue)
        assert row["welch_df"] == pytest.approx(w.df)
        assert row["ranksum_z"] == pytest.approx(r.statistic)
        assert row["ranksum_p"] == pytest.approx(r.pvalue)
        assert row["boot_lo"] < row["difference"] < row["boot_hi"]


def test_bootstrap_difference_by_hand() -> None:
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([0.0, 1.0])
    lo, hi, p = bootstrap_difference(a, b, 4, np.random.default_rng(0))
    rng = np.random.default_rng(0)  # the same draws, written out
    ia = rng.integers(0, 3, size=(4, 3))
    ib = rng.integers(0, 2, size=(4, 2))
    star = a[ia].mean(axis=1) - b[ib].mean(axis=1)
    d = 2.0 - 0.5
    assert (lo, hi) == pytest.approx(tuple(np.quantile(star, [0.025, 0.975])))
    assert p == pytest.approx((1 + (np.abs(star - d) >= d).sum()) / 5)


@pytest.mark.parametrize(("ours", "theirs"), [("holm", "holm"), ("bh", "fdr_bh")])
def test_adjusted_pvalues_match_multipletests(ours: str, theirs: str) -> None:
    p = np.array([0.001, 0.2, np.nan, 0.03, 0.04, 0.5])
    got = adjust_pvalues(p, ours)
    ref = multipletests(p[np.isfinite(p)], method=theirs)[1]
    assert np.isnan(got[2])
    np.testing.assert_allclose(got[np.isfinite(p)], ref, rtol=1e-12)


def test_adjust_tables_one_family_per_test_over_days_and_windows() -> None:
    aar = pd.DataFrame({"rel_day": [-1, 0, 1], "t": [1.0, 3.0, 0.5], "p": [0.3, 0.002, 0.6],
                        "sign": [0.0, 0.0, 0.0], "sign_p": [0.5, 0.01, 0.9]})
    agg = pd.DataFrame({"window": ["[0,0]"], "t": [3.0], "p": [0.002], "sign": [0.0],
                        "sign_p": [0.04]})
    a, g = adjust_tables(aar, agg, "holm")
    ref = multipletests([0.3, 0.002, 0.6, 0.002], method="holm")[1]
    np.testing.assert_allclose([*a["p_adj"], *g["p_adj"]], ref)
    ref = multipletests([0.5, 0.01, 0.9, 0.04], method="holm")[1]
    np.testing.assert_allclose([*a["sign_p_adj"], *g["sign_p_adj"]], ref)
    assert list(a.columns).index("p_adj") == list(a.columns).index("p") + 1
    same = adjust_tables(aar, agg, "none")
    assert same[0] is aar
