"""Cross-event significance tests for the AAR of each day and the CAAR of each window.

Every test here is vectorised over events and works on arrays whose
second-to-last axis runs over events and whose last axis runs over days (or CAR
windows); any leading axes are independent batches (the validation simulation
runs a thousand samples at once that way).

Notation (per event ``i``, event-window day ``t``, estimation day ``τ``)
-----------------------------------------------------------------------
``AR_it``
    abnormal return; ``V_it`` its variance *including the estimation error of
    the model* (the forecast-error correction: ``s_i² (1 + x_t'(X'X)⁻¹x_t)`` for
    the market model, MacKinlay 1997 eq. 7-9).
``SAR_it = AR_it / √V_it``
    standardised abnormal return (Patell 1976).
``e_iτ``
    estimation-window residuals, aligned on relative days, ``s_i²`` the residual
    variance with ``df_i = n_i - k`` degrees of freedom.
``CAR_iw``, ``V_iw``
    cumulative abnormal return over window ``w`` and its variance (also with the
    estimation error), ``CSAR_iw = CAR_iw / √V_iw``.

Each test returns a :class:`TestResult`: statistic, p-value for the chosen
alternative, the null distribution and its degrees of freedom, and, where the
data do not allow the test (too few events, zero variance), NaN with the reason
instead of an exception.

References
----------
Boehmer, Musumeci & Poulsen (1991), JFE 30, 253-272. Brown & Warner (1980),
JFE 8, 205-258. Brown & Warner (1985), JFE 14, 3-31. Campbell & Wasley (1993),
JFE 33, 73-92. Corrado (1989), JFE 23, 385-395. Corrado & Zivney (1992), JFQA 27,
465-478. Cowan (1992), RQFA 2, 343-358. Kolari & Pynnönen (2010), RFS 23,
3996-4025. Kolari & Pynnönen (2011), JEF 18, 953-971. Lamb (1995), JRI 62,
111-123. Patell (1976), JAR 14, 246-276. Wilcoxon (1945). Efron & Tibshirani
(1993), ch. 13 (percentile interval).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import stats

from marketreact._lazy import pending_value
from marketreact._typing import FloatArray, IntArray, Window

__all__ = [
    "TEST_NAMES",
    "TEST_TITLES",
    "WINDOW_TITLES",
    "Alternative",
    "CrossEventTests",
    "EstimationSummary",
    "TestInputs",
    "TestResult",
    "aar_table",
    "aggregate_table",
    "average_cross_correlation",
    "average_ranks",
    "cross_event_tests",
    "cross_event_tests_multi",
    "format_tests",
    "summarise_estimation",
    "window_columns",
]


class Alternative(StrEnum):
    """The alternative hypothesis of a test about the mean abnormal return."""

    two_sided = "two-sided"
    greater = "greater"
    less = "less"


#: Tests in table order: column name -> title for the AAR of a day.
TEST_TITLES: dict[str, str] = {
    "t": "Cross-sectional t",
    "bw1980": "Brown-Warner 1980 (average variance)",
    "bw1985": "Brown-Warner 1985 (crude dependence adj.)",
    "patell": "Patell Z (1976)",
    "bmp": "BMP t (1991)",
    "kp_patell": "Adjusted Patell Z (Kolari-Pynnonen 2010)",
    "kp_bmp": "Adjusted BMP t (Kolari-Pynnonen 2010)",
    "lamb": "Lamb Z (1995)",
    "sign": "Sign test",
    "gsign": "Generalized sign Z (Cowan 1992)",
    "rank": "Rank test (Corrado 1989)",
    "wilcoxon": "Wilcoxon signed rank",
    "boot": "Bootstrap (events, percentile)",
}
#: Titles that differ for CAR windows.
WINDOW_TITLES: dict[str, str] = {**TEST_TITLES,
                                  "rank": "Cumulative rank (Campbell-Wasley 1993)"}
TEST_NAMES: tuple[str, ...] = tuple(TEST_TITLES)

_NORMAL, _T = "normal", "t"
#: Elements of an (events x days) temporary above which large studies are processed in
#: blocks of events (same results, bounded memory; see :func:`_event_blocks`).
_BLOCK_ELEMENTS = 4_000_000
#: Estimation residuals (events x days) up to which a study's residuals are built at once
#: for the tests (beyond, the tests read them a block of events at a time).
_RESIDUALS_AT_ONCE = 64_000_000


def _event_blocks(n: int, width: int) -> list[slice]:
    """Blocks of rows so that each ``rows x width`` temporary stays near _BLOCK_ELEMENTS."""
    rows = max(1, _BLOCK_ELEMENTS // max(width, 1))
    return [slice(lo, lo + rows) for lo in range(0, n, rows)]


class RowBlocks(Protocol):
    """``(N, L1)`` estimation residuals computed a block of events at a time, on demand.

    A study on the moment engine hands its residuals to the tests this way, so
    that a million events never need their ``(N, L1)`` array all at once.
    """

    @property
    def shape(self) -> tuple[int, int]: ...

    def rows(self, index: slice) -> FloatArray: ...


def _is_blocks(est: Any) -> bool:
    return hasattr(est, "rows") and not isinstance(est, np.ndarray)


def _est_rows(est: Any, sl: slice) -> FloatArray:
    return est.rows(sl) if _is_blocks(est) else est[..., sl, :]


def _sum_rows(total: np.ndarray | None, part: np.ndarray) -> np.ndarray:
    """``total`` plus the sum of ``part``'s rows, added in the order numpy sums axis 0.

    Summing a 2-D array over its first axis adds the rows one after another, so
    carrying the running total as the first row of the next block gives exactly
    the sum over all rows at once.
    """
    if total is None:
        return part.sum(axis=0)
    both = np.empty((len(part) + 1, *part.shape[1:]), dtype=np.result_type(total, part))
    both[0] = total
    both[1:] = part
    return both.sum(axis=0)


@dataclass(frozen=True, eq=False)
class TestResult:
    """A test statistic (an array of them: one per day or window) with its p-value.

    Attributes
    ----------
    name : str
        Short name, used for table columns (e.g. ``patell``).
    title : str
        Human-readable name with its source.
    stat : numpy.ndarray
        Test statistics (NaN where the test could not be computed).
    pvalue : numpy.ndarray
        P-values for ``alternative``.
    dist : str
        Null distribution: ``t``, ``normal``, ``binomial``, ``wilcoxon``
        (exact where possible, else normal) or ``bootstrap``.
    df : numpy.ndarray or None
        Degrees of freedom (t tests) or the number of trials (binomial).
    n : numpy.ndarray
        Events that entered each statistic.
    alternative : Alternative
        The alternative hypothesis of ``pvalue``.
    reason : numpy.ndarray
        Why a statistic could not be computed (empty string where it was).
    extra : mapping of str to numpy.ndarray
        Further outputs, e.g. the bootstrap interval ``lo``/``hi``.
    """

    __test__ = False  # not a pytest test class

    name: str
    title: str
    stat: FloatArray
    pvalue: FloatArray
    dist: str
    df: FloatArray | None
    n: IntArray
    alternative: Alternative
    reason: np.ndarray
    extra: Mapping[str, FloatArray] = field(default_factory=dict)

    @property
    def valid(self) -> np.ndarray:
        """True where the statistic could be computed."""
        return self.reason == ""

    def __getitem__(self, index: Any) -> TestResult:
        """Select the result of one day/window (or a slice of them)."""
        return TestResult(
            self.name, self.title, self.stat[index], self.pvalue[index], self.dist,
            None if self.df is None else self.df[index], self.n[index], self.alternative,
            self.reason[index], {k: v[index] for k, v in self.extra.items()})

    def dist_label(self, index: Any = ()) -> str:
        """Describe the null distribution of one statistic, e.g. ``t(15)``."""
        if self.dist == _T and self.df is not None and np.isfinite(self.df[index]):
            return f"t({self.df[index]:.0f})"
        if self.dist == "binomial" and self.df is not None:
            return f"Bin({self.df[index]:.0f}, 0.5)"
        if self.dist == "wilcoxon":
            return ("exact" if self.extra.get("exact") is not None
                    and bool(self.extra["exact"][index]) else "N(0,1)")
        if self.dist == "bootstrap":
            return "bootstrap"
        return "N(0,1)"

    def __str__(self) -> str:
        stat = np.atleast_1d(self.stat)
        pval = np.atleast_1d(self.pvalue)
        why = np.atleast_1d(self.reason)
        parts = [f"{s:.4f} (p={p:.4g})" if w == "" else f"n/a ({w})"
                 for s, p, w in zip(stat, pval, why, strict=True)]
        return f"{self.title}: " + ", ".join(parts)


@dataclass(frozen=True)
class TestInputs:
    """Per-event arrays the tests need; the event axis is the second-to-last.

    Attributes
    ----------
    ar, ar_var : numpy.ndarray
        ``(..., N, L2)`` abnormal returns and their forecast-error-corrected
        variances (NaN where missing).
    est_residuals : numpy.ndarray or RowBlocks
        ``(..., N, L1)`` estimation-window residuals aligned on relative days (or,
        for ``(N, L1)``, a source of blocks of them).
    sigma2 : numpy.ndarray
        ``(..., N)`` residual variances ``s_i²``.
    df : numpy.ndarray
        ``(..., N)`` residual degrees of freedom.
    windows : tuple of slice
        Columns of ``ar`` that make up each CAR window.
    car, car_var : numpy.ndarray
        ``(..., N, W)`` CARs and their variances (estimation error included).
    """

    __test__ = False  # not a pytest test class

    ar: FloatArray
    ar_var: FloatArray
    est_residuals: FloatArray | RowBlocks
    sigma2: FloatArray
    df: FloatArray
    windows: tuple[slice, ...] = ()
    car: FloatArray | None = None
    car_var: FloatArray | None = None

    @classmethod
    def from_study(cls, arrays: Any) -> TestInputs:
        """Build the inputs from a :class:`marketreact.study.StudyArrays`.

        CAR windows come from ``arrays.car_windows``; when ``arrays.car`` is
        absent the CARs are summed from the ARs and their variance is the sum of
        the AR variances (the covariance from the shared estimation error is then
        left out).
        """
        rel_days = np.asarray(arrays.rel_days)
        windows = tuple(getattr(arrays, "car_windows", ()) or ())
        slices = tuple(window_columns(rel_days, w) for w in windows)
        car = getattr(arrays, "car", None)
        car_var = getattr(arrays, "car_var", None)
        # residuals still to be computed, and too many to hold at once: read them in blocks
        est: Any = pending_value(arrays, "est_residuals")
        if not _is_blocks(est) or est.shape[0] * est.shape[1] <= _RESIDUALS_AT_ONCE:
            est = np.asarray(arrays.est_residuals, float)
        return cls(np.asarray(arrays.ar, float), np.asarray(arrays.ar_var, float),
                   est, np.asarray(arrays.sigma2, float),
                   np.asarray(arrays.df, float), slices, car, car_var)

    def window_values(self) -> tuple[FloatArray, FloatArray]:
        """CARs and their variances, ``(..., N, W)``, summed from ARs when not given."""
        if self.car is not None and self.car_var is not None:
            return np.asarray(self.car, float), np.asarray(self.car_var, float)
        cars, vars_ = [], []
        for cols in self.windows:
            part = self.ar[..., cols]
            ok = np.isfinite(part)
            any_ok = ok.any(axis=-1)
            cars.append(np.where(any_ok, np.where(ok, part, 0.0).sum(axis=-1), np.nan))
            v = np.where(ok, self.ar_var[..., cols], 0.0).sum(axis=-1)
            vars_.append(np.where(any_ok, v, np.nan))
        shape = (*self.ar.shape[:-1], 0)
        if not cars:
            return np.empty(shape), np.empty(shape)
        return np.stack(cars, axis=-1), np.stack(vars_, axis=-1)


def window_columns(rel_days: IntArray, window: Window) -> slice:
    """Columns of an event-window array covering the relative days of ``window``."""
    start = int(np.searchsorted(rel_days, window[0]))
    stop = int(np.searchsorted(rel_days, window[1], side="right"))
    return slice(start, stop)


@dataclass(frozen=True)
class CrossEventTests:
    """All tests for the days of the event window and for the CAR windows.

    Attributes
    ----------
    days : dict of str to TestResult
        Tests of the AAR of each event-window day.
    windows : dict of str to TestResult
        Tests of the CAAR of each CAR window.
    alternative : Alternative
        The alternative of every p-value.
    r_bar : numpy.ndarray
        Average cross-correlation of the estimation residuals (Kolari-Pynnönen).
    """

    days: dict[str, TestResult]
    windows: dict[str, TestResult]
    alternative: Alternative
    r_bar: FloatArray


# ----------------------------------------------------------------------------- helpers


def _expand(a: np.ndarray) -> np.ndarray:
    return a[..., None, :]


def _count_mean_sd(x: FloatArray) -> tuple[IntArray, FloatArray, FloatArray]:
    """Count, mean and sample SD (ddof 1) along the event axis, ignoring NaN."""
    ok = np.isfinite(x)
    n = ok.sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.where(ok, x, 0.0).sum(axis=-2) / np.maximum(n, 1), np.nan)
        dev = np.where(ok, x - _expand(mean), 0.0)
        var = np.where(n > 1, (dev**2).sum(axis=-2) / np.maximum(n - 1, 1), np.nan)
    return n, mean, np.sqrt(var)


def _reasons(*pairs: tuple[np.ndarray, str], shape: tuple[int, ...]) -> np.ndarray:
    """First reason whose condition holds, element-wise ('' where none does)."""
    out = np.full(shape, "", dtype=object)
    for cond, text in reversed(pairs):
        out = np.where(np.broadcast_to(cond, shape), text, out)
    return out


def _continuous_p(stat: FloatArray, dist: str, df: FloatArray | None,
                  alternative: Alternative) -> FloatArray:
    with np.errstate(invalid="ignore"):
        if dist == _T:
            assert df is not None
            dfc = np.where(np.asarray(df) > 0, df, np.nan)
            upper, lower = stats.t.sf(stat, dfc), stats.t.cdf(stat, dfc)
        else:
            upper, lower = stats.norm.sf(stat), stats.norm.cdf(stat)
    if alternative is Alternative.greater:
        p = upper
    elif alternative is Alternative.less:
        p = lower
    else:
        p = np.minimum(1.0, 2.0 * np.minimum(upper, lower))
    return np.where(np.isfinite(stat), p, np.nan)


@dataclass(frozen=True)
class _Raw:
    """A computed statistic before an alternative is chosen."""

    name: str
    stat: FloatArray
    dist: str
    df: FloatArray | None
    n: IntArray
    reason: np.ndarray
    pfunc: Callable[[Alternative], FloatArray] | None = None
    extra: Mapping[str, FloatArray] = field(default_factory=dict)

    def result(self, title: str, alternative: Alternative) -> TestResult:
        if self.pfunc is not None:
            p = self.pfunc(alternative)
        else:
            p = _continuous_p(self.stat, self.dist, self.df, alternative)
        valid = self.reason == ""
        stat = np.where(valid, self.stat, np.nan)
        p = np.where(valid, p, np.nan)
        return TestResult(self.name, title, stat, p, self.dist, self.df, self.n, alternative,
                          self.reason, dict(self.extra))


def _raw(name: str, stat: FloatArray, dist: str, df: FloatArray | None, n: IntArray,
         reason: np.ndarray, **kw: Any) -> _Raw:
    stat = np.asarray(stat, float)
    reason = np.where((reason == "") & ~np.isfinite(stat), "not computable (no finite data)",
                      reason)
    return _Raw(name, stat, dist, None if df is None else np.asarray(df, float),
                np.asarray(n, np.int64), reason, **kw)


# ----------------------------------------------------------------------------- tests


def cross_sectional_t(x: FloatArray, name: str = "t") -> _Raw:
    """Cross-sectional t test of the mean of ``x`` along the event axis.

    ``t = x̄ / (s_x / √N)`` with ``t(N-1)`` null distribution; it uses only the
    cross-sectional spread of the day's ARs (or CARs), so it is robust to
    event-induced variance but not to cross-correlation (Brown & Warner 1985,
    section 3; Boehmer et al. 1991, eq. 1). Equals ``scipy.stats.ttest_1samp``.
    Also the BMP test when ``x`` holds standardised ARs.
    """
    n, mean, sd = _count_mean_sd(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = mean / (sd / np.sqrt(n))
    reason = _reasons((n < 2, "fewer than 2 events"), (sd == 0, "zero cross-sectional variance"),
                      shape=stat.shape)
    return _raw(name, stat, _T, (n - 1.0).astype(np.float64), n, reason)


@dataclass(frozen=True)
class EstimationSummary:
    """What the tests need from the estimation-window residuals, in one pass.

    Attributes
    ----------
    m : numpy.ndarray
        ``(..., N)`` residuals per event.
    var : numpy.ndarray
        ``(..., N)`` their sample variance (ddof 1).
    frac_pos : numpy.ndarray
        ``(..., N)`` share of positive residuals.
    sd_avg : numpy.ndarray
        ``(...)`` time-series SD (ddof 1) of the average residual of each relative day.
    df_avg : numpy.ndarray
        ``(...)`` its degrees of freedom (days with an average, minus 1).
    r_bar : numpy.ndarray
        ``(...)`` average cross-correlation (:func:`average_cross_correlation`).
    """

    m: IntArray
    var: FloatArray
    frac_pos: FloatArray
    sd_avg: FloatArray
    df_avg: FloatArray
    r_bar: FloatArray


def summarise_estimation(est: FloatArray) -> EstimationSummary:
    """Summarise ``(..., N, L1)`` estimation residuals (NaN where missing) for the tests."""
    if _is_blocks(est):
        return _summarise_in_blocks(est)
    est = np.asarray(est, float)
    if est.ndim == 2 and est.size > _BLOCK_ELEMENTS:
        return _summarise_in_blocks(est)
    ok = np.isfinite(est)
    m = ok.sum(axis=-1)
    ef = np.where(ok, est, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = ef.sum(axis=-1) / np.maximum(m, 1)
        dev = np.where(ok, est - mean[..., None], 0.0)
        ss = (dev**2).sum(axis=-1)
        var = np.where(m > 1, ss / np.maximum(m - 1, 1), np.nan)
        frac = (ok & (est > 0)).sum(axis=-1) / m
        # Brown-Warner: average residual of each relative day, its time-series SD
        k = ok.sum(axis=-2)
        avg = np.where(k > 0, ef.sum(axis=-2) / np.maximum(k, 1), np.nan)
        days = np.isfinite(avg)
        md = days.sum(axis=-1)
        mu = np.where(days, avg, 0.0).sum(axis=-1) / md
        sd_avg = np.sqrt((np.where(days, avg - mu[..., None], 0.0) ** 2).sum(axis=-1)
                         / (md - 1))
        # Kolari-Pynnönen: unit-length centred residuals
        norm = np.sqrt(ss)
        use = (m >= 3) & (norm > 0)
        z = np.where(use[..., None], dev / np.where(use, norm, 1.0)[..., None], 0.0)
        kk = use.sum(axis=-1).astype(float)
        total = z.sum(axis=-2)
        r = ((total**2).sum(axis=-1) - kk) / (kk * (kk - 1.0))
    return EstimationSummary(m, var, frac, sd_avg, md - 1.0, np.where(kk >= 2, r, np.nan))


def _summarise_in_blocks(est: FloatArray | RowBlocks) -> EstimationSummary:
    """:func:`summarise_estimation` of a large ``(N, L1)`` array, a block of events at a time.

    Same arithmetic: per-event values row by row, sums over events in event order.
    """
    n = est.shape[0]
    m = np.empty(n, dtype=np.int64)
    var = np.empty(n)
    frac = np.empty(n)
    use = np.empty(n, dtype=bool)
    k: np.ndarray | None = None
    efsum: np.ndarray | None = None
    total: np.ndarray | None = None
    with np.errstate(invalid="ignore", divide="ignore"):
        for sl in _event_blocks(n, est.shape[1]):
            part = _est_rows(est, sl)
            ok = np.isfinite(part)
            mb = ok.sum(axis=-1)
            ef = np.where(ok, part, 0.0)
            mean = ef.sum(axis=-1) / np.maximum(mb, 1)
            dev = np.where(ok, part - mean[..., None], 0.0)
            ss = (dev**2).sum(axis=-1)
            m[sl] = mb
            var[sl] = np.where(mb > 1, ss / np.maximum(mb - 1, 1), np.nan)
            frac[sl] = (ok & (part > 0)).sum(axis=-1) / mb
            k = _sum_rows(k, ok.astype(np.int64))
            efsum = _sum_rows(efsum, ef)
            norm = np.sqrt(ss)
            ub = (mb >= 3) & (norm > 0)
            use[sl] = ub
            total = _sum_rows(total, np.where(ub[..., None],
                                              dev / np.where(ub, norm, 1.0)[..., None], 0.0))
        assert k is not None and efsum is not None and total is not None
        avg = np.where(k > 0, efsum / np.maximum(k, 1), np.nan)
        days = np.isfinite(avg)
        md = days.sum(axis=-1)
        mu = np.where(days, avg, 0.0).sum(axis=-1) / md
        sd_avg = np.sqrt((np.where(days, avg - mu[..., None], 0.0) ** 2).sum(axis=-1)
                         / (md - 1))
        kk = float(use.sum())
        r = ((total**2).sum(axis=-1) - kk) / (kk * (kk - 1.0))
    return EstimationSummary(m, var, frac, sd_avg, md - 1.0,
                             np.asarray(r if kk >= 2 else np.nan))


def _summary(est: FloatArray | EstimationSummary) -> EstimationSummary:
    return est if isinstance(est, EstimationSummary) else summarise_estimation(est)


def brown_warner_1980(x: FloatArray, lengths: IntArray,
                      est: FloatArray | EstimationSummary) -> _Raw:
    """Brown-Warner test with the average of the events' estimation variances.

    ``t = x̄ / (√(L Σ_i s_i²) / N)``, ``s_i²`` the sample variance (ddof 1) of
    event ``i``'s estimation residuals, summed over the events with data on the
    day; ``L`` is the number of days cumulated (1 for a day). Null distribution
    ``t`` with (mean estimation length - 1) degrees of freedom. Brown & Warner
    (1980), appendix A (the test assuming cross-sectional independence); this
    is the statistic estudy2 calls ``brown_warner_1980``.
    """
    summ = _summary(est)
    m, s2 = summ.m, summ.var
    ok = np.isfinite(x) & np.isfinite(s2)[..., None]
    n = ok.sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, x, 0.0).sum(axis=-2) / n
        denom = np.sqrt(lengths * np.where(ok, s2[..., None], 0.0).sum(axis=-2)) / n
        stat = mean / denom
        mbar = np.where(m > 0, m, 0).sum(axis=-1) / np.maximum((m > 0).sum(axis=-1), 1)
    df = np.broadcast_to((mbar - 1.0)[..., None], stat.shape)
    reason = _reasons((n < 1, "no events"), (denom == 0, "zero estimation variance"),
                      shape=stat.shape)
    return _raw("bw1980", stat, _T, df, n, reason)


def brown_warner_1985(x: FloatArray, lengths: IntArray,
                      est: FloatArray | EstimationSummary) -> _Raw:
    """Brown-Warner "crude dependence adjustment" test.

    ``t = x̄ / (√L · S(ĀR))`` where ``ĀR_τ`` is the average estimation residual
    of relative day ``τ`` and ``S(ĀR)`` its time-series standard deviation over
    the estimation window (ddof 1); ``L`` days cumulated. Null ``t(M - 1)``,
    ``M`` estimation days. Brown & Warner (1980), section 3.4, and (1985),
    eq. (5)-(6); estudy2's ``brown_warner_1985``. Because ``ĀR_τ`` averages
    over the same relative days, clustering on calendar dates inflates
    ``S(ĀR)``: the crude adjustment for cross-correlation.
    """
    summ = _summary(est)
    sd, df = summ.sd_avg, summ.df_avg
    n, mean, _ = _count_mean_sd(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = mean / (np.sqrt(lengths) * sd[..., None])
    reason = _reasons((n < 1, "no events"), (np.broadcast_to((df < 2)[..., None], stat.shape),
                                              "fewer than 3 estimation days"),
                      (np.broadcast_to((sd == 0)[..., None], stat.shape),
                       "zero variance of the average estimation residual"),
                      shape=stat.shape)
    return _raw("bw1985", stat, _T, np.broadcast_to(df[..., None], stat.shape), n, reason)


def patell(sx: FloatArray, df: FloatArray) -> _Raw:
    """Patell (1976) Z of standardised abnormal returns.

    ``Z = Σ_i SAR_i / √(Σ_i df_i / (df_i - 2))``: each ``SAR_i`` is ``t(df_i)``
    distributed under the null with variance ``df_i/(df_i-2)``; events with
    ``df_i <= 2`` are left out. Patell (1976), eq. (8)-(10); for windows the
    standardised CAR ``CSAR_i = CAR_i / √V(CAR_i)`` takes the place of ``SAR_i``.
    Null N(0, 1).
    """
    use = np.isfinite(sx) & (df[..., None] > 2)
    n = use.sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(use, (df / (df - 2.0))[..., None], 0.0).sum(axis=-2)
        stat = np.where(use, sx, 0.0).sum(axis=-2) / np.sqrt(w)
    reason = _reasons((n < 1, "no event with more than 2 residual degrees of freedom"),
                      shape=stat.shape)
    return _raw("patell", stat, _NORMAL, None, n, reason)


def average_cross_correlation(est: FloatArray) -> FloatArray:
    """Average pairwise correlation of the events' estimation residuals.

    Residuals are aligned on relative days (for clustered events that is the
    same calendar day). Each event's residuals are centred and scaled to unit
    length over its own days; the mean of the ``N(N-1)`` pairwise inner products
    is ``(‖Σ_i z_i‖² - N) / (N(N-1))``, which is the average Pearson correlation
    exactly when every event has the whole estimation window (days one event
    misses count as zero deviations). Kolari & Pynnönen (2010), eq. (9).

    Parameters
    ----------
    est : numpy.ndarray
        ``(..., N, L1)`` residuals, NaN where missing.

    Returns
    -------
    numpy.ndarray
        ``(...)``; NaN with fewer than 2 usable events.
    """
    return summarise_estimation(est).r_bar


def kolari_pynnonen(raw: _Raw, r_bar: FloatArray, patell_like: bool) -> _Raw:
    """Kolari-Pynnönen (2010) adjustment for cross-correlation.

    Adjusted BMP: ``t_BMP · √((1 - r̄) / (1 + (N - 1) r̄))`` (their eq. 12);
    adjusted Patell: ``Z_Patell · √(1 / (1 + (N - 1) r̄))``, ``r̄`` the average
    cross-correlation of the estimation residuals
    (:func:`average_cross_correlation`). The same factor applies to the
    cumulated (CAR) statistics. Null distributions as the unadjusted tests.
    """
    n = raw.n.astype(float)
    r = r_bar[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = 1.0 + (n - 1.0) * r
        factor = np.sqrt(1.0 / denom) if patell_like else np.sqrt((1.0 - r) / denom)
        stat = raw.stat * factor
    shape = stat.shape
    reason = np.where(raw.reason != "", raw.reason,
                      _reasons((np.broadcast_to(~np.isfinite(r), shape),
                                "no average cross-correlation (too few estimation residuals)"),
                               (denom <= 0, "average cross-correlation too negative"),
                               shape=shape))
    name = "kp_patell" if patell_like else "kp_bmp"
    return _raw(name, stat, raw.dist, raw.df, raw.n, reason)


def lamb(aar: FloatArray, n: IntArray, factor: FloatArray,
         est: FloatArray | EstimationSummary,
         windows: Sequence[slice]) -> tuple[_Raw, _Raw]:
    """Lamb (1995) portfolio test, for days and for windows.

    Day ``t``: ``Z_t = AAR_t / (S(ĀR) · √F_t)`` with ``S(ĀR)`` the
    Brown-Warner time-series SD of the average estimation residual and
    ``F_t`` the mean over events of the forecast-error factor
    ``V_it / s_i² = 1 + x_t'(X'X)⁻¹x_t``. Window: ``Σ_t Z_t / √L``
    over the window's days with a statistic. Null N(0, 1). Lamb (1995),
    as implemented by estudy2 (``lamb``, ``car_lamb``); with one market index
    and a common window for all events ``F_t`` is estudy2's
    ``1 + 1/T + (R_mt - R̄_m)² / Σ(R_mτ - R̄_m)²``.
    """
    sd = _summary(est).sd_avg
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = aar / (sd[..., None] * np.sqrt(factor))
    reason = _reasons((n < 1, "no events"),
                      (np.broadcast_to((sd == 0)[..., None], stat.shape),
                       "zero variance of the average estimation residual"),
                      shape=stat.shape)
    day = _raw("lamb", stat, _NORMAL, None, n, reason)
    day_ok = np.isfinite(day.stat) & (day.reason == "")
    wstats, wn = [], []
    for cols in windows:
        ok = day_ok[..., cols]
        k = ok.sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            wstats.append(np.where(ok, day.stat[..., cols], 0.0).sum(axis=-1) / np.sqrt(k))
        wn.append(np.where(ok, n[..., cols], 0).max(axis=-1, initial=0))
    shape = (*stat.shape[:-1], len(windows))
    wstat = np.stack(wstats, axis=-1) if wstats else np.empty(shape)
    wcount = np.stack(wn, axis=-1) if wn else np.empty(shape, np.int64)
    wreason = _reasons((~np.isfinite(wstat), "no day of the window has a Lamb statistic"),
                       shape=shape)
    return day, _raw("lamb", wstat, _NORMAL, None, wcount, wreason)


def sign_test(x: FloatArray) -> _Raw:
    """Sign test of whether positive values are more (or less) frequent than half.

    ``w`` = events with ``x > 0`` among the ``N`` with ``x ≠ 0``; the statistic
    shown is ``Z = (w - N/2) / √(N/4)`` and the p-value is the exact binomial
    ``Bin(N, 0.5)`` tail (``scipy.stats.binomtest``; two-sided: twice the
    smaller tail, capped at 1). Cowan (1992), eq. (1) for the Z form.
    """
    ok = np.isfinite(x) & (x != 0)
    n = ok.sum(axis=-2)
    w = (ok & (x > 0)).sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = (w - n / 2.0) / np.sqrt(n / 4.0)

    def pfunc(alt: Alternative) -> FloatArray:
        upper = stats.binom.sf(w - 1, n, 0.5)
        lower = stats.binom.cdf(w, n, 0.5)
        if alt is Alternative.greater:
            return upper
        if alt is Alternative.less:
            return lower
        return np.minimum(1.0, 2.0 * np.minimum(upper, lower))

    reason = _reasons((n < 1, "no non-zero abnormal returns"), shape=stat.shape)
    return _raw("sign", stat, "binomial", n, n, reason, pfunc=pfunc)


def generalized_sign(x: FloatArray, est: FloatArray | EstimationSummary) -> _Raw:
    """Generalized sign test of Cowan (1992).

    ``p̂ = (1/N) Σ_i (1/m_i) Σ_τ 1[e_iτ > 0]`` is the share of positive
    estimation residuals; with ``w`` positive values among the ``N`` events with
    data, ``Z = (w - N p̂) / √(N p̂ (1 - p̂))``, null N(0, 1). Cowan (1992),
    eq. (2)-(3); the same ``p̂`` serves the windows.
    """
    summ = _summary(est)
    frac, has = summ.frac_pos, summ.m > 0
    ok = np.isfinite(x) & has[..., None]
    n = ok.sum(axis=-2)
    w = (ok & (x > 0)).sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_hat = np.where(ok, frac[..., None], 0.0).sum(axis=-2) / n
        stat = (w - n * p_hat) / np.sqrt(n * p_hat * (1.0 - p_hat))
    reason = _reasons((n < 1, "no events with estimation residuals"),
                      ((p_hat <= 0) | (p_hat >= 1), "estimation residuals all of one sign"),
                      shape=stat.shape)
    return _raw("gsign", stat, _NORMAL, None, n, reason, extra={"p_hat": p_hat})


def average_ranks(a: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Ranks along the last axis (1 = smallest; ties get their average rank).

    Non-finite values get NaN and are left out of the ranking, like
    ``scipy.stats.rankdata(a, axis=-1, nan_policy="omit")``.

    Returns
    -------
    ranks : numpy.ndarray
        Same shape as ``a``.
    ties : numpy.ndarray
        ``Σ (t³ - t)`` over the tie groups of each slice (0 without ties).
    """
    if a.ndim == 2 and a.size > _BLOCK_ELEMENTS and len(a) > 1:
        ranks_out = np.empty(a.shape)
        ties_out = np.empty(len(a))
        for sl in _event_blocks(len(a), a.shape[1]):  # rows are ranked independently
            ranks_out[sl], ties_out[sl] = average_ranks(a[sl])
        return ranks_out, ties_out
    ok = np.isfinite(a)
    keyed = np.where(ok, a, np.inf)
    order = np.argsort(keyed, axis=-1)
    srt = np.take_along_axis(keyed, order, axis=-1)
    n = a.shape[-1]
    pos = np.arange(n, dtype=np.int64)
    shape = a.shape
    finite_sorted = np.isfinite(srt)
    same = (srt[..., 1:] == srt[..., :-1]) & finite_sorted[..., 1:]
    if same.any():
        first = np.ones(shape, dtype=bool)
        first[..., 1:] = ~same
        last = np.ones(shape, dtype=bool)
        last[..., :-1] = ~same
        start = np.maximum.accumulate(np.where(first, pos, 0), axis=-1)
        end = np.flip(np.minimum.accumulate(np.flip(np.where(last, pos, n - 1), axis=-1),
                                            axis=-1), axis=-1)
        rank_sorted = (start + end) / 2.0 + 1.0
        size = (end - start + 1).astype(float)
        ties = np.where(finite_sorted, size**2 - 1.0, 0.0).sum(axis=-1)
    else:
        rank_sorted = np.broadcast_to(pos + 1.0, shape)
        ties = np.zeros(shape[:-1])
    ranks = np.empty(shape)
    np.put_along_axis(ranks, order, rank_sorted, axis=-1)
    return np.where(ok, ranks, np.nan), ties


