"""``marketreact backtest`` and ``marketreact score``: news-driven signals, traded honestly."""

from __future__ import annotations

import math
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from marketreact.backtest.settings import EntryRule as EntryChoice
from marketreact.backtest.settings import HedgeMode as HedgeChoice
from marketreact.backtest.settings import SignalMode as ModeChoice
from marketreact.cli.app import (
    EXIT_NOTHING,
    EXIT_PARTIAL,
    CacheOpt,
    PricesOpt,
    _console,
    _err,
    app,
    failure_lines,
    handle_errors,
)
from marketreact.cli.config import ConfigOpt, command_line, with_config
from marketreact.cli.formats import FormatsOpt, PlotFormatOpt, parse_formats, parse_plot_format
from marketreact.errors import InputError
from marketreact.output.folder import check_target, results_folder
from marketreact.progress import progress_bar


class TextChoice(StrEnum):
    """What ``score`` reads."""

    headline = "headline"
    summary = "summary"
    both = "both"


class MethodChoice(StrEnum):
    """How ``score`` scores: VADER or the Loughran-McDonald word lists."""

    vader = "vader"
    lm = "lm"


def _score_summary(scored: pd.DataFrame, method: str, text: str) -> str:
    """One line telling what the scores look like."""
    s = scored["sentiment"]
    if method == "lm":
        counts = ", ".join(f"{int((scored[f'lm_{c}'] > 0).sum())} {c}"
                           for c in ("positive", "negative", "uncertainty", "litigious"))
        return (f"{len(scored)} headlines scored with Loughran-McDonald ({text}): "
                f"polarity > 0 in {int((s > 0).sum())}, < 0 in {int((s < 0).sum())}, "
                f"0 in {int((s == 0).sum())}; with at least one word: {counts}")
    return (f"{len(scored)} headlines scored with VADER ({text}): "
            f"{int((s >= 0.05).sum())} positive, {int((s <= -0.05).sum())} negative, "
            f"{int((s.abs() < 0.05).sum())} neutral (|compound| < 0.05)")


def _dedupe_scored(frame: pd.DataFrame, window: str) -> tuple[pd.DataFrame, int]:
    """Link near-duplicate headlines of a scored frame (first timestamp wins)."""
    from marketreact.events.news.merge import link_duplicates

    span = _duration(window, "--dedupe")
    work = frame.copy()
    work["timestamp"] = pd.to_datetime(work["timestamp"], utc=True, format="ISO8601")
    for col in ("url", "linked_ids", "linked_urls"):
        if col not in work:
            work[col] = ""
    linked, n = link_duplicates(work, window=span)
    shown = frame.set_index("event_id").loc[linked["event_id"]].reset_index()
    shown["linked_ids"] = linked["linked_ids"].to_numpy()
    return shown, n


def _duration(text: str, option: str) -> pd.Timedelta:
    spelled = re.sub(r"(?<=\d)\s*d(?:ays?)?\s*$", "D", text.strip())
    try:
        value = pd.Timedelta(spelled)
    except (OverflowError, ValueError):
        raise InputError(f"{option} {text!r} is not a duration (e.g. 0, 30min, 24h, 2d)"
                         ) from None
    if pd.isna(value) or value < pd.Timedelta(0) or value > pd.Timedelta(days=366):
        raise InputError(f"{option} {text!r} must be from 0 to 366 days")
    return value


def _latency(text: str) -> pd.Timedelta:
    from marketreact.backtest.settings import MAX_LATENCY, MAX_LATENCY_NS, duration_ns

    most = f"at most {MAX_LATENCY.days} days"
    # pandas deprecates the lower-case day unit ("5d"): read it as "5D"
    spelled = re.sub(r"(?<=\d)\s*d(?:ays?)?\s*$", "D", text.strip())
    try:
        value = pd.Timedelta(spelled)
    except (OverflowError, ValueError) as exc:  # OutOfBoundsTimedelta is a ValueError
        why = "is too long" if isinstance(exc, (OverflowError, pd.errors.OutOfBoundsTimedelta)) \
            else "is not a duration"
        raise InputError(f"--latency {text!r} {why} (e.g. 0, 5min, 1h; {most})") from None
    ns = duration_ns(value)  # exact Python int, None for NaT
    if ns is None:
        raise InputError(f"--latency {text!r} is not a duration (e.g. 0, 5min, 1h; {most})")
    if ns < 0:
        raise InputError("--latency cannot be negative")
    if ns > MAX_LATENCY_NS:
        raise InputError(f"--latency {text!r} is too long ({most})")
    return value


