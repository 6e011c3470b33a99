"""The random-date placebo: the same trades at dates drawn away from the news."""

from __future__ import annotations

import numpy as np

from marketreact._typing import BoolArray, FloatArray, IntArray
from marketreact.backtest.fills import exit_sessions, leg_prices, trade_returns
from marketreact.inference import _kernels

_PLACEBO_CHUNK = 100


def placebo_entries(rng: np.random.Generator, draws: int, lo: IntArray, hi: IntArray,
                    actual: IntArray, exclusion: int) -> IntArray:
    """Random entry sessions, uniform on ``[lo, hi]`` without ``actual +- exclusion``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source.
    draws : int
        Number of draws.
    lo, hi : numpy.ndarray
        ``(E,)`` inclusive bounds (events with too little room must be removed first).
    actual : numpy.ndarray
        ``(E,)`` real entry sessions.
    exclusion : int
        Half-width of the excluded band around ``actual``.

    Returns
    -------
    numpy.ndarray
        ``(draws, E)`` session positions.
    """
    band_lo = np.maximum(actual - exclusion, lo)
    band_hi = np.minimum(actual + exclusion, hi)
    band = np.maximum(band_hi - band_lo + 1, 0)
    room = hi - lo + 1 - band
    u = np.floor(rng.random((draws, len(lo))) * room).astype(np.int64) + lo
    return np.where((band > 0) & (u >= band_lo), u + band, u)


#: Largest lookup table (cells) of net returns by (instrument pair, signal, hedge) and session.
_TABLE_CELLS = 24_000_000


def _net_table(keys: IntArray, rows: IntArray, m_rows: IntArray, at_open: BoolArray,
               direction: FloatArray, hedge: FloatArray, cost: float, hold: int,
               next_entry: IntArray, next_close: IntArray, open_px: FloatArray,
               close_px: FloatArray, c0: int, width: int) -> FloatArray:
    """Net return of a placebo trade of each key entered at each candidate session.

    Row ``k`` holds, for candidate sessions ``c0 .. c0 + width - 1``, the net return of a
    trade with the stock row, market row, entry kind, direction and hedge ratio of the
    trades of key ``k``. The legs are filled once per (stock, market, entry kind) with
    :func:`exit_sessions` and :func:`leg_prices`, and the returns are the element-wise
    operations of :func:`trade_returns`, so every value is bit-for-bit the one the
    trade-by-trade computation gives.
    """
    first = np.zeros(int(keys.max()) + 1, dtype=np.int64)
    first[keys[::-1]] = np.arange(len(keys))[::-1]  # a trade of each key
    k_rows, k_mrows, k_open = rows[first], m_rows[first], at_open[first]
    k_dir, k_hedge = direction[first], hedge[first]
    pair_id = np.stack([k_rows, k_mrows, k_open.astype(np.int64)], axis=1)
    _, pair = np.unique(pair_id, axis=0, return_inverse=True)
    pair = pair.ravel()
    pfirst = np.zeros(int(pair.max()) + 1, dtype=np.int64)
    pfirst[pair[::-1]] = np.arange(len(pair))[::-1]
    cand = np.broadcast_to(np.arange(c0, c0 + width, dtype=np.int64)[None, :],
                           (len(pfirst), width))
    r2 = np.broadcast_to(k_rows[pfirst][:, None], cand.shape)
    ao = np.broadcast_to(k_open[pfirst][:, None], cand.shape)
    e = next_entry[r2, cand]
    x = exit_sessions(e, ao, hold, next_close, r2)
    si, _, _, so = leg_prices(open_px, close_px, next_close, r2, e, ao, x)
    stock = so / si - 1.0  # as trade_returns
    del si, so
    hedged = k_hedge != 0
    if hedged.any():
        mr2 = np.broadcast_to(k_mrows[pfirst][:, None], cand.shape)
        mi, _, _, mo = leg_prices(open_px, close_px, next_close, mr2, e, ao, x)
        with np.errstate(invalid="ignore", divide="ignore"):
            market = mo / mi - 1.0
        del mi, mo
    else:
        market = np.zeros_like(stock)
    del e, x
    # trade_returns, key by key: gross = d * (stock - h * market) with market 0 when h = 0.
    h = k_hedge[:, None]
    m_k = np.where(hedged[:, None], market[pair], 0.0)
    gross = k_dir[:, None] * (stock[pair] - h * m_k)
    return np.ascontiguousarray(gross - 2.0 * cost * (1.0 + np.abs(h)), dtype=np.float64)


