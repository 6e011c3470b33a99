"""Backtests of news-driven signals: fills after the news, portfolio, placebo, metrics.

Imports panel, windows and models; never prices I/O, output or the CLI.
"""

from marketreact.backtest.results import BacktestResult
from marketreact.backtest.run import Backtest
from marketreact.backtest.settings import BacktestSettings

__all__ = ["Backtest", "BacktestResult", "BacktestSettings"]
