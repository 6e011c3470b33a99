"""Benchmark: a full event study over 10k, 100k and 1M events on a synthetic panel, and a backtest.

Run ``make bench`` (or ``python benchmarks/bench.py --help``). For every size the
study (market model, ARs, CARs over four windows, the cross-event tests that
``EventStudy.fit`` computes) runs in a fresh process, ``--repeat`` times, and the
best time is reported with the process's peak memory. The same run times two
baselines on a sample of events and scales them linearly to every size:

* the per-event statsmodels OLS loop a user would write over a wide frame of returns;
* the ``eventstudy`` package from PyPI (``Multiple.from_list`` with
  ``Single.market_model``), when it is installed.

The backtest (``--backtest-sizes``, 100k events by default) runs in a fresh process
too: a sentiment signal, entry at the next open after the news, a hold of 5
sessions, a market hedge and the 1,000-draw random-date placebo; its per-event
baseline is the loop over per-ticker frames a user would write for the trades
(placebo left out), timed on a sample and scaled linearly.

The machine may be shared: repeat the timings (``--repeat``) and read the best.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import synthetic  # noqa: E402

CAR_WINDOWS = ((-1, 1), (0, 0), (0, 1), (-5, 5))
#: Issue 17's targets (1M events with every test, inputs included in the memory).
TARGETS = {"fit_100k_s": 1.0, "all_tests_100k_s": 5.0, "fit_1m_s": 15.0, "peak_1m_gb": 3.0,
           "speedup": 50.0}


# ---- memory -----------------------------------------------------------------------------------
def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakSampler:
    """Samples this process's RSS every few milliseconds while running."""

    def __init__(self, every: float = 0.002) -> None:
        self.every, self.peak, self._stop = every, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.every)

    def __enter__(self) -> PeakSampler:
        self.peak = rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---- cross-event tests beyond fit -------------------------------------------------------------
def inference_calls() -> list[tuple[str, object]]:
    """Public functions of ``marketreact.inference`` that take a StudyResult and nothing else.

    ``EventStudy.fit`` computes the cross-event tests it reports (their columns are
    listed); if the inference module also offers functions that run tests on a
    finished result, they are timed too, so new tests join the benchmark when merged.
    """
    import inspect

    try:
        import marketreact.inference as inf
    except ImportError:
        return []
    calls = []
    for name, fn in sorted(vars(inf).items()):
        if (name.startswith("_") or not inspect.isfunction(fn)
                or not fn.__module__.startswith(inf.__name__)):  # the package or its modules
            continue
        params = list(inspect.signature(fn).parameters.values())
        if not params or "StudyResult" not in str(params[0].annotation):
            continue
        if any(p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
               for p in params[1:]):
            continue
        calls.append((name, fn))
    return calls


# ---- where the time goes ----------------------------------------------------------------------
# A stage wraps a function where its caller looks it up (the caller's module namespace for
# a function imported with ``from ... import``); a list gives places to try in turn (older
# layouts last), so the same table times a checkout from before a move.
Stage = tuple[str, str | None, str]
STAGES: dict[str, Stage | list[Stage]] = {
    # the frames checked, stacked and cleaned (before session 8: the stacking and cleaning
    # only, PriceTable.__init__, without the frames' checks)
    "prices (frames checked, stacked, cleaned)": ("marketreact.study.fit", None, "price_table"),
    "lineup": ("marketreact.study.fit", None, "line_up"),
    "panel": ("marketreact.panel.table", "PriceTable", "panel"),
    "day 0": [("marketreact.panel.lineup", None, "anchor_day0"),
              ("marketreact.study.fit", None, "anchor_day0")],
    "fits": ("marketreact.study.engine", None, "moment_fits"),
    "ARs and CARs": ("marketreact.study.engine", None, "moment_chunk"),
    "assembly": ("marketreact.study.fit", "EventStudy", "_assemble"),
    "CAR table": ("marketreact.study.fit", "EventStudy", "_car_table"),
    "cross-event tests": ("marketreact.study.fit", "EventStudy", "_test_tables"),
    # the non-parametric tests inside the cross-event tests
    # since issue 17 the rank tests and GRANK share one ranking (rank_family); older
    # checkouts time them apart
    "rank tests + GRANK": ("marketreact.inference.battery", None, "rank_family"),
    "rank tests": ("marketreact.inference.battery", None, "rank_tests"),
    "generalized rank": ("marketreact.inference.battery", None, "generalized_rank"),
    "sign tests": ("marketreact.inference.battery", None, "sign_test"),
    "generalized sign": ("marketreact.inference.battery", None, "generalized_sign"),
    "wilcoxon": ("marketreact.inference.battery", None, "wilcoxon_signed_rank"),
    "bootstrap": ("marketreact.inference.battery", None, "bootstrap"),
}
NONPARAMETRIC = ("rank tests + GRANK", "rank tests", "generalized rank", "sign tests",
                 "generalized sign", "wilcoxon",
                 "bootstrap")
