"""A time-of-day rank test for intraday event studies, after Saha & Rinaudo (2014).

Saha & Rinaudo (2014, "An intraday event study methodology for determining loss
causation", Journal of Financial Perspectives 2(2), 161-172) judge one event's
intraday abnormal return by where it falls in the empirical distribution of the
abnormal returns of the *same time of day* on the estimation days: the event-day
CAR from the news bar on is significant when it lies beyond the p-th percentile
of the estimation days' CARs accumulated from the same clock time over the same
number of bars. No distribution is assumed; intraday seasonality (the U-shaped
variance) is respected because every bar is compared only with bars of its own
slot. The per-event p-value below is that decision; the cross-event statistic
``Z`` is our own construction in the style of Corrado (1989), not the paper's.

Construction used here
----------------------
For event ``i`` and a relative bar ``t`` (or a CAR window ``w``) let ``x_i`` be the
event's AR (or CAR) and ``r_i1 .. r_iD`` the same quantity on each of the ``D_i``
estimation sessions that have every bar needed, taken at the same time-of-day
slots (a window that crosses a close takes, on each estimation session, the slots
of the bars it covers). With ``n_i = D_i + 1`` values,

* ``R_i = 1 + #{d: r_id < x_i} + ½ #{d: r_id = x_i}`` is the (mid-)rank of the
  event value among the ``n_i`` values; under the null that the event session is
  exchangeable with the estimation sessions at that time of day (and without
  ties), ``R_i`` is uniform on ``1..n_i``;
* per event: lower-tail ``p = (1 + #{r_id <= x_i}) / n_i``, upper-tail
  ``(1 + #{r_id >= x_i}) / n_i``, two-sided twice the smaller, capped at 1; without
  ties these are ``R_i / n_i`` and ``(n_i - R_i + 1) / n_i``; ties count against
  the event, so the p-value is exact without ties and conservative with them;
* across events (after Saha & Rinaudo; our construction) the centred ranks
  ``U_i = R_i / n_i - (n_i + 1) / (2 n_i)`` (mean 0, variance
  ``(n_i² - 1) / (12 n_i²)``) are summed:
  ``Z = Σ U_i / √(Σ (n_i² - 1) / (12 n_i²))``. With at most
  :data:`EXACT_EVENTS` events the p-value is exact (the null distribution of
  ``Σ R_i``, a convolution of discrete uniforms; the upper tail is taken at the
  sum of each event's lowest tied rank, the lower tail at the sum of its highest,
  so that one event's p equals its per-event p); beyond, ``Z`` is referred to
  N(0, 1) (``TestResult.dist`` says which: ``exact``, ``normal`` or
  ``exact/normal``, and ``extra['exact']`` marks each statistic).

**Independence.** ``Z`` assumes the events' ranks are independent. Events at the
same time (one announcement studied on several stocks) share the market's
move and are not independent; count such a cluster once (e.g. per
announcement) or read ``Z`` as descriptive.

Ties (e.g. minutes without trades) get mid-ranks in ``Z`` and the untied variance,
which makes the normal version conservative. Scaling a slot's residuals
(time-of-day standardisation) leaves the rank of a single bar unchanged; the
ranks of multi-bar windows would change, but the test always ranks the
unscaled ARs and CARs. The estimation values are the model's in-sample
residuals, as in the Corrado (1989) rank test.

Floor: ``inference`` (imports the ground floor and ``inference.base`` only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from marketreact._typing import FloatArray, IntArray
from marketreact.inference.base import Alternative, TestResult, _reasons, tail_p

#: Most events for which the cross-event p-value is computed exactly.
EXACT_EVENTS = 30
TITLE = "Time-of-day rank after Saha & Rinaudo (2014)"


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
    low: FloatArray | None = None
    high: FloatArray | None = None

    @property
    def rank_low(self) -> FloatArray:
        """``(N, L)`` lowest rank of the event value's tie, ``1 + #{r < x}``."""
        return self.rank if self.low is None else self.low

    @property
    def rank_high(self) -> FloatArray:
        """``(N, L)`` highest rank of the event value's tie, ``1 + #{r <= x}``."""
        return self.rank if self.high is None else self.high

    def event_p(self, alternative: Alternative | str = "two-sided") -> FloatArray:
        """Per-event exact p-value of the event value's rank (the paper's decision).

        Ties count against the event: lower tail ``(1 + #{r <= x}) / n``, upper tail
        ``(1 + #{r >= x}) / n`` (without ties, ``R / n`` and ``(n - R + 1) / n``).
        """
        alt = Alternative(alternative)
        with np.errstate(invalid="ignore", divide="ignore"):
            nn = np.where(self.n > 0, self.n, np.nan)
            lower = self.rank_high / nn
            upper = (nn - self.rank_low + 1.0) / nn
        return tail_p(upper, lower, alt)


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
    return TimeOfDayRanks(rank, np.where(has, d + 1, 0).astype(np.int64),
                          np.where(has, 1.0 + below, np.nan),
                          np.where(has, 1.0 + below + ties, np.nan))


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


