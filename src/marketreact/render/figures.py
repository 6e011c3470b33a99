"""Plots of event studies, backtests and test validations (matplotlib, PNG).

Every function builds a :class:`matplotlib.figure.Figure` directly (no
``pyplot`` state, rendered with the Agg backend) from the same tables the
command line writes, so plots can be redrawn from a results folder as well as
from a result (``StudyResult.plot`` and ``BacktestResult.plot`` call in here).
This module imports no result class and writes no file:

* :func:`caar_figure` — CAAR over the event window with its 95% band, from the
  ``abnormal_returns`` table;
* :func:`car_bars_figure` — day-0 AR and CAR bars per event with 95% intervals;
* :func:`event_price_figure` — a stock and its market index around one event,
  day 0 marked (needs the ``price``/``market_price`` columns);
* :func:`equity_figure` — a backtest's equity curve with its drawdown, from a
  ``daily.csv``-shaped frame;
* :func:`rejection_figure` — rejection rates of significance tests in a
  simulation (size and power), from a frame with one row per test and design.

:func:`marketreact.output.files.save_figure` writes a PNG atomically;
:func:`marketreact.output.study.write_study_plots` writes the study plots into a folder.
"""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from marketreact.panel.measures import MeasureWords, measure_words

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


log = logging.getLogger(__name__)

#: Most events drawn in the bar chart, and most per-event price plots written by default.
MAX_BAR_EVENTS = 60

_BLUE, _ORANGE, _GREY, _RED = "#1f77b4", "#ff7f0e", "#7f7f7f", "#d62728"
FIGURE_DPI = 110


@functools.cache
def _notebook_figure_class() -> type:
    """A :class:`~matplotlib.figure.Figure` that shows itself in Jupyter without pyplot.

    Figures built without pyplot have no display hook, so a notebook prints their
    repr (``<Figure size 880x506 with 1 Axes>``). ``_repr_png_`` gives IPython the
    image; with pyplot's inline backend active its own hook shows it the same way.
    """
    from matplotlib.figure import Figure

    class NotebookFigure(Figure):
        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", dpi=FIGURE_DPI)
            return buffer.getvalue()

    return NotebookFigure


