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

import base64
import html
import json
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from marketreact import __version__
from marketreact._typing import StrPath
from marketreact.errors import InputError
from marketreact.output.folder import add_to_manifest, check_results_folder

if TYPE_CHECKING:
    from marketreact.study.fit import StudyResult

log = logging.getLogger(__name__)

#: Rows shown per table before it is cut (the CSV keeps them all).
MAX_ROWS = 200
REPORT_NAME = "report.html"
_STUDY_FILES = ("events.csv", "car.csv", "aar.csv", "aggregate.csv", "failures.csv",
                "abnormal_returns.csv", "summary.json")
_BACKTEST_FILES = ("metrics.json", "daily.csv", "trades.csv", "metrics.csv")
_REJECTION_COLUMNS = {"panel", "design", "test", "abnormal", "rejection_rate"}

_CSS = """
:root { --ink: #1d2330; --muted: #5b6475; --line: #d9dee7; --head: #f2f4f8; --accent: #1f77b4; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); margin: 0 auto; max-width: 1180px; padding: 24px 28px 60px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 2px solid
     var(--line); }
h3 { font-size: 15px; margin: 20px 0 8px; }
p.meta, .note { color: var(--muted); }
nav { margin: 14px 0 6px; } nav a { margin-right: 14px; color: var(--accent); }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; min-width: 150px; }
.card b { display: block; font-size: 20px; }
.card span { color: var(--muted); font-size: 12px; }
.scroll { overflow-x: auto; max-width: 100%; }
table.data { border-collapse: collapse; font-size: 12.5px; margin: 6px 0 4px; }
table.data th, table.data td { border: 1px solid var(--line); padding: 3px 8px;
     text-align: right; white-space: nowrap; }
table.data th { background: var(--head); position: sticky; top: 0; }
table.data td.str { text-align: left; }
table.kv th, table.kv td { text-align: left; } table.kv td { white-space: normal;
     max-width: 820px; }
table.data td.text, table.data th.text { text-align: left; white-space: normal;
     min-width: 340px; max-width: 560px; }
table.data tr:nth-child(even) td { background: #fafbfd; }
figure { margin: 10px 0 18px; } figure img { max-width: 100%; height: auto;
     border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr));
        gap: 6px 16px; }
details summary { cursor: pointer; color: var(--accent); margin: 6px 0; }
ul.notes li { margin: 2px 0; }
.bad { color: #b42318; }
"""


# --------------------------------------------------------------------------- HTML pieces


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}" if abs(int(value)) >= 10_000 else str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if v == int(v) and abs(v) < 1e15:
            return f"{int(v):,}" if abs(v) >= 10_000 else str(int(v))
        if abs(v) >= 10_000:
            return f"{v:,.0f}"
        return f"{v:.4g}" if abs(v) >= 1e-4 else f"{v:.3e}"
    if isinstance(value, pd.Timestamp):
        return str(value.date()) if value == value.normalize() and value.tz is None \
            else value.isoformat()
    return str(value)


def frame_html(frame: pd.DataFrame, *, max_rows: int = MAX_ROWS, source: str | None = None,
               caption: str | None = None) -> str:
    """A table as HTML: escaped text, numbers to 4 significant digits, long tables cut.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table (its index is not shown; reset it first to keep it).
    max_rows : int, default 200
        Rows shown; a note says how many more the table has.
    source : str, optional
        File holding the full table, named in that note.
    caption : str, optional
        A line shown above the table.

    Returns
    -------
    str
    """
    shown = frame.head(max_rows)
    lengths = {c: shown[c].astype(str).str.len().max() for c in frame.columns
               if not pd.api.types.is_numeric_dtype(frame[c].dtype) and len(shown)}
    text_cols = {c for c, n in lengths.items() if n > 40}
    parts = []
    if caption:
        parts.append(f'<p class="note">{_esc(caption)}</p>')
    parts.append('<div class="scroll"><table class="data"><thead><tr>')
    parts.extend(f'<th class="{"text" if c in text_cols else ""}">{_esc(c)}</th>'
                 for c in frame.columns)
    parts.append("</tr></thead><tbody>")
    for row in shown.itertuples(index=False, name=None):
        parts.append("<tr>")
        for col, value in zip(frame.columns, row, strict=True):
            cls = ' class="text"' if col in text_cols else (
                ' class="str"' if isinstance(value, str) else "")
            parts.append(f"<td{cls}>{_esc(_fmt(value))}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table></div>")
    if len(frame) > max_rows:
        where = f"; the full table is in {source}" if source else ""
        parts.append(f'<p class="note">Showing the first {max_rows:,} of {len(frame):,} '
                     f"rows{_esc(where)}.</p>")
    return "".join(parts)


