"""Writing results to disk: CSV tables and a JSON summary, each written atomically."""

from __future__ import annotations

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


def write_csv(frame: pd.DataFrame, path: StrPath) -> Path:
    """Write ``frame`` as CSV (no index, ISO dates, full float precision) atomically."""
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].map(lambda v: v.isoformat() if pd.notna(v) else "")
        elif pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    return atomic_write(path, lambda fh: out.to_csv(fh, index=False, float_format="%.10g",
                                                    lineterminator="\n"))


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
