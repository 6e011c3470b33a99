"""Look-ahead is a bug class: properties that no backtest may break, and a leak that must not pay.

The properties run hypothesis over the real NYSE calendar (exchange_calendars
opens and closes, holidays and early closes included) and over random prices.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import marketreact.backtest.run as bt
from _backtest_data import et, frame, random_walk, xnys_labels
from marketreact.backtest.fills import entry_sessions, next_valid
from marketreact.backtest.run import Backtest
from marketreact.backtest.settings import BacktestSettings, EntryRule
from marketreact.calendar import exchange_sessions, session_opens

SESSIONS = exchange_sessions("XNYS", pd.Timestamp("2024-01-02"), pd.Timestamp("2024-12-31"))
OPENS = session_opens(SESSIONS).as_unit("ns").asi8
CLOSES = SESSIONS.closes.as_unit("ns").asi8
N = len(SESSIONS)
START = pd.Timestamp("2024-01-01", tz="UTC").value
SPAN = pd.Timestamp("2024-12-20", tz="UTC").value - START

times = st.integers(min_value=0, max_value=SPAN).map(lambda x: START + x)
masks = st.integers(min_value=0, max_value=2**N - 1).map(
    lambda x: np.array([(x >> i) & 1 for i in range(N)], dtype=bool)
    | (np.arange(N) % 7 == 0))  # some prices missing, never all


@settings(max_examples=100, deadline=None)
@given(a=times, b=times, valid=masks, rule=st.sampled_from(list(EntryRule)))
def test_a_later_timestamp_never_enters_earlier(a: int, b: int, valid: np.ndarray,
                                                rule: EntryRule) -> None:
    lo, hi = min(a, b), max(a, b)
    nxt = next_valid(valid[None, :])
    rows = np.zeros(2, dtype=np.int64)
    entry, _ = entry_sessions(np.array([lo, hi]), OPENS, CLOSES, rule, nxt, nxt, rows)
    assert entry[0] <= entry[1]
    # and every fill is printed strictly after the news, on a session with a price
    prints = OPENS if rule is EntryRule.next_open else CLOSES
    for e, known in zip(entry, (lo, hi), strict=True):
        if e < N:
            assert prints[e] > known
            assert valid[e]
            # no earlier tradable price after the news was skipped
            earlier = np.arange(N)[(prints > known) & valid]
            assert e == earlier[0]


@settings(max_examples=200, deadline=None)
@given(day=st.integers(min_value=0, max_value=N - 2),
       minutes_after=st.integers(min_value=0, max_value=7 * 60),
       rule=st.sampled_from(list(EntryRule)))
def test_an_after_close_report_never_trades_at_that_days_close(day: int, minutes_after: int,
                                                               rule: EntryRule) -> None:
    known = np.array([CLOSES[day] + minutes_after * 60 * 10**9])
    ok = next_valid(np.ones((1, N), dtype=bool))
    entry, _ = entry_sessions(known, OPENS, CLOSES, rule, ok, ok, np.zeros(1, dtype=np.int64))
    assert entry[0] > day
    assert entry[0] == day + 1  # and the next session is the first chance


LABELS = xnys_labels("2023-09-01", "2024-06-28")
FRAMES = random_walk(LABELS, ["AAA"], seed=17)


def _one_trade(frames: dict[str, pd.DataFrame], when: str, rule: EntryRule, hold: int,
               hedge: str = "none") -> pd.Series:
    ev = pd.DataFrame([{"event_id": "x", "ticker": "AAA", "timestamp": when, "sentiment": 1.0}])
    res = Backtest(BacktestSettings(entry=rule, hold=hold, market="MKT", placebo_draws=0,
                                    hedge=bt.HedgeMode(hedge), min_estimation=60)).run(ev, frames)
    assert len(res.trades) == 1, res.failures
    return res.trades.iloc[0]


day_index = st.integers(min_value=130, max_value=len(LABELS) - 40)
minute = st.integers(min_value=0, max_value=24 * 60 - 1)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(day=day_index, m1=minute, shift=st.integers(min_value=0, max_value=5 * 24 * 60),
       rule=st.sampled_from(list(EntryRule)))
def test_moving_an_event_later_never_gives_an_earlier_entry(day: int, m1: int, shift: int,
                                                            rule: EntryRule) -> None:
    base = pd.Timestamp(LABELS[day]).tz_localize("America/New_York") + pd.Timedelta(minutes=m1)
    later = base + pd.Timedelta(minutes=shift)
    a = _one_trade(FRAMES, base.isoformat(), rule, 1)
    b = _one_trade(FRAMES, later.isoformat(), rule, 1)
    assert b.entry_time >= a.entry_time
    for tr, when in ((a, base), (b, later)):
        assert tr.entry_time > when  # the fill is printed after the news


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(day=day_index, m=minute, hold=st.integers(min_value=1, max_value=6),
       rule=st.sampled_from(list(EntryRule)), hedge=st.sampled_from(["none", "market", "beta"]),
       seed=st.integers(min_value=0, max_value=10**6))
def test_no_price_after_exit_or_before_entry_enters_a_trade(day: int, m: int, hold: int,
                                                            rule: EntryRule, hedge: str,
                                                            seed: int) -> None:
    when = (pd.Timestamp(LABELS[day]).tz_localize("America/New_York")
            + pd.Timedelta(minutes=m)).isoformat()
    tr = _one_trade(FRAMES, when, rule, hold, hedge)
    rng = np.random.default_rng(seed)
    after = LABELS.to_numpy() > tr.exit_date.to_datetime64()
    scrambled = {}
    for t, f in FRAMES.items():
        g = f.copy()
        factor = np.where(after, rng.uniform(0.5, 2.0, len(g)), 1.0)
        for col in ("open", "close", "adj_close"):
            g[col] = g[col] * factor
        scrambled[t] = g
    tr2 = _one_trade(scrambled, when, rule, hold, hedge)
    for col in ("entry_price", "exit_price", "gross_return", "net_return", "beta"):
        assert tr2[col] == pytest.approx(tr[col], nan_ok=True)
    if hedge == "none":
        # Without a beta to estimate, prices before the entry do not matter either.
        before = LABELS.to_numpy() < tr.entry_date.to_datetime64()
        shuffled = {}
        for t, f in FRAMES.items():
            g = f.copy()
            factor = np.where(before, rng.uniform(0.5, 2.0, len(g)), 1.0)
            for col in ("open", "close", "adj_close"):
                g[col] = g[col] * factor
            shuffled[t] = g
        tr3 = _one_trade(shuffled, when, rule, hold)
        assert tr3.net_return == pytest.approx(tr.net_return)


# ---------------------------------------------------------------------------------------
# The future return shifted into the past: a leak that only look-ahead code can cash.
# ---------------------------------------------------------------------------------------

def _leaky_world() -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """A random walk and intraday news whose 'sentiment' is the news day's own return.

    The signal is the return from the previous close to the close of the session
    during which the news came out: a future return (at publication time) written
    into the past. Only a backtest that fills before that close can profit from it.
    """
    labels = xnys_labels("2023-01-03", "2024-06-28")
    rng = np.random.default_rng(42)
    frames = {}
    rows = []
    for k, ticker in enumerate(["AAA", "BBB", "CCC"]):
        ret = rng.normal(0, 0.02, len(labels))
        close = 50 * np.cumprod(1 + ret)
        prev = np.concatenate(([50.0], close[:-1]))
        open_ = prev * (1 + ret * rng.uniform(0, 1, len(labels)))  # part of the move by the open
        frames[ticker] = frame(labels, close, open_)
        for d in range(5 + k, len(labels) - 3, 3):
            rows.append({"event_id": f"{ticker}-{d}", "ticker": ticker,
                         "timestamp": et(f"{labels[d].date()} 12:30"),
                         "sentiment": float(close[d] / close[d - 1] - 1)})
    frames["MKT"] = frame(labels, np.full(len(labels), 100.0))
    return frames, pd.DataFrame(rows)


def _run(frames: dict[str, pd.DataFrame], events: pd.DataFrame, rule: EntryRule,
         signal: str = "sentiment") -> bt.BacktestResult:
    return Backtest(BacktestSettings(entry=rule, hold=1, market="MKT", signal=signal,
                                     placebo_draws=1000, seed=1)).run(events, frames)


@pytest.mark.parametrize("rule", list(EntryRule))
def test_a_future_return_signal_does_not_pay_without_look_ahead(rule: EntryRule) -> None:
    frames, events = _leaky_world()
    res = _run(frames, events, rule)
    m = res.metrics
    assert m["trades"] > 300
    assert abs(m["mean_trade_t"]) < 3
    assert abs(m["mean_trade_return"]) < 0.002
    assert res.placebo is not None and res.placebo.p_two_sided > 0.01
    # the same leak through the built-in rule (day-0 return, known at the day-0 close)
    rule_res = _run(frames, events, rule, signal="rule:day0-return")
    assert abs(rule_res.metrics["mean_trade_t"]) < 3


def test_the_same_signal_pays_hugely_when_the_code_looks_ahead(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Proof that the test above can fail: fill one session early and the leak is cashed."""
    frames, events = _leaky_world()
    honest = entry_sessions

    def leaky(*args: object, **kwargs: object) -> tuple[np.ndarray, np.ndarray]:
        entry, at_open = honest(*args, **kwargs)  # type: ignore[arg-type]
        return np.maximum(entry - 1, 0), at_open

    monkeypatch.setattr(bt, "entry_sessions", leaky)
    res = _run(frames, events, EntryRule.close)
    assert res.metrics["mean_trade_return"] > 0.01
    assert res.metrics["mean_trade_t"] > 20
    assert res.placebo is not None and res.placebo.p_one_sided < 0.01
