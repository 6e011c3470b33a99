"""Writing a calendar-time portfolio regression: coefficients, the portfolio series, summary."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from marketreact._typing import StrPath
from marketreact.inference.calendar_time import CalendarTimeResult
from marketreact.output.files import versions, write_csv, write_json


def write_calendar_time(result: CalendarTimeResult, out: StrPath, *,
                        settings: dict[str, Any] | None = None,
                        inputs: dict[str, Any] | None = None,
                        run: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write a calendar-time portfolio regression to a folder.

    Files: ``calendar_time.csv`` (one row per coefficient: ``name, coef, se, t,
    p``; ``alpha`` first), ``portfolio.csv`` (one row per period of the returns:
    ``date, ret, rf, excess, n_firms``, the factors and, for the standardised
    variant, ``sigma``; periods outside the regression are kept, with
    ``n_firms`` 0 or missing factors) and ``summary.json`` (settings, inputs,
    versions, ``n_periods``, ``mean_firms``, ``r2``, ``alpha`` with its HAC
    standard error, t and p, the diagnostics and, given ``run``, its keys
    ``run`` and ``input_files``).

    Parameters
    ----------
    result : CalendarTimeResult
        The regression.
    out : str or path-like
        The folder (a staging folder of
        :func:`marketreact.output.folder.results_folder`).
    settings, inputs : dict, optional
        What the run was asked to do and what it read, recorded as given.
    run : dict, optional
        The command line and the input files' records
        (:mod:`marketreact.output.provenance`).

    Returns
    -------
    dict of str to pathlib.Path
        The files written, by table name.
    """
    out = Path(out)
    coefs = result.params.rename_axis("name").reset_index()
    portfolio = result.portfolio.rename_axis("date").reset_index()
    first = ["date", "ret", "rf", "excess", "n_firms"]
    portfolio = portfolio[[*first, *(c for c in portfolio.columns if c not in first)]]
    portfolio["date"] = portfolio["date"].dt.strftime("%Y-%m-%d")
    written = {"calendar_time": write_csv(coefs, out / "calendar_time.csv"),
               "portfolio": write_csv(portfolio, out / "portfolio.csv")}
    summary: dict[str, Any] = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {"model": result.model, "weighting": result.weighting,
                     "horizon": result.horizon, "hac_lags": result.hac_lags,
                     "standardised": result.standardised, **(settings or {})},
        "inputs": inputs or {},
        "versions": versions(),
        "n_periods": result.n_periods,
        "mean_firms": result.mean_firms,
        "r2": result.r2,
        "alpha": {"coef": result.alpha, "se": result.alpha_se, "t": result.alpha_t,
                  "p": result.alpha_p},
        "coefficients": json.loads(coefs.to_json(orient="records")),
        "diagnostics": list(result.diagnostics),
    }
    if run:
        summary.update(run)
    written["summary"] = write_json(summary, out / "summary.json")
    return written
