"""The price-cleaning rules: one vectorised implementation for one frame or thousands.

Holds the rules that turn a standard price frame as a source returned it into
the rows a study may use, applied to *stacked* rows (the rows of every ticker
one after the other in flat arrays, ticker ``i`` owning rows
``offsets[i]:offsets[i + 1]``). :func:`clean_rows` is the one implementation:
:class:`~marketreact.panel.table.PriceTable` calls it on thousands of stacked
frames at once, :func:`clean_prices` on one.

Rules
-----
* The price of a row is its adjusted close, or its close where the adjusted
  close is missing.
* Rows without a positive price are removed (zero and negative prices are
  reported in a note; missing ones silently).
* Yahoo writes flat filler rows on days it has no trade for a ticker: volume 0
  and the same price as the row before (among the rows kept so far). They are
  removed (the session becomes a missing price) and counted in a note. A
  zero-volume row whose price moved is kept: index series often lack volume on
  real trading days. Rows are compared in the order given, never across tickers.
* A negative volume is not a volume: the row keeps its price, its volume
  becomes missing, and a note counts such rows (a volume study would otherwise
  lose the session without a word, as the log of a negative number).

Imports: the ground floor (errors, ``_typing``, ``_compiled``) and
:mod:`marketreact.prices.frames` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketreact import _compiled
from marketreact._typing import BoolArray, FloatArray, IntArray
from marketreact.errors import InputProblem
from marketreact.prices.frames import PRICE_COLUMNS

_NEEDED = ("close", "adj_close", "volume")
_NS = np.dtype("datetime64[ns]")
_DAY = 86_400_000_000_000
_STANDARD_COLUMNS = pd.Index(PRICE_COLUMNS)
#: Where the needed columns sit among :data:`PRICE_COLUMNS`.
_AT = tuple(PRICE_COLUMNS.index(col) for col in _NEEDED)


@dataclass(frozen=True)
class StackedRows:
    """The rows of many standard frames, stacked (what the cleaning rules read).

    Attributes
    ----------
    tickers : tuple of str
        The frames' tickers, in order.
    offsets : numpy.ndarray
        ``(N + 1,)`` int64: ticker ``i`` owns rows ``offsets[i]:offsets[i + 1]``.
    dates : numpy.ndarray
        ``(R,)`` int64 nanoseconds: every row's date.
    price : numpy.ndarray
        ``(R,)`` float: every row's adjusted close, the close where it is missing.
    volume : numpy.ndarray
        ``(R,)`` float: every row's volume (NaN where absent).
    """

    tickers: tuple[str, ...]
    offsets: IntArray
    dates: np.ndarray
    price: FloatArray
    volume: FloatArray


@dataclass(frozen=True)
class Cleaning:
    """What the cleaning rules decided about stacked rows.

    Attributes
    ----------
    keep : numpy.ndarray
        ``(R,)`` bool: rows that survive the rules.
    notes : dict of str to tuple of InputProblem
        What was removed and why, by ticker (tickers without notes absent; at
        most one note per kind of removal).
    counts : numpy.ndarray
        ``(N,)`` int64: rows kept per ticker.
    volume : numpy.ndarray
        ``(R,)`` float: every row's volume, NaN where it was negative (the input
        array itself when none was).
    """

    keep: BoolArray
    notes: dict[str, tuple[InputProblem, ...]]
    counts: IntArray
    volume: FloatArray


def date_ns(index: pd.Index) -> np.ndarray:
    """Return the dates of a standard frame's index as int64 nanoseconds (tz dropped)."""
    if isinstance(index, pd.DatetimeIndex) and index.dtype == _NS:
        return index.asi8
    return pd.DatetimeIndex(index).tz_localize(None).as_unit("ns").asi8


