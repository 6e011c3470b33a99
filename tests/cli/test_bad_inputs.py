"""A corpus of malformed inputs run through the CLI: clear lines, right exit codes, no traceback.

The rule (docs/errors.md): a problem with the event catalogue or the options is a bad input
(exit 2, nothing computed); a problem with the prices of one ticker fails the events of that
ticker (exit 1, the others are studied, failures.csv says why); a harmless oddity in the
prices is repaired and noted (exit 0, the note names file and line).

Every case checks the exit code, that no exception escaped, and that the message names the
file, the line and the field where they exist. Price files are real files from
``../shared/data/prices/idx`` altered in a temporary folder.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from marketreact.cli import app

HDR = "event_id,ticker,timestamp,date,timing,headline\n"
GOOD = "e1,BBCA.JK,2023-06-14T10:00:00+07:00,,,ok\n"
DATE_HDR = "event_id,ticker,date,timing\n"

# ----------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One malformed (or oddly formed) input and what must come out.

    ``exit`` is the documented code: 2 bad input, 1 some events failed, 4 nothing was
    studied (the one event of the catalogue failed).
    """

    id: str
    exit: int
    expect: tuple[str, ...] = ()
    events: str | bytes | None = None  # contents of the event file (None: one good event)
    name: str = "events.csv"
    args: tuple[str, ...] = ()
    # Alters the temporary price folder (BBCA.JK.csv, JKSE.csv): fn(folder) -> date text whose
    # line must be named in the message (or None).
    prices: Callable[[Path], str | None] | None = None
    price_file: str = "BBCA.JK.csv"
    where: str = "stderr"  # stream holding the expected text: stderr, stdout or failures
    one_line: bool = True
    extra: dict[str, object] = field(default_factory=dict)


def ev(*rows: str, header: str = HDR) -> str:
    return header + "".join(r + "\n" for r in rows)


