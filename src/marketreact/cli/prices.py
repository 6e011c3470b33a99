"""``marketreact prices``: fetch, show, verify and clear the local price cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from marketreact.cli.app import (
    EXIT_NOTHING,
    EXIT_PARTIAL,
    CacheOpt,
    PricesOpt,
    SafeConsole,
    _console,
    _err,
    failure_lines,
    handle_errors,
    prices_app,
)
from marketreact.errors import InputError, InputProblem
from marketreact.progress import progress_bar


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
    with progress_bar(quiet):
        got = YahooSource(store, offline_after=1).fetch(
            [t.upper() for t in tickers], _date(start, "start"), _date(end, "end"))
    if not got.frames and got.failures:  # nothing fetched: no empty table, one line per reason
        for line in failure_lines(got.failures):
            _err(line)
        raise typer.Exit(EXIT_NOTHING)
    console = _console(quiet)
    table = Table(title=f"Cached in {store.folder}")
    for name in ("ticker", "rows", "first", "last"):
        table.add_column(name)
    for t, frame in got.frames.items():
        table.add_row(t, str(len(frame)), str(frame.index.min().date()) if len(frame) else "",
                      str(frame.index.max().date()) if len(frame) else "")
    console.print(table)
    for line in failure_lines(got.failures):
        _err(line)
    if got.failures:
        raise typer.Exit(EXIT_PARTIAL)


def _number(value: Any, column: Any = "") -> str:
    """A price or volume for a terminal table: short, without losing meaningful digits."""
    if pd.isna(value):
        return ""
    if column == "volume" or abs(value) >= 1e6:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4g}"


@prices_app.command("show")
@handle_errors
def prices_show(
    ticker: Annotated[str, typer.Argument(help="Ticker to show.")],
    prices: PricesOpt = ["yahoo"],  # noqa: B006
    start: Annotated[str | None, typer.Option(
        help="First date, YYYY-MM-DD (default: the first in the file or cache).")] = None,
    end: Annotated[str | None, typer.Option(
        help="Last date, YYYY-MM-DD (default: the last in the file or cache).")] = None,
    tail: Annotated[int, typer.Option(min=1, max=100_000,
                                      help="Rows to print (from the end).")] = 10,
    cache_dir: CacheOpt = None,
) -> None:
    """Print a ticker's prices (from the cache for yahoo, or from csv:DIR)."""
    from marketreact.prices import source_from_spec

    first, last = _date(start, "start"), _date(end, "end")
    if first is not None and last is not None and first > last:
        raise InputError([InputProblem("command line", None, "--start", start,
                                       f"is after --end {end}")])
    source = source_from_spec("+".join(prices), str(cache_dir) if cache_dir else None)
    got = source.fetch([ticker.upper()], first, last)
    if ticker.upper() not in got.frames:
        raise InputError(f"{ticker}: {got.failures.get(ticker.upper(), 'no prices')}")
    frame = got.frames[ticker.upper()]
    table = Table(title=f"{ticker.upper()}: {len(frame)} rows, "
                        f"{frame.index.min().date()} .. {frame.index.max().date()}")
    table.add_column("date", no_wrap=True, min_width=10)
    for col in frame.columns:
        table.add_column(col, justify="right", no_wrap=True)
    for date, row in frame.tail(tail).iterrows():
        table.add_row(str(pd.Timestamp(date).date()),  # type: ignore[arg-type]
                      *[_number(v, col) for col, v in row.items()])
    console = _console()
    if not console.is_terminal:  # piped: rich would squeeze the table into 80 columns
        console = SafeConsole(width=120)
    console.print(table)


@prices_app.command("verify")
@handle_errors
def prices_verify(
    cache_dir: CacheOpt = None,
    remove_damaged: Annotated[bool, typer.Option(
        "--remove-damaged", help="Delete damaged entries (fetched again when next needed) and "
        "leftovers of interrupted writes.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only problems.")] = False,
) -> None:
    """Check every entry of the price cache; exit 1 when any is damaged."""
    from marketreact.prices import PriceStore

    if cache_dir is not None and not Path(cache_dir).is_dir():
        raise InputError([InputProblem("command line", None, "--cache-dir", str(cache_dir),
                                       "cache folder not found")])
    store = PriceStore(cache_dir)
    checks = store.verify(remove_damaged=remove_damaged)
    console = _console(quiet)
    if not checks:
        console.print(f"no cache entries in {store.folder}")
        return
    table = Table(title=f"Price cache {store.folder}")
    for name in ("file", "ticker", "rows", "first", "last", "status"):
        table.add_column(name, justify="right" if name == "rows" else "left")
    for c in checks:
        table.add_row(c.path.name, c.ticker or "", str(c.rows) if c.status == "ok" else "",
                      str(c.first.date()) if c.first is not None else "",
                      str(c.last.date()) if c.last is not None else "", c.status)
    console.print(table)
    damaged = [c for c in checks if c.status == "damaged"]
    stale = [c for c in checks if c.status == "stale"]
    done = " (removed)" if remove_damaged else ""
    for c in damaged:
        _err(f"{c.path}: damaged{done}: {c.problem}")
    for c in stale:
        console.print(f"note: {c.path}: {c.problem}{done}")
    ok = len(checks) - len(damaged) - len(stale)
    console.print(f"{ok} entr{'y' if ok == 1 else 'ies'} ok, {len(damaged)} damaged, "
                  f"{len(stale)} leftover temporary file(s)")
    if damaged:
        if not remove_damaged:
            _err("damaged entries are fetched again when next needed; or run with "
                 "--remove-damaged")
        raise typer.Exit(EXIT_PARTIAL)
