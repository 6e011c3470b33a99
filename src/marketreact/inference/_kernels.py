"""Compiled loops of the rank tests, the bootstrap, column moments and the placebo (numba).

The generalized rank test (GRANK) and the Corrado-type rank tests need, for every
event, the ranks of its values among each other and sums of the resulting scores
over events. numpy has no row-wise ``searchsorted`` and GRANK's re-ranking of the
estimation residuals with each event-window value included has no vectorised form
without an ``events x estimation days x columns`` temporary; the loops here do that
work in one pass without temporaries when `numba <https://numba.pydata.org>`_ is
installed (``pip install 'marketreact[fast]'``). Without it (or with the environment
variable ``MARKETREACT_NO_NUMBA`` set) the callers in
:mod:`marketreact.inference.nonparametric` and :mod:`marketreact.backtest.placebo` run
their numpy code instead.

Every kernel adds over events one after another, in event order, with the same
floating-point operations as the numpy code it replaces (numpy sums an array over its
event axis row after row), so both give the same numbers to the last bit;
``tests/inference/test_fast_ranks.py``, ``tests/inference/test_inference_speed.py`` and
``tests/backtest/test_placebo_kernel.py`` check it. The count, mean and SD of each
column of an ``events x columns`` array (:func:`marketreact.inference.base._count_mean_sd`,
read by most tests) come from two passes of compiled loops instead of masked temporaries.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from marketreact import _compiled
from marketreact._compiled import pairwise_sum as _pairwise_sum
from marketreact._typing import FloatArray

#: Whether the compiled kernels are used (see :mod:`marketreact._compiled`).
HAVE_NUMBA: bool = _compiled.HAVE_NUMBA
_Kernel = _compiled.Kernel


def _grank_block(z: FloatArray, base_u: FloatArray, denom: FloatArray, m: Any,
                 v: FloatArray, use: Any, acc: FloatArray, cnt: Any,
                 k_v: FloatArray) -> None:  # pragma: no cover - compiled
    """Accumulate GRANK's estimation-day scores of one block of events, in place.

    ``z`` (S, B, L1): standardised estimation residuals, NaN where missing;
    ``base_u`` (S, B, L1): their scaled ranks among themselves (0 where missing);
    ``denom``/``m`` (S, B): ``m_i + 2`` and ``m_i``; ``v``/``use`` (S, B, D): the
    event-window values and whether they enter. Adds to ``acc``/``cnt`` (S, D, L1)
    the scores ``U`` of each estimation day with the event's value of column ``d``
    included and the events counted; writes the rank ``K`` of each ``v`` to ``k_v``.
    """
    n_s, n_b, n_l = z.shape
    n_d = v.shape[2]
    for s in range(n_s):
        for i in range(n_b):
            den = denom[s, i]
            # (1[z > v] + 1/2 1[z = v]) / den takes three values (the indicators exclude
            # each other): divided once per event, the same numbers as dividing each time
            above = 1.0 / den
            tied = 0.5 / den
            zi, ui = z[s, i], base_u[s, i]  # (row views: the loop below compiles tighter)
            for d in range(n_d):
                if not use[s, i, d]:
                    continue
                vv = v[s, i, d]
                a_d, c_d = acc[s, d], cnt[s, d]
                n_gt = 0
                n_eq = 0
                for t in range(n_l):
                    zt = zi[t]
                    x = ui[t]  # adding 0.0 otherwise: the same number
                    if zt > vv:
                        x = x + above
                        n_gt += 1
                    elif zt == vv:
                        x = x + tied
                        n_eq += 1
                    a_d[t] += x
                    c_d[t] += zt == zt
                k_v[s, i, d] = 1.0 + m[s, i] - n_gt - 0.5 * n_eq


def _rank_row(x: FloatArray, order: Any, n_sorted: int, pos: Any, out: FloatArray
              ) -> tuple[float, int]:  # pragma: no cover - compiled
    """Average ranks of the finite values of one row ``x``, into ``out`` (see below).

    Only the finite values' places of ``out`` are written; ``pos[:n]`` gets those places
    in rank order. Returns ``Σ (t³ - t)`` over the tie groups and ``n``.
    """
    n = 0
    for j in range(n_sorted):
        t = order[j]
        if np.isfinite(x[t]):
            pos[n] = t
            n += 1
    j = 0
    tie = 0.0
    while j < n:
        k = j
        val = x[pos[j]]
        while k + 1 < n and x[pos[k + 1]] == val:
            k += 1
        rank = (j + k) / 2.0 + 1.0
        for q in range(j, k + 1):
            out[pos[q]] = rank
        size = k - j + 1.0
        tie += size * (size * size - 1.0)
        j = k + 1
    return tie, n


def _ranks_by_order(x: FloatArray, order: Any, n_sorted: Any, out: FloatArray,
                    ties: FloatArray) -> None:  # pragma: no cover - compiled
    """Average ranks (1 = smallest) of the finite values of each row of ``x``, into ``out``.

    ``order[s, i, :n_sorted[s, i]]`` lists positions of row ``i`` in an order in which
    its finite values do not decrease (the argsort of the row, or of values that
    ``x`` is a non-decreasing function of); positions whose ``x`` is not finite are
    skipped. Each value gets ``(start + end) / 2 + 1`` over the positions of its tie
    group, as :func:`~marketreact.inference.nonparametric.average_ranks`; ``out``
    must hold NaN where ``x`` is not finite. ``ties[s, i]`` gets ``Σ (t³ - t)`` over
    the tie groups (sizes ``t``) of the row.
    """
    n_s, n_b, n_l = x.shape
    pos = np.empty(n_l, np.int64)
    for s in range(n_s):
        for i in range(n_b):
            ties[s, i] = _rank_row(x[s, i], order[s, i], n_sorted[s, i], pos, out[s, i])[0]


def _grank_scores(z: FloatArray, order: Any, n_sorted: Any, denom: FloatArray,
                  out: FloatArray) -> None:  # pragma: no cover - compiled
    """GRANK's scores of each row of ``z`` among themselves, into ``out``.

    ``rank / denom - 1/2`` (average ranks as :func:`_ranks_by_order` gives them, ``denom``
    of shape (S, B)) where ``z`` is finite and 0 elsewhere: what the numpy code makes of
    the ranks (dividing, subtracting a half, NaN to 0) in one pass, the same numbers.
    """
    n_s, n_b, n_l = z.shape
    pos = np.empty(n_l, np.int64)
    for s in range(n_s):
        for i in range(n_b):
            row = out[s, i]
            for t in range(n_l):
                row[t] = 0.0
            n = _rank_row(z[s, i], order[s, i], n_sorted[s, i], pos, row)[1]
            den = denom[s, i]
            for q in range(n):
                row[pos[q]] = row[pos[q]] / den - 0.5


def _grank_prepare(e: FloatArray, sig: FloatArray, zf: FloatArray, m: Any,
                   denom: FloatArray) -> None:
    """GRANK's standardised residuals of one block, as the numpy code makes them.

    ``zf = e / s_i`` (NaN where not finite), ``m_i`` the finite ones and
    ``denom = m_i + 2``. Their scores among themselves come from
    :func:`_ranks_by_order`'s ranks of ``zf`` (the argsort of ``e`` serves: dividing by
    ``s_i > 0`` keeps the order).
    """
    n_s, n_b, n_l = e.shape
    for s in range(n_s):
        for i in range(n_b):
            sg = sig[s, i]
            cnt = 0
            for t in range(n_l):
                z = e[s, i, t] / sg
                if np.isfinite(z):
                    zf[s, i, t] = z
                    cnt += 1
                else:
                    zf[s, i, t] = np.nan
            m[s, i] = cnt
            denom[s, i] = cnt + 2.0


def _rank_score_block(est: FloatArray, order_e: Any, n_e: Any, ar: FloatArray,
                      order_a: Any, n_a: Any, signs: bool, u_sum: FloatArray, n_t: Any,
                      g_sum: FloatArray, n_ev: Any) -> None:
    """Corrado-type scores of one block of events added over events, in place.

    Each event's estimation residuals ``est`` (S, B, L1) and event-window values
    ``ar`` (S, B, L2) are ranked together (average ranks) by merging their two
    argsorts (``order_e``, ``order_a``; the first ``n_e``/``n_a`` entries are the
    finite values); ``U = K / (T_i + 1) - 1/2`` is added to ``u_sum``
    (S, L1 + L2), the values with data to ``n_t`` and, with ``signs``,
    ``sign(x - median_i)`` to ``g_sum``; events with data are counted in ``n_ev`` (S,).
    """
    n_s, n_b, l1 = est.shape
    l2 = ar.shape[2]
    vals = np.empty(l1 + l2)
    cols = np.empty(l1 + l2, np.int64)
    for s in range(n_s):
        for i in range(n_b):
            ne = n_e[s, i]
            na = n_a[s, i]
            t_i = ne + na
            ie = 0
            ia = 0
            for j in range(t_i):  # merge the two sorted rows
                if ia >= na or (ie < ne and est[s, i, order_e[s, i, ie]]
                                <= ar[s, i, order_a[s, i, ia]]):
                    cols[j] = order_e[s, i, ie]
                    vals[j] = est[s, i, cols[j]]
                    ie += 1
                else:
                    cols[j] = l1 + order_a[s, i, ia]
                    vals[j] = ar[s, i, order_a[s, i, ia]]
                    ia += 1
            if t_i == 0:
                continue
            n_ev[s] += 1
            med = (vals[max((t_i - 1) // 2, 0)] + vals[max(t_i // 2, 0)]) / 2.0
            scale = t_i + 1.0
            j = 0
            while j < t_i:
                k = j
                while k + 1 < t_i and vals[k + 1] == vals[j]:
                    k += 1
                rank = (j + k) / 2.0 + 1.0
                u = rank / scale - 0.5
                for q in range(j, k + 1):
                    c = cols[q]
                    u_sum[s, c] += u
                    n_t[s, c] += 1
                    if signs:
                        dev = vals[q] - med
                        g_sum[s, c] += 1.0 if dev > 0 else (-1.0 if dev < 0 else 0.0)
                j = k + 1


def _finish_counts(scratch: Any, n: int, events: Any, columns: Any, out: FloatArray,
                   dens: FloatArray) -> bool:  # pragma: no cover - compiled
    """Copy the counts of ``scratch`` to ``out`` and the draws with a value to ``dens``.

    ``dens[c]`` becomes ``n`` less the counts of the events missing column ``c``
    (``events``/``columns``: the positions of the missing values; whole numbers,
    exact). Returns ``False`` if a count overflowed ``scratch`` (with ``uint8`` counts,
    an event drawn 256 times or more: the counts then add up to less than the ``n``
    draws).
    """
    total = 0
    for j in range(out.shape[0]):
        total += scratch[j]
        out[j] = scratch[j]
    if total != n:
        return False
    for c in range(dens.shape[0]):
        dens[c] = n
    for k in range(events.shape[0]):
        dens[columns[k]] -= scratch[events[k]]
    return True


def _count_draws(idx: Any, scratch: Any, events: Any, columns: Any, out: FloatArray,
                 dens: FloatArray) -> bool:  # pragma: no cover - compiled
    """``out`` = how often each event was drawn (``idx``: one resample's draws).

    The counting runs in ``scratch`` (``uint8``, small enough to stay in a core's
    cache) and is copied to ``out`` (overwritten; whole numbers, as ``numpy.bincount``
    gives); see :func:`_finish_counts` for ``dens`` and the ``False`` it may return,
    after which the caller counts again another way.
    """
    for j in range(scratch.shape[0]):
        scratch[j] = 0
    for j in range(idx.shape[0]):
        scratch[idx[j]] += 1
    return _finish_counts(scratch, idx.shape[0], events, columns, out, dens)


def _draw_counts(state: Any, scratch: Any, events: Any, columns: Any, out: FloatArray,
                 dens: FloatArray) -> bool:  # pragma: no cover - compiled
    """Draw ``n = len(out)`` events with replacement and count them, as :func:`_count_draws`.

    The draws are those of ``numpy.random.Generator(SFC64(...)).integers(0, n,
    size=n, dtype=numpy.int32)`` for a new generator whose 256-bit state is
    ``state``: SFC64's step (Doty-Humphrey's small fast chaotic generator, as numpy
    implements it), each 64-bit output giving two 32-bit words (low half first), and
    Lemire's multiply-and-reject map of a word to ``0 .. n-1`` (numpy's bounded
    32-bit integers). Counted as they are drawn, without the array of draws.
    """
    n = out.shape[0]
    for j in range(scratch.shape[0]):
        scratch[j] = 0
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    low = np.uint64(0xFFFFFFFF)
    bound = np.uint64(n)
    threshold = (low - np.uint64(n - 1)) % bound  # words below it are rejected
    half = np.uint64(0)
    has_half = False
    drawn = 0
    while drawn < n:
        if has_half:
            word = half
            has_half = False
        else:
            tmp = s0 + s1 + s3
            s3 += np.uint64(1)
            s0 = s1 ^ (s1 >> np.uint64(11))
            s1 = s2 + (s2 << np.uint64(3))
            s2 = ((s2 << np.uint64(24)) | (s2 >> np.uint64(40))) + tmp
            word = tmp & low
            half = tmp >> np.uint64(32)
            has_half = True
        m = word * bound
        if (m & low) < threshold:
            continue
        scratch[m >> np.uint64(32)] += 1
        drawn += 1
    return _finish_counts(scratch, n, events, columns, out, dens)


def _summarise_rows(part: FloatArray, m: Any, var: FloatArray, frac: FloatArray, use: Any,
                    k: Any, efsum: FloatArray, total: FloatArray) -> None:  # pragma: no cover
    """``SummaryInBlocks.add`` of one block of residuals ``part`` (events x days), compiled.

    Writes each event's ``m``, ``var``, ``frac`` and ``use`` and adds to the running
    sums ``k``, ``efsum`` and ``total`` event after event, with numpy's operations
    (its pairwise row sums included), so the numbers are the same.
    """
    n_b, n_l = part.shape
    ef = np.empty(n_l)
    sq = np.empty(n_l)
    stack = np.empty((4, 64))
    for i in range(n_b):
        mb = 0
        pos = 0
        for j in range(n_l):
            v = part[i, j]
            if np.isfinite(v):
                mb += 1
                ef[j] = v
                if v > 0:
                    pos += 1
            else:
                ef[j] = 0.0
        mean = _pairwise_sum(ef, n_l, stack) / max(mb, 1)
        for j in range(n_l):
            efsum[j] += ef[j]
            if np.isfinite(part[i, j]):
                k[j] += 1
                d = part[i, j] - mean
            else:
                d = 0.0
            ef[j] = d  # now the deviations
            sq[j] = d * d
        ss = _pairwise_sum(sq, n_l, stack)
        m[i] = mb
        var[i] = ss / max(mb - 1, 1) if mb > 1 else np.nan
        frac[i] = pos / mb
        norm = np.sqrt(ss)
        ub = mb >= 3 and norm > 0
        use[i] = ub
        for j in range(n_l):
            total[j] += ef[j] / norm if ub else 0.0


def _add_rows(total: Any, part: Any) -> None:
    """``total += part[0] + part[1] + ...``, rows added one after another (numpy's order)."""
    for i in range(part.shape[0]):
        for c in range(part.shape[1]):
            total[c] += part[i, c]


def _standardise(ar: FloatArray, var: FloatArray, sigma2: FloatArray, sar: FloatArray,
                 n_factor: Any, factor_sum: FloatArray) -> None:  # pragma: no cover - compiled
    """Standardised ARs and the sums of the variance factors, in one pass.

    ``sar = ar / sqrt(var)`` where ``var > 0`` (NaN elsewhere); per column, the count
    and the sum (row by row, as ``numpy`` sums over axis 0) of the finite
    ``var / sigma2`` where ``ar`` is finite and ``sigma2 > 0``: the numbers of the
    numpy code in ``inference.battery._rank_pass``, without its temporaries.
    """
    rows, cols = ar.shape
    for c in range(cols):
        n_factor[c] = 0
        factor_sum[c] = 0.0
    for i in range(rows):
        s2 = sigma2[i]
        for c in range(cols):
            v, a = var[i, c], ar[i, c]
            sar[i, c] = a / np.sqrt(v) if v > 0 else np.nan
            f = v / s2 if np.isfinite(a) and s2 > 0 else np.nan
            if np.isfinite(f):
                n_factor[c] += 1
                factor_sum[c] += f
            else:
                factor_sum[c] += 0.0  # (numpy adds the 0 it put in its place)


def _column_sums(x: FloatArray, n: Any, total: FloatArray) -> None:
    """Per column of ``x`` (events x columns): finite values counted and summed, row by row.

    The order of ``numpy.where(isfinite(x), x, 0).sum(axis=0)``: rows added one after
    another (a missing value adds 0).
    """
    rows, cols = x.shape
    for c in range(cols):
        n[c] = 0
        total[c] = 0.0
    for i in range(rows):
        for c in range(cols):
            v = x[i, c]
            if np.isfinite(v):
                total[c] += v
                n[c] += 1
            else:
                total[c] += 0.0


def _masked_column_sums(x: FloatArray, row_weight: FloatArray, row_ok: Any, n: Any,
                        weight: FloatArray, total: FloatArray) -> None:  # pragma: no cover
    """Per column of ``x`` (events x columns): count, weights and values, row by row.

    An event counts in a column where ``row_ok`` holds for it and its value is
    finite: ``n`` counts them, ``weight`` adds their ``row_weight``, ``total`` their
    values; the others add 0, in the order of ``numpy.where(use, ..., 0).sum(axis=0)``
    (Patell's weights ``df / (df - 2)``, Brown and Warner's estimation variances).
    """
    rows, cols = x.shape
    for c in range(cols):
        n[c] = 0
        weight[c] = 0.0
        total[c] = 0.0
    for i in range(rows):
        w = row_weight[i]
        for c in range(cols):
            v = x[i, c]
            if row_ok[i] and np.isfinite(v):
                n[c] += 1
                weight[c] += w
                total[c] += v
            else:
                weight[c] += 0.0
                total[c] += 0.0


def _column_powers(x: FloatArray, mean: FloatArray, power: int, out: FloatArray) -> None:
    """Per column: the sum of the deviations from ``mean`` squared or cubed, row by row.

    ``power`` 2 adds ``d * d``, 3 adds ``d * d * d``; missing values count 0, as in the
    numpy code (``(dev * dev).sum(axis=0)``, ``(dev * dev * dev).sum(axis=0)``).
    """
    rows, cols = x.shape
    for c in range(cols):
        out[c] = 0.0
    for i in range(rows):
        for c in range(cols):
            v = x[i, c]
            d = v - mean[c] if np.isfinite(v) else 0.0
            out[c] += d * d if power == 2 else d * d * d


grank_block = _Kernel(_grank_block)
grank_prepare = _Kernel(_grank_prepare)
count_draws = _Kernel(_count_draws, helpers=("_finish_counts",))
draw_counts = _Kernel(_draw_counts, helpers=("_finish_counts",))
add_rows = _Kernel(_add_rows)
summarise_rows = _Kernel(_summarise_rows, helpers=("_pairwise_sum",))
column_sums = _Kernel(_column_sums)
column_powers = _Kernel(_column_powers)
masked_column_sums = _Kernel(_masked_column_sums)
standardise = _Kernel(_standardise)
ranks_by_order = _Kernel(_ranks_by_order, helpers=("_rank_row",))
grank_scores = _Kernel(_grank_scores, helpers=("_rank_row",))
rank_score_block = _Kernel(_rank_score_block)


#: Rows up to this length are argsorted by sorting packed keys (:func:`argsort_rows`): the
#: column takes up to 24 of a key's low bits, 28 bits of the mantissa stay in it.
_PACKED_ROWS = 2**24


def argsort_rows(a: FloatArray, scratch: Any = None) -> tuple[Any, Any]:
    """Each row's argsort with its non-finite values last, and the count of finite values.

    ``scratch``: an int64 or uint64 array of ``a``'s shape (C-ordered) that the order is
    written into, instead of a new array (with numba).

    The order of tied values is unspecified (callers rank by value). With numba, rows
    are ordered by sorting 64-bit keys instead (numpy sorts rows of integers faster than
    it argsorts floats: three times for rows of estimation residuals): each
    key holds the value's order-preserving bits with its column in the lowest ones
    (:func:`_row_keys`), and a last pass (:func:`_order_from_keys`) puts the few values
    that the dropped low bits left out of order back in order, so the order is exact.
    """
    n_l = a.shape[-1]
    if HAVE_NUMBA and 1 < n_l <= _PACKED_ROWS and a.size:
        flat = np.ascontiguousarray(a, dtype=float).reshape(-1, n_l)
        bits = (n_l - 1).bit_length()
        keys = (np.empty(flat.shape, np.uint64) if scratch is None
                else scratch.reshape(flat.shape).view(np.uint64))
        row_keys(flat, bits, keys)
        keys.sort(axis=-1)
        order = keys.view(np.int64)  # each key's column is read before its place is written
        n_ok = np.empty(len(flat), np.int64)
        order_from_keys(flat, keys, bits, order, n_ok)
        return order.reshape(a.shape), n_ok.reshape(a.shape[:-1])
    ok = np.isfinite(a)
    return np.argsort(np.where(ok, a, np.inf), axis=-1), ok.sum(axis=-1)


def _row_keys(a: FloatArray, bits: int, keys: Any) -> None:  # pragma: no cover - compiled
    """Sort keys of each row of ``a`` (R, L): the value's order, then its column.

    A float's bits read as an unsigned integer keep the order of the values once
    negative values have all their bits flipped and the others their sign bit set;
    non-finite values get the largest key (last). The lowest ``bits`` bits are then
    replaced by the column ``t < 2**bits``.
    """
    u = a.view(np.uint64)
    low = (np.uint64(1) << np.uint64(bits)) - np.uint64(1)
    sign = np.uint64(1) << np.uint64(63)
    for i in range(a.shape[0]):
        for t in range(a.shape[1]):
            w = u[i, t]
            if not np.isfinite(a[i, t]):
                k = ~np.uint64(0)
            elif w & sign:
                k = ~w
            else:
                k = w | sign
            keys[i, t] = (k & ~low) | np.uint64(t)


def _order_from_keys(a: FloatArray, keys: Any, bits: int, order: Any,
                     n_ok: Any) -> None:  # pragma: no cover - compiled
    """The argsort of each row from its sorted keys (see :func:`_row_keys`), and its finite count.

    Values that differ only in the dropped low bits (relative differences below about
    ``2**(bits - 52)``) may come out of order: an insertion pass over the finite values
    puts them in order (a few moves per row at most; a row that would need many is
    argsorted outright instead).
    """
    low = (np.uint64(1) << np.uint64(bits)) - np.uint64(1)
    n_l = a.shape[1]
    vals = np.empty(n_l)
    for i in range(a.shape[0]):
        row, o = a[i], order[i]
        n = 0
        for j in range(n_l):
            t = np.int64(keys[i, j] & low)
            o[j] = t
            vals[j] = row[t]
            n += np.isfinite(row[t])  # (the finite values come first)
        n_ok[i] = n
        moves = 0
        for j in range(1, n):
            if vals[j - 1] <= vals[j]:  # in order (nearly always)
                continue
            t, v = o[j], vals[j]
            k = j
            while k > 0 and vals[k - 1] > v:
                o[k], vals[k] = o[k - 1], vals[k - 1]
                k -= 1
            o[k], vals[k] = t, v
            moves += j - k
            if moves > 4 * n_l:  # far from sorted: argsort the finite values outright
                head = o[:n].copy()
                o[:n] = head[np.argsort(row[head], kind="mergesort")]
                break


row_keys = _Kernel(_row_keys)
order_from_keys = _Kernel(_order_from_keys)


def _signed_rank_runs(keys: Any, n_ok: Any, w2: Any, ties: FloatArray
                      ) -> None:  # pragma: no cover - compiled
    """Twice ``W⁺`` and ``Σ (t³ - t)`` of each row of sorted signed-rank keys.

    ``keys[i, :n_ok[i]]`` are sorted keys ``|x| bits << 1 | (x > 0)`` of the non-zero
    values of row ``i`` (see
    :func:`~marketreact.inference.nonparametric._signed_rank_block`): a run of equal
    ``|x|`` (a tie group of ``t`` values at sorted places ``j .. k - 1``) shares the
    average rank ``(j + k + 1) / 2``, and each of its positive values adds that rank.
    ``w2[i]`` gets twice the sum (an integer, exact); ``ties[i]`` the tie term, summed
    group after group as :func:`_rank_row` does.
    """
    for i in range(keys.shape[0]):
        row, n = keys[i], n_ok[i]
        total, tie, j = 0, 0.0, 0
        while j < n:
            mag = row[j] >> np.uint64(1)
            k, positive = j, 0
            while k < n and row[k] >> np.uint64(1) == mag:
                positive += np.int64(row[k] & np.uint64(1))
                k += 1
            total += (j + k + 1) * positive
            size = k - j + 0.0
            tie += size * (size * size - 1.0)
            j = k
        w2[i], ties[i] = total, tie


signed_rank_runs = _Kernel(_signed_rank_runs)


def batch_view(a: Any) -> Any:
    """``a`` with a leading batch axis of length 1 (a view: the kernels write through it)."""
    return a[None]


def same(a: Any) -> Any:
    """``a`` itself (the kernels' arrays when they already have a batch axis)."""
    return a


# -- the backtest's placebo: the lookup table and one draw --------------------------------------
def _placebo_table(k_rows: Any, k_mrows: Any, k_open: Any, k_hedge: FloatArray, hold: int,
                   next_entry: Any, next_close: Any, open_px: FloatArray, close_px: FloatArray,
                   c0: int, table: FloatArray) -> None:  # pragma: no cover - compiled
    """``table[k, w]`` = ``stock - h * market`` of key ``k`` entered at session ``c0 + w``.

    The element-wise operations of ``backtest.placebo._gross_table`` (``exit_sessions``,
    ``leg_prices``, ``price_out / price_in - 1`` of each leg), one cell at a time; the
    market leg (row ``k_mrows[k]``) counts 0 for an unhedged key (``h == 0``).
    """
    n_t = close_px.shape[1]
    t_nc = next_close.shape[1] - 1
    for k in range(k_rows.shape[0]):
        h = k_hedge[k]
        ao = k_open[k]
        for w in range(table.shape[1]):
            r = k_rows[k]
            e = next_entry[r, c0 + w]
            x = next_close[r, max(min(e + hold - (1 if ao else 0), t_nc), 0)]
            ee = min(e, n_t - 1)
            xx = min(x, n_t - 1)
            m = 0.0
            stock = 0.0
            for leg in range(2 if h != 0 else 1):
                if leg == 1:
                    r = k_mrows[k]
                o = open_px[r, ee]
                opened = ao and np.isfinite(o) and e < n_t
                ce = next_close[r, ee]
                s_in = ee if opened else ce
                p_in = o if opened else close_px[r, min(ce, n_t - 1)]
                if not (e < n_t and s_in <= x and s_in < n_t):
                    p_in = np.nan
                p_out = close_px[r, xx] if x < n_t else np.nan
                if leg == 0:
                    stock = p_out / p_in - 1.0
                else:
                    m = p_out / p_in - 1.0
            table[k, w] = stock - h * m


def _placebo_draw(u: FloatArray, room: FloatArray, threshold: Any, base: Any, shift: Any,
                  table: FloatArray, direction: FloatArray, cost: FloatArray,
                  out: FloatArray) -> int:  # pragma: no cover - compiled
    """One placebo draw: ``out[j] = d_j * table[cell_j] - cost_j``, 0 where not finite.

    ``cell_j = base_j + trunc(u_j room_j)`` (plus ``shift_j`` at or past the band), the
    session arithmetic of ``backtest.placebo.placebo_sums``. Returns how many are finite.
    """
    n_fin = 0
    for j in range(u.shape[0]):
        c = np.int32(u[j] * room[j])
        if c >= threshold[j]:
            c += shift[j]
        v = direction[j] * table[c + base[j]] - cost[j]
        if np.isfinite(v):
            out[j] = v
            n_fin += 1
        else:
            out[j] = 0.0
    return n_fin


def _buy_hold_sums(last_close: Any, prices: FloatArray, rows: Any, pos: Any, tot: FloatArray,
                   cnt: Any, n_kept: int) -> int:  # pragma: no cover - compiled
    """Add the buy-and-hold paths of ``rows`` to ``tot``/``cnt``, as ``numpy.nanmean`` adds.

    The path of row ``r`` at column ``g`` is its last close at or before session
    ``pos[g]`` (NaN where none) over that of column 0; rows whose column-0 ratio is not
    finite are left out. ``tot`` gets the NaN-as-0 values row after row (the first row
    kept copied, as numpy's sum over the first axis starts), ``cnt`` the non-NaN ones;
    ``n_kept`` counts the rows kept so far, and is returned updated.
    """
    n_g = pos.shape[0]
    for i in range(rows.shape[0]):
        r = rows[i]
        first = np.nan
        if pos[0] >= 0 and last_close[r, pos[0]] >= 0:
            first = prices[r, last_close[r, pos[0]]]
        if not np.isfinite(first / first):
            continue
        for g in range(n_g):
            px = np.nan
            if pos[g] >= 0 and last_close[r, pos[g]] >= 0:
                px = prices[r, last_close[r, pos[g]]]
            v = px / first
            nan = np.isnan(v)
            if nan:
                v = 0.0
            if n_kept == 0:
                tot[g] = v
                cnt[g] = 0 if nan else 1
            else:
                tot[g] += v
                cnt[g] += 0 if nan else 1
        n_kept += 1
    return n_kept


placebo_table = _Kernel(_placebo_table)
placebo_draw = _Kernel(_placebo_draw)
buy_hold_sums = _Kernel(_buy_hold_sums)
