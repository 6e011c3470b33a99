"""Factor files (Ken French format and plain CSV) and their alignment on sessions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from marketreact import InputError
from marketreact.calendar import TradingSessions, exchange_sessions
from marketreact.panel.factors import align_factors
from marketreact.prices.factors import read_factors

KEN_FRENCH = (
    "This file was created by CMPT_ME_BEME_RETS_DAILY using the 202409 CRSP database.\r\n"
    "The Tbill return is the simple daily rate.\r\n"
    "\r\n"
    ",Mkt-RF,SMB,HML,RF\r\n"
    "20240102,   -0.53,    0.12,   -0.99,   0.021\r\n"
    "20240103,    1.25,  -99.99,    0.40,   0.021\r\n"
    "20240104,   -0.20,   -0.30,    0.10,   0.021\r\n"
    "\r\n"
    "Copyright 2024 Eugene F. Fama and Kenneth R. French\r\n"
)


def test_ken_french_layout(tmp_path: Path) -> None:
    path = tmp_path / "ff3.CSV"
    path.write_bytes(KEN_FRENCH.encode())
    f = read_factors(path)
    assert list(f.columns) == ["mkt_rf", "smb", "hml", "rf"]
    assert list(f.index) == list(pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"]))
    # percent -> decimal, -99.99 -> missing (hand: -0.53 % = -0.0053)
    assert f.loc["2024-01-02", "mkt_rf"] == pytest.approx(-0.0053, abs=1e-15)
    assert f.loc["2024-01-02", "rf"] == pytest.approx(0.00021, abs=1e-15)
    assert np.isnan(f.loc["2024-01-03", "smb"])


def test_the_shared_fama_french_file(shared_data: Path) -> None:
    f = read_factors(shared_data / "factors" / "F-F_Research_Data_Factors_daily.CSV")
    # the file's own header and rows: 25,837 days 1926-07-01 .. 2024-09-30
    assert len(f) == 25_837
    assert f.index[0] == pd.Timestamp("1926-07-01") and f.index[-1] == pd.Timestamp("2024-09-30")
    np.testing.assert_allclose(f.iloc[0].to_numpy(), [0.0010, -0.0025, -0.0027, 0.00009],
                               atol=1e-15)
    np.testing.assert_allclose(f.iloc[-1].to_numpy(), [0.0036, -0.0013, 0.0015, 0.00020],
                               atol=1e-15)
    assert not f.isna().any().any()


def test_plain_csv_and_merging(tmp_path: Path) -> None:
    ff = tmp_path / "ff3.CSV"
    ff.write_bytes(KEN_FRENCH.encode())
    mom = tmp_path / "mom.csv"
    mom.write_text("date,UMD,RF\n2024-01-02,0.004,0.0002\n2024-01-04,-0.002,0.0002\n")
    f = read_factors(ff, mom)
    assert list(f.columns) == ["mkt_rf", "smb", "hml", "rf", "mom"]
    assert f.loc["2024-01-02", "mom"] == pytest.approx(0.004)  # decimal CSV: as written
    assert np.isnan(f.loc["2024-01-03", "mom"])
    assert f.loc["2024-01-02", "rf"] == pytest.approx(0.00021)  # first file's RF kept
    pct = read_factors(mom, percent=True)
    assert pct.loc["2024-01-02", "mom"] == pytest.approx(0.00004)
    with pytest.raises(InputError, match="more than one factor file"):
        read_factors(ff, ff)


def test_bad_factor_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,SMB\n2024-01-02,0.1\n2024-01-03,abc\n")
    with pytest.raises(InputError) as info:
        read_factors(bad)
    problem = info.value.problems[0]
    assert (problem.line, problem.field, problem.value) == (3, "SMB", "abc")
    monthly = tmp_path / "monthly.csv"
    monthly.write_text("text\n\n,Mkt-RF,RF\n202401,   1.00,  0.40\n")
    with pytest.raises(InputError, match="monthly"):
        read_factors(monthly)
    with pytest.raises(InputError, match="file not found"):
        read_factors(tmp_path / "nope.csv")
    baddate = tmp_path / "baddate.csv"
    baddate.write_text("date,SMB\n2024-13-45,0.1\n")
    with pytest.raises(InputError, match="not a date"):
        read_factors(baddate)


def sessions_of(dates: list[str]) -> TradingSessions:
    labels = pd.DatetimeIndex(pd.to_datetime(dates), name="session")
    closes = labels.tz_localize("UTC") + pd.Timedelta(hours=9)
    return TradingSessions("TEST", labels, pd.DatetimeIndex(closes))


def test_alignment_sums_factor_days_since_the_previous_session() -> None:
    # sessions Mon 8, Tue 9, Thu 11, Fri 12, Mon 15, Tue 16 Jan 2024; factor dates Fri 5,
    # Mon 8, Wed 10, Thu 11, Fri 12, Sat 13 (made up), Mon 15: none on Tue 9 (a "holiday" of
    # the factor market).
    sessions = sessions_of(["2024-01-08", "2024-01-09", "2024-01-11", "2024-01-12",
                            "2024-01-15", "2024-01-16"])
    f = pd.DataFrame({"smb": [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]}, index=pd.to_datetime(
        ["2024-01-05", "2024-01-08", "2024-01-10", "2024-01-11", "2024-01-12", "2024-01-13",
         "2024-01-15"]))
    panel = align_factors(f, sessions)
    # Mon 8: its own date only; Tue 9: nothing since Mon -> missing; Thu 11: Wed 10 + Thu 11;
    # Fri 12: 16; Mon 15: Sat 13 + Mon 15 = 96; Tue 16: after the file's last date -> missing
    np.testing.assert_array_equal(panel.values[0], [2.0, np.nan, 12.0, 16.0, 96.0, np.nan])
    span = np.array([1, 1, 2, 3])
    pos = np.array([2, 3, 3, 4])
    # sums over spans: [11], [12], [11..12], [11..15]; a span over the missing Tue is missing
    np.testing.assert_array_equal(panel.span_sum("smb", pos, span), [12.0, 16.0, 28.0, 124.0])
    assert np.isnan(panel.span_sum("smb", np.array([2]), np.array([2]))[0])
    assert np.isnan(panel.span_sum("smb", np.array([0]), np.array([2]))[0])  # before the axis
    with pytest.raises(InputError, match="lack hml"):
        align_factors(f, sessions, ["smb", "hml"])


def test_us_factors_on_idx_sessions(shared_data: Path) -> None:
    """IDX traded on 2023-07-04 (US Independence Day): no US factor that day -> missing."""
    f = read_factors(shared_data / "factors" / "F-F_Research_Data_Factors_daily.CSV")
    sessions = exchange_sessions("XIDX", pd.Timestamp("2023-06-26"), pd.Timestamp("2023-07-10"))
    panel = align_factors(f, sessions, ["mkt_rf"])
    values = pd.Series(panel.values[0], index=sessions.labels)
    assert np.isnan(values["2023-07-04"])
    assert values["2023-07-05"] == pytest.approx(f.loc["2023-07-05", "mkt_rf"])
    # IDX was closed 2023-06-28..30 (Eid al-Adha): Monday 3 July collects US 28, 29, 30 June
    # and 3 July
    expected = f.loc["2023-06-28":"2023-07-03", "mkt_rf"].sum()
    assert values["2023-07-03"] == pytest.approx(expected, abs=1e-15)
