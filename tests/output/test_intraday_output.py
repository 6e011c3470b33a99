"""The intraday results folder: volume.csv and the Rinaudo-Saha columns are written.

Reference: the frames of the result itself, read back with pandas (a round trip), and
the CLI option ``--volume-stat`` reaching the study (median of the same-hour log volume,
by hand with numpy).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from marketreact.cli.app import app
from marketreact.events import events_from_frame
from marketreact.output.intraday import write_intraday
from marketreact.study.intraday import IntradayStudy

NY = "America/New_York"


def _bars(n_days: int = 25, seed: int = 5) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    days = [d for d in pd.bdate_range("2019-03-04", periods=n_days)]
    stamps = pd.DatetimeIndex([pd.Timestamp(f"{d.date()} {h:02d}:00", tz=NY)
                               for d in days for h in range(9, 16)])
    out = {}
    for name in ("MKT", "STK"):
        r = rng.normal(0, 0.002, len(stamps))
        close = 50 * np.cumprod(1 + r)
        out[name] = pd.DataFrame({"open": close / (1 + r), "high": close, "low": close,
                                  "close": close,
                                  "volume": rng.integers(1, 900, len(stamps)).astype(float)},
                                 index=stamps)
    return out


def test_volume_and_rank_columns_round_trip(tmp_path):
    bars = _bars()
    t = bars["STK"].index[-9]
    events = events_from_frame(pd.DataFrame({"event_id": ["e1"], "ticker": ["STK"],
                                             "market": ["MKT"],
                                             "timestamp": [t.isoformat()]}))
    res = IntradayStudy("1h", (-1, 2), market="MKT").fit(events, bars)
    written = write_intraday(res, tmp_path / "out")
    vol = pd.read_csv(written["volume"])
    assert vol["rel_bar"].tolist() == [-1, 0, 1, 2]
    assert vol["mean"].to_numpy() == pytest.approx(res.volume["mean"].to_numpy())
    aar = pd.read_csv(written["aar"])
    assert {"rs", "rs_p"} <= set(aar.columns)
    assert aar["rs"].to_numpy() == pytest.approx(res.aar["rs"].to_numpy())
    ev = pd.read_csv(written["events"])
    assert {"rs_rank0", "rs_n0", "rs_p0", "abvol0", "volume0"} <= set(ev.columns)
    long = pd.read_csv(written["abnormal_returns"])
    assert "abnormal_volume" in long


def test_cli_volume_stat(tmp_path):
    bars = _bars()
    folder = tmp_path / "bars"
    folder.mkdir()
    for name, f in bars.items():
        f.rename_axis("timestamp").reset_index().assign(
            timestamp=lambda x: x["timestamp"].map(pd.Timestamp.isoformat)).to_csv(
            folder / f"{name}.csv", index=False)
    t = bars["STK"].index[-9]
    ev = tmp_path / "events.csv"
    pd.DataFrame({"event_id": ["e1"], "ticker": ["STK"], "market": ["MKT"],
                  "timestamp": [t.isoformat()]}).to_csv(ev, index=False)
    out = tmp_path / "res"
    r = CliRunner().invoke(app, ["intraday", str(ev), "--prices", f"csv:{folder}",
                                 "--window", "0:1", "--volume-stat", "median",
                                 "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    got = pd.read_csv(out / "events.csv")["abvol0"].iloc[0]
    v = bars["STK"]["volume"]
    days = sorted({d for d in v.index.date if d < t.date()})[-20:]  # 20 sessions before
    same = [(d in days) and h == t.hour for d, h in zip(v.index.date, v.index.hour,
                                                         strict=True)]
    assert sum(same) == 20
    assert got == pytest.approx(np.log1p(v[t]) - np.median(np.log1p(v[same])))
    bad = CliRunner().invoke(app, ["intraday", str(ev), "--prices", f"csv:{folder}",
                                   "--volume-stat", "mode", "--out", str(out), "-q"])
    assert bad.exit_code == 2
    assert "--volume-stat" in bad.output and "mode" in bad.output
