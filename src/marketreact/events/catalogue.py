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
import pyarrow as pa
import pyarrow.compute as pc

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


#: The bytes a row of blank cells may hold besides its commas (ASCII blanks; any
#: non-ASCII character is checked exactly), as :func:`_split_plain_csv` reads them.
_BLANK_BYTES = frozenset(b" \t\x0b\x0c")
_MAYBE_BLANK = r"^[\t\x0b\x0c \x{80}-\x{10FFFF}]*$"


def _arrow_plain_csv(text: str) -> tuple[list[str], list[pa.ChunkedArray], list[int]] | None:
    """:func:`_split_plain_csv` read by Arrow: the columns as Arrow text, or None.

    The same texts qualify (no quotes, carriage returns or NUL, no empty line, every
    line as wide as the header: Arrow refuses a ragged row), so splitting on newlines
    and commas is all there is to it: Arrow reads every cell as text (an empty cell is
    ``""``, never null), and the rows of blanks :func:`_split_plain_csv` skips are
    dropped here. ``None`` without Arrow text in pandas or for any other text (the csv
    module reads it).
    """
    if _text_dtype().storage != "pyarrow":
        return None
    if '"' in text or "\r" in text or "\x00" in text:
        return None
    body_text = text[:-1] if text.endswith("\n") else text
    first_nl = body_text.find("\n")
    if first_nl <= 0 or body_text.endswith("\n") or "\n\n" in body_text:
        return None  # empty lines: the row-by-row reader
    header = body_text[:first_nl].split(",")
    width = len(header)
    if width < 2:
        return None
    import pyarrow.csv as pacsv

    n = body_text.count("\n", first_nl)
    body = body_text[first_nl + 1:].encode("utf-8")
    names = [f"c{j}" for j in range(width)]
    try:
        table = pacsv.read_csv(
            pa.py_buffer(body),
            read_options=pacsv.ReadOptions(column_names=names),
            parse_options=pacsv.ParseOptions(delimiter=",", quote_char=False,
                                              double_quote=False, escape_char=False,
                                              newlines_in_values=False,
                                              ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.large_string()), null_values=[],
                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, ValueError):
        return None  # a ragged row
    if table.num_rows != n:
        return None
    # A row of blanks has a blank first cell: only those rows are looked at, line by
    # line (its cells joined by commas), as _split_plain_csv looks at them.
    first = table.column(0)
    maybe = np.flatnonzero(pc.fill_null(pc.match_substring_regex(first, _MAYBE_BLANK), False)
                           .to_numpy(zero_copy_only=False))
    blank = []
    for i in maybe.tolist():
        line = ",".join(table.column(j)[i].as_py() for j in range(width))
        if all(b in _BLANK_BYTES or b == 44 or b >= 128 for b in line.encode("utf-8")) \
                and not line.replace(",", "").strip():
            blank.append(i)
    lines = np.arange(2, n + 2)
    if blank:
        keep = np.ones(n, dtype=bool)
        keep[blank] = False
        table = table.filter(pa.array(keep))
        lines = lines[keep]
    return header, [table.column(j) for j in range(width)], lines.tolist()


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
        plain = _arrow_plain_csv(text) or _split_plain_csv(text)
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
    columns = [_frame_column(frame.iloc[:, j]) for j in range(frame.shape[1])]
    lines = list(range(2, len(frame) + 2))
    return _catalogue_from_columns(header, columns, lines, source, strict, [])


@dataclass(frozen=True)
class _Moments:
    """A datetime column of a frame, kept as it is until its text is asked for.

    :func:`_catalogue_from_columns` checks a UTC ``timestamp`` column and a naive
    ``date`` column on the values; any other use reads the text of :func:`_text_column`.
    """

    values: pd.Series


def _text_dtype() -> pd.StringDtype:
    """The dtype ``astype(str)`` gives a column of text (Arrow-backed where it can be)."""
    return pd.Series([""], dtype=object).astype(str).dtype


