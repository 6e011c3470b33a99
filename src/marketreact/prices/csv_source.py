"""A price source reading a folder of per-ticker files.

Layouts read (detected from the header):

* IDX panel files: ``date,open,high,low,close,adj_close,volume,...``;
* yfinance CSV exports: ``Date,Open,High,Low,Close,Adj Close,Volume``;
* close-only files: ``Date,Close`` (taken as already adjusted);
* stock-db JSON: ``{"ticker": ..., "data": [{"date", "open", ...}, ...]}`` or a
  plain list of such records;
* anything else through a column map (``{"date": "Datum", "close": "Schluss"}``).

File names are the ticker (``GOTO.JK.csv``); an index ticker's caret is
dropped (``^JKSE`` -> ``JKSE.csv``). Sub-folders are searched; when a ticker
has several files, CSV beats JSON, then the shallower path, then the name.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from marketreact._typing import StrPath
from marketreact.errors import InputError, InputProblem
from marketreact.prices.frames import PRICE_COLUMNS, PriceFetch, standard_frame
from marketreact.progress import track

log = logging.getLogger(__name__)

_ALIASES = {
    "date": ("date", "datetime", "timestamp", "time"),
    "open": ("open",),
    "high": ("high",),
    "low": ("low",),
    "close": ("close", "price", "last"),
    "adj_close": ("adj_close", "adj close", "adjclose", "adjusted_close", "adjusted close"),
    "volume": ("volume", "vol"),
}
_MISSING_TEXT = ("", "null", "NaN", "nan", "None")
_SUFFIX_RANK = {".csv": 0, ".json": 1, ".jsonl": 1}


def _ticker_key(name: str) -> str:
    return name.strip().lstrip("^").upper()


class CsvSource:
    """Prices from a folder of per-ticker CSV or JSON files.

    Parameters
    ----------
    root : str or path-like
        Folder to search (recursively).
    column_map : mapping, optional
        Standard column name -> the file's column name, for other layouts.
    """

    def __init__(self, root: StrPath, column_map: Mapping[str, str] | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"price folder not found: {self.root}")
        self.column_map = dict(column_map or {})
        self.name = f"csv:{self.root}"
        files: dict[str, Path] = {}
        candidates = sorted(
            (p for p in self.root.rglob("*") if p.suffix.lower() in _SUFFIX_RANK and p.is_file()),
            key=lambda p: (_SUFFIX_RANK[p.suffix.lower()], len(p.relative_to(self.root).parts),
                           str(p)),
        )
        for path in candidates:
            files.setdefault(_ticker_key(path.stem), path)
        self._files = files

    def __repr__(self) -> str:
        return f"CsvSource({str(self.root)!r})"

    @property
    def tickers(self) -> list[str]:
        """Tickers that have a file."""
        return sorted(self._files)

    def path_for(self, ticker: str) -> Path | None:
        """Return the file that holds ``ticker``, or None."""
        return self._files.get(_ticker_key(ticker))

    def fetch(self, tickers: Sequence[str], start: pd.Timestamp | None = None,
              end: pd.Timestamp | None = None) -> PriceFetch:
        """Read the prices of ``tickers`` between ``start`` and ``end`` (inclusive).

        Returns
        -------
        PriceFetch
            Frames by ticker; a ticker without a file or with an unreadable
            file is a failure whose reason names the file, line and field.
        """
        frames: dict[str, pd.DataFrame] = {}
        failures: dict[str, str] = {}
        for ticker in track(list(dict.fromkeys(tickers)), "Reading price files"):
            path = self.path_for(ticker)
            if path is None:
                failures[ticker] = f"no price file for {ticker} under {self.root}"
                continue
            try:
                frame = read_price_file(path, self.column_map)
            except InputError as exc:
                failures[ticker] = str(exc)
                continue
            if start is not None:
                frame = frame.loc[frame.index >= pd.Timestamp(start)]
            if end is not None:
                frame = frame.loc[frame.index <= pd.Timestamp(end)]
            frames[ticker] = frame
        return PriceFetch(frames, failures)


def read_price_file(path: StrPath, column_map: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Read one price file into a standard frame.

    Parameters
    ----------
    path : str or path-like
        CSV or JSON file in one of the layouts of this module.
    column_map : mapping, optional
        Standard column name -> the file's column name.

    Returns
    -------
    pandas.DataFrame
        A standard price frame (see :mod:`marketreact.prices.frames`).

    Raises
    ------
    InputError
        Naming the file, line and field of the first problems found.
    """
    path = Path(path)
    source = str(path)
    if path.suffix.lower() in {".json", ".jsonl"}:
        raw = _read_json(path)
        first_line = 1
    else:
        try:
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True,
                              encoding="utf-8-sig")
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise InputError([InputProblem(source, None, None, None,
                                           f"cannot read as CSV: {exc}")]) from None
        first_line = 2
    mapping = _map_columns(list(raw.columns), column_map or {}, source)
    data = pd.DataFrame({std: raw[col] for std, col in mapping.items()})
    problems: list[InputProblem] = []
    dates = pd.to_datetime(data["date"].astype(str).str.slice(0, 10), format="%Y-%m-%d",
                           errors="coerce")
    for i in dates.index[dates.isna()][:5]:
        problems.append(InputProblem(source, int(i) + first_line, mapping["date"],
                                     str(data.at[i, "date"]), "not a date (YYYY-MM-DD)"))
    for col in ("close", "adj_close", "open", "high", "low", "volume"):
        if col not in data:
            continue
        text = data[col].astype(str).str.strip()
        values = pd.Series(pd.to_numeric(text.where(~text.isin(_MISSING_TEXT)),
                                         errors="coerce"), index=text.index)
        bad = values.isna() & ~text.isin(_MISSING_TEXT)
        for i in values.index[bad][:5]:
            problems.append(InputProblem(source, int(i) + first_line, mapping[col],
                                         str(data.at[i, col]), "not a number"))
        data[col] = values
    if problems:
        raise InputError(problems)
    data.index = pd.DatetimeIndex(dates)
    data = data.drop(columns="date")
    dup = data.index.duplicated(keep=False)
    if dup.any():
        where = [int(i) + first_line for i in range(len(data)) if dup[i]][:2]
        raise InputError([InputProblem(source, where[0], mapping["date"],
                                       str(data.index[dup][0].date()),
                                       f"date appears more than once (lines {where})")])
    if not data.index.is_monotonic_increasing:
        log.info("%s: dates not in order; sorted", source)
        data = data.sort_index()
    return standard_frame(data)


