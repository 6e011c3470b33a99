"""Benchmark: writing a study's results at scale, and the CLI against the library.

Usage: python benchmarks/bench_write.py [--sizes 25000 50000 100000 200000] [--cli-size 20000]

For each size a study is fitted on a synthetic panel (``synthetic.py``: 1,000 stocks, 2015-2020)
and its results are written with :func:`marketreact.output.write_study` inside a results folder
(staging, manifest and swap, as the CLI does). Reported per size: seconds to write, megabytes
written, microseconds per abnormal-return row, the size of the process's memory growth during
the write, the per-row cost against the smallest size (1.00 = linear), and the baseline in the
same run: the same tables written by pandas ``to_csv`` with ``float_format="%.10g"`` (how
marketreact wrote them before pyarrow's writer: Python formats every float).

``--cli-size`` then writes the panel as a CSV price folder and a catalogue and times
``marketreact study -q`` end to end in a fresh process, beside the library doing the same
(reading the CSVs, fitting and writing) in this process: the CLI's overhead is the difference.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import synthetic  # noqa: E402
from bench import PeakSampler, rss_bytes  # noqa: E402

CAR_WINDOWS = ((-1, 1), (0, 0), (0, 1), (-5, 5))


def _folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())


def time_writes(sizes: list[int], tickers: int, root: Path) -> list[dict]:
    from marketreact import EventStudy, events_from_frame
    from marketreact.output.folder import results_folder
    from marketreact.output.study import write_study

    panel = synthetic.make_panel(tickers, start="2015-01-01", end="2020-12-31")
    rows = []
    for size in sizes:
        catalogue = events_from_frame(synthetic.make_events(panel, size, seed=size))
        result = EventStudy(car_windows=CAR_WINDOWS).fit(catalogue, panel.frames)
        _ = result.abnormal_returns, result.event_diagnostics  # built before the clock starts
        gc.collect()
        out = root / f"write_{size}"
        before = rss_bytes()
        with PeakSampler() as sampler:
            t0 = time.perf_counter()
            with results_folder(out, command="bench") as staging:
                write_study(result, staging)
            seconds = time.perf_counter() - t0
        ar_rows = len(result.abnormal_returns)
        t0 = time.perf_counter()
        for table in (result.events, result.abnormal_returns, result.car, result.aar,
                      result.aggregate, result.overlaps, result.event_diagnostics):
            table.to_csv(root / "baseline.csv", index=False, float_format="%.10g")
        baseline = time.perf_counter() - t0
        rows.append({"baseline_s": baseline, "size": size, "studied": result.n_events,
                     "ar_rows": ar_rows,
                     "write_s": seconds, "mb": _folder_size(out) / 1e6,
                     "us_per_row": 1e6 * seconds / max(ar_rows, 1),
                     "growth_mb": max(sampler.peak - before, 0) / 1e6})
        shutil.rmtree(out)
        del result, catalogue
    return rows


def time_cli(size: int, tickers: int, root: Path) -> dict:
    from marketreact import EventStudy, load_prices, read_events
    from marketreact.output.folder import results_folder
    from marketreact.output.study import write_study
    from marketreact.prices import CsvSource

    panel = synthetic.make_panel(tickers, start="2015-01-01", end="2020-12-31")
    prices = root / "prices"
    prices.mkdir()
    for ticker, frame in panel.frames.items():
        frame.to_csv(prices / f"{ticker}.csv", index_label="date")
    catalogue = root / "events.csv"
    synthetic.make_events(panel, size, seed=size).to_csv(catalogue, index=False)
    del panel
    t0 = time.perf_counter()
    events = read_events(catalogue)
    loaded = load_prices(CsvSource(prices), events, before=250, after=10)
    result = EventStudy(car_windows=CAR_WINDOWS).fit(events, loaded)
    with results_folder(root / "library", command="bench") as staging:
        write_study(result, staging)
    library_s = time.perf_counter() - t0
    del result, loaded
    command = [str(Path(sys.executable).with_name("marketreact")), "study", str(catalogue),
               "--prices", f"csv:{prices}", "--out", str(root / "cli"), "-q"]  # CAR_WINDOWS
    t0 = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    cli_s = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"marketreact study exited {proc.returncode}: {proc.stderr[-500:]}")
    return {"size": size, "library_s": library_s, "cli_s": cli_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25_000, 50_000, 100_000, 200_000])
    parser.add_argument("--tickers", type=int, default=1000)
    parser.add_argument("--cli-size", type=int, default=20_000, help="0 leaves the CLI run out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mr-bench-write-") as tmp:
        rows = time_writes(args.sizes, args.tickers, Path(tmp))
        base = rows[0]["us_per_row"]
        print("\nwriting a study's results (write_study inside a results folder)")
        print(f"{'events':>9} {'AR rows':>10} {'write s':>8} {'MB':>7} {'us/row':>7} "
              f"{'vs first':>8} {'memory +MB':>10} {'pandas s':>9} {'speed-up':>8}")
        for r in rows:
            print(f"{r['studied']:>9,} {r['ar_rows']:>10,} {r['write_s']:>8.2f} {r['mb']:>7.0f} "
                  f"{r['us_per_row']:>7.2f} {r['us_per_row'] / base:>8.2f} "
                  f"{r['growth_mb']:>10.0f} {r['baseline_s']:>9.2f} "
                  f"{r['baseline_s'] / r['write_s']:>8.1f}")
        if args.cli_size:
            cli_dir = Path(tmp) / "cli_run"
            cli_dir.mkdir()
            c = time_cli(args.cli_size, args.tickers, cli_dir)
            print(f"\n{c['size']:,} events from CSV files, read + fit + write: library "
                  f"{c['library_s']:.1f} s, `marketreact study -q` {c['cli_s']:.1f} s "
                  f"(CLI / library {c['cli_s'] / c['library_s']:.2f})")


if __name__ == "__main__":
    main()
