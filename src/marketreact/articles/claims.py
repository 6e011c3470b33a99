"""Finding sentences that state a price move, with deterministic rules.

A *move cue* is one of

* a verb of rising or falling (``rose``, ``climbed``, ``jumped``, ``fell``,
  ``slid``, ``went up``, ``closed higher`` ...) optionally followed, within five
  words, by a qualifier and a percentage: ``rose 3%``, ``fell by 2.5 percent``,
  ``climbed as high as 5%``, ``dropped nearly 10%``;
* a verb of state or trading with a direction word: ``were up 3%``, ``closed
  down 2%``, ``ended 4% higher``;
* a noun of rising or falling with a percentage: ``a 5% gain``, ``a drop of 3%``;
* a reversal: ``erased (morning) declines``, ``pared losses``, ``gave up early
  gains``, ``turned higher``.

A cue is a price claim when it is about a company (its *subject*) and about its
shares: a share word (``shares``, ``stock``, ``share price``, ``traded``) or a
trading venue (``in Jakarta``) is in the sentence, or the subject stands right
before the verb (``Bukalapak fell 3%``), or the subject is an index or fund.
A cue without a percentage needs a share word before it. Cues after a modal
(``could fall``), phrasal verbs (``fall through``), and moves of things other
than the price (``revenue rose``, ``a 20% rise in sales``, ``gained 5% of the
market``) are left out. Percentages after ``to`` (``rose to 20%``) are levels,
not moves, and are ignored.

The subject of a cue is taken from the words since the previous cue: a company
marked by share wording (``GoTo's shares``, ``shares of GoTo``), else the last
company named, together with companies joined to it by ``and`` or commas
(``GoTo and Bukalapak rose``). A cue with no company before it takes the
subject of the previous cue in the sentence (``erased declines to climb
5%``), or the company right after an opening phrase (``Rising 5%, GoTo ...``),
or, for ``the shares``/``its stock``, the last listed company of the two
previous sentences.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from marketreact.articles.entities import Mention
from marketreact.articles.text import Coverage

DIRECTIONS = ("up", "down")
#: Qualifier -> how the stated number bounds the measured move.
QUALIFIERS: dict[str, str] = {
    "": "exact", "by": "exact", "about": "exact", "around": "exact", "roughly": "exact",
    "approximately": "exact", "some": "exact", "an estimated": "exact",
    "as much as": "extreme", "as high as": "extreme", "as low as": "extreme",
    "as far as": "extreme", "up to": "extreme", "by as much as": "extreme",
    "to as much as": "extreme", "to as high as": "extreme", "to as low as": "extreme",
    "more than": "at_least", "over": "at_least", "at least": "at_least", "above": "at_least",
    "upwards of": "at_least", "in excess of": "at_least",
    "nearly": "at_most", "almost": "at_most", "close to": "at_most", "just under": "at_most",
    "less than": "at_most", "under": "at_most", "just shy of": "at_most",
}
_QUAL_RE = "|".join(re.escape(q).replace(r"\ ", r"\s+")
                    for q in sorted((q for q in QUALIFIERS if q), key=len, reverse=True))
_NUM = (r"(?P<num>\d+(?:\.\d+|,\d{1,2}(?!\d))?)\s?(?:%|％|\s?per\s?cent\b|\s?percent\b|"
        r"\s?pct\b)")
_QNUM = r"(?:(?P<qual>" + _QUAL_RE + r")\s+)?" + _NUM
_FILLER = (r"(?:\s+(?!(?:and|but|while|whereas|after|before|which|that|when|as|to|from|its|their"
           r"|on|than)\b)(?![A-Z])[\w'’-]+){0,5}?")
_UP_VERB = (
    r"ris(?:e|es|ing|en)|rose|climb(?:s|ed|ing)?|gain(?:s|ed|ing)?|jump(?:s|ed|ing)?|"
    r"surg(?:e|es|ed|ing)|soar(?:s|ed|ing)?|rall(?:y|ies|ied|ying)|advanc(?:e|es|ed|ing)|"
    r"increas(?:e|es|ed|ing)|rebound(?:s|ed|ing)?|spik(?:e|es|ed|ing)|leap(?:s|t|ed|ing)?|"
    r"(?:sky)?rocket(?:s|ed|ing)?|add(?:s|ed|ing)?|"
    r"(?:went|go(?:es|ing)?|mov(?:e|es|ed|ing)|edg(?:e|es|ed|ing)|inch(?:es|ed|ing)?|"
    r"tick(?:s|ed|ing)?|shot|shoot(?:s|ing)?)\s+(?:up|higher)|"
    r"(?:trended|headed|traded|trading|closed|ended|finished|settled|opened|turned)\s+higher")
_DOWN_VERB = (
    r"(?:fall|falls|falling|fallen|fell)(?!\s+(?:through|apart|short|behind|back\s+on|out))|"
    r"drop(?:s|ped|ping)?|declin(?:e|es|ed|ing)|slid(?:e|es|ing)?|slump(?:s|ed|ing)?|"
    r"tumbl(?:e|es|ed|ing)|plung(?:e|es|ed|ing)|plummet(?:s|ed|ing|ted|ting)?|"
    r"sink(?:s|ing)?|sank|sunk|los(?:e|es|ing)|lost|decreas(?:e|es|ed|ing)|"
    r"retreat(?:s|ed|ing)?|dip(?:s|ped|ping)?|shed(?:s|ding)?|crash(?:es|ed|ing)?|"
    r"tank(?:s|ed|ing)?|slip(?:s|ped|ping)?|sag(?:s|ged|ging)?|"
    r"(?:went|go(?:es|ing)?|mov(?:e|es|ed|ing)|edg(?:e|es|ed|ing)|inch(?:es|ed|ing)?|"
    r"tick(?:s|ed|ing)?)\s+(?:down|lower)|"
    r"(?:trended|headed|traded|trading|closed|ended|finished|settled|opened|turned)\s+lower")
_STATE = (r"(?:were|was|is|are|been|trade|trades|traded|trading|close|closes|closed|end|ends|"
          r"ended|finish|finishes|finished|settle|settles|settled|stood|opened|last)(?:\s+(?:the\s+day|the\s+session|trading|sharply|slightly|marginally))?")
_UP_NOUN = r"gain|rise|jump|increase|advance|surge|rally|climb|rebound"
_DOWN_NOUN = r"drop|decline|fall|loss|slump|plunge|slide|tumble|dip"
_I = re.IGNORECASE

_CUES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?P<verb>" + _UP_VERB + r")\b" + _FILLER + r"\s+" + _QNUM, _I), "up"),
    (re.compile(r"\b(?P<verb>" + _DOWN_VERB + r")\b" + _FILLER + r"\s+" + _QNUM, _I), "down"),
    (re.compile(r"\b(?P<verb>" + _STATE + r")\s+(?P<dir>up|down|higher|lower)\s+(?:by\s+)?"
                + _QNUM, _I), ""),
    (re.compile(r"\b(?P<verb>" + _STATE + r")\s+" + _QNUM + r"\s+(?P<dir>up|down|higher|lower)\b",
                _I), ""),
    (re.compile(r"(?<![\w.])" + _QNUM + r"\s+(?P<noun>" + _UP_NOUN + r")\b", _I), "up"),
    (re.compile(r"(?<![\w.])" + _QNUM + r"\s+(?P<noun>" + _DOWN_NOUN + r")\b", _I), "down"),
    (re.compile(r"\b(?P<noun>" + _UP_NOUN + r")\s+of\s+" + _QNUM, _I), "up"),
    (re.compile(r"\b(?P<noun>" + _DOWN_NOUN + r")\s+of\s+" + _QNUM, _I), "down"),
    (re.compile(r"\b(?P<verb>" + _UP_VERB + r")\b", _I), "up"),
    (re.compile(r"\b(?P<verb>" + _DOWN_VERB + r")\b", _I), "down"),
)
_REV_VERBS = (r"erased|erases|erase|erasing|wiped\s+out|wipes\s+out|wiping\s+out|reversed|"
              r"reverses|reversing|recovered\s+from|recouped|recoups|recouping|shook\s+off|"
              r"shrugged\s+off|pared|pares|paring|trimmed|trims|trimming|cut|cuts|cutting|"
              r"gave\s+up|gives\s+up|giving\s+up")
_REV_MID = (r"(?:\s+(?:its|their|the|some|all|most|much|part|of|an?))*"
            r"(?:\s+(?:early|earlier|morning|initial|intraday|opening|session|day's|steep|sharp|"
            r"first-half|first\s+half))*")
_REVERSAL_DOWN_MOVES = r"declines?|losses|loss|drops?|falls?|slide|slump|dip|retreat"
_REVERSAL_UP_MOVES = r"gains?|advances?|increases?|rally|rise|jump|climb"
_REVERSALS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?P<verb>" + _REV_VERBS + r")" + _REV_MID + r"\s+(?:"
                + _REVERSAL_DOWN_MOVES + r")\b", _I), "up"),
    (re.compile(r"\b(?P<verb>" + _REV_VERBS + r")" + _REV_MID + r"\s+(?:"
                + _REVERSAL_UP_MOVES + r")\b", _I), "down"),
    (re.compile(r"\b(?P<verb>rebounded|rebounds|recovered|bounced\s+back)\s+from\s+(?:an?\s+|"
                r"its\s+|the\s+)?(?:early|earlier|morning|initial|intraday)\s+(?:"
                + _REVERSAL_DOWN_MOVES + r")\b", _I), "up"),
    (re.compile(r"\b(?P<verb>turned|turning|turns|swung|swinging|swings)\s+"
                r"(?P<dir>higher|positive|lower|negative)\b", _I), ""),
)
_PARTIAL = re.compile(r"^(?:pared|pares|paring|trimmed|trims|trimming|cut|cuts|cutting)$", _I)
_SHARE_WORDS = re.compile(
    r"\b(?:shares?|stocks?|share\s+price|stock\s+price|equity|ADRs?|traded|trading|"
    r"the\s+index|index)\b", _I)
_OWN_SHARES = re.compile(
    r"\b(?:(?:the|its|their)\s+(?:company's\s+|firm's\s+|group's\s+)?(?:shares|stock)|"
    r"the\s+(?:company's|firm's|group's)\s+(?:shares|stock))\b|^\s*(?:Shares|The\s+stock)\b", _I)
_NON_PRICE = re.compile(
    r"\b(?:revenues?|sales|profits?|earnings|income|net\s+loss|losses|users|subscribers|"
    r"customers|orders|volumes?|GMV|gross\s+merchandise\s+value|valuation|market\s+share|"
    r"spending|costs?|inflation|exports?|imports?|output|deliveries|traffic|bookings|margins?|"
    r"debt|demand|stake|holdings?|ownership|population|rates?|yields?|prices\s+of\s+(?!its)|"
    r"headcount|jobs|workforce|staff|payments|transactions|downloads|merchants|sellers|"
    r"buyers|GDP|budget|funding|investment)\b", _I)
_AFTER_NON_PRICE = re.compile(
    r"^\s*(?:in|of)\s+(?:its\s+|their\s+|the\s+)?(?:\w+\s+)?" + _NON_PRICE.pattern, _I)
_AFTER_OF = re.compile(r"^\s*of\s+(?!its\s+value|their\s+value)", _I)
_MODAL = re.compile(
    r"\b(?:(?:could|may|might|would|will|should|can|cannot|won't)\s+(?:\w+\s+)?|"
    r"(?:expected|expects|set|likely|poised|forecast|predicted|projected|seen|due|going|plans?|"
    r"aims?|hopes?|wants?)\s+to\s+(?:\w+\s+)?)$", _I)
_EXTREME_WORDS = re.compile(r"\b(?:intraday|at\s+one\s+point|at\s+its\s+(?:peak|high|low)|"
                            r"session\s+(?:high|low)|day's\s+(?:high|low))\b", _I)
_CLOSE_WORDS = re.compile(r"\b(?:close|closed|closes|closing|end|ended|ends|finish|finished|"
                          r"finishes|settle|settled|settles|at\s+the\s+close|at\s+close)\b", _I)
_AT_CLOSE = re.compile(r"^\s*at\s+(?:the\s+)?close\b", _I)
_CONJOINED = re.compile(r"^(?:['’]s)?\s*(?:,\s*(?:and\s+)?|\s+and\s+|\s*&\s*|\s+as\s+well\s+as\s+|"
                        r"\s+or\s+)\s*$")
_ADJACENT = re.compile(r"^(?:['’]s?)?(?:\s+(?:shares?|stock|share\s+price|both|each|also|all|"
                       r"have|has|had|were|was|\w+ly))*\s*$", _I)
_MARKED_AFTER = re.compile(r"^(?:['’]s?)?\s+(?:shares|stock|share\s+price|ADRs?)\b", _I)
_MARKED_BEFORE = re.compile(r"\b(?:shares|stock)\s+(?:of|in)\s+(?:PT\s+)?$", _I)


@dataclass(frozen=True)
class Cue:
    """A stated move in a sentence, before its subject is known.

    Attributes
    ----------
    start, end : int
        Offsets in the sentence.
    text : str
        The words.
    direction : str
        ``up`` or ``down``.
    magnitude : float or None
        The stated percentage (None when only a direction is stated).
    qualifier : str
        The qualifier before the number (``as much as``, ``by``, ``nearly`` ... or "").
    reversal : str
        ``full`` or ``partial`` for a reversal cue, "" otherwise.
    wording : str
        What the wording says about the kind of move: ``intraday_extreme``,
        ``close_to_close``, ``intraday_reversal`` or "" (to be decided from
        the timing).
    """

    start: int
    end: int
    text: str
    direction: str
    magnitude: float | None
    qualifier: str
    reversal: str
    wording: str


@dataclass(frozen=True)
class StatedMove:
    """A move cue with its subject.

    Attributes
    ----------
    cue : Cue
    subjects : tuple of Mention
        The companies the move is about (one claim each); empty when none was found.
    basis : str
        How the subject was found: ``in sentence``, ``previous cue``,
        ``after opening phrase``, ``previous sentence`` or ``none``.
    """

    cue: Cue
    subjects: tuple[Mention, ...]
    basis: str


def _direction(word: str) -> str:
    return "up" if word.lower() in ("up", "higher", "positive") else "down"


def _magnitude(text: str | None) -> float | None:
    if text is None:
        return None
    return float(text.replace(",", "."))


def _without(m: re.Match[str], group: str) -> str:
    """Return the match's text without one of its groups (e.g. the qualifier ``close to``)."""
    if group not in m.groupdict() or m.group(group) is None:
        return m.group(0)
    s, e = m.span(group)
    base = m.start()
    return m.group(0)[: s - base] + m.group(0)[e - base:]


