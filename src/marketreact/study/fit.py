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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from marketreact._lazy import Thunk, pending_value
from marketreact._typing import IntArray
from marketreact.calendar import anchor_day0
from marketreact.errors import InputError
from marketreact.events.catalogue import EventCatalogue, events_from_frame
from marketreact.inference.base import CrossEventTests, TestInputs, t_sf
from marketreact.inference.battery import aar_table, aggregate_table, cross_event_tests
from marketreact.inference.groups import group_differences
from marketreact.inference.long_horizon import bhar_test_columns
from marketreact.inference.multiple import Adjustment, adjust_tables
from marketreact.models.diagnostics import (
    STALE_SHARE,
    PretrendTest,
    pretrend_test,
    residual_diagnostics,
)
from marketreact.models.estimate import estimate, missing_price_reasons
from marketreact.models.linear import BlockBuilder, EventBlock, block_from_fit
from marketreact.models.moments import (
    MomentSource,
    ReturnsView,
    moment_path_supported,
)
from marketreact.models.spec import (
    ChunkPlan,
    Method,
    MissingPolicy,
    ModelSpec,
)
from marketreact.panel.factors import FactorPanel, align_factors
from marketreact.panel.lineup import (
    Failure,
    Lineup,
    TablePrices,
    assign_markets,
    failure_frame,
    failures_of,
    line_up,
    price_table,
)
from marketreact.panel.measures import Measure, measure_panel, measure_words
from marketreact.panel.returns import ExchangePanel, ReturnKind
from marketreact.panel.screening import (
    MAX_LISTED_PAIRS,
    OVERLAP_COLUMNS,
    DuplicatePolicy,
    OverlapPairs,
    OverlapPolicy,
    anchored_moments,
    date_clusters,
    estimation_exclusions,
    event_window_news,
    find_duplicates,
    overlap_drops,
    overlap_pairs,
    overlap_tally,
    prefixed,
    sparse_text,
    window_zero_shares,
)
from marketreact.panel.table import PriceTable
from marketreact.prices.checks import (
    JUMP_FACTOR,
    SuspectPolicy,
    suspect_jumps,
    suspect_reasons,
)
from marketreact.prices.frames import PriceFetch, PriceSuspect
from marketreact.progress import track
from marketreact.study.engine import Engine, make_engine, study_events
from marketreact.study.results import (
    _AR_COLUMNS,
    StudyArrays,
    StudyResult,
    _ARPart,
    _ARTable,
    _StackedRows,
    volatility_arrays,
)
from marketreact.study.settings import StudySettings
from marketreact.windows import (
    CHUNK_EVENTS,
    Window,
    format_window,
    gather,
)

log = logging.getLogger(__name__)

#: Exchanges whose stocks US factor files describe.
US_EXCHANGES = frozenset({"XNYS", "XNAS", "XASE", "ARCX", "BATS", "IEXG"})

#: Events per block of the residual diagnostics (bounds their temporaries).
DIAGNOSTIC_BLOCK = 8192

#: Residual variances below this (a standard deviation of 1e-8) mean a price that never moved.
MIN_RESIDUAL_VARIANCE = 1e-16


@dataclass(frozen=True)
class _ExchangeStudy:
    """The studied events of one exchange, as :meth:`EventStudy._assemble` needs them."""

    group: pd.DataFrame
    panel: ExchangePanel
    day0: IntArray
    stock_rows: IntArray
    market_rows: IntArray
    block: EventBlock
    source: MomentSource | None


@dataclass
class _Screening:
    """What the screening of the catalogue found, gathered over exchanges.

    ``overlaps``: each exchange's pairs (their table, when a policy built it, else the
    call that finds them) and its session labels, made into overlaps.csv's table only
    when it is read.
    """

    overlaps: list[tuple[pd.DataFrame | Callable[[], OverlapPairs], np.ndarray]]
    screened: list[pd.DataFrame]
    counts: dict[str, int]


def _placed_pairs(events: pd.DataFrame, placed: np.ndarray, day0: IntArray, window: Window,
                  estimation: Window, confounders: pd.DataFrame | None,
                  confounder_day0: IntArray | None, windows: Sequence[str]) -> OverlapPairs:
    """:func:`overlap_pairs` of the ``placed`` events (day 0 inside the sessions)."""
    return overlap_pairs(events.loc[placed], day0[placed], window, estimation, confounders,
                         confounder_day0, windows=windows)


