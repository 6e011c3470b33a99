"""Price sources: every file layout in ../shared/data, the yfinance adapter and the cache."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from marketreact.errors import InputError
from marketreact.prices import (
    ChainSource,
    CsvSource,
    PriceStore,
    YahooSource,
    clean_prices,
    frames_from_download,
    read_price_file,
    source_from_spec,
)
from yf_frames import closes, yf_download_frame


def test_reads_every_layout_in_shared_data(prices_dir: Path) -> None:
    source = CsvSource(prices_dir)
    got = source.fetch(["GOTO.JK", "^JKSE", "BUKA.JK", "BELI.JK", "SE", "SPY"])
    assert not got.failures
    goto = got.frames["GOTO.JK"]
    # IDX layout: PROVENANCE's check table, 2023-12-05: close 101, high 105; prior close 100.
    assert goto.loc["2023-12-05", ["close", "high"]].tolist() == [101.0, 105.0]
    assert goto.loc["2023-12-04", "close"] == 100.0
    # ^JKSE finds JKSE.csv.
    assert got.frames["^JKSE"].loc["2023-12-29", "close"] == pytest.approx(7272.797, abs=1e-3)
    # stock-db JSON: BUKA's IPO day close 1060.
    assert got.frames["BUKA.JK"].loc["2021-08-06", "close"] == 1060.0
    # Close-only US file: SE 2023-12-08 -> 12-11 from 40.00 to 37.87.
    se = got.frames["SE"]
    assert se.loc["2023-12-11", "adj_close"] / se.loc["2023-12-08", "adj_close"] - 1 == \
        pytest.approx(37.87 / 40.00 - 1, abs=5e-4)
    assert se["volume"].isna().all()
    # The CSV copy of GOTO.JK wins over the JSON one.
    assert source.path_for("GOTO.JK").suffix == ".csv"


def test_idx_adjusted_close_is_used(prices_dir: Path) -> None:
    bbca = CsvSource(prices_dir).fetch(["BBCA.JK"]).frames["BBCA.JK"]
    row = bbca.loc["2021-10-08"]
    assert row["close"] == 7290.0  # split-adjusted (PROVENANCE)
    assert row["adj_close"] < row["close"]  # dividends adjusted too


def test_yfinance_csv_layout_and_column_map(tmp_path: Path) -> None:
    (tmp_path / "ABC.csv").write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2024-01-03,10,11,9,10.5,10.2,1000\n2024-01-02,9,10,8,9.5,9.2,900\n")
    frame = read_price_file(tmp_path / "ABC.csv")
    assert frame.index.is_monotonic_increasing
    assert frame.loc["2024-01-03", "adj_close"] == 10.2
    (tmp_path / "XYZ.csv").write_text("Datum;Schluss\n")
    (tmp_path / "odd.csv").write_text("when,last_px\n2024-01-02,5\n")
    mapped = read_price_file(tmp_path / "odd.csv", {"date": "when", "close": "last_px"})
    assert mapped["close"].tolist() == [5.0]


def test_bad_price_file_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "BAD.csv"
    path.write_text("date,close\n2024-01-02,10\n2024-01-03,ten\n")
    with pytest.raises(InputError) as info:
        read_price_file(path)
    p = info.value.problems[0]
    assert (p.source, p.line, p.field, p.value) == (str(path), 3, "close", "ten")
    path.write_text("date,close\n2024-01-02,10\n2024-01-02,11\n")
    with pytest.raises(InputError, match="more than once"):
        read_price_file(path)
    source = CsvSource(tmp_path)
    got = source.fetch(["BAD", "MISSING"])
    assert set(got.failures) == {"BAD", "MISSING"}
    assert str(path) in got.failures["BAD"]


def test_filler_rows_are_missing_but_moving_zero_volume_rows_stay() -> None:
    idx = pd.to_datetime(["2024-01-12", "2024-01-15", "2024-01-16", "2024-01-17"])
    frame = pd.DataFrame({"open": np.nan, "high": np.nan, "low": np.nan,
                          "close": [91.0, 91.0, 90.0, 92.0], "adj_close": [91.0, 91.0, 90.0, 92.0],
                          "volume": [5e8, 0.0, 4e8, 0.0]}, index=idx)
    cleaned, notes = clean_prices(frame, "T")
    assert list(cleaned.index.strftime("%m-%d")) == ["01-12", "01-16", "01-17"]
    assert "1 flat zero-volume" in notes[0].message


def test_chain_source_takes_the_first_that_has_a_ticker(tmp_path: Path, prices_dir: Path) -> None:
    (tmp_path / "GOTO.JK.csv").write_text("date,close\n2023-12-05,1\n")
    chain = source_from_spec(f"csv:{tmp_path}+csv:{prices_dir}")
    assert isinstance(chain, ChainSource)
    got = chain.fetch(["GOTO.JK", "SE", "NOPE"])
    assert len(got.frames["GOTO.JK"]) == 1
    assert len(got.frames["SE"]) > 1000
    assert list(got.failures) == ["NOPE"]
    with pytest.raises(InputError, match="unknown price source"):
        source_from_spec("ftp:somewhere")


# --- yfinance adapter ---------------------------------------------------------------------


def test_frames_from_download_splits_tickers_and_detects_failures() -> None:
    data = yf_download_frame({"GOTO.JK": closes("2024-01-01", 5), "BAD.JK": None})
    frames, missing = frames_from_download(data, ["GOTO.JK", "BAD.JK", "ABSENT"])
    assert missing == ["BAD.JK", "ABSENT"]
    goto = frames["GOTO.JK"]
    assert goto.index.dtype == "datetime64[ns]" and goto.index.name == "date"
    assert goto["adj_close"].iloc[0] == pytest.approx(98.0)
    assert goto["close"].iloc[-1] == pytest.approx(100 * 1.01**4)


def test_every_ticker_failed_gives_zero_rows() -> None:
    data = yf_download_frame({"A": None, "B": None})
    assert len(data) == 0
    frames, missing = frames_from_download(data, ["A", "B"])
    assert frames == {} and missing == ["A", "B"]


class FakeYahoo:
    """Stands in for yfinance.download: serves canned frames and logs errors like yfinance."""

    def __init__(self, series: dict[str, pd.Series], rate_limited: dict[str, int] | None = None):
        self.series = series
        self.rate_limited = dict(rate_limited or {})
        self.calls: list[tuple[list[str], str, str]] = []

    def __call__(self, tickers: list[str], **kwargs: object) -> pd.DataFrame:
        assert kwargs["auto_adjust"] is False and kwargs["multi_level_index"] is True
        start, end = str(kwargs["start"]), str(kwargs["end"])
        self.calls.append((list(tickers), start, end))
        out: dict[str, pd.Series | None] = {}
        limited, unknown = [], []
        for t in tickers:
            if self.rate_limited.get(t, 0) > 0:
                self.rate_limited[t] -= 1
                out[t] = None
                limited.append(t)
            elif t in self.series:
                s = self.series[t]
                out[t] = s.loc[(s.index >= start) & (s.index < end)]  # end is exclusive
            else:
                out[t] = None
                unknown.append(t)
        log = logging.getLogger("yfinance")
        if limited:
            log.error("%s: YFRateLimitError('Too Many Requests. Rate limited. Try after a while.')",
                      limited)
        if unknown:
            log.error("%s: YFPricesMissingError('possibly delisted; no price data found')", unknown)
        return yf_download_frame(out)


def test_rate_limits_are_retried_with_backoff_then_reported() -> None:
    fake = FakeYahoo({"A": closes("2024-01-01", 10), "B": closes("2024-01-01", 10)},
                     rate_limited={"A": 1, "B": 9})
    sleeps: list[float] = []
    source = YahooSource(None, download=fake, retries=3, backoff=0.5, sleep=sleeps.append)
    got = source.fetch(["A", "B", "C"], pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-31"))
    assert set(got.frames) == {"A"}
    assert "YFRateLimitError" in got.failures["B"] and "after 4 attempts" in got.failures["B"]
    assert "possibly delisted" in got.failures["C"]
    assert sleeps == [0.5, 1.0, 2.0]
    assert fake.calls[1][0] == ["A", "B"]  # only rate-limited tickers are retried


def test_end_date_is_inclusive_for_users(tmp_path: Path) -> None:
    fake = FakeYahoo({"A": closes("2024-01-01", 10)})
    got = YahooSource(None, download=fake).fetch(["A"], pd.Timestamp("2024-01-02"),
                                                 pd.Timestamp("2024-01-05"))
    assert fake.calls[0][1:] == ("2024-01-02", "2024-01-06")
    assert got.frames["A"].index.max() == pd.Timestamp("2024-01-05")


def test_cache_is_incremental_and_failures_never_reach_it(tmp_path: Path) -> None:
    series = closes("2024-01-01", 60)
    fake = FakeYahoo({"A": series})
    store = PriceStore(tmp_path)
    source = YahooSource(store, download=fake)
    first = source.fetch(["A", "NOPE"], pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-31"))
    assert "NOPE" in first.failures
    assert not store.path("NOPE").exists()
    assert store.path("A").exists()
    again = source.fetch(["A"], pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-31"))
    assert len(fake.calls) == 1  # served from the cache
    pd.testing.assert_frame_equal(again.frames["A"], first.frames["A"])
    longer = source.fetch(["A"], pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-29"))
    assert fake.calls[-1][1] == "2024-01-31"  # only the new part is asked for
    assert longer.frames["A"].index.max() == pd.Timestamp("2024-02-29")
    cached = store.read("A")
    assert cached is not None and cached.fetched_end == pd.Timestamp("2024-02-29")
    assert not any(p.name.endswith(".tmp") for p in store.folder.iterdir())


def test_cache_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = PriceStore(tmp_path)
    frame = yf_download_frame({"A": closes("2024-01-01", 5)})
    good, _ = frames_from_download(frame, ["A"])
    store.write("A", good["A"], pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-05"))
    import pyarrow.parquet as pq

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(OSError, match="disk full"):
        store.write("A", good["A"].iloc[:2], pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02"))
    cached = store.read("A")
    assert cached is not None and len(cached.frame) == 5
    assert [p.name for p in store.folder.iterdir() if p.suffix == ".tmp"] == []
    meta = json.loads(pq.read_schema(store.path("A")).metadata[b"marketreact"])
    assert meta["ticker"] == "A"


def test_implausibly_large_prices_are_refused_with_the_line(tmp_path: Path) -> None:
    # Found by the fuzz test: a price of 1e308 overflowed squared returns (exit 3).
    path = tmp_path / "HUGE.csv"
    path.write_text("date,close\n2024-01-02,10\n2024-01-03,1e308\n")
    with pytest.raises(InputError) as info:
        read_price_file(path)
    p = info.value.problems[0]
    assert (p.line, p.field, p.value) == (3, "close", "1e308")
    assert "implausible price" in p.message
