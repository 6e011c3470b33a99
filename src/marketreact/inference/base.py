"""What every cross-event test shares: the alternative, the result object, the inputs."""

from __future__ import annotations

import inspect
import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import numpy as np
from scipy import special, stats

from marketreact._lazy import pending_value
from marketreact._typing import FloatArray, IntArray, Window
from marketreact.inference import _kernels


class Alternative(StrEnum):
    """The alternative hypothesis of a test about the mean abnormal return."""

    two_sided = "two-sided"
    greater = "greater"
    less = "less"


#: Tests in table order: column name -> title for the AAR of a day.
TEST_TITLES: dict[str, str] = {
    "t": "Cross-sectional t",
    "skew_t": "Skewness-corrected t (Hall 1992)",
    "bw1980": "Brown-Warner 1980 (average variance)",
    "bw1985": "Brown-Warner 1985 (crude dependence adj.)",
    "patell": "Patell Z (1976)",
    "bmp": "BMP t (1991)",
    "kp_patell": "Adjusted Patell Z (Kolari-Pynnonen 2010)",
    "kp_bmp": "Adjusted BMP t (Kolari-Pynnonen 2010)",
    "lamb": "Lamb Z (1995)",
    "sign": "Sign test",
    "gsign": "Generalized sign Z (Cowan 1992)",
    "csign": "Sign test (Corrado-Zivney 1992)",
    "rank": "Rank test (Corrado 1989)",
    "mrank": "Modified rank test (Corrado-Zivney 1992, estudy2)",
    "grank_t": "Generalized rank t (Kolari-Pynnonen 2011)",
    "grank_z": "Generalized rank Z (Kolari-Pynnonen 2011)",
    "wilcoxon": "Wilcoxon signed rank",
    "boot": "Bootstrap (events, percentile)",
}


#: Titles that differ for CAR windows.
WINDOW_TITLES: dict[str, str] = {
    **TEST_TITLES,
    "rank": "Cumulative rank (Campbell-Wasley 1993)",
    "mrank": "Cumulative modified rank (Corrado-Zivney 1992, estudy2)",
    "csign": "Cumulative sign (Corrado-Zivney 1992)",
}


TEST_NAMES: tuple[str, ...] = tuple(TEST_TITLES)


def p_column(name: str) -> str:
    """The column of test ``name``'s p-value in aar.csv / aggregate.csv.

    Every test ``X`` has ``X_p``, except the cross-sectional t, whose p-value keeps the
    plain name ``p`` (the tables' first test, as in earlier releases).
    """
    return "p" if name == "t" else f"{name}_p"


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
    def shape(self) -> tuple[int, int]:
        """``(events, estimation days)``."""
        ...

    def rows(self, index: slice) -> FloatArray:
        """The residuals of the events in ``index``."""
        ...


def _is_blocks(est: Any) -> bool:
    return hasattr(est, "rows") and not isinstance(est, np.ndarray)


def _est_rows(est: Any, sl: slice, out: FloatArray | None = None) -> FloatArray:
    """The residuals of the events ``sl``: a view of an array, else the block computed.

    ``out``: scratch for a computed block (used when ``est.rows`` takes it).
    """
    if not _is_blocks(est):
        return est[..., sl, :]
    if out is not None and "out" in inspect.signature(est.rows).parameters:
        return est.rows(sl, out=out)
    return est.rows(sl)


def _sum_rows(total: np.ndarray | None, part: np.ndarray) -> np.ndarray:
    """``total`` plus the sum of ``part``'s rows, added in the order numpy sums axis 0.

    Summing a 2-D array over its first axis adds the rows one after another, so
    carrying the running total as the first row of the next block gives exactly
    the sum over all rows at once.
    """
    if total is None:
        return part.sum(axis=0)
    if (_kernels.HAVE_NUMBA and part.ndim == 2 and total.ndim == 1
            and total.dtype == part.dtype and part.dtype in (np.float64, np.int64)):
        out = total.copy()  # the same additions, without copying the block
        _kernels.add_rows(out, part)
        return out
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


def _expand(a: np.ndarray) -> np.ndarray:
    return a[..., None, :]


def _count_mean_sd(x: FloatArray) -> tuple[IntArray, FloatArray, FloatArray]:
    """Count, mean and sample SD (ddof 1) along the event axis, ignoring NaN.

    For an ``(events, columns)`` array the compiled loops make the same sums in
    two passes over ``x``, without the masked temporaries.
    """
    if _kernels.HAVE_NUMBA and x.ndim == 2 and x.dtype == np.float64:
        n = np.empty(x.shape[1], dtype=np.int64)
        total, squares = np.empty(x.shape[1]), np.empty(x.shape[1])
        _kernels.column_sums(x, n, total)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
            _kernels.column_powers(x, mean, 2, squares)
            var = np.where(n > 1, squares / np.maximum(n - 1, 1), np.nan)
        return n, mean, np.sqrt(var)
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


#: Values from which :func:`t_sf` splits its work between threads.
_PARALLEL_SF = 200_000


def _each_on_cores(fn: Callable[[Any], None], items: Sequence[Any]) -> None:
    """``fn(item)`` for every item, on a thread per core when there are several.

    ``fn`` writes its own output; it gains only where the work releases the GIL
    (numpy's sorts and ufuncs, the compiled loops). The same results either way.
    """
    workers = min(os.cpu_count() or 1, len(items))
    if workers <= 1:
        for item in items:
            fn(item)
        return
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(fn, items))


def t_sf(x: FloatArray, df: FloatArray) -> FloatArray:
    """Survival function of Student's t, ``P(T_df > x)``, elementwise.

    ``scipy.special.stdtr(df, -x)``, which is what ``scipy.stats.t.sf(x, df)``
    computes (the same numbers); a large array is split between two threads (the
    ufunc releases the GIL), about twice as fast on two cores.
    """
    x, df = np.broadcast_arrays(np.asarray(x, float), np.asarray(df, float))
    if x.size < _PARALLEL_SF:
        return np.asarray(special.stdtr(df, -x), float)
    flat_x, flat_df = x.reshape(-1), df.reshape(-1)
    out = np.empty(flat_x.shape)
    cuts = np.linspace(0, len(flat_x), (os.cpu_count() or 1) + 1).astype(int)

    def part(sl: slice) -> None:
        out[sl] = special.stdtr(flat_df[sl], -flat_x[sl])

    _each_on_cores(part, [slice(a, b) for a, b in itertools.pairwise(cuts)])
    return out.reshape(x.shape)


def tail_p(upper: FloatArray, lower: FloatArray, alternative: Alternative) -> FloatArray:
    """The p-value of ``alternative`` from a statistic's two tail probabilities.

    ``greater``: the upper tail; ``less``: the lower tail; two-sided: twice the smaller
    tail, capped at 1 (the rule of every test here, exact, bootstrap or asymptotic).
    """
    if alternative is Alternative.greater:
        return upper
    if alternative is Alternative.less:
        return lower
    return np.minimum(1.0, 2.0 * np.minimum(upper, lower))


def _continuous_p(stat: FloatArray, dist: str, df: FloatArray | None,
                  alternative: Alternative) -> FloatArray:
    with np.errstate(invalid="ignore"):
        if dist == _T:
            assert df is not None
            dfc = np.where(np.asarray(df) > 0, df, np.nan)
            upper, lower = stats.t.sf(stat, dfc), stats.t.cdf(stat, dfc)
        else:
            upper, lower = stats.norm.sf(stat), stats.norm.cdf(stat)
    return np.where(np.isfinite(stat), tail_p(upper, lower, alternative), np.nan)


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


_NORMAL, _T = "normal", "t"