def find_cues(sentence: str) -> list[Cue]:
    """Find the move cues of a sentence (without deciding yet whether they are price claims)."""
    found: list[Cue] = []
    taken = Coverage()  # the spans of the cues found: overlap tests in O(log n)

    def overlaps(s: int, e: int) -> bool:
        return taken.overlaps(s, e)

    for pattern, direction in _REVERSALS:
        for m in pattern.finditer(sentence):
            if overlaps(m.start(), m.end()):
                continue
            d = direction or _direction(m.group("dir"))
            partial = bool(_PARTIAL.match(m.group("verb").split()[0]))
            found.append(Cue(m.start(), m.end(), m.group(0), d, None, "",
                             "partial" if partial else "full", "intraday_reversal"))
            taken.add(m.start(), m.end())
    for pattern, direction in _CUES:
        for m in pattern.finditer(sentence):
            if overlaps(m.start(), m.end()):
                continue
            groups = m.groupdict()
            d = direction or _direction(groups["dir"])
            qual = re.sub(r"\s+", " ", (groups.get("qual") or "").lower())
            magnitude = _magnitude(groups.get("num"))
            tail = sentence[m.end():m.end() + 40]
            wording = ""
            if QUALIFIERS.get(qual) == "extreme" or _EXTREME_WORDS.search(m.group(0) + tail):
                wording = "intraday_extreme"
            elif _CLOSE_WORDS.search(_without(m, "qual")) or _AT_CLOSE.match(tail):
                wording = "close_to_close"
            found.append(Cue(m.start(), m.end(), m.group(0), d, magnitude, qual, "", wording))
            taken.add(m.start(), m.end())
    found.sort(key=lambda c: c.start)
    return found


