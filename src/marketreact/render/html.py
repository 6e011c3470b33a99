"""HTML building blocks (escaped tables, images, cards, one page) drawn from frames and values."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from marketreact import __version__
from marketreact.study.results import StudyResult

#: Rows shown per table before it is cut (the CSV keeps them all).
MAX_ROWS = 200


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
