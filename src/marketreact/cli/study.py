"""``marketreact study``: from an event catalogue (or EventStudyTools files) to a results folder."""

from __future__ import annotations

from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from marketreact.cli.app import (
    EXIT_NOTHING,
    EXIT_PARTIAL,
    CacheOpt,
    EngineName,
    FactorUnitsOpt,
    PricesOpt,
    _console,
    _err,
    app,
    failure_lines,
    handle_errors,
    read_factor_files,
)
from marketreact.cli.config import ConfigOpt, command_line, with_config
from marketreact.cli.formats import FormatsOpt, PlotFormatOpt, parse_formats, parse_plot_format
from marketreact.errors import InputError, InputProblem
from marketreact.inference.base import Alternative
from marketreact.output.folder import check_target, results_folder
from marketreact.panel.measures import Measure, measure_words
from marketreact.progress import progress_bar


def _study_table(result: Any) -> Table:
    words = measure_words(result.settings.measure)
    bhar = words.has_bhar
    table = Table(title=f"{words.cumulative_average} by window (cross-sectional t)")
    for name in ("window", "N", words.cumulative_average, "t", "p",
                 *(("mean BHAR",) if bhar else ())):
        table.add_column(name, justify="right")
    for row in result.aggregate.itertuples(index=False):
        table.add_row(row.window, str(row.n), f"{row.caar:.5f}", f"{row.t:.3f}", f"{row.p:.4f}",
                      *((f"{row.mean_bhar:.5f}",) if bhar else ()))
    return table


def _long_windows(result: Any) -> bool:
    """Whether a CAR window is long (``StudySettings.long_window``): BHAR tests are printed."""
    long = result.settings.long_window
    return any(b - a + 1 >= long for a, b in result.settings.car_windows)


def _bhar_tables(result: Any) -> list[Table]:
    """Mean BHAR by window with the conventional, LBT skewness-adjusted and bootstrapped t."""
    agg = result.aggregate
    out: list[Table] = []
    if not measure_words(result.settings.measure).has_bhar:
        return out  # BHARs are of returns: a volume or volatility study has none
    for prefix, mean_col, what in (("bhar", "mean_bhar", "the model's expected returns"),
                                   ("bhar_ref", "mean_bhar_ref", "the reference series")):
        if f"{prefix}_t" not in agg:
            continue
        table = Table(title=f"Mean BHAR against {what} (t; Lyon-Barber-Tsai "
                            "skewness-adjusted t, bootstrapped)")
        for name in ("window", "N", "mean BHAR", "t", "p", "t_sa", "p", "boot p"):
            table.add_column(name, justify="right")
        for _, row in agg.iterrows():
            def num(col: str, fmt: str, row: Any = row) -> str:
                v = row.get(col, float("nan"))
                return "" if pd.isna(v) else format(v, fmt)

            table.add_row(str(row["window"]),
                          num("n_ref" if prefix == "bhar_ref" else "n", "d"),
                          num(mean_col, "+.5f"), num(f"{prefix}_t", ".3f"),
                          num(f"{prefix}_t_p", ".4f"), num(f"{prefix}_tsa", ".3f"),
                          num(f"{prefix}_tsa_p", ".4f"), num(f"{prefix}_tsa_boot_p", ".4f"))
        if agg.get(f"{prefix}_tsa_boot_p", pd.Series(dtype=float)).isna().all():
            table.caption = (f"no bootstrap: it is run for windows of {result.settings.long_window}"
                             " periods or more, with 12 events or more (resamples of n/4)")
        out.append(table)
    return out


#: Events listed on the terminal (car.csv holds them all).
MAX_EVENT_ROWS = 50
#: Notes printed on the terminal (summary.json holds them all).
MAX_NOTES = 20


