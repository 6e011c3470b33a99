r"""Article text: reading, normalising, dropping page furniture, splitting sentences.

Rules
-----
* The file must be UTF-8 (a byte-order mark is allowed). Line ends are
  normalised to ``\n`` and the text to Unicode NFC; every character offset
  reported by the extractor refers to this normalised text.
* Each non-empty line is a paragraph. Lines that are page furniture rather than
  reporting (bullets of a section menu, "Read More: ...", "N minute read",
  "Updated: ...", "Contact us ...", "More From ...", copyright lines) are left
  out.
* A paragraph is split into sentences after ``.``, ``!``, ``?`` or ``…``
  (closing quotes and brackets included) when whitespace and then an upper-case
  letter, a digit or an opening quote follow, unless the word before the stop
  is a known abbreviation (``Ltd.``, ``Inc.``, ``U.S.``, month abbreviations,
  titles) or a single initial.
* The headline is the first kept line of at least five words that does not end
  like a sentence and is written in title case; it is also a sentence (a
  headline can state a price move).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from marketreact.errors import InputError, InputProblem

_FURNITURE = re.compile(
    r"^(?:[•·▪►◦*\-–—]\s|read more\b|related\b:|more from\b|more must[- ]reads?\b|"
    r"contact us\b|sign up\b|subscribe\b|advertisement\b|share this\b|follow us\b|"
    r"copyright\b|©|updated\s*:|originally published\b|published\s*:|\d+\s+min(?:ute)?s?\s+read\b|"
    r"photo(?:graph)?\s*:|image\s*:|source\s*:)",
    re.IGNORECASE,
)
_STOP = re.compile(r"[.!?…]+[\"”’')\]]*(?=\s)")
_ABBREVIATIONS = frozenset(
    """ltd inc corp co mr mrs ms dr prof sr jr st vs u.s u.k u.n e.u gov sen rep bhd tbk pte plc
    no nos approx est e.g i.e jan feb mar apr jun jul aug sep sept oct nov dec mt ft gen lt col
    capt sgt dept univ assn bros""".split()  # noqa: SIM905
)
_OPENERS = "\"“‘'(["


@dataclass(frozen=True)
class Sentence:
    """One sentence of an article.

    Attributes
    ----------
    number : int
        1-based position among the article's sentences.
    line : int
        1-based line of the (normalised) file it is on.
    start, end : int
        Character offsets of the sentence in the normalised text (``text[start:end]``).
    text : str
        The sentence.
    headline : bool
        True for the headline.
    """

    number: int
    line: int
    start: int
    end: int
    text: str
    headline: bool = False


@dataclass(frozen=True)
class Article:
    """An article split into sentences.

    Attributes
    ----------
    text : str
        The normalised text (NFC, Unix line ends).
    sentences : tuple of Sentence
        Sentences of the kept paragraphs, in order.
    headline : str
        The headline ("" when none was found).
    source : str
        Where the text came from.
    """

    text: str
    sentences: tuple[Sentence, ...]
    headline: str
    source: str = "<text>"


def decode_article(raw: bytes, source: str) -> str:
    """Decode UTF-8 bytes, raising a clear :class:`InputError` otherwise."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError([InputProblem(
            source, line, None, None,
            f"article is not UTF-8 (undecodable byte at offset {exc.start}); re-save it as UTF-8",
        )]) from None


def normalise(text: str) -> str:
    r"""Return ``text`` with ``\n`` line ends and NFC normalisation."""
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


def fold(text: str) -> str:
    r"""Fold accents and typographic apostrophes, keeping the length of ``text``.

    Each character is replaced by the first character of its NFKD
    decomposition when that is a letter (``é`` -> ``e``), and ``’`` by ``'``,
    so offsets into the folded text are offsets into ``text``.
    """
    out = []
    for ch in text:
        if ch in "’‘ʼ`´":
            out.append("'")
            continue
        if ord(ch) < 128:
            out.append(ch)
            continue
        base = unicodedata.normalize("NFKD", ch)[:1]
        out.append(base if base and base.isalpha() and len(base) == 1 else ch)
    return "".join(out)


