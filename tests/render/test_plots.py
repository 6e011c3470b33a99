"""Plots: the numbers drawn are the numbers computed, checked against independent references."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.image import imread
from scipy import stats

from marketreact.events.catalogue import read_events
from marketreact.output.files import safe_name, save_figure
from marketreact.output.study import write_study_plots
from marketreact.prices import CsvSource, PriceFetch, load_prices
from marketreact.render.figures import (
    caar_band,
    caar_figure,
    car_bars_figure,
    equity_figure,
    event_price_figure,
    rejection_figure,
)
from marketreact.study.fit import EventStudy
from marketreact.study.results import StudyResult


def _abnormal(seed: int = 1, n_events: int = 7, days: tuple[int, int] = (-2, 2)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rel = np.arange(days[0], days[1] + 1)
    rows = []
    for e in range(n_events):
        ar = rng.normal(0.001 * e, 0.02, len(rel))
        se = np.full(len(rel), 0.02)
        rows.append(pd.DataFrame({"event_id": f"e{e}", "rel_day": rel, "ar": ar, "ar_se": se,
                                  "car": np.cumsum(ar)}))
    return pd.concat(rows, ignore_index=True)


def _goto_prices(prices_dir: Path, goto_events: Path) -> PriceFetch:
    """The GoTo catalogue's prices, loaded for the default windows ([-250, -11], [-10, 10])."""
    return load_prices(CsvSource(prices_dir), read_events(goto_events), before=250, after=10)


@pytest.fixture(scope="module")
def goto_result(goto_events: Path, prices_dir: Path) -> StudyResult:
    return EventStudy().fit(read_events(goto_events), _goto_prices(prices_dir, goto_events))


# --------------------------------------------------------------------------- CAAR


def test_caar_band_is_the_cross_sectional_t_interval_of_scipy() -> None:
    ab = _abnormal()
    band = caar_band(ab)
    for day, row in band.set_index("rel_day").iterrows():
        cars = ab.loc[ab["rel_day"] == day, "car"].to_numpy()
        ci = stats.ttest_1samp(cars, 0.0).confidence_interval(0.95)
        assert row["caar"] == pytest.approx(cars.mean(), rel=1e-12)
        assert row["lo"] == pytest.approx(ci.low, rel=1e-10)
        assert row["hi"] == pytest.approx(ci.high, rel=1e-10)
        assert row["n"] == 7
    # With no missing AR, the CAAR is the running sum of the daily AAR (the study's aar.csv).
    aar = ab.groupby("rel_day")["ar"].mean()
    np.testing.assert_allclose(band["caar"], np.cumsum(aar.to_numpy()), rtol=1e-12)
    np.testing.assert_allclose(band["aar"], aar.to_numpy(), rtol=1e-12)


def test_caar_band_counts_only_events_with_a_car() -> None:
    ab = _abnormal(n_events=4)
    ab.loc[(ab["event_id"] == "e0") & (ab["rel_day"] == 1), "car"] = np.nan
    band = caar_band(ab).set_index("rel_day")
    assert band.loc[1, "n"] == 3 and band.loc[0, "n"] == 4
    cars = ab.loc[(ab["rel_day"] == 1) & (ab["event_id"] != "e0"), "car"]
    ci = stats.ttest_1samp(cars, 0.0).confidence_interval(0.95)
    assert band.loc[1, "lo"] == pytest.approx(ci.low, rel=1e-10)


def test_caar_figure_draws_the_caar_in_percent_with_its_band() -> None:
    ab = _abnormal()
    band = caar_band(ab)
    fig = caar_figure(ab)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    line = ax.lines[0]
    np.testing.assert_allclose(line.get_xdata(), [-2, -1, 0, 1, 2])
    np.testing.assert_allclose(line.get_ydata(), band["caar"] * 100)
    poly = next(c for c in ax.collections if isinstance(c, PolyCollection))
    ys = poly.get_paths()[0].vertices[:, 1]
    assert ys.max() == pytest.approx(band["hi"].max() * 100)
    assert ys.min() == pytest.approx(band["lo"].min() * 100)
    bars = next(c for c in ax.containers if isinstance(c, BarContainer))
    np.testing.assert_allclose(bars.datavalues, band["aar"] * 100)
    assert "Event day" in ax.get_xlabel()
    # the ticks carry the "%": the axis label does not repeat it
    assert ax.yaxis.get_major_formatter()(1.0, 0).endswith("%")
    assert ax.get_ylabel() == "Abnormal return"
    assert "7 events" in ax.get_title()


# --------------------------------------------------------------------------- AR / CAR bars


