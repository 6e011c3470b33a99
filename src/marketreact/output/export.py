"""Export a results folder as an Excel workbook, LaTeX or Markdown tables, or Parquet files.

:func:`export_results` reads the tables a ``study`` or ``backtest`` run wrote (the CSV
files its manifest lists, and its JSON summary), lays out the paper tables with
:mod:`marketreact.render.tables` and writes one of four formats, each file atomically:

``xlsx``
    One workbook, one sheet per CSV table (numbers as numbers, text never read as a
    formula) and an ``about`` sheet with the run's settings, inputs and versions.
``latex``
    One ``.tex`` file of booktabs ``table`` floats (CAAR by window, CAR by event, AAR by
    day for a study; metrics and forward returns for a backtest), estimates with stars
    and t statistics in parentheses; ``standalone=True`` wraps them in a document.
``md``
    The same tables as Markdown pipe tables.
``parquet``
    One ``.parquet`` file per CSV table in a folder.

Files written into the results folder itself are added to its manifest, as ``report`` does.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd

from marketreact._atomic import atomic_open
from marketreact._typing import StrPath
from marketreact.errors import InputError, InputProblem
from marketreact.output.files import FORMULA_STARTS, atomic_write
from marketreact.output.folder import MANIFEST, add_to_manifest, check_results_folder
from marketreact.panel.measures import measure_words
from marketreact.render import tables as paper
from marketreact.render.summary import caar_bhar_table

#: Rows an Excel sheet holds below its header row.
EXCEL_MAX_ROWS = 1_048_575
#: Columns read as text whatever they hold (ids must not turn into numbers).
TEXT_COLUMNS = ("event_id", "ticker", "window", "exchange", "market", "metric", "reason",
                "headline", "id")
#: JSON summaries a results folder may hold, in order of preference.
SUMMARY_FILES = ("summary.json", "metrics.json")


class ExportFormat(StrEnum):
    """Formats :func:`export_results` writes."""

    xlsx = "xlsx"
    latex = "latex"
    md = "md"
    parquet = "parquet"


#: Default output name inside the results folder, per format.
DEFAULT_NAMES = {ExportFormat.xlsx: "tables.xlsx", ExportFormat.latex: "tables.tex",
                 ExportFormat.md: "tables.md", ExportFormat.parquet: "parquet"}


@dataclass(frozen=True)
class ResultsTables:
    """The tables and JSON summary of one results folder.

    Attributes
    ----------
    folder : pathlib.Path
        The results folder.
    kind : str
        ``study``, ``backtest`` or ``other`` (from the files present).
    tables : dict of str to pandas.DataFrame
        Each CSV file by its stem, in file-name order.
    summary : dict
        The parsed ``summary.json`` / ``metrics.json`` (empty when absent).
    """

    folder: Path
    kind: str
    tables: dict[str, pd.DataFrame]
    summary: dict[str, Any] = field(default_factory=dict)


_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _unguard(values: pd.Series) -> pd.Series:
    """Undo the CSV formula guard on numbers (``'-0.01`` back to ``-0.01``)."""
    text = values.astype("string")
    guarded = (text.str.startswith("'").fillna(False)
               & text.str[1:].str.match(_NUMBER).fillna(False)
               & text.str[1:2].isin(list(FORMULA_STARTS)).fillna(False))
    mask = guarded.to_numpy(dtype=bool)
    if not mask.any():
        return values
    out = values.astype(object).copy()
    out[mask] = text[mask].str[1:].astype(str)
    return out


def _typed(values: pd.Series) -> pd.Series:
    """Numbers where every non-missing cell is one; otherwise numbers mixed with text."""
    if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
        return values
    nums = pd.to_numeric(values, errors="coerce")
    present = values.notna()
    if present.any() and nums[present].notna().all():
        return nums
    if (nums.notna() & present).any():  # a mixed column such as metrics.csv's value
        return pd.Series([v if pd.isna(n) else int(n) if float(n).is_integer() else float(n)
                          for n, v in zip(nums, values, strict=True)],
                         index=values.index, dtype=object)
    return values


def read_table(path: StrPath) -> pd.DataFrame:
    """Read one results CSV: ids as text, guarded numbers restored, numeric columns typed."""
    path = Path(path)
    header = pd.read_csv(path, nrows=0).columns
    dtype = {c: str for c in header if c in TEXT_COLUMNS}
    frame = pd.read_csv(path, dtype=dtype, low_memory=False)
    for col in frame.columns:
        if col in dtype:
            continue
        if pd.api.types.is_object_dtype(frame[col]) or pd.api.types.is_string_dtype(frame[col]):
            frame[col] = _typed(_unguard(frame[col]))
    return frame


def read_results(folder: StrPath) -> ResultsTables:
    """Read a results folder written by ``study`` or ``backtest``.

    The folder is checked against its manifest first (:func:`check_results_folder`);
    only the files of the run are read.

    Raises
    ------
    InputError
        When the folder is missing, incomplete, or holds no CSV table.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError([InputProblem(str(root), None, None, None,
                                       "is not a folder of results")])
    members = check_results_folder(root)
    names = sorted(p.name for p in root.iterdir() if p.is_file()
                   and (members is None or p.name in members) and p.name != MANIFEST)
    tables: dict[str, pd.DataFrame] = {}
    for name in names:
        if name.endswith(".csv"):
            try:
                tables[name[:-4]] = read_table(root / name)
            except pd.errors.EmptyDataError:
                tables[name[:-4]] = pd.DataFrame()
            except (pd.errors.ParserError, UnicodeDecodeError) as exc:
                raise InputError([InputProblem(str(root / name), None, None, None,
                                               f"not a readable CSV table ({exc})")]) from None
    if not tables:
        raise InputError([InputProblem(str(root), None, None, None,
                                       "holds no CSV table to export")])
    summary: dict[str, Any] = {}
    for name in SUMMARY_FILES:
        if name in names:
            try:
                doc = json.loads((root / name).read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InputError([InputProblem(str(root / name), None, None, None,
                                               f"not readable JSON ({exc})")]) from None
            summary = doc if isinstance(doc, dict) else {}
            break
    kind = ("study" if "aggregate" in tables or "car" in tables
            else "backtest" if "metrics" in tables else "other")
    return ResultsTables(root, kind, tables, summary)


def paper_tables(results: ResultsTables, levels: Sequence[float] = paper.DEFAULT_STARS, *,
                 max_rows: int | None = 60) -> list[paper.PaperTable]:
    """The tables of a results folder laid out for a paper.

    A study gives the CAAR table (``aggregate.csv``), the per-event CAR table
    (``car.csv``, with tickers from ``events.csv``) and the AAR table (``aar.csv``);
    a backtest its metrics and forward returns; any other folder each of its tables
    as is. ``max_rows`` caps the events (or rows) of long tables.
    """
    t = results.tables
    out: list[paper.PaperTable] = []
    if results.kind == "study":
        settings = results.summary.get("settings")
        try:  # a volume or volatility study: its files name the measure (cav, caav ...)
            words = measure_words(settings.get("measure") if isinstance(settings, dict)
                                  else None)
        except ValueError:
            words = measure_words(None)
        t = {name: words.generic(frame) for name, frame in t.items()}
        if "aggregate" in t and len(t["aggregate"]):
            out.append(caar_bhar_table(t["aggregate"], levels, words))
        if "car" in t and len(t["car"]):
            events = t.get("events")
            labels = None
            if events is not None and {"event_id", "ticker"} <= set(events.columns):
                labels = events.drop_duplicates("event_id").set_index("event_id")["ticker"]
            out.append(paper.car_table(t["car"], levels, labels=labels, max_events=max_rows,
                                       words=words))
        if "aar" in t and len(t["aar"]):
            out.append(paper.aar_table(t["aar"], levels, words=words))
    elif results.kind == "backtest":
        if {"metric", "value"} <= set(t["metrics"].columns):
            out.append(paper.key_value_table(t["metrics"], "metrics", "Backtest metrics"))
        if "forward" in t and len(t["forward"]):
            out.append(paper.forward_table(t["forward"], levels))
    else:
        out += [paper.plain_table(frame, name, name, max_rows=max_rows)
                for name, frame in t.items() if len(frame.columns)]
    return out


def _flat(doc: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Scalars of a JSON document as ``(dotted.key, value)``; lists of records are left out."""
    out: list[tuple[str, Any]] = []
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out += _flat(value, name + ".")
        elif isinstance(value, list):
            if all(not isinstance(v, Mapping | list) for v in value):
                out.append((name, json.dumps(value) if len(value) != 1 else value[0]))
        else:
            out.append((name, value))
    return out


_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(name: str, used: set[str]) -> str:
    base = _SHEET_BAD.sub("_", name)[:31] or "table"
    title, k = base, 1
    while title.lower() in used:
        k += 1
        title = f"{base[:28]}_{k}"
    used.add(title.lower())
    return title


def _excel_value(value: Any) -> Any:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, int):
        return int(value)
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return _excel_value(value.item())
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return ILLEGAL_CHARACTERS_RE.sub("", str(value))


