"""The event study: settings, the fit that orchestrates the pipeline, and its result.

Also the calendar-time portfolio study (:class:`CalendarTimeStudy`), what
``marketreact calendar-time`` runs.

Imports panel, windows, models and inference (and render for the result's views);
never prices I/O, output or the CLI.
"""

from marketreact.study.calendar_time import CalendarTimeStudy, CalendarTimeStudyResult
from marketreact.study.fit import EventStudy
from marketreact.study.results import StudyResult
from marketreact.study.settings import StudySettings

__all__ = ["CalendarTimeStudy", "CalendarTimeStudyResult", "EventStudy", "StudyResult",
           "StudySettings"]