def test_car_bars_show_day0_ar_and_car_with_t_intervals() -> None:
    ab = _abnormal(n_events=3)
    car = pd.DataFrame({"event_id": ["e0", "e1", "e2"], "window": "[-1,+1]",
                        "car": [0.05, -0.02, 0.01], "car_se": [0.01, 0.02, 0.03],
                        "df": [10, 20, 30]})
    fig = car_bars_figure(ab, car)
    ax = fig.axes[0]
    ar_bars, car_bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    day0 = ab.loc[ab["rel_day"] == 0, "ar"].to_numpy()
    np.testing.assert_allclose(ar_bars.datavalues, day0 * 100)
    np.testing.assert_allclose(car_bars.datavalues, [5, -2, 1])
    # Whiskers: car ± t(0.975, df) * se, hand-built from scipy's t quantiles.
    half = np.array([0.01, 0.02, 0.03]) * stats.t.ppf(0.975, [10, 20, 30]) * 100
    segments = [s for c in ax.collections for s in getattr(c, "get_segments", list)()]
    spans = sorted(round(abs(s[1][0] - s[0][0]) / 2, 9) for s in segments)
    for h in half:
        assert any(abs(h - s) < 1e-6 for s in spans)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["e0", "e1", "e2"]
    assert "[-1,+1]" in ax.get_title()


def test_car_bars_keep_the_extremes_of_many_events() -> None:
    n = 80
    ab = pd.DataFrame({"event_id": [f"e{i}" for i in range(n)], "rel_day": 0,
                       "ar": np.linspace(-1, 1, n) / 10})
    car = pd.DataFrame({"event_id": [f"e{i}" for i in range(n)], "window": "[0,0]",
                        "car": np.linspace(-1, 1, n) / 10})
    ax = car_bars_figure(ab, car, max_events=10).axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [f"e{i}" for i in (0, 1, 2, 3, 4, 75, 76, 77, 78, 79)]
    assert "5 lowest and 5 highest of 80" in ax.get_title()
    with pytest.raises(ValueError, match="not in the table"):
        car_bars_figure(ab, car, window="[-9,+9]")


# --------------------------------------------------------------------------- prices


def test_event_price_figure_rebases_to_the_session_before_day0() -> None:
    dates = pd.to_datetime(["2023-12-06", "2023-12-07", "2023-12-08", "2023-12-11",
                            "2023-12-12"])
    ab = pd.DataFrame({"event_id": "deal", "rel_day": [-3, -2, -1, 0, 1],
                       "date": dates.strftime("%Y-%m-%d"),
                       "price": [92.0, 95.0, 108.0, 86.0, 94.0],
                       "market_price": [7087.4, 7134.6, 7159.6, 7088.8, 7125.3],
                       "ar": [0.0, 0.0, 0.0, -0.176, 0.0]})
    events = pd.DataFrame({"event_id": ["deal"], "ticker": ["GOTO.JK"], "market": ["^JKSE"],
                           "headline": ["TikTok takes 75.01% of Tokopedia for $840M"]})
    fig = event_price_figure(ab, "deal", events)
    ax = fig.axes[0]
    stock, market = ax.lines[0], ax.lines[1]
    # Hand computation: 86 / 108 * 100 = 79.6296..., 7088.8 / 7159.6 * 100 = 99.0111...
    np.testing.assert_allclose(stock.get_ydata(), [92 / 1.08, 95 / 1.08, 100, 8600 / 108,
                                                   9400 / 108])
    assert market.get_ydata()[3] == pytest.approx(708880 / 7159.6)
    assert stock.get_label() == "GOTO.JK" and market.get_label() == "^JKSE"
    day0 = [ln for ln in ax.lines if ln.get_label().startswith("day 0")]
    assert day0 and "2023-12-11" in day0[0].get_label() and "-17.6%" in day0[0].get_label()
    # the x axis counts trading sessions (no room for weekends), each labelled with its date
    assert day0[0].get_xdata()[0] == 0
    fig.canvas.draw()
    ticks = {t.get_position()[0]: t.get_text() for t in ax.get_xticklabels()}
    assert "11 Dec 23" in ticks[0] and "08 Dec 23" in ticks[-1]
    assert list(stock.get_xdata()) == [-3, -2, -1, 0, 1]
    assert "$840M" in ax.get_title().replace("\\$", "$")
    assert "session" in ax.get_xlabel() and "rebased" in ax.get_ylabel()
    fig.canvas.draw()  # a "$" in a headline must not break the rendering (mathtext)
    with pytest.raises(ValueError, match="not in the table"):
        event_price_figure(ab, "nope")


# --------------------------------------------------------------------------- backtests


