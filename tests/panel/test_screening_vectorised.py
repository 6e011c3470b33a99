"""The vectorised screening (panel/screening.py and EventStudy._screen) against the
straightforward implementations it replaced, kept here as the references.

``reference_duplicate_others``, ``reference_find_overlaps`` and ``reference_overlap_reasons``
are the pandas ``groupby(...).agg("; ".join)`` / ``get_indexer`` code the package used before
the screening was vectorised: every string, row order and dtype must stay the same.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marketreact import EventStudy, events_from_frame
from marketreact.calendar import exchange_sessions
from marketreact.panel.screening import (
    OverlapPolicy,
    event_window_news,
    find_duplicates,
    find_overlaps,
    lookup,
    overlap_drops,
    prefixed,
)


# ---------------------------------------------------------------- the references (old code)
def reference_duplicate_others(ids: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The ``others`` column as the groupby code built it."""
    e = len(first)
    others = np.full(e, "", dtype=object)
    dup = first != np.arange(e)
    if dup.any():
        joined = pd.Series(ids[dup]).groupby(first[dup], sort=False).agg("; ".join)
        others[joined.index.to_numpy()] = joined.to_numpy()
        others[dup] = ids[first[dup]]
    return others


def reference_find_overlaps(events, day0, window, estimation, confounders=None,
                            confounder_day0=None, windows=("event", "estimation")):
    """find_overlaps as it was: one frame per (source, window), sorted by get_indexer."""
    from marketreact.panel.screening import _pairs, _ticker_keys

    ids = events["event_id"].to_numpy(dtype=object)
    tick = events["ticker"].to_numpy(dtype=object)
    day0 = np.asarray(day0, np.int64)
    span = max(abs(v) for v in (*window, *estimation))
    sources = [("catalogue", ids, tick, day0)]
    if confounders is not None and confounder_day0 is not None and len(confounders):
        sources.append(("confounders", confounders["event_id"].to_numpy(dtype=object),
                        confounders["ticker"].to_numpy(dtype=object),
                        np.asarray(confounder_day0, np.int64)))
    frames = []
    for source, oids, otick, od0 in sources:
        key, okey = _ticker_keys(tick, otick, day0, od0, span)
        for name, (lo, hi) in (("event", window), ("estimation", estimation)):
            if name not in windows:
                continue
            i, j = _pairs(key, okey, lo, hi)
            if source == "catalogue":
                mine = i != j
                i, j = i[mine], j[mine]
            frames.append(pd.DataFrame({
                "event_id": ids[i], "ticker": tick[i], "day0": day0[i], "other_id": oids[j],
                "other_day0": od0[j], "rel_day": od0[j] - day0[i], "window": name,
                "source": source}))
    out = pd.concat(frames, ignore_index=True)
    if len(out):
        pos = pd.Index(ids).get_indexer(out["event_id"])
        out = out.iloc[np.lexsort((out["rel_day"].to_numpy(), pos))].reset_index(drop=True)
    return out


def reference_overlap_drops(event_ids, day0, moments, overlaps, policy, other_moments=None):
    """overlap_drops as it was: positions by pandas.Index.get_indexer."""
    e = len(day0)
    drop = np.zeros(e, dtype=bool)
    if policy is OverlapPolicy.keep or not len(overlaps):
        return drop
    sel = overlaps.loc[overlaps["window"] == "event"]
    index = pd.Index(np.asarray(event_ids, dtype=object))
    i = index.get_indexer(sel["event_id"].to_numpy())
    if policy is OverlapPolicy.drop_all:
        drop[i[i >= 0]] = True
        return drop
    rel = sel["rel_day"].to_numpy()
    j = index.get_indexer(sel["other_id"].to_numpy())
    from_cat = (sel["source"].to_numpy() == "catalogue") & (j >= 0)
    mine = np.asarray(moments, np.int64)[i]
    theirs = np.where(from_cat, np.asarray(moments, np.int64)[np.maximum(j, 0)],
                      np.iinfo(np.int64).min)
    if other_moments:
        names = pd.Index(list(other_moments))
        values = np.fromiter(other_moments.values(), dtype=np.int64, count=len(names))
        k = names.get_indexer(sel["other_id"].to_numpy()[~from_cat])
        theirs[~from_cat] = np.where(k >= 0, values[np.maximum(k, 0)], np.iinfo(np.int64).min)
    tie_break = np.where(from_cat, j < i, True)
    earlier = (rel < 0) | ((rel == 0) & ((theirs < mine) | ((theirs == mine) & tie_break)))
    drop[i[earlier]] = True
    return drop


