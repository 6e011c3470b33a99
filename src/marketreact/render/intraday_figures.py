"""Figures of intraday event studies (matplotlib, no pyplot, no files written).

* :func:`caar_by_bar_figure` — CAAR by relative bar with its cross-sectional
  confidence band and the AAR of each bar, from the long ``abnormal_returns``
  table of an intraday study (``event_id, rel_bar, ar``);
* :func:`event_bars_figure` — one event's bars: the stock's price and the
  cumulative AR on exchange time, the news time and the event bar marked.

Floor: ``render`` (imports only the ground floor here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from marketreact.render.figures import _BLUE, _GREY, _ORANGE, _RED, _figure, _percent_axis

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def caar_band_bars(abnormal_returns: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """CAAR at each relative bar with its cross-sectional t band.

    Each event's CAR from the first bar of the window to bar ``τ`` (missing ARs
    count 0); the band is ``CAAR ± t(1 − α/2, N − 1) s / √N`` over events.

    Parameters
    ----------
    abnormal_returns : pandas.DataFrame
        ``event_id, rel_bar, ar`` (one row per event and bar).
    confidence : float, default 0.95
        Coverage of the band.

    Returns
    -------
    pandas.DataFrame
        ``rel_bar, n, aar, caar, lo, hi``.
    """
    ar = abnormal_returns.pivot_table(index="event_id", columns="rel_bar", values="ar",
                                      aggfunc="first", dropna=False)
    values = ar.to_numpy(dtype=float)
    car = np.cumsum(np.nan_to_num(values), axis=1)
    n = len(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = car.mean(axis=0) if n else np.full(values.shape[1], np.nan)
        sd = car.std(axis=0, ddof=1) if n > 1 else np.full(values.shape[1], np.nan)
        half = stats.t.ppf(0.5 + confidence / 2, max(n - 1, 1)) * sd / np.sqrt(max(n, 1))
        aar = np.nanmean(values, axis=0) if n else mean
    return pd.DataFrame({"rel_bar": ar.columns.to_numpy(dtype=int),
                         "n": np.isfinite(values).sum(axis=0), "aar": aar, "caar": mean,
                         "lo": mean - half, "hi": mean + half})


def caar_by_bar_figure(abnormal_returns: pd.DataFrame, *, confidence: float = 0.95,
                       title: str | None = None, interval: str = "bar") -> Figure:
    """CAAR by relative bar with its band, and the AAR of each bar as grey bars.

    Parameters
    ----------
    abnormal_returns : pandas.DataFrame
        ``event_id, rel_bar, ar`` (and ``other_session``: bars of another session
        than the event bar are shaded).
    confidence : float, default 0.95
        Coverage of the band.
    title : str, optional
        Figure title.
    interval : str, default "bar"
        Bar length for the axis label (``1h``, ``1m``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    band = caar_band_bars(abnormal_returns, confidence)
    fig, axes = _figure(8.0, 4.6)
    ax = axes[0, 0]
    x = band["rel_bar"].to_numpy()
    ax.bar(x, band["aar"] * 100, width=0.6, color=_GREY, alpha=0.45, label="AAR")
    ax.plot(x, band["caar"] * 100, color=_BLUE, marker="o", markersize=3.5, lw=2, label="CAAR")
    ax.fill_between(x, band["lo"] * 100, band["hi"] * 100, color=_BLUE, alpha=0.18, lw=0,
                    label=f"{confidence:.0%} band (cross-sectional t)")
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(0, color=_RED, lw=1, ls="--", label="event bar")
    ax.set_xlabel(f"Relative bar ({interval} bars, 0 = the bar the news fell in)")
    ax.set_ylabel("Abnormal return")
    _percent_axis(ax)
    ax.legend(loc="best", fontsize=8, frameon=False)
    if title:
        ax.set_title(title)
    return fig


def event_bars_figure(abnormal_returns: pd.DataFrame, event_id: str, *,
                      title: str | None = None) -> Figure:
    """One event's bars: price (left) and cumulative AR (right) at each bar's close.

    Bar ``k`` of the window spans ``[k, k + 1]`` on the x axis; its close (and the
    cumulative AR through it) is drawn at the bar's end, labelled with the time
    the bar closed (``traded_to``), so news inside a bar lies between the two
    ticks that bound it. Gaps between sessions are not drawn to scale.

    Parameters
    ----------
    abnormal_returns : pandas.DataFrame
        ``event_id, rel_bar, price, ar, news_time`` rows of the event, with
        ``traded_from``/``traded_to`` (the bar's part inside the session; without
        them ``bar_start`` and the next bar's start are used).
    event_id : str
        The event.
    title : str, optional
        Figure title (default: the event id and the news time).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    KeyError
        When the table has no row for ``event_id``.
    """
    rows = abnormal_returns.loc[abnormal_returns["event_id"].astype(str) == str(event_id)]
    if rows.empty:
        raise KeyError(f"no bars for event {event_id!r}")
    rows = rows.sort_values("rel_bar")
    frm, to = _bar_spans(rows)
    fig, axes = _figure(8.0, 4.4)
    ax = axes[0, 0]
    n = len(rows)
    ends = np.arange(1, n + 1)
    ax.plot(ends, rows["price"].to_numpy(float), color=_BLUE, marker="o", markersize=3,
            label="close (adjusted)")
    ax.set_ylabel("Price")
    ax2 = ax.twinx()
    car = np.concatenate([[0.0], np.cumsum(np.nan_to_num(rows["ar"].to_numpy(float)))])
    ax2.plot(np.arange(n + 1), car * 100, color=_ORANGE, lw=1.5, label="cumulative AR")
    ax2.set_ylabel("Cumulative AR")
    zero = np.flatnonzero(rows["rel_bar"].to_numpy() == 0)
    if zero.size:
        ax.axvspan(zero[0], zero[0] + 1, color=_RED, alpha=0.12, label="event bar")
    news = pd.Timestamp(rows["news_time"].iloc[0])
    ax.axvline(_news_x(news, frm, to), color=_RED, lw=1.2, ls="--",
               label=f"news {news.strftime('%Y-%m-%d %H:%M')}")
    labels = [_stamp(frm[0])] + [_stamp(t) for t in to]
    ticks = np.arange(n + 1)
    step = max((n + 1) // 10, 1)
    ax.set_xticks(ticks[::step], labels[::step], rotation=45, ha="right", fontsize=7)
    ax.set_xlim(-0.3, n + 0.3)
    ax.set_xlabel("Bar close (exchange time; the first tick is the first bar's open)",
                  fontsize=8)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax2.legend(loc="lower right", fontsize=8, frameon=False)
    _percent_axis(ax2)
    ax.set_title(title or f"{event_id}: bars around the news")
    return fig


def _stamp(t: pd.Timestamp) -> str:
    return "" if pd.isna(t) else pd.Timestamp(t).strftime("%m-%d %H:%M")


def _bar_spans(rows: pd.DataFrame) -> tuple[list[pd.Timestamp], list[pd.Timestamp]]:
    """When each bar's trading began and ended (the next bar's start without ``traded_to``)."""
    if "traded_from" in rows and "traded_to" in rows:
        return ([pd.Timestamp(t) for t in rows["traded_from"]],
                [pd.Timestamp(t) for t in rows["traded_to"]])
    starts = [pd.Timestamp(t) for t in rows["bar_start"]]
    step = (pd.Series(starts).diff().dropna().min() if len(starts) > 1
            else pd.Timedelta(hours=1))
    return starts, [*starts[1:], starts[-1] + step]


def _news_x(news: pd.Timestamp, frm: list[pd.Timestamp], to: list[pd.Timestamp]) -> float:
    """The x of the news time: inside bar ``k`` at ``k + fraction``, else a bar boundary."""
    for k, (a, b) in enumerate(zip(frm, to, strict=True)):
        if pd.isna(a) or pd.isna(b):
            continue
        if news < a:  # before this bar's trading (pre-open, or between sessions)
            return float(k)
        if news < b:
            return k + (news - a) / (b - a)
    return float(len(frm))