def _frame_column(col: pd.Series) -> np.ndarray | pa.ChunkedArray | _Moments:
    """A column of a frame for :func:`_catalogue_from_columns`.

    Datetime columns stay typed (:class:`_Moments`), Arrow-backed text stays Arrow (a
    missing value is the text :func:`_cell` gives it), anything else is the text of
    :func:`_text_column`.
    """
    dtype = col.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or (isinstance(dtype, np.dtype)
                                                 and dtype.kind == "M"):
        return _Moments(col.reset_index(drop=True))
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        arrow = col.array.__arrow_array__()
        if pa.types.is_large_string(arrow.type) or pa.types.is_string(arrow.type):
            return pc.fill_null(arrow, _cell(dtype.na_value))
    return _text_column(col)


def _text_series(col: object) -> pd.Series:
    """One column as stripped text: ``Series(col).fillna("").astype(str).str.strip()``.

    Arrow text is kept in Arrow (no round trip through Python strings).
    """
    if isinstance(col, _Moments):
        col = _text_column(col.values)
    dtype = _text_dtype()
    if dtype.storage == "pyarrow":
        arrow = None
        if isinstance(col, (pa.Array, pa.ChunkedArray)):
            arrow = col
        else:
            try:
                arrow = pa.array(np.asarray(col, dtype=object), type=pa.large_string(),
                                 from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, UnicodeError):
                arrow = None  # not all text: pandas turns each value to text
            else:
                arrow = pc.fill_null(arrow, "")
        if arrow is not None:
            if not pa.types.is_large_string(arrow.type):
                arrow = pc.cast(arrow, pa.large_string())
            arrow = pc.utf8_trim_whitespace(arrow)
            if isinstance(arrow, pa.ChunkedArray):  # one chunk: faster kernels after
                arrow = arrow.combine_chunks()
            arrow = pa.chunked_array([arrow])
            return pd.Series(pd.arrays.ArrowStringArray(arrow, dtype=dtype))
    if isinstance(col, (pa.Array, pa.ChunkedArray)):
        col = col.to_pylist()
    text = pd.Series(np.asarray(col, dtype=object), dtype=object).fillna("")
    return text.astype(str).str.strip()


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


def _nat(n: int) -> np.ndarray:
    return np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")


def _in_years(values: pd.Series) -> np.ndarray:
    """True where a datetime's year (wall time) is within :data:`YEARS` (NaT: False)."""
    year = values.dt.year.to_numpy(dtype=float, na_value=np.nan)
    return (year >= YEARS[0]) & (year <= YEARS[1])


