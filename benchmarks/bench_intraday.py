"""Timing of a 10,000-event hourly intraday study on the shared Lean bars (own script).

Usage: python benchmarks/bench_intraday.py [SHARED_INTRADAY_DIR] [N_EVENTS]
Random news times (seeded) inside regular sessions 2004-2020 on BAC, AIG, IBM, AAPL
against SPY; prints the seconds of reading the bars, building the panel and fitting.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from marketreact.events import events_from_frame
from marketreact.panel.bars import build_bar_panel
from marketreact.prices.bars import parse_interval, read_bar_folder
from marketreact.study.intraday import IntradayStudy


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data/intraday")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    t0 = time.perf_counter()
    bars = read_bar_folder(root, ["BAC", "AIG", "IBM", "AAPL", "SPY"], "1h")
    t1 = time.perf_counter()
    panel = build_bar_panel(bars, parse_interval("1h"))
    t2 = time.perf_counter()
    rng = np.random.default_rng(0)
    ok = np.flatnonzero(panel.regular & (panel.starts >= pd.Timestamp("2004-01-01", tz="UTC")))
    pick = rng.choice(ok, n)
    times = pd.DatetimeIndex(panel.eff_start[pick] + rng.integers(0, 30, n) * 60_000_000_000,
                             tz="UTC")
    events = events_from_frame(pd.DataFrame({
        "event_id": [f"r{i}" for i in range(n)],
        "ticker": rng.choice(["BAC", "AIG", "IBM", "AAPL"], n), "market": "SPY",
        "timestamp": [t.isoformat() for t in times]}))
    t3 = time.perf_counter()
    res = IntradayStudy("1h", (-3, 3), market="SPY").fit(events, panel)
    t4 = time.perf_counter()
    print(f"intraday hourly study: {len(res.events)} events ({len(res.failures)} left out), "
          f"read {t1 - t0:.2f}s, panel {t2 - t1:.2f}s, catalogue {t3 - t2:.2f}s, "
          f"fit {t4 - t3:.2f}s")


if __name__ == "__main__":
    main()
