"""Trading venues named in text, and which session a publication time falls in."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import pandas as pd

from marketreact.articles.dates import Publication
from marketreact.calendar import schedule

#: Places and exchange names that mark where a move happened -> calendar MIC.
VENUES: dict[str, str] = {
    "jakarta": "XIDX", "indonesia stock exchange": "XIDX", "idx": "XIDX",
    "new york": "XNYS", "wall street": "XNYS", "us": "XNYS", "u.s.": "XNYS", "nyse": "XNYS",
    "new york stock exchange": "XNYS", "nasdaq": "XNYS",
    "hong kong": "XHKG", "singapore": "XSES", "london": "XLON", "tokyo": "XTKS",
    "sydney": "XASX", "toronto": "XTSE", "frankfurt": "XETR", "paris": "XPAR",
    "amsterdam": "XAMS", "seoul": "XKRX", "shanghai": "XSHG", "shenzhen": "XSHG",
    "mumbai": "XBOM", "kuala lumpur": "XKLS", "bangkok": "XBKK", "taipei": "XTAI",
}
_VENUE = re.compile(
    r"\b(?:in|on)\s+(?:the\s+)?(?P<venue>"
    + "|".join(re.escape(v).replace(r"\ ", r"\s+") for v in sorted(VENUES, key=len, reverse=True))
    + r")(?![\w])(?!\s+(?:Composite|Stock\s+Exchange|Index))(?:\s+(?:trading|trade|session))?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Venue:
    """A trading venue named in a sentence: ``in Jakarta``, ``on the Nasdaq``...

    Attributes
    ----------
    text : str
        The words as written.
    exchange : str
        Calendar MIC.
    start, end : int
        Offsets in the sentence.
    """

    text: str
    exchange: str
    start: int
    end: int


def find_venues(sentence: str) -> list[Venue]:
    """Find the trading venues named in a sentence.

    ``US``/``U.S.`` count only when followed by ``trading``/``session``
    (``in US trading``), since "in the US" usually names a country.
    """
    out = []
    for m in _VENUE.finditer(sentence):
        name = re.sub(r"\s+", " ", m.group("venue").lower())
        if name in ("us", "u.s.", "idx") and not re.search(r"(trading|trade|session)$",
                                                           m.group(0), re.IGNORECASE):
            continue
        if name in ("us", "u.s.") and m.group("venue") not in ("US", "U.S."):
            continue
        out.append(Venue(m.group(0), VENUES[name], m.start(), m.end()))
    return out


def _tz(exchange: str, day: pd.Timestamp) -> str:
    sched = schedule(exchange, day - pd.Timedelta(days=10), day + pd.Timedelta(days=10))
    return sched.attrs["tz"] if sched is not None else "UTC"


@functools.lru_cache(maxsize=4096)  # the same answer for every claim of an article
def publication_interval(pub: Publication, exchange: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the span of UTC instants in which the article may have been published.

    A timestamp is an instant. A date with ``timing`` is the part of that day
    before the open (``pre``), during the session (``intra``), after the close
    (``post``) or the whole local day (``unknown``) of ``pub.timing_exchange``
    (or of ``exchange`` when that is None). The end is exclusive.
    """
    if pub.timestamp is not None:
        ts = pub.timestamp.tz_convert("UTC")
        return ts, ts + pd.Timedelta(nanoseconds=1)
    ref = pub.timing_exchange or exchange
    tz = _tz(ref, pub.date)
    day_start = pub.date.tz_localize(tz).tz_convert("UTC")
    day_end = (pub.date + pd.Timedelta(days=1)).tz_localize(tz).tz_convert("UTC")
    sched = schedule(ref, pub.date, pub.date)
    if pub.timing == "unknown" or sched is None or pub.date not in sched.index:
        return day_start, day_end
    row = int(sched.index.searchsorted(pub.date))
    open_: pd.Timestamp = pd.DatetimeIndex(sched["open"])[row]
    close: pd.Timestamp = pd.DatetimeIndex(sched["close"])[row]
    if pub.timing == "pre":
        return day_start, open_
    if pub.timing == "intra":
        return open_, close
    return close, day_end


