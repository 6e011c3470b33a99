"""The column-wise catalogue validation against the row-by-row path it replaces.

Reference: the row-by-row conversion ``events_from_frame`` used before (``_cell`` on every
value of ``itertuples``, then ``_catalogue_from_rows``) and the ``csv`` module reader
(``_read_csv_rows``). Frames, problems (file, line, field, value, message) and notes must
be identical, bad rows included.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marketreact.errors import InputError
from marketreact.events import catalogue as cat
from marketreact.events.catalogue import events_from_frame, read_events


def _old_from_frame(frame: pd.DataFrame):
    header = [str(c) for c in frame.columns]
    rows = [[cat._cell(v) for v in rec] for rec in frame.itertuples(index=False, name=None)]
    return cat._catalogue_from_rows(header, rows, list(range(2, len(rows) + 2)), "<frame>",
                                    False, [])


def _same(a, b) -> None:
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.problems == b.problems
    assert a.notes == b.notes and a.attributes == b.attributes and a.renamed == b.renamed


def _messy() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 300
    ts = pd.Series(pd.to_datetime("2020-01-02 14:30", utc=True)
                   + pd.to_timedelta(rng.integers(0, 10**6, n), unit="min"))
    ts[rng.random(n) < 0.4] = pd.NaT
    ts[5] = pd.Timestamp("2021-03-04 10:00:00.250", tz="UTC")  # sub-second
    date = pd.Series(pd.to_datetime("2019-06-03") + pd.to_timedelta(rng.integers(0, 900, n),
                                                                    unit="D"))
    date[ts.notna()] = pd.NaT
    date[7] = pd.Timestamp("2019-06-03 12:00")  # a time of day in the date column
    frame = pd.DataFrame({
        "event_id": [f"E{i}" for i in range(n)],
        "ticker": rng.choice(["AAPL", "BBCA.JK", "MSFT", " ibm ", "BAD TICKER", ""], n),
        "timestamp": ts, "date": date,
        "timing": rng.choice(["pre", "intra", "post", "", "lunch"], n),
        "sentiment": rng.choice([0.5, -1.25, np.nan, 3.0], n),
        "beta": rng.normal(size=n),
        "note": rng.choice(["x", None, "y"], n).astype(object),
    })
    frame.loc[3, "event_id"] = "E2"  # duplicate
    frame.loc[4, "event_id"] = None
    frame["exchange"] = rng.choice(["", "XNYS", "NOPE"], n)
    return frame


def test_frame_path_equals_row_by_row():
    frame = _messy()
    _same(events_from_frame(frame, strict=False), _old_from_frame(frame))
    assert events_from_frame(frame, strict=False).problems  # bad rows were reported


def test_frame_path_other_dtypes_equal_row_by_row():
    n = 6
    frame = pd.DataFrame({
        "event_id": pd.array([f"e{i}" for i in range(n - 1)] + [None], dtype="string"),
        "ticker": ["AAPL"] * n,
        "timestamp": pd.Series(pd.date_range("2022-03-10 09:00", periods=n, freq="D",
                                             tz="America/New_York")),
        "size": np.arange(n),
        "flag": [True, False] * (n // 2),
        "mixed": [1, "a", 2.5, None, pd.NaT, "b"],
    })
    frame.loc[2, "timestamp"] = pd.NaT
    _same(events_from_frame(frame, strict=False), _old_from_frame(frame))


def test_strict_error_lists_the_same_problems():
    frame = _messy()
    with pytest.raises(InputError) as new:
        events_from_frame(frame)
    old = _old_from_frame(frame)
    assert list(new.value.problems) == list(old.problems)


@pytest.mark.parametrize("text", [
    # plain (the fast reader), with a blank row of commas and bad values
    "event_id,ticker,timestamp,date,timing,score\n"
    "a,AAPL,2023-01-05T10:00:00-05:00,,,1.5\n"
    ",,,,,\n"
    "b,MSFT,,2023-01-06,pre,x\n"
    "c,IBM,2023-01-06 10:00,,,2\n"
    "d,BAD TICKER,,2023-13-01,later,3\n"
    "a,ZZZZ,,1800-01-01,post,\n",
    # quotes: the csv module
    'event_id,ticker,date,headline\n1,AAPL,2023-01-05,"a, b"\n2,MSFT,2023-01-06,plain\n',
    # ragged rows: the csv module and its message
    "event_id,ticker,date\n1,AAPL,2023-01-05\n2,MSFT\n",
    # non-ASCII digits and blanks
    "event_id,ticker,date\n1,AAPL,٢٠٢٣-01-05\n2,MSFT,2023-01-06\n\u3000,\u3000,\u3000\n",
])
def test_csv_fast_reader_equals_csv_module(tmp_path, text):
    path = tmp_path / "events.csv"
    path.write_text(text, encoding="utf-8")
    new = read_events(path, strict=False)
    header, rows, lines = cat._read_csv_rows(text, str(path))
    old = cat._catalogue_from_rows(header, rows, lines, str(path), False, [])
    _same(new, old)


def test_plain_split_matches_csv_module_rows():
    text = "a,b,c\n1,2,3\n , ,\n4,,6\n"
    header, columns, lines = cat._split_plain_csv(text)
    h2, rows, l2 = cat._read_csv_rows(text, "x")
    assert header == h2 and lines == l2
    assert [list(r) for r in zip(*columns, strict=True)] == rows