#: Sizes up to which ``--stages`` also times the "core" (fits with the bootstrap off).
CORE_MAX_EVENTS = 100_000
#: The stages of ``Backtest.run``.
BACKTEST_STAGES: dict[str, Stage | list[Stage]] = {
    "prices (frames checked, stacked, cleaned)": ("marketreact.backtest.run", None,
                                                  "price_table"),
    "lineup": ("marketreact.backtest.run", None, "line_up"),
    "panel": ("marketreact.panel.table", "PriceTable", "panel"),
    "day 0": ("marketreact.panel.lineup", None, "anchor_day0"),
    "opens and fill look-ups": ("marketreact.backtest.run", "Backtest", "_exchange_data"),
    "of which adjusted opens": ("marketreact.backtest.run", None, "adjusted_opens"),
    "trades (fills, hedges, legs)": ("marketreact.backtest.run", "Backtest", "_run_exchange"),
    "daily portfolio": ("marketreact.backtest.run", "Backtest", "_daily"),
    "forward returns": ("marketreact.backtest.run", "Backtest", "_forward"),
    "placebo": ("marketreact.backtest.run", "Backtest", "_placebo"),
    "metrics": ("marketreact.backtest.run", "Backtest", "_metrics"),
}
BACKTEST = {"entry": "next-open", "hold": 5, "hedge": "market", "placebo_draws": 1000}


def instrument_stages(stages: dict[str, Stage | list[Stage]] | None = None) -> dict[str, float]:
    """Wrap the stages of ``fit`` (or ``stages``) with timers; returns the (mutable) totals.

    A stage whose function is not found (a checkout from before it existed) is left out,
    with a note on stderr.
    """
    import functools
    import importlib
    import inspect

    totals: dict[str, float] = {}
    for label, where in (STAGES if stages is None else stages).items():
        found = None
        for module, owner, name in (where if isinstance(where, list) else [where]):
            try:
                target = importlib.import_module(module)
                holder = getattr(target, owner) if owner else target
                found = holder, name, getattr(holder, name)
                break
            except (ImportError, AttributeError):
                continue
        if found is None:
            print(f"stage {label!r}: not found in this checkout, not timed", file=sys.stderr)
            continue
        holder, name, fn = found

        def timed(*a, _fn=fn, _label=label, **k):  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            try:
                return _fn(*a, **k)
            finally:
                totals[_label] = totals.get(_label, 0.0) + time.perf_counter() - t0

        wrapped = functools.wraps(fn)(timed)
        if isinstance(inspect.getattr_static(holder, name), staticmethod):
            wrapped = staticmethod(wrapped)  # type: ignore[assignment]
        setattr(holder, name, wrapped)
    return totals


