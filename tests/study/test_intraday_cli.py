"""``marketreact intraday``: a results folder from bar files; bad input is one line, exit 2.

Reference for the numbers: the study itself is checked in test_intraday_study.py; here
the command's plumbing (files written, exit codes, messages) is checked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from typer.testing import CliRunner

import marketreact.cli.intraday  # noqa: F401  (registers the command until cli/__init__ does)
from marketreact.cli.app import app

NY = "America/New_York"


def _folder(tmp_path):
    rng = np.random.default_rng(3)
    days = pd.bdate_range("2019-01-02", "2019-02-28")
    stamps = pd.DatetimeIndex([pd.Timestamp(f"{d.date()} {h:02d}:00", tz=NY)
                               for d in days for h in range(9, 16)])
    bars = tmp_path / "bars"
    bars.mkdir()
    for name in ("SPY", "BAC"):
        r = rng.normal(0, 0.002, len(stamps))
        close = 100 * np.cumprod(1 + r)
        pd.DataFrame({"timestamp": [t.isoformat() for t in stamps], "open": close / (1 + r),
                      "high": close, "low": close, "close": close, "volume": 100}).to_csv(
            bars / f"{name}.csv", index=False)
    ev = tmp_path / "events.csv"
    ev.write_text("event_id,ticker,market,timestamp\n"
                  "a,BAC,SPY,2019-02-20T14:15:00-05:00\nb,BAC,SPY,2019-02-21T08:20:00-05:00\n")
    return bars, ev


def test_intraday_command_writes_a_folder(tmp_path):
    bars, ev = _folder(tmp_path)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["intraday", str(ev), "--prices", f"csv:{bars}", "--interval",
                                   "1h", "--window", "-2:2", "--out", str(out), "--plots"])
    assert res.exit_code == 0, res.output
    for name in ("events.csv", "aar.csv", "aggregate.csv", "session.csv", "caar.png"):
        assert (out / name).is_file()
    events = pd.read_csv(out / "events.csv")
    assert events["bar0"].tolist() == ["2019-02-20T14:00:00-05:00",
                                      "2019-02-21T09:00:00-05:00"]


def test_bad_window_and_yahoo_limit_are_one_line(tmp_path):
    bars, ev = _folder(tmp_path)
    res = CliRunner().invoke(app, ["intraday", str(ev), "--prices", f"csv:{bars}",
                                   "--window", "x", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "--window" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["intraday", str(ev), "--prices", "yahoo", "--interval", "1m",
                                   "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "Yahoo keeps 1m bars for about 7 days only" in res.output
    assert len([ln for ln in res.output.splitlines() if ln.strip()]) == 1
