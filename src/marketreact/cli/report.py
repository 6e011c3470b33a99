"""``marketreact report``: one self-contained HTML page from a results folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from marketreact.cli.app import _console, app, handle_errors


@app.command()
@handle_errors
def report(
    results_dir: Annotated[Path, typer.Argument(
        help="Folder written by study (or backtest, or a validation run).")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="HTML file to write (default: RESULTS_DIR/report.html).")
    ] = None,
    plots: Annotated[bool, typer.Option(
        help="Draw the plots the folder lacks (saved there as PNG) before embedding them.")
    ] = True,
    title: Annotated[str | None, typer.Option(
        help="Page title (default: 'marketreact report: ' and the folder's subject).")] = None,
    max_rows: Annotated[int, typer.Option(
        min=1, max=100_000, help="Rows shown per table (the CSV files keep them all).")] = 200,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")
                     ] = False,
) -> None:
    """Write one self-contained HTML report (tables and plots embedded, no network needed)."""
    from marketreact.output.report import write_report

    path = write_report(results_dir, output, plots=plots, title=title, max_rows=max_rows)
    _console(quiet).print(f"report written to {path} ({path.stat().st_size / 1e6:.1f} MB)")
