"""marketreact: measure how markets react to news.

The main entry points:

* :func:`read_events` / :func:`events_from_frame`: event catalogues;
* :func:`load_prices`: the one documented way to get prices, from a spec
  (``csv:DIR``, ``csv:FILE.csv``, ``yahoo``), a source or frames a user built,
  into what ``fit`` and ``run`` take;
* :class:`EventStudy` -> :class:`StudyResult`: abnormal returns around dated news;
* :class:`CalendarTimeStudy` -> :class:`CalendarTimeStudyResult`: calendar-time
  portfolios of the firms after their news;
* :class:`Backtest` -> :class:`BacktestResult`: trading the news.

The top-level face of the package: it imports everything else and nothing imports
it. The backtest names are imported on first use (PEP 562), so ``import
marketreact`` stays as light as the study needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from marketreact._memory import reuse_freed_memory
from marketreact._version import __version__
from marketreact.errors import InputError, InputProblem, MarketReactError
from marketreact.events.catalogue import EventCatalogue, events_from_frame, read_events
from marketreact.models.spec import ModelName
from marketreact.panel.returns import ReturnKind
from marketreact.prices import load_prices
from marketreact.study.calendar_time import CalendarTimeStudy, CalendarTimeStudyResult
from marketreact.study.fit import EventStudy
from marketreact.study.results import StudyResult
from marketreact.study.settings import StudySettings

if TYPE_CHECKING:
    from marketreact.backtest import Backtest, BacktestResult, BacktestSettings

_LAZY = {"Backtest", "BacktestResult", "BacktestSettings"}


def __getattr__(name: str) -> Any:
    """Import the backtest names on first use."""
    if name in _LAZY:
        import marketreact.backtest as backtest

        value = getattr(backtest, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'marketreact' has no attribute {name!r}")


def __dir__() -> list[str]:
    """List the public names, the lazy ones included."""
    return sorted({*globals(), *_LAZY})


__all__ = [
    "Backtest",
    "BacktestResult",
    "BacktestSettings",
    "CalendarTimeStudy",
    "CalendarTimeStudyResult",
    "EventCatalogue",
    "EventStudy",
    "InputError",
    "InputProblem",
    "MarketReactError",
    "ModelName",
    "ReturnKind",
    "StudyResult",
    "StudySettings",
    "__version__",
    "events_from_frame",
    "load_prices",
    "read_events",
    "reuse_freed_memory",
]
