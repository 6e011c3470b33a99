"""Fill rules: the first open or close printed after the news, exits, and leg returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from marketreact._typing import BoolArray, FloatArray, IntArray
from marketreact.backtest.settings import EntryRule


def next_valid(valid: BoolArray) -> IntArray:
    """Index of the first valid column at or after each column.

    Parameters
    ----------
    valid : numpy.ndarray
        ``(N, T)`` boolean.

    Returns
    -------
    numpy.ndarray
        ``(N, T + 1)`` int; ``T`` where no valid column follows (column ``T``
        is always ``T``, so a position ``T`` may be looked up safely).
    """
    n, t = valid.shape
    out = np.empty((n, t + 1), dtype=np.int64)
    out[:, t] = t
    if t:  # in place: column j where valid, else t, then the running minimum from the right
        body = out[:, :t]
        np.multiply(valid, np.arange(t, dtype=np.int64) - t, out=body)
        body += t
        rev = body[:, ::-1]
        np.minimum.accumulate(rev, axis=1, out=rev)
    return out


def last_valid(valid: BoolArray) -> IntArray:
    """Index of the last valid column at or before each column (-1 when none), ``(N, T)``."""
    t = valid.shape[1]
    idx = np.where(valid, np.arange(t, dtype=np.int64), np.int64(-1))
    if t:
        np.maximum.accumulate(idx, axis=1, out=idx)
    return idx


def entry_sessions(known_ns: IntArray, opens_ns: IntArray, closes_ns: IntArray,
                   rule: EntryRule, next_open: IntArray, next_close: IntArray,
                   rows: IntArray) -> tuple[IntArray, BoolArray]:
    """Session of the first tradable price printed strictly after ``known_ns``.

    Parameters
    ----------
    known_ns : numpy.ndarray
        ``(E,)`` int64 UTC nanoseconds after which the signal may be used.
    opens_ns, closes_ns : numpy.ndarray
        ``(T,)`` int64 UTC open and close times of the sessions, ascending.
    rule : EntryRule
        Fill at the first open or the first close after ``known_ns``.
    next_open, next_close : numpy.ndarray
        ``(N, T + 1)`` from :func:`next_valid` on the open and close prices.
    rows : numpy.ndarray
        ``(E,)`` panel rows of the events' stocks.

    Returns
    -------
    entry : numpy.ndarray
        ``(E,)`` session positions; ``T`` where no such price exists.
    at_open : numpy.ndarray
        ``(E,)`` True where the fill is an open.
    """
    if rule is EntryRule.next_open:
        first = np.searchsorted(opens_ns, known_ns, side="right")
        entry = next_open[rows, first]
    else:
        first = np.searchsorted(closes_ns, known_ns, side="right")
        entry = next_close[rows, first]
    return entry.astype(np.int64), np.full(len(entry), rule is EntryRule.next_open)


def exit_sessions(entry: IntArray, at_open: BoolArray, hold: int | IntArray,
                  next_close: IntArray, rows: IntArray) -> IntArray:
    """Session of the exit close: ``hold`` sessions of returns after the entry.

    ``entry + hold - 1`` for an entry at an open, ``entry + hold`` for an entry
    at a close, moved to the next session with a close price; ``T`` when the
    data end first.
    """
    t = next_close.shape[1] - 1
    target = np.minimum(entry + np.asarray(hold) - at_open.astype(np.int64), t)
    return next_close[rows, np.maximum(target, 0)]


def leg_prices(open_px: FloatArray, close_px: FloatArray, next_close: IntArray, rows: IntArray,
               entry: IntArray, at_open: BoolArray,
               exit_: IntArray) -> tuple[FloatArray, IntArray, BoolArray, FloatArray]:
    """Entry price, entry session and kind, and exit price of one leg.

    The leg enters at the open of ``entry`` when ``at_open`` and an open price
    exists there; otherwise at the first close at or after ``entry``. It
    exits at the close of ``exit_``.

    Returns
    -------
    price_in : numpy.ndarray
        Entry prices (NaN when the leg cannot enter by ``exit_``).
    session_in : numpy.ndarray
        Entry sessions.
    opened : numpy.ndarray
        True where the leg entered at an open.
    price_out : numpy.ndarray
        Exit prices (NaN when there is no close at ``exit_``).
    """
    t = close_px.shape[1]
    e = np.minimum(entry, t - 1)
    x = np.minimum(exit_, t - 1)
    o = open_px[rows, e]
    opened = at_open & np.isfinite(o) & (entry < t)
    ce = next_close[rows, e]
    session_in = np.where(opened, e, ce)
    price_in = np.where(opened, o, close_px[rows, np.minimum(ce, t - 1)])
    price_in = np.where((entry < t) & (session_in <= exit_) & (session_in < t), price_in, np.nan)
    price_out = np.where(exit_ < t, close_px[rows, x], np.nan)
    return price_in, session_in, opened, price_out


def trade_returns(stock_in: FloatArray, stock_out: FloatArray, market_in: FloatArray,
                  market_out: FloatArray, direction: FloatArray, hedge_ratio: FloatArray,
                  cost: float) -> tuple[FloatArray, FloatArray]:
    """Gross and net return of hedged trades held from entry to exit.

    ``gross = d * (S_out / S_in - 1 - h * (M_out / M_in - 1))`` and
    ``net = gross - 2 * cost * (1 + |h|)`` (one entry and one exit per leg);
    with ``h = 0`` the market prices are not used.
    """
    stock = stock_out / stock_in - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        market = np.where(hedge_ratio != 0, market_out / market_in - 1.0, 0.0)
    gross = direction * (stock - hedge_ratio * market)
    return gross, gross - 2.0 * cost * (1.0 + np.abs(hedge_ratio))


@dataclass(frozen=True)
class LegReturns:
    """Per-session returns of one leg of a set of trades, ``(E, length)`` each.

    Attributes
    ----------
    whole : numpy.ndarray
        Previous mark to this session's mark (close to close once the leg is on).
    overnight, intraday : numpy.ndarray
        Previous mark to this session's open, and open to close (0 where not ``split_ok``).
    split_ok : numpy.ndarray
        The leg was held at the previous close and the session has an open and a close.
    """

    whole: FloatArray
    overnight: FloatArray
    intraday: FloatArray
    split_ok: BoolArray


@dataclass(frozen=True)
class OpenSplit:
    """What the daily portfolio needs to re-weight at session opens (``--entry next-open``).

    Per-trade arrays are ``(E,)``; per-cell arrays are aligned with the
    ``ret_cells`` of :func:`portfolio_daily`. Returns are signed contributions
    of one unit of weight: ``d * r`` for the stock leg, ``-d * h * r`` for the
    hedge leg.

    Attributes
    ----------
    at_open : numpy.ndarray
        Trade entered at the open of its first session (bool).
    hedge_in : numpy.ndarray
        Grid session at whose close the hedge leg went on; ``first - 1`` when
        the hedge leg entered at the open with the stock.
    hedge_opened : numpy.ndarray
        The hedge leg entered at the open of the first session (bool).
    stock_overnight, stock_intraday : numpy.ndarray
        The stock leg's previous close to open and open to close contributions.
    stock_ok : numpy.ndarray
        The stock leg was held overnight and the session has its open and close.
    hedge_overnight, hedge_intraday, hedge_whole : numpy.ndarray
        The hedge leg's contributions (overnight, intraday, close to close).
    hedge_ok : numpy.ndarray
        The hedge leg was held overnight and its market has an open and a close.
    open_ns : numpy.ndarray
        UTC nanoseconds of the open of the cell's session on its own exchange.
    """

    at_open: BoolArray
    hedge_in: IntArray
    hedge_opened: BoolArray
    stock_overnight: FloatArray
    stock_intraday: FloatArray
    stock_ok: BoolArray
    hedge_overnight: FloatArray
    hedge_intraday: FloatArray
    hedge_whole: FloatArray
    hedge_ok: BoolArray
    open_ns: IntArray


def leg_split_returns(open_px: FloatArray, close_px: FloatArray, last_close: IntArray,
                      rows: IntArray, session_in: IntArray, price_in: FloatArray,
                      start: IntArray, length: int) -> LegReturns:
    """Per-session returns of a leg, whole and split at the open, over ``length`` sessions.

    The leg is marked at the last close at or after ``session_in`` (its entry
    price before that), so a missing close carries the mark and the next close
    books the move. Column ``k`` is session ``start + k``.

    Parameters
    ----------
    open_px, close_px : numpy.ndarray
        ``(N, T)`` open and close prices (NaN where missing).
    last_close : numpy.ndarray
        ``(N, T)`` from :func:`last_valid` on the closes.
    rows : numpy.ndarray
        ``(E,)`` panel rows of the leg's instrument.
    session_in, price_in : numpy.ndarray
        ``(E,)`` session and price at which the leg went on.
    start : numpy.ndarray
        ``(E,)`` session of column 0.
    length : int
        Columns.

    Returns
    -------
    LegReturns
        ``whole`` is previous mark to this session's mark (0 before the leg
        is on and past the panel). Where ``split_ok`` (the leg was held at the
        previous close, i.e. ``session > session_in``, and the session has both
        an open and a close price), ``overnight`` is previous mark to open and
        ``intraday`` open to close, so ``(1 + overnight)(1 + intraday) = 1 + whole``;
        elsewhere both are 0.
    """
    t = close_px.shape[1]
    pos = start[:, None] + np.arange(length)[None, :]
    posc = np.clip(pos, 0, t - 1)
    lv = last_close[rows[:, None], posc]
    live = (pos < t) & (pos >= session_in[:, None]) & (lv >= session_in[:, None])
    mark = np.where(live, close_px[rows[:, None], np.maximum(lv, 0)], price_in[:, None])
    prev = np.concatenate([price_in[:, None], mark[:, :-1]], axis=1)
    # Before the leg's own first day its previous mark is the entry price too.
    whole = mark / prev - 1.0
    o = open_px[rows[:, None], posc]
    c = close_px[rows[:, None], posc]
    ok = (pos < t) & (pos > session_in[:, None]) & np.isfinite(o) & np.isfinite(c) \
        & np.isfinite(prev)
    with np.errstate(invalid="ignore", divide="ignore"):
        overnight = np.where(ok, o / prev - 1.0, 0.0)
        intraday = np.where(ok, c / o - 1.0, 0.0)
    return LegReturns(whole, overnight, intraday, ok)
