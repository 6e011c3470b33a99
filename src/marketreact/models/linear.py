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

Models (:class:`ModelName`)
---------------------------
* ``constant-mean``: ``E[R_t] = mu``.
* ``market-adjusted``: ``E[R_t] = R_m,t`` (nothing estimated).
* ``market-model``: ``E[R_t] = alpha + beta R_m,t`` by OLS.
* ``scholes-williams``: the market model with the Scholes-Williams (1977)
  beta ``(b_-1 + b_0 + b_+1) / (1 + 2 rho_m)`` for thinly traded stocks.
* ``dimson``: the market model with the Dimson (1979) beta, the sum of the
  slopes on ``lags`` lagged, the current and ``leads`` leading market returns.
* ``ff3``, ``ff5``, ``carhart4``: Fama-French three- and five-factor models
  and Carhart's four-factor model on returns in excess of the risk-free rate.
* ``garch``: the market model with GARCH(1,1) errors (the ``arch`` package),
  abnormal returns standardised by their conditional variance.

The estimators other than OLS live in :mod:`marketreact.estimation`.
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
    scholes_williams = "scholes-williams"
    dimson = "dimson"
    ff3 = "ff3"
    ff5 = "ff5"
    carhart4 = "carhart4"
    garch = "garch"


class Estimator(str, Enum):
    """How a model's coefficients are obtained from the estimation window."""

    ols = "ols"
    fixed = "fixed"
    scholes_williams = "scholes-williams"
    dimson = "dimson"
    garch = "garch"


#: Factor names as used in regressor names (see :mod:`marketreact.factors`).
FACTOR_NAMES = ("mkt_rf", "smb", "hml", "rmw", "cma", "mom", "rf")


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
    estimator : Estimator, default ols
        How the coefficients are estimated.
    extra : tuple of str, default ()
        Regressors used only in the estimation window, e.g. the lagged and
        leading market returns ``market[-1]``, ``market[+1]`` of the
        Scholes-Williams and Dimson estimators.
    excess : bool, default False
        Whether the model explains returns in excess of the risk-free rate
        (factor ``rf``, subtracted from the return over the same sessions).
    """

    name: str
    regressors: tuple[str, ...]
    fixed: tuple[float, ...] | None = None
    estimator: Estimator = Estimator.ols
    extra: tuple[str, ...] = ()
    excess: bool = False

    @property
    def n_estimated(self) -> int:
        """Number of estimated mean parameters (``min_estimation`` must exceed it)."""
        return 0 if self.fixed is not None else len(self.regressors) + len(self.extra)

    @property
    def uses_market(self) -> bool:
        """Whether the model needs a market index."""
        return any(_base(r) == "market" for r in self.regressors + self.extra)

    @property
    def estimation_columns(self) -> tuple[str, ...]:
        """Regressors gathered over the estimation window."""
        return self.regressors + self.extra

    @property
    def factors(self) -> tuple[str, ...]:
        """Factor series the model needs (``rf`` included for excess returns)."""
        names = [r for r in self.estimation_columns if r in FACTOR_NAMES]
        if self.excess:
            names.append("rf")
        return tuple(dict.fromkeys(names))


def _base(regressor: str) -> str:
    """Name of a regressor without its ``[lag]`` suffix."""
    return regressor.split("[", 1)[0]


def shifted(name: str, shift: int) -> str:
    """Name of regressor ``name`` shifted by ``shift`` sessions (``market[-1]`` is a lag)."""
    return name if shift == 0 else f"{name}[{shift:+d}]"


def parse_shift(regressor: str) -> tuple[str, int]:
    """Split ``"market[-1]"`` into ``("market", -1)``; an unshifted name has shift 0."""
    base, _, rest = regressor.partition("[")
    if not rest:
        return base, 0
    return base, int(rest.rstrip("]"))


def model_spec(name: ModelName | str, lags: int = 1, leads: int = 1) -> ModelSpec:
    """The specification of a model, with the Dimson lags and leads applied.

    Parameters
    ----------
    name : ModelName or str
        The model.
    lags, leads : int, default 1
        Lagged and leading market returns of the Dimson (1979) estimator
        (ignored by the other models; Scholes-Williams always uses one of each).

    Returns
    -------
    ModelSpec
    """
    name = ModelName(name)
    if name is ModelName.dimson:
        if lags < 0 or leads < 0:
            raise ValueError("Dimson lags and leads must be non-negative")
        extra = tuple(shifted("market", -k) for k in range(lags, 0, -1)) + tuple(
            shifted("market", k) for k in range(1, leads + 1))
        return ModelSpec(f"dimson({lags},{leads})", ("const", "market"),
                         estimator=Estimator.dimson, extra=extra)
    return MODELS[name]


MODELS: dict[ModelName, ModelSpec] = {
    ModelName.constant_mean: ModelSpec("constant-mean", ("const",)),
    ModelName.market_adjusted: ModelSpec("market-adjusted", ("const", "market"), (0.0, 1.0),
                                          Estimator.fixed),
    ModelName.market_model: ModelSpec("market-model", ("const", "market")),
    ModelName.scholes_williams: ModelSpec(
        "scholes-williams", ("const", "market"), estimator=Estimator.scholes_williams,
        extra=("market[-1]", "market[+1]")),
    ModelName.dimson: ModelSpec("dimson(1,1)", ("const", "market"), estimator=Estimator.dimson,
                                extra=("market[-1]", "market[+1]")),
    ModelName.ff3: ModelSpec("ff3", ("const", "mkt_rf", "smb", "hml"), excess=True),
    ModelName.ff5: ModelSpec("ff5", ("const", "mkt_rf", "smb", "hml", "rmw", "cma"),
                             excess=True),
    ModelName.carhart4: ModelSpec("carhart4", ("const", "mkt_rf", "smb", "hml", "mom"),
                                  excess=True),
    ModelName.garch: ModelSpec("garch", ("const", "market"), estimator=Estimator.garch),
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
    offset : numpy.ndarray, optional
        ``(E, L)`` known part of the expected return, outside the regression:
        the risk-free rate of excess-return models (zeros when not given).
        The model explains ``y - offset``.
    """

    y: FloatArray
    span: IntArray
    X: FloatArray
    valid: BoolArray
    offset: FloatArray = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.offset is None:
            object.__setattr__(self, "offset", np.zeros(np.shape(self.y)))


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
    y = np.where(used, est.y - est.offset, 0.0)
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
    fitted = est.offset + np.einsum("elk,ek->el", est.X, coef)
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
    covariance : numpy.ndarray, optional
        ``(E, L2, L2)`` full covariance of the ARs when the estimator gives it
        (dummy-variable regression, GARCH); zero rows and columns where the AR
        is missing. When absent, CAR variances follow from the OLS fit.
    """

    expected: FloatArray
    ar: FloatArray
    variance: FloatArray
    covariance: FloatArray | None = None


def abnormal_returns(event: WindowData, fit: LinearFit) -> AbnormalReturns:
    """Abnormal returns and their variances over the event window."""
    expected = event.offset + np.einsum("elk,ek->el", event.X, fit.coef)
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
    covered = span.sum(axis=1)
    if ab.covariance is not None:
        block = ab.covariance[:, columns, columns]
        mask = valid[:, :, None] & valid[:, None, :]
        variance = np.where(mask, block, 0.0).sum(axis=(1, 2))
    else:
        s = np.einsum("elk->ek", np.where(valid[..., None], event.X[:, columns], 0.0))
        quad = np.einsum("ek,ekj,ej->e", s, fit.xtx_inv, s)
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