EVENT_CASES = [
    # --- structure of the catalogue: bad input, exit 2
    Case("missing-event_id-column", 2, (":1", "field 'event_id'", "required column is missing"),
         "ticker,timestamp\nBBCA.JK,2023-06-14T10:00:00+07:00\n"),
    Case("missing-ticker-column", 2, (":1", "field 'ticker'", "required column is missing"),
         "event_id,timestamp\ne1,2023-06-14T10:00:00+07:00\n"),
    Case("missing-time-columns", 2, (":1", "field 'timestamp or date'"),
         "event_id,ticker,headline\ne1,BBCA.JK,x\n"),
    Case("empty-file", 2, (":1", "empty"), b""),
    Case("blank-lines-only", 2, (":1", "empty"), "\n \n\n"),
    Case("header-only", 2, (":1", "no events"), HDR),
    Case("duplicate-column", 2, (":1", "field 'event_id'", "more than once"),
         "event_id,ticker,event_id,date\ne1,BBCA.JK,e2,2023-06-14\n"),
    Case("semicolon-separated", 2, (":1", "';'"),
         "event_id;ticker;date\ne1;BBCA.JK;2023-06-14\n"),
    Case("tab-separated", 2, (":1", "tabs"), "event_id\tticker\tdate\ne1\tBBCA.JK\t2023-06-14\n"),
    Case("row-with-extra-field", 2, (":3", "fields"),
         ev(GOOD.strip(), "e2,BBCA.JK,2023-06-15T10:00:00+07:00,,,Profit up, shares up")),
    Case("unterminated-quote", 2, (":2",),
         ev('e1,BBCA.JK,2023-06-14T10:00:00+07:00,,,"never closed',
            "e2,BBCA.JK,2023-06-15T10:00:00+07:00,,,ok")),
    # --- encodings
    Case("utf16", 2, (":1", "UTF-16"), ev(GOOD.strip()).encode("utf-16")),
    Case("latin1", 2, (":2", "not UTF-8"),
         ev("e1,BBCA.JK,2023-06-14T10:00:00+07:00,,,Caf\u00e9 opens").encode("latin-1")),
    Case("cp1252-quotes", 2, (":3", "not UTF-8"),
         ev(GOOD.strip(), "e2,BBCA.JK,2023-06-15T10:00:00+07:00,,,\u201cbig\u201d news")
         .encode("cp1252")),
    Case("binary-junk", 2, ("NUL byte",), b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"),
    Case("not-utf8-no-nul", 2, (":1", "not UTF-8"), b"\xc3\x28event_id,ticker\n"),
    Case("nul-byte", 2, (":2", "NUL byte"),
         ev("e1,BBCA.JK,2023-06-14T10:00:00+07:00,,,a\x00b")),
    # --- timestamps and dates
    Case("naive-timestamp", 2, (":2", "field 'timestamp'", "no UTC offset"),
         ev("e1,BBCA.JK,2023-06-14T10:00:00,,,x")),
    Case("naive-timestamp-space", 2, (":2", "field 'timestamp'", "no UTC offset"),
         ev("e1,BBCA.JK,2023-06-14 10:00,,,x")),
    Case("timestamp-month-13", 2, (":2", "field 'timestamp'", "ISO 8601"),
         ev("e1,BBCA.JK,2023-13-14T10:00:00+07:00,,,x")),
    Case("timestamp-hour-25", 2, (":2", "field 'timestamp'"),
         ev("e1,BBCA.JK,2023-06-14T25:00:00+07:00,,,x")),
    Case("timestamp-offset-99", 2, (":2", "field 'timestamp'"),
         ev("e1,BBCA.JK,2023-06-14T10:00:00+99:00,,,x")),
    Case("timestamp-words", 2, (":2", "field 'timestamp'", "yesterday"),
         ev("e1,BBCA.JK,yesterday,,,x")),
    Case("timestamp-year-1", 2, (":2", "field 'timestamp'", "year out of range"),
         ev("e1,BBCA.JK,0001-01-01T10:00:00+07:00,,,x")),
    Case("date-day-first", 2, (":2", "field 'date'", "YYYY-MM-DD"),
         ev("e1,BBCA.JK,14/06/2023,pre", header=DATE_HDR)),
    Case("date-feb-30", 2, (":2", "field 'date'"), ev("e1,BBCA.JK,2023-02-30,pre",
                                                        header=DATE_HDR)),
    Case("date-year-2150", 2, (":2", "field 'date'", "year out of range"),
         ev("e1,BBCA.JK,2150-01-01,pre", header=DATE_HDR)),
    Case("no-time-in-row", 2, (":3", "neither a timestamp nor a date"),
         ev(GOOD.strip(), "e2,BBCA.JK,,,,x")),
    Case("bad-timing", 2, (":2", "field 'timing'", "evening"),
         ev("e1,BBCA.JK,2023-06-14,evening", header=DATE_HDR)),
    # --- tickers, exchanges, ids, values
    Case("unknown-suffix", 2, (":2", "field 'ticker'", "BBCA.XX", "exchange"),
         ev("e1,BBCA.XX,2023-06-14T10:00:00+07:00,,,x")),
    Case("unknown-exchange-column", 2, (":2", "field 'exchange'", "MOON"),
         "event_id,ticker,exchange,date\ne1,BBCA.JK,MOON,2023-06-14\n"),
    Case("index-without-exchange", 2, (":2", "field 'ticker'", "^JKSE"),
         ev("e1,^JKSE,2023-06-14T10:00:00+07:00,,,x")),
    Case("duplicate-id", 2, (":3", "field 'event_id'", "duplicate"),
         ev(GOOD.strip(), "e1,BBCA.JK,2023-06-20T10:00:00+07:00,,,again")),
    Case("empty-ticker", 2, (":2", "field 'ticker'", "empty"),
         ev("e1,,2023-06-14T10:00:00+07:00,,,x")),
    Case("empty-event-id", 2, (":2", "field 'event_id'", "empty"),
         ev(",BBCA.JK,2023-06-14T10:00:00+07:00,,,x")),
    Case("ticker-with-space", 2, (":2", "field 'ticker'", "spaces"),
         ev("e1,BB CA.JK,2023-06-14T10:00:00+07:00,,,x")),
    Case("bad-sentiment", 2, (":2", "field 'sentiment'", "great"),
         "event_id,ticker,date,sentiment\ne1,BBCA.JK,2023-06-14,great\n"),
    # --- other file kinds
    Case("jsonl-bad-line", 2, (":2", "not valid JSON"),
         '{"event_id": "e1", "ticker": "BBCA.JK", "date": "2023-06-14"}\n{"event_id": \n',
         name="events.jsonl"),
    Case("jsonl-not-object", 2, (":1", "JSON object"), '[1, 2]\n', name="events.jsonl"),
    Case("json-array-item-not-object", 2, ("item 2", "JSON object"),
         '[\n {"event_id": "e1", "ticker": "BBCA.JK", "date": "2023-06-14"},\n 7\n]\n',
         name="events.json"),
    Case("file-not-found", 2, ("missing.csv", "file not found"), name="missing.csv"),
    Case("folder-not-file", 2, ("is a folder",), name="a-folder"),
    # --- accepted (exit 0): the BOM and friends must still work
    Case("utf8-bom", 0, (), ("\ufeff" + ev(GOOD.strip())).encode("utf-8")),
    Case("crlf-line-ends", 0, (), ev(GOOD.strip()).replace("\n", "\r\n")),
    Case("mixed-case-header-blank-lines", 0, (),
         "Event_ID,Ticker,TIMESTAMP\n\ne1,bbca.jk,2023-06-14T10:00:00+07:00\n\n\n"),
    Case("json-array", 0, (),
         '[{"event_id": "e1", "ticker": "BBCA.JK", "timestamp": "2023-06-14T10:00:00+07:00"}]',
         name="events.json"),
    Case("quoted-comma-and-newline", 0, (),
         ev('e1,BBCA.JK,2023-06-14T10:00:00+07:00,,,"Profit up,\nshares up"')),
    # --- per-event failures: the study continues, exit 1
    Case("ticker-without-prices", 1, (":3", "event e2", "no price file for ZZZZ.JK"),
         ev(GOOD.strip(), "e2,ZZZZ.JK,2023-06-14T10:00:00+07:00,,,x")),
    Case("before-price-coverage", 1, (":3", "event e2", "estimation returns"),
         ev(GOOD.strip(), "e2,GOTO.JK,2022-06-01T10:00:00+07:00,,,x")),
    Case("after-price-coverage", 1, (":3", "event e2", "runs past the last stock price"),
         ev(GOOD.strip(), "e2,BBCA.JK,2026-04-20T10:00:00+07:00,,,x")),
    Case("event-in-the-future", 1, (":3", "event e2", "day 0 falls after the last"),
         ev(GOOD.strip(), "e2,BBCA.JK,2099-06-14T10:00:00+07:00,,,x")),
    Case("only-event-in-the-future", 4, (":2", "event e1", "no rows on or after"),
         ev("e1,BBCA.JK,2099-06-14T10:00:00+07:00,,,x")),
    Case("event-before-all-prices", 1, (":3", "event e2", "starts before the first stock"),
         ev(GOOD.strip(), "e2,BBCA.JK,1950-06-14T10:00:00+07:00,,,x")),
    Case("only-event-before-all-prices", 4, (":2", "event e1", "no rows on or before"),
         ev("e1,BBCA.JK,1950-06-14T10:00:00+07:00,,,x")),
    Case("market-without-prices", 4, (":2", "event e1", "market ^NOPE", "no price file"),
         args=("--market", "^NOPE")),
    Case("us-stock-without-its-index", 1, (":3", "event e2", "market ^GSPC"),
         ev(GOOD.strip(), "e2,AAPL,2023-06-14T10:00:00-04:00,,,x")),
    Case("skip-invalid-row", 1, (":3", "field 'timestamp'"),
         ev(GOOD.strip(), "e2,BBCA.JK,2023-06-14T10:00:00,,,naive"), args=("--skip-invalid",)),
]


# --------------------------------------------------------------- price-file alterations


def _rewrite(folder: Path, name: str, fn: Callable[[list[str]], list[str]]) -> None:
    path = folder / name
    lines = path.read_text().splitlines()
    path.write_text("\n".join(fn(lines)) + "\n")


def _row(lines: list[str], date: str) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith(date))


