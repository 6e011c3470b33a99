"""``regress --formula`` is checked against a small grammar before patsy evaluates it.

Reference: patsy's own parser and evaluator (patsy.dmatrices) on the same formulas — every
formula the check accepts builds a design matrix from the table's columns alone, and the
hostile ones (calls, attribute access, dunders, strings) never reach patsy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketreact.errors import InputError
from marketreact.inference.formula import MAX_DEPTH, MAX_LENGTH, check_formula

COLUMNS = ["car", "sentiment", "is_goto", "size", "exchange"]
FRAME = pd.DataFrame({"car": np.linspace(-0.02, 0.03, 8), "sentiment": np.arange(8) % 3 - 1.0,
                      "is_goto": [0, 1] * 4, "size": np.arange(1.0, 9.0),
                      "exchange": ["XIDX", "XNYS"] * 4})

GOOD = ["car ~ 1", "car ~ sentiment", "car ~ sentiment + is_goto", "car ~ sentiment * is_goto",
        "car ~ sentiment:is_goto - 1", "car ~ C(exchange) + I(size**2)",
        "car ~ (sentiment + size):is_goto", "car ~ I(-size / 2 + 1e-3) + 0",
        "car ~ - 1 + size"]
BAD = ["car ~ __import__('os').system('touch /tmp/pwned')", "car ~ np.log(size)",
       "car ~ exec('1')", "car ~ size.__class__", "car ~ I(open('x'))", "car ~ 'text'",
       "car ~ size[0]", "car ~ C(exchange, Treatment)", "car ~ lambda", "car ~ nope",
       "car", "~ size", "car ~ size +", "car ~ (size", "car ~ 2", "car ~ size; import os",
       "car ~ size\n+ os", "car ~ I(size) )", "car ~ __class__", ""]


@pytest.mark.parametrize("formula", GOOD)
def test_accepted_formulas_are_ones_patsy_builds_from_the_columns(formula: str) -> None:
    patsy = pytest.importorskip("patsy")
    assert check_formula(formula, COLUMNS) == formula
    y, x = patsy.dmatrices(formula, FRAME, return_type="dataframe", eval_env=0)
    assert len(y) == len(FRAME) and x.shape[1] >= 1


@pytest.mark.parametrize("formula", BAD)
def test_hostile_or_broken_formulas_are_refused_in_one_line(formula: str) -> None:
    with pytest.raises(InputError) as info:
        check_formula(formula, COLUMNS)
    text = str(info.value)
    assert "--formula" in text and "\n" not in text.replace(formula, "")


def test_limits_are_stated() -> None:
    with pytest.raises(InputError, match=f"longer than {MAX_LENGTH}"):
        check_formula("car ~ " + " + ".join(["size"] * 400), COLUMNS)
    deep = "car ~ " + "(" * (MAX_DEPTH + 1) + "size" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(InputError, match=f"deeper than {MAX_DEPTH}"):
        check_formula(deep, COLUMNS)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*"car~+-*:/()CI_.'\"[]0123456789 ",
                                 "size", "exchange", "__import__", "os", "np.log"]),
                max_size=30).map("".join))
def test_generated_formulas_either_pass_patsy_safely_or_are_refused(text: str) -> None:
    """Whatever the text, the check answers (no crash) and what it accepts uses only columns."""
    try:
        check_formula(text, COLUMNS)
    except InputError:
        return
    for banned in ("__", "'", '"', "[", ".", "import"):
        assert banned not in text
