"""The ``marketreact`` command line.

Commands only parse options, call the library and print. Exit codes: 0 when
everything asked was done, 1 when results were written but some events or
tickers failed, 2 for bad usage or input, 3 for an unexpected internal error.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from marketreact import __version__
from marketreact.errors import InputError, InputProblem, MarketReactError

app = typer.Typer(help="Measure how markets react to news: event studies and backtests.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
prices_app = typer.Typer(help="Fetch, cache and inspect daily prices.", no_args_is_help=True)
app.add_typer(prices_app, name="prices")

EXIT_OK, EXIT_PARTIAL, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
F = TypeVar("F", bound=Callable[..., Any])


class OutputFormat(str, Enum):
    """Table formats written by commands that take ``--format``."""

    csv = "csv"
    json = "json"


def _console(quiet: bool = False) -> Console:
    return Console(quiet=quiet, highlight=False, soft_wrap=True)


def _err(message: str) -> None:
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[red]error:[/red] {escape(message)}")


#: Most problems printed for one bad input (the rest are counted).
MAX_PROBLEMS = 20


def _option_problem(problem: InputProblem) -> InputProblem:
    """Name the command-line option behind a problem with a study setting."""
    if problem.source != "settings" or problem.field is None:
        return problem
    option = {"car_windows": "car"}.get(problem.field, problem.field).replace("_", "-")
    return replace(problem, source="command line", field=f"--{option}")


def handle_errors(func: F) -> F:
    """Turn library errors into one clear line and a meaningful exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            for problem in exc.problems[:MAX_PROBLEMS]:
                _err(str(_option_problem(problem)))
            if len(exc.problems) > MAX_PROBLEMS:
                _err(f"... and {len(exc.problems) - MAX_PROBLEMS} more problem(s)")
            raise typer.Exit(EXIT_INPUT) from None
        except MarketReactError as exc:
            _err(str(exc))
            raise typer.Exit(EXIT_INPUT) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except OSError as exc:  # a path that cannot be read or written: the user's to fix
            where = f"{exc.filename}: " if exc.filename else ""
            _err(f"{where}{exc.strerror or exc}")
            raise typer.Exit(EXIT_INPUT) from None
        except Exception as exc:
            if os.environ.get("MARKETREACT_DEBUG"):
                raise
            _err(f"internal error: {type(exc).__name__}: {exc} "
                 "(set MARKETREACT_DEBUG=1 for a traceback)")
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper  # type: ignore[return-value]


