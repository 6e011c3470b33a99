"""``regress`` with cluster-robust errors by date, by firm and two-way (Cameron-Gelbach-Miller).

Reference: statsmodels' sandwich estimators called directly on the same OLS fit
(``statsmodels.stats.sandwich_covariance.cov_cluster`` and ``cov_cluster_2groups``,
which statsmodels verified against Petersen's published table), and the two-way formula
``V_date + V_firm - V_intersection`` written out by hand from ``cov_cluster``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats import sandwich_covariance as sw
from typer.testing import CliRunner

from marketreact.errors import InputError
from marketreact.inference.cross_section import cross_sectional


def _frames(seed: int = 0, n: int = 120) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    firms = np.array([f"F{k}" for k in range(12)])
    dates = pd.date_range("2024-01-01", periods=15, freq="B").strftime("%Y-%m-%d").to_numpy()
    fi, di = rng.integers(0, 12, n), rng.integers(0, 15, n)
    shock_f, shock_d = rng.normal(0, 0.01, 12), rng.normal(0, 0.01, 15)
    sentiment = rng.normal(0, 1, n)
    car = 0.002 + 0.003 * sentiment + shock_f[fi] + shock_d[di] + rng.normal(0, 0.01, n)
    ids = [f"e{k}" for k in range(n)]
    car_frame = pd.DataFrame({"event_id": ids, "window": "[-1,+1]", "car": car})
    events = pd.DataFrame({"event_id": ids, "ticker": firms[fi], "day0": dates[di],
                           "sentiment": sentiment})
    return car_frame, events


def _ols(car: pd.DataFrame, events: pd.DataFrame):  # type: ignore[no-untyped-def]
    data = car.merge(events, on="event_id")
    x = sm.add_constant(data["sentiment"].to_numpy())
    return sm.OLS(data["car"].to_numpy(), x).fit(), data


@pytest.mark.parametrize("cov, column", [("cluster-date", "day0"), ("cluster-firm", "ticker")])
def test_one_way_cluster_matches_statsmodels_sandwich(cov: str, column: str) -> None:
    car, events = _frames()
    res = cross_sectional(car, events, "car ~ sentiment", cov_type=cov)
    fit, data = _ols(car, events)
    codes = pd.factorize(data[column])[0]
    ref = sw.cov_cluster(fit, codes)
    np.testing.assert_allclose(res.table["coef"], fit.params, rtol=1e-10)
    np.testing.assert_allclose(res.table["se"], np.sqrt(np.diag(ref)), rtol=1e-10)
    g = len(np.unique(codes))
    assert res.n_clusters == (g,)
    t = fit.params / np.sqrt(np.diag(ref))
    np.testing.assert_allclose(res.table["t"], t, rtol=1e-10)
    from scipy import stats
    np.testing.assert_allclose(res.table["p"], 2 * stats.t.sf(np.abs(t), g - 1), rtol=1e-8)


def test_two_way_cluster_matches_cgm() -> None:
    car, events = _frames(seed=1)
    res = cross_sectional(car, events, "car ~ sentiment", cov_type="cluster-two-way")
    fit, data = _ols(car, events)
    g1 = pd.factorize(data["day0"])[0]
    g2 = pd.factorize(data["ticker"])[0]
    both, _, _ = sw.cov_cluster_2groups(fit, g1, g2)
    np.testing.assert_allclose(res.table["se"], np.sqrt(np.diag(both)), rtol=1e-10)
    # by hand: V = V_date + V_firm - V_(date x firm), each with its own correction
    inter = pd.factorize(pd.Series(g1).astype(str) + "_" + pd.Series(g2).astype(str))[0]
    hand = sw.cov_cluster(fit, g1) + sw.cov_cluster(fit, g2) - sw.cov_cluster(fit, inter)
    np.testing.assert_allclose(res.table["se"], np.sqrt(np.diag(hand)), rtol=1e-10)
    assert res.n_clusters == (len(set(g1)), len(set(g2)))


def test_hc3_unchanged_by_default() -> None:
    car, events = _frames()
    res = cross_sectional(car, events, "car ~ sentiment")
    fit, _ = _ols(car, events)
    np.testing.assert_allclose(res.table["se"], fit.get_robustcov_results("HC3").bse,
                               rtol=1e-10)
    assert res.cov_type == "HC3" and res.n_clusters == ()


def test_clusters_need_their_column_and_two_clusters() -> None:
    car, events = _frames()
    with pytest.raises(InputError, match="day0"):
        cross_sectional(car, events.drop(columns="day0"), "car ~ sentiment",
                        cov_type="cluster-date")
    with pytest.raises(InputError, match="at least 2 clusters"):
        cross_sectional(car, events.assign(ticker="AAA"), "car ~ sentiment",
                        cov_type="cluster-firm")
    with pytest.raises(InputError, match="unknown covariance"):
        cross_sectional(car, events, "car ~ sentiment", cov_type="cluster-sector")


def test_cli_cov_option(tmp_path: Path) -> None:
    from marketreact.cli.app import app

    car, events = _frames()
    car.to_csv(tmp_path / "car.csv", index=False)
    events.to_csv(tmp_path / "events.csv", index=False)
    runner = CliRunner()
    out = tmp_path / "reg.csv"
    r = runner.invoke(app, ["regress", str(tmp_path), "--formula", "car ~ sentiment",
                            "--cov", "cluster-two-way", "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    table = pd.read_csv(out)
    assert set(table["cov_type"]) == {"cluster-two-way"}
    bad = runner.invoke(app, ["regress", str(tmp_path), "--cov", "cluster-moon"])
    assert bad.exit_code == 2
    assert "--cov" in bad.output and "Traceback" not in bad.output
