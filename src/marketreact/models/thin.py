"""Betas for thinly traded stocks: the Scholes-Williams (1977) and Dimson (1979) estimators."""

from __future__ import annotations

import numpy as np

from marketreact._typing import BoolArray, FloatArray, IntArray
from marketreact.models.linear import LinearFit, fit_linear
from marketreact.models.spec import ModelSpec
from marketreact.windows import WindowData, parse_shift


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
