"""Market data in: price sources, the local cache, the standard frame and its cleaning rules.

Holds the :class:`PriceSource` protocol, :class:`ChainSource`, :func:`source_from_spec`
(``csv:DIR``, ``csv:FILE.csv``, ``yahoo``) and :func:`load_prices`, the one step that
reads or downloads the prices a set of events needs. Modules: ``frames`` (the standard
frame), ``cleaning`` (the cleaning rules, vectorised over many frames), ``checks``
(suspect prices, gaps), ``csv_source``, ``long_source``, ``yahoo``, ``store`` (the
Parquet cache) and ``factors`` (factor files).

Imports: the ground floor (errors, ``_typing``, ``_atomic``, ``_textio``, progress) and
:mod:`marketreact.calendar` only; never events, panel or anything above.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from marketreact._textio import check_regular_file
from marketreact.calendar import event_markets
from marketreact.errors import InputError, InputProblem
from marketreact.prices.checks import find_suspects
from marketreact.prices.cleaning import clean_prices
from marketreact.prices.csv_source import CsvSource, PriceFile, check_price_file, read_price_file
from marketreact.prices.frames import PRICE_COLUMNS, PriceFetch, PriceSuspect, standard_frame
from marketreact.prices.long_source import LongCsvSource, is_long_file, read_long_file
from marketreact.prices.store import PriceStore, default_cache_dir
from marketreact.prices.yahoo import YahooSource, frames_from_download


@runtime_checkable
class PriceSource(Protocol):
    """Anything that returns standard daily price frames for tickers."""

    name: str

    def fetch(self, tickers: Sequence[str], start: pd.Timestamp | None = None,
              end: pd.Timestamp | None = None) -> PriceFetch:
        """Return prices of ``tickers`` between ``start`` and ``end`` (inclusive)."""
        ...


class ChainSource:
    """Ask several sources in turn; the first one that has a ticker wins."""

    def __init__(self, sources: Sequence[PriceSource]) -> None:
        self.sources = list(sources)
        self.name = " + ".join(s.name for s in self.sources)

    def fetch(self, tickers: Sequence[str], start: pd.Timestamp | None = None,
              end: pd.Timestamp | None = None) -> PriceFetch:
        """Return prices of ``tickers``, asking each source for what is still missing."""
        frames: dict[str, pd.DataFrame] = {}
        failures: dict[str, str] = {}
        notes: dict[str, tuple[InputProblem, ...]] = {}
        suspects: dict[str, tuple[PriceSuspect, ...]] = {}
        pending = list(dict.fromkeys(tickers))
        for source in self.sources:
            if not pending:
                break
            got = source.fetch(pending, start, end)
            frames.update(got.frames)
            notes.update({t: n for t, n in got.notes.items() if t in got.frames})
            suspects.update({t: x for t, x in got.suspects.items() if t in got.frames})
            for t, why in got.failures.items():
                failures[t] = f"{failures[t]}; {why}" if t in failures else why
            pending = [t for t in pending if t not in frames]
        return PriceFetch(frames, {t: failures[t] for t in pending if t in failures}, notes,
                          suspects)


def fetch_for_events(frame: pd.DataFrame, prices: PriceSource | Mapping[str, pd.DataFrame],
                     sessions_before: int, sessions_after: int) -> PriceFetch:
    """Fetch the prices an analysis of ``frame``'s events needs.

    Parameters
    ----------
    frame : pandas.DataFrame
        Events with ``ticker``, ``market``, ``timestamp`` (UTC) and ``date`` columns.
    prices : PriceSource or mapping of str to pandas.DataFrame
        A source, or standard frames by ticker (used as given).
    sessions_before, sessions_after : int
        Sessions needed before and after the events; turned into calendar days
        with a margin (1.6 calendar days per session, plus 30 days), the end
        capped at today.

    Returns
    -------
    PriceFetch
        Prices of every ticker and market named by the events.
    """
    both = pd.concat([frame["ticker"], frame["market"]], ignore_index=True)
    tickers = [str(t) for t in both.unique() if t]  # in order of first appearance
    if isinstance(prices, Mapping):
        got = {t: prices[t] for t in tickers if t in prices}
        return PriceFetch(got, {t: f"no prices given for {t}" for t in tickers
                                if t not in prices})
    if frame.empty:
        return PriceFetch({}, {})
    when = frame["timestamp"].dt.tz_convert(None).fillna(frame["date"])
    start = when.min() - pd.Timedelta(days=int(abs(sessions_before) * 1.6) + 30)
    end = when.max() + pd.Timedelta(days=int(abs(sessions_after) * 1.6) + 30)
    end = min(end, pd.Timestamp.today().normalize())
    return prices.fetch(tickers, start, end)


def load_prices(prices: str | PriceSource | Mapping[str, pd.DataFrame],
                events: Any, *, before: int = 260, after: int = 30,
                market: str | None = None, cache_dir: str | None = None) -> PriceFetch:
    """Get the daily prices a set of events needs: the one step that reads or downloads them.

    ``EventStudy.fit`` and ``Backtest.run`` take what this returns and never read
    files or go to the network themselves.

    Parameters
    ----------
    prices : str, PriceSource or mapping of str to pandas.DataFrame
        A spec (``csv:DIR``, ``csv:FILE.csv``, ``yahoo``, or several joined by
        ``+``), a source, or frames by ticker. Frames are normalised with
        :func:`standard_frame` (yfinance's ``Open ... Adj Close, Volume``
        columns in any case, a one-ticker ``yf.download`` frame, a ``Date``
        column, a tz-aware index) and sorted by date; a frame without a close,
        without dates, or with a date twice is refused in one line naming the
        ticker. Only the frames of tickers the events name are looked at.
    events : EventCatalogue or pandas.DataFrame
        The events (``ticker``, ``exchange``, ``market``, ``timestamp``,
        ``date`` columns, as :func:`marketreact.read_events` gives them).
    before, after : int
        Trading sessions needed before and after the events (e.g. 250 and 10
        for the default study windows); turned into calendar days with a margin.
    market : str, optional
        Market index of events that name none (default: their exchange's).
    cache_dir : str, optional
        Cache folder of the Yahoo source.

    Returns
    -------
    PriceFetch
        Frames of every ticker and market index the events name, with the
        tickers that could not be had and why.
    """
    frame = getattr(events, "frame", events)
    if not isinstance(frame, pd.DataFrame):
        raise InputError("events must be an EventCatalogue or a DataFrame of events")
    missing = [c for c in ("ticker", "exchange", "market", "timestamp", "date") if c not in frame]
    if missing:
        raise InputError(f"events lack column(s) {', '.join(missing)}: read them with "
                         "marketreact.read_events or events_from_frame first")
    frame = frame.assign(market=event_markets(frame["exchange"], frame["market"], market))
    if isinstance(prices, str):
        prices = source_from_spec(prices, cache_dir)
    elif isinstance(prices, Mapping):
        given = fetch_for_events(frame, {str(t): f for t, f in prices.items()},
                                 -abs(before), abs(after))
        frames: dict[str, pd.DataFrame] = {}
        notes: dict[str, tuple[InputProblem, ...]] = {}
        for ticker, data in given.frames.items():
            frames[ticker], found = _user_frame(data, ticker)
            if found:
                notes[ticker] = found
        return PriceFetch(frames, given.failures, notes)
    return fetch_for_events(frame, prices, -abs(before), abs(after))


def _user_frame(data: pd.DataFrame, ticker: str) -> tuple[pd.DataFrame, tuple[InputProblem, ...]]:
    """A frame a user built, as a standard frame sorted by date; a date given twice is refused."""
    out = standard_frame(data, ticker)
    notes: tuple[InputProblem, ...] = ()
    if not out.index.is_monotonic_increasing:
        out = out.sort_index(kind="stable")
        notes = (InputProblem(f"prices of {ticker}", None, "date", None,
                              "dates are not in ascending order; rows sorted"),)
    twice = out.index.duplicated()
    if twice.any():
        first = out.index[twice][0]
        raise InputError([InputProblem(f"prices of {ticker}", None, "date", str(first.date()),
                                       f"date appears more than once; {int(twice.sum())} "
                                       "duplicate row(s)")])
    return out, notes


def source_from_spec(spec: str, cache_dir: str | None = None) -> PriceSource:
    """Build a price source from a CLI spec: ``csv:DIR``, ``yahoo`` or several joined by ``+``.

    Parameters
    ----------
    spec : str
        ``csv:DIR`` (a folder of per-ticker files), ``csv:FILE.csv`` (one long
        file with a ticker column), ``yahoo``, or sources joined
        with ``+`` to be tried in order.
    cache_dir : str, optional
        Cache folder for the Yahoo source.
    """
    parts = [p.strip() for p in spec.split("+") if p.strip()]
    sources: list[PriceSource] = []

    def bad(value: str | None, message: str) -> InputError:
        return InputError([InputProblem("command line", None, "--prices", value, message)])

    for part in parts:
        if part.lower().startswith("csv:") and is_long_file(part[4:]):
            sources.append(LongCsvSource(part[4:]))
        elif part.lower().startswith("csv:"):
            folder = Path(part[4:]).expanduser()
            if (folder.exists() or folder.is_symlink()) and not folder.is_dir():
                # a FIFO, a device, a dangling link: named for what it is, unread
                check_regular_file(folder, "price file or folder")
            if not folder.is_dir():
                raise bad(part, f"price folder or file {str(folder)!r} not found")
            sources.append(CsvSource(folder))
        elif part.lower() == "yahoo":
            # the command line: no network is said once, not retried ticker by ticker
            sources.append(YahooSource(PriceStore(cache_dir), offline_after=1))
        else:
            raise bad(part, "unknown price source: use csv:DIR or yahoo")
    if not sources:
        raise bad(spec, "no price source given: use csv:DIR or yahoo")
    return sources[0] if len(sources) == 1 else ChainSource(sources)


__all__ = [
    "PRICE_COLUMNS",
    "ChainSource",
    "CsvSource",
    "LongCsvSource",
    "PriceFetch",
    "PriceFile",
    "PriceSource",
    "PriceStore",
    "PriceSuspect",
    "YahooSource",
    "check_price_file",
    "clean_prices",
    "default_cache_dir",
    "fetch_for_events",
    "find_suspects",
    "frames_from_download",
    "is_long_file",
    "load_prices",
    "read_long_file",
    "read_price_file",
    "source_from_spec",
    "standard_frame",
]