def rank_tests(est: FloatArray | RowBlocks, ar: FloatArray,
               windows: Sequence[slice]) -> tuple[_Raw, _Raw]:
    """Corrado (1989) rank test for days and Campbell-Wasley (1993) for windows.

    Each event's estimation residuals and event-window ARs (``T_i`` values in
    all) are ranked together (average ranks for ties) and scaled as
    ``U_it = K_it / (T_i + 1) - 1/2`` (Corrado & Zivney 1992, which lets events
    miss days). With ``Ū_t`` the mean over the ``N_t`` events with data on day
    ``t`` and ``N`` the events,
    ``S² = (1/T) Σ_t (N_t/N) Ū_t²`` over all days of both windows
    (Kolari & Pynnönen 2011, eq. 5), the day statistic is
    ``Z_t = Ū_t / (S √(N/N_t))`` (Corrado 1989, eq. 3) and the window
    statistic ``Σ_{t∈w} Ū_t / (S √(Σ_{t∈w} N/N_t))``, the cumulative rank
    test of Campbell & Wasley (1993, eq. 7). Null N(0, 1).
    """
    l1 = est.shape[-1]
    u_sum, n_t, n_ev = _rank_sums(est, ar)
    with np.errstate(invalid="ignore", divide="ignore"):
        ubar = np.where(n_t > 0, u_sum / np.maximum(n_t, 1), 0.0)
        days = (n_t > 0).sum(axis=-1)
        s2 = (n_t / n_ev[..., None] * ubar**2).sum(axis=-1) / days
        s = np.sqrt(s2)
        inv = np.where(n_t > 0, n_ev[..., None] / np.maximum(n_t, 1), np.nan)
        ub_evt, inv_evt = ubar[..., l1:], inv[..., l1:]
        n_evt = n_t[..., l1:]
        stat = ub_evt / (s[..., None] * np.sqrt(inv_evt))
    zero_s = np.broadcast_to((s == 0)[..., None], stat.shape)
    reason = _reasons((n_evt < 1, "no events"), (zero_s, "zero variance of the mean rank"),
                      shape=stat.shape)
    day = _raw("rank", stat, _NORMAL, None, n_evt, reason)
    wstats, wn = [], []
    for cols in windows:
        present = n_evt[..., cols] > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            num = np.where(present, ub_evt[..., cols], 0.0).sum(axis=-1)
            den = s * np.sqrt(np.where(present, inv_evt[..., cols], 0.0).sum(axis=-1))
            wstats.append(np.where(present.any(axis=-1), num / den, np.nan))
        wn.append(n_evt[..., cols].max(axis=-1, initial=0))
    shape = (*stat.shape[:-1], len(windows))
    wstat = np.stack(wstats, axis=-1) if wstats else np.empty(shape)
    wcount = np.stack(wn, axis=-1) if wn else np.empty(shape, np.int64)
    wreason = _reasons((wcount < 1, "no events"),
                       (np.broadcast_to((s == 0)[..., None], shape),
                        "zero variance of the mean rank"), shape=shape)
    return day, _raw("rank", wstat, _NORMAL, None, wcount, wreason)


