"""The vectorised placebo (``placebo_sums``) against the trade-by-trade loop it replaces.

Reference: the loop of ``Backtest._placebo`` as it stood before (``placebo_entries`` in
chunks of ``_PLACEBO_CHUNK`` draws, then ``exit_sessions``, ``leg_prices`` and
``trade_returns`` on every drawn trade), copied below. The sums must be bit-for-bit equal:
the same random stream, the same element-wise operations, the same summation order.
"""

from __future__ import annotations

import numpy as np
import pytest

from marketreact.backtest import placebo as placebo_mod
from marketreact.backtest.fills import (
    exit_sessions,
    leg_prices,
    next_valid,
    trade_returns,
)
from marketreact.backtest.placebo import _PLACEBO_CHUNK, placebo_entries, placebo_sums


def _loop(rng, draws, lo, hi, actual, exclusion, rows, m_rows, at_open, direction, hedge,
          cost, hold, next_entry, next_close, open_px, close_px):
    sums, counts = np.zeros(draws), np.zeros(draws)
    for start in range(0, draws, _PLACEBO_CHUNK):
        k = min(_PLACEBO_CHUNK, draws - start)
        cand = placebo_entries(rng, k, lo, hi, actual, exclusion)
        r2 = np.broadcast_to(rows, cand.shape)
        mr2 = np.broadcast_to(m_rows, cand.shape)
        e = next_entry[r2, cand]
        ao = np.broadcast_to(at_open, cand.shape)
        x = exit_sessions(e, ao, hold, next_close, r2)
        si, _, _, so = leg_prices(open_px, close_px, next_close, r2, e, ao, x)
        mi, _, _, mo = leg_prices(open_px, close_px, next_close, mr2, e, ao, x)
        _, pn = trade_returns(si, so, mi, mo, np.broadcast_to(direction, cand.shape),
                              np.broadcast_to(hedge, cand.shape), cost)
        fin = np.isfinite(pn)
        sums[start:start + k] += np.where(fin, pn, 0.0).sum(axis=1)
        counts[start:start + k] += fin.sum(axis=1)
    return sums, counts


def _market(seed: int, n_stocks: int = 12, t: int = 300, events: int = 400,
            hedge: str = "market", entry_open: bool = True, holes: bool = True):
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_stocks + 1, t)), axis=1))
    opens = close * np.exp(rng.normal(0, 0.005, close.shape))
    if holes:  # missing closes and opens, a stock listed late, a close-only market
        close[rng.random(close.shape) < 0.05] = np.nan
        opens[rng.random(opens.shape) < 0.08] = np.nan
        close[3, :40] = np.nan
        opens[3, :40] = np.nan
        opens[n_stocks] = np.nan if seed % 2 else opens[n_stocks]
    next_close = next_valid(np.isfinite(close))
    next_entry = next_valid(np.isfinite(opens)) if entry_open else next_close
    rows = rng.integers(0, n_stocks, events)
    m_rows = np.full(events, n_stocks)
    hold = 3
    lo = next_entry[rows, 0]
    hi = np.full(events, t - 1 - hold)
    actual = rng.integers(50, t - 10, events)
    keep = (hi - lo + 1 - (2 * hold + 1)) >= 1
    rows, m_rows, lo, hi, actual = rows[keep], m_rows[keep], lo[keep], hi[keep], actual[keep]
    e = len(rows)
    direction = rng.choice([-1.0, 1.0], e)
    if hedge == "market":
        h = np.ones(e)
    elif hedge == "beta":
        h = rng.normal(1.0, 0.3, e)
    else:
        h = np.zeros(e)
    at_open = np.full(e, entry_open)
    return dict(lo=lo, hi=hi, actual=actual, exclusion=hold, rows=rows, m_rows=m_rows,
                at_open=at_open, direction=direction, hedge=h, cost=0.0005, hold=hold,
                next_entry=next_entry, next_close=next_close, open_px=opens, close_px=close)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("hedge", ["market", "beta", "none"])
@pytest.mark.parametrize("entry_open", [True, False])
def test_placebo_sums_equal_the_loop_bit_for_bit(seed, hedge, entry_open):
    kw = _market(seed, hedge=hedge, entry_open=entry_open)
    draws = 237  # not a multiple of the loop's chunk
    ref = _loop(np.random.default_rng(seed), draws, kw["lo"], kw["hi"], kw["actual"],
                kw["exclusion"], kw["rows"], kw["m_rows"], kw["at_open"], kw["direction"],
                kw["hedge"], kw["cost"], kw["hold"], kw["next_entry"], kw["next_close"],
                kw["open_px"], kw["close_px"])
    got = placebo_sums(np.random.default_rng(seed), draws, kw.pop("lo"), kw.pop("hi"),
                       kw.pop("actual"), kw.pop("exclusion"), **kw)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])
    assert ref[1].min() > 0  # the draws did produce trades


def test_without_table_falls_back_to_the_loop(monkeypatch):
    """Above the table's size limit the trade-by-trade path runs, with the same result."""
    kw = _market(5, hedge="beta")
    args = (kw.pop("lo"), kw.pop("hi"), kw.pop("actual"), kw.pop("exclusion"))
    table = placebo_sums(np.random.default_rng(9), 150, *args, **kw)
    monkeypatch.setattr(placebo_mod, "_TABLE_CELLS", 0)
    loop = placebo_sums(np.random.default_rng(9), 150, *args, **kw)
    np.testing.assert_array_equal(table[0], loop[0])
    np.testing.assert_array_equal(table[1], loop[1])


def test_rng_is_left_where_the_loop_leaves_it():
    """A second exchange draws the same numbers after the vectorised first as after the loop."""
    kw = _market(4)
    a, b = np.random.default_rng(11), np.random.default_rng(11)
    placebo_sums(a, 120, kw["lo"], kw["hi"], kw["actual"], kw["exclusion"],
                 **{k: v for k, v in kw.items() if k not in ("lo", "hi", "actual", "exclusion")})
    for start in range(0, 120, _PLACEBO_CHUNK):
        placebo_entries(b, min(_PLACEBO_CHUNK, 120 - start), kw["lo"], kw["hi"], kw["actual"],
                        kw["exclusion"])
    assert a.random() == b.random()
