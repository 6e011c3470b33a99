"""``marketreact export``: Excel opened back with openpyxl, LaTeX checked by structure (and
compiled with pdflatex when one is installed), Markdown pipe tables, Parquet read back."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import marketreact.cli.export  # noqa: F401  (registers the command on the app)
from marketreact.cli.app import app
from marketreact.errors import InputError
from marketreact.output.export import (
    ResultsTables,
    export_results,
    read_results,
    write_xlsx,
)
from marketreact.output.files import write_csv, write_json
from marketreact.output.folder import read_manifest, results_folder
from marketreact.render.tables import (
    caar_table,
    car_table,
    escape_latex,
    latex_document,
    parse_stars,
    star_count,
    to_latex,
    to_markdown,
)

TRICKY = "a&b%c$d#e_f{g}h~i^j\\k"
WINDOWS = ["[-1,+1]", "[0,0]", "[0,+1]"]


def _study_folder(root: Path) -> Path:
    events = ["ev-1", TRICKY, "=HYPERLINK(\"x\")"]
    car = pd.DataFrame([{"event_id": e, "window": w, "car": 0.01 * (i + 1) * (j - 1),
                         "car_se": 0.01, "car_t": 1.0 * (i + 1) * (j - 1),
                         "car_p": [0.2, 0.04, 0.005][i], "df": 200, "bhar": 0.0,
                         "sessions": 3, "missing": 0}
                        for i, e in enumerate(events) for j, w in enumerate(WINDOWS)])
    agg = pd.DataFrame({"window": WINDOWS, "n": [3, 3, 2], "caar": [-0.0123, 0.0456, 0.001],
                        "mean_bhar": [-0.012, 0.045, 0.001], "t": [-2.5, 3.1, 0.1],
                        "p": [0.03, 0.009, 0.92], "patell": [-1.7, 2.0, np.nan],
                        "patell_p": [0.09, 0.046, np.nan]})
    aar = pd.DataFrame({"rel_day": [-1, 0, 1], "n": [3, 3, 3], "aar": [0.001, -0.02, 0.003],
                        "caar": [0.001, -0.019, -0.016], "t": [0.2, -2.9, 0.5],
                        "p": [0.8, 0.004, 0.6], "patell": [0.1, -2.0, 0.4],
                        "patell_p": [0.9, 0.045, 0.7]})
    ev = pd.DataFrame({"event_id": events, "ticker": ["AAA", "B_B", "C&C"],
                       "day0": ["2024-01-02"] * 3, "headline": ["x", "50% up", "-minus"]})
    out = root / "study"
    with results_folder(out, command="study") as stage:
        write_csv(car, stage / "car.csv")
        write_csv(agg, stage / "aggregate.csv")
        write_csv(aar, stage / "aar.csv")
        write_csv(ev, stage / "events.csv")
        write_csv(pd.DataFrame(columns=["event_id", "ticker", "reason"]),
                  stage / "failures.csv")
        write_json({"settings": {"model": "market-model", "estimation": [-250, -11]},
                    "versions": {"marketreact": "0.1.0"}, "events_studied": 3},
                   stage / "summary.json")
    return out


def _backtest_folder(root: Path) -> Path:
    out = root / "bt"
    with results_folder(out, command="backtest") as stage:
        write_csv(pd.DataFrame({"metric": ["trades", "mean_trade_return", "start"],
                                "value": [16, -0.0112, "2023-10-05"]}), stage / "metrics.csv")
        write_csv(pd.DataFrame({"horizon": [1, 5], "n": [16, 16], "mean": [-0.008, -0.03],
                                "mean_signed": [0.006, -0.006], "hit_rate": [0.69, 0.44],
                                "ic": [0.43, -0.22], "ic_p": [0.09, 0.4]}), stage / "forward.csv")
        write_csv(pd.DataFrame({"date": ["2024-01-02"], "equity": [1.0]}), stage / "daily.csv")
        write_json({"metrics": {"trades": 16}}, stage / "metrics.json")
    return out


def test_escape_latex_every_special_character():
    assert escape_latex(TRICKY) == (r"a\&b\%c\$d\#e\_f\{g\}h\textasciitilde{}i"
                                    r"\textasciicircum{}j\textbackslash{}k")
    assert escape_latex("plain-text 1.5") == "plain-text 1.5"


def test_stars_parsing_and_counting():
    assert parse_stars("0.01, 0.1,0.05") == (0.1, 0.05, 0.01)
    assert parse_stars("") == ()
    assert [star_count(p, (0.1, 0.05, 0.01)) for p in (0.2, 0.09, 0.04, 0.001, np.nan)] == [
        0, 1, 2, 3, 0]
    for bad in ("0.1,abc", "1.5", "0", "0.1,0.1"):
        with pytest.raises(InputError):
            parse_stars(bad)


def test_read_results_restores_guarded_numbers_and_text_ids(tmp_path):
    res = read_results(_backtest_folder(tmp_path))
    assert res.kind == "backtest"
    values = res.tables["metrics"]["value"].tolist()
    assert values[1] == pytest.approx(-0.0112) and values[2] == "2023-10-05"
    study = read_results(_study_folder(tmp_path))
    assert study.kind == "study"
    assert study.tables["car"]["event_id"].tolist()[:4] == ["ev-1"] * 3 + [TRICKY]


def test_caar_table_layout():
    agg = pd.DataFrame({"window": ["[0,0]"], "n": [5], "caar": [0.0123], "t": [2.4],
                        "p": [0.04], "patell": [1.8], "patell_p": [0.07]})
    tab = caar_table(agg, (0.1, 0.05, 0.01))
    text = tab.to_frame()
    assert text.iloc[:, 0].tolist() == ["N", "CAAR", "", "Patell Z (1976)"]
    assert text.iloc[:, 1].tolist() == ["5", "0.0123**", "(2.40)", "1.80*"]
    latex = to_latex(tab)
    assert r"$0.0123^{**}$ \\" in latex and r"$(2.40)$ \\" in latex


def test_latex_export_structure(tmp_path):
    folder = _study_folder(tmp_path)
    (path,) = export_results(folder, "latex", stars="0.1,0.05,0.01")
    assert path == folder / "tables.tex"
    text = path.read_text()
    assert text.count(r"\begin{table}") == 3 == text.count(r"\end{table}")
    for label in ("tab:caar", "tab:car", "tab:aar"):
        assert f"\\label{{{label}}}" in text
    for block in re.findall(r"\\begin\{tabular\}\{(\w+)\}(.*?)\\end\{tabular\}", text, re.S):
        spec, body = block
        rows = [r for r in body.split("\n") if r.endswith(r"\\")]
        assert all(r.count(" & ") == len(spec) - 1 for r in rows), body
        assert body.strip().startswith(r"\toprule") and body.strip().endswith(r"\bottomrule")
        assert body.count(r"\midrule") >= 1
    # every special character of the event id escaped; the raw id never appears
    assert escape_latex(TRICKY) in text and TRICKY not in text
    assert r"C\&C" in text and "B\\_B" in text
    # CAAR -0.0123 with p 0.03: two stars; t in parentheses below
    assert r"$-0.0123^{**}$" in text and r"$(-2.50)$" in text
    # per-event CAR: p 0.005 -> three stars
    assert "^{***}" in text
    # written into the folder: the manifest lists it and the folder still checks
    doc = read_manifest(folder)
    assert "tables.tex" in doc["files"] and "export" in doc["added_by"]
    read_results(folder)


def test_xlsx_opens_back_with_openpyxl(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    folder = _study_folder(tmp_path)
    out = tmp_path / "book.xlsx"
    export_results(folder, "xlsx", out=out)
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["about", "aar", "aggregate", "car", "events", "failures"]
    agg = book["aggregate"]
    rows = list(agg.iter_rows(values_only=True))
    assert rows[0][:4] == ("window", "n", "caar", "mean_bhar")
    assert rows[1][0] == "[-1,+1]" and rows[1][2] == pytest.approx(-0.0123)
    assert rows[3][6] is None  # NaN -> empty cell
    car = book["car"]
    ids = [c.value for c in car["A"]][1:]
    assert TRICKY in ids
    assert "'=HYPERLINK(\"x\")" in ids  # the CSV's guarded text, kept as text
    ev = book["events"]
    assert [c.value for c in ev["D"]][1:] == ["x", "50% up", "'-minus"]  # as the CSV holds it
    about = dict(book["about"].iter_rows(min_row=2, values_only=True))
    assert about["kind"] == "study" and about["settings.model"] == "market-model"
    assert about["settings.estimation"] == "[-250, -11]"


def test_xlsx_text_is_never_a_formula(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    frame = pd.DataFrame({"id": ["=1+1", "@SUM(A1)", "ok"], "x": [1.5, np.nan, np.inf]})
    out = write_xlsx(ResultsTables(tmp_path, "other", {"t": frame}), tmp_path / "f.xlsx")
    sheet = openpyxl.load_workbook(out)["t"]
    cells = [c for c in sheet["A"]][1:]
    assert [c.value for c in cells] == ["=1+1", "@SUM(A1)", "ok"]
    assert all(c.data_type == "s" for c in cells)
    assert [c.value for c in sheet["B"]][1:] == [1.5, None, None]


def test_markdown_and_parquet(tmp_path):
    folder = _study_folder(tmp_path)
    (md,) = export_results(folder, "md", out=tmp_path / "t.md", stars="0.05")
    text = md.read_text()
    table_lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    assert table_lines and all(ln.endswith("|") for ln in table_lines)
    assert "| :-- |" in text and "-0.0123\\*" in text and "-0.0123\\*\\*" not in text
    assert "a&b%c$d#e\\_f{g}h~i^j\\\\k" in text  # markdown escapes only what it must
    written = export_results(folder, "parquet", out=tmp_path / "pq")
    assert {p.name for p in written} == {"aar.parquet", "aggregate.parquet", "car.parquet",
                                         "events.parquet", "failures.parquet"}
    back = pd.read_parquet(tmp_path / "pq" / "car.parquet")
    pd.testing.assert_frame_equal(back, read_results(folder).tables["car"],
                                  check_dtype=False)


def test_backtest_tables(tmp_path):
    folder = _backtest_folder(tmp_path)
    text = export_results(folder, "latex", out=tmp_path / "bt.tex")[0].read_text()
    assert r"\label{tab:metrics}" in text and r"\label{tab:forward}" in text
    assert r"mean\_trade\_return & $-0.0112$" in text and "$0.430^{*}$" in text
    export_results(folder, "parquet", out=tmp_path / "pq")
    pq = pd.read_parquet(tmp_path / "pq" / "metrics.parquet")
    assert pq["value"].tolist() == ["16", "-0.0112", "2023-10-05"]  # mixed column as text


def test_incomplete_folder_is_refused(tmp_path):
    folder = _study_folder(tmp_path)
    (folder / "car.csv").write_text("event_id\n")
    with pytest.raises(InputError, match="incomplete"):
        export_results(folder, "md")


def test_cli_export(tmp_path):
    folder = _study_folder(tmp_path)
    runner = CliRunner()
    out = tmp_path / "cli.tex"
    res = runner.invoke(app, ["export", str(folder), "--format", "latex", "--out", str(out),
                              "--stars", "0.05,0.01"])
    assert res.exit_code == 0, res.output
    assert "latex export written" in res.output and out.is_file()
    bad = runner.invoke(app, ["export", str(folder), "--format", "latex", "--stars", "2"])
    assert bad.exit_code == 2 and "--stars" in bad.output
    missing = runner.invoke(app, ["export", str(tmp_path / "nope"), "--format", "md"])
    assert missing.exit_code == 2


def _compile(tex: str, where: Path) -> subprocess.CompletedProcess[str]:
    (where / "doc.tex").write_text(tex)
    return subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                          cwd=where, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_latex_compiles_to_pdf(tmp_path):
    folder = _study_folder(tmp_path)
    res = read_results(folder)
    agg, car = res.tables["aggregate"], res.tables["car"]
    tex = latex_document([caar_table(agg), car_table(car)])
    run = _compile(tex, tmp_path)
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert "Overfull" not in log
    export_results(folder, "latex", out=tmp_path / "standalone" / "doc.tex", standalone=True)
    again = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                            "doc.tex"], cwd=tmp_path / "standalone", capture_output=True,
                           text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stdout[-2000:]


def test_markdown_renders_headers():
    agg = pd.DataFrame({"window": ["[0,0]"], "n": [5], "caar": [0.01], "t": [1.0], "p": [0.3]})
    md = to_markdown(caar_table(agg))
    assert md.startswith("## Cumulative average abnormal returns by window")
    assert json.dumps(md)  # plain text