def _event_table(result: Any, window: str) -> Table:
    words = measure_words(result.settings.measure)
    table = Table(title=f"Events: day-0 {words.short} and {words.cumulative}{window}")
    for name in ("event", "ticker", "day 0", f"{words.short}(0)", words.cumulative, "t", "p"):
        table.add_column(name, justify="right" if name not in ("event", "ticker") else "left")
    ar0 = result.abnormal_returns.query("rel_day == 0").set_index("event_id")["ar"]
    car = result.car.loc[result.car["window"] == window].set_index("event_id")
    shown = result.events.head(MAX_EVENT_ROWS)
    if len(result.events) > len(shown):
        table.caption = (f"first {len(shown)} of {len(result.events)} events; every event is "
                         "in car.csv")
    for row in shown.itertuples(index=False):
        c = car.loc[row.event_id] if row.event_id in car.index else None
        table.add_row(row.event_id, row.ticker, str(pd.Timestamp(row.day0).date()),
                      f"{ar0.get(row.event_id, float('nan')):+.4f}",
                      f"{c['car']:+.4f}" if c is not None else "",
                      f"{c['car_t']:.2f}" if c is not None else "",
                      f"{c['car_p']:.3f}" if c is not None else "")
    return table


#: Settings of a monthly study when not given: windows in months.
MONTHLY_DEFAULTS: dict[str, Any] = {"estimation": (-60, -2), "window": (-1, 12),
                                    "car_windows": ((0, 0), (0, 5), (0, 11)),
                                    "min_estimation": 24, "long_window": 1}


def _monthly(frequency: str, given: dict[str, Any], input_kind: Any,
             factors: list[Path] | None) -> bool:
    """Whether the study is monthly; fills the monthly defaults into ``given``."""
    value = str(frequency).strip().lower()
    if value not in ("daily", "monthly"):
        raise InputError([InputProblem("command line", None, "--frequency", frequency,
                                       "choose daily or monthly")])
    if value == "daily":
        return False
    bad = ("--input eventstudytools (its files give the dates)"
           if input_kind is InputKind.eventstudytools
           else "--factors (daily factor files)" if factors
           else "--sessions calendar (monthly sessions are the month ends)"
           if given.get("sessions") == "calendar" else None)
    if bad:
        raise InputError([InputProblem("command line", None, "--frequency", frequency,
                                       f"a monthly study does not take {bad}")])
    for key, value in MONTHLY_DEFAULTS.items():
        given.setdefault(key, value)
    given["sessions"] = "market"
    return True


class InputKind(str, Enum):
    """Layouts ``marketreact study`` reads its events from."""

    catalogue = "catalogue"
    eventstudytools = "eventstudytools"


