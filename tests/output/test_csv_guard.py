"""CSV cells that a spreadsheet would run as formulas are neutralised (OWASP CSV injection).

Reference: the OWASP rule (prefix ``'`` to cells starting with ``= + - @``, tab or carriage
return); each case below is written by hand.
"""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketreact.output.files import FORMULA_STARTS, guard_formulas, write_csv


@pytest.fixture(autouse=True)
def _guard_back_on():
    yield
    guard_formulas(True)


def _cells(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_text_cells_that_start_a_formula_get_a_quote(tmp_path):
    frame = pd.DataFrame({
        "event_id": ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx", "ok", " =x"],
        "value": [-1.5, 2.0, -3.0, np.nan, 0.0, 1e-9, -7.0],
    })
    path = write_csv(frame, tmp_path / "t.csv")
    rows = _cells(path)
    assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)",
                                        "'\tx", "ok", " =x"]
    # numbers are data, never touched: negative values stay negative
    assert [r[1] for r in rows[1:]] == ["-1.5", "2", "-3", "", "0", "1e-9", "-7"]  # exact, shortest


def test_numbers_in_a_text_column_stay_numbers(tmp_path):
    # metrics.csv holds a "value" column of mixed numbers and text
    frame = pd.DataFrame({"metric": ["a", "b", "c"], "value": [-0.0402, "-x", None]},
                         dtype=object)
    rows = _cells(write_csv(frame, tmp_path / "m.csv"))
    assert [r[1] for r in rows[1:]] == ["-0.0402", "'-x", ""]


def test_a_carriage_return_in_a_cell_does_not_split_the_row(tmp_path):
    frame = pd.DataFrame({"headline": ["a\rb", "x\r", "plain"], "x": [1.5, -2.0, 3.0]})
    rows = _cells(write_csv(frame, tmp_path / "t.csv"))
    assert rows[1:] == [["a\rb", "1.5"], ["x\r", "-2"], ["plain", "3"]]
    back = pd.read_csv(tmp_path / "t.csv")
    assert back["headline"].tolist() == ["a\rb", "x\r", "plain"]
    assert back["x"].tolist() == [1.5, -2.0, 3.0]


def test_the_guard_can_be_turned_off(tmp_path):
    guard_formulas(False)
    path = write_csv(pd.DataFrame({"a": ["=1+1"]}), tmp_path / "t.csv")
    assert _cells(path)[1] == ["=1+1"]


@given(st.lists(st.text(max_size=6), min_size=1, max_size=8))
def test_no_written_text_cell_starts_a_formula(tmp_path_factory, texts):
    path = write_csv(pd.DataFrame({"x": texts}, dtype=object),
                     tmp_path_factory.mktemp("g") / "t.csv")
    for (cell,), text in zip(_cells(path)[1:], texts, strict=True):
        assert not cell.startswith(FORMULA_STARTS)
        assert cell in (text, "'" + text)  # nothing but the quote is added
