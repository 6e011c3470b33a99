"""Exchanges, trading sessions and day 0.

Rules
-----
* A ticker's listing exchange comes from its Yahoo suffix (``.JK`` -> IDX,
  no suffix -> NYSE, ...) unless the event names one.
* The sessions of an exchange are the exchange_calendars sessions on which its
  market index actually traded, wherever the index series covers the span.
  Calendars miss ad-hoc closures (IDX collective leave on 2022-04-29, for
  instance); an index that did not print that day shows it.
* Day 0 of an event is the first session whose close is strictly after the
  moment the news became public. A date-only event uses that date's session
  when its timing is ``pre``, ``intra`` or ``unknown`` (the next session if the
  date is not one) and the next session when its timing is ``post``.
* IDX's closing auction runs to 16:00 Jakarta time, ten minutes after the
  15:50 close that exchange_calendars models, so news up to 16:00 can still
  move the day's closing price: closes of XIDX are moved to 16:00.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from marketreact.errors import InputError

#: Yahoo ticker suffix -> ISO 10383 MIC of the exchange_calendars calendar.
SUFFIX_EXCHANGE: dict[str, str] = {
    "": "XNYS",
    ".JK": "XIDX",
    ".L": "XLON",
    ".T": "XTKS",
    ".HK": "XHKG",
    ".SI": "XSES",
    ".AX": "XASX",
    ".TO": "XTSE",
    ".DE": "XETR",
    ".F": "XFRA",
    ".PA": "XPAR",
    ".AS": "XAMS",
    ".BR": "XBRU",
    ".MI": "XMIL",
    ".MC": "XMAD",
    ".SW": "XSWX",
    ".ST": "XSTO",
    ".OL": "XOSL",
    ".CO": "XCSE",
    ".HE": "XHEL",
    ".KS": "XKRX",
    ".SS": "XSHG",
    ".SZ": "XSHG",
    ".BO": "XBOM",
    ".NS": "XBOM",
    ".KL": "XKLS",
    ".BK": "XBKK",
    ".NZ": "XNZE",
    ".SA": "BVMF",
    ".MX": "XMEX",
    ".JO": "XJSE",
    ".TW": "XTAI",
}

#: Friendly names accepted in an ``exchange`` column.
EXCHANGE_ALIASES: dict[str, str] = {
    "IDX": "XIDX",
    "JK": "XIDX",
    "NYSE": "XNYS",
    "NASDAQ": "XNYS",
    "XNAS": "XNYS",
    "LSE": "XLON",
    "TSE": "XTKS",
    "HKEX": "XHKG",
    "SGX": "XSES",
    "ASX": "XASX",
    "TSX": "XTSE",
    "XETRA": "XETR",
    "EURONEXT": "XPAR",
}

#: Default market index per exchange (Yahoo symbols).
DEFAULT_MARKET: dict[str, str] = {
    "XIDX": "^JKSE",
    "XNYS": "^GSPC",
    "XLON": "^FTSE",
    "XTKS": "^N225",
    "XHKG": "^HSI",
    "XSES": "^STI",
    "XASX": "^AXJO",
    "XTSE": "^GSPTSE",
    "XETR": "^GDAXI",
    "XFRA": "^GDAXI",
    "XPAR": "^FCHI",
    "XAMS": "^AEX",
    "XKRX": "^KS11",
    "XSHG": "000001.SS",
    "XBOM": "^BSESN",
    "XKLS": "^KLSE",
    "XTAI": "^TWII",
}

#: Extra minutes after the calendar close during which a closing auction sets the price.
CLOSING_AUCTION_MINUTES: dict[str, int] = {"XIDX": 10}


def _known_calendars() -> frozenset[str]:
    import exchange_calendars as xcals

    return frozenset(xcals.get_calendar_names(include_aliases=True))


def exchange_for_ticker(ticker: str) -> str | None:
    """Return the MIC of the exchange a Yahoo ticker is listed on.

    Parameters
    ----------
    ticker : str
        A Yahoo symbol such as ``"GOTO.JK"`` or ``"SE"``.

    Returns
    -------
    str or None
        The calendar code (``"XIDX"``, ``"XNYS"``, ...) or None when the suffix is unknown.
    """
    ticker = ticker.strip().upper()
    if ticker.startswith("^"):
        return None
    head, dot, suffix = ticker.rpartition(".")
    if not dot or not head:
        return SUFFIX_EXCHANGE[""]
    # Share classes such as BRK.B have one-letter suffixes that are not exchanges.
    if len(suffix) == 1 and f".{suffix}" not in SUFFIX_EXCHANGE:
        return SUFFIX_EXCHANGE[""]
    return SUFFIX_EXCHANGE.get(f".{suffix}")


def normalise_exchange(name: str) -> str | None:
    """Map an exchange name or MIC to a known calendar code, or None if unknown."""
    code = name.strip().upper()
    code = EXCHANGE_ALIASES.get(code, code)
    return code if code in _known_calendars() else None


@functools.lru_cache(maxsize=64)
def _calendar(exchange: str, start: str, end: str) -> Any:
    import exchange_calendars as xcals

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xcals.get_calendar(exchange, start=start, end=end)


@functools.lru_cache(maxsize=64)
def calendar_bounds(exchange: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the first and last date exchange_calendars can model for ``exchange``."""
    import exchange_calendars as xcals

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = xcals.get_calendar(exchange)
    first, last = cal.bound_min(), cal.bound_max()
    lo = pd.Timestamp(first) if first is not None else pd.Timestamp("1900-01-01")
    hi = pd.Timestamp(last) if last is not None else pd.Timestamp(cal.last_session)
    return lo.tz_localize(None), hi.tz_localize(None)


