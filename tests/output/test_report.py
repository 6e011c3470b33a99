"""The HTML report: self-contained, complete, and faithful to the files it summarises."""

from __future__ import annotations

import base64
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from marketreact.cli import app
from marketreact.errors import InputError
from marketreact.events.catalogue import read_events
from marketreact.output.report import build_report, write_report
from marketreact.output.study import write_study, write_study_plots
from marketreact.prices import CsvSource, PriceFetch, load_prices
from marketreact.render.html import frame_html, result_html
from marketreact.study.fit import EventStudy
from marketreact.study.results import StudyResult


class _Page(HTMLParser):
    """Collects what a browser would fetch and the text of every table cell."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.refs: list[str] = []
        self.tags: list[str] = []
        self.cells: list[str] = []
        self._cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if tag == "img":
            self.images.append(values.get("src") or "")
        for key in ("src", "href", "action", "poster", "data"):
            if values.get(key):
                self.refs.append(values[key] or "")
        self._cell = tag in ("td", "th")
        if self._cell:
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._cell = False

    def handle_data(self, data: str) -> None:
        if self._cell:
            self.cells[-1] += data


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def _goto_prices(prices_dir: Path, goto_events: Path) -> PriceFetch:
    """The GoTo catalogue's prices, loaded for the default windows ([-250, -11], [-10, 10])."""
    return load_prices(CsvSource(prices_dir), read_events(goto_events), before=250, after=10)


@pytest.fixture(scope="module")
def goto_result(goto_events: Path, prices_dir: Path) -> StudyResult:
    return EventStudy().fit(read_events(goto_events), _goto_prices(prices_dir, goto_events))


