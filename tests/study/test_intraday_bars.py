"""Bars in: bar CSVs, Lean factor files, Yahoo intraday limits (offline), split handling.

References: hand computations written out below, and the shared Lean data
(/work/shared/data/intraday, PROVENANCE.md section 7: AAPL 7:1 split on 2014-06-09).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from marketreact.errors import InputError
from marketreact.panel.bars import build_bar_panel
from marketreact.prices import bars as pb

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "intraday"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared intraday data absent")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_read_bars_offsets_to_utc(tmp_path):
    p = _write(tmp_path, "X.csv", "timestamp,open,high,low,close,volume\n"
               "2013-10-09T09:00:00-04:00,10,11,9,10.5,100\n"
               "2013-10-09T10:00:00-04:00,10.5,11,10,11,50\n")
    bars = pb.read_bars(p)
    assert str(bars.index.tz) == "UTC"
    assert bars.index[0] == pd.Timestamp("2013-10-09 13:00", tz="UTC")  # 09:00 EDT = 13:00 UTC
    assert bars["close"].tolist() == [10.5, 11.0]


def test_naive_stamps_need_a_zone_and_bar_end(tmp_path):
    p = _write(tmp_path, "X.csv", "timestamp,open,high,low,close\n"
               "2013-10-09 10:00,10,11,9,10.5\n")
    with pytest.raises(InputError) as err:
        pb.read_bars(p)
    assert ":2, field 'timestamp'" in str(err.value) and "no UTC offset" in str(err.value)
    bars = pb.read_bars(p, tz="America/New_York", stamp="end", interval="1h")
    # the stamp 10:00 EDT marks the end of a one-hour bar: it starts at 09:00 EDT = 13:00 UTC
    assert bars.index[0] == pd.Timestamp("2013-10-09 13:00", tz="UTC")


def test_bad_cells_name_line_and_field(tmp_path):
    p = _write(tmp_path, "X.csv", "timestamp,open,high,low,close\n"
               "2013-10-09T10:00:00-04:00,10,11,9,10.5\n"
               "2013-10-09T11:00:00-04:00,10,11,9,-1\n")
    with pytest.raises(InputError) as err:
        pb.read_bars(p)
    assert str(err.value.problems[0]) == (
        f"{p}:3, field 'close', value '-1': is not a positive number")


def test_factor_adjustment_by_hand(tmp_path):
    f = _write(tmp_path, "F.csv", "date,price_factor,split_factor,reference_price\n"
               "2014-06-06,0.9,0.25,645.57\n2014-08-06,1.0,1.0,94.97\n")
    factors = pb.read_factor_file(f)
    idx = pd.DatetimeIndex(["2014-06-06 19:00", "2014-06-09 13:30", "2014-09-01 14:00"],
                           tz="UTC", name="start")
    raw = pd.DataFrame({"open": [100.0, 100.0, 100.0], "high": 100.0, "low": 100.0,
                        "close": [100.0, 100.0, 100.0], "volume": [10.0, 10.0, 10.0]}, idx)
    adj = pb.adjust_bars(raw, factors)
    # day 06-06 -> row 06-06 (0.9*0.25); 06-09 -> first row on/after = 08-06 (1*1); after the
    # last row: factor 1
    assert adj["close"].tolist() == pytest.approx([22.5, 100.0, 100.0])
    assert adj["volume"].tolist() == pytest.approx([40.0, 10.0, 10.0])


@needs_shared
def test_aapl_split_is_never_a_minus_86_percent_bar():
    for interval in ("1h", "1m"):
        bars = pb.read_bar_folder(SHARED, ["AAPL"], interval)
        raw = pb.read_bars(pb.bar_folder(SHARED, interval) / "AAPL.csv")
        panel = build_bar_panel(bars, pb.parse_interval(interval))
        s = int(np.searchsorted(panel.labels, pd.Timestamp("2014-06-09")))
        assert panel.labels[s] == pd.Timestamp("2014-06-09")
        # raw prices: Friday close ~645.57, Monday open ~92.7 (the 7:1 split)
        fri = raw.loc[raw.index.tz_convert("America/New_York").date
                      == pd.Timestamp("2014-06-06").date(), "close"].iloc[-1]
        assert fri > 600
        on = panel.overnight[0, s]
        assert abs(on) < 0.05, on
        assert np.nanmin(panel.returns[0]) > -0.5


def test_split_without_factors_is_suspect_not_a_return():
    idx = pd.DatetimeIndex(["2014-06-06 13:30", "2014-06-06 14:00", "2014-06-06 15:00"],
                           tz="UTC")
    f = pd.DataFrame({"open": [645.0, 645.0, 92.0], "close": [645.0, 645.0, 92.1],
                      "volume": 1.0}, idx)
    panel = build_bar_panel({"AAPL": f}, pd.Timedelta(hours=1))
    # 92.1/645 - 1 = -0.857: within 3% of 1/7 -> suspect, set missing
    assert panel.suspect.sum() == 1 and np.isnan(panel.returns[0, 2])


def test_yahoo_lookback_refused_up_front(monkeypatch):
    import yfinance as yf

    def boom(*a, **k):  # pragma: no cover - must not be called
        raise AssertionError("download called")

    monkeypatch.setattr(yf, "download", boom)
    now = pd.Timestamp("2026-11-30", tz="UTC")
    for interval, days in (("1m", 8), ("5m", 61), ("90m", 61), ("1h", 731), ("60m", 731)):
        with pytest.raises(InputError) as err:
            pb.fetch_yahoo_bars(["SPY"], interval, now - pd.Timedelta(days=days), now, now=now)
        assert len(err.value.problems) == 1 and "\n" not in str(err.value)
        assert f"about {pb.YAHOO_LOOKBACK[interval].days} days" in str(err.value)
    with pytest.raises(InputError, match="Yahoo serves"):
        pb.check_yahoo_request("3m", now, now)


def test_yahoo_fetch_with_patched_download(monkeypatch, tmp_path):
    import yfinance as yf

    calls = []
    idx = pd.DatetimeIndex(["2026-11-27 09:30", "2026-11-27 10:30"],
                           tz="America/New_York", name="Datetime")
    cols = pd.MultiIndex.from_product([["Adj Close", "Close", "High", "Low", "Open", "Volume"],
                                       ["SPY"]], names=["Price", "Ticker"])
    data = pd.DataFrame([[1, 100.5, 101, 99, 100, 10], [1, 101.0, 102, 100, 100.5, 20]],
                        index=idx, columns=cols, dtype=float)

    def fake(tickers, **kw):
        calls.append((tickers, kw))
        return data

    monkeypatch.setattr(yf, "download", fake)
    now = pd.Timestamp("2026-11-30", tz="UTC")
    out = pb.fetch_yahoo_bars(["SPY"], "1h", now - pd.Timedelta(days=5), now, now=now,
                              cache_dir=tmp_path)
    assert calls[0][1]["interval"] == "1h" and calls[0][1]["prepost"] is False
    assert out["SPY"].index[0] == pd.Timestamp("2026-11-27 14:30", tz="UTC")
    assert out["SPY"]["close"].tolist() == [100.5, 101.0]
    assert (tmp_path / "intraday" / "1h" / "SPY.parquet").is_file()


def test_parse_interval():
    assert pb.parse_interval("5m") == pd.Timedelta(minutes=5)
    assert pb.parse_interval("1h") == pd.Timedelta(hours=1)
    with pytest.raises(InputError):
        pb.parse_interval("five")
