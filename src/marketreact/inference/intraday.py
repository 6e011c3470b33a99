"""The Rinaudo-Saha (2014) nonparametric intraday test: event bars against the same time of day.

Rinaudo & Saha (2014, "An intraday event study methodology for determining loss
causation", Journal of Financial Perspectives 2(2), 161-172) judge an intraday
abnormal return by where it falls in the empirical distribution of the abnormal
returns of the *same time of day* on the estimation days: the event-day CAR from
the news bar on is significant when it lies beyond the p-th percentile of the
estimation days' CARs accumulated from the same clock time over the same number
of bars. No distribution is assumed; intraday seasonality (the U-shaped variance)
is respected because every bar is compared only with bars of its own slot.

Construction used here
----------------------
For event ``i`` and a relative bar ``t`` (or a CAR window ``w``) let ``x_i`` be the
event's AR (or CAR) and ``r_i1 .. r_iD`` the same quantity on each of the ``D_i``
estimation sessions that have every bar needed, taken at the same time-of-day
slots (a window that crosses a close takes, on each estimation session, the slots
of the bars it covers). With ``n_i = D_i + 1`` values,

* ``R_i = 1 + #{d: r_id < x_i} + ½ #{d: r_id = x_i}`` is the (mid-)rank of the
  event value among the ``n_i`` values; under the null that the event session is
  exchangeable with the estimation sessions at that time of day, ``R_i`` is
  uniform on ``1..n_i``;
* per event (the paper's own decision): lower-tail ``p = R_i / n_i``, upper-tail
  ``(n_i - R_i + 1) / n_i``, two-sided twice the smaller, capped at 1 (exact);
* across events the centred ranks ``U_i = R_i / n_i - (n_i + 1) / (2 n_i)`` (mean
  0, variance ``(n_i² - 1) / (12 n_i²)``) are summed:
  ``Z = Σ U_i / √(Σ (n_i² - 1) / (12 n_i²))``. With at most
  :data:`EXACT_EVENTS` events the p-value is exact (the null distribution of
  ``Σ R_i``, a convolution of discrete uniforms, is computed); beyond, ``Z`` is
  referred to N(0, 1). Events are assumed independent (as in Corrado 1989).

Ties (e.g. minutes without trades) get mid-ranks and the untied variance, which
makes the test conservative. Scaling a slot's residuals (time-of-day
standardisation) leaves every rank unchanged. The estimation values are the
model's in-sample residuals, as in the Corrado (1989) rank test.

Floor: ``inference`` (imports the ground floor and ``inference.base`` only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from marketreact._typing import FloatArray, IntArray
from marketreact.inference.base import Alternative, TestResult, _reasons

#: Most events for which the cross-event p-value is computed exactly.
EXACT_EVENTS = 30
TITLE = "Rinaudo-Saha intraday rank (same time of day)"


@dataclass(frozen=True)
class TimeOfDayRanks:
    """Ranks of event values among the same time-of-day estimation values.

    Attributes
    ----------
    rank : numpy.ndarray
        ``(N, L)`` mid-rank ``R`` of each event value among its ``n`` values (NaN
        where the event value is missing or no estimation session is usable).
    n : numpy.ndarray
        ``(N, L)`` values ranked (estimation sessions + 1; 0 where not ranked).
    """

    rank: FloatArray
    n: IntArray

    def event_p(self, alternative: Alternative | str = "two-sided") -> FloatArray:
        """Per-event exact p-value of the event value's rank (the paper's decision)."""
        alt = Alternative(alternative)
        with np.errstate(invalid="ignore", divide="ignore"):
            nn = np.where(self.n > 0, self.n, np.nan)
            lower = self.rank / nn
            upper = (nn - self.rank + 1.0) / nn
        if alt is Alternative.less:
            return lower
        if alt is Alternative.greater:
            return upper
        return np.minimum(1.0, 2.0 * np.minimum(lower, upper))


def time_of_day_ranks(x: FloatArray, ref: FloatArray) -> TimeOfDayRanks:
    """Mid-rank of each ``x[i, t]`` among itself and the finite ``ref[i, :, t]``.

    Parameters
    ----------
    x : numpy.ndarray
        ``(..., N, L)`` event values (ARs of relative bars, or CARs of windows);
        leading axes are independent batches.
    ref : numpy.ndarray
        ``(..., N, D, L)`` the same quantity on each estimation session, same slots
        (NaN: that session lacks a bar).

    Returns
    -------
    TimeOfDayRanks
    """
    x = np.asarray(x, float)
    ref = np.asarray(ref, float)
    ok = np.isfinite(ref)
    xi = x[..., None, :]
    below = (ok & (ref < xi)).sum(axis=-2)
    ties = (ok & (ref == xi)).sum(axis=-2)
    d = ok.sum(axis=-2)
    has = np.isfinite(x) & (d > 0)
    rank = np.where(has, 1.0 + below + 0.5 * ties, np.nan)
    return TimeOfDayRanks(rank, np.where(has, d + 1, 0).astype(np.int64))


def window_reference(ar: FloatArray, ref: FloatArray, windows: Sequence[slice]
                     ) -> tuple[FloatArray, FloatArray]:
    """Event CARs and their same-slot estimation CARs for each window.

    A window's CAR sums the event's finite ARs in it; each estimation session's
    CAR sums the same slots and counts only when the session has all of them.

    Returns
    -------
    car : numpy.ndarray
        ``(..., N, W)``.
    ref_car : numpy.ndarray
        ``(..., N, D, W)``.
    """
    car = np.full((*ar.shape[:-1], len(windows)), np.nan)
    rcar = np.full((*ref.shape[:-1], len(windows)), np.nan)
    for j, cols in enumerate(windows):  # a handful of windows
        a = ar[..., cols]
        m = np.isfinite(a)
        r = ref[..., cols]
        any_m = np.asarray(m.any(axis=-1))
        car[..., j] = np.where(any_m, np.where(m, a, 0.0).sum(axis=-1), np.nan)
        full = (np.isfinite(r) | ~m[..., None, :]).all(axis=-1)
        s = np.where(m[..., None, :], np.nan_to_num(r), 0.0).sum(axis=-1)
        rcar[..., j] = np.where(full & any_m[..., None], s, np.nan)
    return car, rcar


def _exact_sum_tails(n_values: IntArray, s2_obs: float) -> tuple[float, float]:
    """P(2ΣR >= 2ΣR_obs) and P(2ΣR <= 2ΣR_obs) for independent uniform ranks on 1..n_i."""
    pmf = np.ones(1)
    for k in n_values:  # at most EXACT_EVENTS events
        pmf = np.convolve(pmf, np.full(int(k), 1.0 / int(k)))
    # support of ΣR starts at N (each rank >= 1); work on the doubled scale for mid-ranks
    support2 = 2.0 * (len(n_values) + np.arange(len(pmf)))
    upper = float(pmf[support2 >= s2_obs - 1e-9].sum())
    lower = float(pmf[support2 <= s2_obs + 1e-9].sum())
    return min(upper, 1.0), min(lower, 1.0)


def rinaudo_saha(ar: FloatArray, ref: FloatArray, windows: Sequence[slice] = (),
                 alternative: Alternative | str = "two-sided"
                 ) -> tuple[TestResult, TestResult]:
    """The Rinaudo-Saha (2014) time-of-day rank test of each relative bar and CAR window.

    Parameters
    ----------
    ar : numpy.ndarray
        ``(..., N, L2)`` event-window abnormal returns (leading axes: independent
        batches, e.g. simulated samples).
    ref : numpy.ndarray
        ``(..., N, D, L2)`` the estimation residuals of the same time-of-day slot on each
        of the ``D`` estimation sessions (NaN where a session lacks the bar).
    windows : sequence of slice
        Columns of ``ar`` making up each CAR window.
    alternative : {'two-sided', 'greater', 'less'}
        Alternative of the p-values.

    Returns
    -------
    day, window : TestResult
        Statistic ``Z`` (see the module notes) and p-value of each relative bar
        and of each window; ``extra['mean_pct']`` is the mean per-event
        percentile ``(R_i - ½) / n_i``.

    Examples
    --------
    >>> import numpy as np
    >>> ar = np.array([[0.03]]); ref = np.array([[[0.01], [-0.02], [0.0]]])
    >>> day, _ = rinaudo_saha(ar, ref, alternative="greater")
    >>> float(day.pvalue[0])  # the event value is the largest of 4
    0.25
    """
    alt = Alternative(alternative)
    ar = np.asarray(ar, float)
    ref = np.asarray(ref, float)
    day = _statistic(time_of_day_ranks(ar, ref), alt, "bar")
    if windows:
        car, rcar = window_reference(ar, ref, windows)
        win = _statistic(time_of_day_ranks(car, rcar), alt, "window")
    else:
        shape = (*ar.shape[:-1], 0)
        win = _statistic(TimeOfDayRanks(np.empty(shape), np.empty(shape, np.int64)), alt, "")
    return day, win


def _statistic(r: TimeOfDayRanks, alt: Alternative, what: str) -> TestResult:
    has = r.n > 0
    nf = np.where(has, r.n, 1).astype(float)
    u = np.where(has, r.rank / nf - (nf + 1.0) / (2.0 * nf), 0.0)
    v = np.where(has, (nf**2 - 1.0) / (12.0 * nf**2), 0.0)
    count = has.sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = u.sum(axis=-2) / np.sqrt(v.sum(axis=-2))
        mean_pct = np.where(has, (r.rank - 0.5) / nf, 0.0).sum(axis=-2) / count
    upper = np.asarray(stats.norm.sf(z), float)
    lower = np.asarray(stats.norm.cdf(z), float)
    small = (count > 0) & (count <= EXACT_EVENTS)
    for j in zip(*np.nonzero(small), strict=True):  # statistics of few events: exact tails
        rows = has[(*j[:-1], slice(None), j[-1])]
        n_j = r.n[(*j[:-1], slice(None), j[-1])][rows]
        r_j = r.rank[(*j[:-1], slice(None), j[-1])][rows]
        upper[j], lower[j] = _exact_sum_tails(n_j, 2.0 * r_j.sum())
    if alt is Alternative.greater:
        p = upper
    elif alt is Alternative.less:
        p = lower
    else:
        p = np.minimum(1.0, 2.0 * np.minimum(upper, lower))
    reason = _reasons((count < 1, f"no event {what} with same-time estimation bars"),
                      shape=z.shape)
    valid = (reason == "") & np.isfinite(z)
    reason = np.where((reason == "") & ~valid, "not computable (no finite data)", reason)
    return TestResult("rs", TITLE, np.where(valid, z, np.nan), np.where(valid, p, np.nan),
                      "normal", None, count.astype(np.int64), alt, reason,
                      {"mean_pct": np.where(valid, mean_pct, np.nan)})


__all__ = ["EXACT_EVENTS", "TimeOfDayRanks", "rinaudo_saha", "time_of_day_ranks",
           "window_reference"]
