"""`news fetch`: Yahoo, RSS/Atom and EDGAR items into catalogues, offline.

Item shapes come from the libraries' own code and docs, not memory:
* Yahoo: yfinance 1.7 ``TickerBase.get_news`` (``yfinance/base.py``) returns
  ``data.tickerStream.stream`` minus ads; items are ``{"id", "content": {"title",
  "summary", "pubDate", "provider": {"displayName"}, "canonicalUrl": {"url"},
  "finance": {"stockTickers": [{"symbol"}]}, "contentType"}}``; the older flat shape
  (``uuid, title, publisher, link, providerPublishTime, relatedTickers``) is the one
  shown in yfinance PR 855 and issue 1956.
* EDGAR: ``company_tickers.json`` ``{"0": {"cik_str", "ticker", "title"}}`` and the
  submissions ``filings.recent`` column arrays, as edgartools reads them.
* RSS/Atom: documents written here, parsed by the real feedparser.
No test touches the network: ``http_get`` and ``yahoo_items`` are patched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import marketreact.cli.news  # noqa: F401  (registers `news`)
from marketreact.articles.entities import load_gazetteer
from marketreact.articles.feeds import feed_rows
from marketreact.cli import app
from marketreact.events import read_events
from marketreact.events.news import http
from marketreact.events.news.edgar import (
    EdgarClient,
    acceptance_times,
    check_user_agent,
    parse_company_tickers,
    submission_rows,
)
from marketreact.events.news.http import FetchError, HttpStatusError, with_retries
from marketreact.events.news.merge import merge_news, news_frame
from marketreact.events.news.rss import parse_feed
from marketreact.events.news.yahoo import fetch_yahoo, parse_item, yahoo_rows

NESTED = {
    "id": "a1b2c3d4-0000-3333-8888-000000000001",
    "content": {
        "id": "a1b2c3d4-0000-3333-8888-000000000001", "contentType": "STORY",
        "title": "Apple shares rise after record iPhone sales",
        "summary": "Apple reported record revenue.", "pubDate": "2025-01-30T21:05:00Z",
        "displayTime": "2025-01-30T21:10:00Z",
        "provider": {"displayName": "Reuters", "url": "https://www.reuters.com/"},
        "canonicalUrl": {"url": "https://finance.yahoo.com/news/apple-record-1.html"},
        "clickThroughUrl": {"url": "https://finance.yahoo.com/news/apple-record-1.html"},
        "finance": {"stockTickers": [{"symbol": "AAPL"}, {"symbol": "MSFT"}]},
    },
}
FLAT = {"uuid": "ddd026e3-ff8c-36f6-8d71-d81ee9cdd15a", "title": "Dow Jones Futures: Apple",
        "publisher": "Investor's Business Daily", "link": "https://finance.yahoo.com/m/ddd",
        "providerPublishTime": 1634395226, "type": "STORY", "relatedTickers": ["AAPL"]}


def no_sleep(_: float) -> None:
    return None


# ---------------------------------------------------------------- Yahoo
def test_yahoo_nested_and_flat_shapes() -> None:
    nested = parse_item(NESTED)
    assert nested is not None
    assert nested["time"] == pd.Timestamp("2025-01-30T21:05:00Z")
    assert nested["publisher"] == "Reuters" and nested["related"] == ["AAPL", "MSFT"]
    assert nested["url"].endswith("apple-record-1.html")
    flat = parse_item(FLAT)
    assert flat is not None and flat["time"] == pd.Timestamp(1634395226, unit="s", tz="UTC")
    assert flat["publisher"] == "Investor's Business Daily"
    assert parse_item({"id": "x", "content": {"title": "no time"}}) is None
    assert parse_item("junk") is None
    frame, skipped = yahoo_rows([NESTED, FLAT, {"content": {}}], "AAPL")
    assert skipped == 1 and len(frame) == 2
    assert frame["event_id"].str.startswith("yahoo-AAPL-").all()
    assert frame.loc[0, "related"] == "AAPL|MSFT"


def test_yahoo_through_the_real_yfinance_get_news(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    """yfinance's own get_news runs on a canned answer (its post is patched)."""
    import yfinance as yf
    from yfinance.data import YfData

    yf.set_tz_cache_location(str(tmp_path))
    body = {"data": {"tickerStream": {"stream": [NESTED, {"id": "ad", "ad": [{"x": 1}]}]}}}

    class Answer:
        text = json.dumps(body)

        def json(self) -> Any:
            return body

    monkeypatch.setattr(YfData, "post", lambda self, url, body=None, **kw: Answer())
    frame, skipped = fetch_yahoo("aapl", retries=1)
    assert len(frame) == 1 and skipped == 0  # the ad is left out by yfinance
    assert frame.loc[0, "ticker"] == "AAPL" and frame.loc[0, "publisher"] == "Reuters"


