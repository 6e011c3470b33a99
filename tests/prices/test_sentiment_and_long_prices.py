"""VADER scoring, headline files, the news timezone, and the long-format price reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from marketreact.errors import InputError
from marketreact.events.sentiment import read_headlines, score_frame, vader_scores
from marketreact.prices import LongCsvSource, source_from_spec
from marketreact.prices.long_source import read_long_file


def test_vader_matches_its_published_example() -> None:
    # The vaderSentiment README scores "VADER is smart, handsome, and funny." as
    # {'neg': 0.0, 'neu': 0.254, 'pos': 0.746, 'compound': 0.8316} and
    # "VADER is not smart, handsome, nor funny." as compound -0.7424.
    got = vader_scores(["VADER is smart, handsome, and funny.", "", "The stock crashed.",
                        "VADER is not smart, handsome, nor funny."])
    assert got.loc[0, "sentiment"] == pytest.approx(0.8316)
    assert (got.loc[0, "vader_pos"], got.loc[0, "vader_neu"]) == (0.746, 0.254)
    assert got.loc[1, "sentiment"] == 0.0
    assert got.loc[3, "sentiment"] == pytest.approx(-0.7424)
    # a limit worth knowing: finance words such as "crashed" are not in VADER's lexicon
    assert got.loc[2, "sentiment"] == 0.0
    again = vader_scores(["VADER is smart, handsome, and funny."])
    assert again.loc[0, "sentiment"] == got.loc[0, "sentiment"]  # deterministic


def test_headlines_need_a_timezone_for_naive_times(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("datetime,ticker,headline\n2024-03-01 16:05:00,aapl,Apple beats\n"
                    "2024-03-10 02:30:00,MSFT,Microsoft in the gap\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"h.csv:2, field 'datetime'.*--timezone"):
        read_headlines(path)
    with pytest.raises(InputError, match=r"h.csv:3.*does not exist or is ambiguous"):
        read_headlines(path, timezone="America/New_York")
    frame, problems = read_headlines(path, timezone="America/New_York", strict=False)
    assert list(frame["timestamp"]) == ["2024-03-01T16:05:00-05:00"]
    assert list(frame["event_id"]) == ["AAPL-L2"] and frame.loc[0, "ticker"] == "AAPL"
    assert problems[0].line == 3
    with pytest.raises(InputError, match="unknown time zone"):
        read_headlines(path, timezone="Mars/Olympus")


def test_headlines_with_offsets_and_scoring_modes(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("timestamp,ticker,headline,summary\n"
                    "2024-03-01T21:05:00Z,AAPL,Apple beats,A great and wonderful quarter\n",
                    encoding="utf-8")
    frame, _ = read_headlines(path)
    assert frame.loc[0, "timestamp"] == "2024-03-01T21:05:00+00:00"
    both = score_frame(frame, "both")
    summary = score_frame(frame, "summary")
    assert summary.loc[0, "sentiment"] == pytest.approx(
        vader_scores(["A great and wonderful quarter"]).loc[0, "sentiment"])
    assert both.loc[0, "sentiment"] == pytest.approx(
        vader_scores(["Apple beats. A great and wonderful quarter"]).loc[0, "sentiment"])


def test_mag7_news_times_are_new_york_wall_clock(shared_data: Path) -> None:
    """The file's times are US Eastern local time (EST/EDT), not UTC.

    Dow Jones "News Highlights ... at 3 PM ET" items carry the hour they name, in
    winter (EST, UTC-5) and in summer (EDT, UTC-4): were the column UTC, they would
    sit 5 or 4 hours after the named hour.
    """
    news = pd.read_csv(shared_data / "news" / "mag7_news.csv")
    stamp = pd.to_datetime(news["datetime"])
    named = news["headline"].str.extract(r"at (\d{1,2}) (AM|PM) ET")
    has = named[0].notna()
    hour = named[0][has].astype(int) % 12 + np.where(named[1][has] == "PM", 12, 0)
    diff = stamp[has].dt.hour - hour
    assert has.sum() > 200
    assert (diff == 0).mean() > 0.95
    assert not diff.isin([4, 5]).any()
    winter = stamp[has].dt.month.isin([1, 2]) & (diff == 0)
    summer = stamp[has].dt.month.isin([4, 5]) & (diff == 0)
    assert winter.sum() > 20 and summer.sum() > 20
    # Earnings come out after the 16:00 close: Meta's Q4 2023 release is stamped 16:06.
    meta = news[news["headline"].str.startswith("Meta Reports Fourth Quarter and Full Year 2023")]
    assert meta["datetime"].str.slice(11, 16).tolist() == ["16:06"]


def test_long_file_reader_on_the_mag7_prices(shared_data: Path) -> None:
    src = LongCsvSource(shared_data / "news" / "mag7_price.csv")
    assert src.tickers == ["AAPL", "AMZN", "GOOGL", "META", "MSFT", "NVDA", "TSLA"]
    got = src.fetch(["AAPL", "XYZ"], pd.Timestamp("2023-12-01"), pd.Timestamp("2023-12-05"))
    aapl = got.frames["AAPL"]
    # PROVENANCE: AAPL 2023-12-01 close 191.24 (the raw close, split-adjusted only)
    assert aapl.loc["2023-12-01", "close"] == pytest.approx(191.24, abs=0.005)
    assert (aapl["adj_close"] == aapl["close"]).all()
    assert list(aapl.index.strftime("%Y-%m-%d")) == ["2023-12-01", "2023-12-04", "2023-12-05"]
    assert "XYZ" in got.failures
    both = source_from_spec(f"csv:{shared_data / 'news' / 'mag7_price.csv'}"
                            f"+csv:{shared_data / 'prices' / 'us'}")
    fetched = both.fetch(["NVDA", "SPY"])
    assert set(fetched.frames) == {"NVDA", "SPY"}
    assert fetched.frames["SPY"]["open"].isna().all()  # close-only file


def test_long_file_problems_name_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("date,ticker,open,close\n2024-01-02,AAA,1,2\n2024-01-03,AAA,x,2\n"
                    "2024-01-02,AAA,1,2\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_long_file(path)
    text = [str(p) for p in info.value.problems]
    assert any("long.csv:3, field 'open', value 'x': not a number" in t for t in text)
    assert any("long.csv:4" in t and "more than once for AAA" in t for t in text)
    nohead = tmp_path / "bad.csv"
    nohead.write_text("date,close\n2024-01-02,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="ticker"):
        read_long_file(nohead)
