"""What a run was made of: its command line and a SHA-256 of every input file.

``summary.json`` of a study records, beside the settings and the package versions,

``run``
    ``argv`` (the command line as a list, without the program name), ``command_line``
    (the same as one shell-quoted string, starting ``marketreact``), ``cwd`` (the
    folder relative paths are read from) and ``source_sha256`` (a digest of
    marketreact's own source files: it changes with the code, the version may not).
``input_files``
    One record per file the run read: ``role`` (``events``, ``prices``, ``factors``,
    ``confounders``, ``config``), ``path`` (absolute), ``sha256``, ``bytes``, the
    ``first`` and ``last`` date of the data used from it and, for price files, the
    ``tickers`` read from it. Only the price files of tickers actually loaded count.

:func:`changed_inputs` compares those records with the files as they are now, which
``marketreact replay`` reports before it reruns the study, and :func:`compare_tables`
finds the first differing cell of each CSV table of two results folders.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from marketreact._typing import StrPath

#: Bytes read at a time when hashing a file.
_BLOCK = 1 << 20


def sha256_file(path: StrPath) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def _day(value: Any) -> str | None:
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    return None if pd.isna(stamp) else stamp.date().isoformat()


def file_record(path: StrPath, role: str, *, first: Any = None, last: Any = None,
                tickers: Sequence[str] | None = None) -> dict[str, Any]:
    """The record of one input file: role, absolute path, SHA-256, size and date range.

    Parameters
    ----------
    path : str or path-like
        The file.
    role : str
        What it is to the run (``events``, ``prices``, ``factors`` ...).
    first, last : date-like, optional
        First and last date of the data used from it.
    tickers : sequence of str, optional
        Price files: the tickers read from it.
    """
    p = Path(os.path.abspath(path))
    record: dict[str, Any] = {"role": role, "path": str(p), "sha256": sha256_file(p),
                              "bytes": p.stat().st_size, "first": _day(first),
                              "last": _day(last)}
    if tickers is not None:
        record["tickers"] = sorted(set(tickers))
    return record


def _leaf_sources(source: Any) -> list[Any]:
    inner = getattr(source, "sources", None)
    if inner is None:
        return [source]
    return [leaf for s in inner for leaf in _leaf_sources(s)]


def _price_file(sources: Sequence[Any], ticker: str) -> Path | None:
    """The file a ticker's prices came from: the first source that holds it."""
    for source in sources:
        path_for = getattr(source, "path_for", None)
        if callable(path_for):
            found = path_for(ticker)
            if found is not None:
                return Path(found)
            continue
        if isinstance(getattr(source, "path", None), Path):  # one long file
            if ticker in getattr(source, "tickers", ()):
                return Path(source.path)
            continue
        store = getattr(source, "store", None)  # Yahoo: its cache file, when there is one
        if store is not None and hasattr(store, "path") and Path(store.path(ticker)).is_file():
            return Path(store.path(ticker))
    return None


def price_records(source: Any, frames: Mapping[str, pd.DataFrame]) -> list[dict[str, Any]]:
    """Records of the price files behind the frames a run used (one per file).

    Parameters
    ----------
    source : PriceSource
        The source the frames came from (``CsvSource``, ``LongCsvSource``,
        ``YahooSource`` or a chain of them).
    frames : mapping of str to pandas.DataFrame
        The price frames loaded, by ticker (``PriceFetch.frames``); their dates give
        each file's date range. Tickers with no file (Yahoo without a cache) are left
        out.
    """
    sources = _leaf_sources(source)
    by_file: dict[Path, dict[str, Any]] = {}
    for ticker, frame in frames.items():
        path = _price_file(sources, ticker)
        if path is None:
            continue
        dates = _dates(frame)
        slot = by_file.setdefault(path, {"tickers": [], "first": [], "last": []})
        slot["tickers"].append(str(ticker))
        if len(dates):
            slot["first"].append(dates.min())
            slot["last"].append(dates.max())
    return [file_record(path, "prices", first=min(v["first"]) if v["first"] else None,
                        last=max(v["last"]) if v["last"] else None, tickers=v["tickers"])
            for path, v in sorted(by_file.items())]


def _dates(frame: pd.DataFrame) -> pd.DatetimeIndex:
    if isinstance(frame.index, pd.DatetimeIndex):
        return frame.index.dropna()
    if "date" in frame:
        return pd.DatetimeIndex(pd.to_datetime(frame["date"], errors="coerce")).dropna()
    return pd.DatetimeIndex([])


