"""Time the event screening at a million events: the vectorised code against the old one.

Not a test: builds the synthetic benchmark (3,000 tickers x 10 years, 1,000,000 events),
times ``find_duplicates`` and ``find_overlaps`` (event window, as ``EventStudy.fit`` lists
them at this size) and the whole ``EventStudy._screen`` of the catalogue's exchange, each
against a copy of the code before vectorisation (``old_*`` below, kept as the baseline), in
one run, and checks that both give the same results::

    .venv/bin/python benchmarks/bench_screening.py [--events 1000000] [--tickers 3000]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

import synthetic

from marketreact import EventStudy, events_from_frame
from marketreact._typing import BoolArray, IntArray
from marketreact.calendar import anchor_day0, exchange_sessions
from marketreact.panel.screening import (
    MAX_LISTED_PAIRS,
    DuplicatePolicy,
    Duplicates,
    OverlapPolicy,
    _pairs,
    _sources,
    _ticker_keys,
    anchored_moments,
    estimation_exclusions,
    find_duplicates,
    find_overlaps,
    overlap_tally,
)
from marketreact.study.fit import _OverlapTable, _Screening


# ------------------------------------------------------------ the baseline: the old code
def old_find_duplicates(tickers, day0, event_ids, moments=None) -> Duplicates:
    """find_duplicates before vectorisation (the groupby join)."""
    e = len(day0)
    if not e:
        none = np.empty(0, dtype=np.int64)
        return Duplicates(none, none, np.empty(0, dtype=object))
    codes, _ = pd.factorize(pd.Series(np.asarray(tickers, dtype=object)))
    ids = np.asarray(event_ids, dtype=object)
    _, tie = np.unique(ids.astype(str), return_inverse=True)
    key = np.zeros(e, dtype=np.int64) if moments is None else np.asarray(moments, np.int64)
    order = np.lexsort((tie, key, np.asarray(day0), codes))
    c, d = codes[order], np.asarray(day0)[order]
    start = np.ones(e, dtype=bool)
    start[1:] = (c[1:] != c[:-1]) | (d[1:] != d[:-1])
    gid_sorted = np.cumsum(start) - 1
    heads = order[start]
    gid = np.empty(e, dtype=np.int64)
    gid[order] = gid_sorted
    sizes = np.bincount(gid_sorted)
    first = heads[gid]
    n = sizes[gid]
    others = np.full(e, "", dtype=object)
    rep = first == np.arange(e)
    dup = ~rep
    if dup.any():
        joined = pd.Series(ids[dup]).groupby(first[dup], sort=False).agg("; ".join)
        others[joined.index.to_numpy()] = joined.to_numpy()
        others[dup] = ids[first[dup]]
    return Duplicates(first.astype(np.int64), n.astype(np.int64), others)


def old_find_overlaps(events, day0, window, estimation, confounders=None,
                      confounder_day0=None, windows=("event", "estimation")) -> pd.DataFrame:
    """find_overlaps before vectorisation (one frame per block, sorted by get_indexer)."""
    ids = events["event_id"].to_numpy(dtype=object)
    tick = events["ticker"].to_numpy(dtype=object)
    day0 = np.asarray(day0, np.int64)
    span = max(abs(v) for v in (*window, *estimation))
    frames = []
    for source, oids, otick, od0 in _sources(events, day0, confounders, confounder_day0):
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


def old_overlap_drops(event_ids: pd.Series | np.ndarray, day0: IntArray, moments: IntArray,
                  overlaps: pd.DataFrame, policy: OverlapPolicy,
                  other_moments: dict[str, int] | None = None) -> BoolArray:
    """overlap_drops before vectorisation (positions by Index.get_indexer)."""
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



def old_screen(self: EventStudy, lineup: Any, confounders: pd.DataFrame | None,
               screening: _Screening, attributes: Sequence[str] = ()
               ) -> tuple[Any, np.ndarray | None]:
    """EventStudy._screen before vectorisation (with the old functions above)."""
    s = self.settings
    if not len(lineup):
        return lineup, None
    ev, day0, labels = lineup.events, lineup.day0, lineup.sessions.labels
    n_sessions = len(labels)

    def dates(pos: np.ndarray) -> np.ndarray:
        out = np.full(len(pos), np.datetime64("NaT"), dtype="datetime64[ns]")
        inside = pos < n_sessions
        out[inside] = labels.to_numpy()[pos[inside]]
        return out

    moments = anchored_moments(ev)
    ids = ev["event_id"].to_numpy(dtype=object)
    # day 0 at either end of the sessions may stand for "before the prices" or "after
    # them" (such events fail later with that reason): never grouped or paired
    placed = (day0 > 0) & (day0 < n_sessions)
    dups = old_find_duplicates(ev["ticker"], np.where(placed, day0, -1 - np.arange(len(ev))),
                           ids, moments)
    rep = dups.representative
    ev = ev.assign(n_headlines=dups.n_headlines,
                   duplicate_ids=np.where(rep, dups.others, ""))
    screened = []
    if s.duplicates is not DuplicatePolicy.keep and not rep.all():
        if s.duplicates is DuplicatePolicy.merge:
            numeric = [c for c in ev.columns if c in attributes
                       and pd.api.types.is_numeric_dtype(ev[c])]
            if numeric:  # the mean over the story's headlines, on its representative
                means = ev[numeric].groupby(dups.first).transform("mean")
                ev[numeric] = means.to_numpy()
        action = ("merged" if s.duplicates is DuplicatePolicy.merge
                  else "left out (duplicates=first)")
        gone = ~rep
        screened.append(pd.DataFrame({
            "event_id": ids[gone], "ticker": ev["ticker"].to_numpy()[gone],
            "day0": dates(day0[gone]), "action": action,
            "reason": ["same ticker and day 0 as " + str(x) for x in dups.others[gone]]}))
        screening.counts["duplicates_left_out"] += int(gone.sum())
    keep_rows = rep if s.duplicates is not DuplicatePolicy.keep else np.ones(len(ev), bool)
    all_tickers, all_day0 = ev["ticker"].to_numpy(dtype=object)[placed], day0[placed]
    lineup = lineup.with_events(ev).subset(keep_rows)
    ev, day0 = lineup.events, lineup.day0
    placed = (day0 > 0) & (day0 < n_sessions)
    screening.counts["distinct_events"] += dups.n_groups
    conf, conf_day0 = None, None
    if confounders is not None and len(confounders):
        conf = confounders.loc[confounders["ticker"].isin(set(ev["ticker"]))]
        if len(conf):
            conf_day0 = np.asarray(anchor_day0(lineup.sessions, conf["timestamp"],
                                               conf["date"], conf["timing"]), np.int64)
            inside = (conf_day0 > 0) & (conf_day0 < n_sessions)
            conf, conf_day0 = conf.loc[inside], conf_day0[inside]
    # counted by binary search; listed in overlaps.csv while the list stays small
    tally = overlap_tally(ev.loc[placed], day0[placed], s.window, s.estimation, conf,
                          conf_day0)
    at = np.flatnonzero(placed)
    counts = {}
    for name in ("event", "estimation"):
        n = np.zeros(len(ev), dtype=np.int64)
        for source in ("catalogue", "confounders"):
            if (name, source) in tally:
                n[at] += tally[(name, source)]
        counts[f"overlaps_{name}"] = n
    n_estimation = int(sum(int(v.sum()) for (w, _), v in tally.items()
                           if w == "estimation"))
    listed = ("event", "estimation") if n_estimation <= MAX_LISTED_PAIRS else ("event",)
    if len(listed) == 1:
        screening.counts["estimation_pairs_not_listed"] += n_estimation
    overlaps = old_find_overlaps(ev.loc[placed], day0[placed], s.window, s.estimation, conf,
                             conf_day0, windows=listed)
    ev = ev.assign(**counts)
    lineup = lineup.with_events(ev)
    for name in ("event", "estimation"):
        screening.counts[f"overlap_pairs_{name}"] += int(
            tally.get((name, "catalogue"), np.zeros(0, np.int64)).sum())
    screening.counts["confounder_pairs"] += int(sum(
        int(v.sum()) for (_, src), v in tally.items() if src == "confounders"))
    screening.counts["events_with_overlap"] += int(
        ((counts["overlaps_event"] + counts["overlaps_estimation"]) > 0).sum())
    if len(overlaps):
        shown = overlaps.assign(day0=dates(overlaps["day0"].to_numpy()),
                                other_day0=dates(overlaps["other_day0"].to_numpy()))
        screening.overlaps.append(shown)
    other_moments = (dict(zip(conf["event_id"], anchored_moments(conf), strict=True))
                     if conf is not None and len(conf) else None)
    drop = old_overlap_drops(ev["event_id"], day0, anchored_moments(ev), overlaps,
                         s.overlap, other_moments)
    if drop.any():
        sel = overlaps.loc[overlaps["window"] == "event"]
        why = sel.groupby("event_id", sort=False)["other_id"].agg("; ".join)
        gone_ids = ev["event_id"].to_numpy(dtype=object)[drop]
        screened.append(pd.DataFrame({
            "event_id": gone_ids, "ticker": ev["ticker"].to_numpy()[drop],
            "day0": dates(day0[drop]), "action": f"left out (overlap={s.overlap.value})",
            "reason": ["other news in the event window: " + str(why.get(x, ""))
                       for x in gone_ids]}))
        screening.counts["overlap_left_out"] += int(drop.sum())
        lineup = lineup.subset(~drop)
        ev, day0 = lineup.events, lineup.day0
    screening.screened.extend(screened)
    exclude = None
    if s.clean_estimation:
        o_t, o_d = all_tickers, all_day0
        if conf is not None and conf_day0 is not None and len(conf):
            o_t = np.concatenate([o_t, conf["ticker"].to_numpy(dtype=object)])
            o_d = np.concatenate([o_d, conf_day0])
        exclude = estimation_exclusions(ev["ticker"].to_numpy(dtype=object), day0, o_t, o_d,
                                        s.window, s.estimation)
        lineup = lineup.with_events(ev.assign(estimation_excluded=exclude.sum(axis=1)))
    return lineup, exclude


# ------------------------------------------------------------------------------ the timing
def clock(fn, *args, **kwargs) -> tuple[float, Any]:
    """Seconds of one call and its result."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def same_frames(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Equal values, order and dtypes."""
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    return a.dtypes.astype(str).tolist() == b.dtypes.astype(str).tolist()


