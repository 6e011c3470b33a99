"""``marketreact news fetch``: news items from Yahoo, RSS/Atom feeds and EDGAR as a catalogue.

Register with ``from marketreact.cli import news`` (this module adds ``news_app`` to
:data:`marketreact.cli.app.app`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape

from marketreact.cli.app import EXIT_PARTIAL, _console, _err, app, handle_errors
from marketreact.errors import InputError

news_app = typer.Typer(help="Fetch news into event catalogues (Yahoo, RSS/Atom, SEC EDGAR).",
                       no_args_is_help=True)
app.add_typer(news_app, name="news")


def _since(text: str | None) -> pd.Timestamp | None:
    if text is None:
        return None
    try:
        value = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise InputError(f"--since {text!r} is not a date (YYYY-MM-DD or an ISO time)") from None
    if pd.isna(value):
        raise InputError(f"--since {text!r} is not a date")
    return value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")


def _window(text: str) -> pd.Timedelta:
    from marketreact.cli.backtest import _duration

    return _duration(text, "--dedupe-window")


def _sources(specs: list[str]) -> list[tuple[str, str]]:
    out = []
    for spec in specs:
        name, _, arg = spec.partition(":")
        name = name.strip().lower()
        if name in ("yahoo", "edgar") and not arg:
            out.append((name, ""))
        elif name == "rss" and arg.strip():
            out.append(("rss", arg.strip()))
        else:
            raise InputError(f"--source {spec!r}: use yahoo, edgar or rss:URL")
    return out


@news_app.command("fetch")
@handle_errors
def fetch(
    tickers: Annotated[list[str], typer.Argument(help="Yahoo symbols, e.g. AAPL MSFT.")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Catalogue (CSV) to create or grow: only new items are appended.")],
    source: Annotated[list[str], typer.Option(
        "--source", "-s", help="yahoo, rss:URL or edgar; repeat for several.")],
    since: Annotated[str | None, typer.Option(
        help="Leave out items published before this date (UTC; default: keep all).")] = None,
    forms: Annotated[str, typer.Option(
        help="EDGAR form types, comma-separated (e.g. 8-K,10-Q,10-K).")] = "8-K",
    user_agent: Annotated[str | None, typer.Option(
        help="Contact User-Agent the SEC requires for edgar (\"Name email@example.com\"); "
             "default: $MARKETREACT_SEC_USER_AGENT.")] = None,
    entities: Annotated[list[Path] | None, typer.Option(
        help="Gazetteer CSV adding company names for rss ticker mapping (repeatable; "
             "default: the built-in one only).")
    ] = None,
    count: Annotated[int, typer.Option(help="Yahoo items asked for per ticker.")] = 50,
    dedupe_window: Annotated[str, typer.Option(
        help="Items of a ticker this close in time with near-identical titles are one story "
             "(the first keeps the row).")] = "24h",
    dedupe_threshold: Annotated[float, typer.Option(
        help="rapidfuzz token_sort_ratio (0-100) of normalised titles to count as one story.")
    ] = 90.0,
    retries: Annotated[int, typer.Option(help="Tries per request (network faults, HTTP 429, "
                                              "5xx, empty or malformed answers).")] = 3,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")
                     ] = False,
) -> None:
    """Fetch news for TICKERS into an event catalogue ready for study and backtest."""
    from marketreact.events.news.edgar import USER_AGENT_ENV, EdgarClient, check_user_agent
    from marketreact.events.news.http import FetchError
    from marketreact.events.news.merge import (
        merge_news,
        news_frame,
        read_news_catalogue,
        to_csv_frame,
    )
    from marketreact.events.news.yahoo import fetch_yahoo
    from marketreact.output.files import write_csv

    symbols = list(dict.fromkeys(t.strip().upper() for t in tickers if t.strip()))
    if not symbols:
        raise InputError("name at least one ticker")
    if not 1 <= retries <= 10:
        raise InputError("--retries must be from 1 to 10")
    if not 1 <= count <= 500:
        raise InputError("--count must be from 1 to 500")
    if not 0 <= dedupe_threshold <= 100:
        raise InputError("--dedupe-threshold must be from 0 to 100")
    plan = _sources(source)
    start = _since(since)
    window = _window(dedupe_window)
    form_list = [f.strip() for f in forms.split(",") if f.strip()]
    agent = None
    if any(name == "edgar" for name, _ in plan):
        agent = check_user_agent(user_agent or os.environ.get(USER_AGENT_ENV))
    if out.exists() and not out.is_file():
        raise InputError(f"--out {out} is not a file")
    existing = read_news_catalogue(out)
    console = _console(quiet)
    frames: list[pd.DataFrame] = []
    failures: list[str] = []

    def report(what: str, frame: pd.DataFrame, skipped: int, extra: str = "") -> None:
        if start is not None:
            frame = frame.loc[frame["timestamp"] >= start]
        frames.append(frame)
        note = f", {skipped} without a title or time left out" if skipped else ""
        console.print(escape(f"{what}: {len(frame)} item(s){note}{extra}"))

    for name, arg in plan:
        if name == "yahoo":
            for symbol in symbols:
                try:
                    frame, skipped = fetch_yahoo(symbol, count=count, retries=retries)
                except FetchError as exc:
                    failures.append(str(exc))
                    continue
                report(f"{symbol}: yahoo", frame, skipped)
        elif name == "edgar":
            assert agent is not None
            client = EdgarClient(agent, retries=retries)
            for symbol in symbols:
                try:
                    frame, skipped = client.fetch(symbol, forms=form_list, since=start)
                except FetchError as exc:
                    failures.append(str(exc))
                    continue
                report(f"{symbol}: edgar", frame, skipped)
        else:
            from marketreact.articles.entities import load_gazetteer
            from marketreact.articles.feeds import feed_rows
            from marketreact.events.news.rss import fetch_feed

            try:
                items, skipped = fetch_feed(arg, retries=retries)
            except FetchError as exc:
                failures.append(str(exc))
                continue
            rows, unmatched = feed_rows(items, load_gazetteer(entities or []), symbols)
            report(f"rss {arg}", rows, skipped,
                   f" for {', '.join(symbols)} ({unmatched} item(s) name none of them)")
    fetched = pd.concat(frames, ignore_index=True) if frames else news_frame([])
    if not len(fetched):
        fetched = news_frame([])
    result = merge_news(existing, fetched, window=window, threshold=dedupe_threshold)
    changed = result.added or result.superseded or (result.linked and existing is not None)
    if len(result.frame) and (changed or existing is None):
        write_csv(to_csv_frame(result.frame), out)
        console.print(escape(
            f"{result.added} new row(s) written to {out} ({len(result.frame)} in all); "
            f"{result.known} already there, {result.linked} linked as near-duplicates"))
        for event_id in result.superseded[:10]:
            console.print(escape(f"note: {event_id} is now linked to an earlier report of the "
                                 "same story"))
    elif existing is not None:
        console.print(escape(f"nothing new for {out} ({result.known} item(s) already there)"))
    else:
        console.print(escape(f"nothing fetched: {out} not written"))
    for line in failures:
        _err(line)
    if failures:
        raise typer.Exit(EXIT_PARTIAL)
