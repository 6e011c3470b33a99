"""``verify`` on intraday bars: the order of the low and the high, measured on bars built here.

Reference: hand computations on the hourly bars below (New York time, bar starts; the
regular session is 09:30-16:00, so the 09:00 bar holds 09:30-10:00). The previous
close on bars is the last regular bar's close of 2024-03-04 (100).

* UPD (a morning decline erased): low 96 in the 10:00 bar, high 105 in the 14:00 bar,
  close 104: high +5%, low -4%, close +4%; a high above 100 after a low below it.
* DNU (the other order): high 103 in the 10:00 bar, low 97 in the 15:00 bar, close 98,
  and no bar after the low back above 100: the daily condition (low < prev < high)
  holds, the order does not: "erased declines" is contradicted on bars.
"""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from marketreact.articles.verify import validate_claims, verify_claims
from marketreact.cli import app
from marketreact.prices import CsvSource

NY = "America/New_York"
HOURS = [9, 10, 11, 12, 13, 14, 15]
# (open, high, low, close) per hour on 2024-03-05; 2024-03-04 is flat and closes at 100
UPD = [(100, 100, 98, 98), (98, 98, 96, 97), (97, 100, 97, 100), (100, 101, 99, 101),
       (101, 103, 101, 103), (103, 105, 103, 104), (104, 104.5, 103.5, 104)]
DNU = [(100, 101, 100, 101), (101, 103, 101, 102), (102, 102, 100.5, 101),
       (101, 101, 100.2, 100.5), (100.5, 100.5, 99, 99), (99, 99.5, 98, 98.5),
       (98.5, 99, 97, 98)]
# daily files with a previous close of 101 (another basis than the bars' 100)
DAILY = {"UPD": "date,open,high,low,close,adj_close,volume\n"
                "2024-03-04,100,100,100,101,101,1000\n2024-03-05,100,105,96,104,104,1000\n",
         "DNU": "date,open,high,low,close,adj_close,volume\n"
                "2024-03-04,100,100,100,100,100,1000\n2024-03-05,100,103,97,98,98,1000\n",
         "NOB": "date,open,high,low,close,adj_close,volume\n"
                "2024-03-04,50,50,50,50,50,1000\n2024-03-05,50,52,49,51,51,1000\n"}


def _bar_frame(day5: list[tuple[float, ...]]) -> pd.DataFrame:
    rows = [(pd.Timestamp(f"2024-03-04 {h:02d}:00", tz=NY), 100, 100, 100, 100) for h in HOURS]
    rows += [(pd.Timestamp(f"2024-03-05 {h:02d}:00", tz=NY), *ohlc)
             for h, ohlc in zip(HOURS, day5, strict=True)]
    f = pd.DataFrame(rows, columns=["timestamp", "open", "high", "low", "close"])
    f["volume"] = 10.0
    return f


def _frames() -> dict[str, pd.DataFrame]:
    return {t: _bar_frame(d).set_index("timestamp").tz_convert("UTC")
            for t, d in (("UPD", UPD), ("DNU", DNU))}


CLAIMS = pd.DataFrame([
    ("r1", "UPD", "2024-03-05", "", "intraday_reversal", "up", "", "", "full", "no", "listed"),
    ("r2", "DNU", "2024-03-05", "", "intraday_reversal", "up", "", "", "full", "no", "listed"),
    ("e1", "UPD", "2024-03-05", "", "intraday_extreme", "up", "5", "extreme", "", "no",
     "listed"),
    ("c1", "UPD", "2024-03-05", "", "close_to_close", "up", "4", "", "", "no", "listed"),
    ("p1", "DNU", "2024-03-05", "", "intraday_reversal", "down", "", "", "partial", "no",
     "listed"),
    ("n1", "NOB", "2024-03-05", "", "intraday_extreme", "up", "4", "extreme", "", "no",
     "listed"),
], columns=["claim_id", "ticker", "date_start", "date_end", "kind", "direction",
            "magnitude_pct", "bound", "reversal", "in_progress", "status"])


@pytest.fixture
def daily_dir(tmp_path):
    folder = tmp_path / "daily"
    folder.mkdir()
    for t, text in DAILY.items():
        (folder / f"{t}.csv").write_text(text)
    return folder


def test_bars_decide_the_order(daily_dir):
    claims = validate_claims(CLAIMS)
    daily = verify_claims(claims, CsvSource(daily_dir)).verdicts.set_index("claim_id")
    # daily prices alone: both reversals pass the necessary condition
    assert daily.loc["r1", "verdict"] == daily.loc["r2", "verdict"] == "supported"
    assert daily.loc["r1", "basis"] == "daily"
    v = verify_claims(claims, CsvSource(daily_dir), bars=_frames()).verdicts.set_index(
        "claim_id")
    assert v.loc["r1", "verdict"] == "supported"
    assert v.loc["r1", "low_time"] == "2024-03-05 10:00"
    assert v.loc["r1", "high_time"] == "2024-03-05 14:00"
    assert v.loc["r2", "verdict"] == "contradicted", v.loc["r2", "reason"]
    assert v.loc["r2", "high_time"] == "2024-03-05 10:00"
    assert v.loc["r2", "low_time"] == "2024-03-05 15:00"
    assert "not found" in v.loc["r2", "reason"]
    # the extreme on bars: prev close 100 (bars), high 105: +5%, not 105/101 - 1 from daily
    assert v.loc["e1", "basis"] == "bars 1h"
    assert v.loc["e1", "bar_prev_close"] == 100
    assert v.loc["e1", "measured_pct"] == pytest.approx(5.0)
    assert v.loc["e1", "verdict"] == "supported"
    assert daily.loc["e1", "measured_pct"] == pytest.approx(100 * (105 / 101 - 1))
    assert v.loc["c1", "bar_close_vs_prev_pct"] == pytest.approx(4.0)
    assert v.loc["c1", "verdict"] == "supported"
    # partial reversal of a fall: high 103 above 100, close 98 below the high
    assert v.loc["p1", "verdict"] == "supported"
    # no bars for NOB: daily prices decide (52 / 50 - 1 = +4%)
    assert v.loc["n1", "basis"] == "daily"
    assert v.loc["n1", "measured_pct"] == pytest.approx(4.0)


