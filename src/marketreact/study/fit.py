"""The event study: events and prices in, abnormal returns and tests out.

``EventStudy(...).fit(events, prices)`` anchors every event to its day-0
session, lines up returns on each exchange's sessions, fits the normal-return
model for all events at once and returns an immutable :class:`StudyResult`.
Events that cannot be studied are kept in ``result.failures`` with the reason;
they never stop the others.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from marketreact._lazy import Thunk, deferred
from marketreact._typing import FloatArray, IntArray, Window
from marketreact.calendar import (
    DEFAULT_MARKET,
    SessionSource,
    TradingSessions,
    anchor_day0,
    exchange_sessions,
    market_sessions,
)
from marketreact.errors import InputError, InputProblem
from marketreact.events.catalogue import EventCatalogue, events_from_frame
from marketreact.inference.battery import (
    Alternative,
    CrossEventTests,
    TestInputs,
    aar_table,
    aggregate_table,
    cross_event_tests,
    format_tests,
)
from marketreact.models.estimate import estimate, missing_price_reasons
from marketreact.models.linear import BlockBuilder, EventBlock, block_from_fit
from marketreact.models.moments import (
    RESIDUAL_CHUNK,
    MomentSource,
    ReturnsView,
    moment_path_supported,
)
from marketreact.models.spec import (
    ChunkPlan,
    Method,
    MissingPolicy,
    ModelName,
    ModelSpec,
    check_method,
    model_spec,
)
from marketreact.panel.factors import FactorPanel, align_factors
from marketreact.panel.measures import Measure, measure_panel, volatility_arrays
from marketreact.panel.returns import ExchangePanel, ReturnKind
from marketreact.panel.table import PriceTable
from marketreact.prices import PriceSource, fetch_for_events
from marketreact.prices.checks import (
    JUMP_FACTOR,
    SuspectPolicy,
    find_suspects,
    suspect_reasons,
)
from marketreact.prices.frames import PriceFetch, PriceSuspect
from marketreact.progress import track
from marketreact.study.engine import Engine, make_engine, study_events
from marketreact.windows import (
    CHUNK_EVENTS,
    _window_prices,
    format_window,
    gather,
)

log = logging.getLogger(__name__)

DEFAULT_CAR_WINDOWS: tuple[Window, ...] = ((-1, 1), (0, 0), (0, 1), (-5, 5))
#: Residual variances below this (a standard deviation of 1e-8) mean a price that never moved.
MIN_RESIDUAL_VARIANCE = 1e-16


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
        ``(E, L1)`` estimation-window residuals (NaN where not used). With the
        moment engine (constant mean, market-adjusted, market model) they are
        computed on first access.
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


deferred(StudyArrays, "est_residuals")


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
        the stock and its market index on each session, NaN where none); built
        on first access (it has ``E x L2`` rows).
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
        from marketreact.output.report import result_html

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
        from marketreact.render.figures import plot_result

        return plot_result(self, kind, **kwargs)


deferred(StudyResult, "abnormal_returns")


class EventStudy:
    """An event study of abnormal returns around news.

    Parameters
    ----------
    settings : StudySettings, optional
        All settings; keyword arguments override its fields.
    engine : {"local", "dask"} or Engine, default "local"
        Where the per-event computation runs: in this process, or mapped over a
        Dask cluster (:class:`~marketreact.engine.DaskEngine`; results are the
        same to rounding).
    scheduler : str or distributed.Client, optional
        For ``engine="dask"``: the scheduler address or a client; without one
        a local cluster is started for the fit and stopped after it.
    **overrides
        Any :class:`StudySettings` field, e.g. ``model=ModelName.market_adjusted``.

    Examples
    --------
    >>> study = EventStudy(window=(-5, 5), car_windows=((-1, 1),))  # doctest: +SKIP
    >>> result = study.fit(read_events("events.csv"), CsvSource("prices/"))  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP
    """

    def __init__(self, settings: StudySettings | None = None, *,
                 engine: str | Engine = "local", scheduler: Any = None,
                 **overrides: Any) -> None:
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
        self.engine = engine
        self.scheduler = scheduler

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
        frame = catalogue.frame.copy(deep=False)  # copy-on-write keeps the catalogue intact
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
        diagnostics: list[str] = list(catalogue.notes)  # e.g. a column renamed user_beta
        codes, exchanges = pd.factorize(frame["exchange"])
        default_market = pd.Series(
            np.asarray([DEFAULT_MARKET.get(str(x), "") for x in exchanges], dtype=object)[codes]
            if len(codes) else np.empty(0, dtype=object), index=frame.index, dtype="str")
        given = frame["market"].where(frame["market"] != "", s.market or "")
        frame["market"] = given.where(given != "", default_market)
        no_market = spec.uses_market & (frame["market"] == "")
        for row in frame.loc[no_market].itertuples():
            failures.append({"event_id": str(row.event_id), "ticker": str(row.ticker),
                             "reason": f"no default market index for exchange {row.exchange}; "
                                       "give a 'market' column or --market"})
        frame = frame.loc[~no_market]
        fetched = self._fetch(frame, prices)
        # every frame cleaned at once (the rules of clean_prices; see prices/table.py)
        frames = PriceTable(fetched.frames)
        fetch_failures, suspects = dict(fetched.failures), dict(fetched.suspects)
        empty = set(frames.empty)
        for ticker in empty:  # nothing usable in the span: a failure, not a crash
            fetch_failures[ticker] = f"no usable prices for {ticker} in the span needed"
        for ticker in frames.tickers:
            if ticker not in empty:
                diagnostics.extend(str(n) for n in (*fetched.notes.get(ticker, ()),
                                                    *frames.notes.get(ticker, ())))
        jumpy = set(frames.jumpy(JUMP_FACTOR))  # only these can hold suspect prices
        for ticker in frames:
            if ticker not in suspects:
                suspects[ticker] = (find_suspects(frames[ticker], f"prices of {ticker}")
                                    if ticker in jumpy else ())
        engine, owned = make_engine(self.engine, self.scheduler)
        parts = []
        try:
            for exchange, group in track(frame.groupby("exchange", sort=True),
                                         "Studying events", total=len(frame),
                                         size=lambda item: len(item[1])):
                part = self._study_exchange(str(exchange), group, frames, fetch_failures, spec,
                                            failures, diagnostics, factors, suspects=suspects,
                                            engine=engine)
                if part is not None:
                    parts.append(part)
        finally:
            if owned:
                engine.close()
        return self._assemble(parts, failures, diagnostics, catalogue)

    def _fetch(self, frame: pd.DataFrame,
               prices: PriceSource | Mapping[str, pd.DataFrame]) -> PriceFetch:
        return fetch_for_events(frame, prices, self.settings.estimation[0],
                                self.settings.window[1])

    def _sessions_for(self, exchange: str, group: pd.DataFrame,
                      frames: PriceTable) -> TradingSessions | None:
        rows = frames.rows(_unique_tickers(group))
        span = frames.date_range(rows[rows >= 0])
        if span is None:
            return None
        start, end = span
        candidates = [DEFAULT_MARKET.get(exchange, ""), *group["market"].value_counts().index]
        reference = next((m for m in candidates if m in frames), None)
        index_dates = frames.index_of(reference) if reference else None
        if self.settings.sessions is SessionSource.market:
            if reference is None or index_dates is None:
                raise InputError(f"{exchange}: sessions are taken from the market index file, "
                                 "but no market index prices are available")
            return market_sessions(exchange, index_dates, reference)
        return exchange_sessions(exchange, start, end, index_dates, reference)

    def _study_exchange(self, exchange: str, group: pd.DataFrame,
                        frames: PriceTable, fetch_failures: Mapping[str, str],
                        spec: ModelSpec, failures: list[dict[str, str]],
                        diagnostics: list[str],
                        factors: pd.DataFrame | None = None,
                        suspects: Mapping[str, Sequence[PriceSuspect]] | None = None,
                        engine: Engine | None = None,
                        ) -> dict[str, Any] | None:
        s = self.settings

        def fail(rows: pd.DataFrame, reason: str | Sequence[str]) -> None:
            reasons = [reason] * len(rows) if isinstance(reason, str) else list(reason)
            failures.extend({"event_id": eid, "ticker": tic, "reason": why} for eid, tic, why in
                            zip(rows["event_id"], rows["ticker"], reasons, strict=True))

        missing_px = frames.rows(group["ticker"]) < 0
        fail(group.loc[missing_px], [f"prices: {fetch_failures.get(t, 'not available')}"
                                     for t in group.loc[missing_px, "ticker"]])
        group = group.loc[~missing_px]
        if spec.uses_market:
            missing_mkt = frames.rows(group["market"]) < 0
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
        tickers = [t for t in _unique_tickers(group) if t]
        panel = frames.panel(sessions, tickers, s.returns)
        panel = measure_panel(panel, s.measure)
        day0 = anchor_day0(sessions, group["timestamp"], group["date"], group["timing"])
        stock_rows = _rows_of(panel.tickers, group["ticker"])
        market_rows = _rows_of(panel.tickers, group["market"])
        n_sessions = len(sessions)
        first, last = panel.priced_range()
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
        if bad.any():
            fail(group.loc[bad], list(reasons[bad]))
            group, day0 = group.loc[~bad], day0[~bad]
            stock_rows, market_rows = stock_rows[~bad], market_rows[~bad]
        if group.empty:
            return None
        fpanel = (align_factors(factors, sessions, spec.factors)
                  if spec.factors and factors is not None else None)
        plan = ChunkPlan(spec, s.estimation, s.window, s.car_windows,
                         s.returns is ReturnKind.log)
        # the moment path (window sums) serves the vectorised OLS of the one-regressor models;
        # everything else (other estimators, factors, regressions, the 'fail' missing policy)
        # takes the general path through gather and estimate
        moment = (moment_path_supported(spec) and s.method is Method.vectorised
                  and s.missing is MissingPolicy.drop and fpanel is None)
        general = functools.partial(_general_chunk, settings=s, fpanel=fpanel,
                                    labels=sessions.labels)
        builder = BlockBuilder(len(group))
        keep = np.ones(len(group), dtype=bool)
        fail_reasons = np.full(len(group), "", dtype=object)
        chunks = study_events(panel, stock_rows, market_rows, day0, plan,
                              engine or make_engine("local")[0], general, CHUNK_EVENTS,
                              moment=moment)
        for where, chunk in track(chunks, f"{exchange}: fitting models",
                                  total=-(-len(group) // CHUNK_EVENTS)):
            short = chunk.n < s.min_estimation
            unfit = ~short & ~np.isfinite(chunk.sigma2)
            pos = np.arange(len(group))[where]
            for i in np.flatnonzero(short):
                fail_reasons[pos[i]] = (f"only {chunk.n[i]} estimation returns in "
                                        f"{format_window(s.estimation)} "
                                        f"(need {s.min_estimation})")
                if factors is not None and spec.factors and len(factors):
                    fail_reasons[pos[i]] += (f"; the factor data cover "
                                             f"{factors.index.min().date()}"
                                             f" .. {factors.index.max().date()}")
            for i in np.flatnonzero(unfit):
                why = chunk.fit_problem[i] if chunk.fit_problem is not None else ""
                fail_reasons[pos[i]] = (why or "the model could not be fitted "
                                        "(singular design: constant market?)")
            frozen = ~short & ~unfit & (chunk.sigma2 < MIN_RESIDUAL_VARIANCE)
            fail_reasons[pos[frozen]] = ("zero residual variance over the estimation window "
                                         "(the price did not move): no test is possible")
            if chunk.missing_problem is not None:
                take = (fail_reasons[pos] == "") & (chunk.missing_problem != "")
                fail_reasons[pos[take]] = chunk.missing_problem[take]
            keep[pos] = fail_reasons[pos] == ""
            builder.add(chunk, where)
        block = builder.finish(keep)
        if not keep.all():
            fail(group.loc[~keep], list(fail_reasons[~keep]))
            if not keep.any():
                return None
            group, day0 = group.loc[keep], day0[keep]
            stock_rows, market_rows = stock_rows[keep], market_rows[keep]
        source = None
        if block.y is None:  # moment path: window values and residuals are recomputed
            view = ReturnsView.of(panel, market_rows if spec.uses_market else stock_rows[:0])
            source = MomentSource(view, stock_rows, market_rows, day0, block.coef,
                                  block.sigma2, plan)
        return {
            "group": group, "panel": panel, "day0": day0, "stock_rows": stock_rows,
            "market_rows": market_rows, "block": block, "source": source,
        }

    def _assemble(self, parts: list[dict[str, Any]], failures: list[dict[str, str]],
                  diagnostics: list[str], catalogue: EventCatalogue) -> StudyResult:
        s = self.settings
        spec = s.spec
        evt_days = np.arange(s.window[0], s.window[1] + 1)
        L1 = s.estimation[1] - s.estimation[0] + 1
        event_rows = []
        for part in parts:
            group, panel = part["group"], part["panel"]
            pb: EventBlock = part["block"]
            labels = panel.sessions.labels
            day0 = part["day0"]
            info = pd.DataFrame({
                "event_id": group["event_id"].array,
                "ticker": group["ticker"].array,
                "exchange": group["exchange"].array,
                "market": group["market"].array,
                "timestamp": group["timestamp"].array,
                "date": group["date"].array,
                "timing": group["timing"].array,
                "day0": labels[day0],
                "model": spec.name,
                "n_estimation": pb.n,
                "estimation_start": labels[np.maximum(day0 + s.estimation[0], 0)],
                "estimation_end": labels[day0 + s.estimation[1]],
            })
            for j, name in enumerate(spec.regressors):
                info[{"const": "alpha", "market": "beta"}.get(name, f"b_{name}")] = pb.coef[:, j]
            info["sigma"] = np.sqrt(pb.sigma2)
            info["df"] = pb.df
            info["missing_event_days"] = pb.missing_days
            info["spanning_returns"] = pb.spanning
            for col in catalogue.attributes + tuple(c for c in ("headline", "sentiment")
                                                    if c in group):
                if col not in info.columns:  # a computed column always wins over an attribute
                    info[col] = group[col].array
                else:
                    diagnostics.append(f"attribute {col!r} left out: a computed column has "
                                       "that name")
            event_rows.append(info)
        # Put every event in catalogue order (parts are exchanges; each is in order already).
        position = (np.concatenate([p["group"].index.to_numpy() for p in parts])
                    if parts else np.empty(0, dtype=np.int64))
        perm = np.argsort(position, kind="stable")
        ordered = bool(np.all(perm == np.arange(len(perm))))
        block: EventBlock | None = None
        if parts:
            block = EventBlock.concat([p["block"] for p in parts])
            if not ordered:
                block = block.take(perm)
        dest = np.empty(len(perm), dtype=np.int64)
        dest[perm] = np.arange(len(perm))
        starts = np.cumsum([0] + [len(p["group"]) for p in parts])
        day0_all = (np.concatenate([p["panel"].sessions.labels[p["day0"]].to_numpy()
                                    for p in parts]) if parts
                    else np.empty(0, dtype="datetime64[ns]"))
        W = len(s.car_windows)
        if block is not None:
            places = [dest[a:b] for a, b in itertools.pairwise(starts)]
            residuals: Any = _StackedRows(
                [(p["block"].residuals if p["source"] is None else p["source"], rows)
                 for p, rows in zip(parts, places, strict=True)], len(perm), L1)
            if all(p["source"] is None for p in parts):
                residuals = residuals()  # the general path computed them already
            arrays = StudyArrays(
                rel_days=evt_days, ar=block.ar, ar_var=block.ar_var, est_residuals=residuals,
                sigma2=block.sigma2, df=block.df, day0=day0_all[perm],
                car_windows=tuple(s.car_windows), car=block.car, car_var=block.car_var)
            events = pd.concat(event_rows, ignore_index=True) if len(event_rows) > 1 \
                else event_rows[0]
            if not ordered:
                events = events.take(perm).reset_index(drop=True)
            abnormal: Any = _ARTable(events["event_id"], evt_days, block.ar, block.ar_var, [
                _ARPart(p["panel"], p["day0"], p["stock_rows"], p["market_rows"], p["source"],
                        None if p["source"] is not None else (
                            p["block"].y, p["block"].market, p["block"].expected,
                            p["block"].span), rows)
                for p, rows in zip(parts, places, strict=True)])
            car = self._car_table(events["event_id"], block)
        else:
            arrays = StudyArrays(evt_days, np.empty((0, len(evt_days))),
                                 np.empty((0, len(evt_days))), np.empty((0, L1)), np.empty(0),
                                 np.empty(0, dtype=np.int64), np.empty(0, dtype="datetime64[ns]"),
                                 tuple(s.car_windows), np.empty((0, W)), np.empty((0, W)))
            events = pd.DataFrame(columns=["event_id", "ticker", "exchange", "market", "day0"])
            abnormal = pd.DataFrame(columns=list(_AR_COLUMNS))
            car = pd.DataFrame(columns=["event_id", "window", "car", "car_se", "car_t", "car_p",
                                        "df", "bhar", "sessions", "missing"])
        if s.measure is Measure.volume:
            car["bhar"] = np.nan
        if s.measure is Measure.volatility:
            arrays = volatility_arrays(arrays)
            if len(car):
                if isinstance(abnormal, _ARTable):
                    abnormal.extra["av"] = arrays.ar
                car["cav"] = np.asarray(arrays.car).T.ravel()
        aar, aggregate, tests = self._test_tables(arrays, car)
        fail_frame = pd.DataFrame(failures, columns=["event_id", "ticker", "reason"])
        if len(fail_frame):
            order = pd.Series(np.arange(len(catalogue.frame)),
                              index=catalogue.frame["event_id"].to_numpy())
            rank = order.reindex(fail_frame["event_id"].to_numpy()).to_numpy()
            fail_frame = fail_frame.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)
        return StudyResult(s, events, abnormal, car, aar, aggregate, fail_frame, arrays,
                           tuple(dict.fromkeys(diagnostics)), tests)

    def _car_table(self, event_ids: pd.Series, block: EventBlock) -> pd.DataFrame:
        """CAR rows, window by window, events in catalogue order within each window."""
        s = self.settings
        e, n_win = block.car.shape
        se = np.sqrt(block.car_var)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = block.car / se
        df = np.broadcast_to(block.df[:, None], (e, n_win))
        p = np.full(t.shape, np.nan)
        finite = np.isfinite(t)
        p[finite] = 2 * stats.t.sf(np.abs(t[finite]), np.maximum(df[finite], 1))
        names = pd.Series([format_window(w) for w in s.car_windows], dtype="str")

        def by_window(a: np.ndarray) -> np.ndarray:
            return a.ravel(order="F")  # window by window, events in order within each

        return pd.DataFrame({  # fresh arrays: no need for pandas to copy them again
            "event_id": event_ids.take(np.tile(np.arange(e), n_win)).array,
            "window": names.take(np.repeat(np.arange(n_win), e)).array,
            "car": by_window(block.car), "car_se": by_window(se), "car_t": by_window(t),
            "car_p": by_window(p), "df": by_window(df), "bhar": by_window(block.bhar),
            "sessions": by_window(block.car_sessions), "missing": by_window(block.car_missing),
        }, copy=False)

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


def _rows_of(tickers: tuple[str, ...], values: pd.Series) -> IntArray:
    """Position of each value in ``tickers`` (-1 if absent); each distinct value looked up once."""
    codes, uniques = pd.factorize(values)
    rows = pd.Index(tickers).get_indexer(pd.Index(uniques)).astype(np.int64)
    return rows[codes] if len(codes) else np.empty(0, dtype=np.int64)


def _unique_tickers(frame: pd.DataFrame) -> list[str]:
    """Tickers then market indexes of ``frame``, each once, in order of first appearance."""
    both = pd.concat([frame["ticker"], frame["market"]], ignore_index=True)
    return [str(t) for t in both.unique()]


def _general_chunk(panel: ExchangePanel, stock_rows: IntArray, market_rows: IntArray,
                   day0: IntArray, plan: ChunkPlan, *, settings: StudySettings,
                   fpanel: FactorPanel | None, labels: pd.DatetimeIndex) -> EventBlock:
    """One chunk by the general path: gather both windows, estimate, ARs and CARs."""
    s, spec = settings, plan.spec
    est = gather(panel, stock_rows, market_rows, day0, plan.est_days, spec.estimation_columns,
                 excess=spec.excess, factors=fpanel, model=spec.name)
    evt = gather(panel, stock_rows, market_rows, day0, plan.evt_days, spec.regressors,
                 excess=spec.excess, factors=fpanel, model=spec.name)
    fit, ab, problems = estimate(est, evt, spec, s.method, s.hac_lags,
                                 gap=s.window[0] - s.estimation[1] - 1)
    missing = None
    if s.missing is MissingPolicy.fail:
        missing = missing_price_reasons(est, evt, fit, plan.est_days, plan.evt_days, day0,
                                        labels)
    return block_from_fit(evt, fit, ab, plan, problems.reason, missing)


_AR_COLUMNS = ("event_id", "rel_day", "date", "return", "market_return", "expected", "ar",
               "ar_se", "car", "span", "price", "market_price")


@dataclass(frozen=True)
class _ARPart:
    """What the long table needs from one exchange's events."""

    panel: ExchangePanel
    day0: IntArray
    stock_rows: IntArray
    market_rows: IntArray
    source: MomentSource | None
    values: tuple[Any, ...] | None  # y, market, expected, span (general path)
    rows: IntArray  # the events' rows in the result


