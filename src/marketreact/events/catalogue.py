"""Event catalogues: load, validate and normalise dated news events.

A catalogue is a CSV or JSON Lines file with one event per row:

``event_id, ticker`` (required), and either ``timestamp`` (ISO 8601 with a UTC
offset, e.g. ``2023-12-05T10:30:00+07:00``) or ``date`` (``YYYY-MM-DD``) with
``timing`` in ``pre | intra | post | unknown``. Optional columns: ``headline,
source, url, sentiment, market, exchange``; any other column is kept as an
event attribute (numeric where every value parses as a number).

Attributes live in their own namespace: an extra column whose name is one of
:data:`RESERVED_COLUMNS` (compared case-insensitively; a column the study or the
backtest computes, such as ``beta`` or ``car``, or an internal one such as
``line``) is renamed ``user_<name>`` and a note says so, so input never replaces
output. When ``user_<name>`` is taken too, the catalogue is refused.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from marketreact._textio import check_separator, read_input
from marketreact._typing import StrPath
from marketreact.calendar import TIMINGS, exchange_for_ticker, normalise_exchange
from marketreact.errors import InputError, InputProblem

REQUIRED = ("event_id", "ticker")
OPTIONAL = ("timestamp", "date", "timing", "headline", "source", "url", "sentiment", "market",
            "exchange")
_TIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
_NAIVE = re.compile(_TIME + r"$", re.IGNORECASE)
_WITH_OFFSET = re.compile(_TIME + r"\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SPACE = re.compile(r"\s")
#: Years an event may fall in; anything else is a typo.
YEARS = (1900, 2100)
#: Every column name the package computes or uses internally: the catalogue's own
#: columns (``line`` included), the columns of ``events.csv``, ``car.csv``,
#: ``abnormal_returns.csv``, ``aar.csv``, ``aggregate.csv`` and ``failures.csv`` of a
#: study and of ``trades.csv`` of a backtest (plus its internal ``signal``). An extra
#: catalogue column with one of these names (any case) becomes ``user_<name>``;
#: ``fwd_<h>`` (a forward-return horizon of the backtest) counts as reserved too.
RESERVED_COLUMNS: frozenset[str] = frozenset({
    # the catalogue frame
    *REQUIRED, *OPTIONAL, "line",
    # events.csv
    "day0", "model", "n_estimation", "estimation_start", "estimation_end", "alpha", "beta",
    "b_mkt_rf", "b_smb", "b_hml", "b_rmw", "b_cma", "b_mom", "sigma", "df",
    "missing_event_days", "spanning_returns",
    # events.csv: duplicate and overlap screening, stale prices, event-date clustering
    "n_headlines", "duplicate_ids", "overlaps_event", "overlaps_estimation", "zero_returns",
    "zero_returns_estimation", "stale", "clustered_day0",
    # car.csv
    "window", "car", "car_se", "car_t", "car_p", "bhar", "sessions", "missing",
    "bhar_ref",  # (a `reference` column is the catalogue's own: see --reference)
    # abnormal_returns.csv
    "rel_day", "return", "market_return", "expected", "ar", "ar_se", "span", "price",
    "market_price",
    # the same files of volume and volatility studies (marketreact.panel.measures)
    "log_volume", "market_log_volume", "expected_log_volume", "abnormal_return",
    *(f"{c}{m}{s}" for m in ("av", "avol") for c in ("", "c", "a", "ca")
      for s in ("", "_se", "_t", "_p")),
    # aar.csv and aggregate.csv (marketreact.inference.TEST_NAMES and their p-values)
    "n", "aar", "caar", "mean_bhar", "t", "p", "boot_lo", "boot_hi", "mean_bhar_ref", "n_ref",
    *(name + suffix for name in ("bw1980", "bw1985", "patell", "bmp", "kp_patell", "kp_bmp",
                                 "lamb", "sign", "gsign", "rank", "wilcoxon", "boot",
                                 "skew_t", "csign", "mrank", "grank_t", "grank_z", "bhar_t",
                                 "bhar_tsa", "bhar_tsa_boot", "bhar_ref_t", "bhar_ref_tsa",
                                 "bhar_ref_tsa_boot")
      for suffix in ("", "_p", "_p_adj")),
    "t_p_adj",
    # failures.csv
    "reason",
    # trades.csv of a backtest (and its internal signal column)
    "public_time", "known_time", "signal", "direction", "weight_basis", "entry_date",
    "entry_kind", "entry_time", "entry_price", "exit_date", "exit_time", "exit_price",
    "stock_return", "market_entry_date", "market_entry_kind", "hedge_ratio", "gross_return",
    "cost", "net_return", "fwd_1", "fwd_5", "fwd_10", "fwd_20",
})
_RESERVED_FOLDED = frozenset(c.casefold() for c in RESERVED_COLUMNS)
_RESERVED_PATTERN = re.compile(r"^fwd_\d+$", re.IGNORECASE)
#: Prefix given to an extra column whose name is reserved.
USER_PREFIX = "user_"
_SENTIMENT_WORDS = {"positive": 1.0, "pos": 1.0, "negative": -1.0, "neg": -1.0, "neutral": 0.0,
                    "neu": 0.0}


#: Python's ``\s`` on ASCII text, for Arrow (RE2's ``\s`` leaves out ``\x0b`` and
#: ``\x1c``-``\x1f``, so pandas would run a pattern with ``\s`` value by value in Python).
_ASCII_SPACE = r"[\t\n\x0b\x0c\r\x1c-\x1f ]"


def _matches(text: pd.Series, pattern: re.Pattern[str], search: bool = False) -> np.ndarray:
    r"""``text.str.match(pattern)`` as a bool array, run by Arrow where it gives the same answer.

    With ``search``, ``text.str.contains(pattern)`` (a match anywhere). Arrow's regular
    expressions read ``\d`` as an ASCII digit, Python's as any decimal digit, and
    ``\s`` is given to Arrow as the ASCII characters Python counts as whitespace: on
    ASCII values both agree, and values with non-ASCII characters that Arrow does not
    match are checked again with Python's ``re``.
    """
    arrow = pattern.pattern.replace(r"\s", _ASCII_SPACE)
    case = not pattern.flags & re.IGNORECASE
    try:
        fast = (text.str.contains(arrow, case=case, regex=True) if search
                else text.str.match(arrow, case=case))
        out = np.array(fast.fillna(False), dtype=bool)  # a copy: Arrow's may be read-only
    except (TypeError, ValueError):  # a backend without that regex: Python's re
        fast = text.str.contains(pattern, regex=True) if search else text.str.match(pattern)
        return fast.fillna(False).to_numpy(dtype=bool)
    again = ~out & ~text.str.isascii().fillna(True).to_numpy(dtype=bool)
    if again.any():
        find = pattern.search if search else pattern.match
        out[again] = [bool(find(v)) for v in text[again]]
    return out


def _year_in_range(text: pd.Series) -> np.ndarray:
    r"""Return True where ``text`` does not start with a year outside :data:`YEARS`.

    The year is read by Arrow for ASCII values (four ASCII digits), and as before
    (Python's ``\d``, ``pandas.to_numeric``) for the values with other characters.
    """
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # no Arrow: pandas alone
        pa = pc = None
    try:
        if pa is None:
            raise ValueError("no Arrow")
        head = pa.array(text.str.slice(0, 4), type=pa.string())
        digits = pc.fill_null(pc.match_substring_regex(head, "^[0-9]{4}"), False)
        year = pc.cast(pc.if_else(digits, head, pa.scalar(None, pa.string())), pa.int64())
        year_f = year.to_numpy(zero_copy_only=False).astype(float)
        slow = ~pc.fill_null(pc.string_is_ascii(head), True).to_numpy(zero_copy_only=False)
    except (TypeError, ValueError, ArithmeticError):  # pandas alone (ArrowInvalid is a ValueError)
        year_f, slow = np.full(len(text), np.nan), np.ones(len(text), dtype=bool)
    out = np.isnan(year_f) | ((year_f >= YEARS[0]) & (year_f <= YEARS[1]))
    if slow.any():
        sub = text[slow]
        year = pd.to_numeric(sub.str.slice(0, 4).where(sub.str.match(r"^\d{4}"), None),
                             errors="coerce")
        out[slow] = (year.isna() | ((year >= YEARS[0]) & (year <= YEARS[1]))).to_numpy()
    return out


@dataclass(frozen=True)
class EventCatalogue:
    """A validated set of events.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per valid event with columns ``event_id, ticker, exchange,
        market, timestamp`` (UTC, NaT for date-only events), ``date``
        (tz-naive), ``timing``, ``line`` (source line) and every optional or
        extra column of the input.
    problems : tuple of InputProblem
        Problems with rows that were left out (empty when the input was clean).
    source : str
        Where the events came from.
    attributes : tuple of str
        The extra columns of the input (as named in ``frame``).
    notes : tuple of str
        One line per thing worth telling about the input, e.g. a renamed column.
    renamed : tuple of (str, str)
        ``(input name, frame name)`` of every extra column renamed because its
        name is reserved (see :data:`RESERVED_COLUMNS`).
    """

    frame: pd.DataFrame
    problems: tuple[InputProblem, ...] = ()
    source: str = "<frame>"
    attributes: tuple[str, ...] = field(default=())
    notes: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def event_ids(self) -> list[str]:
        """Identifiers of the valid events, in input order."""
        return self.frame["event_id"].tolist()


def _split_plain_csv(text: str) -> tuple[list[str], list[list[str]], list[int]] | None:
    """Header, columns and line numbers of a CSV text without quotes, or None.

    A text with no double quote, carriage return or NUL splits on newlines and commas
    exactly as :mod:`csv` reads it (one record per physical line); rows whose cells are
    all blank are skipped as :func:`_read_csv_rows` skips them. ``None`` when the text
    needs the csv module (quotes) or when the rows differ in width (so the row-by-row
    reader reports them).
    """
    if '"' in text or "\r" in text or "\x00" in text:
        return None
    body_text = text[:-1] if text.endswith("\n") else text
    first_nl = body_text.find("\n")
    if first_nl <= 0:
        return None
    header = body_text[:first_nl].split(",")
    width = len(header)
    raw = np.frombuffer(body_text.encode("utf-8"), dtype=np.uint8)
    ends = np.flatnonzero(raw == 10)
    starts = np.concatenate([[0], ends + 1])
    ends = np.concatenate([ends, [len(raw)]])
    if width < 2 or starts[-1] >= len(raw):
        return None  # an empty last line: the row-by-row reader says so
    # per line [start, next start): its bytes and newline, which is no comma nor solid;
    # counted by binary search in the positions (no running sum over every byte)
    bounds = np.append(starts, len(raw))

    def per_line(positions: np.ndarray) -> np.ndarray:
        return np.diff(np.searchsorted(positions, bounds))

    if not (per_line(np.flatnonzero(raw == 44)) == width - 1).all():
        return None  # ragged rows or blank lines: the row-by-row reader says which
    # Every line has `width` fields: split all fields at once and take every width-th.
    fields = body_text.replace("\n", ",").split(",")
    columns = [fields[width + j::width] for j in range(width)]
    n = len(starts) - 1
    # Rows whose cells are all blank are skipped (as the csv module's reader does here):
    # lines with nothing but ASCII blanks and commas, checked exactly when non-ASCII.
    hollow = np.isin(raw, np.frombuffer(b" \t\x0b\x0c,\n", dtype=np.uint8)) | (raw >= 128)
    maybe = np.flatnonzero((per_line(np.flatnonzero(hollow)) == np.diff(bounds))[1:])
    blank = [int(i) for i in maybe
             if not raw[starts[i + 1]:ends[i + 1]].tobytes().decode("utf-8")
             .replace(",", "").strip()]
    lines = list(range(2, n + 2))
    if blank:
        drop = set(blank)
        keep = [i for i in range(n) if i not in drop]
        columns = [[col[i] for i in keep] for col in columns]
        lines = [i + 2 for i in keep]
    return header, columns, lines


def _read_csv_rows(text: str, source: str) -> tuple[list[str], list[list[str]], list[int]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError([InputProblem(source, 1, None, None, "file is empty")]) from None
    except csv.Error as exc:
        raise InputError([InputProblem(source, 1, None, None,
                                       f"cannot read as CSV ({exc})")]) from None
    header = [h.strip() for h in header]
    check_separator(header, source)
    rows: list[list[str]] = []
    lines: list[int] = []
    start = reader.line_num + 1
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                rows.append(row)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        why = ("a quoted field that starts on this line is never closed"
               if "unexpected end of data" in str(exc) else f"cannot read as CSV ({exc})")
        raise InputError([InputProblem(source, start, None, None, why)]) from None
    return header, rows, lines


def _json_why(exc: Exception) -> str:
    """What is wrong with a JSON text, in words."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(getattr(exc, "msg", exc))


def _read_jsonl_rows(
    text: str, source: str
) -> tuple[list[str], list[list[str]], list[int], list[InputProblem]]:
    records: list[dict[str, object]] = []
    lines: list[int] = []
    problems: list[InputProblem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            problems.append(InputProblem(source, number, None, line.strip(),
                                         f"not valid JSON ({_json_why(exc)})"))
            continue
        if not isinstance(obj, dict):
            problems.append(InputProblem(source, number, None, line.strip(),
                                         "each line must be a JSON object"))
            continue
        records.append(obj)
        lines.append(number)
    header: list[str] = []
    for rec in records:
        header.extend(k for k in rec if k not in header)
    rows = [["" if rec.get(k) is None else str(rec.get(k)) for k in header] for rec in records]
    return header, rows, lines, problems


def _read_json_array(
    text: str, source: str
) -> tuple[list[str], list[list[str]], list[int], list[InputProblem]]:
    """Read a JSON array of event objects (lines are those of each object's start)."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InputError([InputProblem(source, getattr(exc, "lineno", None), None, None,
                                       f"not valid JSON ({_json_why(exc)})")]) from None
    problems: list[InputProblem] = []
    starts = [m.start() for m in re.finditer(r"\{", text)]
    records: list[dict[str, object]] = []
    lines: list[int] = []
    for k, obj in enumerate(data):
        line = text.count("\n", 0, starts[k]) + 1 if k < len(starts) else None
        if not isinstance(obj, dict):
            problems.append(InputProblem(source, line, None, str(obj)[:60],
                                         f"item {k + 1} is not a JSON object"))
            continue
        records.append(obj)
        lines.append(line if line is not None else k + 2)
    header: list[str] = []
    for rec in records:
        header.extend(k for k in rec if k not in header)
    rows = [["" if rec.get(k) is None else str(rec.get(k)) for k in header] for rec in records]
    return header, rows, lines, problems


def read_events(path: StrPath, *, strict: bool = True) -> EventCatalogue:
    """Load and validate an event catalogue from a CSV or JSON Lines file.

    Parameters
    ----------
    path : str or path-like
        ``.csv`` file, or ``.jsonl`` / ``.ndjson`` / ``.json`` file with one object per line.
    strict : bool, default True
        Raise :class:`~marketreact.errors.InputError` listing every problem when
        any row is invalid. When False, return the valid rows and record the
        problems on the catalogue.

    Returns
    -------
    EventCatalogue
    """
    path = Path(path)
    source = str(path)
    text = read_input(path, "event file")
    if not text.strip():
        raise InputError([InputProblem(source, 1, None, None, "file is empty")])
    read_problems: list[InputProblem] = []
    if path.suffix.lower() == ".json" and text.lstrip().startswith("["):
        header, rows, lines, read_problems = _read_json_array(text, source)
    elif path.suffix.lower() in {".jsonl", ".ndjson", ".json"}:
        header, rows, lines, read_problems = _read_jsonl_rows(text, source)
    else:
        plain = _split_plain_csv(text)
        if plain is not None:
            header, columns, lines = plain
            header = [h.strip() for h in header]
            check_separator(header, source)
            return _catalogue_from_columns(header, columns, lines, source, strict, [])
        header, rows, lines = _read_csv_rows(text, source)
    return _catalogue_from_rows(header, rows, lines, source, strict, read_problems)


def events_from_frame(frame: pd.DataFrame, *, source: str = "<frame>",
                      strict: bool = True) -> EventCatalogue:
    """Validate events given as a DataFrame (same columns as the file format).

    ``timestamp`` may hold tz-aware Timestamps and ``date`` may hold dates;
    row ``i`` is reported as line ``i + 2`` as if the frame were a CSV file.
    """
    header = [str(c) for c in frame.columns]
    columns = [_text_column(frame.iloc[:, j]) for j in range(frame.shape[1])]
    lines = list(range(2, len(frame) + 2))
    return _catalogue_from_columns(header, columns, lines, source, strict, [])


def _cell(v: object) -> str:
    """The text of one value of a frame, as a CSV file would hold it."""
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
        return ""
    if isinstance(v, pd.Timestamp):
        return v.isoformat() if v.tzinfo is not None or v.time() != pd.Timestamp(0).time() \
            else v.strftime("%Y-%m-%d")
    return str(v)


def _text_column(col: pd.Series) -> np.ndarray:
    """``[_cell(v) for v in col]`` as an object array, vectorised for the usual dtypes.

    Strings, numbers, booleans, UTC timestamps and dates at midnight are converted
    column-wise; any other value (a non-UTC or sub-second timestamp, a time of day in a
    date column, an object that is not a string) goes through :func:`_cell` one by one,
    so the text is the same as the row-by-row conversion for every value.
    """
    n = len(col)
    out = np.empty(n, dtype=object)
    dtype = col.dtype
    aware = isinstance(dtype, pd.DatetimeTZDtype)
    if aware or (isinstance(dtype, np.dtype) and dtype.kind == "M"):
        try:  # wall time (naive) or UTC (aware) in ns; beyond ns range: value by value
            ns = (col.dt.tz_convert("UTC").dt.tz_localize(None) if aware else col) \
                .to_numpy("datetime64[ns]")
        except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
            out[:] = [_cell(v) for v in col]
            return out
        na = np.isnat(ns)
        out[na] = ""
        i64 = ns.view(np.int64)
        day = np.int64(86_400 * 10**9)
        if aware:
            fast = ~na & (i64 % 10**9 == 0) & (str(getattr(dtype, "tz", None)) == "UTC")
            text = np.char.add(np.datetime_as_string(ns[fast], unit="s"), "+00:00")
        else:
            fast = ~na & (i64 % day == 0)
            text = np.datetime_as_string(ns[fast], unit="D")
        out[fast] = text.astype(object)
        slow = ~na & ~fast
        if slow.any():
            out[slow] = [_cell(v) for v in col[slow]]
        return out
    values = col.to_numpy(dtype=object)
    na = col.isna().to_numpy()
    if isinstance(dtype, np.dtype) and dtype.kind in "fiub":
        out[:] = list(map(str, col.tolist()))
        out[na] = ""
        return out
    if isinstance(dtype, pd.StringDtype) or pd.api.types.infer_dtype(
            values[~na], skipna=False) in ("string", "empty"):
        out[~na] = values[~na]
        if na.any():
            out[na] = [_cell(v) for v in values[na]]
        return out
    out[:] = [_cell(v) for v in col]
    return out


def is_reserved(name: str) -> bool:
    """True when ``name`` (any case) is the name of a computed or internal column."""
    return name.casefold() in _RESERVED_FOLDED or bool(_RESERVED_PATTERN.match(name))


def _rename_reserved(header: list[str], source: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Give every extra column with a reserved name the ``user_`` prefix.

    Raises :class:`InputError` (line 1, the header) when the new name is taken.
    """
    known = REQUIRED + OPTIONAL
    taken = {h.casefold() for h in header}
    renamed: list[tuple[str, str]] = []
    out = []
    for h in header:
        if h in known or not is_reserved(h):
            out.append(h)
            continue
        new = USER_PREFIX + h
        if new.casefold() in taken:
            raise InputError([InputProblem(
                source, 1, h, None,
                f"column {h!r} has the name of a computed column and would be renamed "
                f"{new!r}, but the catalogue already has a column {new!r}: rename one of them")])
        taken.add(new.casefold())
        renamed.append((h, new))
        out.append(new)
    return out, renamed


def _catalogue_from_rows(
    header: list[str],
    rows: list[list[str]],
    lines: list[int],
    source: str,
    strict: bool,
    problems: list[InputProblem],
) -> EventCatalogue:
    """Validate rows of text (see :func:`_catalogue_from_columns`)."""
    width = len(header)
    if rows:
        for i, (row, line) in enumerate(zip(rows, lines, strict=True)):
            if len(row) != width:
                problems.append(InputProblem(source, line, None, None,
                                             f"row has {len(row)} fields, header has {width}"))
                rows[i] = (row + [""] * width)[:width]
        columns = [list(col) for col in zip(*rows, strict=True)]
    else:
        columns = [[] for _ in header]
    return _catalogue_from_columns(header, columns, lines, source, strict, problems)


def _catalogue_from_columns(
    header: list[str],
    columns: list[list[str]] | list[np.ndarray],
    lines: list[int],
    source: str,
    strict: bool,
    problems: list[InputProblem],
) -> EventCatalogue:
    """Validate columns of text, one per header name, all as long as ``lines``.

    The checks run on whole columns; messages are built only for the rows that fail.
    """
    rows = lines  # the number of rows, for the checks that only ask whether there are any
    header = [h.strip().lower() if h.strip().lower() in REQUIRED + OPTIONAL else h.strip()
              for h in header]
    if problems and not rows:  # nothing could be read: say why, not "columns missing"
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

    def flag(mask: np.ndarray, column: str, message: str) -> None:
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
        shaped = _matches(date_text, _ISO_DATE)
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

    codes, uniques = pd.factorize(ticker)  # one look-up per ticker, not per row
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
        "event_id": ids,
        "ticker": ticker,
        "exchange": exchange,
        "market": (raw["market"].str.upper() if "market" in raw
                   else pd.Series("", index=raw.index)),
        "timestamp": timestamps,
        "date": dates,
        "timing": timing,
        "line": line_arr,
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
