"""``marketreact validate``: the Brown-Warner simulation of the cross-event tests on real panels.

The command reads the panels' price folders (the only I/O before the simulation),
hands the frames to :func:`marketreact.validation.run_validation` and writes what
it returns.
"""

from __future__ import annotations

import shutil
import time
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer
from typer._click.core import ParameterSource

from marketreact.cli.app import _console, app, handle_errors
from marketreact.errors import InputError, InputProblem

if TYPE_CHECKING:
    from marketreact.prices import PriceFetch
    from marketreact.validation import PanelSpec


class ValidateMode(StrEnum):
    """What ``validate`` simulates: the daily panels or random news times on hourly bars."""

    daily = "daily"
    intraday = "intraday"


def price_folder(spec: str) -> Path:
    """The folder holding the panels' sub-folders, from ``--prices csv:DIR`` (or a bare ``DIR``).

    Parameters
    ----------
    spec : str
        ``csv:DIR`` as every other command takes it, or the folder itself.

    Raises
    ------
    InputError
        When the folder does not exist, or the spec names another source.
    """

    def bad(message: str) -> InputError:
        return InputError([InputProblem("command line", None, "--prices", spec, message)])

    text = spec.strip()
    if text.lower().startswith("csv:"):
        text = text[4:]
    elif not Path(text).expanduser().is_dir() and (text.lower() == "yahoo" or "+" in text):
        raise bad("validate reads price files from a folder: use --prices csv:DIR")
    folder = Path(text).expanduser()
    if not folder.is_dir():
        raise bad(f"price folder {str(folder)!r} not found")
    return folder


def read_panel_prices(folder: Path, spec: PanelSpec) -> PriceFetch:
    """Read one panel's price files: every stock in ``folder / spec.folder`` and its market.

    Parameters
    ----------
    folder : pathlib.Path
        The folder holding the panels' sub-folders.
    spec : PanelSpec
        The panel.

    Returns
    -------
    PriceFetch
        The frames, as read (not cleaned).
    """
    from marketreact.prices import CsvSource
    from marketreact.validation import panel_tickers

    where = folder / spec.folder
    if not where.is_dir():
        raise InputError([InputProblem("command line", None, "--prices", str(folder),
                                       f"no {spec.folder}/ folder for panel {spec.name} "
                                       f"in {str(folder)!r}")])
    source = CsvSource(where)
    return source.fetch(panel_tickers(spec, source.tickers))


