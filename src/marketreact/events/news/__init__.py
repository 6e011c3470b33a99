"""News in: items from Yahoo Finance, RSS/Atom feeds and SEC EDGAR turned into catalogue rows.

Floor: :mod:`marketreact.events` (fetchers return frames and never write files; the
command line writes the catalogue atomically). Mapping feed items to tickers needs the
gazetteer, which lives one floor up in :mod:`marketreact.articles.feeds`.

Every HTTP request goes through :func:`marketreact.events.news.http.http_get` (one small
function, patched in tests); Yahoo goes through yfinance, called only in
:func:`marketreact.events.news.yahoo.yahoo_items`.
"""

from marketreact.events.news.http import FetchError
from marketreact.events.news.merge import (
    CATALOGUE_COLUMNS,
    MergeResult,
    link_duplicates,
    merge_news,
    normalise_title,
    read_news_catalogue,
)

__all__ = ["CATALOGUE_COLUMNS", "FetchError", "MergeResult", "link_duplicates", "merge_news",
           "normalise_title", "read_news_catalogue"]
