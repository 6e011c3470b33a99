"""Articles: from news text to dated events, stated price moves and their verification.

* :func:`extract_article` -> :class:`Extraction` (events, claims, entities, dates);
* :func:`verify_claims` -> :class:`Verification` (verdicts against OHLC prices);
* the gazetteer of company names: :func:`load_gazetteer`, :class:`Gazetteer`.

The rules are documented in ``docs/extract.md`` and in each module.
"""

from marketreact.articles.dates import Publication, parse_publication
from marketreact.articles.entities import Entity, Gazetteer, builtin_gazetteer, load_gazetteer
from marketreact.articles.extract import Extraction, extract_article
from marketreact.articles.text import Article, parse_article

__all__ = [
    "Article",
    "Entity",
    "Extraction",
    "Gazetteer",
    "Publication",
    "builtin_gazetteer",
    "extract_article",
    "load_gazetteer",
    "parse_article",
    "parse_publication",
]
