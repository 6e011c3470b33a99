"""``marketreact calendar-time``: calendar-time portfolios (Jaffe 1974, Mitchell-Stafford 2000).

The command reads the catalogue, the prices (as ``marketreact study`` reads them) and
any factor files, runs :class:`marketreact.study.calendar_time.CalendarTimeStudy` (the
lineup of each event on its exchange's sessions, the one-period return frame, the
portfolio of the firms within ``[0, H]`` of their event regressed on the market or the
Fama-French / Carhart factors) and writes the folder
(:func:`marketreact.output.calendar_time.write_calendar_time`).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from marketreact.cli.app import (
    CacheOpt,
    FactorUnitsOpt,
    PricesOpt,
    _console,
    app,
    handle_errors,
    read_factor_files,
)
from marketreact.errors import InputError, InputProblem
from marketreact.output.folder import check_target, results_folder
from marketreact.progress import progress_bar


class CalendarTimeModel(StrEnum):
    """Factors of the calendar-time regression."""

    market = "market"
    ff3 = "ff3"
    carhart = "carhart"


class Frequency(StrEnum):
    """Periods of the calendar-time portfolio."""

    daily = "daily"
    monthly = "monthly"


class Weighting(StrEnum):
    """Portfolio weights (``value`` is refused: no price file carries firm sizes)."""

    equal = "equal"
    value = "value"


def _problem(option: str, value: object, message: str) -> InputError:
    return InputError([InputProblem("command line", None, option, str(value), message)])


@app.command("calendar-time")
@handle_errors
def calendar_time(
    events: Annotated[Path, typer.Argument(help="Event catalogue (CSV or JSON Lines).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the result files.")],
    prices: PricesOpt = ["yahoo"],  # noqa: B006
    model: Annotated[CalendarTimeModel, typer.Option(
        help="Factors of the regression: market (the market's excess return), ff3 "
             "(Fama-French three factors) or carhart (ff3 and momentum).")
    ] = CalendarTimeModel.market,
    factors: Annotated[list[Path] | None, typer.Option(
        "--factors", help="Daily factor file (Ken French CSV or any factor CSV; repeat to "
        "merge files, e.g. the momentum factor); compounded into months with --frequency "
        "monthly [default: none: --model market on the --market index with rf = 0].")] = None,
    factor_units: FactorUnitsOpt = "auto",
    market: Annotated[str | None, typer.Option(
        help="Market index: its return is the market factor when no --factors file is given "
             "(rf = 0), and its dates are the monthly sessions [default: the events' own "
             "market, else their exchange's index].")] = None,
    horizon: Annotated[int | None, typer.Option(
        help="H: a firm is in the portfolio from its day 0 to H periods after it, inclusive; "
             "1 to 10000 [default: 251 sessions daily, 11 months monthly, the study's long "
             "windows 0:251 and 0:11].")] = None,
    frequency: Annotated[Frequency, typer.Option(
        case_sensitive=False,
        help="daily (exchange sessions) or monthly (calendar months built from the daily "
             "prices, dated at the month's last business day; month 0: the month of the "
             "news).")] = Frequency.daily,
    weighting: Annotated[Weighting, typer.Option(
        help="Portfolio weights: equal. value needs firm sizes (market caps), which no "
             "price file carries: it is refused.")] = Weighting.equal,
    standardise: Annotated[bool, typer.Option(
        "--standardise", help="Jaffe/Mandelker variant: divide each period by the SD of the "
        "same portfolio over the 250 sessions (60 months) ending H + 1 periods before it "
        "(weighted least squares).")] = False,
    hac_lags: Annotated[int | None, typer.Option(
        help="Newey-West (HAC) lags [default: floor(4 (n/100)^(2/9)) of the n periods].")
    ] = None,
    min_firms: Annotated[int, typer.Option(
        help="Fewest firms a period's portfolio needs to enter the regression.")] = 1,
    cache_dir: CacheOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")
                     ] = False,
) -> None:
    """Regress the portfolio of the firms within [0, H] of their event on the market or factors.

    Calendar-time portfolios (Jaffe 1974, Mitchell-Stafford 2000); alpha with HAC errors.
    """
    from marketreact.cli.config import command_line
    from marketreact.events.catalogue import read_events
    from marketreact.output.calendar_time import write_calendar_time
    from marketreact.output.provenance import input_records, run_record
    from marketreact.prices import load_prices, source_from_spec
    from marketreact.study.calendar_time import CalendarTimeStudy

    protected = [events, *prices, cache_dir, *(factors or [])]
    check_target(out, protected)
    argv = command_line()
    study = CalendarTimeStudy(horizon=horizon, model=model, frequency=frequency,
                              weighting=weighting, standardise=standardise,
                              hac_lags=hac_lags, min_firms=min_firms, market=market)
    s = study.settings
    files = ", ".join(str(f) for f in factors or [])
    factor_data = read_factor_files(factors, factor_units) if factors else None
    study.check_factors(factor_data, factor_source=files or None)  # before any price
    catalogue = read_events(events)
    frame = study.events_frame(catalogue, factor_data)
    source = source_from_spec("+".join(prices), str(cache_dir) if cache_dir else None)
    before, after = study.sessions_needed()
    with progress_bar(quiet):
        price_data = load_prices(source, frame, before=before, after=after)
    result = study.fit(catalogue, price_data, factor_data, factor_source=files)
    settings = {"frequency": s.frequency, "market": result.market,
                "rf": "0" if factor_data is None else "factor file", "min_firms": s.min_firms,
                "estimation": s.estimation if s.standardise else None}
    inputs = {"events": str(events), "prices": prices, "events_in_file": len(catalogue),
              "events_used": result.events_used,
              **({"factors": [str(f) for f in factors]} if factors else {})}
    run = {"run": run_record(argv), "input_files": input_records(
        events=events, event_dates=[catalogue.frame["date"], catalogue.frame["timestamp"]],
        source=source, frames=price_data.frames, factors=factors or (),
        factor_dates=factor_data.index if factor_data is not None else None)}
    with results_folder(out, command="calendar-time", inputs=protected) as staging:
        write_calendar_time(result, staging, settings=settings, inputs=inputs, run=run)
    console = _console(quiet)
    if not quiet:
        console.print(result.summary(), markup=False, highlight=False)
        console.print(f"results written to {out}")
