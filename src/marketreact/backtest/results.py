"""The result of a backtest: trades, daily portfolio, metrics, forward returns and placebo."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from marketreact._typing import FloatArray
from marketreact.backtest.settings import BacktestSettings


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
        """Return a plain-text summary of the main figures."""
        m = self.metrics
        s = self.settings

        def f(key: str, fmt: str = "{:.4f}") -> str:
            v = m.get(key)
            return fmt.format(v) if isinstance(v, int | float) and math.isfinite(v) else "n/a"

        lines = [
            "Backtest",
            "=" * 72,
            f"signal: {s.signal} ({s.signal_mode.value})   entry: {s.entry.value}   "
            f"latency: {pd.Timedelta(s.latency)}   hold: {s.hold}   hedge: {s.hedge.value}   "
            f"cost: {s.cost_bps:g} bps/side",
            f"trades: {m.get('trades', 0)}   not traded (|signal| <= threshold): "
            f"{m.get('events_not_traded', 0)}   failed: {len(self.failures)}",
            f"hit rate {f('hit_rate')}   mean trade {f('mean_trade_return')} "
            f"(t {f('mean_trade_t', '{:.2f}')})   median {f('median_trade_return')}",
            f"total {f('total_return')}   annualised {f('annualised_return')}   "
            f"vol {f('volatility')}   Sharpe {f('sharpe', '{:.2f}')}   "
            f"Sortino {f('sortino', '{:.2f}')}",
            f"max drawdown {f('max_drawdown')} over {f('max_drawdown_duration', '{:.0f}')} "
            f"sessions   exposure {f('exposure')}   turnover/yr {f('turnover_annual', '{:.1f}')}"
            f"   costs {f('costs_paid')}",
            f"benchmark (equal-weight buy and hold): total {f('benchmark_total_return')}   "
            f"Sharpe {f('benchmark_sharpe', '{:.2f}')}",
        ]
        if self.placebo is not None:
            pl = self.placebo
            lines.append(f"placebo ({pl.n_draws} draws): mean {np.mean(pl.draws):.5f}"
                         f"   p one-sided {self.placebo.p_one_sided:.4f}   "
                         f"two-sided {self.placebo.p_two_sided:.4f}")
        if len(self.forward):
            lines.append("-" * 72)
            lines.append(f"{'horizon':>8}{'N':>7}{'mean':>11}{'signed':>11}{'IC':>9}{'p':>9}")
            for row in self.forward.itertuples(index=False):
                lines.append(f"{row.horizon:>8d}{row.n:>7d}{row.mean:>11.5f}"
                             f"{row.mean_signed:>11.5f}{row.ic:>9.4f}{row.ic_p:>9.4f}")
        lines.append("=" * 72)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()
