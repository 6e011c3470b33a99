"""Writing what articles yield: extraction tables and verdicts, atomically."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from marketreact._typing import StrPath
from marketreact.articles.extract import Extraction
from marketreact.articles.verify import Verification
from marketreact.output.files import versions, write_csv, write_json


def write_extraction(x: Extraction, out: StrPath, *,
                     inputs: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write ``events.csv``, ``claims.csv``, ``entities.csv``, ``dates.csv`` and ``summary.json``.

    Returns
    -------
    dict of str to pathlib.Path
        The files written, by table name.
    """
    out = Path(out)
    written = {name: write_csv(frame, out / f"{name}.csv") for name, frame in (
        ("events", x.events), ("claims", x.claims), ("entities", x.entities),
        ("dates", x.dates))}
    written["summary"] = write_json({
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "article": x.article.source,
        "published": x.publication.describe(),
        "headline": x.article.headline,
        "sentences": len(x.article.sentences),
        "inputs": inputs or {},
        "versions": versions(),
        "events": len(x.events),
        "claims": len(x.claims),
        "entities": {status: int(n) for status, n in
                     x.entities["status"].value_counts().items()},
        "date_references": len(x.dates),
        "notes": list(x.notes),
    }, out / "summary.json")
    return written


def write_verification(v: Verification, out: StrPath, *,
                       inputs: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write ``verdicts.csv`` and ``summary.json`` (tolerance, counts, price failures)."""
    out = Path(out)
    written = {"verdicts": write_csv(v.verdicts, out / "verdicts.csv")}
    written["summary"] = write_json({
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": inputs or {},
        "versions": versions(),
        "tolerance_pp": v.tolerance,
        "verdicts": v.counts(),
        "price_failures": v.failures,
    }, out / "summary.json")
    return written