def _set(lines: list[str], date: str, **values: str) -> list[str]:
    header = lines[0].split(",")
    i = _row(lines, date)
    cells = lines[i].split(",")
    for col, v in values.items():
        cells[header.index(col)] = v
    lines[i] = ",".join(cells)
    return lines


def _scale(lines: list[str], before: str, factor: float) -> list[str]:
    """Multiply prices (not volume) on rows dated before ``before`` (an unadjusted split)."""
    header = lines[0].split(",")
    cols = [header.index(c) for c in ("open", "high", "low", "close", "adj_close")]
    for i in range(1, len(lines)):
        cells = lines[i].split(",")
        if cells[0] < before:
            for c in cols:
                cells[c] = f"{float(cells[c]) * factor:.6f}"
            lines[i] = ",".join(cells)
    return lines


def p_duplicate(folder: Path) -> str:
    _rewrite(folder, "BBCA.JK.csv", lambda ls: [*ls[:_row(ls, "2023-03-01") + 1],
                                                _set(list(ls), "2023-03-01",
                                                     adj_close="8000")[_row(ls, "2023-03-01")],
                                                *ls[_row(ls, "2023-03-01") + 1:]])
    return "2023-03-01"


def p_unsorted(folder: Path) -> str:
    def swap(ls: list[str]) -> list[str]:
        i = _row(ls, "2023-03-02")
        ls[i - 1], ls[i] = ls[i], ls[i - 1]
        return ls
    _rewrite(folder, "BBCA.JK.csv", swap)
    return "2023-03-01"


