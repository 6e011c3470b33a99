r"""A statsmodels-style summary object: text, HTML and LaTeX of one result.

:class:`Summary` is what ``StudyResult.summary()`` returns. It *is* the text summary
(a ``str`` subclass, so ``print(result.summary())``, ``str(...)``, ``in`` and
``splitlines`` work as before) and adds ``as_text()``, ``as_html()`` and
``as_latex()`` like ``statsmodels.iolib.summary.Summary``, plus ``_repr_html_`` for
Jupyter. The LaTeX is booktabs tables (``\usepackage{booktabs}``): the settings, then
the CAAR table of :func:`caar_bhar_table` (CAAR with every test, then the mean BHAR and
its conventional, skewness-adjusted and bootstrapped skewness-adjusted t).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from marketreact.inference.base import WINDOW_TITLES
from marketreact.panel.measures import MeasureWords
from marketreact.render import tables as paper

#: Tests of the mean BHAR in aggregate.csv, with their row titles.
BHAR_TESTS: dict[str, str] = {
    "bhar_t": "BHAR t",
    "bhar_tsa": "BHAR skewness-adjusted t (LBT 1999)",
    "bhar_tsa_boot": "BHAR bootstrapped skewness-adjusted t (LBT 1999)",
    "bhar_ref_t": "Reference BHAR t",
    "bhar_ref_tsa": "Reference BHAR skewness-adjusted t",
    "bhar_ref_tsa_boot": "Reference BHAR bootstrapped skewness-adjusted t",
}


def caar_bhar_table(aggregate: pd.DataFrame,
                    levels: Sequence[float] = paper.DEFAULT_STARS,
                    words: MeasureWords | None = None) -> paper.PaperTable:
    """The CAAR table of :func:`marketreact.render.tables.caar_table` with the BHAR tests.

    Rows after the cross-event tests: each BHAR test the frame holds (``bhar_t``,
    ``bhar_tsa``, ``bhar_tsa_boot`` and the reference-portfolio ones) with stars from
    its own p-value (``NAME_p``), and the mean reference BHAR when there is one.
    ``words`` names the measure of a volume or volatility study (no BHAR rows then).
    """
    if words is not None and not words.has_bhar:
        aggregate = aggregate.drop(columns=[c for c in aggregate.columns
                                            if str(c).startswith(words.dropped)])
    tests = [t for t in WINDOW_TITLES if t in aggregate and t != "t"]
    tests += [t for t in BHAR_TESTS if t in aggregate]
    table = paper.caar_table(aggregate, levels, tests=tests, words=words)
    rows = []
    rules = list(table.rules_after)
    for row in table.rows:
        label = row[0].text
        if label in BHAR_TESTS:
            if not any(r[0].text in BHAR_TESTS.values() for r in rows) and rows:
                rules.append(len(rows) - 1)  # a rule above the BHAR tests
            row = (paper.Cell(BHAR_TESTS[label]), *row[1:])
        rows.append(row)
    if "mean_bhar_ref" in aggregate:
        at = next((i for i, r in enumerate(rows) if r[0].text == "Mean BHAR"), len(rows) - 1)
        frame = aggregate.reset_index(drop=True)
        rows.insert(at + 1, (paper.Cell("Mean reference BHAR"),
                             *(paper.Cell(value=float(v)) for v in frame["mean_bhar_ref"])))
        rules = [r + 1 if r >= at else r for r in rules]
    notes = table.notes
    if any(t in aggregate for t in BHAR_TESTS):
        notes += (" BHAR tests: conventional t, Lyon-Barber-Tsai (1999) skewness-adjusted t "
                  "and its bootstrapped version (stars from the bootstrap p-value).")
    return replace(table, rows=tuple(rows), notes=notes, rules_after=tuple(sorted(set(rules))))


class Summary(str):
    """The summary of a result: the text itself, with HTML and LaTeX versions.

    Parameters
    ----------
    text : str
        The text summary (what ``str()`` gives).
    title : str
        Title of the result (``Event study``).
    header : sequence of (str, str)
        Settings and counts shown above the tables.
    tables : sequence of PaperTable
        Tables for HTML and LaTeX.
    """

    title: str
    header: tuple[tuple[str, str], ...]
    tables: tuple[paper.PaperTable, ...]

    def __new__(cls, text: str, *, title: str = "", header: Sequence[tuple[str, str]] = (),
                tables: Sequence[paper.PaperTable] = ()) -> Summary:
        """Build the summary from its text and the pieces of its HTML and LaTeX."""
        obj = super().__new__(cls, text)
        obj.title = title
        obj.header = tuple((str(k), str(v)) for k, v in header)
        obj.tables = tuple(tables)
        return obj

    def as_text(self) -> str:
        """The summary as plain text (the same as ``str(summary)``)."""
        return str.__str__(self)

    def __str__(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return str.__str__(self)

    def _header_table(self) -> paper.PaperTable:
        rows = tuple((paper.Cell(k), paper.Cell(v)) for k, v in self.header)
        return paper.PaperTable("settings", self.title or "Summary", ("Setting", "Value"),
                                rows)

    def as_latex(self) -> str:
        r"""The summary as booktabs LaTeX tables (settings, then each table).

        The preamble needs ``\usepackage{booktabs}``; wrap it with
        :func:`marketreact.render.tables.latex_document` for a complete document.
        """
        parts = [paper.to_latex(self._header_table())] if self.header else []
        parts += [paper.to_latex(t) for t in self.tables]
        return "\n".join(parts)

    def as_html(self) -> str:
        """The summary as HTML tables (every text cell escaped)."""
        def table(t: paper.PaperTable, head: bool = True) -> str:
            out = [f"<table class=\"marketreact-summary\"><caption>{html.escape(t.title)}"
                   "</caption>"]
            if head:
                out.append("<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>"
                                                   for h in t.header) + "</tr></thead>")
            out.append("<tbody>")
            for row in t.to_frame().itertuples(index=False):
                cells = [html.escape(str(v)) for v in row]
                out.append(f"<tr><th>{cells[0]}</th>"
                           + "".join(f"<td>{c}</td>" for c in cells[1:]) + "</tr>")
            out.append("</tbody></table>")
            if t.notes:
                out.append(f"<p><small>{html.escape(t.notes)}</small></p>")
            return "".join(out)

        parts = [table(self._header_table(), head=False)] if self.header else []
        parts += [table(t) for t in self.tables]
        return "<div class=\"marketreact-summary\">" + "".join(parts) + "</div>"

    def _repr_html_(self) -> str:
        return self.as_html()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (str.__str__(self), self.title, self.header, self.tables))


def _rebuild(text: str, title: str, header: Any, tables: Any) -> Summary:
    return Summary(text, title=title, header=header, tables=tables)
