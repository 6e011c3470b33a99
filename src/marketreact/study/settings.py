"""The settings of an event study: windows, model, policies and tests, checked once."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from marketreact._typing import Window
from marketreact.calendar import (
    SessionSource,
)
from marketreact.errors import InputError, InputProblem
from marketreact.inference.base import Alternative
from marketreact.inference.multiple import Adjustment
from marketreact.inference.nonparametric import BootstrapStreams
from marketreact.models.spec import (
    Method,
    MissingPolicy,
    ModelName,
    ModelSpec,
    check_method,
    model_spec,
)
from marketreact.panel.measures import Measure
from marketreact.panel.returns import ReturnKind
from marketreact.panel.screening import DuplicatePolicy, OverlapPolicy
from marketreact.prices.checks import (
    SuspectPolicy,
)
from marketreact.windows import (
    format_window,
)

DEFAULT_CAR_WINDOWS: tuple[Window, ...] = ((-1, 1), (0, 0), (0, 1), (-5, 5))

#: Most bootstrap resamples a study may ask for (memory and time grow with them).
MAX_BOOTSTRAP = 100_000
#: Farthest session from day 0 a window may reach (about 40 years of sessions).
MAX_SESSIONS = 10_000
#: Most Dimson lags or leads.
MAX_LAGS = 20

#: Settings given by name: the enum each becomes, and how an error message names it.
_CHOICES: dict[str, tuple[type[Enum], str]] = {
    "model": (ModelName, "model"),
    "returns": (ReturnKind, "returns"),
    "missing": (MissingPolicy, "missing-price policy"),
    "method": (Method, "method"),
    "sessions": (SessionSource, "sessions"),
    "measure": (Measure, "measure"),
    "alternative": (Alternative, "alternative"),
    "suspect_prices": (SuspectPolicy, "suspect-price policy"),
    "duplicates": (DuplicatePolicy, "duplicates policy"),
    "overlap": (OverlapPolicy, "overlap policy"),
    "adjust": (Adjustment, "p-value adjustment"),
    "boot_streams": (BootstrapStreams, "bootstrap streams"),
}


@dataclass(frozen=True)
class StudySettings:
    """Settings of an event study.

    Every choice (``model``, ``returns``, ``missing``, ``method``, ``sessions``,
    ``measure``, ``alternative``, ``suspect_prices``) may be given as its enum
    or as the enum's value (``"market-model"``); it is converted here, once, and
    an unknown value raises :class:`~marketreact.errors.InputError` naming the
    setting and the choices.

    Attributes
    ----------
    model : ModelName
        Normal-return model.
    estimation : tuple of int
        Estimation window in sessions relative to day 0 (inclusive).
    window : tuple of int
        Event window (inclusive).
    car_windows : tuple of tuple of int
        Windows over which CAR and BHAR are reported.
    min_estimation : int
        Fewest estimation returns an event may have.
    market : str, optional
        Market index for every event without its own ``market`` (default: the
        exchange's main index).
    returns : ReturnKind
        Simple or log returns.
    lags, leads : int
        Lagged and leading market returns of the Dimson model (default 1, 1).
    missing : MissingPolicy
        What a session without a price inside the windows does: ``drop``
        (default) leaves that session out, ``fail`` fails the event with the
        reason (see :mod:`marketreact.models.estimate`).
    method : Method
        ``vectorised`` (batched OLS for all events) or ``regression`` (the
        per-event dummy-variable regression with statsmodels).
    hac_lags : int, optional
        With ``method=regression``: Newey-West (HAC) covariance with this many lags.
    sessions : SessionSource
        ``calendar`` (exchange_calendars sessions on which the index traded) or
        ``market`` (the dates of the market index file, e.g. EventStudyTools data).
    measure : Measure
        What is studied: abnormal returns, log volume or volatility
        (see :mod:`marketreact.panel.measures`).
    alternative : Alternative
        Alternative hypothesis of the cross-event tests' p-values.
    n_boot : int
        Bootstrap resamples of events for the bootstrap test (0: off).
    seed : int
        Seed of the bootstrap.
    boot_streams : BootstrapStreams
        Where the bootstrap's draws come from: ``per-resample`` (default; a
        generator for each resample, so resamples are drawn on every core) or
        ``sequential`` (one generator, resample after resample: the scheme of
        earlier releases, to reproduce their numbers). The same resampling either
        way, with other random numbers.
    suspect_prices : SuspectPolicy
        ``fail`` (default): an event whose estimation or event window holds a
        suspect price (a bad print, an unadjusted split; see
        :mod:`marketreact.prices.checks`) fails with the reason; ``keep``:
        it is studied on the prices as given and a note names the price.
    duplicates : DuplicatePolicy
        Events of one ticker with the same day 0: ``merge`` (default; one
        event per ticker and day 0 with the first timestamp, ``n_headlines``
        and the other ids, numeric attributes averaged), ``first`` (the first
        event as it is) or ``keep`` (all studied).
    overlap : OverlapPolicy
        Events with other news of the firm in their event window: ``keep``
        (default; reported), ``drop-later`` (leave out those with earlier
        news there) or ``drop-all``.
    clean_estimation : bool
        Leave the other news' event windows out of each estimation sample
        (``min_estimation`` still applies).
    adjust : Adjustment
        Multiple-testing adjustment of the p-values across the event-window
        days and CAR windows: ``none`` (default), ``holm`` or ``bh``.
    group : str, optional
        Catalogue column whose values split the events into groups (tests per
        group and between groups).
    long_window : int
        Windows of at least this many periods (sessions, or months in a monthly
        study) are long-horizon windows: their mean BHAR also gets the
        bootstrapped skewness-adjusted t of Lyon, Barber & Tsai (1999), which
        corrects the right skew of long-run returns. Shorter windows leave it
        empty (the conventional and skewness-adjusted t are there for every
        window); 1 gives it to every window.
    """

    model: ModelName = ModelName.market_model
    estimation: Window = (-250, -11)
    window: Window = (-10, 10)
    car_windows: tuple[Window, ...] = DEFAULT_CAR_WINDOWS
    min_estimation: int = 120
    market: str | None = None
    returns: ReturnKind = ReturnKind.simple
    lags: int = 1
    leads: int = 1
    missing: MissingPolicy = MissingPolicy.drop
    method: Method = Method.vectorised
    hac_lags: int | None = None
    sessions: SessionSource = SessionSource.calendar
    measure: Measure = Measure.returns
    alternative: Alternative = Alternative.two_sided
    n_boot: int = 999
    seed: int = 0
    boot_streams: BootstrapStreams = BootstrapStreams.per_resample
    suspect_prices: SuspectPolicy = SuspectPolicy.fail
    duplicates: DuplicatePolicy = DuplicatePolicy.merge
    overlap: OverlapPolicy = OverlapPolicy.keep
    clean_estimation: bool = False
    adjust: Adjustment = Adjustment.none
    group: str | None = None
    long_window: int = 21

    def __post_init__(self) -> None:
        # Windows read back from JSON (``to_dict``) come as lists: keep them as tuples.
        for name in ("estimation", "window"):
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        if isinstance(self.car_windows, list) or any(isinstance(w, list)
                                                     for w in self.car_windows):
            object.__setattr__(self, "car_windows", tuple(tuple(w) for w in self.car_windows))
        for name, (enum, what) in _CHOICES.items():
            value = getattr(self, name)
            if not isinstance(value, enum):
                try:
                    object.__setattr__(self, name, enum(value))
                except ValueError:
                    raise InputError([InputProblem(
                        "settings", None, name, str(value),
                        f"unknown {what} {value!r}; choose from "
                        f"{', '.join(m.value for m in enum)}")]) from None
        problems: list[tuple[str, str, str]] = []  # (field, value, message)
        if not 1 <= self.long_window <= MAX_SESSIONS:
            problems.append(("long_window", str(self.long_window),
                             f"long_window must be 1 to {MAX_SESSIONS:,} periods"))
        if self.n_boot < 0:
            problems.append(("n_boot", str(self.n_boot), "n_boot must be 0 or more"))
        if self.n_boot > MAX_BOOTSTRAP:
            problems.append(("n_boot", str(self.n_boot),
                             f"n_boot must be at most {MAX_BOOTSTRAP:,} bootstrap resamples"))
        (e0, e1), (w0, w1) = self.estimation, self.window
        est, win = format_window(self.estimation), format_window(self.window)
        if e0 > e1:
            problems.append(("estimation", est, f"estimation window {est} is inverted"))
        if w0 > w1:
            problems.append(("window", win, f"event window {win} is inverted"))
        for name, what, (a, b) in (("estimation", "estimation", (e0, e1)),
                                   ("window", "event", (w0, w1))):
            if max(abs(a), abs(b)) > MAX_SESSIONS:  # checked before any date arithmetic
                problems.append((name, format_window((a, b)),
                                 f"{what} window reaches beyond {MAX_SESSIONS:,} sessions "
                                 "(about 40 years) from day 0"))
        for name, value in (("lags", self.lags), ("leads", self.leads)):
            if value > MAX_LAGS:
                problems.append((name, str(value),
                                 f"Dimson {name} must be at most {MAX_LAGS}"))
        if self.hac_lags is not None and not 0 <= self.hac_lags <= MAX_SESSIONS:
            problems.append(("hac_lags", str(self.hac_lags),
                             f"hac_lags must be between 0 and {MAX_SESSIONS:,}"))
        if problems:  # the other checks make no sense for inverted or unbounded windows
            raise InputError([InputProblem("settings", None, f, v, m) for f, v, m in problems])
        if e1 >= w0:
            problems.append(("estimation", est, f"estimation window {est} overlaps the "
                             f"event window {win}"))
        for cw in self.car_windows:
            if cw[0] > cw[1] or cw[0] < w0 or cw[1] > w1:
                problems.append(("car_windows", format_window(cw),
                                 f"CAR window {format_window(cw)} is not inside the event "
                                 f"window {win}"))
        if self.lags < 0 or self.leads < 0:
            problems.append(("lags" if self.lags < 0 else "leads",
                             str(min(self.lags, self.leads)),
                             "Dimson lags and leads must be non-negative"))
        k = model_spec(self.model, max(self.lags, 0), max(self.leads, 0)).n_estimated
        problems.extend(("method", self.method.value, m)
                        for m in check_method(self.model, self.method, self.hac_lags))
        if self.min_estimation < k + 2:
            problems.append(("min_estimation", str(self.min_estimation),
                             f"min_estimation must be at least {k + 2} for {self.model.value}"))
        if self.min_estimation > e1 - e0 + 1:
            problems.append(("min_estimation", str(self.min_estimation),
                             f"min_estimation {self.min_estimation} exceeds the estimation "
                             f"window's {e1 - e0 + 1} sessions"))
        if problems:
            raise InputError([InputProblem("settings", None, f, v, m) for f, v, m in problems])

    @property
    def spec(self) -> ModelSpec:
        """The model specification."""
        return model_spec(self.model, self.lags, self.leads)

    def to_dict(self) -> dict[str, Any]:
        """Settings as plain JSON-able values."""
        return {
            "model": self.model.value,
            "estimation": list(self.estimation),
            "window": list(self.window),
            "car_windows": [list(w) for w in self.car_windows],
            "min_estimation": self.min_estimation,
            "market": self.market,
            "returns": self.returns.value,
            "lags": self.lags,
            "leads": self.leads,
            "missing": self.missing.value,
            "method": self.method.value,
            "hac_lags": self.hac_lags,
            "sessions": self.sessions.value,
            "measure": self.measure.value,
            "alternative": self.alternative.value,
            "n_boot": self.n_boot,
            "seed": self.seed,
            "boot_streams": self.boot_streams.value,
            "suspect_prices": self.suspect_prices.value,
            "duplicates": self.duplicates.value,
            "overlap": self.overlap.value,
            "clean_estimation": self.clean_estimation,
            "adjust": self.adjust.value,
            "group": self.group,
            "long_window": self.long_window,
        }