def p_zero(folder: Path) -> str:
    _rewrite(folder, "BBCA.JK.csv", lambda ls: _set(ls, "2023-03-01", close="0", adj_close="0"))
    return "2023-03-01"


def p_negative(folder: Path) -> str:
    _rewrite(folder, "BBCA.JK.csv", lambda ls: _set(ls, "2023-03-01", adj_close="-8700"))
    return "2023-03-01"


def p_text(folder: Path) -> str:
    _rewrite(folder, "BBCA.JK.csv", lambda ls: _set(ls, "2023-03-01", adj_close="abc"))
    return "2023-03-01"


def p_inf(folder: Path) -> str:
    _rewrite(folder, "BBCA.JK.csv", lambda ls: _set(ls, "2023-03-01", close="inf"))
    return "2023-03-01"


def _blank_run(ls: list[str], start: str, n: int) -> list[str]:
    i = _row(ls, start)
    for k in range(i, i + n):
        ls = _set(ls, ls[k].split(",")[0], close="", adj_close="")
    return ls


def p_nan_short(folder: Path) -> str:
    _rewrite(folder, "BBCA.JK.csv", lambda ls: _blank_run(ls, "2023-02-01", 6))
    return "2023-02-01"


def p_nan_long(folder: Path) -> str:
    _rewrite(folder, "BBCA.JK.csv", lambda ls: _blank_run(ls, "2022-07-01", 150))
    return "2022-07-01"


def p_gap(folder: Path) -> str:
    _rewrite(folder, "BBCA.JK.csv",
             lambda ls: [x for x in ls if not ("2023-01-01" <= x[:10] <= "2023-01-31")])
    return "2023-02-01"


def p_split(folder: Path) -> str:
    # prices before 2023-03-01 not adjusted for a 1:5 split (five times higher)
    _rewrite(folder, "BBCA.JK.csv", lambda ls: _scale(ls, "2023-03-01", 5.0))
    return "2023-03-01"


def p_split_far_away(folder: Path) -> None:
    _rewrite(folder, "BBCA.JK.csv", lambda ls: _scale(ls, "2012-03-01", 5.0))
    return None


def p_bad_print(folder: Path) -> str:
    def spike(ls: list[str]) -> list[str]:
        i = _row(ls, "2023-06-12")
        cells = ls[i].split(",")
        return _set(ls, "2023-06-12", adj_close=f"{float(cells[5]) * 10:.4f}")
    _rewrite(folder, "BBCA.JK.csv", spike)
    return "2023-06-12"


def p_future(folder: Path) -> str:
    when = (pd.Timestamp.today() + pd.Timedelta(days=40)).strftime("%Y-%m-%d")
    _rewrite(folder, "BBCA.JK.csv",
             lambda ls: [*ls, when + "," + ls[-1].split(",", 1)[1]])
    return when