@pytest.fixture(scope="module")
def goto_drawn(goto_result: StudyResult, goto_events: Path,
               tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("goto_drawn")
    write_study(goto_result, out, inputs={"events": str(goto_events)})
    write_study_plots(goto_result.abnormal_returns, goto_result.car, goto_result.events, out)
    return out


@pytest.fixture()
def goto_dir(goto_drawn: Path, tmp_path: Path) -> Path:
    """A fresh copy of the GoTo results without plots."""
    out = tmp_path / "goto"
    shutil.copytree(goto_drawn, out, ignore=shutil.ignore_patterns("*.png"))
    return out


@pytest.fixture()
def goto_with_plots(goto_drawn: Path, tmp_path: Path) -> Path:
    out = tmp_path / "goto_plots"
    shutil.copytree(goto_drawn, out)
    return out


def test_report_is_self_contained_and_embeds_every_plot(goto_with_plots: Path) -> None:
    goto_dir = goto_with_plots
    (goto_dir / "caar.png").unlink()
    (goto_dir / "price_deal-GOTO.png").unlink()
    path = write_report(goto_dir)
    assert path == goto_dir / "report.html"
    text = path.read_text(encoding="utf-8")
    page = _parse(text)
    pngs = sorted(goto_dir.glob("*.png"))
    assert len(pngs) == 2 + 16  # the two missing plots were drawn again by the report
    assert len(page.images) == len(pngs)
    embedded = {base64.b64decode(src.split(",", 1)[1]) for src in page.images}
    assert embedded == {p.read_bytes() for p in pngs}
    # Nothing to fetch: only data URIs and in-page anchors; no script, stylesheet link or font.
    assert all(r.startswith(("data:image/png;base64,", "#")) for r in page.refs)
    assert not {"script", "link", "iframe", "object", "embed"} & set(page.tags)
    assert not re.search(r"url\(|@import|https?://", text.split("<body>")[0])
    # Every in-page link lands on a section.
    anchors = [r[1:] for r in page.refs if r.startswith("#")]
    assert anchors and all(f'id="{a}"' in text for a in anchors)


def test_report_numbers_are_those_of_the_csv_files(goto_dir: Path) -> None:
    text = build_report(goto_dir)
    cells = _parse(text).cells
    agg = pd.read_csv(goto_dir / "aggregate.csv")
    for value in agg["caar"]:
        assert f"{value:.4g}" in cells
    car = pd.read_csv(goto_dir / "car.csv")
    deal = car.query("event_id == 'deal-GOTO' and window == '[0,0]'").iloc[0]
    assert f"{deal['car']:.4g}" in cells and f"{deal['car_t']:.4g}" in cells
    events = pd.read_csv(goto_dir / "events.csv")
    assert set(events["event_id"]) <= set(cells)
    summary = json.loads((goto_dir / "summary.json").read_text())
    assert summary["settings"]["model"] in cells
    assert "None: every event in the catalogue was studied." in text
    assert "goto_tiktok.csv" in text


def test_report_keeps_up_with_new_columns_and_files(goto_dir: Path) -> None:
    car = pd.read_csv(goto_dir / "car.csv")
    car["bmp_z"] = np.arange(len(car)) / 7  # a column another part of marketreact might add
    car.to_csv(goto_dir / "car.csv", index=False)
    pd.DataFrame({"event_id": ["x1"], "ticker": ["XXX"], "reason": ["prices: none"]}).to_csv(
        goto_dir / "failures.csv", index=False)
    text = write_report(goto_dir, plots=False).read_text()
    cells = _parse(text).cells
    assert "bmp_z" in cells and f"{3 / 7:.4g}" in cells
    assert "prices: none" in cells and "Events that could not be studied (1)" in text
    assert not list(goto_dir.glob("*.png"))  # plots=False draws nothing


def test_report_escapes_text_from_the_catalogue(goto_dir: Path) -> None:
    events = pd.read_csv(goto_dir / "events.csv")
    events.loc[0, "headline"] = "<script>alert(1)</script> & more"
    events.to_csv(goto_dir / "events.csv", index=False)
    text = build_report(goto_dir)
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in text


def test_report_of_a_backtest_folder(tmp_path: Path) -> None:
    dates = pd.bdate_range("2024-01-01", periods=30)
    equity = np.cumprod(1 + np.r_[0, np.tile([0.01, -0.005], 14), 0.002])
    pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "equity": equity, "return": 0.0,
                  "drawdown": equity / np.maximum.accumulate(equity) - 1, "exposure": 1.0,
                  "n_positions": 1}).to_csv(tmp_path / "daily.csv", index=False)
    pd.DataFrame({"event_id": ["a", "b"], "entry": ["2024-01-02", "2024-01-09"],
                  "ret": [0.012, -0.004]}).to_csv(tmp_path / "trades.csv", index=False)
    (tmp_path / "metrics.json").write_text(json.dumps(
        {"trades": 2, "sharpe": 1.2345678, "max_drawdown": {"depth": -0.005, "days": 1}}))
    text = write_report(tmp_path).read_text()
    assert (tmp_path / "equity.png").is_file()
    cells = _parse(text).cells
    assert {"sharpe", "1.235", "max_drawdown.depth", "-0.005", "a", "0.012"} <= set(cells)
    assert "Trades (2)" in text
    assert len(_parse(text).images) == 1
    assert "Backtest" in text and "CAAR" not in text


def test_report_of_a_validation_table(tmp_path: Path) -> None:
    rows = [{"panel": "US", "design": "random", "test": t, "abnormal": a,
             "alternative": "two-sided", "rejection_rate": 0.05 + 30 * a, "n_samples": 1000,
             "band_lo": 0.037 + 30 * a, "band_hi": 0.064 + 30 * a}
            for t in ("t", "bmp") for a in (0.0, 0.01)]
    pd.DataFrame(rows).to_csv(tmp_path / "rejection_rates.csv", index=False)
    text = write_report(tmp_path).read_text()
    assert (tmp_path / "rejection_rates.png").is_file()
    assert "Validation: rejection_rates" in text
    assert len(_parse(text).images) == 1


def test_long_tables_are_cut_with_a_note() -> None:
    frame = pd.DataFrame({"x": np.arange(12)})
    text = frame_html(frame, max_rows=5, source="x.csv")
    assert text.count("<tr>") == 1 + 5
    assert "Showing the first 5 of 12 rows; the full table is in x.csv." in text


