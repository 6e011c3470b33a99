"""Writing a study's results: CSV tables, JSON summary and plots."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from marketreact._typing import StrPath
from marketreact.output.export import save_plot
from marketreact.output.files import safe_name, save_figure, versions, write_csv, write_json
from marketreact.panel.measures import measure_words
from marketreact.render.figures import caar_figure, car_bars_figure, event_price_figure
from marketreact.study.results import StudyResult

log = logging.getLogger(__name__)


def write_study(result: StudyResult, out: StrPath, *, inputs: dict[str, Any] | None = None,
                fmt: str = "csv", run: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write a study's tables to a folder.

    Files: ``events.csv``, ``abnormal_returns.csv``, ``car.csv``, ``aar.csv``,
    ``aggregate.csv``, ``failures.csv``, ``overlaps.csv`` (other news in each
    event's windows), ``screened.csv`` (events merged or left out by the
    duplicates and overlap policies), ``diagnostics.csv`` (estimation-residual
    tests and stale prices per event), with a ``group`` setting
    ``group_differences.csv``, and ``summary.json`` (settings, inputs,
    versions, counts, screening, pre-event trend test and diagnostics). With a
    ``group`` setting ``aar.csv`` and ``aggregate.csv`` start with a ``group``
    column: ``all`` for every event, then each group. Volume and volatility
    studies name their columns after the measure (``av``, ``cav``, ``caav`` ...;
    :class:`~marketreact.panel.measures.MeasureWords`) and have no BHAR
    columns. With ``fmt="json"`` the
    tables are also written as JSON records. ``run`` (the command line and the
    input files' SHA-256, :mod:`marketreact.output.provenance`) is added to
    ``summary.json`` as its keys ``run`` and ``input_files``.

    Returns
    -------
    dict of str to pathlib.Path
        The files written, by table name.
    """
    out = Path(out)
    aar, aggregate = result.aar, result.aggregate
    if result.group_aar is not None and result.group_aggregate is not None:
        aar = pd.concat([aar.assign(group="all")[["group", *aar.columns]],
                         result.group_aar], ignore_index=True)
        aggregate = pd.concat([aggregate.assign(group="all")[["group", *aggregate.columns]],
                               result.group_aggregate], ignore_index=True)
    tables = {
        "events": result.events,
        "abnormal_returns": result.abnormal_returns,
        "car": result.car,
        "aar": aar,
        "aggregate": aggregate,
        "failures": result.failures,
        "overlaps": result.overlaps,
        "screened": result.screened,
        "diagnostics": result.event_diagnostics,
    }
    if result.group_differences is not None:
        tables["group_differences"] = result.group_differences
    words = measure_words(result.settings.measure)  # volume and volatility say so in columns
    tables = {name: words.named(frame) for name, frame in tables.items()}
    aggregate = tables["aggregate"]
    written = {name: write_csv(frame, out / f"{name}.csv") for name, frame in tables.items()}
    if fmt == "json":
        for name, frame in tables.items():
            records = json.loads(frame.to_json(orient="records", date_format="iso"))
            written[f"{name}_json"] = write_json(records, out / f"{name}.json")
    summary = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": result.settings.to_dict(),
        "inputs": inputs or {},
        "versions": versions(),
        "events_studied": result.n_events,
        "events_failed": len(result.failures),
        "diagnostics": list(result.diagnostics),
        "screening": result.screening,
        "pretrend": result.pretrend.to_dict() if result.pretrend is not None else None,
        "aggregate": json.loads(aggregate.to_json(orient="records")),
    }
    if run:
        summary.update(run)
    if result.group_differences is not None:
        summary["group_differences"] = json.loads(
            result.group_differences.to_json(orient="records"))
    written["summary"] = write_json(summary, out / "summary.json")
    return written


MAX_PRICE_PLOTS = 50


def write_study_plots(abnormal_returns: pd.DataFrame, car: pd.DataFrame | None,
                      events: pd.DataFrame | None, out: StrPath, *,
                      max_price_plots: int = MAX_PRICE_PLOTS,
                      overwrite: bool = True,
                      groups: pd.Series | None = None,
                      plot_format: str = "png",
                      measure: str | None = None) -> dict[str, Path]:
    """Write the plots of a study into a folder.

    Files: ``caar.png``, ``car_bars.png`` (needs ``car``) and
    ``price_<event_id>.png`` for the first ``max_price_plots`` events (needs
    the ``price`` column).

    Parameters
    ----------
    abnormal_returns, car, events : pandas.DataFrame
        The study's tables (``car`` and ``events`` may be None).
    out : str or path-like
        Folder.
    max_price_plots : int, default 50
        Most per-event price plots.
    overwrite : bool, default True
        False keeps plots already in the folder.
    groups : pandas.Series, optional
        Group of each event id: one CAAR line per group in ``caar.png``.
    plot_format : {"png", "svg", "pdf"}, default "png"
        File format (and suffix) of the plots.
    measure : {"return", "volume", "volatility"}, optional
        What the tables measure (default: returns): titles, labels and units follow it.

    Returns
    -------
    dict of str to pathlib.Path
        The files written (or kept), by plot name.
    """
    out = Path(out)
    written: dict[str, Path] = {}

    def emit(name: str, build: Any) -> None:
        path = out / f"{name}.{plot_format}"
        if not overwrite and path.exists():
            written[name] = path
            return
        fig = build()
        written[name] = (save_figure(fig, path) if plot_format == "png"
                         else save_plot(fig, path, plot_format))

    if abnormal_returns.empty:
        log.info("no abnormal returns: no plots written")
        return written
    words = measure_words(measure)
    emit("caar", lambda: caar_figure(abnormal_returns, groups=groups, words=words))
    if car is not None and len(car):
        emit("car_bars", lambda: car_bars_figure(abnormal_returns, car, words=words))
    if "price" in abnormal_returns:
        ids = list(dict.fromkeys(abnormal_returns["event_id"]))
        if len(ids) > max_price_plots:
            log.warning("price plots written for the first %d of %d events", max_price_plots,
                        len(ids))
        for eid in ids[:max_price_plots]:
            name, k = f"price_{safe_name(eid)}", 2
            while name in written:  # ids that differ only in unsafe characters
                name, k = f"price_{safe_name(eid)}_{k}", k + 1
            emit(name, lambda eid=eid: event_price_figure(abnormal_returns, eid, events,
                                                          words=words))
    return written
