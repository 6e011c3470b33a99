"""``marketreact export``: a results folder as Excel, LaTeX, Markdown or Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from marketreact.cli.app import _console, _err, app, handle_errors
from marketreact.output.export import ExportFormat


@app.command()
@handle_errors
def export(
    results_dir: Annotated[Path, typer.Argument(
        help="Folder written by study or backtest.")],
    fmt: Annotated[ExportFormat, typer.Option(
        "--format", "-f", help="xlsx (a sheet per table), latex (booktabs tables), md "
        "(Markdown pipe tables) or parquet (a file per table).")] = ExportFormat.xlsx,
    stars: Annotated[str, typer.Option(
        help="Significance levels for one, two, three stars (LaTeX and Markdown); "
        "'' for none.")] = "0.1,0.05,0.01",
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="File to write (a folder for parquet); default tables.xlsx, "
        "tables.tex, tables.md or parquet/ inside RESULTS_DIR.")] = None,
    max_rows: Annotated[int, typer.Option(
        min=1, max=100_000,
        help="Events shown in the per-event LaTeX/Markdown table (the CSV keeps all).")
    ] = 60,
    standalone: Annotated[bool, typer.Option(
        help="LaTeX: write a complete document (compiles with pdflatex) instead of a "
        "fragment to \\input.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")
                     ] = False,
) -> None:
    """Export a results folder's tables for a paper or a spreadsheet."""
    from marketreact.output.export import export_results

    written = export_results(results_dir, fmt, stars=stars, out=out, max_rows=max_rows,
                             standalone=standalone)
    if not written:  # pragma: no cover - every format writes at least one file
        _err("nothing was written")
        raise typer.Exit(1)
    console = _console(quiet)
    where = written[0] if len(written) == 1 else written[0].parent
    console.print(f"{fmt.value} export written to {where}"
                  + (f" ({len(written)} files)" if len(written) > 1 else ""))
