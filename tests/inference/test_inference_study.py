"""The cross-event tests inside a real study (GoTo-TikTok events on ../shared/data prices).

References: scipy.stats on the per-event numbers the study writes (car.csv,
abnormal_returns.csv), hand formulas, and log volumes read straight from the
price CSV with pandas.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from marketreact.cli import app
from marketreact.events.catalogue import read_events
from marketreact.inference.base import TEST_NAMES
from marketreact.prices import CsvSource, PriceFetch, load_prices
from marketreact.study.fit import EventStudy
from marketreact.study.results import StudyArrays, StudyResult, volatility_arrays

WINDOWS = ((-1, 1), (0, 0), (-5, 5))


def _goto_prices(prices_dir: Path, goto_events: Path) -> PriceFetch:
    """The GoTo catalogue's prices, loaded for the default windows ([-250, -11], [-10, 10])."""
    return load_prices(CsvSource(prices_dir), read_events(goto_events), before=250, after=10)


@pytest.fixture(scope="module")
def goto_result(prices_dir: Path, goto_events: Path) -> StudyResult:
    return EventStudy(car_windows=WINDOWS, n_boot=499).fit(read_events(goto_events),
                                                           _goto_prices(prices_dir, goto_events))


def _test_columns() -> list[str]:
    cols = ["t", "p"]
    for name in TEST_NAMES[1:]:
        cols += [name, f"{name}_p"]
    return [*cols, "boot_lo", "boot_hi"]


def test_tables_have_every_test_column(goto_result: StudyResult) -> None:
    assert list(goto_result.aar.columns) == ["rel_day", "n", "aar", "caar", *_test_columns()]
    # the CAR windows also test the mean BHAR (conventional, skewness-adjusted and
    # bootstrapped skewness-adjusted t)
    assert list(goto_result.aggregate.columns) == ["window", "n", "caar", "mean_bhar",
                                                   *_test_columns(), "bhar_t", "bhar_t_p",
                                                   "bhar_tsa", "bhar_tsa_p", "bhar_tsa_boot",
                                                   "bhar_tsa_boot_p"]
    assert list(goto_result.aggregate["window"]) == ["[-1,+1]", "[0,0]", "[-5,+5]"]


def test_aar_tests_match_scipy_on_the_written_abnormal_returns(goto_result: StudyResult) -> None:
    ab = goto_result.abnormal_returns
    for row in goto_result.aar.itertuples(index=False):
        day = ab.loc[ab["rel_day"] == row.rel_day]
        ar = day["ar"].dropna().to_numpy()
        assert row.n == len(ar)
        assert row.t == pytest.approx(stats.ttest_1samp(ar, 0.0).statistic, rel=1e-10)
        sar = (day["ar"] / day["ar_se"]).dropna().to_numpy()
        assert row.bmp == pytest.approx(stats.ttest_1samp(sar, 0.0).statistic, rel=1e-10)
        k = int((ar > 0).sum())
        assert row.sign_p == pytest.approx(stats.binomtest(k, len(ar)).pvalue, rel=1e-10)
        assert row.wilcoxon_p == pytest.approx(stats.wilcoxon(ar).pvalue, rel=1e-10)


def test_window_tests_match_the_written_cars(goto_result: StudyResult) -> None:
    car = goto_result.car
    for row in goto_result.aggregate.itertuples(index=False):
        w = car.loc[car["window"] == row.window]
        csar = (w["car"] / w["car_se"]).to_numpy()
        df = w["df"].to_numpy(dtype=float)
        assert row.caar == pytest.approx(w["car"].mean(), rel=1e-12)
        assert row.t == pytest.approx(stats.ttest_1samp(w["car"], 0.0).statistic, rel=1e-10)
        assert row.bmp == pytest.approx(stats.ttest_1samp(csar, 0.0).statistic, rel=1e-10)
        # Patell: sum of standardised CARs over sqrt(sum df / (df - 2))
        assert row.patell == pytest.approx(csar.sum() / math.sqrt((df / (df - 2)).sum()),
                                           rel=1e-10)
        assert row.mean_bhar == pytest.approx(w["bhar"].mean(), rel=1e-12)
        assert row.boot_lo <= row.caar <= row.boot_hi


def test_summary_shows_every_test_like_a_statsmodels_table(goto_result: StudyResult) -> None:
    text = goto_result.summary()
    assert "CAAR[-1,+1]" in text and "CAAR[-5,+5]" in text
    for title in ("Patell Z (1976)", "BMP t (1991)", "Adjusted BMP t (Kolari-Pynnonen 2010)",
                  "Cumulative rank (Campbell-Wasley 1993)", "Generalized sign Z (Cowan 1992)",
                  "Wilcoxon signed rank", "Bootstrap (events, percentile)"):
        assert text.count(title) == len(WINDOWS)
    assert "t(15)" in text  # 16 events
    assert str(goto_result) == text