# ---- one size, in its own process -------------------------------------------------------------
def run_size(data_dir: Path, size: int, repeat: int, engine: str, profile: bool,
             stages: bool = False, n_boot: int | None = None) -> dict:
    from marketreact import EventStudy

    totals = instrument_stages() if stages else None
    options: dict = {"car_windows": CAR_WINDOWS}
    if n_boot is not None:
        options["n_boot"] = n_boot
    best_stages: dict[str, float] = {}

    with open(data_dir / "frames.pkl", "rb") as fh:
        frames = pickle.load(fh)
    with open(data_dir / f"catalogue_{size}.pkl", "rb") as fh:
        catalogue = pickle.load(fh)
    gc.collect()
    rss_inputs = rss_bytes()
    eng: object = "local"
    if engine == "dask":
        from marketreact.study.engine import DaskEngine

        eng = DaskEngine(cluster_options={"n_workers": 2, "threads_per_worker": 1})
    times, peaks, residual_times, inference_times = [], [], [], []
    tests: list[str] = []
    extra = inference_calls()
    studied = failed = 0
    for i in range(repeat):
        gc.collect()
        if totals is not None:
            totals.clear()
        with PeakSampler() as sampler:
            t0 = time.perf_counter()
            result = EventStudy(engine=eng, **options).fit(catalogue, frames)  # type: ignore[arg-type]
            times.append(time.perf_counter() - t0)
        if totals is not None:
            totals["whole fit"] = times[-1]
            for k, v in totals.items():
                best_stages[k] = min(best_stages.get(k, v), v)
        if True:
            t1 = time.perf_counter()
            _ = result.arrays.est_residuals  # the (E, L1) array, if a user asks for it
            residual_times.append(time.perf_counter() - t1)
            t2 = time.perf_counter()
            for _name, fn in extra:
                fn(result)  # type: ignore[operator]
            inference_times.append(time.perf_counter() - t2)
        peaks.append(sampler.peak)
        studied, failed = result.n_events, len(result.failures)
        tests = [c for c in result.aggregate.columns if c not in ("window", "n", "caar",
                                                                  "mean_bhar")]
        del result, _
        if profile and i == repeat - 1:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            result = EventStudy(engine=eng, **options).fit(catalogue, frames)  # type: ignore[arg-type]
            prof.disable()
            del result
            stats = pstats.Stats(prof, stream=sys.stderr)
            print(f"\n--- profile, {size:,} events ---", file=sys.stderr)
            stats.sort_stats("cumulative").print_stats(30)
    # the "core" of issue 17 (model, ARs, CARs, parametric tests, panel preparation): fits
    # with the bootstrap off, less the rank, sign and signed-rank tests, which run one after
    # another on the calling thread (the bootstrap runs beside other tests: its time cannot
    # be subtracted from a whole fit)
    core: list[float] = []
    if totals is not None and size <= CORE_MAX_EVENTS:
        for _ in range(repeat):
            gc.collect()
            totals.clear()
            t0 = time.perf_counter()
            result = EventStudy(engine=eng, **{**options, "n_boot": 0}).fit(  # type: ignore[arg-type]
                catalogue, frames)
            whole = time.perf_counter() - t0
            core.append(whole - sum(totals.get(k, 0.0) for k in NONPARAMETRIC))
            del result
    if engine == "dask":
        eng.close()  # type: ignore[attr-defined]
    return {"size": size, "studied": studied, "failed": failed, "fit_s": times,
            "core_s": core,
            "residuals_s": residual_times, "inference_s": inference_times,
            "inference": [name for name, _ in extra], "rss_inputs": rss_inputs,
            "fit_peak": max(peaks), "max_rss": max_rss_bytes(), "tests": tests,
            "stages": best_stages}


# ---- baselines ------------------------------------------------------------------------------
def statsmodels_loop(returns: pd.DataFrame, events: pd.DataFrame, market: str) -> int:
    """The per-event loop a careful user would write: numpy slices, statsmodels OLS, ARs, CARs.

    Columns are looked up once and windows sliced from one numpy array, so the
    time is mostly statsmodels' own per-fit cost (a lean baseline, not a strawman).
    """
    import statsmodels.api as sm

    values = returns.to_numpy()
    col = {c: i for i, c in enumerate(returns.columns)}
    m = col[market]
    dates = returns.index
    done = 0
    for ev in events.itertuples(index=False):
        t0 = dates.searchsorted(ev.day)
        if t0 - 250 < 0 or t0 + 10 >= len(dates):
            continue
        j = col[ev.ticker]
        y, x = values[t0 - 250:t0 - 10, j], values[t0 - 250:t0 - 10, m]
        ok = np.isfinite(y) & np.isfinite(x)
        fit = sm.OLS(y[ok], sm.add_constant(x[ok])).fit()
        a, b = fit.params
        ar = values[t0 - 10:t0 + 11, j] - (a + b * values[t0 - 10:t0 + 11, m])
        for lo, hi in CAR_WINDOWS:
            car = np.nansum(ar[lo + 10:hi + 11])
            _ = car / np.sqrt(fit.scale * (hi - lo + 1))
        done += 1
    return done


def statsmodels_loop_pandas(returns: pd.DataFrame, events: pd.DataFrame, market: str) -> int:
    """The same loop written with pandas selections, as it is often written."""
    import statsmodels.api as sm

    done = 0
    dates = returns.index
    for ev in events.itertuples(index=False):
        t0 = dates.searchsorted(ev.day)
        if t0 - 250 < 0 or t0 + 10 >= len(dates):
            continue
        est = returns.iloc[t0 - 250:t0 - 10][[ev.ticker, market]].dropna()
        fit = sm.OLS(est[ev.ticker], sm.add_constant(est[market])).fit()
        win = returns.iloc[t0 - 10:t0 + 11][[ev.ticker, market]]
        ar = win[ev.ticker] - (fit.params["const"] + fit.params[market] * win[market])
        for lo, hi in CAR_WINDOWS:
            car = ar.iloc[lo + 10:hi + 11].sum()
            _ = car / np.sqrt(fit.scale * (hi - lo + 1))
        done += 1
    return done


