"""The event study: events and prices in, abnormal returns and tests out.

``EventStudy(...).fit(events, prices)`` anchors every event to its day-0
session, lines up returns on each exchange's sessions, fits the normal-return
model for all events at once and returns an immutable :class:`StudyResult`.
Events that cannot be studied are kept in ``result.failures`` with the reason;
they never stop the others.
"""

from __future__ import annotations

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
from marketreact.calendar import DEFAULT_MARKET, TradingSessions, anchor_day0, exchange_sessions
from marketreact.engine import (
    RESIDUAL_CHUNK,
    BlockBuilder,
    ChunkPlan,
    Engine,
    EventBlock,
    MomentSource,
    ReturnsView,
    block_from_fit,
    make_engine,
    study_events,
)
from marketreact.errors import InputError
from marketreact.events import EventCatalogue, events_from_frame
from marketreact.models import (
    MODELS,
    ModelName,
    ModelSpec,
    WindowData,
    abnormal_returns,
    fit_linear,
)
from marketreact.panel import ExchangePanel, ReturnKind
from marketreact.prices import PriceSource
from marketreact.prices.frames import PriceFetch
from marketreact.prices.table import PriceTable

log = logging.getLogger(__name__)

DEFAULT_CAR_WINDOWS: tuple[Window, ...] = ((-1, 1), (0, 0), (0, 1), (-5, 5))
#: Events per chunk of the engine (bounds the memory of gathered windows).
CHUNK_EVENTS = 20_000


def format_window(window: Window) -> str:
    """Write a window as ``[a,b]`` with signs, e.g. ``[-1,+1]``."""
    a, b = window
    return f"[{a:+d},{b:+d}]".replace("+0", "0")


def parse_window(text: str) -> Window:
    """Parse ``A:B`` or ``[A,B]`` into a window of relative days."""
    cleaned = text.strip().strip("[]()")
    for sep in (":", ","):
        if sep in cleaned:
            a, b = cleaned.split(sep, 1)
            try:
                return int(a), int(b)
            except ValueError:
                break
    raise InputError(f"window {text!r} is not of the form A:B (e.g. -1:1)")


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
    """

    model: ModelName = ModelName.market_model
    estimation: Window = (-250, -11)
    window: Window = (-10, 10)
    car_windows: tuple[Window, ...] = DEFAULT_CAR_WINDOWS
    min_estimation: int = 120
    market: str | None = None
    returns: ReturnKind = ReturnKind.simple

    def __post_init__(self) -> None:
        problems = []
        (e0, e1), (w0, w1) = self.estimation, self.window
        if e0 > e1:
            problems.append(f"estimation window {format_window(self.estimation)} is inverted")
        if w0 > w1:
            problems.append(f"event window {format_window(self.window)} is inverted")
        if e1 >= w0:
            problems.append(f"estimation window {format_window(self.estimation)} overlaps the "
                            f"event window {format_window(self.window)}")
        for cw in self.car_windows:
            if cw[0] > cw[1] or cw[0] < w0 or cw[1] > w1:
                problems.append(f"CAR window {format_window(cw)} is not inside the event window "
                                f"{format_window(self.window)}")
        k = MODELS[self.model].n_estimated
        if self.min_estimation < k + 2:
            problems.append(f"min_estimation must be at least {k + 2} for {self.model.value}")
        if self.min_estimation > e1 - e0 + 1:
            problems.append(f"min_estimation {self.min_estimation} exceeds the estimation "
                            f"window's {e1 - e0 + 1} sessions")
        if problems:
            raise InputError("; ".join(problems))

    @property
    def spec(self) -> ModelSpec:
        """The model specification."""
        return MODELS[self.model]

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
    """

    rel_days: IntArray
    ar: FloatArray
    ar_var: FloatArray
    est_residuals: FloatArray
    sigma2: FloatArray
    df: IntArray
    day0: np.ndarray


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
        ar, ar_se, car, span`` (built on first access: it has ``E x L2`` rows).
    car : pandas.DataFrame
        ``event_id, window, car, car_se, car_t, car_p, df, bhar, sessions, missing``.
    aar : pandas.DataFrame
        Per relative day: ``n, aar, caar`` and the cross-sectional t test.
    aggregate : pandas.DataFrame
        Per CAR window: ``n, caar, t, p`` (cross-sectional t) and the mean BHAR.
    failures : pandas.DataFrame
        ``event_id, ticker, reason`` for events that could not be studied.
    arrays : StudyArrays
        Arrays behind the tables.
    diagnostics : tuple of str
        Notes on the data (dropped sessions, filler rows removed, ...).
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

    @property
    def n_events(self) -> int:
        """Number of events studied successfully."""
        return len(self.events)

    def to_frame(self) -> pd.DataFrame:
        """CARs of every event and window in one wide frame (event x window)."""
        return self.car.pivot(index="event_id", columns="window", values="car")

    def summary(self) -> str:
        """A plain-text summary: settings, CAAR per window, and failures."""
        s = self.settings
        lines = [
            "Event study",
            "=" * 72,
            f"model: {s.model.value}   returns: {s.returns.value}   "
            f"estimation: {format_window(s.estimation)}   window: {format_window(s.window)}",
            f"events studied: {self.n_events}   failed: {len(self.failures)}",
            "-" * 72,
            f"{'window':<10}{'N':>5}{'CAAR':>12}{'t':>10}{'p':>10}{'mean BHAR':>14}",
        ]
        for row in self.aggregate.itertuples(index=False):
            lines.append(f"{row.window:<10}{row.n:>5d}{row.caar:>12.5f}{row.t:>10.3f}"
                         f"{row.p:>10.4f}{row.mean_bhar:>14.5f}")
        if len(self.failures):
            lines.append("-" * 72)
            lines.append("failed events:")
            for row in self.failures.itertuples(index=False):
                lines.append(f"  {row.event_id}: {row.reason}")
        lines.append("=" * 72)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


