"""The Arrow fast paths of the catalogue checks answer as Python's ``re`` does.

Reference: Python's ``re`` (``pattern.match`` / ``pattern.search``) and the year read as
before issue 17 (``str.match(r"^\\d{4}")`` then ``pandas.to_numeric``), value by value on
text with every ASCII whitespace character, non-ASCII whitespace and digits, and years
in and out of range.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from marketreact.events import catalogue as cat

VALUES = [
    "", "AAPL", "AA PL", "AA\tPL", "AA\x0bPL", "AA\x0cPL", "AA\x1cPL", "AA\x1fPL", "AA\x85PL",
    "AA\u00a0PL", "AA\u3000PL", "BBCA.JK", "ÄPFEL", "2023-12-05T10:30:00+07:00",
    "2023-12-05T10:30:00 +07:00", "2023-12-05T10:30:00\x0b+07:00",
    "2023-12-05T10:30:00\u00a0+07:00", "2023-12-05T10:30:00Z", "2023-12-05t10:30:00z",
    "2023-12-05 10:30", "2023-12-05T10:30:00.123-0500", "٢٠٢٣-12-05T10:30:00Z",
    "2023-12-05", "1899-01-01", "2101-01-01", "2100-12-31", "1900-01-01", "0000-01-01",
    "20x3-01-01", "１２３４-01-01", "٢٠٢٣-01-01", "9999", "20", None,
]


def _text() -> pd.Series:
    return pd.Series(VALUES, dtype="str").fillna("")


def test_matches_agree_with_python_re() -> None:
    text = _text()
    for pattern in (cat._WITH_OFFSET, cat._NAIVE, cat._ISO_DATE):
        expected = [bool(pattern.match(v)) for v in text]
        np.testing.assert_array_equal(cat._matches(text, pattern), expected, err_msg=pattern)
    expected = [bool(re.search(r"\s", v)) for v in text]
    np.testing.assert_array_equal(cat._matches(text, cat._SPACE, search=True), expected)


def test_year_in_range_agrees_with_the_previous_reading() -> None:
    text = _text()
    year = pd.to_numeric(text.str.slice(0, 4).where(text.str.match(r"^\d{4}"), None),
                         errors="coerce")
    expected = (year.isna() | ((year >= cat.YEARS[0]) & (year <= cat.YEARS[1]))).to_numpy()
    np.testing.assert_array_equal(cat._year_in_range(text), expected)
    np.testing.assert_array_equal(cat._year_in_range(text.astype(object)), expected)


PLAIN_CSV = [
    "a,b\n1,2\n3,4\n", "a,b\n1,2\n , \n3,4", "a,b\n1,2\n,\n3,4\n", "a,b\n1,2\n\u00a0,\n3,4\n",
    "a,b\n1,2\n\n3,4\n", "a,b\n1,2\n3,4\n\n", "a,b\n1,2,3\n", "a,b\n\t,\x0b\n1,2", "a\n1\n",
    "a,b,c\n1,2,3\nx,y,z", "a,b\n1,2\n,", "a,b\n,\n,\n", "a,b\nÄ,ö\n\u3000,\n",
]


def test_plain_csv_split_agrees_with_the_csv_module() -> None:
    """Reference: Python's ``csv`` reader (``_read_csv_rows``), columns of its rows."""
    for text in PLAIN_CSV:
        fast = cat._split_plain_csv(text)
        if fast is None:  # the csv-module reader takes it (ragged rows, empty last line)
            continue
        header, rows, lines = cat._read_csv_rows(text, "x.csv")
        assert fast[0] == header, text
        assert fast[1] == [list(col) for col in zip(*rows, strict=True)] or (
            not rows and all(c == [] for c in fast[1])), text
        assert fast[2] == lines, text
