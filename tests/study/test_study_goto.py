"""The GoTo–TikTok study on real prices, checked against independent computations.

References
----------
* statsmodels OLS on returns built here directly from the raw CSV files with pandas (not with
  marketreact's panel): alpha, beta, sigma and every AR must agree to 1e-10.
* MacKinlay (1997), eq. (16)-(17): Var(CAR) = sigma^2 (L + iota' X* (X'X)^-1 X*' iota), computed
  here with numpy from the statsmodels fit.
* scipy.stats.ttest_1samp for the cross-sectional t of the CAAR.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from marketreact import EventStudy, ModelName, read_events
from marketreact.prices import CsvSource, PriceFetch, load_prices


def _goto_prices(prices_dir: Path, goto_events: Path) -> PriceFetch:
    """The GoTo catalogue's prices, loaded for the default windows ([-250, -11], [-10, 10])."""
    return load_prices(CsvSource(prices_dir), read_events(goto_events), before=250, after=10)


@pytest.fixture(scope="module")
def goto_result(prices_dir: Path, goto_events: Path):
    return EventStudy().fit(read_events(goto_events), _goto_prices(prices_dir, goto_events))


def independent_returns(prices_dir: Path) -> pd.DataFrame:
    """GOTO.JK and ^JKSE simple returns on the days ^JKSE traded, straight from the files."""
    goto = pd.read_csv(prices_dir / "idx" / "GOTO.JK.csv", parse_dates=["date"], index_col="date")
    jkse = pd.read_csv(prices_dir / "idx" / "JKSE.csv", parse_dates=["date"], index_col="date")
    jkse = jkse.loc["2022-01-01":"2024-12-31"]
    goto = goto.loc["2022-01-01":"2024-12-31"]
    # No filler rows in 2022-2023 for either series (PROVENANCE: GOTO's are in 2024).
    assert not ((goto["volume"] == 0) & (goto.index < "2024-01-01")).any()
    both = pd.DataFrame({"stock": goto["adj_close"], "market": jkse["adj_close"]}).dropna()
    return both.pct_change().dropna()


def test_market_model_matches_statsmodels_to_1e10(goto_result, prices_dir: Path) -> None:
    rets = independent_returns(prices_dir)
    t0 = rets.index.get_loc(pd.Timestamp("2023-12-11"))
    est = rets.iloc[t0 - 250:t0 - 10]
    assert len(est) == 240
    ols = sm.OLS(est["stock"], sm.add_constant(est["market"])).fit()
    ev = goto_result.events.set_index("event_id").loc["deal-GOTO"]
    assert ev["day0"] == pd.Timestamp("2023-12-11")
    assert ev["n_estimation"] == 240
    assert ev["alpha"] == pytest.approx(ols.params["const"], abs=1e-10)
    assert ev["beta"] == pytest.approx(ols.params["market"], abs=1e-10)
    assert ev["sigma"] == pytest.approx(np.sqrt(ols.scale), abs=1e-10)
    window = rets.iloc[t0 - 10:t0 + 11]
    expected_ar = window["stock"] - ols.predict(sm.add_constant(window["market"]))
    ours = goto_result.abnormal_returns.query("event_id == 'deal-GOTO'")
    assert ours["date"].tolist() == list(window.index)
    np.testing.assert_allclose(ours["ar"].to_numpy(), expected_ar.to_numpy(), rtol=0, atol=1e-10)
    # Day 0: GOTO closed 86 after 108 (-20.37%), ^JKSE 7,159.60 -> 7,088.79.
    day0 = ours.set_index("rel_day").loc[0]
    assert day0["return"] == pytest.approx(86 / 108 - 1, abs=1e-12)
    assert day0["market_return"] == pytest.approx(7088.79 / 7159.60 - 1, abs=2e-6)


def test_car_variance_includes_estimation_error(goto_result, prices_dir: Path) -> None:
    rets = independent_returns(prices_dir)
    t0 = rets.index.get_loc(pd.Timestamp("2023-12-11"))
    est = rets.iloc[t0 - 250:t0 - 10]
    X = sm.add_constant(est["market"]).to_numpy()
    ols = sm.OLS(est["stock"].to_numpy(), X).fit()
    window = rets.iloc[t0 - 1:t0 + 2]  # [-1, +1]
    Xs = np.column_stack([np.ones(3), window["market"].to_numpy()])
    ar = window["stock"].to_numpy() - Xs @ ols.params
    iota = np.ones(3)
    var = ols.scale * (3 + iota @ Xs @ np.linalg.inv(X.T @ X) @ Xs.T @ iota)
    row = goto_result.car.query("event_id == 'deal-GOTO' and window == '[-1,+1]'").iloc[0]
    assert row["car"] == pytest.approx(ar.sum(), abs=1e-12)
    assert row["car_se"] == pytest.approx(np.sqrt(var), abs=1e-12)
    assert row["car_t"] == pytest.approx(ar.sum() / np.sqrt(var), abs=1e-9)
    assert row["car_p"] == pytest.approx(2 * stats.t.sf(abs(ar.sum() / np.sqrt(var)), 238),
                                         abs=1e-12)
    bhar = np.prod(1 + window["stock"].to_numpy()) - np.prod(1 + Xs @ ols.params)
    assert row["bhar"] == pytest.approx(bhar, abs=1e-12)