def reference_overlap_reasons(overlaps: pd.DataFrame, gone_ids) -> list[str]:
    """The ``reason`` of events an overlap policy leaves out, as _screen built it."""
    sel = overlaps.loc[overlaps["window"] == "event"]
    why = sel.groupby("event_id", sort=False)["other_id"].agg("; ".join)
    return ["other news in the event window: " + str(why.get(x, "")) for x in gone_ids]


# ---------------------------------------------------------------------- a messy catalogue
def _messy(n: int = 700, seed: int = 11):
    """Events of few tickers on few sessions (several headlines per (ticker, day 0)),
    ids in shuffled order, ties on the publication moment, and confounders."""
    rng = np.random.default_rng(seed)
    tickers = rng.choice(np.array(["AAA", "BB", "C", "DDDD", "E"], dtype=object), n)
    day0 = rng.integers(0, 120, n)
    ids = np.array([f"ev{k:04d}" for k in rng.permutation(n)], dtype=object)
    moments = rng.integers(0, 5, n)  # many ties, broken by event id
    events = pd.DataFrame({"event_id": ids, "ticker": tickers})
    m = 90
    conf = pd.DataFrame({"event_id": [f"news{k}" for k in rng.permutation(m)],
                         "ticker": rng.choice(["AAA", "C", "ZZ"], m)})
    return events, day0, moments, conf, rng.integers(0, 120, m)


def test_group_join_matches_a_groupby_join() -> None:
    from marketreact.panel.screening import group_join

    keys = np.array([5, 2, 5, 9, 2, 5, 7])
    values = np.array(["a", "b", "c", "d", "e", "f", "g"], dtype=object)
    uniq, joined = group_join(keys, values, "; ")
    ref = pd.Series(values).groupby(keys, sort=False).agg("; ".join)
    assert uniq.tolist() == ref.index.tolist() == [5, 2, 9, 7]
    assert joined.to_pylist() == ref.tolist() == ["a; c; f", "b; e", "d", "g"]
    empty_keys, empty = group_join(np.zeros(0, np.int64), np.zeros(0, dtype=object), "; ")
    assert len(empty_keys) == 0 and len(empty) == 0


@pytest.mark.parametrize("seed", [11, 12])
def test_duplicates_match_the_groupby_reference(seed: int) -> None:
    events, day0, moments, _, _ = _messy(seed=seed)
    ids = events["event_id"].to_numpy(dtype=object)
    d = find_duplicates(events["ticker"], day0, ids, moments)
    assert (d.n_headlines >= 3).sum() > 50  # several duplicates per group
    ref = reference_duplicate_others(ids, d.first)
    assert d.others.dtype == object
    assert d.others.tolist() == ref.tolist()
    assert all(type(x) is str for x in d.others)
    # the representative: the earliest moment of its (ticker, day 0), ties by event id
    # (reference: a pandas sort and groupby over the same keys)
    frame = events.assign(day0=day0, moment=moments, row=np.arange(len(ids)))
    best = (frame.sort_values(["moment", "event_id"]).groupby(["ticker", "day0"])["row"]
            .transform("first").sort_index())
    assert d.first.tolist() == best.tolist()
    assert d.n_headlines.tolist() == frame.groupby(["ticker", "day0"])["row"].transform(
        "size").tolist()
    # without moments too (ties by event id alone)
    d2 = find_duplicates(events["ticker"].to_numpy(dtype=object), day0, events["event_id"])
    assert d2.others.tolist() == reference_duplicate_others(ids, d2.first).tolist()
    by_id = (frame.sort_values("event_id").groupby(["ticker", "day0"])["row"]
             .transform("first").sort_index())
    assert d2.first.tolist() == by_id.tolist()


def test_duplicates_without_any_duplicate_and_empty() -> None:
    d = find_duplicates(np.array(["A", "B"], dtype=object), np.array([3, 3]),
                        np.array(["x", "y"], dtype=object))
    assert d.others.tolist() == ["", ""] and d.others.dtype == object
    e = find_duplicates(np.zeros(0, dtype=object), np.zeros(0, np.int64),
                        np.zeros(0, dtype=object))
    assert len(e.others) == 0 and e.others.dtype == object


