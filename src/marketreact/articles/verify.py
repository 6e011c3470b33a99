"""Checking stated price moves against daily OHLC prices.

Each claim (a row of ``claims.csv``) is compared with the bar(s) of its
date(s) and the close of the session before, all on one price basis: raw
open/high/low/close are multiplied by the day's ``adj_close / close`` factor,
so a split or dividend between the previous close and the claim does not show
as a move (the raw prices are reported as read). Measured numbers:

* ``high_vs_prev_pct`` = 100 (max high / previous close - 1);
* ``low_vs_prev_pct``  = 100 (min low / previous close - 1);
* ``close_vs_prev_pct`` = 100 (last close / previous close - 1),

where max and min run over the claim's dates (one session for a day claim)
and the previous close is the last close before the first date. With the
stated move ``s`` (+N for up, -N for down) and the tolerance ``tol``
(percentage points, default 0.5, which covers rounding to whole percent):

=====================  ===========================================================
kind / bound           supported when
=====================  ===========================================================
close_to_close         close change within [s - tol, s + tol]
intraday_extreme       the high (up) or low (down) change within [s - tol, s + tol];
                       when the article was published while the session still
                       traded (``in_progress`` yes or unknown) the day's extreme
                       may have grown later, so only beyond s - tol (up) or
                       s + tol (down) is required
intraday_level         s within [low change - tol, high change + tol] (the price
                       was there at some point of the session)
intraday_reversal      full (``erased declines``): low < previous close < high;
                       partial (``pared losses``): low < previous close and close
                       above the low (mirrored for falls)
bound at_least         ``more than N``: beyond s - tol (up) / s + tol (down)
bound at_most          ``nearly N``: between 0.8 N - tol and N + tol in size
bound direction        no number: the measured change has the stated sign
=====================  ===========================================================

Daily bars cannot tell the order of the high and the low, so a reversal is
checked by its necessary condition. A claim is ``unverifiable`` when it has no
ticker (unlisted or unknown company), the prices cannot be had, the date has
no bar (no trading, or a filler row), there is no earlier close, or an
intraday claim meets close-only data; ``contradicted`` otherwise when the
condition fails.

Intraday bars
-------------
With ``bars`` (adjusted intraday bars by ticker, e.g. from
:func:`marketreact.prices.bars.read_bar_folder`; ``marketreact verify --bars DIR``)
a claim whose ticker has regular-hours bars on the claimed session(s) and on the
session before is judged on the bars instead: the previous close is the last
regular bar's close of the session before (so both sides share the bars' price
basis), high/low/close run over the claimed sessions' regular bars
(``bar_*_vs_prev_pct``), and the times of the first bar reaching the low and the
high are reported (``low_time``, ``high_time``, exchange time, bar starts). A
reversal is then checked in its order: full, up (``erased morning declines``):
some bar's high is above the previous close *after* an earlier bar's low below
it (mirrored for falls: a high above, then a later low below); partial, up:
the low is below the previous close and a later close is above the low. The low
and the high within one bar are not ordered, so a reversal inside a single bar
is not counted. ``basis`` says which data decided (``daily`` or ``bars 1h`` ...).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from marketreact._typing import FloatArray, IntArray, StrPath
from marketreact.articles.text import decode_article
from marketreact.calendar import bar_sessions, exchange_for_ticker
from marketreact.errors import InputError, InputProblem
from marketreact.prices import PriceSource, clean_prices

KINDS = ("close_to_close", "intraday_extreme", "intraday_level", "intraday_reversal")
BOUNDS = ("exact", "extreme", "at_least", "at_most", "direction")
VERDICTS = ("supported", "contradicted", "unverifiable")
DEFAULT_TOLERANCE = 0.5
_EPS = 1e-9
_REQUIRED = ("claim_id", "ticker", "date_start", "direction", "kind")
VERDICT_COLUMNS = (
    "claim_id", "ticker", "company", "date_start", "date_end", "kind", "direction",
    "magnitude_pct", "bound", "reversal", "in_progress", "verdict", "reason", "prev_date",
    "prev_close", "open", "high", "low", "close", "high_vs_prev_pct", "low_vs_prev_pct",
    "close_vs_prev_pct", "measured_pct", "difference_pp", "accepted_from_pct",
    "accepted_to_pct", "tolerance_pp", "adjustment", "sessions", "price_source", "basis",
    "bar_prev_close", "bar_high", "bar_low", "bar_close", "bar_high_vs_prev_pct",
    "bar_low_vs_prev_pct", "bar_close_vs_prev_pct", "low_time", "high_time")
_BAR_MEASURES = ("bar_prev_close", "bar_high", "bar_low", "bar_close", "bar_high_vs_prev_pct",
                 "bar_low_vs_prev_pct", "bar_close_vs_prev_pct")


@dataclass(frozen=True)
class Verification:
    """Verdicts on a set of claims.

    Attributes
    ----------
    verdicts : pandas.DataFrame
        One row per claim (columns :data:`VERDICT_COLUMNS`).
    tolerance : float
        Tolerance in percentage points.
    failures : dict of str to str
        Tickers whose prices could not be had, with the reason.
    """

    verdicts: pd.DataFrame
    tolerance: float
    failures: dict[str, str]

    def counts(self) -> dict[str, int]:
        """Count the claims per verdict."""
        got = self.verdicts["verdict"].value_counts()
        return {v: int(got.get(v, 0)) for v in VERDICTS}


def read_claims(path: StrPath) -> pd.DataFrame:
    """Read and validate a claims file (the ``claims.csv`` of ``marketreact extract``).

    Required columns: ``claim_id, ticker, date_start, direction, kind``;
    optional: ``date_end`` (default ``date_start``), ``magnitude_pct``,
    ``bound`` (default ``exact``, or ``direction`` without a magnitude),
    ``reversal`` (``full``/``partial``), ``in_progress`` (``yes``/``no``/
    ``unknown``, default ``no``), ``company``. An empty ticker is allowed (the
    claim is then unverifiable).

    Raises
    ------
    InputError
        Naming the file, line and field of every problem.
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise InputError([InputProblem(source, None, None, None, "file not found")])
    text = decode_article(path.read_bytes(), source)
    if not text.strip():
        raise InputError([InputProblem(source, 1, None, None, "file is empty")])
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:
        raise InputError([InputProblem(source, None, None, None,
                                       f"cannot read as CSV: {exc}")]) from None
    raw.columns = [c.strip().lower() for c in raw.columns]
    missing = [c for c in _REQUIRED if c not in raw.columns]
    if missing:
        raise InputError([InputProblem(source, 1, c, None, "required column is missing")
                          for c in missing])
    return validate_claims(raw, source)


