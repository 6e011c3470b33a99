"""Writing results to disk: CSV tables and a JSON summary, each written atomically."""

from __future__ import annotations

import csv
import json
import platform
import re
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pandas as pd

from marketreact._atomic import atomic_open
from marketreact._typing import StrPath
from marketreact.render.figures import FIGURE_DPI

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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
    """Write ``frame`` as CSV (no index, ISO dates, full float precision) atomically.

    Text cells that would run as spreadsheet formulas are neutralised unless the guard
    is off (:func:`guard_formulas`).
    """
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].map(lambda v: v.isoformat() if pd.notna(v) else "")
        elif pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
        elif _GUARD["on"] and (pd.api.types.is_object_dtype(out[col])
                               or pd.api.types.is_string_dtype(out[col])):
            out[col] = neutralise_formulas(out[col])
    # a bare carriage return in a text cell must be quoted, or readers split the row there
    # (the csv module quotes only the line terminator's characters: here "\n")
    quoting = csv.QUOTE_NONNUMERIC if _has_carriage_return(out) else csv.QUOTE_MINIMAL
    return atomic_write(path, lambda fh: out.to_csv(fh, index=False, float_format="%.10g",
                                                    lineterminator="\n", quoting=quoting))


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