def eventstudy_package(returns: pd.DataFrame, events: pd.DataFrame, market: str) -> int:
    """The ``eventstudy`` package on the same events (it needs complete series: NaN -> 0)."""
    import eventstudy as es

    data = {"date": returns.index.to_numpy().astype("datetime64[D]")}
    filled = returns.fillna(0.0)
    for col in filled.columns:
        data[col] = filled[col].to_numpy()
    es.Single._save_parameter("returns", data)
    todo = [{"event_date": np.datetime64(pd.Timestamp(ev.day).date()),
             "security_ticker": ev.ticker, "market_ticker": market}
            for ev in events.itertuples(index=False)]
    agg = es.Multiple.from_list(todo, es.Single.market_model, event_window=(-10, 10),
                                estimation_size=240, buffer_size=0)
    return len(agg.sample)


def run_baselines(data_dir: Path, sample: int, es_sample: int) -> dict:
    import warnings

    with open(data_dir / "baseline.pkl", "rb") as fh:
        returns, events = pickle.load(fh)
    out: dict = {}
    statsmodels_loop(returns, events.iloc[-20:], synthetic.MARKET)  # warm up (imports, caches)
    ev = events.iloc[:sample]
    t0 = time.perf_counter()
    done = statsmodels_loop(returns, ev, synthetic.MARKET)
    out["statsmodels_per_event_s"] = (time.perf_counter() - t0) / max(done, 1)
    out["statsmodels_events"] = done
    statsmodels_loop_pandas(returns, events.iloc[-20:], synthetic.MARKET)
    ev = events.iloc[:max(sample // 2, 1)]
    t0 = time.perf_counter()
    done = statsmodels_loop_pandas(returns, ev, synthetic.MARKET)
    out["pandas_per_event_s"] = (time.perf_counter() - t0) / max(done, 1)
    out["pandas_events"] = done
    try:
        import eventstudy  # noqa: F401
    except ImportError as exc:
        out["eventstudy"] = f"not installed ({exc})"
        return out
    ev = events.iloc[:es_sample]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        try:
            done = eventstudy_package(returns, ev, synthetic.MARKET)
        except Exception as exc:  # the package is an alpha; report what happened
            out["eventstudy"] = f"failed: {type(exc).__name__}: {exc}"
            return out
    out["eventstudy_per_event_s"] = (time.perf_counter() - t0) / max(done, 1)
    out["eventstudy_events"] = done
    import importlib.metadata as md

    out["eventstudy"] = f"eventstudy {md.version('eventstudy')}"
    return out


# ---- the backtest ---------------------------------------------------------------------------
def backtest_settings() -> object:
    """The benchmarked settings (a BacktestSettings: the same call works on older checkouts)."""
    from marketreact.backtest.settings import BacktestSettings, EntryRule, HedgeMode

    return BacktestSettings(entry=EntryRule(BACKTEST["entry"]), hold=int(BACKTEST["hold"]),
                            hedge=HedgeMode(BACKTEST["hedge"]),
                            placebo_draws=int(BACKTEST["placebo_draws"]))


def backtest_loop(frames: dict[str, pd.DataFrame], events: pd.DataFrame, market: str,
                  hold: int = 5, cost: float = 0.0) -> int:
    """The per-event loop a user would write for the trades, over per-ticker frames.

    Entry at the first open after the news (New York time; opens at 9:30), exit at the
    close ``hold`` sessions later, short the market over the same sessions. The fill rule
    is simplified (no calendar, no closing auction, no latency) and there is no placebo,
    portfolio or metric: a lean lower bound on what a loop costs.
    """
    mkt = frames[market]
    m_days, m_open, m_close = mkt.index, mkt["open"].to_numpy(), mkt["close"].to_numpy()
    open_time = pd.Timedelta(hours=9, minutes=30)
    done = 0
    for ev in events.itertuples(index=False):
        f = frames[ev.ticker]
        day = ev.local.normalize()
        i = f.index.searchsorted(day, side="left" if ev.local < day + open_time else "right")
        if i + hold - 1 >= len(f) or not ev.sentiment:
            continue
        entry, exit_ = f["open"].iloc[i], f["close"].iloc[i + hold - 1]
        j, k = m_days.searchsorted(f.index[i]), m_days.searchsorted(f.index[i + hold - 1])
        gross = np.sign(ev.sentiment) * (exit_ / entry - m_close[k] / m_open[j])
        _ = gross - 4 * cost
        done += 1
    return done


def run_backtest(data_dir: Path, size: int, repeat: int, stages: bool, sample: int) -> dict:
    from marketreact.backtest.run import Backtest

    totals = instrument_stages(BACKTEST_STAGES) if stages else None
    with open(data_dir / "frames.pkl", "rb") as fh:
        frames = pickle.load(fh)
    with open(data_dir / f"backtest_{size}.pkl", "rb") as fh:
        catalogue = pickle.load(fh)
    gc.collect()
    rss_inputs = rss_bytes()
    settings = backtest_settings()
    times, peaks, best_stages = [], [], {}
    trades = failed = placebo_events = 0
    for _ in range(repeat):
        gc.collect()
        if totals is not None:
            totals.clear()
        with PeakSampler() as sampler:
            t0 = time.perf_counter()
            result = Backtest(settings).run(catalogue, frames)  # type: ignore[arg-type]
            times.append(time.perf_counter() - t0)
        peaks.append(sampler.peak)
        if totals is not None:
            totals["whole run"] = times[-1]
            for k, v in totals.items():
                best_stages[k] = min(best_stages.get(k, v), v)
        trades, failed = len(result.trades), len(result.failures)
        placebo_events = result.placebo.events if result.placebo is not None else 0
        del result
    # the per-event loop, on a sample
    ev = catalogue.frame.iloc[:sample]
    ts = ev["timestamp"].dt.tz_convert("America/New_York").dt.tz_localize(None)
    late = ev["timing"].isin(["intra", "post", "unknown"])
    by_date = pd.to_datetime(ev["date"]) + pd.to_timedelta(np.where(late, 23.99, 0.0),
                                                           unit="h")
    loop_events = pd.DataFrame({"ticker": ev["ticker"], "local": ts.fillna(by_date),
                                "sentiment": ev["sentiment"]})
    backtest_loop(frames, loop_events.iloc[-20:], synthetic.MARKET)  # warm up
    t0 = time.perf_counter()
    done = backtest_loop(frames, loop_events, synthetic.MARKET)
    loop_each = (time.perf_counter() - t0) / max(done, 1)
    return {"size": size, "trades": trades, "failed": failed, "placebo_events": placebo_events,
            "run_s": times, "peak": max(peaks), "rss_inputs": rss_inputs,
            "max_rss": max_rss_bytes(), "stages": best_stages, "loop_per_event_s": loop_each,
            "loop_events": done}


# ---- driver ---------------------------------------------------------------------------------
def child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          check=False)
    if proc.stderr:
        sys.stderr.write(proc.stderr)
    if proc.returncode:
        raise SystemExit(f"benchmark child {args} failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def prepare(data_dir: Path, sizes: list[int], tickers: int, years: int,
            backtest_sizes: tuple[int, ...] = ()) -> dict:
    from marketreact import events_from_frame

    t0 = time.perf_counter()
    panel = synthetic.make_panel(tickers, start="2015-01-01",
                                 end=f"{2015 + years - 1}-12-31")
    gen_s = time.perf_counter() - t0
    with open(data_dir / "frames.pkl", "wb") as fh:
        pickle.dump(panel.frames, fh, protocol=pickle.HIGHEST_PROTOCOL)
    catalogue_s: dict[int, float] = {}
    catalogue_csv_s: dict[int, float] = {}
    for size in sizes:
        events = synthetic.make_events(panel, size, seed=size)
        t0 = time.perf_counter()
        catalogue = events_from_frame(events)
        catalogue_s[size] = time.perf_counter() - t0
        csv_path = data_dir / f"events_{size}.csv"
        events.to_csv(csv_path, index=False)
        from marketreact import read_events

        t0 = time.perf_counter()
        read_events(csv_path)
        catalogue_csv_s[size] = time.perf_counter() - t0
        csv_path.unlink()
        with open(data_dir / f"catalogue_{size}.pkl", "wb") as fh:
            pickle.dump(catalogue, fh, protocol=pickle.HIGHEST_PROTOCOL)
        del catalogue
    for size in backtest_sizes:
        events = synthetic.make_events(panel, size, seed=size + 1, sentiment=True)
        with open(data_dir / f"backtest_{size}.pkl", "wb") as fh:
            pickle.dump(events_from_frame(events), fh, protocol=pickle.HIGHEST_PROTOCOL)
    sample = synthetic.make_events(panel, 5000, seed=7)
    sample["day"] = pd.to_datetime(sample["date"].fillna(
        sample["timestamp"].dt.tz_convert("America/New_York").dt.tz_localize(None))).dt.normalize()
    with open(data_dir / "baseline.pkl", "wb") as fh:
        pickle.dump((panel.returns, sample[["ticker", "day"]]), fh)
    sessions = len(panel.sessions)
    return {"generate_s": gen_s, "catalogue_s": catalogue_s, "catalogue_csv_s": catalogue_csv_s,
            "sessions": sessions}


def fmt_gb(n: float) -> str:
    return f"{n / 1e9:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--tickers", type=int, default=3000)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per size (best is shown)")
    ap.add_argument("--engine", choices=["local", "dask"], default="local")
    ap.add_argument("--baseline-events", type=int, default=1000,
                    help="events timed for the statsmodels loop (then scaled linearly)")
    ap.add_argument("--eventstudy-events", type=int, default=300,
                    help="events timed for the eventstudy package (then scaled linearly)")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of each size")
    ap.add_argument("--n-boot", type=int, default=None,
                    help="bootstrap resamples of the cross-event bootstrap test (default: the "
                    "library's, 999; 0 switches it off)")
    ap.add_argument("--stages", action="store_true",
                    help="time the stages of fit (best run of each) and print them")
    ap.add_argument("--backtest-sizes", type=int, nargs="*", default=[100_000],
                    help="events of the backtest runs (none: no backtest)")
    ap.add_argument("--backtest-loop-events", type=int, default=2000,
                    help="events timed for the backtest's per-event loop (then scaled)")
    ap.add_argument("--no-study", action="store_true", help="time the backtest only")
    ap.add_argument("--reuse-memory", action="store_true",
                    help="call marketreact.reuse_freed_memory() in each timed process first")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--from-json", type=Path,
                    help="print the report of results saved with --json (no new runs)")
    ap.add_argument("--child-size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--child-baselines", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--child-backtest", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.reuse_memory and (args.child_size or args.child_backtest):
        import marketreact

        marketreact.reuse_freed_memory()
    if args.child_size:
        print(json.dumps(run_size(args.data, args.child_size, args.repeat, args.engine,
                                  args.profile, args.stages, args.n_boot)))
        return
    if args.child_backtest:
        print(json.dumps(run_backtest(args.data, args.child_backtest, args.repeat, args.stages,
                                      args.backtest_loop_events)))
        return
    if args.child_baselines:
        print(json.dumps(run_baselines(args.data, args.baseline_events,
                                       args.eventstudy_events)))
        return
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        for key in ("catalogue_s", "catalogue_csv_s"):
            saved["info"][key] = {int(k): v for k, v in saved["info"].get(key, {}).items()}
        args.json = None
        report(args, saved["info"], saved["rows"], saved["baselines"],
               saved.get("backtest", []))
        return

    import platform

    import marketreact

    print(f"marketreact {marketreact.__version__}, numpy {np.__version__}, pandas "
          f"{pd.__version__}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="mr-bench-") as tmp:
        data = Path(tmp)
        sizes = [] if args.no_study else args.sizes
        info = prepare(data, sizes, args.tickers, args.years, tuple(args.backtest_sizes))
        print(f"panel: {args.tickers:,} tickers x {info['sessions']:,} XNYS sessions "
              f"(generated in {info['generate_s']:.1f} s); engine: {args.engine}; "
              f"best of {args.repeat} runs per size"
              + ("; freed memory reused (marketreact.reuse_freed_memory)"
                 if args.reuse_memory else ""))
        reuse = ["--reuse-memory"] if args.reuse_memory else []
        info["reuse_memory"] = args.reuse_memory
        rows = []
        for size in sizes:
            extra = (["--profile"] if args.profile else []) + (
                ["--stages"] if args.stages else []) + (
                ["--n-boot", str(args.n_boot)] if args.n_boot is not None else []) + reuse
            # memory and the cold first run in a fresh process of their own, timings in another
            cold = child(["--child-size", str(size), "--data", tmp, "--repeat", "1",
                          "--engine", args.engine, *reuse, *([] if args.n_boot is None
                                                             else ["--n-boot", str(args.n_boot)])])
            r = child(["--child-size", str(size), "--data", tmp, "--repeat",
                       str(args.repeat), "--engine", args.engine, *extra])
            r.update({"cold_s": cold["fit_s"][0], "max_rss": cold["max_rss"],
                      "cold_fit_peak": cold["fit_peak"],
                      "rss_inputs": cold["rss_inputs"], "max_rss_repeats": r["max_rss"]})
            rows.append(r)
            print(f"  {size:>9,} events: best {min(r['fit_s']):.3f} s "
                  f"(runs: {', '.join(f'{t:.2f}' for t in r['fit_s'])}; cold process "
                  f"{r['cold_s']:.2f} s, peak {fmt_gb(r['max_rss'])} GB)", flush=True)
        backtests = []
        for size in args.backtest_sizes:
            b = child(["--child-backtest", str(size), "--data", tmp, "--repeat",
                       str(args.repeat), "--backtest-loop-events", str(args.backtest_loop_events),
                       *(["--stages"] if args.stages else []), *reuse])
            backtests.append(b)
            print(f"  {size:>9,} events, backtest: best {min(b['run_s']):.3f} s "
                  f"(runs: {', '.join(f'{t:.2f}' for t in b['run_s'])}; peak "
                  f"{fmt_gb(b['peak'])} GB)", flush=True)
        base = {} if args.no_baselines or args.no_study else child(
            ["--child-baselines", "--data", tmp, "--baseline-events", str(args.baseline_events),
             "--eventstudy-events", str(args.eventstudy_events)])
    report(args, info, rows, base, backtests)


def report_backtest(backtests: list[dict]) -> None:
    """The backtest's table, and its stages when they were timed."""
    print()
    print(f"backtest: {', '.join(f'{k}={v}' for k, v in BACKTEST.items())}, sentiment signal "
          "(the first run of each size is its process's cold one)")
    print("| events | trades | failed | run s (best) | runs s | events/s | peak GB "
          "| per-event loop (trades only) s, scaled | vs the loop |")
    print("|---:|---:|---:|---:|---|---:|---:|---:|---:|")
    for b in backtests:
        best, size = min(b["run_s"]), b["size"]
        loop = b["loop_per_event_s"] * size
        print(f"| {size:,} | {b['trades']:,} | {b['failed']:,} | {best:.3f} | "
              f"{', '.join(f'{t:.2f}' for t in b['run_s'])} | {size / best:,.0f} | "
              f"{fmt_gb(b['peak'])} | {loop:.1f} | {loop / best:,.1f}x |")
    for b in backtests:
        print(f"per-event loop: {b['loop_per_event_s'] * 1e6:.0f} us per event, timed on "
              f"{b['loop_events']:,} events and scaled linearly")
        if b.get("stages"):
            parts = ", ".join(f"{k} {v:.3f}" for k, v in b["stages"].items())
            print(f"backtest stages at {b['size']:,} events (s, best of the runs): {parts}")


def report(args: argparse.Namespace, info: dict, rows: list[dict], base: dict,
           backtests: list[dict] | None = None) -> None:
    sm_each = base.get("statsmodels_per_event_s")
    pd_each = base.get("pandas_per_event_s")
    es_each = base.get("eventstudy_per_event_s")

    def ratio(each: float | None, size: int, best: float) -> str:
        return f"{each * size / best:,.0f}x" if each else "n/a"

    print()
    print("| events | studied | fit s (best) | cold process s | events/s | + residual array s "
          "| + inference s | catalogue s | fit peak GB | peak GB | inputs GB "
          "| vs statsmodels loop (numpy) | (pandas) | vs eventstudy |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        best = min(r["fit_s"])
        size = r["size"]
        print(f"| {size:,} | {r['studied']:,} | {best:.3f} | {r['cold_s']:.3f} | "
              f"{size / best:,.0f} | {min(r['residuals_s']):.3f} | "
              f"{min(r['inference_s']):.3f} | {info['catalogue_s'][size]:.2f} | "
              f"{fmt_gb(r['cold_fit_peak'])} | {fmt_gb(r['max_rss'])} | "
              f"{fmt_gb(r['rss_inputs'])} | {ratio(sm_each, size, best)} | "
              f"{ratio(pd_each, size, best)} | {ratio(es_each, size, best)} |")
    if info.get("catalogue_csv_s"):
        print()
        print("catalogue validation (events_from_frame on the synthetic frame; read_events on "
              "the same events written as CSV), s:")
        print("| events | from DataFrame s | from CSV s |")
        print("|---:|---:|---:|")
        for size, frame_s in sorted(info["catalogue_s"].items()):
            csv_s = info["catalogue_csv_s"].get(size)
            print(f"| {size:,} | {frame_s:.2f} | "
                  + (f"{csv_s:.2f} |" if csv_s is not None else "n/a |"))
    print()
    tests = rows[0]["tests"] if rows else []
    print(f"cross-event statistics computed by fit (aggregate columns): {', '.join(tests)}")
    extra = rows[0]["inference"] if rows else []
    print("marketreact.inference functions timed on each result: "
          + (", ".join(extra) if extra else "none (no such module or function yet)"))
    if sm_each:
        print(f"statsmodels loop over numpy slices: {sm_each * 1e3:.3f} ms per event, timed on "
              f"{base['statsmodels_events']:,} events and scaled linearly to each size")
    if pd_each:
        print(f"statsmodels loop over pandas selections: {pd_each * 1e3:.3f} ms per event, timed "
              f"on {base['pandas_events']:,} events and scaled linearly to each size")
    if es_each:
        print(f"{base['eventstudy']}: {es_each * 1e3:.3f} ms per event, timed on "
              f"{base['eventstudy_events']:,} events (gaps filled with 0: it needs complete "
              "series) and scaled linearly")
    elif "eventstudy" in base:
        print(f"eventstudy package: {base['eventstudy']}")
    staged = [r for r in rows if r.get("stages", {}).get("cross-event tests")]
    if staged and (sm_each or pd_each or es_each):
        print("like for like (the baselines run no cross-event tests): the fit less its "
              "cross-event tests, and the ratios on that time")
        for r in staged:
            core = min(r["fit_s"]) - r["stages"]["cross-event tests"]
            size = r["size"]
            print(f"  {size:>9,} events: {core:.3f} s; vs statsmodels loop (numpy) "
                  f"{ratio(sm_each, size, core)}, (pandas) {ratio(pd_each, size, core)}, "
                  f"vs eventstudy {ratio(es_each, size, core)}")
    for r in rows:
        if r.get("stages"):
            parts = ", ".join(f"{k} {v:.3f}" for k, v in r["stages"].items())
            print(f"stages at {r['size']:,} events (s, best of the runs; assembly includes the "
                  f"CAR table): {parts}")
    by = {r["size"]: r for r in rows}
    checks = []
    if 100_000 in by:
        r = by[100_000]
        best = min(r["fit_s"])
        if r.get("core_s"):
            core = min(r["core_s"])
            checks.append(("100k events, market model + ARs + CARs + parametric tests <= 1 s "
                           "(fits with the bootstrap off, less their rank, sign and "
                           "signed-rank tests)", core <= TARGETS["fit_100k_s"],
                           f"{core:.3f} s"))
        elif r.get("stages"):  # a JSON file from before the core was timed apart
            rest = sum(r["stages"].get(k, 0.0) for k in NONPARAMETRIC)
            checks.append(("100k events, market model + ARs + CARs + parametric tests <= 1 s "
                           "(the fit less its non-parametric tests)",
                           best - rest <= TARGETS["fit_100k_s"],
                           f"{best - rest:.3f} s (= {best:.3f} - {rest:.3f})"))
        every = best + min(r["inference_s"])
        checks.append(("100k events with every test <= 5 s",
                       every <= TARGETS["all_tests_100k_s"], f"{every:.3f} s"))
    if 1_000_000 in by:
        r = by[1_000_000]
        best = min(r["fit_s"])
        checks.append((f"1M events, every test <= {TARGETS['fit_1m_s']:g} s",
                       best <= TARGETS["fit_1m_s"], f"{best:.2f} s"))
        checks.append((f"1M events peak memory <= {TARGETS['peak_1m_gb']:g} GB (the study, "
                       "inputs included)",
                       r["cold_fit_peak"] <= TARGETS["peak_1m_gb"] * 1e9,
                       f"{fmt_gb(r['cold_fit_peak'])} GB"))
    large = [r for r in rows if r["size"] >= 100_000]
    if sm_each and large:
        worst = min(sm_each * r["size"] / min(r["fit_s"]) for r in large)
        checks.append((">= 50x the statsmodels loop over numpy slices (100k events and more)",
                       worst >= TARGETS["speedup"], f"{worst:,.0f}x at worst"))
        if pd_each:
            worst = min(pd_each * r["size"] / min(r["fit_s"]) for r in large)
            checks.append((">= 50x the statsmodels loop over pandas selections (100k and more)",
                           worst >= TARGETS["speedup"], f"{worst:,.0f}x at worst"))
    print()
    for what, ok, value in checks:
        print(f"  [{'met' if ok else 'MISSED'}] {what}: {value}")
    if backtests:
        report_backtest(backtests)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "baselines": base, "info": info,
                                         "backtest": backtests or []}, indent=2, default=str))


if __name__ == "__main__":
    main()
