"""The package's face and ground floor: version, top-level names, and ``validate --prices``."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import marketreact
from marketreact._version import __version__
from marketreact.cli import app
from marketreact.cli.validate import price_folder
from marketreact.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


def test_version_agrees_with_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == __version__ == marketreact.__version__


def test_top_level_names() -> None:
    from marketreact.backtest import Backtest, BacktestResult, BacktestSettings
    from marketreact.prices import load_prices

    assert marketreact.load_prices is load_prices
    assert marketreact.Backtest is Backtest
    assert marketreact.BacktestSettings is BacktestSettings
    assert marketreact.BacktestResult is BacktestResult
    assert {"load_prices", "Backtest", "BacktestSettings", "BacktestResult"} <= set(
        marketreact.__all__) <= set(dir(marketreact))
    with pytest.raises(AttributeError):
        _ = marketreact.no_such_name  # type: ignore[attr-defined]


def test_top_level_import_stays_light() -> None:
    code = ("import sys, marketreact; heavy = ['marketreact.backtest', 'matplotlib', "
            "'yfinance', 'statsmodels', 'dask']; print([m for m in heavy if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_validate_price_spec(tmp_path: Path) -> None:
    assert price_folder(f"csv:{tmp_path}") == tmp_path
    assert price_folder(str(tmp_path)) == tmp_path  # a bare folder still works
    with pytest.raises(InputError, match="use --prices csv:DIR"):
        price_folder("yahoo")
    with pytest.raises(InputError, match="not found"):
        price_folder(f"csv:{tmp_path / 'nope'}")


def test_validate_takes_csv_dir(prices_dir: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["validate", "--prices", f"csv:{prices_dir}", "--out",
                                   str(tmp_path / "v"), "--samples", "4", "--events", "5",
                                   "--bootstrap", "0", "--panel", "us", "-q"])
    assert res.exit_code == 0, res.output
    rates = pd.read_csv(tmp_path / "v" / "rejection_rates.csv")
    assert set(rates["panel"]) == {"us"}
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = CliRunner().invoke(app, ["validate", "--prices", f"csv:{empty}", "--panel", "us"])
    assert bad.exit_code == 2 and "no us/ folder" in bad.output
