"""Backtests of news-driven signals, without look-ahead.

``Backtest(settings).run(events, prices)`` turns dated news events into
trades, a daily equity curve and performance metrics. It is pure computation
(prices come from a :class:`~marketreact.prices.PriceSource` or a mapping of
frames); writing files is :mod:`marketreact.backtest_output`'s job.

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
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from marketreact._typing import BoolArray, FloatArray, IntArray, Window
from marketreact.backtest.metrics import drawdown, mean_t, series_stats
from marketreact.calendar import (
    DEFAULT_MARKET,
    TradingSessions,
    anchor_day0,
    exchange_sessions,
    exchange_timezone,
    session_opens,
)
from marketreact.errors import InputError
from marketreact.events.catalogue import EventCatalogue, events_from_frame
from marketreact.models.linear import abnormal_returns, fit_linear
from marketreact.models.spec import MODELS, ModelName
from marketreact.panel.returns import ExchangePanel, build_panel
from marketreact.prices import PriceSource, clean_prices, fetch_for_events
from marketreact.prices.frames import PriceFetch
from marketreact.windows import format_window, gather

log = logging.getLogger(__name__)

RULES = ("day0-return", "day0-ar")
DEFAULT_HORIZONS = (1, 5, 10, 20)
_PLACEBO_CHUNK = 100

# Limits of the settings, checked in exact (Python int) arithmetic before any array sees them.
#: Longest latency: news acted on a year later is no longer news, and the bound keeps
#: ``known + latency`` (UTC nanoseconds, int64) centuries away from overflow.
MAX_LATENCY = pd.Timedelta(days=366)
#: Longest hold and forward-return horizon, in sessions: ten years of 252 sessions.
MAX_HOLD = 2520
#: Farthest an estimation-window bound may lie from day 0, in sessions (about 20 years).
MAX_WINDOW = 5000
#: Most placebo draws: each re-times every trade, and 100,000 already resolve p to 1e-5.
MAX_PLACEBO_DRAWS = 100_000
#: Highest cost per side and leg, in basis points: 10,000 bp is the whole notional.
MAX_COST_BPS = 10_000.0
#: Largest seed: numpy refuses negative seeds, and 2**63 - 1 stays a 64-bit integer on disk.
MAX_SEED = 2**63 - 1
#: Most sessions per year for annualising: a year has at most 366 days.
MAX_PER_YEAR = 366
_NS_PER_UNIT = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


def duration_ns(value: Any) -> int | None:
    """``value`` as a whole number of nanoseconds, exactly (a Python int).

    ``None`` for what is not a duration: NaT, text pandas cannot parse or a duration
    outside pandas' range. Unlike ``Timedelta.value`` this never overflows.
    """
    try:
        td = pd.Timedelta(value)
    except (ValueError, OverflowError, TypeError):  # OutOfBoundsTimedelta is a ValueError
        return None
    if td is pd.NaT:
        return None
    unit, count = np.datetime_data(td.asm8.dtype)
    return int(td.asm8.view("i8")) * int(count) * _NS_PER_UNIT[unit]


def _whole(value: object) -> int | None:
    """``value`` as a Python int if it is an integer (bool excluded), else ``None``."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return None


#: ``MAX_LATENCY`` in nanoseconds, exactly.
MAX_LATENCY_NS: int = MAX_LATENCY.days * 86_400 * 10**9


class EntryRule(StrEnum):
    """Which price a trade fills at: the first open or the first close after the news."""

    next_open = "next-open"
    close = "close"


class HedgeMode(StrEnum):
    """How the market is hedged: not, one for one, or by the estimated beta."""

    none = "none"
    market = "market"
    beta = "beta"


class SignalMode(StrEnum):
    """How a signal sizes positions: ``sign`` (equal weights) or ``value`` (by ``|signal|``)."""

    sign = "sign"
    value = "value"


@dataclass(frozen=True)
class SignalSpec:
    """Where each event's signal comes from.

    Attributes
    ----------
    kind : str
        ``column`` (a catalogue column, known when the news is) or ``rule``.
    name : str
        Column name, or rule name (``day0-return``, ``day0-ar``).
    negate : bool
        Trade against the signal.
    """

    kind: str
    name: str
    negate: bool = False

    @classmethod
    def parse(cls, text: str) -> SignalSpec:
        """Parse ``sentiment``, ``column:NAME`` or ``rule:NAME``, optionally prefixed by ``-``."""
        raw = text.strip()
        negate = raw.startswith("-")
        raw = raw.lstrip("-").strip()
        if raw == "sentiment":
            return cls("column", "sentiment", negate)
        kind, sep, name = raw.partition(":")
        if sep and kind == "column" and name.strip():
            return cls("column", name.strip(), negate)
        if sep and kind == "rule" and name.strip() in RULES:
            return cls("rule", name.strip(), negate)
        raise InputError(f"signal {text!r} is not understood: use sentiment, column:NAME or "
                         f"rule:{'|'.join(RULES)} (prefix '-' to trade against it)")

    def __str__(self) -> str:
        body = "sentiment" if (self.kind, self.name) == ("column", "sentiment") \
            else f"{self.kind}:{self.name}"
        return ("-" if self.negate else "") + body


