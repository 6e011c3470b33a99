"""Writing results to disk: CSV tables and a JSON summary, each written atomically."""

from __future__ import annotations

import csv
import json
import logging
import platform
import re
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from marketreact._atomic import atomic_open
from marketreact._typing import StrPath
from marketreact.render.figures import FIGURE_DPI

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

_VERSIONED = ("marketreact", "numpy", "pandas", "scipy", "statsmodels", "exchange_calendars",
              "yfinance")


def atomic_write(path: StrPath, write: Callable[[IO[str]], None]) -> Path:
    """Write a text file through a temporary file renamed into place.

    Parameters
    ----------
    path : str or path-like
        Target file.
    write : callable
        Called with the open temporary file.
    """
    with atomic_open(path, "w", newline="") as fh:
        write(fh)
    return Path(path)


#: First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_GUARD = {"on": True}


def guard_formulas(on: bool = True) -> None:
    """Turn the CSV formula guard on (the default) or off for every later :func:`write_csv`.

    With the guard on, a text cell that starts with ``= + - @``, a tab or a carriage
    return gets a leading ``'`` so that a spreadsheet shows it as text instead of running
    it (the OWASP rule for CSV injection). Numbers are never touched. The CLI turns it off
    with ``--raw-csv``.
    """
    _GUARD["on"] = bool(on)


def neutralise_formulas(values: pd.Series) -> pd.Series:
    """Prefix ``'`` to text cells that a spreadsheet would run as a formula."""
    try:  # the .str accessor gives NaN for cells that are not text (numbers stay numbers)
        starts = values.str.startswith(FORMULA_STARTS)
    except AttributeError:  # no text at all in the column
        return values
    risky = starts.fillna(False).to_numpy(dtype=bool)
    if not risky.any():
        return values
    out = values.astype(object).copy()
    out[risky] = "'" + values[risky].astype(str)
    return out


def write_csv(frame: pd.DataFrame, path: StrPath) -> Path:
    """Write ``frame`` as CSV (no index, ISO dates, floats exactly) atomically.

    Floats are written in their shortest exact form (reading the file back gives
    the same doubles), missing values as empty cells, and a text cell is quoted
    only when it holds a comma, a quote or a line break (as pandas and the csv
    module do). The rows are formatted by Arrow's compute kernels in blocks of
    :data:`CSV_BLOCK_ROWS`, so the time grows linearly with the rows and the
    memory by one block; a column Arrow cannot type (mixed Python objects) sends
    the table to pandas instead, with the same layout. Text cells that would run
    as spreadsheet formulas are neutralised unless the guard is off
    (:func:`guard_formulas`).
    """
    out = frame.copy(deep=False)
    for col in out.columns:
        values = out[col]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            out[col] = values.map(lambda v: v.isoformat() if pd.notna(v) else None)
        elif pd.api.types.is_datetime64_any_dtype(values):
            out[col] = values.dt.strftime("%Y-%m-%d")
        elif isinstance(values.dtype, pd.CategoricalDtype):
            out[col] = values.astype(object)
        elif pd.api.types.is_bool_dtype(values):
            out[col] = values.map({True: "True", False: "False"})
        if _GUARD["on"] and (pd.api.types.is_object_dtype(out[col])
                             or pd.api.types.is_string_dtype(out[col])):
            out[col] = neutralise_formulas(out[col])
    header = ",".join(_quote_text(str(c)) for c in out.columns) + "\n"
    try:  # block by block into the temporary file; an error leaves no file behind
        with atomic_open(path, "wb") as fh:
            fh.write(header.encode("utf-8"))
            for lo in range(0, len(out), CSV_BLOCK_ROWS):
                fh.write(_csv_lines(out.iloc[lo:lo + CSV_BLOCK_ROWS]))
        return Path(path)
    except (ImportError, TypeError, ValueError, NotImplementedError) as exc:  # Arrow* errors
        log.debug("Arrow could not format %s (%s); writing with pandas", path, exc)
    # the csv module quotes "\n" but not a bare "\r": then every text cell is quoted
    quoting = csv.QUOTE_NONNUMERIC if _has_carriage_return(out) else csv.QUOTE_MINIMAL
    return atomic_write(path, lambda fh: out.to_csv(fh, index=False, lineterminator="\n",
                                                    quoting=quoting))