def validate_claims(raw: pd.DataFrame, source: str = "<claims>") -> pd.DataFrame:
    """Validate claims given as a frame of strings (row ``i`` is line ``i + 2``).

    Returns
    -------
    pandas.DataFrame
        With parsed ``date_start``/``date_end`` (datetime64) and ``magnitude_pct`` (float).
    """
    raw = raw.astype(object).where(raw.notna(), "").astype(str).apply(lambda s: s.str.strip())
    problems: list[InputProblem] = []
    n = len(raw)
    lines = np.arange(2, n + 2)

    def col(name: str, default: str = "") -> pd.Series:
        return raw[name] if name in raw else pd.Series(default, index=raw.index)

    def flag(mask: pd.Series | np.ndarray, field: str, values: pd.Series, message: str) -> None:
        for i in np.flatnonzero(np.asarray(mask)):
            problems.append(InputProblem(source, int(lines[i]), field, values.iloc[i], message))

    ids = col("claim_id")
    flag(ids == "", "claim_id", ids, "value is empty")
    flag(ids.duplicated() & (ids != ""), "claim_id", ids, "duplicate claim_id")
    start_text = col("date_start")
    end_text = col("date_end").where(col("date_end") != "", start_text)
    start = pd.to_datetime(start_text, format="%Y-%m-%d", errors="coerce")
    end = pd.to_datetime(end_text, format="%Y-%m-%d", errors="coerce")
    flag(start.isna(), "date_start", start_text, "not a date in YYYY-MM-DD form")
    flag(end.isna() & start.notna(), "date_end", end_text, "not a date in YYYY-MM-DD form")
    flag(start.notna() & end.notna() & (end < start), "date_end", end_text,
         "date_end is before date_start")
    direction = col("direction").str.lower()
    flag(~direction.isin(["up", "down"]), "direction", col("direction"), "must be up or down")
    kind = col("kind").str.lower()
    flag(~kind.isin(KINDS), "kind", col("kind"), f"must be one of {', '.join(KINDS)}")
    mag_text = col("magnitude_pct")
    magnitude = pd.to_numeric(mag_text.replace("", None), errors="coerce")
    flag(magnitude.isna() & (mag_text != ""), "magnitude_pct", mag_text, "not a number")
    flag(magnitude < 0, "magnitude_pct", mag_text,
         "must not be negative (the direction gives the sign)")
    bound = col("bound").str.lower()
    default = pd.Series(np.where(magnitude.notna(), "exact", "direction"), index=bound.index,
                        dtype=str)
    bound = bound.where(bound != "", default)
    flag(~bound.isin(BOUNDS), "bound", bound, f"must be one of {', '.join(BOUNDS)}")
    flag(bound.isin(["exact", "extreme", "at_least", "at_most"]) & magnitude.isna()
         & kind.isin(["close_to_close", "intraday_extreme"]), "magnitude_pct", mag_text,
         "a magnitude is needed (or set bound to direction)")
    reversal = col("reversal").str.lower()
    reversal = reversal.where((reversal != "") | (kind != "intraday_reversal"), "full")
    flag((kind == "intraday_reversal") & ~reversal.isin(["full", "partial"]), "reversal",
         col("reversal"), "must be full or partial for an intraday_reversal")
    progress = col("in_progress", "no").str.lower().replace("", "no")
    flag(~progress.isin(["yes", "no", "unknown"]), "in_progress", col("in_progress"),
         "must be yes, no or unknown")
    problems.sort(key=lambda p: p.line or 0)
    if problems:
        raise InputError(problems)
    return pd.DataFrame({
        "claim_id": ids, "ticker": col("ticker").str.upper(), "company": col("company"),
        "status": col("status"), "date_start": start.astype("datetime64[ns]"),
        "date_end": end.astype("datetime64[ns]"), "kind": kind, "direction": direction,
        "magnitude_pct": magnitude.astype(float), "bound": bound, "reversal": reversal,
        "in_progress": progress,
    }).reset_index(drop=True)