def _append_sheet(book: Any, title: str, frame: pd.DataFrame) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet = book.create_sheet(title)
    sheet.freeze_panes = "A2"
    for i, col in enumerate(frame.columns, start=1):
        width = max([len(str(col))] + [len(str(v)) for v in frame[col].head(50)])
        sheet.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 60)
    bold = Font(bold=True)
    head = []
    for col in frame.columns:
        cell = WriteOnlyCell(sheet, value=_excel_value(str(col)))
        cell.font = bold
        if str(col).startswith("="):
            cell.data_type = "s"
        head.append(cell)
    sheet.append(head)
    for rec in frame.itertuples(index=False, name=None):
        row: list[Any] = []
        for v in rec:
            value = _excel_value(v)
            if isinstance(value, str) and value.startswith("="):  # text, never a formula
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"
                row.append(cell)
            else:
                row.append(value)
        sheet.append(row)


def write_xlsx(results: ResultsTables, path: StrPath) -> Path:
    """Write every table of ``results`` to one workbook, a sheet per table, atomically.

    The first sheet, ``about``, lists the folder, its kind and the scalars of its JSON
    summary (settings, inputs, versions, counts, the command line); ``input_files``
    (when the summary records them) each input file with its SHA-256 and date range.
    Text cells are stored as text, so a value such as ``=HYPERLINK(...)`` from an input
    file never becomes a formula.

    Raises
    ------
    InputError
        When a table has more rows than an Excel sheet holds.
    """
    from openpyxl import Workbook

    for name, frame in results.tables.items():
        if len(frame) > EXCEL_MAX_ROWS:
            raise InputError([InputProblem(str(results.folder / f"{name}.csv"), None, None,
                                           None, f"{len(frame):,} rows are more than an Excel "
                                           f"sheet holds ({EXCEL_MAX_ROWS:,}); export it with "
                                           "--format parquet")])
    book = Workbook(write_only=True)
    used: set[str] = set()
    about = pd.DataFrame(
        [("folder", str(results.folder)), ("kind", results.kind),
         *((k, v if not isinstance(v, list | dict) else json.dumps(v))
           for k, v in _flat(results.summary))], columns=["key", "value"])
    _append_sheet(book, _sheet_name("about", used), about)
    records = results.summary.get("input_files")
    if isinstance(records, list) and records and all(isinstance(r, dict) for r in records):
        files = pd.DataFrame(records)
        if "tickers" in files:
            files["tickers"] = files["tickers"].map(
                lambda v: " ".join(v) if isinstance(v, list) else v)
        _append_sheet(book, _sheet_name("input_files", used), files)
    for name, frame in results.tables.items():
        _append_sheet(book, _sheet_name(name, used), frame)
    with atomic_open(path, "wb") as fh:
        book.save(fh)
    return Path(path)


