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
  (e.g. the market return) over any span is two look-ups. Panels built by
  :func:`panel_from_matrix` compute them on first access (only the rows of
  regressors are usually needed: :meth:`ExchangePanel.running_sums`).

Everything here is pure: prices in, arrays out.

Imports: the ground floor, :mod:`marketreact.calendar` and
:mod:`marketreact.prices.frames` only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from marketreact._lazy import Thunk, deferred, is_pending
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

    def running_sums(self, rows: IntArray) -> tuple[FloatArray, IntArray]:
        """``cum[rows]`` and ``cum_missing[rows]``, without building them for every row.

        Parameters
        ----------
        rows : numpy.ndarray
            ``(R,)`` panel rows.

        Returns
        -------
        cum, cum_missing : numpy.ndarray
            ``(R, T + 1)`` each, equal to the rows of :attr:`cum` and :attr:`cum_missing`.
        """
        if not is_pending(self, "cum"):
            return self.cum[rows], self.cum_missing[rows]
        return _running_sums(self.price_rows(rows), self.kind)

    def price_rows(self, rows: IntArray) -> FloatArray:
        """``prices[rows]``, without building the whole matrix when it is still pending."""
        source = self.__dict__.get("_deferred_prices")
        if isinstance(source, RowSource):
            return source.rows(np.asarray(rows))
        return self.prices[rows]

    def priced_range(self) -> tuple[IntArray, IntArray]:
        """First and last session of each row with a finite price (``T`` and -1 for none)."""
        source = self.__dict__.get("_deferred_prices")
        if isinstance(source, RowSource):
            return source.priced_range()
        valid = np.isfinite(self.prices)
        t = valid.shape[1]
        some = valid.any(axis=1)
        first = np.where(some, valid.argmax(axis=1), t)
        last = np.where(some, t - 1 - valid[:, ::-1].argmax(axis=1), -1)
        return first, last


deferred(ExchangePanel, "prices", "volume", "cum", "cum_missing")


class RowSource(Thunk):
    """A deferred ``(N, T)`` matrix that can also give some of its rows cheaply."""

    def rows(self, rows: IntArray) -> FloatArray:
        """Rows ``rows`` of the matrix."""
        raise NotImplementedError

    def priced_range(self) -> tuple[IntArray, IntArray]:
        """First and last column of each row holding a finite value (``T``, -1 for none)."""
        raise NotImplementedError


def _running_sums(prices: FloatArray, kind: ReturnKind) -> tuple[FloatArray, IntArray]:
    one = one_session_returns(prices, kind)
    missing = ~np.isfinite(one)
    one[missing] = 0.0
    n, t = prices.shape
    cum = np.zeros((n, t + 1))
    np.cumsum(one, axis=1, out=cum[:, 1:])
    cum_missing = np.zeros((n, t + 1), dtype=np.int64)
    np.cumsum(missing, axis=1, out=cum_missing[:, 1:])
    return cum, cum_missing


class _SumsCache:
    """Computes the running sums of a price matrix once, even from several threads."""

    def __init__(self, prices: FloatArray | Thunk, kind: ReturnKind) -> None:
        self.prices: FloatArray | Thunk | None = prices
        self.kind = kind
        self.sums: tuple[FloatArray, IntArray] | None = None
        self.lock = threading.Lock()

    def get(self) -> tuple[FloatArray, IntArray]:
        with self.lock:
            if self.sums is None:
                assert self.prices is not None
                prices = self.prices() if isinstance(self.prices, Thunk) else self.prices
                self.sums = _running_sums(prices, self.kind)
                self.prices = None
            return self.sums

    def __getstate__(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "lock"}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self.lock = threading.Lock()


class _RunningSums(Thunk):
    """One of the two running-sum arrays of a panel (both are computed on first need)."""

    def __init__(self, cache: _SumsCache, which: int) -> None:
        self.cache, self.which = cache, which

    def __call__(self) -> FloatArray | IntArray:
        return self.cache.get()[self.which]


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
    prev = np.where(valid, np.arange(t, dtype=np.int64), -1)
    np.maximum.accumulate(prev, axis=1, out=prev)  # last traded session up to t
    prev[:, 1:] = prev[:, :-1].copy()  # ... strictly before t
    prev[:, :1] = -1
    ok = valid & (prev >= 0)
    flat = np.maximum(prev, 0) + (np.arange(n, dtype=np.int64) * t)[:, None]
    base = prices.ravel().take(flat)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = prices / base
        returns = np.log(ratio) if kind is ReturnKind.log else ratio - 1.0
    returns[~ok] = np.nan
    span = np.arange(t, dtype=np.int64) - prev
    span[~ok] = 0
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
    return panel_from_matrix(sessions, tickers, prices, volume, kind)


def panel_from_matrix(sessions: TradingSessions, tickers: tuple[str, ...], prices: FloatArray,
                      volume: FloatArray, kind: ReturnKind = ReturnKind.simple,
                      returns: FloatArray | None = None, span: IntArray | None = None
                      ) -> ExchangePanel:
    """Derive returns, spans and (deferred) running sums from a ``(N, T)`` price matrix.

    Parameters
    ----------
    sessions : TradingSessions
        The session axis (length ``T``).
    tickers : tuple of str
        Row labels (length ``N``).
    prices, volume : numpy.ndarray
        ``(N, T)`` adjusted prices and volume, NaN where missing.
    kind : ReturnKind, default simple
        Return definition.
    returns, span : numpy.ndarray, optional
        :func:`spanning_returns` of ``prices`` when the caller has them already.

    Returns
    -------
    ExchangePanel
        ``cum`` and ``cum_missing`` are computed on first access.
    """
    if returns is None or span is None:
        returns, span = spanning_returns(prices, kind)
    cache = _SumsCache(prices, kind)
    return ExchangePanel(sessions, tickers, prices, volume, returns, span,
                         _RunningSums(cache, 0), _RunningSums(cache, 1),  # type: ignore[arg-type]
                         kind)


def panel_from_returns(sessions: TradingSessions, tickers: tuple[str, ...],
                       prices: RowSource, volume: Thunk, returns: FloatArray, span: IntArray,
                       kind: ReturnKind) -> ExchangePanel:
    """Build a panel whose prices, volumes and running sums are computed when first needed.

    Parameters
    ----------
    sessions, tickers : see :class:`ExchangePanel`
    prices : RowSource
        Computes the ``(N, T)`` prices (or some rows of them).
    volume : Thunk
        Computes the ``(N, T)`` volumes.
    returns, span : numpy.ndarray
        :func:`spanning_returns` of the prices.
    kind : ReturnKind
        Return definition.
    """
    cache = _SumsCache(prices, kind)
    lazy: Any = (prices, volume, _RunningSums(cache, 0), _RunningSums(cache, 1))
    return ExchangePanel(sessions, tickers, lazy[0], lazy[1], returns, span, lazy[2], lazy[3],
                         kind)
