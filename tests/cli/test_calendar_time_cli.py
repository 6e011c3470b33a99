"""``marketreact calendar-time`` on the mag-7 news against SPY.

Reference: the portfolio series rebuilt from the raw price CSVs with pandas
(tests/_calendar_time_reference.py: day 0 from the news time and the NYSE closes of
exchange_calendars' schedule, returns by ``pct_change`` of the closes, the
equal-weighted mean of the firms within [0, H] of an event) and regressed directly with
statsmodels OLS and HAC (Newey-West) errors.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from typer.testing import CliRunner

from _calendar_time_reference import reference_portfolio, write_mag7_monthly
from marketreact.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def mag7_monthly(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """First news of each stock in each month, Nov 2023 to Oct 2024 (docs/study.md: 84)."""
    return write_mag7_monthly(shared_data, tmp_path_factory.mktemp("ct"))


def test_alpha_matches_a_direct_statsmodels_hac_regression(
        mag7_monthly: Path, shared_data: Path, tmp_path: Path) -> None:
    us = shared_data / "prices" / "us"
    out = tmp_path / "ct"
    res = runner.invoke(app, ["calendar-time", str(mag7_monthly), "--prices", f"csv:{us}",
                              "--market", "SPY", "--horizon", "251", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "Calendar-time portfolio" in res.stdout and "rf = 0" in res.stdout
    ref = reference_portfolio(mag7_monthly, us, 251)
    n = len(ref)
    lags = math.floor(4 * (n / 100) ** (2 / 9))  # Newey-West (1994) rule, by hand
    fit = sm.OLS(ref["ret"].to_numpy(), sm.add_constant(ref["mkt"].to_numpy())).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags})
    coefs = pd.read_csv(out / "calendar_time.csv").set_index("name")
    assert list(coefs.index) == ["alpha", "mkt_rf"]
    assert list(coefs.columns) == ["coef", "se", "t", "p"]
    np.testing.assert_allclose(coefs.loc["alpha", ["coef", "se", "t"]].to_numpy(float),
                               [fit.params[0], fit.bse[0], fit.tvalues[0]], rtol=0, atol=1e-10)
    np.testing.assert_allclose(coefs.loc["mkt_rf", "coef"], fit.params[1], atol=1e-10)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_periods"] == n
    assert summary["settings"]["hac_lags"] == lags
    assert summary["settings"]["rf"] == "0"
    assert summary["mean_firms"] == pytest.approx(ref["n"].mean(), abs=1e-12)
    assert summary["alpha"]["coef"] == pytest.approx(fit.params[0], abs=1e-12)
    assert summary["run"]["argv"][0] == "calendar-time"
    assert "versions" in summary and summary["input_files"]
    port = pd.read_csv(out / "portfolio.csv", parse_dates=["date"]).set_index("date")
    assert list(port.columns[:4]) == ["ret", "rf", "excess", "n_firms"]
    used = port.loc[ref.index]
    np.testing.assert_allclose(used["ret"], ref["ret"], atol=1e-14)
    assert (used["n_firms"] == ref["n"]).all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "calendar-time"
    assert set(manifest["files"]) == {"calendar_time.csv", "portfolio.csv", "summary.json"}


def test_quiet_prints_nothing(mag7_monthly: Path, shared_data: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["calendar-time", str(mag7_monthly), "-p",
                              f"csv:{shared_data / 'prices' / 'us'}", "--market", "SPY",
                              "--frequency", "monthly", "-q", "--out", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    assert res.stdout == ""
    assert json.loads((tmp_path / "m" / "summary.json").read_text())["settings"][
        "horizon"] == 11


@pytest.mark.parametrize(("extra", "field"), [
    (["--model", "fama"], "--model"),
    (["--horizon", "0"], "--horizon"),
    (["--horizon", "10001"], "--horizon"),
    (["--weighting", "value"], "--weighting"),
    (["--model", "ff3"], "--model"),  # no factor file
    (["--model", "carhart", "--factors", "FF3"], "--factors"),  # no momentum column
    (["--min-firms", "8"], "--min-firms"),  # never 8 firms: too few periods
    (["--frequency", "weekly"], "--frequency"),
])
def test_bad_options_exit_2_with_one_line(mag7_monthly: Path, shared_data: Path,
                                          tmp_path: Path, extra: list[str],
                                          field: str) -> None:
    ff3 = shared_data / "factors" / "F-F_Research_Data_Factors_daily.CSV"
    extra = [str(ff3) if x == "FF3" else x for x in extra]
    out = tmp_path / "bad"
    res = runner.invoke(app, ["calendar-time", str(mag7_monthly), "-p",
                              f"csv:{shared_data / 'prices' / 'us'}", "--market", "SPY",
                              *extra, "--out", str(out)])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and field in lines[0], res.stderr
    assert "Traceback" not in res.output
    assert not out.exists()


def test_ff3_alpha_matches_statsmodels_on_the_french_file(
        mag7_monthly: Path, shared_data: Path, tmp_path: Path) -> None:
    us = shared_data / "prices" / "us"
    ff3 = shared_data / "factors" / "F-F_Research_Data_Factors_daily.CSV"
    out = tmp_path / "ff3"
    res = runner.invoke(app, ["calendar-time", str(mag7_monthly), "--prices", f"csv:{us}",
                              "--model", "ff3", "--factors", str(ff3), "--hac-lags", "3",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    fac = pd.read_csv(ff3, skiprows=4, skipfooter=2, engine="python", skipinitialspace=True)
    fac.index = pd.to_datetime(fac.pop("Date").astype(str), format="%Y%m%d")
    fac = fac / 100.0  # the file is in percent
    data = reference_portfolio(mag7_monthly, us, 251).join(fac, how="inner")
    y = data["ret"] - data["RF"]
    fit = sm.OLS(y.to_numpy(), sm.add_constant(data[["Mkt-RF", "SMB", "HML"]].to_numpy())).fit(
        cov_type="HAC", cov_kwds={"maxlags": 3})
    coefs = pd.read_csv(out / "calendar_time.csv").set_index("name")
    assert list(coefs.index) == ["alpha", "mkt_rf", "smb", "hml"]
    np.testing.assert_allclose(coefs[["coef", "se", "t"]].to_numpy(float),
                               np.column_stack([fit.params, fit.bse, fit.tvalues]),
                               rtol=1e-9, atol=1e-10)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_periods"] == len(data)
    assert any("no factor returns" in d for d in summary["diagnostics"])  # file ends 2024-09
