"""The publication time of an article and the dates its sentences refer to.

Relative references are resolved against the publication's local date ``D``
(the date in the publication timestamp's own UTC offset, or the date given):

=====================================  =========================================
expression                             resolves to
=====================================  =========================================
today, this morning/afternoon/evening  ``D`` (day)
yesterday / tomorrow                   ``D - 1`` / ``D + 1`` (day)
Monday ... Sunday, on Tuesday          past tense: the latest such day <= ``D``;
                                       future tense: the first such day > ``D``
last Tuesday / next Tuesday            the latest such day < ``D`` / first > ``D``
this Tuesday                           that day of ``D``'s week (Mon-Sun)
this / last / next week                the Monday-Sunday week (range)
earlier this week / later this week    Monday .. ``D - 1`` / ``D + 1`` .. Sunday
the past week                          ``D - 7`` .. ``D - 1``
this / last / next month               the calendar month (range)
earlier / later this month             1st .. ``D - 1`` / ``D + 1`` .. month end
this / last / next year, earlier ...   the calendar year (range), likewise
by the end of the year, year-end       ``D + 1`` .. 31 December (range, future)
N days ago / N weeks ago / N months    ``D - N`` (day) / that week / that month
ago (numbers or words up to twelve)
in June, in June 2023, June            the month (range); without a year, the
                                       latest June <= ``D``'s month (past tense)
                                       or the first >= it (future tense)
June 5, 5 June, June 5, 2023,          the day; a missing year is inferred as for
2023-06-05                             months
in 2021                                the year (range)
first ... fourth quarter, Q1 ... Q4    the quarter (range), year as for months
=====================================  =========================================

A sentence is in the future tense when it has a future marker (``will``,
``would``, ``plans to``, ``aims to``, ``expects to``, ``is set to``, ``as soon
as``, ``could``, ``may``, ``might``, ...), and in the past tense otherwise.
"May" and "March" count as months only next to a day, a year or a
preposition (``in May``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from marketreact.articles.text import Coverage
from marketreact.calendar import TIMINGS, normalise_exchange
from marketreact.errors import InputError

_WITH_OFFSET = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$",
    re.IGNORECASE)
_NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
Day = pd.Timestamp


@dataclass(frozen=True)
class Publication:
    """When an article was published.

    Attributes
    ----------
    date : pandas.Timestamp
        The local publication date (tz-naive midnight); relative dates resolve against it.
    timestamp : pandas.Timestamp or None
        The exact time (tz-aware), when known.
    timing : str
        For a date without a time: ``pre``, ``intra``, ``post`` or ``unknown``
        relative to the session of ``timing_exchange`` (or of each company's
        own exchange when that is None). ``exact`` when ``timestamp`` is set.
    timing_exchange : str or None
        MIC of the exchange whose session ``timing`` refers to.
    """

    date: pd.Timestamp
    timestamp: pd.Timestamp | None = None
    timing: str = "unknown"
    timing_exchange: str | None = None

    def describe(self) -> str:
        """Return the publication time as written in output files."""
        if self.timestamp is not None:
            return self.timestamp.isoformat()
        where = f" ({self.timing_exchange} session)" if self.timing_exchange else ""
        return f"{self.date.date()} {self.timing}{where}"


def parse_publication(text: str, timing: str | None = None,
                      timing_exchange: str | None = None) -> Publication:
    """Parse a ``--published`` value.

    Parameters
    ----------
    text : str
        ISO 8601 timestamp with a UTC offset (``2023-12-05T10:30:00+07:00``)
        or a date (``2023-12-05``).
    timing : str, optional
        For a date: ``pre``, ``intra``, ``post`` or ``unknown`` (default).
    timing_exchange : str, optional
        Exchange whose session ``timing`` refers to (MIC or name, e.g. ``XIDX``).

    Raises
    ------
    InputError
        For a timestamp without an offset, an unparseable value, a timing
        given with a timestamp, or an unknown exchange.
    """
    text = text.strip()
    exchange = None
    if timing_exchange:
        exchange = normalise_exchange(timing_exchange)
        if exchange is None:
            raise InputError(f"--timing-exchange {timing_exchange!r} is not a known exchange "
                             "(use a MIC such as XIDX or XNYS)")
    if _WITH_OFFSET.match(text):
        if timing is not None:
            raise InputError("--timing only applies when --published is a date without a time")
        try:
            ts = pd.Timestamp(text)
        except ValueError:
            raise InputError(f"--published {text!r} is not a valid timestamp") from None
        return Publication(ts.tz_localize(None).normalize(), ts, "exact", None)
    if _NAIVE.match(text):
        raise InputError(f"--published {text!r} has no UTC offset; write it as e.g. "
                         "2023-12-05T10:30:00+07:00, or give a date and --timing")
    if _DATE.match(text):
        try:
            day = pd.Timestamp(text)
        except ValueError:
            raise InputError(f"--published {text!r} is not a valid date") from None
        timing = (timing or "unknown").lower()
        if timing not in TIMINGS:
            raise InputError(f"--timing must be one of {', '.join(TIMINGS)}")
        return Publication(day, None, timing, exchange)
    raise InputError(f"--published {text!r} is neither a timestamp with a UTC offset "
                     "nor a date (YYYY-MM-DD)")


@dataclass(frozen=True)
class DateRef:
    """A date or date range that a sentence refers to.

    Attributes
    ----------
    expression : str
        The words as written.
    start, end : int
        Offsets of the words in the sentence.
    first, last : pandas.Timestamp
        The resolved dates (equal for a single day).
    tense : str
        ``past``, ``present`` or ``future`` (relative to the publication).
    rule : str
        The rule that resolved it (see the module docstring).
    """

    expression: str
    start: int
    end: int
    first: pd.Timestamp
    last: pd.Timestamp
    tense: str
    rule: str

    @property
    def precision(self) -> str:
        """``day`` or ``range``."""
        return "day" if self.first == self.last else "range"


_FUTURE = re.compile(
    r"\b(?:will|won't|would|shall|plans?\s+to|planned\s+to|aims?\s+to|aiming\s+to|"
    r"expects?\s+to|expected\s+to|(?:is|are)\s+(?:set|due|scheduled|poised|slated)\s+to|"
    r"going\s+to|intends?\s+to|could|(?-i:may)|might|as\s+soon\s+as|upcoming|coming)\b|\w'll\b",
    re.IGNORECASE)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
            "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
_ORDINAL_Q = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3,
              "4th": 4}
_MONTH_RE = (r"(?:January|February|March|April|May|June|July|August|September|October|November|"
             r"December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?")
_DAY_RE = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR_RE = r"(?:19|20)\d{2}"
_WEEKDAY_RE = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_NUM_RE = r"(?:\d{1,3}|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + r")"


def is_future(sentence: str) -> bool:
    """Whether a sentence speaks about the future (see the module docstring)."""
    return bool(_FUTURE.search(sentence))


def _week(day: Day) -> tuple[Day, Day]:
    monday = day - pd.Timedelta(days=day.weekday())
    return monday, monday + pd.Timedelta(days=6)


def _month(year: int, month: int) -> tuple[Day, Day]:
    first = pd.Timestamp(year=year, month=month, day=1)
    return first, first + pd.offsets.MonthEnd(0)


def _year(year: int) -> tuple[Day, Day]:
    return pd.Timestamp(year=year, month=1, day=1), pd.Timestamp(year=year, month=12, day=31)


def _month_index(name: str) -> int:
    return _MONTHS[name.rstrip(".").lower()]


def _infer_year(month: int, day: int | None, anchor: Day, future: bool) -> int:
    """Year of a month (or month-day) given without one: latest <= anchor, or first >= it."""
    year = anchor.year
    probe = (month, day or 1) if day else (month, 1)
    here = (anchor.month, anchor.day) if day else (anchor.month, 1)
    if future:
        return year if probe >= here else year + 1
    return year if probe <= here else year - 1


_Resolver = Callable[[re.Match[str], Day, bool], tuple[Day, Day, str] | None]


def _iso(m: re.Match[str], d: Day, fut: bool) -> tuple[Day, Day, str] | None:
    try:
        day = pd.Timestamp(m.group(0))
    except ValueError:
        return None
    return day, day, "ISO date"


def _month_day(m: re.Match[str], d: Day, fut: bool) -> tuple[Day, Day, str] | None:
    month = _month_index(m.group("month"))
    day = int(re.sub(r"\D", "", m.group("day")))
    year = int(m.group("year")) if m.group("year") else _infer_year(month, day, d, fut)
    try:
        when = pd.Timestamp(year=year, month=month, day=day)
    except ValueError:
        return None
    return when, when, "month and day" + ("" if m.group("year") else ", year inferred")


def _month_only(m: re.Match[str], d: Day, fut: bool) -> tuple[Day, Day, str] | None:
    month = _month_index(m.group("month"))
    year = int(m.group("year")) if m.group("year") else _infer_year(month, None, d, fut)
    first, last = _month(year, month)
    return first, last, "month" + ("" if m.group("year") else ", year inferred")


def _relative_day(m: re.Match[str], d: Day, fut: bool) -> tuple[Day, Day, str] | None:
    word = m.group(0).lower()
    if "yesterday" in word:
        day = d - pd.Timedelta(days=1)
    elif "tomorrow" in word:
        day = d + pd.Timedelta(days=1)
    else:
        day = d
    return day, day, "relative day"


def _weekday(m: re.Match[str], d: Day, fut: bool) -> tuple[Day, Day, str] | None:
    target = _WEEKDAYS.index(m.group("weekday").lower())
    which = (m.group("which") or "").lower()
    now = d.weekday()
    if which == "last":
        back = (now - target) % 7 or 7
        day, rule = d - pd.Timedelta(days=back), "last weekday: latest before the publication"
    elif which in ("next", "coming"):
        ahead = (target - now) % 7 or 7
        day, rule = d + pd.Timedelta(days=ahead), "next weekday: first after the publication"
    elif which == "this":
        day, rule = _week(d)[0] + pd.Timedelta(days=target), "weekday of the publication week"
    elif fut:
        ahead = (target - now) % 7 or 7
        day, rule = d + pd.Timedelta(days=ahead), "weekday, future tense: first after"
    else:
        back = (now - target) % 7
        day, rule = d - pd.Timedelta(days=back), "weekday, past tense: latest on or before"
    return day, day, rule


def _period(m: re.Match[str], d: Day, fut: bool) -> tuple[Day, Day, str] | None:
    which = re.sub(r"\s+", " ", m.group("which").lower())
    unit = m.group("unit").lower()
    one = pd.Timedelta(days=1)
    if unit == "week":
        step = pd.Timedelta(days=7)
        first, last = _week(d)
        if which == "last":
            first, last = first - step, last - step
        elif which in ("next", "coming", "the coming"):
            first, last = first + step, last + step
        elif which in ("past", "the past"):
            first, last = d - step, d - one
    elif unit == "month":
        first, last = _month(d.year, d.month)
        if which == "last":
            prev = first - one
            first, last = _month(prev.year, prev.month)
        elif which in ("next", "coming", "the coming"):
            nxt = last + one
            first, last = _month(nxt.year, nxt.month)
        elif which in ("past", "the past"):
            first, last = d - pd.Timedelta(days=30), d - one
    else:
        year = d.year - 1 if which == "last" else d.year + 1 if which in (
            "next", "coming", "the coming") else d.year
        first, last = _year(year)
        if which in ("past", "the past"):
            first, last = d - pd.Timedelta(days=365), d - one
    if which.startswith("earlier this"):
        last = max(first, d - one)
    elif which.startswith("later this"):
        first = min(last, d + one)
    return first, last, f"{which} {unit}"


def _year_end(m: re.Match[str], d: Day, fut: bool) -> tuple[Day, Day, str] | None:
    end = pd.Timestamp(year=d.year, month=12, day=31)
    return min(end, d + pd.Timedelta(days=1)), end, "by the end of the year: rest of the year"


def _ago(m: re.Match[str], d: Day, fut: bool) -> tuple[Day, Day, str] | None:
    raw = m.group("n").lower()
    n = int(raw) if raw.isdigit() else _NUMBERS[raw]
    unit = m.group("unit").lower().rstrip("s")
    if unit == "day":
        day = d - pd.Timedelta(days=n)
        return day, day, "days ago"
    if unit == "week":
        first, last = _week(d - pd.Timedelta(days=7 * n))
        return first, last, "weeks ago: that week"
    if unit == "month":
        when = d - pd.DateOffset(months=n)
        first, last = _month(when.year, when.month)
        return first, last, "months ago: that month"
    first, last = _year(d.year - n)
    return first, last, "years ago: that year"


def _year_only(m: re.Match[str], d: Day, fut: bool) -> tuple[Day, Day, str] | None:
    first, last = _year(int(m.group("year")))
    return first, last, "year"


def _quarter(m: re.Match[str], d: Day, fut: bool) -> tuple[Day, Day, str] | None:
    q = int(m.group("q")) if m.group("q") else _ORDINAL_Q[m.group("ordinal").lower()]
    month = 3 * (q - 1) + 1
    if m.group("year"):
        year = int(m.group("year"))
    else:
        current = (d.month - 1) // 3 + 1
        year = d.year if (q >= current if fut else q <= current) else (
            d.year + 1 if fut else d.year - 1)
    first = pd.Timestamp(year=year, month=month, day=1)
    return first, first + pd.offsets.QuarterEnd(0), "quarter" + (
        "" if m.group("year") else ", year inferred")


_I = re.IGNORECASE
_RULES: tuple[tuple[re.Pattern[str], _Resolver], ...] = (
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), _iso),
    (re.compile(r"\b(?P<month>" + _MONTH_RE + r")\s+(?P<day>" + _DAY_RE + r")\b(?:,?\s+(?P<year>"
                + _YEAR_RE + r")\b)?"), _month_day),
    (re.compile(r"\b(?P<day>" + _DAY_RE + r")\s+(?:of\s+)?(?P<month>" + _MONTH_RE
                + r")(?:,?\s+(?P<year>" + _YEAR_RE + r")\b)?"), _month_day),
    (re.compile(r"\b(?:by\s+|at\s+|before\s+)?(?:the\s+)?(?:end\s+of\s+(?:the|this)\s+year|"
                r"year[- ]end)\b", _I), _year_end),
    (re.compile(r"\b(?:(?:(?:in|the)\s+)?(?P<ordinal>first|second|third|fourth|1st|2nd|3rd|4th)"
                r"\s+quarter|Q(?P<q>[1-4]))(?:\s+(?:of\s+)?(?P<year>" + _YEAR_RE + r"))?\b", _I),
     _quarter),
    (re.compile(r"\b(?:(?i:in|since|during|until|till|by|from|of|early|late|mid-?|last|this|"
                r"next)\s+)?(?P<month>" + _MONTH_RE.replace(r"\.?", "")
                + r")(?:\s+(?P<year>" + _YEAR_RE + r"))?\b"), _month_only),
    (re.compile(r"\b(?P<which>earlier\s+this|later\s+this|this|last|next|(?:the\s+)?coming|"
                r"(?:the\s+)?past)\s+(?P<unit>week|month|year)\b", _I), _period),
    (re.compile(r"\b(?P<n>" + _NUM_RE + r")\s+(?P<unit>days?|weeks?|months?|years?)\s+ago\b", _I),
     _ago),
    (re.compile(r"\b(?:earlier\s+|later\s+)?(?:today|tonight|yesterday|tomorrow|this\s+"
                r"(?:morning|afternoon|evening))\b", _I), _relative_day),
    (re.compile(r"\b(?:(?P<which>(?i:last|next|this|coming))\s+|(?i:on)\s+)?(?P<weekday>"
                + _WEEKDAY_RE + r")\b"), _weekday),
    (re.compile(r"\b(?:in|since|during|until|by|from|of)\s+(?P<year>" + _YEAR_RE + r")\b", _I),
     _year_only),
)
_AMBIGUOUS_MONTHS = {"may", "march", "mar", "jan", "jun", "aug", "dec", "oct", "sep", "nov",
                     "feb", "apr", "jul"}


def find_dates(sentence: str, anchor: pd.Timestamp, future: bool | None = None) -> list[DateRef]:
    """Find and resolve the date expressions of one sentence.

    Parameters
    ----------
    sentence : str
        The sentence.
    anchor : pandas.Timestamp
        The publication's local date ``D``.
    future : bool, optional
        Tense of the sentence (default: :func:`is_future`).

    Returns
    -------
    list of DateRef
        In order of position, without overlaps.
    """
    anchor = pd.Timestamp(anchor).normalize()
    fut = is_future(sentence) if future is None else future
    found: list[DateRef] = []
    taken = Coverage()  # the spans found: overlap tests in O(log n), not a scan of all
    for pattern, resolve in _RULES:
        for m in pattern.finditer(sentence):
            if taken.overlaps(m.start(), m.end()):
                continue
            if resolve is _month_only:
                word = m.group("month").lower()
                bare = m.group(0).strip() == m.group("month") and not m.group("year")
                if word in _AMBIGUOUS_MONTHS and bare:
                    continue
            got = resolve(m, anchor, fut)
            if got is None:
                continue
            first, last, rule = got
            if last < anchor:
                tense = "past"
            elif first > anchor:
                tense = "future"
            else:
                tense = "present"
            found.append(DateRef(m.group(0), m.start(), m.end(), first, last, tense, rule))
            taken.add(m.start(), m.end())
    found.sort(key=lambda r: r.start)
    return found