class _ARTable(Thunk):
    """Builds the long abnormal-return table when it is first asked for."""

    def __init__(self, event_ids: pd.Series, rel_days: IntArray, ar: FloatArray,
                 ar_var: FloatArray, parts: list[_ARPart]) -> None:
        self.event_ids, self.rel_days, self.parts = event_ids, rel_days, parts
        self.ar, self.ar_var = ar, ar_var
        self.extra: dict[str, FloatArray] = {}  # more (E, L2) columns, e.g. volatility's av

    def __call__(self) -> pd.DataFrame:
        days = self.rel_days
        e, width = self.ar.shape
        when = np.empty((e, width), dtype="datetime64[ns]")
        y, market, expected, price, market_price = (np.empty((e, width)) for _ in range(5))
        span = np.empty((e, width), dtype=np.int64)
        for part in self.parts:
            labels, rows = part.panel.sessions.labels, part.rows
            for lo in range(0, len(rows), CHUNK_EVENTS):
                sl = slice(lo, lo + CHUNK_EVENTS)
                at = rows[sl]
                pos = part.day0[sl, None] + days[None, :]
                when[at] = labels.to_numpy()[np.clip(pos, 0, len(labels) - 1)]
                price[at], market_price[at] = _window_prices(
                    part.panel, part.stock_rows[sl], part.market_rows[sl], pos)
                if part.values is not None:
                    y[at], market[at], expected[at], span[at] = (v[sl] for v in part.values)
                else:
                    assert part.source is not None
                    y[at], market[at], expected[at], span[at] = part.source.window(sl)
        table = pd.DataFrame({
            "event_id": self.event_ids.take(np.repeat(np.arange(e), width)).array,
            "rel_day": np.tile(days, e),
            "date": when.ravel(),
            "return": y.ravel(),
            "market_return": market.ravel(),
            "expected": expected.ravel(),
            "ar": self.ar.ravel(),
            "ar_se": np.sqrt(self.ar_var).ravel(),
            "car": np.nancumsum(self.ar, axis=1).ravel(),
            "span": span.ravel(),
            "price": price.ravel(),
            "market_price": market_price.ravel(),
        })
        for name, values in self.extra.items():
            table[name] = np.asarray(values).ravel()
        return table


