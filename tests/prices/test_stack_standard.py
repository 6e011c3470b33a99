"""Frames taken as standard by their shape and, all at once, by their dates.

``prices.cleaning.stack_standard`` decides which frames a study may stack as they are
(the others go through ``load_prices``) without a per-frame date check. References:
the per-frame pandas checks it replaced (``DatetimeIndex.is_monotonic_increasing``,
``is_unique``, ``normalize()``, the columns and dtypes read one by one), ``stack_frames``
on the frames that pass, and ``load_prices`` on the same frames for the whole table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marketreact import _compiled
from marketreact.panel.lineup import price_table
from marketreact.panel.table import PriceTable
from marketreact.prices import load_prices
from marketreact.prices.cleaning import date_faults, stack_frames, stack_standard
from marketreact.prices.frames import PRICE_COLUMNS

COMPILED = [False, True] if _compiled.HAVE_NUMBA else [False]


def _reference_is_standard(frame: pd.DataFrame) -> bool:
    """The per-frame checks, read through pandas' own properties."""
    index = frame.index
    return (isinstance(index, pd.DatetimeIndex) and index.tz is None and index.unit == "ns"
            and tuple(frame.columns) == PRICE_COLUMNS
            and all(isinstance(dt, np.dtype) and dt.kind in "fiu" for dt in frame.dtypes)
            and index.is_monotonic_increasing and index.is_unique
            and bool(index.normalize().equals(index)))


def _frame(dates: pd.DatetimeIndex, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, len(dates))))
    adj = close * 0.9
    adj[::7] = np.nan  # the close stands in
    return pd.DataFrame({"open": close, "high": close * 1.01, "low": close * 0.99,
                         "close": close, "adj_close": adj,
                         "volume": rng.integers(0, 10**6, len(dates)).astype(float)},
                        index=pd.DatetimeIndex(dates, name="date").as_unit("ns"))


def _odd_frames() -> dict[str, pd.DataFrame]:
    days = pd.bdate_range("2023-01-02", periods=60)
    good = _frame(days)
    out = {
        "GOOD": good,
        "SAME_DAYS": _frame(days, 1),  # starts before the previous frame ends: not a fault
        "INT_VOLUME": good.astype({"volume": np.int64}),
        "FLOAT32": good.astype({"close": np.float32}),
        "EMPTY": good.iloc[:0],
        "OLD": _frame(pd.bdate_range("1962-01-02", periods=30), 2),  # before 1970
        "REVERSED": good.iloc[::-1],
        "TWICE": pd.concat([good.iloc[:10], good.iloc[9:]]),
        "AFTERNOON": good.set_axis(good.index + pd.Timedelta(hours=16)),
        "LAST_AFTERNOON": good.set_axis(good.index[:-1].append(
            pd.DatetimeIndex([good.index[-1] + pd.Timedelta(hours=16)]))),
        "TZ": good.tz_localize("America/New_York"),
        "SECONDS": good.set_axis(good.index.as_unit("s")),
        "BOOL": good.assign(volume=good["volume"] > 0),
        "TEXT": good.astype({"volume": object}),
        "NULLABLE": good.astype({"volume": "Float64"}),
        "ORDER": good[list(reversed(PRICE_COLUMNS))],
        "EXTRA": good.assign(dividends=0.0),
        "FEWER": good.drop(columns="open"),
        "YAHOO": good.rename(columns=str.title),
        "STRING_DATES": good.set_axis(good.index.strftime("%Y-%m-%d")),
        "MULTI": pd.concat({"X": good}, axis=1),
    }
    out["AFTER_EMPTY"] = _frame(days, 3)
    return out


@pytest.mark.parametrize("compiled", COMPILED)
def test_standard_frames_are_those_the_per_frame_checks_accept(
        compiled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_compiled, "HAVE_NUMBA", compiled)
    frames = _odd_frames()
    expected = [t for t, f in frames.items() if _reference_is_standard(f)]
    assert expected == ["GOOD", "SAME_DAYS", "INT_VOLUME", "FLOAT32", "EMPTY", "OLD",
                        "AFTER_EMPTY"]  # the cases are what their names say
    rows, others = stack_standard(frames)
    assert rows.tickers == tuple(expected)
    assert others == tuple(t for t in frames if t not in expected)
    ref = stack_frames({t: frames[t].astype(float) for t in expected})
    np.testing.assert_array_equal(rows.offsets, ref.offsets)
    np.testing.assert_array_equal(rows.dates, ref.dates)
    np.testing.assert_array_equal(rows.price, ref.price)
    np.testing.assert_array_equal(rows.volume, ref.volume)


