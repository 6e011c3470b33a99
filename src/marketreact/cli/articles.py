"""``marketreact extract`` and ``marketreact verify``: article -> events -> checked claims."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from marketreact._textio import check_regular_file
from marketreact.cli.app import (
    EXIT_PARTIAL,
    CacheOpt,
    PricesOpt,
    _console,
    _err,
    app,
    handle_errors,
)
from marketreact.errors import InputError, InputProblem
from marketreact.output.folder import check_target, results_folder


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in rec.items()} for rec in frame.to_dict("records")]


def _pct(value: Any) -> str:
    return "" if value is None or pd.isna(value) else f"{float(value):+.2f}%"


def _claims_table(claims: pd.DataFrame) -> Table:
    table = Table(title=f"Stated price moves ({len(claims)})")
    for name in ("claim", "company", "ticker", "date", "move", "kind", "sentence"):
        table.add_column(name)
    for r in _records(claims):
        size = "" if pd.isna(r["magnitude_pct"]) else " " + " ".join(
            p for p in (str(r["qualifier"]), f"{float(r['magnitude_pct']):g}%") if p)
        when = str(r["date_start"]) if r["date_start"] == r["date_end"] else \
            f"{r['date_start']}..{r['date_end']}"
        table.add_row(str(r["claim_id"]), str(r["company"]), str(r["ticker"]) or
                      f"({r['status']})", when, f"{r['direction']}{size}", str(r["kind"]),
                      str(r["sentence"]))
    return table


def _events_table(events: pd.DataFrame) -> Table:
    table = Table(title=f"Events ({len(events)})")
    for name in ("event", "ticker", "when", "news"):
        table.add_column(name)
    for r in _records(events):
        when = str(r["timestamp"]) or f"{r['date']} {r['timing']}"
        table.add_row(str(r["event_id"]), str(r["ticker"]), when, str(r["news"]))
    return table


@app.command()
@handle_errors
def extract(
    article: Annotated[Path, typer.Argument(help="The article as a UTF-8 text file.")],
    published: Annotated[str, typer.Option(
        help="Publication time: ISO 8601 with a UTC offset (2023-12-05T10:30:00+07:00), "
        "or a date (2023-12-05) with --timing.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the result files.")],
    entities: Annotated[list[Path] | None, typer.Option(
        "--entities", "-e", help="Gazetteer CSV adding to (and overriding) the built-in one; "
        "repeatable (default: the built-in one only).")] = None,
    timing: Annotated[str | None, typer.Option(
        help="For a date: pre, intra, post or unknown (relative to a trading session); "
        "default: none (--published must then carry a time and UTC offset).")
    ] = None,
    timing_exchange: Annotated[str | None, typer.Option(
        help="Exchange whose session --timing refers to (e.g. XIDX); default: each company's.")
    ] = None,
    builtin_entities: Annotated[bool, typer.Option(
        help="Use the built-in gazetteer (marketreact/data/entities.csv).")] = True,
    event_prefix: Annotated[str | None, typer.Option(
        help="Start of every event_id (default: the article's file name).")] = None,
    headline: Annotated[str | None, typer.Option(
        help="Headline for the events (default: found in the text).")] = None,
    source: Annotated[str, typer.Option(
        help="Value of the events' source column (default: empty).")] = "",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")
                     ] = False,
) -> None:
    """Extract dated events and stated price moves from a news article."""
    from marketreact.articles import extract_article, load_gazetteer, parse_publication
    from marketreact.articles.text import decode_article
    from marketreact.output.articles import write_extraction

    check_regular_file(article, "article")
    check_target(out, [article, *(entities or [])])
    pub = parse_publication(published, timing, timing_exchange)
    gazetteer = load_gazetteer(entities or [], builtin=builtin_entities)
    text = decode_article(article.read_bytes(), str(article))
    result = extract_article(text, pub, gazetteer, source=str(article),
                             event_prefix=event_prefix or article.stem, headline=headline,
                             news_source=source)
    with results_folder(out, command="extract",
                        inputs=[article, *(entities or [])]) as staging:
        write_extraction(result, staging, inputs={
            "article": str(article), "published": published, "timing": timing,
            "timing_exchange": timing_exchange, "entities": [str(e) for e in entities or []],
            "builtin_entities": builtin_entities})
    console = _console(quiet)
    console.print(result.summary())
    if len(result.events):
        console.print(_events_table(result.events))
    if len(result.claims):
        console.print(_claims_table(result.claims))
    console.print(f"results written to {out}")


@app.command()
@handle_errors
def verify(
    claims: Annotated[Path, typer.Argument(help="claims.csv written by 'marketreact extract'.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for verdicts.csv.")],
    prices: PricesOpt = ["yahoo"],  # noqa: B006
    tolerance: Annotated[float, typer.Option(
        help="Percentage points a measured move may differ from the stated one (0 to 100).")
    ] = 0.5,
    cache_dir: CacheOpt = None,
    bars: Annotated[Path | None, typer.Option(
        "--bars", help="Folder of intraday bar files (TICKER.csv, or hour/ and minute/ "
        "sub-folders, e.g. ../shared/data/intraday): claims on tickers with bars are judged "
        "on the bars (order of the low and the high) [default: daily prices only].")] = None,
    bar_interval: Annotated[str, typer.Option(
        "--bar-interval", help="Bar length of --bars: 1m, 5m, 1h ...")] = "1m",
    bar_stamp: Annotated[str, typer.Option(
        "--bar-stamp", help="Whether bar file timestamps mark the bar 'start' or 'end'.")
    ] = "start",
    bar_tz: Annotated[str | None, typer.Option(
        "--bar-tz", help="Zone of bar timestamps without a UTC offset [default: none: such "
        "timestamps are refused].")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")
                     ] = False,
) -> None:
    """Check stated price moves against prices or bars: supported, contradicted, unverifiable.

    With --bars, claims on tickers that have intraday bars on the claimed session are
    judged on the bars (a reversal in its order: the low before the high).
    """
    if not math.isfinite(tolerance) or not 0 <= tolerance <= 100:
        raise InputError([InputProblem("command line", None, "--tolerance", str(tolerance),
                                       "must be a number of percentage points from 0 to 100")])
    from marketreact.articles.verify import read_claims, verify_claims
    from marketreact.output.articles import write_verification
    from marketreact.prices import source_from_spec

    protected = [claims, *prices, cache_dir, bars]
    check_target(out, protected)
    table_in = read_claims(claims)
    source = source_from_spec("+".join(prices), str(cache_dir) if cache_dir else None)
    bar_frames = None
    no_bars: list[str] = []
    where = Path()
    if bars is not None:
        from marketreact.prices.bars import bar_folder, parse_interval, read_bar_folder

        if not bars.is_dir():
            raise InputError([InputProblem("command line", None, "--bars", str(bars),
                                           "folder not found")])
        if bar_stamp not in ("start", "end"):
            raise InputError([InputProblem("command line", None, "--bar-stamp", bar_stamp,
                                           "must be start or end")])
        step = parse_interval(bar_interval, "bar_interval")
        where = bar_folder(bars, step)
        claimed = [t for t in dict.fromkeys(table_in["ticker"]) if t]
        have = [t for t in claimed if (where / f"{t}.csv").is_file()]
        bar_frames = read_bar_folder(bars, have, step, stamp=bar_stamp,
                                     tz=bar_tz) if have else {}
        no_bars = [t for t in claimed if t not in have]
    result = verify_claims(table_in, source, tolerance=tolerance, bars=bar_frames)
    with results_folder(out, command="verify", inputs=protected) as staging:
        write_verification(result, staging, inputs={"claims": str(claims), "prices": prices,
                                                   "bars": None if bars is None else str(bars),
                                                   "bar_interval": bar_interval,
                                                   "bar_stamp": bar_stamp, "bar_tz": bar_tz})
    console = _console(quiet)
    for t in no_bars if bars is not None else []:
        console.print(escape(f"note: {t}: no {bar_interval} bar file "
                             f"{str(where / (t + '.csv'))!r}; its claims are judged on "
                             "daily prices"), style="dim")
    table = Table(title=f"Verdicts (tolerance {result.tolerance:g} pp)")
    for name in ("claim", "ticker", "date", "kind", "stated", "high/low/close vs prev",
                 "verdict"):
        table.add_column(name)
    for r in _records(result.verdicts):
        stated = str(r["direction"]) + (
            "" if pd.isna(r["magnitude_pct"]) else f" {float(r['magnitude_pct']):g}%")
        measured = " / ".join(_pct(r[k]) for k in (
            "high_vs_prev_pct", "low_vs_prev_pct", "close_vs_prev_pct"))
        table.add_row(str(r["claim_id"]), str(r["ticker"]),
                      str(pd.Timestamp(r["date_start"]).date()), str(r["kind"]), stated,
                      measured.strip(" /"), str(r["verdict"]))
    console.print(table)
    counts = result.counts()
    console.print(", ".join(f"{k}: {v}" for k, v in counts.items()))
    console.print(f"results written to {out}")
    if result.failures:
        for ticker, why in result.failures.items():
            _err(f"{ticker}: {why}")
        raise typer.Exit(EXIT_PARTIAL)
