"""Issue 17: the Arrow catalogue validation gives what the implementation before it gave.

Reference: the implementation before issue 17, copied below as ``_before_*`` (every frame
column turned to text, datetime columns included; the plain-CSV splitter of Python
strings; one ``DataFrame`` of stripped text; ``pandas.to_datetime`` on the whole
columns; sentiment words mapped on every row). Frames (columns, dtypes, values),
problems (file, line, field, value, message), notes, attributes and renamed columns
must be identical, on catalogues with bad rows of every kind, from a DataFrame and from
CSV (the Arrow reader of plain CSV and the csv module for quoted fields).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marketreact.calendar import TIMINGS, exchange_for_ticker, normalise_exchange
from marketreact.errors import InputError, InputProblem
from marketreact.events import catalogue as cat
from marketreact.events.catalogue import (
    _NAIVE,
    _SENTIMENT_WORDS,
    _SPACE,
    _WITH_OFFSET,
    OPTIONAL,
    REQUIRED,
    YEARS,
    EventCatalogue,
    _matches,
    _rename_reserved,
    _year_in_range,
    events_from_frame,
    read_events,
)

# --- the reference: the implementation before issue 17 ------------------------------

def _before_from_columns(header, columns, lines, source, strict, problems):
    rows = lines
    header = [h.strip().lower() if h.strip().lower() in REQUIRED + OPTIONAL else h.strip()
              for h in header]
    if problems and not rows:
        raise InputError(problems)
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InputError([InputProblem(source, 1, d, None, "column appears more than once")
                          for d in dupes])
    header, renamed = _rename_reserved(header, source)
    notes = tuple(f"column {old!r} of the catalogue renamed to {new!r} (the name of a "
                  "computed column)" for old, new in renamed)
    missing = [c for c in REQUIRED if c not in header]
    if "timestamp" not in header and "date" not in header:
        missing.append("timestamp or date")
    if missing:
        raise InputError([InputProblem(source, 1, m, None, "required column is missing")
                          for m in missing])
    if not rows and not problems:
        raise InputError([InputProblem(source, 1, None, None,
                                       "no events: the file has a header but no rows")])
    raw = pd.DataFrame({i: pd.Series(np.asarray(col, dtype=object), dtype=object)
                        for i, col in enumerate(columns)})
    raw.columns = header
    raw = raw.fillna("")
    raw = raw.apply(lambda s: s.astype(str).str.strip())
    line_arr = np.asarray(lines, dtype=np.int64)
    bad = np.zeros(len(raw), dtype=bool)
    if problems:
        where = {line: i for i, line in enumerate(lines)}
        bad[[where[p.line] for p in problems if p.line in where]] = True

    def flag(mask, column, message):
        for idx in np.flatnonzero(mask):
            problems.append(InputProblem(source, int(line_arr[idx]), column,
                                         raw.at[idx, column], message))
        bad[mask] = True

    for col in REQUIRED:
        flag((raw[col] == "").to_numpy(), col, "value is empty")
    ticker = raw["ticker"].str.upper()
    flag(_matches(ticker, _SPACE, search=True), "ticker", "ticker contains spaces")
    ts_text = raw["timestamp"] if "timestamp" in raw else pd.Series("", index=raw.index)
    date_text = raw["date"] if "date" in raw else pd.Series("", index=raw.index)
    has_ts = (ts_text != "").to_numpy()
    has_date = (date_text != "").to_numpy()
    flag(~has_ts & ~has_date, "timestamp" if "timestamp" in raw else "date",
         "event has neither a timestamp nor a date")
    shaped_ts = _matches(ts_text, _WITH_OFFSET)
    naive = has_ts & _matches(ts_text, _NAIVE)
    flag(naive, "timestamp",
         "timestamp has no UTC offset; write it as e.g. 2023-12-05T10:30:00+07:00 or ...Z")
    timestamps = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    if has_ts.any():
        far = has_ts & ~_year_in_range(ts_text)
        flag(far, "timestamp", f"year out of range ({YEARS[0]}-{YEARS[1]})")
        shaped_ts = shaped_ts & ~far
        parsed = pd.to_datetime(ts_text.where(shaped_ts, None), format="ISO8601",
                                utc=True, errors="coerce")
        flag(has_ts & ~naive & ~far & (~shaped_ts | parsed.isna().to_numpy()), "timestamp",
             "not an ISO 8601 timestamp with a UTC offset (e.g. 2023-12-05T10:30:00+07:00)")
        timestamps = parsed.astype("datetime64[ns, UTC]")
    dates = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    need_date = has_date & ~has_ts
    if need_date.any():
        shaped = _matches(date_text, cat._ISO_DATE)
        far_d = need_date & shaped & ~_year_in_range(date_text)
        flag(far_d, "date", f"year out of range ({YEARS[0]}-{YEARS[1]})")
        shaped = shaped & ~far_d
        parsed_d = pd.to_datetime(date_text.where(need_date & shaped, None), format="%Y-%m-%d",
                                  errors="coerce")
        flag(need_date & ~far_d & (~shaped | parsed_d.isna().to_numpy()), "date",
             "not a date in YYYY-MM-DD form")
        dates = parsed_d.astype("datetime64[ns]")
    timing = (raw["timing"].str.lower() if "timing" in raw
              else pd.Series("", index=raw.index)).replace("", "unknown")
    flag(need_date & ~timing.isin(TIMINGS).to_numpy(), "timing",
         f"timing must be one of {', '.join(TIMINGS)}")
    timing = timing.where(need_date, "")
    codes, uniques = pd.factorize(ticker)
    by_ticker = np.array([exchange_for_ticker(t) or "" for t in uniques] + [""], dtype=object)
    exchange = pd.Series(by_ticker[codes], index=raw.index)
    if "exchange" in raw:
        given = raw["exchange"] != ""
        codes, uniques = pd.factorize(raw["exchange"])
        norm = [normalise_exchange(v) if v else "" for v in uniques]
        mapped = pd.Series(np.array([*norm, ""], dtype=object)[codes], index=raw.index)
        flag((given & mapped.isna()).to_numpy(), "exchange",
             "unknown exchange (use a MIC such as XIDX or XNYS)")
        exchange = exchange.where(~given, mapped.fillna(""))
    named = (raw["exchange"] != "").to_numpy() if "exchange" in raw else np.zeros(len(raw), bool)
    flag((exchange == "").to_numpy() & (ticker != "").to_numpy() & ~named, "ticker",
         "cannot tell the exchange from the ticker suffix; add an 'exchange' column")
    sentiment = None
    if "sentiment" in raw:
        words = raw["sentiment"].str.lower().map(_SENTIMENT_WORDS)
        numbers = pd.to_numeric(raw["sentiment"], errors="coerce")
        sentiment = numbers.fillna(words)
        flag(((raw["sentiment"] != "") & sentiment.isna()).to_numpy(), "sentiment",
             "sentiment must be a number or positive/negative/neutral")
    ids = raw["event_id"]
    flag(ids.duplicated(keep="first").to_numpy() & (ids != "").to_numpy(), "event_id",
         "duplicate event_id")
    out = pd.DataFrame({
        "event_id": ids, "ticker": ticker, "exchange": exchange,
        "market": (raw["market"].str.upper() if "market" in raw
                   else pd.Series("", index=raw.index)),
        "timestamp": timestamps, "date": dates, "timing": timing, "line": line_arr,
    })
    for col in ("headline", "source", "url"):
        if col in raw:
            out[col] = raw[col]
    if sentiment is not None:
        out["sentiment"] = sentiment.astype(float)
    extras = [c for c in raw.columns if c not in REQUIRED + OPTIONAL]
    for col in extras:
        numeric = pd.to_numeric(raw[col].replace("", None), errors="coerce")
        all_numeric = bool((numeric.notna() | (raw[col] == "")).all()) and numeric.notna().any()
        out[col] = numeric.astype(float) if all_numeric else raw[col]
    problems.sort(key=lambda p: p.line or 0)
    if strict and problems:
        raise InputError(problems)
    frame = out.loc[~bad].reset_index(drop=True)
    return EventCatalogue(frame, tuple(problems), source, tuple(extras), notes, tuple(renamed))


def _before_from_frame(frame, strict=False):
    header = [str(c) for c in frame.columns]
    columns = [cat._text_column(frame.iloc[:, j]) for j in range(frame.shape[1])]
    return _before_from_columns(header, columns, list(range(2, len(frame) + 2)), "<frame>",
                                strict, [])


def _before_read(path, strict=False):
    text = path.read_text(encoding="utf-8")
    source = str(path)
    plain = cat._split_plain_csv(text)
    if plain is not None:
        header, columns, lines = plain
        return _before_from_columns([h.strip() for h in header], columns, lines, source,
                                    strict, [])
    header, rows, lines = cat._read_csv_rows(text, source)
    width = len(header)
    problems = []
    for i, (row, line) in enumerate(zip(rows, lines, strict=True)):
        if len(row) != width:
            problems.append(InputProblem(source, line, None, None,
                                         f"row has {len(row)} fields, header has {width}"))
            rows[i] = (row + [""] * width)[:width]
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in header]
    return _before_from_columns(header, columns, lines, source, strict, problems)


# --- the catalogues ------------------------------------------------------------------

def _same(new: EventCatalogue, old: EventCatalogue) -> None:
    pd.testing.assert_frame_equal(new.frame, old.frame)
    assert new.problems == old.problems
    assert (new.source, new.attributes, new.notes, new.renamed) == (
        old.source, old.attributes, old.notes, old.renamed)


def _messy_frame(n: int = 2000, seed: int = 17) -> pd.DataFrame:
    """Typed columns with bad rows of every kind (in range and out of it)."""
    rng = np.random.default_rng(seed)
    ts = pd.Series(pd.Timestamp("2015-01-01", tz="UTC")
                   + pd.to_timedelta(rng.integers(0, 10**8, n), unit="s")).astype(
        "datetime64[ns, UTC]")
    ts[rng.random(n) < 0.4] = pd.NaT
    ts[3] = pd.Timestamp("1850-06-01 10:00", tz="UTC")  # years out of range
    ts[4] = pd.Timestamp("2150-06-01 10:00", tz="UTC")
    ts[5] = pd.Timestamp("2021-03-04 10:00:00.250", tz="UTC")  # sub-second
    ts[6] = pd.Timestamp("2021-03-04 10:00:00.000000001", tz="UTC")
    ts[7] = pd.Timestamp("2100-12-31 23:59:59", tz="UTC")
    ts[8] = pd.Timestamp("1900-01-01 00:00", tz="UTC")
    date = pd.Series(pd.Timestamp("2016-01-01")
                     + pd.to_timedelta(rng.integers(0, 3000, n), unit="D")).astype(
        "datetime64[ns]")
    date[rng.random(n) < 0.5] = pd.NaT
    date[ts.isna() & (rng.random(n) < 0.1)] = pd.NaT  # neither
    for i, v in [(10, "2019-06-03 12:00"), (11, "1899-12-31"), (12, "2101-01-01"),
                 (13, "1700-01-01"), (14, "2200-05-05 00:00:01"), (15, "2100-12-31")]:
        ts[i], date[i] = pd.NaT, pd.Timestamp(v)
    return pd.DataFrame({
        "event_id": [f"E{i}" if i % 97 else "" for i in range(n)],
        "ticker": rng.choice(["AAPL", "BBCA.JK", "msft", " ibm ", "BAD TICKER", "", "ZZZZ.QQ"],
                             n),
        "timestamp": ts, "date": date,
        "timing": rng.choice(["pre", "INTRA", "post", "", "lunch", " unknown "], n),
        "exchange": rng.choice(["", "", "XNYS", "nope", "xidx"], n),
        "sentiment": rng.choice(["0.5", "-1.25", "", "Positive", "neg", "meh", "1e3", "nan"],
                                n),
        "beta": rng.normal(size=n),  # reserved: renamed user_beta
        "note": rng.choice(["x", None, "y", " z "], n).astype(object),
        "count": rng.integers(0, 5, n),
    }).assign(event_id=lambda f: f["event_id"].where(np.arange(n) % 50 != 1, "E0"))


def test_frame_with_bad_rows_of_every_kind_equals_the_reference():
    frame = _messy_frame()
    new, old = events_from_frame(frame, strict=False), _before_from_frame(frame)
    _same(new, old)
    messages = {p.message for p in new.problems}
    assert len(messages) >= 10 and len(new.frame) > 100  # every kind of check had rows


def test_frame_strict_raises_the_same_problems():
    frame = _messy_frame(300, seed=3)
    with pytest.raises(InputError) as new:
        events_from_frame(frame)
    with pytest.raises(InputError) as old:
        _before_from_frame(frame, strict=True)
    assert list(new.value.problems) == list(old.value.problems)


@pytest.mark.parametrize("variant", ["text", "object", "string", "new_york", "us", "naive_ts",
                                     "aware_date", "float_sentiment", "no_date", "no_ts"])
def test_frame_column_dtypes_equal_the_reference(variant):
    frame = _messy_frame(400, seed=5)
    if variant == "text":  # every column as text (a typed path for none)
        frame = frame.astype(str).replace({"NaT": "", "None": ""})
    elif variant == "object":
        frame = frame.astype(object)
    elif variant == "string":  # pandas' "string" dtype: a missing value is "<NA>" as before
        frame["event_id"] = frame["event_id"].replace("", None).astype("string")
        frame["ticker"] = frame["ticker"].astype("string")
    elif variant == "new_york":  # not UTC: checked on the text, as before
        frame["timestamp"] = frame["timestamp"].dt.tz_convert("America/New_York")
        frame.loc[20, "timestamp"] = pd.Timestamp("1900-01-01 02:00", tz="UTC").tz_convert(
            "America/New_York")
    elif variant == "us":
        frame["timestamp"] = frame["timestamp"].astype("datetime64[us, UTC]")
        frame["date"] = frame["date"].astype("datetime64[s]")
        frame.loc[21, "timestamp"] = pd.Timestamp("1066-10-14 09:00", tz="UTC")
        frame.loc[22, ["timestamp", "date"]] = [pd.NaT, pd.Timestamp("0999-01-01")]
    elif variant == "naive_ts":  # a naive timestamp column: "no UTC offset" as before
        frame["timestamp"] = frame["timestamp"].dt.tz_localize(None)
    elif variant == "aware_date":
        frame["date"] = frame["date"].dt.tz_localize("UTC")
    elif variant == "float_sentiment":
        frame["sentiment"] = np.where(np.arange(len(frame)) % 3, 0.25, np.nan)
    elif variant == "no_date":
        frame = frame.drop(columns="date")
    elif variant == "no_ts":
        frame = frame.drop(columns="timestamp")
    _same(events_from_frame(frame, strict=False), _before_from_frame(frame))


def _messy_csv(n: int = 1500, seed: int = 11) -> str:
    rng = np.random.default_rng(seed)
    stamps = ["2023-12-05T10:30:00+07:00", "2023-12-05 10:30:00Z", "2023-12-05T10:30",
              "2023-12-05 10:30:00", "1850-01-01T00:00:00Z", "2150-01-01T00:00Z",
              "2023-02-30T10:00:00Z", "yesterday", "", "", "", " 2024-01-02T09:30:00-05:00 ",
              "2023-12-05T10:30:00.123456789+0530", "٢٠٢٣-12-05T10:30:00Z"]
    dates = ["2023-12-05", "2023-13-01", "1899-12-31", "2101-01-01", "2023/12/05", "",
             " 2022-06-30 ", "2100-12-31", "1900-01-01", "05-12-2023"]
    rows = ["event_id,ticker,timestamp,date,timing,exchange,sentiment,headline,car,score"]
    for i in range(n):
        rows.append(",".join([
            "" if i % 89 == 0 else f"E{i % 700}",
            str(rng.choice(["AAPL", "bbca.jk", "", "BAD TICKER", "ZZZZ.QQ", " msft "])),
            str(rng.choice(stamps)), str(rng.choice(dates)),
            str(rng.choice(["pre", "Post", "", "later", "intra"])),
            str(rng.choice(["", "", "XNYS", "MOON"])),
            str(rng.choice(["0.5", "", "positive", "NEU", "bad", "-2"])),
            str(rng.choice(["up", "down", "\u00a0"])),
            str(rng.choice(["1", "2.5", ""])),
            str(rng.choice(["1", "x", ""])),
        ]))
        if i % 211 == 5:
            rows.append(" , ,,\t,,,,,, ")  # a row of blanks: skipped
    return "\n".join(rows) + "\n"


def test_plain_csv_with_bad_rows_of_every_kind_equals_the_reference(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(_messy_csv(), encoding="utf-8")
    assert cat._arrow_plain_csv(path.read_text(encoding="utf-8")) is not None  # Arrow read it
    new, old = read_events(path, strict=False), _before_read(path)
    _same(new, old)
    assert len({p.message for p in new.problems}) >= 10 and len(new.frame) > 10
    assert new.notes  # "car" renamed


def test_quoted_csv_with_commas_and_newlines_equals_the_reference(tmp_path):
    text = _messy_csv(400, seed=2)
    lines = text.splitlines()
    for k in range(3, len(lines), 37):  # quoted headlines with commas and newlines
        cells = lines[k].split(",")
        cells[7] = '"a, ""quoted""\nheadline, on two lines"'
        lines[k] = ",".join(cells)
    path = tmp_path / "events.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert cat._arrow_plain_csv(path.read_text(encoding="utf-8")) is None  # the csv module
    _same(read_events(path, strict=False), _before_read(path))


@pytest.mark.parametrize("text", [
    "event_id,ticker,date\n1,AAPL,2023-01-05\n\n2,MSFT,2023-01-06\n",  # an empty line
    "event_id,ticker,date\n1,AAPL,2023-01-05\n2,MSFT\n",  # a ragged row
    "event_id,ticker,date\n1,AAPL,2023-01-05\n2,MSFT,2023-01-06\n\n",  # empty last line
    "event_id,ticker,date\n1,AAPL,2023-01-05\r\n2,MSFT,2023-01-06\r\n",  # CRLF
    "event_id,ticker,date\n1,AAPL,2023-01-05\n\u3000,\u00a0,\u2003\n,,\n2,MSFT,2023-01-06",
    "event_id,ticker,date,x\nNA,null,2023-01-05,\\N\n1,AAPL,2023-01-05,N/A\n",
    "Event_ID,TICKER,Date,user_beta,beta\n1,AAPL,2023-01-05,1,2\n",  # rename refused
    "event_id,ticker,date,date\n1,AAPL,2023-01-05,2023-01-05\n",  # a column twice
    "event_id,date\n1,2023-01-05\n",  # a required column missing
])
def test_csv_edge_cases_equal_the_reference(tmp_path, text):
    path = tmp_path / "events.csv"
    path.write_bytes(text.encode("utf-8"))
    try:
        old = _before_read(path)
    except InputError as exc:
        with pytest.raises(InputError) as new:
            read_events(path, strict=False)
        assert list(new.value.problems) == list(exc.problems)
        return
    _same(read_events(path, strict=False), old)


@pytest.mark.parametrize("values", [
    ["1", "2", "1", "2", "1"], ["1", "", "1", "", "x"], ["1.5", "1.5", "2", "2", "nan"],
    ["18446744073709551615", "1", "1", "1"], ["-9223372036854775809", "1", "1", "1"],
    ["inf", "-inf", "inf", "1e400", "1e400"], [" 1", "1", "1", "0x10", "0x10"],
    [str(v) for v in np.round(np.random.default_rng(1).normal(size=50), 1)],
])
def test_numbers_read_once_per_distinct_value_equal_to_numeric(values):
    """Reference: ``pandas.to_numeric(errors="coerce")`` on every row."""
    text = cat._text_series(values)
    pd.testing.assert_series_equal(cat._to_numbers(text), pd.to_numeric(text, errors="coerce"))


@pytest.mark.parametrize("values", [[], ["a"], ["a", "b", "a", "", "", "b", "c", "A"],
                                    [f"E{i % 7}" for i in range(60)]])
def test_duplicated_by_arrow_equals_pandas(values):
    """Reference: ``Series.duplicated(keep="first")``."""
    text = cat._text_series(values) if values else pd.Series([], dtype="str")
    np.testing.assert_array_equal(cat._duplicated(text),
                                  text.duplicated(keep="first").to_numpy())