def input_records(*, events: StrPath | None = None, event_dates: Any = None,
                  source: Any = None, frames: Mapping[str, pd.DataFrame] | None = None,
                  factors: Iterable[StrPath] = (), factor_dates: Any = None,
                  confounders: StrPath | None = None, confounder_dates: Any = None,
                  config: StrPath | None = None) -> list[dict[str, Any]]:
    """Records of every input file of a study (see the module docstring).

    Parameters
    ----------
    events : str or path-like, optional
        The catalogue, or a folder of EventStudyTools files (each file recorded).
    event_dates : array-like or list of array-like, optional
        The events' dates and timestamps (their range is the catalogue's).
    source, frames : optional
        The price source and the frames loaded from it (:func:`price_records`).
    factors : iterable of path-like
        Factor files.
    factor_dates : array-like, optional
        The dates of the factor table read from them.
    confounders : path-like, optional
        The confounders catalogue, with ``confounder_dates``.
    config : path-like, optional
        The settings file of the run.
    """
    out: list[dict[str, Any]] = []

    def span(dates: Any) -> tuple[Any, Any]:
        if dates is None:
            return None, None
        parts = dates if isinstance(dates, list | tuple) else [dates]
        days = []
        for part in parts:
            d = pd.to_datetime(pd.Series(part), errors="coerce")
            if getattr(d.dtype, "tz", None) is not None:
                d = d.dt.tz_convert(None)
            days.append(d.dropna().dt.normalize())
        d = pd.concat(days) if days else pd.Series([], dtype="datetime64[ns]")
        return (d.min(), d.max()) if len(d) else (None, None)

    if config is not None:
        out.append(file_record(config, "config"))
    if events is not None:
        first, last = span(event_dates)
        p = Path(events)
        files = sorted(f for f in p.iterdir() if f.is_file()) if p.is_dir() else [p]
        out += [file_record(f, "events", first=first, last=last) for f in files]
    if source is not None and frames:
        out += price_records(source, frames)
    first, last = span(factor_dates)
    out += [file_record(f, "factors", first=first, last=last) for f in factors]
    if confounders is not None:
        first, last = span(confounder_dates)
        out.append(file_record(confounders, "confounders", first=first, last=last))
    return out


def source_digest() -> str:
    """SHA-256 over marketreact's own source files (relative path and bytes of each ``.py``).

    The version number stays the same between releases; this digest changes with any
    edit of the code, so a replay can say whether the code that made a run changed.
    """
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def run_record(argv: Sequence[str], cwd: StrPath | None = None) -> dict[str, Any]:
    """The command line of a run, for ``summary.json``.

    Returns ``argv``, ``command_line`` (quoted for a shell), ``cwd`` and
    ``source_sha256`` (:func:`source_digest`).
    """
    args = [str(a) for a in argv]
    return {"argv": args, "command_line": shlex.join(["marketreact", *args]),
            "cwd": os.path.abspath(cwd if cwd is not None else os.getcwd()),
            "source_sha256": source_digest()}


def changed_inputs(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Input files that are gone or whose SHA-256 differs from the recorded one.

    Returns
    -------
    list of str
        One line per changed file: ``ROLE PATH: missing`` or ``... SHA-256 changed``.
    """
    lines = []
    for rec in records:
        path = Path(str(rec.get("path", "")))
        role = rec.get("role", "input")
        if not path.is_file():
            lines.append(f"{role} {path}: missing")
        elif sha256_file(path) != rec.get("sha256"):
            lines.append(f"{role} {path}: SHA-256 changed since the run")
    return lines


@dataclass(frozen=True)
class TableDifference:
    """The first difference between two runs' CSV tables.

    Attributes
    ----------
    file : str
        The CSV file's name.
    row : int or None
        1-based data row (the header is row 0); None when the file is missing or
        its header differs.
    column : str or None
        The column of the first differing cell.
    before, after : str
        What the first run and the rerun hold there.
    """

    file: str
    row: int | None
    column: str | None
    before: str
    after: str

    def __str__(self) -> str:
        if self.row is None and self.column is None:
            return f"{self.file}: {self.before} vs {self.after}"
        where = f"{self.file} row {self.row}" if self.row else f"{self.file} header"
        if self.column is not None:
            where += f", column {self.column}"
        return f"{where}: {self.before!r} before, {self.after!r} now"


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def first_difference(name: str, before: Path, after: Path) -> TableDifference | None:
    """The first cell where two CSV files differ (None when their bytes are equal)."""
    if not after.is_file():
        return TableDifference(name, None, None, "present", "missing in the rerun")
    if before.read_bytes() == after.read_bytes():
        return None
    a, b = _rows(before), _rows(after)
    header = a[0] if a else []
    for i in range(max(len(a), len(b))):
        if i >= len(a) or i >= len(b):
            return TableDifference(name, i, None, f"{len(a) - 1} rows", f"{len(b) - 1} rows")
        ra, rb = a[i], b[i]
        for j in range(max(len(ra), len(rb))):
            va = ra[j] if j < len(ra) else ""
            vb = rb[j] if j < len(rb) else ""
            if va != vb:
                column = header[j] if j < len(header) else f"#{j + 1}"
                return TableDifference(name, i, column, va, vb)
    return TableDifference(name, None, None, "same cells", "different bytes (line endings?)")


def compare_tables(first: StrPath, second: StrPath,
                   names: Iterable[str] | None = None) -> list[TableDifference]:
    """Compare the CSV tables of two results folders, file by file.

    Parameters
    ----------
    first, second : str or path-like
        The folders (the recorded run and its replay).
    names : iterable of str, optional
        The CSV files to compare (default: every ``*.csv`` of ``first``); a CSV file
        only ``second`` holds is a difference too.

    Returns
    -------
    list of TableDifference
        The first difference of each file that differs, in file-name order; empty
        when every table is identical byte for byte.
    """
    a, b = Path(first), Path(second)
    wanted = sorted(names) if names is not None else sorted(
        p.name for p in a.iterdir() if p.suffix == ".csv")
    out = [d for name in wanted if (d := first_difference(name, a / name, b / name))]
    extra = sorted(p.name for p in b.iterdir() if p.suffix == ".csv" and p.name not in wanted)
    out += [TableDifference(name, None, None, "missing", "written by the rerun")
            for name in extra]
    return out