@dataclass(frozen=True)
class _StampChecks:
    """The checks of the ``timestamp`` column, one bool array per message.

    ``has`` (not empty), ``naive`` (no UTC offset), ``far`` (year out of range),
    ``unread`` (not an ISO 8601 timestamp with an offset) and ``parsed`` (UTC, ns).
    """

    has: np.ndarray
    naive: np.ndarray
    far: np.ndarray
    unread: np.ndarray
    parsed: np.ndarray

    @classmethod
    def read(cls, text: pd.Series) -> _StampChecks:
        """Check timestamps given as text."""
        n = len(text)
        has = (text != "").to_numpy()
        if has.any() and not has.all():  # the checks on the rows with a timestamp only
            sub = cls.read(text[has])
            out = cls(has, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool),
                      np.zeros(n, dtype=bool), _nat(n))
            for name in ("naive", "far", "unread", "parsed"):
                getattr(out, name)[has] = getattr(sub, name)
            return out
        shaped = _matches(text, _WITH_OFFSET)
        naive = np.zeros(n, dtype=bool)
        other = has & ~shaped  # a text with an offset has none of the naive shape
        if other.any():
            naive[other] = _matches(text[other], _NAIVE)
        far = np.zeros(n, dtype=bool)
        unread = np.zeros(n, dtype=bool)
        parsed = _nat(n)
        if has.any():
            far = has & ~_year_in_range(text)
            shaped = shaped & ~far
            read = np.zeros(n, dtype=bool)
            if shaped.any():  # mostly distinct values: no cache of unique values
                stamps = pd.to_datetime(text[shaped], format="ISO8601", utc=True,
                                        errors="coerce", cache=False)
                parsed[shaped] = (stamps.astype("datetime64[ns, UTC]").dt.tz_localize(None)
                                  .to_numpy("datetime64[ns]"))
                read[shaped] = stamps.notna().to_numpy()
            unread = has & ~naive & ~far & ~read
        return cls(has, naive, far, unread, parsed)

    @classmethod
    def of(cls, typed: _Moments | None, text: pd.Series) -> _StampChecks:
        """Check a column of text, or a datetime column of a frame as its text would be.

        A UTC column's values within :data:`YEARS` are what their text would parse to
        (ISO 8601 with ``+00:00``); every other value is checked on its text.
        """
        if typed is None:
            return cls.read(text)
        values = typed.values
        n = len(values)
        dtype = values.dtype
        na = values.isna().to_numpy()
        if isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC":
            regular = ~na & _in_years(values)
            rest = ~na & ~regular
        else:
            regular = np.zeros(n, dtype=bool)
            rest = np.ones(n, dtype=bool)
        parsed = _nat(n)
        if regular.any():
            parsed[regular] = (values[regular].dt.tz_convert("UTC").dt.tz_localize(None)
                               .to_numpy("datetime64[ns]"))
        out = cls(~na, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool),
                  np.zeros(n, dtype=bool), parsed)
        if rest.any():
            sub = cls.read(_text_series(_text_column(values[rest])))
            for name in ("has", "naive", "far", "unread", "parsed"):
                getattr(out, name)[rest] = getattr(sub, name)
        return out

    @property
    def stamps(self) -> pd.Series:
        """``parsed`` as a UTC Series."""
        return pd.Series(self.parsed).dt.tz_localize("UTC")


def _has_date(typed: _Moments | None, text: pd.Series) -> np.ndarray:
    """True where the ``date`` column is not empty."""
    if typed is None:
        return (text != "").to_numpy()
    return ~typed.values.isna().to_numpy()


@dataclass(frozen=True)
class _DateChecks:
    """The checks of the ``date`` column on the rows that ``need`` a date.

    ``far`` (year out of range), ``unread`` (not YYYY-MM-DD) and ``parsed`` (naive, ns).
    """

    far: np.ndarray
    unread: np.ndarray
    parsed: np.ndarray

    @classmethod
    def read(cls, text: pd.Series, need: np.ndarray) -> _DateChecks:
        """Check dates given as text."""
        n = len(text)
        far = np.zeros(n, dtype=bool)
        unread = np.zeros(n, dtype=bool)
        parsed = _nat(n)
        if need.any() and not need.all():  # the checks on the rows that need a date only
            sub = cls.read(text[need], np.ones(int(need.sum()), dtype=bool))
            far[need], unread[need], parsed[need] = sub.far, sub.unread, sub.parsed
        elif need.any():
            shaped = _matches(text, _ISO_DATE)
            far = need & shaped & ~_year_in_range(text)
            take = need & shaped & ~far
            read = np.zeros(n, dtype=bool)
            if take.any():
                days = pd.to_datetime(text[take], format="%Y-%m-%d", errors="coerce")
                parsed[take] = days.astype("datetime64[ns]").to_numpy("datetime64[ns]")
                read[take] = days.notna().to_numpy()
            unread = need & ~far & ~read
        return cls(far, unread, parsed)

    @classmethod
    def of(cls, typed: _Moments | None, text: pd.Series, need: np.ndarray) -> _DateChecks:
        """Check a column of text, or a datetime column of a frame as its text would be.

        A naive column's values at midnight within :data:`YEARS` are what their text
        (``YYYY-MM-DD``) would parse to; every other value is checked on its text.
        """
        if typed is None:
            return cls.read(text, need)
        values = typed.values
        n = len(values)
        if isinstance(values.dtype, np.dtype):
            midnight = (values == values.dt.normalize()).to_numpy()
            regular = need & midnight & _in_years(values)
        else:
            regular = np.zeros(n, dtype=bool)
        rest = need & ~regular
        parsed = _nat(n)
        if regular.any():
            parsed[regular] = values[regular].to_numpy("datetime64[ns]")
        out = cls(np.zeros(n, dtype=bool), np.zeros(n, dtype=bool), parsed)
        if rest.any():
            sub = cls.read(_text_series(_text_column(values[rest])), np.ones(rest.sum(), bool))
            for name in ("far", "unread", "parsed"):
                getattr(out, name)[rest] = getattr(sub, name)
        return out

    @property
    def dates(self) -> pd.Series:
        """``parsed`` as a Series."""
        return pd.Series(self.parsed)