def _has_carriage_return(frame: pd.DataFrame) -> bool:
    for col in frame.columns:
        values = frame[col]
        if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
            try:
                if values.str.contains("\r", regex=False).fillna(False).to_numpy(bool).any():
                    return True
            except AttributeError:
                continue
    return False


#: Rows formatted at a time by :func:`write_csv`.
CSV_BLOCK_ROWS = 200_000


def _quote_text(text: str) -> str:
    """One text cell as the csv module's minimal quoting writes it."""
    if not _NEEDS_QUOTES.search(text):
        return text
    return '"' + text.replace('"', '""') + '"'


_NEEDS_QUOTES = re.compile(r'[",\r\n]')


def _csv_lines(block: pd.DataFrame) -> bytes:
    """The CSV lines of ``block`` (no header), formatted column by column with Arrow."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text_type = pa.large_string()  # 64-bit offsets: any block size

    def _scalar(text: str) -> pa.Scalar:
        return pa.scalar(text, text_type)

    cells = []
    for name in block.columns:
        arr = pa.Array.from_pandas(block[name])  # NaN becomes null: an empty cell
        if isinstance(arr, pa.ChunkedArray):  # pandas' Arrow-backed text columns
            arr = arr.combine_chunks()
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            arr = arr.cast(text_type)
            quote = pc.match_substring_regex(arr, r'[",\r\n]')
            inner = pc.replace_substring(arr, '"', '""')
            quoted = pc.binary_join_element_wise(_scalar('"'), inner, _scalar('"'), _scalar(""))
            text = pc.if_else(quote, quoted, arr)
        elif pa.types.is_null(arr.type):
            text = pa.nulls(len(arr), text_type)
        elif (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)
              or pa.types.is_boolean(arr.type)):
            text = pc.cast(arr, text_type)
        else:
            raise TypeError(f"column {name!r} of type {arr.type}")
        cells.append(pc.fill_null(text, _scalar("")))
    if not cells:
        return b"\n" * len(block)
    if len(cells) == 1:  # an empty cell alone on its line is written "" (as the csv module does)
        cells[0] = pc.if_else(pc.equal(cells[0], _scalar("")), _scalar('""'), cells[0])
    lines = pc.binary_join_element_wise(*cells, _scalar(","))
    joined = pc.binary_join_element_wise(lines, _scalar(""), _scalar("\n"))  # line + "\n"
    if isinstance(joined, pa.ChunkedArray):
        joined = joined.combine_chunks()
    if len(joined) == 0:
        return b""
    _, offsets, data = joined.buffers()
    at = np.frombuffer(offsets, dtype=np.int64)[joined.offset:joined.offset + len(joined) + 1]
    return data.to_pybytes()[int(at[0]):int(at[-1])]


def write_json(obj: Any, path: StrPath) -> Path:
    """Write ``obj`` as indented JSON atomically."""
    return atomic_write(path, lambda fh: json.dump(obj, fh, indent=2, default=str))


def versions() -> dict[str, str]:
    """Versions of Python and the packages that shape the numbers."""
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def save_figure(fig: Figure, path: StrPath) -> Path:
    """Write ``fig`` as PNG through a temporary file renamed into place.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    path : str or path-like
        Target ``.png`` file (its folder is created).

    Returns
    -------
    pathlib.Path
    """
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=FIGURE_DPI, metadata={"Software": None})
    return Path(path)


def safe_name(text: str) -> str:
    """A file-name-safe version of an event id."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._") or "event"
