"""Backtests of news-driven signals, without look-ahead.

``Backtest(**settings).run(events, prices)`` turns dated news events into
trades, a daily equity curve and performance metrics. It is pure computation:
prices are loaded beforehand (:func:`marketreact.prices.load_prices`, or frames
by ticker) and lined up on each exchange's sessions by
:mod:`marketreact.panel.lineup`, as for the event study; writing files is
:mod:`marketreact.output.backtest`'s job.

The fill rule (no default: the caller must choose it)
-----------------------------------------------------
Every event has a moment ``known`` after which its signal may be used:

* a timestamped event: its publication time, plus ``latency``;
* a date-only event: the latest moment its ``timing`` allows, i.e. just
  before the open of that date's session (``pre``), just before its close
  (``intra``) or the end of the calendar date in the exchange's time zone
  (``post`` and ``unknown``), plus ``latency``;
* a rule signal computed from prices (``rule:day0-return``, ``rule:day0-ar``)
  is known only at the close of day 0, so ``known`` is at least that close.

A trade fills at the first price *printed strictly after* ``known``:
``EntryRule.next_open`` takes the first session open after it and
``EntryRule.close`` the first session close after it (opens and closes come
from the exchange calendar, closing auctions included). A session on which the
stock has no such price is skipped. So an after-close report never trades at
that day's close, a report during the session can trade at that session's
close at the earliest (``close``) or the next open (``next-open``), and a
pre-open report can trade at that day's open (``next-open``).

Exits are always at a close: ``hold`` sessions of returns, i.e. the close of
session ``e + hold - 1`` for an entry at the open of session ``e`` (the first
session counts open to close) and of session ``e + hold`` for an entry at the
close of ``e`` (the next close with a price if the stock did not trade).

Hedges: ``none``; ``market`` (short one unit of the event's market index per
unit of stock); ``beta`` (short beta units, beta from an OLS market model over
the estimation window, which ends before day 0). The hedge leg enters at the
market's open when the entry is at an open and the market file has opens;
otherwise at the first market close at or after the entry session (a close-only
index such as SPY from ``prices/us``: the entry day's open-to-close move of a
next-open trade is then unhedged). The hedge exits with the stock.

The daily portfolio (:func:`portfolio_daily`) sets weights at closes and, on a
session where trades enter at the open, again at that open: such a session is
split into the overnight (previous close to open, at the previous close's
weights) and the intraday (open to close, at the new weights), compounded. A
position entered at an open earns only open to close on its entry day; legs
that cannot trade at that open (a close-only market's hedge, a stock without
an open that day) keep their weight of the previous close until the close.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from marketreact._typing import BoolArray, FloatArray, IntArray
from marketreact.backtest.fills import (
    OpenSplit,
    entry_sessions,
    exit_sessions,
    last_valid,
    leg_prices,
    leg_split_returns,
    next_valid,
    trade_returns,
)
from marketreact.backtest.metrics import drawdown, mean_t, series_stats
from marketreact.backtest.placebo import placebo_sums
from marketreact.backtest.portfolio import portfolio_daily
from marketreact.backtest.results import BacktestResult, PlaceboResult
from marketreact.backtest.settings import (
    BacktestSettings,
    EntryRule,
    HedgeMode,
    SignalMode,
    duration_ns,
)
from marketreact.calendar import TradingSessions, exchange_timezone, session_opens
from marketreact.errors import InputError
from marketreact.events.catalogue import EventCatalogue, events_from_frame
from marketreact.inference import _kernels
from marketreact.models.linear import abnormal_returns, fit_linear
from marketreact.models.spec import MODELS, ModelName
from marketreact.panel.lineup import (
    Failure,
    Lineup,
    TablePrices,
    adjusted_opens,
    assign_markets,
    failure_frame,
    failures_of,
    line_up,
    price_table,
    rows_of,
)
from marketreact.panel.returns import ExchangePanel, ReturnKind
from marketreact.panel.screening import find_duplicates
from marketreact.panel.table import PriceTable
from marketreact.prices.frames import PriceFetch
from marketreact.windows import format_window, gather

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------
# Records passed between the steps (internal)
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Exchange:
    """Prices of one exchange lined up on its sessions, with its opens and fill look-ups."""

    sessions: TradingSessions
    panel: ExchangePanel
    opens_ns: IntArray
    closes_ns: IntArray
    open_px: FloatArray
    next_open: IntArray
    next_close: IntArray
    last_close: IntArray
    tz: str


@dataclass(frozen=True)
class _Trades:
    """The trades of one exchange and the arrays the portfolio, placebo and metrics need.

    Arrays are per trade (``(K,)``) unless said otherwise; sessions are positions on
    ``data.sessions``.
    """

    data: _Exchange
    trades: pd.DataFrame
    first: IntArray  # first session with a return of the trade
    exit: IntArray  # exit session (a close)
    daily: FloatArray  # (K, L) signed per-session returns from `first`
    inside: BoolArray  # (K, L) which of those sessions the trade holds
    pieces: dict[str, Any]  # (K, L) overnight / intraday legs, OpenSplit's fields
    basis: FloatArray  # weight basis
    direction: FloatArray  # +1 long, -1 short
    hedge: FloatArray  # hedge ratio (0: unhedged)
    rows: IntArray  # stock rows in data.panel
    m_rows: IntArray  # market rows (0 where there is no market)
    entry: IntArray  # entry session
    at_open: BoolArray  # entered at the open (else at the close)
    lo_valid: IntArray  # first session the stock could be entered (placebo)
    m_sess: IntArray  # session the hedge enters
    m_opened: BoolArray  # hedge entered at an open


@dataclass(frozen=True)
class _ExchangeRun:
    """What one exchange contributes: events not traded and its trades, if any."""

    exchange: str
    data: _Exchange
    n_neutral: int
    traded: _Trades | None
    n_merged: int = 0


def _merge_duplicates(keep: BoolArray, rows: IntArray, entry: IntArray, at_open: BoolArray,
                      known: IntArray, signal: FloatArray, event_ids: np.ndarray
                      ) -> tuple[BoolArray, FloatArray, int]:
    """One position per ticker and entry: later duplicates merged into the first.

    Events kept (``keep``) of one stock (``rows``) entering at the same session
    and side of it (``entry``, ``at_open``) are the same story from several
    headlines: the earliest known stays, with the mean of the group's finite
    signals; the others are not traded.

    Returns
    -------
    keep : numpy.ndarray
        ``keep`` without the merged events.
    signal : numpy.ndarray
        Signals, the representatives' replaced by their group's mean.
    n_merged : int
        Events merged.
    """
    k = np.flatnonzero(keep)
    if len(k) < 2:
        return keep, signal, 0
    dups = find_duplicates(rows[k], entry[k] * 2 + at_open[k].astype(np.int64), event_ids[k],
                           known[k])
    rep = dups.representative
    if rep.all():
        return keep, signal, 0
    sig = signal[k]
    ok = np.isfinite(sig)
    sums = np.bincount(dups.first, weights=np.where(ok, sig, 0.0), minlength=len(k))
    counts = np.bincount(dups.first, weights=ok.astype(float), minlength=len(k))
    signal = signal.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        signal[k[rep]] = np.where(counts[rep] > 0, sums[rep] / counts[rep], np.nan)
    keep = keep.copy()
    keep[k[~rep]] = False
    return keep, signal, int((~rep).sum())


class Backtest:
    """Backtest a news-driven signal.

    Parameters
    ----------
    settings : BacktestSettings, optional
        All settings; keyword arguments override its fields. Without it, the
        keyword arguments are the settings (``entry``, the fill rule, has no
        default and must be given).
    **overrides
        Any :class:`BacktestSettings` field; ``entry``, ``hedge`` and
        ``signal_mode`` may be given as strings (``"next-open"``, ``"market"``).

    Examples
    --------
    >>> bt = Backtest(entry="next-open", hold=5, hedge="market")  # doctest: +SKIP
    >>> events = read_events("scored.csv")  # doctest: +SKIP
    >>> prices = load_prices("csv:prices/", events, before=250, after=21)  # doctest: +SKIP
    >>> result = bt.run(events, prices)  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP
    """

    def __init__(self, settings: BacktestSettings | None = None, **overrides: Any) -> None:
        for key, enum in (("entry", EntryRule), ("hedge", HedgeMode),
                          ("signal_mode", SignalMode)):
            if isinstance(overrides.get(key), str):
                try:
                    overrides[key] = enum(overrides[key])
                except ValueError:
                    choices = ", ".join(e.value for e in enum)
                    raise InputError(f"{key} {overrides[key]!r} is not one of {choices}"
                                     ) from None
        if settings is None:
            if "entry" not in overrides:
                raise InputError("the fill rule has no default: give entry='next-open' or "
                                 "entry='close'")
            self.settings = BacktestSettings(**overrides)
        else:
            self.settings = replace(settings, **overrides) if overrides else settings

    # -- public -------------------------------------------------------------------------
    def run(self, events: EventCatalogue | pd.DataFrame,
            prices: PriceFetch | PriceTable | Mapping[str, pd.DataFrame]) -> BacktestResult:
        """Run the backtest (pure computation: it never reads files or downloads).

        Parameters
        ----------
        events : EventCatalogue or pandas.DataFrame
            Validated events (a frame is validated strictly first).
        prices : PriceFetch, PriceTable or mapping of str to pandas.DataFrame
            The prices: what :func:`marketreact.prices.load_prices` returned, a
            :class:`~marketreact.panel.table.PriceTable`, or frames by ticker
            (normalised with :func:`~marketreact.prices.frames.standard_frame`).

        Returns
        -------
        BacktestResult

        Raises
        ------
        TypeError
            When ``prices`` is a price source: load them with
            :func:`marketreact.prices.load_prices` first.
        """
        s = self.settings
        catalogue = events if isinstance(events, EventCatalogue) else events_from_frame(events)
        frame = catalogue.frame.copy()
        failures: list[Failure] = []
        diagnostics: list[str] = list(catalogue.notes)  # e.g. a column renamed user_beta
        spec = s.signal_spec
        if spec.kind == "column":
            column = dict(catalogue.renamed).get(spec.name, spec.name)  # beta -> user_beta
            if column not in frame.columns:
                raise InputError(f"{catalogue.source}: signal column {spec.name!r} is not in the "
                                 f"catalogue (columns: {', '.join(map(str, frame.columns))})")
            values = pd.to_numeric(frame[column], errors="coerce")
            if values.isna().all():
                raise InputError(f"{catalogue.source}: signal column {spec.name!r} has no "
                                 "numeric values")
            frame["signal"] = values.astype(float) * (-1.0 if spec.negate else 1.0)
            missing = frame["signal"].isna()
            failures += failures_of(frame.loc[missing],
                                    f"no numeric value in signal column {spec.name!r}")
            frame = frame.loc[~missing]
        else:
            frame["signal"] = np.nan
        frame, no_market = assign_markets(frame, s.market, required=s.needs_market)
        failures += no_market
        priced = price_table(prices, frame, volume_notes=False)  # no I/O (see load_prices)
        diagnostics.extend(priced.notes)
        parts = []
        for exchange, group in frame.groupby("exchange", sort=True):
            lineup = line_up(str(exchange), group, priced, returns=ReturnKind.simple,
                             market_required=s.needs_market)
            failures.extend(lineup.failures)
            diagnostics.extend(lineup.diagnostics)
            if not len(lineup):
                continue
            parts.append(self._run_exchange(lineup, self._exchange_data(lineup, priced),
                                            failures))
        return self._assemble(parts, failures, diagnostics, catalogue)

    # -- steps --------------------------------------------------------------------------
    @staticmethod
    def _exchange_data(lineup: Lineup, prices: TablePrices) -> _Exchange:
        """The lineup's sessions and panel with the adjusted opens and the fill look-ups."""
        sessions, panel = lineup.sessions, lineup.panel
        open_px = adjusted_opens(prices, panel)
        valid_close = np.isfinite(panel.prices)
        return _Exchange(
            sessions=sessions, panel=panel,
            opens_ns=session_opens(sessions).as_unit("ns").asi8,
            closes_ns=sessions.closes.as_unit("ns").asi8,
            open_px=open_px, next_open=next_valid(np.isfinite(open_px)),
            next_close=next_valid(valid_close), last_close=last_valid(valid_close),
            tz=exchange_timezone(lineup.exchange))

    @staticmethod
    def _public_ns(data: _Exchange, group: pd.DataFrame) -> IntArray:
        """Moment after which each event's news may be used (UTC ns), before latency."""
        n_sessions = len(data.sessions)
        ts = pd.to_datetime(group["timestamp"], utc=True)
        has_ts = ts.notna().to_numpy()
        out = np.zeros(len(group), dtype=np.int64)
        if has_ts.any():
            out[has_ts] = pd.DatetimeIndex(ts[has_ts]).as_unit("ns").asi8
        if (~has_ts).any():
            dates = pd.DatetimeIndex(pd.to_datetime(group["date"][~has_ts])).as_unit("ns")
            timing = group["timing"][~has_ts].to_numpy()
            labels = data.sessions.labels.as_unit("ns").asi8
            pos = np.searchsorted(labels, dates.asi8, side="left")
            same = (pos < n_sessions) & (labels[np.minimum(pos, n_sessions - 1)] == dates.asi8)
            posc = np.minimum(pos, n_sessions - 1)
            end_of_day = (dates + pd.Timedelta(days=1)).tz_localize(
                data.tz, nonexistent="shift_forward", ambiguous=True).tz_convert("UTC")
            bound = end_of_day.as_unit("ns").asi8 - 1
            bound = np.where(same & (timing == "pre"), data.opens_ns[posc] - 1, bound)
            bound = np.where(same & (timing == "intra"), data.closes_ns[posc] - 1, bound)
            out[~has_ts] = bound
        return out

    def _run_exchange(self, lineup: Lineup, data: _Exchange,
                      failures: list[Failure]) -> _ExchangeRun:
        s = self.settings
        spec = s.signal_spec
        exchange, group = lineup.exchange, lineup.events

        def fail(mask: BoolArray, reasons: str | Sequence[str]) -> None:
            failures.extend(failures_of(group.loc[mask], reasons))

        panel = data.panel
        T = len(data.sessions)
        rows, mrows, day0 = lineup.stock_rows, lineup.market_rows, lineup.day0
        known = self._public_ns(data, group)
        reasons = np.full(len(group), "", dtype=object)
        reasons[day0 >= T] = f"the news comes after the last {exchange} session with prices"
        day0c = np.minimum(day0, T - 1)
        before = (reasons == "") & (day0 < data.next_close[rows, 0])
        reasons[before] = "the news comes before the stock's first price"

        # Market model over the estimation window (beta hedge, day-0 abnormal return).
        hedge = np.zeros(len(group))
        if s.hedge is HedgeMode.market:
            hedge[:] = 1.0
        beta = np.full(len(group), np.nan)
        n_est = np.zeros(len(group), dtype=np.int64)
        signal = group["signal"].to_numpy(dtype=float).copy()
        if s.needs_beta:
            mm = MODELS[ModelName.market_model]
            est_days = np.arange(s.estimation[0], s.estimation[1] + 1)
            mr = np.maximum(mrows, 0)
            est = gather(panel, rows, mr, day0c, est_days, mm.regressors)
            fit = fit_linear(est, mm)
            beta, n_est = fit.coef[:, 1], fit.n
            short = (reasons == "") & ((fit.n < s.min_estimation) | ~np.isfinite(beta))
            for i in np.flatnonzero(short):
                reasons[i] = (f"only {fit.n[i]} estimation returns in "
                              f"{format_window(s.estimation)} before day 0 "
                              f"(need {s.min_estimation}) for the market model")
            if s.hedge is HedgeMode.beta:
                hedge = np.where(np.isfinite(beta), beta, 0.0)
            if spec.name == "day0-ar":
                evt = gather(panel, rows, mr, day0c, np.array([0]), mm.regressors)
                signal = abnormal_returns(evt, fit).ar[:, 0]
        if spec.kind == "rule":
            if spec.name == "day0-return":
                ok0 = (panel.span[rows, day0c] >= 1)
                signal = np.where(ok0, panel.returns[rows, day0c], np.nan)
            signal = signal * (-1.0 if spec.negate else 1.0)
            no_sig = (reasons == "") & ~np.isfinite(signal)
            reasons[no_sig] = f"no day-0 return on {exchange} to compute {spec}"
            # A price-based signal is known at the close of day 0, not before.
            known = np.maximum(known, data.closes_ns[day0c])
        # known + latency, never wrapped: the headroom is computed with Python ints, and an
        # event whose entry time would pass the last int64 nanosecond (2262-04-11) fails.
        lat = duration_ns(s.latency) or 0  # 0 <= lat <= MAX_LATENCY_NS, checked by the settings
        i64 = np.iinfo(np.int64)
        beyond = (known > int(i64.max) - lat) | (known < int(i64.min) - lat)
        reasons[(reasons == "") & beyond] = (f"the news plus the latency of "
                                             f"{pd.Timedelta(s.latency)} is past the last "
                                             "representable date (2262-04-11)")
        known = np.where(beyond, i64.max, known)
        if not beyond.all():
            known[~beyond] += lat  # cannot wrap: these events have the headroom

        entry, at_open = entry_sessions(known, data.opens_ns, data.closes_ns, s.entry,
                                        data.next_open, data.next_close, rows)
        kind = "open" if s.entry is EntryRule.next_open else "close"
        nxt = data.next_open if s.entry is EntryRule.next_open else data.next_close
        has_any = nxt[rows, 0] < T
        no_entry = (reasons == "") & (entry >= T)
        reasons[no_entry & has_any] = (f"the prices end before the first {kind} after the "
                                       "news became public")
        reasons[no_entry & ~has_any] = (f"no {kind} prices for the stock"
                                        + (" (close-only data?); use --entry close"
                                           if s.entry is EntryRule.next_open else ""))
        exit_ = exit_sessions(entry, at_open, s.hold, data.next_close, rows)
        no_exit = (reasons == "") & (exit_ >= T)
        reasons[no_exit] = (f"the prices end before a hold of {s.hold} session(s) "
                            f"after the entry could be closed")
        s_in, _, _, s_out = leg_prices(data.open_px, panel.prices, data.next_close, rows, entry,
                                       at_open, exit_)
        m_rows = np.maximum(mrows, 0)
        m_in, m_sess, m_opened, m_out = leg_prices(data.open_px, panel.prices, data.next_close,
                                                   m_rows, entry, at_open, exit_)
        hedged = hedge != 0
        no_mkt = (reasons == "") & hedged & ~(np.isfinite(m_in) & np.isfinite(m_out))
        reasons[no_mkt] = "no market price to hedge between entry and exit"
        bad = reasons != ""
        fail(bad, list(reasons[bad]))
        keep = ~bad
        keep, signal, n_merged = _merge_duplicates(keep, rows, entry, at_open, known, signal,
                                                   group["event_id"].to_numpy(dtype=object))
        neutral = keep & ~(np.abs(signal) > s.threshold)
        trade = keep & ~neutral
        if not trade.any():
            return _ExchangeRun(exchange, data, int(neutral.sum()), None, n_merged)
        g = group.loc[trade]
        idx = np.flatnonzero(trade)
        rows, m_rows, day0 = rows[idx], m_rows[idx], day0[idx]
        entry, at_open, exit_ = entry[idx], at_open[idx], exit_[idx]
        s_in, s_out, m_in, m_out = s_in[idx], s_out[idx], m_in[idx], m_out[idx]
        m_sess, m_opened = m_sess[idx], m_opened[idx]
        hedge, beta, n_est, signal = hedge[idx], beta[idx], n_est[idx], signal[idx]
        known = known[idx]
        direction = np.sign(signal)
        basis = np.abs(signal) if s.signal_mode is SignalMode.value else np.ones(len(idx))
        cost = s.cost_bps / 1e4
        gross, net = trade_returns(s_in, s_out, m_in, m_out, direction, hedge, cost)

        # Forward returns from the entry price (hedged as the strategy, gross, unsigned).
        fwd = {}
        for h in s.horizons:
            xh = exit_sessions(entry, at_open, h, data.next_close, rows)
            so = np.where(xh < T, panel.prices[rows, np.minimum(xh, T - 1)], np.nan)
            mo = np.where(xh < T, panel.prices[m_rows, np.minimum(xh, T - 1)], np.nan)
            mi = np.where(m_sess <= xh, m_in, np.nan)
            fg, _ = trade_returns(s_in, so, mi, mo, np.ones(len(idx)), hedge, 0.0)
            fwd[h] = fg

        # Per-session returns of each trade on its own exchange's sessions.
        first = entry + (~at_open).astype(np.int64)
        length = int((exit_ - first).max()) + 1
        stock_leg = leg_split_returns(data.open_px, panel.prices, data.last_close, rows, entry,
                                      s_in, first, length)
        market_leg = leg_split_returns(data.open_px, panel.prices, data.last_close, m_rows,
                                       m_sess, m_in, first, length)
        d_col, h_col = direction[:, None], hedge[:, None]
        hedged_col = h_col != 0
        stock_daily = stock_leg.whole
        market_daily = np.where(hedged_col, market_leg.whole, 0.0)
        daily = d_col * (stock_daily - h_col * market_daily)
        inside = (first[:, None] + np.arange(length)[None, :]) <= exit_[:, None]
        cell_pos = np.minimum(first[:, None] + np.arange(length)[None, :], T - 1)
        pieces = {
            "stock_overnight": d_col * stock_leg.overnight,
            "stock_intraday": d_col * stock_leg.intraday,
            "stock_ok": stock_leg.split_ok,
            "hedge_overnight": np.where(hedged_col, -d_col * h_col * market_leg.overnight, 0.0),
            "hedge_intraday": np.where(hedged_col, -d_col * h_col * market_leg.intraday, 0.0),
            "hedge_whole": -d_col * h_col * market_daily,
            "hedge_ok": hedged_col & market_leg.split_ok,
            "open_ns": data.opens_ns[cell_pos],
        }

        labels = data.sessions.labels
        opens = pd.DatetimeIndex(data.opens_ns.view("datetime64[ns]")).tz_localize("UTC")
        closes = data.sessions.closes
        entry_time = np.where(at_open, opens[entry].asi8, closes[entry].asi8)
        trades = pd.DataFrame({
            "event_id": g["event_id"].to_numpy(),
            "ticker": g["ticker"].to_numpy(),
            "exchange": exchange,
            "market": g["market"].to_numpy(),
            "public_time": g["timestamp"].to_numpy(),
            "date": g["date"].to_numpy(),
            "timing": g["timing"].to_numpy(),
            "known_time": pd.to_datetime(known, utc=True),
            "signal": signal,
            "direction": direction.astype(np.int64),
            "weight_basis": basis,
            "day0": labels[day0],
            "entry_date": labels[entry],
            "entry_kind": np.where(at_open, "open", "close"),
            "entry_time": pd.to_datetime(entry_time, utc=True),
            "entry_price": s_in,
            "exit_date": labels[exit_],
            "exit_time": closes[exit_],
            "exit_price": s_out,
            "sessions": exit_ - first + 1,
            "stock_return": s_out / s_in - 1.0,
            "market_entry_date": pd.Series(labels[np.minimum(m_sess, T - 1)]).where(
                hedge != 0).to_numpy(),
            "market_entry_kind": np.where(hedge == 0, "", np.where(m_opened, "open", "close")),
            "market_return": np.where(hedge != 0, m_out / m_in - 1.0, np.nan),
            "beta": beta,
            "n_estimation": n_est,
            "hedge_ratio": hedge,
            "gross_return": gross,
            "cost": gross - net,
            "net_return": net,
        })
        if "headline" in g:
            trades.insert(4, "headline", g["headline"].to_numpy())
        for h in s.horizons:
            trades[f"fwd_{h}"] = fwd[h]
        lo_valid = (data.next_open if s.entry is EntryRule.next_open else data.next_close)[:, 0]
        return _ExchangeRun(exchange, data, int(neutral.sum()), _Trades(
            data=data, trades=trades, first=first, exit=exit_, daily=daily, inside=inside,
            pieces=pieces, basis=basis, direction=direction, hedge=hedge, rows=rows,
            m_rows=m_rows, entry=entry, at_open=at_open, lo_valid=lo_valid[rows],
            m_sess=m_sess, m_opened=m_opened & (hedge != 0)), n_merged)

    def _assemble(self, parts: list[_ExchangeRun], failures: list[Failure],
                  diagnostics: list[str], catalogue: EventCatalogue) -> BacktestResult:
        s = self.settings
        fail_frame = failure_frame(failures, catalogue.frame["event_id"])
        n_neutral = sum(p.n_neutral for p in parts)
        n_merged = sum(p.n_merged for p in parts)
        if n_merged:
            diagnostics.append(
                f"duplicates: {n_merged} event(s) would have entered the same ticker at the "
                "same session as an earlier event (the same story from several headlines): "
                "merged into that one position, whose signal is the mean signal of the "
                "merged events (never two positions for one ticker and entry)")
        traded = [p.traded for p in parts if p.traded is not None]
        if not traded:
            daily = pd.DataFrame(columns=["date", "equity", "return", "drawdown", "exposure",
                                          "n_positions"])
            metrics: dict[str, Any] = {"trades": 0, "events_not_traded": n_neutral,
                                       "events_failed": len(fail_frame)}
            return BacktestResult(s, pd.DataFrame(), daily, metrics,
                                  pd.DataFrame(columns=["horizon", "n", "mean", "mean_signed",
                                                        "hit_rate", "ic", "ic_p"]),
                                  None, fail_frame, tuple(dict.fromkeys(diagnostics)))
        grid = self._grid(traded)
        daily = self._daily(traded, grid)
        frozen = daily["frozen_weight"].to_numpy() > 0
        if frozen.any():
            diagnostics.append(
                f"{int(frozen.sum())} session(s) with entries at the open had held positions "
                "that could not be re-weighted at that open (no open price, or an exchange "
                "opening before the entries'): kept at their weight of the previous close "
                f"(up to {daily['frozen_weight'].max():.0%} of the book; first "
                f"{daily.loc[frozen, 'date'].iloc[0].date()})")
        trades = pd.concat([p.trades for p in traded], ignore_index=True)
        at_opens = trades.loc[trades["entry_kind"] == "open"]
        mixed = int((at_opens.groupby("entry_date")["entry_time"].nunique() > 1).sum())
        if mixed:
            diagnostics.append(
                f"{mixed} session(s) had entries at the opens of different exchanges: the daily "
                "portfolio sizes a date's entries together, so an entry at an earlier open "
                "counts those at a later one (weights only; see docs/backtest.md)")
        rank = pd.Index(catalogue.frame["event_id"].to_numpy()).get_indexer(
            trades["event_id"].to_numpy())
        trades = trades.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)
        forward = self._forward(trades)
        placebo = self._placebo(traded) if s.placebo_draws > 0 else None
        metrics = self._metrics(trades, daily, forward, placebo, n_neutral, len(fail_frame),
                                traded, grid)
        return BacktestResult(s, trades, daily, metrics, forward, placebo, fail_frame,
                              tuple(dict.fromkeys(diagnostics)))

    @staticmethod
    def _grid(parts: list[_Trades]) -> pd.DatetimeIndex:
        """Union of the sessions from the one before the first return to the last exit."""
        pieces = []
        for p in parts:
            labels = p.data.sessions.labels
            lo = max(int(p.first.min()) - 1, 0)
            hi = int(p.exit.max())
            pieces.append(labels[lo:hi + 1])
        union = pieces[0]
        for piece in pieces[1:]:
            union = union.union(piece)
        return pd.DatetimeIndex(union, name="date")

    def _daily(self, parts: list[_Trades], grid: pd.DatetimeIndex) -> pd.DataFrame:
        s = self.settings
        firsts, lasts, bases, legs, dirs, hedges = [], [], [], [], [], []
        cells, owners, values = [], [], []
        at_opens, hedge_ins, hedge_openeds = [], [], []
        pieces: dict[str, list[Any]] = {}
        offset = 0
        for p in parts:
            labels = p.data.sessions.labels
            to_grid = grid.get_indexer(labels)
            first_g = to_grid[p.first]
            last_g = to_grid[p.exit]
            n, length = p.daily.shape
            pos = p.first[:, None] + np.arange(length)[None, :]
            inside = p.inside
            cell = to_grid[np.minimum(pos, len(labels) - 1)]
            owner = np.broadcast_to(np.arange(n)[:, None] + offset, (n, length))
            cells.append(cell[inside])
            owners.append(owner[inside])
            values.append(p.daily[inside])
            for key, arr in p.pieces.items():
                pieces.setdefault(key, []).append(arr[inside])
            firsts.append(first_g)
            lasts.append(last_g)
            bases.append(p.basis)
            legs.append(1.0 + np.abs(p.hedge))
            dirs.append(p.direction)
            hedges.append(p.hedge)
            at_opens.append(p.at_open)
            # The hedge leg is held overnight after the close of `hedge_in`.
            hedge_ins.append(np.where(p.m_opened, first_g - 1,
                                      to_grid[np.minimum(p.m_sess, len(labels) - 1)]))
            hedge_openeds.append(p.m_opened)
            offset += n
        split = OpenSplit(
            at_open=np.concatenate(at_opens), hedge_in=np.concatenate(hedge_ins),
            hedge_opened=np.concatenate(hedge_openeds),
            **{key: np.concatenate(arrs) for key, arrs in pieces.items()})
        out = portfolio_daily(
            len(grid), np.concatenate(firsts), np.concatenate(lasts), np.concatenate(bases),
            np.concatenate(legs), np.concatenate(cells), np.concatenate(owners),
            np.concatenate(values), np.concatenate(dirs), np.concatenate(hedges),
            s.cost_bps / 1e4, split=split)
        ret = out["gross_return"] - out["cost"]
        ret[0] = 0.0
        equity = np.asarray(np.cumprod(1.0 + ret), dtype=np.float64)
        daily = pd.DataFrame({
            "date": grid, "equity": equity, "return": ret, "drawdown": drawdown(equity),
            "exposure": out["exposure"], "n_positions": out["n_positions"],
            "gross_return": out["gross_return"], "cost": out["cost"],
            "turnover": out["turnover"], "net_exposure": out["net_exposure"],
            "hedge_exposure": out["hedge_exposure"],
            "open_rebalance": out["open_rebalance"],
            "frozen_weight": out["frozen_weight"],
        })
        daily["benchmark_equity"] = self._benchmark(parts, grid)
        return daily

    @staticmethod
    def _benchmark(parts: list[_Trades], grid: pd.DatetimeIndex) -> FloatArray:
        """Equal-weight buy and hold of the traded stocks from the grid's first close."""
        if _kernels.HAVE_NUMBA and len(grid):  # the same sums in one pass, no (N, G) arrays
            tot = np.zeros(len(grid))
            cnt = np.zeros(len(grid), dtype=np.int64)
            kept = 0
            for p in parts:
                pos = np.searchsorted(p.data.sessions.labels.asi8, grid.asi8, side="right") - 1
                kept = _kernels.buy_hold_sums(p.data.last_close, p.data.panel.prices,
                                              np.unique(p.rows), pos, tot, cnt, kept)
            if not kept:
                return np.full(len(grid), np.nan)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.asarray(tot / cnt, dtype=float)  # numpy.nanmean's division
        paths = []
        for p in parts:
            data: _Exchange = p.data
            labels = data.sessions.labels
            rows = np.unique(p.rows)
            # The last session of this exchange on or before each grid date.
            pos = np.searchsorted(labels.asi8, grid.asi8, side="right") - 1
            ok = pos >= 0
            lv = data.last_close[rows][:, np.maximum(pos, 0)]
            px = np.where(ok[None, :] & (lv >= 0),
                          data.panel.prices[rows[:, None], np.maximum(lv, 0)], np.nan)
            paths.append(px / px[:, :1])
        rel = np.vstack(paths)
        rel = rel[np.isfinite(rel[:, 0])]
        if not len(rel):
            return np.full(len(grid), np.nan)
        return np.asarray(np.nanmean(rel, axis=0), dtype=float)

    def _forward(self, trades: pd.DataFrame) -> pd.DataFrame:
        rows = []
        for h in self.settings.horizons:
            fwd = trades[f"fwd_{h}"].to_numpy(dtype=float)
            sig = trades["signal"].to_numpy(dtype=float)
            ok = np.isfinite(fwd) & np.isfinite(sig)
            n = int(ok.sum())
            signed = np.sign(sig[ok]) * fwd[ok]
            ic, p = (math.nan, math.nan)
            if n >= 3 and np.ptp(sig[ok]) > 0 and np.ptp(fwd[ok]) > 0:
                res = stats.spearmanr(sig[ok], fwd[ok])
                ic, p = float(res.statistic), float(res.pvalue)
            rows.append({"horizon": h, "n": n,
                         "mean": float(np.mean(fwd[ok])) if n else math.nan,
                         "mean_signed": float(np.mean(signed)) if n else math.nan,
                         "hit_rate": float(np.mean(signed > 0)) if n else math.nan,
                         "ic": ic, "ic_p": p})
        return pd.DataFrame(rows, columns=["horizon", "n", "mean", "mean_signed", "hit_rate",
                                           "ic", "ic_p"])

    def _placebo(self, parts: list[_Trades]) -> PlaceboResult:
        """Enter the same trades (signal, hold, hedge, costs) at random sessions instead."""
        s = self.settings
        rng = np.random.default_rng(s.seed)
        exclusion = s.hold
        draws = s.placebo_draws
        sums = np.zeros(draws)
        counts = np.zeros(draws)
        actual_sum, actual_n, used = 0.0, 0, 0
        cost = s.cost_bps / 1e4
        for p in parts:
            data: _Exchange = p.data
            T = len(data.sessions)
            net = p.trades["net_return"].to_numpy(dtype=float)
            actual_sum += float(np.nansum(net))
            actual_n += int(np.isfinite(net).sum())
            lo = p.lo_valid
            hi = np.full(len(lo), T - 1 - s.hold)
            band = np.minimum(p.entry + exclusion, hi) - np.maximum(p.entry - exclusion,
                                                                        lo) + 1
            ok = (hi - lo + 1 - np.maximum(band, 0)) >= 1
            if not ok.any():
                continue
            used += int(ok.sum())
            sel = np.flatnonzero(ok)
            nxt = data.next_open if s.entry is EntryRule.next_open else data.next_close
            part_sums, part_counts = placebo_sums(
                rng, draws, lo[sel], hi[sel], p.entry[sel], exclusion, rows=p.rows[sel],
                m_rows=p.m_rows[sel], at_open=p.at_open[sel], direction=p.direction[sel],
                hedge=p.hedge[sel], cost=cost, hold=s.hold, next_entry=nxt,
                next_close=data.next_close, open_px=data.open_px, close_px=data.panel.prices)
            sums += part_sums
            counts += part_counts
        actual = actual_sum / actual_n if actual_n else math.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        means = means[np.isfinite(means)]
        if not means.size or not math.isfinite(actual):
            return PlaceboResult(actual, means, math.nan, math.nan, used, exclusion, s.seed)
        center = float(np.mean(means))
        p1 = (1 + int(np.sum(means >= actual))) / (1 + means.size)
        p2 = (1 + int(np.sum(np.abs(means - center) >= abs(actual - center)))) / (1 + means.size)
        return PlaceboResult(actual, means, p1, p2, used, exclusion, s.seed)

    def _metrics(self, trades: pd.DataFrame, daily: pd.DataFrame, forward: pd.DataFrame,
                 placebo: PlaceboResult | None, n_neutral: int, n_failed: int,
                 parts: list[_Trades], grid: pd.DatetimeIndex) -> dict[str, Any]:
        s = self.settings
        net = trades["net_return"].to_numpy(dtype=float)
        mean, t = mean_t(net)
        r = daily["return"].to_numpy(dtype=float)[1:]
        perf = series_stats(r, s.per_year)
        sessions = len(r)
        bench = daily["benchmark_equity"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            bench_r = bench[1:] / bench[:-1] - 1.0
        bench_stats = series_stats(bench_r, s.per_year) if np.isfinite(bench_r).all() \
            else dict.fromkeys(perf, math.nan)
        m: dict[str, Any] = {
            "trades": len(trades),
            "events_not_traded": n_neutral,
            "events_failed": n_failed,
            "long_trades": int((trades["direction"] > 0).sum()),
            "short_trades": int((trades["direction"] < 0).sum()),
            "hit_rate": float(np.mean(net > 0)),
            "mean_trade_return": mean,
            "median_trade_return": float(np.median(net)),
            "mean_trade_t": t,
            "mean_gross_trade_return": float(np.mean(trades["gross_return"])),
            "start": str(grid[0].date()),
            "end": str(grid[-1].date()),
            "sessions": sessions,
            **perf,
            "exposure": float(np.mean(daily["exposure"].to_numpy()[1:])) if sessions else 0.0,
            "mean_positions": float(np.mean(daily["n_positions"].to_numpy()[1:]))
            if sessions else 0.0,
            "turnover_total": float(daily["turnover"].sum()),
            "turnover_annual": float(daily["turnover"].sum()) * s.per_year / max(sessions, 1),
            "costs_paid": float(daily["cost"].sum()),
            "trade_costs_paid": float(trades["cost"].sum()),
        }
        for key, value in bench_stats.items():
            m[f"benchmark_{key}"] = value
        for p in parts:
            data: _Exchange = p.data
            labels = data.sessions.labels
            markets = sorted(str(x) for x in p.trades["market"].unique())
            for market, row in zip(markets, rows_of(data.panel.tickers, pd.Series(markets)),
                                   strict=True):
                if row < 0:
                    continue
                pos = np.searchsorted(labels.asi8, grid[[0, -1]].asi8, side="right") - 1
                lv = data.last_close[row, np.maximum(pos, 0)]
                if (pos >= 0).all() and (lv >= 0).all():
                    a, b = data.panel.prices[row, lv]
                    m[f"market_{market}_total_return"] = float(b / a - 1.0)
        for rec in forward.to_dict(orient="records"):
            h = int(rec["horizon"])
            for key in ("mean", "mean_signed", "ic", "ic_p", "n"):
                m[f"fwd_{h}_{key}"] = rec[key]
        if placebo is not None:
            m["placebo_draws"] = placebo.n_draws
            m["placebo_events"] = placebo.events
            m["placebo_mean"] = float(np.mean(placebo.draws)) if placebo.n_draws else math.nan
            m["placebo_sd"] = float(np.std(placebo.draws, ddof=1)) if placebo.n_draws > 1 \
                else math.nan
            m["placebo_p_one_sided"] = placebo.p_one_sided
            m["placebo_p_two_sided"] = placebo.p_two_sided
        return m
