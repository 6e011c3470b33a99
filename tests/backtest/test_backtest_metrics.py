"""Performance statistics against hand computations written out here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from marketreact.backtest.metrics import (
    annualised_return,
    drawdown,
    drawdown_stats,
    mean_t,
    series_stats,
    sharpe_ratio,
    sortino_ratio,
    volatility,
)

# Five session returns used throughout (hand computations below).
R = np.array([0.01, -0.02, 0.03, -0.01, 0.02])


def test_drawdown_by_hand() -> None:
    equity = np.array([1.0, 1.1, 0.99, 1.045, 1.2, 0.96, 1.08])
    # running max: 1, 1.1, 1.1, 1.1, 1.2, 1.2, 1.2
    expected = [0.0, 0.0, 0.99 / 1.1 - 1, 1.045 / 1.1 - 1, 0.0, 0.96 / 1.2 - 1, 1.08 / 1.2 - 1]
    np.testing.assert_allclose(drawdown(equity), expected)
    st = drawdown_stats(equity)
    # deepest: 0.96 / 1.2 - 1 = -0.2 at position 5, peak at 4, never recovered -> 6 - 4 = 2
    assert st.max_drawdown == pytest.approx(-0.2)
    assert (st.peak, st.trough, st.recovery, st.duration) == (4, 5, None, 2)
    # spells below a peak: positions 2..3 (peak 1, recovered at 4: 3 sessions), 5..6 (2)
    assert st.longest == 3


def test_drawdown_recovery_and_duration() -> None:
    equity = np.array([1.0, 0.9, 0.8, 0.95, 1.0, 1.05, 1.0, 1.06])
    st = drawdown_stats(equity)
    assert st.max_drawdown == pytest.approx(-0.2)
    # peak 0, trough 2, first position back at >= 1.0 is 4: duration 4 sessions
    assert (st.peak, st.trough, st.recovery, st.duration) == (0, 2, 4, 4)
    assert st.longest == 4


def test_no_drawdown() -> None:
    st = drawdown_stats(np.array([1.0, 1.01, 1.02]))
    assert st.max_drawdown == 0.0 and st.duration == 0 and st.longest == 0


def test_sharpe_sortino_volatility_by_hand() -> None:
    mean = (0.01 - 0.02 + 0.03 - 0.01 + 0.02) / 5  # 0.006
    dev2 = sum((x - mean) ** 2 for x in R)
    sd = math.sqrt(dev2 / 4)  # sample standard deviation
    assert sharpe_ratio(R) == pytest.approx(mean / sd * math.sqrt(252))
    assert volatility(R) == pytest.approx(sd * math.sqrt(252))
    downside = math.sqrt((0.02**2 + 0.01**2) / 5)  # min(r, 0)^2 averaged over all 5
    assert sortino_ratio(R) == pytest.approx(mean / downside * math.sqrt(252))
    # the same numbers through numpy's own std as a second reference
    assert sharpe_ratio(R, per_year=1) == pytest.approx(np.mean(R) / np.std(R, ddof=1))


def test_total_and_annualised_return_by_hand() -> None:
    total = 1.01 * 0.98 * 1.03 * 0.99 * 1.02 - 1
    stats = series_stats(R, per_year=252)
    assert stats["total_return"] == pytest.approx(total)
    assert stats["annualised_return"] == pytest.approx((1 + total) ** (252 / 5) - 1)
    assert annualised_return(0.21, 504, 252) == pytest.approx(0.1)  # 1.21 ** 0.5 = 1.1
    # drawdown of the equity 1, 1.01, 0.9898, ...: deepest after the -2% day
    assert stats["max_drawdown"] == pytest.approx(0.9898 / 1.01 - 1)


def test_mean_t_by_hand() -> None:
    x = np.array([0.02, -0.01, 0.03, 0.0])
    mean = 0.01
    sd = math.sqrt(((0.01) ** 2 + (0.02) ** 2 + (0.02) ** 2 + (0.01) ** 2) / 3)
    m, t = mean_t(x)
    assert m == pytest.approx(mean)
    assert t == pytest.approx(mean / (sd / 2))


def test_degenerate_series() -> None:
    assert math.isnan(sharpe_ratio(np.array([0.01])))
    assert math.isnan(sharpe_ratio(np.array([0.01, 0.01])))  # no variance
    assert math.isnan(sortino_ratio(np.array([0.01, 0.02])))  # no downside
    assert math.isnan(mean_t(np.array([]))[0])
