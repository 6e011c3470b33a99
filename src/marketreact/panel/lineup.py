"""The front half shared by the event study and the backtest: events lined up on prices.

``EventStudy.fit`` and ``Backtest.run`` start the same way, and this module holds
that start once:

* :func:`price_table`: the prices given to an analysis (a
  :class:`~marketreact.prices.frames.PriceFetch`, a
  :class:`~marketreact.panel.table.PriceTable` or standard frames by ticker) as
  one cleaned :class:`PriceTable`, with why tickers have no usable prices and the
  notes of what was cleaned (:class:`TablePrices`). A price *source* is refused:
  reading files and downloading is :func:`marketreact.prices.load_prices`'s job.
* :func:`assign_markets`: each event's market index (its own, the ``market``
  setting, else its exchange's default) and failures for events that need one
  and have none.
* :func:`line_up`: one exchange's events on its sessions (calendar sessions
  confirmed by the market index, or the index's own dates), day 0 of every event,
  the return panel and each event's stock and market rows in it, failures for
  missing stock or market prices and the "dropped sessions" diagnostic
  (:class:`Lineup`).
* :func:`adjusted_opens`: the opens of a lineup's panel, adjusted like the closes
  (the backtest fills at opens).
* :func:`failure_frame`: failures as a frame, in catalogue order.

Everything here is pure (frames in, arrays out: no file, no network) and
vectorised over events: tickers are looked up once per distinct value
(``pd.factorize`` then ``Index.get_indexer``), never per event.

Imports: :mod:`marketreact.calendar`, :mod:`marketreact.errors`,
:mod:`marketreact.prices` (frames; ``load_prices`` only to normalise frames given
by ticker, which reads nothing) and
:mod:`marketreact.panel` (table, returns); nothing above ``panel`` (no windows,
models, study or backtest).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from marketreact._typing import BoolArray, FloatArray, IntArray
from marketreact.calendar import (
    DEFAULT_MARKET,
    SessionSource,
    TradingSessions,
    anchor_day0,
    event_markets,
    exchange_sessions,
    market_sessions,
)
from marketreact.errors import InputError
from marketreact.panel.returns import ExchangePanel, ReturnKind
from marketreact.panel.screening import lookup
from marketreact.panel.table import PriceTable
from marketreact.prices import load_prices
from marketreact.prices.cleaning import StackedRows, stack_standard
from marketreact.prices.frames import PRICE_COLUMNS, PriceFetch, PriceSuspect

#: Dropped sessions named in the diagnostic before "...".
_SHOWN_DROPPED = 8
_FAILURE_COLUMNS = ["event_id", "ticker", "reason"]


class Failure(NamedTuple):
    """An event that could not be analysed, and why."""

    event_id: str
    ticker: str
    reason: str


@dataclass(frozen=True)
class TablePrices:
    """The prices of an analysis, cleaned and stacked.

    Attributes
    ----------
    table : PriceTable
        Every frame, cleaned (tickers left without a row are not in the mapping).
    failures : mapping of str to str
        Why tickers have no usable prices (as the source said, or "no usable
        prices" when the cleaning removed every row).
    notes : tuple of str
        What the source and the cleaning found, ticker by ticker (tickers with
        usable prices only).
    suspects : mapping of str to tuple of PriceSuspect
        Suspect prices the source found, by ticker.
    frames : mapping of str to pandas.DataFrame, optional
        The frames the table was built from (row for row), when known.
    """

    table: PriceTable
    failures: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    suspects: Mapping[str, tuple[PriceSuspect, ...]] = field(default_factory=dict)
    frames: Mapping[str, pd.DataFrame] | None = None

    def why_missing(self, tickers: pd.Series) -> list[str]:
        """Return why each of ``tickers`` has no usable prices ("not available" by default)."""
        return [self.failures.get(t, "not available") for t in tickers]


@dataclass(frozen=True)
class Lineup:
    """The events of one exchange lined up on its sessions.

    Attributes
    ----------
    exchange : str
        Calendar code.
    events : pandas.DataFrame
        The events lined up (those with the prices they need), in catalogue
        order; the index is the catalogue's.
    sessions : TradingSessions
        The exchange's sessions (empty when no event could be lined up).
    panel : ExchangePanel
        Prices and returns of the events' stocks and market indexes on ``sessions``.
    day0 : numpy.ndarray
        ``(E,)`` session position of each event's day 0 (``len(sessions)`` when
        the event comes after the last session).
    stock_rows, market_rows : numpy.ndarray
        ``(E,)`` panel rows of each event's stock and market index (-1 for a
        market without prices, allowed only when no market is required).
    failures : tuple of Failure
        Events that could not be lined up (no prices for the stock or a required
        market, sessions out of the calendar's range), in event order.
    diagnostics : tuple of str
        Messages for the user (calendar sessions dropped because the index did
        not trade).
    """

    exchange: str
    events: pd.DataFrame
    sessions: TradingSessions
    panel: ExchangePanel
    day0: IntArray
    stock_rows: IntArray
    market_rows: IntArray
    failures: tuple[Failure, ...] = ()
    diagnostics: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.events)

    def with_events(self, events: pd.DataFrame) -> Lineup:
        """Return the lineup with ``events`` (same rows, e.g. columns added) in place of its own."""
        if len(events) != len(self.events):
            raise ValueError("with_events needs one row per event of the lineup")
        return Lineup(self.exchange, events, self.sessions, self.panel, self.day0,
                      self.stock_rows, self.market_rows, self.failures, self.diagnostics)

    def subset(self, keep: BoolArray) -> Lineup:
        """Return the lineup of the events where ``keep`` is true (same sessions and panel)."""
        return Lineup(self.exchange, self.events.loc[keep], self.sessions, self.panel,
                      self.day0[keep], self.stock_rows[keep], self.market_rows[keep],
                      self.failures, self.diagnostics)


# -- prices ---------------------------------------------------------------------------------
def price_table(prices: PriceFetch | PriceTable | Mapping[str, pd.DataFrame] | Any,
                events: pd.DataFrame, *, volume_notes: bool = True) -> TablePrices:
    """Clean and stack the prices given to an analysis.

    Parameters
    ----------
    prices : PriceFetch, PriceTable or mapping of str to pandas.DataFrame
        What :func:`marketreact.prices.load_prices` returned, a table already
        built, or frames by ticker (normalised as
        :func:`~marketreact.prices.load_prices` does, with
        :func:`~marketreact.prices.frames.standard_frame`; only the tickers and
        market indexes named by ``events`` are used).
    events : pandas.DataFrame
        The events, with their ``ticker`` and ``market`` columns (markets
        assigned, see :func:`assign_markets`).
    volume_notes : bool, default True
        Keep the cleaning's notes about volume (filler rows, negative volumes).
        An analysis of prices passes False: the rows are cleaned all the same,
        but a note about volume would speak of data that plays no part in it.

    Returns
    -------
    TablePrices

    Raises
    ------
    TypeError
        For a price source (an object with ``fetch``) or anything else that is
        not prices.
    """
    if isinstance(prices, PriceTable):
        return TablePrices(prices, notes=_notes(prices, None, volume_notes))
    rows: StackedRows | None = None
    if isinstance(prices, PriceFetch):
        fetched = prices
    elif isinstance(prices, Mapping):
        fetched, rows = _given_frames(prices, events)
    elif callable(getattr(prices, "fetch", None)):
        raise TypeError(f"prices must be loaded first, not given as a source "
                        f"({type(prices).__name__}): call marketreact.load_prices(source, "
                        "events, before=..., after=...) and pass what it returns")
    else:
        raise TypeError(f"prices must be a PriceFetch (marketreact.load_prices), a "
                        f"PriceTable or a mapping of ticker to frame, not {type(prices).__name__}")
    table = PriceTable(fetched.frames, rows=rows)
    failures = dict(fetched.failures)
    for ticker in table.empty:  # nothing usable in the span: a failure, not a crash
        failures[ticker] = f"no usable prices for {ticker} in the span needed"
    return TablePrices(table, failures, _notes(table, fetched, volume_notes),
                       dict(fetched.suspects), fetched.frames)


def _notes(table: PriceTable, fetched: PriceFetch | None,
           volume_notes: bool = True) -> tuple[str, ...]:
    """The source's then the cleaning's notes, ticker by ticker (tickers with prices only)."""
    empty = set(table.empty)
    found = fetched.notes if fetched is not None else {}
    out: list[str] = []
    for ticker in table.tickers:
        if ticker not in empty:
            cleaned = [n for n in table.notes.get(ticker, ())
                       if volume_notes or n.field != "volume"]
            out.extend(str(n) for n in (*found.get(ticker, ()), *cleaned))
    return tuple(out)


def _given_frames(prices: Mapping[str, pd.DataFrame], events: pd.DataFrame
                  ) -> tuple[PriceFetch, StackedRows | None]:
    """The frames of the tickers ``events`` name, normalised as ``load_prices`` does.

    Frames already in the standard shape (see
    :func:`~marketreact.prices.cleaning.stack_standard`) are taken as they are;
    the others go through :func:`~marketreact.prices.load_prices`, which for
    frames is pure (no I/O). Returns the frames and, when every frame was
    standard, their stacked rows (else None: the table stacks them).
    """
    tickers = needed_tickers(events)
    given = {t: prices[t] for t in tickers if t in prices}
    rows, others = stack_standard(given)
    if not others and len(given) == len(tickers):
        return PriceFetch(given, {}, {}), rows
    ready = {t: given[t] for t in rows.tickers}
    loaded = load_prices({str(t): f for t, f in prices.items() if t not in ready}, events)
    frames = {t: ready[t] if t in ready else loaded.frames[t] for t in tickers
              if t in ready or t in loaded.frames}
    failures = {t: why for t, why in loaded.failures.items() if t not in ready}
    return PriceFetch(frames, failures, dict(loaded.notes)), None


def needed_tickers(events: pd.DataFrame) -> list[str]:
    """Tickers then market indexes of ``events``, each once, in order of first appearance."""
    both = pd.concat([events["ticker"], events["market"]], ignore_index=True)
    return [str(t) for t in both.unique() if t]


# -- markets --------------------------------------------------------------------------------
def assign_markets(events: pd.DataFrame, market: str | None, *, required: bool
                   ) -> tuple[pd.DataFrame, list[Failure]]:
    """Give every event its market index; fail those that need one and have none.

    Parameters
    ----------
    events : pandas.DataFrame
        Catalogue rows (``event_id``, ``ticker``, ``exchange``, ``market``).
    market : str, optional
        Market index of events that name none (default: their exchange's).
    required : bool
        Whether the analysis needs a market index for every event.

    Returns
    -------
    events : pandas.DataFrame
        The events with their ``market`` set ("" where none is known and none
        is required), those failed left out.
    failures : list of Failure
        Events without a market index when one is required.
    """
    events = events.assign(market=event_markets(events["exchange"], events["market"], market))
    if not required:
        return events, []
    none = (events["market"] == "").to_numpy()
    gone = events.loc[none]
    failures = failures_of(gone, [f"no default market index for exchange {x}; give a 'market' "
                                "column or --market" for x in gone["exchange"]])
    return events.loc[~none], failures


# -- one exchange ---------------------------------------------------------------------------
def line_up(exchange: str, events: pd.DataFrame, prices: TablePrices, *,
            sessions: SessionSource = SessionSource.calendar,
            returns: ReturnKind = ReturnKind.simple, market_required: bool = True) -> Lineup:
    """Line up the events of one exchange on its sessions.

    Parameters
    ----------
    exchange : str
        Calendar code of every event in ``events``.
    events : pandas.DataFrame
        The exchange's events in catalogue order (``event_id``, ``ticker``,
        ``market``, ``timestamp``, ``date``, ``timing``).
    prices : TablePrices
        The analysis's prices (:func:`price_table`).
    sessions : SessionSource, default calendar
        ``calendar``: the exchange calendar's sessions, less those inside the
        market index's coverage on which it did not trade; ``market``: the
        market index's own dates.
    returns : ReturnKind, default simple
        Return definition of the panel.
    market_required : bool, default True
        Whether an event without market prices fails (else its market row is -1).

    Returns
    -------
    Lineup
    """
    failures: list[Failure] = []
    table = prices.table
    missing = table.rows(events["ticker"]) < 0
    if missing.any():
        gone = events.loc[missing]
        failures += failures_of(gone, [f"prices: {why}" for why in
                                     prices.why_missing(gone["ticker"])])
        events = events.loc[~missing]
    if market_required:
        missing = table.rows(events["market"]) < 0
        if missing.any():
            gone = events.loc[missing]
            failures += failures_of(gone, [f"market {m}: {why}" for m, why in zip(
                gone["market"], prices.why_missing(gone["market"]), strict=True)])
            events = events.loc[~missing]
    if events.empty:
        return _empty(exchange, events, table, returns, failures)
    tickers = np.asarray(needed_tickers(events), dtype=object)
    rows = table.rows(tickers)
    try:
        axis = _sessions(exchange, events, table, rows, sessions)
    except InputError as exc:  # e.g. prices outside the calendar's range
        failures += failures_of(events, f"prices: {exc}")
        return _empty(exchange, events.iloc[:0], table, returns, failures)
    if axis is None:
        return _empty(exchange, events.iloc[:0], table, returns, failures)
    diagnostics = []
    if len(axis.dropped):
        shown = ", ".join(str(d.date()) for d in axis.dropped[:_SHOWN_DROPPED])
        diagnostics.append(
            f"{exchange}: {len(axis.dropped)} calendar session(s) dropped because "
            f"{axis.reference} did not trade: {shown}"
            + (" ..." if len(axis.dropped) > _SHOWN_DROPPED else ""))
    panel = table.panel(axis, [str(t) for t in tickers[rows >= 0]], returns)
    day0 = anchor_day0(axis, events["timestamp"], events["date"], events["timing"])
    return Lineup(exchange, events, axis, panel, np.asarray(day0, dtype=np.int64),
                  rows_of(panel.tickers, events["ticker"]),
                  rows_of(panel.tickers, events["market"]),
                  tuple(failures), tuple(diagnostics))


def _sessions(exchange: str, events: pd.DataFrame, table: PriceTable, rows: IntArray,
              source: SessionSource) -> TradingSessions | None:
    span = table.date_range(rows[rows >= 0])
    if span is None:
        return None
    candidates = [DEFAULT_MARKET.get(exchange, ""), *events["market"].value_counts().index]
    reference = next((m for m in candidates if m in table), None)
    index_dates = table.index_of(reference) if reference else None
    if source is SessionSource.market:
        if reference is None or index_dates is None:
            raise InputError(f"{exchange}: sessions are taken from the market index file, "
                             "but no market index prices are available")
        return market_sessions(exchange, index_dates, reference)
    return exchange_sessions(exchange, span[0], span[1], index_dates, reference)


def _empty(exchange: str, events: pd.DataFrame, table: PriceTable, returns: ReturnKind,
           failures: list[Failure]) -> Lineup:
    """A lineup without events (they all failed)."""
    axis = TradingSessions(exchange, pd.DatetimeIndex([], dtype="datetime64[ns]"),
                           pd.DatetimeIndex([], dtype="datetime64[ns, UTC]"))
    none = np.empty(0, dtype=np.int64)
    return Lineup(exchange, events.iloc[:0], axis, table.panel(axis, [], returns), none,
                  none, none, tuple(failures))


def rows_of(tickers: Sequence[str], values: pd.Series) -> IntArray:
    """Position of each value in ``tickers`` (-1 if absent); each distinct value looked up once.

    Parameters
    ----------
    tickers : sequence of str
        Row labels (e.g. a panel's tickers).
    values : pandas.Series
        One ticker per event.

    Returns
    -------
    numpy.ndarray
        ``(E,)`` int64 rows.
    """
    codes, uniques = pd.factorize(values)
    rows = pd.Index(list(tickers), dtype=object).get_indexer(pd.Index(uniques)).astype(np.int64)
    return rows[codes] if len(codes) else np.empty(0, dtype=np.int64)


# -- opens ----------------------------------------------------------------------------------
def adjusted_opens(prices: TablePrices, panel: ExchangePanel) -> FloatArray:
    """Opens of ``panel``'s tickers on its sessions, adjusted like the closes.

    Each cleaned row's open is scaled by its ``adj_close / close`` (1 where the
    close is not a positive number); a non-positive open is missing. Computed one
    ticker at a time, so that every temporary stays in cache (stacking every row of
    every ticker first cost several times as much on thousands of tickers).

    Parameters
    ----------
    prices : TablePrices
        The prices the panel was lined up from.
    panel : ExchangePanel
        The panel.

    Returns
    -------
    numpy.ndarray
        ``(N, T)`` adjusted opens, NaN where there is none.
    """
    n, t = len(panel.tickers), len(panel.sessions)
    out = np.full((n, t), np.nan)
    if not n or not t:
        return out
    table = prices.table
    src = table.rows(list(panel.tickers))
    labels = panel.sessions.labels.as_unit("ns").asi8
    frames = prices.frames
    for i, (ticker, row) in enumerate(zip(panel.tickers, src, strict=True)):
        if frames is not None and ticker in frames:
            lo, hi = table.offsets[row], table.offsets[row + 1]
            frame, keep = frames[ticker], table.keep[lo:hi]
            day = table.dates[lo:hi]
        else:  # a table given as such: its cleaned frame
            frame = table[ticker]
            keep, day = None, pd.DatetimeIndex(frame.index).as_unit("ns").asi8
        o, c, a = _open_close_adj(frame)
        if keep is not None and not keep.all():
            day, o, c, a = day[keep], o[keep], c[keep], a[keep]
        if not len(day):
            continue
        a = np.where(np.isnan(a), c, a)
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(np.isfinite(c) & (c > 0), a / c, 1.0)
            value = o * factor
        value = np.where(value > 0, value, np.nan)
        pos = np.minimum(np.searchsorted(labels, day), t - 1)
        on = labels[pos] == day
        if on.all():
            out[i, pos] = value
        else:
            out[i, pos[on]] = value[on]
    return out


def _open_close_adj(frame: pd.DataFrame) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``open, close, adj_close`` of a frame as float arrays (NaN where absent)."""
    if tuple(frame.columns) == PRICE_COLUMNS:  # one copy of the block, then views
        values = frame.to_numpy(dtype=float, na_value=np.nan)
        return values[:, 0], values[:, 3], values[:, 4]
    out = [frame[name].to_numpy(dtype=float, na_value=np.nan) if name in frame
           else np.full(len(frame), np.nan) for name in ("open", "close", "adj_close")]
    return out[0], out[1], out[2]


# -- failures -------------------------------------------------------------------------------
def failures_of(events: pd.DataFrame, reasons: str | Sequence[str]) -> list[Failure]:
    """Return one failure per event of ``events`` (one reason for all, or one each).

    Parameters
    ----------
    events : pandas.DataFrame
        Events with ``event_id`` and ``ticker``.
    reasons : str or sequence of str
        The reason.

    Returns
    -------
    list of Failure
    """
    why = [reasons] * len(events) if isinstance(reasons, str) else list(reasons)
    return [Failure(e, t, r) for e, t, r in zip(events["event_id"], events["ticker"], why,
                                                 strict=True)]


def failure_frame(failures: Sequence[Failure], event_ids: pd.Series) -> pd.DataFrame:
    """Failures as a frame (``event_id, ticker, reason``) in catalogue order.

    Parameters
    ----------
    failures : sequence of Failure
        In any order.
    event_ids : pandas.Series
        The catalogue's event ids, in its order (unique).

    Returns
    -------
    pandas.DataFrame
        Sorted by catalogue position, stably.
    """
    frame = pd.DataFrame(list(failures), columns=_FAILURE_COLUMNS)
    if len(frame):
        rank = lookup(frame["event_id"], event_ids)  # (a hash look-up in Arrow)
        rank[rank < 0] = len(event_ids)  # not in the catalogue: last
        frame = frame.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)
    return frame
