"""Adjusted p-values across the event-window days and CAR windows (multiple testing).

A study reports one p-value per test for every day of the event window and
every CAR window: 21 days and 4 windows make 25 chances to find something at
5% when nothing happened. :func:`adjust_tables` adds, for every p-value column
of the AAR and CAAR tables, an adjusted column over the *family* of that test:
all days and all windows together (per group when the tables have a ``group``
column). The adjustment is :func:`statsmodels.stats.multitest.multipletests`:
``holm`` (Holm 1979, family-wise error) or ``bh`` (Benjamini-Hochberg 1995,
false discovery rate). P-values that could not be computed (NaN) stay NaN and
are not counted in the family.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pandas as pd

from marketreact._typing import FloatArray


class Adjustment(StrEnum):
    """Multiple-testing adjustment of the p-values."""

    none = "none"
    holm = "holm"
    bh = "bh"


_METHOD = {Adjustment.holm: "holm", Adjustment.bh: "fdr_bh"}


def adjust_pvalues(pvalues: FloatArray, method: Adjustment | str) -> FloatArray:
    """Adjust a family of p-values (NaN left out of the family and kept NaN).

    Parameters
    ----------
    pvalues : numpy.ndarray
        The family's p-values.
    method : Adjustment or str
        ``holm``, ``bh`` or ``none`` (returns a copy).

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, same shape.
    """
    p = np.asarray(pvalues, float).copy()
    how = Adjustment(method)
    ok = np.isfinite(p)
    if how is Adjustment.none or not ok.any():
        return p
    from statsmodels.stats.multitest import multipletests  # heavy: only when adjusting

    p[ok] = multipletests(p[ok], method=_METHOD[how])[1]
    return p


def pvalue_columns(frame: pd.DataFrame) -> list[str]:
    """The p-value columns of an AAR or CAAR table (``p`` and every ``X_p``)."""
    return [c for c in frame.columns if (c == "p" or c.endswith("_p")) and not
            c.endswith("_adj")]


def adjust_tables(aar: pd.DataFrame, aggregate: pd.DataFrame, method: Adjustment | str
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add ``<column>_adj`` beside every p-value column of the AAR and CAAR tables.

    Each test is one family: its p-values on every day of ``aar`` and every
    window of ``aggregate`` (within each ``group`` when there is that column).

    Parameters
    ----------
    aar, aggregate : pandas.DataFrame
        The study's tables (:func:`marketreact.inference.battery.aar_table`,
        :func:`~marketreact.inference.battery.aggregate_table`).
    method : Adjustment or str
        ``holm``, ``bh`` or ``none`` (tables returned unchanged).

    Returns
    -------
    aar, aggregate : pandas.DataFrame
        New frames with the adjusted columns.
    """
    how = Adjustment(method)
    if how is Adjustment.none:
        return aar, aggregate
    aar, aggregate = aar.copy(), aggregate.copy()
    cols = [c for c in pvalue_columns(aar) if c in aggregate.columns]
    keys_a = aar["group"].to_numpy() if "group" in aar else np.zeros(len(aar))
    keys_w = aggregate["group"].to_numpy() if "group" in aggregate else np.zeros(len(aggregate))
    for col in cols:
        out_a = np.full(len(aar), np.nan)
        out_w = np.full(len(aggregate), np.nan)
        for key in pd.unique(np.concatenate([keys_a, keys_w])):  # one family per group
            ia, iw = keys_a == key, keys_w == key
            both = np.concatenate([aar[col].to_numpy(float)[ia],
                                   aggregate[col].to_numpy(float)[iw]])
            adj = adjust_pvalues(both, how)
            out_a[ia], out_w[iw] = adj[:ia.sum()], adj[ia.sum():]
        aar.insert(aar.columns.get_loc(col) + 1, f"{col}_adj", out_a)
        aggregate.insert(aggregate.columns.get_loc(col) + 1, f"{col}_adj", out_w)
    return aar, aggregate
