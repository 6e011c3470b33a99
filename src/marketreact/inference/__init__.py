"""Cross-event tests of abnormal returns (pure computation on arrays).

Imports only the ground floor; study, backtest and validation call it.
"""
