"""What happened and when: event catalogues, EventStudyTools input files, headline scores.

Floor: above :mod:`marketreact.calendar` and :mod:`marketreact.prices`; imports nothing
from the panel, models, study or backtest.
"""

from marketreact.events.catalogue import EventCatalogue, events_from_frame, read_events

__all__ = ["EventCatalogue", "events_from_frame", "read_events"]
