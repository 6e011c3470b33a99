"""The scale engine: moment path vs the general path, the stacked price table, deferred
fields, and the Dask engine vs the local one.

References: the general path (``study.gather`` + ``models.fit_linear``, itself checked
against statsmodels in test_study_goto / test_study_engine), statsmodels OLS on one event
below, and the per-frame pandas cleaning rules (``_cleaning_reference``) +
``build_panel`` for the price table.
"""

from __future__ import annotations

import itertools
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from typer.testing import CliRunner

import marketreact.study.engine as engine_mod
import marketreact.study.fit as study_mod
from _cleaning_reference import reference_clean_prices
from marketreact import EventStudy, StudySettings, _compiled, events_from_frame
from marketreact._lazy import is_pending
from marketreact.calendar import exchange_sessions
from marketreact.models.linear import BlockBuilder, EventBlock
from marketreact.models.moments import (
    MomentSource,
    build_moments,
    moment_chunk,
    moment_fits,
    moment_path_supported,
)
from marketreact.models.spec import MODELS, ChunkPlan, ModelName
from marketreact.panel.returns import ReturnKind, build_panel
from marketreact.panel.table import PriceTable
from marketreact.prices import clean_prices
from marketreact.prices.checks import find_suspects, suspect_jumps
from marketreact.prices.frames import price_column
from marketreact.study.engine import LocalEngine, study_events

DAYS = exchange_sessions("XNYS", pd.Timestamp("2019-01-01"), pd.Timestamp("2021-12-31")).labels
CARS = ((-1, 1), (0, 0), (0, 1), (-5, 5))


def _frame(close: np.ndarray, index: pd.DatetimeIndex, volume: np.ndarray | float = 1e6,
           adj: np.ndarray | None = None) -> pd.DataFrame:
    return pd.DataFrame({"open": close, "high": close, "low": close, "close": close,
                         "adj_close": close if adj is None else adj, "volume": volume},
                        index=pd.DatetimeIndex(index, name="date"))


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    """Stocks with thin trading, filler rows and gaps; two markets, one with gaps."""
    rng = np.random.default_rng(11)
    t = len(DAYS)
    m1 = 0.0003 + 0.01 * rng.standard_t(4, t) / np.sqrt(2)
    m2 = 0.0002 + 0.012 * rng.standard_normal(t)
    out = {"MKT": _frame(100 * np.cumprod(1 + m1), DAYS)}
    keep2 = rng.random(t) > 0.03  # the second market misses ~3% of sessions
    out["MKT2"] = _frame((50 * np.cumprod(1 + m2))[keep2], DAYS[keep2], volume=np.nan)
    # a market whose return is the same every day: the market model is singular there
    out["FLAT"] = _frame(100 * 1.001 ** np.arange(t), DAYS)
    for i in range(10):
        r = 0.0001 * i + (0.6 + 0.1 * i) * m1 + 0.015 * rng.standard_t(3, t) / np.sqrt(3)
        close = 20 * np.cumprod(1 + r)
        volume = rng.lognormal(10, 1, t)
        keep = rng.random(t) > 0.02 * (1 + i % 4)  # 2%..8% missing sessions
        if i == 3:
            keep[200:260] = False  # a long gap
        if i == 5:
            keep[:400] = False  # listed late
        fill = (rng.random(t) < 0.01) & keep
        fill[0] = False
        close[1:] = np.where(fill[1:], close[:-1], close[1:])
        volume[fill] = 0.0
        out[f"S{i}"] = _frame(close[keep], DAYS[keep], volume[keep])
    return out


@pytest.fixture(scope="module")
def events(frames) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 160
    stock = rng.integers(0, 10, n)
    day = rng.integers(30, len(DAYS) - 3, n)  # some too early, some near the end
    market = np.where(rng.random(n) < 0.4, "MKT2", "MKT")
    market[:4] = "FLAT"
    return pd.DataFrame({"event_id": [f"e{i:03d}" for i in range(n)],
                         "ticker": [f"S{s}" for s in stock],
                         "date": [str(d.date()) for d in DAYS[day]],
                         "timing": rng.choice(["pre", "intra", "post"], n),
                         "market": market})