@dataclass(frozen=True)
class TradingSessions:
    """The trading sessions of one exchange over a span.

    Attributes
    ----------
    exchange : str
        Calendar code.
    labels : pandas.DatetimeIndex
        Session dates (tz-naive midnights), ascending.
    closes : pandas.DatetimeIndex
        UTC close time of each session (closing auction included).
    dropped : pandas.DatetimeIndex
        Calendar sessions removed because the market index did not trade.
    reference : str or None
        Ticker of the index that confirmed the sessions, if any.
    """

    exchange: str
    labels: pd.DatetimeIndex
    closes: pd.DatetimeIndex
    dropped: pd.DatetimeIndex = field(default_factory=lambda: pd.DatetimeIndex([]))
    reference: str | None = None

    def __len__(self) -> int:
        return len(self.labels)


def exchange_sessions(
    exchange: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    index_dates: pd.DatetimeIndex | None = None,
    reference: str | None = None,
) -> TradingSessions:
    """Build the sessions of an exchange between two dates.

    Parameters
    ----------
    exchange : str
        Calendar code (``"XIDX"``).
    start, end : pandas.Timestamp
        First and last date (inclusive, tz-naive).
    index_dates : pandas.DatetimeIndex, optional
        Dates on which the exchange's market index traded. Calendar sessions
        inside the index's coverage on which it did not trade are dropped.
    reference : str, optional
        The index ticker, recorded for diagnostics.

    Returns
    -------
    TradingSessions
    """
    lo, hi = calendar_bounds(exchange)
    start = max(pd.Timestamp(start).normalize(), lo)
    end = min(pd.Timestamp(end).normalize(), hi)
    if start > end:
        raise InputError(
            f"no sessions for {exchange} between {start.date()} and {end.date()} "
            "(outside the calendar's range)"
        )
    cal = _calendar(exchange, str(start.date()), str(end.date()))
    schedule = cal.schedule.loc[start:end]
    labels = pd.DatetimeIndex(schedule.index).tz_localize(None).as_unit("ns")
    closes = pd.DatetimeIndex(schedule["close"]).tz_convert("UTC").as_unit("ns")
    extra = CLOSING_AUCTION_MINUTES.get(exchange, 0)
    if extra:
        closes = pd.DatetimeIndex(closes + pd.Timedelta(minutes=extra))
    dropped = pd.DatetimeIndex([], dtype="datetime64[ns]")
    if index_dates is not None and len(index_dates):
        index_dates = pd.DatetimeIndex(pd.DatetimeIndex(index_dates).as_unit("ns"))
        covered = (labels >= index_dates.min()) & (labels <= index_dates.max())
        traded = labels.isin(index_dates)
        keep = ~covered | traded
        dropped = pd.DatetimeIndex(labels[~keep])
        labels, closes = pd.DatetimeIndex(labels[keep]), pd.DatetimeIndex(closes[keep])
    labels.name = "session"
    return TradingSessions(exchange, labels, closes, dropped, reference)


