"""Event-study regressions with statsmodels.

Dummy-variable regression (:func:`dummy_regression`)
----------------------------------------------------
For each event, one OLS regression over the estimation and event windows together::

    R_t = x_t' b + sum_k g_k D_k,t + e_t

where ``x_t`` are the model's regressors (``1, R_m,t`` for the market model,
the factors for the factor models, with excess returns on the left) and
``D_k,t`` is 1 on event day ``k`` only. Each ``g_k`` equals the abnormal return
of day ``k``: the dummies fit the event days exactly, so ``b`` and the
residual variance come from the estimation window alone (``n - k`` degrees of
freedom), and ``Var(g)`` is MacKinlay's variance with estimation error. A CAR
is ``sum g_k`` with variance ``1' Cov(g) 1``.

HAC (Newey-West) errors, ``hac_lags=L``: statsmodels' HAC covariance of a dummy
that picks out a single observation leaves out that observation's own error (its
residual is zero by construction), so it understates ``Var(g_k)`` badly. The
covariance of the ARs is therefore built from its two parts,
``Cov(g) = Cov(e_event) + X_event V_HAC(b) X_event'``: ``V_HAC(b)`` is the
Newey-West covariance of the model's coefficients (statsmodels ``cov_type="HAC"``,
``maxlags=L``, Bartlett kernel, no small-sample correction), and ``Cov(e_event)``
holds the Bartlett-weighted autocovariances ``(1 - h/(L+1)) c_h`` of the
estimation residuals, ``c_h = sum_t e_t e_{t+h} / (n - k)``, for event days ``h``
sessions apart (zero beyond ``L``; a return spanning several sessions sums them).
With ``L = 0`` this is the OLS variance with a White covariance for ``b``.
Returns are used exactly as in the vectorised engine (estimation returns
spanning several sessions are left out; event-window ones keep their span, with
the regressors summed over it), so both paths give the same abnormal returns.
An event-window return spanning ``s`` sessions has variance ``s sigma^2``: it gets
the weight ``1/s`` (statsmodels WLS; every other row has weight 1, so this is OLS
when nothing spans), which gives its dummy the variance ``sigma^2 (s + x'(X'X)^-1 x)``
of the vectorised engine.

Cross-sectional regression (:func:`cross_sectional`)
----------------------------------------------------
CARs of one window regressed on event attributes (any column of the results'
``events.csv``, e.g. ``sentiment``) with a formula, HC3 standard errors.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from marketreact.errors import InputError
from marketreact.models.linear import AbnormalReturns, FitProblems, LinearFit
from marketreact.models.spec import ModelSpec
from marketreact.windows import WindowData

log = logging.getLogger(__name__)


def dummy_regression(est: WindowData, evt: WindowData, spec: ModelSpec,
                     hac_lags: int | None = None
                     ) -> tuple[LinearFit, AbnormalReturns, FitProblems]:
    """Fit the dummy-variable event-study regression for every event (statsmodels OLS/WLS).

    Parameters
    ----------
    est : WindowData
        ``(E, L1)`` estimation window, regressors ``spec.regressors``.
    evt : WindowData
        ``(E, L2)`` event window.
    spec : ModelSpec
        A model estimated by OLS.
    hac_lags : int, optional
        Newey-West lags; default: the usual OLS covariance.

    Returns
    -------
    fit : LinearFit
        The model's coefficients, ``(X'X)^-1`` of the estimation returns,
        residual variance (statsmodels ``scale``) and residuals.
    ar : AbnormalReturns
        ``ar`` are the dummy coefficients, ``variance`` their variances and
        ``covariance`` their full covariance (zero for missing days).
    problems : FitProblems
    """
    import statsmodels.api as sm

    if spec.fixed is not None:
        raise InputError(f"the dummy-variable regression needs an estimated model, "
                         f"not {spec.name}")
    E, L1 = est.y.shape
    L2 = evt.y.shape[1]
    k = len(spec.regressors)
    used = est.valid & (est.span == 1)
    n = used.sum(axis=1).astype(np.int64)
    coef = np.full((E, k), np.nan)
    xtx_inv = np.full((E, k, k), np.nan)
    sigma2 = np.full(E, np.nan)
    resid = np.full((E, L1), np.nan)
    ar = np.full((E, L2), np.nan)
    cov = np.zeros((E, L2, L2))
    reason = np.full(E, "", dtype=object)
    cov_type, cov_kwds = ("HAC", {"maxlags": hac_lags}) if hac_lags is not None else (
        "nonrobust", None)
    for e in range(E):
        u, v = used[e], evt.valid[e]
        n_est, n_evt = int(u.sum()), int(v.sum())
        if n_est <= k:
            continue
        y = np.concatenate([est.y[e, u] - est.offset[e, u], evt.y[e, v] - evt.offset[e, v]])
        X = np.vstack([est.X[e, u], evt.X[e, v]])
        D = np.zeros((n_est + n_evt, n_evt))
        D[n_est + np.arange(n_evt), np.arange(n_evt)] = 1.0
        design = np.hstack([X, D])
        if np.linalg.matrix_rank(design) < design.shape[1]:
            reason[e] = "the regression design is singular"
            continue
        weights = np.concatenate([np.ones(n_est), 1.0 / evt.span[e, v]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = sm.WLS(y, design, weights=weights).fit(cov_type=cov_type, cov_kwds=cov_kwds)
        params = np.asarray(res.params)
        vcov = np.asarray(res.cov_params())
        if hac_lags is not None:
            vcov = vcov.copy()
            vcov[k:, k:] = _hac_event_covariance(
                np.asarray(res.resid)[:n_est], evt.X[e, v], evt.span[e, v],
                np.flatnonzero(v), vcov[:k, :k], hac_lags, k)
        coef[e] = params[:k]
        xtx_inv[e] = np.asarray(res.normalized_cov_params)[:k, :k]
        sigma2[e] = float(res.scale)
        resid[e, u] = np.asarray(res.resid)[:n_est]
        cols = np.flatnonzero(v)
        ar[e, cols] = params[k:]
        cov[e][np.ix_(cols, cols)] = vcov[k:, k:]
    df = n - k
    expected = np.where(evt.valid, evt.offset + np.einsum("elk,ek->el", evt.X, coef), np.nan)
    variance = np.where(evt.valid, np.diagonal(cov, axis1=1, axis2=2), np.nan)
    fit = LinearFit(coef, xtx_inv, sigma2, n, df, resid, used)
    return fit, AbnormalReturns(expected, ar, variance, cov), FitProblems(reason)


def _hac_event_covariance(resid: np.ndarray, X_evt: np.ndarray, span: np.ndarray,
                          cols: np.ndarray, v_b: np.ndarray, lags: int, k: int) -> np.ndarray:
    """``Cov(e_event) + X V_HAC(b) X'`` for the valid event returns (see the module notes)."""
    n = len(resid)
    gamma = np.array([resid[h:] @ resid[:n - h] if h < n else 0.0
                      for h in range(lags + 1)]) / max(n - k, 1)
    weights = 1.0 - np.arange(lags + 1) / (lags + 1)
    first = cols - span + 1  # first session each return covers (window columns)
    lo, hi = int(first.min()), int(cols.max())
    sessions = np.arange(lo, hi + 1)
    lag = np.abs(sessions[:, None] - sessions[None, :])
    C = np.where(lag <= lags, (weights * gamma)[np.minimum(lag, lags)], 0.0)
    A = ((sessions[None, :] >= first[:, None]) & (sessions[None, :] <= cols[:, None])).astype(
        float)
    return A @ C @ A.T + X_evt @ v_b @ X_evt.T