def _is_price_move(sentence: str, cue: Cue, subject: Mention | None, seg_start: int,
                   has_venue: bool) -> bool:
    before = sentence[max(0, cue.start - 30):cue.start]
    if _MODAL.search(before):
        return False
    after = sentence[cue.end:]
    if cue.magnitude is not None and (_AFTER_NON_PRICE.match(after) or _AFTER_OF.match(after)):
        return False
    between = sentence[subject.end if subject is not None else seg_start:cue.start]
    share_between = bool(_SHARE_WORDS.search(between)) or (
        subject is not None and bool(_MARKED_BEFORE.search(sentence[:subject.start])))
    if _NON_PRICE.search(between) and not share_between:
        return False
    if cue.magnitude is None and not cue.reversal:
        return share_between or bool(_OWN_SHARES.search(sentence[seg_start:cue.start]))
    if share_between or has_venue or _SHARE_WORDS.search(sentence):
        return True
    if subject is None:
        return False
    if subject.entity.kind in ("index", "fund"):
        return True
    return bool(_ADJACENT.match(between))


def _group(mentions: Sequence[Mention], last: int, sentence: str) -> list[Mention]:
    """Return the mention at ``last`` and those joined to it by 'and' or commas before it."""
    out = [mentions[last]]
    i = last
    while i > 0 and _CONJOINED.match(sentence[mentions[i - 1].end:mentions[i].start]):
        out.insert(0, mentions[i - 1])
        i -= 1
    return out


