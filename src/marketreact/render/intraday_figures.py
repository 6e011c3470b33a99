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
    ax.set_ylabel("Abnormal return (%)")
    _percent_axis(ax)
    ax.legend(loc="best", fontsize=8, frameon=False)
    if title:
        ax.set_title(title)
    return fig


def event_bars_figure(abnormal_returns: pd.DataFrame, event_id: str, *,
                      title: str | None = None) -> Figure:
    """One event's bars: price (left) and cumulative AR (right) on exchange time.

    Parameters
    ----------
    abnormal_returns : pandas.DataFrame
        ``event_id, bar_start, price, ar, news_time, rel_bar`` rows of the event.
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
    fig, axes = _figure(8.0, 4.4)
    ax = axes[0, 0]
    x = np.arange(len(rows))
    labels = [pd.Timestamp(t).strftime("%m-%d %H:%M") for t in rows["bar_start"]]
    ax.plot(x, rows["price"].to_numpy(float), color=_BLUE, marker="o", markersize=3,
            label="close (adjusted)")
    ax.set_ylabel("Price")
    ax2 = ax.twinx()
    ax2.plot(x, np.cumsum(np.nan_to_num(rows["ar"].to_numpy(float))) * 100, color=_ORANGE,
             lw=1.5, label="cumulative AR (%)")
    ax2.set_ylabel("Cumulative AR (%)")
    zero = np.flatnonzero(rows["rel_bar"].to_numpy() == 0)
    if zero.size:
        ax.axvspan(zero[0] - 0.5, zero[0] + 0.5, color=_RED, alpha=0.12, label="event bar")
    news = pd.Timestamp(rows["news_time"].iloc[0])
    starts = pd.DatetimeIndex(rows["bar_start"])
    k = int(np.searchsorted(starts.asi8, news.value, side="right")) - 1
    if 0 <= k < len(starts):
        nxt = starts[k + 1].value if k + 1 < len(starts) else starts[k].value + 1
        frac = min(max((news.value - starts[k].value) / max(nxt - starts[k].value, 1), 0), 1)
        ax.axvline(k - 0.5 + frac, color=_RED, lw=1.2, ls="--",
                   label=f"news {news.strftime('%Y-%m-%d %H:%M')}")
    step = max(len(x) // 10, 1)
    ax.set_xticks(x[::step], labels[::step], rotation=45, ha="right", fontsize=7)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax2.legend(loc="lower right", fontsize=8, frameon=False)
    _percent_axis(ax2)
    ax.set_title(title or f"{event_id}: bars around the news")
    return fig
