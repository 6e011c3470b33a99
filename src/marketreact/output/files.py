"""Writing results to disk: CSV tables and a JSON summary, each written atomically."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import pandas as pd

from marketreact._atomic import atomic_open
from marketreact._typing import StrPath
from marketreact.study.fit import StudyResult

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


def write_study(result: StudyResult, out: StrPath, *, inputs: dict[str, Any] | None = None,
                fmt: str = "csv") -> dict[str, Path]:
    """Write a study's tables to a folder.

    Files: ``events.csv``, ``abnormal_returns.csv``, ``car.csv``, ``aar.csv``,
    ``aggregate.csv``, ``failures.csv`` and ``summary.json`` (settings, inputs,
    versions, counts and diagnostics). With ``fmt="json"`` the tables are also
    written as JSON records.

    Returns
    -------
    dict of str to pathlib.Path
        The files written, by table name.
    """
    out = Path(out)
    tables = {
        "events": result.events,
        "abnormal_returns": result.abnormal_returns,
        "car": result.car,
        "aar": result.aar,
        "aggregate": result.aggregate,
        "failures": result.failures,
    }
    written = {name: write_csv(frame, out / f"{name}.csv") for name, frame in tables.items()}
    if fmt == "json":
        for name, frame in tables.items():
            records = json.loads(frame.to_json(orient="records", date_format="iso"))
            written[f"{name}_json"] = write_json(records, out / f"{name}.json")
    summary = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": result.settings.to_dict(),
        "inputs": inputs or {},
        "versions": versions(),
        "events_studied": result.n_events,
        "events_failed": len(result.failures),
        "diagnostics": list(result.diagnostics),
        "aggregate": json.loads(result.aggregate.to_json(orient="records")),
    }
    written["summary"] = write_json(summary, out / "summary.json")
    return written
