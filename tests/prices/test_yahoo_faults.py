"""Yahoo faults simulated offline, through the REAL yfinance 1.7 code.

``curl_cffi.requests.Session.request`` is patched (tests/fake_yahoo.py) so that yfinance's own
cookie/crumb handling, time-zone lookup, chart download, error handling and logging run
against canned chart JSON or raise curl_cffi's own exceptions. Checked for each fault: what
``YahooSource`` returns (frames equal to the canned prices, failures with their reason), the
retries it made (the backoff delays it asked to sleep), and that nothing from a failed fetch
reaches the cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fake_yahoo import FakeYahoo, synthetic_prices
from marketreact.cli import app
from marketreact.prices import PriceStore, YahooSource
from marketreact.prices.yahoo import classify_failure, frames_from_download

yf = pytest.importorskip("yfinance")

START, END = pd.Timestamp("2023-01-02"), pd.Timestamp("2023-03-31")


@pytest.fixture(scope="session", autouse=True)
def _yfinance_caches(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep yfinance's SQLite caches (time zones, cookies) out of the home folder."""
    yf.set_tz_cache_location(str(tmp_path_factory.mktemp("yf-cache")))


@pytest.fixture(autouse=True)
def _fresh_http_cache() -> Iterator[None]:
    from yfinance.data import YfData

    YfData.cache_get.cache_clear()  # yfinance memoises GETs of past spans within a process
    yield
    YfData.cache_get.cache_clear()


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _source(tmp_path: Path, sleeps: Sleeps, **kw: object) -> tuple[YahooSource, PriceStore]:
    store = PriceStore(tmp_path / "cache")
    return YahooSource(store, sleep=sleeps, backoff=1.5, **kw), store  # type: ignore[arg-type]


