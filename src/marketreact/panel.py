"""Return panels: prices of many tickers lined up on one exchange's sessions.

A panel holds, for every ticker used by the events of one exchange, the
adjusted price on each session (NaN where the ticker did not trade) and the
returns derived from it:

* ``returns[i, t]`` is the return from the ticker's last traded session
  before ``t`` to ``t``; ``span[i, t]`` counts the sessions it covers. A return
  that spans a missing session (thin trading, a data gap) has ``span > 1``: it
  is flagged, never taken for a one-day return.
* ``cum[i, t]`` and ``cum_missing[i, t]`` are running sums of the one-session
  returns and of the sessions without one, so that the sum of a regressor
  (e.g. the market return) over any span is two look-ups.

Everything here is pure: prices in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import pandas as pd

from marketreact._typing import FloatArray, IntArray
from marketreact.calendar import TradingSessions
from marketreact.prices.frames import price_column


class ReturnKind(str, Enum):
    """How returns are computed from prices."""

    simple = "simple"
    log = "log"


@dataclass(frozen=True)
class ExchangePanel:
    """Prices and returns of several tickers on one exchange's sessions.

    Attributes
    ----------
    sessions : TradingSessions
        The session axis (length ``T``).
    tickers : tuple of str
        Row labels (length ``N``).
    prices : numpy.ndarray
        ``(N, T)`` adjusted prices, NaN where the ticker has no price.
    volume : numpy.ndarray
        ``(N, T)`` volume, NaN where unknown.
    returns : numpy.ndarray
        ``(N, T)`` returns since the previous traded session.
    span : numpy.ndarray
        ``(N, T)`` sessions covered by each return (0 where there is none).
    cum : numpy.ndarray
        ``(N, T + 1)`` running sum of one-session returns (missing ones count 0).
    cum_missing : numpy.ndarray
        ``(N, T + 1)`` running count of sessions without a one-session return.
    kind : ReturnKind
        Simple or log returns.
    """

    sessions: TradingSessions
    tickers: tuple[str, ...]
    prices: FloatArray
    volume: FloatArray
    returns: FloatArray
    span: IntArray
    cum: FloatArray
    cum_missing: IntArray
    kind: ReturnKind

    def row(self, ticker: str) -> int:
        """Row of ``ticker`` (ValueError when absent)."""
        return self.tickers.index(ticker)

    def span_sum(self, rows: IntArray, pos: IntArray, span: IntArray) -> FloatArray:
        """Sum of one-session returns of ``rows`` over the ``span`` sessions ending at ``pos``.

        Parameters
        ----------
        rows, pos, span : numpy.ndarray
            Broadcastable integer arrays; ``pos`` must lie in ``[0, T)`` and
            ``span >= 1``.

        Returns
        -------
        numpy.ndarray
            The sums; NaN where any one-session return in the span is missing.
        """
        hi = pos + 1
        lo = hi - span
        total = self.cum[rows, hi] - self.cum[rows, lo]
        gaps = self.cum_missing[rows, hi] - self.cum_missing[rows, lo]
        return np.where(gaps == 0, total, np.nan)


def one_session_returns(prices: FloatArray, kind: ReturnKind) -> FloatArray:
    """Returns between consecutive sessions; NaN where either price is missing."""
    out = np.full(prices.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = prices[:, 1:] / prices[:, :-1]
        out[:, 1:] = np.log(ratio) if kind is ReturnKind.log else ratio - 1.0
    return out


def spanning_returns(prices: FloatArray, kind: ReturnKind) -> tuple[FloatArray, IntArray]:
    """Returns since the last traded session and the number of sessions they cover.

    Parameters
    ----------
    prices : numpy.ndarray
        ``(N, T)`` prices with NaN for sessions without a price.
    kind : ReturnKind
        Simple or log.

    Returns
    -------
    returns : numpy.ndarray
        ``(N, T)``; NaN where the price is missing or no earlier price exists.
    span : numpy.ndarray
        ``(N, T)`` int; 0 where the return is NaN.
    """
    n, t = prices.shape
    valid = np.isfinite(prices)
    idx = np.where(valid, np.arange(t), -1)
    last = np.maximum.accumulate(idx, axis=1)
    prev = np.full((n, t), -1, dtype=np.int64)
    prev[:, 1:] = last[:, :-1]
    ok = valid & (prev >= 0)
    rows = np.broadcast_to(np.arange(n)[:, None], (n, t))
    base = prices[rows, np.maximum(prev, 0)]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = prices / base
        rets = np.log(ratio) if kind is ReturnKind.log else ratio - 1.0
    returns = np.where(ok, rets, np.nan)
    span = np.where(ok, np.arange(t) - prev, 0).astype(np.int64)
    return returns, span


def build_panel(sessions: TradingSessions, frames: dict[str, pd.DataFrame],
                kind: ReturnKind = ReturnKind.simple) -> ExchangePanel:
    """Line up cleaned price frames on the sessions of one exchange.

    Parameters
    ----------
    sessions : TradingSessions
        The session axis.
    frames : dict of str to pandas.DataFrame
        Standard, cleaned price frames by ticker. Rows on dates that are not
        sessions are ignored.
    kind : ReturnKind, default simple
        Return definition.

    Returns
    -------
    ExchangePanel
    """
    tickers = tuple(frames)
    labels = sessions.labels
    prices = np.full((len(tickers), len(labels)), np.nan)
    volume = np.full_like(prices, np.nan)
    for i, t in enumerate(tickers):
        frame = frames[t]
        pos = labels.get_indexer(frame.index)
        keep = pos >= 0
        prices[i, pos[keep]] = price_column(frame).to_numpy(dtype=float)[keep]
        volume[i, pos[keep]] = frame["volume"].to_numpy(dtype=float)[keep]
    returns, span = spanning_returns(prices, kind)
    one = one_session_returns(prices, kind)
    missing = ~np.isfinite(one)
    cum = np.zeros((len(tickers), len(labels) + 1))
    cum[:, 1:] = np.cumsum(np.where(missing, 0.0, one), axis=1)
    cum_missing = np.zeros((len(tickers), len(labels) + 1), dtype=np.int64)
    cum_missing[:, 1:] = np.cumsum(missing, axis=1)
    return ExchangePanel(sessions, tickers, prices, volume, returns, span, cum, cum_missing, kind)
