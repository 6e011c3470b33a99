"""The one text layout behind every summary (render/text.py), on hand-written values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from marketreact.render.text import (
    WIDTH,
    Column,
    block_lines,
    format_tests,
    header_lines,
    number,
    summary_text,
    table_lines,
    title_lines,
)


def test_title_is_centred_over_a_rule() -> None:
    title, line = title_lines("Event study", width=20)
    assert title == "    Event study"
    assert line == "=" * 20


def test_header_pairs_fill_two_aligned_columns() -> None:
    lines = header_lines([("model", "market-model"), ("measure", "return"),
                          ("events studied", "16")], width=60)
    assert lines == ["model:          market-model  measure:        return",
                     "events studied: 16"]
    # keys and values of the right column start at the same place on every line
    assert lines[0].index("measure") == 30


def test_a_long_left_value_keeps_two_spaces_before_the_right_column() -> None:
    (line,) = header_lines([("signal", "column:" + "x" * 40), ("entry", "close")], width=40)
    assert line.endswith("x  entry:  close")


def test_table_aligns_numbers_and_text() -> None:
    columns = (Column("window", 8, align="<"), Column("N", 4, "d"), Column("CAAR", 9, ".4f"))
    lines = table_lines(columns, [("[-1,+1]", 16, 0.0123456), ("[0,0]", 3, None)], width=21)
    assert lines == ["window     N     CAAR",
                     "-" * 21,
                     "[-1,+1]   16   0.0123",
                     "[0,0]      3"]


def test_a_cell_that_does_not_fit_its_format_is_shown_as_text() -> None:
    assert Column("N", 5, "d").cell(float("nan")) == "  nan"
    assert Column("n", 3, gap=2).cell("ab") == "   ab"


def test_block_is_a_statsmodels_block() -> None:
    lines = block_lines("CAAR[0,0] = 0.01", (Column("test", 6, align="<"),), [("t",)], width=10)
    assert lines == ["=" * 10, "CAAR[0,0] = 0.01", "-" * 10, "test", "-" * 10, "t"]


def test_summary_rules_between_sections_and_empty_sections_left_out() -> None:
    text = summary_text("T", [("a", "1")], [["x"], [], ["y"], ["=" * 10, "z"]], width=10)
    assert text.splitlines() == ["    T", "=" * 10, "a: 1", "=" * 10, "x", "-" * 10, "y",
                                 "=" * 10, "z", "=" * 10]


def test_number_shows_n_a_for_what_is_not_a_finite_number() -> None:
    assert number(0.123456) == "0.1235"
    assert number(np.float64(2.5), ".1f") == "2.5"
    assert number(3, ".0f") == "3"
    for bad in (None, math.nan, math.inf, "x", True):
        assert number(bad) == "n/a"


def test_format_tests_lays_out_each_window_and_the_reasons() -> None:
    table = pd.DataFrame({
        "window": ["[-1,+1]", "[-1,+1]", "[0,0]", "[0,0]"],
        "caar": [0.01, 0.01, -0.002, -0.002], "n": [16, 16, 15, 15],
        "test": ["Cross-sectional t", "Patell Z (1976)"] * 2,
        "statistic": [2.5, np.nan, -1.25, 0.5], "pvalue": [0.0245, np.nan, 0.23, 0.61],
        "null": ["t(15)", "", "t(14)", "N(0,1)"],
        "reason": ["", "needs estimation residuals", "", ""]})
    text = format_tests(table, alternative="two-sided", r_bar=0.0123)
    lines = text.splitlines()
    assert lines[:5] == ["=" * WIDTH, "CAAR[-1,+1] = 0.010000   N = 16   H1: two-sided",
                         "-" * WIDTH,
                         f"{'test':<42}{'statistic':>11}{'p-value':>10}  null", "-" * WIDTH]
    assert lines[5] == f"{'Cross-sectional t':<42}{2.5:>11.4f}{0.0245:>10.4f}  t(15)"
    assert lines[6] == f"{'Patell Z (1976)':<42}{'n/a':>11}{'':>10}  needs estimation residuals"
    assert "CAAR[0,0] = -0.002000   N = 15   H1: two-sided" in lines
    assert lines[-1] == "average cross-correlation of estimation residuals (r-bar): 0.0123"
    assert "r-bar" not in format_tests(table, alternative="less", r_bar=None)
