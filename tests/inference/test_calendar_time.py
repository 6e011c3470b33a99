"""Calendar-time portfolios against a direct statsmodels regression on a portfolio built here.

Reference: the portfolio series is rebuilt in the test with a plain loop over dates (the
firms whose day 0 is 0..H periods back), then regressed with statsmodels OLS and HAC errors;
the library must give the same alpha, standard error and series. Data: a panel the test
builds, and the real US prices with the Fama-French daily factors (mag-7 first news).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from marketreact.inference.calendar_time import (
    calendar_time_portfolio,
    membership,
    newey_west_lags,
)

SHARED = Path("/work/shared/data")


def _panel(seed: int = 0, t: int = 400, n: int = 12):
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=t)
    fac = pd.DataFrame({"Mkt-RF": rng.normal(0.0004, 0.01, t),
                        "SMB": rng.normal(0, 0.005, t), "HML": rng.normal(0, 0.005, t),
                        "RF": np.full(t, 0.0001)}, index=dates)
    beta = rng.uniform(0.5, 1.5, n)
    noise = rng.normal(0, 0.02, (t, n))
    rets = pd.DataFrame(0.0001 + fac["Mkt-RF"].to_numpy()[:, None] * beta + noise,
                        index=dates, columns=[f"T{i}" for i in range(n)])
    rets.iloc[50:60, 3] = np.nan  # a gap in one stock
    events = pd.DataFrame({"ticker": [f"T{i % n}" for i in range(20)],
                           "day0": [dates[int(d)] for d in rng.integers(0, t - 20, 20)]})
    events.loc[19] = ["T0", events.loc[0, "day0"] + pd.Timedelta(days=3)]  # overlap
    caps = pd.DataFrame(rng.uniform(1, 10, (t, n)), index=dates, columns=rets.columns)
    return events, rets, fac, caps


def _loop_portfolio(events, rets, horizon, caps=None):
    """Independent construction: for each date, the members and their (lagged) weights."""
    idx = rets.index
    day0 = {}
    for _, e in events.iterrows():
        day0.setdefault(e.ticker, []).append(idx.searchsorted(e.day0))
    out, firms = [], []
    for t in range(len(idx)):
        members = [k for k, starts in day0.items()
                   if any(p <= t <= p + horizon for p in starts) and np.isfinite(rets.iloc[t][k])]
        if caps is not None:
            members = [k for k in members if t > 0]
            w = np.array([caps.iloc[t - 1][k] for k in members], float)
        else:
            w = np.ones(len(members))
        firms.append(len(members))
        out.append(np.dot(w, rets.iloc[t][members].to_numpy(float)) / w.sum()
                   if members else np.nan)
    return pd.Series(out, index=idx), pd.Series(firms, index=idx)


def _direct(port, fac, cols, lags):
    y = (port - fac["RF"]).dropna()
    x = sm.add_constant(fac.loc[y.index, cols])
    return sm.OLS(y, x).fit(cov_type="HAC", cov_kwds={"maxlags": lags})


@pytest.mark.parametrize("model,cols", [("market", ["Mkt-RF"]),
                                        ("ff3", ["Mkt-RF", "SMB", "HML"])])
def test_equal_weighted_matches_direct_statsmodels(model, cols):
    events, rets, fac, _ = _panel()
    res = calendar_time_portfolio(events, rets, fac, 30, model=model, hac_lags=5)
    port, firms = _loop_portfolio(events, rets, 30)
    ref = _direct(port, fac, cols, 5)
    assert res.n_periods == int(ref.nobs)
    assert res.alpha == pytest.approx(ref.params["const"], rel=1e-10, abs=1e-14)
    assert res.alpha_se == pytest.approx(ref.bse["const"], rel=1e-10)
    assert res.alpha_t == pytest.approx(ref.tvalues["const"], rel=1e-10)
    assert res.alpha_p == pytest.approx(ref.pvalues["const"], rel=1e-9)
    np.testing.assert_allclose(res.betas.to_numpy(), ref.params.iloc[1:].to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(res.portfolio["ret"].to_numpy(), port.to_numpy(), rtol=1e-12)
    assert (res.portfolio["n_firms"].to_numpy() == firms.to_numpy()).all()
    assert res.mean_firms == pytest.approx(firms[firms > 0].mean())
    frame = res.to_frame()
    assert list(frame.index) == ["alpha", *[c.lower().replace("-", "_") for c in cols]]
    assert "alpha" in res.summary() and "Calendar-time" in str(res)


def test_value_weighted_uses_previous_period_weights():
    events, rets, fac, caps = _panel(seed=1)
    res = calendar_time_portfolio(events, rets, fac, 20, model="market", weighting="value",
                                  weights=caps, hac_lags=3)
    port, _ = _loop_portfolio(events, rets, 20, caps=caps)
    np.testing.assert_allclose(res.portfolio["ret"].to_numpy(), port.to_numpy(), rtol=1e-12)
    ref = _direct(port, fac, ["Mkt-RF"], 3)
    assert res.alpha == pytest.approx(ref.params["const"], rel=1e-10, abs=1e-14)
    assert res.alpha_se == pytest.approx(ref.bse["const"], rel=1e-10)


def test_standardised_variant_is_wls_on_estimation_sd():
    events, rets, fac, _ = _panel(seed=2, t=600)
    events = events[events["day0"] >= rets.index[300]]  # leave room for the estimation
    h, k = 20, 100
    res = calendar_time_portfolio(events, rets, fac, h, model="market", standardise=True,
                                  estimation=k, hac_lags=2)
    port, _ = _loop_portfolio(events, rets, h)
    # the SD of each period's equal-weighted portfolio over [t-H-K, t-H-1], by a loop
    act, _ = membership(events, rets, h)
    sig = pd.Series(np.nan, index=rets.index)
    for t in range(len(rets)):
        members = [c for c in rets.columns if act.iloc[t][c] and np.isfinite(rets.iloc[t][c])]
        if members and t - h - k >= 0:
            hist = rets.iloc[t - h - k:t - h][members].mean(axis=1, skipna=True).dropna()
            sig.iloc[t] = hist.std(ddof=1)
    np.testing.assert_allclose(res.portfolio["sigma"].to_numpy(), sig.to_numpy(), rtol=1e-10)
    y = (port - fac["RF"])
    ok = y.notna() & sig.notna()
    wls = sm.WLS(y[ok], sm.add_constant(fac.loc[ok, ["Mkt-RF"]]),
                 weights=1 / sig[ok] ** 2).fit(cov_type="HAC", cov_kwds={"maxlags": 2})
    assert res.alpha == pytest.approx(wls.params["const"], rel=1e-9)
    assert res.alpha_se == pytest.approx(wls.bse["const"], rel=1e-9)


def test_membership_window_is_zero_to_h_inclusive():
    dates = pd.bdate_range("2021-01-04", periods=10)
    rets = pd.DataFrame(0.01, index=dates, columns=["A", "B"])
    ev = pd.DataFrame({"ticker": ["A", "C"], "day0": [dates[2], dates[1]]})
    act, notes = membership(ev, rets, 3)
    assert act["A"].to_numpy().nonzero()[0].tolist() == [2, 3, 4, 5]
    assert not act["B"].any()
    assert notes and "C" in notes[0]
    assert newey_west_lags(100) == 4


def _first_news():
    news = pd.read_csv(SHARED / "news" / "mag7_news.csv")
    when = pd.to_datetime(news["datetime"]).dt.tz_localize("UTC").dt.tz_convert(
        "America/New_York")
    first = news.assign(when=when).groupby("ticker")["when"].min()
    # after the 16:00 close the news belongs to the next session
    day = first.dt.normalize().dt.tz_localize(None) + pd.to_timedelta(
        (first.dt.hour >= 16).astype(int), unit="D")
    return pd.DataFrame({"ticker": first.index, "day0": day.to_numpy()})


@pytest.mark.skipif(not (SHARED / "news").is_dir(), reason="shared data absent")
def test_mag7_first_news_on_real_data():
    from marketreact.inference.long_horizon import long_horizon_tests
    from marketreact.prices.factors import read_factors

    events = _first_news()
    tickers = [*events["ticker"], "SPY"]
    px = pd.concat({t: pd.read_csv(SHARED / "prices" / "us" / f"{t}.csv", index_col="Date",
                                   parse_dates=True)["Close"] for t in tickers}, axis=1)
    rets = px.pct_change().loc["2022-01-01":"2025-12-31"]
    fac = read_factors(SHARED / "factors" / "F-F_Research_Data_Factors_daily.CSV")
    stocks = rets[list(events["ticker"])]
    res = calendar_time_portfolio(events, stocks, fac, 251, model="ff3")
    port, _ = _loop_portfolio(events, stocks, 251)
    f = fac.rename(columns={"mkt_rf": "Mkt-RF", "smb": "SMB", "hml": "HML", "rf": "RF"})
    ref = _direct(port.loc[f.index.intersection(port.index)],
                  f, ["Mkt-RF", "SMB", "HML"], res.hac_lags)
    assert res.alpha == pytest.approx(ref.params["const"], rel=1e-9)
    assert res.alpha_t == pytest.approx(ref.tvalues["const"], rel=1e-9)
    assert res.n_periods == int(ref.nobs) == 221  # 2023-11-13 .. 2024-09-30 (factors end)
    assert res.betas["mkt_rf"] > 1.2  # mag-7 are high-beta
    # 12-month (252-session) BHAR against SPY, by a loop, and its tests
    bhar = []
    for _, e in events.iterrows():
        seg = rets.iloc[rets.index.searchsorted(e.day0):][:252]
        bhar.append((1 + seg[e.ticker]).prod() - (1 + seg["SPY"]).prod())
    tests = long_horizon_tests(np.array(bhar))
    assert float(tests["bhar_t"].stat) == pytest.approx(1.0831, abs=1e-3)
    assert float(tests["t_sa"].stat) == pytest.approx(1.4341, abs=1e-3)
    assert not tests["t_sa_boot"].valid  # 7 events: n/4 < 3, no bootstrap
