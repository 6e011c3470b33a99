"""``CalendarTimeStudy.fit``: the library call behind ``marketreact calendar-time``.

Reference: the portfolio series rebuilt from the raw price CSVs with pandas
(tests/_calendar_time_reference.py, shared with the CLI test) and regressed directly with
statsmodels OLS and HAC (Newey-West, lags by the 1994 rule computed by hand); and the
CLI's own ``calendar_time.csv`` on the same data, which the library call must equal
exactly.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from typer.testing import CliRunner

from _calendar_time_reference import reference_portfolio, write_mag7_monthly
from marketreact import CalendarTimeStudy, InputError, load_prices, read_events
from marketreact.cli import app
from marketreact.inference.calendar_time import CalendarTimeResult


@pytest.fixture(scope="module")
def mag7_monthly(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """First news of each stock in each month, Nov 2023 to Oct 2024 (84 events)."""
    return write_mag7_monthly(shared_data, tmp_path_factory.mktemp("ct_lib"))


def test_fit_equals_the_cli_and_a_direct_statsmodels_regression(
        mag7_monthly: Path, shared_data: Path, tmp_path: Path) -> None:
    us = shared_data / "prices" / "us"
    study = CalendarTimeStudy(horizon=251, market="SPY")
    events = read_events(mag7_monthly)
    before, after = study.sessions_needed()
    prices = load_prices(f"csv:{us}", events, before=before, after=after, market="SPY")
    result = study.fit(events, prices)
    assert isinstance(result, CalendarTimeResult)
    assert result.diagnostics[0] == "market factor: SPY return, rf = 0"
    assert result.market == "SPY" and result.events_used == 84

    out = tmp_path / "ct"
    res = CliRunner().invoke(app, ["calendar-time", str(mag7_monthly), "-p", f"csv:{us}",
                                   "--market", "SPY", "--horizon", "251", "-q",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    cli = pd.read_csv(out / "calendar_time.csv").set_index("name")
    assert cli.loc["alpha", "coef"] == result.alpha  # exactly: the CSV's floats round-trip
    assert cli.loc["alpha", "se"] == result.alpha_se
    assert cli.loc["mkt_rf", "coef"] == result.betas["mkt_rf"]

    ref = reference_portfolio(mag7_monthly, us, 251)
    lags = math.floor(4 * (len(ref) / 100) ** (2 / 9))  # Newey-West (1994) rule, by hand
    fit = sm.OLS(ref["ret"].to_numpy(), sm.add_constant(ref["mkt"].to_numpy())).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags})
    np.testing.assert_allclose([result.alpha, result.alpha_se, result.alpha_t],
                               [fit.params[0], fit.bse[0], fit.tvalues[0]], rtol=0, atol=1e-10)
    assert result.n_periods == len(ref) and result.hac_lags == lags


@pytest.mark.parametrize(("settings", "field", "value"), [
    ({"horizon": 0}, "horizon", "0"),
    ({"weighting": "value"}, "weighting", "value"),
    ({"model": "fama"}, "model", "fama"),
    ({"frequency": "weekly"}, "frequency", "weekly"),
    ({"min_firms": 0}, "min_firms", "0"),
])
def test_a_bad_setting_is_one_problem_naming_it(settings: dict[str, object], field: str,
                                                value: str) -> None:
    with pytest.raises(InputError) as info:
        CalendarTimeStudy(**settings)  # type: ignore[arg-type]
    (problem,) = info.value.problems
    assert (problem.source, problem.field, problem.value) == ("settings", field, value)


def test_a_factor_model_without_factors_is_refused_before_any_price() -> None:
    with pytest.raises(InputError) as info:
        CalendarTimeStudy(model="ff3").check_factors(None)
    assert info.value.problems[0].field == "model"
