"""Intraday bars in: timestamped bar CSVs, Lean factor files, and Yahoo intraday fetches.

Bar files
---------
A bar CSV has a ``timestamp`` column and ``open, high, low, close`` (``volume``
optional), one row per bar, e.g. the shared QuantConnect/Lean conversions::

    timestamp,open,high,low,close,volume
    1998-01-02T09:00:00-05:00,13.63,13.75,13.5,13.63,540700

Timestamps carry their UTC offset, or are naive and read in the zone given
(``tz="America/New_York"``); a naive stamp without a stated zone is refused.
Stamps mark the **bar start** by default; ``stamp="end"`` says they mark the bar
end (the bar then starts one ``interval`` earlier). Every frame returned here is
indexed by the UTC bar start (``datetime64[ns, UTC]``, named ``start``).

Factor files
------------
Lean's factor file ``date,price_factor,split_factor,reference_price``: a raw
price of day ``d`` times ``price_factor * split_factor`` of the first row dated
on or after ``d`` is the adjusted price (days after the last row: factor 1).
:func:`adjust_bars` applies it per bar (local date in the exchange's zone) and
divides volume by the split factor, so AAPL's 7:1 split of 2014-06-09 is a
continuous series, never a -86% bar.

Yahoo
-----
:func:`fetch_yahoo_bars` calls ``yfinance.download`` with one of
:data:`YAHOO_INTERVALS`; a start before Yahoo's look-back limit
(:data:`YAHOO_LOOKBACK`) is refused before any request, in one line.
Fetched frames are cached per interval and ticker (Parquet).

Imports: the ground floor only (this is the ``prices`` floor).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from marketreact._typing import StrPath
from marketreact.errors import DataSourceError, InputError, InputProblem

log = logging.getLogger(__name__)

#: Columns of a bar frame, in order.
BAR_COLUMNS = ("open", "high", "low", "close", "volume")

#: Intervals yfinance accepts for intraday bars.
YAHOO_INTERVALS = ("1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h")

#: How far back Yahoo serves each interval (a start earlier than ``now - limit`` is refused).
YAHOO_LOOKBACK: dict[str, pd.Timedelta] = {
    "1m": pd.Timedelta(days=7),
    **{k: pd.Timedelta(days=60) for k in ("2m", "5m", "15m", "30m", "90m")},
    "60m": pd.Timedelta(days=730), "1h": pd.Timedelta(days=730),
}

_INTERVAL = re.compile(r"^\s*(\d+)\s*(m|min|h|d)\s*$", re.IGNORECASE)


def parse_interval(text: str, field: str = "interval") -> pd.Timedelta:
    """Parse a bar interval such as ``1m``, ``5m``, ``60m``, ``1h`` or ``90m``.

    Parameters
    ----------
    text : str
        The interval.
    field : str, default "interval"
        The setting named in the error.

    Returns
    -------
    pandas.Timedelta

    Raises
    ------
    InputError
        When ``text`` is not a positive number of minutes or hours.
    """
    m = _INTERVAL.match(str(text))
    if not m or int(m.group(1)) <= 0:
        raise InputError([InputProblem("settings", None, field, str(text),
                                       "is not a bar interval such as 1m, 5m, 1h")])
    unit = m.group(2).lower()
    n = int(m.group(1))
    return pd.Timedelta(minutes=n) if unit in ("m", "min") else (
        pd.Timedelta(hours=n) if unit == "h" else pd.Timedelta(days=n))


def read_bars(path: StrPath, *, stamp: str = "start", interval: str | pd.Timedelta | None = None,
              tz: str | None = None) -> pd.DataFrame:
    """Read one timestamped bar CSV.

    Parameters
    ----------
    path : str or path-like
        The CSV file (``timestamp, open, high, low, close[, volume]``).
    stamp : {'start', 'end'}, default 'start'
        Whether a timestamp marks the bar's start or its end.
    interval : str or pandas.Timedelta, optional
        The bar length; needed when ``stamp='end'``.
    tz : str, optional
        IANA zone of naive timestamps (refused without it).

    Returns
    -------
    pandas.DataFrame
        Indexed by the UTC bar start ``start``; float ``open, high, low, close``
        and ``volume`` (NaN when the file has none); ascending and unique.

    Raises
    ------
    InputError
        One problem per bad cell (file, line, field, value), e.g. a naive
        timestamp without ``tz``, a non-positive price or a repeated stamp.
    """
    path = Path(path)
    source = str(path)
    if stamp not in ("start", "end"):
        raise InputError([InputProblem("settings", None, "bar_stamp", stamp,
                                       "must be 'start' or 'end'")])
    if not path.is_file():
        raise InputError([InputProblem(source, None, None, None, "file not found")])
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError([InputProblem(source, None, None, None,
                                       f"not a readable CSV ({first})")]) from None
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    if "timestamp" not in raw.columns and "datetime" in raw.columns:
        raw = raw.rename(columns={"datetime": "timestamp"})
    missing = [c for c in ("timestamp", "open", "high", "low", "close") if c not in raw.columns]
    if missing:
        raise InputError([InputProblem(source, 1, missing[0], None,
                                       "column missing (need timestamp, open, high, low, close)")])
    problems: list[InputProblem] = []
    text = raw["timestamp"].str.strip()
    has_offset = text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True)
    ts = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    if has_offset.any():
        ts[has_offset] = pd.to_datetime(text[has_offset], utc=True, errors="coerce",
                                        format="ISO8601")
    naive = pd.to_datetime(text[~has_offset], errors="coerce", format="ISO8601")
    # parse first: a stamp that is no time at all is reported as such, not as a naive one
    unreadable = (has_offset & ts.isna()) | (~has_offset & pd.Series(
        naive.isna(), index=text.index[~has_offset]).reindex(text.index, fill_value=False))
    for i in np.flatnonzero(unreadable.to_numpy())[:20]:
        problems.append(InputProblem(source, int(i) + 2, "timestamp", text.iloc[i],
                                     "is not an ISO 8601 time"))
    if problems:
        raise InputError(problems)
    if (~has_offset).any() and tz is None:
        i = int(np.flatnonzero(~has_offset.to_numpy())[0])
        raise InputError([InputProblem(source, i + 2, "timestamp", text.iloc[i],
                                       "has no UTC offset: give the zone (--bar-tz)")])
    if (~has_offset).any():
        try:
            ts[~has_offset] = naive.dt.tz_localize(tz, ambiguous="NaT",
                                                   nonexistent="NaT").dt.tz_convert("UTC")
        except (KeyError, ValueError, TypeError) as exc:
            raise InputError([InputProblem("settings", None, "bar_tz", str(tz),
                                           f"is not a time zone ({exc})")]) from None
    for i in np.flatnonzero(ts.isna().to_numpy())[:20]:
        problems.append(InputProblem(source, int(i) + 2, "timestamp", text.iloc[i],
                                     f"falls in a daylight-saving gap or overlap of {tz}"))
    out = pd.DataFrame(index=pd.DatetimeIndex(ts, name="start"))
    for col in BAR_COLUMNS:
        if col not in raw.columns:
            out[col] = np.nan
            continue
        values = pd.to_numeric(raw[col].str.strip().replace("", "nan"), errors="coerce")
        bad = values.isna() & (raw[col].str.strip() != "")
        if col != "volume":
            bad |= values.notna() & (values <= 0)
        for i in np.flatnonzero(bad.to_numpy())[:20]:
            problems.append(InputProblem(source, int(i) + 2, col, raw[col].iloc[i],
                                         "is not a positive number" if col != "volume"
                                         else "is not a number"))
        out[col] = values.to_numpy(dtype=float)
    if problems:
        raise InputError(problems)
    if stamp == "end":
        if interval is None:
            raise InputError([InputProblem("settings", None, "interval", None,
                                           "bar-end stamps need the bar interval")])
        step = parse_interval(interval) if isinstance(interval, str) else pd.Timedelta(interval)
        out.index = pd.DatetimeIndex(out.index - step, name="start")
    dup = out.index.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputError([InputProblem(source, i + 2, "timestamp", text.iloc[i],
                                       "repeats an earlier bar")])
    return out.sort_index()


def read_factor_file(path: StrPath) -> pd.DataFrame:
    """Read a Lean factor file ``date,price_factor,split_factor,reference_price``.

    Parameters
    ----------
    path : str or path-like
        The file (header optional; dates ``YYYY-MM-DD`` or ``YYYYMMDD``).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``date`` (tz-naive, ascending) with float ``price_factor`` and
        ``split_factor``.

    Raises
    ------
    InputError
        Naming the line and field of a bad date or a non-positive factor.
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise InputError([InputProblem(source, None, None, None, "file not found")])
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    rows, problems = [], []
    for i, line in enumerate(lines, start=1):
        cells = [c.strip() for c in line.split(",")]
        if not line.strip() or (i == 1 and cells[0].lower() == "date"):
            continue
        if len(cells) < 3:
            problems.append(InputProblem(source, i, None, line, "needs date, price_factor, "
                                         "split_factor"))
            continue
        date = pd.to_datetime(cells[0], errors="coerce",
                              format="%Y%m%d" if cells[0].isdigit() else "ISO8601")
        if pd.isna(date):
            problems.append(InputProblem(source, i, "date", cells[0], "is not a date"))
            continue
        vals = []
        for name, cell in zip(("price_factor", "split_factor"), cells[1:3], strict=True):
            try:
                v = float(cell)
            except ValueError:
                v = float("nan")
            if not np.isfinite(v) or v <= 0:
                problems.append(InputProblem(source, i, name, cell,
                                             "is not a positive number"))
            vals.append(v)
        rows.append((date, *vals))
    if problems:
        raise InputError(problems)
    frame = pd.DataFrame(rows, columns=["date", "price_factor", "split_factor"])
    return frame.set_index("date").sort_index()


