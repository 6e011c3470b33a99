"""Buy-and-hold abnormal returns against a reference portfolio named per event.

Long-horizon studies benchmark each firm against a portfolio of similar firms (size and
book-to-market deciles, an industry index) rather than the market (Lyon, Barber and Tsai
1999; Barber and Lyon 1997). A catalogue column (``reference`` by default) names, for
each event, the price series of its benchmark, loaded like any other ticker. For each
event and CAR window ``[a, b]``:

``BHAR_ref = prod(1 + R_i,t) - 1 - (P_ref(end) / P_ref(before start) - 1)``

with ``R_i,t`` the firm's returns on the window's sessions (``exp(sum) - 1`` of log
returns), ``P_ref(end)`` the reference's adjusted close on the window's last session
(the last one at or before it) and ``P_ref(before start)`` its last close before the
window's first session: the reference portfolio bought and held over the same span.

:func:`with_reference_bhar` adds ``reference`` and ``bhar_ref`` to ``car`` and to
``aggregate`` the mean reference BHAR with the conventional t, the Lyon-Barber-Tsai
skewness-adjusted t and its bootstrapped version
(:func:`marketreact.inference.long_horizon.bhar_test_columns`). Pure computation on
loaded prices (vectorised over events, one pass per distinct reference series).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from marketreact.errors import InputError, InputProblem
from marketreact.inference.long_horizon import bhar_test_columns
from marketreact.panel.returns import ReturnKind
from marketreact.study.results import StudyResult
from marketreact.windows import format_window

#: Default catalogue column naming each event's reference series.
REFERENCE_COLUMN = "reference"


def reference_tickers(events: Any, column: str = REFERENCE_COLUMN) -> pd.Series:
    """The reference ticker of each event, by event id (upper case; blank cells dropped).

    Parameters
    ----------
    events : EventCatalogue or pandas.DataFrame
        The catalogue (its ``frame``) with ``event_id`` and ``column``.
    column : str, default "reference"
        The column naming each event's reference series.

    Raises
    ------
    InputError
        When the catalogue has no such column.
    """
    frame = getattr(events, "frame", events)
    if column not in frame:
        source = str(getattr(events, "source", "events"))
        raise InputError([InputProblem(source, None, column, None,
                                       f"the catalogue has no {column!r} column naming each "
                                       "event's reference series")])
    refs = frame[column].astype("string").str.strip().str.upper()
    keep = refs.notna() & (refs != "")
    return pd.Series(refs[keep].to_numpy(dtype=object),
                     index=frame.loc[keep, "event_id"].astype(str).to_numpy(), name=column)


def _closes(frame: pd.DataFrame) -> pd.Series:
    """Adjusted closes (closes where there is no adjusted one), by date, sorted."""
    close = frame["adj_close"] if "adj_close" in frame else frame["close"]
    if "adj_close" in frame and "close" in frame:
        close = close.fillna(frame["close"])
    index = pd.DatetimeIndex(frame.index)
    if index.tz is not None:
        index = index.tz_localize(None)
    out = pd.Series(close.to_numpy(dtype=float), index=index).dropna()
    out = out[out > 0]
    return out[~out.index.duplicated(keep="last")].sort_index()


def reference_returns(closes: pd.Series, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Buy-and-hold return of one series from the last close before ``start`` to ``end``.

    Parameters
    ----------
    closes : pandas.Series
        Prices by date (sorted, unique).
    start, end : numpy.ndarray
        ``datetime64`` first and last session of each window.

    Returns
    -------
    numpy.ndarray
        ``P(last date <= end) / P(last date < start) - 1``; NaN where either is missing.
    """
    dates = closes.index.to_numpy(dtype="datetime64[ns]")
    values = closes.to_numpy(dtype=float)
    i_end = np.searchsorted(dates, end.astype("datetime64[ns]"), side="right") - 1
    i_before = np.searchsorted(dates, start.astype("datetime64[ns]"), side="left") - 1
    ok = (i_end >= 0) & (i_before >= 0) & ~np.isnat(start) & ~np.isnat(end) & \
        (i_end > i_before)
    out = np.full(len(start), np.nan)
    out[ok] = values[i_end[ok]] / values[i_before[ok]] - 1.0
    return out


