"""The study engine on panels built in the test: failures, thin trading, settings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from marketreact import EventStudy, InputError, StudySettings, events_from_frame
from marketreact.calendar import exchange_sessions


def nyse_days(start: str, end: str) -> pd.DatetimeIndex:
    return exchange_sessions("XNYS", pd.Timestamp(start), pd.Timestamp(end)).labels


def frame_from_close(close: pd.Series, volume: float = 1e6) -> pd.DataFrame:
    return pd.DataFrame({"open": close, "high": close, "low": close, "close": close,
                         "adj_close": close, "volume": volume}, index=close.index)


@pytest.fixture(scope="module")
def synthetic_prices() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(7)
    days = nyse_days("2021-01-01", "2023-12-29")
    m = rng.normal(0.0003, 0.01, len(days))
    market = 100 * np.cumprod(1 + m)
    stock = 50 * np.cumprod(1 + 0.0002 + 1.3 * m + rng.normal(0, 0.015, len(days)))
    thin = stock.copy()
    out = {"MKT": frame_from_close(pd.Series(market, index=days)),
           "AAA": frame_from_close(pd.Series(stock, index=days))}
    thin_frame = frame_from_close(pd.Series(thin, index=days))
    gap_days = days[(days >= "2022-06-01") & (days <= "2022-09-30")][::7]
    thin_frame = thin_frame.drop(gap_days)  # a thinly traded stock misses every 7th session
    out["THIN"] = thin_frame
    out["LATE"] = frame_from_close(pd.Series(stock, index=days)).loc["2023-06-01":]
    return out


def catalogue(rows: list[dict[str, str]]):
    frame = pd.DataFrame(rows)
    frame["market"] = frame["market"].fillna("MKT") if "market" in frame else "MKT"
    return events_from_frame(frame)


def test_one_bad_event_never_sinks_the_study(synthetic_prices) -> None:
    cat = catalogue([
        {"event_id": "ok", "ticker": "AAA", "date": "2022-11-15", "timing": "intra"},
        {"event_id": "no-prices", "ticker": "ZZZ", "date": "2022-11-15", "timing": "intra"},
        {"event_id": "short-history", "ticker": "LATE", "date": "2023-09-15", "timing": "intra"},
        {"event_id": "too-late", "ticker": "AAA", "date": "2023-12-26", "timing": "intra"},
        {"event_id": "after-data", "ticker": "AAA", "date": "2024-06-03", "timing": "intra"},
        {"event_id": "too-early", "ticker": "AAA", "date": "2021-01-08", "timing": "intra"},
        {"event_id": "bad-market", "ticker": "AAA", "date": "2022-11-15", "timing": "intra",
         "market": "NOIDX"},
    ])
    res = EventStudy().fit(cat, synthetic_prices)
    assert res.events["event_id"].tolist() == ["ok"]
    reasons = res.failures.set_index("event_id")["reason"].to_dict()
    assert list(reasons) == ["no-prices", "short-history", "too-late", "after-data", "too-early",
                             "bad-market"]
    assert "no prices given for ZZZ" in reasons["no-prices"]
    assert "estimation returns" in reasons["short-history"] and "need 120" in reasons[
        "short-history"]
    assert "runs past the last stock price" in reasons["too-late"]
    assert "day 0 falls after the last" in reasons["after-data"]
    assert "starts before the first" in reasons["too-early"]
    assert "market NOIDX" in reasons["bad-market"]


def test_shorter_estimation_allowed_down_to_min(synthetic_prices) -> None:
    cat = catalogue([{"event_id": "late", "ticker": "LATE", "date": "2023-09-15",
                      "timing": "intra"}])
    res = EventStudy(min_estimation=60).fit(cat, synthetic_prices)
    assert res.events.loc[0, "n_estimation"] == (
        len(nyse_days("2023-06-01", "2023-09-15")) - 1 - 10 - 1)


def test_thin_trading_spans_are_left_out_of_estimation_and_flagged(synthetic_prices) -> None:
    cat = catalogue([{"event_id": "thin", "ticker": "THIN", "date": "2022-08-01",
                      "timing": "intra"}])
    res = EventStudy().fit(cat, synthetic_prices)
    row = res.events.iloc[0]
    assert row["spanning_returns"] > 0
    ar = res.abnormal_returns
    spanning = ar.loc[ar["span"] > 1]
    assert (spanning["span"] == 2).all()
    # Reference: statsmodels OLS on the one-session returns only (span-2 returns dropped).
    days = nyse_days("2021-01-01", "2023-12-29")
    px = synthetic_prices["THIN"]["adj_close"].reindex(days)
    mk = synthetic_prices["MKT"]["adj_close"].reindex(days)
    r, m = px.pct_change(fill_method=None), mk.pct_change(fill_method=None)
    t0 = days.get_loc(pd.Timestamp("2022-08-01"))
    est = pd.DataFrame({"r": r, "m": m}).iloc[t0 - 250:t0 - 10].dropna()
    assert row["n_estimation"] == len(est)
    ols = sm.OLS(est["r"], sm.add_constant(est["m"])).fit()
    assert row["alpha"] == pytest.approx(ols.params["const"], abs=1e-12)
    assert row["beta"] == pytest.approx(ols.params["m"], abs=1e-12)
    # A spanning AR's expectation covers both sessions: 2*alpha + beta*(m1 + m2).
    one = spanning.iloc[0]
    pos = days.get_loc(one["date"])
    two_day_market = m.iloc[pos - 1] + m.iloc[pos]
    assert one["market_return"] == pytest.approx(two_day_market, abs=1e-12)
    assert one["expected"] == pytest.approx(2 * ols.params["const"]
                                            + ols.params["m"] * two_day_market, abs=1e-12)
    assert one["return"] == pytest.approx(px.iloc[pos] / px.iloc[pos - 2] - 1, abs=1e-12)


def test_results_do_not_depend_on_event_order(synthetic_prices) -> None:
    rows = [{"event_id": f"e{i}", "ticker": t, "date": d, "timing": "intra"}
            for i, (t, d) in enumerate([("AAA", "2022-03-15"), ("THIN", "2022-08-01"),
                                        ("AAA", "2023-02-01"), ("AAA", "2022-11-15")])]
    a = EventStudy().fit(catalogue(rows), synthetic_prices)
    b = EventStudy().fit(catalogue(rows[::-1]), synthetic_prices)
    key = ["event_id", "window"]
    pd.testing.assert_frame_equal(a.car.sort_values(key).reset_index(drop=True),
                                  b.car.sort_values(key).reset_index(drop=True))
    pd.testing.assert_frame_equal(a.aggregate, b.aggregate)
    assert b.events["event_id"].tolist() == ["e3", "e2", "e1", "e0"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"estimation": (-250, -5), "window": (-10, 10)}, "overlaps"),
     ({"window": (5, -5)}, "inverted"),
     ({"car_windows": ((-20, 1),)}, "not inside"),
     ({"min_estimation": 500}, "exceeds")],
)
def test_bad_settings_are_refused(kwargs, message) -> None:
    with pytest.raises(InputError, match=message):
        StudySettings(**kwargs)


def test_chunks_give_the_same_numbers(synthetic_prices, monkeypatch) -> None:
    import marketreact.study.fit as study

    rows = [{"event_id": f"e{i}", "ticker": "AAA", "date": str(d.date()), "timing": "intra"}
            for i, d in enumerate(nyse_days("2022-02-01", "2022-03-01"))]
    whole = EventStudy().fit(catalogue(rows), synthetic_prices)
    monkeypatch.setattr(study, "CHUNK_EVENTS", 3)
    chunked = EventStudy().fit(catalogue(rows), synthetic_prices)
    pd.testing.assert_frame_equal(whole.car, chunked.car)
    np.testing.assert_array_equal(whole.arrays.ar, chunked.arrays.ar)


def test_a_frozen_price_fails_the_event_with_a_reason(synthetic_prices) -> None:
    # A stock stuck at a floor price (as DEWA.JK at 50 IDR) has no residual variance: no AR can be
    # standardised, so the event fails with the reason instead of giving infinite t statistics.
    days = synthetic_prices["AAA"].index
    frozen = frame_from_close(pd.Series(50.0, index=days))
    prices = {**synthetic_prices, "FLAT": frozen}
    cat = catalogue([{"event_id": "flat", "ticker": "FLAT", "date": "2022-11-15",
                      "timing": "intra", "market": "MKT"},
                     {"event_id": "ok", "ticker": "AAA", "date": "2022-11-15",
                      "timing": "intra", "market": "MKT"}])
    for model in ("constant-mean", "market-model"):
        res = EventStudy(model=model).fit(cat, prices)
        assert res.events["event_id"].tolist() == ["ok"]
        assert "zero residual variance" in res.failures.set_index("event_id").at["flat", "reason"]
