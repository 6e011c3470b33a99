"""Feed items mapped to tickers with the gazetteer that ``extract`` uses.

An RSS/Atom item names no ticker; its title and summary are searched with
:meth:`marketreact.articles.entities.Gazetteer.find` (company names and aliases, whole
words, and stated tickers such as ``(NASDAQ: AAPL)``). The item becomes one catalogue row
per listed company it names among the tickers asked for; ``related`` lists every listed
ticker it names.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from marketreact.articles.entities import Gazetteer
from marketreact.events.news.merge import news_frame


def feed_rows(items: pd.DataFrame, gazetteer: Gazetteer, tickers: Sequence[str]
              ) -> tuple[pd.DataFrame, int]:
    """Catalogue rows for the feed items that name one of ``tickers``.

    Parameters
    ----------
    items : pandas.DataFrame
        From :func:`marketreact.events.news.rss.parse_feed`.
    gazetteer : Gazetteer
        Names and aliases of companies with their tickers.
    tickers : sequence of str
        Tickers wanted (Yahoo symbols, any case).

    Returns
    -------
    frame : pandas.DataFrame
        Catalogue rows, ``source`` ``rss``.
    unmatched : int
        Items that name none of ``tickers``.
    """
    wanted = [t.upper() for t in tickers]
    rows, unmatched = [], 0
    for rec in items.to_dict("records"):
        text = f"{rec['headline']}. {rec['summary']}"
        found: list[str] = []
        for mention in gazetteer.find(text):
            ticker = mention.entity.ticker
            if ticker and mention.status in ("listed", "stated") and ticker.upper() not in found:
                found.append(ticker.upper())
        hits = [t for t in wanted if t in found]
        if not hits:
            unmatched += 1
            continue
        for ticker in hits:
            rows.append({"ticker": ticker, "timestamp": rec["timestamp"],
                         "headline": rec["headline"], "summary": rec["summary"],
                         "source": "rss", "publisher": rec["publisher"], "url": rec["url"],
                         "form": "", "related": "|".join(t for t in found if t != ticker),
                         "item_id": rec["item_id"], "time_basis": "utc"})
    return news_frame(rows), unmatched
