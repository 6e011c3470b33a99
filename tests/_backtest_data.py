"""Synthetic price frames on a real exchange calendar, for backtest tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from marketreact.calendar import exchange_sessions
from marketreact.prices.frames import standard_frame


def xnys_labels(start: str, end: str) -> pd.DatetimeIndex:
    """NYSE session dates between two dates (exchange_calendars)."""
    return exchange_sessions("XNYS", pd.Timestamp(start), pd.Timestamp(end)).labels


def frame(labels: pd.DatetimeIndex, close: np.ndarray,
          open_: np.ndarray | None = None) -> pd.DataFrame:
    """A standard price frame with the given closes (and opens)."""
    data = pd.DataFrame({"close": np.asarray(close, dtype=float),
                         "volume": np.full(len(labels), 1e6)}, index=labels)
    if open_ is not None:
        data["open"] = np.asarray(open_, dtype=float)
    return standard_frame(data)


def random_walk(labels: pd.DatetimeIndex, tickers: list[str], seed: int = 0,
                vol: float = 0.02, market: str | None = "MKT",
                beta: float = 1.0) -> dict[str, pd.DataFrame]:
    """Random-walk closes and opens (open = previous close times an overnight move)."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    out: dict[str, pd.DataFrame] = {}
    mret = rng.normal(0.0003, 0.01, n)
    if market:
        mclose = 100 * np.cumprod(1 + mret)
        mopen = np.concatenate(([100.0], mclose[:-1])) * (1 + rng.normal(0, 0.002, n))
        out[market] = frame(labels, mclose, mopen)
    for t in tickers:
        r = beta * mret + rng.normal(0, vol, n)
        close = 50 * np.cumprod(1 + r)
        prev = np.concatenate(([50.0], close[:-1]))
        open_ = prev * (1 + rng.normal(0, vol / 3, n))
        out[t] = frame(labels, close, open_)
    return out


def et(stamp: str) -> str:
    """An ISO timestamp in New York time with its offset (``2024-01-03 15:00``)."""
    return pd.Timestamp(stamp).tz_localize("America/New_York").isoformat()
