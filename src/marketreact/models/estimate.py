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

import numpy as np
import pandas as pd

from marketreact._typing import IntArray
from marketreact.models.garch import fit_garch
from marketreact.models.linear import (
    AbnormalReturns,
    FitProblems,
    LinearFit,
    abnormal_returns,
    fit_linear,
)
from marketreact.models.spec import Estimator, Method, ModelSpec
from marketreact.models.thin import fit_dimson, fit_scholes_williams
from marketreact.windows import WindowData


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
