"""The front half shared by the study and the backtest (marketreact.panel.lineup).

References: per-event Python loops (``tuple.index``, ``x in tuple``) for the rows,
``anchor_day0`` for day 0, ``clean_prices``-style per-frame code for the opens, and
the study and backtest on the same prices given three ways (frames, a PriceFetch from
``load_prices``, a PriceTable).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _backtest_data import et, random_walk, xnys_labels
from marketreact import EventStudy, events_from_frame
from marketreact.backtest.run import Backtest
from marketreact.calendar import SessionSource, anchor_day0
from marketreact.panel.lineup import (
    Failure,
    adjusted_opens,
    assign_markets,
    failure_frame,
    line_up,
    price_table,
    rows_of,
)
from marketreact.panel.returns import ExchangePanel, ReturnKind
from marketreact.panel.table import PriceTable
from marketreact.prices import CsvSource, load_prices

LABELS = xnys_labels("2023-01-03", "2024-06-28")
TICKERS = [f"T{i:02d}" for i in range(12)]


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    out = random_walk(LABELS, TICKERS, seed=3)
    # holes, a removed row, a split-adjusted stock (adj_close != close) and a late listing
    out["T01"] = out["T01"].drop(out["T01"].index[[40, 41, 200]])
    t2 = out["T02"].copy()
    t2["adj_close"] = t2["close"] * 0.5
    t2.iloc[30, t2.columns.get_loc("open")] = -1.0  # a non-positive open: missing
    out["T02"] = t2
    out["T03"] = out["T03"].iloc[150:]
    # the market misses a calendar session: it is dropped from the sessions
    out["MKT"] = out["MKT"].drop(LABELS[100])
    out["EMPTY"] = out["T04"].iloc[:0]
    return out


def _events(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = np.array([*TICKERS, "NOPE", "EMPTY"], dtype=object)
    day = rng.integers(270, len(LABELS) - 20, n)
    stamp = [et(f"{LABELS[d].date()} {h:02d}:15") for d, h in
             zip(day, rng.integers(6, 20, n), strict=True)]
    return pd.DataFrame({
        "event_id": [f"E{i:04d}" for i in range(n)],
        "ticker": names[rng.integers(0, len(names), n)],
        "timestamp": stamp, "market": "MKT",
        "sentiment": rng.normal(size=n).round(2),
    })


def test_a_price_source_is_refused_with_the_step_to_take(frames) -> None:
    cat = events_from_frame(_events(20))
    source = CsvSource(".")
    for call in (lambda: EventStudy().fit(cat, source),  # type: ignore[arg-type]
                 lambda: Backtest(entry="close").run(cat, source),  # type: ignore[arg-type]
                 lambda: price_table(source, cat.frame)):
        with pytest.raises(TypeError, match=r"load_prices\(source, events") as info:
            call()
        assert "\n" not in str(info.value)
    with pytest.raises(TypeError, match="PriceFetch"):
        price_table(42, cat.frame)


def test_prices_given_three_ways_give_the_same_study_and_backtest(frames) -> None:
    cat = events_from_frame(_events(300))
    fetch = load_prices(frames, cat, before=250, after=10)
    table = PriceTable(fetch.frames)
    a, b, c = (EventStudy(n_boot=0).fit(cat, p) for p in (frames, fetch, table))
    for other in (b, c):
        pd.testing.assert_frame_equal(a.car, other.car)
        pd.testing.assert_frame_equal(a.events, other.events)
    # a table knows nothing of why a ticker is missing; otherwise the same failures
    pd.testing.assert_frame_equal(a.failures, b.failures)
    assert a.failures["event_id"].tolist() == c.failures["event_id"].tolist()
    bt = Backtest(entry="next-open", hold=3, hedge="market", placebo_draws=50)
    x, y = bt.run(cat, frames), bt.run(cat, fetch)
    pd.testing.assert_frame_equal(x.trades, y.trades)
    pd.testing.assert_frame_equal(x.daily, y.daily)
    pd.testing.assert_frame_equal(x.failures, y.failures)


def test_frames_given_by_ticker_are_normalised_like_load_prices(frames) -> None:
    ev = _events(200)
    ev = ev.loc[ev["ticker"].isin(["T05", "T06"])]
    cat = events_from_frame(ev)
    yf_like = {t: f.rename(columns={"close": "Close", "adj_close": "Adj Close", "open": "Open",
                                    "volume": "Volume", "high": "High", "low": "Low"})
               for t, f in frames.items()}
    plain = EventStudy(n_boot=0).fit(cat, frames)
    renamed = EventStudy(n_boot=0).fit(cat, yf_like)
    pd.testing.assert_frame_equal(plain.car, renamed.car)
    priced = price_table(yf_like, assign_markets(cat.frame, None, required=True)[0])
    assert list(priced.table.tickers) == ["T05", "T06", "MKT"]  # only the tickers named


def test_missing_and_empty_prices_fail_with_their_reason_in_catalogue_order(frames) -> None:
    ev = _events(300)
    cat = events_from_frame(ev)
    res = Backtest(entry="close", hold=2, placebo_draws=0).run(cat, frames)
    why = res.failures.set_index("event_id")["reason"]
    nope = ev.loc[ev["ticker"] == "NOPE", "event_id"]
    empty = ev.loc[ev["ticker"] == "EMPTY", "event_id"]
    assert len(nope) and len(empty)
    assert (why.loc[nope] == "prices: no prices given for NOPE").all()
    assert (why.loc[empty] == "prices: no usable prices for EMPTY in the span needed").all()
    order = pd.Index(ev["event_id"]).get_indexer(res.failures["event_id"])
    assert (np.diff(order) > 0).all()
    study = EventStudy(n_boot=0).fit(cat, frames)
    assert (study.failures.set_index("event_id")["reason"].loc[empty]
            == "prices: no usable prices for EMPTY in the span needed").all()


def test_line_up_matches_per_event_lookups(frames) -> None:
    ev = _events(500, seed=4)
    ev.loc[ev.index[::9], "market"] = "NOMKT"  # a market without prices
    cat = events_from_frame(ev)
    events, none = assign_markets(cat.frame, None, required=False)
    assert none == []
    priced = price_table(frames, events)
    lu = line_up("XNYS", events, priced, market_required=False)
    panel = lu.panel
    want = events.loc[events["ticker"].isin(priced.table)]
    assert lu.events["event_id"].tolist() == want["event_id"].tolist()
    stock = [panel.tickers.index(t) for t in want["ticker"]]
    market = [panel.tickers.index(m) if m in panel.tickers else -1 for m in want["market"]]
    np.testing.assert_array_equal(lu.stock_rows, stock)
    np.testing.assert_array_equal(lu.market_rows, market)
    assert (lu.market_rows == -1).sum() == (want["market"] == "NOMKT").sum() > 0
    np.testing.assert_array_equal(lu.day0, anchor_day0(lu.sessions, want["timestamp"],
                                                       want["date"], want["timing"]))
    assert [f.reason for f in lu.failures] == [
        f"prices: {priced.failures.get(t, 'not available')}"
        for t in events.loc[~events["ticker"].isin(priced.table), "ticker"]]
    assert LABELS[100] in lu.sessions.dropped
    assert lu.diagnostics == (f"XNYS: 1 calendar session(s) dropped because MKT did not trade: "
                              f"{LABELS[100].date()}",)
    # the market required: those events fail, naming the market
    strict = line_up("XNYS", events, priced, market_required=True)
    assert sum(f.reason == "market NOMKT: no prices given for NOMKT"
               for f in strict.failures) == (want["market"] == "NOMKT").sum()
    assert (strict.market_rows >= 0).all()


def test_sessions_from_the_market_file(frames) -> None:
    cat = events_from_frame(_events(50))
    priced = price_table(frames, cat.frame)
    lu = line_up("XNYS", cat.frame, priced, sessions=SessionSource.market,
                 returns=ReturnKind.log)
    assert lu.sessions.labels.equals(pd.DatetimeIndex(priced.table.index_of("MKT")))
    assert lu.panel.kind is ReturnKind.log
    bare = {t: f for t, f in frames.items() if t != "MKT"}
    alone = line_up("XNYS", cat.frame, price_table(bare, cat.frame),
                    sessions=SessionSource.market, market_required=False)
    assert not len(alone)
    priced_events = cat.frame["ticker"].isin(bare) & (cat.frame["ticker"] != "EMPTY")
    assert sum("no market index prices are available" in f.reason
               for f in alone.failures) == priced_events.sum() > 0
    assert len(alone.failures) == len(cat.frame)


def test_rows_of_each_distinct_value_once() -> None:
    values = pd.Series(["b", "a", "zz", "b", "", "c"])
    np.testing.assert_array_equal(rows_of(("a", "b", "c"), values), [1, 0, -1, 1, -1, 2])
    assert rows_of(("a",), pd.Series([], dtype=object)).dtype == np.int64


def test_failure_frame_is_in_catalogue_order() -> None:
    ids = pd.Series(["e3", "e1", "e2"])
    got = failure_frame([Failure("e2", "B", "x"), Failure("e3", "A", "y"),
                         Failure("e1", "C", "z")], ids)
    assert got["event_id"].tolist() == ["e3", "e1", "e2"]
    assert list(got.columns) == ["event_id", "ticker", "reason"]
    assert failure_frame([], ids).empty


def _reference_opens(frames: dict[str, pd.DataFrame], panel: ExchangePanel) -> np.ndarray:
    """The backtest's former per-ticker loop over the cleaned frames."""
    table = PriceTable(frames)
    labels = panel.sessions.labels
    out = np.full((len(panel.tickers), len(labels)), np.nan)
    for i, t in enumerate(panel.tickers):
        f = table[t]
        pos = labels.get_indexer(f.index)
        keep = pos >= 0
        raw_close = f["close"].to_numpy(dtype=float)
        adj = f["adj_close"].fillna(f["close"]).to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(np.isfinite(raw_close) & (raw_close > 0), adj / raw_close, 1.0)
        opens = f["open"].to_numpy(dtype=float) * factor
        opens = np.where(opens > 0, opens, np.nan)
        out[i, pos[keep]] = opens[keep]
    return out


