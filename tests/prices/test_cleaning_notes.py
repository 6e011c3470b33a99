"""Filler-row notes speak of volume only where volume matters.

Reference: the cleaning rules in marketreact/prices/cleaning.py — a flat zero-volume row
after a row with the same price is a Yahoo filler and is removed whatever the measure;
the note about it is for volume studies (``filler_notes=True``), not return studies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from marketreact.prices import clean_prices


def _frame() -> pd.DataFrame:
    dates = pd.bdate_range("2024-01-01", periods=5)
    close = np.array([10.0, 10.5, 10.5, 11.0, 11.2])  # row 3 repeats row 2 with volume 0
    return pd.DataFrame({"open": close, "high": close, "low": close, "close": close,
                         "adj_close": close, "volume": [100.0, 120.0, 0.0, 90.0, 80.0]},
                        index=pd.DatetimeIndex(dates, name="date"))


def test_filler_rows_are_removed_with_or_without_the_note() -> None:
    with_note, notes = clean_prices(_frame(), "X")
    without, quiet = clean_prices(_frame(), "X", filler_notes=False)
    assert len(with_note) == len(without) == 4  # the same row removed (hand count: row 3)
    assert with_note.index.equals(without.index)
    assert [n.field for n in notes] == ["volume"] and "filler" in notes[0].message
    assert quiet == []


def test_price_notes_stay_in_return_studies() -> None:
    frame = _frame()
    frame.loc[frame.index[4], ["close", "adj_close"]] = 0.0
    _, quiet = clean_prices(frame, "X", filler_notes=False)
    assert [n.field for n in quiet] == ["adj_close"]


def test_negative_volume_is_made_missing_and_noted() -> None:
    # Hand count: rows 2 and 4 carry negative volumes; prices are untouched, so no row goes.
    frame = _frame()
    frame["volume"] = [100.0, -5.0, 130.0, -1.0, 80.0]
    cleaned, notes = clean_prices(frame, "X")
    assert len(cleaned) == 5
    assert np.isnan(cleaned["volume"].to_numpy()[[1, 3]]).all()
    assert cleaned["volume"].to_numpy()[[0, 2, 4]].tolist() == [100.0, 130.0, 80.0]
    assert frame["volume"].to_numpy()[1] == -5.0  # the caller's frame is not changed
    [note] = notes
    assert note.field == "volume"
    assert "2 row(s) with a negative volume" in note.message
    assert "first 2024-01-02" in note.message


def test_price_table_and_one_frame_clean_volumes_alike() -> None:
    from marketreact.panel.table import PriceTable

    frame = _frame()
    frame["volume"] = [100.0, -5.0, 130.0, -1.0, 80.0]
    table = PriceTable({"X": frame, "Y": _frame()})
    one, _ = clean_prices(frame, "X")
    pd.testing.assert_frame_equal(table["X"], one)
    assert np.isnan(table.volume[[1, 3]]).all() and table.volume[5] == 100.0
