"""HTML building blocks (escaped tables, images, cards, one page) drawn from frames and values.

Every function takes frames, mappings and plain values (strings, numbers) and
returns HTML text: this module imports no result class (nor the package's
version: the page's generator is given). :func:`result_html` and
:func:`backtest_html` are the notebook views that ``StudyResult._repr_html_``
and ``BacktestResult._repr_html_`` call; :mod:`marketreact.output.report`
builds the report of a results folder from the other pieces.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from marketreact.inference.base import p_column
from marketreact.panel.measures import MeasureWords, measure_words
from marketreact.windows import format_window

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


def escape(value: Any) -> str:
    """``value`` as text safe inside HTML (``<``, ``>``, ``&`` and quotes escaped)."""
    return html.escape(str(value), quote=True)


def format_value(value: Any) -> str:
    """A cell value as short text: integers with thousands separators, 4 significant digits.

    None and non-finite floats give an empty string; midnight timestamps their date.
    """
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
        parts.append(f'<p class="note">{escape(caption)}</p>')
    parts.append('<div class="scroll"><table class="data"><thead><tr>')
    parts.extend(f'<th class="{"text" if c in text_cols else ""}">{escape(c)}</th>'
                 for c in frame.columns)
    parts.append("</tr></thead><tbody>")
    for row in shown.itertuples(index=False, name=None):
        parts.append("<tr>")
        for col, value in zip(frame.columns, row, strict=True):
            cls = ' class="text"' if col in text_cols else (
                ' class="str"' if isinstance(value, str) else "")
            parts.append(f"<td{cls}>{escape(format_value(value))}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table></div>")
    if len(frame) > max_rows:
        where = f"; the full table is in {source}" if source else ""
        parts.append(f'<p class="note">Showing the first {max_rows:,} of {len(frame):,} '
                     f"rows{escape(where)}.</p>")
    return "".join(parts)


def kv_html(items: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of ``(key, value)`` pairs, values shown with :func:`format_value`."""
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(format_value(v))}</td></tr>"
                   for k, v in items)
    return f'<div class="scroll"><table class="data kv"><tbody>{rows}</tbody></table></div>'


def flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested mappings as ``(dotted.key, value)`` pairs; lists of scalars joined by commas."""
    if isinstance(obj, Mapping):
        out: list[tuple[str, Any]] = []
        for key, value in obj.items():
            out.extend(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(obj, list) and all(not isinstance(v, (Mapping, list)) for v in obj):
        return [(prefix, ", ".join(format_value(v) for v in obj))]
    if isinstance(obj, list):
        return [(prefix, json.dumps(obj, default=str))]
    return [(prefix, obj)]


def image_html(png: bytes, alt: str, caption: str | None = None) -> str:
    """An ``<img>`` with the PNG embedded as a base64 data URI."""
    data = base64.b64encode(png).decode("ascii")
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return (f'<figure><img alt="{escape(alt)}" src="data:image/png;base64,{data}">{cap}'
            "</figure>")


def page_html(title: str, head: str, sections: list[tuple[str, str, str]], *,
              generator: str = "marketreact") -> str:
    """One self-contained HTML page: a title, a head, a link bar and the sections.

    Parameters
    ----------
    title : str
        Page title (also the ``<h1>``).
    head : str
        HTML shown under the title.
    sections : list of (str, str, str)
        ``(anchor, heading, HTML content)`` of each section, in order.
    generator : str, default "marketreact"
        Content of the ``generator`` meta tag, e.g. ``"marketreact 0.1.0"``.

    Returns
    -------
    str
    """
    links = "".join(f'<a href="#{escape(anchor)}">{escape(label)}</a>'
                    for anchor, label, _ in sections)
    body = "".join(f'<section id="{escape(anchor)}"><h2>{escape(label)}</h2>{content}</section>\n'
                   for anchor, label, content in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="{escape(generator)}">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n{head}<nav>{links}</nav>\n{body}</body></html>\n"
    )


def backtest_cards(metrics: Any) -> str:
    """Header cards of a backtest from a ``metrics.json`` document (empty without metrics)."""
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
    return "".join(f"<div class=\"card\"><b>{escape(v)}</b><span>{escape(k)}</span></div>"
                   for v, k in items)


#: Backtest metrics in words, with their units: ``key -> (label, unit)``. Units: "%" values
#: are fractions shown as percent, "sessions" counts of trading sessions, "" plain numbers.
METRIC_LABELS: dict[str, tuple[str, str]] = {
    "trades": ("Trades", "count"), "events_not_traded": ("Events not traded", "count"),
    "events_failed": ("Events that failed", "count"), "long_trades": ("Long trades", "count"),
    "short_trades": ("Short trades", "count"), "hit_rate": ("Hit rate", "%"),
    "mean_trade_return": ("Mean net return per trade", "%"),
    "median_trade_return": ("Median net return per trade", "%"),
    "mean_trade_t": ("t of the mean trade return", ""),
    "mean_gross_trade_return": ("Mean gross return per trade", "%"),
    "start": ("First session", "date"), "end": ("Last session", "date"),
    "sessions": ("Sessions", "sessions"), "total_return": ("Total return", "%"),
    "annualised_return": ("Annualised return", "% a year"),
    "volatility": ("Volatility (annualised)", "% a year"),
    "sharpe": ("Sharpe ratio (annualised)", ""), "sortino": ("Sortino ratio (annualised)", ""),
    "max_drawdown": ("Maximum drawdown", "%"),
    "max_drawdown_duration": ("Maximum drawdown, peak to trough", "sessions"),
    "longest_drawdown": ("Longest drawdown, peak to recovery", "sessions"),
    "exposure": ("Mean gross exposure", "% of capital"),
    "mean_positions": ("Mean open positions", "count"),
    "turnover_total": ("Turnover, total", "× capital"),
    "turnover_annual": ("Turnover, annualised", "× capital a year"),
    "costs_paid": ("Costs paid", "% of capital"),
    "trade_costs_paid": ("Trade costs paid", "% of capital"),
}


def _metric_row(key: str, value: Any) -> tuple[str, str, str, str]:
    """(label, value in its unit, unit, raw key) of one metric."""
    base = key.removeprefix("benchmark_")
    label, unit = METRIC_LABELS.get(base, (key.replace("_", " ").capitalize(), ""))
    if base != key:
        label = f"Benchmark: {label[0].lower()}{label[1:]}"
    shown = format_value(value)
    if unit.startswith("%") and isinstance(value, int | float) and not isinstance(value, bool):
        shown = f"{value:+.2%}" if key.endswith("return") else f"{value:.2%}"
    return label, shown, unit, key


def metrics_table_html(metrics: Mapping[str, Any]) -> str:
    """Backtest metrics with names in words and units beside the raw ``metrics.json`` keys."""
    rows = [_metric_row(k, v) for k, v in flatten(metrics)]
    body = "".join(f"<tr><th>{escape(label)}</th><td>{escape(shown)}</td>"
                   f"<td>{escape(unit)}</td><td>{escape(key)}</td></tr>"
                   for label, shown, unit, key in rows)
    return ('<div class="scroll"><table class="data kv"><thead><tr><th>metric</th>'
            "<th>value</th><th>unit</th><th>key in metrics.json</th></tr></thead>"
            f"<tbody>{body}</tbody></table></div>")


def backtest_metrics_html(doc: Mapping[str, Any], max_rows: int) -> str:
    """The parts of a backtest's ``metrics.json``: metrics, placebo, forward returns, settings."""
    parts = ["<h3>Metrics</h3>" + metrics_table_html(doc["metrics"])]
    if isinstance(doc.get("placebo"), dict):
        parts.append("<h3>Placebo (randomly shifted event dates)</h3>"
                     + kv_html(flatten(doc["placebo"])))
    forward = doc.get("forward")
    if isinstance(forward, list) and forward and all(isinstance(r, dict) for r in forward):
        parts.append("<h3>Forward returns and information coefficient</h3>"
                     + frame_html(pd.DataFrame(forward), max_rows=max_rows))
    notes = doc.get("diagnostics")
    if isinstance(notes, list) and notes:
        items = "".join(f"<li>{escape(n)}</li>" for n in notes)
        parts.append(f'<h3>Data notes</h3><ul class="notes">{items}</ul>')
    for key, label in (("settings", "Backtest settings"), ("inputs", "Inputs"),
                       ("versions", "Package versions")):
        if isinstance(doc.get(key), dict):
            parts.append(f"<details><summary>{label}</summary>"
                         + kv_html(flatten(doc[key])) + "</details>")
    rest = {k: v for k, v in doc.items() if k not in
            {"metrics", "placebo", "forward", "diagnostics", "settings", "inputs", "versions"}}
    if rest:
        parts.append("<details><summary>Everything else in metrics.json</summary>"
                     + kv_html(flatten(rest)) + "</details>")
    return "".join(parts)