def _kv_html(items: Iterable[tuple[str, Any]]) -> str:
    rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(_fmt(v))}</td></tr>" for k, v in items)
    return f'<div class="scroll"><table class="data kv"><tbody>{rows}</tbody></table></div>'


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(obj, Mapping):
        out: list[tuple[str, Any]] = []
        for key, value in obj.items():
            out.extend(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(obj, list) and all(not isinstance(v, (Mapping, list)) for v in obj):
        return [(prefix, ", ".join(_fmt(v) for v in obj))]
    if isinstance(obj, list):
        return [(prefix, json.dumps(obj, default=str))]
    return [(prefix, obj)]


def image_html(png: bytes, alt: str, caption: str | None = None) -> str:
    """An ``<img>`` with the PNG embedded as a base64 data URI."""
    data = base64.b64encode(png).decode("ascii")
    cap = f"<figcaption>{_esc(caption)}</figcaption>" if caption else ""
    return (f'<figure><img alt="{_esc(alt)}" src="data:image/png;base64,{data}">{cap}'
            "</figure>")


def _page(title: str, head: str, sections: list[tuple[str, str, str]]) -> str:
    links = "".join(f'<a href="#{_esc(anchor)}">{_esc(label)}</a>'
                    for anchor, label, _ in sections)
    body = "".join(f'<section id="{_esc(anchor)}"><h2>{_esc(label)}</h2>{content}</section>\n'
                   for anchor, label, content in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="marketreact {_esc(__version__)}">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head>\n<body>\n"
        f"<h1>{_esc(title)}</h1>\n{head}<nav>{links}</nav>\n{body}</body></html>\n"
    )


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
        if not self.has(name):
            return None
        if name not in self._cache:
            self._cache[name] = _read_csv(self.root / name)
        return self._cache[name]

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
    from marketreact.render import figures as plots

    root = Path(results_dir)
    folder = _Folder(root)
    before = set(folder.pngs())
    ab = folder.csv("abnormal_returns.csv")
    if ab is not None and len(ab):
        plots.write_study_plots(ab, folder.csv("car.csv"), folder.csv("events.csv"), root,
                                overwrite=False)
    daily = folder.csv("daily.csv")
    if daily is not None and len(daily) and "equity.png" not in before and \
            {"date", "equity"} <= set(daily.columns):
        plots.save_figure(plots.equity_figure(daily), root / "equity.png")
    for name in folder.rejection_tables():
        target = root / f"{Path(name).stem}.png"
        if target.name not in before:
            table = folder.csv(name)
            if table is not None and len(table):
                plots.save_figure(plots.rejection_figure(table), target)
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
    if not known and not rejection and not pngs:
        raise InputError(f"{root}: no results found (expected files such as events.csv, "
                         "car.csv, summary.json, daily.csv or *.png)")
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
    head.append(f'<p class="meta">Results folder <code>{_esc(root.resolve())}</code>'
                + (f" · study run {_esc(created)}" if created else "")
                + f" · report written {_esc(datetime.now(UTC).isoformat(timespec='seconds'))}"
                f" by marketreact {_esc(__version__)}</p>")
    cards = _cards(folder, summary) + _backtest_cards(metrics)
    if cards:
        head.append(f'<div class="cards">{cards}</div>')

    # Settings
    if summary:
        body = []
        settings = summary.get("settings") or {}
        if settings:
            body.append("<h3>Study settings</h3>" + _kv_html(_flatten(settings)))
        if inputs:
            body.append("<h3>Inputs</h3>" + _kv_html(_flatten(inputs)))
        notes = summary.get("diagnostics") or []
        if notes:
            items = "".join(f"<li>{_esc(n)}</li>" for n in notes)
            body.append(f'<h3>Data notes</h3><ul class="notes">{items}</ul>')
        versions = summary.get("versions") or {}
        if versions:
            body.append("<details><summary>Package versions</summary>"
                        + _kv_html(versions.items()) + "</details>")
        extra = {k: v for k, v in summary.items() if k not in
                 {"settings", "inputs", "diagnostics", "versions", "aggregate", "created"}}
        if extra:
            body.append("<details><summary>Everything else in summary.json</summary>"
                        + _kv_html(_flatten(extra)) + "</details>")
        sections.append(("settings", "Settings", "".join(body)))

    # CAARs and tests
    agg, aar = folder.csv("aggregate.csv"), folder.csv("aar.csv")
    if agg is not None or aar is not None or "caar.png" in pngs:
        body = [img("caar.png", "CAAR over the event window (CAR summed from the first day "
                                "of the window) with its 95% cross-sectional t band; bars: "
                                "the daily AAR.")]
        if agg is not None:
            body.append("<h3>CAAR by CAR window, with the cross-event tests</h3>"
                        + frame_html(agg, max_rows=max_rows, source="aggregate.csv"))
        if aar is not None:
            body.append("<details><summary>AAR and CAAR on each event day, with the tests "
                        f"({len(aar)} days)</summary>"
                        + frame_html(aar, max_rows=max_rows, source="aar.csv") + "</details>")
        sections.append(("caar", "CAAR and tests", "".join(body)))

    # Per-event CARs
    car = folder.csv("car.csv")
    if car is not None or "car_bars.png" in pngs:
        body = [img("car_bars.png", "Day-0 abnormal return and CAR of each event, with 95% "
                                    "intervals from each event's own variance.")]
        if car is not None and len(car):
            wide = _car_wide(car, folder.csv("events.csv"))
            body.append("<h3>CAR per event and window</h3>"
                        + frame_html(wide, max_rows=max_rows, source="car.csv"))
            body.append("<details><summary>car.csv: every column</summary>"
                        + frame_html(car, max_rows=max_rows, source="car.csv") + "</details>")
        sections.append(("cars", "CARs per event", "".join(body)))

    # Events and failures
    events = folder.csv("events.csv")
    failures = folder.csv("failures.csv")
    if events is not None or failures is not None:
        body = []
        if events is not None:
            body.append(f"<h3>Events studied ({len(events)})</h3>"
                        + frame_html(_events_first(events), max_rows=max_rows,
                                     source="events.csv"))
        if failures is not None:
            done = "studied" if is_study else "traded"
            if len(failures):
                body.append(f'<h3 class="bad">Events that could not be {done} '
                            f"({len(failures)})</h3>"
                            + frame_html(failures, max_rows=max_rows, source="failures.csv"))
            else:
                body.append(f"<h3>Events that could not be {done}</h3><p>None: every event "
                            f"in the catalogue was {done}.</p>")
        sections.append(("events", "Events and failures", "".join(body)))

    # Prices around each event
    price_pngs = [p for p in pngs if p.startswith("price_")]
    if events is not None and "event_id" in events:
        from marketreact.render.figures import safe_name

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
            body.append(_backtest_metrics_html(metrics, max_rows))
            if isinstance(metrics.get("forward"), list):
                claimed.add("forward.csv")
        elif metrics is not None:
            body.append("<h3>Metrics</h3>" + _kv_html(_flatten(metrics)))
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
                folds.append(f"<details><summary>{_esc(name)} ({len(table)} rows)</summary>"
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

    return _page(page_title, "".join(head), sections)


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
        items.append((_fmt(summary["events_studied"]), "events studied"))
    if "events_failed" in summary:
        items.append((_fmt(summary["events_failed"]), "events failed"))
    settings = summary.get("settings") or {}
    if settings.get("model"):
        items.append((str(settings["model"]), "normal-return model"))
    if settings.get("estimation"):
        e = settings["estimation"]
        items.append((f"[{e[0]:+d}, {e[1]:+d}]", "estimation window"))
    agg = folder.csv("aggregate.csv")
    if agg is not None and len(agg) and {"window", "caar"} <= set(agg.columns):
        first = agg.iloc[0]
        p = f", p = {_fmt(first['p'])}" if "p" in agg else ""
        items.append((f"{float(first['caar']):+.2%}", f"CAAR{first['window']}{p}"))
    return "".join(f"<div class=\"card\"><b>{_esc(v)}</b><span>{_esc(k)}</span></div>"
                   for v, k in items)


def _backtest_cards(metrics: Any) -> str:
    if not isinstance(metrics, dict) or not isinstance(metrics.get("metrics"), dict):
        return ""
    m = metrics["metrics"]
    wanted = (("trades", "trades", "{:.0f}"), ("hit_rate", "hit rate", "{:.1%}"),
              ("total_return", "total return", "{:+.2%}"), ("sharpe", "Sharpe ratio", "{:.2f}"),
              ("max_drawdown", "max drawdown", "{:.1%}"))
    items = [(fmt.format(m[key]), label) for key, label, fmt in wanted
             if isinstance(m.get(key), (int, float)) and np.isfinite(m[key])]
    placebo = metrics.get("placebo")
    if isinstance(placebo, dict) and isinstance(placebo.get("p_two_sided"), (int, float)):
        items.append((f"{placebo['p_two_sided']:.3f}", "placebo p (two-sided)"))
    return "".join(f"<div class=\"card\"><b>{_esc(v)}</b><span>{_esc(k)}</span></div>"
                   for v, k in items)


def _backtest_metrics_html(doc: Mapping[str, Any], max_rows: int) -> str:
    """The parts of a backtest's ``metrics.json``: metrics, placebo, forward returns, settings."""
    parts = ["<h3>Metrics</h3>" + _kv_html(_flatten(doc["metrics"]))]
    if isinstance(doc.get("placebo"), dict):
        parts.append("<h3>Placebo (randomly shifted event dates)</h3>"
                     + _kv_html(_flatten(doc["placebo"])))
    forward = doc.get("forward")
    if isinstance(forward, list) and forward and all(isinstance(r, dict) for r in forward):
        parts.append("<h3>Forward returns and information coefficient</h3>"
                     + frame_html(pd.DataFrame(forward), max_rows=max_rows))
    notes = doc.get("diagnostics")
    if isinstance(notes, list) and notes:
        items = "".join(f"<li>{_esc(n)}</li>" for n in notes)
        parts.append(f'<h3>Data notes</h3><ul class="notes">{items}</ul>')
    for key, label in (("settings", "Backtest settings"), ("inputs", "Inputs"),
                       ("versions", "Package versions")):
        if isinstance(doc.get(key), dict):
            parts.append(f"<details><summary>{label}</summary>"
                         + _kv_html(_flatten(doc[key])) + "</details>")
    rest = {k: v for k, v in doc.items() if k not in
            {"metrics", "placebo", "forward", "diagnostics", "settings", "inputs", "versions"}}
    if rest:
        parts.append("<details><summary>Everything else in metrics.json</summary>"
                     + _kv_html(_flatten(rest)) + "</details>")
    return "".join(parts)


def _car_wide(car: pd.DataFrame, events: pd.DataFrame | None) -> pd.DataFrame:
    if not {"event_id", "window", "car"} <= set(car.columns):
        return car
    values = [c for c in ("car", "car_t", "car_p") if c in car.columns]
    wide = car.pivot_table(index="event_id", columns="window", values=values, aggfunc="first",
                           sort=False)
    windows = list(dict.fromkeys(car["window"]))
    names = {"car": "CAR", "car_t": "t", "car_p": "p"}
    wide = wide.reindex(columns=[(v, w) for w in windows for v in values])
    wide.columns = [f"{names[str(c[0])]} {c[1]}" for c in wide.columns]
    order = list(dict.fromkeys(car["event_id"]))
    wide = wide.reindex(order).reset_index()
    if events is not None and {"event_id", "ticker"} <= set(events.columns):
        cols = [c for c in ("event_id", "ticker", "day0") if c in events.columns]
        wide = events[cols].drop_duplicates("event_id").merge(wide, on="event_id", how="right")
    return wide


def _events_first(events: pd.DataFrame) -> pd.DataFrame:
    first = [c for c in ("event_id", "ticker", "market", "day0", "timestamp", "date", "timing",
                         "n_estimation", "alpha", "beta", "sigma", "headline")
             if c in events.columns]
    return events[first + [c for c in events.columns if c not in first]]


def result_html(result: StudyResult, max_rows: int = 50) -> str:
    """A compact HTML view of a study result (for Jupyter's ``_repr_html_``).

    Shows the settings, the CAAR per window with its tests, each event's day-0
    AR and CAR over the first CAR window, and the failures.
    """
    from marketreact.windows import format_window

    s = result.settings
    parts = [
        "<div>",
        f"<p><b>Event study</b>: {result.n_events} events studied, "
        f"{len(result.failures)} failed · model {_esc(s.model.value)} · returns "
        f"{_esc(s.returns.value)} · estimation {_esc(format_window(s.estimation))} · "
        f"window {_esc(format_window(s.window))}</p>",
        frame_html(result.aggregate, max_rows=max_rows, caption="CAAR by window"),
    ]
    if len(result.events) and len(result.car):
        window = format_window(s.car_windows[0])
        ar0 = result.abnormal_returns.loc[result.abnormal_returns["rel_day"] == 0,
                                          ["event_id", "ar"]].rename(columns={"ar": "AR(0)"})
        sel = result.car.loc[result.car["window"] == window,
                             ["event_id", "car", "car_t", "car_p"]].rename(
            columns={"car": f"CAR{window}", "car_t": "t", "car_p": "p"})
        table = result.events[["event_id", "ticker", "day0"]].merge(ar0, on="event_id",
                                                                    how="left")
        table = table.merge(sel, on="event_id", how="left")
        parts.append(frame_html(table, max_rows=max_rows, caption="Events"))
    if len(result.failures):
        parts.append(frame_html(result.failures, max_rows=max_rows, caption="Failures"))
    parts.append("</div>")
    return "".join(parts)
