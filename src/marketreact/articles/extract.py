"""From an article to an event catalogue, stated price moves and dated references.

:func:`extract_article` reads the text once, sentence by sentence, and returns
an immutable :class:`Extraction` with four tables:

``events``
    The event catalogue (the format of :mod:`marketreact.events`): one event
    per listed company or fund the article names, at the publication time
    (``news = article``), plus one per past single-day reference in a sentence
    naming a listed company (``news = reference``). Ranges and future dates are
    not events (a study needs a day 0); they are in ``dates``.
``claims``
    One row per stated price move and company, with its date (or range), the
    direction, magnitude, kind (``intraday_extreme``, ``close_to_close``,
    ``intraday_reversal``, ``intraday_level``) and position in the text.
``entities``
    Every entity found: listed (with ticker), unlisted, stated (ticker written
    in the article) or unknown (a company the gazetteer does not know; never
    given a ticker).
``dates``
    Every date expression, resolved to a day or a range.

A claim's date is the nearest non-future date expression in its clause (a
sentence splits into clauses at "while", "whereas", "but", ";", dashes and
", and"/", as"/", after"/", before"), else the nearest one before it; dates
after "since" are baselines and are ignored; an undated claim refers to the
session of the company's exchange under way or last closed at publication.
The venue is the nearest one in the clause, or one anywhere in the sentence
that is the company's own exchange.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from marketreact.articles.claims import QUALIFIERS, StatedMove, stated_moves
from marketreact.articles.dates import DateRef, Publication, find_dates
from marketreact.articles.entities import Gazetteer, Mention, unknown_companies
from marketreact.articles.markets import (
    Venue,
    day_in_progress,
    event_time,
    find_venues,
    session_at,
)
from marketreact.articles.text import Article, Sentence, parse_article

EVENT_COLUMNS = ("event_id", "ticker", "exchange", "market", "timestamp", "date", "timing",
                 "headline", "source", "news", "company", "mentions", "claims", "sentence",
                 "date_basis")
CLAIM_COLUMNS = ("claim_id", "ticker", "exchange", "company", "status", "subject_text",
                 "subject_basis", "date_start", "date_end", "date_precision", "date_basis",
                 "direction", "magnitude_pct", "qualifier", "bound", "kind", "kind_basis",
                 "reversal", "venue", "venue_exchange", "in_progress", "published", "sentence",
                 "line", "char_start", "char_end", "cue", "note")
ENTITY_COLUMNS = ("name", "status", "ticker", "exchange", "market", "kind", "mentions",
                  "first_sentence", "sentences", "as_written", "note")
DATE_COLUMNS = ("expression", "first", "last", "precision", "tense", "rule", "tickers",
                "entities", "sentence", "line", "char_start", "char_end")


@dataclass(frozen=True)
class Extraction:
    """What an article yields.

    Attributes
    ----------
    article : Article
        The parsed article.
    publication : Publication
    events, claims, entities, dates : pandas.DataFrame
        The tables described in the module docstring (columns
        :data:`EVENT_COLUMNS`, :data:`CLAIM_COLUMNS`, :data:`ENTITY_COLUMNS`,
        :data:`DATE_COLUMNS`).
    notes : tuple of str
        Things the user should know (no companies found, ambiguous day 0 ...).
    """

    article: Article
    publication: Publication
    events: pd.DataFrame
    claims: pd.DataFrame
    entities: pd.DataFrame
    dates: pd.DataFrame
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        """Describe in a few lines what was found."""
        listed = self.entities.loc[self.entities["status"].isin(["listed", "stated"])]
        others = self.entities.loc[~self.entities["status"].isin(["listed", "stated"])]
        lines = [
            f"article: {self.article.source} ({len(self.article.sentences)} sentences), "
            f"published {self.publication.describe()}",
            f"listed: {', '.join(f'{r.name} ({r.ticker})' for r in listed.itertuples()) or '-'}",
            "not listed / unknown: "
            + (", ".join(f"{r.name} ({r.status})" for r in others.itertuples()) or "-"),
            f"events: {len(self.events)}, claims: {len(self.claims)}, "
            f"date references: {len(self.dates)}",
        ]
        return "\n".join(lines + [f"note: {n}" for n in self.notes])


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "article"


def _date_str(day: pd.Timestamp | None) -> str:
    return "" if day is None or pd.isna(day) else str(pd.Timestamp(day).date())


def _entity_key(m: Mention) -> str:
    return m.entity.ticker or f"{m.status}:{m.entity.name}"


def _nearest(items: Sequence[DateRef] | Sequence[Venue], start: int, end: int) -> int | None:
    if not items:
        return None
    dist = [max(0, it.start - end, start - it.end) for it in items]
    return int(min(range(len(items)), key=lambda i: dist[i]))


def _tail(text: str, end: int, size: int = 40) -> str:
    """About ``size`` characters before ``end``, cut between words (word bounds stay)."""
    lo = max(0, end - size)
    while lo > 0 and (text[lo - 1].isalnum() or text[lo - 1] == "_") and (
            text[lo].isalnum() or text[lo] == "_"):
        lo -= 1
    return text[lo:end]


class _Spans:
    """Items with ``start``/``end`` offsets, looked up by range in O(log n) when in order."""

    def __init__(self, items: Sequence[Any]) -> None:
        self.items = list(items)
        self.starts = [it.start for it in self.items]
        self.ends = [it.end for it in self.items]
        self.ordered = all(a <= b for a, b in itertools.pairwise(self.starts)) and all(
            a <= b for a, b in itertools.pairwise(self.ends))

    def _range(self, lo: int, hi: int) -> tuple[int, int]:
        return bisect.bisect_left(self.starts, lo), bisect.bisect_right(self.ends, hi)

    def any_within(self, lo: int, hi: int) -> bool:
        """Whether an item has ``lo <= start`` and ``end <= hi``."""
        if not self.ordered:
            return any(x.start >= lo and x.end <= hi for x in self.items)
        a, b = self._range(lo, hi)
        return a < b

    def nearest(self, lo: int, hi: int, start: int, end: int) -> Any | None:
        """The item within ``[lo, hi]`` nearest to ``[start, end]`` (the first on ties).

        The same item as :func:`_nearest` on the items within: in order, the distance
        falls, is 0 over the items overlapping the span, then rises, so only the last item
        ending before ``start`` (the first of its end) and the next one can be nearest.
        """
        if not self.ordered:
            inside = [x for x in self.items if x.start >= lo and x.end <= hi]
            i = _nearest(inside, start, end)
            return inside[i] if i is not None else None
        a, b = self._range(lo, hi)
        return self._nearest_in(a, b, start, end)

    def nearest_ending_by(self, pos: int, start: int, end: int) -> Any | None:
        """The item with ``end <= pos`` nearest to ``[start, end]`` (the first on ties)."""
        if not self.ordered:
            inside = [x for x in self.items if x.end <= pos]
            i = _nearest(inside, start, end)
            return inside[i] if i is not None else None
        return self._nearest_in(0, bisect.bisect_right(self.ends, pos), start, end)

    def _nearest_in(self, a: int, b: int, start: int, end: int) -> Any | None:
        if a >= b:
            return None
        j = min(max(bisect.bisect_left(self.ends, start, a, b), a), b)
        best: int | None = None
        best_dist = 0
        if j - 1 >= a:
            best = max(a, bisect.bisect_left(self.ends, self.ends[j - 1], a, b))
            best_dist = start - self.ends[j - 1]
        if j < b:
            dist = max(0, self.starts[j] - end, start - self.ends[j])
            if best is None or dist < best_dist:
                best = j
        return self.items[best] if best is not None else None


#: Where a sentence splits into clauses with their own dates and venues.
_CLAUSE = re.compile(r",?\s+(?:while|whereas|but)\s+|;\s*|\s+[—–]\s+|"
                     r",\s+(?:and|as|after|before)\s+", re.IGNORECASE)
_SINCE = re.compile(r"^since\b", re.IGNORECASE)
_SINCE_BEFORE = re.compile(r"\bsince\s+(?:the\s+)?$", re.IGNORECASE)


def _claim_rows(pub: Publication, sentence: Sentence, moves: Sequence[StatedMove],
                refs: Sequence[DateRef], venues: Sequence[Venue],
                first_id: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    text = sentence.text
    past_refs = [r for r in refs if r.tense != "future" and not _SINCE.match(r.expression)
                 and not _SINCE_BEFORE.search(_tail(text, r.start))]
    clauses = [m.start() for m in _CLAUSE.finditer(text)]  # ascending
    # Linear in the sentence: clauses, venues and dates are found by bisection when they
    # are in order (they are: each comes from one left-to-right scan), else by a scan.
    v_index, r_index = _Spans(venues), _Spans(past_refs)
    first_venue: dict[str, Venue] = {}
    for x in venues:
        first_venue.setdefault(x.exchange, x)
    for move in moves:
        cue = move.cue
        k = bisect.bisect_right(clauses, cue.start)
        lo = max(0, clauses[k - 1]) if k else 0
        hi = min(len(text), clauses[k]) if k < len(clauses) else len(text)
        near_venue = v_index.nearest(lo, hi, cue.start, cue.end)
        ref = (r_index.nearest(lo, hi, cue.start, cue.end) if r_index.any_within(lo, hi)
               else r_index.nearest_ending_by(cue.start, cue.start, cue.end))
        for subject in move.subjects:
            entity = subject.entity
            notes: list[str] = []
            venue = near_venue if near_venue is not None else (
                first_venue.get(entity.exchange) if entity.exchange else None)
            exchange = entity.exchange or (venue.exchange if venue else None)
            if venue and entity.exchange and venue.exchange != entity.exchange:
                notes.append(f"venue {venue.text!r} ({venue.exchange}) is not the listing "
                             f"exchange {entity.exchange}")
            at = session_at(pub, exchange) if exchange else None
            if ref is not None:
                first, last = ref.first, ref.last
                if at is not None and at.date is not None and last > at.date:
                    last = max(first, at.date)
                basis = f"{ref.expression!r}: {ref.rule}"
            elif at is not None and at.date is not None:
                first = last = at.date
                basis = f"undated: the {exchange} session under way or last closed at publication"
            else:
                first = last = pub.date
                basis = "undated: the publication date"
            in_progress = day_in_progress(pub, exchange, last) if exchange else "unknown"
            precision = "day" if first == last else "range"
            if cue.wording:
                kind = cue.wording
                kind_basis = "wording: " + (cue.qualifier or cue.text.lower())
            elif precision == "day" and in_progress == "yes":
                kind = "intraday_level"
                kind_basis = "timing: published while that session traded"
            elif precision == "day" and in_progress == "unknown":
                kind = "intraday_level"
                kind_basis = ("timing: publication time unknown, so checked as a level "
                              "reached during the session")
            else:
                kind = "close_to_close"
                kind_basis = "timing: published after that session closed" if (
                    precision == "day") else "range: change over the period"
            if subject.status == "unknown":
                notes.append("company not in the gazetteer; add it with --entities")
            elif subject.status == "unlisted":
                notes.append(f"{entity.name} is not listed")
            rows.append({
                "claim_id": f"c{first_id + len(rows)}",
                "ticker": entity.ticker or "",
                "exchange": exchange or "",
                "company": entity.name,
                "status": subject.status,
                "subject_text": subject.surface,
                "subject_basis": move.basis,
                "date_start": _date_str(first),
                "date_end": _date_str(last),
                "date_precision": precision,
                "date_basis": basis,
                "direction": cue.direction,
                "magnitude_pct": cue.magnitude,
                "qualifier": cue.qualifier,
                "bound": QUALIFIERS.get(cue.qualifier, "exact") if cue.magnitude is not None
                else "direction",
                "kind": kind,
                "kind_basis": kind_basis,
                "reversal": cue.reversal,
                "venue": venue.text if venue else "",
                "venue_exchange": venue.exchange if venue else "",
                "in_progress": in_progress,
                "published": pub.describe(),
                "sentence": sentence.number,
                "line": sentence.line,
                "char_start": sentence.start,
                "char_end": sentence.end,
                "cue": cue.text,
                "note": "; ".join(notes),
            })
    return rows


def extract_article(
    text: str,
    publication: Publication,
    gazetteer: Gazetteer,
    *,
    source: str = "<text>",
    event_prefix: str = "article",
    headline: str | None = None,
    news_source: str = "",
) -> Extraction:
    """Extract events, stated price moves, entities and dates from an article.

    Parameters
    ----------
    text : str
        The article (plain text).
    publication : Publication
        When it was published (:func:`marketreact.articles.dates.parse_publication`).
    gazetteer : Gazetteer
        Names and aliases to look for.
    source : str
        Name of the article (for messages).
    event_prefix : str
        Start of every ``event_id``.
    headline : str, optional
        Headline for the events (default: the one found in the text).
    news_source : str
        Value of the events' ``source`` column.

    Returns
    -------
    Extraction
    """
    article = parse_article(text, source)
    pub = publication
    prefix = _slug(event_prefix)
    notes: list[str] = []
    claim_rows: list[dict[str, object]] = []
    date_rows: list[dict[str, object]] = []
    seen: dict[str, dict[str, object]] = {}
    recent: list[list[Mention]] = []
    refs_events: list[tuple[Mention, DateRef, Sentence]] = []
    members: dict[tuple[str, str], set[object]] = {}
    for sentence in article.sentences:
        found = gazetteer.find(sentence.text)
        mentions = sorted([*found, *unknown_companies(sentence.text, found)],
                          key=lambda m: m.start)
        for m in mentions:
            rec = seen.setdefault(_entity_key(m), {
                "name": m.entity.name, "status": m.status, "ticker": m.entity.ticker or "",
                "exchange": m.entity.exchange or "", "market": m.entity.market or "",
                "kind": m.entity.kind, "mentions": 0, "first_sentence": sentence.number,
                "sentences": [], "as_written": [], "note": m.entity.note, "claims": 0})
            rec["mentions"] = int(str(rec["mentions"])) + 1
            for key, value in (("sentences", sentence.number), ("as_written", m.surface)):
                bucket = rec[key]
                assert isinstance(bucket, list)
                member = members.setdefault((_entity_key(m), key), set())
                if value not in member:  # a set beside the list: linear, not quadratic
                    member.add(value)
                    bucket.append(value)
        refs = find_dates(sentence.text, pub.date)
        venues = find_venues(sentence.text)
        listed = [m for m in mentions if m.status in ("listed", "stated")]
        # the same for every date of the sentence: joined once (linear in its length)
        tickers = ";".join(dict.fromkeys(m.entity.ticker or "" for m in listed)) if refs else ""
        entities = ";".join(dict.fromkeys(m.entity.name for m in mentions)) if refs else ""
        for ref in refs:
            date_rows.append({
                "expression": ref.expression, "first": _date_str(ref.first),
                "last": _date_str(ref.last), "precision": ref.precision, "tense": ref.tense,
                "rule": ref.rule,
                "tickers": tickers, "entities": entities,
                "sentence": sentence.number, "line": sentence.line,
                "char_start": sentence.start + ref.start, "char_end": sentence.start + ref.end})
        previous = [m for ms in recent[-2:] for m in ms]
        moves = stated_moves(sentence.text, mentions, previous, bool(venues))
        if not moves:
            refs_events.extend((m, ref, sentence) for ref in refs for m in listed
                               if ref.precision == "day" and ref.tense == "past")
        rows = _claim_rows(pub, sentence, moves, refs, venues, len(claim_rows) + 1)
        for row in rows:
            key = str(row["ticker"]) or f"{row['status']}:{row['company']}"
            if key in seen:
                seen[key]["claims"] = int(str(seen[key]["claims"])) + 1
        claim_rows.extend(rows)
        recent.append(listed)
    events = _events(article, pub, seen, refs_events, prefix, headline, news_source, notes)
    entities = pd.DataFrame(
        [{**{k: v for k, v in rec.items() if k != "claims"},
          "sentences": ";".join(str(s) for s in rec["sentences"]),  # type: ignore[attr-defined]
          "as_written": ";".join(rec["as_written"])}  # type: ignore[arg-type]
         for rec in seen.values()], columns=list(ENTITY_COLUMNS))
    claims = pd.DataFrame(claim_rows, columns=list(CLAIM_COLUMNS))
    dates = pd.DataFrame(date_rows, columns=list(DATE_COLUMNS))
    if not len(entities):
        notes.append("no known company found; extend the gazetteer with --entities")
    unknown = entities.loc[entities["status"] == "unknown", "name"].tolist()
    if unknown:
        notes.append(f"companies not in the gazetteer (no ticker given): {', '.join(unknown)}")
    return Extraction(article, pub, events, claims, entities, dates, tuple(notes))


def _events(article: Article, pub: Publication, seen: dict[str, dict[str, object]],
            refs: Sequence[tuple[Mention, DateRef, Sentence]], prefix: str,
            headline: str | None, news_source: str, notes: list[str]) -> pd.DataFrame:
    title = headline if headline is not None else article.headline
    if not title and article.sentences:
        first = article.sentences[0].text
        title = first if len(first) <= 160 else first[:157] + "..."
    rows: list[dict[str, object]] = []
    for rec in seen.values():
        if rec["status"] not in ("listed", "stated") or rec["kind"] == "index":
            continue
        ticker = str(rec["ticker"])
        exchange = str(rec["exchange"])
        when = event_time(pub, exchange)
        if when.timing == "unknown" and pub.timing != "unknown" and " or " in when.note:
            notes.append(f"{ticker}: {when.note}")
        rows.append({
            "event_id": f"{prefix}-{_slug(ticker.split('.')[0].lstrip('^'))}",
            "ticker": ticker, "exchange": exchange, "market": rec["market"],
            "timestamp": when.timestamp.isoformat() if when.timestamp is not None else "",
            "date": _date_str(when.date), "timing": when.timing,
            "headline": title, "source": news_source, "news": "article",
            "company": rec["name"], "mentions": rec["mentions"], "claims": rec["claims"],
            "sentence": rec["first_sentence"], "date_basis": when.note,
        })
    for mention, ref, sentence in refs:
        entity = mention.entity
        if entity.kind == "index" or not entity.ticker or not entity.exchange:
            continue
        base = _slug(entity.ticker.split(".")[0].lstrip("^"))
        event_id = f"{prefix}-{base}-{_date_str(ref.first)}"
        if any(r["event_id"] == event_id for r in rows):
            continue
        rows.append({
            "event_id": event_id, "ticker": entity.ticker, "exchange": entity.exchange,
            "market": entity.market or "", "timestamp": "", "date": _date_str(ref.first),
            "timing": "unknown", "headline": title, "source": news_source, "news": "reference",
            "company": entity.name, "mentions": 1, "claims": 0, "sentence": sentence.number,
            "date_basis": f"{ref.expression!r} in sentence {sentence.number}: {ref.rule}",
        })
    if not rows:
        notes.append("no listed company named: events.csv has no events")
    return pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
