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
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from marketreact._typing import FloatArray, IntArray
from marketreact.inference import _kernels
from marketreact.inference.base import (
    TEST_NAMES,
    TEST_TITLES,
    WINDOW_TITLES,
    Alternative,
    CrossEventTests,
    TestInputs,
    TestResult,
    _count_mean_sd,
    _is_blocks,
    _Raw,
    p_column,
)
from marketreact.inference.long_horizon import bhar_t, skewness_adjusted_t
from marketreact.inference.nonparametric import (
    BootstrapStreams,
    bootstrap,
    generalized_sign,
    rank_family,
    sign_test,
    wilcoxon_signed_rank,
)
from marketreact.inference.parametric import (
    EstimationSummary,
    SummarisingBlocks,
    SummaryInBlocks,
    brown_warner_1980,
    brown_warner_1985,
    cross_sectional_t,
    kolari_pynnonen,
    lamb,
    patell,
    skewness_corrected_t,
    summarise_estimation,
)

# ----------------------------------------------------------------------------- driver


def _compute(inputs: TestInputs, n_boot: int, seed: int, confidence: float,
             streams: BootstrapStreams | str) -> tuple[list[_Raw], list[_Raw], FloatArray]:
    ar = np.asarray(inputs.ar, float)
    var = np.asarray(inputs.ar_var, float)
    est: Any = inputs.est_residuals
    if not _is_blocks(est):
        est = np.asarray(est, float)
    sigma2 = np.asarray(inputs.sigma2, float)
    dfe = np.asarray(inputs.df, float)
    windows = inputs.windows
    car, car_var = inputs.window_values()
    ranked = _rank_pass(ar, var, est, sigma2, windows, car, car_var)
    # the bootstrap on a thread of its own beside the tests that follow the rank pass (one
    # thread most of their time: the bootstrap's draws fill the other core), not beside the
    # rank pass itself, which keeps both cores and its blocks' memory busy already
    with ThreadPoolExecutor(1) as pool:
        boot = pool.submit(bootstrap, np.concatenate([ar, car], axis=-1), n_boot, seed,
                           confidence, streams, overwrite_x=True)  # (its own copy)
        day, win = _other_tests(ar, car, dfe, windows, ranked)
        both = boot.result()
    L2 = ar.shape[-1]
    day.append(_split(both, slice(0, L2)))
    win.append(_split(both, slice(L2, None)))
    return day, win, ranked.summary.r_bar


class _Ranked(NamedTuple):
    """What the rank pass leaves for the other tests (see :func:`_rank_pass`)."""

    sar: FloatArray
    csar: FloatArray
    factor: FloatArray
    n_days: IntArray
    aar: FloatArray
    ranked: dict[str, tuple[_Raw, _Raw]]
    grank_day: tuple[_Raw, _Raw]
    grank_win: tuple[_Raw, _Raw]
    summary: EstimationSummary


def _rank_pass(ar: FloatArray, var: FloatArray, est: Any, sigma2: FloatArray,
               windows: Sequence[slice], car: FloatArray, car_var: FloatArray) -> _Ranked:
    """The standardised values, the rank tests, GRANK and the estimation summary."""
    with np.errstate(invalid="ignore", divide="ignore"):
        # an event without residual variance (a price frozen at a floor) has no SAR
        csar = np.where(car_var > 0, car / np.sqrt(car_var), np.nan)
        if _kernels.HAVE_NUMBA and ar.ndim == 2:  # the same numbers without temporaries
            sar = np.empty(ar.shape)
            nf, fsum = np.empty(ar.shape[1], np.int64), np.empty(ar.shape[1])
            _kernels.standardise(ar, var, sigma2, sar, nf, fsum)
        else:
            sar = np.where(var > 0, ar / np.sqrt(var), np.nan)
            factor_i = np.where(np.isfinite(ar) & (sigma2[..., None] > 0),
                                var / sigma2[..., None], np.nan)
            ok = np.isfinite(factor_i)
            nf, fsum = ok.sum(axis=-2), np.where(ok, factor_i, 0.0).sum(axis=-2)
            del factor_i, ok  # as large as the ARs: not held through the rank pass
        factor = fsum / nf
    n_days, aar, _ = _count_mean_sd(ar)
    # the rank tests and GRANK from one ranking of each block of residuals; residuals
    # computed block by block on demand are summarised on the same pass
    along = SummaryInBlocks(est.shape[0]) if _is_blocks(est) else None
    ranked, grank_day, grank_win = rank_family(
        est if along is None else SummarisingBlocks(est, along), ar, sigma2, sar, csar,
        windows)
    summ = along.result() if along is not None and along.complete else (
        summarise_estimation(est))
    return _Ranked(sar, csar, factor, n_days, aar, ranked, grank_day, grank_win, summ)


