"""Windows of sessions gathered row by row from a panel array.

Reference: numpy's element-by-element gather ``a[rows[:, None], clip(day0 + days)]``,
written out here, for consecutive and scattered days, inside and across the ends.
"""

from __future__ import annotations

import numpy as np
import pytest

from marketreact.models.moments import _row_windows


@pytest.mark.parametrize("days", [np.arange(-5, 3), np.array([-4, -2, 0, 1]), np.array([0])])
@pytest.mark.parametrize("edge", [False, True])
def test_row_windows_equal_the_element_gather(days: np.ndarray, edge: bool) -> None:
    rng = np.random.default_rng(4)
    a = rng.normal(size=(6, 40))
    rows = rng.integers(0, 6, 25)
    day0 = rng.integers(6, 36, 25)
    if edge:  # windows that run off either end: positions clipped to the array
        day0[:2] = [1, 39]
    want = a[rows[:, None], np.clip(day0[:, None] + days[None, :], 0, a.shape[1] - 1)]
    got = _row_windows(a, rows, day0, days)
    np.testing.assert_array_equal(got, want)
    got[:] = 0.0  # a copy: the panel is untouched
    assert np.isfinite(a).all() and (a != 0).all()


def test_row_windows_of_no_rows() -> None:
    a = np.ones((3, 10))
    assert _row_windows(a, np.empty(0, np.int64), np.empty(0, np.int64),
                        np.arange(2)).shape == (0, 2)
