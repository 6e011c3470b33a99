"""The EventStudyTools SP500 example reproduced to 1e-6 (tests/reference_eventstudytools.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import reference_eventstudytools as ref
from marketreact import EventStudy, InputError, StudySettings
from marketreact.cli import app
from marketreact.events.eventstudytools import load_eventstudytools, ticker_for

runner = CliRunner()


@pytest.fixture(scope="module")
def sp500(shared_data: Path) -> Path:
    folder = shared_data / "reference" / "eventstudytools_sp500"
    if not folder.is_dir():
        pytest.skip("the EventStudyTools example is not in ../shared/data/reference")
    return folder


@pytest.fixture(scope="module")
def result(sp500: Path):
    events, prices, values = load_eventstudytools(sp500)
    settings = StudySettings(**values)
    return EventStudy(settings).fit(events, prices)


def test_loader_conventions(sp500: Path) -> None:
    events, prices, values = load_eventstudytools(sp500)
    settings = StudySettings(**values)
    assert len(events) == 16
    assert settings.estimation == (-130, -11) and settings.window == (-2, 2)
    assert settings.car_windows == ((-2, 2),) and settings.min_estimation == 120
    assert settings.model.value == "market-model" and settings.returns.value == "simple"
    assert settings.sessions.value == "market"
    frame = events.frame.set_index("event_id")
    # "Progressive " (trailing space) in both files is the same firm
    assert frame.loc["64390", "ticker"] == "PROGRESSIVE"
    assert frame.loc["64390", "firm"] == "Progressive"
    assert frame.loc["75510", "ticker"] == "ADOBE_SYSTEMS"
    assert frame.loc["75510", "date"] == pd.Timestamp("1997-04-30")
    assert set(prices) == {*frame["ticker"], "SP500"}
    # Travelers' prices stop in October 1998, days after its event
    assert prices["TRAVELERS_GROUP"].index.max() == pd.Timestamp("1998-10-07")


def test_aar_and_cross_sectional_t(result) -> None:
    assert result.failures.empty and result.n_events == 16
    aar = result.aar.set_index("rel_day").loc[list(ref.REL_DAYS)]
    np.testing.assert_allclose(aar["aar"], ref.AAR, atol=ref.TOLERANCE)
    np.testing.assert_allclose(aar["t"], ref.AAR_CROSS_SECTIONAL_T, atol=ref.TOLERANCE)
    np.testing.assert_allclose(aar["caar"], ref.CAAR, atol=ref.TOLERANCE)
    assert (aar["n"] == 16).all()


def test_caar_window_t(result) -> None:
    row = result.aggregate.set_index("window").loc["[-2,+2]"]
    assert row["caar"] == pytest.approx(ref.CAAR[-1], abs=ref.TOLERANCE)
    assert row["t"] == pytest.approx(ref.CAAR_WINDOW_T, abs=ref.TOLERANCE)


def test_adobe_parameters_and_abnormal_returns(result) -> None:
    ev = result.events.set_index("event_id").loc[ref.ADOBE_EVENT_ID]
    assert ev["alpha"] == pytest.approx(ref.ADOBE_ALPHA, abs=ref.TOLERANCE)
    assert ev["beta"] == pytest.approx(ref.ADOBE_BETA, abs=ref.TOLERANCE)
    assert ev["sigma"] == pytest.approx(ref.ADOBE_SIGMA, abs=ref.TOLERANCE)
    assert ev["n_estimation"] == 120 and ev["df"] == 118
    ar = result.abnormal_returns.query("event_id == @ref.ADOBE_EVENT_ID")["ar"]
    np.testing.assert_allclose(ar, ref.ADOBE_AR, atol=ref.TOLERANCE)


def test_the_regression_path_gives_the_same_numbers(sp500: Path) -> None:
    events, prices, values = load_eventstudytools(sp500)
    settings = StudySettings(**values)
    res = EventStudy(settings, method="regression").fit(events, prices)
    aar = res.aar.set_index("rel_day").loc[list(ref.REL_DAYS)]
    np.testing.assert_allclose(aar["aar"], ref.AAR, atol=ref.TOLERANCE)
    np.testing.assert_allclose(aar["t"], ref.AAR_CROSS_SECTIONAL_T, atol=ref.TOLERANCE)


def test_travelers_short_history_fails_a_longer_window(sp500: Path) -> None:
    events, prices, values = load_eventstudytools(sp500)
    settings = StudySettings(**values)
    res = EventStudy(settings, window=(-2, 5), car_windows=((-2, 5),)).fit(events, prices)
    reasons = res.failures.set_index("event_id")["reason"]
    assert list(reasons.index) == ["70519"]
    assert "runs past the last stock price (1998-10-07)" in reasons["70519"]
    assert res.n_events == 15


def test_cli_study_input_eventstudytools(tmp_path: Path, sp500: Path) -> None:
    out = tmp_path / "est"
    res = runner.invoke(app, ["study", str(sp500), "--input", "eventstudytools", "--out",
                              str(out), "-q"])
    assert res.exit_code == 0, res.output
    aar = pd.read_csv(out / "aar.csv").set_index("rel_day")
    np.testing.assert_allclose(aar.loc[list(ref.REL_DAYS), "aar"], ref.AAR, atol=ref.TOLERANCE)
    agg = pd.read_csv(out / "aggregate.csv").set_index("window")
    assert agg.loc["[-2,+2]", "t"] == pytest.approx(ref.CAAR_WINDOW_T, abs=ref.TOLERANCE)
    events = pd.read_csv(out / "events.csv", dtype={"event_id": str})
    assert "Progressive" in set(events["firm"])


def write_est(folder: Path, request: str, firm: str, market: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "01_RequestFile.csv").write_text(request)
    (folder / "02_FirmData.csv").write_text(firm)
    (folder / "03_MarketData.csv").write_text(market)
    return folder


def small_files(n: int = 40, extra_market: str = "") -> tuple[str, str]:
    rng = np.random.default_rng(1)
    days = pd.bdate_range("2020-01-01", periods=n)
    m = 100 * np.cumprod(1 + rng.normal(0, 0.01, n))
    f = 10 * np.cumprod(1 + rng.normal(0, 0.02, n))
    firm = "".join(f"ACME Inc.;{d:%d.%m.%Y};{p:.6f}\n" for d, p in zip(days, f, strict=True))
    market = "".join(f"IDX1;{d:%d.%m.%Y};{p:.6f}\n" for d, p in zip(days, m, strict=True))
    return firm, market + extra_market


def test_bad_request_lines_name_file_line_and_field(tmp_path: Path) -> None:
    firm, market = small_files()
    folder = write_est(tmp_path / "bad", "1;ACME Inc.;IDX1;31.02.2020;G;-2;2;-6;20\n"
                       "2;Nobody;IDX1;20.02.2020;G;-2;two;-6;20\n", firm, market)
    with pytest.raises(InputError) as info:
        load_eventstudytools(folder)
    found = {(p.line, p.field) for p in info.value.problems}
    assert found == {(1, "event_date"), (2, "window_end"), (2, "firm")}
    res = runner.invoke(app, ["study", str(folder), "--input", "eventstudytools", "--out",
                              str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "01_RequestFile.csv:1, field 'event_date'" in res.output


def test_sessions_are_the_market_file_dates(tmp_path: Path) -> None:
    """A Saturday in the market file is a session; day 0 is the first on or after the date."""
    firm, market = small_files(40)
    saturday = pd.Timestamp("2020-02-15")
    firm += f"ACME Inc.;{saturday:%d.%m.%Y};12.5\n"
    market += f"IDX1;{saturday:%d.%m.%Y};101.0\n"
    folder = write_est(tmp_path / "sat", "7;ACME Inc.;IDX1;15.02.2020;G;-1;1;-3;20\n", firm,
                       market)
    events, prices, values = load_eventstudytools(folder)
    settings = StudySettings(**values)
    res = EventStudy(settings).fit(events, prices)
    assert res.failures.empty, res.failures
    assert pd.Timestamp(res.events.loc[0, "day0"]) == saturday
    assert res.events.loc[0, "ticker"] == ticker_for("ACME Inc.") == "ACME_INC"
    dates = res.abnormal_returns["date"].tolist()
    assert dates == [pd.Timestamp("2020-02-14"), saturday, pd.Timestamp("2020-02-17")]


def test_headers_decimal_commas_and_duplicate_dates(tmp_path: Path) -> None:
    firm, market = small_files(40)
    request = ("Event ID;Firm;Market;Date;Group;Start;End;EstEnd;EstLen\n"
               "9;ACME Inc.;IDX1;14.02.2020;G;-1;1;-3;20\n")
    comma_firm = "Firm;Date;Price\n" + "".join(
        f"{name};{day};{price.replace('.', ',')}\n"
        for name, day, price in (line.split(";") for line in firm.splitlines()))
    folder = write_est(tmp_path / "ok", request, comma_firm, market)
    events, prices, _ = load_eventstudytools(folder)
    assert len(events) == 1
    first_price = float(firm.splitlines()[0].split(";")[2])
    assert prices["ACME_INC"]["close"].iloc[0] == pytest.approx(first_price)
    dup = firm + firm.splitlines()[5] + "\n"
    folder = write_est(tmp_path / "dup", request, dup, market)
    with pytest.raises(InputError) as info:
        load_eventstudytools(folder)
    problem = info.value.problems[0]
    assert problem.source.endswith("02_FirmData.csv") and problem.line == 41
    assert "more than once" in problem.message