@app.command()
@handle_errors
def validate(
    ctx: typer.Context,
    prices: Annotated[str, typer.Option(
        "--prices", "-p", help="csv:DIR (a bare DIR works too): daily mode, the folder with "
        "the us/ and idx/ price panels (../shared/data/prices); intraday mode, the folder "
        "of hourly bar files (../shared/data/intraday).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the results.")
                   ] = Path("validation"),
    report: Annotated[Path | None, typer.Option(
        help="Also copy the Markdown report here, e.g. docs/validation.md [default: only "
             "OUT/validation.md].")] = None,
    samples: Annotated[int, typer.Option(help="Samples per design.", min=1)] = 1000,
    events: Annotated[int, typer.Option(help="Events per sample.", min=2)] = 50,
    bootstrap: Annotated[int, typer.Option(
        help="Bootstrap resamples (daily mode only).", min=0)] = 999,
    seed: Annotated[int, typer.Option(help="Seed of every random draw.")] = 20240605,
    panel: Annotated[list[str] | None, typer.Option(
        "--panel", help="Panel(s) to run: us, idx (default both; daily mode only).")] = None,
    mode: Annotated[ValidateMode, typer.Option(
        "--mode", help="daily (the us/idx panels) or intraday (random news times on the "
        "hourly bars of --prices csv:DIR, e.g. ../shared/data/intraday).")
    ] = ValidateMode.daily,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Measure size and power of every cross-event test by simulation on real prices.

    Writes rejection_rates.csv, validation.md and rejection_rates.png to --out (intraday
    mode: rejection_rates.csv and validation.md, whose section replaces the intraday
    section of --report and is kept when a daily run rewrites --report).
    """
    from marketreact.output.files import atomic_write, write_csv
    from marketreact.output.validation import (
        intraday_section,
        markdown_report,
        rejection_chart,
    )
    from marketreact.validation import PANELS, SimulationSettings, run_validation

    if ValidateMode(mode) is ValidateMode.intraday:
        given = [f"--{name}" for name in ("panel", "bootstrap")
                 if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE]
        if given:
            raise InputError([InputProblem("command line", None, given[0], None,
                                           "applies to the daily mode only (intraday mode "
                                           "runs the hourly bars without a bootstrap)")])
        _validate_intraday(prices, out, report, samples, events, seed, quiet)
        return
    panels = panel or ["us", "idx"]
    unknown = [p for p in panels if p not in PANELS]
    if unknown:
        raise InputError(f"unknown panel(s) {', '.join(unknown)}; choose from us, idx")
    folder = price_folder(prices)
    settings = SimulationSettings(n_samples=samples, n_events=events, n_boot=bootstrap,
                                  seed=seed)
    started = time.perf_counter()
    frames = {name: read_panel_prices(folder, PANELS[name]) for name in panels}
    rates, diagnostics, loaded = run_validation(frames, settings)
    seconds = time.perf_counter() - started
    command = (f"marketreact validate --prices {prices} --samples {samples} "
               f"--events {events} --bootstrap {bootstrap} --seed {seed}")
    text = markdown_report(rates, diagnostics, loaded, settings, command, seconds)
    write_csv(rates, out / "rejection_rates.csv")

    def write_report(fh: IO[str]) -> None:
        fh.write(text + "\n")

    atomic_write(out / "validation.md", write_report)
    rejection_chart(rates, out / "rejection_rates.png")
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        kept = intraday_section(report.read_text(encoding="utf-8")) if report.is_file() else None
        shutil.copyfile(out / "validation.md", report)
        if kept is not None:  # the intraday section survives a daily run
            report.write_text(text.rstrip("\n") + "\n\n" + kept + "\n", encoding="utf-8")
    _console(quiet).print(f"{len(rates)} rejection rates in {seconds:.0f} s written to {out}")


def _validate_intraday(prices: str, out: Path, report: Path | None, samples: int,
                       events: int, seed: int, quiet: bool) -> None:
    """The intraday mode: random news times on real hourly bars (see ``validation``)."""
    from marketreact.output.files import atomic_write, write_csv
    from marketreact.output.validation import intraday_markdown, merge_intraday_section
    from marketreact.panel.bars import build_bar_panel
    from marketreact.prices.bars import parse_interval, read_bar_folder
    from marketreact.study.intraday import IntradayStudy
    from marketreact.validation import (
        IntradaySimulation,
        draw_intraday_events,
        intraday_rejection_rates,
    )

    folder = price_folder(prices)
    settings = IntradaySimulation(n_samples=samples, n_events=events, seed=seed)
    started = time.perf_counter()
    bars = read_bar_folder(folder, [*settings.tickers, settings.market], "1h")
    panel = build_bar_panel(bars, parse_interval("1h"))
    drawn = draw_intraday_events(panel, settings)
    fitted = IntradayStudy("1h", settings.window, [settings.car_window], market=settings.market,
                           estimation_sessions=settings.estimation_sessions).fit(drawn, panel)
    rates = intraday_rejection_rates(fitted, settings)
    seconds = time.perf_counter() - started
    command = (f"marketreact validate --mode intraday --prices {prices} --samples {samples} "
               f"--events {events} --seed {seed}")
    text = intraday_markdown(rates, settings, command, seconds, len(fitted.events), len(drawn))
    write_csv(rates, out / "rejection_rates.csv")

    def write_report(fh: IO[str]) -> None:
        fh.write(text + "\n")

    atomic_write(out / "validation.md", write_report)
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        old = report.read_text(encoding="utf-8") if report.is_file() else ""
        merged = merge_intraday_section(old, text)

        def write_merged(fh: IO[str]) -> None:
            fh.write(merged)

        atomic_write(report, write_merged)
    _console(quiet).print(f"{len(rates)} intraday rejection rates in {seconds:.0f} s written "
                          f"to {out}")