def _metrics_table(metrics: dict[str, object]) -> Table:
    table = Table(title="Backtest")
    table.add_column("metric")
    table.add_column("value", justify="right")
    keys = ("trades", "events_not_traded", "events_failed", "hit_rate", "mean_trade_return",
            "median_trade_return", "mean_trade_t", "total_return", "annualised_return",
            "volatility", "sharpe", "sortino", "max_drawdown", "max_drawdown_duration",
            "exposure", "turnover_annual", "costs_paid", "benchmark_total_return",
            "benchmark_sharpe", "placebo_p_one_sided", "placebo_p_two_sided")
    for key in keys:
        if key not in metrics:
            continue
        v = metrics[key]
        shown = (f"{v:.4f}" if math.isfinite(v) else "n/a") if isinstance(v, float) else str(v)
        table.add_row(key, shown)
    return table


@app.command()
@handle_errors
@with_config
def backtest(
    events: Annotated[Path, typer.Argument(help="Event catalogue (CSV or JSON Lines).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the result files.")],
    entry: Annotated[EntryChoice, typer.Option(
        help="Fill rule, required: next-open (first session open strictly after the news) or "
             "close (first session close strictly after the news).")],
    prices: PricesOpt = ["yahoo"],  # noqa: B006
    signal: Annotated[str, typer.Option(
        help="sentiment, column:NAME, rule:day0-return or rule:day0-ar (entered after the "
             "day-0 close); prefix '-' to trade against it.")] = "sentiment",
    signal_mode: Annotated[ModeChoice, typer.Option(
        help="sign: equal weights, direction from the sign; value: weights in proportion to "
             "|signal|.")] = ModeChoice.sign,
    threshold: Annotated[float, typer.Option(
        help="Do not trade events with |signal| <= this.")] = 0.0,
    latency: Annotated[str, typer.Option(
        help="Delay added to the publication time before a price may be used (e.g. 5min).")
    ] = "0",
    hold: Annotated[int, typer.Option(help="Sessions of returns per trade (exit at a close).")
                    ] = 1,
    hedge: Annotated[HedgeChoice, typer.Option(
        help="none, market (short 1 unit of the market index) or beta (short beta, estimated "
             "before day 0).")] = HedgeChoice.none,
    cost_bps: Annotated[float, typer.Option(
        help="Cost per side and leg, in basis points of the notional traded.")] = 0.0,
    market: Annotated[str | None, typer.Option(
        help="Market index for events without a 'market' column (default: the exchange's).")
    ] = None,
    estimation: Annotated[str, typer.Option(help="Beta estimation window A:B in sessions.")
                          ] = "-250:-11",
    min_estimation: Annotated[int, typer.Option(help="Fewest estimation returns for a beta.")
                              ] = 120,
    placebo: Annotated[int, typer.Option(
        help="Placebo draws (random event dates); 0 to skip.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the placebo.")] = 0,
    skip_invalid: Annotated[bool, typer.Option(
        help="Backtest the valid rows of a catalogue with bad rows (reported in failures.csv).")
    ] = False,
    cache_dir: CacheOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")
                     ] = False,
    plots: Annotated[bool, typer.Option(
        "--plots", help="Also write equity.png (or --plot-format): the equity curve with its "
        "drawdown.")] = False,
    fmt: FormatsOpt = None,
    plot_format: PlotFormatOpt = "png",
    config: ConfigOpt = None,
) -> None:
    """Backtest trading on each event's signal, entering only at prices printed after the news."""
    from marketreact.backtest.run import Backtest
    from marketreact.backtest.settings import BacktestSettings, EntryRule, HedgeMode, SignalMode
    from marketreact.events.catalogue import read_events
    from marketreact.output.backtest import write_backtest
    from marketreact.prices import load_prices, source_from_spec
    from marketreact.windows import parse_window

    settings = BacktestSettings(
        entry=EntryRule(entry.value), signal=signal, signal_mode=SignalMode(signal_mode.value),
        threshold=threshold, latency=_latency(latency), hold=hold,
        hedge=HedgeMode(hedge.value), cost_bps=cost_bps,
        estimation=parse_window(estimation), min_estimation=min_estimation,
        market=market.upper() if market else None, placebo_draws=placebo, seed=seed)
    protected = [events, *prices, cache_dir, *([config] if config else [])]
    check_target(out, protected)
    formats, plot_kind = parse_formats(fmt), parse_plot_format(plot_format)
    argv = command_line()
    catalogue = read_events(events, strict=not skip_invalid)
    source = source_from_spec("+".join(prices), str(cache_dir) if cache_dir else None)
    with progress_bar(quiet):
        price_data = load_prices(source, catalogue, before=settings.estimation[0],
                                 after=max(settings.hold, *settings.horizons) + 1,
                                 market=settings.market)
        result = Backtest(settings).run(catalogue, price_data)
    if catalogue.problems:
        from dataclasses import replace

        invalid = pd.DataFrame({"event_id": [f"line {p.line}" for p in catalogue.problems],
                                "ticker": "", "reason": [str(p) for p in catalogue.problems]})
        result = replace(result, failures=pd.concat([result.failures, invalid],
                                                    ignore_index=True))
    from marketreact.output.provenance import input_records, run_record

    run = {"run": run_record(argv), "input_files": input_records(
        events=events, event_dates=[catalogue.frame["date"], catalogue.frame["timestamp"]],
        source=source, frames=price_data.frames, config=config)}
    with results_folder(out, command="backtest", inputs=protected) as staging:
        write_backtest(result, staging, inputs={"events": str(events), "prices": prices,
                                                "events_in_file": len(catalogue)
                                                + len(catalogue.problems)},
                       run=run, json_tables=formats.json)
        if plots and len(result.daily):
            from marketreact.output.export import save_plot
            from marketreact.render.figures import equity_figure

            save_plot(equity_figure(result.daily), staging / f"equity.{plot_kind}", plot_kind)
        if formats.exports:
            from marketreact.output.export import export_into

            export_into(staging, formats.exports, name=out)
    console = _console(quiet)
    console.print(_metrics_table(result.metrics))
    for note in result.diagnostics[:10]:
        console.print(f"note: {note}", style="dim")
    if len(result.failures):
        _err(f"{len(result.failures)} event(s) could not be traded; reasons in "
             f"{out / 'failures.csv'}")
        reasons = dict(zip(result.failures["event_id"].astype(str),
                           result.failures["reason"].astype(str), strict=True))
        for line in failure_lines(reasons, limit=5, what="event"):
            _err(f"  {line}")
        if len(result.trades) == 0 and len(result.failures) >= len(catalogue):
            _err("nothing was backtested: every event failed")
            raise typer.Exit(EXIT_NOTHING)
        raise typer.Exit(EXIT_PARTIAL)
    console.print(f"results written to {out}")


