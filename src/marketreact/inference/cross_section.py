"""Cross-sectional regression of CARs on event attributes (statsmodels OLS, HC3 errors)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketreact.errors import InputError


@dataclass(frozen=True)
class CrossSectionalResult:
    """A cross-sectional regression of CARs on event attributes.

    Attributes
    ----------
    formula : str
        The formula fitted (``car ~ ...``).
    window : str
        CAR window, e.g. ``[-1,+1]``.
    table : pandas.DataFrame
        One row per term: ``term, coef, se, t, p, ci_low, ci_high`` (HC3).
    nobs : int
        Events used.
    rsquared : float
        R squared.
    summary_text : str
        The statsmodels summary.
    data : pandas.DataFrame
        The rows used (event_id, CAR and the attributes).
    """

    formula: str
    window: str
    table: pd.DataFrame
    nobs: int
    rsquared: float
    summary_text: str
    data: pd.DataFrame

    def summary(self) -> str:
        """The statsmodels summary (HC3 standard errors)."""
        return self.summary_text

    def __str__(self) -> str:
        return self.summary_text


def cross_sectional(car: pd.DataFrame, events: pd.DataFrame, formula: str,
                    window: str | None = None, cov_type: str = "HC3") -> CrossSectionalResult:
    """Regress the CARs of one window on event attributes.

    Parameters
    ----------
    car : pandas.DataFrame
        Long CAR table (``event_id, window, car, ...``), e.g. ``car.csv``.
    events : pandas.DataFrame
        Event table (``event_id`` and attributes), e.g. ``events.csv``.
    formula : str
        A statsmodels formula whose left side is ``car`` (or ``bhar``,
        ``car_t``), e.g. ``"car ~ sentiment"``.
    window : str, optional
        CAR window as in ``car.csv`` (``[-1,+1]``) or ``A:B``; default: the
        first window of the table.
    cov_type : str, default "HC3"
        statsmodels covariance type. Tests use the t distribution with the
        residual degrees of freedom (``use_t=True``), as event samples are small.

    Returns
    -------
    CrossSectionalResult

    Raises
    ------
    InputError
        Unknown window, a formula that does not parse or names unknown columns,
        or too few events.
    """
    import statsmodels.formula.api as smf

    if car.empty:
        raise InputError("no CARs to regress (the study has no events)")
    windows = list(dict.fromkeys(car["window"].astype(str)))
    chosen = windows[0] if window is None else _match_window(window, windows)
    rows = car.loc[car["window"].astype(str) == chosen].drop(columns=["window"])
    attrs = events.drop(columns=[c for c in events.columns
                                 if c in rows.columns and c != "event_id"])
    data = rows.merge(attrs, on="event_id", how="left", validate="one_to_one")
    try:
        model = smf.ols(formula, data=data)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"formula {formula!r} cannot be used ({first}); columns: "
                         f"{', '.join(map(str, data.columns))}") from None
    nobs = int(model.nobs)
    if nobs <= len(model.exog_names):
        raise InputError(f"formula {formula!r} has {len(model.exog_names)} terms but only "
                         f"{nobs} events with every value present")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = model.fit(cov_type=cov_type, use_t=True)
    ci = np.asarray(res.conf_int())
    table = pd.DataFrame({
        "term": list(res.params.index),
        "coef": np.asarray(res.params),
        "se": np.asarray(res.bse),
        "t": np.asarray(res.tvalues),
        "p": np.asarray(res.pvalues),
        "ci_low": ci[:, 0],
        "ci_high": ci[:, 1],
    })
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = str(res.summary(title=f"CAR{chosen} cross-sectional regression ({cov_type})"))
    return CrossSectionalResult(formula, chosen, table, nobs, float(res.rsquared), text, data)


def _match_window(window: str, windows: list[str]) -> str:
    from marketreact.windows import format_window, parse_window

    if window in windows:
        return window
    try:
        canonical = format_window(parse_window(window))
    except InputError:
        canonical = window
    if canonical not in windows:
        raise InputError(f"window {window!r} is not in the results (have {', '.join(windows)})")
    return canonical