def _exact_sum_tails(n_values: IntArray, s_low: float, s_high: float) -> tuple[float, float]:
    """P(ΣR >= s_low) and P(ΣR <= s_high) for independent uniform ranks on 1..n_i.

    ``s_low`` sums each event's lowest tied rank and ``s_high`` its highest, so a
    tie never counts in the event's favour (the per-event convention of
    :meth:`TimeOfDayRanks.event_p`; without ties both are ``ΣR_obs``).
    """
    pmf = np.ones(1)
    for k in n_values:  # at most EXACT_EVENTS events
        pmf = np.convolve(pmf, np.full(int(k), 1.0 / int(k)))
    support = len(n_values) + np.arange(len(pmf))  # ΣR starts at N (each rank >= 1)
    upper = float(pmf[support >= s_low - 1e-9].sum())
    lower = float(pmf[support <= s_high + 1e-9].sum())
    return min(upper, 1.0), min(lower, 1.0)


def rinaudo_saha(ar: FloatArray, ref: FloatArray, windows: Sequence[slice] = (),
                 alternative: Alternative | str = "two-sided"
                 ) -> tuple[TestResult, TestResult]:
    """Time-of-day rank test (after Saha & Rinaudo, 2014) of each relative bar and CAR window.

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
    exact = np.zeros(np.shape(z), dtype=bool)
    for j in zip(*np.nonzero(small), strict=True):  # statistics of few events: exact tails
        rows = has[(*j[:-1], slice(None), j[-1])]
        n_j = r.n[(*j[:-1], slice(None), j[-1])][rows]
        lo_j = r.rank_low[(*j[:-1], slice(None), j[-1])][rows]
        hi_j = r.rank_high[(*j[:-1], slice(None), j[-1])][rows]
        upper[j], lower[j] = _exact_sum_tails(n_j, lo_j.sum(), hi_j.sum())
        exact[j] = True
    p = tail_p(upper, lower, alt)
    reason = _reasons((count < 1, f"no event {what} with same-time estimation bars"),
                      shape=z.shape)
    valid = (reason == "") & np.isfinite(z)
    reason = np.where((reason == "") & ~valid, "not computable (no finite data)", reason)
    exact &= valid
    dist = ("normal" if not exact.any() else "exact" if exact[valid].all() else "exact/normal")
    return TestResult("rs", TITLE, np.where(valid, z, np.nan), np.where(valid, p, np.nan),
                      dist, None, count.astype(np.int64), alt, reason,
                      {"mean_pct": np.where(valid, mean_pct, np.nan), "exact": exact})


__all__ = ["EXACT_EVENTS", "TimeOfDayRanks", "rinaudo_saha", "time_of_day_ranks",
           "window_reference"]
