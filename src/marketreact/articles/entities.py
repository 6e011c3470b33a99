"""The gazetteer: company names and aliases mapped to tickers, and finding them in text.

A gazetteer is a CSV file with one entity per row::

    name,aliases,ticker,exchange,market,kind,listed,note
    GoTo Gojek Tokopedia,GoTo|Gojek|Tokopedia,GOTO.JK,XIDX,,company,true,
    TikTok,TikTok|TikTok Shop,,,,company,false,owned by ByteDance

Only ``name`` is required. ``aliases`` are separated by ``|`` (the name is
always an alias too); ``ticker`` is a Yahoo symbol; ``exchange`` a MIC or a
common name (taken from the ticker's suffix when blank); ``market`` the index
to use for this company in a study (blank: the exchange's default);
``kind`` is ``company``, ``index``, ``fund`` or ``other``; ``listed`` is
true/false (default: true when there is a ticker). An unlisted entity has no
ticker, by rule: the tool never invents one.

Matching rules
--------------
* Aliases match case-sensitively (company names are proper nouns) on whole
  words, after folding accents and typographic apostrophes on both sides
  (``Nestle`` finds ``Nestlé``); the longest alias wins where aliases overlap
  (``TikTok Shop`` before ``TikTok``).
* A ticker with an exchange suffix (``GOTO.JK``) is an alias of its entity.
* A ticker stated in the text as ``(IDX: GOTO)``, ``(NYSE: SE)``... names
  its entity; when the gazetteer does not know it, the mention is reported with
  the stated ticker and status ``stated``.
* The package ships a starter gazetteer (``marketreact/data/entities.csv``);
  a user's file adds entities and overrides starter entities with the same
  name or ticker, and takes over any alias it lists.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from marketreact._textio import check_regular_file
from marketreact._typing import StrPath
from marketreact.articles.text import Coverage, decode_article, fold
from marketreact.calendar import exchange_for_ticker, normalise_exchange
from marketreact.errors import InputError, InputProblem

KINDS = ("company", "index", "fund", "other")
_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}
_COLUMNS = ("name", "aliases", "ticker", "exchange", "market", "kind", "listed", "note")

#: Exchange names used in "(IDX: GOTO)"-style ticker statements -> Yahoo suffix.
STATED_EXCHANGES: dict[str, str] = {
    "IDX": ".JK", "JK": ".JK", "NYSE": "", "NASDAQ": "", "AMEX": "", "HKEX": ".HK", "HK": ".HK",
    "SGX": ".SI", "LSE": ".L", "ASX": ".AX", "TSE": ".T", "TYO": ".T", "TSX": ".TO",
    "KRX": ".KS", "BURSA": ".KL", "SET": ".BK",
}
_STATED = re.compile(
    r"\(\s*(?P<exch>" + "|".join(sorted(STATED_EXCHANGES, key=len, reverse=True))
    + r")\s*:\s*(?P<code>[A-Z0-9][A-Z0-9.]{0,9})\s*\)",
    re.IGNORECASE,
)
_NAME_BEFORE = re.compile(r"((?:[A-Z][\w&.'-]*\s+){1,4})$")


@dataclass(frozen=True)
class Entity:
    """A company, index or fund that articles mention.

    Attributes
    ----------
    name : str
        Canonical name.
    ticker : str or None
        Yahoo symbol; None for an unlisted entity.
    exchange : str or None
        MIC of the listing exchange's calendar.
    market : str or None
        Market index to use in a study (None: the exchange's default).
    kind : str
        ``company``, ``index``, ``fund`` or ``other``.
    listed : bool
        Whether the entity trades (an unlisted one never has a ticker).
    aliases : tuple of str
        Names that refer to it in text (the name included).
    note : str
        Free text.
    origin : str
        ``file:line`` where the entity was defined.
    """

    name: str
    ticker: str | None
    exchange: str | None
    market: str | None = None
    kind: str = "company"
    listed: bool = True
    aliases: tuple[str, ...] = ()
    note: str = ""
    origin: str = ""

    @property
    def status(self) -> str:
        """``listed`` or ``unlisted``."""
        return "listed" if self.listed else "unlisted"


@dataclass(frozen=True)
class Mention:
    """An entity found in a text.

    Attributes
    ----------
    entity : Entity
        What was found (for status ``unknown`` or ``stated``, an entity made
        from the text: no ticker, or the ticker the text states).
    start, end : int
        Offsets of the matched words in the searched text.
    surface : str
        The words as written.
    status : str
        ``listed``, ``unlisted``, ``stated`` (ticker stated in the text, not
        in the gazetteer) or ``unknown`` (a company name the gazetteer does not
        know).
    """

    entity: Entity
    start: int
    end: int
    surface: str
    status: str


@dataclass(frozen=True)
class Gazetteer:
    """A set of entities and their aliases.

    Attributes
    ----------
    entities : tuple of Entity
    sources : tuple of str
        The files the entities came from.
    """

    entities: tuple[Entity, ...]
    sources: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.entities)

    @functools.cached_property
    def _alias_map(self) -> dict[str, Entity]:
        out: dict[str, Entity] = {}
        for entity in self.entities:
            for alias in entity.aliases:
                out.setdefault(fold(alias), entity)
            if entity.ticker and "." in entity.ticker:
                out.setdefault(fold(entity.ticker), entity)
        return out

    @functools.cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        keys = sorted(self._alias_map, key=lambda a: (-len(a), a))
        if not keys:
            return None
        return re.compile(r"(?<![\w.])(?:" + "|".join(re.escape(k) for k in keys) + r")(?![\w])")

    @functools.cached_property
    def _by_ticker(self) -> dict[str, Entity]:
        return {e.ticker.upper(): e for e in self.entities if e.ticker}

    def by_ticker(self, ticker: str) -> Entity | None:
        """Return the entity with ``ticker``, or None."""
        return self._by_ticker.get(ticker.upper())

    def by_name(self, name: str) -> Entity | None:
        """Return the entity whose name or alias is ``name`` (folded, exact case), or None."""
        return self._alias_map.get(fold(name))

    def find(self, text: str) -> list[Mention]:
        """Find the gazetteer's entities (and stated tickers) in ``text``.

        Parameters
        ----------
        text : str
            Any text (a sentence).

        Returns
        -------
        list of Mention
            In order of position, without overlaps.
        """
        folded = fold(text)
        found: list[Mention] = []
        taken: list[tuple[int, int]] = []
        for match in _STATED.finditer(text):
            suffix = STATED_EXCHANGES[match.group("exch").upper()]
            code = match.group("code").upper()
            ticker = code if code.endswith(suffix) or not suffix else code + suffix
            entity = self.by_ticker(ticker)
            if entity is not None:
                found.append(Mention(entity, match.start(), match.end(), match.group(0),
                                     entity.status))
            else:
                before = _NAME_BEFORE.search(text[: match.start()])
                name = before.group(1).strip() if before else ticker
                stated = Entity(name, ticker, exchange_for_ticker(ticker), listed=True,
                                aliases=(name,), origin="stated in the article")
                start = before.start(1) if before else match.start()
                found.append(Mention(stated, start, match.end(), text[start:match.end()],
                                     "stated"))
            taken.append((found[-1].start, found[-1].end))
        if self._pattern is not None:
            for match in self._pattern.finditer(folded):
                if any(s < match.end() and match.start() < e for s, e in taken):
                    continue
                entity = self._alias_map[match.group(0)]
                found.append(Mention(entity, match.start(), match.end(),
                                     text[match.start():match.end()], entity.status))
        found.sort(key=lambda m: m.start)
        out: list[Mention] = []
        for m in found:
            prev = out[-1] if out else None
            if (prev is not None and prev.entity is m.entity and m.surface.startswith("(")
                    and not text[prev.end:m.start].strip()):
                continue
            out.append(m)
        return out


def _parse_bool(text: str) -> bool | None:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    return None


def parse_gazetteer(text: str, source: str) -> Gazetteer:
    """Parse gazetteer CSV text (see the module docstring for the columns).

    Raises
    ------
    InputError
        Listing every problem with its file, line and field.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise InputError([InputProblem(source, 1, None, None, "file is empty")]) from None
    problems: list[InputProblem] = []
    if "name" not in header:
        raise InputError([InputProblem(source, 1, "name", None, "required column is missing")])
    unknown = [h for h in header if h not in _COLUMNS]
    if unknown:
        raise InputError([InputProblem(source, 1, h, None,
                                       f"unknown column (expected {', '.join(_COLUMNS)})")
                          for h in unknown])
    entities: list[Entity] = []
    owner: dict[str, tuple[str, int]] = {}
    line = reader.line_num + 1
    for row in reader:
        here = line
        line = reader.line_num + 1
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            problems.append(InputProblem(source, here, None, None,
                                         f"row has {len(row)} fields, header has {len(header)}"))
            continue
        rec = {h: c.strip() for h, c in zip(header, row, strict=True)}
        name = rec["name"]
        if not name:
            problems.append(InputProblem(source, here, "name", "", "value is empty"))
            continue
        ticker = rec.get("ticker", "").upper() or None
        listed_text = rec.get("listed", "")
        listed = _parse_bool(listed_text) if listed_text else ticker is not None
        if listed is None:
            problems.append(InputProblem(source, here, "listed", listed_text,
                                         "must be true or false"))
            continue
        if listed and ticker is None:
            problems.append(InputProblem(source, here, "ticker", "",
                                         "a listed entity needs a ticker"))
            continue
        if not listed and ticker is not None:
            problems.append(InputProblem(source, here, "ticker", ticker,
                                         "an unlisted entity cannot have a ticker"))
            continue
        if ticker is not None and re.search(r"\s", ticker):
            problems.append(InputProblem(source, here, "ticker", ticker,
                                         "ticker contains spaces"))
            continue
        exchange: str | None = None
        if rec.get("exchange"):
            exchange = normalise_exchange(rec["exchange"])
            if exchange is None:
                problems.append(InputProblem(source, here, "exchange", rec["exchange"],
                                             "unknown exchange (use a MIC such as XIDX or XNYS)"))
                continue
        elif ticker is not None:
            exchange = exchange_for_ticker(ticker)
            if exchange is None:
                problems.append(InputProblem(
                    source, here, "exchange", "",
                    "cannot tell the exchange from the ticker; fill in the exchange column"))
                continue
        kind = rec.get("kind", "").lower() or "company"
        if kind not in KINDS:
            problems.append(InputProblem(source, here, "kind", rec["kind"],
                                         f"must be one of {', '.join(KINDS)}"))
            continue
        aliases = tuple(dict.fromkeys(
            [name, *(a.strip() for a in rec.get("aliases", "").split("|") if a.strip())]))
        clash = False
        for alias in aliases:
            key = fold(alias)
            if key in owner and owner[key][0] != name:
                problems.append(InputProblem(
                    source, here, "aliases", alias,
                    f"alias already used by {owner[key][0]!r} (line {owner[key][1]})"))
                clash = True
            owner.setdefault(key, (name, here))
        if clash:
            continue
        entities.append(Entity(name, ticker, exchange, rec.get("market", "").upper() or None,
                               kind, listed, aliases, rec.get("note", ""), f"{source}:{here}"))
    if problems:
        raise InputError(problems)
    return Gazetteer(tuple(entities), (source,))


def read_gazetteer(path: StrPath) -> Gazetteer:
    """Read a gazetteer CSV file.

    Raises
    ------
    InputError
        When the file is missing, not UTF-8, or has invalid rows.
    """
    path = Path(path)
    check_regular_file(path, "entity file")
    return parse_gazetteer(decode_article(path.read_bytes(), str(path)), str(path))


def builtin_gazetteer() -> Gazetteer:
    """Return the starter gazetteer shipped with marketreact (``data/entities.csv``)."""
    ref = resources.files("marketreact") / "data" / "entities.csv"
    return parse_gazetteer(ref.read_text(encoding="utf-8"), "marketreact/data/entities.csv")


def merge_gazetteers(base: Gazetteer, extra: Gazetteer) -> Gazetteer:
    """Add ``extra``'s entities to ``base``.

    An entity of ``extra`` replaces a ``base`` entity with the same name or
    ticker, and takes its aliases away from any other ``base`` entity.
    """
    names = {e.name.casefold() for e in extra.entities}
    tickers = {e.ticker for e in extra.entities if e.ticker}
    taken = {fold(a) for e in extra.entities for a in e.aliases}
    kept: list[Entity] = []
    for entity in base.entities:
        if entity.name.casefold() in names or (entity.ticker and entity.ticker in tickers):
            continue
        aliases = tuple(a for a in entity.aliases if fold(a) not in taken)
        if not aliases:
            continue
        kept.append(Entity(entity.name, entity.ticker, entity.exchange, entity.market,
                           entity.kind, entity.listed, aliases, entity.note, entity.origin))
    return Gazetteer(tuple(kept) + extra.entities, base.sources + extra.sources)


def load_gazetteer(paths: Iterable[StrPath] = (), *, builtin: bool = True) -> Gazetteer:
    """Return the starter gazetteer (unless ``builtin=False``) extended by users' files."""
    result = builtin_gazetteer() if builtin else Gazetteer(())
    for path in paths:
        result = merge_gazetteers(result, read_gazetteer(path))
    return result


def unknown_companies(text: str, known: Sequence[Mention]) -> list[Mention]:
    """Find company names the gazetteer does not know.

    Two cues mark a name as a company: a corporate suffix (``Ltd``, ``Inc``,
    ``Corp``, ``Group``, ``Holdings``, ``Tbk``, ``plc``, ...; or the
    Indonesian prefix ``PT``), or share wording around it (``shares of X``,
    ``X's shares``, ``X shares``, ``X stock``). Words already matched by the
    gazetteer, function words and place names are left out.

    Returns
    -------
    list of Mention
        With status ``unknown`` and an entity without a ticker.
    """
    out: list[Mention] = []
    spans = Coverage((m.start, m.end) for m in known)
    for pattern in (_SUFFIXED, _SHARES_OF, _X_SHARES):
        for match in pattern.finditer(text):
            base = match.start("name")
            words = [(base + w.start(), base + w.end(), w.group(0).rstrip(",;:"))
                     for w in re.finditer(r"\S+", match.group("name"))]
            words = [(s, s + len(w), w) for s, _, w in words]
            while words and _plain(words[0][2]) in _NOT_NAMES:
                words = words[1:]
            while words and _plain(words[-1][2]) in _NOT_NAMES:
                words = words[:-1]
            if not words:
                continue
            start, end = words[0][0], words[-1][1]
            name = re.sub(r"['’]s$", "", text[start:end])
            end = start + len(name)
            if spans.overlaps(start, end):
                continue
            spans.add(start, end)
            out.append(Mention(Entity(name, None, None, listed=False, aliases=(name,),
                                      origin="not in the gazetteer"), start, end, name,
                               "unknown"))
    out.sort(key=lambda m: m.start)
    return out


def _plain(word: str) -> str:
    return re.sub(r"['’]s?$", "", word)


_CAP = r"[A-Z][\w&'’.-]*"
_SUFFIX_WORDS = (r"(?:Ltd|Limited|Inc|Incorporated|Corp|Corporation|Co|Group|Holdings?|Tbk|plc|PLC|"
                 r"AG|NV|LLC|Bhd|Berhad|GmbH|SpA|Pte)\b\.?")
_SUFFIXED = re.compile(r"(?P<name>(?:\bPT\s+)?(?:" + _CAP + r"\s+){1,4}" + _SUFFIX_WORDS + r")")
_SHARES_OF = re.compile(r"\b(?i:shares|stock)\s+(?:in|of)\s+(?P<name>(?:PT\s+)?" + _CAP
                        + r"(?:\s+" + _CAP + r"){0,3})")
_X_SHARES = re.compile(r"(?P<name>(?:PT\s+)?" + _CAP + r"(?:\s+" + _CAP + r"){0,3})"
                       r"\s+(?:shares|stock|share price)\b")
_NOT_NAMES = frozenset(
    """The A An Its Their His Her Our This That These Those Shares Share Stock Stocks Investors
    Analysts Traders In On At After Before While When As And But Or Both Other Some Many Most
    Meanwhile However Elsewhere Also Local Tech Technology Bank Banks Asia Asian
    Jakarta Indonesia Indonesian Singapore Malaysia Malaysian China Chinese Japan Japanese US U.S.
    America American Europe European Hong Kong London New York Tokyo Southeast Wall Street
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday""".split()  # noqa: SIM905
)
