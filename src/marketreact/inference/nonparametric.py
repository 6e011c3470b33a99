"""Nonparametric tests: sign, generalized sign, Corrado rank, Wilcoxon, event bootstrap."""

from __future__ import annotations

import math
import os
import queue
import threading
import warnings
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from enum import StrEnum
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import stats

from marketreact._typing import FloatArray, IntArray
from marketreact.inference import _kernels, base
from marketreact.inference.base import (
    _NORMAL,
    Alternative,
    RowBlocks,
    _continuous_p,
    _count_mean_sd,
    _each_on_cores,
    _est_rows,
    _event_blocks,
    _is_blocks,
    _Raw,
    _raw,
    _reasons,
    _sum_rows,
    tail_p,
)
from marketreact.inference.parametric import EstimationSummary, SummarisingBlocks, _summary


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
        return tail_p(stats.binom.sf(w - 1, n, 0.5), stats.binom.cdf(w, n, 0.5), alt)

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
        blocks = _event_blocks(len(a), a.shape[1])

        def rank_block(sl: slice) -> None:
            ranks_out[sl], ties_out[sl] = average_ranks(a[sl])

        # rows are ranked independently: the blocks go to every core (numpy's sort and
        # the compiled loop release the GIL), with the same numbers as one after another
        _each_on_cores(rank_block, blocks)
        return ranks_out, ties_out
    if _kernels.HAVE_NUMBA and a.ndim in (2, 3):
        x = np.ascontiguousarray(a, dtype=float)
        x3 = _kernels.batch_view if x.ndim == 2 else _kernels.same
        order, n_ok = _kernels.argsort_rows(x)
        ranks = np.full(x.shape, np.nan)
        ties = np.empty(x.shape[:-1])
        _kernels.ranks_by_order(x3(x), x3(order), x3(n_ok), x3(ranks), x3(ties))
        return ranks, ties
    ranks, ties, _ = _ranks_and_sorted(a)
    return ranks, ties


def _ranks_and_sorted(a: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """:func:`average_ranks` and the rows sorted ascending (non-finite values last, as inf)."""
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
    return np.where(ok, ranks, np.nan), ties, srt


def rank_tests(est: FloatArray | RowBlocks, ar: FloatArray,
               windows: Sequence[slice], *, extended: bool = False
               ) -> tuple[_Raw, _Raw] | dict[str, tuple[_Raw, _Raw]]:
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

    With ``extended=True`` the same ranking also gives (returned as a dict of
    ``name -> (day, window)`` with ``rank``, ``mrank`` and ``csign``):

    * ``mrank``, estudy2's ``modified_rank_test``: the same scaled ranks, with
      ``S²`` divided by the mean number of values per event ``T̄ = Σ_i T_i / N``
      instead of the number of days ``T`` (equal without missing values), so
      ``Z_t = (Σ_i U_it / √N_t) / √((1/T̄) Σ_t (Σ_i U_it)² / N_t)``;
    * ``csign``, the sign test of Corrado & Zivney (1992, eq. 5-6) as estudy2's
      ``corrado_sign_test``: ``G_it = sign(x_it - median_i)`` with ``median_i``
      the median of event ``i``'s ``T_i`` values, in place of ``U_it`` and with
      the ``T̄`` divisor.

    Windows of ``mrank`` and ``csign`` cumulate as the rank test does.
    """
    ranked = _ranked_statistics(_rank_sums(est, ar, signs=extended), est.shape[-1], windows,
                                extended)
    return ranked if extended else ranked["rank"]


def _ranked_statistics(sums: tuple[FloatArray, IntArray, IntArray, FloatArray | None],
                       l1: int, windows: Sequence[slice], extended: bool
                       ) -> dict[str, tuple[_Raw, _Raw]]:
    """``rank`` (and with ``extended`` ``mrank``, ``csign``) from the score sums."""
    u_sum, n_t, n_ev, g_sum = sums
    rank = _score_statistics("rank", u_sum, n_t, n_ev, None, l1, windows)
    if not extended:
        return {"rank": rank}
    assert g_sum is not None
    with np.errstate(invalid="ignore", divide="ignore"):
        t_bar = n_t.sum(axis=-1) / n_ev
    return {"rank": rank,
            "mrank": _score_statistics("mrank", u_sum, n_t, n_ev, t_bar, l1, windows),
            "csign": _score_statistics("csign", g_sum, n_t, n_ev, t_bar, l1, windows)}


def _score_statistics(name: str, u_sum: FloatArray, n_t: IntArray, n_ev: IntArray,
                      divisor: FloatArray | None, l1: int,
                      windows: Sequence[slice]) -> tuple[_Raw, _Raw]:
    """Day and window statistics from per-day sums of scores (ranks or signs) over events.

    ``divisor`` divides ``Σ_t (N_t/N) Ū_t²``: the days with data when ``None``.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        ubar = np.where(n_t > 0, u_sum / np.maximum(n_t, 1), 0.0)
        days = (n_t > 0).sum(axis=-1) if divisor is None else divisor
        s2 = (n_t / n_ev[..., None] * ubar**2).sum(axis=-1) / days
        s = np.sqrt(s2)
        inv = np.where(n_t > 0, n_ev[..., None] / np.maximum(n_t, 1), np.nan)
        ub_evt, inv_evt = ubar[..., l1:], inv[..., l1:]
        n_evt = n_t[..., l1:]
        stat = ub_evt / (s[..., None] * np.sqrt(inv_evt))
    what = "sign" if name == "csign" else "rank"
    zero_s = np.broadcast_to((s == 0)[..., None], stat.shape)
    reason = _reasons((n_evt < 1, "no events"), (zero_s, f"zero variance of the mean {what}"),
                      shape=stat.shape)
    day = _raw(name, stat, _NORMAL, None, n_evt, reason)
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
                        f"zero variance of the mean {what}"), shape=shape)
    return day, _raw(name, wstat, _NORMAL, None, wcount, wreason)