def _session_dates(labels: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """The dates of session positions ``pos`` (NaT past the last session)."""
    out = np.full(len(pos), np.datetime64("NaT"), dtype="datetime64[ns]")
    inside = pos < len(labels)
    out[inside] = labels[pos[inside]]
    return out


class _OverlapTable(Thunk):
    """overlaps.csv's table: every exchange's pairs with their dates, built on first access.

    At a million events the event-window pairs are millions of rows of text; a study that
    is not written out, or whose overlaps are never read, does not build them.
    """

    def __init__(self, parts: list[tuple[pd.DataFrame | Callable[[], OverlapPairs],
                                         np.ndarray]]) -> None:
        self.parts = parts

    def __call__(self) -> pd.DataFrame:
        frames = []
        for pairs, labels in self.parts:
            table = pairs if isinstance(pairs, pd.DataFrame) else pairs().frame()
            frames.append(table.assign(
                day0=_session_dates(labels, table["day0"].to_numpy()),
                other_day0=_session_dates(labels, table["other_day0"].to_numpy())))
        return (pd.concat(frames, ignore_index=True) if frames
                else pd.DataFrame(columns=list(OVERLAP_COLUMNS)))


_SCREENED_COLUMNS = ["event_id", "ticker", "day0", "action", "reason"]
#: Columns the screening adds to events.csv.
_SCREEN_COLUMNS = ("n_headlines", "duplicate_ids", "overlaps_event", "overlaps_estimation",
                   "estimation_excluded", "zero_returns", "zero_returns_estimation", "stale")


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
    >>> events = read_events("events.csv")  # doctest: +SKIP
    >>> prices = load_prices("csv:prices/", events, before=250, after=10)  # doctest: +SKIP
    >>> result = study.fit(events, prices)  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP
    """

    def __init__(self, settings: StudySettings | None = None, *,
                 engine: str | Engine = "local", scheduler: Any = None,
                 **overrides: Any) -> None:
        base = settings or StudySettings()
        # StudySettings converts strings to its enums (one place, one error wording)
        self.settings = replace(base, **overrides) if overrides else base
        self.engine = engine
        self.scheduler = scheduler

    def fit(self, events: EventCatalogue | pd.DataFrame,
            prices: PriceFetch | PriceTable | Mapping[str, pd.DataFrame],
            factors: pd.DataFrame | None = None,
            confounders: EventCatalogue | pd.DataFrame | None = None) -> StudyResult:
        """Run the study (pure computation: it never reads files or downloads).

        Parameters
        ----------
        events : EventCatalogue or pandas.DataFrame
            Validated events (a frame is validated strictly first).
        prices : PriceFetch, PriceTable or mapping of str to pandas.DataFrame
            The prices: what :func:`marketreact.prices.load_prices` returned, a
            :class:`~marketreact.panel.table.PriceTable`, or frames by ticker
            (normalised with :func:`~marketreact.prices.frames.standard_frame`).
        factors : pandas.DataFrame, optional
            Daily factor returns (decimal units, indexed by date) from
            :func:`marketreact.factors.read_factors`; required by the factor
            models (``ff3``, ``ff5``, ``carhart4``).
        confounders : EventCatalogue or pandas.DataFrame, optional
            Other news of the same firms, not studied: it counts in the
            overlaps (``overlaps.csv``), in the overlap policy and in
            ``clean_estimation`` (see docs/screening.md).

        Returns
        -------
        StudyResult

        Raises
        ------
        TypeError
            When ``prices`` is a price source: load them with
            :func:`marketreact.prices.load_prices` first.
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
        diagnostics: list[str] = list(catalogue.notes)  # e.g. a column renamed user_beta
        if spec.factors:  # factor files describe one market: say when events trade elsewhere
            foreign = frame.loc[~frame["exchange"].isin(US_EXCHANGES), "exchange"]
            if len(foreign):
                where = ", ".join(f"{x} ({n})" for x, n in foreign.value_counts().items())
                diagnostics.append(
                    f"{s.model.value} uses the factor file's factors (Ken French's are US "
                    f"factors) for {len(foreign)} event(s) listed outside the US: {where}; "
                    "their betas describe the US session, not the stocks' own market")
        if s.group is not None and s.group not in frame.columns:
            raise InputError(f"group column {s.group!r} is not in the catalogue "
                             f"{catalogue.source} (columns: {', '.join(map(str, frame.columns))})")
        conf = None
        if confounders is not None:
            conf = (confounders if isinstance(confounders, EventCatalogue)
                    else events_from_frame(confounders)).frame
        screening = _Screening([], [], {"events_in": len(frame), "distinct_events": 0,
                                        "duplicates_left_out": 0, "overlap_pairs_event": 0,
                                        "overlap_pairs_estimation": 0,
                                        "confounder_pairs": 0, "overlap_left_out": 0,
                                        "events_with_overlap": 0,
                                        "estimation_pairs_not_listed": 0})
        frame, failures = assign_markets(frame, s.market, required=spec.uses_market)
        priced = price_table(prices, frame,  # never reads or fetches (see load_prices)
                             volume_notes=s.measure is Measure.volume)
        diagnostics.extend(priced.notes)
        suspects = self._suspects(priced)
        engine, owned = make_engine(self.engine, self.scheduler)
        parts = []
        try:
            for exchange, group in track(frame.groupby("exchange", sort=True),
                                         "Studying events", total=len(frame),
                                         size=lambda item: len(item[1])):
                lineup = line_up(str(exchange), group, priced, sessions=s.sessions,
                                 returns=s.returns, market_required=spec.uses_market)
                failures.extend(lineup.failures)
                diagnostics.extend(lineup.diagnostics)
                lineup, exclude = self._screen(lineup, conf, screening,
                                               (*catalogue.attributes, "sentiment"))
                part = self._study_exchange(lineup, spec, failures, diagnostics, factors,
                                            suspects=suspects, engine=engine, exclude=exclude)
                if part is not None:
                    parts.append(part)
                del group, lineup, part  # (not held through the next exchange or the tests)
        finally:
            if owned:
                engine.close()
        # the stacked price table is not read again: not held through the cross-event tests
        # (hundreds of MB at a million events)
        del priced, suspects, frame
        return self._assemble(parts, failures, diagnostics, catalogue, screening)

    def _screen(self, lineup: Lineup, confounders: pd.DataFrame | None, screening: _Screening,
                attributes: Sequence[str] = ()) -> tuple[Lineup, np.ndarray | None]:
        """Duplicates, overlaps and the clean-estimation mask of one exchange's events."""
        s = self.settings
        if not len(lineup):
            return lineup, None
        ev, day0, labels = lineup.events, lineup.day0, lineup.sessions.labels.to_numpy()
        n_sessions = len(labels)

        def dates(pos: np.ndarray) -> np.ndarray:
            return _session_dates(labels, pos)

        moments = anchored_moments(ev)
        # day 0 at either end of the sessions may stand for "before the prices" or "after
        # them" (such events fail later with that reason): never grouped or paired
        placed = (day0 > 0) & (day0 < n_sessions)
        dups = find_duplicates(ev["ticker"], np.where(placed, day0, -1 - np.arange(len(ev))),
                               ev["event_id"], moments)
        rep = dups.representative
        listed = np.flatnonzero(rep & (dups.n_headlines > 1))
        ev = ev.assign(n_headlines=dups.n_headlines,
                       duplicate_ids=sparse_text(len(ev), listed, dups.others[listed]))
        screened = []
        if s.duplicates is not DuplicatePolicy.keep and not rep.all():
            if s.duplicates is DuplicatePolicy.merge:
                numeric = [c for c in ev.columns if c in attributes
                           and pd.api.types.is_numeric_dtype(ev[c])]
                if numeric:  # the mean over the story's headlines, on its representative
                    means = ev[numeric].groupby(dups.first).transform("mean")
                    ev[numeric] = means.to_numpy()
            action = ("merged" if s.duplicates is DuplicatePolicy.merge
                      else "left out (duplicates=first)")
            gone = ~rep
            screened.append(pd.DataFrame({
                "event_id": ev["event_id"].array[gone], "ticker": ev["ticker"].array[gone],
                "day0": dates(day0[gone]), "action": action,
                "reason": prefixed("same ticker and day 0 as ", dups.others[gone])}))
            screening.counts["duplicates_left_out"] += int(gone.sum())
        keep_rows = rep if s.duplicates is not DuplicatePolicy.keep else np.ones(len(ev), bool)
        all_events, all_placed, all_day0 = ev, placed, day0  # (for clean_estimation)
        lineup = lineup.with_events(ev).subset(keep_rows)
        ev, day0 = lineup.events, lineup.day0
        placed = (day0 > 0) & (day0 < n_sessions)
        screening.counts["distinct_events"] += dups.n_groups
        conf, conf_day0 = None, None
        if confounders is not None and len(confounders):
            conf = confounders.loc[confounders["ticker"].isin(ev["ticker"].unique())]
            if len(conf):
                conf_day0 = np.asarray(anchor_day0(lineup.sessions, conf["timestamp"],
                                                   conf["date"], conf["timing"]), np.int64)
                inside = (conf_day0 > 0) & (conf_day0 < n_sessions)
                conf, conf_day0 = conf.loc[inside], conf_day0[inside]
        # counted by binary search; listed in overlaps.csv while the list stays small
        tally = overlap_tally(ev.loc[placed], day0[placed], s.window, s.estimation, conf,
                              conf_day0)
        at = np.flatnonzero(placed)
        counts = {}
        for name in ("event", "estimation"):
            n = np.zeros(len(ev), dtype=np.int64)
            for source in ("catalogue", "confounders"):
                if (name, source) in tally:
                    n[at] += tally[(name, source)]
            counts[f"overlaps_{name}"] = n
        n_estimation = int(sum(int(v.sum()) for (w, _), v in tally.items()
                               if w == "estimation"))
        listed = ("event", "estimation") if n_estimation <= MAX_LISTED_PAIRS else ("event",)
        if len(listed) == 1:
            screening.counts["estimation_pairs_not_listed"] += n_estimation
        find_pairs = functools.partial(_placed_pairs, ev, placed, day0, s.window,
                                       s.estimation, conf, conf_day0, listed)
        overlaps = pd.DataFrame(columns=list(OVERLAP_COLUMNS))
        if s.overlap is OverlapPolicy.keep:
            # no policy reads the pairs: overlaps.csv's table finds them when it is read
            n_listed = sum(int(v.sum()) for (w, _), v in tally.items() if w in listed)
            if n_listed:
                screening.overlaps.append((find_pairs, labels))
        else:
            pairs = find_pairs()
            if len(pairs):
                overlaps = pairs.frame()
                screening.overlaps.append((overlaps, labels))
        ev = ev.assign(**counts)
        lineup = lineup.with_events(ev)
        for name in ("event", "estimation"):
            screening.counts[f"overlap_pairs_{name}"] += int(
                tally.get((name, "catalogue"), np.zeros(0, np.int64)).sum())
        screening.counts["confounder_pairs"] += int(sum(
            int(v.sum()) for (_, src), v in tally.items() if src == "confounders"))
        screening.counts["events_with_overlap"] += int(
            ((counts["overlaps_event"] + counts["overlaps_estimation"]) > 0).sum())
        other_moments = ((conf["event_id"], anchored_moments(conf))
                         if conf is not None and len(conf) else None)
        drop = overlap_drops(ev["event_id"], day0, anchored_moments(ev), overlaps,
                             s.overlap, other_moments)
        if drop.any():
            gone_ids = ev["event_id"].to_numpy(dtype=object)[drop]
            screened.append(pd.DataFrame({
                "event_id": gone_ids, "ticker": ev["ticker"].to_numpy()[drop],
                "day0": dates(day0[drop]), "action": f"left out (overlap={s.overlap.value})",
                "reason": prefixed("other news in the event window: ",
                                   event_window_news(overlaps, gone_ids))}))
            screening.counts["overlap_left_out"] += int(drop.sum())
            lineup = lineup.subset(~drop)
            ev, day0 = lineup.events, lineup.day0
        screening.screened.extend(screened)
        exclude = None
        if s.clean_estimation:
            o_t = all_events["ticker"].to_numpy(dtype=object)[all_placed]
            o_d = all_day0[all_placed]
            if conf is not None and conf_day0 is not None and len(conf):
                o_t = np.concatenate([o_t, conf["ticker"].to_numpy(dtype=object)])
                o_d = np.concatenate([o_d, conf_day0])
            exclude = estimation_exclusions(ev["ticker"].to_numpy(dtype=object), day0, o_t, o_d,
                                            s.window, s.estimation)
            lineup = lineup.with_events(ev.assign(estimation_excluded=exclude.sum(axis=1)))
        return lineup, exclude

    @staticmethod
    def _suspects(priced: TablePrices) -> dict[str, Sequence[PriceSuspect]]:
        """Suspect prices by ticker: the source's, else those the jumps point at."""
        table = priced.table
        suspects: dict[str, Sequence[PriceSuspect]] = dict(priced.suspects)
        jumpy = set(table.jumpy(JUMP_FACTOR))  # only these can hold suspect prices
        for ticker in table:
            if ticker not in suspects:
                suspects[ticker] = ()
                if ticker in jumpy:  # (from the table's arrays: no frame is built)
                    dates, price = table.kept_prices(ticker)
                    ok = (price > 0) & np.isfinite(price)
                    suspects[ticker] = suspect_jumps(price[ok], dates[ok], f"prices of {ticker}")
        return suspects

    def _study_exchange(self, lineup: Lineup, spec: ModelSpec, failures: list[Failure],
                        diagnostics: list[str],
                        factors: pd.DataFrame | None = None,
                        suspects: Mapping[str, Sequence[PriceSuspect]] | None = None,
                        engine: Engine | None = None,
                        exclude: np.ndarray | None = None,
                        ) -> _ExchangeStudy | None:
        s = self.settings
        exchange = lineup.exchange

        def fail(rows: pd.DataFrame, reason: str | Sequence[str]) -> None:
            failures.extend(failures_of(rows, reason))

        if not len(lineup):
            return None
        group, sessions, day0 = lineup.events, lineup.sessions, lineup.day0
        stock_rows, market_rows = lineup.stock_rows, lineup.market_rows
        panel = measure_panel(lineup.panel, s.measure)
        words = measure_words(s.measure)
        n_sessions = len(sessions)
        group = group.assign(**_zero_shares(lineup.panel, stock_rows, day0, s))
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
        if s.measure is Measure.volume:  # a file without volume: say so, not "0 returns"
            has_volume = np.isfinite(panel.returns).any(axis=1)
            for rows, col in ((stock_rows, "ticker"), (market_rows, "market")):
                if col == "market" and not spec.uses_market:
                    continue
                names = group[col].to_numpy()
                for i in np.flatnonzero(~has_volume[rows] & (reasons == "")):
                    reasons[i] = (f"the prices of {names[i]} have no positive volume in the "
                                  "span needed (a volume study needs one"
                                  + (", or --model constant-mean without a market)"
                                     if col == "market" else ")"))
        bad = reasons != ""
        if bad.any():
            fail(group.loc[bad], list(reasons[bad]))
            group, day0 = group.loc[~bad], day0[~bad]
            stock_rows, market_rows = stock_rows[~bad], market_rows[~bad]
            if exclude is not None:
                exclude = exclude[~bad]
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
                              moment=moment, est_exclude=exclude)
        for where, chunk in track(chunks, f"{exchange}: fitting models",
                                  total=-(-len(group) // CHUNK_EVENTS)):
            short = chunk.n < s.min_estimation
            unfit = ~short & ~np.isfinite(chunk.sigma2)
            pos = np.arange(len(group))[where]
            for i in np.flatnonzero(short):
                fail_reasons[pos[i]] = (f"only {chunk.n[i]} estimation {words.values} in "
                                        f"{format_window(s.estimation)} "
                                        f"(need {s.min_estimation})")
                if exclude is not None and exclude[pos[i]].any():
                    fail_reasons[pos[i]] += (f" after leaving out {int(exclude[pos[i]].sum())} "
                                             "session(s) of other news' event windows "
                                             "(clean_estimation)")
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
        return _ExchangeStudy(group, panel, day0, stock_rows, market_rows, block, source)

    def _assemble(self, parts: list[_ExchangeStudy], failures: list[Failure],
                  diagnostics: list[str], catalogue: EventCatalogue,
                  screening: _Screening | None = None) -> StudyResult:
        s = self.settings
        spec = s.spec
        evt_days = np.arange(s.window[0], s.window[1] + 1)
        L1 = s.estimation[1] - s.estimation[0] + 1
        event_rows = []
        for part in parts:
            group, panel = part.group, part.panel
            pb: EventBlock = part.block
            labels = panel.sessions.labels
            day0 = part.day0
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
            for col in _SCREEN_COLUMNS:
                if col in group:
                    info[col] = group[col].to_numpy()
            for col in catalogue.attributes + tuple(c for c in ("headline", "sentiment")
                                                    if c in group):
                if col not in info.columns:  # a computed column always wins over an attribute
                    info[col] = group[col].array
                else:
                    diagnostics.append(f"attribute {col!r} left out: a computed column has "
                                       "that name")
            event_rows.append(info)
        # Put every event in catalogue order (parts are exchanges; each is in order already).
        position = (np.concatenate([p.group.index.to_numpy() for p in parts])
                    if parts else np.empty(0, dtype=np.int64))
        perm = np.argsort(position, kind="stable")
        ordered = bool(np.all(perm == np.arange(len(perm))))
        block: EventBlock | None = None
        if parts:
            block = EventBlock.concat([p.block for p in parts])
            if not ordered:
                block = block.take(perm)
        dest = np.empty(len(perm), dtype=np.int64)
        dest[perm] = np.arange(len(perm))
        starts = np.cumsum([0] + [len(p.group) for p in parts])
        day0_all = (np.concatenate([p.panel.sessions.labels[p.day0].to_numpy()
                                    for p in parts]) if parts
                    else np.empty(0, dtype="datetime64[ns]"))
        W = len(s.car_windows)
        if block is not None:
            places = [dest[a:b] for a, b in itertools.pairwise(starts)]
            residuals: Any = _StackedRows(
                [(p.block.residuals if p.source is None else p.source, rows)
                 for p, rows in zip(parts, places, strict=True)], len(perm), L1)
            if all(p.source is None for p in parts):
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
                _ARPart(p.panel, p.day0, p.stock_rows, p.market_rows, p.source,
                        None if p.source is not None else (
                            p.block.y, p.block.market, p.block.expected,
                            p.block.span), rows)
                for p, rows in zip(parts, places, strict=True)])
        else:
            arrays = StudyArrays(evt_days, np.empty((0, len(evt_days))),
                                 np.empty((0, len(evt_days))), np.empty((0, L1)), np.empty(0),
                                 np.empty(0, dtype=np.int64), np.empty(0, dtype="datetime64[ns]"),
                                 tuple(s.car_windows), np.empty((0, W)), np.empty((0, W)))
            events = pd.DataFrame(columns=["event_id", "ticker", "exchange", "market", "day0"])
            abnormal = pd.DataFrame(columns=list(_AR_COLUMNS))
        car_block = block
        if s.measure is Measure.volatility:  # the tables hold the abnormal volatility
            arrays = volatility_arrays(arrays)
            if block is not None and len(block.car):
                if isinstance(abnormal, _ARTable):
                    abnormal.extra["abnormal_return"] = abnormal.ar  # what AVOL is built from
                    abnormal.ar, abnormal.ar_var = arrays.ar, arrays.ar_var
                car_block = replace(
                    block, car=np.asarray(arrays.car), car_var=np.asarray(arrays.car_var),
                    df=np.asarray(arrays.df), bhar=np.full_like(block.bhar, np.nan))
        # (N, W) BHARs for the mean-BHAR tests (none in a volume or volatility study), laid
        # out window by window as in car.csv (sums over events then run as they always did)
        bhar = _window_major(np.empty((0, W)) if car_block is None
                             else car_block.bhar if s.measure is not Measure.volume
                             else np.full_like(car_block.bhar, np.nan))
        aar, aggregate, tests = self._test_tables(arrays, bhar)
        # the CAR table after the tests, so that it is not held through their temporaries
        if car_block is not None:
            car = self._car_table(events["event_id"], car_block)
        else:
            car = pd.DataFrame(columns=["event_id", "window", "car", "car_se", "car_t", "car_p",
                                        "df", "bhar", "sessions", "missing"])
        if s.measure is Measure.volume:
            car["bhar"] = np.nan
        fail_frame = failure_frame(failures, catalogue.frame["event_id"])
        extra = self._screen_report(events, arrays, car, screening or _Screening([], [], {}),
                                    diagnostics)
        if s.adjust is not Adjustment.none:
            aar, aggregate = adjust_tables(aar, aggregate, s.adjust)
        return StudyResult(s, events, abnormal, car, aar, aggregate, fail_frame, arrays,
                           tuple(dict.fromkeys(diagnostics)), tests, **extra)

    def _screen_report(self, events: pd.DataFrame, arrays: StudyArrays, car: pd.DataFrame,
                       screening: _Screening, diagnostics: list[str]) -> dict[str, Any]:
        """Overlaps, screened events, clustering, diagnostics, pre-trend test and groups."""
        s = self.settings
        counts = dict(screening.counts)
        n = len(events)
        overlaps = _OverlapTable(screening.overlaps)
        screened = (pd.concat(screening.screened, ignore_index=True) if screening.screened
                    else pd.DataFrame(columns=_SCREENED_COLUMNS))
        if counts.get("duplicates_left_out"):
            what = ("merged into it (n_headlines, duplicate_ids in events.csv)"
                    if s.duplicates is DuplicatePolicy.merge else "left out")
            diagnostics.append(
                f"duplicates={s.duplicates.value}: {counts['duplicates_left_out']} event(s) "
                f"share a ticker and day 0 with an earlier one and were {what}; see "
                "screened.csv")
        if s.duplicates is DuplicatePolicy.keep and "n_headlines" in events and n and \
                (events["n_headlines"] > 1).any():
            diagnostics.append(
                f"duplicates=keep: {int((events['n_headlines'] > 1).sum())} of {n} studied events "
                "share a ticker and day 0 with another; the tests count each as a separate "
                "event (N is not the number of distinct firm-events)")
        if counts.get("events_with_overlap"):
            diagnostics.append(
                f"overlaps: {counts['events_with_overlap']} event(s) have other news of the "
                f"firm in their event window ({counts['overlap_pairs_event']} pair(s)) or "
                f"estimation window ({counts['overlap_pairs_estimation']} pair(s))"
                + (f", {counts['confounder_pairs']} from the confounders"
                   if counts.get("confounder_pairs") else "")
                + f"; overlap={s.overlap.value}"
                + (f" left out {counts['overlap_left_out']}" if counts.get("overlap_left_out")
                   else "")
                + ("; clean_estimation leaves their event windows out of the estimation "
                   "samples" if s.clean_estimation else "")
                + "; see overlaps.csv"
                + (f" (its {counts['estimation_pairs_not_listed']:,} estimation-window pairs "
                   f"are counted in events.csv, not listed: more than {MAX_LISTED_PAIRS:,})"
                   if counts.get("estimation_pairs_not_listed") else ""))
        clustered = date_clusters(arrays.day0, events["ticker"].to_numpy(dtype=object)) \
            if n else np.zeros(0, dtype=bool)
        counts["events_studied"] = n
        counts["clustered_events"] = int(clustered.sum())
        counts["clustered_share"] = float(clustered.mean()) if n else 0.0
        if clustered.any():
            diagnostics.append(
                f"event-date clustering: {int(clustered.sum())} of {n} events "
                f"({clustered.mean():.0%}) share their day 0 with another firm's event; the "
                "cross-sectional dependence this brings biases Patell and BMP: read the "
                "Kolari-Pynnonen adjusted tests (kp_patell, kp_bmp) and Brown-Warner 1985")
        if n:
            events["clustered_day0"] = clustered
        # per-event diagnostics
        diag: pd.DataFrame | _EventDiagnostics = pd.DataFrame(
            {"event_id": events["event_id"].array, "ticker": events["ticker"].array})
        if n:
            # computed on first access (diagnostics.csv, result.event_diagnostics), in blocks
            diag = _EventDiagnostics(events, arrays)
            stale = events.loc[events.get("stale", pd.Series(False, index=events.index))
                               .astype(bool)]
            if len(stale):
                shown = ", ".join(f"{r.event_id} ({r.ticker}, {r.zero_returns:.0%})"
                                  for r in stale.head(8).itertuples(index=False))
                diagnostics.append(
                    f"stale prices: {len(stale)} event(s) have zero returns on at least "
                    f"{STALE_SHARE:.0%} of their event-window sessions: {shown}"
                    + (" ..." if len(stale) > 8 else "") + " (see diagnostics.csv)")
        out: dict[str, Any] = {"overlaps": overlaps, "screened": screened,
                               "event_diagnostics": diag, "pretrend": _Pretrend(arrays),
                               "screening": counts}
        if s.group is not None and n:
            out.update(self._group_tables(events, arrays, car))
        return out

    def _group_tables(self, events: pd.DataFrame, arrays: StudyArrays, car: pd.DataFrame
                      ) -> dict[str, Any]:
        """AAR and CAAR tables with every test per group, and the between-group tests."""
        s = self.settings
        assert s.group is not None
        labels = events[s.group].astype("string").fillna("(none)").to_numpy(dtype=object)
        est = np.asarray(arrays.est_residuals, float)
        # (N, W) BHARs: car.csv is window-major, events in order within each window
        n_win, n_events = len(s.car_windows), len(events)
        bhar = car["bhar"].to_numpy(dtype=float).reshape(n_win, n_events).T
        aars, aggs = [], []
        for name in sorted(pd.unique(labels)):
            rows = np.flatnonzero(labels == name)
            sub = replace(arrays, ar=arrays.ar[rows], ar_var=arrays.ar_var[rows],
                          est_residuals=est[rows], sigma2=arrays.sigma2[rows],
                          df=arrays.df[rows], day0=arrays.day0[rows],
                          car=None if arrays.car is None else arrays.car[rows],
                          car_var=None if arrays.car_var is None else arrays.car_var[rows])
            a, g, _ = self._test_tables(sub, _window_major(bhar[rows]))
            a.insert(0, "group", name)
            g.insert(0, "group", name)
            aars.append(a)
            aggs.append(g)
        group_aar = pd.concat(aars, ignore_index=True)
        group_agg = pd.concat(aggs, ignore_index=True)
        if s.adjust is not Adjustment.none:
            group_aar, group_agg = adjust_tables(group_aar, group_agg, s.adjust)
        windows = [format_window(w) for w in s.car_windows]
        values = (np.asarray(arrays.car, float) if arrays.car is not None
                  else np.empty((len(events), 0)))
        diffs = group_differences(values, labels, windows, alternative=s.alternative,
                                  n_boot=s.n_boot, seed=s.seed)
        return {"group_aar": group_aar, "group_aggregate": group_agg,
                "group_differences": diffs,
                "groups": pd.Series(labels, index=events["event_id"].to_numpy(), dtype=object)}

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
        p[finite] = 2 * t_sf(np.abs(t[finite]), np.maximum(df[finite], 1))
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

    def _test_tables(self, arrays: StudyArrays, bhar: np.ndarray
                     ) -> tuple[pd.DataFrame, pd.DataFrame, CrossEventTests]:
        """Build the AAR and CAR-window tables with every cross-event test (inference.py).

        ``bhar``: the ``(N, W)`` BHARs of the mean-BHAR tests.
        """
        s = self.settings
        tests = cross_event_tests(TestInputs.from_study(arrays), s.alternative,
                                  n_boot=s.n_boot, seed=s.seed, boot_streams=s.boot_streams)
        labels = [format_window(w) for w in s.car_windows]
        aar = aar_table(arrays.rel_days, arrays.ar, tests)
        aggregate = aggregate_table(labels, np.asarray(arrays.car), tests, bhar=bhar)
        # the Lyon-Barber-Tsai bootstrap beside the battery's t and t_sa, for the long
        # windows only (see StudySettings.long_window)
        long = [j for j, (a, b) in enumerate(s.car_windows) if b - a + 1 >= s.long_window]
        for col in ("bhar_tsa_boot", "bhar_tsa_boot_p"):
            aggregate[col] = np.nan
        if long:
            boot = bhar_test_columns(bhar[:, long], n_boot=s.n_boot, seed=s.seed,
                                     alternative=s.alternative)
            for col in ("bhar_tsa_boot", "bhar_tsa_boot_p"):
                aggregate.loc[long, col] = boot[col]
        return aar, aggregate, tests