def _panel(frames, kind):
    cleaned = {t: clean_prices(f, t)[0] for t, f in frames.items()}
    sessions = exchange_sessions("XNYS", DAYS[0], DAYS[-1], cleaned["MKT"].index, "MKT")
    return build_panel(sessions, cleaned, kind)


def _rows(panel, events):
    index = pd.Index(panel.tickers)
    stock = index.get_indexer(events["ticker"]).astype(np.int64)
    market = index.get_indexer(events["market"]).astype(np.int64)
    day0 = panel.sessions.labels.get_indexer(pd.to_datetime(events["date"])).astype(np.int64)
    return stock, market, day0


def _assert_close(a, b, what: str) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, what
    assert np.array_equal(np.isnan(a), np.isnan(b)) if a.dtype.kind == "f" else True, what
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=what)


MOMENT_MODELS = [ModelName.constant_mean, ModelName.market_adjusted, ModelName.market_model]


def _general(panel, stock, market, day0, plan):
    """The general path on one chunk (gather + estimate), the reference of the moment path."""
    settings = StudySettings()
    return study_mod._general_chunk(panel, stock, market, day0, plan, settings=settings,
                                    fpanel=None, labels=panel.sessions.labels)


@pytest.mark.parametrize("kind", list(ReturnKind))
@pytest.mark.parametrize("model", MOMENT_MODELS)
def test_moment_path_equals_the_general_path(frames, events, model, kind) -> None:
    panel = _panel(frames, kind)
    stock, market, day0 = _rows(panel, events)
    spec = MODELS[model]
    assert moment_path_supported(spec)
    plan = ChunkPlan(spec, (-250, -11), (-10, 10), CARS, kind is ReturnKind.log)
    general = _general(panel, stock, market, day0, plan)
    chunks = list(study_events(panel, stock, market, day0, plan, LocalEngine(), _general,
                               chunk_events=37))
    assert len(chunks) == 5 and chunks[-1][0] == slice(148, 160)
    builder = BlockBuilder(len(day0))
    for where, block in chunks:
        builder.add(block, where)
    fast = builder.finish()
    assert fast.y is None and fast.residuals is None
    for name in ("n", "df", "missing_days", "spanning", "car_sessions", "car_missing"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(general, name), name)
    for name in ("coef", "sigma2", "ar", "ar_var", "car", "car_var", "bhar"):
        _assert_close(getattr(fast, name), getattr(general, name), name)
    source = MomentSource(panel, stock, market, day0, fast.coef, fast.sigma2, plan)
    _assert_close(source(), general.residuals, "residuals")
    for got, want, name in zip(source.window(slice(None)), (general.y, general.market,
                                                            general.expected, general.span),
                               ("y", "market", "expected", "span"), strict=True):
        _assert_close(got, want, name)
    # the data exercise what they should: gaps, short histories, the singular FLAT market
    assert (general.n < 240).any() and (general.span > 1).any()
    if model is ModelName.market_model:
        assert np.isnan(general.sigma2[:4]).all() and np.isnan(fast.coef[:4]).all()


@pytest.mark.skipif(not _compiled.HAVE_NUMBA, reason="the compiled residual loop")
@pytest.mark.parametrize("model", MOMENT_MODELS)
def test_compiled_residuals_equal_the_numpy_residuals(frames, events, model,
                                                      monkeypatch) -> None:
    # reference: MomentSource.residuals' numpy code (gathers, fitted values, span mask),
    # bit for bit, with estimation windows that run off the start of the panel too
    panel = _panel(frames, ReturnKind.simple)
    stock, market, day0 = _rows(panel, events)
    plan = ChunkPlan(MODELS[model], (-250, -11), (-10, 10), CARS, False)
    general = _general(panel, stock, market, day0, plan)
    day0 = day0.copy()
    day0[:3] = [5, 120, 300]
    source = MomentSource(panel, stock, market, day0, general.coef, general.sigma2, plan)
    picks = [slice(None), slice(3, 40), np.array([7, 2, 2, 150])]
    got = [source.residuals(index) for index in picks]
    scratch = np.full((50, got[0].shape[1]), 7.0)  # a caller's scratch, written in place
    assert source.residuals(slice(3, 40), out=scratch[:37]).base is scratch
    np.testing.assert_array_equal(scratch[:37], got[1])
    monkeypatch.setattr(_compiled, "HAVE_NUMBA", False)
    for index, values in zip(picks, got, strict=True):
        np.testing.assert_array_equal(values, source.residuals(index))
    scratch[:] = 7.0
    source.residuals(slice(3, 40), out=scratch[:37])
    np.testing.assert_array_equal(scratch[:37], got[1])
    assert np.isnan(got[0][0, :200]).all() and np.isfinite(got[0]).any()