def market_sessions(exchange: str, dates: pd.DatetimeIndex,
                    reference: str | None = None) -> TradingSessions:
    """Sessions taken from the dates of a market index file, without a calendar.

    For data that come with their own trading days (EventStudyTools files, a
    private index): every date of ``dates`` is a session. There are no intraday
    times, so each session's "close" is the end of its date in UTC: a
    timestamped event counts on its UTC date; a date-only event falls on its
    date or the next session (``post``: the next session).

    Parameters
    ----------
    exchange : str
        Label of the exchange (only used to name the sessions).
    dates : pandas.DatetimeIndex
        The market index's dates.
    reference : str, optional
        The index ticker.

    Returns
    -------
    TradingSessions
    """
    days = np.unique(pd.DatetimeIndex(dates).normalize().to_numpy(dtype="datetime64[ns]"))
    labels = pd.DatetimeIndex(days, name="session")
    closes = pd.DatetimeIndex(labels.tz_localize("UTC") + pd.Timedelta(days=1)
                              - pd.Timedelta(1, "ns"))
    return TradingSessions(exchange, labels, closes,
                           pd.DatetimeIndex([], dtype="datetime64[ns]"), reference)



def event_markets(exchanges: pd.Series, given: pd.Series, market: str | None = None) -> pd.Series:
    """The market index of each event: its own, else ``market``, else its exchange's default.

    Parameters
    ----------
    exchanges : pandas.Series
        Each event's exchange (MIC).
    given : pandas.Series
        Each event's ``market`` column ("" where the catalogue gives none).
    market : str, optional
        The index for events that give none (``--market``).

    Returns
    -------
    pandas.Series
        Market tickers, "" where none is known (same index as ``given``).
    """
    codes, uniques = pd.factorize(exchanges)
    default = pd.Series(
        np.asarray([DEFAULT_MARKET.get(str(x), "") for x in uniques], dtype=object)[codes]
        if len(codes) else np.empty(0, dtype=object), index=given.index, dtype="str")
    chosen = given.where(given != "", market or "")
    return chosen.where(chosen != "", default)

TIMINGS = ("pre", "intra", "post", "unknown")


def anchor_day0(
    sessions: TradingSessions,
    timestamps: pd.Series,
    dates: pd.Series,
    timings: pd.Series,
) -> np.ndarray:
    """Find the position of day 0 in ``sessions`` for many events at once.

    Parameters
    ----------
    sessions : TradingSessions
        The exchange's sessions.
    timestamps : pandas.Series
        tz-aware UTC publication times; NaT where the event has only a date.
    dates : pandas.Series
        tz-naive dates for date-only events (ignored where a timestamp is set).
    timings : pandas.Series
        ``pre``, ``intra``, ``post`` or ``unknown`` for date-only events.

    Returns
    -------
    numpy.ndarray
        Integer positions into ``sessions.labels``; ``len(sessions)`` where the
        event falls after the last session.
    """
    n = len(timestamps)
    pos = np.full(n, len(sessions), dtype=np.int64)
    ts = pd.to_datetime(timestamps, utc=True)
    has_ts = ts.notna().to_numpy()
    if has_ts.any():
        close_ns = sessions.closes.as_unit("ns").asi8
        ts_ns = pd.DatetimeIndex(ts[has_ts]).as_unit("ns").asi8
        pos[has_ts] = np.searchsorted(close_ns, ts_ns, side="right")
    only_date = ~has_ts
    if only_date.any():
        label_ns = sessions.labels.as_unit("ns").asi8
        d = pd.DatetimeIndex(pd.to_datetime(dates[only_date])).as_unit("ns").asi8
        after_close = (timings[only_date] == "post").to_numpy()
        left = np.searchsorted(label_ns, d, side="left")
        right = np.searchsorted(label_ns, d, side="right")
        pos[only_date] = np.where(after_close, right, left)
    return pos


@functools.lru_cache(maxsize=64)
def exchange_timezone(exchange: str) -> str:
    """Return the IANA time zone of an exchange calendar (``"America/New_York"`` for XNYS)."""
    import exchange_calendars as xcals

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return str(xcals.get_calendar(exchange).tz)


