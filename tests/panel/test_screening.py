"""Duplicates, overlaps, clean estimation, date clustering (panel/screening.py) and their use
in EventStudy.fit and Backtest.run. Every expectation is worked out by hand in the test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marketreact import EventStudy, events_from_frame
from marketreact.calendar import exchange_sessions
from marketreact.errors import InputError
from marketreact.panel.screening import (
    OverlapPolicy,
    date_clusters,
    estimation_exclusions,
    find_duplicates,
    find_overlaps,
    overlap_drops,
    overlap_tally,
)
from marketreact.study.settings import MAX_BOOTSTRAP, StudySettings


def test_duplicates_grouped_by_ticker_and_day0_first_by_time() -> None:
    # e1, e2 and e4: AAA on session 10 (e4 published first); e3: AAA on 11; e5: BBB on 10
    tickers = np.array(["AAA", "AAA", "AAA", "AAA", "BBB"], dtype=object)
    day0 = np.array([10, 10, 11, 10, 10])
    ids = np.array(["e1", "e2", "e3", "e4", "e5"], dtype=object)
    moments = np.array([300, 200, 100, 50, 10])
    d = find_duplicates(tickers, day0, ids, moments)
    assert d.first.tolist() == [3, 3, 2, 3, 4]
    assert d.n_headlines.tolist() == [3, 3, 1, 3, 1]
    assert d.representative.tolist() == [False, False, True, True, True]
    assert d.n_groups == 3
    assert d.others[3] == "e1; e2"  # the representative lists the others (catalogue order)
    assert d.others[0] == "e4" and d.others[2] == "" and d.others[4] == ""


def test_duplicates_tie_on_time_goes_to_catalogue_order() -> None:
    d = find_duplicates(np.array(["A", "A"], dtype=object), np.array([5, 5]),
                        np.array(["x", "y"], dtype=object), np.array([7, 7]))
    assert d.first.tolist() == [0, 0]


def _goto_like() -> tuple[pd.DataFrame, np.ndarray]:
    # like the GoTo catalogue: shop closure (session 100), talks (134), agreement (143),
    # deal (147) of one firm, and another firm's event on 143
    events = pd.DataFrame({"event_id": ["shop", "talks", "agree", "deal", "other"],
                           "ticker": ["GOTO", "GOTO", "GOTO", "GOTO", "BUKA"]})
    return events, np.array([100, 134, 143, 147, 143])


def test_overlaps_found_in_event_and_estimation_windows() -> None:
    events, day0 = _goto_like()
    ov = find_overlaps(events, day0, (-10, 10), (-250, -11))
    got = {(r.event_id, r.other_id, r.rel_day, r.window) for r in ov.itertuples()}
    # hand: |Δ| <= 10 -> event window; -250 <= Δ <= -11 -> estimation window
    assert got == {
        ("talks", "agree", 9, "event"),
        ("talks", "shop", -34, "estimation"),
        ("agree", "talks", -9, "event"), ("agree", "deal", 4, "event"),
        ("agree", "shop", -43, "estimation"),
        ("deal", "agree", -4, "event"), ("deal", "talks", -13, "estimation"),
        ("deal", "shop", -47, "estimation"),
    }
    tally = overlap_tally(events, day0, (-10, 10), (-250, -11))
    counts = {f"overlaps_{w}": tally[(w, "catalogue")] for w in ("event", "estimation")}
    assert counts["overlaps_event"].tolist() == [0, 1, 2, 1, 0]
    assert counts["overlaps_estimation"].tolist() == [0, 1, 1, 2, 0]


def test_overlap_policies_drop_later_and_all() -> None:
    events, day0 = _goto_like()
    ov = find_overlaps(events, day0, (-10, 10), (-250, -11))
    moments = np.arange(5)
    later = overlap_drops(events["event_id"], day0, moments, ov, OverlapPolicy.drop_later)
    # talks has no earlier news within 10 sessions; agree has talks (-9); deal has agree (-4)
    assert later.tolist() == [False, False, True, True, False]
    every = overlap_drops(events["event_id"], day0, moments, ov, OverlapPolicy.drop_all)
    assert every.tolist() == [False, True, True, True, False]
    assert not overlap_drops(events["event_id"], day0, moments, ov, OverlapPolicy.keep).any()


def test_confounders_count_as_overlaps_and_drop() -> None:
    events = pd.DataFrame({"event_id": ["a"], "ticker": ["AAA"]})
    conf = pd.DataFrame({"event_id": ["n1", "n2", "n3"], "ticker": ["AAA", "AAA", "BBB"]})
    ov = find_overlaps(events, np.array([50]), (-5, 5), (-40, -6), conf, np.array([47, 20, 50]))
    assert set(zip(ov["other_id"], ov["window"], ov["source"], strict=True)) == {
        ("n1", "event", "confounders"), ("n2", "estimation", "confounders")}
    drop = overlap_drops(events["event_id"], np.array([50]), np.array([0]), ov,
                         OverlapPolicy.drop_later)
    assert drop.tolist() == [True]  # n1 is earlier news (day -3) in the event window


def test_estimation_exclusions_mark_other_event_windows() -> None:
    # event at 100 with estimation [-30,-6]; other news of the ticker at 80 (window [-2,+2])
    # covers sessions 78..82 = relative days -22..-18 of the event; BBB's news counts not
    mask = estimation_exclusions(np.array(["A"], dtype=object), np.array([100]),
                                 np.array(["A", "A", "B"], dtype=object),
                                 np.array([100, 80, 90]), (-2, 2), (-30, -6))
    rel = np.arange(-30, -5)
    assert rel[mask[0]].tolist() == [-22, -21, -20, -19, -18]


def test_date_clusters_need_another_firm() -> None:
    d = np.array(["2023-01-03", "2023-01-03", "2023-01-04", "2023-01-05", "2023-01-05"],
                 dtype="datetime64[ns]")
    t = np.array(["A", "B", "A", "C", "C"], dtype=object)
    assert date_clusters(d, t).tolist() == [True, True, False, False, False]


def test_bootstrap_is_bounded_with_one_line_error() -> None:
    StudySettings(n_boot=MAX_BOOTSTRAP)
    with pytest.raises(InputError, match="at most 100,000"):
        StudySettings(n_boot=MAX_BOOTSTRAP + 1)


# ------------------------------------------------------------------------- in the study
def _frame(close: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"open": close, "high": close, "low": close, "close": close,
                         "adj_close": close, "volume": 1e6}, index=close.index)


@pytest.fixture(scope="module")
def prices() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(3)
    days = exchange_sessions("XNYS", pd.Timestamp("2021-01-01"),
                             pd.Timestamp("2023-12-29")).labels
    m = rng.normal(0.0003, 0.01, len(days))
    out = {"MKT": _frame(pd.Series(100 * np.cumprod(1 + m), index=days))}
    for k, name in enumerate(("AAA", "BBB", "CCC")):
        r = 0.0002 + (1 + 0.2 * k) * m + rng.normal(0, 0.015, len(days))
        out[name] = _frame(pd.Series(50 * np.cumprod(1 + r), index=days))
    return out


def _catalogue(rows: list[tuple[str, str, str, float, str]]):
    return events_from_frame(pd.DataFrame(rows, columns=["event_id", "ticker", "date",
                                                         "sentiment", "kind"]).assign(
        market="MKT", timing="pre"))


ROWS = [("a1", "AAA", "2023-03-01", 0.5, "good"), ("a2", "AAA", "2023-03-01", -0.1, "good"),
        ("a3", "AAA", "2023-03-01", 0.2, "good"), ("b1", "BBB", "2023-03-01", 0.1, "bad"),
        ("b2", "BBB", "2023-03-06", 0.3, "bad"), ("c1", "CCC", "2023-06-01", 0.4, "bad"),
        ("c2", "CCC", "2023-04-20", 0.1, "good")]


def test_study_counts_distinct_firm_events(prices) -> None:
    cat = _catalogue(ROWS)
    merged = EventStudy(n_boot=0).fit(cat, prices)
    # a1, a2, a3 are one story: 5 distinct (ticker, day 0) and N = 5 in every test
    assert merged.n_events == 5 and merged.screening["distinct_events"] == 5
    assert set(merged.aggregate["n"]) == {5}
    row = merged.events.set_index("event_id").loc["a1"]
    assert row["n_headlines"] == 3 and row["duplicate_ids"] == "a2; a3"
    assert row["sentiment"] == pytest.approx((0.5 - 0.1 + 0.2) / 3)  # merged: the mean
    assert set(merged.screened["event_id"]) == {"a2", "a3"}
    first = EventStudy(n_boot=0, duplicates="first").fit(cat, prices)
    assert first.n_events == 5
    assert first.events.set_index("event_id").loc["a1", "sentiment"] == 0.5
    kept = EventStudy(n_boot=0, duplicates="keep").fit(cat, prices)
    assert kept.n_events == 7 and set(kept.aggregate["n"]) == {7}
    assert any("duplicates=keep" in d for d in kept.diagnostics)


def test_study_overlaps_and_policies(prices) -> None:
    cat = _catalogue(ROWS)
    base = EventStudy(n_boot=0).fit(cat, prices)
    # b2 is 3 sessions after b1: each in the other's event window [-10,+10];
    # c2 (2023-04-20) is 28 sessions before c1 (2023-06-01): inside c1's estimation window
    pairs = {(r.event_id, r.other_id, r.window) for r in base.overlaps.itertuples()}
    assert pairs == {("b1", "b2", "event"), ("b2", "b1", "event"),
                     ("c1", "c2", "estimation")}
    ev = base.events.set_index("event_id")
    assert ev.loc["b1", "overlaps_event"] == 1 and ev.loc["c1", "overlaps_estimation"] == 1
    later = EventStudy(n_boot=0, overlap="drop-later").fit(cat, prices)
    assert set(later.events["event_id"]) == {"a1", "b1", "c1", "c2"}
    every = EventStudy(n_boot=0, overlap="drop-all").fit(cat, prices)
    assert set(every.events["event_id"]) == {"a1", "c1", "c2"}
    clean = EventStudy(n_boot=0, clean_estimation=True).fit(cat, prices)
    cev = clean.events.set_index("event_id")
    # c2's event window [-10,+10] = 21 sessions inside c1's estimation window [-250,-11]
    assert cev.loc["c1", "estimation_excluded"] == 21
    assert cev.loc["c1", "n_estimation"] == ev.loc["c1", "n_estimation"] - 21
    assert cev.loc["a1", "n_estimation"] == ev.loc["a1", "n_estimation"]
    short = EventStudy(n_boot=0, clean_estimation=True, min_estimation=225).fit(cat, prices)
    why = short.failures.set_index("event_id").loc["c1", "reason"]
    assert "only 219" in why and "clean_estimation" in why


def test_confounders_in_the_study(prices) -> None:
    cat = _catalogue(ROWS)
    news = events_from_frame(pd.DataFrame({"event_id": ["n1"], "ticker": ["AAA"],
                                           "date": ["2023-02-27"], "timing": ["pre"]}))
    res = EventStudy(n_boot=0, overlap="drop-all").fit(cat, prices, confounders=news)
    assert "a1" not in set(res.events["event_id"])
    assert ("a1", "n1", "confounders") in {(r.event_id, r.other_id, r.source)
                                           for r in res.overlaps.itertuples()}


def test_group_tables_and_unknown_group(prices) -> None:
    cat = _catalogue(ROWS)
    res = EventStudy(n_boot=0, group="kind").fit(cat, prices)
    assert list(res.group_aggregate["group"].unique()) == ["bad", "good"]
    n = res.group_aggregate.groupby("group")["n"].first()
    assert n["bad"] == 3 and n["good"] == 2  # after merging a1..a3
    good = res.events.loc[res.events["kind"] == "good", "event_id"]
    car = res.car.loc[(res.car["window"] == "[-1,+1]") & res.car["event_id"].isin(good), "car"]
    agg = res.group_aggregate.set_index(["group", "window"])
    assert agg.loc[("good", "[-1,+1]"), "caar"] == pytest.approx(car.mean())
    assert set(res.group_differences["window"]) == set(res.aggregate["window"])
    with pytest.raises(InputError, match="group column 'nope'"):
        EventStudy(n_boot=0, group="nope").fit(cat, prices)


def test_backtest_opens_one_position_per_ticker_and_entry(prices) -> None:
    from marketreact.backtest.run import _merge_duplicates

    keep = np.array([True, True, True, False, True])
    rows = np.array([0, 0, 1, 0, 0])
    entry = np.array([5, 5, 5, 5, 6])
    at_open = np.ones(5, dtype=bool)
    known = np.array([20, 10, 10, 0, 30])
    signal = np.array([1.0, 3.0, -1.0, 9.0, 2.0])
    k, s, n = _merge_duplicates(keep, rows, entry, at_open, known, signal,
                                np.array(list("abcde"), dtype=object))
    # a and b: stock 0 entering at session 5; b known first keeps, signal (1 + 3) / 2
    assert k.tolist() == [False, True, True, False, True]
    assert s.tolist() == [1.0, 2.0, -1.0, 9.0, 2.0] and n == 1


def test_overlap_tally_counts_the_pairs_find_overlaps_lists() -> None:
    # reference: the pairs listed one by one, counted per event and window
    from marketreact.panel.screening import find_overlaps, overlap_tally

    rng = np.random.default_rng(5)
    n = 400
    events = pd.DataFrame({"event_id": [f"e{i}" for i in range(n)],
                           "ticker": rng.choice(["A", "B", "C"], n)})
    day0 = rng.integers(0, 600, n)
    conf = pd.DataFrame({"event_id": [f"c{i}" for i in range(50)],
                         "ticker": rng.choice(["A", "B"], 50)})
    conf_day0 = rng.integers(0, 600, 50)
    pairs = find_overlaps(events, day0, (-10, 10), (-250, -11), conf, conf_day0)
    tally = overlap_tally(events, day0, (-10, 10), (-250, -11), conf, conf_day0)
    index = pd.Index(events["event_id"])
    for (window, source), counts in tally.items():
        sel = pairs.loc[(pairs["window"] == window) & (pairs["source"] == source)]
        expected = np.bincount(index.get_indexer(sel["event_id"]), minlength=n)
        np.testing.assert_array_equal(counts, expected)
    only_event = find_overlaps(events, day0, (-10, 10), (-250, -11), conf, conf_day0,
                               windows=("event",))
    assert set(only_event["window"]) == {"event"}
    assert len(only_event) == int((pairs["window"] == "event").sum())


def test_event_id_ranks_from_arrow_equal_numpy_unique() -> None:
    # reference: numpy.unique's inverse of the ids as str (the order that breaks ties among
    # duplicates), for a pandas str column ranked by Arrow; text with shared prefixes,
    # accents, non-Latin letters, digits and the empty string
    from marketreact.panel.screening import _id_ranks

    ids = ["b", "a", "ab", "a", "", "Z", "é", "e\u0301", "日本", "10", "9", "ß", "ab "]
    ids = ids * 3 + [f"n{i}" for i in range(200)]
    want = np.unique(np.asarray(ids).astype(str), return_inverse=True)[1]
    column = pd.Series(ids, dtype="str")
    np.testing.assert_array_equal(_id_ranks(column), want)
    np.testing.assert_array_equal(_id_ranks(np.asarray(ids, dtype=object)), want)
