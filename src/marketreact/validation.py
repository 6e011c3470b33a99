"""Are the cross-event tests well specified? A Brown-Warner (1985) simulation on real prices.

Samples of ``n_events`` (stock, day-0) pairs are drawn at random from a real
price panel (US: the Dow-type large caps against SPY; IDX: the LQ45-type
stocks against ^JKSE). The market model is fitted on ``[-244, -6]`` and the
tests are run on the event window ``[-5, +5]``: the AAR of day 0 and the CAAR of
``[-1, +1]``. An abnormal return (0, 0.5%, 1%, 2%) is added on day 0 and the
share of samples in which each test rejects at 5% is counted, two-sided and
one-sided.

Designs
-------
``random``
    Independent draws of stock and date (Brown & Warner 1985).
``clustered``
    All events of a sample share one random date (and so one market shock):
    the cross-correlation that Kolari & Pynnönen (2010) correct for.
``variance``
    Random draws, with day-0 variance doubled (noise with the variance of the
    event's own day-0 forecast error added; Boehmer et al. 1991), and the same
    mean shifts.

Both panels hold stocks still listed in 2026 (survivors): a sample of
survivors, not the market at the time.

Everything is vectorised over samples: a chunk of samples is a leading batch
axis of the test arrays (:mod:`marketreact.inference`).

Intraday mode (:func:`draw_intraday_events`, :func:`intraday_rejection_rates`):
random news times on real hourly bars (BAC, AIG, IBM, AAPL against SPY), the
market model on the 20 previous sessions' regular bars, an abnormal return added
to the event bar; the battery and the time-of-day rank test (after Saha &
Rinaudo 2014) on the bar-0 AAR and the CAAR of ``[0, +1]``. The fitting is the
intraday study's (the caller fits the drawn events and hands the result in; this
floor does not import ``study``).

Computation only: the prices come in as frames (the CLI reads the panel folders,
``marketreact validate``) and the results go out as frames (written by
:mod:`marketreact.output.validation`).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
from scipy import stats

from marketreact._typing import FloatArray, IntArray, Window
from marketreact.calendar import exchange_sessions
from marketreact.errors import InputError
from marketreact.inference.base import (
    TEST_NAMES,
    Alternative,
    TestInputs,
    window_columns,
)
from marketreact.inference.battery import cross_event_tests_multi
from marketreact.models.linear import abnormal_returns, cumulate, fit_linear
from marketreact.models.spec import MODELS, ModelName
from marketreact.panel.bars import BarPanel
from marketreact.panel.returns import ExchangePanel, ReturnKind
from marketreact.panel.table import PriceTable
from marketreact.prices import PriceFetch
from marketreact.windows import format_window, gather

log = logging.getLogger(__name__)

DESIGNS = ("random", "clustered", "variance")
COLUMNS = ["panel", "design", "test", "window", "abnormal", "alternative", "rejection_rate",
           "n_samples", "band_lo", "band_hi"]


@dataclass(frozen=True)
class PanelSpec:
    """A real panel to draw events from.

    Attributes
    ----------
    name : str
        Label in the results (``us``, ``idx``).
    folder : str
        Sub-folder of the prices directory holding the panel's files (read by
        the caller, e.g. ``marketreact validate``).
    exchange : str
        Calendar code.
    market : str
        Market index ticker.
    exclude : tuple of str
        Tickers of the folder that are not stocks of the panel (the market
        index is never one).
    max_abs_return : float, optional
        One-session returns beyond this are taken for data errors: (stock,
        day 0) pairs whose windows hold one are not drawn.
    """

    name: str
    folder: str
    exchange: str
    market: str
    exclude: tuple[str, ...] = ()
    max_abs_return: float | None = None


PANELS: dict[str, PanelSpec] = {
    "us": PanelSpec("us", "us", "XNYS", "SPY", ("SPY", "EIDO")),
    # IDX auto-rejects orders beyond 35% a day at most; the Yahoo files hold a few larger
    # one-day jumps that reverse the next day (HMSP 2007-09-26/27, MAPI 2018-05, ANTM 2008-09).
    "idx": PanelSpec("idx", "idx", "XIDX", "JKSE", ("JKSE",), max_abs_return=0.35),
}


@dataclass(frozen=True)
class SimulationSettings:
    """Settings of the simulation.

    Attributes
    ----------
    n_samples : int
        Samples per design (>= 1,000 for the published tables).
    n_events : int
        Events per sample.
    estimation, window : tuple of int
        Estimation and event windows in sessions.
    car_window : tuple of int
        Window whose CAAR is tested besides the day-0 AAR.
    abnormal : tuple of float
        Abnormal returns added on day 0.
    alpha : float
        Nominal level.
    min_estimation : int
        Fewest one-session estimation returns an eligible event needs.
    min_nonzero : int
        Fewest non-zero estimation returns an eligible event needs (leaves out
        stocks frozen at a floor price, such as DEWA.JK at 50 IDR in 2013).
    n_boot : int
        Bootstrap resamples.
    chunk : int
        Samples processed at once.
    seed : int
        Seed of every random draw.
    """

    n_samples: int = 1000
    n_events: int = 50
    estimation: Window = (-244, -6)
    window: Window = (-5, 5)
    car_window: Window = (-1, 1)
    abnormal: tuple[float, ...] = (0.0, 0.005, 0.01, 0.02)
    alpha: float = 0.05
    min_estimation: int = 200
    min_nonzero: int = 20
    n_boot: int = 999
    chunk: int = 250
    seed: int = 20240605


@dataclass(frozen=True)
class SimPanel:
    """A return panel with the eligibility of every (stock, session) as day 0."""

    spec: PanelSpec
    panel: ExchangePanel
    stock_rows: IntArray
    market_row: int
    eligible: np.ndarray  # (n_stocks, T) bool over stock_rows

    @property
    def first_date(self) -> pd.Timestamp:
        """First session with an eligible event."""
        cols = np.flatnonzero(self.eligible.any(axis=0))
        return pd.Timestamp(self.panel.sessions.labels[cols[0] if len(cols) else 0])

    @property
    def last_date(self) -> pd.Timestamp:
        """Last session with an eligible event."""
        cols = np.flatnonzero(self.eligible.any(axis=0))
        return pd.Timestamp(self.panel.sessions.labels[cols[-1] if len(cols) else -1])


#: Prices of one panel: frames by ticker (as a source returns them, not yet cleaned), what
#: a source's ``fetch`` returned, or a price table already built.
PanelPrices = Mapping[str, pd.DataFrame] | PriceFetch | PriceTable


def panel_tickers(spec: PanelSpec, available: Sequence[str]) -> list[str]:
    """The tickers a panel needs out of those ``available``: its stocks, then its market index."""
    return [*[t for t in available if t not in spec.exclude and t != spec.market], spec.market]


def load_panel(prices: PanelPrices, spec: PanelSpec, settings: SimulationSettings) -> SimPanel:
    """Line up a panel of real prices and mark the eligible (stock, day 0) pairs.

    The frames are cleaned (:class:`~marketreact.panel.table.PriceTable`); every
    ticker but the excluded ones and the market index is a stock of the panel. A
    pair is eligible when the stock and the market have one-session returns
    on every day of the event window and the stock has at least
    ``min_estimation`` of them (with the market's) in the estimation window,
    ``min_nonzero`` of which are not zero, and no return of the stock from the
    start of the estimation window to the end of the event window exceeds the
    panel's ``max_abs_return``.

    Parameters
    ----------
    prices : mapping of str to pandas.DataFrame, PriceFetch or PriceTable
        The panel's standard price frames by ticker, its market index's among them.
    spec : PanelSpec
        The panel.
    settings : SimulationSettings
        Windows and eligibility thresholds.

    Returns
    -------
    SimPanel

    Raises
    ------
    InputError
        When the market index has no prices or no stock has any.
    """
    failures = prices.failures if isinstance(prices, PriceFetch) else {}
    frames = prices.frames if isinstance(prices, PriceFetch) else prices
    table = frames if isinstance(frames, PriceTable) else PriceTable(frames)
    if spec.market not in table:
        why = failures.get(spec.market, "not given, or no usable row")
        raise InputError(f"panel {spec.name}: no prices of its market index {spec.market} "
                         f"({why})")
    names = panel_tickers(spec, list(table))[:-1]
    if not names:
        raise InputError(f"panel {spec.name}: no stock has prices")
    span = table.date_range(table.rows([*names, spec.market]))
    assert span is not None  # the market has rows
    sessions = exchange_sessions(spec.exchange, span[0], span[1], table.index_of(spec.market),
                                 spec.market)
    panel = table.panel(sessions, [*names, spec.market], ReturnKind.simple)
    rows = np.arange(len(names), dtype=np.int64)
    m_row = len(names)
    one = np.isfinite(panel.returns) & (panel.span == 1)
    ok = one[rows] & one[m_row][None, :]
    cum = np.zeros((len(rows), ok.shape[1] + 1), dtype=np.int64)
    cum[:, 1:] = np.cumsum(ok, axis=1)
    moved = ok & (panel.returns[rows] != 0)
    cum_moved = np.zeros_like(cum)
    cum_moved[:, 1:] = np.cumsum(moved, axis=1)
    limit = np.inf if spec.max_abs_return is None else spec.max_abs_return
    with np.errstate(invalid="ignore"):
        wild = np.isfinite(panel.returns[rows]) & (np.abs(panel.returns[rows]) > limit)
    cum_wild = np.zeros_like(cum)
    cum_wild[:, 1:] = np.cumsum(wild, axis=1)
    T = ok.shape[1]
    d = np.arange(T)
    (e0, e1), (w0, w1) = settings.estimation, settings.window
    inside = (d + e0 >= 0) & (d + w1 < T)
    dc = np.clip(d, -e0, T - 1 - w1)

    def count(a: int, b: int, c: np.ndarray = cum) -> np.ndarray:
        return c[:, dc + b + 1] - c[:, dc + a]

    eligible = (inside[None, :] & (count(w0, w1) == w1 - w0 + 1)
                & (count(e0, e1) >= settings.min_estimation)
                & (count(e0, e1, cum_moved) >= settings.min_nonzero)
                & (count(e0, w1, cum_wild) == 0))
    return SimPanel(spec, panel, rows, m_row, eligible)


def draw_events(sim: SimPanel, n_samples: int, n_events: int, clustered: bool,
                rng: np.random.Generator) -> tuple[IntArray, IntArray]:
    """Draw ``n_samples`` samples of ``n_events`` eligible (stock, day 0) pairs.

    Returns
    -------
    stock_rows, day0 : numpy.ndarray
        ``(n_samples, n_events)`` panel rows and day-0 positions. Clustered
        samples share one date drawn among those with at least ``n_events``
        eligible stocks, and take distinct stocks.
    """
    elig = sim.eligible
    if not clustered:
        flat = np.flatnonzero(elig)
        pick = flat[rng.integers(0, len(flat), size=(n_samples, n_events))]
        stock, day = np.divmod(pick, elig.shape[1])
        return sim.stock_rows[stock], day
    dates = np.flatnonzero(elig.sum(axis=0) >= n_events)
    if not len(dates):
        raise ValueError(f"{sim.spec.name}: no date has {n_events} eligible stocks")
    day = dates[rng.integers(0, len(dates), size=n_samples)]
    keys = np.where(elig[:, day].T, rng.random((n_samples, elig.shape[0])), np.inf)
    stock = np.argsort(keys, axis=1)[:, :n_events]
    return sim.stock_rows[stock], np.repeat(day[:, None], n_events, axis=1)


@dataclass(frozen=True)
class _Chunk:
    inputs: TestInputs
    day0_col: int
    car_has_day0: bool


def _fit_chunk(sim: SimPanel, stock: IntArray, day0: IntArray,
               settings: SimulationSettings) -> _Chunk:
    spec = MODELS[ModelName.market_model]
    s, n = stock.shape
    flat_stock, flat_day = stock.ravel(), day0.ravel()
    market = np.full(flat_stock.shape, sim.market_row, dtype=np.int64)
    est_days = np.arange(settings.estimation[0], settings.estimation[1] + 1)
    evt_days = np.arange(settings.window[0], settings.window[1] + 1)
    est = gather(sim.panel, flat_stock, market, flat_day, est_days, spec.regressors)
    evt = gather(sim.panel, flat_stock, market, flat_day, evt_days, spec.regressors)
    fit = fit_linear(est, spec)
    ab = abnormal_returns(evt, fit)
    cols = window_columns(evt_days, settings.car_window)
    cum = cumulate(evt, fit, ab, cols, log_returns=False)

    def shape(a: np.ndarray) -> np.ndarray:
        return a.reshape(s, n, *a.shape[1:])

    inputs = TestInputs(shape(ab.ar), shape(ab.variance), shape(fit.residuals),
                        shape(fit.sigma2), shape(fit.df.astype(float)),
                        (slice(cols.start, cols.stop),),
                        shape(cum.car)[..., None], shape(cum.variance)[..., None])
    day0_col = int(np.searchsorted(evt_days, 0))
    return _Chunk(inputs, day0_col, settings.car_window[0] <= 0 <= settings.car_window[1])


def _shifted(chunk: _Chunk, shift: np.ndarray) -> TestInputs:
    """Add ``shift`` (``(S, N)``) to every event's day-0 AR and to the CARs that hold day 0."""
    inp = chunk.inputs
    ar = inp.ar.copy()
    ar[..., chunk.day0_col] += shift
    assert inp.car is not None
    car = inp.car + (shift[..., None] if chunk.car_has_day0 else 0.0)
    return TestInputs(ar, inp.ar_var, inp.est_residuals, inp.sigma2, inp.df, inp.windows,
                      car, inp.car_var)


def simulate_panel(sim: SimPanel, settings: SimulationSettings,
                   designs: Sequence[str] = DESIGNS,
                   alternatives: Sequence[Alternative] = tuple(Alternative)
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rejection rates of every test on one panel.

    Returns
    -------
    rates : pandas.DataFrame
        Columns :data:`COLUMNS`; ``window`` is ``AAR(0)`` or the CAAR window.
    diagnostics : pandas.DataFrame
        Per design (at 0% abnormal return), means over samples of: the average
        cross-correlation ``r_bar`` of the estimation residuals, the
        cross-sectional variance of the day-0 standardised ARs ``sar_var``
        (Patell assumes about 1) and the ratio ``var_ratio`` of the
        cross-sectional variance of day-0 ARs to the average estimation
        variance (Brown-Warner assume about 1).
    """
    rng = np.random.default_rng([settings.seed, zlib.crc32(sim.spec.name.encode())])
    win_label = f"CAAR{format_window(settings.car_window)}"
    counts: dict[tuple[str, str, str, float, str], list[int]] = {}
    diag: dict[str, list[np.ndarray]] = {}
    for design in designs:
        stock, day0 = draw_events(sim, settings.n_samples, settings.n_events,
                                  design == "clustered", rng)
        noise_draw = rng.standard_normal(stock.shape)
        for lo in range(0, settings.n_samples, settings.chunk):
            sl = slice(lo, lo + settings.chunk)
            chunk = _fit_chunk(sim, stock[sl], day0[sl], settings)
            base = np.zeros(stock[sl].shape)
            if design == "variance":
                sd0 = np.sqrt(chunk.inputs.ar_var[..., chunk.day0_col])
                base = noise_draw[sl] * sd0
            for level in settings.abnormal:
                inputs = _shifted(chunk, base + level)
                res = cross_event_tests_multi(inputs, alternatives, n_boot=settings.n_boot,
                                              seed=settings.seed + lo)
                if level == 0:
                    ar0 = inputs.ar[..., chunk.day0_col]
                    with np.errstate(invalid="ignore", divide="ignore"):
                        sar0 = ar0 / np.sqrt(inputs.ar_var[..., chunk.day0_col])
                        ratio = np.var(ar0, axis=-1, ddof=1) / np.mean(inputs.sigma2, axis=-1)
                    d = diag.setdefault(design, [])
                    d.append(np.stack([next(iter(res.values())).r_bar,
                                       np.var(sar0, axis=-1, ddof=1), ratio], axis=-1))
                for alt, tests in res.items():
                    for name in TEST_NAMES:
                        for label, r in (("AAR(0)", tests.days[name][..., chunk.day0_col]),
                                         (win_label, tests.windows[name][..., 0])):
                            p = r.pvalue
                            key = (design, name, label, level, alt.value)
                            c = counts.setdefault(key, [0, 0])
                            c[0] += int((p < settings.alpha).sum())
                            c[1] += int(np.isfinite(p).sum())
        log.info("%s: design %s done", sim.spec.name, design)
    rows = []
    for (design, name, label, level, alt_name), (rej, n) in counts.items():
        lo_b, hi_b = binomial_band(n, settings.alpha) if level == 0 else (np.nan, np.nan)
        rows.append({"panel": sim.spec.name, "design": design, "test": name, "window": label,
                     "abnormal": level, "alternative": alt_name,
                     "rejection_rate": rej / n if n else np.nan, "n_samples": n,
                     "band_lo": lo_b, "band_hi": hi_b})
    diag_rows = []
    for design, parts in diag.items():
        r_bar, sar_var, ratio = np.nanmean(np.concatenate(parts), axis=0)
        diag_rows.append({"panel": sim.spec.name, "design": design, "r_bar": r_bar,
                          "sar_var": sar_var, "var_ratio": ratio})
    return pd.DataFrame(rows, columns=COLUMNS), pd.DataFrame(diag_rows)


def binomial_band(n: int, p: float = 0.05, level: float = 0.95) -> tuple[float, float]:
    """Central ``level`` band of a rejection rate over ``n`` samples when the true rate is ``p``."""
    if n <= 0:
        return np.nan, np.nan
    lo = stats.binom.ppf((1 - level) / 2, n, p) / n
    hi = stats.binom.ppf((1 + level) / 2, n, p) / n
    return float(lo), float(hi)


def run_validation(prices: Mapping[str, PanelPrices],
                   settings: SimulationSettings | None = None,
                   designs: Sequence[str] = DESIGNS
                   ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, SimPanel]]:
    """Run the simulation on real panels.

    Parameters
    ----------
    prices : mapping of str to PanelPrices
        By panel name (keys of :data:`PANELS`, in the order to run), the
        panel's price frames (see :func:`load_panel`).
    settings : SimulationSettings, optional
        Default :class:`SimulationSettings`.
    designs : sequence of str
        Designs to run (:data:`DESIGNS`).

    Returns
    -------
    rates : pandas.DataFrame
        Rejection rates (:data:`COLUMNS`).
    diagnostics : pandas.DataFrame
        See :func:`simulate_panel`.
    panels : dict of str to SimPanel
        The panels used (for the report).
    """
    settings = settings or SimulationSettings()
    unknown = [p for p in prices if p not in PANELS]
    if unknown:
        raise InputError(f"unknown panel(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(PANELS)}")
    loaded = {name: load_panel(frames, PANELS[name], settings)
              for name, frames in prices.items()}
    parts = [simulate_panel(sim, settings, designs) for sim in loaded.values()]
    return (pd.concat([p[0] for p in parts], ignore_index=True),
            pd.concat([p[1] for p in parts], ignore_index=True), loaded)


# ------------------------------------------------------------------------------ intraday

#: Tests the intraday mode reports: the battery (no bootstrap) and the time-of-day rank (rs).
INTRADAY_TESTS: tuple[str, ...] = (*[n for n in TEST_NAMES if n != "boot"], "rs")


@dataclass(frozen=True)
class IntradaySimulation:
    """Settings of the intraday simulation (random news times on real hourly bars).

    Attributes
    ----------
    n_samples, n_events : int
        Samples, and events per sample.
    window : tuple of int
        Event window in bars.
    car_window : tuple of int
        Window (in bars, holding bar 0) whose CAAR is tested besides the bar-0 AAR.
    abnormal : tuple of float
        Abnormal returns added to the event bar (0.001 = 0.1%).
    estimation_sessions : int
        Sessions of estimation before the event session (market model).
    alpha : float
        Nominal level.
    tickers : tuple of str
        Stocks drawn from; ``market`` is the market.
    start : str
        First date a news time may fall on.
    seed : int
        Seed of every random draw.
    """

    n_samples: int = 1000
    n_events: int = 50
    window: Window = (-3, 3)
    car_window: Window = (0, 1)
    abnormal: tuple[float, ...] = (0.0, 0.001, 0.0025, 0.005)
    estimation_sessions: int = 20
    alpha: float = 0.05
    tickers: tuple[str, ...] = ("BAC", "AIG", "IBM", "AAPL")
    market: str = "SPY"
    start: str = "2004-01-01"
    seed: int = 20240605


def draw_intraday_events(panel: BarPanel, settings: IntradaySimulation) -> pd.DataFrame:
    """Random news times: a regular bar and a minute inside it, and a random stock, per event.

    Bars are drawn from the regular bars from ``settings.start`` on whose session
    has ``estimation_sessions`` earlier sessions in the data and whose window
    ends on the grid; the minute is uniform over the bar's part inside the session.

    Returns
    -------
    pandas.DataFrame
        ``event_id`` (``s<sample>-e<event>``), ``ticker``, ``market``, ``timestamp`` (UTC),
        ``n_samples * n_events`` rows.
    """
    rng = np.random.default_rng([settings.seed, zlib.crc32(b"intraday")])
    tickers = [t for t in settings.tickers if panel.row(t) >= 0]
    if not tickers or panel.row(settings.market) < 0:
        raise InputError(f"the bars hold none of {', '.join(settings.tickers)} or not the "
                         f"market {settings.market}")
    start = pd.Timestamp(settings.start, tz="UTC")
    pos = np.arange(panel.n_bars)
    ok = (panel.regular & np.asarray(panel.starts >= start)
          & (panel.session >= settings.estimation_sessions)
          & (pos + settings.window[1] < panel.n_bars) & (pos + settings.window[0] >= 0))
    eligible = np.flatnonzero(ok)
    if not len(eligible):
        raise InputError(f"no regular bar after {settings.start} with "
                         f"{settings.estimation_sessions} sessions before it")
    n = settings.n_samples * settings.n_events
    pick = rng.choice(eligible, n)
    span = panel.eff_end[pick] - panel.eff_start[pick]
    minute = 60_000_000_000
    offset = (rng.random(n) * (span // minute)).astype(np.int64) * minute
    k = np.arange(n)
    return pd.DataFrame({
        "event_id": [f"s{i}-e{j}" for i, j in zip(k // settings.n_events,
                                                    k % settings.n_events, strict=True)],
        "ticker": np.asarray(tickers, dtype=object)[rng.integers(0, len(tickers), n)],
        "market": settings.market,
        "timestamp": pd.DatetimeIndex(panel.eff_start[pick] + offset, tz="UTC"),
    })


class IntradayFit(Protocol):
    """What :func:`intraday_rejection_rates` needs of an intraday study's result."""

    @property
    def events(self) -> pd.DataFrame:
        """One row per event studied (``event_id`` as drawn)."""
        ...

    @property
    def rel_bars(self) -> IntArray:
        """Relative bars of the window."""
        ...

    @property
    def inputs(self) -> TestInputs | None:
        """The arrays the battery ran on."""
        ...

    @property
    def time_of_day_ref(self) -> FloatArray | None:
        """``(N, D, L2)`` same-slot estimation residuals."""
        ...


def intraday_rejection_rates(fitted: IntradayFit, settings: IntradaySimulation,
                             alternatives: Sequence[Alternative] = tuple(Alternative)
                             ) -> pd.DataFrame:
    """Rejection rates of every test on the random intraday events of a fitted study.

    ``fitted`` is the result of an intraday study (``IntradayStudy(...).fit``) of the
    events of :func:`draw_intraday_events`, with ``car_windows=(settings.car_window,)``.
    Its events are put back in their samples (an event left out by the study is a
    missing row), the abnormal return of each level is added to the event bar (and
    to the CAR, which holds bar 0), and the battery and the time-of-day rank test run
    on all samples at once (samples are a leading batch axis).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS` (panel ``us-hourly``, design ``intraday``, window
        ``AAR(0)`` or ``CAAR[a,b]``).
    """
    from marketreact.inference.intraday import rinaudo_saha

    inp = fitted.inputs
    ref = fitted.time_of_day_ref
    if inp is None or ref is None or inp.car is None or inp.car_var is None:
        raise InputError("the intraday result carries no test inputs")
    s_n, e_n = settings.n_samples, settings.n_events
    ids = fitted.events["event_id"].astype(str).str.extract(r"^s(\d+)-e(\d+)$")
    place = ids[0].astype(np.int64).to_numpy() * e_n + ids[1].astype(np.int64).to_numpy()

    def batch(a: np.ndarray) -> np.ndarray:
        out = np.full((s_n * e_n, *a.shape[1:]), np.nan)
        out[place] = a
        return out.reshape(s_n, e_n, *a.shape[1:])

    ar, ar_var = batch(inp.ar), batch(inp.ar_var)
    est = batch(np.asarray(inp.est_residuals, float))
    sigma2, df = batch(inp.sigma2), batch(inp.df)
    car, car_var = batch(np.asarray(inp.car, float)), batch(np.asarray(inp.car_var, float))
    refb = batch(ref)
    col0 = int(np.searchsorted(np.asarray(fitted.rel_bars), 0))
    holds0 = settings.car_window[0] <= 0 <= settings.car_window[1]
    win_label = f"CAAR{format_window(settings.car_window)}"
    rows = []
    for level in settings.abnormal:
        ar_s = ar.copy()
        ar_s[..., col0] += level
        car_s = car + (level if holds0 else 0.0)
        inputs = TestInputs(ar_s, ar_var, est, sigma2, df, inp.windows, car_s, car_var)
        res = cross_event_tests_multi(inputs, alternatives, n_boot=0)
        for alt, tests in res.items():
            rs_day, rs_win = rinaudo_saha(ar_s, refb, inp.windows, alt)
            for name in INTRADAY_TESTS:
                day = rs_day if name == "rs" else tests.days[name]
                win = rs_win if name == "rs" else tests.windows[name]
                for label, p in (("AAR(0)", day.pvalue[..., col0]),
                                 (win_label, win.pvalue[..., 0])):
                    n = int(np.isfinite(p).sum())
                    rej = int((p < settings.alpha).sum())
                    lo_b, hi_b = (binomial_band(n, settings.alpha) if level == 0
                                  else (np.nan, np.nan))
                    rows.append({"panel": "us-hourly", "design": "intraday", "test": name,
                                 "window": label, "abnormal": level,
                                 "alternative": alt.value,
                                 "rejection_rate": rej / n if n else np.nan,
                                 "n_samples": n, "band_lo": lo_b, "band_hi": hi_b})
    return pd.DataFrame(rows, columns=COLUMNS)