def _daily() -> pd.DataFrame:
    equity = np.array([1.0, 1.1, 0.99, 1.045, 1.21, 1.15])
    return pd.DataFrame({"date": pd.bdate_range("2024-01-01", periods=6).strftime("%Y-%m-%d"),
                         "equity": equity, "return": np.r_[0, equity[1:] / equity[:-1] - 1],
                         "exposure": [0, 1, 1, 0.5, 1, 0], "n_positions": [0, 2, 2, 1, 2, 0]})


def test_equity_figure_computes_the_drawdown_when_absent() -> None:
    fig = equity_figure(_daily())
    ax_eq, ax_dd, ax_n = fig.axes
    np.testing.assert_allclose(ax_eq.lines[0].get_ydata(), _daily()["equity"])
    # Hand computation: peaks 1, 1.1, 1.1, 1.1, 1.21, 1.21.
    expected = np.array([0, 0, 0.99 / 1.1 - 1, 1.045 / 1.1 - 1, 0, 1.15 / 1.21 - 1]) * 100
    np.testing.assert_allclose(ax_dd.lines[0].get_ydata(), expected, atol=1e-12)
    np.testing.assert_allclose(ax_n.lines[0].get_ydata(), [0, 2, 2, 1, 2, 0])
    # the drawdown axis says % once, on its ticks (not again in the label)
    fig.canvas.draw()
    assert ax_n.get_xlabel() == "Date" and ax_dd.get_ylabel() == "Drawdown"
    assert all(t.get_text().endswith("%") for t in ax_dd.get_yticklabels() if t.get_text())
    assert "Equity" in ax_eq.get_ylabel()
    assert "1 → 1.15 (+15.0% from the first day)" in ax_eq.get_title()
    assert "max drawdown -10.0%" in ax_eq.get_title()
    # The x axis carries dates: the first tick label is a date, not a number.
    fig.canvas.draw()
    ticks = [t.get_text() for t in ax_n.get_xticklabels() if t.get_text()]
    assert ticks and any(m in " ".join(ticks) for m in ("Jan", "2024", "01"))


def test_equity_figure_uses_a_given_drawdown_of_either_sign() -> None:
    daily = _daily().drop(columns="n_positions")
    daily["drawdown"] = [0, 0, 0.1, 0.05, 0, 0.0496]  # given as positive depths
    fig = equity_figure(daily)
    assert len(fig.axes) == 2
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(),
                               [0, 0, -10, -5, 0, -4.96])


# --------------------------------------------------------------------------- validation


def _rates() -> pd.DataFrame:
    rows = []
    for panel in ("US", "IDX"):
        for design, levels in (("random", (0, 0.005, 0.01, 0.02)), ("clustered", (0,))):
            for k, test in enumerate(("t", "bmp", "corrado")):
                for a in levels:
                    for alt in ("two-sided", "greater"):
                        rate = 0.05 + 0.01 * k + 40 * a if design == "random" else 0.2
                        rate = min(rate, 1.0)
                        rows.append({"panel": panel, "design": design, "test": test,
                                     "abnormal": a, "alternative": alt,
                                     "rejection_rate": rate, "n_samples": 1000,
                                     "band_lo": max(rate - 0.0135, 0),
                                     "band_hi": min(rate + 0.0135, 1)})
    return pd.DataFrame(rows)


def test_rejection_figure_draws_size_and_power() -> None:
    rates = _rates()
    fig = rejection_figure(rates)
    axes = np.array(fig.axes[:6]).reshape(2, 3)  # panels x (size random, size clustered, power)
    size = axes[0, 0]
    dots = [ln for ln in size.lines if ln.get_marker() == "o"]
    np.testing.assert_allclose([d.get_xdata()[0] for d in dots], [5, 6, 7])
    assert [t.get_text() for t in size.get_yticklabels()] == ["t", "bmp", "corrado"]
    assert any(ln.get_xdata()[0] == pytest.approx(5) for ln in size.lines
               if ln.get_linestyle() == "--")
    assert size.get_title() == "US · random: size (two-sided), 1,000 samples"
    clustered = axes[0, 1]
    np.testing.assert_allclose([d.get_xdata()[0] for d in clustered.lines
                                if d.get_marker() == "o"], [20, 20, 20])
    power = axes[1, 2]
    assert power.get_title() == "IDX · random: power (two-sided)"
    first = power.lines[0]
    np.testing.assert_allclose(first.get_xdata(), [0, 0.5, 1, 2])
    np.testing.assert_allclose(first.get_ydata(), [5, 25, 45, 85])
    assert power.get_ylim() == (0, 100)


def test_rejection_figure_checks_its_input() -> None:
    bad = _rates().assign(rejection_rate=5.0)
    with pytest.raises(ValueError, match="fraction"):
        rejection_figure(bad)
    with pytest.raises(ValueError, match="needs the column"):
        rejection_figure(_rates().drop(columns="test"))
    # All alternatives at once: series are labelled test (alternative).
    fig = rejection_figure(_rates(), alternative=None)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "bmp (greater)" in labels