def _rank_sums(est: FloatArray | RowBlocks, ar: FloatArray
               ) -> tuple[FloatArray, IntArray, IntArray]:
    """Sums over events of the scaled ranks ``U``, events with data per day, and events.

    Large ``(N, L)`` inputs are ranked a block of events at a time (each event's
    values are ranked on their own; the sums run over events in order).
    """
    n, l1 = est.shape[-2], est.shape[-1]
    small = not _is_blocks(est) and (len(est.shape) != 2 or n * l1 + ar.size <= _BLOCK_ELEMENTS)
    blocks = [slice(None)] if small else _event_blocks(n, l1 + ar.shape[-1])
    u_sum: np.ndarray | None = None
    n_t: np.ndarray | None = None
    n_ev: Any = 0
    for sl in blocks:
        both = np.concatenate([_est_rows(est, sl), ar[..., sl, :]], axis=-1)
        ok = np.isfinite(both)
        ranks, _ = average_ranks(both)
        t_i = ok.sum(axis=-1, keepdims=True)
        u = np.where(ok, ranks / (t_i + 1.0) - 0.5, 0.0)
        if len(blocks) == 1:
            return u.sum(axis=-2), ok.sum(axis=-2), (t_i[..., 0] > 0).sum(axis=-1)
        u_sum = _sum_rows(u_sum, u)
        n_t = _sum_rows(n_t, ok.astype(np.int64))
        n_ev = n_ev + (t_i[..., 0] > 0).sum(axis=-1)
    assert u_sum is not None and n_t is not None
    return u_sum, n_t, np.asarray(n_ev)


