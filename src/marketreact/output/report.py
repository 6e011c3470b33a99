"""One self-contained HTML report from a results folder.

:func:`write_report` reads whatever a results folder holds — the study tables
(``events.csv``, ``car.csv``, ``aar.csv``, ``aggregate.csv``, ``failures.csv``,
``abnormal_returns.csv``), ``summary.json``, backtest files (``metrics.json``,
``daily.csv``, ``trades.csv``), a validation table of rejection rates, and any
``*.png`` — draws the plots that are missing, and writes one HTML file with the
tables and the images (base64) embedded: no script, no stylesheet or font from
the network, readable offline and attachable to an e-mail.

Tables are rendered with all their columns, so the report keeps up when other
parts of marketreact add columns; long tables are cut to their first rows with
a note saying where the full table is.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pandas as pd

from marketreact._typing import StrPath
from marketreact._version import __version__
from marketreact.errors import InputError
from marketreact.output.folder import add_to_manifest, check_results_folder
from marketreact.panel.measures import MeasureWords, measure_words
from marketreact.render.html import (
    MAX_ROWS,
    backtest_cards,
    backtest_metrics_html,
    car_wide,
    escape,
    events_first,
    flatten,
    format_value,
    frame_html,
    image_html,
    kv_html,
    page_html,
    tests_by_window,
)

log = logging.getLogger(__name__)

REPORT_NAME = "report.html"
_STUDY_FILES = ("events.csv", "car.csv", "aar.csv", "aggregate.csv", "failures.csv",
                "abnormal_returns.csv", "summary.json")
_BACKTEST_FILES = ("metrics.json", "daily.csv", "trades.csv", "metrics.csv")
_REJECTION_COLUMNS = {"panel", "design", "test", "abnormal", "rejection_rate"}


# --------------------------------------------------------------------------- reading


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, low_memory=False)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable CSV table ({exc})") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None


class _Folder:
    """The files of a results folder, read once on demand."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, Any] = {}
        #: The files of the run that wrote the folder (None: a folder without a manifest).
        self.members = check_results_folder(root)

    def _ok(self, path: Path) -> bool:
        """A regular file of this run, inside the folder (no symlink leading out of it)."""
        if self.members is not None and path.name not in self.members:
            return False
        return path.is_file() and not path.is_symlink()

    def has(self, name: str) -> bool:
        return self._ok(self.root / name)

    def csv(self, name: str) -> pd.DataFrame | None:
        """The table ``name``, with the generic column names of a study (``ar``, ``car`` ...)."""
        if not self.has(name):
            return None
        if name not in self._cache:
            self._cache[name] = self.words.generic(_read_csv(self.root / name))
        return self._cache[name]

    @functools.cached_property
    def words(self) -> MeasureWords:
        """How the study in the folder names its measure (returns for other folders)."""
        summary = self.json("summary.json") if self.has("summary.json") else None
        settings = summary.get("settings") if isinstance(summary, dict) else None
        measure = settings.get("measure") if isinstance(settings, dict) else None
        try:
            return measure_words(measure)
        except ValueError:
            return measure_words(None)

    def shown(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` (from :meth:`csv`) with the column names its file has."""
        return self.words.named(frame)

    def json(self, name: str) -> Any:
        if not self.has(name):
            return None
        if name not in self._cache:
            self._cache[name] = _read_json(self.root / name)
        return self._cache[name]

    def pngs(self) -> list[str]:
        return sorted(p.name for p in self.root.glob("*.png") if self._ok(p))

    def rejection_tables(self) -> list[str]:
        names = []
        for path in sorted(self.root.glob("*.csv")):
            if not self._ok(path):
                continue
            try:
                header = set(pd.read_csv(path, nrows=0).columns)
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
                continue
            if header >= _REJECTION_COLUMNS:
                names.append(path.name)
        return names


#: Files that make a folder without a manifest a results folder (``events.csv`` alone does
#: not: it is also what a user's catalogue is called).
_RESULT_MARKERS = ("summary.json", "metrics.json", "car.csv", "aggregate.csv", "aar.csv",
                   "abnormal_returns.csv", "daily.csv", "trades.csv", "metrics.csv")


def check_is_results(root: Path, folder: _Folder | None = None,
                     known: list[str] | None = None, rejection: list[str] | None = None) -> None:
    """Refuse a folder that marketreact did not write, before anything is read or drawn.

    A results folder has a manifest (every folder written since manifests exist), or
    ``summary.json``/``metrics.json``/a study or backtest table, or a validation table.
    Anything else (a folder of price files, a project folder, ``$HOME``) is refused in
    one line, so ``report`` never turns a stray folder into a page of every CSV in it.
    """
    folder = folder if folder is not None else _Folder(root)
    if folder.members is not None:
        return
    known = known if known is not None else [n for n in _RESULT_MARKERS if folder.has(n)]
    if any(n in _RESULT_MARKERS for n in known):
        return
    if rejection if rejection is not None else folder.rejection_tables():
        return
    raise InputError(f"{root}: not a results folder (no manifest.json, summary.json, "
                     "car.csv or daily.csv: no results found); give the --out folder of "
                     "marketreact study or backtest")


# --------------------------------------------------------------------------- plots


def draw_missing_plots(results_dir: StrPath) -> list[Path]:
    """Draw the plots a results folder lacks, from its tables, and save them there.

    Study plots come from ``abnormal_returns.csv`` (with ``car.csv`` and
    ``events.csv``), the equity plot from ``daily.csv``, the rejection-rate
    chart from a validation table. Plots already present are kept.

    Returns
    -------
    list of pathlib.Path
        The plot files written.
    """
    from marketreact.output.files import save_figure
    from marketreact.output.study import write_study_plots
    from marketreact.render.figures import equity_figure, rejection_figure

    root = Path(results_dir)
    folder = _Folder(root)
    before = set(folder.pngs())
    ab = folder.csv("abnormal_returns.csv")
    if ab is not None and len(ab):
        write_study_plots(ab, folder.csv("car.csv"), folder.csv("events.csv"), root,
                          overwrite=False, measure=folder.words.measure)
    daily = folder.csv("daily.csv")
    if daily is not None and len(daily) and "equity.png" not in before and \
            {"date", "equity"} <= set(daily.columns):
        save_figure(equity_figure(daily), root / "equity.png")
    for name in folder.rejection_tables():
        target = root / f"{Path(name).stem}.png"
        if target.name not in before:
            table = folder.csv(name)
            if table is not None and len(table):
                save_figure(rejection_figure(table), target)
    return sorted(root / p for p in set(folder.pngs()) - before)


# --------------------------------------------------------------------------- the report


def build_report(results_dir: StrPath, *, title: str | None = None,
                 max_rows: int = MAX_ROWS) -> str:
    """The HTML report of a results folder, as a string (see :func:`write_report`)."""
    root = Path(results_dir)
    if not root.is_dir():
        raise InputError(f"{root}: no such results folder")
    folder = _Folder(root)
    known = [n for n in (*_STUDY_FILES, *_BACKTEST_FILES) if folder.has(n)]
    rejection = folder.rejection_tables()
    pngs = folder.pngs()
    check_is_results(root, folder, known, rejection)
    shown: set[str] = set()
    sections: list[tuple[str, str, str]] = []

    def img(name: str, caption: str | None = None) -> str:
        if name not in pngs:
            return ""
        shown.add(name)
        return image_html((root / name).read_bytes(), alt=name, caption=caption or name)

    summary = folder.json("summary.json") or {}
    metrics = folder.json("metrics.json")
    is_study = folder.has("events.csv") or folder.has("car.csv") or bool(summary)
    head: list[str] = []
    inputs = summary.get("inputs") or (metrics.get("inputs") if isinstance(metrics, dict)
                                       else None) or {}
    subject = Path(str(inputs.get("events"))).name if inputs.get("events") else root.name
    page_title = title or f"marketreact report: {subject}"
    created = summary.get("created")
    head.append(f'<p class="meta">Results folder <code>{escape(root.resolve())}</code>'
                + (f" · study run {escape(created)}" if created else "")
                + f" · report written {escape(datetime.now(UTC).isoformat(timespec='seconds'))}"
                f" by marketreact {escape(__version__)}</p>")
    cards = _cards(folder, summary) + backtest_cards(metrics)
    if cards:
        head.append(f'<div class="cards">{cards}</div>')

    # Settings
    if summary:
        body = []
        settings = summary.get("settings") or {}
        if settings:
            body.append("<h3>Study settings</h3>" + kv_html(flatten(settings)))
        if inputs:
            body.append("<h3>Inputs</h3>" + kv_html(flatten(inputs)))
        notes = summary.get("diagnostics") or []
        if notes:
            items = "".join(f"<li>{escape(n)}</li>" for n in notes)
            body.append(f'<h3>Data notes</h3><ul class="notes">{items}</ul>')
        versions = summary.get("versions") or {}
        if versions:
            body.append("<details><summary>Package versions</summary>"
                        + kv_html(versions.items()) + "</details>")
        extra = {k: v for k, v in summary.items() if k not in
                 {"settings", "inputs", "diagnostics", "versions", "aggregate", "created"}}
        if extra:
            body.append("<details><summary>Everything else in summary.json</summary>"
                        + kv_html(flatten(extra)) + "</details>")
        sections.append(("settings", "Settings", "".join(body)))

    # CAARs and tests
    words = folder.words  # a volume or volatility study names its measure everywhere
    caav, cav, av = words.cumulative_average, words.cumulative, words.short
    agg, aar = folder.csv("aggregate.csv"), folder.csv("aar.csv")
    if agg is not None or aar is not None or "caar.png" in pngs:
        body = [img("caar.png", f"{caav} over the event window ({cav} summed from the first "
                                "day of the window) with its 95% cross-sectional t band; "
                                f"bars: the daily {words.average}.")]
        if agg is not None:
            body.append(f"<h3>{caav} by {cav} window, with the cross-event tests</h3>"
                        '<p class="note">Each cell: the test statistic, its p-value in '
                        "parentheses, and * p &lt; 0.10, ** p &lt; 0.05, *** p &lt; 0.01.</p>"
                        + frame_html(tests_by_window(agg, words), max_rows=max_rows,
                                     source="aggregate.csv")
                        + "<details><summary>aggregate.csv: every column</summary>"
                        + frame_html(folder.shown(agg), max_rows=max_rows,
                                     source="aggregate.csv")
                        + "</details>")
        if aar is not None:
            body.append(f"<details><summary>{words.average} and {caav} on each event day, "
                        f"with the tests ({len(aar)} days)</summary>"
                        + frame_html(folder.shown(aar), max_rows=max_rows, source="aar.csv")
                        + "</details>")
        sections.append(("caar", f"{caav} and tests", "".join(body)))

    # Per-event CARs
    car = folder.csv("car.csv")
    if car is not None or "car_bars.png" in pngs:
        body = [img("car_bars.png", f"Day-0 {words.abnormal} ({av}) and {cav} of each event, "
                                    "with 95% intervals from each event's own variance.")]
        if car is not None and len(car):
            wide = car_wide(car, folder.csv("events.csv"), words)
            body.append(f"<h3>{cav} per event and window</h3>"
                        + frame_html(wide, max_rows=max_rows, source="car.csv"))
            body.append("<details><summary>car.csv: every column</summary>"
                        + frame_html(folder.shown(car), max_rows=max_rows, source="car.csv")
                        + "</details>")
        sections.append(("cars", f"{cav}s per event", "".join(body)))

    # Events and failures
    events = folder.csv("events.csv")
    failures = folder.csv("failures.csv")
    if events is not None or failures is not None:
        body = []
        if events is not None:
            body.append(f"<h3>Events studied ({len(events)})</h3>"
                        + frame_html(events_first(events), max_rows=max_rows,
                                     source="events.csv"))
        if failures is not None:
            done = "studied" if is_study else "traded"
            if len(failures):
                body.append(f'<h3 class="bad">Events that could not be {done} '
                            f"({len(failures)})</h3>" + _failures_by_reason(failures)
                            + f"<details><summary>Every failed event ({len(failures)})"
                            "</summary>"
                            + frame_html(failures, max_rows=max_rows, source="failures.csv")
                            + "</details>")
            else:
                body.append(f"<h3>Events that could not be {done}</h3><p>None: every event "
                            f"in the catalogue was {done}.</p>")
        sections.append(("events", "Events and failures", "".join(body)))

    # Prices around each event
    price_pngs = [p for p in pngs if p.startswith("price_")]
    if events is not None and "event_id" in events:
        from marketreact.output.files import safe_name

        rank = {f"price_{safe_name(e)}.png": i for i, e in enumerate(events["event_id"])}
        price_pngs.sort(key=lambda p: (rank.get(p, len(rank)), p))
    if price_pngs:
        figs = "".join(img(p, p.removeprefix("price_").removesuffix(".png"))
                       for p in price_pngs)
        sections.append(("prices", "Prices around each event",
                         '<p class="note">Adjusted closes of each stock and its market index '
                         "over the event window, rebased to 100 on the session before day 0; "
                         f'the dashed line marks day 0.</p><div class="grid">{figs}</div>'))

    # Backtest
    claimed = {*_STUDY_FILES, *_BACKTEST_FILES, *rejection}
    if metrics is not None or folder.has("daily.csv") or folder.has("trades.csv"):
        body = [img("equity.png", "Equity curve, drawdown and open positions.")]
        if isinstance(metrics, dict) and isinstance(metrics.get("metrics"), dict):
            body.append(backtest_metrics_html(metrics, max_rows))
            if isinstance(metrics.get("forward"), list):
                claimed.add("forward.csv")
        elif metrics is not None:
            body.append("<h3>Metrics</h3>" + kv_html(flatten(metrics)))
        elif (table := folder.csv("metrics.csv")) is not None:
            body.append("<h3>Metrics</h3>" + frame_html(table, max_rows=max_rows,
                                                        source="metrics.csv"))
        trades = folder.csv("trades.csv")
        if trades is not None:
            body.append(f"<h3>Trades ({len(trades)})</h3>"
                        + frame_html(trades, max_rows=max_rows, source="trades.csv"))
        sections.append(("backtest", "Backtest", "".join(body)))

    # Validation
    for name in rejection:
        table = folder.csv(name)
        stem = Path(name).stem
        body = [img(f"{stem}.png", "Rejection rates: size with no abnormal return (dots, with "
                                   "their band) and power against the abnormal return added.")]
        if table is not None:
            body.append(frame_html(table, max_rows=max_rows, source=name))
        sections.append((f"validation-{stem}", f"Validation: {stem}", "".join(body)))

    others = [p.name for p in sorted(root.glob("*.csv")) if p.name not in claimed]
    if others:
        folds = []
        for name in others:
            table = folder.csv(name)
            if table is not None:
                folds.append(f"<details><summary>{escape(name)} ({len(table)} rows)</summary>"
                             + frame_html(table, max_rows=max_rows, source=name) + "</details>")
        sections.append(("tables", "Other tables", "".join(folds)))

    rest = [p for p in pngs if p not in shown]
    if rest:
        sections.append(("plots", "Other plots", '<div class="grid">'
                         + "".join(img(p) for p in rest) + "</div>"))

    files = sorted(p for p in root.iterdir() if folder.has(p.name) and not p.name.startswith("."))
    listing = frame_html(pd.DataFrame({"file": [p.name for p in files],
                                       "bytes": [p.stat().st_size for p in files]}),
                         max_rows=1000)
    sections.append(("files", "Files in the folder", listing))

    if not is_study:  # a backtest: the equity curve and metrics first, failures after
        sections.sort(key=lambda sec: sec[0] != "backtest")
    else:  # a study: the CAAR and its tests first, the settings after the results
        first = {"caar": 0, "cars": 1}
        sections.sort(key=lambda sec: first.get(sec[0], 2))
    return page_html(page_title, "".join(head), sections,
                     generator=f"marketreact {__version__}")


#: Digits in a failure reason that differ from event to event (dates, counts, lines).
_VARYING = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T][0-9:+.]+)?|\b\d+(?:\.\d+)?\b")


def _failures_by_reason(failures: pd.DataFrame) -> str:
    """Failures counted by kind of reason, most frequent first (dates and numbers folded).

    "prices end before 2024-10-29" and "... before 2024-10-30" are one kind, so 136
    routine failures read as one row with its count and an example, not 136 rows.
    """
    if "reason" not in failures:
        return ""
    reasons = failures["reason"].astype(str)
    kinds = reasons.str.replace(_VARYING, "…", regex=True)
    table = (pd.DataFrame({"kind": kinds, "example": reasons})
             .groupby("kind", sort=False)
             .agg(events=("example", "size"), example=("example", "first"))
             .sort_values("events", ascending=False, kind="stable")
             .reset_index(drop=True))
    return ("<p class=\"note\">Grouped by reason (dates and numbers folded); every event "
            "is listed below and in failures.csv.</p>"
            + frame_html(table[["events", "example"]], max_rows=50, source="failures.csv"))


def write_report(results_dir: StrPath, output: StrPath | None = None, *,
                 plots: bool = True, title: str | None = None,
                 max_rows: int = MAX_ROWS) -> Path:
    """Write the self-contained HTML report of a results folder.

    Parameters
    ----------
    results_dir : str or path-like
        A folder written by ``marketreact study`` (or ``backtest``, or a validation run).
    output : str or path-like, optional
        The HTML file (default ``RESULTS_DIR/report.html``).
    plots : bool, default True
        Draw the plots the folder lacks (saved there as PNG) before embedding them.
    title : str, optional
        Page title.
    max_rows : int, default 200
        Rows shown per table.

    Returns
    -------
    pathlib.Path
        The report file.
    """
    from marketreact.output.files import atomic_write

    root = Path(results_dir)
    if not root.is_dir():
        raise InputError(f"{root}: no such results folder")
    check_is_results(root)
    if plots and draw_missing_plots(root):
        add_to_manifest(root, "report")
    page = build_report(root, title=title, max_rows=max_rows)
    target = Path(output) if output is not None else root / REPORT_NAME
    def write(fh: IO[str]) -> None:
        fh.write(page)

    written = atomic_write(target, write)
    if written.resolve().parent == root.resolve():
        add_to_manifest(root, "report")
    return written


def _cards(folder: _Folder, summary: Mapping[str, Any]) -> str:
    items: list[tuple[str, str]] = []
    if "events_studied" in summary:
        items.append((format_value(summary["events_studied"]), "events studied"))
    if "events_failed" in summary:
        items.append((format_value(summary["events_failed"]), "events failed"))
    settings = summary.get("settings") or {}
    if settings.get("model"):
        items.append((str(settings["model"]), "normal-return model"))
    if settings.get("measure") not in (None, "return"):
        items.append((str(settings["measure"]), "measure"))
    if settings.get("estimation"):
        e = settings["estimation"]
        items.append((f"[{e[0]:+d}, {e[1]:+d}]", "estimation window"))
    agg = folder.csv("aggregate.csv")
    if agg is not None and len(agg) and {"window", "caar"} <= set(agg.columns):
        first = agg.iloc[0]
        p = f", p = {format_value(first['p'])}" if "p" in agg else ""
        words = folder.words
        items.append((words.value(float(first["caar"])),
                      f"{words.cumulative_average}{first['window']}{p}"))
    return "".join(f"<div class=\"card\"><b>{escape(v)}</b><span>{escape(k)}</span></div>"
                   for v, k in items)