# --------------------------------------------------------------------------- files


def test_save_figure_writes_a_png_atomically(tmp_path: Path) -> None:
    path = save_figure(caar_figure(_abnormal()), tmp_path / "sub" / "caar.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width = imread(path).shape[:2]
    assert (width, height) == (880, 506)  # 8 x 4.6 inches at 110 dpi
    assert [p.name for p in path.parent.iterdir()] == ["caar.png"]  # no temporary left


def test_safe_name() -> None:
    assert safe_name("deal-GOTO") == "deal-GOTO"
    assert safe_name("a/b c:d") == "a_b_c_d"
    assert safe_name("..") == "event"


def test_goto_study_plots(goto_result: StudyResult, tmp_path: Path) -> None:
    written = write_study_plots(goto_result.abnormal_returns, goto_result.car,
                                goto_result.events, tmp_path)
    assert set(written) == {"caar", "car_bars"} | {
        f"price_{e}" for e in goto_result.events["event_id"]}
    # The CAAR drawn on day +10 is the study's own CAAR (aar.csv): no event misses an AR.
    fig = goto_result.plot()
    y = fig.axes[0].lines[0].get_ydata()
    assert y[-1] == pytest.approx(goto_result.aar["caar"].iloc[-1] * 100, rel=1e-9)
    # The price plot of the formal deal: GOTO closed at 86 on 2023-12-11 after 108 (-20.37%).
    deal = goto_result.abnormal_returns.query("event_id == 'deal-GOTO' and rel_day in (-1, 0)")
    assert deal["price"].tolist() == [108.0, 86.0]
    price_fig = goto_result.plot("price", event_id="deal-GOTO")
    stock = price_fig.axes[0].lines[0].get_ydata()
    assert stock[10] == pytest.approx(86 / 108 * 100)
    assert isinstance(goto_result.plot("car"), Figure)
    with pytest.raises(ValueError, match="unknown plot kind"):
        goto_result.plot("pie")
    few = write_study_plots(goto_result.abnormal_returns, None, None, tmp_path / "few",
                            max_price_plots=2)
    assert sorted(few) == ["caar", "price_shop-closure-BUKA", "price_shop-closure-GOTO"]


def test_price_plot_names_never_collide(tmp_path: Path) -> None:
    rows = [{"event_id": eid, "rel_day": d, "date": f"2024-01-0{d + 3}", "ar": 0.0,
             "car": 0.0, "price": 10.0 + d, "market_price": 100.0}
            for eid in ("a/b", "a:b") for d in (-1, 0, 1)]
    written = write_study_plots(pd.DataFrame(rows), None, None, tmp_path)
    assert sorted(written) == ["caar", "price_a_b", "price_a_b_2"]
    assert len(list(tmp_path.glob("price_*.png"))) == 2


def test_volume_and_volatility_plots_name_their_measure() -> None:
    # Issue 18: a volume study's CAAR plot was titled "abnormal return" with a +-1500 % axis.
    from marketreact.panel.measures import measure_words

    rng = np.random.default_rng(3)
    rows = [{"event_id": f"e{i}", "rel_day": d, "ar": a, "ar_se": 0.5, "price": 10.0,
             "date": pd.Timestamp("2024-01-10") + pd.Timedelta(days=d + 2)}
            for i in range(5) for d, a in zip(range(-2, 3), rng.normal(0, 0.4, 5), strict=True)]
    ab = pd.DataFrame(rows)
    ab["car"] = ab.groupby("event_id")["ar"].cumsum()
    car = pd.DataFrame({"event_id": [f"e{i}" for i in range(5)], "window": "[-1,+1]",
                        "car": rng.normal(0, 1, 5), "car_se": 0.8, "df": 100})
    volume = measure_words("volume")
    ax = caar_figure(ab, words=volume).axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), caar_band(ab)["caar"])  # not x100
    assert ax.get_ylabel() == "Abnormal log volume (log points)"
    assert "abnormal log volume" in ax.get_title() and "CAV" in ax.get_title()
    assert next(t.get_text() for t in ax.get_legend().get_texts()) == "CAAV"
    assert not ax.yaxis.get_major_formatter()(1.0, 0).endswith("%")
    bars = car_bars_figure(ab, car, words=measure_words("volatility")).axes[0]
    assert "AVOL" in bars.get_title() and "CAVOL[-1,+1]" in bars.get_title()
    assert bars.get_xlabel().startswith("Abnormal volatility")
    price = event_price_figure(ab, "e0", words=volume).axes[0]
    assert any("(AV " in t.get_text() for t in price.get_legend().get_texts())
