"""The result of a backtest: trades, daily portfolio, metrics, forward returns and placebo."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from marketreact._typing import FloatArray
from marketreact.backtest.settings import BacktestSettings
from marketreact.render.figures import equity_figure
from marketreact.render.html import backtest_html
from marketreact.render.text import Column, header_lines, number, summary_text, table_lines

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class PlaceboResult:
    """The strategy's mean trade return against the same trades at random dates.

    Attributes
    ----------
    actual : float
        Mean net trade return of the strategy.
    draws : numpy.ndarray
        ``(D,)`` mean net trade return of each placebo draw.
    p_one_sided : float
        ``(1 + #{draw >= actual}) / (1 + D)``.
    p_two_sided : float
        ``(1 + #{|draw - m| >= |actual - m|}) / (1 + D)``, ``m`` the mean of the draws.
    events : int
        Trades that took part (a trade needs room for random dates).
    exclusion : int
        Placebo entries within this many sessions of the real one are not drawn.
    seed : int
        Seed used.
    """

    actual: float
    draws: FloatArray
    p_one_sided: float
    p_two_sided: float
    events: int
    exclusion: int
    seed: int

    @property
    def n_draws(self) -> int:
        """Number of draws."""
        return int(self.draws.size)

    def to_dict(self) -> dict[str, Any]:
        """The placebo's figures as plain values (the draws themselves left out)."""
        return {"draws": self.n_draws, "events": self.events, "seed": self.seed,
                "exclusion_sessions": self.exclusion, "actual_mean": float(self.actual),
                "mean_of_draws": float(np.mean(self.draws)) if self.n_draws else float("nan"),
                "p_one_sided": float(self.p_one_sided), "p_two_sided": float(self.p_two_sided)}


_FORWARD_COLUMNS = (Column("horizon", 8, "d"), Column("N", 7, "d"), Column("mean", 11, ".5f"),
                    Column("signed", 11, ".5f"), Column("IC", 9, ".4f"), Column("p", 9, ".4f"))

#: Metrics of the summary: (key in ``metrics``, label, format).
_SUMMARY_METRICS = (
    ("hit_rate", "hit rate", ".4f"), ("mean_trade_return", "mean trade", ".4f"),
    ("mean_trade_t", "mean trade t", ".2f"), ("median_trade_return", "median trade", ".4f"),
    ("total_return", "total return", ".4f"), ("annualised_return", "annualised", ".4f"),
    ("volatility", "volatility", ".4f"), ("sharpe", "Sharpe", ".2f"),
    ("sortino", "Sortino", ".2f"), ("max_drawdown", "max drawdown", ".4f"),
    ("max_drawdown_duration", "drawdown sessions", ".0f"), ("exposure", "exposure", ".4f"),
    ("turnover_annual", "turnover/yr", ".1f"), ("costs_paid", "costs", ".4f"),
    ("benchmark_total_return", "benchmark total", ".4f"),
    ("benchmark_sharpe", "benchmark Sharpe", ".2f"),
)


@dataclass(frozen=True)
class BacktestResult:
    """The immutable result of a backtest.

    Attributes
    ----------
    settings : BacktestSettings
        What was asked.
    trades : pandas.DataFrame
        One row per trade: event, signal, direction, day 0, entry and exit
        (session, kind, UTC time of the price, price), stock and market
        returns, hedge ratio, gross and net return, and forward returns.
    daily : pandas.DataFrame
        One row per session from the session before the first trade's first
        return to the last exit: ``date, equity, return, drawdown, exposure,
        n_positions, gross_return, cost, turnover, net_exposure, hedge_exposure,
        open_rebalance, frozen_weight, benchmark_equity``.
    metrics : dict
        Named figures (see ``docs/backtest.md``).
    forward : pandas.DataFrame
        Per horizon: ``n, mean, mean_signed, hit_rate, ic, ic_p``.
    placebo : PlaceboResult or None
        The random-date placebo.
    failures : pandas.DataFrame
        ``event_id, ticker, reason`` for events that could not be traded.
    diagnostics : tuple of str
        Notes on the data.
    """

    settings: BacktestSettings
    trades: pd.DataFrame
    daily: pd.DataFrame
    metrics: dict[str, Any]
    forward: pd.DataFrame
    placebo: PlaceboResult | None
    failures: pd.DataFrame
    diagnostics: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """Metrics as a two-column frame ``metric, value``."""
        return pd.DataFrame({"metric": list(self.metrics), "value": list(self.metrics.values())})

    def summary(self) -> str:
        """Return a plain-text summary: settings, trades, metrics, placebo, forward returns."""
        m, s = self.metrics, self.settings
        header = [("signal", f"{s.signal} ({s.signal_mode.value})"), ("entry", s.entry.value),
                  ("latency", str(pd.Timedelta(s.latency))), ("hold", f"{s.hold} sessions"),
                  ("hedge", s.hedge.value), ("cost", f"{s.cost_bps:g} bps/side"),
                  ("trades", str(m.get("trades", 0))),
                  ("not traded", f"{m.get('events_not_traded', 0)} (|signal| <= threshold)"),
                  ("failed", str(len(self.failures)))]
        metrics = header_lines([(label, number(m.get(key), fmt))
                                for key, label, fmt in _SUMMARY_METRICS])
        metrics.append("benchmark: equal-weight buy and hold of the traded stocks")
        placebo: list[str] = []
        if self.placebo is not None:
            pl = self.placebo
            placebo = header_lines([
                ("placebo draws", str(pl.n_draws)),
                ("placebo mean", number(np.mean(pl.draws) if pl.n_draws else None, ".5f")),
                ("p one-sided", number(pl.p_one_sided)),
                ("p two-sided", number(pl.p_two_sided))])
        forward = table_lines(_FORWARD_COLUMNS, self.forward[
            ["horizon", "n", "mean", "mean_signed", "ic", "ic_p"]].itertuples(index=False)
        ) if len(self.forward) else []
        return summary_text("Backtest", header, [metrics, placebo, forward])

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """HTML tables for Jupyter: settings, metrics, placebo, the first trades and failures."""
        return backtest_html(self.metrics, self.trades, self.settings.to_dict(),
                             placebo=None if self.placebo is None else self.placebo.to_dict(),
                             failures=self.failures)

    def plot(self, kind: str = "equity", **kwargs: Any) -> Figure:
        """Plot the result; returns a :class:`matplotlib.figure.Figure`.

        Parameters
        ----------
        kind : {"equity"}
            ``equity``: the equity curve over its drawdown and open positions
            (:func:`marketreact.render.figures.equity_figure`).
        **kwargs
            Passed to the plotting function, e.g. ``title=``.

        Returns
        -------
        matplotlib.figure.Figure

        Raises
        ------
        ValueError
            An unknown ``kind``, or a backtest without a daily portfolio (no trades).
        """
        if kind != "equity":
            raise ValueError(f"unknown plot kind {kind!r}: use equity")
        if self.daily.empty:
            raise ValueError("no trades: the backtest has no equity curve to plot")
        return equity_figure(self.daily, **kwargs)