@pytest.mark.parametrize("windows", [("event", "estimation"), ("event",), ("estimation",)])
@pytest.mark.parametrize("with_conf", [True, False])
def test_overlaps_match_the_reference(windows, with_conf) -> None:
    events, day0, _, conf, conf_day0 = _messy()
    args = (conf, conf_day0) if with_conf else (None, None)
    got = find_overlaps(events, day0, (-3, 3), (-40, -4), *args, windows=windows)
    ref = reference_find_overlaps(events, day0, (-3, 3), (-40, -4), *args, windows=windows)
    assert len(ref) > 1000
    pd.testing.assert_frame_equal(got, ref)
    assert got.dtypes.astype(str).tolist() == ref.dtypes.astype(str).tolist()


def test_overlaps_without_pairs_and_with_string_columns() -> None:
    # no pairs at all; and events given with pandas' str dtype instead of object
    events = pd.DataFrame({"event_id": ["a", "b"], "ticker": ["A", "B"]})
    for d0 in (np.array([10, 10]), np.array([10, 500])):
        pd.testing.assert_frame_equal(find_overlaps(events, d0, (-2, 2), (-30, -3)),
                                      reference_find_overlaps(events, d0, (-2, 2), (-30, -3)))
    events = pd.DataFrame({"event_id": ["a", "b", "c"], "ticker": ["A", "A", "A"]})
    d0 = np.array([10, 11, 10])
    pd.testing.assert_frame_equal(find_overlaps(events, d0, (-2, 2), (-30, -3)),
                                  reference_find_overlaps(events, d0, (-2, 2), (-30, -3)))


def test_lookup_of_few_values_in_a_long_index_is_get_indexer() -> None:
    # reference: pandas.Index.get_indexer (distinct index) and, for an index with repeats,
    # the first place of each value; values repeated, absent, fewer than the index
    rng = np.random.default_rng(3)
    index = np.array([f"e{i}" for i in rng.permutation(5000)], dtype=object)
    values = np.concatenate([index[rng.integers(0, 5000, 300)], ["nope", "e1", "e1"]])
    want = pd.Index(index).get_indexer(values).tolist()
    assert lookup(values, index).tolist() == want
    assert lookup(pd.Series(values, dtype="str"), pd.Series(index, dtype="str")).tolist() == want
    repeated = np.concatenate([index, index[:100]])
    firsts = {v: k for k, v in reversed(list(enumerate(repeated)))}
    assert lookup(values, repeated).tolist() == [firsts.get(v, -1) for v in values]


def test_lookup_is_get_indexer() -> None:
    index = np.array(["b", "a", "c", "dd"], dtype=object)
    values = pd.Series(["a", "zz", "dd", "b", "a"])  # pandas str dtype
    assert lookup(values, index).tolist() == pd.Index(index).get_indexer(values).tolist()
    assert lookup(np.zeros(0, dtype=object), index).tolist() == []


@pytest.mark.parametrize("policy", list(OverlapPolicy))
def test_overlap_drops_match_the_reference(policy) -> None:
    events, day0, moments, conf, conf_day0 = _messy()
    ov = find_overlaps(events, day0, (-3, 3), (-40, -4), conf, conf_day0)
    other = dict(zip(conf["event_id"], np.arange(len(conf)) % 4, strict=True))
    for extra in (other, None):
        got = overlap_drops(events["event_id"], day0, moments, ov, policy, extra)
        ref = reference_overlap_drops(events["event_id"], day0, moments, ov, policy, extra)
        assert got.tolist() == ref.tolist()
        assert policy is OverlapPolicy.keep or got.sum() > 0
    # the moments as (ids, moments) arrays, an id given twice: like the mapping built from them
    ids = np.concatenate([conf["event_id"].to_numpy(dtype=object), conf["event_id"][:20]])
    mom = np.concatenate([np.arange(len(conf)) % 4, np.full(20, -1)])
    got = overlap_drops(events["event_id"], day0, moments, ov, policy, (ids, mom))
    ref = reference_overlap_drops(events["event_id"], day0, moments, ov, policy,
                                  dict(zip(ids, mom, strict=True)))
    assert got.tolist() == ref.tolist()


