"""The backtest's faster paths give the numbers of the code they replaced, bit for bit.

References, copied below as they stood before the change:

* ``_reference_adjusted_opens``: ``marketreact.panel.lineup.adjusted_opens`` (every
  ticker's rows stacked, then scattered into the panel at once); it now works ticker
  by ticker.
* ``_reference_placebo_sums``: ``placebo_sums`` with its lookup table of *net* returns by
  (stock, market, entry kind, direction, hedge) and the numpy gather; the table now holds
  ``stock - h * market`` by (stock, market, entry kind, hedge), direction and cost being
  applied per trade as each draw is gathered, and is filled by a compiled kernel.
  Draws of many events take their uniforms from a second thread while the previous
  draw is gathered (``_OVERLAP_FROM``): the same stream, checked with and without.
* ``_reference_next_valid`` / ``_reference_last_valid``: the fill look-ups of
  ``backtest.fills`` built with ``numpy.where`` and copies; now filled in place.
* ``_reference_benchmark``: ``Backtest._benchmark`` (equal-weight buy and hold of the
  traded stocks, ``numpy.nanmean`` over the stocks' paths); it now runs in one compiled
  pass when numba is installed.

Each is compared with the compiled (numba) path and with the pure-numpy fallback
(``_kernels.HAVE_NUMBA`` switched off), which must agree to the last bit as well.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from test_speed_placebo import _market

from _backtest_data import random_walk, xnys_labels
from marketreact import events_from_frame
from marketreact.backtest import placebo as placebo_mod
from marketreact.backtest.fills import exit_sessions, last_valid, leg_prices, next_valid
from marketreact.backtest.placebo import placebo_sums
from marketreact.backtest.run import Backtest
from marketreact.inference import _kernels
from marketreact.panel.lineup import TablePrices, adjusted_opens, line_up, price_table
from marketreact.prices.frames import PRICE_COLUMNS

COMPILED = [False, True] if _kernels.HAVE_NUMBA else [False]


# -- references (the code before the change) --------------------------------------------------
def _ref_open_close_adj(frame):
    if tuple(frame.columns) == PRICE_COLUMNS:
        values = frame.to_numpy(dtype=float, na_value=np.nan)
        return values[:, 0], values[:, 3], values[:, 4]
    out = [frame[name].to_numpy(dtype=float, na_value=np.nan) if name in frame
           else np.full(len(frame), np.nan) for name in ("open", "close", "adj_close")]
    return out[0], out[1], out[2]


def _reference_adjusted_opens(prices: TablePrices, panel):
    n, t = len(panel.tickers), len(panel.sessions)
    out = np.full((n, t), np.nan)
    if not n or not t:
        return out
    table = prices.table
    src = table.rows(list(panel.tickers))
    dates, opens, close, adj, owner = [], [], [], [], []
    for i, (ticker, row) in enumerate(zip(panel.tickers, src, strict=True)):
        if prices.frames is not None and ticker in prices.frames:
            lo, hi = table.offsets[row], table.offsets[row + 1]
            frame, keep = prices.frames[ticker], table.keep[lo:hi]
            day = table.dates[lo:hi]
        else:
            frame = table[ticker]
            keep, day = None, pd.DatetimeIndex(frame.index).as_unit("ns").asi8
        o, c, a = _ref_open_close_adj(frame)
        if keep is not None and not keep.all():
            day, o, c, a = day[keep], o[keep], c[keep], a[keep]
        dates.append(day)
        opens.append(o)
        close.append(c)
        adj.append(a)
        owner.append(np.full(len(day), i, dtype=np.int64))
    day_ns, raw_open = np.concatenate(dates), np.concatenate(opens)
    raw_close, adj_close = np.concatenate(close), np.concatenate(adj)
    adj_close = np.where(np.isnan(adj_close), raw_close, adj_close)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(np.isfinite(raw_close) & (raw_close > 0), adj_close / raw_close, 1.0)
        value = raw_open * factor
    value = np.where(value > 0, value, np.nan)
    labels = panel.sessions.labels.as_unit("ns").asi8
    pos = np.minimum(np.searchsorted(labels, day_ns), t - 1)
    on = labels[pos] == day_ns
    rows = np.concatenate(owner)
    out[rows[on], pos[on]] = value[on]
    return out


def _ref_net_table(keys, rows, m_rows, at_open, direction, hedge, cost, hold, next_entry,
                   next_close, open_px, close_px, c0, width):
    first = np.zeros(int(keys.max()) + 1, dtype=np.int64)
    first[keys[::-1]] = np.arange(len(keys))[::-1]
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
    with np.errstate(invalid="ignore", divide="ignore"):
        stock = so / si - 1.0
    hedged = k_hedge != 0
    if hedged.any():
        mr2 = np.broadcast_to(k_mrows[pfirst][:, None], cand.shape)
        mi, _, _, mo = leg_prices(open_px, close_px, next_close, mr2, e, ao, x)
        with np.errstate(invalid="ignore", divide="ignore"):
            market = mo / mi - 1.0
    else:
        market = np.zeros_like(stock)
    h = k_hedge[:, None]
    m_k = np.where(hedged[:, None], market[pair], 0.0)
    gross = k_dir[:, None] * (stock[pair] - h * m_k)
    return np.ascontiguousarray(gross - 2.0 * cost * (1.0 + np.abs(h)), dtype=np.float64)


def _reference_placebo_sums(rng, draws, lo, hi, actual, exclusion, *, rows, m_rows, at_open,
                            direction, hedge, cost, hold, next_entry, next_close, open_px,
                            close_px):
    """The table path of ``placebo_sums`` before the change (numpy gather)."""
    n = len(lo)
    sums, counts = np.zeros(draws), np.zeros(draws)
    ident = np.stack([rows.astype(np.float64), m_rows.astype(np.float64),
                      at_open.astype(np.float64), direction.astype(np.float64),
                      hedge.astype(np.float64)], axis=1)
    _, keys = np.unique(ident, axis=0, return_inverse=True)
    keys = keys.ravel().astype(np.int64)
    c0, c1 = int(lo.min()), int(hi.max())
    width = c1 - c0 + 1
    band_lo = np.maximum(actual - exclusion, lo)
    band_hi = np.minimum(actual + exclusion, hi)
    band = np.maximum(band_hi - band_lo + 1, 0)
    room = (hi - lo + 1 - band).astype(np.float64)
    table = _ref_net_table(keys, rows, m_rows, at_open, direction, hedge, cost, hold,
                           next_entry, next_close, open_px, close_px, c0, width).ravel()
    base = (keys * width - c0 + lo).astype(np.int32)
    threshold = np.where(band > 0, band_lo - lo, np.iinfo(np.int32).max).astype(np.int32)
    shift = band.astype(np.int32)
    finite = bool(np.isfinite(table).all())
    u = np.empty(n)
    cand = np.empty(n, dtype=np.int32)
    over = np.empty(n, dtype=bool)
    pn = np.empty(n)
    for d in range(draws):
        rng.random(out=u)
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


def _reference_next_valid(valid):
    n, t = valid.shape
    idx = np.where(valid, np.arange(t), t)
    out = np.full((n, t + 1), t, dtype=np.int64)
    if t:
        out[:, :t] = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]
    return out


def _reference_last_valid(valid):
    t = valid.shape[1]
    idx = np.where(valid, np.arange(t), -1)
    return np.maximum.accumulate(idx, axis=1).astype(np.int64) if t else idx.astype(np.int64)


def _reference_benchmark(parts, grid):
    paths = []
    for p in parts:
        data = p.data
        labels = data.sessions.labels
        rows = np.unique(p.rows)
        pos = np.searchsorted(labels.asi8, grid.asi8, side="right") - 1
        ok = pos >= 0
        lv = data.last_close[rows][:, np.maximum(pos, 0)]
        px = np.where(ok[None, :] & (lv >= 0),
                      data.panel.prices[rows[:, None], np.maximum(lv, 0)], np.nan)
        paths.append(px / px[:, :1])
    rel = np.vstack(paths)
    rel = rel[np.isfinite(rel[:, 0])]
    if not len(rel):
        return np.full(len(grid), np.nan)
    return np.asarray(np.nanmean(rel, axis=0), dtype=float)


# -- adjusted opens -------------------------------------------------------------------------
LABELS = xnys_labels("2023-01-03", "2024-06-28")
TICKERS = [f"T{i:02d}" for i in range(10)]


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    out = random_walk(LABELS, TICKERS, seed=5)
    out["T01"] = out["T01"].drop(out["T01"].index[[40, 41, 200]])  # holes
    t2 = out["T02"].copy()
    t2["adj_close"] = t2["close"] * 0.5  # split-adjusted
    t2.iloc[30, t2.columns.get_loc("open")] = -1.0  # a non-positive open: missing
    t2.iloc[31, t2.columns.get_loc("close")] = 0.0  # a close that is no positive number
    t2.iloc[32, t2.columns.get_loc("adj_close")] = np.nan  # adj_close missing: the close
    t2.iloc[33, t2.columns.get_loc("open")] = np.nan
    out["T02"] = t2
    out["T03"] = out["T03"].iloc[150:]  # a late listing
    out["T04"] = out["T04"][["close", "volume"]]  # no opens at all
    t5 = out["T05"].copy()  # a row on a day that is no session (left out)
    extra = t5.iloc[[10]].copy()
    extra.index = pd.DatetimeIndex([pd.Timestamp("2023-07-04")])
    out["T05"] = pd.concat([t5, extra]).sort_index()
    out["MKT"] = out["MKT"].drop(LABELS[100])  # a session the market misses: dropped
    return out


def _events(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    day = rng.integers(260, len(LABELS) - 20, n)
    return pd.DataFrame({
        "event_id": [f"E{i:04d}" for i in range(n)],
        "ticker": np.array(TICKERS, dtype=object)[rng.integers(0, len(TICKERS), n)],
        "date": LABELS[day].date, "timing": "post", "market": "MKT",
        "sentiment": rng.normal(size=n).round(2),
    })


@pytest.mark.parametrize("given", ["frames", "table"])
def test_adjusted_opens_equal_the_stacked_reference(frames, given) -> None:
    cat = events_from_frame(_events())
    priced = price_table(frames, cat.frame)
    if given == "table":  # a table given as such: its cleaned frames
        priced = price_table(priced.table, cat.frame)
    lu = line_up("XNYS", cat.frame, priced)
    got = adjusted_opens(priced, lu.panel)
    ref = _reference_adjusted_opens(priced, lu.panel)
    np.testing.assert_array_equal(got, ref)
    assert got.shape == lu.panel.prices.shape
    assert np.isfinite(got).sum() > 0.9 * got.size * (len(lu.panel.tickers) - 1) \
        / len(lu.panel.tickers)  # the opens are there: T04 alone has none
    assert np.isnan(got[lu.panel.tickers.index("T04")]).all()


# -- placebo --------------------------------------------------------------------------------
def _hard_market(seed: int):
    """Mixed hedges (0, -0.0, 1 and per-trade ratios), holes and a NaN-only stock."""
    kw = _market(seed, hedge="market", entry_open=bool(seed % 2))
    rng = np.random.default_rng(seed + 100)
    e = len(kw["lo"])
    h = np.where(rng.random(e) < 0.3, 0.0, 1.0)
    h[rng.random(e) < 0.05] = -0.0
    h[rng.random(e) < 0.1] = 0.7
    kw["hedge"] = h
    close = kw["close_px"].copy()
    close[5] = np.nan  # a stock without closes: every trade of it is NaN
    kw["close_px"] = close
    return kw


@pytest.mark.parametrize("overlap", [False, True])
@pytest.mark.parametrize("compiled", COMPILED)
@pytest.mark.parametrize("case", ["market", "none", "closes", "hard-1", "hard-2"])
def test_placebo_sums_equal_the_net_table_reference(case, compiled, overlap,
                                                    monkeypatch) -> None:
    if case.startswith("hard"):
        kw = _hard_market(int(case[-1]))
    else:
        kw = _market(7, hedge="none" if case == "none" else "market",
                     entry_open=case != "closes")
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", compiled)
    # the next draw's uniforms on a second thread (from 20,000 events on), or not at all
    monkeypatch.setattr(placebo_mod, "_OVERLAP_FROM", 1 if overlap else 10**9)
    args = [kw.pop(k) for k in ("lo", "hi", "actual", "exclusion")]
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    ref = _reference_placebo_sums(a, 173, *args, **kw)
    got = placebo_sums(b, 173, *args, **kw)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])
    assert a.random() == b.random()  # the stream is left where it was
    assert ref[1].min() > 0
    if case.startswith("hard"):
        assert ref[1].max() < len(args[0])  # some draws are not finite


@pytest.mark.skipif(not _kernels.HAVE_NUMBA, reason="numba not installed")
@pytest.mark.parametrize("entry_open", [True, False])
def test_gross_table_compiled_equals_numpy(entry_open, monkeypatch) -> None:
    kw = _hard_market(3 if entry_open else 4)
    kw["at_open"] = np.full(len(kw["lo"]), entry_open)
    keys, first = placebo_mod._table_keys(kw["rows"], kw["m_rows"], kw["at_open"], kw["hedge"])
    assert len(first) == keys.max() + 1
    c0, width = int(kw["lo"].min()), int(kw["hi"].max() - kw["lo"].min()) + 1
    out = {}
    for compiled in (False, True):
        monkeypatch.setattr(_kernels, "HAVE_NUMBA", compiled)
        out[compiled] = placebo_mod._gross_table(
            first, kw["rows"], kw["m_rows"], kw["at_open"], kw["hedge"], kw["hold"],
            kw["next_entry"], kw["next_close"], kw["open_px"], kw["close_px"], c0, width)
    np.testing.assert_array_equal(out[True], out[False])
    assert np.isnan(out[True]).any() and np.isfinite(out[True]).any()


# -- the benchmark (equal-weight buy and hold) ----------------------------------------------
def _parts(seed: int):
    rng = np.random.default_rng(seed)
    parts = []
    for n, t, start in ((40, 120, "2023-01-03"), (25, 90, "2023-02-01")):
        labels = pd.DatetimeIndex(pd.bdate_range(start, periods=t))
        prices = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (n, t)), axis=1))
        prices[rng.random(prices.shape) < 0.1] = np.nan
        prices[2, :30] = np.nan  # listed late: no first price, not in the mean
        lc = last_valid(np.isfinite(prices))
        data = SimpleNamespace(sessions=SimpleNamespace(labels=labels), last_close=lc,
                               panel=SimpleNamespace(prices=prices))
        parts.append(SimpleNamespace(data=data, rows=rng.integers(0, n, 3 * n)))
    grid = parts[0].data.sessions.labels[10:].union(parts[1].data.sessions.labels[:70])
    return parts, pd.DatetimeIndex(grid)


@pytest.mark.parametrize("compiled", COMPILED)
@pytest.mark.parametrize("seed", [0, 1])
def test_benchmark_equals_the_nanmean_reference(seed, compiled, monkeypatch) -> None:
    parts, grid = _parts(seed)
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", compiled)
    got = Backtest._benchmark(parts, grid)  # type: ignore[arg-type]
    np.testing.assert_array_equal(got, _reference_benchmark(parts, grid))
    assert np.isfinite(got).all()



# -- fill look-ups --------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(7, 50), (1, 1), (3, 0), (0, 4)])
@pytest.mark.parametrize("share", [0.0, 0.5, 0.95, 1.0])
def test_next_and_last_valid_equal_the_references(shape, share) -> None:
    valid = np.random.default_rng(4).random(shape) < share
    for got, ref in ((next_valid(valid), _reference_next_valid(valid)),
                     (last_valid(valid), _reference_last_valid(valid))):
        np.testing.assert_array_equal(got, ref)
        assert got.dtype == np.int64 and got.shape == ref.shape
    if shape == (1, 1):
        assert next_valid(valid).tolist() == ([[0, 1]] if valid[0, 0] else [[1, 1]])


@pytest.mark.skipif(not _kernels.HAVE_NUMBA, reason="numba not installed")
@pytest.mark.parametrize("share", [0.0, 0.3, 1.0])
def test_placebo_split_between_threads_keeps_the_sums(share, monkeypatch) -> None:
    """However the events of a draw are shared between the two threads, the same sums."""
    kw = _hard_market(1)
    args = [kw.pop(k) for k in ("lo", "hi", "actual", "exclusion")]
    ref = _reference_placebo_sums(np.random.default_rng(8), 60, *args, **kw)
    monkeypatch.setattr(placebo_mod, "_OVERLAP_FROM", 1)
    monkeypatch.setattr(placebo_mod, "_MAIN_SHARE", share)
    got = placebo_sums(np.random.default_rng(8), 60, *args, **kw)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])
