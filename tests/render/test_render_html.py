"""HTML views from frames and plain values; render/ and events/ import nothing above them."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

from marketreact.render.html import backtest_html, page_html, result_html

SRC = Path(__file__).resolve().parents[2] / "src" / "marketreact"


def _imports(folder: Path) -> dict[str, set[str]]:
    """Modules (and ``module.name`` for from-imports) each file of a package imports."""
    found: dict[str, set[str]] = {}
    for path in sorted(folder.glob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
        found[path.name] = names
    return found


def test_render_imports_no_result_class_nor_anything_above_it() -> None:
    above = ("marketreact.study", "marketreact.backtest", "marketreact.output",
             "marketreact.cli", "marketreact.validation")
    for name, modules in _imports(SRC / "render").items():
        bad = {m for m in modules if m.startswith(above) or m == "marketreact.__version__"}
        assert not bad, f"render/{name} imports {sorted(bad)}"


def test_events_import_nothing_above_prices() -> None:
    above = ("marketreact.panel", "marketreact.windows", "marketreact.models",
             "marketreact.inference", "marketreact.render", "marketreact.study",
             "marketreact.backtest", "marketreact.output", "marketreact.cli",
             "marketreact.calendar.SessionSource")
    for name, modules in _imports(SRC / "events").items():
        bad = {m for m in modules if m.startswith(above)}
        assert not bad, f"events/{name} imports {sorted(bad)}"


def test_render_module_docstrings_say_they_import_no_result_class() -> None:
    for name in ("__init__.py", "text.py", "html.py", "figures.py"):
        doc = ast.get_docstring(ast.parse((SRC / "render" / name).read_text(encoding="utf-8")))
        assert doc and "imports no result class" in " ".join(doc.lower().split()), name


def _study_frames() -> tuple[pd.DataFrame, ...]:
    events = pd.DataFrame({"event_id": ["a", "b"], "ticker": ["AAA", "B<B>"],
                           "day0": pd.to_datetime(["2024-01-03", "2024-01-04"])})
    car = pd.DataFrame({"event_id": ["a", "a", "b", "b"],
                        "window": ["[-1,+1]", "[0,0]"] * 2, "car": [0.01, 0.02, -0.03, 0.0],
                        "car_t": [1.0, 2.0, -3.0, 0.0], "car_p": [0.3, 0.05, 0.01, 1.0]})
    aggregate = pd.DataFrame({"window": ["[-1,+1]", "[0,0]"], "n": [2, 2],
                              "caar": [-0.01, 0.01], "t": [-0.5, 1.0], "p": [0.7, 0.5]})
    ar = pd.DataFrame({"event_id": ["a", "a", "b", "b"], "rel_day": [0, 1, 0, 1],
                       "ar": [0.0123, 0.5, -0.0456, 0.5]})
    return events, car, aggregate, ar


SETTINGS = {"model": "market-model", "returns": "simple", "estimation": [-250, -11],
            "window": [-10, 10], "car_windows": [[-1, 1], [0, 0]]}


def test_result_html_from_frames() -> None:
    events, car, aggregate, ar = _study_frames()
    failures = pd.DataFrame({"event_id": ["c"], "ticker": ["CCC"], "reason": ["no prices"]})
    text = result_html(events, car, aggregate, SETTINGS, failures=failures,
                       abnormal_returns=ar)
    assert "2 events studied, 1 failed · model market-model · returns simple" in text
    assert "estimation [-250,-11] · window [-10,+10]" in text
    assert "<th class=\"\">CAR[-1,+1]</th>" in text and "<th class=\"\">AR(0)</th>" in text
    assert "0.0123" in text and "-0.0456" in text and "0.5" not in text.split("Events")[1]
    assert "B&lt;B&gt;" in text and "no prices" in text
    without = result_html(events, car, aggregate, SETTINGS)
    assert "AR(0)" not in without and "Failures" not in without


def test_backtest_html_from_frames() -> None:
    trades = pd.DataFrame({"event_id": [f"e{i}" for i in range(12)], "net_return": 0.01})
    settings = {"signal": "sentiment", "signal_mode": "sign", "entry": "next-open",
                "hold": 3, "hedge": "none", "cost_bps": 5.0}
    text = backtest_html({"trades": 12, "sharpe": 1.2345678}, trades, settings,
                         placebo={"draws": 100, "p_two_sided": 0.25}, max_rows=10)
    assert "12 trades, 0 events failed · signal sentiment (sign) · entry next-open" in text
    assert "hold 3 · hedge none · cost 5 bps/side" in text
    assert "<th>sharpe</th><td>1.235</td>" in text
    assert "Placebo" in text and "<th>p_two_sided</th><td>0.25</td>" in text
    assert "e9" in text and "e10" not in text and "Showing the first 10 of 12 rows" in text


def test_page_names_its_generator() -> None:
    page = page_html("T", "", [("a", "A", "<p>x</p>")], generator="marketreact 9.9")
    assert '<meta name="generator" content="marketreact 9.9">' in page
    assert '<section id="a"><h2>A</h2><p>x</p></section>' in page


def test_tests_by_window_lists_the_cross_sectional_t_first() -> None:
    # aggregate.csv names the cross-sectional t's p-value "p", every other test "X_p"
    from marketreact.render.html import tests_by_window

    agg = pd.DataFrame({"window": ["[-1,+1]", "[0,0]"], "n": [16, 16], "caar": [-0.005, -0.019],
                        "mean_bhar": [-0.008, -0.019], "t": [-0.42, -1.62], "p": [0.681, 0.127],
                        "patell": [-0.71, -2.10], "patell_p": [0.480, 0.036]})
    table = tests_by_window(agg)
    assert list(table["test"]) == ["N (events)", "CAAR", "mean BHAR", "cross-sectional t",
                                   "Patell Z"]
    assert table.loc[3, "[0,0]"] == "-1.62 (0.127)"
    assert table.loc[4, "[0,0]"] == "-2.10 (0.036)**"