@pytest.mark.skipif(not _compiled.HAVE_NUMBA, reason="the compiled running sums")
@pytest.mark.parametrize("model", MOMENT_MODELS)
def test_compiled_running_moments_equal_the_numpy_cumsums(frames, events, model,
                                                          monkeypatch) -> None:
    # reference: build_moments' numpy code (masks, products, numpy.cumsum of complex
    # arrays), bit for bit, over pairs of several markets, gaps and short histories
    panel = _panel(frames, ReturnKind.simple)
    stock, market, _ = _rows(panel, events)
    key = np.unique(stock * (len(panel.tickers) + 1) + market + 1)
    pair_stock, pair_market = key // (len(panel.tickers) + 1), key % (len(panel.tickers) + 1) - 1
    spec = MODELS[model]
    if spec.uses_market:
        assert len(np.unique(pair_market)) > 1  # (several markets)
    got = build_moments(panel, pair_stock, pair_market, spec).sums
    monkeypatch.setattr(_compiled, "HAVE_NUMBA", False)
    want = build_moments(panel, pair_stock, pair_market, spec).sums
    assert list(got) == list(want)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    assert (panel.span[pair_stock] > 1).any() and np.isnan(panel.returns[pair_stock]).any()


@pytest.mark.skipif(not _compiled.HAVE_NUMBA, reason="the compiled running sums")
def test_moment_fits_reusing_their_sums_block_after_block_equal_numpy(frames, events,
                                                                      monkeypatch) -> None:
    # reference: moment_fits on numpy's cumsums with fresh arrays for each block, bit for
    # bit; two pairs per block, so the compiled sums reuse their arrays many times
    import marketreact.models.moments as moments_mod

    panel = _panel(frames, ReturnKind.simple)
    stock, market, day0 = _rows(panel, events)
    plan = ChunkPlan(MODELS[ModelName.market_model], (-250, -11), (-10, 10), CARS, False)
    monkeypatch.setattr(moments_mod, "PAIR_BLOCK", 2)
    got = moment_fits(panel, stock, market, day0, plan)
    monkeypatch.setattr(_compiled, "HAVE_NUMBA", False)
    want = moment_fits(panel, stock, market, day0, plan)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    assert np.isfinite(got[0]).any()


@pytest.mark.skipif(not _compiled.HAVE_NUMBA, reason="the compiled event windows")
@pytest.mark.parametrize("kind", list(ReturnKind))
@pytest.mark.parametrize("model", MOMENT_MODELS)
@pytest.mark.parametrize("window, cars", [
    ((-10, 10), CARS),
    # a CAR window of more than 128 days: numpy's pairwise sum splits it in halves
    ((-20, 200), ((-20, 200), (0, 0), (-5, 5), (0, 7), (1, 9))),
])
def test_compiled_chunk_equals_the_numpy_chunk(frames, events, model, kind, window, cars,
                                               monkeypatch) -> None:
    # reference: moment_chunk's numpy code (_window_values, _cars), bit for bit, with
    # windows that run off both ends of the panel, gaps, multi-session returns, events
    # whose fit failed (FLAT market) and several markets
    panel = _panel(frames, kind)
    stock, market, day0 = _rows(panel, events)
    day0 = day0.copy()
    day0[4:8] = [3, 12, len(panel.sessions) - 2, len(panel.sessions) - 60]
    plan = ChunkPlan(MODELS[model], (-250, -21), window, cars, kind is ReturnKind.log)
    fits = moment_fits(panel, stock, market, day0, plan)
    got = moment_chunk(panel, stock, market, day0, plan, *fits)
    monkeypatch.setattr(_compiled, "HAVE_NUMBA", False)
    want = moment_chunk(panel, stock, market, day0, plan, *fits)
    for name in ("coef", "sigma2", "n", "df", "ar", "ar_var", "missing_days", "spanning",
                 "car", "car_var", "bhar", "car_sessions", "car_missing"):
        g, w = getattr(got, name), getattr(want, name)
        assert g.dtype == w.dtype, name
        np.testing.assert_array_equal(g, w, err_msg=name)
    assert got.y is None and got.residuals is None
    assert (got.spanning > 0).any() and (got.missing_days > 0).any()
    assert np.isnan(got.car).any() and np.isfinite(got.car).any()