class _StackedRows(Thunk):
    """Rows from several sources (arrays or moment sources) placed at given rows.

    Also a :class:`marketreact.inference.RowBlocks`: the tests read the
    residuals a block of events at a time without building them all.
    """

    def __init__(self, sources: list[tuple[Any, IntArray]], n_rows: int, width: int) -> None:
        self.sources, self.n_rows, self.width = sources, n_rows, width

    @property
    def shape(self) -> tuple[int, int]:
        """``(events, estimation days)``."""
        return self.n_rows, self.width

    def rows(self, index: slice) -> FloatArray:
        """The rows ``index`` (a slice of the result's events) only."""
        a, b, _ = index.indices(self.n_rows)
        out = np.empty((max(b - a, 0), self.width))
        for source, rows in self.sources:  # rows: increasing positions of a part's events
            i0, i1 = np.searchsorted(rows, [a, b])
            if i1 <= i0:
                continue
            at = rows[i0:i1] - a
            out[at] = (source.residuals(slice(i0, i1)) if isinstance(source, MomentSource)
                       else source[i0:i1])
        return out

    def __call__(self) -> FloatArray:
        out = np.empty((self.n_rows, self.width))
        for source, rows in self.sources:
            if isinstance(source, MomentSource):
                contiguous = len(rows) and rows[-1] - rows[0] == len(rows) - 1
                for lo in range(0, len(rows), RESIDUAL_CHUNK):
                    sl = slice(lo, lo + RESIDUAL_CHUNK)
                    at = (slice(rows[0] + lo, rows[0] + min(lo + RESIDUAL_CHUNK, len(rows)))
                          if contiguous else rows[sl])
                    out[at] = source.residuals(sl)
            else:
                out[rows] = source
        return out