def test_one_sided_alternative(prices_dir: Path, goto_events: Path) -> None:
    res = EventStudy(car_windows=((0, 0),), alternative="less", n_boot=0).fit(
        read_events(goto_events), _goto_prices(prices_dir, goto_events))
    day0 = res.abnormal_returns.query("rel_day == 0")["ar"].to_numpy()
    ref = stats.ttest_1samp(day0, 0.0, alternative="less")
    assert res.aggregate["p"].iloc[0] == pytest.approx(ref.pvalue, rel=1e-10)
    assert res.aggregate["boot_p"].isna().all()
    assert res.settings.to_dict()["alternative"] == "less"


def test_volume_study_uses_log_volume_from_the_price_file(prices_dir: Path,
                                                          goto_events: Path) -> None:
    events = read_events(goto_events)
    res = EventStudy(model="constant-mean", measure="volume", car_windows=((0, 0),),
                     n_boot=0).fit(events, _goto_prices(prices_dir, goto_events))
    # SE.csv has no volume: those events fail with a reason, the IDX ones are studied
    assert set(res.failures["ticker"]) == {"SE"}
    raw = pd.read_csv(prices_dir / "idx" / "GOTO.JK.csv", parse_dates=["date"])
    raw = raw.set_index("date")
    ev = res.events.set_index("event_id").loc["deal-GOTO"]
    est = raw.loc[ev["estimation_start"]:ev["estimation_end"], "volume"]
    est = est[est > 0]
    assert ev["n_estimation"] == len(est)
    mean_log = np.log(est).mean()
    rows = res.abnormal_returns.query("event_id == 'deal-GOTO'")
    day0 = rows.loc[rows["rel_day"] == 0].iloc[0]
    assert day0["return"] == pytest.approx(math.log(raw.loc[day0["date"], "volume"]), rel=1e-12)
    assert day0["ar"] == pytest.approx(day0["return"] - mean_log, rel=1e-10)
    assert res.car["bhar"].isna().all()


def test_volatility_study_squares_standardised_abnormal_returns(
        prices_dir: Path, goto_events: Path, goto_result: StudyResult) -> None:
    res = EventStudy(car_windows=WINDOWS, measure="volatility", n_boot=0).fit(
        read_events(goto_events), _goto_prices(prices_dir, goto_events))
    ab = goto_result.abnormal_returns
    expected = (ab["ar"] / ab["ar_se"]) ** 2 - 1.0
    # in memory the abnormal column of a volatility study is `ar` (written as `avol`)
    np.testing.assert_allclose(res.abnormal_returns["ar"], expected, rtol=1e-10)
    day0 = expected[ab["rel_day"] == 0]
    agg = res.aggregate.set_index("window")
    assert agg.loc["[0,0]", "caar"] == pytest.approx(day0.mean(), rel=1e-10)
    assert agg.loc["[0,0]", "t"] == pytest.approx(stats.ttest_1samp(day0, 0.0).statistic,
                                                  rel=1e-10)


def test_volatility_arrays_by_hand() -> None:
    # one event, estimation residuals 0.1, -0.2, 0.3, 0.0 with df = 2 (k = 2)
    est = np.array([[0.1, -0.2, 0.3, 0.0]])
    sigma2 = np.array([(0.01 + 0.04 + 0.09) / 2])
    arrays = StudyArrays(np.array([0, 1]), np.array([[0.2, -0.1]]), np.array([[0.02, 0.01]]),
                         est, sigma2, np.array([2]), np.array(["2024-01-02"], "datetime64[ns]"),
                         ((0, 1),))
    vol = volatility_arrays(arrays)
    u_est = est[0] ** 2 / sigma2[0] * (4 / 2)         # mean exactly 1
    assert u_est.mean() == pytest.approx(1.0)
    np.testing.assert_allclose(vol.est_residuals[0], u_est - 1.0)
    np.testing.assert_allclose(vol.ar[0], [0.2**2 / 0.02 - 1, 0.1**2 / 0.01 - 1])
    s2v = ((u_est - 1.0) ** 2).sum() / 3
    np.testing.assert_allclose(vol.sigma2, [s2v])
    np.testing.assert_allclose(vol.ar_var[0], [s2v * (1 + 1 / 4)] * 2)
    np.testing.assert_allclose(vol.car[0], [vol.ar[0].sum()])
    np.testing.assert_allclose(vol.car_var[0], [s2v * (2 + 4 / 4)])
    assert vol.df[0] == 3


def test_cli_measure_and_alternative(prices_dir: Path, goto_events: Path, tmp_path: Path
                                     ) -> None:
    runner = CliRunner()
    out = tmp_path / "vol"
    res = runner.invoke(app, ["study", str(goto_events), "--prices", f"csv:{prices_dir}",
                              "--out", str(out), "--measure", "volatility", "--alternative",
                              "greater", "--bootstrap", "0", "--car", "0:0", "-q"])
    assert res.exit_code == 0, res.output
    agg = pd.read_csv(out / "aggregate.csv")
    assert {"patell", "kp_bmp_p", "rank", "wilcoxon_p"} <= set(agg.columns)
    ab = pd.read_csv(out / "abnormal_returns.csv")
    assert {"avol", "cavol", "abnormal_return"} <= set(ab.columns) and "ar" not in ab.columns
    bad = runner.invoke(app, ["study", str(goto_events), "--prices", f"csv:{prices_dir}",
                              "--out", str(tmp_path / "x"), "--measure", "sentiment"])
    assert bad.exit_code == 2
