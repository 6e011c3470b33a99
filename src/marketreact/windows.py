"""Event windows: relative days parsed and printed, and event x relative-day arrays.

:func:`gather` builds the returns and regressors of every event over a window at once by
integer indexing into an exchange's panel (no per-event loop); :class:`WindowData` holds
them. Windows are written ``A:B`` or ``[A,B]`` (:func:`parse_window`, :func:`format_window`).

Floor: above :mod:`marketreact.panel` (and the ground floor); models, inference, study,
backtest and validation take their arrays from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from marketreact._typing import BoolArray, FloatArray, IntArray, Window
from marketreact.errors import InputError, InputProblem
from marketreact.panel.factors import FACTOR_NAMES, FactorPanel
from marketreact.panel.returns import ExchangePanel

#: Events per chunk of the engine (bounds the memory of gathered windows).
CHUNK_EVENTS = 20_000


def format_window(window: Window) -> str:
    """Write a window as ``[a,b]`` with signs, e.g. ``[-1,+1]``."""
    a, b = window
    return f"[{a:+d},{b:+d}]".replace("+0", "0")


def parse_window(text: str, field: str = "window") -> Window:
    """Parse ``A:B`` or ``[A,B]`` into a window of relative days.

    ``field`` names the setting in the error raised for text that is not a window.
    """
    cleaned = text.strip().strip("[]()")
    for sep in (":", ","):
        if sep in cleaned:
            a, b = cleaned.split(sep, 1)
            try:
                return int(a), int(b)
            except ValueError:
                break
    raise InputError([InputProblem("settings", None, field, text,
                                   "is not of the form A:B (e.g. -1:1)")])


def gather(panel: ExchangePanel, stock_rows: IntArray, market_rows: IntArray, day0: IntArray,
           rel_days: IntArray, columns: Sequence[str], *, excess: bool = False,
           factors: FactorPanel | None = None, model: str = "the model") -> WindowData:
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
    columns : sequence of str
        Regressors to build (a model's ``regressors``, or its
        ``estimation_columns`` for the estimation window). ``const`` is the
        constant, ``market[-1]`` the market return one session earlier,
        ``market[+1]`` one session later, other names factor series.
    excess : bool, default False
        Whether the model explains excess returns: the offset is then the
        risk-free rate over each return's span (``rf`` from ``factors``).
    factors : FactorPanel, optional
        Factor returns on the panel's sessions (factor models).

    Returns
    -------
    WindowData
        Positions off the session axis are missing. For excess-return models
        the offset is the risk-free rate over each return's span.
    """
    n_sessions = panel.returns.shape[1]
    pos = day0[:, None] + rel_days[None, :]
    inside = (pos >= 0) & (pos < n_sessions)
    posc = np.clip(pos, 0, n_sessions - 1)
    rows = stock_rows[:, None]
    y = np.where(inside, panel.returns[rows, posc], np.nan)
    span = np.where(inside, panel.span[rows, posc], 0)
    width = np.maximum(span, 1)
    out = []
    for name in columns:
        base, shift = parse_shift(name)
        if base == "const":
            out.append(width.astype(float))
        elif base == "market":
            at = posc + shift
            ok = (at - width + 1 >= 0) & (at < n_sessions)
            at = np.clip(at, 0, n_sessions - 1)
            summed = panel.span_sum(np.maximum(market_rows, 0)[:, None], at,
                                    np.minimum(width, at + 1))
            out.append(np.where(ok, summed, np.nan))
        elif factors is not None and base in factors.names:
            out.append(factors.span_sum(base, posc + shift, width))
        else:
            raise InputError(f"unknown regressor {name!r}"
                             + (" (no factors given)" if base in FACTOR_NAMES else ""))
    X = np.stack(out, axis=-1)
    offset = np.zeros(y.shape)
    if excess:
        if factors is None or "rf" not in factors.names:
            raise InputError(f"{model} needs the risk-free rate 'rf' from a factor file")
        offset = factors.span_sum("rf", posc, width)
    valid = (inside & np.isfinite(y) & (span >= 1) & np.isfinite(X).all(axis=-1)
             & np.isfinite(offset))
    return WindowData(y, span, X, valid, np.where(np.isfinite(offset), offset, 0.0))


def _window_prices(panel: ExchangePanel, stock_rows: IntArray, market_rows: IntArray,
                   pos: IntArray) -> tuple[FloatArray, FloatArray]:
    """Adjusted prices of each event's stock and market at session positions ``pos`` (E, L)."""
    n_sessions = panel.returns.shape[1]
    inside = (pos >= 0) & (pos < n_sessions)
    posc = np.clip(pos, 0, max(n_sessions - 1, 0))
    rows, which = np.unique(np.concatenate([stock_rows, np.maximum(market_rows, 0)]),
                            return_inverse=True)
    prices = panel.price_rows(rows)  # only the rows needed, even while prices are pending
    s_at, m_at = which[:len(stock_rows)], which[len(stock_rows):]
    price = np.where(inside, prices[s_at[:, None], posc], np.nan)
    has_market = inside & (market_rows[:, None] >= 0)
    market = np.where(has_market, prices[m_at[:, None], posc], np.nan)
    return price, market


def _base(regressor: str) -> str:
    """Name of a regressor without its ``[lag]`` suffix."""
    return regressor.split("[", 1)[0]


def shifted(name: str, shift: int) -> str:
    """Name of regressor ``name`` shifted by ``shift`` sessions (``market[-1]`` is a lag)."""
    return name if shift == 0 else f"{name}[{shift:+d}]"


def parse_shift(regressor: str) -> tuple[str, int]:
    """Split ``"market[-1]"`` into ``("market", -1)``; an unshifted name has shift 0."""
    base, _, rest = regressor.partition("[")
    if not rest:
        return base, 0
    return base, int(rest.rstrip("]"))


@dataclass(frozen=True)
class WindowData:
    """Returns and regressors of many events over a window of relative days.

    Attributes
    ----------
    y : numpy.ndarray
        ``(E, L)`` returns (NaN where missing).
    span : numpy.ndarray
        ``(E, L)`` sessions covered by each return.
    X : numpy.ndarray
        ``(E, L, k)`` regressors summed over each return's span.
    valid : numpy.ndarray
        ``(E, L)`` True where the return and every regressor are present.
    offset : numpy.ndarray, optional
        ``(E, L)`` known part of the expected return, outside the regression:
        the risk-free rate of excess-return models (zeros when not given).
        The model explains ``y - offset``.
    """

    y: FloatArray
    span: IntArray
    X: FloatArray
    valid: BoolArray
    offset: FloatArray = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.offset is None:
            object.__setattr__(self, "offset", np.zeros(np.shape(self.y)))