def _unique(mentions: Sequence[Mention]) -> tuple[Mention, ...]:
    seen: set[str] = set()
    out = []
    for m in mentions:
        key = m.entity.ticker or m.entity.name
        if key not in seen:
            seen.add(key)
            out.append(m)
    return tuple(out)


#: Characters looked at around a mention for "X's shares" / "shares of X" (no marker is longer).
_LOOK = 80
_OPENING = re.compile(r"^[^,;]*,\s*(?:the\s+)?$")


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _before(text: str, end: int) -> str:
    """About :data:`_LOOK` characters before ``end``, cut between words (word bounds stay)."""
    lo = max(0, end - _LOOK)
    while lo > 0 and _word(text[lo - 1]) and _word(text[lo]):
        lo -= 1
    return text[lo:end]


def _after(text: str, start: int) -> str:
    """About :data:`_LOOK` characters from ``start``, cut between words (word bounds stay)."""
    hi = min(len(text), start + _LOOK)
    while hi < len(text) and _word(text[hi - 1]) and _word(text[hi]):
        hi += 1
    return text[start:hi]


def _after_opening_phrase(sentence: str, cue: Cue, mentions: Sequence[Mention],
                          starts: Sequence[int]) -> Mention | None:
    """The first mention after the cue's opening phrase (``Up 5%, the company ...``).

    Only mentions right after the first ``,`` following the cue can qualify (the phrase
    before it holds no ``,`` or ``;``), so at most the mentions at one offset are tried.
    """
    stop = min((k for k in (sentence.find(",", cue.end), sentence.find(";", cue.end))
                if k >= 0), default=-1)
    if stop < 0 or sentence[stop] != ",":
        return None
    j = bisect.bisect_left(starts, stop + 1)
    first = starts[j] if j < len(starts) else None
    while j < len(mentions) and mentions[j].start == first:
        if _OPENING.match(sentence[cue.end:mentions[j].start]):
            return mentions[j]
        j += 1
    return None


