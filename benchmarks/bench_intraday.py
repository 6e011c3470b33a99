"""Benchmark: a 10,000-event hourly intraday study on the shared Lean bars, as one table row.

Usage::

    python benchmarks/bench_intraday.py [--data ../shared/data/intraday] [--events 10000]
                                        [--repeat 3] [--window -3:3]

Random news times (seeded) inside regular sessions 2004-2020 on BAC, AIG, IBM, AAPL
against SPY. Reads the bars (with the factor files), builds the bar panel once, then
fits ``IntradayStudy`` ``--repeat`` times (market model on 20 sessions, the battery,
the time-of-day rank test and the abnormal volume included) and prints a Markdown header
and one row: events, studied, read s, panel s, fit s (best), fit s (each), events/s of
the best fit, peak memory of the process (GB, ``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from marketreact.events import events_from_frame
from marketreact.panel.bars import build_bar_panel
from marketreact.prices.bars import parse_interval, read_bar_folder
from marketreact.study.intraday import IntradayStudy
from marketreact.windows import parse_window

HEADER = ("| intraday study | events | studied | read s | panel s | fit s (best) | fit s (each) "
          "| events/s | peak GB |\n|---|---:|---:|---:|---:|---:|---|---:|---:|")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/intraday"))
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--window", default="-3:3")
    args = ap.parse_args(argv)
    window = parse_window(args.window, "window")
    t0 = time.perf_counter()
    bars = read_bar_folder(args.data, ["BAC", "AIG", "IBM", "AAPL", "SPY"], "1h")
    t1 = time.perf_counter()
    panel = build_bar_panel(bars, parse_interval("1h"))
    t2 = time.perf_counter()
    n = args.events
    rng = np.random.default_rng(0)
    ok = np.flatnonzero(panel.regular & (panel.starts >= pd.Timestamp("2004-01-01", tz="UTC")))
    pick = rng.choice(ok, n)
    times = pd.DatetimeIndex(panel.eff_start[pick] + rng.integers(0, 30, n) * 60_000_000_000,
                             tz="UTC")
    events = events_from_frame(pd.DataFrame({
        "event_id": [f"r{i}" for i in range(n)],
        "ticker": rng.choice(["BAC", "AIG", "IBM", "AAPL"], n), "market": "SPY",
        "timestamp": [t.isoformat() for t in times]}))
    study = IntradayStudy("1h", window, market="SPY")
    each = []
    res = None
    for _ in range(max(args.repeat, 1)):
        s = time.perf_counter()
        res = study.fit(events, panel)
        each.append(time.perf_counter() - s)
    assert res is not None
    best = min(each)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    print(HEADER)
    print(f"| hourly, window {args.window} | {n:,} | {len(res.events):,} | {t1 - t0:.2f} | "
          f"{t2 - t1:.2f} | {best:.2f} | {', '.join(f'{x:.2f}' for x in each)} | "
          f"{len(res.events) / best:,.0f} | {peak:.2f} |")


if __name__ == "__main__":
    main()
