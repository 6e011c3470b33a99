"""The price-cleaning rules: one implementation (``prices.cleaning.clean_rows``).

``clean_prices`` (one frame) and ``PriceTable`` (many frames stacked) both call it.
References: expectations written out by hand below, and the per-frame pandas rules as
they stood before the merge (``_cleaning_reference``) on every real price file in
``../shared/data/prices`` and on random frames (hypothesis).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _cleaning_reference import reference_clean_prices
from marketreact.panel.table import PriceTable
from marketreact.prices import CsvSource, clean_prices
from marketreact.prices.cleaning import clean_rows, stack_frames


def _frame(dates: list[str], close: list[float], adj: list[float] | None = None,
           volume: list[float] | float = 1e6) -> pd.DataFrame:
    return pd.DataFrame({"open": np.nan, "high": np.nan, "low": np.nan, "close": close,
                         "adj_close": close if adj is None else adj, "volume": volume},
                        index=pd.DatetimeIndex(pd.to_datetime(dates), name="date"))


def _days(n: int, start: str = "2024-01-02") -> list[str]:
    return [str(d.date()) for d in pd.bdate_range(start, periods=n)]


def test_rules_by_hand() -> None:
    # row: 0 ok | 1 negative | 2 adj missing -> close 10 | 3 zero | 4 filler of row 2 (row 3
    # dropped first) | 5 zero volume but moved | 6 filler of 5 | 7 adj and close missing
    frame = _frame(_days(8), close=[10, 10, 10, 10, 10, 11, 11, np.nan],
                   adj=[9.0, -1.0, np.nan, 0.0, 10.0, 11.0, 11.0, np.nan],
                   volume=[5, 5, 5, 5, 0, 0, 0, 5])
    cleaned, notes = clean_prices(frame, "T")
    assert list(cleaned.index) == [frame.index[i] for i in (0, 2, 5)]
    pd.testing.assert_frame_equal(cleaned, frame.iloc[[0, 2, 5]])
    assert [(n.source, n.field, n.message) for n in notes] == [
        ("T", "adj_close", "2 row(s) with a zero or negative price taken as missing "
                           "(first 2024-01-03)"),
        ("T", "volume", "2 flat zero-volume filler row(s) treated as missing")]


def test_a_clean_frame_comes_back_as_it_is() -> None:
    frame = _frame(_days(3), close=[1.0, 2.0, 3.0])
    cleaned, notes = clean_prices(frame, "T")
    assert cleaned is frame and notes == []


def test_no_volume_means_no_filler_rule() -> None:
    frame = _frame(_days(3), close=[5.0, 5.0, 5.0], volume=np.nan)
    cleaned, notes = clean_prices(frame, "IDX")
    assert len(cleaned) == 3 and notes == []


def test_rows_are_never_compared_across_tickers() -> None:
    # B's first row has zero volume and A's last price: not a filler row of B
    a = _frame(_days(2), close=[7.0, 8.0])
    b = _frame(_days(2, "2024-02-01"), close=[8.0, 9.0], volume=[0.0, 1.0])
    c = _frame([], close=[])
    d = _frame(_days(2), close=[-1.0, 0.0])  # nothing left
    table = PriceTable({"A": a, "C": c, "B": b, "D": d})
    pd.testing.assert_frame_equal(table["B"], b)
    assert table.empty == ("C", "D")
    assert "D" in table.notes and "B" not in table.notes
    cleaning = clean_rows(stack_frames({"A": a, "C": c, "B": b, "D": d}))
    assert cleaning.keep.tolist() == [True, True, True, True, False, False]
    assert cleaning.counts.tolist() == [2, 0, 2, 0]


def test_single_implementation_is_shared() -> None:
    import marketreact.panel.table as table_mod
    import marketreact.prices.cleaning as cleaning_mod

    assert table_mod.clean_rows is cleaning_mod.clean_rows
    assert not hasattr(table_mod, "_clean")


@pytest.mark.parametrize("folder", ["us", "idx", "idx_stockdb"])
def test_same_as_the_reference_on_every_real_file(prices_dir: Path, folder: str) -> None:
    source = CsvSource(prices_dir / folder)
    fetched = source.fetch(source.tickers)
    assert fetched.frames
    table = PriceTable(fetched.frames)
    removed = 0
    for ticker, raw in fetched.frames.items():
        want, want_notes = reference_clean_prices(raw, ticker)
        got, got_notes = clean_prices(raw, ticker)
        assert got_notes == want_notes, ticker
        pd.testing.assert_frame_equal(got, want)
        assert table.notes.get(ticker, ()) == tuple(want_notes)
        pd.testing.assert_frame_equal(table[ticker], want)
        removed += len(raw) - len(want)
    if folder == "idx":
        assert removed > 0  # the Yahoo IDX files hold filler rows


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, -1.0, np.nan, 1.0, 2.0, 3.0]),
                          st.sampled_from([0.0, 1.0, np.nan]),
                          st.booleans()), min_size=0, max_size=30),
       st.integers(0, 30))
def test_same_as_the_reference_on_random_frames(rows: list[tuple[float, float, bool]],
                                                cut: int) -> None:
    dates = _days(len(rows))
    adj = [p for p, _, _ in rows]
    close = [2.0 if missing_adj else p for p, _, missing_adj in rows]
    adj = [np.nan if m else p for p, (_, _, m) in zip(adj, rows, strict=True)]
    frame = _frame(dates, close=close, adj=adj, volume=[v for _, v, _ in rows])
    parts = {"X": frame.iloc[:cut], "Y": frame.iloc[cut:]}
    table = PriceTable(parts)
    for ticker, part in parts.items():
        want, want_notes = reference_clean_prices(part, ticker)
        got, got_notes = clean_prices(part, ticker)
        assert got_notes == want_notes
        pd.testing.assert_frame_equal(got, want)
        assert table.notes.get(ticker, ()) == tuple(want_notes)
        if want.empty:
            assert ticker in table.empty
        else:
            pd.testing.assert_frame_equal(table[ticker], want)