#: Cross-event tests of ``aggregate.csv`` in words (statistic column -> name).
TEST_LABELS: dict[str, str] = {
    "t": "cross-sectional t", "skew_t": "skewness-adjusted t", "bw1980": "Brown-Warner 1980",
    "bw1985": "Brown-Warner 1985", "patell": "Patell Z", "bmp": "BMP (Boehmer et al.)",
    "kp_patell": "Patell, Kolari-Pynnönen adjusted", "kp_bmp": "BMP, Kolari-Pynnönen adjusted",
    "lamb": "Lamb", "sign": "sign", "gsign": "generalised sign (Cowan)",
    "csign": "Corrado-Zivney sign", "rank": "Corrado rank", "mrank": "modified rank",
    "grank_t": "generalised rank t", "grank_z": "generalised rank Z", "wilcoxon": "Wilcoxon",
    "boot": "bootstrap", "bhar_t": "BHAR t", "bhar_tsa": "BHAR skewness-adjusted t",
}


def stars(p: float) -> str:
    """``***`` below 1 %, ``**`` below 5 %, ``*`` below 10 %."""
    if not np.isfinite(p):
        return ""
    return "***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.1 else ""


def tests_by_window(agg: pd.DataFrame, words: MeasureWords | None = None) -> pd.DataFrame:
    """``aggregate.csv`` as one row per test and one column per CAR window.

    Each cell is ``statistic (p)`` with stars; the first rows are N, the CAAR and the
    mean BHAR. Tests are every ``X`` with an ``X_p`` column, in the file's order.
    ``words`` names the measure of a volume or volatility study (``CAAV`` ...), whose
    values are not percentages.
    """
    if "window" not in agg:
        return agg
    named = words or measure_words(None)
    windows = [str(w) for w in agg["window"]]
    rows: list[dict[str, str]] = []
    lead = (("n", "N (events)", lambda v: format_value(v)),
            ("caar", named.cumulative_average,
             lambda v: named.value(v) if np.isfinite(v) else ""),
            ("mean_bhar", "mean BHAR", lambda v: f"{v:+.2%}" if np.isfinite(v) else ""))
    for col, label, fmt in lead:
        if col in agg:
            rows.append({"test": label, **{w: fmt(v) for w, v in zip(windows, agg[col],
                                                                      strict=True)}})
    for col in agg.columns:
        if not isinstance(col, str):
            continue
        p_col = p_column(col)
        if p_col not in agg:
            continue
        cells = {}
        for w, stat, pv in zip(windows, agg[col], agg[p_col], strict=True):
            stat, pv = float(stat), float(pv)
            cells[w] = (f"{stat:.2f} ({pv:.3f}){stars(pv)}"
                        if np.isfinite(stat) and np.isfinite(pv) else "")
        rows.append({"test": TEST_LABELS.get(col, col), **cells})
    return pd.DataFrame(rows, columns=["test", *windows])


def car_wide(car: pd.DataFrame, events: pd.DataFrame | None,
             words: MeasureWords | None = None) -> pd.DataFrame:
    """The long ``car`` table as one row per event: ``CAR``, ``t`` and ``p`` of each window.

    With ``events``, each row starts with the event's ticker and day 0; ``words`` names
    the cumulative measure of a volume or volatility study (``CAV`` ...).
    """
    if not {"event_id", "window", "car"} <= set(car.columns):
        return car
    values = [c for c in ("car", "car_t", "car_p") if c in car.columns]
    wide = car.pivot_table(index="event_id", columns="window", values=values, aggfunc="first",
                           sort=False)
    windows = list(dict.fromkeys(car["window"]))
    names = {"car": (words or measure_words(None)).cumulative, "car_t": "t", "car_p": "p"}
    wide = wide.reindex(columns=[(v, w) for w in windows for v in values])
    wide.columns = [f"{names[str(c[0])]} {c[1]}" for c in wide.columns]
    order = list(dict.fromkeys(car["event_id"]))
    wide = wide.reindex(order).reset_index()
    if events is not None and {"event_id", "ticker"} <= set(events.columns):
        cols = [c for c in ("event_id", "ticker", "day0") if c in events.columns]
        wide = events[cols].drop_duplicates("event_id").merge(wide, on="event_id", how="right")
    return wide


def events_first(events: pd.DataFrame) -> pd.DataFrame:
    """The events table with its identifying columns first."""
    first = [c for c in ("event_id", "ticker", "market", "day0", "timestamp", "date", "timing",
                         "n_estimation", "alpha", "beta", "sigma", "headline")
             if c in events.columns]
    return events[first + [c for c in events.columns if c not in first]]




