"""A price source reading one long-format file holding many tickers.

Layout: one row per ticker and date, with a ticker column, e.g.
``date,ticker,open,high,low,close,volume`` (the mag-7 file in
``shared/data/news``). Column names are matched like :mod:`csv_source`
(``Date``/``datetime``, ``Adj Close``, ...); the ticker column may be called
``ticker``, ``symbol`` or ``code``. The file is read once and kept in memory.

Whatever the file's prices are adjusted for is what the frames hold: a file
without an adjusted-close column gives ``adj_close = close`` (the mag-7 file
is split- but not dividend-adjusted, so its returns leave out dividends).

Imports: the ground floor and the other ``prices`` modules (frames, csv_source) only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from marketreact._textio import check_regular_file
from marketreact._typing import StrPath
from marketreact.errors import InputError, InputProblem
from marketreact.prices.csv_source import _map_columns
from marketreact.prices.frames import PriceFetch, standard_frame

log = logging.getLogger(__name__)

TICKER_COLUMNS = ("ticker", "symbol", "code")
#: Largest long-format price file read (all tickers in one file; read as text columns).
MAX_LONG_FILE_BYTES = 1024**3
_NULLS = ("", "null", "NaN", "nan", "None")


def is_long_file(path: StrPath) -> bool:
    """Tell whether a CSV file's header has a ticker column (a long layout)."""
    path = Path(path)
    if not path.is_file() or path.suffix.lower() != ".csv":  # a FIFO or device is no file
        return False
    with path.open(encoding="utf-8-sig", errors="replace") as fh:
        header = fh.readline(64 * 1024)  # a header, not a 3 GB line
    names = {h.strip().lower() for h in header.split(",")}
    return any(c in names for c in TICKER_COLUMNS)


class LongCsvSource:
    """Prices of many tickers from one long-format CSV file.

    Parameters
    ----------
    path : str or path-like
        The CSV file (``date,ticker,open,high,low,close,volume`` or similar).
    column_map : mapping, optional
        Standard column name -> the file's column name (``"ticker"`` included).

    Raises
    ------
    InputError
        When the file is missing or a date, number or (ticker, date) pair is
        bad; the message names the file, line and field.
    """

    def __init__(self, path: StrPath, column_map: Mapping[str, str] | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"price file not found: {self.path}")
        self.name = f"csv:{self.path}"
        self._frames = read_long_file(self.path, column_map)

    def __repr__(self) -> str:
        return f"LongCsvSource({str(self.path)!r})"

    @property
    def tickers(self) -> list[str]:
        """Tickers in the file."""
        return sorted(self._frames)

    def fetch(self, tickers: Sequence[str], start: pd.Timestamp | None = None,
              end: pd.Timestamp | None = None) -> PriceFetch:
        """Return the prices of ``tickers`` between ``start`` and ``end`` (inclusive)."""
        frames: dict[str, pd.DataFrame] = {}
        failures: dict[str, str] = {}
        for ticker in dict.fromkeys(tickers):
            key = ticker.strip().upper()
            if key not in self._frames:
                failures[ticker] = f"{ticker} is not in {self.path}"
                continue
            frame = self._frames[key]
            if start is not None:
                frame = frame.loc[frame.index >= pd.Timestamp(start)]
            if end is not None:
                frame = frame.loc[frame.index <= pd.Timestamp(end)]
            frames[ticker] = frame.copy()
        return PriceFetch(frames, failures)


def read_long_file(path: StrPath,
                   column_map: Mapping[str, str] | None = None) -> dict[str, pd.DataFrame]:
    """Read a long-format price file into standard frames by ticker.

    Parameters
    ----------
    path : str or path-like
        CSV with a ticker column.
    column_map : mapping, optional
        Standard column name -> the file's column name.

    Returns
    -------
    dict of str to pandas.DataFrame
        Standard price frames (see :mod:`marketreact.prices.frames`), keyed by
        the upper-cased ticker.
    """
    path = Path(path)
    source = str(path)
    column_map = dict(column_map or {})
    # refused unread: FIFOs, devices, folders, and files over the stated limit (pandas'
    # C parser then streams the file; nothing holds it whole as text)
    check_regular_file(path, "long price file", max_bytes=MAX_LONG_FILE_BYTES)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True,
                          encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError([InputProblem(source, None, None, None,
                                       f"cannot read as CSV: {exc}")]) from None
    lowered = {c.strip().lower(): c for c in raw.columns}
    ticker_col = column_map.pop("ticker", None) or next(
        (lowered[c] for c in TICKER_COLUMNS if c in lowered), None)
    if ticker_col is None or ticker_col not in raw.columns:
        raise InputError([InputProblem(source, 1, "ticker", None,
                                       "no ticker column (expected ticker, symbol or code)")])
    mapping = _map_columns([c for c in raw.columns if c != ticker_col], column_map, source)
    problems: list[InputProblem] = []
    tickers = raw[ticker_col].str.strip().str.upper()
    for i in tickers.index[tickers == ""][:5]:
        problems.append(InputProblem(source, int(i) + 2, ticker_col, "", "ticker is empty"))
    dates = pd.to_datetime(raw[mapping["date"]].str.slice(0, 10), format="%Y-%m-%d",
                           errors="coerce")
    for i in dates.index[dates.isna()][:5]:
        problems.append(InputProblem(source, int(i) + 2, mapping["date"],
                                     str(raw.at[i, mapping["date"]]), "not a date (YYYY-MM-DD)"))
    data = pd.DataFrame(index=raw.index)
    for std, col in mapping.items():
        if std == "date":
            continue
        text = raw[col].str.strip()
        values = pd.to_numeric(text.where(~text.isin(_NULLS), None), errors="coerce")
        bad = values.isna() & ~text.isin(_NULLS)
        for i in values.index[bad][:5]:
            problems.append(InputProblem(source, int(i) + 2, col, str(raw.at[i, col]),
                                         "not a number"))
        data[std] = values
    dup = pd.Series(list(zip(tickers, dates, strict=True))).duplicated(keep="first").to_numpy()
    for i in raw.index[dup][:5]:
        problems.append(InputProblem(source, int(i) + 2, mapping["date"],
                                     str(raw.at[i, mapping["date"]]),
                                     f"date appears more than once for {tickers[i]}"))
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise InputError(problems)
    data.index = pd.DatetimeIndex(dates)
    frames: dict[str, pd.DataFrame] = {}
    for ticker, rows in data.groupby(tickers.to_numpy(), sort=True):
        frames[str(ticker)] = standard_frame(rows.sort_index())
    log.info("%s: %d tickers", source, len(frames))
    return frames