deferred(StudyResult, "abnormal_returns")


def _cross_sectional_t(values: FloatArray) -> tuple[FloatArray, IntArray, FloatArray,
                                                    FloatArray]:
    """Mean, N, t and two-sided p of the cross-sectional t test along axis 0."""
    n = np.isfinite(values).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.nansum(values, axis=0) / np.maximum(n, 1), np.nan)
        dev = np.where(np.isfinite(values), values - mean, 0.0)
        sd = np.sqrt((dev**2).sum(axis=0) / np.maximum(n - 1, 1))
        t = np.where(n > 1, mean / (sd / np.sqrt(n)), np.nan)
    p = np.where(np.isfinite(t), 2 * stats.t.sf(np.abs(t), np.maximum(n - 1, 1)), np.nan)
    return mean, n, t, p


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
        self.settings = replace(base, **overrides) if overrides else base
        self.engine = engine
        self.scheduler = scheduler

    def fit(self, events: EventCatalogue | pd.DataFrame,
            prices: PriceSource | Mapping[str, pd.DataFrame]) -> StudyResult:
        """Run the study.

        Parameters
        ----------
        events : EventCatalogue or pandas.DataFrame
            Validated events (a frame is validated strictly first).
        prices : PriceSource or mapping of str to pandas.DataFrame
            Where prices come from; a mapping gives standard frames by ticker.

        Returns
        -------
        StudyResult
        """
        catalogue = events if isinstance(events, EventCatalogue) else events_from_frame(events)
        frame = catalogue.frame.copy(deep=False)  # copy-on-write keeps the catalogue intact
        s = self.settings
        spec = s.spec
        failures: list[dict[str, str]] = []
        diagnostics: list[str] = []
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
        table = PriceTable(fetched.frames)
        diagnostics.extend(str(n) for n in table.notes)
        engine, owned = make_engine(self.engine, self.scheduler)
        parts = []
        try:
            for exchange, group in frame.groupby("exchange", sort=True):
                part = self._study_exchange(str(exchange), group, table, fetched.failures, spec,
                                            failures, diagnostics, engine)
                if part is not None:
                    parts.append(part)
        finally:
            if owned:
                engine.close()
        return self._assemble(parts, failures, diagnostics, catalogue)

    def _fetch(self, frame: pd.DataFrame,
               prices: PriceSource | Mapping[str, pd.DataFrame]) -> PriceFetch:
        tickers = [t for t in _unique_tickers(frame) if t]
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
                      frames: PriceTable) -> TradingSessions | None:
        rows = frames.rows(_unique_tickers(group))
        span = frames.date_range(rows[rows >= 0])
        if span is None:
            return None
        candidates = [DEFAULT_MARKET.get(exchange, ""), *group["market"].value_counts().index]
        reference = next((m for m in candidates
                          if m in frames and frames.n_rows(frames.rows([m]))[0] > 0), None)
        index_dates = frames.index_of(reference) if reference else None
        return exchange_sessions(exchange, span[0], span[1], index_dates, reference)

    def _study_exchange(self, exchange: str, group: pd.DataFrame, frames: PriceTable,
                        fetch_failures: Mapping[str, str], spec: ModelSpec,
                        failures: list[dict[str, str]], diagnostics: list[str],
                        engine: Engine) -> dict[str, Any] | None:
        s = self.settings

        def fail(rows: pd.DataFrame, reason: str | Sequence[str]) -> None:
            reasons = [reason] * len(rows) if isinstance(reason, str) else list(reason)
            failures.extend({"event_id": eid, "ticker": tic, "reason": why} for eid, tic, why in
                            zip(rows["event_id"], rows["ticker"], reasons, strict=True))

        missing_px = _rows_of(frames.tickers, group["ticker"]) < 0
        fail(group.loc[missing_px], [f"prices: {fetch_failures.get(t, 'not available')}"
                                     for t in group.loc[missing_px, "ticker"]])
        group = group.loc[~missing_px]
        if spec.uses_market:
            missing_mkt = _rows_of(frames.tickers, group["market"]) < 0
            fail(group.loc[missing_mkt],
                 [f"market {m}: {fetch_failures.get(m, 'not available')}"
                  for m in group.loc[missing_mkt, "market"]])
            group = group.loc[~missing_mkt]
        if group.empty:
            return None
        sessions = self._sessions_for(exchange, group, frames)
        if sessions is None:
            fail(group, "prices: no rows left after cleaning")
            return None
        if len(sessions.dropped):
            shown = ", ".join(str(d.date()) for d in sessions.dropped[:8])
            diagnostics.append(
                f"{exchange}: {len(sessions.dropped)} calendar session(s) dropped because "
                f"{sessions.reference} did not trade: {shown}"
                + (" ..." if len(sessions.dropped) > 8 else ""))
        tickers = [t for t in _unique_tickers(group) if t]
        panel = frames.panel(sessions, tickers, s.returns)
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
        bad = reasons != ""
        if bad.any():
            fail(group.loc[bad], list(reasons[bad]))
            group, day0 = group.loc[~bad], day0[~bad]
            stock_rows, market_rows = stock_rows[~bad], market_rows[~bad]
        if group.empty:
            return None
        plan = ChunkPlan(spec, s.estimation, s.window, s.car_windows,
                         s.returns is ReturnKind.log)
        builder = BlockBuilder(len(group))
        keep = np.ones(len(group), dtype=bool)
        short_n: dict[int, int] = {}
        unfit: list[int] = []
        for where, chunk in study_events(panel, stock_rows, market_rows, day0, plan, engine,
                                         _general_chunk, CHUNK_EVENTS):
            short = chunk.n < s.min_estimation
            singular = ~short & ~np.isfinite(chunk.sigma2)
            if short.any() or singular.any():
                pos = np.arange(len(group))[where]
                short_n.update(zip(pos[short].tolist(), chunk.n[short].tolist(), strict=True))
                unfit.extend(pos[singular].tolist())
                keep[pos[short | singular]] = False
            builder.add(chunk, where)
        block = builder.finish(keep)
        if not keep.all():
            fail_reasons = np.full(len(group), "", dtype=object)
            for at, used in short_n.items():
                fail_reasons[at] = (f"only {used} estimation returns in "
                                    f"{format_window(s.estimation)} (need {s.min_estimation})")
            fail_reasons[unfit] = ("the model could not be fitted "
                                   "(singular design: constant market?)")
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
                info[{"const": "alpha", "market": "beta"}.get(name, f"b_{name}")] = (
                    pb.coef[:, j])
            info["sigma"] = np.sqrt(pb.sigma2)
            info["df"] = pb.df
            info["missing_event_days"] = pb.missing_days
            info["spanning_returns"] = pb.spanning
            for col in catalogue.attributes + tuple(c for c in ("headline", "sentiment")
                                                    if c in group):
                info[col] = group[col].array
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
        if block is not None:
            places = [dest[a:b] for a, b in itertools.pairwise(starts)]
            residuals: Any = _StackedRows(
                [(p["block"].residuals if p["source"] is None else p["source"], rows)
                 for p, rows in zip(parts, places, strict=True)], len(perm), L1)
            if all(p["source"] is None for p in parts):
                residuals = residuals()  # the general path computed them already
            arrays = StudyArrays(
                rel_days=evt_days, ar=block.ar, ar_var=block.ar_var, est_residuals=residuals,
                sigma2=block.sigma2, df=block.df, day0=day0_all[perm])
            events = pd.concat(event_rows, ignore_index=True) if len(event_rows) > 1 \
                else event_rows[0]
            if not ordered:
                events = events.take(perm).reset_index(drop=True)
            abnormal: Any = _ARTable(events["event_id"], evt_days, block.ar, block.ar_var, [
                (p["panel"].sessions.labels, p["day0"], p["source"],
                 None if p["source"] is not None else (
                     p["block"].y, p["block"].market, p["block"].expected, p["block"].span),
                 rows) for p, rows in zip(parts, places, strict=True)])
            car = self._car_table(events["event_id"], block)
        else:
            arrays = StudyArrays(evt_days, np.empty((0, len(evt_days))),
                                 np.empty((0, len(evt_days))), np.empty((0, L1)), np.empty(0),
                                 np.empty(0, dtype=np.int64), np.empty(0, dtype="datetime64[ns]"))
            events = pd.DataFrame(columns=["event_id", "ticker", "exchange", "market", "day0"])
            abnormal = pd.DataFrame(columns=list(_AR_COLUMNS))
            car = pd.DataFrame(columns=["event_id", "window", "car", "car_se", "car_t", "car_p",
                                        "df", "bhar", "sessions", "missing"])
        aar = self._aar_table(arrays)
        aggregate = self._aggregate_table(car)
        fail_frame = pd.DataFrame(failures, columns=["event_id", "ticker", "reason"])
        if len(fail_frame):
            order = pd.Series(np.arange(len(catalogue.frame)),
                              index=catalogue.frame["event_id"].to_numpy())
            rank = order.reindex(fail_frame["event_id"].to_numpy()).to_numpy()
            fail_frame = fail_frame.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)
        return StudyResult(s, events, abnormal, car, aar, aggregate, fail_frame, arrays,
                           tuple(dict.fromkeys(diagnostics)))

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

    @staticmethod
    def _aar_table(arrays: StudyArrays) -> pd.DataFrame:
        aar, n, t, p = _cross_sectional_t(arrays.ar)
        return pd.DataFrame({"rel_day": arrays.rel_days, "n": n, "aar": aar,
                             "caar": np.nancumsum(aar), "t": t, "p": p})

    @staticmethod
    def _aggregate_table(car: pd.DataFrame) -> pd.DataFrame:
        rows = []
        for window, grp in car.groupby("window", sort=False):
            caar, n, t, p = _cross_sectional_t(grp["car"].to_numpy()[:, None])
            bhar = grp["bhar"].to_numpy()
            rows.append({"window": window, "n": int(n[0]), "caar": float(caar[0]),
                         "t": float(t[0]), "p": float(p[0]),
                         "mean_bhar": float(np.nanmean(bhar)) if np.isfinite(bhar).any()
                         else math.nan})
        return pd.DataFrame(rows, columns=["window", "n", "caar", "t", "p", "mean_bhar"])


