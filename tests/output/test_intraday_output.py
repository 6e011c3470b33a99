"""The intraday results folder: volume.csv and the time-of-day rank columns are written.

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


def _write_bars(bars: dict[str, pd.DataFrame], folder) -> None:
    folder.mkdir()
    for name, f in bars.items():
        f.rename_axis("timestamp").reset_index().assign(
            timestamp=lambda x: x["timestamp"].map(pd.Timestamp.isoformat)).to_csv(
            folder / f"{name}.csv", index=False)


def test_cli_choices_and_interval_errors(tmp_path):
    """Review of issue 14, defects 6 and 9: --volume-stat is a choice, --interval named once.

    Reference: the option names of the command line as typed (two dashes).
    """
    import re

    runner = CliRunner()
    help_text = re.sub(r"\s+", " ", runner.invoke(app, ["intraday", "--help"],
                                                  env={"COLUMNS": "200"}).output)
    assert "mean|median" in help_text
    bars = _bars()
    _write_bars(bars, tmp_path / "bars")
    ev = tmp_path / "events.csv"
    pd.DataFrame({"event_id": ["e1"], "ticker": ["STK"], "market": ["MKT"],
                  "timestamp": [bars["STK"].index[-9].isoformat()]}).to_csv(ev, index=False)
    for value in ("0m", "7q"):
        bad = runner.invoke(app, ["intraday", str(ev), "--prices", f"csv:{tmp_path / 'bars'}",
                                  "--interval", value, "--out", str(tmp_path / "o"), "-q"])
        assert bad.exit_code == 2
        assert "field '--interval'" in bad.output and "----" not in bad.output, bad.output


def test_event_figure_draws_closes_at_bar_ends(tmp_path):
    """Review of issue 14, defect 13: a bar's close sits at its end, news inside its bar.

    Reference: the synthetic hourly bars (New York time; Lean's 09:00 bar holds
    09:30-10:00). News at 14:15 lies a quarter into the 14:00-15:00 bar; the bar's
    close is plotted at the tick labelled 15:00; the first bar of a session is
    labelled by its close, 10:00, not 09:00; no axis label repeats the % of its ticks.
    """
    import matplotlib

    matplotlib.use("Agg")
    bars = _bars()
    stamps = bars["STK"].index
    at = stamps[(stamps.hour == 14)][-3]
    events = events_from_frame(pd.DataFrame({
        "event_id": ["e1"], "ticker": ["STK"], "market": ["MKT"],
        "timestamp": [(at + pd.Timedelta(minutes=15)).isoformat()]}))
    res = IntradayStudy("1h", (-1, 3), market="MKT").fit(events, bars)
    long = res.abnormal_returns
    first = long[long["rel_bar"] == 2].iloc[0]  # 14:00 + 2 bars: 09:00 of the next session
    assert first["traded_from"].strftime("%H:%M") == "09:30"
    assert first["traded_to"].strftime("%H:%M") == "10:00"
    fig = res.plot("event", "e1")
    ax = fig.axes[0]
    labels = {t.get_text(): t.get_position()[0] for t in ax.get_xticklabels()}
    day = at.strftime("%m-%d")
    x14, x15 = labels[f"{day} 14:00"], labels[f"{day} 15:00"]
    news = next(ln for ln in ax.get_lines() if ln.get_label().startswith("news"))
    assert news.get_xdata()[0] == pytest.approx(x14 + 0.25 * (x15 - x14))
    price = next(ln for ln in ax.get_lines() if ln.get_label() == "close (adjusted)")
    xs, ys = price.get_xdata(), price.get_ydata()
    bar0 = long[long["rel_bar"] == 0].iloc[0]
    assert ys[list(xs).index(x15)] == pytest.approx(bar0["price"])
    assert not any(lab.endswith("09:00") for lab in labels)
    assert any(lab.endswith("10:00") for lab in labels)
    for a in fig.axes:
        assert "%" not in a.get_ylabel()
    caar = res.plot("caar").axes[0]
    assert "%" not in caar.get_ylabel()
