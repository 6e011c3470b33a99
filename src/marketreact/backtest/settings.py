"""The settings of a backtest: signal, fill rule, holding, hedge, costs and their limits."""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from marketreact._typing import Window
from marketreact.errors import InputError
from marketreact.windows import format_window

RULES = ("day0-return", "day0-ar")


DEFAULT_HORIZONS = (1, 5, 10, 20)


# Limits of the settings, checked in exact (Python int) arithmetic before any array sees them.
#: Longest latency: news acted on a year later is no longer news, and the bound keeps
#: ``known + latency`` (UTC nanoseconds, int64) centuries away from overflow.
MAX_LATENCY = pd.Timedelta(days=366)


#: Longest hold and forward-return horizon, in sessions: ten years of 252 sessions.
MAX_HOLD = 2520


#: Farthest an estimation-window bound may lie from day 0, in sessions (about 20 years).
MAX_WINDOW = 5000


#: Most placebo draws: each re-times every trade, and 100,000 already resolve p to 1e-5.
MAX_PLACEBO_DRAWS = 100_000


#: Highest cost per side and leg, in basis points: 10,000 bp is the whole notional.
MAX_COST_BPS = 10_000.0


#: Largest seed: numpy refuses negative seeds, and 2**63 - 1 stays a 64-bit integer on disk.
MAX_SEED = 2**63 - 1


#: Most sessions per year for annualising: a year has at most 366 days.
MAX_PER_YEAR = 366


_NS_PER_UNIT = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


def duration_ns(value: Any) -> int | None:
    """``value`` as a whole number of nanoseconds, exactly (a Python int).

    ``None`` for what is not a duration: NaT, text pandas cannot parse or a duration
    outside pandas' range. Unlike ``Timedelta.value`` this never overflows.
    """
    try:
        td = pd.Timedelta(value)
    except (ValueError, OverflowError, TypeError):  # OutOfBoundsTimedelta is a ValueError
        return None
    if td is pd.NaT:
        return None
    unit, count = np.datetime_data(td.asm8.dtype)
    return int(td.asm8.view("i8")) * int(count) * _NS_PER_UNIT[unit]


