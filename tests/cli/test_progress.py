"""Progress: silent by default, a bar on terminals, and faithful counts of the work done."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from marketreact.events.catalogue import read_events
from marketreact.prices import CsvSource, PriceFetch, YahooSource, load_prices
from marketreact.progress import progress_bar, reporting, track
from marketreact.study.fit import EventStudy


class Recorder:
    """A reporter that writes down every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, float]] = []
        self._n = 0

    def start(self, description: str, total: float) -> int:
        self._n += 1
        self.calls.append(("start", description, total))
        return self._n

    def advance(self, handle: Any, amount: float) -> None:
        self.calls.append(("advance", handle, amount))

    def finish(self, handle: Any) -> None:
        self.calls.append(("finish", handle, 0))

    def advanced(self, description: str) -> float:
        handle = next(i + 1 for i, c in enumerate(c for c in self.calls if c[0] == "start")
                      if c[1] == description)
        return sum(a for kind, h, a in self.calls if kind == "advance" and h == handle)


def test_track_is_a_plain_loop_without_reporter() -> None:
    assert list(track(range(4), "x")) == [0, 1, 2, 3]
    assert list(track(iter("ab"), "y")) == ["a", "b"]


def test_track_reports_each_item_when_done() -> None:
    rec = Recorder()
    with reporting(rec):
        seen = []
        for item in track([3, 4, 5], "sizes", total=12, size=lambda x: x):
            seen.append((item, len(rec.calls)))
    assert seen == [(3, 1), (4, 2), (5, 3)]  # advanced only once an item's work is over
    assert rec.calls == [("start", "sizes", 12), ("advance", 1, 3), ("advance", 1, 4),
                         ("advance", 1, 5), ("finish", 1, 0)]


def test_track_finishes_the_task_when_the_loop_fails() -> None:
    rec = Recorder()
    with reporting(rec), pytest.raises(RuntimeError):
        for _ in track(range(5), "boom"):
            raise RuntimeError
    assert rec.calls[-1][0] == "finish"
    with reporting(rec):
        list(track([1], "one item: no bar"))
    assert all(c[1] != "one item: no bar" for c in rec.calls)


def _goto_prices(prices_dir: Path, goto_events: Path) -> PriceFetch:
    """The GoTo catalogue's prices, loaded for the default windows ([-250, -11], [-10, 10])."""
    return load_prices(CsvSource(prices_dir), read_events(goto_events), before=250, after=10)


def test_study_reports_its_events(goto_events: Path, prices_dir: Path) -> None:
    rec = Recorder()
    with reporting(rec):
        result = EventStudy().fit(read_events(goto_events), _goto_prices(prices_dir, goto_events))
    assert ("start", "Studying events", 16) in rec.calls
    assert rec.advanced("Studying events") == 16  # 12 IDX + 4 NYSE events
    assert result.n_events == 16


def test_yahoo_download_advances_per_batch(tmp_path: Path) -> None:
    tickers = [f"T{i:02d}" for i in range(60)]
    asked: list[list[str]] = []

    def download(names: list[str], **kwargs: Any) -> pd.DataFrame:
        asked.append(list(names))
        idx = pd.DatetimeIndex(pd.bdate_range("2024-01-02", periods=3), name="Date")
        cols = pd.MultiIndex.from_product([["Close", "Adj Close", "Volume"], names],
                                          names=["Price", "Ticker"])
        return pd.DataFrame(np.ones((3, len(cols))), index=idx, columns=cols)

    rec = Recorder()
    with reporting(rec):
        got = YahooSource(None, download=download).fetch(
            tickers, pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-04"))
    assert [len(a) for a in asked] == [25, 25, 10]
    assert sorted(got.frames) == tickers and not got.failures
    assert rec.calls[0] == ("start", "Downloading prices from Yahoo", 60)
    assert [c[2] for c in rec.calls if c[0] == "advance"] == [25, 25, 10]


def test_progress_bar_only_on_a_terminal() -> None:
    plain = Console(file=io.StringIO(), force_terminal=False)
    with progress_bar(console=plain) as shown:
        list(track(range(3), "counting"))
    assert shown is False and plain.file.getvalue() == ""  # type: ignore[attr-defined]
    tty = Console(file=io.StringIO(), force_terminal=True, width=100)
    with progress_bar(quiet=True, console=tty) as shown:
        list(track(range(3), "counting"))
    assert shown is False and tty.file.getvalue() == ""  # type: ignore[attr-defined]
    with progress_bar(console=tty) as shown:
        for _ in track(range(3), "counting rows"):
            tty.file.flush()
    assert shown is True
    assert "counting rows" in tty.file.getvalue()  # type: ignore[attr-defined]


def test_csv_source_reports_each_file(prices_dir: Path) -> None:
    rec = Recorder()
    with reporting(rec):
        got = CsvSource(prices_dir).fetch(["GOTO.JK", "^JKSE", "NOPE.JK"])
    assert rec.calls[0] == ("start", "Reading price files", 3)
    assert rec.advanced("Reading price files") == 3  # the missing file counts as done too
    assert sorted(got.frames) == ["GOTO.JK", "^JKSE"] and "NOPE.JK" in got.failures
