"""``--format`` and ``--plot-format`` of ``study`` and ``backtest``.

``--format`` is repeatable and takes comma lists: ``--format xlsx,latex --format md``.
CSV tables are always written (every other format is made from them); ``json`` adds
each table as JSON records, ``xlsx``, ``latex``, ``md`` and ``parquet`` the files of
``marketreact export`` inside the results folder (listed in its manifest).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

import typer

from marketreact.errors import InputError, InputProblem

#: Every value ``--format`` takes.
TABLE_FORMATS = ("csv", "json", "xlsx", "latex", "md", "parquet")
#: Formats written by :func:`marketreact.output.export.export_results`.
EXPORT_FORMATS = ("xlsx", "latex", "md", "parquet")
#: Values ``--plot-format`` takes.
PLOT_FORMATS = ("png", "svg", "pdf")

FormatsOpt = Annotated[list[str] | None, typer.Option(
    "--format", help="Table formats besides CSV: json, xlsx, latex, md, parquet (repeat or "
    "give a comma list: --format xlsx,latex); the export files go into the results "
    "folder [default: csv].")]
PlotFormatOpt = Annotated[str, typer.Option(
    "--plot-format", help="File format of the plots: png, svg or pdf.")]


@dataclass(frozen=True)
class Formats:
    """What ``--format`` asked for.

    Attributes
    ----------
    json : bool
        Also write JSON records of every table.
    exports : tuple of str
        Export formats (``xlsx``, ``latex``, ``md``, ``parquet``), in the order given.
    """

    json: bool = False
    exports: tuple[str, ...] = ()


def parse_formats(values: Iterable[object] | None) -> Formats:
    """Read ``--format`` values (repeated, comma lists, any case).

    Raises
    ------
    InputError
        Naming ``--format`` and the unknown value.
    """
    seen: list[str] = []
    for value in values or ():
        text = str(getattr(value, "value", value))
        for part in text.split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name not in TABLE_FORMATS:
                raise InputError([InputProblem("command line", None, "--format", part.strip(),
                                               f"unknown format; choose from "
                                               f"{', '.join(TABLE_FORMATS)}")])
            if name not in seen:
                seen.append(name)
    return Formats("json" in seen, tuple(n for n in seen if n in EXPORT_FORMATS))


def parse_plot_format(value: str) -> str:
    """Check ``--plot-format``; returns it in lower case."""
    name = str(value).strip().lower()
    if name not in PLOT_FORMATS:
        raise InputError([InputProblem("command line", None, "--plot-format", str(value),
                                       f"choose from {', '.join(PLOT_FORMATS)}")])
    return name
