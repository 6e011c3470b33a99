"""Normal-return models, fitted for all events at once.

Every model here is linear in its regressors, ``E[R_t] = x_t' b``, fitted by OLS
over each event's estimation window (or with fixed coefficients). The batched
normal equations give, per event, the coefficients, ``(X'X)^-1`` and the
residual variance ``s^2 = SSR / (n - k)``; from them the variance of any
abnormal return or sum of abnormal returns *including the estimation error of
the model* (MacKinlay 1997, eqs. 7-16):

``Var(AR_t) = s^2 (span_t + x_t' (X'X)^-1 x_t)`` and, for a window,
``Var(CAR) = s^2 (sum span_t + s' (X'X)^-1 s)`` with ``s = sum x_t``.

A return that spans several sessions (the ticker missed one) has its
regressors summed over the same sessions, the constant included, so its
expected return covers them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from marketreact._typing import BoolArray, FloatArray, IntArray


class ModelName(str, Enum):
    """Normal-return models available from the CLI and the API."""

    constant_mean = "constant-mean"
    market_adjusted = "market-adjusted"
    market_model = "market-model"


@dataclass(frozen=True)
class ModelSpec:
    """A linear normal-return model.

    Attributes
    ----------
    name : str
        Model name as shown in results.
    regressors : tuple of str
        Regressor names; ``const`` and ``market`` are built in.
    fixed : tuple of float, optional
        Coefficients fixed in advance (nothing is estimated), e.g. the
        market-adjusted model's ``(0, 1)``.
    """

    name: str
    regressors: tuple[str, ...]
    fixed: tuple[float, ...] | None = None

    @property
    def n_estimated(self) -> int:
        """Number of estimated parameters ``k`` (degrees of freedom are ``n - k``)."""
        return 0 if self.fixed is not None else len(self.regressors)

    @property
    def uses_market(self) -> bool:
        """Whether the model needs a market index."""
        return "market" in self.regressors


MODELS: dict[ModelName, ModelSpec] = {
    ModelName.constant_mean: ModelSpec("constant-mean", ("const",)),
    ModelName.market_adjusted: ModelSpec("market-adjusted", ("const", "market"), (0.0, 1.0)),
    ModelName.market_model: ModelSpec("market-model", ("const", "market")),
}


@dataclass(frozen=True)
class WindowData:
    """Returns and regressors of many events over a window of relative days.

    Attributes
    ----------
    y : numpy.ndarray
        ``(E, L)`` returns (NaN where missing).
    span : numpy.ndarray
        ``(E, L)`` sessions covered by each return.
    X : numpy.ndarray
        ``(E, L, k)`` regressors summed over each return's span.
    valid : numpy.ndarray
        ``(E, L)`` True where the return and every regressor are present.
    """

    y: FloatArray
    span: IntArray
    X: FloatArray
    valid: BoolArray


@dataclass(frozen=True)
class LinearFit:
    """Per-event fit of a linear model.

    Attributes
    ----------
    coef : numpy.ndarray
        ``(E, k)`` coefficients (NaN where the fit failed).
    xtx_inv : numpy.ndarray
        ``(E, k, k)`` ``(X'X)^-1`` (zeros for fixed coefficients).
    sigma2 : numpy.ndarray
        ``(E,)`` residual variance ``SSR / (n - k)``.
    n : numpy.ndarray
        ``(E,)`` estimation returns used.
    df : numpy.ndarray
        ``(E,)`` residual degrees of freedom ``n - k``.
    residuals : numpy.ndarray
        ``(E, L1)`` estimation-window residuals, NaN where not used.
    used : numpy.ndarray
        ``(E, L1)`` mask of the estimation returns used.
    """

    coef: FloatArray
    xtx_inv: FloatArray
    sigma2: FloatArray
    n: IntArray
    df: IntArray
    residuals: FloatArray
    used: BoolArray


def fit_linear(est: WindowData, spec: ModelSpec) -> LinearFit:
    """Fit ``spec`` by OLS on every event's estimation window at once.

    Returns that span more than one session are left out of the estimation.

    Parameters
    ----------
    est : WindowData
        Estimation-window data for ``E`` events.
    spec : ModelSpec
        The model.

    Returns
    -------
    LinearFit
        Events whose design is singular get NaN coefficients.
    """
    used = est.valid & (est.span == 1)
    y = np.where(used, est.y, 0.0)
    X = np.where(used[..., None], est.X, 0.0)
    n = used.sum(axis=1).astype(np.int64)
    k = spec.n_estimated
    if spec.fixed is not None:
        coef = np.broadcast_to(np.asarray(spec.fixed, dtype=float), (len(y), len(spec.fixed)))
        coef = coef.copy()
        xtx_inv = np.zeros((len(y), len(spec.fixed), len(spec.fixed)))
    else:
        xtx = np.einsum("elk,elj->ekj", X, X)
        xty = np.einsum("elk,el->ek", X, y)
        coef = np.full((len(y), k), np.nan)
        xtx_inv = np.full((len(y), k, k), np.nan)
        ok = n > k
        if ok.any():
            with np.errstate(all="ignore"):
                cond = np.linalg.cond(xtx[ok])
            good = np.flatnonzero(ok)[np.isfinite(cond) & (cond < 1e13)]
            if good.size:
                inv = np.linalg.inv(xtx[good])
                xtx_inv[good] = inv
                coef[good] = np.linalg.solve(xtx[good], xty[good][..., None])[..., 0]
    fitted = np.einsum("elk,ek->el", est.X, coef)
    resid = np.where(used, est.y - fitted, np.nan)
    df = n - k
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma2 = np.where(df > 0, np.nansum(resid**2, axis=1) / np.maximum(df, 1), np.nan)
    sigma2 = np.where(np.isfinite(coef).all(axis=1), sigma2, np.nan)
    return LinearFit(coef, xtx_inv, sigma2, n, df, resid, used)


@dataclass(frozen=True)
class AbnormalReturns:
    """Abnormal returns of many events over the event window.

    Attributes
    ----------
    expected : numpy.ndarray
        ``(E, L2)`` normal (expected) returns.
    ar : numpy.ndarray
        ``(E, L2)`` abnormal returns, NaN where the return is missing.
    variance : numpy.ndarray
        ``(E, L2)`` variance of each AR, estimation error included.
    """

    expected: FloatArray
    ar: FloatArray
    variance: FloatArray


def abnormal_returns(event: WindowData, fit: LinearFit) -> AbnormalReturns:
    """Abnormal returns and their variances over the event window."""
    expected = np.einsum("elk,ek->el", event.X, fit.coef)
    ar = np.where(event.valid, event.y - expected, np.nan)
    quad = np.einsum("elk,ekj,elj->el", event.X, fit.xtx_inv, event.X)
    variance = np.where(event.valid, fit.sigma2[:, None] * (event.span + quad), np.nan)
    return AbnormalReturns(np.where(event.valid, expected, np.nan), ar, variance)


@dataclass(frozen=True)
class CumulativeAbnormal:
    """CAR of many events over one window.

    Attributes
    ----------
    car : numpy.ndarray
        ``(E,)`` sum of the window's abnormal returns.
    variance : numpy.ndarray
        ``(E,)`` variance of the CAR, estimation error included.
    bhar : numpy.ndarray
        ``(E,)`` buy-and-hold abnormal return.
    sessions : numpy.ndarray
        ``(E,)`` sessions covered by the window's valid returns.
    missing : numpy.ndarray
        ``(E,)`` window sessions that no valid return covers.
    """

    car: FloatArray
    variance: FloatArray
    bhar: FloatArray
    sessions: IntArray
    missing: IntArray


def cumulate(event: WindowData, fit: LinearFit, ab: AbnormalReturns, columns: slice,
             log_returns: bool) -> CumulativeAbnormal:
    """Cumulate abnormal returns over the event-window columns ``columns``.

    Parameters
    ----------
    event : WindowData
        Event-window data.
    fit : LinearFit
        The model fit.
    ab : AbnormalReturns
        Abnormal returns from :func:`abnormal_returns`.
    columns : slice
        Columns of the event window that form the CAR window.
    log_returns : bool
        Whether returns are log returns (BHAR then compounds with ``exp``).
    """
    valid = event.valid[:, columns]
    span = np.where(valid, event.span[:, columns], 0)
    car = np.where(valid.any(axis=1), np.nansum(ab.ar[:, columns], axis=1), np.nan)
    s = np.einsum("elk->ek", np.where(valid[..., None], event.X[:, columns], 0.0))
    quad = np.einsum("ek,ekj,ej->e", s, fit.xtx_inv, s)
    covered = span.sum(axis=1)
    variance = fit.sigma2 * (covered + quad)
    y = np.where(valid, event.y[:, columns], 0.0)
    e = np.where(valid, ab.expected[:, columns], 0.0)
    if log_returns:
        bhar = np.exp(y.sum(axis=1)) - np.exp(e.sum(axis=1))
    else:
        bhar = np.prod(1.0 + y, axis=1) - np.prod(1.0 + e, axis=1)
    width = columns.stop - columns.start
    bhar = np.where(valid.any(axis=1), bhar, np.nan)
    missing = np.maximum(width - covered, 0)
    return CumulativeAbnormal(car, np.where(valid.any(axis=1), variance, np.nan), bhar,
                              covered.astype(np.int64), missing.astype(np.int64))