def session_opens(sessions: TradingSessions) -> pd.DatetimeIndex:
    """Return the UTC open time of each session (the first open of the day).

    Parameters
    ----------
    sessions : TradingSessions
        Sessions built by :func:`exchange_sessions`.

    Returns
    -------
    pandas.DatetimeIndex
        ``datetime64[ns, UTC]``, aligned with ``sessions.labels``. A lunch
        break is ignored: the open is the morning open.
    """
    if not len(sessions):
        return pd.DatetimeIndex([], dtype="datetime64[ns, UTC]")
    first, last = sessions.labels[0], sessions.labels[-1]
    cal = _calendar(sessions.exchange, str(first.date()), str(last.date()))
    schedule = cal.schedule.loc[first:last]
    labels = pd.DatetimeIndex(schedule.index).tz_localize(None).astype("datetime64[ns]")
    opens = pd.Series(pd.DatetimeIndex(schedule["open"]).tz_convert("UTC"), index=labels)
    return pd.DatetimeIndex(pd.DatetimeIndex(opens.reindex(sessions.labels).to_numpy())
                            .astype("datetime64[ns, UTC]"))


class SessionSource(str, Enum):
    """Where the trading sessions of an exchange come from."""

    calendar = "calendar"
    market = "market"


@functools.lru_cache(maxsize=32)
def _schedule(exchange: str, start: str, end: str) -> pd.DataFrame:
    import exchange_calendars as xcals

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = xcals.get_calendar(exchange, start=start, end=end)
    sched = cal.schedule.loc[:, ["open", "close"]].copy()
    sched.index = pd.DatetimeIndex(sched.index).tz_localize(None).astype("datetime64[ns]")
    extra = CLOSING_AUCTION_MINUTES.get(exchange, 0)
    if extra:
        sched["close"] = sched["close"] + pd.Timedelta(minutes=extra)
    sched.attrs["tz"] = str(cal.tz)
    return sched