def _other_tests(ar: FloatArray, car: FloatArray, dfe: FloatArray, windows: Sequence[slice],
                 r: _Ranked) -> tuple[list[_Raw], list[_Raw]]:
    """Every test but the bootstrap, for days and windows, after the rank pass."""
    ones = np.ones(ar.shape[-1], dtype=np.int64)
    lengths = np.array([c.stop - c.start for c in windows], dtype=np.int64)
    summ, ranked = r.summary, r.ranked
    day: list[_Raw] = [cross_sectional_t(ar), brown_warner_1980(ar, ones, summ),
                       brown_warner_1985(ar, ones, summ), patell(r.sar, dfe)]
    day.append(cross_sectional_t(r.sar, "bmp"))
    day.append(kolari_pynnonen(day[3], summ.r_bar, patell_like=True))
    day.append(kolari_pynnonen(day[4], summ.r_bar, patell_like=False))
    lamb_day, lamb_win = lamb(r.aar, r.n_days, r.factor, summ, windows)
    day += [lamb_day, sign_test(ar), generalized_sign(ar, summ), ranked["rank"][0],
            wilcoxon_signed_rank(ar), skewness_corrected_t(ar), ranked["csign"][0],
            ranked["mrank"][0], *r.grank_day]
    win: list[_Raw] = [cross_sectional_t(car), brown_warner_1980(car, lengths, summ),
                       brown_warner_1985(car, lengths, summ), patell(r.csar, dfe)]
    win.append(cross_sectional_t(r.csar, "bmp"))
    win.append(kolari_pynnonen(win[3], summ.r_bar, patell_like=True))
    win.append(kolari_pynnonen(win[4], summ.r_bar, patell_like=False))
    win += [lamb_win, sign_test(car), generalized_sign(car, summ), ranked["rank"][1],
            wilcoxon_signed_rank(car), skewness_corrected_t(car), ranked["csign"][1],
            ranked["mrank"][1], *r.grank_win]
    return day, win


def _split(raw: _Raw, cols: slice) -> _Raw:
    pf = raw.pfunc
    return _Raw(raw.name, raw.stat[..., cols], raw.dist,
                None if raw.df is None else raw.df[..., cols], raw.n[..., cols],
                raw.reason[..., cols],
                None if pf is None else (lambda alt: pf(alt)[..., cols]),
                {k: v[..., cols] for k, v in raw.extra.items()})


def cross_event_tests_multi(inputs: TestInputs, alternatives: Sequence[Alternative | str],
                            *, n_boot: int = 999, seed: int = 0, confidence: float = 0.95,
                            boot_streams: BootstrapStreams | str = "per-resample"
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
    boot_streams : {'per-resample', 'sequential'}, default 'per-resample'
        Where the bootstrap's draws come from: a generator for each resample
        (drawn on every core) or one generator for all, resample after resample
        (the scheme of earlier releases); see
        :func:`marketreact.inference.nonparametric.bootstrap_means`.

    Returns
    -------
    dict of Alternative to CrossEventTests
    """
    day, win, r_bar = _compute(inputs, n_boot, seed, confidence, boot_streams)
    out = {}
    for alt in alternatives:
        a = Alternative(alt)
        out[a] = CrossEventTests(
            {r.name: r.result(TEST_TITLES[r.name], a) for r in day},
            {r.name: r.result(WINDOW_TITLES[r.name], a) for r in win}, a, r_bar)
    return out


def cross_event_tests(inputs: TestInputs | Any, alternative: Alternative | str = "two-sided",
                      *, n_boot: int = 999, seed: int = 0, confidence: float = 0.95,
                      boot_streams: BootstrapStreams | str = "per-resample") -> CrossEventTests:
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
    boot_streams : {'per-resample', 'sequential'}, default 'per-resample'
        Where the bootstrap's draws come from: a generator for each resample
        (drawn on every core) or one generator for all, resample after resample
        (the scheme of earlier releases); see
        :func:`marketreact.inference.nonparametric.bootstrap_means`.

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
                                   confidence=confidence, boot_streams=boot_streams)[alt]


# ----------------------------------------------------------------------------- tables


def _test_columns(results: Mapping[str, TestResult]) -> dict[str, FloatArray]:
    cols: dict[str, FloatArray] = {}
    for name in TEST_NAMES:
        r = results[name]
        cols[name], cols[p_column(name)] = r.stat, r.pvalue
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
                    mean_bhar: FloatArray | None = None,
                    bhar: FloatArray | None = None) -> pd.DataFrame:
    """``aggregate.csv``: ``window, n, caar, mean_bhar``, then the test columns of the AAR table.

    With ``bhar`` (``(N, W)`` buy-and-hold abnormal returns, one column per
    window) the mean BHAR is tested too: columns ``bhar_t``/``bhar_t_p`` (the
    conventional t, ``t(N-1)``) and ``bhar_tsa``/``bhar_tsa_p`` (the
    skewness-adjusted t of Lyon, Barber & Tsai 1999), from
    :mod:`marketreact.inference.long_horizon`, with the alternative of ``tests``;
    ``mean_bhar`` defaults to their mean.
    """
    n, caar, _ = _count_mean_sd(np.asarray(car, float))
    if mean_bhar is None and bhar is not None:
        _, mean_bhar, _ = _count_mean_sd(np.asarray(bhar, float))
    frame = pd.DataFrame({"window": list(labels), "n": n, "caar": caar,
                          "mean_bhar": (np.full(len(labels), math.nan) if mean_bhar is None
                                        else mean_bhar)})
    for k, v in _test_columns(tests.windows).items():
        frame[k] = v
    if bhar is not None:
        b = np.asarray(bhar, float).reshape(-1, len(labels))
        for col, fn in (("bhar_t", bhar_t), ("bhar_tsa", skewness_adjusted_t)):
            r = fn(b, tests.alternative)
            frame[col], frame[f"{col}_p"] = r.stat, r.pvalue
    return frame
