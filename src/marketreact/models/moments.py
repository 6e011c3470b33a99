"""The market, market-adjusted and constant-mean models fitted from running sums.

Each event's OLS comes from six prefix sums built once over the panel (O(1) per event),
under exactly the estimation mask of the general path (:func:`fit_linear`); only the
event window is gathered. Equal to the batched OLS to 1e-12 (tests/models).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from marketreact import _compiled
from marketreact._compiled import pairwise_sum as _pairwise_sum
from marketreact._typing import BoolArray, FloatArray, IntArray
from marketreact.models.linear import EventBlock
from marketreact.models.spec import ChunkPlan, Estimator, ModelSpec
from marketreact.panel.returns import ExchangePanel

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
                  spec: ModelSpec, scratch: list[np.ndarray] | None = None) -> MomentPanel:
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
    scratch : list of numpy.ndarray, optional
        Three complex ``(P', T + 1)`` arrays (``P' >= P``) the sums are written into
        (with numba; a caller reusing them block after block), instead of new arrays.

    Returns
    -------
    MomentPanel
    """
    p, t = len(pair_stock), panel.returns.shape[1]
    if _compiled.HAVE_NUMBA:
        return _compiled_moments(panel, pair_stock, pair_market, spec, scratch)
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


#: The sums :func:`_running_moments_loop` builds: fixed coefficients, constant mean, market model.
_FIXED, _MEAN, _MARKET = 0, 1, 2


def _compiled_moments(panel: PanelLike, pair_stock: IntArray, pair_market: IntArray,
                      spec: ModelSpec, scratch: list[np.ndarray] | None = None) -> MomentPanel:
    """:func:`build_moments` by one compiled pass over each pair's sessions."""
    p, t = len(pair_stock), panel.returns.shape[1]
    x, x_ok = np.zeros((1, t)), np.ones((1, t), dtype=bool)
    which = np.zeros(p, dtype=np.int64)
    if spec.uses_market:
        markets, which = np.unique(pair_market, return_inverse=True)
        x, x_ok = _market_one_session(panel, markets)
    fixed = spec.fixed is not None
    mode = _FIXED if fixed else _MARKET if spec.uses_market else _MEAN
    names = {_FIXED: ("dd|n",), _MEAN: ("y|yy", "n|"), _MARKET: ("y|yy", "x|xx", "xy|n")}[mode]
    out = ([np.empty((p, t + 1), dtype=np.complex128) for _ in range(3)] if scratch is None
           else [a[:p] for a in scratch])
    c = np.asarray(spec.fixed if fixed else (0.0, 0.0), dtype=float)
    _running_moments(panel.returns, panel.span, np.ascontiguousarray(x, dtype=float),
                     np.ascontiguousarray(x_ok), np.asarray(pair_stock, np.int64),
                     np.asarray(which, np.int64).reshape(-1), mode, spec.uses_market,
                     float(c[0]), float(c[1]) if len(c) > 1 else 0.0, out[0], out[1], out[2])
    return MomentPanel(dict(zip(names, out, strict=False)))


def _running_moments_loop(returns: FloatArray, span: Any, x: FloatArray, x_ok: Any,
                          stock: Any, which: Any, mode: int, uses_market: bool, c0: float,
                          c1: float, first: Any, second: Any,
                          third: Any) -> None:  # pragma: no cover - compiled
    """The running sums of :func:`build_moments`, pair by pair in one pass (compiled).

    Pair ``i`` takes row ``stock[i]`` of the returns and row ``which[i]`` of the
    market's one-session returns ``x`` (present where ``x_ok``). A session enters when
    the return spans one session, is finite and (with a market) the market's return
    exists; otherwise it adds zeros. The sums run session after session with the
    products and additions of the numpy code (``numpy.cumsum`` adds in order), so
    their values are the same to the last bit. ``mode``: ``_FIXED`` writes
    ``dd|n`` to ``first`` (``d = y - (c0 + c1 x)``, or ``y - c0`` without a market);
    ``_MEAN`` ``y|yy`` and ``n|``; ``_MARKET`` ``y|yy``, ``x|xx`` and ``xy|n``.
    """
    t = returns.shape[1]
    for i in range(stock.shape[0]):
        r, w = stock[i], which[i]
        s1 = s2 = s3 = s4 = s5 = s6 = 0.0
        first[i, 0] = 0.0
        if mode != 0:
            second[i, 0] = 0.0
        if mode == 2:
            third[i, 0] = 0.0
        for j in range(t):
            y = returns[r, j]
            used = span[r, j] == 1 and np.isfinite(y)
            if uses_market:
                used = used and x_ok[w, j]
            one = 1.0 if used else 0.0
            if mode == 0:
                fitted = c0 + c1 * x[w, j] if uses_market else c0
                d = y - fitted if used else 0.0
                s1 += d * d
                s2 += one
                first[i, j + 1] = complex(s1, s2)
                continue
            if not used:
                y = 0.0
            s1 += y
            s2 += y * y
            first[i, j + 1] = complex(s1, s2)
            if mode == 1:
                s3 += one
                second[i, j + 1] = complex(s3, 0.0)
                continue
            x0 = x[w, j] if used else 0.0
            s3 += x0
            s4 += x0 * x0
            second[i, j + 1] = complex(s3, s4)
            s5 += x0 * y
            s6 += one
            third[i, j + 1] = complex(s5, s6)


