"""Catalogue attributes live in their own namespace: input never replaces computed output.

A catalogue column named like a computed column (``beta``, ``car``, ``line``, ...) is renamed
``user_<name>`` when the catalogue is read, with a note; the study's ``events.csv`` keeps the
computed values, which must equal those of the same study on the catalogue without the extra
columns (the reference).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from _backtest_data import et, random_walk, xnys_labels
from marketreact import EventStudy, events_from_frame, read_events
from marketreact.backtest.run import Backtest
from marketreact.backtest.settings import BacktestSettings, EntryRule, HedgeMode
from marketreact.cli import app
from marketreact.errors import InputError
from marketreact.events.catalogue import RESERVED_COLUMNS, EventCatalogue
from marketreact.inference.base import TEST_NAMES
from marketreact.prices import CsvSource, PriceFetch, load_prices

runner = CliRunner()

#: Extra catalogue columns that collide with computed or internal columns.
CLASHING = ("beta", "alpha", "sigma", "day0", "model", "df", "n_estimation", "line", "car", "ar",
            "reason")
COMPUTED = ("day0", "model", "n_estimation", "estimation_start", "estimation_end", "alpha",
            "beta", "sigma", "df", "missing_event_days", "spanning_returns")


def _user_values(n: int) -> dict[str, list[object]]:
    """Values no computation could produce (numbers for most, text for some)."""
    out: dict[str, list[object]] = {c: [1000.0 + 10 * k + i for i in range(n)]
                                    for k, c in enumerate(CLASHING)}
    out["model"] = [f"my-model-{i}" for i in range(n)]
    out["reason"] = ["because"] * n
    out["day0"] = ["1999-01-01"] * n
    return out


def _clashing_catalogue(goto_events: Path, folder: Path) -> tuple[Path, pd.DataFrame]:
    base = pd.read_csv(goto_events, dtype=str, keep_default_na=False)
    extra = pd.DataFrame(_user_values(len(base)))
    frame = pd.concat([base, extra], axis=1)
    path = folder / "clashing.csv"
    frame.to_csv(path, index=False)
    return path, extra


# -- reading ---------------------------------------------------------------------------------
def _rows(**extra: object) -> pd.DataFrame:
    row = {"event_id": "e1", "ticker": "GOTO.JK", "timestamp": "2023-10-04T17:00:00+07:00"}
    row.update(extra)
    return pd.DataFrame([row])


def test_reserved_columns_cover_every_computed_name() -> None:
    assert isinstance(RESERVED_COLUMNS, frozenset)
    assert set(CLASHING) <= RESERVED_COLUMNS
    assert {"line", "event_id", "ticker", "exchange", "market", "timestamp", "date", "timing",
            "signal", "net_return", "hedge_ratio", "fwd_5"} <= RESERVED_COLUMNS
    for name in TEST_NAMES:
        assert name in RESERVED_COLUMNS
        assert (name + "_p" if name != "t" else "p") in RESERVED_COLUMNS


def test_csv_columns_with_reserved_names_are_renamed_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "ev.csv"
    path.write_text("event_id,ticker,timestamp,Beta,line,news\n"
                    "e1,GOTO.JK,2023-10-04T17:00:00+07:00,0.5,x,deal\n"
                    "e2,BUKA.JK,2023-10-05T17:00:00+07:00,1.5,y,deal\n")
    cat = read_events(path)
    assert cat.attributes == ("user_Beta", "user_line", "news")
    assert list(cat.frame["line"]) == [2, 3]  # the source lines, not the user's column
    assert list(cat.frame["user_line"]) == ["x", "y"]
    assert list(cat.frame["user_Beta"]) == [0.5, 1.5]
    assert "Beta" not in cat.frame and "beta" not in cat.frame
    assert cat.renamed == (("Beta", "user_Beta"), ("line", "user_line"))
    assert cat.notes == (
        "column 'Beta' of the catalogue renamed to 'user_Beta' (the name of a computed column)",
        "column 'line' of the catalogue renamed to 'user_line' (the name of a computed column)")


def test_json_lines_and_frames_are_renamed_too(tmp_path: Path) -> None:
    path = tmp_path / "ev.jsonl"
    path.write_text(json.dumps({"event_id": "e1", "ticker": "GOTO.JK",
                                "timestamp": "2023-10-04T17:00:00+07:00", "car": 3,
                                "fwd_3": 1}) + "\n")
    cat = read_events(path)
    assert cat.attributes == ("user_car", "user_fwd_3")
    assert len(cat.notes) == 2
    cat = events_from_frame(_rows(sigma=2.0, score=1.0))
    assert cat.attributes == ("user_sigma", "score")
    assert cat.frame.loc[0, "user_sigma"] == 2.0


def test_clean_catalogues_are_untouched() -> None:
    cat = events_from_frame(_rows(user_beta=1.0, news="deal"))
    assert cat.attributes == ("user_beta", "news")
    assert cat.notes == () and cat.renamed == ()


@pytest.mark.parametrize("other", ["user_beta", "USER_BETA"])
def test_a_taken_user_name_is_refused_at_the_header(tmp_path: Path, other: str) -> None:
    path = tmp_path / "ev.csv"
    path.write_text(f"event_id,ticker,timestamp,beta,{other}\n"
                    "e1,GOTO.JK,2023-10-04T17:00:00+07:00,1,2\n")
    with pytest.raises(InputError) as info:
        read_events(path)
    (problem,) = info.value.problems
    assert (problem.source, problem.line, problem.field) == (str(path), 1, "beta")
    assert "user_beta" in problem.message
    with pytest.raises(InputError):
        events_from_frame(_rows(beta=1.0, user_beta=2.0))


# -- the study -------------------------------------------------------------------------------


def _goto_prices(prices_dir: Path, goto_events: Path) -> PriceFetch:
    """The GoTo catalogue's prices, loaded for the default windows ([-250, -11], [-10, 10])."""
    return load_prices(CsvSource(prices_dir), read_events(goto_events), before=250, after=10)