def test_yahoo_retries_rate_limits_then_gives_one_line() -> None:
    calls: list[int] = []
    waits: list[float] = []

    class YFRateLimitError(Exception):
        pass

    def flaky(symbol: str, count: int) -> list[Any]:
        calls.append(1)
        if len(calls) < 3:
            raise YFRateLimitError("Too Many Requests. Rate limited. Try after a while.")
        return [NESTED]

    frame, _ = fetch_yahoo("AAPL", retries=3, sleep=waits.append, get_items=flaky)
    assert len(frame) == 1 and len(calls) == 3 and waits == [1.0, 2.0]

    def always(symbol: str, count: int) -> list[Any]:
        raise YFRateLimitError("Too Many Requests")

    with pytest.raises(FetchError) as info:
        fetch_yahoo("AAPL", retries=2, sleep=no_sleep, get_items=always)
    assert str(info.value) == "AAPL: yahoo: rate limited: YFRateLimitError: Too Many Requests " \
                              "(after 2 tries)"
    assert "\n" not in str(info.value)


def test_retry_rules() -> None:
    seen: list[float] = []
    tries: list[int] = []

    def not_found() -> None:
        tries.append(1)
        raise HttpStatusError(404, "Not Found")

    with pytest.raises(FetchError, match=r"HTTP 404 Not Found$"):
        with_retries(not_found, what="x", retries=5, sleep=seen.append)
    assert len(tries) == 1 and seen == []  # permanent: no retry

    def limited() -> None:
        raise HttpStatusError(429, "Too Many Requests", retry_after=7)

    with pytest.raises(FetchError, match=r"rate limited: HTTP 429.*\(after 3 tries\)"):
        with_retries(limited, what="x", retries=3, backoff=1, sleep=seen.append)
    assert seen == [7, 7]  # Retry-After honoured (capped by max_backoff)