_running_moments = _compiled.Kernel(_running_moments_loop)


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


def _row_windows(a: np.ndarray, rows: IntArray, day0: IntArray, days: IntArray) -> np.ndarray:
    """``a[rows[:, None], day0[:, None] + days]``, positions outside ``a`` clipped to its ends.

    When ``days`` are consecutive and every window lies inside ``a``, each row's
    window is copied as one slice of a sliding-window view (several times faster
    than gathering element by element); otherwise the positions are gathered one
    by one.
    """
    t = a.shape[1]
    n_days = len(days)
    if (len(day0) and n_days and (n_days == 1 or bool((np.diff(days) == 1).all()))
            and day0.min() + days[0] >= 0 and day0.max() + days[-1] < t):
        view = np.lib.stride_tricks.sliding_window_view(a, n_days, axis=1)
        return view[rows, day0 + days[0]]
    pos = np.clip(day0[:, None] + days[None, :], 0, t - 1)
    return a.ravel().take(rows.reshape(-1, 1) * t + pos)


def _residual_rows_loop(returns: FloatArray, span: Any, market: FloatArray, rows: Any,
                        which: Any, day0: Any, days: Any, coef: FloatArray,
                        uses_market: bool, out: FloatArray) -> None:  # pragma: no cover
    """Estimation residuals of a block of events, written to ``out`` (compiled).

    ``out[i, k] = returns[r, p] - (market[w, p] * b + a)`` (``- a`` without a market)
    at ``r = rows[i]``, ``p = day0[i] + days[k]``, ``w = which[i]`` and
    ``(a, b) = coef[i]``; NaN where ``p`` is outside the panel or the return does not
    span one session (``span != 1``). The same operations, in the same order, as the
    numpy code of :meth:`MomentSource.residuals`, so the same numbers.
    """
    t = returns.shape[1]
    for i in range(rows.shape[0]):
        r, w = rows[i], which[i]
        a = coef[i, 0]
        b = coef[i, 1] if uses_market else 0.0
        for k in range(days.shape[0]):
            p = day0[i] + days[k]
            if p < 0 or p >= t or span[r, p] != 1:
                out[i, k] = np.nan
            elif uses_market:
                fitted = market[w, p] * b
                fitted += a
                out[i, k] = returns[r, p] - fitted
            else:
                out[i, k] = returns[r, p] - a


_residual_rows = _compiled.Kernel(_residual_rows_loop)


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
    y = _row_windows(panel.returns, stock_rows, day0, rel_days)
    span = _row_windows(panel.span, stock_rows, day0, rel_days)
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
    # the blocks' running sums in the same arrays, block after block (fresh ones for each
    # block cost page faults)
    scratch = ([np.empty((min(PAIR_BLOCK, len(pairs)), t + 1), dtype=np.complex128)
                for _ in range(3)] if _compiled.HAVE_NUMBA and len(pairs) > PAIR_BLOCK else None)
    for j, b0 in enumerate(range(0, len(pairs), PAIR_BLOCK)):
        block = pairs[b0:b0 + PAIR_BLOCK]
        moments = build_moments(panel, block // (n_rows + 1), block % (n_rows + 1) - 1, spec,
                                scratch)
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
    if _compiled.HAVE_NUMBA:
        return _compiled_chunk(panel, stock_rows, market_rows, day0, plan, coef, inv, sigma2, n)
    values = _window_values(panel, stock_rows, market_rows, day0, plan.evt_days, coef, inv,
                            sigma2, spec.uses_market)
    y, x, expected, ar, ar_var, span, width, valid = values
    car, car_var, bhar, sessions, missing = _cars(
        plan, valid, span, width, x if spec.uses_market else None, y, expected, ar, inv, sigma2)
    return EventBlock(coef, sigma2, n, n - spec.n_estimated, ar, ar_var,
                      (~valid).sum(axis=1), ((span > 1) & valid).sum(axis=1),
                      car, car_var, bhar, sessions, missing)


