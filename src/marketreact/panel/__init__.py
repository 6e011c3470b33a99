"""Prices lined up on an exchange's sessions: the price table, return panels, measures, factors.

Pure computation on frames and arrays (no file or network I/O). Imports the calendar,
events and the price-file checks; nothing from windows, models, study or backtest.
"""