def write_latex(tables: Sequence[paper.PaperTable], path: StrPath, *,
                standalone: bool = False, source: str = "") -> Path:
    r"""Write booktabs LaTeX tables to one file, atomically.

    Without ``standalone`` the file is a fragment for ``\input`` (the preamble needs
    ``\usepackage{booktabs}``); with it, a complete document pdflatex compiles.
    """
    if standalone:
        text = paper.latex_document(tables)
    else:
        where = re.sub(r"[\r\n]+", " ", source)
        text = (f"% Tables exported by marketreact from {where}\n"
                "% Needs \\usepackage{booktabs} in the preamble.\n\n"
                + "\n".join(paper.to_latex(t) for t in tables))
    return atomic_write(path, lambda fh: _write(fh, text))


def _write(fh: Any, text: str) -> None:
    fh.write(text)


def write_markdown(tables: Sequence[paper.PaperTable], path: StrPath, *,
                   title: str = "Results") -> Path:
    """Write the tables as Markdown pipe tables to one file, atomically."""
    text = f"# {paper.escape_markdown(title)}\n\n" + "\n".join(
        paper.to_markdown(t) for t in tables)
    return atomic_write(path, lambda fh: _write(fh, text))


def _parquet_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns mixing numbers and text become text (Parquet columns have one type)."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_object_dtype(out[col]):
            out[col] = out[col].map(lambda v: None if _missing(v) else str(v)).astype("string")
    out.columns = [str(c) for c in out.columns]
    return out


