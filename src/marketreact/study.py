"""The event study: events and prices in, abnormal returns and tests out.

``EventStudy(...).fit(events, prices)`` anchors every event to its day-0
session, lines up returns on each exchange's sessions, fits the normal-return
model for all events at once and returns an immutable :class:`StudyResult`.
Events that cannot be studied are kept in ``result.failures`` with the reason;
they never stop the others.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from marketreact._typing import FloatArray, IntArray, Window
from marketreact.calendar import (
    DEFAULT_MARKET,
    TradingSessions,
    anchor_day0,
    exchange_sessions,
    market_sessions,
)
from marketreact.errors import InputError, InputProblem
from marketreact.estimation import (
    Method,
    MissingPolicy,
    SessionSource,
    check_method,
    estimate,
    missing_price_reasons,
)
from marketreact.events import EventCatalogue, events_from_frame
from marketreact.factors import FactorPanel, align_factors
from marketreact.inference import (
    Alternative,
    CrossEventTests,
    TestInputs,
    aar_table,
    aggregate_table,
    cross_event_tests,
    format_tests,
)
from marketreact.measures import Measure, measure_panel, volatility_arrays
from marketreact.models import (
    FACTOR_NAMES,
    AbnormalReturns,
    LinearFit,
    ModelName,
    ModelSpec,
    WindowData,
    cumulate,
    model_spec,
    parse_shift,
)
from marketreact.panel import ExchangePanel, ReturnKind, build_panel
from marketreact.prices import PriceSource, clean_prices
from marketreact.prices.checks import SuspectPolicy, find_suspects, suspect_reasons
from marketreact.prices.frames import PriceFetch, PriceSuspect
from marketreact.progress import track

log = logging.getLogger(__name__)

DEFAULT_CAR_WINDOWS: tuple[Window, ...] = ((-1, 1), (0, 0), (0, 1), (-5, 5))
CHUNK_EVENTS = 20_000


def format_window(window: Window) -> str:
    """Write a window as ``[a,b]`` with signs, e.g. ``[-1,+1]``."""
    a, b = window
    return f"[{a:+d},{b:+d}]".replace("+0", "0")


def parse_window(text: str, field: str = "window") -> Window:
    """Parse ``A:B`` or ``[A,B]`` into a window of relative days.

    ``field`` names the setting in the error raised for text that is not a window.
    """
    cleaned = text.strip().strip("[]()")
    for sep in (":", ","):
        if sep in cleaned:
            a, b = cleaned.split(sep, 1)
            try:
                return int(a), int(b)
            except ValueError:
                break
    raise InputError([InputProblem("settings", None, field, text,
                                   "is not of the form A:B (e.g. -1:1)")])


@dataclass(frozen=True)
class StudySettings:
    """Settings of an event study.

    Attributes
    ----------
    model : ModelName
        Normal-return model.
    estimation : tuple of int
        Estimation window in sessions relative to day 0 (inclusive).
    window : tuple of int
        Event window (inclusive).
    car_windows : tuple of tuple of int
        Windows over which CAR and BHAR are reported.
    min_estimation : int
        Fewest estimation returns an event may have.
    market : str, optional
        Market index for every event without its own ``market`` (default: the
        exchange's main index).
    returns : ReturnKind
        Simple or log returns.
    lags, leads : int
        Lagged and leading market returns of the Dimson model (default 1, 1).
    missing : MissingPolicy
        What a session without a price inside the windows does: ``drop``
        (default) leaves that session out, ``fail`` fails the event with the
        reason (see :mod:`marketreact.estimation`).
    method : Method
        ``vectorised`` (batched OLS for all events) or ``regression`` (the
        per-event dummy-variable regression with statsmodels).
    hac_lags : int, optional
        With ``method=regression``: Newey-West (HAC) covariance with this many lags.
    sessions : SessionSource
        ``calendar`` (exchange_calendars sessions on which the index traded) or
        ``market`` (the dates of the market index file, e.g. EventStudyTools data).
    measure : Measure
        What is studied: abnormal returns, log volume or volatility
        (see :mod:`marketreact.measures`).
    alternative : Alternative
        Alternative hypothesis of the cross-event tests' p-values.
    n_boot : int
        Bootstrap resamples of events for the bootstrap test (0: off).
    seed : int
        Seed of the bootstrap.
    suspect_prices : SuspectPolicy
        ``fail`` (default): an event whose estimation or event window holds a
        suspect price (a bad print, an unadjusted split; see
        :mod:`marketreact.prices.checks`) fails with the reason; ``keep``:
        it is studied on the prices as given and a note names the price.
    """

    model: ModelName = ModelName.market_model
    estimation: Window = (-250, -11)
    window: Window = (-10, 10)
    car_windows: tuple[Window, ...] = DEFAULT_CAR_WINDOWS
    min_estimation: int = 120
    market: str | None = None
    returns: ReturnKind = ReturnKind.simple
    lags: int = 1
    leads: int = 1
    missing: MissingPolicy = MissingPolicy.drop
    method: Method = Method.vectorised
    hac_lags: int | None = None
    sessions: SessionSource = SessionSource.calendar
    measure: Measure = Measure.returns
    alternative: Alternative = Alternative.two_sided
    n_boot: int = 999
    seed: int = 0
    suspect_prices: SuspectPolicy = SuspectPolicy.fail

    def __post_init__(self) -> None:
        for name, enum in (("model", ModelName), ("missing", MissingPolicy), ("method", Method),
                           ("sessions", SessionSource), ("measure", Measure),
                           ("alternative", Alternative), ("suspect_prices", SuspectPolicy)):
            value = getattr(self, name)
            if not isinstance(value, enum):
                try:
                    object.__setattr__(self, name, enum(value))
                except ValueError:
                    raise InputError([InputProblem(
                        "settings", None, name, str(value),
                        f"unknown {name} {value!r}; choose from "
                        f"{', '.join(m.value for m in enum)}")]) from None
        problems: list[tuple[str, str, str]] = []  # (field, value, message)
        if self.n_boot < 0:
            problems.append(("n_boot", str(self.n_boot), "n_boot must be 0 or more"))
        (e0, e1), (w0, w1) = self.estimation, self.window
        est, win = format_window(self.estimation), format_window(self.window)
        if e0 > e1:
            problems.append(("estimation", est, f"estimation window {est} is inverted"))
        if w0 > w1:
            problems.append(("window", win, f"event window {win} is inverted"))
        if problems:  # the other checks make no sense for inverted windows
            raise InputError([InputProblem("settings", None, f, v, m) for f, v, m in problems])
        if e1 >= w0:
            problems.append(("estimation", est, f"estimation window {est} overlaps the "
                             f"event window {win}"))
        for cw in self.car_windows:
            if cw[0] > cw[1] or cw[0] < w0 or cw[1] > w1:
                problems.append(("car_windows", format_window(cw),
                                 f"CAR window {format_window(cw)} is not inside the event "
                                 f"window {win}"))
        if self.lags < 0 or self.leads < 0:
            problems.append(("lags" if self.lags < 0 else "leads",
                             str(min(self.lags, self.leads)),
                             "Dimson lags and leads must be non-negative"))
        k = model_spec(self.model, max(self.lags, 0), max(self.leads, 0)).n_estimated
        problems.extend(("method", self.method.value, m)
                        for m in check_method(self.model, self.method, self.hac_lags))
        if self.min_estimation < k + 2:
            problems.append(("min_estimation", str(self.min_estimation),
                             f"min_estimation must be at least {k + 2} for {self.model.value}"))
        if self.min_estimation > e1 - e0 + 1:
            problems.append(("min_estimation", str(self.min_estimation),
                             f"min_estimation {self.min_estimation} exceeds the estimation "
                             f"window's {e1 - e0 + 1} sessions"))
        if problems:
            raise InputError([InputProblem("settings", None, f, v, m) for f, v, m in problems])

    @property
    def spec(self) -> ModelSpec:
        """The model specification."""
        return model_spec(self.model, self.lags, self.leads)

    def to_dict(self) -> dict[str, Any]:
        """Settings as plain JSON-able values."""
        return {
            "model": self.model.value,
            "estimation": list(self.estimation),
            "window": list(self.window),
            "car_windows": [list(w) for w in self.car_windows],
            "min_estimation": self.min_estimation,
            "market": self.market,
            "returns": self.returns.value,
            "lags": self.lags,
            "leads": self.leads,
            "missing": self.missing.value,
            "method": self.method.value,
            "hac_lags": self.hac_lags,
            "sessions": self.sessions.value,
            "measure": Measure(self.measure).value,
            "alternative": Alternative(self.alternative).value,
            "n_boot": self.n_boot,
            "seed": self.seed,
            "suspect_prices": self.suspect_prices.value,
        }


@dataclass(frozen=True)
class StudyArrays:
    """Per-event arrays behind a result, for cross-event tests and plots.

    Rows follow ``StudyResult.events`` rows whose status is ``ok``.

    Attributes
    ----------
    rel_days : numpy.ndarray
        ``(L2,)`` relative days of the event window.
    ar, ar_var : numpy.ndarray
        ``(E, L2)`` abnormal returns and their variances.
    est_residuals : numpy.ndarray
        ``(E, L1)`` estimation-window residuals (NaN where not used).
    sigma2 : numpy.ndarray
        ``(E,)`` residual variances.
    df : numpy.ndarray
        ``(E,)`` residual degrees of freedom.
    day0 : numpy.ndarray
        ``(E,)`` day-0 session dates (``datetime64[ns]``).
    car_windows : tuple of tuple of int
        The CAR windows of ``car`` and ``car_var``.
    car, car_var : numpy.ndarray or None
        ``(E, W)`` CAR of each window and its variance (estimation error
        included); None when not computed.
    """

    rel_days: IntArray
    ar: FloatArray
    ar_var: FloatArray
    est_residuals: FloatArray
    sigma2: FloatArray
    df: IntArray
    day0: np.ndarray
    car_windows: tuple[Window, ...] = ()
    car: FloatArray | None = None
    car_var: FloatArray | None = None


@dataclass(frozen=True)
class StudyResult:
    """The immutable result of an event study.

    Attributes
    ----------
    settings : StudySettings
        What was asked.
    events : pandas.DataFrame
        One row per studied event: ticker, exchange, market, day 0, model
        parameters, residual sigma, estimation size.
    abnormal_returns : pandas.DataFrame
        Long table ``event_id, rel_day, date, return, market_return, expected,
        ar, ar_se, car, span, price, market_price`` (prices: adjusted closes of
        the stock and its market index on each session, NaN where none).
    car : pandas.DataFrame
        ``event_id, window, car, car_se, car_t, car_p, df, bhar, sessions, missing``.
    aar : pandas.DataFrame
        Per relative day: ``n, aar, caar``, then every cross-event test: ``t, p``
        (cross-sectional t) and ``X, X_p`` for each other test ``X`` in
        :data:`marketreact.inference.TEST_NAMES` (plus ``boot_lo, boot_hi``).
    aggregate : pandas.DataFrame
        Per CAR window: ``n, caar, mean_bhar`` and the same test columns.
    failures : pandas.DataFrame
        ``event_id, ticker, reason`` for events that could not be studied.
    arrays : StudyArrays
        Arrays behind the tables.
    diagnostics : tuple of str
        Notes on the data (dropped sessions, filler rows removed, ...).
    tests : CrossEventTests or None
        The test objects behind the test columns (distributions, reasons).
    """

    settings: StudySettings
    events: pd.DataFrame
    abnormal_returns: pd.DataFrame
    car: pd.DataFrame
    aar: pd.DataFrame
    aggregate: pd.DataFrame
    failures: pd.DataFrame
    arrays: StudyArrays
    diagnostics: tuple[str, ...] = field(default=())
    tests: CrossEventTests | None = None

    @property
    def n_events(self) -> int:
        """Number of events studied successfully."""
        return len(self.events)

    def to_frame(self) -> pd.DataFrame:
        """CARs of every event and window in one wide frame (event x window)."""
        return self.car.pivot(index="event_id", columns="window", values="car")

    def summary(self) -> str:
        """Summarise settings, CAAR per window with every test, and failures (statsmodels style)."""
        s = self.settings
        w = 78
        half = w // 2

        def pair(a: str, b: str, c: str, d: str) -> str:
            return f"{a + ':':<16}{b:<{half - 16}}{c + ':':<16}{d}"

        lines = [
            "Event study".center(w),
            "=" * w,
            pair("Model", s.model.value, "Measure", Measure(s.measure).value),
            pair("Estimation", format_window(s.estimation), "Event window",
                 format_window(s.window)),
            f"events studied: {self.n_events}   failed: {len(self.failures)}",
            pair("Returns", s.returns.value, "Alternative", Alternative(s.alternative).value),
            "=" * w,
            f"{'window':<10}{'N':>6}{'CAAR':>12}{'t':>10}{'p':>10}{'mean BHAR':>14}",
            "-" * w,
        ]
        for row in self.aggregate.itertuples(index=False):
            lines.append(f"{row.window:<10}{row.n:>6d}{row.caar:>12.5f}{row.t:>10.3f}"
                         f"{row.p:>10.4f}{row.mean_bhar:>14.5f}")
        if self.tests is not None and len(self.aggregate):
            lines.append(format_tests(self.tests, list(self.aggregate["window"]),
                                      self.aggregate["caar"].to_numpy(), width=w))
        if len(self.failures):
            lines.append("-" * w)
            lines.append("failed events:")
            for row in self.failures.itertuples(index=False):
                lines.append(f"  {row.event_id}: {row.reason}")
        lines.append("=" * w)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """HTML tables for Jupyter: settings, CAAR by window, events and failures."""
        from marketreact.report import result_html

        return result_html(self)

    def plot(self, kind: str = "caar", **kwargs: Any) -> Any:
        """Plot the result; returns a :class:`matplotlib.figure.Figure`.

        Parameters
        ----------
        kind : {"caar", "car", "price"}
            ``caar``: CAAR over the event window with its 95% band; ``car``:
            day-0 AR and CAR bars per event; ``price``: the stock and its market
            index around one event (give ``event_id=...``; default the first).
        **kwargs
            Passed to the plotting function in :mod:`marketreact.plots`.
        """
        from marketreact.plots import plot_result

        return plot_result(self, kind, **kwargs)


class EventStudy:
    """An event study of abnormal returns around news.

    Parameters
    ----------
    settings : StudySettings, optional
        All settings; keyword arguments override its fields.
    **overrides
        Any :class:`StudySettings` field, e.g. ``model=ModelName.market_adjusted``.

    Examples
    --------
    >>> study = EventStudy(window=(-5, 5), car_windows=((-1, 1),))  # doctest: +SKIP
    >>> result = study.fit(read_events("events.csv"), CsvSource("prices/"))  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP
    """

    def __init__(self, settings: StudySettings | None = None, **overrides: Any) -> None:
        base = settings or StudySettings()
        if "model" in overrides and isinstance(overrides["model"], str):
            overrides["model"] = ModelName(overrides["model"])
        if "returns" in overrides and isinstance(overrides["returns"], str):
            overrides["returns"] = ReturnKind(overrides["returns"])
        for key, enum in (("missing", MissingPolicy), ("method", Method),
                          ("sessions", SessionSource), ("measure", Measure),
                          ("alternative", Alternative)):
            if isinstance(overrides.get(key), str):
                overrides[key] = enum(overrides[key])
        self.settings = replace(base, **overrides) if overrides else base

    def fit(self, events: EventCatalogue | pd.DataFrame,
            prices: PriceSource | Mapping[str, pd.DataFrame],
            factors: pd.DataFrame | None = None) -> StudyResult:
        """Run the study.

        Parameters
        ----------
        events : EventCatalogue or pandas.DataFrame
            Validated events (a frame is validated strictly first).
        prices : PriceSource or mapping of str to pandas.DataFrame
            Where prices come from; a mapping gives standard frames by ticker.
        factors : pandas.DataFrame, optional
            Daily factor returns (decimal units, indexed by date) from
            :func:`marketreact.factors.read_factors`; required by the factor
            models (``ff3``, ``ff5``, ``carhart4``).

        Returns
        -------
        StudyResult
        """
        catalogue = events if isinstance(events, EventCatalogue) else events_from_frame(events)
        frame = catalogue.frame.copy()
        s = self.settings
        spec = s.spec
        if spec.factors:
            if factors is None:
                raise InputError(f"model {s.model.value} needs daily factors "
                                 f"({', '.join(spec.factors)}): give a factor file (--factors)")
            absent = [f for f in spec.factors if f not in factors.columns]
            if absent:
                raise InputError(f"model {s.model.value} needs factor(s) {', '.join(absent)}, "
                                 f"not in the factor data ({', '.join(factors.columns)})")
        failures: list[dict[str, str]] = []
        diagnostics: list[str] = []
        frame["market"] = frame["market"].where(frame["market"] != "", s.market or "")
        frame["market"] = [m or DEFAULT_MARKET.get(x, "") for m, x in
                           zip(frame["market"], frame["exchange"], strict=True)]
        no_market = spec.uses_market & (frame["market"] == "")
        for row in frame.loc[no_market].itertuples():
            failures.append({"event_id": str(row.event_id), "ticker": str(row.ticker),
                             "reason": f"no default market index for exchange {row.exchange}; "
                                       "give a 'market' column or --market"})
        frame = frame.loc[~no_market]
        fetched = self._fetch(frame, prices)
        frames, price_notes = {}, {}
        fetch_failures, suspects = dict(fetched.failures), dict(fetched.suspects)
        for ticker, raw in fetched.frames.items():
            cleaned, notes = clean_prices(raw, ticker)
            if cleaned.empty:  # nothing usable in the span: a failure, not a crash
                fetch_failures[ticker] = f"no usable prices for {ticker} in the span needed"
                continue
            frames[ticker] = cleaned
            price_notes[ticker] = notes
            diagnostics.extend(str(n) for n in (*fetched.notes.get(ticker, ()), *notes))
            if ticker not in suspects:
                suspects[ticker] = find_suspects(cleaned, f"prices of {ticker}")
        parts = []
        for exchange, group in track(frame.groupby("exchange", sort=True), "Studying events",
                                     total=len(frame), size=lambda item: len(item[1])):
            part = self._study_exchange(str(exchange), group, frames, fetch_failures, spec,
                                        failures, diagnostics, factors, suspects=suspects)
            if part is not None:
                parts.append(part)
        return self._assemble(parts, failures, diagnostics, catalogue)

    def _fetch(self, frame: pd.DataFrame,
               prices: PriceSource | Mapping[str, pd.DataFrame]) -> PriceFetch:
        tickers = list(dict.fromkeys([*frame["ticker"], *[m for m in frame["market"] if m]]))
        if isinstance(prices, Mapping):
            got = {t: prices[t] for t in tickers if t in prices}
            return PriceFetch(got, {t: f"no prices given for {t}" for t in tickers
                                    if t not in prices})
        if frame.empty:
            return PriceFetch({}, {})
        lo, hi = self.settings.estimation[0], self.settings.window[1]
        when = frame["timestamp"].dt.tz_convert(None).fillna(frame["date"])
        start = when.min() - pd.Timedelta(days=int(abs(lo) * 1.6) + 30)
        end = when.max() + pd.Timedelta(days=int(abs(hi) * 1.6) + 30)
        end = min(end, pd.Timestamp.today().normalize())
        return prices.fetch(tickers, start, end)

    def _sessions_for(self, exchange: str, group: pd.DataFrame,
                      frames: Mapping[str, pd.DataFrame]) -> TradingSessions | None:
        used = [t for t in [*group["ticker"], *group["market"]] if t in frames]
        if not used:
            return None
        start = min(frames[t].index.min() for t in used)
        end = max(frames[t].index.max() for t in used)
        candidates = [DEFAULT_MARKET.get(exchange, ""), *group["market"].value_counts().index]
        reference = next((m for m in candidates if m in frames and len(frames[m])), None)
        index_dates = pd.DatetimeIndex(frames[reference].index) if reference else None
        if self.settings.sessions is SessionSource.market:
            if reference is None or index_dates is None:
                raise InputError(f"{exchange}: sessions are taken from the market index file, "
                                 "but no market index prices are available")
            return market_sessions(exchange, index_dates, reference)
        return exchange_sessions(exchange, start, end, index_dates, reference)

    def _study_exchange(self, exchange: str, group: pd.DataFrame,
                        frames: Mapping[str, pd.DataFrame], fetch_failures: Mapping[str, str],
                        spec: ModelSpec, failures: list[dict[str, str]],
                        diagnostics: list[str],
                        factors: pd.DataFrame | None = None,
                        suspects: Mapping[str, Sequence[PriceSuspect]] | None = None,
                        ) -> dict[str, Any] | None:
        s = self.settings

        def fail(rows: pd.DataFrame, reason: str | Sequence[str]) -> None:
            reasons = [reason] * len(rows) if isinstance(reason, str) else list(reason)
            for (eid, tic), why in zip(zip(rows["event_id"], rows["ticker"], strict=True),
                                       reasons, strict=True):
                failures.append({"event_id": eid, "ticker": tic, "reason": why})

        missing_px = ~group["ticker"].isin(frames)
        fail(group.loc[missing_px], [f"prices: {fetch_failures.get(t, 'not available')}"
                                     for t in group.loc[missing_px, "ticker"]])
        group = group.loc[~missing_px]
        if spec.uses_market:
            missing_mkt = ~group["market"].isin(frames)
            fail(group.loc[missing_mkt],
                 [f"market {m}: {fetch_failures.get(m, 'not available')}"
                  for m in group.loc[missing_mkt, "market"]])
            group = group.loc[~missing_mkt]
        if group.empty:
            return None
        try:
            sessions = self._sessions_for(exchange, group, frames)
        except InputError as exc:  # e.g. prices outside the calendar's range
            fail(group, f"prices: {exc}")
            return None
        if sessions is None:
            return None
        if len(sessions.dropped):
            shown = ", ".join(str(d.date()) for d in sessions.dropped[:8])
            diagnostics.append(
                f"{exchange}: {len(sessions.dropped)} calendar session(s) dropped because "
                f"{sessions.reference} did not trade: {shown}"
                + (" ..." if len(sessions.dropped) > 8 else ""))
        tickers = list(dict.fromkeys([*group["ticker"], *[m for m in group["market"] if m]]))
        panel = build_panel(sessions, {t: frames[t] for t in tickers}, s.returns)
        panel = measure_panel(panel, s.measure)
        day0 = anchor_day0(sessions, group["timestamp"], group["date"], group["timing"])
        stock_rows = np.array([panel.row(t) for t in group["ticker"]], dtype=np.int64)
        market_rows = np.array([panel.row(m) if m else -1 for m in group["market"]],
                               dtype=np.int64)
        valid_px = np.isfinite(panel.prices)
        n_sessions = len(sessions)
        first = np.where(valid_px.any(axis=1), valid_px.argmax(axis=1), n_sessions)
        last = np.where(valid_px.any(axis=1),
                        n_sessions - 1 - valid_px[:, ::-1].argmax(axis=1), -1)
        w0, w1 = s.window
        reasons = np.full(len(group), "", dtype=object)
        beyond = day0 >= n_sessions
        reasons[beyond] = (f"day 0 falls after the last {exchange} session with prices "
                           f"({sessions.labels[-1].date()})") if n_sessions else "no sessions"
        safe0 = np.minimum(day0, max(n_sessions - 1, 0))
        for rows, what in ((stock_rows, "stock"), (market_rows, "market")):
            if what == "market" and not spec.uses_market:
                continue
            late = ~beyond & (safe0 + w1 > last[rows])
            early = ~beyond & (safe0 + w0 <= first[rows])
            for i in np.flatnonzero(late & (reasons == "")):
                reasons[i] = (f"event window {format_window(s.window)} runs past the last "
                              f"{what} price ({sessions.labels[last[rows[i]]].date()})")
            for i in np.flatnonzero(early & (reasons == "")):
                first_day = sessions.labels[min(first[rows[i]], n_sessions - 1)].date()
                reasons[i] = (f"event window {format_window(s.window)} starts before the first "
                              f"{what} return ({first_day})")
        spoiled = suspect_reasons(sessions.labels, np.minimum(day0, n_sessions), [
            group["ticker"].to_numpy(), group["market"].to_numpy() if spec.uses_market
            else np.full(len(group), "", dtype=object)], suspects or {}, s.estimation[0], w1)
        if s.suspect_prices is SuspectPolicy.keep:
            diagnostics.extend(f"kept (suspect_prices=keep): {why}"
                               for why in dict.fromkeys(spoiled[spoiled != ""]))
        else:
            reasons = np.where(reasons == "", spoiled, reasons)
        bad = reasons != ""
        fail(group.loc[bad], list(reasons[bad]))
        group, day0 = group.loc[~bad], day0[~bad]
        stock_rows, market_rows = stock_rows[~bad], market_rows[~bad]
        if group.empty:
            return None
        est_days = np.arange(s.estimation[0], s.estimation[1] + 1)
        evt_days = np.arange(w0, w1 + 1)
        fpanel = (align_factors(factors, sessions, spec.factors)
                  if spec.factors and factors is not None else None)
        chunks = []
        for lo in track(range(0, len(group), CHUNK_EVENTS), f"{exchange}: fitting models"):
            sl = slice(lo, lo + CHUNK_EVENTS)
            est = gather(panel, stock_rows[sl], market_rows[sl], day0[sl], est_days, spec,
                         spec.estimation_columns, fpanel)
            evt = gather(panel, stock_rows[sl], market_rows[sl], day0[sl], evt_days, spec,
                         None, fpanel)
            fit, ab, problems = estimate(est, evt, spec, s.method, s.hac_lags,
                                         gap=w0 - s.estimation[1] - 1)
            chunks.append((est, evt, fit, ab, problems))
        est, evt, fit, ab, problems = _concat_chunks(chunks)
        short = fit.n < s.min_estimation
        unfit = ~short & ~np.isfinite(fit.sigma2)
        fail_reasons = np.full(len(group), "", dtype=object)
        for i in np.flatnonzero(short):
            fail_reasons[i] = (f"only {fit.n[i]} estimation returns in "
                               f"{format_window(s.estimation)} (need {s.min_estimation})")
            if factors is not None and spec.factors and len(factors):
                fail_reasons[i] += (f"; the factor data cover {factors.index.min().date()}"
                                    f" .. {factors.index.max().date()}")
        for i in np.flatnonzero(unfit):
            fail_reasons[i] = (problems.reason[i] or
                               "the model could not be fitted (singular design: constant market?)")
        if s.missing is MissingPolicy.fail:
            gaps = missing_price_reasons(est, evt, fit, est_days, evt_days, day0,
                                         sessions.labels)
            take = (fail_reasons == "") & (gaps != "")
            fail_reasons[take] = gaps[take]
        bad = fail_reasons != ""
        fail(group.loc[bad], list(fail_reasons[bad]))
        keep = ~bad
        if not keep.any():
            return None
        return {
            "group": group.loc[keep], "panel": panel, "day0": day0[keep],
            "stock_rows": stock_rows[keep], "market_rows": market_rows[keep],
            "est": _take(est, keep), "evt": _take(evt, keep), "fit": _take(fit, keep),
            "ab": _take(ab, keep),
        }

    def _assemble(self, parts: list[dict[str, Any]], failures: list[dict[str, str]],
                  diagnostics: list[str], catalogue: EventCatalogue) -> StudyResult:
        s = self.settings
        spec = s.spec
        evt_days = np.arange(s.window[0], s.window[1] + 1)
        log_returns = s.returns is ReturnKind.log
        event_rows, ar_tables, car_tables = [], [], []
        ar_all, var_all, resid_all, sigma_all, df_all, day0_all = [], [], [], [], [], []
        car_all, car_var_all = [], []
        for part in parts:
            group, panel = part["group"], part["panel"]
            est: WindowData = part["est"]
            evt: WindowData = part["evt"]
            fit: LinearFit = part["fit"]
            ab: AbnormalReturns = part["ab"]
            labels = panel.sessions.labels
            day0 = part["day0"]
            n = len(group)
            info = pd.DataFrame({
                "event_id": group["event_id"].to_numpy(),
                "ticker": group["ticker"].to_numpy(),
                "exchange": group["exchange"].to_numpy(),
                "market": group["market"].to_numpy(),
                "timestamp": group["timestamp"].to_numpy(),
                "date": group["date"].to_numpy(),
                "timing": group["timing"].to_numpy(),
                "day0": labels[day0],
                "model": spec.name,
                "n_estimation": fit.n,
                "estimation_start": labels[np.maximum(day0 + s.estimation[0], 0)],
                "estimation_end": labels[day0 + s.estimation[1]],
            })
            for j, name in enumerate(spec.regressors):
                info[{"const": "alpha", "market": "beta"}.get(name, f"b_{name}")] = fit.coef[:, j]
            info["sigma"] = np.sqrt(fit.sigma2)
            info["df"] = fit.df
            info["missing_event_days"] = (~evt.valid).sum(axis=1)
            info["spanning_returns"] = ((evt.span > 1) & evt.valid).sum(axis=1)
            for col in catalogue.attributes + tuple(c for c in ("headline", "sentiment")
                                                    if c in group):
                info[col] = group[col].to_numpy()
            event_rows.append(info)
            pos = np.clip(day0[:, None] + evt_days[None, :], 0, len(labels) - 1)
            price, market_price = _window_prices(panel, part["stock_rows"], part["market_rows"],
                                                 day0[:, None] + evt_days[None, :])
            market_ret = (evt.X[..., spec.regressors.index("market")] if spec.uses_market
                          else np.full(ab.ar.shape, np.nan))
            ar_tables.append(pd.DataFrame({
                "event_id": np.repeat(group["event_id"].to_numpy(), len(evt_days)),
                "rel_day": np.tile(evt_days, n),
                "date": labels[pos.ravel()],
                "return": np.where(evt.valid, evt.y, np.nan).ravel(),
                "market_return": np.where(evt.valid, market_ret, np.nan).ravel(),
                "expected": ab.expected.ravel(),
                "ar": ab.ar.ravel(),
                "ar_se": np.sqrt(ab.variance).ravel(),
                "car": np.nancumsum(ab.ar, axis=1).ravel(),
                "span": np.where(evt.valid, evt.span, 0).ravel(),
                "price": price.ravel(),
                "market_price": market_price.ravel(),
            }))
            part_car, part_var = [], []
            for window in s.car_windows:
                cols = slice(window[0] - s.window[0], window[1] - s.window[0] + 1)
                cum = cumulate(evt, fit, ab, cols, log_returns)
                part_car.append(cum.car)
                part_var.append(cum.variance)
                se = np.sqrt(cum.variance)
                with np.errstate(invalid="ignore", divide="ignore"):
                    t = cum.car / se
                p = np.where(np.isfinite(t), 2 * stats.t.sf(np.abs(t), np.maximum(fit.df, 1)),
                             np.nan)
                car_tables.append(pd.DataFrame({
                    "event_id": group["event_id"].to_numpy(), "window": format_window(window),
                    "car": cum.car, "car_se": se, "car_t": t, "car_p": p, "df": fit.df,
                    "bhar": cum.bhar, "sessions": cum.sessions, "missing": cum.missing,
                }))
            car_all.append(np.stack(part_car, axis=1) if part_car else np.empty((n, 0)))
            car_var_all.append(np.stack(part_var, axis=1) if part_var else np.empty((n, 0)))
            ar_all.append(ab.ar)
            var_all.append(ab.variance)
            resid_all.append(fit.residuals)
            sigma_all.append(fit.sigma2)
            df_all.append(fit.df)
            day0_all.append(labels[day0].to_numpy())
            del est
        L1 = s.estimation[1] - s.estimation[0] + 1
        arrays = StudyArrays(
            rel_days=evt_days,
            ar=np.vstack(ar_all) if ar_all else np.empty((0, len(evt_days))),
            ar_var=np.vstack(var_all) if var_all else np.empty((0, len(evt_days))),
            est_residuals=np.vstack(resid_all) if resid_all else np.empty((0, L1)),
            sigma2=np.concatenate(sigma_all) if sigma_all else np.empty(0),
            df=np.concatenate(df_all) if df_all else np.empty(0, dtype=np.int64),
            day0=np.concatenate(day0_all) if day0_all else np.empty(0, dtype="datetime64[ns]"),
            car_windows=tuple(s.car_windows),
            car=(np.vstack(car_all) if car_all else np.empty((0, len(s.car_windows)))),
            car_var=(np.vstack(car_var_all) if car_var_all
                     else np.empty((0, len(s.car_windows)))),
        )
        events = pd.concat(event_rows, ignore_index=True) if event_rows else pd.DataFrame(
            columns=["event_id", "ticker", "exchange", "market", "day0"])
        abnormal = pd.concat(ar_tables, ignore_index=True) if ar_tables else pd.DataFrame(
            columns=["event_id", "rel_day", "date", "return", "market_return", "expected", "ar",
                     "ar_se", "car", "span", "price", "market_price"])
        car = pd.concat(car_tables, ignore_index=True) if car_tables else pd.DataFrame(
            columns=["event_id", "window", "car", "car_se", "car_t", "car_p", "df", "bhar",
                     "sessions", "missing"])
        order = {eid: i for i, eid in enumerate(catalogue.frame["event_id"])}
        if len(events):
            rank = events["event_id"].map(order).to_numpy()
            perm = np.argsort(rank, kind="stable")
            events = events.iloc[perm].reset_index(drop=True)
            arrays = replace(arrays, ar=arrays.ar[perm], ar_var=arrays.ar_var[perm],
                             est_residuals=arrays.est_residuals[perm],
                             sigma2=arrays.sigma2[perm], df=arrays.df[perm],
                             day0=arrays.day0[perm], car=_rows(arrays.car, perm),
                             car_var=_rows(arrays.car_var, perm))
            key = abnormal["event_id"].map(order) * len(evt_days) + (
                abnormal["rel_day"] - s.window[0])
            abnormal = abnormal.iloc[np.argsort(key.to_numpy(), kind="stable")]
            abnormal = abnormal.reset_index(drop=True)
            wins = {format_window(w): i for i, w in enumerate(s.car_windows)}
            ckey = car["window"].map(wins) * (len(order) + 1) + car["event_id"].map(order)
            car = car.iloc[np.argsort(ckey.to_numpy(), kind="stable")].reset_index(drop=True)
        if s.measure is Measure.volume:
            car["bhar"] = np.nan
        if s.measure is Measure.volatility:
            arrays = volatility_arrays(arrays)
            if len(abnormal):
                abnormal["av"] = arrays.ar.ravel()
                car["cav"] = np.asarray(arrays.car).T.ravel()
        aar, aggregate, tests = self._test_tables(arrays, car)
        fail_frame = pd.DataFrame(failures, columns=["event_id", "ticker", "reason"])
        if len(fail_frame):
            fail_frame = fail_frame.assign(_o=fail_frame["event_id"].map(order)).sort_values(
                "_o", kind="stable").drop(columns="_o").reset_index(drop=True)
        return StudyResult(s, events, abnormal, car, aar, aggregate, fail_frame, arrays,
                           tuple(dict.fromkeys(diagnostics)), tests)

    def _test_tables(self, arrays: StudyArrays, car: pd.DataFrame
                     ) -> tuple[pd.DataFrame, pd.DataFrame, CrossEventTests]:
        """Build the AAR and CAR-window tables with every cross-event test (inference.py)."""
        s = self.settings
        tests = cross_event_tests(TestInputs.from_study(arrays), s.alternative,
                                  n_boot=s.n_boot, seed=s.seed)
        labels = [format_window(w) for w in s.car_windows]
        bhar = car.groupby("window", sort=False)["bhar"].mean() if len(car) else pd.Series()
        mean_bhar = np.array([bhar.get(label, math.nan) for label in labels], dtype=float)
        aar = aar_table(arrays.rel_days, arrays.ar, tests)
        aggregate = aggregate_table(labels, np.asarray(arrays.car), tests, mean_bhar)
        return aar, aggregate, tests


def _rows(values: FloatArray | None, perm: np.ndarray) -> FloatArray | None:
    return None if values is None else values[perm]


def gather(panel: ExchangePanel, stock_rows: IntArray, market_rows: IntArray, day0: IntArray,
           rel_days: IntArray, spec: ModelSpec, columns: Sequence[str] | None = None,
           factors: FactorPanel | None = None) -> WindowData:
    """Gather returns and regressors of many events over relative days.

    Parameters
    ----------
    panel : ExchangePanel
        The exchange's return panel.
    stock_rows, market_rows : numpy.ndarray
        ``(E,)`` panel rows of each event's stock and market (-1: none).
    day0 : numpy.ndarray
        ``(E,)`` day-0 positions on the session axis.
    rel_days : numpy.ndarray
        ``(L,)`` relative days.
    spec : ModelSpec
        Model whose regressors to build.
    columns : sequence of str, optional
        Regressors to build (default ``spec.regressors``; the estimation
        window takes ``spec.estimation_columns``). ``market[-1]`` is the
        market return one session earlier, ``market[+1]`` one session later.
    factors : FactorPanel, optional
        Factor returns on the panel's sessions (factor models).

    Returns
    -------
    WindowData
        Positions off the session axis are missing. For excess-return models
        the offset is the risk-free rate over each return's span.
    """
    n_sessions = panel.returns.shape[1]
    pos = day0[:, None] + rel_days[None, :]
    inside = (pos >= 0) & (pos < n_sessions)
    posc = np.clip(pos, 0, n_sessions - 1)
    rows = stock_rows[:, None]
    y = np.where(inside, panel.returns[rows, posc], np.nan)
    span = np.where(inside, panel.span[rows, posc], 0)
    width = np.maximum(span, 1)
    out = []
    for name in (spec.regressors if columns is None else columns):
        base, shift = parse_shift(name)
        if base == "const":
            out.append(width.astype(float))
        elif base == "market":
            at = posc + shift
            ok = (at - width + 1 >= 0) & (at < n_sessions)
            at = np.clip(at, 0, n_sessions - 1)
            summed = panel.span_sum(np.maximum(market_rows, 0)[:, None], at,
                                    np.minimum(width, at + 1))
            out.append(np.where(ok, summed, np.nan))
        elif factors is not None and base in factors.names:
            out.append(factors.span_sum(base, posc + shift, width))
        else:
            raise InputError(f"unknown regressor {name!r}"
                             + (" (no factors given)" if base in FACTOR_NAMES else ""))
    X = np.stack(out, axis=-1)
    offset = np.zeros(y.shape)
    if spec.excess:
        if factors is None or "rf" not in factors.names:
            raise InputError(f"{spec.name} needs the risk-free rate 'rf' from a factor file")
        offset = factors.span_sum("rf", posc, width)
    valid = (inside & np.isfinite(y) & (span >= 1) & np.isfinite(X).all(axis=-1)
             & np.isfinite(offset))
    return WindowData(y, span, X, valid, np.where(np.isfinite(offset), offset, 0.0))


def _window_prices(panel: ExchangePanel, stock_rows: IntArray, market_rows: IntArray,
                   pos: IntArray) -> tuple[FloatArray, FloatArray]:
    """Adjusted prices of each event's stock and market at session positions ``pos`` (E, L)."""
    inside = (pos >= 0) & (pos < panel.prices.shape[1])
    posc = np.clip(pos, 0, max(panel.prices.shape[1] - 1, 0))
    price = np.where(inside, panel.prices[stock_rows[:, None], posc], np.nan)
    has_market = inside & (market_rows[:, None] >= 0)
    market = np.where(has_market, panel.prices[np.maximum(market_rows, 0)[:, None], posc], np.nan)
    return price, market


def _take(obj: Any, mask: np.ndarray) -> Any:
    kwargs = {name: None if getattr(obj, name) is None else getattr(obj, name)[mask]
              for name in obj.__dataclass_fields__}
    return type(obj)(**kwargs)


def _concat_chunks(chunks: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    if len(chunks) == 1:
        return chunks[0]
    out = []
    for items in zip(*chunks, strict=True):
        cls = type(items[0])
        out.append(cls(**{name: None if getattr(items[0], name) is None
                          else np.concatenate([getattr(i, name) for i in items])
                          for name in cls.__dataclass_fields__}))
    return tuple(out)