def _window_major(a: np.ndarray) -> np.ndarray:
    """``a`` (events x windows) stored window by window, as car.csv's column reads."""
    return np.ascontiguousarray(a.T).T


def _general_chunk(panel: ExchangePanel, stock_rows: IntArray, market_rows: IntArray,
                   day0: IntArray, plan: ChunkPlan, exclude: np.ndarray | None = None, *,
                   settings: StudySettings, fpanel: FactorPanel | None,
                   labels: pd.DatetimeIndex) -> EventBlock:
    """One chunk by the general path: gather both windows, estimate, ARs and CARs.

    ``exclude`` (``(E, L1)``, optional) marks estimation days left out of the fit.
    """
    s, spec = settings, plan.spec
    est = gather(panel, stock_rows, market_rows, day0, plan.est_days, spec.estimation_columns,
                 excess=spec.excess, factors=fpanel, model=spec.name)
    if exclude is not None:
        est = replace(est, valid=est.valid & ~exclude)
    evt = gather(panel, stock_rows, market_rows, day0, plan.evt_days, spec.regressors,
                 excess=spec.excess, factors=fpanel, model=spec.name)
    fit, ab, problems = estimate(est, evt, spec, s.method, s.hac_lags,
                                 gap=s.window[0] - s.estimation[1] - 1)
    missing = None
    if s.missing is MissingPolicy.fail:
        missing = missing_price_reasons(est, evt, fit, plan.est_days, plan.evt_days, day0,
                                        labels)
    return block_from_fit(evt, fit, ab, plan, problems.reason, missing)




