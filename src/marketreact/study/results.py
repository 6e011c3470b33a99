"""The result of an event study: per-event arrays, lazy long tables and the test battery."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from marketreact._lazy import Thunk, deferred
from marketreact._typing import FloatArray, IntArray, Window
from marketreact.inference.base import TEST_NAMES, CrossEventTests
from marketreact.models.diagnostics import PretrendTest
from marketreact.models.moments import (
    RESIDUAL_CHUNK,
    MomentSource,
)
from marketreact.panel.measures import measure_words
from marketreact.panel.returns import ExchangePanel
from marketreact.render.figures import caar_figure, car_bars_figure, event_price_figure
from marketreact.render.html import result_html
from marketreact.render.summary import Summary, caar_bhar_table
from marketreact.render.text import Column, format_tests, summary_text, table_lines
from marketreact.study.settings import StudySettings
from marketreact.windows import (
    CHUNK_EVENTS,
    _window_prices,
    format_window,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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
    overlaps : pandas.DataFrame
        ``event_id, ticker, day0, other_id, other_day0, rel_day, window, source``:
        other news of each event's firm inside its event or estimation window
        (built on first access: millions of rows at a million events).
    screened : pandas.DataFrame
        ``event_id, ticker, day0, action, reason``: events merged or left out by
        the duplicates and overlap policies (not failures).
    event_diagnostics : pandas.DataFrame
        Per studied event: Jarque-Bera, Ljung-Box and ARCH-LM tests of the
        estimation residuals, zero-return shares and the stale flag.
    pretrend : PretrendTest or None
        Joint test that the pre-event AARs are zero (computed when first read).
    screening : dict
        Counts: events in, distinct events, duplicates and overlaps found,
        events left out, clustered events and their share.
    group_aar, group_aggregate : pandas.DataFrame or None
        With ``group``: the AAR and CAAR tables of each group (column ``group``
        first) with every test.
    group_differences : pandas.DataFrame or None
        With ``group``: Welch t, Wilcoxon rank-sum and bootstrap tests of the
        difference of mean CARs between every pair of groups.
    groups : pandas.Series or None
        With ``group``: the group of each studied event, by event id.
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
    overlaps: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["event_id", "ticker", "day0", "other_id", "other_day0", "rel_day", "window",
                 "source"]))
    screened: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["event_id", "ticker", "day0", "action", "reason"]))
    event_diagnostics: pd.DataFrame = field(default_factory=pd.DataFrame)
    pretrend: PretrendTest | None = None
    screening: dict[str, Any] = field(default_factory=dict)
    group_aar: pd.DataFrame | None = None
    group_aggregate: pd.DataFrame | None = None
    group_differences: pd.DataFrame | None = None
    groups: pd.Series | None = None

    @property
    def n_events(self) -> int:
        """Number of events studied successfully."""
        return len(self.events)

    def to_frame(self) -> pd.DataFrame:
        """CARs of every event and window in one wide frame (event x window).

        Windows are columns in the order of ``settings.car_windows`` (numeric order as
        given, not the text order of their labels).
        """
        wide = self.car.pivot(index="event_id", columns="window", values="car")
        order = [format_window(w) for w in self.settings.car_windows]
        return wide.reindex(columns=[w for w in order if w in wide.columns])

    def summary(self) -> Summary:
        """Summarise settings, CAAR per window with every test, and failures (statsmodels style).

        Returns
        -------
        marketreact.render.summary.Summary
            The text summary (a ``str``: printing it shows the text), with
            ``as_text()``, ``as_html()`` and ``as_latex()`` (booktabs tables of the
            settings and of the CAAR, test and BHAR-test rows by window).
        """
        s = self.settings.to_dict()
        header = [("model", s["model"]), ("measure", s["measure"]),
                  ("estimation", format_window(self.settings.estimation)),
                  ("event window", format_window(self.settings.window)),
                  ("returns", s["returns"]), ("alternative", s["alternative"]),
                  ("events studied", str(self.n_events)), ("failed", str(len(self.failures)))]
        words = measure_words(self.settings.measure)  # BHARs exist for returns only
        names = ["window", "n", "caar", "t", "p", *(["mean_bhar"] if words.has_bhar else [])]
        columns = [replace(c, header=words.cumulative_average) if c.header == "CAAR" else c
                   for c in _AGGREGATE_COLUMNS[:len(names)]]
        aggregate = table_lines(columns, self.aggregate[names].itertuples(index=False))
        tests = ""
        if self.tests is not None and len(self.aggregate):
            r_bar = np.asarray(self.tests.r_bar)
            tests = format_tests(
                tests_frame(self.tests, list(self.aggregate["window"]),
                            self.aggregate["caar"].to_numpy()),
                alternative=self.tests.alternative.value,
                r_bar=float(r_bar) if r_bar.ndim == 0 else None,
                label=words.cumulative_average)
        failed = [f"  {row.event_id}: {row.reason}"
                  for row in self.failures.itertuples(index=False)]
        text = summary_text("Event study", header, [
            self._screening_lines(), aggregate, self._adjusted_lines(), tests.splitlines(),
            self._pretrend_lines(), self._group_lines(),
            ["failed events:", *failed] if failed else []])
        return Summary(text, title="Event study", header=header,
                       tables=[caar_bhar_table(self.aggregate, words=words)]
                       if len(self.aggregate) else [])

    def screening_lines(self) -> list[str]:
        """Lines on the screening, adjusted p-values, pre-event trend and groups (for the CLI)."""
        return (self._screening_lines() + self._adjusted_lines() + self._pretrend_lines()
                + self._group_lines())

    def _screening_lines(self) -> list[str]:
        c = self.screening
        if not c:
            return []
        s = self.settings
        return [f"screening: {c.get('events_in', 0)} events in, "
                f"{c.get('distinct_events', 0)} distinct (ticker, day 0); "
                f"duplicates={s.duplicates.value} ({c.get('duplicates_left_out', 0)} merged or "
                f"left out); overlaps: {c.get('overlap_pairs_event', 0)} in event windows, "
                f"{c.get('overlap_pairs_estimation', 0)} in estimation windows"
                + (f", {c.get('confounder_pairs', 0)} with confounders"
                   if c.get("confounder_pairs") else "")
                + f"; overlap={s.overlap.value} ({c.get('overlap_left_out', 0)} left out)"
                + ("; clean estimation" if s.clean_estimation else ""),
                f"event-date clustering: {c.get('clustered_events', 0)} of "
                f"{c.get('events_studied', 0)} events "
                f"({c.get('clustered_share', 0.0):.0%}) share a day 0 with another firm "
                "(see the Kolari-Pynnonen adjusted tests)"]

    def _adjusted_lines(self) -> list[str]:
        s = self.settings
        if s.adjust.value == "none" or "p_adj" not in self.aggregate:
            return []
        return [f"adjusted p ({s.adjust.value}, across the event-window days and CAR windows, "
                "per test): " + ", ".join(f"{w} {p:.4f}" for w, p in zip(
                    self.aggregate["window"], self.aggregate["p_adj"], strict=True))]

    def _pretrend_lines(self) -> list[str]:
        pt = self.pretrend
        if pt is None or not pt.days:
            return []
        return [f"pre-event trend (AAR = 0 on days {pt.days[0]:+d}..{pt.days[-1]:+d}): "
                f"Hotelling F({len(pt.days)}, {pt.n - len(pt.days)}) = {pt.hotelling_f:.3f}, "
                f"p = {pt.hotelling_p:.4f}"
                + (f" [{pt.reason}]" if pt.reason else "")
                + f"; chi2({len(pt.days)}) of standardised AARs = {pt.chi2:.3f}, "
                f"p = {pt.chi2_p:.4f}"]

    def _group_lines(self) -> list[str]:
        if self.group_aggregate is None:
            return []
        lines = [f"groups ({self.settings.group}): CAAR by window, cross-sectional t"]
        for r in self.group_aggregate.itertuples(index=False):
            lines.append(f"  {r.group:<16} {r.window:<10} N={r.n:<5d} CAAR={r.caar:+.5f} "
                         f"t={r.t:.3f} p={r.p:.4f}")
        if self.group_differences is not None and len(self.group_differences):
            lines.append("between groups (a - b): Welch t, Wilcoxon rank-sum, bootstrap")
            for d in self.group_differences.itertuples(index=False):
                lines.append(f"  {d.window:<10} {d.group_a} - {d.group_b}: "
                             f"diff={d.difference:+.5f} Welch t={d.welch_t:.3f} "
                             f"p={d.welch_p:.4f}; rank-sum z={d.ranksum_z:.3f} "
                             f"p={d.ranksum_p:.4f}; bootstrap "
                             f"[{d.boot_lo:+.5f}, {d.boot_hi:+.5f}] p={d.boot_p:.4f}")
        return lines

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """HTML tables for Jupyter: settings, CAAR by window, events and failures."""
        return result_html(self.events, self.car, self.aggregate, self.settings.to_dict(),
                           failures=self.failures, abnormal_returns=self.abnormal_returns)

    def plot(self, kind: str = "caar", **kwargs: Any) -> Any:
        """Plot the result; returns a :class:`matplotlib.figure.Figure`.

        Parameters
        ----------
        kind : {"caar", "car", "price"}
            ``caar``: CAAR over the event window with its 95% band; ``car``:
            day-0 AR and CAR bars per event; ``price``: the stock and its market
            index around one event (give ``event_id=...``; default the first).
        **kwargs
            Passed to the plotting function in :mod:`marketreact.render.figures`.

        Returns
        -------
        matplotlib.figure.Figure
        """
        return plot_result(self, kind, **kwargs)


deferred(StudyResult, "abnormal_returns", "event_diagnostics", "overlaps", "pretrend")


_AGGREGATE_COLUMNS = (Column("window", 10, align="<"), Column("N", 6, "d"),
                      Column("CAAR", 12, ".5f"), Column("t", 10, ".3f"), Column("p", 10, ".4f"),
                      Column("mean BHAR", 14, ".5f"))


def tests_frame(tests: CrossEventTests, labels: list[str], caar: FloatArray) -> pd.DataFrame:
    """The cross-event tests of the CAR windows as one row per window and test.

    Parameters
    ----------
    tests : CrossEventTests
        The tests.
    labels : list of str
        Window labels, in the order of ``tests.windows``.
    caar : numpy.ndarray
        ``(W,)`` CAAR of each window.

    Returns
    -------
    pandas.DataFrame
        ``window, caar, n, test, statistic, pvalue, null, reason`` (``null``: the
        null distribution, or the bootstrap's percentile interval; ``reason``: why
        a test could not be computed, empty where it was), the frame
        :func:`marketreact.render.text.format_tests` lays out.
    """
    rows = []
    for j, label in enumerate(labels):
        n = int(tests.windows["t"].n[j])
        for name in TEST_NAMES:
            r = tests.windows[name]
            reason = str(r.reason[j])
            null = "" if reason else r.dist_label(j)
            if name == "boot" and not reason:
                null = f"[{r.extra['lo'][j]:.4f}, {r.extra['hi'][j]:.4f}]"
            rows.append((label, float(caar[j]), n, r.title, float(r.stat[j]),
                         float(r.pvalue[j]), null, reason))
    return pd.DataFrame(rows, columns=["window", "caar", "n", "test", "statistic", "pvalue",
                                       "null", "reason"])


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

    def rows(self, index: slice, out: FloatArray | None = None) -> FloatArray:
        """The rows ``index`` (a slice of the result's events) only.

        ``out``: a C-ordered float64 array of at least those rows, filled and returned (its
        first rows; a scratch reused block after block); by default a new array.
        """
        a, b, _ = index.indices(self.n_rows)
        m = max(b - a, 0)
        out = np.empty((m, self.width)) if out is None else out[:m]
        for source, rows in self.sources:  # rows: increasing positions of a part's events
            i0, i1 = np.searchsorted(rows, [a, b])
            if i1 <= i0:
                continue
            at = rows[i0:i1] - a
            if not isinstance(source, MomentSource):
                out[at] = source[i0:i1]
            elif at[-1] - at[0] == len(at) - 1:  # one run of rows: computed in place
                source.residuals(slice(i0, i1), out=out[at[0]:at[-1] + 1])
            else:
                out[at] = source.residuals(slice(i0, i1))
        return out

    def __call__(self) -> FloatArray:
        out = np.empty((self.n_rows, self.width))
        chunks = []
        for source, rows in self.sources:
            if isinstance(source, MomentSource):
                contiguous = len(rows) and rows[-1] - rows[0] == len(rows) - 1
                for lo in range(0, len(rows), RESIDUAL_CHUNK):
                    sl = slice(lo, lo + RESIDUAL_CHUNK)
                    at = (slice(rows[0] + lo, rows[0] + min(lo + RESIDUAL_CHUNK, len(rows)))
                          if contiguous else rows[sl])
                    chunks.append((source, sl, at))
            else:
                out[rows] = source

        def place(chunk: tuple[MomentSource, slice, Any]) -> None:
            source, sl, at = chunk
            if isinstance(at, slice):  # one run of rows: computed in place
                source.residuals(sl, out=out[at])
            else:
                out[at] = source.residuals(sl)

        # chunks write rows of their own: on two threads (the compiled loop and numpy's
        # copies release the GIL), the same numbers
        workers = min(2, os.cpu_count() or 1, len(chunks))
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(place, chunks))
        else:
            for chunk in chunks:
                place(chunk)
        return out


def volatility_arrays(arrays: Any) -> Any:
    """Turn the arrays of a return study into those of an abnormal-volatility study.

    Parameters
    ----------
    arrays : marketreact.study.StudyArrays
        Arrays of the return study (ARs, their variances, estimation residuals,
        CAR windows).

    Returns
    -------
    marketreact.study.StudyArrays
        Same shapes; ``ar`` holds ``AV_it``, ``car`` the cumulative ``AV`` of
        each window, with variances, residuals and degrees of freedom of the
        constant-mean model for ``u`` (see the module docstring).
    """
    est = np.asarray(arrays.est_residuals, float)
    ok_e = np.isfinite(est)
    n = ok_e.sum(axis=1).astype(float)
    sigma2 = np.asarray(arrays.sigma2, float)
    df = np.asarray(arrays.df, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        u_est = est**2 / sigma2[:, None] * (n / df)[:, None]
        resid = u_est - 1.0
        s2v = np.where(ok_e, resid**2, 0.0).sum(axis=1) / (n - 1.0)
        u = arrays.ar**2 / arrays.ar_var
    av = u - 1.0
    ok = np.isfinite(av)
    ar_var = np.where(ok, (s2v * (1.0 + 1.0 / n))[:, None], np.nan)
    rel_days = np.asarray(arrays.rel_days)
    cars, cvars = [], []
    for a, b in arrays.car_windows:
        cols = slice(int(np.searchsorted(rel_days, a)),
                     int(np.searchsorted(rel_days, b, side="right")))
        part_ok = ok[:, cols]
        length = part_ok.sum(axis=1).astype(float)
        cars.append(np.where(length > 0, np.where(part_ok, av[:, cols], 0.0).sum(axis=1),
                             np.nan))
        with np.errstate(divide="ignore", invalid="ignore"):
            cvars.append(np.where(length > 0, s2v * (length + length**2 / n), np.nan))
    shape = (len(av), 0)
    return replace(
        arrays, ar=av, ar_var=ar_var, est_residuals=np.where(ok_e, resid, np.nan),
        sigma2=s2v, df=np.maximum(n - 1.0, 0).astype(np.int64),
        car=np.stack(cars, axis=1) if cars else np.empty(shape),
        car_var=np.stack(cvars, axis=1) if cvars else np.empty(shape))


def plot_result(result: StudyResult, kind: str = "caar", **kwargs: Any) -> Figure:
    """Plot a :class:`~marketreact.study.StudyResult` (see ``StudyResult.plot``)."""
    kwargs.setdefault("words", measure_words(result.settings.measure))
    if kind == "caar":
        if result.groups is not None and "groups" not in kwargs:
            kwargs["groups"] = result.groups
        return caar_figure(result.abnormal_returns, **kwargs)
    if kind == "car":
        return car_bars_figure(result.abnormal_returns, result.car, **kwargs)
    if kind == "price":
        event_id = kwargs.pop("event_id", None)
        if event_id is None:
            if result.events.empty:
                raise ValueError("no event was studied")
            event_id = str(result.events["event_id"].iloc[0])
        return event_price_figure(result.abnormal_returns, event_id, result.events, **kwargs)
    raise ValueError(f"unknown plot kind {kind!r}: use caar, car or price")