def _whole(value: object) -> int | None:
    """``value`` as a Python int if it is an integer (bool excluded), else ``None``."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return None


#: ``MAX_LATENCY`` in nanoseconds, exactly.
MAX_LATENCY_NS: int = MAX_LATENCY.days * 86_400 * 10**9


class EntryRule(StrEnum):
    """Which price a trade fills at: the first open or the first close after the news."""

    next_open = "next-open"
    close = "close"


class HedgeMode(StrEnum):
    """How the market is hedged: not, one for one, or by the estimated beta."""

    none = "none"
    market = "market"
    beta = "beta"


class SignalMode(StrEnum):
    """How a signal sizes positions: ``sign`` (equal weights) or ``value`` (by ``|signal|``)."""

    sign = "sign"
    value = "value"


@dataclass(frozen=True)
class SignalSpec:
    """Where each event's signal comes from.

    Attributes
    ----------
    kind : str
        ``column`` (a catalogue column, known when the news is) or ``rule``.
    name : str
        Column name, or rule name (``day0-return``, ``day0-ar``).
    negate : bool
        Trade against the signal.
    """

    kind: str
    name: str
    negate: bool = False

    @classmethod
    def parse(cls, text: str) -> SignalSpec:
        """Parse ``sentiment``, ``column:NAME`` or ``rule:NAME``, optionally prefixed by ``-``."""
        raw = text.strip()
        negate = raw.startswith("-")
        raw = raw.lstrip("-").strip()
        if raw == "sentiment":
            return cls("column", "sentiment", negate)
        kind, sep, name = raw.partition(":")
        if sep and kind == "column" and name.strip():
            return cls("column", name.strip(), negate)
        if sep and kind == "rule" and name.strip() in RULES:
            return cls("rule", name.strip(), negate)
        raise InputError(f"signal {text!r} is not understood: use sentiment, column:NAME or "
                         f"rule:{'|'.join(RULES)} (prefix '-' to trade against it)")

    def __str__(self) -> str:
        body = "sentiment" if (self.kind, self.name) == ("column", "sentiment") \
            else f"{self.kind}:{self.name}"
        return ("-" if self.negate else "") + body


@dataclass(frozen=True)
class BacktestSettings:
    """Settings of a backtest.

    ``entry``, ``signal_mode`` and ``hedge`` may be given as their enum or as its
    value (``"next-open"``); they are converted here, once.

    Attributes
    ----------
    entry : EntryRule
        Fill rule; no default on purpose (see the module docstring).
    signal : str
        ``sentiment``, ``column:NAME`` or ``rule:day0-return`` / ``rule:day0-ar``.
    signal_mode : SignalMode
        Equal weights by sign, or weights in proportion to ``|signal|``.
    threshold : float
        Events with ``|signal| <= threshold`` are not traded.
    latency : pandas.Timedelta
        Added to the moment the news became public.
    hold : int
        Sessions of returns per trade.
    hedge : HedgeMode
        Market hedge.
    cost_bps : float
        Cost per side and leg, in basis points of the notional traded.
    estimation : tuple of int
        Window (sessions relative to day 0) for the beta of ``hedge=beta`` and ``day0-ar``.
    min_estimation : int
        Fewest estimation returns for a beta.
    market : str, optional
        Market index for events without their own (default: the exchange's).
    horizons : tuple of int
        Sessions of the forward returns whose IC is reported.
    placebo_draws : int
        Random re-timings of all events (0: no placebo).
    seed : int
        Seed of the placebo's random generator.
    per_year : int
        Sessions per year for annualising.
    """

    entry: EntryRule
    signal: str = "sentiment"
    signal_mode: SignalMode = SignalMode.sign
    threshold: float = 0.0
    latency: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(0))
    hold: int = 1
    hedge: HedgeMode = HedgeMode.none
    cost_bps: float = 0.0
    estimation: Window = (-250, -11)
    min_estimation: int = 120
    market: str | None = None
    horizons: tuple[int, ...] = DEFAULT_HORIZONS
    placebo_draws: int = 1000
    seed: int = 0
    per_year: int = 252

    def __post_init__(self) -> None:
        problems = []
        for name in ("estimation", "horizons"):  # lists read back from JSON (``to_dict``)
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        for name, enum in (("entry", EntryRule), ("signal_mode", SignalMode),
                           ("hedge", HedgeMode)):
            value = getattr(self, name)
            if not isinstance(value, enum):
                try:
                    object.__setattr__(self, name, enum(value))
                except ValueError:
                    problems.append(f"unknown {name} {value!r}; choose from "
                                    f"{', '.join(m.value for m in enum)}")
        hold = _whole(self.hold)
        if hold is None or not 1 <= hold <= MAX_HOLD:
            problems.append(f"hold must be a whole number of sessions from 1 to {MAX_HOLD} "
                            f"(got {self.hold!r})")
        latency = duration_ns(self.latency)
        if latency is None:
            problems.append(f"latency {str(self.latency)!r} is not a duration pandas can "
                            "represent")
        elif latency < 0:
            problems.append("latency cannot be negative")
        elif latency > MAX_LATENCY_NS:
            problems.append(f"latency {str(self.latency)!r} is longer than the maximum of "
                            f"{MAX_LATENCY.days} days")
        for name, limit in (("cost_bps", MAX_COST_BPS), ("threshold", math.inf)):
            value = getattr(self, name)
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            if not math.isfinite(number):
                problems.append(f"{name} must be a finite number (got {value!r})")
            elif number < 0:
                problems.append(f"{name} cannot be negative")
            elif number > limit:
                problems.append(f"{name} cannot exceed {limit:,.0f} (got {value!r})")
        window = tuple(_whole(b) for b in self.estimation) if len(self.estimation) == 2 \
            else (None, None)
        if window[0] is None or window[1] is None:
            problems.append(f"estimation window {self.estimation!r} must be two whole numbers")
        elif not -MAX_WINDOW <= window[0] <= window[1] < 0:
            problems.append(f"estimation window {format_window(self.estimation)} must end "
                            f"before day 0 and start at or after day -{MAX_WINDOW}")
        min_est = _whole(self.min_estimation)
        if min_est is None or not 3 <= min_est <= MAX_WINDOW:
            problems.append(f"min_estimation must be a whole number from 3 to {MAX_WINDOW} "
                            f"(got {self.min_estimation!r})")
        horizons = [_whole(h) for h in self.horizons]
        if any(h is None or not 1 <= h <= MAX_HOLD for h in horizons):
            problems.append(f"horizons must be whole numbers of sessions from 1 to {MAX_HOLD} "
                            f"(got {tuple(self.horizons)!r})")
        draws = _whole(self.placebo_draws)
        if draws is None or not 0 <= draws <= MAX_PLACEBO_DRAWS:
            problems.append(f"placebo_draws must be a whole number from 0 to "
                            f"{MAX_PLACEBO_DRAWS:,} (got {self.placebo_draws!r})")
        seed = _whole(self.seed)
        if seed is None or not 0 <= seed <= MAX_SEED:
            problems.append(f"seed must be a whole number from 0 to 2**63 - 1 "
                            f"(got {self.seed!r})")
        per_year = _whole(self.per_year)
        if per_year is None or not 1 <= per_year <= MAX_PER_YEAR:
            problems.append(f"per_year must be a whole number from 1 to {MAX_PER_YEAR} "
                            f"(got {self.per_year!r})")
        if problems:
            raise InputError("; ".join(problems))
        SignalSpec.parse(self.signal)

    @property
    def signal_spec(self) -> SignalSpec:
        """The parsed signal."""
        return SignalSpec.parse(self.signal)

    @property
    def needs_beta(self) -> bool:
        """Whether a market model must be estimated."""
        return self.hedge is HedgeMode.beta or self.signal_spec.name == "day0-ar"

    @property
    def needs_market(self) -> bool:
        """Whether every event needs a market index."""
        return self.hedge is not HedgeMode.none or self.needs_beta

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as plain JSON-able values."""
        return {
            "entry": self.entry.value, "signal": self.signal,
            "signal_mode": self.signal_mode.value, "threshold": self.threshold,
            "latency": str(pd.Timedelta(self.latency)), "hold": self.hold,
            "hedge": self.hedge.value, "cost_bps": self.cost_bps,
            "estimation": list(self.estimation), "min_estimation": self.min_estimation,
            "market": self.market, "horizons": list(self.horizons),
            "placebo_draws": self.placebo_draws, "seed": self.seed, "per_year": self.per_year,
        }