def with_reference_bhar(result: StudyResult, events: Any,
                        prices: Mapping[str, pd.DataFrame] | Any, *,
                        column: str = REFERENCE_COLUMN) -> StudyResult:
    """Add BHARs against each event's reference series, and their tests.

    Parameters
    ----------
    result : StudyResult
        A study of returns.
    events : EventCatalogue or pandas.DataFrame
        The catalogue, with ``column`` naming each event's reference series.
    prices : mapping of str to pandas.DataFrame, or PriceFetch
        Standard price frames by ticker holding the reference series (``frames``
        of a :class:`~marketreact.prices.PriceFetch`).
    column : str, default "reference"
        The catalogue column.

    Returns
    -------
    StudyResult
        ``car`` with ``reference`` and ``bhar_ref``; ``aggregate`` with
        ``mean_bhar_ref``, ``n_ref`` and the columns of
        :func:`~marketreact.inference.long_horizon.bhar_test_columns` (prefix
        ``bhar_ref``); a note for every reference series that could not be had.
    """
    frames = getattr(prices, "frames", prices)
    refs = reference_tickers(events, column)
    s = result.settings
    if s.measure.value != "return":
        raise InputError([InputProblem("settings", None, "measure", s.measure.value,
                                       "a reference-portfolio BHAR needs a study of returns")])
    ids = result.events["event_id"].astype(str).to_numpy()
    e = len(ids)
    rel_days = np.asarray(result.arrays.rel_days)
    width = len(rel_days)
    labels = [format_window(w) for w in s.car_windows]
    n_win = len(labels)
    bhar_ref = np.full((e, n_win), np.nan)
    notes: list[str] = []
    ref_of = refs.reindex(ids).to_numpy(dtype=object)
    if e:
        table = result.abnormal_returns
        if len(table) != e * width:
            raise ValueError("abnormal_returns is not one row per event and relative day")
        r = table["return"].to_numpy(dtype=float).reshape(e, width)
        when = table["date"].to_numpy(dtype="datetime64[ns]").reshape(e, width)
        for j, (a, b) in enumerate(s.car_windows):
            cols = slice(int(np.searchsorted(rel_days, a)),
                         int(np.searchsorted(rel_days, b, side="right")))
            part = r[:, cols]
            ok = np.isfinite(part)
            if s.returns is ReturnKind.log:
                stock = np.exp(np.where(ok, part, 0.0).sum(axis=1)) - 1.0
            else:
                stock = np.prod(np.where(ok, 1.0 + part, 1.0), axis=1) - 1.0
            stock = np.where(ok.any(axis=1), stock, np.nan)
            start, end = when[:, cols][:, 0], when[:, cols][:, -1]
            bench = np.full(e, np.nan)
            for ticker in pd.unique(ref_of[pd.notna(ref_of)]):
                rows = np.flatnonzero(ref_of == ticker)
                frame = frames.get(ticker)
                if frame is None or frame.empty:
                    if j == 0:
                        notes.append(f"reference series {ticker} could not be had: no "
                                     f"reference BHAR for {len(rows)} event(s)")
                    continue
                bench[rows] = reference_returns(_closes(frame), start[rows], end[rows])
            bhar_ref[:, j] = stock - bench
    missing = int(pd.isna(ref_of).sum())
    if missing:
        notes.append(f"{missing} event(s) name no reference series in column {column!r}")
    car = result.car.copy()
    # car.csv is window-major, events in result order within each window
    if len(car) == e * n_win:
        car["reference"] = np.tile(np.where(pd.isna(ref_of), "", ref_of).astype(str), n_win)
        car["bhar_ref"] = bhar_ref.ravel(order="F")
    aggregate = result.aggregate.copy()
    if len(aggregate) == n_win:
        ok = np.isfinite(bhar_ref)
        n = ok.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            aggregate["mean_bhar_ref"] = np.where(ok, bhar_ref, 0.0).sum(axis=0) / n
        aggregate["n_ref"] = n
        tests = bhar_test_columns(bhar_ref, n_boot=s.n_boot, seed=s.seed,
                                  alternative=s.alternative, prefix="bhar_ref")
        for col, values in tests.items():
            aggregate[col] = values
    return replace(result, car=car, aggregate=aggregate,
                   diagnostics=tuple(result.diagnostics) + tuple(notes))
