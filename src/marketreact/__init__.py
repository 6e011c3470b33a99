"""marketreact: measure how markets react to news.

The main entry points are :class:`~marketreact.study.EventStudy` (abnormal
returns around dated news), :func:`~marketreact.events.read_events` (event
catalogues) and the price sources in :mod:`marketreact.prices`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from marketreact.errors import InputError, InputProblem, MarketReactError
from marketreact.events.catalogue import EventCatalogue, events_from_frame, read_events
from marketreact.models.spec import ModelName
from marketreact.panel.returns import ReturnKind
from marketreact.study.fit import EventStudy
from marketreact.study.results import StudyResult
from marketreact.study.settings import StudySettings

__all__ = [
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
    "read_events",
]
