"""``marketreact calendar-time``: calendar-time portfolios (Jaffe 1974, Mitchell-Stafford 2000).

The catalogue and prices are read as ``marketreact study`` reads them; each event is
anchored to its day 0 by the study's own lineup (:func:`marketreact.panel.lineup.line_up`:
the exchange's sessions, the moment the news is known), the one-period simple returns of
the adjusted closes on those sessions (or on month ends with ``--frequency monthly``) form
the ``(dates x tickers)`` frame, and
:func:`marketreact.inference.calendar_time.calendar_time_portfolio` regresses the portfolio
of the firms within ``[0, H]`` of their event on the market or the Fama-French / Carhart
factors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from marketreact.cli.app import CacheOpt, PricesOpt, _console, app, handle_errors
from marketreact.errors import InputError, InputProblem
from marketreact.output.folder import check_target, results_folder
from marketreact.progress import progress_bar

#: Default horizon ``H`` by frequency: the study's long windows [0, 251] sessions and
#: [0, 11] months.
DEFAULT_HORIZON = {"daily": 251, "monthly": 11}
#: Estimation periods ``K`` of the standardised variant by frequency (the study's
#: estimation lengths: 250 sessions, 60 months).
ESTIMATION = {"daily": 250, "monthly": 60}
#: Largest horizon accepted.
MAX_HORIZON = 10_000
#: Sessions loaded per month (about 21 a month, with a margin), as ``study`` does.
MONTH_SESSIONS = 23


def _problem(option: str, value: object, message: str) -> InputError:
    return InputError([InputProblem("command line", None, option, str(value), message)])


def _returns_frame(lineups: list[Any]) -> pd.DataFrame:
    """One-period simple returns of every lined-up ticker, dates x tickers (exchanges joined)."""
    parts = []
    for lu in lineups:
        panel = lu.panel
        one = np.where(panel.span == 1, panel.returns, np.nan)  # a gap's return is not one period
        parts.append(pd.DataFrame(one.T, index=pd.DatetimeIndex(lu.sessions.labels),
                                  columns=list(panel.tickers)))
    frame = pd.concat(parts, axis=1, join="outer").sort_index()
    return frame.T.groupby(level=0).first().T  # a ticker on two exchanges' panels: once


def _monthly_factors(daily: pd.DataFrame) -> pd.DataFrame:
    """Daily factor returns compounded over each calendar month, dated at the month end."""
    from marketreact.prices.monthly import PARTIAL_DAYS, month_ends

    index = pd.DatetimeIndex(daily.index)
    ends = month_ends(index)
    grown = np.expm1(np.log1p(daily).groupby(ends.to_numpy()).sum(min_count=1))
    if len(grown) and (grown.index[-1] - index.max()).days > PARTIAL_DAYS:
        grown = grown.iloc[:-1]  # a last month the file covers in part only
    return grown


@app.command("calendar-time")
@handle_errors
def calendar_time(
    events: Annotated[Path, typer.Argument(help="Event catalogue (CSV or JSON Lines).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the result files.")],
    prices: PricesOpt = ["yahoo"],  # noqa: B006
    model: Annotated[str, typer.Option(
        help="Factors of the regression: market (the market's excess return), ff3 "
             "(Fama-French three factors) or carhart (ff3 and momentum).")] = "market",
    factors: Annotated[list[Path] | None, typer.Option(
        "--factors", help="Daily factor file (Ken French CSV or any factor CSV; repeat to "
        "merge files, e.g. the momentum factor); compounded into months with --frequency "
        "monthly [default: none: --model market on the --market index with rf = 0].")] = None,
    factor_units: Annotated[str, typer.Option(
        help="Units of --factors values: auto (Ken French files percent, other CSVs "
             "decimal), percent or decimal.")] = "auto",
    market: Annotated[str | None, typer.Option(
        help="Market index: its return is the market factor when no --factors file is given "
             "(rf = 0), and its dates are the monthly sessions [default: the events' own "
             "market, else their exchange's index].")] = None,
    horizon: Annotated[int | None, typer.Option(
        help="H: a firm is in the portfolio from its day 0 to H periods after it, inclusive; "
             "1 to 10000 [default: 251 sessions daily, 11 months monthly, the study's long "
             "windows 0:251 and 0:11].")] = None,
    frequency: Annotated[str, typer.Option(
        help="daily (exchange sessions) or monthly (calendar months built from the daily "
             "prices, dated at the month's last business day; month 0: the month of the "
             "news).")] = "daily",
    weighting: Annotated[str, typer.Option(
        help="Portfolio weights: equal. value needs firm sizes (market caps), which no "
             "price file carries: it is refused.")] = "equal",
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
    from marketreact.inference.calendar_time import MODEL_FACTORS, calendar_time_portfolio
    from marketreact.output.calendar_time import write_calendar_time
    from marketreact.output.provenance import input_records, run_record
    from marketreact.panel.lineup import assign_markets, line_up, price_table
    from marketreact.prices import load_prices, source_from_spec

    protected = [events, *prices, cache_dir, *(factors or [])]
    check_target(out, protected)
    argv = command_line()
    freq = str(frequency).strip().lower()
    if freq not in ("daily", "monthly"):
        raise _problem("--frequency", frequency, "choose daily or monthly")
    if model not in MODEL_FACTORS:
        raise _problem("--model", model, f"unknown model {model!r}; choose "
                       f"{', '.join(MODEL_FACTORS)}")
    if weighting not in ("equal", "value"):
        raise _problem("--weighting", weighting, "choose equal")
    if weighting == "value":
        raise _problem("--weighting", weighting, "value weighting needs firm sizes (market "
                       "caps), which the price files do not carry; use equal")
    h = DEFAULT_HORIZON[freq] if horizon is None else int(horizon)
    if not 1 <= h <= MAX_HORIZON:
        raise _problem("--horizon", h, f"must be 1 to {MAX_HORIZON}")
    if hac_lags is not None and hac_lags < 0:
        raise _problem("--hac-lags", hac_lags, "must be 0 or more")
    if min_firms < 1:
        raise _problem("--min-firms", min_firms, "must be 1 or more")
    if model != "market" and not factors:
        raise _problem("--model", model, f"the {model} model needs a --factors file")
    factor_data = None
    if factors:
        from marketreact.prices.factors import read_factors

        units = {"auto": None, "percent": True, "decimal": False}
        if factor_units not in units:
            raise _problem("--factor-units", factor_units, "choose auto, percent or decimal")
        factor_data = read_factors(*factors, percent=units[factor_units])
        lacking = [c for c in (*MODEL_FACTORS[model], "rf") if c not in factor_data.columns]
        if lacking:
            raise _problem("--factors", ", ".join(str(f) for f in factors),
                           f"the {model} model needs factor column(s) {', '.join(lacking)}")
    catalogue = read_events(events)
    frame, _ = assign_markets(catalogue.frame, market.upper() if market else None,
                              required=False)
    if market:
        frame = frame.assign(market=market.upper())
    markets = sorted(set(frame["market"]) - {""})
    if factor_data is None and len(markets) != 1:
        raise _problem("--market", market or "", "give the market index with --market (the "
                       "events name " + (", ".join(markets) or "none") + ")")
    source = source_from_spec("+".join(prices), str(cache_dir) if cache_dir else None)
    per = MONTH_SESSIONS if freq == "monthly" else 1
    estimation = ESTIMATION[freq]
    before = (h + estimation + 2) * per if standardise else 2 * per
    with progress_bar(quiet):
        price_data = load_prices(source, frame, before=before, after=h * per)
    if freq == "monthly":
        from marketreact.prices.monthly import monthly_prices

        price_data = monthly_prices(price_data)
    from marketreact.calendar import SessionSource
    from marketreact.panel.returns import ReturnKind

    priced = price_table(price_data, frame, volume_notes=False)
    lineups, notes = [], []
    for exchange, group in frame.groupby("exchange", sort=True):  # one panel per exchange
        lineup = line_up(str(exchange), group, priced, returns=ReturnKind.simple,
                         sessions=SessionSource.market if freq == "monthly"
                         else SessionSource.calendar, market_required=factor_data is None
                         or freq == "monthly")
        notes += [f"event {f.event_id} ({f.ticker}) left out: {f.reason}"
                  for f in lineup.failures]
        notes += list(lineup.diagnostics)
        if len(lineup.events):
            lineups.append(lineup)
    if not lineups:
        hint = (" (monthly periods are the market index's month ends: give --market)"
                if freq == "monthly" and factor_data is not None and not market else "")
        raise InputError(f"no event could be lined up on its prices{hint}: {notes[0]}"
                         if notes else "no event could be lined up on its prices")
    returns = _returns_frame(lineups)
    day0 = pd.concat([pd.DataFrame({
        "ticker": lu.events["ticker"].to_numpy(),
        "day0": pd.DatetimeIndex(lu.sessions.labels).append(pd.DatetimeIndex([pd.NaT]))[
            np.minimum(lu.day0, len(lu.sessions))]}) for lu in lineups], ignore_index=True)
    late = day0["day0"].isna()
    if late.any():
        notes.append(f"{int(late.sum())} event(s) left out: day 0 after the last session with "
                     "prices")
        day0 = day0[~late]
    stocks = list(dict.fromkeys(day0["ticker"]))
    if factor_data is None:
        mkt = markets[0]
        if mkt not in returns:
            raise _problem("--market", mkt, "no prices for the market index")
        fac = pd.DataFrame({"mkt_rf": returns[mkt], "rf": 0.0}, index=returns.index)
        rf_note = f"market factor: {mkt} return, rf = 0"
    else:
        fac = _monthly_factors(factor_data) if freq == "monthly" else factor_data
        rf_note = "factors and rf: " + ", ".join(str(f) for f in factors or [])
    try:
        result = calendar_time_portfolio(
            day0, returns[stocks], fac, h, model=model, weighting=weighting,
            min_firms=min_firms, hac_lags=hac_lags, standardise=standardise,
            estimation=estimation)
    except ValueError as exc:
        text = str(exc)
        option, value = (("--factors", ", ".join(str(f) for f in factors or []))
                         if "factor frame" in text else ("--min-firms", min_firms)
                         if min_firms > 1 else ("--horizon", h))
        raise _problem(option, value, text) from None
    from dataclasses import replace

    port = result.portfolio
    held = port["n_firms"] >= min_firms
    bare = int((held & port[list(result.betas.index)].isna().any(axis=1)).sum())
    if bare:
        last = port.dropna(subset=list(result.betas.index)).index.max()
        notes.append(f"{bare} period(s) with a portfolio left out: no factor returns "
                     f"(the factors run to {last.date()})")
    result = replace(result, diagnostics=(rf_note, *notes, *result.diagnostics))
    settings = {"frequency": freq, "market": markets[0] if factor_data is None else None,
                "rf": "0" if factor_data is None else "factor file", "min_firms": min_firms,
                "estimation": estimation if standardise else None}
    inputs = {"events": str(events), "prices": prices, "events_in_file": len(catalogue),
              "events_used": len(day0),
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