def _missing(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def write_parquet(results: ResultsTables, folder: StrPath) -> list[Path]:
    """Write each table as ``<name>.parquet`` in ``folder`` (each file atomically)."""
    root = Path(folder)
    written = []
    for name, frame in results.tables.items():
        path = root / f"{name}.parquet"
        with atomic_open(path, "wb") as fh:
            _parquet_ready(frame).to_parquet(fh, engine="pyarrow", index=False)
        written.append(path)
    return written


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def export_results(folder: StrPath, fmt: ExportFormat | str, *,
                   stars: Sequence[float] | str | None = paper.DEFAULT_STARS,
                   out: StrPath | None = None, max_rows: int | None = 60,
                   standalone: bool = False) -> list[Path]:
    """Export a results folder in one format.

    Parameters
    ----------
    folder : str or path-like
        A folder written by ``study`` or ``backtest``.
    fmt : ExportFormat or str
        ``xlsx``, ``latex``, ``md`` or ``parquet``.
    stars : sequence of float or str, default (0.1, 0.05, 0.01)
        Significance levels for one, two, three stars (LaTeX and Markdown).
    out : str or path-like, optional
        File to write (a folder for Parquet); default ``tables.xlsx``,
        ``tables.tex``, ``tables.md`` or ``parquet/`` inside ``folder``.
    max_rows : int or None, default 60
        Events shown in the per-event LaTeX/Markdown table (all are in the CSV).
    standalone : bool, default False
        LaTeX: write a complete document instead of a fragment.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    try:
        kind = ExportFormat(str(getattr(fmt, "value", fmt)).lower())
    except ValueError:
        raise InputError([InputProblem("command line", None, "--format", str(fmt),
                                       "choose xlsx, latex, md or parquet")]) from None
    levels = paper.parse_stars(stars)
    results = read_results(folder)
    target = Path(out) if out is not None else results.folder / DEFAULT_NAMES[kind]
    if target.exists() and target.is_dir() != (kind is ExportFormat.parquet):
        raise InputError([InputProblem(str(target), None, "--out", None,
                                       "is a folder" if target.is_dir() else "is a file")])
    if kind is ExportFormat.xlsx:
        written = [write_xlsx(results, target)]
    elif kind is ExportFormat.parquet:
        written = write_parquet(results, target)
    else:
        tables = paper_tables(results, levels, max_rows=max_rows)
        if kind is ExportFormat.latex:
            written = [write_latex(tables, target, standalone=standalone,
                                   source=os.fspath(results.folder))]
        else:
            written = [write_markdown(tables, target,
                                      title=f"{results.kind.capitalize()} results: "
                                            f"{results.folder.name}")]
    if any(_inside(p.parent, results.folder) and p.parent.resolve()
           == results.folder.resolve() for p in written):
        add_to_manifest(results.folder, "export")
    return written


#: File formats of plots, and what matplotlib writes for each.
PLOT_FORMATS = ("png", "svg", "pdf")
#: Metadata left out of each plot format, so that the same figure gives the same bytes.
_PLOT_METADATA: dict[str, dict[str, Any]] = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
}


def save_plot(fig: Any, path: StrPath, fmt: str = "png") -> Path:
    """Write a matplotlib figure as PNG, SVG or PDF, atomically.

    No date or software version is written into the file, so a replayed run gives
    the same bytes. The resolution of PNG is :data:`marketreact.render.figures.FIGURE_DPI`.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    path : str or path-like
        Target file; its suffix should match ``fmt``.
    fmt : {"png", "svg", "pdf"}
        File format.
    """
    from marketreact.render.figures import FIGURE_DPI

    kind = str(fmt).lower()
    if kind not in PLOT_FORMATS:
        raise InputError([InputProblem("command line", None, "--plot-format", str(fmt),
                                       f"choose from {', '.join(PLOT_FORMATS)}")])
    extra: dict[str, Any] = {"svg.hashsalt": "marketreact"} if kind == "svg" else {}
    import matplotlib

    with matplotlib.rc_context(extra), atomic_open(path, "wb") as fh:
        fig.savefig(fh, format=kind, dpi=FIGURE_DPI, metadata=_PLOT_METADATA[kind])
    return Path(path)


def export_into(folder: StrPath, formats: Sequence[ExportFormat | str], *,
                stars: Sequence[float] | str | None = paper.DEFAULT_STARS,
                max_rows: int | None = 60, name: StrPath | None = None) -> list[Path]:
    """Write several export formats into a results folder being written (its staging folder).

    The tables are read once; each format goes to its default name (``tables.xlsx``,
    ``tables.tex``, ``tables.md``, ``parquet/``). Used by ``study --format`` and
    ``backtest --format`` before the folder's manifest is written, so the files are
    listed in it.

    Parameters
    ----------
    folder : str or path-like
        The folder holding the run's CSV tables.
    formats : sequence of ExportFormat or str
        Any of ``xlsx``, ``latex``, ``md``, ``parquet``.
    stars : sequence of float or str, default (0.1, 0.05, 0.01)
        Significance levels of the stars (LaTeX and Markdown).
    max_rows : int or None, default 60
        Events shown in the per-event LaTeX/Markdown table.
    name : str or path-like, optional
        The folder as the files should name it (the target, not the staging folder).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    kinds = []
    for fmt in formats:
        try:
            kinds.append(ExportFormat(str(getattr(fmt, "value", fmt)).lower()))
        except ValueError:
            raise InputError([InputProblem("command line", None, "--format", str(fmt),
                                           "choose xlsx, latex, md or parquet")]) from None
    if not kinds:
        return []
    levels = paper.parse_stars(stars)
    results = read_results(folder)
    root = results.folder
    shown = Path(name) if name is not None else root
    written: list[Path] = []
    tables: list[paper.PaperTable] | None = None
    for kind in dict.fromkeys(kinds):
        target = root / DEFAULT_NAMES[kind]
        if kind is ExportFormat.xlsx:
            written.append(write_xlsx(replace(results, folder=shown), target))
        elif kind is ExportFormat.parquet:
            target.mkdir(exist_ok=True)
            written += write_parquet(results, target)
        else:
            if tables is None:
                tables = paper_tables(results, levels, max_rows=max_rows)
            if kind is ExportFormat.latex:
                written.append(write_latex(tables, target, source=os.fspath(shown)))
            else:
                written.append(write_markdown(tables, target, title=f"{results.kind.capitalize()}"
                                              f" results"))
    return written