def _zero_shares(panel: ExchangePanel, stock_rows: IntArray, day0: IntArray,
                 s: StudySettings) -> dict[str, np.ndarray]:
    """Share of zero returns of each event's stock in its event and estimation windows.

    From running sums along the stocks' sessions (``window_zero_shares``: the counts of
    ``zero_return_share`` on the gathered windows, without gathering them).
    """
    shares = window_zero_shares(panel.returns, panel.span, stock_rows, day0,
                                (s.window, s.estimation))
    out = {"zero_returns": shares[0], "zero_returns_estimation": shares[1]}
    out["stale"] = out["zero_returns"] >= STALE_SHARE
    return out


class _Pretrend(Thunk):
    """The joint pre-trend test of the pre-event AARs, computed when first read."""

    def __init__(self, arrays: StudyArrays) -> None:
        self._arrays = arrays

    def __call__(self) -> PretrendTest:
        a = self._arrays
        return pretrend_test(a.rel_days, a.ar, a.ar_var)


class _EventDiagnostics(Thunk):
    """Per-event residual diagnostics, built when first read, a block of events at a time.

    Jarque-Bera, Ljung-Box and ARCH-LM need every event's estimation residuals and
    a few (events x days x lags) temporaries: computed in blocks of
    :data:`DIAGNOSTIC_BLOCK` events they stay a few hundred MB at any study size,
    and a study that never reads them (the library at scale) never pays for them.
    """

    def __init__(self, events: pd.DataFrame, arrays: StudyArrays) -> None:
        self._ids = events["event_id"].to_numpy(dtype=object)
        self._tickers = events["ticker"].to_numpy(dtype=object)
        self._extra = {c: events[c].to_numpy() for c in
                       ("zero_returns", "zero_returns_estimation", "stale") if c in events}
        self._arrays = arrays

    def __call__(self) -> pd.DataFrame:
        est: Any = pending_value(self._arrays, "est_residuals")  # blocks: not all at once
        if est is None or not hasattr(est, "rows"):
            est = np.asarray(self._arrays.est_residuals, float)
        n = len(self._ids)
        parts = []
        for lo in range(0, n, DIAGNOSTIC_BLOCK):
            sl = slice(lo, min(lo + DIAGNOSTIC_BLOCK, n))
            rows = est.rows(sl) if hasattr(est, "rows") else est[sl]
            parts.append(residual_diagnostics(np.asarray(rows, float)))
        checks = (pd.concat(parts, ignore_index=True) if parts
                  else residual_diagnostics(np.zeros((0, 1))))
        frame = pd.concat([pd.DataFrame({"event_id": self._ids, "ticker": self._tickers}),
                           checks], axis=1)
        for col, values in self._extra.items():
            frame[col] = values
        return frame