def is_furniture(line: str) -> bool:
    """Tell whether a line is page furniture (menus, links, bylines) rather than reporting."""
    return bool(_FURNITURE.match(line.strip()))


def _is_headline(line: str) -> bool:
    words = line.split()
    if len(words) < 5 or line.rstrip()[-1:] in ".!?…:":
        return False
    long_words = [w for w in words if len(w) >= 4 and w[0].isalpha()]
    if not long_words:
        return False
    return sum(w[0].isupper() for w in long_words) / len(long_words) >= 0.6


def _ends_sentence(paragraph: str, stop_start: int) -> bool:
    """Whether the stop at ``stop_start`` ends a sentence (not an abbreviation)."""
    if paragraph[stop_start] != ".":
        return True
    before = re.search(r"([\w.]+)$", paragraph[:stop_start])
    if before is None:
        return True
    word = before.group(1).lower()
    if word in _ABBREVIATIONS:
        return False
    return not (len(word) == 1 and word.isalpha())


def split_sentences(paragraph: str) -> list[tuple[int, int]]:
    """Split a paragraph into sentences.

    Returns
    -------
    list of (start, end)
        Offsets into ``paragraph`` with surrounding whitespace trimmed.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _STOP.finditer(paragraph):
        after = match.end()
        rest = paragraph[after:].lstrip()
        if not rest:
            continue
        nxt = rest[0]
        if not (nxt.isupper() or nxt.isdigit() or nxt in _OPENERS):
            continue
        if not _ends_sentence(paragraph, match.start()):
            continue
        spans.append((start, after))
        start = after
    spans.append((start, len(paragraph)))
    out = []
    for s, e in spans:
        chunk = paragraph[s:e]
        lead = len(chunk) - len(chunk.lstrip())
        trail = len(chunk) - len(chunk.rstrip())
        if chunk.strip():
            out.append((s + lead, e - trail))
    return out


def parse_article(text: str, source: str = "<text>") -> Article:
    """Normalise an article and split it into sentences.

    Parameters
    ----------
    text : str
        The article as plain text.
    source : str
        Name used in messages.

    Returns
    -------
    Article
    """
    text = normalise(text)
    sentences: list[Sentence] = []
    headline = ""
    offset = 0
    for number, line in enumerate(text.split("\n"), start=1):
        line_start = offset
        offset += len(line) + 1
        if not line.strip() or is_furniture(line):
            continue
        is_head = not headline and not sentences and _is_headline(line)
        if is_head:
            headline = line.strip()
        for s, e in split_sentences(line):
            sentences.append(Sentence(len(sentences) + 1, number, line_start + s, line_start + e,
                                      line[s:e], is_head))
    return Article(text, tuple(sentences), headline, source)


class Coverage:
    """The union of half-open spans ``[start, end)``: overlap tests in O(log n).

    Overlapping spans are merged (touching ones are not), so the spans kept are disjoint
    and sorted, and a span overlaps the union exactly when it overlaps a span added.
    """

    def __init__(self, spans: Iterable[tuple[int, int]] = ()) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        for start, end in spans:
            self.add(start, end)

    def overlaps(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` overlaps a span added (``s < end and start < e``)."""
        i = bisect.bisect_left(self.starts, end) - 1
        return i >= 0 and self.ends[i] > start

    def add(self, start: int, end: int) -> None:
        """Add ``[start, end)``, merging it with the spans it overlaps."""
        if end <= start:  # names are never empty; an empty span is left out
            return
        lo = bisect.bisect_right(self.ends, start)
        hi = bisect.bisect_left(self.starts, end)
        if lo < hi:
            start, end = min(start, self.starts[lo]), max(end, self.ends[hi - 1])
        self.starts[lo:hi] = [start]
        self.ends[lo:hi] = [end]
