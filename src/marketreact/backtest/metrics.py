"""Performance statistics of a daily return series and of a set of trades.

Every formula is written out here and in ``docs/backtest.md``; ``r_t`` is the
strategy's net return on session ``t`` (``t = 1..T``), ``P`` the number of
sessions per year (252 by default) and the risk-free rate is taken as zero.

* equity ``E_t = prod_{s<=t} (1 + r_s)``, ``E_0 = 1``; total return ``E_T - 1``;
* annualised return ``E_T ** (P / T) - 1``;
* volatility ``sd(r) * sqrt(P)`` with the sample standard deviation (``ddof=1``);
* Sharpe ``mean(r) / sd(r) * sqrt(P)``;
* Sortino ``mean(r) / DD * sqrt(P)`` with the downside deviation
  ``DD = sqrt(mean(min(r_t, 0) ** 2))`` over all ``T`` sessions (target 0);
* drawdown ``D_t = E_t / max_{s<=t} E_s - 1``; maximum drawdown ``min_t D_t``;
  its duration counts the sessions from the peak before the trough to the first
  session back at that peak (or to the last session when it never recovers);
* t of the mean trade return ``mean(x) / (sd(x) / sqrt(n))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from marketreact._typing import FloatArray


@dataclass(frozen=True)
class DrawdownStats:
    """The deepest drawdown of an equity curve.

    Attributes
    ----------
    max_drawdown : float
        The most negative ``E_t / max_{s<=t} E_s - 1`` (0 when equity never falls).
    peak, trough : int
        Positions of the peak before the deepest point and of the deepest point.
    recovery : int or None
        First position after the trough at or above the peak, None if never.
    duration : int
        Sessions from ``peak`` to ``recovery`` (to the last session if none).
    longest : int
        Sessions of the longest spell below a previous peak (any depth).
    """

    max_drawdown: float
    peak: int
    trough: int
    recovery: int | None
    duration: int
    longest: int


def drawdown(equity: FloatArray) -> FloatArray:
    """Return ``E_t / running max(E) - 1`` for an equity curve."""
    equity = np.asarray(equity, dtype=float)
    if equity.size == 0:
        return equity.copy()
    return equity / np.maximum.accumulate(equity) - 1.0


def drawdown_stats(equity: FloatArray) -> DrawdownStats:
    """Maximum drawdown, where it happened and how long it lasted.

    Parameters
    ----------
    equity : numpy.ndarray
        ``(T,)`` equity curve (positive values).

    Returns
    -------
    DrawdownStats
    """
    equity = np.asarray(equity, dtype=float)
    n = equity.size
    if n == 0:
        return DrawdownStats(0.0, 0, 0, None, 0, 0)
    dd = drawdown(equity)
    trough = int(np.argmin(dd))
    depth = float(dd[trough])
    if depth >= 0:
        return DrawdownStats(0.0, 0, 0, None, 0, 0)
    peak = int(np.argmax(equity[: trough + 1]))
    after = np.flatnonzero(equity[trough:] >= equity[peak])
    recovery = int(trough + after[0]) if after.size else None
    duration = (recovery if recovery is not None else n - 1) - peak
    # Longest underwater spell: runs of dd < 0 measured from the session before them.
    under = dd < 0
    longest = 0
    if under.any():
        edges = np.diff(np.concatenate(([0], under.astype(np.int8), [0])))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        # A spell [s, e) starts at the peak s-1 and recovers at e (or runs to the end).
        lengths = np.where(ends < n, ends, n - 1) - (starts - 1)
        longest = int(lengths.max())
    return DrawdownStats(depth, peak, trough, recovery, int(duration), longest)


def annualised_return(total: float, sessions: int, per_year: int = 252) -> float:
    """Geometric annualisation ``(1 + total) ** (per_year / sessions) - 1``."""
    if sessions <= 0 or not math.isfinite(total) or total <= -1:
        return math.nan
    return float((1.0 + total) ** (per_year / sessions) - 1.0)


def volatility(returns: FloatArray, per_year: int = 252) -> float:
    """Annualised volatility ``sd(r, ddof=1) * sqrt(per_year)``."""
    r = np.asarray(returns, dtype=float)
    if r.size < 2:
        return math.nan
    return float(np.std(r, ddof=1) * math.sqrt(per_year))


def sharpe_ratio(returns: FloatArray, per_year: int = 252) -> float:
    """Annualised Sharpe ratio ``mean(r) / sd(r, ddof=1) * sqrt(per_year)`` (zero risk-free)."""
    r = np.asarray(returns, dtype=float)
    if r.size < 2:
        return math.nan
    sd = float(np.std(r, ddof=1))
    return float(np.mean(r) / sd * math.sqrt(per_year)) if sd > 0 else math.nan


def sortino_ratio(returns: FloatArray, per_year: int = 252) -> float:
    """Annualised Sortino ratio ``mean(r) / sqrt(mean(min(r, 0)**2)) * sqrt(per_year)``."""
    r = np.asarray(returns, dtype=float)
    if r.size < 1:
        return math.nan
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    return float(np.mean(r) / downside * math.sqrt(per_year)) if downside > 0 else math.nan


def mean_t(values: FloatArray) -> tuple[float, float]:
    """Mean of ``values`` and its t statistic ``mean / (sd(ddof=1) / sqrt(n))``."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan
    mean = float(np.mean(x))
    if x.size < 2:
        return mean, math.nan
    sd = float(np.std(x, ddof=1))
    return mean, (mean / (sd / math.sqrt(x.size)) if sd > 0 else math.nan)


def series_stats(returns: FloatArray, per_year: int = 252) -> dict[str, float]:
    """Total and annualised return, volatility, Sharpe, Sortino and drawdown of a series.

    Parameters
    ----------
    returns : numpy.ndarray
        ``(T,)`` per-session returns (the start row with no return excluded).
    per_year : int, default 252
        Sessions per year.

    Returns
    -------
    dict of str to float
        ``total_return, annualised_return, volatility, sharpe, sortino,
        max_drawdown, max_drawdown_duration, longest_drawdown``.
    """
    r = np.asarray(returns, dtype=float)
    equity = np.concatenate(([1.0], np.cumprod(1.0 + r)))
    total = float(equity[-1] - 1.0)
    dd = drawdown_stats(equity)
    return {
        "total_return": total,
        "annualised_return": annualised_return(total, r.size, per_year),
        "volatility": volatility(r, per_year),
        "sharpe": sharpe_ratio(r, per_year),
        "sortino": sortino_ratio(r, per_year),
        "max_drawdown": dd.max_drawdown,
        "max_drawdown_duration": float(dd.duration),
        "longest_drawdown": float(dd.longest),
    }
