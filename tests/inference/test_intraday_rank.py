"""The time-of-day rank test (after Saha & Rinaudo 2014) and the study's abnormal bar volume.

References
----------
* Hand computation: ranks counted by hand on small arrays; the exact null of the
  summed ranks by enumerating every rank combination with ``itertools.product``.
* The null distribution by simulation: event and estimation values drawn i.i.d.
  (normal and Student t(3)); rejection rates inside the 99.9% binomial band of
  ``scipy.stats.binom`` and p-values uniform (``scipy.stats.kstest``).
* The study's wiring: market-adjusted ARs (``stock - market``, no fitted
  parameter) rebuilt here with pandas from synthetic bars, ranked by hand among
  the same clock hour of the 20 previous sessions; abnormal volume
  ``ln(1 + V) - mean/median ln(1 + V)`` of the same hour, by hand.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from marketreact.events import events_from_frame
from marketreact.inference.intraday import (
    rinaudo_saha,
    time_of_day_ranks,
    window_reference,
)
from marketreact.study.intraday import IntradayStudy

NY = "America/New_York"


def test_ranks_by_hand_with_ties_and_missing_sessions():
    x = np.array([[0.5, -1.0], [2.0, np.nan]])
    ref = np.array([[[0.1, 3.0], [0.5, -2.0], [np.nan, 0.0], [0.9, -1.0]],
                    [[1.0, 1.0], [3.0, 1.0], [-1.0, 1.0], [2.0, 1.0]]])
    r = time_of_day_ranks(x, ref)
    # event 0 bar 0: refs 0.1, 0.5, 0.9 (one NaN) -> one below, one tie: 1 + 1 + 0.5
    assert r.rank[0, 0] == 2.5 and r.n[0, 0] == 4
    # event 0 bar 1: refs 3, -2, 0, -1 -> one below (-2), one tie (-1): 2.5 of 5
    assert r.rank[0, 1] == 2.5 and r.n[0, 1] == 5
    # event 1 bar 0: refs 1, 3, -1, 2 -> 2 below, one tie: 3.5 of 5
    assert r.rank[1, 0] == 3.5 and r.n[1, 0] == 5
    assert np.isnan(r.rank[1, 1]) and r.n[1, 1] == 0
    # ties count against the event: lower tail (1 + #{r <= x}) / n, upper (1 + #{r >= x}) / n
    p = r.event_p("less")
    assert p[0, 0] == pytest.approx(3 / 4)
    assert r.event_p("greater")[1, 0] == pytest.approx(3 / 5)


def test_statistic_and_exact_p_by_hand():
    # two events, 3 and 4 estimation sessions: ranks 4 of 4 and 3 of 5
    ar = np.array([[0.9], [0.2]])
    ref = np.array([[[0.1], [0.2], [0.3], [np.nan]], [[0.0], [0.1], [0.5], [0.6]]])
    day, _ = rinaudo_saha(ar, ref, alternative="greater")
    u = (4 / 4 - 5 / 8) + (3 / 5 - 6 / 10)
    v = (16 - 1) / (12 * 16) + (25 - 1) / (12 * 25)
    assert day.stat[0] == pytest.approx(u / np.sqrt(v))
    # exact: P(R1 + R2 >= 7) with R1 ~ U{1..4}, R2 ~ U{1..5}, by enumeration
    combos = list(itertools.product(range(1, 5), range(1, 6)))
    upper = sum(a + b >= 7 for a, b in combos) / len(combos)
    lower = sum(a + b <= 7 for a, b in combos) / len(combos)
    assert day.pvalue[0] == pytest.approx(upper)
    two, _ = rinaudo_saha(ar, ref)
    assert two.pvalue[0] == pytest.approx(min(1.0, 2 * min(upper, lower)))
    assert day.n[0] == 2


def test_windows_sum_the_same_slots():
    ar = np.array([[0.01, 0.02, np.nan]])
    ref = np.array([[[0.0, 0.0, 9.0], [0.05, np.nan, 0.0], [-0.01, 0.04, np.nan]]])
    car, rcar = window_reference(ar, ref, [slice(0, 2), slice(0, 3)])
    assert car[0].tolist() == pytest.approx([0.03, 0.03])
    # session 1 lacks the second bar: out; the third bar is missing on the event: not needed
    assert rcar[0, :, 0] == pytest.approx([0.0, np.nan, 0.03], nan_ok=True)
    assert rcar[0, :, 1] == pytest.approx([0.0, np.nan, 0.03], nan_ok=True)
    _, win = rinaudo_saha(ar, ref, [slice(0, 2)], alternative="greater")
    # 0.03 vs {0.0, 0.03}: rank 2.5 of 3, the tie counted against the event: P(R >= 2) = 2/3
    assert win.pvalue[0] == pytest.approx(2 / 3)


@pytest.mark.parametrize("draw", ["normal", "t3"])
@pytest.mark.parametrize("n_events", [10, 60])
def test_null_distribution_by_simulation(draw, n_events):
    rng = np.random.default_rng(7 + n_events)
    sims, d = 4000, 20
    gen = (rng.standard_normal if draw == "normal"
           else (lambda size: rng.standard_t(3, size=size)))
    # the simulations run along the bar axis: each column is an independent sample
    ar = gen(size=(n_events, sims))
    ref = gen(size=(n_events, d, sims))
    ref[rng.random(ref.shape) < 0.05] = np.nan  # a few missing estimation bars
    day, _ = rinaudo_saha(ar, ref)
    lo, hi = stats.binom.ppf([0.0005, 0.9995], sims, 0.05) / sims
    rate = float(np.mean(day.pvalue < 0.05))
    if n_events > 30:  # normal approximation: size inside the band
        assert lo <= rate <= hi
        assert stats.kstest(day.pvalue, "uniform").pvalue > 1e-3
    else:  # exact p-values of a discrete statistic: never above the level
        assert rate <= hi
        assert rate >= 0.02
    # power: a shift of one standard deviation on every event
    shifted, _ = rinaudo_saha(ar + 1.0, ref)
    assert np.mean(shifted.pvalue < 0.05) > (0.9 if n_events > 30 else 0.4)


def _bars(n_days: int = 30, seed: int = 3) -> dict[str, pd.DataFrame]:
    from marketreact.calendar import schedule

    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2019-01-02", periods=n_days + 10)
    sessions = schedule("XNYS", days[0], days[-1]).index
    days = [d for d in days if d in sessions][:n_days]
    stamps = pd.DatetimeIndex([pd.Timestamp(f"{d.date()} {h:02d}:00", tz=NY)
                               for d in days for h in range(9, 16)]).tz_convert("UTC")
    m = rng.normal(0, 0.002, len(stamps))
    y = 0.0001 + 1.2 * m + rng.normal(0, 0.001, len(stamps))
    out = {}
    for name, r in (("MKT", m), ("STK", y)):
        close = 100 * np.cumprod(1 + r)
        out[name] = pd.DataFrame({"open": close / (1 + r), "high": close, "low": close,
                                  "close": close,
                                  "volume": rng.integers(0, 5000, len(stamps)).astype(float)},
                                 index=stamps)
    return out


def test_study_ranks_and_abnormal_volume_by_hand():
    bars = _bars()
    stamps = bars["STK"].index
    at = stamps[-12]  # a bar of the second-to-last session
    t = at.tz_convert(NY)
    events = events_from_frame(pd.DataFrame({"event_id": ["a"], "ticker": ["STK"],
                                             "market": ["MKT"],
                                             "timestamp": [(t + pd.Timedelta(minutes=40))
                                                           .isoformat()]}))
    res = IntradayStudy("1h", (0, 1), model="market-adjusted").fit(events, bars)
    # every synthetic bar opens at the previous close, so its return is close / open - 1
    y = bars["STK"]["close"] / bars["STK"]["open"] - 1
    m = bars["MKT"]["close"] / bars["MKT"]["open"] - 1
    ar = (y - m)
    local = stamps.tz_convert(NY)
    days = sorted(set(local.date))
    est_days = set(days[days.index(t.date()) - 20:days.index(t.date())])
    same = [(d in est_days) and (h == t.hour) for d, h in zip(local.date, local.hour,
                                                               strict=True)]
    refs = ar[same].to_numpy()
    assert len(refs) == 20
    x = ar[at]
    rank = 1 + (refs < x).sum() + 0.5 * (refs == x).sum()
    ev = res.events.iloc[0]
    assert ev["rs_rank0"] == rank and ev["rs_n0"] == 21
    assert ev["rs_p0"] == pytest.approx(min(1.0, 2 * min(rank, 22 - rank) / 21))
    assert "rs" in res.aar and "rs_p" in res.aggregate
    # abnormal volume of bar 0: ln(1 + V) minus the mean of the same hour's ln(1 + V)
    v = bars["STK"]["volume"]
    expect = np.log1p(v[at]) - np.log1p(v[same]).mean()
    assert ev["abvol0"] == pytest.approx(expect, rel=1e-12)
    long = res.abnormal_returns
    assert long.loc[long["rel_bar"] == 0, "abnormal_volume"].iloc[0] == pytest.approx(expect)
    nxt = stamps[stamps.get_loc(at) + 1]
    same1 = [(d in est_days) and (h == nxt.tz_convert(NY).hour)
             for d, h in zip(local.date, local.hour, strict=True)]
    expect1 = np.log1p(v[nxt]) - np.log1p(v[same1]).mean()
    assert long.loc[long["rel_bar"] == 1, "abnormal_volume"].iloc[0] == pytest.approx(expect1)
    med = IntradayStudy("1h", (0, 1), model="market-adjusted", volume_stat="median").fit(
        events, bars)
    assert med.events["abvol0"].iloc[0] == pytest.approx(
        np.log1p(v[at]) - np.median(np.log1p(v[same])))
    assert res.volume["mean"].tolist() == pytest.approx([expect, expect1])
    assert "RS z" in res.summary()


def test_volume_stat_is_checked():
    from marketreact.errors import InputError

    with pytest.raises(InputError, match="volume_stat"):
        IntradayStudy("1h", (0, 1), volume_stat="mode")


def test_batches_equal_one_call_per_sample():
    rng = np.random.default_rng(2)
    ar = rng.normal(size=(3, 8, 4))
    ref = rng.normal(size=(3, 8, 5, 4))
    ref[0, 2, :, 1] = np.nan  # an event without estimation bars at one slot
    windows = [slice(0, 2), slice(1, 4)]
    day, win = rinaudo_saha(ar, ref, windows, alternative="less")
    for k in range(3):
        d1, w1 = rinaudo_saha(ar[k], ref[k], windows, alternative="less")
        assert day.stat[k] == pytest.approx(d1.stat)
        assert day.pvalue[k] == pytest.approx(d1.pvalue)
        assert win.pvalue[k] == pytest.approx(w1.pvalue)
        assert (day.n[k] == d1.n).all()
    assert day.n[0, 1] == 7


def test_window_bars_of_the_previous_session_are_not_their_own_reference():
    """Review of issue 14, defect 1: a pre-event window bar is also an estimation bar.

    Reference: hand count with pandas. Bar -2 of an event at 10:10 is the 15:00 bar of
    the previous session, which is estimation session 0; its reference is the 15:00
    residual of the *other* 19 estimation sessions, and its normal volume the mean
    ln(1 + V) of those 19 bars.
    """
    bars = _bars()
    stamps = bars["STK"].index
    local = stamps.tz_convert(NY)
    days = sorted(set(local.date))
    day0 = days[-5]
    at = stamps[(local.date == day0) & (local.hour == 10)][0]
    bars["STK"].loc[at, "volume"] = 5355999.0  # expm1(log1p(.)) would not give it back
    t = at.tz_convert(NY)
    events = events_from_frame(pd.DataFrame({"event_id": ["a"], "ticker": ["STK"],
                                             "market": ["MKT"],
                                             "timestamp": [(t + pd.Timedelta(minutes=10))
                                                           .isoformat()]}))
    res = IntradayStudy("1h", (-2, 1), model="market-adjusted").fit(events, bars)
    y = bars["STK"]["close"] / bars["STK"]["open"] - 1
    m = bars["MKT"]["close"] / bars["MKT"]["open"] - 1
    ar = y - m
    prev = days[days.index(day0) - 1]
    est_days = set(days[days.index(day0) - 20:days.index(day0)])
    own = stamps[(local.date == prev) & (local.hour == 15)][0]
    others = [(d in est_days) and d != prev and h == 15
              for d, h in zip(local.date, local.hour, strict=True)]
    refs = ar[others].to_numpy()
    assert len(refs) == 19
    got = res.time_of_day_ref[0, :, 0]
    assert np.sort(got[np.isfinite(got)]) == pytest.approx(np.sort(refs), rel=1e-12)
    assert res.ar[0, 0] == pytest.approx(ar[own], rel=1e-12)
    assert not (got == res.ar[0, 0]).any()
    # bar 0 is in the event session: still 20 reference sessions
    assert res.events["rs_n0"].iloc[0] == 21
    v = bars["STK"]["volume"]
    long = res.abnormal_returns.set_index("rel_bar")
    assert long.loc[-2, "abnormal_volume"] == pytest.approx(
        np.log1p(v[own]) - np.log1p(v[others]).mean(), rel=1e-12)
    # defect 7: the volume columns hold the volume as read, not expm1(log1p(V))
    assert long.loc[0, "volume"] == 5355999.0
    assert res.events["volume0"].iloc[0] == 5355999.0


@pytest.mark.parametrize("n_events", [1, 2, 3])
def test_exact_p_with_ties_never_favours_the_event_by_enumeration(n_events):
    """Review of issue 14, defect 4: ties broke in the event's favour.

    Reference: complete enumeration. Each event has 2 estimation values and the event
    value, all i.i.d. on {0, 1} (every one of the 2**(3N) configurations equally
    likely: the null with heavy ties). For every attainable level a, the exact
    rejection rate P(p <= a) is computed by counting configurations and must not
    exceed a, for both one-sided tails and the two-sided p; one event's cross-event
    p equals its per-event p.
    """
    configs = np.array(list(itertools.product((0.0, 1.0), repeat=3 * n_events)))
    vals = configs.reshape(len(configs), n_events, 3)
    # the enumeration runs along the bar axis: one column per configuration
    ar = vals[:, :, 0].T
    ref = np.moveaxis(vals[:, :, 1:], 0, -1)
    for alt in ("greater", "less", "two-sided"):
        day, _ = rinaudo_saha(ar, ref, alternative=alt)
        p = day.pvalue
        for a in np.unique(p):
            assert np.mean(p <= a + 1e-12) <= a + 1e-12, (alt, a)
        if n_events == 1:
            per = time_of_day_ranks(ar, ref).event_p(alt)[0]
            assert p == pytest.approx(per)
    # the reviewer's case: event 2 tied with the top reference among 4 values
    a1, r1 = np.array([[2.0]]), np.array([[[0.0], [1.0], [2.0]]])
    g, _ = rinaudo_saha(a1, r1, alternative="greater")
    assert g.pvalue[0] == pytest.approx(0.5)  # P(R >= 3) of a uniform rank on 1..4
    assert time_of_day_ranks(a1, r1).event_p("greater")[0, 0] == pytest.approx(0.5)
    assert g.dist == "exact" and bool(g.extra["exact"][0])


def test_null_distribution_is_labelled_as_used():
    """Review of issue 14, defect 11: an exact p-value is not labelled "normal".

    Reference: the rule of the module (exact with at most EXACT_EVENTS events, else
    N(0, 1)); the exact p of 3 events by enumeration with ``itertools.product``.
    """
    from marketreact.inference.intraday import EXACT_EVENTS

    rng = np.random.default_rng(4)
    few, _ = rinaudo_saha(rng.normal(size=(3, 2)), rng.normal(size=(3, 4, 2)))
    assert few.dist == "exact" and few.extra["exact"].all()
    many, _ = rinaudo_saha(rng.normal(size=(EXACT_EVENTS + 5, 2)),
                           rng.normal(size=(EXACT_EVENTS + 5, 4, 2)))
    assert many.dist == "normal" and not many.extra["exact"].any()
    ar = rng.normal(size=(EXACT_EVENTS + 5, 2))
    ar[3:, 1] = np.nan  # the second bar has 3 events: exact there, normal for the first
    ref = rng.normal(size=(EXACT_EVENTS + 5, 4, 2))
    mixed, _ = rinaudo_saha(ar, ref, alternative="greater")
    assert mixed.dist == "exact/normal" and mixed.extra["exact"].tolist() == [False, True]
    ranks = [1 + int((ref[i, :, 1] < ar[i, 1]).sum()) for i in range(3)]
    combos = list(itertools.product(range(1, 6), repeat=3))
    upper = sum(sum(c) >= sum(ranks) for c in combos) / len(combos)
    assert mixed.pvalue[1] == pytest.approx(upper)
