"""Yahoo without a network: said once, in one line, fast, with its own exit code.

The network is taken away through the REAL yfinance code (tests/fake_yahoo.py patches
curl_cffi so that every chart request raises curl's own "Could not resolve host" or
"Failed to connect" error, as tests/prices/test_yahoo_faults.py does); no test touches the
network. Reference for the exit codes: docs/errors.md (4 = nothing studied).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from fake_yahoo import FakeYahoo, synthetic_prices
from marketreact.cli import app
from marketreact.cli.app import EXIT_NOTHING, failure_lines
from marketreact.prices import PriceStore, YahooSource
from marketreact.prices.yahoo import NO_NETWORK, no_network_reason

yf = pytest.importorskip("yfinance")
START, END = pd.Timestamp("2023-01-02"), pd.Timestamp("2023-03-31")


@pytest.fixture(scope="session", autouse=True)
def _yfinance_caches(tmp_path_factory: pytest.TempPathFactory) -> None:
    yf.set_tz_cache_location(str(tmp_path_factory.mktemp("yf-cache-offline")))


@pytest.fixture(autouse=True)
def _fresh_http_cache() -> Iterator[None]:
    from yfinance.data import YfData

    YfData.cache_get.cache_clear()
    yield
    YfData.cache_get.cache_clear()


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


TICKERS = [f"OFF{i}.JK" for i in range(30)]  # two batches of the source's 25


@pytest.mark.parametrize("fault", ["dns", "connect"])
def test_no_network_is_found_once_and_nothing_more_is_asked(fault: str, tmp_path: Path) -> None:
    fake = FakeYahoo(scripts={t: [fault] for t in TICKERS})
    sleeps = Sleeps()
    source = YahooSource(PriceStore(tmp_path), sleep=sleeps, offline_after=1)
    with fake.serving():
        got = source.fetch(TICKERS, START, END)
    assert got.frames == {} and set(got.failures) == set(TICKERS)
    reasons = set(got.failures.values())
    assert len(reasons) == 1 and source.offline in reasons
    (reason,) = reasons
    assert reason.startswith(NO_NETWORK) and "curl: (" in reason
    assert "delisted" not in reason and "timezone" not in reason
    assert sleeps == []  # no retry, no backoff
    # the first batch (25 tickers) was asked once; the second batch never reached Yahoo
    assert sum(fake.chart_calls.values()) <= 25
    assert all(fake.chart_calls.get(t, 0) == 0 for t in TICKERS[25:])


def test_library_default_still_retries_transient_faults(tmp_path: Path) -> None:
    """Without offline_after a DNS blip is retried (and recovers): the CLI opts in."""
    canned = synthetic_prices(seed=21)
    fake = FakeYahoo(prices={"BLIP.JK": canned}, scripts={"BLIP.JK": ["dns", "dns", "ok"]})
    sleeps = Sleeps()
    with fake.serving():
        got = YahooSource(PriceStore(tmp_path), sleep=sleeps, backoff=1.0).fetch(
            ["BLIP.JK"], START, END)
    assert "BLIP.JK" in got.frames and sleeps


def test_some_tickers_fine_is_not_no_network(tmp_path: Path) -> None:
    canned = synthetic_prices(seed=22)
    fake = FakeYahoo(prices={"FINE.JK": canned}, scripts={"GONE.JK": ["dns"]})
    sleeps = Sleeps()
    source = YahooSource(PriceStore(tmp_path), sleep=sleeps, offline_after=1, retries=1)
    with fake.serving():
        got = source.fetch(["FINE.JK", "GONE.JK"], START, END)
    assert "FINE.JK" in got.frames and source.offline is None
    assert "GONE.JK" in got.failures and not got.failures["GONE.JK"].startswith(NO_NETWORK)


def test_cli_prices_fetch_offline_is_one_line_and_exit_4(tmp_path: Path) -> None:
    fake = FakeYahoo(scripts={t: ["dns"] for t in TICKERS})
    with fake.serving():
        res = CliRunner().invoke(app, ["prices", "fetch", *TICKERS, "--start", "2023-01-02",
                                       "--end", "2023-03-31", "--cache-dir", str(tmp_path)])
    assert res.exit_code == EXIT_NOTHING == 4, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: 30 tickers (OFF0.JK") and NO_NETWORK in lines[0]
    assert res.stdout.strip() == ""  # no empty table
    assert "delisted" not in res.stderr and "yfinance" not in res.stderr.lower()


def test_cli_backtest_offline_studies_nothing_exit_4(tmp_path: Path, goto_events: Path) -> None:
    tickers = pd.read_csv(goto_events)["ticker"].unique().tolist()
    fake = FakeYahoo(scripts={t: ["dns"] for t in [*tickers, "^JKSE", "^GSPC", "SPY"]})
    with fake.serving():
        res = CliRunner().invoke(app, ["backtest", str(goto_events), "--prices", "yahoo",
                                       "--entry", "close", "--signal", "column:is_goto",
                                       "--placebo", "0", "--cache-dir", str(tmp_path / "cache"),
                                       "--out", str(tmp_path / "bt"), "-q"])
    assert res.exit_code == 4, res.output
    assert "nothing was backtested" in res.stderr
    assert res.stderr.count("cannot reach Yahoo") <= 2, res.stderr  # grouped, not per event


def test_no_network_reason_keeps_only_curls_words() -> None:
    raw = ("possibly delisted; no timezone found: Failed to perform, curl: (6) Could not "
           "resolve host: query2.finance.yahoo.com (X.JK). See https://curl.se/libcurl/")
    assert no_network_reason(raw) == (f"{NO_NETWORK} (curl: (6) Could not resolve host: "
                                      "query2.finance.yahoo.com)")


def test_failure_lines_group_by_reason() -> None:
    lines = failure_lines({"A": "x", "B": "x", "C": "y"})
    assert lines == ["2 tickers (A, B): x", "C: y"]
    many = failure_lines({f"T{i}": f"r{i}" for i in range(12)}, limit=10)
    assert len(many) == 11 and many[-1] == "... and 2 more ticker(s) with 2 other reason(s)"