def _expected(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.loc[(frame.index >= START) & (frame.index <= END)]


def _assert_same_prices(got: pd.DataFrame, canned: pd.DataFrame) -> None:
    want = _expected(canned)
    assert list(got.index) == list(want.index)
    for col in ("open", "high", "low", "close", "adj_close", "volume"):
        np.testing.assert_allclose(got[col].to_numpy(), want[col].to_numpy(), rtol=1e-6)


def _cached(store: PriceStore) -> set[str]:
    return {p.name for p in store.folder.glob("*.parquet")} if store.folder.is_dir() else set()


def test_healthy_download_round_trips_through_real_yfinance(tmp_path: Path) -> None:
    canned = synthetic_prices(seed=11)
    fake = FakeYahoo(prices={"OKA.JK": canned})
    sleeps = Sleeps()
    source, store = _source(tmp_path, sleeps)
    with fake.serving():
        got = source.fetch(["OKA.JK"], START, END)
    assert not got.failures and sleeps == []
    _assert_same_prices(got.frames["OKA.JK"], canned)
    cached = store.read("OKA.JK")
    assert cached is not None and cached.fetched_start == START and cached.fetched_end == END
    _assert_same_prices(cached.frame, canned)
    calls = sum(fake.chart_calls.values())
    with fake.serving():  # second time: from the cache, no request at all
        again = source.fetch(["OKA.JK"], START, END)
    assert sum(fake.chart_calls.values()) == calls
    _assert_same_prices(again.frames["OKA.JK"], canned)


@pytest.mark.parametrize("fault", ["ratelimit", "dns", "connect", "timeout", "down", "http500"])
def test_transient_fault_is_retried_then_succeeds(fault: str, tmp_path: Path) -> None:
    ticker = f"T{fault.upper()[:4]}1.JK"
    canned = synthetic_prices(seed=3)
    # the first two chart requests fail (yfinance itself re-asks once after an HTTP error)
    fake = FakeYahoo(prices={ticker: canned}, scripts={ticker: [fault, fault, "ok"]})
    sleeps = Sleeps()
    source, store = _source(tmp_path, sleeps)
    with fake.serving():
        got = source.fetch([ticker], START, END)
    assert not got.failures, got.failures
    _assert_same_prices(got.frames[ticker], canned)
    assert 1 <= len(sleeps) <= 2 and sleeps == [1.5 * 2**k for k in range(len(sleeps))]
    assert _cached(store) == {f"{ticker}.parquet"}


@pytest.mark.parametrize(("fault", "kind", "words"), [
    ("ratelimit", "rate-limit", "YFRateLimitError"),
    ("dns", "transient", "Could not resolve host"),
    ("connect", "transient", "Failed to connect"),
    ("timeout", "transient", "timed out"),
])
def test_persistent_fault_is_reported_after_backoff(fault: str, kind: str, words: str,
                                                    tmp_path: Path) -> None:
    ticker = f"P{fault.upper()[:4]}2.JK"
    fake = FakeYahoo(prices={ticker: synthetic_prices(seed=4)}, scripts={ticker: [fault]})
    sleeps = Sleeps()
    source, store = _source(tmp_path, sleeps, retries=3)
    with fake.serving():
        got = source.fetch([ticker], START, END)
    assert ticker not in got.frames
    reason = got.failures[ticker]
    assert words in reason and "gave up after 4 attempts" in reason
    assert classify_failure(reason) == kind
    assert sleeps == [1.5, 3.0, 6.0]  # exponential backoff between the 4 attempts
    assert _cached(store) == set()  # nothing from the failed fetch reached the cache


def test_backoff_is_capped(tmp_path: Path) -> None:
    fake = FakeYahoo(scripts={"CAP.JK": ["ratelimit"]})
    sleeps = Sleeps()
    source, _ = _source(tmp_path, sleeps, retries=5, max_backoff=5.0)
    with fake.serving():
        source.fetch(["CAP.JK"], START, END)
    assert sleeps == [1.5, 3.0, 5.0, 5.0, 5.0]


def test_partial_multi_ticker_download(tmp_path: Path) -> None:
    """Some tickers come back, some are all-NaN columns: each is reported on its own."""
    a, c = synthetic_prices(seed=5), synthetic_prices(seed=6, level=50.0)
    fake = FakeYahoo(prices={"PA.JK": a, "PC.JK": c},
                     scripts={"PB.JK": ["missing"], "PD.JK": ["empty"]})
    sleeps = Sleeps()
    source, store = _source(tmp_path, sleeps)
    with fake.serving():
        got = source.fetch(["PA.JK", "PB.JK", "PC.JK", "PD.JK"], START, END)
    _assert_same_prices(got.frames["PA.JK"], a)
    _assert_same_prices(got.frames["PC.JK"], c)
    assert set(got.failures) == {"PB.JK", "PD.JK"}
    assert "delisted" in got.failures["PB.JK"] or "no timezone" in got.failures["PB.JK"]
    assert classify_failure(got.failures["PD.JK"]) == "permanent"
    assert sleeps == []  # an unknown ticker is not retried
    assert _cached(store) == {"PA.JK.parquet", "PC.JK.parquet"}


def test_every_ticker_failing_gives_an_empty_frame_and_failures(tmp_path: Path) -> None:
    fake = FakeYahoo(scripts={"NA1.JK": ["missing"], "NA2.JK": ["missing"]})
    sleeps = Sleeps()
    source, store = _source(tmp_path, sleeps)
    with fake.serving():
        got = source.fetch(["NA1.JK", "NA2.JK"], START, END)
    assert got.frames == {} and set(got.failures) == {"NA1.JK", "NA2.JK"}
    assert _cached(store) == set() and sleeps == []


def test_mixed_faults_in_one_batch(tmp_path: Path) -> None:
    """One batch: a good ticker, a rate-limited one that recovers, one that never recovers."""
    good, slow = synthetic_prices(seed=7), synthetic_prices(seed=8)
    fake = FakeYahoo(prices={"MGOOD.JK": good, "MSLOW.JK": slow, "MDEAD.JK": good},
                     scripts={"MSLOW.JK": ["ratelimit", "ratelimit", "ok"],
                              "MDEAD.JK": ["dns"]})
    sleeps = Sleeps()
    source, store = _source(tmp_path, sleeps, retries=2)
    with fake.serving():
        got = source.fetch(["MGOOD.JK", "MSLOW.JK", "MDEAD.JK"], START, END)
    _assert_same_prices(got.frames["MGOOD.JK"], good)
    _assert_same_prices(got.frames["MSLOW.JK"], slow)
    assert list(got.failures) == ["MDEAD.JK"] and "resolve host" in got.failures["MDEAD.JK"]
    assert sleeps == [1.5, 3.0]
    assert _cached(store) == {"MGOOD.JK.parquet", "MSLOW.JK.parquet"}
    # the good ticker was downloaded once, not again with the retries
    assert fake.chart_calls["MGOOD.JK"] == 2  # time-zone lookup + history


def test_failed_refresh_leaves_the_cache_untouched(tmp_path: Path) -> None:
    canned = synthetic_prices(seed=9)
    fake = FakeYahoo(prices={"KEEP.JK": canned})
    sleeps = Sleeps()
    source, store = _source(tmp_path, sleeps, retries=1)
    with fake.serving():
        source.fetch(["KEEP.JK"], START, pd.Timestamp("2023-02-28"))
    before = store.path("KEEP.JK").read_bytes()
    fake.scripts["KEEP.JK"] = ["ratelimit"]
    with fake.serving():
        got = source.fetch(["KEEP.JK"], START, END)  # March must be fetched: rate-limited
    assert store.path("KEEP.JK").read_bytes() == before
    # the cached part is still served (the events needing March fail on coverage)
    assert not got.failures
    assert got.frames["KEEP.JK"].index.max() <= pd.Timestamp("2023-02-28")
    assert sleeps == [1.5]


def test_an_unwritable_cache_is_not_a_failure(tmp_path: Path) -> None:
    canned = synthetic_prices(seed=10)
    fake = FakeYahoo(prices={"RO.JK": canned})
    source, store = _source(tmp_path, Sleeps())
    store.root.mkdir()
    store.folder.write_text("not a folder")  # the cache folder cannot be created
    with fake.serving():
        got = source.fetch(["RO.JK"], START, END)
    _assert_same_prices(got.frames["RO.JK"], canned)


def test_whole_request_exception_is_reported_per_ticker(tmp_path: Path) -> None:
    calls = []

    def download(tickers: list[str], **kwargs: object) -> pd.DataFrame:
        calls.append(list(tickers))
        raise ConnectionError("Failed to perform, curl: (7) Failed to connect")

    sleeps = Sleeps()
    source = YahooSource(PriceStore(tmp_path / "c"), download=download, sleep=sleeps,
                         retries=2, backoff=1.0)
    got = source.fetch(["X1.JK", "X2.JK"], START, END)
    assert set(got.failures) == {"X1.JK", "X2.JK"} and sleeps == [1.0, 2.0] and len(calls) == 3
    assert all("Failed to connect" in r for r in got.failures.values())


def test_malformed_download_frames() -> None:
    """Shapes yfinance can hand back: no rows, single-level columns, all-NaN, duplicates."""
    assert frames_from_download(None, ["A"]) == ({}, ["A"])
    assert frames_from_download(pd.DataFrame(), ["A"]) == ({}, ["A"])
    flat = pd.DataFrame({"Close": [1.0]}, index=pd.DatetimeIndex(["2023-01-02"]))
    assert frames_from_download(flat, ["A"]) == ({}, ["A"])
    idx = pd.DatetimeIndex(["2023-01-02", "2023-01-03", "2023-01-03", "2023-01-04"])
    cols = pd.MultiIndex.from_product([["Adj Close", "Close", "Volume"], ["A", "B"]],
                                      names=["Price", "Ticker"])
    data = pd.DataFrame(np.nan, index=idx, columns=cols)
    data[("Close", "A")] = [10.0, np.nan, 11.0, 12.0]
    data[("Adj Close", "A")] = [9.0, np.nan, 10.0, 11.0]
    frames, missing = frames_from_download(data, ["A", "B", "C"])
    assert missing == ["B", "C"]
    assert list(frames["A"].index) == list(pd.DatetimeIndex(["2023-01-02", "2023-01-03",
                                                              "2023-01-04"]))
    assert frames["A"]["close"].tolist() == [10.0, 11.0, 12.0]


def test_failure_classification() -> None:
    assert classify_failure("YFRateLimitError('Too Many Requests. Rate limited.')") == \
        "rate-limit"
    assert classify_failure("possibly delisted; no timezone found: Failed to perform, curl: "
                            "(6) Could not resolve host: query2.finance.yahoo.com") == \
        "transient"
    assert classify_failure("possibly delisted; no price data found") == "permanent"
    assert classify_failure("YFTzMissingError('$X: possibly delisted; no timezone found')") \
        == "permanent"


def test_cli_prices_fetch_reports_per_ticker(tmp_path: Path) -> None:
    canned = synthetic_prices(seed=12)
    fake = FakeYahoo(prices={"CLI1.JK": canned}, scripts={"CLI2.JK": ["missing"]})
    with fake.serving():
        result = CliRunner().invoke(app, ["prices", "fetch", "CLI1.JK", "CLI2.JK", "--start",
                                          "2023-01-02", "--end", "2023-03-31", "--cache-dir",
                                          str(tmp_path)])
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "CLI2.JK" in result.stderr and "Traceback" not in result.stderr
    assert "yfinance" not in result.stderr.lower()  # its log lines became our one line
    assert (tmp_path / "yahoo" / "CLI1.JK.parquet").exists()
    assert not (tmp_path / "yahoo" / "CLI2.JK.parquet").exists()
