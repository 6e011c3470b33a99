"""Daily accounting of ``--entry next-open``: each session split at the open, without look-ahead.

References: hand computations written out below (opens and closes in the
tests), an independent share-level book (cash plus positions traded at
printed prices, written here as a plain loop), and, for ``--entry close``,
a loop over the documented close-to-close rule.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _backtest_data import et, frame, xnys_labels
from marketreact.backtest.results import BacktestResult
from marketreact.backtest.run import Backtest
from marketreact.backtest.settings import BacktestSettings, EntryRule, HedgeMode

NAN = math.nan
# Six NYSE sessions d0..d5: 2024-01-02, 01-03, 01-04, 01-05, 01-08, 01-09.
DAYS = xnys_labels("2024-01-02", "2024-01-09")
OPENS = {
    "AAA": [100, 101, 105, 103, 106, 107],
    "BBB": [50, 50, 48, 50, 51, 51],
    "CCC": [20, 20, 20, 21, 19, 18],
}
CLOSES = {
    "AAA": [100, 102, 104, 106, 107, 107],
    "BBB": [50, 50, 49, 51, 51, 52],
    "CCC": [20, 20, 20, 19, 18, 18.5],
    "MKT": [200, 200, 202, 201, 203, 204],  # close-only, like SPY in shared/data/prices/us
}
# E1 long AAA: after d0's close -> enters at d1's open; E2 long BBB: pre-open d2 -> d2's open;
# E3 short CCC: after d2's close -> d3's open. hold 3: exits at the closes of d3, d4, d5.
EVENTS = pd.DataFrame([
    {"event_id": "E1", "ticker": "AAA", "timestamp": et("2024-01-02 20:00"), "sentiment": 0.8},
    {"event_id": "E2", "ticker": "BBB", "timestamp": et("2024-01-04 08:00"), "sentiment": 0.5},
    {"event_id": "E3", "ticker": "CCC", "timestamp": et("2024-01-04 18:00"), "sentiment": -0.4},
])


def hand_frames(**opens: list[float]) -> dict[str, pd.DataFrame]:
    out = {}
    for ticker, close in CLOSES.items():
        o = opens.get(ticker, OPENS.get(ticker))
        out[ticker] = frame(DAYS, np.array(close, dtype=float),
                            None if o is None else np.array(o, dtype=float))
    return out


def run(frames: dict[str, pd.DataFrame], events: pd.DataFrame, **kw: Any) -> BacktestResult:
    base: dict[str, Any] = {"entry": EntryRule.next_open, "hold": 3, "market": "MKT",
                            "placebo_draws": 0}
    base.update(kw)
    return Backtest(BacktestSettings(**base)).run(events, frames)


def test_held_position_and_open_entry_by_hand() -> None:
    c = 0.001  # 10 bps per side
    res = run(hand_frames(), EVENTS, cost_bps=10)
    tr = res.trades.set_index("event_id")
    assert [str(tr.loc[e, "entry_date"].date()) for e in ("E1", "E2", "E3")] == \
        ["2024-01-03", "2024-01-04", "2024-01-05"]
    # trade returns are buy and hold from the entry open to the exit close (unchanged)
    assert tr.loc["E1", "gross_return"] == pytest.approx(106 / 101 - 1)
    assert tr.loc["E3", "gross_return"] == pytest.approx(-(18.5 / 21 - 1))
    d = res.daily
    assert [str(x.date()) for x in d["date"]] == [str(x.date()) for x in DAYS]
    # d1: AAA bought at the open (turnover 1), earns open to close.
    r1 = (1 - c) * (102 / 101) - 1
    # d2: AAA held overnight at weight 1 (close 102 -> open 105), then at the open AAA and
    # BBB (entering) get 1/2 each: turnover |1 - 1/2| + 1/2 = 1, paid at the open.
    on2 = 105 / 102 - 1
    id2 = 0.5 * (104 / 105 - 1) + 0.5 * (49 / 48 - 1)
    r2 = (1 + on2 - c * 1) * (1 + id2) - 1
    # d3: AAA and BBB held overnight at 1/2; CCC enters short; 1/3 each from the open:
    # turnover at the open 2 * (1/2 - 1/3) + 1/3 = 2/3; AAA sold at the close: 1/3.
    on3 = 0.5 * (103 / 104 - 1) + 0.5 * (50 / 49 - 1)
    id3 = (106 / 103 - 1) / 3 + (51 / 50 - 1) / 3 - (19 / 21 - 1) / 3
    r3 = (1 + on3 - c * 2 / 3) * (1 + id3) - 1 - c / 3
    # d4: no entry at the open: close to close at the weights set at d3's close (BBB, CCC 1/2);
    # turnover: BBB and CCC 1/3 -> 1/2 at d3's close (1/3) plus BBB sold at d4's close (1/2).
    r4 = 0.5 * (51 / 51 - 1) - 0.5 * (18 / 19 - 1) - c * (1 / 3 + 1 / 2)
    # d5: CCC alone: 1/2 -> 1 at d4's close, sold at d5's close.
    r5 = -(18.5 / 18 - 1) - c * (0.5 + 1)
    want = np.array([0.0, r1, r2, r3, r4, r5])
    np.testing.assert_allclose(d["return"], want, rtol=0, atol=1e-14)
    np.testing.assert_allclose(d["equity"], np.cumprod(1 + want), rtol=1e-14)
    np.testing.assert_allclose(d["turnover"], [0, 1, 1, 1, 5 / 6, 1.5], atol=1e-14)
    np.testing.assert_array_equal(d["open_rebalance"], [False, True, True, True, False, False])
    np.testing.assert_allclose(d["gross_return"].iloc[2], (1 + on2) * (1 + id2) - 1)
    assert res.metrics["total_return"] == pytest.approx(np.prod(1 + want) - 1, rel=1e-12)
    # The old booking (close to close at the new weights) would have earned AAA's overnight
    # +2.9% at weight 1/2 on d2: a different number.
    old2 = 0.5 * (104 / 102 - 1) + 0.5 * (49 / 48 - 1) - c
    assert abs(r2 - old2) > 0.01


def test_close_only_market_hedge_by_hand() -> None:
    """Hedge legs of a close-only market enter at a close and are re-weighted only at closes."""
    res = run(hand_frames(), EVENTS, hedge=HedgeMode.market)
    tr = res.trades.set_index("event_id")
    assert list(tr["market_entry_kind"]) == ["close"] * 3
    assert tr.loc["E1", "market_return"] == pytest.approx(201 / 200 - 1)  # d1 close -> d3 close
    d = res.daily
    # d1: AAA's hedge goes on at d1's close, so d1 is the stock's open to close alone.
    r1 = 102 / 101 - 1
    # d2: AAA's stock: overnight at weight 1, then 1/2 from the open. Its hedge (short MKT at
    # weight 1 since d1's close) cannot trade at the open: held at 1 close to close.
    on2 = 105 / 102 - 1
    id2 = 0.5 * (104 / 105 - 1) + 0.5 * (49 / 48 - 1)
    f2 = -1.0 * (202 / 200 - 1)
    r2 = (1 + on2) * (1 + id2) - 1 + f2
    # d3: AAA and BBB (hedges 1/2 each, BBB's on since d2's close); CCC enters short, its
    # hedge (long MKT) goes on at d3's close.
    on3 = 0.5 * (103 / 104 - 1) + 0.5 * (50 / 49 - 1)
    id3 = (106 / 103 - 1) / 3 + (51 / 50 - 1) / 3 - (19 / 21 - 1) / 3
    f3 = -(0.5 + 0.5) * (201 / 202 - 1)
    r3 = (1 + on3) * (1 + id3) - 1 + f3
    # d4: BBB long and CCC short, each hedged at 1/2: the hedges cancel.
    r4 = 0.5 * (51 / 51 - 1) - 0.5 * (18 / 19 - 1)
    np.testing.assert_allclose(d["return"].iloc[:5], [0, r1, r2, r3, r4], rtol=0, atol=1e-14)
    # turnover: d1 the stock 1; d2 AAA's hedge bought at d1's close (1) + the open (1/2 + 1/2);
    # d3 at d2's close AAA's hedge 1 -> 1/2 and BBB's 0 -> 1/2, at the open 2/3, at the close
    # AAA out: stock 1/3 + hedge 1/2.
    np.testing.assert_allclose(d["turnover"].iloc[:4], [0, 1, 2, 1 + 2 / 3 + 1 / 3 + 1 / 2],
                               atol=1e-14)


def test_held_stock_without_an_open_is_not_reweighted_at_that_open() -> None:
    """BBB has no open on d3: it keeps its overnight weight and is booked close to close."""
    bbb = list(OPENS["BBB"])
    bbb[3] = NAN
    res = run(hand_frames(BBB=bbb), EVENTS)
    d = res.daily
    # d3: frozen weight phi = 1/2 (BBB); AAA (tradable) and CCC (entering) share 1 - phi:
    # 1/4 each of the open's equity.
    phi = 0.5
    on3 = 0.5 * (103 / 104 - 1)  # AAA only: BBB's open is unknown
    f3 = 0.5 * (51 / 49 - 1)  # BBB close to close at its weight of d2's close
    id3 = 0.5 * (106 / 103 - 1) - 0.5 * (19 / 21 - 1)
    r3 = (1 + on3) + (1 + on3 - phi) * id3 + f3 - 1
    assert d["return"].iloc[3] == pytest.approx(r3, abs=1e-14)
    # turnover d3: at the open AAA 1/2 -> 1/4, CCC 0 -> 1/4 (BBB unchanged); AAA out (1/4).
    # d4: at d3's close CCC 1/4 -> 1/2 (BBB stays 1/2); BBB out at d4's close (1/2).
    np.testing.assert_allclose(d["turnover"].iloc[3:5], [0.75, 0.75], atol=1e-14)
    # d4 has no entries: close to close at 1/2, 1/2 as before.
    assert d["return"].iloc[4] == pytest.approx(0.5 * 0 - 0.5 * (18 / 19 - 1), abs=1e-14)


def test_a_position_opening_before_an_entrys_open_is_not_reweighted_there() -> None:
    """IDX opens at 02:00 UTC, NYSE at 14:30 UTC: re-weighting the IDX position at its open
    for a NYSE entry would use news that may not be out yet, so it keeps its weight."""
    frames = {"AAA.JK": frame(DAYS, np.array([1000, 1010, 1030, 1020, 1040, 1050.0]),
                              np.array([1000, 1005, 1020, 1025, 1030, 1045.0])),
              "BBB": hand_frames()["BBB"]}
    events = pd.DataFrame([
        # after the IDX close of d0 -> the IDX open of d1; hold 3: out at d3's close
        {"event_id": "J", "ticker": "AAA.JK",
         "timestamp": pd.Timestamp("2024-01-02 20:00", tz="Asia/Jakarta").isoformat(),
         "sentiment": 1.0},
        # pre-open New York on d2 -> the NYSE open of d2
        {"event_id": "N", "ticker": "BBB", "timestamp": et("2024-01-04 08:00"),
         "sentiment": 1.0},
    ])
    res = run(frames, events, hold=3, market=None)
    d = res.daily.set_index(res.daily["date"].dt.strftime("%m-%d"))
    assert list(d.index) == ["01-02", "01-03", "01-04", "01-05", "01-08"]
    # d1: AAA.JK alone, open to close. d2: AAA.JK (frozen, the whole book: phi = 1) close to
    # close; BBB gets no weight until d2's close. d3: 1/2 each close to close.
    want = [0, 1010 / 1005 - 1, 1030 / 1010 - 1,
            0.5 * (1020 / 1030 - 1) + 0.5 * (51 / 49 - 1), 0.5 * (51 / 51 - 1)]
    np.testing.assert_allclose(d["return"], want, rtol=0, atol=1e-14)
    np.testing.assert_allclose(d["frozen_weight"], [0, 0, 1, 0, 0])
    # turnover: d1 AAA.JK in; d2 nothing; d3 at d2's close AAA.JK 1 -> 1/2 and BBB 0 -> 1/2,
    # AAA.JK out at d3's close; d4 BBB 1/2 -> 1 at d3's close and out at d4's close.
    np.testing.assert_allclose(d["turnover"], [0, 1, 0, 1.5, 1.5], atol=1e-14)
    assert any("could not be re-weighted at that open" in x for x in res.diagnostics)


# ---------------------------------------------------------------------------------------
# Random worlds
# ---------------------------------------------------------------------------------------

WORLD = xnys_labels("2024-01-02", "2024-03-28")
TICKERS = ["AAA", "BBB", "CCC", "DDD"]


def random_world(seed: int, *, overnight_only: bool = False, missing_opens: float = 0.0,
                 market_opens: bool = True) -> dict[str, pd.DataFrame]:
    """Random-walk closes; opens part of the way there (or all of it: ``overnight_only``)."""
    rng = np.random.default_rng(seed)
    n = len(WORLD)
    frames = {}
    for ticker in [*TICKERS, "MKT"]:
        close = 50 * np.cumprod(1 + rng.normal(0, 0.02, n))
        prev = np.concatenate(([50.0], close[:-1]))
        open_ = close.copy() if overnight_only else prev * (1 + rng.normal(0, 0.015, n))
        open_[rng.random(n) < missing_opens] = NAN
        frames[ticker] = frame(WORLD, close, open_ if ticker != "MKT" or market_opens else None)
    return frames


def random_news(seed: int, n_events: int) -> pd.DataFrame:
    """Pre-open, intraday and after-close news on random days, random signed signals."""
    rng = np.random.default_rng(seed + 1000)
    rows = []
    for i in range(n_events):
        day = WORLD[int(rng.integers(1, len(WORLD) - 8))].date()
        clock = ["08:00", "12:00", "17:30"][int(rng.integers(0, 3))]
        rows.append({"event_id": f"n{i}", "ticker": TICKERS[int(rng.integers(0, len(TICKERS)))],
                     "timestamp": et(f"{day} {clock}"),
                     "sentiment": float(rng.choice([-1, 1]) * rng.uniform(0.2, 1.0))})
    return pd.DataFrame(rows)


def _px(frames: dict[str, pd.DataFrame], ticker: str, kind: str, day: pd.Timestamp) -> float:
    f = frames[ticker]
    return float(f.at[day, kind]) if day in f.index else NAN


def share_book(frames: dict[str, pd.DataFrame], trades: pd.DataFrame,
               dates: pd.DatetimeIndex) -> np.ndarray:
    """Daily returns of a book of cash and positions traded at printed prices (no costs).

    At each close, after exits, the positions carried overnight are set to
    ``a_i / sum a`` of equity (hedge legs to ``-h d`` times that once on).
    At an open with entries, positions whose stock printed an open are marked
    there and, with the entries, share the equity not held in those that did
    not; a hedge leg is re-set at the open only if its market printed one.
    Every leg is marked at each close it prints.
    """
    tr = trades.to_dict(orient="records")
    cash = 1.0
    legs: dict[tuple[int, str], list[Any]] = {}  # key -> [ticker, value, last price]

    def equity() -> float:
        return cash + sum(v for _, v, _ in legs.values())

    def mark(key: tuple[int, str], price: float) -> None:
        if key in legs and math.isfinite(price):
            legs[key][1] *= price / legs[key][2]
            legs[key][2] = price

    def put(key: tuple[int, str], ticker: str, value: float, price: float) -> None:
        nonlocal cash
        cash -= value - (legs[key][1] if key in legs else 0.0)
        legs[key] = [ticker, value, price]

    out = [0.0]
    for day in dates[1:]:
        start = equity()
        entering = [i for i, r in enumerate(tr) if r["entry_date"] == day]
        if entering:
            held = [i for i, r in enumerate(tr) if r["entry_date"] < day <= r["exit_date"]]
            tradable = [i for i in held
                        if math.isfinite(_px(frames, tr[i]["ticker"], "open", day))
                        and math.isfinite(_px(frames, tr[i]["ticker"], "close", day))]
            frozen = [i for i in held if i not in tradable]
            m_open = {}
            for i in tradable:
                mark((i, "S"), _px(frames, tr[i]["ticker"], "open", day))
                mo = _px(frames, tr[i]["market"], "open", day)
                if (i, "H") in legs and math.isfinite(mo) \
                        and math.isfinite(_px(frames, tr[i]["market"], "close", day)):
                    mark((i, "H"), mo)
                    m_open[i] = mo
            free = equity() - sum(abs(legs[(i, "S")][1]) for i in frozen)
            total = sum(tr[i]["weight_basis"] for i in tradable + entering)
            for i in tradable + entering:
                r = tr[i]
                target = free * r["weight_basis"] / total
                put((i, "S"), r["ticker"], r["direction"] * target,
                    _px(frames, r["ticker"], "open", day))
                h = r["hedge_ratio"]
                if h and i in m_open:
                    put((i, "H"), r["market"], -h * r["direction"] * target, m_open[i])
                elif h and i in entering and r["market_entry_kind"] == "open":
                    put((i, "H"), r["market"], -h * r["direction"] * target,
                        _px(frames, r["market"], "open", day))
        for key, leg in list(legs.items()):
            mark(key, _px(frames, leg[0], "close", day))
        out.append(equity() / start - 1.0)
        for i, r in enumerate(tr):
            if r["exit_date"] == day:
                for leg_name in ("S", "H"):
                    if (i, leg_name) in legs:
                        cash += legs.pop((i, leg_name))[1]
        book = [i for i, r in enumerate(tr) if r["entry_date"] <= day < r["exit_date"]]
        total, eq = sum(tr[i]["weight_basis"] for i in book), equity()
        for i in book:
            r = tr[i]
            target = eq * r["weight_basis"] / total
            put((i, "S"), r["ticker"], r["direction"] * target, legs[(i, "S")][2])
            if r["hedge_ratio"] and pd.Timestamp(r["market_entry_date"]) <= day:
                price = legs[(i, "H")][2] if (i, "H") in legs \
                    else _px(frames, r["market"], "close", day)
                put((i, "H"), r["market"], -r["hedge_ratio"] * r["direction"] * target, price)
    return np.array(out)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10**6), n_events=st.integers(3, 25),
       hold=st.integers(1, 4), hedge=st.sampled_from(["none", "market"]),
       market_opens=st.booleans(), missing=st.sampled_from([0.0, 0.15]),
       mode=st.sampled_from(["sign", "value"]))
def test_daily_returns_match_a_share_level_book(seed: int, n_events: int, hold: int, hedge: str,
                                                market_opens: bool, missing: float,
                                                mode: str) -> None:
    frames = random_world(seed, missing_opens=missing, market_opens=market_opens)
    res = run(frames, random_news(seed, n_events), hold=hold, hedge=HedgeMode(hedge),
              signal_mode=mode)
    if not len(res.trades):
        return
    want = share_book(frames, res.trades, pd.DatetimeIndex(res.daily["date"]))
    np.testing.assert_allclose(res.daily["gross_return"], want, rtol=0, atol=1e-12)


def _previous_close_book(res: BacktestResult, frames: dict[str, pd.DataFrame]) -> np.ndarray:
    """Each session's return if earned only by the positions held at the previous close,
    at the weights set then (``a_i / sum a``)."""
    tr = res.trades
    dates = pd.DatetimeIndex(res.daily["date"])
    out = [0.0]
    for k in range(1, len(dates)):
        day, prev = dates[k], dates[k - 1]
        held = tr[(tr["entry_date"] < day) & (day <= tr["exit_date"])]
        if not len(held):
            out.append(0.0)
            continue
        moves = np.array([frames[t].at[day, "close"] / frames[t].at[prev, "close"] - 1
                          for t in held["ticker"]])
        w = held["weight_basis"].to_numpy() / held["weight_basis"].sum()
        out.append(float(np.sum(w * held["direction"].to_numpy() * moves)))
    return np.array(out)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10**6), n_events=st.integers(2, 30),
       hold=st.integers(1, 4), mode=st.sampled_from(["sign", "value"]))
def test_when_every_move_is_overnight_only_the_previous_close_book_earns(
        seed: int, n_events: int, hold: int, mode: str) -> None:
    """Opens equal closes, so each session's whole move happens overnight. Then a position
    entered at an open earns nothing on its entry day, and the session's return is that of
    the book set at the previous close, at the weights set then, whoever enters at the open."""
    frames = random_world(seed, overnight_only=True)
    res = run(frames, random_news(seed, n_events), hold=hold, signal_mode=mode)
    if not len(res.trades):
        return
    np.testing.assert_allclose(res.daily["return"], _previous_close_book(res, frames),
                               rtol=0, atol=1e-13)


def test_the_overnight_world_does_tell_the_old_booking_apart() -> None:
    """The property above is not vacuous: entries at opens while positions are held are
    common, and booking the overnight move at the new weights gives other numbers."""
    frames = random_world(5, overnight_only=True)
    res = run(frames, random_news(5, 40), hold=3)
    tr = res.trades
    dates = pd.DatetimeIndex(res.daily["date"])
    old = [0.0]
    overlap = 0
    for k in range(1, len(dates)):
        day, prev = dates[k], dates[k - 1]
        held = tr[(tr["entry_date"] <= day) & (day <= tr["exit_date"])]
        overlap += bool((held["entry_date"] == day).any() and (held["entry_date"] < day).any())
        moves = [frames[t].at[day, "close"] / frames[t].at[prev, "close"] - 1
                 if e < day else 0.0 for t, e in zip(held["ticker"], held["entry_date"],
                                                     strict=True)]
        old.append(float(np.mean(held["direction"].to_numpy() * np.array(moves)))
                   if len(held) else 0.0)
    assert overlap >= 5
    assert np.max(np.abs(np.array(old) - res.daily["return"].to_numpy())) > 1e-3
    np.testing.assert_allclose(res.daily["return"], _previous_close_book(res, frames), atol=1e-13)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10**6), n_events=st.integers(2, 25),
       hold=st.integers(1, 4), factor=st.floats(0.5, 2.0),
       hedge=st.sampled_from(["none", "market"]))
def test_the_entry_days_overnight_gap_is_never_earned(seed: int, n_events: int, hold: int,
                                                      factor: float, hedge: str) -> None:
    """Rescale every price of a stock before the open at which its first position enters
    (so that day's overnight gap changes): no daily figure may move."""
    frames = random_world(seed)
    events = random_news(seed, n_events)
    base = run(frames, events, hold=hold, hedge=HedgeMode(hedge))
    if not len(base.trades):
        return
    changed = {}
    for ticker, f in frames.items():
        first = base.trades.loc[base.trades["ticker"] == ticker, "entry_date"]
        g = f.copy()
        if len(first):
            before = g.index < first.min()
            for col in ("open", "high", "low", "close", "adj_close"):
                g.loc[before, col] = g.loc[before, col] * factor
        changed[ticker] = g
    moved = run(changed, events, hold=hold, hedge=HedgeMode(hedge))
    for col in ("return", "turnover", "net_exposure"):
        np.testing.assert_allclose(moved.daily[col], base.daily[col], rtol=0, atol=1e-13)


# ---------------------------------------------------------------------------------------
# --entry close: still the close-to-close rule
# ---------------------------------------------------------------------------------------

def close_to_close_reference(res: BacktestResult, frames: dict[str, pd.DataFrame],
                             cost: float) -> dict[str, np.ndarray]:
    """The documented ``--entry close`` rule as a loop: a trade entered at the close of ``e``
    is held on ``e + 1 .. exit`` at ``a_i / sum a``; turnover counts entries, exits and the
    re-weighting of trades held on both sessions, times ``1 + |h|``."""
    tr = res.trades
    dates = pd.DatetimeIndex(res.daily["date"])
    first = [dates[dates.get_loc(e) + 1] for e in tr["entry_date"]]
    a = tr["weight_basis"].to_numpy()
    legs = 1 + np.abs(tr["hedge_ratio"].to_numpy())
    prev_w = np.zeros(len(tr))
    ret, turn, net = [0.0], [0.0], [0.0]
    for k in range(1, len(dates)):
        day, prev = dates[k], dates[k - 1]
        held = np.array([f <= day <= x for f, x in zip(first, tr["exit_date"], strict=True)])
        w = np.where(held, a, 0.0) / max(float(np.sum(a[held])), 1e-300)
        x = np.zeros(len(tr))
        for i in np.flatnonzero(held):
            s = frames[tr["ticker"].iloc[i]]["close"]
            m = frames[tr["market"].iloc[i]]["close"]
            x[i] = tr["direction"].iloc[i] * (s[day] / s[prev] - 1
                                              - tr["hedge_ratio"].iloc[i] * (m[day] / m[prev] - 1))
        both = held & (prev_w > 0)
        entering = held & (prev_w == 0)
        exiting = held & (tr["exit_date"].to_numpy() == day)
        t = float(np.sum(legs[both] * np.abs(w[both] - prev_w[both]))
                  + np.sum(legs[entering] * w[entering]) + np.sum(legs[exiting] * w[exiting]))
        ret.append(float(np.sum(w * x)) - cost * t)
        turn.append(t)
        net.append(float(np.sum(w * tr["direction"].to_numpy())))
        prev_w = np.where(exiting, 0.0, w)
    return {"return": np.array(ret), "turnover": np.array(turn), "net_exposure": np.array(net)}


@pytest.mark.parametrize(("hedge", "mode"), [("none", "sign"), ("market", "value"),
                                             ("beta", "sign")])
def test_close_entries_are_booked_close_to_close_as_before(hedge: str, mode: str) -> None:
    # a longer history for the beta's estimation window
    long_days = xnys_labels("2023-01-03", "2024-03-28")
    rng = np.random.default_rng(4)
    frames = {t: frame(long_days, 50 * np.cumprod(1 + rng.normal(0, 0.02, len(long_days))))
              for t in [*TICKERS, "MKT"]}
    res = run(frames, random_news(21, 40), entry=EntryRule.close, hold=4,
              hedge=HedgeMode(hedge), signal_mode=mode, cost_bps=7, min_estimation=60)
    assert len(res.trades) >= 30
    assert not res.daily["open_rebalance"].any()
    ref = close_to_close_reference(res, frames, 7e-4)
    for col, want in ref.items():
        np.testing.assert_allclose(res.daily[col], want, rtol=0, atol=1e-13, err_msg=col)
    np.testing.assert_allclose(res.daily["cost"], 7e-4 * res.daily["turnover"], atol=1e-16)
