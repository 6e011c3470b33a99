"""Diagnostics of the fitted models: estimation residuals, stale prices, pre-event trend.

* :func:`residual_diagnostics`: per event, on the estimation-window residuals
  (their finite values, in order), the Jarque-Bera normality test, the
  Ljung-Box test of autocorrelation and Engle's ARCH-LM test, computed for all
  events at once with the formulas of statsmodels (``jarque_bera``,
  ``acorr_ljungbox``, ``het_arch``; the tests compare them on the same numbers).
* :func:`zero_return_share`: the share of sessions with a zero return (a price
  that did not move: stale quotes, suspended or illiquid stocks).
* :func:`pretrend_test`: the joint test that the pre-event AARs are all zero.

Formulas (``e`` the residuals of one event, ``n`` of them, ``m`` lags)::

    JB = n/6 (S^2 + (K - 3)^2 / 4) ~ chi2(2)             S, K: moment skewness, kurtosis
    Q  = n (n + 2) sum_k r_k^2 / (n - k) ~ chi2(m)        r_k: autocorrelation (demeaned)
    LM = (n - m) R^2 ~ chi2(m)                            R^2 of e_t^2 on 1, e_{t-1}^2 .. e_{t-m}^2

Pre-event trend (``A`` the ``N x K`` ARs of the pre-event days of the event
window, events with every day present)::

    T^2 = N abar' S^-1 abar,   F = (N - K) / (K (N - 1)) T^2 ~ F(K, N - K)   (Hotelling)
    chi2 = sum_t z_t^2 ~ chi2(K),  z_t = sum_i SAR_it / sqrt(N_t)            (standardised)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from marketreact._typing import FloatArray, IntArray

#: Lags of the Ljung-Box test (at most n // 5 of an event's residuals).
LJUNG_BOX_LAGS = 10
#: Lags of the ARCH-LM test.
ARCH_LAGS = 5
#: Share of zero returns in the event window from which an event is flagged stale.
STALE_SHARE = 0.5

DIAGNOSTIC_COLUMNS = ("n_residuals", "jarque_bera", "jarque_bera_p", "ljung_box",
                      "ljung_box_p", "ljung_box_lags", "arch_lm", "arch_lm_p", "arch_lags")


def _compress(x: FloatArray) -> tuple[FloatArray, IntArray, np.ndarray]:
    """Finite values of each row moved to the front (order kept), their count, a mask."""
    finite = np.isfinite(x)
    order = np.argsort(~finite, axis=1, kind="stable")
    packed = np.take_along_axis(np.where(finite, x, 0.0), order, axis=1)
    n = finite.sum(axis=1)
    mask = np.arange(x.shape[1])[None, :] < n[:, None]
    return np.where(mask, packed, 0.0), n, mask


def residual_diagnostics(residuals: FloatArray, lb_lags: int = LJUNG_BOX_LAGS,
                         arch_lags: int = ARCH_LAGS) -> pd.DataFrame:
    """Jarque-Bera, Ljung-Box and ARCH-LM tests of every event's estimation residuals.

    Parameters
    ----------
    residuals : numpy.ndarray
        ``(E, L1)`` residuals (NaN where a session was not used); each event's
        finite values are taken in order.
    lb_lags : int, default 10
        Ljung-Box lags (fewer, ``n // 5``, for an event with few residuals).
    arch_lags : int, default 5
        ARCH-LM lags (fewer, ``n // 5``, likewise).

    Returns
    -------
    pandas.DataFrame
        One row per event: :data:`DIAGNOSTIC_COLUMNS` (NaN where an event has
        too few residuals or they are constant).
    """
    x, n, mask = _compress(np.asarray(residuals, float))
    e, width = x.shape
    nf = n.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = x.sum(axis=1) / nf
        d = np.where(mask, x - mean[:, None], 0.0)
        m2 = (d**2).sum(axis=1) / nf
        m3 = (d**3).sum(axis=1) / nf
        m4 = (d**4).sum(axis=1) / nf
        skew = m3 / m2**1.5
        kurt = m4 / m2**2
        jb = nf / 6.0 * (skew**2 + (kurt - 3.0) ** 2 / 4.0)
    jb = np.where((n >= 3) & (m2 > 0), jb, np.nan)
    jb_p = stats.chi2.sf(jb, 2)

    # Ljung-Box: demeaned autocorrelations over the packed (gap-free) series
    lbm = np.minimum(lb_lags, n // 5)
    q = np.zeros(e)
    denom = (d**2).sum(axis=1)
    for k in range(1, min(lb_lags, width - 1) + 1):
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (d[:, k:] * d[:, :-k]).sum(axis=1) / denom
            q += np.where(k <= lbm, r**2 / (nf - k), 0.0)
    with np.errstate(invalid="ignore"):
        q = np.where((lbm >= 1) & (denom > 0), nf * (nf + 2) * q, np.nan)
        lb_p = np.where(np.isfinite(q), stats.chi2.sf(q, np.maximum(lbm, 1)), np.nan)

    lm, lm_p, am = _arch_lm(x, n, arch_lags)
    return pd.DataFrame({"n_residuals": n, "jarque_bera": jb, "jarque_bera_p": jb_p,
                         "ljung_box": q, "ljung_box_p": lb_p, "ljung_box_lags": lbm,
                         "arch_lm": lm, "arch_lm_p": lm_p, "arch_lags": am})


def _arch_lm(x: FloatArray, n: IntArray, lags: int
             ) -> tuple[FloatArray, FloatArray, IntArray]:
    """Engle's LM test (statsmodels ``het_arch``) for every row, lags ``min(lags, n // 5)``."""
    e, width = x.shape
    lm = np.full(e, np.nan)
    pv = np.full(e, np.nan)
    m_of = np.minimum(lags, n // 5)
    sq = x**2
    for m in np.unique(m_of[m_of >= 1]):  # at most `lags` distinct lag counts
        rows = np.flatnonzero(m_of == m)
        s = sq[rows]
        nn = n[rows]
        t_idx = np.arange(m, width)
        valid = t_idx[None, :] < nn[:, None]  # observation t uses s[t-1..t-m]
        y = np.where(valid, s[:, m:], 0.0)
        cols = [valid.astype(float)] + [np.where(valid, s[:, m - j:width - j], 0.0)
                                        for j in range(1, m + 1)]
        X = np.stack(cols, axis=-1)  # (R, T, m + 1); rows outside the series are zero
        xtx = np.einsum("rtk,rtl->rkl", X, X)
        xty = np.einsum("rtk,rt->rk", X, y)
        nobs = (nn - m).astype(float)
        ok = nobs > m + 1
        beta = np.full((len(rows), m + 1), np.nan)
        if ok.any():
            beta[ok] = _solve(xtx[ok], xty[ok])
        fitted = np.einsum("rtk,rk->rt", X, np.nan_to_num(beta))
        ssr = np.where(valid, (y - fitted) ** 2, 0.0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            ybar = y.sum(axis=1) / nobs
            tss = np.where(valid, (y - ybar[:, None]) ** 2, 0.0).sum(axis=1)
            r2 = 1.0 - ssr / tss
            stat = nobs * r2
        stat = np.where(ok & (tss > 0), stat, np.nan)
        lm[rows] = stat
        pv[rows] = np.where(np.isfinite(stat), stats.chi2.sf(stat, m), np.nan)
    return lm, pv, m_of


def _solve(a: FloatArray, b: FloatArray) -> FloatArray:
    """Batched solve of ``a x = b``, NaN for a singular system."""
    out = np.full(b.shape, np.nan)
    good = np.abs(np.linalg.det(a)) > 0
    if good.any():
        out[good] = np.linalg.solve(a[good], b[good][..., None])[..., 0]
    return out


def zero_return_share(returns: FloatArray) -> FloatArray:
    """Share of the present returns of each row that are exactly zero.

    Parameters
    ----------
    returns : numpy.ndarray
        ``(E, L)`` returns (NaN where missing).

    Returns
    -------
    numpy.ndarray
        ``(E,)`` share (NaN for a row without returns).
    """
    r = np.asarray(returns, float)
    ok = np.isfinite(r)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ok & (r == 0)).sum(axis=1) / ok.sum(axis=1)


@dataclass(frozen=True)
class PretrendTest:
    """The joint test that the pre-event AARs are zero.

    Attributes
    ----------
    days : tuple of int
        The pre-event relative days tested.
    n : int
        Events with an AR on every one of those days (Hotelling test).
    hotelling_f, hotelling_p : float
        Hotelling's T^2 as F(K, N - K) and its p-value (NaN when N <= K).
    chi2, chi2_p : float
        Sum of the squared standardised AARs, chi2(K), and its p-value.
    reason : str
        Why the Hotelling test could not be computed (empty when it was).
    """

    days: tuple[int, ...]
    n: int
    hotelling_f: float
    hotelling_p: float
    chi2: float
    chi2_p: float
    reason: str = ""

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able values."""
        return {"days": list(self.days), "n": self.n, "hotelling_f": self.hotelling_f,
                "hotelling_p": self.hotelling_p, "chi2": self.chi2, "chi2_p": self.chi2_p,
                "reason": self.reason}


def pretrend_test(rel_days: IntArray, ar: FloatArray, ar_var: FloatArray) -> PretrendTest:
    """Joint test that the AARs of the pre-event days (relative day < 0) are zero.

    Parameters
    ----------
    rel_days : numpy.ndarray
        ``(L2,)`` relative days of the event window.
    ar, ar_var : numpy.ndarray
        ``(E, L2)`` abnormal returns and their variances.

    Returns
    -------
    PretrendTest
        Hotelling's T^2 on the events with every pre-event AR (the
        cross-sectional covariance of the days allows for correlation between
        days), and the chi-square of the standardised AARs (independence across
        days and events assumed).
    """
    rel = np.asarray(rel_days)
    cols = rel < 0
    days = tuple(int(d) for d in rel[cols])
    k = len(days)
    nan = float("nan")
    if not k:
        return PretrendTest((), 0, nan, nan, nan, nan, "the event window has no pre-event day")
    a = np.asarray(ar, float)[:, cols]
    v = np.asarray(ar_var, float)[:, cols]
    # standardised ARs (NaN without a positive variance), in place: a million events' worth
    # of temporaries would otherwise be the study's peak of memory
    with np.errstate(invalid="ignore", divide="ignore"):
        sar = np.sqrt(v)
        np.divide(a, sar, out=sar)
    sar[~(v > 0)] = np.nan
    del v
    ok = np.isfinite(sar)
    n_t = ok.sum(axis=0)
    sar[~ok] = 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        z = sar.sum(axis=0) / np.sqrt(n_t)
    del sar
    chi2 = float(np.sum(z**2)) if (n_t > 0).all() else nan
    chi2_p = float(stats.chi2.sf(chi2, k)) if np.isfinite(chi2) else nan
    full = np.isfinite(a).all(axis=1)
    n = int(full.sum())
    reason = ""
    f = p = nan
    if n <= k:
        reason = f"Hotelling's test needs more events with every pre-event AR ({n}) than days ({k})"
    else:
        x = a[full]
        mean = x.mean(axis=0)
        cov = np.cov(x, rowvar=False, ddof=1).reshape(k, k)
        try:
            t2 = float(n * mean @ np.linalg.solve(cov, mean))
            f = (n - k) / (k * (n - 1)) * t2
            p = float(stats.f.sf(f, k, n - k))
        except np.linalg.LinAlgError:
            reason = "singular covariance of the pre-event ARs"
    return PretrendTest(days, n, f, p, chi2, chi2_p, reason)
