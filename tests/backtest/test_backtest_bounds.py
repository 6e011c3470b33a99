"""Bounded backtest settings: no duration, count or horizon may overflow into a wrong result.

``--latency 88000d`` once wrapped ``known + latency`` around int64 nanoseconds and entered
trades in the 1700s, years before the news, with exit code 0. These tests pin the limits
(``MAX_LATENCY`` and friends in :mod:`marketreact.backtest`), the one-line refusal on the
command line, and the entry-after-the-news property at the extremes that are accepted.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_backtest_cli import _catalogue, _price_dir
from typer.testing import CliRunner

from _backtest_data import random_walk, xnys_labels
from marketreact.backtest.run import Backtest
from marketreact.backtest.settings import (
    MAX_COST_BPS,
    MAX_HOLD,
    MAX_LATENCY,
    MAX_LATENCY_NS,
    MAX_PER_YEAR,
    MAX_PLACEBO_DRAWS,
    MAX_SEED,
    MAX_WINDOW,
    BacktestSettings,
    EntryRule,
    duration_ns,
)
from marketreact.cli import app
from marketreact.errors import InputError

runner = CliRunner()


# ---------------------------------------------------------------------------------------
# The command line: a one-line refusal, exit 2, nothing written.
# ---------------------------------------------------------------------------------------

def _invoke(tmp_path: Path, *options: str) -> tuple[Any, Path]:
    out = tmp_path / "out"
    placebo = [] if "--placebo" in options else ["--placebo", "0"]  # an option is given once
    res = runner.invoke(app, ["backtest", str(_catalogue(tmp_path)), "--prices",
                              f"csv:{_price_dir(tmp_path)}", "--entry", "next-open",
                              *placebo, *options, "--out", str(out)])
    return res, out


def _one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


@pytest.mark.parametrize("latency", ["88000d", "88000D", "100000 days", "367D", "10000000d",
                                     "99999999999999999999999", "nat", "NaT", "-1s"])
def test_a_latency_out_of_range_exits_2_with_one_line_and_writes_nothing(
        tmp_path: Path, latency: str) -> None:
    res, out = _invoke(tmp_path, "--latency", latency)
    assert res.exit_code == 2, res.output
    line = _one_line(res.output)
    assert "--latency" in line
    assert not out.exists()


def test_the_maximum_latency_is_accepted_on_the_command_line(tmp_path: Path) -> None:
    res, out = _invoke(tmp_path, "--latency", f"{MAX_LATENCY.days}D")
    # the prices end within a year of every event: every event fails, so nothing was
    # backtested (exit 4, docs/errors.md); never 2 or a wrapped entry
    assert res.exit_code == 4, res.output
    failures = pd.read_csv(out / "failures.csv")
    assert len(failures) == 25
    assert failures["reason"].str.contains("prices end").all()


@pytest.mark.parametrize(("option", "value", "named"), [
    ("--threshold", "nan", "threshold"), ("--threshold", "inf", "threshold"),
    ("--cost-bps", "nan", "cost_bps"), ("--cost-bps", "inf", "cost_bps"),
    ("--cost-bps", "-inf", "cost_bps"), ("--cost-bps", "10001", "cost_bps"),
    ("--hold", str(MAX_HOLD + 1), "hold"), ("--hold", str(2**70), "hold"),
    ("--placebo", str(MAX_PLACEBO_DRAWS + 1), "placebo_draws"),
    ("--seed", "-1", "seed"), ("--seed", str(2**64), "seed"),
    ("--estimation", f"{-MAX_WINDOW - 1}:-11", "estimation"),
    ("--min-estimation", str(MAX_WINDOW + 1), "min_estimation"),
])
def test_non_finite_or_out_of_range_options_exit_2(tmp_path: Path, option: str, value: str,
                                                   named: str) -> None:
    res, out = _invoke(tmp_path, option, value)
    assert res.exit_code == 2, res.output
    assert named in _one_line(res.output)
    assert not out.exists()


# ---------------------------------------------------------------------------------------
# The settings themselves: every limit, checked exactly, both sides of it.
# ---------------------------------------------------------------------------------------

BAD = [
    ("latency", pd.Timedelta(days=88000)), ("latency", MAX_LATENCY + pd.Timedelta(1, "ns")),
    ("latency", pd.Timedelta(np.timedelta64(10**7, "D"))),  # beyond int64 ns, in seconds
    ("latency", pd.NaT), ("latency", "nat"), ("latency", "soon"),
    ("latency", pd.Timedelta(-1, "ns")),
    ("hold", 0), ("hold", MAX_HOLD + 1), ("hold", 2**64), ("hold", 1.5),
    ("horizons", (1, MAX_HOLD + 1)), ("horizons", (0,)), ("horizons", (1, 2**70)),
    ("estimation", (-MAX_WINDOW - 1, -11)), ("estimation", (-(2**70), -11)),
    ("estimation", (-20, 0)), ("estimation", (-5, -10)),
    ("min_estimation", 2), ("min_estimation", MAX_WINDOW + 1),
    ("placebo_draws", -1), ("placebo_draws", MAX_PLACEBO_DRAWS + 1),
    ("cost_bps", math.nan), ("cost_bps", math.inf), ("cost_bps", -1.0),
    ("cost_bps", MAX_COST_BPS * 1.01),
    ("threshold", math.nan), ("threshold", math.inf), ("threshold", -math.inf),
    ("threshold", -0.1),
    ("seed", -1), ("seed", MAX_SEED + 1),
    ("per_year", 0), ("per_year", MAX_PER_YEAR + 1),
]

GOOD = [
    ("latency", MAX_LATENCY), ("latency", pd.Timedelta(0)), ("latency", "5min"),
    ("hold", MAX_HOLD), ("hold", np.int64(3)), ("horizons", (1, MAX_HOLD)),
    ("estimation", (-MAX_WINDOW, -1)), ("min_estimation", MAX_WINDOW),
    ("placebo_draws", 0), ("placebo_draws", MAX_PLACEBO_DRAWS),
    ("cost_bps", MAX_COST_BPS), ("threshold", 1e300), ("seed", 0), ("seed", MAX_SEED),
    ("per_year", 1), ("per_year", MAX_PER_YEAR),
]


@pytest.mark.parametrize(("name", "value"), BAD, ids=[f"{n}={v!r}" for n, v in BAD])
def test_settings_out_of_range_raise_input_error(name: str, value: object) -> None:
    with pytest.raises(InputError, match=name) as info:
        BacktestSettings(entry=EntryRule.close, **{name: value})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("name", "value"), GOOD, ids=[f"{n}={v!r}" for n, v in GOOD])
def test_settings_at_the_limits_are_accepted(name: str, value: object) -> None:
    BacktestSettings(entry=EntryRule.close, **{name: value})


def test_duration_ns_is_exact_and_never_overflows() -> None:
    assert duration_ns(MAX_LATENCY) == MAX_LATENCY_NS == 366 * 86_400 * 10**9
    assert duration_ns("1 days 00:00:00.000000001") == 86_400 * 10**9 + 1
    big = pd.Timedelta(np.timedelta64(10**7, "D"))  # .value would raise OverflowError
    assert duration_ns(big) == 10**7 * 86_400 * 10**9
    assert duration_ns(pd.NaT) is None
    assert duration_ns("10000000D") is None


# ---------------------------------------------------------------------------------------
# The run: known + latency never wraps, and every accepted extreme enters after the news.
# ---------------------------------------------------------------------------------------

LABELS = xnys_labels("2009-01-02", "2024-12-31")
FRAMES = random_walk(LABELS, ["AAA"], seed=23, vol=0.01)
FIRST_DAY = int(np.searchsorted(LABELS, pd.Timestamp("2010-01-04")))
LAST_DAY = int(np.searchsorted(LABELS, pd.Timestamp("2010-12-31")))


def _event(day: int, minute: int) -> tuple[pd.DataFrame, pd.Timestamp]:
    when = pd.Timestamp(LABELS[day]).tz_localize("America/New_York") \
        + pd.Timedelta(minutes=minute)
    ev = pd.DataFrame([{"event_id": "x", "ticker": "AAA", "timestamp": when.isoformat(),
                        "sentiment": 1.0}])
    return ev, when


def _settings(rule: EntryRule, **kw: Any) -> BacktestSettings:
    return BacktestSettings(entry=rule, market="MKT", placebo_draws=0, **kw)


def _force_latency(s: BacktestSettings, latency: pd.Timedelta) -> BacktestSettings:
    """Settings carrying a latency the validation refuses (to test the run's own guard)."""
    s = replace(s)
    object.__setattr__(s, "latency", latency)
    return s


@pytest.mark.parametrize("latency", [pd.Timedelta(days=100_000),  # wrapped to the 1700s
                                     pd.Timedelta(days=106_751),  # the largest pandas has
                                     pd.Timedelta(np.timedelta64(10**7, "D"))])  # beyond ns
@pytest.mark.parametrize("rule", list(EntryRule))
def test_a_latency_past_2262_fails_the_event_instead_of_wrapping(latency: pd.Timedelta,
                                                                 rule: EntryRule) -> None:
    ev, _ = _event(FIRST_DAY + 10, 600)
    res = Backtest(_force_latency(_settings(rule), latency)).run(ev, FRAMES)
    assert len(res.trades) == 0, res.trades[["public_time", "entry_time"]]
    assert list(res.failures["event_id"]) == ["x"]
    assert "representable" in res.failures["reason"].iloc[0]


latencies = st.one_of(st.just(0), st.just(MAX_LATENCY_NS), st.just(MAX_LATENCY_NS - 1),
                      st.integers(min_value=0, max_value=MAX_LATENCY_NS))
holds = st.one_of(st.just(1), st.just(MAX_HOLD), st.integers(min_value=1, max_value=MAX_HOLD))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(day=st.integers(min_value=FIRST_DAY, max_value=LAST_DAY),
       minute=st.integers(min_value=0, max_value=24 * 60 - 1), latency_ns=latencies,
       hold=holds, rule=st.sampled_from(list(EntryRule)))
def test_accepted_extreme_latencies_and_holds_enter_after_news_plus_latency(
        day: int, minute: int, latency_ns: int, hold: int, rule: EntryRule) -> None:
    ev, when = _event(day, minute)
    latency = pd.Timedelta(latency_ns, "ns")
    res = Backtest(_settings(rule, latency=latency, hold=hold, horizons=(1, hold))).run(
        ev, FRAMES)
    assert len(res.trades) == 1, res.failures  # the prices run 10+ years past any entry
    tr = res.trades.iloc[0]
    known = when + latency
    assert tr.known_time == known
    assert tr.entry_time > known
    assert tr.entry_time - known < pd.Timedelta(days=7)  # the first price after it, not later
    assert tr.exit_time >= tr.entry_time
    sessions = int(np.searchsorted(LABELS, tr.exit_date) - np.searchsorted(LABELS,
                                                                            tr.entry_date))
    assert sessions == (hold - 1 if rule is EntryRule.next_open else hold)