@pytest.fixture(scope="module")
def reference(prices_dir: Path, goto_events: Path):
    return EventStudy().fit(read_events(goto_events), _goto_prices(prices_dir, goto_events))


def test_study_keeps_computed_values(tmp_path: Path, prices_dir: Path, goto_events: Path,
                                     reference) -> None:
    path, extra = _clashing_catalogue(goto_events, tmp_path)
    cat = read_events(path)
    res = EventStudy().fit(cat, _goto_prices(prices_dir, goto_events))
    ev, ref = res.events, reference.events
    assert list(ev["event_id"]) == list(ref["event_id"])
    for col in COMPUTED:
        pd.testing.assert_series_equal(ev[col], ref[col], check_names=True)
    pd.testing.assert_frame_equal(res.car, reference.car)
    order = extra.set_index(pd.read_csv(goto_events)["event_id"]).loc[ev["event_id"]]
    for col in CLASHING:
        got = ev[f"user_{col}"].tolist()
        assert got == order[col].tolist(), col
    for old, _ in cat.renamed:
        assert any(f"'{old}' of the catalogue renamed to 'user_{old}'" in d
                   for d in res.diagnostics)


def test_a_hand_built_catalogue_cannot_replace_computed_columns(prices_dir: Path,
                                                                goto_events: Path,
                                                                reference) -> None:
    cat = read_events(goto_events)
    frame = cat.frame.assign(beta=123.0, sigma=-1.0)
    sneaky = EventCatalogue(frame, cat.problems, cat.source, (*cat.attributes, "beta", "sigma"))
    res = EventStudy().fit(sneaky, _goto_prices(prices_dir, goto_events))
    np.testing.assert_array_equal(res.events["beta"], reference.events["beta"])
    np.testing.assert_array_equal(res.events["sigma"], reference.events["sigma"])
    assert any("attribute 'beta' left out" in d for d in res.diagnostics)


