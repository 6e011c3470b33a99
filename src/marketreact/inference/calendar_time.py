"""Calendar-time portfolios (Jaffe 1974, Mandelker 1974, Mitchell-Stafford 2000).

Instead of averaging each firm's abnormal return in event time, each calendar period
(day or month: the rows of the returns frame) holds the portfolio of the firms whose
event lies within ``[0, H]`` periods before it. The portfolio's excess return is
regressed on the market or on the Fama-French / Carhart factors; the intercept (alpha)
is the mean abnormal return per period, and because each period is one observation,
cross-sectional dependence among overlapping events is in the time-series residuals
(Mitchell & Stafford 2000, section V). Standard errors are HAC (Newey-West).

Standardised variant (Jaffe 1974; Mandelker 1974): the portfolio's composition changes
from period to period, and so does its variance. Each period ``t`` is divided by
``σ_t``, the standard deviation of the returns that the same portfolio (same members,
same weights) earned over the ``K`` estimation periods ``[t - H - K, t - H - 1]``, which
end before the earliest event day 0 any current member can have. Regressing
``y_t / σ_t`` on ``x_t / σ_t`` (the constant included) is weighted least squares with
weights ``1 / σ_t²``; the intercept is still alpha, estimated more efficiently.

Pure computation on frames; :func:`calendar_time_portfolio` is the entry point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Factor columns of each model (after :func:`_norm` of the factor frame's names).
MODEL_FACTORS: dict[str, tuple[str, ...]] = {
    "market": ("mkt_rf",),
    "ff3": ("mkt_rf", "smb", "hml"),
    "carhart": ("mkt_rf", "smb", "hml", "mom"),
}

_ALIASES = {"mktrf": "mkt_rf", "mkt_rf": "mkt_rf", "mkt": "mkt_rf", "umd": "mom",
            "wml": "mom", "momentum": "mom"}


def _norm(name: object) -> str:
    key = str(name).strip().lower().replace("-", "_").replace(" ", "")
    return _ALIASES.get(key.replace("_", ""), _ALIASES.get(key, key))


def newey_west_lags(n: int) -> int:
    """Newey-West (1994) rule of thumb ``floor(4 (n / 100)^(2/9))`` for the HAC lags."""
    return math.floor(4.0 * (max(n, 1) / 100.0) ** (2.0 / 9.0))


@dataclass(frozen=True)
class CalendarTimeResult:
    """A calendar-time portfolio regression.

    Attributes
    ----------
    alpha, alpha_se, alpha_t, alpha_p : float
        Intercept (mean abnormal return per period), its HAC standard error, z and
        two-sided p-value (standard normal, statsmodels' default with HAC errors).
    betas : pandas.Series
        Factor loadings.
    params : pandas.DataFrame
        Every coefficient: ``coef, se, t, p``.
    n_periods : int
        Periods in the regression.
    mean_firms : float
        Average number of firms in the portfolio over those periods.
    r2 : float
        R-squared of the regression.
    portfolio : pandas.DataFrame
        Indexed by date: ``ret`` (portfolio return), ``rf``, ``excess``, ``n_firms``
        and the factors (plus ``sigma`` for the standardised variant).
    model, weighting : str
        ``market``/``ff3``/``carhart`` and ``equal``/``value``.
    horizon, hac_lags : int
        ``H`` and the Newey-West lags.
    standardised : bool
        Whether each period was divided by its estimation-period SD (WLS).
    diagnostics : tuple of str
        Events left out and why.
    """

    alpha: float
    alpha_se: float
    alpha_t: float
    alpha_p: float
    betas: pd.Series
    params: pd.DataFrame
    n_periods: int
    mean_firms: float
    r2: float
    portfolio: pd.DataFrame
    model: str
    weighting: str
    horizon: int
    hac_lags: int
    standardised: bool = False
    diagnostics: tuple[str, ...] = field(default_factory=tuple)

    def to_frame(self) -> pd.DataFrame:
        """The coefficients (``alpha`` first, then the factors) with ``se, t, p``."""
        return self.params.copy()

    def summary(self) -> str:
        """Plain-text summary: settings, alpha with its t and p, loadings."""
        title = "Calendar-time portfolio" + (" (standardised, WLS)" if self.standardised
                                              else "")
        rule = "=" * 64
        lines = [title.center(64), rule,
                 f"model: {self.model:<12} weighting: {self.weighting:<8} horizon: "
                 f"[0,{self.horizon}]",
                 f"periods: {self.n_periods:<10d} mean firms: {self.mean_firms:<8.2f} "
                 f"HAC lags: {self.hac_lags}  R2: {self.r2:.4f}",
                 rule, f"{'':<10}{'coef':>14}{'se':>12}{'t':>10}{'p':>10}", "-" * 64]
        for name, row in self.params.iterrows():
            lines.append(f"{name!s:<10}{row['coef']:>14.6f}{row['se']:>12.6f}"
                         f"{row['t']:>10.3f}{row['p']:>10.4f}")
        lines.append(rule)
        lines += list(self.diagnostics)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _day0_positions(events: pd.DataFrame, index: pd.DatetimeIndex, columns: pd.Index,
                    ticker: str, date: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Row of day 0 (first period on or after the event date) and column of each event."""
    tick = events[ticker].astype(str).to_numpy()
    when = pd.to_datetime(events[date]).to_numpy(dtype="datetime64[ns]")
    rows = np.searchsorted(index.to_numpy(dtype="datetime64[ns]"), when, side="left")
    col_of = {str(c): i for i, c in enumerate(columns)}
    cols = np.array([col_of.get(t, -1) for t in tick], dtype=np.int64)
    notes = []
    bad_col = cols < 0
    if bad_col.any():
        notes.append(f"{int(bad_col.sum())} event(s) left out: ticker not in the returns "
                     f"({', '.join(sorted(set(tick[bad_col])))[:80]})")
    late = (rows >= len(index)) & ~bad_col
    if late.any():
        notes.append(f"{int(late.sum())} event(s) left out: day 0 after the last return")
    keep = ~bad_col & ~late
    return rows[keep], cols[keep], notes


def membership(events: pd.DataFrame, returns: pd.DataFrame, horizon: int, *,
               ticker: str = "ticker", date: str = "day0") -> tuple[pd.DataFrame, list[str]]:
    """Which firms are in the portfolio each period: ``[0, H]`` periods after an event.

    Parameters
    ----------
    events : pandas.DataFrame
        One row per event with ``ticker`` and ``date`` (day 0) columns.
    returns : pandas.DataFrame
        ``(T, N)`` returns, dates x tickers (ascending dates).
    horizon : int
        ``H``: a firm is held from its day 0 to ``H`` periods after it, inclusive.

    Returns
    -------
    pandas.DataFrame
        ``(T, N)`` booleans (a firm with overlapping events counts once).
    list of str
        Events left out and why.
    """
    if horizon < 0:
        raise ValueError("horizon must be 0 or more")
    index = pd.DatetimeIndex(returns.index)
    rows, cols, notes = _day0_positions(events, index, returns.columns, ticker, date)
    t, n = returns.shape
    diff = np.zeros((t + 1, n), dtype=np.int64)
    np.add.at(diff, (rows, cols), 1)
    np.add.at(diff, (np.minimum(rows + horizon + 1, t), cols), -1)
    active = np.cumsum(diff[:-1], axis=0) > 0
    return pd.DataFrame(active, index=returns.index, columns=returns.columns), notes


def _portfolio_weights(active: np.ndarray, returns: np.ndarray,
                       weights: np.ndarray | None) -> np.ndarray:
    """``(T, N)`` weights of each period's members that have a return, summing to 1."""
    have = active & np.isfinite(returns)
    if weights is None:
        w = have.astype(float)
    else:
        w = np.where(have & np.isfinite(weights) & (weights > 0), weights, 0.0)
    total = w.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, w / total, 0.0)


