"""``study --config``, the run recorded in summary.json, ``replay``, and ``--format`` /
``--plot-format`` on study and backtest.

References: SHA-256 from hashlib on the same bytes; date ranges from the price files read
with pandas; the settings a config gives compared with the same options on the command
line; replay compared byte for byte with the recorded tables.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from marketreact.cli import app

runner = CliRunner()

#: The price files the GoTo study reads (IDX stocks and index, BELI/BUKA, SE, SPY).
GOTO_FILES = ("idx/GOTO.JK.csv", "idx/JKSE.csv", "idx_stockdb/BELI.JK.json",
              "idx_stockdb/BUKA.JK.json", "us/SE.csv", "us/SPY.csv")


def _copy_prices(prices_dir: Path, root: Path) -> Path:
    folder = root / "prices"
    for name in GOTO_FILES:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(prices_dir / name, folder / name)
    return folder


def _study(events: Path, prices: Path, out: Path, *extra: str) -> object:
    return runner.invoke(app, ["study", str(events), "--prices", f"csv:{prices}", "--out",
                               str(out), "-q", *extra])


def test_config_sets_options_and_the_command_line_wins(
        prices_dir: Path, goto_events: Path, tmp_path: Path) -> None:
    config = tmp_path / "study.toml"
    config.write_text('model = "market-adjusted"\ncar = ["0:0", "0:5"]\nbootstrap = 99\n'
                      "clean-estimation = true\nmin_estimation = 100\n")
    res = _study(goto_events, prices_dir, tmp_path / "a", "--config", str(config),
                 "--bootstrap", "49")
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "a" / "summary.json").read_text())
    s = doc["settings"]
    assert (s["model"], s["car_windows"], s["n_boot"], s["clean_estimation"],
            s["min_estimation"]) == ("market-adjusted", [[0, 0], [0, 5]], 49, True, 100)
    # the same settings on the command line give the same tables
    res = _study(goto_events, prices_dir, tmp_path / "b", "--model", "market-adjusted",
                 "--car", "0:0", "--car", "0:5", "--bootstrap", "49", "--clean-estimation",
                 "--min-estimation", "100")
    assert res.exit_code == 0, res.output
    for name in ("aggregate.csv", "car.csv", "aar.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    run = doc["run"]
    assert run["argv"][0] == "study" and run["argv"][-1] == str(goto_events)
    assert ["--config", str(config)] == run["argv"][run["argv"].index("--config"):][:2]
    assert "--model" not in run["argv"] and "--bootstrap" in run["argv"]
    assert run["command_line"].startswith("marketreact study --out ")
    # every input file with its SHA-256 (hashlib on the same bytes) and date range
    recs = {Path(r["path"]).name: r for r in doc["input_files"]}
    assert {"study.toml", goto_events.name, "GOTO.JK.csv", "SPY.csv"} <= set(recs)
    for rec in doc["input_files"]:
        assert rec["sha256"] == hashlib.sha256(Path(rec["path"]).read_bytes()).hexdigest()
    events = pd.read_csv(goto_events)
    days = pd.to_datetime(events["timestamp"], utc=True).dt.tz_convert(None).dt.normalize()
    assert recs[goto_events.name]["first"] == days.min().date().isoformat()
    gojek = pd.read_csv(prices_dir / "idx" / "GOTO.JK.csv", parse_dates=["date"])["date"]
    first, last = recs["GOTO.JK.csv"]["first"], recs["GOTO.JK.csv"]["last"]
    assert gojek.min().date().isoformat() <= first < last <= gojek.max().date().isoformat()
    assert recs["GOTO.JK.csv"]["tickers"] == ["GOTO.JK"]
    assert doc["versions"].keys() >= {"python", "marketreact", "numpy", "pandas", "scipy",
                                      "statsmodels", "exchange_calendars"}


@pytest.mark.parametrize(("text", "message"), [
    ('modle = "ff3"\n', "field 'modle': unknown option 'modle' for study (did you mean "
                        "model?)"),
    ("bootstrap = \"many\"\n", "field 'bootstrap', value 'many': expected a whole number"),
    ("clean-estimation = 1\n", "field 'clean-estimation', value '1': expected true or false"),
    ('model = "ff9"\n', "field 'model', value 'ff9': unknown model 'ff9'"),
    ('car = ["0:99"]\n', "field 'car', value '[0,+99]': CAR window [0,+99] is not inside"),
    ('input = "folder"\n', "field 'input', value 'folder': choose from catalogue, "
                           "eventstudytools"),
    ("car = [\n", "not a readable TOML file"),
    ("\udcff model = 1\n", "not a readable TOML file"),
])
def test_bad_config_is_one_line_naming_file_and_key(
        prices_dir: Path, goto_events: Path, tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_bytes(text.encode("utf-8", "surrogateescape"))  # \udcff: a byte 0xff
    res = _study(goto_events, prices_dir, tmp_path / "out", "--config", str(config))
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {config}")
    assert message in lines[0]
    assert "Traceback" not in res.output and not (tmp_path / "out").exists()


def test_config_table_named_after_the_command(prices_dir: Path, goto_events: Path,
                                              tmp_path: Path) -> None:
    config = tmp_path / "study.toml"
    config.write_text('[study]\nmodel = "constant-mean"\ncar = "0:1"\nbootstrap = 0\n')
    res = _study(goto_events, prices_dir, tmp_path / "out", "--config", str(config))
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "out" / "summary.json").read_text())["settings"]
    assert (s["model"], s["car_windows"], s["n_boot"]) == ("constant-mean", [[0, 1]], 0)


def test_replay_is_identical_then_names_a_changed_input(
        prices_dir: Path, goto_events: Path, tmp_path: Path) -> None:
    prices = _copy_prices(prices_dir, tmp_path)
    out = tmp_path / "goto"
    res = runner.invoke(app, ["--raw-csv", "study", str(goto_events), "--prices",
                              f"csv:{prices}", "--out", str(out), "-q", "--bootstrap", "99",
                              "--car", "0:0", "--car", "-5:5"])
    assert res.exit_code == 0, res.output
    argv = json.loads((out / "summary.json").read_text())["run"]["argv"]
    assert argv[:2] == ["--raw-csv", "study"]  # the global option is replayed too
    res = runner.invoke(app, ["replay", str(out / "summary.json")])
    assert res.exit_code == 0, res.output
    assert "identical: all 9 CSV tables" in res.output
    again = tmp_path / "goto-replay"
    for name in ("aggregate.csv", "car.csv", "abnormal_returns.csv"):
        assert (again / name).read_bytes() == (out / name).read_bytes()
    # one price changed by a cent: the input is named, then the first differing cell
    path = prices / "idx" / "GOTO.JK.csv"
    frame = pd.read_csv(path)
    day = frame.index[frame["date"] == "2023-10-05"][0]
    frame.loc[day, ["close", "adj_close"]] += 1.0
    frame.to_csv(path, index=False)
    res = runner.invoke(app, ["replay", str(out), "--out", str(tmp_path / "second")])
    assert res.exit_code == 1, res.output
    assert f"input changed: prices {path.resolve()}: SHA-256 changed since the run" in res.output
    assert "differs: aar.csv row " in res.output
    assert "differs: abnormal_returns.csv row 11, column return:" in res.output


def test_replay_refuses_a_summary_without_a_run(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps({"settings": {}}))
    res = runner.invoke(app, ["replay", str(tmp_path / "summary.json")])
    assert res.exit_code == 2
    assert "records no command line" in res.output


def test_study_format_list_and_plot_format(prices_dir: Path, goto_events: Path,
                                           tmp_path: Path) -> None:
    out = tmp_path / "goto"
    res = _study(goto_events, prices_dir, out, "--format", "xlsx,latex", "--format", "md",
                 "--format", "JSON", "--plots", "--plot-format", "pdf", "--bootstrap", "0")
    assert res.exit_code == 0, res.output
    files = json.loads((out / "manifest.json").read_text())["files"]
    assert {"tables.xlsx", "tables.tex", "tables.md", "aggregate.json", "caar.pdf",
            "car_bars.pdf"} <= set(files)
    assert not any(name.endswith(".png") for name in files)
    assert (out / "caar.pdf").read_bytes().startswith(b"%PDF")
    book = openpyxl.load_workbook(out / "tables.xlsx")
    agg = pd.read_csv(out / "aggregate.csv")
    inputs = list(book["input_files"].iter_rows(values_only=True))
    assert inputs[0][:3] == ("role", "path", "sha256")
    recorded = json.loads((out / "summary.json").read_text())["input_files"]
    assert [r[2] for r in inputs[1:]] == [r["sha256"] for r in recorded]
    rows = list(book["aggregate"].iter_rows(values_only=True))
    assert list(rows[0]) == list(agg.columns)
    assert rows[1][2] == pytest.approx(agg["caar"].iloc[0], rel=1e-9)
    tex = (out / "tables.tex").read_text()
    assert tex.count(r"\begin{table}") == tex.count(r"\end{table}") == 3
    assert str(out) in tex.splitlines()[0] and ".partial-" not in tex
    res = _study(goto_events, prices_dir, tmp_path / "x", "--format", "xlsx,docx")
    assert res.exit_code == 2
    assert "field '--format', value 'docx': unknown format" in res.output


def test_backtest_format_and_plot_format(shared_data: Path, tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text("event_id,ticker,timestamp,sentiment\n"
                      "a,AAPL,2024-03-04T10:00:00-05:00,0.5\n"
                      "b,MSFT,2024-03-05T10:00:00-05:00,-0.4\n"
                      "c,NVDA,2024-03-06T10:00:00-05:00,0.3\n")
    out = tmp_path / "bt"
    res = runner.invoke(app, ["backtest", str(events), "--prices",
                              f"csv:{shared_data / 'prices' / 'us'}", "--market", "SPY",
                              "--entry", "close", "--placebo", "0", "--out", str(out),
                              "--format", "md,parquet,json", "--plots", "--plot-format",
                              "svg", "-q"])
    assert res.exit_code in (0, 1), res.output
    assert (out / "tables.md").read_text().startswith("# Backtest results")
    # --config on backtest, and a backtest replayed
    config = tmp_path / "bt.toml"
    config.write_text("hold = 3\nhedge = \"market\"\n")
    again = tmp_path / "bt2"
    res = runner.invoke(app, ["backtest", str(events), "--prices",
                              f"csv:{shared_data / 'prices' / 'us'}", "--market", "SPY",
                              "--entry", "close", "--placebo", "20", "--out", str(again),
                              "--config", str(config), "-q"])
    assert res.exit_code in (0, 1), res.output
    settings = json.loads((again / "metrics.json").read_text())["settings"]
    assert (settings["hold"], settings["hedge"]) == (3, "market")
    res = runner.invoke(app, ["replay", str(again)])
    assert res.exit_code == 0, res.output
    assert "identical" in res.output
    assert (out / "equity.svg").is_file() and not (out / "equity.png").exists()
    trades = pd.read_csv(out / "trades.csv")
    assert len(pd.read_parquet(out / "parquet" / "trades.parquet")) == len(trades)
    assert len(json.loads((out / "trades.json").read_text())) == len(trades)
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["run"]["argv"][0] == "backtest"
    assert {Path(r["path"]).name for r in doc["input_files"]} >= {"events.csv", "AAPL.csv",
                                                                 "SPY.csv"}
