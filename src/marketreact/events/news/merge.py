"""News catalogues: stable ids, near-duplicate links and appending only what is new.

A news catalogue is an event catalogue (:func:`marketreact.events.read_events` reads it)
with these columns, one row per story and ticker:

``event_id`` (``<source>-<TICKER>-<key>``: the key is the source's own id, the EDGAR
accession number or a hash of the feed's item id, so the same item always gets the same
id), ``ticker``, ``timestamp`` (UTC, ISO 8601 with ``+00:00``), ``headline``, ``summary``,
``source`` (``yahoo``, ``rss``, ``edgar``), ``publisher``, ``url``, ``form`` (EDGAR form
type), ``related`` (other tickers the source names, ``|``-separated), ``item_id`` (the
source's id), ``time_basis`` (how the time was read, see :mod:`.edgar`),
``linked_ids`` and ``linked_urls`` (the later near-duplicates linked to this row).

Near-duplicates: two items of the same ticker whose normalised titles score at least
``threshold`` with rapidfuzz's ``token_sort_ratio`` and whose times are at most
``window`` apart are one story. The earliest keeps the row (first timestamp wins: a
backtest must not enter on the later copy); the others' ids and URLs are kept in its
``linked_ids`` / ``linked_urls`` so that fetching again does not bring them back.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from marketreact._typing import StrPath
from marketreact.errors import InputError, InputProblem

CATALOGUE_COLUMNS = ("event_id", "ticker", "timestamp", "headline", "summary", "source",
                     "publisher", "url", "form", "related", "item_id", "time_basis",
                     "linked_ids", "linked_urls")
#: Default time window and rapidfuzz score (0-100) for near-duplicates.
DEFAULT_WINDOW = pd.Timedelta(hours=24)
DEFAULT_THRESHOLD = 90.0
_SEP = "|"
_PUBLISHER_SUFFIX = re.compile(r"\s+[-|–—]\s+[A-Z][\w.&'’]*(?:\s+[A-Z][\w.&'’]*){0,3}$")


def item_key(source: str, item_id: str) -> str:
    """The stable part of an event id: the accession number for EDGAR, else a hash."""
    if source == "edgar" and re.fullmatch(r"\d{10}-\d{2}-\d{6}", item_id):
        return item_id
    return hashlib.sha1(item_id.encode("utf-8")).hexdigest()[:12]


def news_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows (with ``timestamp`` as UTC Timestamps) as a catalogue frame with ids.

    Returns
    -------
    pandas.DataFrame
        :data:`CATALOGUE_COLUMNS`, ``timestamp`` as ``datetime64[ns, UTC]`` floored to
        the second.
    """
    frame = pd.DataFrame(list(rows), columns=[c for c in CATALOGUE_COLUMNS if c != "event_id"])
    frame = frame.astype(object).fillna("")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).dt.floor("s")
    ids = [f"{s}-{t}-{item_key(s, str(i))}" for s, t, i in
           zip(frame["source"], frame["ticker"], frame["item_id"], strict=True)]
    frame.insert(0, "event_id", ids)
    frame = frame.drop_duplicates("event_id", keep="first")
    return frame[list(CATALOGUE_COLUMNS)].reset_index(drop=True)


def normalise_title(title: str) -> str:
    """Fold a headline for comparison.

    Unicode NFKC, a trailing `` - Publisher`` / `` | Publisher`` dropped (one to four
    capitalised words after a dash or bar, as feeds append ``- Reuters``), case-folded,
    every run of non-alphanumerics made one space.
    """
    text = unicodedata.normalize("NFKC", str(title)).strip()
    text = _PUBLISHER_SUFFIX.sub("", text).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def _split(cell: Any) -> list[str]:
    return [p for p in str(cell or "").split(_SEP) if p]


def link_duplicates(frame: pd.DataFrame, *, window: pd.Timedelta = DEFAULT_WINDOW,
                    threshold: float = DEFAULT_THRESHOLD) -> tuple[pd.DataFrame, int]:
    """Keep the first of every near-duplicate story and link the rest to it.

    Parameters
    ----------
    frame : pandas.DataFrame
        Catalogue rows (:data:`CATALOGUE_COLUMNS`, ``timestamp`` UTC Timestamps).
    window : pandas.Timedelta
        Largest time between two copies of one story.
    threshold : float
        Smallest rapidfuzz ``token_sort_ratio`` (0-100) of the normalised titles.

    Returns
    -------
    frame : pandas.DataFrame
        One row per story, in the order of ``frame``; each kept row's ``linked_ids``
        and ``linked_urls`` gain the ids and URLs of the copies linked to it (and
        those the copies carried).
    linked : int
        Rows folded into an earlier one.
    """
    from rapidfuzz import fuzz

    if frame.empty:
        return frame.copy(), 0
    order = frame.assign(_pos=range(len(frame)))
    order = order.sort_values(["timestamp", "_pos"], kind="stable")
    titles = {p: normalise_title(h) for p, h in zip(order["_pos"], order["headline"],
                                                     strict=True)}
    keep: dict[int, int] = {}  # row position -> representative position
    reps_by_ticker: dict[str, list[tuple[pd.Timestamp, int]]] = {}
    for pos, ticker, ts in zip(order["_pos"], order["ticker"], order["timestamp"], strict=True):
        reps = reps_by_ticker.setdefault(ticker, [])
        while reps and ts - reps[0][0] > window:
            reps.pop(0)
        best, best_score = None, -1.0
        for rep_ts, rep in reps:
            score = fuzz.token_sort_ratio(titles[pos], titles[rep])
            if score >= threshold and score > best_score and ts - rep_ts <= window:
                best, best_score = rep, score
        if best is None:
            keep[pos] = pos
            reps.append((ts, pos))
        else:
            keep[pos] = best
    ids = frame["event_id"].tolist()
    urls = frame["url"].tolist()
    dup_ids = [_split(c) for c in frame["linked_ids"]]
    dup_urls = [_split(c) for c in frame["linked_urls"]]
    for pos, rep in keep.items():
        if pos == rep:
            continue
        for target, extra in ((dup_ids, [ids[pos], *dup_ids[pos]]),
                              (dup_urls, [urls[pos], *dup_urls[pos]])):
            target[rep].extend(x for x in extra if x and x not in target[rep])
    out = frame.copy()
    out["linked_ids"] = [_SEP.join(v) for v in dup_ids]
    out["linked_urls"] = [_SEP.join(v) for v in dup_urls]
    mask = [keep[p] == p for p in range(len(frame))]
    return out.loc[mask].reset_index(drop=True), len(frame) - sum(mask)


