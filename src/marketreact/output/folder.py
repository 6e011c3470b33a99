"""Results folders that are all-or-nothing and belong to one run.

A command that writes a folder of results (``study``, ``backtest``, ``extract``,
``verify``) writes the whole set into a hidden staging folder beside the target,
adds ``manifest.json`` (run id, command, every file with its size) and only then
swaps the staging folder in place of the target. A crash, a full disk, Ctrl-C,
SIGTERM or a second run therefore never leaves new files beside old ones: the
target holds either the previous run's complete set or this run's. SIGKILL
leaves the previous folder untouched and a ``.NAME.partial-RUNID`` folder that
the next run into the same target removes.

The target must not hold an input of the run (the swap would replace it), and a
folder that exists but was not written by marketreact is refused, never replaced.
Readers (``report``, ``regress``) call :func:`check_results_folder`, which names
a folder whose files do not match its manifest as incomplete.

Ground floor: imports only the standard library and :mod:`marketreact.errors`.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import shutil
import signal
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from marketreact.errors import InputError, InputProblem

#: The file that says which run wrote a folder and which files belong to it.
MANIFEST = "manifest.json"
#: Files that mark a folder written by marketreact before manifests existed.
_LEGACY_MARKERS = ("summary.json", "metrics.json")
_RENAME_EXCHANGE = 2


def _problem(path: Path, message: str, field: str = "--out") -> InputError:
    return InputError([InputProblem(str(path), None, field, None, message)])


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def input_paths(specs: Iterable[object]) -> list[Path]:
    """Turn input arguments (paths, ``csv:DIR`` price specs) into paths to protect.

    Parameters
    ----------
    specs : iterable
        Paths, strings or price specs such as ``csv:DIR`` or ``csv:A+csv:B``;
        ``yahoo`` and ``None`` are skipped.
    """
    out: list[Path] = []
    for spec in specs:
        if spec is None:
            continue
        if isinstance(spec, os.PathLike):
            out.append(Path(spec))
            continue
        for part in str(spec).split("+"):
            kind, sep, rest = part.partition(":")
            if sep and kind.lower() == "csv":
                out.append(Path(rest))
            elif not sep and part and part.lower() != "yahoo":
                out.append(Path(part))
    return out


def is_results_folder(folder: Path) -> bool:
    """Whether ``folder`` was written by marketreact (it has a manifest or a legacy marker)."""
    return any((folder / name).is_file() for name in (MANIFEST, *_LEGACY_MARKERS))


def check_target(out: Path, inputs: Iterable[object] = ()) -> Path:
    """Refuse an output folder that would destroy an input or a folder that is not ours.

    Parameters
    ----------
    out : pathlib.Path
        The folder the results go to.
    inputs : iterable
        The run's inputs (see :func:`input_paths`).

    Returns
    -------
    pathlib.Path
        ``out`` made absolute.

    Raises
    ------
    InputError
        With one line naming ``--out`` and what it would destroy.
    """
    target = Path(os.path.abspath(out))
    if target.parent == target:
        raise _problem(out, "cannot write results over the root folder")
    if _inside(Path.cwd().resolve(), target.resolve()):
        raise _problem(out, "is the current folder or holds it; choose a folder below it")
    real = target.resolve()
    for item in input_paths(inputs):
        resolved = Path(os.path.abspath(item)).resolve()
        if _inside(resolved, real):
            raise _problem(out, f"would replace {item}, an input of this run; "
                                "choose another output folder")
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise _problem(out, "exists and is not a folder")
    if target.is_dir() and any(target.iterdir()) and not is_results_folder(target):
        raise _problem(out, "exists and holds files that marketreact did not write; choose a "
                            "new or empty folder")
    return target


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where unsupported."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


def _swap_in(staging: Path, target: Path, run_id: str) -> None:
    if not target.exists():
        os.rename(staging, target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # now holds the previous run
        return
    old = target.parent / f".{target.name}.old-{run_id}"
    os.rename(target, old)
    os.rename(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def write_manifest(folder: Path, *, run_id: str, command: str,
                   extra: Iterable[str] = ()) -> Path:
    """Write ``manifest.json`` listing every file of ``folder`` with its size.

    Parameters
    ----------
    folder : pathlib.Path
        The folder to describe.
    run_id : str
        The run that wrote it.
    command : str
        The command that wrote it (``study``, ``backtest`` ...).
    extra : iterable of str
        Names of commands that added files later (``report``).
    """
    files = {p.name: p.stat().st_size for p in sorted(folder.iterdir())
             if p.is_file() and not p.is_symlink() and p.name != MANIFEST}
    doc = {"run_id": run_id, "command": command, "added_by": sorted(set(extra)),
           "written": datetime.now(UTC).isoformat(timespec="seconds"), "files": files}
    tmp = folder / f".{MANIFEST}.{uuid.uuid4().hex}.tmp"
    tmp.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    os.replace(tmp, folder / MANIFEST)
    return folder / MANIFEST


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of ``folder``, or None for a folder without one.

    Raises
    ------
    InputError
        When the manifest exists but cannot be read.
    """
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InputError([InputProblem(str(path), None, None, None,
                                       f"not a readable manifest ({exc})")]) from None
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, int) for k, v in files.items()):
        raise InputError([InputProblem(str(path), None, "files", None,
                                       "not a marketreact manifest")])
    return doc


