"""Plain-text renderings: one layout for every summary, statsmodels style.

A summary is a title over a rule, a header block of ``key: value`` pairs in two
columns, tables with aligned columns, and blocks (a heading between rules over a
table) such as the cross-event tests of one CAR window::

                                  Event study
    ==============================================================================
    model:          market-model           measure:        return
    estimation:     [-250,-11]             event window:   [-10,+10]
    ==============================================================================
    window         N        CAAR         t         p     mean BHAR
    ------------------------------------------------------------------------------
    [-1,+1]       16    -0.01234    -1.234    0.2366      -0.01100

Every function takes frames, sequences and plain values (strings, numbers) and
returns lines or text: this module imports no result class. ``StudyResult.summary``
and ``BacktestResult.summary`` each call :func:`summary_text`; the cross-event test
blocks come from :func:`format_tests`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

#: Line width of every summary.
WIDTH = 78


@dataclass(frozen=True)
class Column:
    """One column of a text table.

    Attributes
    ----------
    header : str
        Column heading.
    width : int
        Characters the column takes (header and cells are padded to it).
    fmt : str, default ""
        Format spec of numbers, e.g. ``".4f"``; strings are shown as given.
    align : {">", "<"}, default ">"
        Right or left alignment.
    gap : int, default 0
        Spaces before the column.
    """

    header: str
    width: int
    fmt: str = ""
    align: str = ">"
    gap: int = 0

    def cell(self, value: Any) -> str:
        """``value`` formatted, aligned and padded to the column."""
        if value is None:
            text = ""
        elif isinstance(value, str):
            text = value
        else:
            try:
                text = format(value, self.fmt)
            except (TypeError, ValueError):
                text = str(value)
        return " " * self.gap + f"{text:{self.align}{self.width}}"


def rule(char: str = "-", width: int = WIDTH) -> str:
    """A horizontal rule of ``width`` characters."""
    return char * width


def title_lines(title: str, width: int = WIDTH) -> list[str]:
    """A centred title over a ``=`` rule."""
    return [title.center(width).rstrip(), rule("=", width)]


def header_lines(pairs: Sequence[tuple[str, str]], width: int = WIDTH) -> list[str]:
    """``key: value`` pairs in two columns, keys and values aligned.

    Parameters
    ----------
    pairs : sequence of (str, str)
        Keys and formatted values, filled row by row (left, right, left, ...).
    width : int, default 78
        Line width; each column takes half.

    Returns
    -------
    list of str
    """
    if not pairs:
        return []
    key_width = max(len(k) for k, _ in pairs) + 2
    half = width // 2
    cells = [f"{k + ':':<{key_width}}{v}" for k, v in pairs]
    lines = []
    for i in range(0, len(cells), 2):
        left = cells[i]
        if i + 1 < len(cells):
            pad = half if len(left) < half else len(left) + 2
            lines.append(f"{left:<{pad}}{cells[i + 1]}".rstrip())
        else:
            lines.append(left.rstrip())
    return lines


def table_lines(columns: Sequence[Column], rows: Iterable[Sequence[Any]],
                width: int = WIDTH) -> list[str]:
    """A table: the header, a ``-`` rule, then one line per row.

    Parameters
    ----------
    columns : sequence of Column
        The columns, left to right.
    rows : iterable of sequences
        Values of each row, one per column (None: an empty cell).
    width : int, default 78
        Width of the rule.

    Returns
    -------
    list of str
    """
    head = "".join(" " * c.gap + f"{c.header:{c.align}{c.width}}" for c in columns)
    lines = [head.rstrip(), rule("-", width)]
    lines.extend("".join(c.cell(v) for c, v in zip(columns, row, strict=True)).rstrip()
                 for row in rows)
    return lines


def block_lines(heading: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]],
                width: int = WIDTH) -> list[str]:
    """A statsmodels-style block: ``=`` rule, a heading, ``-`` rule and a table."""
    return [rule("=", width), heading, rule("-", width), *table_lines(columns, rows, width)]


def summary_text(title: str, header: Sequence[tuple[str, str]],
                 sections: Sequence[Sequence[str]], width: int = WIDTH) -> str:
    """A whole summary: the title, the header block, sections between rules, a closing rule.

    Parameters
    ----------
    title : str
        Centred title.
    header : sequence of (str, str)
        ``key: value`` pairs of the header block.
    sections : sequence of sequences of str
        Lines of each section; the first follows a ``=`` rule, the others a ``-``
        rule unless they start with a rule of their own. Empty sections are left out.
    width : int, default 78
        Line width.

    Returns
    -------
    str
    """
    lines = [*title_lines(title, width), *header_lines(header, width)]
    for i, section in enumerate(s for s in sections if s):
        if not section[0].startswith(("=" * 3, "-" * 3)):
            lines.append(rule("=" if i == 0 else "-", width))
        lines.extend(section)
    lines.append(rule("=", width))
    return "\n".join(lines)


def number(value: Any, fmt: str = ".4f") -> str:
    """A finite number formatted with ``fmt``, else ``n/a``."""
    if isinstance(value, bool):
        return "n/a"
    if not isinstance(value, int | float):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return "n/a"
    return format(value, fmt) if math.isfinite(value) else "n/a"


_TEST_COLUMNS = (Column("test", 42, align="<"), Column("statistic", 11, ".4f"),
                 Column("p-value", 10, ".4f"), Column("null", 12, align="<", gap=2))


def format_tests(table: pd.DataFrame, *, alternative: str, r_bar: float | None = None,
                 width: int = WIDTH, label: str = "CAAR") -> str:
    """One block per CAR window listing every test, like a statsmodels summary table.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per window and test, windows in order, tests in table order:
        ``window`` (label, e.g. ``[-1,+1]``), ``caar``, ``n``, ``test`` (title),
        ``statistic``, ``pvalue``, ``null`` (the null distribution, e.g. ``t(15)``,
        or a bootstrap interval) and ``reason`` (why the test could not be
        computed; empty where it was).
    alternative : str
        The alternative hypothesis of the p-values.
    r_bar : float, optional
        Average cross-correlation of estimation residuals, shown after the blocks.
    width : int, default 78
        Line width.
    label : str, default "CAAR"
        Name of the cumulative average in each block's heading (``CAAV`` for a
        volume study ...).

    Returns
    -------
    str
    """
    lines: list[str] = []
    for window, group in table.groupby("window", sort=False):
        first = group.iloc[0]
        rows = [(str(r.test)[:41], "n/a", None, r.reason) if r.reason
                else (str(r.test)[:41], r.statistic, r.pvalue, r.null)
                for r in group.itertuples(index=False)]
        heading = (f"{label}{window} = {first['caar']:.6f}   N = {int(first['n'])}   "
                   f"H1: {alternative}")
        lines.extend(block_lines(heading, _TEST_COLUMNS, rows, width))
    if r_bar is not None and math.isfinite(r_bar):
        lines.append(rule("-", width))
        lines.append(f"average cross-correlation of estimation residuals (r-bar): {r_bar:.4f}")
    return "\n".join(lines)