def gather(panel: ExchangePanel, stock_rows: IntArray, market_rows: IntArray, day0: IntArray,
           rel_days: IntArray, spec: ModelSpec) -> WindowData:
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

    Returns
    -------
    WindowData
        Positions off the session axis are missing.
    """
    n_sessions = panel.returns.shape[1]
    pos = day0[:, None] + rel_days[None, :]
    inside = (pos >= 0) & (pos < n_sessions)
    posc = np.clip(pos, 0, n_sessions - 1)
    rows = stock_rows[:, None]
    y = np.where(inside, panel.returns[rows, posc], np.nan)
    span = np.where(inside, panel.span[rows, posc], 0)
    width = np.maximum(span, 1)
    columns = []
    for name in spec.regressors:
        if name == "const":
            columns.append(width.astype(float))
        elif name == "market":
            columns.append(panel.span_sum(np.maximum(market_rows, 0)[:, None], posc, width))
        else:
            raise InputError(f"unknown regressor {name!r}")
    X = np.stack(columns, axis=-1)
    valid = inside & np.isfinite(y) & (span >= 1) & np.isfinite(X).all(axis=-1)
    return WindowData(y, span, X, valid)


def _rows_of(tickers: tuple[str, ...], values: pd.Series) -> IntArray:
    """Position of each value in ``tickers`` (-1 if absent); each distinct value looked up once."""
    codes, uniques = pd.factorize(values)
    rows = pd.Index(tickers).get_indexer(pd.Index(uniques)).astype(np.int64)
    return rows[codes]


def _unique_tickers(frame: pd.DataFrame) -> list[str]:
    """Tickers then market indexes of ``frame``, each once, in order of first appearance."""
    both = pd.concat([frame["ticker"], frame["market"]], ignore_index=True)
    return [str(t) for t in both.unique()]


def _general_chunk(panel: ExchangePanel, stock_rows: IntArray, market_rows: IntArray,
                   day0: IntArray, plan: ChunkPlan) -> EventBlock:
    """One chunk by the general path: gather both windows, fit by OLS, ARs and CARs."""
    est = gather(panel, stock_rows, market_rows, day0, plan.est_days, plan.spec)
    evt = gather(panel, stock_rows, market_rows, day0, plan.evt_days, plan.spec)
    fit = fit_linear(est, plan.spec)
    return block_from_fit(evt, fit, abnormal_returns(evt, fit), plan)


_AR_COLUMNS = ("event_id", "rel_day", "date", "return", "market_return", "expected", "ar",
               "ar_se", "car", "span")


class _ARTable(Thunk):
    """Builds the long abnormal-return table when it is first asked for."""

    def __init__(self, event_ids: pd.Series, rel_days: IntArray, ar: FloatArray,
                 ar_var: FloatArray,
                 parts: list[tuple[pd.DatetimeIndex, IntArray, MomentSource | None,
                                   tuple[Any, ...] | None, IntArray]]) -> None:
        self.event_ids, self.rel_days, self.parts = event_ids, rel_days, parts
        self.ar, self.ar_var = ar, ar_var

    def __call__(self) -> pd.DataFrame:
        days = self.rel_days
        e, width = self.ar.shape
        when = np.empty((e, width), dtype="datetime64[ns]")
        y, market, expected = (np.empty((e, width)) for _ in range(3))
        span = np.empty((e, width), dtype=np.int64)
        for labels, day0, source, values, rows in self.parts:
            pos = np.clip(day0[:, None] + days[None, :], 0, len(labels) - 1)
            when[rows] = labels.to_numpy()[pos]
            if values is not None:
                y[rows], market[rows], expected[rows], span[rows] = values
                continue
            assert source is not None
            for lo in range(0, len(rows), CHUNK_EVENTS):
                sl = slice(lo, lo + CHUNK_EVENTS)
                y[rows[sl]], market[rows[sl]], expected[rows[sl]], span[rows[sl]] = (
                    source.window(sl))
        return pd.DataFrame({
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
        })


class _StackedRows(Thunk):
    """Rows from several sources (arrays or residual sources) placed at given rows."""

    def __init__(self, sources: list[tuple[Any, IntArray]], n_rows: int, width: int) -> None:
        self.sources, self.n_rows, self.width = sources, n_rows, width

    def __call__(self) -> FloatArray:
        out = np.empty((self.n_rows, self.width))
        for source, rows in self.sources:
            if isinstance(source, MomentSource):
                contiguous = len(rows) and rows[-1] - rows[0] == len(rows) - 1
                for lo in range(0, len(rows), RESIDUAL_CHUNK):
                    sl = slice(lo, lo + RESIDUAL_CHUNK)
                    at = slice(rows[0] + lo, rows[0] + lo + RESIDUAL_CHUNK) if contiguous \
                        else rows[sl]
                    out[at] = source.residuals(sl)
            else:
                out[rows] = source
        return out
