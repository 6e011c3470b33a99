"""Parametric tests: cross-sectional t, Brown-Warner, Patell, BMP, Kolari-Pynnonen, Lamb."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from marketreact._typing import FloatArray, IntArray
from marketreact.inference import _kernels, base
from marketreact.inference.base import (
    _NORMAL,
    _T,
    RowBlocks,
    _count_mean_sd,
    _est_rows,
    _event_blocks,
    _is_blocks,
    _Raw,
    _raw,
    _reasons,
    _sum_rows,
)


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
    if est.ndim == 2 and est.size > base._BLOCK_ELEMENTS:
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


class SummaryInBlocks:
    """:func:`summarise_estimation` of ``(N, L1)`` residuals fed a block of events at a time.

    Same arithmetic as the whole-array summary: per-event values row by row, sums
    over events in event order. Blocks must come in event order, each starting
    where the last ended; a block that starts elsewhere (already seen) is ignored,
    so the summary can ride along a pass that reads the residuals for another
    purpose (see :class:`SummarisingBlocks`).
    """

    def __init__(self, n: int) -> None:
        self.n, self.next = n, 0
        self.m = np.empty(n, dtype=np.int64)
        self.var, self.frac = np.empty(n), np.empty(n)
        self.use = np.empty(n, dtype=bool)
        self.k: np.ndarray | None = None
        self.efsum: np.ndarray | None = None
        self.total: np.ndarray | None = None

    @property
    def complete(self) -> bool:
        """Whether every event has been added."""
        return self.next >= self.n

    def add(self, sl: slice, part: FloatArray) -> None:
        """Add the residuals ``part`` of the events ``sl`` (ignored unless they come next)."""
        lo, hi, _ = sl.indices(self.n)
        if lo != self.next or hi <= lo:
            return
        self.next = hi
        if _kernels.HAVE_NUMBA and part.ndim == 2:
            n_l = part.shape[-1]
            if self.k is None or self.efsum is None or self.total is None:
                self.k = np.zeros(n_l, np.int64)
                self.efsum, self.total = np.zeros(n_l), np.zeros(n_l)
            _kernels.summarise_rows(np.ascontiguousarray(part, dtype=float), self.m[sl],
                                    self.var[sl], self.frac[sl], self.use[sl], self.k,
                                    self.efsum, self.total)
            return
        with np.errstate(invalid="ignore", divide="ignore"):
            ok = np.isfinite(part)
            mb = ok.sum(axis=-1)
            ef = np.where(ok, part, 0.0)
            mean = ef.sum(axis=-1) / np.maximum(mb, 1)
            dev = np.where(ok, part - mean[..., None], 0.0)
            ss = (dev**2).sum(axis=-1)
            self.m[sl] = mb
            self.var[sl] = np.where(mb > 1, ss / np.maximum(mb - 1, 1), np.nan)
            self.frac[sl] = (ok & (part > 0)).sum(axis=-1) / mb
            self.k = _sum_rows(self.k, ok.astype(np.int64))
            self.efsum = _sum_rows(self.efsum, ef)
            norm = np.sqrt(ss)
            ub = (mb >= 3) & (norm > 0)
            self.use[sl] = ub
            self.total = _sum_rows(self.total, np.where(
                ub[..., None], dev / np.where(ub, norm, 1.0)[..., None], 0.0))

    def result(self) -> EstimationSummary:
        """The summary of all the events (every block added)."""
        k, efsum, total = self.k, self.efsum, self.total
        assert self.complete and k is not None and efsum is not None and total is not None
        with np.errstate(invalid="ignore", divide="ignore"):
            avg = np.where(k > 0, efsum / np.maximum(k, 1), np.nan)
            days = np.isfinite(avg)
            md = days.sum(axis=-1)
            mu = np.where(days, avg, 0.0).sum(axis=-1) / md
            sd_avg = np.sqrt((np.where(days, avg - mu[..., None], 0.0) ** 2).sum(axis=-1)
                             / (md - 1))
            kk = float(self.use.sum())
            r = ((total**2).sum(axis=-1) - kk) / (kk * (kk - 1.0))
        return EstimationSummary(self.m, self.var, self.frac, sd_avg, md - 1.0,
                                 np.asarray(r if kk >= 2 else np.nan))


class SummarisingBlocks:
    """Residual blocks that feed a :class:`SummaryInBlocks` as another pass reads them.

    A :class:`marketreact.inference.RowBlocks` wrapper: the rank tests read the
    residuals block by block anyway, and recomputing them for the summary would
    cost a second pass.
    """

    def __init__(self, est: RowBlocks, summary: SummaryInBlocks) -> None:
        self.est, self.summary = est, summary

    @property
    def shape(self) -> tuple[int, int]:
        """``(events, estimation days)``."""
        return self.est.shape

    def rows(self, index: slice) -> FloatArray:
        """The residuals of the events in ``index`` (added to the summary on the way)."""
        part = self.est.rows(index)
        self.summary.add(index, part)
        return part


def _summarise_in_blocks(est: FloatArray | RowBlocks) -> EstimationSummary:
    """:func:`summarise_estimation` of a large ``(N, L1)`` array, a block of events at a time."""
    summary = SummaryInBlocks(est.shape[0])
    for sl in _event_blocks(est.shape[0], est.shape[1]):
        summary.add(sl, _est_rows(est, sl))
    return summary.result()


def _summary(est: FloatArray | EstimationSummary) -> EstimationSummary:
    return est if isinstance(est, EstimationSummary) else summarise_estimation(est)


def _masked_sums(x: FloatArray, row_weight: FloatArray, row_ok: np.ndarray
                 ) -> tuple[IntArray, FloatArray, FloatArray]:
    """Count, weights and values along the event axis, of the events ``row_ok`` lets in.

    Over the events where ``row_ok`` holds and ``x`` is finite: their count, the sum
    of their ``row_weight`` and the sum of their values. One compiled pass for an
    ``(events, columns)`` array (the same sums, in numpy's order); masked numpy sums
    otherwise.
    """
    if _kernels.HAVE_NUMBA and x.ndim == 2 and x.dtype == np.float64:
        n = np.empty(x.shape[1], np.int64)
        weight, total = np.empty(x.shape[1]), np.empty(x.shape[1])
        _kernels.masked_column_sums(x, np.asarray(row_weight, np.float64),
                                    np.asarray(row_ok, np.bool_), n, weight, total)
        return n, weight, total
    use = np.isfinite(x) & row_ok[..., None]
    return (use.sum(axis=-2), np.where(use, row_weight[..., None], 0.0).sum(axis=-2),
            np.where(use, x, 0.0).sum(axis=-2))


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
    n, s2_sum, total = _masked_sums(x, s2, np.isfinite(s2))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        denom = np.sqrt(lengths * s2_sum) / n
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
    with np.errstate(invalid="ignore", divide="ignore"):
        n, w, total = _masked_sums(sx, df / (df - 2.0), df > 2)
        stat = total / np.sqrt(w)
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


def skewness_corrected_t(x: FloatArray) -> _Raw:
    """Skewness-corrected t of Hall (1992), as EventStudyTools computes it for AAR and CAAR.

    With ``S = x̄ / s`` (``s`` the cross-sectional SD, ddof 1) and
    ``γ = N / ((N-1)(N-2)) Σ_i (x_i - x̄)³ / s³`` the sample skewness (the
    unbiased ``G1``, ``scipy.stats.skew(bias=False)``),
    ``t_skew = √N (S + γ S² / 3 + γ² S³ / 27 + γ / (6N))``: Johnson's (1978)
    correction plus Hall's cubic term, which keeps the transformation monotone.
    Null ``t(N - 1)``. Hall (1992), Annals of Statistics 20, 2, 1257-1263 (EventStudyTools
    "Skewness Corrected T").
    """
    n, mean, sd = _count_mean_sd(x)
    nf = n.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        if _kernels.HAVE_NUMBA and x.ndim == 2 and x.dtype == np.float64:
            cubes = np.empty(x.shape[1])  # the same sums, row by row, without temporaries
            _kernels.column_powers(x, mean, 3, cubes)
        else:
            dev = np.where(np.isfinite(x), x - mean[..., None, :], 0.0)
            # dev * dev * dev, not dev**3: numpy's general power is ~20x slower (1 ulp apart)
            cubes = (dev * dev * dev).sum(axis=-2)
        gamma = nf / ((nf - 1.0) * (nf - 2.0)) * cubes / sd**3
        s = mean / sd
        stat = np.sqrt(nf) * (s + gamma * s**2 / 3.0 + gamma**2 * s**3 / 27.0
                              + gamma / (6.0 * nf))
    reason = _reasons((n < 3, "fewer than 3 events"), (sd == 0, "zero cross-sectional variance"),
                      shape=stat.shape)
    return _raw("skew_t", stat, _T, (n - 1.0).astype(np.float64), n, reason,
                extra={"gamma": gamma})
