"""The study engine: per-event fits, abnormal returns and CARs in memory-bounded chunks.

Two ways to compute the same numbers
------------------------------------
*General path* (any linear model): gather each event's estimation and event
windows from the panel (``E x L`` arrays) and solve the batched normal equations
(:func:`marketreact.models.fit_linear`). Its cost grows with the estimation
window's length ``L1`` (240 sessions by default).

*Moment path* (constant mean, market-adjusted, market model, and any model whose
regressors are a subset of ``const, market``): OLS on one regressor needs only
the window sums ``n, sum x, sum y, sum xx, sum xy, sum yy`` of the returns used
in the estimation. :func:`build_moments` computes running (prefix) sums of
these over the whole ticker x session panel once, under exactly the
estimation mask of the general path (one-session stock return present, market
one-session return present), so each event's fit is a difference of two
look-ups: O(1) per event whatever ``L1``. Only the short event window is
gathered, and estimation residuals are computed later, only if asked for
(:class:`MomentSource`). Both paths agree to rounding (the tests compare them
to 1e-12).

With one regressor ``x`` and the constant, for the returns used (``span = 1``)::

    b = (S_xy - S_x S_y / n) / (S_xx - S_x^2 / n),   a = (S_y - b S_x) / n
    (X'X)^-1 = [[S_xx, -S_x], [-S_x, n]] / (n S_xx - S_x^2)
    SSR = (S_yy - S_y^2 / n) - b (S_xy - S_x S_y / n),   s^2 = SSR / (n - 2)

Engines
-------
Events are cut into chunks of :data:`CHUNK_EVENTS` and each chunk is computed
by a pure function of (panel, prepared moments, chunk). :class:`LocalEngine`
maps the chunks in this process; :class:`DaskEngine` maps them over a Dask
cluster, shipping the panel to the workers once (``scatter``) and building
the moments there in one task, so only the event indices travel per chunk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

import numpy as np

from marketreact._typing import BoolArray, FloatArray, IntArray, Window
from marketreact.models.linear import (
    AbnormalReturns,
    Estimator,
    LinearFit,
    ModelSpec,
    WindowData,
    cumulate,
)
from marketreact.panel.returns import ExchangePanel

log = logging.getLogger(__name__)

#: Events per chunk: bounds the memory of the gathered windows.
CHUNK_EVENTS = 20_000
#: Events per chunk when estimation windows (``L1`` columns) are gathered: keeps each
#: temporary a few MB, which the allocator reuses instead of mapping fresh pages.
RESIDUAL_CHUNK = 2048
#: Condition number above which ``X'X`` counts as singular (as in ``fit_linear``).
MAX_CONDITION = 1e13
_MOMENT_REGRESSORS = (("const",), ("const", "market"))


def moment_path_supported(spec: ModelSpec) -> bool:
    """Whether ``spec`` can be fitted from window sums.

    True for OLS or fixed coefficients on ``const`` [+ ``market``], with no
    estimation-only regressors and no risk-free offset: the constant-mean,
    market-adjusted and market models.
    """
    return (tuple(spec.regressors) in _MOMENT_REGRESSORS
            and spec.estimator in (Estimator.ols, Estimator.fixed)
            and not spec.extra and not spec.excess)


@dataclass(frozen=True)
class ChunkPlan:
    """What every chunk computes: the model, windows and return kind.

    Attributes
    ----------
    spec : ModelSpec
        Normal-return model.
    estimation, window : tuple of int
        Estimation and event windows (relative sessions, inclusive).
    car_windows : tuple of tuple of int
        CAR windows (inside the event window).
    log_returns : bool
        Whether returns are log returns (for BHAR).
    """

    spec: ModelSpec
    estimation: Window
    window: Window
    car_windows: tuple[Window, ...]
    log_returns: bool

    @property
    def est_days(self) -> IntArray:
        """Relative days of the estimation window."""
        return np.arange(self.estimation[0], self.estimation[1] + 1)

    @property
    def evt_days(self) -> IntArray:
        """Relative days of the event window."""
        return np.arange(self.window[0], self.window[1] + 1)

    def car_columns(self) -> list[slice]:
        """Event-window columns of each CAR window."""
        w0 = self.window[0]
        return [slice(a - w0, b - w0 + 1) for a, b in self.car_windows]


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


# ---------------------------------------------------------------------------------------------
# Moment path
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MomentPanel:
    """Running sums of estimation moments for (stock, market) pairs.

    Each array is ``(P, T + 1)`` complex and starts with a zero column, so the
    sums over sessions ``[lo, hi)`` of pair ``p`` are ``A[p, hi] - A[p, lo]``.
    Two real running sums share one complex array (real and imaginary parts):
    ``numpy.cumsum`` then does both in one pass, with the very same floating
    point additions as two real sums. Only returns that the general path would
    use in an estimation enter: the stock's return covers one session and the
    market's one-session return exists.

    Attributes
    ----------
    sums : dict of str to numpy.ndarray
        ``"y|yy"`` (sum of returns | of squares; not for fixed coefficients),
        ``"x|xx"`` and ``"xy|n"`` (market model: market sums | cross sum and
        count), ``"n|"`` (constant mean: count), ``"dd|n"`` (fixed
        coefficients: squared residuals ``y - c0 - c1 x`` | count).
    """

    sums: dict[str, np.ndarray]


def _market_one_session(panel: PanelLike, market_rows: IntArray
                        ) -> tuple[FloatArray, BoolArray]:
    """One-session market returns as the general path sees them, and where they exist."""
    cum, cum_missing = panel.running_sums(market_rows)
    return np.diff(cum, axis=1), np.diff(cum_missing, axis=1) == 0


def build_moments(panel: PanelLike, pair_stock: IntArray, pair_market: IntArray,
                  spec: ModelSpec) -> MomentPanel:
    """Prefix sums of the estimation moments of each (stock, market) pair.

    Parameters
    ----------
    panel : ExchangePanel
        The exchange's panel.
    pair_stock, pair_market : numpy.ndarray
        ``(P,)`` panel rows of each pair's stock and market (market ignored
        when the model has no market regressor).
    spec : ModelSpec
        The model (regressors ``const`` [+ ``market``]).

    Returns
    -------
    MomentPanel
    """
    p, t = len(pair_stock), panel.returns.shape[1]
    y = panel.returns.take(pair_stock, axis=0)
    used = panel.span.take(pair_stock, axis=0) == 1
    used &= np.isfinite(y)
    x: FloatArray | None = None
    if spec.uses_market:
        markets, which = np.unique(pair_market, return_inverse=True)
        xm, okm = _market_one_session(panel, markets)
        if len(markets) == 1:
            x = xm[:1]  # broadcasts over pairs
            used &= okm[:1]
        else:
            x = xm[which.reshape(-1)]
            used &= okm[which.reshape(-1)]
    np.copyto(y, 0.0, where=~used)

    def running(real: tuple[np.ndarray, ...], imag: tuple[np.ndarray, ...] | float
                ) -> np.ndarray:
        """Running sums of two products (1-tuples are plain values), as one complex array."""
        out = np.empty((p, t + 1), dtype=np.complex128)
        out[:, 0] = 0.0
        body = out[:, 1:]
        for part, factors in ((body.real, real), (body.imag, imag)):
            if isinstance(factors, float):
                part[...] = factors
            elif len(factors) == 1:
                np.copyto(part, factors[0])
            else:
                np.multiply(factors[0], factors[1], out=part)
        np.cumsum(body, axis=1, out=body)
        return out

    sums: dict[str, np.ndarray] = {}
    if spec.fixed is not None:
        c = spec.fixed
        fitted = c[0] + c[1] * x if x is not None else np.full((1, t), c[0])
        d = y - fitted
        np.copyto(d, 0.0, where=~used)
        sums["dd|n"] = running((d, d), (used,))
        return MomentPanel(sums)
    sums["y|yy"] = running((y,), (y, y))
    if x is None:
        sums["n|"] = running((used,), 0.0)
        return MomentPanel(sums)
    x0 = np.where(used, x, 0.0)
    sums["x|xx"] = running((x0,), (x0, x0))
    sums["xy|n"] = running((x0, y), (used,))
    return MomentPanel(sums)


def _fit_from_moments(moments: MomentPanel, pair: IntArray, lo: IntArray, hi: IntArray,
                      spec: ModelSpec) -> tuple[FloatArray, FloatArray, FloatArray, IntArray]:
    """Coefficients, ``(X'X)^-1``, ``s^2`` and ``n`` of each event from its window sums."""
    def window_sum(name: str) -> tuple[FloatArray, FloatArray]:
        a = moments.sums[name]
        w = a[pair, hi] - a[pair, lo]
        return w.real, w.imag

    e = len(pair)
    k = spec.n_estimated
    with np.errstate(invalid="ignore", divide="ignore"):
        if spec.fixed is not None:
            ssr, nf = window_sum("dd|n")
            n = np.rint(nf).astype(np.int64)
            coef = np.broadcast_to(np.asarray(spec.fixed, dtype=float), (e, len(spec.fixed)))
            coef = coef.copy()
            inv = np.zeros((e, len(spec.fixed), len(spec.fixed)))
            sigma2 = np.where(n > 0, ssr / np.maximum(n, 1), np.nan)
            return coef, inv, sigma2, n
        sy, syy = window_sum("y|yy")
        if "x|xx" not in moments.sums:  # constant mean
            nf, _ = window_sum("n|")
            n = np.rint(nf).astype(np.int64)
            ok = n > k
            a = sy / nf
            coef = np.where(ok, a, np.nan)[:, None]
            inv = np.where(ok, 1.0 / nf, np.nan)[:, None, None]
            ssr = syy - sy * a
        else:
            sx, sxx = window_sum("x|xx")
            sxy, nf = window_sum("xy|n")
            n = np.rint(nf).astype(np.int64)
            cxx = sxx - sx * sx / nf
            cxy = sxy - sx * sy / nf
            cyy = syy - sy * sy / nf
            b = cxy / cxx
            a = (sy - b * sx) / nf
            det = nf * cxx
            half = 0.5 * (nf + sxx)
            lam_max = half + np.sqrt((0.5 * (nf - sxx)) ** 2 + sx * sx)
            lam_min = det / lam_max
            cond = lam_max / lam_min
            ok = (n > k) & (lam_min > 0) & np.isfinite(cond) & (cond < MAX_CONDITION)
            coef = np.where(ok[:, None], np.stack([a, b], axis=1), np.nan)
            inv = np.stack([np.stack([sxx, -sx], axis=1), np.stack([-sx, nf], axis=1)], axis=1)
            inv = np.where(ok[:, None, None], inv / det[:, None, None], np.nan)
            ssr = cyy - b * cxy
        df = n - k
        sigma2 = np.where(ok & (df > 0), np.maximum(ssr, 0.0) / np.maximum(df, 1), np.nan)
    return coef, inv, sigma2, n


def _event_window(panel: PanelLike, stock_rows: IntArray, market_rows: IntArray,
                  day0: IntArray, rel_days: IntArray, uses_market: bool
                  ) -> tuple[FloatArray, IntArray, FloatArray, FloatArray | None, BoolArray]:
    """Gather returns, spans and regressors over relative days, as ``study.gather`` does."""
    t = panel.returns.shape[1]
    posc = day0[:, None] + rel_days[None, :]
    every = (not len(day0)) or (day0.min() + rel_days.min() >= 0
                                and day0.max() + rel_days.max() < t)
    inside = None
    if not every:
        inside = (posc >= 0) & (posc < t)
        np.clip(posc, 0, t - 1, out=posc)
    flat = stock_rows[:, None] * t
    flat = flat + posc
    y = panel.returns.ravel().take(flat)
    span = panel.span.ravel().take(flat)
    if inside is not None:
        y[~inside] = np.nan
        span[~inside] = 0
    width = np.maximum(span, 1)
    valid = np.isfinite(y)
    valid &= span >= 1
    x = None
    if uses_market:
        markets, which = np.unique(np.maximum(market_rows, 0), return_inverse=True)
        cum, cum_missing = panel.running_sums(markets)
        hi = posc + 1
        if len(markets) > 1:
            hi += which.reshape(-1, 1) * (t + 1)
        lo = hi - width
        x = cum.ravel().take(hi)
        x -= cum.ravel().take(lo)
        gaps = cum_missing.ravel().take(hi)
        gaps -= cum_missing.ravel().take(lo)
        x[gaps != 0] = np.nan
        valid &= np.isfinite(x)
    return y, span, width.astype(float), x, valid


#: Pairs whose running sums are built at once (keeps each array a few MB: cache- and
#: allocator-friendly, since blocks of this size are reused rather than mapped afresh).
PAIR_BLOCK = 192


def moment_fits(panel: PanelLike, stock_rows: IntArray, market_rows: IntArray,
                day0: IntArray, plan: ChunkPlan
                ) -> tuple[FloatArray, FloatArray, FloatArray, IntArray]:
    """Fit the model of many events from window sums of the estimation moments.

    The events' (stock, market) pairs are taken :data:`PAIR_BLOCK` at a time:
    their running sums (:func:`build_moments`) are built and each event's
    window sums read from them. Events sorted by pair (as
    :func:`study_events` sends them) make every pair's sums built once.

    Parameters
    ----------
    panel : ExchangePanel
        The exchange's panel.
    stock_rows, market_rows, day0 : numpy.ndarray
        ``(E,)`` each event's stock row, market row (-1: none) and day-0 position.
    plan : ChunkPlan
        Model and windows.

    Returns
    -------
    coef, xtx_inv, sigma2, n : numpy.ndarray
        ``(E, k)``, ``(E, k, k)``, ``(E,)`` and ``(E,)`` as in
        :class:`marketreact.models.LinearFit` (NaN where the fit failed).
    """
    spec = plan.spec
    n_rows, t = panel.returns.shape
    e0, e1 = plan.estimation
    lo = np.clip(day0 + e0, 0, t)
    hi = np.clip(day0 + e1 + 1, 0, t)
    markets = market_rows if spec.uses_market else np.full_like(market_rows, -1)
    key = stock_rows * (n_rows + 1) + (markets + 1)
    pairs, which = np.unique(key, return_inverse=True)
    which = which.reshape(-1)
    by_pair = np.argsort(which, kind="stable")
    bounds = np.searchsorted(which[by_pair], np.arange(0, len(pairs) + PAIR_BLOCK, PAIR_BLOCK))
    e = len(day0)
    k = len(spec.fixed) if spec.fixed is not None else spec.n_estimated
    coef, inv = np.empty((e, k)), np.empty((e, k, k))
    sigma2, n = np.empty(e), np.empty(e, dtype=np.int64)
    for j, b0 in enumerate(range(0, len(pairs), PAIR_BLOCK)):
        block = pairs[b0:b0 + PAIR_BLOCK]
        moments = build_moments(panel, block // (n_rows + 1), block % (n_rows + 1) - 1, spec)
        ev = by_pair[bounds[j]:bounds[j + 1]]
        coef[ev], inv[ev], sigma2[ev], n[ev] = _fit_from_moments(
            moments, which[ev] - b0, lo[ev], hi[ev], spec)
    return coef, inv, sigma2, n


def moment_chunk(panel: PanelLike, stock_rows: IntArray, market_rows: IntArray,
                 day0: IntArray, plan: ChunkPlan, coef: FloatArray, inv: FloatArray,
                 sigma2: FloatArray, n: IntArray) -> EventBlock:
    """Abnormal returns and CARs of one chunk of events fitted by :func:`moment_fits`.

    Parameters
    ----------
    panel : ExchangePanel
        The exchange's panel.
    stock_rows, market_rows, day0 : numpy.ndarray
        ``(E,)`` each event's stock row, market row (-1: none) and day-0 position.
    plan : ChunkPlan
        Model and windows.
    coef, inv, sigma2, n : numpy.ndarray
        The events' fits.

    Returns
    -------
    EventBlock
        Without the window values and residuals (see :class:`MomentSource`).
    """
    spec = plan.spec
    values = _window_values(panel, stock_rows, market_rows, day0, plan.evt_days, coef, inv,
                            sigma2, spec.uses_market)
    y, x, expected, ar, ar_var, span, width, valid = values
    car, car_var, bhar, sessions, missing = _cars(
        plan, valid, span, width, x if spec.uses_market else None, y, expected, ar, inv, sigma2)
    return EventBlock(coef, sigma2, n, n - spec.n_estimated, ar, ar_var,
                      (~valid).sum(axis=1), ((span > 1) & valid).sum(axis=1),
                      car, car_var, bhar, sessions, missing)


def _window_values(panel: PanelLike, stock_rows: IntArray, market_rows: IntArray,
                   day0: IntArray, rel_days: IntArray, coef: FloatArray, inv: FloatArray,
                   sigma2: FloatArray, uses_market: bool) -> tuple[Any, ...]:
    """Event-window returns, regressors, normal returns, ARs and their variances.

    As ``models.abnormal_returns`` on ``study.gather``'s window data; every
    value is NaN (``span`` and ``width`` 0) where the return is not usable.
    """
    y, span, width, x, valid = _event_window(panel, stock_rows, market_rows, day0, rel_days,
                                             uses_market)
    invalid = ~valid
    expected = width * coef[:, :1]
    quad = inv[:, 0, 0, None] * width * width
    if x is not None:
        expected += x * coef[:, 1:2]
        quad += 2.0 * inv[:, 0, 1, None] * width * x
        quad += inv[:, 1, 1, None] * x * x
    ar = y - expected
    quad += span
    ar_var = quad
    ar_var *= sigma2[:, None]
    for a in (ar, ar_var, expected, y):
        a[invalid] = np.nan
    if x is None:
        x = np.full(ar.shape, np.nan)
    x[invalid] = np.nan
    span[invalid] = 0
    width[invalid] = 0.0
    return y, x, expected, ar, ar_var, span, width, valid


def _cars(plan: ChunkPlan, valid: BoolArray, span: IntArray, width: FloatArray,
          x: FloatArray | None, y: FloatArray, expected: FloatArray, ar: FloatArray,
          inv: FloatArray, sigma2: FloatArray
          ) -> tuple[FloatArray, FloatArray, FloatArray, IntArray, IntArray]:
    """CAR, variance, BHAR, sessions and missing per CAR window (as ``models.cumulate``).

    ``y, expected, ar, x`` are NaN and ``span, width`` 0 where not ``valid``.
    """
    n_win, e = len(plan.car_windows), len(sigma2)
    car = np.empty((e, n_win))
    var = np.empty((e, n_win))
    bhar = np.empty((e, n_win))
    sessions = np.empty((e, n_win), dtype=np.int64)
    missing = np.empty((e, n_win), dtype=np.int64)
    arz = np.where(np.isnan(ar), 0.0, ar)  # what nansum adds up
    xz = np.where(np.isnan(x), 0.0, x) if x is not None else None
    yz = np.where(valid, y, 0.0)
    ez = np.where(valid, expected, 0.0)
    if not plan.log_returns:
        yz += 1.0
        ez += 1.0
    for j, cols in enumerate(plan.car_columns()):
        covered = span[:, cols].sum(axis=1)
        car[:, j] = arz[:, cols].sum(axis=1)
        s0 = width[:, cols].sum(axis=1)
        quad = inv[:, 0, 0] * s0 * s0
        if xz is not None:
            s1 = xz[:, cols].sum(axis=1)
            quad += 2.0 * inv[:, 0, 1] * s0 * s1 + inv[:, 1, 1] * s1 * s1
        var[:, j] = sigma2 * (covered + quad)
        if plan.log_returns:
            bhar[:, j] = np.exp(yz[:, cols].sum(axis=1)) - np.exp(ez[:, cols].sum(axis=1))
        else:
            bhar[:, j] = np.prod(yz[:, cols], axis=1) - np.prod(ez[:, cols], axis=1)
        none = covered == 0  # no usable return in the window
        if none.any():
            car[none, j] = var[none, j] = bhar[none, j] = np.nan
        sessions[:, j] = covered
        missing[:, j] = np.maximum((cols.stop - cols.start) - covered, 0)
    return car, var, bhar, sessions, missing


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


class PanelLike(Protocol):
    """What gathering windows needs from a panel (an ExchangePanel or a ReturnsView)."""

    @property
    def returns(self) -> FloatArray: ...  # noqa: D102

    @property
    def span(self) -> IntArray: ...  # noqa: D102

    def running_sums(self, rows: IntArray) -> tuple[FloatArray, IntArray]: ...  # noqa: D102


@dataclass(frozen=True)
class ReturnsView:
    """What recomputing event windows needs from a panel, and no more.

    Returns, spans and the running sums of the regressor rows: a result that
    keeps one need not keep the panel's prices and volumes.

    Attributes
    ----------
    returns, span : numpy.ndarray
        ``(N, T)`` as in the panel.
    rows : numpy.ndarray
        Sorted panel rows whose running sums are kept (the markets).
    cum, cum_missing : numpy.ndarray
        ``(len(rows), T + 1)`` running sums of those rows.
    """

    returns: FloatArray
    span: IntArray
    rows: IntArray
    cum: FloatArray
    cum_missing: IntArray

    @classmethod
    def of(cls, panel: ExchangePanel, regressor_rows: IntArray) -> ReturnsView:
        """Keep ``panel``'s returns and the running sums of ``regressor_rows`` (-1 ignored)."""
        rows = np.unique(regressor_rows[regressor_rows >= 0])
        cum, cum_missing = panel.running_sums(rows)
        return cls(panel.returns, panel.span, rows, cum, cum_missing)

    def running_sums(self, rows: IntArray) -> tuple[FloatArray, IntArray]:
        """Return ``cum`` and ``cum_missing`` of panel rows ``rows`` (kept rows only)."""
        at = np.searchsorted(self.rows, rows)
        if not len(self.rows) or (self.rows[np.minimum(at, len(self.rows) - 1)] != rows).any():
            raise KeyError("running sums of these rows were not kept")
        return self.cum[at], self.cum_missing[at]


@dataclass(frozen=True)
class MomentSource:
    """Recomputes, on demand, what the moment path does not keep for its events.

    The estimation residuals (as :func:`marketreact.models.fit_linear` reports
    them: NaN where a return was not used) and the event-window values of the
    long abnormal-return table, chunk by chunk, from the panel and the fitted
    coefficients.
    """

    panel: PanelLike
    stock_rows: IntArray
    market_rows: IntArray
    day0: IntArray
    coef: FloatArray
    sigma2: FloatArray
    plan: ChunkPlan

    def __len__(self) -> int:
        return len(self.day0)

    def __call__(self) -> FloatArray:
        """All estimation residuals, ``(E, L1)``."""
        days = self.plan.est_days
        out = np.empty((len(self.day0), len(days)))
        for lo in range(0, len(self.day0), RESIDUAL_CHUNK):
            sl = slice(lo, lo + RESIDUAL_CHUNK)
            out[sl] = self.residuals(sl)
        return out

    def residuals(self, index: slice | IntArray) -> FloatArray:
        """Estimation residuals of the events at ``index``."""
        panel, spec = self.panel, self.plan.spec
        t = panel.returns.shape[1]
        day0, coef = self.day0[index], self.coef[index]
        pos = day0[:, None] + self.plan.est_days[None, :]
        inside = (pos >= 0) & (pos < t)
        every = bool(inside.all())
        if not every:
            np.clip(pos, 0, t - 1, out=pos)
        flat = self.stock_rows[index][:, None] * t + pos
        y = panel.returns.ravel().take(flat)
        one = panel.span.ravel().take(flat) == 1
        fitted = np.broadcast_to(coef[:, :1], y.shape)
        if spec.uses_market:
            markets, which = np.unique(np.maximum(self.market_rows[index], 0),
                                       return_inverse=True)
            x1, ok = _market_one_session(panel, markets)
            x1[~ok] = np.nan  # no one-session market return: not used
            x = x1.ravel().take(which.reshape(-1, 1) * t + pos)
            x *= coef[:, 1:2]
            fitted = fitted + x
        resid = y - fitted
        resid[~one] = np.nan
        if not every:
            resid[~inside] = np.nan
        return resid

    def window(self, index: slice | IntArray) -> tuple[FloatArray, FloatArray, FloatArray,
                                                       IntArray]:
        """Event-window return, market return, normal return and span of events at ``index``."""
        spec = self.plan.spec
        coef = self.coef[index]
        k = coef.shape[1]
        inv = np.zeros((len(coef), max(k, 2), max(k, 2)))
        y, x, expected, _, _, span, _, _ = _window_values(
            self.panel, self.stock_rows[index], self.market_rows[index], self.day0[index],
            self.plan.evt_days, coef, inv, self.sigma2[index], spec.uses_market)
        return y, x, expected, span


# ---------------------------------------------------------------------------------------------
# Engines
# ---------------------------------------------------------------------------------------------
TaskFn = Callable[..., Any]


class Engine(Protocol):
    """Maps a function over tasks that share one panel; yields the results in task order."""

    name: str

    def run(self, panel: PanelLike, fn: TaskFn, tasks: Sequence[tuple[Any, ...]]
            ) -> Iterator[Any]:
        """Yield ``fn(panel, *task)`` for every task, in order."""
        ...

    def close(self) -> None:
        """Release what the engine started."""
        ...


class LocalEngine:
    """Compute the tasks one after another in this process."""

    name = "local"

    def run(self, panel: PanelLike, fn: TaskFn, tasks: Sequence[tuple[Any, ...]]
            ) -> Iterator[Any]:
        """Yield ``fn(panel, *task)`` for every task, in order."""
        for task in tasks:
            yield fn(panel, *task)

    def close(self) -> None:
        """Nothing to release."""


class DaskEngine:
    """Compute the tasks on a Dask cluster.

    The panel is scattered to the workers once per study (every later
    :meth:`run` on the same panel reuses it); each task then carries only its
    events' indices (and, for the abnormal returns, their fits). Results come
    back in order and each is released on the cluster as soon as it is read.

    Parameters
    ----------
    scheduler : str or distributed.Client, optional
        Scheduler address (``tcp://host:8786``) or a connected client. Without
        one, a :class:`distributed.LocalCluster` is started on first use and
        stopped by :meth:`close`.
    cluster_options : dict, optional
        Keyword arguments for the LocalCluster (e.g. ``n_workers``, ``processes``).
    """

    name = "dask"

    def __init__(self, scheduler: Any = None, cluster_options: dict[str, Any] | None = None
                 ) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the installation
            from marketreact.errors import MarketReactError

            raise MarketReactError("the dask engine needs dask[distributed]: "
                                   "pip install 'marketreact[dask]'") from exc
        self.scheduler = scheduler
        self.cluster_options = dict(cluster_options or {})
        self._client: Any = None
        self._owned: list[Any] = []
        self._panel: tuple[PanelLike, Any] | None = None

    def client(self) -> Any:
        """Return the connected client, connecting or starting a LocalCluster if needed."""
        from distributed import Client, LocalCluster

        if self._client is not None:
            return self._client
        if isinstance(self.scheduler, Client):
            self._client = self.scheduler
        elif self.scheduler:
            self._client = Client(str(self.scheduler))
            self._owned.append(self._client)
        else:
            options: dict[str, Any] = {"n_workers": 2, "threads_per_worker": 1,
                                       "processes": True, "dashboard_address": None,
                                       "silence_logs": logging.WARNING}
            options.update(self.cluster_options)
            if not log.isEnabledFor(logging.INFO):  # distributed chats at INFO by default
                logging.getLogger("distributed").setLevel(logging.WARNING)
            cluster = LocalCluster(**options)
            self._client = Client(cluster)
            self._owned.extend([self._client, cluster])
        log.info("dask engine: %s", self._client)
        return self._client

    def _scattered(self, panel: PanelLike) -> Any:
        if self._panel is None or self._panel[0] is not panel:
            self._panel = None  # let the previous panel go first
            self._panel = (panel, self.client().scatter(panel, broadcast=True, hash=False))
        return self._panel[1]

    def run(self, panel: PanelLike, fn: TaskFn, tasks: Sequence[tuple[Any, ...]]
            ) -> Iterator[Any]:
        """Yield ``fn(panel, *task)`` for every task, in order."""
        client = self.client()
        panel_f = self._scattered(panel)
        futures = [client.submit(fn, panel_f, *task, pure=False) for task in tasks]
        for i in range(len(futures)):
            result = futures[i].result()
            futures[i] = None  # release it on the cluster
            yield result

    def close(self) -> None:
        """Drop the scattered panel; close the client and cluster this engine started."""
        self._panel = None
        for obj in self._owned:  # the client first (it releases its data), then the cluster
            obj.close()
        self._owned.clear()
        self._client = None


def make_engine(engine: str | Engine | None, scheduler: Any = None) -> tuple[Engine, bool]:
    """Build an engine from a name (``local``, ``dask``), or take an engine object.

    Returns
    -------
    engine : Engine
    owned : bool
        Whether the caller created it (and so must close it).
    """
    if engine is None or engine == "local":
        return LocalEngine(), True
    if engine == "dask":
        return DaskEngine(scheduler), True
    if isinstance(engine, str):
        from marketreact.errors import InputError

        raise InputError(f"unknown engine {engine!r}: use local or dask")
    return engine, False


#: Events per fitting task of the moment path (events sorted by stock).
FIT_EVENTS = 50_000


def study_events(panel: ExchangePanel, stock_rows: IntArray, market_rows: IntArray,
                 day0: IntArray, plan: ChunkPlan, engine: Engine,
                 general_chunk: TaskFn, chunk_events: int = CHUNK_EVENTS,
                 moment: bool | None = None) -> Iterator[tuple[slice, EventBlock]]:
    """Compute every event of one panel, chunk by chunk.

    Parameters
    ----------
    panel : ExchangePanel
        The exchange's panel.
    stock_rows, market_rows, day0 : numpy.ndarray
        ``(E,)`` panel rows and day-0 positions.
    plan : ChunkPlan
        Model and windows.
    engine : Engine
        Where the chunks run.
    general_chunk : callable
        ``general_chunk(panel, stock_rows, market_rows, day0, plan)``: the
        general path, used when the model has other regressors.
    chunk_events : int
        Events per chunk.
    moment : bool, optional
        Whether the moment path may be used (default: whenever the model
        allows it, :func:`moment_path_supported`).

    Yields
    ------
    slice, EventBlock
        Each chunk's events (positions in the inputs, in order) and their results.
        On the moment path, the fits are computed first over events sorted by
        (stock, market), so each pair's running sums are built about once, and
        its blocks carry no window values or residuals (see :class:`MomentSource`).
    """
    e = len(day0)
    slices = [slice(lo, min(lo + chunk_events, e)) for lo in range(0, e, chunk_events)]
    if not moment_path_supported(plan.spec) or moment is False:
        tasks = [(stock_rows[s], market_rows[s], day0[s], plan) for s in slices]
        yield from zip(slices, engine.run(panel, general_chunk, tasks), strict=True)
        return
    markets = market_rows if plan.spec.uses_market else np.zeros_like(market_rows)
    order = np.argsort(stock_rows * (panel.returns.shape[0] + 1) + markets, kind="stable")
    # what the moment path reads: returns, spans and the markets' running sums (no prices)
    view = ReturnsView.of(panel, market_rows if plan.spec.uses_market else market_rows[:0])
    groups = [order[lo:lo + FIT_EVENTS] for lo in range(0, e, FIT_EVENTS)]
    fit_tasks = [(stock_rows[g], market_rows[g], day0[g], plan) for g in groups]
    fits: list[np.ndarray] = []
    for g, got in zip(groups, engine.run(view, moment_fits, fit_tasks), strict=True):
        if not fits:
            fits = [np.empty((e, *a.shape[1:]), a.dtype) for a in got]
        for out, a in zip(fits, got, strict=True):
            out[g] = a
    chunk_tasks: list[tuple[Any, ...]] = [
        (stock_rows[s], market_rows[s], day0[s], plan, *(a[s] for a in fits)) for s in slices]
    yield from zip(slices, engine.run(view, moment_chunk, chunk_tasks), strict=True)
