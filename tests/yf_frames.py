"""Frames shaped exactly like ``yfinance.download(..., auto_adjust=False)`` output (yfinance 1.7).

Shape facts (from yfinance 1.7's ``multi.py``): columns are a two-level MultiIndex named
``("Price", "Ticker")`` with the price level sorted (``Adj Close, Close, High, Low, Open, Volume``),
even for one ticker; the index is a tz-naive ``DatetimeIndex`` named ``Date``; a ticker whose
download failed keeps all six columns, all-NaN, over the union of the other tickers' dates; when
every ticker failed the frame has the columns and zero rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FIELDS = ("Adj Close", "Close", "High", "Low", "Open", "Volume")


def yf_download_frame(prices: dict[str, pd.Series | None]) -> pd.DataFrame:
    """Build a download result: ``None`` for a ticker that failed."""
    good = [s for s in prices.values() if s is not None]
    index = (pd.DatetimeIndex(sorted(set().union(*[set(s.index) for s in good])))
             if good else pd.DatetimeIndex([]))
    index = index.astype("datetime64[s]") if len(index) else index
    index.name = "Date"
    columns = pd.MultiIndex.from_product([FIELDS, sorted(prices)], names=["Price", "Ticker"])
    frame = pd.DataFrame(np.nan, index=index, columns=columns)
    for ticker, close in prices.items():
        if close is None:
            continue
        close = close.reindex(index)
        frame[("Close", ticker)] = close.to_numpy()
        frame[("Adj Close", ticker)] = (close * 0.98).to_numpy()
        frame[("Open", ticker)] = (close * 0.99).to_numpy()
        frame[("High", ticker)] = (close * 1.01).to_numpy()
        frame[("Low", ticker)] = (close * 0.97).to_numpy()
        frame[("Volume", ticker)] = np.where(close.notna(), 1_000_000.0, np.nan)
    return frame


def closes(start: str, periods: int, first: float = 100.0) -> pd.Series:
    """A business-day close series rising 1% a day."""
    dates = pd.bdate_range(start, periods=periods)
    return pd.Series(first * 1.01 ** np.arange(periods), index=dates)
