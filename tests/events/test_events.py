"""Event catalogues: parsing, validation and error messages that point at the problem."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from marketreact.errors import InputError
from marketreact.events.catalogue import events_from_frame, read_events


def write(tmp_path: Path, text: str, name: str = "events.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_goto_catalogue_loads(goto_events: Path) -> None:
    cat = read_events(goto_events)
    assert len(cat) == 16
    assert not cat.problems
    frame = cat.frame.set_index("event_id")
    assert frame.loc["deal-GOTO", "exchange"] == "XIDX"
    assert frame.loc["deal-SE", "exchange"] == "XNYS"
    assert frame.loc["deal-SE", "market"] == "SPY"
    # 17:00 Jakarta (UTC+7) is 10:00 UTC.
    assert frame.loc["shop-closure-GOTO", "timestamp"] == pd.Timestamp("2023-10-04 10:00Z")
    assert frame.loc["agreement-GOTO", "timing"] == "intra"
    assert "news" in cat.attributes


def test_timestamps_keep_the_instant_across_offsets(tmp_path: Path) -> None:
    path = write(tmp_path, "event_id,ticker,timestamp\n"
                           "a,SE,2023-12-05T21:00:00+07:00\n"
                           "b,SE,2023-12-05T14:00:00Z\n"
                           "c,SE,2023-12-05T09:00:00-0500\n")
    ts = read_events(path).frame["timestamp"]
    assert (ts == pd.Timestamp("2023-12-05 14:00Z")).all()


def test_every_problem_is_listed_with_file_line_field_and_value(tmp_path: Path) -> None:
    path = write(tmp_path, "event_id,ticker,timestamp,date,timing\n"
                           "a,GOTO.JK,2023-12-05T10:30:00,,\n"
                           "b,GOTO.JK,,2023-13-05,intra\n"
                           "c,GOTO.JK,,2023-12-05,sometime\n"
                           "a,SE,,2023-12-05,pre\n"
                           "d,FOO.ZZ,,2023-12-05,pre\n"
                           "e,,,2023-12-05,pre\n")
    with pytest.raises(InputError) as info:
        read_events(path)
    shown = [str(p) for p in info.value.problems]
    assert any(s.startswith(f"{path}:2, field 'timestamp', value '2023-12-05T10:30:00'")
               and "no UTC offset" in s for s in shown)
    assert any(s.startswith(f"{path}:3, field 'date', value '2023-13-05'") for s in shown)
    assert any(s.startswith(f"{path}:4, field 'timing', value 'sometime'") for s in shown)
    assert any(s.startswith(f"{path}:5, field 'event_id', value 'a'") and "duplicate" in s
               for s in shown)
    assert any(s.startswith(f"{path}:6, field 'ticker', value 'FOO.ZZ'") for s in shown)
    assert any(s.startswith(f"{path}:7, field 'ticker'") and "empty" in s for s in shown)
    assert len(info.value.problems) == 6


def test_skip_invalid_keeps_good_rows_and_reports_bad_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "event_id,ticker,date,timing\n"
                           "a,GOTO.JK,2023-12-05,intra\n"
                           "b,GOTO.JK,05/12/2023,intra\n"
                           "c,SE,2023-12-05,post\n")
    cat = read_events(path, strict=False)
    assert cat.event_ids == ["a", "c"]
    assert [p.line for p in cat.problems] == [3]
    assert cat.problems[0].field == "date"


def test_line_numbers_follow_quoted_multiline_fields(tmp_path: Path) -> None:
    path = write(tmp_path, 'event_id,ticker,date,headline\n'
                           'a,SE,2023-12-05,"two\nlines"\n'
                           'b,SE,bad-date,x\n')
    with pytest.raises(InputError) as info:
        read_events(path)
    assert info.value.problems[0].line == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("event_id,ticker,date\n", "no rows"),
     ("event_id,date\na,2023-12-05\n", "required column"),
     ("event_id,ticker\na,SE\n", "timestamp or date"),
     ("event_id;ticker;date\na;SE;2023-12-05\n", "separated by ';'")],
)
def test_file_level_problems(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_events(write(tmp_path, text))


def test_bom_is_accepted_and_latin1_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("event_id,ticker,date\na,SE,2023-12-05\n".encode("utf-8-sig"))
    assert read_events(path).event_ids == ["a"]
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("event_id,ticker,date,headline\na,SE,2023-12-05,caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8") as info:
        read_events(bad)
    assert info.value.problems[0].line == 2


def test_json_lines_and_extra_attributes(tmp_path: Path) -> None:
    rows = [{"event_id": "a", "ticker": "goto.jk", "timestamp": "2023-12-05T10:30:00+07:00",
             "sentiment": "positive", "size": 3.5},
            {"event_id": "b", "ticker": "SE", "date": "2023-12-05", "timing": "pre",
             "sentiment": -0.4, "size": 1}]
    path = write(tmp_path, "\n".join(json.dumps(r) for r in rows) + "\n", "events.jsonl")
    frame = read_events(path).frame
    assert frame["ticker"].tolist() == ["GOTO.JK", "SE"]
    assert frame["sentiment"].tolist() == [1.0, -0.4]
    assert frame["size"].tolist() == [3.5, 1.0]


def test_bad_json_line_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, '{"event_id": "a", "ticker": "SE", "date": "2023-12-05"}\n{oops\n',
                 "events.jsonl")
    with pytest.raises(InputError) as info:
        read_events(path)
    assert info.value.problems[0].line == 2


def test_exchange_column_overrides_the_suffix(tmp_path: Path) -> None:
    path = write(tmp_path, "event_id,ticker,date,exchange\na,SE,2023-12-05,XIDX\n"
                           "b,ODD.ZZ,2023-12-05,NYSE\nc,SE,2023-12-05,MARS\n")
    cat = read_events(path, strict=False)
    assert cat.frame["exchange"].tolist() == ["XIDX", "XNYS"]
    assert cat.problems[0].field == "exchange"


def test_events_from_frame_validates_like_a_file() -> None:
    frame = pd.DataFrame({"event_id": ["a", "b"], "ticker": ["SE", "SE"],
                          "timestamp": [pd.Timestamp("2023-12-05 10:00", tz="UTC"),
                                        pd.Timestamp("2023-12-05 10:00")]})
    with pytest.raises(InputError, match="no UTC offset") as info:
        events_from_frame(frame)
    assert info.value.problems[0].line == 3
