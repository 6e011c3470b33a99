"""The backtest engine against hand computations, statsmodels and pandas on the same numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from _backtest_data import et, frame, random_walk, xnys_labels
from marketreact.backtest.fills import entry_sessions, next_valid
from marketreact.backtest.placebo import placebo_entries
from marketreact.backtest.portfolio import portfolio_daily
from marketreact.backtest.run import Backtest
from marketreact.backtest.settings import (
    BacktestSettings,
    EntryRule,
    HedgeMode,
    SignalMode,
    SignalSpec,
)
from marketreact.calendar import exchange_sessions, session_opens
from marketreact.errors import InputError

LABELS = xnys_labels("2024-01-02", "2024-03-28")
T = len(LABELS)
t = np.arange(T, dtype=float)


def linear_frames() -> dict[str, pd.DataFrame]:
    """AAA closes 100 + t (open = close - 0.5); BBB closes 200 - t (open = close + 1);
    MKT closes 50 + 0.1 t (open = close - 0.05). Session t=0 is 2024-01-02."""
    return {
        "AAA": frame(LABELS, 100 + t, 100 + t - 0.5),
        "BBB": frame(LABELS, 200 - t, 200 - t + 1),
        "MKT": frame(LABELS, 50 + 0.1 * t, 50 + 0.1 * t - 0.05),
    }


def events(rows: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows)


BASE = [
    # intraday report on 2024-01-03 (t=1): next open is 01-04 (t=2), close entry is t=1's close
    {"event_id": "E1", "ticker": "AAA", "timestamp": et("2024-01-03 15:00"), "sentiment": 0.6},
    # pre-open report on 2024-01-04 (t=2): next-open fills at that day's open
    {"event_id": "E2", "ticker": "BBB", "timestamp": et("2024-01-04 08:00"), "sentiment": -0.3},
    # neutral: not traded
    {"event_id": "E3", "ticker": "AAA", "timestamp": et("2024-01-05 10:00"), "sentiment": 0.0},
    # no prices at all
    {"event_id": "E4", "ticker": "ZZZ", "timestamp": et("2024-01-05 10:00"), "sentiment": 0.9},
]


def settings(**kw: object) -> BacktestSettings:
    base: dict[str, object] = {"entry": EntryRule.next_open, "hold": 2, "market": "MKT",
                               "placebo_draws": 0}
    base.update(kw)
    return BacktestSettings(**base)  # type: ignore[arg-type]


def test_next_open_trades_daily_and_costs_by_hand() -> None:
    res = Backtest(settings(cost_bps=10)).run(events(BASE), linear_frames())
    tr = res.trades.set_index("event_id")
    assert list(tr.index) == ["E1", "E2"]
    assert res.metrics["events_not_traded"] == 1
    assert list(res.failures["event_id"]) == ["E4"]
    # E1: long AAA at the open of t=2 (101.5), out at the close of t=3 (103)
    e1 = tr.loc["E1"]
    assert (str(e1.entry_date.date()), e1.entry_kind, e1.entry_price) == ("2024-01-04", "open",
                                                                          101.5)
    assert (str(e1.exit_date.date()), e1.exit_price) == ("2024-01-05", 103.0)
    assert e1.gross_return == pytest.approx(103 / 101.5 - 1)
    assert e1.net_return == pytest.approx(103 / 101.5 - 1 - 2 * 0.001)
    # E2: short BBB at the open of t=2 (199), out at the close of t=3 (197)
    e2 = tr.loc["E2"]
    assert (str(e2.entry_date.date()), e2.entry_price, e2.exit_price) == ("2024-01-04", 199, 197)
    assert e2.gross_return == pytest.approx(-(197 / 199 - 1))
    # Daily: grid 01-03 (start), 01-04, 01-05; both held on t=2 and t=3 with weight 1/2 each.
    d = res.daily
    assert [str(x.date()) for x in d["date"]] == ["2024-01-03", "2024-01-04", "2024-01-05"]
    g2 = ((102 / 101.5 - 1) - (198 / 199 - 1)) / 2
    g3 = ((103 / 102 - 1) - (197 / 198 - 1)) / 2
    # turnover: day 2 buys 1/2 + 1/2 at the open; day 3 sells 1/2 + 1/2 at the close
    np.testing.assert_allclose(d["turnover"], [0, 1, 1])
    # the open's cost is paid at the open, so day 2's open-to-close return applies to
    # equity net of it: (1 - 0.001)(1 + g2); day 3's exit cost comes off at the close
    r2 = (1 - 0.001) * (1 + g2) - 1
    np.testing.assert_allclose(d["return"], [0, r2, g3 - 0.001])
    np.testing.assert_allclose(d["equity"], [1, 1 + r2, (1 + r2) * (1 + g3 - 0.001)])
    np.testing.assert_array_equal(d["open_rebalance"], [False, True, False])
    np.testing.assert_array_equal(d["n_positions"], [0, 2, 2])
    np.testing.assert_allclose(d["exposure"], [0, 1, 1])
    np.testing.assert_allclose(d["net_exposure"], [0, 0, 0])
    assert res.metrics["costs_paid"] == pytest.approx(0.001 * (1 + g2) + 0.001)
    assert res.metrics["hit_rate"] == pytest.approx(1.0)


def test_close_entry_by_hand() -> None:
    res = Backtest(settings(entry=EntryRule.close)).run(events(BASE), linear_frames())
    tr = res.trades.set_index("event_id")
    # E1 intraday on t=1: the close of t=1 (101), out two sessions later at t=3 (103)
    assert (tr.loc["E1", "entry_kind"], tr.loc["E1", "entry_price"],
            tr.loc["E1", "exit_price"]) == ("close", 101, 103)
    # E2 pre-open on t=2: the close of t=2 (198), out at t=4 (196)
    assert (tr.loc["E2", "entry_price"], tr.loc["E2", "exit_price"]) == (198, 196)
    assert tr.loc["E2", "gross_return"] == pytest.approx(-(196 / 198 - 1))


def test_market_hedge_with_and_without_market_opens() -> None:
    frames = linear_frames()
    res = Backtest(settings(hedge=HedgeMode.market)).run(events(BASE[:1]), frames)
    e1 = res.trades.iloc[0]
    # hedge leg at MKT's open of t=2 (50.15) to its close at t=3 (50.3)
    assert e1.market_entry_kind == "open"
    assert e1.market_return == pytest.approx(50.3 / 50.15 - 1)
    assert e1.gross_return == pytest.approx((103 / 101.5 - 1) - (50.3 / 50.15 - 1))
    # A close-only market: the hedge goes on at the entry day's close (50.2), not before.
    frames["MKT"] = frame(LABELS, 50 + 0.1 * t)
    res = Backtest(settings(hedge=HedgeMode.market)).run(events(BASE[:1]), frames)
    e1 = res.trades.iloc[0]
    assert e1.market_entry_kind == "close"
    assert str(pd.Timestamp(e1.market_entry_date).date()) == "2024-01-04"
    assert e1.market_return == pytest.approx(50.3 / 50.2 - 1)
    # daily: on t=2 only the stock's open-to-close counts; on t=3 both legs
    d = res.daily
    np.testing.assert_allclose(d["return"], [0, 102 / 101.5 - 1,
                                             (103 / 102 - 1) - (50.3 / 50.2 - 1)])


def test_value_mode_weights() -> None:
    res = Backtest(settings(signal_mode=SignalMode.value)).run(events(BASE[:2]), linear_frames())
    r_a = 102 / 101.5 - 1
    r_b = -(198 / 199 - 1)
    # weights 0.6 / 0.9 and 0.3 / 0.9
    assert res.daily["gross_return"].iloc[1] == pytest.approx((0.6 * r_a + 0.3 * r_b) / 0.9)


def test_beta_hedge_matches_statsmodels_ols() -> None:
    labels = xnys_labels("2023-01-03", "2024-03-28")
    frames = random_walk(labels, ["AAA"], seed=3, beta=1.4)
    day = labels[280]
    ev = events([{"event_id": "B", "ticker": "AAA", "timestamp": et(f"{day.date()} 12:00"),
                  "sentiment": 1.0}])
    res = Backtest(settings(hedge=HedgeMode.beta, entry=EntryRule.close, hold=3)).run(
        ev, frames)
    tr = res.trades.iloc[0]
    # Reference: OLS of the stock's simple returns on the market's over sessions
    # day0-250 .. day0-11 (day 0 = session 280), by statsmodels.
    s = frames["AAA"]["close"].pct_change()
    m = frames["MKT"]["close"].pct_change()
    window = slice(280 - 250, 280 - 11 + 1)
    fit = sm.OLS(s.iloc[window].to_numpy(), sm.add_constant(m.iloc[window].to_numpy())).fit()
    assert tr.beta == pytest.approx(fit.params[1], rel=1e-10)
    assert tr.n_estimation == 240
    stock = frames["AAA"]["close"].iloc[283] / frames["AAA"]["close"].iloc[280] - 1
    mkt = frames["MKT"]["close"].iloc[283] / frames["MKT"]["close"].iloc[280] - 1
    assert tr.gross_return == pytest.approx(stock - fit.params[1] * mkt)
    assert tr.net_return == pytest.approx(tr.gross_return)


def test_rule_signal_enters_after_day0_close() -> None:
    frames = linear_frames()
    ev = events([{"event_id": "R", "ticker": "BBB", "timestamp": et("2024-01-03 11:00")}])
    res = Backtest(settings(signal="rule:day0-return", entry=EntryRule.close, hold=1)).run(
        ev, frames)
    tr = res.trades.iloc[0]
    # day 0 is t=1; its return (199/200 - 1) is known at its close, so the entry is t=2's close
    assert tr.signal == pytest.approx(199 / 200 - 1)
    assert str(tr.day0.date()) == "2024-01-03" and str(tr.entry_date.date()) == "2024-01-04"
    assert tr.direction == -1
    res = Backtest(settings(signal="rule:day0-return", hold=1)).run(ev, frames)
    assert str(res.trades.iloc[0].entry_date.date()) == "2024-01-04"
    assert res.trades.iloc[0].entry_kind == "open"
    neg = Backtest(settings(signal="-rule:day0-return", hold=1)).run(ev, frames)
    assert neg.trades.iloc[0].direction == 1


def test_date_only_timings() -> None:
    rows = [
        {"event_id": "pre", "ticker": "AAA", "date": "2024-01-04", "timing": "pre", "sentiment": 1},
        {"event_id": "intra", "ticker": "AAA", "date": "2024-01-04", "timing": "intra",
         "sentiment": 1},
        {"event_id": "post", "ticker": "AAA", "date": "2024-01-04", "timing": "post",
         "sentiment": 1},
        {"event_id": "unknown", "ticker": "AAA", "date": "2024-01-04", "timing": "unknown",
         "sentiment": 1},
        {"event_id": "holiday", "ticker": "AAA", "date": "2024-01-15", "timing": "pre",
         "sentiment": 1},
    ]
    frames = linear_frames()
    got = {}
    for rule in EntryRule:
        got[rule] = {}
        for row in rows:  # one run per event: same-ticker entries on one day would merge
            res = Backtest(settings(entry=rule, hold=1)).run(events([row]), frames)
            got[rule].update({r.event_id: (str(r.entry_date.date()), r.entry_kind)
                              for r in res.trades.itertuples()})
    assert got[EntryRule.next_open] == {
        "pre": ("2024-01-04", "open"), "intra": ("2024-01-05", "open"),
        "post": ("2024-01-05", "open"), "unknown": ("2024-01-05", "open"),
        "holiday": ("2024-01-16", "open")}
    assert got[EntryRule.close] == {
        "pre": ("2024-01-04", "close"), "intra": ("2024-01-04", "close"),
        "post": ("2024-01-05", "close"), "unknown": ("2024-01-05", "close"),
        "holiday": ("2024-01-16", "close")}


def test_fill_rule_on_the_nyse_calendar() -> None:
    sessions = exchange_sessions("XNYS", pd.Timestamp("2024-11-25"), pd.Timestamp("2024-12-03"))
    labels = [str(d.date()) for d in sessions.labels]
    opens = session_opens(sessions).as_unit("ns").asi8
    closes = sessions.closes.as_unit("ns").asi8
    ok = next_valid(np.ones((1, len(labels)), dtype=bool))
    cases = {
        # (time in New York, latency) -> (next-open session, close session)
        ("2024-11-26 09:29", "0"): ("2024-11-26", "2024-11-26"),  # pre-open
        ("2024-11-26 09:30", "0"): ("2024-11-27", "2024-11-26"),  # at the open: too late for it
        ("2024-11-26 15:59", "0"): ("2024-11-27", "2024-11-26"),  # intraday
        ("2024-11-26 16:00", "0"): ("2024-11-27", "2024-11-27"),  # at the close: too late
        ("2024-11-26 09:25", "10min"): ("2024-11-27", "2024-11-26"),  # latency pushes past 9:30
        ("2024-11-28 11:00", "0"): ("2024-11-29", "2024-11-29"),  # Thanksgiving: closed
        ("2024-11-29 13:30", "0"): ("2024-12-02", "2024-12-02"),  # after the 13:00 early close
        ("2024-11-29 12:59", "0"): ("2024-12-02", "2024-11-29"),
    }
    for (when, latency), (want_open, want_close) in cases.items():
        known = np.array([pd.Timestamp(when, tz="America/New_York").value
                          + pd.Timedelta(latency).value])
        rows = np.array([0])
        e_open, _ = entry_sessions(known, opens, closes, EntryRule.next_open, ok, ok, rows)
        e_close, _ = entry_sessions(known, opens, closes, EntryRule.close, ok, ok, rows)
        assert (labels[e_open[0]], labels[e_close[0]]) == (want_open, want_close), when


def test_close_only_stock_with_next_open_fails_clearly() -> None:
    frames = linear_frames()
    frames["AAA"] = frame(LABELS, 100 + t)
    res = Backtest(settings()).run(events(BASE[:1]), frames)
    assert res.metrics["trades"] == 0
    assert "use --entry close" in res.failures["reason"].iloc[0]


def test_news_before_the_first_price_is_not_traded_later() -> None:
    frames = linear_frames()
    frames["AAA"] = frames["AAA"].iloc[10:]
    res = Backtest(settings()).run(events(BASE[:1]), frames)
    assert res.metrics["trades"] == 0
    assert "before the stock's first price" in res.failures["reason"].iloc[0]


def test_settings_and_signal_validation() -> None:
    with pytest.raises(InputError, match="hold"):
        settings(hold=0)
    with pytest.raises(InputError, match="signal"):
        settings(signal="mood")
    with pytest.raises(InputError, match="estimation"):
        settings(estimation=(-20, 0))
    assert SignalSpec.parse("-column:score") == SignalSpec("column", "score", True)
    assert str(SignalSpec.parse("sentiment")) == "sentiment"
    with pytest.raises(InputError, match="not in the catalogue"):
        Backtest(settings(signal="column:nope")).run(events(BASE[:1]), linear_frames())


def test_portfolio_daily_turnover_by_hand() -> None:
    # Trade A held on grid days 1..2, trade B on 2..4 (equal weights, no hedge).
    out = portfolio_daily(
        grid_size=5, first=np.array([1, 2]), last=np.array([2, 4]),
        weight_basis=np.array([1.0, 1.0]), legs=np.array([1.0, 1.0]),
        ret_cells=np.array([1, 2, 2, 3, 4]), ret_trades=np.array([0, 0, 1, 1, 1]),
        ret_values=np.array([0.01, 0.02, -0.01, 0.03, 0.0]),
        direction=np.array([1.0, -1.0]), hedge_ratio=np.array([0.0, 0.0]), cost=0.001)
    # weights: d1 A=1; d2 A=B=1/2; d3 B=1; d4 B=1 -> sold at d4's close.
    np.testing.assert_allclose(out["gross_return"], [0, 0.01, (0.02 - 0.01) / 2, 0.03, 0.0])
    # |changes|: d1 +1; d2 A 1->1/2 (0.5), B in (0.5), A out at the close (0.5); d3 B 1/2->1;
    # d4 B out (1): total 4.
    np.testing.assert_allclose(out["turnover"], [0, 1, 1.5, 0.5, 1])
    np.testing.assert_allclose(out["cost"], 0.001 * np.array([0, 1, 1.5, 0.5, 1]))
    np.testing.assert_array_equal(out["n_positions"], [0, 1, 2, 1, 1])
    np.testing.assert_allclose(out["net_exposure"], [0, 1, 0, -1, -1])
    # a hedged trade has two legs: the same weight changes cost twice as much
    hedged = portfolio_daily(5, np.array([1]), np.array([2]), np.array([1.0]), np.array([2.0]),
                             np.array([1, 2]), np.array([0, 0]), np.array([0.0, 0.0]),
                             np.array([1.0]), np.array([1.0]), 0.001)
    np.testing.assert_allclose(hedged["turnover"], [0, 2, 2, 0, 0])


def test_forward_returns_and_ic_against_pandas_spearman() -> None:
    labels = xnys_labels("2023-06-01", "2024-03-28")
    frames = random_walk(labels, ["AAA", "BBB", "CCC"], seed=11)
    rng = np.random.default_rng(5)
    rows = []
    for i in range(40):
        day = labels[rng.integers(5, len(labels) - 30)]
        rows.append({"event_id": f"e{i}", "ticker": ["AAA", "BBB", "CCC"][i % 3],
                     "timestamp": et(f"{day.date()} 11:{i % 60:02d}"),
                     "sentiment": float(rng.normal())})
    res = Backtest(settings(entry=EntryRule.close, hold=5)).run(events(rows), frames)
    tr = res.trades
    for h in (1, 5, 10, 20):
        ref = tr[["signal", f"fwd_{h}"]].dropna().corr(method="spearman").iloc[0, 1]
        row = res.forward.set_index("horizon").loc[h]
        assert row["ic"] == pytest.approx(ref)
        assert row["mean"] == pytest.approx(tr[f"fwd_{h}"].mean())
    # the 5-session forward return is the trade's gross return (same hold, no hedge)
    np.testing.assert_allclose(tr["fwd_5"], tr["gross_return"] * tr["direction"])
    # forward return by hand for the first trade: close 1 session after the entry close
    first = tr.iloc[0]
    px = frames[first.ticker]["close"]
    pos = px.index.get_loc(first.entry_date)
    assert first.fwd_1 == pytest.approx(px.iloc[pos + 1] / px.iloc[pos] - 1)


def test_placebo_entries_avoid_the_real_window_and_cover_the_rest() -> None:
    rng = np.random.default_rng(0)
    lo, hi, actual = np.array([0, 10]), np.array([40, 30]), np.array([20, 10])
    draws = placebo_entries(rng, 5000, lo, hi, actual, exclusion=3)
    for j in range(2):
        col = draws[:, j]
        assert col.min() >= lo[j] and col.max() <= hi[j]
        assert (np.abs(col - actual[j]) > 3).all()
        allowed = [v for v in range(lo[j], hi[j] + 1) if abs(v - actual[j]) > 3]
        assert sorted(set(col.tolist())) == allowed


def test_placebo_is_seeded_and_its_p_value_is_the_stated_formula() -> None:
    labels = xnys_labels("2023-06-01", "2024-03-28")
    frames = random_walk(labels, ["AAA", "BBB"], seed=2)
    rng = np.random.default_rng(9)
    rows = [{"event_id": f"e{i}", "ticker": ["AAA", "BBB"][i % 2],
             "timestamp": et(f"{labels[rng.integers(5, len(labels) - 10)].date()} 10:45"),
             "sentiment": float(rng.choice([-1, 1]))} for i in range(30)]
    a = Backtest(settings(placebo_draws=300, seed=4)).run(events(rows), frames)
    b = Backtest(settings(placebo_draws=300, seed=4)).run(events(rows), frames)
    assert a.placebo is not None and b.placebo is not None
    np.testing.assert_array_equal(a.placebo.draws, b.placebo.draws)
    p = a.placebo
    assert p.n_draws == 300
    assert p.actual == pytest.approx(a.trades["net_return"].mean())
    assert p.p_one_sided == pytest.approx((1 + np.sum(p.draws >= p.actual)) / 301)
    center = p.draws.mean()
    assert p.p_two_sided == pytest.approx(
        (1 + np.sum(np.abs(p.draws - center) >= abs(p.actual - center))) / 301)


def test_placebo_detects_a_real_post_news_drift() -> None:
    # Every event is followed, from its entry, by a +3% move in the signal's direction:
    # the placebo (same trades at random dates) must call that significant.
    labels = xnys_labels("2023-06-01", "2024-03-28")
    rng = np.random.default_rng(1)
    n = len(labels)
    ret = rng.normal(0, 0.01, n)
    days = np.arange(20, n - 10, 9)
    ret[days + 1] += 0.03  # the session after the news day (entry at the news day's close)
    close = 50 * np.cumprod(1 + ret)
    frames = {"AAA": frame(labels, close, close), "MKT": frame(labels, 100 + 0 * close)}
    rows = [{"event_id": f"d{i}", "ticker": "AAA", "timestamp": et(f"{labels[d].date()} 11:00"),
             "sentiment": 1.0} for i, d in enumerate(days)]
    res = Backtest(settings(entry=EntryRule.close, hold=1, placebo_draws=1000)).run(
        events(rows), frames)
    assert res.metrics["mean_trade_return"] > 0.02
    assert res.placebo is not None and res.placebo.p_one_sided < 0.01
    assert math.isfinite(res.metrics["sharpe"]) and res.metrics["sharpe"] > 2
