"""Day 0 on real exchange calendars, and sessions confirmed by the market index."""

from __future__ import annotations

import pandas as pd
import pytest

from marketreact.calendar import (
    anchor_day0,
    exchange_for_ticker,
    exchange_sessions,
    normalise_exchange,
)
from marketreact.prices import CsvSource, clean_prices


def day0(exchange: str, *, timestamp: str | None = None, date: str | None = None,
         timing: str = "unknown", index_dates: pd.DatetimeIndex | None = None) -> pd.Timestamp:
    sessions = exchange_sessions(exchange, pd.Timestamp("2022-01-01"), pd.Timestamp("2024-12-31"),
                                 index_dates)
    ts = pd.Series([pd.Timestamp(timestamp).tz_convert("UTC") if timestamp else pd.NaT],
                   dtype="datetime64[ns, UTC]")
    d = pd.Series([pd.Timestamp(date) if date else pd.NaT], dtype="datetime64[ns]")
    pos = anchor_day0(sessions, ts, d, pd.Series([timing]))
    return sessions.labels[pos[0]]


@pytest.mark.parametrize(
    ("ticker", "exchange"),
    [("GOTO.JK", "XIDX"), ("SE", "XNYS"), ("VOD.L", "XLON"), ("7203.T", "XTKS"),
     ("0700.HK", "XHKG"), ("D05.SI", "XSES"), ("BHP.AX", "XASX"), ("RY.TO", "XTSE"),
     ("SAP.DE", "XETR"), ("MC.PA", "XPAR"), ("BRK.B", "XNYS"), ("ODD.ZZ", None), ("^JKSE", None)],
)
def test_exchange_from_suffix(ticker: str, exchange: str | None) -> None:
    assert exchange_for_ticker(ticker) == exchange


def test_exchange_names_are_normalised() -> None:
    assert normalise_exchange("idx") == "XIDX"
    assert normalise_exchange("XNYS") == "XNYS"
    assert normalise_exchange("NOWHERE") is None


def test_morning_report_in_jakarta_is_that_session() -> None:
    assert day0("XIDX", timestamp="2023-12-05T10:30:00+07:00") == pd.Timestamp("2023-12-05")


def test_report_after_the_jakarta_close_is_the_next_session() -> None:
    assert day0("XIDX", timestamp="2023-12-05T16:30:00+07:00") == pd.Timestamp("2023-12-06")


def test_report_during_the_idx_closing_auction_still_counts_for_that_close() -> None:
    # exchange_calendars closes XIDX at 15:50; the closing auction runs to 16:00.
    assert day0("XIDX", timestamp="2023-12-05T15:55:00+07:00") == pd.Timestamp("2023-12-05")
    assert day0("XIDX", timestamp="2023-12-05T16:00:00+07:00") == pd.Timestamp("2023-12-06")


def test_report_during_eid_closure_moves_to_reopening() -> None:
    # IDX was shut 2023-04-19..2023-04-25 for Eid al-Fitr and reopened on 2023-04-26.
    assert day0("XIDX", date="2023-04-19", timing="intra") == pd.Timestamp("2023-04-26")
    assert day0("XIDX", timestamp="2023-04-19T10:00:00+07:00") == pd.Timestamp("2023-04-26")


def test_after_close_report_in_new_york_is_the_next_session() -> None:
    assert day0("XNYS", timestamp="2023-12-05T16:05:00-05:00") == pd.Timestamp("2023-12-06")
    assert day0("XNYS", timestamp="2023-12-05T15:55:00-05:00") == pd.Timestamp("2023-12-05")
    # Friday after the close -> Monday.
    assert day0("XNYS", timestamp="2023-12-08T17:00:00-05:00") == pd.Timestamp("2023-12-11")