def adjust_bars(bars: pd.DataFrame, factors: pd.DataFrame, tz: str = "America/New_York",
                *, dividends: bool = True) -> pd.DataFrame:
    """Adjust raw bars with a Lean factor table (splits, and dividends unless told not to).

    Parameters
    ----------
    bars : pandas.DataFrame
        Bars from :func:`read_bars` (UTC bar starts).
    factors : pandas.DataFrame
        From :func:`read_factor_file`.
    tz : str, default "America/New_York"
        Zone whose local date picks each bar's factor row.
    dividends : bool, default True
        Apply ``price_factor`` too (False: splits only).

    Returns
    -------
    pandas.DataFrame
        Prices times the factor of the first row dated on or after the bar's
        local date (1 after the last row); volume divided by the split factor.
    """
    if factors.empty or bars.empty:
        return bars.copy()
    day = pd.DatetimeIndex(bars.index.tz_convert(tz).normalize().tz_localize(None))
    dates = pd.DatetimeIndex(factors.index).as_unit("ns").asi8
    at = np.searchsorted(dates, day.as_unit("ns").asi8, side="left")
    split = np.append(factors["split_factor"].to_numpy(float), 1.0)[at]
    price = np.append(factors["price_factor"].to_numpy(float), 1.0)[at] if dividends else 1.0
    out = bars.copy()
    for col in ("open", "high", "low", "close"):
        out[col] = out[col].to_numpy(float) * split * price
    out["volume"] = out["volume"].to_numpy(float) / split
    return out