def version_callback(value: bool) -> None:
    """Print the version and exit."""
    if value:
        typer.echo(f"marketreact {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=version_callback,
                                          is_eager=True, help="Show the version.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
) -> None:
    """Measure how markets react to news."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _study_table(result: Any) -> Table:
    table = Table(title="CAAR by window (cross-sectional t)")
    for name in ("window", "N", "CAAR", "t", "p", "mean BHAR"):
        table.add_column(name, justify="right")
    for row in result.aggregate.itertuples(index=False):
        table.add_row(row.window, str(row.n), f"{row.caar:.5f}", f"{row.t:.3f}", f"{row.p:.4f}",
                      f"{row.mean_bhar:.5f}")
    return table


def _event_table(result: Any, window: str) -> Table:
    table = Table(title=f"Events: day-0 AR and CAR{window}")
    for name in ("event", "ticker", "day 0", "AR(0)", "CAR", "t", "p"):
        table.add_column(name, justify="right" if name not in ("event", "ticker") else "left")
    ar0 = result.abnormal_returns.query("rel_day == 0").set_index("event_id")["ar"]
    car = result.car.loc[result.car["window"] == window].set_index("event_id")
    for row in result.events.itertuples(index=False):
        c = car.loc[row.event_id] if row.event_id in car.index else None
        table.add_row(row.event_id, row.ticker, str(pd.Timestamp(row.day0).date()),
                      f"{ar0.get(row.event_id, float('nan')):+.4f}",
                      f"{c['car']:+.4f}" if c is not None else "",
                      f"{c['car_t']:.2f}" if c is not None else "",
                      f"{c['car_p']:.3f}" if c is not None else "")
    return table


PricesOpt = Annotated[list[str], typer.Option(
    "--prices", "-p", help="Price source: csv:DIR (a folder of per-ticker files) or yahoo. "
    "Repeat to try several in order.")]
CacheOpt = Annotated[Path | None, typer.Option(
    "--cache-dir", help="Cache folder for Yahoo prices (default: the user cache folder).")]


@app.command()
@handle_errors
def study(
    events: Annotated[Path, typer.Argument(help="Event catalogue (CSV or JSON Lines).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the result files.")],
    prices: PricesOpt = ["yahoo"],  # noqa: B006
    model: Annotated[str, typer.Option(
        help="Normal-return model: constant-mean, market-adjusted, market-model.")
    ] = "market-model",
    estimation: Annotated[str, typer.Option(help="Estimation window A:B in sessions.")
                          ] = "-250:-11",
    window: Annotated[str, typer.Option(help="Event window A:B in sessions.")] = "-10:10",
    car: Annotated[list[str] | None, typer.Option(
        "--car", help="CAR window A:B (repeatable; default -1:1, 0:0, 0:1, -5:5).")] = None,
    market: Annotated[str | None, typer.Option(
        help="Market index for events without a 'market' column (default: the exchange's).")
    ] = None,
    returns: Annotated[str, typer.Option(help="Return definition: simple or log.")] = "simple",
    min_estimation: Annotated[int, typer.Option(
        help="Fewest estimation returns an event may have.")] = 120,
    skip_invalid: Annotated[bool, typer.Option(
        help="Study the valid rows of a catalogue with bad rows (reported in failures.csv).")
    ] = False,
    cache_dir: CacheOpt = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Also write JSON tables.")
                   ] = OutputFormat.csv,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")
                     ] = False,
) -> None:
    """Run an event study of abnormal returns around each event and write CSV results."""
    from marketreact.events import read_events
    from marketreact.models import ModelName
    from marketreact.output import write_study
    from marketreact.panel import ReturnKind
    from marketreact.prices import source_from_spec
    from marketreact.study import DEFAULT_CAR_WINDOWS, EventStudy, StudySettings, parse_window

    try:
        model_name = ModelName(model)
    except ValueError:
        raise InputError([InputProblem("command line", None, "--model", model,
                                       "unknown model; choose from "
                                       f"{', '.join(m.value for m in ModelName)}")]) from None
    try:
        kind = ReturnKind(returns)
    except ValueError:
        raise InputError([InputProblem("command line", None, "--returns", returns,
                                       "unknown returns; choose simple or log")]) from None
    settings = StudySettings(
        model=model_name, estimation=parse_window(estimation, "estimation"),
        window=parse_window(window, "window"),
        car_windows=tuple(parse_window(c, "car_windows") for c in car) if car
        else DEFAULT_CAR_WINDOWS,
        min_estimation=min_estimation, market=market.upper() if market else None,
        returns=kind)
    catalogue = read_events(events, strict=not skip_invalid)
    source = source_from_spec("+".join(prices), str(cache_dir) if cache_dir else None)
    result = EventStudy(settings).fit(catalogue, source)
    if catalogue.problems:
        invalid = pd.DataFrame({"event_id": [f"line {p.line}" for p in catalogue.problems],
                                "ticker": "", "reason": [str(p) for p in catalogue.problems]})
        result = _with_failures(result, invalid)
    write_study(result, out, fmt=fmt.value, inputs={
        "events": str(events), "prices": prices, "events_in_file": len(catalogue)
        + len(catalogue.problems)})
    console = _console(quiet)
    console.print(_study_table(result))
    first = result.settings.car_windows[0]
    from marketreact.study import format_window

    console.print(_event_table(result, format_window(first)))
    for note in result.diagnostics:
        console.print(f"[dim]note: {note}[/dim]")
    if len(result.failures):
        _err(f"{len(result.failures)} event(s) could not be studied; reasons in "
             f"{out / 'failures.csv'}")
        lines = dict(zip(catalogue.frame["event_id"], catalogue.frame["line"], strict=True))
        for row in result.failures.head(10).itertuples(index=False):
            where = f"{events}:{lines[row.event_id]}: " if row.event_id in lines else ""
            _err(f"  {where}event {row.event_id}: {row.reason}")
        if len(result.failures) > 10:
            _err(f"  ... and {len(result.failures) - 10} more")
        raise typer.Exit(EXIT_PARTIAL)
    console.print(f"results written to {out}")


def _with_failures(result: Any, extra: pd.DataFrame) -> Any:
    from dataclasses import replace

    return replace(result, failures=pd.concat([result.failures, extra], ignore_index=True))


def _date(text: str | None, name: str) -> pd.Timestamp | None:
    if text is None:
        return None
    try:
        return pd.Timestamp(text).normalize()
    except ValueError:
        raise InputError(f"--{name} {text!r} is not a date (YYYY-MM-DD)") from None


@prices_app.command("fetch")
@handle_errors
def prices_fetch(
    tickers: Annotated[list[str], typer.Argument(help="Yahoo tickers, e.g. GOTO.JK ^JKSE.")],
    start: Annotated[str, typer.Option(help="First date (YYYY-MM-DD).")] = "2000-01-01",
    end: Annotated[str | None, typer.Option(help="Last date (default: today).")] = None,
    cache_dir: CacheOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Download prices from Yahoo Finance into the local cache (only what is missing)."""
    from marketreact.prices import PriceStore, YahooSource

    store = PriceStore(cache_dir)
    got = YahooSource(store).fetch([t.upper() for t in tickers], _date(start, "start"),
                                   _date(end, "end"))
    console = _console(quiet)
    table = Table(title=f"Cached in {store.folder}")
    for name in ("ticker", "rows", "first", "last"):
        table.add_column(name)
    for t, frame in got.frames.items():
        table.add_row(t, str(len(frame)), str(frame.index.min().date()) if len(frame) else "",
                      str(frame.index.max().date()) if len(frame) else "")
    console.print(table)
    for t, why in got.failures.items():
        _err(f"{t}: {why}")
    if got.failures:
        raise typer.Exit(EXIT_PARTIAL)