def test_adjusted_opens_match_the_per_ticker_loop(frames) -> None:
    cat = events_from_frame(_events(300))
    priced = price_table(frames, cat.frame)
    lu = line_up("XNYS", cat.frame, priced)
    got = adjusted_opens(priced, lu.panel)
    np.testing.assert_array_equal(got, _reference_opens(dict(priced.table.items()), lu.panel))
    row = lu.panel.tickers.index("T02")
    assert np.isnan(got[row]).sum() > np.isnan(lu.panel.prices[row]).sum()  # the bad open
    # a table given as such (no raw frames): the same opens
    from_table = price_table(priced.table, cat.frame)
    np.testing.assert_array_equal(adjusted_opens(from_table, lu.panel), got)


def test_no_per_event_row_lookup(frames, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows come from one vectorised look-up, never ``tuple.index`` per event."""
    def refuse(self: ExchangePanel, ticker: str) -> int:
        raise AssertionError("per-event ExchangePanel.row look-up")

    monkeypatch.setattr(ExchangePanel, "row", refuse)
    cat = events_from_frame(_events(300))
    for hedge in ("none", "market", "beta"):
        res = Backtest(entry="next-open", hold=2, hedge=hedge, placebo_draws=20).run(cat, frames)
        assert len(res.trades)
    assert EventStudy(n_boot=0).fit(cat, frames).n_events