def p_bad_date(folder: Path) -> str:
    _rewrite(folder, "BBCA.JK.csv",
             lambda ls: [x.replace("2023-03-01", "2023/03/01", 1) for x in ls])
    return "2023/03/01"


def p_empty(folder: Path) -> None:
    (folder / "BBCA.JK.csv").write_bytes(b"")


def p_header_only(folder: Path) -> None:
    _rewrite(folder, "BBCA.JK.csv", lambda ls: ls[:1])


def p_semicolons(folder: Path) -> None:
    _rewrite(folder, "BBCA.JK.csv", lambda ls: [x.replace(",", ";") for x in ls])


def p_no_close(folder: Path) -> None:
    _rewrite(folder, "BBCA.JK.csv", lambda ls: [",".join(x.split(",")[:1] + x.split(",")[6:])
                                                for x in ls])


def p_latin1(folder: Path) -> None:
    path = folder / "BBCA.JK.csv"
    path.write_bytes(path.read_bytes().replace(b"yfinance_raw_daily", b"yfinance_\xe9", 3))


def p_ragged(folder: Path) -> str:
    _rewrite(folder, "BBCA.JK.csv", lambda ls: [x + ",extra" if x.startswith("2023-03-01")
                                                else x for x in ls])
    return "2023-03-01"


def p_index_duplicate(folder: Path) -> str:
    def dup(ls: list[str]) -> list[str]:
        i = _row(ls, "2023-03-01")
        return [*ls[:i + 1], ls[i], *ls[i + 1:]]
    _rewrite(folder, "JKSE.csv", dup)
    return "2023-03-01"


PRICE_CASES = [
    Case("prices-duplicate-date", 4, ("BBCA.JK.csv:{line2}", "field 'date'", "more than once"),
         prices=p_duplicate),
    Case("prices-unsorted", 0, ("BBCA.JK.csv:{line}", "field 'date'", "sorted"),
         prices=p_unsorted, where="stdout"),
    Case("prices-zero", 0, ("BBCA.JK.csv:{line}", "field 'adj_close'", "zero price"),
         prices=p_zero, where="stdout"),
    Case("prices-negative", 4, ("BBCA.JK.csv:{line}", "field 'adj_close'", "negative"),
         prices=p_negative),
    Case("prices-not-a-number", 4, ("BBCA.JK.csv:{line}", "field 'adj_close'", "not a number"),
         prices=p_text),
    Case("prices-infinite", 4, ("BBCA.JK.csv:{line}", "field 'close'", "finite"),
         prices=p_inf),
    Case("prices-nan-run", 0, ("BBCA.JK.csv:{line}", "field 'adj_close'", "6 consecutive rows"),
         prices=p_nan_short, where="stdout"),
    Case("prices-long-nan-run", 4, ("BBCA.JK.csv:{line}", "150 consecutive rows"),
         prices=p_nan_long, where="stdout", extra={"failure": "estimation returns"}),
    Case("prices-gap", 0, ("BBCA.JK.csv:{line}", "field 'date'", "no rows for"),
         prices=p_gap, where="stdout"),
    Case("prices-unadjusted-split", 4,
         ("BBCA.JK.csv:{line}", "field 'adj_close'", "factor of about 5", "split"),
         prices=p_split),
    Case("prices-split-outside-window", 0, (), prices=p_split_far_away),
    Case("prices-unadjusted-split-kept", 0,
         ("kept (suspect_prices=keep)", "BBCA.JK.csv:{line}", "factor of about 5"),
         prices=p_split, args=("--suspect-prices", "keep"), where="stdout"),
    Case("prices-bad-print", 4, ("BBCA.JK.csv:{line}", "field 'adj_close'", "bad print"),
         prices=p_bad_print),
    Case("prices-future-date", 4, ("BBCA.JK.csv:{line}", "field 'date'", "future"),
         prices=p_future),
    Case("prices-bad-date", 4, ("BBCA.JK.csv:{line}", "field 'date'", "not a date"),
         prices=p_bad_date),
    Case("prices-empty-file", 4, ("BBCA.JK.csv:1", "empty"), prices=p_empty),
    Case("prices-header-only", 4, ("BBCA.JK.csv:1", "no rows"), prices=p_header_only),
    Case("prices-semicolons", 4, ("BBCA.JK.csv:1", "';'"), prices=p_semicolons),
    Case("prices-no-close-column", 4, ("BBCA.JK.csv:1", "field 'close'"), prices=p_no_close),
    Case("prices-latin1", 4, ("BBCA.JK.csv:2", "not UTF-8"), prices=p_latin1),
    Case("prices-ragged-row", 4, ("BBCA.JK.csv:{line}", "cannot read as CSV"),
         prices=p_ragged),
    Case("prices-index-duplicate-date", 4,
         ("market ^JKSE", "JKSE.csv:{line2}", "field 'date'"), prices=p_index_duplicate,
         price_file="JKSE.csv"),
]

