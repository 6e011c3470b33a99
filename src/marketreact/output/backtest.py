"""Writing a backtest's results: CSV tables and a JSON file, each written atomically."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from marketreact._typing import StrPath
from marketreact.backtest.results import BacktestResult
from marketreact.output.files import versions, write_csv, write_json

#: Columns of ``daily.csv`` other tools (the equity/drawdown plot) rely on, in this order.
DAILY_COLUMNS = ("date", "equity", "return", "drawdown", "exposure", "n_positions")


def _plain(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return float(value) if math.isfinite(float(value)) else None
    return value


def write_backtest(result: BacktestResult, out: StrPath, *,
                   inputs: dict[str, Any] | None = None, run: dict[str, Any] | None = None,
                   json_tables: bool = False) -> dict[str, Path]:
    """Write a backtest to a folder.

    Files: ``trades.csv`` (one row per trade), ``daily.csv`` (``date, equity,
    return, drawdown, exposure, n_positions`` first, then the other daily
    columns), ``metrics.csv`` (``metric, value``), ``forward.csv`` (forward
    returns and IC per horizon), ``placebo.csv`` (the mean of each placebo
    draw), ``failures.csv`` and ``metrics.json`` (metrics, forward table,
    placebo summary, settings, inputs, versions and diagnostics; with ``run``, the
    command line and the input files' SHA-256 of
    :mod:`marketreact.output.provenance`). With ``json_tables`` every table is also
    written as JSON records (``trades.json`` ...).

    Returns
    -------
    dict of str to pathlib.Path
        The files written, by name.
    """
    out = Path(out)
    daily = result.daily
    ordered = [c for c in DAILY_COLUMNS if c in daily] + [c for c in daily
                                                          if c not in DAILY_COLUMNS]
    written = {
        "trades": write_csv(result.trades, out / "trades.csv"),
        "daily": write_csv(daily[ordered], out / "daily.csv"),
        "metrics": write_csv(result.to_frame(), out / "metrics.csv"),
        "forward": write_csv(result.forward, out / "forward.csv"),
        "failures": write_csv(result.failures, out / "failures.csv"),
    }
    placebo = result.placebo
    if placebo is not None:
        written["placebo"] = write_csv(
            pd.DataFrame({"draw": np.arange(placebo.n_draws), "mean_net_return": placebo.draws}),
            out / "placebo.csv")
    payload = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": result.settings.to_dict(),
        "inputs": inputs or {},
        "versions": versions(),
        "metrics": {k: _plain(v) for k, v in result.metrics.items()},
        "forward": [{k: _plain(v) for k, v in row.items()}
                    for row in result.forward.to_dict(orient="records")],
        "placebo": None if placebo is None else {
            k: _plain(v) for k, v in placebo.to_dict().items()},
        "failures": len(result.failures),
        "diagnostics": list(result.diagnostics),
    }
    if run:
        payload.update(run)
    if json_tables:
        frames = {"trades": result.trades, "daily": daily[ordered],
                  "metrics": result.to_frame(), "forward": result.forward,
                  "failures": result.failures}
        for name, frame in frames.items():
            records = json.loads(frame.to_json(orient="records", date_format="iso"))
            written[f"{name}_json"] = write_json(records, out / f"{name}.json")
    written["metrics_json"] = write_json(json.loads(json.dumps(payload, default=str)),
                                         out / "metrics.json")
    return written
