"""``Backtest(**settings).run(events, prices)``, in the habit of ``EventStudy(**settings).fit``."""

from __future__ import annotations

import pandas as pd
import pytest

from _backtest_data import et, random_walk, xnys_labels
from marketreact.backtest.run import Backtest
from marketreact.backtest.settings import BacktestSettings, EntryRule, HedgeMode, SignalMode
from marketreact.errors import InputError

LABELS = xnys_labels("2024-01-02", "2024-06-28")
FRAMES = random_walk(LABELS, ["AAA", "BBB"], seed=1)
EVENTS = pd.DataFrame({
    "event_id": ["e1", "e2", "e3"], "ticker": ["AAA", "BBB", "AAA"], "market": "MKT",
    "timestamp": [et("2024-02-05 11:00"), et("2024-03-01 08:00"), et("2024-04-10 17:00")],
    "sentiment": [0.5, -0.8, 0.2],
})


def test_keywords_are_the_settings_strings_included() -> None:
    by_keywords = Backtest(entry="next-open", hold=3, hedge="market", signal_mode="value",
                           placebo_draws=0)
    s = by_keywords.settings
    assert s == BacktestSettings(entry=EntryRule.next_open, hold=3, hedge=HedgeMode.market,
                                 signal_mode=SignalMode.value, placebo_draws=0)
    assert isinstance(s.entry, EntryRule) and isinstance(s.hedge, HedgeMode)
    by_settings = Backtest(s)
    a, b = by_keywords.run(EVENTS, FRAMES), by_settings.run(EVENTS, FRAMES)
    pd.testing.assert_frame_equal(a.trades, b.trades)
    assert len(a.trades) == 3


def test_settings_then_overrides() -> None:
    base = BacktestSettings(entry=EntryRule.close, hold=2, placebo_draws=0)
    bt = Backtest(base, hold=4, hedge="beta")
    assert bt.settings == BacktestSettings(entry=EntryRule.close, hold=4, hedge=HedgeMode.beta,
                                           placebo_draws=0)
    assert Backtest(base).settings is base


def test_the_fill_rule_must_be_given_and_valid() -> None:
    with pytest.raises(InputError, match="entry='next-open' or entry='close'"):
        Backtest(hold=3)
    with pytest.raises(InputError, match="entry 'tomorrow' is not one of next-open, close"):
        Backtest(entry="tomorrow")
    with pytest.raises(InputError, match="hedge 'half' is not one of none, market, beta"):
        Backtest(entry="close", hedge="half")
    with pytest.raises(InputError, match="hold must be"):
        Backtest(entry="close", hold=0)