def test_moment_fit_matches_statsmodels_on_one_event(frames, events) -> None:
    panel = _panel(frames, ReturnKind.simple)
    stock, market, day0 = _rows(panel, events)
    i = int(np.flatnonzero((events["market"] == "MKT2").to_numpy() & (day0 > 300))[0])
    spec = MODELS[ModelName.market_model]
    plan = ChunkPlan(spec, (-250, -11), (-10, 10), CARS, False)
    args = (panel, stock[i:i + 1], market[i:i + 1], day0[i:i + 1], plan)
    one = moment_chunk(*args, *moment_fits(*args))
    # Reference: statsmodels OLS on the stock's one-session returns and the market's
    # one-session returns over [-250, -11], both present (after the cleaning rules).
    ticker = events["ticker"][i]
    px = clean_prices(frames[ticker], ticker)[0]["adj_close"].reindex(panel.sessions.labels)
    mk = frames["MKT2"]["adj_close"].reindex(panel.sessions.labels)
    r, m = px.pct_change(fill_method=None), mk.pct_change(fill_method=None)
    est = pd.DataFrame({"r": r, "m": m}).iloc[day0[i] - 250:day0[i] - 10].dropna()
    ols = sm.OLS(est["r"], sm.add_constant(est["m"])).fit()
    assert one.n[0] == len(est) < 240
    np.testing.assert_allclose(one.coef[0], ols.params.to_numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(one.sigma2[0], ols.scale, rtol=1e-10)
    res = MomentSource(panel, stock[i:i + 1], market[i:i + 1], day0[i:i + 1], one.coef,
                       one.sigma2, plan)()[0]
    np.testing.assert_allclose(res[np.isfinite(res)], ols.resid.to_numpy(), atol=1e-13)


def test_study_results_are_the_same_on_both_paths(frames, events, monkeypatch) -> None:
    import marketreact.inference.base as inf_base

    cat = events_from_frame(events)
    fast = EventStudy().fit(cat, frames)
    assert is_pending(fast, "abnormal_returns")
    assert not is_pending(fast.arrays, "est_residuals")  # small: built once for the tests
    # a large study's tests read the moment path's residuals a block at a time instead
    monkeypatch.setattr(inf_base, "_RESIDUALS_AT_ONCE", 0)
    monkeypatch.setattr(inf_base, "_BLOCK_ELEMENTS", 2000)
    blocks = EventStudy().fit(cat, frames)
    assert is_pending(blocks.arrays, "est_residuals")
    for name in ("aar", "aggregate"):
        pd.testing.assert_frame_equal(getattr(blocks, name), getattr(fast, name), rtol=1e-13,
                                      atol=1e-15, obj=name)
    # the same blocks (their scratch reused block after block) on the numpy code
    import marketreact.inference._kernels as inf_kernels

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_compiled, "HAVE_NUMBA", False)
        mp.setattr(inf_kernels, "HAVE_NUMBA", False)
        plain = EventStudy().fit(cat, frames)
    for name in ("aar", "aggregate"):
        pd.testing.assert_frame_equal(getattr(plain, name), getattr(blocks, name), rtol=1e-13,
                                      atol=1e-15, obj=name)
    monkeypatch.setattr(engine_mod, "moment_path_supported", lambda spec: False)
    slow = EventStudy().fit(cat, frames)
    pd.testing.assert_frame_equal(fast.failures, slow.failures)
    assert len(fast.failures) and fast.n_events > 100
    for name in ("events", "abnormal_returns", "car", "aar", "aggregate"):
        pd.testing.assert_frame_equal(getattr(fast, name), getattr(slow, name), rtol=1e-12,
                                      atol=1e-12, obj=name)
    for name in ("ar", "ar_var", "est_residuals", "sigma2"):
        _assert_close(getattr(fast.arrays, name), getattr(slow.arrays, name), name)
    again = pickle.loads(pickle.dumps(fast))
    pd.testing.assert_frame_equal(again.car, fast.car)