def test_us_listing_seen_from_jakarta_time() -> None:
    # 21:00 Jakarta on Tuesday 2023-12-05 is 09:00 New York the same day: before the NYSE close.
    assert day0("XNYS", timestamp="2023-12-05T21:00:00+07:00") == pd.Timestamp("2023-12-05")
    # 05:00 Jakarta on Wednesday is 17:00 New York on Tuesday: after the close -> Wednesday.
    assert day0("XNYS", timestamp="2023-12-06T05:00:00+07:00") == pd.Timestamp("2023-12-06")
    # 03:30 Jakarta Wednesday is 15:30 New York Tuesday: still Tuesday's session.
    assert day0("XNYS", timestamp="2023-12-06T03:30:00+07:00") == pd.Timestamp("2023-12-05")


@pytest.mark.parametrize(
    ("date", "timing", "expected"),
    [("2023-12-05", "pre", "2023-12-05"), ("2023-12-05", "intra", "2023-12-05"),
     ("2023-12-05", "unknown", "2023-12-05"), ("2023-12-05", "post", "2023-12-06"),
     ("2023-12-09", "pre", "2023-12-11"), ("2023-12-09", "post", "2023-12-11"),
     ("2023-12-08", "post", "2023-12-11")],
)
def test_date_only_events(date: str, timing: str, expected: str) -> None:
    assert day0("XIDX", date=date, timing=timing) == pd.Timestamp(expected)


def test_index_confirms_sessions_on_real_jkse(prices_dir) -> None:
    jkse = CsvSource(prices_dir).fetch(["^JKSE"]).frames["^JKSE"]
    jkse, _ = clean_prices(jkse, "^JKSE")
    sessions = exchange_sessions("XIDX", pd.Timestamp("2022-04-01"), pd.Timestamp("2022-05-31"),
                                 jkse.index, "^JKSE")
    dropped = {str(d.date()) for d in sessions.dropped}
    # Collective-leave closures that exchange_calendars 4.13 lacks: ^JKSE did not print.
    assert {"2022-04-29", "2022-05-04", "2022-05-05", "2022-05-06"} <= dropped
    assert pd.Timestamp("2022-04-29") not in sessions.labels
    # A report on the collective-leave day lands on the next day the market opened.
    assert day0("XIDX", date="2022-04-29", timing="intra",
                index_dates=jkse.index) == pd.Timestamp("2022-05-09")
    # Every remaining session is a day the index traded.
    assert sessions.labels.isin(jkse.index).all()


def test_stock_missing_while_index_traded_is_a_gap_not_a_session(prices_dir) -> None:
    from marketreact.panel.returns import build_panel

    source = CsvSource(prices_dir)
    fetched = source.fetch(["GOTO.JK", "^JKSE"]).frames
    frames = {t: clean_prices(f, t)[0] for t, f in fetched.items()}
    sessions = exchange_sessions("XIDX", pd.Timestamp("2024-01-01"), pd.Timestamp("2024-04-05"),
                                 frames["^JKSE"].index, "^JKSE")
    # ^JKSE traded on 2024-01-15 and 2024-03-25/26; GOTO.JK has flat filler rows there.
    for d in ("2024-01-15", "2024-03-25", "2024-03-26"):
        assert pd.Timestamp(d) in sessions.labels
    panel = build_panel(sessions, {t: frames[t] for t in ("GOTO.JK", "^JKSE")})
    row = panel.row("GOTO.JK")
    at = {d: sessions.labels.get_loc(pd.Timestamp(d)) for d in
          ("2024-01-15", "2024-01-16", "2024-03-27")}
    assert pd.isna(panel.returns[row, at["2024-01-15"]])
    assert panel.span[row, at["2024-01-16"]] == 2  # 01-12 -> 01-16 spans the missing 01-15
    assert panel.span[row, at["2024-03-27"]] == 3
    # The spanning return is the two-session price change, 91 -> 90.
    assert panel.returns[row, at["2024-01-16"]] == pytest.approx(90 / 91 - 1, abs=1e-15)