def _read_json(path: Path) -> pd.DataFrame:
    source = str(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise InputError([InputProblem(source, line, None, None,
                                       f"not valid JSON: {exc}")]) from None
    records = obj.get("data") if isinstance(obj, dict) else obj
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise InputError([InputProblem(source, None, "data", None,
                                       "expected a list of {date, close, ...} records")])
    frame = pd.DataFrame.from_records(records)
    return frame.astype(str).replace("None", "")


def _map_columns(columns: list[str], column_map: Mapping[str, str],
                 source: str) -> dict[str, str]:
    lowered = {c.strip().lower(): c for c in columns}
    mapping: dict[str, str] = {}
    for std in ("date", *PRICE_COLUMNS):
        if std in column_map:
            if column_map[std] not in columns:
                raise InputError([InputProblem(source, 1, column_map[std], None,
                                               f"mapped column for {std!r} is not in the file")])
            mapping[std] = column_map[std]
            continue
        for alias in _ALIASES[std]:
            if alias in lowered:
                mapping[std] = lowered[alias]
                break
    missing = [c for c in ("date",) if c not in mapping]
    if "close" not in mapping and "adj_close" not in mapping:
        missing.append("close")
    if missing:
        raise InputError([InputProblem(source, 1, m, None,
                                       f"no {m} column (columns: {', '.join(columns)})")
                          for m in missing])
    return mapping
