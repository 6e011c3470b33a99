"""``marketreact study`` with every model, the regression method and the new options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from marketreact.cli import app
from marketreact.models.spec import ModelName

runner = CliRunner()


@pytest.fixture(scope="module")
def extra_factors(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made-up RMW, CMA and momentum factors (decimal CSV) to merge with the real FF3 file."""
    days = pd.bdate_range("2022-01-03", "2024-06-28")
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"date": days.strftime("%Y-%m-%d"),
                          "RMW": rng.normal(0, 0.004, len(days)),
                          "CMA": rng.normal(0, 0.004, len(days)),
                          "Mom": rng.normal(0, 0.006, len(days))})
    path = tmp_path_factory.mktemp("factors") / "extra.csv"
    frame.to_csv(path, index=False)
    return path


def study(args: list[str], goto_events: Path, prices_dir: Path, out: Path):
    return runner.invoke(app, ["study", str(goto_events), "--prices", f"csv:{prices_dir}",
                               "--out", str(out), "-q", *args])


@pytest.mark.parametrize("model", [m.value for m in ModelName])
def test_every_model_from_the_cli(tmp_path: Path, goto_events: Path, prices_dir: Path,
                                  shared_data: Path, extra_factors: Path, model: str) -> None:
    args = ["--model", model]
    if model in ("ff3", "ff5", "carhart4"):
        args += ["--factors", str(shared_data / "factors" / "F-F_Research_Data_Factors_daily.CSV")]
        if model != "ff3":
            args += ["--factors", str(extra_factors)]
    res = study(args, goto_events, prices_dir, tmp_path)
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["settings"]["model"] == model
    events = pd.read_csv(tmp_path / "events.csv")
    assert len(events) == 16
    ar = pd.read_csv(tmp_path / "abnormal_returns.csv").query(
        "event_id == 'deal-GOTO' and rel_day == 0")
    # GOTO fell 20.4 % on 2023-12-11 while ^JKSE fell 1.0 %: every model sees a large drop
    assert -0.25 < ar["ar"].iloc[0] < -0.15
    if model.startswith(("ff", "carhart")):
        assert "b_smb" in events.columns
        assert summary["inputs"]["factors"]
        # 12 IDX events and 4 on NYSE (SE): US factors on IDX stocks are said, not silent
        note = next(d for d in summary["diagnostics"] if "outside the US" in d)
        assert "for 12 event(s)" in note and "XIDX (12)" in note
    else:
        assert not any("outside the US" in d for d in summary["diagnostics"])


def test_regression_method_with_hac_from_the_cli(tmp_path: Path, goto_events: Path,
                                                 prices_dir: Path) -> None:
    fast = study([], goto_events, prices_dir, tmp_path / "fast")
    slow = study(["--method", "regression", "--hac-lags", "4"], goto_events, prices_dir,
                 tmp_path / "slow")
    assert fast.exit_code == 0 and slow.exit_code == 0, slow.output
    a = pd.read_csv(tmp_path / "fast" / "abnormal_returns.csv")
    b = pd.read_csv(tmp_path / "slow" / "abnormal_returns.csv")
    np.testing.assert_allclose(a["ar"], b["ar"], atol=1e-10)
    assert not np.allclose(a["ar_se"], b["ar_se"])  # Newey-West standard errors
    settings = json.loads((tmp_path / "slow" / "summary.json").read_text())["settings"]
    assert settings["method"] == "regression" and settings["hac_lags"] == 4


def test_dimson_lags_and_missing_policy_options(tmp_path: Path, goto_events: Path,
                                                prices_dir: Path) -> None:
    res = study(["--model", "dimson", "--lags", "2", "--leads", "0", "--missing", "fail"],
                goto_events, prices_dir, tmp_path)
    assert res.exit_code in (0, 1), res.output
    settings = json.loads((tmp_path / "summary.json").read_text())["settings"]
    assert (settings["lags"], settings["leads"], settings["missing"]) == (2, 0, "fail")
    events = pd.read_csv(tmp_path / "events.csv")
    assert set(events["model"]) == {"dimson(2,0)"}
    failures = pd.read_csv(tmp_path / "failures.csv")
    assert all("policy 'fail'" in r for r in failures["reason"])


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "capm"], "unknown model 'capm'; choose from constant-mean"),
    (["--model", "ff3"], "needs daily factors"),
    (["--model", "ff3", "--factors", "/nonexistent/ff.csv"], "file not found"),
    (["--method", "regression", "--model", "market-adjusted"], "needs a model estimated by OLS"),
    (["--hac-lags", "3"], "HAC"),
    (["--missing", "zero"], "unknown missing-price policy 'zero'"),
    (["--sessions", "exchange"], "unknown sessions 'exchange'"),
    (["--bootstrap-streams", "parallel"], "unknown bootstrap streams 'parallel'; choose from "
                                          "per-resample, sequential"),
])
def test_bad_options_are_one_clear_line(tmp_path: Path, goto_events: Path, prices_dir: Path,
                                        args: list[str], message: str) -> None:
    res = study(args, goto_events, prices_dir, tmp_path)
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output


def test_bootstrap_streams_reach_the_study_and_its_summary(tmp_path: Path, goto_events: Path,
                                                           prices_dir: Path) -> None:
    # the sequential stream of earlier releases, asked for on the command line, is what the
    # study records (and replays)
    res = study(["--bootstrap-streams", "sequential"], goto_events, prices_dir, tmp_path)
    assert res.exit_code == 0, res.output
    settings = json.loads((tmp_path / "summary.json").read_text())["settings"]
    assert settings["boot_streams"] == "sequential"
