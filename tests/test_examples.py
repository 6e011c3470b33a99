"""The example scripts of docs/examples reproduce the numbers the docs print."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from scipy import stats

from conftest import ROOT

DOCS = ROOT / "docs"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, DOCS / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fed_tables() -> ModuleType:
    return _load("fed_tables")


def test_fed_tables_print_the_tables_of_the_docs(fed_tables: ModuleType, shared_data: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    bars = shared_data / "intraday"
    if not bars.is_dir():
        pytest.skip("../shared/data/intraday is not present on this machine")
    assert fed_tables.main([str(bars)]) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    docs = (DOCS / "intraday.md").read_text(encoding="utf-8")
    # reference: the tables of docs/intraday.md ("The Fed's rate decisions ..."), row by row
    assert len(printed) == 21  # three tables: header, rule, five groups
    missing = [line for line in printed if line not in docs.splitlines()]
    assert not missing
    # and the figure the prose quotes: 24 of the 44 decisions with an extreme bank hour
    banks = next(line for line in printed if line.startswith("| banks (BAC, AIG) | 27"))
    assert "| 24 of 44 |" in banks and "in 24 of the 44\ndecisions" in docs


def test_clustered_z_by_hand(fed_tables: ModuleType) -> None:
    # reference: hand computation of U_i = R_i/n_i - (n_i + 1)/(2 n_i) and the sandwich sum
    rank = np.array([21.0, 1.0, 11.0, 20.0])
    n = np.array([21, 21, 21, 20])
    u = rank / n - (n + 1) / (2 * n)
    z, p = fed_tables.clustered_z(rank, n, np.array(["a", "a", "b", "c"]))
    sums = [u[0] + u[1], u[2], u[3]]
    z_hand = sum(sums) / math.sqrt(sum(s * s for s in sums))
    assert z == pytest.approx(z_hand, rel=1e-12)
    assert p == pytest.approx(2 * stats.norm.sf(abs(z_hand)), rel=1e-12)


def test_fed_tables_bad_folder_is_one_line_and_exit_2(fed_tables: ModuleType, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert fed_tables.main([str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nowhere" in err