def test_local_engine_threads_give_each_tasks_result_in_task_order() -> None:
    # reference: the same tasks one after another in the calling thread
    import time

    def square(panel, k, pause):
        time.sleep(pause)  # the first tasks of each pair finish last
        return panel + k * k

    tasks = [(k, 0.02 if k % 2 == 0 else 0.0) for k in range(9)]
    one = list(LocalEngine(workers=1).run(100, square, tasks))
    assert one == [100 + k * k for k in range(9)]
    assert list(LocalEngine(workers=2).run(100, square, tasks)) == one
    assert list(LocalEngine(workers=3).run(100, square, tasks[:1])) == one[:1]


def test_a_study_on_threads_equals_the_study_on_one_thread(frames, events, monkeypatch) -> None:
    # reference: the local engine computing its chunks one after another (bit for bit)
    monkeypatch.setattr(study_mod, "CHUNK_EVENTS", 17)  # several chunks and fit groups
    monkeypatch.setattr(engine_mod, "FIT_EVENTS", 23)
    cat = events_from_frame(events)
    threaded = EventStudy(engine=LocalEngine(workers=2)).fit(cat, frames)
    single = EventStudy(engine=LocalEngine(workers=1)).fit(cat, frames)
    assert threaded.n_events > 100
    for name in ("events", "abnormal_returns", "car", "aar", "aggregate", "failures"):
        pd.testing.assert_frame_equal(getattr(threaded, name), getattr(single, name),
                                      check_exact=True, obj=name)


def test_the_pretrend_test_is_computed_when_first_read(frames, events) -> None:
    # reference: pretrend_test on the result's own arrays
    import dataclasses

    from marketreact.models.diagnostics import pretrend_test

    res = EventStudy().fit(events_from_frame(events), frames)
    assert is_pending(res, "pretrend")  # the fit does not build it
    want = pretrend_test(res.arrays.rel_days, res.arrays.ar, res.arrays.ar_var)
    np.testing.assert_equal(dataclasses.astuple(res.pretrend), dataclasses.astuple(want))
    assert not is_pending(res, "pretrend") and "pre-event" in res.summary().lower()


def test_events_of_several_exchanges_come_back_in_catalogue_order(frames, events) -> None:
    mixed = events.assign(exchange=np.where(np.arange(len(events)) % 3 == 0, "XLON", ""))
    res = EventStudy().fit(events_from_frame(mixed), frames)
    studied = mixed.loc[mixed["event_id"].isin(res.events["event_id"]), "event_id"]
    assert res.events["event_id"].tolist() == studied.tolist()
    assert set(res.events["exchange"]) == {"XLON", "XNYS"}
    first = res.abnormal_returns.groupby("event_id", sort=False).head(1)
    assert first["event_id"].tolist() == studied.tolist()
    lon = res.events["exchange"].to_numpy() == "XLON"
    # each event's residuals, wherever its exchange's rows were computed
    alone = EventStudy().fit(events_from_frame(mixed.loc[mixed["exchange"] == "XLON"]), frames)
    _assert_close(res.arrays.est_residuals[lon], alone.arrays.est_residuals, "residuals")
    _assert_close(res.arrays.ar[lon], alone.arrays.ar, "ar")


