"""Intraday bars lined up on an exchange's session minutes: the bar panel and its gathers.

The grid is the union of every ticker's bar starts that fall on a session
(regular-hours bars, plus extended-hours bars when asked for). Returns per bar:

* the first bar a ticker trades in a session: ``close / open - 1`` (the
  overnight move is kept out and stored on its own, per session, as
  ``open_first / close_last_of_previous_session - 1``);
* a later bar: ``close / previous close - 1``; a bar without trades (a minute
  nobody traded) has return 0 (the price stood still); bars before the first
  trade of a session are missing;
* a return whose ratio is within 3% of a split ratio (2, 3, 4, 5, 7, 8, 10 or
  their inverses) is *suspect*: a raw split or a stale print, set missing and
  counted, never studied as a -86% bar.

Floor: ``panel`` (imports ``calendar`` and ``prices`` only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketreact._typing import BoolArray, FloatArray, IntArray
from marketreact.calendar import bar_sessions
from marketreact.errors import InputError

#: Split ratios whose bar-to-bar jumps are treated as suspect (unadjusted splits).
SPLIT_RATIOS = (2.0, 3.0, 4.0, 5.0, 7.0, 8.0, 10.0)
_SPLIT_TOLERANCE = 0.03


@dataclass(frozen=True)
class BarPanel:
    """Bar returns of several tickers on one exchange's session minutes.

    Attributes
    ----------
    tickers : tuple of str
        Row names.
    starts : pandas.DatetimeIndex
        ``(B,)`` UTC bar starts (the grid).
    eff_start, eff_end : numpy.ndarray
        ``(B,)`` int64 UTC ns: the part of each bar inside its session's hours.
    session : numpy.ndarray
        ``(B,)`` session position of each bar.
    regular : numpy.ndarray
        ``(B,)`` regular-hours bars (False: pre-market or after-hours).
    sess_first, sess_end : numpy.ndarray
        ``(S,)`` first bar and one past the last bar of each session.
    labels : pandas.DatetimeIndex
        ``(S,)`` session labels.
    ordinal : numpy.ndarray
        ``(S,)`` position of each session in the exchange calendar.
    returns : numpy.ndarray
        ``(T, B)`` simple bar returns (NaN: missing or suspect).
    close, volume : numpy.ndarray
        ``(T, B)`` close (forward-filled inside a session) and volume (0 for a bar
        without trades).
    overnight : numpy.ndarray
        ``(T, S)`` return from the previous session's last close to the session's
        first open (NaN for the first session and after a gap in the data).
    suspect : numpy.ndarray
        ``(T, B)`` bar returns set missing as suspect.
    slot : numpy.ndarray
        ``(B,)`` time-of-day code (minutes after local midnight of ``eff_start``).
    interval : pandas.Timedelta
        Bar length.
    exchange, tz : str
        Calendar code and its zone.
    extended : bool
        Whether extended-hours bars are on the grid.
    """

    tickers: tuple[str, ...]
    starts: pd.DatetimeIndex
    eff_start: IntArray
    eff_end: IntArray
    session: IntArray
    regular: BoolArray
    sess_first: IntArray
    sess_end: IntArray
    labels: pd.DatetimeIndex
    ordinal: IntArray
    returns: FloatArray
    close: FloatArray
    volume: FloatArray
    overnight: FloatArray
    suspect: BoolArray
    slot: IntArray
    interval: pd.Timedelta
    exchange: str
    tz: str
    extended: bool

    def row(self, ticker: str) -> int:
        """Row of ``ticker`` (-1 when absent)."""
        try:
            return self.tickers.index(ticker)
        except ValueError:
            return -1

    @property
    def n_bars(self) -> int:
        """Number of bars on the grid."""
        return len(self.starts)


def _split_like(ratio: FloatArray) -> BoolArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        lr = np.abs(np.log(ratio))
    out = np.zeros(ratio.shape, dtype=bool)
    for k in SPLIT_RATIOS:
        out |= np.abs(lr - np.log(k)) < _SPLIT_TOLERANCE
    return out


def build_bar_panel(frames: Mapping[str, pd.DataFrame], interval: pd.Timedelta, *,
                    exchange: str = "XNYS", extended: bool = False) -> BarPanel:
    """Line up bar frames on the session minutes of ``exchange``.

    Parameters
    ----------
    frames : mapping of str to pandas.DataFrame
        Bars by ticker, indexed by tz-aware bar start, with ``open`` and ``close``
        (``volume`` optional), already split-adjusted where a factor table exists.
    interval : pandas.Timedelta
        Bar length.
    exchange : str, default "XNYS"
        Calendar code.
    extended : bool, default False
        Keep pre-market and after-hours bars on the grid (when the data have them).

    Returns
    -------
    BarPanel

    Raises
    ------
    InputError
        When no frame has a bar on a session.
    """
    tickers = tuple(frames)
    if not tickers:
        raise InputError("no bars given")
    stamps = []
    for t in tickers:
        idx = pd.DatetimeIndex(frames[t].index)
        if idx.tz is None:
            raise InputError(f"bars of {t}: times must be tz-aware")
        stamps.append(idx.tz_convert("UTC").as_unit("ns").asi8)
    grid_all = np.unique(np.concatenate(stamps))
    bs = bar_sessions(exchange, pd.DatetimeIndex(grid_all, tz="UTC"), interval)
    keep = (bs.session >= 0) & (bs.regular | extended)
    if not keep.any():
        raise InputError(f"no bar falls on a {exchange} session")
    grid = grid_all[keep]
    session_raw = bs.session[keep]
    used, session = np.unique(session_raw, return_inverse=True)
    session = session.astype(np.int64)
    S, B = len(used), len(grid)
    sess_first = np.searchsorted(session, np.arange(S), side="left").astype(np.int64)
    sess_end = np.searchsorted(session, np.arange(S), side="right").astype(np.int64)
    T = len(tickers)
    open_ = np.full((T, B), np.nan)
    close = np.full((T, B), np.nan)
    volume = np.zeros((T, B))
    for i, t in enumerate(tickers):  # one vectorised placement per ticker
        f = frames[t]
        at = np.searchsorted(grid, stamps[i])
        ok = (at < B) & (grid[np.minimum(at, B - 1)] == stamps[i])
        open_[i, at[ok]] = f["open"].to_numpy(float)[ok]
        close[i, at[ok]] = f["close"].to_numpy(float)[ok]
        if "volume" in f:
            volume[i, at[ok]] = np.nan_to_num(f["volume"].to_numpy(float)[ok])
    traded = np.isfinite(close) & np.isfinite(open_)
    pos = np.arange(B)
    ff = np.maximum.accumulate(np.where(traded, pos, -1), axis=1)
    first = sess_first[session]
    in_session = ff >= first[None, :]
    prev = np.concatenate([np.full((T, 1), -1), ff[:, :-1]], axis=1)
    prev_ok = prev >= first[None, :]
    rows = np.arange(T)[:, None]
    close_ff = np.where(in_session, close[rows, np.maximum(ff, 0)], np.nan)
    prev_close = np.where(prev_ok, close[rows, np.maximum(prev, 0)], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        ret = np.where(traded & prev_ok, close / prev_close - 1.0,
                       np.where(traded, close / open_ - 1.0,
                                np.where(in_session, 0.0, np.nan)))
    suspect = np.isfinite(ret) & _split_like(1.0 + ret)
    ret = np.where(suspect, np.nan, ret)
    # overnight: first open of a session over the last close of the previous one
    bf = np.minimum.accumulate(np.where(traded, pos, B)[:, ::-1], axis=1)[:, ::-1]
    fb = bf[:, sess_first]
    has_first = fb < sess_end[None, :]
    first_open = np.where(has_first, open_[rows, np.minimum(fb, B - 1)], np.nan)
    last_ff = ff[:, sess_end - 1]
    has_last = last_ff >= sess_first[None, :]
    last_close = np.where(has_last, close[rows, np.maximum(last_ff, 0)], np.nan)
    ordinal = bs.ordinal[used]
    consecutive = np.concatenate([[False], np.diff(ordinal) == 1])
    prev_last = np.concatenate([np.full((T, 1), np.nan), last_close[:, :-1]], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        overnight = np.where(consecutive[None, :], first_open / prev_last - 1.0, np.nan)
    sus_on = np.isfinite(overnight) & _split_like(1.0 + overnight)
    overnight = np.where(sus_on, np.nan, overnight)
    eff_start = bs.eff_start[keep]
    local = pd.DatetimeIndex(eff_start, tz="UTC").tz_convert(bs.tz)
    slot = (local.hour * 60 + local.minute).to_numpy().astype(np.int64)
    return BarPanel(tickers, pd.DatetimeIndex(grid, tz="UTC", name="start"), eff_start,
                    bs.eff_end[keep], session, bs.regular[keep], sess_first, sess_end,
                    pd.DatetimeIndex(bs.labels[used]), ordinal.astype(np.int64), ret,
                    close_ff, volume, overnight, suspect, slot, pd.Timedelta(interval),
                    exchange, bs.tz, extended)


@dataclass(frozen=True)
class BarWindow:
    """Bar returns of many events gathered at once.

    Attributes
    ----------
    pos : numpy.ndarray
        ``(E, L)`` bar positions (clipped into the grid).
    inside : numpy.ndarray
        ``(E, L)`` positions that exist on the grid (and pass the caller's mask).
    y, market : numpy.ndarray
        ``(E, L)`` stock and market bar returns (NaN where missing).
    """

    pos: IntArray
    inside: BoolArray
    y: FloatArray
    market: FloatArray


def gather_bars(panel: BarPanel, stock_rows: IntArray, market_rows: IntArray,
                pos: IntArray, mask: BoolArray | None = None) -> BarWindow:
    """Gather stock and market returns of every event at bar positions ``pos`` (E, L).

    Parameters
    ----------
    panel : BarPanel
        The panel.
    stock_rows, market_rows : numpy.ndarray
        ``(E,)`` panel rows (market -1: none; its returns are then NaN).
    pos : numpy.ndarray
        ``(E, L)`` bar positions (any integers; off-grid ones are missing).
    mask : numpy.ndarray, optional
        ``(E, L)`` extra condition a position must meet.

    Returns
    -------
    BarWindow
    """
    B = panel.n_bars
    inside = (pos >= 0) & (pos < B)
    if mask is not None:
        inside &= mask
    pc = np.clip(pos, 0, B - 1)
    y = np.where(inside, panel.returns[stock_rows[:, None], pc], np.nan)
    m = np.where(inside & (market_rows[:, None] >= 0),
                 panel.returns[np.maximum(market_rows, 0)[:, None], pc], np.nan)
    return BarWindow(pc, inside, y, m)


def estimation_positions(panel: BarPanel, session0: IntArray, n_sessions: int
                         ) -> tuple[IntArray, BoolArray]:
    """Bars of the ``n_sessions`` calendar sessions before each event's session, right-aligned.

    Only regular-hours bars count; sessions missing from the data are not
    replaced by older ones (the window is the previous ``n_sessions`` sessions
    of the calendar).

    Parameters
    ----------
    panel : BarPanel
        The panel.
    session0 : numpy.ndarray
        ``(E,)`` session position of each event bar.
    n_sessions : int
        Sessions of estimation.

    Returns
    -------
    pos, usable : numpy.ndarray
        ``(E, L1)`` bar positions ending at the bar before the event session's
        first bar, and the mask of regular bars inside the estimation sessions.
    """
    ord0 = panel.ordinal[session0]
    sa = np.searchsorted(panel.ordinal, ord0 - n_sessions, side="left")
    lo = panel.sess_first[np.minimum(sa, len(panel.sess_first) - 1)]
    lo = np.where(sa < session0, lo, panel.sess_first[session0])
    hi = panel.sess_first[session0]
    width = int(max((hi - lo).max(initial=0), 1))
    pos = hi[:, None] - width + np.arange(width)[None, :]
    usable = (pos >= lo[:, None]) & (pos >= 0)
    usable &= panel.regular[np.clip(pos, 0, panel.n_bars - 1)]
    return pos, usable


def session_window(panel: BarPanel, bar0: IntArray, rel: Sequence[int] | IntArray
                   ) -> IntArray:
    """``(E, L)`` bar positions ``bar0 + rel`` (relative bars count bars on the grid)."""
    return np.asarray(bar0)[:, None] + np.asarray(rel, dtype=np.int64)[None, :]