@app.command()
@handle_errors
def score(
    headlines: Annotated[Path, typer.Argument(
        help="Headline file: a time column (timestamp/datetime), ticker, headline[, summary].")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Event catalogue to write (CSV).")],
    timezone: Annotated[str | None, typer.Option(
        help="IANA time zone of times written without an offset (e.g. America/New_York). "
             "Required when the file has such times: none is assumed (default: none).")
    ] = None,
    text: Annotated[TextChoice, typer.Option(help="What to score: headline, summary or both.")
                    ] = TextChoice.headline,
    method: Annotated[MethodChoice, typer.Option(
        help="vader (social-media lexicon) or lm (Loughran-McDonald finance word lists: "
             "polarity plus lm_positive, lm_negative, lm_uncertainty, lm_litigious).")
    ] = MethodChoice.vader,
    dedupe: Annotated[str | None, typer.Option(
        help="Link near-duplicate headlines of a ticker within this window (e.g. 24h): the "
             "first keeps its row, the others are listed in its linked_ids (default: no "
             "linking).")] = None,
    skip_invalid: Annotated[bool, typer.Option(
        help="Write the valid rows of a file with bad rows (problems are printed).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")
                     ] = False,
) -> None:
    """Score headlines (VADER or Loughran-McDonald) and write them as an event catalogue."""
    from rich.markup import escape

    from marketreact.events.sentiment import read_headlines, score_frame
    from marketreact.output.files import write_csv

    frame, problems = read_headlines(headlines, timezone=timezone, strict=not skip_invalid)
    linked = 0
    if dedupe is not None:
        frame, linked = _dedupe_scored(frame, dedupe)
    scored = score_frame(frame, text.value, method.value)
    write_csv(scored, out)
    console = _console(quiet)
    console.print(escape(f"{_score_summary(scored, method.value, text.value)}; "
                         f"written to {out}"))
    if dedupe is not None:
        console.print(escape(f"{linked} near-duplicate headline(s) linked to an earlier one "
                             f"(within {dedupe}; listed in linked_ids)"))
    if problems:
        for p in problems[:10]:
            _err(str(p))
        _err(f"{len(problems)} row(s) left out")
        raise typer.Exit(EXIT_PARTIAL)
