"""The bootstrapped BHAR test runs for long windows only (StudySettings.long_window)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from marketreact import EventStudy, read_events
from marketreact.prices import CsvSource, load_prices
from marketreact.study import StudySettings


def test_bhar_bootstrap_runs_for_long_windows_only(prices_dir: Path, goto_events: Path) -> None:
    # StudySettings.long_window: the Lyon-Barber-Tsai bootstrap corrects long-run skew and
    # costs events x resamples; windows shorter than long_window leave it empty. Reference:
    # inference.long_horizon.bhar_test_columns on the long window's BHARs from car.csv.
    from marketreact.inference.long_horizon import bhar_test_columns

    events = read_events(goto_events)
    prices = load_prices(CsvSource(prices_dir), events, before=250, after=30)
    settings = StudySettings(window=(-10, 30), car_windows=((0, 0), (0, 24)), n_boot=199,
                             long_window=21)
    result = EventStudy(settings).fit(events, prices)
    agg = result.aggregate.set_index("window")
    assert np.isnan(agg.loc["[0,0]", "bhar_tsa_boot_p"])
    assert np.isfinite(agg.loc["[0,0]", "bhar_tsa"])  # the analytic tests stay
    bhar = result.car.loc[result.car["window"] == "[0,+24]", "bhar"].to_numpy()[:, None]
    ref = bhar_test_columns(bhar, n_boot=199, seed=0)
    assert agg.loc["[0,+24]", "bhar_tsa_boot_p"] == ref["bhar_tsa_boot_p"][0]
    every = EventStudy(StudySettings(window=(-10, 30), car_windows=((0, 0), (0, 24)),
                                     n_boot=199, long_window=1)).fit(events, prices)
    assert np.isfinite(every.aggregate["bhar_tsa_boot_p"]).all()
