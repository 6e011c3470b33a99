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

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from marketreact._typing import BoolArray, FloatArray, IntArray
from marketreact.models.spec import ChunkPlan, ModelSpec
from marketreact.windows import CHUNK_EVENTS, WindowData


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


@dataclass(frozen=True)
class FitProblems:
    """Why events could not be fitted.

    Attributes
    ----------
    reason : numpy.ndarray
        ``(E,)`` object array: ``""`` where the fit worked, else the reason.
    """

    reason: np.ndarray


@dataclass(frozen=True)
class EventBlock:
    """Per-event results of a set of events (one chunk, or all of them).

    Attributes
    ----------
    coef : numpy.ndarray
        ``(E, k)`` model coefficients (NaN where the fit failed).
    sigma2 : numpy.ndarray
        ``(E,)`` residual variance.
    n, df : numpy.ndarray
        ``(E,)`` estimation returns used and residual degrees of freedom.
    ar, ar_var : numpy.ndarray
        ``(E, L2)`` abnormal returns and their variances (NaN where the return
        is not usable).
    missing_days, spanning : numpy.ndarray
        ``(E,)`` event-window days without a usable return, and usable
        returns that span several sessions.
    car, car_var, bhar : numpy.ndarray
        ``(E, W)`` CAR, its variance and BHAR per CAR window.
    car_sessions, car_missing : numpy.ndarray
        ``(E, W)`` sessions covered by valid returns and sessions not covered.
    y, market, expected : numpy.ndarray or None
        ``(E, L2)`` return, market return (summed over the return's span) and
        normal return, NaN where not usable (``market`` is NaN without a
        market). None on the moment path: :class:`MomentSource` recomputes them.
    span : numpy.ndarray or None
        ``(E, L2)`` sessions covered by each usable return (0 elsewhere).
    residuals : numpy.ndarray or None
        ``(E, L1)`` estimation residuals when computed eagerly (general path).
    fit_problem, missing_problem : numpy.ndarray or None
        ``(E,)`` object arrays (general path): why an event's fit failed
        (``""``: no reason given), and why the ``fail`` missing-price policy
        fails it (``""``: nothing missing).
    """

    coef: FloatArray
    sigma2: FloatArray
    n: IntArray
    df: IntArray
    ar: FloatArray
    ar_var: FloatArray
    missing_days: IntArray
    spanning: IntArray
    car: FloatArray
    car_var: FloatArray
    bhar: FloatArray
    car_sessions: IntArray
    car_missing: IntArray
    y: FloatArray | None = None
    market: FloatArray | None = None
    expected: FloatArray | None = None
    span: IntArray | None = None
    residuals: FloatArray | None = None
    fit_problem: np.ndarray | None = None
    missing_problem: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.sigma2)

    def take(self, index: IntArray | BoolArray) -> EventBlock:
        """Return the events selected by ``index``."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = None if value is None else value[index]
        return EventBlock(**out)

    @staticmethod
    def concat(blocks: Sequence[EventBlock]) -> EventBlock:
        """Stack blocks of events (in order)."""
        if len(blocks) == 1:
            return blocks[0]
        builder = BlockBuilder(sum(len(b) for b in blocks))
        for b in blocks:
            builder.add(b)
        return builder.finish()


class BlockBuilder:
    """Gather blocks of events into arrays allocated once, in the events' own order.

    Parameters
    ----------
    capacity : int
        Number of events; every event is placed once with :meth:`add`.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.count = 0
        self._arrays: dict[str, Any] | None = None

    def add(self, block: EventBlock, positions: IntArray | slice | None = None) -> None:
        """Place ``block``'s events at ``positions`` (default: after the last ones added)."""
        m = len(block)
        if positions is None:
            positions = slice(self.count, self.count + m)
        if self._arrays is None:
            self._arrays = {}
            for f in fields(block):
                value = getattr(block, f.name)
                self._arrays[f.name] = (None if value is None else
                                        np.empty((self.capacity, *value.shape[1:]), value.dtype))
        for name, out in self._arrays.items():
            if out is not None:
                out[positions] = getattr(block, name)
        self.count += m

    def finish(self, keep: BoolArray | None = None) -> EventBlock:
        """Return the events, without those where ``keep`` is False (compacted in place)."""
        if self._arrays is None:
            raise ValueError("no blocks were added")
        k = self.count
        if keep is not None and not keep.all():
            k = int(keep.sum())
            dst = 0
            for lo in range(0, len(keep), CHUNK_EVENTS):  # rows only move up: in place is safe
                rows = lo + np.flatnonzero(keep[lo:lo + CHUNK_EVENTS])
                for a in self._arrays.values():
                    if a is not None:
                        a[dst:dst + len(rows)] = a[rows]
                dst += len(rows)
        out: dict[str, Any] = {
            name: (None if a is None else a[:k])
            for name, a in self._arrays.items()}
        return EventBlock(**out)


def block_from_fit(evt: WindowData, fit: LinearFit, ab: AbnormalReturns,
                   plan: ChunkPlan, fit_problem: np.ndarray | None = None,
                   missing_problem: np.ndarray | None = None) -> EventBlock:
    """Build an :class:`EventBlock` from the general path's window data, fit and ARs."""
    n_win, e = len(plan.car_windows), len(fit.sigma2)
    car = np.empty((e, n_win))
    var = np.empty((e, n_win))
    bhar = np.empty((e, n_win))
    sessions = np.empty((e, n_win), dtype=np.int64)
    missing = np.empty((e, n_win), dtype=np.int64)
    for j, cols in enumerate(plan.car_columns()):
        cum = cumulate(evt, fit, ab, cols, plan.log_returns)
        car[:, j], var[:, j], bhar[:, j] = cum.car, cum.variance, cum.bhar
        sessions[:, j], missing[:, j] = cum.sessions, cum.missing
    spec = plan.spec
    market = (evt.X[..., spec.regressors.index("market")] if spec.uses_market
              else np.full(ab.ar.shape, np.nan))
    return EventBlock(
        fit.coef, fit.sigma2, fit.n, fit.df, ab.ar, ab.variance,
        (~evt.valid).sum(axis=1), ((evt.span > 1) & evt.valid).sum(axis=1),
        car, var, bhar, sessions, missing,
        y=np.where(evt.valid, evt.y, np.nan), market=np.where(evt.valid, market, np.nan),
        expected=ab.expected, span=np.where(evt.valid, evt.span, 0), residuals=fit.residuals,
        fit_problem=fit_problem, missing_problem=missing_problem)