def _compiled_chunk(panel: PanelLike, stock_rows: IntArray, market_rows: IntArray,
                    day0: IntArray, plan: ChunkPlan, coef: FloatArray, inv: FloatArray,
                    sigma2: FloatArray, n: IntArray) -> EventBlock:
    """:func:`moment_chunk` in one compiled pass over the events (no chunk-sized temporaries)."""
    spec = plan.spec
    rel_days = np.asarray(plan.evt_days, np.int64)
    e, n_days = len(day0), len(rel_days)
    if spec.uses_market:
        markets, which = np.unique(np.maximum(market_rows, 0), return_inverse=True)
        cum, cum_missing = panel.running_sums(markets)
    else:
        which = np.zeros(e, np.int64)
        cum, cum_missing = np.zeros((1, 1)), np.zeros((1, 1), np.int64)
    cols = plan.car_columns()
    ar, ar_var = np.empty((e, n_days)), np.empty((e, n_days))
    n_missing, n_multi = np.empty(e, np.int64), np.empty(e, np.int64)
    car, car_var = np.empty((e, len(cols))), np.empty((e, len(cols)))
    growth, normal = np.empty((e, len(cols))), np.empty((e, len(cols)))
    sessions, missing = np.empty((e, len(cols)), np.int64), np.empty((e, len(cols)), np.int64)
    _chunk_values(panel.returns, panel.span, cum, cum_missing,
                  np.asarray(stock_rows, np.int64), np.asarray(which, np.int64),
                  np.asarray(day0, np.int64), rel_days, coef, inv, sigma2, spec.uses_market,
                  plan.log_returns, np.array([c.start for c in cols], np.int64),
                  np.array([c.stop for c in cols], np.int64), ar, ar_var, n_missing, n_multi,
                  car, car_var, growth, normal, sessions, missing)
    bhar = np.exp(growth) - np.exp(normal) if plan.log_returns else growth - normal
    bhar[sessions == 0] = np.nan
    return EventBlock(coef, sigma2, n, n - spec.n_estimated, ar, ar_var, n_missing, n_multi,
                      car, car_var, bhar, sessions, missing)


def _chunk_values_loop(returns: FloatArray, span: Any, cum: FloatArray, cum_missing: Any,
                       stock_rows: Any, which: Any, day0: Any, rel_days: Any,
                       coef: FloatArray, inv: FloatArray, sigma2: FloatArray,
                       uses_market: bool, log_returns: bool, car_lo: Any, car_hi: Any,
                       ar: FloatArray, ar_var: FloatArray, n_missing: Any, n_multi: Any,
                       car: FloatArray, car_var: FloatArray, growth: FloatArray,
                       normal: FloatArray, sessions: Any,
                       missing: Any) -> None:  # pragma: no cover - compiled
    """Each event's window values and CAR windows in one pass (compiled).

    The operations of :func:`_window_values` and :func:`_cars`, in their order (window
    sums pairwise, as numpy adds a row; products left to right), so the same numbers.
    The buy-and-hold parts come out as ``growth`` and ``normal``: the products of
    ``1 + r`` (simple returns) or the sums of ``r`` (log returns, exponentiated by the
    caller with numpy's ``exp``).
    """
    t = returns.shape[1]
    n_days = rel_days.shape[0]
    arz, xz, yz, ez, wz = (np.empty(n_days), np.empty(n_days), np.empty(n_days),
                           np.empty(n_days), np.empty(n_days))
    sz = np.empty(n_days, np.int64)
    stack = np.empty((4, 64))  # the pairwise sums' scratch
    one = 0.0 if log_returns else 1.0  # a missing day: nothing to a sum, 1 to a product
    for i in range(stock_rows.shape[0]):
        r, m, s2 = stock_rows[i], which[i], sigma2[i]
        c0, i00 = coef[i, 0], inv[i, 0, 0]
        c1 = coef[i, 1] if uses_market else 0.0
        i01 = inv[i, 0, 1] if uses_market else 0.0
        i11 = inv[i, 1, 1] if uses_market else 0.0
        n_miss = 0
        n_mult = 0
        for d in range(n_days):
            p = day0[i] + rel_days[d]
            if p < 0 or p >= t:
                y, sp = np.nan, 0
            else:
                y, sp = returns[r, p], span[r, p]
            w = max(sp, 1)
            ok = np.isfinite(y) and sp >= 1
            wf = float(w)
            expected = wf * c0
            quad = i00 * wf * wf
            x = np.nan
            if uses_market and ok:
                hi = p + 1
                x = cum[m, hi] - cum[m, hi - w]
                if cum_missing[m, hi] - cum_missing[m, hi - w] != 0:
                    x = np.nan
                ok = np.isfinite(x)
                expected += x * c1
                quad += 2.0 * i01 * wf * x
                quad += i11 * x * x
            if ok:
                a = y - expected
                quad += sp
                ar[i, d] = a
                ar_var[i, d] = quad * s2
                arz[d] = 0.0 if np.isnan(a) else a
                xz[d] = x if uses_market else 0.0
                yz[d] = y if log_returns else y + 1.0
                ez[d] = expected if log_returns else expected + 1.0
                wz[d] = wf
                sz[d] = sp
                if sp > 1:
                    n_mult += 1
            else:
                ar[i, d] = np.nan
                ar_var[i, d] = np.nan
                arz[d] = 0.0
                xz[d] = 0.0
                yz[d] = one
                ez[d] = one
                wz[d] = 0.0
                sz[d] = 0
                n_miss += 1
        n_missing[i] = n_miss
        n_multi[i] = n_mult
        for j in range(car_lo.shape[0]):
            lo, hi = car_lo[j], car_hi[j]
            covered = 0
            for d in range(lo, hi):
                covered += sz[d]
            s0 = _pairwise_sum(wz[lo:hi], hi - lo, stack)
            quad = i00 * s0 * s0
            if uses_market:
                s1 = _pairwise_sum(xz[lo:hi], hi - lo, stack)
                quad += 2.0 * i01 * s0 * s1 + i11 * s1 * s1
            if log_returns:
                growth[i, j] = _pairwise_sum(yz[lo:hi], hi - lo, stack)
                normal[i, j] = _pairwise_sum(ez[lo:hi], hi - lo, stack)
            else:
                g, b = 1.0, 1.0
                for d in range(lo, hi):
                    g *= yz[d]
                    b *= ez[d]
                growth[i, j] = g
                normal[i, j] = b
            if covered == 0:
                car[i, j] = np.nan
                car_var[i, j] = np.nan
            else:
                car[i, j] = _pairwise_sum(arz[lo:hi], hi - lo, stack)
                car_var[i, j] = s2 * (covered + quad)
            sessions[i, j] = covered
            missing[i, j] = max((hi - lo) - covered, 0)


