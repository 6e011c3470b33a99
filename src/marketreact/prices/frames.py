"""The standard daily price frame: what every source returns and what a user may pass.

Every source returns, per ticker, a frame indexed by ``date`` (tz-naive
``datetime64[ns]`` exchange-local session dates, ascending, unique) with float
columns ``open, high, low, close, adj_close, volume``; a column a source does
not have is all-NaN. :func:`standard_frame` builds it from the shapes people
have at hand (yfinance's own column names, a one-ticker ``yf.download`` frame,
a ``Date`` column, a tz-aware index) and refuses, in one line naming the ticker
and the columns it has, a frame it cannot read. The cleaning rules applied
before a study are in :mod:`marketreact.prices.cleaning`.

Imports: the ground floor (errors) only.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from marketreact.errors import InputError, InputProblem

PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close", "volume")


@dataclass(frozen=True)
class PriceFetch:
    """What a price source returned for a request.

    Attributes
    ----------
    frames : dict of str to pandas.DataFrame
        Standard price frames, by ticker.
    failures : dict of str to str
        Tickers that could not be had, with the reason.
    notes : dict of str to tuple of InputProblem
        Harmless problems found in a ticker's data and how they were handled
        (rows sorted, zero prices taken as missing, long gaps, ...).
    suspects : dict of str to tuple of PriceSuspect
        Suspect prices (unadjusted splits, bad prints): events whose windows
        contain one fail with its reason.
    """

    frames: dict[str, pd.DataFrame]
    failures: dict[str, str]
    notes: dict[str, tuple[InputProblem, ...]] = field(default_factory=dict)
    suspects: dict[str, tuple[PriceSuspect, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class PriceSuspect:
    """A price that is probably wrong, and the sessions whose returns it spoils.

    Attributes
    ----------
    first, last : pandas.Timestamp
        First and last date whose return (from the previous row) is affected.
    problem : InputProblem
        Where it is (file, line, field, value) and why it is suspect.
    """

    first: pd.Timestamp
    last: pd.Timestamp
    problem: InputProblem


#: Column names (lower case, spaces, ``_``, ``-`` and ``.`` removed) and the standard column.
_FIELDS = {"open": "open", "high": "high", "low": "low", "close": "close",
           "adjclose": "adj_close", "adjustedclose": "adj_close", "volume": "volume"}
_DATE_KEYS = ("date", "datetime")
_SQUEEZE = re.compile(r"[\s_.\-]+")


def _key(name: object) -> str:
    return _SQUEEZE.sub("", str(name)).lower()


def _refuse(ticker: str | None, message: str) -> InputError:
    where = f"prices of {ticker}" if ticker else "price frame"
    return InputError([InputProblem(where, None, None, None, message)])


def _shown(columns: pd.Index) -> str:
    names = [" / ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in columns]
    return ", ".join(names) if names else "none"


def _one_ticker(data: pd.DataFrame, ticker: str | None) -> pd.DataFrame:
    """Drop the ticker level of a two-level (``Price``, ``Ticker``) frame holding one ticker."""
    cols = data.columns
    if cols.nlevels != 2:
        raise _refuse(ticker, f"columns have {cols.nlevels} levels; give one level of price "
                      f"columns (columns: {_shown(cols)})")
    hits = [sum(_key(v) in _FIELDS for v in cols.get_level_values(i)) for i in (0, 1)]
    names = [str(n).lower() if n is not None else "" for n in cols.names]
    field = 0 if "price" in names[:1] or hits[0] >= hits[1] else 1
    other = cols.get_level_values(1 - field)
    held = list(dict.fromkeys(str(t) for t in other))
    if len(held) == 1:
        return data.droplevel(1 - field, axis=1)
    if ticker is not None:
        match = [t for t in held if t.upper() == ticker.upper()]
        if len(match) == 1:
            at = [str(t) == match[0] for t in other]
            return data.loc[:, at].droplevel(1 - field, axis=1)
    raise _refuse(ticker, f"the frame holds {len(held)} tickers ({', '.join(held[:10])}): "
                  "give one frame per ticker (marketreact.prices.frames_from_download splits "
                  "a yf.download result)")


def _parse_dates(values: pd.Index | pd.Series, ticker: str | None, what: str,
                 columns: pd.Index) -> pd.DatetimeIndex:
    """Dates from a date column or index; tz-aware values keep their local (exchange) date."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return pd.DatetimeIndex(values).tz_localize(None)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return pd.DatetimeIndex(values)
    if len(values) and not (pd.api.types.is_object_dtype(values.dtype)
                            or pd.api.types.is_string_dtype(values.dtype)):
        raise _refuse(ticker, f"{what} is not dates ({type(values).__name__} of "
                      f"{values.dtype}); index the frame by date or give a date column "
                      f"(columns: {_shown(columns)})")
    text = pd.Index(values).astype(str)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "could not infer format"
            try:
                parsed = pd.DatetimeIndex(pd.to_datetime(text))
            except ValueError as exc:
                if "timezone" not in str(exc).lower():
                    raise
                # offsets that change (daylight saving): keep each value's local date
                parsed = pd.DatetimeIndex([pd.Timestamp(v).replace(tzinfo=None) for v in text])
    except (ValueError, TypeError, OverflowError) as exc:
        first = next((v for v in text if pd.isna(pd.to_datetime(v, errors="coerce"))), "")
        raise _refuse(ticker, f"{what} is not dates (e.g. {first!r}); index the frame by "
                      f"date or give a date column (columns: {_shown(columns)})") from exc
    return parsed.tz_localize(None) if parsed.tz is not None else parsed