def main() -> None:
    """Build the benchmark, time old and new side by side, print a table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--tickers", type=int, default=3000)
    args = ap.parse_args()
    t0 = time.perf_counter()
    panel = synthetic.make_panel(args.tickers, start="2015-01-01", end="2024-12-31")
    cat = events_from_frame(synthetic.make_events(panel, args.events, seed=args.events))
    frame = cat.frame
    print(f"built {len(frame):,} events in {time.perf_counter() - t0:.1f} s", flush=True)
    sessions = exchange_sessions("XNYS", panel.sessions[0], panel.sessions[-1])
    day0 = np.asarray(anchor_day0(sessions, frame["timestamp"], frame["date"],
                                  frame["timing"]), np.int64)
    moments = anchored_moments(frame)
    ids = frame["event_id"].to_numpy(dtype=object)
    rows = []
    t_old, d_old = clock(old_find_duplicates, frame["ticker"], day0, ids, moments)
    t_new, d_new = clock(find_duplicates, frame["ticker"], day0, ids, moments)
    ok = all(np.array_equal(getattr(d_old, f), getattr(d_new, f))
             for f in ("first", "n_headlines", "others"))
    rows.append(("find_duplicates", t_old, t_new, ok))
    s = EventStudy(car_windows=((-1, 1), (0, 0), (0, 1), (-5, 5))).settings
    events = frame.loc[d_new.representative, ["event_id", "ticker"]]
    d0 = day0[d_new.representative]
    t_old, o_old = clock(old_find_overlaps, events, d0, s.window, s.estimation,
                         windows=("event",))
    t_new, o_new = clock(find_overlaps, events, d0, s.window, s.estimation, windows=("event",))
    rows.append((f"find_overlaps ({len(o_new):,} pairs)", t_old, t_new, same_frames(o_old,
                                                                                    o_new)))
    # the whole _screen: the fit's own lineup, caught on its way in (the fit stops there)
    caught: dict[str, Any] = {}

    class CaughtError(Exception):
        pass

    def catch(self, lineup, confounders, screening, attributes=()):
        caught.update(lineup=lineup, confounders=confounders, attributes=attributes)
        raise CaughtError

    real = EventStudy._screen
    EventStudy._screen = catch  # type: ignore[method-assign]
    try:
        EventStudy(car_windows=((-1, 1), (0, 0), (0, 1), (-5, 5))).fit(cat, panel.frames)
    except CaughtError:
        pass
    finally:
        EventStudy._screen = real  # type: ignore[method-assign]
    for overlap in ("keep", "drop-later"):
        study = EventStudy(car_windows=((-1, 1), (0, 0), (0, 1), (-5, 5)), overlap=overlap)
        got = []
        for fn in (old_screen, EventStudy._screen):
            screening = _Screening([], [], {k: 0 for k in (
                "distinct_events", "duplicates_left_out", "overlap_pairs_event",
                "overlap_pairs_estimation", "confounder_pairs", "overlap_left_out",
                "events_with_overlap", "estimation_pairs_not_listed")})
            t, (lineup, _) = clock(fn, study, caught["lineup"], caught["confounders"],
                                   screening, caught["attributes"])
            got.append((t, lineup.events, screening))
        (t_old, ev_old, sc_old), (t_new, ev_new, sc_new) = got
        # the new screening keeps the overlap pairs as positions and builds the table when it
        # is read: its build is timed here too, so that both sides make the same table
        t_table, table = clock(_OverlapTable(sc_new.overlaps))
        t_new += t_table
        ok = (same_frames(ev_old, ev_new) and sc_old.counts == sc_new.counts
              and all(same_frames(a, b) for a, b in zip(sc_old.screened, sc_new.screened,
                                                         strict=True))
              and same_frames(pd.concat(sc_old.overlaps, ignore_index=True), table))
        rows.append((f"_screen (overlap={overlap}, {len(caught['lineup']):,} events)",
                     t_old, t_new, ok))
    print(f"{'step':<48} {'old s':>8} {'new s':>8} {'ratio':>7}  same")
    for name, a, b, same in rows:
        print(f"{name:<48} {a:8.2f} {b:8.2f} {a / b:7.1f}  {same}")


if __name__ == "__main__":
    main()