# ---------------------------------------------------------------- RSS / Atom
RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Tech Wire</title><link>https://example.com</link>
<item><title>Amazon to invest $11bn in Georgia data centres</title>
<link>https://example.com/a1</link><guid>tw-1</guid>
<description>&lt;p&gt;Amazon Web Services said on Monday...&lt;/p&gt;</description>
<pubDate>Mon, 08 Jan 2024 09:30:00 -0500</pubDate></item>
<item><title>Alphabet and Meta face EU probe</title><link>https://example.com/a2</link>
<guid>tw-2</guid><pubDate>Tue, 09 Jan 2024 16:45:00 +0000</pubDate></item>
<item><title>Oil prices climb</title><link>https://example.com/a3</link>
<pubDate>Tue, 09 Jan 2024 17:00:00 +0000</pubDate></item>
<item><title>No date here about Amazon</title><link>https://example.com/a4</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Filings Blog</title>
<id>urn:x</id><updated>2024-01-09T12:00:00+07:00</updated>
<entry><title>Amazon.com shares slip after guidance</title><id>urn:e1</id>
<link href="https://blog.example.com/e1"/><updated>2024-01-09T12:00:00+07:00</updated>
<summary>Amazon cut its outlook.</summary></entry></feed>"""


def test_rss_and_atom_parse_to_utc_items() -> None:
    items, skipped = parse_feed(RSS, "https://example.com/rss")
    assert skipped == 1 and len(items) == 3
    assert items.loc[0, "timestamp"] == pd.Timestamp("2024-01-08T14:30:00Z")
    assert items.loc[0, "summary"] == "Amazon Web Services said on Monday..."
    assert items.loc[0, "publisher"] == "Tech Wire" and items.loc[0, "item_id"] == "tw-1"
    atom, skipped = parse_feed(ATOM)
    assert skipped == 0 and atom.loc[0, "timestamp"] == pd.Timestamp("2024-01-09T05:00:00Z")
    from marketreact.events.news.http import MalformedResponseError

    for bad in (b"", b"   ", b"<html><body>Service unavailable</body>"):
        with pytest.raises(MalformedResponseError):
            parse_feed(bad)


def test_feed_items_mapped_with_the_extract_gazetteer() -> None:
    items, _ = parse_feed(RSS)
    rows, unmatched = feed_rows(items, load_gazetteer(), ["AMZN", "GOOGL", "META"])
    assert unmatched == 1  # the oil story
    assert sorted(zip(rows["ticker"], rows["url"], strict=True)) == [
        ("AMZN", "https://example.com/a1"), ("GOOGL", "https://example.com/a2"),
        ("META", "https://example.com/a2")]
    assert rows.set_index("ticker").loc["GOOGL", "related"] == "META"
    only_amzn, _ = feed_rows(items, load_gazetteer(), ["amzn"])
    assert only_amzn["ticker"].tolist() == ["AMZN"]


# ---------------------------------------------------------------- EDGAR
TICKERS = {"0": {"cik_str": 320193, "ticker": "AAPL", "title": "Apple Inc."},
           "1": {"cik_str": 789019, "ticker": "MSFT", "title": "MICROSOFT CORP"}}


def submissions(times: list[str], forms: list[str] | None = None) -> dict[str, Any]:
    n = len(times)
    forms = forms or ["8-K"] * n
    return {"cik": "0000320193", "name": "Apple Inc.", "tickers": ["AAPL"],
            "filings": {"recent": {
                "accessionNumber": [f"0000320193-24-{i:06d}" for i in range(n)],
                "filingDate": [t[:10] for t in times], "acceptanceDateTime": times,
                "form": forms, "items": ["2.02,9.01"] * n,
                "primaryDocument": [f"doc{i}.htm" for i in range(n)],
                "primaryDocDescription": ["8-K"] * n}, "files": []}}


def test_acceptance_time_readings() -> None:
    # 16:30Z is 11:30 or 12:30 New York (both in hours) -> the filer's convention decides;
    # 23:30Z read as New York is after 22:00: impossible, so this filer writes UTC.
    times, basis = acceptance_times(["2024-05-02T16:30:00.000Z", "2024-05-02T23:30:00.000Z"])
    assert basis.tolist() == ["utc", "utc"]
    assert times[0] == pd.Timestamp("2024-05-02T16:30:00Z")
    # 07:30Z read as UTC is 03:30 New York: EDGAR is closed, so it is New York time
    # (the Hess case); its convention then settles the ambiguous 16:21.
    times, basis = acceptance_times(["2025-04-30T07:30:32.000Z", "2025-05-01T16:21:59.000Z"])
    assert basis.tolist() == ["new_york", "new_york"]
    assert times[1] == pd.Timestamp("2025-05-01T20:21:59Z")
    # nothing decides: the later reading (New York), never one that could be too early
    times, basis = acceptance_times(["2024-05-02T16:30:00.000Z"])
    assert basis.tolist() == ["new_york (later of two readings)"]
    assert times[0] == pd.Timestamp("2024-05-02T20:30:00Z")


def test_submission_rows_and_ciks() -> None:
    assert parse_company_tickers(TICKERS) == {"AAPL": 320193, "MSFT": 789019}
    data = submissions(["2024-05-02T20:30:52.000Z", "2024-05-03T10:00:00.000Z",
                        "2024-08-01T20:31:00.000Z"], ["8-K", "4", "8-K"])
    rows, skipped = submission_rows(data, "AAPL", ["8-K"],
                                    since=pd.Timestamp("2024-06-01", tz="UTC"))
    assert skipped == 0 and len(rows) == 1
    row = rows.iloc[0]
    assert row["event_id"] == "edgar-AAPL-0000320193-24-000002"
    assert row["form"] == "8-K" and row["publisher"] == "SEC EDGAR"
    assert row["headline"] == "Apple Inc. 8-K: results of operations and financial condition"
    assert row["url"] == ("https://www.sec.gov/Archives/edgar/data/320193/"
                          "000032019324000002/doc2.htm")
    from marketreact.events.news.http import MalformedResponseError

    for bad in ({}, {"filings": {}}, {"filings": {"recent": {"form": ["8-K"]}}}, []):
        with pytest.raises(MalformedResponseError):
            submission_rows(bad, "AAPL")


def test_edgar_user_agent_is_required() -> None:
    from marketreact.errors import InputError

    for agent in (None, "", "marketreact"):
        with pytest.raises(InputError, match="contact User-Agent"):
            check_user_agent(agent)
    assert check_user_agent(" Jane Doe jane@example.com ") == "Jane Doe jane@example.com"


def test_edgar_client_sends_the_agent_and_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, dict[str, str]]] = []
    answers = iter([HttpStatusError(503, "Service Unavailable"),
                    json.dumps(TICKERS).encode(), b"{not json",
                    json.dumps(submissions(["2024-05-02T20:30:52.000Z"])).encode()])

    def fake_get(url: str, headers: Any = None, timeout: float = 30) -> bytes:
        sent.append((url, dict(headers or {})))
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(http, "http_get", fake_get)
    client = EdgarClient("Jane Doe jane@example.com", retries=3, sleep=no_sleep)
    rows, _ = client.fetch("aapl")
    assert len(rows) == 1
    assert [u for u, _ in sent] == [
        "https://www.sec.gov/files/company_tickers.json",
        "https://www.sec.gov/files/company_tickers.json",
        "https://data.sec.gov/submissions/CIK0000320193.json",
        "https://data.sec.gov/submissions/CIK0000320193.json"]
    assert all(h["User-Agent"] == "Jane Doe jane@example.com" for _, h in sent)
    with pytest.raises(FetchError, match=r"^ZZZZ: edgar: ticker not in"):
        client.fetch("ZZZZ")


# ---------------------------------------------------------------- merging
def _row(ticker: str, when: str, title: str, source: str = "yahoo", item: str = "") -> dict:
    return {"ticker": ticker, "timestamp": pd.Timestamp(when), "headline": title,
            "summary": "", "source": source, "publisher": "", "url": f"https://x/{item}",
            "form": "", "related": "", "item_id": item or title, "time_basis": "utc"}


def test_merge_appends_only_new_and_links_near_duplicates() -> None:
    first = news_frame([_row("AAPL", "2024-01-08T14:00Z", "Apple cuts iPhone prices in China",
                             item="y1"),
                        _row("AAPL", "2024-01-08T15:00Z", "Apple cuts iPhone prices in China "
                             "- Reuters", "rss", "r1"),
                        _row("MSFT", "2024-01-08T15:00Z", "Apple cuts iPhone prices in China",
                             item="m1")])
    merged = merge_news(None, first)
    assert merged.added == 2 and merged.linked == 1
    apple = merged.frame.set_index("ticker").loc["AAPL"]
    assert apple["event_id"] == "yahoo-AAPL-" + news_frame([_row(
        "AAPL", "2024-01-08T14:00Z", "x", item="y1")])["event_id"][0].split("-")[-1]
    assert apple["linked_ids"].startswith("rss-AAPL-")
    # fetching the same again adds nothing, the linked copy included
    again = merge_news(merged.frame, first)
    assert again.added == 0 and again.known == 3 and again.frame.equals(merged.frame)
    # a later copy outside the window is a new story; an earlier copy takes the row over
    later = news_frame([_row("AAPL", "2024-01-10T14:00Z", "Apple cuts iPhone prices in China",
                             item="y2"),
                        _row("AAPL", "2024-01-08T13:00Z", "Apple cuts iPhone prices in China!",
                             "edgar", "e1")])
    grown = merge_news(merged.frame, later)
    assert grown.added == 2 and grown.superseded == (apple["event_id"],)
    aapl = grown.frame.loc[grown.frame["ticker"] == "AAPL"]
    assert aapl["timestamp"].min() == pd.Timestamp("2024-01-08T13:00Z")
    winner = aapl.loc[aapl["timestamp"].idxmin()]
    assert apple["event_id"] in winner["linked_ids"].split("|")
    assert winner["linked_ids"].count("rss-AAPL-") == 1


# ---------------------------------------------------------------- the command
def _patch_sources(monkeypatch: pytest.MonkeyPatch, answers: dict[str, Any]) -> list[str]:
    asked: list[str] = []

    def fake_get(url: str, headers: Any = None, timeout: float = 30) -> bytes:
        asked.append(url)
        answer = answers[url]
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(http, "http_get", fake_get)
    monkeypatch.setattr("marketreact.events.news.yahoo.yahoo_items",
                        lambda symbol, count: [NESTED] if symbol == "AAPL" else [])
    monkeypatch.setattr("marketreact.events.news.http.time.sleep", no_sleep)
    monkeypatch.setattr("marketreact.events.news.edgar.MIN_INTERVAL", 0)
    return asked


def test_fetch_command_end_to_end(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    feed = "https://example.com/rss"
    _patch_sources(monkeypatch, {
        feed: RSS,
        "https://www.sec.gov/files/company_tickers.json": json.dumps(TICKERS).encode(),
        "https://data.sec.gov/submissions/CIK0000320193.json":
            json.dumps(submissions(["2025-01-30T21:31:00.000Z"])).encode()})
    out = tmp_path / "news.csv"
    args = ["news", "fetch", "AAPL", "AMZN", "--source", "yahoo", "--source", f"rss:{feed}",
            "--source", "edgar", "--user-agent", "Jane Doe jane@example.com", "--out", str(out)]
    runner = CliRunner()
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output  # AMZN is not in the canned ticker map
    assert "AMZN: edgar: ticker not in the SEC's company_tickers.json" in res.output
    cat = read_events(out)  # ready for study / backtest
    assert sorted(cat.frame["source"]) == ["edgar", "rss", "yahoo"]
    ts = cat.frame.set_index("source")["timestamp"]
    assert ts["yahoo"] == pd.Timestamp("2025-01-30T21:05:00Z")
    text = out.read_text(encoding="utf-8")
    assert "2025-01-30T21:05:00+00:00" in text
    for col in ("event_id", "ticker", "timestamp", "headline", "source", "url", "publisher",
                "form", "linked_ids"):
        assert col in text.splitlines()[0].split(",")
    before = text
    res = runner.invoke(app, args)
    assert "nothing new" in res.output and out.read_text(encoding="utf-8") == before


def test_fetch_refuses_edgar_without_agent(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    asked = _patch_sources(monkeypatch, {})
    monkeypatch.delenv("MARKETREACT_SEC_USER_AGENT", raising=False)
    out = tmp_path / "n.csv"
    res = CliRunner().invoke(app, ["news", "fetch", "AAPL", "--source", "edgar",
                                   "--out", str(out)])
    assert res.exit_code == 2 and asked == [] and not out.exists()
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "User-Agent" in lines[0]
    monkeypatch.setenv("MARKETREACT_SEC_USER_AGENT", "Jane jane@example.com")
    res = CliRunner().invoke(app, ["news", "fetch", "AAPL", "--source", "bloomberg",
                                   "--out", str(out)])
    assert res.exit_code == 2 and "use yahoo, edgar or rss:URL" in res.output


def test_failed_fetch_leaves_the_catalogue_untouched(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    feed = "https://example.com/rss"
    _patch_sources(monkeypatch, {feed: HttpStatusError(429, "Too Many Requests")})
    out = tmp_path / "n.csv"
    out.write_text("keep me\n")
    res = CliRunner().invoke(app, ["news", "fetch", "AMZN", "--source", f"rss:{feed}",
                                   "--retries", "2", "--out", str(out)])
    assert res.exit_code == 2  # not a catalogue: refused before anything is fetched
    assert out.read_text() == "keep me\n"
    out.unlink()
    res = CliRunner().invoke(app, ["news", "fetch", "AMZN", "--source", f"rss:{feed}",
                                   "--retries", "2", "--out", str(out)])
    assert res.exit_code == 1 and not out.exists()
    assert "rate limited: HTTP 429 Too Many Requests (after 2 tries)" in res.output