def test_price_table_cleans_and_lines_up_like_clean_prices_and_build_panel(frames) -> None:
    odd = dict(frames)
    s1 = frames["S1"].copy()
    s1.iloc[5, s1.columns.get_loc("adj_close")] = -1.0  # non-positive: removed
    s1.iloc[9, s1.columns.get_loc("adj_close")] = np.nan  # falls back to the close
    extra = s1.iloc[[20]].copy()
    extra.index = pd.DatetimeIndex([pd.Timestamp("2019-07-04")], name="date")  # no session
    odd["S1"] = pd.concat([s1.iloc[:20], extra, s1.iloc[20:]]).sort_index()
    odd["EMPTY"] = frames["S2"].iloc[:0]
    odd["SHUFFLED"] = frames["S4"].sample(frac=1.0, random_state=1)  # rows out of date order
    jump = frames["S6"].copy()
    jump.iloc[200:, jump.columns.get_loc("adj_close")] *= 2.0  # an unadjusted split
    odd["JUMP"] = jump
    odd["INF"] = frames["S2"].assign(adj_close=frames["S2"]["adj_close"].where(
        np.arange(len(frames["S2"])) != 30, np.inf))
    table = PriceTable(odd)
    for t, f in odd.items():
        cleaned, notes = reference_clean_prices(f, t)
        assert table.notes.get(t, ()) == tuple(notes)
        if cleaned.empty:  # left without a row: not in the mapping
            assert t not in table and t in table.empty and (table.rows([t]) == -1).all()
            continue
        pd.testing.assert_frame_equal(table[t], cleaned)
    notes = [str(n) for found in table.notes.values() for n in found]
    assert any("zero or negative price" in n for n in notes)
    assert any("filler" in n for n in notes)
    assert table.empty == ("EMPTY",)
    # tickers whose consecutive cleaned prices move by 1.8x or more (a plain loop as reference)
    expected_jumpy = []
    for t in table:
        px = table[t]["adj_close"].fillna(table[t]["close"]).to_numpy()
        px = px[np.isfinite(px)]
        ratio = px[1:] / px[:-1]
        if (np.maximum(ratio, 1 / ratio) >= 1.8).any():
            expected_jumpy.append(t)
    assert table.jumpy(1.8) == expected_jumpy
    assert "JUMP" in expected_jumpy
    # the suspect jumps found from the table's arrays: those of find_suspects on the frames
    found = 0
    for t in table:
        dates, price = table.kept_prices(t)
        np.testing.assert_array_equal(price, price_column(table[t]).to_numpy())
        np.testing.assert_array_equal(dates, table[t].index.to_numpy())
        ok = (price > 0) & np.isfinite(price)
        got = suspect_jumps(price[ok], dates[ok], f"prices of {t}")
        assert got == find_suspects(table[t], f"prices of {t}")
        found += len(got)
    assert found
    # each ticker's cleaned date range (reference: the earliest and latest date of its
    # cleaned frame, whose rows may come in any order)
    for t in table:
        rng = table.date_range(table.rows([t]))
        assert rng == (table[t].index.min(), table[t].index.max())
    bounds = table.date_range(table.rows(list(table)))
    with pytest.MonkeyPatch.context() as mp:  # the other path (compiled loop / numpy): the same
        mp.setattr(_compiled, "HAVE_NUMBA", not _compiled.HAVE_NUMBA)
        assert table.jumpy(1.8) == expected_jumpy
        again = PriceTable(odd)
        assert again.date_range(again.rows(list(again))) == bounds
        for t in again:
            assert again.date_range(again.rows([t])) == (again[t].index.min(),
                                                         again[t].index.max())
    sessions = exchange_sessions("XNYS", DAYS[0], DAYS[-1], table.index_of("MKT"), "MKT")
    tickers = ["S3", "MKT", "S1", "INF", "MKT2", "S0"]
    in_order = [t for t in odd if t not in ("SHUFFLED", "EMPTY")]
    cases = [(ReturnKind.simple, tickers), (ReturnKind.log, tickers),
             (ReturnKind.simple, in_order), (ReturnKind.log, [*in_order, "SHUFFLED"]),
             (ReturnKind.simple, [*in_order, "SHUFFLED"])]
    compiled = [True, False] if _compiled.HAVE_NUMBA else [False]
    for (kind, names), with_numba in itertools.product(cases, compiled):
        with pytest.MonkeyPatch.context() as mp:  # the compiled lineup and the numpy one
            mp.setattr(_compiled, "HAVE_NUMBA", with_numba)
            fast = PriceTable(odd).panel(sessions, names, kind)
        ref = build_panel(sessions, {t: reference_clean_prices(odd[t], t)[0] for t in names},
                          kind)
        assert is_pending(fast, "cum")
        assert is_pending(fast, "prices") == ("SHUFFLED" not in names)  # else from the matrix
        for got, want in zip(fast.priced_range(), ref.priced_range(), strict=True):
            np.testing.assert_array_equal(got, want)
        rows = np.array([1, 5])
        np.testing.assert_array_equal(fast.price_rows(rows), ref.prices[rows])
        cum, missing = fast.running_sums(rows)
        np.testing.assert_array_equal(cum, ref.cum[rows])
        np.testing.assert_array_equal(missing, ref.cum_missing[rows])
        for name in ("prices", "volume", "returns", "span", "cum", "cum_missing"):
            np.testing.assert_array_equal(getattr(fast, name), getattr(ref, name), err_msg=name)
    assert table.date_range(table.rows(["S5", "EMPTY"])) == (
        table.index_of("S5")[0], table.index_of("S5")[-1])


