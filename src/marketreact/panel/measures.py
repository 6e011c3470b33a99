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
``AV_it = u_it - 1``: 1.0 on day 0 means the day's squared abnormal return
was twice its normal variance. The tests then run on ``AV`` with a
constant-mean model for it: ``s_v² = Σ_τ (u_iτ - 1)² / (n_i - 1)``,
``V(AV_it) = s_v² (1 + 1/n_i)`` and, over a window of ``L`` days,
``V(CAV) = s_v² (L + L²/n_i)`` (MacKinlay 1997, constant-mean model).

Imports: :mod:`marketreact.panel.returns` only; pure computation.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum

import numpy as np

from marketreact.panel.returns import ExchangePanel


class Measure(StrEnum):
    """The quantity whose abnormal part an event study measures."""

    returns = "return"
    volume = "volume"
    volatility = "volatility"


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