def price_arrays(frame: pd.DataFrame) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return ``close, adj_close, volume`` of a frame as float arrays (NaN where absent)."""
    try:
        at = [frame.columns.get_loc(col) for col in _NEEDED]
    except KeyError:
        at = []
    if all(isinstance(i, int) for i in at) and len(at) == len(_NEEDED):
        try:
            values = frame.to_numpy(dtype=float)
        except (TypeError, ValueError):
            pass
        else:
            return values[:, at[0]], values[:, at[1]], values[:, at[2]]
    out = []
    for col in _NEEDED:
        out.append(pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
                   if col in frame else np.full(len(frame), np.nan))
    return out[0], out[1], out[2]


def stack_frames(frames: Mapping[str, pd.DataFrame]) -> StackedRows:
    """Stack the rows of standard frames (in the mapping's order, each frame's rows as given).

    Parameters
    ----------
    frames : mapping of str to pandas.DataFrame
        Standard price frames by ticker.

    Returns
    -------
    StackedRows
    """
    dates, close, adj, vol = [], [], [], []
    for frame in frames.values():
        c, a, v = price_arrays(frame)
        dates.append(date_ns(frame.index))
        close.append(c)
        adj.append(a)
        vol.append(v)
    return _stack(tuple(frames), dates, close, adj, vol)


def _stack(tickers: tuple[str, ...], dates: list[np.ndarray], close: list[FloatArray],
           adj: list[FloatArray], volume: list[FloatArray]) -> StackedRows:
    """Stack the frames' arrays, one per frame in each list.

    The price is the adjusted close, the close where it is missing.
    """
    offsets: IntArray = np.zeros(len(dates) + 1, dtype=np.int64)
    np.cumsum(np.fromiter((len(d) for d in dates), np.int64, len(dates)), out=offsets[1:])

    def cat(parts: list[np.ndarray], dt: type) -> np.ndarray:
        return np.concatenate(parts) if parts else np.empty(0, dtype=dt)

    price = cat(adj, float)
    missing_adj = np.isnan(price)
    if missing_adj.any():
        price[missing_adj] = cat(close, float)[missing_adj]
    return StackedRows(tickers, offsets, cat(dates, np.int64), price, cat(volume, float))


def stack_standard(frames: Mapping[str, pd.DataFrame]) -> tuple[StackedRows, tuple[str, ...]]:
    """Stack the frames already in the standard shape, and name the others.

    A frame is standard when its index is ``datetime64[ns]`` of strictly increasing
    midnights, its columns are :data:`~marketreact.prices.frames.PRICE_COLUMNS` in that
    order and its values are numbers (float or integer columns, which pandas hands over
    as one float64 array: the values :func:`~marketreact.prices.frames.standard_frame`
    would give). The shape is checked frame by frame with attribute look-ups only; the
    dates of all the frames at once, on the stacked dates (a per-frame check costs more
    in pandas overhead than the arithmetic: thousands of frames are normal).

    Parameters
    ----------
    frames : mapping of str to pandas.DataFrame
        Price frames by ticker, in any shape (anything else is named among the others).

    Returns
    -------
    rows : StackedRows
        The rows of the standard frames, in the mapping's order (what
        :func:`stack_frames` gives for them).
    others : tuple of str
        The tickers whose frames are not standard, in the mapping's order.
    """
    shaped: dict[str, pd.DataFrame] = {}
    values, dates = [], []
    for ticker, frame in frames.items():
        if not isinstance(frame, pd.DataFrame):
            continue
        index = frame.index
        if not (isinstance(index, pd.DatetimeIndex) and index.dtype == _NS
                and frame.columns.equals(_STANDARD_COLUMNS)):
            continue
        v = frame.to_numpy()
        if v.dtype == np.float64:
            shaped[ticker] = frame
            values.append(v)
            dates.append(index.asi8)
    close_at, adj_at, volume_at = _AT
    rows = _stack(tuple(shaped), dates, [v[:, close_at] for v in values],
                  [v[:, adj_at] for v in values], [v[:, volume_at] for v in values])
    bad = date_faults(rows.dates, rows.offsets)
    if bad.any():  # rare: stack the standard frames alone
        good = {t: f for (t, f), b in zip(shaped.items(), bad, strict=True) if not b}
        return stack_frames(good), tuple(t for t in frames if t not in good)
    return rows, tuple(t for t in frames if t not in shaped)


def date_faults(dates: np.ndarray, offsets: IntArray) -> BoolArray:
    """Which stacked frames have a date that is not a midnight or not after the one before.

    Parameters
    ----------
    dates : numpy.ndarray
        ``(R,)`` int64 nanoseconds, the frames' dates stacked.
    offsets : numpy.ndarray
        ``(N + 1,)`` int64: frame ``i`` owns ``dates[offsets[i]:offsets[i + 1]]``.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` bool: True for a frame whose dates are not strictly increasing
        midnights.
    """
    n = len(offsets) - 1
    bad = np.zeros(max(n, 0), dtype=bool)
    if not len(dates):
        return bad
    if _compiled.HAVE_NUMBA:
        _date_faults(dates, offsets, bad)
        return bad
    fault = dates % _DAY != 0
    fault[1:] |= dates[1:] <= dates[:-1]
    starts = offsets[:-1][offsets[:-1] < len(dates)]
    fault[starts] = dates[starts] % _DAY != 0  # a frame's first date follows no date of its own
    bad[np.searchsorted(offsets, np.flatnonzero(fault), side="right") - 1] = True
    return bad


def _date_faults_loop(dates: IntArray, offsets: IntArray,
                      bad: BoolArray) -> None:  # pragma: no cover - compiled
    """:func:`date_faults` in one pass (compiled): ``bad[i]`` set for a faulty frame ``i``.

    (The day's length is the module's constant: numba compiles it in, and a division by a
    constant costs a multiplication.)
    """
    for k in range(offsets.shape[0] - 1):
        for j in range(offsets[k], offsets[k + 1]):
            if dates[j] % _DAY != 0 or (j > offsets[k] and dates[j] <= dates[j - 1]):
                bad[k] = True
                break


_date_faults = _compiled.Kernel(_date_faults_loop)


def clean_rows(rows: StackedRows, *, filler_notes: bool = True) -> Cleaning:
    """Apply the cleaning rules to stacked rows, every ticker at once.

    Parameters
    ----------
    rows : StackedRows
        The rows, as :func:`stack_frames` gives them.
    filler_notes : bool, default True
        Note the flat zero-volume filler rows removed. A study of returns passes
        False: the rows are removed all the same, but a note about volume would
        speak of a measure that plays no part in it (a volume study passes True).

    Returns
    -------
    Cleaning
        The rows to keep, the notes by ticker and the kept row count per ticker.
    """
    tickers, offsets, dates, price, volume = (rows.tickers, rows.offsets, rows.dates,
                                              rows.price, rows.volume)
    n = len(tickers)
    starts = offsets[:-1]

    def per_ticker(at: IntArray) -> IntArray:
        return np.bincount(np.searchsorted(offsets, at, side="right") - 1, minlength=n)

    negative_volume = volume < 0
    neg_rows = np.flatnonzero(negative_volume)
    neg_counts = per_ticker(neg_rows)
    if len(neg_rows):
        volume = np.where(negative_volume, np.nan, volume)
    drop = ~(price > 0)  # missing, zero or negative
    drop_rows = np.flatnonzero(drop)
    drop_counts = per_ticker(drop_rows)
    bad_rows = np.flatnonzero(price <= 0)  # zero or negative: reported
    bad_counts = per_ticker(bad_rows)
    kept: IntArray | None
    if len(drop_rows):
        kept = np.flatnonzero(~drop)
        p, v = price[kept], volume[kept]
        new_starts = starts - np.cumsum(np.concatenate([[0], drop_counts[:-1]]))
    else:
        kept, p, v, new_starts = None, price, volume, starts
    filler = np.zeros(len(p), dtype=bool)
    if len(p) > 1:
        np.equal(p[1:], p[:-1], out=filler[1:])
        filler[1:] &= v[1:] == 0
        filler[new_starts[new_starts < len(p)]] = False  # never compare across tickers
    fill_rows = np.flatnonzero(filler)
    if kept is not None:
        fill_rows = kept[fill_rows]
        keep = ~drop
        keep[fill_rows] = False
    else:
        keep = ~filler
    fill_counts = per_ticker(fill_rows)
    counts = np.diff(offsets) - drop_counts - fill_counts
    notes: dict[str, tuple[InputProblem, ...]] = {}
    noted_fill = fill_counts if filler_notes else np.zeros_like(fill_counts)

    def first_date(rows: IntArray, i: int) -> object:
        """Date of the first of ``rows`` that belongs to ticker ``i``."""
        return pd.Timestamp(int(dates[rows[np.searchsorted(rows, offsets[i])]])).date()

    for i in np.flatnonzero((bad_counts > 0) | (noted_fill > 0) | (neg_counts > 0)):
        ticker = tickers[i]
        found: list[InputProblem] = []
        if bad_counts[i]:
            found.append(InputProblem(ticker, None, "adj_close", None,
                                      f"{int(bad_counts[i])} row(s) with a zero or negative "
                                      f"price taken as missing (first {first_date(bad_rows, i)})"))
        if noted_fill[i]:
            found.append(InputProblem(ticker, None, "volume", None,
                                      f"{int(fill_counts[i])} flat zero-volume filler row(s) "
                                      "treated as missing"))
        if neg_counts[i]:
            found.append(InputProblem(ticker, None, "volume", None,
                                      f"{int(neg_counts[i])} row(s) with a negative volume: "
                                      "volume taken as missing "
                                      f"(first {first_date(neg_rows, i)})"))
        notes[ticker] = tuple(found)
    return Cleaning(keep, notes, counts, volume)


def clean_prices(frame: pd.DataFrame, source: str, *,
                 filler_notes: bool = True) -> tuple[pd.DataFrame, list[InputProblem]]:
    """Apply the cleaning rules to one standard frame (:func:`clean_rows` on its rows).

    Parameters
    ----------
    frame : pandas.DataFrame
        A standard price frame, sorted by date with unique dates.
    source : str
        Name used in the notes (the ticker).
    filler_notes : bool, default True
        Note the filler rows removed (see :func:`clean_rows`).

    Returns
    -------
    frame : pandas.DataFrame
        The cleaned frame (``frame`` itself when no row is removed).
    notes : list of InputProblem
        What was removed and why (one note per kind of removal).
    """
    cleaning = clean_rows(stack_frames({source: frame}), filler_notes=filler_notes)
    kept = frame if cleaning.keep.all() else frame.loc[cleaning.keep]
    if "volume" in kept.columns and (kept["volume"] < 0).any():
        kept = kept.copy()
        kept.loc[kept["volume"] < 0, "volume"] = np.nan
    return kept, list(cleaning.notes.get(source, ()))