def test_a_pickled_panel_carries_its_matrices_not_the_price_table(frames) -> None:
    table = PriceTable(frames)
    sessions = exchange_sessions("XNYS", DAYS[0], DAYS[-1], table.index_of("MKT"), "MKT")
    panel = table.panel(sessions, list(table.tickers))
    size = len(pickle.dumps(panel))
    back = pickle.loads(pickle.dumps(panel))
    np.testing.assert_array_equal(back.prices, panel.prices)
    np.testing.assert_array_equal(back.cum, panel.cum)
    # returns, span, prices and volume (and the session axis), not the table of every frame
    assert size < len(pickle.dumps(panel.sessions)) + 4.5 * panel.returns.nbytes
    fresh = table.panel(sessions, list(table.tickers))
    assert is_pending(fresh, "prices")
    assert "PriceTable" not in str(pickle.dumps(fresh))  # no reference to the table goes along


def test_event_block_take_and_concat_round_trip(frames, events) -> None:
    panel = _panel(frames, ReturnKind.simple)
    stock, market, day0 = _rows(panel, events)
    plan = ChunkPlan(MODELS[ModelName.market_model], (-250, -11), (-10, 10), CARS, False)
    block = _general(panel, stock, market, day0, plan)
    idx = np.arange(len(block))
    parts = [block.take(idx[:50]), block.take(idx[50:])]
    back = EventBlock.concat(parts)
    for name in ("ar", "car", "residuals", "coef"):
        np.testing.assert_array_equal(getattr(back, name), getattr(block, name))
    # placed out of order and compacted in place, a builder gives the kept rows in order
    builder = BlockBuilder(len(block))
    rev = idx[::-1]
    builder.add(block.take(rev[:70]), rev[:70])
    builder.add(block.take(rev[70:]), rev[70:])
    keep = idx % 3 != 0
    kept = builder.finish(keep)
    for name in ("ar", "car", "residuals", "coef", "n"):
        np.testing.assert_array_equal(getattr(kept, name), getattr(block.take(keep), name))


# ---- Dask -----------------------------------------------------------------------------------
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as lc, distributed.Client(lc) as client:
        yield lc, client


@pytest.mark.parametrize("moment", [True, False])
def test_dask_engine_matches_the_local_engine(frames, events, cluster, monkeypatch,
                                              moment) -> None:
    _, client = cluster
    if not moment:
        monkeypatch.setattr(engine_mod, "moment_path_supported", lambda spec: False)
    scatters = []
    real_scatter = client.scatter

    def counting_scatter(data, **kwargs):
        scatters.append(type(data).__name__)
        return real_scatter(data, **kwargs)

    monkeypatch.setattr(client, "scatter", counting_scatter)
    monkeypatch.setattr(study_mod, "CHUNK_EVENTS", 25)  # several chunks per exchange
    cat = events_from_frame(events)
    local = EventStudy().fit(cat, frames)
    dask_engine = engine_mod.DaskEngine(client)
    remote = EventStudy(engine=dask_engine).fit(cat, frames)
    # the panel went to the workers once, not per chunk: the returns the moment path reads,
    # or the whole panel for the general path
    assert scatters == (["ReturnsView"] if moment else ["ExchangePanel"])
    assert local.n_events > 100
    for name in ("events", "abnormal_returns", "car", "aar", "aggregate", "failures"):
        pd.testing.assert_frame_equal(getattr(remote, name), getattr(local, name), rtol=1e-12,
                                      atol=1e-12, obj=name)
    _assert_close(remote.arrays.est_residuals, local.arrays.est_residuals, "residuals")
    assert client.status == "running"  # a client we gave is not closed by the study