@dataclass(frozen=True)
class MergeResult:
    """A catalogue grown by new items.

    Attributes
    ----------
    frame : pandas.DataFrame
        The whole catalogue: the rows it had, in their order, then the new rows by time.
    added : int
        New rows.
    known : int
        Items already in the catalogue (as a row or as a linked duplicate).
    linked : int
        New items linked to an earlier story instead of getting a row.
    superseded : tuple of str
        Ids of rows that were in the catalogue and are now linked to an earlier item
        fetched this time (first timestamp wins).
    """

    frame: pd.DataFrame
    added: int
    known: int
    linked: int
    superseded: tuple[str, ...] = ()


def merge_news(existing: pd.DataFrame | None, new: pd.DataFrame, *,
               window: pd.Timedelta = DEFAULT_WINDOW,
               threshold: float = DEFAULT_THRESHOLD) -> MergeResult:
    """Append the items of ``new`` that ``existing`` does not hold yet.

    Parameters
    ----------
    existing : pandas.DataFrame or None
        The catalogue so far (from :func:`read_news_catalogue`), or None.
    new : pandas.DataFrame
        Fetched rows (:func:`news_frame`).
    window, threshold
        See :func:`link_duplicates`.

    Returns
    -------
    MergeResult
    """
    old = existing if existing is not None else news_frame([])
    seen = set(old["event_id"])
    for cell in old["linked_ids"]:
        seen.update(_split(cell))
    fresh = new.loc[~new["event_id"].isin(seen)].drop_duplicates("event_id")
    known = len(new) - len(fresh)
    fresh = fresh.sort_values(["timestamp", "event_id"], kind="stable")
    both = pd.concat([old.assign(_old=True), fresh.assign(_old=False)], ignore_index=True)
    merged, _ = link_duplicates(both, window=window, threshold=threshold)
    kept = set(merged["event_id"])
    superseded = tuple(i for i in old["event_id"] if i not in kept)
    added = int((~merged["_old"].astype(bool)).sum())
    linked = len(fresh) - added
    merged = merged.drop(columns="_old")
    return MergeResult(merged[list(CATALOGUE_COLUMNS) + [c for c in merged.columns
                                                          if c not in CATALOGUE_COLUMNS]],
                       added, known, linked, superseded)


def read_news_catalogue(path: StrPath) -> pd.DataFrame | None:
    """Read a news catalogue written before (None when the file does not exist).

    Columns it lacks are added empty; other columns are kept. Raises
    :class:`~marketreact.errors.InputError` when it is not a catalogue (no
    ``event_id``, ``ticker``, ``timestamp`` or ``headline`` column, or a timestamp
    without an offset).
    """
    path = Path(path)
    if not path.exists():
        return None
    source = str(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError([InputProblem(source, None, None, None,
                                       f"cannot read the catalogue to append to: {exc}")]
                         ) from None
    missing = [c for c in ("event_id", "ticker", "timestamp", "headline") if c not in raw]
    if missing:
        raise InputError([InputProblem(source, 1, m, None,
                                       "required column is missing (is this a news "
                                       "catalogue written by `news fetch`?)") for m in missing])
    for col in CATALOGUE_COLUMNS:
        if col not in raw:
            raw[col] = ""
    stamps = pd.to_datetime(raw["timestamp"], utc=True, format="ISO8601", errors="coerce")
    bad = stamps.isna() | ~raw["timestamp"].str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$")
    if bad.any():
        line = int(bad.to_numpy().nonzero()[0][0]) + 2
        raise InputError([InputProblem(source, line, "timestamp",
                                       raw["timestamp"].iloc[line - 2],
                                       "not an ISO 8601 time with an offset")])
    raw["timestamp"] = stamps
    return raw[list(CATALOGUE_COLUMNS) + [c for c in raw.columns if c not in CATALOGUE_COLUMNS]]


def to_csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The catalogue with ``timestamp`` written as ISO 8601 UTC text (``+00:00``)."""
    out = frame.copy()
    out["timestamp"] = [t.tz_convert("UTC").isoformat() for t in out["timestamp"]]
    return out


def rows_by_ticker(frame: pd.DataFrame, tickers: Iterable[str]) -> dict[str, int]:
    """Rows per ticker (every ticker of ``tickers`` named, zero when absent)."""
    counts = frame["ticker"].value_counts()
    return {t: int(counts.get(t, 0)) for t in tickers}
