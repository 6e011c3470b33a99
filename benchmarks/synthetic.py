"""A synthetic but realistic price panel and event catalogue for benchmarks.

The panel follows a one-factor model on the real XNYS calendar:

* market index ``^GSPC``: daily return 0.03% drift plus a Student-t(4) shock
  scaled to 1% volatility (fat tails), traded on every session;
* each stock: ``r = alpha + beta * r_m + e`` with beta ~ N(1, 0.3), alpha ~
  N(0, 2e-4), idiosyncratic volatility uniform in [1%, 3%] and Student-t(3)
  shocks (fatter tails);
* listing spans: a fifth of the stocks list during the first five years, a
  tenth delist during the last five;
* missing days: each stock misses a price on ~2% of its sessions (thin
  trading, so the next return spans two sessions) and Yahoo-style flat
  zero-volume filler rows appear on ~0.3% of sessions (the cleaning rules turn
  them into missing prices).

Events pick stocks with Zipf-like weights (news concentrates on large caps)
and day-0 sessions on which the stock is listed with a full window; 60% carry
a UTC timestamp at a random time of day, the rest a date with a
``pre|intra|post|unknown`` timing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketreact.calendar import exchange_sessions
from marketreact.prices.frames import PRICE_COLUMNS

MARKET = "^GSPC"


@dataclass
class Panel:
    """Synthetic prices: standard frames by ticker and the session axis."""

    frames: dict[str, pd.DataFrame]
    sessions: pd.DatetimeIndex
    listed: np.ndarray  # (N, 2) first and last listed session position per stock
    tickers: list[str]
    returns: pd.DataFrame  # sessions x (tickers + market), simple returns since the last price


def make_panel(n_tickers: int = 3000, start: str = "2015-01-01", end: str = "2024-12-31",
               seed: int = 0, missing: float = 0.02, filler: float = 0.003) -> Panel:
    """Build ``n_tickers`` stocks plus the market index as standard price frames."""
    rng = np.random.default_rng(seed)
    sessions = exchange_sessions("XNYS", pd.Timestamp(start), pd.Timestamp(end)).labels
    T = len(sessions)
    mkt = 0.0003 + 0.01 * rng.standard_t(4, T) / np.sqrt(2.0)
    beta = rng.normal(1.0, 0.3, n_tickers)
    alpha = rng.normal(0.0, 2e-4, n_tickers)
    sig = rng.uniform(0.01, 0.03, n_tickers)
    eps = rng.standard_t(3, (n_tickers, T)) / np.sqrt(3.0)
    eps *= sig[:, None]
    r = alpha[:, None] + beta[:, None] * mkt[None, :] + eps
    np.clip(r, -0.9, 2.0, out=r)
    r[:, 0] = 0.0
    price = rng.uniform(5, 200, n_tickers)[:, None] * np.cumprod(1.0 + r, axis=1)
    del r, eps
    first = np.zeros(n_tickers, dtype=np.int64)
    last = np.full(n_tickers, T - 1, dtype=np.int64)
    late = rng.random(n_tickers) < 0.2
    first[late] = rng.integers(1, 5 * 252, late.sum())
    gone = rng.random(n_tickers) < 0.1
    last[gone] = rng.integers(T - 5 * 252, T - 1, gone.sum())
    pos = np.arange(T)
    listed = (pos >= first[:, None]) & (pos <= last[:, None])
    hole = rng.random((n_tickers, T)) < missing
    fill = (rng.random((n_tickers, T)) < filler) & ~hole
    hole[:, 0] = False
    volume = rng.lognormal(12, 1, (n_tickers, T)).round()
    close = price.copy()
    # a filler row repeats the previous close with zero volume
    close[:, 1:] = np.where(fill[:, 1:], close[:, :-1], close[:, 1:])
    volume[fill] = 0.0
    keep = listed & ~hole
    frames: dict[str, pd.DataFrame] = {}
    tickers = [f"S{i:05d}" for i in range(n_tickers)]
    values = np.empty((T, len(PRICE_COLUMNS)))
    for i, t in enumerate(tickers):
        rows = keep[i]
        values[:, 0] = close[i] * 0.995
        values[:, 1] = close[i] * 1.01
        values[:, 2] = close[i] * 0.99
        values[:, 3] = close[i]
        values[:, 4] = close[i]
        values[:, 5] = volume[i]
        frame = pd.DataFrame(values[rows], index=sessions[rows], columns=list(PRICE_COLUMNS))
        frame.index.name = "date"
        frames[t] = frame
    mprice = 2000.0 * np.cumprod(1.0 + mkt)
    mframe = pd.DataFrame({"open": mprice, "high": mprice, "low": mprice, "close": mprice,
                           "adj_close": mprice, "volume": np.nan}, index=sessions)
    mframe.index.name = "date"
    frames[MARKET] = mframe
    # returns as a user would compute them from the cleaned prices (for the baselines)
    px = np.where(keep & ~fill, price, np.nan)
    wide = pd.DataFrame(px.T, index=sessions, columns=tickers)
    wide[MARKET] = mprice
    rets = wide.ffill().pct_change(fill_method=None).where(wide.notna())
    return Panel(frames, sessions, np.stack([first, last], axis=1), tickers, rets)


def make_events(panel: Panel, n_events: int, seed: int = 1,
                estimation: int = 250, after: int = 15, sentiment: bool = False) -> pd.DataFrame:
    """``n_events`` events as a catalogue frame (the columns of an events CSV).

    With ``sentiment``, a ``sentiment`` column (the backtest's signal) is added:
    N(0, 1) rounded to 0.01, so about 0.4% of the events are neutral (not traded).
    """
    rng = np.random.default_rng(seed)
    n = len(panel.tickers)
    weight = 1.0 / np.arange(1, n + 1) ** 0.8
    weight /= weight.sum()
    stock = rng.choice(n, size=n_events, p=weight)
    lo = panel.listed[stock, 0] + estimation + 5
    hi = panel.listed[stock, 1] - after
    ok = hi > lo
    stock, lo, hi = stock[ok], lo[ok], hi[ok]
    while len(stock) < n_events:  # redraw events of stocks listed too briefly
        more = rng.choice(n, size=n_events - len(stock), p=weight)
        mlo = panel.listed[more, 0] + estimation + 5
        mhi = panel.listed[more, 1] - after
        good = mhi > mlo
        stock = np.concatenate([stock, more[good]])
        lo = np.concatenate([lo, mlo[good]])
        hi = np.concatenate([hi, mhi[good]])
    day = lo + (rng.random(n_events) * (hi - lo)).astype(np.int64)
    dates = panel.sessions[day]
    with_ts = rng.random(n_events) < 0.6
    local = (dates + pd.to_timedelta(rng.integers(0, 24 * 60, n_events), unit="min"))
    stamps = local.tz_localize("America/New_York", nonexistent="shift_forward",
                               ambiguous="NaT").tz_convert("UTC")
    timing = np.array(["pre", "intra", "post", "unknown"])[rng.integers(0, 4, n_events)]
    frame = pd.DataFrame({
        "event_id": [f"E{i:07d}" for i in range(n_events)],
        "ticker": np.asarray(panel.tickers, dtype=object)[stock],
        "timestamp": pd.Series(stamps).where(with_ts & stamps.notna()),
        "date": pd.Series(dates).where(~with_ts | stamps.isna()),
        "timing": np.where(with_ts & stamps.notna(), "", timing),
    })
    if sentiment:
        frame["sentiment"] = rng.normal(0.0, 1.0, n_events).round(2)
    return frame
