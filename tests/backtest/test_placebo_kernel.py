"""The compiled placebo gather gives the numpy path's sums, bit for bit.

Reference: ``placebo_sums`` with the compiled kernels switched off (its numpy path, itself
checked against the trade-by-trade loop in ``test_speed_placebo.py``), on the same random
markets; both consume the random stream the same way.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_speed_placebo import _market

from marketreact.backtest.placebo import placebo_sums
from marketreact.inference import _kernels


@pytest.mark.skipif(not _kernels.HAVE_NUMBA, reason="numba not installed")
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("hedge", ["market", "none"])
@pytest.mark.parametrize("entry_open", [True, False])
def test_compiled_gather_equals_numpy(seed, hedge, entry_open, monkeypatch) -> None:
    out = {}
    for compiled in (False, True):
        kw = _market(seed, hedge=hedge, entry_open=entry_open)
        monkeypatch.setattr(_kernels, "HAVE_NUMBA", compiled)
        rng = np.random.default_rng(seed)
        out[compiled] = (*placebo_sums(rng, 151, kw.pop("lo"), kw.pop("hi"), kw.pop("actual"),
                                       kw.pop("exclusion"), **kw), rng.random())
    for new, old in zip(out[True], out[False], strict=True):
        np.testing.assert_array_equal(new, old)