def test_overlap_reasons_match_the_reference() -> None:
    events, day0, _, conf, conf_day0 = _messy()
    ov = find_overlaps(events, day0, (-3, 3), (-40, -4), conf, conf_day0)
    asked = np.concatenate([events["event_id"].to_numpy(dtype=object)[::3], ["nobody"]])
    got = prefixed("other news in the event window: ", event_window_news(ov, asked))
    assert got.dtype == "str"
    assert list(got) == reference_overlap_reasons(ov, asked)
    assert got[-1] == "other news in the event window: "  # an event without any
    reps = np.array(["x1", "y; z"], dtype=object)
    assert list(prefixed("same ticker and day 0 as ", reps)) == [
        "same ticker and day 0 as x1", "same ticker and day 0 as y; z"]


# ------------------------------------------------------------------------------ in the study
def _frame(close: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"open": close, "high": close, "low": close, "close": close,
                         "adj_close": close, "volume": 1e6}, index=close.index)


@pytest.fixture(scope="module")
def prices() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(4)
    days = exchange_sessions("XNYS", pd.Timestamp("2021-01-01"),
                             pd.Timestamp("2023-12-29")).labels
    m = rng.normal(0.0003, 0.01, len(days))
    out = {"MKT": _frame(pd.Series(100 * np.cumprod(1 + m), index=days))}
    for k, name in enumerate(("AAA", "BBB", "CCC", "DDD")):
        r = 0.0002 + (1 + 0.2 * k) * m + rng.normal(0, 0.015, len(days))
        out[name] = _frame(pd.Series(50 * np.cumprod(1 + r), index=days))
    return out


@pytest.fixture(scope="module")
def catalogue():
    """~60 events: several headlines per (ticker, date) with and without timestamps, rows out
    of order, runs of news a few sessions apart; and confounders."""
    rng = np.random.default_rng(8)
    days = exchange_sessions("XNYS", pd.Timestamp("2022-03-01"),
                             pd.Timestamp("2023-11-30")).labels
    rows = []
    k = 0
    for t in ("AAA", "BBB", "CCC", "DDD"):
        base = rng.choice(len(days) - 30, 4, replace=False)
        for b in base:
            run = rng.random() < 0.6  # a run: news a few sessions apart
            for step in ((0, int(rng.integers(1, 6))) if run else (0,)):
                day = days[b + step]
                for _ in range(int(rng.integers(1, 4))):  # 1 to 3 headlines that day
                    stamp = (pd.Timestamp(day).tz_localize("UTC") + pd.Timedelta(
                        hours=int(rng.integers(13, 15)))) if rng.random() < 0.5 else pd.NaT
                    rows.append({"event_id": f"n{rng.integers(0, 10**6):06d}_{k}",
                                 "ticker": t, "timestamp": stamp,
                                 "date": pd.NaT if stamp is not pd.NaT else day,
                                 "timing": "" if stamp is not pd.NaT else "pre",
                                 "sentiment": float(rng.normal())})
                    k += 1
    frame = pd.DataFrame(rows).sample(frac=1.0, random_state=3).reset_index(drop=True)
    frame["market"] = "MKT"
    first = frame.drop_duplicates("ticker").head(3)
    conf = pd.DataFrame({"event_id": ["c1", "c2", "c3"], "ticker": first["ticker"].tolist(),
                         "date": [(d if d is not pd.NaT else s.tz_localize(None).normalize())
                                  for d, s in zip(first["date"], first["timestamp"],
                                                  strict=True)],
                         "timing": ["post", "pre", "pre"]})
    return events_from_frame(frame), events_from_frame(conf)