@pytest.mark.parametrize("compiled", COMPILED)
def test_date_faults_against_pandas_on_random_stacks(
        compiled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_compiled, "HAVE_NUMBA", compiled)
    rng = np.random.default_rng(5)
    day = 86_400_000_000_000
    frames = []
    for _ in range(400):
        n = int(rng.integers(0, 6))
        d = np.sort(rng.choice(np.arange(-20, 20), n, replace=False)) * day
        kind = rng.integers(0, 4)
        if kind == 1 and n:
            d[rng.integers(0, n)] += 3_600_000_000_000  # one date off midnight
        elif kind == 2 and n > 1:
            d[-1] = d[-2]  # a date twice
        elif kind == 3 and n > 1:
            d = d[::-1]  # descending
        frames.append(d)
    offsets = np.zeros(len(frames) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in frames], out=offsets[1:])
    got = date_faults(np.concatenate(frames), offsets)
    expected = [not (pd.DatetimeIndex(d).is_monotonic_increasing
                     and pd.DatetimeIndex(d).is_unique
                     and pd.DatetimeIndex(d).normalize().equals(pd.DatetimeIndex(d)))
                for d in frames]
    np.testing.assert_array_equal(got, expected)
    assert 0 < got.sum() < len(frames)


def test_the_table_equals_one_built_from_load_prices() -> None:
    frames = _odd_frames()
    for name in ("MULTI", "FEWER", "BOOL", "TEXT", "NULLABLE", "SECONDS", "STRING_DATES",
                 "TWICE"):
        del frames[name]  # refused or read differently by load_prices: not this test's subject
    events = pd.DataFrame({"event_id": [f"E{i}" for i in range(len(frames))],
                           "ticker": list(frames), "market": "GOOD",
                           "timestamp": pd.Timestamp("2023-02-01 12:00", tz="UTC"),
                           "exchange": "XNYS", "date": pd.NaT})
    fast = price_table(frames, events).table
    fetched = load_prices(frames, events, before=10_000, after=10_000)
    slow = PriceTable(fetched.frames)
    assert fast.tickers == slow.tickers
    for attr in ("offsets", "dates", "price", "volume", "keep"):
        np.testing.assert_array_equal(getattr(fast, attr), getattr(slow, attr))
    # every frame standard: stacked once, by stack_standard
    standard = {t: frames[t] for t in ("GOOD", "SAME_DAYS", "OLD")}
    table = price_table(standard, events.loc[events["ticker"].isin(list(standard))]).table
    ref = PriceTable(load_prices(standard, events.loc[events["ticker"].isin(list(standard))],
                                 before=10_000, after=10_000).frames)
    for attr in ("offsets", "dates", "price", "volume", "keep"):
        np.testing.assert_array_equal(getattr(table, attr), getattr(ref, attr))


def test_rows_of_other_frames_are_refused() -> None:
    frames = {"A": _frame(pd.bdate_range("2023-01-02", periods=5))}
    rows, _ = stack_standard({"B": frames["A"]})
    with pytest.raises(ValueError, match="ticker for ticker"):
        PriceTable(frames, rows=rows)


def test_a_series_among_the_frames_gets_the_one_line_refusal() -> None:
    # a Series with a date index has an index but no columns: refused by standard_frame's
    # message, not an AttributeError
    from marketreact import EventStudy
    from marketreact.errors import InputError

    days = pd.bdate_range("2022-01-03", periods=400)
    frames = {"MKT": _frame(days), "A": _frame(days, 1)["close"]}
    events = pd.DataFrame({"event_id": ["E1"], "ticker": ["A"], "market": ["MKT"],
                           "date": ["2023-05-01"]})
    with pytest.raises(InputError, match="expected a DataFrame of daily prices, got Series"):
        EventStudy(n_boot=0).fit(events, frames)