def stated_moves(sentence: str, mentions: Sequence[Mention], previous: Sequence[Mention] = (),
                 has_venue: bool = False) -> list[StatedMove]:
    """Find the price moves a sentence states, with their subjects.

    Parameters
    ----------
    sentence : str
        The sentence.
    mentions : sequence of Mention
        Entities found in the sentence (gazetteer, stated and unknown), offsets
        relative to the sentence, in order.
    previous : sequence of Mention
        Listed companies named in the two previous sentences, in order (for
        "the shares" / "its stock").
    has_venue : bool
        Whether the sentence names a trading venue.

    Returns
    -------
    list of StatedMove
    """
    out: list[StatedMove] = []
    seg_start = 0
    prior: tuple[Mention, ...] = ()
    # Time linear in the sentence (a 10 MB one-sentence article must end): whether a
    # mention is marked as "X's shares" / "shares of X" depends on the mention alone, so it
    # is found once, from a bounded stretch of text around it; the mentions between two
    # offsets are found by bisection (mentions are in order).
    starts = [m.start for m in mentions]
    ends_sorted = all(a.start <= b.start and a.end <= b.end
                      for a, b in itertools.pairwise(mentions))
    last_marked: list[int] = []
    for i, m in enumerate(mentions):
        marked = bool(_MARKED_AFTER.match(_after(sentence, m.end))
                      or _MARKED_BEFORE.search(_before(sentence, m.start)))
        last_marked.append(i if marked else (last_marked[-1] if last_marked else -1))
    ends = [m.end for m in mentions]
    for cue in find_cues(sentence):
        if ends_sorted:
            inside: Sequence[int] = range(bisect.bisect_left(starts, seg_start),
                                          bisect.bisect_right(ends, cue.start))
        else:
            inside = [i for i, m in enumerate(mentions)
                      if seg_start <= m.start and m.end <= cue.start]
        subjects: tuple[Mention, ...] = ()
        basis = "none"
        if len(inside):
            if ends_sorted:
                pick = last_marked[inside[-1]]
                pick = pick if pick >= inside[0] else inside[-1]
            else:
                marked_in = [i for i in inside if last_marked[i] == i]
                pick = marked_in[-1] if marked_in else inside[-1]
            subjects = _unique(_group(mentions, pick, sentence))
            basis = "in sentence"
        elif prior:
            subjects, basis = prior, "previous cue"
        else:
            after = _after_opening_phrase(sentence, cue, mentions, starts) \
                if cue.start < 25 else None
            if after is not None:
                subjects, basis = (after,), "after opening phrase"
            elif previous and _OWN_SHARES.search(sentence[seg_start:cue.start]):
                subjects, basis = (previous[-1],), "previous sentence"
        if not subjects:
            continue
        head = subjects[-1] if basis == "in sentence" else None
        if not _is_price_move(sentence, cue, head, seg_start, has_venue):
            continue
        out.append(StatedMove(cue, subjects, basis))
        seg_start = cue.end
        if subjects:
            prior = subjects
    return out
