"""``marketreact prices verify``: check the local price cache and report damaged entries."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from marketreact.cli.app import EXIT_PARTIAL, CacheOpt, _console, _err, handle_errors, prices_app
from marketreact.errors import InputError, InputProblem


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