def test_cross_sectional_t_matches_scipy(goto_result) -> None:
    cars = goto_result.car.query("window == '[-1,+1]'")["car"].to_numpy()
    ref = stats.ttest_1samp(cars, 0.0)
    agg = goto_result.aggregate.set_index("window").loc["[-1,+1]"]
    assert agg["n"] == 16
    assert agg["caar"] == pytest.approx(cars.mean(), abs=1e-15)
    assert agg["t"] == pytest.approx(ref.statistic, abs=1e-10)
    assert agg["p"] == pytest.approx(ref.pvalue, abs=1e-10)
    ar0 = goto_result.abnormal_returns.query("rel_day == 0")["ar"].to_numpy()
    aar0 = goto_result.aar.set_index("rel_day").loc[0]
    assert aar0["aar"] == pytest.approx(ar0.mean(), abs=1e-15)
    assert aar0["t"] == pytest.approx(stats.ttest_1samp(ar0, 0.0).statistic, abs=1e-10)


def test_day0_of_every_goto_event(goto_result) -> None:
    day0 = goto_result.events.set_index("event_id")["day0"].dt.strftime("%Y-%m-%d").to_dict()
    # 17:00 Jakarta on 2023-10-04 is after the IDX close but before the New York open.
    assert day0["shop-closure-GOTO"] == "2023-10-05"
    assert day0["shop-closure-SE"] == "2023-10-04"
    assert day0["agreement-GOTO"] == "2023-12-05"
    assert day0["agreement-SE"] == "2023-12-05"
    assert day0["deal-BELI"] == "2023-12-11"
    assert goto_result.failures.empty


def test_market_adjusted_and_constant_mean_by_hand(prices_dir: Path, goto_events: Path) -> None:
    rets = independent_returns(prices_dir)
    t0 = rets.index.get_loc(pd.Timestamp("2023-12-11"))
    est, evt = rets.iloc[t0 - 250:t0 - 10], rets.iloc[t0 - 10:t0 + 11]
    cat = read_events(goto_events)
    prices = _goto_prices(prices_dir, goto_events)
    adj = EventStudy(model=ModelName.market_adjusted).fit(cat, prices)
    ours = adj.abnormal_returns.query("event_id == 'deal-GOTO'")["ar"].to_numpy()
    np.testing.assert_allclose(ours, (evt["stock"] - evt["market"]).to_numpy(), atol=1e-14)
    sigma2 = ((est["stock"] - est["market"]) ** 2).sum() / 240  # k = 0 parameters estimated
    se0 = adj.abnormal_returns.query("event_id == 'deal-GOTO' and rel_day == 0")["ar_se"].iloc[0]
    assert se0 == pytest.approx(np.sqrt(sigma2), abs=1e-14)
    cm = EventStudy(model="constant-mean").fit(cat, prices)
    ours = cm.abnormal_returns.query("event_id == 'deal-GOTO'")["ar"].to_numpy()
    np.testing.assert_allclose(ours, (evt["stock"] - est["stock"].mean()).to_numpy(), atol=1e-14)
    # Var(AR) = s^2 (1 + 1/n) for the constant-mean model.
    s2 = est["stock"].var(ddof=1)
    se0 = cm.abnormal_returns.query("event_id == 'deal-GOTO' and rel_day == 0")["ar_se"].iloc[0]
    assert se0 == pytest.approx(np.sqrt(s2 * (1 + 1 / 240)), abs=1e-14)


def test_log_returns(prices_dir: Path, goto_events: Path) -> None:
    res = EventStudy(returns="log").fit(read_events(goto_events),
                                    _goto_prices(prices_dir, goto_events))
    day0 = res.abnormal_returns.query("event_id == 'deal-GOTO' and rel_day == 0").iloc[0]
    assert day0["return"] == pytest.approx(np.log(86 / 108), abs=1e-12)


def test_summary_and_frames(goto_result) -> None:
    text = str(goto_result)
    assert "market-model" in text and "[-1,+1]" in text and "events studied: 16" in text
    wide = goto_result.to_frame()
    assert wide.shape == (16, 4)
    with pytest.raises(AttributeError):
        goto_result.settings = None  # frozen
