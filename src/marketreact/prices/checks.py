"""Checks of price series: suspect jumps, missing runs and gaps.

These checks never change a number. They report what looks wrong so that the
study can fail the events it would spoil (:class:`~marketreact.prices.frames.PriceSuspect`)
or record a note (:class:`~marketreact.errors.InputProblem`).

Rules
-----
* A **suspect jump** is a move between two consecutive priced rows by a factor
  of at least :data:`JUMP_FACTOR` (up or down) that either

  - reverts within :data:`REVERT_ROWS` rows (back within 25% of the level
    before): a bad print, e.g. one row at ten times the price; or
  - stays, with a ratio within :data:`SPLIT_TOLERANCE` of a split ratio
    (2:1, 3:1, 3:2, 1:5, 10:1, ...): a split the prices were not adjusted for.

  A large move that is neither (a real crash or rally, such as Apple's −52% on
  2000-09-29) is not suspect.
* A **missing run** is :data:`NAN_RUN` or more consecutive rows without a price.
* A **gap** is more than :data:`GAP_DAYS` calendar days between two rows.

Imports: the ground floor and :mod:`marketreact.prices.frames` only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum

import numpy as np
import pandas as pd

from marketreact.errors import InputProblem
from marketreact.prices.frames import PriceSuspect, price_column


class SuspectPolicy(str, Enum):
    """What a suspect price inside an event's windows does to the event."""

    fail = "fail"  # the event fails with the reason (default)
    keep = "keep"  # the event is studied on the prices as given; a note says so


#: Smallest factor between consecutive prices that is checked at all.
JUMP_FACTOR = 1.8
#: Ratios of common splits and reverse splits (new shares per old share).
SPLIT_RATIOS = (1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0,
                30.0, 40.0, 50.0, 100.0)
#: Relative distance from a split ratio still taken for a split.
SPLIT_TOLERANCE = 0.03
#: A reverting jump comes back within this factor of the level before it ...
REVERT_TOLERANCE = 1.25
#: ... within this many rows.
REVERT_ROWS = 3
#: Consecutive rows without a price that make a note.
NAN_RUN = 5
#: Calendar days between rows that make a note.
GAP_DAYS = 14


def _where(lines: pd.Series | None, date: pd.Timestamp) -> int | None:
    if lines is None:
        return None
    value = lines.get(date)
    return None if value is None or pd.isna(value) else int(value)


def _split_ratio(factor: float) -> float | None:
    ratios = np.asarray(SPLIT_RATIOS)
    close = np.abs(np.log(factor / ratios)) <= np.log1p(SPLIT_TOLERANCE)
    return float(ratios[close][0]) if close.any() else None


def find_suspects(frame: pd.DataFrame, source: str, *, field: str = "adj_close",
                  lines: pd.Series | None = None) -> tuple[PriceSuspect, ...]:
    """Find suspect jumps (bad prints, unadjusted splits) in a standard price frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        A standard price frame, sorted by date.
    source : str
        Where the prices come from (a file name, or ``"prices of X"``).
    field : str, default "adj_close"
        Name of the price column in the source, for messages.
    lines : pandas.Series, optional
        Source line of each row, indexed by date.

    Returns
    -------
    tuple of PriceSuspect
        One per suspect jump, in date order.
    """
    price = price_column(frame)
    ok = ((price > 0) & np.isfinite(price)).to_numpy()
    return suspect_jumps(price.to_numpy(dtype=float)[ok], price.index[ok], source, field=field,
                         lines=lines)


def suspect_jumps(values: np.ndarray, dates: pd.DatetimeIndex | np.ndarray, source: str, *,
                  field: str = "adj_close", lines: pd.Series | None = None
                  ) -> tuple[PriceSuspect, ...]:
    """:func:`find_suspects` on the positive, finite prices ``values`` of ``dates``, in order.

    Parameters
    ----------
    values : numpy.ndarray
        ``(R,)`` the prices of consecutive rows (positive and finite).
    dates : pandas.DatetimeIndex or numpy.ndarray
        ``(R,)`` their dates.
    source, field, lines
        As for :func:`find_suspects`.

    Returns
    -------
    tuple of PriceSuspect
    """
    if len(values) < 2:
        return ()
    ratio = values[1:] / values[:-1]
    factor = np.maximum(ratio, 1.0 / ratio)
    big = np.flatnonzero(factor >= JUMP_FACTOR)
    out: list[PriceSuspect] = []
    skip: set[int] = set()
    for j in big:
        if j in skip:
            continue
        i = j + 1  # row of the jump
        before, after = values[j], values[i]
        ahead = values[i + 1:i + 1 + REVERT_ROWS]
        back = np.flatnonzero(np.abs(np.log(ahead / before)) <= np.log(REVERT_TOLERANCE))
        date = pd.Timestamp(dates[i])
        shown = f"{after:g}"
        if len(back):
            k = i + 1 + int(back[0])  # row where the price is back
            nxt = pd.Timestamp(dates[k])
            skip.update(range(j + 1, k))
            rows = "the row" if k == i + 1 else f"the {k - i} rows"
            message = (f"price jumps from {before:g} to {after:g} on {date.date()} and is back "
                       f"at {values[k]:g} on {nxt.date()}: a bad print? (fix or delete {rows})")
            out.append(PriceSuspect(date, nxt, InputProblem(source, _where(lines, date), field,
                                                            shown, message)))
            continue
        split = _split_ratio(float(factor[j]))
        if split is None:
            continue
        up = bool(after > before)
        message = (f"price {'rises' if up else 'falls'} from {before:g} to {after:g} on "
                   f"{date.date()} (a factor of about {split:g}): looks like a split the "
                   "prices are not adjusted for (use split-adjusted prices)")
        out.append(PriceSuspect(date, date, InputProblem(source, _where(lines, date), field,
                                                         shown, message)))
    return tuple(out)


