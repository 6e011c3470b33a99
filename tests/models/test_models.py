"""Every normal-return model against an independent computation on the same numbers.

References: hand computations written out here (constant mean, market-adjusted,
Scholes-Williams 1977 formula), statsmodels OLS (market model, Dimson 1979,
Fama-French / Carhart), statsmodels ``get_prediction(...).se_obs`` for the
forecast-error standard deviation, and the ``arch`` package for GARCH(1,1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from marketreact import EventStudy, InputError, events_from_frame
from marketreact.models.spec import ModelName, model_spec
from marketreact.models.thin import fit_dimson, fit_scholes_williams
from marketreact.windows import WindowData
from model_world import EST, WIN, build_world, one_event

TOL = 1e-10


@pytest.fixture(scope="module")
def world() -> dict:
    return build_world()


def run(world: dict, model: str, **kw):
    res = EventStudy(model=model, estimation=EST, window=WIN, car_windows=((-1, 1),),
                     **kw).fit(one_event(world), world["prices"], factors=world["factors"])
    assert res.failures.empty, res.failures
    return res


def windows(world: dict, pad: tuple[int, int] = (0, 0)) -> tuple[slice, slice]:
    i0 = world["i0"]
    return (slice(i0 + EST[0] - pad[0], i0 + EST[1] + 1 + pad[1]),
            slice(i0 + WIN[0], i0 + WIN[1] + 1))


def ar_of(res) -> np.ndarray:
    return res.abnormal_returns["ar"].to_numpy()


def se_of(res) -> np.ndarray:
    return res.abnormal_returns["ar_se"].to_numpy()


def test_constant_mean_by_hand(world) -> None:
    res = run(world, "constant-mean")
    est, evt = windows(world)
    y = world["R"][est]
    mu, n = y.mean(), len(y)
    s2 = ((y - mu) ** 2).sum() / (n - 1)
    np.testing.assert_allclose(ar_of(res), world["R"][evt] - mu, rtol=0, atol=TOL)
    np.testing.assert_allclose(se_of(res), np.sqrt(s2 * (1 + 1 / n)), rtol=0, atol=TOL)


def test_market_adjusted_by_hand(world) -> None:
    res = run(world, "market-adjusted")
    est, evt = windows(world)
    np.testing.assert_allclose(ar_of(res), world["R"][evt] - world["M"][evt], rtol=0, atol=TOL)
    d = world["R"][est] - world["M"][est]
    np.testing.assert_allclose(se_of(res), np.sqrt((d**2).sum() / len(d)), rtol=0, atol=TOL)


def test_market_model_against_statsmodels(world) -> None:
    res = run(world, "market-model")
    est, evt = windows(world)
    ols = sm.OLS(world["R"][est], sm.add_constant(world["M"][est])).fit()
    x_evt = sm.add_constant(world["M"][evt])
    np.testing.assert_allclose(ar_of(res), world["R"][evt] - ols.predict(x_evt), atol=TOL)
    np.testing.assert_allclose(se_of(res), ols.get_prediction(x_evt).se_obs, atol=TOL)
    row = res.events.iloc[0]
    assert row["alpha"] == pytest.approx(ols.params[0], abs=TOL)
    assert row["beta"] == pytest.approx(ols.params[1], abs=TOL)


def test_scholes_williams_by_hand(world) -> None:
    res = run(world, "scholes-williams")
    est, evt = windows(world)
    i = np.arange(len(world["R"]))[est]
    y, m, lag, lead = world["R"][i], world["M"][i], world["M"][i - 1], world["M"][i + 1]

    def slope(x: np.ndarray) -> float:
        return float(sm.OLS(y, sm.add_constant(x)).fit().params[1])

    rho = np.corrcoef(m, lag)[0, 1]
    beta = (slope(lag) + slope(m) + slope(lead)) / (1 + 2 * rho)
    alpha = y.mean() - beta * m.mean()
    row = res.events.iloc[0]
    assert row["beta"] == pytest.approx(beta, abs=TOL)
    assert row["alpha"] == pytest.approx(alpha, abs=TOL)
    # the lagged reaction built into the stock shows: SW beta exceeds the OLS beta
    assert beta > slope(m) + 0.2
    np.testing.assert_allclose(ar_of(res), world["R"][evt] - alpha - beta * world["M"][evt],
                               atol=TOL)
    resid = y - alpha - beta * m
    s2 = (resid**2).sum() / (len(y) - 2)
    assert row["sigma"] == pytest.approx(np.sqrt(s2), abs=TOL)


def test_dimson_two_lags_one_lead_against_statsmodels(world) -> None:
    res = run(world, "dimson", lags=2, leads=1)
    est, evt = windows(world)
    i = np.arange(len(world["R"]))[est]
    M = world["M"]
    X = sm.add_constant(np.column_stack([M[i - 2], M[i - 1], M[i], M[i + 1]]))
    ols = sm.OLS(world["R"][i], X).fit()
    beta = ols.params[1:].sum()
    alpha = world["R"][i].mean() - beta * M[i].mean()
    row = res.events.iloc[0]
    assert row["model"] == "dimson(2,1)"
    assert row["beta"] == pytest.approx(beta, abs=TOL)
    np.testing.assert_allclose(ar_of(res), world["R"][evt] - alpha - beta * M[evt], atol=TOL)


@pytest.mark.parametrize(("model", "names"), [
    ("ff3", ["mkt_rf", "smb", "hml"]),
    ("ff5", ["mkt_rf", "smb", "hml", "rmw", "cma"]),
    ("carhart4", ["mkt_rf", "smb", "hml", "mom"]),
])
def test_factor_models_against_statsmodels(world, model: str, names: list[str]) -> None:
    res = run(world, model)
    est, evt = windows(world)
    f = world["factors"]
    rf = f["rf"].to_numpy()
    X_est = sm.add_constant(f[names].to_numpy()[est])
    X_evt = sm.add_constant(f[names].to_numpy()[evt])
    ols = sm.OLS(world["R"][est] - rf[est], X_est).fit()
    expected = rf[evt] + ols.predict(X_evt)
    np.testing.assert_allclose(res.abnormal_returns["expected"], expected, atol=TOL)
    np.testing.assert_allclose(ar_of(res), world["R"][evt] - expected, atol=TOL)
    np.testing.assert_allclose(se_of(res), ols.get_prediction(X_evt).se_obs, atol=TOL)
    row = res.events.iloc[0]
    assert row["alpha"] == pytest.approx(ols.params[0], abs=TOL)
    for j, name in enumerate(names, start=1):
        assert row[f"b_{name}"] == pytest.approx(ols.params[j], abs=TOL)


def test_garch_against_arch(world) -> None:
    arch = pytest.importorskip("arch")
    res = run(world, "garch")
    est, evt = windows(world)
    i = np.arange(len(world["R"]))
    y_est, m_est = 100 * world["R"][est], 100 * world["M"][est]
    model = arch.arch_model(y_est, x=m_est[:, None], mean="LS", vol="GARCH", p=1, q=1,
                            rescale=False)
    fitted = model.fit(disp="off", show_warning=False, options={"maxiter": 1000})
    const, beta = fitted.params.iloc[0], fitted.params.iloc[1]
    row = res.events.iloc[0]
    assert row["alpha"] == pytest.approx(const / 100, abs=1e-12)
    assert row["beta"] == pytest.approx(beta, abs=1e-12)
    # the event window is adjacent to the estimation window: filter the conditional
    # variance through both with the estimated parameters (arch's fix), then read the
    # event days
    full = np.r_[i[est], i[evt]]
    whole = arch.arch_model(100 * world["R"][full], x=100 * world["M"][full][:, None],
                            mean="LS", vol="GARCH", p=1, q=1, rescale=False)
    cond_vol = whole.fix(fitted.params.to_numpy()).conditional_volatility[-21:] / 100
    np.testing.assert_allclose(se_of(res), cond_vol, rtol=1e-9)
    ar = world["R"][evt] - const / 100 - beta * world["M"][evt]
    np.testing.assert_allclose(ar_of(res), ar, atol=TOL)
    # CAR[-1,+1]: uncorrelated ARs, variance the sum of the conditional variances
    car = res.car.iloc[0]
    assert car["car_se"] == pytest.approx(np.sqrt((cond_vol[9:12] ** 2).sum()), rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(shift=st.floats(-0.01, 0.01), seed=st.integers(0, 10_000))
def test_adding_a_constant_changes_only_alpha(shift: float, seed: int) -> None:
    """Invariance: R + c leaves SW and Dimson betas and every residual unchanged."""
    rng = np.random.default_rng(seed)
    L = 120
    m = rng.normal(0, 0.01, (3, L + 4))
    y = 0.7 * m[:, 2:-2] + 0.3 * m[:, 1:-3] + rng.normal(0, 0.01, (3, L))
    for name, fit in (("scholes-williams", fit_scholes_williams), ("dimson", fit_dimson)):
        spec = model_spec(name, lags=2, leads=1)
        cols = {"const": np.ones((3, L))}
        for c in spec.estimation_columns[1:]:
            k = 0 if c == "market" else int(c[len("market["):-1])
            cols[c] = m[:, 2 + k:2 + k + L]
        X = np.stack([cols[c] for c in spec.estimation_columns], axis=-1)
        span, valid = np.ones((3, L), dtype=np.int64), np.ones((3, L), dtype=bool)
        a = fit(WindowData(y, span, X, valid), spec)
        b = fit(WindowData(y + shift, span, X, valid), spec)
        np.testing.assert_allclose(b.coef[:, 1], a.coef[:, 1], atol=1e-9)
        np.testing.assert_allclose(b.coef[:, 0], a.coef[:, 0] + shift, atol=1e-9)
        np.testing.assert_allclose(b.residuals, a.residuals, atol=1e-9)


def test_model_names_and_specs() -> None:
    assert [m.value for m in ModelName] == [
        "constant-mean", "market-adjusted", "market-model", "scholes-williams", "dimson",
        "ff3", "ff5", "carhart4", "garch"]
    spec = model_spec("dimson", lags=3, leads=0)
    assert spec.extra == ("market[-3]", "market[-2]", "market[-1]")
    assert model_spec("carhart4").factors == ("mkt_rf", "smb", "hml", "mom", "rf")
    assert not model_spec("ff3").uses_market
    assert model_spec("scholes-williams").uses_market


def test_factor_model_without_factors_is_a_clear_error(world) -> None:
    with pytest.raises(InputError, match=r"needs daily factors .*--factors"):
        EventStudy(model="ff5").fit(one_event(world), world["prices"])
    with pytest.raises(InputError, match="needs factor"):
        EventStudy(model="carhart4").fit(one_event(world), world["prices"],
                                         factors=world["factors"].drop(columns=["mom"]))


def test_missing_price_policy_drop_or_fail(world) -> None:
    days = world["days"]
    i0 = world["i0"]
    thin = world["prices"]["AAA"].drop([days[i0 - 200], days[i0 - 120], days[i0 + 3]])
    prices = {**world["prices"], "AAA": thin}
    ev = one_event(world)
    kept = EventStudy(estimation=EST, window=WIN).fit(ev, prices)
    assert kept.failures.empty
    # two missing sessions in the estimation window cost 4 returns (missing + spanning)
    assert kept.events.loc[0, "n_estimation"] == 240 - 4
    ar = kept.abnormal_returns.set_index("rel_day")
    assert np.isnan(ar.loc[3, "ar"]) and ar.loc[4, "span"] == 2
    # the spanning return is compared with the market over both sessions
    i = np.arange(len(days))
    r_span = thin["close"].iloc[np.searchsorted(thin.index, days[i0 + 4])] / thin["close"].iloc[
        np.searchsorted(thin.index, days[i0 + 2])] - 1
    m = world["M"]
    row = kept.events.iloc[0]
    expected = 2 * row["alpha"] + row["beta"] * (m[i[i0 + 3]] + m[i[i0 + 4]])
    assert ar.loc[4, "ar"] == pytest.approx(r_span - expected, abs=TOL)
    failed = EventStudy(estimation=EST, window=WIN, missing="fail").fit(ev, prices)
    assert failed.events.empty
    reason = failed.failures.loc[0, "reason"]
    # 4 in the estimation window, day +3 (no price) and day +4 (a two-session return)
    assert "policy 'fail'" in reason and "6 session(s)" in reason
    assert str(days[i0 - 200].date()) in reason and "day -200" in reason


def test_short_estimation_for_a_recent_ipo(prices_dir) -> None:
    """GOTO.JK listed on 2022-04-11: an event in September 2022 has ~100 returns."""
    from marketreact.prices import CsvSource, load_prices

    ev = events_from_frame(pd.DataFrame([{"event_id": "goto-2022", "ticker": "GOTO.JK",
                                          "date": "2022-09-15", "timing": "intra"}]))
    src = load_prices(CsvSource(prices_dir), ev, before=250, after=10)
    strict = EventStudy().fit(ev, src)
    assert "need 120" in strict.failures.loc[0, "reason"]
    res = EventStudy(min_estimation=60).fit(ev, src)
    assert res.failures.empty
    n = int(res.events.loc[0, "n_estimation"])
    start = pd.Timestamp(res.events.loc[0, "estimation_start"])
    assert 60 <= n < 120
    assert start < pd.Timestamp("2022-04-11")  # the window reaches back before the IPO


def test_factor_data_that_end_too_early_fail_with_the_coverage(world) -> None:
    short = world["factors"].loc[:"2022-09-30"]
    res = EventStudy(model="ff3", estimation=EST, window=WIN).fit(
        one_event(world), world["prices"], factors=short)
    i0, days = world["i0"], world["days"]
    est_days = days[i0 + EST[0]:i0 + EST[1] + 1]
    n = int((est_days <= pd.Timestamp("2022-09-30")).sum())
    reason = res.failures.loc[0, "reason"]
    assert f"only {n} estimation returns" in reason
    assert "factor data cover 2021-01-04 .. 2022-09-30" in reason
