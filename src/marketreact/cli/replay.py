"""``marketreact replay``: rerun a recorded run and say whether its tables come out identical.

A study or a backtest records its command line and input files in ``summary.json`` /
``metrics.json`` (:mod:`marketreact.output.provenance`); replay reruns it into a fresh
folder and compares every CSV table byte for byte.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from marketreact.cli.app import EXIT_PARTIAL, _console, _err, app, handle_errors
from marketreact.errors import InputError, InputProblem

#: The JSON files a run records itself in: a study's, a backtest's.
_SUMMARIES = ("summary.json", "metrics.json")
#: Options that name the results folder (replaced by the replay's folder).
_OUT_FLAGS = ("--out", "-o")


def _recorded(summary: Path) -> tuple[list[str], Path, list[dict[str, Any]], str]:
    """The argv, working folder, input records and source digest of a run's summary."""
    def bad(message: str, field: str | None = None) -> InputError:
        return InputError([InputProblem(str(summary), None, field, None, message)])

    if summary.is_dir():
        summary = next((summary / n for n in _SUMMARIES if (summary / n).is_file()),
                       summary / _SUMMARIES[0])
    try:
        doc = json.loads(summary.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise bad("not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"not readable JSON ({exc})") from None
    run = doc.get("run") if isinstance(doc, dict) else None
    if not isinstance(run, dict) or not isinstance(run.get("argv"), list) or \
            not all(isinstance(a, str) for a in run["argv"]):
        raise bad("records no command line (written before marketreact recorded runs, or "
                  "not a study's summary)", "run")
    argv = list(run["argv"])
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in ("study", "backtest"):
        raise bad(f"records {command or 'no command'!r}, not a study or a backtest",
                  "run.argv")
    if not any(a in _OUT_FLAGS or a.startswith("--out=") for a in argv):
        raise bad("the recorded command line names no --out folder", "run.argv")
    records = doc.get("input_files") or []
    return (argv, Path(str(run.get("cwd") or ".")), [r for r in records if isinstance(r, dict)],
            str(run.get("source_sha256") or ""))


def _with_out(argv: list[str], out: Path) -> list[str]:
    """``argv`` writing into ``out`` instead of the recorded folder."""
    result, skip = [], False
    for i, word in enumerate(argv):
        if skip:
            skip = False
            continue
        if word in _OUT_FLAGS and i + 1 < len(argv):
            result += [word, str(out)]
            skip = True
        elif word.startswith("--out="):
            result.append(f"--out={out}")
        else:
            result.append(word)
    return result


@app.command()
@handle_errors
def replay(
    summary: Annotated[Path, typer.Argument(
        help="summary.json of a study, metrics.json of a backtest, or the results folder.")],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Folder for the rerun [default: RESULTS-replay beside the "
        "results folder].")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only differences.")
                     ] = False,
) -> None:
    """Rerun a recorded study or backtest and compare every CSV table with the recorded one.

    Exit code 0 when every table is identical, 1 when one differs (the first differing
    file, row and column are named) or the rerun failed; input files whose SHA-256
    changed since the run are named first.
    """
    from marketreact.output.folder import check_results_folder, read_manifest
    from marketreact.output.provenance import changed_inputs, compare_tables, source_digest

    summary = Path(summary)
    folder = summary if summary.is_dir() else summary.parent
    argv, cwd, records, source = _recorded(summary)
    members = check_results_folder(folder)
    target = Path(os.path.abspath(out)) if out is not None else \
        folder.resolve().parent / f"{folder.resolve().name}-replay"
    if target.resolve() == folder.resolve():
        raise InputError([InputProblem("command line", None, "--out", str(out),
                                       "is the recorded results folder; choose another")])
    console = _console(quiet)
    changed = changed_inputs(records)
    for line in changed:
        _err(f"input changed: {line}")
    if source and source != source_digest():
        console.print("note: marketreact's source code changed since the run (source_sha256 "
                      "differs); differences may come from the code", style="dim")
    if not cwd.is_dir():
        _err(f"the run's working folder {cwd} is gone; relative paths are read from "
             f"{Path.cwd()}")
        cwd = Path.cwd()
    command = [sys.executable, "-m", "marketreact", *_with_out(argv, target)]
    console.print(f"replaying: marketreact {' '.join(command[3:])}")
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode not in (0, EXIT_PARTIAL) or read_manifest(target) is None:
        for line in (done.stderr or "").strip().splitlines()[-5:]:
            _err(f"rerun: {line}")
        _err(f"the rerun failed (exit code {done.returncode}); results differ")
        raise typer.Exit(1)
    names = sorted(n for n in (members or set()) if n.endswith(".csv")) if members else None
    differences = compare_tables(folder, target, names)
    if differences:
        for d in differences:
            _err(f"differs: {d}")
        _err(f"{len(differences)} table(s) differ between {folder} and {target}")
        raise typer.Exit(1)
    count = len(names) if names is not None else len(list(folder.glob("*.csv")))
    console.print(f"identical: all {count} CSV tables of {folder} came out the same in "
                  f"{target}" + (" (although inputs changed)" if changed else ""))