@app.command()
@handle_errors
@with_config
def study(
    events: Annotated[Path, typer.Argument(
        help="Event catalogue (CSV or JSON Lines), or with --input eventstudytools the "
             "folder of request, firm and market files.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the result files.")],
    prices: PricesOpt = ["yahoo"],  # noqa: B006
    model: Annotated[str, typer.Option(
        help="Normal-return model: constant-mean, market-adjusted, market-model, "
             "scholes-williams, dimson, ff3, ff5, carhart4, garch.")
    ] = "market-model",
    estimation: Annotated[str | None, typer.Option(
        help="Estimation window A:B in sessions [default: -250:-11].")] = None,
    window: Annotated[str | None, typer.Option(
        help="Event window A:B in sessions [default: -10:10].")] = None,
    car: Annotated[list[str] | None, typer.Option(
        "--car", help="CAR window A:B (repeatable; default -1:1, 0:0, 0:1, -5:5).")] = None,
    market: Annotated[str | None, typer.Option(
        help="Market index for events without a 'market' column (default: the exchange's).")
    ] = None,
    returns: Annotated[str, typer.Option(help="Return definition: simple or log.")] = "simple",
    min_estimation: Annotated[int | None, typer.Option(
        help="Fewest estimation returns an event may have [default: 120].")] = None,
    factors: Annotated[list[Path] | None, typer.Option(
        "--factors", help="Daily factor file (Ken French CSV or any factor CSV) for ff3, ff5, "
        "carhart4; repeat to merge files (e.g. the momentum factor) [default: none; the factor "
        "models then refuse to run].")] = None,
    factor_units: FactorUnitsOpt = "auto",
    lags: Annotated[int, typer.Option(help="Dimson model: lagged market returns.")] = 1,
    leads: Annotated[int, typer.Option(help="Dimson model: leading market returns.")] = 1,
    missing: Annotated[str, typer.Option(
        help="Sessions without a price inside the windows: drop (leave them out) or fail "
             "(fail the event, with the reason).")] = "drop",
    method: Annotated[str, typer.Option(
        help="vectorised (batched OLS) or regression (per-event dummy-variable regression "
             "with statsmodels).")] = "vectorised",
    hac_lags: Annotated[int | None, typer.Option(
        help="With --method regression: Newey-West (HAC) errors with this many lags "
             "[default: none: OLS errors].")
    ] = None,
    sessions: Annotated[str | None, typer.Option(
        help="Trading sessions: calendar (exchange calendar, checked against the index) or "
             "market (the dates of the market index file) [default: calendar; market with "
             "--input eventstudytools].")] = None,
    suspect_prices: Annotated[str | None, typer.Option(
        help="Suspect prices (bad prints, unadjusted splits) inside an event's windows: fail "
             "(fail the event, with the reason) or keep (study the prices as given) "
             "[default: fail; keep with --input eventstudytools].")] = None,
    input_kind: Annotated[InputKind, typer.Option(
        "--input", help="Layout of EVENTS: catalogue, or eventstudytools (a folder with "
        "01_RequestFile.csv, 02_FirmData.csv, 03_MarketData.csv; prices come from it).")
    ] = InputKind.catalogue,
    measure: Annotated[Measure, typer.Option(
        help="What to study: return (abnormal returns), volume (abnormal log volume) or "
        "volatility (squared abnormal returns); see docs/inference.md.")] = Measure.returns,
    alternative: Annotated[Alternative, typer.Option(
        help="Alternative hypothesis of the cross-event tests' p-values.")
    ] = Alternative.two_sided,
    bootstrap: Annotated[int, typer.Option(
        help="Bootstrap resamples of events for the bootstrap test (0: off; at most "
             "100,000).")] = 999,
    duplicates: Annotated[str, typer.Option(
        help="Events of one ticker with the same day 0: merge (one event, first timestamp, "
             "n_headlines and the other ids in events.csv), first (the first only) or keep.")
    ] = "merge",
    overlap: Annotated[str, typer.Option(
        help="Events with other news of the firm in their event window: keep (reported in "
             "overlaps.csv), drop-later (leave out those with earlier news there) or "
             "drop-all.")] = "keep",
    clean_estimation: Annotated[bool, typer.Option(
        "--clean-estimation", help="Leave the other news' event windows out of each "
        "estimation sample (--min-estimation still applies).")] = False,
    confounders: Annotated[Path | None, typer.Option(
        help="Catalogue of other news of the same firms (not studied) that counts in the "
             "overlaps, the overlap policy and --clean-estimation [default: none].")] = None,
    group: Annotated[str | None, typer.Option(
        help="Catalogue column splitting the events into groups: tests per group and "
             "between groups (default with --input eventstudytools: its Group column).")
    ] = None,
    adjust: Annotated[str, typer.Option(
        help="Adjust p-values across the event-window days and CAR windows: none, holm or "
             "bh (Benjamini-Hochberg).")] = "none",
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    bootstrap_streams: Annotated[str, typer.Option(
        help="Where the bootstrap's draws come from: per-resample (a generator for each "
             "resample, drawn on every core) or sequential (one generator for all, as in "
             "earlier releases: reproduces their numbers).")] = "per-resample",
    skip_invalid: Annotated[bool, typer.Option(
        help="Study the valid rows of a catalogue with bad rows (reported in failures.csv).")
    ] = False,
    cache_dir: CacheOpt = None,
    fmt: FormatsOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")
                     ] = False,
    plots: Annotated[bool, typer.Option(
        "--plots", help="Also write plots (PNG, or --plot-format): CAAR, AR/CAR bars, prices "
        "around each event.")
    ] = False,
    plot_format: PlotFormatOpt = "png",
    engine: Annotated[EngineName, typer.Option(
        help="Run the per-event computation here (local) or on a Dask cluster (dask; "
        "needs marketreact[dask]).")] = EngineName.local,
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address (tcp://host:8786); default: a local cluster.")] = None,
    config: ConfigOpt = None,
    frequency: Annotated[str, typer.Option(
        help="daily, or monthly: returns of calendar months built from the daily prices, "
        "windows in months (month 0: the month of the news) [monthly defaults: "
        "--estimation -60:-2 --window -1:12 --car 0:0 --car 0:5 --car 0:11 "
        "--min-estimation 24].")] = "daily",
    reference: Annotated[str | None, typer.Option(
        help="Catalogue column naming each event's reference series (a price series, e.g. "
        "a size/book-to-market portfolio): BHAR against it, with the conventional, "
        "skewness-adjusted and bootstrapped skewness-adjusted t, in car.csv (bhar_ref) "
        "and aggregate.csv (bhar_ref_*) [default: none].")] = None,
) -> None:
    """Run an event study of abnormal returns, volume or volatility; write CSV results."""
    from marketreact.events.catalogue import read_events
    from marketreact.output.study import write_study
    from marketreact.prices import load_prices, source_from_spec
    from marketreact.study.fit import EventStudy
    from marketreact.study.settings import StudySettings
    from marketreact.windows import parse_window

    protected = [events, *prices, cache_dir, *(factors or []),
                 *([confounders] if confounders else []), *([config] if config else [])]
    check_target(out, protected)
    formats, plot_kind = parse_formats(fmt), parse_plot_format(plot_format)
    argv = command_line()
    # Choices go to the settings as given: StudySettings converts them to enums and names
    # the setting of an unknown value (handle_errors maps it to the option).
    given: dict[str, Any] = {
        "model": model, "returns": returns, "lags": lags, "leads": leads, "missing": missing,
        "method": method, "hac_lags": hac_lags, "measure": measure.value,
        "alternative": alternative.value, "n_boot": bootstrap, "seed": seed,
        "boot_streams": bootstrap_streams,
        "duplicates": duplicates, "overlap": overlap, "clean_estimation": clean_estimation,
        "adjust": adjust,
    }
    if group is not None:
        given["group"] = group
    if market:
        given["market"] = market.upper()
    if estimation is not None:
        given["estimation"] = parse_window(estimation, "estimation")
    if window is not None:
        given["window"] = parse_window(window, "window")
    if car:
        given["car_windows"] = tuple(parse_window(c, "car_windows") for c in car)
    if min_estimation is not None:
        given["min_estimation"] = min_estimation
    if sessions is not None:
        given["sessions"] = sessions
    if suspect_prices is not None:
        given["suspect_prices"] = suspect_prices
    monthly = _monthly(frequency, given, input_kind, factors)
    factor_data = read_factor_files(factors, factor_units) if factors else None
    source: Any
    if input_kind is InputKind.eventstudytools:
        from marketreact.events.eventstudytools import load_eventstudytools

        catalogue, source, values = load_eventstudytools(events)
        if "window" in given and "car_windows" not in given:
            given["car_windows"] = (given["window"],)
        if "group" not in given and "group" in catalogue.frame and \
                catalogue.frame["group"].astype(str).str.strip().nunique() > 1:
            given["group"] = "group"  # EventStudyTools' Group column, when it splits events
        settings = StudySettings(**{**values, **given})
        price_note: Any = f"eventstudytools:{events}"
    else:
        settings = StudySettings(**given)
        catalogue = read_events(events, strict=not skip_invalid)
        source = source_from_spec("+".join(prices), str(cache_dir) if cache_dir else None)
        price_note = prices
    if scheduler and engine is not EngineName.dask:
        raise InputError([InputProblem("command line", None, "--scheduler", scheduler,
                                       "--scheduler needs --engine dask")])
    news = read_events(confounders, strict=True) if confounders is not None else None
    from marketreact.prices.monthly import MONTH_SESSIONS, monthly_prices

    per = MONTH_SESSIONS if monthly else 1  # load_prices counts sessions
    with progress_bar(quiet):
        price_data = load_prices(source, catalogue, before=settings.estimation[0] * per,
                                 after=settings.window[1] * per, market=settings.market)
        if monthly:
            price_data = monthly_prices(price_data)
        result = EventStudy(settings, engine=engine.value, scheduler=scheduler).fit(
            catalogue, price_data, factors=factor_data, confounders=news)
    if reference is not None:
        from marketreact.study.reference import reference_tickers, with_reference_bhar

        refs = reference_tickers(catalogue, reference)
        ref_events = catalogue.frame[catalogue.frame["event_id"].astype(str).isin(refs.index)]
        ref_events = ref_events.assign(ticker=refs.reindex(
            ref_events["event_id"].astype(str)).to_numpy())
        with progress_bar(quiet):
            ref_data = load_prices(source, ref_events, before=settings.estimation[0] * per,
                                   after=settings.window[1] * per, market=settings.market)
        if monthly:
            ref_data = monthly_prices(ref_data)
        result = with_reference_bhar(result, catalogue, ref_data.frames, column=reference)
        price_data = replace(price_data, frames={**ref_data.frames, **price_data.frames})
    if catalogue.problems:
        invalid = pd.DataFrame({"event_id": [f"line {p.line}" for p in catalogue.problems],
                                "ticker": "", "reason": [str(p) for p in catalogue.problems]})
        result = _with_failures(result, invalid)
    inputs: dict[str, Any] = {
        "events": str(events), "prices": price_note, "events_in_file": len(catalogue)
        + len(catalogue.problems)}
    if monthly:
        inputs["frequency"] = "monthly"
    if confounders is not None:
        inputs["confounders"] = str(confounders)
    if factors:
        inputs["factors"] = [str(f) for f in factors]
    from marketreact.output.provenance import input_records, run_record

    run = {"run": run_record(argv), "input_files": input_records(
        events=events, event_dates=[catalogue.frame["date"], catalogue.frame["timestamp"]],
        source=source,
        frames=price_data.frames, factors=factors or (),
        factor_dates=factor_data.index if factor_data is not None else None,
        confounders=confounders,
        confounder_dates=news.frame["date"] if news is not None else None, config=config)}
    drawn: dict[str, Path] = {}
    with results_folder(out, command="study", inputs=protected) as staging:
        write_study(result, staging, fmt="json" if formats.json else "csv", inputs=inputs,
                    run=run)
        if plots:
            from marketreact.output.study import write_study_plots

            drawn = write_study_plots(result.abnormal_returns, result.car, result.events,
                                      staging, groups=result.groups, plot_format=plot_kind,
                                      measure=result.settings.measure)
        if formats.exports:
            from marketreact.output.export import export_into

            export_into(staging, formats.exports, name=out)
    console = _console(quiet)
    if not quiet:  # with -q nothing is laid out for the terminal
        console.print(_study_table(result))
        first = result.settings.car_windows[0]
        from marketreact.windows import format_window

        console.print(_event_table(result, format_window(first)))
        if monthly or _long_windows(result) or "bhar_ref_t" in result.aggregate:
            for bhar_table in _bhar_tables(result):
                console.print(bhar_table)
        for line in result.screening_lines():
            console.print(line)
        for note in result.diagnostics[:MAX_NOTES]:
            console.print(f"note: {note}", style="dim")
        if len(result.diagnostics) > MAX_NOTES:
            console.print(f"note: ... and {len(result.diagnostics) - MAX_NOTES} more in "
                          f"{out / 'summary.json'}", style="dim")
    if len(result.failures):
        _err(f"{len(result.failures)} event(s) could not be studied; reasons in "
             f"{out / 'failures.csv'}")
        if len(result.failures) <= 10:  # few: each with its catalogue line
            lines = dict(zip(catalogue.frame["event_id"], catalogue.frame["line"],
                             strict=True))
            for row in result.failures.itertuples(index=False):
                where = f"{events}:{lines[row.event_id]}: " if row.event_id in lines else ""
                _err(f"  {where}event {row.event_id}: {row.reason}")
        else:  # many: grouped by reason, most frequent first
            reasons = dict(zip(result.failures["event_id"], result.failures["reason"],
                               strict=True))
            for line in failure_lines(reasons, what="event"):
                _err(f"  {line}")
        raise typer.Exit(EXIT_NOTHING if not len(result.events) else EXIT_PARTIAL)
    console.print(f"results written to {out}" + (
        f" with {len(drawn)} plots (`marketreact report {out}` puts it all in one HTML page)"
        if drawn else ""))


def _with_failures(result: Any, extra: pd.DataFrame) -> Any:

    return replace(result, failures=pd.concat([result.failures, extra], ignore_index=True))
