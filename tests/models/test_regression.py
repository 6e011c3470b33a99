"""Event-study regressions: the dummy-variable regression and the cross-sectional one.

References: the vectorised engine (the dummy coefficients must equal its ARs to 1e-10);
statsmodels OLS/HAC on a design matrix built by hand in the test; the HC3 sandwich
written out by hand; the two-group means for a regression on a 0/1 dummy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from typer.testing import CliRunner

from marketreact import EventStudy, InputError, read_events
from marketreact.cli import app
from marketreact.inference.cross_section import cross_sectional
from marketreact.prices import CsvSource, PriceFetch, load_prices
from model_world import EST, WIN, build_world, one_event

TOL = 1e-10
runner = CliRunner()


@pytest.fixture(scope="module")
def world() -> dict:
    return build_world()


@pytest.fixture(scope="module")
def goto_source(prices_dir: Path, goto_events: Path) -> PriceFetch:
    """The GoTo catalogue's prices, loaded for the default windows ([-250, -11], [-10, 10])."""
    return load_prices(CsvSource(prices_dir), read_events(goto_events), before=250, after=10)


def assert_same(a, b) -> None:
    """Both results hold the same events, ARs, AR standard errors and CARs."""
    assert a.events["event_id"].tolist() == b.events["event_id"].tolist()
    for col in ("ar", "ar_se", "expected"):
        np.testing.assert_allclose(a.abnormal_returns[col], b.abnormal_returns[col],
                                   rtol=0, atol=TOL, err_msg=col)
    for col in ("car", "car_se"):
        np.testing.assert_allclose(a.car[col], b.car[col], rtol=0, atol=TOL, err_msg=col)
    for col in ("alpha", "beta", "sigma"):
        if col in a.events:
            np.testing.assert_allclose(a.events[col], b.events[col], rtol=0, atol=TOL)
    assert (a.events["df"] == b.events["df"]).all()


@pytest.mark.parametrize("model", ["market-model", "constant-mean"])
def test_dummy_regression_equals_the_vectorised_engine_on_goto(goto_events: Path, goto_source,
                                                               model: str) -> None:
    events = read_events(goto_events)
    fast = EventStudy(model=model).fit(events, goto_source)
    slow = EventStudy(model=model, method="regression").fit(events, goto_source)
    assert len(fast.events) == 16 and fast.failures.empty
    assert_same(fast, slow)
    ar = slow.abnormal_returns.set_index(["event_id", "rel_day"])["ar"]
    assert np.isfinite(ar.loc[("deal-GOTO", 0)])


def test_dummy_regression_equals_vectorised_with_factors_and_thin_trading(world) -> None:
    days = world["days"]
    i0 = world["i0"]
    thin = world["prices"]["AAA"].drop([days[i0 - 100], days[i0 + 2]])
    prices = {**world["prices"], "AAA": thin}
    kw = {"estimation": EST, "window": WIN, "car_windows": ((-1, 1), (0, 5), (-10, 10))}
    fast = EventStudy(model="ff5", **kw).fit(one_event(world), prices, world["factors"])
    slow = EventStudy(model="ff5", method="regression", **kw).fit(
        one_event(world), prices, world["factors"])
    assert fast.abnormal_returns["span"].max() == 2  # a spanning return in the event window
    assert_same(fast, slow)


def test_hac_errors_by_hand(world) -> None:
    """Newey-West: V(g) = Bartlett autocovariances of the residuals + X V_HAC(b) X'."""
    L = 5
    res = EventStudy(estimation=EST, window=WIN, car_windows=((-1, 1),), method="regression",
                     hac_lags=L).fit(one_event(world), world["prices"])
    i0 = world["i0"]
    est = np.arange(i0 + EST[0], i0 + EST[1] + 1)
    evt = np.arange(i0 + WIN[0], i0 + WIN[1] + 1)
    X_est = sm.add_constant(world["M"][est])
    fit = sm.OLS(world["R"][est], X_est).fit(cov_type="HAC", cov_kwds={"maxlags": L})
    e = fit.resid
    n, k = len(e), 2
    c = np.array([e[h:] @ e[:n - h] for h in range(L + 1)]) / (n - k)
    w = 1 - np.arange(L + 1) / (L + 1)
    lag = np.abs(np.subtract.outer(np.arange(21), np.arange(21)))
    cov_e = np.where(lag <= L, (w * c)[np.minimum(lag, L)], 0.0)
    X_evt = sm.add_constant(world["M"][evt])
    cov = cov_e + X_evt @ fit.cov_params() @ X_evt.T
    np.testing.assert_allclose(res.abnormal_returns["ar"],
                               world["R"][evt] - X_evt @ fit.params, atol=TOL)
    np.testing.assert_allclose(res.abnormal_returns["ar_se"], np.sqrt(np.diag(cov)), atol=TOL)
    ones = np.zeros(21)
    ones[9:12] = 1.0  # days -1, 0, +1
    assert res.car.loc[0, "car_se"] == pytest.approx(np.sqrt(ones @ cov @ ones), abs=TOL)
    # the same order as the OLS errors, but not the same numbers
    ols = EventStudy(estimation=EST, window=WIN, car_windows=((-1, 1),)).fit(
        one_event(world), world["prices"])
    ratio = res.abnormal_returns["ar_se"] / ols.abnormal_returns["ar_se"]
    assert ((ratio > 0.8) & (ratio < 1.25)).all() and not np.allclose(ratio, 1.0)


