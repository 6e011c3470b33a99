"""Progress of long work: silent in the library, a rich progress bar on the command line.

Library code marks its long loops with :func:`track`; nothing is shown unless
a caller has installed a reporter with :func:`reporting` (the command line does,
through :func:`progress_bar`, only when its output is a terminal and ``--quiet``
was not given). The reporter lives in a context variable, so the library keeps
no global state and concurrent callers do not see each other's bars.

Examples
--------
>>> from marketreact.progress import track
>>> [x for x in track(range(3), "counting")]  # no reporter installed: a plain loop
[0, 1, 2]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar

from rich.console import Console

T = TypeVar("T")


class Reporter(Protocol):
    """Receives progress: tasks are started, advanced and finished."""

    def start(self, description: str, total: float) -> Any:
        """Start a task; returns a handle for the other calls."""
        ...

    def advance(self, handle: Any, amount: float) -> None:
        """Record ``amount`` more units of work done."""
        ...

    def finish(self, handle: Any) -> None:
        """The task is over (done, or abandoned by an error)."""
        ...


_reporter: ContextVar[Reporter | None] = ContextVar("marketreact_progress", default=None)


@contextmanager
def reporting(reporter: Reporter | None) -> Iterator[None]:
    """Send the progress of everything run inside the block to ``reporter``."""
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)


def track(items: Iterable[T], description: str, total: float | None = None,
          size: Callable[[T], float] | None = None) -> Iterator[T]:
    """Iterate over ``items``, reporting each one as done when the next is asked for.

    Parameters
    ----------
    items : iterable
        The work units.
    description : str
        What is being done, e.g. ``"Downloading prices from Yahoo"``.
    total : float, optional
        Total amount of work (default ``len(items)``).
    size : callable, optional
        Amount of work of one item (default 1).

    Yields
    ------
    object
        The items, unchanged. Without a reporter, or with at most one unit of
        work, this is a plain loop.
    """
    reporter = _reporter.get()
    if total is None:
        total = len(items) if hasattr(items, "__len__") else None  # type: ignore[arg-type]
    if reporter is None or total is None or total <= 1:
        yield from items
        return
    handle = reporter.start(description, total)
    try:
        for item in items:
            yield item
            reporter.advance(handle, size(item) if size is not None else 1)
    finally:
        reporter.finish(handle)


class RichReporter:
    """A :class:`Reporter` drawing bars on a :class:`rich.progress.Progress`."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress

    def start(self, description: str, total: float) -> Any:
        """Add a bar."""
        return self.progress.add_task(description, total=total)

    def advance(self, handle: Any, amount: float) -> None:
        """Move a bar on."""
        self.progress.advance(handle, amount)

    def finish(self, handle: Any) -> None:
        """Remove a finished bar."""
        self.progress.remove_task(handle)


@contextmanager
def progress_bar(quiet: bool = False, console: Console | None = None) -> Iterator[bool]:
    """Show progress bars on stderr for the work done inside the block.

    Parameters
    ----------
    quiet : bool, default False
        Show nothing.
    console : rich.console.Console, optional
        Where to draw (default: stderr). Nothing is drawn when it is not a terminal.

    Yields
    ------
    bool
        Whether bars are shown.
    """
    console = console or Console(stderr=True)
    if quiet or not console.is_terminal:
        with reporting(None):
            yield False
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(SpinnerColumn(), TextColumn("[progress.description]{task.description}"),
                  BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console, transient=True) as bars, \
            reporting(RichReporter(bars)):
        yield True