@dataclass(frozen=True)
class BacktestSettings:
    """Settings of a backtest.

    Attributes
    ----------
    entry : EntryRule
        Fill rule; no default on purpose (see the module docstring).
    signal : str
        ``sentiment``, ``column:NAME`` or ``rule:day0-return`` / ``rule:day0-ar``.
    signal_mode : SignalMode
        Equal weights by sign, or weights in proportion to ``|signal|``.
    threshold : float
        Events with ``|signal| <= threshold`` are not traded.
    latency : pandas.Timedelta
        Added to the moment the news became public.
    hold : int
        Sessions of returns per trade.
    hedge : HedgeMode
        Market hedge.
    cost_bps : float
        Cost per side and leg, in basis points of the notional traded.
    estimation : tuple of int
        Window (sessions relative to day 0) for the beta of ``hedge=beta`` and ``day0-ar``.
    min_estimation : int
        Fewest estimation returns for a beta.
    market : str, optional
        Market index for events without their own (default: the exchange's).
    horizons : tuple of int
        Sessions of the forward returns whose IC is reported.
    placebo_draws : int
        Random re-timings of all events (0: no placebo).
    seed : int
        Seed of the placebo's random generator.
    per_year : int
        Sessions per year for annualising.
    """

    entry: EntryRule
    signal: str = "sentiment"
    signal_mode: SignalMode = SignalMode.sign
    threshold: float = 0.0
    latency: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(0))
    hold: int = 1
    hedge: HedgeMode = HedgeMode.none
    cost_bps: float = 0.0
    estimation: Window = (-250, -11)
    min_estimation: int = 120
    market: str | None = None
    horizons: tuple[int, ...] = DEFAULT_HORIZONS
    placebo_draws: int = 1000
    seed: int = 0
    per_year: int = 252

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.entry, EntryRule):
            problems.append("entry must be an EntryRule (next-open or close)")
        hold = _whole(self.hold)
        if hold is None or not 1 <= hold <= MAX_HOLD:
            problems.append(f"hold must be a whole number of sessions from 1 to {MAX_HOLD} "
                            f"(got {self.hold!r})")
        latency = duration_ns(self.latency)
        if latency is None:
            problems.append(f"latency {str(self.latency)!r} is not a duration pandas can "
                            "represent")
        elif latency < 0:
            problems.append("latency cannot be negative")
        elif latency > MAX_LATENCY_NS:
            problems.append(f"latency {str(self.latency)!r} is longer than the maximum of "
                            f"{MAX_LATENCY.days} days")
        for name, limit in (("cost_bps", MAX_COST_BPS), ("threshold", math.inf)):
            value = getattr(self, name)
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            if not math.isfinite(number):
                problems.append(f"{name} must be a finite number (got {value!r})")
            elif number < 0:
                problems.append(f"{name} cannot be negative")
            elif number > limit:
                problems.append(f"{name} cannot exceed {limit:,.0f} (got {value!r})")
        window = tuple(_whole(b) for b in self.estimation) if len(self.estimation) == 2 \
            else (None, None)
        if window[0] is None or window[1] is None:
            problems.append(f"estimation window {self.estimation!r} must be two whole numbers")
        elif not -MAX_WINDOW <= window[0] <= window[1] < 0:
            problems.append(f"estimation window {format_window(self.estimation)} must end "
                            f"before day 0 and start at or after day -{MAX_WINDOW}")
        min_est = _whole(self.min_estimation)
        if min_est is None or not 3 <= min_est <= MAX_WINDOW:
            problems.append(f"min_estimation must be a whole number from 3 to {MAX_WINDOW} "
                            f"(got {self.min_estimation!r})")
        horizons = [_whole(h) for h in self.horizons]
        if any(h is None or not 1 <= h <= MAX_HOLD for h in horizons):
            problems.append(f"horizons must be whole numbers of sessions from 1 to {MAX_HOLD} "
                            f"(got {tuple(self.horizons)!r})")
        draws = _whole(self.placebo_draws)
        if draws is None or not 0 <= draws <= MAX_PLACEBO_DRAWS:
            problems.append(f"placebo_draws must be a whole number from 0 to "
                            f"{MAX_PLACEBO_DRAWS:,} (got {self.placebo_draws!r})")
        seed = _whole(self.seed)
        if seed is None or not 0 <= seed <= MAX_SEED:
            problems.append(f"seed must be a whole number from 0 to 2**63 - 1 "
                            f"(got {self.seed!r})")
        per_year = _whole(self.per_year)
        if per_year is None or not 1 <= per_year <= MAX_PER_YEAR:
            problems.append(f"per_year must be a whole number from 1 to {MAX_PER_YEAR} "
                            f"(got {self.per_year!r})")
        if problems:
            raise InputError("; ".join(problems))
        SignalSpec.parse(self.signal)

    @property
    def signal_spec(self) -> SignalSpec:
        """The parsed signal."""
        return SignalSpec.parse(self.signal)

    @property
    def needs_beta(self) -> bool:
        """Whether a market model must be estimated."""
        return self.hedge is HedgeMode.beta or self.signal_spec.name == "day0-ar"

    @property
    def needs_market(self) -> bool:
        """Whether every event needs a market index."""
        return self.hedge is not HedgeMode.none or self.needs_beta

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as plain JSON-able values."""
        return {
            "entry": self.entry.value, "signal": self.signal,
            "signal_mode": self.signal_mode.value, "threshold": self.threshold,
            "latency": str(pd.Timedelta(self.latency)), "hold": self.hold,
            "hedge": self.hedge.value, "cost_bps": self.cost_bps,
            "estimation": list(self.estimation), "min_estimation": self.min_estimation,
            "market": self.market, "horizons": list(self.horizons),
            "placebo_draws": self.placebo_draws, "seed": self.seed, "per_year": self.per_year,
        }


@dataclass(frozen=True)
class PlaceboResult:
    """The strategy's mean trade return against the same trades at random dates.

    Attributes
    ----------
    actual : float
        Mean net trade return of the strategy.
    draws : numpy.ndarray
        ``(D,)`` mean net trade return of each placebo draw.
    p_one_sided : float
        ``(1 + #{draw >= actual}) / (1 + D)``.
    p_two_sided : float
        ``(1 + #{|draw - m| >= |actual - m|}) / (1 + D)``, ``m`` the mean of the draws.
    events : int
        Trades that took part (a trade needs room for random dates).
    exclusion : int
        Placebo entries within this many sessions of the real one are not drawn.
    seed : int
        Seed used.
    """

    actual: float
    draws: FloatArray
    p_one_sided: float
    p_two_sided: float
    events: int
    exclusion: int
    seed: int

    @property
    def n_draws(self) -> int:
        """Number of draws."""
        return int(self.draws.size)


@dataclass(frozen=True)
class BacktestResult:
    """The immutable result of a backtest.

    Attributes
    ----------
    settings : BacktestSettings
        What was asked.
    trades : pandas.DataFrame
        One row per trade: event, signal, direction, day 0, entry and exit
        (session, kind, UTC time of the price, price), stock and market
        returns, hedge ratio, gross and net return, and forward returns.
    daily : pandas.DataFrame
        One row per session from the session before the first trade's first
        return to the last exit: ``date, equity, return, drawdown, exposure,
        n_positions, gross_return, cost, turnover, net_exposure, hedge_exposure,
        open_rebalance, frozen_weight, benchmark_equity``.
    metrics : dict
        Named figures (see ``docs/backtest.md``).
    forward : pandas.DataFrame
        Per horizon: ``n, mean, mean_signed, hit_rate, ic, ic_p``.
    placebo : PlaceboResult or None
        The random-date placebo.
    failures : pandas.DataFrame
        ``event_id, ticker, reason`` for events that could not be traded.
    diagnostics : tuple of str
        Notes on the data.
    """

    settings: BacktestSettings
    trades: pd.DataFrame
    daily: pd.DataFrame
    metrics: dict[str, Any]
    forward: pd.DataFrame
    placebo: PlaceboResult | None
    failures: pd.DataFrame
    diagnostics: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """Metrics as a two-column frame ``metric, value``."""
        return pd.DataFrame({"metric": list(self.metrics), "value": list(self.metrics.values())})

    def summary(self) -> str:
        """Return a plain-text summary of the main figures."""
        m = self.metrics
        s = self.settings

        def f(key: str, fmt: str = "{:.4f}") -> str:
            v = m.get(key)
            return fmt.format(v) if isinstance(v, int | float) and math.isfinite(v) else "n/a"

        lines = [
            "Backtest",
            "=" * 72,
            f"signal: {s.signal} ({s.signal_mode.value})   entry: {s.entry.value}   "
            f"latency: {pd.Timedelta(s.latency)}   hold: {s.hold}   hedge: {s.hedge.value}   "
            f"cost: {s.cost_bps:g} bps/side",
            f"trades: {m.get('trades', 0)}   not traded (|signal| <= threshold): "
            f"{m.get('events_not_traded', 0)}   failed: {len(self.failures)}",
            f"hit rate {f('hit_rate')}   mean trade {f('mean_trade_return')} "
            f"(t {f('mean_trade_t', '{:.2f}')})   median {f('median_trade_return')}",
            f"total {f('total_return')}   annualised {f('annualised_return')}   "
            f"vol {f('volatility')}   Sharpe {f('sharpe', '{:.2f}')}   "
            f"Sortino {f('sortino', '{:.2f}')}",
            f"max drawdown {f('max_drawdown')} over {f('max_drawdown_duration', '{:.0f}')} "
            f"sessions   exposure {f('exposure')}   turnover/yr {f('turnover_annual', '{:.1f}')}"
            f"   costs {f('costs_paid')}",
            f"benchmark (equal-weight buy and hold): total {f('benchmark_total_return')}   "
            f"Sharpe {f('benchmark_sharpe', '{:.2f}')}",
        ]
        if self.placebo is not None:
            pl = self.placebo
            lines.append(f"placebo ({pl.n_draws} draws): mean {np.mean(pl.draws):.5f}"
                         f"   p one-sided {self.placebo.p_one_sided:.4f}   "
                         f"two-sided {self.placebo.p_two_sided:.4f}")
        if len(self.forward):
            lines.append("-" * 72)
            lines.append(f"{'horizon':>8}{'N':>7}{'mean':>11}{'signed':>11}{'IC':>9}{'p':>9}")
            for row in self.forward.itertuples(index=False):
                lines.append(f"{row.horizon:>8d}{row.n:>7d}{row.mean:>11.5f}"
                             f"{row.mean_signed:>11.5f}{row.ic:>9.4f}{row.ic_p:>9.4f}")
        lines.append("=" * 72)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


# --------------------------------------------------------------------------------------
# Pure building blocks (array in, array out), each tested on its own.
# --------------------------------------------------------------------------------------

def next_valid(valid: BoolArray) -> IntArray:
    """Index of the first valid column at or after each column.

    Parameters
    ----------
    valid : numpy.ndarray
        ``(N, T)`` boolean.

    Returns
    -------
    numpy.ndarray
        ``(N, T + 1)`` int; ``T`` where no valid column follows (column ``T``
        is always ``T``, so a position ``T`` may be looked up safely).
    """
    n, t = valid.shape
    idx = np.where(valid, np.arange(t), t)
    out = np.full((n, t + 1), t, dtype=np.int64)
    if t:
        out[:, :t] = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]
    return out


def last_valid(valid: BoolArray) -> IntArray:
    """Index of the last valid column at or before each column (-1 when none), ``(N, T)``."""
    t = valid.shape[1]
    idx = np.where(valid, np.arange(t), -1)
    return np.maximum.accumulate(idx, axis=1).astype(np.int64) if t else idx.astype(np.int64)


def entry_sessions(known_ns: IntArray, opens_ns: IntArray, closes_ns: IntArray,
                   rule: EntryRule, next_open: IntArray, next_close: IntArray,
                   rows: IntArray) -> tuple[IntArray, BoolArray]:
    """Session of the first tradable price printed strictly after ``known_ns``.

    Parameters
    ----------
    known_ns : numpy.ndarray
        ``(E,)`` int64 UTC nanoseconds after which the signal may be used.
    opens_ns, closes_ns : numpy.ndarray
        ``(T,)`` int64 UTC open and close times of the sessions, ascending.
    rule : EntryRule
        Fill at the first open or the first close after ``known_ns``.
    next_open, next_close : numpy.ndarray
        ``(N, T + 1)`` from :func:`next_valid` on the open and close prices.
    rows : numpy.ndarray
        ``(E,)`` panel rows of the events' stocks.

    Returns
    -------
    entry : numpy.ndarray
        ``(E,)`` session positions; ``T`` where no such price exists.
    at_open : numpy.ndarray
        ``(E,)`` True where the fill is an open.
    """
    if rule is EntryRule.next_open:
        first = np.searchsorted(opens_ns, known_ns, side="right")
        entry = next_open[rows, first]
    else:
        first = np.searchsorted(closes_ns, known_ns, side="right")
        entry = next_close[rows, first]
    return entry.astype(np.int64), np.full(len(entry), rule is EntryRule.next_open)


def exit_sessions(entry: IntArray, at_open: BoolArray, hold: int | IntArray,
                  next_close: IntArray, rows: IntArray) -> IntArray:
    """Session of the exit close: ``hold`` sessions of returns after the entry.

    ``entry + hold - 1`` for an entry at an open, ``entry + hold`` for an entry
    at a close, moved to the next session with a close price; ``T`` when the
    data end first.
    """
    t = next_close.shape[1] - 1
    target = np.minimum(entry + np.asarray(hold) - at_open.astype(np.int64), t)
    return next_close[rows, np.maximum(target, 0)]


def leg_prices(open_px: FloatArray, close_px: FloatArray, next_close: IntArray, rows: IntArray,
               entry: IntArray, at_open: BoolArray,
               exit_: IntArray) -> tuple[FloatArray, IntArray, BoolArray, FloatArray]:
    """Entry price, entry session and kind, and exit price of one leg.

    The leg enters at the open of ``entry`` when ``at_open`` and an open price
    exists there; otherwise at the first close at or after ``entry``. It
    exits at the close of ``exit_``.

    Returns
    -------
    price_in : numpy.ndarray
        Entry prices (NaN when the leg cannot enter by ``exit_``).
    session_in : numpy.ndarray
        Entry sessions.
    opened : numpy.ndarray
        True where the leg entered at an open.
    price_out : numpy.ndarray
        Exit prices (NaN when there is no close at ``exit_``).
    """
    t = close_px.shape[1]
    e = np.minimum(entry, t - 1)
    x = np.minimum(exit_, t - 1)
    o = open_px[rows, e]
    opened = at_open & np.isfinite(o) & (entry < t)
    ce = next_close[rows, e]
    session_in = np.where(opened, e, ce)
    price_in = np.where(opened, o, close_px[rows, np.minimum(ce, t - 1)])
    price_in = np.where((entry < t) & (session_in <= exit_) & (session_in < t), price_in, np.nan)
    price_out = np.where(exit_ < t, close_px[rows, x], np.nan)
    return price_in, session_in, opened, price_out


def trade_returns(stock_in: FloatArray, stock_out: FloatArray, market_in: FloatArray,
                  market_out: FloatArray, direction: FloatArray, hedge_ratio: FloatArray,
                  cost: float) -> tuple[FloatArray, FloatArray]:
    """Gross and net return of hedged trades held from entry to exit.

    ``gross = d * (S_out / S_in - 1 - h * (M_out / M_in - 1))`` and
    ``net = gross - 2 * cost * (1 + |h|)`` (one entry and one exit per leg);
    with ``h = 0`` the market prices are not used.
    """
    stock = stock_out / stock_in - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        market = np.where(hedge_ratio != 0, market_out / market_in - 1.0, 0.0)
    gross = direction * (stock - hedge_ratio * market)
    return gross, gross - 2.0 * cost * (1.0 + np.abs(hedge_ratio))


@dataclass(frozen=True)
class LegReturns:
    """Per-session returns of one leg of a set of trades, ``(E, length)`` each.

    Attributes
    ----------
    whole : numpy.ndarray
        Previous mark to this session's mark (close to close once the leg is on).
    overnight, intraday : numpy.ndarray
        Previous mark to this session's open, and open to close (0 where not ``split_ok``).
    split_ok : numpy.ndarray
        The leg was held at the previous close and the session has an open and a close.
    """

    whole: FloatArray
    overnight: FloatArray
    intraday: FloatArray
    split_ok: BoolArray


@dataclass(frozen=True)
class OpenSplit:
    """What the daily portfolio needs to re-weight at session opens (``--entry next-open``).

    Per-trade arrays are ``(E,)``; per-cell arrays are aligned with the
    ``ret_cells`` of :func:`portfolio_daily`. Returns are signed contributions
    of one unit of weight: ``d * r`` for the stock leg, ``-d * h * r`` for the
    hedge leg.

    Attributes
    ----------
    at_open : numpy.ndarray
        Trade entered at the open of its first session (bool).
    hedge_in : numpy.ndarray
        Grid session at whose close the hedge leg went on; ``first - 1`` when
        the hedge leg entered at the open with the stock.
    hedge_opened : numpy.ndarray
        The hedge leg entered at the open of the first session (bool).
    stock_overnight, stock_intraday : numpy.ndarray
        The stock leg's previous close to open and open to close contributions.
    stock_ok : numpy.ndarray
        The stock leg was held overnight and the session has its open and close.
    hedge_overnight, hedge_intraday, hedge_whole : numpy.ndarray
        The hedge leg's contributions (overnight, intraday, close to close).
    hedge_ok : numpy.ndarray
        The hedge leg was held overnight and its market has an open and a close.
    open_ns : numpy.ndarray
        UTC nanoseconds of the open of the cell's session on its own exchange.
    """

    at_open: BoolArray
    hedge_in: IntArray
    hedge_opened: BoolArray
    stock_overnight: FloatArray
    stock_intraday: FloatArray
    stock_ok: BoolArray
    hedge_overnight: FloatArray
    hedge_intraday: FloatArray
    hedge_whole: FloatArray
    hedge_ok: BoolArray
    open_ns: IntArray


def leg_split_returns(open_px: FloatArray, close_px: FloatArray, last_close: IntArray,
                      rows: IntArray, session_in: IntArray, price_in: FloatArray,
                      start: IntArray, length: int) -> LegReturns:
    """Per-session returns of a leg, whole and split at the open, over ``length`` sessions.

    The leg is marked at the last close at or after ``session_in`` (its entry
    price before that), so a missing close carries the mark and the next close
    books the move. Column ``k`` is session ``start + k``.

    Parameters
    ----------
    open_px, close_px : numpy.ndarray
        ``(N, T)`` open and close prices (NaN where missing).
    last_close : numpy.ndarray
        ``(N, T)`` from :func:`last_valid` on the closes.
    rows : numpy.ndarray
        ``(E,)`` panel rows of the leg's instrument.
    session_in, price_in : numpy.ndarray
        ``(E,)`` session and price at which the leg went on.
    start : numpy.ndarray
        ``(E,)`` session of column 0.
    length : int
        Columns.

    Returns
    -------
    LegReturns
        ``whole`` is previous mark to this session's mark (0 before the leg
        is on and past the panel). Where ``split_ok`` (the leg was held at the
        previous close, i.e. ``session > session_in``, and the session has both
        an open and a close price), ``overnight`` is previous mark to open and
        ``intraday`` open to close, so ``(1 + overnight)(1 + intraday) = 1 + whole``;
        elsewhere both are 0.
    """
    t = close_px.shape[1]
    pos = start[:, None] + np.arange(length)[None, :]
    posc = np.clip(pos, 0, t - 1)
    lv = last_close[rows[:, None], posc]
    live = (pos < t) & (pos >= session_in[:, None]) & (lv >= session_in[:, None])
    mark = np.where(live, close_px[rows[:, None], np.maximum(lv, 0)], price_in[:, None])
    prev = np.concatenate([price_in[:, None], mark[:, :-1]], axis=1)
    # Before the leg's own first day its previous mark is the entry price too.
    whole = mark / prev - 1.0
    o = open_px[rows[:, None], posc]
    c = close_px[rows[:, None], posc]
    ok = (pos < t) & (pos > session_in[:, None]) & np.isfinite(o) & np.isfinite(c) \
        & np.isfinite(prev)
    with np.errstate(invalid="ignore", divide="ignore"):
        overnight = np.where(ok, o / prev - 1.0, 0.0)
        intraday = np.where(ok, c / o - 1.0, 0.0)
    return LegReturns(whole, overnight, intraday, ok)


def portfolio_daily(grid_size: int, first: IntArray, last: IntArray, weight_basis: FloatArray,
                    legs: FloatArray, ret_cells: IntArray, ret_trades: IntArray,
                    ret_values: FloatArray, direction: FloatArray, hedge_ratio: FloatArray,
                    cost: float, *, split: OpenSplit | None = None) -> dict[str, FloatArray]:
    """Daily returns of the equal-weight (or signal-weight) portfolio of trades.

    Weights are set at closes and, on a session where trades enter at the
    open, at that open; between two such moments positions are held (drift is
    not charged as turnover). Let ``a_i`` be 1 (equal weights) or ``|signal|``.

    * At the close of ``t - 1``, after that close's exits, the positions held
      overnight into ``t`` get ``W_i = a_i / A_t`` (``A_t`` their sum); a
      position entered at the open of ``t`` is not among them.
    * If no trade enters at the open of ``t`` the session is booked close to
      close at those weights: ``r_t = sum_i W_i x_i`` with ``x_i`` the trade's
      signed, hedged return (as without ``split``).
    * If trades enter at the open of ``t``, the session is split. A position
      held overnight is *tradable* at that open if its stock has an open and a
      close on ``t`` and that open is not earlier than the open of any entry of
      ``t``; otherwise it is *frozen*: kept at ``W_i`` and booked close to
      close with its hedge. With ``Phi_t`` the frozen weight, the overnight
      return of the tradable positions ``R_on = sum W_i x^on_i`` and, at the
      open, the tradable positions and the entries share ``1 - Phi_t`` as
      ``w_i = (1 - Phi_t) a_i / A'_t``, earning
      ``R_id = sum a_i x^id_i / A'_t`` (an entry earns only open to close). A
      hedge leg whose market has no open that day is not re-weighted at the
      open: it is held close to close at ``W_i`` (its P&L ``F_t``, with the
      frozen positions'), and a hedge leg that did not enter at the open goes
      on at a close. Then, per unit of the previous close's equity,
      ``1 + r_t = E_o + (E_o - Phi_t) R_id + F_t - cost * TC_t`` with
      ``E_o = 1 + R_on - cost * TO_t`` (the open's trades are paid at the
      open); without frozen legs this is ``(1 + R_on - cost TO_t)(1 + R_id) - 1``.

    Turnover sums ``|weight change|`` over legs (a trade has ``1 + |h|``):
    ``TO_t`` at the open of ``t``; ``TC_t`` is the change at the close of
    ``t - 1`` of the positions held overnight into ``t`` (re-weighting after
    exits, entries at that close) plus the weight sold at the close of ``t``
    (exits). A hedge leg that goes on at the exit close itself (hold 1 with a
    close-only market) is charged on and off there, as in the trade's net return.

    Parameters
    ----------
    grid_size : int
        Sessions on the daily grid.
    first, last : numpy.ndarray
        ``(E,)`` grid positions of each trade's first and last session of returns.
    weight_basis : numpy.ndarray
        ``(E,)`` ``a_i`` (1, or ``|signal|``).
    legs : numpy.ndarray
        ``(E,)`` ``1 + |h_i|``.
    ret_cells, ret_trades, ret_values : numpy.ndarray
        Flat lists: grid position, trade and close-to-close return ``x_{i,t}``
        (hedged and signed) of each (trade, session) with a price; a held
        trade without a cell on a session (its exchange closed) has return 0
        and cannot trade at that open.
    direction, hedge_ratio : numpy.ndarray
        ``(E,)`` for net and hedge exposure.
    cost : float
        Cost per unit of turnover (bps / 1e4).
    split : OpenSplit, optional
        Needed when trades enter at opens; without it every weight change is
        at a close (``--entry close``).

    Returns
    -------
    dict of str to numpy.ndarray
        ``gross_return, cost, turnover, exposure, net_exposure, hedge_exposure,
        n_positions, open_rebalance, frozen_weight`` on the grid (``cost`` is gross
        minus net; ``frozen_weight`` is ``Phi_t`` on sessions split at the open).
    """
    G = grid_size
    first = np.asarray(first, dtype=np.int64)
    last = np.asarray(last, dtype=np.int64)
    a = np.asarray(weight_basis, dtype=float)
    hw = np.abs(np.asarray(legs, dtype=float) - 1.0)
    n_trades = len(first)
    span = last - first + 1
    offset = np.concatenate(([0], np.cumsum(span)[:-1])).astype(np.int64)
    own = np.repeat(np.arange(n_trades), span)
    t = first[own] + np.arange(int(span.sum())) - offset[own]
    where_ret = offset[ret_trades] + np.asarray(ret_cells) - first[ret_trades]

    def dense(values: Any, fill: Any = 0.0) -> Any:
        out = np.full(len(t), fill, dtype=np.asarray(values).dtype)
        out[where_ret] = values
        return out

    def per_session(values: Any) -> FloatArray:
        return np.bincount(t, weights=values, minlength=G)[:G].astype(np.float64)

    def safe(x: FloatArray) -> FloatArray:
        return np.where(x > 0, x, 1.0)

    x_whole = dense(np.asarray(ret_values, dtype=float))
    at_open = split.at_open if split is not None else np.zeros(n_trades, dtype=bool)
    new = at_open[own] & (t == first[own])
    overnight = ~new
    a_c = a[own]
    A_on = per_session(np.where(overnight, a_c, 0.0))
    A_all = per_session(a_c)
    reb_session = per_session(new.astype(float)) > 0
    W_on = np.where(overnight, a_c / safe(A_on)[t], 0.0)
    reb = reb_session[t]

    if split is None:
        tradable = new.copy()
        zeros = np.zeros(len(t))
        s_on = s_id = m_on = m_id = m_whole = zeros
        m_ok = np.zeros(len(t), dtype=bool)
        hedge_in = first - 1
        hedge_opened = np.zeros(n_trades, dtype=bool)
    else:
        s_on, s_id = dense(split.stock_overnight), dense(split.stock_intraday)
        m_on, m_id = dense(split.hedge_overnight), dense(split.hedge_intraday)
        m_whole = dense(split.hedge_whole)
        m_ok = dense(split.hedge_ok, False)
        open_ns = dense(np.asarray(split.open_ns, dtype=np.int64), np.iinfo(np.int64).min)
        latest_entry = np.full(G, np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(latest_entry, t[new], open_ns[new])
        tradable = new | (overnight & dense(split.stock_ok, False)
                          & (open_ns >= latest_entry[t]))
        hedge_in, hedge_opened = split.hedge_in, split.hedge_opened

    frozen = reb & overnight & ~tradable
    cont = reb & overnight & tradable
    held_hedge = overnight & (t > hedge_in[own]) & (hw[own] > 0)
    hedge_split = cont & held_hedge & m_ok
    A_tr = per_session(np.where(reb & tradable, a_c, 0.0))
    phi = per_session(np.where(frozen, W_on, 0.0))
    r_on = per_session(np.where(cont, W_on * (s_on + np.where(hedge_split, m_on, 0.0)), 0.0))
    x_id = np.where(new, x_whole, s_id + np.where(hedge_split, m_id, 0.0))
    r_id = per_session(np.where(reb & tradable, a_c * x_id, 0.0)) / safe(A_tr)
    frozen_pnl = per_session(np.where(frozen, W_on * x_whole, 0.0)
                             + np.where(cont & held_hedge & ~hedge_split, W_on * m_whole, 0.0))
    # Sessions without entries at the open: close to close at the weights of the previous close.
    r_close = np.bincount(t, weights=np.where(reb, 0.0, a_c * x_whole), minlength=G)[:G] \
        / safe(A_on)

    # Weights: S for stock legs, H (>= 0) for hedge legs, overnight (on) and intraday (id).
    omega = (1.0 - phi)[t] * a_c / safe(A_tr)[t]
    S_on = W_on
    S_id = np.where(reb & tradable, omega, W_on)
    H_on = np.where(held_hedge, hw[own] * W_on, 0.0)
    hedge_at_open = hedge_split | (new & hedge_opened[own] & (hw[own] > 0))
    H_id = np.where(reb & hedge_at_open, hw[own] * omega, H_on)
    first_cell = t == first[own]
    prev_S = np.where(first_cell, 0.0, np.roll(S_id, 1))
    prev_H = np.where(first_cell, 0.0, np.roll(H_id, 1))
    is_last = t == last[own]
    never_hedged = is_last & (hw[own] > 0) & ~(H_id > 0)
    to_open = per_session(np.where(reb, np.abs(S_id - S_on) + np.abs(H_id - H_on), 0.0))
    to_close = per_session(np.where(overnight, np.abs(S_on - prev_S) + np.abs(H_on - prev_H), 0.0)
                           + np.where(is_last, S_id + H_id
                                      + np.where(never_hedged, 2.0 * hw[own] * S_id, 0.0), 0.0))
    to_open = np.where(np.abs(to_open) < 1e-15, 0.0, to_open)
    to_close = np.where(np.abs(to_close) < 1e-15, 0.0, to_close)
    turnover = to_open + to_close

    gross_split = r_on + (1.0 + r_on - phi) * r_id + frozen_pnl
    gross = np.where(reb_session, gross_split, np.where(A_on > 0, r_close, 0.0))
    # The open's trades are paid at the open, before the intraday return:
    # gross - net = cost * TO_t * (1 + R_id) + cost * TC_t.
    cost_paid = np.where(reb_session, cost * to_open * (1.0 + r_id) + cost * to_close,
                         cost * turnover)
    sign_h = np.sign(np.asarray(hedge_ratio, dtype=float))
    return {
        "gross_return": gross,
        "cost": cost_paid,
        "turnover": turnover,
        "exposure": np.where(A_all > 0, 1.0, 0.0),
        "net_exposure": per_session(S_id * np.asarray(direction, dtype=float)[own]),
        "hedge_exposure": per_session(sign_h[own] * H_id),
        "n_positions": np.bincount(t, minlength=G)[:G].astype(np.int64),
        "open_rebalance": reb_session,
        "frozen_weight": np.where(reb_session, phi, 0.0),
    }


def placebo_entries(rng: np.random.Generator, draws: int, lo: IntArray, hi: IntArray,
                    actual: IntArray, exclusion: int) -> IntArray:
    """Random entry sessions, uniform on ``[lo, hi]`` without ``actual +- exclusion``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source.
    draws : int
        Number of draws.
    lo, hi : numpy.ndarray
        ``(E,)`` inclusive bounds (events with too little room must be removed first).
    actual : numpy.ndarray
        ``(E,)`` real entry sessions.
    exclusion : int
        Half-width of the excluded band around ``actual``.

    Returns
    -------
    numpy.ndarray
        ``(draws, E)`` session positions.
    """
    band_lo = np.maximum(actual - exclusion, lo)
    band_hi = np.minimum(actual + exclusion, hi)
    band = np.maximum(band_hi - band_lo + 1, 0)
    room = hi - lo + 1 - band
    u = np.floor(rng.random((draws, len(lo))) * room).astype(np.int64) + lo
    return np.where((band > 0) & (u >= band_lo), u + band, u)


# --------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Exchange:
    """Prices of one exchange lined up on its sessions (internal)."""

    sessions: TradingSessions
    panel: ExchangePanel
    opens_ns: IntArray
    closes_ns: IntArray
    open_px: FloatArray
    next_open: IntArray
    next_close: IntArray
    last_close: IntArray
    tz: str


class Backtest:
    """Backtest a news-driven signal.

    Parameters
    ----------
    settings : BacktestSettings
        All settings (the fill rule ``entry`` has no default).
    **overrides
        Any :class:`BacktestSettings` field.

    Examples
    --------
    >>> bt = Backtest(BacktestSettings(entry=EntryRule.next_open, hold=5))  # doctest: +SKIP
    >>> result = bt.run(read_events("scored.csv"), source)  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP
    """

    def __init__(self, settings: BacktestSettings, **overrides: Any) -> None:
        self.settings = replace(settings, **overrides) if overrides else settings

    # -- public -------------------------------------------------------------------------
    def run(self, events: EventCatalogue | pd.DataFrame,
            prices: PriceSource | Mapping[str, pd.DataFrame]) -> BacktestResult:
        """Run the backtest.

        Parameters
        ----------
        events : EventCatalogue or pandas.DataFrame
            Validated events (a frame is validated strictly first).
        prices : PriceSource or mapping of str to pandas.DataFrame
            Where prices come from; a mapping gives standard frames by ticker.

        Returns
        -------
        BacktestResult
        """
        s = self.settings
        catalogue = events if isinstance(events, EventCatalogue) else events_from_frame(events)
        frame = catalogue.frame.copy()
        failures: list[dict[str, str]] = []
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
            for eid, tic in zip(frame.loc[missing, "event_id"], frame.loc[missing, "ticker"],
                                strict=True):
                failures.append({"event_id": str(eid), "ticker": str(tic),
                                 "reason": f"no numeric value in signal column {spec.name!r}"})
            frame = frame.loc[~missing]
        else:
            frame["signal"] = np.nan
        frame["market"] = frame["market"].where(frame["market"] != "", s.market or "")
        frame["market"] = [m or DEFAULT_MARKET.get(x, "") for m, x in
                           zip(frame["market"], frame["exchange"], strict=True)]
        if s.needs_market:
            no_market = frame["market"] == ""
            sub = frame.loc[no_market]
            for eid, tic, exch in zip(sub["event_id"], sub["ticker"], sub["exchange"],
                                      strict=True):
                failures.append({"event_id": str(eid), "ticker": str(tic),
                                 "reason": f"no market index for exchange {exch}; "
                                           "give a 'market' column or --market"})
            frame = frame.loc[~no_market]
        fetched = self._fetch(frame, prices)
        frames: dict[str, pd.DataFrame] = {}
        for ticker, raw in fetched.frames.items():
            cleaned, notes = clean_prices(raw, ticker)
            frames[ticker] = cleaned
            diagnostics.extend(str(n) for n in notes)
        parts = []
        for exchange, group in frame.groupby("exchange", sort=True):
            part = self._run_exchange(str(exchange), group, frames, fetched.failures,
                                      failures, diagnostics)
            if part is not None:
                parts.append(part)
        return self._assemble(parts, failures, diagnostics, catalogue)

    # -- steps --------------------------------------------------------------------------
    def _fetch(self, frame: pd.DataFrame,
               prices: PriceSource | Mapping[str, pd.DataFrame]) -> PriceFetch:
        s = self.settings
        return fetch_for_events(frame, prices, s.estimation[0], max(s.hold, *s.horizons) + 1)

    @staticmethod
    def _exchange_data(exchange: str, group: pd.DataFrame,
                       frames: Mapping[str, pd.DataFrame]) -> _Exchange | None:
        tickers = list(dict.fromkeys([*group["ticker"], *[m for m in group["market"] if m]]))
        used = [t for t in tickers if t in frames and len(frames[t])]
        if not used:
            return None
        start = min(frames[t].index.min() for t in used)
        end = max(frames[t].index.max() for t in used)
        candidates = [DEFAULT_MARKET.get(exchange, ""), *group["market"].value_counts().index]
        reference = next((m for m in candidates if m in frames and len(frames[m])), None)
        index_dates = pd.DatetimeIndex(frames[reference].index) if reference else None
        sessions = exchange_sessions(exchange, start, end, index_dates, reference)
        panel = build_panel(sessions, {t: frames[t] for t in used})
        labels = sessions.labels
        open_px = np.full(panel.prices.shape, np.nan)
        for i, t in enumerate(panel.tickers):
            f = frames[t]
            pos = labels.get_indexer(f.index)
            keep = pos >= 0
            raw_close = f["close"].to_numpy(dtype=float)
            adj = f["adj_close"].fillna(f["close"]).to_numpy(dtype=float)
            with np.errstate(invalid="ignore", divide="ignore"):
                factor = np.where(np.isfinite(raw_close) & (raw_close > 0), adj / raw_close, 1.0)
            opens = f["open"].to_numpy(dtype=float) * factor
            opens = np.where(opens > 0, opens, np.nan)
            open_px[i, pos[keep]] = opens[keep]
        open_px = np.where(np.isfinite(panel.prices) | np.isfinite(open_px), open_px, np.nan)
        valid_close = np.isfinite(panel.prices)
        return _Exchange(
            sessions=sessions, panel=panel,
            opens_ns=session_opens(sessions).as_unit("ns").asi8,
            closes_ns=sessions.closes.as_unit("ns").asi8,
            open_px=open_px, next_open=next_valid(np.isfinite(open_px)),
            next_close=next_valid(valid_close), last_close=last_valid(valid_close),
            tz=exchange_timezone(exchange))

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

    def _run_exchange(self, exchange: str, group: pd.DataFrame,
                      frames: Mapping[str, pd.DataFrame], fetch_failures: Mapping[str, str],
                      failures: list[dict[str, str]],
                      diagnostics: list[str]) -> dict[str, Any] | None:
        s = self.settings
        spec = s.signal_spec

        def fail(mask: BoolArray, reasons: str | Sequence[str]) -> None:
            rows = group.loc[mask]
            why = [reasons] * len(rows) if isinstance(reasons, str) else list(reasons)
            for eid, tic, r in zip(rows["event_id"], rows["ticker"], why, strict=True):
                failures.append({"event_id": eid, "ticker": tic, "reason": r})

        missing = (~group["ticker"].isin(frames)).to_numpy()
        fail(missing, [f"prices: {fetch_failures.get(t, 'not available')}"
                       for t in group.loc[missing, "ticker"]])
        group = group.loc[~missing]
        if s.needs_market:
            missing = (~group["market"].isin(frames)).to_numpy()
            fail(missing, [f"market {m}: {fetch_failures.get(m, 'not available')}"
                           for m in group.loc[missing, "market"]])
            group = group.loc[~missing]
        if group.empty:
            return None
        data = self._exchange_data(exchange, group, frames)
        if data is None:
            return None
        if len(data.sessions.dropped):
            shown = ", ".join(str(d.date()) for d in data.sessions.dropped[:8])
            diagnostics.append(
                f"{exchange}: {len(data.sessions.dropped)} calendar session(s) dropped because "
                f"{data.sessions.reference} did not trade: {shown}"
                + (" ..." if len(data.sessions.dropped) > 8 else ""))
        panel = data.panel
        T = len(data.sessions)
        rows = np.array([panel.row(t) for t in group["ticker"]], dtype=np.int64)
        mrows = np.array([panel.row(m) if m in panel.tickers else -1 for m in group["market"]],
                         dtype=np.int64)
        day0 = anchor_day0(data.sessions, group["timestamp"], group["date"], group["timing"])
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
        neutral = keep & ~(np.abs(signal) > s.threshold)
        trade = keep & ~neutral
        result = {"exchange": exchange, "data": data, "n_neutral": int(neutral.sum())}
        if not trade.any():
            result["trades"] = None
            return result
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
        result.update({
            "trades": trades, "first": first, "exit": exit_, "daily": daily, "inside": inside,
            "basis": basis, "direction": direction, "hedge": hedge, "rows": rows,
            "m_rows": m_rows, "entry": entry, "at_open": at_open, "lo_valid": lo_valid[rows],
            "pieces": pieces, "m_sess": m_sess, "m_opened": m_opened & (hedge != 0),
        })
        return result

    def _assemble(self, parts: list[dict[str, Any]], failures: list[dict[str, str]],
                  diagnostics: list[str], catalogue: EventCatalogue) -> BacktestResult:
        s = self.settings
        order = {eid: i for i, eid in enumerate(catalogue.frame["event_id"])}
        fail_frame = pd.DataFrame(failures, columns=["event_id", "ticker", "reason"])
        if len(fail_frame):
            fail_frame = fail_frame.assign(_o=fail_frame["event_id"].map(order)).sort_values(
                "_o", kind="stable").drop(columns="_o").reset_index(drop=True)
        n_neutral = sum(p["n_neutral"] for p in parts)
        traded = [p for p in parts if p.get("trades") is not None]
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
        trades = pd.concat([p["trades"] for p in traded], ignore_index=True)
        at_opens = trades.loc[trades["entry_kind"] == "open"]
        mixed = int((at_opens.groupby("entry_date")["entry_time"].nunique() > 1).sum())
        if mixed:
            diagnostics.append(
                f"{mixed} session(s) had entries at the opens of different exchanges: the daily "
                "portfolio sizes a date's entries together, so an entry at an earlier open "
                "counts those at a later one (weights only; see docs/backtest.md)")
        rank = trades["event_id"].map(order).to_numpy()
        trades = trades.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)
        forward = self._forward(trades)
        placebo = self._placebo(traded) if s.placebo_draws > 0 else None
        metrics = self._metrics(trades, daily, forward, placebo, n_neutral, len(fail_frame),
                                traded, grid)
        return BacktestResult(s, trades, daily, metrics, forward, placebo, fail_frame,
                              tuple(dict.fromkeys(diagnostics)))

    @staticmethod
    def _grid(parts: list[dict[str, Any]]) -> pd.DatetimeIndex:
        """Union of the sessions from the one before the first return to the last exit."""
        pieces = []
        for p in parts:
            labels = p["data"].sessions.labels
            lo = max(int(p["first"].min()) - 1, 0)
            hi = int(p["exit"].max())
            pieces.append(labels[lo:hi + 1])
        union = pieces[0]
        for piece in pieces[1:]:
            union = union.union(piece)
        return pd.DatetimeIndex(union, name="date")

    def _daily(self, parts: list[dict[str, Any]], grid: pd.DatetimeIndex) -> pd.DataFrame:
        s = self.settings
        firsts, lasts, bases, legs, dirs, hedges = [], [], [], [], [], []
        cells, owners, values = [], [], []
        at_opens, hedge_ins, hedge_openeds = [], [], []
        pieces: dict[str, list[Any]] = {}
        offset = 0
        for p in parts:
            labels = p["data"].sessions.labels
            to_grid = grid.get_indexer(labels)
            first_g = to_grid[p["first"]]
            last_g = to_grid[p["exit"]]
            n, length = p["daily"].shape
            pos = p["first"][:, None] + np.arange(length)[None, :]
            inside = p["inside"]
            cell = to_grid[np.minimum(pos, len(labels) - 1)]
            owner = np.broadcast_to(np.arange(n)[:, None] + offset, (n, length))
            cells.append(cell[inside])
            owners.append(owner[inside])
            values.append(p["daily"][inside])
            for key, arr in p["pieces"].items():
                pieces.setdefault(key, []).append(arr[inside])
            firsts.append(first_g)
            lasts.append(last_g)
            bases.append(p["basis"])
            legs.append(1.0 + np.abs(p["hedge"]))
            dirs.append(p["direction"])
            hedges.append(p["hedge"])
            at_opens.append(p["at_open"])
            # The hedge leg is held overnight after the close of `hedge_in`.
            hedge_ins.append(np.where(p["m_opened"], first_g - 1,
                                      to_grid[np.minimum(p["m_sess"], len(labels) - 1)]))
            hedge_openeds.append(p["m_opened"])
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
    def _benchmark(parts: list[dict[str, Any]], grid: pd.DatetimeIndex) -> FloatArray:
        """Equal-weight buy and hold of the traded stocks from the grid's first close."""
        paths = []
        for p in parts:
            data: _Exchange = p["data"]
            labels = data.sessions.labels
            rows = np.unique(p["rows"])
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

    def _placebo(self, parts: list[dict[str, Any]]) -> PlaceboResult:
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
            data: _Exchange = p["data"]
            T = len(data.sessions)
            net = p["trades"]["net_return"].to_numpy(dtype=float)
            actual_sum += float(np.nansum(net))
            actual_n += int(np.isfinite(net).sum())
            lo = p["lo_valid"]
            hi = np.full(len(lo), T - 1 - s.hold)
            band = np.minimum(p["entry"] + exclusion, hi) - np.maximum(p["entry"] - exclusion,
                                                                        lo) + 1
            ok = (hi - lo + 1 - np.maximum(band, 0)) >= 1
            if not ok.any():
                continue
            used += int(ok.sum())
            sel = np.flatnonzero(ok)
            rows, m_rows = p["rows"][sel], p["m_rows"][sel]
            at_open, hedge, direction = p["at_open"][sel], p["hedge"][sel], p["direction"][sel]
            for start in range(0, draws, _PLACEBO_CHUNK):
                k = min(_PLACEBO_CHUNK, draws - start)
                cand = placebo_entries(rng, k, lo[sel], hi[sel], p["entry"][sel], exclusion)
                r2 = np.broadcast_to(rows, cand.shape)
                mr2 = np.broadcast_to(m_rows, cand.shape)
                nxt = data.next_open if s.entry is EntryRule.next_open else data.next_close
                e = nxt[r2, cand]
                ao = np.broadcast_to(at_open, cand.shape)
                x = exit_sessions(e, ao, s.hold, data.next_close, r2)
                si, _, _, so = leg_prices(data.open_px, data.panel.prices, data.next_close,
                                          r2, e, ao, x)
                mi, _, _, mo = leg_prices(data.open_px, data.panel.prices, data.next_close,
                                          mr2, e, ao, x)
                _, pn = trade_returns(si, so, mi, mo, np.broadcast_to(direction, cand.shape),
                                      np.broadcast_to(hedge, cand.shape), cost)
                fin = np.isfinite(pn)
                sums[start:start + k] += np.where(fin, pn, 0.0).sum(axis=1)
                counts[start:start + k] += fin.sum(axis=1)
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
                 parts: list[dict[str, Any]], grid: pd.DatetimeIndex) -> dict[str, Any]:
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
            data: _Exchange = p["data"]
            labels = data.sessions.labels
            for market in sorted(set(p["trades"]["market"])):
                if market not in data.panel.tickers:
                    continue
                row = data.panel.row(market)
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