def test_regression_needs_an_ols_model() -> None:
    with pytest.raises(InputError, match="method regression needs a model estimated by OLS"):
        EventStudy(model="market-adjusted", method="regression")
    with pytest.raises(InputError, match="HAC"):
        EventStudy(hac_lags=3)


def test_cross_sectional_hc3_by_hand() -> None:
    rng = np.random.default_rng(3)
    n = 30
    x = rng.normal(size=n)
    size = rng.uniform(1, 5, n)
    car = 0.01 + 0.02 * x - 0.003 * size + rng.normal(0, 0.02, n) * (1 + np.abs(x))
    ids = [f"e{i}" for i in range(n)]
    car_table = pd.DataFrame({"event_id": ids * 2, "window": ["[0,0]"] * n + ["[-1,+1]"] * n,
                              "car": np.r_[car, car + 1.0], "df": 100})
    events = pd.DataFrame({"event_id": ids, "sentiment": x, "size": size, "df": 99})
    res = cross_sectional(car_table, events, "car ~ sentiment + size", window="-1:1")
    assert res.window == "[-1,+1]" and res.nobs == n
    X = np.column_stack([np.ones(n), x, size])
    yv = car + 1.0
    xtx_inv = np.linalg.inv(X.T @ X)
    beta = xtx_inv @ X.T @ yv
    e = yv - X @ beta
    h = np.einsum("ij,jk,ik->i", X, xtx_inv, X)
    meat = X.T @ (X * (e**2 / (1 - h) ** 2)[:, None])
    se = np.sqrt(np.diag(xtx_inv @ meat @ xtx_inv))
    table = res.table.set_index("term")
    np.testing.assert_allclose(table.loc[["Intercept", "sentiment", "size"], "coef"], beta,
                               atol=1e-12)
    np.testing.assert_allclose(table.loc[["Intercept", "sentiment", "size"], "se"], se,
                               atol=1e-12)
    assert "HC3" in res.summary()
    with pytest.raises(InputError, match="not in the results"):
        cross_sectional(car_table, events, "car ~ sentiment", window="-5:5")
    with pytest.raises(InputError, match="cannot be used"):
        cross_sectional(car_table, events, "car ~ nothere")


def test_regress_command_on_the_goto_results(tmp_path: Path, goto_events: Path,
                                             prices_dir: Path) -> None:
    out = tmp_path / "goto"
    res = runner.invoke(app, ["study", str(goto_events), "--prices", f"csv:{prices_dir}",
                              "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["regress", str(out), "--formula", "car ~ is_goto",
                              "--window", "0:1"])
    assert res.exit_code == 0, res.output
    assert "OLS Regression Results" in res.output or "CAR[0,+1]" in res.output
    table = pd.read_csv(out / "regression.csv").set_index("term")
    # a regression on a 0/1 dummy: intercept = mean CAR of the others, slope = difference
    car = pd.read_csv(out / "car.csv").query("window == '[0,+1]'").set_index("event_id")["car"]
    goto = car[[e for e in car.index if e.endswith("-GOTO")]]
    others = car.drop(goto.index)
    assert table.loc["Intercept", "coef"] == pytest.approx(others.mean(), abs=1e-12)
    assert table.loc["is_goto", "coef"] == pytest.approx(goto.mean() - others.mean(), abs=1e-12)
    assert table.loc["is_goto", "nobs"] == 16
    res = runner.invoke(app, ["regress", str(out), "--formula", "car ~ C(news)", "-o",
                              str(tmp_path / "news.csv"), "-q"])
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(tmp_path / "news.csv")) == 4  # intercept + 3 news kinds
    bad = runner.invoke(app, ["regress", str(out), "--window", "-7:7"])
    assert bad.exit_code == 2 and "not in the results" in bad.output
    missing = runner.invoke(app, ["regress", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "file not found" in missing.output
