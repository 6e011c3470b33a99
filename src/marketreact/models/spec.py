"""What a normal-return model is: name, regressors, estimator; the study's method and policies.

Plain declarations (enums and frozen dataclasses) read by every other module of
:mod:`marketreact.models` and by the study. Imports only windows helpers and the panel's
factor names.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from marketreact._typing import IntArray, Window
from marketreact.panel.factors import FACTOR_NAMES
from marketreact.windows import _base, shifted


class ModelName(str, Enum):
    """Normal-return models available from the CLI and the API."""

    constant_mean = "constant-mean"
    market_adjusted = "market-adjusted"
    market_model = "market-model"
    scholes_williams = "scholes-williams"
    dimson = "dimson"
    ff3 = "ff3"
    ff5 = "ff5"
    carhart4 = "carhart4"
    garch = "garch"


class Estimator(str, Enum):
    """How a model's coefficients are obtained from the estimation window."""

    ols = "ols"
    fixed = "fixed"
    scholes_williams = "scholes-williams"
    dimson = "dimson"
    garch = "garch"


@dataclass(frozen=True)
class ModelSpec:
    """A linear normal-return model.

    Attributes
    ----------
    name : str
        Model name as shown in results.
    regressors : tuple of str
        Regressor names; ``const`` and ``market`` are built in.
    fixed : tuple of float, optional
        Coefficients fixed in advance (nothing is estimated), e.g. the
        market-adjusted model's ``(0, 1)``.
    estimator : Estimator, default ols
        How the coefficients are estimated.
    extra : tuple of str, default ()
        Regressors used only in the estimation window, e.g. the lagged and
        leading market returns ``market[-1]``, ``market[+1]`` of the
        Scholes-Williams and Dimson estimators.
    excess : bool, default False
        Whether the model explains returns in excess of the risk-free rate
        (factor ``rf``, subtracted from the return over the same sessions).
    """

    name: str
    regressors: tuple[str, ...]
    fixed: tuple[float, ...] | None = None
    estimator: Estimator = Estimator.ols
    extra: tuple[str, ...] = ()
    excess: bool = False

    @property
    def n_estimated(self) -> int:
        """Number of estimated mean parameters (``min_estimation`` must exceed it)."""
        return 0 if self.fixed is not None else len(self.regressors) + len(self.extra)

    @property
    def uses_market(self) -> bool:
        """Whether the model needs a market index."""
        return any(_base(r) == "market" for r in self.regressors + self.extra)

    @property
    def estimation_columns(self) -> tuple[str, ...]:
        """Regressors gathered over the estimation window."""
        return self.regressors + self.extra

    @property
    def factors(self) -> tuple[str, ...]:
        """Factor series the model needs (``rf`` included for excess returns)."""
        names = [r for r in self.estimation_columns if r in FACTOR_NAMES]
        if self.excess:
            names.append("rf")
        return tuple(dict.fromkeys(names))


def model_spec(name: ModelName | str, lags: int = 1, leads: int = 1) -> ModelSpec:
    """The specification of a model, with the Dimson lags and leads applied.

    Parameters
    ----------
    name : ModelName or str
        The model.
    lags, leads : int, default 1
        Lagged and leading market returns of the Dimson (1979) estimator
        (ignored by the other models; Scholes-Williams always uses one of each).

    Returns
    -------
    ModelSpec
    """
    name = ModelName(name)
    if name is ModelName.dimson:
        if lags < 0 or leads < 0:
            raise ValueError("Dimson lags and leads must be non-negative")
        extra = tuple(shifted("market", -k) for k in range(lags, 0, -1)) + tuple(
            shifted("market", k) for k in range(1, leads + 1))
        return ModelSpec(f"dimson({lags},{leads})", ("const", "market"),
                         estimator=Estimator.dimson, extra=extra)
    return MODELS[name]


MODELS: dict[ModelName, ModelSpec] = {
    ModelName.constant_mean: ModelSpec("constant-mean", ("const",)),
    ModelName.market_adjusted: ModelSpec("market-adjusted", ("const", "market"), (0.0, 1.0),
                                          Estimator.fixed),
    ModelName.market_model: ModelSpec("market-model", ("const", "market")),
    ModelName.scholes_williams: ModelSpec(
        "scholes-williams", ("const", "market"), estimator=Estimator.scholes_williams,
        extra=("market[-1]", "market[+1]")),
    ModelName.dimson: ModelSpec("dimson(1,1)", ("const", "market"), estimator=Estimator.dimson,
                                extra=("market[-1]", "market[+1]")),
    ModelName.ff3: ModelSpec("ff3", ("const", "mkt_rf", "smb", "hml"), excess=True),
    ModelName.ff5: ModelSpec("ff5", ("const", "mkt_rf", "smb", "hml", "rmw", "cma"),
                             excess=True),
    ModelName.carhart4: ModelSpec("carhart4", ("const", "mkt_rf", "smb", "hml", "mom"),
                                  excess=True),
    ModelName.garch: ModelSpec("garch", ("const", "market"), estimator=Estimator.garch),
}


class Method(str, Enum):
    """How abnormal returns are estimated."""

    vectorised = "vectorised"
    regression = "regression"


class MissingPolicy(str, Enum):
    """What a session without a price inside the windows does to an event."""

    drop = "drop"
    fail = "fail"


def check_method(model: ModelName, method: Method, hac_lags: int | None) -> list[str]:
    """Problems with a combination of model, method and HAC lags (empty when fine)."""
    problems = []
    estimator = model_spec(model).estimator
    if method is Method.regression and estimator is not Estimator.ols:
        problems.append(f"method regression needs a model estimated by OLS (constant-mean, "
                        f"market-model, ff3, ff5, carhart4), not {model.value}")
    if hac_lags is not None:
        if method is not Method.regression:
            problems.append("HAC (Newey-West) errors need method regression")
        if hac_lags < 0:
            problems.append("hac_lags must be non-negative")
    return problems


@dataclass(frozen=True)
class ChunkPlan:
    """What every chunk computes: the model, windows and return kind.

    Attributes
    ----------
    spec : ModelSpec
        Normal-return model.
    estimation, window : tuple of int
        Estimation and event windows (relative sessions, inclusive).
    car_windows : tuple of tuple of int
        CAR windows (inside the event window).
    log_returns : bool
        Whether returns are log returns (for BHAR).
    """

    spec: ModelSpec
    estimation: Window
    window: Window
    car_windows: tuple[Window, ...]
    log_returns: bool

    @property
    def est_days(self) -> IntArray:
        """Relative days of the estimation window."""
        return np.arange(self.estimation[0], self.estimation[1] + 1)

    @property
    def evt_days(self) -> IntArray:
        """Relative days of the event window."""
        return np.arange(self.window[0], self.window[1] + 1)

    def car_columns(self) -> list[slice]:
        """Event-window columns of each CAR window."""
        w0 = self.window[0]
        return [slice(a - w0, b - w0 + 1) for a, b in self.car_windows]
