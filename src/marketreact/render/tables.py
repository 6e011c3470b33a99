"""Paper tables from result frames: estimates with stars, statistics below, LaTeX and Markdown.

A :class:`PaperTable` is a grid of :class:`Cell` objects: text (labels, event ids) or a
number with a format, a number of significance stars and an optional bracket. The same
grid renders as a booktabs LaTeX table (:func:`to_latex`) or a Markdown pipe table
(:func:`to_markdown`); every text cell that came from input is escaped on the way out.

The builders read the frames an event study or a backtest writes (``aggregate.csv``,
``car.csv``, ``aar.csv``, ``metrics.csv``, ``forward.csv``) and lay them out the way papers
do: the estimate with stars from its p-value and its t statistic in parentheses on the
line below. Everything here is pure: frames in, strings out, no files.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from marketreact.errors import InputError, InputProblem
from marketreact.inference.base import TEST_TITLES, WINDOW_TITLES, p_column
from marketreact.panel.measures import MeasureWords, measure_words

#: Default significance levels for one, two and three stars.
DEFAULT_STARS: tuple[float, ...] = (0.1, 0.05, 0.01)

#: Tests of the AAR table (columns beside AAR and CAAR), when the frame has them.
AAR_TESTS: tuple[str, ...] = ("patell", "bmp", "kp_bmp", "rank", "gsign")

#: Short column headings of the tests (the AAR table has them side by side).
SHORT_TITLES: dict[str, str] = {
    "t": "t", "bw1980": "BW 1980", "bw1985": "BW 1985", "patell": "Patell Z", "bmp": "BMP t",
    "kp_patell": "KP Patell Z", "kp_bmp": "KP BMP t", "lamb": "Lamb Z", "sign": "Sign",
    "gsign": "Gen. sign Z", "rank": "Rank", "wilcoxon": "Wilcoxon", "boot": "Bootstrap",
}

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX_SPECIAL))


def escape_latex(text: object) -> str:
    r"""Escape the characters LaTeX treats specially: ``& % $ # _ { } ~ ^ \``.

    Parameters
    ----------
    text : object
        Any value; it is turned into a string first.

    Returns
    -------
    str
        Text that typesets as written, e.g. ``a_b & c`` -> ``a\_b \& c``.
    """
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIAL[m.group(0)], str(text))


def escape_markdown(text: object) -> str:
    """Escape text for a Markdown pipe-table cell (pipes, backslashes, emphasis, newlines)."""
    out = str(text).replace("\\", "\\\\").replace("|", "\\|")
    out = re.sub(r"([*_`\[\]<>])", r"\\\1", out)
    return re.sub(r"[\r\n]+", " ", out)


def parse_stars(text: str | Sequence[float] | None) -> tuple[float, ...]:
    """Significance levels from ``"0.1,0.05,0.01"``, sorted from the loosest.

    Parameters
    ----------
    text : str or sequence of float or None
        Comma-separated levels in (0, 1); ``None`` or ``""`` means no stars.

    Returns
    -------
    tuple of float
        Levels in decreasing order: a p-value below the k-th earns k stars.

    Raises
    ------
    InputError
        For a level that is not a number in (0, 1) or given twice.
    """
    if text is None:
        return ()
    parts = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
    levels: list[float] = []
    for part in parts:
        if part == "":
            continue
        try:
            level = float(part)
        except (TypeError, ValueError):
            level = math.nan
        if not 0.0 < level < 1.0:
            raise InputError([InputProblem("command line", None, "--stars", str(part),
                                           "significance levels must be numbers in (0, 1)")])
        levels.append(level)
    if len(set(levels)) != len(levels):
        raise InputError([InputProblem("command line", None, "--stars", str(text),
                                       "a significance level is given twice")])
    return tuple(sorted(levels, reverse=True))


def star_count(p: float | None, levels: Sequence[float]) -> int:
    """Number of stars for p-value ``p``: how many levels it is strictly below."""
    if p is None or not isinstance(p, int | float) or not math.isfinite(p):
        return 0
    return sum(1 for level in levels if p < level)


@dataclass(frozen=True)
class Cell:
    """One cell of a paper table.

    Attributes
    ----------
    text : str
        Text shown as is (escaped by the renderer); used when ``value`` is None.
    value : float or None
        A number, formatted with ``fmt``; NaN shows as an empty cell.
    fmt : str
        Format spec of ``value`` (e.g. ``.4f``, ``d``).
    stars : int
        Significance stars after the number.
    bracket : str
        ``""``, ``"()"`` or ``"[]"`` around the number.
    """

    text: str = ""
    value: float | None = None
    fmt: str = ".4f"
    stars: int = 0
    bracket: str = ""

    def number(self) -> str:
        """The formatted number (empty for a text cell or a missing value)."""
        if self.value is None:
            return ""
        try:
            v = float(self.value)
        except (TypeError, ValueError):
            return ""
        if not math.isfinite(v):
            return ""
        if self.fmt == "d":
            return f"{round(v):d}"
        return format(v, self.fmt)


@dataclass(frozen=True)
class PaperTable:
    r"""A table laid out for a paper: a header row over rows of cells.

    Attributes
    ----------
    name : str
        Short name (file stem, LaTeX label ``tab:<name>``).
    title : str
        Caption.
    header : tuple of str
        Column headings (the first heads the row labels).
    rows : tuple of tuple of Cell
        Body rows, each as long as ``header``.
    notes : str
        What the brackets and stars mean (plain text).
    rules_after : tuple of int
        Body rows after which a thin rule (``\\midrule``) is drawn.
    """

    name: str
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    notes: str = ""
    rules_after: tuple[int, ...] = field(default_factory=tuple)

    def to_frame(self) -> pd.DataFrame:
        """The grid as text (numbers formatted, stars as ``*``), one column per heading."""
        return pd.DataFrame([[_plain(c) for c in row] for row in self.rows],
                            columns=list(self.header))


def _plain(cell: Cell) -> str:
    if cell.value is None:
        return cell.text
    num = cell.number()
    if num == "":
        return ""
    num += "*" * cell.stars
    return f"{cell.bracket[0]}{num}{cell.bracket[1]}" if cell.bracket else num


def _stars_note(levels: Sequence[float]) -> str:
    if not levels:
        return ""
    parts = [f"{'*' * (k + 1)} p < {level:g}" for k, level in enumerate(levels)]
    return "; ".join(parts) + "."


def _num(row: pd.Series, col: str) -> float | None:
    if col not in row.index:
        return None
    v = pd.to_numeric(pd.Series([row[col]]), errors="coerce").iloc[0]
    return None if pd.isna(v) else float(v)


def _estimate_pair(row: pd.Series, est: str, t: str, p: str, levels: Sequence[float],
                   fmt: str = ".4f") -> tuple[Cell, Cell]:
    """The estimate with stars and its t statistic in parentheses below."""
    pv = _num(row, p)
    return (Cell(value=_num(row, est), fmt=fmt, stars=star_count(pv, levels)),
            Cell(value=_num(row, t), fmt=".2f", bracket="()"))


def caar_table(aggregate: pd.DataFrame, levels: Sequence[float] = DEFAULT_STARS, *,
               tests: Iterable[str] | None = None,
               words: MeasureWords | None = None) -> PaperTable:
    """The CAAR table: CAR windows in columns, the estimates and every test in rows.

    Parameters
    ----------
    aggregate : pandas.DataFrame
        One row per CAR window with ``window, n, caar, t, p`` and, per test
        ``name``, the columns ``name`` and ``name_p`` (``aggregate.csv``).
    levels : sequence of float
        Significance levels for the stars (see :func:`parse_stars`).
    tests : iterable of str, optional
        Tests to show, in order (default: every test of the frame in table order,
        except the cross-sectional t, which stands in parentheses under the CAAR).
    words : MeasureWords, optional
        The measure of a volume or volatility study (rows and notes say ``CAAV``
        ...); the frame keeps the generic column names.

    Returns
    -------
    PaperTable
        Rows ``N``, ``CAAR`` (stars from the cross-sectional t's p, t below in
        parentheses), ``Mean BHAR`` and one row per test statistic with stars from
        its own p-value.
    """
    frame = aggregate.reset_index(drop=True)
    names = (list(tests) if tests is not None
             else [t for t in WINDOW_TITLES if t in frame and t != "t"])
    header = ("", *(str(w) for w in frame["window"]))
    rows: list[tuple[Cell, ...]] = []
    rows.append((Cell("N"), *(Cell(value=_num(r, "n"), fmt="d") for _, r in frame.iterrows())))
    pairs = [_estimate_pair(r, "caar", "t", "p", levels) for _, r in frame.iterrows()]
    w = words or measure_words(None)
    rows.append((Cell(w.cumulative_average), *(a for a, _ in pairs)))
    rows.append((Cell(""), *(b for _, b in pairs)))
    rules = [len(rows) - 1]
    if "mean_bhar" in frame:
        rows.append((Cell("Mean BHAR"),
                     *(Cell(value=_num(r, "mean_bhar")) for _, r in frame.iterrows())))
        rules = [len(rows) - 1]
    for name in names:
        if name not in frame:
            continue
        pcol = p_column(name)
        rows.append((Cell(WINDOW_TITLES.get(name, name)),
                     *(Cell(value=_num(r, name), fmt=".2f",
                            stars=star_count(_num(r, pcol), levels))
                       for _, r in frame.iterrows())))
    notes = (f"{w.cumulative_average}: cumulative average {w.abnormal} over the window; "
             "cross-sectional t in parentheses. Test rows show each statistic with stars from "
             "its own p-value. " + _stars_note(levels))
    return PaperTable("caar", f"Cumulative average {w.abnormal}s by window", header,
                      tuple(rows), notes.strip(), tuple(rules))


def car_table(car: pd.DataFrame, levels: Sequence[float] = DEFAULT_STARS, *,
              labels: pd.Series | None = None, max_events: int | None = None,
              words: MeasureWords | None = None) -> PaperTable:
    """The per-event CAR table: events in rows, CAR windows in columns.

    Parameters
    ----------
    car : pandas.DataFrame
        Long frame with ``event_id, window, car, car_t, car_p`` (``car.csv``).
    levels : sequence of float
        Significance levels for the stars.
    labels : pandas.Series, optional
        Extra label per event id (e.g. its ticker), shown in a second column.
    max_events : int, optional
        Show at most this many events (in the frame's order); a note says so.
    words : MeasureWords, optional
        The measure of a volume or volatility study (notes and title say so).

    Returns
    -------
    PaperTable
        Per event two rows: each window's CAR with stars from ``car_p``, and
        ``car_t`` in parentheses below.
    """
    windows = list(pd.unique(car["window"].astype(str)))
    events = list(pd.unique(car["event_id"].astype(str)))
    shown = events if max_events is None else events[:max_events]
    indexed = car.assign(event_id=car["event_id"].astype(str),
                         window=car["window"].astype(str)).set_index(["event_id", "window"])
    indexed = indexed[~indexed.index.duplicated(keep="first")]
    label_col = labels is not None
    header = ("Event", *(("Ticker",) if label_col else ()), *windows)
    rows: list[tuple[Cell, ...]] = []
    for ev in shown:
        top: list[Cell] = [Cell(ev)]
        below: list[Cell] = [Cell("")]
        if label_col:
            assert labels is not None
            top.append(Cell(str(labels.get(ev, ""))))
            below.append(Cell(""))
        for w in windows:
            if (ev, w) in indexed.index:
                a, b = _estimate_pair(indexed.loc[(ev, w)], "car", "car_t", "car_p", levels)
            else:
                a, b = Cell(), Cell()
            top.append(a)
            below.append(b)
        rows += [tuple(top), tuple(below)]
    w = words or measure_words(None)
    notes = (f"{w.cumulative} by event and window; t statistic in parentheses. "
             + _stars_note(levels))
    if len(shown) < len(events):
        notes += f" First {len(shown)} of {len(events)} events; all are in car.csv."
    return PaperTable("car", f"Cumulative {w.abnormal}s by event", header, tuple(rows),
                      notes.strip())


def aar_table(aar: pd.DataFrame, levels: Sequence[float] = DEFAULT_STARS, *,
              tests: Iterable[str] = AAR_TESTS, words: MeasureWords | None = None) -> PaperTable:
    """The AAR table: one row pair per event day.

    Parameters
    ----------
    aar : pandas.DataFrame
        One row per relative day with ``rel_day, n, aar, caar, t, p`` and the
        test columns (``aar.csv``).
    levels : sequence of float
        Significance levels for the stars.
    tests : iterable of str
        Further test statistics shown as columns (with stars), when present.
    words : MeasureWords, optional
        The measure of a volume or volatility study (``AAV``, ``CAAV`` ...).

    Returns
    -------
    PaperTable
        ``Day, N, AAR`` (stars from the cross-sectional t's p, t below), ``CAAR``
        and the chosen tests.
    """
    names = [t for t in tests if t in aar]
    w = words or measure_words(None)
    header = ("Day", "N", w.average, w.cumulative_average,
              *(SHORT_TITLES.get(t, t) for t in names))
    rows: list[tuple[Cell, ...]] = []
    for _, r in aar.iterrows():
        a, b = _estimate_pair(r, "aar", "t", "p", levels)
        rows.append((Cell(value=_num(r, "rel_day"), fmt="d"),
                     Cell(value=_num(r, "n"), fmt="d"), a, Cell(value=_num(r, "caar")),
                     *(Cell(value=_num(r, t), fmt=".2f",
                            stars=star_count(_num(r, f"{t}_p"), levels)) for t in names)))
        rows.append((Cell(""), Cell(""), b, Cell(""), *(Cell("") for _ in names)))
    notes = (f"{w.average}: average {w.abnormal} of the day; cross-sectional t in parentheses. "
             + "".join(f"{SHORT_TITLES.get(t, t)}: {TEST_TITLES.get(t, t)}. " for t in names)
             + _stars_note(levels))
    return PaperTable("aar", f"Average {w.abnormal}s by event day", header, tuple(rows),
                      notes.strip())


def key_value_table(frame: pd.DataFrame, name: str, title: str, *, key: str = "metric",
                    value: str = "value") -> PaperTable:
    """A two-column table of named values (e.g. a backtest's ``metrics.csv``)."""
    rows = []
    for _, r in frame.iterrows():
        v = r[value]
        num = _numeric(v)
        rows.append((Cell(str(r[key])), Cell(value=num, fmt=".4g") if num is not None
                     else Cell("" if pd.isna(v) else str(v))))
    return PaperTable(name, title, ("", "Value"), tuple(rows))


def plain_table(frame: pd.DataFrame, name: str, title: str, *,
                max_rows: int | None = None) -> PaperTable:
    """Any frame as a paper table: numbers formatted to 4 significant digits, text as is."""
    shown = frame if max_rows is None else frame.head(max_rows)
    rows = []
    for rec in shown.itertuples(index=False):
        cells = []
        for v in rec:
            num = _numeric(v)
            cells.append(Cell(value=num, fmt=".4g") if num is not None
                         else Cell("" if _missing(v) else str(v)))
        rows.append(tuple(cells))
    notes = ""
    if max_rows is not None and len(frame) > max_rows:
        notes = f"First {max_rows} of {len(frame)} rows."
    return PaperTable(name, title, tuple(str(c) for c in frame.columns), tuple(rows), notes)


def _missing(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _numeric(v: object) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v) if math.isfinite(float(v)) else None
    return None


def forward_table(forward: pd.DataFrame, levels: Sequence[float] = DEFAULT_STARS) -> PaperTable:
    """A backtest's forward returns per horizon: mean, signed mean, hit rate, IC with stars."""
    rows = []
    for _, r in forward.iterrows():
        rows.append((Cell(value=_num(r, "horizon"), fmt="d"), Cell(value=_num(r, "n"), fmt="d"),
                     Cell(value=_num(r, "mean")), Cell(value=_num(r, "mean_signed")),
                     Cell(value=_num(r, "hit_rate"), fmt=".3f"),
                     Cell(value=_num(r, "ic"), fmt=".3f",
                          stars=star_count(_num(r, "ic_p"), levels))))
    notes = ("Forward return from the entry price over the horizon (sessions); IC: Spearman "
             "correlation of signal and forward return, stars from its p-value. "
             + _stars_note(levels))
    return PaperTable("forward", "Forward returns by horizon",
                      ("Horizon", "N", "Mean", "Signed mean", "Hit rate", "IC"), tuple(rows),
                      notes.strip())


def _latex_cell(cell: Cell) -> str:
    if cell.value is None:
        return escape_latex(cell.text)
    num = cell.number()
    if num == "":
        return ""
    stars = f"^{{{'*' * cell.stars}}}" if cell.stars else ""
    if cell.bracket:
        return f"${cell.bracket[0]}{num}{cell.bracket[1]}{stars}$"
    return f"${num}{stars}$"


def _latex_row(cells: list[str]) -> str:
    # a row that opens with "[" would be read as the optional argument of the "\\" before it
    if cells and cells[0].startswith("["):
        cells = ["{}" + cells[0], *cells[1:]]
    return " & ".join(cells) + r" \\"


def to_latex(table: PaperTable, *, float_env: bool = True) -> str:
    r"""Render a table with booktabs rules (``\toprule``, ``\midrule``, ``\bottomrule``).

    Numbers are typeset in math mode (a true minus sign, stars as a superscript);
    every text cell and heading is escaped with :func:`escape_latex`. The preamble
    needs ``\usepackage{booktabs}``.

    Parameters
    ----------
    table : PaperTable
        The table.
    float_env : bool, default True
        Wrap the tabular in a ``table`` float with caption, label and notes.
    """
    ncol = len(table.header)
    spec = "l" + "r" * (ncol - 1)
    lines = [f"\\begin{{tabular}}{{{spec}}}", r"\toprule",
             _latex_row([escape_latex(h) for h in table.header]), r"\midrule"]
    for i, row in enumerate(table.rows):
        lines.append(_latex_row([_latex_cell(c) for c in row]))
        if i in table.rules_after and i != len(table.rows) - 1:
            lines.append(r"\midrule")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if not float_env:
        return "\n".join(lines) + "\n"
    out = [r"\begin{table}[htbp]", r"\centering", f"\\caption{{{escape_latex(table.title)}}}",
           f"\\label{{tab:{re.sub(r'[^A-Za-z0-9:-]', '-', table.name)}}}", *lines]
    if table.notes:
        out += [r"\par\smallskip", f"{{\\footnotesize {escape_latex(table.notes)}\\par}}"]
    out.append(r"\end{table}")
    return "\n".join(out) + "\n"


def latex_document(tables: Iterable[PaperTable]) -> str:
    """A complete LaTeX document holding ``tables`` (landscape-free, booktabs), for pdflatex."""
    body = "\n".join(to_latex(t) for t in tables)
    return ("\\documentclass[10pt]{article}\n\\usepackage[margin=2cm]{geometry}\n"
            "\\usepackage{booktabs}\n\\begin{document}\n" + body + "\\end{document}\n")


def _md_cell(cell: Cell) -> str:
    if cell.value is None:
        return escape_markdown(cell.text)
    return escape_markdown(_plain(cell))


def to_markdown(table: PaperTable, *, heading: int = 2) -> str:
    """Render a table as a Markdown pipe table under a heading, notes below."""
    head = [escape_markdown(h) for h in table.header]
    align = [":--"] + ["--:"] * (len(head) - 1)
    lines = [f"{'#' * heading} {escape_markdown(table.title)}", "",
             "| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    if table.notes:
        lines += ["", escape_markdown(table.notes)]
    return "\n".join(lines) + "\n"
