"""``marketreact intraday``: an event study on minute or hourly bars, into a results folder.

The command reads the events, reads the bars (``--prices csv:DIR``, adjusted with the
factor files found in ``DIR/factors`` or ``--factors``) or fetches them from Yahoo
(``--prices yahoo``, refused up front beyond Yahoo's look-back limits), runs
:class:`marketreact.study.intraday.IntradayStudy` and writes the folder.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from marketreact.cli.app import EXIT_PARTIAL, CacheOpt, _console, _err, app, handle_errors
from marketreact.errors import InputError, InputProblem


class VolumeStat(StrEnum):
    """The normal log volume of a bar: mean or median over the same time-of-day slot."""

    mean = "mean"
    median = "median"


def _bad(option: str, value: str, message: str) -> InputError:
    return InputError([InputProblem("command line", None, option, value, message)])


def _windows(texts: list[str], option: str) -> list[tuple[int, int]]:
    from marketreact.windows import parse_window

    out = []
    for text in texts:
        try:
            out.append(parse_window(text, option.lstrip("-")))
        except InputError:
            raise _bad(option, text, "is not of the form A:B (e.g. 0:1)") from None
    return out


def _session_table(result: object) -> Table:
    table = Table(title="CAAR (cross-sectional t)")
    for name in ("window", "N", "CAAR %", "t", "p", "RS z", "RS p"):
        table.add_column(name, justify="right")
    for frame in (result.aggregate, result.session):  # type: ignore[attr-defined]
        for row in frame.itertuples(index=False):
            d = row._asdict()
            rs = (f"{d['rs']:.3f}", f"{d['rs_p']:.4f}") if "rs" in d else ("", "")
            table.add_row(str(row.window), str(row.n), f"{100 * row.caar:+.4f}",
                          f"{row.t:.3f}", f"{row.p:.4f}", *rs)
    return table


@app.command()
@handle_errors
def intraday(
    events: Annotated[Path, typer.Argument(help="Event catalogue (CSV or JSON Lines) with "
                                           "timestamps.", exists=False)],
    prices: Annotated[str, typer.Option(
        "--prices", "-p", help="csv:DIR (TICKER.csv bar files, or hour/ and minute/ "
        "sub-folders) or yahoo.")] = "yahoo",
    interval: Annotated[str, typer.Option(
        "--interval", help="Bar length: 1m 2m 5m 15m 30m 60m 90m 1h.")] = "1h",
    window: Annotated[str, typer.Option(
        "--window", help="Event window in bars, A:B (e.g. -12:12).")] = "-3:3",
    car: Annotated[list[str] | None, typer.Option(
        "--car", help="CAR window in bars (repeat); default 0:0, 0:1 and the window.")] = None,
    model: Annotated[str, typer.Option(
        "--model", help="market-model, market-adjusted or constant-mean.")] = "market-model",
    market: Annotated[str | None, typer.Option(
        "--market", help="Market ticker for events without one, e.g. SPY [default: none: "
        "such events fail under the market models].")] = None,
    estimation_sessions: Annotated[int, typer.Option(
        "--estimation-sessions", help="Sessions before the event session whose regular "
        "bars estimate the model.")] = 20,
    min_estimation: Annotated[int | None, typer.Option(
        "--min-estimation", help="Fewest estimation bars (default: half of them).")] = None,
    standardise: Annotated[bool, typer.Option(
        "--time-of-day/--no-time-of-day", help="Scale each AR's variance by its time of "
        "day (U-shaped intraday volatility).")] = False,
    extended_hours: Annotated[bool, typer.Option(
        "--extended-hours", help="Use pre-market and after-hours bars when the data have "
        "them.")] = False,
    bar_stamp: Annotated[str, typer.Option(
        "--bar-stamp", help="Whether file timestamps mark the bar 'start' or 'end'.")] = "start",
    bar_tz: Annotated[str | None, typer.Option(
        "--bar-tz", help="Zone of timestamps without a UTC offset [default: none: such "
        "timestamps are refused].")] = None,
    factors: Annotated[Path | None, typer.Option(
        "--factors", help="Folder of Lean factor files (default DIR/factors).")] = None,
    splits_only: Annotated[bool, typer.Option(
        "--splits-only", help="Adjust for splits only (not dividends).")] = False,
    exchange: Annotated[str, typer.Option("--exchange", help="Calendar of the bars.")] = "XNYS",
    volume_stat: Annotated[VolumeStat, typer.Option(
        "--volume-stat", help="Normal log volume of a bar: the mean or median of "
        "ln(1+volume) in the same time-of-day slot of the estimation sessions.")
    ] = VolumeStat.mean,
    out: Annotated[Path, typer.Option("--out", "-o", help="Results folder.")] = Path(
        "results/intraday"),
    plots: Annotated[bool, typer.Option("--plots", help="Write the figures.")] = False,
    cache_dir: CacheOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing.")] = False,
) -> None:
    """Intraday event study: the bar the news fell in, and the bars around it."""
    from marketreact.calendar import exchange_timezone, normalise_exchange
    from marketreact.events import read_events
    from marketreact.output.folder import results_folder
    from marketreact.output.intraday import write_intraday
    from marketreact.prices.bars import (
        YAHOO_INTERVALS,
        fetch_yahoo_bars,
        parse_interval,
        read_bar_folder,
    )
    from marketreact.study.intraday import IntradayStudy

    code = normalise_exchange(exchange)
    if code is None:
        raise _bad("--exchange", exchange, "is not a known exchange calendar")
    if bar_stamp not in ("start", "end"):
        raise _bad("--bar-stamp", bar_stamp, "must be start or end")
    step = parse_interval(interval, "interval")
    (win,) = _windows([window], "--window")
    cars = _windows(car, "--car") if car else None
    study = IntradayStudy(interval, win, cars, model, market, estimation_sessions,
                          min_estimation, standardise, extended_hours, code,
                          volume_stat=VolumeStat(volume_stat).value)
    catalogue = read_events(events)
    frame = catalogue.frame
    markets = frame["market"].where(frame["market"] != "", market or "")
    tickers = list(dict.fromkeys([*frame["ticker"], *[m for m in markets if m]]))
    spec = prices.strip()
    if spec.lower().startswith("csv:"):
        folder = Path(spec[4:]).expanduser()
        if not folder.is_dir():
            raise _bad("--prices", spec, f"folder {str(folder)!r} not found")
        bars = read_bar_folder(folder, tickers, step, stamp=bar_stamp, tz=bar_tz,
                               factors=factors, dividends=not splits_only,
                               exchange_tz=exchange_timezone(code))
    elif spec.lower() == "yahoo":
        if interval not in YAHOO_INTERVALS:
            raise _bad("--interval", interval, "Yahoo serves " + ", ".join(YAHOO_INTERVALS))
        times = pd.to_datetime(frame["timestamp"], utc=True).dropna()
        if times.empty:
            raise _bad("--prices", spec, "no event has a timestamp")
        start = (times.min().normalize()
                 - pd.Timedelta(days=int(estimation_sessions * 1.5) + 4))
        end = times.max().normalize() + pd.Timedelta(days=max(win[1] * step.days, 0) + 6)
        bars = fetch_yahoo_bars(tickers, interval, start, end, extended=extended_hours,
                                cache_dir=cache_dir)
    else:
        raise _bad("--prices", spec, "use csv:DIR or yahoo")
    result = study.fit(catalogue, bars)
    with results_folder(out, command="intraday", inputs=[events]) as staging:
        write_intraday(result, staging, plots=plots,
                       inputs={"events": str(events), "prices": spec, "interval": interval})
    console = _console(quiet)
    console.print(result.summary())
    console.print(_session_table(result))
    console.print(f"wrote {out}")
    if len(result.failures):
        _err(f"{len(result.failures)} event(s) left out: see {out / 'failures.csv'}")
        raise typer.Exit(EXIT_PARTIAL)


if __name__ == "__main__":  # until cli/__init__.py imports this module: python -m ...
    app()
