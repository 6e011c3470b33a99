"""Normal-return models: fitted on estimation windows, giving abnormal returns.

Pure computation on event x relative-day arrays from :mod:`marketreact.windows`.
Imports the panel and windows; nothing from inference, study, backtest or output.
"""
