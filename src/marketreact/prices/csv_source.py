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

Imports: the ground floor and the other ``prices`` modules (frames, checks) only.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from marketreact._textio import check_regular_file, check_separator, decode_utf8
from marketreact._typing import StrPath
from marketreact.errors import InputError, InputProblem
from marketreact.prices.checks import describe_gaps, find_suspects
from marketreact.prices.frames import PRICE_COLUMNS, PriceFetch, PriceSuspect, standard_frame
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
#: No listed security trades above this; larger numbers are data errors (and would overflow
#: squared returns).
MAX_PRICE = 1e15
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
        # Special files (FIFOs, devices, dangling links, folders) named like a price file
        # are kept, after the regular files: their ticker then fails with the real cause
        # (check_price_file refuses them unread), not "no price file".
        candidates = sorted(
            (p for p in self.root.rglob("*") if p.suffix.lower() in _SUFFIX_RANK),
            key=lambda p: (not p.is_file(), _SUFFIX_RANK[p.suffix.lower()],
                           len(p.relative_to(self.root).parts), str(p)),
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
            Notes and suspect prices come from :func:`check_price_file`.
        """
        frames: dict[str, pd.DataFrame] = {}
        failures: dict[str, str] = {}
        notes: dict[str, tuple[InputProblem, ...]] = {}
        suspects: dict[str, tuple[PriceSuspect, ...]] = {}
        for ticker in track(list(dict.fromkeys(tickers)), "Reading price files"):
            path = self.path_for(ticker)
            if path is None:
                failures[ticker] = f"no price file for {ticker} under {self.root}"
                continue
            try:
                checked = check_price_file(path, self.column_map, start=start, end=end)
            except InputError as exc:
                failures[ticker] = str(exc)
                continue
            frames[ticker] = checked.frame
            if checked.notes:
                notes[ticker] = checked.notes
            if checked.suspects:
                suspects[ticker] = checked.suspects
        return PriceFetch(frames, failures, notes, suspects)


@dataclass(frozen=True)
class PriceFile:
    """A price file read and checked.

    Attributes
    ----------
    frame : pandas.DataFrame
        The standard price frame (sorted by date; cut to the span asked for).
    lines : pandas.Series
        Source line of each row, indexed by date (None for JSON without lines).
    field : str
        The file's name for the price column used (adjusted close, else close).
    notes : tuple of InputProblem
        Harmless problems and how they were handled.
    suspects : tuple of PriceSuspect
        Suspect prices (see :mod:`marketreact.prices.checks`).
    """

    frame: pd.DataFrame
    lines: pd.Series
    field: str
    notes: tuple[InputProblem, ...] = ()
    suspects: tuple[PriceSuspect, ...] = ()


_MISSING = ("", "null", "NaN", "nan", "None", "NA", "N/A", "-")
#: Rows dated more than this many days after today are refused.
FUTURE_DAYS = 1


#: Largest price file of one ticker read (30 years of daily rows are under 1 MB).
MAX_PRICE_FILE_BYTES = 256 * 1024**2


def read_bounded(path: Path, what: str, limit: int) -> bytes:
    """Read a price file whole after refusing what must not be read.

    FIFOs, devices (``/dev/zero`` behind a symlink) and folders are refused before a
    byte is read (:func:`marketreact._textio.check_regular_file`), as is a file larger
    than ``limit``; the read itself stops at ``limit + 1`` bytes, so a file that grows
    or lies about its size is refused too, never read without end.
    """
    size = check_regular_file(path, what)
    if size > limit:
        raise InputError([InputProblem(str(path), None, None, None,
                                       f"is {size / 1024**2:,.1f} MB, more than the "
                                       f"{limit / 1024**2:,.1f} MB a {what} may be; "
                                       "refused unread")])
    try:
        with path.open("rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise InputError([InputProblem(str(path), None, None, None,
                                       f"cannot be read ({exc.strerror or exc})")]) from None
    if len(raw) > limit:
        raise InputError([InputProblem(str(path), None, None, None,
                                       f"is larger than the {limit / 1024**2:,.1f} MB a "
                                       f"{what} may be")])
    return raw


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
    return check_price_file(path, column_map).frame


def check_price_file(path: StrPath, column_map: Mapping[str, str] | None = None, *,
                     start: pd.Timestamp | None = None, end: pd.Timestamp | None = None,
                     today: pd.Timestamp | None = None) -> PriceFile:
    """Read one price file, check it, and say what was found.

    Refused (:class:`InputError` naming file, line and field): an empty file or
    one without rows, a file that is not UTF-8 or not comma-separated, a
    missing date or price column, a value that is not a date or a number, a
    date that appears twice, a negative price, a date in the future.

    Accepted with a note: rows out of date order (sorted), zero prices (taken
    as missing), runs of rows without a price, long gaps between rows.

    Flagged as suspect: jumps that look like unadjusted splits or bad prints.

    Parameters
    ----------
    path : str or path-like
        CSV or JSON file in one of the layouts of this module.
    column_map : mapping, optional
        Standard column name -> the file's column name.
    start, end : pandas.Timestamp, optional
        Span of dates wanted (inclusive): the frame is cut to it, and notes and
        suspects are about it. The whole file is checked for errors.
    today : pandas.Timestamp, optional
        The date after which rows are in the future (default: today, UTC).

    Returns
    -------
    PriceFile
    """
    path = Path(path)
    source = str(path)
    if not path.exists() and not path.is_symlink():
        raise InputError([InputProblem(source, None, None, None, "price file not found")])
    text = decode_utf8(read_bounded(path, "price file", MAX_PRICE_FILE_BYTES), source)
    if not text.strip():
        raise InputError([InputProblem(source, 1, None, None, "price file is empty")])
    if path.suffix.lower() in {".json", ".jsonl"}:
        raw, line_of = _read_json(text, source)
    else:
        raw, line_of = _read_csv(text, source)
    mapping = _map_columns(list(raw.columns), column_map or {}, source)
    if raw.empty:
        raise InputError([InputProblem(source, 1, None, None,
                                       "price file has a header but no rows")])
    data = pd.DataFrame({std: raw[col] for std, col in mapping.items()})
    problems: list[InputProblem] = []

    def line(i: int) -> int | None:
        value = line_of[i]
        return None if value is None else int(value)

    date_text = data["date"].astype(str).str.strip()
    dates = pd.to_datetime(date_text.str.slice(0, 10).where(
        date_text.str.match(r"^\d{4}-\d{2}-\d{2}")), format="%Y-%m-%d", errors="coerce")
    for i in np.flatnonzero(dates.isna().to_numpy())[:5]:
        problems.append(InputProblem(source, line(i), mapping["date"], str(date_text.iat[i]),
                                     "not a date (YYYY-MM-DD)"))
    for col in ("close", "adj_close", "open", "high", "low", "volume"):
        if col not in data:
            continue
        text_col = data[col].astype(str).str.strip()
        blank = text_col.isin(_MISSING).to_numpy()
        values = pd.to_numeric(text_col.where(~blank), errors="coerce")
        bad = values.isna().to_numpy() & ~blank
        for i in np.flatnonzero(bad)[:5]:
            problems.append(InputProblem(source, line(i), mapping[col], str(text_col.iat[i]),
                                         "not a number"))
        infinite = ~np.isfinite(values.to_numpy(dtype=float)) & ~values.isna().to_numpy()
        for i in np.flatnonzero(infinite)[:5]:
            problems.append(InputProblem(source, line(i), mapping[col], str(text_col.iat[i]),
                                         "not a finite number"))
        if col != "volume":
            negative = (values < 0).to_numpy()
            for i in np.flatnonzero(negative)[:5]:
                problems.append(InputProblem(source, line(i), mapping[col],
                                             str(text_col.iat[i]), "negative price"))
            huge = (values > MAX_PRICE).to_numpy() & np.isfinite(values.to_numpy(dtype=float))
            for i in np.flatnonzero(huge)[:5]:
                problems.append(InputProblem(source, line(i), mapping[col],
                                             str(text_col.iat[i]),
                                             f"implausible price (above {MAX_PRICE:.0e})"))
        data[col] = values
    if problems:
        raise InputError(problems)
    today = (pd.Timestamp(today) if today is not None
             else pd.Timestamp.now(tz="UTC").tz_localize(None)).normalize()
    future = (dates > today + pd.Timedelta(days=FUTURE_DAYS)).to_numpy()
    if future.any():
        i = int(np.flatnonzero(future)[0])
        raise InputError([InputProblem(
            source, line(i), mapping["date"], str(date_text.iat[i]),
            f"date is in the future (today is {today.date()}); "
            f"{int(future.sum())} such row(s)")])
    data.index = pd.DatetimeIndex(dates)
    data = data.drop(columns="date")
    lines = pd.Series(line_of, index=data.index, dtype=object)
    dup = data.index.duplicated(keep=False)
    if dup.any():
        where = np.flatnonzero(dup)
        first_date = data.index[where[0]]
        same = where[data.index[where] == first_date]
        raise InputError([InputProblem(
            source, line(int(same[1])), mapping["date"], str(date_text.iat[int(same[1])]),
            f"date appears more than once (lines "
            f"{', '.join(str(line(int(k))) for k in same)}); "
            f"{int(len(where) - data.index[where].nunique())} duplicate row(s)")])
    notes: list[InputProblem] = []
    if not data.index.is_monotonic_increasing:
        order = data.index.to_numpy()
        i = int(np.flatnonzero(order[1:] < order[:-1])[0]) + 1
        notes.append(InputProblem(source, line(i), mapping["date"], str(date_text.iat[i]),
                                  "dates are not in ascending order; rows sorted"))
        data = data.sort_index()
        lines = lines.loc[data.index]
    frame = standard_frame(data)
    if start is not None:
        frame = frame.loc[frame.index >= pd.Timestamp(start)]
    if end is not None:
        frame = frame.loc[frame.index <= pd.Timestamp(end)]
    field = mapping.get("adj_close", mapping.get("close", "close"))
    if frame["adj_close"].isna().all() and "close" in mapping:
        field = mapping["close"]
    price = frame["adj_close"].fillna(frame["close"])
    zero = (price == 0).to_numpy()
    if zero.any():
        d = frame.index[zero][0]
        notes.append(InputProblem(source, _line_at(lines, d), field, "0",
                                  f"{int(zero.sum())} row(s) with a zero price (first on "
                                  f"{d.date()}) taken as missing"))
        frame = frame.copy()
        frame.loc[zero, ["close", "adj_close"]] = np.nan
    if frame.empty:
        first, last = data.index.min(), data.index.max()
        if start is not None and pd.Timestamp(start) > last:
            why = f"no rows on or after {pd.Timestamp(start).date()}"
        elif end is not None and pd.Timestamp(end) < first:
            why = f"no rows on or before {pd.Timestamp(end).date()}"
        else:
            why = (f"no rows between {pd.Timestamp(start or first).date()} and "
                   f"{pd.Timestamp(end or last).date()}")
        raise InputError([InputProblem(
            source, None, mapping["date"], None,
            f"{why} (the file covers {first.date()} to {last.date()})")])
    if not np.isfinite(price.to_numpy(dtype=float)).any():
        raise InputError([InputProblem(source, None, field, None,
                                       "no row has a price" + ("" if start is None and end is None
                                                               else " in the span needed"))])
    notes.extend(describe_gaps(frame, source, field=field, lines=lines))
    suspects = find_suspects(frame, source, field=field, lines=lines)
    return PriceFile(frame, lines, field, tuple(notes), suspects)


def _line_at(lines: pd.Series, date: pd.Timestamp) -> int | None:
    value = lines.get(date)
    return None if value is None or pd.isna(value) else int(value)


def _read_csv(text: str, source: str) -> tuple[pd.DataFrame, list[int | None]]:
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                          skipinitialspace=True, skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise InputError([InputProblem(source, 1, None, None,
                                       "price file is empty")]) from None
    except pd.errors.ParserError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise InputError([InputProblem(source, int(found.group(1)) if found else None, None,
                                       None, f"cannot read as CSV: {exc}".strip())]) from None
    check_separator([str(c) for c in raw.columns], source)
    raw.columns = [str(c).strip() for c in raw.columns]
    raw = raw.fillna("")
    lines = np.arange(len(raw)) + 2
    filled = (raw.apply(lambda c: c.astype(str).str.strip()) != "").any(axis=1).to_numpy()
    raw = raw.loc[filled].reset_index(drop=True)
    return raw, [int(x) for x in lines[filled]]


def _read_json(text: str, source: str) -> tuple[pd.DataFrame, list[int | None]]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError([InputProblem(source, exc.lineno, None, None,
                                       f"not valid JSON ({exc.msg})")]) from None
    except RecursionError:  # [[[[...]]]] thousands deep: the parser's stack ends first
        raise InputError([InputProblem(source, None, None, None,
                                       "JSON nested too deep (a price file is a list of "
                                       "{date, close, ...} records)")]) from None
    records = obj.get("data") if isinstance(obj, dict) else obj
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise InputError([InputProblem(source, None, "data", None,
                                       "expected a list of {date, close, ...} records")])
    frame = pd.DataFrame.from_records(records)
    frame = frame.astype(str).replace({"None": "", "nan": ""})
    # Line of each record: where its "date" key is written (when there is one per record).
    found = [text.count("\n", 0, m.start()) + 1
             for m in re.finditer(r'"date"\s*:', text, flags=re.IGNORECASE)]
    lines: list[int | None] = (list(found) if len(found) == len(records)
                               else [None] * len(records))
    return frame, lines


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
