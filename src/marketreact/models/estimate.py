"""Estimating normal-return models over the estimation window, for all events.

:func:`estimate` is the one entry point of the study: it picks the estimator
of the model (:class:`marketreact.models.Estimator`) or the dummy-variable
regression (``method=regression``) and returns the fit, the abnormal returns
of the event window and a reason for every event it could not fit.

Estimators
----------
``ols`` / ``fixed``
    Batched OLS (:func:`marketreact.models.fit_linear`) or fixed coefficients.
``scholes-williams``
    Scholes and Williams (1977): ``beta = (b_-1 + b_0 + b_+1) / (1 + 2 rho)``
    where ``b_j`` is the slope of the simple regression of ``R_t`` on
    ``R_m,t+j`` and ``rho`` the first-order autocorrelation (correlation of
    ``R_m,t`` with ``R_m,t-1``) of the market; ``alpha = mean(R) - beta mean(R_m)``.
``dimson``
    Dimson (1979): OLS of ``R_t`` on a constant and ``R_m,t-L .. R_m,t+K``;
    ``beta`` is the sum of the slopes, ``alpha = mean(R) - beta mean(R_m)``.
``garch``
    The market model with GARCH(1,1) errors, fitted by maximum likelihood
    with the ``arch`` package (optional extra ``marketreact[garch]``).

For Scholes-Williams and Dimson all sums run over the same estimation
returns: one-session returns whose lagged and leading market returns are all
present. Their residual variance is that of ``R_t - alpha - beta R_m,t`` with
``n - 2`` degrees of freedom, and the estimation-error term of an abnormal
return's variance uses the OLS ``(X'X)^-1`` of ``[1, R_m]`` over those returns
(an approximation: these betas are not OLS betas).

GARCH abnormal returns
----------------------
``AR_t = R_t - alpha - beta R_m,t`` with the maximum-likelihood ``alpha,
beta``. Its variance is the conditional variance ``h_t = omega + a e_{t-1}^2 +
b h_{t-1}``, filtered with the estimated parameters from the estimation window
through the event window, so ``AR_t / sqrt(h_t)`` (``ar / ar_se`` in the results)
is the standardised abnormal return. Sessions between the two windows and
sessions without a one-session return advance ``h`` by its expectation
(``omega + (a + b) h``); a return spanning ``s`` sessions gets ``s h_t``. The
estimation error of ``alpha, beta`` is not added; ARs are uncorrelated, so
a CAR's variance is the sum of the ``h_t``. The model is fitted on returns in
percent (``arch`` converges better there) and the results are scaled back.

Missing prices (:class:`MissingPolicy`)
---------------------------------------
``drop`` (default)
    A session without a price has no return. It is left out of the
    estimation, as is the next return, which spans it; in the event window
    that spanning return is kept as a multi-session abnormal return (its
    expected return is summed over the sessions, its variance scaled by them,
    ``span > 1`` in ``abnormal_returns.csv``). An estimation window with fewer
    than ``min_estimation`` usable returns fails the event.
``fail``
    An event with any session, between its first estimation return and the
    end of the event window, on which the stock (or the market, or a factor)
    has no one-session return fails, with the first such date as the reason.

A missing price is never taken as a zero return.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from enum import Enum

import numpy as np
import pandas as pd

from marketreact._typing import BoolArray, FloatArray, IntArray
from marketreact.errors import InputError
from marketreact.models.linear import (
    AbnormalReturns,
    Estimator,
    LinearFit,
    ModelName,
    ModelSpec,
    WindowData,
    abnormal_returns,
    fit_linear,
    model_spec,
    parse_shift,
)


class Method(str, Enum):
    """How abnormal returns are estimated."""

    vectorised = "vectorised"
    regression = "regression"


class MissingPolicy(str, Enum):
    """What a session without a price inside the windows does to an event."""

    drop = "drop"
    fail = "fail"


class SessionSource(str, Enum):
    """Where the trading sessions of an exchange come from."""

    calendar = "calendar"
    market = "market"


@dataclass(frozen=True)
class FitProblems:
    """Why events could not be fitted.

    Attributes
    ----------
    reason : numpy.ndarray
        ``(E,)`` object array: ``""`` where the fit worked, else the reason.
    """

    reason: np.ndarray


def check_method(model: ModelName, method: Method, hac_lags: int | None) -> list[str]:
    """Problems with a combination of model, method and HAC lags (empty when fine)."""
    problems = []
    estimator = model_spec(model).estimator
    if method is Method.regression and estimator is not Estimator.ols:
        problems.append(f"method regression needs a model estimated by OLS (constant-mean, "
                        f"market-model, ff3, ff5, carhart4), not {model.value}")
    if hac_lags is not None:
        if method is not Method.regression:
            problems.append("HAC (Newey-West) errors need method regression")
        if hac_lags < 0:
            problems.append("hac_lags must be non-negative")
    return problems


def estimate(est: WindowData, evt: WindowData, spec: ModelSpec,
             method: Method = Method.vectorised, hac_lags: int | None = None,
             gap: int = 0) -> tuple[LinearFit, AbnormalReturns, FitProblems]:
    """Fit a model on the estimation window and compute event-window abnormal returns.

    Parameters
    ----------
    est : WindowData
        Estimation-window data, regressors ``spec.estimation_columns``.
    evt : WindowData
        Event-window data, regressors ``spec.regressors``.
    spec : ModelSpec
        The model.
    method : Method, default vectorised
        ``regression`` runs the per-event dummy-variable regression.
    hac_lags : int, optional
        Newey-West lags for ``method=regression``.
    gap : int, default 0
        Sessions between the end of the estimation window and the start of
        the event window (GARCH variance forecasts step over them).

    Returns
    -------
    fit : LinearFit
        Coefficients of ``spec.regressors``.
    ar : AbnormalReturns
    problems : FitProblems
        Events whose fit failed have NaN ``fit.sigma2`` and a reason here
        (an empty reason means a singular design).
    """
    if method is Method.regression:
        from marketreact.models.dummy import dummy_regression

        return dummy_regression(est, evt, spec, hac_lags)
    if spec.estimator is Estimator.garch:
        return fit_garch(est, evt, spec, gap)
    if spec.estimator is Estimator.scholes_williams:
        fit = fit_scholes_williams(est, spec)
    elif spec.estimator is Estimator.dimson:
        fit = fit_dimson(est, spec)
    else:
        fit = fit_linear(est, spec)
    return fit, abnormal_returns(evt, fit), FitProblems(np.full(len(est.y), "", dtype=object))


def _column(spec: ModelSpec, name: str) -> int:
    return spec.estimation_columns.index(name)


def _masked_mean(a: FloatArray, used: BoolArray, n: IntArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(used, a, 0.0).sum(axis=1) / np.where(n > 0, n, np.nan)


def _masked_cov(a: FloatArray, b: FloatArray, used: BoolArray, n: IntArray) -> FloatArray:
    da = np.where(used, a - _masked_mean(a, used, n)[:, None], 0.0)
    db = np.where(used, b - _masked_mean(b, used, n)[:, None], 0.0)
    return (da * db).sum(axis=1)


def _single_index_fit(est: WindowData, spec: ModelSpec, alpha: FloatArray, beta: FloatArray,
                      used: BoolArray) -> LinearFit:
    """A LinearFit for ``(alpha, beta)`` on ``[const, market]`` estimated by other means."""
    c, m = _column(spec, "const"), _column(spec, "market")
    X2 = est.X[..., [c, m]]
    n = used.sum(axis=1).astype(np.int64)
    coef = np.stack([alpha, beta], axis=1)
    Xu = np.where(used[..., None], X2, 0.0)
    xtx = np.einsum("elk,elj->ekj", Xu, Xu)
    xtx_inv = np.full(xtx.shape, np.nan)
    good = np.isfinite(coef).all(axis=1) & (n > 2)
    if good.any():
        with np.errstate(all="ignore"):
            cond = np.linalg.cond(xtx[good])
        good[np.flatnonzero(good)[~(np.isfinite(cond) & (cond < 1e13))]] = False
    if good.any():
        xtx_inv[good] = np.linalg.inv(xtx[good])
    coef = np.where(good[:, None], coef, np.nan)
    fitted = est.offset + np.einsum("elk,ek->el", X2, coef)
    resid = np.where(used, est.y - fitted, np.nan)
    df = n - 2
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma2 = np.where(good & (df > 0), np.nansum(resid**2, axis=1) / np.maximum(df, 1),
                          np.nan)
    return LinearFit(coef, xtx_inv, sigma2, n, df, resid, used)


def fit_scholes_williams(est: WindowData, spec: ModelSpec) -> LinearFit:
    """Scholes-Williams (1977) betas for every event at once.

    Parameters
    ----------
    est : WindowData
        Estimation window with regressors ``const, market, market[-1], market[+1]``.
    spec : ModelSpec
        The Scholes-Williams model.

    Returns
    -------
    LinearFit
        Coefficients ``(alpha, beta)`` of ``[const, market]``.
    """
    used = est.valid & (est.span == 1)
    n = used.sum(axis=1).astype(np.int64)
    y = est.y - est.offset
    m0 = est.X[..., _column(spec, "market")]
    lag = est.X[..., _column(spec, "market[-1]")]
    lead = est.X[..., _column(spec, "market[+1]")]
    with np.errstate(invalid="ignore", divide="ignore"):
        slopes = [_masked_cov(y, x, used, n) / _masked_cov(x, x, used, n)
                  for x in (lag, m0, lead)]
        rho = _masked_cov(m0, lag, used, n) / np.sqrt(
            _masked_cov(m0, m0, used, n) * _masked_cov(lag, lag, used, n))
        beta = (slopes[0] + slopes[1] + slopes[2]) / (1.0 + 2.0 * rho)
    alpha = _masked_mean(y, used, n) - beta * _masked_mean(m0, used, n)
    return _single_index_fit(est, spec, alpha, beta, used)


def fit_dimson(est: WindowData, spec: ModelSpec) -> LinearFit:
    """Dimson (1979) betas (sum of lagged, current and leading slopes) for every event.

    Parameters
    ----------
    est : WindowData
        Estimation window with regressors ``spec.estimation_columns``.
    spec : ModelSpec
        The Dimson model (see :func:`marketreact.models.model_spec`).

    Returns
    -------
    LinearFit
        Coefficients ``(alpha, beta)`` of ``[const, market]``.
    """
    full = ModelSpec(spec.name, spec.estimation_columns)
    multi = fit_linear(est, full)
    market_cols = [i for i, r in enumerate(spec.estimation_columns)
                   if parse_shift(r)[0] == "market"]
    beta = multi.coef[:, market_cols].sum(axis=1)
    used = multi.used
    n = used.sum(axis=1)
    m0 = est.X[..., _column(spec, "market")]
    alpha = _masked_mean(est.y - est.offset, used, n) - beta * _masked_mean(m0, used, n)
    return _single_index_fit(est, spec, alpha, beta, used)


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


def missing_price_reasons(est: WindowData, evt: WindowData, fit: LinearFit,
                          est_days: IntArray, evt_days: IntArray, day0: IntArray,
                          labels: pd.DatetimeIndex) -> np.ndarray:
    """Reasons for the ``fail`` missing-price policy (``""`` where nothing is missing).

    A session counts as missing when it lies between the event's first usable
    estimation return and the end of the event window and has no one-session
    return of the stock with all its regressors.
    """
    E = len(day0)
    reasons = np.full(E, "", dtype=object)
    used = fit.used
    has = used.any(axis=1)
    first = np.where(has, used.argmax(axis=1), used.shape[1])
    cols = np.arange(used.shape[1])
    est_missing = ~used & (cols[None, :] > first[:, None])
    evt_missing = ~(evt.valid & (evt.span == 1))
    rel = np.concatenate([est_days, evt_days])
    missing = np.concatenate([est_missing, evt_missing], axis=1)
    count = missing.sum(axis=1)
    for i in np.flatnonzero(count):
        j = int(np.argmax(missing[i]))
        pos = int(np.clip(day0[i] + rel[j], 0, len(labels) - 1))
        reasons[i] = (f"missing prices (policy 'fail'): {count[i]} session(s) in the windows "
                      f"without a one-session return, first {labels[pos].date()} "
                      f"(day {rel[j]:+d})")
    return reasons