@dataclass(frozen=True)
class SessionAt:
    """The session an undated move in an article refers to.

    Attributes
    ----------
    date : pandas.Timestamp or None
        The latest session that had opened by the publication (None when the
        calendar does not cover the date).
    in_progress : str
        ``yes`` when the article was surely published while that session
        traded (its close still to come), ``no`` when after its close,
        ``unknown`` when the publication time allows both.
    """

    date: pd.Timestamp | None
    in_progress: str


@functools.lru_cache(maxsize=4096)  # the same answer for every claim of an article
def session_at(pub: Publication, exchange: str) -> SessionAt:
    """Find the session of ``exchange`` that was under way or last completed at publication."""
    t0, t1 = publication_interval(pub, exchange)
    sched = schedule(exchange, pub.date - pd.Timedelta(days=20), pub.date + pd.Timedelta(days=3))
    if sched is None or not len(sched):
        return SessionAt(None, "unknown")
    last = t1 - pd.Timedelta(nanoseconds=1)
    opened = sched.loc[sched["open"] <= last]
    if not len(opened):
        return SessionAt(None, "unknown")
    label = opened.index[-1]
    open_, close = opened.iloc[-1]["open"], opened.iloc[-1]["close"]
    if t0 >= close:
        state = "no"
    elif t0 >= open_ and last < close:
        state = "yes"
    else:
        state = "unknown"
    return SessionAt(pd.Timestamp(label), state)


@functools.lru_cache(maxsize=4096)  # the same answer for every claim of an article
def day_in_progress(pub: Publication, exchange: str, day: pd.Timestamp) -> str:
    """Tell whether ``day``'s session of ``exchange`` still traded at publication.

    Returns
    -------
    str
        ``yes``, ``no`` or ``unknown``.
    """
    at = session_at(pub, exchange)
    if at.date is None:
        return "unknown"
    if day < at.date:
        return "no"
    if day == at.date:
        return at.in_progress
    return "yes"


@dataclass(frozen=True)
class EventTime:
    """How an article's publication goes into an event catalogue for one exchange.

    Attributes
    ----------
    timestamp : pandas.Timestamp or None
        The exact time when known (the catalogue then anchors day 0 itself).
    date : pandas.Timestamp or None
        For a date-only publication: the date to write.
    timing : str
        ``pre``, ``intra`` or ``unknown`` (empty with a timestamp).
    note : str
        How the date was found; mentions any ambiguity.
    """

    timestamp: pd.Timestamp | None
    date: pd.Timestamp | None
    timing: str
    note: str


def event_time(pub: Publication, exchange: str) -> EventTime:
    """Translate a publication into the ``timestamp`` or ``date`` + ``timing`` of an event.

    A date-only publication is a span of time (see :func:`publication_interval`);
    day 0 on ``exchange`` is the first session whose close comes after it. When
    the whole span gives the same day 0, the event gets that session's date and
    ``pre`` (the span lies before its open), ``intra`` (inside the session) or
    ``unknown``; when the span straddles a close, the earlier day 0 is written
    with ``unknown`` and the note says so.
    """
    if pub.timestamp is not None:
        return EventTime(pub.timestamp, None, "", "publication timestamp")
    t0, t1 = publication_interval(pub, exchange)
    sched = schedule(exchange, pub.date - pd.Timedelta(days=5), pub.date + pd.Timedelta(days=15))
    if sched is None or not len(sched):
        return EventTime(None, pub.date, pub.timing,
                         f"{exchange} calendar does not cover the date; timing kept as given")
    closes = pd.DatetimeIndex(sched["close"])
    last = t1 - pd.Timedelta(nanoseconds=1)
    i0 = int(closes.searchsorted(t0, side="right"))
    i1 = int(closes.searchsorted(last, side="right"))
    if i0 >= len(sched):
        return EventTime(None, pub.date, pub.timing, "after the calendar's last session")
    label = sched.index[i0]
    open_ = sched["open"].iloc[i0]
    ref = pub.timing_exchange or exchange
    where = f"published {pub.date.date()} {pub.timing} ({ref})"
    if i1 != i0:
        other = sched.index[min(i1, len(sched) - 1)]
        return EventTime(None, label, "unknown",
                         f"{where}: day 0 is {label.date()} or {other.date()}; "
                         "the earlier is written")
    if last < open_:
        timing = "pre"
    elif t0 >= open_:
        timing = "intra"
    else:
        timing = "unknown"
    return EventTime(None, label, timing, f"{where}: {exchange} session {label.date()} {timing}")
