"""write_csv: the layout of the csv module, floats that read back exactly, linear blocks.

References: Python's ``csv`` module (minimal quoting, the reader), ``float.__repr__`` (the
shortest string that reads back as the same double) and pandas ``read_csv``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from marketreact.output import files
from marketreact.output.files import write_csv


def _frame(n: int = 1000) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    x = rng.standard_t(3, n) * 10.0 ** rng.integers(-12, 12, n)
    x[::17] = np.nan
    text = np.array(["plain", "a,b", 'say "hi"', "two\nlines", "cr\rinside", "", "[-1,+1]"],
                    dtype=object)[rng.integers(0, 7, n)]
    text[::13] = None
    return pd.DataFrame({"id": [f"ev-{i}" for i in range(n)], "x": x,
                         "k": rng.integers(-5, 5, n), "flag": rng.random(n) < 0.5,
                         "text": text, "day": pd.Timestamp("2024-01-02")})


def test_text_layout_equals_the_csv_module_and_floats_read_back_exactly(tmp_path: Path) -> None:
    frame = _frame()
    path = write_csv(frame, tmp_path / "t.csv")
    raw = path.read_bytes().decode()
    # the csv module, minimal quoting, on the same cells: text identical line for line
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\r\n")  # so that it quotes a bare "\r" too
    writer.writerow(frame.columns)
    for row in frame.itertuples(index=False):
        writer.writerow(["" if v is None or (isinstance(v, float) and np.isnan(v))
                         else repr(v) if isinstance(v, float) else v for v in
                         (row.id, row.x, row.k, str(row.flag), row.text, "2024-01-02")])
    got_rows = list(csv.reader(io.StringIO(raw, newline="")))
    want_rows = list(csv.reader(io.StringIO(expected.getvalue(), newline="")))
    assert [r[:1] + r[2:] for r in got_rows] == [r[:1] + r[2:] for r in want_rows]
    # floats: the shortest exact form (Arrow writes 1e-9 where repr writes 1e-09), same double
    back = np.array([float(r[1]) if r[1] else np.nan for r in got_rows[1:]])
    np.testing.assert_array_equal(back, frame["x"].to_numpy())
    assert pd.read_csv(path)["x"].equals(frame["x"])
    # a carriage return inside a cell stays inside its quoted cell
    assert '"cr\rinside"' in raw


def test_blocks_and_the_pandas_fallback_write_the_same_file(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _frame(2500).drop(columns="x")  # floats aside, both paths write alike
    one = write_csv(frame, tmp_path / "one.csv").read_bytes()
    monkeypatch.setattr(files, "CSV_BLOCK_ROWS", 7)
    assert write_csv(frame, tmp_path / "blocks.csv").read_bytes() == one
    # a column of mixed Python objects cannot be typed by Arrow: pandas writes the table
    mixed = frame.assign(text=[1, "a", 2.5, None] * 625)
    path = write_csv(mixed, tmp_path / "mixed.csv")
    back = pd.read_csv(path, dtype={"text": str})
    assert back["text"].tolist()[:4] == ["1", "a", "2.5", np.nan]
    assert len(back) == 2500


def test_empty_tables(tmp_path: Path) -> None:
    assert write_csv(pd.DataFrame({"a": [], "b": []}), tmp_path / "e.csv").read_text() == "a,b\n"
    assert write_csv(pd.DataFrame(), tmp_path / "n.csv").read_text() == "\n"


def test_arrow_backed_text_columns(tmp_path: Path) -> None:
    # pandas' str dtype (Arrow-backed) arrives as a chunked array; written like object text
    frame = pd.DataFrame({"id": pd.array(["a", "b,c", None], dtype="string[pyarrow]"),
                          "x": [1.5, np.nan, 3.0]})
    assert write_csv(frame, tmp_path / "s.csv").read_text() == 'id,x\na,1.5\n"b,c",\n,3\n'
