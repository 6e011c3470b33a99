"""Monthly prices from daily ones, for event studies in months (``--frequency monthly``).

Each calendar month becomes one row, dated the month's last business day (Monday to
Friday, :func:`numpy.busday_offset`), so that every ticker and the market index share the
same dates whatever their exchange's holidays: the close and adjusted close are the last
of the month, the open the first, high and low the extremes, volume the sum. A month at
the end of a file whose data stop more than :data:`PARTIAL_DAYS` days before its last
business day is left out (its return would cover part of the month only).

The study then takes these dates as its sessions (``sessions="market"``): relative day
``k`` is month ``k``, the event month (the first month end at or after the news) is
month 0, and every window is in months. Pure computation on frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from marketreact.prices.frames import PriceFetch

#: A last month whose data end more than this many days before its last business day is
#: partial and left out.
PARTIAL_DAYS = 4
#: Daily sessions to load per month of a monthly window (about 21 a month, with a margin).
MONTH_SESSIONS = 23

_HOW = {"open": "first", "high": "max", "low": "min", "close": "last", "adj_close": "last",
        "volume": "sum"}


def month_ends(dates: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The last business day (Monday to Friday) of each date's calendar month."""
    ends = dates.to_period("M").to_timestamp(how="end").normalize()
    days = np.busday_offset(ends.to_numpy().astype("datetime64[D]"), 0, roll="backward")
    return pd.DatetimeIndex(days.astype("datetime64[ns]"))


def monthly_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """One standard daily price frame as monthly rows (see the module docstring).

    Parameters
    ----------
    frame : pandas.DataFrame
        Daily prices indexed by date (the columns of
        :data:`marketreact.prices.frames.PRICE_COLUMNS`, any subset).

    Returns
    -------
    pandas.DataFrame
        The same columns, one row per month, indexed by the month's last business day.
    """
    if frame.empty:
        return frame.copy()
    index = pd.DatetimeIndex(frame.index)
    tz = index.tz
    naive = index.tz_localize(None) if tz is not None else index
    ends = month_ends(naive)
    data = frame.set_axis(naive)
    how = {c: _HOW.get(c, "last") for c in data.columns}  # "last": last non-missing value
    grouped = data.groupby(ends.to_numpy())
    out = grouped.agg(how)
    if "volume" in data:  # a month without any volume stays missing, not zero
        out["volume"] = out["volume"].where(grouped["volume"].count() > 0)
    out.index = pd.DatetimeIndex(out.index, name=frame.index.name).as_unit(naive.unit)
    last = naive.max()
    if len(out) and (out.index[-1] - last).days > PARTIAL_DAYS:
        out = out.iloc[:-1]
    if tz is not None:
        out.index = out.index.tz_localize(tz)
    return out


def monthly_prices(prices: PriceFetch | Mapping[str, pd.DataFrame]) -> PriceFetch:
    """Every frame of a price fetch as monthly rows (:func:`monthly_frame`).

    Parameters
    ----------
    prices : PriceFetch or mapping of str to pandas.DataFrame
        Daily prices, e.g. from :func:`marketreact.prices.load_prices`.

    Returns
    -------
    PriceFetch
        Monthly frames; failures, notes and suspect prices carried over.
    """
    if isinstance(prices, PriceFetch):
        return replace(prices, frames={t: monthly_frame(f) for t, f in prices.frames.items()})
    return PriceFetch({t: monthly_frame(f) for t, f in prices.items()}, {})