def _reduce(values: FloatArray, i0: IntArray, i1: IntArray, ufunc: np.ufunc) -> FloatArray:
    """``ufunc`` over ``values[i0:i1 + 1]`` for every pair, at once (``i0 <= i1``)."""
    if not len(i0):
        return np.empty(0)
    ext = np.append(values, np.nan)
    idx = np.empty(2 * len(i0), dtype=np.int64)
    idx[0::2], idx[1::2] = i0, i1 + 1
    return np.asarray(ufunc.reduceat(ext, idx)[0::2], dtype=float)


def _measure(claims: pd.DataFrame, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Bars of each claim's dates and the close before them, for one ticker's claims."""
    n = len(claims)
    first = claims["date_start"].to_numpy(dtype="datetime64[ns]")
    last = claims["date_end"].to_numpy(dtype="datetime64[ns]")
    if len(frame) < 2:
        frame = pd.DataFrame({c: [np.nan, np.nan] for c in frame.columns},
                             index=pd.DatetimeIndex(["NaT", "NaT"], dtype="datetime64[ns]"))
    dates = frame.index.to_numpy(dtype="datetime64[ns]")
    i0 = np.searchsorted(dates, first, side="left")
    i1 = np.searchsorted(dates, last, side="right") - 1
    has_rows = (i0 <= i1) & (i0 < len(dates)) & ~np.isnat(dates[np.minimum(i0, len(dates) - 1)])
    has_prev = has_rows & (i0 >= 1)
    close = frame["close"].to_numpy(dtype=float)
    adj = frame["adj_close"].to_numpy(dtype=float)
    factor = np.where(np.isfinite(adj) & np.isfinite(close) & (close > 0), adj / close, 1.0)
    j0 = np.where(has_prev, i0, 1).astype(np.int64)
    j1 = np.where(has_prev, i1, 1).astype(np.int64)
    high = frame["high"].to_numpy(dtype=float)
    low = frame["low"].to_numpy(dtype=float)
    prev = np.where(has_prev, close[j0 - 1], np.nan)
    prev_adj = prev * factor[j0 - 1]
    hi_adj = _reduce(high * factor, j0, j1, np.fmax)
    lo_adj = _reduce(low * factor, j0, j1, np.fmin)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "has_rows": has_rows,
            "has_prev": has_prev,
            "day_found": has_rows & (dates[np.minimum(i0, len(dates) - 1)] == first),
            "prev_date": np.where(has_prev, dates[j0 - 1], np.datetime64("NaT", "ns")),
            "prev_close": prev,
            "open": np.where(has_prev, frame["open"].to_numpy(dtype=float)[j0], np.nan),
            "high": np.where(has_prev, _reduce(high, j0, j1, np.fmax), np.nan),
            "low": np.where(has_prev, _reduce(low, j0, j1, np.fmin), np.nan),
            "close": np.where(has_prev, close[j1], np.nan),
            "high_vs_prev_pct": np.where(has_prev, 100 * (hi_adj / prev_adj - 1), np.nan),
            "low_vs_prev_pct": np.where(has_prev, 100 * (lo_adj / prev_adj - 1), np.nan),
            "close_vs_prev_pct": np.where(
                has_prev, 100 * (close[j1] * factor[j1] / prev_adj - 1), np.nan),
            "adjustment": np.where(has_prev, factor[j1] / factor[j0 - 1], np.nan),
            "sessions": np.where(has_rows, i1 - i0 + 1, 0) + np.zeros(n, dtype=np.int64),
        }


def _bar_step(index: pd.DatetimeIndex) -> pd.Timedelta:
    """Bar length of a frame: the smallest gap between consecutive bar starts."""
    gaps = np.diff(index.as_unit("ns").asi8)
    gaps = gaps[gaps > 0]
    return pd.Timedelta(int(gaps.min()) if len(gaps) else 60_000_000_000, "ns")


def _step_text(step: pd.Timedelta) -> str:
    minutes = int(step / pd.Timedelta(minutes=1))
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def _bar_measures(claims: pd.DataFrame, frame: pd.DataFrame, exchange: str
                  ) -> dict[str, np.ndarray]:
    """Measures of each claim on one ticker's regular-hours bars (see the module notes).

    Claims are few (one article's), so each is a slice of the bars; every measure
    of a claim is computed on its slice with numpy.
    """
    n = len(claims)
    out: dict[str, np.ndarray] = {k: np.full(n, np.nan) for k in _BAR_MEASURES}
    out["ok"] = np.zeros(n, dtype=bool)
    out["reversal_ok"] = np.zeros(n, dtype=bool)
    out["low_time"] = np.full(n, "", dtype=object)
    out["high_time"] = np.full(n, "", dtype=object)
    out["step"] = np.full(n, "", dtype=object)
    idx = pd.DatetimeIndex(frame.index)
    if len(idx) < 2 or idx.tz is None:
        return out
    step = _bar_step(idx)
    bs = bar_sessions(exchange, idx, step)
    keep = bs.regular & (bs.session >= 0)
    if not keep.any():
        return out
    day = bs.labels.asi8[bs.session[keep]]
    h = frame["high"].to_numpy(float)[keep]
    lo_ = frame["low"].to_numpy(float)[keep]
    c = frame["close"].to_numpy(float)[keep]
    local = idx[keep].tz_convert(bs.tz)
    first = claims["date_start"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    last = claims["date_end"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    i0 = np.searchsorted(day, first, side="left")
    i1 = np.searchsorted(day, last, side="right")
    ok_c = np.isfinite(c)
    up = (claims["direction"] == "up").to_numpy()
    partial = (claims["reversal"] == "partial").to_numpy()
    for j in range(n):  # one article's claims
        a, b = int(i0[j]), int(i1[j])
        if b <= a or a == 0 or day[a] != first[j]:
            continue
        before = np.flatnonzero(ok_c[:a] & (day[:a] == day[a - 1]))
        if not len(before):
            continue
        prev = c[before[-1]]
        hh, ll, cc = h[a:b], lo_[a:b], c[a:b]
        if not (np.isfinite(hh).any() and np.isfinite(ll).any() and np.isfinite(cc).any()):
            continue
        hi, lw = np.nanmax(hh), np.nanmin(ll)
        close = cc[np.isfinite(cc)][-1]
        # running extreme over the bars strictly before each bar
        low_before = np.concatenate([[np.inf], np.fmin.accumulate(ll)[:-1]])
        high_before = np.concatenate([[-np.inf], np.fmax.accumulate(hh)[:-1]])
        if partial[j]:
            rev = (lw < prev) & (close > lw) if up[j] else (hi > prev) & (close < hi)
        else:
            rev = (((hh > prev) & (low_before < prev)).any() if up[j]
                   else ((ll < prev) & (high_before > prev)).any())
        out["ok"][j] = True
        out["reversal_ok"][j] = bool(rev)
        out["bar_prev_close"][j] = prev
        out["bar_high"][j], out["bar_low"][j], out["bar_close"][j] = hi, lw, close
        out["bar_high_vs_prev_pct"][j] = 100 * (hi / prev - 1)
        out["bar_low_vs_prev_pct"][j] = 100 * (lw / prev - 1)
        out["bar_close_vs_prev_pct"][j] = 100 * (close / prev - 1)
        out["low_time"][j] = local[a + int(np.nanargmin(ll))].strftime("%Y-%m-%d %H:%M")
        out["high_time"][j] = local[a + int(np.nanargmax(hh))].strftime("%Y-%m-%d %H:%M")
        out["step"][j] = _step_text(step)
    return out


def _judge(c: pd.DataFrame, tol: float) -> tuple[np.ndarray, ...]:
    """Measured value, accepted interval and the pass/fail of every claim (vectorised)."""
    up = (c["direction"] == "up").to_numpy()
    sign = np.where(up, 1.0, -1.0)
    mag = c["magnitude_pct"].to_numpy(dtype=float)
    s = sign * mag
    kind = c["kind"].to_numpy(dtype=object)
    bound = c["bound"].to_numpy(dtype=object)
    live = c["in_progress"].isin(["yes", "unknown"]).to_numpy()
    hi = c["high_vs_prev_pct"].to_numpy(dtype=float)
    lo = c["low_vs_prev_pct"].to_numpy(dtype=float)
    cl = c["close_vs_prev_pct"].to_numpy(dtype=float)
    measured = np.select([kind == "close_to_close", kind == "intraday_extreme"],
                         [cl, np.where(up, hi, lo)], np.nan)
    inf = np.inf
    a = np.full(len(c), np.nan)
    b = np.full(len(c), np.nan)
    exact = (bound == "exact") | ((bound == "extreme") & ~(live & (kind == "intraday_extreme")))
    open_ended = (bound == "at_least") | ((bound == "extreme") & live
                                          & (kind == "intraday_extreme"))
    a = np.where(exact, s - tol, a)
    b = np.where(exact, s + tol, b)
    a = np.where(open_ended, np.where(up, s - tol, -inf), a)
    b = np.where(open_ended, np.where(up, inf, s + tol), b)
    near_hi = mag + tol
    near_lo = 0.8 * mag - tol
    a = np.where(bound == "at_most", np.where(up, near_lo, -near_hi), a)
    b = np.where(bound == "at_most", np.where(up, near_hi, -near_lo), b)
    with np.errstate(invalid="ignore"):
        # _EPS absorbs float error at the interval's ends (100 * (204 / 200 - 1) < 2.0)
        in_interval = (measured >= a - _EPS) & (measured <= b + _EPS)
        by_sign = np.where(up, measured > 0, measured < 0)
        ok = np.where(bound == "direction", by_sign, in_interval)
        level_ok = np.where(np.isfinite(s), (lo - tol - _EPS <= s) & (s <= hi + tol + _EPS),
                            np.where(up, hi > 0, lo < 0))
        partial = (c["reversal"] == "partial").to_numpy()
        rev_full = (lo < 0) & (hi > 0)
        rev_partial = np.where(up, (lo < 0) & (cl > lo), (hi > 0) & (cl < hi))
        rev_ok = np.where(partial, rev_partial, rev_full)
    ok = np.select([kind == "intraday_level", kind == "intraday_reversal"], [level_ok, rev_ok], ok)
    level = kind == "intraday_level"
    a = np.where(level, np.where(np.isfinite(s), lo - tol, a), a)
    b = np.where(level, np.where(np.isfinite(s), hi + tol, b), b)
    with np.errstate(invalid="ignore"):
        diff = np.where(np.isfinite(measured) & np.isfinite(s), measured - s, np.nan)
    return measured, a, b, ok.astype(bool), diff


def _reason(row: dict[Any, Any], tol: float) -> str:
    if row["verdict"] == "unverifiable":
        return str(row["reason"])
    word = "within" if row["verdict"] == "supported" else "outside"
    hi, lo, cl = row["high_vs_prev_pct"], row["low_vs_prev_pct"], row["close_vs_prev_pct"]
    base = f"prev close {row['prev_close']:g} ({pd.Timestamp(row['prev_date']).date()})"
    if row["kind"] == "intraday_reversal":
        side = "below" if lo < 0 else "not below"
        other = "above" if hi > 0 else "not above"
        return (f"low {row['low']:g} {side} and high {row['high']:g} {other} {base}; "
                f"close {row['close']:g} ({cl:+.2f}%)")
    if row["kind"] == "intraday_level":
        return (f"session range {lo:+.2f}%..{hi:+.2f}% vs {base}; stated level {word} "
                f"the range ± {tol:g} pp")
    label = {"close_to_close": "close", "intraday_extreme": "high" if row["direction"] == "up"
             else "low"}[row["kind"]]
    value = row["close"] if label == "close" else row[label]
    text = _against_bound(f"{label} {value:g} vs {base} = {row['measured_pct']:+.2f}%",
                          row, word)
    if row["bound"] == "direction":
        return text
    if row["kind"] == "intraday_extreme" and row["in_progress"] in ("yes", "unknown") \
            and row["bound"] == "extreme":
        text += " (published before the close: the day's extreme may have grown later)"
    return text


def _bar_reason(row: dict[Any, Any], tol: float) -> str:
    """The reason of a verdict decided on bars (times are bar starts, exchange time)."""
    if row["verdict"] == "unverifiable":
        return str(row["reason"])
    word = "within" if row["verdict"] == "supported" else "outside"
    hi, lo = row["bar_high_vs_prev_pct"], row["bar_low_vs_prev_pct"]
    cl = row["bar_close_vs_prev_pct"]
    base = f"on {row['basis']}: prev close {row['bar_prev_close']:g}"
    lows = f"low {row['bar_low']:g} ({lo:+.2f}%) at {row['low_time']}"
    highs = f"high {row['bar_high']:g} ({hi:+.2f}%) at {row['high_time']}"
    if row["kind"] == "intraday_reversal":
        up = row["direction"] == "up"
        if row["reversal"] == "partial":
            what = "pared: close above the low" if up else "pared: close below the high"
        else:
            what = ("a high above the previous close after a low below it" if up
                    else "a low below the previous close after a high above it")
        found = "found" if row["verdict"] == "supported" else "not found"
        return f"{base}; {lows}, {highs}; close {cl:+.2f}%; {what}: {found}"
    if row["kind"] == "intraday_level":
        return (f"{base}; session range {lo:+.2f}%..{hi:+.2f}% ({lows}, {highs}); stated "
                f"level {word} the range ± {tol:g} pp")
    return _against_bound(f"{base}; {lows}, {highs}, close {cl:+.2f}%; measured "
                          f"{row['measured_pct']:+.2f}%", row, word)


def _against_bound(text: str, row: dict[Any, Any], word: str) -> str:
    """``text`` followed by how the measured move stands against the claim's bound."""
    if row["bound"] == "direction":
        return text + (": the stated direction" if row["verdict"] == "supported"
                       else ": not the stated direction")
    a, b = row["accepted_from_pct"], row["accepted_to_pct"]
    if np.isinf(b):
        side = "at or above" if word == "within" else "below"
        return text + f", {side} the accepted minimum {a:+.2f}%"
    if np.isinf(a):
        side = "at or below" if word == "within" else "above"
        return text + f", {side} the accepted maximum {b:+.2f}%"
    return text + f", {word} the accepted {a:+.2f}%..{b:+.2f}%"


def verify_claims(claims: pd.DataFrame, prices: PriceSource, *,
                  tolerance: float = DEFAULT_TOLERANCE,
                  bars: Mapping[str, pd.DataFrame] | None = None) -> Verification:
    """Compare claims with daily prices (and intraday bars where given).

    Parameters
    ----------
    claims : pandas.DataFrame
        Validated claims (:func:`read_claims` or :func:`validate_claims`).
    prices : PriceSource
        Where to get OHLC prices (``CsvSource``, ``YahooSource`` ...).
    tolerance : float, default 0.5
        Percentage points a measured change may differ from the stated one.
    bars : mapping of str to pandas.DataFrame, optional
        Adjusted intraday bars by ticker (tz-aware bar starts; ``open, high, low,
        close``). A claim with bars on its session(s) and the session before is
        judged on them (see the module notes).

    Returns
    -------
    Verification
    """
    if not np.isfinite(tolerance) or tolerance < 0:
        raise InputError(f"--tolerance must be a non-negative number, not {tolerance}")
    c = claims.reset_index(drop=True)
    n = len(c)
    measures = ("prev_close", "open", "high", "low", "close", "high_vs_prev_pct",
                "low_vs_prev_pct", "close_vs_prev_pct", "adjustment")
    arrays: dict[str, np.ndarray] = {name: np.full(n, np.nan) for name in measures}
    arrays["prev_date"] = np.full(n, np.datetime64("NaT", "ns"))
    arrays["sessions"] = np.zeros(n, dtype=np.int64)
    reason = np.full(n, "", dtype=object)
    usable = np.zeros(n, dtype=bool)
    failures: dict[str, str] = {}
    ticker_arr = c["ticker"].to_numpy(dtype=object)
    tickers = [t for t in dict.fromkeys(ticker_arr) if t]
    if tickers:
        start = c["date_start"].min() - pd.Timedelta(days=40)
        got = prices.fetch(tickers, start, c["date_end"].max())
        failures = dict(got.failures)
        single_all = (c["date_start"] == c["date_end"]).to_numpy()
        intraday_all = c["kind"].isin(
            ["intraday_extreme", "intraday_level", "intraday_reversal"]).to_numpy()
        order = np.argsort(ticker_arr.astype(str), kind="stable")
        sorted_t = ticker_arr[order].astype(str)
        bounds = np.searchsorted(sorted_t, tickers, side="left"), np.searchsorted(
            sorted_t, tickers, side="right")
        for ticker, lo, hi in zip(tickers, *bounds, strict=True):
            rows = order[lo:hi]
            if ticker not in got.frames:
                reason[rows] = f"no prices: {failures.get(ticker, 'not found')}"
                continue
            frame, _ = clean_prices(got.frames[ticker], ticker)
            m = _measure(c.iloc[rows], frame)
            for name in (*measures, "prev_date", "sessions"):
                arrays[name][rows] = m[name]
            no_hl = ~(np.isfinite(m["high"]) & np.isfinite(m["low"]))
            why = np.select(
                [~m["has_rows"], single_all[rows] & ~m["day_found"], ~m["has_prev"],
                 intraday_all[rows] & no_hl],
                [f"no {ticker} bar on the claimed date(s) (no trading, or a filler row)",
                 f"no {ticker} bar on the claimed date (no trading, or a filler row)",
                 f"no {ticker} close before the claimed date",
                 "the price data have no high/low, needed for an intraday claim"], "")
            reason[rows] = why
            usable[rows] = why == ""
    bar_m: dict[str, np.ndarray] = {k: np.full(n, np.nan) for k in _BAR_MEASURES}
    for name in ("low_time", "high_time", "step"):
        bar_m[name] = np.full(n, "", dtype=object)
    on_bars = np.zeros(n, dtype=bool)
    bar_rev = np.zeros(n, dtype=bool)
    for ticker, frame in (bars or {}).items():
        rows = np.flatnonzero(ticker_arr == ticker)
        if not len(rows) or frame is None or not len(frame):
            continue
        m = _bar_measures(c.iloc[rows], frame, exchange_for_ticker(ticker) or "XNYS")
        for name in bar_m:
            bar_m[name][rows] = m[name]
        on_bars[rows] = m["ok"]
        bar_rev[rows] = m["reversal_ok"]
        if m["ok"].all():
            failures.pop(ticker, None)
    reason[on_bars] = ""
    usable |= on_bars
    no_ticker = ticker_arr == ""
    status = c["status"].to_numpy(dtype=object) if "status" in c else np.full(n, "", object)
    reason[no_ticker & (status == "unlisted")] = "no ticker: the company is not listed"
    reason[no_ticker & (status != "unlisted")] = "no ticker: the company is not in the gazetteer"
    out = c.copy()
    for name, values in arrays.items():
        out[name] = values
    judged = out.copy()
    for name in ("high_vs_prev_pct", "low_vs_prev_pct", "close_vs_prev_pct"):
        judged[name] = np.where(on_bars, bar_m[f"bar_{name}"], out[name])
    measured, a, b, ok, diff = _judge(judged, tolerance)
    reversal = (c["kind"] == "intraday_reversal").to_numpy()
    ok = np.where(on_bars & reversal, bar_rev, ok)
    out["measured_pct"] = np.where(usable, measured, np.nan)
    out["accepted_from_pct"] = np.where(usable, a, np.nan)
    out["accepted_to_pct"] = np.where(usable, b, np.nan)
    out["difference_pp"] = np.where(usable, diff, np.nan)
    out["tolerance_pp"] = tolerance
    out["verdict"] = np.where(~usable, "unverifiable", np.where(ok, "supported", "contradicted"))
    out["reason"] = reason
    out["price_source"] = getattr(prices, "name", "")
    out["basis"] = np.where(on_bars, "bars " + bar_m["step"].astype(str), "daily")
    for name in _BAR_MEASURES:
        out[name] = bar_m[name]
    out["low_time"], out["high_time"] = bar_m["low_time"], bar_m["high_time"]
    out["reason"] = [_bar_reason(rec, tolerance) if rec["basis"] != "daily"
                     else _reason(rec, tolerance) for rec in out.to_dict("records")]
    return Verification(out.loc[:, list(VERDICT_COLUMNS)].copy(), tolerance, failures)


def verdict_table(v: Verification, columns: Sequence[str] = ("claim_id", "ticker", "date_start",
                                                               "kind", "verdict")) -> pd.DataFrame:
    """Return a compact view of the verdicts."""
    return v.verdicts.loc[:, list(columns)]
