"""The random-date placebo: the same trades at dates drawn away from the news."""

from __future__ import annotations

import numpy as np

from marketreact._typing import IntArray

_PLACEBO_CHUNK = 100


def placebo_entries(rng: np.random.Generator, draws: int, lo: IntArray, hi: IntArray,
                    actual: IntArray, exclusion: int) -> IntArray:
    """Random entry sessions, uniform on ``[lo, hi]`` without ``actual +- exclusion``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source.
    draws : int
        Number of draws.
    lo, hi : numpy.ndarray
        ``(E,)`` inclusive bounds (events with too little room must be removed first).
    actual : numpy.ndarray
        ``(E,)`` real entry sessions.
    exclusion : int
        Half-width of the excluded band around ``actual``.

    Returns
    -------
    numpy.ndarray
        ``(draws, E)`` session positions.
    """
    band_lo = np.maximum(actual - exclusion, lo)
    band_hi = np.minimum(actual + exclusion, hi)
    band = np.maximum(band_hi - band_lo + 1, 0)
    room = hi - lo + 1 - band
    u = np.floor(rng.random((draws, len(lo))) * room).astype(np.int64) + lo
    return np.where((band > 0) & (u >= band_lo), u + band, u)