def describe_gaps(frame: pd.DataFrame, source: str, *, field: str = "adj_close",
                  lines: pd.Series | None = None) -> list[InputProblem]:
    """Describe runs of rows without a price and long gaps between rows.

    Parameters
    ----------
    frame : pandas.DataFrame
        A standard price frame, sorted by date.
    source : str
        Where the prices come from.
    field : str, default "adj_close"
        Name of the price column in the source, for messages.
    lines : pandas.Series, optional
        Source line of each row, indexed by date.

    Returns
    -------
    list of InputProblem
        Notes (not errors): the sessions concerned become missing prices.
    """
    notes: list[InputProblem] = []
    if frame.empty:
        return notes
    missing = ~(np.isfinite(price_column(frame).to_numpy(dtype=float)))
    if missing.any():
        edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
        starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
            if b - a < NAN_RUN:
                continue
            d0, d1 = pd.Timestamp(frame.index[a]), pd.Timestamp(frame.index[b - 1])
            notes.append(InputProblem(
                source, _where(lines, d0), field, None,
                f"no price on {b - a} consecutive rows ({d0.date()} to {d1.date()}); "
                "those sessions are missing"))
    dates = frame.index
    if len(dates) > 1:
        step = np.diff(dates.to_numpy()).astype("timedelta64[D]").astype(np.int64)
        for k in np.flatnonzero(step > GAP_DAYS).tolist():
            d0, d1 = pd.Timestamp(dates[k]), pd.Timestamp(dates[k + 1])
            notes.append(InputProblem(
                source, _where(lines, d1), "date", str(d1.date()),
                f"no rows for {int(step[k])} days after {d0.date()}; the sessions between are "
                "missing"))
    return notes


def suspect_reasons(labels: pd.DatetimeIndex, day0: np.ndarray,
                    tickers: Sequence[np.ndarray | Sequence[str]],
                    suspects: Mapping[str, Sequence[PriceSuspect]], lo: int,
                    hi: int) -> np.ndarray:
    """Reasons to fail events whose windows contain a suspect price.

    Parameters
    ----------
    labels : pandas.DatetimeIndex
        Session dates of the exchange (length ``T``).
    day0 : numpy.ndarray
        ``(E,)`` day-0 positions on ``labels``.
    tickers : sequence of sequence of str
        Per series to check (e.g. stocks, then markets), ``(E,)`` tickers
        (empty string: none).
    suspects : mapping of str to sequence of PriceSuspect
        Suspect prices by ticker.
    lo, hi : int
        Relative days that the event uses (estimation start, event-window end).

    Returns
    -------
    numpy.ndarray
        ``(E,)`` object array: the reason, or ``""`` for events not concerned.
    """
    reasons = np.full(len(day0), "", dtype=object)
    if not suspects or not len(labels):
        return reasons
    free = np.ones(len(day0), dtype=bool)  # events without a reason yet
    first = day0 + lo
    last = day0 + hi
    label_ns = labels.as_unit("ns").asi8
    for names in tickers:
        # each distinct ticker once (in order of first appearance), its events by position
        codes, uniques = pd.factorize(np.asarray(names, dtype=object))
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
        for code, ticker in enumerate(uniques):
            found = suspects.get(ticker, ()) if ticker else ()
            if not found:
                continue
            rows = order[bounds[code]:bounds[code + 1]]
            rows = rows[free[rows]]
            for suspect in found:
                a = np.searchsorted(label_ns, pd.Timestamp(suspect.first).as_unit("ns").value)
                b = np.searchsorted(label_ns, pd.Timestamp(suspect.last).as_unit("ns").value)
                hit = rows[(first[rows] <= b) & (last[rows] >= a) & free[rows]]
                reasons[hit] = f"prices: {suspect.problem}"
                free[hit] = False
    return reasons
