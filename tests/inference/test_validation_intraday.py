"""``marketreact validate --mode intraday``: random news times on the real hourly bars.

References
----------
* Sampling: every drawn time falls inside the regular part of its bar, on a session with
  20 earlier sessions in the data (checked against the panel's own arrays).
* Batching: with one sample, each rejection equals ``p < 0.05`` of the battery and the
  Rinaudo-Saha test called directly on that sample's events (``cross_event_tests`` and
  ``rinaudo_saha`` on the unbatched arrays).
* Size: the binomial band of ``scipy.stats.binom`` (the slow run only).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from marketreact.cli import app
from marketreact.inference.base import TestInputs
from marketreact.inference.battery import cross_event_tests
from marketreact.inference.intraday import rinaudo_saha
from marketreact.output.validation import (
    INTRADAY_END,
    INTRADAY_START,
    intraday_section,
    merge_intraday_section,
)
from marketreact.panel.bars import BarPanel, build_bar_panel
from marketreact.prices.bars import parse_interval, read_bar_folder
from marketreact.study.intraday import IntradayStudy
from marketreact.validation import (
    COLUMNS,
    INTRADAY_TESTS,
    IntradaySimulation,
    binomial_band,
    draw_intraday_events,
    intraday_rejection_rates,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "intraday"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared intraday data absent")


@pytest.fixture(scope="module")
def hourly() -> BarPanel:
    if not SHARED.is_dir():
        pytest.skip("shared intraday data absent")
    bars = read_bar_folder(SHARED, ["BAC", "AIG", "IBM", "AAPL", "SPY"], "1h")
    return build_bar_panel(bars, parse_interval("1h"))


def _fit(panel: BarPanel, settings: IntradaySimulation):
    drawn = draw_intraday_events(panel, settings)
    fitted = IntradayStudy("1h", settings.window, [settings.car_window], market="SPY",
                           estimation_sessions=settings.estimation_sessions).fit(drawn, panel)
    return drawn, fitted


@needs_shared
def test_draws_fall_inside_regular_bars(hourly: BarPanel) -> None:
    s = IntradaySimulation(n_samples=4, n_events=25, seed=3)
    drawn = draw_intraday_events(hourly, s)
    assert len(drawn) == 100 and drawn["event_id"].is_unique
    t = pd.DatetimeIndex(drawn["timestamp"]).as_unit("ns").asi8
    bar = np.searchsorted(hourly.eff_start, t, side="right") - 1
    assert (hourly.eff_start[bar] <= t).all() and (t < hourly.eff_end[bar]).all()
    assert hourly.regular[bar].all()
    assert (hourly.session[bar] >= 20).all()
    assert (pd.DatetimeIndex(drawn["timestamp"]) >= pd.Timestamp("2004-01-01", tz="UTC")).all()
    assert set(drawn["ticker"]) <= {"BAC", "AIG", "IBM", "AAPL"}


@needs_shared
def test_one_sample_equals_the_direct_tests(hourly: BarPanel) -> None:
    s = IntradaySimulation(n_samples=1, n_events=12, abnormal=(0.0, 0.004), seed=11)
    _, fitted = _fit(hourly, s)
    rates = intraday_rejection_rates(fitted, s)
    assert list(rates.columns) == COLUMNS
    assert set(rates["test"]) == set(INTRADAY_TESTS)
    inp = fitted.inputs
    col0 = int(np.searchsorted(fitted.rel_bars, 0))
    for level in s.abnormal:
        ar = inp.ar.copy()
        ar[:, col0] += level
        direct = cross_event_tests(TestInputs(ar, inp.ar_var, inp.est_residuals, inp.sigma2,
                                              inp.df, inp.windows, inp.car + level,
                                              inp.car_var), n_boot=0)
        rs_day, rs_win = rinaudo_saha(ar, fitted.time_of_day_ref, inp.windows)
        got = rates[(rates["alternative"] == "two-sided") & np.isclose(rates["abnormal"], level)]
        for name, p_day, p_win in (
                ("t", direct.days["t"].pvalue[col0], direct.windows["t"].pvalue[0]),
                ("bmp", direct.days["bmp"].pvalue[col0], direct.windows["bmp"].pvalue[0]),
                ("rs", rs_day.pvalue[col0], rs_win.pvalue[0])):
            day = got[(got["test"] == name) & (got["window"] == "AAR(0)")].iloc[0]
            win = got[(got["test"] == name) & (got["window"] == "CAAR[0,+1]")].iloc[0]
            assert day["rejection_rate"] == float(p_day < 0.05)
            assert win["rejection_rate"] == float(p_win < 0.05)
    zero = rates[rates["abnormal"] == 0].iloc[0]
    assert (zero["band_lo"], zero["band_hi"]) == binomial_band(1, 0.05)


def test_report_section_is_replaced_not_repeated() -> None:
    daily = "# Validation\n\ndaily tables\n"
    first = merge_intraday_section(daily, f"{INTRADAY_START}\nold\n{INTRADAY_END}")
    assert first.startswith(daily.rstrip("\n")) and first.count(INTRADAY_START) == 1
    second = merge_intraday_section(first, f"{INTRADAY_START}\nnew\n{INTRADAY_END}")
    assert second.count(INTRADAY_START) == 1 and "new" in second and "old" not in second
    assert intraday_section(second) == f"{INTRADAY_START}\nnew\n{INTRADAY_END}"
    assert intraday_section(daily) is None


@needs_shared
def test_cli_intraday_mode_writes_and_merges(tmp_path: Path) -> None:
    report = tmp_path / "validation.md"
    report.write_text("# Validation\n\ndaily part\n", encoding="utf-8")
    args = ["validate", "--mode", "intraday", "--prices", f"csv:{SHARED}", "--samples", "3",
            "--events", "6", "--out", str(tmp_path / "out"), "--report", str(report), "-q"]
    for _ in range(2):
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, res.output
    text = report.read_text(encoding="utf-8")
    assert text.startswith("# Validation\n\ndaily part")
    assert text.count(INTRADAY_START) == 1
    assert "Saha & Rinaudo" in text
    rates = pd.read_csv(tmp_path / "out" / "rejection_rates.csv")
    assert set(rates["panel"]) == {"us-hourly"}
    # the report names what its prose calls `rs`, and the command it shows can be rerun
    assert "rs" in set(rates["test"]) and "test `rs` in rejection_rates.csv" in text
    assert f"marketreact validate --mode intraday --prices csv:{SHARED} " in text
    assert "not size-adjusted" in text and "share a news time" in text
    bad = CliRunner().invoke(app, ["validate", "--mode", "weekly", "--prices", str(SHARED)])
    assert bad.exit_code == 2 and "--mode" in bad.output


@needs_shared
def test_cli_intraday_mode_refuses_daily_options(tmp_path: Path) -> None:
    """Review of issue 14, defects 8 and 9: --panel/--bootstrap are refused in one line,
    and --mode lists its choices (reference: the options as documented in --help)."""
    import re

    runner = CliRunner()
    help_text = re.sub(r"\s+", " ", runner.invoke(app, ["validate", "--help"],
                                                   env={"COLUMNS": "200"}).output)
    assert "daily|intraday" in help_text
    assert "the us/ and idx/ price panels (../shared/data/prices); intraday" in help_text
    base = ["validate", "--mode", "intraday", "--prices", f"csv:{SHARED}", "--samples", "2",
            "--events", "3", "--out", str(tmp_path / "o"), "-q"]
    for extra in (["--panel", "us"], ["--bootstrap", "99"]):
        bad = runner.invoke(app, [*base, *extra])
        assert bad.exit_code == 2, bad.output
        lines = [ln for ln in bad.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and extra[0] in lines[0] and "daily mode only" in lines[0]


@pytest.mark.slow
@needs_shared
def test_size_inside_the_band(hourly: BarPanel) -> None:
    """The documented run (docs/intraday.md, docs/validation.md) inside the band it cites.

    Reference: ``scipy.stats.binom``'s central 95% band for 1000 samples at 5%, which
    is the 3.7%-6.4% the docs quote; the run is the documented one (1000 samples of
    50 events, seed 20240605, the defaults of ``IntradaySimulation``).
    """
    s = IntradaySimulation(abnormal=(0.0, 0.0025))
    assert (s.n_samples, s.n_events, s.seed) == (1000, 50, 20240605)
    _, fitted = _fit(hourly, s)
    rates = intraday_rejection_rates(fitted, s)
    two = rates[rates["alternative"] == "two-sided"]
    for name in ("t", "rank", "rs"):
        for window in ("AAR(0)", "CAAR[0,+1]"):
            r = two[(two["test"] == name) & (two["window"] == window)
                    & (two["abnormal"] == 0)].iloc[0]
            lo, hi = binomial_band(int(r["n_samples"]), 0.05)
            assert (round(100 * lo, 1), round(100 * hi, 1)) == (3.7, 6.4)
            assert lo <= r["rejection_rate"] <= hi, (name, window, r["rejection_rate"])
    power = two[(two["test"] == "rs") & (two["window"] == "AAR(0)")
                & (two["abnormal"] == 0.0025)]["rejection_rate"].iloc[0]
    assert power > 0.8


def test_daily_run_keeps_the_intraday_section(prices_dir: Path, tmp_path: Path) -> None:
    report = tmp_path / "validation.md"
    section = f"{INTRADAY_START}\n## Intraday mode\nkept table\n{INTRADAY_END}"
    report.write_text("# old daily report\n\n" + section + "\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["validate", "--prices", str(prices_dir), "--out",
                                   str(tmp_path / "v"), "--samples", "4", "--events", "5",
                                   "--bootstrap", "0", "--panel", "us", "--report",
                                   str(report), "-q"])
    assert res.exit_code == 0, res.output
    text = report.read_text(encoding="utf-8")
    assert "old daily report" not in text and "Survivorship" in text
    assert intraday_section(text) == section
