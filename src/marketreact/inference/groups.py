"""Differences between groups of events: Welch t, Wilcoxon rank-sum, bootstrap.

For every pair of groups ``(a, b)`` and every CAR window, the difference of the
mean CARs ``mean_a - mean_b`` is tested three ways:

* Welch's t (unequal variances): :func:`scipy.stats.ttest_ind` with
  ``equal_var=False``;
* the Wilcoxon rank-sum test (normal approximation): :func:`scipy.stats.ranksums`;
* a bootstrap of the difference: each group resampled with replacement
  ``n_boot`` times; the percentile interval of ``mean*_a - mean*_b`` and the
  p-value of the centred bootstrap (two-sided: the share of ``|d* - d| >= |d|``,
  ``(1 + count) / (1 + n_boot)``; one-sided alternatives count one tail).

The tests within each group (the whole battery) are those of
:func:`marketreact.inference.battery.cross_event_tests` run on the group's events.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from marketreact._typing import FloatArray
from marketreact.inference.base import Alternative

DIFFERENCE_COLUMNS = ("window", "group_a", "group_b", "n_a", "n_b", "mean_a", "mean_b",
                      "difference", "welch_t", "welch_df", "welch_p", "ranksum_z", "ranksum_p",
                      "boot_lo", "boot_hi", "boot_p")


def bootstrap_difference(a: FloatArray, b: FloatArray, n_boot: int, rng: np.random.Generator,
                         alternative: Alternative = Alternative.two_sided,
                         confidence: float = 0.95) -> tuple[float, float, float]:
    """Percentile interval and centred-bootstrap p-value of ``mean(a) - mean(b)``.

    Parameters
    ----------
    a, b : numpy.ndarray
        The two samples (finite values).
    n_boot : int
        Resamples (0: NaN results).
    rng : numpy.random.Generator
        Random numbers.
    alternative : Alternative
        ``greater``: ``mean(a) > mean(b)``.
    confidence : float, default 0.95
        Level of the interval.

    Returns
    -------
    lo, hi, pvalue : float
    """
    if n_boot <= 0 or len(a) < 2 or len(b) < 2:
        return float("nan"), float("nan"), float("nan")
    d = a.mean() - b.mean()
    ia = rng.integers(0, len(a), size=(n_boot, len(a)))
    ib = rng.integers(0, len(b), size=(n_boot, len(b)))
    star = a[ia].mean(axis=1) - b[ib].mean(axis=1)
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(star, [tail, 1 - tail])
    centred = star - d
    if alternative is Alternative.greater:
        count = int((centred >= d).sum())
    elif alternative is Alternative.less:
        count = int((centred <= d).sum())
    else:
        count = int((np.abs(centred) >= abs(d)).sum())
    return float(lo), float(hi), (1 + count) / (1 + n_boot)


def group_differences(car: FloatArray, groups: Sequence[str] | np.ndarray,
                      windows: Sequence[str], *, alternative: Alternative | str = "two-sided",
                      n_boot: int = 999, seed: int = 0) -> pd.DataFrame:
    """Tests of the difference of mean CARs between every pair of groups.

    Parameters
    ----------
    car : numpy.ndarray
        ``(E, W)`` CARs (NaN where missing).
    groups : array-like of str
        ``(E,)`` group of each event.
    windows : sequence of str
        The ``W`` window labels.
    alternative : Alternative or str
        Alternative of the p-values (``greater``: group a above group b).
    n_boot : int, default 999
        Bootstrap resamples (0: no bootstrap).
    seed : int, default 0
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        One row per window and pair: :data:`DIFFERENCE_COLUMNS`. Groups in
        sorted order; pairs ``(a, b)`` with ``a`` before ``b``.
    """
    alt = Alternative(alternative)
    car = np.asarray(car, float)
    g = np.asarray(groups, dtype=object).astype(str)
    names = sorted(pd.unique(g))
    rng = np.random.default_rng(seed)
    rows = []
    for j, label in enumerate(windows):
        for ga, gb in itertools.combinations(names, 2):
            a = car[g == ga, j]
            b = car[g == gb, j]
            a, b = a[np.isfinite(a)], b[np.isfinite(b)]
            nan = float("nan")
            t = df = tp = z = zp = nan
            if len(a) >= 2 and len(b) >= 2:
                res = stats.ttest_ind(a, b, equal_var=False, alternative=alt.value)
                t, tp, df = float(res.statistic), float(res.pvalue), float(res.df)
            if len(a) >= 1 and len(b) >= 1:
                rs = stats.ranksums(a, b, alternative=alt.value)
                z, zp = float(rs.statistic), float(rs.pvalue)
            lo, hi, bp = bootstrap_difference(a, b, n_boot, rng, alt)
            rows.append((label, ga, gb, len(a), len(b),
                         float(a.mean()) if len(a) else nan, float(b.mean()) if len(b) else nan,
                         float(a.mean() - b.mean()) if len(a) and len(b) else nan,
                         t, df, tp, z, zp, lo, hi, bp))
    return pd.DataFrame(rows, columns=list(DIFFERENCE_COLUMNS))
