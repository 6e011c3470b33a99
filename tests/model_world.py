"""A synthetic market shared by the model tests: NYSE sessions, factors, a stock."""

from __future__ import annotations

import numpy as np
import pandas as pd

from marketreact import events_from_frame
from marketreact.calendar import exchange_sessions
from marketreact.events.catalogue import EventCatalogue

EST = (-250, -11)
WIN = (-10, 10)


def frame_from_close(close: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"open": close, "high": close, "low": close, "close": close,
                         "adj_close": close, "volume": 1e6}, index=close.index)


def build_world() -> dict:
    """Three years of NYSE sessions with a market, factors and a stock driven by them."""
    rng = np.random.default_rng(20231211)
    days = exchange_sessions("XNYS", pd.Timestamp("2021-01-04"),
                             pd.Timestamp("2023-12-29")).labels
    T = len(days)
    f = pd.DataFrame({
        "mkt_rf": rng.normal(0.0004, 0.010, T), "smb": rng.normal(0, 0.005, T),
        "hml": rng.normal(0, 0.005, T), "rmw": rng.normal(0, 0.004, T),
        "cma": rng.normal(0, 0.004, T), "mom": rng.normal(0, 0.006, T),
        "rf": np.full(T, 0.0001) + rng.uniform(0, 0.00005, T),
    }, index=days)
    m = f["mkt_rf"].to_numpy() + f["rf"].to_numpy()
    # thin trading: the stock reacts to the market with a lag as well
    lagged = np.concatenate([[0.0], m[:-1]])
    noise = rng.normal(0, 0.012, T)
    r = (f["rf"].to_numpy() + 0.0003 + 0.8 * f["mkt_rf"].to_numpy() + 0.4 * lagged
         + 0.5 * f["smb"].to_numpy() - 0.3 * f["hml"].to_numpy() + 0.2 * f["rmw"].to_numpy()
         + 0.1 * f["cma"].to_numpy() + 0.3 * f["mom"].to_numpy() + noise)
    mkt = pd.Series(100 * np.cumprod(1 + m), index=days)
    stock = pd.Series(20 * np.cumprod(1 + r), index=days)
    prices = {"MKT": frame_from_close(mkt), "AAA": frame_from_close(stock)}
    i0 = int(np.searchsorted(days, pd.Timestamp("2023-06-15")))
    return {"days": days, "factors": f, "prices": prices, "i0": i0,
            "R": stock.pct_change().to_numpy(), "M": mkt.pct_change().to_numpy()}


def one_event(world: dict, ticker: str = "AAA") -> EventCatalogue:
    day = world["days"][world["i0"]]
    return events_from_frame(pd.DataFrame([{
        "event_id": "e1", "ticker": ticker, "market": "MKT",
        "date": day.strftime("%Y-%m-%d"), "timing": "intra"}]))


