"""RSS and Atom feeds through feedparser, read into items (tickers come later).

feedparser reads RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 from bytes; it gives each entry's
``published_parsed`` (or ``updated_parsed``) as a UTC ``time.struct_time`` whatever the
offset written in the feed. An entry without a date is left out (a catalogue needs the
moment the news became public) and counted. A body that is not a feed (feedparser's
``bozo`` with no entries) is a malformed answer: retried, then reported.
"""

from __future__ import annotations

import calendar
import html
import re
from collections.abc import Callable
from typing import Any

import pandas as pd

from marketreact.events.news import http
from marketreact.events.news.http import MalformedResponseError, with_retries

_TAG = re.compile(r"<[^>]+>")
ITEM_COLUMNS = ("item_id", "headline", "summary", "timestamp", "publisher", "url")


def _text(value: Any) -> str:
    text = html.unescape(_TAG.sub(" ", str(value or "")))
    return " ".join(text.split())


def parse_feed(data: bytes, url: str = "") -> tuple[pd.DataFrame, int]:
    """Read a feed's entries.

    Parameters
    ----------
    data : bytes
        The feed document.
    url : str
        Where it came from (for the publisher when the feed has no title).

    Returns
    -------
    items : pandas.DataFrame
        :data:`ITEM_COLUMNS`; ``timestamp`` UTC.
    skipped : int
        Entries without a title or a date.

    Raises
    ------
    MalformedResponseError
        When the body is empty or not a feed.
    """
    import feedparser

    if not data or not data.strip():
        raise MalformedResponseError("empty answer")
    parsed = feedparser.parse(data)
    entries = parsed.get("entries") or []
    if parsed.get("bozo") and not entries:
        why = parsed.get("bozo_exception")
        raise MalformedResponseError(f"not an RSS/Atom feed ({why})" if why else
                                "not an RSS/Atom feed")
    if not entries and not parsed.get("feed"):
        raise MalformedResponseError("not an RSS/Atom feed")
    publisher = _text(parsed.get("feed", {}).get("title")) or url
    rows, skipped = [], 0
    for entry in entries:
        when = entry.get("published_parsed") or entry.get("updated_parsed")
        title = _text(entry.get("title"))
        if when is None or not title:
            skipped += 1
            continue
        stamp = pd.Timestamp(calendar.timegm(when), unit="s", tz="UTC")
        link = str(entry.get("link") or "")
        rows.append({"item_id": str(entry.get("id") or link or f"{stamp.isoformat()}|{title}"),
                     "headline": title, "summary": _text(entry.get("summary")),
                     "timestamp": stamp,
                     "publisher": _text(_source_title(entry)) or publisher, "url": link})
    return pd.DataFrame(rows, columns=list(ITEM_COLUMNS)), skipped


def _source_title(entry: Any) -> str:
    source = entry.get("source")
    return str(source.get("title") or "") if isinstance(source, dict) else ""


def fetch_feed(url: str, *, retries: int = 3, backoff: float = 1.0,
               sleep: Callable[[float], None] | None = None,
               user_agent: str | None = None) -> tuple[pd.DataFrame, int]:
    """Download and parse a feed with bounded retries (see :func:`parse_feed`)."""
    headers = {"User-Agent": user_agent or "marketreact news fetcher",
               "Accept": "application/rss+xml, application/atom+xml, application/xml, text/xml"}

    def step() -> tuple[pd.DataFrame, int]:
        return parse_feed(http.http_get(url, headers), url)

    return with_retries(step, what=f"rss {url}", retries=retries, backoff=backoff, sleep=sleep)
