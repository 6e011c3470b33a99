"""Volume and volatility studies say what they measure, in every file (issue 18).

References: the GoTo seed catalogue on the shared IDX prices; hand computations of the
abnormal-volatility CAR t (CAVOL / its standard error, scipy's t distribution) and of
the volume model's failure for a file without volume (``us/SE.csv`` has none).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from marketreact import EventStudy, read_events
from marketreact.output.folder import results_folder
from marketreact.output.report import write_report
from marketreact.output.study import write_study
from marketreact.prices import CsvSource, load_prices
from marketreact.study import StudySettings


@pytest.fixture(scope="module")
def goto(prices_dir: Path, goto_events: Path):
    events = read_events(goto_events)
    return events, load_prices(CsvSource(prices_dir), events, before=250, after=10)


def _written(result, tmp_path: Path) -> Path:
    out = tmp_path / "res"
    with results_folder(out, command="study") as staging:
        write_study(result, staging)
    return out


def test_volume_files_name_log_volume_and_carry_no_bhar(goto, tmp_path: Path) -> None:
    events, prices = goto
    result = EventStudy(StudySettings(measure="volume")).fit(events, prices)
    out = _written(result, tmp_path)
    ab = pd.read_csv(out / "abnormal_returns.csv")
    assert {"log_volume", "market_log_volume", "av", "av_se", "cav"} <= set(ab.columns)
    assert not {"return", "ar", "car"} & set(ab.columns)
    car = pd.read_csv(out / "car.csv")
    assert {"cav", "cav_se", "cav_t", "cav_p"} <= set(car.columns) and "bhar" not in car
    agg = pd.read_csv(out / "aggregate.csv")
    assert "caav" in agg and not [c for c in agg.columns if "bhar" in c]
    assert "aav" in pd.read_csv(out / "aar.csv")
    # the values are the result's, only renamed
    np.testing.assert_allclose(agg["caav"], result.aggregate["caar"], rtol=0, atol=0)
    # SE's file has no volume: its events say so instead of "only 0 estimation returns"
    reasons = pd.read_csv(out / "failures.csv").set_index("event_id")["reason"]
    assert "no positive volume" in reasons["deal-SE"]
    html = write_report(out).read_text()
    assert "CAAV and tests" in html and "CAAR and tests" not in html


def test_volatility_tables_hold_the_abnormal_volatility(goto, tmp_path: Path) -> None:
    events, prices = goto
    returns = EventStudy().fit(events, prices)
    vol = EventStudy(StudySettings(measure="volatility")).fit(events, prices)
    # the abnormal table's ar is AVOL; the return AR it is built from is kept beside it
    ab = vol.abnormal_returns.set_index(["event_id", "rel_day"])
    ret = returns.abnormal_returns.set_index(["event_id", "rel_day"])
    np.testing.assert_allclose(ab["abnormal_return"], ret["ar"], rtol=0, atol=1e-15)
    np.testing.assert_allclose(ab["ar"].to_numpy().reshape(vol.arrays.ar.shape), vol.arrays.ar)
    # car.csv: CAVOL with its own standard error, t and p (hand: t = CAVOL / se, 2 t.sf)
    car = vol.car
    np.testing.assert_allclose(car["car"].to_numpy(),
                               np.asarray(vol.arrays.car).T.ravel(), rtol=0, atol=0)
    t = car["car"] / car["car_se"]
    np.testing.assert_allclose(car["car_t"], t, rtol=1e-12)
    np.testing.assert_allclose(car["car_p"], 2 * stats.t.sf(np.abs(t), car["df"]), rtol=1e-10)
    assert car["bhar"].isna().all()
    out = _written(vol, tmp_path)
    written = pd.read_csv(out / "car.csv")
    assert list(written.columns[:6]) == ["event_id", "window", "cavol", "cavol_se", "cavol_t",
                                         "cavol_p"]
    assert "caavol" in pd.read_csv(out / "aggregate.csv")


def test_paper_tables_of_a_volume_study_say_caav(goto, tmp_path: Path) -> None:
    from marketreact.output.export import paper_tables, read_results

    events, prices = goto
    result = EventStudy(StudySettings(measure="volume")).fit(events, prices)
    tables = paper_tables(read_results(_written(result, tmp_path)))
    caar = tables[0]
    labels = [row[0].text for row in caar.rows]
    assert "CAAV" in labels and "CAAR" not in labels and "Mean BHAR" not in labels
    # the CAAV row holds the study's values (generic `caar` in memory)
    row = caar.rows[labels.index("CAAV")]
    np.testing.assert_allclose([c.value for c in row[1:]], result.aggregate["caar"], rtol=1e-12)
    assert tables[2].header[2:4] == ("AAV", "CAAV")
    assert "abnormal log volume" in tables[1].title
    latex = result.summary().as_latex()
    assert "CAAV" in latex and "CAAR" not in latex and "BHAR" not in latex


def test_every_measure_column_is_reserved_for_the_study(goto, tmp_path: Path) -> None:
    # A catalogue column named like a written column becomes user_<name> (issue 19); the
    # volume and volatility names are written columns too.
    from marketreact.events.catalogue import RESERVED_COLUMNS

    events, prices = goto
    for measure in ("volume", "volatility"):
        result = EventStudy(StudySettings(measure=measure)).fit(events, prices)
        out = _written(result, tmp_path / measure)
        for name in ("car.csv", "abnormal_returns.csv", "aar.csv", "aggregate.csv"):
            header = set(pd.read_csv(out / name, nrows=0).columns) - {"news", "is_goto"}
            assert header <= RESERVED_COLUMNS, (measure, name, header - RESERVED_COLUMNS)


def test_notebook_html_of_a_volume_study_names_its_measure(goto) -> None:
    events, prices = goto
    html = EventStudy(StudySettings(measure="volume")).fit(events, prices)._repr_html_()
    assert "CAAV by window" in html and "AV(0)" in html and "CAV[-1,+1]" in html
    assert "CAAR" not in html and "mean_bhar" not in html
