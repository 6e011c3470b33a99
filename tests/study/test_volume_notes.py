"""Notes about volume appear in volume studies only; negative volumes are never silent.

References: PROVENANCE.md (GOTO.JK's flat zero-volume filler rows are in 2024, inside the
seed catalogue's windows) and the cleaning rules of marketreact/prices/cleaning.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from marketreact import EventStudy, read_events
from marketreact.events import events_from_frame
from marketreact.prices import CsvSource, load_prices
from marketreact.study import StudySettings


def _goto(prices_dir: Path, goto_events: Path):
    events = read_events(goto_events)
    return events, load_prices(CsvSource(prices_dir), events, before=250, after=10)


def test_return_study_says_nothing_about_volume(prices_dir: Path, goto_events: Path) -> None:
    events, prices = _goto(prices_dir, goto_events)
    returns = EventStudy().fit(events, prices)
    volume = EventStudy(StudySettings(measure="volume")).fit(events, prices)
    assert not [n for n in returns.diagnostics if "volume" in n]
    assert [n for n in volume.diagnostics if "filler" in n and "GOTO.JK" in n]


def test_negative_volume_is_noted_in_a_volume_study() -> None:
    dates = pd.bdate_range("2023-01-02", periods=200)
    rng = np.random.default_rng(7)
    frames = {}
    for ticker in ("AAA", "^MKT"):
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, len(dates))))
        volume = rng.integers(1_000, 2_000, len(dates)).astype(float)
        frames[ticker] = pd.DataFrame({"open": close, "high": close, "low": close,
                                       "close": close, "adj_close": close, "volume": volume},
                                      index=pd.DatetimeIndex(dates, name="date"))
    frames["AAA"].iloc[100, frames["AAA"].columns.get_loc("volume")] = -300.0
    events = events_from_frame(pd.DataFrame({"event_id": ["e"], "ticker": ["AAA"],
                                             "date": [dates[180].date().isoformat()],
                                             "market": ["^MKT"], "exchange": ["XNYS"]}))
    settings = StudySettings(measure="volume", estimation=(-150, -11), min_estimation=100)
    result = EventStudy(settings).fit(events, frames)
    [note] = [n for n in result.diagnostics if "negative volume" in n]
    assert "AAA" in note and "1 row(s)" in note
    # The session is missing from the estimation (139 log volumes instead of 140).
    assert int(result.events["n_estimation"].iloc[0]) == 139