@pytest.mark.parametrize("duplicates", ["merge", "first", "keep"])
@pytest.mark.parametrize("overlap", ["keep", "drop-later", "drop-all"])
def test_study_screening_strings_match_the_reference(prices, catalogue, duplicates,
                                                     overlap) -> None:
    cat, conf = catalogue
    res = EventStudy(n_boot=0, duplicates=duplicates, overlap=overlap,
                     window=(-5, 5), car_windows=((-1, 1),)).fit(cat, prices, confounders=conf)
    frame = cat.frame
    ev = res.events
    # duplicate_ids: a representative lists its group's other ids in catalogue order
    ids = frame["event_id"].to_numpy(dtype=object)
    d = find_duplicates(frame["ticker"], _day0(frame, prices), ids, _moments(frame))
    others = reference_duplicate_others(ids, d.first)
    expected = dict(zip(ids, np.where(d.first == np.arange(len(ids)), others, ""),
                        strict=True))
    assert (d.n_headlines >= 3).any() and (d.n_headlines == 2).any()
    assert ev["duplicate_ids"].dtype == "str"
    assert {i: expected[i] for i in ev["event_id"]} == dict(zip(ev["event_id"],
                                                                ev["duplicate_ids"],
                                                                strict=True))
    sc = res.screened
    dup_rows = sc["action"].str.startswith(("merged", "left out (duplicates"))
    if duplicates == "keep":
        assert not dup_rows.any()
    else:
        rep = {i: ids[f] for i, f in zip(ids, d.first, strict=True)}
        assert dup_rows.sum() == int((d.first != np.arange(len(ids))).sum())
        assert sc.loc[dup_rows, "reason"].tolist() == [
            "same ticker and day 0 as " + rep[i] for i in sc.loc[dup_rows, "event_id"]]
    ov_rows = sc["action"].str.startswith("left out (overlap")
    if overlap == "keep":
        assert not ov_rows.any()
    else:
        assert ov_rows.sum() > 0
        gone = sc.loc[ov_rows, "event_id"].tolist()
        assert sc.loc[ov_rows, "reason"].tolist() == reference_overlap_reasons(res.overlaps,
                                                                               gone)
        assert any("; " in r for r in sc.loc[ov_rows, "reason"])
    for column in ("event_id", "ticker", "action", "reason"):
        assert sc[column].dtype == ("str" if len(sc) else object)


def _day0(frame: pd.DataFrame, prices) -> np.ndarray:
    """Day 0 as a session position (every event of the fixture is "pre" or a daytime stamp
    before the close, so day 0 is the session of its date)."""
    days = prices["MKT"].index
    when = frame["timestamp"].dt.tz_localize(None).dt.normalize().fillna(frame["date"])
    return days.get_indexer(pd.DatetimeIndex(when))


def _moments(frame: pd.DataFrame) -> np.ndarray:
    from marketreact.panel.screening import anchored_moments

    return anchored_moments(frame)


def test_study_overlap_table_is_built_when_read(prices, catalogue, monkeypatch) -> None:
    # reference: find_overlaps on the studied events, dates read off the sessions
    from marketreact._lazy import is_pending
    from marketreact.study import fit as fit_module

    calls: list[int] = []
    found = fit_module.overlap_pairs
    monkeypatch.setattr(fit_module, "overlap_pairs",
                        lambda *a, **k: calls.append(1) or found(*a, **k))
    cat, conf = catalogue
    res = EventStudy(n_boot=0, duplicates="keep", overlap="keep", window=(-5, 5),
                     car_windows=((-1, 1),)).fit(cat, prices, confounders=conf)
    assert is_pending(res, "overlaps")  # not built by the fit
    assert not calls  # with overlap=keep no policy reads the pairs: not even found yet
    table = res.overlaps
    assert not is_pending(res, "overlaps") and len(table) > 0 and calls
    frame = cat.frame
    days = prices["MKT"].index
    from marketreact.calendar import anchor_day0

    sessions = exchange_sessions("XNYS", days[0], days[-1])
    cf = conf.frame
    day0 = _day0(frame, prices)
    conf_day0 = np.asarray(anchor_day0(sessions, cf["timestamp"], cf["date"], cf["timing"]))
    placed = (day0 > 0) & (day0 < len(days))
    inside = (conf_day0 > 0) & (conf_day0 < len(days))
    want = find_overlaps(frame.loc[placed], day0[placed], (-5, 5), (-250, -11),
                         cf.loc[inside], conf_day0[inside])
    pd.testing.assert_series_equal(table["event_id"], want["event_id"], check_dtype=False)
    pd.testing.assert_series_equal(table["other_id"], want["other_id"], check_dtype=False)
    np.testing.assert_array_equal(table["rel_day"].to_numpy(), want["rel_day"].to_numpy())
    np.testing.assert_array_equal(table["day0"].to_numpy(),
                                  days.to_numpy()[want["day0"].to_numpy()])
