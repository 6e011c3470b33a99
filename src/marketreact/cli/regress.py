"""``marketreact regress``: cross-sectional regression of CARs on event attributes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from marketreact.cli.app import _console, app, handle_errors
from marketreact.errors import InputError, InputProblem
from marketreact.inference.formula import check_formula
from marketreact.output.folder import check_results_folder


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError([InputProblem(str(path), None, None, None,
                                       "file not found (is this a `marketreact study` "
                                       "results folder?)")])
    try:
        return pd.read_csv(path, dtype={"event_id": str})
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError([InputProblem(str(path), None, None, None,
                                       f"not a readable CSV ({exc})")]) from None


@app.command()
@handle_errors
def regress(
    results: Annotated[Path, typer.Argument(
        help="Folder written by `marketreact study` (reads car.csv and events.csv).")],
    formula: Annotated[str, typer.Option(
        help="statsmodels formula with car (or bhar, car_t) on the left and event "
             "attributes from events.csv on the right, e.g. 'car ~ sentiment'.")
    ] = "car ~ 1",
    window: Annotated[str | None, typer.Option(
        help="CAR window, e.g. -1:1 or [-1,+1] (default: the first window in car.csv).")
    ] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="CSV file for the coefficient table "
        "(default: RESULTS/regression.csv).")] = None,
    cov: Annotated[str, typer.Option(
        "--cov", help="Standard errors: HC3, cluster-date (events with the same day 0), "
        "cluster-firm (same ticker) or cluster-two-way (both; Cameron-Gelbach-Miller).")
    ] = "HC3",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not print the summary.")
                     ] = False,
) -> None:
    """Regress CARs on event attributes (OLS, HC3 or clustered errors); write the coefficients."""
    from marketreact.inference.cross_section import COV_TYPES, cross_sectional

    chosen = {c.lower(): c for c in COV_TYPES}.get(cov.strip().lower())
    if chosen is None:
        raise InputError([InputProblem("command line", None, "--cov", cov,
                                       f"choose from {', '.join(COV_TYPES)}")])
    from marketreact.output.files import write_csv

    if results.is_dir():
        check_results_folder(results)
    car = _read_table(results / "car.csv")
    events = _read_table(results / "events.csv")
    check_formula(formula, [*car.columns, *events.columns])  # never run arbitrary code
    result = cross_sectional(car, events, formula, window, cov_type=chosen)
    target = out if out is not None else results / "regression.csv"
    table = result.table.assign(window=result.window, formula=result.formula,
                                nobs=result.nobs, rsquared=result.rsquared,
                                cov_type=result.cov_type,
                                clusters="x".join(map(str, result.n_clusters)))
    write_csv(table, target)
    console = _console(quiet)
    console.print(result.summary_text, markup=False)
    console.print(f"coefficients written to {target}")
