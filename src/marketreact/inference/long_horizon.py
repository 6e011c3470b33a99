"""Long-horizon tests of mean buy-and-hold abnormal returns (BHAR).

Long-horizon BHARs are right-skewed (a few firms double, none falls below -100%), which
biases the conventional t towards rejecting in the left tail and away from it in the
right tail. Lyon, Barber and Tsai (1999, "Improved methods for tests of long-run abnormal
stock returns", Journal of Finance 54, 165-201) correct for this with the
skewness-adjusted t of Johnson (1978) and a bootstrapped version of it:

* :func:`bhar_t`: conventional ``t = mean / (s / sqrt(n))``, null ``t(n - 1)``.
* :func:`skewness_adjusted_t`: ``t_sa = sqrt(n) (S + g S^2 / 3 + g / (6 n))`` with
  ``S = mean / s`` and ``g`` the sample coefficient of skewness (LBT eq. 5), null
  ``t(n - 1)``.
* :func:`bootstrapped_skewness_adjusted_t`: ``t_sa`` judged against its bootstrap
  distribution: resamples of ``n_b = n / 4`` BHARs drawn with replacement, each giving
  ``t_sa^b`` computed on values centred at the full-sample mean (so the resamples obey
  the null), as LBT section III.B.

Each takes BHARs with the event axis first (``(N,)`` or ``(N, W)``, one column per window;
NaN where missing) and returns a :class:`~marketreact.inference.base.TestResult` whose
arrays have the shape of the remaining axes. Pure functions on arrays.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from marketreact._typing import FloatArray, IntArray
from marketreact.inference.base import (
    _T,
    Alternative,
    TestResult,
    _raw,
    _reasons,
    tail_p,
)
from marketreact.inference.parametric import cross_sectional_t

#: Most resampled values drawn at once by :func:`bootstrap_t_sa`.
_DRAW_ELEMENTS = 2_000_000

#: Titles of the long-horizon tests.
LONG_HORIZON_TITLES: dict[str, str] = {
    "bhar_t": "Conventional t of mean BHAR",
    "t_sa": "Skewness-adjusted t (Lyon-Barber-Tsai 1999)",
    "t_sa_boot": "Bootstrapped skewness-adjusted t (Lyon-Barber-Tsai 1999)",
}


def _columns(bhar: FloatArray) -> tuple[FloatArray, bool]:
    """BHARs as ``(N, C)`` and whether the input was one-dimensional."""
    x = np.asarray(bhar, dtype=float)
    if x.ndim == 1:
        return x[:, None], True
    if x.ndim != 2:
        raise ValueError(f"BHARs must be (N,) or (N, W), got shape {x.shape}")
    return x, False


def _moments(x: FloatArray) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    """Count, mean, sample SD (ddof 1) and skewness ``m3 / m2^1.5`` per column, NaN ignored."""
    ok = np.isfinite(x)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, x, 0.0).sum(axis=0) / n
        dev = np.where(ok, x - mean, 0.0)
        m2 = (dev**2).sum(axis=0) / n
        m3 = (dev * dev * dev).sum(axis=0) / n  # not dev**3: numpy's general power is slow
        sd = np.sqrt(m2 * n / (n - 1))
        # spread at rounding level (identical values) counts as none
        sd = np.where(sd <= 1e-13 * np.abs(mean), 0.0, sd)
        skew = m3 / m2**1.5
    return n, mean, sd, skew


def _t_sa(n: FloatArray | IntArray | float, s: FloatArray, g: FloatArray) -> FloatArray:
    """LBT eq. (5): ``sqrt(n) (S + g S^2 / 3 + g / (6 n))``."""
    return np.sqrt(n) * (s + g * s**2 / 3.0 + g / (6.0 * n))


def _finish(raw_result: TestResult, flat: bool) -> TestResult:
    if not flat:
        return raw_result
    return raw_result[0]


def bhar_t(bhar: FloatArray, alternative: Alternative | str = Alternative.two_sided
           ) -> TestResult:
    """Conventional t test of the mean BHAR.

    ``t = mean / (s / sqrt(n))`` with ``s`` the sample standard deviation (ddof 1),
    null ``t(n - 1)``; equals ``scipy.stats.ttest_1samp`` (LBT 1999, eq. 4). The
    statistic is :func:`marketreact.inference.parametric.cross_sectional_t` of the
    BHARs (the test of a study's CAAR), named and titled as a BHAR test.

    Parameters
    ----------
    bhar : numpy.ndarray
        ``(N,)`` or ``(N, W)`` BHARs, events first; NaN where missing.
    alternative : Alternative or str, default "two-sided"
        The alternative of the p-value.

    Returns
    -------
    TestResult
        Named ``bhar_t``; ``extra`` holds ``mean`` and ``sd``.
    """
    x, flat = _columns(bhar)
    _, mean, sd, _ = _moments(x)
    # the statistic is the cross-sectional t of the BHAR column: one implementation
    raw = replace(cross_sectional_t(x, "bhar_t"), extra={"mean": mean, "sd": sd})
    return _finish(raw.result(LONG_HORIZON_TITLES["bhar_t"], Alternative(alternative)), flat)


def skewness_adjusted_t(bhar: FloatArray,
                        alternative: Alternative | str = Alternative.two_sided) -> TestResult:
    """Lyon-Barber-Tsai (1999) skewness-adjusted t of the mean BHAR.

    ``t_sa = sqrt(n) (S + g S^2 / 3 + g / (6 n))``, where ``S = mean / s`` (``s`` the
    sample standard deviation, ddof 1, so that ``sqrt(n) S`` is the conventional t) and
    ``g = m3 / m2^1.5`` the sample coefficient of skewness (central moments with
    divisor ``n``; ``scipy.stats.skew(x)``). LBT eq. (5), after Johnson (1978). The
    p-value uses ``t(n - 1)``, as the conventional t does (``t_sa`` is asymptotically
    standard normal).

    Parameters
    ----------
    bhar : numpy.ndarray
        ``(N,)`` or ``(N, W)`` BHARs, events first; NaN where missing.
    alternative : Alternative or str, default "two-sided"
        The alternative of the p-value.

    Returns
    -------
    TestResult
        Named ``t_sa``; ``extra`` holds ``S`` and ``skew`` (``g``).
    """
    x, flat = _columns(bhar)
    n, mean, sd, g = _moments(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = mean / sd
        stat = _t_sa(n, s, g)
    reason = _reasons((n < 3, "fewer than 3 events"), (sd == 0, "zero cross-sectional variance"),
                      shape=stat.shape)
    raw = _raw("t_sa", stat, _T, (n - 1.0).astype(np.float64), n, reason, extra={"S": s, "skew": g})
    return _finish(raw.result(LONG_HORIZON_TITLES["t_sa"], Alternative(alternative)), flat)


def bootstrap_t_sa(values: FloatArray, n_boot: int, seed: int,
                   fraction: float = 0.25) -> FloatArray:
    """Bootstrap distribution of ``t_sa`` under the null, LBT (1999) section III.B.

    Draws ``n_boot`` resamples of ``n_b = floor(fraction * n)`` values with
    replacement from ``values - mean(values)`` (centred, so that each resample's
    mean abnormal return is zero under the null) and returns each resample's
    ``t_sa^b = sqrt(n_b) (S^b + g^b (S^b)^2 / 3 + g^b / (6 n_b))``. The values are
    sorted first, so the draws do not depend on the order of the events; indices
    come from ``numpy.random.default_rng(seed)``. Resamples with zero spread give NaN.

    Parameters
    ----------
    values : numpy.ndarray
        ``(n,)`` finite BHARs.
    n_boot : int
        Number of resamples.
    seed : int
        Seed of the generator.
    fraction : float, default 0.25
        Resample size as a share of ``n`` (LBT use ``n / 4``).

    Returns
    -------
    numpy.ndarray
        ``(n_boot,)`` bootstrap statistics.
    """
    v = np.sort(np.asarray(values, float))
    n = v.size
    n_b = int(np.floor(fraction * n))
    rng = np.random.default_rng(seed)
    if n == 0 or n_b < 1:
        return np.full(n_boot, np.nan)
    centred = v - v.mean()
    mean, m2, m3 = (np.empty(n_boot) for _ in range(3))
    step = max(1, _DRAW_ELEMENTS // n_b)  # resamples at a time: bounded memory
    for lo in range(0, n_boot, step):  # consecutive int64 draws: same as one big draw
        rows = min(step, n_boot - lo)
        sample = centred[rng.integers(0, n, size=(rows, n_b))]
        mu = sample.mean(axis=1)
        dev = sample - mu[:, None]
        sq = dev * dev  # products, not ** (a power call per element is ~20 times slower)
        mean[lo:lo + rows] = mu
        m2[lo:lo + rows] = sq.mean(axis=1)
        m3[lo:lo + rows] = (sq * dev).mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(m2 * n_b / (n_b - 1)) if n_b > 1 else np.full(n_boot, np.nan)
        ok = m2 > 0
        s = np.where(ok, mean / sd, np.nan)
        g = np.where(ok, m3 / m2**1.5, np.nan)
        return _t_sa(float(n_b), s, g)


def bootstrapped_skewness_adjusted_t(
        bhar: FloatArray, n_boot: int = 1000, seed: int = 0, *, fraction: float = 0.25,
        alternative: Alternative | str = Alternative.two_sided,
        confidence: float = 0.95) -> TestResult:
    """Lyon-Barber-Tsai (1999) bootstrapped skewness-adjusted t of the mean BHAR.

    The statistic is the full-sample ``t_sa`` (:func:`skewness_adjusted_t`); its
    null distribution is the bootstrap distribution of ``t_sa^b`` from
    :func:`bootstrap_t_sa` (``n_boot`` resamples of ``n / 4`` centred BHARs), so the
    critical values are quantiles of that distribution rather than of ``t``: LBT
    reject at level ``α`` when ``t_sa`` lies below the ``α/2`` or above the
    ``1 - α/2`` quantile. The p-value counts the resamples at least as extreme:
    ``greater`` is ``(1 + #{t_sa^b >= t_sa}) / (B + 1)``, ``less``
    ``(1 + #{t_sa^b <= t_sa}) / (B + 1)``, two-sided twice the smaller (capped at 1).
    The same seeded draws serve every window (column).

    Parameters
    ----------
    bhar : numpy.ndarray
        ``(N,)`` or ``(N, W)`` BHARs, events first; NaN where missing.
    n_boot : int, default 1000
        Bootstrap resamples (LBT use 1,000).
    seed : int, default 0
        Seed of ``numpy.random.default_rng``: the p-value is reproducible.
    fraction : float, default 0.25
        Resample size as a share of the events.
    alternative : Alternative or str, default "two-sided"
        The alternative of the p-value.
    confidence : float, default 0.95
        Level of the critical values reported in ``extra`` (``lo``, ``hi``).

    Returns
    -------
    TestResult
        Named ``t_sa_boot`` with ``dist="bootstrap"``; ``extra`` holds ``lo``/``hi``
        (the bootstrap critical values), ``n_b`` and ``n_boot`` (valid resamples).
    """
    x, flat = _columns(bhar)
    base_t = skewness_adjusted_t(x)
    stat = np.asarray(base_t.stat, float)
    n = np.asarray(base_t.n)
    cols = x.shape[1]
    p_greater = np.full(cols, np.nan)
    p_less = np.full(cols, np.nan)
    lo = np.full(cols, np.nan)
    hi = np.full(cols, np.nan)
    n_b = np.floor(fraction * n).astype(float)
    valid_b = np.zeros(cols)
    alpha = 1.0 - confidence
    for j in range(cols):  # a few windows: one vectorised bootstrap each
        col = x[:, j]
        values = col[np.isfinite(col)]
        if n_boot <= 0 or not np.isfinite(stat[j]) or n_b[j] < 3:
            continue
        draws = bootstrap_t_sa(values, n_boot, seed, fraction)
        draws = draws[np.isfinite(draws)]
        b = draws.size
        valid_b[j] = b
        if b == 0:
            continue
        p_greater[j] = (1.0 + (draws >= stat[j]).sum()) / (b + 1.0)
        p_less[j] = (1.0 + (draws <= stat[j]).sum()) / (b + 1.0)
        lo[j], hi[j] = np.quantile(draws, [alpha / 2, 1 - alpha / 2])

    def pfunc(alt: Alternative) -> FloatArray:
        return tail_p(p_greater, p_less, alt)

    reason = np.where(base_t.reason != "", base_t.reason, "")
    reason = np.where((reason == "") & (n_boot <= 0), "bootstrap switched off (n_boot = 0)",
                      reason)
    reason = np.where((reason == "") & (n_b < 3), "fewer than 12 events (n/4 < 3)", reason)
    reason = np.where((reason == "") & (valid_b == 0), "no valid bootstrap resample", reason)
    raw = _raw("t_sa_boot", stat, "bootstrap", None, n, reason, pfunc=pfunc,
               extra={"lo": lo, "hi": hi, "n_b": n_b, "n_boot": valid_b})
    return _finish(raw.result(LONG_HORIZON_TITLES["t_sa_boot"], Alternative(alternative)),
                   flat)


def long_horizon_tests(bhar: FloatArray, *, n_boot: int = 1000, seed: int = 0,
                       alternative: Alternative | str = Alternative.two_sided
                       ) -> dict[str, TestResult]:
    """The conventional, skewness-adjusted and bootstrapped skewness-adjusted t of BHARs.

    Parameters
    ----------
    bhar : numpy.ndarray
        ``(N,)`` or ``(N, W)`` BHARs, events first; NaN where missing.
    n_boot : int, default 1000
        Bootstrap resamples (0 switches the bootstrap off).
    seed : int, default 0
        Bootstrap seed.
    alternative : Alternative or str, default "two-sided"
        The alternative of every p-value.

    Returns
    -------
    dict of str to TestResult
        ``bhar_t``, ``t_sa`` and ``t_sa_boot``.
    """
    return {"bhar_t": bhar_t(bhar, alternative),
            "t_sa": skewness_adjusted_t(bhar, alternative),
            "t_sa_boot": bootstrapped_skewness_adjusted_t(bhar, n_boot, seed,
                                                          alternative=alternative)}


def bhar_test_columns(bhar: FloatArray, *, n_boot: int = 999, seed: int = 0,
                      alternative: Alternative | str = Alternative.two_sided,
                      prefix: str = "bhar") -> dict[str, FloatArray]:
    """Columns of the mean-BHAR tests for a study's ``aggregate.csv``, one value per window.

    Parameters
    ----------
    bhar : numpy.ndarray
        ``(N, W)`` BHARs, events first, one column per CAR window; NaN where missing.
    n_boot : int, default 999
        Bootstrap resamples of the bootstrapped skewness-adjusted t (0: NaN).
    seed : int, default 0
        Bootstrap seed.
    alternative : Alternative or str, default "two-sided"
        The alternative of every p-value.
    prefix : str, default "bhar"
        Column prefix (``bhar_ref`` for BHARs against a reference portfolio).

    Returns
    -------
    dict of str to numpy.ndarray
        ``{prefix}_t``, ``{prefix}_t_p`` (conventional t), ``{prefix}_tsa``,
        ``{prefix}_tsa_p`` (skewness-adjusted t) and ``{prefix}_tsa_boot``,
        ``{prefix}_tsa_boot_p`` (the same statistic, its p-value from the bootstrap).
    """
    x, _ = _columns(bhar)
    tests = long_horizon_tests(x, n_boot=n_boot, seed=seed, alternative=alternative)
    out: dict[str, FloatArray] = {}
    for key, name in (("bhar_t", "t"), ("t_sa", "tsa"), ("t_sa_boot", "tsa_boot")):
        r = tests[key]
        out[f"{prefix}_{name}"] = np.asarray(r.stat, float)
        out[f"{prefix}_{name}_p"] = np.asarray(r.pvalue, float)
    return out