def result_html(events: pd.DataFrame, car: pd.DataFrame, aggregate: pd.DataFrame,
                settings: Mapping[str, Any], *, failures: pd.DataFrame | None = None,
                abnormal_returns: pd.DataFrame | None = None, max_rows: int = 50) -> str:
    """A compact HTML view of an event study (for Jupyter's ``_repr_html_``).

    Shows a line of settings, the CAAR per window with its tests, each event's
    day-0 AR and CAR over the first CAR window, and the failures.

    Parameters
    ----------
    events : pandas.DataFrame
        One row per studied event: ``event_id, ticker, day0, ...``.
    car : pandas.DataFrame
        Long CAR table: ``event_id, window, car, car_t, car_p, ...``.
    aggregate : pandas.DataFrame
        CAAR per window with the test columns.
    settings : mapping
        The settings as plain values (``StudySettings.to_dict()``): ``model``,
        ``returns``, ``estimation``, ``window`` and ``car_windows`` are shown.
    failures : pandas.DataFrame, optional
        ``event_id, ticker, reason`` of the events that could not be studied.
    abnormal_returns : pandas.DataFrame, optional
        Long table with ``event_id, rel_day, ar``, for the day-0 AR column.
    max_rows : int, default 50
        Rows shown per table.

    Returns
    -------
    str
    """
    n_failed = 0 if failures is None else len(failures)
    words = measure_words(settings.get("measure"))  # a volume study says CAAV, AV(0), CAV
    parts = [
        "<div>",
        f"<p><b>Event study</b>: {len(events)} events studied, "
        f"{n_failed} failed · model {escape(settings['model'])} · returns "
        f"{escape(settings['returns'])} · estimation "
        f"{escape(format_window(settings['estimation']))} · "
        f"window {escape(format_window(settings['window']))}"
        f"{'' if words.has_bhar else ' · measure ' + escape(settings['measure'])}</p>",
        frame_html(words.named(aggregate), max_rows=max_rows,
                   caption=f"{words.cumulative_average} by window"),
    ]
    if len(events) and len(car):
        window = format_window(settings["car_windows"][0])
        table = events[["event_id", "ticker", "day0"]]
        if abnormal_returns is not None:
            ar0 = abnormal_returns.loc[abnormal_returns["rel_day"] == 0,
                                       ["event_id", "ar"]].rename(
                                           columns={"ar": f"{words.short}(0)"})
            table = table.merge(ar0, on="event_id", how="left")
        sel = car.loc[car["window"] == window, ["event_id", "car", "car_t", "car_p"]].rename(
            columns={"car": f"{words.cumulative}{window}", "car_t": "t", "car_p": "p"})
        table = table.merge(sel, on="event_id", how="left")
        parts.append(frame_html(table, max_rows=max_rows, caption="Events"))
    if failures is not None and len(failures):
        parts.append(frame_html(failures, max_rows=max_rows, caption="Failures"))
    parts.append("</div>")
    return "".join(parts)


def backtest_html(metrics: Mapping[str, Any], trades: pd.DataFrame,
                  settings: Mapping[str, Any], *, placebo: Mapping[str, Any] | None = None,
                  failures: pd.DataFrame | None = None, max_rows: int = 10) -> str:
    """A compact HTML view of a backtest (for Jupyter's ``_repr_html_``).

    Shows a line of settings, the metrics, the placebo, the first trades and
    the failures.

    Parameters
    ----------
    metrics : mapping of str to number
        The backtest's named figures.
    trades : pandas.DataFrame
        One row per trade.
    settings : mapping
        The settings as plain values (``BacktestSettings.to_dict()``): ``signal``,
        ``signal_mode``, ``entry``, ``hold``, ``hedge`` and ``cost_bps`` are shown.
    placebo : mapping, optional
        Placebo figures (draws, p-values), shown as a second table.
    failures : pandas.DataFrame, optional
        ``event_id, ticker, reason`` of the events that could not be traded.
    max_rows : int, default 10
        Trades shown (and rows of the failures table).

    Returns
    -------
    str
    """
    n_failed = 0 if failures is None else len(failures)
    parts = [
        "<div>",
        f"<p><b>Backtest</b>: {len(trades)} trades, {n_failed} events failed · signal "
        f"{escape(settings['signal'])} ({escape(settings['signal_mode'])}) · entry "
        f"{escape(settings['entry'])} · hold {escape(settings['hold'])} · hedge "
        f"{escape(settings['hedge'])} · cost {escape(format_value(settings['cost_bps']))} "
        "bps/side</p>",
        '<p class="note">Metrics</p>' + kv_html(flatten(dict(metrics))),
    ]
    if placebo is not None:
        parts.append('<p class="note">Placebo (randomly shifted event dates)</p>'
                     + kv_html(flatten(dict(placebo))))
    if len(trades):
        parts.append(frame_html(trades, max_rows=max_rows, caption="Trades"))
    if failures is not None and len(failures):
        parts.append(frame_html(failures, max_rows=max_rows, caption="Failures"))
    parts.append("</div>")
    return "".join(parts)
