"""The published EventStudyTools SP500Example statistics (tests/reference_eventstudytools.py).

Two routes to the same published numbers:

* the cross-event tests fed by a market model fitted here with plain numpy on the
  three EventStudyTools files (independent of the study pipeline);
* the full pipeline, ``load_eventstudytools`` + ``EventStudy.fit`` (skipped until
  ``marketreact.eventstudytools`` exists).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import reference_eventstudytools as ref
from marketreact.inference.base import TestInputs
from marketreact.inference.battery import cross_event_tests


def _folder(shared_data: Path) -> Path:
    folder = shared_data / "reference" / "eventstudytools_sp500"
    if not folder.is_dir():
        pytest.skip("EventStudyTools SP500 example not present")
    return folder


def _numpy_market_model(folder: Path) -> tuple[list[str], TestInputs]:
    """Market model by OLS over [-130, -11], day 0 = first trading day on/after the date."""
    names = ["id", "firm", "index", "date", "group", "w0", "w1", "est_end", "est_len"]
    req = pd.read_csv(folder / "01_RequestFile.csv", sep=";", header=None, names=names,
                      dtype={"id": str})
    firm = pd.read_csv(folder / "02_FirmData.csv", sep=";", header=None,
                       names=["firm", "date", "close"])
    mkt = pd.read_csv(folder / "03_MarketData.csv", sep=";", header=None,
                      names=["index", "date", "level"])
    for frame in (firm, mkt, req):
        frame["date"] = pd.to_datetime(frame["date"], format="%d.%m.%Y")
    level = mkt.set_index("date")["level"]
    rm = level.pct_change().to_numpy()
    ids, ar, var, est, s2, dfs = [], [], [], [], [], []
    for row in req.itertuples(index=False):
        close = firm.loc[firm["firm"] == row.firm].set_index("date")["close"].reindex(level.index)
        r = close.pct_change().to_numpy()
        d0 = int(level.index.searchsorted(row.date))
        e = np.arange(d0 - 130, d0 - 10)
        w = np.arange(d0 - 2, d0 + 3)
        ok = np.isfinite(r[e]) & np.isfinite(rm[e])
        X = np.c_[np.ones(ok.sum()), rm[e][ok]]
        coef = np.linalg.lstsq(X, r[e][ok], rcond=None)[0]
        resid = r[e][ok] - X @ coef
        sigma2 = resid @ resid / (ok.sum() - 2)
        xe = np.c_[np.ones(5), rm[w]]
        quad = np.einsum("ij,jk,ik->i", xe, np.linalg.inv(X.T @ X), xe)
        full = np.full(130 - 10, np.nan)
        full[ok] = resid
        ids.append(row.id)
        ar.append(r[w] - xe @ coef)
        var.append(sigma2 * (1 + quad))
        est.append(full)
        s2.append(sigma2)
        dfs.append(ok.sum() - 2.0)
    inputs = TestInputs(np.array(ar), np.array(var), np.array(est), np.array(s2),
                        np.array(dfs), (slice(0, 5),))
    return ids, inputs


def test_published_patell_bmp_and_cross_sectional_t(shared_data: Path) -> None:
    ids, inputs = _numpy_market_model(_folder(shared_data))
    adobe = ids.index(ref.ADOBE_EVENT_ID)
    np.testing.assert_allclose(inputs.ar[adobe], ref.ADOBE_AR, atol=ref.TOLERANCE)
    tests = cross_event_tests(inputs, n_boot=0)
    np.testing.assert_allclose(np.mean(inputs.ar, axis=0), ref.AAR, atol=ref.TOLERANCE)
    np.testing.assert_allclose(tests.days["t"].stat, ref.AAR_CROSS_SECTIONAL_T,
                               atol=ref.TOLERANCE)
    np.testing.assert_allclose(tests.days["patell"].stat, ref.PATELL_Z, atol=ref.TOLERANCE)
    np.testing.assert_allclose(tests.days["bmp"].stat, ref.BMP_T, atol=ref.TOLERANCE)
    assert tests.windows["t"].stat[0] == pytest.approx(ref.CAAR_WINDOW_T, abs=ref.TOLERANCE)


def test_published_values_through_the_study_pipeline(shared_data: Path) -> None:
    est = pytest.importorskip("marketreact.events.eventstudytools")
    from marketreact.study.fit import EventStudy
    from marketreact.study.settings import StudySettings

    catalogue, prices, values = est.load_eventstudytools(_folder(shared_data))
    settings = StudySettings(**{**values, "car_windows": (ref.CAAR_WINDOW,), "n_boot": 0})
    result = EventStudy(settings).fit(catalogue, prices)
    aar = result.aar.set_index("rel_day").loc[list(ref.REL_DAYS)]
    np.testing.assert_allclose(aar["aar"], ref.AAR, atol=ref.TOLERANCE)
    np.testing.assert_allclose(aar["caar"], ref.CAAR, atol=ref.TOLERANCE)
    np.testing.assert_allclose(aar["t"], ref.AAR_CROSS_SECTIONAL_T, atol=ref.TOLERANCE)
    np.testing.assert_allclose(aar["patell"], ref.PATELL_Z, atol=ref.TOLERANCE)
    np.testing.assert_allclose(aar["bmp"], ref.BMP_T, atol=ref.TOLERANCE)
    assert result.aggregate["t"].iloc[0] == pytest.approx(ref.CAAR_WINDOW_T, abs=ref.TOLERANCE)