#: Folder names of the shared layout, by interval (``intraday/hour``, ``intraday/minute``).
_LAYOUT = {pd.Timedelta(hours=1): "hour", pd.Timedelta(minutes=1): "minute"}


def bar_folder(root: StrPath, interval: str | pd.Timedelta) -> Path:
    """The folder holding ``interval`` bars under ``root``.

    ``root`` may itself hold ``TICKER.csv`` files, or the shared layout's
    ``hour/`` and ``minute/`` sub-folders (picked by ``interval``).
    """
    root = Path(root)
    step = parse_interval(interval) if isinstance(interval, str) else pd.Timedelta(interval)
    sub = _LAYOUT.get(step)
    if sub and (root / sub).is_dir():
        return root / sub
    return root


def read_bar_folder(root: StrPath, tickers: Iterable[str], interval: str | pd.Timedelta, *,
                    stamp: str = "start", tz: str | None = None,
                    factors: StrPath | None = None, dividends: bool = True,
                    exchange_tz: str = "America/New_York") -> dict[str, pd.DataFrame]:
    """Read (and adjust) the bars of several tickers from a folder.

    Parameters
    ----------
    root : str or path-like
        A folder of ``TICKER.csv`` bar files, or one with ``hour/``/``minute/``
        sub-folders (the shared layout).
    tickers : iterable of str
        Tickers to read.
    interval : str or pandas.Timedelta
        Bar length (picks the sub-folder; needed for bar-end stamps).
    stamp, tz
        As in :func:`read_bars`.
    factors : str or path-like, optional
        Folder of Lean factor files ``TICKER.csv``; default ``root/factors`` when
        it exists. A ticker without a factor file is left raw.
    dividends : bool, default True
        Apply dividend price factors as well as splits.
    exchange_tz : str, default "America/New_York"
        Zone of the factor files' dates.

    Returns
    -------
    dict of str to pandas.DataFrame
        Adjusted bars by ticker; every frame carries ``attrs['adjusted']``.

    Raises
    ------
    InputError
        When a ticker has no bar file, or a file has bad cells.
    """
    folder = bar_folder(root, interval)
    fdir = Path(factors) if factors is not None else Path(root) / "factors"
    out: dict[str, pd.DataFrame] = {}
    for ticker in dict.fromkeys(tickers):
        path = folder / f"{ticker}.csv"
        if not path.is_file():
            raise InputError([InputProblem(str(folder), None, "ticker", ticker,
                                           f"no bar file {path.name} in {str(folder)!r}")])
        bars = read_bars(path, stamp=stamp, interval=interval, tz=tz)
        fpath = fdir / f"{ticker}.csv"
        adjusted = fpath.is_file()
        if adjusted:
            bars = adjust_bars(bars, read_factor_file(fpath), exchange_tz, dividends=dividends)
        bars.attrs["adjusted"] = adjusted
        out[ticker] = bars
    return out