@lru_cache(maxsize=1)
def _signed_rank_cdf(n_max: int = 50) -> FloatArray:
    """``cdf[n, w] = P(W⁺ <= w)`` of the exact signed-rank null for ``n <= n_max``.

    The number of subsets of ``{1..n}`` with sum ``w`` follows the recursion
    ``c_n(w) = c_{n-1}(w) + c_{n-1}(w - n)`` (Wilcoxon 1945).
    """
    top = n_max * (n_max + 1) // 2
    table = np.zeros((n_max + 1, top + 1))
    counts = np.zeros(top + 1)
    counts[0] = 1.0
    table[0] = 1.0
    for n in range(1, n_max + 1):
        shifted = np.zeros_like(counts)
        shifted[n:] = counts[:-n]
        counts = counts + shifted
        table[n] = np.cumsum(counts) / 2.0**n
    return table


def wilcoxon_signed_rank(x: FloatArray, exact_max: int = 50) -> _Raw:
    """Wilcoxon signed-rank test that the values are symmetric about zero.

    Zeros are dropped; ``W⁺`` is the sum of the ranks of ``|x|`` (average ranks
    for ties) of the positive values among the ``n`` left. The statistic shown
    is ``Z = (W⁺ - n(n+1)/4) / σ_W`` with
    ``σ_W² = n(n+1)(2n+1)/24 - Σ(t³ - t)/48`` over tie groups of size ``t``. The
    p-value is exact when ``n <= 50`` and there are no ties (the null
    distribution of ``W⁺`` by recursion), else from N(0, 1) without continuity
    correction, as ``scipy.stats.wilcoxon`` with ``method='exact'`` and
    ``'asymptotic'`` respectively.
    """
    ok = np.isfinite(x) & (x != 0)
    a = np.where(ok, np.abs(x), np.nan)
    ranks_t, tie_term = average_ranks(np.ascontiguousarray(np.swapaxes(a, -1, -2)))
    ranks = np.swapaxes(ranks_t, -1, -2)
    n = ok.sum(axis=-2)
    w_plus = np.where(ok & (x > 0), ranks, 0.0).sum(axis=-2)
    has_ties = tie_term > 0
    nf = n.astype(float)
    mean = nf * (nf + 1) / 4.0
    var = nf * (nf + 1) * (2 * nf + 1) / 24.0 - tie_term / 48.0
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = (w_plus - mean) / np.sqrt(var)
    exact = (n <= exact_max) & ~has_ties & (n > 0)

    def pfunc(alt: Alternative) -> FloatArray:
        approx = _continuous_p(stat, _NORMAL, None, alt)
        table = _signed_rank_cdf(exact_max)
        nn = np.clip(n, 0, exact_max)
        w = np.rint(np.where(exact, w_plus, 0.0)).astype(np.int64)
        w = np.clip(w, 0, table.shape[1] - 1)
        lower = table[nn, w]
        upper = 1.0 - np.where(w > 0, table[nn, np.maximum(w - 1, 0)], 0.0)
        if alt is Alternative.greater:
            ex = upper
        elif alt is Alternative.less:
            ex = lower
        else:
            ex = np.minimum(1.0, 2.0 * np.minimum(upper, lower))
        return np.where(exact, ex, approx)

    reason = _reasons((n < 1, "no non-zero values"), (var <= 0, "zero variance"),
                      shape=stat.shape)
    return _raw("wilcoxon", stat, "wilcoxon", None, n, reason, pfunc=pfunc,
                extra={"w_plus": w_plus, "exact": exact.astype(float)})