OPTION_CASES = [
    Case("estimation-overlaps-window", 2, ("command line", "field '--estimation'", "overlaps"),
         args=("--estimation", "-250:-5")),
    Case("window-inverted", 2, ("field '--window'", "inverted"), args=("--window", "10:-10")),
    Case("estimation-inverted", 2, ("field '--estimation'", "inverted"),
         args=("--estimation", "-11:-250")),
    Case("car-inverted", 2, ("field '--car'", "[+1,-1]"), args=("--car", "1:-1")),
    Case("car-outside-window", 2, ("field '--car'", "not inside"), args=("--car", "-20:20")),
    Case("window-not-a-range", 2, ("field '--window'", "abc", "A:B"), args=("--window", "abc")),
    Case("unknown-model", 2, ("field '--model'", "garch-x", "unknown model"),
         args=("--model", "garch-x")),
    Case("unknown-returns", 2, ("field '--returns'", "weird"), args=("--returns", "weird")),
    Case("min-estimation-too-large", 2, ("field '--min-estimation'", "exceeds"),
         args=("--min-estimation", "500")),
    Case("min-estimation-too-small", 2, ("field '--min-estimation'", "at least"),
         args=("--min-estimation", "1")),
    Case("unknown-suspect-policy", 2, ("field '--suspect-prices'", "maybe"),
         args=("--suspect-prices", "maybe")),
    Case("unknown-price-source", 2, ("field '--prices'", "ftp:x"), args=("--prices", "ftp:x")),
    Case("price-folder-missing", 2, ("field '--prices'", "not found"),
         args=("--prices", "csv:/no/such/folder")),
]

ALL_CASES = EVENT_CASES + PRICE_CASES + OPTION_CASES


def test_corpus_is_large_enough() -> None:
    malformed = [c for c in ALL_CASES if c.exit != 0 or c.prices is not None]
    assert len(malformed) >= 40
    assert len({c.id for c in ALL_CASES}) == len(ALL_CASES)


