"""``marketreact validate``: the Brown-Warner simulation of the cross-event tests on real panels."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import IO, Annotated

import typer

from marketreact.cli.app import _console, app, handle_errors
from marketreact.errors import InputError


@app.command()
@handle_errors
def validate(
    prices: Annotated[Path, typer.Option(
        "--prices", help="Folder with the us/ and idx/ price panels (../shared/data/prices).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the results.")
                   ] = Path("validation"),
    report: Annotated[Path | None, typer.Option(
        help="Also copy the Markdown report here (e.g. docs/validation.md).")] = None,
    samples: Annotated[int, typer.Option(help="Samples per design.", min=1)] = 1000,
    events: Annotated[int, typer.Option(help="Events per sample.", min=2)] = 50,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples.", min=0)] = 999,
    seed: Annotated[int, typer.Option(help="Seed of every random draw.")] = 20240605,
    panel: Annotated[list[str] | None, typer.Option(
        "--panel", help="Panel(s) to run: us, idx (default both).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Measure size and power of every cross-event test by simulation on real prices.

    Writes rejection_rates.csv, validation.md and rejection_rates.png to --out.
    """
    from marketreact.output.files import atomic_write, write_csv
    from marketreact.output.validation import markdown_report, rejection_chart
    from marketreact.validation import PANELS, SimulationSettings, run_validation

    panels = panel or ["us", "idx"]
    unknown = [p for p in panels if p not in PANELS]
    if unknown:
        raise InputError(f"unknown panel(s) {', '.join(unknown)}; choose from us, idx")
    if not prices.is_dir():
        raise InputError(f"--prices {prices}: folder not found")
    settings = SimulationSettings(n_samples=samples, n_events=events, n_boot=bootstrap,
                                  seed=seed)
    started = time.perf_counter()
    rates, diagnostics, loaded = run_validation(prices, settings, panels)
    seconds = time.perf_counter() - started
    command = (f"marketreact validate --samples {samples} --events {events} "
               f"--bootstrap {bootstrap} --seed {seed}")
    text = markdown_report(rates, diagnostics, loaded, settings, command, seconds)
    write_csv(rates, out / "rejection_rates.csv")

    def write_report(fh: IO[str]) -> None:
        fh.write(text + "\n")

    atomic_write(out / "validation.md", write_report)
    rejection_chart(rates, out / "rejection_rates.png")
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "validation.md", report)
    _console(quiet).print(f"{len(rates)} rejection rates in {seconds:.0f} s written to {out}")
