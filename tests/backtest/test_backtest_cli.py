"""``marketreact score`` and ``marketreact backtest`` from the command line (typer's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from _backtest_data import et, random_walk, xnys_labels
from marketreact.cli import app

runner = CliRunner()
DAILY = ["date", "equity", "return", "drawdown", "exposure", "n_positions"]
OUTPUTS = ("trades.csv", "daily.csv", "metrics.csv", "metrics.json", "forward.csv",
           "failures.csv", "placebo.csv")


def _price_dir(tmp_path: Path) -> Path:
    labels = xnys_labels("2023-06-01", "2024-03-28")
    folder = tmp_path / "prices"
    folder.mkdir()
    for ticker, f in random_walk(labels, ["AAA", "BBB"], seed=8).items():
        out = f.reset_index()[["date", "open", "high", "low", "close", "adj_close", "volume"]]
        out["date"] = out["date"].dt.strftime("%Y-%m-%d")
        out.to_csv(folder / f"{ticker}.csv", index=False)
    return folder


def _catalogue(tmp_path: Path) -> Path:
    labels = xnys_labels("2023-06-01", "2024-03-28")
    rng = np.random.default_rng(3)
    # distinct days: two news of one ticker on one day would be one position (duplicates)
    days = rng.choice(np.arange(80, len(labels) - 30), size=25, replace=False)
    rows = [{"event_id": f"e{i}", "ticker": ["AAA", "BBB"][i % 2],
             "timestamp": et(f"{labels[int(days[i])].date()} 10:30"),
             "sentiment": round(float(rng.normal()), 3), "score": i % 3 - 1}
            for i in range(25)]
    path = tmp_path / "events.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_backtest_writes_every_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = runner.invoke(app, ["backtest", str(_catalogue(tmp_path)), "--prices",
                              f"csv:{_price_dir(tmp_path)}", "--market", "MKT", "--entry",
                              "next-open", "--hold", "3", "--hedge", "beta", "--min-estimation",
                              "60", "--cost-bps", "5", "--placebo", "200", "--out", str(out)])
    assert res.exit_code == 0, res.output
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    daily = pd.read_csv(out / "daily.csv")
    assert list(daily.columns[:6]) == DAILY
    trades = pd.read_csv(out / "trades.csv")
    assert len(trades) == 25
    assert (pd.to_datetime(trades["entry_time"]) > pd.to_datetime(trades["public_time"])).all()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["entry"] == "next-open"
    assert metrics["metrics"]["trades"] == 25
    assert metrics["placebo"]["draws"] == 200
    table = pd.read_csv(out / "metrics.csv").set_index("metric")["value"]
    assert float(table["total_return"]) == pytest.approx(daily["equity"].iloc[-1] - 1)
    assert "Backtest" in res.output


def test_entry_is_required_and_bad_options_exit_2(tmp_path: Path) -> None:
    cat = _catalogue(tmp_path)
    prices = f"csv:{_price_dir(tmp_path)}"
    res = runner.invoke(app, ["backtest", str(cat), "--prices", prices, "--out",
                              str(tmp_path / "o")])
    assert res.exit_code == 2 and "--entry" in res.output
    res = runner.invoke(app, ["backtest", str(cat), "--prices", prices, "--entry", "close",
                              "--signal", "column:nope", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "signal column 'nope'" in res.output
    res = runner.invoke(app, ["backtest", str(cat), "--prices", prices, "--entry", "close",
                              "--latency", "soon", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "--latency" in res.output
    assert "Traceback" not in res.output


def test_column_signal_and_partial_exit(tmp_path: Path) -> None:
    cat = _catalogue(tmp_path)
    frame = pd.read_csv(cat)
    frame.loc[len(frame)] = {"event_id": "ghost", "ticker": "ZZZ",
                             "timestamp": et("2024-01-05 10:00"), "sentiment": 1, "score": 1}
    frame.to_csv(cat, index=False)
    out = tmp_path / "o"
    res = runner.invoke(app, ["backtest", str(cat), "--prices", f"csv:{_price_dir(tmp_path)}",
                              "--entry", "close", "--signal", "column:score", "--placebo", "0",
                              "--out", str(out)])
    assert res.exit_code == 1
    assert "could not be traded" in res.output
    failures = pd.read_csv(out / "failures.csv")
    assert list(failures["event_id"]) == ["ghost"]
    metrics = pd.read_csv(out / "metrics.csv").set_index("metric")["value"]
    # score is -1/0/1 by event number: 8 of the 25 are 0 and not traded
    assert int(metrics["events_not_traded"]) == 8
    assert not (out / "placebo.csv").exists()


def test_score_command(tmp_path: Path) -> None:
    src = tmp_path / "h.csv"
    src.write_text("datetime,ticker,headline\n2024-03-01 16:05:00,AAPL,Apple posts great results\n"
                   "2024-03-01 09:00:00,MSFT,Microsoft faces an awful lawsuit\n",
                   encoding="utf-8")
    out = tmp_path / "scored.csv"
    res = runner.invoke(app, ["score", str(src), "--out", str(out)])
    assert res.exit_code == 2 and "--timezone" in res.output
    res = runner.invoke(app, ["score", str(src), "--timezone", "America/New_York",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    scored = pd.read_csv(out)
    assert list(scored.columns[:4]) == ["event_id", "ticker", "timestamp", "headline"]
    assert scored.loc[0, "sentiment"] > 0 > scored.loc[1, "sentiment"]
    assert scored.loc[0, "timestamp"] == "2024-03-01T16:05:00-05:00"


def test_mag7_headlines_end_to_end(shared_data: Path, tmp_path: Path) -> None:
    """The 4,440 mag-7 headlines: scored with VADER, then backtested with hold 1 and 5."""
    scored = tmp_path / "mag7_scored.csv"
    res = runner.invoke(app, ["score", str(shared_data / "news" / "mag7_news.csv"),
                              "--timezone", "America/New_York", "--out", str(scored), "-q"])
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(scored)) == 4440
    prices = [f"csv:{shared_data / 'news' / 'mag7_price.csv'}",
              f"csv:{shared_data / 'prices' / 'us'}"]
    for hold in (1, 5):
        out = tmp_path / f"h{hold}"
        res = runner.invoke(app, ["backtest", str(scored), "--prices", prices[0], "--prices",
                                  prices[1], "--market", "SPY", "--entry", "next-open",
                                  "--hold", str(hold), "--hedge", "market", "--threshold",
                                  "0.05", "--placebo", "1000", "--out", str(out), "-q"])
        # exit 1: the last headlines come after the last price (2024-10-28)
        assert res.exit_code == 1, res.output
        for name in OUTPUTS:
            assert (out / name).is_file()
        failures = pd.read_csv(out / "failures.csv")
        assert failures["reason"].str.contains("prices end").all()
        m = json.loads((out / "metrics.json").read_text())["metrics"]
        # 4,440 headlines hold far fewer distinct (ticker, entry session) pairs: duplicates
        # of one story become one position (issue 13), never two
        assert m["trades"] > 900 and m["placebo_draws"] == 1000
        trades = pd.read_csv(out / "trades.csv")
        assert not trades.duplicated(["ticker", "entry_date"]).any()
        entry = pd.to_datetime(trades["entry_time"])
        assert (entry > pd.to_datetime(trades["public_time"])).all()
        assert (trades["entry_kind"] == "open").all()
        # SPY is close-only: every hedge goes on at a close
        assert (trades["market_entry_kind"] == "close").all()


def test_goto_catalogue_end_to_end(prices_dir: Path, goto_events: Path, tmp_path: Path) -> None:
    """The GoTo catalogue has no sentiment: trade the sign of the day-0 abnormal return."""
    out = tmp_path / "goto"
    res = runner.invoke(app, ["backtest", str(goto_events), "--prices", f"csv:{prices_dir}",
                              "--entry", "close", "--signal", "rule:day0-ar", "--hold", "5",
                              "--hedge", "beta", "--cost-bps", "10", "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    trades = pd.read_csv(out / "trades.csv")
    assert len(trades) == 16
    # the signal is known at the day-0 close, so every entry is a later session's close
    assert (pd.to_datetime(trades["entry_date"]) > pd.to_datetime(trades["day0"])).all()
    goto = trades.set_index("event_id").loc["deal-GOTO"]
    # GOTO fell 20.4% on 2023-12-11 (day 0): short from the 12-12 close of 94
    assert goto["direction"] == -1
    assert (goto["entry_date"], goto["entry_price"]) == ("2023-12-12", 94)
    assert list(pd.read_csv(out / "daily.csv").columns[:6]) == DAILY
