"""Cross-sectional regression of CARs on event attributes (statsmodels OLS).

Standard errors: HC3 (the default), or cluster-robust by event date, by firm, or by
both (two-way, Cameron, Gelbach & Miller 2011: ``V = V_date + V_firm - V_date∩firm``),
each by statsmodels' ``cov_type="cluster"`` with its small-sample correction.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from marketreact.errors import InputError

#: Covariance choices of :func:`cross_sectional`: name -> columns of events.csv clustered on.
CLUSTERS: dict[str, tuple[str, ...]] = {
    "cluster-date": ("day0",),
    "cluster-firm": ("ticker",),
    "cluster-two-way": ("day0", "ticker"),
}
COV_TYPES: tuple[str, ...] = ("HC3", *CLUSTERS)


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
        One row per term: ``term, coef, se, t, p, ci_low, ci_high``.
    nobs : int
        Events used.
    rsquared : float
        R squared.
    summary_text : str
        The statsmodels summary.
    data : pandas.DataFrame
        The rows used (event_id, CAR and the attributes).
    cov_type : str
        ``HC3`` or one of :data:`CLUSTERS`.
    n_clusters : tuple of int
        Clusters of each clustering dimension (empty for HC3).
    """

    formula: str
    window: str
    table: pd.DataFrame
    nobs: int
    rsquared: float
    summary_text: str
    data: pd.DataFrame
    cov_type: str = "HC3"
    n_clusters: tuple[int, ...] = ()

    def summary(self) -> str:
        """The statsmodels summary (with the chosen standard errors)."""
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
        ``HC3`` (or another statsmodels heteroskedasticity-robust type), or
        ``cluster-date`` (clusters of events with the same ``day0``),
        ``cluster-firm`` (same ``ticker``) or ``cluster-two-way`` (both, Cameron,
        Gelbach & Miller 2011), read from ``events``. Tests use the t
        distribution (``use_t=True``): with the residual degrees of freedom for
        HC3, with clusters minus one (the smaller count for two-way) when
        clustered, as statsmodels does.

    Returns
    -------
    CrossSectionalResult

    Raises
    ------
    InputError
        Unknown window, a formula that does not parse or names unknown columns,
        too few events, or clusters asked for without their column or with
        fewer than 2 clusters.
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
    fit_kw: dict = {"cov_type": cov_type}
    n_clusters: tuple[int, ...] = ()
    if cov_type in CLUSTERS:
        groups, n_clusters = _cluster_groups(data, model, CLUSTERS[cov_type], cov_type)
        fit_kw = {"cov_type": "cluster", "cov_kwds": {"groups": groups}}
    elif cov_type.startswith("cluster"):
        raise InputError(f"unknown covariance {cov_type!r}; choose from {', '.join(COV_TYPES)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = model.fit(use_t=True, **fit_kw)
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
    return CrossSectionalResult(formula, chosen, table, nobs, float(res.rsquared), text, data,
                                cov_type, n_clusters)


def _cluster_groups(data: pd.DataFrame, model: Any, columns: tuple[str, ...],
                    cov_type: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """Integer cluster codes of the rows the model uses, one column per dimension."""
    rows = getattr(model.data, "row_labels", None)
    used = data if rows is None else data.loc[rows]
    codes, counts = [], []
    for col in columns:
        if col not in used.columns:
            raise InputError(f"{cov_type} needs the column {col!r} in events.csv "
                             f"(have {', '.join(map(str, data.columns))})")
        values = used[col]
        if values.isna().any():
            bad = used.loc[values.isna(), "event_id"].iloc[0] if "event_id" in used else "?"
            raise InputError(f"{cov_type}: event {bad} has no {col}")
        code, uniques = pd.factorize(values.astype(str))
        if len(uniques) < 2:
            raise InputError(f"{cov_type}: all {len(values)} events share one {col} "
                             f"({uniques[0]}); clustering needs at least 2 clusters")
        codes.append(code)
        counts.append(len(uniques))
    groups = codes[0] if len(codes) == 1 else np.column_stack(codes)
    return groups, tuple(counts)


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
