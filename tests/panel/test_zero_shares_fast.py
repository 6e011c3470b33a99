"""``window_zero_shares`` gives the shares of zero returns of the gathered windows.

Reference: the computation it replaces in ``study.fit._zero_shares`` (gather each event's
window of returns where the return covers one session, then
``models.diagnostics.zero_return_share``: zeros over present returns), written out here,
on a random panel with zeros, missing returns, multi-session spans and windows that run
off both ends of the session axis.
"""

from __future__ import annotations

import numpy as np
import pytest

from marketreact import _compiled
from marketreact.models.diagnostics import zero_return_share
from marketreact.panel.screening import window_zero_shares


def _gathered(returns, span, stock_rows, day0, a, b):
    n_sessions = returns.shape[1]
    pos = day0[:, None] + np.arange(a, b + 1)[None, :]
    inside = (pos >= 0) & (pos < n_sessions)
    posc = np.clip(pos, 0, max(n_sessions - 1, 0))
    r = np.where(inside & (span[stock_rows[:, None], posc] >= 1),
                 returns[stock_rows[:, None], posc], np.nan) if n_sessions else \
        np.full(pos.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        return zero_return_share(r)


@pytest.fixture(params=[True, False], ids=["compiled", "numpy"])
def compiled(request, monkeypatch) -> bool:
    """Each test on both paths: the compiled row-by-row counts and numpy's running sums."""
    monkeypatch.setattr(_compiled, "HAVE_NUMBA", request.param)
    return request.param


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_window_zero_shares_equal_the_gathered_windows(seed, compiled) -> None:
    rng = np.random.default_rng(seed)
    n, t, e = 30, 120, 2000
    returns = np.round(rng.standard_normal((n, t)), 1) * (rng.random((n, t)) < 0.7)
    returns[rng.random((n, t)) < 0.1] = np.nan
    span = rng.integers(0, 3, (n, t))
    rows = rng.integers(0, n, e)
    day0 = rng.integers(-30, t + 30, e)
    windows = [(-10, 10), (0, 0), (-250, -11), (-5, 300)]
    got = window_zero_shares(returns, span, rows, day0, windows)
    for (a, b), share in zip(windows, got, strict=True):
        np.testing.assert_array_equal(share, _gathered(returns, span, rows, day0, a, b))


def test_no_sessions_and_no_events(compiled) -> None:
    got = window_zero_shares(np.zeros((3, 0)), np.zeros((3, 0), np.int64),
                             np.array([0, 2]), np.array([0, 5]), [(-1, 1)])
    assert np.isnan(got[0]).all() and got[0].shape == (2,)
    empty = window_zero_shares(np.zeros((3, 10)), np.ones((3, 10), np.int64),
                               np.array([], np.int64), np.array([], np.int64), [(-1, 1)])
    assert empty[0].shape == (0,)
