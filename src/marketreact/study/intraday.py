"""Intraday event studies on minute and hourly bars: ``IntradayStudy(...).fit(events, bars)``.

What is computed
----------------
* **The event bar** (bar 0): the bar during which the news became public, on
  the exchange's session minutes (:func:`marketreact.calendar.event_bars`);
  news before the open, after the close or on a closed day falls on the first
  regular bar of the next session. Extended-hours bars take part only with
  ``extended=True`` (and when the data have them).
* **Windows in bars**: relative bars ``window=(a, b)`` count bars on the grid,
  across closes; CAR windows likewise.
* **Models** (:data:`INTRADAY_MODELS`): market model, market-adjusted,
  constant mean, fitted by OLS (:func:`marketreact.models.linear.fit_linear`)
  on the regular-hours bar returns of the previous ``estimation_sessions``
  calendar sessions. No overnight return enters the estimation (the first bar
  of a session is its open-to-close return); when an event window crosses a
  close, the overnight returns crossed are reported on their own
  (``overnight``, ``overnight_ar`` = stock minus beta times market; alpha is a
  per-bar intercept and is left out).
* **Time-of-day standardisation** (``standardise=True``): intraday variance is
  U-shaped, so each AR's variance is scaled by the estimation residuals'
  variance in the same time-of-day slot over the estimation sessions,
  ``Var(AR_t) = s²_slot(t) (1 + x_t'(X'X)⁻¹x_t)``; the standardised tests
  (Patell, BMP, ...) then weigh each bar by its own time of day.
* **Tests**: the cross-event battery of :mod:`marketreact.inference.battery` on
  the bar ARs and the CAR windows, plus the CAR from the event bar to the
  session's close and over the whole event session (cross-sectional t), and
  a time-of-day rank test after Saha & Rinaudo (2014)
  (:func:`marketreact.inference.intraday.rinaudo_saha`: columns ``rs``/``rs_p``
  of the AAR and CAAR tables; per event ``rs_rank0``/``rs_n0``/``rs_p0``, the
  rank of the bar-0 AR among the same-slot estimation residuals).
* **Abnormal bar volume**: ``ln(1 + V)`` of each event-window bar minus the mean
  (``volume_stat='mean'``) or the median of ``ln(1 + V)`` over the same
  time-of-day slot of the estimation sessions (sessions where the ticker had
  traded by that bar); per bar in the long table (``abnormal_volume``), per
  event for bar 0 (``abvol0``) and across events by relative bar (``volume``
  table: mean, median, cross-sectional t). The ``volume`` columns hold the
  volume as read.
* **Reference sets**: an estimation bar that is also a bar of the event's
  window (a window reaching back into the previous session) is left out of the
  same-slot reference of the rank test and of the normal volume, so no event
  value is ranked against, or measured from, itself.

Floor: ``study`` (imports render, models, inference, windows, panel and below).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from marketreact._typing import FloatArray, IntArray, Window
from marketreact.calendar import event_bars
from marketreact.errors import InputError, InputProblem
from marketreact.inference.base import CrossEventTests, TestInputs, TestResult
from marketreact.inference.battery import aar_table, aggregate_table, cross_event_tests
from marketreact.inference.intraday import rinaudo_saha, time_of_day_ranks
from marketreact.models.linear import abnormal_returns, cumulate, fit_linear
from marketreact.models.spec import ModelName, ModelSpec, model_spec
from marketreact.panel.bars import (
    BarPanel,
    build_bar_panel,
    estimation_positions,
    gather_bars,
    session_window,
)
from marketreact.prices.bars import parse_interval
from marketreact.windows import WindowData, format_window

#: Models an intraday study fits.
INTRADAY_MODELS = (ModelName.market_model, ModelName.market_adjusted, ModelName.constant_mean)


@dataclass(frozen=True)
class IntradaySettings:
    """Settings of an intraday study (see :class:`IntradayStudy`)."""

    interval: pd.Timedelta
    window: Window
    car_windows: tuple[Window, ...]
    model: ModelName
    market: str | None
    estimation_sessions: int
    min_estimation: int
    standardise: bool
    extended: bool
    exchange: str
    n_boot: int
    interval_text: str
    volume_stat: str = "mean"


class IntradayStudy:
    """An event study on intraday bars.

    Parameters
    ----------
    interval : str, default "1h"
        Bar length (``1m``, ``5m``, ``1h``, ...).
    window : tuple of int, default (-3, 3)
        Event window in bars relative to the event bar.
    car_windows : sequence of tuple of int, optional
        CAR windows in bars (default ``(0, 0)``, ``(0, 1)`` and the whole window).
    model : {'market-model', 'market-adjusted', 'constant-mean'}
        Normal-return model.
    market : str, optional
        Ticker of the market in the bars (events' own ``market`` column wins).
    estimation_sessions : int, default 20
        Calendar sessions before the event session whose regular bars estimate the model.
    min_estimation : int, optional
        Fewest estimation bars (default: half the bars of the estimation sessions
        at this interval, at least 10).
    standardise : bool, default False
        Time-of-day variance of the ARs (see the module notes).
    extended : bool, default False
        Use extended-hours bars where the data have them.
    exchange : str, default "XNYS"
        Calendar of the bars.
    n_boot : int, default 0
        Bootstrap resamples of the battery (0: off).
    volume_stat : {'mean', 'median'}, default 'mean'
        Normal log volume of a bar: mean or median of ``ln(1 + V)`` over the same
        time-of-day slot of the estimation sessions.

    Examples
    --------
    >>> res = IntradayStudy(interval="1h", window=(-3, 3), market="SPY").fit(events, bars)
    ... # doctest: +SKIP
    >>> print(res.summary())  # doctest: +SKIP
    """

    def __init__(self, interval: str = "1h", window: Window = (-3, 3),
                 car_windows: Sequence[Window] | None = None,
                 model: ModelName | str = ModelName.market_model, market: str | None = None,
                 estimation_sessions: int = 20, min_estimation: int | None = None,
                 standardise: bool = False, extended: bool = False, exchange: str = "XNYS",
                 n_boot: int = 0, volume_stat: str = "mean") -> None:
        step = parse_interval(interval)
        a, b = (int(window[0]), int(window[1]))
        problems = []
        if a > 0 or b < 0:
            problems.append(InputProblem("settings", None, "window", format_window((a, b)),
                                         "must contain bar 0"))
        try:
            name = ModelName(model)
        except ValueError:
            name = None
        if name not in INTRADAY_MODELS:
            problems.append(InputProblem("settings", None, "model", str(model),
                                         "intraday models: " + ", ".join(
                                             m.value for m in INTRADAY_MODELS)))
        if estimation_sessions < 1:
            problems.append(InputProblem("settings", None, "estimation_sessions",
                                         str(estimation_sessions), "must be at least 1"))
        if car_windows:
            cw = tuple((int(x), int(y)) for x, y in car_windows)
        else:
            cw = tuple(w for w in ((0, 0), (0, 1), (a, b)) if w[1] <= b)
        cw = tuple(dict.fromkeys(cw))
        for w in cw:
            if w[0] > w[1]:
                problems.append(InputProblem("settings", None, "car_windows", format_window(w),
                                             "starts after it ends"))
        for w in cw:
            if w[0] < a or w[1] > b:
                problems.append(InputProblem("settings", None, "car_windows", format_window(w),
                                             f"lies outside the window {format_window((a, b))}"))
        if volume_stat not in ("mean", "median"):
            problems.append(InputProblem("settings", None, "volume_stat", str(volume_stat),
                                         "must be mean or median"))
        if problems:
            raise InputError(problems)
        bars_per_session = max(int(pd.Timedelta(hours=6.5) / step), 1)
        min_est = (max(10, estimation_sessions * bars_per_session // 2)
                   if min_estimation is None else int(min_estimation))
        assert name is not None
        self.settings = IntradaySettings(step, (a, b), cw, name, market, int(estimation_sessions),
                                         min_est, bool(standardise), bool(extended), exchange,
                                         int(n_boot), interval, volume_stat)

    def fit(self, events: Any, bars: Mapping[str, pd.DataFrame] | BarPanel) -> IntradayResult:
        """Run the study.

        Parameters
        ----------
        events : EventCatalogue or pandas.DataFrame
            Validated events (``event_id, ticker, market, timestamp`` in UTC, or a
            ``date`` with ``timing`` ``pre``/``post``).
        bars : mapping of str to pandas.DataFrame, or BarPanel
            Adjusted bars by ticker (UTC bar starts), e.g. from
            :func:`marketreact.prices.bars.read_bar_folder`, or a built panel.

        Returns
        -------
        IntradayResult
        """
        s = self.settings
        frame = getattr(events, "frame", events).reset_index(drop=True)
        panel = bars if isinstance(bars, BarPanel) else build_bar_panel(
            bars, s.interval, exchange=s.exchange, extended=s.extended)
        return _fit(s, frame, panel)


def _event_times(frame: pd.DataFrame, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """UTC ns of each event (date-only ``pre`` -> local midnight, ``post`` -> 23:59:59)."""
    n = len(frame)
    out = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    if "timestamp" in frame:
        ts = pd.to_datetime(frame["timestamp"], utc=True)
        has = ts.notna().to_numpy()
        out[has] = pd.DatetimeIndex(ts[has]).as_unit("ns").asi8
        ok |= has
    if "date" in frame and "timing" in frame:
        timing = frame["timing"].astype(str).to_numpy()
        dates = pd.to_datetime(frame["date"], errors="coerce")
        take = ~ok & dates.notna().to_numpy() & np.isin(timing, ("pre", "post"))
        if take.any():
            d = pd.DatetimeIndex(dates[take]).tz_localize(tz)
            later = np.where(timing[take] == "post", pd.Timedelta(hours=23, minutes=59).value, 0)
            out[take] = d.tz_convert("UTC").as_unit("ns").asi8 + later
            ok |= take
    return out, ok


def _fit(s: IntradaySettings, frame: pd.DataFrame, panel: BarPanel) -> IntradayResult:
    n = len(frame)
    spec: ModelSpec = model_spec(s.model)
    times, has_time = _event_times(frame, panel.tz)
    tick = frame["ticker"].astype(str).to_numpy()
    given = (frame["market"].astype(str).to_numpy() if "market" in frame
             else np.full(n, "", dtype=object))
    market = np.where(given != "", given, s.market or "")
    rowmap = {t: i for i, t in enumerate(panel.tickers)}
    stock_rows = np.array([rowmap.get(t, -1) for t in tick], dtype=np.int64)
    market_rows = np.array([rowmap.get(m, -1) for m in market], dtype=np.int64)
    bar0 = event_bars(panel.eff_start, panel.eff_end, times)
    B = panel.n_bars
    reason = np.full(n, "", dtype=object)
    reason[market_rows < 0] = "no bars for the market" if spec.uses_market else ""
    if not spec.uses_market:
        market_rows = np.where(market_rows < 0, stock_rows, market_rows)
    reason[bar0 >= B] = "the news comes after the last bar"
    reason[stock_rows < 0] = "no bars for the ticker"
    reason[~has_time] = ("an intraday study needs the time of the news "
                         "(or a date with timing pre/post)")
    b0 = np.clip(bar0, 0, B - 1)
    session0 = panel.session[b0]
    # estimation: regular bars of the previous sessions
    est_pos, est_ok = estimation_positions(panel, session0, s.estimation_sessions)
    est = gather_bars(panel, np.maximum(stock_rows, 0), market_rows, est_pos, est_ok)
    a, b = s.window
    rel = np.arange(a, b + 1)
    pos = session_window(panel, b0, rel)
    evt = gather_bars(panel, np.maximum(stock_rows, 0), market_rows, pos)
    est_wd = _window_data(est.y, est.market, spec)
    evt_wd = _window_data(evt.y, evt.market, spec)
    fit = fit_linear(est_wd, spec)
    short = fit.n < s.min_estimation
    reason = np.where((reason == "") & short,
                      np.array([f"{k} estimation bars (fewer than {s.min_estimation})"
                                for k in fit.n], dtype=object) if n else reason, reason)
    reason = np.where((reason == "") & ~np.isfinite(fit.sigma2), "the model could not be fitted",
                      reason)
    keep = reason == ""
    ab = abnormal_returns(evt_wd, fit)
    ar_var = ab.variance
    slot_var = None
    if s.standardise:
        slot_var = _slot_variance(panel, est.pos, fit.residuals, evt.pos, fit.sigma2)
        with np.errstate(invalid="ignore", divide="ignore"):
            ar_var = np.where(np.isfinite(slot_var), ab.variance * slot_var
                              / fit.sigma2[:, None], ab.variance)
    columns = [slice(w[0] - a, w[1] - a + 1) for w in s.car_windows]
    cars = [cumulate(evt_wd, fit, ab, c, log_returns=False) for c in columns]
    car = np.stack([c.car for c in cars], axis=1) if cars else np.empty((n, 0))
    car_var = np.stack([c.variance for c in cars], axis=1) if cars else np.empty((n, 0))
    if s.standardise and cars:
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(np.isfinite(ar_var), ar_var / ab.variance, np.nan)
        for j, c in enumerate(columns):
            scale = np.nanmean(ratio[:, c], axis=1)
            car_var[:, j] = np.where(np.isfinite(scale), car_var[:, j] * scale, car_var[:, j])
    # the event session: from the event bar to the close, and the whole session
    width = int((panel.sess_end - panel.sess_first).max())
    first = panel.sess_first[session0]
    spos = first[:, None] + np.arange(width)[None, :]
    same = (spos < panel.sess_end[session0][:, None]) & panel.regular[np.clip(spos, 0, B - 1)]
    ses = gather_bars(panel, np.maximum(stock_rows, 0), market_rows, spos, same)
    ses_wd = _window_data(ses.y, ses.market, spec)
    ses_ab = abnormal_returns(ses_wd, fit)
    to_close_wd = _window_data(ses.y, ses.market, spec, mask=spos >= b0[:, None])
    cum_session = cumulate(ses_wd, fit, ses_ab, slice(0, width), log_returns=False)
    cum_close = cumulate(to_close_wd, fit, abnormal_returns(to_close_wd, fit), slice(0, width),
                         log_returns=False)
    # overnight returns crossed by the window
    s_first = panel.session[pos[:, 0].clip(0, B - 1)]
    s_last = panel.session[pos[:, -1].clip(0, B - 1)]
    crossings = (s_last - s_first).astype(np.int64)
    on_cum = np.cumsum(np.nan_to_num(panel.overnight, nan=0.0), axis=1)  # (T, S), once
    on_stock = _overnight_sum(on_cum, np.maximum(stock_rows, 0), s_first, s_last)
    on_market = _overnight_sum(on_cum, np.maximum(market_rows, 0), s_first, s_last)
    beta = _beta(spec, fit.coef)
    on_ar = on_stock - beta * on_market
    on_stock = np.where(crossings > 0, on_stock, np.nan)
    on_ar = np.where(crossings > 0, on_ar, np.nan)

    # every per-event array, restricted to the events kept
    k = np.flatnonzero(keep)
    ar = ab.ar[k]
    inputs = TestInputs(ar, ar_var[k], fit.residuals[k], fit.sigma2[k], fit.df[k].astype(float),
                        tuple(columns), car[k], car_var[k])
    tests = cross_event_tests(inputs, n_boot=s.n_boot)
    labels = [format_window(w) for w in s.car_windows]
    aar = aar_table(rel, ar, tests).rename(columns={"rel_day": "rel_bar"})
    agg = aggregate_table(labels, car[k], tests)
    # the same time of day on the estimation sessions: time-of-day ranks, abnormal volume
    slot_inv = np.unique(panel.slot, return_inverse=True)[1].astype(np.int64)
    d_of = (panel.ordinal[session0][:, None] - panel.ordinal[panel.session[est.pos]] - 1)
    # a window bar before the event session is also an estimation bar: it must not sit
    # in its own reference set (window positions are the contiguous bar0 + rel)
    est_ref = est.inside & ~((est.pos >= pos[:, :1]) & (est.pos <= pos[:, -1:]))
    ref = _same_slot(slot_inv, d_of, est.pos, est_ref, fit.residuals, evt.pos, evt.inside,
                     s.estimation_sessions)
    rs_day, rs_win = rinaudo_saha(ar, ref[k], columns)
    aar["rs"], aar["rs_p"] = rs_day.stat, rs_day.pvalue
    agg["rs"], agg["rs_p"] = rs_win.stat, rs_win.pvalue
    r0 = time_of_day_ranks(ab.ar[:, [-a]], ref[:, :, [-a]])
    srow = np.maximum(stock_rows, 0)
    traded_est = est_ref & np.isfinite(panel.close[srow[:, None], est.pos])
    logv_est = np.where(traded_est, np.log1p(panel.volume[srow[:, None], est.pos]), np.nan)
    vref = _same_slot(slot_inv, d_of, est.pos, traded_est, logv_est, evt.pos, evt.inside,
                      s.estimation_sessions)
    traded_evt = evt.inside & np.isfinite(panel.close[srow[:, None], evt.pos])
    vol_evt = np.where(traded_evt, panel.volume[srow[:, None], evt.pos], np.nan)  # as read
    logv = np.log1p(vol_evt)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slots
        normal_v = (np.nanmedian(vref, axis=1) if s.volume_stat == "median"
                    else np.nanmean(vref, axis=1))
    abvol = logv - normal_v
    volume_table = _volume_table(rel, abvol[k])
    day_rows = []
    for name, cum in (("session", cum_session), ("bar0_to_close", cum_close)):
        day_rows.append(_t_row(name, cum.car[k]))
    session_table = pd.DataFrame(day_rows)
    on_row = _t_row("overnight_ar", on_ar[k])
    session_table = pd.concat([session_table, pd.DataFrame([on_row])], ignore_index=True)

    starts = panel.starts
    bar_start = pd.DatetimeIndex(starts[b0]).tz_convert(panel.tz)
    ev = pd.DataFrame({
        "event_id": frame["event_id"].astype(str).to_numpy(),
        "ticker": tick, "market": np.where(spec.uses_market, market, ""),
        "news_time": pd.DatetimeIndex(np.where(has_time, times, 0), tz="UTC").tz_convert(
            panel.tz),
        "bar0": bar_start, "session": panel.labels[session0],
        "n_estimation": fit.n, "alpha": fit.coef[:, 0],
        "beta": beta if spec.uses_market else np.nan,
        "sigma": np.sqrt(fit.sigma2),
        "ar0": ab.ar[:, -a], "ar0_t": ab.ar[:, -a] / np.sqrt(ar_var[:, -a]),
        "car_to_close": cum_close.car, "car_session": cum_session.car,
        "crossings": crossings, "overnight": on_stock, "overnight_ar": on_ar,
        "rs_rank0": r0.rank[:, 0], "rs_n0": r0.n[:, 0], "rs_p0": r0.event_p()[:, 0],
        "volume0": vol_evt[:, -a],
        "abvol0": abvol[:, -a],
    })
    for j, lab in enumerate(labels):
        ev[f"car{lab}"] = car[:, j]
    failures = ev.loc[~keep, ["event_id", "ticker", "news_time"]].assign(reason=reason[~keep])
    ev = ev.loc[keep].reset_index(drop=True)
    pk, ink = evt.pos[k].ravel(), evt.inside[k].ravel()
    bar_times = pd.DatetimeIndex(np.where(ink, starts.asi8[pk], np.iinfo(np.int64).min),
                                 tz="UTC").tz_convert(panel.tz)
    nat = np.iinfo(np.int64).min
    traded_from = pd.DatetimeIndex(np.where(ink, panel.eff_start[pk], nat),
                                   tz="UTC").tz_convert(panel.tz)
    traded_to = pd.DatetimeIndex(np.where(ink, panel.eff_end[pk], nat),
                                 tz="UTC").tz_convert(panel.tz)
    long = pd.DataFrame({
        "event_id": np.repeat(ev["event_id"].to_numpy(), len(rel)),
        "ticker": np.repeat(ev["ticker"].to_numpy(), len(rel)),
        "rel_bar": np.tile(rel, len(k)),
        "bar_start": bar_times, "traded_from": traded_from, "traded_to": traded_to,
        "session": ink & (np.repeat(session0[k], len(rel)) != panel.session[pk]),
        "return": evt.y[k].ravel(), "market_return": evt.market[k].ravel(),
        "expected": ab.expected[k].ravel(), "ar": ar.ravel(),
        "ar_se": np.sqrt(ar_var[k]).ravel(),
        "volume": vol_evt[k].ravel(), "normal_log_volume": normal_v[k].ravel(),
        "abnormal_volume": abvol[k].ravel(),
        "price": np.where(ink, panel.close[np.repeat(np.maximum(stock_rows[k], 0), len(rel)),
                                           pk], np.nan),
    }).rename(columns={"session": "other_session"})
    long["news_time"] = np.repeat(ev["news_time"].to_numpy(), len(rel))
    return IntradayResult(s, ev, aar, agg, session_table, failures.reset_index(drop=True),
                          long, tests, rel, ar, ar_var[k], spec.name,
                          int(panel.suspect.sum()), panel.tz, volume_table, inputs, ref[k],
                          (rs_day, rs_win))


def _same_slot(slot_inv: IntArray, d_of: IntArray, est_pos: IntArray, est_ok: np.ndarray,
               values: FloatArray, evt_pos: IntArray, evt_ok: np.ndarray, n_sessions: int
               ) -> FloatArray:
    """``(E, D, L2)``: ``values`` of each estimation session at each event bar's time-of-day slot.

    ``d_of`` is the estimation session's place before the event session (0: the
    session just before); positions outside the estimation sessions, or not
    ``est_ok``, give NaN, as do event bars not ``evt_ok``. Built a block of events
    at a time (an events x sessions x slots scatter table per block).
    """
    e, l2 = evt_pos.shape
    n_slots = int(slot_inv.max()) + 1 if len(slot_inv) else 1
    out = np.full((e, n_sessions, l2), np.nan)
    good = est_ok & np.isfinite(values) & (d_of >= 0) & (d_of < n_sessions)
    est_k = slot_inv[est_pos]
    evt_k = slot_inv[evt_pos]
    width = n_sessions * n_slots
    rows_per = max(1, 4_000_000 // max(width, 1))
    for lo in range(0, e, rows_per):  # blocks of events bound the scatter table's memory
        sl = slice(lo, min(lo + rows_per, e))
        nb = sl.stop - sl.start
        table = np.full((nb, width), np.nan)
        r, c = np.nonzero(good[sl])
        table[r, d_of[sl][r, c] * n_slots + est_k[sl][r, c]] = values[sl][r, c]
        table = table.reshape(nb, n_sessions, n_slots)
        idx = np.broadcast_to(evt_k[sl][:, None, :], (nb, n_sessions, l2))
        got = np.take_along_axis(table, idx, axis=2)
        out[sl] = np.where(evt_ok[sl][:, None, :], got, np.nan)
    return out


def _volume_table(rel: IntArray, abvol: FloatArray) -> pd.DataFrame:
    """Abnormal log volume by relative bar: n, mean, median, sd, cross-sectional t and p."""
    rows = []
    for j, r in enumerate(rel):  # one row per relative bar
        row = _t_row(str(int(r)), abvol[:, j])
        x = abvol[:, j][np.isfinite(abvol[:, j])]
        rows.append({"rel_bar": int(r), "n": row["n"], "mean": row["caar"],
                     "median": float(np.median(x)) if len(x) else math.nan,
                     "sd": row["sd"], "t": row["t"], "p": row["p"]})
    return pd.DataFrame(rows, columns=["rel_bar", "n", "mean", "median", "sd", "t", "p"])


def _window_data(y: FloatArray, market: FloatArray, spec: ModelSpec,
                 mask: np.ndarray | None = None) -> WindowData:
    cols = []
    for r in spec.regressors:
        cols.append(np.ones(y.shape) if r == "const" else market)
    X = np.stack(cols, axis=-1)
    valid = np.isfinite(y) & np.isfinite(X).all(axis=-1)
    if mask is not None:
        valid &= mask
    return WindowData(y, np.ones(y.shape, dtype=np.int64), np.where(np.isfinite(X), X, 0.0),
                      valid)


def _beta(spec: ModelSpec, coef: FloatArray) -> FloatArray:
    if not spec.uses_market:
        return np.zeros(len(coef))
    return coef[:, spec.regressors.index("market")]


def _overnight_sum(cum: FloatArray, rows: IntArray, s_first: IntArray, s_last: IntArray
                   ) -> FloatArray:
    """Sum of the overnight returns of sessions ``s_first+1 .. s_last`` of panel row ``rows``.

    ``cum`` is the ``(T, S)`` running sum of each ticker's overnight returns (missing
    ones count 0), computed once per panel rather than once per event.
    """
    return cum[rows, s_last] - cum[rows, s_first]


def _slot_variance(panel: BarPanel, est_pos: IntArray, resid: FloatArray, evt_pos: IntArray,
                   sigma2: FloatArray) -> FloatArray:
    """Variance of the estimation residuals in each event bar's time-of-day slot (E, L2)."""
    codes, inv = np.unique(panel.slot, return_inverse=True)
    e = len(resid)
    slot_est = inv[np.clip(est_pos, 0, panel.n_bars - 1)]
    ok = np.isfinite(resid)
    sums = np.zeros((e, len(codes)))
    counts = np.zeros((e, len(codes)))
    rows = np.broadcast_to(np.arange(e)[:, None], resid.shape)
    np.add.at(sums, (rows[ok], slot_est[ok]), resid[ok] ** 2)
    np.add.at(counts, (rows[ok], slot_est[ok]), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(counts >= 3, sums / counts, np.nan)
    slot_evt = inv[np.clip(evt_pos, 0, panel.n_bars - 1)]
    return np.take_along_axis(var, slot_evt, axis=1)


def _t_row(name: str, x: FloatArray) -> dict[str, Any]:
    x = x[np.isfinite(x)]
    nn = len(x)
    mean = float(x.mean()) if nn else math.nan
    sd = float(x.std(ddof=1)) if nn > 1 else math.nan
    t = mean / (sd / math.sqrt(nn)) if nn > 1 and sd > 0 else math.nan
    p = float(2 * stats.t.sf(abs(t), nn - 1)) if np.isfinite(t) else math.nan
    return {"window": name, "n": nn, "caar": mean, "sd": sd, "t": t, "p": p}


@dataclass(frozen=True)
class IntradayResult:
    """The result of an intraday event study (frozen).

    Attributes
    ----------
    settings : IntradaySettings
        What was asked.
    events : pandas.DataFrame
        One row per event studied: news time and event bar (exchange time), estimation
        bars, coefficients, AR and t of bar 0, CARs, the CAR from bar 0 to the close
        and over the event session, the overnight returns crossed by the window.
    aar : pandas.DataFrame
        ``rel_bar, n, aar, caar`` and every test of the battery.
    aggregate : pandas.DataFrame
        CAAR of each CAR window with the battery's tests.
    session : pandas.DataFrame
        ``window, n, caar, sd, t, p`` for the event session, bar 0 to the close
        and the overnight AR (cross-sectional t).
    failures : pandas.DataFrame
        Events left out and why.
    abnormal_returns : pandas.DataFrame
        Long table: one row per event and relative bar (``bar_start``: the bar's
        stamp on the grid; ``traded_from``/``traded_to``: the part of the bar inside
        the session, e.g. 09:30-10:00 for Lean's 09:00 bar; ``price`` is the close
        struck at ``traded_to``).
    tests : CrossEventTests
        The battery's results.
    rel_bars : numpy.ndarray
        Relative bars of the window.
    ar, ar_var : numpy.ndarray
        ``(N, L2)`` abnormal returns and their variances.
    model : str
        Model name.
    suspect_bars : int
        Bar returns set missing as suspect (split-like jumps).
    tz : str
        The exchange's zone (times in the tables are in it).
    volume : pandas.DataFrame
        Abnormal log bar volume by relative bar: ``rel_bar, n, mean, median, sd, t, p``.
    inputs : TestInputs
        The arrays the battery ran on (events kept).
    time_of_day_ref : numpy.ndarray
        ``(N, D, L2)`` estimation residuals at each event bar's time-of-day slot
        (the reference of the time-of-day rank test).
    rinaudo_saha : tuple of TestResult
        The time-of-day rank test (after Saha & Rinaudo 2014) of the bars and CAR windows.
    """

    settings: IntradaySettings
    events: pd.DataFrame
    aar: pd.DataFrame
    aggregate: pd.DataFrame
    session: pd.DataFrame
    failures: pd.DataFrame
    abnormal_returns: pd.DataFrame
    tests: CrossEventTests = field(repr=False)
    rel_bars: IntArray = field(repr=False)
    ar: FloatArray = field(repr=False)
    ar_var: FloatArray = field(repr=False)
    model: str = "market-model"
    suspect_bars: int = 0
    tz: str = "America/New_York"
    volume: pd.DataFrame = field(default_factory=pd.DataFrame)
    inputs: TestInputs | None = field(default=None, repr=False)
    time_of_day_ref: FloatArray | None = field(default=None, repr=False)
    rinaudo_saha: tuple[TestResult, TestResult] | None = field(default=None, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """The AAR table (one row per relative bar)."""
        return self.aar.copy()

    def summary(self) -> str:
        """A plain-text summary: settings, AAR by bar, CAAR windows, the event session."""
        s = self.settings
        lines = [f"Intraday event study: {len(self.events)} events "
                 f"({len(self.failures)} left out), {s.interval_text} bars, "
                 f"window {format_window(s.window)}, {self.model} on the previous "
                 f"{s.estimation_sessions} sessions' regular bars"
                 + (", time-of-day variance" if s.standardise else "")
                 + (", extended hours" if s.extended else "")]
        vol = (self.volume.set_index("rel_bar")["mean"] if len(self.volume)
               else pd.Series(dtype=float))
        lines.append(f"{'bar':>5} {'n':>5} {'AAR %':>9} {'CAAR %':>9} {'t':>8} {'p':>7} "
                     f"{'BMP t':>8} {'RS z':>7} {'RS p':>7} {'abn.vol':>8}")
        for d in self.aar.to_dict("records"):
            lines.append(f"{d['rel_bar']:>+5d} {d['n']:>5d} {100 * d['aar']:>9.4f} "
                         f"{100 * d['caar']:>9.4f} {d['t']:>8.3f} {d['p']:>7.4f} "
                         f"{d.get('bmp', math.nan):>8.3f} {d.get('rs', math.nan):>7.3f} "
                         f"{d.get('rs_p', math.nan):>7.4f} "
                         f"{float(vol.get(d['rel_bar'], math.nan)):>8.3f}")
        lines.append(f"{'window':>14} {'n':>5} {'CAAR %':>9} {'t':>8} {'p':>7} {'RS z':>7} "
                     f"{'RS p':>7}")
        for d in self.aggregate.to_dict("records"):
            lines.append(f"{d['window']:>14} {d['n']:>5d} {100 * d['caar']:>9.4f} "
                         f"{d['t']:>8.3f} {d['p']:>7.4f} {d.get('rs', math.nan):>7.3f} "
                         f"{d.get('rs_p', math.nan):>7.4f}")
        for d in self.session.to_dict("records"):
            lines.append(f"{d['window']:>14} {d['n']:>5d} {100 * d['caar']:>9.4f} "
                         f"{d['t']:>8.3f} {d['p']:>7.4f}")
        lines.append("RS: rank among the same time of day of the estimation "
                     "sessions; abn.vol: mean ln(1+volume) minus its same-time "
                     f"{self.settings.volume_stat}")
        if self.suspect_bars:
            lines.append(f"{self.suspect_bars} suspect bar return(s) (split-like jumps) "
                         "left out")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def plot(self, kind: str = "caar", event_id: str | None = None) -> Any:
        """A figure: ``caar`` (CAAR by bar with its band) or ``event`` (one event's bars).

        Parameters
        ----------
        kind : {'caar', 'event'}
            Which figure.
        event_id : str, optional
            The event of ``kind='event'`` (default: the first).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from marketreact.render.intraday_figures import caar_by_bar_figure, event_bars_figure

        if kind == "event":
            eid = event_id if event_id is not None else str(self.events["event_id"].iloc[0])
            return event_bars_figure(self.abnormal_returns, eid)
        return caar_by_bar_figure(self.abnormal_returns, interval=self.settings.interval_text,
                                  title=f"CAAR by {self.settings.interval_text} bar "
                                  f"({len(self.events)} events)")
