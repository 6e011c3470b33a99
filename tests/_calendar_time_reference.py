"""Shared data and reference of the calendar-time tests (CLI and library).

The events: the first news of each mag-7 stock in each month, Nov 2023 to Oct 2024
(docs/study.md: 84). The reference: the portfolio series rebuilt from the raw price
CSVs with pandas (day 0 from the news time and the NYSE closes of exchange_calendars'
schedule, returns by ``pct_change`` of the closes, the equal-weighted mean of the firms
within [0, H] of an event), to be regressed directly with statsmodels.
"""

from __future__ import annotations

from pathlib import Path

import exchange_calendars as xcals
import numpy as np
import pandas as pd


def write_mag7_monthly(shared_data: Path, folder: Path) -> Path:
    """Write the first news of each stock in each month, Nov 2023 to Oct 2024, as a catalogue."""
    news = pd.read_csv(shared_data / "news" / "mag7_news.csv", parse_dates=["datetime"])
    month = news["datetime"].dt.to_period("M")
    news = news[(month >= pd.Period("2023-11")) & (month <= pd.Period("2024-10"))]
    first = news.sort_values("datetime").groupby(
        ["ticker", news["datetime"].dt.to_period("M")]).head(1)
    path = folder / "mag7_monthly_first_news.csv"
    pd.DataFrame({
        "event_id": first["ticker"] + "-" + first["datetime"].dt.strftime("%Y-%m"),
        "ticker": first["ticker"],
        "timestamp": first["datetime"].dt.tz_localize("America/New_York").map(
            lambda t: t.isoformat())}).to_csv(path, index=False)
    return path


def reference_portfolio(events: Path, us: Path, horizon: int) -> pd.DataFrame:
    """The portfolio's return and SPY's, per session with at least one firm."""
    cat = pd.read_csv(events)
    close = {t: pd.read_csv(us / f"{t}.csv", parse_dates=["Date"]).set_index("Date")["Close"]
             for t in [*sorted(cat["ticker"].unique()), "SPY"]}
    sessions = close["SPY"].loc["2023-06-01":].index
    rets = pd.DataFrame({t: c.reindex(sessions) for t, c in close.items()}).pct_change()
    closes = xcals.get_calendar("XNYS").schedule.loc[
        sessions[0]:sessions[-1], "close"].reindex(sessions)
    when = pd.to_datetime(cat["timestamp"], utc=True)
    day0 = np.searchsorted(closes.to_numpy(), when.to_numpy(), side="right")
    active = np.zeros((len(sessions), len(close) - 1), dtype=bool)
    cols = {t: i for i, t in enumerate(rets.columns[:-1])}
    for pos, tick in zip(day0, cat["ticker"], strict=True):  # 84 events: a loop is plain
        active[pos:pos + horizon + 1, cols[tick]] = True
    stock = rets.iloc[:, :-1].where(active)
    out = pd.DataFrame({"ret": stock.mean(axis=1), "n": stock.notna().sum(axis=1),
                        "mkt": rets["SPY"]}, index=sessions)
    return out[(out["n"] > 0) & out["mkt"].notna()]
