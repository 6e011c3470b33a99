"""Smoke version of ``make validate`` plus checks of its sampling on the real US panel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from marketreact.cli import app
from marketreact.cli.validate import read_panel_prices
from marketreact.inference.base import TEST_NAMES
from marketreact.validation import (
    COLUMNS,
    PANELS,
    SimPanel,
    SimulationSettings,
    binomial_band,
    draw_events,
    load_panel,
    simulate_panel,
)

SMALL = SimulationSettings(n_samples=24, n_events=10, n_boot=49, chunk=12)


@pytest.fixture(scope="module")
def us_panel(prices_dir: Path) -> SimPanel:
    return load_panel(read_panel_prices(prices_dir, PANELS["us"]), PANELS["us"], SMALL)


def test_eligible_pairs_have_full_windows(us_panel: SimPanel) -> None:
    rng = np.random.default_rng(0)
    stock, day0 = draw_events(us_panel, 30, 10, clustered=False, rng=rng)
    returns, span = us_panel.panel.returns, us_panel.panel.span
    m = us_panel.market_row
    for s, d in zip(stock.ravel()[:60], day0.ravel()[:60], strict=True):
        evt = np.arange(d - 5, d + 6)
        assert np.isfinite(returns[s, evt]).all() and (span[s, evt] == 1).all()
        assert np.isfinite(returns[m, evt]).all()
        est = np.arange(d - 244, d - 5)
        used = np.isfinite(returns[s, est]) & (span[s, est] == 1) & np.isfinite(returns[m, est])
        assert used.sum() >= SMALL.min_estimation


def test_clustered_samples_share_one_date_and_distinct_stocks(us_panel: SimPanel) -> None:
    stock, day0 = draw_events(us_panel, 20, 50, clustered=True,
                              rng=np.random.default_rng(1))
    assert (day0 == day0[:, :1]).all()
    assert all(len(set(row)) == 50 for row in stock.tolist())
    assert len(set(day0[:, 0].tolist())) > 1


def test_binomial_band_equals_scipy_interval() -> None:
    lo, hi = stats.binom.interval(0.95, 1000, 0.05)
    assert binomial_band(1000, 0.05) == (lo / 1000, hi / 1000)


def test_smoke_simulation(us_panel: SimPanel) -> None:
    rates, diag = simulate_panel(us_panel, SMALL)
    assert list(diag["design"]) == ["random", "clustered", "variance"]
    assert diag["sar_var"].between(0.3, 3).all()
    assert list(rates.columns) == COLUMNS
    assert len(rates) == 3 * len(TEST_NAMES) * 2 * len(SMALL.abnormal) * 3
    assert rates["rejection_rate"].between(0, 1).all()
    assert (rates["n_samples"] == SMALL.n_samples).all()
    zero = rates["abnormal"] == 0
    assert rates.loc[zero, "band_lo"].notna().all() and rates.loc[~zero, "band_lo"].isna().all()
    # a 2% day-0 abnormal return on 10 large caps is found by the parametric tests
    strong = rates[(rates["design"] == "random") & (rates["window"] == "AAR(0)")
                   & (rates["alternative"] == "greater") & (rates["abnormal"] == 0.02)]
    power = strong.set_index("test")["rejection_rate"]
    assert power["bmp"] >= 0.7 and power["patell"] >= 0.7
    # ... and never rejects against "less"
    wrong = rates[(rates["alternative"] == "less") & (rates["abnormal"] == 0.02)
                  & (rates["design"] == "random")]
    assert wrong["rejection_rate"].max() <= 0.1


def test_validate_command_writes_csv_report_and_chart(prices_dir: Path, tmp_path: Path
                                                      ) -> None:
    report = tmp_path / "docs" / "validation.md"
    res = CliRunner().invoke(app, ["validate", "--prices", str(prices_dir), "--out",
                                   str(tmp_path / "v"), "--samples", "8", "--events", "5",
                                   "--bootstrap", "0", "--panel", "us", "--report",
                                   str(report), "-q"])
    assert res.exit_code == 0, res.output
    rates = pd.read_csv(tmp_path / "v" / "rejection_rates.csv")
    assert set(rates["panel"]) == {"us"}
    assert (tmp_path / "v" / "rejection_rates.png").stat().st_size > 1000
    text = report.read_text()
    assert "Survivorship" in text and "Panel `us`" in text
    bad = CliRunner().invoke(app, ["validate", "--prices", str(prices_dir), "--panel", "nyse"])
    assert bad.exit_code == 2