def test_verify_cli_reads_bars(tmp_path, daily_dir):
    bars = tmp_path / "bars"
    bars.mkdir()
    for t, d in (("UPD", UPD), ("DNU", DNU)):
        f = _bar_frame(d)
        f["timestamp"] = f["timestamp"].map(pd.Timestamp.isoformat)
        f.to_csv(bars / f"{t}.csv", index=False)
    claims = tmp_path / "claims.csv"
    CLAIMS.to_csv(claims, index=False)
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["verify", str(claims), "--prices", f"csv:{daily_dir}",
                                 "--bars", str(bars), "--bar-interval", "1h", "--out",
                                 str(out), "-q"])
    assert r.exit_code == 0, r.output
    v = pd.read_csv(out / "verdicts.csv").set_index("claim_id")
    assert v.loc["r2", "verdict"] == "contradicted"
    assert v.loc["r1", "basis"] == "bars 1h"
    assert v.loc["n1", "basis"] == "daily"
    bad = CliRunner().invoke(app, ["verify", str(claims), "--prices", f"csv:{daily_dir}",
                                   "--bars", str(tmp_path / "nope"), "--out", str(out)])
    assert bad.exit_code == 2 and "--bars" in bad.output


def _bar_dir(tmp_path, naive: bool = False):
    bars = tmp_path / "bars"
    bars.mkdir()
    for t, d in (("UPD", UPD), ("DNU", DNU)):
        f = _bar_frame(d)
        fmt = ((lambda x: x.strftime("%Y-%m-%d %H:%M:%S")) if naive
               else pd.Timestamp.isoformat)
        f["timestamp"] = f["timestamp"].map(fmt)
        f.to_csv(bars / f"{t}.csv", index=False)
    return bars


def test_verify_bars_without_offsets_and_missing_files(tmp_path, daily_dir):
    """Review of issue 14, defects 5, 6 and 10.

    Reference: the hand-built bars above written without UTC offsets (New York wall
    time), which ``--bar-tz America/New_York`` reads to the same verdicts as the
    offset files; a claimed ticker without a bar file (NOB) gets one note; a bad
    interval names the option once; an unparseable stamp is reported as such.
    """
    bars = _bar_dir(tmp_path, naive=True)
    claims = tmp_path / "claims.csv"
    CLAIMS.to_csv(claims, index=False)
    runner = CliRunner()
    base = ["verify", str(claims), "--prices", f"csv:{daily_dir}", "--bars", str(bars),
            "--bar-interval", "1h"]
    refused = runner.invoke(app, [*base, "--out", str(tmp_path / "o1")])
    assert refused.exit_code == 2 and "--bar-tz" in refused.output
    r = runner.invoke(app, [*base, "--bar-tz", NY, "--out", str(tmp_path / "o2")])
    assert r.exit_code == 0, r.output
    v = pd.read_csv(tmp_path / "o2" / "verdicts.csv").set_index("claim_id")
    assert v.loc["r1", "verdict"] == "supported" and v.loc["r2", "verdict"] == "contradicted"
    assert v.loc["r1", "basis"] == "bars 1h"
    notes = [ln for ln in r.output.splitlines() if ln.startswith("note:")]
    assert len(notes) == 1 and "NOB" in notes[0] and "daily prices" in notes[0]
    # bar-end stamps: the same files read as bar ends are one hour earlier
    end = runner.invoke(app, [*base, "--bar-tz", NY, "--bar-stamp", "end", "--out",
                              str(tmp_path / "o3"), "-q"])
    assert end.exit_code == 0, end.output
    e = pd.read_csv(tmp_path / "o3" / "verdicts.csv").set_index("claim_id")
    assert e.loc["r1", "low_time"] == "2024-03-05 09:00"
    for value in ("7q", "0m"):
        bad = runner.invoke(app, ["verify", str(claims), "--prices", f"csv:{daily_dir}",
                                  "--bars", str(bars), "--bar-interval", value, "--out",
                                  str(tmp_path / "o4")])
        assert bad.exit_code == 2
        assert "field '--bar-interval'" in bad.output and "----" not in bad.output
    f = pd.read_csv(bars / "UPD.csv", dtype=str)
    f.loc[3, "timestamp"] = "not-a-time"
    f.to_csv(bars / "UPD.csv", index=False)
    bad = runner.invoke(app, [*base, "--out", str(tmp_path / "o5")])
    assert bad.exit_code == 2
    lines = [ln for ln in bad.output.splitlines() if ln.strip()]
    assert len(lines) == 1, bad.output
    assert "UPD.csv:5" in lines[0] and "'timestamp'" in lines[0] and "not-a-time" in lines[0]
    assert "is not an ISO 8601 time" in lines[0] and "--bar-tz" not in lines[0]