def check_yahoo_request(interval: str, start: pd.Timestamp, now: pd.Timestamp | None = None
                        ) -> None:
    """Refuse a Yahoo intraday request that Yahoo would not serve, before any download.

    Parameters
    ----------
    interval : str
        One of :data:`YAHOO_INTERVALS`.
    start : pandas.Timestamp
        First bar wanted (tz-aware or UTC date).
    now : pandas.Timestamp, optional
        The present (default: the clock), for tests.

    Raises
    ------
    InputError
        One line: the interval is unknown, or ``start`` is older than its look-back limit.
    """
    if interval not in YAHOO_INTERVALS:
        raise InputError([InputProblem("command line", None, "--interval", interval,
                                       "Yahoo serves " + ", ".join(YAHOO_INTERVALS))])
    now = pd.Timestamp.now(tz="UTC") if now is None else _utc(now)
    limit = YAHOO_LOOKBACK[interval]
    earliest = now - limit
    if _utc(start) < earliest:
        raise InputError([InputProblem(
            "command line", None, "--interval", interval,
            f"Yahoo keeps {interval} bars for about {limit.days} days only: "
            f"{_utc(start).date()} is before {earliest.date()}")])


def _utc(t: pd.Timestamp | str) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def yahoo_frame(data: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """One ticker's bars from a ``yfinance.download`` frame (two-level columns), UTC-indexed."""
    if data is None or data.empty:
        return pd.DataFrame(columns=list(BAR_COLUMNS),
                            index=pd.DatetimeIndex([], tz="UTC", name="start"))
    if isinstance(data.columns, pd.MultiIndex):
        level = 1 if ticker in data.columns.get_level_values(1) else 0
        if ticker not in data.columns.get_level_values(level):
            return yahoo_frame(pd.DataFrame(), ticker)
        part = data.xs(ticker, axis=1, level=level)
    else:
        part = data
    part = part.rename(columns=lambda c: str(c).lower())
    out = pd.DataFrame({c: pd.to_numeric(part[c], errors="coerce") if c in part else np.nan
                        for c in BAR_COLUMNS})
    idx = pd.DatetimeIndex(out.index)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    out.index = pd.DatetimeIndex(idx.as_unit("ns"), name="start")
    out = out[out[["open", "high", "low", "close"]].notna().all(axis=1)]
    return out[~out.index.duplicated()].sort_index()


def fetch_yahoo_bars(tickers: Iterable[str], interval: str, start: pd.Timestamp,
                     end: pd.Timestamp, *, extended: bool = False,
                     cache_dir: StrPath | None = None, now: pd.Timestamp | None = None
                     ) -> dict[str, pd.DataFrame]:
    """Fetch intraday bars from Yahoo (yfinance), checked against the look-back limits first.

    Parameters
    ----------
    tickers : iterable of str
        Yahoo symbols.
    interval : str
        One of :data:`YAHOO_INTERVALS`.
    start, end : pandas.Timestamp
        Span wanted (``end`` exclusive, as yfinance has it).
    extended : bool, default False
        Ask for pre- and post-market bars (``prepost``).
    cache_dir : str or path-like, optional
        Cache folder: frames are kept as ``<cache>/intraday/<interval>/<T>.parquet``
        and reused when they cover ``[start, end)``.
    now : pandas.Timestamp, optional
        The present, for the look-back check (tests).

    Returns
    -------
    dict of str to pandas.DataFrame
        Bars by ticker, UTC bar starts (Yahoo's intraday prices are split-adjusted).

    Raises
    ------
    InputError
        For a request beyond the look-back limit (before any download).
    DataSourceError
        When a ticker comes back empty.
    """
    check_yahoo_request(interval, start, now)
    wanted = list(dict.fromkeys(tickers))
    out: dict[str, pd.DataFrame] = {}
    folder = Path(cache_dir) / "intraday" / interval if cache_dir is not None else None
    lo, hi = _utc(start), _utc(end)
    todo = []
    for t in wanted:
        cached = folder / f"{t}.parquet" if folder is not None else None
        if cached is not None and cached.is_file():
            frame = pd.read_parquet(cached)
            if len(frame) and frame.attrs.get("extended", extended) == extended and \
                    frame.index.min() <= lo + pd.Timedelta(days=4) and frame.index.max() >= \
                    hi - pd.Timedelta(days=4):
                out[t] = frame.loc[(frame.index >= lo) & (frame.index < hi)]
                continue
        todo.append(t)
    if todo:
        import yfinance as yf

        data = yf.download(todo, start=lo.to_pydatetime(), end=hi.to_pydatetime(),
                           interval=interval, prepost=extended, auto_adjust=False,
                           progress=False, threads=False, multi_level_index=True)
        for t in todo:
            frame = yahoo_frame(data, t)
            if frame.empty:
                raise DataSourceError(f"yahoo: no {interval} bars for {t} between "
                                      f"{lo.date()} and {hi.date()}")
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
                frame.attrs["extended"] = extended
                frame.to_parquet(folder / f"{t}.parquet")
            out[t] = frame
    return {t: out[t] for t in wanted}


def frames_by_ticker(frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Copy of ``frames`` with every index checked to be a UTC ``DatetimeIndex`` (bar starts)."""
    out = {}
    for t, f in frames.items():
        idx = pd.DatetimeIndex(f.index)
        if idx.tz is None:
            raise InputError([InputProblem(str(t), None, "timestamp", None,
                                           "bar times must be tz-aware")])
        g = f.copy()
        g.index = pd.DatetimeIndex(idx.tz_convert("UTC").as_unit("ns"), name="start")
        out[str(t)] = g.sort_index()
    return out