_chunk_values = _compiled.Kernel(_chunk_values_loop, helpers=("_pairwise_sum",))


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

    def residuals(self, index: slice | IntArray, out: FloatArray | None = None) -> FloatArray:
        """Estimation residuals of the events at ``index`` (written into ``out`` if given).

        ``out``: a C-ordered float64 ``(events, L1)`` array to fill and return (a caller's
        scratch reused block after block); by default a new array.
        """
        panel, spec = self.panel, self.plan.spec
        t = panel.returns.shape[1]
        day0, coef = self.day0[index], self.coef[index]
        days = self.plan.est_days
        every = (not len(day0)) or (day0.min() + days.min() >= 0
                                    and day0.max() + days.max() < t)
        rows = self.stock_rows[index]
        if _compiled.HAVE_NUMBA:
            market = np.empty((0, t))
            which: IntArray = np.zeros(len(rows), np.int64)
            if spec.uses_market:
                markets, which = np.unique(np.maximum(self.market_rows[index], 0),
                                           return_inverse=True)
                market, ok = _market_one_session(panel, markets)
                market[~ok] = np.nan  # no one-session market return: not used
            resid = np.empty((len(rows), len(days))) if out is None else out
            _residual_rows(panel.returns, panel.span, market, np.asarray(rows, np.int64),
                           np.asarray(which, np.int64).reshape(-1),
                           np.asarray(day0, np.int64), np.asarray(days, np.int64),
                           np.ascontiguousarray(coef, dtype=float), spec.uses_market, resid)
            return resid
        resid = _row_windows(panel.returns, rows, day0, days)  # a copy: made residuals here
        if spec.uses_market:
            markets, which = np.unique(np.maximum(self.market_rows[index], 0),
                                       return_inverse=True)
            x1, ok = _market_one_session(panel, markets)
            x1[~ok] = np.nan  # no one-session market return: not used
            fitted = _row_windows(x1, which.reshape(-1), day0, days)
            fitted *= coef[:, 1:2]
            fitted += coef[:, :1]
            resid -= fitted
        else:
            resid -= coef[:, :1]
        np.copyto(resid, np.nan, where=_row_windows(panel.span, rows, day0, days) != 1)
        if not every:
            pos = day0[:, None] + days[None, :]
            resid[(pos < 0) | (pos >= t)] = np.nan
        if out is not None:
            out[...] = resid
            return out
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