def check_results_folder(folder: Path) -> set[str] | None:
    """Check a results folder against its manifest.

    Returns
    -------
    set of str or None
        The names of the files that belong to the run (None for a folder
        written before manifests existed: every file counts).

    Raises
    ------
    InputError
        When a file of the manifest is missing or has another size (the folder
        is incomplete or was changed after the run).
    """
    doc = read_manifest(folder)
    if doc is None:
        return None
    bad = []
    for name, size in doc["files"].items():
        path = folder / name
        if not path.is_file() or path.stat().st_size != size:
            bad.append(name)
    if bad:
        raise InputError([InputProblem(str(folder), None, None, None,
                                       f"results folder is incomplete or was changed after "
                                       f"its run ({', '.join(sorted(bad)[:5])} missing or "
                                       "altered); run the command again")])
    return set(doc["files"]) | {MANIFEST}


def add_to_manifest(folder: Path, command: str) -> None:
    """Record files a later command (``report``) added to a results folder."""
    doc = read_manifest(folder)
    if doc is None:
        return
    write_manifest(folder, run_id=str(doc.get("run_id", "")),
                   command=str(doc.get("command", "")),
                   extra=[*doc.get("added_by", []), command])


def _remove_leftovers(target: Path) -> None:
    for stale in target.parent.glob(f".{target.name}.partial-*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit(143) so that cleanup runs (main thread only)."""
    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def results_folder(out: os.PathLike[str] | str, *, command: str,
                   inputs: Iterable[object] = ()) -> Iterator[Path]:
    """Write a results folder all at once.

    Yields a staging folder to write every file into; when the block ends
    normally the manifest is added and the staging folder replaces ``out``.
    Any exception (including Ctrl-C and SIGTERM) removes the staging folder and
    leaves ``out`` as it was.

    Parameters
    ----------
    out : path-like
        The results folder.
    command : str
        The command writing it (recorded in the manifest).
    inputs : iterable
        The run's inputs, which ``out`` must not hold (see :func:`check_target`).
    """
    target = check_target(Path(out), inputs)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target)
    run_id = uuid.uuid4().hex[:12]
    staging = target.parent / f".{target.name}.partial-{run_id}"
    staging.mkdir()
    try:
        with _sigterm_as_exit():
            yield staging
            write_manifest(staging, run_id=run_id, command=command)
            _swap_in(staging, target, run_id)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        name = str(exc.filename or "")
        if name.startswith(str(staging)):  # name the real file, not the staging copy
            name = str(target) + name[len(str(staging)):]
        raise OSError(exc.errno, exc.strerror or str(exc), name or str(target)) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