def _estimation_sigma(w: np.ndarray, r: np.ndarray, horizon: int, length: int,
                      min_obs: int) -> np.ndarray:
    """SD of each period's portfolio (its weights) over ``[t - H - K, t - H - 1]``."""
    t_len = len(w)
    sigma = np.full(t_len, np.nan)
    for t in range(t_len):  # one small matrix product per period
        members = w[t] > 0
        stop = t - horizon
        start = stop - length
        if not members.any() or start < 0:
            continue
        sub = r[start:stop][:, members]
        wt = np.broadcast_to(w[t, members], sub.shape)
        ok = np.isfinite(sub)
        ws = np.where(ok, wt, 0.0)
        tot = ws.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            port = np.where(tot > 0, (ws * np.where(ok, sub, 0.0)).sum(axis=1) / tot, np.nan)
        port = port[np.isfinite(port)]
        if port.size >= max(min_obs, 2):
            sd = float(np.std(port, ddof=1))
            sigma[t] = sd if sd > 0 else np.nan
    return sigma


def calendar_time_portfolio(
        events: pd.DataFrame, returns: pd.DataFrame, factors: pd.DataFrame, horizon: int, *,
        model: str = "ff3", factor_columns: Sequence[str] | None = None, rf: str = "rf",
        weighting: str = "equal", weights: pd.DataFrame | None = None,
        lag_weights: bool = True, min_firms: int = 1, hac_lags: int | None = None,
        standardise: bool = False, estimation: int = 250, min_estimation: int | None = None,
        ticker: str = "ticker", date: str = "day0") -> CalendarTimeResult:
    """Calendar-time portfolio regression of the firms within ``[0, H]`` of their event.

    Each period ``t`` (a row of ``returns``) the portfolio holds the firms with an
    event whose day 0 (the first period on or after the event date) is ``H`` or
    fewer periods before ``t``; firms without a return that period are left out.
    Its excess return ``R_pt - rf_t`` is regressed on the factors with an intercept
    by statsmodels OLS with HAC (Newey-West) standard errors; periods with fewer
    than ``min_firms`` firms, or without factors, are left out.

    Parameters
    ----------
    events : pandas.DataFrame
        One row per event: ``ticker`` and ``date`` (day 0, or the event date).
    returns : pandas.DataFrame
        ``(T, N)`` simple returns, dates x tickers, ascending dates; NaN where missing.
    factors : pandas.DataFrame
        Factor returns in decimals indexed by date, with the risk-free rate ``rf``
        (names such as ``Mkt-RF`` are matched to ``mkt_rf``).
    horizon : int
        ``H`` in periods of ``returns`` (e.g. 252 sessions or 12 months).
    model : {"market", "ff3", "carhart"}, default "ff3"
        Factors of the regression (ignored when ``factor_columns`` is given).
    factor_columns : sequence of str, optional
        Factor columns to use instead.
    rf : str, default "rf"
        The risk-free column of ``factors``.
    weighting : {"equal", "value"}, default "equal"
        Equal weights, or weights proportional to ``weights`` (e.g. market caps).
    weights : pandas.DataFrame, optional
        ``(T, N)`` size of each firm, needed for ``value``.
    lag_weights : bool, default True
        Use the previous period's ``weights`` (known before the period starts).
    min_firms : int, default 1
        Fewest firms a period's portfolio needs to enter the regression.
    hac_lags : int, optional
        Newey-West lags (default :func:`newey_west_lags` of the number of periods).
    standardise : bool, default False
        Divide each period by its estimation-period SD (WLS; see the module notes).
    estimation : int, default 250
        ``K``, the estimation periods of the standardised variant.
    min_estimation : int, optional
        Fewest estimation returns for a period's SD (default ``K // 2``).
    ticker, date : str
        Column names in ``events``.

    Returns
    -------
    CalendarTimeResult
    """
    import statsmodels.api as sm

    if weighting not in ("equal", "value"):
        raise ValueError("weighting must be 'equal' or 'value'")
    if weighting == "value" and weights is None:
        raise ValueError("value weighting needs a weights frame")
    fac = factors.rename(columns=_norm)
    names = [_norm(c) for c in (factor_columns or MODEL_FACTORS[model])]
    missing = [c for c in [*names, _norm(rf)] if c not in fac.columns]
    if missing:
        raise ValueError(f"factor frame lacks {', '.join(missing)}")
    rets = returns.sort_index()
    active, notes = membership(events, rets, horizon, ticker=ticker, date=date)
    r = rets.to_numpy(dtype=float)
    wv = None
    if weighting == "value":
        assert weights is not None
        wf = weights.reindex(index=rets.index, columns=rets.columns)
        wv = (wf.shift(1) if lag_weights else wf).to_numpy(dtype=float)
    w = _portfolio_weights(active.to_numpy(), r, wv)
    n_firms = (w > 0).sum(axis=1)
    with np.errstate(invalid="ignore"):
        ret = np.where(n_firms > 0, (w * np.where(np.isfinite(r), r, 0.0)).sum(axis=1), np.nan)
    frame = pd.DataFrame({"ret": ret, "n_firms": n_firms}, index=rets.index)
    frame = frame.join(fac[[_norm(rf), *names]].rename(columns={_norm(rf): "rf"}), how="left")
    frame["excess"] = frame["ret"] - frame["rf"]
    if standardise:
        frame["sigma"] = _estimation_sigma(
            w, r, horizon, estimation,
            estimation // 2 if min_estimation is None else min_estimation)
    use = (frame["n_firms"] >= max(min_firms, 1)) & frame[["excess", *names]].notna().all(axis=1)
    if standardise:
        use &= frame["sigma"].notna()
    data = frame[use]
    n = len(data)
    if n <= len(names) + 1:
        raise ValueError(f"only {n} period(s) with a portfolio and factors; too few to regress")
    lags = newey_west_lags(n) if hac_lags is None else int(hac_lags)
    y = data["excess"].to_numpy(float)
    x = np.column_stack([np.ones(n), data[names].to_numpy(float)])
    if standardise:
        s = data["sigma"].to_numpy(float)
        y, x = y / s, x / s[:, None]
    fit = sm.OLS(y, x).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    labels = ["alpha", *names]
    params = pd.DataFrame({"coef": fit.params, "se": fit.bse, "t": fit.tvalues,
                           "p": fit.pvalues}, index=labels)
    return CalendarTimeResult(
        alpha=float(fit.params[0]), alpha_se=float(fit.bse[0]), alpha_t=float(fit.tvalues[0]),
        alpha_p=float(fit.pvalues[0]), betas=params["coef"].iloc[1:].copy(), params=params,
        n_periods=n, mean_firms=float(data["n_firms"].mean()), r2=float(fit.rsquared),
        portfolio=frame, model=model if factor_columns is None else "custom",
        weighting=weighting, horizon=int(horizon), hac_lags=lags, standardised=standardise,
        diagnostics=tuple(notes))
