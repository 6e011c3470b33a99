"""Print the Fed rate-decision tables of docs/intraday.md from the shared hourly bars.

Run from the repository root (``make fed-tables`` does the same)::

    .venv/bin/python docs/examples/fed_tables.py [SHARED_INTRADAY_DIR]

``SHARED_INTRADAY_DIR`` is the folder of Lean bars (default ``../shared/data/intraday``
next to the repository). The script runs the study of the first ``make demo-intraday``
command (``data/events/fed_rate_decisions_intraday.csv``: 44 decisions on BAC, AIG, IBM
and AAPL, market model against SPY, hourly bars, window -3:+3, 20 estimation sessions)
on each group of events (all 176, the banks BAC and AIG, the banks at scheduled and at
unscheduled decisions, IBM and AAPL) and prints, as Markdown, the three tables of the
section "The Fed's rate decisions 2003-2020 on hourly bars":

1. abnormal returns: mean and cross-sectional t of the bar-0 AR, the CAR [0,+1], the CAR
   from bar 0 to the close, the event session and the overnight AR;
2. time-of-day ranks: the rank Z after Saha & Rinaudo of bar 0 and of [0,+1], events taken
   as independent and clustered by decision;
3. extreme event hours and abnormal volume: events whose bar-0 AR is the highest or lowest
   of its same-hour values, decisions with at least one such event against the
   dependence-free bound, and abnormal log volume of bars 0 and +1 (t across events and
   across per-decision means);

then the notes quoted around the tables (BMP t of bar 0, the n_i of the ranks, the
expected share of extreme events). Each group is fitted on its own events: the per-event
values are those of the fit on all 176 (each event has its own estimation window), and the
standardised tests (BMP) are those of the group.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from marketreact.errors import InputError
from marketreact.events import read_events
from marketreact.inference.intraday import time_of_day_ranks, window_reference
from marketreact.prices.bars import read_bar_folder
from marketreact.study.intraday import IntradayResult, IntradayStudy

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "data" / "events" / "fed_rate_decisions_intraday.csv"
DEFAULT_BARS = ROOT.parent / "shared" / "data" / "intraday"
MARKET = "SPY"
BANKS = ("BAC", "AIG")

#: Groups of events: label -> rows of the catalogue frame in the group.
GROUPS: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "all": lambda f: pd.Series(True, index=f.index),
    "banks (BAC, AIG)": lambda f: f["ticker"].isin(BANKS),
    "banks, scheduled": lambda f: f["ticker"].isin(BANKS) & (f["kind"] == "scheduled"),
    "banks, unscheduled": lambda f: f["ticker"].isin(BANKS) & (f["kind"] != "scheduled"),
    "IBM, AAPL": lambda f: ~f["ticker"].isin(BANKS),
}


def fit_groups(bar_dir: Path) -> dict[str, IntradayResult]:
    """Fit the study of ``make demo-intraday`` on the events of each group.

    Parameters
    ----------
    bar_dir : pathlib.Path
        Folder of the shared Lean bars (``hour/`` inside).

    Returns
    -------
    dict of str to IntradayResult
        One result per label of :data:`GROUPS`, in that order.
    """
    frame = read_events(EVENTS).frame
    bars = read_bar_folder(bar_dir, list(dict.fromkeys([*frame["ticker"], MARKET])), "1h")
    study = IntradayStudy("1h", (-3, 3), market=MARKET)
    return {label: study.fit(frame[rows(frame)].reset_index(drop=True), bars)
            for label, rows in GROUPS.items()}


def _row(table: pd.DataFrame, key: str, value: object) -> pd.Series:
    """The row of ``table`` whose column ``key`` equals ``value``."""
    return table.loc[table[key] == value].iloc[0]


def _t(x: np.ndarray) -> float:
    """Cross-sectional t of the finite values of ``x``: mean / (sd / sqrt(n))."""
    x = x[np.isfinite(x)]
    return float(x.mean() / (x.std(ddof=1) / np.sqrt(len(x))))


def _p(p: float) -> str:
    """A p-value as in the docs: two decimals, or two digits in E notation below 0.01."""
    return f"{p:.1e}" if p < 0.01 else f"{p:.2f}"


def _bar_column(res: IntradayResult, rel_bar: int) -> int:
    """Column of ``res.ar`` holding relative bar ``rel_bar``."""
    return int(np.flatnonzero(res.rel_bars == rel_bar)[0])


def clustered_z(rank: np.ndarray, n: np.ndarray, cluster: np.ndarray) -> tuple[float, float]:
    """Rank Z with its variance taken from the per-cluster sums of centred ranks.

    Parameters
    ----------
    rank, n : numpy.ndarray
        ``(N,)`` mid-rank R_i of each event among its n_i same-hour values.
    cluster : numpy.ndarray
        ``(N,)`` the event's decision (its news time).

    Returns
    -------
    z, p : float
        ``Σ U / sqrt(Σ_d (Σ_{i in d} U_i)²)`` with ``U_i = R_i/n_i - (n_i + 1)/(2 n_i)``,
        and its two-sided p-value against N(0, 1).
    """
    nf = n.astype(float)
    u = pd.Series(rank / nf - (nf + 1.0) / (2.0 * nf)).groupby(cluster).sum()
    z = float(u.sum() / np.sqrt((u**2).sum()))
    return z, float(2.0 * stats.norm.sf(abs(z)))


def return_table(results: dict[str, IntradayResult]) -> list[str]:
    """Table 1: mean and cross-sectional t of the abnormal returns, by group."""
    lines = ["| events | n | AAR bar 0 | t | CAAR [0,+1] | t | bar 0 to close | t "
             "| event session | t | overnight AR | t |", "|---" * 12 + "|"]
    for label, res in results.items():
        cells = [_row(res.aar, "rel_bar", 0)[["aar", "t"]],
                 _row(res.aggregate, "window", "[0,+1]")[["caar", "t"]],
                 *(_row(res.session, "window", w)[["caar", "t"]]
                   for w in ("bar0_to_close", "session", "overnight_ar"))]
        text = " | ".join(f"{100 * m:+.3f}% | {t:+.2f}" for m, t in cells)
        lines.append(f"| {label} | {len(res.events)} | {text} |")
    return lines


def rank_table(results: dict[str, IntradayResult]) -> list[str]:
    """Table 2: time-of-day rank Z of bar 0 and [0,+1], as independent and by decision."""
    lines = ["| events | n | decisions | RS z bar 0 | p | clustered z | p | RS z [0,+1] | p "
             "| clustered z | p |", "|---" * 11 + "|"]
    for label, res in results.items():
        ref = res.time_of_day_ref
        assert ref is not None  # always set by IntradayStudy
        decision = res.events["news_time"].to_numpy()
        j0, j1 = _bar_column(res, 0), _bar_column(res, 1)
        bar0 = time_of_day_ranks(res.ar[:, [j0]], ref[:, :, [j0]])
        car, ref_car = window_reference(res.ar, ref, [slice(j0, j1 + 1)])
        window = time_of_day_ranks(car, ref_car)
        cells = []
        for table, key, value, ranks in ((res.aar, "rel_bar", 0, bar0),
                                         (res.aggregate, "window", "[0,+1]", window)):
            row = _row(table, key, value)
            z, p = clustered_z(ranks.rank[:, 0], ranks.n[:, 0], decision)
            cells.append(f"{row['rs']:+.2f} | {row['rs_p']:.2f} | {z:+.2f} | {p:.2f}")
        lines.append(f"| {label} | {len(res.events)} | {len(set(decision))} | "
                     + " | ".join(cells) + " |")
    return lines


def extreme_volume_table(results: dict[str, IntradayResult]) -> list[str]:
    """Table 3: extreme bar-0 ranks by event and by decision, and abnormal volume."""
    lines = ["| events | extreme events bar 0 (up/down) | expected | decisions with an extreme "
             "| null at most | p (decisions) | abn. volume bar 0 | t | t per decision | bar +1 "
             "| t | t per decision |", "|---" * 12 + "|"]
    for label, res in results.items():
        ev = res.events
        rank, n = ev["rs_rank0"].to_numpy(float), ev["rs_n0"].to_numpy(float)
        up, down = rank == n, rank == 1
        by_decision = pd.DataFrame({"extreme": up | down, "bound": 2.0 / n}).groupby(
            ev["news_time"].to_numpy()).agg(extreme=("extreme", "any"), bound=("bound", "sum"))
        bound = by_decision["bound"].clip(upper=1.0).to_numpy()
        hits = int(by_decision["extreme"].sum())
        # upper tail of a Poisson-binomial count: one Bernoulli(bound_d) per decision
        pmf = np.ones(1)
        for q in bound:
            pmf = np.convolve(pmf, [1.0 - q, q])
        cells = [f"{(up | down).sum()} = {100 * (up | down).mean():.0f}% "
                 f"({up.sum()}/{down.sum()})", f"{(2.0 / n).sum():.1f}",
                 f"{hits} of {len(bound)}", f"{100 * bound.mean():.1f}%", _p(pmf[hits:].sum())]
        volume = res.abnormal_returns.pivot(index="event_id", columns="rel_bar",
                                            values="abnormal_volume").loc[ev["event_id"]]
        for b in (0, 1):
            row = _row(res.volume, "rel_bar", b)
            means = volume[b].groupby(ev["news_time"].to_numpy()).mean().to_numpy()
            cells.append(f"{row['mean']:+.3f} | {row['t']:.1f} | {_t(means):.1f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def notes(results: dict[str, IntradayResult]) -> list[str]:
    """The figures quoted beside the tables: BMP t of bar 0, the n_i, the expected share."""
    bmp = ", ".join(f"{label} {_row(res.aar, 'rel_bar', 0)['bmp']:+.2f}"
                    for label, res in results.items())
    n = results["all"].events["rs_n0"]
    counts = ", ".join(f"{k}: {v} events" for k, v in n.value_counts().sort_index(
        ascending=False).items())
    return [f"BMP t of bar 0: {bmp}",
            f"n_i of the bar-0 ranks: {counts}; expected share of extreme events "
            f"{100 * (2.0 / n).mean():.1f}%"]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the three tables and the notes; return the exit code (2 on bad input)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1:
        print("usage: fed_tables.py [SHARED_INTRADAY_DIR]", file=sys.stderr)
        return 2
    bar_dir = Path(args[0]) if args else DEFAULT_BARS
    if not bar_dir.is_dir():
        print(f"{bar_dir}: no such folder of bars", file=sys.stderr)
        return 2
    try:
        results = fit_groups(bar_dir)
    except InputError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for table in (return_table, rank_table, extreme_volume_table):
        print("\n".join(table(results)), end="\n\n")
    print("\n".join(notes(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