def _figure(width: float, height: float, rows: int = 1, cols: int = 1,
            **kwargs: Any) -> tuple[Figure, Any]:
    """A figure on the Agg canvas (no pyplot, no GUI) and its axes; it shows in notebooks."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = _notebook_figure_class()(figsize=(width, height), dpi=FIGURE_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False, **kwargs)
    return fig, axes


def _percent_axis(ax: Axes, axis: str = "y", decimals: int | None = None) -> None:
    from matplotlib.ticker import PercentFormatter

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(PercentFormatter(xmax=100, decimals=decimals))


def _date_axis(ax: Axes) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def _need(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} needs the column(s) {', '.join(missing)}")


def _plain(text: Any) -> str:
    """Text shown as written: a ``$`` in a headline must not start matplotlib mathtext."""
    return str(text).replace("$", r"\$")


def _shorten(text: str, width: int = 90) -> str:
    text = " ".join(str(text).split())
    return _plain(text if len(text) <= width else text[: width - 1] + "…")


# --------------------------------------------------------------------------- event studies


def caar_band(abnormal_returns: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """CAAR on each relative day with its cross-sectional confidence band.

    The CAAR on day ``τ`` is the mean over events of each event's CAR from the
    start of the event window to ``τ`` (the ``car`` column); the band is the
    cross-sectional t interval ``CAAR ± t(1 − α/2, N − 1) · s / √N`` with ``s``
    the cross-sectional standard deviation of those CARs — the interval of the
    cross-sectional t test of the CAAR over ``[start, τ]``.

    Parameters
    ----------
    abnormal_returns : pandas.DataFrame
        Long table with ``event_id, rel_day, ar, car`` (one row per event and day).
    confidence : float, default 0.95
        Coverage of the band.

    Returns
    -------
    pandas.DataFrame
        ``rel_day, n, aar, caar, lo, hi``.
    """
    _need(abnormal_returns, ("event_id", "rel_day", "ar", "car"), "the CAAR plot")
    ar = abnormal_returns.pivot_table(index="event_id", columns="rel_day", values="ar",
                                      aggfunc="first", dropna=False)
    car = abnormal_returns.pivot_table(index="event_id", columns="rel_day", values="car",
                                       aggfunc="first", dropna=False)
    values = car.to_numpy(dtype=float)
    n = np.isfinite(values).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.nansum(values, axis=0) / np.maximum(n, 1), np.nan)
        dev = np.where(np.isfinite(values), values - mean, 0.0)
        sd = np.sqrt((dev**2).sum(axis=0) / np.maximum(n - 1, 1))
        half = np.where(n > 1, stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1))
                        * sd / np.sqrt(n), np.nan)
    aar = np.nanmean(np.where(np.isfinite(ar.to_numpy(dtype=float)), ar.to_numpy(dtype=float),
                              np.nan), axis=0) if len(ar) else np.full(len(car.columns), np.nan)
    return pd.DataFrame({"rel_day": car.columns.to_numpy(dtype=int), "n": n, "aar": aar,
                         "caar": mean, "lo": mean - half, "hi": mean + half})


def caar_figure(abnormal_returns: pd.DataFrame, *, confidence: float = 0.95,
                title: str | None = None,
                groups: Mapping[str, str] | pd.Series | None = None,
                words: MeasureWords | None = None) -> Figure:
    """CAAR over the event window with its confidence band, and the daily AAR as bars.

    Parameters
    ----------
    abnormal_returns : pandas.DataFrame
        Long table with ``event_id, rel_day, ar, car`` (``abnormal_returns.csv``).
    confidence : float, default 0.95
        Coverage of the band (see :func:`caar_band`).
    title : str, optional
        Figure title.
    groups : mapping of str to str, optional
        Group of each event id: one more CAAR line per group (without band),
        after the line of all events.
    words : MeasureWords, optional
        What the ``ar`` column measures (default: returns); a volume or
        volatility study is titled, labelled and scaled as such.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; its first line is the CAAR (in percent for returns; all
        events), then one line per group in sorted order.
    """
    w = words or measure_words(None)
    scale = 100.0 if w.percent else 1.0
    band = caar_band(abnormal_returns, confidence)
    fig, axes = _figure(8.0, 4.6)
    ax = axes[0, 0]
    x = band["rel_day"].to_numpy()
    n_events = int(band["n"].max()) if len(band) else 0
    ax.plot(x, band["caar"] * scale, color=_BLUE, marker="o", markersize=3.5, lw=2,
            label=w.cumulative_average)
    ax.fill_between(x, band["lo"] * scale, band["hi"] * scale, color=_BLUE, alpha=0.18, lw=0,
                    label=f"{confidence:.0%} band (cross-sectional t)")
    ax.bar(x, band["aar"] * scale, width=0.6, color=_GREY, alpha=0.45,
           label=f"{w.average} (daily)")
    if groups is not None and len(abnormal_returns):
        of = pd.Series(groups).astype(str)
        label = abnormal_returns["event_id"].map(of)
        for k, name in enumerate(sorted(label.dropna().unique())):
            sub = caar_band(abnormal_returns.loc[(label == name).to_numpy()], confidence)
            ax.plot(sub["rel_day"].to_numpy(), sub["caar"] * scale, lw=1.5, ls="-",
                    marker=".", markersize=3, color=f"C{(k + 1) % 10}",
                    label=f"{w.cumulative_average} {name} "
                          f"(N={int(sub['n'].max()) if len(sub) else 0})")
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(0, color=_RED, lw=1, ls="--", label="day 0")
    ax.set_xlabel("Event day (trading sessions relative to day 0)")
    ax.set_ylabel(w.axis())  # for returns the ticks carry the "%"
    if w.percent:
        _percent_axis(ax)
    if len(x):
        ax.set_xlim(x.min() - 0.7, x.max() + 0.7)
        step = max(1, int(np.ceil(len(x) / 21)))
        ax.set_xticks(x[::step])
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8, frameon=False)
    ax.set_title(title or f"Cumulative average {w.abnormal}, {n_events} events "
                          f"({w.cumulative} summed from day {x.min() if len(x) else 0:+d})")
    return fig


def car_bars_figure(abnormal_returns: pd.DataFrame, car: pd.DataFrame, *,
                    window: str | None = None, confidence: float = 0.95,
                    max_events: int = MAX_BAR_EVENTS, title: str | None = None,
                    words: MeasureWords | None = None) -> Figure:
    """Day-0 abnormal return and CAR of each event, as bars with confidence intervals.

    Parameters
    ----------
    abnormal_returns : pandas.DataFrame
        Long table with ``event_id, rel_day, ar`` and optionally ``ar_se``.
    car : pandas.DataFrame
        ``event_id, window, car`` and optionally ``car_se, df`` (``car.csv``).
    window : str, optional
        CAR window label, e.g. ``"[-1,+1]"`` (default: the first in ``car``).
    confidence : float, default 0.95
        Coverage of the whiskers (t with the event's ``df``; normal without it).
    max_events : int, default 60
        With more events, only the ``max_events / 2`` lowest and highest CARs are drawn.
    title : str, optional
        Figure title.
    words : MeasureWords, optional
        What the ``ar`` and ``car`` columns measure (default: returns).

    Returns
    -------
    matplotlib.figure.Figure
    """
    w = words or measure_words(None)
    scale = 100.0 if w.percent else 1.0
    _need(abnormal_returns, ("event_id", "rel_day", "ar"), "the AR/CAR bar chart")
    _need(car, ("event_id", "window", "car"), "the AR/CAR bar chart")
    windows = list(dict.fromkeys(car["window"]))
    if window is None:
        window = windows[0] if windows else ""
    if window not in windows:
        raise ValueError(f"CAR window {window!r} not in the table ({', '.join(windows)})")
    sel = car.loc[car["window"] == window].drop_duplicates("event_id").set_index("event_id")
    day0 = abnormal_returns.loc[abnormal_returns["rel_day"] == 0].drop_duplicates("event_id")
    day0 = day0.set_index("event_id")
    ids = list(dict.fromkeys(sel.index))
    note = ""
    if len(ids) > max_events:
        order = sel.loc[ids, "car"].sort_values(kind="stable")
        half = max_events // 2
        ids = [*order.index[:half], *order.index[-half:]]
        note = f" — the {half} lowest and {half} highest of {len(order)}"
    q = 0.5 + confidence / 2

    def interval(se: pd.Series, df: pd.Series | None) -> np.ndarray:
        crit = stats.t.ppf(q, df.clip(lower=1)) if df is not None else stats.norm.ppf(q)
        return np.asarray(se, dtype=float) * crit

    car_v = sel.loc[ids, "car"].to_numpy(dtype=float)
    df = sel.loc[ids, "df"].astype(float) if "df" in sel else None
    car_err = interval(sel.loc[ids, "car_se"], df) if "car_se" in sel else None
    ar_v = day0["ar"].reindex(ids).to_numpy(dtype=float)
    ar_err = interval(day0["ar_se"].reindex(ids), df) if "ar_se" in day0 else None
    height = max(3.0, 0.32 * len(ids) + 1.6)
    fig, axes = _figure(8.0, height)
    ax = axes[0, 0]
    y = np.arange(len(ids))
    ax.barh(y - 0.2, ar_v * scale, height=0.38, color=_ORANGE, label=f"{w.short} on day 0",
            xerr=None if ar_err is None else ar_err * scale,
            error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "#555"})
    ax.barh(y + 0.2, car_v * scale, height=0.38, color=_BLUE, label=f"{w.cumulative}{window}",
            xerr=None if car_err is None else car_err * scale,
            error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "#555"})
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, [_plain(e) for e in ids], fontsize=8 if len(ids) < 30 else 6)
    ax.invert_yaxis()
    ax.set_xlabel(f"{w.axis()}; whiskers: {confidence:.0%} interval")
    if w.percent:
        _percent_axis(ax, "x")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="best", fontsize=8, frameon=False)
    ax.set_title(title or f"Day-0 {w.short} and {w.cumulative}{window} per event{note}")
    return fig


def event_price_figure(abnormal_returns: pd.DataFrame, event_id: str,
                       events: pd.DataFrame | None = None, *,
                       title: str | None = None, words: MeasureWords | None = None) -> Figure:
    """A stock and its market index around one event, rebased to 100, day 0 marked.

    Both series are adjusted closes rebased to 100 on the last session before
    day 0 (the first session of the window when day 0 opens it).

    Parameters
    ----------
    abnormal_returns : pandas.DataFrame
        Long table with ``event_id, rel_day, date, price`` and optionally
        ``market_price, ar`` (``abnormal_returns.csv`` of a study).
    event_id : str
        The event to draw.
    events : pandas.DataFrame, optional
        ``events.csv``: its ``ticker``, ``market`` and ``headline`` label the plot.
    title : str, optional
        Figure title.
    words : MeasureWords, optional
        What the ``ar`` column measures (default: returns): day 0's value is
        written in the legend under its name.

    Returns
    -------
    matplotlib.figure.Figure
    """
    w = words or measure_words(None)
    _need(abnormal_returns, ("event_id", "rel_day", "date", "price"), "the price plot")
    rows = abnormal_returns.loc[abnormal_returns["event_id"] == event_id].sort_values("rel_day")
    if rows.empty:
        raise ValueError(f"event {event_id!r} is not in the table")
    info: dict[str, Any] = {}
    if events is not None and "event_id" in events:
        match = events.loc[events["event_id"] == event_id]
        if len(match):
            info = {str(k): v for k, v in match.iloc[0].items()}
    ticker = str(info.get("ticker") or event_id)
    market = str(info.get("market") or "") if pd.notna(info.get("market")) else ""
    dates = pd.to_datetime(rows["date"]).to_numpy()
    rel = rows["rel_day"].to_numpy(dtype=int)
    fig, axes = _figure(8.0, 4.4)
    ax = axes[0, 0]
    before = np.flatnonzero(rel < 0)

    def rebased(values: np.ndarray) -> tuple[np.ndarray, float]:
        finite = np.isfinite(values)
        base_idx = [i for i in before if finite[i]]
        base_i = base_idx[-1] if base_idx else int(np.argmax(finite)) if finite.any() else 0
        base = values[base_i]
        return values / base * 100 if np.isfinite(base) and base != 0 else values * np.nan, base

    # x is the session (rel_day): sessions sit one apart, so weekends and holidays take no
    # room; a session missing from the table breaks the line instead of bridging it.
    gap_after = np.flatnonzero(np.diff(rel) > 1)

    def broken(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.insert(rel.astype(float), gap_after + 1, np.nan)
        return x, np.insert(values.astype(float), gap_after + 1, np.nan)

    price = rows["price"].to_numpy(dtype=float)
    stock, stock_base = rebased(price)
    ax.plot(*broken(stock), color=_BLUE, marker="o", markersize=3.5, lw=2,
            label=_plain(ticker))
    if "market_price" in rows and np.isfinite(rows["market_price"].to_numpy(dtype=float)).any():
        mkt, _ = rebased(rows["market_price"].to_numpy(dtype=float))
        ax.plot(*broken(mkt), color=_GREY, marker="s", markersize=3, lw=1.5,
                label=_plain(market or "market index"))
    ax.axhline(100, color="black", lw=0.6, alpha=0.5)
    zero = np.flatnonzero(rel == 0)
    if len(zero):
        d0 = dates[zero[0]]
        label = f"day 0: {pd.Timestamp(d0).date()}"
        if "ar" in rows and np.isfinite(rows["ar"].to_numpy(dtype=float)[zero[0]]):
            label += f" ({w.short} {w.value(rows['ar'].to_numpy(dtype=float)[zero[0]], 1)})"
        ax.axvline(0, color=_RED, lw=1.2, ls="--", label=label)
    step = max(1, int(np.ceil(len(rel) / 8)))
    ticks = [i for i in range(len(rel)) if rel[i] % step == 0]  # day 0 always among them
    ax.set_xticks(rel[ticks], [f"{rel[i]:+d}\n{pd.Timestamp(dates[i]):%d %b %y}"
                               if rel[i] else f"0\n{pd.Timestamp(dates[i]):%d %b %y}"
                               for i in ticks], fontsize=7)
    ax.set_xlabel("Trading session relative to day 0 (its date below; one step per session, "
                  "non-trading days take no room)")
    base_text = f"{stock_base:,.4g}" if np.isfinite(stock_base) else "n/a"
    ax.set_ylabel(_plain(f"Adjusted close, rebased (day −1 = 100; {ticker} = {base_text})"))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8, frameon=False)
    headline = info.get("headline")
    heading = title or _plain(f"{ticker} and {market or 'its market'} around {event_id}")
    if title is None and isinstance(headline, str) and headline.strip():
        heading += "\n" + _shorten(headline)
    ax.set_title(heading, fontsize=10)
    return fig


# --------------------------------------------------------------------------- backtests


def equity_figure(daily: pd.DataFrame, *, title: str | None = None) -> Figure:
    """A backtest's equity curve over its drawdown (and open positions when given).

    Parameters
    ----------
    daily : pandas.DataFrame
        ``daily.csv``-shaped: ``date, equity`` and optionally ``drawdown``
        (a fraction, ≤ 0 or given as a positive depth; computed from equity when
        absent), ``n_positions`` and ``benchmark_equity`` (drawn rebased to the
        strategy's first equity).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Axes: equity, drawdown in percent, and positions when ``n_positions`` is given.
    """
    _need(daily, ("date", "equity"), "the equity plot")
    frame = daily.assign(date=pd.to_datetime(daily["date"])).sort_values("date")
    dates = frame["date"].to_numpy()
    equity = frame["equity"].to_numpy(dtype=float)
    if "drawdown" in frame:
        dd = -np.abs(frame["drawdown"].to_numpy(dtype=float))
    else:
        dd = equity / np.fmax.accumulate(equity) - 1.0
    has_pos = "n_positions" in frame
    ratios = [3, 1.4, 1] if has_pos else [3, 1.4]
    fig, axes = _figure(9.0, 6.2 if has_pos else 5.2, rows=len(ratios), cols=1, sharex=True,
                        gridspec_kw={"height_ratios": ratios})
    ax_eq, ax_dd = axes[0, 0], axes[1, 0]
    start = equity[np.isfinite(equity)][0] if np.isfinite(equity).any() else np.nan
    ax_eq.plot(dates, equity, color=_BLUE, lw=1.6, label="strategy equity")
    if "benchmark_equity" in frame:  # the benchmark daily.csv carries, on the same scale
        bench = frame["benchmark_equity"].to_numpy(dtype=float)
        b0 = bench[np.isfinite(bench)][0] if np.isfinite(bench).any() else np.nan
        if np.isfinite(b0) and b0 != 0 and np.isfinite(start):
            ax_eq.plot(dates, bench / b0 * start, color=_GREY, lw=1.2, ls="--",
                       label="benchmark: equal-weight buy and hold of the traded stocks")
        ax_eq.legend(loc="upper left", fontsize=8, frameon=False)
    ax_eq.axhline(start, color="black", lw=0.6, alpha=0.5)
    ax_eq.set_ylabel("Equity (portfolio value)")
    ax_eq.grid(alpha=0.3)
    end = equity[np.isfinite(equity)][-1] if np.isfinite(start) else np.nan
    ax_eq.set_title(title or f"Backtest equity curve: {start:,.4g} → {end:,.4g} "
                             f"({end / start - 1:+.1%} from the first day), max drawdown "
                             f"{np.nanmin(dd) if len(dd) else 0:.1%}")
    ax_dd.fill_between(dates, dd * 100, 0, color=_RED, alpha=0.35, lw=0, step="post")
    ax_dd.plot(dates, dd * 100, color=_RED, lw=0.8, drawstyle="steps-post")
    ax_dd.set_ylabel("Drawdown")
    _percent_axis(ax_dd)
    ax_dd.grid(alpha=0.3)
    last = ax_dd
    if has_pos:
        ax_n = axes[2, 0]
        ax_n.step(dates, frame["n_positions"].to_numpy(dtype=float), where="post", color=_GREY)
        ax_n.set_ylabel("Open positions")
        ax_n.grid(alpha=0.3)
        last = ax_n
    last.set_xlabel("Date")
    _date_axis(last)
    return fig


# --------------------------------------------------------------------------- validation

_REJECTION_COLUMNS = ("panel", "design", "test", "abnormal", "alternative", "rejection_rate",
                      "n_samples", "band_lo", "band_hi")


def rejection_figure(rates: pd.DataFrame, *, nominal: float = 0.05,
                     alternative: str | None = "two-sided", title: str | None = None) -> Figure:
    """Rejection rates of significance tests in a simulation: size and power.

    One row of plots per panel. For each design with rows at zero abnormal
    return, a "size" plot shows each test's rejection rate (a dot) with its band
    against the nominal level; for each design with several abnormal returns,
    a "power" plot shows the rejection rate against the abnormal return added.

    Parameters
    ----------
    rates : pandas.DataFrame
        ``panel, design, test, abnormal, alternative, rejection_rate,
        n_samples, band_lo, band_hi``; ``abnormal``, ``rejection_rate`` and the
        band are fractions (0.01 = 1%). With a ``window`` column holding several
        windows, the rows of the first one are drawn.
    nominal : float, default 0.05
        The tests' nominal level, drawn as a reference line.
    alternative : str or None, default "two-sided"
        Rows of this alternative only (when present in the frame); None keeps all,
        labelling series ``test (alternative)``.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Axes in a grid of panels (rows) by plots (columns); unused cells are hidden.
    """
    _need(rates, ("panel", "design", "test", "abnormal", "rejection_rate"),
          "the rejection-rate chart")
    frame = rates.copy()
    for col in ("rejection_rate", "band_lo", "band_hi"):
        if col in frame and ((frame[col].dropna() > 1) | (frame[col].dropna() < 0)).any():
            raise ValueError(f"{col} must be a fraction in [0, 1]")
    frame["abnormal"] = frame["abnormal"].astype(float)
    suffix = ""
    if "window" in frame and frame["window"].nunique() > 1:  # e.g. AAR(0) and CAAR[-1,+1]
        first = frame["window"].iloc[0]
        frame = frame.loc[frame["window"] == first]
        suffix = f", {first}"
    if alternative is not None and "alternative" in frame and \
            (frame["alternative"] == alternative).any():
        frame = frame.loc[frame["alternative"] == alternative]
        suffix = f" ({alternative})"
    if "alternative" in frame and frame["alternative"].nunique() > 1:
        frame["series"] = frame["test"].astype(str) + " (" + frame["alternative"].astype(str) + ")"
    else:
        frame["series"] = frame["test"].astype(str)
    panels = list(dict.fromkeys(frame["panel"]))
    designs = list(dict.fromkeys(frame["design"]))
    zero = np.isclose(frame["abnormal"], 0.0)
    columns = [("size", d) for d in designs if (zero & (frame["design"] == d)).any()]
    columns += [("power", d) for d in designs
                if frame.loc[frame["design"] == d, "abnormal"].nunique() > 1]
    series = list(dict.fromkeys(frame["series"]))
    from matplotlib import colormaps
    from matplotlib.lines import Line2D

    cmap = colormaps["tab20" if len(series) > 10 else "tab10"]
    colors = {name: cmap(i % cmap.N) for i, name in enumerate(series)}
    n_cols, n_rows = max(len(columns), 1), max(len(panels), 1)
    fig, axes = _figure(2.0 + 3.6 * n_cols, 0.6 + max(2.6, 0.28 * len(series) + 1.2) * n_rows,
                        rows=n_rows, cols=n_cols)
    for i, panel in enumerate(panels):
        for j, (kind, design) in enumerate(columns):
            ax = axes[i, j]
            sub = frame.loc[(frame["panel"] == panel) & (frame["design"] == design)]
            n = int(sub["n_samples"].max()) if "n_samples" in sub and len(sub) else 0
            head = _plain(f"{panel} · {design}: {kind}{suffix}")
            if kind == "size":
                size = sub.loc[np.isclose(sub["abnormal"], 0.0)]
                if size.empty:
                    ax.axis("off")
                    continue
                names = list(dict.fromkeys(size["series"]))
                for k, name in enumerate(names):
                    row = size.loc[size["series"] == name].iloc[0]
                    rate = float(row["rejection_rate"]) * 100
                    if "band_lo" in row and "band_hi" in row and pd.notna(row["band_lo"]):
                        # the band is where a well-specified test's rate falls; the rate
                        # itself may lie outside it (over- or under-rejection)
                        ax.errorbar((float(row["band_lo"]) + float(row["band_hi"])) * 50, k,
                                    xerr=(float(row["band_hi"]) - float(row["band_lo"])) * 50,
                                    fmt="none", ecolor=colors[name], alpha=0.5, capsize=3)
                    ax.plot(rate, k, "o", color=colors[name], ms=5)
                ax.axvline(nominal * 100, color=_RED, ls="--", lw=1)
                ax.set_yticks(np.arange(len(names)), [_plain(m) for m in names], fontsize=8)
                ax.set_ylim(len(names) - 0.5, -0.5)
                ax.set_xlabel("Rejection rate, no abnormal return")
                ax.xaxis.set_major_formatter(_pct_formatter())
                ax.grid(axis="x", alpha=0.3)
                ax.set_title(head + (f", {n:,} samples" if n else ""), fontsize=9)
            else:
                power = sub.sort_values("abnormal", kind="stable")
                if power["abnormal"].nunique() < 2:
                    ax.axis("off")
                    continue
                for name, grp in power.groupby("series", sort=False):
                    x = grp["abnormal"].to_numpy(dtype=float) * 100
                    y = grp["rejection_rate"].to_numpy(dtype=float) * 100
                    ax.plot(x, y, marker="o", ms=4, lw=1.3, color=colors[str(name)])
                    if "band_lo" in grp and "band_hi" in grp:
                        ax.fill_between(x, grp["band_lo"].to_numpy(dtype=float) * 100,
                                        grp["band_hi"].to_numpy(dtype=float) * 100,
                                        color=colors[str(name)], alpha=0.08, lw=0)
                ax.axhline(nominal * 100, color=_RED, ls="--", lw=1)
                ax.set_ylim(0, 100)
                _percent_axis(ax)
                ax.set_xticks(np.unique(power["abnormal"].to_numpy(dtype=float)) * 100)
                ax.xaxis.set_major_formatter(_pct_formatter())
                ax.set_xlabel("Abnormal return added on day 0")
                ax.set_ylabel("Rejection rate")
                ax.grid(alpha=0.3)
                ax.set_title(head, fontsize=9)
    handles = [_legend_handle(colors[name], name) for name in series]
    handles.append(Line2D([], [], color=_RED, ls="--", label=f"nominal level {nominal:.0%}"))
    fig.legend(handles=handles, loc="outside right upper", fontsize=8, frameon=False)
    fig.suptitle(title or "Rejection rates of the significance tests in the simulation")
    return fig


def _pct_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: f"{v:g}%")


def _legend_handle(color: Any, label: str) -> Any:
    from matplotlib.lines import Line2D

    return Line2D([], [], color=color, marker="o", label=_plain(label))


# --------------------------------------------------------------------------- writing


