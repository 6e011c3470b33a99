"""The GARCH(1,1) market model, fitted one event at a time with the ``arch`` package."""

from __future__ import annotations

import warnings

import numpy as np

from marketreact.errors import InputError
from marketreact.models.linear import (
    AbnormalReturns,
    FitProblems,
    LinearFit,
    abnormal_returns,
)
from marketreact.models.spec import ModelSpec
from marketreact.windows import WindowData


def fit_garch(est: WindowData, evt: WindowData, spec: ModelSpec,
              gap: int = 0) -> tuple[LinearFit, AbnormalReturns, FitProblems]:
    """The market model with GARCH(1,1) errors, one event at a time (``arch``).

    Parameters
    ----------
    est, evt : WindowData
        Estimation and event windows, regressors ``const, market``.
    spec : ModelSpec
        The GARCH model.
    gap : int, default 0
        Sessions between the two windows.

    Returns
    -------
    fit : LinearFit
        ``coef`` are the ML ``alpha, beta``; ``sigma2`` the unconditional
        variance ``omega / (1 - a - b)`` (the sample variance of the residuals
        when ``a + b >= 1``); ``xtx_inv`` zeros.
    ar : AbnormalReturns
        ``variance`` and the diagonal ``covariance`` are the conditional variances.
    problems : FitProblems
    """
    try:
        from arch import arch_model
    except ImportError:  # pragma: no cover - depends on the environment
        raise InputError("the garch model needs the 'arch' package: "
                         "pip install 'marketreact[garch]'") from None
    E, L1 = est.y.shape
    L2 = evt.y.shape[1]
    k = len(spec.regressors)
    used = est.valid & (est.span == 1)
    n = used.sum(axis=1).astype(np.int64)
    coef = np.full((E, k), np.nan)
    sigma2 = np.full(E, np.nan)
    resid = np.full((E, L1), np.nan)
    h_evt = np.full((E, L2), np.nan)
    reason = np.full(E, "", dtype=object)
    m_col = spec.regressors.index("market")
    for e in range(E):
        u = used[e]
        if n[e] < 10:
            reason[e] = f"GARCH needs at least 10 estimation returns (has {n[e]})"
            continue
        y = 100.0 * (est.y[e, u] - est.offset[e, u])
        x = 100.0 * est.X[e, u][:, [m_col]]
        model = arch_model(y, x=x, mean="LS", vol="GARCH", p=1, q=1, dist="normal",
                           rescale=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = model.fit(disp="off", show_warning=False, options={"maxiter": 1000})
        params = np.asarray(res.params, dtype=float)
        if res.convergence_flag != 0 or not np.isfinite(params).all():
            reason[e] = f"GARCH fit did not converge ({res.optimization_result.message})"
            continue
        const, beta, omega, a1, b1 = params
        coef[e] = (const / 100.0, beta)
        omega /= 1e4
        e_est = np.asarray(res.resid, dtype=float) / 100.0
        h_est = (np.asarray(res.conditional_volatility, dtype=float) / 100.0) ** 2
        resid[e, u] = e_est
        persistence = a1 + b1
        sigma2[e] = (omega / (1.0 - persistence) if persistence < 1.0
                     else float(np.var(e_est, ddof=2)))
        # one step after the last used estimation return, then expectations up to day w0
        last = int(np.flatnonzero(u)[-1])
        h = omega + a1 * e_est[-1] ** 2 + b1 * h_est[-1]
        for _ in range((L1 - 1 - last) + gap):
            h = omega + persistence * h
        ar_e = evt.y[e] - evt.offset[e] - evt.X[e] @ coef[e]
        for j in range(L2):
            h_evt[e, j] = h
            if evt.valid[e, j] and evt.span[e, j] == 1:
                h = omega + a1 * ar_e[j] ** 2 + b1 * h
            else:
                h = omega + persistence * h
    df = n - k
    fit = LinearFit(coef, np.zeros((E, k, k)), sigma2, n, df, resid, used)
    base = abnormal_returns(evt, fit)
    variance = np.where(evt.valid, h_evt * np.maximum(evt.span, 1), np.nan)
    cov = np.zeros((E, L2, L2))
    idx = np.arange(L2)
    cov[:, idx, idx] = np.where(evt.valid, variance, 0.0)
    ab = AbnormalReturns(base.expected, base.ar, variance, cov)
    return fit, ab, FitProblems(reason)
