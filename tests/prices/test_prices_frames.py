"""Frames a user builds: normalised by ``standard_frame`` / ``load_prices``, or refused in one line.

The yfinance shapes are built as yfinance 1.7 returns them (tests/yf_frames.py and
DESIGN.md "Facts checked about the dependencies"): ``yf.download`` gives two-level
(``Price``, ``Ticker``) columns even for one ticker and a tz-naive ``Date`` index in
``datetime64[s]``; ``Ticker.history`` gives one level of columns (with ``Dividends`` and
``Stock Splits``) and a tz-aware exchange-local index.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marketreact import events_from_frame, load_prices
from marketreact.errors import InputError
from marketreact.prices import PRICE_COLUMNS, standard_frame
from yf_frames import closes, yf_download_frame

DAYS = pd.bdate_range("2024-01-02", periods=5)
CLOSE = np.array([10.0, 11.0, 12.0, 11.5, 12.5])


def _expected(adj: np.ndarray | None = None, with_ohl: bool = True) -> pd.DataFrame:
    nan = np.full(5, np.nan)
    out = pd.DataFrame({"open": CLOSE - 1 if with_ohl else nan,
                        "high": CLOSE + 1 if with_ohl else nan,
                        "low": CLOSE - 2 if with_ohl else nan,
                        "close": CLOSE, "adj_close": CLOSE if adj is None else adj,
                        "volume": np.arange(5, dtype=float) * 1000 if with_ohl else nan},
                       index=pd.DatetimeIndex(DAYS.astype("datetime64[ns]"), name="date"))
    return out


def _yf_columns(adj_name: str | None = "Adj Close") -> dict[str, np.ndarray]:
    cols = {"Open": CLOSE - 1, "High": CLOSE + 1, "Low": CLOSE - 2, "Close": CLOSE,
            "Volume": np.arange(5) * 1000}
    if adj_name:
        cols[adj_name] = CLOSE * 0.9
    return cols


def test_yfinance_column_names() -> None:
    frame = pd.DataFrame(_yf_columns(), index=pd.DatetimeIndex(DAYS, name="Date"))
    pd.testing.assert_frame_equal(standard_frame(frame, "AAPL"), _expected(CLOSE * 0.9))


@pytest.mark.parametrize("adj_name", ["Adj Close", "adj close", "adjclose", "Adj_Close",
                                      "ADJ CLOSE", "adj_close", "Adjusted Close"])
def test_adjusted_close_spellings(adj_name: str) -> None:
    cols = {k.lower() if adj_name.islower() else k: v for k, v in _yf_columns(None).items()}
    cols[adj_name] = CLOSE * 0.9
    frame = pd.DataFrame(cols, index=DAYS)
    pd.testing.assert_frame_equal(standard_frame(frame), _expected(CLOSE * 0.9))


def test_any_case_of_the_other_columns() -> None:
    frame = pd.DataFrame({"OPEN": CLOSE - 1, "high": CLOSE + 1, "Low": CLOSE - 2,
                          "cLoSe": CLOSE, "VOLUME": np.arange(5) * 1000}, index=DAYS)
    pd.testing.assert_frame_equal(standard_frame(frame), _expected())


def test_auto_adjusted_download_of_one_ticker() -> None:
    # yf.download("GOTO.JK") with the default auto_adjust=True: no Adj Close column
    data = yf_download_frame({"GOTO.JK": closes("2024-01-01", 5)}).drop(columns="Adj Close",
                                                                       level="Price")
    assert data.index.dtype == "datetime64[s]"
    out = standard_frame(data, "GOTO.JK")
    assert list(out.columns) == list(PRICE_COLUMNS)
    assert out.index.dtype == "datetime64[ns]" and out.index.name == "date"
    np.testing.assert_allclose(out["close"], 100 * 1.01 ** np.arange(5))
    np.testing.assert_array_equal(out["adj_close"], out["close"])
    np.testing.assert_allclose(out["open"], out["close"] * 0.99)


def test_download_of_one_ticker_with_adj_close() -> None:
    data = yf_download_frame({"BBCA.JK": closes("2024-01-01", 5)})
    out = standard_frame(data, "BBCA.JK")
    np.testing.assert_allclose(out["adj_close"], out["close"] * 0.98)
    np.testing.assert_allclose(out["volume"], 1e6)


def test_download_of_several_tickers_picks_the_named_one_or_is_refused() -> None:
    data = yf_download_frame({"A": closes("2024-01-01", 5), "B": closes("2024-01-01", 5, 50)})
    np.testing.assert_allclose(standard_frame(data, "b")["close"].iloc[0], 50.0)
    with pytest.raises(InputError, match=r"prices of C: the frame holds 2 tickers \(A, B\)"):
        standard_frame(data, "C")


def test_ticker_history_shape_tz_aware_index_keeps_the_local_date() -> None:
    # yf.Ticker("BBCA.JK").history(): tz-aware exchange-local midnights, extra columns
    index = pd.DatetimeIndex(DAYS, name="Date").tz_localize("Asia/Jakarta")
    frame = pd.DataFrame({**_yf_columns(None), "Dividends": 0.0, "Stock Splits": 0.0},
                         index=index)
    pd.testing.assert_frame_equal(standard_frame(frame, "BBCA.JK"), _expected())
    ny = frame.tz_convert("America/New_York")  # the same moments seen from New York
    assert (standard_frame(ny).index.normalize() != _expected().index).all()


@pytest.mark.parametrize("name", ["date", "Date", "DATE", "Datetime"])
def test_date_column_instead_of_an_index(name: str) -> None:
    frame = pd.DataFrame({name: DAYS, **_yf_columns(None)})  # e.g. after reset_index()
    assert isinstance(frame.index, pd.RangeIndex)
    pd.testing.assert_frame_equal(standard_frame(frame), _expected())
    text = frame.assign(**{name: [str(d.date()) for d in DAYS]})  # read_csv without parsing
    pd.testing.assert_frame_equal(standard_frame(text), _expected())


def test_date_column_with_offsets_that_change_keeps_local_dates() -> None:
    # Ticker.history().reset_index() written to CSV and read back across a DST change
    stamps = ["2024-03-07 00:00:00-05:00", "2024-03-08 00:00:00-05:00",
              "2024-03-11 00:00:00-04:00"]
    frame = pd.DataFrame({"Date": stamps, "Close": [1.0, 2.0, 3.0]})
    out = standard_frame(frame, "SPY")
    assert list(out.index.strftime("%Y-%m-%d")) == ["2024-03-07", "2024-03-08", "2024-03-11"]


def test_index_of_date_strings() -> None:
    frame = pd.DataFrame({"close": CLOSE}, index=[str(d.date()) for d in DAYS])
    out = standard_frame(frame)
    pd.testing.assert_index_equal(out.index, _expected().index)
    np.testing.assert_array_equal(out["adj_close"], CLOSE)


def test_close_only_or_adjusted_close_only() -> None:
    only_adj = standard_frame(pd.DataFrame({"Adj Close": CLOSE}, index=DAYS))
    np.testing.assert_array_equal(only_adj["adj_close"], CLOSE)
    assert only_adj["close"].isna().all()


@pytest.mark.parametrize(("frame", "message"), [
    (pd.DataFrame({"Open": CLOSE, "High": CLOSE, "Volume": CLOSE}, index=DAYS),
     r"^prices of XYZ: no close or adj close column \(columns: Open, High, Volume\)$"),
    (pd.DataFrame({"XYZ": CLOSE}, index=DAYS),  # yf.download(...)["Close"]
     r"^prices of XYZ: no close or adj close column \(columns: XYZ\)$"),
    (pd.DataFrame(), r"^prices of XYZ: no close or adj close column \(columns: none\)$"),
    (pd.DataFrame({"Close": CLOSE}),
     r"^prices of XYZ: the index is not dates \(RangeIndex of int64\); index the frame by "
     r"date or give a date column \(columns: Close\)$"),
    (pd.DataFrame({"Close": CLOSE}, index=[1.0, 2.0, 3.0, 4.0, 5.0]),
     r"the index is not dates \(Index of float64\)"),
    (pd.DataFrame({"Close": CLOSE}, index=list("abcde")),
     r"^prices of XYZ: the index is not dates \(e\.g\. 'a'\); .*\(columns: Close\)$"),
    (pd.DataFrame({"day": DAYS, "Close": CLOSE}), r"RangeIndex of int64.*columns: day, Close"),
    (pd.DataFrame({"Date": ["2024-01-02", "soon", "", "x", "y"], "Close": CLOSE}),
     r"column 'Date' is not dates \(e\.g\. 'soon'\)"),
    (pd.DataFrame({"Close": CLOSE, "close": CLOSE}, index=DAYS),
     r"columns 'Close' and 'close' both hold close"),
    (pd.Series(CLOSE, index=DAYS, name="Close"),
     r"expected a DataFrame of daily prices, got Series \(series.to_frame\('close'\)"),
])
def test_refused_in_one_line_naming_ticker_and_columns(frame: pd.DataFrame, message: str
                                                       ) -> None:
    with pytest.raises(InputError, match=message) as info:
        standard_frame(frame, "XYZ")
    assert len(info.value.problems) == 1 and "\n" not in str(info.value)


def test_refusal_without_a_ticker_names_the_frame() -> None:
    with pytest.raises(InputError, match=r"^price frame: no close"):
        standard_frame(pd.DataFrame({"Open": CLOSE}, index=DAYS))


# --- load_prices with frames ----------------------------------------------------------------


@pytest.fixture
def events() -> object:
    return events_from_frame(pd.DataFrame({
        "event_id": ["e1", "e2"], "ticker": ["AAPL", "GOTO.JK"],
        "date": ["2024-01-04", "2024-01-04"], "timing": ["pre", "pre"],
        "market": ["SPY", "JKSE"]}))


def test_load_prices_normalises_every_yfinance_shape(events: object) -> None:
    index = pd.DatetimeIndex(DAYS, name="Date")
    frames = {
        "AAPL": pd.DataFrame(_yf_columns(), index=index),
        "GOTO.JK": yf_download_frame({"GOTO.JK": closes("2024-01-02", 5)}),
        "SPY": pd.DataFrame({"Date": DAYS, "Close": CLOSE}),
        "JKSE": pd.DataFrame(_yf_columns(None), index=index.tz_localize("Asia/Jakarta")),
        "UNUSED": pd.DataFrame({"nothing": [1]}),  # not named by the events: never looked at
    }
    got = load_prices(frames, events)
    assert set(got.frames) == {"AAPL", "GOTO.JK", "SPY", "JKSE"} and not got.failures
    for frame in got.frames.values():
        assert list(frame.columns) == list(PRICE_COLUMNS)
        pd.testing.assert_index_equal(frame.index, _expected().index)
    np.testing.assert_allclose(got.frames["AAPL"]["adj_close"], CLOSE * 0.9)


def test_load_prices_sorts_with_a_note_and_refuses_a_date_twice(events: object) -> None:
    shuffled = pd.DataFrame({"Close": CLOSE}, index=DAYS[::-1])
    got = load_prices({"AAPL": shuffled, "SPY": shuffled.sort_index()}, events)
    assert got.frames["AAPL"].index.is_monotonic_increasing
    assert "rows sorted" in str(got.notes["AAPL"][0])
    assert got.failures == {"GOTO.JK": "no prices given for GOTO.JK",
                            "JKSE": "no prices given for JKSE"}
    twice = pd.DataFrame({"Close": [1.0, 2.0]}, index=[DAYS[0], DAYS[0]])
    with pytest.raises(InputError, match="prices of SPY, field 'date', value '2024-01-02': "
                                         "date appears more than once"):
        load_prices({"AAPL": shuffled, "SPY": twice}, events)


def test_load_prices_refuses_a_bad_frame_in_one_line(events: object) -> None:
    with pytest.raises(InputError, match=r"^prices of AAPL: no close or adj close column "
                                         r"\(columns: Open, Volume\)$"):
        load_prices({"AAPL": pd.DataFrame({"Open": CLOSE, "Volume": CLOSE}, index=DAYS)},
                    events)
