"""The command line, driven through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from marketreact.cli import app

runner = CliRunner()


def test_study_on_the_goto_case_writes_every_file(tmp_path: Path, goto_events: Path,
                                                  prices_dir: Path) -> None:
    out = tmp_path / "goto"
    res = runner.invoke(app, ["study", str(goto_events), "--prices", f"csv:{prices_dir}",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    for name in ("events", "abnormal_returns", "car", "aar", "aggregate", "failures"):
        assert (out / f"{name}.csv").is_file()
    events = pd.read_csv(out / "events.csv")
    assert len(events) == 16
    assert {"day0", "exchange", "market", "n_estimation", "alpha", "beta", "sigma"} <= set(
        events.columns)
    ar = pd.read_csv(out / "abnormal_returns.csv")
    assert list(ar.columns[:8]) == ["event_id", "rel_day", "date", "return", "market_return",
                                    "expected", "ar", "ar_se"]
    assert len(ar) == 16 * 21
    car = pd.read_csv(out / "car.csv")
    assert set(car["window"]) == {"[-1,+1]", "[0,0]", "[0,+1]", "[-5,+5]"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["estimation"] == [-250, -11]
    assert "pandas" in summary["versions"]
    assert "deal-GOTO" in res.output


def test_options_reach_the_study(tmp_path: Path, goto_events: Path, prices_dir: Path) -> None:
    out = tmp_path / "x"
    res = runner.invoke(app, ["study", str(goto_events), "-p", f"csv:{prices_dir}", "-o", str(out),
                              "--model", "market-adjusted", "--window", "-3:3", "--car", "0:2",
                              "--estimation", "-200:-20", "--returns", "log", "--quiet"])
    assert res.exit_code == 0, res.output
    car = pd.read_csv(out / "car.csv")
    assert set(car["window"]) == {"[0,+2]"}
    assert pd.read_csv(out / "abnormal_returns.csv")["rel_day"].between(-3, 3).all()
    settings = json.loads((out / "summary.json").read_text())["settings"]
    assert settings["model"] == "market-adjusted" and settings["returns"] == "log"


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--model", "magic"], "unknown model"), (["--window", "a:b"], "not of the form"),
     (["--estimation", "-10:-1", "--window", "-5:5"], "overlaps"),
     (["--returns", "weird"], "unknown returns"), (["--prices", "ftp:x"], "unknown price source")],
)
def test_bad_options_exit_2_with_one_clear_line(tmp_path: Path, goto_events: Path, args,
                                                message) -> None:
    res = runner.invoke(app, ["study", str(goto_events), "-o", str(tmp_path / "o"), *args])
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output


def test_bad_catalogue_exits_2_listing_every_problem(tmp_path: Path, prices_dir: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("event_id,ticker,timestamp\na,GOTO.JK,2023-12-05T10:30:00\n"
                   "b,GOTO.JK,2023-12-05T10:30:00+07:00\nc,GOTO.JK,yesterday\n")
    res = runner.invoke(app, ["study", str(bad), "-p", f"csv:{prices_dir}",
                              "-o", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert f"{bad}:2, field 'timestamp'" in res.output
    assert f"{bad}:4, field 'timestamp', value 'yesterday'" in res.output
    assert not (tmp_path / "o").exists()


def test_skip_invalid_studies_the_rest_and_exits_1(tmp_path: Path, prices_dir: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("event_id,ticker,timestamp\na,GOTO.JK,2023-12-05T10:30:00\n"
                   "b,GOTO.JK,2023-12-05T10:30:00+07:00\nc,NOPE.JK,2023-12-05T10:30:00+07:00\n")
    out = tmp_path / "o"
    res = runner.invoke(app, ["study", str(bad), "-p", f"csv:{prices_dir}", "-o", str(out),
                              "--skip-invalid"])
    assert res.exit_code == 1
    failures = pd.read_csv(out / "failures.csv")
    assert failures["event_id"].tolist() == ["c", "line 2"]
    assert "no price file for NOPE.JK" in failures["reason"][0]
    assert pd.read_csv(out / "events.csv")["event_id"].tolist() == ["b"]


def test_missing_events_file_exits_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["study", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "file not found" in res.output


def test_prices_show_reads_a_csv_folder(prices_dir: Path) -> None:
    res = runner.invoke(app, ["prices", "show", "^JKSE", "-p", f"csv:{prices_dir}",
                              "--start", "2023-12-01", "--end", "2023-12-05", "--tail", "3"])
    assert res.exit_code == 0, res.output
    assert "2023-12-05" in res.output and "7,100.8" in res.output


def test_prices_fetch_and_show_through_the_cache(tmp_path: Path, monkeypatch) -> None:
    from yf_frames import closes, yf_download_frame

    def fake_download(tickers, **kwargs):
        return yf_download_frame({t: (closes("2024-01-01", 30) if t == "AAA" else None)
                                  for t in tickers})

    import yfinance

    monkeypatch.setattr(yfinance, "download", fake_download)
    res = runner.invoke(app, ["prices", "fetch", "AAA", "BAD", "--start", "2024-01-01",
                              "--end", "2024-01-31", "--cache-dir", str(tmp_path)])
    assert res.exit_code == 1
    assert "AAA" in res.output and "BAD" in res.output
    monkeypatch.setattr(yfinance, "download", lambda *a, **k: pytest.fail("cache not used"))
    res = runner.invoke(app, ["prices", "show", "AAA", "--cache-dir", str(tmp_path),
                              "--start", "2024-01-01", "--end", "2024-01-31"])
    assert res.exit_code == 0, res.output
    assert "AAA: 23 rows" in res.output  # 23 business days in January 2024


def test_version_and_help() -> None:
    assert runner.invoke(app, ["--version"]).output.startswith("marketreact ")
    res = runner.invoke(app, ["study", "--help"])
    assert res.exit_code == 0 and "--estimation" in res.output
