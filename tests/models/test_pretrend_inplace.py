"""The pre-trend chi-square computed in place equals the masked form it replaced.

Reference: ``where(v > 0, a / sqrt(v), nan)`` and ``where(ok, sar, 0).sum(axis=0)``, the
code before the change, written out here; and scipy's chi-square tail on the same sum.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from marketreact.models.diagnostics import pretrend_test


def test_pretrend_chi_square_equals_the_masked_form() -> None:
    rng = np.random.default_rng(9)
    ar = rng.standard_t(4, (400, 7)) * 0.02
    var = rng.uniform(1e-4, 4e-4, ar.shape)
    ar[rng.random(ar.shape) < 0.05] = np.nan
    var[3, 1], var[4, 2], var[5, 0] = 0.0, -1e-4, np.nan  # no, negative and unknown variance
    rel = np.arange(-4, 3)
    got = pretrend_test(rel, ar, var)
    a, v = ar[:, rel < 0], var[:, rel < 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        sar = np.where(v > 0, a / np.sqrt(v), np.nan)
    ok = np.isfinite(sar)
    z = np.where(ok, sar, 0.0).sum(axis=0) / np.sqrt(ok.sum(axis=0))
    chi2 = float(np.sum(z**2))
    assert got.chi2 == chi2
    assert got.chi2_p == stats.chi2.sf(chi2, 4)