def _duplicated(text: pd.Series) -> np.ndarray:
    """``text.duplicated(keep="first")`` as a bool array, by Arrow for Arrow text.

    Arrow numbers the distinct values in order of first appearance, so a row repeats an
    earlier one exactly when its number is not above every number before it.
    """
    if isinstance(text.array, pd.arrays.ArrowStringArray):
        encoded = pc.dictionary_encode(text.array.__arrow_array__())
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        if not len(codes):
            return np.zeros(0, dtype=bool)
        before = np.maximum.accumulate(np.concatenate([[-1], codes[:-1]]))
        return codes <= before
    return text.duplicated(keep="first").to_numpy()


def _to_numbers(text: pd.Series) -> pd.Series:
    """``pandas.to_numeric(text, errors="coerce")``, reading each distinct value once.

    When fewer than half the values are distinct, the distinct values are read (the
    same set of values, so the same dtype) and spread back over the rows.
    """
    codes, uniques = pd.factorize(text)
    if len(uniques) * 2 >= len(text) or (codes < 0).any():
        return pd.to_numeric(text, errors="coerce")
    numbers = pd.to_numeric(pd.Series(uniques, dtype=text.dtype), errors="coerce")
    if not isinstance(numbers.dtype, np.dtype):
        return pd.to_numeric(text, errors="coerce")
    return pd.Series(numbers.to_numpy()[codes], index=text.index, name=text.name)


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
    n = len(lines)
    typed = {h: col for h, col in zip(header, columns, strict=True)
             if h in ("timestamp", "date") and isinstance(col, _Moments)}
    raw = pd.DataFrame({h: _text_series(col) for h, col in zip(header, columns, strict=True)
                        if h not in typed}, columns=[h for h in header if h not in typed])
    raw.index = pd.RangeIndex(n)
    index = raw.index
    line_arr = np.asarray(lines, dtype=np.int64)
    bad = np.zeros(n, dtype=bool)
    if problems:
        where = {line: i for i, line in enumerate(lines)}
        bad[[where[p.line] for p in problems if p.line in where]] = True

    def text_at(idx: int, column: str) -> str:
        if column in typed:  # the text a file would hold (see _text_column)
            return str(_text_series(_text_column(typed[column].values.iloc[[idx]])).iloc[0])
        return raw.at[idx, column]

    def flag(mask: np.ndarray, column: str, message: str) -> None:
        for idx in np.flatnonzero(mask):
            problems.append(InputProblem(source, int(line_arr[idx]), column,
                                         text_at(int(idx), column), message))
        bad[mask] = True

    for col in REQUIRED:
        flag((raw[col] == "").to_numpy(), col, "value is empty")
    ticker = raw["ticker"].str.upper()
    flag(_matches(ticker, _SPACE, search=True), "ticker", "ticker contains spaces")

    empty = pd.Series("", index=index)
    ts = _StampChecks.of(typed.get("timestamp"), raw.get("timestamp", empty))
    has_ts = ts.has
    has_date = _has_date(typed.get("date"), raw.get("date", empty))
    flag(~has_ts & ~has_date, "timestamp" if "timestamp" in header else "date",
         "event has neither a timestamp nor a date")
    flag(ts.naive, "timestamp",
         "timestamp has no UTC offset; write it as e.g. 2023-12-05T10:30:00+07:00 or ...Z")
    flag(ts.far, "timestamp", f"year out of range ({YEARS[0]}-{YEARS[1]})")
    flag(ts.unread, "timestamp",
         "not an ISO 8601 timestamp with a UTC offset (e.g. 2023-12-05T10:30:00+07:00)")
    timestamps = ts.stamps
    need_date = has_date & ~has_ts
    day = _DateChecks.of(typed.get("date"), raw.get("date", empty), need_date)
    flag(day.far, "date", f"year out of range ({YEARS[0]}-{YEARS[1]})")
    flag(day.unread, "date", "not a date in YYYY-MM-DD form")
    dates = day.dates
    timing = (raw["timing"].str.lower() if "timing" in raw
              else pd.Series("", index=index)).replace("", "unknown")
    flag(need_date & ~timing.isin(TIMINGS).to_numpy(), "timing",
         f"timing must be one of {', '.join(TIMINGS)}")
    timing = timing.where(need_date, "")

    codes, uniques = pd.factorize(ticker)  # one look-up per ticker, not per row
    by_ticker = np.array([exchange_for_ticker(t) or "" for t in uniques] + [""], dtype=object)
    exchange = pd.Series(by_ticker[codes], index=index)
    if "exchange" in raw:
        given = raw["exchange"] != ""
        codes, uniques = pd.factorize(raw["exchange"])
        norm = [normalise_exchange(v) if v else "" for v in uniques]
        mapped = pd.Series(np.array([*norm, ""], dtype=object)[codes], index=index)
        flag((given & mapped.isna()).to_numpy(), "exchange",
             "unknown exchange (use a MIC such as XIDX or XNYS)")
        exchange = exchange.where(~given, mapped.fillna(""))
    named = (raw["exchange"] != "").to_numpy() if "exchange" in raw else np.zeros(n, bool)
    flag((exchange == "").to_numpy() & (ticker != "").to_numpy() & ~named, "ticker",
         "cannot tell the exchange from the ticker suffix; add an 'exchange' column")

    sentiment = None
    if "sentiment" in raw:
        given = raw["sentiment"] != ""
        sentiment = _to_numbers(raw["sentiment"])
        words = (given & sentiment.isna()).to_numpy()  # only these may be words
        if words.any():
            sentiment = sentiment.astype(float)
            sentiment[words] = (raw["sentiment"][words].str.lower().map(_SENTIMENT_WORDS)
                                .to_numpy(dtype=float))
        flag((given & sentiment.isna()).to_numpy(), "sentiment",
             "sentiment must be a number or positive/negative/neutral")

    ids = raw["event_id"]
    flag(_duplicated(ids) & (ids != "").to_numpy(), "event_id", "duplicate event_id")

    out = pd.DataFrame({
        "event_id": ids,
        "ticker": ticker,
        "exchange": exchange,
        "market": (raw["market"].str.upper() if "market" in raw
                   else pd.Series("", index=index)),
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
    extras = [c for c in header if c not in REQUIRED + OPTIONAL]
    for col in extras:
        numeric = pd.to_numeric(raw[col].replace("", None), errors="coerce")
        all_numeric = bool((numeric.notna() | (raw[col] == "")).all()) and numeric.notna().any()
        out[col] = numeric.astype(float) if all_numeric else raw[col]
    problems.sort(key=lambda p: p.line or 0)
    if strict and problems:
        raise InputError(problems)
    frame = out.loc[~bad].reset_index(drop=True)
    return EventCatalogue(frame, tuple(problems), source, tuple(extras), notes, tuple(renamed))