def placebo_sums(rng: np.random.Generator, draws: int, lo: IntArray, hi: IntArray,
                 actual: IntArray, exclusion: int, *, rows: IntArray, m_rows: IntArray,
                 at_open: BoolArray, direction: FloatArray, hedge: FloatArray, cost: float,
                 hold: int, next_entry: IntArray, next_close: IntArray, open_px: FloatArray,
                 close_px: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Sum and count of the finite net returns of every placebo draw, all draws at once.

    The vectorised form of drawing :func:`placebo_entries` chunk by chunk and
    filling each drawn trade with :func:`~marketreact.backtest.fills.exit_sessions`,
    :func:`~marketreact.backtest.fills.leg_prices` and
    :func:`~marketreact.backtest.fills.trade_returns`. A placebo trade's net return
    depends only on its stock and market rows, entry kind, direction, hedge ratio and
    entry session, so it is computed once per such key and candidate session (a
    lookup table) and each draw gathers from it. The random numbers are the same
    stream as :func:`placebo_entries` called with ``(draws, E)`` (uniform doubles are
    drawn in order, whatever the block size), and each draw's sum is taken over the
    same ``(E,)`` row as before, so the sums are bit-for-bit those of the loop.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source (consumed exactly as ``placebo_entries(rng, draws, ...)``).
    draws : int
        Number of draws.
    lo, hi, actual : numpy.ndarray
        ``(E,)`` bounds and real entry sessions, as for :func:`placebo_entries`.
    exclusion : int
        Half-width of the excluded band around ``actual``.
    rows, m_rows : numpy.ndarray
        ``(E,)`` stock and market rows of the trades in the price arrays.
    at_open : numpy.ndarray
        ``(E,)`` bool: the trade enters at an open.
    direction, hedge : numpy.ndarray
        ``(E,)`` signs and hedge ratios.
    cost : float
        Cost per leg and side (a fraction).
    hold : int
        Sessions held.
    next_entry, next_close : numpy.ndarray
        ``(N, T + 1)`` next valid entry price (open or close, by the fill rule) and next
        valid close, from :func:`~marketreact.backtest.fills.next_valid`.
    open_px, close_px : numpy.ndarray
        ``(N, T)`` adjusted opens and closes.

    Returns
    -------
    sums, counts : numpy.ndarray
        ``(draws,)`` sum of the finite net returns of each draw and how many there are.
    """
    n = len(lo)
    sums = np.zeros(draws)
    counts = np.zeros(draws)
    if not n or not draws:
        rng.random((draws, n))
        return sums, counts
    # Keys: trades that share stock, market, entry kind, direction and hedge ratio.
    ident = np.stack([rows.astype(np.float64), m_rows.astype(np.float64),
                      at_open.astype(np.float64), direction.astype(np.float64),
                      hedge.astype(np.float64)], axis=1)
    _, keys = np.unique(ident, axis=0, return_inverse=True)
    keys = keys.ravel().astype(np.int64)
    c0, c1 = int(lo.min()), int(hi.max())
    width = c1 - c0 + 1
    n_keys = int(keys.max()) + 1
    band_lo = np.maximum(actual - exclusion, lo)
    band_hi = np.minimum(actual + exclusion, hi)
    band = np.maximum(band_hi - band_lo + 1, 0)
    room = (hi - lo + 1 - band).astype(np.float64)
    if n_keys * width <= _TABLE_CELLS:
        table = _net_table(keys, rows, m_rows, at_open, direction, hedge, cost, hold,
                           next_entry, next_close, open_px, close_px, c0, width).ravel()
        # The session drawn is lo + floor(u * room), moved up by the band when at or past
        # band_lo; floor is astype's truncation as u * room >= 0. int32 offsets: the
        # table has fewer than 2**31 cells. One draw at a time keeps the arrays in cache.
        base = (keys * width - c0 + lo).astype(np.int32)
        threshold = np.where(band > 0, band_lo - lo, np.iinfo(np.int32).max).astype(np.int32)
        shift = band.astype(np.int32)
        finite = bool(np.isfinite(table).all())
        u = np.empty(n)
        cand = np.empty(n, dtype=np.int32)
        over = np.empty(n, dtype=bool)
        pn = np.empty(n)
        compiled = _kernels.HAVE_NUMBA
        for d in range(draws):
            rng.random(out=u)
            if compiled:  # the same session arithmetic and gather, in one pass
                _kernels.placebo_gather(u, room, threshold, base, shift, table, pn)
            else:
                u *= room
                cand[:] = u
                np.greater_equal(cand, threshold, out=over)
                cand += base
                np.add(cand, shift, out=cand, where=over)
                np.take(table, cand, out=pn)
            if finite:
                sums[d] = pn.sum()
                counts[d] = n
            else:
                fin = np.isfinite(pn)
                sums[d] = np.where(fin, pn, 0.0).sum()
                counts[d] = fin.sum()
        return sums, counts
    # Too many keys for one table (e.g. a beta hedge per trade): the trade-by-trade
    # computation, block by block.
    for start in range(0, draws, _PLACEBO_CHUNK):
        k = min(_PLACEBO_CHUNK, draws - start)
        drawn = placebo_entries(rng, k, lo, hi, actual, exclusion)
        r2 = np.broadcast_to(rows, drawn.shape)
        mr2 = np.broadcast_to(m_rows, drawn.shape)
        e = next_entry[r2, drawn]
        ao = np.broadcast_to(at_open, drawn.shape)
        x = exit_sessions(e, ao, hold, next_close, r2)
        si, _, _, so = leg_prices(open_px, close_px, next_close, r2, e, ao, x)
        mi, _, _, mo = leg_prices(open_px, close_px, next_close, mr2, e, ao, x)
        _, pn = trade_returns(si, so, mi, mo, np.broadcast_to(direction, drawn.shape),
                              np.broadcast_to(hedge, drawn.shape), cost)
        fin = np.isfinite(pn)
        sums[start:start + k] = np.where(fin, pn, 0.0).sum(axis=1)
        counts[start:start + k] = fin.sum(axis=1)
    return sums, counts
