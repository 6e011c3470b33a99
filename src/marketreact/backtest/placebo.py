"""The random-date placebo: the same trades at dates drawn away from the news."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

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


#: From this many events on, the next draw's uniforms are made on a second thread while the
#: current draw is gathered (the same numbers, in the same order).
_OVERLAP_FROM = 20_000


def _uniform_rows(rng: np.random.Generator, draws: int, n: int) -> Iterator[FloatArray]:
    """Yield ``draws`` rows of ``n`` uniforms: ``rng.random(out=row)``, one row after another.

    From :data:`_OVERLAP_FROM` events on, the next row is drawn on a second thread
    (``Generator.random`` releases the GIL, as do the compiled kernels) while the caller
    uses the current one; the stream is consumed in the same order either way. A row is
    overwritten two rows later, so the caller may change it in place.
    """
    rows = (np.empty(n), np.empty(n))
    if n < _OVERLAP_FROM or draws < 2:
        for _ in range(draws):
            rng.random(out=rows[0])
            yield rows[0]
        return
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(rng.random, out=rows[0])
        for d in range(draws):
            pending.result()
            if d + 1 < draws:
                pending = pool.submit(rng.random, out=rows[(d + 1) % 2])
            yield rows[d % 2]


#: Share of a draw's events the calling thread gathers when a second thread gathers the
#: others and then draws the next uniforms (``_compiled_draws``).
_MAIN_SHARE = 0.57


def _compiled_draws(rng: np.random.Generator, per_event: tuple[Any, ...], table: FloatArray,
                    sums: FloatArray, counts: FloatArray) -> None:
    """Fill ``sums``/``counts`` draw by draw with the compiled gather (``placebo_draw``).

    ``per_event`` holds ``room, threshold, base, shift, direction, fee``. Each draw's
    values are written to one ``(E,)`` row (0 where not finite) and summed with numpy,
    as the numpy path sums them. From :data:`_OVERLAP_FROM` events on, a second thread
    gathers the last part of the events of each draw and then draws the next draw's
    uniforms while this thread gathers the first part: the gather waits on memory, so
    two threads overlap their waits; the uniforms are drawn in the same order.
    """
    n, draws = len(per_event[0]), len(sums)
    pn = np.empty(n)

    def gather(u: FloatArray, part: tuple[Any, ...], out: FloatArray) -> int:
        room, threshold, base, shift, direction, fee = part
        return int(_kernels.placebo_draw(u, room, threshold, base, shift, table, direction,
                                         fee, out))

    if n < _OVERLAP_FROM or draws < 2:
        for d, u in enumerate(_uniform_rows(rng, draws, n)):
            counts[d] = gather(u, per_event, pn)
            sums[d] = pn.sum()
        return
    cut = int(n * _MAIN_SHARE)
    head = tuple(a[:cut] for a in per_event)
    tail = tuple(a[cut:] for a in per_event)
    rows = (np.empty(n), np.empty(n))
    gather(rows[1][:0], tuple(a[:0] for a in per_event), pn[:0])  # compiled before threads

    def second(u: FloatArray, nxt: FloatArray | None) -> int:
        found = gather(u[cut:], tail, pn[cut:])
        if nxt is not None:
            rng.random(out=nxt)
        return found

    rng.random(out=rows[0])
    with ThreadPoolExecutor(1) as pool:
        for d in range(draws):
            u = rows[d % 2]
            other = pool.submit(second, u, rows[(d + 1) % 2] if d + 1 < draws else None)
            found = gather(u[:cut], head, pn[:cut])
            counts[d] = found + other.result()
            sums[d] = pn.sum()


#: Largest lookup table (cells) of gross returns by (instrument pair, hedge) and session.
_TABLE_CELLS = 24_000_000


def _table_keys(rows: IntArray, m_rows: IntArray, at_open: BoolArray,
                hedge: FloatArray) -> tuple[IntArray, IntArray]:
    """Key of each trade (stock and market rows, entry kind, hedge ratio); a trade per key."""
    n_rows = int(max(rows.max(), m_rows.max())) + 1
    pair = (rows * n_rows + m_rows) * 2 + at_open.astype(np.int64)
    if not np.all(hedge == hedge[0]):  # e.g. beta hedges: the ratio joins the key
        _, h_code = np.unique(hedge, return_inverse=True)
        pair = pair * (int(h_code.max()) + 1) + h_code.ravel()
    _, first, keys = np.unique(pair, return_index=True, return_inverse=True)
    return keys.ravel().astype(np.int64), first.astype(np.int64)


def _gross_table(first: IntArray, rows: IntArray, m_rows: IntArray, at_open: BoolArray,
                 hedge: FloatArray, hold: int, next_entry: IntArray, next_close: IntArray,
                 open_px: FloatArray, close_px: FloatArray, c0: int, width: int) -> FloatArray:
    """Gross return before direction of a placebo trade of each key at each candidate session.

    Row ``k`` holds, for candidate sessions ``c0 .. c0 + width - 1``,
    ``stock - h * market`` of a trade with the stock row, market row, entry kind and
    hedge ratio of trade ``first[k]`` (``market`` 0 when ``h == 0``): the element-wise
    operations of :func:`exit_sessions`, :func:`leg_prices` and :func:`trade_returns`,
    so ``d * table - 2 cost (1 + |h|)`` is bit for bit the net return the trade-by-trade
    computation gives. Compiled (one pass, no temporaries) when numba is available.
    """
    k_rows, k_mrows, k_open = rows[first], m_rows[first], at_open[first]
    k_hedge = np.ascontiguousarray(hedge[first], dtype=np.float64)
    if _kernels.HAVE_NUMBA:
        table = np.empty((len(first), width))
        _kernels.placebo_table(k_rows, k_mrows, k_open, k_hedge, hold, next_entry, next_close,
                               open_px, close_px, c0, table)
        return table
    cand = np.broadcast_to(np.arange(c0, c0 + width, dtype=np.int64)[None, :],
                           (len(first), width))
    r2 = np.broadcast_to(k_rows[:, None], cand.shape)
    ao = np.broadcast_to(k_open[:, None], cand.shape)
    e = next_entry[r2, cand]
    x = exit_sessions(e, ao, hold, next_close, r2)
    si, _, _, so = leg_prices(open_px, close_px, next_close, r2, e, ao, x)
    stock = so / si - 1.0  # as trade_returns
    del si, so
    hedged = k_hedge != 0
    market = np.zeros_like(stock)
    if hedged.any():
        mr2 = np.broadcast_to(k_mrows[hedged][:, None], (int(hedged.sum()), width))
        sub = hedged.nonzero()[0]
        mi, _, _, mo = leg_prices(open_px, close_px, next_close, mr2, e[sub], ao[sub], x[sub])
        with np.errstate(invalid="ignore", divide="ignore"):
            market[sub] = mo / mi - 1.0
    # trade_returns: gross = d * (stock - h * market), market 0 when h = 0.
    return np.ascontiguousarray(stock - k_hedge[:, None] * market, dtype=np.float64)


def placebo_sums(rng: np.random.Generator, draws: int, lo: IntArray, hi: IntArray,
                 actual: IntArray, exclusion: int, *, rows: IntArray, m_rows: IntArray,
                 at_open: BoolArray, direction: FloatArray, hedge: FloatArray, cost: float,
                 hold: int, next_entry: IntArray, next_close: IntArray, open_px: FloatArray,
                 close_px: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Sum and count of the finite net returns of every placebo draw, all draws at once.

    The vectorised form of drawing :func:`placebo_entries` chunk by chunk and
    filling each drawn trade with :func:`~marketreact.backtest.fills.exit_sessions`,
    :func:`~marketreact.backtest.fills.leg_prices` and
    :func:`~marketreact.backtest.fills.trade_returns`. A placebo trade's return before
    direction and costs, ``stock - h * market``, depends only on its stock and market
    rows, entry kind, hedge ratio and entry session, so it is computed once per such key
    and candidate session (a lookup table, filled by a compiled kernel when numba is
    installed) and each draw gathers from it, applying the trade's direction and costs
    (``d * gross - 2 cost (1 + |h|)``, the operations of ``trade_returns``). The
    random numbers are the same
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
    # Keys: trades that share stock, market, entry kind and hedge ratio (the direction
    # and the cost are applied per trade as each draw is gathered).
    c0, c1 = int(lo.min()), int(hi.max())
    width = c1 - c0 + 1
    band_lo = np.maximum(actual - exclusion, lo)
    band_hi = np.minimum(actual + exclusion, hi)
    band = np.maximum(band_hi - band_lo + 1, 0)
    room = (hi - lo + 1 - band).astype(np.float64)
    keys, first = _table_keys(rows, m_rows, at_open, hedge)
    if len(first) * width <= _TABLE_CELLS:
        table = _gross_table(first, rows, m_rows, at_open, hedge, hold, next_entry, next_close,
                             open_px, close_px, c0, width).ravel()
        # The session drawn is lo + floor(u * room), moved up by the band when at or past
        # band_lo; floor is astype's truncation as u * room >= 0. int32 offsets: the
        # table has fewer than 2**31 cells. One draw at a time keeps the arrays in cache.
        base = (keys * width - c0 + lo).astype(np.int32)
        threshold = np.where(band > 0, band_lo - lo, np.iinfo(np.int32).max).astype(np.int32)
        shift = band.astype(np.int32)
        sign = np.ascontiguousarray(direction, dtype=np.float64)
        fee = np.ascontiguousarray(2.0 * cost * (1.0 + np.abs(hedge)), dtype=np.float64)
        finite = bool(np.isfinite(table).all() & np.isfinite(sign).all()
                      & np.isfinite(fee).all())
        if _kernels.HAVE_NUMBA:  # the same arithmetic and gather in one pass
            _compiled_draws(rng, (room, threshold, base, shift, sign, fee), table, sums, counts)
            return sums, counts
        cand = np.empty(n, dtype=np.int32)
        over = np.empty(n, dtype=bool)
        pn = np.empty(n)
        for d, u in enumerate(_uniform_rows(rng, draws, n)):
            u *= room
            cand[:] = u
            np.greater_equal(cand, threshold, out=over)
            cand += base
            np.add(cand, shift, out=cand, where=over)
            np.take(table, cand, out=pn)
            pn *= sign  # gross = d * (stock - h * market), net = gross - 2 cost (1 + |h|)
            pn -= fee
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