def bootstrap_means(x: FloatArray, n_boot: int, seed: int,
                    block: int = 128) -> FloatArray:
    """Means of ``x`` over events resampled with replacement, ``(..., B, C)``.

    The same ``n_boot`` resamples of event indices (drawn from
    ``numpy.random.default_rng(seed)``) serve every column and every leading
    batch; missing values are left out of each resampled mean. Events are put
    in a canonical order first (by a fingerprint of their values), so the
    result does not depend on the order of the events. Each resample is a row
    of counts (how often each event was drawn), so the means are one matrix
    product per block of resamples.
    """
    rng = np.random.default_rng(seed)
    n = x.shape[-2]
    # fewer resamples per block for many events (the draws are the same either way)
    block = max(1, min(block, 8 * _BLOCK_ELEMENTS // max(n, 1)))
    ok = np.isfinite(x)
    complete = bool(ok.all())
    xf = np.where(ok, x, 0.0)
    okf = ok.astype(float)
    # resample events in a canonical order (by a fingerprint of their values), so that the
    # result does not depend on the order in which events were given
    weights = np.random.default_rng(12345).uniform(1.0, 2.0, size=(2, x.shape[-1]))
    key = xf @ weights[0] + okf @ weights[1]
    order = np.argsort(key, axis=-1, kind="stable")[..., None]
    xf = np.take_along_axis(xf, order, axis=-2)
    okf = np.take_along_axis(okf, order, axis=-2)
    out = []
    for lo in range(0, n_boot, block):
        b = min(block, n_boot - lo)
        idx = (rng.integers(0, n, size=(b, n), dtype=np.int32) if n
               else np.zeros((b, 0), np.int32))
        counts = np.empty((b, n))
        for r in range(b):  # how often each event was drawn in resample r
            counts[r] = np.bincount(idx[r], minlength=n)
        num = counts @ xf
        if complete and n:
            out.append(num / n)
            continue
        den = counts @ okf
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(den > 0, num / den, np.nan))
    return np.concatenate(out, axis=-2) if out else np.empty((*x.shape[:-2], 0, x.shape[-1]))


def bootstrap(x: FloatArray, n_boot: int = 999, seed: int = 0,
              confidence: float = 0.95) -> _Raw:
    """Bootstrap of the mean over events with a percentile interval.

    Events are resampled with replacement ``n_boot`` times (seeded); the
    interval is the ``(1-c)/2`` and ``(1+c)/2`` quantiles of the resampled means
    (Efron & Tibshirani 1993, eq. 13.5). The p-value inverts the percentile
    interval: for ``greater`` it is ``(1 + #{θ* <= 0}) / (B + 1)``, for ``less``
    ``(1 + #{θ* >= 0}) / (B + 1)``, two-sided twice the smaller (capped at 1),
    so 0 lies outside the ``1-α`` interval about when ``p < α``. The statistic
    shown is the mean divided by the bootstrap standard error.
    """
    n, mean, _ = _count_mean_sd(x)
    shape = mean.shape
    if n_boot <= 0:
        nan = np.full(shape, np.nan)
        reason = np.full(shape, "bootstrap switched off (n_boot = 0)", dtype=object)
        return _Raw("boot", nan, "bootstrap", None, n, reason,
                    pfunc=lambda alt: nan, extra={"lo": nan, "hi": nan})
    means = bootstrap_means(x, n_boot, seed)
    alpha = 1.0 - confidence
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanquantile(means, [alpha / 2, 1 - alpha / 2], axis=-2)
        se = np.nanstd(means, axis=-2, ddof=1)
    finite = np.isfinite(means)
    b = finite.sum(axis=-2)
    below = (finite & (means <= 0)).sum(axis=-2)
    above = (finite & (means >= 0)).sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = mean / se
        p_greater = (1.0 + below) / (b + 1.0)
        p_less = (1.0 + above) / (b + 1.0)

    def pfunc(alt: Alternative) -> FloatArray:
        if alt is Alternative.greater:
            return p_greater
        if alt is Alternative.less:
            return p_less
        return np.minimum(1.0, 2.0 * np.minimum(p_greater, p_less))

    reason = _reasons((n < 2, "fewer than 2 events"), (se == 0, "zero bootstrap variance"),
                      shape=shape)
    return _raw("boot", stat, "bootstrap", None, n, reason, pfunc=pfunc,
                extra={"lo": lo, "hi": hi, "se": se})


# ----------------------------------------------------------------------------- driver


def _compute(inputs: TestInputs, n_boot: int, seed: int,
             confidence: float) -> tuple[list[_Raw], list[_Raw], FloatArray]:
    ar = np.asarray(inputs.ar, float)
    var = np.asarray(inputs.ar_var, float)
    est: Any = inputs.est_residuals
    if not _is_blocks(est):
        est = np.asarray(est, float)
    sigma2 = np.asarray(inputs.sigma2, float)
    dfe = np.asarray(inputs.df, float)
    windows = inputs.windows
    car, car_var = inputs.window_values()
    ones = np.ones(ar.shape[-1], dtype=np.int64)
    lengths = np.array([c.stop - c.start for c in windows], dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        # an event without residual variance (a price frozen at a floor) has no SAR
        sar = np.where(var > 0, ar / np.sqrt(var), np.nan)
        csar = np.where(car_var > 0, car / np.sqrt(car_var), np.nan)
        factor_i = np.where(np.isfinite(ar) & (sigma2[..., None] > 0),
                            var / sigma2[..., None], np.nan)
    n_days, aar, _ = _count_mean_sd(ar)
    nf, fsum = np.isfinite(factor_i).sum(axis=-2), np.where(np.isfinite(factor_i), factor_i,
                                                            0.0).sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = fsum / nf
    summ = summarise_estimation(est)
    r_bar = summ.r_bar

    day: list[_Raw] = [cross_sectional_t(ar), brown_warner_1980(ar, ones, summ),
                       brown_warner_1985(ar, ones, summ), patell(sar, dfe)]
    day.append(cross_sectional_t(sar, "bmp"))
    day.append(kolari_pynnonen(day[3], r_bar, patell_like=True))
    day.append(kolari_pynnonen(day[4], r_bar, patell_like=False))
    lamb_day, lamb_win = lamb(aar, n_days, factor, summ, windows)
    rank_day, rank_win = rank_tests(est, ar, windows)
    day += [lamb_day, sign_test(ar), generalized_sign(ar, summ), rank_day,
            wilcoxon_signed_rank(ar)]
    win: list[_Raw] = [cross_sectional_t(car), brown_warner_1980(car, lengths, summ),
                       brown_warner_1985(car, lengths, summ), patell(csar, dfe)]
    win.append(cross_sectional_t(csar, "bmp"))
    win.append(kolari_pynnonen(win[3], r_bar, patell_like=True))
    win.append(kolari_pynnonen(win[4], r_bar, patell_like=False))
    win += [lamb_win, sign_test(car), generalized_sign(car, summ), rank_win,
            wilcoxon_signed_rank(car)]
    both = bootstrap(np.concatenate([ar, car], axis=-1), n_boot, seed, confidence)
    L2 = ar.shape[-1]
    day.append(_split(both, slice(0, L2)))
    win.append(_split(both, slice(L2, None)))
    return day, win, r_bar


def _split(raw: _Raw, cols: slice) -> _Raw:
    pf = raw.pfunc
    return _Raw(raw.name, raw.stat[..., cols], raw.dist,
                None if raw.df is None else raw.df[..., cols], raw.n[..., cols],
                raw.reason[..., cols],
                None if pf is None else (lambda alt: pf(alt)[..., cols]),
                {k: v[..., cols] for k, v in raw.extra.items()})


def cross_event_tests_multi(inputs: TestInputs, alternatives: Sequence[Alternative | str],
                            *, n_boot: int = 999, seed: int = 0, confidence: float = 0.95
                            ) -> dict[Alternative, CrossEventTests]:
    """Every test for several alternatives at once (statistics computed once).

    Parameters
    ----------
    inputs : TestInputs
        Arrays with events on the second-to-last axis.
    alternatives : sequence of Alternative or str
        The alternatives wanted.
    n_boot : int, default 999
        Bootstrap resamples (0 switches the bootstrap off).
    seed : int, default 0
        Seed of the bootstrap.
    confidence : float, default 0.95
        Level of the bootstrap percentile interval.

    Returns
    -------
    dict of Alternative to CrossEventTests
    """
    day, win, r_bar = _compute(inputs, n_boot, seed, confidence)
    out = {}
    for alt in alternatives:
        a = Alternative(alt)
        out[a] = CrossEventTests(
            {r.name: r.result(TEST_TITLES[r.name], a) for r in day},
            {r.name: r.result(WINDOW_TITLES[r.name], a) for r in win}, a, r_bar)
    return out


def cross_event_tests(inputs: TestInputs | Any, alternative: Alternative | str = "two-sided",
                      *, n_boot: int = 999, seed: int = 0, confidence: float = 0.95
                      ) -> CrossEventTests:
    """Every cross-event test for the AAR of each day and the CAAR of each window.

    Parameters
    ----------
    inputs : TestInputs or StudyArrays
        Per-event arrays (a :class:`~marketreact.study.StudyArrays` is converted).
    alternative : {'two-sided', 'greater', 'less'}
        Alternative hypothesis of the p-values.
    n_boot : int, default 999
        Bootstrap resamples of events (0: no bootstrap).
    seed : int, default 0
        Seed of the bootstrap resampling.
    confidence : float, default 0.95
        Level of the bootstrap percentile interval.

    Returns
    -------
    CrossEventTests
        ``days[name]`` and ``windows[name]`` for every name in :data:`TEST_NAMES`.

    Examples
    --------
    >>> tests = cross_event_tests(result.arrays)  # doctest: +SKIP
    >>> tests.days["bmp"].stat  # doctest: +SKIP
    """
    if not isinstance(inputs, TestInputs):
        inputs = TestInputs.from_study(inputs)
    alt = Alternative(alternative)
    return cross_event_tests_multi(inputs, [alt], n_boot=n_boot, seed=seed,
                                   confidence=confidence)[alt]


# ----------------------------------------------------------------------------- tables


def _test_columns(results: Mapping[str, TestResult]) -> dict[str, FloatArray]:
    cols: dict[str, FloatArray] = {}
    for name in TEST_NAMES:
        r = results[name]
        if name == "t":
            cols["t"], cols["p"] = r.stat, r.pvalue
            continue
        cols[name], cols[f"{name}_p"] = r.stat, r.pvalue
        if name == "boot":
            cols["boot_lo"], cols["boot_hi"] = r.extra["lo"], r.extra["hi"]
    return cols


def aar_table(rel_days: IntArray, ar: FloatArray, tests: CrossEventTests) -> pd.DataFrame:
    """``aar.csv``: ``rel_day, n, aar, caar`` then each test's statistic and p-value.

    Columns ``t``/``p`` are the cross-sectional t test; every other test ``X``
    has columns ``X`` and ``X_p`` (the bootstrap adds ``boot_lo``/``boot_hi``).
    """
    n, aar, _ = _count_mean_sd(np.asarray(ar, float))
    frame = pd.DataFrame({"rel_day": rel_days, "n": n, "aar": aar,
                          "caar": np.nancumsum(aar) if len(aar) else aar})
    for k, v in _test_columns(tests.days).items():
        frame[k] = v
    return frame


def aggregate_table(labels: Sequence[str], car: FloatArray, tests: CrossEventTests,
                    mean_bhar: FloatArray | None = None) -> pd.DataFrame:
    """``aggregate.csv``: ``window, n, caar, mean_bhar``, then the test columns of the AAR table."""
    n, caar, _ = _count_mean_sd(np.asarray(car, float))
    frame = pd.DataFrame({"window": list(labels), "n": n, "caar": caar,
                          "mean_bhar": (np.full(len(labels), math.nan) if mean_bhar is None
                                        else mean_bhar)})
    for k, v in _test_columns(tests.windows).items():
        frame[k] = v
    return frame


def format_tests(tests: CrossEventTests, labels: Sequence[str], caar: FloatArray,
                 width: int = 78) -> str:
    """One block per CAR window listing every test, like a statsmodels summary table.

    Parameters
    ----------
    tests : CrossEventTests
        The tests.
    labels : sequence of str
        Window labels, in the order of ``tests.windows``.
    caar : numpy.ndarray
        CAAR of each window.
    width : int, default 78
        Line width.
    """
    lines = []
    for j, label in enumerate(labels):
        n = int(tests.windows["t"].n[j])
        lines.append("=" * width)
        lines.append(f"CAAR{label} = {caar[j]:.6f}   N = {n}   "
                     f"H1: {tests.alternative.value}")
        lines.append("-" * width)
        lines.append(f"{'test':<42}{'statistic':>11}{'p-value':>10}  {'null':<12}")
        lines.append("-" * width)
        for name in TEST_NAMES:
            r = tests.windows[name]
            title = r.title[:41]
            if r.reason[j] != "":
                lines.append(f"{title:<42}{'n/a':>11}{'':>10}  {r.reason[j]}")
                continue
            note = r.dist_label(j)
            if name == "boot":
                note = f"[{r.extra['lo'][j]:.4f}, {r.extra['hi'][j]:.4f}]"
            lines.append(f"{title:<42}{r.stat[j]:>11.4f}{r.pvalue[j]:>10.4f}  {note}")
    r_bar = np.asarray(tests.r_bar)
    if r_bar.ndim == 0 and np.isfinite(r_bar):
        lines.append("-" * width)
        lines.append(f"average cross-correlation of estimation residuals (r-bar): "
                     f"{float(r_bar):.4f}")
    return "\n".join(lines)
