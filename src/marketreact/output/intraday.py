"""Writing an intraday study's results: CSV tables, a JSON summary and the figures."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from marketreact._typing import StrPath
from marketreact.output.files import safe_name, save_figure, versions, write_csv, write_json
from marketreact.render.intraday_figures import caar_by_bar_figure, event_bars_figure
from marketreact.study.intraday import IntradayResult

#: Most per-event bar figures written.
MAX_EVENT_PLOTS = 40


def write_intraday(result: IntradayResult, out: StrPath, *, inputs: dict[str, Any] | None = None,
                   plots: bool = False) -> dict[str, Path]:
    """Write an intraday study into a folder.

    Files: ``events.csv``, ``abnormal_returns.csv``, ``aar.csv``, ``aggregate.csv``
    (both with the time-of-day rank columns ``rs``/``rs_p``, after Saha & Rinaudo
    2014), ``session.csv`` (the event session, bar 0 to the close, the overnight
    AR), ``volume.csv`` (abnormal log bar volume by relative bar), ``failures.csv``,
    ``summary.json``; with ``plots`` also
    ``caar.png`` and up to :data:`MAX_EVENT_PLOTS` ``bars/<event>.png``.

    Parameters
    ----------
    result : IntradayResult
        The study.
    out : str or path-like
        The folder (created).
    inputs : dict, optional
        What the run read (recorded in ``summary.json``).
    plots : bool, default False
        Write the figures too.

    Returns
    -------
    dict of str to pathlib.Path
        The files written, by name.
    """
    out = Path(out)
    tables = {"events": result.events, "abnormal_returns": result.abnormal_returns,
              "aar": result.aar, "aggregate": result.aggregate, "session": result.session,
              "volume": result.volume, "failures": result.failures}
    written = {name: write_csv(frame, out / f"{name}.csv") for name, frame in tables.items()}
    settings = {k: (str(v) if not isinstance(v, (int, float, bool, str, type(None), tuple))
                    else v) for k, v in asdict(result.settings).items()}
    summary = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": settings, "inputs": inputs or {}, "versions": versions(),
        "events_studied": len(result.events), "events_failed": len(result.failures),
        "suspect_bars": result.suspect_bars,
        "aggregate": json.loads(result.aggregate.to_json(orient="records")),
        "session": json.loads(result.session.to_json(orient="records")),
        "volume": json.loads(result.volume.to_json(orient="records")),
    }
    written["summary"] = write_json(summary, out / "summary.json")
    if plots and len(result.events):
        written["caar_png"] = save_figure(result.plot("caar"), out / "caar.png")
        for eid in result.events["event_id"].astype(str).head(MAX_EVENT_PLOTS):
            fig = event_bars_figure(result.abnormal_returns, eid)
            written[f"bars_{eid}"] = save_figure(fig, out / "bars" / f"{safe_name(eid)}.png")
    return written


__all__ = ["caar_by_bar_figure", "write_intraday"]