def standard_frame(data: pd.DataFrame, ticker: str | None = None) -> pd.DataFrame:
    """Coerce a daily price frame to the standard shape, or refuse it in one line.

    Accepted shapes (any mix):

    * columns named as in :data:`PRICE_COLUMNS` or as yfinance names them
      (``Open, High, Low, Close, Adj Close, Volume``), in any case, with
      ``Adj Close``, ``adj close``, ``adjclose``, ``Adj_Close`` or ``adjusted
      close`` for the adjusted close; other columns (``Dividends``, ...) are
      ignored;
    * the two-level (``Price``, ``Ticker``) columns of ``yf.download`` holding
      one ticker (or several, when ``ticker`` names one of them);
    * a ``DatetimeIndex`` (tz-naive or tz-aware: the local date is kept), an
      index of date strings, or a ``date``/``Date``/``Datetime`` column with
      any other index (e.g. after ``reset_index()``).

    Parameters
    ----------
    data : pandas.DataFrame
        Daily prices of one ticker.
    ticker : str, optional
        The ticker, named in errors (and picked out of a many-ticker download).

    Returns
    -------
    pandas.DataFrame
        Float columns in the standard order, ``datetime64[ns]`` index named
        ``date`` (normalised to midnight); ``adj_close`` is the close where the
        frame has no adjusted close at all. Row order is kept.

    Raises
    ------
    InputError
        ``data`` is not a frame, has no close or adjusted close column, names a
        price twice, holds several tickers, or has neither a date index nor a
        date column; the message names the ticker and the columns the frame has.
    """
    if not isinstance(data, pd.DataFrame):
        hint = " (series.to_frame('close') makes one)" if isinstance(data, pd.Series) else ""
        raise _refuse(ticker, f"expected a DataFrame of daily prices, got "
                      f"{type(data).__name__}{hint}")
    if isinstance(data.columns, pd.MultiIndex):
        data = _one_ticker(data, ticker)
    found: dict[str, object] = {}
    date_col: object = None
    for col in data.columns:
        key = _key(col)
        std = _FIELDS.get(key)
        if std is not None:
            if std in found:
                raise _refuse(ticker, f"columns {str(found[std])!r} and {str(col)!r} both "
                              f"hold {std} (columns: {_shown(data.columns)})")
            found[std] = col
        elif key in _DATE_KEYS and date_col is None:
            date_col = col
    if "close" not in found and "adj_close" not in found:
        raise _refuse(ticker, f"no close or adj close column (columns: {_shown(data.columns)})")
    if isinstance(data.index, pd.DatetimeIndex) or date_col is None:
        dates = _parse_dates(data.index, ticker, "the index", data.columns)
    else:
        dates = _parse_dates(data[date_col], ticker, f"column {str(date_col)!r}", data.columns)
    if dates.hasnans:
        raise _refuse(ticker, f"{int(np.count_nonzero(dates.isna()))} row(s) without a date")
    out = pd.DataFrame(index=dates.normalize().astype("datetime64[ns]"))
    for col in PRICE_COLUMNS:
        out[col] = (pd.to_numeric(data[found[col]], errors="coerce").to_numpy(dtype=float)
                    if col in found else np.nan)
    if out["adj_close"].isna().all():
        out["adj_close"] = out["close"]
    out.index.name = "date"
    return out


def price_column(frame: pd.DataFrame) -> pd.Series:
    """Return the adjusted close, falling back to the close where it is missing."""
    return frame["adj_close"].fillna(frame["close"])