def _row_medians(srt: FloatArray, t_i: IntArray) -> FloatArray:
    """Medians of rows sorted ascending with their ``t_i`` finite values first."""
    lo = np.maximum((t_i - 1) // 2, 0)
    hi = np.maximum(t_i // 2, 0)
    a = np.take_along_axis(srt, lo[..., None], axis=-1)[..., 0]
    b = np.take_along_axis(srt, hi[..., None], axis=-1)[..., 0]
    return np.where(t_i > 0, (a + b) / 2.0, np.nan)


def _rank_sums(est: FloatArray | RowBlocks, ar: FloatArray, signs: bool = False
               ) -> tuple[FloatArray, IntArray, IntArray, FloatArray | None]:
    """Sums over events of the scaled ranks ``U``, events with data per day, and events.

    With ``signs`` also the sums of ``sign(x - median_i)`` (Corrado-Zivney signs).
    Large ``(N, L)`` inputs are ranked a block of events at a time (each event's
    values are ranked on their own; the sums run over events in order).
    """
    n, l1 = est.shape[-2], est.shape[-1]
    if _kernels.HAVE_NUMBA and len(est.shape) in (2, 3):
        ranked, _ = _compiled_pass(est, ar, signs, None, [])
        assert ranked is not None
        return ranked
    small = not _is_blocks(est) and (len(est.shape) != 2
                                     or n * l1 + ar.size <= base._BLOCK_ELEMENTS)
    blocks = [slice(None)] if small else _event_blocks(n, l1 + ar.shape[-1])
    u_sum: np.ndarray | None = None
    n_t: np.ndarray | None = None
    g_sum: np.ndarray | None = None
    n_ev: Any = 0
    for sl in blocks:
        both = np.concatenate([_est_rows(est, sl), ar[..., sl, :]], axis=-1)
        ok = np.isfinite(both)
        ranks, _, srt = _ranks_and_sorted(both)
        t_i = ok.sum(axis=-1, keepdims=True)
        u = np.where(ok, ranks / (t_i + 1.0) - 0.5, 0.0)
        g = None
        if signs:
            med = _row_medians(srt, t_i[..., 0])
            g = np.where(ok, np.sign(both - med[..., None]), 0.0)
        if len(blocks) == 1:
            return (u.sum(axis=-2), ok.sum(axis=-2), (t_i[..., 0] > 0).sum(axis=-1),
                    None if g is None else g.sum(axis=-2))
        u_sum = _sum_rows(u_sum, u)
        n_t = _sum_rows(n_t, ok.astype(np.int64))
        if g is not None:
            g_sum = _sum_rows(g_sum, g)
        n_ev = n_ev + (t_i[..., 0] > 0).sum(axis=-1)
    assert u_sum is not None and n_t is not None
    return u_sum, n_t, np.asarray(n_ev), g_sum


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


def _signed_rank_sums(x: FloatArray) -> tuple[IntArray, FloatArray, FloatArray]:
    """``n``, ``W⁺`` and ``Σ(t³ - t)`` of each column of ``x`` (events second to last).

    Each column's non-zero ``|x|`` (``n`` of them) are sorted with their signs, and the
    average ranks of the positive ones added up (:func:`_signed_rank_block`), a block of
    columns at a time on every core.
    """
    n = x.shape[-2]
    lead = (*x.shape[:-2], x.shape[-1])
    # a column per row (a view of a 2-D x)
    cols = np.moveaxis(x, -2, -1).reshape(math.prod(lead), n)
    w_plus, ties = np.empty(len(cols)), np.empty(len(cols))
    count = np.empty(len(cols), np.int64)

    def block(sl: slice) -> None:
        count[sl], w_plus[sl], ties[sl] = _signed_rank_block(cols[sl])

    _each_on_cores(block, _event_blocks(len(cols), 2 * n))  # (a few columns per block)
    return count.reshape(lead), w_plus.reshape(lead), ties.reshape(lead)


_NO_KEY = np.iinfo(np.uint64).max


def _signed_rank_block(c: FloatArray) -> tuple[IntArray, FloatArray, FloatArray]:
    """``n``, ``W⁺`` and the tie term of each row of ``c`` by one sort, without ranking.

    The bits of ``|x|`` (a non-negative float) read as an unsigned integer keep the
    order of the values and leave the top bit free: shifted up one bit, with the sign
    (``x > 0``) in the lowest, they make keys whose sorted order is that of ``|x|``,
    negative values before positive ones within a tie. Zero and non-finite values get
    the largest key (last, not counted). Sorting the keys of a row (integers: no
    argsort, no gather) then gives every tie group as a run of equal ``|x|`` at sorted
    places ``j .. k - 1``, all of rank ``(j + k + 1) / 2``: ``W⁺`` adds that rank once
    for each positive value of the run, the tie term ``t³ - t`` once per run.
    """
    c = np.ascontiguousarray(c, dtype=float)
    ok = np.isfinite(c) & (c != 0)
    keys = np.abs(c).view(np.uint64) << np.uint64(1)
    keys |= c > 0
    keys[~ok] = _NO_KEY
    keys.sort(axis=-1)
    n_ok = ok.sum(axis=-1)
    if _kernels.HAVE_NUMBA:
        w2, ties = np.empty(len(c), np.int64), np.empty(len(c))
        _kernels.signed_rank_runs(keys, n_ok, w2, ties)
        return n_ok, w2 / 2.0, ties
    # the same runs with whole-row operations: each place's run [start, end)
    width = c.shape[-1]
    places = np.arange(width)
    magnitude = keys >> np.uint64(1)
    starts_run = np.ones(c.shape, bool)
    np.not_equal(magnitude[:, 1:], magnitude[:, :-1], out=starts_run[:, 1:])
    ends_run = np.ones(c.shape, bool)
    ends_run[:, :-1] = starts_run[:, 1:]
    start = np.maximum.accumulate(np.where(starts_run, places, 0), axis=-1)
    end = np.minimum.accumulate(np.where(ends_run, places + 1, width)[:, ::-1],
                                axis=-1)[:, ::-1]
    counted = places < n_ok[:, None]
    positive = counted & (keys & np.uint64(1)).astype(bool)
    w2 = np.sum(start + end + 1, axis=-1, where=positive)
    size = end - start  # each of a run's t places adds t² - 1: t³ - t per run
    return n_ok, w2 / 2.0, np.sum(size * size - 1, axis=-1, where=counted).astype(float)


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
    n, w_plus, tie_term = _signed_rank_sums(x)
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
        return np.where(exact, tail_p(upper, lower, alt), approx)

    reason = _reasons((n < 1, "no non-zero values"), (var <= 0, "zero variance"),
                      shape=stat.shape)
    return _raw("wilcoxon", stat, "wilcoxon", None, n, reason, pfunc=pfunc,
                extra={"w_plus": w_plus, "exact": exact.astype(float)})


#: Events from which the bootstrap draws and counts its resamples on several threads (below
#: it, thread start-up costs more than it saves; the numbers are the same either way).
_PARALLEL_DRAWS = 20_000


class BootstrapStreams(StrEnum):
    """Where the bootstrap's random draws come from (see :func:`bootstrap_means`)."""

    per_resample = "per-resample"
    sequential = "sequential"


def bootstrap_means(x: FloatArray, n_boot: int, seed: int, block: int = 128,
                    streams: BootstrapStreams | str = BootstrapStreams.per_resample,
                    overwrite_x: bool = False) -> FloatArray:
    """Means of ``x`` over events resampled with replacement, ``(..., B, C)``.

    The same ``n_boot`` resamples of event indices serve every column and every
    leading batch; missing values are left out of each resampled mean. Events are
    put in a canonical order first (by a fingerprint of their values), so the
    result does not depend on the order of the events. Each resample is a row of
    counts (how often each event was drawn), so the means are one matrix product
    per block of resamples.

    ``streams`` says where each resample's ``n`` uniform draws come from; both are
    the same scheme (resampling ``n`` of ``n`` events with replacement, each
    resample independent of the others), with different random numbers:

    * ``per-resample`` (default): resample ``b`` draws from a generator of its own,
      ``numpy.random.Generator(SFC64(SeedSequence(seed).spawn(n_boot)[b]))``
      (``integers(0, n, size=n, dtype=int32)``), so resamples are drawn and counted
      on several threads at once with the same numbers however many there are (with
      numba a compiled loop makes the same draws and counts them as it goes);
    * ``sequential``: one generator, ``numpy.random.default_rng(seed)``, draws
      resample after resample (the scheme of earlier releases, kept so that their
      results can be reproduced).

    ``overwrite_x``: ``x`` (float64, C-ordered) is the caller's scratch, whose memory
    may hold the values put in order (saving a copy as large as ``x``).
    """
    streams = BootstrapStreams(streams)
    n = x.shape[-2]
    # fewer resamples per block for many events (the draws are the same either way)
    block = max(1, min(block, n_boot, 4 * base._BLOCK_ELEMENTS // max(n, 1)))
    ok = np.isfinite(x)
    complete = bool(ok.all())
    reuse = overwrite_x and x.dtype == np.float64 and x.flags.c_contiguous and x.flags.writeable
    if reuse:
        xf = x
        np.copyto(xf, 0.0, where=~ok)
    else:
        xf = np.where(ok, x, 0.0)
    okf = ok.astype(float)
    # resample events in a canonical order (by a fingerprint of their values), so that the
    # result does not depend on the order in which events were given
    weights = np.random.default_rng(12345).uniform(1.0, 2.0, size=(2, x.shape[-1]))
    key = xf @ weights[0] + okf @ weights[1]
    del okf  # (a float copy of ok, as large as x: made again below only if needed)
    order = np.argsort(key, axis=-1, kind="stable")[..., None]
    if reuse:
        xf[...] = np.take_along_axis(xf, order, axis=-2)
    else:
        xf = np.take_along_axis(xf, order, axis=-2)
    ok = np.take_along_axis(ok, order, axis=-2)
    # with missing values a resampled mean divides by the draws of the events that have the
    # value: n less the draws of those that do not (whole numbers, so exact in any order)
    missing = okf = None
    if not complete and x.ndim == 2:
        missing = np.nonzero(~ok)  # (event, column) of every missing value
    elif not complete:
        okf = ok.astype(float)
    out = np.full((*x.shape[:-2], n_boot, x.shape[-1]), np.nan)
    if not (n_boot and n):  # no events: no resampled mean
        return out
    # resamples with generators of their own are drawn and counted on every core (numpy's
    # generators and the counting loops release the GIL; each resample has its own row),
    # the next block while this one's means are taken (two sets of rows: halving the blocks
    # instead was slower, every block reads all of ``xf``)
    workers = min(os.cpu_count() or 1, block)
    parallel = (streams is BootstrapStreams.per_resample and workers > 1
                and n >= _PARALLEL_DRAWS)
    # how often each event was drawn, a row per resample; the draws with a value, by column
    counts = [np.empty((block, n)) for _ in range(1 + parallel)]
    dens = [np.empty((block, x.shape[-1])) for _ in range(1 + parallel)]
    if streams is BootstrapStreams.sequential:
        rng = np.random.default_rng(seed)

        def draw(r: int) -> IntArray:
            return np.asarray(rng.integers(0, n, size=n, dtype=np.int32))
    else:
        own = np.random.SeedSequence(seed).spawn(n_boot)

        def generator(r: int) -> np.random.SFC64:
            return np.random.SFC64(own[r])

        def draw(r: int) -> IntArray:
            return np.asarray(np.random.Generator(generator(r)).integers(0, n, size=n,
                                                                         dtype=np.int32))

    scratch = threading.local()  # each thread's uint8 counts (see _kernels.count_draws)
    no_cells = np.empty(0, np.intp)
    cells = missing if missing is not None else (no_cells, no_cells)

    def count(r: int, lo: int, rows: FloatArray, cols: FloatArray) -> None:
        row, den = rows[r - lo], cols[r - lo]
        idx = None
        if _kernels.HAVE_NUMBA:
            if not hasattr(scratch, "counts"):
                scratch.counts = np.empty(n, np.uint8)
            den_or_none = den if missing is not None else den[:0]
            if streams is BootstrapStreams.per_resample:  # drawn and counted in one loop
                state = generator(r).state["state"]["state"]
                if _kernels.draw_counts(state, scratch.counts, cells[0], cells[1], row,
                                        den_or_none):
                    return
            else:
                idx = draw(r)
                if _kernels.count_draws(idx, scratch.counts, cells[0], cells[1], row,
                                        den_or_none):
                    return
        # without numba, or after an overflow of the compact counts (the same draws: a
        # resample's own generator starts afresh, the sequential draws are kept)
        row[:] = np.bincount(draw(r) if idx is None else idx, minlength=n)
        if missing is not None:
            den[:] = n - np.bincount(missing[1], weights=row[missing[0]],
                                     minlength=x.shape[-1])

    def means(lo: int, b: int, rows: FloatArray, cols: FloatArray) -> None:
        c = rows[:b]
        num = c @ xf
        if complete:
            out[..., lo:lo + b, :] = num / n
            return
        den = cols[:b] if missing is not None else c @ okf
        with np.errstate(invalid="ignore", divide="ignore"):
            out[..., lo:lo + b, :] = np.where(den > 0, num / den, np.nan)

    starts = list(range(0, n_boot, block))
    if not parallel:
        for lo in starts:
            hi = min(lo + block, n_boot)
            for r in range(lo, hi):
                count(r, lo, counts[0], dens[0])
            means(lo, hi - lo, counts[0], dens[0])
        return out
    with ThreadPoolExecutor(workers) as pool:

        def submit(k: int) -> list[Any]:
            lo, hi = starts[k], min(starts[k] + block, n_boot)
            return [pool.submit(count, r, lo, counts[k % 2], dens[k % 2])
                    for r in range(lo, hi)]

        pending = submit(0)
        for k, lo in enumerate(starts):
            for job in pending:
                job.result()
            pending = submit(k + 1) if k + 1 < len(starts) else []
            means(lo, min(block, n_boot - lo), counts[k % 2], dens[k % 2])
    return out


def bootstrap(x: FloatArray, n_boot: int = 999, seed: int = 0,
              confidence: float = 0.95,
              streams: BootstrapStreams | str = BootstrapStreams.per_resample,
              overwrite_x: bool = False) -> _Raw:
    """Bootstrap of the mean over events with a percentile interval.

    Events are resampled with replacement ``n_boot`` times (seeded); the
    interval is the ``(1-c)/2`` and ``(1+c)/2`` quantiles of the resampled means
    (Efron & Tibshirani 1993, eq. 13.5). The p-value inverts the percentile
    interval: for ``greater`` it is ``(1 + #{θ* <= 0}) / (B + 1)``, for ``less``
    ``(1 + #{θ* >= 0}) / (B + 1)``, two-sided twice the smaller (capped at 1),
    so 0 lies outside the ``1-α`` interval about when ``p < α``. The statistic
    shown is the mean divided by the bootstrap standard error. ``streams`` and
    ``overwrite_x``: see :func:`bootstrap_means`.
    """
    n, mean, _ = _count_mean_sd(x)
    shape = mean.shape
    if n_boot <= 0:
        nan = np.full(shape, np.nan)
        reason = np.full(shape, "bootstrap switched off (n_boot = 0)", dtype=object)
        return _Raw("boot", nan, "bootstrap", None, n, reason,
                    pfunc=lambda alt: nan, extra={"lo": nan, "hi": nan})
    means = bootstrap_means(x, n_boot, seed, streams=streams, overwrite_x=overwrite_x)
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
        return tail_p(p_greater, p_less, alt)

    reason = _reasons((n < 2, "fewer than 2 events"), (se == 0, "zero bootstrap variance"),
                      shape=shape)
    return _raw("boot", stat, "bootstrap", None, n, reason, pfunc=pfunc,
                extra={"lo": lo, "hi": hi, "se": se})


def _add_rows(total: Any, part: np.ndarray) -> np.ndarray:
    """``total`` plus the sum of ``part`` over its event axis (blocks only come 2-D)."""
    return part.sum(axis=-2) if total is None else _sum_rows(total, part)


def generalized_rank(est: FloatArray | RowBlocks, sigma2: FloatArray, sx: FloatArray
                     ) -> tuple[_Raw, _Raw]:
    """Generalized rank test (GRANK) of Kolari & Pynnönen (2011), Z and t forms.

    For each column ``d`` of ``sx`` (standardised ARs of one day, or standardised
    CARs of one window: ``CAR_i / √V_i``) the values are restandardised by their
    cross-sectional SD (ddof 1) to ``v_id = sx_id / S_d``, which allows for
    event-induced variance (KP 2011, eq. 4). ``v_id`` is ranked among event
    ``i``'s standardised estimation residuals ``e_iτ / s_i`` (``T_i = m_i + 1``
    values; average ranks for ties) and scaled as ``U = K / (T_i + 1) - 1/2``
    (eq. 6). With ``Ū_t`` the mean over the ``N_t`` events with data on
    relative day ``t`` (the estimation days and the event observation ``0``),
    ``S_Ū² = (1/T) Σ_t (N_t/N) Ū_t²`` over the ``T`` such days (eq. 8),
    ``Z = Ū_0 / S_Ū`` (eq. 7) and
    ``t_grank = Z √((T - 2) / (T - 1 - Z²))`` with null ``t(T - 2)`` (eq. 9);
    the Z form is judged against N(0, 1). Events enter a column when they have
    a finite ``v_id`` and a residual variance. The ranks of the event
    observation alone are found by counting (no sort per column); the
    estimation residuals are ranked once.

    Returns
    -------
    grank_t, grank_z : _Raw
        Statistics shaped like ``sx`` without its event axis.
    """
    sig, v, use = _grank_inputs(est, sigma2, sx)
    n, l1 = est.shape[-2], est.shape[-1]
    if _kernels.HAVE_NUMBA and v.shape[-1] and len(est.shape) in (2, 3):
        _, sums = _compiled_pass(est, None, False, sig, [(v, use)])
        return _grank_statistics(*sums[0])
    return _grank_statistics(*_grank_sums_numpy(est, sig, v, use, n, l1))


def _grank_inputs(est: Any, sigma2: FloatArray, sx: FloatArray
                  ) -> tuple[FloatArray, FloatArray, np.ndarray]:
    """Residual SDs ``s_i``, restandardised values ``v = sx / S_d`` and whether each enters."""
    sx = np.asarray(sx, float)
    sig = np.sqrt(np.asarray(sigma2, float))
    with np.errstate(invalid="ignore", divide="ignore"):
        _, _, sd = _count_mean_sd(sx)
        v = sx / sd[..., None, :]
    has_var = np.isfinite(sig) & (sig > 0)
    use = np.isfinite(v) & has_var[..., None]
    return sig, v, use


def _grank_statistics(est_s: FloatArray, est_c: IntArray, u0_sum: FloatArray,
                      n_col: IntArray) -> tuple[_Raw, _Raw]:
    """GRANK's t and Z from the sums over events of the scores (KP 2011, eq. 7-9)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ubar_est = np.where(est_c > 0, est_s / np.maximum(est_c, 1), 0.0)
        ubar0 = u0_sum / n_col
        nn = n_col[..., None]
        days = (est_c > 0).sum(axis=-1) + (n_col > 0)
        s2 = ((est_c / nn * ubar_est**2).sum(axis=-1) + ubar0**2) / days
        zstat = ubar0 / np.sqrt(s2)
        tdays = days.astype(float)
        tstat = zstat * np.sqrt((tdays - 2.0) / (tdays - 1.0 - zstat**2))
    reason = _reasons((n_col < 1, "no events with estimation residuals"),
                      (days < 3, "fewer than 3 days with ranks"),
                      (s2 == 0, "zero variance of the mean rank"), shape=zstat.shape)
    return (_raw("grank_t", tstat, base._T, tdays - 2.0, n_col, reason),
            _raw("grank_z", zstat, _NORMAL, None, n_col, reason))


def _grank_sums_numpy(est: FloatArray | RowBlocks, sig: FloatArray, v: FloatArray,
                      use: np.ndarray, n: int, l1: int
                      ) -> tuple[FloatArray, IntArray, FloatArray, IntArray]:
    """GRANK's sums over events in numpy: ``(…, D, L1)`` score sums and counts, ``(…, D)``.

    One ``(events x estimation days)`` comparison per column; large studies in
    blocks of events (the running sums are carried, so blocks give the same numbers).
    """
    n_cols = v.shape[-1]
    small = not _is_blocks(est) and (len(est.shape) != 2
                                     or n * l1 * max(n_cols, 1) <= base._BLOCK_ELEMENTS)
    blocks = [slice(None)] if small else _event_blocks(n, l1 * max(n_cols, 1))
    # running sums over events, carried between blocks so that blocks give the same numbers
    est_sum: list[Any] = [None] * n_cols  # per column: (..., L1) sums of U over events
    est_cnt: list[Any] = [None] * n_cols  # per column: (..., L1) events with data
    u0_sum: Any = None  # (..., D)
    n_col: Any = None
    for sl in blocks:
        e = _est_rows(est, sl)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = e / sig[..., sl, None]
        ok = np.isfinite(z)
        r, _ = average_ranks(z)  # ranks among the estimation values alone
        m = ok.sum(axis=-1)
        denom = m + 2.0  # T_i + 1 with T_i = m_i + 1
        vb = v[..., sl, :]
        ub = use[..., sl, :] & (m > 0)[..., None]
        base_u = np.where(ok, r / denom[..., None] - 0.5, 0.0)  # (..., B, L1)
        zf = np.where(ok, z, np.nan)
        k_v = np.empty(vb.shape)
        for d in range(n_cols):
            vd = vb[..., d, None]
            gt = vd < zf  # the event value below an estimation value lifts that value's rank
            eq = vd == zf
            inside = ub[..., d, None] & ok
            u = np.where(inside, base_u + (gt + 0.5 * eq) / denom[..., None], 0.0)
            est_sum[d] = _add_rows(est_sum[d], u)
            est_cnt[d] = _add_rows(est_cnt[d], inside.astype(np.int64))
            k_v[..., d] = 1.0 + m - gt.sum(axis=-1) - 0.5 * eq.sum(axis=-1)
        u0_sum = _add_rows(u0_sum, np.where(ub, k_v / denom[..., None] - 0.5, 0.0))
        n_col = _add_rows(n_col, ub.astype(np.int64))
    shape_dl = (*v.shape[:-2], n_cols, l1)
    est_s = np.stack(est_sum, axis=-2) if n_cols else np.zeros(shape_dl)
    est_c = np.stack(est_cnt, axis=-2) if n_cols else np.zeros(shape_dl, np.int64)
    return est_s, est_c, np.asarray(u0_sum), np.asarray(n_col)


class _BlockScratch:
    """Arrays for one block of :func:`_compiled_pass` (``rows x L1``), reused block after block."""

    def __init__(self, rows: int, l1: int, grank: bool, computed: bool) -> None:
        self.residuals = np.empty((rows, l1) if computed else (0, l1))
        self.order = np.empty((rows, l1), np.int64)
        self.z = np.empty((rows, l1) if grank else (0, l1))
        self.scores = np.empty((rows, l1) if grank else (0, l1))


def _compiled_pass(est: FloatArray | RowBlocks, ar: FloatArray | None, signs: bool,
                   sig: FloatArray | None, grank: list[tuple[FloatArray, np.ndarray]]
                   ) -> tuple[tuple[FloatArray, IntArray, IntArray, FloatArray | None] | None,
                              list[tuple[FloatArray, IntArray, FloatArray, IntArray]]]:
    """The rank sums of :func:`_rank_sums` and GRANK's sums, in one pass over events.

    Each block of estimation residuals is read and argsorted once; compiled loops
    then rank the event-window values with them (the Corrado-type scores, when
    ``ar`` is given) and re-rank them with each GRANK value of every ``(v, use)``
    in ``grank`` (``sig``: the residual SDs). Events are added one after another
    with the operations of the numpy code, so the numbers are the same. With several
    blocks, the next blocks' residuals, orders and GRANK scores are made on other
    threads (one per core, up to two) while the current block's sums are added (the
    compiled loops and numpy's sorts and gathers release the GIL; the sums stay on one
    thread, in event order).
    """
    n, l1 = est.shape[-2], est.shape[-1]
    flat = len(est.shape) == 2
    x3 = _kernels.batch_view if flat else _kernels.same
    lead = tuple(est.shape[:-2])
    width = l1 + (0 if ar is None else ar.shape[-1]) + 8 * len(grank)
    small = not _is_blocks(est) and (not flat or n * width <= base._BLOCK_ELEMENTS)
    # with several blocks, ``ahead`` of them are prepared at once (one per core), each half
    # as large: the blocks in memory at any time take about the room of two whole ones
    ahead = 1 if small else max(1, min(2, os.cpu_count() or 1))
    blocks = [slice(None)] if small else _event_blocks(n, width * ahead)
    ranked: Any = None
    if ar is not None:
        l2 = ar.shape[-1]
        ranked = (np.zeros((*lead, l1 + l2)), np.zeros((*lead, l1 + l2), np.int64),
                  np.zeros(lead, np.int64), np.zeros((*lead, l1 + l2)))
    sums: list[Any] = [[np.zeros((*lead, v.shape[-1], l1)),
                        np.zeros((*lead, v.shape[-1], l1), np.int64), None, None]
                       for v, _ in grank]

    # an estimation summary riding on the pass is fed on this (the summing) thread, block
    # after block: the preparing thread is the busier one
    source, summary = ((est.est, est.summary) if isinstance(est, SummarisingBlocks)
                       else (est, None))

    # the blocks' largest arrays come from scratch sets reused block after block (fresh
    # memory for every block cost more in page faults than the work done in it): one set
    # per block being prepared or added up
    spare: queue.SimpleQueue[_BlockScratch] | None = None
    if flat and not small:
        spare = queue.SimpleQueue()
        for _ in range(ahead + 1):
            spare.put(_BlockScratch(blocks[0].stop - blocks[0].start, l1, bool(grank),
                                    computed=_is_blocks(source)))

    def prepare(sl: slice) -> tuple[Any, ...]:
        """A block's residuals, their order, the window values' order, GRANK's scores."""
        scratch = spare.get() if spare is not None else None
        rows = len(range(*sl.indices(n)))
        computed = scratch is not None and len(scratch.residuals)
        e = np.ascontiguousarray(_est_rows(source, sl, scratch.residuals[:rows] if computed
                                           else None), dtype=float)
        order, n_e = _kernels.argsort_rows(e, None if scratch is None
                                           else scratch.order[:rows])
        a = order_a = n_a = None
        if ar is not None:
            a = np.ascontiguousarray(ar[..., sl, :], dtype=float)
            order_a, n_a = _kernels.argsort_rows(a)
        scores = None
        if grank:
            assert sig is not None
            # z = e / s_i, m_i and T_i + 1 = m_i + 2; z's scores among themselves from its
            # average ranks (z keeps the order of e: its argsort serves), 0 where missing
            zf, base_u = ((np.empty(e.shape), np.empty(e.shape)) if scratch is None
                          else (scratch.z[:rows], scratch.scores[:rows]))
            m, denom = np.empty(e.shape[:-1], np.int64), np.empty(e.shape[:-1])
            _kernels.grank_prepare(x3(e), x3(np.ascontiguousarray(sig[..., sl], dtype=float)),
                                   x3(zf), x3(m), x3(denom))
            _kernels.grank_scores(x3(zf), x3(order), x3(n_e), x3(denom), x3(base_u))
            scores = zf, base_u, m, denom
        return e, order, n_e, a, order_a, n_a, scores, scratch

    # with several blocks, the next ones are prepared on other threads while this one is
    # added up (the sums stay in this thread, block after block, in order: same numbers)
    with ThreadPoolExecutor(ahead) if len(blocks) > 1 else nullcontext() as pool:
        pending = (deque(pool.submit(prepare, b) for b in blocks[:ahead])
                   if pool is not None else deque())
        for k, sl in enumerate(blocks):
            if pool is not None:
                e, order, n_e, a, order_a, n_a, scores, scratch = pending.popleft().result()
                if k + ahead < len(blocks):
                    pending.append(pool.submit(prepare, blocks[k + ahead]))
            else:
                e, order, n_e, a, order_a, n_a, scores, scratch = prepare(sl)
            if summary is not None:
                summary.add(sl, e)
            if ar is not None:
                u_sum, n_t, n_ev, g_sum = ranked
                _kernels.rank_score_block(x3(e), x3(order), x3(n_e), x3(a), x3(order_a),
                                          x3(n_a), signs, x3(u_sum), x3(n_t), x3(g_sum),
                                          x3(n_ev))
            if scores is not None:
                zf, base_u, m, denom = scores
                for (v, use), acc in zip(grank, sums, strict=True):
                    ub = np.ascontiguousarray(use[..., sl, :] & (m > 0)[..., None])
                    vb = np.ascontiguousarray(v[..., sl, :], dtype=float)
                    k_v = np.full(vb.shape, np.nan)
                    _kernels.grank_block(x3(zf), x3(base_u), x3(denom), x3(m), x3(vb),
                                         x3(ub), x3(acc[0]), x3(acc[1]), x3(k_v))
                    with np.errstate(invalid="ignore"):
                        acc[2] = _add_rows(acc[2], np.where(ub, k_v / denom[..., None] - 0.5,
                                                            0.0))
                    acc[3] = _add_rows(acc[3], ub.astype(np.int64))
            if spare is not None and scratch is not None:
                spare.put(scratch)  # (this block is added up: its arrays may be reused)
    if ranked is not None and not signs:
        ranked = (*ranked[:3], None)
    return ranked, [(a, c, np.asarray(u0), np.asarray(nc)) for a, c, u0, nc in sums]


def rank_family(est: FloatArray | RowBlocks, ar: FloatArray, sigma2: FloatArray,
                sar: FloatArray, csar: FloatArray, windows: Sequence[slice]
                ) -> tuple[dict[str, tuple[_Raw, _Raw]], tuple[_Raw, _Raw],
                           tuple[_Raw, _Raw]]:
    """The rank-based tests of the battery from one ranking of the residuals.

    Returns what ``rank_tests(est, ar, windows, extended=True)``,
    ``generalized_rank(est, sigma2, sar)`` and ``generalized_rank(est, sigma2, csar)``
    return (the same numbers). With numba, each block of estimation residuals is read
    and argsorted once for all of them; without, the three are computed apart.
    """
    if not (_kernels.HAVE_NUMBA and len(est.shape) in (2, 3)):
        ranked = rank_tests(est, ar, windows, extended=True)
        assert isinstance(ranked, dict)
        return (ranked, generalized_rank(est, sigma2, sar),
                generalized_rank(est, sigma2, csar))
    sig, v_day, use_day = _grank_inputs(est, sigma2, sar)
    _, v_win, use_win = _grank_inputs(est, sigma2, csar)
    sums_ranked, sums = _compiled_pass(est, ar, True, sig,
                                       [(v_day, use_day), (v_win, use_win)])
    assert sums_ranked is not None
    return (_ranked_statistics(sums_ranked, est.shape[-1], windows, extended=True),
            _grank_statistics(*sums[0]), _grank_statistics(*sums[1]))
