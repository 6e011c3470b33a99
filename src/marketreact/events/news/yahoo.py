"""Yahoo Finance news through yfinance's ``Ticker.get_news``.

yfinance 1.x (``yfinance/base.py``, ``TickerBase.get_news``) posts to Yahoo's
``/xhr/ncp?queryRef=latestNews`` service and returns ``data.tickerStream.stream`` with
the ads left out. Each item of that stream has the shape::

    {"id": "...", "content": {"id": "...", "contentType": "STORY", "title": "...",
     "summary": "...", "description": "...", "pubDate": "2025-01-30T14:05:00Z",
     "displayTime": "...", "provider": {"displayName": "Reuters", "url": "..."},
     "canonicalUrl": {"url": "..."}, "clickThroughUrl": {"url": "..."},
     "finance": {"stockTickers": [{"symbol": "AAPL"}, ...]}, ...}}

Before that (yfinance up to 0.2.4x) items were flat: ``uuid, title, publisher, link,
providerPublishTime`` (Unix seconds), ``relatedTickers``. Both shapes are read; an item
without a title or a publication time is left out and counted.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd

from marketreact.events.news.http import MalformedResponseError, with_retries
from marketreact.events.news.merge import news_frame

log = logging.getLogger(__name__)


def yahoo_items(symbol: str, count: int = 50) -> list[dict[str, Any]]:
    """Return yfinance's raw news items for ``symbol`` (the one call that reaches Yahoo).

    Parameters
    ----------
    symbol : str
        Yahoo symbol.
    count : int
        Items asked for (yfinance's ``count``).

    Returns
    -------
    list of dict
    """
    import yfinance as yf

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        items = yf.Ticker(symbol).get_news(count=count, tab="news")
    if not isinstance(items, list):
        raise MalformedResponseError(f"yfinance returned {type(items).__name__}, not a list")
    return items


def _get(d: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def _timestamp(value: Any) -> pd.Timestamp | None:
    if value is None or value == "":
        return None
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            ts = pd.Timestamp(int(value), unit="s", tz="UTC")
        else:
            ts = pd.Timestamp(str(value))
            if ts.tzinfo is None:  # Yahoo writes "Z"; a naive time is not guessed
                return None
            ts = ts.tz_convert("UTC")
    except (ValueError, OverflowError, TypeError):
        return None
    return None if pd.isna(ts) else ts


def parse_item(item: Any) -> dict[str, Any] | None:
    """Read one yfinance news item (1.x nested shape or the older flat one).

    Returns
    -------
    dict or None
        ``item_id, headline, summary, time, publisher, url, related, kind``; None
        when the item has no title or no publication time.
    """
    if not isinstance(item, dict):
        return None
    content = item.get("content")
    if isinstance(content, dict):
        title = content.get("title")
        time = _timestamp(content.get("pubDate")) or _timestamp(content.get("displayTime"))
        url = _get(content, "canonicalUrl", "url") or _get(content, "clickThroughUrl", "url")
        stocks = _get(content, "finance", "stockTickers") or []
        related = [str(s.get("symbol")) for s in stocks if isinstance(s, dict) and s.get("symbol")]
        out = {"item_id": str(item.get("id") or content.get("id") or url or ""),
               "headline": title, "summary": content.get("summary") or content.get("description"),
               "time": time, "publisher": _get(content, "provider", "displayName"), "url": url,
               "related": related, "kind": content.get("contentType")}
    else:
        related = item.get("relatedTickers") or []
        out = {"item_id": str(item.get("uuid") or item.get("link") or ""),
               "headline": item.get("title"), "summary": item.get("summary"),
               "time": _timestamp(item.get("providerPublishTime")),
               "publisher": item.get("publisher"), "url": item.get("link"),
               "related": [str(r) for r in related if r], "kind": item.get("type")}
    if not isinstance(out["headline"], str) or not out["headline"].strip() or out["time"] is None:
        return None
    if not out["item_id"]:
        out["item_id"] = f"{out['time'].isoformat()}|{out['headline']}"
    return out


def yahoo_rows(items: Iterable[Any], ticker: str) -> tuple[pd.DataFrame, int]:
    """Turn yfinance items into catalogue rows for ``ticker``.

    Returns
    -------
    frame : pandas.DataFrame
        Catalogue rows (see :data:`marketreact.events.news.CATALOGUE_COLUMNS`).
    skipped : int
        Items left out (no title or no time).
    """
    rows, skipped = [], 0
    for raw in items:
        item = parse_item(raw)
        if item is None:
            skipped += 1
            continue
        rows.append({"ticker": ticker, "timestamp": item["time"], "headline": item["headline"],
                     "summary": item["summary"] or "", "source": "yahoo",
                     "publisher": item["publisher"] or "", "url": item["url"] or "", "form": "",
                     "related": "|".join(item["related"]), "item_id": item["item_id"],
                     "time_basis": "utc"})
    return news_frame(rows), skipped


def fetch_yahoo(ticker: str, *, count: int = 50, retries: int = 3, backoff: float = 1.0,
                sleep: Callable[[float], None] | None = None,
                get_items: Callable[[str, int], Sequence[Any]] | None = None,
                ) -> tuple[pd.DataFrame, int]:
    """Fetch the Yahoo news of one ticker, with bounded retries.

    Parameters
    ----------
    ticker : str
        Yahoo symbol.
    count : int
        Items asked for.
    retries, backoff : int, float
        See :func:`marketreact.events.news.http.with_retries`.
    sleep, get_items : callable, optional
        For tests: the sleep and the item source (default :func:`yahoo_items`).

    Returns
    -------
    frame, skipped
        As :func:`yahoo_rows`.
    """
    source = get_items if get_items is not None else yahoo_items
    symbol = ticker.upper()

    def step() -> tuple[pd.DataFrame, int]:
        _forget_news_cache()
        return yahoo_rows(source(symbol, count), symbol)

    return with_retries(step, what=f"{symbol}: yahoo", retries=retries, backoff=backoff,
                        sleep=sleep)


def _forget_news_cache() -> None:
    """Drop yfinance's memoised answers so a retry asks Yahoo again."""
    try:
        from yfinance.data import YfData

        YfData.cache_get.cache_clear()
    except (ImportError, AttributeError):
        pass
