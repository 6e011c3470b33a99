"""Calendar-time portfolios from events and loaded prices (Jaffe 1974, Mitchell-Stafford 2000).

:class:`CalendarTimeStudy` is what ``marketreact calendar-time`` runs, as a library
call: each event is anchored to its day 0 by the study's own lineup
(:func:`marketreact.panel.lineup.line_up`: the exchange's sessions, the moment the news
is known), the one-period simple returns of the adjusted closes on those sessions (or on
month ends with ``frequency="monthly"``) form the ``(dates x tickers)`` frame, and
:func:`marketreact.inference.calendar_time.calendar_time_portfolio` regresses the
portfolio of the firms within ``[0, H]`` of their event on the market (its return, with
``rf = 0``) or on the Fama-French / Carhart factors.

Pure computation: :meth:`CalendarTimeStudy.fit` takes the prices
:func:`marketreact.prices.load_prices` returned (daily; the monthly variant builds the
month ends itself with :func:`marketreact.prices.monthly.monthly_prices`) and factor
returns already read, and never reads, fetches or writes files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from enum import Enum
from typing import Any, cast

import numpy as np
import pandas as pd

from marketreact.calendar import SessionSource
from marketreact.errors import InputError, InputProblem
from marketreact.events.catalogue import EventCatalogue, events_from_frame
from marketreact.inference.calendar_time import (
    MODEL_FACTORS,
    CalendarTimeResult,
    calendar_time_portfolio,
)
from marketreact.panel.lineup import Lineup, assign_markets, line_up, price_table
from marketreact.panel.returns import ReturnKind
from marketreact.panel.table import PriceTable
from marketreact.prices.frames import PriceFetch
from marketreact.prices.monthly import (
    MONTH_SESSIONS,
    PARTIAL_DAYS,
    month_ends,
    monthly_prices,
)

#: Default horizon ``H`` by frequency: the study's long windows [0, 251] sessions and
#: [0, 11] months.
DEFAULT_HORIZON = {"daily": 251, "monthly": 11}
#: Estimation periods ``K`` of the standardised variant by frequency (the study's
#: estimation lengths: 250 sessions, 60 months).
ESTIMATION = {"daily": 250, "monthly": 60}
#: Largest horizon accepted.
MAX_HORIZON = 10_000
#: Frequencies and weightings accepted (``value`` is named, and refused: no firm sizes).
FREQUENCIES = ("daily", "monthly")
WEIGHTINGS = ("equal", "value")


def _text(value: object) -> str:
    """An option's text: an enum's value, else the value as given."""
    return str(value.value) if isinstance(value, Enum) else str(value)


def _bad(field: str, value: object, message: str) -> InputError:
    return InputError([InputProblem("settings", None, field, str(value), message)])


@dataclass(frozen=True)
class CalendarTimeSettings:
    """Checked settings of a calendar-time study (see :class:`CalendarTimeStudy`)."""

    horizon: int
    model: str
    frequency: str
    weighting: str
    standardise: bool
    hac_lags: int | None
    min_firms: int
    market: str | None

    @property
    def estimation(self) -> int:
        """Estimation periods ``K`` of the standardised variant (250 sessions, 60 months)."""
        return ESTIMATION[self.frequency]


@dataclass(frozen=True)
class CalendarTimeStudyResult(CalendarTimeResult):
    """A calendar-time regression with what :class:`CalendarTimeStudy` fed it.

    Everything of :class:`~marketreact.inference.calendar_time.CalendarTimeResult`
    (the diagnostics start with the factors' source and the events left out), plus:

    Attributes
    ----------
    frequency : str
        ``daily`` or ``monthly``.
    market : str or None
        Market index whose return is the market factor (``rf = 0``); None when the
        factors came from factor data.
    events_used : int
        Events lined up with a day 0 on the periods (before the regression's own
        checks).
    """

    frequency: str = "daily"
    market: str | None = None
    events_used: int = 0


class CalendarTimeStudy:
    """Calendar-time portfolio regression of events (Jaffe 1974, Mitchell-Stafford 2000).

    Parameters
    ----------
    horizon : int, optional
        ``H``: a firm is in the portfolio from its day 0 to ``H`` periods after it,
        inclusive; 1 to 10000 (default 251 sessions daily, 11 months monthly).
    model : {'market', 'ff3', 'carhart'}, default 'market'
        Factors of the regression; ``ff3`` and ``carhart`` need factor data.
    frequency : {'daily', 'monthly'}, default 'daily'
        Periods: the exchange's sessions, or calendar months dated at the month's
        last business day (month 0: the month of the news).
    weighting : {'equal'}, default 'equal'
        Portfolio weights; ``value`` needs firm sizes, which no price file carries,
        and is refused.
    standardise : bool, default False
        Jaffe/Mandelker variant: each period divided by the SD of the same portfolio
        over the 250 sessions (60 months) ending ``H + 1`` periods before it (WLS).
    hac_lags : int, optional
        Newey-West lags (default ``floor(4 (n/100)^(2/9))`` of the ``n`` periods).
    min_firms : int, default 1
        Fewest firms a period's portfolio needs to enter the regression.
    market : str, optional
        Market index of every event (it overrides the events' own); its return is
        the market factor when no factor data are given (``rf = 0``), and its dates
        are the monthly periods. Default: the events' own market, else their
        exchange's index.

    Raises
    ------
    InputError
        A setting out of range, one problem naming the setting and its value.

    Examples
    --------
    >>> study = CalendarTimeStudy(market="SPY", horizon=251)  # doctest: +SKIP
    >>> events = read_events("news.csv")  # doctest: +SKIP
    >>> before, after = study.sessions_needed()  # doctest: +SKIP
    >>> prices = load_prices("csv:prices/", events, before=before, after=after,
    ...                      market="SPY")  # doctest: +SKIP
    >>> print(study.fit(events, prices).summary())  # doctest: +SKIP
    """

    def __init__(self, horizon: int | None = None, model: str = "market",
                 frequency: str = "daily", weighting: str = "equal",
                 standardise: bool = False, hac_lags: int | None = None,
                 min_firms: int = 1, market: str | None = None) -> None:
        freq = _text(frequency).strip().lower()
        if freq not in FREQUENCIES:
            raise _bad("frequency", _text(frequency), "choose daily or monthly")
        name = _text(model)
        if name not in MODEL_FACTORS:
            raise _bad("model", name, f"unknown model {name!r}; choose "
                       f"{', '.join(MODEL_FACTORS)}")
        weights = _text(weighting)
        if weights not in WEIGHTINGS:
            raise _bad("weighting", weights, "choose equal")
        if weights == "value":
            raise _bad("weighting", weights, "value weighting needs firm sizes (market "
                       "caps), which the price files do not carry; use equal")
        h = DEFAULT_HORIZON[freq] if horizon is None else int(horizon)
        if not 1 <= h <= MAX_HORIZON:
            raise _bad("horizon", h, f"must be 1 to {MAX_HORIZON}")
        if hac_lags is not None and hac_lags < 0:
            raise _bad("hac_lags", hac_lags, "must be 0 or more")
        if min_firms < 1:
            raise _bad("min_firms", min_firms, "must be 1 or more")
        self.settings = CalendarTimeSettings(
            horizon=h, model=name, frequency=freq, weighting=weights,
            standardise=bool(standardise),
            hac_lags=None if hac_lags is None else int(hac_lags), min_firms=int(min_firms),
            market=market.upper() if market else None)

    def sessions_needed(self) -> tuple[int, int]:
        """Daily sessions of prices needed before and after the events.

        Returns
        -------
        tuple of int
            ``(before, after)`` for :func:`marketreact.prices.load_prices`: the
            horizon (and, standardised, the estimation periods before it), in
            sessions (about 23 a month when monthly).
        """
        s = self.settings
        per = MONTH_SESSIONS if s.frequency == "monthly" else 1
        before = (s.horizon + s.estimation + 2) * per if s.standardise else 2 * per
        return before, s.horizon * per

    def check_factors(self, factors: pd.DataFrame | None, *,
                      factor_source: str | None = None) -> None:
        """Refuse factor data the model cannot use (before any price is loaded).

        Parameters
        ----------
        factors : pandas.DataFrame or None
            Factor returns (columns as :func:`marketreact.prices.factors.read_factors`
            names them: ``mkt_rf``, ``smb``, ``hml``, ``mom``, ``rf``), or None.
        factor_source : str, optional
            The value a problem with the factors names (default: their columns).

        Raises
        ------
        InputError
            The model needs factors and none are given (field ``model``), or the
            factors lack a column the model or ``rf`` needs (field ``factors``).
        """
        model = self.settings.model
        if factors is None:
            if model != "market":
                raise _bad("model", model, f"the {model} model needs a --factors file")
            return
        lacking = [c for c in (*MODEL_FACTORS[model], "rf") if c not in factors.columns]
        if lacking:
            raise _bad("factors", factor_source or ", ".join(map(str, factors.columns)),
                       f"the {model} model needs factor column(s) {', '.join(lacking)}")

    def events_frame(self, events: EventCatalogue | pd.DataFrame,
                     factors: pd.DataFrame | None = None) -> pd.DataFrame:
        """The events with their market index, as :meth:`fit` lines them up.

        Parameters
        ----------
        events : EventCatalogue or pandas.DataFrame
            Validated events (a frame is validated strictly first).
        factors : pandas.DataFrame, optional
            The factor data :meth:`fit` will get (without them, the events must
            name one market index, whose return is the market factor).

        Returns
        -------
        pandas.DataFrame
            The catalogue rows with ``market`` filled (or overridden by ``market``),
            what :func:`marketreact.prices.load_prices` needs.

        Raises
        ------
        InputError
            No factors and not exactly one market index (field ``market``).
        """
        catalogue = events if isinstance(events, EventCatalogue) else events_from_frame(events)
        market = self.settings.market
        frame, _ = assign_markets(catalogue.frame, market, required=False)
        if market:
            frame = frame.assign(market=market)
        markets = sorted(set(frame["market"]) - {""})
        if factors is None and len(markets) != 1:
            raise _bad("market", market or "", "give the market index with --market (the "
                       "events name " + (", ".join(markets) or "none") + ")")
        return frame

    def fit(self, events: EventCatalogue | pd.DataFrame,
            prices: PriceFetch | PriceTable | Mapping[str, pd.DataFrame],
            factors: pd.DataFrame | None = None, *,
            factor_source: str = "factor data") -> CalendarTimeStudyResult:
        """Run the regression (pure computation: it never reads files or downloads).

        Parameters
        ----------
        events : EventCatalogue or pandas.DataFrame
            Validated events (a frame is validated strictly first).
        prices : PriceFetch, PriceTable or mapping of str to pandas.DataFrame
            Daily prices of the stocks and the market index, e.g. what
            :func:`marketreact.prices.load_prices` returned for
            :meth:`sessions_needed`. With ``frequency="monthly"`` they are turned
            into month ends here (:func:`marketreact.prices.monthly.monthly_prices`;
            monthly frames pass through unchanged); a ``PriceTable`` is taken as
            given.
        factors : pandas.DataFrame, optional
            Daily factor returns in decimals, indexed by date
            (:func:`marketreact.prices.factors.read_factors`); compounded into
            months when monthly. Without them the market factor is the market
            index's return and ``rf = 0``.
        factor_source : str, default "factor data"
            How the first diagnostic names the factors (the CLI gives the files).

        Returns
        -------
        CalendarTimeStudyResult
            The regression; its diagnostics name the factors' source, the events
            left out and the periods without factor returns.

        Raises
        ------
        InputError
            Factors the model cannot use, no event lined up, no market prices,
            or too few periods for the regression (one problem naming the setting).
        """
        s = self.settings
        self.check_factors(factors, factor_source=factor_source)
        frame = self.events_frame(events, factors)
        markets = sorted(set(frame["market"]) - {""})
        monthly = s.frequency == "monthly"
        if monthly and not isinstance(prices, PriceTable):
            prices = monthly_prices(prices)
        lineups, notes = _line_up(frame, prices, monthly=monthly,
                                  market_required=factors is None or monthly)
        if not lineups:
            hint = (" (monthly periods are the market index's month ends: give --market)"
                    if monthly and factors is not None and not s.market else "")
            raise InputError(f"no event could be lined up on its prices{hint}: {notes[0]}"
                             if notes else "no event could be lined up on its prices")
        returns = _returns_frame(lineups)
        day0 = _day0_frame(lineups)
        late = day0["day0"].isna()
        if late.any():
            notes.append(f"{int(late.sum())} event(s) left out: day 0 after the last session "
                         "with prices")
            day0 = day0[~late]
        stocks = list(dict.fromkeys(day0["ticker"]))
        market = None
        if factors is None:
            market = markets[0]
            if market not in returns:
                raise _bad("market", market, "no prices for the market index")
            fac = pd.DataFrame({"mkt_rf": returns[market], "rf": 0.0}, index=returns.index)
            source_note = f"market factor: {market} return, rf = 0"
        else:
            fac = _monthly_factors(factors) if monthly else factors
            source_note = f"factors and rf: {factor_source}"
        try:
            result = calendar_time_portfolio(
                day0, returns[stocks], fac, s.horizon, model=s.model, weighting=s.weighting,
                min_firms=s.min_firms, hac_lags=s.hac_lags, standardise=s.standardise,
                estimation=s.estimation)
        except ValueError as exc:
            text = str(exc)
            field, value = (("factors", factor_source) if "factor frame" in text
                            else ("min_firms", s.min_firms) if s.min_firms > 1
                            else ("horizon", s.horizon))
            raise _bad(field, value, text) from None
        notes += _bare_periods(result, s.min_firms)
        result = CalendarTimeStudyResult(
            **{f.name: getattr(result, f.name) for f in fields(CalendarTimeResult)},
            frequency=s.frequency, market=market, events_used=len(day0))
        return replace(result, diagnostics=(source_note, *notes, *result.diagnostics))


def _line_up(frame: pd.DataFrame, prices: Any, *, monthly: bool,
             market_required: bool) -> tuple[list[Lineup], list[str]]:
    """The events on their exchange's sessions (one panel per exchange) and the notes."""
    priced = price_table(prices, frame, volume_notes=False)
    lineups, notes = [], []
    for exchange, group in frame.groupby("exchange", sort=True):
        lineup = line_up(str(exchange), group, priced, returns=ReturnKind.simple,
                         sessions=SessionSource.market if monthly else SessionSource.calendar,
                         market_required=market_required)
        notes += [f"event {f.event_id} ({f.ticker}) left out: {f.reason}"
                  for f in lineup.failures]
        notes += list(lineup.diagnostics)
        if len(lineup.events):
            lineups.append(lineup)
    return lineups, notes


def _returns_frame(lineups: Sequence[Lineup]) -> pd.DataFrame:
    """One-period simple returns of every lined-up ticker, dates x tickers (exchanges joined)."""
    parts = []
    for lu in lineups:
        panel = lu.panel
        one = np.where(panel.span == 1, panel.returns, np.nan)  # a gap's return is not one period
        parts.append(pd.DataFrame(one.T, index=pd.DatetimeIndex(lu.sessions.labels),
                                  columns=list(panel.tickers)))
    frame = pd.concat(parts, axis=1, join="outer").sort_index()
    return frame.T.groupby(level=0).first().T  # a ticker on two exchanges' panels: once


def _day0_frame(lineups: Sequence[Lineup]) -> pd.DataFrame:
    """``ticker, day0`` of every lined-up event (NaT: day 0 after the last session)."""
    return pd.concat([pd.DataFrame({
        "ticker": lu.events["ticker"].to_numpy(),
        "day0": pd.DatetimeIndex(lu.sessions.labels).append(pd.DatetimeIndex([pd.NaT]))[
            np.minimum(lu.day0, len(lu.sessions))]}) for lu in lineups], ignore_index=True)


def _monthly_factors(daily: pd.DataFrame) -> pd.DataFrame:
    """Daily factor returns compounded over each calendar month, dated at the month end."""
    index = pd.DatetimeIndex(daily.index)
    ends = month_ends(index)
    logs = cast(pd.DataFrame, np.log1p(daily))  # ufuncs keep the frame
    grown = cast(pd.DataFrame, np.expm1(logs.groupby(ends.to_numpy()).sum(min_count=1)))
    if len(grown) and (grown.index[-1] - index.max()).days > PARTIAL_DAYS:
        grown = grown.iloc[:-1]  # a last month the file covers in part only
    return grown


def _bare_periods(result: CalendarTimeResult, min_firms: int) -> list[str]:
    """A note on the periods with a portfolio but no factor returns, if any."""
    port = result.portfolio
    factors = list(result.betas.index)
    held = port["n_firms"] >= min_firms
    bare = int((held & port[factors].isna().any(axis=1)).sum())
    if not bare:
        return []
    last = port.dropna(subset=factors).index.max()
    return [f"{bare} period(s) with a portfolio left out: no factor returns "
            f"(the factors run to {last.date()})"]


__all__ = [
    "DEFAULT_HORIZON",
    "ESTIMATION",
    "MAX_HORIZON",
    "CalendarTimeSettings",
    "CalendarTimeStudy",
    "CalendarTimeStudyResult",
]