def test_cli_study_writes_computed_columns_and_user_columns(tmp_path: Path, prices_dir: Path,
                                                            goto_events: Path) -> None:
    path, extra = _clashing_catalogue(goto_events, tmp_path)
    outs = {}
    for name, events in (("ref", goto_events), ("user", path)):
        outs[name] = tmp_path / name
        res = runner.invoke(app, ["study", str(events), "--prices", f"csv:{prices_dir}",
                                  "--out", str(outs[name]), "-q"])
        assert res.exit_code == 0, res.output
    ref = pd.read_csv(outs["ref"] / "events.csv")
    got = pd.read_csv(outs["user"] / "events.csv")
    assert list(got["event_id"]) == list(ref["event_id"])
    for col in COMPUTED:
        pd.testing.assert_series_equal(got[col], ref[col])
    for col in CLASHING:
        assert f"user_{col}" in got.columns
    np.testing.assert_allclose(got["user_beta"], extra["beta"])
    assert (got["user_reason"] == "because").all()
    for name in ("car.csv", "abnormal_returns.csv", "aar.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(outs["user"] / name),
                                      pd.read_csv(outs["ref"] / name))
    summary = json.loads((outs["user"] / "summary.json").read_text())
    assert ("column 'beta' of the catalogue renamed to 'user_beta' (the name of a computed "
            "column)") in summary["diagnostics"]
    # every column written by the study (other than the catalogue's own) is reserved
    attrs = {"news", "is_goto", *(f"user_{c}" for c in CLASHING)}
    for name in ("events.csv", "car.csv", "abnormal_returns.csv", "aar.csv", "aggregate.csv",
                 "failures.csv"):
        header = set(pd.read_csv(outs["user"] / name, nrows=0).columns) - attrs
        assert header <= RESERVED_COLUMNS, (name, header - RESERVED_COLUMNS)


def test_cli_refuses_beta_next_to_user_beta(tmp_path: Path, prices_dir: Path) -> None:
    path = tmp_path / "ev.csv"
    path.write_text("event_id,ticker,timestamp,beta,user_beta\n"
                    "e1,GOTO.JK,2023-10-04T17:00:00+07:00,1,2\n")
    res = runner.invoke(app, ["study", str(path), "--prices", f"csv:{prices_dir}",
                              "--out", str(tmp_path / "o"), "-q"])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    hits = [ln for ln in lines if "ev.csv:1" in ln]
    assert len(hits) == 1 and "field 'beta'" in hits[0] and "user_beta" in hits[0], res.output
    assert "Traceback" not in res.output


# -- the backtest ----------------------------------------------------------------------------
def _backtest_inputs() -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    labels = xnys_labels("2023-06-01", "2024-03-28")
    frames = random_walk(labels, ["AAA", "BBB"], seed=8)
    rng = np.random.default_rng(3)
    rows = [{"event_id": f"e{i}", "ticker": ["AAA", "BBB"][i % 2],
             "timestamp": et(f"{labels[int(rng.integers(80, len(labels) - 30))].date()} 10:30"),
             "sentiment": round(float(rng.normal()), 3)} for i in range(12)]
    return pd.DataFrame(rows), frames


def test_backtest_trades_keep_computed_columns() -> None:
    events, frames = _backtest_inputs()
    settings = BacktestSettings(entry=EntryRule.next_open, hold=3, hedge=HedgeMode.beta,
                                market="MKT", min_estimation=60, placebo_draws=0)
    ref = Backtest(settings).run(events, frames)
    clashing = events.assign(beta=77.0, signal=-5.0, net_return=9.0, direction=3,
                             entry_price=1.0, line="x")
    res = Backtest(settings).run(clashing, frames)
    assert len(ref.trades) > 0
    pd.testing.assert_frame_equal(res.trades, ref.trades)
    assert any("'beta' of the catalogue renamed to 'user_beta'" in d for d in res.diagnostics)
    # a signal taken from a renamed column still finds it under its input name
    by_col = Backtest(BacktestSettings(entry=EntryRule.next_open, hold=3, market="MKT",
                                       placebo_draws=0, signal="column:signal")).run(
        clashing.assign(signal=np.where(events["sentiment"] > 0, 1.0, -1.0)), frames)
    assert set(by_col.trades["signal"]) <= {1.0, -1.0} and len(by_col.trades) > 0
