"""Daily factor returns lined up on an exchange's sessions (:class:`FactorPanel`).

The factor files are read by :func:`marketreact.prices.factors.read_factors`
(decimal units, normalised names); this module only lines their dates up.

Alignment (:func:`align_factors`)
---------------------------------
Factor dates need not be the sessions of the exchange studied. The factor
return of a session is the sum of the factor returns dated after the
previous session and up to the session itself (a Monday session collects
nothing from a weekend, but an IDX session after a US holiday collects
nothing either). A session with no factor date in that interval, or outside
the file's coverage, has a **missing** factor return, so a return there
is left out (never set to zero). Like the market, factors are summed over
the sessions a spanning return covers.

The Fama-French factors are US factors: for a non-US stock they describe the
US market of the same calendar date, which trades after an Asian close.

Imports: the ground floor and :mod:`marketreact.calendar`; pure computation, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketreact._typing import FloatArray, IntArray
from marketreact.calendar import TradingSessions
from marketreact.errors import InputError


@dataclass(frozen=True)
class FactorPanel:
    """Factor returns on an exchange's sessions, with running sums for spans.

    Attributes
    ----------
    names : tuple of str
        Factor names (row labels).
    values : numpy.ndarray
        ``(F, T)`` factor return of each session (NaN where missing).
    cum : numpy.ndarray
        ``(F, T + 1)`` running sums (missing values count 0).
    cum_missing : numpy.ndarray
        ``(F, T + 1)`` running count of sessions with a missing value.
    """

    names: tuple[str, ...]
    values: FloatArray
    cum: FloatArray
    cum_missing: IntArray

    def span_sum(self, name: str, pos: IntArray, span: IntArray) -> FloatArray:
        """Sum of factor ``name`` over the ``span`` sessions ending at ``pos``.

        Positions outside ``[0, T)`` give NaN, as do spans with a missing value.
        """
        row = self.names.index(name)
        n = self.values.shape[1]
        hi = pos + 1
        lo = hi - span
        ok = (lo >= 0) & (hi <= n)
        hi_c, lo_c = np.clip(hi, 0, n), np.clip(lo, 0, n)
        total = self.cum[row, hi_c] - self.cum[row, lo_c]
        gaps = self.cum_missing[row, hi_c] - self.cum_missing[row, lo_c]
        return np.where(ok & (gaps == 0), total, np.nan)


def align_factors(factors: pd.DataFrame, sessions: TradingSessions,
                  names: Sequence[str] | None = None) -> FactorPanel:
    """Put daily factor returns on the sessions of an exchange.

    Parameters
    ----------
    factors : pandas.DataFrame
        From :func:`read_factors` (decimal units, indexed by date).
    sessions : TradingSessions
        The session axis.
    names : sequence of str, optional
        Factors to keep (default: all columns).

    Returns
    -------
    FactorPanel
        The factor return of session ``t`` sums the factor dates in
        ``(label[t-1], label[t]]`` (the first session takes its own date only);
        sessions with no such date, or outside the file's coverage, are NaN.

    Raises
    ------
    InputError
        When a requested factor is not in ``factors``.
    """
    names = tuple(names) if names is not None else tuple(factors.columns)
    absent = [n for n in names if n not in factors.columns]
    if absent:
        raise InputError(f"factor file(s) lack {', '.join(absent)} (have "
                         f"{', '.join(factors.columns) or 'nothing'})")
    labels = sessions.labels.as_unit("ns").asi8
    frame = factors.loc[:, list(names)].sort_index()
    dates = pd.DatetimeIndex(frame.index).as_unit("ns").asi8
    T = len(labels)
    # session index that each factor date belongs to: first label >= date
    slot = np.searchsorted(labels, dates, side="left")
    if T:
        prev = np.concatenate(([labels[0] - 1], labels[:-1]))
        inside = (slot < T)
        inside[inside] &= dates[inside] > prev[slot[inside]]
    else:
        inside = np.zeros(len(dates), dtype=bool)
    values = np.full((len(names), T), np.nan)
    counts = np.bincount(slot[inside], minlength=T) if T else np.zeros(0, dtype=np.int64)
    data = frame.to_numpy(dtype=float)
    for i in range(len(names)):
        col = data[inside, i]
        sums = np.bincount(slot[inside], weights=np.nan_to_num(col), minlength=T)
        nan_in = np.bincount(slot[inside], weights=np.isnan(col).astype(float), minlength=T)
        values[i] = np.where((counts > 0) & (nan_in == 0), sums, np.nan)
    if len(dates) and T:
        covered = (labels >= dates.min()) & (labels <= dates.max())
        values[:, ~covered] = np.nan
    missing = ~np.isfinite(values)
    cum = np.zeros((len(names), T + 1))
    cum[:, 1:] = np.cumsum(np.where(missing, 0.0, values), axis=1)
    cum_missing = np.zeros((len(names), T + 1), dtype=np.int64)
    cum_missing[:, 1:] = np.cumsum(missing, axis=1)
    return FactorPanel(names, values, cum, cum_missing)


#: Factor names as used in regressor names (see :mod:`marketreact.factors`).
FACTOR_NAMES = ("mkt_rf", "smb", "hml", "rmw", "cma", "mom", "rf")
