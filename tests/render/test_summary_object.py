"""``StudyResult.summary()`` as a statsmodels-style Summary: the same text as before (it is
a str), ``as_html`` that an HTML/XML parser reads back, ``as_latex`` with booktabs rules
and as many cells in every row as the header (compiled by pdflatex when installed)."""

from __future__ import annotations

import io
import pickle
import shutil
import subprocess
import xml.etree.ElementTree as ET
from contextlib import redirect_stdout
from html.parser import HTMLParser
from pathlib import Path

import pytest

from marketreact.events.catalogue import read_events
from marketreact.prices import load_prices
from marketreact.prices.csv_source import CsvSource
from marketreact.render.summary import Summary
from marketreact.render.tables import latex_document
from marketreact.study.fit import EventStudy
from marketreact.study.results import StudyResult


@pytest.fixture(scope="module")
def goto(prices_dir: Path, goto_events: Path) -> StudyResult:
    events = read_events(goto_events)
    prices = load_prices(CsvSource(prices_dir), events, before=250, after=10)
    return EventStudy(n_boot=199).fit(events, prices)


def test_summary_is_the_text_it_was(goto: StudyResult) -> None:
    s = goto.summary()
    assert isinstance(s, Summary) and isinstance(s, str)
    assert s.as_text() == str(s) == str(goto) == s
    assert type(str(s)) is str and repr(s) == str(s)
    buf = io.StringIO()
    with redirect_stdout(buf):
        print(goto.summary())
    assert buf.getvalue() == str(s) + "\n"
    lines = s.splitlines()
    assert lines[0].strip() == "Event study" and set(lines[1]) == {"="}
    # the CAAR rows as the text always laid them out (Column widths 10, 6, 12, 10, 10, 14)
    for r in goto.aggregate.itertuples(index=False):
        row = (f"{r.window:<10}{r.n:>6d}{r.caar:>12.5f}{r.t:>10.3f}{r.p:>10.4f}"
               f"{r.mean_bhar:>14.5f}")
        assert any(line.rstrip() == row.rstrip() for line in lines), row
    assert pickle.loads(pickle.dumps(s)).as_latex() == s.as_latex()


def test_as_html_parses(goto: StudyResult) -> None:
    s = goto.summary()
    html = s.as_html()
    assert s._repr_html_() == html
    root = ET.fromstring(html)  # well-formed: every tag closed, text escaped
    tables = root.findall("table")
    assert [t.find("caption").text for t in tables] == [
        "Event study", "Cumulative average abnormal returns by window"]

    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.cells: list[str] = []

        def handle_data(self, data: str) -> None:
            self.cells.append(data)

    parser = Cells()
    parser.feed(html)
    for caar in goto.aggregate["caar"]:
        assert f"{caar:.4f}" in parser.cells
    assert "BHAR skewness-adjusted t (LBT 1999)" in parser.cells


def _tabulars(tex: str) -> list[list[str]]:
    out = []
    for block in tex.split(r"\begin{tabular}")[1:]:
        body = block.split(r"\end{tabular}")[0]
        out.append([line for line in body.splitlines() if line.endswith(r"\\")])
    return out


def test_as_latex_is_booktabs(goto: StudyResult) -> None:
    tex = goto.summary().as_latex()
    assert tex.count(r"\begin{table}") == tex.count(r"\end{table}") == 2
    for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
        assert tex.count(rule) >= 2
    specs = [b.split("}")[0].lstrip("{") for b in tex.split(r"\begin{tabular}")[1:]]
    for spec, rows in zip(specs, _tabulars(tex), strict=True):
        for row in rows:  # every row has as many cells as the column spec
            assert row.count("&") - row.count(r"\&") == len(spec) - 1, row
    assert "Mean BHAR" in tex and r"BHAR bootstrapped skewness-adjusted t (LBT 1999)" in tex


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_as_latex_compiles(goto: StudyResult, tmp_path: Path) -> None:
    summary = goto.summary()
    (tmp_path / "doc.tex").write_text(latex_document(summary.tables).replace(
        r"\begin{document}", r"\begin{document}" + "\n" + summary.as_latex(), 1))
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "doc.pdf").read_bytes().startswith(b"%PDF")