@pytest.fixture(scope="module")
def small_prices(prices_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pristine folder with BBCA.JK and ^JKSE, copied from the real data at run time."""
    folder = tmp_path_factory.mktemp("pristine")
    for name in ("BBCA.JK.csv", "JKSE.csv"):
        shutil.copy(prices_dir / "idx" / name, folder / name)
    return folder


def _line_numbers(path: Path, text: str | None) -> tuple[int | None, int | None]:
    if text is None:
        return None, None
    found = [i for i, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
             if line.startswith(text)]
    return (found[0] if found else None), (found[1] if len(found) > 1 else None)


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_malformed_input(case: Case, tmp_path: Path, prices_dir: Path,
                         small_prices: Path) -> None:
    events = tmp_path / case.name
    if case.id == "folder-not-file":
        events.mkdir()
    elif case.id != "file-not-found":
        content = case.events if case.events is not None else ev(GOOD.strip())
        if isinstance(content, str):
            events.write_bytes(content.encode("utf-8"))
        else:
            events.write_bytes(content)
    line = line2 = None
    price_arg = f"csv:{prices_dir}"
    if case.prices is not None:
        folder = tmp_path / "prices"
        shutil.copytree(small_prices, folder)
        marker = case.prices(folder)
        line, line2 = _line_numbers(folder / case.price_file, marker)
        price_arg = f"csv:{folder}"
    args = ["study", str(events), "--out", str(tmp_path / "out"), *case.args]
    if "--prices" not in case.args:
        args += ["--prices", price_arg]
    result = CliRunner().invoke(app, args)
    output = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert "Traceback" not in output
    assert "internal error" not in output
    assert result.exit_code == case.exit, output
    expected = [e.format(line=line, line2=line2) for e in case.expect]
    if case.where == "stdout":
        # the note is printed and kept in summary.json
        summary = json.loads((tmp_path / "out" / "summary.json").read_text())
        haystack = result.stdout + "\n".join(summary["diagnostics"])
    else:
        haystack = result.stderr
    for text in expected:
        assert text in haystack, f"{text!r} not in:\n{haystack}"
    if case.exit == 2:
        errors = [x for x in result.stderr.splitlines() if x.startswith("error:")]
        if case.one_line:
            assert len(errors) == 1, result.stderr
        assert not (tmp_path / "out").exists()  # nothing computed, nothing written
    if case.exit == 1:
        failures = pd.read_csv(tmp_path / "out" / "failures.csv")
        assert len(failures) >= 1 and failures["reason"].notna().all()
        want = case.extra.get("failure")
        if want:
            assert failures["reason"].str.contains(str(want), regex=False).any()
        if case.prices is not None and case.where == "stderr":
            # the price file's problem is the reason in failures.csv, with its line
            assert any(expected[0] in r for r in failures["reason"]), failures["reason"].tolist()
    if case.exit in (0, 1) and case.id not in {"skip-invalid-row"}:
        events_csv = pd.read_csv(tmp_path / "out" / "events.csv")
        if case.exit == 0:
            assert len(events_csv) >= 1


def test_messages_name_line_for_every_bad_row(tmp_path: Path, prices_dir: Path) -> None:
    """Several bad rows: one line each, in file order, each naming its own line."""
    path = tmp_path / "events.csv"
    path.write_text(ev(GOOD.strip(), "e2,BBCA.JK,2023-06-14T10:00:00,,,x",
                       "e3,BBCA.XX,2023-06-14T10:00:00+07:00,,,x",
                       "e1,BBCA.JK,2023-06-20T10:00:00+07:00,,,again"))
    result = CliRunner().invoke(app, ["study", str(path), "--out", str(tmp_path / "o"),
                                      "--prices", f"csv:{prices_dir}"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert [re.search(r"events\.csv:(\d+)", x).group(1) for x in lines] == ["3", "4", "5"]


def test_markup_in_values_is_printed_verbatim(tmp_path: Path, prices_dir: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(ev("e1,[red]BBCA[/red].XX,2023-06-14T10:00:00+07:00,,,x"))
    result = CliRunner().invoke(app, ["study", str(path), "--out", str(tmp_path / "o"),
                                      "--prices", f"csv:{prices_dir}"])
    assert result.exit_code == 2
    assert "'[red]BBCA[/red].XX'" in result.stderr


def test_many_problems_are_capped(tmp_path: Path, prices_dir: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(ev(*[f"e{i},BBCA.JK,2023-06-14T10:00:00,,,x" for i in range(45)]))
    result = CliRunner().invoke(app, ["study", str(path), "--out", str(tmp_path / "o"),
                                      "--prices", f"csv:{prices_dir}"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 21 and "25 more problem(s)" in lines[-1]


def test_unwritable_out_is_bad_input(tmp_path: Path, prices_dir: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(ev(GOOD.strip()))
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = CliRunner().invoke(app, ["study", str(events), "--out", str(blocker),
                                      "--prices", f"csv:{prices_dir}", "-q"])
    assert result.exit_code == 2 and "a-file" in result.stderr
    assert "internal error" not in result.stderr


def test_real_process_prints_no_traceback(tmp_path: Path, prices_dir: Path) -> None:
    """One bad input through a real ``python -m marketreact`` process (not CliRunner)."""
    import subprocess
    import sys

    events = tmp_path / "events.csv"
    events.write_bytes(ev("e1,BBCA.JK,2023-06-14T10:00:00,,,naive").encode())
    proc = subprocess.run([sys.executable, "-m", "marketreact", "study", str(events), "--out",
                           str(tmp_path / "o"), "--prices", f"csv:{prices_dir}"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "events.csv:2, field 'timestamp'" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
