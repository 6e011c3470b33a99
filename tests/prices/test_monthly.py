"""Monthly prices from daily ones, against pandas' own month-end resampling (``BME``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from marketreact.prices.frames import PriceFetch
from marketreact.prices.monthly import month_ends, monthly_frame, monthly_prices


def test_month_ends_are_the_last_business_day() -> None:
    dates = pd.DatetimeIndex(["2024-03-01", "2024-03-29", "2024-06-03", "2023-09-30"])
    assert list(month_ends(dates).strftime("%Y-%m-%d")) == [
        "2024-03-29", "2024-03-29", "2024-06-28", "2023-09-29"]


def test_monthly_frame_matches_pandas_resample(prices_dir: Path) -> None:
    frame = pd.read_csv(prices_dir / "idx" / "GOTO.JK.csv", parse_dates=["date"]).set_index(
        "date")[["open", "high", "low", "close", "adj_close", "volume"]]
    frame = frame.loc["2023-01-01":"2024-03-15"]  # March 2024 is partial: left out
    out = monthly_frame(frame)
    ref = frame.resample("BME").agg({"open": "first", "high": "max", "low": "min",
                                     "close": "last", "adj_close": "last", "volume": "sum"})
    ref = ref.loc[:"2024-02-29"]
    assert list(out.index) == list(ref.index)
    pd.testing.assert_frame_equal(out, ref, check_freq=False, check_names=False)
    returns = out["adj_close"].pct_change()
    assert returns.iloc[1] == frame["adj_close"].loc["2023-02"].iloc[-1] / \
        frame["adj_close"].loc["2023-01"].iloc[-1] - 1


def test_monthly_prices_keeps_failures_and_empty_frames() -> None:
    days = pd.bdate_range("2024-01-01", "2024-02-29")
    frame = pd.DataFrame({"close": np.arange(len(days), dtype=float) + 1}, index=days)
    fetch = monthly_prices(PriceFetch({"A": frame, "B": frame.iloc[:0]}, {"C": "no file"}))
    assert fetch.failures == {"C": "no file"}
    assert list(fetch.frames["A"]["close"]) == [23.0, 44.0]
    assert fetch.frames["B"].empty