def schedule(exchange: str, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame | None:
    """Sessions of ``exchange`` between two dates: index labels, UTC ``open`` and ``close``.

    Closes include the closing auction (see :mod:`marketreact.calendar`). Returns
    None when the calendar does not cover the dates. Calendars are built for
    whole years around the dates and cached.
    """
    lo, hi = calendar_bounds(exchange)
    first, last = pd.Timestamp(first), pd.Timestamp(last)
    span_lo = max(pd.Timestamp(year=first.year - 1, month=1, day=1), lo)
    span_hi = min(pd.Timestamp(year=last.year + 1, month=12, day=31), hi)
    if max(first, lo) > min(last, hi) or span_lo >= span_hi:
        return None
    sched = _schedule(exchange, str(span_lo.date()), str(span_hi.date()))
    out = sched.loc[first:last]
    out.attrs["tz"] = sched.attrs["tz"]
    return out


# ----------------------------------------------------------------------------- intraday bars


@dataclass(frozen=True)
class BarSessions:
    """Intraday bars placed on an exchange's sessions.

    Attributes
    ----------
    session : numpy.ndarray
        ``(B,)`` position of each bar's session in ``labels`` (-1: not on a session).
    regular : numpy.ndarray
        ``(B,)`` whether the bar overlaps the session's regular hours.
    eff_start, eff_end : numpy.ndarray
        ``(B,)`` int64 UTC nanoseconds: the part of the bar inside the regular
        session (a Lean 09:00 hourly bar holds 09:30-10:00 only); extended-hours
        bars keep their own bounds.
    labels : pandas.DatetimeIndex
        Session labels (tz-naive midnights).
    opens, closes : pandas.DatetimeIndex
        UTC open and close of each session.
    ordinal : numpy.ndarray
        ``(S,)`` position of each session in the exchange's calendar (for
        "the previous N sessions" across gaps in the data).
    tz : str
        The exchange's time zone.
    """

    session: np.ndarray
    regular: np.ndarray
    eff_start: np.ndarray
    eff_end: np.ndarray
    labels: pd.DatetimeIndex
    opens: pd.DatetimeIndex
    closes: pd.DatetimeIndex
    ordinal: np.ndarray
    tz: str


def bar_sessions(exchange: str, starts: pd.DatetimeIndex, interval: pd.Timedelta) -> BarSessions:
    """Place bars (UTC starts) on the sessions of ``exchange``: session, regular or extended.

    A bar belongs to the session of its local date; it is *regular* when
    ``[start, start + interval)`` overlaps the session's ``[open, close)``
    (exchange_calendars' open and close; half days included), *extended*
    otherwise (pre-market or after-hours). Bars on dates that are not sessions
    get session -1.

    Parameters
    ----------
    exchange : str
        Calendar code (``"XNYS"``).
    starts : pandas.DatetimeIndex
        tz-aware bar starts, ascending.
    interval : pandas.Timedelta
        Bar length.

    Returns
    -------
    BarSessions
    """
    starts = pd.DatetimeIndex(starts)
    if starts.tz is None:
        raise InputError("bar times must be tz-aware")
    starts = starts.tz_convert("UTC").as_unit("ns")
    tz = exchange_timezone(exchange)
    if not len(starts):
        empty = pd.DatetimeIndex([], dtype="datetime64[ns, UTC]")
        return BarSessions(np.empty(0, np.int64), np.empty(0, bool), np.empty(0, np.int64),
                           np.empty(0, np.int64), pd.DatetimeIndex([]), empty, empty,
                           np.empty(0, np.int64), tz)
    local_day = starts.tz_convert(tz).normalize().tz_localize(None).as_unit("ns")
    sched = schedule(exchange, local_day.min(), local_day.max())
    if sched is None or sched.empty:
        raise InputError(f"no {exchange} sessions between {local_day.min().date()} and "
                         f"{local_day.max().date()}")
    lo, _ = calendar_bounds(exchange)
    full = _schedule(exchange, str(max(pd.Timestamp(year=local_day.min().year - 1, month=1,
                                                    day=1), lo).date()),
                     str(min(pd.Timestamp(year=local_day.max().year + 1, month=12, day=31),
                             calendar_bounds(exchange)[1]).date()))
    labels_all = pd.DatetimeIndex(full.index).as_unit("ns")
    at = np.searchsorted(labels_all.asi8, local_day.asi8, side="left")
    atc = np.minimum(at, len(labels_all) - 1)
    on = labels_all.asi8[atc] == local_day.asi8
    used = np.unique(atc[on])
    labels = pd.DatetimeIndex(labels_all[used], name="session")
    opens = pd.DatetimeIndex(full["open"].iloc[used]).tz_convert("UTC").as_unit("ns")
    closes = pd.DatetimeIndex(full["close"].iloc[used]).tz_convert("UTC").as_unit("ns")
    session = np.where(on, np.searchsorted(used, atc), -1).astype(np.int64)
    s = np.maximum(session, 0)
    start_ns = starts.asi8
    end_ns = start_ns + pd.Timedelta(interval).value
    o, c = opens.asi8[s], closes.asi8[s]
    regular = on & (start_ns < c) & (end_ns > o)
    eff_start = np.where(regular, np.maximum(start_ns, o), start_ns)
    eff_end = np.where(regular, np.minimum(end_ns, c), end_ns)
    return BarSessions(session, regular, eff_start, eff_end, labels, opens, closes,
                       used.astype(np.int64), tz)


def event_bars(eff_start: np.ndarray, eff_end: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The bar of each news time: the bar holding it, else the first bar that starts after it.

    On a grid of regular bars this sends news before the open, after the close
    or on a closed day to the first regular bar of the next session; on a grid
    with extended-hours bars, news at 08:20 New York falls in its pre-market bar.

    Parameters
    ----------
    eff_start, eff_end : numpy.ndarray
        ``(B,)`` int64 UTC nanoseconds of the bars' (effective) bounds, ascending.
    times : numpy.ndarray
        ``(E,)`` int64 UTC nanoseconds of the news.

    Returns
    -------
    numpy.ndarray
        ``(E,)`` bar positions; ``B`` where the news comes after the last bar.
    """
    i = np.searchsorted(eff_start, times, side="right") - 1
    ic = np.clip(i, 0, max(len(eff_end) - 1, 0))
    inside = (i >= 0) & (len(eff_end) > 0) & (times < eff_end[ic] if len(eff_end) else False)
    return np.where(inside, i, i + 1).astype(np.int64)