def test_report_refuses_folders_without_results(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such results folder"):
        write_report(tmp_path / "missing")
    with pytest.raises(InputError, match="no results found"):
        write_report(tmp_path)
    (tmp_path / "car.csv").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(InputError, match=r"car\.csv"):
        build_report(tmp_path)


def test_notebook_html(goto_result: StudyResult) -> None:
    text = goto_result._repr_html_()
    r = goto_result
    assert text == result_html(r.events, r.car, r.aggregate, r.settings.to_dict(),
                               failures=r.failures, abnormal_returns=r.abnormal_returns)
    cells = _parse(text).cells
    assert "deal-GOTO" in cells and "CAR[-1,+1]" in cells
    assert f"{goto_result.aggregate['caar'].iloc[0]:.4g}" in cells
    assert "16 events studied" in text


# --------------------------------------------------------------------------- command line


def test_cli_study_plots_then_report(goto_events: Path, prices_dir: Path,
                                     tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "goto"
    deals = tmp_path / "deals.csv"
    catalogue = pd.read_csv(goto_events)
    catalogue.loc[catalogue["news"] == "formal_deal"].to_csv(deals, index=False)
    res = runner.invoke(app, ["study", str(deals), "--prices", f"csv:{prices_dir}",
                              "--out", str(out), "--plots"])
    assert res.exit_code == 0, res.output
    assert (out / "caar.png").is_file() and (out / "car_bars.png").is_file()
    assert sorted(p.name for p in out.glob("price_*.png")) == [
        "price_deal-BELI.png", "price_deal-BUKA.png", "price_deal-GOTO.png", "price_deal-SE.png"]
    assert "with 6 plots" in res.output
    assert "Studying events" not in res.output  # no progress bar when not on a terminal
    res = runner.invoke(app, ["report", str(out), "--output", str(tmp_path / "r.html"),
                              "--title", "GoTo and TikTok"])
    assert res.exit_code == 0, res.output
    assert "report written to" in res.output
    assert "<title>GoTo and TikTok</title>" in (tmp_path / "r.html").read_text()


def test_cli_report_errors_are_one_line(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["report", str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert "no such results folder" in res.output
    assert "Traceback" not in res.output


def test_cli_backtest_plots_then_report(goto_events: Path, prices_dir: Path,
                                       tmp_path: Path) -> None:
    out = tmp_path / "bt"
    res = CliRunner().invoke(app, ["backtest", str(goto_events), "--prices", f"csv:{prices_dir}",
                                   "--entry", "close", "--signal", "rule:day0-ar", "--hold", "5",
                                   "--placebo", "0", "--out", str(out), "--plots"])
    assert res.exit_code == 0, res.output
    assert (out / "equity.png").is_file()
    daily = pd.read_csv(out / "daily.csv")
    text = write_report(out).read_text()
    page = _parse(text)
    assert len(page.images) == 1
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    cells = page.cells
    assert "sharpe" in cells and f"{metrics['sharpe']:.4g}" in cells
    assert f"{metrics['total_return']:+.2%}" in text  # the header card
    assert "Events that could not be traded" in text and "Forward returns" in text
    assert f"Trades ({metrics['trades']})" in text
    assert daily["date"].iloc[-1] in cells or daily["date"].iloc[-1] in text  # metrics.end


def test_unclaimed_tables_are_shown_in_folds(tmp_path: Path) -> None:
    pd.DataFrame({"draw": range(300), "mean_net_return": 0.001}).to_csv(
        tmp_path / "placebo.csv", index=False)
    (tmp_path / "metrics.json").write_text(json.dumps(
        {"metrics": {"trades": 3, "sharpe": 0.5, "total_return": 0.012},
         "placebo": {"draws": 300, "p_two_sided": 0.42}, "settings": {"hold": 5}}))
    text = build_report(tmp_path)
    assert "placebo.csv (300 rows)" in text
    assert "Showing the first 200 of 300 rows; the full table is in placebo.csv." in text
    assert "placebo p (two-sided)" in text and "+1.20%" in text
    assert "Backtest settings" in text
