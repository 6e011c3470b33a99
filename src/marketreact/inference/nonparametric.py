"""Nonparametric tests: sign, generalized sign, Corrado rank, Wilcoxon, event bootstrap."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import stats

from marketreact._typing import FloatArray, IntArray
from marketreact.inference import base
from marketreact.inference.base import (
    _NORMAL,
    Alternative,
    RowBlocks,
    _continuous_p,
    _count_mean_sd,
    _est_rows,
    _event_blocks,
    _is_blocks,
    _Raw,
    _raw,
    _reasons,
    _sum_rows,
)
from marketreact.inference.parametric import EstimationSummary, _summary


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
    if a.ndim == 2 and a.size > base._BLOCK_ELEMENTS and len(a) > 1:
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
    small = not _is_blocks(est) and (len(est.shape) != 2
                                     or n * l1 + ar.size <= base._BLOCK_ELEMENTS)
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
    block = max(1, min(block, 8 * base._BLOCK_ELEMENTS // max(n, 1)))
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
