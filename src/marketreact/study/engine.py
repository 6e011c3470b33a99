"""The study engine: per-event fits, abnormal returns and CARs in memory-bounded chunks.

Two ways to compute the same numbers
------------------------------------
*General path* (any linear model): gather each event's estimation and event
windows from the panel (``E x L`` arrays) and solve the batched normal equations
(:func:`marketreact.models.fit_linear`). Its cost grows with the estimation
window's length ``L1`` (240 sessions by default).

*Moment path* (constant mean, market-adjusted, market model, and any model whose
regressors are a subset of ``const, market``): OLS on one regressor needs only
the window sums ``n, sum x, sum y, sum xx, sum xy, sum yy`` of the returns used
in the estimation. :func:`build_moments` computes running (prefix) sums of
these over the whole ticker x session panel once, under exactly the
estimation mask of the general path (one-session stock return present, market
one-session return present), so each event's fit is a difference of two
look-ups: O(1) per event whatever ``L1``. Only the short event window is
gathered, and estimation residuals are computed later, only if asked for
(:class:`MomentSource`). Both paths agree to rounding (the tests compare them
to 1e-12).

With one regressor ``x`` and the constant, for the returns used (``span = 1``)::

    b = (S_xy - S_x S_y / n) / (S_xx - S_x^2 / n),   a = (S_y - b S_x) / n
    (X'X)^-1 = [[S_xx, -S_x], [-S_x, n]] / (n S_xx - S_x^2)
    SSR = (S_yy - S_y^2 / n) - b (S_xy - S_x S_y / n),   s^2 = SSR / (n - 2)

Engines
-------
Events are cut into chunks of :data:`CHUNK_EVENTS` and each chunk is computed
by a pure function of (panel, prepared moments, chunk). :class:`LocalEngine`
maps the chunks in this process; :class:`DaskEngine` maps them over a Dask
cluster, shipping the panel to the workers once (``scatter``) and building
the moments there in one task, so only the event indices travel per chunk.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np

from marketreact._typing import IntArray
from marketreact.models.linear import EventBlock
from marketreact.models.moments import (
    PanelLike,
    ReturnsView,
    moment_chunk,
    moment_fits,
    moment_path_supported,
)
from marketreact.models.spec import ChunkPlan
from marketreact.panel.returns import ExchangePanel
from marketreact.windows import CHUNK_EVENTS

log = logging.getLogger(__name__)



# ---------------------------------------------------------------------------------------------
# Engines
# ---------------------------------------------------------------------------------------------
TaskFn = Callable[..., Any]


class Engine(Protocol):
    """Maps a function over tasks that share one panel; yields the results in task order."""

    name: str

    def run(self, panel: PanelLike, fn: TaskFn, tasks: Sequence[tuple[Any, ...]]
            ) -> Iterator[Any]:
        """Yield ``fn(panel, *task)`` for every task, in order."""
        ...

    def close(self) -> None:
        """Release what the engine started."""
        ...


class LocalEngine:
    """Compute the tasks in this process, on up to ``workers`` threads (one per core).

    The tasks are numpy work on the panel, which releases the GIL for most of its
    time: with several threads the next tasks are computed while the caller reads
    the current one's result. Results come in task order, and each task computes
    the same numbers on any thread.

    Parameters
    ----------
    workers : int, optional
        Threads (default: the cores, up to 2); 1 computes the tasks one after
        another in the calling thread.
    """

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers if workers is not None else min(2, os.cpu_count() or 1)

    def run(self, panel: PanelLike, fn: TaskFn, tasks: Sequence[tuple[Any, ...]]
            ) -> Iterator[Any]:
        """Yield ``fn(panel, *task)`` for every task, in order."""
        if self.workers <= 1 or len(tasks) <= 1:
            for task in tasks:
                yield fn(panel, *task)
            return
        with ThreadPoolExecutor(self.workers) as pool:
            pending = deque(pool.submit(fn, panel, *task) for task in tasks[:self.workers])
            for k in range(len(tasks)):
                done = pending.popleft().result()
                if k + self.workers < len(tasks):
                    pending.append(pool.submit(fn, panel, *tasks[k + self.workers]))
                yield done

    def close(self) -> None:
        """Nothing to release."""


class DaskEngine:
    """Compute the tasks on a Dask cluster.

    The panel is scattered to the workers once per study (every later
    :meth:`run` on the same panel reuses it); each task then carries only its
    events' indices (and, for the abnormal returns, their fits). Results come
    back in order and each is released on the cluster as soon as it is read.

    Parameters
    ----------
    scheduler : str or distributed.Client, optional
        Scheduler address (``tcp://host:8786``) or a connected client. Without
        one, a :class:`distributed.LocalCluster` is started on first use and
        stopped by :meth:`close`.
    cluster_options : dict, optional
        Keyword arguments for the LocalCluster (e.g. ``n_workers``, ``processes``).
    """

    name = "dask"

    def __init__(self, scheduler: Any = None, cluster_options: dict[str, Any] | None = None
                 ) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the installation
            from marketreact.errors import MarketReactError

            raise MarketReactError("the dask engine needs dask[distributed]: "
                                   "pip install 'marketreact[dask]'") from exc
        self.scheduler = scheduler
        self.cluster_options = dict(cluster_options or {})
        self._client: Any = None
        self._owned: list[Any] = []
        self._panel: tuple[PanelLike, Any] | None = None

    def client(self) -> Any:
        """Return the connected client, connecting or starting a LocalCluster if needed."""
        from distributed import Client, LocalCluster

        if self._client is not None:
            return self._client
        if isinstance(self.scheduler, Client):
            self._client = self.scheduler
        elif self.scheduler:
            self._client = Client(str(self.scheduler))
            self._owned.append(self._client)
        else:
            options: dict[str, Any] = {"n_workers": 2, "threads_per_worker": 1,
                                       "processes": True, "dashboard_address": None,
                                       "silence_logs": logging.WARNING}
            options.update(self.cluster_options)
            if not log.isEnabledFor(logging.INFO):  # distributed chats at INFO by default
                logging.getLogger("distributed").setLevel(logging.WARNING)
            cluster = LocalCluster(**options)
            self._client = Client(cluster)
            self._owned.extend([self._client, cluster])
        log.info("dask engine: %s", self._client)
        return self._client

    def _scattered(self, panel: PanelLike) -> Any:
        if self._panel is None or self._panel[0] is not panel:
            self._panel = None  # let the previous panel go first
            self._panel = (panel, self.client().scatter(panel, broadcast=True, hash=False))
        return self._panel[1]

    def run(self, panel: PanelLike, fn: TaskFn, tasks: Sequence[tuple[Any, ...]]
            ) -> Iterator[Any]:
        """Yield ``fn(panel, *task)`` for every task, in order."""
        client = self.client()
        panel_f = self._scattered(panel)
        futures = [client.submit(fn, panel_f, *task, pure=False) for task in tasks]
        for i in range(len(futures)):
            result = futures[i].result()
            futures[i] = None  # release it on the cluster
            yield result

    def close(self) -> None:
        """Drop the scattered panel; close the client and cluster this engine started."""
        self._panel = None
        for obj in self._owned:  # the client first (it releases its data), then the cluster
            obj.close()
        self._owned.clear()
        self._client = None


def make_engine(engine: str | Engine | None, scheduler: Any = None) -> tuple[Engine, bool]:
    """Build an engine from a name (``local``, ``dask``), or take an engine object.

    Returns
    -------
    engine : Engine
    owned : bool
        Whether the caller created it (and so must close it).
    """
    if engine is None or engine == "local":
        return LocalEngine(), True
    if engine == "dask":
        return DaskEngine(scheduler), True
    if isinstance(engine, str):
        from marketreact.errors import InputError

        raise InputError(f"unknown engine {engine!r}: use local or dask")
    return engine, False


#: Events per fitting task of the moment path (events sorted by stock).
FIT_EVENTS = 50_000


def study_events(panel: ExchangePanel, stock_rows: IntArray, market_rows: IntArray,
                 day0: IntArray, plan: ChunkPlan, engine: Engine,
                 general_chunk: TaskFn, chunk_events: int = CHUNK_EVENTS,
                 moment: bool | None = None, est_exclude: np.ndarray | None = None
                 ) -> Iterator[tuple[slice, EventBlock]]:
    """Compute every event of one panel, chunk by chunk.

    Parameters
    ----------
    panel : ExchangePanel
        The exchange's panel.
    stock_rows, market_rows, day0 : numpy.ndarray
        ``(E,)`` panel rows and day-0 positions.
    plan : ChunkPlan
        Model and windows.
    engine : Engine
        Where the chunks run.
    general_chunk : callable
        ``general_chunk(panel, stock_rows, market_rows, day0, plan)``: the
        general path, used when the model has other regressors.
    chunk_events : int
        Events per chunk.
    moment : bool, optional
        Whether the moment path may be used (default: whenever the model
        allows it, :func:`moment_path_supported`).
    est_exclude : numpy.ndarray, optional
        ``(E, L1)`` estimation days to leave out of each event's fit (the
        other news' event windows, ``clean_estimation``); given, every chunk
        takes the general path and ``general_chunk`` receives the chunk's rows
        as its ``exclude`` keyword.

    Yields
    ------
    slice, EventBlock
        Each chunk's events (positions in the inputs, in order) and their results.
        On the moment path, the fits are computed first over events sorted by
        (stock, market), so each pair's running sums are built about once, and
        its blocks carry no window values or residuals (see :class:`MomentSource`).
    """
    e = len(day0)
    slices = [slice(lo, min(lo + chunk_events, e)) for lo in range(0, e, chunk_events)]
    if est_exclude is not None:
        tasks = [(stock_rows[s], market_rows[s], day0[s], plan, est_exclude[s]) for s in slices]
        yield from zip(slices, engine.run(panel, general_chunk, tasks), strict=True)
        return
    if not moment_path_supported(plan.spec) or moment is False:
        tasks = [(stock_rows[s], market_rows[s], day0[s], plan) for s in slices]
        yield from zip(slices, engine.run(panel, general_chunk, tasks), strict=True)
        return
    markets = market_rows if plan.spec.uses_market else np.zeros_like(market_rows)
    order = np.argsort(stock_rows * (panel.returns.shape[0] + 1) + markets, kind="stable")
    # what the moment path reads: returns, spans and the markets' running sums (no prices)
    view = ReturnsView.of(panel, market_rows if plan.spec.uses_market else market_rows[:0])
    groups = [order[lo:lo + FIT_EVENTS] for lo in range(0, e, FIT_EVENTS)]
    fit_tasks = [(stock_rows[g], market_rows[g], day0[g], plan) for g in groups]
    fits: list[np.ndarray] = []
    for g, got in zip(groups, engine.run(view, moment_fits, fit_tasks), strict=True):
        if not fits:
            fits = [np.empty((e, *a.shape[1:]), a.dtype) for a in got]
        for out, a in zip(fits, got, strict=True):
            out[g] = a
    chunk_tasks: list[tuple[Any, ...]] = [
        (stock_rows[s], market_rows[s], day0[s], plan, *(a[s] for a in fits)) for s in slices]
    yield from zip(slices, engine.run(view, moment_chunk, chunk_tasks), strict=True)
