"""What an event study measures: returns, trading volume, or volatility.

``return`` (the default) studies abnormal returns.

``volume`` studies abnormal log trading volume. The series modelled is
``v_it = ln(volume_it)``; sessions without a positive volume are missing. It
replaces the return in the normal-return model, so ``--model market-model``
regresses a stock's log volume on the market index's log volume and
``constant-mean`` compares it with its estimation-window mean (EventStudyTools'
abnormal volume calculator uses the log of turnover, ``ln(100 · n_it / S_it)``;
with the shares outstanding ``S_it`` constant over the study's windows the two
differ by a constant that the model's intercept absorbs). Indices without
volume (``SPY.csv`` has only closes) cannot serve as the market: use
``constant-mean`` there.

``volatility`` studies abnormal volatility through squared abnormal returns.
After the return model is fitted, each event-window day gets
``u_it = AR_it² / V(AR_it)`` (the squared standardised abnormal return, whose
null mean is about 1) and each estimation day ``u_iτ = e_iτ² / s_i² · n_i/df_i``
(scaled so that its estimation mean is exactly 1). The abnormal volatility is
``AVOL_it = u_it - 1``: 1.0 on day 0 means the day's squared abnormal return
was twice its normal variance. The tests then run on ``AVOL`` with a
constant-mean model for it: ``s_v² = Σ_τ (u_iτ - 1)² / (n_i - 1)``,
``V(AVOL_it) = s_v² (1 + 1/n_i)`` and, over a window of ``L`` days,
``V(CAVOL) = s_v² (L + L²/n_i)`` (MacKinlay 1997, constant-mean model).

Every output says which of the three it holds (:class:`MeasureWords`): the
engine's tables use the generic names of an abnormal quantity (``ar``,
``car``, ``aar``, ``caar``) and the files, plots and console name the measure
(``av``/``cav``/``aav``/``caav`` for volume, ``avol``/``cavol``/... for
volatility; BHARs exist for returns only).

Imports: :mod:`marketreact.panel.returns` only; pure computation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType

import numpy as np
import pandas as pd

from marketreact.panel.returns import ExchangePanel


class Measure(StrEnum):
    """The quantity whose abnormal part an event study measures."""

    returns = "return"
    volume = "volume"
    volatility = "volatility"


@dataclass(frozen=True)
class MeasureWords:
    """How outputs name a measure: abbreviations, axis text and column names.

    Attributes
    ----------
    measure : Measure
        The measure described.
    abnormal : str
        What one value is, e.g. ``"abnormal return"``, ``"abnormal log volume"``.
    short : str
        Abbreviation of one abnormal value: ``AR``, ``AV`` or ``AVOL``.
    values : str
        The series the model is estimated on, plural (``"returns"``,
        ``"log volumes"``), as failure messages count them.
    percent : bool
        Values are fractions shown in percent (returns); otherwise plain numbers.
    unit : str
        Unit words for an axis without percent ticks (empty for returns).
    columns : mapping of str to str
        Generic column name -> the column name written for this measure.
    dropped : tuple of str
        Column-name prefixes that do not apply to the measure (BHARs exist
        for returns only) and are left out of written tables.
    """

    measure: Measure
    abnormal: str
    short: str
    values: str
    percent: bool
    unit: str = ""
    columns: Mapping[str, str] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()

    @property
    def cumulative(self) -> str:
        """``CAR``, ``CAV`` or ``CAVOL``."""
        return "C" + self.short

    @property
    def average(self) -> str:
        """``AAR``, ``AAV`` or ``AAVOL``."""
        return "A" + self.short

    @property
    def cumulative_average(self) -> str:
        """``CAAR``, ``CAAV`` or ``CAAVOL``."""
        return "CA" + self.short

    @property
    def has_bhar(self) -> bool:
        """Whether the measure has buy-and-hold returns (returns only)."""
        return "bhar" not in self.dropped

    @property
    def title(self) -> str:
        """The abnormal quantity with a capital, e.g. ``"Abnormal log volume"``."""
        return self.abnormal[:1].upper() + self.abnormal[1:]

    def axis(self) -> str:
        """Axis label of the abnormal quantity (its unit where ticks do not carry one)."""
        return self.title if not self.unit else f"{self.title} ({self.unit})"

    def value(self, x: float, digits: int = 2) -> str:
        """``x`` written in the measure's unit: ``+1.23%`` for returns, ``+0.0123`` otherwise."""
        if not np.isfinite(x):
            return "n/a"
        return f"{x:+.{digits}%}" if self.percent else f"{x:+.{digits + 2}f}"

    def named(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with the measure's column names (and without the columns it lacks)."""
        keep = [c for c in frame.columns if not str(c).startswith(self.dropped)] \
            if self.dropped else list(frame.columns)
        out = frame if len(keep) == len(frame.columns) else frame[keep]
        renames = {c: self.columns[c] for c in out.columns if c in self.columns}
        return out.rename(columns=renames) if renames else out

    def generic(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` as :meth:`named` wrote it, back with the generic column names."""
        back = {v: k for k, v in self.columns.items() if v in frame.columns}
        return frame.rename(columns=back) if back else frame


def _renamed(prefix: str, series: Mapping[str, str]) -> Mapping[str, str]:
    names = {"ar": prefix, "ar_se": f"{prefix}_se", "car": f"c{prefix}",
             "car_se": f"c{prefix}_se", "car_t": f"c{prefix}_t", "car_p": f"c{prefix}_p",
             "aar": f"a{prefix}", "caar": f"ca{prefix}", **series}
    return MappingProxyType(names)


_WORDS = {
    Measure.returns: MeasureWords(Measure.returns, "abnormal return", "AR", "returns", True),
    Measure.volume: MeasureWords(
        Measure.volume, "abnormal log volume", "AV", "log volumes", False,
        unit="log points", columns=_renamed("av", {
            "return": "log_volume", "market_return": "market_log_volume",
            "expected": "expected_log_volume"}),
        dropped=("bhar", "mean_bhar")),
    Measure.volatility: MeasureWords(
        Measure.volatility, "abnormal volatility", "AVOL", "returns", False,
        unit="squared standardised AR − 1", columns=_renamed("avol", {}),
        dropped=("bhar", "mean_bhar")),
}


def measure_words(measure: Measure | str | None) -> MeasureWords:
    """Return how outputs name ``measure`` (returns when None).

    Parameters
    ----------
    measure : Measure or str or None
        ``"return"``, ``"volume"`` or ``"volatility"``.

    Returns
    -------
    MeasureWords
    """
    return _WORDS[Measure(measure) if measure is not None else Measure.returns]


def measure_panel(panel: ExchangePanel, measure: Measure) -> ExchangePanel:
    """Return the panel the normal-return model is fitted on for ``measure``.

    For ``volume`` the ``returns`` become log volumes (NaN where the volume is
    missing or not positive, or the session has no price), every value covers
    one session, and the running sums serve the market's log volume as the
    regressor. Other measures get the panel back unchanged.

    Parameters
    ----------
    panel : ExchangePanel
        Panel built from prices and volumes.
    measure : Measure
        The study's measure.

    Returns
    -------
    ExchangePanel
    """
    if Measure(measure) is not Measure.volume:
        return panel
    vol = panel.volume
    ok = np.isfinite(vol) & (vol > 0) & np.isfinite(panel.prices)
    with np.errstate(divide="ignore", invalid="ignore"):
        level = np.where(ok, np.log(np.where(ok, vol, 1.0)), np.nan)
    n, t = level.shape
    cum = np.zeros((n, t + 1))
    cum[:, 1:] = np.cumsum(np.where(ok, level, 0.0), axis=1)
    cum_missing = np.zeros((n, t + 1), dtype=np.int64)
    cum_missing[:, 1:] = np.cumsum(~ok, axis=1)
    return replace(panel, returns=level, span=ok.astype(np.int64), cum=cum,
                   cum_missing=cum_missing)