@prices_app.command("show")
@handle_errors
def prices_show(
    ticker: Annotated[str, typer.Argument(help="Ticker to show.")],
    prices: PricesOpt = ["yahoo"],  # noqa: B006
    start: Annotated[str | None, typer.Option(help="First date.")] = None,
    end: Annotated[str | None, typer.Option(help="Last date.")] = None,
    tail: Annotated[int, typer.Option(help="Rows to print (from the end).")] = 10,
    cache_dir: CacheOpt = None,
) -> None:
    """Print a ticker's prices (from the cache for yahoo, or from csv:DIR)."""
    from marketreact.prices import source_from_spec

    source = source_from_spec("+".join(prices), str(cache_dir) if cache_dir else None)
    got = source.fetch([ticker.upper()], _date(start, "start"), _date(end, "end"))
    if ticker.upper() not in got.frames:
        raise InputError(f"{ticker}: {got.failures.get(ticker.upper(), 'no prices')}")
    frame = got.frames[ticker.upper()]
    table = Table(title=f"{ticker.upper()}: {len(frame)} rows, "
                        f"{frame.index.min().date()} .. {frame.index.max().date()}")
    table.add_column("date")
    for col in frame.columns:
        table.add_column(col, justify="right")
    for date, row in frame.tail(tail).iterrows():
        table.add_row(str(pd.Timestamp(date).date()),  # type: ignore[arg-type]
                      *[f"{v:,.4f}" if pd.notna(v) else "" for v in row])
    _console().print(table)


# Commands defined in marketreact.commands.* register themselves on `app` when imported.
# (one import line per module below)
from marketreact.commands import cache as _cache  # noqa: E402,F401