def test_cli_runs_on_a_dask_scheduler(tmp_path: Path, frames, events, cluster) -> None:
    lc, _ = cluster
    prices = tmp_path / "prices"
    prices.mkdir()
    for t in ("MKT", "MKT2", "S1", "S2"):
        f = frames[t].reset_index().rename(columns={"date": "Date", "adj_close": "Adj Close"})
        f.columns = [c.title() if c != "Adj Close" else c for c in f.columns]
        f.to_csv(prices / f"{t}.csv", index=False)
    few = events.loc[events["ticker"].isin(["S1", "S2"]) & (events["market"] != "FLAT")]
    few.to_csv(tmp_path / "events.csv", index=False)
    runner = CliRunner()
    outs = {}
    for name, extra in (("local", []), ("dask", ["--engine", "dask", "--scheduler",
                                                 lc.scheduler_address])):
        outs[name] = tmp_path / name
        res = runner.invoke(study_mod_cli(), ["study", str(tmp_path / "events.csv"), "--prices",
                                              f"csv:{prices}", "--out", str(outs[name]),
                                              "--quiet", *extra])
        assert res.exit_code in (0, 1), res.output
    for table in ("events", "car", "abnormal_returns", "aggregate"):
        a = pd.read_csv(outs["local"] / f"{table}.csv")
        b = pd.read_csv(outs["dask"] / f"{table}.csv")
        assert len(a) > 0
        pd.testing.assert_frame_equal(a, b, rtol=1e-12, atol=1e-12)
    res = runner.invoke(study_mod_cli(), ["study", str(tmp_path / "events.csv"), "--prices",
                                          f"csv:{prices}", "--out", str(tmp_path / "x"),
                                          "--scheduler", "tcp://nowhere:1"])
    assert res.exit_code == 2 and "--scheduler needs --engine dask" in res.output


def study_mod_cli():
    from marketreact.cli.app import app

    return app


def test_suspect_reasons_match_a_plain_loop() -> None:
    from marketreact.errors import InputProblem
    from marketreact.prices.checks import suspect_reasons
    from marketreact.prices.frames import PriceSuspect

    rng = np.random.default_rng(2)
    n = 400
    stocks = rng.choice(["A", "B", "C", "D"], n).astype(object)
    markets = rng.choice(["M", "N", ""], n).astype(object)
    day0 = rng.integers(0, len(DAYS), n)
    suspects = {
        "A": (PriceSuspect(DAYS[100], DAYS[100], InputProblem("a", 3, "adj_close", "9", "jump")),
              PriceSuspect(DAYS[300], DAYS[302], InputProblem("a", 9, "adj_close", "1", "print"))),
        "C": (),
        "M": (PriceSuspect(DAYS[500], DAYS[500], InputProblem("m", 1, "adj_close", "2", "split")),),
    }

    def reference() -> np.ndarray:  # the rule written out: first suspect met, stocks first
        out = np.full(n, "", dtype=object)
        for column in (stocks, markets):
            for i in range(n):
                for suspect in suspects.get(column[i], ()) if column[i] else ():
                    a = DAYS.searchsorted(suspect.first)
                    b = DAYS.searchsorted(suspect.last)
                    if out[i] == "" and day0[i] - 250 <= b and day0[i] + 10 >= a:
                        out[i] = f"prices: {suspect.problem}"
        return out

    got = suspect_reasons(DAYS, day0, [stocks, markets], suspects, -250, 10)
    want = reference()
    assert (got != "").sum() > 50
    assert got.tolist() == want.tolist()
