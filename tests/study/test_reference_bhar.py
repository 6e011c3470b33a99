"""Long-horizon BHAR in a daily study: the 12-month BHAR after the first news of each
mag-7 stock (../shared/data/news), against the market and against a reference series
named per event, with the conventional, skewness-adjusted and bootstrapped t.

References: the buy-and-hold returns computed by hand with pandas from the price files
(sessions = the dates of SPY.csv), the t tests from scipy on those numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from marketreact.cli import app
from marketreact.errors import InputError
from marketreact.events.catalogue import read_events
from marketreact.prices import load_prices, source_from_spec
from marketreact.study.fit import EventStudy
from marketreact.study.reference import reference_tickers, with_reference_bhar

MAG7 = ("AAPL", "AMZN", "GOOGL", "META", "MSFT", "NVDA", "TSLA")
#: Reference series per event: any price series works; two, to check the mapping.
REFERENCE = {"AAPL": "XOM", "AMZN": "SPY", "GOOGL": "XOM", "META": "SPY", "MSFT": "XOM",
             "NVDA": "SPY", "TSLA": "XOM"}
WINDOWS = ((0, 0), (0, 20), (0, 251))


def _catalogue(shared_data: Path, root: Path) -> Path:
    news = pd.read_csv(shared_data / "news" / "mag7_news.csv", parse_dates=["datetime"])
    first = news.sort_values("datetime").groupby("ticker").head(1).sort_values("ticker")
    cat = pd.DataFrame({
        "event_id": first["ticker"] + "-first", "ticker": first["ticker"], "market": "SPY",
        "timestamp": first["datetime"].dt.tz_localize("America/New_York").map(
            lambda t: t.isoformat()),
        "reference": first["ticker"].map(REFERENCE)})
    path = root / "mag7_first.csv"
    cat.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def mag7(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("mag7")
    path = _catalogue(shared_data, root)
    events = read_events(path)
    spec = f"csv:{shared_data / 'prices' / 'us'}"
    prices = load_prices(source_from_spec(spec), events, before=-250, after=251)
    result = EventStudy(model="market-adjusted", window=(-10, 251), car_windows=WINDOWS,
                        n_boot=199).fit(events, prices)
    refs = events.frame.assign(ticker=events.frame["reference"])
    ref_prices = load_prices(source_from_spec(spec), refs, before=-250, after=251)
    return path, with_reference_bhar(result, events, ref_prices)


def _closes(shared_data: Path, ticker: str) -> pd.Series:
    frame = pd.read_csv(shared_data / "prices" / "us" / f"{ticker}.csv", parse_dates=["Date"])
    return frame.set_index("Date")["Close"]


def test_bhar_by_hand_from_the_price_files(shared_data: Path, mag7: tuple) -> None:
    _, result = mag7
    sessions = _closes(shared_data, "SPY").index
    car = result.car.set_index(["event_id", "window"])
    for row in result.events.itertuples(index=False):
        stock = _closes(shared_data, row.ticker)
        spy = _closes(shared_data, "SPY")
        ref = _closes(shared_data, REFERENCE[row.ticker])
        k = sessions.get_loc(pd.Timestamp(row.day0))
        for a, b in WINDOWS:
            before, end = sessions[k + a - 1], sessions[k + b]
            bh = stock[end] / stock[before] - 1
            label = f"[{a},+{b}]" if b else "[0,0]"
            got = car.loc[(row.event_id, label)]
            # market-adjusted BHAR: the stock held against SPY held over the same sessions
            assert got["bhar"] == pytest.approx(bh - (spy[end] / spy[before] - 1), rel=1e-9,
                                                abs=1e-12)
            assert got["bhar_ref"] == pytest.approx(bh - (ref[end] / ref[before] - 1),
                                                    rel=1e-9, abs=1e-12)
            assert got["reference"] == REFERENCE[row.ticker]


def test_aggregate_tests_of_the_reference_bhar(mag7: tuple) -> None:
    _, result = mag7
    agg = result.aggregate.set_index("window")
    for label in ("[0,0]", "[0,+20]", "[0,+251]"):
        x = result.car.loc[result.car["window"] == label, "bhar_ref"].to_numpy()
        ref = stats.ttest_1samp(x, 0.0)
        assert agg.loc[label, "mean_bhar_ref"] == pytest.approx(x.mean(), rel=1e-12)
        assert agg.loc[label, "n_ref"] == 7
        assert agg.loc[label, "bhar_ref_t"] == pytest.approx(ref.statistic, rel=1e-10)
        assert agg.loc[label, "bhar_ref_t_p"] == pytest.approx(ref.pvalue, rel=1e-8)
        n, s, g = 7, x.mean() / x.std(ddof=1), stats.skew(x)
        assert agg.loc[label, "bhar_ref_tsa"] == pytest.approx(
            np.sqrt(n) * (s + g * s**2 / 3 + g / (6 * n)), rel=1e-10)
        # 7 events: resamples of n/4 = 1 BHAR cannot have a skewness, no bootstrap
        assert np.isnan(agg.loc[label, "bhar_ref_tsa_boot_p"])
        assert np.isnan(agg.loc[label, "bhar_tsa_boot_p"])


def test_missing_reference_column_and_series(mag7: tuple, shared_data: Path) -> None:
    path, result = mag7
    events = read_events(path)
    with pytest.raises(InputError, match="no 'benchmark' column"):
        reference_tickers(events, "benchmark")
    frame = events.frame.assign(reference=["NOPE"] + [""] * 6)
    out = with_reference_bhar(result, frame, {})
    assert out.car["bhar_ref"].isna().all()
    assert any("reference series NOPE could not be had" in n for n in out.diagnostics)
    assert any("6 event(s) name no reference series" in n for n in out.diagnostics)


def test_cli_reference_column(shared_data: Path, tmp_path: Path) -> None:
    path = _catalogue(shared_data, tmp_path)
    out = tmp_path / "res"
    runner = CliRunner()
    res = runner.invoke(app, ["study", str(path), "--prices",
                              f"csv:{shared_data / 'prices' / 'us'}", "--out", str(out),
                              "--model", "market-adjusted", "--window", "-10:251", "--car",
                              "0:251", "--reference", "reference", "--bootstrap", "99"])
    assert res.exit_code == 0, res.output
    assert "Mean BHAR against the reference series" in res.output
    agg = pd.read_csv(out / "aggregate.csv")
    assert {"bhar_tsa_boot", "bhar_ref_t", "bhar_ref_tsa", "bhar_ref_tsa_boot_p"} <= set(agg)
    files = {Path(r["path"]).name
             for r in json.loads((out / "summary.json").read_text())["input_files"]}
    assert {"XOM.csv", "SPY.csv", "AAPL.csv"} <= files  # the reference files are recorded
    res = runner.invoke(app, ["study", str(path), "--prices",
                              f"csv:{shared_data / 'prices' / 'us'}", "--out",
                              str(tmp_path / "x"), "--reference", "benchmark"])
    assert res.exit_code == 2
    assert res.output.count("\n") == 1 and "field 'benchmark'" in res.output


def test_monthly_study_bhar_by_hand(shared_data: Path, tmp_path: Path) -> None:
    """--frequency monthly: month 0 is the news month; the 12-month BHAR [0,+11] is the
    stock held from the end of the month before the news to the end of month 11, less
    the reference (and SPY) held over the same months (month ends from the price files)."""
    path = _catalogue(shared_data, tmp_path)
    out = tmp_path / "monthly"
    res = CliRunner().invoke(app, ["study", str(path), "--prices",
                                   f"csv:{shared_data / 'prices' / 'us'}", "--out", str(out),
                                   "--frequency", "monthly", "--model", "market-adjusted",
                                   "--reference", "reference", "-q"])
    assert res.exit_code == 0, res.output
    settings = json.loads((out / "summary.json").read_text())["settings"]
    assert (settings["estimation"], settings["window"], settings["car_windows"],
            settings["sessions"]) == ([-60, -2], [-1, 12], [[0, 0], [0, 5], [0, 11]], "market")
    car = pd.read_csv(out / "car.csv").set_index(["event_id", "window"])
    events = pd.read_csv(path)
    for row in events.itertuples(index=False):
        month = pd.Timestamp(row.timestamp[:10]).to_period("M")

        def held(ticker: str, months: int, month: pd.Period = month) -> float:
            close = _closes(shared_data, ticker)
            last = close.groupby(close.index.to_period("M")).last()
            return last[month + months] / last[month - 1] - 1

        got = car.loc[(row.event_id, "[0,+11]")]
        assert got["bhar"] == pytest.approx(held(row.ticker, 11) - held("SPY", 11), rel=1e-9)
        assert got["bhar_ref"] == pytest.approx(held(row.ticker, 11) - held(row.reference, 11),
                                                rel=1e-9)
        assert car.loc[(row.event_id, "[0,0]"), "car"] == pytest.approx(
            held(row.ticker, 0) - held("SPY", 0), rel=1e-9)
    res = CliRunner().invoke(app, ["study", str(path), "--prices",
                                   f"csv:{shared_data / 'prices' / 'us'}", "--out",
                                   str(tmp_path / "x"), "--frequency", "weekly"])
    assert res.exit_code == 2 and "choose daily or monthly" in res.output


def test_to_frame_keeps_the_windows_in_their_order(mag7: tuple) -> None:
    _, result = mag7
    wide = result.to_frame()
    assert list(wide.columns) == ["[0,0]", "[0,+20]", "[0,+251]"]  # not text order
    car = result.car.set_index(["event_id", "window"])["car"]
    assert wide.loc["AAPL-first", "[0,+251]"] == car[("AAPL-first", "[0,+251]")]
