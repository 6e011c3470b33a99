"""StudyResult and BacktestResult show the same face; settings take their choices as text."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from _backtest_data import et, frame, xnys_labels
from marketreact.backtest.results import BacktestResult
from marketreact.backtest.run import Backtest
from marketreact.backtest.settings import BacktestSettings, EntryRule, HedgeMode, SignalMode
from marketreact.calendar import SessionSource
from marketreact.errors import InputError
from marketreact.events.eventstudytools import load_eventstudytools
from marketreact.inference.base import Alternative
from marketreact.models.spec import Method, MissingPolicy, ModelName
from marketreact.panel.measures import Measure
from marketreact.panel.returns import ReturnKind
from marketreact.prices.checks import SuspectPolicy
from marketreact.render.html import backtest_html
from marketreact.render.text import WIDTH
from marketreact.study.fit import EventStudy
from marketreact.study.results import StudyResult
from marketreact.study.settings import StudySettings

LABELS = xnys_labels("2024-01-02", "2024-03-28")
t = np.arange(len(LABELS), dtype=float)


@pytest.fixture(scope="module")
def backtest() -> BacktestResult:
    frames = {"AAA": frame(LABELS, 100 + t, 100 + t - 0.5),
              "BBB": frame(LABELS, 200 - t, 200 - t + 1),
              "MKT": frame(LABELS, 50 + 0.1 * t, 50 + 0.1 * t - 0.05)}
    events = pd.DataFrame([
        {"event_id": "E1", "ticker": "AAA", "timestamp": et("2024-01-03 15:00"),
         "sentiment": 0.6},
        {"event_id": "E2", "ticker": "BBB", "timestamp": et("2024-01-04 08:00"),
         "sentiment": -0.3},
        {"event_id": "E4", "ticker": "ZZZ", "timestamp": et("2024-01-05 10:00"),
         "sentiment": 0.9}])
    settings = BacktestSettings(entry="next-open", hold=2, market="MKT", placebo_draws=50,
                                horizons=(1, 5))
    return Backtest(settings).run(events, frames)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> StudyResult:
    """A two-event study from EventStudyTools files (the loader's values, then the settings)."""
    folder = tmp_path_factory.mktemp("est")
    rng = np.random.default_rng(3)
    days = pd.bdate_range("2020-01-01", periods=60)
    m = 100 * np.cumprod(1 + rng.normal(0, 0.01, 60))
    f = 10 * np.cumprod(1 + rng.normal(0, 0.02, 60))
    (folder / "01_RequestFile.csv").write_text(
        "1;ACME;IDX;20.02.2020;G;-1;1;-3;30\n2;ACME;IDX;26.02.2020;G;-1;1;-3;30\n")
    (folder / "02_FirmData.csv").write_text(
        "".join(f"ACME;{d:%d.%m.%Y};{p:.6f}\n" for d, p in zip(days, f, strict=True)))
    (folder / "03_MarketData.csv").write_text(
        "".join(f"IDX;{d:%d.%m.%Y};{p:.6f}\n" for d, p in zip(days, m, strict=True)))
    events, prices, values = load_eventstudytools(folder)
    assert values == {"model": "market-model", "estimation": (-32, -3), "window": (-1, 1),
                      "car_windows": ((-1, 1),), "min_estimation": 30, "returns": "simple",
                      "sessions": "market", "suspect_prices": "keep"}
    return EventStudy(StudySettings(**values, n_boot=0)).fit(events, prices)


# --------------------------------------------------------------------------- same face


@pytest.mark.parametrize("name", ["summary", "to_frame", "plot", "_repr_html_", "__str__"])
def test_both_results_have_the_same_face(name: str) -> None:
    assert callable(getattr(StudyResult, name)) and callable(getattr(BacktestResult, name))
    assert getattr(StudyResult, name) is not object.__dict__.get(name)
    assert getattr(BacktestResult, name) is not object.__dict__.get(name)


def test_study_summary_uses_the_shared_layout(study: StudyResult) -> None:
    text = study.summary()
    lines = text.splitlines()
    assert lines[0].strip() == "Event study" and lines[1] == "=" * WIDTH
    assert "events studied: 2" in text and "model:" in text and "sessions" not in text
    assert lines[-1] == "=" * WIDTH and str(study) == text
    assert study.to_frame().shape == (2, 1)
    assert study.plot().axes and "<b>Event study</b>" in study._repr_html_()


def test_backtest_summary_uses_the_shared_layout(backtest: BacktestResult) -> None:
    text = backtest.summary()
    lines = text.splitlines()
    assert lines[0].strip() == "Backtest" and lines[1] == "=" * WIDTH
    assert lines[-1] == "=" * WIDTH and str(backtest) == text
    assert all(len(line) <= WIDTH for line in lines)
    assert "signal:" in text and "sentiment (sign)" in text and "entry:" in text
    assert re.search(rf"^trades: +{backtest.metrics['trades']} ", text, re.M)
    assert re.search(r"^failed: +1$", text, re.M) and "placebo draws:" in text
    assert re.search(rf"^hit rate: +{backtest.metrics['hit_rate']:.4f} ", text, re.M)
    header = next(line for line in lines if line.lstrip().startswith("horizon"))
    assert header.split() == ["horizon", "N", "mean", "signed", "IC", "p"]


def test_backtest_to_frame_lists_every_metric(backtest: BacktestResult) -> None:
    table = backtest.to_frame()
    assert list(table.columns) == ["metric", "value"]
    assert list(table["metric"]) == list(backtest.metrics)
    assert table.set_index("metric").loc["trades", "value"] == backtest.metrics["trades"]


def test_backtest_plot_is_the_equity_figure(backtest: BacktestResult) -> None:
    fig = backtest.plot()
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert labels[:2] == ["Equity (portfolio value)", "Drawdown"]  # % on the ticks
    assert "Open positions" in labels  # daily has n_positions
    assert backtest.plot("equity", title="mine").axes[0].get_title() == "mine"
    with pytest.raises(ValueError, match="unknown plot kind 'caar'"):
        backtest.plot("caar")


def test_backtest_plot_without_trades_says_so(backtest: BacktestResult) -> None:
    from dataclasses import replace

    empty = replace(backtest, daily=backtest.daily.iloc[:0])
    with pytest.raises(ValueError, match="no trades"):
        empty.plot()


def test_backtest_html_shows_metrics_and_trades(backtest: BacktestResult) -> None:
    text = backtest._repr_html_()
    assert text.startswith("<div><p><b>Backtest</b>")
    assert f"{len(backtest.trades)} trades, 1 events failed" in text
    assert "<th>hit_rate</th>" in text and "<th>p_two_sided</th>" in text
    assert "E1" in text and "E2" in text and "ZZZ" in text  # trades and the failure
    assert backtest.placebo is not None
    assert text == backtest_html(backtest.metrics, backtest.trades,
                                 backtest.settings.to_dict(),
                                 placebo=backtest.placebo.to_dict(),
                                 failures=backtest.failures)


# --------------------------------------------------------------------------- settings


def test_study_settings_convert_text_to_enums_once() -> None:
    s = StudySettings(model="market-adjusted", returns="log", missing="fail",
                      method="vectorised", sessions="market", measure="volume",
                      alternative="less", suspect_prices="keep", min_estimation=30)
    assert s.model is ModelName.market_adjusted and s.returns is ReturnKind.log
    assert s.missing is MissingPolicy.fail and s.method is Method.vectorised
    assert s.sessions is SessionSource.market and s.measure is Measure.volume
    assert s.alternative is Alternative.less and s.suspect_prices is SuspectPolicy.keep
    assert StudySettings(**s.to_dict()) == s


@pytest.mark.parametrize(("field", "value", "message"), [
    ("model", "capm", "unknown model 'capm'; choose from constant-mean"),
    ("returns", "weird", "unknown returns 'weird'; choose from simple, log"),
    ("missing", "zero", "unknown missing-price policy 'zero'"),
    ("sessions", "exchange", "unknown sessions 'exchange'"),
    ("suspect_prices", "maybe", "unknown suspect-price policy 'maybe'; choose from"),
    ("measure", "price", "unknown measure 'price'"),
    ("alternative", "both", "unknown alternative 'both'"),
    ("method", "fast", "unknown method 'fast'"),
    ("boot_streams", "parallel", "unknown bootstrap streams 'parallel'; choose from"),
])
def test_an_unknown_choice_is_one_problem_naming_the_setting(field: str, value: str,
                                                             message: str) -> None:
    with pytest.raises(InputError) as info:
        StudySettings(**{field: value})
    (problem,) = info.value.problems
    assert (problem.source, problem.field, problem.value) == ("settings", field, value)
    assert message in problem.message and "\n" not in str(info.value)


def test_backtest_settings_convert_text_to_enums() -> None:
    s = BacktestSettings(entry="close", hedge="beta", signal_mode="value")
    assert s.entry is EntryRule.close and s.hedge is HedgeMode.beta
    assert s.signal_mode is SignalMode.value
    assert BacktestSettings(**{**s.to_dict(), "latency": s.latency}) == s
    with pytest.raises(InputError, match="unknown entry 'later'; choose from next-open, close"):
        BacktestSettings(entry="later")
    with pytest.raises(InputError, match="unknown hedge 'all'"):
        BacktestSettings(entry="close", hedge="all")


def test_eventstudytools_values_with_cli_overrides() -> None:
    """What ``marketreact study --input eventstudytools`` does: loader values, then options."""
    values = {"model": "market-model", "estimation": (-32, -3), "window": (-1, 1),
              "car_windows": ((-1, 1),), "min_estimation": 30, "returns": "simple",
              "sessions": "market", "suspect_prices": "keep"}
    s = StudySettings(**{**values, "model": "market-adjusted", "window": (-2, 2),
                         "car_windows": ((-2, 2),)})
    assert s.model is ModelName.market_adjusted and s.sessions is SessionSource.market
    assert s.window == (-2, 2)
